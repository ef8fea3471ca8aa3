"""What the execution agents did (arrival price, fills, slippage, impact path) and what happened to the leveraged
traders (entries, liquidation and bankruptcy prices, liquidations, auto-deleveraging, the insurance fund), from a
finished market."""

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


LOG_KINDS = ("", "book", "adl", "fund")


def liquidation_report(market: Any, attrs: dict[str, Any]) -> xr.Dataset:
    """Per leveraged trader: entry, liquidation and bankruptcy prices and status; per liquidation step (dimension
    ``step``, in order): time, trader, kind (``book``: closed in the book at ``price_ticks`` on average; ``adl``:
    deleveraged against ``counterparty`` at the bankruptcy price; ``fund``: taken by the insurance fund), lots and
    the insurance fund after it (ticks x lots).
    """
    lstate, n = market.lstate, int(market.ctr[K.C_LIQ_ROWS])
    first = int(market.ip[K.IP_FIRST_LEV])
    log_i, log_f = market.liq_i[:n], market.liq_f[:n]
    status = np.array(["waiting", "open", "liquidated", "unfilled", "deleveraged"])[lstate[:, K.L_STATUS].astype(int)]
    return xr.Dataset(
        {
            "position_lots": ("trader", lstate[:, K.L_POS].astype(np.int64)),
            "entry_ticks": ("trader", lstate[:, K.L_ENTRY]),
            "liquidation_ticks": ("trader", lstate[:, K.L_LIQ]),
            "bankruptcy_ticks": ("trader", lstate[:, K.L_BANKRUPT]),
            "status": ("trader", status.astype(object)),
            "step_ts_ns": ("step", log_i[:, 0].copy()),
            "step_agent_id": ("step", log_i[:, 1].astype(np.int32)),
            "step_kind": ("step", np.array(LOG_KINDS, dtype=object)[log_i[:, 2]] if n else np.array([], object)),
            "step_lots": ("step", log_i[:, 3].copy()),
            "step_counterparty": ("step", log_i[:, 4].astype(np.int32)),
            "step_price_ticks": ("step", log_f[:, 0].copy()),
            "insurance_fund_ticks_lots": ("step", log_f[:, 1].astype(np.int64)),
        },
        coords={"agent_id": ("trader", np.arange(first, first + lstate.shape[0], dtype=np.int32))},
        attrs=dict(attrs, insurance_fund_end_ticks_lots=int(market.ctr[K.C_FUND_TICKS])),
    )
