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
    print(target)
