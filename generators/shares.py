"""A TRADE's size as its share of the touch queue (encoding version 3): exact integer arithmetic both ways.

A trade of ``lots`` against a touch queue of ``q`` lots (the best level of the side it executes against, before
it; an empty side counts as one lot) is stored in units of ``1 / SHARE_ONE`` as exactly 1 when it takes the whole
queue, else as the middle of the bin ``((lots - 1) / q, lots / q]``, and decoded by ``ceil(share q / SHARE_ONE)``.
The bins of ``1..q`` lots partition ``(0, 1]``, so any share in it decodes to a trade the queue can fill. A trade
that takes the whole queue (about half the trades of the LOBSTER files) is an atom at 1, which takes the whole of
any queue; the middle of the other bins keeps ``SHARE_ONE / (2 q)`` units of slack on either side (float rounding
of the quantile transform never moves a share to another bin).
"""

from __future__ import annotations

import numpy as np

from simlab.errors import DataError

SHARE_ONE = 1 << 30  # a TRADE's share of the touch queue is an integer in units of 1 / SHARE_ONE
MAX_TRADE_LOTS = 1 << 31  # trade sizes and queues below this keep the share's integer arithmetic within int64


def trade_share(lots, queue) -> np.ndarray:
    """Return the shares (int64, :data:`SHARE_ONE` units) of trades of ``lots`` against touch queues of ``queue``.

    With ``q = max(queue, 1)`` (an empty side counts as a queue of one lot), the share is :data:`SHARE_ONE` when
    ``lots == q`` (the whole queue), else the middle of the bin ``((lots - 1) / q, lots / q]`` rounded down,
    ``floor((2 lots - 1) SHARE_ONE / (2 q))``. Lots and queues must be below :data:`MAX_TRADE_LOTS` (the products
    stay within int64).
    """
    lots, q = np.asarray(lots, np.int64), np.maximum(np.asarray(queue, np.int64), 1)
    return np.where(lots == q, SHARE_ONE, (2 * lots - 1) * SHARE_ONE // (2 * q))


def trade_lots(share, queue) -> np.ndarray:
    """Return the lots (int64) of trades of ``share`` (:data:`SHARE_ONE` units) against touch queues of ``queue``.

    ``ceil(share q / SHARE_ONE)`` with ``q = max(queue, 1)``: the inverse of :func:`trade_share`, and a share in
    ``(0, SHARE_ONE]`` gives ``1..q`` lots (a share of 0 or less gives 0 or less: no trade). Shares must be below
    ``SHARE_ONE * MAX_TRADE_LOTS`` and queues below :data:`MAX_TRADE_LOTS` when the share is above ``SHARE_ONE``.
    """
    share, q = np.asarray(share, np.int64), np.maximum(np.asarray(queue, np.int64), 1)
    return -((-share * q) // SHARE_ONE)


def check_trades(qty: np.ndarray, queue: np.ndarray, trade: np.ndarray, source: str) -> None:
    """Refuse a TRADE (``trade`` mask over the messages) whose lots or queue reach :data:`MAX_TRADE_LOTS`."""
    big = np.flatnonzero(trade & ((qty >= MAX_TRADE_LOTS) | (queue >= MAX_TRADE_LOTS)))
    if big.size:
        row = int(big[0])
        raise DataError(
            f"{source}: events row {row + 1}: a TRADE's size and the queue it meets must be below {MAX_TRADE_LOTS} "
            f"lots; got {int(qty[row])} against {int(queue[row])}"
        )
