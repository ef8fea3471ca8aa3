"""Numba kernels of the Hawkes engine (private; :mod:`simlab.hawkes.simulate` validates and wraps them).

Simulation uses the cluster (immigration-birth) representation of a linear Hawkes process with exponential kernels
(Hawkes & Oakes 1974; Moller & Rasmussen 2005), processed in time order with a binary min-heap of pending events:

* immigrants of dimension i arrive as a Poisson process of rate mu_i (merged: one stream of rate sum(mu), the
  dimension drawn with probability mu_i / sum(mu));
* every event of dimension j, when it is emitted, draws its number of children ~ Poisson(n_j) with
  n_j = sum_{i,k} a_ijk, gives each child the component (i, k) with probability a_ijk / n_j and the delay
  ~ Exp(b_ijk), and pushes the children that fall before the horizon into the heap.

Popping the heap in time order gives the events sorted, so the kernel can stop exactly at a cap. This is exact (no
discretisation, no thinning) and costs O(log h) per event, h the number of pending children, whatever d and K.

Intensities are evaluated with one state per (source j, distinct decay c of column j): the excitation of target i
by source j is ``sum_c w_ijc * s_jc(t)`` with ``s_jc(t) = sum_{t_m < t, dim j} exp(-beta_jc (t - t_m))`` and
``w_ijc = sum_{k: b_ijk = beta_jc} a_ijk b_ijk``. When the decays are equal down each column (or globally) this
keeps K (or 1) states per source instead of d K; the general case stays exact.
"""

from __future__ import annotations

import numba
import numpy as np

OK = 0
CAP_REACHED = 1


@numba.njit(cache=True)
def _heap_push(heap_t: np.ndarray, heap_d: np.ndarray, size: int, t: float, dim: int) -> None:
    pos = size
    while pos > 0:
        parent = (pos - 1) >> 1
        if heap_t[parent] <= t:
            break
        heap_t[pos] = heap_t[parent]
        heap_d[pos] = heap_d[parent]
        pos = parent
    heap_t[pos] = t
    heap_d[pos] = dim


@numba.njit(cache=True)
def _heap_pop(heap_t: np.ndarray, heap_d: np.ndarray, size: int) -> None:
    """Remove the root of a heap of ``size`` items (the caller has read it); the heap then holds size - 1."""
    last = size - 1
    t = heap_t[last]
    dim = heap_d[last]
    pos = 0
    child = 1
    while child < last:
        if child + 1 < last and heap_t[child + 1] < heap_t[child]:
            child += 1
        if heap_t[child] >= t:
            break
        heap_t[pos] = heap_t[child]
        heap_d[pos] = heap_d[child]
        pos = child
        child = 2 * pos + 1
    heap_t[pos] = t
    heap_d[pos] = dim


@numba.njit(cache=True)
def _grow_f8(values: np.ndarray) -> np.ndarray:
    out = np.empty(2 * values.shape[0], dtype=values.dtype)
    out[: values.shape[0]] = values
    return out


@numba.njit(cache=True)
def _grow_i4(values: np.ndarray) -> np.ndarray:
    out = np.empty(2 * values.shape[0], dtype=values.dtype)
    out[: values.shape[0]] = values
    return out


@numba.njit(cache=True)
def _poisson(gen, mean: float, exp_neg_mean: float) -> int:
    # inversion (Devroye 1986, X.3.2) for the small means of a branching process; numpy's sampler above 10
    if mean > 10.0:
        return gen.poisson(mean)
    u = gen.random()
    count = 0
    p = exp_neg_mean
    cdf = p
    while u > cdf and p > 0.0:
        count += 1
        p *= mean / count
        cdf += p
    return count


@numba.njit(cache=True)
def simulate_cluster(
    gen,
    baseline_cdf: np.ndarray,
    total_baseline: float,
    child_mean: np.ndarray,
    child_cdf: np.ndarray,
    child_target: np.ndarray,
    child_decay: np.ndarray,
    child_count: np.ndarray,
    duration: float,
    max_events: int,
    capacity: int,
    pending_times: np.ndarray,
    pending_dims: np.ndarray,
):
    """Simulate one path on [0, duration); return (times, dims, status, last time reached).

    ``baseline_cdf`` (d,) cumulates mu / sum(mu); for source j, ``child_cdf[j, :child_count[j]]`` cumulates
    a_ijk / n_j over its (i, k) pairs with a_ijk > 0, whose targets and decays are ``child_target`` and
    ``child_decay``; ``child_mean[j]`` = n_j. Status CAP_REACHED means a (max_events + 1)-th event fell in the
    window: the first max_events events are returned, the last time reached is that extra event's time.
    ``pending_times`` / ``pending_dims`` are events already scheduled (children of a history before 0), < duration.
    """
    d = baseline_cdf.shape[0]
    exp_neg = np.exp(-child_mean)
    times = np.empty(max(capacity, 16), dtype=np.float64)
    dims = np.empty(max(capacity, 16), dtype=np.int32)
    heap_t = np.empty(max(64, pending_times.shape[0]), dtype=np.float64)
    heap_d = np.empty(max(64, pending_times.shape[0]), dtype=np.int32)
    size = 0
    for m in range(pending_times.shape[0]):
        _heap_push(heap_t, heap_d, size, pending_times[m], pending_dims[m])
        size += 1
    n = 0
    t_immigrant = gen.standard_exponential() / total_baseline
    while True:
        if size > 0 and heap_t[0] < t_immigrant:
            t = heap_t[0]
            j = heap_d[0]
            _heap_pop(heap_t, heap_d, size)
            size -= 1
        else:
            t = t_immigrant
            if t >= duration:
                break
            u = gen.random()
            j = 0
            while j < d - 1 and u > baseline_cdf[j]:
                j += 1
            t_immigrant = t + gen.standard_exponential() / total_baseline
        if n == max_events:
            return times[:n], dims[:n], CAP_REACHED, t
        if n == times.shape[0]:
            times = _grow_f8(times)
            dims = _grow_i4(dims)
        times[n] = t
        dims[n] = j
        n += 1
        children = _poisson(gen, child_mean[j], exp_neg[j])
        for _ in range(children):
            u = gen.random()
            m = 0
            last = child_count[j] - 1
            while m < last and u > child_cdf[j, m]:
                m += 1
            t_child = t + gen.standard_exponential() / child_decay[j, m]
            if t_child < duration:
                if size == heap_t.shape[0]:
                    heap_t = _grow_f8(heap_t)
                    heap_d = _grow_i4(heap_d)
                _heap_push(heap_t, heap_d, size, t_child, child_target[j, m])
                size += 1
    return times[:n], dims[:n], OK, duration


@numba.njit(cache=True)
def intensity_at(
    times: np.ndarray,
    dims: np.ndarray,
    baseline: np.ndarray,
    weights: np.ndarray,
    betas: np.ndarray,
    n_betas: np.ndarray,
    queries: np.ndarray,
) -> np.ndarray:
    """Left-limit intensities lambda(q-) (q, d) at sorted query times, from sorted events.

    ``betas[j, :n_betas[j]]`` are the distinct decays of source j and ``weights[i, j, c]`` the summed a_ijk b_ijk of
    the components of (i, j) with decay ``betas[j, c]`` (see the module docstring).
    """
    d = baseline.shape[0]
    n_classes = betas.shape[1]
    state = np.zeros((d, n_classes))
    last = np.zeros(d)
    out = np.empty((queries.shape[0], d))
    e = 0
    for q in range(queries.shape[0]):
        tq = queries[q]
        while e < times.shape[0] and times[e] < tq:
            j = dims[e]
            for c in range(n_betas[j]):
                state[j, c] = state[j, c] * np.exp(-betas[j, c] * (times[e] - last[j])) + 1.0
            last[j] = times[e]
            e += 1
        for i in range(d):
            out[q, i] = baseline[i]
        for j in range(d):
            for c in range(n_betas[j]):
                s = state[j, c] * np.exp(-betas[j, c] * (tq - last[j]))
                for i in range(d):
                    out[q, i] += weights[i, j, c] * s
    return out
