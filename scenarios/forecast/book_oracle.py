"""The oracle of the book tasks on the Hawkes-driven book: the Bayes forecast from the simulator's own state.

A :class:`HawkesWorld` is a simulation of a Hawkes-driven book preset (``hawkes-aapl``) with everything needed to
run it again: the parameters, the seed, the span, the depth and the warm-up. :func:`world_series` simulates it as
a :class:`WorldBook` (a :class:`~scenarios.forecast.books.BookSeries` that keeps its world). At each origin row,
:class:`BookOracle` takes the engine state with its queues and the Hawkes excitation state just after the row
(:func:`simlab.book.hawkes_oracle.origin_states`, a re-run with the same seed, checked against the series' mid),
runs ``n_paths`` Monte Carlo continuations of the same simulator to the task's horizon
(:func:`~simlab.book.hawkes_oracle.continue_from`) and labels each with the task's own rule:

* ``direction`` and ``big_move``: the class frequencies over the continuations are the class probabilities, the
  most probable class is the Bayes decision (no forecaster that sees only the past can beat it in expectation);
* ``realised_vol``: the mean over the continuations (the conditional mean, the Bayes forecast under squared
  error).

A continuation whose touch empties before the target is dropped, as the task drops such an origin (its label is
undefined); ``valid_paths`` counts the rest. The Monte Carlo seed of origin row r is ``SeedSequence([world seed,
ORACLE_STREAM, r])``, so a row's forecast does not depend on which other rows are asked for, and continuations are
cached on the world per (horizon, paths). :func:`mc_accuracy_se` is the standard error of the oracle's accuracy due
to finite ``n_paths`` (a parametric bootstrap of the class counts). The ``slippage`` task has no oracle here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scenarios.forecast.books import BookSeries, from_books
from scenarios.forecast.forecasters import Forecaster, Prediction
from scenarios.forecast.task_data import TaskData, prediction
from simlab.book.hawkes_book import HawkesBookParams, simulate_hawkes_book
from simlab.book.hawkes_oracle import OUT_HIGH, OUT_LOW, OUT_MID, OUT_RV, OUT_VALID, continue_from, origin_states
from simlab.errors import DataError, ParameterError

ORACLE_STREAM = 16  # the oracle's child stream of a world's seed (the simulation uses the seed itself)


@dataclass(eq=False)
class HawkesWorld:
    """A seeded simulation of a Hawkes-driven book: ``simulate_hawkes_book(params, duration_s, rng=seed,
    depth=depth, warmup_s=warmup_s, start_ns=start_ns)``; ``cache`` holds continuations already drawn."""

    name: str
    params: HawkesBookParams
    duration_s: float
    seed: int
    depth: int = 10
    warmup_s: float = 60.0
    start_ns: int = 0
    cache: dict[Any, dict[int, np.ndarray]] = field(default_factory=dict, repr=False)

    def run_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of the simulation (and of its re-runs)."""
        return {"rng": self.seed, "depth": self.depth, "warmup_s": self.warmup_s, "start_ns": self.start_ns}


@dataclass(frozen=True)
class WorldBook(BookSeries):
    """A book series simulated from ``world`` (the oracle re-runs it)."""

    world: HawkesWorld | None = None


def world_series(world: HawkesWorld) -> WorldBook:
    """Simulate ``world`` and return its book after every event."""
    sim = simulate_hawkes_book(world.params, world.duration_s, **world.run_kwargs())
    series = from_books(world.name, sim["books"], sim["events"])
    return WorldBook(**{f: getattr(series, f) for f in series.__dataclass_fields__}, world=world)


def preset_world(name: str, duration_s: float, *, seed: int, depth: int = 10) -> HawkesWorld:
    """Return the world of the Hawkes-driven book preset ``name`` (e.g. ``"hawkes-aapl"``) for ``duration_s``
    seconds from its recorded start, seeded by ``seed``; another model of preset is refused."""
    from calibration.book_presets import load_book_preset

    preset = load_book_preset(name)
    if preset.model != "hawkes":
        raise ParameterError(f"the book oracle needs a Hawkes-driven book preset (model 'hawkes-book'); preset "
                             f"{name!r} is a {preset.model!r} book, which has no oracle")  # fmt: skip
    start = int(preset.simulation.get("start_ns", 0))
    return HawkesWorld(f"preset:{preset.name}", preset.params, float(duration_s), int(seed), depth, 60.0, start)


def continuations(world: HawkesWorld, rows: np.ndarray, task_key: tuple, n_paths: int) -> list[np.ndarray]:
    """Return the continuations ``(n_paths, OUT_FIELDS)`` from each of the sorted ``rows`` (cached on the world)
    for ``task_key`` = (horizon_events, horizon_s), checking the re-run's mid against the world's series."""
    cache = world.cache.setdefault((*task_key, n_paths), {})
    todo = np.array([r for r in rows if int(r) not in cache], dtype=np.int64)
    if todo.size:
        horizon_events, horizon_s = task_key
        horizon_ns = None if horizon_s is None else int(round(horizon_s * 1e9))
        for origin in origin_states(world.params, world.duration_s, todo, **world.run_kwargs()):
            rng = np.random.default_rng(np.random.SeedSequence([world.seed, ORACLE_STREAM, origin.row]))
            cache[origin.row] = continue_from(
                world.params, origin, rng=rng, n_paths=n_paths, horizon_events=horizon_events, horizon_ns=horizon_ns,
                warmup_s=world.warmup_s, start_ns=world.start_ns,
            )  # fmt: skip
            world.cache.setdefault("mid2", {})[origin.row] = origin.mid2
    return [cache[int(r)] for r in rows]


def path_labels(task_name: str, out: np.ndarray, mid2: int, threshold_ticks: float, move_ticks: float) -> np.ndarray:
    """Return the task's label of every valid continuation in ``out`` from an origin of doubled mid ``mid2``
    (the rules of :meth:`scenarios.forecast.tasks.Task.labels`)."""
    out = out[out[:, OUT_VALID] > 0]
    if task_name == "direction":
        move = (out[:, OUT_MID] - mid2) / 2.0
        return np.sign(move) * (np.abs(move) > threshold_ticks)
    if task_name == "big_move":
        up, down = out[:, OUT_HIGH] - mid2 > 2 * move_ticks, mid2 - out[:, OUT_LOW] > 2 * move_ticks
        return (up | down).astype(float)
    return 1e4 * np.sqrt(out[:, OUT_RV])


class BookOracle(Forecaster):
    """The Bayes forecast of a book task from ``n_paths`` continuations of the true simulator (module docstring);
    only for a :class:`WorldBook` series. Its prediction's ``counts`` hold the class counts (classification) or the
    valid paths (regression) of each origin."""

    name = "oracle"

    def __init__(self, n_paths: int = 200) -> None:
        if n_paths < 10:
            raise ParameterError(f"`oracle_paths` of the book oracle must be >= 10; got {n_paths}")
        self.n_paths = n_paths

    def fit(self, series: TaskData, train: np.ndarray, rng: np.random.Generator) -> Forecaster:
        """Nothing to learn: the oracle knows the world (its own seed, not ``rng``, drives its Monte Carlo)."""
        return self

    def predict(self, series: TaskData, index: np.ndarray) -> Prediction:
        world, task = getattr(series.book, "world", None), series.task
        if world is None:
            raise DataError(f"series {series.name!r}: the book oracle needs a simulated Hawkes-driven book (data "
                            "source 'preset' with a hawkes-* preset); this series has no simulator state")  # fmt: skip
        if task.name == "slippage":
            raise ParameterError("the book oracle forecasts direction, big_move and realised_vol; got 'slippage'")
        index = np.asarray(index, dtype=np.int64)
        rows = np.unique(index)
        outs = dict(zip(rows.tolist(), continuations(world, rows, (task.horizon_events, task.horizon_s),
                                                     self.n_paths), strict=True))  # fmt: skip
        mid2 = series.book.mid2()
        classes = task.classes
        values, counts = [], []
        for r in index.tolist():
            rerun = world.cache["mid2"][r]
            if rerun != mid2[r]:
                raise DataError(f"series {series.name!r}: the oracle's re-run of {world.name!r} has doubled mid "
                                f"{rerun} at row {r}, the series {mid2[r]}: not this world's series")  # fmt: skip
            labels = path_labels(task.name, outs[r], int(mid2[r]), task.threshold_ticks, task.move_ticks)
            if labels.size == 0:
                raise DataError(f"series {series.name!r}: every continuation from row {r} emptied a touch")
            if classes is None:
                values.append(labels.mean())
                counts.append([labels.size])
            else:
                counts.append([np.sum(labels == c) for c in classes])
                values.append(np.asarray(counts[-1], dtype=float) / labels.size)
        pred = prediction(task, np.asarray(values))
        return Prediction(pred.ofi, probs=pred.probs, counts=np.asarray(counts, dtype=np.int64))


def mc_accuracy_se(counts: np.ndarray, actual: np.ndarray, classes, *, rng: np.random.Generator, n_boot: int = 200):
    """Return the standard deviation of the oracle's accuracy over ``n_boot`` redraws of each origin's class counts
    (multinomial with the estimated probabilities and the same number of valid paths): its Monte Carlo error."""
    total = counts.sum(axis=1)
    probs = counts / total[:, None]
    classes = np.asarray(classes)
    accuracy = [np.mean(classes[np.argmax(rng.multinomial(total, probs), axis=1)] == actual) for _ in range(n_boot)]
    return float(np.std(accuracy, ddof=1))
