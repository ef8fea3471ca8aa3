"""`simlab forecast run` and the demo step, end to end on small synthetic runs."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from typer.testing import CliRunner

from scenarios.cli import app
from scenarios.demo.forecast import forecast_step
from scenarios.forecast.state import closed_form_counts
from simlab.hawkes import HawkesParams
from simlab.store import load_store
from tests.scenarios.forecast.conftest import TINY_FORECAST_SPEC

SPEC = (
    TINY_FORECAST_SPEC
    + """
[paper]
sensitivity = "lhs"
n_configs = 1
"""
)


def test_forecast_run_writes_a_store_and_a_report(tmp_path: Path):
    spec = tmp_path / "tiny.toml"
    spec.write_text(SPEC)
    result = CliRunner().invoke(app, ["forecast", "run", str(spec), "-o", str(tmp_path / "run.zarr")])
    assert result.exit_code == 0, result.output
    assert "hybrid_nowcast" in result.output
    test = load_store(tmp_path / "run.zarr", "synthetic")
    assert {"actual_ofi", "ofi_var", "ofi_oracle", "signal_hybrid_nowcast"} <= set(test.data_vars)
    assert float(test["oracle_ofi_variance"].mean()) > 10 * float(test["oracle_monte_carlo_variance"].mean()) > 0
    summary = json.loads(test.attrs["summary"])["synthetic"]
    assert [r["model"] for r in summary["audit"] if r["flagged"]] == ["hybrid_nowcast"]
    assert summary["scores"]["hybrid_nowcast"]["r2"] > 0.9 > 0.3 > summary["scores"]["oracle"]["r2"]
    report = (tmp_path / "run_report" / "report.md").read_text()
    assert (
        "**LEAK**" in report
        and "## Table 4" in report
        and "## Sensitivity grid" in report
        and (tmp_path / "run_report" / "synthetic.png").stat().st_size > 1000
    )
    assert "<table>" in (tmp_path / "run_report" / "report.html").read_text()
    # provenance: the seed, the spec and the true process of the synthetic series; no wall-clock time in the store
    root = load_store(tmp_path / "run.zarr")
    assert root.attrs["seed"] == 3 and json.loads(root.attrs["true_params"])["synthetic"]["baseline"]
    assert "seconds" not in summary["scores"]["var"]
    # the true state of every test window is stored, and it is the one the oracle forecast from: the closed-form
    # expected counts it gives order the windows as the oracle's E[OFI] does
    params = HawkesParams.from_dict(json.loads(root.attrs["true_params"])["synthetic"])
    states = test["true_state"].values
    assert states.shape == (test.sizes["window"], params.adjacency.size) and np.all(states >= 0)
    counts = closed_form_counts(params, states, 1.0)
    expected_ofi = (counts[:, 0] - counts[:, 1]) / (counts[:, 0] + counts[:, 1])
    assert np.corrcoef(expected_ofi, test["ofi_oracle"].values)[0, 1] > 0.9
    # the same seed writes the same store, the sensitivity grid run on the sweep runner's local cluster this time
    again = CliRunner().invoke(
        app, ["forecast", "run", str(spec), "-o", str(tmp_path / "again.zarr"), "--workers", "1"]
    )
    assert again.exit_code == 0, again.output
    assert load_store(tmp_path / "again.zarr", "synthetic").identical(test)
    assert load_store(tmp_path / "again.zarr").attrs == root.attrs


def test_forecast_run_says_what_is_wrong_with_a_spec(tmp_path: Path):
    spec = tmp_path / "bad.toml"
    spec.write_text(SPEC.replace("lags = 2", "lagz = 2"))
    result = CliRunner().invoke(app, ["forecast", "run", str(spec), "-o", str(tmp_path / "run.zarr")])
    assert result.exit_code == 2 and "models.lagz" in result.output


@pytest.mark.slow
def test_demo_step_runs_the_smoke_benchmark(tmp_path: Path):
    metrics = forecast_step(SimpleNamespace(output=tmp_path, seed=5), None)
    assert metrics["synthetic-btcusdt: flagged by the leakage audit"] == "hybrid_nowcast"
    assert 0 < metrics["synthetic-btcusdt: oracle R^2 (ceiling)"] < 0.3
    nowcast = float(metrics["synthetic-btcusdt: hybrid honest / nowcast R^2"].split(" / ")[1])
    assert nowcast > 0.9 and (tmp_path / metrics["report"]).is_file()
    assert not any(key.startswith("BTCUSDT") for key in metrics)  # no data folder: synthetic only
