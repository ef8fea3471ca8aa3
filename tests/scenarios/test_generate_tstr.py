"""TSTR of generated flow on planted books: a generator of the true law scores like real data, one without the
signal does not."""

from __future__ import annotations

import numpy as np
import pytest

from scenarios.forecast.planted import planted_book
from scenarios.generate.tstr import tstr_direction
from simlab.errors import DataError


def _book(signal, seed, n=3000):
    return planted_book(n, levels=2, signal=signal, rng=np.random.default_rng(seed))[0]


def test_flow_from_the_true_law_teaches_what_real_flow_does_and_flow_without_it_does_not():
    train, test = _book(0.8, 1), _book(0.8, 2)
    kwargs = {"horizon_events": 1, "threshold_ticks": 0.0, "window": 1}
    good = tstr_direction(train, test, _book(0.8, 3), **kwargs)
    bad = tstr_direction(train, test, _book(0.0, 4), **kwargs)
    oracle = 0.8 + 0.2 / 3  # the planted rule's accuracy
    assert abs(good["trtr"]["accuracy"] - oracle) < 0.03 and good["ratio"] > 0.95
    assert bad["tstr"]["accuracy"] < 0.5 and bad["ratio"] < 0.6
    assert good["prior"]["accuracy"] < 0.5 and good["origins"]["test"] > 2900
    with pytest.raises(DataError, match="usable origins"):
        tstr_direction(train, test, _book(0.8, 5, n=30), **kwargs)
