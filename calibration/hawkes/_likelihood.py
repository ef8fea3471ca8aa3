"""Numba kernels of the exact Hawkes log-likelihood with exponential kernels (sums of exponentials).

Notation (tick's convention): ``lambda_i(t) = mu_i + sum_jk a_ijk b_ijk R_ijk(t)`` with
``R_ijk(t) = sum_{t_j < t} exp(-b_ijk (t - t_j))`` over the events of source j. The log-likelihood of one
realization on [0, T] splits into one term per target i (Ozaki 1979; Daley & Vere-Jones eq. 7.1.2):

    l_i = sum_{t_n in T_i} log lambda_i(t_n) - mu_i T - sum_jk a_ijk C_ijk,
    C_ijk = sum_{t_j} (1 - exp(-b_ijk (T - t_j)))

so with the decays fixed, l_i is concave in (mu_i, a_i..) and linear in the features ``X_n = b R(t_n)``.
The recursions run in decayed form: each source keeps ``A = sum exp(-b (t_last - t_j))`` and
``B = sum (t_last - t_j) exp(-b (t_last - t_j))`` at its own last event, so every exponent is <= 0 (no overflow
on 10^6+ events). ``d(b R)/db = R - b Q`` with ``Q = sum (t - t_j) exp(-b (t - t_j))`` gives the decay gradient.

Events are one merged stream per realization: ``times`` (sorted), ``dims`` (int32), realization ``bounds``
(offsets, R + 1) and ``end_times`` (R,); every realization starts at 0.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def merge_streams(flat: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """k-way merge of d sorted arrays stored back to back (``offsets`` (d + 1,)) into (times, dims)."""
    d = offsets.shape[0] - 1
    n = offsets[d]
    times = np.empty(n, np.float64)
    dims = np.empty(n, np.int32)
    heads = offsets[:d].copy()
    for m in range(n):
        best = -1
        best_t = np.inf
        for j in range(d):
            if heads[j] < offsets[j + 1] and (best < 0 or flat[heads[j]] < best_t):
                best = j
                best_t = flat[heads[j]]
        times[m] = best_t
        dims[m] = best
        heads[best] += 1
    return times, dims


@numba.njit(cache=True, nogil=True)
def target_features(times, dims, bounds, end_times, target, decays, order, out_x, out_h, out_g):
    """Fill the features of one target's events (and their decay derivatives) and return its compensator terms.

    ``decays`` (d, K) are b_target,j,k. Row m of ``out_x`` (n_target, d K) holds ``X = b R`` at the m-th event of
    ``target`` (all realizations in order); with ``order >= 1`` row m of ``out_h`` holds ``dX/db = R - b Q``, with
    ``order >= 2`` row m of ``out_g`` holds ``d2X/db2 = -2 Q + b S`` (``S = sum (t - t_j)^2 exp(-b (t - t_j))``).
    Returns ``C`` (d, K) = sum_j-events (1 - exp(-b (T - t))), ``dC/db`` = sum (T - t) exp(-b (T - t)) (order
    >= 1) and ``d2C/db2`` = -sum (T - t)^2 exp(-b (T - t)) (order 2; zeros below).
    """
    d, n_comp = decays.shape
    comp = np.zeros((d, n_comp))
    dcomp = np.zeros((d, n_comp))
    d2comp = np.zeros((d, n_comp))
    state_a = np.zeros((d, n_comp))
    state_b = np.zeros((d, n_comp))
    state_c = np.zeros((d, n_comp))  # sum (t_last - t_j)^2 exp(-b (t_last - t_j))
    last = np.zeros(d)
    count = np.zeros(d)
    row = 0
    for r in range(bounds.shape[0] - 1):
        state_a[:] = 0.0
        state_b[:] = 0.0
        state_c[:] = 0.0
        last[:] = 0.0
        count[:] = 0.0
        for m in range(bounds[r], bounds[r + 1]):
            t = times[m]
            j = dims[m]
            if j == target:
                for s in range(d):
                    dt = t - last[s]
                    for k in range(n_comp):
                        b = decays[s, k]
                        e = np.exp(-b * dt)
                        rr = state_a[s, k] * e
                        out_x[row, s * n_comp + k] = b * rr
                        if order >= 1:
                            qq = (state_b[s, k] + dt * state_a[s, k]) * e
                            out_h[row, s * n_comp + k] = rr - b * qq
                            if order >= 2:
                                ss = (state_c[s, k] + dt * (2.0 * state_b[s, k] + dt * state_a[s, k])) * e
                                out_g[row, s * n_comp + k] = b * ss - 2.0 * qq
                row += 1
            dt = t - last[j]
            for k in range(n_comp):
                e = np.exp(-decays[j, k] * dt)
                if order >= 2:
                    state_c[j, k] = (state_c[j, k] + dt * (2.0 * state_b[j, k] + dt * state_a[j, k])) * e
                state_b[j, k] = (state_b[j, k] + dt * state_a[j, k]) * e
                state_a[j, k] = state_a[j, k] * e + 1.0
            last[j] = t
            count[j] += 1.0
        # compensator terms from the final states: sum (1 - e^{-b (T - t_j)}) = N_j - A e^{-b (T - t_last)}
        for s in range(d):
            tail = end_times[r] - last[s]
            for k in range(n_comp):
                e = np.exp(-decays[s, k] * tail)
                comp[s, k] += count[s] - state_a[s, k] * e
                dcomp[s, k] += (state_b[s, k] + tail * state_a[s, k]) * e
                if order >= 2:
                    d2comp[s, k] -= (state_c[s, k] + tail * (2.0 * state_b[s, k] + tail * state_a[s, k])) * e
    return comp, dcomp, d2comp


@numba.njit(cache=True, nogil=True)
def target_loglik(x, comp, total_time, theta):
    """Log-likelihood of one target at ``theta = (mu, a (d K))`` from its features; -inf if a rate is <= 0."""
    mu = theta[0]
    p = theta.shape[0] - 1
    total = -mu * total_time
    for c in range(p):
        total -= theta[1 + c] * comp[c]
    for m in range(x.shape[0]):
        lam = mu
        for c in range(p):
            lam += theta[1 + c] * x[m, c]
        if lam <= 0.0:
            return -np.inf
        total += np.log(lam)
    return total


@numba.njit(cache=True, nogil=True)
def target_derivatives(x, comp, total_time, theta):
    """Gradient (p + 1,) and negative Hessian (p + 1, p + 1) of a target's log-likelihood in (mu, a)."""
    q = theta.shape[0]
    grad = np.zeros(q)
    hess = np.zeros((q, q))
    z = np.empty(q)
    z[0] = 1.0
    for m in range(x.shape[0]):
        lam = theta[0]
        for c in range(q - 1):
            z[1 + c] = x[m, c]
            lam += theta[1 + c] * x[m, c]
        inv = 1.0 / lam
        inv2 = inv * inv
        for u in range(q):
            grad[u] += z[u] * inv
            zu = z[u] * inv2
            for v in range(u + 1):
                hess[u, v] += zu * z[v]
    grad[0] -= total_time
    for c in range(q - 1):
        grad[1 + c] -= comp[c]
    for u in range(q):
        for v in range(u):
            hess[v, u] = hess[u, v]
    return grad, hess


@numba.njit(cache=True, nogil=True)
def newton_target(x, comp, total_time, theta0, lower, max_iter, tol):
    """Maximise a target's concave log-likelihood in (mu, a) >= ``lower`` by projected Newton (Bertsekas 1982).

    Free coordinates take the Newton step, those at their bound with a gradient pushing outward stay; the step is
    projected on the bounds and backtracked (Armijo). Stops when the Newton decrement is below ``tol`` nats.
    Returns (theta, loglik, converged, iterations).
    """
    q = theta0.shape[0]
    theta = np.maximum(theta0, lower)
    value = target_loglik(x, comp, total_time, theta)
    for it in range(max_iter):
        grad, hess = target_derivatives(x, comp, total_time, theta)
        free = np.ones(q, np.bool_)
        for u in range(q):
            if theta[u] <= lower[u] * (1.0 + 1e-12) + 1e-300 and grad[u] < 0.0:
                free[u] = False
        idx = np.flatnonzero(free)
        step = np.zeros(q)
        if idx.shape[0] > 0:
            sub = hess[idx][:, idx].copy()
            for u in range(idx.shape[0]):
                sub[u, u] += 1e-12 * sub[u, u] + 1e-300
            step[idx] = np.linalg.solve(sub, grad[idx])
        decrement = 0.0
        for u in range(q):
            decrement += grad[u] * step[u]
        if decrement < 2.0 * tol:
            return theta, value, True, it
        scale = 1.0
        accepted = False
        for _ in range(60):
            trial = np.maximum(theta + scale * step, lower)
            trial_value = target_loglik(x, comp, total_time, trial)
            if trial_value >= value + 1e-4 * np.dot(grad, trial - theta):
                accepted = True
                break
            scale *= 0.5
        if not accepted:
            return theta, value, decrement < 1e3 * tol, it
        theta = trial
        value = trial_value
    return theta, value, False, max_iter


@numba.njit(cache=True, parallel=True)
def fit_fixed_decays(times, dims, bounds, end_times, decays, counts, theta0, lower, max_iter, tol):
    """Fit every target in parallel with the decays fixed.

    Returns theta (d, 1 + d K), loglik (d,), converged (d,) and the observed information (d, 1 + d K, 1 + d K).
    """
    d = decays.shape[0]
    p = decays.shape[1] * decays.shape[2]
    total_time = end_times.sum()
    theta = np.empty((d, 1 + p))
    loglik = np.empty(d)
    converged = np.empty(d, np.bool_)
    info = np.empty((d, 1 + p, 1 + p))
    for i in numba.prange(d):
        x = np.empty((counts[i], p))
        comp, _, _ = target_features(times, dims, bounds, end_times, i, decays[i], 0, x, x, x)
        th, ll, ok, _ = newton_target(x, comp.ravel(), total_time, theta0[i], lower[i], max_iter, tol)
        theta[i] = th
        loglik[i] = ll
        converged[i] = ok
        info[i] = target_derivatives(x, comp.ravel(), total_time, th)[1]
    return theta, loglik, converged, info


@numba.njit(cache=True)
def rescaled_increments(times, dims, bounds, baseline, adjacency, decays):
    """Compensator increments Lambda_i(t_n) - Lambda_i(t_prev) of each event since the previous one of its type.

    ``Lambda_i(t) - Lambda_i(s) = mu_i (t - s) + sum_jk a_ijk [(N_j(t-) - N_j(s-)) - (R_ijk(t-) - R_ijk(s-))]``;
    the first event of each type in a realization counts from 0. Exp(1) variables under the model.
    """
    d, _, n_comp = adjacency.shape
    out = np.empty(times.shape[0])
    state = np.zeros((d, d, n_comp))
    count = np.zeros(d)
    last = np.zeros(d)
    prev_t = np.zeros(d)
    prev_n = np.zeros((d, d))
    prev_r = np.zeros((d, d, n_comp))
    for r in range(bounds.shape[0] - 1):
        state[:] = 0.0
        count[:] = 0.0
        last[:] = 0.0
        prev_t[:] = 0.0
        prev_n[:] = 0.0
        prev_r[:] = 0.0
        for m in range(bounds[r], bounds[r + 1]):
            t = times[m]
            i = dims[m]
            inc = baseline[i] * (t - prev_t[i])
            for j in range(d):
                dt = t - last[j]
                for k in range(n_comp):
                    rr = state[i, j, k] * np.exp(-decays[i, j, k] * dt)
                    inc += adjacency[i, j, k] * ((count[j] - prev_n[i, j]) - (rr - prev_r[i, j, k]))
                    prev_r[i, j, k] = rr
                prev_n[i, j] = count[j]
            out[m] = inc
            prev_t[i] = t
            dt = t - last[i]
            for s in range(d):
                for k in range(n_comp):
                    state[s, i, k] = state[s, i, k] * np.exp(-decays[s, i, k] * dt) + 1.0
            count[i] += 1.0
            last[i] = t
    return out


@numba.njit(cache=True, nogil=True)
def joint_derivatives(x, h, g, comp, dcomp, d2comp, total_time, theta):
    """Gradient (1 + 2p,) and negative Hessian of a target's log-likelihood in (mu, a (p), b (p)), p = d K.

    From features of order 2 (:func:`target_features`). With ``z_n = (1, X_n, a H_n)`` and ``lambda_n`` the
    intensity: ``grad = sum z / lambda - (T, C, a dC)``, ``-Hess = sum z z^T / lambda^2`` minus the terms
    linear in the second derivatives: ``d2l/da_c db_c = sum H_c / lambda - dC_c`` and
    ``d2l/db_c^2 += a_c (sum G_c / lambda - d2C_c)``.
    """
    p = x.shape[1]
    q = 1 + 2 * p
    grad = np.zeros(q)
    info = np.zeros((q, q))
    acc_h = np.zeros(p)
    acc_g = np.zeros(p)
    z = np.empty(q)
    z[0] = 1.0
    for m in range(x.shape[0]):
        lam = theta[0]
        for c in range(p):
            lam += theta[1 + c] * x[m, c]
        inv = 1.0 / lam
        inv2 = inv * inv
        for c in range(p):
            z[1 + c] = x[m, c]
            z[1 + p + c] = theta[1 + c] * h[m, c]
            acc_h[c] += h[m, c] * inv
            acc_g[c] += g[m, c] * inv
        for u in range(q):
            grad[u] += z[u] * inv
            zu = z[u] * inv2
            for v in range(u + 1):
                info[u, v] += zu * z[v]
    for u in range(q):
        for v in range(u):
            info[v, u] = info[u, v]
    grad[0] -= total_time
    for c in range(p):
        a = theta[1 + c]
        grad[1 + c] -= comp[c]
        grad[1 + p + c] -= a * dcomp[c]
        cross = acc_h[c] - dcomp[c]
        info[1 + c, 1 + p + c] -= cross
        info[1 + p + c, 1 + c] -= cross
        info[1 + p + c, 1 + p + c] -= a * (acc_g[c] - d2comp[c])
    return grad, info
