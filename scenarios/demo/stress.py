"""The demo's stress step: one library crash end to end (its fitted shock, a few paths, the shape statistics against
its template, a small fee-design and forecaster evaluation), one depeg's fee designs on its own StableSwap pool, and
the stress report of both."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scenarios.report_html import format_interval
from simlab.store import write_text_atomic

EPISODE = "crash_2010_05_06_emini"
PATHS = 4
DEPEG = "depeg_2023_03_usdc"
DEPEG_PATHS = 10
DEPEG_AMM_SPEC = """[amm]
designs = ["static", "volatility_linear", "oracle_gap", "curve_v2"]
"""
AMM_SPEC = """[amm]
designs = ["static", "volatility_tiers", "oracle_gap", "surge"]
before_s = 600.0
after_s = 1200.0
replay = "{replay}"
"""
FORECAST_SPEC = """[forecast]
models = ["mean", "persistence", "ewma", "ar"]
window_s = 10.0
crash_window_s = 600.0
normal_s = 3600.0
paths = 2
"""


def stress_step(demo: Any, data_dir: Path | None = None) -> dict[str, Any]:
    """Run the 2010 E-mini crash: its stored fit (``simlab stress fit``), ``PATHS`` paths into a stress store, the
    evaluation (4 fee designs, 4 forecasters on 2 re-simulated paths, the v3 replay with real data) and the report
    ``stress_report/report.html``; return the shape against the template and the verdicts."""
    from scenarios.stress.episodes import load_episode
    from scenarios.stress.evaluate import V3_SWAPS, evaluate_store
    from scenarios.stress.report import design_verdict, forecaster_verdict, write_report
    from scenarios.stress.run import run_stress, shock_values, within_tolerance
    from simlab.metrics.crash import STATISTICS, interval_table
    from simlab.store import load_store

    episode = load_episode(EPISODE)
    values = shock_values(episode, None)  # the stored fit; without one, crashlib's sentence says how to make it
    store, rows = run_stress(episode, demo.output / "stress_crash.zarr", n_paths=PATHS, seed=demo.seed,
                             values=values, overwrite=True)  # fmt: skip
    folder = demo.output / "stress_report"
    folder.mkdir(exist_ok=True)
    replay = V3_SWAPS if data_dir is not None and (Path(data_dir) / V3_SWAPS).is_file() else ""
    write_text_atomic(folder / "amm.toml", AMM_SPEC.format(replay=replay))
    write_text_atomic(folder / "forecast.toml", FORECAST_SPEC)
    result = evaluate_store(store, demo.output / "stress_eval.zarr", forecasters=folder / "forecast.toml",
                            amm=folder / "amm.toml", data_dir=data_dir, overwrite=True)  # fmt: skip
    depeg, depeg_metrics = depeg_step(demo, folder)
    report = write_report([result, depeg], folder / "report.html")
    intervals = interval_table([dict(zip(STATISTICS, row, strict=True)) for row in rows])
    template = episode.spec.template
    change = load_store(result, "amm_change")["value"].sel(statistic="lp_pnl")
    skill = load_store(result, "forecast")["summary"].sel(metric="skill")
    metrics: dict[str, Any] = {
        "about": f"The {EPISODE} episode of the crash library run end to end: {PATHS} paths of the calibrated "
        "agent market with its stored fitted shock (simlab stress fit); its drawdown and time to trough (mean [95 % "
        "interval] over paths) against the template's value +- tolerance; then 4 fee designs (LP P&L change, crash "
        "minus the paired normal day, bps) and 4 forecasters (skill normal -> crash) with their verdicts; the full "
        "page is stress_report/report.html.",
        "shock values": ", ".join(f"{k} = {v:.4g}" for k, v in values.items()),
    }
    for name in ("drawdown", "time_to_trough_s"):
        mean, lo, hi, _ = intervals[name]
        metrics[f"{name}: simulated vs template"] = (
            f"{format_interval(mean, lo, hi)} vs {template[name].value:g} +- {template[name].tolerance:g}"
        )
    metrics["paths within tolerance (drawdown and time to trough)"] = f"{within_tolerance(episode, rows).mean():.0%}"
    for k, design in enumerate(change["design_short"].values):
        row = change.isel(design=k).values
        metrics[f"fee design {design}: LP P&L change (bps)"] = f"{format_interval(*row, digits='.3g')}: " + (
            design_verdict(row)
        )
    for model in skill.model.values:
        pair = skill.sel(model=model).values
        metrics[f"forecaster {model}: skill normal -> crash"] = (
            f"{format_interval(*pair[0], digits='.3g')} -> {format_interval(*pair[1], digits='.3g')}: "
            + forecaster_verdict(pair[0], pair[1])
        )
    metrics.update(depeg_metrics)
    metrics["report"] = str(report.relative_to(demo.output))
    return metrics


def depeg_step(demo: Any, folder: Path) -> tuple[Path, dict[str, str]]:
    """Run ``DEPEG_PATHS`` paths of the USDC depeg's peg run and 4 fee designs on its own StableSwap pool (crash
    minus the peg held); return the evaluation store and its LP P&L changes with their verdicts."""
    from scenarios.stress.episodes import load_episode
    from scenarios.stress.evaluate import evaluate_store
    from scenarios.stress.report import design_verdict
    from scenarios.stress.run import run_stress, shock_values
    from simlab.store import load_store

    episode = load_episode(DEPEG)
    store, _ = run_stress(episode, demo.output / "stress_depeg.zarr", n_paths=DEPEG_PATHS, seed=demo.seed,
                          world="amm", values=shock_values(episode, None), overwrite=True)  # fmt: skip
    write_text_atomic(folder / "amm_depeg.toml", DEPEG_AMM_SPEC)
    result = evaluate_store(store, demo.output / "stress_depeg_eval.zarr", forecasters=None,
                            amm=folder / "amm_depeg.toml", overwrite=True)  # fmt: skip
    change = load_store(result, "amm_change")["value"].sel(statistic="lp_pnl")
    metrics = {}
    for k, design in enumerate(change["design_short"].values):
        row = change.isel(design=k).values
        metrics[f"{DEPEG} on its StableSwap pool, {design}: LP P&L change (bps)"] = (
            f"{format_interval(*row, digits='.3g')}: " + design_verdict(row)
        )
    return result, metrics
