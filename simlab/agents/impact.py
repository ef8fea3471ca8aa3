"""Market impact of metaorders in the agent-based market, measured with common random numbers.

For each seed, the market runs once without the metaorder (the baseline, to the same end as the others, plus a
whole day for the volume ``V``) and once per metaorder size with one execution agent; the two share every random
draw (see :mod:`simlab.agents.market`), so the difference of their
mids is the metaorder's impact, free of the market's own noise up to the agents' reactions. The impact at the end
of the metaorder (the peak) is regressed in logs on the size relative to the baseline's daily volume, ``Q / V``;
the square-root law predicts an exponent near 1/2 (0.49 in the TSE survey). After the metaorder the impact
relaxes toward a permanent level.
"""

from __future__ import annotations

import numbers
from dataclasses import replace

import numpy as np
import xarray as xr

from simlab.agents.config import ExecutionAgents, MarketConfig
from simlab.agents.market import CLASS_NAMES, forward_fill, simulate_abm
from simlab.errors import ParameterError


def metaorder_impact(
    config: MarketConfig,
    fractions: np.ndarray,
    *,
    seeds: list[int],
    start_s: float = 3600.0,
    duration_s: float = 3600.0,
    after_s: float = 1800.0,
    interval_s: float = 30.0,
    sample_s: float = 10.0,
    strategy: str = "twap",
    side: int = 1,
    participation: float | None = None,
) -> xr.Dataset:
    """Measure the impact of TWAP or POV metaorders (buys, or sells with ``side=-1``) of ``fractions`` of the daily
    volume, for each seed.

    Parameters
    ----------
    config
        The market (its execution table is replaced).
    fractions
        Metaorder sizes as fractions ``Q / V`` of the baseline's volume over the whole session.
    seeds
        Root seeds; each gives one baseline and one run per fraction.
    interval_s
        The execution agent's slice (TWAP: it works each metaorder evenly over ``duration_s``).
    strategy
        ``"twap"`` or ``"pov"``: a POV agent's participation is ``Q / (Q + v)`` with ``v`` the baseline's volume
        over ``[start_s, start_s + duration_s)`` (the baseline run to the metaorder runs' end), so that it would
        finish at the end of the window if the others' volume did not react (what it did is ``executed_lots``).
    participation
        POV only: run every metaorder at this one participation rate (in (0, 1)) instead, the textbook POV, so a
        larger metaorder takes longer; ``duration_s`` is then its cap. The peak is read at the first path sample at
        which the metaorder is done (at the cap if it is not: see ``executed_at_end_lots``), ``after_bps``
        ``after_s`` later, and ``completion_s`` records when; the window must lie on the path samples.
    start_s, duration_s, after_s
        Start of the metaorder after the open, its TWAP length (the cap under a fixed ``participation``), and the
        time watched after its end (s).
    sample_s
        Spacing of the mid paths compared (s).
    side
        +1 buy metaorders, -1 sell metaorders (a sell program); impacts are signed by it (> 0: the price moved
        against the metaorder).

    Returns
    -------
    xarray.Dataset
        ``impact_bps`` ``(seed, fraction, time)`` (``side (mid - baseline mid) / baseline mid``, bps, from the
        metaorder's start), ``peak_bps`` and ``after_bps`` ``(seed, fraction)`` (at the end of the metaorder and
        ``after_s`` later), ``completion_s`` (when the peak is read, from the start: ``duration_s`` but under a fixed
        ``participation``), ``executed_lots`` (every fill to the horizon: a child resting at the end can fill
        later), ``executed_at_end_lots`` (the metaorder's lots at its end's sample), ``participation``
        ``(seed, fraction)`` (the POV agent's share; TWAP does not read it), ``volume_lots`` and
        ``window_volume_lots`` ``(seed,)`` (the baseline's whole day and the paired baseline's metaorder window, the
        ``v`` of POV's share) and the fit's ``exponent`` with its 95 % bootstrap interval over seeds (attributes).
    """
    fractions = np.asarray(fractions, dtype=float)
    if fractions.ndim != 1 or fractions.size < 2 or not ((fractions > 0) & (fractions < 1)).all():
        raise ParameterError(f"`fractions` of metaorder_impact must be >= 2 numbers in (0, 1); got {fractions!r}")
    if strategy not in ("twap", "pov"):
        raise ParameterError(f"`strategy` of metaorder_impact must be 'twap' or 'pov'; got {strategy!r}")
    if side not in (1, -1):
        raise ParameterError(f"`side` of metaorder_impact must be +1 (buy) or -1 (sell); got {side!r}")
    if not sample_s > 0:
        raise ParameterError(f"`sample_s` of metaorder_impact must be > 0 seconds; got {sample_s!r}")
    if participation is not None:
        if strategy != "pov":
            raise ParameterError(
                f"`participation` of metaorder_impact applies to strategy 'pov' only; got it with {strategy!r}"
            )
        if isinstance(participation, bool) or not isinstance(participation, numbers.Real) or not 0 < participation < 1:
            raise ParameterError(
                f"`participation` of metaorder_impact must be a number in (0, 1); got {participation!r}"
            )
        times = {"start_s": start_s, "duration_s": duration_s, "after_s": after_s}
        off = [name for name, v in times.items() if abs(v / sample_s - round(v / sample_s)) > 1e-9]
        if off:
            raise ParameterError(
                f"`{off[0]}` of metaorder_impact must be a multiple of sample_s ({sample_s}) under a fixed "
                f"participation, so that the peak and the after reading fall on path samples; got {times[off[0]]!r}"
            )
    sample_ns = int(sample_s * 1e9)
    horizon = start_s + duration_s + after_s
    window = (start_s, duration_s, horizon, interval_s, strategy, side, participation, after_s)
    rows = [_one_seed(config, fractions, seed, window, sample_ns) for seed in seeds]
    impact, peak, after, executed, volume, during, shares, completion, at_end = (
        np.array([r[i] for r in rows]) for i in range(9)
    )
    time_s = np.arange(impact.shape[2]) * sample_s
    exponent, low, high, used = loglog_fit(fractions, peak)
    return xr.Dataset(
        {
            "impact_bps": (("seed", "fraction", "time"), impact),
            "peak_bps": (("seed", "fraction"), peak),
            "after_bps": (("seed", "fraction"), after),
            "executed_lots": (("seed", "fraction"), executed),
            "participation": (("seed", "fraction"), shares),
            "completion_s": (("seed", "fraction"), completion),
            "executed_at_end_lots": (("seed", "fraction"), at_end),
            "volume_lots": ("seed", volume),
            "window_volume_lots": ("seed", during),
        },
        coords={"seed": seeds, "fraction": fractions, "time_s": ("time", time_s)},
        attrs=dict(exponent=exponent, exponent_low=low, exponent_high=high, fractions_fitted=used,
                   strategy=strategy, side=side, start_s=start_s, duration_s=duration_s, after_s=after_s,
                   fixed_participation=-1.0 if participation is None else float(participation)),
    )  # fmt: skip


def _one_seed(config, fractions, seed, window, sample_ns):
    start_s, duration_s, horizon, interval_s, strategy, side, fixed, after_s = window
    idle = replace(config, execution=ExecutionAgents(count=0))
    # no run's books are read here: one level on the paths' grid keeps a day's memory small (the market is the same)
    lean = dict(path_sample_ns=sample_ns, depth=1, sample_ns=sample_ns)
    day = simulate_abm(idle, seed=seed, **lean)
    kind, qty = (day["events"][name].values for name in ("kind", "qty_lots"))
    volume = int(qty[kind == 5].sum())
    # the baseline of the mids runs to the same end as the metaorder's runs: the value agents forecast to the run's
    # end (its close), so a whole-day baseline would differ from them from the first looks on
    paired = simulate_abm(idle, seed=seed, duration_s=horizon, **lean)
    # POV's participation is sized on the others' volume in the window of that same baseline (in abm-amzn-v17 the
    # whole day's window volume was 0.77x and 1.98x it at seeds 300 and 301, and the POV agent executed 48-100 % of Q)
    ts, kind, qty = (paired["events"][name].values for name in ("ts_ns", "kind", "qty_lots"))
    lo, hi = (config.open_ns + int(round(s * 1e9)) for s in (start_s, start_s + duration_s))
    during = int(qty[(kind == 5) & (ts >= lo) & (ts < hi)].sum())
    base = forward_fill(paired["paths"]["mid_ticks"].values)  # the last mid where a side is empty
    first, end, later = (int(round(s * 1e9 / sample_ns)) for s in (start_s, start_s + duration_s, horizon))
    later_n = int(round(after_s * 1e9 / sample_ns))  # samples from the peak to the after reading
    execution = CLASS_NAMES.index("execution")
    impacts, peaks, afters, executed, shares, completion, at_end = [], [], [], [], [], [], []
    for fraction in fractions:
        quantity = max(1, round(fraction * volume))
        participation = min(0.99, quantity / (quantity + max(during, 1))) if fixed is None else fixed
        agent = ExecutionAgents(count=1, strategy=strategy, side=side, quantity_lots=quantity, start_s=start_s,
                                duration_s=duration_s, interval_s=interval_s, participation=participation)  # fmt: skip
        run = simulate_abm(replace(config, execution=agent), seed=seed, duration_s=horizon, **lean)
        mid = forward_fill(run["paths"]["mid_ticks"].values)
        path = side * (mid[first : later + 1] - base[first : later + 1]) / base[first : later + 1] * 1e4
        done = int(run["execution"]["executed_lots"].values[0])
        stop = end  # the metaorder's end: its schedule's, or under a fixed participation the first sample it is done
        held = side * run["paths"]["inventory_lots"].values[first : end + 1, execution]
        if fixed is not None:
            finished = held >= quantity
            stop = first + int(np.argmax(finished)) if finished.any() else end
        impacts.append(path)
        peaks.append(path[stop - first])
        afters.append(path[-1] if fixed is None else path[min(stop - first + later_n, path.size - 1)])
        executed.append(done)
        shares.append(participation)
        completion.append(duration_s if fixed is None else (stop - first) * sample_ns / 1e9)
        at_end.append(int(held[stop - first]))  # a child resting at the end can fill later: executed_lots counts it
    return (np.array(impacts), np.array(peaks), np.array(afters), np.array(executed), volume, during,
            np.array(shares), np.array(completion), np.array(at_end))  # fmt: skip


def predict_impact(
    result: xr.Dataset, fractions: np.ndarray, draws: int = 2000
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Peak impact (bps) that the power law fitted by :func:`metaorder_impact` predicts for metaorders of
    ``fractions`` of the volume: ``exp(a) (Q/V)^delta`` from the regression of log(mean peak impact) on log(Q/V),
    with its 95 % bootstrap interval over seeds (the same resampling as the exponent's). Returns (prediction,
    low, high), each shaped like ``fractions``.
    """
    fractions = np.asarray(fractions, dtype=float)
    fitted, peak = result["fraction"].values, result["peak_bps"].values
    slope, intercept = _law(fitted, peak)
    boot = np.array([_law(fitted, peak[p]) for p in _picks(peak.shape[0], draws)])
    curves = np.exp(boot[:, 1:2] + boot[:, 0:1] * np.log(fractions)[None, :])
    low, high = np.nanpercentile(curves, [2.5, 97.5], axis=0)
    return np.exp(intercept + slope * np.log(fractions)), low, high


def _picks(n_seeds: int, draws: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, n_seeds, size=(draws, n_seeds))


def _law(fractions: np.ndarray, peak: np.ndarray) -> tuple[float, float]:
    """Slope and intercept of log(mean peak impact over seeds) on log(Q/V); fractions whose mean impact is <= 0
    cannot enter a log and are left out (NaN with fewer than two left)."""
    mean = peak.mean(axis=0)
    keep = mean > 0
    if keep.sum() < 2:
        return np.nan, np.nan
    slope, intercept = np.polyfit(np.log(fractions[keep]), np.log(mean[keep]), 1)
    return float(slope), float(intercept)


def loglog_fit(fractions: np.ndarray, peak: np.ndarray, draws: int = 2000) -> tuple[float, float, float, int]:
    """The issue's regression of log impact on log(Q/V): the slope of log(mean peak over seeds) on log(Q/V) of
    :func:`_law` (sizes whose mean is <= 0 left out), its 95 % bootstrap interval over seeds (``draws`` resamples of
    the seeds, the same resamples for every caller) and the number of sizes fitted. ``peak`` is ``(seed, size)``."""
    boot = np.array([_law(fractions, peak[p])[0] for p in _picks(peak.shape[0], draws)])
    low, high = np.nanpercentile(boot, [2.5, 97.5])
    return _law(fractions, peak)[0], float(low), float(high), int((peak.mean(axis=0) > 0).sum())


def program_against_law(law: xr.Dataset, program: xr.Dataset, draws: int = 2000) -> xr.Dataset:
    """Compare the measured peak impact of metaorders (``program``, from :func:`metaorder_impact` on the same seeds
    and market) with what the power law fitted on ``law`` predicts for their sizes.

    The interval is a paired bootstrap over seeds: each resample refits the law and takes the programs' mean impact
    on the same seeds, so it holds both the law's uncertainty and the programs' own noise (common random numbers
    pair them). Returns ``measured_bps``, ``predicted_bps``, ``ratio`` (measured / predicted) and its 95 %
    interval ``ratio_low``, ``ratio_high`` per program fraction.
    """
    if list(law["seed"].values) != list(program["seed"].values):
        raise ParameterError("`program` of program_against_law must be measured on the law's seeds; got other seeds")
    fitted, peak, sizes = law["fraction"].values, law["peak_bps"].values, program["fraction"].values
    measured = program["peak_bps"].values

    def ratio(rows: np.ndarray) -> np.ndarray:
        slope, intercept = _law(fitted, peak[rows])
        return measured[rows].mean(axis=0) / np.exp(intercept + slope * np.log(sizes))

    boot = np.array([ratio(p) for p in _picks(peak.shape[0], draws)])
    low, high = np.nanpercentile(boot, [2.5, 97.5], axis=0)
    predicted = predict_impact(law, sizes, draws=1)[0]
    return xr.Dataset(
        {
            "measured_bps": ("fraction", measured.mean(axis=0)),
            "predicted_bps": ("fraction", predicted),
            "ratio": ("fraction", measured.mean(axis=0) / predicted),
            "ratio_low": ("fraction", low),
            "ratio_high": ("fraction", high),
        },
        coords={"fraction": sizes},
        attrs=dict(exponent=law.attrs["exponent"], side=program.attrs["side"]),
    )
