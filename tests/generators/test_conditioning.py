"""The diffusion model follows its regime condition: on a planted flow whose size column is set by the volatility
quintile alone, a short seeded training learns it (the validation loss with the true regime is well below the loss
with the null one), and DDIM sampling at guidance 1 gives the planted size of the asked quintile, without
overshoot. Also: the regime-balanced sampler makes every (past, asked) quintile pair equally likely."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from generators import encoding as enc
from generators.config import DiffusionConfig
from generators.diffusion import DiffusionGenerator
from generators.networks import Denoiser
from generators.schedule import NoiseSchedule
from generators.training import (
    TrainState,
    column_weights,
    loss_of,
    transition_weights,
)
from simlab.errors import DataError, ParameterError
from tests.generators.conftest import train_denoiser

CONFIG = DiffusionConfig(
    history=8, block=1, width=32, layers=2, heads=4, diffusion_steps=50, sampling_steps=10, batch_size=64,
    max_steps=200, eval_every=100, patience=10, validation_blocks=256, learning_rate=3e-3, adaptive_norm=1,
    balance=0.5, sampling_eta=0.0,  # deterministic chains: the guidance bounds below were set for them
)  # fmt: skip
PLANTED = {0: -1.0, 4: 1.0}  # normalised size of every message in volatility quintiles 1 and 5 (0 in the others)


def planted_flow(n: int, seed: int) -> enc.EncodedFlow:
    """Return a flow of Gaussian messages whose size column is set by an i.i.d. volatility quintile per message."""
    rng = np.random.default_rng(seed)
    regime = rng.integers(0, enc.N_QUINTILES, (n, len(enc.REGIMES)))
    vectors = rng.normal(0.0, 0.5, (n, enc.MESSAGE_WIDTH)).astype(np.float32)
    size = np.select([regime[:, 0] == q for q in PLANTED], list(PLANTED.values()), 0.0)
    vectors[:, enc.M_SIZE] = size + rng.normal(0.0, 0.1, n)
    table = enc.MessageTable(np.zeros((n, 6), np.int64), np.zeros((n, 2), np.int64), 0, np.zeros(n, np.int64))
    book = rng.normal(0.0, 1.0, (n, enc.BOOK_WIDTH)).astype(np.float32)
    return enc.EncodedFlow(table, vectors, book, regime, regime.astype(np.float64))


def train(network: type[Denoiser]) -> tuple[Denoiser, TrainState]:
    return train_denoiser(network, CONFIG, [planted_flow(n, s) for n, s in ((4000, 1), (800, 2))], "planted")


@pytest.fixture(scope="module")
def trained():
    return train(Denoiser)


def sampled_size(model: Denoiser, quintile: int | None, guidance: float) -> float:
    """Return the mean normalised size of 256 blocks sampled from the planted context under volatility ``quintile``."""
    generator = DiffusionGenerator(CONFIG, device="cpu")
    low, high = np.full(enc.MESSAGE_WIDTH, -3.0), np.full(enc.MESSAGE_WIDTH, 3.0)
    generator.model_ = model
    generator.encoding_ = enc.Encoding(*([(0.0,) * enc.MESSAGE_WIDTH] * 2), *([(0.0,) * enc.BOOK_WIDTH] * 2),
                                       ((0.0,) * 4,) * 4, tuple(low), tuple(high), CONFIG.history)  # fmt: skip
    flow = planted_flow(256 + CONFIG.history, 3)
    history = np.stack([flow.vectors[i : i + CONFIG.history] for i in range(256)])
    condition = torch.as_tensor(enc.regime_condition(None if quintile is None else {"volatility": quintile}))
    blocks = generator._blocks(
        history, flow.book[CONFIG.history :], condition, guidance, torch.Generator().manual_seed(5)
    )
    return float(blocks[:, 0, enc.M_SIZE].mean())  # the first message of a block is the one its regime sets


def test_a_short_training_learns_the_condition(trained):
    _, state = trained
    gains = [gain for _, gain in state.condition_gain]
    assert [step for step, _ in state.condition_gain] == [100, 200]
    # the size column holds 1 of 10 columns' loss; knowing the quintile removes most of its error (a denoiser whose
    # regime pathway is cut has a gain of exactly 0)
    assert gains[-1] > 0.02


def test_sampling_at_guidance_one_gives_the_asked_quintile_without_overshoot(trained):
    model, _ = trained
    top, bottom, free = (sampled_size(model, q, 1.0) for q in (5, 1, None))
    assert top == pytest.approx(PLANTED[4], abs=0.25) and bottom == pytest.approx(PLANTED[0], abs=0.25)
    assert abs(free) < 0.3  # the null condition gives the mixture's mean (0.0)
    # guidance 2 pushes the same way, still not far past the planted value
    assert PLANTED[4] - 0.25 < sampled_size(model, 5, 2.0) < 1.6 * PLANTED[4]


def test_the_balanced_sampler_makes_every_past_and_asked_pair_equally_likely():
    window = 16
    rng = np.random.default_rng(0)
    # a persistent regime: the past quintile mostly predicts the asked one, as on real books
    regime = np.repeat(rng.integers(0, enc.N_QUINTILES, (120, len(enc.REGIMES))), 25, axis=0)
    weights = transition_weights(regime, window)
    assert np.all(weights[:window] == 0) and np.all(weights[window:] > 0)
    for j in range(len(enc.REGIMES)):
        pairs = regime[:-window, j] * enc.N_QUINTILES + regime[window:, j]
        seen = np.unique(pairs)
        assert np.mean(pairs // enc.N_QUINTILES == pairs % enc.N_QUINTILES) > 0.3  # uniform draws: mostly agree
        # one variable alone: its pairs weigh the same, slow twin (a loop over pairs)
        alone = transition_weights(regime[:, j : j + 1], window)[window:]
        totals = [alone[pairs == p].sum() for p in seen]
        np.testing.assert_allclose(totals, 1.0)
    with pytest.raises(DataError, match="needs more than 16 messages; got 10"):
        transition_weights(regime[:10], window)


def test_the_adaptive_denoiser_trains_to_the_same_weights_from_one_seed(trained):
    model, state = trained
    again, again_state = train(Denoiser)
    assert state.condition_gain == again_state.condition_gain
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values(), strict=True))
    assert any(".modulation." in name for name in model.state_dict())  # the adaLN layout, not version 1's


def test_bad_conditioning_options_are_refused():
    with pytest.raises(ParameterError, match="`adaptive_norm` of DiffusionConfig must be 0 or 1; got 2"):
        DiffusionConfig(adaptive_norm=2)
    with pytest.raises(ParameterError, match=r"`balance` of DiffusionConfig must be in \[0, 1\]; got 1.5"):
        DiffusionConfig(balance=1.5)
    with pytest.raises(ParameterError, match="`time_weight` of DiffusionConfig must be > 0; got 0.0"):
        DiffusionConfig(time_weight=0.0)


def test_the_time_weight_scales_the_inter_arrival_column_of_the_loss():
    schedule = NoiseSchedule(10)
    target = torch.zeros((2, 1, enc.MESSAGE_WIDTH))
    batch = (
        target,
        torch.zeros((2, 1, enc.MESSAGE_WIDTH)),
        torch.zeros((2, enc.BOOK_WIDTH)),
        torch.zeros((2, 4), dtype=torch.long),
    )
    steps = torch.tensor([0, 5])

    def zero(noisy, *_):  # a denoiser that predicts no noise: the loss is the weighted mean of noise ** 2
        return torch.zeros_like(noisy)

    losses = {}
    for weight in (1.0, 4.0):
        w = column_weights(DiffusionConfig(time_weight=weight), torch.device("cpu"))
        assert float(w.mean()) == pytest.approx(1.0)
        for column in (enc.M_DT, enc.M_SIZE):
            noise = torch.zeros_like(target)
            noise[..., column] = 1.0
            losses[weight, column] = float(loss_of(zero, schedule, batch, steps, noise, w))
    # written out: weights 4 and 1 (x 9) scaled to mean 1 are 40 / 13 and 10 / 13; one unit error in one of 10 columns
    assert losses[4.0, enc.M_DT] == pytest.approx(40 / 13 / 10) and losses[4.0, enc.M_SIZE] == pytest.approx(
        10 / 13 / 10
    )
    assert losses[1.0, enc.M_DT] == pytest.approx(0.1) == losses[1.0, enc.M_SIZE]
