"""The peg run: a hand-checked case, conservation, arbitrage to the fee band, and the run-size fit."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scenarios.stress.amm import peg_run
from scenarios.stress.peg import TEMPLATES, depeg_path, fit_run_size, peg_episode, peg_statistics
from simlab.errors import ParameterError

HOURS = np.arange(0, 24 * 3600 + 1, 1800.0)


def usdc_run(**overrides):
    """A USDC-like run on a balanced 3pool (DAI, USDC, USDT): DAI and USDC fall to 0.88 at 8 h, then recover."""
    external = np.ones((HOURS.size, 3))
    external[:, 0] = external[:, 1] = depeg_path(HOURS, trough=0.88, trough_s=8 * 3600, end_level=0.99)
    run = dict(t_s=HOURS, external=external, balances=(170e6,) * 3, run_weights=(0.5, 0.5, 0.0), into=2,
               amplification=2000.0, fee=1e-4, duration_s=8 * 3600)  # fmt: skip
    return run | overrides


def test_hand_checked_single_sale_on_a_two_coin_pool():
    # 100/100, A = 10 (Ann = 20), no fee, no arbitrage: the run sells 10 of coin 0 in its one step. D = 200; the
    # invariant for n = 2 gives y**2 + (b - D) y - c = 0 with c = D**3 / (4 Ann x) and b = x + D / Ann, x = 110.
    c, b = 200.0**3 / (4 * 20 * 110.0), 110.0 + 200.0 / 20
    y = (200.0 - b + math.sqrt((b - 200.0) ** 2 + 4 * c)) / 2
    result = peg_run(np.array([0.0, 60.0]), np.ones((2, 2)), balances=(100.0, 100.0), run_size=0.05,
                     run_weights=(1.0, 0.0), into=1, amplification=10.0, fee=0.0, arb_capacity=0.0)  # fmt: skip
    np.testing.assert_allclose(result.balances[-1], [110.0, y], rtol=1e-13)
    np.testing.assert_allclose(result.holders[-1], [-10.0, 100.0 - y], rtol=1e-12)
    assert y == pytest.approx(90.09, abs=0.01)  # the arithmetic by hand: (80 + sqrt(6400 + 3636.36)) / 2


@pytest.mark.parametrize("capacity", [0.0, 0.003, math.inf])
def test_peg_run_conserves_tokens_and_value(capacity):
    result = peg_run(run_size=0.2, arb_capacity=capacity, **usdc_run())
    flows = result.balances - result.balances[0] + result.holders + result.arbitrageurs
    np.testing.assert_allclose(flows, 0.0, atol=1e-6 * 510e6 * 1e-6)
    prices = result.external[-1]
    value = (result.balances[-1] - result.balances[0] + result.holders[-1] + result.arbitrageurs[-1]) @ prices
    assert abs(value) < 1e-3  # at any price vector, no value is created or destroyed (numeraire)
    assert (np.diff(result.arb_profit) >= -1e-6).all()  # arbitrage never loses at the step's prices
    if capacity == 0.0:
        assert (result.arbitrageurs == 0).all()


def test_unlimited_arbitrage_keeps_the_pool_inside_the_fee_band():
    result = peg_run(run_size=0.1, arb_capacity=math.inf, **usdc_run())
    ratio = result.external[:, :2] / result.external[:, 2:]
    rate = result.pool_price[1:, :2] * (1 - 1e-4)
    assert (rate <= ratio[1:] * (1 + 1e-7)).all()  # nobody can sell DAI or USDC to the pool above the outside price
    assert (result.pool_price[1:, :2] / (1 - 1e-4) >= ratio[1:] * (1 - 1e-7)).all()  # nor buy it below


def test_the_run_skews_the_pool_towards_the_coins_sold_and_more_with_a_bigger_run():
    small, large = (peg_run(run_size=r, arb_capacity=0.0, **usdc_run()) for r in (0.1, 0.25))
    assert small.peak_shares[2] > large.peak_shares[2]
    assert large.peak_shares[0] == pytest.approx(large.peak_shares[1], rel=1e-9)
    assert large.peak == HOURS.size - 1 or large.t_s[large.peak] >= 8 * 3600  # no arbitrage: the skew stays


def test_fit_recovers_a_known_run_size_on_a_small_grid():
    run = usdc_run(arb_capacity=0.002)
    target = peg_run(run_size=0.12, **run).peak_shares
    fit = fit_run_size(target, [0.05, 0.1, 0.15, 0.2], **run)
    assert fit["run_size"] == pytest.approx(0.12, abs=2e-3)
    assert fit["error"] < 1e-3
    assert np.argmin(fit["grid_error"]) == 1


def test_fit_reaches_the_usdc_template_composition():
    template = TEMPLATES["usdc_2023_03"]
    fit = fit_run_size(template["shares"], [0.1, 0.2, 0.3, 0.4], **usdc_run(arb_capacity=0.0))
    assert fit["error"] < 0.005
    np.testing.assert_allclose(fit["shares"], template["shares"], atol=0.005)


@pytest.mark.parametrize(
    "overrides, match",
    [
        (dict(run_weights=(0.5, 0.4, 0.0)), "run_weights"),
        (dict(into=0), "into"),
        (dict(external=np.ones((3, 3))), "external"),
        (dict(duration_s=1e9), "within"),
        (dict(arb_capacity=-1.0), "arb_capacity"),
    ],
)
def test_bad_runs_are_refused(overrides, match):
    with pytest.raises(ParameterError, match=match):
        peg_run(run_size=0.1, **usdc_run(**overrides))


def test_peg_statistics_describe_the_peak():
    result = peg_run(run_size=0.2, arb_capacity=0.0, **usdc_run())
    stats = peg_statistics(result)
    assert [stats[f"peak_share_{k}"] for k in range(3)] == pytest.approx(result.shares[result.peak].tolist())
    assert stats["time_to_peak_s"] == result.t_s[result.peak] == 8 * 3600  # the run ends at 8 h, nothing undoes it
    assert stats["min_pool_price"] == pytest.approx(result.pool_price[result.peak, 0])
    assert stats["arb_profit_share"] == 0.0
    value = (result.balances * result.external).sum(axis=1)
    assert stats["lp_value_change"] == pytest.approx(value[-1] / value[0] - 1)


def test_the_library_primitive_runs_a_named_pool_and_fits_the_template():
    run = dict(start_s=600.0, duration_s=1200.0, depeg_factor=0.88, pool="curve_3pool_2023")
    result = peg_episode(run_share=0.2, **run)
    assert result.t_s[0] == 0.0 and result.t_s[-1] == 3600.0 and {600.0, 1800.0} <= set(result.t_s)
    np.testing.assert_allclose(result.external[result.t_s <= 600.0], 1.0)
    np.testing.assert_allclose(result.external[result.t_s >= 1800.0][:, :2], 0.88)
    assert peg_statistics(result)["time_to_peak_s"] == 1800.0  # no arbitrage by default: the run's end
    shares = [peg_statistics(peg_episode(run_share=r, **run))["peak_share_2"] for r in (0.2, 0.3)]
    template = TEMPLATES["usdc_2023_03"]["shares"][2]
    assert shares[0] > template > shares[1]  # the template's USDT share lies between two run sizes
    with pytest.raises(ParameterError, match="pool"):
        peg_episode(run_share=0.2, **(run | dict(pool="uniswap")))
