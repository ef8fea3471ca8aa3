"""The market's activity (docs/agents_realism_v8.md): its log-OU step follows the exact transition law and its clock
is stationary with a mean-one rate, business time is spent cell by cell at that rate, a Poisson clock in business
time keeps its mean rate and gets the over-dispersion of a Cox process with that rate, the fundamental's variance is
that of the business time, a market with the rule off is the market before it existed, a multi-timescale activity is
the sum of its log-OU components (variance split equally) with the mixture autocorrelation, and bad settings are
refused with a sentence."""

from __future__ import annotations

import math
import re
from dataclasses import replace

import numpy as np
import pytest
from scipy import stats

from simlab.agents import Fundamental, MarketMakers, NoiseAgents
from simlab.agents import _rules as R
from simlab.errors import ParameterError
from tests.simlab.agents.conftest import run_market, small_config


def test_activity_step_follows_its_exact_transition_law():
    gen, sd, decay, x0, n = np.random.default_rng(1), 0.8, math.exp(-2.0 / 60.0), 1.3, 40_000
    x = np.array([R.activity_step(gen, x0, decay, sd) for _ in range(n)])
    z = (x - decay * x0) / (sd * math.sqrt(1 - decay**2))
    assert abs(z.mean()) < 4 / math.sqrt(n)
    assert abs(z.var() - 1) < 4 * math.sqrt(2 / n)
    assert stats.kstest(z, "norm").pvalue > 1e-3
    # the chain from its stationary law stays there: N(0, sd^2) after many steps, lag-k correlation decay^k
    path = np.empty(n)
    path[0] = sd * gen.standard_normal()
    for i in range(1, n):
        path[i] = R.activity_step(gen, path[i - 1], decay, sd)
    assert abs(path.std() / sd - 1) < 0.05
    assert abs(np.corrcoef(path[:-30], path[30:])[0, 1] - decay**30) < 0.05


def test_the_activity_clock_is_stationary_with_mean_one_rate():
    sd, decay, n, step = 0.7, math.exp(-1.0 / 30.0), 60_000, 1_000_000_000
    clock = R.activity_clock(np.random.default_rng(2), n, np.array([decay]), sd, step)
    x, rate, start = clock[R.AC_LOG], clock[R.AC_RATE], clock[R.AC_START]
    assert abs(x.std() / sd - 1) < 0.06 and abs(x.mean()) < 0.1  # N(0, sd^2) from the first cell on
    assert abs(np.corrcoef(x[:-30], x[30:])[0, 1] - decay**30) < 0.06
    np.testing.assert_allclose(rate, np.exp(x - sd**2 / 2))
    assert abs(rate.mean() - 1) < 0.06  # E exp(x - sd^2 / 2) = 1
    np.testing.assert_allclose(start, np.concatenate([[0.0], np.cumsum(rate * step)[:-1]]), rtol=1e-12)


def test_a_multi_timescale_clock_is_the_sum_of_its_components_drawn_in_turn():
    sd, times, n, step = 0.9, (3.0, 40.0), 5_000, 1_000_000_000
    decays = np.exp(-1.0 / np.array(times))
    clock = R.activity_clock(np.random.default_rng(8), n, decays, sd, step)
    gen, part = np.random.default_rng(8), sd / math.sqrt(2)  # each component alone: a one-time clock of sd / sqrt(2)
    parts = [R.activity_clock(gen, n, decays[k : k + 1], part, step)[R.AC_LOG] for k in range(2)]
    np.testing.assert_array_equal(clock[R.AC_LOG], parts[0] + parts[1])
    np.testing.assert_allclose(clock[R.AC_RATE], np.exp(clock[R.AC_LOG] - sd**2 / 2))  # the total sd's correction
    one = R.activity_clock(np.random.default_rng(8), n, decays[:1], sd, step)  # K = 1: the one-time clock
    np.testing.assert_array_equal(one, R.activity_clock(np.random.default_rng(8), n, np.array([decays[0]]), sd, step))


def test_the_sum_of_log_ous_has_the_mixture_autocorrelation_and_the_total_variance():
    sd, times, clocks, n = 0.8, np.array([2.0, 20.0, 200.0]), 300, 1_000
    decays = np.exp(-1.0 / times)
    gen = np.random.default_rng(9)
    x = np.array([R.activity_clock(gen, n, decays, sd, 10**9)[R.AC_LOG] for _ in range(clocks)])
    assert abs(x.var() / sd**2 - 1) < 0.08 and abs(x.mean()) < 0.08  # N(0, sd^2): stationary from the first cell
    for lag in (1, 10, 50, 200):
        closed = np.mean(decays**lag)  # (1/K) sum_k exp(-lag / time_k): equal variances
        seen = np.mean(x[:, :-lag] * x[:, lag:]) / sd**2
        assert abs(seen - closed) < 0.06, (lag, seen, closed)
    # far from one exponential: at lag 50 the mixture keeps 0.33, a single OU of the mean time (74 cells) 0.51
    assert abs(np.mean(decays**50) - math.exp(-50 / times.mean())) > 0.15
    rate = np.exp(x - sd**2 / 2)
    assert abs(rate.mean() - 1) < 0.06


def test_a_one_element_list_of_times_is_the_one_time_market():
    noise = NoiseAgents(count=6, arrival_rate_per_s=0.4, excitation=0.5, decay_per_s=1.0)
    makers = MarketMakers(count=2, wake_interval_s=10.0, levels=3, volume_window_s=20.0, level_spacing=0.5,
                          min_half_spread_ticks=2)  # fmt: skip
    base = small_config(noise=noise, market_maker=makers)
    one = replace(base, fundamental=replace(base.fundamental, activity_sd=0.8, activity_time_s=30.0))
    listed = replace(base, fundamental=replace(base.fundamental, activity_sd=0.8, activity_time_s=[30.0]))
    two = replace(base, fundamental=replace(base.fundamental, activity_sd=0.8, activity_time_s=[30.0, 300.0]))
    assert listed.fundamental.activity_time_s == (30.0,)
    events = [run_market(config, 5)[1] for config in (one, listed, two)]
    assert events[0].shape[0] > 500
    np.testing.assert_array_equal(events[0], events[1])
    assert events[2].shape != events[0].shape or (events[2] != events[0]).any()


def _hand_clock(rates, step):
    """An activity clock with the given rates per cell (the log row is not used by the time change)."""
    rates = np.asarray(rates, float)
    return np.array([np.log(rates), rates, np.concatenate([[0.0], np.cumsum(rates * step)[:-1]])])


def test_business_time_is_spent_cell_by_cell_at_the_activity_rate():
    step, open_ns = 1_000_000_000, 5_000_000_000
    clock = _hand_clock([1.0, 2.0, 0.5], step)
    assert R.business_ns(clock, open_ns, step, open_ns + 1_500_000_000) == 2.0e9  # 1 s at 1, then 0.5 s at 2
    assert R.business_ns(clock, open_ns, step, open_ns + 4_000_000_000) == 3.0e9 + 1.0e9  # past the grid: rate 0.5
    assert R.calendar_ns(clock, open_ns, step, open_ns + 500_000_000, 2.0e9) == open_ns + 1_750_000_000
    assert R.calendar_ns(clock, open_ns, step, open_ns + 200_000_000, 0.4e9) == open_ns + 600_000_000
    assert R.calendar_ns(clock, open_ns, step, open_ns, 4.0e9) == open_ns + 4_000_000_000  # 1 + 2 + 0.5, then 0.5
    for t in (open_ns, open_ns + 123_456_789, open_ns + 2_700_000_000):  # the two are inverse maps
        for wait in (1.0, 3.3e8, 2.9e9):
            at = R.calendar_ns(clock, open_ns, step, t, wait)
            assert abs(R.business_ns(clock, open_ns, step, at) - R.business_ns(clock, open_ns, step, t) - wait) <= 2


def test_a_poisson_clock_in_business_time_is_the_cox_process_of_the_activity():
    sd, time_s, rate, cells, n_windows, step = 0.5, 20.0, 2.0, 10, 3000, 1_000_000_000
    a = math.exp(-1.0 / time_s)
    clock = R.activity_clock(np.random.default_rng(4), cells * n_windows, np.array([a]), sd, step)
    waits = np.random.default_rng(5).standard_exponential(int(1.5 * rate * cells * n_windows)) / rate * 1e9
    t, times = 0, []
    for wait in waits:
        t = R.calendar_ns(clock, 0, step, t, wait)
        if t >= cells * n_windows * step:
            break
        times.append(t)
    counts = np.bincount(np.asarray(times) // (cells * step), minlength=n_windows)
    mean = rate * cells  # E[exp(x - sd^2 / 2)] = 1: the calendar rate is the business rate
    lags = np.abs(np.subtract.outer(np.arange(cells), np.arange(cells)))
    variance = mean + rate**2 * np.sum(np.exp(sd**2 * a**lags) - 1.0)  # Poisson + Var of the integrated rate
    assert variance > 5 * mean  # the activity's share dominates the Poisson one
    assert abs(counts.mean() / mean - 1) < 0.05, counts.mean()
    assert abs(counts.var() / variance - 1) < 0.2, (counts.var(), variance)


def test_the_fundamental_diffuses_in_business_time():
    sd, n, step, vol = 1.0, 20_000, 1_000_000_000, 2.0
    clock = R.activity_clock(np.random.default_rng(6), n, np.array([math.exp(-1.0 / 50.0)]), sd, step)
    p = np.array([1000.0, 1e-12 * 1e-9, vol**2 * 1e-9, 0.0, 0.0, 1.0])  # no reversion to speak of, no megashocks
    times = np.arange(1, n + 1, dtype=np.int64) * step
    values, _ = R.fundamental_path(np.random.default_rng(7), p, 0, times, clock, step)
    moves = np.diff(np.concatenate([[1000.0], values]))
    z = moves / (vol * np.sqrt(clock[R.AC_RATE]))  # a cell's variance: vol^2 x its business seconds
    assert abs(z.var() - 1) < 4 * math.sqrt(2 / n) and stats.kstest(z, "norm").pvalue > 1e-3
    calendar = moves / vol  # in calendar time the moves are a variance mixture: fat tails
    assert stats.kurtosis(calendar) > 1.0 and abs(stats.kurtosis(z)) < 0.2


def test_the_activity_off_leaves_the_market_unchanged_and_on_changes_it():
    noise = NoiseAgents(count=6, arrival_rate_per_s=0.4, excitation=0.5, decay_per_s=1.0)
    makers = MarketMakers(count=2, wake_interval_s=10.0, levels=3, volume_window_s=20.0, level_spacing=0.5,
                          min_half_spread_ticks=2)  # fmt: skip
    base = small_config(noise=noise, market_maker=makers)
    f = base.fundamental
    off = replace(base, fundamental=replace(f, activity_sd=0.0, activity_time_s=30.0, activity_step_s=0.5))
    on = replace(base, fundamental=replace(f, activity_sd=1.0, activity_time_s=30.0))
    events = [run_market(config, 5)[1] for config in (base, off, on)]
    assert events[0].shape[0] > 1000
    np.testing.assert_array_equal(events[0], events[1])
    assert events[2].shape != events[0].shape or (events[2] != events[0]).any()


TIMES = "`activity_time_s` of Fundamental (the activity's mean-reversion times) must be a number > 0 or a list of"


@pytest.mark.parametrize(
    ("settings", "says"),
    [
        (dict(activity_sd=-0.5), "`activity_sd` of Fundamental must be >= 0"),
        (dict(activity_sd=3.5), "`activity_sd` of Fundamental (the sd of the log-activity) must be in [0, 3.0]"),
        (dict(activity_time_s=0.0), "`activity_time_s` of Fundamental must be > 0"),
        (dict(activity_step_s=1e-4), "`activity_step_s` of Fundamental (the activity's grid step) must be >= 0.001"),
        (dict(activity_time_s=[]), f"{TIMES} 1 to 8 numbers > 0; got []"),
        (dict(activity_time_s=[60.0] * 9), f"{TIMES} 1 to 8 numbers > 0; got [60.0, 60.0,"),
        (dict(activity_time_s=[60.0, 0.0]), f"{TIMES} 1 to 8 numbers > 0; got [60.0, 0.0]"),
        (dict(activity_time_s=[60.0, -5]), f"{TIMES} 1 to 8 numbers > 0; got [60.0, -5]"),
        (dict(activity_time_s=[60.0, "600"]), f"{TIMES} 1 to 8 numbers > 0; got [60.0, '600']"),
        (dict(activity_time_s="600"), "`activity_time_s` of Fundamental must be a finite number; got '600'"),
    ],
)
def test_bad_activity_settings_are_refused_with_a_sentence(settings, says):
    with pytest.raises(ParameterError, match="^" + re.escape(says)):
        Fundamental(**settings)
