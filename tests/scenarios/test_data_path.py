"""One data path through every command: a simlab store and the raw files it was ingested from give the same results.

`simlab ingest X -o S` then `calibrate hawkes S`, `features S`, `score --real S`, a forecast spec's `files = [[S]]`
must equal the same commands on X itself; `simlab.io.dataset.load_dataset` is the one place that tells them apart.
"""

from __future__ import annotations

import tomllib

import numpy as np
import pytest
import xarray as xr
from typer.testing import CliRunner

from calibration.hawkes_data import load_window
from scenarios.cli import app
from scenarios.forecast.data import real_series
from simlab.errors import DataError, ParameterError
from simlab.io import ingest
from simlab.io.dataset import load_dataset
from simlab.store import load_store, write_store
from tests.conftest import shared_path

runner = CliRunner()
BTC_SPOT = "binance_ws_l2_trades_hftbacktest/spot/btcusdt_20230405.trades.csv.gz"
AAPL10 = "lobster_samples/AAPL_2012-06-21_level10_first1000"
HEADER = "id,price,qty,quote_qty,time,is_buyer_maker\n"


def write_trades(path, seed: int, start_ms: int, n: int = 1500, first_id: int = 1):
    """Write ``n`` synthetic Binance USD-M trades (seeded Poisson times, ms stamps) as a trades dump CSV."""
    rng = np.random.default_rng(seed)
    times = start_ms + np.cumsum(rng.integers(0, 800, n))
    prices = 40_000 + np.cumsum(rng.integers(-2, 3, n)) * 0.1
    sizes = rng.integers(1, 500, n) / 1000
    maker = rng.random(n) < 0.5
    rows = [
        f"{first_id + k},{p:.1f},{q:.3f},{p * q:.4f},{t},{str(m).lower()}"
        for k, (p, q, t, m) in enumerate(zip(prices, sizes, times, maker, strict=True))
    ]
    path.write_text(HEADER + "\n".join(rows) + "\n")
    return path


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data_path")
    raw = write_trades(folder / "BTCUSDT-trades-2024-01-01.csv", seed=1, start_ms=1_704_067_200_000)
    later = write_trades(folder / "BTCUSDT-trades-2024-01-02.csv", seed=2, start_ms=1_704_153_600_000, first_id=5000)
    ingest(raw, folder / "day1.zarr")
    ingest(later, folder / "day2.zarr")
    return folder, raw, later


def test_a_store_loads_as_the_files_it_was_ingested_from(synthetic):
    folder, raw, _ = synthetic
    from_store, from_file = load_dataset(folder / "day1.zarr"), load_dataset(raw)
    assert set(from_store) == set(from_file) == {"events"}
    for name in ("ts_ns", "kind", "side", "price_ticks", "qty_lots"):
        np.testing.assert_array_equal(from_store["events"][name].values, from_file["events"][name].values)
    assert from_store["events"].sizes["event"] == 1500


def test_several_inputs_concatenate_in_time_order(synthetic):
    folder, raw, later = synthetic
    both = load_dataset([folder / "day1.zarr", folder / "day2.zarr"])["events"]
    files = load_dataset([raw, later])["events"]
    assert both.sizes["event"] == files.sizes["event"] == 3000
    np.testing.assert_array_equal(both["ts_ns"].values, files["ts_ns"].values)
    assert np.all(np.diff(both["ts_ns"].values) >= 0)
    order = r"01-01.csv starts at ts_ns \d+, before BTCUSDT-trades-2024-01-02.csv ends \(\d+\); give consecutive"
    with pytest.raises(DataError, match=order):
        load_dataset([later, raw])


def test_bad_combinations_name_the_parameter(synthetic):
    folder, raw, _ = synthetic
    with pytest.raises(ParameterError, match="mixes simlab stores \\['day1.zarr'\\] with raw files"):
        load_dataset([folder / "day1.zarr", raw])
    with pytest.raises(ParameterError, match="`options` \\(reader options\\) apply to raw files only; got sort"):
        load_dataset(folder / "day1.zarr", sort=True)
    with pytest.raises(ParameterError, match="`group` applies to a simlab store"):
        load_dataset(raw, "events")
    with pytest.raises(DataError, match="does not exist"):
        load_dataset(folder / "missing.zarr")
    write_store(load_store(folder / "day1.zarr", "events")[["ts_ns"]].rename(ts_ns="x"), folder / "bars.zarr")
    with pytest.raises(DataError, match="holds no events"):
        load_dataset(folder / "bars.zarr")


def test_reader_options_reach_the_reader(synthetic):
    _, raw, _ = synthetic
    default = load_dataset(raw)["events"]
    fine = load_dataset(raw, format="binance-trades", tick_size=0.05, lot_size=0.0005)["events"]
    assert default.attrs["tick_size"] == 0.1 and fine.attrs["tick_size"] == 0.05
    np.testing.assert_array_equal(fine["price_ticks"].values, 2 * default["price_ticks"].values)
    np.testing.assert_array_equal(fine["qty_lots"].values, 2 * default["qty_lots"].values)


def test_calibrate_a_store_equals_calibrate_its_files(synthetic):
    folder, raw, _ = synthetic
    fixed = ["--decays", "1,10", "--paths", "2", "--seed", "3", "--split", "0.6"]
    for name, data in (("store", folder / "day1.zarr"), ("file", raw)):
        result = runner.invoke(app, ["calibrate", "hawkes", str(data), "-o", str(folder / f"{name}.toml"), *fixed])
        assert result.exit_code == 0, result.output
    store, file = (tomllib.loads((folder / f"{n}.toml").read_text()) for n in ("store", "file"))
    assert store["params"] == file["params"] and store["diagnostics"]["loglik"] == file["diagnostics"]["loglik"]
    assert store["fitted_on"]["train"]["counts"] == file["fitted_on"]["train"]["counts"]
    assert sum(store["fitted_on"]["train"]["counts"]) > 500
    assert store["fitted_on"]["files"][0].endswith("day1.zarr")


def test_features_and_forecast_series_read_a_store_like_its_files(synthetic):
    folder, raw, _ = synthetic
    for name, data in (("store", folder / "day1.zarr"), ("file", raw)):
        out = folder / f"{name}.bars.zarr"
        result = runner.invoke(app, ["features", str(data), "-o", str(out), "--bin", "10s"])
        assert result.exit_code == 0, result.output
    assert (
        load_store(folder / "store.bars.zarr")
        .drop_attrs()
        .identical(load_store(folder / "file.bars.zarr").drop_attrs())
    )
    result = runner.invoke(app, ["features", str(raw)])
    assert result.exit_code == 2 and "pass --output, the bars store to write" in result.output
    from_store = real_series([[folder / "day1.zarr"]], bin_s=5.0, horizon_s=5.0)
    from_file = real_series([[raw]], bin_s=5.0, horizon_s=5.0)
    np.testing.assert_array_equal(from_store.buy, from_file.buy)
    np.testing.assert_array_equal(from_store.sell, from_file.sell)
    assert from_store.buy.sum() + from_store.sell.sum() > 1000


def test_ingest_then_calibrate_on_a_real_binance_file(tmp_path):
    raw = shared_path(BTC_SPOT)
    store = tmp_path / "btc.zarr"
    assert runner.invoke(app, ["ingest", str(raw), "-o", str(store)]).exit_code == 0
    fixed = ["--decays", "0.3,3,30,300", "--paths", "2", "--seed", "1"]
    result = runner.invoke(app, ["calibrate", "hawkes", str(store), "-o", str(tmp_path / "p.toml"), *fixed])
    assert result.exit_code == 0, result.output
    preset = tomllib.loads((tmp_path / "p.toml").read_text())
    window = load_window(raw)
    assert preset["preset"]["instrument"] == "BTCUSDT" and sum(preset["fitted_on"]["train"]["counts"]) > 0
    assert sum(preset["fitted_on"]["train"]["counts"]) + sum(preset["fitted_on"]["validation"]["counts"]) == sum(
        window.counts
    )
    assert 0 < preset["diagnostics"]["branching_ratio"] < 1


def test_replay_and_export_read_an_ingested_lobster_store(tmp_path):
    message, orderbook = sorted(shared_path(AAPL10).glob("*.csv"))
    store = tmp_path / "aapl.zarr"
    assert runner.invoke(app, ["ingest", str(message), str(orderbook), "-o", str(store)]).exit_code == 0
    for name, data in (("store", [store]), ("files", [message, orderbook])):
        result = runner.invoke(app, ["replay", *map(str, data), "-o", str(tmp_path / f"{name}.zarr")])
        assert result.exit_code == 0, result.output
    xr.testing.assert_equal(load_store(tmp_path / "store.zarr", "books"), load_store(tmp_path / "files.zarr", "books"))
    result = runner.invoke(app, ["export", "lobster", str(message), str(orderbook), "-o", str(tmp_path / "lob")])
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "lob").glob("*.csv"))) == 2


def test_a_forecast_spec_reads_a_store_or_files_with_reader_options(synthetic):
    from scenarios.forecast.runner import build_series
    from scenarios.forecast.spec import parse_spec

    folder, raw, _ = synthetic

    def series(**data):
        target = {"bin_s": 5.0, "horizon_s": 5.0}
        spec = parse_spec({"data": [{"name": "real", "source": "real", **data}], "target": target})
        return build_series(spec.data[0], spec.target, folder, np.random.default_rng(0))

    from_store = series(files=[["day1.zarr"]])
    from_file = series(files=[[raw.name]], format="binance-trades", options={"sort": True})
    np.testing.assert_array_equal(from_store.buy, from_file.buy)
    with pytest.raises(ParameterError, match="the binance-trades reader has no option 'srot'"):
        series(files=[[raw.name]], options={"srot": True})


def test_score_passes_reader_options_to_the_real_data(synthetic, tmp_path):
    folder, _, _ = synthetic
    store = str(folder / "day1.zarr")
    result = runner.invoke(app, ["score", store, "--real", store, "-o", str(tmp_path), "--option", "sort=true"])
    assert result.exit_code == 2 and "--option (reader options) apply to raw files only; got sort" in result.output
