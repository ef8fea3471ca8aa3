"""`simlab score` end to end (JSON, xarray store, HTML report), dataset loading, bad input, the demo's score step."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from scenarios.score.runner import load_dataset
from simlab.errors import DataError
from simlab.store import load_store, write_store
from tests.conftest import shared_path
from tests.simlab.metrics.conftest import zi_book

runner = CliRunner()
AMZN = "lobster_samples/AMZN_2012-06-21_level1_fullday"
ETHUSDT = "binance_ws_l2_trades_hftbacktest/spot/ethusdt_20240808.trades.csv.gz"


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    folder = tmp_path_factory.mktemp("score")
    real, synthetic = folder / "real.zarr", folder / "synthetic.zarr"
    write_store(zi_book(1), real)
    write_store(zi_book(2), synthetic)
    return folder, real, synthetic


def test_score_command_writes_json_store_and_report(stores):
    from scenarios.cli import app

    folder, real, synthetic = stores
    out = folder / "out"
    args = ["score", str(synthetic), "--real", str(real), "-o", str(out), "--n-boot", "20", "--seed", "7"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    document = json.loads((out / "scores.json").read_text())
    assert len(document["scores"]) == 52 and document["provenance"]["seed"] == 7
    assert document["meta"]["instrument"] == "TOY"
    assert 0.0 <= document["summary"]["l1"]["mean"]["value"] < 0.2  # two runs of one model
    dataset = load_store(out / "scores.zarr")
    assert dataset.sizes["score"] == 52 and list(dataset["quantity"].values[:2]) == ["spread_ticks", "spread_ticks"]
    report = (out / "report.html").read_text()
    assert report.startswith("<!doctype html>") and "Realism scorecard" in report
    assert len(re.findall(r"data:image/png;base64,", report)) == 4  # histograms, ACF curves, responses, horizon
    assert "Error against horizon" in report and document["horizon"]["scored"] == [18] * 5
    again = runner.invoke(app, args)
    assert again.exit_code == 2 and "already holds" in again.output


def test_mismatched_instruments_fail_with_our_sentence(stores, tmp_path):
    from scenarios.cli import app

    _, real, _ = stores
    other = zi_book(3)
    other["events"].attrs["instrument"] = "OTHER"
    write_store(other, tmp_path / "other.zarr")
    result = runner.invoke(app, ["score", str(tmp_path / "other.zarr"), "--real", str(real), "-o", str(tmp_path / "o")])
    assert result.exit_code == 2 and "instruments differ (synthetic 'OTHER', real 'TOY')" in result.output


def test_strict_lists_what_an_events_only_store_lacks(stores, tmp_path):
    from scenarios.cli import app

    _, real, _ = stores
    write_store({"path0000": zi_book(5, duration_s=300.0)["events"]}, tmp_path / "events.zarr")
    args = ["score", str(tmp_path / "events.zarr"), "--real", str(real), "-o", str(tmp_path / "o"), "--n-boot", "10"]
    result = runner.invoke(app, [*args, "--strict"])
    assert result.exit_code == 2 and "measures are not applicable" in result.output
    assert "spread_ticks: synthetic data: missing books" in result.output
    assert not (tmp_path / "o").exists()
    assert runner.invoke(app, args).exit_code == 0  # reported, not raised, without --strict


def test_load_dataset_picks_groups(tmp_path):
    book = zi_book(1, duration_s=30.0)
    write_store({"path0000": book["events"], "path0001": book["events"]}, tmp_path / "paths.zarr")
    assert set(load_dataset(tmp_path / "paths.zarr")) == {"events"}
    assert load_dataset(tmp_path / "paths.zarr", "path0001")["events"].sizes == book["events"].sizes
    with pytest.raises(DataError, match="no group 'path9'"):
        load_dataset(tmp_path / "paths.zarr", "path9")
    with pytest.raises(DataError, match="does not exist"):
        load_dataset(tmp_path / "missing.zarr")


def test_real_files_are_read_directly():
    data = load_dataset(shared_path(AMZN))
    assert data["events"].sizes["event"] == 57_515 and data["books"].sizes["time"] == 57_515


def test_aggregate_trades_scores_a_hawkes_preset_against_raw_binance_prints(tmp_path):
    """The ETHUSDT file holds 6106 prints of 1929 taker orders; the preset was fitted to the orders.

    Unaggregated, the prints' zero intervals alone make the inter-arrival law look far off; merged, the preset
    scores near its calibration table.
    """
    from calibration.presets import load_preset, preset_events, simulate_preset
    from scenarios.cli import app

    real = shared_path(ETHUSDT)
    ts = load_dataset(real)["events"]["ts_ns"].values
    preset = load_preset("binance-spot-ethusdt")
    (path,) = simulate_preset(preset, (ts[-1] - ts[0]) / 1e9 + 1e-3, rng=1, start_ns=int(ts[0]))
    write_store({"events": preset_events(preset, path, start_ns=int(ts[0]), seed=1)}, tmp_path / "hawkes.zarr")
    documents = {}
    for flag in ([], ["--aggregate-trades"]):
        out = tmp_path / ("merged" if flag else "raw")
        args = ["score", str(tmp_path / "hawkes.zarr"), "--real", str(real), "-o", str(out), "--n-boot", "50"]
        result = runner.invoke(app, [*args, *flag])
        assert result.exit_code == 0, result.output
        documents[bool(flag)] = json.loads((out / "scores.json").read_text())
    raw, merged = documents[False], documents[True]
    assert raw["meta"]["real_events"] == 6106 and merged["meta"]["real_events"] == 1929
    assert merged["meta"]["aggregate_trades"] and json.loads(merged["provenance"]["config"])["aggregate_trades"]
    l1 = {flag: {r["quantity"]: r for r in d["scores"] if r["metric"] == "l1"} for flag, d in documents.items()}
    assert l1[False]["log10_interarrival_s"]["value"] > 0.6 and l1[True]["log10_interarrival_s"]["value"] < 0.25
    assert merged["summary"]["l1"]["mean"]["high"] < raw["summary"]["l1"]["mean"]["low"]
    assert merged["discriminative"]["auc"] < raw["discriminative"]["auc"] == 1.0


def test_the_unknown_depth_refusal_names_the_score_commands_flags():
    import numpy as np
    import typer.main

    from scenarios.cli import app
    from scenarios.cli.console import cli_words
    from simlab.errors import ParameterError
    from simlab.metrics.scorecard import score
    from simlab.synthetic import toy_market
    from tests.generators.test_known_depth import _masked

    market = toy_market(3, duration_s=60.0)
    real = {"events": market["events"], "books": _masked(market["books"], np.random.default_rng(1), None)}
    with pytest.raises(ParameterError) as caught:  # LOB-Bench reads every level: unknown cells are refused
        score(market, real, seed=1, n_boot=10, convention="lobbench")
    words = cli_words(str(caught.value), typer.main.get_command(app).commands["score"])
    assert "pass --convention simlab, or pass --read-unknown-depth to read them" in words, words
