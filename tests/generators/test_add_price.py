"""add_price = "own" and "touch" (session 24) and "share" (session 25): an ADD's price as the ticks inside its own
side's best (all of them, or those at or behind it; "share": those inside the spread as their share of it), written,
decoded, saved and refused as the encoding's other options are."""

from __future__ import annotations

import numpy as np
import pytest

from generators import encoding as enc
from generators.spec import load_spec
from simlab.errors import DataError, ParameterError


@pytest.mark.parametrize("add_price", ["own", "touch"])
def test_adds_from_their_own_best_round_trip_exactly_and_put_the_touch_at_zero(amzn_day, add_price):
    events, books = amzn_day["events"], amzn_day["books"]
    own = enc.message_table(events, books, add_price=add_price)
    default = enc.message_table(events, books)
    add = own.table[:, enc.TYPE] == enc.TYPE_ADD
    assert add.sum() > 1000
    # the same prices: own + opposite = the spread before the message ("touch": at the touch; inside the spread the
    # value is the default's); every other column and message is unchanged
    spread = default.reference[:, 1] - default.reference[:, 0]
    touch = add & (default.table[:, enc.PRICE] == spread)
    rows = add if add_price == "own" else touch
    np.testing.assert_array_equal(own.table[rows, enc.PRICE] + default.table[rows, enc.PRICE], spread[rows])
    if add_price == "touch":
        np.testing.assert_array_equal(own.table[add & ~touch], default.table[add & ~touch])
    np.testing.assert_array_equal(np.delete(own.table, enc.PRICE, axis=1), np.delete(default.table, enc.PRICE, axis=1))
    np.testing.assert_array_equal(own.table[~add], default.table[~add])
    # a level-1 file records no ADD behind the best: 0 (the touch) or inside, the touch about half of them
    rel = own.table[add, enc.PRICE]
    assert rel.min() == 0 and 0.3 < np.mean(rel == 0) < 0.7 and (rel[~touch[add]] > 0).all()
    back = enc.decode(own)
    for name, values in back.items():
        np.testing.assert_array_equal(values, events[name].values[1:], err_msg=name)
    # the option is the books' attribute at fitting; the encoding keeps it, encodes with it and writes its layout
    fitted = enc.fit_encoding(events, books.assign_attrs({enc.ADD_PRICE: add_price}), history=8)
    assert fitted.add_price == add_price and fitted.layout == f"{enc.ENCODING_VERSION}+add_price={add_price}"
    np.testing.assert_array_equal(enc.encode(events, books, fitted).messages.table, own.table)
    assert enc.Encoding.from_dict(fitted.to_dict()).add_price == add_price
    default = enc.Encoding.from_dict({**fitted.to_dict(), "add_price": "opposite"})
    assert default.layout == enc.ENCODING_VERSION and "add_price" not in default.to_dict()
    assert enc.layout_version("volume", "own") == f"{enc.ENCODING_VERSION}+cancel_position=volume+add_price=own"


def test_bad_values_of_add_price_are_refused_with_our_sentence(tmp_path, amzn_day):
    spec = tmp_path / "spec.toml"
    spec.write_text('[data]\nmessage = "m.csv"\nbooks = ["b.csv"]\nadd_price = "same"\n[model]\nseed = 1\n')
    expected = r"add_price in table 'data' must be one of \['opposite', 'own', 'touch', 'share'\]"
    with pytest.raises(ParameterError, match=expected):
        load_spec(spec)
    with pytest.raises(ParameterError, match="add_price must be one of"):
        enc.message_table(amzn_day["events"], amzn_day["books"], add_price="best")
    with pytest.raises(DataError, match="encoding 'add_price' must be one of"):
        fitted = enc.fit_encoding(amzn_day["events"], amzn_day["books"], history=8)
        enc.Encoding.from_dict({**fitted.to_dict(), "add_price": 1})


def test_touch_refuses_a_flow_with_an_add_at_the_opposite_best(amzn_day):
    events, books = amzn_day["events"], amzn_day["books"]
    add = np.flatnonzero(events["kind"].values[1:] == 1)[0] + 1  # the first ADD after the anchor
    side = int(events["side"].values[add])
    opposite = books["ask_price" if side == 1 else "bid_price"].values[add - 1, 0]
    broken = events.copy(deep=True)
    broken["price_ticks"].values[add] = opposite
    with pytest.raises(DataError, match=rf"events row {add}: an ADD at or through the opposite best has no price"):
        enc.message_table(broken, books, add_price="touch")


def test_an_add_as_its_share_of_the_spread_round_trips_exactly_on_both_real_files(amzn_day, aapl_hour):
    # add_price = "share" (session 25): at or inside the spread an ADD is its share of the spread (k / spread in units
    # of 1 / ADD_SHARE_ONE, 0 the touch), behind its own best minus its ticks behind it, at or through the opposite
    # side's last quote (the AAPL hour's replayed books show the bid empty for a while) above ADD_SHARE_ONE
    one = enc.ADD_SHARE_ONE
    for flow, behind in ((amzn_day, False), (aapl_hour, True)):
        events, books = flow["events"], flow["books"]
        share = enc.message_table(events, books, add_price="share")
        own = enc.message_table(events, books, add_price="own")
        add = share.table[:, enc.TYPE] == enc.TYPE_ADD
        spread = own.reference[:, 1] - own.reference[:, 0]
        k, code = own.table[add, enc.PRICE], share.table[add, enc.PRICE]
        np.testing.assert_array_equal(code < 0, k < 0)  # the sign tells behind from the rest, as "own" measures it
        np.testing.assert_array_equal(code[k <= 0], k[k <= 0])
        inside = (k > 0) & (k < spread[add])
        assert inside.sum() > 1000 and ((code[inside] > 0) & (code[inside] < one)).all()
        np.testing.assert_allclose(code[inside] / one, k[inside] / spread[add][inside], atol=0.5 / one)
        np.testing.assert_array_equal(enc.share_ticks(code, spread[add]), k)
        assert (code < 0).any() == behind and ((code >= one).sum() > 0) == behind
        others = (np.delete(m.table, enc.PRICE, axis=1) for m in (share, own))
        np.testing.assert_array_equal(*others)
        for name, values in enc.decode(share).items():
            np.testing.assert_array_equal(values, events[name].values[1:], err_msg=name)
    # the decoding against another spread: the nearest tick strictly inside it, the touch alone at a spread of 1 or
    # less (a stale quote through the other side), the ticks through the opposite quote above ADD_SHARE_ONE
    codes = np.array([0, 1, one // 4, one // 2, one - 1, -3, one, one + 2])
    assert enc.share_ticks(codes, np.full(8, 7)).tolist() == [0, 0, 2, 4, 6, -3, 7, 9]
    assert enc.share_ticks(codes, np.full(8, 1)).tolist() == [0, 0, 0, 0, 0, -3, 1, 3]
    assert enc.share_ticks(codes, np.full(8, -2)).tolist() == [0, 0, 0, 0, 0, -3, 1, 3]
    assert enc.share_code(np.array([0, 1, 2, 3, -3, 7, 9]), np.full(7, 7)).tolist() == [
        0, 142857, 285714, 428571, -3, one, one + 2]  # fmt: skip
    # fitting writes the layout; the spec key, the encoding's field and a too wide spread are checked
    fitted = enc.fit_encoding(amzn_day["events"], amzn_day["books"].assign_attrs({enc.ADD_PRICE: "share"}), history=8)
    assert fitted.add_price == "share" and fitted.layout == f"{enc.ENCODING_VERSION}+add_price=share"
    assert enc.Encoding.from_dict(fitted.to_dict()).add_price == "share"
    # training encodes through the fitted encoding: the same codes as the message table
    events, books = amzn_day["events"], amzn_day["books"]
    trained = enc.encode(events, books, fitted).messages.table
    np.testing.assert_array_equal(trained, enc.message_table(events, books, add_price="share").table)
    wide = amzn_day["books"].copy(deep=True)
    wide["ask_price"].values[:, 0] += one
    with pytest.raises(DataError, match=r"events row 1: add_price 'share' expects spreads below 1000000 ticks"):
        enc.message_table(amzn_day["events"], wide, add_price="share")


def test_the_rollout_kernels_share_rules_are_the_encodings():
    # the numba kernel's scalar twins of share_code / share_ticks, on every region and a crossed or stale spread
    from generators import rollout_kernel as rk

    one = enc.ADD_SHARE_ONE
    spreads = np.array([-3, -1, 0, 1, 2, 7, 128, one - 1])
    codes = np.array([-5, -1, 0, 1, one // 2 - 1, one // 2, one - 1, one, one + 2])
    ticks = np.array([-5, -1, 0, 1, 2, 6, 7, 9, 127, 128, 200])
    for spread in spreads:
        want = enc.share_ticks(codes, np.full(codes.size, spread))
        assert [rk._share_ticks(int(c), int(spread)) for c in codes] == want.tolist()
        want = enc.share_code(ticks, np.full(ticks.size, spread))
        assert [rk._share_code(int(t), int(spread)) for t in ticks] == want.tolist()
    assert rk.ADD_SHARE_ONE == one


def test_the_share_spec_loads_and_the_gan_sets_no_add_floor_under_it(amzn_day):
    from dataclasses import replace
    from pathlib import Path

    from generators.gan import type_support

    library = Path(__file__).resolve().parents[2] / "scenarios" / "library"
    assert load_spec(library / "generate_amzn_tiny_addshare.toml").add_price == "share"
    fitted = enc.fit_encoding(amzn_day["events"], amzn_day["books"].assign_attrs({enc.ADD_PRICE: "share"}), history=8)
    low, _ = type_support(fitted)
    assert low[enc.TYPE_ADD, enc.M_PRICE] == fitted.message_low[enc.M_PRICE]  # the touch (0) and behind stay reachable
    floored, _ = type_support(replace(fitted, add_price="opposite"))
    assert floored[enc.TYPE_ADD, enc.M_PRICE] > low[enc.TYPE_ADD, enc.M_PRICE]  # the default's floor, for contrast
