"""The discriminative score: ROC-AUC against a slow twin; the logistic fit separates what differs."""

from __future__ import annotations

import numpy as np
import pytest

from simlab.errors import ParameterError
from simlab.metrics._market import Market, NotApplicable
from simlab.metrics.discriminative import (
    block_split_auc,
    classifier_inputs,
    discriminate,
    discriminate_pooled,
    fit_logistic,
    roc_auc,
    window_features,
)
from tests.simlab.metrics.conftest import zi_book


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


def _with_empty_bids(data, rows):
    """The market of a book run whose best bid is gone after the events ``rows`` (the touch missing there)."""
    market = Market(data["events"], data["books"], levels=None, source="synthetic")
    bid_qty = market.book[1].copy()
    bid_qty[rows, 0] = 0
    market.book = (market.book[0], bid_qty, *market.book[2:])
    return market


def _slow_book_features(market, window):
    """The book features over each window's quoted rows, one row at a time (NaN without a quoted row)."""
    out = []
    for w in range(market.ts.size // window):
        rows = [i for i in range(w * window, (w + 1) * window) if market.quoted[i]]
        if not rows:
            out.append([np.nan] * 5 + [1.0])
            continue
        bid, ask = market.book[1][:, 0].astype(float), market.book[3][:, 0].astype(float)
        mids = [market.mid_after[i] for i in rows]
        out.append([
            sum(market.spread_after[i] for i in rows) / len(rows),
            sum((bid[i] - ask[i]) / (bid[i] + ask[i]) for i in rows) / len(rows),
            sum(np.log10(bid[i] + ask[i]) for i in rows) / len(rows),
            sum(a != b for a, b in zip(mids[:-1], mids[1:], strict=True)) / (len(mids) - 1) if len(mids) > 1 else 0.0,
            abs(mids[-1] - mids[0]),
            1 - len(rows) / window,
        ])  # fmt: skip
    return np.array(out)


def test_a_touch_missing_on_a_few_rows_keeps_the_book_features(zi_pair):
    """Before session 33 one unquoted row dropped the spread, imbalance, touch and mid features of every window (an
    agent market's day with 41 unquoted rows was told apart on its flow alone). Now they are read over the quoted
    rows, the unquoted share is a feature, and a window without a quoted row is left out and counted."""

    real = Market(zi_pair[0]["events"], zi_pair[0]["books"], levels=None, source="real")
    window = 100
    rows = np.r_[[5, 6, 7, 250, 251], np.arange(1000, 1100), np.arange(1500, 1599)]  # window 10 whole, 15 but one
    partly = _with_empty_bids(zi_pair[1], rows)
    assert (~partly.quoted).sum() == rows.size and not partly.quoted[rows].any()
    features = window_features(partly, window)
    names = ("mean_spread", "mean_imbalance", "log_touch_volume", "share_mid_moves", "abs_mid_change", "share_unquoted")
    got = np.column_stack([features[name] for name in names])
    np.testing.assert_allclose(got, _slow_book_features(partly, window), rtol=1e-12, equal_nan=True)
    assert np.isnan(got[10, :5]).all() and not np.isnan(np.delete(got, 10, axis=0)).any()
    assert got[15, 3] == 0.0 and got[15, 5] == pytest.approx(0.99)  # one quoted row: no move, read all the same
    fully = Market(zi_pair[1]["events"], zi_pair[1]["books"], levels=None, source="s")
    whole = window_features(fully, window)  # every row quoted: the first branch, against the same slow twin
    np.testing.assert_allclose(np.column_stack([whole[name] for name in names[:-1]]),
                               _slow_book_features(fully, window)[:, :5], rtol=1e-12)  # fmt: skip
    clean = ~np.isin(np.arange(got.shape[0]), [0, 2, 10, 15])  # windows without an emptied row read as before
    for name in names[:-1]:
        np.testing.assert_allclose(features[name][clean], whole[name][clean], rtol=1e-12)
    used, x_real, x_syn, left_out = classifier_inputs(real, partly, window)
    assert set(names) <= set(used) and left_out == (0, 1)
    seldom = _with_empty_bids(zi_pair[1], np.arange(partly.ts.size - 3))  # quoted on 3 rows after the last window
    flow_only, _, x_seldom, counted = classifier_inputs(real, seldom, window)
    assert "mean_spread" not in flow_only and "share_unquoted" not in flow_only and "log_duration_s" in flow_only
    assert x_seldom.shape[0] == got.shape[0] == counted[1]  # every window kept, and each counted as unquoted
    assert x_syn.shape[0] == got.shape[0] - 1 and (x_real[:, used.index("share_unquoted")] == 0).all()
    result = discriminate(real, partly, rng=np.random.default_rng(0), window=window, n_boot=20)
    assert "mean_spread" in result.features and result.to_dict()["unquoted_windows"] == [0, 1]
    quoted = discriminate(real, real, rng=np.random.default_rng(0), window=window, n_boot=20)
    assert "share_unquoted" not in quoted.features and "unquoted_windows" not in quoted.to_dict()


def _market(data, source="synthetic"):
    return Market(data["events"], data["books"], levels=None, source=source)


def test_the_pooled_classifier_is_discriminate_on_one_path_and_the_stacked_windows_on_many(zi_pair):
    """Pooled over one synthetic dataset it is `discriminate` bit for bit; over several it is `block_split_auc` on
    each path's `classifier_inputs` rows stacked path after path (a twin that pools the matrices, not the features)."""

    real = _market(zi_pair[0], "real")
    one = discriminate_pooled(real, [_market(zi_pair[1])], rng=np.random.default_rng(3), window=50, n_boot=30)
    assert one == discriminate(real, _market(zi_pair[1]), rng=np.random.default_rng(3), window=50, n_boot=30)
    names, x_real, x_synthetic, _ = classifier_inputs(real, _market(zi_pair[1]), 50)  # the matrices, not the pooling
    assert one == block_split_auc(x_real, x_synthetic, rng=np.random.default_rng(3), n_boot=30, features=names)
    paths = [_market(zi_book(seed, duration_s=150.0)) for seed in (11, 12, 13)]
    pooled = discriminate_pooled(real, paths, rng=np.random.default_rng(4), window=50, n_boot=30)
    inputs = [classifier_inputs(real, path, 50) for path in paths]
    assert all(i[0] == inputs[0][0] for i in inputs)
    twin = block_split_auc(inputs[0][1], np.vstack([i[2] for i in inputs]), rng=np.random.default_rng(4), n_boot=30,
                           features=inputs[0][0])  # fmt: skip
    assert pooled == twin
    assert pooled.n_test > min(discriminate(real, p, rng=np.random.default_rng(4), window=50, n_boot=30).n_test
                               for p in paths)  # fmt: skip


def test_pooling_short_paths_narrows_the_interval_and_still_tells_a_different_law_apart(zi_pair):
    """Short paths of the real law: one at a time the interval is wide; pooled it is narrower and still holds 0.5.
    Short paths of a law a little off (orders 20 % larger): one path alone is not told apart, pooled they are."""

    real = _market(zi_pair[0], "real")
    same = [_market(zi_book(seed, duration_s=120.0)) for seed in range(20, 28)]
    alone = [discriminate(real, p, rng=np.random.default_rng(5), window=25, n_boot=60) for p in same]
    pooled = discriminate_pooled(real, same, rng=np.random.default_rng(5), window=25, n_boot=60)
    assert pooled.low < 0.5 < pooled.high
    assert pooled.high - pooled.low < np.mean([a.high - a.low for a in alone])
    other = [_market(zi_book(seed, duration_s=120.0, order_size=3.6)) for seed in range(20, 28)]
    lows = [discriminate(real, p, rng=np.random.default_rng(5), window=25, n_boot=60).low for p in other]
    apart = discriminate_pooled(real, other, rng=np.random.default_rng(5), window=25, n_boot=60)
    assert min(lows) < 0.5 < 0.6 < apart.low and "log_size" in apart.features


def test_the_pooled_classifier_refuses_what_it_cannot_read(zi_pair):

    real = _market(zi_pair[0], "real")
    with pytest.raises(ParameterError, match=r"non-empty list or tuple of Market; got list \(empty\)"):
        discriminate_pooled(real, [], rng=np.random.default_rng(0))
    with pytest.raises(ParameterError, match="non-empty list or tuple of Market; got Market"):
        discriminate_pooled(real, real, rng=np.random.default_rng(0))
    with pytest.raises(ParameterError, match="must hold Market objects; item 1 is dict"):
        discriminate_pooled(real, [real, zi_pair[1]], rng=np.random.default_rng(0))
    with pytest.raises(NotApplicable, match="in the real dataset"):
        discriminate_pooled(_market(zi_book(41, duration_s=5.0), "real"), [real], rng=np.random.default_rng(0),
                            window=1000)  # fmt: skip
    with pytest.raises(ParameterError, match="window"):
        discriminate_pooled(real, [real], rng=np.random.default_rng(0), window=3)
    with pytest.raises(NotApplicable, match="every synthetic dataset"):
        discriminate_pooled(real, [real], rng=np.random.default_rng(0), window=10**7)


def test_the_pooled_classifier_reads_partly_and_never_quoted_paths_as_unquoted_windows(zi_pair):
    """A partly quoted path beside fully quoted ones: its wholly unquoted windows are left out and counted, the book
    features kept. A path whose touch is never quoted: every one of its windows is unquoted (left out and counted),
    not the book features of every path."""
    real = _market(zi_pair[0], "real")
    full = [_market(zi_book(seed, duration_s=150.0)) for seed in (31, 32)]
    partly = _with_empty_bids(zi_book(33, duration_s=150.0), np.arange(1000, 1100))  # windows 20 and 21 of 50 events
    pooled = discriminate_pooled(real, [*full, partly], rng=np.random.default_rng(0), window=50, n_boot=20)
    assert "mean_spread" in pooled.features and "share_unquoted" in pooled.features
    assert pooled.unquoted_windows == (0, 2)
    never_data = zi_book(34, duration_s=150.0)
    never = _with_empty_bids(never_data, np.arange(_market(never_data).ts.size))
    assert not never.quoted.any()
    with_never = discriminate_pooled(real, [*full, never], rng=np.random.default_rng(0), window=50, n_boot=20)
    assert "mean_spread" in with_never.features
    assert with_never.unquoted_windows == (0, never.ts.size // 50)
    alone = discriminate(real, never, rng=np.random.default_rng(0), window=50, n_boot=20)
    assert "mean_spread" not in alone.features  # one path never quoted: read on its flow alone, as before
