"""The demo's generator step, without real data (a zero-intelligence book stands in), trained then reloaded."""

from __future__ import annotations

import json

import pytest

from generators.diffusion import DiffusionGenerator
from generators.rollout import RateGuard
from scenarios.demo import generate
from scenarios.demo.generate import generate_step
from scenarios.demo.runner import Demo
from simlab.errors import DataError
from simlab.store import list_groups, load_store


def test_generate_step_trains_samples_scores_then_reloads(tmp_path, monkeypatch):
    monkeypatch.setattr(generate, "TRAIN_STEPS", 6)
    monkeypatch.setattr(generate, "SAMPLE_S", 10.0)
    monkeypatch.setattr(generate, "N_BOOT", 20)
    monkeypatch.setattr(generate, "STRESS_PATHS", 1)  # the stress counts' machinery on 1 short path
    monkeypatch.setattr(generate, "PARTICLES", 2)
    monkeypatch.setattr(generate, "STRESS_S", 5.0)
    demo = Demo(tmp_path, seed=9)
    guards, sample = [], DiffusionGenerator.sample

    def spy(self, *args, **kwargs):  # the guard each sampling of the step asks for
        guards.append(kwargs.get("runaway"))
        return sample(self, *args, **kwargs)

    monkeypatch.setattr(DiffusionGenerator, "sample", spy)
    metrics = generate_step(demo, None)
    monkeypatch.setattr(DiffusionGenerator, "sample", sample)
    stress = {key: value for key, value in metrics.items() if key.startswith("thin book asked")}
    assert len(stress) == 2 and all(" of 1" in value for value in stress.values()), stress
    assert metrics["data"].startswith("no real data") and metrics["model"].startswith("trained 6 steps")
    assert metrics["sampling"] == "20 denoising (DDIM) steps per block of 4 messages (the tiny preset's default: 50)"
    applied = int(metrics["messages applied / rejected and resampled"].split(" / ")[0])
    assert applied > 0
    guard = metrics["runaway guard"]  # read from the training span (its busiest 60 s, twice): this path stays under it
    assert guard.startswith("more than ") and guard.endswith("this path: under it") and "2 x the training span" in guard
    document = json.loads((tmp_path / "generate" / "score" / "scores.json").read_text())
    bound = json.loads(document["provenance"]["config"])["runaway_guard"]  # the guard the path was sampled under
    assert guard.startswith(f"more than {bound['messages']} messages in 60 s") and bound["factor"] == 2.0
    assert guards[0] == RateGuard(bound["messages"], 60.0)  # the scored path (the stress paths: unguarded)
    assert document["summary"]["l1"]["scores"] > 0 and "mean l1 [99% interval]" in metrics
    fills = metrics["trade fills"]  # fills per marketable order, the path's and the held-out span's, counted alike
    assert fills.startswith("this path ") and "; the held-out span " in fills and "fills per order" in fills
    scores = tmp_path / "generate" / "score" / "scores.zarr"
    first = {group: load_store(scores, group).load() for group in list_groups(scores)}
    again = generate_step(demo, None)
    assert again["model"].startswith("loaded") and again["mean l1 [99% interval]"] == metrics["mean l1 [99% interval]"]
    # a model an earlier simlab stored there (encoding version 3: a sweep fill's queue not yet read from its run)
    # cannot be loaded; the demo retrains it and says so, instead of failing on a second run in an old folder
    config = tmp_path / "generate" / "diffusion-tiny.model" / "config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "encoding_version": 3}))
    with pytest.raises(DataError, match="encoding_version must be 4 .* got 3; retrain the model"):
        DiffusionGenerator.load(config.parent)
    monkeypatch.setattr(generate, "_stress_counts", lambda generator, seed: {})  # shown above; not needed again
    fresh = generate_step(demo, None)
    assert fresh["model"].startswith("trained 6 steps") and "retrained" in fresh["model"]
    assert "encoding_version 3, this simlab 4" in fresh["model"]
    assert fresh["mean l1 [99% interval]"] == metrics["mean l1 [99% interval]"]  # the same seed, the same model
    for group, stored in first.items():  # and the same bytes in the score store (the demo's reproducibility)
        assert load_store(scores, group).identical(stored), group
    assert json.loads(config.read_text())["encoding_version"] == 4 and DiffusionGenerator.load(config.parent)
