"""A removal's place as its share of the side's depth plus a pseudo-depth behind the counted levels
(``cancel_position = "depth"``, session 19): the pseudo-depth is the maximum-likelihood one of the inside share, a
removal beyond the levels is the middle of the last share (and any position there is beyond them), exact round
trips on the AAPL hour, both rollouts placing one position inside or beyond the levels by the book they meet, bad
values refused, and a checkpoint with the option saved and loaded."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from generators import encoding as enc
from generators.checkpoint import CONFIG_FILE
from generators.diffusion import DiffusionGenerator
from generators.rollout import rollout
from generators.rollout_fast import rollout_fast
from simlab.errors import DataError, ParameterError
from tests.generators.test_cancel_position import _context, _OneRemoval
from tests.generators.test_diffusion import SMALL

GRID, BEYOND = enc.VOLUME_GRID, enc.VOLUME_BEYOND


def test_the_pseudo_depth_is_the_maximum_likelihood_one_of_the_inside_share():
    rng = np.random.default_rng(0)
    depth = rng.integers(100, 3000, 20_000)
    for k in (300, 1500):
        inside = rng.random(depth.shape[0]) < depth / (depth + k)
        assert abs(enc.pseudo_depth(depth, inside) - k) < 0.08 * k
    assert enc.pseudo_depth(depth, np.ones(depth.shape[0], bool)) == 1  # nothing beyond the levels


def test_a_removal_beyond_the_levels_is_the_last_share_of_the_depth_and_the_shares_follow_the_book():
    a = np.repeat(np.array([[10, 30, 60, 0]]), 4, axis=0)  # with K = 100: shares [0, .05), [.05, .2), [.2, .5), [.5, 1)
    position = enc.volume_position(np.array([1, 2, 3, 4]), a, 100)
    np.testing.assert_array_equal(position, [GRID // 40, GRID // 8, 7 * GRID // 20, 3 * GRID // 4])  # the middles
    np.testing.assert_array_equal(enc.position_level(position, a, 100), [1, 2, 3, 4])
    without = enc.volume_position(np.array([1, 2, 3, 4]), a)  # "volume": no pseudo-depth, the beyond atom
    np.testing.assert_array_equal(without, [GRID // 20, GRID // 4, 7 * GRID // 10, BEYOND])
    # the same position is inside a fuller side and beyond a thinner one: 0.45 of (100 + 100) lots is inside level 3,
    # of (10 + 100) beyond
    edges = np.array([0, GRID // 2 - 1, GRID // 2, GRID - 1, GRID, BEYOND, -1])
    np.testing.assert_array_equal(enc.position_level(edges, np.repeat(a[:1], 7, axis=0), 100), [1, 3, 4, 4, 4, 4, 0])
    thin = np.array([[10, 0, 0, 0]])
    assert enc.position_level(np.array([45 * GRID // 100]), a[:1], 100)[0] == 3
    assert enc.position_level(np.array([45 * GRID // 100]), thin, 100)[0] == 2  # beyond its one level
    # a side without lots: every position is beyond it (level 1, which the rollout cannot remove from)
    empty = np.zeros((2, 4), np.int64)
    np.testing.assert_array_equal(enc.position_level(np.array([0, GRID // 2]), empty, 100), [1, 1])
    assert enc.volume_position(np.array([1]), empty[:1], 100)[0] == GRID // 2


def test_depth_positions_round_trip_exactly_on_the_aapl_hour(aapl_hour):
    events, books = aapl_hour["events"], aapl_hour["books"]
    beyond = enc.fit_beyond_lots(events, books)
    assert all(k > 1 for k in beyond)
    levels = enc.message_table(events, books).table
    messages = enc.message_table(events, books, cancel_position="depth", beyond_lots=beyond)
    for name, values in enc.decode(messages).items():  # the events come back exactly
        np.testing.assert_array_equal(values, events[name].values[1:], err_msg=name)
    table = messages.table
    removal = np.isin(table[:, enc.TYPE], [enc.TYPE_CANCEL, enc.TYPE_DELETE])
    others = [enc.DT, enc.TYPE, enc.SIDE, enc.PRICE, enc.SIZE]
    np.testing.assert_array_equal(table[:, others], levels[:, others])  # only the removals' level field differs
    assert ((table[removal, enc.LEVEL] >= 0) & (table[removal, enc.LEVEL] < GRID)).all()  # no "beyond" atom
    _each_removal_decodes_to_its_level(table, levels, books, beyond)
    knots = enc.fit_knots(table)
    np.testing.assert_array_equal(enc.features_to_table(enc.message_features(table, knots), knots), table)


def _behind(position: int, size: int) -> _OneRemoval:
    return _OneRemoval(position, size, price=2)  # 2 ticks behind the best


def _each_removal_decodes_to_its_level(table, levels, books, beyond_lots) -> list:
    """Each side's removals decode, in the book they met, to the level the level encoding gave them (a level past
    the shown ones: the first beyond); return per side the rows and which of them lie beyond."""
    removal = np.flatnonzero(np.isin(table[:, enc.TYPE], [enc.TYPE_CANCEL, enc.TYPE_DELETE]))
    out = []
    for sign, name, k in ((1, "bid", beyond_lots[0]), (-1, "ask", beyond_lots[1])):
        rows = removal[table[removal, enc.SIDE] == sign]
        lots = enc.shown_lots(books[f"{name}_qty"].values[rows, : enc.DEPTH_LEVELS])
        shown = (lots > 0).sum(axis=1)
        back = enc.position_level(table[rows, enc.LEVEL], lots, k)
        np.testing.assert_array_equal(back, np.minimum(levels[rows, enc.LEVEL], shown + 1))
        out.append((rows, back > shown))
    return out


@pytest.fixture(scope="module")
def depth_model(zi_spans):
    train = zi_spans["train"]
    spans = {**zi_spans, "train": {**train, "books": train["books"].assign_attrs({enc.CANCEL_POSITION: "depth"})}}
    return DiffusionGenerator(SMALL, device="cpu").fit(spans, seed=3)


def test_the_rollouts_take_a_position_inside_or_beyond_the_levels_by_the_book_they_meet(depth_model):
    # 2 counted levels and 60 lots behind them on the bid: in a book of 10 / 30 / 60 lots the shares of 40 + 60 are
    # [0, .1), [.1, .4) and beyond [.4, 1); in 60 / 30 / 10 the shares of 90 + 60 are [0, .4), [.4, .6), beyond [.6, 1)
    encoding = replace(depth_model.encoding_, book_levels=2, beyond_lots=(60, 5))
    attrs = {"tick_size": 0.01, "lot_size": 1.0, "instrument": "X", "venue": "Y"}
    cases = [
        ([10, 30, 60], GRID // 4, 999, 30, GRID // 4),  # level 2, kept as its middle
        ([10, 30, 60], 7 * GRID // 10, 998, 60, 7 * GRID // 10),  # beyond: placed by its price (2 ticks behind)
        ([60, 30, 10], 7 * GRID // 10, 998, 10, 8 * GRID // 10),  # beyond in this book too, kept as its share's middle
        ([60, 30, 10], GRID // 4, 1000, 60, GRID // 5),  # level 1 here
    ]
    for lots, position, price, size, kept in cases:
        removed = []
        for function in (rollout, rollout_fast):
            paths = function(_behind(position, size), encoding, _context(lots), n_paths=1, duration_ns=10**9,
                             depth=10, rngs=[np.random.default_rng(0)])  # fmt: skip
            events = paths[0].datasets(attrs, "test")["events"]
            assert events.attrs["applied"] == 1
            last = int(events.sizes["event"]) - 1
            removed.append(tuple(int(events[n].values[last]) for n in ("kind", "price_ticks", "qty_lots")))
            if function is rollout:  # the history keeps the middle of the share it took, as the encoding writes it
                assert paths[0].table[-1][enc.LEVEL] == kept
        assert removed == [(3, price, size)] * 2, (lots, position)


def test_bad_values_of_the_depth_option_are_refused_with_our_sentence(depth_model, zi_spans):
    encoding = depth_model.encoding_.to_dict()
    assert encoding["cancel_position"] == "depth" and len(encoding["beyond_lots"]) == 2
    with pytest.raises(
        DataError,
        match=r"encoding 'beyond_lots' must be 2 ints >= 1 \(bid, ask\) with cancel_position 'depth'; got \[\]",
    ):
        enc.Encoding.from_dict({**encoding, "beyond_lots": []})
    with pytest.raises(DataError, match=r"encoding 'beyond_lots' must be absent with cancel_position 'volume'"):
        enc.Encoding.from_dict({**encoding, "cancel_position": "volume"})
    train = zi_spans["train"]
    with pytest.raises(ParameterError, match=r"cancel_position 'depth' needs beyond_lots of 2 ints >= 1; got \(\)"):
        enc.message_table(train["events"], train["books"], cancel_position="depth")


def test_a_checkpoint_with_the_depth_option_is_saved_and_loaded(depth_model, tmp_path):
    depth_model.save(tmp_path / "m")
    config = json.loads((tmp_path / "m" / CONFIG_FILE).read_text())
    assert config["encoding_version"] == "4+cancel_position=depth" == enc.layout_version("depth")
    assert config["encoding"]["beyond_lots"] == list(depth_model.encoding_.beyond_lots)
    loaded = DiffusionGenerator.load(tmp_path / "m")
    assert loaded.encoding_ == depth_model.encoding_
    twin = loaded.sample(2, 3.0, generator=5, stop_when_stuck=True, twin=True)
    fast = loaded.sample(2, 3.0, generator=5, stop_when_stuck=True)
    for x, y in zip(twin, fast, strict=True):
        assert x["events"].equals(y["events"]) and x["books"].equals(y["books"])
    assert sum(path["events"].attrs["applied"] for path in fast) > 0
    (tmp_path / "m" / CONFIG_FILE).write_text(json.dumps({**config, "encoding_version": "4+cancel_position=volume"}))
    with pytest.raises(DataError, match=r"encoding_version must be '4\+cancel_position=depth' \(this simlab\)"):
        DiffusionGenerator.load(tmp_path / "m")


def test_a_spread_position_lies_in_the_pseudo_depth_share_by_its_ticks_behind_the_last_level():
    # 100 lots on the levels, K = 100, scale 10: the share is [0.5, 1); 10 ticks behind is its middle
    ticks = np.array([1, 10, 90, 10**6])
    position = enc.spread_position(np.full(4, 100), 100, ticks, 10)
    np.testing.assert_array_equal(position, [545_454_545, 3 * GRID // 4, 95 * GRID // 100, 999_995_000])
    assert (np.diff(position) > 0).all() and (position >= GRID // 2).all() and (position < GRID).all()
    np.testing.assert_array_equal(enc.position_level(position, np.repeat([[100, 0]], 4, axis=0), 100), [2] * 4)
    prices = np.array([[1000, 999, 998, -(2**63)]])
    lots = np.array([[5, 5, 5, 0]])
    assert enc.behind_last(prices, lots, np.array([990]), 1, 7)[0] == 8  # the bid's last level at 998
    assert enc.behind_last(np.array([[1001, 1003, 0]]), np.array([[5, 5, 0]]), np.array([1010]), -1, 7)[0] == 7
    assert enc.behind_last(prices, np.zeros_like(lots), np.array([990]), 1, 7)[0] == 7  # no level: the scale


def test_spread_positions_round_trip_exactly_on_the_aapl_hour(aapl_hour):
    events, books = aapl_hour["events"], aapl_hour["books"]
    lots, ticks = enc.fit_beyond_lots(events, books), enc.fit_beyond_ticks(events, books)
    assert all(t >= 1 for t in ticks)
    levels = enc.message_table(events, books).table
    messages = enc.message_table(events, books, cancel_position="spread", beyond_lots=lots, beyond_ticks=ticks)
    for name, values in enc.decode(messages).items():
        np.testing.assert_array_equal(values, events[name].values[1:], err_msg=name)
    table = messages.table
    for rows, beyond in _each_removal_decodes_to_its_level(table, levels, books, lots):
        assert len(np.unique(table[rows[beyond], enc.LEVEL])) > 0.5 * beyond.sum()  # spread, not one point per book


def test_the_rollouts_keep_a_spread_position_by_the_order_they_took(depth_model):
    # 2 counted levels (10 / 30 lots), K = 60 and a scale of 2 ticks: a removal at 998, 1 tick behind 999, keeps
    # 0.4 + 0.6 / 3 of the depth; one inside keeps its level's middle as under "depth"
    encoding = replace(depth_model.encoding_, cancel_position="spread", book_levels=2, beyond_lots=(60, 5),
                       beyond_ticks=(2, 9))  # fmt: skip
    attrs = {"tick_size": 0.01, "lot_size": 1.0, "instrument": "X", "venue": "Y"}
    expected = int(enc.spread_position(np.array([40]), 60, np.array([1]), 2)[0])
    assert abs(expected - 6 * GRID // 10) <= 1
    for position, price, size, kept in ((GRID // 4, 999, 30, GRID // 4), (7 * GRID // 10, 998, 60, expected)):
        removed, histories = [], []
        for function in (rollout, rollout_fast):
            paths = function(_behind(position, size), encoding, _context([10, 30, 60]), n_paths=1, duration_ns=10**9,
                             depth=10, rngs=[np.random.default_rng(0)])  # fmt: skip
            events = paths[0].datasets(attrs, "test")["events"]
            last = int(events.sizes["event"]) - 1
            removed.append(tuple(int(events[n].values[last]) for n in ("kind", "price_ticks", "qty_lots")))
            if function is rollout:
                histories.append(int(paths[0].table[-1][enc.LEVEL]))
        assert removed == [(3, price, size)] * 2 and histories == [kept]


def test_a_spread_encoding_saves_its_scales_and_is_refused_without_them(depth_model, tmp_path):
    encoding = replace(depth_model.encoding_, cancel_position="spread", beyond_ticks=(31, 15))
    model = DiffusionGenerator(SMALL, device="cpu")
    model.model_, model.encoding_, model.context_ = depth_model.model_, encoding, depth_model.context_
    model.training_ = depth_model.training_
    model.save(tmp_path / "s")  # a "spread" checkpoint records its layout and loads back
    assert json.loads((tmp_path / "s" / CONFIG_FILE).read_text())["encoding_version"] == "4+cancel_position=spread"
    assert DiffusionGenerator.load(tmp_path / "s").encoding_ == encoding
    values = encoding.to_dict()
    assert values["beyond_ticks"] == [31, 15] and enc.Encoding.from_dict(values) == encoding
    assert enc.layout_version("spread") == "4+cancel_position=spread"
    with pytest.raises(DataError, match=r"encoding 'beyond_ticks' must be 2 ints >= 1 \(bid, ask\) with cancel_posi"):
        enc.Encoding.from_dict({k: v for k, v in values.items() if k != "beyond_ticks"})
    with pytest.raises(DataError, match=r"encoding 'beyond_ticks' must be absent with cancel_position 'depth'"):
        enc.Encoding.from_dict({**values, "cancel_position": "depth"})
    assert "beyond_ticks" not in depth_model.encoding_.to_dict()  # "depth" saves none
