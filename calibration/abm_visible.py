"""Moments of an agent market as a level-1 LOBSTER file would record it: the fit the realism scorecard sees.

The realism scorecard (:func:`simlab.metrics.scorecard.score`) compares a simulation with a level-N LOBSTER file
on the events that file would have recorded (:func:`simlab.book.stats.visible_events`: adds, cancels and fills at
the N best prices), and its classifier (:mod:`simlab.metrics.discriminative`) describes windows of those events by
their event mix, inter-arrival law, order sizes, spread, touch volume and mid moves. The moments of
:data:`calibration.abm.LOBSTER_MOMENTS` are taken over every simulated event instead: a maker's ladder ten levels
deep adds and cancels far from the touch, which the file never shows, so a fit of the mix over all events leaves the
visible mix 80 % trades against AMZN's 15 % (docs/agents_realism_v3.md, "What the classifier uses").

:data:`VISIBLE_MOMENTS` are :data:`calibration.abm.MOMENTS` computed on the visible events and their book rows only,
plus two of the classifier's features the fourteen miss: the mean log10 size of the visible events and the share of
visible events after which the mid has moved. The real window (a level-1 file) passes the same filter unchanged.

:data:`VISIBLE_MIX_MOMENTS` add two more for the event clock and mix the classifier reads first on the whole day
(docs/agents_refit_v7.md): the cancel share (cancels and deletes among the visible adds, cancels and trades; it is
``1 - add_share - trade_share``, so with the objective's diagonal weights it gives the cancels their own weight) and
the log10 rate of visible events per second over the blocks (``log10_gap_mean`` is a mean of log gaps, which a
bursty clock can match while the count of events, which sets how long a classifier's window of 200 events lasts, is
still off).

:data:`VISIBLE_PATH_MOMENTS` add four moments of the mid's path on a 1-s grid (docs/agents_refit_v9.md): log10 of the
1-min return sd in bps, the 1-min returns' excess kurtosis, and the autocorrelation of the 1-s |r| at lag 1 (its
level) and averaged over lags 10-30 s (with the lag-1 value, its decay), both within 60-s blocks so that the block
bootstrap of the real day applies. ``abm-amzn-v9`` has the real |r| ACF exponent but a curve 3-6 times too high and
a 1-min sd 4 times AMZN's; :data:`calibration.abm.MOMENTS`' 10-s lag-1 ACF and block returns (first to last mid of
each block) miss both at the scale the scorecard reads.

:data:`VISIBLE_PATH_FAR_MOMENTS` (docs/agents_refit_v11.md) cut the window into 300-s blocks (:data:`FAR_BLOCK_S`)
and add a fifth path moment, the 1-s |r| ACF averaged over lags 50-100 s within each block: the floor of the curve
that the scorecard's exponent (lags 1-100 s) reads and the 60-s blocks cannot see.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from calibration.abm import MOMENTS, MomentSet, _last_valid, moments_of, window_blocks
from simlab.book.stats import visible_events
from simlab.errors import ParameterError
from simlab.schema import EventKind

LEVELS = 1  # the AMZN day is a level-1 LOBSTER file
VISIBLE_MOMENT_NAMES = (*MOMENTS, "log10_size_mean", "mid_move_share")


def visible_window(data: dict[str, xr.Dataset], levels: int = LEVELS) -> dict[str, xr.Dataset]:
    """Return the events (and their book rows) of ``data`` that a level-``levels`` LOBSTER file would record.

    ``data`` holds ``events`` and ``books`` with one book row per event (the book after it), as a simulation writes.
    """
    events, books = data["events"], data["books"]
    columns = (events[name].values for name in ("kind", "side", "price_ticks"))
    keep = np.flatnonzero(visible_events(*columns, books, levels))
    return {"events": events.isel(event=keep), "books": books.isel(time=keep)}


def visible_blocks(data: dict[str, xr.Dataset], block_s: float) -> list[dict[str, np.ndarray]]:
    """Cut the visible events of a window into :func:`calibration.abm.window_blocks` blocks, each with the sums of
    log10 sizes and of mid moves (``size`` and ``moves``: the sum and the event count)."""
    visible = visible_window(data)
    blocks = window_blocks(visible, block_s)
    ts = visible["events"]["ts_ns"].values
    qty = visible["events"]["qty_lots"].values.astype(np.float64)
    books = visible["books"]
    bid, ask = books["bid_price"].values[:, 0], books["ask_price"].values[:, 0]
    quoted = (books["bid_qty"].values[:, 0] > 0) & (books["ask_qty"].values[:, 0] > 0)
    mid = np.where(quoted, 0.5 * (bid + ask.astype(np.float64)), np.nan)
    moved = np.concatenate([[False], np.diff(mid) != 0])  # NaN compares unequal: a side emptied counts as a move
    step = int(block_s * 1e9)
    for i, block in enumerate(blocks):
        e = slice(*np.searchsorted(ts, [ts[0] + i * step, ts[0] + (i + 1) * step]))
        block["size"] = np.array([np.log10(np.maximum(qty[e], 1.0)).sum(), qty[e].size])
        block["moves"] = np.array([moved[e].sum(), moved[e].size])
    return blocks


def visible_moments(blocks: list[dict[str, np.ndarray]]) -> np.ndarray:
    """Return the moment vector :data:`VISIBLE_MOMENT_NAMES` of :func:`visible_blocks` blocks."""
    size = np.sum([b["size"] for b in blocks], axis=0)
    moves = np.sum([b["moves"] for b in blocks], axis=0)
    extra = [size[0] / size[1] if size[1] else np.nan, moves[0] / moves[1] if moves[1] else np.nan]
    return np.concatenate([moments_of(blocks), extra])


VISIBLE_MOMENTS = MomentSet(VISIBLE_MOMENT_NAMES, visible_blocks, visible_moments, (0.0,) * len(VISIBLE_MOMENT_NAMES))


VISIBLE_MIX_MOMENT_NAMES = (*VISIBLE_MOMENT_NAMES, "cancel_share", "log10_event_rate")


def visible_mix_blocks(data: dict[str, xr.Dataset], block_s: float) -> list[dict[str, np.ndarray]]:
    """:func:`visible_blocks`, each block also holding its length in seconds (``span``; every block is a whole
    ``block_s``: :func:`calibration.abm.window_blocks` leaves out the partial block at the end)."""
    blocks = visible_blocks(data, block_s)
    for block in blocks:
        block["span"] = np.array([float(block_s)])
    return blocks


def visible_mix_moments(blocks: list[dict[str, np.ndarray]]) -> np.ndarray:
    """Return the moment vector :data:`VISIBLE_MIX_MOMENT_NAMES` of :func:`visible_mix_blocks` blocks: the visible
    moments, the cancel share and log10 of the visible events per second (NaN without events)."""
    mix = np.sum([b["mix"] for b in blocks], axis=0).astype(float)
    seconds = float(np.sum([b["span"] for b in blocks]))
    cancel = mix[1] / mix.sum() if mix.sum() else np.nan
    rate = np.log10(mix.sum() / seconds) if mix.sum() and seconds > 0 else np.nan
    return np.concatenate([visible_moments(blocks), [cancel, rate]])


VISIBLE_MIX_MOMENTS = MomentSet(VISIBLE_MIX_MOMENT_NAMES, visible_mix_blocks, visible_mix_moments,
                                (0.0,) * len(VISIBLE_MIX_MOMENT_NAMES))  # fmt: skip


# ------------------------------------------------------------------------------------------- price-path moments
PATH_MOMENT_NAMES = ("log10_return_sd_1m_bps", "return_kurtosis_1m", "acf_abs_return_1s_lag1",
                     "acf_abs_return_1s_lag10_30")  # fmt: skip
VISIBLE_PATH_MOMENT_NAMES = (*VISIBLE_MIX_MOMENT_NAMES, *PATH_MOMENT_NAMES)
FAR_LAGS = tuple(range(10, 31))  # the lags (s) of `acf_abs_return_1s_lag10_30`


def visible_path_blocks(data: dict[str, xr.Dataset], block_s: float) -> list[dict[str, np.ndarray]]:
    """:func:`visible_mix_blocks`, each block also holding ``r1``: the ``block_s`` log returns of the visible mid on a
    1-s grid from the block's start (the mid at a grid time is the last quoted one at or before it, which can be the
    previous block's; NaN before the first quoted mid), so their sum is the block's ``block_s``-second return.

    ``block_s`` must be a whole number of seconds (a ParameterError sentence otherwise).
    """
    seconds = int(round(block_s))
    if seconds < 1 or abs(block_s - seconds) > 1e-9:
        raise ParameterError(f"visible_path_blocks: block_s must be a whole number of seconds >= 1 (the 1-s return "
                             f"grid); got {block_s!r}")  # fmt: skip
    blocks = visible_mix_blocks(data, block_s)
    visible = visible_window(data)
    ts = visible["events"]["ts_ns"].values
    books = visible["books"]
    bid, ask = books["bid_price"].values[:, 0], books["ask_price"].values[:, 0]
    quoted = (books["bid_qty"].values[:, 0] > 0) & (books["ask_qty"].values[:, 0] > 0)
    mid = np.where(quoted, 0.5 * (bid + ask.astype(np.float64)), np.nan)
    one = 1_000_000_000
    for i, block in enumerate(blocks):
        grid = ts[0] + i * seconds * one + np.arange(seconds + 1, dtype=np.int64) * one
        block["r1"] = np.diff(np.log(_last_valid(ts, mid, grid)))
    return blocks


def pooled_acf(series: list[np.ndarray], lags: tuple[int, ...]) -> float:
    """The mean over ``lags`` of the autocorrelation of values pooled over several series: at each lag, the mean of
    the products of the centred pairs that lag apart within one series (pairs with a NaN left out) over the variance
    of all finite values (both centred at their pooled mean). NaN when no pair exists or the values do not vary."""
    values = np.concatenate(series) if series else np.zeros(0)
    values = values[np.isfinite(values)]
    if values.size < 2 or values.var() == 0:
        return float("nan")
    mean, var = values.mean(), values.var()
    out = []
    for lag in lags:
        products = [(s[lag:] - mean) * (s[:-lag] - mean) for s in series if s.size > lag]
        products = np.concatenate(products) if products else np.zeros(0)
        products = products[np.isfinite(products)]
        if products.size:
            out.append(products.mean() / var)
    return float(np.mean(out)) if len(out) == len(lags) else float("nan")


def path_moments(blocks: list[dict[str, np.ndarray]]) -> np.ndarray:
    """:data:`PATH_MOMENT_NAMES` of :func:`visible_path_blocks` blocks: log10 of the sd (bps) of the block returns
    (each block's sum of ``r1``, blocks with a missing mid left out), their excess kurtosis, and the autocorrelation
    of the 1-s |r| within blocks at lag 1 and averaged over lags 10-30 s (:func:`pooled_acf`)."""
    sd, kurtosis = _sd_kurtosis(np.array([b["r1"].sum() for b in blocks]))
    absolute = [np.abs(b["r1"]) for b in blocks]
    return np.array([sd, kurtosis, pooled_acf(absolute, (1,)), pooled_acf(absolute, FAR_LAGS)])


def _sd_kurtosis(sums: np.ndarray) -> tuple[float, float]:
    """log10 of the sd (bps) and the excess kurtosis of the returns ``sums`` (non-finite ones left out; NaN when
    fewer than two or no variation)."""
    returns = sums[np.isfinite(sums)]
    centred = returns - returns.mean() if returns.size else returns
    var = float(np.mean(centred**2)) if returns.size > 1 else 0.0
    sd = np.log10(1e4 * np.sqrt(var)) if var > 0 else np.nan
    kurtosis = float(np.mean(centred**4) / var**2 - 3.0) if var > 0 else np.nan
    return sd, kurtosis


def visible_path_moments(blocks: list[dict[str, np.ndarray]]) -> np.ndarray:
    """Return the moment vector :data:`VISIBLE_PATH_MOMENT_NAMES`: :func:`visible_mix_moments` then
    :func:`path_moments`."""
    return np.concatenate([visible_mix_moments(blocks), path_moments(blocks)])


VISIBLE_PATH_MOMENTS = MomentSet(VISIBLE_PATH_MOMENT_NAMES, visible_path_blocks, visible_path_moments,
                                 (0.0,) * len(VISIBLE_PATH_MOMENT_NAMES))  # fmt: skip


# -------------------------------------------------------------------------- the far-lag moment (300-s blocks)
# docs/agents_refit_v11.md: the moments above see the 1-s |r| ACF up to lag 30 s only (pairs within 60-s blocks), so a
# fit can lose the curve's floor at 100 s (abm-amzn-v10: 0.008 against AMZN's 0.020), which the scorecard's exponent
# (lags 1-100) reads. This set cuts the window into blocks of FAR_BLOCK_S and adds the ACF averaged over lags 50-100
# s, pairs within a block (a block stays the bootstrap's resampling unit); the 1-min returns are the sums of each
# block's 60-s pieces, so the other path moments keep their meaning.
FAR_BLOCK_S = 300.0  # the block the far-lag set is cut into (seconds)
RETURN_S = 60  # the return horizon of `log10_return_sd_1m_bps` and `return_kurtosis_1m` (seconds)
FAR_LAGS_50_100 = tuple(range(50, 101))  # the lags (s) of `acf_abs_return_1s_lag50_100`
PATH_FAR_MOMENT_NAMES = (*PATH_MOMENT_NAMES, "acf_abs_return_1s_lag50_100")
VISIBLE_PATH_FAR_MOMENT_NAMES = (*VISIBLE_MIX_MOMENT_NAMES, *PATH_FAR_MOMENT_NAMES)


def path_far_moments(blocks: list[dict[str, np.ndarray]]) -> np.ndarray:
    """:data:`PATH_FAR_MOMENT_NAMES` of :func:`visible_path_blocks` blocks of a whole number of minutes longer than
    100 s (:data:`FAR_BLOCK_S`): log10 of the sd (bps) and the excess kurtosis of the 1-min returns (the sums of each
    block's consecutive 60-s pieces of ``r1``), and the autocorrelation of the 1-s |r| within blocks
    (:func:`pooled_acf`) at lag 1, averaged over lags 10-30 s and averaged over lags 50-100 s.

    Blocks of another length are refused with a ParameterError sentence (60-s blocks hold no pair 61-100 s apart).
    """
    sizes = sorted({b["r1"].size for b in blocks})
    if not sizes or any(size % RETURN_S or size <= max(FAR_LAGS_50_100) for size in sizes):
        raise ParameterError(f"path_far_moments: the blocks must be whole minutes longer than {max(FAR_LAGS_50_100)} "
                             f"s (e.g. {FAR_BLOCK_S:g} s); got blocks of {sizes} s")  # fmt: skip
    minutes = [b["r1"][i : i + RETURN_S].sum() for b in blocks for i in range(0, b["r1"].size, RETURN_S)]
    sd, kurtosis = _sd_kurtosis(np.array(minutes))
    absolute = [np.abs(b["r1"]) for b in blocks]
    return np.array([sd, kurtosis, *(pooled_acf(absolute, lags) for lags in ((1,), FAR_LAGS, FAR_LAGS_50_100))])


def visible_path_far_moments(blocks: list[dict[str, np.ndarray]]) -> np.ndarray:
    """Return the moment vector :data:`VISIBLE_PATH_FAR_MOMENT_NAMES`: :func:`visible_mix_moments` then
    :func:`path_far_moments` (blocks of :data:`FAR_BLOCK_S`)."""
    return np.concatenate([visible_mix_moments(blocks), path_far_moments(blocks)])


VISIBLE_PATH_FAR_MOMENTS = MomentSet(VISIBLE_PATH_FAR_MOMENT_NAMES, visible_path_blocks, visible_path_far_moments,
                                     (0.0,) * len(VISIBLE_PATH_FAR_MOMENT_NAMES))  # fmt: skip


# ---------------------------------------------------- the aggregate price response (docs/agents_skew_prior.md)
# The mean signed move of the visible mid over 10-s intervals by the interval's net traded volume: the aggregate
# impact curve of Patzelt and Bouchaud (2018, "Universal scaling and nonlinearity of aggregate price impact in
# financial markets", Phys. Rev. E 97). The AMZN day's rises 1.4 -> 11.5 ticks from the smallest bin to the largest
# (about the square root of the net volume); abm-amzn-v24's is flat at 9-12 ticks, its makers' imbalance skew moving
# the price as much for one lot as for a thousand. The bins are fixed lots (the AMZN day's terciles of |net| over the
# intervals with a trade are 100 and 322 lots), so a simulation and the real day are binned alike. The net
# volume counts every execution, hidden ones too (``_TRADES``, as the other moments): the flow the price answers,
# whether or not the liquidity it met was visible (AMZN with its hidden executions left out of the net: 2.27, 4.12,
# 6.81, 12.69). A bin without an interval is NaN, and the estimator refuses a candidate with a NaN moment: a window
# must be long enough to hold intervals of 1,000 lots and more (the whole day holds 111 on AMZN).
RESPONSE_S = 10  # the interval (seconds; 6 to a 60-s block)
RESPONSE_EDGES = (1, 100, 300, 1000)  # lower edges of the |net volume| bins (lots); the last is open
RESPONSE_MOMENT_NAMES = ("response_ticks_1_100", "response_ticks_100_300", "response_ticks_300_1000",
                         "response_ticks_1000_up")  # fmt: skip
VISIBLE_PATH_RESPONSE_MOMENT_NAMES = (*VISIBLE_PATH_MOMENT_NAMES, *RESPONSE_MOMENT_NAMES)


def visible_response_blocks(data: dict[str, xr.Dataset], block_s: float) -> list[dict[str, np.ndarray]]:
    """:func:`visible_path_blocks`, each block also holding ``net`` and ``move`` per :data:`RESPONSE_S` interval
    from the block's start: the net volume of the executions a level-1 file records (lots, + aggressive buys; those
    against hidden orders included) and the visible mid's change in ticks over ``[t, t + 10 s)``: from the last
    quoted mid before ``t`` to the last before ``t + 10 s`` (NaN where there is none yet, as for the day's first
    interval).

    ``block_s`` must be a whole number of :data:`RESPONSE_S` intervals (a ParameterError sentence otherwise)."""
    intervals = int(round(block_s / RESPONSE_S))
    if intervals < 1 or abs(block_s - intervals * RESPONSE_S) > 1e-9:
        raise ParameterError(f"visible_response_blocks: block_s must be a whole number of {RESPONSE_S}-s intervals "
                             f"(the response's); got {block_s!r}")  # fmt: skip
    blocks = visible_path_blocks(data, block_s)
    visible = visible_window(data)
    events, books = visible["events"], visible["books"]
    ts = events["ts_ns"].values
    trades = np.isin(events["kind"].values, (EventKind.TRADE, EventKind.TRADE_HIDDEN))
    signed = np.where(trades, events["side"].values.astype(np.int64) * events["qty_lots"].values, 0)
    total = np.concatenate([[0], np.cumsum(signed)])
    bid, ask = books["bid_price"].values[:, 0], books["ask_price"].values[:, 0]
    quoted = (books["bid_qty"].values[:, 0] > 0) & (books["ask_qty"].values[:, 0] > 0)
    mid = np.where(quoted, 0.5 * (bid + ask.astype(np.float64)), np.nan)
    step, length = RESPONSE_S * 1_000_000_000, int(round(block_s * 1e9))
    for i, block in enumerate(blocks):
        edges = ts[0] + i * length + np.arange(intervals + 1, dtype=np.int64) * step
        cut = np.searchsorted(ts, edges)
        block["net"] = np.diff(total[cut]).astype(np.float64)
        block["move"] = np.diff(_last_valid(ts, mid, edges - 1))  # the mid just before each edge
    return blocks


def response_moments(blocks: list[dict[str, np.ndarray]]) -> np.ndarray:
    """:data:`RESPONSE_MOMENT_NAMES` of :func:`visible_response_blocks` blocks: per bin of |net volume|
    (:data:`RESPONSE_EDGES`), the mean of ``sign(net) * move`` (ticks) over the intervals in it with a defined move
    (NaN for a bin without one)."""
    net = np.concatenate([b["net"] for b in blocks])
    move = np.concatenate([b["move"] for b in blocks])
    size, signed = np.abs(net), np.sign(net) * move
    out = []
    for low, high in zip(RESPONSE_EDGES, (*RESPONSE_EDGES[1:], np.inf), strict=True):
        pick = (size >= low) & (size < high) & np.isfinite(signed)
        out.append(float(signed[pick].mean()) if pick.any() else np.nan)
    return np.array(out)


def visible_path_response_moments(blocks: list[dict[str, np.ndarray]]) -> np.ndarray:
    """Return the moment vector :data:`VISIBLE_PATH_RESPONSE_MOMENT_NAMES`: :func:`visible_path_moments` then
    :func:`response_moments`."""
    return np.concatenate([visible_path_moments(blocks), response_moments(blocks)])


VISIBLE_PATH_RESPONSE_MOMENTS = MomentSet(VISIBLE_PATH_RESPONSE_MOMENT_NAMES, visible_response_blocks,
                                          visible_path_response_moments,
                                          (0.0,) * len(VISIBLE_PATH_RESPONSE_MOMENT_NAMES))  # fmt: skip
