"""AMM lab: pools, a registry of fee designs, chain and reference-price models, a numba engine over designs x
market parameters x paths, closed forms of LVR, the sandwich attack and real-data baselines."""

from simlab.amm.chain import BlockTimes, Gas, base_fee_path
from simlab.amm.engine import METRICS, Market, NoiseTraders, PoolSpec, TradeFlow, simulate_amm
from simlab.amm.fees import FeeRule, fee_names, make_fee
from simlab.amm.paths import PricePath, gbm_prices, path_from_events
from simlab.amm.pools import ConcentratedPosition, ConstantProductPool, impermanent_loss

__all__ = [
    "METRICS",
    "BlockTimes",
    "ConcentratedPosition",
    "ConstantProductPool",
    "FeeRule",
    "Gas",
    "Market",
    "NoiseTraders",
    "PoolSpec",
    "PricePath",
    "TradeFlow",
    "base_fee_path",
    "fee_names",
    "gbm_prices",
    "impermanent_loss",
    "make_fee",
    "path_from_events",
    "simulate_amm",
]
