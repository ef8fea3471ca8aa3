"""The numba rollout kernels against their slow Python twin (generators.rollout.BookPath): the same seed gives the
same events, books, counts and network inputs, on both model families, under regime switches, on random blocks that
exercise every rule (rejections, growth of the engine, stuck paths), and the same sentence when a rollout fails."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from generators import encoding as enc
from generators.diffusion import DiffusionGenerator
from generators.gan import GANGenerator
from generators.rollout import MAX_IDLE_CHAINS, RateGuard, rollout
from generators.rollout_fast import rollout_fast
from generators.shares import SHARE_ONE, trade_share
from simlab.errors import ParameterError, SimlabError
from simlab.schema import NO_PRICE, EventKind
from tests.generators.conftest import check_replayed
from tests.generators.conftest import same_paths as _same
from tests.generators.test_diffusion import SMALL as DIFFUSION
from tests.generators.test_gan import SMALL as GAN


@pytest.fixture(scope="module")
def models(zi_spans):
    return {
        "diffusion": DiffusionGenerator(DIFFUSION, device="cpu").fit(zi_spans, seed=3),
        "gan": GANGenerator(GAN, device="cpu").fit(zi_spans, seed=3),
    }


@pytest.mark.parametrize("family", ["diffusion", "gan"])
def test_the_kernels_give_the_twins_bytes_on_both_families(models, family):
    model = models[family]
    for seed in (11, 5, 2024):
        twin = model.sample(4, 6.0, generator=seed, stop_when_stuck=True, twin=True)
        fast = model.sample(4, 6.0, generator=seed, stop_when_stuck=True)
        _same(twin, fast)
        assert sum(path["events"].attrs["applied"] for path in fast) > 0
    check_replayed(fast[0]["events"], fast[0]["books"])


def test_the_kernels_give_the_twins_bytes_across_regime_switches(models):
    model = models["diffusion"]
    switches = [(2.0, {"volatility": 5}), (4.0, {"depth": 1})]
    kwargs = dict(generator=7, guidance=2.0, switches=switches, stop_when_stuck=True)
    _same(model.sample(3, 6.0, twin=True, **kwargs), model.sample(3, 6.0, **kwargs))


class RandomBlocks:
    """A seeded stand-in for a model: random blocks over every message type, with bad values, crossing adds,
    missing levels, trades of any share of the queue and beyond it, and far prices that grow the engine; it keeps
    the inputs it was given."""

    def __init__(self, seed: int, block: int = 6, volume: bool = False) -> None:
        self.rng, self.block, self.inputs, self.volume = np.random.default_rng(seed), block, [], volume

    def __call__(self, history: np.ndarray, book: np.ndarray) -> np.ndarray:
        self.inputs.append((history.copy(), book.copy()))
        size = (history.shape[0], self.block)
        rows = np.zeros(size + (6,), np.int64)
        rows[..., enc.DT] = self.rng.integers(-1, 2 * 10**7, size)
        rows[..., enc.TYPE] = self.rng.choice(enc.N_TYPES, size, p=[0.5, 0.15, 0.15, 0.15, 0.05])
        rows[..., enc.SIDE] = self.rng.choice([1, -1, 0], size, p=[0.49, 0.49, 0.02])
        far = self.rng.random(size) < 0.02
        rows[..., enc.PRICE] = np.where(far, self.rng.integers(3000, 9000, size), self.rng.integers(-2, 12, size))
        rows[..., enc.SIZE] = self.rng.integers(0, 12, size)
        # a trade's size is its share of the queue (SHARE_ONE: all of it; above: beyond the queue, rejected)
        share = np.where(self.rng.random(size) < 0.3, SHARE_ONE, self.rng.integers(-1, SHARE_ONE * 9 // 8, size))
        rows[..., enc.SIZE] = np.where(rows[..., enc.TYPE] == enc.TYPE_TRADE, share, rows[..., enc.SIZE])
        rows[..., enc.LEVEL] = self.rng.integers(0, 16, size)  # above 10 (the book levels): placed by price
        if self.volume:  # volume positions: inside levels 1-10, beyond them, negative (no level), above the grid
            inside = self.rng.integers(-enc.VOLUME_GRID // 20, enc.VOLUME_GRID, size)
            beyond = self.rng.choice([enc.VOLUME_GRID, enc.VOLUME_BEYOND, 3 * enc.VOLUME_GRID], size)
            rows[..., enc.LEVEL] = np.where(self.rng.random(size) < 0.2, beyond, inside)
        return rows


def _run(function, context, encoding, seed, block=6, **kwargs):
    from simlab.random import spawn

    blocks = RandomBlocks(seed, block, encoding.cancel_position == "volume")
    paths = function(blocks, encoding, context, n_paths=5, duration_ns=4 * 10**9, depth=12, rngs=spawn(seed, 5),
                     **kwargs)  # fmt: skip
    return paths, blocks.inputs


def _with_level_prices(encoding: enc.Encoding) -> enc.Encoding:
    # the encoding with the level positions, their columns unnormalised (mean 0, std 1)
    extra = enc.LEVEL_PRICE_WIDTH
    return replace(encoding, level_prices=True, book_mean=encoding.book_mean + (0.0,) * extra,
                   book_std=encoding.book_std + (1.0,) * extra)  # fmt: skip


# 12: longer than the history (8); level_prices: the book state with the positions of levels 2-10; volume: a
# removal's level field is its volume position (cancel_position = "volume")
@pytest.mark.parametrize(
    ("seed", "block", "level_prices", "position"),
    [(1, 6, False, "level"), (2, 12, True, "level"), (3, 6, True, "level"), (4, 6, False, "volume"),
     (5, 6, False, "depth"), (6, 6, False, "spread")],
)  # fmt: skip
def test_the_kernels_follow_every_rule_of_the_twin_on_random_blocks(models, seed, block, level_prices, position):
    model = models["gan"]
    encoding = _with_level_prices(model.encoding_) if level_prices else model.encoding_
    # "depth": a pseudo-depth behind the 10 levels, 40 lots on the bid and 90 on the ask
    pseudo = position in ("depth", "spread")  # spread: beyond removals by their ticks behind level 10 (scale 3 / 5)
    encoding = replace(encoding, cancel_position=position, beyond_lots=(40, 90) if pseudo else (),
                       beyond_ticks=(3, 5) if position == "spread" else ())  # fmt: skip
    volume = position != "level"
    attrs = {**model.context_["attrs"], "generator": "random"}
    switches = [(2 * 10**9, RandomBlocks(seed + 100, volume=volume))]
    twin, twin_inputs = _run(rollout, model.context_, encoding, seed, block, switches=switches)
    if volume:  # the history keeps the middle of the level a removal took (inside the grid), or beyond
        kept = np.array([row for p in twin for row in p.table[64:]])
        removal = np.isin(kept[:, enc.TYPE], [enc.TYPE_CANCEL, enc.TYPE_DELETE])
        levels = kept[removal, enc.LEVEL]
        assert removal.sum() > 20 and ((levels >= 0) & (levels < enc.VOLUME_GRID) | (levels == enc.VOLUME_BEYOND)).all()
        assert (levels < enc.VOLUME_GRID).any()
        # "depth": a removal beyond the levels keeps the middle of the pseudo-depth's share, inside the grid
        assert (levels == enc.VOLUME_BEYOND).any() == (position == "volume")
        if position == "spread":  # the beyond removals are spread over the pseudo-depth's share, not one point
            assert len(np.unique(levels)) > len(np.unique(levels[levels < enc.VOLUME_GRID // 2])) + 5
    switches = [(2 * 10**9, RandomBlocks(seed + 100, volume=volume))]
    fast, fast_inputs = _run(rollout_fast, model.context_, encoding, seed, block, switches=switches)
    assert len(twin_inputs) == len(fast_inputs) > 10
    for (h1, b1), (h2, b2) in zip(twin_inputs, fast_inputs, strict=True):
        assert h1.tobytes() == h2.tobytes() and b1.tobytes() == b2.tobytes()  # the network inputs, bit for bit
        assert b2.shape[1] == encoding.book_width
    if level_prices:  # the positions vary (levels 2-10 of both sides, their gaps changing as the book moves)
        positions = np.concatenate([b[:, enc.BOOK_WIDTH :] for _, b in fast_inputs])
        assert (positions > 0).all(axis=0).any() and len(np.unique(positions.round(6))) > 5
    _same([p.datasets(attrs, "t") for p in twin], [p.datasets(attrs, "t") for p in fast])
    counts = [p.counts.to_dict() for p in fast]
    for reason in ("bad_value", "crossing_add", "no_level", "no_order", "empty_side", "trade_beyond_best"):
        if reason != "empty_side":  # both sides stay quoted in the ZI context
            assert sum(c[f"rejected_{reason}"] for c in counts) > 0, reason
    assert sum(c["discarded"] for c in counts) > 0
    events = np.concatenate([p.events for p in fast])
    start = events[: fast[0].initial_orders, 3]
    far = np.abs(events[:, 3] - np.median(start)) > 2048
    assert far[events[:, 1] == 1].any()  # an ADD off the engine's first grid: it grew


def _never(history: np.ndarray, book: np.ndarray) -> np.ndarray:
    rows = np.zeros((history.shape[0], 2, 6), np.int64)
    rows[:, :, enc.DT], rows[:, :, enc.TYPE], rows[:, :, enc.SIDE] = 1, enc.TYPE_CANCEL, 1
    rows[:, :, enc.SIZE], rows[:, :, enc.LEVEL] = 1, 0  # levels start at 1
    return rows


def test_a_stuck_rollout_fails_with_the_twins_sentence_or_ends_the_same_way(models):
    from simlab.random import spawn

    model = models["gan"]
    args = (_never, model.encoding_, model.context_)
    kwargs = dict(n_paths=2, duration_ns=10**9, depth=10)
    sentences = []
    for function in (rollout, rollout_fast):
        with pytest.raises(SimlabError, match=f"{MAX_IDLE_CHAINS} generated blocks in a row") as error:
            function(*args, rngs=spawn(0, 2), **kwargs)
        sentences.append(str(error.value))
    assert sentences[0] == sentences[1]
    ended = [function(*args, rngs=spawn(0, 2), stop_when_stuck=True, **kwargs) for function in (rollout, rollout_fast)]
    for twin, fast in zip(*ended, strict=True):
        assert twin.counts == fast.counts and fast.counts.stuck == 1
        assert fast.counts.rejected["no_level"] == MAX_IDLE_CHAINS


def test_a_message_type_outside_the_encoding_is_refused(models):
    from simlab.random import spawn

    model = models["gan"]

    def bad(history, book):
        rows = _never(history, book)
        rows[:, :, enc.TYPE] = enc.N_TYPES
        return rows

    with pytest.raises(SimlabError, match="generated message type must be in 0-4; got \\[5\\]"):
        rollout_fast(bad, model.encoding_, model.context_, n_paths=1, duration_ns=10**9, depth=10, rngs=spawn(0, 1))


class Script:
    """A stand-in for a model that generates a fixed list of messages, one per block, then far-future ADDs; it keeps
    the histories it was given."""

    def __init__(self, rows: list[tuple[int, ...]]) -> None:
        self.rows = [np.array(row, np.int64) for row in rows]
        self.histories: list[np.ndarray] = []

    def __call__(self, history: np.ndarray, book: np.ndarray) -> np.ndarray:
        self.histories.append(history.copy())
        row = self.rows.pop(0) if self.rows else np.array([10**12, enc.TYPE_ADD, 1, 50, 1, 0], np.int64)
        return np.tile(row, (history.shape[0], 1, 1))


def _scripted_book(model, bids: list[int]) -> dict:
    """The model's context with every start book replaced by one of five bid levels at ``bids`` and five ask levels
    at 102-106, 5 lots each."""
    book = np.zeros((4, 10), np.int64)
    book[[0, 2]] = NO_PRICE
    book[0, :5], book[1, :5], book[2, :5], book[3, :5] = bids, 5, np.arange(102, 107), 5
    return {**model.context_, "books": np.repeat(book[None], model.context_["books"].shape[0], axis=0)}


def test_a_delete_takes_the_nearest_size_and_a_deep_removal_the_nearest_price(models):
    # the bid side rests at 100, 99, 97, 94, 90 (one order of 5 lots each), the ask at 102-106; book_levels 3
    # puts 94 and 90 beyond the levels the model sees
    from dataclasses import replace

    from simlab.random import spawn

    model = models["gan"]
    context = _scripted_book(model, [100, 99, 97, 94, 90])
    encoding = replace(model.encoding_, book_levels=3)
    d, a = enc.TYPE_DELETE, enc.TYPE_ADD
    script = [
        (1, a, 1, 3, 3, 0),
        (1, a, 1, 3, 7, 0),  # two more orders at 99 (3 ticks inside the ask at 102): 5, 3, 7
        (1, d, 1, 0, 8, 2),
        (1, d, 1, 0, 2, 2),  # level 2: the 7-lot order (nearest 8), then the 3-lot one
        (1, d, 1, 8, 5, 7),  # beyond level 3, 8 ticks behind 100: 94 and 90 are 2 away, the inner one goes
        (1, d, 1, 11, 5, 4),  # beyond level 3, 11 ticks behind: 90
        (1, d, 1, 0, 5, 4),  # beyond level 3 with none left there: rejected
    ]
    runs = []
    for function in (rollout, rollout_fast):
        paths = function(Script(list(script)), encoding, context, n_paths=1, duration_ns=10**9, depth=10,
                         rngs=spawn(0, 1))  # fmt: skip
        runs.append(paths[0].datasets({**context["attrs"], "generator": "script"}, "t"))
    _same(runs[:1], runs[1:])
    events = runs[1]["events"].isel(event=slice(int(runs[1]["events"].attrs["initial_orders"]), None))
    deletes = events.where(events["kind"] == int(EventKind.DELETE), drop=True)
    assert deletes["price_ticks"].values.tolist() == [99, 99, 94, 90]
    assert deletes["qty_lots"].values.tolist() == [7, 3, 5, 5]
    assert runs[1]["events"].attrs["rejected_no_level"] == 1


def test_a_trade_takes_its_share_of_the_queue_it_meets_on_both_rollouts(models):
    # the ask rests at 102-106 (one order of 5 lots each); an ADD puts 3 more lots at 102 (a queue of 8)
    from generators import rollout_kernel
    from simlab.random import spawn

    assert rollout_kernel.SHARE_ONE == SHARE_ONE  # the kernels' own constant, not imported from the twin's module
    model = models["gan"]
    context = _scripted_book(model, [100, 99, 98, 97, 96])
    t = enc.TYPE_TRADE
    script = [
        (1, enc.TYPE_ADD, -1, 2, 3, 0),  # 2 ticks from the bid at 100: 102
        (1, t, 1, 0, SHARE_ONE // 2, 0),  # half of 8 lots: 4, out of the first order
        (1, t, 1, 0, SHARE_ONE, 0),  # the whole queue (1 + 3 lots): two fills, 102 cleared
        (1, t, 1, 0, 1, 0),  # the smallest share: 1 lot at 103
        (1, t, 1, 0, SHARE_ONE + 1, 0),  # beyond the queue: rejected
        (1, t, 1, 0, 0, 0),  # a share of 0: no lots, a bad value
        (1, t, -1, 0, SHARE_ONE // 3, 0),  # a third of the 5 bid lots at 100: 2
    ]
    runs, histories, paths = [], [], []
    for function in (rollout, rollout_fast):
        scripted = Script(list(script))
        paths += function(scripted, model.encoding_, context, n_paths=1, duration_ns=10**9, depth=10,
                          rngs=spawn(0, 1))  # fmt: skip
        runs.append(paths[-1].datasets({**context["attrs"], "generator": "script"}, "t"))
        histories.append(np.concatenate(scripted.histories))
    _same(runs[:1], runs[1:])
    assert histories[0].tobytes() == histories[1].tobytes()  # the applied trades' vectors, bit for bit
    events = runs[1]["events"]
    trades = events.where(events["kind"] == int(EventKind.TRADE), drop=True)
    assert trades["price_ticks"].values.tolist() == [102, 102, 102, 103, 100]
    assert trades["qty_lots"].values.tolist() == [4, 1, 3, 1, 2]
    assert events.attrs["rejected_trade_beyond_best"] == 1 and events.attrs["rejected_bad_value"] == 1
    assert events.attrs["unfilled_lots"] == 0
    # the history keeps the share of the lots taken, as the encoding stores the data's trades
    table = np.stack(paths[0].table)[-5:]  # the twin's; the kernels' windows gave the same network inputs
    expected = [int(trade_share(4, 8)), SHARE_ONE, int(trade_share(1, 5)), int(trade_share(2, 5))]
    assert table[table[:, enc.TYPE] == t, enc.SIZE].tolist() == expected


def test_a_trade_held_to_the_front_order_fills_once_on_both_rollouts(models):
    # trade_fill "front": the script above, each trade at most the front order of the queue it meets (one fill,
    # as one execution row of the data executes one order)
    from simlab.random import spawn

    model = models["gan"]
    context = _scripted_book(model, [100, 99, 98, 97, 96])
    t = enc.TYPE_TRADE
    script = [
        (1, enc.TYPE_ADD, -1, 2, 3, 0),  # 102 holds 5 + 3 lots (two orders)
        (1, t, 1, 0, SHARE_ONE // 2, 0),  # half of 8 lots: 4, inside the front order (5): not held
        (1, t, 1, 0, SHARE_ONE, 0),  # the whole queue (1 + 3): held to the front order's 1 lot
        (1, t, 1, 0, SHARE_ONE, 0),  # the whole queue (3, one order): 3
        (1, t, 1, 0, SHARE_ONE // 2, 0),  # half of 103's 5 lots: 3, one order: not held
        (1, enc.TYPE_ADD, 1, 1, 4, 0),  # a bid of 4 lots at 102 (1 tick inside the ask, now at 103)
        (1, enc.TYPE_ADD, 1, 1, 2, 0),  # and 2 behind it at 102: a bid queue of two orders
        (1, t, -1, 0, SHARE_ONE, 0),  # a sell of the whole bid queue (6 lots): held to its front order's 4
    ]
    runs, paths = [], []
    for function in (rollout, rollout_fast):
        paths += function(Script(list(script)), model.encoding_, context, n_paths=1, duration_ns=10**9, depth=10,
                          rngs=spawn(0, 1), trade_fill="front")  # fmt: skip
        runs.append(paths[-1].datasets({**context["attrs"], "generator": "script"}, "t"))
    _same(runs[:1], runs[1:])
    events = runs[1]["events"]
    trades = events.where(events["kind"] == int(EventKind.TRADE), drop=True)
    assert trades["price_ticks"].values.tolist() == [102, 102, 102, 103, 102]
    assert trades["qty_lots"].values.tolist() == [4, 1, 3, 3, 4]
    assert trades["side"].values.tolist() == [1, 1, 1, 1, -1]
    assert len(set(trades["message"].values.tolist())) == 5  # one fill per message
    assert paths[0].counts.front_held == paths[1].counts.front_held == events.attrs["front_held"] == 2
    table = np.stack(paths[0].table)[-7:]  # the history keeps the share of the lots taken of the queue met
    expected = [int(trade_share(4, 8)), int(trade_share(1, 4)), SHARE_ONE, int(trade_share(3, 5)),
                int(trade_share(4, 6))]  # fmt: skip
    assert table[table[:, enc.TYPE] == t, enc.SIZE].tolist() == expected
    with pytest.raises(ParameterError, match=r"rollout: `trade_fill` must be one of \['queue', 'front'\]; got 'all'"):
        rollout_fast(Script([]), model.encoding_, context, n_paths=1, duration_ns=10**9, depth=10, rngs=spawn(0, 1),
                     trade_fill="all")  # fmt: skip


@pytest.mark.parametrize("seed", [7, 8])
def test_front_fills_follow_the_twin_on_random_blocks(models, seed):
    model = models["gan"]
    attrs = {**model.context_["attrs"], "generator": "random"}
    twin, _ = _run(rollout, model.context_, model.encoding_, seed, trade_fill="front")
    fast, _ = _run(rollout_fast, model.context_, model.encoding_, seed, trade_fill="front")
    _same([p.datasets(attrs, "t") for p in twin], [p.datasets(attrs, "t") for p in fast])
    assert sum(p.counts.front_held for p in fast) > 0
    for path in fast:  # every trade message one fill
        events = path.events[path.initial_orders :]
        trade = events[:, 1] == int(EventKind.TRADE)
        assert np.unique(events[trade, 6]).size == trade.sum() > 0


def _queues(context: dict) -> dict:
    # the context's last book split into queues: each level's lots as up to three orders (the oldest first)
    book = np.asarray(context["books"])[-1]
    rows = []
    for side, (prices, qtys) in ((1, (book[0], book[1])), (-1, (book[2], book[3]))):
        for j, (price, qty) in enumerate(zip(prices.tolist(), qtys.tolist(), strict=True)):
            parts = [qty] if qty < 3 else [qty // 3, qty // 2, qty - qty // 3 - qty // 2][: 1 + j % 3]
            parts[-1] += qty - sum(parts)
            rows += [(side, price, lots) for lots in parts if qty > 0]
    return {**context, "orders": np.asarray(rows, np.int64)}


@pytest.mark.parametrize("seed", [4, 5])
def test_the_kernels_give_the_twins_bytes_from_real_queues(models, seed):
    # a start book of several orders per level (generators.starts.queue_context): the same rules, the same bytes
    model = models["gan"]
    context = _queues(model.context_)
    assert context["orders"].shape[0] > (np.asarray(context["books"])[-1][[1, 3]] > 0).sum()  # queues, not levels
    attrs = {**model.context_["attrs"], "generator": "random"}
    twin, twin_inputs = _run(rollout, context, model.encoding_, seed)
    fast, fast_inputs = _run(rollout_fast, context, model.encoding_, seed)
    for (h1, b1), (h2, b2) in zip(twin_inputs, fast_inputs, strict=True):
        assert h1.tobytes() == h2.tobytes() and b1.tobytes() == b2.tobytes()
    _same([p.datasets(attrs, "t") for p in twin], [p.datasets(attrs, "t") for p in fast])
    assert fast[0].initial_orders == context["orders"].shape[0]
    plain, _ = _run(rollout_fast, model.context_, model.encoding_, seed)
    assert plain[0].initial_orders < fast[0].initial_orders  # the orders were used, not the levels
    start = fast[0].books[fast[0].initial_orders - 1]  # the book after the last start order: the context's
    assert start.tobytes() == plain[0].books[plain[0].initial_orders - 1].tobytes()


class ShareBlocks(RandomBlocks):
    """:class:`RandomBlocks` whose ADD prices are ``"share"`` codes: behind the best, shares of the spread, and
    through the opposite quote."""

    def __call__(self, history: np.ndarray, book: np.ndarray) -> np.ndarray:
        rows = super().__call__(history, book)
        one = enc.ADD_SHARE_ONE
        codes = self.rng.choice([-3, -1, 0, one // 3, one // 2, one - 1, one, one + 2], rows.shape[:2])
        codes = np.where(self.rng.random(rows.shape[:2]) < 0.5, self.rng.integers(-2, one * 9 // 8, codes.shape), codes)
        rows[..., enc.PRICE] = np.where(rows[..., enc.TYPE] == enc.TYPE_ADD, codes, rows[..., enc.PRICE])
        return rows


def test_the_kernels_read_shares_of_the_spread_as_the_twin_does_on_random_blocks(models):
    # add_price = "share" (session 25): random flows, whose books empty a side now and then and leave spreads of one
    # tick, give the twin's bytes, histories and rejections (the crossed and through-the-quote branches are checked
    # directly in test_add_price.py::test_the_rollout_kernels_share_rules_are_the_encodings)
    from simlab.random import spawn

    model = models["gan"]
    encoding = replace(model.encoding_, add_price="share")
    attrs = {**model.context_["attrs"], "generator": "random"}
    runs = []
    for function in (rollout, rollout_fast):
        blocks = ShareBlocks(8)
        paths = function(blocks, encoding, model.context_, n_paths=4, duration_ns=4 * 10**9, depth=12,
                         rngs=spawn(8, 4))  # fmt: skip
        runs.append((paths, blocks.inputs))
    (twin, twin_inputs), (fast, fast_inputs) = runs
    for (h1, b1), (h2, b2) in zip(twin_inputs, fast_inputs, strict=True):
        assert h1.tobytes() == h2.tobytes() and b1.tobytes() == b2.tobytes()
    _same([p.datasets(attrs, "t") for p in twin], [p.datasets(attrs, "t") for p in fast])
    kept = np.array([row for p in twin for row in p.table[64:]])
    codes = kept[kept[:, enc.TYPE] == enc.TYPE_ADD, enc.PRICE]
    assert (codes < 0).any() and (codes == 0).any() and ((codes > 0) & (codes < enc.ADD_SHARE_ONE)).sum() > 10
    assert sum(p.counts.to_dict()["rejected_crossing_add"] for p in fast) > 0


def test_a_delete_in_a_real_queue_takes_its_own_order_and_a_trade_the_oldest(models):
    # bid 100 holds orders of 2, 5 and 3 lots (in time priority), the rest one order per level
    from simlab.random import spawn

    model = models["gan"]
    book = np.zeros((4, 10), np.int64)
    book[[0, 2]] = NO_PRICE
    book[0, :3], book[1, :3], book[2, :3], book[3, :3] = [100, 99, 98], [10, 5, 5], [102, 103, 104], 5
    orders = [(1, 100, 2), (1, 100, 5), (1, 100, 3), (1, 99, 5), (1, 98, 5), (-1, 102, 5), (-1, 103, 5), (-1, 104, 5)]
    context = {**model.context_, "books": np.repeat(book[None], model.context_["books"].shape[0], axis=0),
               "orders": np.asarray(orders, np.int64)}  # fmt: skip
    script = [
        (1, enc.TYPE_DELETE, 1, 0, 5, 1),  # the 5-lot order of level 1, not the whole level
        (1, enc.TYPE_TRADE, -1, 0, SHARE_ONE // 2, 0),  # a sell for half of the 5 bid lots left: 3, the oldest first
    ]
    runs = []
    for function in (rollout, rollout_fast):
        paths = function(Script(list(script)), model.encoding_, context, n_paths=1, duration_ns=10**9, depth=10,
                         rngs=spawn(0, 1))  # fmt: skip
        runs.append(paths[0].datasets({**context["attrs"], "generator": "script"}, "t"))
    _same(runs[:1], runs[1:])
    events = runs[1]["events"].isel(event=slice(len(orders), None))
    kinds, qtys = events["kind"].values.tolist(), events["qty_lots"].values.tolist()
    assert kinds[0] == int(EventKind.DELETE) and qtys[0] == 5
    assert [q for k, q in zip(kinds, qtys, strict=True) if k == int(EventKind.TRADE)] == [2, 1]  # 2 then 1 of 3
    assert runs[1]["books"]["bid_qty"].values[len(orders) + 2, 0] == 2


def test_start_orders_that_do_not_make_the_context_book_are_refused(models):
    from generators.rollout import start_orders
    from simlab.errors import DataError

    context = _queues(models["gan"].context_)
    assert start_orders({**context, "orders": None}).shape[0] < context["orders"].shape[0]
    short = context["orders"].copy()
    short[0, 2] += 1
    with pytest.raises(DataError, match="start orders of side 1 hold"):
        start_orders({**context, "orders": short})
    moved = context["orders"].copy()
    moved[[0, 1], 2] += [1, -1]  # the same lots per side, another split between two prices
    assert moved[0, 1] != moved[1, 1] and moved[0, 0] == moved[1, 0] == 1
    with pytest.raises(DataError, match="start orders at price"):
        start_orders({**context, "orders": moved})


def _mirror_context(context: dict, centre: int) -> dict:
    # the context flipped side for side: the bids become asks at centre - price and the asks bids, the history's
    # sides negated (its prices are from the side's own best, its positions from the side's own depth: unchanged)
    books = np.asarray(context["books"], np.int64)
    flip = lambda prices: np.where(prices == NO_PRICE, NO_PRICE, centre - prices)  # noqa: E731
    mirrored = np.stack([flip(books[:, 2]), books[:, 3], flip(books[:, 0]), books[:, 1]], axis=1)
    table = np.asarray(context["table"], np.int64).copy()
    table[:, enc.SIDE] *= -1
    return {**context, "books": mirrored, "table": table}


class Mirrored(RandomBlocks):
    """:class:`RandomBlocks` with every generated side negated: the same messages for the mirrored book."""

    def __call__(self, history: np.ndarray, book: np.ndarray) -> np.ndarray:
        rows = super().__call__(history, book)
        rows[..., enc.SIDE] = np.where(rows[..., enc.SIDE] == 0, 0, -rows[..., enc.SIDE])  # 0 stays a bad value
        return rows


@pytest.mark.parametrize("position", ["level", "volume", "depth", "spread"])
def test_a_book_flipped_side_for_side_rolls_out_flipped_on_both_rollouts(models, position):
    # the rules have no side of their own: the same random messages with their sides negated, from the context
    # flipped side for side, give the flipped events and books, the same rejections and the flipped network inputs
    from simlab.random import spawn

    model = models["gan"]
    encoding = replace(_with_level_prices(model.encoding_), cancel_position=position)
    if position in ("depth", "spread"):  # the pseudo-depths (and the spread's scales) swap sides with the book
        ticks = (3, 5) if position == "spread" else ()
        encoding, flipped_encoding = (
            replace(encoding, beyond_lots=(40, 90), beyond_ticks=ticks),
            replace(encoding, beyond_lots=(90, 40), beyond_ticks=ticks[::-1]),
        )
    else:
        flipped_encoding = encoding
    books = np.asarray(model.context_["books"], np.int64)
    centre = int(books[:, [0, 2]][books[:, [1, 3]] > 0].min() + books[:, [0, 2]][books[:, [1, 3]] > 0].max())
    mirror = _mirror_context(model.context_, centre)
    volume = position != "level"
    attrs = {**model.context_["attrs"], "generator": "random"}
    for function in (rollout, rollout_fast):
        runs = []
        runs_ = (
            (RandomBlocks(9, volume=volume), model.context_, encoding),
            (Mirrored(9, volume=volume), mirror, flipped_encoding),
        )
        for blocks, context, coding in runs_:
            paths = function(blocks, coding, context, n_paths=3, duration_ns=4 * 10**9, depth=12, rngs=spawn(9, 3))
            runs.append(([p.datasets(attrs, "t") for p in paths], [p.counts.to_dict() for p in paths], blocks.inputs))
        (plain, plain_counts, plain_inputs), (flipped, flipped_counts, flipped_inputs) = runs
        assert plain_counts == flipped_counts and sum(c["applied"] for c in plain_counts) > 100
        assert sum(c["rejected_no_level"] + c["rejected_crossing_add"] for c in plain_counts) > 0
        for a, b in zip(plain, flipped, strict=True):
            skip = int(a["events"].attrs["initial_orders"])
            ea, eb = (x["events"].isel(event=slice(skip, None)) for x in (a, b))
            for name in ("ts_ns", "kind", "qty_lots"):
                np.testing.assert_array_equal(ea[name].values, eb[name].values, err_msg=name)
            np.testing.assert_array_equal(ea["side"].values, -eb["side"].values)
            np.testing.assert_array_equal(ea["price_ticks"].values, centre - eb["price_ticks"].values)
            ba, bb = (x["books"].isel(time=slice(skip, None)) for x in (a, b))
            for mine, other in (("bid", "ask"), ("ask", "bid")):
                np.testing.assert_array_equal(ba[f"{mine}_qty"].values, bb[f"{other}_qty"].values)
                pa, pb = ba[f"{mine}_price"].values, bb[f"{other}_price"].values
                np.testing.assert_array_equal(pa, np.where(pb == NO_PRICE, NO_PRICE, centre - pb))
        mean, std = np.asarray(encoding.book_mean), np.asarray(encoding.book_std)
        d, w = enc.DEPTH_LEVELS, enc.BOOK_WIDTH
        for (ha, fa), (hb, fb) in zip(plain_inputs, flipped_inputs, strict=True):
            hb = hb.copy()
            hb[..., enc.M_SIDE] *= -1
            assert ha.tobytes() == hb.tobytes()  # the histories: only the side differs
            ra, rb = fa * std + mean, fb * std + mean  # the raw book states: bid and ask swapped, signs negated
            swapped = np.concatenate(
                [rb[:, d : 2 * d], rb[:, :d], rb[:, 2 * d : 2 * d + 2], -rb[:, 2 * d + 2 : w], rb[:, w + d - 1 :],
                 rb[:, w : w + d - 1]], axis=1)  # fmt: skip
            np.testing.assert_allclose(ra, swapped, atol=1e-5)


def test_an_add_from_its_own_best_rests_at_the_touch_inside_or_behind_it_on_both_rollouts(models):
    # add_price = "own" (session 24): an ADD's price_rel_ticks are the ticks inside its own side's best ("touch":
    # those <= 0; the others from the opposite best). The bid
    # rests at 100, the ask at 102 (5 lots each, 5 levels); the default reads the same fields from the opposite best
    from dataclasses import replace

    from simlab.random import spawn

    model = models["gan"]
    context = _scripted_book(model, [100, 99, 97, 94, 90])
    a = enc.TYPE_ADD
    script = [(1, a, 1, 0, 3, 0), (1, a, -1, 0, 4, 0), (1, a, 1, 1, 2, 0), (1, a, 1, -2, 6, 0), (1, a, -1, 2, 1, 0)]
    prices = {}
    for add_price in ("own", "opposite", "touch"):
        encoding = replace(model.encoding_, add_price=add_price)
        runs, twins, histories = [], [], []
        for function in (rollout, rollout_fast):
            scripted = Script(list(script))
            paths = function(scripted, encoding, context, n_paths=1, duration_ns=10**9, depth=10,
                             rngs=spawn(0, 1))  # fmt: skip
            runs.append(paths[0].datasets({**context["attrs"], "generator": "script"}, "t"))
            twins.append(paths[0])
            histories.append(np.concatenate(scripted.histories))
        _same(runs[:1], runs[1:])
        assert histories[0].tobytes() == histories[1].tobytes()  # the kernel keeps the twin's codes, bit for bit
        events = runs[1]["events"].isel(event=slice(int(runs[1]["events"].attrs["initial_orders"]), None))
        prices[add_price] = events["price_ticks"].values.tolist()
        applied = np.array(twins[0].table[-len(prices[add_price]) :])
        if add_price != "opposite":  # the history keeps the fields of the prices taken ("touch": its own code)
            kept = {"own": [0, 0, 1, -2], "touch": [0, 0, 1, -2, -1]}[add_price]
            np.testing.assert_array_equal(applied[:, enc.PRICE], kept)
        crossing = runs[1]["events"].attrs["rejected_crossing_add"]
        assert crossing == {"own": 1, "opposite": 3, "touch": 0}[add_price], add_price
    # own: the touch (100, 102), one tick inside the bid (101), two behind that new best (99); the last, 2 inside the
    # ask at 102 (at 100: below the bid's best, crossing) is refused. Opposite: rel 0 lies at the opposite best and
    # -2 through it (refused); rel 1 is one tick inside the ask (101), the ask's rel 2 two ticks above that bid (103)
    assert prices["own"] == [100, 102, 101, 99]
    assert prices["opposite"] == [101, 103]
    # touch: <= 0 from the own best as "own", >= 1 from the opposite best; the ask's 2 lies two ticks above the bid at
    # 101 (103, behind the ask's best 102: kept as -1, the code of that price)
    assert prices["touch"] == [100, 102, 101, 99, 103]


def test_an_add_as_a_share_of_the_spread_is_read_against_the_spread_it_meets_on_both_rollouts(models):
    # add_price = "share" (session 25): a code in [0, ADD_SHARE_ONE) is a share of the spread the ADD meets, rounded
    # to the nearest tick strictly inside it; < 0 ticks behind the own best; >= ADD_SHARE_ONE through the opposite
    # quote (refused). The bid rests at 95-91, the ask at 102-106 (a spread of 7)
    from generators import rollout_kernel
    from simlab.random import spawn

    one = enc.ADD_SHARE_ONE
    assert rollout_kernel.ADD_SHARE_ONE == one  # the kernel's own constant
    model = models["gan"]
    context = _scripted_book(model, [95, 94, 93, 92, 91])
    encoding = replace(model.encoding_, add_price="share")
    a = enc.TYPE_ADD
    script = [(1, a, 1, 3 * one // 10, 3, 0), (1, a, -1, 3 * one // 10, 4, 0), (1, a, 1, one - 1, 2, 0),
              (1, a, -1, 7 * one // 10, 6, 0), (1, a, 1, -2, 1, 0), (1, a, -1, one + 1, 1, 0)]  # fmt: skip
    runs, twins, histories = [], [], []
    for function in (rollout, rollout_fast):
        scripted = Script(list(script))
        paths = function(scripted, encoding, context, n_paths=1, duration_ns=10**9, depth=10, rngs=spawn(0, 1))
        runs.append(paths[0].datasets({**context["attrs"], "generator": "script"}, "t"))
        twins.append(paths[0])
        histories.append(np.concatenate(scripted.histories))
    _same(runs[:1], runs[1:])
    assert histories[0].tobytes() == histories[1].tobytes()
    events = runs[1]["events"].isel(event=slice(int(runs[1]["events"].attrs["initial_orders"]), None))
    # 0.3 of 7 ticks: 2 inside the bid (97); 0.3 of 5: 1.5, half up, 2 inside the ask (100); 0.999999 of 3: 3, the
    # nearest inside is 2 (99); a spread of 1: the touch (100); -2: two behind the bid (97); one + 1: two ticks
    # inside the ask's best 100 (98, through the bid at 99: refused)
    assert events["price_ticks"].values.tolist() == [97, 100, 99, 100, 97]
    assert runs[1]["events"].attrs["rejected_crossing_add"] == 1
    applied = np.array(twins[0].table[-5:])  # the history keeps the share of the ticks taken, of the spread met
    np.testing.assert_array_equal(applied[:, enc.PRICE], [285714, 400000, 666667, 0, -2])


def test_a_checkpoint_with_adds_from_their_own_best_is_saved_loaded_and_refused_without_the_option(models, tmp_path):
    # the weights are the fixture's (trained with the default prices): the checkpoint's layout is what is tested
    import copy
    import json

    from generators.checkpoint import CONFIG_FILE
    from simlab.errors import DataError

    model = copy.copy(models["diffusion"])
    model.encoding_ = replace(model.encoding_, add_price="own")
    model.save(tmp_path / "m")
    config = json.loads((tmp_path / "m" / CONFIG_FILE).read_text())
    assert config["encoding"]["add_price"] == "own"
    assert config["encoding_version"] == "4+add_price=own" == enc.layout_version(add_price="own")
    loaded = DiffusionGenerator.load(tmp_path / "m")
    assert loaded.encoding_ == model.encoding_ and loaded.encoding_.add_price == "own"
    twin = loaded.sample(2, 3.0, generator=5, stop_when_stuck=True, twin=True)
    _same(twin, loaded.sample(2, 3.0, generator=5, stop_when_stuck=True))
    # a simlab without the option reads no add_price and expects encoding_version 4: refused, our sentence
    old = {**config, "encoding": {k: v for k, v in config["encoding"].items() if k != "add_price"}}
    (tmp_path / "m" / CONFIG_FILE).write_text(json.dumps(old))
    with pytest.raises(DataError, match=r"encoding_version must be 4 \(this simlab\); got '4\+add_price=own'"):
        DiffusionGenerator.load(tmp_path / "m")
    (tmp_path / "m" / CONFIG_FILE).write_text(json.dumps({**config, "encoding_version": 4}))  # an edited file
    with pytest.raises(DataError, match=r"encoding_version must be '4\+add_price=own' \(this simlab\); got 4"):
        DiffusionGenerator.load(tmp_path / "m")
    # "share" (session 25): its own layout string; a checkpoint of it is refused under another layout's string
    model.encoding_ = replace(model.encoding_, add_price="share")
    model.save(tmp_path / "s")
    config = json.loads((tmp_path / "s" / CONFIG_FILE).read_text())
    assert config["encoding_version"] == "4+add_price=share" == enc.layout_version(add_price="share")
    assert DiffusionGenerator.load(tmp_path / "s").encoding_.add_price == "share"
    (tmp_path / "s" / CONFIG_FILE).write_text(json.dumps({**config, "encoding_version": "4+add_price=own"}))
    with pytest.raises(DataError, match=r"encoding_version must be '4\+add_price=share' \(this simlab\); got '4\+ad"):
        DiffusionGenerator.load(tmp_path / "s")


def _interval_counts(path, start_ns: int, width_ns: int) -> np.ndarray:
    # the applied messages of a path per interval of its clock from its start, read from its records (the
    # message index of every event after the initial orders; a market order's fills share one)
    events = path.events[path.initial_orders :]
    _, first = np.unique(events[:, 6], return_index=True)
    return np.bincount((events[first, 0] - start_ns) // width_ns)


@pytest.mark.parametrize("seed", [1, 4])
def test_the_rate_guard_ends_a_runaway_path_alike_on_both_rollouts(models, seed):
    model = models["gan"]
    encoding, guard = model.encoding_, RateGuard(30, 0.25)
    attrs = {**model.context_["attrs"], "generator": "random"}
    runs = []
    for function in (rollout, rollout_fast):
        # the guard's intervals go on across a regime switch (at 2.1 s, inside the interval [2, 2.25) s)
        switches = [(2_100_000_000, RandomBlocks(seed + 100))]
        runs.append(_run(function, model.context_, encoding, seed, switches=switches, guard=guard)[0])
    twin, fast = runs
    _same([p.datasets(attrs, "t") for p in twin], [p.datasets(attrs, "t") for p in fast])
    start, ended = int(model.context_["ts_ns"]), [p.counts.runaway for p in fast]
    assert 0 < sum(ended) < len(fast)  # the bound splits these paths
    for path in fast:
        counts = _interval_counts(path, start, guard.window_ns)
        if path.counts.runaway:  # ended at the message that made one interval hold one more than the bound
            assert counts[-1] == guard.messages + 1 and (counts[:-1] <= guard.messages).all()
            assert path.events[-1, 0] < start + 4 * 10**9  # before the path's end
        else:
            assert counts.max() <= guard.messages
    # a bound no path reaches changes nothing: the same records and counts as without a guard
    loose, plain = (_run(rollout_fast, model.context_, encoding, seed, guard=g)[0] for g in (RateGuard(10**6, 1), None))
    for a, b in zip(loose, plain, strict=True):
        assert a.events.tobytes() == b.events.tobytes() and a.counts == b.counts and a.counts.runaway == 0


def test_a_sampled_path_records_its_rate_guard_and_a_bad_guard_is_refused(models):
    model = models["diffusion"]
    guard = RateGuard(7, 0.5)  # unguarded, these paths apply at most 6-9 messages in a half second
    fast = model.sample(3, 6.0, generator=5, stop_when_stuck=True, runaway=guard)
    _same(model.sample(3, 6.0, generator=5, stop_when_stuck=True, runaway=guard, twin=True), fast)
    attrs = fast[0]["events"].attrs
    assert (attrs["runaway_messages"], attrs["runaway_seconds"]) == (7, 0.5)
    assert sum(p["events"].attrs["runaway"] for p in fast) >= 1
    assert RateGuard.parse("1328/60") == RateGuard(1328, 60.0)
    for bad in ("1328", "0/60", "12/0", "x/60", "12/nan", "12/-1", "1_000/60", "\u0661\u0662/60", "5/1e12", "-3/60"):
        with pytest.raises(ParameterError, match="`--runaway` must be MESSAGES/SECONDS"):
            RateGuard.parse(bad)
    bad_guards = ((0, 1.0), (True, 1.0), (5, 0.0), (5, float("inf")), (5, "60"), (5, 1e12), (2**62, 1.0), (5, 1e-12))
    for messages, seconds in bad_guards:  # 1e12 s and 2**62 messages: beyond the kernel's int64
        with pytest.raises(ParameterError, match="rate guard must be"):
            RateGuard(messages, seconds)
    assert RateGuard(np.int64(5), np.float32(0.5)).window_ns == 500_000_000
    with pytest.raises(ParameterError, match="`runaway` of sample must be a RateGuard or None; got \\(10, 60\\)"):
        model.sample(1, 1.0, generator=5, runaway=(10, 60))
    front = model.sample(3, 6.0, generator=5, stop_when_stuck=True, trade_fill="front")
    _same(model.sample(3, 6.0, generator=5, stop_when_stuck=True, trade_fill="front", twin=True), front)
    assert front[0]["events"].attrs["trade_fill"] == "front" and fast[0]["events"].attrs["trade_fill"] == "queue"
    with pytest.raises(ParameterError, match="sample: `trade_fill` must be one of"):
        model.sample(1, 1.0, generator=5, trade_fill="front order")
