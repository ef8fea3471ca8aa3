"""Discriminative score: how well a small classifier tells real from synthetic windows (0.5: indistinguishable).

Both datasets are cut into windows of ``window`` consecutive events; each window is described by a few features
(:func:`window_features`: log duration, event mix, inter-arrival moments, order sizes and, with books, spread,
imbalance, touch volumes and mid moves, read over the quoted rows where a touch is sometimes missing or unknown,
with the window's share of unquoted rows beside them; a window without any quoted row is left out and counted in
``unquoted_windows``, or, where that would leave too few windows, the book features are). Features one of the
datasets cannot provide (books) are left out. A logistic regression on the standardised features and their squares
(L2-penalised, fitted by Newton's method in numpy, a few milliseconds) is trained on some contiguous time blocks of both
datasets and the ROC-AUC measured on the other blocks (:func:`block_split_auc`).

The split is by time, not at random: neighbouring windows share slowly drifting conditions (volatility, activity),
so a random split puts a near copy of each test window in the training set and the classifier recognises the
period instead of the dataset. Each dataset's windows are cut into the same number of contiguous blocks; a random
``1 - train_fraction`` of the block indices is held out in both datasets, and the training windows next to a
held-out block are dropped (an embargo of one window). The split is drawn ``n_boot`` times: the AUC is the mean
over the splits, and its interval the percentiles, over the splits, of the held-out AUC after a moving-block
bootstrap of the held-out windows, so it covers both the choice of the training blocks and the sampling of the
test windows.

:func:`discriminate_pooled` reads several synthetic datasets (independent paths of one model) with one classifier,
their windows stacked path after path: a short path gives the classifier few windows, a wide interval and a low AUC.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from simlab.errors import ParameterError
from simlab.metrics._market import CANCELS, FLOW, NS, TRADES, Market, NotApplicable
from simlab.metrics.distances import check_bootstrap
from simlab.schema import EventKind

MIN_WINDOWS = 20
BOOK_FEATURES = ("mean_spread", "mean_imbalance", "log_touch_volume", "share_mid_moves", "abs_mid_change",
                 "share_unquoted")  # fmt: skip
MIN_BLOCK = 4  # windows per block at least
MAX_BLOCKS = 10


@dataclass(frozen=True)
class Discrimination:
    """Held-out ROC-AUC of the real-vs-synthetic classifier (mean over block splits) with its interval.

    ``n_train`` and ``n_test`` count the windows (both classes) of the last split; ``n_blocks`` is the number of
    contiguous blocks each dataset was cut into.
    """

    auc: float
    low: float
    high: float
    n_train: int
    n_test: int
    features: tuple[str, ...]
    n_blocks: int
    unquoted_windows: tuple[int, int] = (0, 0)

    def to_dict(self) -> dict[str, object]:
        """Return the result as a JSON-ready mapping (``unquoted_windows``, real and synthetic, only when some
        window had no quoted row: left out, or, with too few windows left, the book features left out instead)."""
        out: dict[str, object] = {k: float(f"{getattr(self, k):.6g}") for k in ("auc", "low", "high")}
        extra = {"unquoted_windows": list(self.unquoted_windows)} if any(self.unquoted_windows) else {}
        return {
            **out,
            "n_train": self.n_train,
            "n_test": self.n_test,
            "n_blocks": self.n_blocks,
            "features": list(self.features),
            **extra,
        }


def window_features(m: Market, window: int) -> dict[str, np.ndarray]:
    """Return the features of each complete window of ``window`` events (names to arrays over windows)."""
    n = m.ts.size // window
    if n < 1 or not np.isin(m.kind, FLOW).any():
        return {}
    cut = n * window

    def per_window(values: np.ndarray) -> np.ndarray:
        return values[:cut].reshape(n, window)

    ts = per_window(m.ts.astype(np.float64))
    kind = per_window(m.kind)
    dt = np.diff(ts, axis=1) / NS
    features = {
        "log_duration_s": np.log10(np.maximum(ts[:, -1] - ts[:, 0], 1.0) / NS),
        "share_limit": (kind == EventKind.ADD).mean(axis=1),
        "share_cancel": np.isin(kind, CANCELS).mean(axis=1),
        "share_trade": np.isin(kind, TRADES).mean(axis=1),
        "share_zero_interval": (dt == 0).mean(axis=1),
        "log_interval_std": np.log10(np.maximum(dt, 1e-6)).std(axis=1),
        "log_size": np.log10(np.maximum(per_window(m.qty.astype(np.float64)), 1.0)).mean(axis=1),
    }
    if m.book is not None and m.quoted.all():
        bid_q, ask_q = per_window(m.book[1][:, 0].astype(np.float64)), per_window(m.book[3][:, 0].astype(np.float64))
        mid = per_window(m.mid_after)
        features["mean_spread"] = per_window(m.spread_after).mean(axis=1)
        features["mean_imbalance"] = ((bid_q - ask_q) / (bid_q + ask_q)).mean(axis=1)
        features["log_touch_volume"] = np.log10(bid_q + ask_q).mean(axis=1)
        features["share_mid_moves"] = (np.diff(mid, axis=1) != 0).mean(axis=1)
        features["abs_mid_change"] = np.abs(mid[:, -1] - mid[:, 0])
    elif m.book is not None and m.quoted.any():
        features.update(_partly_quoted(m, per_window))
    return features


def _partly_quoted(m: Market, per_window) -> dict[str, np.ndarray]:
    """The book features of :func:`window_features` for a book whose touch is missing (or unknown) on some rows:
    each read over the window's quoted rows only (the mid moves between consecutive quoted rows, the mid change
    from its first to its last quoted row), NaN in a window without a quoted row, and the window's share of
    unquoted rows as a feature of its own. (Before session 33 one unquoted row anywhere dropped the book features
    of every window: an agent market's day with 41 unquoted rows was told apart on its flow alone.)"""
    quoted = per_window(m.quoted)
    count = quoted.sum(axis=1)
    any_row = count > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        bid_q = per_window(m.book[1][:, 0].astype(np.float64))
        ask_q = per_window(m.book[3][:, 0].astype(np.float64))
        mean = lambda values: np.where(quoted, values, 0.0).sum(axis=1) / np.where(any_row, count, np.nan)  # noqa: E731
        spread = np.where(quoted, per_window(m.spread_after), 0.0)
        imbalance = np.where(quoted, (bid_q - ask_q) / (bid_q + ask_q), 0.0)
        touch = np.where(quoted, np.log10(np.where(quoted, bid_q + ask_q, 1.0)), 0.0)
        moves = np.full(quoted.shape[0], np.nan)
        change = np.full(quoted.shape[0], np.nan)
        mid = per_window(m.mid_after)
        for w in np.flatnonzero(any_row):  # windows are few (<= ~n / 20): a plain loop over them
            seen = mid[w][quoted[w]]
            moves[w] = (np.diff(seen) != 0).mean() if seen.size > 1 else 0.0
            change[w] = abs(seen[-1] - seen[0])
        return {"mean_spread": mean(spread), "mean_imbalance": mean(imbalance), "log_touch_volume": mean(touch),
                "share_mid_moves": moves, "abs_mid_change": change,
                "share_unquoted": 1.0 - quoted.mean(axis=1)}  # fmt: skip


def classifier_inputs(
    real: Market, synthetic: Market, window: int
) -> tuple[tuple[str, ...], np.ndarray, np.ndarray, tuple[int, int]]:
    """The classifier's inputs: the feature names both datasets provide, the real and the synthetic window-feature
    matrices (one row per window, in time order; windows without any quoted row left out) and how many windows of
    each had no quoted row. A fully quoted book beside a partly quoted one gets its unquoted share, 0. Where leaving
    those windows out would leave fewer than :data:`MIN_WINDOWS` in a dataset, the book features are left out
    instead and every window kept (the names returned say which)."""
    return _inputs(window_features(real, window), window_features(synthetic, window))


def _inputs(
    a: dict[str, np.ndarray], b: dict[str, np.ndarray]
) -> tuple[tuple[str, ...], np.ndarray, np.ndarray, tuple[int, int]]:
    """:func:`classifier_inputs` from the two datasets' window features (real ``a``, synthetic ``b``)."""
    for one, other in ((a, b), (b, a)):
        if "share_unquoted" in one and "mean_spread" in other and "share_unquoted" not in other:
            other["share_unquoted"] = np.zeros(next(iter(other.values())).size)
    names = tuple(name for name in a if name in b)
    x_real, x_synthetic = (np.column_stack([f[name] for name in names]) if f else np.empty((0, 0)) for f in (a, b))
    unquoted = tuple(int(np.isnan(x).any(axis=1).sum()) if x.size else 0 for x in (x_real, x_synthetic))
    kept = [x[~np.isnan(x).any(axis=1)] if x.size else x for x in (x_real, x_synthetic)]
    if any(unquoted) and min(x.shape[0] for x in kept) < MIN_WINDOWS:  # a book too seldom quoted to be read:
        flow = tuple(n for n in names if n not in BOOK_FEATURES)  # the flow alone, every window, and it says so
        return flow, x_real[:, [names.index(n) for n in flow]], x_synthetic[:, [names.index(n) for n in flow]], (
            unquoted[0], unquoted[1])  # fmt: skip
    return names, kept[0], kept[1], (unquoted[0], unquoted[1])


def discriminate(
    real: Market,
    synthetic: Market,
    *,
    rng: np.random.Generator,
    window: int = 200,
    train_fraction: float = 0.7,
    n_boot: int = 200,
    confidence: float = 0.99,
) -> Discrimination:
    """Train the classifier of the module docstring and return its held-out ROC-AUC with an interval.

    Raises :class:`simlab.metrics._market.NotApplicable` when a dataset has fewer than :data:`MIN_WINDOWS` windows.
    """
    return _discriminate(real, [synthetic], "discriminate", rng, window, train_fraction, n_boot, confidence)


def discriminate_pooled(
    real: Market,
    synthetics: Sequence[Market],
    *,
    rng: np.random.Generator,
    window: int = 200,
    train_fraction: float = 0.7,
    n_boot: int = 200,
    confidence: float = 0.99,
) -> Discrimination:
    """:func:`discriminate` with one classifier over several synthetic datasets (independent paths of one model).

    Each dataset is cut into windows of ``window`` events as :func:`discriminate` cuts one, and their windows are
    stacked dataset after dataset (in the given order) as the synthetic class, so the contiguous blocks of the split
    follow the paths. A path is short, so a classifier trained on one path's few windows is weak and its AUC
    interval wide (0.2-0.7 on 778-s AMZN paths); pooled, the classifier trains on every path's windows and the
    interval narrows, and the AUC reads what a stronger classifier tells apart (docs/generators_amzn.md, session
    39). With one dataset it is :func:`discriminate`, bit for bit. A path whose book is never quoted has every
    window unquoted (its book features missing, its unquoted share 1), and a fully quoted path beside a partly
    quoted one an unquoted share of 0, as the real one gets; the unquoted windows are then left out (counted in
    ``unquoted_windows``, summed over the paths), or, where too few would be left, the book features for all, as
    :func:`classifier_inputs` does for one path. A path without one whole window makes the reading not applicable
    (nothing is dropped silently).
    """
    if not isinstance(synthetics, (list, tuple)) or not synthetics:
        raise ParameterError(
            f"`synthetics` of discriminate_pooled must be a non-empty list or tuple of Market; got "
            f"{type(synthetics).__name__}{' (empty)' if isinstance(synthetics, (list, tuple)) else ''}"
        )
    for i, m in enumerate(synthetics):
        if not isinstance(m, Market):
            raise ParameterError(
                f"`synthetics` of discriminate_pooled must hold Market objects; item {i} is {type(m).__name__}"
            )
    return _discriminate(real, synthetics, "discriminate_pooled", rng, window, train_fraction, n_boot, confidence)


def _discriminate(real, synthetics, caller, rng, window, train_fraction, n_boot, confidence) -> Discrimination:
    # the classifier of discriminate over one or several synthetic datasets, their windows stacked in order
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 10:
        raise ParameterError(f"`window` of {caller} must be an int >= 10; got {window!r}")
    if not 0.1 <= train_fraction <= 0.9:
        raise ParameterError(f"`train_fraction` of {caller} must be in [0.1, 0.9]; got {train_fraction!r}")
    check_bootstrap(n_boot, confidence)
    parts = [window_features(m, window) for m in synthetics]
    if any(not part for part in parts):
        sizes = [next(iter(part.values())).size if part else 0 for part in parts]
        raise NotApplicable([f"at least one window of {window} events with a flow event in every synthetic dataset "
                             f"(got {sizes})"])  # fmt: skip
    for m, part in zip(synthetics, parts, strict=True):  # a book never quoted: every window unquoted, as its rows
        if len(synthetics) > 1 and m.book is not None and "mean_spread" not in part:
            n = next(iter(part.values())).size
            part.update({name: np.full(n, np.nan) for name in BOOK_FEATURES[:-1]}, share_unquoted=np.ones(n))
    if any("share_unquoted" in part for part in parts):  # a fully quoted path beside a partly quoted one: 0 unquoted
        for part in parts:
            if "mean_spread" in part and "share_unquoted" not in part:
                part["share_unquoted"] = np.zeros(next(iter(part.values())).size)
    shared = [name for name in parts[0] if all(name in part for part in parts)]
    pooled = {name: np.concatenate([part[name] for part in parts]) for name in shared}
    a = window_features(real, window)
    if not a:
        raise NotApplicable([f"at least one window of {window} events with a flow event in the real dataset"])
    names, x_real, x_synthetic, unquoted = _inputs(a, pooled)
    sizes = [x.shape[0] for x in (x_real, x_synthetic)]
    if min(sizes) < MIN_WINDOWS:
        raise NotApplicable([f"at least {MIN_WINDOWS} windows of {window} events in each dataset (got {sizes})"])
    result = block_split_auc(
        x_real,
        x_synthetic,
        rng=rng,
        train_fraction=train_fraction,
        n_boot=n_boot,
        confidence=confidence,
        features=names,
    )
    return replace(result, unquoted_windows=unquoted) if any(unquoted) else result


def block_split_auc(
    x_real: np.ndarray,
    x_synthetic: np.ndarray,
    *,
    rng: np.random.Generator,
    train_fraction: float = 0.7,
    n_boot: int = 200,
    confidence: float = 0.99,
    features: tuple[str, ...] = (),
) -> Discrimination:
    """Return the held-out ROC-AUC of real (label 1) against synthetic (label 0) windows over contiguous block splits.

    Parameters
    ----------
    x_real, x_synthetic
        Window features, one row per window in time order (at least :data:`MIN_WINDOWS` rows each).
    rng
        The generator of the splits and of the bootstrap.
    train_fraction
        Share of the blocks trained on; the others are held out.
    n_boot
        Block splits drawn (each with one moving-block bootstrap of its held-out windows).
    confidence
        Coverage of the percentile interval.
    features
        The names of the columns, recorded in the result.
    """
    n_boot, tails = check_bootstrap(n_boot, confidence)
    if not 0.1 <= train_fraction <= 0.9:
        raise ParameterError(f"`train_fraction` of block_split_auc must be in [0.1, 0.9]; got {train_fraction!r}")
    data = (np.asarray(x_real, dtype=np.float64), np.asarray(x_synthetic, dtype=np.float64))
    shapes = [x.shape for x in data]
    rows = min(shape[0] if shape else 0 for shape in shapes)
    if any(len(shape) != 2 for shape in shapes) or shapes[0][1:] != shapes[1][1:] or rows < MIN_WINDOWS:
        raise ParameterError(
            f"`x_real` and `x_synthetic` of block_split_auc must be 2-d with the same columns and at least "
            f"{MIN_WINDOWS} rows; got shapes {shapes}"
        )
    n_blocks = min(MAX_BLOCKS, rows // MIN_BLOCK)
    blocks = [np.array_split(np.arange(x.shape[0]), n_blocks) for x in data]
    n_held = max(1, int(round((1.0 - train_fraction) * n_blocks)))
    aucs, replicates = np.empty(n_boot), np.empty(n_boot)
    for r in range(n_boot):
        held = np.sort(rng.permutation(n_blocks)[:n_held])
        parts = [_split(x, block, held) for x, block in zip(data, blocks, strict=True)]
        weights, center, scale = fit_logistic(*_stack(parts[0][0], parts[1][0]))
        x_test, y_test = _stack(parts[0][1], parts[1][1])
        scores = _design(x_test, center, scale) @ weights
        aucs[r] = roc_auc(y_test, scores)
        sizes = [part[1].shape[0] for part in parts]
        pick = np.concatenate([_moving_blocks(sizes[0], rng), _moving_blocks(sizes[1], rng) + sizes[0]])
        replicates[r] = roc_auc(y_test[pick], scores[pick])
    low, high = np.nanpercentile(replicates, tails)
    n_train = parts[0][0].shape[0] + parts[1][0].shape[0]
    return Discrimination(float(np.mean(aucs)), float(low), float(high), n_train, int(y_test.size), features, n_blocks)


def _split(x: np.ndarray, blocks: list[np.ndarray], held: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The training windows (held-out blocks and their neighbours removed) and the held-out windows of ``x``."""
    test = np.zeros(x.shape[0], dtype=bool)
    test[np.concatenate([blocks[i] for i in held])] = True
    embargo = test.copy()
    embargo[1:] |= test[:-1]
    embargo[:-1] |= test[1:]
    return x[~embargo], x[test]


def _stack(real: np.ndarray, synthetic: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.vstack([real, synthetic]), np.repeat([1.0, 0.0], [real.shape[0], synthetic.shape[0]])


def _moving_blocks(n: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of a moving-block bootstrap resample of ``n`` consecutive items (blocks of ``n ** (1/3)`` items)."""
    length = int(np.ceil(n ** (1 / 3)))
    starts = rng.integers(0, n - length + 1, -(-n // length))
    return (starts[:, None] + np.arange(length)).ravel()[:n]


def fit_logistic(
    x: np.ndarray, y: np.ndarray, penalty: float = 1e-2, iterations: int = 50
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fit an L2-penalised logistic regression on standardised ``x`` and its squares by Newton's method.

    Returns the weights (intercept first) and the standardisation centre and scale.
    """
    center, scale = x.mean(axis=0), x.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    design = _design(x, center, scale)
    weights = np.zeros(design.shape[1])
    ridge = penalty * np.eye(design.shape[1])
    ridge[0, 0] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(design @ weights, -30, 30)))
        gradient = design.T @ (p - y) + ridge @ weights
        hessian = (design * (p * (1 - p))[:, None]).T @ design + ridge + 1e-9 * np.eye(design.shape[1])
        step = np.linalg.solve(hessian, gradient)
        weights -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return weights, center, scale


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Return the ROC-AUC of ``scores`` for binary ``labels`` (Mann-Whitney, ties counted half); NaN for one class."""
    positive = labels == 1
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(scores.size)
    sorted_scores = scores[order]
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    average = first + (counts + 1) / 2.0  # 1-based average rank of each run of ties
    ranks[order] = np.repeat(average, counts)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def _design(x: np.ndarray, center: np.ndarray, scale: np.ndarray) -> np.ndarray:
    z = (x - center) / scale
    return np.column_stack([np.ones(z.shape[0]), z, z**2])
