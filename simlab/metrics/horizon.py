"""Error against horizon: how the synthetic-vs-real distances evolve with the time since the data start.

Both datasets are cut into ``windows`` consecutive windows of equal duration, each measured from the dataset's own
first event (the horizon: seconds since the simulation started; a simulation started at the real data's start time
covers the same clock time in window ``k`` as the real data). The horizon spanned is the shorter of the two
datasets' spans, so both are cut at the same horizons; events past it are left out. In each window every
unconditional LOB-Bench quantity (:data:`simlab.metrics.lobbench.QUANTITIES`) is measured on both datasets and
compared with the ``l1`` and ``w1`` point distances of :mod:`simlab.metrics.distances` (point values, no intervals:
a window holds a fraction of the data, and the intervals belong to the full-span scores). A quantity a window
cannot measure, or measures on fewer than ``min_values`` values in either dataset, is left out of that window
(NaN), and the window's mean is over the quantities it scores.

A simulator that drifts away from the real data (a draining book, a run-away intensity) shows a rising curve; a
stationary one that matches shows a flat curve near the full-span score.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simlab.errors import ParameterError
from simlab.metrics import lobbench
from simlab.metrics._market import Market, NotApplicable
from simlab.metrics.distances import histogram_edges, total_variation, wasserstein_standardised

METRICS = ("l1", "w1")


def error_vs_horizon(real: Market, synthetic: Market, *, windows: int = 5, min_values: int = 10) -> dict[str, Any]:
    """Return the per-window ``l1`` and ``w1`` distances of every unconditional quantity (module docstring).

    Parameters
    ----------
    real, synthetic
        The two datasets' markets.
    windows
        Number of consecutive windows of equal duration (>= 2).
    min_values
        Fewest values a quantity needs in a window in each dataset to be scored there (>= 2).

    Returns
    -------
    dict
        ``edges_s`` (the window edges, seconds since each dataset's first event), ``quantities``, ``l1`` and ``w1``
        (n_quantities x windows; NaN where a window does not score a quantity), ``mean_l1`` and ``mean_w1`` (per
        window, over the quantities it scores; NaN where none) and ``scored`` (quantities scored per window).
    """
    if isinstance(windows, bool) or not isinstance(windows, (int, np.integer)) or windows < 2:
        raise ParameterError(f"`windows` of error_vs_horizon must be an int >= 2; got {windows!r}")
    if isinstance(min_values, bool) or not isinstance(min_values, (int, np.integer)) or min_values < 2:
        raise ParameterError(f"`min_values` of error_vs_horizon must be an int >= 2; got {min_values!r}")
    spans = [int(m.ts[-1] - m.ts[0]) if m.ts.size else 0 for m in (real, synthetic)]
    edges = np.linspace(0, min(spans), windows + 1).astype(np.int64)
    names = list(lobbench.QUANTITIES)
    values = {metric: np.full((len(names), windows), np.nan) for metric in METRICS}
    for k in range(windows):
        parts = [_window(m, edges[k], edges[k + 1], last=k == windows - 1) for m in (real, synthetic)]
        for i, name in enumerate(names):
            scored = _distances(*parts, lobbench.QUANTITIES[name], min_values)
            for metric in METRICS:
                values[metric][i, k] = scored.get(metric, np.nan)
    scored_per_window = np.isfinite(values["l1"]).sum(axis=0)
    out: dict[str, Any] = {"edges_s": (edges / 1e9).tolist(), "quantities": names}
    for metric in METRICS:
        with np.errstate(invalid="ignore"):
            mean = np.where(scored_per_window > 0, np.nansum(values[metric], axis=0) / scored_per_window, np.nan)
        out[metric] = values[metric]
        out[f"mean_{metric}"] = mean
    out["scored"] = scored_per_window.tolist()
    return out


def _window(m: Market, start_ns: int, end_ns: int, *, last: bool) -> Market | None:
    if m.ts.size < 2:
        return None
    offset = m.ts - m.ts[0]
    keep = (offset >= start_ns) & ((offset <= end_ns) if last else (offset < end_ns))
    return m.subset(keep) if keep.sum() >= 2 else None


def _distances(real: Market | None, synthetic: Market | None, quantity, min_values: int) -> dict[str, float]:
    if real is None or synthetic is None:
        return {}
    try:
        a, b = quantity(real), quantity(synthetic)
    except NotApplicable:
        return {}
    if min(a.size, b.size) < min_values:
        return {}
    edges = histogram_edges(a, b)
    counts = [np.histogram(x, edges)[0].astype(np.float64) for x in (a, b)]
    return {"l1": float(total_variation(*counts)), "w1": wasserstein_standardised(a, b)}
