"""Ground truth 2-7 of issue 6: GBM with zero drift, arbitrageur every block, no gas, no noise unless stated.

``sigma_b`` is the standard deviation of the log reference price over one (mean) block; each Monte Carlo run
below holds >= 5e6 path-blocks per design (1e7 for the LVR rate).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from simlab.amm import lvr
from simlab.amm.chain import BlockTimes, Gas
from simlab.amm.engine import Market, PoolSpec, simulate_amm
from simlab.amm.fees import fee_names, make_fee

SECONDS_PER_YEAR = 365.0 * 86400.0
SIGMA_B = 0.001  # 10 bps per 12 s block


def _volatility(sigma_block: float, block_s: float = 12.0) -> float:
    return sigma_block / math.sqrt(block_s) * math.sqrt(SECONDS_PER_YEAR)


def _mean(ds, metric: str) -> np.ndarray:
    return ds["mean"].isel(parameter=0).sel(metric=metric).values


@pytest.fixture(scope="module")
def fixed_blocks():
    """Fixed 12 s blocks, 2,000 paths x 5,000 blocks = 1e7 path-blocks per design."""
    designs = [("static", {"fee": f}) for f in (0.0, 1e-6, 0.001, 0.003)]
    return simulate_amm(designs, markets=Market(volatility=_volatility(SIGMA_B)), n_paths=2000, n_blocks=5000, seed=1)


def test_2_fee_free_pool_value_and_impermanent_loss_equal_lvr():
    sigma_b, n_blocks, n_paths = 0.02, 400, 20000
    ds = simulate_amm([("static", {"fee": 0.0})], markets=Market(volatility=_volatility(sigma_b)),
                      n_paths=n_paths, n_blocks=n_blocks, seed=2)  # fmt: skip
    v = ds["value"].isel(design=0, parameter=0)
    value = 1e6
    expected_loss = value - lvr.expected_value_fee_free(value, sigma_b * math.sqrt(n_blocks))  # V0 (1 - e^-s2T/8)
    assert expected_loss / value == pytest.approx(1 - math.exp(-0.16 / 8), rel=1e-12)
    for series, target in ((-v.sel(metric="lp_pnl"), expected_loss), (v.sel(metric="lvr"), expected_loss),
                           (v.sel(metric="lp_pnl") + v.sel(metric="lvr"), 0.0)):  # fmt: skip
        z = (float(series.mean()) - target) / (float(series.std()) / math.sqrt(n_paths))
        assert abs(z) < 3, z
    assert float(-v.sel(metric="lp_pnl").mean()) / expected_loss == pytest.approx(1, abs=0.01)


def test_3_lvr_rate_per_block_without_fee(fixed_blocks):
    ratio = _mean(fixed_blocks, "arb_profit_rel")[0] / (SIGMA_B**2 / 8)
    assert ratio == pytest.approx(1, abs=0.02)
    assert _mean(fixed_blocks, "arb_block_share")[0] == pytest.approx(1, abs=1e-5)
    high = simulate_amm([("static", {"fee": 0.0})], markets=Market(volatility=_volatility(0.002)), n_paths=2000,
                        n_blocks=5000, seed=3)  # fmt: skip
    assert _mean(high, "arb_profit_rel")[0] / (0.002**2 / 8) == pytest.approx(1, abs=0.02)


@pytest.mark.slow
def test_4_poisson_blocks_trade_probability_and_profit():
    fees = (0.001, 0.003)
    market = Market(volatility=_volatility(SIGMA_B), blocks=BlockTimes("poisson", 12.0))
    ds = simulate_amm([("static", {"fee": f}) for f in fees], markets=market, n_paths=2000, n_blocks=5000, seed=4)
    for i, fee in enumerate(fees):
        probability = lvr.poisson_trade_probability(SIGMA_B, fee)
        assert _mean(ds, "arb_block_share")[i] / probability == pytest.approx(1, abs=0.02)
        profit = lvr.poisson_arbitrage_profit(1.0, SIGMA_B, fee)
        assert _mean(ds, "arb_profit_rel")[i] / profit == pytest.approx(1, abs=0.02)


def test_5_fixed_blocks_profit_below_poisson(fixed_blocks):
    for i, fee in ((2, 0.001), (3, 0.003)):
        fixed = lvr.fixed_block_arbitrage_profit(1.0, SIGMA_B, fee)
        assert _mean(fixed_blocks, "arb_profit_rel")[i] / fixed == pytest.approx(1, abs=0.02)
        assert _mean(fixed_blocks, "arb_profit_rel")[i] < 0.95 * lvr.poisson_arbitrage_profit(1.0, SIGMA_B, fee)


LIVELY = {  # parameters that make each dynamic design move within the run
    "volatility_tiers": dict(low_volatility=1.0, high_volatility=1.3, halflife_s=120.0),
    "volatility_linear": dict(base_fee=0.0005, slope=0.003, halflife_s=120.0),
    "liquidity_book": dict(base_fee=0.001, control=20.0, bin_step=0.001, filter_period_s=30.0),
    "curve_v2": dict(mid_fee=0.001, out_fee=0.01, fee_gamma=0.0001, ma_halftime_s=60.0),
    "nezlobin_directional": dict(base_fee=0.003, sensitivity=1.0),
    "inventory_linear": dict(base_fee=0.003, slope=0.3),
    "toxicity": dict(base_fee=0.001, imbalance_weight=0.004, volatility_weight=0.001, halflife_s=60.0),
    "oracle_gap": dict(base_fee=0.001, coefficient=0.5),
    "surge": dict(base_fee=0.002, surge=0.005, threshold=0.002, halflife_s=60.0),
}


@pytest.mark.slow
def test_6_arbitrage_profit_plus_fees_is_lvr_for_every_design():
    designs = [make_fee(name, **LIVELY.get(name, {})) for name in fee_names()]
    ds = simulate_amm(designs, markets=Market(volatility=_volatility(SIGMA_B)), n_paths=1000, n_blocks=5000, seed=6)
    total = _mean(ds, "arb_profit_rel") + _mean(ds, "arb_fees_rel")
    assert np.abs(total / (SIGMA_B**2 / 8) - 1).max() < 0.02, dict(
        zip(fee_names(), total / (SIGMA_B**2 / 8), strict=True)
    )
    v = ds["value"].isel(parameter=0)  # and per path, exactly: LVR on the same path
    assert np.allclose(v.sel(metric="arb_profit") + v.sel(metric="fees_arb"), v.sel(metric="lvr"), rtol=1e-9)
    fee_bps = _mean(ds, "mean_fee_bps")
    base = {d.name: 1e4 * getattr(d, "base_fee", getattr(d, "low_fee", getattr(d, "mid_fee", 0.0))) for d in designs}
    moved = [abs(fee_bps[i] - base[d.name]) > 0.5 for i, d in enumerate(designs) if d.name != "static"]
    assert sum(moved) >= 7, dict(zip(fee_names(), fee_bps, strict=True))


def test_7a_vanishing_fee_gives_the_lvr_rate(fixed_blocks):
    assert _mean(fixed_blocks, "arb_profit_rel")[1] / (SIGMA_B**2 / 8) == pytest.approx(1, abs=0.02)
    assert _mean(fixed_blocks, "arb_fees_rel")[1] / (SIGMA_B**2 / 8) < 0.005


@pytest.mark.slow
def test_7b_shorter_blocks_move_lvr_from_arbitrage_profit_to_fees():
    volatility, hours, arb, fees = _volatility(SIGMA_B), 2.0, [], []
    for block_s in (12.0, 3.0, 0.75):
        market = Market(volatility=volatility, blocks=BlockTimes("fixed", block_s))
        ds = simulate_amm([("static", {"fee": 0.003})], markets=market, n_paths=1000,
                          n_blocks=int(hours * 3600 / block_s), seed=7)  # fmt: skip
        sigma_b = SIGMA_B * math.sqrt(block_s / 12.0)
        arb.append(_mean(ds, "arb_profit_rel")[0] / (sigma_b**2 / 8))
        fees.append(_mean(ds, "arb_fees_rel")[0] / (sigma_b**2 / 8))
        assert arb[-1] == pytest.approx(
            lvr.fixed_block_arbitrage_profit(1, sigma_b, 0.003) / (sigma_b**2 / 8), abs=0.01
        )
    assert arb[0] > arb[1] > arb[2] and arb[2] < 0.05
    assert fees[0] < fees[1] < fees[2] and fees[2] > 0.94
    assert np.allclose(np.add(arb, fees), 1, atol=0.02)


def test_7c_higher_gas_widens_the_no_trade_band():
    pool, market = PoolSpec(value=1e8), Market(volatility=_volatility(SIGMA_B))
    shares, mispricing, widest = [], [], []
    for units in (0.0, 20_000.0, 100_000.0):
        gas = Gas(gas_units=units, base_fee_gwei=20.0, priority_fee_gwei=1.0, native_price=3000.0)
        ds = simulate_amm([("static", {"fee": 0.003})], markets=Market(volatility=market.volatility, gas=gas),
                          pool=pool, n_paths=400, n_blocks=2000, seed=8)  # fmt: skip
        shares.append(_mean(ds, "arb_block_share")[0])
        mispricing.append(_mean(ds, "mispricing_bps")[0])
        widest.append(float(ds["value"].sel(metric="max_mispricing_bps").max()))
        assert float(ds["value"].sel(metric="arb_profit").min()) >= 0  # every arbitrage pays its gas
    assert shares[0] > shares[1] > shares[2]
    assert mispricing[0] < mispricing[1] < mispricing[2]
    assert widest[0] < widest[1] < widest[2]
    # without gas the pool never ends a block beyond the fee band: |log(pool / S)| <= -log(1 - f)
    assert widest[0] <= -1e4 * math.log(1 - 0.003) + 1e-6
