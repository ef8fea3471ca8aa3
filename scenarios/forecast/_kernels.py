"""Numba kernels of the forecasting benchmark (private: the public modules validate and call them).

A linear Hawkes process with sums of exponential kernels is Markov in its excitation state: the P = d * d * K
components ``x_q(t) = sum_{t_m < t, dim src_q} a_q b_q exp(-b_q (t - t_m))`` (events/s), q = (i, j, k) flattened in
C order, with ``lambda_i = mu_i + sum_{q: target_q = i} x_q``. The kernels here record that state at many times in
one pass, and simulate the process forward from a state (Ogata thinning: between events every x_q decays, so the
current total intensity bounds the future one until the next event, and thinning is exact).
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def excitation_states(
    times: np.ndarray, dims: np.ndarray, source: np.ndarray, decay: np.ndarray, jump: np.ndarray, at: np.ndarray
) -> np.ndarray:
    """State x(t-) (m, P) at sorted times ``at`` from sorted events; an event exactly at t is excluded."""
    m, p = at.shape[0], decay.shape[0]
    out = np.zeros((m, p))
    x = np.zeros(p)
    n = times.shape[0]
    now = times[0] if n > 0 else 0.0
    e = 0
    for r in range(m):
        t = at[r]
        while e < n and times[e] < t:
            for q in range(p):
                x[q] *= np.exp(-decay[q] * (times[e] - now))
                if source[q] == dims[e]:
                    x[q] += jump[q]
            now = times[e]
            e += 1
        if e == 0:
            continue
        for q in range(p):
            out[r, q] = x[q] * np.exp(-decay[q] * (t - now))
    return out


@numba.njit(cache=True)
def _one_path(gen, x, baseline, target, source, rates, slot, jump, horizon, counts, lam, factor):
    """One continuation from the state x (modified in place); ``rates`` are the distinct decays, ``slot[q]`` the one
    of component q, so that one exponential per distinct decay serves every component."""
    d, p, n_rates = baseline.shape[0], x.shape[0], rates.shape[0]
    for i in range(d):
        lam[i] = baseline[i]
    for q in range(p):
        lam[target[q]] += x[q]
    s = 0.0
    while True:
        bound = 0.0
        for i in range(d):
            bound += lam[i]
        wait = gen.exponential(1.0 / bound)
        s += wait
        if s >= horizon:
            return
        for u in range(n_rates):
            factor[u] = np.exp(-rates[u] * wait)
        for i in range(d):
            lam[i] = baseline[i]
        for q in range(p):
            x[q] *= factor[slot[q]]
            lam[target[q]] += x[q]
        u = gen.random() * bound  # accept with probability lambda(s) / bound, then pick the dimension
        acc = 0.0
        for i in range(d):
            acc += lam[i]
            if u < acc:
                counts[i] += 1
                for q in range(p):
                    if source[q] == i:
                        x[q] += jump[q]
                        lam[target[q]] += jump[q]
                break


@numba.njit(cache=True)
def forward_moments(
    gen,
    states: np.ndarray,
    expected: np.ndarray,
    baseline: np.ndarray,
    target: np.ndarray,
    source: np.ndarray,
    rates: np.ndarray,
    slot: np.ndarray,
    jump: np.ndarray,
    horizon: float,
    n_paths: int,
    threshold: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Monte Carlo of the next ``horizon`` seconds from each state (m, P) of a 2-D (buy, sell) process.

    Returns mean counts (m, 2); E[OFI] (m,) with OFI = (n_buy - n_sell) / (n_buy + n_sell) (0 without events),
    estimated with the counts as control variates (their exact means ``expected`` (m, 2) known in closed form);
    the sample Var(OFI | state) (m,); the residual variance per path of the control-variate estimator (m,); and
    P(SELL, HOLD, BUY) of the signal (m, 3).
    """
    m, d, p = states.shape[0], baseline.shape[0], states.shape[1]
    factor = np.zeros(rates.shape[0])
    mean_counts = np.zeros((m, d))
    mean_ofi = np.zeros(m)
    var_ofi = np.zeros(m)
    var_cv = np.zeros(m)
    probs = np.zeros((m, 3))
    x = np.zeros(p)
    counts = np.zeros(d, dtype=np.int64)
    lam = np.zeros(d)
    for r in range(m):
        # running sums of y = OFI and z = (n_buy, n_sell) - expected, for the control-variate regression
        sy = syy = sz0 = sz1 = sz00 = sz01 = sz11 = syz0 = syz1 = 0.0
        for _ in range(n_paths):
            for q in range(p):
                x[q] = states[r, q]
            counts[:] = 0
            _one_path(gen, x, baseline, target, source, rates, slot, jump, horizon, counts, lam, factor)
            n = counts[0] + counts[1]
            y = (counts[0] - counts[1]) / n if n > 0 else 0.0
            z0 = counts[0] - expected[r, 0]
            z1 = counts[1] - expected[r, 1]
            sy += y
            syy += y * y
            sz0 += z0
            sz1 += z1
            sz00 += z0 * z0
            sz01 += z0 * z1
            sz11 += z1 * z1
            syz0 += y * z0
            syz1 += y * z1
            if y > threshold:
                probs[r, 2] += 1.0
            elif y < -threshold:
                probs[r, 0] += 1.0
            else:
                probs[r, 1] += 1.0
        k = float(n_paths)
        my, m0, m1 = sy / k, sz0 / k, sz1 / k
        c00, c01, c11 = sz00 / k - m0 * m0, sz01 / k - m0 * m1, sz11 / k - m1 * m1
        cy0, cy1, cyy = syz0 / k - my * m0, syz1 / k - my * m1, syy / k - my * my
        det = c00 * c11 - c01 * c01
        b0 = b1 = 0.0
        if det > 1e-12 * (c00 * c11 + 1e-300):
            b0 = (c11 * cy0 - c01 * cy1) / det
            b1 = (c00 * cy1 - c01 * cy0) / det
        mean_ofi[r] = my - b0 * m0 - b1 * m1
        var_ofi[r] = max(cyy, 0.0) * k / (k - 1.0)
        var_cv[r] = max(cyy - b0 * cy0 - b1 * cy1, 0.0) * k / (k - 3.0)
        mean_counts[r, 0] = expected[r, 0] + m0
        mean_counts[r, 1] = expected[r, 1] + m1
        for c in range(3):
            probs[r, c] /= k
    return mean_counts, mean_ofi, var_ofi, var_cv, probs
