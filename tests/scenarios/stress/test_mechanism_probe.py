"""The mechanism-only probes (scenarios/library/probes/) of the 2010-05-06 E-mini crash and the 2025-10-10
liquidation cascade: the mechanisms without a news jump, fitted on the sweep runner as the library's episodes are.
These tests hold the measured shortfall that docs/stress_library.md reports ("Can the mechanisms alone carry the
fall?"): if a change to the agent market lets the mechanisms carry the fall, they fail, and the probe should be
refitted and promoted to the library."""

from __future__ import annotations

import json

import numpy as np
import pytest

from scenarios.specs import LIBRARY
from scenarios.stress.episodes import load_episode
from scenarios.stress.run import episode_statistics, simulate_episode, within_tolerance
from simlab.metrics.crash import STATISTICS

PROBE = LIBRARY / "probes" / "crash_2010_05_06_emini_mechanism.toml"
CASCADE = LIBRARY / "probes" / "crash_2025_10_10_crypto_liquidations_mechanism.toml"


def test_the_probe_has_no_news_jump_and_its_fit_on_the_sweep_runner_is_stored():
    probe, library = load_episode(PROBE), load_episode("crash_2010_05_06_emini")
    assert "news" not in probe.spec.mechanism and "withdrawal" not in probe.spec.mechanism
    assert probe.spec.template == library.spec.template
    same = ("preset", "duration_s", "event_s", "pre_s", "overrides")  # the same background (its reason reworded)
    assert all(getattr(probe.spec.background, k) == getattr(library.spec.background, k) for k in same)
    assert probe.spec.mechanism["sell_program"] == library.spec.mechanism["sell_program"]  # as reported: POV 9 %
    fitted = {"maker_withdrawal", "stop_loss"}
    assert {name.split(".")[0] for name in probe.parameters()} == fitted
    assert probe.fitted is not None and set(probe.fitted) == set(probe.parameters())
    document = json.loads(probe.fitted_path.read_text())
    assert document["evaluations"] == 18 and document["validate_paths"] == 20
    # the measured shortfall: no validation path within tolerance; the mean drawdown a tenth of the template's
    assert document["share_within"] == 0.0 and document["validate_means"]["drawdown"] < 0.01


@pytest.mark.slow
def test_the_reported_mechanisms_alone_do_not_carry_the_fall():
    probe = load_episode(PROBE)
    rows = episode_statistics(probe, simulate_episode(probe, 8, seed=20261203, workers=2))
    drawdown = rows[:, STATISTICS.index("drawdown")]
    low = probe.spec.template["drawdown"].value - probe.spec.template["drawdown"].tolerance
    assert np.median(drawdown) < 0.01, drawdown  # template 0.05 +- 0.015
    assert (drawdown >= low).sum() <= 2, drawdown  # at most a momentary spike where one side of the book emptied
    assert within_tolerance(probe, rows).mean() < 0.8


def test_the_cascade_probe_without_its_jump_falls_short_on_its_stored_validation():
    probe, library = load_episode(CASCADE), load_episode("crash_2025_10_10_crypto_liquidations")
    assert "news" not in probe.spec.mechanism and probe.spec.template == library.spec.template
    assert set(probe.parameters()) == {"leverage.leverage", "leverage.position_lots", "mark.factor"}
    document = json.loads(probe.fitted_path.read_text())
    assert document["evaluations"] == 18 and document["validate_paths"] == 20
    # the measured shortfall: template drawdown 0.12 +- 0.03; the fit's 20 fresh paths average under 0.01
    assert document["share_within"] == 0.0 and document["validate_means"]["drawdown"] < 0.01
