"""Ground truth of the rules: the fundamental's exact transition law and megashock rate, the order-size mixture,
the value agents' Bayesian update (Kalman against the batch posterior; the ABIDES quirk), the momentum warm-up."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from simlab.agents import MomentumAgents
from simlab.agents import _kernel as K
from simlab.agents import _rules as R
from simlab.agents.market import _Market, _root
from simlab.book import _sim
from tests.simlab.agents.conftest import small_config


def _fparams(mean=1000.0, kappa_s=1e-3, vol=2.0, rate_s=0.0, shock_mean=50.0, shock_var=100.0):
    return np.array([mean, kappa_s * 1e-9, vol**2 * 1e-9, rate_s * 1e-9, shock_mean, math.sqrt(shock_var)])


def test_ou_step_follows_its_exact_transition_law():
    p, dt_s, n = _fparams(), 100.0, 40_000
    times = (np.arange(1, n + 1) * dt_s * 1e9).astype(np.int64)
    values, shocks = R.fundamental_path(np.random.default_rng(1), p, 0, times, np.zeros((3, 0)), 1)
    assert shocks.sum() == 0
    decay = math.exp(-1e-3 * dt_s)
    sd = math.sqrt(4.0 * (1 - decay**2) / (2 * 1e-3))
    previous = np.concatenate([[1000.0], values[:-1]])
    z = (values - 1000.0 - (previous - 1000.0) * decay) / sd
    assert abs(z.mean()) < 4 / math.sqrt(n)
    assert abs(z.var() - 1) < 4 * math.sqrt(2 / n)
    assert stats.kstest(z, "norm").pvalue > 1e-3


def test_megashocks_arrive_at_their_rate_with_their_size():
    rate, horizon_s = 0.01, 2e6
    p = _fparams(kappa_s=1e-9, vol=1e-6, rate_s=rate, shock_mean=50.0, shock_var=100.0)
    times = (np.linspace(1, horizon_s, 5000) * 1e9).astype(np.int64)
    values, shocks = R.fundamental_path(np.random.default_rng(2), p, 0, times, np.zeros((3, 0)), 1)
    expected = rate * horizon_s
    assert abs(shocks.sum() - expected) < 4 * math.sqrt(expected)
    jumps = np.diff(values)[shocks[1:] == 1]  # one shock in the step, almost no diffusion or reversion
    assert abs(np.abs(jumps).mean() - 50.0) < 4 * 10.0 / math.sqrt(jumps.size)
    assert abs((jumps > 0).mean() - 0.5) < 4 * 0.5 / math.sqrt(jumps.size)


def test_order_size_mixture_numba_and_numpy_agree_with_its_weights():
    gen = np.random.default_rng(3)
    n = 100_000
    kernel = np.array([R.order_size(gen, R.SIZE_CUMULATIVE) for _ in range(n)])
    vectorised = R.order_sizes(n, np.random.default_rng(4))
    for sizes in (kernel, vectorised):
        for k in range(1, 11):
            share = (sizes == 100 * k).mean()
            w = R.SIZE_WEIGHTS[k] + R.SIZE_WEIGHTS[0] * stats.lognorm(1.2, scale=math.exp(2.9)).pdf(100 * k)
            assert abs(share - w) < 5 * math.sqrt(w / n) + 1e-4
        below = stats.norm.cdf((math.log(94.5) - 2.9) / 1.2)  # the log-normal part below 95 lots, its median:
        median = math.exp(2.9 + 1.2 * stats.norm.ppf(0.5 * below))  # 16.0 lots
        assert abs(np.median(sizes[sizes < 95]) - median) <= 1
    assert stats.ks_2samp(kernel, vectorised).pvalue > 1e-3


def _update(mode, shock_var_s, n_looks, gap_s=10.0, s_n=1000.0, s0=500.0, seed=5):
    vp = np.array([1e-24, shock_var_s * 1e-9, s_n, 0.1, 2.0, 1.0 if mode == "abides" else 0.0])
    state = np.array([0.0, s0])
    obs = np.random.default_rng(seed).normal(7.0, math.sqrt(s_n), n_looks)
    t = 0
    for x in obs:
        R.value_update(state, t, t + int(gap_s * 1e9), x, 0.0, vp)
        t += int(gap_s * 1e9)
    return state, obs


def test_value_update_is_the_exact_gaussian_posterior():
    state, obs = _update("kalman", 0.0, 25)
    precision = 1 / 500.0 + obs.size / 1000.0
    np.testing.assert_allclose(state[R.V_VARIANCE], 1 / precision, rtol=1e-9)
    np.testing.assert_allclose(state[R.V_ESTIMATE], (obs.sum() / 1000.0) / precision, rtol=1e-9)


def test_value_update_kalman_reaches_the_riccati_fixed_point_abides_collapses():
    q, s_n = 2.0 * 10.0, 1000.0  # shock variance per look, observation variance
    state, _ = _update("kalman", 2.0, 400)
    fixed = (-q + math.sqrt(q * q + 4 * q * s_n)) / 2  # P = s_n (P + q) / (s_n + P + q), P the posterior variance
    np.testing.assert_allclose(state[R.V_VARIANCE], fixed, rtol=1e-6)
    abides, _ = _update("abides", 2.0, 400)
    assert abides[R.V_VARIANCE] < 3.0 < fixed / 10  # ABIDES shrinks the old variance: overconfident


def test_momentum_agents_trade_only_after_long_window_plus_one_looks():
    config = small_config(momentum=MomentumAgents(count=6, wake_interval_s=37.0), session_s=1800.0)
    market = _Market(config, _root(8), config.session_s, 1, 10**9, 10**11)
    market.run()
    ev = market.ev[: int(market.ctr[_sim.C_EVENTS])]
    first, total = sum(config.counts) - 6, 0
    for k in range(6):
        mine = ev[:, K.EV_AGENT] == first + k
        adds = ev[mine & (ev[:, _sim.EV_KIND] == _sim.ADD), _sim.EV_ID]
        takes = ev[mine & (ev[:, _sim.EV_KIND] == _sim.TRADE), K.EV_AGGRESSOR_ID]
        orders = np.unique(np.concatenate([adds, takes])).size
        # the MA50 needs 51 looks (ABIDES); 1800 s / 37 s = 48.6 expected looks
        assert orders <= max(0, int(market.mseen[k]) - 50)
        total += orders
    allowed = np.maximum(market.mseen - 50, 0).sum()  # one order per look from the 51st; the last may be in flight
    assert allowed - 6 - market.ctr[K.C_SIZE_ZERO + K.MOMENTUM] <= total <= allowed
