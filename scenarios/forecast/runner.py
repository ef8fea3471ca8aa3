"""Run a forecast spec: build each series, run the protocol on it, audit it, write a store and a report."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from scenarios.forecast.audit import leakage_audit, oracle_ceiling
from scenarios.forecast.data import FlowSeries, real_series, simulate_series
from scenarios.forecast.forecasters import (
    EWMA,
    AutoRegressive,
    Forecaster,
    Logistic,
    Persistence,
    TrainingMean,
    VectorAutoRegressive,
)
from scenarios.forecast.hawkes_models import FittedHawkes, Oracle
from scenarios.forecast.neural import FeedForward, Hybrid, NetworkSettings
from scenarios.forecast.paper import sensitivity, sensitivity_configs
from scenarios.forecast.protocol import ProtocolResult, run_protocol
from scenarios.forecast.spec import DataSpec, ForecastSpec, ModelsSpec, TargetSpec
from scenarios.forecast.tstr import train_synthetic_test_real
from scenarios.sweep.cluster import cluster_map
from simlab.provenance import provenance
from simlab.random import spawn
from simlab.store import write_store


def network_settings(models: ModelsSpec) -> NetworkSettings:
    """Return the network settings of a models spec."""
    net = models.network
    return NetworkSettings(
        tuple(net.layers),
        net.activation,
        net.optimizer,
        net.learning_rate,
        net.batch_size,
        net.max_epochs,
        net.patience,
        net.max_train,
    )


def build_models(models: ModelsSpec, synthetic: bool) -> list[Forecaster]:
    """Return fresh forecasters for the names in ``models.include`` (the oracle only on synthetic data)."""
    p, settings = models.lags, network_settings(models)
    factories: dict[str, Callable[[], Forecaster]] = {
        "mean": TrainingMean,
        "persistence": Persistence,
        "ewma": EWMA,
        "ar": lambda: AutoRegressive(p),
        "var": lambda: VectorAutoRegressive(p),
        "logistic": lambda: Logistic(p),
        "fnn": lambda: FeedForward(p, settings),
        "hybrid_honest": lambda: Hybrid(p, settings=settings),
        "hybrid_nowcast": lambda: Hybrid(p, nowcast=True, settings=settings),
        "hawkes": lambda: FittedHawkes(n_paths=models.hawkes_paths),
        "oracle": lambda: Oracle(models.oracle_paths),
    }
    return [factories[name]() for name in models.include if synthetic or name != "oracle"]


def build_series(data: DataSpec, target: TargetSpec, data_dir: Path, rng: np.random.Generator) -> FlowSeries:
    """Simulate or read one series of a spec."""
    common = {"bin_s": target.bin_s, "horizon_s": target.horizon_s, "threshold": target.threshold, "name": data.name}
    if data.source == "preset":
        from calibration.presets import load_preset

        params = load_preset(data.preset).params
        return simulate_series(params, data.duration_s, rng=rng, burn_in_s=data.burn_in_s, **common)
    windows = [[Path(data_dir) / f for f in files] for files in data.files]
    return real_series(windows, aggregate=data.aggregate, format=data.format, options=data.options, **common)


def run_spec(
    spec: ForecastSpec,
    output: Path,
    *,
    data_dir: Path,
    overwrite: bool = False,
    progress: Any = None,
    workers: int | None = None,
    scheduler: str | None = None,
) -> dict[str, Any]:
    """Run every series of ``spec`` through the protocol (and the paper's grid and TSTR when the spec asks); write
    ``output`` (a zarr store, one group per series) and ``report.md`` / ``report.html`` with plots beside it.

    The paper's sensitivity grid runs its configurations through the sweep runner's map: on a local Dask cluster of
    ``workers`` processes, or on the running scheduler at ``scheduler``, or (neither given) in this process; the
    rows are the same.

    Returns
    -------
    dict
        ``store``, ``report``, ``series`` (per series: scores, and on synthetic data the audit and the oracle
        check), ``sensitivity`` (rows, when run) and ``tstr`` (per real series, when run).
    """
    if spec.safe_size is not None:  # the safe order size task (scenarios.forecast.safe_size_run)
        from scenarios.forecast.safe_size_run import run_safe_size_spec

        return run_safe_size_spec(spec, output, overwrite=overwrite)
    if spec.task_list:  # book tasks (scenarios.forecast.task_runner)
        from scenarios.forecast.task_runner import run_task_spec

        return run_task_spec(spec, output, data_dir=data_dir, overwrite=overwrite, progress=progress)
    from scenarios.forecast.report import write_report

    generators = spawn(spec.run.seed, 3 * len(spec.data) + 1)
    series: dict[str, FlowSeries] = {}
    results: dict[str, ProtocolResult] = {}
    for k, data in enumerate(spec.data):
        series[data.name] = build_series(data, spec.target, data_dir, generators[3 * k])
        step = None if progress is None else (lambda m, f, name=data.name: progress(name, m, f))
        results[data.name] = _protocol(series[data.name], spec, generators[3 * k + 1], step)
    out: dict[str, Any] = {"series": {n: summarise(r, spec.protocol.audit_z) for n, r in results.items()}}
    if spec.paper.sensitivity != "none":
        with cluster_map(workers, scheduler) as mapper:
            grid_series = series[spec.paper.series or spec.data[0].name]
            out["sensitivity"] = _sensitivity(spec, grid_series, generators[-1], mapper)
    if spec.tstr.enabled:
        out["tstr"] = _tstr(spec, series, generators)
    true_params = {name: s.params.to_dict() for name, s in series.items() if s.params is not None}
    sources = [Path(data_dir) / f for data in spec.data for files in data.files for f in files]
    attrs = provenance(
        seed=spec.run.seed, config=spec.model_dump(mode="json"), true_params=true_params or None, sources=sources
    )
    attrs["summary"] = json.dumps(_without_timings(out["series"]), default=float)
    for key in ("sensitivity", "tstr"):
        if key in out:
            attrs[key] = json.dumps(out[key], default=float)
    output = Path(output)
    groups = {_group(name): to_dataset(result, series[name].states) for name, result in results.items()}
    write_store(groups, output, attrs=attrs, overwrite=overwrite)
    folder = output.parent / f"{output.name.removesuffix('.zarr')}_report"
    report = write_report(results, out, folder, spec.run.name)
    return {"store": str(output), "report": str(report), **out}


def _protocol(series: FlowSeries, spec: ForecastSpec, rng: np.random.Generator, progress: Any) -> ProtocolResult:
    return run_protocol(
        series,
        build_models(spec.models, series.params is not None),
        rng=rng,
        n_folds=spec.protocol.n_folds,
        embargo=spec.protocol.embargo,
        initial_fraction=spec.protocol.initial_fraction,
        progress=progress,
    )


def _sensitivity(
    spec: ForecastSpec, series: FlowSeries, rng: np.random.Generator, mapper: Any = None
) -> list[dict[str, Any]]:
    configs = sensitivity_configs(spec.paper.sensitivity, spec.paper.n_configs, rng=rng)
    base = network_settings(spec.models)
    rows = sensitivity(series, configs, base=base, rng=rng, n_folds=spec.protocol.n_folds, mapper=mapper)
    return [{**row, "layers": list(row["layers"]), "series": series.name} for row in rows]


def _tstr(spec: ForecastSpec, series: dict[str, FlowSeries], generators: list) -> dict[str, Any]:
    out = {}
    for k, (name, s) in enumerate(series.items()):
        if s.params is not None:
            continue
        models = [m for m in build_models(spec.models, False) if m.honest]
        out[name] = train_synthetic_test_real(
            s, models, rng=generators[3 * k + 2], train_fraction=spec.tstr.train_fraction,
            synthetic_s=spec.tstr.synthetic_s,
        )  # fmt: skip
    return out


def _without_timings(summary: dict[str, Any]) -> dict[str, Any]:
    """The summary without the models' wall-clock seconds, so that one seed writes one store byte for byte."""
    return {
        name: {
            **item,
            "scores": {m: {k: v for k, v in row.items() if k != "seconds"} for m, row in item["scores"].items()},
        }
        for name, item in summary.items()
    }


def summarise(result: ProtocolResult, z: float) -> dict[str, Any]:
    """Return the scores of a protocol run, and on synthetic data the audit and the oracle check."""
    out: dict[str, Any] = {"series": result.series, "scores": result.scores()}
    if "oracle" in result.forecasts:
        out["audit"] = leakage_audit(result, z=z)
        out["oracle_check"] = oracle_ceiling(result)
    return out


def to_dataset(result: ProtocolResult, states: np.ndarray | None = None) -> xr.Dataset:
    """Return the test windows of a run as a Dataset over ``window``: actual OFI and signal, fold, every forecast,
    with an oracle its Var(OFI | state) and the Monte Carlo variance of its forecast, and with ``states`` (the
    series' excitation states, one row per window) the true state the oracle forecast each test window from."""
    variables = {
        "actual_ofi": ("window", result.actual),
        "actual_signal": ("window", result.actual_signal),
        "fold": ("window", result.fold.astype(np.int32)),
        "training_mean": ("window", result.benchmark),
    }
    for name, forecast in result.forecasts.items():
        variables[f"ofi_{name}"] = ("window", forecast)
        variables[f"signal_{name}"] = ("window", result.signals[name])
    if result.oracle_variance is not None:  # what the audit needs besides the forecasts
        variables["oracle_ofi_variance"] = ("window", result.oracle_variance)
        variables["oracle_monte_carlo_variance"] = ("window", result.oracle_noise)
    if states is not None:
        variables["true_state"] = (("window", "state_component"), states[result.index])
    return xr.Dataset(
        variables, coords={"window_index": ("window", result.index)}, attrs={"series": json.dumps(result.series)}
    )


def _group(name: str) -> str:
    """Return a store group name (an identifier) for a series name."""
    text = "".join(c if c.isalnum() else "_" for c in name)
    return text if text.isidentifier() else f"series_{text}"
