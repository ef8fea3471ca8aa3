"""Distances between a real and a synthetic sample of one quantity, with bootstrap intervals (LOB-Bench style).

Two distances, as in LOB-Bench (Nagy et al. 2025):

* ``l1``: the total variation ``0.5 sum_b |p_b - q_b|`` (in [0, 1]) between the histograms of the two samples on
  shared bins built from the pooled samples. A lattice keeps one bin per value: when both samples are integers
  taking at most :data:`MAX_DISCRETE_BINS` distinct values, with at least :data:`MIN_PER_VALUE` values per distinct
  value, one bin per integer of the span (or per distinct value when the span is wider), so an outlier cannot widen
  the bins and hide a fixed-size lattice. Otherwise Freedman-Diaconis bins (width ``2 IQR / n^(1/3)``, the IQR of
  the pooled sample and ``n`` the smaller sample's size, at most :data:`MAX_BINS`) cover the pooled central range
  (:data:`TAIL` % to ``100 - TAIL`` %) and one bin on each side holds the tails, so outliers do not widen them
  either; when a point mass holds the middle half (pooled IQR 0) the bins are :data:`QUANTILE_BINS` equal-mass bins
  of the pooled sample instead (never a single bin, whose score would be a false 0);
* ``w1``: the Wasserstein-1 distance ``int |F - G| dx`` between the two samples standardised by the real sample's
  mean and standard deviation (so it reads in real standard deviations).

Intervals come from a block bootstrap, since successive values of a book quantity are far from independent: each
sample, in time order, is cut into :data:`BLOCKS` consecutive blocks, and each replicate draws as many blocks with
replacement for each sample (bin counts on the shared bins, or on the sorted pooled values, quantised to
:data:`W1_GRID` pooled quantiles for larger samples) and recomputes the distance; the interval holds the central
``confidence`` mass of the replicates shifted to the estimate (:func:`bias_corrected`). The real-vs-real floor is
the same distance between two independent block resamples of the real sample, of the real and (in blocks) the
synthetic sizes: what a perfect generator scores by chance. A synthetic score inside the floor's interval is as
good as the data can tell.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from simlab.errors import DataError, ParameterError
from simlab.metrics import _kernels

MAX_DISCRETE_BINS = 512
MIN_PER_VALUE = 10
MAX_BINS = 1000
TAIL = 0.5
QUANTILE_BINS = 100
W1_GRID = 4096
BLOCKS = 100
METRICS = ("l1", "w1")


@dataclass(frozen=True)
class Distance:
    """A distance with its bootstrap interval and the real-vs-real floor (median and interval)."""

    value: float
    low: float
    high: float
    floor: float
    floor_low: float
    floor_high: float
    replicates: np.ndarray = field(repr=False, compare=False)
    floor_replicates: np.ndarray = field(repr=False, compare=False)

    def to_dict(self) -> dict[str, float]:
        """Return the numbers (not the replicates) as a JSON-ready mapping."""
        names = ("value", "low", "high", "floor", "floor_low", "floor_high")
        return {name: _round(getattr(self, name)) for name in names}


def histogram_edges(real: np.ndarray, synthetic: np.ndarray) -> np.ndarray:
    """Return the shared histogram bin edges of the module docstring (lattice or pooled Freedman-Diaconis)."""
    pooled = np.concatenate([np.asarray(real, np.float64).ravel(), np.asarray(synthetic, np.float64).ravel()])
    distinct = np.unique(pooled)
    low, high = distinct[0], distinct[-1]
    if distinct.size == 1:
        return np.array([low - 0.5, low + 0.5])
    lattice = distinct.size <= MAX_DISCRETE_BINS and pooled.size >= MIN_PER_VALUE * distinct.size
    if lattice and np.all(distinct == np.round(distinct)):
        if high - low < MAX_DISCRETE_BINS:
            return np.arange(low - 0.5, high + 1.5)
        return np.r_[low - 0.5, (distinct[1:] + distinct[:-1]) / 2, high + 0.5]
    inner_low, q25, q75, inner_high = np.percentile(pooled, [TAIL, 25, 75, 100 - TAIL])
    width = 2.0 * (q75 - q25) / min(np.size(real), np.size(synthetic)) ** (1 / 3)  # resolved by both samples
    if width > 0 and inner_high > inner_low:
        inner = np.linspace(inner_low, inner_high, int(min(MAX_BINS, np.ceil((inner_high - inner_low) / width))) + 1)
    else:  # a point mass holds the middle half: equal-mass bins (never one bin, never a false 0)
        inner = np.quantile(pooled, np.linspace(0, 1, QUANTILE_BINS + 1))
    return np.unique(np.r_[low, inner, high])


def total_variation(counts_a: np.ndarray, counts_b: np.ndarray) -> np.ndarray:
    """Return ``0.5 sum |p - q|`` of count vectors (the last axis is the bins)."""
    p = counts_a / counts_a.sum(axis=-1, keepdims=True)
    q = counts_b / counts_b.sum(axis=-1, keepdims=True)
    return 0.5 * np.abs(p - q).sum(axis=-1)


def wasserstein_standardised(real: np.ndarray, synthetic: np.ndarray) -> float:
    """Return the Wasserstein-1 distance of the two samples standardised by the real mean and std (exact)."""
    grid, counts_real, counts_synthetic = _w1_counts(*_standardised(_checked(real, "real"), _checked(synthetic, "s")))
    return float(_kernels.w1_on_grid(grid, counts_real, counts_synthetic))


def compare_samples(
    real: np.ndarray,
    synthetic: np.ndarray,
    *,
    rng: np.random.Generator,
    n_boot: int = 200,
    confidence: float = 0.99,
    blocks: int = BLOCKS,
) -> dict[str, Distance]:
    """Score ``synthetic`` against ``real`` with ``l1`` and ``w1`` (see the module docstring).

    Parameters
    ----------
    real, synthetic
        1-D samples of one quantity in time order (finite values; at least 2 each).
    rng
        The generator of the bootstrap.
    n_boot
        Bootstrap replicates (>= 10).
    confidence
        Central mass of the intervals, in (0, 1).
    blocks
        Number of consecutive blocks each sample is cut into for the block bootstrap (>= 2; at most the sample
        size).

    Returns
    -------
    dict
        ``{"l1": Distance, "w1": Distance}``.
    """
    real, synthetic = _checked(real, "real"), _checked(synthetic, "synthetic")
    n_boot, tails = check_bootstrap(n_boot, confidence)
    if isinstance(blocks, bool) or not isinstance(blocks, (int, np.integer)) or blocks < 2:
        raise ParameterError(f"`blocks` of compare_samples must be an int >= 2; got {blocks!r}")
    edges = histogram_edges(real, synthetic)
    slots = {"l1": [np.clip(np.searchsorted(edges, x, side="right") - 1, 0, edges.size - 2) for x in (real, synthetic)]}
    grid, inverse = np.unique(np.concatenate(_standardised(real, synthetic)), return_inverse=True)
    counts_a = np.bincount(inverse[: real.size], minlength=grid.size).astype(np.float64)
    counts_b = np.bincount(inverse[real.size :], minlength=grid.size).astype(np.float64)
    exact = {"l1": 0.0, "w1": float(_kernels.w1_on_grid(grid, counts_a, counts_b))}
    if grid.size > W1_GRID:
        grid, inverse = _quantised(grid, inverse)
    slots["w1"] = [inverse[: real.size], inverse[real.size :]]
    out = {}
    for name, (index_a, index_b) in slots.items():
        n_bins = edges.size - 1 if name == "l1" else grid.size
        blocks_a, blocks_b = block_counts(index_a, n_bins, blocks), block_counts(index_b, n_bins, blocks)
        if name == "l1":
            exact["l1"] = float(total_variation(blocks_a.sum(axis=0), blocks_b.sum(axis=0)))
        boot_a = _resample(blocks_a, blocks_a.shape[0], rng, n_boot)
        boot_b = _resample(blocks_b, blocks_b.shape[0], rng, n_boot)
        replicates = bias_corrected(exact[name], _distance(name, grid, boot_a, boot_b))
        as_synthetic = max(1, round(blocks_a.shape[0] * synthetic.size / real.size))  # real blocks, synthetic size
        floor = _distance(name, grid, boot_a, _resample(blocks_a, as_synthetic, rng, n_boot))
        out[name] = make_distance(exact[name], replicates, floor, tails)
    return out


def make_distance(value: float, replicates: np.ndarray, floor: np.ndarray, tails: list[float]) -> Distance:
    """Return a :class:`Distance` from an estimate, its (bias-corrected) replicates and the floor replicates."""
    low, high = np.percentile(replicates, tails)
    floor_low, floor_high = np.percentile(floor, tails)
    return Distance(
        float(value), float(low), float(high), float(np.median(floor)), float(floor_low), float(floor_high),
        replicates, floor,
    )  # fmt: skip


def bias_corrected(value: float, replicates: np.ndarray) -> np.ndarray:
    """Shift bootstrap replicates of a distance so that their median is ``value`` (kept >= 0).

    Resampling adds noise, and noise only increases a distance, so raw replicates sit above the estimate; the shift
    centres the interval on it.
    """
    return np.maximum(replicates - (np.median(replicates) - value), 0.0)


def summarise(values: np.ndarray, replicates: np.ndarray, confidence: float = 0.99) -> dict[str, dict[str, float]]:
    """Return the mean, median and interquartile mean of scores with bootstrap intervals.

    Parameters
    ----------
    values
        The scores (n_scores,).
    replicates
        Their bootstrap replicates (n_scores, n_boot).
    confidence
        Central mass of the intervals.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        raise DataError("summarise: no scores to summarise")
    _, tails = check_bootstrap(max(10, replicates.shape[1]), confidence)
    out = {}
    for name, statistic in (("mean", np.mean), ("median", np.median), ("iqm", interquartile_mean)):
        per_replicate = np.array([statistic(replicates[:, r]) for r in range(replicates.shape[1])])
        low, high = np.percentile(per_replicate, tails)
        out[name] = {"value": _round(statistic(values)), "low": _round(low), "high": _round(high)}
    return out


def interquartile_mean(values: np.ndarray) -> float:
    """Return the mean of the values between the 25th and 75th percentiles (rank-based: the middle half)."""
    ordered = np.sort(np.asarray(values, dtype=np.float64))
    n = ordered.size
    cut = n // 4
    return float(ordered[cut : n - cut].mean()) if n - 2 * cut > 0 else float(ordered.mean())


def check_bootstrap(n_boot: int, confidence: float) -> tuple[int, list[float]]:
    """Validate ``n_boot`` (int >= 10) and ``confidence`` (in (0, 1)); return them with the percentile tails."""
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 10:
        raise ParameterError(f"`n_boot` must be an int >= 10; got {n_boot!r}")
    if not (isinstance(confidence, (int, float)) and 0 < confidence < 1):
        raise ParameterError(f"`confidence` must be in (0, 1); got {confidence!r}")
    tail = 50.0 * (1.0 - confidence)
    return int(n_boot), [tail, 100.0 - tail]


def _checked(values: np.ndarray, name: str) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64).ravel()
    if values.size < 2:
        raise DataError(f"the {name} sample needs at least 2 values; got {values.size}")
    if not np.all(np.isfinite(values)):
        raise DataError(f"the {name} sample holds {int((~np.isfinite(values)).sum())} non-finite values")
    return values


def _standardised(real: np.ndarray, synthetic: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scale = real.std()
    scale = scale if scale > 0 else 1.0
    return (real - real.mean()) / scale, (synthetic - real.mean()) / scale


def _w1_counts(real: np.ndarray, synthetic: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    grid, inverse = np.unique(np.concatenate([real, synthetic]), return_inverse=True)
    counts_real = np.bincount(inverse[: real.size], minlength=grid.size).astype(np.float64)
    counts_synthetic = np.bincount(inverse[real.size :], minlength=grid.size).astype(np.float64)
    return grid, counts_real, counts_synthetic


def _quantised(grid: np.ndarray, inverse: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Move the values onto W1_GRID pooled quantiles of the grid (for the bootstrap of large samples)."""
    cdf = np.cumsum(np.bincount(inverse, minlength=grid.size)) / inverse.size
    points = np.unique(np.minimum(np.searchsorted(cdf, np.linspace(0, 1, W1_GRID)), grid.size - 1))
    slot = np.minimum(np.searchsorted(points, np.arange(grid.size)), points.size - 1)
    return grid[points], slot[inverse]


def block_counts(index: np.ndarray, n_bins: int, blocks: int) -> np.ndarray:
    """Return the counts per bin (``index``: each value's bin) of ``blocks`` consecutive blocks (blocks x bins)."""
    blocks = min(blocks, index.size)
    block = np.arange(index.size) * blocks // index.size
    return np.bincount(block * n_bins + index, minlength=blocks * n_bins).reshape(blocks, n_bins).astype(np.float64)


def block_weights(n_blocks: int, draws: int, rng: np.random.Generator, n_boot: int) -> np.ndarray:
    """Return how often each of ``n_blocks`` blocks is drawn in ``n_boot`` resamples of ``draws`` blocks each."""
    return rng.multinomial(draws, np.full(n_blocks, 1.0 / n_blocks), size=n_boot).astype(np.float64)


def _resample(counts: np.ndarray, n_blocks: int, rng: np.random.Generator, n_boot: int) -> np.ndarray:
    """Counts of ``n_boot`` block-bootstrap resamples, each of ``n_blocks`` blocks drawn with replacement."""
    return block_weights(counts.shape[0], n_blocks, rng, n_boot) @ counts


def _distance(name: str, grid: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if name == "l1":
        return total_variation(a, b)
    return _kernels.w1_on_grid_rows(grid, a, b)


def _round(value: float) -> float:
    return float(f"{value:.6g}") if np.isfinite(value) else float("nan")
