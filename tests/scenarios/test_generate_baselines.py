"""Parametric presets simulated over a generator's held-out span (scenarios/generate/baselines.py)."""

from __future__ import annotations

import numpy as np
import pytest

from scenarios.generate.baselines import baseline_kind, fitted_on, simulate_baseline
from simlab.errors import ParameterError

OPEN = 1_340_285_400_017_460_000  # the AMZN day's first event, 2012-06-21 09:30:00.017 New York


def test_presets_are_named_by_kind_and_an_unknown_one_is_refused_with_the_known_ones():
    assert baseline_kind("zi-amzn") == "book" and baseline_kind("qr-amzn") == "book"
    assert baseline_kind("abm-amzn-v2") == "abm"
    with pytest.raises(ParameterError, match=r"--presets: unknown preset 'gan-amzn'; expected one of \[.*'zi-amzn'"):
        baseline_kind("gan-amzn")
    assert fitted_on("abm-amzn-v2")["start_s"] == 9000.0 and fitted_on("abm-amzn-v2")["duration_s"] == 1800.0
    assert fitted_on("qr-amzn")["duration_s"] > 23000.0  # fitted on the whole day


def test_an_agent_market_runs_from_the_open_and_is_cut_to_the_window():
    start = OPEN + 120 * 10**9
    a, b = (simulate_baseline("abm-amzn-v2", open_ns=OPEN, start_ns=start, duration_s=60.0, seed=3) for _ in range(2))
    ts = a["events"]["ts_ns"].values
    assert ts[0] >= start and ts[-1] < start + 60 * 10**9 and a["events"].sizes["event"] > 10
    assert a["books"].sizes["time"] == ts.size and a["events"].attrs["initial_orders"] == 0
    assert a["events"].equals(b["events"])  # seeded
    other = simulate_baseline("abm-amzn-v2", open_ns=OPEN, start_ns=start, duration_s=60.0, seed=4)
    assert not np.array_equal(other["events"]["ts_ns"].values, ts)
    # the window is the same market as a run of the whole morning: only its cut differs
    longer = simulate_baseline("abm-amzn-v2", open_ns=OPEN, start_ns=OPEN + 60 * 10**9, duration_s=120.0, seed=3)
    inside = longer["events"]["ts_ns"].values >= start
    np.testing.assert_array_equal(longer["events"]["ts_ns"].values[inside], ts)


def test_a_book_preset_starts_at_the_span_and_bad_spans_are_refused():
    start = OPEN + 3600 * 10**9
    sim = simulate_baseline("zi-amzn", open_ns=OPEN, start_ns=start, duration_s=20.0, seed=1)
    ts = sim["events"]["ts_ns"].values
    assert ts[0] >= start and ts[-1] <= start + 20 * 10**9
    with pytest.raises(ParameterError, match="need duration_s > 0 and start_ns >= open_ns"):
        simulate_baseline("zi-amzn", open_ns=start, start_ns=OPEN, duration_s=20.0, seed=1)


def test_preset_paths_of_runs_with_nearby_seeds_are_independent():
    from scenarios.generate.heldout import preset_seed

    seeds = {preset_seed(seed, p) for seed in (20261203, 20261204) for p in range(3)}
    assert len(seeds) == 6 and preset_seed(20261203, 1) == preset_seed(20261203, 1)  # seed + p would give 5
    assert all(0 <= s < 2**63 for s in seeds)
