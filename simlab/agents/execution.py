"""What the execution agents did (arrival price, fills, slippage, impact path) and what happened to the leveraged
traders (entries, liquidation and bankruptcy prices, liquidations, auto-deleveraging, the insurance fund), from a
finished market."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from simlab.agents import _kernel as K
from simlab.book import _engine, _sim


def execution_schedule(execution: Any) -> np.ndarray:
    """Target lots done by the end of each slice of a VWAP or Almgren-Chriss metaorder (int64, the last = quantity).

    Slice j ends at ``tau_j = min(1, (j + 1) interval / duration)`` of the duration. VWAP: the profile's cumulative
    weight at ``tau`` (linear inside each of its equal parts; an empty profile is flat). Almgren-Chriss (2000, eq.
    (18) with the trading rate of their efficient frontier): ``1 - sinh(k T (1 - tau)) / sinh(k T)`` with ``k`` the
    urgency, so a larger urgency front-loads the trading. TWAP and POV have no schedule (one zero row).
    """
    x = execution
    if x.strategy not in ("vwap", "almgren_chriss"):
        return np.zeros(1, np.int64)
    n = int(np.ceil(x.duration_s / x.interval_s - 1e-9))
    tau = np.minimum(1.0, np.arange(1, n + 1) * x.interval_s / x.duration_s)
    if x.strategy == "vwap":
        weights = np.asarray(x.profile or (1.0,), float)
        cumulative = np.concatenate([[0.0], np.cumsum(weights) / weights.sum()])
        done = np.interp(tau, np.linspace(0.0, 1.0, weights.size + 1), cumulative)
    else:
        k_t = x.urgency_per_s * x.duration_s
        done = 1.0 - np.sinh(k_t * (1.0 - tau)) / np.sinh(k_t)
    target = np.rint(done * x.quantity_lots).astype(np.int64)
    target[-1] = x.quantity_lots
    return target


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
