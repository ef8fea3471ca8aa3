"""`simlab calibrate hawkes` -> `simlab simulate hawkes` end to end on a real file, and the demo's Hawkes step."""

from __future__ import annotations

import json

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from calibration.presets import load_preset
from simlab.hawkes import HawkesParams
from simlab.schema import validate_events
from simlab.store import list_groups, load_store
from tests.conftest import shared_path

runner = CliRunner()
ETH_SPOT = "binance_ws_l2_trades_hftbacktest/spot/ethusdt_20240808.trades.csv.gz"


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    from scenarios import cli

    return cli.app


@pytest.fixture(scope="module")
def fitted(app, tmp_path_factory):
    path = shared_path(ETH_SPOT)
    output = tmp_path_factory.mktemp("preset") / "eth.toml"
    args = ["calibrate", "hawkes", str(path), "-o", str(output), "--dims", "buy,sell", "--split", "0.65"]
    result = runner.invoke(app, [*args, "--decays", "0.3,3,30,300", "--paths", "8", "--seed", "1"])
    assert result.exit_code == 0, result.output
    return output, result.output


def test_calibrate_writes_a_stationary_preset_with_its_numbers(fitted):
    output, printed = fitted
    preset = load_preset(output)
    assert preset.name == "eth" and preset.params.names == ("buy", "sell") and preset.params.is_stationary
    assert preset.params.n_components == 4 and np.allclose(preset.params.decays[0, 0], [0.3, 3, 30, 300])
    train, validation = preset.fitted_on["train"], preset.fitted_on["validation"]
    assert [a + b for a, b in zip(train["counts"], validation["counts"], strict=True)] == [978, 951]
    assert train["duration_s"] == pytest.approx(0.65 * 345.372, abs=1e-3)
    assert preset.diagnostics["n_events"] == sum(train["counts"]) and preset.diagnostics["poisson_gain"] > 100
    assert preset.validation["n_paths"] == 8 and "branching ratio" in printed


def test_simulate_writes_reproducible_paths_with_true_parameters(app, fitted, tmp_path):
    preset = load_preset(fitted[0])
    stores = []
    for name in ("a", "b"):
        store = tmp_path / f"{name}.zarr"
        args = ["simulate", "hawkes", str(fitted[0]), "-o", str(store), "--duration", "30s", "--paths", "3"]
        result = runner.invoke(app, [*args, "--seed", "7", "--start", "2024-08-09T00:00:00"])
        assert result.exit_code == 0, result.output
        stores.append(store)
    assert list_groups(stores[0]) == ["path0000", "path0001", "path0002"]
    start = int(np.datetime64("2024-08-09T00:00:00", "ns").astype(np.int64))
    for group in list_groups(stores[0]):
        first, second = load_store(stores[0], group), load_store(stores[1], group)
        validate_events(first)
        assert np.array_equal(first["ts_ns"].values, second["ts_ns"].values) and first.sizes["event"] > 50
        assert first["ts_ns"].values.min() >= start and first["ts_ns"].values.max() < start + 30 * 10**9
        assert HawkesParams.from_dict(json.loads(first.attrs["true_params"])) == preset.params
        assert set(np.unique(first["side"].values)) == {-1, 1} and first["qty_lots"].values.min() >= 1
    assert load_store(stores[0]).attrs["seed"] == 7


def test_simulate_a_seasonal_shipped_preset_by_name(app, tmp_path):
    store = tmp_path / "xrp.zarr"
    args = ["simulate", "hawkes", "binance-spot-xrpeth", "-o", str(store), "--duration", "2h", "--paths", "2"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    events = load_store(store, "path0001")
    ts = events["ts_ns"].values
    assert np.all(np.diff(ts) >= 0) and ts[-1] < 2 * 3600 * 10**9 and "seasonality" in events.attrs
    assert 0.2 * 0.046 * 7200 < ts.size < 5 * 0.046 * 7200  # about 0.046 events/s, with its clustering


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["simulate", "hawkes", "no-such-preset", "-o", "{tmp}/x.zarr"], "no such file"),
        (["simulate", "hawkes", "binance-spot-xrpeth", "-o", "{tmp}/x.zarr", "--duration", "ten"], "duration"),
        (["calibrate", "hawkes", "{eth}", "-o", "{tmp}/p.toml", "--dims", "buy,up"], "recipe"),
        (["calibrate", "hawkes", "{eth}", "-o", "{tmp}/p.toml", "--split", "1.5"], "train_fraction"),
    ],
)
def test_bad_input_exits_with_our_sentence(app, tmp_path, args, message):
    eth = str(shared_path(ETH_SPOT))
    result = runner.invoke(app, [a.format(tmp=tmp_path, eth=eth) for a in args])
    assert result.exit_code == 2 and message in result.output, result.output


def test_demo_hawkes_step_reports_rates_against_the_closed_form(tmp_path):
    from scenarios.demo import Demo
    from scenarios.demo.hawkes import hawkes_step

    demo = Demo(tmp_path, seed=11)
    metrics = demo.step("Hawkes", lambda: hawkes_step(demo, None))
    assert list_groups(tmp_path / "hawkes_btcusdt.zarr") == [f"path000{k}" for k in range(4)]
    z = [float(v) for v in metrics["count z-scores"].split("/")]
    assert max(abs(v) for v in z) < 4 and metrics["events"] > 4 * 600 * 3
