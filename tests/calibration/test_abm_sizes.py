"""The touch size law's fit (calibration/abm_sizes.py): EM recovers the ABIDES mixture's weights and log-normal from
sizes drawn from it, and on the AMZN day puts half the adds on 100 shares."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.abm_sizes import day_add_sizes, fit_size_mixture
from simlab.errors import DataError, ParameterError
from simlab.schema import EventKind

TRUE = np.array([0.4, 0.45, 0.06, 0.03, 0.02, 0.01, 0.01, 0.005, 0.005, 0.005, 0.005])


def _draw(n, rng, weights, mean, sd):
    component = rng.choice(weights.size, size=n, p=weights)
    z = rng.standard_normal(n)
    sizes = np.rint(np.where(component == 0, np.exp(mean + sd * z), 100.0 * component + 0.15 * z)).astype(np.int64)
    return sizes[sizes > 0]


@pytest.mark.parametrize("seed", [1, 2])
def test_em_recovers_the_mixture(seed):
    weights, mean, sd = fit_size_mixture(_draw(20_000, np.random.default_rng(seed), TRUE, 2.5, 1.0))
    assert weights.shape == (11,) and abs(weights.sum() - 1.0) < 1e-12
    se = np.sqrt(TRUE * (1 - TRUE) / 20_000)
    assert np.all(np.abs(weights - TRUE) < 4 * se + 0.002), weights
    # the log-normal's mass at 100-1000 lots is shared with the point masses and sizes < 0.5 are dropped: a
    # slight upward bias of the mean (0.02 here)
    assert abs(mean - 2.5) < 0.04 and abs(sd - 1.0) < 0.03, (mean, sd)


def test_bad_sizes_are_refused_with_a_sentence():
    with pytest.raises(DataError, match="integers >= 1"):
        fit_size_mixture(np.zeros(500, np.int64))
    with pytest.raises(DataError, match="integers >= 1"):
        fit_size_mixture(np.full(500, 100.0))


def test_the_amzn_day_adds_are_half_round_lots_of_100(shared_data):
    adds = day_add_sizes(shared_data)
    weights, mean, _ = fit_size_mixture(adds)
    assert adds.size > 20_000 and abs(weights[1] - np.mean(adds == 100)) < 0.01 and 0.45 < weights[1] < 0.55
    assert 2.0 < mean < 3.0  # odd lots around exp(2.55) = 13 shares


def test_the_amzn_day_adds_split_by_side_and_the_bid_adds_are_larger(shared_data):
    bid, ask = day_add_sizes(shared_data, 1), day_add_sizes(shared_data, -1)
    assert bid.size + ask.size == day_add_sizes(shared_data).size and min(bid.size, ask.size) > 10_000
    (bid_w, bid_mean, _), (ask_w, ask_mean, _) = fit_size_mixture(bid), fit_size_mixture(ask)
    # AMZN 2012-06-21: the bid's adds average 107.6 shares, the ask's 85.7; the bid's odd lots are larger
    # (exp(2.78) = 16 against exp(2.38) = 11 shares) and it holds more of 300-400 shares (5.3 % against 2.6 %)
    assert bid.mean() > 1.2 * ask.mean() and bid_mean > ask_mean + 0.3 and bid_w[3:5].sum() > 1.5 * ask_w[3:5].sum()
    with pytest.raises(ParameterError, match="side must be"):
        day_add_sizes(shared_data, 2)


def test_the_v4_preset_posts_round_lots_at_the_touch():
    """abm-amzn-v4 loads and runs with the touch size law; 20 minutes of it, seen as a level-1 file, have about half
    their adds at 100 shares (AMZN's day: 50 %; v3, whose touch orders split the pov size: under 1 %)."""
    from calibration.abm import load_abm_preset
    from calibration.abm_visible import visible_window
    from calibration.presets import PRESET_DIR
    from simlab.agents import simulate_abm

    config, calibration = load_abm_preset(PRESET_DIR / "abm-amzn-v4.toml")
    makers = config.market_maker
    assert calibration["source"]["moments"] == "visible" and makers.touch_orders == 1 and makers.touch_size_weights
    events = visible_window(simulate_abm(config, seed=11, duration_s=1200.0))["events"]
    adds = events["qty_lots"].values[events["kind"].values == EventKind.ADD]
    assert adds.size > 150 and 0.3 < np.mean(adds == 100) < 0.65, (adds.size, np.mean(adds == 100))
