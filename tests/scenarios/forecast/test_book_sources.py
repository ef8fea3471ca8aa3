"""Synthetic book sources for TSTR: each adapter returns the source's own books row by row, seams are never read
across, and the mixed arm holds its stated share; a source that teaches nothing is caught by TSTR."""

from __future__ import annotations

import numpy as np
import pytest

from scenarios.forecast.book_sources import abm_series, book_preset_series, store_series
from scenarios.forecast.book_tstr import _mixed_origins, compare_training_sources, joined
from scenarios.forecast.planted import planted_book
from scenarios.forecast.task_data import TaskData
from scenarios.forecast.task_protocol import FlowLogistic, Prior, origins
from scenarios.forecast.tasks import Task
from simlab.errors import DataError
from simlab.store import write_store
from tests.simlab.agents.conftest import small_config


def _same_rows(series, sim):
    books, events = sim["books"], sim["events"]
    assert series.size == books.sizes["time"] == events.sizes["event"]
    for f in ("bid_price", "bid_qty", "ask_price", "ask_qty"):
        assert np.array_equal(getattr(series, f), books[f].values)
    assert np.array_equal(series.ts_ns, books["ts_ns"].values) and np.array_equal(series.qty, events["qty_lots"])


def test_hawkes_preset_series_is_the_preset_simulation():
    from calibration.book_presets import load_book_preset, simulate_book_preset

    series = book_preset_series("hawkes-aapl", 5.0, rng=3, depth=4)
    sim = simulate_book_preset(load_book_preset("hawkes-aapl"), 5.0, rng=3, depth=4)
    assert series.levels == 4 and series.size > 50
    _same_rows(series, sim)


def test_abm_series_is_the_market_and_a_store_reads_back(tmp_path):
    from simlab.agents import simulate_abm

    config = small_config()
    series = abm_series(config, 120.0, seed=5, depth=3)
    sim = simulate_abm(config, seed=5, duration_s=120.0, depth=3)
    assert series.levels == 3 and series.size > 20
    _same_rows(series, sim)
    write_store({"events": sim["events"], "books": sim["books"], "events_0001": sim["events"],
                 "books_0001": sim["books"]}, tmp_path / "s.zarr")  # fmt: skip
    first, second = store_series(tmp_path / "s.zarr", paths=2)
    _same_rows(first, sim)
    _same_rows(second, sim)
    with pytest.raises(DataError, match="expected groups events_0002 and books_0002"):
        store_series(tmp_path / "s.zarr", paths=3)


def test_joined_origins_never_cross_a_seam():
    parts = [planted_book(n, levels=2 + (n == 200), rng=np.random.default_rng(n), name=f"p{n}")[0]
             for n in (300, 200, 250)]  # fmt: skip
    task, window = Task("direction", horizon_events=7), 5
    data = joined(parts, task, window)
    assert data.book.levels == 2 and np.array_equal(data.book.ask_qty[300:500], parts[1].ask_qty[:, :2])
    assert np.all(np.diff(data.book.ts_ns) >= 0)
    start = 0
    for part in parts:
        alone = TaskData(part, task, window=window)
        rows = np.arange(start, start + part.size)
        inside = origins(data, 2, 1)
        inside = inside[(inside >= start) & (inside < start + part.size)]
        # exactly the part's own origins minus the first `window` rows (whose OFI difference reads the seam)
        own = origins(alone, 2, 1)
        assert np.array_equal(inside - start, own[own >= window])
        assert np.array_equal(data.y[rows][inside - start], alone.y[inside - start])
        assert np.all(data.end[inside] < start + part.size) and np.all(inside - window + 1 > start)
        start += part.size


def test_mixed_origins_hold_the_share_and_the_budget():
    real, fake = np.arange(1000), np.arange(5000, 5300)
    r, f = _mixed_origins(real, fake, 0.5, 10**9)
    assert r.size == f.size == 300 and np.array_equal(r, real[-300:])  # the synthetic pool limits
    r, f = _mixed_origins(real, fake, 0.25, 400)
    assert (r.size, f.size) == (300, 100) and np.unique(f).size == 100  # the budget limits


def test_tstr_catches_a_source_that_teaches_nothing():
    rng = np.random.default_rng(11)
    real, _ = planted_book(3000, levels=2, signal=0.9, rng=rng, name="real")
    noise = [planted_book(1500, levels=2, signal=0.0, rng=rng, name=f"noise{k}")[0] for k in range(2)]
    signal = [planted_book(3000, levels=2, signal=0.9, rng=rng, name="twin")[0]]
    data = TaskData(real, Task("direction", horizon_events=1), window=5)
    models = [FlowLogistic(), Prior()]
    bad = compare_training_sources(data, noise, models, rng=1, mix_share=0.5)
    good = compare_training_sources(data, signal, models, rng=1, mix_share=0.5)
    flow = bad["rows"][0]
    assert flow["trtr"] > 0.85 and flow["tstr"] < 0.5 and flow["dm_tstr_vs_trtr"] > 5
    # half of the mixed origins are noise, but the real half still teaches the sign rule
    assert flow["mixed"] > 0.85 and flow["mixed_synthetic"] == flow["mixed_real"]
    twin = good["rows"][0]
    assert abs(twin["tstr"] - twin["trtr"]) < 3 * np.hypot(twin["tstr_se"], twin["trtr_se"])
    assert bad["test_origins"] == good["test_origins"] > 1000


def test_a_spec_trains_on_a_sampled_store_and_reports_three_arms(tmp_path):
    from scenarios.forecast.runner import run_spec
    from scenarios.forecast.spec import load_spec, parse_spec
    from simlab.agents import simulate_abm

    sim = simulate_abm(small_config(), seed=6, duration_s=600.0, depth=5)
    write_store({"events": sim["events"], "books": sim["books"]}, tmp_path / "sample.zarr")
    task = {
        "name": "direction",
        "horizon_events": 1,
        "models": ["flow_logistic", "prior"],
        "reference": "prior",
        "levels": 1,
        "tstr": True,
        "tstr_source": f"store:{tmp_path / 'sample.zarr'}",
        "tstr_mix_share": 0.25,
    }
    data = [{"name": "planted", "source": "planted", "rows": 1500, "levels": 5, "signal": 0.9}]
    out = run_spec(parse_spec({"run": {"name": "t", "seed": 3}, "data": data, "task": task}), tmp_path / "r.zarr",
                   data_dir=tmp_path)  # fmt: skip
    tstr = out["series"]["planted"]["tstr"]
    assert tstr["synthetic_rows"] == sim["events"].sizes["event"] and tstr["source"].startswith("store:")
    for row in tstr["rows"]:
        total = row["mixed_synthetic"] + row["mixed_real"]
        assert abs(row["mixed_synthetic"] / total - 0.25) < 2 / total and np.isfinite(row["dm_mixed_vs_trtr"])
    assert "DM mixed" in (tmp_path / "r_report" / "report.html").read_text()
    with pytest.raises(Exception, match="tstr_source"):
        parse_spec({"data": data, "task": {**task, "tstr_source": "gan"}})
    for name in ("tstr_hawkes_aapl", "tstr_generator_aapl", "tstr_abm_amzn"):
        assert load_spec(name).task.tstr
