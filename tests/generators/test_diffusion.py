"""The diffusion generator on a small zero-intelligence flow: seeded determinism, resume, checkpoints refused whole,
and rollouts whose books are the matching engine's (replayed through match_events, they come back equal)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from generators.checkpoint import WEIGHTS_FILE
from generators.config import DiffusionConfig, preset
from generators.diffusion import DiffusionGenerator
from simlab.errors import DataError, ParameterError
from simlab.schema import BOOK_FIELDS, EventKind
from tests.generators.conftest import check_replayed, check_resampled, check_seeded_fit
from tests.generators.conftest import equal_weights as _equal
from tests.generators.conftest import weights as _weights

NEW_OPTIONS = (
    "adaptive_norm", "balance", "time_weight", "condition_window", "history_dropout", "ema_decay", "book_noise",
    "wide_spread_ticks", "wide_spread_weight",
)  # fmt: skip
SMALL = DiffusionConfig(
    history=8, block=4, width=16, layers=1, heads=2, diffusion_steps=20, sampling_steps=4, batch_size=32,
    max_steps=20, eval_every=10, validation_blocks=64,
)  # fmt: skip


@pytest.fixture(scope="module")
def fitted(zi_spans):
    return DiffusionGenerator(SMALL, device="cpu").fit(zi_spans, seed=3)


def test_one_seed_gives_the_same_weights_and_another_does_not(zi_spans, fitted):
    check_seeded_fit(DiffusionGenerator, SMALL, zi_spans, fitted)


def test_training_resumes_from_a_checkpoint_to_the_same_weights(zi_spans, fitted, tmp_path):
    seen = []
    short = DiffusionConfig(**{**SMALL.to_dict(), "max_steps": 10})
    DiffusionGenerator(short, device="cpu").fit(
        zi_spans, seed=3, checkpoint=tmp_path / "run", progress=lambda *a: seen.append(a)
    )
    resumed = DiffusionGenerator(SMALL, device="cpu").fit(
        zi_spans, seed=3, checkpoint=tmp_path / "run", resume=True, progress=lambda *a: seen.append(a)
    )
    assert _equal(_weights(fitted), _weights(resumed))
    assert seen[-1][0] == 20 and resumed.training_.losses == fitted.training_.losses
    # a training checkpoint written before the options added since (their defaults: the old training) resumes too
    meta = json.loads((tmp_path / "run" / "config.json").read_text())
    meta["config"] = {k: v for k, v in meta["config"].items() if k not in NEW_OPTIONS}
    (tmp_path / "run" / "config.json").write_text(json.dumps(meta))
    older = DiffusionGenerator(SMALL, device="cpu").fit(zi_spans, seed=3, checkpoint=tmp_path / "run", resume=True)
    assert _equal(_weights(fitted), _weights(older))
    with pytest.raises(ParameterError, match="cannot resume: it was trained with another seed"):
        DiffusionGenerator(SMALL, device="cpu").fit(zi_spans, seed=5, checkpoint=tmp_path / "run", resume=True)


def test_rollout_books_are_the_matching_engines(fitted):
    paths = fitted.sample(3, 20.0, generator=11)
    for path in paths:
        events, books = path["events"], path["books"]
        attrs = events.attrs
        assert attrs["applied"] > 0 and events.sizes["event"] >= attrs["initial_orders"] + attrs["applied"]
        start = int(events["ts_ns"].values[0])
        assert int(events["ts_ns"].values[-1]) <= start + 20 * 10**9
        check_replayed(events, books)
        message = events["message"].values
        np.testing.assert_array_equal(np.unique(message[message >= 0]), np.arange(attrs["applied"]))
        kinds = set(np.unique(events["kind"].values))
        assert kinds <= {int(k) for k in (EventKind.ADD, EventKind.CANCEL, EventKind.DELETE, EventKind.TRADE,
                                          EventKind.TRADE_HIDDEN)}  # fmt: skip
    check_resampled(fitted, paths)


def test_messages_that_cannot_apply_are_counted_and_resampled(fitted):
    from generators import encoding as enc
    from generators.rollout import BookPath

    path = BookPath(fitted.context_, 10, np.random.default_rng(0), fitted.context_["ts_ns"] + 10**9)
    spread = path.last[1] - path.last[0]
    assert path.apply(np.array([1, enc.TYPE_CANCEL, 1, 0, 1, 0])) == "no_level"
    assert path.apply(np.array([1, enc.TYPE_ADD, 1, -spread, 1, 0])) == "crossing_add"
    assert path.apply(np.array([1, enc.TYPE_ADD, 1, 0, 0, 0])) == "bad_value"
    assert path.apply(np.array([-1, enc.TYPE_ADD, 1, 0, 1, 0])) == "bad_value"
    before = len(path.events)
    block = np.array([[5, enc.TYPE_ADD, 1, 1, 2, 0], [5, enc.TYPE_DELETE, -1, 0, 1, 0], [5, enc.TYPE_ADD, 1, 1, 2, 0],
                      [5, enc.TYPE_ADD, 1, 1, 2, 0]])  # fmt: skip
    path.apply_block(block)
    counts = path.counts.to_dict()
    assert counts["applied"] == 1 and counts["rejected_no_level"] == 1 and counts["discarded"] == 2
    assert len(path.events) == before + 1
    path.apply(np.array([2 * 10**9, enc.TYPE_ADD, 1, 1, 2, 0]))  # past the horizon: the path is done
    assert path.done and counts["applied"] == path.counts.applied


def test_checkpoints_round_trip_and_are_refused_whole(fitted, tmp_path):
    path = fitted.save(tmp_path / "model")
    loaded = DiffusionGenerator.load(path)
    assert _equal(_weights(fitted), _weights(loaded)) and loaded.encoding_ == fitted.encoding_
    a, b = fitted.sample(1, 5.0, generator=2), loaded.sample(1, 5.0, generator=2)
    assert a[0]["events"].equals(b[0]["events"])
    config = json.loads((path / "config.json").read_text())
    assert config["config"] == SMALL.to_dict() and config["family"] == "diffusion"
    assert config["network_version"] == 1
    # a checkpoint written before the adaLN, balance and time-weight options existed loads as it was trained
    older = {**config, "config": {k: v for k, v in config["config"].items() if k not in NEW_OPTIONS}}
    (path / "config.json").write_text(json.dumps({k: v for k, v in older.items() if k != "network_version"}))
    assert _equal(_weights(fitted), _weights(DiffusionGenerator.load(path)))
    refused = (("simlab_version", "0.0.0-other"), ("encoding_version", 99), ("family", "gan"))
    # 1: the log-scale layout before the quantile transform; 2: a trade's size in lots, not its share of the queue;
    # 3: a sweep fill at a price its books do not show counted a queue of 0 lots
    for key, value in refused + (("encoding_version", 1), ("encoding_version", 2), ("encoding_version", 3)):
        (path / "config.json").write_text(json.dumps({**config, key: value}))
        with pytest.raises(DataError, match=f"{key} must be .* got {value!r}; retrain the model"):
            DiffusionGenerator.load(path)
    (path / "config.json").write_text(json.dumps({**config, "network_version": 2}))
    with pytest.raises(DataError, match="network_version must be 1 .* got 2; retrain the model"):
        DiffusionGenerator.load(path)
    (path / "config.json").write_text(json.dumps(config))
    weights = bytearray((path / WEIGHTS_FILE).read_bytes())
    weights[len(weights) // 2] ^= 0xFF
    (path / WEIGHTS_FILE).write_bytes(bytes(weights))
    with pytest.raises(DataError, match="weights.pt is corrupted"):
        DiffusionGenerator.load(path)
    (path / "config.json").write_text("{not json")
    with pytest.raises(DataError, match="config.json is corrupted"):
        DiffusionGenerator.load(path)
    with pytest.raises(DataError, match="expected a folder with config.json"):
        DiffusionGenerator.load(tmp_path / "nothing")


def test_bad_input_is_refused_with_our_sentence(zi_spans, fitted):
    no_books = {name: {"events": span["events"]} for name, span in zi_spans.items()}
    with pytest.raises(DataError, match="the encoding needs books"):
        DiffusionGenerator(SMALL, device="cpu").fit(no_books, seed=1)
    with pytest.raises(DataError, match="expected the spans 'train' and 'validation'"):
        DiffusionGenerator(SMALL, device="cpu").fit({"train": zi_spans["train"]}, seed=1)
    few = {
        name: {k: v.isel({v["ts_ns"].dims[0]: slice(0, 6)}) for k, v in span.items()} for name, span in zi_spans.items()
    }
    with pytest.raises(DataError, match="more messages than the history length 8; got 5"):
        DiffusionGenerator(SMALL, device="cpu").fit(few, seed=1)
    with pytest.raises(ParameterError, match="unknown regime 'spread'"):
        fitted.sample(1, 1.0, generator=1, regime={"spread": 2})
    with pytest.raises(ParameterError, match="quintile of regime 'depth' must be an int in 1-5; got 0"):
        fitted.sample(1, 1.0, generator=1, regime={"depth": 0})
    with pytest.raises(ParameterError, match="unknown generator preset 'huge'"):
        preset("huge")
    with pytest.raises(ParameterError, match="`width` 30 of DiffusionConfig must be a multiple of `heads` 4"):
        DiffusionConfig(width=30)
    with pytest.raises(ParameterError, match="`ema_decay` of DiffusionConfig must be in \\[0, 1\\); got 1.0"):
        DiffusionConfig(ema_decay=1.0)


def test_the_kept_weights_are_the_moving_average_of_the_trained_ones(zi_spans, fitted, tmp_path):
    from generators.checkpoint import load_checkpoint
    from generators.training import update_average

    average, model = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    a, b = (torch.tensor([[1.0, 2.0], [3.0, 4.0]]), torch.tensor([[5.0, 6.0], [7.0, 8.0]]))
    with torch.no_grad():
        average.weight.copy_(a), model.weight.copy_(b)
    update_average(average, model, 0.9, 1000)  # past the warm-up: d = 0.9
    torch.testing.assert_close(average.weight, 0.9 * a + 0.1 * b)
    update_average(average, model, 0.9, 0)  # the first step: d = 1/10, mostly the model
    torch.testing.assert_close(average.weight, 0.1 * (0.9 * a + 0.1 * b) + 0.9 * b)
    # the run keeps the average (the checkpoint holds it beside the raw weights), not the last raw weights
    again = DiffusionGenerator(SMALL, device="cpu").fit(zi_spans, seed=3, checkpoint=tmp_path / "ema")
    _, tensors = load_checkpoint(tmp_path / "ema", "diffusion")
    assert _equal(_weights(again), _weights(fitted)) and again.training_.best_step == 20
    assert _equal(_weights(again), dict(tensors["average"])) and not _equal(_weights(again), dict(tensors["current"]))
    raw = DiffusionGenerator(DiffusionConfig(**{**SMALL.to_dict(), "ema_decay": 0.0}), device="cpu")
    raw.fit(zi_spans, seed=3, checkpoint=tmp_path / "raw")
    _, tensors = load_checkpoint(tmp_path / "raw", "diffusion")
    assert "average" not in tensors and raw.training_.best_step == 20
    assert _equal(_weights(raw), dict(tensors["current"])) and not _equal(_weights(raw), _weights(fitted))


def test_guided_sampling_under_a_regime_runs_and_is_seeded(fitted):
    a = fitted.sample(2, 5.0, generator=4, regime={"volatility": 5, "depth": 1}, guidance=2.0)
    b = fitted.sample(2, 5.0, generator=4, regime={"volatility": 5, "depth": 1}, guidance=2.0)
    assert all(x["events"].equals(y["events"]) for x, y in zip(a, b, strict=True))
    assert a[0]["events"].attrs["regime"] == "{'volatility': 5, 'depth': 1}" and a[0]["events"].attrs["guidance"] == 2.0


def test_counterfactual_sweep_measures_the_start_and_the_end_of_each_path(fitted):
    from generators.evaluation import counterfactual, counterfactual_sweep, path_regime

    regimes, kwargs = [{"volatility": 5}, {"depth": 1}], {"n_paths": 2, "duration": 8.0, "seed": 5}
    rows = counterfactual_sweep(fitted, regimes, [1.0, 2.0], window=16, **kwargs)
    assert [(r["regime"], r["guidance"]) for r in rows] == [(g, w) for g in regimes for w in (1.0, 2.0)]
    single = counterfactual(fitted, {"volatility": 5}, guidance=1.0, **kwargs)
    paths = fitted.sample(2, 8.0, generator=5, regime={"volatility": 5}, guidance=1.0)
    assert single["conditioned median volatility"] == np.median([path_regime(p)[0] for p in paths])
    assert rows[0]["start: conditioned median volatility"] == np.median([path_regime(p, 16)[0] for p in paths])
    assert rows[0]["end: conditioned median volatility"] == np.median([path_regime(p, 16, at="end")[0] for p in paths])
    assert rows[0]["end: unconditioned median volatility"] == rows[1]["end: unconditioned median volatility"]
    # the end of a path, measured by hand: the mid's realised volatility and mean depth over its last window rows
    path = fitted.sample(1, 8.0, generator=5)[0]
    books = [path["books"][name].values[-17:] for name in BOOK_FIELDS]
    mid = (books[0][:, 0] + books[2][:, 0]) / 2.0
    depth = books[1][:, :10].sum(axis=1) + books[3][:, :10].sum(axis=1)
    end = path_regime(path, 16, at="end")
    assert end[0] == pytest.approx(np.sqrt(np.sum(np.diff(mid) ** 2)))
    assert end[2] == pytest.approx(depth.mean())
    with pytest.raises(DataError, match="too short to measure its regime over its last"):
        path_regime(path, at="end")
    with pytest.raises(ParameterError, match="`at` of path_regime"):
        path_regime(path, at="middle")


def test_a_ddim_step_adds_the_posterior_noise_scaled_by_eta():
    from generators.schedule import NoiseSchedule

    schedule = NoiseSchedule(100)
    bounds = (torch.tensor(-10.0), torch.tensor(10.0))
    sample, noise = torch.randn(20_000, generator=torch.Generator().manual_seed(0)), torch.zeros(20_000)
    a, a_prev = (schedule.alphas_cumprod[t].item() for t in (60, 30))
    deterministic = schedule.ddim_step(sample, noise, 60, 30, bounds)
    torch.testing.assert_close(deterministic, np.sqrt(a_prev / a) * sample)  # eta 0: the DDIM map, no draw
    for eta in (0.5, 1.0):
        step = schedule.ddim_step(sample, noise, 60, 30, bounds, eta, torch.Generator().manual_seed(1))
        again = schedule.ddim_step(sample, noise, 60, 30, bounds, eta, torch.Generator().manual_seed(1))
        assert torch.equal(step, again)  # seeded
        sigma = eta * np.sqrt((1 - a_prev) / (1 - a) * (1 - a / a_prev))
        assert float((step - deterministic).std()) == pytest.approx(sigma, rel=0.03)
    last = schedule.ddim_step(sample, noise, 0, -1, bounds, 1.0, torch.Generator().manual_seed(1))
    torch.testing.assert_close(last, torch.clamp(sample / np.sqrt(schedule.alphas_cumprod[0].item()), -10, 10))
    with pytest.raises(ParameterError, match="sampling_eta"):
        DiffusionConfig(sampling_eta=1.5)
