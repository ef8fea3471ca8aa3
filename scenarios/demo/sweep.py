"""The demo's sweep step: a small AMM fee-by-volatility grid through the Dask sweep runner on two workers."""

from __future__ import annotations

from typing import Any

SPEC = """# The demo's sweep: static fee x volatility, 100 paths of 2 h of 12 s blocks per point.
[sweep]
name = "demo-fee-volatility"
job = "amm"
seed = {seed}
paths = 100
metrics = ["hedged_lp_pnl", "lvr", "fees_arb"]

[parameters]
design = "static"
fee = [0.0005, 0.001, 0.003, 0.01]
volatility = [0.3, 1.2]
blocks = 600
pool_value = 10_000_000.0
"""


def sweep_step(demo: Any) -> dict[str, Any]:
    """Run 4 static fees x 2 volatilities (100 paths x 600 blocks each) through the sweep runner on a local cluster
    of two worker processes into ``sweep_amm.zarr``; report the counts, the scheduling, the best fee per volatility
    and whether one point equals the same job run in this process."""
    import numpy as np
    import xarray as xr

    from scenarios.amm.sweep import amm_job
    from scenarios.sweep.design import point_seeds
    from scenarios.sweep.runner import run_sweep_spec

    spec = demo.output / "sweep_amm.toml"
    spec.write_text(SPEC.format(seed=demo.seed))
    result = run_sweep_spec(spec, demo.output / "sweep_amm.zarr", workers=2, overwrite=True)
    ds = xr.open_zarr(demo.output / "sweep_amm.zarr", consolidated=False).load()
    pnl_bps = ds["hedged_lp_pnl"].mean("path") * 1e4 / 1e7
    metrics: dict[str, Any] = {
        "points done / failed / pending": f"{result.done} / {result.failed} / {result.pending}",
        "workers, tasks, points per task": f"{result.workers}, {result.tasks}, {result.batch_points}",
        "cluster start / run (s)": f"{result.connect_s:.1f} / {result.run_s:.1f}",
    }
    for volatility in ds["volatility"].values:
        best = pnl_bps.sel(volatility=volatility)
        metrics[f"best static fee at volatility {volatility:g}"] = (
            f"{float(best['fee'][int(np.argmax(best.values))]):g} ({float(best.max()):+.2f} bps hedged LP P&L)"
        )
    direct = amm_job(point_seeds(demo.seed, 8)[0], 100, design="static", fee=0.0005, volatility=0.3, blocks=600,
                     pool_value=1e7)  # fmt: skip
    same = np.array_equal(direct["lvr"].values, ds["lvr"].sel(fee=0.0005, volatility=0.3).values)
    metrics["first point equals the job run in process"] = str(same)
    return metrics
