"""Exact simulation of multivariate linear Hawkes processes with (sums of) exponential kernels.

:func:`simulate_hawkes` draws independent paths on [0, duration_s) started empty (no history before 0), exactly:
the cluster representation processed in time order (see :mod:`simlab.hawkes._kernels`), so there is no
discretisation and no thinning. :func:`hawkes_events` writes a path in the event schema with its true parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr

from simlab.errors import ParameterError, SimlabError
from simlab.hawkes import _kernels
from simlab.hawkes.marks import MarkLaw, draw_marks, mark_laws
from simlab.hawkes.params import HawkesParams
from simlab.provenance import provenance
from simlab.random import RandomLike, as_generator, spawn
from simlab.schema import EventKind, make_events


@dataclass(frozen=True, eq=False)
class HawkesPath:
    """One simulated path.

    Attributes
    ----------
    times_s
        float64 (n,): sorted event times in seconds from 0.
    dims
        int32 (n,): the dimension of each event.
    marks
        int64 (n,): event sizes in lots when mark laws were given, else None.
    state_times_s
        float64 (m,): the times at which the intensity was recorded (may be empty).
    intensity
        float64 (m, d): lambda(t-) in events per second at those times (left limits: an event at t excluded).
    """

    times_s: np.ndarray
    dims: np.ndarray
    marks: np.ndarray | None
    state_times_s: np.ndarray
    intensity: np.ndarray


class CapReachedError(SimlabError):
    """A simulated path had more events than ``max_events`` before the horizon."""


def simulate_hawkes(
    params: HawkesParams,
    duration_s: float,
    *,
    rng: RandomLike,
    n_paths: int = 1,
    marks: MarkLaw | Sequence[MarkLaw] | None = None,
    state_times_s: np.ndarray | Sequence[float] | None = None,
    max_events: int | None = None,
    initial_state: np.ndarray | None = None,
) -> list[HawkesPath]:
    """Simulate independent paths of a Hawkes process on [0, duration_s), started with no history.

    Parameters
    ----------
    params
        The process (baseline in events/s, adjacency, decays in 1/s).
    duration_s
        Length of each path in seconds (> 0).
    rng
        Root seed: an int, a SeedSequence or a Generator. Path k uses the k-th child of the root SeedSequence
        (a Generator first draws a root from its stream), so path k does not depend on ``n_paths`` and the same
        int seed gives the same bytes.
    n_paths
        Number of independent paths.
    marks
        One mark law per dimension (or one law for all dimensions), e.g. :class:`~simlab.hawkes.EmpiricalMarks`;
        the sizes are drawn from the path's stream after its times (the times do not depend on the marks).
    state_times_s
        Sorted times in [0, duration_s] at which to record the intensity lambda(t-) of every dimension.
    max_events
        Cap on the number of events of one path. Required when ``params`` is not stationary (branching ratio
        >= 1). A path with more events than the cap before ``duration_s`` raises :class:`CapReachedError`
        (a path is never silently truncated).
    initial_state
        Excitation e_ijk(0) (d, d, K) (or (d, d) when K = 1) in events/s left by a history before 0 (e.g. from
        :func:`~simlab.hawkes.closed_form.excitation_state`); default none (the process starts empty). Each
        component then adds Poisson(e / b) children at Exp(b) delays, which is the exact continuation.

    Returns
    -------
    list of HawkesPath
        ``n_paths`` paths.
    """
    duration = _check_duration(duration_s)
    n_paths = _check_count("n_paths", n_paths, minimum=1)
    cap = _check_cap(params, max_events)
    laws = mark_laws(marks, params.dimension)
    queries = _check_state_times(state_times_s, duration)
    tables = _branching_tables(params)
    states = _intensity_tables(params)
    capacity = _expected_capacity(params, duration, cap)
    inherited = _check_initial_state(params, initial_state)
    paths = []
    for k, gen in enumerate(_path_generators(rng, n_paths)):
        pending = _inherited_children(inherited, duration, gen)
        times, dims, status, reached = _kernels.simulate_cluster(gen, *tables, duration, cap, capacity, *pending)
        if status == _kernels.CAP_REACHED:
            raise CapReachedError(
                f"path {k} of simulate_hawkes reached `max_events` = {cap} at t = {reached:.6g} s, before "
                f"`duration_s` = {duration:.6g} s; raise max_events or shorten duration_s"
            )
        path_marks = draw_marks(laws, dims, gen) if laws is not None else None
        intensity = _kernels.intensity_at(times, dims, params.baseline, *states, queries)
        paths.append(HawkesPath(times, dims, path_marks, queries.copy(), intensity))
    return paths


def path_intensity(path_times_s: np.ndarray, dims: np.ndarray, params: HawkesParams, at_s: np.ndarray) -> np.ndarray:
    """Return lambda(t-) (m, d) in events/s at sorted times ``at_s`` given sorted events (times in s, dimensions).

    An event exactly at a query time is excluded (left limit).
    """
    times = np.ascontiguousarray(path_times_s, dtype=np.float64)
    dims = np.ascontiguousarray(dims, dtype=np.int32)
    queries = np.ascontiguousarray(at_s, dtype=np.float64)
    if times.shape != dims.shape or times.ndim != 1:
        raise ParameterError(f"`times_s` and `dims` must be 1-D of one length; got {times.shape} and {dims.shape}")
    if dims.size and (dims.min() < 0 or dims.max() >= params.dimension):
        raise ParameterError(f"`dims` must lie in [0, {params.dimension}); got {dims.min()}..{dims.max()}")
    for name, values in (("times_s", times), ("at_s", queries)):
        if not np.isfinite(values).all() or np.any(np.diff(values) < 0):
            raise ParameterError(f"`{name}` of path_intensity must be finite and sorted (non-decreasing)")
    return _kernels.intensity_at(times, dims, params.baseline, *_intensity_tables(params), queries)


def hawkes_events(
    path: HawkesPath,
    params: HawkesParams,
    *,
    start_ns: int = 0,
    kinds: Sequence[int] | None = None,
    sides: Sequence[int] | None = None,
    instrument: str = "HAWKES",
    venue: str = "simlab",
    seed: int | None = None,
    tick_size: float = 1.0,
    lot_size: float = 1.0,
) -> xr.Dataset:
    """Write a simulated path in the event schema (:func:`simlab.schema.make_events`) with its true parameters.

    Parameters
    ----------
    path
        A path from :func:`simulate_hawkes` with ``params``.
    params
        The parameters that generated it (stored as the ``true_params`` attribute, JSON).
    start_ns
        Epoch time in ns of t = 0. ``ts_ns = start_ns + rint(t * 1e9)`` (round half to even, so events less
        than 0.5 ns apart may share a timestamp; the order of the path is kept).
    kinds
        One :class:`~simlab.schema.EventKind` per dimension (default TRADE for all).
    sides
        One side (+1, -1 or 0) per dimension; default +1 / -1 for a 2-D (buy, sell) model, else 0.
    instrument, venue, tick_size, lot_size
        Schema attributes.
    seed
        The root seed of the simulation, recorded in the provenance.

    Returns
    -------
    xarray.Dataset
        The events, ``price_ticks`` 0 (a Hawkes path has no prices), ``qty_lots`` the marks (1 without marks) and the
        extra int32 variable ``dimension``.
    """
    d = params.dimension
    n = path.times_s.shape[0]
    if path.dims.shape != (n,) or (n and (path.dims.min() < 0 or path.dims.max() >= d)):
        raise ParameterError(f"`path` of hawkes_events must have dims in [0, {d}) for the {d}-D `params`")
    kind_of = _per_dimension("kinds", kinds, d, [int(EventKind.TRADE)] * d)
    default_sides = [1, -1] if d == 2 else [0] * d
    side_of = _per_dimension("sides", sides, d, default_sides)
    dims = path.dims.astype(np.int64)
    config = {"engine": "simlab.hawkes.simulate_hawkes", "names": list(params.names), "start_ns": int(start_ns)}
    attrs = provenance(seed=seed, config=config, true_params=params.to_dict())
    attrs["true_params"] = params.to_json()
    return make_events(
        ts_ns=np.int64(start_ns) + np.rint(path.times_s * 1e9).astype(np.int64),
        kind=np.asarray(kind_of, dtype=np.int8)[dims],
        side=np.asarray(side_of, dtype=np.int8)[dims],
        price_ticks=0,
        qty_lots=path.marks if path.marks is not None else 1,
        tick_size=tick_size,
        lot_size=lot_size,
        instrument=instrument,
        venue=venue,
        extra={"dimension": path.dims.astype(np.int32)},
        attrs=attrs,
        source="hawkes_events",
    )


def _per_dimension(name: str, values: Sequence[int] | None, d: int, default: list[int]) -> list[int]:
    if values is None:
        return default
    values = [int(v) for v in values]
    if len(values) != d:
        raise ParameterError(f"`{name}` of hawkes_events must hold one value per dimension ({d}); got {len(values)}")
    return values


def _check_duration(duration_s: float) -> float:
    try:
        duration = float(duration_s)
    except (TypeError, ValueError):
        raise ParameterError(f"`duration_s` of simulate_hawkes must be a number > 0; got {duration_s!r}") from None
    if not (np.isfinite(duration) and duration > 0):
        raise ParameterError(f"`duration_s` of simulate_hawkes must be finite and > 0; got {duration_s!r}")
    return duration


def _check_count(name: str, value: int, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ParameterError(f"`{name}` of simulate_hawkes must be an int >= {minimum}; got {value!r}")
    return int(value)


def _check_cap(params: HawkesParams, max_events: int | None) -> int:
    if not isinstance(params, HawkesParams):
        raise ParameterError(f"`params` of simulate_hawkes must be HawkesParams; got {type(params).__name__}")
    if max_events is None:
        if not params.is_stationary:
            raise ParameterError(
                "`params` of simulate_hawkes must be stationary (branching ratio < 1) unless `max_events` caps "
                f"the path; got branching ratio {params.branching_ratio:.6g} and no max_events"
            )
        return np.iinfo(np.int64).max
    return _check_count("max_events", max_events, minimum=0)


def _check_state_times(state_times_s: np.ndarray | Sequence[float] | None, duration: float) -> np.ndarray:
    if state_times_s is None:
        return np.empty(0, dtype=np.float64)
    queries = np.array(state_times_s, dtype=np.float64).reshape(-1)
    if queries.size and (
        not np.isfinite(queries).all() or queries[0] < 0 or queries[-1] > duration or np.any(np.diff(queries) < 0)
    ):
        raise ParameterError(
            f"`state_times_s` of simulate_hawkes must be sorted times in [0, duration_s = {duration:.6g}]; "
            f"got min {queries.min():.6g}, max {queries.max():.6g}"
        )
    return queries


def _check_initial_state(params: HawkesParams, state: np.ndarray | None) -> tuple[np.ndarray, ...] | None:
    if state is None:
        return None
    values = params.excitation(state, "`initial_state` of simulate_hawkes")
    where = np.nonzero(values > 0)
    return where[0].astype(np.int32), values[where] / params.decays[where], params.decays[where]


def _inherited_children(inherited: tuple[np.ndarray, ...] | None, duration: float, gen: np.random.Generator) -> tuple:
    """Children of the history: Poisson(e / b) per component (i, j, k), each at an Exp(b) delay, before duration."""
    if inherited is None:
        return np.empty(0), np.empty(0, dtype=np.int32)
    targets, masses, decays = inherited
    counts = gen.poisson(masses)
    times = gen.standard_exponential(counts.sum()) / np.repeat(decays, counts)
    dims = np.repeat(targets, counts)
    keep = times < duration
    return times[keep], dims[keep]


def _path_generators(rng: RandomLike, n_paths: int) -> list[np.random.Generator]:
    if isinstance(rng, np.random.Generator):
        rng = np.random.SeedSequence(rng.integers(0, 2**63, size=4).tolist())
    elif not isinstance(rng, np.random.SeedSequence):
        as_generator(rng)  # refuses anything but a non-negative int seed, with its sentence
    return spawn(rng, n_paths)


def _branching_tables(params: HawkesParams) -> tuple:
    """Tables of the kernel: immigrant dimension cdf, and per source its children's (target, decay) cdf."""
    d, n_comp = params.dimension, params.n_components
    baseline_cdf = np.cumsum(params.baseline) / params.baseline.sum()
    # column j: pairs (i, k) of a[:, j, :] flattened target-major
    a = params.adjacency.transpose(1, 0, 2).reshape(d, d * n_comp)
    b = params.decays.transpose(1, 0, 2).reshape(d, d * n_comp)
    target = np.repeat(np.arange(d, dtype=np.int32), n_comp)
    child_mean = a.sum(axis=1)
    child_cdf = np.ones((d, d * n_comp))
    child_target = np.zeros((d, d * n_comp), dtype=np.int32)
    child_decay = np.ones((d, d * n_comp))
    child_count = np.ones(d, dtype=np.int64)
    for j in range(d):
        keep = np.flatnonzero(a[j] > 0)
        if keep.size:
            child_count[j] = keep.size
            child_cdf[j, : keep.size] = np.cumsum(a[j, keep]) / child_mean[j]
            child_target[j, : keep.size] = target[keep]
            child_decay[j, : keep.size] = b[j, keep]
    return baseline_cdf, float(params.baseline.sum()), child_mean, child_cdf, child_target, child_decay, child_count


def _intensity_tables(params: HawkesParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(weights (d, d, C), betas (d, C), n_betas (d,)): one state per source and distinct decay of its column."""
    d = params.dimension
    distinct = [np.unique(params.decays[:, j, :]) for j in range(d)]
    n_betas = np.array([len(x) for x in distinct], dtype=np.int64)
    betas = np.ones((d, int(n_betas.max())))
    weights = np.zeros((d, d, betas.shape[1]))
    for j, values in enumerate(distinct):
        betas[j, : len(values)] = values
        index = np.searchsorted(values, params.decays[:, j, :])
        for i in range(d):
            np.add.at(weights[i, j], index[i], params.adjacency[i, j] * params.decays[i, j])
    return weights, betas, n_betas


def _expected_capacity(params: HawkesParams, duration: float, cap: int) -> int:
    if params.is_stationary:
        rate = float(np.linalg.solve(np.eye(params.dimension) - params.branching_matrix, params.baseline).sum())
        guess = rate * duration * 1.1 + 1024
    else:
        guess = params.baseline.sum() * duration * 4 + 1024
    return int(min(guess, cap + 1, 2**27))
