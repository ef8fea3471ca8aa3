"""A small seeded zero-intelligence book shared by the scorecard tests."""

from __future__ import annotations

import pytest

from simlab.book import ZIParams, simulate_zi

PARAMS = dict(limit_rate=0.5, market_rate=1.0, cancel_rate=0.05, order_size=3.0, band_ticks=20, size_law="geometric")


def zi_book(seed: int, duration_s: float = 600.0, **changes):
    """Simulate the test ZI book (instrument TOY, tick 0.01) for ``duration_s`` seconds."""
    params = ZIParams(**{**PARAMS, **changes}, instrument="TOY", tick_size=0.01)
    return simulate_zi(params, duration_s, rng=seed, depth=5)


@pytest.fixture(scope="package")
def zi_pair():
    """Two independent runs of one ZI book (a 'real' and a 'synthetic' one)."""
    return zi_book(1), zi_book(2)
