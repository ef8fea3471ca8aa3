"""What the execution agents did: arrival price, fills, slippage and the impact path, from a finished market."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from simlab.agents import _kernel as K
from simlab.book import _engine, _sim


def execution_report(market: Any, attrs: dict[str, Any]) -> xr.Dataset:
    """Per execution agent: the arrival touch and mid (its first look), lots executed, average fill price,
    slippage against the arrival mid (bps, > 0 costs the agent) and the impact path (bps of the arrival mid, signed
    by the agent's side) at the times of the market's paths.

    Parameters
    ----------
    market
        A finished ``simlab.agents.market._Market``.
    attrs
        The market's provenance and counts (copied to the Dataset).
    """
    config, agents = market.config, market.agents
    side = config.execution.side
    ids = np.flatnonzero(agents[:-1, K.A_CLASS] == K.EXECUTION)
    ev = market.ev[: int(market.ctr[_sim.C_EVENTS])]
    trades = ev[ev[:, _sim.EV_KIND] == _sim.TRADE]
    bid, ask = market.xstate[:, K.X_ARRIVAL_BID], market.xstate[:, K.X_ARRIVAL_ASK]
    quoted = (bid != _engine.NO_PRICE) & (ask != _engine.NO_PRICE)
    arrival = np.where(quoted, 0.5 * (bid + ask), np.nan)
    executed, average = np.zeros(ids.size, np.int64), np.full(ids.size, np.nan)
    for k, agent in enumerate(ids):
        mine = (trades[:, K.EV_AGENT] == agent) | (trades[:, K.EV_PASSIVE_AGENT] == agent)
        qty = trades[mine, _sim.EV_QTY]
        executed[k] = qty.sum()
        if executed[k]:
            average[k] = (trades[mine, _sim.EV_PRICE] * qty).sum() / executed[k]
    n = int(market.ctr[K.C_PATHS])
    mid = market.path_mid[:n]
    impact = side * (mid[:, None] - arrival[None, :]) / arrival[None, :] * 1e4
    return xr.Dataset(
        {
            "arrival_bid_ticks": ("agent", np.where(quoted, bid, _engine.NO_PRICE)),
            "arrival_ask_ticks": ("agent", np.where(quoted, ask, _engine.NO_PRICE)),
            "arrival_mid_ticks": ("agent", arrival),
            "executed_lots": ("agent", executed),
            "average_price_ticks": ("agent", average),
            "slippage_bps": ("agent", side * (average - arrival) / arrival * 1e4),
            "impact_bps": (("time", "agent"), impact),
        },
        coords={"agent_id": ("agent", ids.astype(np.int32)), "ts_ns": ("time", market.path_ts[:n].copy())},
        attrs=dict(attrs, strategy=config.execution.strategy, side=side, quantity_lots=config.execution.quantity_lots),
    )
