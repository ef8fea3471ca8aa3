"""Layered makers (`market_maker.layer_ticks`, docs/agents_realism_v7.md): maker k quotes each side k layers further
from the mid than its ladder, the same every ladder, with no draw. The kernel's twin checks the rule event for event
(tests/simlab/agents/test_kernel_twin.py, "keeping the touch within 1 tick: ..., layered ladders ...")."""

from __future__ import annotations

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
from tests.simlab.agents.conftest import run_market


def _makers_alone(layer, keep):
    """Three makers over a fixed opening book (bid 99999, ask 100001: the mid stays 100000, no one trades), the
    floor 3 ticks, spacing one tick; return each maker's added prices per side."""
    makers = MarketMakers(count=3, wake_interval_s=5.0, levels=2, min_order_size=7, pov=0.0, initial_spread_ticks=2.0,
                          level_spacing=0.5, min_half_spread_ticks=3, keep_touch_ticks=keep,
                          layer_ticks=layer)  # fmt: skip
    config = MarketConfig(
        name="layers", session_s=600.0, fundamental=Fundamental(megashock_rate_per_s=0.0), noise=NoiseAgents(count=0),
        value=ValueAgents(count=0), market_maker=makers, momentum=MomentumAgents(count=0),
        initial_book=InitialBook(levels=3, qty_lots=10, spread_ticks=2),
    )  # fmt: skip
    market, ev = run_market(config, 3)
    adds = ev[ev[:, _sim.EV_KIND] == _sim.ADD]
    assert market.ctr[K.C_WAKES + K.MAKER] > 300
    return {
        (k, side): set(adds[(adds[:, K.EV_AGENT] == k) & (adds[:, _sim.EV_SIDE] == side), _sim.EV_PRICE].tolist())
        for k in range(3)
        for side in (1, -1)
    }


@pytest.mark.parametrize("keep", [-1, 0])
def test_maker_k_quotes_k_layers_further_out_at_every_ladder(keep):
    layered, plain = _makers_alone(2, keep), _makers_alone(0, keep)
    for k in range(3):  # the ladder: the best 3 ticks from the mid, one level one tick behind it
        assert plain[k, 1] == {99997, 99996} and plain[k, -1] == {100003, 100004}
        assert layered[k, 1] == {99997 - 2 * k, 99996 - 2 * k}
        assert layered[k, -1] == {100003 + 2 * k, 100004 + 2 * k}


def test_negative_layers_are_refused_with_a_sentence():
    with pytest.raises(ParameterError, match="layer_ticks"):
        MarketMakers(layer_ticks=-1)
