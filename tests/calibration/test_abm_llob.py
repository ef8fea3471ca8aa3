"""The latent-liquidity AMZN market's fit moments: only the events a level-1 LOBSTER file records."""

from __future__ import annotations

import numpy as np

from calibration.abm import window_blocks
from calibration.abm_llob import VISIBLE_MOMENTS, visible_blocks
from simlab.agents import simulate_abm
from simlab.book.stats import visible_events
from simlab.schema import EventKind
from tests.simlab.agents.test_latent import toy_market


def test_visible_blocks_drop_the_latent_book_behind_the_touch():
    data = simulate_abm(toy_market(count=400), seed=3, duration_s=1800.0)
    events = data["events"]
    kind = events["kind"].values
    keep = visible_events(kind, events["side"].values, events["price_ticks"].values, data["books"], 1)
    assert 0.01 < keep.mean() < 0.5  # most of the latent book rests behind the touch (measured: 3 % visible)
    counted = (EventKind.ADD, EventKind.CANCEL, EventKind.DELETE, EventKind.TRADE, EventKind.TRADE_HIDDEN)
    every = sum(b["mix"].sum() for b in window_blocks(data, 60.0))
    visible = sum(b["mix"].sum() for b in visible_blocks(data, 60.0))
    # (the blocks leave out a last partial minute)
    assert np.isin(kind, counted).sum() >= every > visible and np.isin(kind[keep], counted).sum() >= visible > 0
    assert np.isfinite(VISIBLE_MOMENTS.moments(visible_blocks(data, 60.0))).sum() >= 10
