"""The level positions in the book state (``level_prices``, issue 15): the columns of a hand-built book, the option
saved and restored with the model (and its networks' width), the kernels' inputs equal to the twin's, and a
checkpoint of the other encoding refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from generators import encoding as enc
from generators.checkpoint import CONFIG_FILE
from generators.diffusion import DiffusionGenerator
from generators.spec import load_spec
from simlab.errors import DataError, ParameterError
from tests.generators.test_diffusion import SMALL


def _book(bid: list[tuple[int, int]], ask: list[tuple[int, int]]) -> tuple[np.ndarray, ...]:
    # one row of 10 levels from (price, qty) pairs (the rest empty)
    arrays = [np.zeros((1, enc.DEPTH_LEVELS), np.int64) for _ in range(4)]
    for side, levels in ((0, bid), (2, ask)):
        for k, (price, qty) in enumerate(levels):
            arrays[side][0, k], arrays[side + 1][0, k] = price, qty
    return tuple(arrays)


def test_the_level_positions_are_the_log_ticks_from_the_sides_best_and_zero_where_empty():
    bid = [(100, 5), (99, 3), (97, 1), (90, 2)]  # 4 levels: 1, 3 and 10 ticks behind the best
    ask = [(102, 4)] + [(102 + 2 * k, 1) for k in range(1, 10)]  # 10 levels, 2 ticks apart
    books, signs = _book(bid, ask), np.zeros(1)
    plain = enc.book_features(books, signs)
    out = enc.book_features(books, signs, level_prices=True)
    assert plain.shape == (1, enc.BOOK_WIDTH) and out.shape == (1, enc.BOOK_WIDTH + 18) == (1, enc.book_width(True))
    assert out[:, : enc.BOOK_WIDTH].tobytes() == plain.tobytes()  # the default columns are unchanged
    expected_bid = np.log1p([1, 3, 10, 0, 0, 0, 0, 0, 0])
    expected_ask = np.log1p(2 * np.arange(1, 10))
    np.testing.assert_allclose(out[0, enc.BOOK_WIDTH : enc.BOOK_WIDTH + 9], expected_bid, rtol=0, atol=1e-12)
    np.testing.assert_allclose(out[0, enc.BOOK_WIDTH + 9 :], expected_ask, rtol=0, atol=1e-12)
    # a side with no best shows no positions, the other keeps its own
    empty_bid = enc.book_features(_book([(0, 0)], ask), signs, level_prices=True)
    assert (empty_bid[0, enc.BOOK_WIDTH : enc.BOOK_WIDTH + 9] == 0).all()
    np.testing.assert_allclose(empty_bid[0, enc.BOOK_WIDTH + 9 :], expected_ask, rtol=0, atol=1e-12)


@pytest.fixture(scope="module")
def levels_model(zi_spans):
    train = zi_spans["train"]
    spans = {**zi_spans, "train": {**train, "books": train["books"].assign_attrs({enc.LEVEL_PRICES: True})}}
    return DiffusionGenerator(SMALL, device="cpu").fit(spans, seed=3), spans


def test_the_option_is_saved_and_restored_with_the_model_and_the_kernels_give_the_twins_inputs(levels_model, tmp_path):
    model, _ = levels_model
    assert model.encoding_.level_prices and model.encoding_.book_width == enc.BOOK_WIDTH + 18
    assert model.model_.book[0].in_features == enc.BOOK_WIDTH + 18
    assert np.asarray(model.encoding_.book_std[enc.BOOK_WIDTH :]).min() > enc.STD_FLOOR  # the ZI levels do move
    model.save(tmp_path / "m")
    saved = json.loads((tmp_path / "m" / CONFIG_FILE).read_text())
    assert saved["encoding"]["level_prices"] is True
    loaded = DiffusionGenerator.load(tmp_path / "m")
    assert loaded.encoding_ == model.encoding_ and loaded.model_.book[0].in_features == enc.BOOK_WIDTH + 18
    twin = loaded.sample(2, 2.0, generator=5, stop_when_stuck=True, twin=True)
    fast = loaded.sample(2, 2.0, generator=5, stop_when_stuck=True)
    for x, y in zip(twin, fast, strict=True):
        assert x["events"].equals(y["events"]) and x["books"].equals(y["books"])
    assert sum(path["events"].attrs["applied"] for path in fast) > 0


def test_a_checkpoint_of_the_other_encoding_is_refused(levels_model, zi_spans, tmp_path):
    model, spans = levels_model
    model.save(tmp_path / "m")
    config = json.loads((tmp_path / "m" / CONFIG_FILE).read_text())
    encoding = config["encoding"]
    del encoding["level_prices"]  # the default encoding's dictionary, with the wider statistics: refused
    (tmp_path / "m" / CONFIG_FILE).write_text(json.dumps(config))
    with pytest.raises(DataError, match="encoding 'book_mean' must hold 25 numbers"):
        DiffusionGenerator.load(tmp_path / "m")
    encoding["book_mean"], encoding["book_std"] = encoding["book_mean"][:25], encoding["book_std"][:25]
    (tmp_path / "m" / CONFIG_FILE).write_text(json.dumps(config))  # consistent, but the weights are 43 wide
    with pytest.raises(DataError, match="its weights or context do not fit its config"):
        DiffusionGenerator.load(tmp_path / "m")
    model.save(tmp_path / "run")  # resuming with the default encoding from a level-prices run is refused
    with pytest.raises(ParameterError, match="cannot resume: it was trained with another encoding"):
        DiffusionGenerator(SMALL, device="cpu").fit(zi_spans, seed=3, checkpoint=tmp_path / "run", resume=True)
    encoding["level_prices"] = "yes"
    with pytest.raises(DataError, match="encoding 'level_prices' must be true or false; got 'yes'"):
        enc.Encoding.from_dict(encoding)


def test_the_levels_spec_is_the_default_spec_with_level_prices():
    library = Path(__file__).resolve().parents[2] / "scenarios" / "library"
    default = load_spec(library / "generate_aapl_tiny.toml")
    levels = load_spec(library / "generate_aapl_tiny_levels.toml")
    assert levels.level_prices and not default.level_prices
    fields = ("message", "books", "seed", "split", "family", "preset", "overrides", "span_s", "known_depth_only")
    assert all(getattr(levels, name) == getattr(default, name) for name in fields)
