"""The conditional WGAN-GP generator on a small zero-intelligence flow: shapes and bounds, the gradient penalty against
a slow twin, seeded determinism, resume, checkpoints refused whole, and rollouts whose books are the engine's."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from generators import encoding as enc
from generators.checkpoint import WEIGHTS_FILE
from generators.config import GANConfig, gan_preset
from generators.diffusion import DiffusionGenerator
from generators.gan import GANGenerator, type_support
from generators.gan_networks import Critic, Generator, book_head_features, init_gan_weights, type_draws
from generators.gan_training import gradient_penalty
from generators.spec import load_generator
from simlab.errors import DataError, ParameterError
from simlab.schema import BOOK_FIELDS
from tests.generators.conftest import check_replayed, check_resampled, check_seeded_fit
from tests.generators.conftest import equal_weights as _equal
from tests.generators.conftest import weights as _weights

SMALL = GANConfig(
    history=8, block=4, width=16, noise=4, critic_steps=2, batch_size=32, max_steps=20, eval_every=10,
    validation_blocks=64,
)  # fmt: skip


@pytest.fixture(scope="module")
def fitted(zi_spans):
    return GANGenerator(SMALL, device="cpu").fit(zi_spans, seed=3)


def _condition(config, batch, seed):
    rng = torch.Generator().manual_seed(seed)
    history = torch.randn((batch, config.history, enc.MESSAGE_WIDTH), generator=rng)
    book = torch.randn((batch, enc.BOOK_WIDTH), generator=rng)
    return history, book, torch.randint(0, enc.NULL_REGIME + 1, (batch, len(enc.REGIMES)), generator=rng)


def test_the_networks_give_bounded_blocks_and_one_score_per_block():
    config = GANConfig(history=5, block=3, width=8, noise=2)
    generator, critic = Generator(config), Critic(config)
    init_gan_weights(generator, torch.Generator().manual_seed(0))
    low = tuple(np.linspace(-3.0, -1.0, enc.MESSAGE_WIDTH))
    high = tuple(np.linspace(0.5, 2.0, enc.MESSAGE_WIDTH))
    generator.set_support(low, high)
    condition = _condition(config, 7, 1)
    blocks = generator(torch.randn((7, 2), generator=torch.Generator().manual_seed(2)), *condition)
    assert blocks.shape == (7, 3, enc.MESSAGE_WIDTH)
    types = blocks[..., enc.M_TYPE : enc.M_TYPE + enc.N_TYPES]
    torch.testing.assert_close(types.sum(-1), torch.full((7, 3), 2.0 - enc.N_TYPES))  # 2 softmax - 1 over 5 types
    assert bool((blocks[..., enc.M_SIDE].abs() < 1).all())
    for column in (enc.M_DT, enc.M_PRICE, enc.M_SIZE, enc.M_LEVEL):
        values = blocks[..., column]
        assert bool((values > low[column]).all() and (values < high[column]).all())
    # an untrained generator starts at the training mean (0) of the continuous columns, not mid-range
    zero = generator.low + (generator.high - generator.low) * torch.sigmoid(generator.head[-1].bias)
    torch.testing.assert_close(zero[[enc.M_DT, enc.M_PRICE, enc.M_SIZE, enc.M_LEVEL]], torch.zeros(4))
    assert critic(blocks, *condition).shape == (7,)


def test_the_type_is_a_hard_one_hot_drawn_from_the_softmax_and_the_other_fields_follow_it():
    # Session 20b: the type columns were 2 softmax - 1 and the decoder took their argmax, so a type whose
    # probability is never the largest (a trade at 4 %) was never generated. Now every message carries a hard
    # one-hot, drawn from the softmax (Gumbel-max on the caller's uniforms), with the softmax's gradient.
    config = GANConfig(history=3, block=4, width=8, noise=2)
    generator = Generator(config)
    init_gan_weights(generator, torch.Generator().manual_seed(0))
    generator.set_support(tuple([-3.0] * enc.MESSAGE_WIDTH), tuple([3.0] * enc.MESSAGE_WIDTH))
    law = torch.tensor([0.50, 0.03, 0.39, 0.06, 0.02])  # ADD, CANCEL, DELETE, TRADE, hidden trade
    columns = slice(enc.M_TYPE, enc.M_TYPE + enc.N_TYPES)
    with torch.no_grad():  # the type logits are log(law) for every message, whatever the condition and noise
        generator.head[-1].weight.zero_()
        generator.head[-1].bias[columns] = torch.log(law)
        generator.by_type.weight[enc.M_PRICE, enc.TYPE_TRADE] = 4.0  # a trade's price column sits higher
    n, rng = 1500, torch.Generator().manual_seed(1)
    condition = _condition(config, n, 2)
    draws = type_draws((n, config.block), rng)
    blocks = generator(torch.randn((n, 2), generator=rng), *condition, draws=draws)
    types = blocks[..., columns]
    torch.testing.assert_close(types.detach().abs(), torch.ones_like(types), atol=1e-6, rtol=0)  # +-1 only
    assert bool(((types > 0).sum(-1) == 1).all())
    drawn = types.argmax(-1)  # what the decoder reads (encoding.features_to_table)
    gumbel_max = (torch.log(law) - torch.log(-torch.log(draws))).argmax(-1)
    assert torch.equal(drawn, gumbel_max)
    shares = torch.bincount(drawn.flatten(), minlength=enc.N_TYPES) / drawn.numel()
    se = torch.sqrt(law * (1 - law) / drawn.numel())
    assert bool(((shares - law).abs() < 5 * se).all()), shares  # the rare types come out at their probability
    price = blocks[..., enc.M_PRICE].detach()
    assert float(price[drawn == enc.TYPE_TRADE].min()) > float(price[drawn != enc.TYPE_TRADE].max())
    blocks[..., enc.M_TYPE + enc.TYPE_TRADE].sum().backward()  # straight-through: the logits get a gradient
    assert float(generator.head[-1].bias.grad[columns].abs().min()) > 0
    with torch.no_grad():  # without draws: the most likely type, every time
        assert bool((generator(torch.randn((4, 2)), *_condition(config, 4, 3))[..., columns].argmax(-1) == 0).all())


def test_each_drawn_type_is_squashed_into_the_range_the_encodings_rules_allow(zi_spans):
    # Session 22: one range for every type let the tiny AAPL GAN place ADDs at or through the opposite best and
    # removals at level 0 (62 % of its tries rejected). Now each column is squashed into the drawn type's range.
    encoding = enc.fit_encoding(zi_spans["train"]["events"], zi_spans["train"]["books"], history=3)
    low, high = type_support(encoding)
    config = GANConfig(history=3, block=4, width=8, noise=2)
    generator = Generator(config)
    init_gan_weights(generator, torch.Generator().manual_seed(0))
    generator.set_support(encoding.message_low, encoding.message_high)
    generator.set_type_support(low, high)
    n, rng = 400, torch.Generator().manual_seed(1)
    condition = _condition(config, n, 2)
    columns = slice(enc.M_TYPE, enc.M_TYPE + enc.N_TYPES)
    with torch.no_grad():  # every type equally likely; price and level pushed to the bottom or the top of the range
        generator.head[-1].weight[columns] = 0.0
        generator.head[-1].bias[columns] = 0.0
        generator.head[-1].weight[[enc.M_PRICE, enc.M_LEVEL]] *= 40.0
    for push in (-30.0, 30.0):
        with torch.no_grad():
            generator.head[-1].bias[[enc.M_PRICE, enc.M_LEVEL]] = push
            blocks = generator(torch.randn((n, 2), generator=rng), *condition, draws=type_draws((n, 4), rng))
        table = encoding.table(blocks.reshape(-1, enc.MESSAGE_WIDTH).numpy())
        kind, rel, level = table[:, enc.TYPE], table[:, enc.PRICE], table[:, enc.LEVEL]
        assert np.bincount(kind, minlength=enc.N_TYPES).min() > 250
        assert (rel[kind == enc.TYPE_ADD] >= 1).all()  # never at or through the opposite best
        removal = (kind == enc.TYPE_CANCEL) | (kind == enc.TYPE_DELETE)
        assert (rel[removal | (kind == enc.TYPE_TRADE)] >= 0).all() and (level[removal] >= 1).all()
        assert (level[~removal] == 0).all()
        if push < 0:  # at the bottom: the floors themselves, which the hidden trades (no floor) lie below
            assert (rel[kind == enc.TYPE_ADD] == 1).mean() > 0.5 and (level[removal] == 1).mean() > 0.5
            assert rel[kind == enc.TYPE_HIDDEN].min() < 0
        else:  # at the top: the encoding's range is kept
            assert level[removal].max() == enc.DEPTH_LEVELS + 1
    assert torch.equal(generator.type_low[:, enc.M_DT], generator.low[enc.M_DT].expand(enc.N_TYPES))
    # the allowed atom lies inside its type's range, not at its saturated end (the floor sits below it, FLOOR_MARGIN)
    atoms = np.zeros((2, len(enc.FIELDS)), np.int64)
    atoms[:, enc.TYPE], atoms[:, enc.SIDE], atoms[:, enc.SIZE] = (enc.TYPE_ADD, enc.TYPE_DELETE), 1, 1
    atoms[0, enc.PRICE], atoms[1, enc.LEVEL] = 1, 1  # an ADD one tick inside the opposite best; a DELETE at level 1
    vectors = encoding.messages(atoms)
    assert vectors[0, enc.M_PRICE] > low[enc.TYPE_ADD, enc.M_PRICE] + 1e-3
    assert vectors[1, enc.M_LEVEL] > low[enc.TYPE_DELETE, enc.M_LEVEL] + 1e-3
    with pytest.raises(ParameterError, match="set_type_support: every type's range must lie inside"):
        generator.set_type_support(low - 10.0, high)


def test_the_field_head_reads_the_spread_and_the_sides_levels_from_the_book(zi_spans):
    # Session 23: the price and level columns read three features of the book directly (the log spread, each
    # side's number of non-empty levels), not only through the condition vector. With the condition's book branch
    # cut, a book that differs in those features changes the price and level columns and nothing else; one that
    # differs only in depths that cross no cut changes nothing.
    encoding = enc.fit_encoding(zi_spans["train"]["events"], zi_spans["train"]["books"], history=3)
    arrays = [zi_spans["train"]["books"][name].values.copy() for name in BOOK_FIELDS]
    rng = np.random.default_rng(0)
    for qty in arrays[1], arrays[3]:  # the flow's books are full: empty each side's levels from a random one on
        qty[np.arange(qty.shape[1]) >= rng.integers(0, enc.DEPTH_LEVELS + 1, (qty.shape[0], 1))] = 0
    raw = enc.book_features(tuple(arrays), np.zeros(arrays[0].shape[0]))
    normalised = torch.as_tensor(encoding.book(raw))
    cuts = torch.as_tensor(encoding.empty_level_cuts(), dtype=torch.float32)
    features = book_head_features(normalised, cuts).numpy()
    for column, qty in ((1, arrays[1]), (2, arrays[3])):  # the counts are the books' own non-empty levels
        held = (qty[:, : enc.DEPTH_LEVELS] > 0).sum(axis=1) / enc.DEPTH_LEVELS
        np.testing.assert_allclose(features[:, column], held, atol=1e-6)
        assert np.unique(held).size == enc.DEPTH_LEVELS + 1
    np.testing.assert_allclose(features[:, 0], normalised[:, enc.B_SPREAD].numpy())
    config = GANConfig(history=3, block=4, width=8, noise=2)
    generator = Generator(config)
    init_gan_weights(generator, torch.Generator().manual_seed(0))
    generator.set_level_cuts(encoding.empty_level_cuts())
    with torch.no_grad():
        generator.condition.book[0].weight.zero_()  # the book reaches the blocks only through the field head
    history, book, regime = _condition(config, 6, 2)
    book = normalised[[int(np.argmax(features[:, 2]))] * 6].clone()  # a full ask side
    noise = torch.randn((6, 2), generator=torch.Generator().manual_seed(3))
    wider, thinner = book.clone(), book.clone()
    wider[:, enc.B_SPREAD] += 1.0  # a wider spread alone
    thinner[:, enc.DEPTH_LEVELS + 2 : 2 * enc.DEPTH_LEVELS] = cuts[enc.DEPTH_LEVELS + 2 :] - 1.0  # the ask: 2 levels
    deeper = book + (book[:, : 2 * enc.DEPTH_LEVELS] > cuts).float() @ torch.eye(2 * enc.DEPTH_LEVELS, book.shape[1])
    with torch.no_grad():
        base, *moved, same = (generator(noise, history, b, regime) for b in (book, wider, thinner, deeper))
    fields = [enc.M_PRICE, enc.M_LEVEL]
    rest = [c for c in range(enc.MESSAGE_WIDTH) if c not in fields]
    for changed in moved:  # the spread and the side's levels each reach the fields on their own
        assert float((base[..., fields] - changed[..., fields]).abs().min()) > 1e-6
        assert torch.equal(base[..., rest], changed[..., rest])
    assert torch.equal(base, same)
    with pytest.raises(ParameterError, match="set_level_cuts: cuts must be"):
        generator.set_level_cuts(np.zeros(3))
    with pytest.raises(ParameterError, match="non-finite at index 4"):
        generator.set_level_cuts(np.where(np.arange(2 * enc.DEPTH_LEVELS) == 4, np.nan, 0.0))


def test_gradient_penalty_matches_a_slow_twin():
    config = GANConfig(history=3, block=2, width=4, noise=2)
    critic = Critic(config).double()
    init_gan_weights(critic, torch.Generator().manual_seed(5))
    history, book, regime = _condition(config, 5, 6)
    history, book = history.double(), book.double()
    rng = torch.Generator().manual_seed(7)
    real = torch.randn((5, 2, enc.MESSAGE_WIDTH), generator=rng, dtype=torch.float64)
    fake = torch.randn((5, 2, enc.MESSAGE_WIDTH), generator=rng, dtype=torch.float64)
    mix = torch.rand((5,), generator=rng, dtype=torch.float64)
    fast = gradient_penalty(critic, real, fake, (history, book, regime), mix)
    terms = []
    for i in range(5):  # one block at a time; the interpolate written out element by element
        point = torch.zeros((1, 2, enc.MESSAGE_WIDTH), dtype=torch.float64)
        for j in range(2):
            for k in range(enc.MESSAGE_WIDTH):
                point[0, j, k] = mix[i] * real[i, j, k] + (1 - mix[i]) * fake[i, j, k]
        point.requires_grad_(True)
        score = critic(point, history[i : i + 1], book[i : i + 1], regime[i : i + 1])[0]
        (gradient,) = torch.autograd.grad(score, point)
        norm = sum(float(g) ** 2 for g in gradient.flatten()) ** 0.5
        if i == 0:  # the autograd gradient itself against central differences
            step, flat = 1e-6, point.detach().flatten()
            for e in range(flat.shape[0]):
                up, down = flat.clone(), flat.clone()
                up[e], down[e] = up[e] + step, down[e] - step
                args = (history[:1], book[:1], regime[:1])
                with torch.no_grad():
                    numeric = (critic(up.view(1, 2, -1), *args) - critic(down.view(1, 2, -1), *args)) / (2 * step)
                assert abs(float(numeric) - float(gradient.flatten()[e])) < 1e-6
        terms.append((norm - 1.0) ** 2)
    assert abs(float(fast.detach()) - sum(terms) / 5) < 1e-10
    fast.backward()  # the penalty trains the critic (the graph of the gradient is kept)
    assert any(p.grad is not None and float(p.grad.abs().sum()) > 0 for p in critic.parameters())


def test_one_seed_gives_the_same_weights_and_another_does_not(zi_spans, fitted):
    check_seeded_fit(GANGenerator, SMALL, zi_spans, fitted)


def test_training_resumes_from_a_checkpoint_to_the_same_weights(zi_spans, fitted, tmp_path):
    seen = []
    short = GANConfig(**{**SMALL.to_dict(), "max_steps": 10})
    GANGenerator(short, device="cpu").fit(zi_spans, seed=3, checkpoint=tmp_path / "run")
    resumed = GANGenerator(SMALL, device="cpu").fit(
        zi_spans, seed=3, checkpoint=tmp_path / "run", resume=True, progress=lambda *a: seen.append(a)
    )
    assert _equal(_weights(fitted), _weights(resumed))
    assert [s[0] for s in seen] == [20] and resumed.training_.losses == fitted.training_.losses
    with pytest.raises(ParameterError, match="cannot resume: it was trained with another seed"):
        GANGenerator(SMALL, device="cpu").fit(zi_spans, seed=5, checkpoint=tmp_path / "run", resume=True)


def test_rollout_books_are_the_matching_engines_and_times_are_generated(fitted):
    paths = fitted.sample(3, 20.0, generator=11)
    for path in paths:
        events, books = path["events"], path["books"]
        attrs = events.attrs
        assert attrs["generator"] == "gan" and attrs["applied"] > 0
        assert attrs["rejected"] == sum(v for k, v in attrs.items() if k.startswith("rejected_"))
        start = int(events["ts_ns"].values[0])
        assert int(events["ts_ns"].values[-1]) <= start + 20 * 10**9
        inner = check_replayed(events, books)
        gaps = np.diff(events["ts_ns"].values[~inner][attrs["initial_orders"] :])
        assert np.unique(gaps).size > 10  # the inter-arrival times come from the network, not a constant
    check_resampled(fitted, paths)


def test_the_regime_condition_changes_the_output_and_can_be_left_unset(fitted):
    model, config = fitted.model_, fitted.config
    history, book, _ = _condition(config, 16, 3)
    noise = torch.randn((16, config.noise), generator=torch.Generator().manual_seed(4))
    null = torch.full((16, 4), enc.NULL_REGIME)
    with torch.no_grad():
        unset, top = model(noise, history, book, null), model(noise, history, book, torch.full((16, 4), 4))
    assert not torch.equal(unset, top)
    a = fitted.sample(2, 5.0, generator=4, regime={"volatility": 5, "depth": 1}, guidance=2.0)
    b = fitted.sample(2, 5.0, generator=4, regime={"volatility": 5, "depth": 1}, guidance=2.0)
    assert all(x["events"].equals(y["events"]) for x, y in zip(a, b, strict=True))
    assert a[0]["events"].attrs["regime"] == "{'volatility': 5, 'depth': 1}" and a[0]["events"].attrs["guidance"] == 2.0
    with pytest.raises(ParameterError, match="quintile of regime 'depth' must be an int in 1-5; got 6"):
        fitted.sample(1, 1.0, generator=1, regime={"depth": 6})


def test_checkpoints_round_trip_and_another_kind_or_version_is_refused(fitted, tmp_path):
    path = fitted.save(tmp_path / "model")
    loaded = load_generator(path)
    assert isinstance(loaded, GANGenerator) and _equal(_weights(fitted), _weights(loaded))
    a, b = fitted.sample(1, 5.0, generator=2), loaded.sample(1, 5.0, generator=2)
    assert a[0]["events"].equals(b[0]["events"])
    config = json.loads((path / "config.json").read_text())
    assert config["config"] == SMALL.to_dict() and config["family"] == "gan"
    with pytest.raises(DataError, match="family must be 'diffusion'"):
        DiffusionGenerator.load(path)
    refused = (("simlab_version", "0.0.0-other"), ("encoding_version", 99), ("encoding_version", 3))
    refused += (("network_version", 2),)  # session 20b's generator: one range for every type
    refused += (("network_version", 3),)  # session 22's: no field head reading the book
    for key, value in refused + (("family", "diffusion"),):
        (path / "config.json").write_text(json.dumps({**config, key: value}))
        with pytest.raises(DataError, match=f"{key} must be"):
            GANGenerator.load(path)
    (path / "config.json").write_text(json.dumps({**config, "config": {**config["config"], "width": 32}}))
    with pytest.raises(DataError, match="its weights or context do not fit its config"):
        GANGenerator.load(path)
    (path / "config.json").write_text(json.dumps(config))
    weights = bytearray((path / WEIGHTS_FILE).read_bytes())
    weights[len(weights) // 2] ^= 0xFF
    (path / WEIGHTS_FILE).write_bytes(bytes(weights))
    with pytest.raises(DataError, match="weights.pt is corrupted"):
        load_generator(path)


def test_bad_input_is_refused_with_our_sentence(zi_spans):
    with pytest.raises(DataError, match="expected the spans 'train' and 'validation'"):
        GANGenerator(SMALL, device="cpu").fit({"train": zi_spans["train"]}, seed=1)
    with pytest.raises(ParameterError, match="`config` of GANGenerator must be a GANConfig"):
        GANGenerator(DiffusionGenerator(device="cpu").config)
    with pytest.raises(ParameterError, match="unknown GAN preset 'huge'"):
        gan_preset("huge")
    with pytest.raises(ParameterError, match="`gradient_penalty` of GANConfig must be > 0; got 0.0"):
        GANConfig(gradient_penalty=0.0)
    with pytest.raises(ParameterError, match="`critic_steps` of GANConfig must be >= 1; got 0"):
        GANConfig(critic_steps=0)
    with pytest.raises(ParameterError, match="GANGenerator is not fitted"):
        GANGenerator(SMALL).sample(1, 1.0, generator=0)


def test_compare_cards_means_the_shared_scores_and_their_replicates():
    from generators.evaluation import compare_cards
    from simlab.metrics.distances import Distance
    from simlab.metrics.scorecard import ScoreCard, ScoreRow

    def card(values):
        spread = np.arange(20) / 100
        rows = [
            ScoreRow(name, "unconditional", "l1", Distance(v, v, v, 0, 0, 0, v + spread, None))
            for name, v in values.items()
        ]
        rows.append(ScoreRow("spread", "unconditional", "l1", None, reason="too few"))
        return ScoreCard(rows, {}, {}, {}, {}, "not applicable")

    out = compare_cards(card({"a": 0.2, "b": 0.4, "c": 9.0}), card({"a": 0.5, "b": 0.7, "spread": 1.0}))
    assert out["shared"] == 2 and out["ours"]["value"] == pytest.approx(0.3) and out["theirs"]["value"] == 0.6
    # replicates of the means run 0.30..0.49 (ours) and 0.60..0.79; the difference is -0.3 in every replicate
    assert out["ours"]["low"] == pytest.approx(0.30 + 0.19 * 0.005) and out["difference"]["high"] == pytest.approx(-0.3)
    with pytest.raises(ParameterError, match="share no 'l1' score"):
        compare_cards(card({"a": 0.1}), card({"b": 0.1}))


def test_early_stopping_keeps_the_best_validated_weights(zi_spans, monkeypatch):
    import generators.gan_training as loop

    scores = iter([0.5, 0.4, 0.6, 0.7, 0.8])  # best at the second validation, then two without improvement
    kept = {}

    def distance(generator, fixed):
        value = next(scores)
        if value == 0.4:
            kept.update({k: v.clone() for k, v in generator.state_dict().items()})
        return value

    monkeypatch.setattr(loop, "validation_distance", distance)
    config = GANConfig(**{**SMALL.to_dict(), "max_steps": 100, "eval_every": 2, "patience": 2})
    fitted = GANGenerator(config, device="cpu").fit(zi_spans, seed=3)
    state = fitted.training_
    assert state.step == 8 and state.best_step == 4 and state.best_loss == 0.4 and state.bad == 2
    assert _equal(_weights(fitted), kept)


def test_a_stuck_path_raises_or_when_asked_ends_and_is_recorded(fitted):
    from generators.rollout import MAX_IDLE_CHAINS, BookPath
    from simlab.errors import SimlabError

    end = fitted.context_["ts_ns"] + 10**9
    never = np.array([[1, enc.TYPE_CANCEL, 1, 0, 1, 999], [1, enc.TYPE_ADD, 1, 1, 2, 0]])  # no level 999
    strict, lenient = (BookPath(fitted.context_, 10, np.random.default_rng(0), end, stop) for stop in (False, True))
    for _ in range(MAX_IDLE_CHAINS - 1):
        strict.apply_block(never)
        lenient.apply_block(never)
    with pytest.raises(SimlabError, match=f"{MAX_IDLE_CHAINS} generated blocks in a row"):
        strict.apply_block(never)
    lenient.apply_block(never)
    counts = lenient.counts.to_dict()
    assert lenient.done and counts["stuck"] == 1 and counts["applied"] == 0
    assert counts["rejected_no_level"] == MAX_IDLE_CHAINS and counts["discarded"] == MAX_IDLE_CHAINS


def test_counterfactual_runs_on_the_gan_and_counts_stuck_paths(fitted):
    from generators.evaluation import counterfactual

    out = counterfactual(fitted, {"volatility": 5}, n_paths=2, duration=3.0, seed=1, stop_when_stuck=True)
    for label in ("conditioned", "unconditioned"):
        assert 0.0 <= out[f"{label} share in volatility quintile 5"] <= 1.0 and out[f"{label} stuck paths"] in (0, 1, 2)


def _never_applies(monkeypatch) -> None:
    """Decode every generated message as a cancel at level 0 (levels start at 1): each one is rejected."""

    def never(vectors, knots):
        rows = np.zeros((*vectors.shape[:-1], 6), np.int64)
        rows[..., enc.DT], rows[..., enc.TYPE], rows[..., enc.SIDE] = 1, enc.TYPE_CANCEL, 1
        rows[..., enc.SIZE], rows[..., enc.LEVEL] = 1, 0
        return rows

    monkeypatch.setattr(enc, "features_to_table", never)


def test_the_counterfactual_sweep_ends_stuck_paths_when_asked_and_counts_the_unmeasurable_ones(fitted, monkeypatch):
    from generators.evaluation import counterfactual, counterfactual_sweep
    from generators.rollout import MAX_IDLE_CHAINS
    from simlab.errors import SimlabError

    _never_applies(monkeypatch)
    kwargs = {"n_paths": 2, "duration": 3.0, "seed": 1, "window": 16}
    with pytest.raises(SimlabError, match=f"{MAX_IDLE_CHAINS} generated blocks in a row"):
        counterfactual_sweep(fitted, [{"volatility": 5}], [1.0], **kwargs)
    (row,) = counterfactual_sweep(fitted, [{"volatility": 5}], [1.0], stop_when_stuck=True, **kwargs)
    for label in ("conditioned", "unconditioned"):
        assert row[f"start: {label} stuck paths"] == 2 and row[f"start: {label} applied"] == 0
        assert row[f"start: {label} rejected"] == 2 * MAX_IDLE_CHAINS
        assert row[f"start: {label} unmeasured stuck paths"] == 0  # the context book measures the start
        assert 0.0 <= row[f"start: {label} share in volatility quintile 5"] <= 1.0
        assert row[f"end: {label} unmeasured stuck paths"] == 2  # no row of its own to measure the end on
        assert np.isnan(row[f"end: {label} share in volatility quintile 5"])
    single = counterfactual(fitted, {"depth": 1}, n_paths=2, duration=3.0, seed=1, stop_when_stuck=True)
    assert single["conditioned stuck paths"] == 2 and single["unconditioned stuck paths"] == 2


def test_the_counterfactual_command_takes_stop_when_stuck_and_records_the_stuck_paths(fitted, monkeypatch, tmp_path):
    import json

    from scenarios.generate import counterfactual as command
    from simlab.errors import ParameterError, SimlabError

    _never_applies(monkeypatch)
    monkeypatch.setattr(command, "load_generator", lambda path: fitted)
    args = ["model", "--regime", "volatility=5,depth=1", "--paths", "2", "--duration", "3", "-o", str(tmp_path / "o")]
    with pytest.raises(SimlabError, match="generated blocks in a row"):
        command.main(args)
    out = command.main([*args, "--stop-when-stuck"])
    (row,) = json.loads((tmp_path / "o").read_text())["rows"]
    assert row["regime"] == {"volatility": 5, "depth": 1} == out["rows"][0]["regime"]
    assert row["end: conditioned stuck paths"] == 2 and row["end: conditioned unmeasured stuck paths"] == 2
    assert json.loads(out["provenance"]["config"])["stop_when_stuck"] is True
    with pytest.raises(ParameterError, match="expected name=quintile pairs joined by commas; got 'volatility'"):
        command.parse_regime("volatility")
