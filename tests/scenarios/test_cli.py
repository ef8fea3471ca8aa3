"""The CLI end to end: demo on the synthetic sample, info, features, and error exits."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scenarios.cli import app
from scenarios.demo.abm import FEATURES_KEY, REFERENCE_KEY, RESPONSE_KEY
from scenarios.demo.runner import Demo, _features, _synthetic_step
from simlab.store import list_groups, load_store

runner = CliRunner()


# the metaorder-impact step's market, shortened in this run: the step reads no data, so the demo on the real data
# (tests/scenarios/test_demo_real.py) runs it in full, and tests/scenarios/test_demo_impact.py reads its outputs
SHORT_IMPACT = {"start_s": 1800.0, "duration_s": 600.0, "after_s": 300.0, "interval_s": 30.0, "sample_s": 10.0}


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> Path:
    """One synthetic demo (seed 3), shared by the tests that read its outputs: the demo is the suite's slowest step.
    Every step runs as the CLI runs it, but for the impact step's shorter market (:data:`SHORT_IMPACT`)."""
    from scenarios.demo import impact

    folder = tmp_path_factory.mktemp("demo")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(impact, "WINDOW", SHORT_IMPACT)
        result = runner.invoke(app, ["demo", "--synthetic", "-o", str(folder), "--seed", "3"])
    assert result.exit_code == 0, result.output
    return folder


def test_demo_on_the_synthetic_sample_writes_report_and_stores(demo_run):
    tmp_path = demo_run
    report = (tmp_path / "report.md").read_text()
    assert "55/30 | +0.294 BUY" in report and "45/40 | +0.059 HOLD" in report and "60/125 | -0.351 SELL" in report
    assert "Source: built-in synthetic sample." in report and "the real AMZN day" not in report  # titles follow it
    assert "## Order book: ZI and QR AMZN presets vs the real-day numbers recorded in the presets" in report
    assert "vs a second ZI run (no real data: machinery only)" in report and "(no real swaps to replay)" in report
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    bars = load_store(tmp_path / "features.zarr")
    assert metrics["Order-flow feature bars (1 s)"]["bars"] == bars.sizes["time"] == 600
    assert bars.attrs["seed"] == 3 and (tmp_path / "order_flow.png").stat().st_size > 10_000
    assert list_groups(tmp_path / "toy_market.zarr") == ["books", "events"]
    (generated,) = [value for key, value in metrics.items() if key.startswith("Diffusion generator")]
    for label in ("condition alone", "SMC, 4 particles per path"):  # the thin-book regime asked both ways
        assert re.match(r"[0-3] of 3", generated[f"thin book asked, {label}: paths ending in it"])
    assert generated["seconds"] > 0 and "waited for the second process (s)" in generated  # it ran beside the rest
    (impact,) = [value for key, value in metrics.items() if key.startswith("Metaorder impact")]
    assert "Q/V 0.1: peak / 5 min after (bps, mean of 2 seeds)" in impact  # the shortened market (10 min, 5 after)
    assert float(impact["Q/V 0.1: peak / 5 min after (bps, mean of 2 seeds)"].split(" / ")[0]) > 0


def test_the_demo_s_scorecard_and_agent_market_steps_without_real_data(demo_run):
    """The scorecard and agent-market steps on the synthetic sample (their own tests read this run: the demo's steps
    are not run a second time)."""
    metrics = json.loads((demo_run / "metrics.json").read_text())
    (card,) = [value for key, value in metrics.items() if key.startswith("Realism scorecard: 30 min of the ZI")]
    assert card["real data"].startswith("no real data") and card["zi-amzn scores"] == "52 of 52 applicable"
    assert (demo_run / "score" / "qr-amzn" / "report.html").exists()
    (agents,) = [value for key, value in metrics.items() if key.startswith("Agent-based market (abm-amzn-v34")]
    assert agents["real data"].startswith("no real data") and agents["book events"] > 1000
    assert "abm ROC-AUC real vs synthetic" in agents and agents[REFERENCE_KEY] == "no real data"
    pairs = agents[RESPONSE_KEY].split(" / ")  # the aggregate response, simulated (the stand-in run) per bin
    assert len(pairs) == 4 and all(re.fullmatch(r"(-?\d+\.\d|nan) \((-?\d+\.\d|nan)\)", p) for p in pairs)
    assert (demo_run / "abm" / "score" / "report.html").is_file() and (demo_run / "abm" / "market.zarr").is_dir()
    telling = re.fullmatch(r"(\w+) (\d\.\d\d), (\w+) (\d\.\d\d), (\w+) (\d\.\d\d)", agents[FEATURES_KEY])
    assert telling and len({telling[1], telling[3], telling[5]}) == 3  # three named features with their AUCs
    far = [abs(float(telling[i]) - 0.5) for i in (2, 4, 6)]
    assert far == sorted(far, reverse=True)  # the most telling first


def test_demo_is_reproducible(demo_run, tmp_path):
    """Same seed, same bytes: the demo's market and its bars, made again through the demo's own steps, equal the CLI
    run's stores group by group. (Not the whole demo again: the suite's slowest step. The generator step's rerun, its
    model and its score store, is tests/generators/test_demo.py's.)"""
    demo = Demo(tmp_path, seed=3)
    events, books = _synthetic_step(demo)
    demo.step("bars", lambda: _features(demo, events, books))
    for store in ("toy_market.zarr", "features.zarr"):
        for group in list_groups(demo_run / store):
            assert load_store(demo_run / store, group).identical(load_store(tmp_path / store, group)), (store, group)


def test_info_and_features_on_a_store(demo_run, tmp_path):
    result = runner.invoke(app, ["info", str(demo_run / "toy_market.zarr")])
    assert result.exit_code == 0 and '"event": ' in result.output and '"seed": 3,' in result.output
    out = tmp_path / "bars.zarr"
    result = runner.invoke(app, ["features", str(demo_run / "toy_market.zarr"), "-o", str(out), "--bin", "10s"])
    assert result.exit_code == 0, result.output
    assert load_store(out).sizes["time"] == 60 and load_store(out).attrs["config"].count("10000000000") == 1


def test_errors_exit_2_with_the_sentence(tmp_path):
    result = runner.invoke(app, ["info", str(tmp_path / "missing.zarr")])
    assert result.exit_code == 2 and "does not exist" in result.output
    result = runner.invoke(app, ["features", str(tmp_path / "missing.zarr"), "--bin", "soon"])
    assert result.exit_code == 2
    result = runner.invoke(app, ["ingest", str(tmp_path / "nothing.csv"), "-o", str(tmp_path / "x.zarr")])
    assert result.exit_code == 2 and "no such file" in result.output
