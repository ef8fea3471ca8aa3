"""ZIEstimator: parameter recovery on simulated books, and fits to the LOBSTER AMZN day and AAPL hour."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.zero_intelligence import ZIEstimator
from simlab.book.zero_intelligence import ZIParams, simulate_zi
from simlab.errors import DataError, ParameterError
from tests.conftest import shared_path

TRUTH = ZIParams(limit_rate=0.5, market_rate=2.0, cancel_rate=0.05, order_size=1, band_ticks=50)
RATES = ("limit_rate", "market_rate", "cancel_rate")


def _z_scores(estimator: ZIEstimator, truth: ZIParams) -> dict[str, float]:
    return {k: (getattr(estimator, k + "_") - getattr(truth, k)) / estimator.standard_errors_[k] for k in RATES}


@pytest.mark.parametrize("window, depth", [("spread", 1), (10, 10)])
@pytest.mark.parametrize("seed", [0, 1])
def test_recovers_known_parameters_within_four_standard_errors(window, depth, seed):
    result = simulate_zi(TRUTH, 1500.0, rng=seed, depth=depth)
    estimator = ZIEstimator(window=window).fit(result["events"], result["books"])
    z = _z_scores(estimator, TRUTH)
    assert all(abs(v) < 4 for v in z.values()), z
    assert estimator.counts_["cancellations"] > 300 and estimator.order_size_ == 1.0
    assert all(estimator.standard_errors_[k] < 0.1 * getattr(TRUTH, k) for k in RATES)


def test_fit_simulate_refit_in_one_line():
    first = ZIEstimator(band_ticks=50).fit(**simulate_zi(TRUTH, 800.0, rng=3, depth=1))
    again = ZIEstimator(band_ticks=50).fit(**first.simulator()(800.0, rng=4, depth=1))
    for name in RATES:
        gap = abs(getattr(again, name + "_") - getattr(first, name + "_"))
        assert gap < 5 * np.hypot(first.standard_errors_[name], again.standard_errors_[name])
    assert again.params_.band_ticks == 50 and first.simulator(band_ticks=60) is not None


def test_geometric_sizes_recover_the_mean_size():
    truth = ZIParams(
        limit_rate=0.5, market_rate=2.0, cancel_rate=0.05, order_size=6.0, band_ticks=50, size_law="geometric"
    )
    result = simulate_zi(truth, 1000.0, rng=8, depth=1)
    estimator = ZIEstimator(size_law="geometric").fit(result["events"], result["books"])
    assert abs(estimator.order_size_ - 6.0) < 4 * estimator.standard_errors_["order_size"]
    assert abs(estimator.params_.order_size - estimator.order_size_) < 1e-12


@pytest.mark.parametrize(
    "options, word",
    [
        ({"window": 0}, "window"),
        ({"window": "depth"}, "window"),
        ({"band_ticks": 0}, "band_ticks"),
        ({"size_law": "x"}, "size_law"),
    ],
)
def test_bad_options_are_named(options, word):
    result = simulate_zi(TRUTH, 5.0, rng=0, depth=1)
    with pytest.raises(ParameterError, match=word):
        ZIEstimator(**options).fit(result["events"], result["books"])


def test_misaligned_or_shallow_books_are_refused():
    result = simulate_zi(TRUTH, 5.0, rng=0, depth=2)
    with pytest.raises(DataError, match="book rows"):
        ZIEstimator().fit(result["events"], result["books"].isel(time=slice(1, None)))
    with pytest.raises(DataError, match="levels"):
        ZIEstimator(window=5).fit(result["events"], result["books"])
    with pytest.raises(ParameterError, match="not fitted"):
        ZIEstimator().simulator()


def test_amzn_level1_day():
    import simlab.io

    folder = shared_path("lobster_samples/AMZN_2012-06-21_level1_fullday")
    data = simlab.io.read(sorted(folder.glob("*.csv")), "lobster")
    estimator = ZIEstimator().fit(data["events"], data["books"])
    p = estimator.params_
    print("AMZN ZI fit:", p, estimator.standard_errors_, estimator.counts_)
    print("p_c", p.characteristic_price_ticks, "epsilon", p.granularity, "t_c", p.characteristic_time_s)
    assert estimator.counts_ == {"limit_orders": 27845, "market_fills": 8974, "cancellations": 18251}
    assert p.order_size == 96 and p.instrument == "AMZN" and abs(estimator.duration_s_ - 23400) < 1
    assert 0.03 < p.limit_rate < 0.07 and 0.1 < p.market_rate < 0.2 and 0.1 < p.cancel_rate < 0.4
    simulated = estimator.simulator()(600.0, rng=0, depth=1)
    books = simulated["books"]
    spread = (books["ask_price"].values[:, 0] - books["bid_price"].values[:, 0]).astype(float)
    real = (data["books"]["ask_price"].values[:, 0] - data["books"]["bid_price"].values[:, 0]).astype(float)
    print("mean spread (ticks): simulated", spread[books["bid_qty"].values[:, 0] > 0].mean(), "real", real.mean())
    assert simulated["events"].sizes["event"] > 1000


@pytest.mark.slow
def test_aapl_level50_hour_with_depth():
    from simlab.io.lobster import read_lobster, replay_lobster

    folder = shared_path("lobster_samples/AAPL_2012-06-21_level50_0930-1030_messages")
    start = shared_path("lobster_samples/AAPL_2012-06-21_level10_first1000")
    messages = read_lobster(next(folder.glob("*message_50.csv")))["events"]
    level10 = read_lobster(*sorted(start.glob("*.csv")))  # its first row is the book after the same first message
    events = messages.isel(event=slice(1, None))
    books = replay_lobster(events, initial_book=level10["books"].isel(time=slice(0, 1)), levels=50)
    deep = ZIEstimator(window=20).fit(events, books)
    touch = ZIEstimator().fit(events, books)
    for name, estimator in (("window 20", deep), ("spread", touch)):
        p = estimator.params_
        print(f"AAPL ZI fit ({name}):", p, estimator.counts_, "p_c", p.characteristic_price_ticks, "eps", p.granularity)
    assert deep.counts_["limit_orders"] > 1000 and deep.counts_["cancellations"] > 1000
    assert deep.market_rate_ == touch.market_rate_ and 0.01 < deep.limit_rate_ < 0.2 and 0.1 < deep.cancel_rate_ < 2
