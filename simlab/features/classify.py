"""Trade classification: the tick rule and the Lee-Ready (1991) algorithm."""

from __future__ import annotations

import numpy as np

from simlab.errors import ParameterError


def tick_rule(price: np.ndarray) -> np.ndarray:
    """Sign trades by the tick rule: +1 after an uptick, -1 after a downtick, the last sign on a zero tick.

    Trades before the first price change are 0 (unknown). Returns int8.
    """
    price = np.asarray(price)
    if price.ndim != 1:
        raise ParameterError(f"`price` of tick_rule must be 1-D; got shape {price.shape}")
    signs = np.zeros(price.shape[0], dtype=np.int8)
    if price.shape[0] < 2:
        return signs
    signs[1:] = np.sign(np.diff(price))
    last = np.where(signs != 0, np.arange(signs.shape[0]), 0)
    np.maximum.accumulate(last, out=last)
    return signs[last]


def lee_ready(
    trade_ts_ns: np.ndarray,
    trade_price: np.ndarray,
    quote_ts_ns: np.ndarray,
    bid_price: np.ndarray,
    ask_price: np.ndarray,
    *,
    quote_lag_ns: int = 0,
) -> np.ndarray:
    """Sign trades by Lee and Ready (1991): against the prevailing mid-quote, with the tick rule at the mid.

    The prevailing quote of a trade at time t is the last quote with ``quote_ts_ns <= t - quote_lag_ns``
    (Lee and Ready used a 5 s lag for 1988 data; modern timestamps need none). A trade above the mid is a buy
    (+1), below a sell (-1); at the mid, or with no valid quote yet (no quote, or a one-sided / crossed one), the
    tick rule decides. Prices may be ticks or floats, in the same units for trades and quotes.

    Returns
    -------
    numpy.ndarray
        int8 signs, 0 where neither rule can decide.
    """
    trade_ts = np.asarray(trade_ts_ns, dtype=np.int64)
    quote_ts = np.asarray(quote_ts_ns, dtype=np.int64)
    if np.any(np.diff(quote_ts) < 0):
        raise ParameterError("`quote_ts_ns` of lee_ready must be sorted ascending")
    bid = np.asarray(bid_price, dtype=np.float64)
    ask = np.asarray(ask_price, dtype=np.float64)
    price = np.asarray(trade_price, dtype=np.float64)
    if not (bid.shape == ask.shape == quote_ts.shape and price.shape == trade_ts.shape):
        raise ParameterError("lee_ready: quote arrays must share one length, and trade arrays another")
    index = np.searchsorted(quote_ts, trade_ts - int(quote_lag_ns), side="right") - 1
    has_quote = index >= 0
    safe = np.where(has_quote, index, 0)
    b, a = bid[safe], ask[safe]
    valid = has_quote & np.isfinite(b) & np.isfinite(a) & (b > 0) & (a > b)
    twice_mid = b + a
    signs = np.where(valid, np.sign(2.0 * price - twice_mid), 0).astype(np.int8)
    by_tick = tick_rule(price)
    return np.where(signs != 0, signs, by_tick).astype(np.int8)
