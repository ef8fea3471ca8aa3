"""Queue-reactive calibration: recovery of the true intensities from simulated books, the stationary law seen by
the estimator, the AMZN LOBSTER day, and the error sentences."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from calibration.queue_reactive import QREstimator
from simlab.book.queue_reactive import QRParams, simulate_qr
from simlab.errors import DataError, ParameterError
from simlab.schema import EventKind
from tests.conftest import shared_path

AMZN = "lobster_samples/AMZN_2012-06-21_level1_fullday"


def true_params(theta: float) -> QRParams:
    n = np.arange(21)
    limit = np.where(n < 20, 1.0, 0.0)
    tables = [np.stack([t, t])[:, None, :] for t in (limit, 0.2 * n, np.where(n > 0, 0.3, 0.0))]
    tables[0][1] *= np.where(n < 20, 1.0 + 0.02 * n, 0.0)  # the ask side's limit flow grows with the queue
    return QRParams(*tables, size_lots=[[100], [40]], theta=theta)


@pytest.mark.parametrize("theta", [0.0, 0.6])
def test_recovers_the_intensities_within_poisson_error(theta):
    params = true_params(theta)
    out = simulate_qr(params, 1e6 / params.mean_event_rate(), rng=31)
    est = QREstimator(n_max=20).fit(out["events"], out["books"])
    np.testing.assert_array_equal(est.size_lots_, [[100.0], [40.0]])
    truth = np.stack([params.limit_rates, params.cancel_rates, params.market_rates])
    fitted = np.stack([est.limit_rates_, est.cancel_rates_, est.market_rates_])
    counts = est.counts_
    # the rule: relative error within 4 / sqrt(count) where the count is large enough for it (>= 100) ...
    big = counts >= 100
    assert big.sum() >= 60
    assert np.all(np.abs(fitted - truth)[big] <= 4 * truth[big] / np.sqrt(counts[big]))
    # ... and everywhere the Poisson standard error under the truth, sqrt(lambda T) / T, for >= 10 expected events
    expected = truth * est.time_s_[None]
    checked = expected >= 10
    assert np.all(np.abs(counts - expected)[checked] <= 4 * np.sqrt(expected[checked]))
    assert est.unmodelled_events_ == 0
    depletions = counts[1:, :, 0, 1].sum()  # cancels and market orders hitting a one-unit first queue
    assert depletions > 1000
    assert abs(est.theta_ - theta) <= 4 * np.sqrt(theta * (1 - theta) / depletions) + 1e-12


def test_time_in_state_matches_the_stationary_law():
    params = true_params(0.0)
    out = simulate_qr(params, 1e6 / params.mean_event_rate(), rng=8)
    est = QREstimator(n_max=20).fit(out["events"], out["books"])
    for side in range(2):
        occupancy = est.time_s_[side, 0] / est.time_s_[side, 0].sum()
        assert 0.5 * np.abs(occupancy - params.stationary_law(side, 0)).sum() < 0.01


def test_fit_simulate_refit_is_one_line():
    est = QREstimator(n_max=20, symmetric=True).fit(**simulate_qr(true_params(0.5), 2000.0, rng=1))
    again = QREstimator(n_max=20, symmetric=True).fit(**est.simulator()(2000.0, rng=2))
    assert again.params_.levels == 1 and np.isfinite(again.limit_rates_).all()
    np.testing.assert_array_equal(est.counts_[:, 0], est.counts_[:, 1])  # symmetric: both sides pooled


@pytest.fixture(scope="module")
def amzn():
    from simlab.io import read

    return read(sorted(shared_path(AMZN).glob("*.csv")), "lobster")


def test_amzn_day_calibrates_and_simulates(amzn):
    est = QREstimator(levels=1, n_max=20).fit(amzn["events"], amzn["books"])
    assert 50 < est.size_lots_.min() and est.size_lots_.max() < 150  # AES of the best queues, shares
    assert est.theta_ == 1.0  # on an L2 tape the best always moves when its queue empties
    assert est.unmodelled_events_ == int(np.sum(amzn["events"]["kind"].values == EventKind.ADD)) - int(
        est.counts_[0].sum()
    )
    assert 1 < len(est.spread_probabilities_) <= 80
    day = est.simulator()(23_400.0, rng=7, start_ns=int(amzn["events"]["ts_ns"].values[0]))
    simulated = day["events"]["kind"].values
    real_rate = est.counts_.sum() / 23_400.0
    sim_rate = np.isin(simulated, (EventKind.ADD, EventKind.CANCEL, EventKind.TRADE)).sum() / 23_400.0
    assert abs(sim_rate / real_rate - 1) < 0.25, (sim_rate, real_rate)


def test_aapl_level10_fixture_fits_two_levels():
    from simlab.io import read

    folder = shared_path("lobster_samples/AAPL_2012-06-21_level10_first1000")
    data = read(sorted(Path(folder).glob("*.csv")), "lobster")
    est = QREstimator(levels=2, n_max=10).fit(data["events"], data["books"])
    assert est.params_.levels == 2 and (est.counts_.sum(axis=(0, 3)) > 0).all()


def test_bad_input_raises_our_sentence():
    out = simulate_qr(true_params(0.0), 5.0, rng=0)
    with pytest.raises(DataError, match=r"QREstimator.fit: books must have one row per event"):
        QREstimator().fit(out["events"], out["books"].isel(time=slice(1, None)))
    with pytest.raises(DataError, match=r"QREstimator.fit: books must have >= 3 levels; got 1"):
        QREstimator(levels=3).fit(out["events"], out["books"])
    with pytest.raises(ParameterError, match=r"`n_max` of QREstimator must be an int >= 1; got 0"):
        QREstimator(n_max=0).fit(out["events"], out["books"])
    with pytest.raises(ParameterError, match=r"QREstimator is not fitted yet"):
        QREstimator().simulator()
