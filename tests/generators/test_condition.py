"""The regime condition has grip (generators.condition, ``history_dropout``, ``condition_window``).

On a synthetic two-regime flow whose regime persists, the history tells the regime, so a denoiser can route around
the label. Trained with the history hidden on half of the blocks, the tiny model must read the label: from the same
calm (or volatile) histories, the samples asked for the volatile regime have a larger size column than those asked
for the calm one (more than 0.45 of a planted gap of 2; without history dropout it was 0.07-0.11). Also: the
gain split by column sits on the planted column, hidden rows are whole rows, the relabelled windows are measured by
hand, and bad options get our sentence.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from generators import encoding as enc
from generators.condition import condition_gain_by_column, relabel
from generators.config import DiffusionConfig
from generators.diffusion import DiffusionGenerator
from generators.networks import Denoiser
from generators.schedule import NoiseSchedule
from generators.training import BlockData, TrainState, hide_history
from simlab.errors import ParameterError
from tests.generators.conftest import train_denoiser
from tests.generators.test_diffusion import SMALL

RUN = 48  # messages per regime run: the history of 8 messages almost always lies in the block's regime
LEVEL = {0: -1.0, 4: 1.0}  # the normalised size of a message in the calm (quintile 1) and volatile (5) regime
CONFIG = DiffusionConfig(
    history=8, block=2, width=32, layers=2, heads=4, diffusion_steps=50, sampling_steps=10, batch_size=64,
    max_steps=200, eval_every=100, patience=10, validation_blocks=256, learning_rate=3e-3, sampling_eta=0.0,
    history_dropout=0.5,
)  # fmt: skip


def two_regime_flow(n: int, seed: int) -> tuple[enc.EncodedFlow, np.ndarray]:
    """Return a flow whose regime (0 calm, 1 volatile) runs for RUN messages and sets the size column, and the
    regime of each message; the label is the regime of the block ahead (volatility quintile 1 or 5)."""
    rng = np.random.default_rng(seed)
    state = np.repeat(rng.integers(0, 2, n // RUN + 1), RUN)[:n]
    vectors = rng.normal(0.0, 0.5, (n, enc.MESSAGE_WIDTH)).astype(np.float32)
    vectors[:, enc.M_SIZE] = np.where(state == 1, LEVEL[4], LEVEL[0]) + rng.normal(0.0, 0.1, n)
    regime = rng.integers(0, enc.N_QUINTILES, (n, len(enc.REGIMES)))
    regime[:, 0] = np.where(state == 1, 4, 0)
    table = enc.MessageTable(np.zeros((n, 6), np.int64), np.zeros((n, 2), np.int64), 0, np.zeros(n, np.int64))
    book = rng.normal(0.0, 1.0, (n, enc.BOOK_WIDTH)).astype(np.float32)
    return enc.EncodedFlow(table, vectors, book, regime, regime.astype(np.float64)), state


@pytest.fixture(scope="module")
def trained() -> tuple[Denoiser, TrainState, BlockData]:
    flows = [two_regime_flow(n, s)[0] for n, s in ((3000, 1), (800, 2))]
    model, state = train_denoiser(Denoiser, CONFIG, flows, "two-regime")
    return model, state, BlockData(flows[1], CONFIG, torch.device("cpu"), "two-regime")


def sampled_size(model: Denoiser, in_state: int, quintile: int | None, guidance: float) -> float:
    """Return the mean size column of blocks sampled after 128 histories lying wholly in regime ``in_state``."""
    generator = DiffusionGenerator(CONFIG, device="cpu")
    generator.model_ = model
    low, high = np.full(enc.MESSAGE_WIDTH, -3.0), np.full(enc.MESSAGE_WIDTH, 3.0)
    generator.encoding_ = enc.Encoding(*([(0.0,) * enc.MESSAGE_WIDTH] * 2), *([(0.0,) * enc.BOOK_WIDTH] * 2),
                                       ((0.0,) * 4,) * 4, tuple(low), tuple(high), CONFIG.history)  # fmt: skip
    flow, state = two_regime_flow(3000, 3)
    k = CONFIG.history
    rows = [i for i in range(k, len(state)) if (state[i - k : i] == in_state).all()][:128]
    history = np.stack([flow.vectors[i - k : i] for i in rows])
    condition = torch.as_tensor(enc.regime_condition(None if quintile is None else {"volatility": quintile}))
    blocks = generator._blocks(history, flow.book[rows], condition, guidance, torch.Generator().manual_seed(5))
    return float(blocks[..., enc.M_SIZE].mean())


@pytest.mark.parametrize("in_state", [0, 1])
def test_the_label_moves_the_samples_against_the_history(trained, in_state):
    model = trained[0]
    top, bottom, free = (sampled_size(model, in_state, q, 1.0) for q in (5, 1, None))
    # the planted gap is 2; a model that copies the history gives about 0 (0.07-0.11 without history dropout)
    assert top - bottom > 0.45
    guided = {q: sampled_size(model, in_state, q, 2.0) for q in (5, 1)}
    assert guided[5] - guided[1] > top - bottom  # guidance 2 pushes the same way, further
    assert guided[5] > free > guided[1]  # each asked regime moves away from the unconditioned samples its way


def test_the_gain_split_by_column_sits_on_the_planted_column(trained):
    model, _, validation = trained
    split = condition_gain_by_column(model, NoiseSchedule(CONFIG.diffusion_steps), validation, blocks=512, seed=4)
    assert split["gain"].shape == (4, enc.MESSAGE_WIDTH) and split["steps"].tolist() == [0, 12, 25, 37]
    by_column = split["gain"].mean(axis=0)
    assert int(np.argmax(by_column)) == enc.M_SIZE and by_column[enc.M_SIZE] > 0.01
    # a denoiser that ignores the regime gains exactly 0
    blind = condition_gain_by_column(
        lambda noisy, *_: torch.zeros_like(noisy), NoiseSchedule(CONFIG.diffusion_steps), validation,
        blocks=64, seed=4,
    )  # fmt: skip
    assert np.all(blind["gain"] == 0.0)


def test_hidden_histories_are_whole_rows_with_the_asked_probability():
    history, book = torch.ones((4000, 8, enc.MESSAGE_WIDTH)), torch.ones((4000, enc.BOOK_WIDTH))
    hidden_history, hidden_book = hide_history(history, book, 0.3, torch.Generator().manual_seed(1))
    rows = hidden_history.flatten(1).eq(0).all(dim=1)
    assert torch.equal(rows, hidden_book.eq(0).all(dim=1))  # the book goes with its history
    assert torch.all(hidden_history[~rows] == 1) and abs(float(rows.float().mean()) - 0.3) < 0.03
    again = hide_history(history, book, 0.3, torch.Generator().manual_seed(1))[0]
    assert torch.equal(again, hidden_history)


def test_relabel_measures_the_window_ahead_in_the_training_quintiles(zi_spans):
    spans = {name: (zi_spans[name]["events"], zi_spans[name]["books"]) for name in ("train", "validation")}
    encoding = enc.fit_encoding(*spans["train"], history=8)
    flows = {name: enc.encode(*span, encoding) for name, span in spans.items()}
    window = 16
    out = relabel(flows, spans, window)
    train_vol = []
    for name in ("train", "validation"):
        books = spans[name][1]
        mid = (books["bid_price"].values[:, 0] + books["ask_price"].values[:, 0]) / 2.0
        by_hand = [np.sqrt(np.sum(np.diff(mid[i : i + window + 1]) ** 2)) for i in range(len(flows[name]))]
        np.testing.assert_allclose(out[name].regime_values[:, 0], by_hand)
        train_vol = by_hand if name == "train" else train_vol
    edges = np.quantile(train_vol, [0.2, 0.4, 0.6, 0.8])
    np.testing.assert_array_equal(out["validation"].regime[:, 0], np.searchsorted(edges, by_hand, side="right"))
    assert np.array_equal(out["train"].vectors, flows["train"].vectors)  # only the label changes


def test_a_fit_with_another_window_trains_on_its_labels(zi_spans):
    config = replace(SMALL, condition_window=16, max_steps=10)
    fitted = DiffusionGenerator(config, device="cpu").fit(zi_spans, seed=3)
    default = DiffusionGenerator(replace(SMALL, max_steps=10), device="cpu").fit(zi_spans, seed=3)
    # same weights at the start and the same batches: only the labels differ, so the losses do
    assert fitted.training_.losses != default.training_.losses


def test_bad_options_are_refused():
    with pytest.raises(ParameterError, match=r"`history_dropout` of DiffusionConfig must be in \[0, 1\); got 1.0"):
        DiffusionConfig(history_dropout=1.0)
    with pytest.raises(ParameterError, match="`condition_window` of DiffusionConfig must be >= 1; got 0"):
        DiffusionConfig(condition_window=0)
    with pytest.raises(ParameterError, match="`condition_window` must be an int >= 1 book rows; got 0"):
        relabel({}, {}, 0)


def test_the_counterfactual_shares_carry_their_counts_and_exact_intervals():
    from scipy.stats import binomtest

    from scenarios.generate.counterfactual import clopper_pearson, with_intervals

    for hits, n in ((0, 8), (3, 8), (8, 8), (18, 32)):
        twin = binomtest(hits, n).proportion_ci(confidence_level=0.95, method="exact")
        assert clopper_pearson(hits, n) == pytest.approx((twin.low, twin.high), abs=1e-9)
    assert np.isnan(clopper_pearson(0, 0)).all()
    row = {"n_paths": 8, "regime": {"depth": 1}}
    for at in ("start", "end"):
        row.update({f"{at}: conditioned unmeasured stuck paths": 2 if at == "end" else 0})
        row.update({f"{at}: unconditioned unmeasured stuck paths": 0})
        row.update(
            {
                f"{at}: conditioned share in depth quintile 1": 0.5,
                f"{at}: unconditioned share in depth quintile 1": 0.125,
            }
        )
    with_intervals(row)
    assert row["start: conditioned paths in depth quintile 1"] == [4, 8]
    assert row["end: conditioned paths in depth quintile 1"] == [3, 6]  # the two unmeasured paths are left out
    assert row["end: unconditioned interval in depth quintile 1"] == pytest.approx(clopper_pearson(1, 8))


def test_added_r2_recovers_the_planted_shares_of_variance():
    from scenarios.generate.condition_check import added_r2

    rng = np.random.default_rng(7)
    n = 20_000
    history, label = rng.normal(size=(n, 2)), rng.integers(0, enc.N_QUINTILES, n)
    effect = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])  # variance 0.5; history 0.25; noise 1: total 1.75
    target = 0.5 * history[:, 0] + effect[label] + rng.normal(size=n)
    alone, added = added_r2(history, label, target, gap=50)
    assert alone == pytest.approx(0.25 / 1.75, abs=0.02) and added == pytest.approx(0.5 / 1.75, abs=0.02)
    # a label that tells nothing adds nothing
    assert abs(added_r2(history, rng.integers(0, enc.N_QUINTILES, n), target, gap=50)[1]) < 0.005


def test_the_library_spec_labels_32_rows_ahead_and_is_otherwise_the_tiny_aapl_spec():
    from pathlib import Path

    from generators.config import preset
    from generators.spec import load_spec

    library = Path(__file__).resolve().parents[2] / "scenarios" / "library"
    ours, tiny = (load_spec(library / name) for name in ("generate_aapl_cond32_tiny.toml", "generate_aapl_tiny.toml"))
    assert preset(ours.preset, **ours.overrides) == replace(preset("tiny"), condition_window=32)
    same = ("message", "books", "split", "seed", "family", "span_s")
    assert [getattr(ours, k) for k in same] == [getattr(tiny, k) for k in same]
