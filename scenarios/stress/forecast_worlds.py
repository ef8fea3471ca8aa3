"""Crash worlds for the forecaster stress test: a Hawkes world with a known sell shock, and the agent market with
its stress rules.

* :func:`hawkes_world`: market orders of a 2-D (buy, sell) Hawkes process whose sell baseline is multiplied by
  ``sell_factor`` during the crash window. The path is simulated piece by piece, each piece started from the
  excitation left by the one before (:func:`simlab.hawkes.simulate_hawkes` with ``initial_state``: the exact
  continuation of an exponential-kernel process), and the events carry the true process of every piece
  (:data:`scenarios.stress.forecast.TRUTH_ATTR`), so the oracle knows the true future intensity in the crash.
* :func:`stressed_market`: an agent-market configuration with the existing stress rules switched on: a POV sell
  program (``[agents.execution]``), a ladder of sell stops (``[agents.stop_loss]``) and leveraged longs whose
  liquidations cascade (``[agents.leveraged]``).
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import xarray as xr

from scenarios.stress.forecast import NS, TRUTH_ATTR
from simlab.agents import ExecutionAgents, LeveragedTraders, MarketConfig, StopLossAgents
from simlab.errors import ParameterError
from simlab.hawkes import HawkesParams, simulate_hawkes
from simlab.hawkes.closed_form import excitation_state
from simlab.provenance import provenance
from simlab.random import spawn
from simlab.schema import EventKind, make_events


def shocked(params: HawkesParams, sell_factor: float) -> HawkesParams:
    """Return ``params`` with the baseline of dimension 1 (sell market orders) multiplied by ``sell_factor``."""
    if not (np.isfinite(sell_factor) and sell_factor > 0):
        raise ParameterError(f"`sell_factor` of the Hawkes crash must be finite and > 0; got {sell_factor!r}")
    baseline = params.baseline.copy()
    baseline[1] *= sell_factor
    return HawkesParams(baseline, params.adjacency, params.decays, params.names)


def hawkes_world(
    params: HawkesParams,
    duration_s: float,
    *,
    seed: int,
    start_ns: int,
    crash_s: tuple[float, float] | None = None,
    sell_factor: float = 1.0,
    instrument: str = "SYNTH",
) -> tuple[xr.Dataset, None, tuple[int, int]]:
    """Simulate ``duration_s`` seconds of buy / sell market orders from ``start_ns`` (ns since the epoch).

    Parameters
    ----------
    params
        The normal process (2-D: buy, sell; stationary).
    duration_s
        Length of the session in seconds.
    seed
        Root seed (one stream per piece).
    start_ns
        The session's first instant on the absolute clock.
    crash_s
        ``(start, end)`` seconds after ``start_ns`` of the crash window; None: no crash (the window returned is then
        the whole session).
    sell_factor
        The sell baseline's multiplier inside the crash window.
    instrument
        Written to the events' attributes.

    Returns
    -------
    tuple
        ``(events, None, (start_ns, end_ns))``: TRADE events with the aggressor's side, one lot each, the true
        process per piece in the attribute :data:`~scenarios.stress.forecast.TRUTH_ATTR`; no books; the crash window
        (or the session) in ns.
    """
    if params.dimension != 2:
        raise ParameterError(f"`params` of hawkes_world must be a 2-D (buy, sell) process; got d = {params.dimension}")
    cuts = [0.0, float(duration_s)] if crash_s is None else [0.0, float(crash_s[0]), float(crash_s[1]), duration_s]
    if not (np.all(np.diff(cuts) > 0) and np.isfinite(cuts).all()):
        raise ParameterError(
            f"`crash_s` of hawkes_world must satisfy 0 < start < end < duration_s = {duration_s}; got {crash_s!r}"
        )
    pieces = [params] if crash_s is None else [params, shocked(params, sell_factor), params]
    times, dims, state = [], [], None
    for k, (piece, gen) in enumerate(zip(pieces, spawn(seed, len(pieces)), strict=True)):
        length = cuts[k + 1] - cuts[k]
        (path,) = simulate_hawkes(piece, length, rng=gen, initial_state=state)
        times.append(path.times_s + cuts[k])
        dims.append(path.dims)
        all_t, all_d = np.concatenate(times), np.concatenate(dims)
        state = excitation_state(all_t, all_d, piece, cuts[k + 1])
    t, d = np.concatenate(times), np.concatenate(dims)
    ts = start_ns + np.round(t * NS).astype(np.int64)
    truth = [
        {"start_ns": int(start_ns + cuts[k] * NS), "end_ns": int(start_ns + cuts[k + 1] * NS), "params": p.to_dict()}
        for k, p in enumerate(pieces)
    ]
    config = {"duration_s": duration_s, "crash_s": crash_s, "sell_factor": sell_factor, "start_ns": start_ns}
    attrs = provenance(seed=seed, config=config, true_params={"pieces": truth})
    attrs[TRUTH_ATTR] = json.dumps(truth)
    events = make_events(
        ts_ns=ts, kind=int(EventKind.TRADE), side=np.where(d == 0, 1, -1).astype(np.int8), price_ticks=0,
        qty_lots=1, tick_size=0.01, lot_size=1.0, instrument=instrument, venue="simlab-hawkes", attrs=attrs,
    )  # fmt: skip
    window = (int(start_ns + cuts[1] * NS), int(start_ns + cuts[2] * NS)) if crash_s else (start_ns, int(ts[-1]) + 1)
    return events, None, window


def stressed_market(
    config: MarketConfig,
    *,
    start_s: float,
    duration_s: float,
    sell_lots: int = 20_000,
    participation: float = 0.5,
    stops: int = 20,
    stop_lots: int = 300,
    leveraged: int = 20,
    leverage: float = 50.0,
) -> MarketConfig:
    """Return ``config`` with the agent market's stress rules on: a POV seller working ``sell_lots`` at
    ``participation`` of the volume from ``start_s`` for ``duration_s`` seconds; ``stops`` sell stops of
    ``stop_lots`` 20 ticks below the mid and 5 ticks apart, armed at ``start_s / 2``; and
    ``leveraged`` longs of 200 lots at ``leverage`` x opened a minute after the open, liquidated when the price
    falls through their liquidation prices."""
    return replace(
        config,
        execution=ExecutionAgents(
            count=1, strategy="pov", side=-1, quantity_lots=sell_lots, start_s=start_s, duration_s=duration_s,
            interval_s=5.0, participation=participation,
        ),
        stop_loss=StopLossAgents(
            count=stops, side=-1, quantity_lots=stop_lots, start_s=start_s / 2, first_ticks=20, spacing_ticks=5
        ),
        leveraged=LeveragedTraders(
            count=leveraged, side=1, position_lots=200, leverage=leverage, maintenance_margin=0.005, start_s=60.0,
            stagger_s=1.0,
        ),
    )  # fmt: skip
