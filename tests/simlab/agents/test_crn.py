"""Common random numbers: a metaorder changes the book, never the market's exogenous randomness. Every rule draws
a fixed count of numbers per look, so the paired run without the metaorder has the same background wake-ups, the
same looks at the fundamental and the same fundamental path."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from simlab.agents import ExecutionAgents, InitialBook, MarketMakers, NoiseAgents
from simlab.agents import _kernel as K
from simlab.agents.market import _Market, _root
from simlab.book import _sim
from tests.simlab.agents.conftest import small_config

BACKGROUND = (K.NOISE, K.VALUE, K.MAKER, K.MOMENTUM)


def _run(config, seed):
    market = _Market(config, _root(seed), config.session_s, 1, 10**9, 10**10)
    market.run()
    return market


def _pending_wakes(market):
    """(agent, time) of the background agents' next wake-ups still in the heap at the end (each follows from the
    whole chain of its earlier wake-ups)."""
    heap = market.heap[: int(market.ctr[K.C_HEAP])]
    cls = market.agents[heap[:, K.H_AGENT], K.A_CLASS]
    wakes = heap[(heap[:, K.H_TYPE] == K.WAKE) & np.isin(cls, BACKGROUND)]
    return sorted(map(tuple, wakes[:, [K.H_AGENT, K.H_TIME]].tolist()))


REALISM = dict(  # the realism rules on: noise clock, order splitting, the makers' floor and jitter
    noise=NoiseAgents(count=6, arrival_rate_per_s=0.3, excitation=0.7, decay_per_s=0.5, split_exponent=1.5),
    market_maker=MarketMakers(count=2, wake_interval_s=20.0, levels=4, volume_window_s=20.0, level_spacing=0.5,
                              min_half_spread_ticks=3, level_jitter_s=0.5),
)  # fmt: skip


@pytest.mark.parametrize(
    ("strategy", "latent", "rules"),
    [("twap", False, False), ("pov", False, False), ("twap", True, False), ("pov", False, True)],
)
def test_a_metaorder_leaves_wake_ups_and_the_fundamental_unchanged(strategy, latent, rules):
    # a thin opening book (one side often empty) and short momentum windows: the book-dependent branches of the
    # value and momentum rules are taken differently in the two runs; latent: the LLOB rule, whose fills spend orders;
    # rules: the realism rules (noise clock, order splitting, the makers' floor and jitter)
    config = small_config(session_s=900.0, initial_book=InitialBook(levels=0), **(REALISM if rules else {}))
    if latent:
        value = replace(config.value, count=40, latent_depth_ticks=30.0, latent_refresh_per_s=0.005)
        # makers' ladders 1 spread apart (ABIDES: 5): with 5 and the TWAP buyer this small market runs away at seed 5
        config = replace(config, value=value, market_maker=replace(config.market_maker, level_spacing=1.0))
    buyer = ExecutionAgents(count=1, strategy=strategy, quantity_lots=2000, start_s=100.0, duration_s=400.0,
                            interval_s=10.0, participation=0.3)  # fmt: skip
    base, meta = _run(config, 5), _run(replace(config, execution=buyer), 5)
    assert meta.agents[-2, K.A_INV] > 0  # the metaorder traded ...
    n, m = int(base.ctr[_sim.C_EVENTS]), int(meta.ctr[_sim.C_EVENTS])
    assert n != m or not np.array_equal(base.ev[:n, : _sim.EV_FIELDS], meta.ev[:m, : _sim.EV_FIELDS])  # ... and moved
    f = int(base.ctr[K.C_FUND])
    assert f == int(meta.ctr[K.C_FUND]) > 100
    np.testing.assert_array_equal(base.fund_ts[:f], meta.fund_ts[:f])  # the value agents' looks
    np.testing.assert_array_equal(base.fund_val[:f], meta.fund_val[:f])  # the fundamental path
    np.testing.assert_array_equal(base.fund_shocks[:f], meta.fund_shocks[:f])
    for cls in BACKGROUND:
        assert base.ctr[K.C_WAKES + cls] == meta.ctr[K.C_WAKES + cls] > 0
    assert _pending_wakes(base) == _pending_wakes(meta)
    if rules:  # the noise clock's next event and the noise agents' metaorders do not depend on the book either
        np.testing.assert_array_equal(base.nstate, meta.nstate)
        clock = [m.heap[: int(m.ctr[K.C_HEAP])] for m in (base, meta)]
        clock = [h[h[:, K.H_TYPE] == K.NOISE_CLOCK, K.H_TIME].tolist() for h in clock]
        assert clock[0] == clock[1] and len(clock[0]) == 1
