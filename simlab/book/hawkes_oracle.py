"""Continuations of the Hawkes-driven book from its state at chosen rows: the Monte Carlo behind the book oracle.

The Hawkes-driven book (:mod:`simlab.book.hawkes_book`) is Markov in (the engine state with its queues, the
simulator's counters, the Hawkes excitation state): its event times never depend on the book, and given the
excitation e_ijk(t) the future of a linear Hawkes process with exponential kernels does not depend on the rest of
the past. :func:`origin_states` re-runs a simulation exactly as :func:`~simlab.book.hawkes_book.simulate_hawkes_book`
does (same seed, same draws) and stops after the event that writes each requested row, yielding that state; the
excitation is computed from the path's events up to and including that event. :func:`continue_from` draws
``n_paths`` independent futures from such a state: each event's time and type by exact thinning of the intensity
(:func:`simlab.book._hawkes_oracle.next_event`), then the simulator's own step on a copy of the book.

A continuation reports, per path, the doubled mid ``bid + ask`` (ticks) at the target row, its highest and lowest
value from the origin to the target, the sum of squared log returns of the doubled mid, and whether both touches
stayed quoted (the labels of the book tasks need them). The target is the row ``k`` records after the origin (the
records the origin's own event writes after it count first, e.g. the later fills of one market order) or the last
row at most ``horizon_ns`` after it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from simlab.book import _hawkes_oracle, _sim
from simlab.book._hawkes_oracle import OUT_EVENTS, OUT_FIELDS, OUT_HIGH, OUT_LOW, OUT_MID, OUT_RV, OUT_VALID
from simlab.book.hawkes_book import HawkesBookParams, _check_run, _Simulation
from simlab.errors import DataError, ParameterError
from simlab.hawkes import simulate_hawkes
from simlab.random import RandomLike, as_generator

__all__ = ["OUT_EVENTS", "OUT_FIELDS", "OUT_HIGH", "OUT_LOW", "OUT_MID", "OUT_RV", "OUT_VALID"]
__all__ += ["OriginState", "continue_from", "intensity_tables", "origin_states"]


@dataclass
class OriginState:
    """The simulator's state just after the event that writes row ``row``.

    ``state`` is the engine tuple, ``ctr`` the counters, ``excitation`` (d, C) the intensity state at ``time_s``
    (the event's time on the path's clock, just after its own jump), ``rest_rows`` the records that event writes
    after row ``row``, ``event`` its index on the path, ``gen_state`` the book generator's state (for tests: the
    recorded run resumes from it), and ``mid2`` the doubled mid at the row (``NO_PRICE`` when a side is empty).
    """

    row: int
    event: int
    rest_rows: int
    state: tuple
    ctr: np.ndarray
    excitation: np.ndarray
    time_s: float
    gen_state: dict[str, Any]
    mid2: int


def intensity_tables(params: HawkesBookParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (jump (d, d, C), betas (C,), baseline (d,)) of the compressed excitation state (see the kernels)."""
    hawkes = params.hawkes
    betas = np.unique(hawkes.decays)
    d = hawkes.dimension
    jump = np.zeros((d, d, betas.size))
    index = np.searchsorted(betas, hawkes.decays)  # (i, j, k) -> c
    for i in range(d):
        for j in range(d):
            np.add.at(jump[j, i], index[i, j], hawkes.adjacency[i, j] * hawkes.decays[i, j])
    return jump, betas, np.asarray(hawkes.baseline, dtype=np.float64)


def _kernel_params(params: HawkesBookParams) -> tuple:
    cdf, values = params._tables
    return (cdf, values, params.cancel_hazard, _depth_ref(params), params.depth_window_ticks,
            params.max_spread_ticks or 0, params.placement_reference == "opposite", params.band_ticks)  # fmt: skip


def origin_states(
    params: HawkesBookParams,
    duration_s: float,
    rows: np.ndarray,
    *,
    rng: RandomLike,
    depth: int = 10,
    warmup_s: float = 60.0,
    start_ns: int = 0,
) -> Iterator[OriginState]:
    """Re-run ``simulate_hawkes_book(params, duration_s, rng=rng, depth=depth, warmup_s=warmup_s,
    start_ns=start_ns)`` (one book per event) and yield the state at each of the sorted ``rows``.

    A yielded state is the live simulation's: copy what must outlive the next iteration.

    Raises
    ------
    ParameterError
        When ``rows`` are not increasing, or one lies among the opening rows (the resting orders written as ADDs
        one by one at the start, not a state the simulator passes through) or beyond the run.
    """
    rows = np.asarray(rows, dtype=np.int64)
    if rows.ndim != 1 or np.any(np.diff(rows) <= 0):
        raise ParameterError("`rows` of origin_states must be strictly increasing row indices")
    duration_s, depth, _, warmup_s = _check_run(params, duration_s, depth, None, warmup_s, start_ns)
    gen = as_generator(rng)
    (path,) = simulate_hawkes(params.hawkes, warmup_s + duration_s, rng=gen)
    sim = _Simulation(params, path.times_s.size, depth, 0, duration_s, int(start_ns))
    cut = int(np.searchsorted(path.times_s, warmup_s))
    sim.run(gen, path, 0, cut, warmup_s, record=False)
    opening = sim.open_book()
    if rows.size and (rows[0] < opening):
        raise ParameterError(
            f"`rows` of origin_states must be >= {opening} (after the opening ADD rows); got {rows[0]}"
        )
    jump, betas, _ = intensity_tables(params)
    dims = path.dims.astype(np.int64)
    exc, t_exc, done, j = np.zeros((params.hawkes.dimension, betas.size)), 0.0, 0, cut
    kernel = _kernel_params(params)
    for row in rows:
        sim.state, sim.out, sim.ev, sim.books, sim.book_ts, j = _hawkes_oracle.run_until(
            sim.state, sim.out, gen, path.times_s, dims, j, path.times_s.size, warmup_s, *kernel, sim.start_ns,
            sim.ev, sim.books, sim.book_ts, sim.ctr, int(row),
        )  # fmt: skip
        written = int(sim.ctr[_sim.C_EVENTS])
        if written <= row:
            raise ParameterError(f"`rows` of origin_states: row {row} lies beyond the run's {written} rows")
        t_exc = _hawkes_oracle.advance_excitation(exc, t_exc, path.times_s, dims, jump, betas, done, j)
        done = j
        yield OriginState(int(row), j - 1, written - 1 - int(row), sim.state, sim.ctr, exc, float(t_exc),
                          gen.bit_generator.state, int(_hawkes_oracle._mid2(sim.state)))  # fmt: skip


def continue_from(
    params: HawkesBookParams,
    origin: OriginState,
    *,
    rng: RandomLike,
    n_paths: int,
    horizon_events: int | None = None,
    horizon_ns: int | None = None,
    warmup_s: float = 60.0,
    start_ns: int = 0,
    max_events: int = 1_000_000,
) -> np.ndarray:
    """Return ``(n_paths, OUT_FIELDS)`` continuations of the book from ``origin`` (module docstring): the target is
    ``horizon_events`` records after the origin row, or the last row at most ``horizon_ns`` after it.

    Raises
    ------
    ParameterError
        Without exactly one horizon, or with ``n_paths`` < 1.
    DataError
        When a continuation draws ``max_events`` events without reaching its target.
    """
    if (horizon_events is None) == (horizon_ns is None) or n_paths < 1:
        raise ParameterError(
            f"continue_from needs exactly one of horizon_events and horizon_ns, and n_paths >= 1; got "
            f"{horizon_events!r}, {horizon_ns!r}, {n_paths!r}"
        )
    need = 0 if horizon_events is None else int(horizon_events) - origin.rest_rows
    if horizon_events is not None and need <= 0:  # the target row is written by the origin's own event
        out = np.zeros((n_paths, OUT_FIELDS))
        out[:, [OUT_MID, OUT_HIGH, OUT_LOW]] = origin.mid2
        out[:, OUT_VALID] = origin.mid2 != _hawkes_oracle.eng.NO_PRICE
        return out
    origin_ns = start_ns + int(np.round((origin.time_s - warmup_s) * 1e9))
    limit_ns = origin_ns + (0 if horizon_ns is None else int(horizon_ns))
    jump, betas, baseline = intensity_tables(params)
    out = _hawkes_oracle.continue_paths(
        origin.state, origin.ctr, origin.excitation, origin.time_s, jump, betas, baseline, as_generator(rng),
        int(n_paths), need, np.int64(limit_ns), int(max_events), float(warmup_s), np.int64(start_ns),
        *_kernel_params(params),
    )  # fmt: skip
    stuck = (out[:, OUT_EVENTS] >= max_events) & (out[:, OUT_VALID] == 0)
    if stuck.any():
        raise DataError(f"continue_from row {origin.row}: {int(stuck.sum())} continuations drew {max_events} "
                        f"events without reaching the target ({horizon_events} records)")  # fmt: skip
    return out


def _depth_ref(params: HawkesBookParams) -> np.ndarray:
    ref = params.reference_depth_lots
    return np.zeros(2) if ref is None else np.asarray(ref, dtype=np.float64)
