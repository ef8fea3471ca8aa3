"""Real-data baselines on the Uniswap readers of :mod:`simlab.io.uniswap`: the v2 constant-product check with our
pool maths, the v3 swap replay through any fee design, and noise traders fitted to real swaps."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from simlab.amm.engine import Market, NoiseTraders, PoolSpec, TradeFlow, simulate_amm
from simlab.amm.fees import FeeRule
from simlab.amm.paths import PricePath
from simlab.amm.pools import ConstantProductPool, check_fee
from simlab.errors import DataError


def _swaps(events: xr.Dataset, needed: tuple[str, ...]) -> None:
    missing = [name for name in needed if name not in events]
    if missing:
        raise DataError(f"events {events.attrs.get('instrument', '?')}: a Uniswap swap dataset needs the variables "
                        f"{', '.join(needed)}; missing {', '.join(missing)}")  # fmt: skip


def v2_fee_check(events: xr.Dataset, fee: float = 0.003, tolerance: float = 1e-9) -> dict[str, object]:
    """Replay every v2 swap on its walked-back reserves with :class:`ConstantProductPool` (fees in reserves).

    Parameters
    ----------
    events
        The output of :func:`simlab.io.uniswap.read_uniswap_v2_swaps` (``reserve0/1`` after each swap,
        ``amount0/1`` signed from the pool's side, ``segment``).
    fee
        The fee to check (0.003 for Uniswap v2).
    tolerance
        A swap "matches" when our output differs from the real one by at most this (relative).

    Returns
    -------
    dict
        ``relative_error`` (ours / real output - 1, per swap), ``implied_fee`` (the fee that makes each swap
        exact on its reserves), ``anchor_run`` (per segment: how many swaps back from the query-time reserves
        match before the first mismatch, i.e. the first liquidity change the export omits), ``matches``,
        ``implied_fee_median`` and ``implied_fee_iqr``.
    """
    check_fee(fee, "v2_fee_check")
    _swaps(events, ("amount0", "amount1", "reserve0", "reserve1", "segment"))
    a0, a1 = events["amount0"].values, events["amount1"].values
    x_after, y_after = events["reserve0"].values, events["reserve1"].values
    x_in = a0 > 0
    error, implied = np.empty(a0.shape[0]), np.empty(a0.shape[0])
    for i in range(a0.shape[0]):
        pool = ConstantProductPool(x_after[i] - a0[i], y_after[i] - a1[i], fee, "reserves")
        amount_in, r_in, r_out = (a0[i], pool.x, pool.y) if x_in[i] else (a1[i], pool.y, pool.x)
        real_out = -(a1[i] if x_in[i] else a0[i])
        error[i] = pool.swap(amount_in, "x" if x_in[i] else "y").amount_out / real_out - 1.0
        implied[i] = 1.0 - real_out * r_in / (amount_in * (r_out - real_out))
    segment = events["segment"].values
    runs = {}
    for seg in np.unique(segment):
        bad = np.abs(error[segment == seg][::-1]) > tolerance  # newest first: back from the anchor
        runs[int(seg)] = int(np.argmax(bad)) if bad.any() else int(bad.shape[0])
    low, median, high = np.quantile(implied, [0.25, 0.5, 0.75])
    matches = int((np.abs(error) <= tolerance).sum())
    return dict(relative_error=error, implied_fee=implied, anchor_run=runs, matches=matches,
                implied_fee_median=float(median), implied_fee_iqr=(float(low), float(high)))  # fmt: skip


def v3_replay_market(events: xr.Dataset, *, label: str = "uniswap-v3 replay") -> Market:
    """Build a market that replays real v3 swaps: one block per swap timestamp, whose swaps are a fixed flow (size
    ``amount_usd``, side). The arbitrageur opens each block at the real pool's price when the previous block
    closed (what it could know), so the real flow, arbitrageurs' included, trades against our pool as the price
    moves; a last block without flow aligns the pool with the final close.

    Parameters
    ----------
    events
        The output of :func:`simlab.io.uniswap.read_uniswap_v3_swaps` (or any swap events with ``pool_price`` and
        ``amount_usd``), sorted by time.
    label
        The market's name in results.
    """
    _swaps(events, ("pool_price", "amount_usd"))
    seconds = events["ts_ns"].values.astype(np.float64) / 1e9
    price, value, side = events["pool_price"].values, events["amount_usd"].values, events["side"].values
    keep = (value > 0) & (side != 0)
    times, first = np.unique(seconds, return_index=True)
    close = price[np.append(first[1:], seconds.shape[0]) - 1]  # the pool price after each block's last swap
    block_times = np.concatenate(([times[0] - 12.0], times, [times[-1] + 12.0]))
    path = PricePath(block_times, np.concatenate((close[:1], close[:1], close)), source=label)
    counts = np.append(np.add.reduceat(keep.astype(np.int64), first), 0)
    flow = TradeFlow(np.append(0, np.cumsum(counts)), value[keep], side[keep])
    return Market(reference=path, flow=flow, label=label)


def replay_v3(
    events: xr.Dataset, designs: Sequence[FeeRule | str | tuple | dict], *, pool_value: float = 1e8, seed: int = 0
) -> xr.Dataset:
    """Replay real v3 swaps through each fee design on a constant-product pool of ``pool_value`` (numeraire).

    The arbitrageur aligns the pool with the real price at the start of each block, then the block's real swaps
    trade at the design's fees. Returns :func:`simlab.amm.engine.simulate_amm`'s Dataset (one path).
    """
    market = v3_replay_market(events)
    price = float(market.reference.prices[0])
    return simulate_amm(designs, markets=market, pool=PoolSpec(value=pool_value, price=price), n_paths=1,
                        n_blocks=market.reference.n_blocks, seed=seed)  # fmt: skip


def fit_noise(events: xr.Dataset) -> NoiseTraders:
    """Return noise traders fitted to real swaps: the mean arrival rate and the empirical sizes (``amount_usd``)."""
    _swaps(events, ("amount_usd",))
    seconds = events["ts_ns"].values / 1e9
    sizes = events["amount_usd"].values
    sizes = sizes[sizes > 0]
    if seconds.shape[0] < 2 or sizes.shape[0] == 0 or seconds[-1] <= seconds[0]:
        span = float(seconds[-1] - seconds[0]) if seconds.shape[0] else 0.0
        raise DataError(f"events {events.attrs.get('instrument', '?')}: fit_noise needs at least two swaps over a "
                        f"positive duration with positive sizes; got {seconds.shape[0]} swaps over {span} s, "
                        f"{sizes.shape[0]} of positive size")  # fmt: skip
    return NoiseTraders(rate_per_s=(seconds.shape[0] - 1) / (seconds[-1] - seconds[0]),
                        mean_value=float(sizes.mean()), sizes=tuple(sizes.tolist()))  # fmt: skip


def implied_depth(events: xr.Dataset) -> float:
    """Return the median virtual depth ``2 * amount_usd / |log price change|`` of swaps that moved the price:
    the value of the constant-product pool that would show the same price impact (numeraire)."""
    _swaps(events, ("pool_price", "amount_usd"))
    moves = np.abs(np.diff(np.log(events["pool_price"].values)))
    sizes = events["amount_usd"].values[1:]
    moved = moves > 0
    if not moved.any():
        raise DataError(f"events {events.attrs.get('instrument', '?')}: implied_depth needs swaps that move the "
                        f"price; none of the {moves.shape[0] + 1} swaps did")  # fmt: skip
    return float(np.median(2.0 * sizes[moved] / moves[moved]))
