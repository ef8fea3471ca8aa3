"""The demo's generator step, without real data (a zero-intelligence book stands in), trained then reloaded."""

from __future__ import annotations

import json

from scenarios.demo import generate
from scenarios.demo.generate import generate_step
from scenarios.demo.runner import Demo


def test_generate_step_trains_samples_scores_then_reloads(tmp_path, monkeypatch):
    monkeypatch.setattr(generate, "TRAIN_STEPS", 6)
    monkeypatch.setattr(generate, "SAMPLE_S", 10.0)
    monkeypatch.setattr(generate, "N_BOOT", 20)
    demo = Demo(tmp_path, seed=9)
    metrics = generate_step(demo, None)
    assert metrics["data"].startswith("no real data") and metrics["model"].startswith("trained 6 steps")
    applied = int(metrics["messages applied / rejected and resampled"].split(" / ")[0])
    assert applied > 0
    document = json.loads((tmp_path / "generate" / "score" / "scores.json").read_text())
    assert document["summary"]["l1"]["scores"] > 0 and "mean l1 [99% interval]" in metrics
    again = generate_step(demo, None)
    assert again["model"].startswith("loaded") and again["mean l1 [99% interval]"] == metrics["mean l1 [99% interval]"]
