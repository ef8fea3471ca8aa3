"""The level-1-visible moments (calibration/abm_visible.py) against a hand-built window: an add behind the best bid
is left out (a level-1 LOBSTER file does not record it), the event mix, sizes and mid moves are those of the visible
events; and the v3 preset loads and simulates."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.abm import MOMENTS
from calibration.abm_visible import VISIBLE_MOMENT_NAMES, VISIBLE_MOMENTS, visible_window
from simlab.schema import NO_PRICE, EventKind, make_books, make_events

ADD, DELETE, TRADE = EventKind.ADD, EventKind.DELETE, EventKind.TRADE


def _window():
    """Six events over 2 s (one 60-s block): bid 100 x 10 and ask 104 x 5 arrive, a bid at 99 joins behind the best
    (invisible), a buyer takes the ask (mid moves), the ask comes back at 103 (mid moves), the best bid is deleted
    (the 99 becomes the best: mid moves)."""
    ts = np.array([0, 1, 2, 3, 4, 5]) * 400_000_000 + 10**18
    kind = np.array([ADD, ADD, ADD, TRADE, ADD, DELETE])
    side = np.array([1, -1, 1, 1, -1, 1])
    price = np.array([100, 104, 99, 104, 103, 100])
    qty = np.array([10, 5, 100, 5, 1, 10])
    bid_p = np.array([100, 100, 100, 100, 100, 99])
    bid_q = np.array([10, 10, 10, 10, 10, 100])
    ask_p = np.array([NO_PRICE, 104, 104, NO_PRICE, 103, 103])
    ask_q = np.array([0, 5, 5, 0, 1, 1])
    meta = dict(tick_size=0.01, lot_size=1.0, instrument="X", venue="test")
    events = make_events(ts_ns=ts, kind=kind, side=side, price_ticks=price, qty_lots=qty, **meta)
    books = make_books(ts_ns=ts, bid_price=bid_p, bid_qty=bid_q, ask_price=ask_p, ask_qty=ask_q)
    return {"events": events, "books": books}


def test_the_add_behind_the_best_is_not_visible():
    visible = visible_window(_window())
    assert visible["events"]["price_ticks"].values.tolist() == [100, 104, 104, 103, 100]
    assert visible["books"].sizes["time"] == 5


def test_the_visible_moments_are_those_of_the_visible_events():
    values = VISIBLE_MOMENTS.moments(VISIBLE_MOMENTS.blocks(_window(), 60.0))
    moments = dict(zip(VISIBLE_MOMENT_NAMES, values, strict=True))
    assert VISIBLE_MOMENT_NAMES[: len(MOMENTS)] == MOMENTS
    assert moments["add_share"] == pytest.approx(3 / 5) and moments["trade_share"] == pytest.approx(1 / 5)
    sizes = np.log10([10, 5, 5, 1, 10])
    assert moments["log10_size_mean"] == pytest.approx(sizes.mean())  # the invisible 100-lot add left out
    # mids after each visible event: none, 102, none, 101.5, 101 -> moves at events 2, 3, 4 and 5 (a side emptying or
    # filling counts as a move)
    assert moments["mid_move_share"] == pytest.approx(4 / 5)


def test_an_unknown_moment_set_is_refused_naming_the_flag():
    from scenarios.cli.abm import _moment_set
    from simlab.errors import ParameterError

    assert _moment_set("visible") is VISIBLE_MOMENTS
    with pytest.raises(ParameterError, match="--moments"):
        _moment_set("hidden")


def test_the_v3_preset_simulates_a_visible_mix_near_amzn():
    """abm-amzn-v3 loads and runs; 20 minutes of it, seen as a level-1 file, are not v2's 84 % fills (AMZN's
    12:00-12:30 window: 49 % adds, 36 % cancels, 15 % fills)."""
    from calibration.abm import load_abm_preset, moments_of
    from calibration.presets import PRESET_DIR
    from simlab.agents import simulate_abm

    config, calibration = load_abm_preset(PRESET_DIR / "abm-amzn-v3.toml")
    assert calibration["source"]["moments"] == "visible" and config.market_maker.touch_orders == 2
    day = simulate_abm(config, seed=11, duration_s=1200.0)
    assert day["events"].sizes["event"] > 1000
    moments = dict(zip(MOMENTS, moments_of(VISIBLE_MOMENTS.blocks(day, 60.0)), strict=True))
    assert 0.35 < moments["add_share"] < 0.6 and 0.03 < moments["trade_share"] < 0.3, moments
