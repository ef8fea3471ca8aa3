"""``--convention lobbench`` against numbers of LOB-Bench's own reference code (peernagy/lob_bench, 276baf3).

The expected values in ``data/lobbench_qr.json`` and ``data/lobbench_zi.json`` are the reference's output (its code
is not in this repository), produced by::

    LOB_BENCH_DIR=/tmp/lob_bench LOB_BENCH_PYTHON=/tmp/lbvenv/bin/python \\
        PYTHONPATH=. nice python tests/benchmarks/bench_lobbench.py qr --reference-only --write-fixture
    LOB_BENCH_DIR=/tmp/lob_bench LOB_BENCH_PYTHON=/tmp/lbvenv/bin/python \\
        PYTHONPATH=. nice python tests/benchmarks/bench_lobbench.py zi --reference-only --write-fixture

(the set-up of the checkout and the virtual environment is in that script's docstring): the first 60 minutes of the
AMZN 2012-06-21 level-1 day against a seeded simulation of the ``qr-amzn`` preset (one sequence each) and of the
``zi-amzn`` preset (sequences of 2,000 messages), as ``tests/simlab/metrics/lobbench_pairs.py`` builds them.
Every number (each score's value, interval and 101 bootstrap values, the summaries, the impact curves and score)
must match to 1e-6.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import wasserstein_distance

from simlab.errors import DataError, ParameterError
from simlab.metrics import lobbench_convention as lc
from tests.conftest import shared_path
from tests.simlab.metrics.lobbench_pairs import AMZN, MINUTES, PAIRS, generated_table, real_table

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def amzn():
    return real_table(shared_path(AMZN).parents[1], MINUTES)


@pytest.mark.parametrize("pair", sorted(PAIRS))
def test_every_number_of_the_reference_is_reproduced(amzn, pair):
    expected = json.loads((DATA / f"lobbench_{pair}.json").read_text())
    length = expected["sequence_length"]
    assert expected["minutes"] == MINUTES and length == PAIRS[pair][2]
    ours = lc.score_lobbench(lc.sequences(amzn, length), lc.sequences(generated_table(pair), length))
    assert set(ours["unconditional"]) == set(expected["unconditional"]) == set(lc.UNCONDITIONAL)
    assert set(ours["conditional"]) == set(expected["conditional"]) == set(lc.CONDITIONAL)
    for part in ("unconditional", "conditional", "summary", "impact"):
        worst, where = lc.compare_numbers(ours[part], expected[part])
        assert worst <= 1e-6, f"{pair} {part}{where}: differs by {worst}"
    assert ours["convention"] == "lobbench"


def test_uncapped_fd_labels_match_the_edges_numpy_would_build(monkeypatch):
    rng = np.random.default_rng(0)
    pooled = np.r_[rng.integers(0, 50, 3000) * 100.0, 9_999_999_999.0]  # a placeholder price among ticks
    values = np.r_[pooled, np.nan, np.inf, -np.inf]
    expected = np.searchsorted(np.histogram_bin_edges(pooled, bins="fd"), values, side="right")
    monkeypatch.setattr(lc, "MAX_EDGES", 10)
    np.testing.assert_array_equal(lc.fd_labels(values, pooled), expected)


def test_sequences_pair_by_index_and_extras_are_left_out(amzn):
    real = lc.sequences(amzn, 4000)
    assert [s.n for s in real] == [4000, 4000, amzn.seconds_ns.size - 8000]
    out = lc.score_lobbench(real[:2], real)  # a dataset against itself: every L1 is 0
    assert out["sequences"] == {"real": 2, "generated": 3, "paired": 2}
    assert all(v["l1"]["value"] == 0.0 for v in out["unconditional"].values())
    assert out["impact"]["score"] == 0.0


def test_the_scorecard_and_its_outputs_say_the_lobbench_convention(amzn, tmp_path):
    """``score(convention="lobbench")`` on ingested LOBSTER files gives the reference's numbers, and scores.json and
    the report say which convention produced them."""
    from scenarios.score.runner import write_outputs
    from simlab.book.export import export_lobster
    from simlab.io.lobster import read_lobster
    from simlab.metrics.scorecard import score

    expected = json.loads((DATA / "lobbench_qr.json").read_text())
    from calibration.book_presets import load_book_preset, simulate_book_preset

    out = simulate_book_preset(load_book_preset(PAIRS["qr"][0]), MINUTES * 60.0, rng=PAIRS["qr"][1])
    synthetic = read_lobster(*export_lobster(out["events"], out["books"], tmp_path / "qr", levels=1))
    data = read_lobster(*sorted(shared_path(AMZN).glob("*.csv")))
    ts = data["events"]["ts_ns"].values
    keep = np.flatnonzero(ts < ts[0] - ts[0] % 60_000_000_000 + MINUTES * 60_000_000_000)
    real = {"events": data["events"].isel(event=keep), "books": data["books"].isel(time=keep)}
    card = score(synthetic, real, seed=0, convention="lobbench")
    by_name = {(r.quantity, r.metric): r for r in card.rows}
    for name, entry in expected["unconditional"].items():
        for metric in ("l1", "wasserstein"):
            row = by_name[(name, metric)]
            if entry[metric]["value"] is None:
                assert row.distance is None and "undefined" in row.reason
            else:
                assert abs(row.distance.value - entry[metric]["value"]) <= 1e-6
                assert abs(row.distance.low - entry[metric]["ci"][0]) <= 1e-6
    assert abs(by_name[("impact_response", "sum_abs_diff_ticks")].distance.value - expected["impact"]["score"]) <= 1e-6
    assert abs(card.summary["l1"]["mean"]["value"] - expected["summary"]["unconditional"]["l1"]["mean"][0]) <= 1e-6
    write_outputs(card, tmp_path / "out", seed=0, config={"convention": "lobbench"}, title="qr against AMZN")
    document = json.loads((tmp_path / "out" / "scores.json").read_text())
    assert document["convention"] == "lobbench" and document["meta"]["reference"] == "peernagy/lob_bench@276baf3"
    assert "Convention: lobbench" in (tmp_path / "out" / "report.html").read_text()
    with pytest.raises(DataError, match=r"limit_ask_order_levels: undefined in the reference"):
        score(synthetic, real, seed=0, convention="lobbench", strict=True)
    with pytest.raises(ParameterError, match=r"`convention` of score must be one of"):
        score(synthetic, real, seed=0, convention="LOB-Bench")


@pytest.mark.parametrize("seed", range(3))
def test_bootstrap_kernels_match_numpy_twins(seed):
    from simlab.metrics import _lobbench_kernels as kernels

    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=300).round(1), rng.normal(0.5, 2.0, size=200).round(1)
    a[rng.integers(0, 300, 3)] = np.nan
    labels, codes = np.unique(np.r_[a, b], return_inverse=True)
    draws = rng.integers(0, a.size, size=(50, a.size))
    expected = np.array([np.bincount(codes[:300][d][~np.isnan(a[d])], minlength=labels.size) for d in draws])
    np.testing.assert_array_equal(kernels.replicate_counts(codes[:300], ~np.isnan(a), draws, labels.size), expected)
    finite = np.isfinite(np.r_[a, b])
    grid, codes = np.unique(np.where(finite, np.r_[a, b], 0.0), return_inverse=True)
    da, db = rng.integers(0, 300, size=(50, 300)), rng.integers(0, 200, size=(50, 200))
    fast = kernels.replicate_w1(grid, codes[:300], finite[:300], da, codes[300:], finite[300:], db)
    slow = [
        wasserstein_distance(a[x], b[y]) if np.isfinite(a[x]).all() else np.nan for x, y in zip(da, db, strict=True)
    ]
    np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=1e-14)
    assert np.isnan(fast).any() and np.isfinite(fast).any()
