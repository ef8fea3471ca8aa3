"""Sequential Monte Carlo (particle) sampling of a generator in an asked regime: select the model's own paths.

A model that does not read its regime condition can still be sampled *in* a regime by conditioning its own path law
on the regime event (sequential importance resampling with a potential, a Feynman-Kac particle system: Del Moral
2004; twisted / guided SMC for diffusion models: Wu et al. 2023). Every output path gets ``K`` particles, started
from the same state. At checkpoints every ``every_s`` seconds of simulated time (and at the end) each particle's
regime is measured over its last ``window`` book rows with the model's own quintile edges (the measure
:func:`generators.evaluation.regime_shares` uses), and weighted by the potential

    G = exp(-sharpness * d),

where ``d`` is the particle's distance to the asked quintiles in quintile units (:func:`quintile_distance`: 0 inside
every asked quintile, so G = 1 there). Within each output path's group the particles are then resampled
(systematic resampling, :func:`systematic_resample`): groups never mix, so output paths stay independent. With
``ess_threshold < 1`` a group is resampled only when its effective sample size ``1 / sum w^2`` falls to
``ess_threshold * K`` or below (the standard adaptive rule); until then its weights carry over, multiplied by each
checkpoint's potential. At the end (the path's exact end, measured on the same last ``window`` rows the evaluation
reads) one particle per group is drawn by its carried weight times the end potential, of sharpness
``final_sharpness`` (``inf``: only the group's particles nearest the asked quintiles, so one in them whenever the
group holds one); it is the output path, with its whole ancestral history of events and books. The paths so
sampled follow the model's path law reweighted by the product of the potentials at the checkpoints: the regime is
obtained by **selection**, not because the network reads the label.

Two departures from plain sampling, both recorded: at every checkpoint the rollout pauses as at a regime switch
(a message generated before it that would land after it is regenerated, counted as discarded), and at a checkpoint
where a particle holds fewer than ``window`` rows since its start its volatility and trend are scaled to the window
(``sqrt(window / r)`` and ``window / r`` over its ``r`` mid changes; depth and imbalance are means already).

:func:`smc_rollout` drives the numba rollout (:class:`generators.rollout_fast.PathBatch`) or its slow twin
(:mod:`generators.rollout`); both give the same bytes. :meth:`generators.base.BookGenerator.sample` calls it with
``particles=K`` (K = 1: plain sampling, byte for byte).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from generators import encoding as enc
from generators.rollout import BookPath, RateGuard, path_contexts, run_piece, select_paths
from generators.rollout_fast import PathBatch
from simlab.errors import ParameterError
from simlab.random import spawn

_TINY = 1e-12


@dataclass(frozen=True)
class SMCOptions:
    """The SMC's options (``smc=`` of :meth:`generators.base.BookGenerator.sample`).

    Attributes
    ----------
    every_s
        Seconds of simulated time between checkpoints (the end of the path is always one).
    window
        Book rows the regime is measured over at a checkpoint (the encoding's regime window by default).
    sharpness
        ``lambda`` of the potential ``exp(-lambda * distance)`` (0: no selection, the particles' weights are equal).
    final_sharpness
        ``lambda`` of the potential at the path's end, where the output particle is drawn (None: ``sharpness``;
        ``inf``: the limit, equal weight on the group's particles at the smallest distance, 0 on the others).
    ess_threshold
        Resample a group when its effective sample size is at most ``ess_threshold * K`` (1: at every checkpoint;
        below 1, weights carry over between resamplings; 0: never resample, importance sampling).
    """

    every_s: float = 2.0
    window: int = enc.REGIME_WINDOW
    sharpness: float = 4.0
    final_sharpness: float | None = None
    ess_threshold: float = 1.0

    @property
    def end_sharpness(self) -> float:
        """The sharpness of the end potential (``final_sharpness``, else ``sharpness``)."""
        return self.sharpness if self.final_sharpness is None else self.final_sharpness


def smc_options(options: Mapping[str, Any] | None) -> SMCOptions:
    """Return the checked :class:`SMCOptions` of a mapping (unset keys: the defaults); refuse unknown keys."""
    options = dict(options or {})
    known = set(SMCOptions.__dataclass_fields__)
    unknown = sorted(set(options) - known)
    if unknown:
        raise ParameterError(f"`smc` of sample: unknown option {unknown[0]!r}; expected some of {sorted(known)}")
    every, window, sharpness, final, threshold = (
        options.get(k, getattr(SMCOptions, k))
        for k in ("every_s", "window", "sharpness", "final_sharpness", "ess_threshold")
    )
    if isinstance(every, bool) or not isinstance(every, (int, float)) or not np.isfinite(every) or every <= 0:
        raise ParameterError(f"`smc` option every_s must be a number of seconds > 0; got {every!r}")
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 2:
        raise ParameterError(f"`smc` option window must be an int >= 2 (book rows); got {window!r}")
    if isinstance(sharpness, bool) or not isinstance(sharpness, (int, float)) or not 0 <= sharpness < np.inf:
        raise ParameterError(f"`smc` option sharpness must be a number >= 0; got {sharpness!r}")
    if final is not None and (isinstance(final, bool) or not isinstance(final, (int, float)) or not final >= 0):
        raise ParameterError(f"`smc` option final_sharpness must be a number >= 0 or inf; got {final!r}")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
        raise ParameterError(f"`smc` option ess_threshold must be a number in [0, 1] (a share of K); got {threshold!r}")
    return SMCOptions(float(every), int(window), float(sharpness), None if final is None else float(final),
                      float(threshold))  # fmt: skip


def quintile_distance(values: np.ndarray, asked: np.ndarray, edges: tuple[tuple[float, ...], ...]) -> np.ndarray:
    """Return each row's distance to the asked quintiles, in quintile units, summed over the asked variables.

    A value in the asked quintile is at 0. A value in quintile ``k`` below the asked ``q`` is at
    ``(q - k - 1) + (top edge of k - value) / width of k`` (the quintiles between, and the part of its own quintile
    it still has to cross), above it at ``(k - q - 1) + (value - bottom edge of k) / width of k``. The outer
    quintiles have no outer edge; they take their inner neighbour's width.

    Parameters
    ----------
    values
        Regime measures ``(n, 4)`` (columns in :data:`generators.encoding.REGIMES` order).
    asked
        Condition indices ``(4,)`` (:func:`generators.encoding.regime_condition`: 0-4, or the null index).
    edges
        The encoding's ``regime_edges`` (four inner edges per variable).
    """
    values = np.asarray(values, np.float64).reshape(-1, len(enc.REGIMES))
    out = np.zeros(values.shape[0])
    for j, q in enumerate(np.asarray(asked)):
        if q == enc.NULL_REGIME:
            continue
        e = np.asarray(edges[j], np.float64)
        inner = np.diff(e)
        widths = np.maximum(np.concatenate([inner[:1], inner, inner[-1:]]), _TINY)
        k = np.searchsorted(e, values[:, j], side="right")
        below = (q - k - 1) + (e[np.minimum(k, 3)] - values[:, j]) / widths[k]
        above = (k - q - 1) + (values[:, j] - e[np.maximum(k - 1, 0)]) / widths[k]
        out += np.where(k < q, below, np.where(k > q, above, 0.0))
    return out


def potential(values: np.ndarray, asked: np.ndarray, edges: tuple, sharpness: float) -> np.ndarray:
    """Return the potential ``G = exp(-sharpness * quintile_distance)`` of each row (1 in the asked quintiles)."""
    return np.exp(-float(sharpness) * quintile_distance(values, asked, edges))


def systematic_resample(weights: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """Return the ancestors ``(groups, K)`` of systematic resampling within each group (row) of ``weights``.

    Group ``g`` (its weights normalised) draws the positions ``(uniforms[g] + i) / K``, ``i = 0 .. K-1``, and each
    takes the particle whose cumulative weight first passes it; the ancestors are global indices ``g * K + i`` (a
    group never draws from another). Equal weights give every particle once.
    """
    weights = np.asarray(weights, np.float64)
    groups, k = weights.shape
    totals = weights.sum(axis=1, keepdims=True)
    if (totals <= 0).any() or not np.isfinite(weights).all() or (weights < 0).any():
        raise ParameterError("systematic_resample: each group's weights must be finite, >= 0 and not all 0")
    cumulative = np.cumsum(weights / totals, axis=1)
    out = np.empty((groups, k), np.int64)
    for g in range(groups):
        positions = (float(uniforms[g]) + np.arange(k)) / k
        out[g] = np.minimum(np.searchsorted(cumulative[g], positions, side="right"), k - 1) + g * k
    return out


def adaptive_resample(
    weights: np.ndarray, uniforms: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Resample the groups whose effective sample size ``1 / sum w^2`` is at most ``threshold * K`` (every group when
    ``threshold >= 1``); return the ancestors ``(groups, K)`` (global indices; a group not resampled keeps its own
    particles), which groups were resampled ``(groups,)``, and the log-weights each group carries to the next
    checkpoint (0 after resampling, else the log of its normalised weights).
    """
    weights = np.asarray(weights, np.float64)
    groups, k = weights.shape
    normalised = weights / weights.sum(axis=1, keepdims=True)
    due = (1.0 / (normalised**2).sum(axis=1) <= threshold * k) | (threshold >= 1)
    own = np.arange(groups * k).reshape(groups, k)
    index = np.where(due[:, None], systematic_resample(weights, uniforms), own) if due.any() else own
    with np.errstate(divide="ignore"):
        carried = np.where(due[:, None], 0.0, np.log(normalised))
    return index, due, carried


def measure(books: list[np.ndarray], window: int, levels: int | None = None) -> np.ndarray:
    """Return the regime measures ``(n, 4)`` of each particle's last book rows (int64 ``(rows, 4, depth)``, at most
    ``window + 1``), on the first ``levels`` levels (all when None); a particle with fewer than ``window`` mid
    changes has its volatility scaled by ``sqrt(window / r)`` and its trend by ``window / r``."""
    cut = slice(None) if levels is None else slice(0, int(levels))
    out = np.zeros((len(books), len(enc.REGIMES)))
    for p, rows in enumerate(books):
        arrays = tuple(np.ascontiguousarray(rows[:, j, cut]) for j in range(4))
        out[p] = enc.regime_values(arrays, window=window)[0]
        changes = rows.shape[0] - 1
        if 0 < changes < window:
            out[p, 0] *= np.sqrt(window / changes)
            out[p, 1] *= window / changes
    return out


class _Kernel:
    """The numba rollout (:class:`PathBatch`) behind the driver's interface."""

    def __init__(self, contexts, encoding, depth, rngs, stop_when_stuck, guard, trade_fill, thin_rate) -> None:
        self.batch = PathBatch(contexts, encoding, depth, rngs, stop_when_stuck, guard, trade_fill, thin_rate)

    def run(self, end_ns: int, final: bool, generate: Callable) -> None:
        self.batch.resume(end_ns, final)
        while not self.batch.done.all():
            active = np.flatnonzero(~self.batch.done)
            self.batch.apply(generate(*self.batch.features(active)), active)

    def last_books(self, rows: int) -> list[np.ndarray]:
        return self.batch.last_books(rows)

    def ended(self) -> np.ndarray:
        return self.batch.ended()

    def select(self, index: np.ndarray, fresh: list) -> None:
        self.batch.select(index, fresh)

    def results(self) -> list:
        return self.batch.results()


class _Twin:
    """The slow twin (:class:`generators.rollout.BookPath` per particle) behind the driver's interface."""

    def __init__(self, contexts, encoding, depth, rngs, stop_when_stuck, guard, trade_fill, thin_rate) -> None:
        ts = int(contexts[0]["ts_ns"])
        self.encoding = encoding
        self.paths = [
            BookPath(
                c,
                depth,
                rngs[p],
                ts,
                stop_when_stuck,
                encoding.book_levels,
                encoding.cancel_position,
                encoding.beyond_lots,
                encoding.beyond_ticks,
                encoding.add_price,
                guard,
                trade_fill,
                thin_rate,
            )
            for p, c in enumerate(contexts)
        ]

    def run(self, end_ns: int, final: bool, generate: Callable) -> None:
        for path in self.paths:
            path.resume(end_ns, final)
        run_piece(self.paths, generate, self.encoding, len(self.paths), None)

    def last_books(self, rows: int) -> list[np.ndarray]:
        return [np.stack(p.books[max(p.initial_orders - 1, len(p.books) - rows) :]) for p in self.paths]

    def ended(self) -> np.ndarray:
        return np.array([p.counts.stuck > 0 or p.counts.runaway > 0 for p in self.paths])

    def select(self, index: np.ndarray, fresh: list) -> None:
        self.paths = select_paths(self.paths, index, fresh)

    def results(self) -> list:
        return self.paths


def fresh_streams(index: np.ndarray, seed: int, stream: tuple[int, ...]) -> list[np.random.Generator | None]:
    """Return the order-pick generators of resampled particles: None (keep the ancestor's own) for the first copy
    of each ancestor, else a fresh child of the run's seed, ``SeedSequence(seed, spawn_key=stream + (j,))``, so that
    duplicates diverge and the same seed gives the same streams."""
    seen: set[int] = set()
    out: list[np.random.Generator | None] = []
    for j, a in enumerate(np.asarray(index).tolist()):
        if a in seen:
            out.append(np.random.default_rng(np.random.SeedSequence(seed, spawn_key=stream + (j,))))
        else:
            seen.add(a)
            out.append(None)
    return out


def smc_rollout(
    generate: Callable[[np.ndarray, np.ndarray], np.ndarray],
    encoding: enc.Encoding,
    context: dict[str, Any] | list[dict[str, Any]],
    *,
    n_paths: int,
    particles: int,
    duration_ns: int,
    depth: int,
    seed: int,
    regime: np.ndarray,
    options: SMCOptions,
    levels: int | None = None,
    twin: bool = False,
    progress: Callable[[int, int], None] | None = None,
    stop_when_stuck: bool = False,
    guard: RateGuard | None = None,
    trade_fill: str = "queue",
    thin_rate: float = 0.0,
) -> tuple[list[Any], list[dict[str, Any]]]:
    """Roll out ``particles`` per output path with resampling toward ``regime``; return the paths and their records.

    Parameters
    ----------
    generate, encoding, depth, stop_when_stuck, guard, trade_fill, thin_rate
        As for :func:`generators.rollout.rollout` (``generate`` sees all ``n_paths * particles`` running particles;
        a stuck or runaway particle weighs 0 at the checkpoints, :func:`_weights`).
    context
        One context, or one per output path (its particles all start from it).
    n_paths, particles, duration_ns
        Output paths, particles per path (>= 1) and the paths' length (ns).
    seed
        The run's seed: particle ``i`` (path ``i // particles``) picks orders with child ``i`` of
        ``SeedSequence(seed)``, the resampling uniforms come from child ``(N,)`` and a duplicated particle ``j``'s
        fresh stream at checkpoint ``c`` from ``(N, c, j)`` (``N = n_paths * particles``).
    regime
        The asked condition indices ``(4,)`` (:func:`generators.encoding.regime_condition`).
    options
        :class:`SMCOptions`.
    levels
        Levels the regime is measured on (a level-N model's window levels; None: all).
    twin
        Run on the slow twin instead of the kernels (the same bytes).
    progress
        Called with (checkpoints done, checkpoints) after each checkpoint.

    Returns
    -------
    tuple
        The output paths (objects with ``datasets(attrs, source)``) and one record per path: the attributes
        ``smc_*`` (:func:`_records`).
    """
    k, n = int(particles), int(n_paths) * int(particles)
    contexts = [c for c in path_contexts(context, int(n_paths)) for _ in range(k)]
    start = int(contexts[0]["ts_ns"])
    every_ns = int(round(options.every_s * 1e9))
    ends = list(range(start + every_ns, start + int(duration_ns), every_ns)) + [start + int(duration_ns)]
    driver = (_Twin if twin else _Kernel)(contexts, encoding, depth, spawn(seed, n), stop_when_stuck, guard, trade_fill,
                                                 thin_rate)  # fmt: skip
    uniforms = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(n,)))
    origin = np.arange(n) % k  # each particle's first ancestor within its group
    carried = np.zeros((int(n_paths), k))  # each group's log-weights carried since its last resampling
    ess, inside, resampled = [], [], []
    for c, end_ns in enumerate(ends):
        final = c == len(ends) - 1
        driver.run(end_ns, final, generate)
        values = measure(driver.last_books(options.window + 1), options.window, levels)
        distance = quintile_distance(values, regime, encoding.regime_edges)
        sharpness = options.end_sharpness if final else options.sharpness
        weights = _weights(distance, sharpness, driver.ended(), k, carried)
        ess.append(1.0 / (weights**2).sum(axis=1))
        inside.append((distance == 0).reshape(-1, k).mean(axis=1))
        u = uniforms.random(int(n_paths))
        if final:
            cumulative = np.cumsum(weights, axis=1)
            chosen = np.minimum((cumulative < u[:, None]).sum(axis=1), k - 1) + np.arange(int(n_paths)) * k
            end = {"distances": distance.reshape(-1, k), "draw": u}
        else:
            index, due, carried = adaptive_resample(weights, u, options.ess_threshold)
            resampled.append(due)
            if due.any():
                index = index.reshape(-1)
                driver.select(index, fresh_streams(index, seed, (n, c)))
                origin = origin[index]
        if progress is not None:
            progress(c + 1, len(ends))
    paths = driver.results()
    times = [(end_ns - start) / 1e9 for end_ns in ends]
    history = {"ess": np.array(ess), "inside": np.array(inside), "resampled": np.array(resampled).reshape(-1, n_paths)}
    records = _records(options, k, times, history, origin, chosen, end)
    return [paths[i] for i in chosen], records


def _weights(
    distance: np.ndarray, sharpness: float, stuck: np.ndarray, k: int, carried: np.ndarray | None = None
) -> np.ndarray:
    """Return each group's normalised weights ``(groups, k)``: the carried weights (log, None: equal) times the
    potential ``exp(-sharpness * distance)``; ``sharpness = inf`` takes the limit (the carried weights of the
    particles at the group's smallest distance, 0 elsewhere). A particle ended early (``stuck``: stuck or runaway)
    weighs 0 unless its whole group is."""
    d = np.asarray(distance, np.float64).reshape(-1, k)
    stuck = np.asarray(stuck).reshape(-1, k)
    excluded = stuck & ~stuck.all(axis=1, keepdims=True)
    base = np.zeros_like(d) if carried is None else np.asarray(carried, np.float64).reshape(-1, k)
    base = np.where(excluded, -np.inf, base)
    if np.isinf(sharpness):
        live = np.isfinite(base)
        nearest = np.where(live, d, np.inf).min(axis=1, keepdims=True)
        log = np.where(live & (d <= nearest), base, -np.inf)
    else:
        log = base - sharpness * d
    log = np.where(np.isneginf(log).all(axis=1, keepdims=True), 0.0, log)  # nothing left: equal weights
    weights = np.exp(log - log.max(axis=1, keepdims=True))
    return weights / weights.sum(axis=1, keepdims=True)


def _records(options, k, times, history, origin, chosen, end) -> list[dict[str, Any]]:
    # per output path: the SMC's settings and its group's record (JSON strings for the lists)
    out = []
    for g, index in enumerate(chosen.tolist()):
        group = origin[g * k : (g + 1) * k]
        out.append({
            "smc_particles": k, "smc_every_s": options.every_s, "smc_window": options.window,
            "smc_sharpness": options.sharpness, "smc_final_sharpness": json.dumps(options.end_sharpness),
            "smc_ess_threshold": options.ess_threshold,
            "smc_checkpoints_s": json.dumps([round(t, 9) for t in times]),
            "smc_ess": json.dumps([round(float(v), 4) for v in history["ess"][:, g]]),
            "smc_in_regime": json.dumps([round(float(v), 4) for v in history["inside"][:, g]]),
            "smc_resampled": json.dumps([int(v) for v in history["resampled"][:, g]]),
            "smc_end_distances": json.dumps([round(float(v), 6) for v in end["distances"][g]]),
            "smc_draw": float(end["draw"][g]),
            "smc_ancestors": int(np.unique(group).shape[0]), "smc_chosen": int(index - g * k),
            "smc_chosen_origin": int(origin[index]),
        })  # fmt: skip
    return out
