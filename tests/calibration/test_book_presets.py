"""Book presets (zi-amzn, qr-amzn, zi-aapl, qr-aapl, hawkes-aapl): the TOML format, the shipped files, the law
compaction and the golden refits from the AMZN day and the AAPL hour."""

from __future__ import annotations

import tomllib

import numpy as np
import pytest

from calibration.book_presets import (
    SPECS,
    BookPreset,
    compact_law,
    fit_book_preset,
    list_book_presets,
    load_book_preset,
    save_book_preset,
    simulate_book_preset,
)
from calibration.presets import dumps_toml, list_presets, load_preset
from simlab.book import QRParams, ZIParams
from simlab.book.hawkes_book import EmpiricalLaw, HawkesBookParams
from simlab.book.stats import DISTRIBUTIONS
from simlab.errors import DataError, ParameterError


def test_book_presets_are_shipped_apart_from_the_hawkes_ones():
    assert list_book_presets() == ["hawkes-aapl", "qr-aapl", "qr-amzn", "zi-aapl", "zi-amzn"]
    assert not set(list_book_presets()) & set(list_presets())


@pytest.mark.parametrize("name", ["zi-amzn", "qr-amzn"])
def test_shipped_preset_loads_simulates_and_records_its_comparison(name, tmp_path):
    preset = load_book_preset(name)
    assert preset.path.stat().st_size < 16_000 and preset.params.instrument == "AMZN"
    assert isinstance(preset.params, ZIParams if preset.model == "zi" else QRParams)
    comparison = preset.comparison
    for statistic in DISTRIBUTIONS:
        row = comparison[statistic]
        assert 0 <= row["ks"] <= 1 and len(row["quantiles_real"]) == len(row["quantiles"]) == 5
    assert comparison["real_events"] == 57515 and comparison["duration_s"] == 23400.0
    assert comparison["event_mix"]["limit_share_real"] == pytest.approx(0.505629)
    run = simulate_book_preset(preset, 60.0, rng=1)
    assert run["events"].sizes["event"] == run["books"].sizes["time"] > 10
    assert run["events"]["ts_ns"].values[0] == preset.simulation["start_ns"]
    back = load_book_preset(save_book_preset(preset, tmp_path / f"{name}.toml"))
    assert dumps_toml(back.to_dict()) == dumps_toml(preset.to_dict()) == preset.path.read_text()


@pytest.mark.parametrize("name", ["zi-aapl", "qr-aapl"])
def test_aapl_presets_compare_with_the_hour_they_were_fitted_to(name):
    preset = load_book_preset(name)
    options = {"window": 20} if name == "zi-aapl" else {"levels": 2, "n_max": 20}
    assert preset.params.instrument == "AAPL" and preset.fitted_on["options"] == options
    comparison = preset.comparison
    assert comparison["duration_s"] == 3600.0 and comparison["real_events"] == 91_996
    assert comparison["spread_ticks"]["mean_real"] == pytest.approx(19.599)
    if name == "qr-aapl":  # the spread law is the model's own state: it matches
        assert preset.params.levels == 2 and comparison["spread_ticks"]["ks"] < 0.05
    else:  # ZI's spread is too tight, as on AMZN; its price diffusion is close
        assert comparison["spread_ticks"]["mean_simulated"] < 0.75 * comparison["spread_ticks"]["mean_real"]
        assert comparison["mid_return_ticks"]["ks"] < 0.15
    run = simulate_book_preset(preset, 30.0, rng=3)
    assert run["events"].sizes["event"] == run["books"].sizes["time"] > 10


def test_hawkes_preset_loads_simulates_and_keeps_a_two_sided_book(tmp_path):
    preset = load_book_preset("hawkes-aapl")
    assert preset.model == "hawkes" and preset.preset["model"] == "hawkes-book"  # "hawkes": the process presets
    assert preset.path.stat().st_size < 50_000 and isinstance(preset.params, HawkesBookParams)
    assert preset.params.instrument == "AAPL" and preset.params.hawkes == load_preset("lobster-aapl-order-flow").params
    assert "feeds back" in preset.preset["description"] and preset.params.max_spread_ticks is None
    assert preset.params.placement_reference == "opposite" and preset.params.placement[0].values[0] >= 1
    comparison = preset.comparison
    assert comparison["duration_s"] == 3600.0 and comparison["window_levels"] == preset.simulation["depth"] == 50
    assert comparison["real_events"] == 91_996 and comparison["spread_ticks"]["mean_real"] == pytest.approx(19.599)
    assert 8 < comparison["spread_ticks"]["mean_simulated"] < 30  # 2.4 placed from the same-side best, 1e5 drained
    assert comparison["l1_queue_lots"]["ks"] < 0.4 and comparison["mid_return_ticks"]["ks"] < 0.1
    run = simulate_book_preset(preset, 30.0, rng=3, depth=5)
    events, books = run["events"], run["books"]
    assert events.sizes["event"] == books.sizes["time"] and books.sizes["level"] == 5
    assert events["ts_ns"].values[0] == preset.simulation["start_ns"] and sum(events.attrs["hawkes_counts"]) > 300
    back = load_book_preset(save_book_preset(preset, tmp_path / "hawkes-aapl.toml"))
    assert dumps_toml(back.to_dict()) == preset.path.read_text()  # the compacted laws are a fixed point


def test_compact_law_pools_rare_values_keeping_mean_and_reach():
    values = np.r_[np.arange(-3, 20), [23, 25, 26, 40, 41, 300, 700]]
    weights = np.r_[np.full(23, 100.0), [0.05, 0.05, 0.05, 0.05, 0.05, 0.01, 0.01]]
    law = EmpiricalLaw(values, weights)
    compact = compact_law(law)
    np.testing.assert_array_equal(compact.values, np.r_[np.arange(-3, 20), [25, 40, 300, 700]])
    assert compact.probabilities.sum() == 1.0 and abs(compact.mean - law.mean) < 0.5 / 2300
    assert np.array_equal(EmpiricalLaw(compact.values, compact.probabilities).probabilities, compact.probabilities)
    assert sum(len(repr(float(p))) > 12 for p in compact.probabilities) == 1  # 6 significant digits, one adjusted
    assert compact_law(compact).values.size == compact.values.size  # idempotent support


@pytest.mark.parametrize(
    ("rare", "pooled"),
    [
        ([166, 173, 179, 187, 190, 211, 216, 226], 194),  # mean 193.5: the numpy 2.4 float sums gave 193.49999999999997
        ([131, 201, 238, 240], 202),  # mean 202.5: the numpy 2.4 float sums gave 202.50000000000003
        ([214, 218, 223, 225, 230, 232, 233, 236, 238, 242, 248, 251], 232),  # AAPL market buys, mean 232.5
        ([214, 218, 223, 225, 230, 232, 233, 236, 238, 242, 248, 252], 233),  # mean 232.58...: not a tie
    ],
)
def test_compact_law_pools_a_tie_to_the_even_value_whatever_the_float_sums(rare, pooled):
    """Rare singletons whose mean is exactly a half pool at the even neighbour, not where float noise rounds it."""
    big = {8: 12073, 4: 5289, 12: 1793}[len(rare)]  # one common value 1, the rare ones in one band (128..255)
    law = EmpiricalLaw.from_samples(np.r_[np.ones(big, np.int64), rare])
    compact = compact_law(law)
    np.testing.assert_array_equal(compact.values, [1, pooled])
    assert compact.probabilities[1] == pytest.approx(len(rare) / (big + len(rare)), rel=1e-5)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["comparison"].update(sprad=1.0), r"unknown key\(s\) \['sprad'\] in \[comparison\]"),
        (lambda d: d.update(extra={"a": 1}), r"unknown \['extra'\]"),
        (lambda d: d.pop("simulation"), r"missing \['simulation'\]"),
        (lambda d: d["params"].update(limit_rte=1.0), r"\[params\] does not fit ZIParams"),
        (lambda d: d["preset"].update(model="hawkes"), "model"),
        (lambda d: d["params"]["placement"].pop("ask"), r"does not fit HawkesBookParams: per-side laws KeyError"),
        (
            lambda d: d["params"]["hawkes"].update(baseline=[1.0]),
            r"does not fit HawkesBookParams: `adjacency` of HawkesParams",
        ),
        (lambda d: d["params"].update(depth=3), r"does not fit HawkesBookParams: .*unknown keys \['depth'\]"),
    ],
)
def test_book_preset_rejects_unknown_or_missing_keys(tmp_path, edit, message):
    name = "hawkes-aapl" if "HawkesBookParams" in message else "zi-amzn"
    data = tomllib.loads(dumps_toml(load_book_preset(name).to_dict()))
    edit(data)
    (tmp_path / "bad.toml").write_text(dumps_toml(data))
    with pytest.raises(ParameterError, match=message):
        load_book_preset(tmp_path / "bad.toml")
    with pytest.raises(DataError, match="no such file"):
        load_book_preset("zi-nowhere")


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_shipped_preset_is_what_fit_book_preset_builds_today(spec, shared_data):
    """Golden check: refitting from the AMZN day reproduces the committed parameters and comparison numbers."""
    committed = load_book_preset(spec.name)
    rebuilt = fit_book_preset(spec, shared_data, seed=committed.comparison["seed"])
    rebuilt = BookPreset.from_dict(tomllib.loads(dumps_toml(rebuilt.to_dict())))  # as written
    _assert_close(rebuilt.params.to_dict(), committed.params.to_dict(), "params")
    assert rebuilt.fitted_on == committed.fitted_on and rebuilt.simulation == committed.simulation
    for statistic in DISTRIBUTIONS:
        for key in ("mean_real", "mean_simulated", "ks"):
            assert rebuilt.comparison[statistic][key] == pytest.approx(committed.comparison[statistic][key], rel=1e-6)
    assert rebuilt.comparison["event_mix"] == committed.comparison["event_mix"]


def _assert_close(new, old, where: str) -> None:
    """Nested parameter dicts equal, numbers and numeric lists to a relative 1e-9."""
    if isinstance(old, dict):
        assert new.keys() == old.keys(), where
        for key in old:
            _assert_close(new[key], old[key], f"{where}.{key}")
    elif isinstance(old, list) and old and isinstance(old[0], dict):
        assert len(new) == len(old), where
        for i, (a, b) in enumerate(zip(new, old, strict=True)):
            _assert_close(a, b, f"{where}[{i}]")
    elif isinstance(old, float) or (isinstance(old, list) and not (old and isinstance(old[0], str))):
        np.testing.assert_allclose(new, old, rtol=1e-9, err_msg=where)
    else:
        assert new == old, where
