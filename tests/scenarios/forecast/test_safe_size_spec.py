"""The safe order size task as a forecast spec (``[safe_size]``): parsing and its one-sentence errors, and a tiny run
through ``simlab forecast run`` that writes the store and the report, byte for byte again with the same seed."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from typer.testing import CliRunner

from calibration.presets import dumps_toml
from scenarios.cli import app
from scenarios.forecast.safe_size import ImpactSetup
from scenarios.forecast.safe_size_task import score_task, task_rows
from scenarios.forecast.spec import load_spec, parse_spec
from simlab.agents import InitialBook, MarketConfig, MomentumAgents, NoiseAgents, ValueAgents
from simlab.errors import ParameterError
from simlab.store import load_store, open_store

SMALL = replace(MarketConfig(), noise=NoiseAgents(count=60, wake_start_s=0.0), value=ValueAgents(count=12),
                momentum=MomentumAgents(count=2), initial_book=InitialBook(levels=5))  # fmt: skip
TASK = {"duration_s": 300.0, "markets": 3, "train_markets": 2, "origins_s": [100.0, 200.0], "lead_s": 20.0,
        "bound_ticks": 1.0, "horizon_s": 5.0, "grid": [20, 60, 200, 600]}  # fmt: skip


def test_the_library_spec_is_the_documented_run_and_bad_tables_are_refused_naming_the_key():
    task = load_spec("safe_size_abm_amzn").safe_size
    assert (task.market, task.markets, task.train_markets, task.lead_s, task.bound_ticks, task.horizon_s) == (
        "abm-amzn", 64, 32, 60.0, 5.0, 10.0)  # fmt: skip
    assert task.origins_s == list(np.arange(300.0, 1600.0, 200.0))
    bad = {
        "train_markets": ({"train_markets": 3}, r"`safe_size.train_markets` Value error, must be below `markets` "
                          r"\(3\) so that some markets test; got 3"),
        "origins_s": ({"origins_s": [30.0, 275.0]}, r"`safe_size.origins_s` Value error, must lie in \(0, duration_s - "
                      r"horizon_s - lead_s\) = \(0, 275\) s .*; got \[30.0, 275.0\]"),
        "grid": ({"grid": [50, 10]}, r"`safe_size.grid` Value error, must be strictly increasing .*; got \[50, 10\]"),
        "side": ({"side": 0}, r"`safe_size.side` Input should be -1 or 1; got 0"),
        "typo": ({"bound": 1.0}, r"`safe_size.bound` Extra inputs are not permitted"),
    }  # fmt: skip
    for changes, message in bad.values():
        with pytest.raises(ParameterError, match=message):
            parse_spec({"safe_size": {"market": "x.toml", **TASK, **changes}})
    data = [{"name": "s", "source": "preset", "preset": "binance-usdm-btcusdt"}]
    with pytest.raises(ParameterError, match=r"`\[safe_size\]` spec simulates its own agent market and takes no"):
        parse_spec({"safe_size": {"market": "x.toml", **TASK}, "data": data})
    with pytest.raises(ParameterError, match="`data` must hold at least one series"):
        parse_spec({})


def test_a_tiny_safe_size_spec_runs_through_the_cli_and_one_seed_writes_the_same_store(tmp_path):
    market = tmp_path / "small.toml"
    market.write_text(dumps_toml(SMALL.to_dict()))
    spec = tmp_path / "tiny.toml"
    spec.write_text(dumps_toml({"run": {"name": "tiny", "seed": 5}, "safe_size": {"market": str(market), **TASK}}))
    runner = CliRunner()
    stores = []
    for name in ("a", "b"):
        result = runner.invoke(app, ["forecast", "run", str(spec), "-o", str(tmp_path / f"{name}.zarr")])
        assert result.exit_code == 0, result.output
        assert "least_squares" in result.output and "task safe_size" in result.output
        stores.append(load_store(tmp_path / f"{name}.zarr", group="safe_size"))
    assert stores[0].identical(stores[1])
    # the store holds what the task functions give for the same seed, and its scores are theirs
    setup = ImpactSetup(SMALL, duration_s=300.0, horizons_s=(5.0,))
    rows = task_rows(setup, seed=5, markets=3, origins_s=np.array([100.0, 200.0]), lead_s=20.0, bound_ticks=1.0,
                     horizon_s=5.0, grid=(20, 60, 200, 600))  # fmt: skip
    assert np.array_equal(stores[0]["label"].values, rows["label"].values)
    assert len(np.unique(rows["label"].values)) > 1  # the labels are not all alike
    assert np.array_equal(stores[0]["inputs"].values, rows["inputs"].values)
    attrs = open_store(tmp_path / "a.zarr").attrs
    assert attrs["seed"] == 5 and json.loads(attrs["summary"])["prior"] == score_task(rows, 2)["prior"]
    report = (tmp_path / "a_report" / "report.md").read_text()
    assert "| persistence |" in report and (tmp_path / "a_report" / "report.html").read_text().startswith("<!")
