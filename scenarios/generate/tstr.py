"""Usefulness of generated flow: train a mid-price-direction predictor on it, test it on the real held-out span (TSTR).

The same forecaster (:class:`scenarios.forecast.task_protocol.FlowLogistic`: multinomial logistic regression on the
windowed order-flow imbalance and the level-1 book imbalance, the forecasting benchmark's reference) is fitted on
the real training span (TRTR) and on generated flow (TSTR); both fits predict a direction task
(:class:`scenarios.forecast.tasks.Task`, or :class:`NextMove`) at every usable origin of the real held-out span, and
the ratio of the scores TSTR / TRTR is the predictive score of TimeGAN and TRADES (the issue's goal: >= 0.9,
:data:`GOAL`). The training and test series are separate, so no label reads across them.

Making the ratio readable (:func:`tstr_compare`): several generated paths are pooled into one training series
(:func:`scenarios.forecast.book_tstr.joined`: no input window or label crosses a seam), and beside the ratio come
its references, all on the same held-out origins: the prior's ratio (chance: the training span's commonest class),
the ratio of the forecaster trained on the real *validation* span (real flow from another time: the real-vs-real
reference), and the skill over the prior (:func:`skill`). Their intervals come from a paired circular block
bootstrap over the held-out origins (:func:`paired_block_bootstrap`: one set of resampled origins for every arm of a
replicate). :func:`verdict` reads a ratio against the goal and chance (docs/generators_tstr.md, "Verdict"). The task
is chosen on the training and validation spans only (:func:`scenarios.generate.tstr_study.select_task`).
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
import xarray as xr

from scenarios.forecast.book_tstr import collapse_rebuilds, joined
from scenarios.forecast.books import BookSeries, from_books
from scenarios.forecast.protocol import streams
from scenarios.forecast.task_data import TaskData
from scenarios.forecast.task_protocol import FlowLogistic, Prior, label_overlap, origins
from simlab.book.stats import visible_events
from simlab.errors import DataError, ParameterError
from simlab.random import RandomLike, as_generator
from simlab.schema import NO_PRICE

MIN_ORIGINS = 50
GOAL = 0.9  # the goal for the ratio TSTR / TRTR
VERDICTS = ("shown", "refuted", "not shown")


class NextMove:
    """The direction of the next mid change: +1 when the first later row whose mid differs from the origin's has a
    higher mid, -1 when lower (two classes; no "flat"). The target row is that row; an origin is labelled only when
    both touches exist at it and at the target row (the rows between share the origin's mid) and, with
    ``max_events``, when the change comes within that many rows. Duck-types :class:`scenarios.forecast.tasks.Task`
    for :class:`~scenarios.forecast.task_data.TaskData` (``name``, ``classes``, ``labels``)."""

    name = "next_move"
    classes = (-1, 1)

    def __init__(self, max_events: int | None = None) -> None:
        if max_events is not None and (isinstance(max_events, bool) or int(max_events) != max_events or max_events < 1):
            raise ParameterError(f"`max_events` of NextMove must be an int >= 1 or None; got {max_events!r}")
        self.max_events = None if max_events is None else int(max_events)

    def __repr__(self) -> str:
        return f"NextMove(max_events={self.max_events})"

    def labels(self, series: BookSeries) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return the label (n,), target row (n,) and whether it is defined (n,) at every row of ``series``."""
        mid2 = series.mid2()
        n = mid2.size
        change = np.flatnonzero(mid2[1:] != mid2[:-1]) + 1  # rows whose mid differs from the row before
        k = np.searchsorted(change, np.arange(n), side="right")  # the first change row after each row
        found = k < change.size
        end = np.where(found, change[np.minimum(k, max(change.size - 1, 0))] if change.size else 0, n - 1)
        ok = found & (mid2 != NO_PRICE) & (mid2[end] != NO_PRICE)
        if self.max_events is not None:
            ok &= end - np.arange(n) <= self.max_events
        y = np.where(ok, np.sign(mid2[end] - mid2), 0).astype(float)
        return y, end.astype(np.int64), ok


def series_of(name: str, flow: dict[str, xr.Dataset], *, window_levels: int | None = None) -> BookSeries:
    """Return the book series of a flow (``events`` and ``books``), without a sampled path's initial orders.

    With ``window_levels`` (the real data are a level-N LOBSTER file, which records only the events that touch its
    first N levels), only the events such a file would record are kept, with their book rows
    (:func:`simlab.book.stats.visible_events`, as the scorecard filters synthetic flow), so that "50 events ahead"
    counts the same events in generated and real flow. The transient rows of a simulated book rebuild (a queue-reactive
    preset empties a touch, then writes CLEAR and SET_LEVEL rows at one time) are dropped
    (:func:`scenarios.forecast.book_tstr.collapse_rebuilds`; no effect on flow without rebuild rows).
    """
    skip = max(int(flow["events"].attrs.get("initial_orders", 0)) - 1, 0)
    events, books = flow["events"].isel(event=slice(skip, None)), flow["books"].isel(time=slice(skip, None))
    if window_levels is not None:
        columns = (events[field].values for field in ("kind", "side", "price_ticks"))
        keep = np.flatnonzero(visible_events(*columns, books, int(window_levels)))
        events, books = events.isel(event=keep), books.isel(time=keep)
    return collapse_rebuilds(from_books(name, books, events))


def verdict(ratio: dict[str, float], chance: dict[str, float], *, goal: float = GOAL) -> dict[str, Any]:
    """Return the verdict on the goal "TSTR / TRTR >= ``goal``" for one source, by the rule of docs/generators_tstr.md.

    The task is *readable* when chance cannot reach the goal: the prior's ratio interval ends below ``goal``. Then
    the goal is ``shown`` when the source's ratio interval starts at or above ``goal`` and ``refuted`` when it ends
    below it; otherwise (an interval across the goal, chance reaching it, or an interval that is not a number) it is
    ``not shown``.

    Parameters
    ----------
    ratio, chance
        ``{"value", "low", "high"}``: the source's ratio to TRTR and the prior's, from the same bootstrap
        (:func:`paired_block_bootstrap`).
    goal
        The ratio the issue asks for.

    Returns
    -------
    dict
        ``verdict`` (one of :data:`VERDICTS`), ``reason`` (a sentence with the numbers), ``goal``.
    """
    low, high, chance_high = float(ratio["low"]), float(ratio["high"]), float(chance["high"])
    span = f"ratio {ratio['value']:.3f} [{low:.3f}, {high:.3f}], chance {chance['value']:.3f} [{chance['low']:.3f}, "
    span += f"{chance_high:.3f}]"
    if not np.isfinite([low, high, chance_high]).all():
        return {"verdict": "not shown", "reason": f"an interval is not a number: {span}", "goal": goal}
    if chance_high >= goal:
        return {"verdict": "not shown", "reason": f"chance reaches the goal {goal:g}: {span}", "goal": goal}
    if low >= goal:
        return {"verdict": "shown", "reason": f"the ratio's interval starts at or above {goal:g}: {span}", "goal": goal}
    if high < goal:
        return {"verdict": "refuted", "reason": f"the ratio's interval ends below {goal:g}: {span}", "goal": goal}
    return {"verdict": "not shown", "reason": f"the ratio's interval holds {goal:g}: {span}", "goal": goal}


def skill(accuracy: float, prior: float, reference: float) -> float:
    """Return the skill over the prior, (accuracy - prior) / (reference - prior): 0 at chance, 1 at the reference
    (TRTR); NaN when the reference does not beat the prior."""
    gain = reference - prior
    return float((accuracy - prior) / gain) if gain > 0 else float("nan")


def circular_block_sums(values: np.ndarray, block: int) -> np.ndarray:
    """Return the sum of ``values[s], ..., values[s + block - 1]`` (indices modulo n) for every start s (n,)."""
    values = np.asarray(values, dtype=float)
    n = values.size
    if not 1 <= block <= n:
        raise ParameterError(f"`block` of the block bootstrap must be in [1, {n}] origins; got {block}")
    c = np.r_[0.0, np.cumsum(np.r_[values, values[: block - 1]])]
    return c[block : block + n] - c[:n]


def paired_block_bootstrap(
    hits: dict[str, np.ndarray],
    *,
    reference: str = "trtr",
    prior: str | None = "prior",
    block: int,
    labels: np.ndarray | None = None,
    n_boot: int = 2000,
    rng: RandomLike = 0,
    confidence: float = 0.95,
) -> dict[str, dict[str, Any]]:
    """Return each arm's accuracy, its ratio to ``reference`` and its skill over ``prior``, with percentile intervals
    from a paired circular block bootstrap over the test origins.

    Parameters
    ----------
    hits
        Per arm, 1 where its forecast at a test origin was right, else 0 (n,) each, the same origins in time order.
    reference, prior
        The arms that divide the ratio (TRTR) and that give the chance level of the skill (None: no skill).
    block
        Origins per block: a replicate lays ceil(n / block) blocks of consecutive origins (wrapping at the end) from
        uniform starts, the *same* starts for every arm, so the arms' dependence (they are scored on the same
        labels) carries into the ratio's interval; the block keeps overlapping labels and slow regimes together.
    labels
        The test labels (n,): given, the accuracy is the *balanced* accuracy (the mean over the classes present of
        each class's hit rate, in the sample and in every replicate), so the test span's class shares do not count.
    n_boot, rng, confidence
        Replicates, their random source, and the two-sided level of the intervals.

    Returns
    -------
    dict
        Per arm: ``accuracy``, ``ratio`` and (with ``prior``, for other arms) ``skill``, each ``{"value", "low",
        "high"}``; a skill's ``undefined`` counts replicates whose reference did not beat the prior.
    """
    names = list(hits)
    sizes = {name: int(np.asarray(h).size) for name, h in hits.items()}
    if reference not in hits or (prior is not None and prior not in hits) or len(set(sizes.values())) != 1:
        raise ParameterError(
            f"paired_block_bootstrap needs arms of one length holding {reference!r} and {prior!r}; got sizes {sizes}"
        )
    if n_boot < 1 or not 0 < confidence < 1:
        raise ParameterError(
            f"paired_block_bootstrap needs n_boot >= 1 and 0 < confidence < 1; got {n_boot}, {confidence}"
        )
    n = next(iter(sizes.values()))
    k = -(-n // block)
    starts = as_generator(rng).integers(0, n, size=(n_boot, k))
    if labels is None:
        point = {name: float(np.mean(hits[name])) for name in names}
        boot = {name: circular_block_sums(hits[name], block)[starts].sum(axis=1) / (k * block) for name in names}
    else:
        labels = np.asarray(labels)
        if labels.size != n:
            raise ParameterError(f"`labels` of paired_block_bootstrap must hold {n} test labels; got {labels.size}")
        masks = [(labels == c).astype(float) for c in np.unique(labels)]
        counts = [circular_block_sums(m, block)[starts].sum(axis=1) for m in masks]

        def balanced(h: np.ndarray, boot: bool) -> Any:
            if not boot:
                return float(np.mean([np.sum(h * m) / np.sum(m) for m in masks]))
            with np.errstate(divide="ignore", invalid="ignore"):  # a class absent from a replicate is skipped
                rates = [circular_block_sums(h * m, block)[starts].sum(axis=1) / c
                         for m, c in zip(masks, counts, strict=True)]  # fmt: skip
                return np.nanmean(np.where(np.array(counts) > 0, rates, np.nan), axis=0)

        point = {name: balanced(np.asarray(hits[name], float), False) for name in names}
        boot = {name: balanced(np.asarray(hits[name], float), True) for name in names}
    tail = 50 * (1 - confidence)

    def interval(value: float, replicates: np.ndarray) -> dict[str, float]:
        if np.all(np.isnan(replicates)):
            return {"value": value, "low": float("nan"), "high": float("nan")}
        with np.errstate(invalid="ignore"):  # a ratio over a replicate with no hit is inf: inf - inf interpolates
            low, high = np.nanpercentile(replicates, [tail, 100 - tail])
        return {"value": value, "low": float(low), "high": float(high)}

    out = {}
    for name in names:
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = boot[name] / boot[reference]
        row = {"accuracy": interval(point[name], boot[name]),
               "ratio": interval(point[name] / point[reference], ratio)}  # fmt: skip
        if prior is not None and name not in (prior, reference):
            gain = boot[reference] - boot[prior]
            defined = gain > 0
            replicates = np.where(defined, (boot[name] - boot[prior]) / np.where(defined, gain, 1.0), np.nan)
            row["skill"] = interval(skill(point[name], point[prior], point[reference]), replicates)
            row["skill"]["undefined"] = int(np.sum(~defined))
        out[name] = row
    return out


N_BAGS = 5  # class-balanced subsamples averaged per balanced fit


def forecast(
    data: TaskData, rows: np.ndarray, test: TaskData, test_rows: np.ndarray, *, balanced: bool, seed: int
) -> np.ndarray:
    """Return the class the forecaster fitted on ``data[rows]`` predicts at each test origin.

    ``balanced``: the class probabilities are averaged over :data:`N_BAGS` fits, each on a class-balanced subsample
    of ``rows`` (:func:`balanced_rows`, drawn from ``seed``), so the forecast does not lean on the training class
    shares and the subsample's luck is averaged out; else one fit on all ``rows``.
    """
    rng = np.random.default_rng(seed)
    fits = [balanced_rows(data.y, rows, rng) for _ in range(N_BAGS)] if balanced else [rows]
    probs = np.mean([FlowLogistic().fit(data, r, rng).predict(test, test_rows).probs for r in fits], axis=0)
    return np.asarray(test.task.classes)[np.argmax(probs, axis=1)]


def arm_seed(root: int, name: str) -> int:
    """Return the seed of arm ``name`` under root seed ``root`` (``SeedSequence`` of both, so an arm's draws do not
    depend on which other arms are scored)."""
    return int(np.random.SeedSequence([int(root), zlib.crc32(name.encode())]).generate_state(1, np.uint64)[0] >> 1)


def _metric(actual: np.ndarray, predicted: np.ndarray, metric: str) -> float:
    if metric == "accuracy":
        return float(np.mean(predicted == actual))
    return float(np.mean([np.mean(predicted[actual == c] == c) for c in np.unique(actual)]))


def balanced_rows(y: np.ndarray, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Return ``rows`` with every class of ``y[rows]`` cut to the rarest class's count (a uniform draw without
    replacement per class), in row order."""
    values, counts = np.unique(y[rows], return_counts=True)
    keep = [rng.choice(rows[y[rows] == v], counts.min(), replace=False) for v in values]
    return np.sort(np.concatenate(keep))


def tstr_compare(
    real_train: BookSeries,
    real_validation: BookSeries,
    real_test: BookSeries,
    generated: dict[str, list[BookSeries]],
    *,
    task: Any,
    window: int = 20,
    block: int | None = None,
    n_boot: int = 2000,
    rng: RandomLike = 0,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """Return the TSTR of every generated source beside its references, all scored on the real held-out origins.

    Arms: ``trtr`` (the forecaster fitted on the real training span: the ratio's denominator), ``real_validation``
    (fitted on the real validation span: the real-vs-real reference), ``prior`` (the training span's commonest class:
    chance) and one per generated source (its paths pooled by :func:`~scenarios.forecast.book_tstr.joined`). Two
    metrics: ``accuracy`` (the issue's; every fit on all its origins) and ``balanced_accuracy`` (every fit on
    class-balanced origins, :func:`forecast`; the prior's is then 1 / classes). The intervals are
    :func:`paired_block_bootstrap`'s (one seed, so both metrics resample the same origins); ``block`` defaults to
    the larger of 4 x the test labels' overlap (:func:`~scenarios.forecast.task_protocol.label_overlap`) and
    sqrt(n). The bootstrap holds the fits fixed; a source of >= 2 paths also gets ``halves``: the ratio of the
    forecaster fitted on each half of its paths alone (the training side's spread).

    Parameters
    ----------
    real_train, real_validation, real_test
        The real spans' book series (:func:`series_of`).
    generated
        Per source, its paths' book series.
    task
        A :class:`~scenarios.forecast.tasks.Task` (classification) or :class:`NextMove`.
    window
        Rows of order-flow imbalance summed at each origin.
    block, n_boot, rng, confidence
        The bootstrap's block (origins), replicates, root seed (also of the balanced subsamples) and level.

    Returns
    -------
    dict
        ``arms[metric][arm]`` (:func:`paired_block_bootstrap`'s rows, with ``predicted_shares`` and ``halves``),
        ``origins`` and ``events`` per series (the pooled sources included), ``paths``, ``class_shares``, ``block``;
        a source's row also has ``ratio_to_real_validation`` (its score over the real validation arm's, same
        replicates) and ``ratio_to_sources`` (over each other source's).
    """
    if not generated or any(not paths for paths in generated.values()):
        counts = {name: len(paths) for name, paths in generated.items()}
        raise ParameterError(f"tstr_compare needs >= 1 path per generated source; got {counts}")
    if task.classes is None:
        raise ParameterError(f"tstr_compare scores a classification task; got task {task.name!r}")
    data = {"trtr": TaskData(real_train, task, window=window), "real_validation": TaskData(real_validation, task,
            window=window), "test": TaskData(real_test, task, window=window)}  # fmt: skip
    data.update({name: joined(paths, task, window, name=name) for name, paths in generated.items()})
    rows = {name: origins(frame, 1, 1) for name, frame in data.items()}
    few = {name: int(r.size) for name, r in rows.items() if r.size < MIN_ORIGINS}
    if few:
        raise DataError(f"TSTR: usable origins {few}; need >= {MIN_ORIGINS} in each series")
    test_rows = rows["test"]
    test_y = data["test"].y[test_rows]
    overlap = label_overlap(data["test"], test_rows)
    block = max(4 * overlap, int(np.ceil(np.sqrt(test_rows.size)))) if block is None else int(block)
    fit_seed, boot_seed = (int(g.integers(2**63)) for g in streams(rng, 2))  # one boot seed for both metrics
    fits = [name for name in data if name != "test"]
    out_arms = {}
    for metric in ("accuracy", "balanced_accuracy"):
        balanced = metric == "balanced_accuracy"
        prior = Prior().fit(data["trtr"], rows["trtr"], np.random.default_rng(0)).predict(data["test"], test_rows)
        labels = {"prior": np.asarray(task.classes)[np.argmax(prior.probs, axis=1)]}
        for name in fits:
            labels[name] = forecast(data[name], rows[name], data["test"], test_rows, balanced=balanced,
                                    seed=arm_seed(fit_seed, name))  # fmt: skip
        hits = {name: (label == test_y).astype(float) for name, label in labels.items()}
        arms = paired_block_bootstrap(hits, block=block, n_boot=n_boot, rng=boot_seed, confidence=confidence,
                                      labels=test_y if balanced else None)  # fmt: skip
        others = {ref: paired_block_bootstrap(hits, reference=ref, prior=None, block=block, n_boot=n_boot,
                                              rng=boot_seed, confidence=confidence,
                                              labels=test_y if balanced else None)
                  for ref in ["real_validation", *generated]}  # fmt: skip
        for name, row in arms.items():
            row["predicted_shares"] = {int(c): float(np.mean(labels[name] == c)) for c in task.classes}
            if name in generated:  # the same resampled origins: the paired comparison with real flow of another time
                row["ratio_to_real_validation"] = others["real_validation"][name]["ratio"]
                row["ratio_to_sources"] = {ref: others[ref][name]["ratio"] for ref in generated if ref != name}
        for name, paths in generated.items():  # the training side's spread: each half of the paths alone
            if len(paths) >= 2:
                halves = (paths[: len(paths) // 2], paths[len(paths) // 2 :])
                arms[name]["halves"] = []
                for h, half in enumerate(halves):
                    part = joined(half, task, window)
                    predicted = forecast(part, origins(part, 1, 1), data["test"], test_rows, balanced=balanced,
                                         seed=arm_seed(fit_seed, f"{name} half {h}"))  # fmt: skip
                    score = _metric(test_y, predicted, metric)
                    arms[name]["halves"].append(score / arms["trtr"]["accuracy"]["value"])
        out_arms[metric] = arms

    def shares(name: str) -> dict[int, float]:
        y = data[name].y[rows[name]]
        return {int(c): float(np.mean(y == c)) for c in task.classes}

    return {
        "task": repr(task), "window": window, "block": block, "label_overlap": overlap, "n_boot": n_boot,
        "confidence": confidence, "arms": out_arms,
        "origins": {name: int(r.size) for name, r in rows.items()},
        "events": {name: int(d.book.size) for name, d in data.items()},
        "paths": {name: len(paths) for name, paths in generated.items()},
        "class_shares": {name: shares(name) for name in data},
    }  # fmt: skip
