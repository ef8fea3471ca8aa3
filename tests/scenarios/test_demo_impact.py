"""The demo's metaorder-impact step (scenarios/demo/impact.py): its numbers are the batch measurement's on the same
seeds, its figure and store are written, and the held-out record it prints is the stored runs' judged afresh."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from calibration.abm_impact import FRACTIONS as HELD_OUT_SIZES
from scenarios.demo.impact import held_out_rows, impact_figure, impact_step
from scenarios.demo.runner import Demo
from simlab.agents.impact import metaorder_impact
from simlab.errors import DataError, ParameterError
from simlab.store import load_store
from tests.simlab.agents.conftest import small_config

SHORT = {"start_s": 300.0, "duration_s": 600.0, "after_s": 300.0, "interval_s": 20.0}
SIZES = np.array([0.01, 0.1, 0.3])


@pytest.fixture(scope="module")
def short_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("impact")
    demo = Demo(folder, seed=11)
    config = small_config(session_s=1800.0)
    metrics = impact_step(demo, config, SIZES, **SHORT)
    batch = metaorder_impact(config, SIZES, seeds=[211, 212], strategy="twap", **SHORT, sample_s=10.0)
    return demo, metrics, batch


def test_the_step_reports_the_batch_measurement(short_run):
    demo, metrics, batch = short_run
    peak, after = batch["peak_bps"].values.mean(axis=0), batch["after_bps"].values.mean(axis=0)
    for i, fraction in enumerate(SIZES):
        key = f"Q/V {fraction:g}: peak / 5 min after (bps, mean of 2 seeds)"
        assert metrics[key] == f"{peak[i]:.1f} / {after[i]:.1f}"
    assert metrics["seeds"] == "211, 212"
    assert metrics["about"].startswith("TWAP buys of 0.01, 0.1, 0.3 of the day's volume over 10 min")
    exponent = metrics["log-log exponent over these 3 sizes (2 seeds: not a test)"]
    assert exponent == f"{batch.attrs['exponent']:.3f}"
    assert not any(key.startswith("held out") for key in metrics)  # a market other than the preset has no record


def test_the_step_stores_its_run_and_draws_its_figure(short_run):
    demo, _, batch = short_run
    ((title, about, figure),) = demo.figures
    assert figure == demo.output / "abm_impact.png" and figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert title.endswith("TWAP buys over 10 min") and about.startswith("The mean impact")
    store = load_store(demo.output / "abm" / "impact.zarr")
    config = json.loads(store.attrs["config"])
    assert store.attrs["seed"] == 11 and config["seeds"] == [211, 212] and config["duration_s"] == 600.0
    assert config["fractions"] == SIZES.tolist() and "simlab_version" in store.attrs and "git_commit" in store.attrs
    np.testing.assert_array_equal(store["peak_bps"].values, batch["peak_bps"].values)
    fig, left_out = impact_figure(batch)
    (paths, sizes) = fig.axes
    assert paths.get_xlabel() == "minutes since the metaorder's start (min)" and "bps" in paths.get_ylabel()
    assert sizes.get_xscale() == "log" and "bps" in sizes.get_ylabel() and "Q/V" in sizes.get_xlabel()
    assert len(paths.get_lines()) == SIZES.size + 2  # a path per size, the end and the zero line
    assert left_out == [float(f) for f in SIZES[batch["peak_bps"].values.mean(axis=0) <= 0]]


def test_a_misspelled_window_key_is_refused(tmp_path):
    with pytest.raises(ParameterError, match=r"window keys \['duration'\] are not among"):
        impact_step(Demo(tmp_path, seed=1), small_config(session_s=1800.0), SIZES, duration=600.0)


def test_the_held_out_record_is_the_stored_runs_judged():
    rows = held_out_rows("abm-amzn-v26")
    label = "held out, seeds 2400-2447 (48), 30 min watched"
    assert rows[f"{label}: exponent, weighted fit (95 % interval)"] == "0.580 [0.555, 0.615]"
    loglog = rows[f"{label}: log-log exponent, the issue's regression (95 % interval)"]
    assert loglog == "0.638 [0.580, 0.751], not inside [0.4, 0.65]"
    assert rows[f"{label}: verdict (the committed criteria)"] == "passes"
    label = "held out, seeds 2800-2847 (48), 60 min watched"  # docs/agents_decay_plateau.md section 2
    assert rows[f"{label}: verdict by its rule at Q/V 0.1"].startswith("shown: a decay whose decline slows")
    assert rows[f"{label}: band reading, weighted fit (95 % interval)"] == "0.570 [0.540, 0.600]"
    share = f"{label}: share of the fall in the watch's last third (95 % interval; a straight decline gives 1/3)"
    assert rows[share] == "0.230 [0.173, 0.290]"
    assert rows[f"{label}: impact at the watch's end, share of the peak at Q/V 0.1"] == "0.42 (14.1 SE above 0)"
    label = "held out, seeds 3000-3047 (48), 180 min watched"  # section 4
    assert rows[f"{label}: impact at the watch's end, share of the peak at Q/V 0.1"] == "0.17 (6.7 SE above 0)"


def _record(folder, paths):
    """A preset and a held-out file of 48 seeds whose rows keep ``paths`` (seed, size, lag) after the end."""
    (folder / "p.toml").write_text("# a preset\n")
    rng = np.random.default_rng(0)
    rows = [{"seed": 100 + s, "peak_bps": (path[:, 0]).tolist(), "after_bps": (path[:, -1]).tolist(),
             "after_path_bps": path.tolist(), "completion_s": [3600.0] * HELD_OUT_SIZES.size,
             "executed_lots": [1.0] * HELD_OUT_SIZES.size, "executed_at_end_lots": [1.0] * HELD_OUT_SIZES.size,
             "volume_lots": 1e4} for s, path in enumerate(paths + rng.normal(0, 1.0, paths.shape))]  # fmt: skip
    window = {"start_s": 3600.0, "after_s": 3600.0, "interval_s": 30.0, "sample_s": 10.0, "strategy": "twap",
              "duration_s": 3600.0}  # fmt: skip
    document = {"preset": "p", "preset_sha256": hashlib.sha256(b"# a preset\n").hexdigest(), "protocol": "twap",
                "side": "buy", "fractions": HELD_OUT_SIZES.tolist(), "window": window, "path_step_s": 60.0,
                "rows": rows}  # fmt: skip
    (folder / "p.twap-buy-watch60.json").write_text(json.dumps(document))


def test_a_record_with_paths_is_read_by_its_plateau_rule(tmp_path):
    minutes = np.arange(61.0)
    peaks = 200.0 * (HELD_OUT_SIZES / 0.1) ** 0.5
    level = peaks[:, None] * (0.5 + 0.5 * np.exp(-minutes[None, :] / 8.0))  # half left: a level
    _record(tmp_path, np.repeat(level[None], 48, axis=0))
    rows = held_out_rows("p", tmp_path, ("twap-buy-watch60",))
    label = "held out, seeds 100-147 (48), 60 min watched"
    assert rows[f"{label}: verdict by its rule at Q/V 0.1"].startswith("shown: a decay whose decline slows")
    assert rows[f"{label}: band reading, weighted fit (95 % interval)"].startswith("0.50")
    share = rows[f"{label}: share of the fall in the watch's last third (95 % interval; a straight decline gives 1/3)"]
    assert float(share.split()[0]) < 0.01
    assert rows[f"{label}: impact at the watch's end, share of the peak at Q/V 0.1"].startswith("0.50")
    straight = peaks[:, None] * (1.0 - 0.5 * minutes[None, :] / 60.0)  # half left, but still falling
    _record(tmp_path, np.repeat(straight[None], 48, axis=0))
    rows = held_out_rows("p", tmp_path, ("twap-buy-watch60",))
    assert rows[f"{label}: verdict by its rule at Q/V 0.1"] == "not shown"


def test_a_missing_or_stale_record_is_refused(tmp_path):
    with pytest.raises(DataError, match="p.twap-buy-watch60.json is not stored"):
        (tmp_path / "p.toml").write_text("# a preset\n")
        held_out_rows("p", tmp_path, ("twap-buy-watch60",))
    _record(tmp_path, np.ones((48, HELD_OUT_SIZES.size, 61)))
    (tmp_path / "p.toml").write_text("# another version\n")
    with pytest.raises(DataError, match="was measured on another version of p.toml"):
        held_out_rows("p", tmp_path, ("twap-buy-watch60",))
