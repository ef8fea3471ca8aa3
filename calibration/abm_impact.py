"""Measure the square-root law in a calibrated agent market: metaorder impact by TWAP and POV with common random
numbers (:func:`simlab.agents.impact.metaorder_impact`), summarised with the decay after the metaorder.

``python -m calibration.abm_impact PRESET [N_SEEDS [frozen]]`` writes ``PRESET``'s ``.impact.json`` (with ``frozen``:
``.impact-frozen.json``, the fundamental held still: TWAP only) beside it and prints the power-law fits: per
strategy, the mean peak impact per ``Q / V`` with its standard error over seeds, the fitted exponent of log(mean
peak) on log(Q/V) with its 95 % bootstrap interval over seeds, the weighted power-law fit over every size with the
square-root law's chi-square (:func:`power_law_fit`), the decay after the end (:func:`decay_profile`: the transient
part decays, the level it reaches is the permanent part) and the impact ``after_s`` after the end.
``python -m calibration.abm_impact PRESET N_SEEDS absorb [from FIRST] [out FILE.json]`` prints who takes the other
side (:func:`absorption`) on seeds ``FIRST ..`` (0 by default) and, with ``out``, writes the summary with every
seed's row to ``FILE.json`` after each seed;
``python -m calibration.abm_impact PRESET N_SEEDS from FIRST`` measures on seeds ``FIRST ..`` (held out);
``... from FIRST twap`` (or ``pov``) measures that strategy alone and writes ``.impact-twap.json``
(``.impact-pov.json``), so that one strategy can be measured on more seeds than the pair's budget allows;
``... from FIRST pov ETA`` runs every metaorder at the one participation ``ETA`` (the textbook POV: a larger
metaorder takes longer, capped at :data:`FIXED_CAP_S`; docs/agents_pov_fixed.md) and writes ``.impact-pov-ETA.json``.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from calibration.abm import load_abm_preset
from simlab.agents import ExecutionAgents, simulate_abm
from simlab.agents.impact import metaorder_impact
from simlab.errors import DataError
from simlab.store import write_text_atomic

FRACTIONS = np.geomspace(1e-4, 1e-1, 7)
FIXED_CAP_S = 14400.0  # the cap of a fixed-participation POV metaorder: 4 h from 10:30 (docs/agents_pov_fixed.md)


def impact_summary(result: xr.Dataset) -> dict[str, Any]:
    """Summarise a :func:`metaorder_impact` result: per fraction the mean peak and after impact (bps) with their
    standard errors over seeds, the share executed, and the fit's exponent with its interval."""
    n = result.sizes["seed"]
    peak, after = result["peak_bps"].values, result["after_bps"].values
    target = np.maximum(1.0, np.rint(result["fraction"].values[None, :] * result["volume_lots"].values[:, None]))
    return {
        "strategy": result.attrs["strategy"],
        "seeds": n,
        "fractions": result["fraction"].values.tolist(),
        "peak_bps": peak.mean(axis=0).tolist(),
        "peak_se_bps": (peak.std(axis=0, ddof=1) / np.sqrt(n)).tolist(),
        "after_bps": after.mean(axis=0).tolist(),
        "after_se_bps": (after.std(axis=0, ddof=1) / np.sqrt(n)).tolist(),
        "executed_share": (result["executed_lots"].values / target).mean(axis=0).tolist(),
        "executed_at_end_share": (result["executed_at_end_lots"].values / target).mean(axis=0).tolist(),
        # the share of metaorders done by their end's sample (a fixed-rate POV read at its cap counts 0)
        "done_share": (result["executed_at_end_lots"].values >= target).mean(axis=0).tolist(),
        "volume_lots_mean": float(result["volume_lots"].values.mean()),
        "exponent": result.attrs["exponent"],
        "exponent_interval_95": [result.attrs["exponent_low"], result.attrs["exponent_high"]],
        "fractions_fitted": result.attrs["fractions_fitted"],
        "window": {k: result.attrs[k] for k in ("start_s", "duration_s", "after_s")},
        "completion_s": result["completion_s"].values.mean(axis=0).tolist(),
        "power_law": power_law_fit(result["fraction"].values, peak),
        "decay": decay_profile(result),
        "peak_bps_per_seed": peak.tolist(),
    }


def _weighted_law(fractions: np.ndarray, mean: np.ndarray, se: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Chi-square of ``mean ~ Y fractions^delta`` (weights ``1 / se^2``) at each ``delta`` of ``grid``, ``Y`` fitted."""
    x = fractions[None, :] ** grid[:, None]
    w = 1.0 / se**2
    y = (w * x * mean).sum(axis=1) / (w * x * x).sum(axis=1)
    return (w * (mean - y[:, None] * x) ** 2).sum(axis=1)


def power_law_fit(fractions: np.ndarray, peak: np.ndarray, draws: int = 1000) -> dict[str, Any]:
    """Fit ``I = Y (Q/V)^delta`` to the mean peak impact of every size, by weighted least squares in bps (weights the
    inverse squared standard errors over seeds), so that sizes whose mean is 0 or negative count too (a log fit must
    drop them).

    Returns ``delta`` with its 95 % bootstrap interval over seeds (the weights kept), ``Y`` (bps), the chi-square at
    the best ``delta`` and at the best ``Y`` for ``delta = 0.5`` (the square-root law) and ``delta`` in [0.4, 0.65]
    (the issue's band: the smallest chi-square over it), each with its p-value against ``sizes - 1`` degrees of
    freedom (``Y`` fitted; seeds are shared across sizes, so the p-values are indicative).
    """
    from scipy import stats

    grid = np.linspace(0.05, 3.0, 591)
    n = peak.shape[0]
    se = peak.std(axis=0, ddof=1) / np.sqrt(n) if n > 1 else np.zeros(peak.shape[1])
    if not (se > 0).all():
        raise DataError(f"power_law_fit needs a standard error > 0 at every size (>= 2 seeds that differ); got {se!r}")
    chi = _weighted_law(fractions, peak.mean(axis=0), se, grid)
    best = int(np.argmin(chi))
    rng = np.random.default_rng(0)
    boot = [grid[np.argmin(_weighted_law(fractions, peak[rng.integers(0, n, n)].mean(axis=0), se, grid))]
            for _ in range(draws)]  # fmt: skip
    x = fractions ** grid[best]
    w = 1.0 / se**2
    dof = fractions.size - 1
    band = (grid >= 0.4 - 1e-9) & (grid <= 0.65 + 1e-9)
    sqrt_chi = float(_weighted_law(fractions, peak.mean(axis=0), se, np.array([0.5]))[0])
    return {
        "delta": float(grid[best]),
        "delta_interval_95": [float(v) for v in np.percentile(boot, [2.5, 97.5])],
        "Y_bps": float((w * x * peak.mean(axis=0)).sum() / (w * x * x).sum()),
        "chi2": float(chi[best]),
        "chi2_sqrt_law": sqrt_chi,
        "p_sqrt_law": float(stats.chi2.sf(sqrt_chi, dof)),
        "chi2_band": float(chi[band].min()),
        "p_band": float(stats.chi2.sf(chi[band].min(), dof)),
        "dof": dof,
    }


ABSORB_FRACTIONS = np.array([1e-3, 1e-2, 10**-1.5, 1e-1])
ABSORB_CLASSES = ("noise", "value", "market_maker", "momentum")


def _absorb_seed(config: Any, fractions: np.ndarray, seed: int, window: tuple[float, float, float]) -> dict:
    """One seed of :func:`absorption`: the baseline (no metaorder) and one TWAP buy per fraction, common random
    numbers; per fraction the classes' inventory changes and their passive / aggressive net sales over the window
    from the metaorder's start to its end (run minus baseline, shares of ``Q``), the makers' deepest short
    position in the window (share of ``Q``), and the mean quoted spread and ask depth (10 levels) in the window."""
    from simlab.agents.config import CLASS_ORDER

    start_s, duration_s, interval_s = window
    horizon, sample_ns, book_ns = start_s + duration_s, 10**10, 10**9
    idle = replace(config, execution=ExecutionAgents(count=0))
    events = simulate_abm(idle, seed=seed)["events"]
    volume = int(events["qty_lots"].values[events["kind"].values == 5].sum())
    lo, hi = (config.open_ns + int(round(s * 1e9)) for s in (start_s, horizon))
    classes = (*ABSORB_CLASSES, "execution")
    n_classes = len(classes)

    def flows(run: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
        """Net lots bought per class in the window (passive, aggressive), the makers' inventory path in it, and the
        window's mean quoted spread (ticks) and ask depth (lots)."""
        ev = run["events"]
        ts, kind, side, qty = (ev[name].values for name in ("ts_ns", "kind", "side", "qty_lots"))
        agent, passive = ev["agent_id"].values, ev["passive_agent_id"].values
        owners = np.repeat(np.arange(len(CLASS_ORDER)), ev.attrs["agent_counts"])  # ids follow CLASS_ORDER
        trade = (kind == 5) & (ts >= lo) & (ts < hi)
        bought = np.zeros((2, n_classes))
        for row, (who, sign) in enumerate(((passive, -1), (agent, 1))):  # the passive side is the aggressor's other
            known = trade & (who >= 0)
            cls = owners[who[known]]
            keep = cls < n_classes
            np.add.at(bought[row], cls[keep], (sign * side[known] * qty[known])[keep])
        paths = run["paths"]
        ts_path = paths["ts_ns"].values
        inside = (ts_path >= lo) & (ts_path <= hi)
        maker = paths["inventory_lots"].values[inside, CLASS_ORDER.index("market_maker")]
        books = run["books"]
        bt = books["ts_ns"].values
        b_in = (bt >= lo) & (bt < hi)
        bid, ask = books["bid_price"].values[b_in, 0], books["ask_price"].values[b_in, 0]
        quoted = (bid > 0) & (ask > 0) & (ask > bid) & (ask < 2**40)
        spread = float(np.mean(ask[quoted] - bid[quoted])) if quoted.any() else np.nan
        depth = float(books["ask_qty"].values[b_in].sum(axis=1).mean()) if b_in.any() else np.nan
        return bought[0], bought[1], maker, spread, depth

    common = dict(seed=seed, duration_s=horizon, path_sample_ns=sample_ns, sample_ns=book_ns)
    base = simulate_abm(idle, **common)
    b_passive, b_aggressive, b_maker, b_spread, b_depth = flows(base)
    b_inventory = base["paths"]["inventory_lots"].values[-1]
    row: dict[str, Any] = {"seed": int(seed), "volume_lots": volume, "quantity_lots": [], "inventory_share": [],
                           "executed_share": [], "passive_sold_share": [], "aggressive_sold_share": [],
                           "maker_short_share": [], "spread_ticks": [], "ask_depth_lots": [],
                           "baseline_spread_ticks": b_spread, "baseline_ask_depth_lots": b_depth}  # fmt: skip
    for fraction in fractions:
        q = max(1, round(float(fraction) * volume))
        buyer = ExecutionAgents(count=1, strategy="twap", side=1, quantity_lots=q, start_s=start_s,
                                duration_s=duration_s, interval_s=interval_s)  # fmt: skip
        run = simulate_abm(replace(config, execution=buyer), **common)
        delta = run["paths"]["inventory_lots"].values[-1] - b_inventory
        passive, aggressive, maker, spread, depth = flows(run)
        steps = min(maker.size, b_maker.size)
        row["quantity_lots"].append(q)
        row["inventory_share"].append((delta[: len(ABSORB_CLASSES)] / q).tolist())
        row["executed_share"].append(float(delta[len(ABSORB_CLASSES)] / q))  # execution follows the background
        row["passive_sold_share"].append((-(passive - b_passive) / q).tolist())
        row["aggressive_sold_share"].append((-(aggressive - b_aggressive) / q).tolist())
        row["maker_short_share"].append(float(-(maker[:steps] - b_maker[:steps]).min() / q))
        row["spread_ticks"].append(spread)
        row["ask_depth_lots"].append(depth)
    row["flow_classes"] = list(classes)
    return row


def absorption_summary(rows: list[dict], fractions: np.ndarray) -> dict[str, Any]:
    """Means and standard errors over seeds of :func:`_absorb_seed`'s rows (NaN standard errors with one seed)."""
    n = len(rows)

    def stats(name: str) -> tuple[list, list]:
        values = np.array([r[name] for r in rows], dtype=float)
        se = values.std(axis=0, ddof=1) / np.sqrt(n) if n > 1 else np.full(values.shape[1:], np.nan)
        return values.mean(axis=0).tolist(), se.tolist()

    out: dict[str, Any] = {"fractions": list(map(float, fractions)), "classes": list(ABSORB_CLASSES),
                           "flow_classes": rows[0]["flow_classes"], "seeds": [r["seed"] for r in rows]}  # fmt: skip
    out["executed_share"] = stats("executed_share")[0]
    out["share_mean"], out["share_se"] = stats("inventory_share")
    for name in ("passive_sold_share", "aggressive_sold_share", "maker_short_share", "spread_ticks",
                 "ask_depth_lots", "baseline_spread_ticks", "baseline_ask_depth_lots"):  # fmt: skip
        out[name], out[name + "_se"] = stats(name)
    out["per_seed"] = rows
    return out


def absorption(
    config: Any,
    fractions: np.ndarray,
    seeds: list[int],
    *,
    start_s: float = 3600.0,
    duration_s: float = 3600.0,
    interval_s: float = 30.0,
    on_seed: Any = None,
) -> dict[str, Any]:
    """Who takes the other side of a TWAP buy metaorder: per background class, the change of its inventory at the
    metaorder's end (metaorder run minus the run without it, common random numbers) as a share of ``Q``, per
    fraction ``Q / V`` of the baseline's whole-day volume; mean and standard error over seeds. The shares of all
    classes sum to minus the share executed (shares are conserved).

    Also per class (the execution agent last) its net sales during the metaorder split into passive (its resting
    orders hit) and aggressive (its orders that crossed), the market makers' deepest short position during the
    metaorder beyond the baseline's (share of ``Q``), and the window's mean quoted spread and 10-level ask depth
    (1-s book samples) beside the baseline's. ``on_seed(summary)``, when given, is called after each seed with the
    summary so far (to save a long run as it goes)."""
    rows = []
    for seed in seeds:
        rows.append(_absorb_seed(config, np.asarray(fractions, dtype=float), seed, (start_s, duration_s, interval_s)))
        if on_seed is not None:
            on_seed(absorption_summary(rows, fractions))
    return absorption_summary(rows, fractions)


def _law_line(name: str, law: dict[str, Any]) -> str:
    low, high = law["delta_interval_95"]
    return (
        f"{name}: delta {law['delta']:.2f} [{low:.2f}, {high:.2f}]; sqrt law chi2 {law['chi2_sqrt_law']:.1f} "
        f"(p {law['p_sqrt_law']:.2g}); best delta in [0.4, 0.65] chi2 {law['chi2_band']:.1f} (p {law['p_band']:.2g})"
    )


def decay_profile(result: xr.Dataset, lags_s: tuple[float, ...] = (0.0, 300.0, 600.0, 1200.0, 1800.0)) -> dict:
    """Mean impact (bps) and its standard error over seeds ``lags_s`` after the metaorder's end (a fixed-rate POV's:
    when each was done, ``completion_s``), per size: the transient part is what decays, the level it decays to the
    permanent part."""
    time_s, impact = result["time_s"].values, result["impact_bps"].values
    fixed = result.attrs["fixed_participation"] > 0  # each metaorder's end: a fixed-rate POV's when it was done
    end = np.broadcast_to(result["completion_s"].values if fixed else result.attrs["duration_s"], impact.shape[:2])
    lags = [lag for lag in lags_s if lag <= result.attrs["after_s"]]
    cols = np.stack([np.abs(time_s - (end[..., None] + lag)).argmin(axis=-1) for lag in lags], axis=-1)
    at = np.take_along_axis(impact, cols, axis=2)
    n = impact.shape[0]
    return {
        "lags_s": lags,
        "mean_bps": at.mean(axis=0).tolist(),
        "se_bps": (at.std(axis=0, ddof=1) / np.sqrt(n)).tolist(),
    }


STRATEGIES = ("twap", "pov")


def measure(
    preset: str | Path,
    n_seeds: int = 32,
    *,
    frozen: bool = False,
    first_seed: int = 0,
    strategies: tuple[str, ...] = STRATEGIES,
    participation: float | None = None,
) -> dict[str, Any]:
    """Run ``strategies``' metaorders (TWAP and POV) of :data:`FRACTIONS` in the preset's market (seeds
    ``first_seed`` .. ``first_seed + n_seeds - 1``: a ``first_seed`` past the seeds a setting was chosen on holds them
    out); with ``frozen``, TWAP only in the market whose fundamental is held still (volatility 1e-3 ticks / sqrt s,
    no megashocks), so that a changed look schedule leaves the value agents' target unchanged; with
    ``participation``, POV alone at that one rate, capped at :data:`FIXED_CAP_S`."""
    unknown = sorted(set(strategies) - set(STRATEGIES))
    if unknown or not strategies:
        raise DataError(f"`strategies` of measure must be a non-empty subset of {list(STRATEGIES)}; got {strategies}")
    if participation is not None and (frozen or tuple(strategies) != ("pov",)):
        raise DataError(
            f"`participation` of measure needs strategies=('pov',) and frozen=False; got strategies="
            f"{tuple(strategies)}, frozen={frozen}"
        )
    config, _ = load_abm_preset(preset)
    if frozen:
        still = replace(config.fundamental, volatility_ticks_per_sqrt_s=1e-3, megashock_rate_per_s=1e-12)
        config = replace(config, fundamental=still)
    seeds = list(range(int(first_seed), int(first_seed) + int(n_seeds)))
    out = {"preset": Path(preset).stem, "fundamental": "frozen" if frozen else "as fitted"}
    if first_seed:
        out["first_seed"] = int(first_seed)
    fixed = {} if participation is None else {"participation": participation, "duration_s": FIXED_CAP_S}
    for strategy in ("twap",) if frozen else strategies:
        out[strategy] = impact_summary(metaorder_impact(config, FRACTIONS, seeds=seeds, strategy=strategy, **fixed))
    if participation is not None:
        out["pov"]["participation"] = float(participation)
    return out


def _write_json(path: Path, document: dict[str, Any]) -> None:
    """Write ``document`` as JSON atomically, so a killed run leaves the previous file whole."""
    write_text_atomic(path, json.dumps(document, indent=1) + "\n")


def _main(argv: list[str]) -> None:
    if not argv:
        raise DataError("abm_impact takes PRESET [N_SEEDS ...]; got no argument")
    if len(argv) > 1 and not (argv[1].isdecimal() and int(argv[1]) >= 1):
        raise DataError(f"abm_impact's N_SEEDS (after PRESET) must be a count, an integer >= 1; got {argv[1]!r}")
    path, n_seeds, mode = Path(argv[0]), int(argv[1]) if len(argv) > 1 else 32, argv[2:3]
    if mode == ["absorb"]:  # PRESET N_SEEDS absorb [from FIRST] [out FILE.json]
        if len(argv[3:]) % 2 or set(argv[3::2]) - {"from", "out"}:
            raise DataError(f"absorb takes `from FIRST` and `out FILE.json` after it; got {argv[3:]}")
        options = dict(zip(argv[3::2], argv[4::2], strict=True))
        if not options.get("from", "0").isdecimal():
            raise DataError(
                f"abm_impact's FIRST (after `from`) must be a seed, an integer >= 0; got {options['from']!r}"
            )
        config, _ = load_abm_preset(path)
        first = int(options.get("from", 0))
        out = Path(options["out"]) if "out" in options else None

        def save(summary: dict) -> None:
            if out is not None:
                _write_json(out, summary)

        summary = absorption(config, ABSORB_FRACTIONS, list(range(first, first + n_seeds)), on_seed=save)
        print(json.dumps({k: v for k, v in summary.items() if k != "per_seed"}, indent=1))
        return
    alone = argv[4:5] if mode == ["from"] else []  # ... from FIRST twap: that strategy alone
    eta = argv[5:6] if alone == ["pov"] else []  # ... from FIRST pov ETA: one participation for every size
    used = 2 + len(mode) + (mode == ["from"]) + len(alone) + len(eta)
    if mode not in ([], ["frozen"], ["from"]) or len(argv) > 1 and len(argv) != used:
        raise DataError(f"abm_impact takes PRESET [N_SEEDS [frozen | absorb ... | from FIRST [twap | pov [ETA]]]]; "
                        f"got {argv[1:]}")  # fmt: skip
    if mode == ["from"] and not argv[3].isdecimal():
        raise DataError(f"abm_impact's FIRST (after `from`) must be a seed, an integer >= 0; got {argv[3]!r}")
    first = int(argv[3]) if mode == ["from"] else 0  # PRESET N_SEEDS from FIRST: held-out seeds FIRST, FIRST + 1, ..
    strategies = tuple(alone) or STRATEGIES
    participation = _rate(eta[0]) if eta else None
    kwargs = {"participation": participation} if eta else {}
    document = measure(path, n_seeds, frozen=mode == ["frozen"], first_seed=first, strategies=strategies, **kwargs)
    name = f"{alone[0]}-{participation!r}" if eta else alone[0] if alone else ""
    suffix = ".impact-frozen.json" if mode == ["frozen"] else f".impact-{name}.json" if alone else ".impact.json"
    target = path.with_name(path.stem + suffix)
    _write_json(target, document)
    for name in ("twap", "pov"):
        if name in document:
            print(_law_line(name, document[name]["power_law"]))
    print(target)


def _rate(text: str) -> float:
    """The ETA of ``... pov ETA``: a number in (0, 1)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < 1:
        raise DataError(f"abm_impact's POV participation ETA must be a number in (0, 1); got {text!r}")
    return value


if __name__ == "__main__":
    _main(sys.argv[1:])
