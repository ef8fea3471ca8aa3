"""Thinning behind the best in the rollout (``thin_rate``): the kernels give the twin's bytes, only the flow's
orders behind their side's best are removed, each survives a gap with probability exp(-rate gap), the paths replay
to their books, and the rate is recorded and checked."""

from __future__ import annotations

import math

import numpy as np
import pytest

from generators import encoding as enc
from generators.gan import GANGenerator
from generators.rollout import MESSAGE_THINNED, rollout
from generators.rollout_fast import rollout_fast
from scenarios.generate.ground_truth import kind_shares
from simlab.errors import ParameterError
from simlab.random import spawn
from simlab.schema import EventKind
from tests.generators.conftest import check_replayed
from tests.generators.conftest import same_paths as _same
from tests.generators.test_gan import SMALL as GAN
from tests.generators.test_rollout_kernel import RandomBlocks, Script, _scripted_book


@pytest.fixture(scope="module")
def model(zi_spans):
    return GANGenerator(GAN, device="cpu").fit(zi_spans, seed=3)


def _random(function, model, seed, thin_rate):
    blocks = RandomBlocks(seed, 6)
    return function(blocks, model.encoding_, model.context_, n_paths=4, duration_ns=4 * 10**9, depth=12,
                    rngs=spawn(seed, 4), thin_rate=thin_rate)  # fmt: skip


def _thinned_rows(path) -> np.ndarray:
    return np.flatnonzero(np.asarray(path.events)[:, 6] == MESSAGE_THINNED)


@pytest.mark.parametrize("seed", [3, 4])
def test_the_kernels_thin_as_the_twin_does_and_only_the_flows_orders_behind_the_best(model, seed):
    attrs = {**model.context_["attrs"], "generator": "random"}
    twin, fast = (_random(f, model, seed, 25.0) for f in (rollout, rollout_fast))
    datasets = [p.datasets(attrs, "t") for p in fast]
    _same([p.datasets(attrs, "t") for p in twin], datasets)
    assert sum(p.counts.thinned for p in fast) > 10
    for path, data in zip(fast, datasets, strict=True):
        rows = _thinned_rows(path)
        assert rows.size == path.counts.thinned == data["events"].attrs["thinned"]
        ev, bk = path.events, path.books
        assert (ev[rows, 1] == int(EventKind.DELETE)).all()
        assert (ev[rows, 5] > path.initial_orders).all()  # never an initial order (ids 1..initial_orders)
        before = bk[rows - 1]  # the book before each removal: the order rested behind its side's best
        best = np.where(ev[rows, 2] == 1, before[:, 0, 0], before[:, 2, 0])
        assert (ev[rows, 2] * (best - ev[rows, 3]) > 0).all()
        assert (bk[rows][:, :, 0] == before[:, :, 0]).all()  # and the best is untouched
        check_replayed(data["events"], data["books"])
    plain = _random(rollout_fast, model, seed, 0.0)  # no rate: no draw, the bytes of a rollout without thinning
    unthinned = rollout_fast(RandomBlocks(seed, 6), model.encoding_, model.context_, n_paths=4,
                             duration_ns=4 * 10**9, depth=12, rngs=spawn(seed, 4))  # fmt: skip
    for a, b in zip(plain, unthinned, strict=True):
        assert a.events.tobytes() == b.events.tobytes() and a.counts == b.counts and a.counts.thinned == 0


def test_orders_left_behind_the_best_survive_a_gap_with_probability_exp_minus_rate_times_gap(model):
    # 300 one-lot bids join the best at 100, an ADD at 101 leaves them behind it, then hidden trades (no change to
    # the book) pass 8 gaps of 0.1 s at a rate of 1 per second: each survives with probability exp(-0.8). Before
    # each, an ADD through the ask is generated with the same gap and rejected: its gap is thinned once, not twice
    bids, rate, gap, steps, n = [100, 99, 98, 97, 96], 1.0, 10**8, 8, 300
    context = _scripted_book(model, bids)
    a, h = enc.TYPE_ADD, enc.TYPE_HIDDEN
    script = [(0, a, 1, 2, 1, 0)] * n + [(0, a, 1, 1, 1, 0)] + [(gap, a, 1, -1, 1, 0), (gap, h, 1, 0, 1, 0)] * steps
    survivors, runs = [], []
    for function in (rollout, rollout_fast):
        for seed in range(3):
            paths = function(Script(list(script)), model.encoding_, context, n_paths=1, duration_ns=10**9, depth=10,
                             rngs=spawn(seed, 1), thin_rate=rate)  # fmt: skip
            path = paths[0]
            rows = _thinned_rows(path)
            thinned = np.asarray(path.events)[rows]
            assert (thinned[:, 3] == 100).all()  # the level behind; never 101 (the best) nor the initial 99-96
            assert path.counts.applied == n + 1 + steps and path.counts.rejected["crossing_add"] == steps
            survivors.append(n - rows.size)
            runs.append(path.datasets({**context["attrs"], "generator": "script"}, "t"))
    _same(runs[:3], runs[3:])
    p = math.exp(-rate * steps * gap * 1e-9)
    total, kept = 3 * n, sum(survivors[:3])
    assert abs(kept / total - p) < 4 * math.sqrt(p * (1 - p) / total)  # 0.449, 4 sd = 0.036 (thinned twice: 0.202)


def test_a_sampled_path_records_its_thinning_and_a_bad_rate_is_refused(model):
    thinned = model.sample(3, 6.0, generator=5, stop_when_stuck=True, thin_rate=30.0)
    _same(model.sample(3, 6.0, generator=5, stop_when_stuck=True, thin_rate=30.0, twin=True), thinned)
    plain = model.sample(3, 6.0, generator=5, stop_when_stuck=True)
    assert thinned[0]["events"].attrs["thin_rate_per_s"] == 30.0 and plain[0]["events"].attrs["thin_rate_per_s"] == 0
    assert sum(p["events"].attrs["thinned"] for p in thinned) > 0 and plain[0]["events"].attrs["thinned"] == 0
    for path in thinned:  # the removals thinning made are no generated messages: the kind shares leave them out
        events = path["events"]
        generated = events.isel(event=np.flatnonzero(events["message"].values != MESSAGE_THINNED))
        assert kind_shares(events) == kind_shares(generated)
        assert kind_shares(events, fills=True) == kind_shares(generated, fills=True)
        kinds = events["kind"].values[int(events.attrs["initial_orders"]) :]
        messages = events["message"].values[int(events.attrs["initial_orders"]) :]
        deletes = int(((kinds == int(EventKind.DELETE)) & (messages >= 0)).sum())
        assert kind_shares(events)["DELETE"] * events.attrs["applied"] == pytest.approx(deletes)
    smc = dict(generator=5, regime={"volatility": 5}, particles=2, stop_when_stuck=True, thin_rate=30.0)
    _same(model.sample(2, 4.0, twin=True, **smc), model.sample(2, 4.0, **smc))
    for bad in (-1.0, float("nan"), float("inf"), True, "1"):
        with pytest.raises(ParameterError, match="sample: `thin_rate` must be a finite number of removals per order"):
            model.sample(1, 1.0, generator=5, thin_rate=bad)
