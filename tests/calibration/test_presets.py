"""Hawkes presets: real-data extraction, the TOML format, and every shipped preset's fit and validation numbers."""

from __future__ import annotations

import tomllib

import numpy as np
import pytest

from calibration.fit_presets import SPECS, fit_spec
from calibration.hawkes_data import (
    RECIPES,
    ActivityProfile,
    count_ofi,
    event_times,
    load_window,
    resolve_dims,
)
from calibration.presets import Preset, dumps_toml, list_presets, load_preset, save_preset
from simlab.errors import DataError, ParameterError
from simlab.hawkes.params import HawkesParams
from simlab.io import read
from simlab.schema import EventKind
from tests.conftest import shared_path

WS = "binance_ws_l2_trades_hftbacktest"
XRP = "binance_trades_xrpeth_2019-10/XRPETH-aggTrades-2019-10-11_to_13.csv.gz"
AAPL = "lobster_samples/AAPL_2012-06-21_level50_0930-1030_messages/AAPL_2012-06-21_34200000_37800000_message_50.csv"


def _preset(**changes) -> Preset:
    params = HawkesParams([0.5, 0.7], [[0.2, 0.1], [0.05, 0.3]], [[3.0, 1.0], [2.0, 40.0]], names=("buy", "sell"))
    fields = dict(
        name="toy",
        params=params,
        preset={"model": "hawkes", "description": 'a "quoted"\nline', "recipe": "trades"},
        fitted_on={"files": ["a.csv"], "train": {"start": "2024-01-01T00:00:00Z", "counts": [3, 4]}},
        diagnostics={"loglik": -12.5, "ks_pvalue": [0.5, float("nan")], "branching_ratio": params.branching_ratio},
        validation={"real_counts": [1, 2], "ofi_real": {"mean": 0.1, "q": [-1.0, 0.0, 1.0]}},
        marks={"unit": "lots", "probabilities": [0.0, 1.0], "quantiles": [[1.0, 5.0], [2.0, 9.0]]},
    )
    return Preset(**{**fields, **changes})


# ---------------------------------------------------------------- data extraction


def test_trades_by_aggressor_side_match_the_reader():
    path = shared_path(f"{WS}/usdm/btcusdt_20240808.trades.csv.gz")
    events = read(path)["events"]
    raw = load_window(path, aggregate=False)
    sides = events["side"].values
    assert raw.counts == [int((sides == 1).sum()), int((sides == -1).sum())] == [9616, 11697]
    merged = load_window(path)
    for t, m, r, mark_raw in zip(merged.times_s, merged.marks, raw.times_s, raw.marks, strict=True):
        assert np.all(np.diff(t) > 0) and t[0] >= 0 and t[-1] < merged.duration_s  # one event per ms and side
        assert np.array_equal(np.unique(r), t) and m.sum() == mark_raw.sum()  # quantities conserved
    assert merged.counts == [2751, 2623] and merged.span()["start"] == "2024-08-08T23:54:16.322Z"


def test_consecutive_files_concatenate_and_splits_are_disjoint():
    paths = [shared_path(f"{WS}/usdm/btcusdt_2024071{d}.trades.csv.gz") for d in (8, 9)]
    window = load_window(paths, aggregate=False)
    assert sum(window.counts) == 974 + 9727 and window.sources == tuple(p.name for p in paths)
    train, validation = window.split(0.6)
    assert train.duration_s + validation.duration_s == pytest.approx(window.duration_s)
    assert validation.start_ns == train.end_ns
    for a, b, whole in zip(train.times_s, validation.times_s, window.times_s, strict=True):
        assert a.size + b.size == whole.size and np.all(a < train.duration_s) and np.all(b >= 0)
        assert np.all(b < validation.duration_s) and np.all(np.diff(a) >= 0) and np.all(np.diff(b) >= 0)
        assert np.array_equal(np.concatenate([a, b + train.duration_s]), whole)


def test_lobster_order_flow_has_six_dimensions_that_match_the_messages():
    events = read(shared_path(AAPL))["events"]
    window = event_times(events, "order-flow", aggregate=False)
    kind, side = events["kind"].values, events["side"].values
    expected = [
        ((kind == EventKind.ADD) & (side == 1)).sum(),
        ((kind == EventKind.ADD) & (side == -1)).sum(),
        (np.isin(kind, [EventKind.CANCEL, EventKind.DELETE]) & (side == 1)).sum(),
        (np.isin(kind, [EventKind.CANCEL, EventKind.DELETE]) & (side == -1)).sum(),
        ((kind == EventKind.TRADE) & (side == 1)).sum(),
        ((kind == EventKind.TRADE) & (side == -1)).sum(),
    ]
    assert window.names == RECIPES["order-flow"] and window.counts == [int(n) for n in expected]
    train, validation = window.slice(0, 2400), window.slice(2400, window.duration_s)
    assert [a + b for a, b in zip(train.counts, validation.counts, strict=True)] == window.counts
    merged = event_times(events, "order-flow")
    assert merged.counts[4] < window.counts[4] and merged.counts[0] > 0.99 * window.counts[0]


def test_activity_profile_is_a_monotone_time_change_with_mean_one():
    window = load_window(shared_path(XRP))
    assert sum(window.counts) < 12477 and window.duration_s == pytest.approx(213557.225)
    profile = ActivityProfile.estimate(window)
    assert profile.levels.shape == (24,) and profile.levels.mean() == pytest.approx(1.0)
    t = np.sort(np.concatenate(window.times_s))
    activity = profile.to_activity(t)
    assert np.all(np.diff(activity) >= 0) and activity[-1] == pytest.approx(window.duration_s, rel=0.05)
    assert np.allclose(profile.to_calendar(activity, window.duration_s), t, atol=1e-6)
    hour = profile.to_activity(np.array([3600.0 - profile.origin_s, 7200.0 - profile.origin_s]))
    assert np.diff(hour)[0] == pytest.approx(3600 * profile.levels[1])


def test_count_ofi_and_bad_inputs():
    ofi = count_ofi([np.array([0.1, 0.2, 1.5]), np.array([0.3])], ("buy", "sell"), 2.0, 1.0)
    assert ofi.tolist() == [1.0, 1.0]
    assert resolve_dims("buy, sell") == ("buy", "sell") == resolve_dims("trades")
    with pytest.raises(ParameterError, match="recipe"):
        resolve_dims("buy,bogus")
    with pytest.raises(ParameterError, match="train_fraction"):
        load_window(shared_path(XRP)).split(1.5)
    with pytest.raises(DataError, match="does not exist"):
        load_window("/nonexistent/x.trades.csv.gz")


# ---------------------------------------------------------------- the TOML format


def test_preset_round_trips_through_toml(tmp_path):
    preset = _preset()
    path = save_preset(preset, tmp_path / "toy.toml")
    back = load_preset(path)
    assert back.params == preset.params and back.name == "toy"
    assert back.to_dict()["preset"] == preset.to_dict()["preset"]
    assert back.fitted_on == preset.fitted_on and back.validation == preset.validation and back.marks == preset.marks
    assert back.diagnostics["loglik"] == -12.5 and np.isnan(back.diagnostics["ks_pvalue"][1])
    assert dumps_toml(back.to_dict()) == path.read_text()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["diagnostics"].update(logllik=1.0), r"unknown key\(s\) \['logllik'\] in \[diagnostics\]"),
        (lambda d: d.update(extra={"a": 1}), r"unknown \['extra'\]"),
        (lambda d: d.pop("validation"), r"missing \['validation'\]"),
        (lambda d: d["params"].update(decay=[1.0]), r"\['decay'\] in \[params\]"),
        (lambda d: d["preset"].update(model="poisson"), "model"),
    ],
)
def test_preset_rejects_unknown_or_missing_keys(tmp_path, edit, message):
    data = tomllib.loads(dumps_toml(_preset().to_dict()))
    edit(data)
    (tmp_path / "bad.toml").write_text(dumps_toml(data))
    with pytest.raises(ParameterError, match=message):
        load_preset(tmp_path / "bad.toml")


def test_missing_preset_names_the_shipped_ones():
    with pytest.raises(DataError, match="no such file"):
        load_preset("no-such-preset")


# ---------------------------------------------------------------- the shipped presets

SHIPPED = list_presets()


def test_every_data_family_has_a_preset():
    expected = {
        "binance-usdm-btcusdt",
        "binance-usdm-ethusdt",
        "binance-spot-btcusdt",
        "binance-spot-ethusdt",
        "binance-spot-xrpeth",
        "lobster-aapl-order-flow",
    }
    assert expected <= set(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_preset_loads_is_stationary_and_records_its_fit(name):
    preset = load_preset(name)
    params, diagnostics, validation = preset.params, preset.diagnostics, preset.validation
    assert preset.path.stat().st_size < 16_000 and params.is_stationary
    assert diagnostics["branching_ratio"] == pytest.approx(params.branching_ratio, rel=1e-9)
    d = params.dimension
    for key in ("ks_statistic", "ks_pvalue", "stationary_intensity", "empirical_intensity", "stderr_baseline"):
        assert len(diagnostics[key]) == d, key
    assert diagnostics["poisson_gain"] > 0 and np.isfinite(diagnostics["loglik"])
    assert sum(preset.fitted_on["train"]["counts"]) == diagnostics["n_events"]
    for key in ("real_counts", "simulated_counts_mean", "simulated_counts_std", "count_z"):
        assert len(validation[key]) == d, key
    assert 0 <= validation["interarrival_ks"] <= 1 and set(validation["ofi_real"]) == set(validation["ofi_simulated"])
    assert validation["real_counts"] == preset.fitted_on["validation"]["counts"]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_shipped_preset_is_what_fit_presets_builds_today(spec, shared_data):
    """Golden check: refitting from the real data reproduces the committed parameters and validation counts."""
    committed = load_preset(spec.name)
    rebuilt = fit_spec(spec, shared_data, seed=committed.validation["seed"], n_paths=committed.validation["n_paths"])
    rebuilt = Preset.from_dict(tomllib.loads(dumps_toml(rebuilt.to_dict())))  # as written
    for name in ("baseline", "adjacency", "decays"):
        assert np.allclose(getattr(rebuilt.params, name), getattr(committed.params, name), rtol=1e-4, atol=1e-9), name
    assert rebuilt.fitted_on == committed.fitted_on and rebuilt.seasonality == committed.seasonality
    assert rebuilt.diagnostics["loglik"] == pytest.approx(committed.diagnostics["loglik"], abs=1e-3)
    for key in ("real_counts", "simulated_counts_mean", "interarrival_ks", "ks_pvalue"):
        assert rebuilt.validation[key] == pytest.approx(committed.validation[key], rel=1e-3), key
