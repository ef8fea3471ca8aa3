"""add_price = "own" and "touch" (session 24): an ADD's price as the ticks inside its own side's best (all of them,
or those at or behind it), written, decoded, saved and refused as the encoding's other options are."""

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
    expected = r"add_price in table 'data' must be one of \['opposite', 'own', 'touch'\]"
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
