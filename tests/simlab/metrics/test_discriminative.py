"""The discriminative score: ROC-AUC against a slow twin; the logistic fit separates what differs."""

from __future__ import annotations

import numpy as np
import pytest

from simlab.errors import ParameterError
from simlab.metrics._market import Market, NotApplicable
from simlab.metrics.discriminative import block_split_auc, discriminate, fit_logistic, roc_auc


def slow_auc(labels, scores):
    pos = [s for s, y in zip(scores, labels, strict=True) if y == 1]
    neg = [s for s, y in zip(scores, labels, strict=True) if y == 0]
    return sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg) / (len(pos) * len(neg))


@pytest.mark.parametrize("seed", range(3))
def test_roc_auc_matches_the_pair_count(seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, 200).astype(float)
    scores = rng.integers(0, 10, 200) + labels  # many ties
    assert roc_auc(labels, scores) == pytest.approx(slow_auc(labels, scores), abs=1e-12)


def test_logistic_fit_separates_two_gaussians():
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(0, 1, (500, 2)), rng.normal([2, 0], 1, (500, 2))])
    y = np.repeat([1.0, 0.0], 500)
    weights, center, scale = fit_logistic(x, y)
    z = (x - center) / scale
    scores = np.column_stack([np.ones(1000), z, z**2]) @ weights
    assert roc_auc(y, scores) == pytest.approx(0.921, abs=0.02)  # Phi(2 / sqrt(2)) = 0.921


def test_too_few_windows_and_bad_parameters(zi_pair):
    real = Market(zi_pair[0]["events"], zi_pair[0]["books"], levels=None, source="real")
    with pytest.raises(NotApplicable, match="at least 20 windows"):
        discriminate(real, real, rng=np.random.default_rng(0), window=10_000)
    with pytest.raises(ParameterError, match="window"):
        discriminate(real, real, rng=np.random.default_rng(0), window=2)


def _drifting(rng, n_windows, n_features=8, persistence=0.8):
    """Window features following a slow AR(1) drift plus noise: the same law for every call."""
    x = np.empty((n_windows, n_features))
    x[0] = rng.normal(size=n_features)
    for t in range(1, n_windows):
        x[t] = persistence * x[t - 1] + np.sqrt(1 - persistence**2) * rng.normal(size=n_features)
    return x + 0.3 * rng.normal(size=x.shape)


def _random_split_auc(x_real, x_synthetic, rng, train_fraction=0.7):
    """The leaky baseline: windows assigned to training at random, neighbours in time on both sides."""
    n = x_real.shape[0]
    k = int(train_fraction * n)
    real, synthetic = x_real[rng.permutation(n)], x_synthetic[rng.permutation(n)]
    weights, center, scale = fit_logistic(np.vstack([real[:k], synthetic[:k]]), np.repeat([1.0, 0.0], k))
    z = (np.vstack([real[k:], synthetic[k:]]) - center) / scale
    return roc_auc(np.repeat([1.0, 0.0], n - k), np.column_stack([np.ones(z.shape[0]), z, z**2]) @ weights)


def test_block_split_does_not_learn_the_period_where_a_random_split_does():
    """Two datasets with one law but slowly drifting features: a random split finds 'differences' (neighbours of
    each test window sit in the training set), the contiguous block split does not."""
    random_aucs, block = [], []
    for seed in range(5):
        rng = np.random.default_rng(seed)
        x_real, x_synthetic = _drifting(rng, 300), _drifting(rng, 300)
        random_aucs.append(_random_split_auc(x_real, x_synthetic, rng))
        block.append(block_split_auc(x_real, x_synthetic, rng=rng, n_boot=100))
    block_mean = np.mean([b.auc for b in block])
    assert np.mean(random_aucs) > 0.65 and block_mean < 0.6 and np.mean(random_aucs) - block_mean > 0.1
    assert all(b.low < 0.5 < b.high for b in block)
    assert block[0].n_blocks == 10 and block[0].n_test == 180  # 3 of 10 blocks of 30 windows held out per dataset


def test_block_split_separates_what_differs_and_covers_the_training_split():
    rng = np.random.default_rng(4)
    x_real, x_synthetic = rng.normal(size=(300, 4)), rng.normal(size=(300, 4))
    x_synthetic[:, 0] += 1.5
    different = block_split_auc(x_real, x_synthetic, rng=rng, n_boot=100)
    assert different.low > 0.7  # Phi(1.5 / sqrt(2)) = 0.856 for the best classifier
    same = block_split_auc(x_real, rng.normal(size=(300, 4)), rng=rng, n_boot=100)
    assert same.low < 0.5 < same.high
    with pytest.raises(ParameterError, match="same columns"):
        block_split_auc(x_real, x_synthetic[:, :2], rng=rng)
    with pytest.raises(ParameterError, match="train_fraction"):
        block_split_auc(x_real, x_synthetic, rng=rng, train_fraction=0.95)
