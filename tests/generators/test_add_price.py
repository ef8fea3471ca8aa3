"""add_price = "own" (session 24): an ADD's price as the ticks inside its own side's best, written, decoded, saved
and refused as the encoding's other options are."""

from __future__ import annotations

import numpy as np
import pytest

from generators import encoding as enc
from generators.spec import load_spec
from simlab.errors import DataError, ParameterError


def test_adds_from_their_own_best_round_trip_exactly_and_put_the_touch_at_zero(amzn_day):
    events, books = amzn_day["events"], amzn_day["books"]
    own = enc.message_table(events, books, add_price="own")
    default = enc.message_table(events, books)
    add = own.table[:, enc.TYPE] == enc.TYPE_ADD
    assert add.sum() > 1000
    # the same prices: own + opposite = the spread before the message; every other column and message is unchanged
    spread = default.reference[:, 1] - default.reference[:, 0]
    np.testing.assert_array_equal(own.table[add, enc.PRICE] + default.table[add, enc.PRICE], spread[add])
    np.testing.assert_array_equal(np.delete(own.table, enc.PRICE, axis=1), np.delete(default.table, enc.PRICE, axis=1))
    np.testing.assert_array_equal(own.table[~add], default.table[~add])
    # a level-1 file records no ADD behind the best: 0 (the touch) or inside, the touch about half of them
    rel = own.table[add, enc.PRICE]
    assert rel.min() == 0 and 0.3 < np.mean(rel == 0) < 0.7
    back = enc.decode(own)
    for name, values in back.items():
        np.testing.assert_array_equal(values, events[name].values[1:], err_msg=name)
    # the option is the books' attribute at fitting; the encoding keeps it, encodes with it and writes its layout
    fitted = enc.fit_encoding(events, books.assign_attrs({enc.ADD_PRICE: "own"}), history=8)
    assert fitted.add_price == "own" and fitted.layout == f"{enc.ENCODING_VERSION}+add_price=own"
    np.testing.assert_array_equal(enc.encode(events, books, fitted).messages.table, own.table)
    assert enc.Encoding.from_dict(fitted.to_dict()).add_price == "own"
    default = enc.Encoding.from_dict({**fitted.to_dict(), "add_price": "opposite"})
    assert default.layout == enc.ENCODING_VERSION and "add_price" not in default.to_dict()
    assert enc.layout_version("volume", "own") == f"{enc.ENCODING_VERSION}+cancel_position=volume+add_price=own"


def test_bad_values_of_add_price_are_refused_with_our_sentence(tmp_path, amzn_day):
    spec = tmp_path / "spec.toml"
    spec.write_text('[data]\nmessage = "m.csv"\nbooks = ["b.csv"]\nadd_price = "same"\n[model]\nseed = 1\n')
    with pytest.raises(ParameterError, match=r"add_price in table 'data' must be one of \['opposite', 'own'\]"):
        load_spec(spec)
    with pytest.raises(ParameterError, match="add_price must be one of"):
        enc.message_table(amzn_day["events"], amzn_day["books"], add_price="best")
    with pytest.raises(DataError, match="encoding 'add_price' must be one of"):
        fitted = enc.fit_encoding(amzn_day["events"], amzn_day["books"], history=8)
        enc.Encoding.from_dict({**fitted.to_dict(), "add_price": 1})
