"""A removal's place as its position in the resting volume (``cancel_position = "volume"``, issue 15): exact round
trips on the real files, a hand-built book where a position takes the level whose share holds it (and another book
where the same position takes another level, in both rollouts), the spec's and the encoding's bad values refused,
and a checkpoint with the option saved, loaded and refused by a simlab without it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from generators import encoding as enc
from generators.checkpoint import CONFIG_FILE
from generators.diffusion import DiffusionGenerator
from generators.rollout import rollout
from generators.rollout_fast import rollout_fast
from generators.spec import load_spec
from scenarios.generate.ground_truth import load_truth_spec
from simlab.errors import DataError, ParameterError
from tests.generators.conftest import check_option_checkpoint
from tests.generators.test_diffusion import SMALL

GRID, BEYOND = enc.VOLUME_GRID, enc.VOLUME_BEYOND


@pytest.mark.parametrize("flow", ["aapl_hour", "amzn_day"])
def test_volume_positions_round_trip_exactly_on_the_real_files(flow, request):
    data = request.getfixturevalue(flow)
    events, books = data["events"], data["books"]
    levels = enc.message_table(events, books).table
    messages = enc.message_table(events, books, cancel_position="volume")
    for name, values in enc.decode(messages).items():  # the events come back exactly
        np.testing.assert_array_equal(values, events[name].values[1:], err_msg=name)
    table = messages.table
    removal = np.isin(table[:, enc.TYPE], [enc.TYPE_CANCEL, enc.TYPE_DELETE])
    assert removal.sum() > 10_000
    others = [enc.DT, enc.TYPE, enc.SIDE, enc.PRICE, enc.SIZE]
    np.testing.assert_array_equal(table[:, others], levels[:, others])  # only the removals' level field differs
    assert (table[~removal, enc.LEVEL] == 0).all()
    position = table[removal, enc.LEVEL]
    assert ((position >= 0) & (position < GRID) | (position == BEYOND)).all()
    # each position gives its level back in the book before it (beyond the shown levels: the level after them)
    rows = np.flatnonzero(removal)
    for sign, name in ((1, "bid"), (-1, "ask")):
        on_side = rows[table[rows, enc.SIDE] == sign]
        lots = enc.shown_lots(books[f"{name}_qty"].values[on_side, : enc.DEPTH_LEVELS])
        shown = (lots > 0).sum(axis=1)
        back = enc.position_level(table[on_side, enc.LEVEL], lots)
        np.testing.assert_array_equal(back, np.minimum(levels[on_side, enc.LEVEL], shown + 1))
        assert (back[shown > 0] >= 1).all()
    # the float vectors round-trip to the same integers, the positions too
    knots = enc.fit_knots(table)
    np.testing.assert_array_equal(enc.features_to_table(enc.message_features(table, knots), knots), table)


def test_a_position_takes_the_level_whose_share_of_the_depth_holds_it():
    a = np.array([[10, 30, 60, 0]])  # cumulative 10, 40, 100: shares [0, .1), [.1, .4), [.4, 1)
    position = enc.volume_position(np.array([1, 2, 3, 4]), np.repeat(a, 4, axis=0))
    np.testing.assert_array_equal(position, [GRID // 20, GRID // 4, 7 * GRID // 10, BEYOND])  # the middles
    np.testing.assert_array_equal(enc.position_level(position, np.repeat(a, 4, axis=0)), [1, 2, 3, 4])
    b = np.array([[60, 30, 10, 0]])  # another book: shares [0, .6), [.6, .9), [.9, 1)
    np.testing.assert_array_equal(enc.position_level(position, np.repeat(b, 4, axis=0)), [1, 1, 2, 4])
    edges = np.array([0, 6 * GRID // 10 - 1, 6 * GRID // 10, 9 * GRID // 10, GRID - 1, GRID, -1])
    np.testing.assert_array_equal(enc.position_level(edges, np.repeat(b, 7, axis=0)), [1, 1, 2, 3, 3, 4, 0])
    empty = np.zeros((2, 4), np.int64)  # a side without lots: no level inside it, the first level beyond it
    np.testing.assert_array_equal(enc.position_level(np.array([GRID // 2, BEYOND]), empty), [0, 1])
    np.testing.assert_array_equal(enc.volume_position(np.array([1]), empty[:1]), [BEYOND])
    np.testing.assert_array_equal(enc.shown_lots(np.array([[5, 0, 7, 0, 2]])), [[5, 7, 2, 0, 0]])


class _OneRemoval:
    """A stand-in model: a DELETE of the bid at one position (``price`` ticks behind the best), then nothing before
    the horizon."""

    def __init__(self, position: int, size: int, price: int = 0) -> None:
        self.position, self.size, self.price, self.calls = position, size, price, 0

    def __call__(self, history: np.ndarray, book: np.ndarray) -> np.ndarray:
        rows = np.zeros((history.shape[0], 1, 6), np.int64)
        rows[..., enc.DT], rows[..., enc.SIDE], rows[..., enc.SIZE] = 10**12, 1, 1  # past the horizon: the end
        if self.calls == 0:
            rows[..., enc.DT], rows[..., enc.TYPE], rows[..., enc.PRICE] = 1000, enc.TYPE_DELETE, self.price
            rows[..., enc.SIZE], rows[..., enc.LEVEL] = self.size, self.position
        self.calls += 1
        return rows


def _context(bid_lots: list[int]) -> dict:
    # a context of 65 equal books: bids at 1000, 999, 998 (`bid_lots`), asks 5 lots at 1001-1003, one order each
    book = np.zeros((4, enc.DEPTH_LEVELS), np.int64)
    book[[0, 2]] = -(2**63)
    book[0, :3], book[1, :3] = [1000, 999, 998], bid_lots
    book[2, :3], book[3, :3] = [1001, 1002, 1003], 5
    table = np.zeros((64, 6), np.int64)
    table[:, enc.SIDE], table[:, enc.PRICE], table[:, enc.SIZE] = 1, 1, 1
    return {"books": np.repeat(book[None], 65, axis=0), "table": table, "ts_ns": 0, "attrs": {}}


@pytest.fixture(scope="module")
def volume_model(zi_spans):
    train = zi_spans["train"]
    spans = {**zi_spans, "train": {**train, "books": train["books"].assign_attrs({enc.CANCEL_POSITION: "volume"})}}
    return DiffusionGenerator(SMALL, device="cpu").fit(spans, seed=3)


def test_the_rollouts_map_one_position_to_the_level_that_holds_it_in_the_book_they_meet(volume_model):
    encoding = volume_model.encoding_
    assert encoding.cancel_position == "volume"
    position = GRID // 4  # the middle of level 2 in a book of 10, 30, 60 lots; in 60, 30, 10 inside level 1
    for lots, price, kept in (([10, 30, 60], 999, GRID // 4), ([60, 30, 10], 1000, 3 * GRID // 10)):
        removed = []
        for function in (rollout, rollout_fast):
            paths = function(_OneRemoval(position, lots[0 if price == 1000 else 1]), encoding, _context(lots),
                             n_paths=1, duration_ns=10**9, depth=10, rngs=[np.random.default_rng(0)])  # fmt: skip
            data = paths[0].datasets({"tick_size": 0.01, "lot_size": 1.0, "instrument": "X", "venue": "Y"}, "test")
            events = data["events"]
            assert events.attrs["applied"] == 1
            last = int(events.sizes["event"]) - 1
            removed.append((int(events["kind"].values[last]), int(events["price_ticks"].values[last])))
            history = paths[0].table[-1] if function is rollout else None
            if history is not None:  # the history keeps the middle of the level it took, as the encoding writes it
                assert history[enc.LEVEL] == kept
        assert removed == [(3, price), (3, price)]  # a DELETE at the level the position falls in, in both rollouts
    assert enc.volume_position(np.array([1]), np.array([[60, 30, 10]]))[0] == 3 * GRID // 10


def test_bad_values_of_the_option_are_refused_with_our_sentence(tmp_path, zi_spans):
    library = Path(__file__).resolve().parents[2] / "scenarios" / "library"
    text = (library / "generate_aapl_tiny_volume.toml").read_text()
    assert load_spec(library / "generate_aapl_tiny_volume.toml").cancel_position == "volume"
    assert load_spec(library / "generate_aapl_tiny.toml").cancel_position == "level"
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace('cancel_position = "volume"', 'cancel_position = "price"'))
    choices = r"must be one of \['level', 'volume', 'depth', 'spread'\]"
    with pytest.raises(ParameterError, match=r"cancel_position in table 'data' " + choices):
        load_spec(bad)
    truth = (library / "generate_hawkes_truth_tiny_volume.toml").read_text()
    assert load_truth_spec(library / "generate_hawkes_truth_tiny_volume.toml").cancel_position == "volume"
    bad.write_text(truth.replace('cancel_position = "volume"', "cancel_position = true"))
    with pytest.raises(ParameterError, match=r"`cancel_position` of the ground-truth spec must be one of"):
        load_truth_spec(bad)
    train = zi_spans["train"]
    with pytest.raises(ParameterError, match=r"train span: cancel_position must be one of .* got 'lots'"):
        enc.fit_encoding(train["events"], train["books"].assign_attrs({enc.CANCEL_POSITION: "lots"}), history=8,
                         source="train span")  # fmt: skip
    encoding = enc.fit_encoding(train["events"], train["books"], history=8).to_dict()
    assert "cancel_position" not in encoding  # the default encoding's dictionary is unchanged
    with pytest.raises(DataError, match=r"encoding 'cancel_position' " + choices + "; got 'x'"):
        enc.Encoding.from_dict({**encoding, "cancel_position": "x"})


def test_a_checkpoint_with_the_option_is_saved_loaded_and_refused_by_a_simlab_without_it(volume_model, tmp_path):
    # saved, loaded, sampled alike on both rollouts; a simlab without the option refuses it with our sentence
    config = check_option_checkpoint(volume_model, tmp_path / "m", "cancel_position", "volume", 3.0)
    assert config["encoding_version"] == enc.layout_version("volume")
    # the option without its layout (an edited file) is refused too
    (tmp_path / "m" / CONFIG_FILE).write_text(json.dumps({**config, "encoding_version": 4}))
    with pytest.raises(DataError, match=r"encoding_version must be '4\+cancel_position=volume' \(this simlab\); got 4"):
        DiffusionGenerator.load(tmp_path / "m")
