"""The makers' touch size law: the ABIDES order-size mixture with its weights and log-normal fitted to a day's adds.

ABIDES draws order sizes from a mixture (``abides_markets/models/order_size_model.py``): a log-normal and point
masses at 100, 200, ..., 1000 lots (normals of sd 0.15, which round to the hundred). Its weights were chosen for
ABIDES' synthetic markets; AMZN's adds on 2012-06-21 are half exactly 100 shares, a few 200-600, and odd lots spread
log-normally around 13 shares. :func:`fit_size_mixture` fits the 11 weights and the log-normal by EM: a size that is
a multiple of 100 up to 1000 is shared between its point mass and the log-normal in proportion to their
probabilities (the log-normal's is that of the integer, its law rounded), every other size is the log-normal's; the
weights are the mean shares and the log-normal's mean and sd the weighted mean and sd of the log sizes. The result
is the ``touch_size_*`` keys of :class:`simlab.agents.config.MarketMakers`; fitted to each side's adds, the
bid's law is ``touch_size_*`` and the ask's ``touch_ask_size_*`` (AMZN's bid adds are larger: mean 107.6 shares
against the ask's 85.7).

The same law fitted to the day's marketable orders (fills of one timestamp and side, summed) is the noise agents'
``size_*`` keys. ``python -m calibration.abm_sizes [DATA_DIR]`` prints both fits as TOML lines.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from scipy.special import ndtr

from simlab.agents.config import TOUCH_SIZE_COMPONENTS
from simlab.errors import DataError, ParameterError
from simlab.schema import EventKind

MAX_ITER, TOL = 500, 1e-10


def _lognormal_mass(values: np.ndarray, mean: float, sd: float) -> np.ndarray:
    """The probability of each integer of ``values`` under a log-normal rounded to the nearest integer."""
    low = np.log(np.maximum(values - 0.5, 1e-300))
    return ndtr((np.log(values + 0.5) - mean) / sd) - ndtr((low - mean) / sd)


def fit_size_mixture(sizes: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Fit the ABIDES size mixture to ``sizes`` (lots, integers >= 1) by EM.

    Returns
    -------
    weights
        The 11 component weights (the log-normal, then 100, 200, ..., 1000 lots), summing to 1.
    log_mean, log_sd
        The log-normal's mean and standard deviation of the log size (log lots).
    """
    sizes = np.asarray(sizes)
    if sizes.ndim != 1 or sizes.size < 100 or not np.issubdtype(sizes.dtype, np.integer) or sizes.min() < 1:
        raise DataError(f"fit_size_mixture: sizes must be >= 100 integers >= 1; got {sizes.size} of {sizes.dtype}")
    values, counts = np.unique(sizes, return_counts=True)
    point = np.where((values % 100 == 0) & (values <= 100 * (TOUCH_SIZE_COMPONENTS - 1)), values // 100, 0)
    weights = np.full(TOUCH_SIZE_COMPONENTS, 1.0 / TOUCH_SIZE_COMPONENTS)
    logs = np.log(values)
    mean, sd = float(np.average(logs, weights=counts)), float(np.sqrt(np.cov(logs, fweights=counts)))
    for _ in range(MAX_ITER):
        mass = weights[0] * _lognormal_mass(values.astype(np.float64), mean, sd)
        share = np.divide(mass, mass + weights[point], out=np.ones_like(mass), where=point > 0)  # the log-normal's
        new = np.bincount(point, weights=counts * (1.0 - share), minlength=TOUCH_SIZE_COMPONENTS)
        new[0] = np.sum(counts * share)
        new /= counts.sum()
        w = counts * share
        mean = float(np.sum(w * logs) / w.sum())
        sd = float(np.sqrt(np.sum(w * (logs - mean) ** 2) / w.sum()))
        done = np.abs(new - weights).max() < TOL
        weights = new
        if done:
            break
    return weights, mean, sd


def day_add_sizes(data_dir: str | Path, side: int = 0) -> np.ndarray:
    """Return the sizes (shares, one lot each) of the adds of the AMZN day in ``data_dir``: every add (``side`` 0),
    or the bid's (+1) or the ask's (-1) only."""
    if side not in (-1, 0, 1):
        raise ParameterError(f"day_add_sizes: side must be -1 (ask), 0 (both) or +1 (bid); got {side!r}")
    events = _day_events(data_dir)
    adds = events["kind"].values == EventKind.ADD
    if side:
        adds &= events["side"].values == side
    return events["qty_lots"].values[adds].astype(np.int64)


def day_marketable_sizes(data_dir: str | Path) -> np.ndarray:
    """Return the sizes (shares) of the AMZN day's marketable orders: its fills (visible and hidden) summed over
    runs of one timestamp and one side (a level-1 file does not name the aggressor's order; one marketable order's
    fills share its arrival time)."""
    events = _day_events(data_dir)
    kind = events["kind"].values
    fills = np.isin(kind, (EventKind.TRADE, EventKind.TRADE_HIDDEN))
    ts, side = events["ts_ns"].values[fills], events["side"].values[fills]
    qty = events["qty_lots"].values[fills].astype(np.int64)
    first = np.concatenate([[True], (np.diff(ts) != 0) | (np.diff(side) != 0)])
    return np.add.reduceat(qty, np.flatnonzero(first))


def _day_events(data_dir: str | Path):
    from calibration.abm import AMZN_DAY
    from simlab.io.dataset import load_dataset

    return load_dataset(Path(data_dir) / AMZN_DAY)["events"]


def _print_law(prefix: str, sizes: np.ndarray, what: str) -> None:
    fitted, log_mean, log_sd = fit_size_mixture(sizes)
    print(f"# fitted to {sizes.size} {what} of the AMZN day (calibration.abm_sizes)")
    print(f"{prefix}size_weights = [{', '.join(f'{w:.6g}' for w in fitted)}]")
    print(f"{prefix}size_log_mean = {log_mean:.6g}")
    print(f"{prefix}size_log_sd = {log_sd:.6g}")


if __name__ == "__main__":  # python -m calibration.abm_sizes [DATA_DIR]
    folder = sys.argv[1] if len(sys.argv) > 1 else "../shared/data"
    print("[agents.market_maker]")
    _print_law("touch_", day_add_sizes(folder), "adds")
    print("# or one law a side: the bid's as touch_size_*, the ask's as touch_ask_size_*")
    _print_law("touch_", day_add_sizes(folder, 1), "bid adds")
    _print_law("touch_ask_", day_add_sizes(folder, -1), "ask adds")
    print("[agents.noise]")
    _print_law("", day_marketable_sizes(folder), "marketable orders (fills of one timestamp and side)")
