"""LOB-Bench-style quantities of an order book (Nagy et al. 2025), measured per message or per book snapshot.

Unconditional quantities (:data:`QUANTITIES`, each a 1-D sample):

* ``spread_ticks``, ``imbalance_l1`` (``(bid - ask) / (bid + ask)`` at the touch): every book row quoted on both
  sides;
* ``log10_interarrival_s``: log10 of the seconds between consecutive order-flow messages, floored at 1 us
  (:data:`MIN_INTERVAL_S`: simultaneous messages sit in the floor's bin);
* ``log10_time_to_cancel_s``: log10 of the seconds from an order's ADD to each CANCEL or DELETE of it (orders added
  before the data start are left out), floored at 1 us; order ids 0 and -1 name no order (LOBSTER writes 0 where
  the schema has -1) and never enter it: without real ids the score is not applicable;
* ``ask_volume_l1``, ``bid_volume_l1``, ``ask_volume``, ``bid_volume``: lots at the touch and over the levels kept;
* ``limit_depth_{bid,ask}``, ``cancel_depth_{bid,ask}``: distance (ticks) of the order's price from the mid before
  the message, positive away from the spread;
* ``limit_level_{bid,ask}``, ``cancel_level_{bid,ask}``: the price's level in the book before the message (1 the
  touch, 0 inside the spread, levels + 1 beyond the book kept);
* ``flow_events_per_10s``: order-flow messages in each whole 10 s window (clustered flow spreads it out; the same
  inter-arrival times shuffled, or Poisson flow, concentrate it);
* ``traded_volume_per_minute``: lots traded (visible and hidden executions) in each whole minute;
* ``ofi_l1``: the Cont-Kukanov-Stoikov L1 order-flow imbalance summed over each second (lots).

Conditional quantities (:data:`CONDITIONAL`, a sample and a conditioning value per entry; the scorecard groups the
entries by the conditioning value and averages the per-group distances with the real group shares as weights):
``ofi_l1 | next mid move`` (the sign of the mid change over the next second), ``ask_volume_l1 | spread``,
``spread_ticks | hour`` and ``spread_ticks | volatility`` (the standard deviation of the 1 s mid returns of the
minute, grouped at the real quartiles).

:func:`touch_events` and :func:`response_curves` give the price response functions of the six touch-event types of
Eisler, Bouchaud and Kockelkoren (2012): market orders, limit orders at or inside the touch and cancellations at the
touch, each split by whether it moved the mid (``market_0``, ``market_1``, ...). The sign of an event is +1 for a
buy market order, a bid limit order and an ask cancellation, -1 for the mirror events.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from simlab.book.stats import mid_returns
from simlab.features._kernels import cks_increments
from simlab.metrics import _kernels
from simlab.metrics._market import CANCELS, FLOW, NS, TRADES, Market, NotApplicable
from simlab.schema import EventKind

MIN_INTERVAL_S = 1e-6
MAX_LAG = 199
TOUCH_TYPES = ("market_0", "market_1", "limit_0", "limit_1", "cancel_0", "cancel_1")
SIDES = {"bid": 1, "ask": -1}


def spread_ticks(m: Market) -> np.ndarray:
    """Return the spread (ticks) of every book row quoted on both sides."""
    m.require("books")
    return m.spread_after[m.quoted]


def imbalance_l1(m: Market) -> np.ndarray:
    """Return the L1 imbalance ``(bid - ask) / (bid + ask)`` of every quoted book row."""
    m.require("books")
    bid, ask = m.book[1][m.quoted, 0].astype(np.float64), m.book[3][m.quoted, 0]
    return (bid - ask) / (bid + ask)


def log10_interarrival_s(m: Market) -> np.ndarray:
    """Return log10 of the seconds between consecutive order-flow messages (floored at :data:`MIN_INTERVAL_S`)."""
    m.require("flow")
    ts = m.ts[np.isin(m.kind, FLOW)]
    return np.log10(np.maximum(np.diff(ts) / NS, MIN_INTERVAL_S))


def log10_time_to_cancel_s(m: Market) -> np.ndarray:
    """Return log10 of the seconds from each cancelled order's ADD to its CANCEL/DELETE messages."""
    m.require("order_id", "adds", "cancels")
    adds = m.is_add & (m.order_id > 0)  # -1 (the schema's none) and LOBSTER's 0 name no order
    add_ids, add_ts = m.order_id[adds], m.ts[adds]
    order = np.argsort(add_ids, kind="stable")
    add_ids, add_ts = add_ids[order], add_ts[order]
    cancel = np.isin(m.kind, CANCELS) & (m.order_id > 0)
    ids, ts = m.order_id[cancel], m.ts[cancel]
    if add_ids.size == 0:
        raise_missing("order ids on ADD events (ids 0 and -1 name no order; every ADD has one of them)")
    at = np.minimum(np.searchsorted(add_ids, ids), add_ids.size - 1)
    known = (add_ids[at] == ids) & (add_ts[at] <= ts)
    if known.sum() < 2:
        raise_missing("CANCEL/DELETE events of orders added in the data with an order id > 0 (at least 2)")
    return np.log10(np.maximum((ts[known] - add_ts[at[known]]) / NS, MIN_INTERVAL_S))


def volume(side: str, touch: bool) -> Callable[[Market], np.ndarray]:
    """Return the quantity 'lots on ``side`` at the touch (``touch``) or over the levels kept'."""

    def quantity(m: Market) -> np.ndarray:
        m.require("books")
        rows = m.quoted if touch else m.quoted & m.side_known(SIDES[side])  # the touch of a quoted row is known
        qty = m.book[1 if side == "bid" else 3][rows]
        return (qty[:, 0] if touch else qty.sum(axis=1)).astype(np.float64)

    return quantity


def order_depth(kinds: tuple[int, ...], side: str) -> Callable[[Market], np.ndarray]:
    """Return the quantity 'distance (ticks) from the mid before the message of ``kinds`` orders on ``side``'."""

    def quantity(m: Market) -> np.ndarray:
        select = _orders(m, kinds, side)
        return SIDES[side] * (m.mid_before[select] - m.price[select])

    return quantity


def order_level(kinds: tuple[int, ...], side: str) -> Callable[[Market], np.ndarray]:
    """Return the quantity 'level of ``kinds`` orders on ``side`` in the book before the message'."""

    def quantity(m: Market) -> np.ndarray:
        select = _orders(m, kinds, side)
        before = [m.before(i)[select] for i in range(4)]
        level = _kernels.level_index(m.price[select], m.side[select], *before).astype(np.float64)
        return level if m.known is None else level[m.level_known(select, SIDES[side])]

    return quantity


def flow_events_per_10s(m: Market) -> np.ndarray:
    """Return the number of order-flow messages in each whole 10 s window (its spread measures clustering)."""
    m.require("flow")
    flow = m.ts[np.isin(m.kind, FLOW)]
    window = (flow - m.ts[0]) // (10 * 10**9)
    whole = int((m.ts[-1] - m.ts[0]) // (10 * 10**9))
    if whole < 2:
        raise_missing("at least 2 whole 10 s windows of data")
    return np.bincount(window[window < whole], minlength=whole).astype(np.float64)


def traded_volume_per_minute(m: Market) -> np.ndarray:
    """Return the lots traded in each whole minute of the data."""
    m.require("trades")
    trade = np.isin(m.kind, TRADES)
    minute = ((m.ts - m.ts[0]) // (60 * 10**9)).astype(np.int64)
    whole = int((m.ts[-1] - m.ts[0]) // (60 * 10**9))
    if whole < 2:
        raise_missing("at least 2 whole minutes of data")
    keep = trade & (minute < whole)
    return np.bincount(minute[keep], m.qty[keep].astype(np.float64), minlength=whole)


def ofi_l1(m: Market) -> np.ndarray:
    """Return the L1 order-flow imbalance (lots) summed over each whole second (with known-depth masks: the seconds
    whose every book before and after has both touches known)."""
    values, _, known = _ofi_with_next_move(m)
    if m.known is None:
        return values
    return _known_seconds(values, known)


def ofi_given_next_move(m: Market) -> tuple[np.ndarray, np.ndarray]:
    """Return the 1 s L1 OFI and the sign of the mid change over the following second (-1, 0, +1)."""
    values, moves, known = _ofi_with_next_move(m)
    if m.known is None:
        return values[:-1], moves
    return _known_seconds(values[:-1], known[:-1]), moves[known[:-1]]


def _known_seconds(values: np.ndarray, known: np.ndarray) -> np.ndarray:
    # the 1 s OFI of the seconds whose touches are known; fewer than 2 such seconds: not applicable
    if known.sum() < 2:
        raise_missing("at least 2 whole seconds of books whose touches are known")
    return values[known]


def ask_volume_given_spread(m: Market) -> tuple[np.ndarray, np.ndarray]:
    """Return the L1 ask volume of every quoted book row and its spread (ticks)."""
    return volume("ask", True)(m), spread_ticks(m)


def spread_given_hour(m: Market) -> tuple[np.ndarray, np.ndarray]:
    """Return the spread of every quoted book row and its hour of the day (UTC)."""
    return spread_ticks(m), ((m.ts[m.quoted] // (3600 * 10**9)) % 24).astype(np.float64)


def spread_given_volatility(m: Market) -> tuple[np.ndarray, np.ndarray]:
    """Return the spread of every quoted row and the std of the 1 s mid returns (ticks) of its minute."""
    spread = spread_ticks(m)
    returns = _grid_returns(m, 10**9)
    whole = returns.size // 60
    if whole < 2:
        raise_missing("at least 2 whole minutes of quoted books")
    per_minute = returns[: whole * 60].reshape(whole, 60).std(axis=1)
    first = m.ts[m.quoted][0]
    minute = np.minimum((m.ts[m.quoted] - first) // (60 * 10**9), whole - 1)
    return spread, per_minute[minute]


QUANTITIES: dict[str, Callable[[Market], np.ndarray]] = {
    "spread_ticks": spread_ticks,
    "imbalance_l1": imbalance_l1,
    "log10_interarrival_s": log10_interarrival_s,
    "log10_time_to_cancel_s": log10_time_to_cancel_s,
    **{f"{side}_volume_l1": volume(side, True) for side in SIDES},
    **{f"{side}_volume": volume(side, False) for side in SIDES},
    **{f"limit_depth_{side}": order_depth((EventKind.ADD,), side) for side in SIDES},
    **{f"cancel_depth_{side}": order_depth(CANCELS, side) for side in SIDES},
    **{f"limit_level_{side}": order_level((EventKind.ADD,), side) for side in SIDES},
    **{f"cancel_level_{side}": order_level(CANCELS, side) for side in SIDES},
    "flow_events_per_10s": flow_events_per_10s,
    "traded_volume_per_minute": traded_volume_per_minute,
    "ofi_l1": ofi_l1,
}
CONDITIONAL: dict[str, tuple[Callable[[Market], tuple[np.ndarray, np.ndarray]], str]] = {
    "ofi_l1|next_mid_move": (ofi_given_next_move, "discrete"),
    "ask_volume_l1|spread": (ask_volume_given_spread, "discrete"),
    "spread_ticks|hour": (spread_given_hour, "discrete"),
    "spread_ticks|volatility": (spread_given_volatility, "quartiles"),
}


def condition_groups(real: np.ndarray, synthetic: np.ndarray, how: str) -> tuple[np.ndarray, np.ndarray]:
    """Return group labels of the real and synthetic conditioning values.

    ``discrete``: the value itself, values above the real 95th percentile pooled with it; ``quartiles``: the real
    quartile the value falls in (0-3).
    """
    if how == "quartiles":
        edges = np.unique(np.percentile(real, [25, 50, 75]))
        return np.searchsorted(edges, real, side="right"), np.searchsorted(edges, synthetic, side="right")
    cap = np.percentile(real, 95, method="inverted_cdf")
    return np.minimum(real, cap), np.minimum(synthetic, cap)


def touch_events(m: Market) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Classify the touch events of a dataset for the response functions.

    Returns
    -------
    tuple of numpy.ndarray
        The mid (ticks) before each touch event, its sign and its type index in :data:`TOUCH_TYPES`; events whose
        mid before or after is undefined are left out.
    """
    m.require("books")
    bid, ask = m.before(0)[:, 0], m.before(2)[:, 0]
    buy_side = m.side > 0
    at_touch = m.price == np.where(buy_side, bid, ask)
    inside = np.where(buy_side, m.price > bid, m.price < ask)
    market = m.kind == EventKind.TRADE
    limit = m.is_add & (at_touch | inside)
    cancel = np.isin(m.kind, CANCELS) & at_touch
    moved = m.mid_after != m.mid_before
    base = np.select([market, limit, cancel], [0, 2, 4], -1)
    keep = (base >= 0) & np.isfinite(m.mid_before) & np.isfinite(m.mid_after)
    sign = np.where(cancel, -m.side, m.side).astype(np.float64)
    return m.mid_before[keep], sign[keep], (base + moved)[keep].astype(np.int64)


def response_curves(
    mid: np.ndarray, sign: np.ndarray, kind: np.ndarray, max_lag: int = MAX_LAG, block: int = 2000
) -> tuple[np.ndarray, np.ndarray]:
    """Return per-block sums and counts of ``sign_t (mid_{t+l} - mid_t)`` by touch type and lag (see the kernel).

    ``R = sums.sum(0) / counts.sum(0)`` is the response function (n_types, max_lag); the blocks feed a block
    bootstrap.
    """
    return _kernels.response_block_sums(
        np.ascontiguousarray(mid, dtype=np.float64),
        np.ascontiguousarray(sign, dtype=np.float64),
        np.ascontiguousarray(kind, dtype=np.int64),
        len(TOUCH_TYPES),
        int(max_lag),
        int(block),
    )


def raise_missing(what: str) -> None:
    """Raise :class:`simlab.metrics._market.NotApplicable` for one missing thing."""
    raise NotApplicable([what])


def _orders(m: Market, kinds: tuple[int, ...], side: str) -> np.ndarray:
    needs = ("books", "adds") if kinds == (EventKind.ADD,) else ("books", "cancels")
    m.require(*needs)
    select = np.isin(m.kind, kinds) & (m.side == SIDES[side]) & np.isfinite(m.mid_before)
    if select.sum() < 2:
        raise_missing(f"{side} {'limit' if needs[1] == 'adds' else 'cancel'} messages with a quoted book before")
    return select


def _grid_returns(m: Market, interval_ns: int) -> np.ndarray:
    bid_p, bid_q, ask_p, ask_q = (field[:, 0] for field in m.book)
    if m.known is not None:  # an unknown touch is no quote: the mid is undefined there
        bid_q, ask_q = np.where(m.known[0][:, 0], bid_q, 0), np.where(m.known[1][:, 0], ask_q, 0)
    return mid_returns(m.ts, bid_p, bid_q, ask_p, ask_q, interval_ns)


def _ofi_with_next_move(m: Market) -> tuple[np.ndarray, np.ndarray]:
    m.require("books")
    e = cks_increments(*(np.ascontiguousarray(field, dtype=np.int64) for field in m.book))
    second = (m.ts - m.ts[0]) // 10**9
    whole = int(second[-1])
    if whole < 3:
        raise_missing("at least 3 whole seconds of books")
    keep = second < whole
    ofi = np.bincount(second[keep], e[keep].astype(np.float64), minlength=whole)
    unknown = np.bincount(second[keep], ~m.touch_known()[keep], minlength=whole) > 0
    returns = _grid_returns(m, 10**9)
    moves = np.sign(returns[1:])
    n = min(ofi.size - 1, moves.size)
    return ofi[: n + 1], moves[:n], ~unknown[: n + 1]
