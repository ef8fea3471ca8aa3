"""The demo's forecasting step: the benchmark's smoke spec on the BTCUSDT preset (and on one real Binance BTCUSDT
capture when the data is there), with the leakage audit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

REAL_FILE = "binance_ws_l2_trades_hftbacktest/usdm/btcusdt_20240808.trades.csv.gz"


def forecast_step(demo: Any, data_dir: Path | None = None) -> dict[str, Any]:
    """Run the small forecast benchmark (``scenarios/library/forecast_smoke.toml``, seeded by the demo) into
    ``forecast.zarr`` and ``forecast_report/``; return the oracle's R^2, the best honest R^2, the hybrid's honest
    and nowcast R^2 and what the audit flagged. With ``data_dir`` holding the Binance USD-M BTCUSDT capture of
    2024-08-08, the same forecasters also run on it (343 one-second windows)."""
    from scenarios.forecast.runner import run_spec
    from scenarios.forecast.spec import DataSpec, load_spec

    spec = load_spec("forecast_smoke")
    update: dict[str, Any] = {"run": spec.run.model_copy(update={"seed": demo.seed})}
    real = data_dir is not None and (Path(data_dir) / REAL_FILE).is_file()
    if real:
        update["data"] = [*spec.data, DataSpec(name="BTCUSDT", source="real", files=[[REAL_FILE]])]
    spec = spec.model_copy(update=update)
    summary = run_spec(spec, demo.output / "forecast.zarr", data_dir=Path(data_dir or "."), overwrite=True)
    metrics: dict[str, Any] = {
        "about": "The small forecast benchmark: OFI forecasters run walk-forward on 30 minutes simulated from the "
        "BTCUSDT Hawkes preset" + (" and on a real BTCUSDT capture" if real else "") + "; R^2 is out of sample "
        "against the training mean, the oracle's R^2 (synthetic data) is the ceiling an honest model can reach, and "
        "the audit names any model that beats it (it reads the target window).",
    }
    for name, item in summary["series"].items():
        scores = item["scores"]
        honest = [n for n in scores if n != "oracle" and scores[n]["honest"]]
        best = max(honest, key=lambda n: scores[n]["r2"])
        metrics[f"{name}: windows of 1 s"] = item["series"]["windows"]
        if "oracle" in scores:
            metrics[f"{name}: oracle R^2 (ceiling)"] = round(scores["oracle"]["r2"], 4)
        metrics[f"{name}: best honest R^2"] = f"{best} {scores[best]['r2']:.4f}"
        metrics[f"{name}: hybrid honest / nowcast R^2"] = (
            f"{scores['hybrid_honest']['r2']:.4f} / {scores['hybrid_nowcast']['r2']:.4f}"
        )
        if "audit" in item:
            flagged = [r["model"] for r in item["audit"] if r["flagged"]]
            metrics[f"{name}: flagged by the leakage audit"] = ", ".join(flagged) or "none"
    metrics["report"] = str(Path(summary["report"]).relative_to(demo.output))
    return metrics
