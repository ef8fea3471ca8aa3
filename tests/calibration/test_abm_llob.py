"""The latent-liquidity AMZN market's fit moments: only the events a level-1 LOBSTER file records."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from calibration.abm import window_blocks
from calibration.abm_llob import PRESET, VISIBLE_MOMENTS, visible_blocks
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


def test_calibrated_latent_market_impact_is_transient_and_not_flat_then_convex():
    # a reduced, seeded abm_impact run on the preset (seeds 0-2 of calibration/presets/abm-amzn-llob.impact.json,
    # where 24 seeds give TWAP peaks 10.6 (1.8) and 96.4 (4.0) bps at Q/V 1e-2 and 1e-1, exponent 0.92
    # [0.83, 1.06]: not the square-root law, see docs/agents_llob.md)
    from calibration.abm import load_abm_preset
    from simlab.agents.impact import metaorder_impact

    config, _ = load_abm_preset(Path(__file__).parents[2] / PRESET)
    result = metaorder_impact(config, np.array([1e-2, 1e-1]), seeds=[0, 1, 2])
    peak, after = result["peak_bps"].values.mean(axis=0), result["after_bps"].values.mean(axis=0)
    assert 2.0 < peak[0] < peak[1] and peak[1] > 50.0, peak  # abm-amzn: -6.0 and 261.6 bps (flat, then convex)
    assert 0.5 < np.log10(peak[1] / peak[0]) < 1.5  # about linear here (abm-amzn's fit: 2.01)
    assert after[1] < 0.5 * peak[1]  # the impact decays after the metaorder (transient part)
