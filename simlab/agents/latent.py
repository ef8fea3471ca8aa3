"""The standing book of an agent market against the distance to the mid: the profile that the latent-liquidity rule
of the value agents (``latent_depth_ticks`` > 0, docs/agents_llob.md) makes grow linearly with the distance, as in the
LLOB (Donier, Bonart, Mastromatteo and Bouchaud 2015).
"""

from __future__ import annotations

import numpy as np

from simlab.agents import _kernel as K
from simlab.agents.config import MarketConfig
from simlab.agents.market import _Market, _root
from simlab.book import _engine as eng
from simlab.errors import ParameterError


def standing_depth(config: MarketConfig, seeds: list[int], times_s: list[float], edges: np.ndarray) -> np.ndarray:
    """Mean standing depth (lots per tick) in distance bins from the mid, over seeds and snapshot times.

    Parameters
    ----------
    config
        The market.
    seeds
        Root seeds, one market each.
    times_s
        Increasing snapshot times after the open (s), within the session; each market is stopped there and its whole
        book read (the run then goes on: the same events as one run to the last time).
    edges
        Increasing distance bin edges from the mid (ticks, >= 0): bids at ``mid - price``, asks at ``price - mid``.

    Returns
    -------
    numpy.ndarray
        ``(len(edges) - 1,)``: per bin, the lots resting in it divided by its width and by 2 (the mean of the two
        sides), averaged over the snapshots where both sides were quoted.
    """
    edges = np.asarray(edges, dtype=float)
    times = np.asarray(times_s, dtype=float)
    if edges.ndim != 1 or edges.size < 2 or edges[0] < 0 or not (np.diff(edges) > 0).all():
        raise ParameterError(f"`edges` of standing_depth must be >= 2 increasing distances >= 0; got {edges!r}")
    if times.size == 0 or not (np.diff(times) > 0).all() or times[0] <= 0 or times[-1] > config.session_s:
        raise ParameterError(
            f"`times_s` of standing_depth must increase within (0, session_s = {config.session_s}]; got {times_s!r}"
        )
    total, snapshots = np.zeros(edges.size - 1), 0
    for seed in seeds:
        market = _Market(config, _root(seed), config.session_s, 1, 10**12, 10**12)
        for t in times:
            market.ip[K.IP_END] = config.open_ns + int(round(t * 1e9))
            market.run()
            depth = _depth_by_distance(market.state, edges)
            if depth is not None:
                total += depth
                snapshots += 1
    if snapshots == 0:
        raise ParameterError("standing_depth: the book was never quoted on both sides at the snapshot times")
    return total / snapshots / np.diff(edges) / 2.0


def _depth_by_distance(state: tuple, edges: np.ndarray) -> np.ndarray | None:
    """Lots of both sides in each distance bin from the mid (None when a side is empty)."""
    bid, ask = eng.best_bid(state), eng.best_ask(state)
    if bid == eng.NO_PRICE or ask == eng.NO_PRICE:
        return None
    mid = 0.5 * (bid + ask)
    levels = state[2]
    prices = state[0][eng.ORIGIN] + np.arange(levels.shape[1])
    bids = np.histogram(mid - prices, edges, weights=levels[eng.BID_ROW, :, eng.L_QTY])[0]
    asks = np.histogram(prices - mid, edges, weights=levels[eng.ASK_ROW, :, eng.L_QTY])[0]
    return (bids + asks).astype(float)
