"""Measure the square-root law in a calibrated agent market: metaorder impact by TWAP and POV with common random
numbers (:func:`simlab.agents.impact.metaorder_impact`), summarised with the decay after the metaorder.

``python -m calibration.abm_impact PRESET [N_SEEDS [frozen]]`` writes ``PRESET``'s ``.impact.json`` (with ``frozen``:
``.impact-frozen.json``, the fundamental held still: TWAP only) beside it and prints the power-law fits: per
strategy, the mean peak impact per ``Q / V`` with its standard error over seeds, the fitted exponent of log(mean
peak) on log(Q/V) with its 95 % bootstrap interval over seeds, the weighted power-law fit over every size with the
square-root law's chi-square (:func:`power_law_fit`), the decay after the end (:func:`decay_profile`: the transient
part decays, the level it reaches is the permanent part) and the impact ``after_s`` after the end.
``python -m calibration.abm_impact PRESET N_SEEDS absorb`` prints who takes the other side (:func:`absorption`);
``python -m calibration.abm_impact PRESET N_SEEDS from FIRST`` measures on seeds ``FIRST ..`` (held out);
``... from FIRST twap`` (or ``pov``) measures that strategy alone and writes ``.impact-twap.json``
(``.impact-pov.json``), so that one strategy can be measured on more seeds than the pair's budget allows.
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

FRACTIONS = np.geomspace(1e-4, 1e-1, 7)


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
        "volume_lots_mean": float(result["volume_lots"].values.mean()),
        "exponent": result.attrs["exponent"],
        "exponent_interval_95": [result.attrs["exponent_low"], result.attrs["exponent_high"]],
        "fractions_fitted": result.attrs["fractions_fitted"],
        "window": {k: result.attrs[k] for k in ("start_s", "duration_s", "after_s")},
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


def absorption(
    config: Any,
    fractions: np.ndarray,
    seeds: list[int],
    *,
    start_s: float = 3600.0,
    duration_s: float = 3600.0,
    interval_s: float = 30.0,
) -> dict[str, Any]:
    """Who takes the other side of a TWAP buy metaorder: per background class, the change of its inventory at the
    metaorder's end (metaorder run minus the run without it, common random numbers) as a share of ``Q``, per
    fraction ``Q / V`` of the baseline's whole-day volume; mean and standard error over seeds. The shares of all
    classes sum to minus the share executed (shares are conserved)."""
    classes = ("noise", "value", "market_maker", "momentum")
    horizon, sample_ns = start_s + duration_s, 10**10
    idle = replace(config, execution=ExecutionAgents(count=0))
    shares = np.zeros((len(seeds), len(fractions), len(classes)))
    executed = np.zeros((len(seeds), len(fractions)))
    for i, seed in enumerate(seeds):
        events = simulate_abm(idle, seed=seed)["events"]
        volume = int(events["qty_lots"].values[events["kind"].values == 5].sum())
        base = simulate_abm(idle, seed=seed, duration_s=horizon, path_sample_ns=sample_ns)["paths"]
        for j, fraction in enumerate(fractions):
            q = max(1, round(fraction * volume))
            buyer = ExecutionAgents(count=1, strategy="twap", side=1, quantity_lots=q, start_s=start_s,
                                    duration_s=duration_s, interval_s=interval_s)  # fmt: skip
            run = simulate_abm(
                replace(config, execution=buyer), seed=seed, duration_s=horizon, path_sample_ns=sample_ns
            )
            delta = run["paths"]["inventory_lots"].values[-1] - base["inventory_lots"].values[-1]
            shares[i, j] = delta[: len(classes)] / q
            executed[i, j] = delta[len(classes)] / q  # the execution class follows the background classes
    n = len(seeds)
    return {
        "fractions": list(map(float, fractions)),
        "classes": list(classes),
        "executed_share": executed.mean(axis=0).tolist(),
        "share_mean": shares.mean(axis=0).tolist(),
        "share_se": (shares.std(axis=0, ddof=1) / np.sqrt(n) if n > 1 else np.full(shares.shape[1:], np.nan)).tolist(),
    }


def _law_line(name: str, law: dict[str, Any]) -> str:
    low, high = law["delta_interval_95"]
    return (
        f"{name}: delta {law['delta']:.2f} [{low:.2f}, {high:.2f}]; sqrt law chi2 {law['chi2_sqrt_law']:.1f} "
        f"(p {law['p_sqrt_law']:.2g}); best delta in [0.4, 0.65] chi2 {law['chi2_band']:.1f} (p {law['p_band']:.2g})"
    )


def decay_profile(result: xr.Dataset, lags_s: tuple[float, ...] = (0.0, 300.0, 600.0, 1200.0, 1800.0)) -> dict:
    """Mean impact (bps) and its standard error over seeds ``lags_s`` after the metaorder's end, per size: the
    transient part is what decays, the level it decays to the permanent part."""
    time_s, impact = result["time_s"].values, result["impact_bps"].values
    end = result.attrs["duration_s"]
    lags = [lag for lag in lags_s if lag <= result.attrs["after_s"]]
    cols = [int(np.argmin(np.abs(time_s - (end + lag)))) for lag in lags]
    at = impact[:, :, cols]
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
) -> dict[str, Any]:
    """Run ``strategies``' metaorders (TWAP and POV) of :data:`FRACTIONS` in the preset's market (seeds
    ``first_seed`` .. ``first_seed + n_seeds - 1``: a ``first_seed`` past the seeds a setting was chosen on holds them
    out); with ``frozen``, TWAP only in the market whose fundamental is held still (volatility 1e-3 ticks / sqrt s,
    no megashocks), so that a changed look schedule leaves the value agents' target unchanged."""
    unknown = sorted(set(strategies) - set(STRATEGIES))
    if unknown or not strategies:
        raise DataError(f"`strategies` of measure must be a non-empty subset of {list(STRATEGIES)}; got {strategies}")
    config, _ = load_abm_preset(preset)
    if frozen:
        still = replace(config.fundamental, volatility_ticks_per_sqrt_s=1e-3, megashock_rate_per_s=1e-12)
        config = replace(config, fundamental=still)
    seeds = list(range(int(first_seed), int(first_seed) + int(n_seeds)))
    out = {"preset": Path(preset).stem, "fundamental": "frozen" if frozen else "as fitted"}
    if first_seed:
        out["first_seed"] = int(first_seed)
    for strategy in ("twap",) if frozen else strategies:
        out[strategy] = impact_summary(metaorder_impact(config, FRACTIONS, seeds=seeds, strategy=strategy))
    return out


def _main(argv: list[str]) -> None:
    path, n_seeds, mode = Path(argv[0]), int(argv[1]) if len(argv) > 1 else 32, argv[2:3]
    if mode == ["absorb"]:
        config, _ = load_abm_preset(path)
        print(json.dumps(absorption(config, np.array([1e-3, 1e-2, 10**-1.5, 1e-1]), list(range(n_seeds))), indent=1))
        return
    first = int(argv[3]) if mode == ["from"] else 0  # PRESET N_SEEDS from FIRST: held-out seeds FIRST, FIRST + 1, ..
    alone = argv[4:5] if mode == ["from"] else []  # ... from FIRST twap: that strategy alone
    strategies = tuple(alone) or STRATEGIES
    document = measure(path, n_seeds, frozen=mode == ["frozen"], first_seed=first, strategies=strategies)
    suffix = ".impact-frozen.json" if mode == ["frozen"] else f".impact-{alone[0]}.json" if alone else ".impact.json"
    target = path.with_name(path.stem + suffix)
    target.write_text(json.dumps(document, indent=1) + "\n")
    for name in ("twap", "pov"):
        if name in document:
            print(_law_line(name, document[name]["power_law"]))
    print(target)


if __name__ == "__main__":
    _main(sys.argv[1:])
