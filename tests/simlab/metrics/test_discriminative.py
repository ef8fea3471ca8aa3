"""The discriminative score: ROC-AUC against a slow twin; the logistic fit separates what differs."""

from __future__ import annotations

import numpy as np
import pytest

from simlab.errors import ParameterError
from simlab.metrics._market import Market, NotApplicable
from simlab.metrics.discriminative import discriminate, fit_logistic, roc_auc


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
