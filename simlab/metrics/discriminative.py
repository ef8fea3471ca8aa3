"""Discriminative score: how well a small classifier tells real from synthetic windows (0.5: indistinguishable).

Both datasets are cut into windows of ``window`` consecutive events; each window is described by a few features
(:func:`window_features`: log duration, event mix, inter-arrival moments, order sizes and, with books, spread,
imbalance, touch volumes and mid moves). Features one of the datasets cannot provide are left out. A logistic
regression on the standardised features and their squares (L2-penalised, fitted by Newton's method in numpy, a
fraction of a second) is trained on a random ``train_fraction`` of the windows of each class (the larger class
subsampled to the smaller's size) and the ROC-AUC measured on the held-out windows, with a bootstrap interval over
the held-out windows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simlab.errors import ParameterError
from simlab.metrics._market import CANCELS, FLOW, NS, TRADES, Market, NotApplicable
from simlab.metrics.distances import check_bootstrap
from simlab.schema import EventKind

MIN_WINDOWS = 20


@dataclass(frozen=True)
class Discrimination:
    """Held-out ROC-AUC of the real-vs-synthetic classifier with its bootstrap interval."""

    auc: float
    low: float
    high: float
    n_train: int
    n_test: int
    features: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        """Return the result as a JSON-ready mapping."""
        out: dict[str, object] = {k: float(f"{getattr(self, k):.6g}") for k in ("auc", "low", "high")}
        return {**out, "n_train": self.n_train, "n_test": self.n_test, "features": list(self.features)}


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
    return features


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
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 10:
        raise ParameterError(f"`window` of discriminate must be an int >= 10; got {window!r}")
    if not 0.1 <= train_fraction <= 0.9:
        raise ParameterError(f"`train_fraction` of discriminate must be in [0.1, 0.9]; got {train_fraction!r}")
    n_boot, tails = check_bootstrap(n_boot, confidence)
    a, b = window_features(real, window), window_features(synthetic, window)
    names = tuple(name for name in a if name in b)
    sizes = [next(iter(f.values())).size if f else 0 for f in (a, b)]
    if min(sizes) < MIN_WINDOWS:
        raise NotApplicable([f"at least {MIN_WINDOWS} windows of {window} events in each dataset (got {sizes})"])
    x_real = np.column_stack([a[name] for name in names])
    x_synthetic = np.column_stack([b[name] for name in names])
    n = min(sizes)
    x_real = x_real[rng.permutation(x_real.shape[0])[:n]]
    x_synthetic = x_synthetic[rng.permutation(x_synthetic.shape[0])[:n]]
    n_train = int(round(train_fraction * n))
    x_train = np.vstack([x_real[:n_train], x_synthetic[:n_train]])
    y_train = np.repeat([1.0, 0.0], n_train)
    x_test = np.vstack([x_real[n_train:], x_synthetic[n_train:]])
    y_test = np.repeat([1.0, 0.0], n - n_train)
    weights, center, scale = fit_logistic(x_train, y_train)
    scores = _design(x_test, center, scale) @ weights
    auc = roc_auc(y_test, scores)
    replicates = np.empty(n_boot)
    for r in range(n_boot):
        pick = rng.integers(0, y_test.size, y_test.size)
        replicates[r] = roc_auc(y_test[pick], scores[pick])
    low, high = np.nanpercentile(replicates, tails)
    return Discrimination(auc, float(low), float(high), 2 * n_train, int(y_test.size), names)


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
