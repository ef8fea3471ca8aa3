"""Unknown depth stays explicit from the reader to the score: read_flow keeps the replay's masks, and the scorecard
with ``known_depth`` reads only the cells the data determine (and the unmasked scorecard is unchanged)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from generators.data import read_flow
from simlab.book.zero_intelligence import ZIParams, simulate_zi
from simlab.errors import DataError, ParameterError
from simlab.io.lobster import read_lobster, replay_lobster
from simlab.metrics import lobbench
from simlab.metrics._market import Market
from simlab.metrics.scorecard import score

EMPTY = {1: -9999999999, -1: 9999999999}


def _book_line(bids: list[tuple[int, int]], asks: list[tuple[int, int]], levels: int) -> str:
    fields = []
    for level in range(levels):
        for side, shown in ((-1, asks), (1, bids)):
            price, qty = shown[level] if level < len(shown) else (EMPTY[side], 0)
            fields += [str(price * 100 if qty else price), str(qty)]
    return ",".join(fields)


def _files(folder: Path) -> tuple[Path, Path, Path]:
    """A level-4 message file and the level-2 (message, orderbook) pair of its first message."""
    first = "34200.000,1,1,5,10000,1"  # bid ADD of 5 lots at 100 ticks
    deep = [
        first,
        "34200.001,1,2,7,9700,1",  # a bid ADD at 97: beyond the known 2 levels (98-99 unknown)
        "34200.002,1,3,4,10400,-1",  # an ask ADD at 104, beyond the known 2 levels
        "34200.003,3,1,5,10000,1",  # the bid at 100 deleted: level 2 becomes the best, the side knows 1 level
        "34200.004,1,4,6,10000,1",  # a bid ADD back at 100
    ]
    stem = "SIM_2012-06-21_0_0_{}_{}.csv"
    message, start_message, start_book = (folder / stem.format(k, n) for k, n in
                                          (("message", 4), ("message", 2), ("orderbook", 2)))  # fmt: skip
    message.write_text("\n".join(deep) + "\n")
    start_message.write_text(first + "\n")
    start_book.write_text(_book_line([(100, 5), (99, 3)], [(101, 4), (102, 2)], 2) + "\n")
    return message, start_message, start_book


def test_read_flow_keeps_the_replays_determined_masks(tmp_path):
    message, start_message, start_book = _files(tmp_path)
    flow = read_flow(message, (start_message, start_book))
    books = flow["books"]
    events = read_lobster(message)["events"].isel(event=slice(1, None))
    direct = replay_lobster(events, initial_book=read_lobster(start_message, start_book)["books"].isel(time=[0]),
                            levels=4)  # fmt: skip
    for name in ("bid_determined", "ask_determined"):
        assert books[name].dims == ("time", "level") and books[name].dtype == bool
        np.testing.assert_array_equal(books[name].values, direct[name].values)
    known = books["bid_determined"].values.sum(axis=1)
    assert known.tolist() == [2, 2, 1, 2]  # the delete at 100 leaves one known bid level
    unknown = ~books["bid_determined"].values
    assert unknown.any() and (books["bid_qty"].values[unknown] == 0).all()  # unknown cells read as 0: the masks say
    assert read_flow(message, (start_message, start_book))["books"].equals(books)


@pytest.fixture(scope="module")
def zi():
    params = ZIParams(limit_rate=0.3, market_rate=0.5, cancel_rate=0.05, band_ticks=12, size_law="geometric",
                      order_size=3.0)  # fmt: skip
    real, synthetic = (simulate_zi(params, 150.0, rng=seed, depth=6) for seed in (11, 12))
    return real, synthetic


def _masked(books: xr.Dataset, rng: np.random.Generator, garbage: int | None) -> xr.Dataset:
    # a prefix mask per row and side (as a replay writes), its unknown cells holding `garbage` (None: kept as they are)
    n, levels = books.sizes["time"], books.sizes["level"]
    out = books.copy(deep=True)
    for side in ("bid", "ask"):
        count = rng.integers(0, levels + 1, size=n)  # 0: the touch unknown too
        count[rng.random(n) < 0.6] = levels
        mask = np.arange(levels)[None, :] < count[:, None]
        out[f"{side}_determined"] = (("time", "level"), mask)
        if garbage is not None:
            out[f"{side}_qty"].values[~mask] = garbage
            sign = -1 if side == "bid" else 1
            out[f"{side}_price"].values[~mask] = out[f"{side}_price"].values[:, :1].repeat(levels, 1)[~mask] + sign
    return out


def _l1(card) -> dict[str, float]:
    return {(r.quantity, r.metric): r.distance.value for r in card.rows if r.distance is not None}


def test_the_masked_scorecard_reads_no_unknown_cell(zi):
    real, synthetic = zi
    a = {"events": real["events"], "books": _masked(real["books"], np.random.default_rng(1), None)}
    b = {"events": real["events"], "books": _masked(real["books"], np.random.default_rng(1), 777)}
    cards = [score(synthetic, r, seed=5, n_boot=20, discriminative=False, known_depth=True) for r in (a, b)]
    assert _l1(cards[0]) == _l1(cards[1])  # the unknown cells' contents change nothing
    plain = score(synthetic, b, seed=5, n_boot=20, discriminative=False, known_depth=False)  # garbage read if asked
    assert _l1(plain)[("bid_volume", "l1")] != _l1(cards[1])[("bid_volume", "l1")]
    default = score(synthetic, b, seed=5, n_boot=20, discriminative=False)  # masks with unknown cells: read them
    assert _l1(default) == _l1(cards[1]) and default.meta["known_depth"] is True
    m = Market(real["events"], b["books"], levels=None, source="real", known_depth=True)
    rows = m.quoted & m.side_known(1)
    assert 0 < rows.sum() < m.quoted.sum()
    np.testing.assert_array_equal(lobbench.volume("bid", False)(m), m.book[1][rows].sum(axis=1))
    assert 0 < cards[1].meta["real_known_cells"] < 1 and cards[1].meta["synthetic_known_cells"] is None


def test_without_masks_or_known_depth_the_scores_are_unchanged(zi):
    real, synthetic = zi
    masked = {"events": real["events"], "books": _masked(real["books"], np.random.default_rng(1), None)}
    before = score(synthetic, real, seed=5, n_boot=20, discriminative=False)
    for other in (
        score(synthetic, masked, seed=5, n_boot=20, discriminative=False, known_depth=False),  # masks declined
        score(synthetic, real, seed=5, n_boot=20, discriminative=False, known_depth=True),  # asked, none present
    ):
        for key in ("scores", "summary", "stylized_facts", "horizon"):
            assert json.dumps(other.to_dict()[key], default=str) == json.dumps(before.to_dict()[key], default=str)
    assert "known_depth" not in before.meta


def test_a_half_mask_and_the_lobbench_convention_are_refused(zi):
    real, synthetic = zi
    ones = np.ones(real["books"]["bid_qty"].shape, bool)
    half = {"events": real["events"], "books": real["books"].assign(bid_determined=(("time", "level"), ones))}
    with pytest.raises(DataError, match="'ask_determined' as bool"):
        score(synthetic, half, seed=5, n_boot=20, discriminative=False, known_depth=True)
    with pytest.raises(ParameterError, match="known_depth"):
        score(synthetic, real, seed=5, n_boot=20, convention="lobbench", known_depth=True)
    masked = {"events": real["events"], "books": _masked(real["books"], np.random.default_rng(1), None)}
    with pytest.raises(ParameterError, match=r"the real books mark [\d,]+ cells unknown .* known_depth=False"):
        score(synthetic, masked, seed=5, n_boot=20, convention="lobbench")  # reads every level: refused by default


def test_the_generators_realism_score_reads_the_masks(zi):
    from generators.evaluation import realism
    from scenarios.generate.heldout import score_models

    real, synthetic = zi
    b = {"events": real["events"], "books": _masked(real["books"], np.random.default_rng(1), 777)}
    (card,) = realism([synthetic], b, seed=5, n_boot=10)
    assert card.meta["known_depth"] is True and card.meta["real_known_cells"] < 1
    (old,) = realism([synthetic], b, seed=5, n_boot=10, known_depth=False)
    assert "known_depth" not in old.meta
    (cut,) = realism([synthetic], b, seed=5, n_boot=10, levels=3)
    assert cut.meta["levels"] == 3 and cut.meta["real_known_cells"] > card.meta["real_known_cells"]  # prefix masks
    with pytest.raises(ParameterError, match="`levels` of score_models"):
        score_models("unused.toml", [], levels=0)


def test_a_reference_whose_touches_are_never_known_has_no_ofi(zi):
    real, synthetic = zi
    known = np.ones(real["books"]["bid_qty"].shape, bool)
    known[1::2] = False  # every other row's bid unknown: quoted rows remain, but no second is wholly known
    books = real["books"].assign(bid_determined=(("time", "level"), known), ask_determined=(("time", "level"), known))
    card = score(synthetic, {"events": real["events"], "books": books}, seed=5, n_boot=10, discriminative=False,
                 known_depth=True)  # fmt: skip
    reasons = {r.quantity: r.reason for r in card.rows if r.distance is None}
    assert "touches are known" in reasons["ofi_l1|next_mid_move"] and "touches are known" in reasons["ofi_l1"]
    assert "spread_ticks" not in reasons  # the known rows still give the touch scores
