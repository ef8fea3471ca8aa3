"""Loss weights on training blocks met at wide spreads (``wide_spread_ticks`` / ``wide_spread_weight``;
docs/generators_amzn.md, session 25b).

A block whose conditioning book has a spread of at least ``wide_spread_ticks`` ticks weighs ``wide_spread_weight``
in the noise-prediction loss, every other block 1. The weights fall exactly on those blocks, drawing them takes
nothing from the training generator, the weighted loss is the closed form, a threshold no block reaches gives the
default's weights bit for bit through the weighted path, the off values give no weights at all, and a bad value
gets our sentence.
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
from generators.training import BlockData, _draw, block_weights, column_weights, loss_of
from simlab.errors import ParameterError
from tests.generators.conftest import equal_weights, train_denoiser
from tests.generators.test_diffusion import SMALL

CONFIG = replace(SMALL, balance=0.25, batch_size=64)
WIDE = replace(CONFIG, wide_spread_ticks=30, wide_spread_weight=10.0)


def flow(n: int, seed: int) -> enc.EncodedFlow:
    """Return a flow of Gaussian messages and book states whose bests give spreads of 1-59 ticks."""
    rng = np.random.default_rng(seed)
    regime = rng.integers(0, enc.N_QUINTILES, (n, len(enc.REGIMES)))
    vectors = rng.normal(0.0, 0.5, (n, enc.MESSAGE_WIDTH)).astype(np.float32)
    bid = rng.integers(1000, 1100, n)
    reference = np.stack([bid, bid + rng.integers(1, 60, n)], axis=1).astype(np.int64)
    table = enc.MessageTable(np.zeros((n, 6), np.int64), reference, 0, np.zeros(n, np.int64))
    book = rng.normal(0.0, 1.0, (n, enc.BOOK_WIDTH)).astype(np.float32)
    return enc.EncodedFlow(table, vectors, book, regime, regime.astype(np.float64))


def test_the_weights_fall_on_the_blocks_met_at_wide_spreads_and_the_loss_is_the_closed_form():
    data = BlockData(flow(600, 1), WIDE, torch.device("cpu"), "wide")
    spread = flow(600, 1).messages.reference @ np.array([-1, 1])
    # the batch of the default draw (nothing more drawn), its starts written out as the draw takes them
    plain, weighted, twin = (torch.Generator().manual_seed(9) for _ in range(3))
    batch = _draw(data, CONFIG, plain)
    same, blocks = _draw(data, WIDE, weighted, weighted=True)
    assert all(torch.equal(a, b) for a, b in zip(batch, same, strict=True))
    assert torch.equal(plain.get_state(), weighted.get_state())
    balanced = int(round(CONFIG.balance * CONFIG.batch_size))
    first = data.draw(CONFIG.batch_size - balanced, twin)
    torch.rand((first.shape[0], len(enc.REGIMES)), generator=twin), torch.rand((first.shape[0], 1), generator=twin)
    starts = torch.cat([first, data.draw_balanced(balanced, twin)]).numpy()
    expected = np.where(spread[starts] >= 30, 10.0, 1.0)
    assert blocks.dtype == torch.float32 and blocks.tolist() == expected.tolist()
    assert 0 < (expected == 10.0).sum() < expected.size  # both kinds of block in the batch
    # the loss: each block's column-weighted squared errors times its weight, averaged over every element
    model, schedule = Denoiser(CONFIG).eval(), NoiseSchedule(CONFIG.diffusion_steps)
    steps = torch.randint(0, schedule.steps, (len(starts),), generator=twin)
    noise = torch.randn(batch[0].shape, generator=twin)
    columns = column_weights(CONFIG, torch.device("cpu"))
    with torch.no_grad():
        squared = (model(schedule.add_noise(batch[0], noise, steps), steps, *batch[1:]) - noise) ** 2 * columns
        value = loss_of(model, schedule, batch, steps, noise, columns, blocks)
        torch.testing.assert_close(value, (squared.mean(dim=(1, 2)) * torch.as_tensor(expected)).mean().float())
        ones = loss_of(model, schedule, batch, steps, noise, columns, torch.ones(len(starts)))
        assert torch.equal(ones, loss_of(model, schedule, batch, steps, noise, columns))
    # off: 0 ticks or a weight of 1 give no weights
    for off in (CONFIG, replace(WIDE, wide_spread_ticks=0), replace(WIDE, wide_spread_weight=1.0)):
        assert block_weights(data, torch.as_tensor(starts), off) is None


def test_a_threshold_no_block_reaches_gives_the_default_weights_and_one_some_reach_does_not():
    flows = [flow(n, s) for n, s in ((1500, 2), (400, 3))]
    default, _ = train_denoiser(Denoiser, CONFIG, flows, "wide")
    unreached, _ = train_denoiser(Denoiser, replace(WIDE, wide_spread_ticks=60), flows, "wide")
    wide, _ = train_denoiser(Denoiser, WIDE, flows, "wide")
    weights = [{k: v.clone() for k, v in m.state_dict().items()} for m in (default, unreached, wide)]
    assert equal_weights(weights[0], weights[1]) and not equal_weights(weights[0], weights[2])


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("wide_spread_ticks", -1, "an integer >= 0"),
        ("wide_spread_ticks", 2.5, "an integer"),
        ("wide_spread_weight", 0.0, "a finite number > 0"),
        ("wide_spread_weight", float("nan"), "a finite number > 0"),
        ("wide_spread_weight", float("inf"), "a finite number > 0"),
    ],
)
def test_bad_wide_spread_values_are_refused_with_our_sentence(key, value, expected):
    with pytest.raises(ParameterError, match=rf"`{key}` of DiffusionConfig must be {expected}.*got"):
        DiffusionConfig(**{key: value})
    assert (DiffusionConfig().wide_spread_ticks, DiffusionConfig().wide_spread_weight) == (0, 1.0)


def test_the_weights_are_refused_beside_a_hidden_or_noisy_book_and_the_spec_sets_them():
    from pathlib import Path

    from generators.config import preset
    from generators.spec import load_spec

    for name in ("history_dropout", "book_noise"):
        with pytest.raises(ParameterError, match=rf"`wide_spread_ticks` .* needs `{name}` 0 .*; got {name} = 0.5"):
            DiffusionConfig(wide_spread_ticks=30, wide_spread_weight=10.0, **{name: 0.5})
    DiffusionConfig(wide_spread_ticks=30, wide_spread_weight=1.0, book_noise=0.5)  # off: nothing to refuse
    spec = load_spec(
        Path(__file__).resolve().parents[2] / "scenarios" / "library" / "generate_amzn_tiny_addshare_wide.toml"
    )
    config = preset(spec.preset, **spec.overrides)
    assert (config.wide_spread_ticks, config.wide_spread_weight, spec.add_price) == (30, 10.0, "share")
    assert DiffusionConfig.from_dict(config.to_dict()) == config  # the checkpoint's config round trip
