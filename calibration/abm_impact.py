"""Measure the square-root law in a calibrated agent market: metaorder impact by TWAP and POV with common random
numbers (:func:`simlab.agents.impact.metaorder_impact`), summarised with the decay after the metaorder.

``python -m calibration.abm_impact PRESET [N_SEEDS [frozen]]`` writes ``PRESET``'s ``.impact.json`` (with ``frozen``:
``.impact-frozen.json``, the fundamental held still: TWAP only) beside it: per strategy,
the mean peak impact per ``Q / V`` with its standard error over seeds, the fitted exponent of log(mean peak) on
log(Q/V) with its 95 % bootstrap interval over seeds, and the impact ``after_s`` after the metaorder's end (the
permanent part) against the peak (the transient part is their difference).
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


def measure(preset: str | Path, n_seeds: int = 32, *, frozen: bool = False) -> dict[str, Any]:
    """Run TWAP and POV metaorders of :data:`FRACTIONS` in the preset's market (seeds 0 .. n_seeds - 1); with
    ``frozen``, TWAP only in the market whose fundamental is held still (volatility 1e-3 ticks / sqrt s, no
    megashocks), so that a changed look schedule leaves the value agents' target unchanged."""
    config, _ = load_abm_preset(preset)
    if frozen:
        still = replace(config.fundamental, volatility_ticks_per_sqrt_s=1e-3, megashock_rate_per_s=1e-12)
        config = replace(config, fundamental=still)
    seeds = list(range(int(n_seeds)))
    out = {"preset": Path(preset).stem, "fundamental": "frozen" if frozen else "as fitted"}
    for strategy in ("twap",) if frozen else ("twap", "pov"):
        out[strategy] = impact_summary(metaorder_impact(config, FRACTIONS, seeds=seeds, strategy=strategy))
    return out


if __name__ == "__main__":
    path, frozen = Path(sys.argv[1]), sys.argv[3:4] == ["frozen"]
    document = measure(path, int(sys.argv[2]) if len(sys.argv) > 2 else 32, frozen=frozen)
    target = path.with_name(path.stem + (".impact-frozen.json" if frozen else ".impact.json"))
    target.write_text(json.dumps(document, indent=1) + "\n")
    for name in ("twap", "pov"):
        if name in document:
            print(_law_line(name, document[name]["power_law"]))
    print(target)
