"""A maker keeping its touch (`market_maker.keep_touch_ticks`, docs/agents_realism_v5.md): its resting best order of
a side is kept, with no cancel and no new add, when the new ladder's best price is within that many ticks of it; it
is cancelled and replaced otherwise; deeper levels are re-quoted as before. The kernel's twin checks the rule event
for event (tests/simlab/agents/test_kernel_twin.py, "keeping the touch ...")."""

from __future__ import annotations

import numpy as np
import pytest

from simlab.agents import (
    Fundamental,
    InitialBook,
    MarketConfig,
    MarketMakers,
    MomentumAgents,
    NoiseAgents,
    ValueAgents,
)
from simlab.agents import _kernel as K
from simlab.book import _sim
from simlab.errors import ParameterError
from tests.simlab.agents.conftest import run_market, small_config

BID, ASK = (99996, 99997), (100003, 100004)  # mid 100000 -+ the floor of 3 ticks, then one tick of offset


def _alone(keep, offsets, jitter):
    """One maker over a fixed opening book (its mid stays 100000): its events, and its ladders' count."""
    makers = MarketMakers(count=1, wake_interval_s=5.0, levels=3, min_order_size=7, pov=0.0, initial_spread_ticks=2.0,
                          min_half_spread_ticks=3, quote_offset_ticks=offsets, level_jitter_s=jitter,
                          keep_touch_ticks=keep)  # fmt: skip
    config = MarketConfig(
        name="keep", session_s=2000.0, fundamental=Fundamental(megashock_rate_per_s=0.0), noise=NoiseAgents(count=0),
        value=ValueAgents(count=0), market_maker=makers, momentum=MomentumAgents(count=0),
        initial_book=InitialBook(levels=3, qty_lots=10, spread_ticks=2),
    )  # fmt: skip
    market, ev = run_market(config, 3)
    mine = ev[ev[:, K.EV_AGENT] == 0]
    return mine, int(market.ctr[K.C_WAKES + K.MAKER])


def _best(events, kind, side):
    prices = BID if side == 1 else ASK
    rows = events[(events[:, _sim.EV_KIND] == kind) & (events[:, _sim.EV_SIDE] == side)]
    return rows[np.isin(rows[:, _sim.EV_PRICE], prices)]


@pytest.mark.parametrize("jitter", [0.0, 0.002])
def test_a_best_order_at_the_same_price_is_kept_and_deeper_levels_are_requoted(jitter):
    kept, ladders = _alone(0, 0, jitter)
    plain, plain_ladders = _alone(-1, 0, jitter)  # (with jitter the rule's two draws a ladder shift the wake-ups)
    assert ladders > 300 and plain_ladders > 300
    for side in (1, -1):
        assert len(_best(kept, _sim.ADD, side)) == 1 and len(_best(kept, _sim.DELETE, side)) == 0
        adds, deletes = _best(plain, _sim.ADD, side), _best(plain, _sim.DELETE, side)
        assert len(adds) == plain_ladders and len(deletes) == plain_ladders - 1
    deeper = (kept[:, _sim.EV_KIND] == _sim.ADD) & ~np.isin(kept[:, _sim.EV_PRICE], BID + ASK)
    assert deeper.sum() == 2 * 2 * ladders  # two deeper levels a side at every ladder, as without the rule


@pytest.mark.parametrize("jitter", [0.0, 0.002])
def test_a_best_order_is_replaced_exactly_when_the_new_best_is_further_than_keep_ticks(jitter):
    moved, ladders = _alone(0, 1, jitter)  # each side's best moves 0 or 1 tick away at random at each ladder
    for side in (1, -1):
        adds, deletes = _best(moved, _sim.ADD, side), _best(moved, _sim.DELETE, side)
        # a new best order only at a new price, but for ladders closer than a round trip (exponential waits): a best
        # order still on its way is not kept yet, so the next ladder sends its own (the older is a plain order then)
        apart = np.diff(adds[:, _sim.EV_TS]) > 50_000_000  # 50 ms
        assert (np.diff(adds[:, _sim.EV_PRICE])[apart] != 0).all() and (~apart).sum() <= 5
        assert len(adds) - 1 - (~apart).sum() <= len(deletes) <= len(adds) - 1  # the ones it replaces are cancelled
        assert set(deletes[:, _sim.EV_ID].tolist()) <= set(adds[:-1, _sim.EV_ID].tolist())
        assert abs(len(adds) - ladders / 2) < 4 * np.sqrt(ladders / 4)  # the price changes half the time
    within, _ = _alone(1, 1, jitter)  # one tick of slack: the first best order stays all session
    assert all(len(_best(within, _sim.ADD, side)) == 1 for side in (1, -1))
    assert not (within[:, _sim.EV_KIND] == _sim.DELETE)[np.isin(within[:, _sim.EV_PRICE], BID + ASK)].any()


def test_keeping_the_touch_lowers_the_makers_cancel_share_in_a_busy_market():
    def maker_cancels(keep):
        makers = MarketMakers(count=3, wake_interval_s=4.0, levels=3, volume_window_s=20.0, level_spacing=0.5,
                              min_half_spread_ticks=4, spread_alpha=0.1, level_jitter_s=0.3,
                              keep_touch_ticks=keep)  # fmt: skip
        config = small_config(market_maker=makers)
        market, ev = run_market(config, 5)
        makers_ = np.isin(ev[:, K.EV_AGENT], np.flatnonzero(market.agents[:, K.A_CLASS] == K.MAKER))
        return (ev[makers_, _sim.EV_KIND] == _sim.DELETE).sum(), (ev[:, _sim.EV_KIND] == _sim.TRADE).sum()

    (off, trades_off), (on, trades_on) = maker_cancels(-1), maker_cancels(1)
    assert trades_off > 100 and trades_on > 100
    assert on < 0.85 * off, (on, off)


def test_bad_keep_touch_settings_are_refused_with_a_sentence():
    with pytest.raises(ParameterError, match="keep_touch_ticks.*touch_orders"):
        MarketMakers(keep_touch_ticks=0, touch_orders=2)
    with pytest.raises(ParameterError, match="keep_touch_ticks"):
        MarketMakers(keep_touch_ticks=-2)
