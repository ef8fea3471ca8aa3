"""The demo's metaorder-impact step (scenarios/demo/impact.py): its numbers are the batch measurement's on the same
seeds, its figure and store are written, and the held-out record it prints is the stored runs' judged afresh."""

from __future__ import annotations

import numpy as np
import pytest

from scenarios.demo.impact import FRACTIONS, held_out_rows, impact_step
from scenarios.demo.runner import Demo
from simlab.agents.impact import metaorder_impact
from simlab.store import load_store
from tests.simlab.agents.conftest import small_config

SHORT = {"start_s": 300.0, "duration_s": 600.0, "after_s": 300.0, "interval_s": 20.0}
SIZES = np.array([0.01, 0.1, 0.3])


@pytest.mark.filterwarnings("ignore:All-NaN slice")
def test_the_step_reports_the_batch_measurement_and_writes_its_figure(tmp_path):
    demo = Demo(tmp_path, seed=11)
    config = small_config(session_s=1800.0)
    metrics = impact_step(demo, config, SIZES, **SHORT)
    batch = metaorder_impact(config, SIZES, seeds=[211, 212], strategy="twap", **SHORT, sample_s=10.0)
    peak, after = batch["peak_bps"].values.mean(axis=0), batch["after_bps"].values.mean(axis=0)
    for i, fraction in enumerate(SIZES):
        assert (
            metrics[f"Q/V {fraction:g}: peak / 5 min after (bps, mean of 2 seeds)"] == f"{peak[i]:.1f} / {after[i]:.1f}"
        )
    assert metrics["seeds"] == "211, 212"
    assert metrics["about"].startswith("TWAP buys of 0.01, 0.1, 0.3 of the day's volume over 10 min")
    assert metrics["log-log exponent over these 3 sizes (2 seeds: not a test)"] == round(batch.attrs["exponent"], 3)
    assert not any(key.startswith("held out") for key in metrics)  # a market other than the preset has no record
    ((title, about, figure),) = demo.figures
    assert figure == tmp_path / "abm_impact.png" and figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert title.endswith("impact paths") and about.startswith("The mean impact")
    store = load_store(tmp_path / "abm" / "impact.zarr")
    assert store.attrs["seed"] == 11
    np.testing.assert_array_equal(store["peak_bps"].values, batch["peak_bps"].values)


def test_the_held_out_record_is_the_stored_runs_judged():
    rows = held_out_rows("abm-amzn-v26")
    label = "held out, 30 min watched (seeds 2400-2447)"
    assert rows[f"{label}: weighted exponent (95 % interval)"] == "0.580 [0.555, 0.615]"
    assert rows[f"{label}: log-log exponent, the issue's regression (95 % interval)"] == "0.638 [0.580, 0.751]"
    assert rows[f"{label}: verdict"] == "weighted criterion passes; log-log interval not inside [0.4, 0.65]"
    assert FRACTIONS.tolist() == [1e-3, 1e-2, 1e-1]
