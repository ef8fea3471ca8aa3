"""Distances: twins (slow L1 on histograms, scipy's Wasserstein), identical inputs score 0, the floor covers chance."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import wasserstein_distance

from simlab.errors import DataError, ParameterError
from simlab.metrics import _kernels
from simlab.metrics.distances import (
    compare_samples,
    histogram_edges,
    interquartile_mean,
    summarise,
    total_variation,
    wasserstein_standardised,
)


def slow_total_variation(a, b, edges):
    bins = list(zip(edges[:-1], edges[1:], strict=True))
    pa = [sum(1 for x in a if lo <= x < hi or (hi == edges[-1] and x == hi)) for lo, hi in bins]
    pb = [sum(1 for x in b if lo <= x < hi or (hi == edges[-1] and x == hi)) for lo, hi in bins]
    return 0.5 * sum(abs(x / len(a) - y / len(b)) for x, y in zip(pa, pb, strict=True))


@pytest.mark.parametrize("seed", range(4))
def test_total_variation_and_bins_match_a_slow_twin(seed):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=300), rng.normal(0.3, 1.2, size=200)
    edges = histogram_edges(a, b)
    fast = total_variation(np.histogram(a, edges)[0].astype(float), np.histogram(b, edges)[0].astype(float))
    assert fast == pytest.approx(slow_total_variation(a, b, edges), abs=1e-12)
    pooled = np.r_[a, b]
    iqr = np.subtract(*np.percentile(pooled, [75, 25]))
    assert np.diff(edges)[1:-1].max() <= 2 * iqr / b.size ** (1 / 3) + 1e-12  # pooled IQR, the smaller sample's n
    assert edges[0] <= min(a.min(), b.min()) and edges[-1] >= max(a.max(), b.max())


def test_integer_samples_get_one_bin_per_integer_unless_sparse():
    real = np.repeat([1.0, 2, 2, 5], 100)  # 5 distinct values, 402 values: a lattice, one bin per integer
    edges = histogram_edges(real, np.array([3.0, 7]))
    assert edges.tolist() == [0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5]
    sparse = histogram_edges(np.array([100.0, 140, 180, 250, 300]), np.array([120.0, 260]))  # 7 values: not a lattice
    assert sparse[0] == 100 and sparse[-1] == 300 and sparse.size == 4  # FD width 198 (n = 2) between two tail bins


def test_an_outlier_does_not_hide_a_fixed_size_lattice():
    """Issue 12 defect c: one 33,970-lot outlier widened the bins from the real sample to 34 lots and hid a 5-lot
    lattice (0.57 where the lattice scores 0.99); the bins are the pooled lattice's, whatever the outlier."""
    rng = np.random.default_rng(0)
    real = np.r_[5.0 * rng.integers(1, 41, size=2000), 33_970.0]  # multiples of 5 lots
    synthetic = rng.integers(5, 201, size=2000).astype(float)  # every lot count
    on_lattice = np.mean(synthetic % 5 == 0)
    edges = histogram_edges(real, synthetic)
    l1 = total_variation(np.histogram(real, edges)[0].astype(float), np.histogram(synthetic, edges)[0].astype(float))
    assert l1 == pytest.approx(1 - on_lattice, abs=0.03)  # the synthetic mass off the lattice, about 0.8
    continuous = histogram_edges(np.r_[rng.normal(size=2000), 1e6], rng.normal(size=2000))
    assert np.diff(continuous)[1:-1].max() < 0.25  # FD width 0.21: an outlier does not widen continuous bins


def test_a_point_mass_never_collapses_the_bins_to_a_false_zero():
    """Issue 12 defect c: a real OFI sample whose IQR is 0 fell back to span / sqrt(n) wide bins (424 lots), which
    an outlier made wider than the whole body: a false 0.03; a pooled IQR of 0 gave the reference one bin, a 0."""
    rng = np.random.default_rng(1)
    real = np.r_[np.where(rng.random(2000) < 0.8, 0, rng.integers(-50, 51, size=2000)), 20_000].astype(float)
    synthetic = rng.integers(-50, 51, size=2000).astype(float)
    edges = histogram_edges(real, synthetic)
    l1 = total_variation(np.histogram(real, edges)[0].astype(float), np.histogram(synthetic, edges)[0].astype(float))
    assert l1 > 0.7  # 80 % of the real mass at 0 against 1 % of the synthetic
    spike = np.r_[np.zeros(1800), rng.normal(100, 5, 200)]  # pooled IQR 0, the tails differ
    mirror = np.r_[np.zeros(1800), rng.normal(-100, 5, 200)]
    edges = histogram_edges(spike, mirror)
    l1 = total_variation(np.histogram(spike, edges)[0].astype(float), np.histogram(mirror, edges)[0].astype(float))
    assert edges.size > 3 and l1 == pytest.approx(0.1, abs=0.01)


@pytest.mark.parametrize("seed", range(4))
def test_w1_matches_scipy_on_standardised_values(seed):
    rng = np.random.default_rng(seed)
    a, b = rng.exponential(size=400), rng.exponential(2.0, size=250)
    expected = wasserstein_distance((a - a.mean()) / a.std(), (b - a.mean()) / a.std())
    assert wasserstein_standardised(a, b) == pytest.approx(expected, rel=1e-10)


def test_w1_kernel_matches_a_slow_twin():
    rng = np.random.default_rng(5)
    grid = np.sort(rng.normal(size=50))
    ca, cb = rng.integers(0, 5, 50).astype(float), rng.integers(0, 5, 50).astype(float)
    fa, fb = np.cumsum(ca) / ca.sum(), np.cumsum(cb) / cb.sum()
    slow = sum(abs(fa[i] - fb[i]) * (grid[i + 1] - grid[i]) for i in range(49))
    assert _kernels.w1_on_grid(grid, ca, cb) == pytest.approx(slow, rel=1e-12)


def test_identical_inputs_score_zero():
    x = np.random.default_rng(0).lognormal(size=2000)
    result = compare_samples(x, x.copy(), rng=np.random.default_rng(1), n_boot=50)
    assert result["l1"].value == 0.0 and result["w1"].value == 0.0
    assert result["l1"].low == 0.0


def test_floor_interval_covers_the_resampling_error():
    """Two independent samples of one law score inside the real-vs-real floor's 99 % interval (nearly always)."""
    inside = {"l1": 0, "w1": 0}
    for seed in range(20):
        rng = np.random.default_rng(seed)
        real, synthetic = rng.gamma(2.0, size=3000), rng.gamma(2.0, size=2000)
        result = compare_samples(real, synthetic, rng=rng, n_boot=200)
        for name in inside:
            inside[name] += result[name].floor_low <= result[name].value <= result[name].floor_high
            assert result[name].floor < 0.1  # small: a few per cent of mass, a few hundredths of a std
    assert inside["l1"] >= 18 and inside["w1"] >= 18


def test_a_shifted_sample_scores_above_the_floor_and_worse_with_the_shift():
    rng = np.random.default_rng(3)
    real = rng.normal(size=5000)
    near = compare_samples(real, rng.normal(0.2, 1, 5000), rng=rng, n_boot=100)
    far = compare_samples(real, rng.normal(1.0, 1, 5000), rng=rng, n_boot=100)
    assert near["w1"].low > near["w1"].floor_high
    assert far["w1"].value > near["w1"].value and far["l1"].value > near["l1"].value
    assert far["w1"].value == pytest.approx(1.0, abs=0.06)  # W1 of a shift is the shift (in real std)
    assert near["w1"].low <= near["w1"].value <= near["w1"].high


def test_summaries_and_interquartile_mean():
    assert interquartile_mean(np.arange(8.0)) == pytest.approx(np.mean([2, 3, 4, 5]))
    values = np.array([0.1, 0.2, 0.3, 10.0])
    replicates = values[:, None] + np.random.default_rng(0).normal(0, 0.01, (4, 100))
    out = summarise(values, replicates)
    assert out["mean"]["value"] == pytest.approx(2.65)
    assert out["median"]["value"] == pytest.approx(0.25)
    assert out["iqm"]["value"] == pytest.approx(0.25)
    assert out["mean"]["low"] < 2.65 < out["mean"]["high"]


def test_bad_inputs_are_named():
    rng = np.random.default_rng(0)
    with pytest.raises(DataError, match="real sample needs at least 2"):
        compare_samples(np.array([1.0]), np.arange(5.0), rng=rng)
    with pytest.raises(DataError, match="non-finite"):
        compare_samples(np.array([1.0, np.nan]), np.arange(5.0), rng=rng)
    with pytest.raises(ParameterError, match="n_boot"):
        compare_samples(np.arange(5.0), np.arange(5.0), rng=rng, n_boot=3)
