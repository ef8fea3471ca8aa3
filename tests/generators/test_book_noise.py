"""Noise on the book state of training blocks (``book_noise``, the DART idea; docs/generators_truth_context.md,
session 21).

A batch drawn with ``book_noise`` = s is the batch drawn without it (the same draws, in the same order) whose
normalised book state then gets ``s`` times the next standard normals of the training generator, on the columns
that vary on the span only; with 0 nothing more is drawn (the first test checks the generator's state after the
draw against a written-out copy of the old draw), so the weights are those of before. The validation loss is
measured on clean blocks, a seed gives the same weights every time, and a bad value gets our sentence.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from generators import encoding as enc
from generators.config import DiffusionConfig
from generators.networks import Denoiser
from generators.schedule import NoiseSchedule
from generators.training import BlockData, _draw, _validate, column_weights, drop_conditions, torch_generator
from simlab.errors import ParameterError
from tests.generators.conftest import equal_weights, train_denoiser
from tests.generators.test_diffusion import SMALL

CONSTANT = 2 * enc.DEPTH_LEVELS + 1  # the both-sides-quoted flag: constant (0 once normalised) in the flows below
CONFIG = replace(SMALL, balance=0.25, batch_size=64)


def flow(n: int, seed: int) -> enc.EncodedFlow:
    """Return a flow of Gaussian messages and book states, the book's quoted-flag column constant at 0."""
    rng = np.random.default_rng(seed)
    regime = rng.integers(0, enc.N_QUINTILES, (n, len(enc.REGIMES)))
    vectors = rng.normal(0.0, 0.5, (n, enc.MESSAGE_WIDTH)).astype(np.float32)
    table = enc.MessageTable(np.zeros((n, 6), np.int64), np.zeros((n, 2), np.int64), 0, np.zeros(n, np.int64))
    book = rng.normal(0.0, 1.0, (n, enc.BOOK_WIDTH)).astype(np.float32)
    book[:, CONSTANT] = 0.0
    return enc.EncodedFlow(table, vectors, book, regime, regime.astype(np.float64))


def test_a_noisy_batch_is_the_clean_batch_plus_the_next_normals_on_the_varying_book_columns():
    data = BlockData(flow(600, 1), CONFIG, torch.device("cpu"), "noise")
    assert data.book_varies.tolist() == [float(j != CONSTANT) for j in range(enc.BOOK_WIDTH)]
    # the draws of before, written out (a twin of _draw without the option): uniform blocks, dropped
    # conditions, then the balanced ones
    twin = torch.Generator().manual_seed(9)
    balanced = int(round(CONFIG.balance * CONFIG.batch_size))
    clean = list(data.batch(data.draw(CONFIG.batch_size - balanced, twin)))
    clean[3] = drop_conditions(clean[3], CONFIG.condition_dropout, twin)
    extra = data.batch(data.draw_balanced(balanced, twin))
    clean = [torch.cat([a, b]) for a, b in zip(clean, extra, strict=True)]
    # 0: the same batch and nothing more drawn (the generator where the twin left it)
    zero = torch.Generator().manual_seed(9)
    batch = _draw(data, CONFIG, zero)
    assert all(torch.equal(a, b) for a, b in zip(batch, clean, strict=True))
    assert torch.equal(zero.get_state(), twin.get_state())
    # s > 0: the same messages and regimes; the book moved by s times the generator's next normals
    noisy = torch.Generator().manual_seed(9)
    batch = _draw(data, replace(CONFIG, book_noise=0.3), noisy)
    assert all(torch.equal(batch[k], clean[k]) for k in (0, 1, 3))
    normals = torch.randn(clean[2].shape, generator=twin)
    torch.testing.assert_close(batch[2] - clean[2], 0.3 * normals * data.book_varies, rtol=0, atol=1e-6)
    assert torch.equal(batch[2][:, CONSTANT], clean[2][:, CONSTANT])
    assert torch.equal(noisy.get_state(), twin.get_state())
    assert abs(float((batch[2] - clean[2])[:, data.book_varies > 0].std()) - 0.3) < 0.02


def test_noise_is_seeded_changes_the_weights_and_leaves_the_validation_blocks_clean():
    flows = [flow(n, s) for n, s in ((1500, 2), (400, 3))]
    noisy = replace(CONFIG, book_noise=0.5)
    model, state = train_denoiser(Denoiser, noisy, flows, "noise")
    again, _ = train_denoiser(Denoiser, noisy, flows, "noise")
    clean, _ = train_denoiser(Denoiser, CONFIG, flows, "noise")
    weights = [{k: v.clone() for k, v in m.state_dict().items()} for m in (model, again, clean)]
    assert equal_weights(weights[0], weights[1]) and not equal_weights(weights[0], weights[2])
    # the last validation loss, recomputed on the fixed blocks drawn by hand without noise (the loop's validation
    # generator: seed 12's third child), is the recorded one
    schedule, cpu = NoiseSchedule(noisy.diffusion_steps), torch.device("cpu")
    validation = BlockData(flows[1], noisy, cpu, "noise")
    generator = torch_generator(np.random.SeedSequence(12).spawn(3)[2], cpu)
    count = validation.starts.shape[0]
    size = min(noisy.validation_blocks, count)
    blocks = validation.batch(validation.starts[torch.randperm(count, generator=generator)[:size]])
    steps = torch.randint(0, schedule.steps, (size,), generator=generator)
    fixed = (blocks, steps, torch.randn(blocks[0].shape, generator=generator))
    value, _ = _validate(model, schedule, fixed, column_weights(noisy, cpu))
    assert value == pytest.approx(state.losses[-1][2], rel=1e-6)


@pytest.mark.parametrize("value", [-0.1, float("nan"), float("inf")])
def test_a_negative_or_non_finite_book_noise_is_refused_with_our_sentence(value):
    with pytest.raises(ParameterError, match=r"`book_noise` of DiffusionConfig must be a finite number >= 0 .* got"):
        DiffusionConfig(book_noise=value)
    assert DiffusionConfig().book_noise == 0.0
