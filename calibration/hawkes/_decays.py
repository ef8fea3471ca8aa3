"""Hawkes MLE with the decays estimated: Newton's method on each target's profile log-likelihood in log b.

For a target i the profile ``l_i(b) = max_{mu, a} l_i(mu, a, b)`` is maximised over ``phi = log b``. At the inner
optimum (projected Newton in (mu, a), concave) the envelope theorem gives the profile gradient (the partial
derivative in phi) and the implicit-function theorem its exact Hessian, the Schur complement of the joint
negative Hessian ``J`` (analytic, second-moment recursions of the decayed states, :func:`joint_derivatives`):

    J_profile = J_phi,phi - J_phi,theta J_theta,theta^-1 J_theta,phi   (theta = the free (mu, a))

Each Newton step costs one pass over the events plus a warm-started inner fit; a saddle-free modification
(|eigenvalues|) and a cap on the step in log b keep it ascending away from the optimum, a backtracking line search
on the profile value makes it monotone. A pair with no excitation (a_ij = 0) does not depend on its decay, so that
decay is frozen. After the fit, a decay whose adjacency is not significant (a / stderr < ``decay_min_z``, the
stderr with the decays free) is weakly identified and would only chase noise: it is tied to the target's default
decay (the geometric mean of its significant decays, else of all targets', else the start), the target is refitted
with it fixed and it is reported as not estimated (``decays_estimated_`` False, NaN stderr).

Starts: ``n_starts`` seeded starts per target are screened by a few Newton steps on a prefix of the events and
only the best one is refined on all of them. Targets run in threads (the kernels release the GIL).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from calibration.hawkes import _likelihood as lik

DECAY_RANGE = (1e-4, 1e5)  # decays searched in [1e-4, 1e5] x the mean event rate (events/s)
DECAY_START_SPREAD = 1.5  # extra starts move each log10 decay uniformly within +-1.5 decades
SCREEN_EVENTS = 100_000  # starts are screened on a prefix of about this many events, the best one refined on all
SCREEN_ITER = 4  # Newton steps per start on the prefix
MAX_LOG_STEP = 1.0  # largest change of one log decay per Newton step (a factor e)


class ProfileTarget:
    """One target's features at the current decays, its inner (mu, a) fit and the joint derivatives."""

    def __init__(self, events: Any, i: int, n_comp: int, lower: np.ndarray, max_iter: int, tol: float) -> None:
        self.stream = (events.times, events.dims, events.bounds, events.end_times)
        self.total_time = events.total_time
        self.i, self.d, self.k = i, events.dimension, n_comp
        self.lower, self.max_iter, self.tol = lower, max_iter, tol
        shape = (int(events.counts[i]), self.d * n_comp)
        self.x, self.h, self.g = np.empty(shape), np.empty(shape), np.empty(shape)
        self.phi_at = None

    def profile(self, phi: np.ndarray, theta: np.ndarray) -> tuple[np.ndarray, float, bool]:
        """Return the inner optimum (mu, a) at decays exp(phi), warm-started at ``theta``, its value and status."""
        b = np.exp(phi).reshape(self.d, self.k)
        comps = lik.target_features(*self.stream, self.i, b, 2, self.x, self.h, self.g)
        self.comps = tuple(c.ravel() for c in comps)
        self.phi_at = phi.copy()
        theta, value, ok, _ = lik.newton_target(
            self.x, self.comps[0], self.total_time, theta, self.lower, self.max_iter, self.tol
        )
        return theta, value, bool(ok)

    def derivatives(self, theta: np.ndarray, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Gradient and negative Hessian in (mu, a, b) at (theta, exp(phi))."""
        if self.phi_at is None or not np.array_equal(self.phi_at, phi):
            self.profile(phi, theta)
        return lik.joint_derivatives(self.x, self.h, self.g, *self.comps, self.total_time, theta)


def to_log_decays(grad: np.ndarray, info: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Change the decay coordinates of a gradient and negative Hessian from b to phi = log b."""
    p = b.size
    scale = np.concatenate([np.ones(1 + p), b])
    grad_phi = grad * scale
    info_phi = info * np.outer(scale, scale)
    info_phi[1 + p :, 1 + p :] -= np.diag(grad_phi[1 + p :])
    return grad_phi, info_phi


def profile_step(grad, info, theta, phi, frozen, log_bounds) -> np.ndarray:
    """Saddle-free Newton step of the profile log-likelihood in the free log decays (zeros elsewhere)."""
    p = phi.size
    step = np.zeros(p)
    active = theta[1:] > 0.0
    g_phi = grad[1 + p :]
    pinned = ((phi <= log_bounds[0]) & (g_phi < 0)) | ((phi >= log_bounds[1]) & (g_phi > 0))
    free_phi = active & ~frozen & ~pinned
    if not free_phi.any():
        return step
    free_theta = np.flatnonzero(np.concatenate([[True], active]))
    idx = 1 + p + np.flatnonzero(free_phi)
    cross = info[np.ix_(idx, free_theta)]
    inner = info[np.ix_(free_theta, free_theta)]
    try:
        schur = info[np.ix_(idx, idx)] - cross @ np.linalg.solve(inner, cross.T)
        values, vectors = np.linalg.eigh(0.5 * (schur + schur.T))
    except np.linalg.LinAlgError:
        return step
    if not np.isfinite(values).all():
        return step
    floor = 1e-8 * max(np.abs(values).max(), 1e-300)
    sub = vectors @ ((vectors.T @ g_phi[free_phi]) / np.maximum(np.abs(values), floor))
    largest = np.abs(sub).max()
    if largest > MAX_LOG_STEP:
        sub *= MAX_LOG_STEP / largest
    step[free_phi] = sub
    return step


def profile_newton(target, phi, theta, frozen, log_bounds, max_iter, tol):
    """Maximise a target's profile log-likelihood in log b; return (phi, theta, value, converged)."""
    theta, value, ok = target.profile(phi, theta)
    b_shape = phi.shape
    for _ in range(max_iter):
        grad, info = target.derivatives(theta, phi)
        grad, info = to_log_decays(grad, info, np.exp(phi))
        step = profile_step(grad, info, theta, phi, frozen, log_bounds)
        g_phi = grad[1 + phi.size :]
        decrement = float(g_phi @ step)
        if decrement < 2.0 * tol:
            return phi, theta, value, ok
        scale, accepted = 1.0, False
        for _ in range(30):
            trial = np.clip(phi + scale * step, *log_bounds).reshape(b_shape)
            trial_theta, trial_value, trial_ok = target.profile(trial, theta)
            if trial_value >= value + 1e-4 * float(g_phi @ (trial - phi)):
                accepted = True
                break
            scale *= 0.5
        if not accepted:
            return phi, theta, value, ok and decrement < 1e3 * tol
        phi, theta, value, ok = trial, trial_theta, trial_value, trial_ok
    return phi, theta, value, False


def fit_with_decays(events, decays0, rate, theta0, lower, prefix, settings, rng):
    """Fit every target with its decays estimated; return theta, decays, loglik, converged, infos, estimated.

    ``settings`` holds ``n_starts``, ``max_iter``, ``tol`` and ``decay_min_z``; ``prefix`` is the events used to
    screen the starts; ``theta0`` and ``lower`` are the (d, 1 + d K) starts and bounds of (mu, a).
    """
    d, _, k = decays0.shape
    n_starts, max_iter, tol, min_z = settings
    log_bounds = (np.log(DECAY_RANGE[0] * rate), np.log(DECAY_RANGE[1] * rate))
    starts = np.repeat(np.log(decays0).reshape(1, d, d * k), n_starts, axis=0)
    starts[1:] += rng.uniform(-DECAY_START_SPREAD, DECAY_START_SPREAD, starts[1:].shape) * np.log(10.0)
    starts = np.clip(starts, *log_bounds)
    none = np.zeros(d * k, bool)

    def first(i: int):
        phi = starts[0, i]
        if n_starts > 1:
            screen = ProfileTarget(prefix, i, k, lower[i], max_iter, tol)
            runs = [profile_newton(screen, s0, theta0[i], none, log_bounds, SCREEN_ITER, tol) for s0 in starts[:, i]]
            phi = max(runs, key=lambda r: r[2])[0]
        target = ProfileTarget(events, i, k, lower[i], max_iter, tol)
        return target, *profile_newton(target, phi, theta0[i], none, log_bounds, max_iter, tol)

    workers = max(1, min(d, os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(first, range(d)))
        derivs = [r[0].derivatives(r[2], r[1]) for r in results]
        phis = np.stack([r[1] for r in results])
        estimated = _significant(np.stack([r[2] for r in results]), [dv[1] for dv in derivs], min_z)
        tied = _tie(phis, estimated, np.log(decays0).reshape(d, d * k), k)

        def second(i: int):
            target, phi, theta, value, ok = results[i]
            if np.array_equal(tied[i], phi):
                return phi, theta, value, ok, derivs[i][1]
            phi, theta, value, ok = profile_newton(target, tied[i], theta, ~estimated[i], log_bounds, max_iter, tol)
            return phi, theta, value, ok, target.derivatives(theta, phi)[1]

        final = list(pool.map(second, range(d)))
    theta = np.stack([f[1] for f in final])
    decays = np.exp(np.stack([f[0] for f in final])).reshape(d, d, k)
    loglik = np.array([f[2] for f in final])
    converged = np.array([f[3] for f in final])
    estimated &= theta[:, 1:] > 0.0
    return theta, decays, loglik, converged, [f[4] for f in final], estimated.reshape(d, d, k)


def _significant(theta: np.ndarray, infos: list[np.ndarray], min_z: float) -> np.ndarray:
    """Pairs whose adjacency is > 0 and at least ``min_z`` standard errors (decays free) away from 0."""
    d, q = theta.shape
    p = q - 1
    out = np.zeros((d, p), bool)
    for i in range(d):
        active = theta[i, 1:] > 0.0
        free = np.concatenate([[True], active, active])
        try:
            cov = np.linalg.inv(infos[i][np.ix_(free, free)])
        except np.linalg.LinAlgError:
            continue
        var = np.full(p, np.nan)
        var[active] = np.diag(cov)[1 : 1 + int(active.sum())]
        with np.errstate(invalid="ignore", divide="ignore"):
            out[i] = active & (var > 0) & (theta[i, 1:] >= min_z * np.sqrt(np.abs(var)))
    return out


def _tie(phis: np.ndarray, estimated: np.ndarray, starts: np.ndarray, k: int) -> np.ndarray:
    """Log decays with the not-estimated ones set to their target's default (per component)."""
    d = phis.shape[0]
    out = phis.copy()
    by_comp = phis.reshape(d, d, k)
    mask = estimated.reshape(d, d, k)
    for c in range(k):
        overall = np.mean(by_comp[:, :, c][mask[:, :, c]]) if mask[:, :, c].any() else None
        for i in range(d):
            row = by_comp[i, :, c][mask[i, :, c]]
            default = row.mean() if row.size else overall
            for j in range(d):
                if not mask[i, j, c]:
                    out[i, j * k + c] = starts[i, j * k + c] if default is None else default
    return out
