"""HawkesBookEstimator: recovery of the laws on simulated books, and the AAPL LOBSTER hour side by side."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from calibration.hawkes_book import HawkesBookEstimator, book_statistics, lobster_with_depth
from simlab.book.hawkes_book import EmpiricalLaw, simulate_hawkes_book
from simlab.errors import DataError, ParameterError
from tests.conftest import shared_path
from tests.simlab.book.test_hawkes_book import HAWKES, PARAMS, SIZES

PLACE = EmpiricalLaw(np.arange(0, 12), np.array([8, 6, 5, 4, 4, 3, 3, 2, 2, 1, 1, 1], float))  # never capped


def _total_variation(law, truth) -> float:
    support = np.union1d(law.values, truth.values)
    p = np.array([law.probabilities[law.values == v].sum() for v in support])
    q = np.array([truth.probabilities[truth.values == v].sum() for v in support])
    return 0.5 * float(np.abs(p - q).sum())


@pytest.fixture(scope="module")
def simulated():
    return simulate_hawkes_book(replace(PARAMS, placement=(PLACE, PLACE)), 600.0, rng=21, warmup_s=20.0, depth=50)


def test_recovers_the_laws_of_a_simulated_book(simulated):
    estimator = HawkesBookEstimator(hawkes=HAWKES, hazard_ticks=20).fit(simulated["events"], simulated["books"])
    assert simulated["events"].attrs["capped_limit_orders"] == 0
    for side in range(2):
        assert _total_variation(estimator.placement_[side], PLACE) < 0.06
        assert _total_variation(estimator.limit_sizes_[side], SIZES) < 0.04
    assert estimator.params_.hawkes is HAWKES and estimator.counts_["placed_limit_orders"] > 2000
    hazard = estimator.cancel_hazard_  # truth: bid falls 2 -> 0.5 over 20 ticks, ask flat
    assert hazard[0, :3].mean() > 1.15 * hazard[0, 6:12].mean()
    assert 0.6 < hazard[1, :3].mean() / hazard[1, 6:12].mean() < 1.6


def test_recovers_an_opposite_referenced_placement():
    law = EmpiricalLaw(np.arange(1, 13), np.array([8, 6, 5, 4, 4, 3, 3, 2, 2, 1, 1, 1], float))
    params = replace(PARAMS, placement=(law, law), placement_reference="opposite")
    result = simulate_hawkes_book(params, 400.0, rng=22, warmup_s=20.0, depth=50)
    estimator = HawkesBookEstimator(hawkes=HAWKES, placement_reference="opposite").fit(**result)
    assert estimator.params_.placement_reference == "opposite" and estimator.max_spread_ticks_ is None
    for side in range(2):
        assert _total_variation(estimator.placement_[side], law) < 0.06
    same_side = HawkesBookEstimator(hawkes=HAWKES).fit(**result)  # the same orders seen from the same-side best
    assert _total_variation(same_side.placement_[0], law) > 0.2
    with pytest.raises(ParameterError, match="placement_reference"):
        HawkesBookEstimator(placement_reference="mid").fit(**result)


def test_fit_simulate_refit_in_one_line(simulated):
    first = HawkesBookEstimator(hawkes=HAWKES).fit(simulated["events"], simulated["books"])
    again = HawkesBookEstimator(hawkes=HAWKES).fit(**first.simulator()(300.0, rng=2, warmup_s=0.0))
    assert _total_variation(again.limit_sizes_[0], first.limit_sizes_[0]) < 0.08


def test_bad_options_and_data_are_named(simulated):
    events, books = simulated["events"], simulated["books"]
    with pytest.raises(ParameterError, match="hazard_ticks"):
        HawkesBookEstimator(hazard_ticks=0).fit(events, books)
    with pytest.raises(ParameterError, match="hawkes"):
        HawkesBookEstimator(hawkes=3).fit(events, books)
    with pytest.raises(DataError, match="book rows"):
        HawkesBookEstimator().fit(events, books.isel(time=slice(1, None)))
    with pytest.raises(ParameterError, match="not fitted"):
        HawkesBookEstimator().simulator()


def test_aapl_level50_hour_side_by_side():
    folder = shared_path("lobster_samples/AAPL_2012-06-21_level50_0930-1030_messages")
    start = shared_path("lobster_samples/AAPL_2012-06-21_level10_first1000")
    data = lobster_with_depth(next(folder.glob("*message_50.csv")), tuple(sorted(start.glob("*.csv"))))
    estimator = HawkesBookEstimator().fit(data["events"], data["books"])
    counts = estimator.counts_
    print("AAPL Hawkes-book fit:", counts)
    for side, name in enumerate(("bid", "ask")):
        place = estimator.placement_[side]
        inside = place.probabilities[place.values < 0].sum()
        print(f"{name}: placement mean {place.mean:.2f} ticks, inside-spread share {inside:.3f}, limit size mean "
              f"{estimator.limit_sizes_[side].mean:.1f}, market size mean {estimator.market_sizes_[side].mean:.1f}, "
              f"hazard d=0,5,20,100 {np.round(estimator.cancel_hazard_[side, [0, 5, 20, 100]], 4)}")  # fmt: skip
    assert counts["limit_orders"] == 44255 and counts["cancellations"] == 41473
    assert counts["market_orders"] == [1805, 1485] and counts["placed_limit_orders"] > 37000
    assert 0.15 < estimator.placement_[0].probabilities[estimator.placement_[0].values < 0].sum() < 0.3
    assert 90 < estimator.market_sizes_[0].mean < 130 and 90 < estimator.limit_sizes_[1].mean < 140
    assert estimator.max_spread_ticks_ == 19  # the median spread
    assert 4000 < estimator.reference_depth_[0] < 6000 and 4500 < estimator.reference_depth_[1] < 7000
    real = book_statistics(data["events"], data["books"])
    result = estimator.simulator()(3600.0, rng=0)
    simulated = book_statistics(result["events"], result["books"])
    attrs = result["events"].attrs
    print("simulated:", {k: attrs[k] for k in ("hawkes_counts", "skipped_cancels", "unfilled_market_lots")})
    print(f"book kernel speed: {attrs['events_per_second']:.3g} Hawkes events/s")
    print(f"{'statistic':32s} {'real AAPL':>12s} {'simulated':>12s}")
    for key in real:
        print(f"{key:32s} {real[key]:12.4g} {simulated[key]:12.4g}")
    assert sum(attrs["hawkes_counts"]) > 50_000
    # the feedback keeps the book two-sided: no drained side, a spread of ticks (not the 10^5 of no feedback)
    assert attrs["unfilled_market_lots"] < 1000 and 1 < simulated["spread_mean_ticks"] < 40
    # placed from the opposite best (d >= 1 always in the data), the spread stays open: much closer to the real one
    opposite = HawkesBookEstimator(placement_reference="opposite").fit(data["events"], data["books"])
    assert opposite.max_spread_ticks_ is None and opposite.placement_[0].values[0] >= 1
    assert opposite.counts_["placed_limit_orders"] > 37000
    wide = book_statistics(**opposite.simulator()(3600.0, rng=0))
    spreads = [round(stats["spread_mean_ticks"], 1) for stats in (real, simulated, wide)]
    print("spread mean: real, same-side placement, opposite placement", spreads)
    assert 8 < wide["spread_mean_ticks"] < real["spread_mean_ticks"]
    assert abs(wide["spread_mean_ticks"] - real["spread_mean_ticks"]) < 0.7 * abs(
        simulated["spread_mean_ticks"] - real["spread_mean_ticks"]
    )
