"""Fit, validate and write every Hawkes preset of ``calibration/presets/`` from the real data in ``../shared/data``.

Run ``python -m calibration.fit_presets [NAME ...] [--data DIR] [--out DIR]``. Each :class:`PresetSpec` names its
files, the dimensions (a recipe of :mod:`calibration.hawkes_data`), the training span and a held-out validation
span (the rest of the window, or another window). The fit is :class:`calibration.hawkes.HawkesMLE`; the
diagnostics are its log-likelihood, branching ratio, standard errors, the gain over a Poisson fit and per-dimension
time-rescaling KS tests; the validation simulates the fitted model over the held-out span and compares counts,
pooled inter-arrival times and the count OFI on fixed bins with the real data, and runs the time-rescaling KS test
of the held-out data under the training parameters (a plain KS p-value is valid there: nothing was fitted on them).

Seasonality: the XRP/ETH tape covers 2.5 days. Its preset is fitted in *activity time*: an hour-of-day activity
profile estimated on the two training days (mean 1) rescales calendar time, and a stationary Hawkes process is
fitted to the rescaled times; the profile is stored in ``[seasonality]`` and
:func:`~calibration.presets.simulate_preset` maps simulated activity times back to calendar time. The short
Binance windows (5-8 min) and the LOBSTER hour are fitted as stationary in calendar time.
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from calibration.hawkes_data import NS, ActivityProfile, EventWindow, count_ofi, load_window
from calibration.presets import PRESET_DIR, Preset, save_preset, simulate_preset
from simlab.errors import ParameterError
from simlab.hawkes.closed_form import stationary_intensity
from simlab.hawkes.params import HawkesParams
from simlab.io import DEFAULT_DATA_DIR
from simlab.times import parse_duration_ns

DEFAULT_DATA = DEFAULT_DATA_DIR
WS = "binance_ws_l2_trades_hftbacktest"
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


@dataclass(frozen=True)
class PresetSpec:
    """How one preset is fitted: files, dimensions, the training / validation split and the estimator options.

    ``split`` is a fraction of the window (train on the first part) or an ISO UTC time; ``validation_files``, when
    given, name another window used whole for validation (then the training window is used whole). Times are
    quantised to ``resolution_s`` (the data's clock) before comparing simulated and real inter-arrival times.
    """

    name: str
    description: str
    files: tuple[str, ...]
    dims: str = "trades"
    split: float | str | None = None
    validation_files: tuple[str, ...] = ()
    window: tuple[str, str] | None = None
    seasonality: bool = False
    format: str = "auto"
    options: dict[str, Any] = field(default_factory=dict)
    resolution_s: float = 1e-3
    ofi_bin_s: float = 1.0
    estimator: dict[str, Any] = field(default_factory=dict)


def _binance(market: str, symbol: str, fit_days: Sequence[str], **kwargs: Any) -> PresetSpec:
    files = tuple(f"{WS}/{market}/{symbol}_{day}.trades.csv.gz" for day in fit_days)
    venue = "USD-M perpetual" if market == "usdm" else "spot"
    return PresetSpec(
        name=f"binance-{market}-{symbol}",
        description=f"Binance {venue} {symbol.upper()} market orders by aggressor side (buy, sell), 2-D Hawkes",
        files=files,
        **kwargs,
    )


BINANCE_DECAYS = (0.3, 3.0, 30.0, 300.0)  # 1/s: memories of 3 s, 0.3 s, 33 ms and 3 ms (stamps are in ms)
XRP_DECAYS = (0.003, 0.03, 0.3, 3.0, 30.0)  # 1/activity-second: a sparse market (0.05 events/s)
LOBSTER_DECAYS = (0.3, 3.0, 30.0, 300.0, 3e3, 3e4, 3e5)  # 1/s: from 3 s down to 3 us (stamps are in ns)
SPECS: tuple[PresetSpec, ...] = (
    *[
        _binance(
            "usdm",
            symbol,
            ("20240718", "20240719"),
            validation_files=(f"{WS}/usdm/{symbol}_20240808.trades.csv.gz",),
            estimator={"decays": BINANCE_DECAYS},
        )
        for symbol in ("btcusdt", "ethusdt")
    ],
    *[
        _binance("spot", s, ("20240808",), split=0.65, estimator={"decays": BINANCE_DECAYS})
        for s in ("btcusdt", "ethusdt")
    ],
    PresetSpec(
        name="binance-spot-xrpeth",
        description="Binance spot XRP/ETH market orders by aggressor side over 2.5 days, in activity time "
        "(hour-of-day profile); a sparse market",
        files=("binance_trades_xrpeth_2019-10/XRPETH-aggTrades-2019-10-11_to_13.csv.gz",),
        split="2019-10-13T00:00:00",
        seasonality=True,
        ofi_bin_s=300.0,
        estimator={"decays": XRP_DECAYS},
    ),
    PresetSpec(
        name="lobster-aapl-order-flow",
        description="NASDAQ AAPL 2012-06-21 09:30-10:30 order flow: limit, cancel (partial + full) and market "
        "orders by side, 6-D Hawkes; fitted on 09:30-10:10, validated on 10:10-10:30",
        files=(
            "lobster_samples/AAPL_2012-06-21_level50_0930-1030_messages/"
            "AAPL_2012-06-21_34200000_37800000_message_50.csv",
        ),
        dims="order-flow",
        window=("2012-06-21T13:30:00", "2012-06-21T14:30:00"),
        split="2012-06-21T14:10:00",
        resolution_s=1e-9,
        ofi_bin_s=10.0,
        estimator={"decays": LOBSTER_DECAYS},
    ),
)


def windows(spec: PresetSpec, data_dir: Path) -> tuple[EventWindow, EventWindow]:
    """Return the training and validation windows of ``spec``."""
    start, end = (_ns(t) for t in spec.window) if spec.window else (None, None)
    read = {"format": spec.format, **spec.options}
    whole = load_window([data_dir / f for f in spec.files], spec.dims, start_ns=start, end_ns=end, **read)
    if spec.validation_files:
        other = load_window([data_dir / f for f in spec.validation_files], spec.dims, **read)
        return whole, other
    if isinstance(spec.split, str):
        cut = (_ns(spec.split) - whole.start_ns) / NS
        return whole.slice(0.0, cut), whole.slice(cut, whole.duration_s)
    return whole.split(float(spec.split))


def fit_spec(
    spec: PresetSpec, data_dir: Path = DEFAULT_DATA, *, seed: int = 20240809, n_paths: int = 40, n_boot: int = 0
) -> Preset:
    """Fit and validate one preset; return it (not yet written).

    ``n_paths`` simulated paths validate it on the held-out window; ``n_boot`` > 0 adds the training KS p-values
    calibrated by parametric bootstrap (refits on ``n_boot`` simulated paths; the plain ones are lenient).
    """
    train, validation = windows(spec, data_dir)
    profile = ActivityProfile.estimate(train) if spec.seasonality else None
    fit_times, fit_end = _model_time(train, profile)
    started = time.perf_counter()
    estimator = _estimator(spec).fit(list(fit_times), fit_end, names=list(train.names))
    seconds = time.perf_counter() - started
    params = _rounded(estimator.params_)
    preset = Preset(
        name=spec.name,
        params=params,
        preset=_head(spec, data_dir, profile),
        fitted_on=_fitted_on(spec, train, validation),
        diagnostics=_diagnostics(estimator, params, fit_times, fit_end, seconds, spec.resolution_s),
        validation={},
        marks=_marks(train),
        seasonality=_seasonality(profile),
    )
    if n_boot:
        from calibration.hawkes import NonStationaryFitWarning, bootstrap_ks_pvalue

        with warnings.catch_warnings():  # a few refits of simulated paths land at n >= 1; only their KS counts
            warnings.simplefilter("ignore", NonStationaryFitWarning)
            boot = bootstrap_ks_pvalue(_estimator(spec), list(fit_times), fit_end, n_boot=n_boot, rng=seed)
        preset.diagnostics.update(ks_pvalue_bootstrap=_round(boot, 4), ks_bootstrap_replications=n_boot)
    checks = validate(preset, validation, seed=seed, n_paths=n_paths, spec=spec)
    return Preset(**{**preset.__dict__, "validation": checks})


def validate(preset: Preset, real: EventWindow, *, seed: int, n_paths: int, spec: PresetSpec) -> dict[str, Any]:
    """Compare ``n_paths`` simulations of ``preset`` over the span of ``real`` with ``real`` itself.

    The simulated paths go through :func:`_simulate_like` (burn-in, the data's clock, same-stamp merging).
    """
    names = real.names
    per_path = _simulate_like(preset, real, seed, n_paths, spec.resolution_s)
    counts = np.array([[t.size for t in path] for path in per_path], dtype=float)
    mean, std = counts.mean(axis=0), counts.std(axis=0, ddof=1)
    real_gaps, sim_gaps = _gaps(real.times_s), np.concatenate([_gaps(path) for path in per_path])
    gap_ks = stats.ks_2samp(real_gaps, sim_gaps)
    real_ofi = count_ofi(real.times_s, names, real.duration_s, spec.ofi_bin_s)
    sim_ofi = np.concatenate([count_ofi(path, names, real.duration_s, spec.ofi_bin_s) for path in per_path])
    profile = preset.activity_profile()
    if profile is not None:
        profile = ActivityProfile(profile.levels, profile.bin_s, (real.start_ns / NS) % 86400)
    model_times, model_end = _model_time(real, profile)
    ks, pvalue = _time_rescaling_ks(preset.params, model_times, model_end, spec.resolution_s)
    return {
        "span": real.span(),
        "n_paths": n_paths,
        "seed": seed,
        "real_counts": real.counts,
        "simulated_counts_mean": _round(mean),
        "simulated_counts_std": _round(std),
        "count_z": _round((np.array(real.counts) - mean) / np.maximum(std, 1e-12)),
        "interarrival_ks": _round(gap_ks.statistic),
        "interarrival_ks_pvalue": float(f"{gap_ks.pvalue:.4g}"),
        "interarrival_median_real_s": _round(np.median(real_gaps)),
        "interarrival_median_simulated_s": _round(np.median(sim_gaps)),
        "ofi_bin_s": spec.ofi_bin_s,
        "ofi_real": _summary(real_ofi),
        "ofi_simulated": _summary(sim_ofi),
        "ofi_ks": _round(stats.ks_2samp(real_ofi, sim_ofi).statistic),
        "ks_statistic": ks,
        "ks_pvalue": pvalue,
        **_heldout_loglik(preset, model_times, model_end, spec.resolution_s),
    }


def calibrate(
    paths: Sequence[Path | str],
    output: Path | str,
    *,
    format: str = "auto",
    options: dict[str, Any] | None = None,
    dims: str = "trades",
    split: float | str = 0.7,
    validate_on: Sequence[Path | str] = (),
    name: str = "preset",
    seasonality: bool = False,
    decays: str | Sequence[float] | None = None,
    resolution: str = "1ms",
    ofi_bin: str = "1s",
    n_paths: int = 40,
    seed: int = 0,
) -> Preset:
    """Fit a preset to ``paths``, validate it on held-out data, write it to ``output`` and return it.

    ``paths`` (and ``validate_on``) are a simlab store or raw files with their ``format`` and reader ``options``
    (see :func:`simlab.io.dataset.load_dataset`).

    ``split`` is a fraction of the window or an ISO UTC time (text is accepted); ``validate_on`` names another
    window used whole for validation instead. ``decays`` (1/s, one per component, comma-separated text or a
    sequence) fixes the kernel's decays; by default one decay per pair is estimated. ``resolution`` is the data's
    clock (tie jitter, quantisation of simulated times); ``ofi_bin`` the OFI bin of the validation.
    """
    if isinstance(split, str):
        try:
            split = float(split)
        except ValueError:
            pass
    if isinstance(decays, str):
        try:
            decays = [float(v) for v in decays.split(",") if v.strip()]
        except ValueError as exc:
            raise ParameterError(f"`decays` must be numbers in 1/s separated by commas; got {decays!r}") from exc
    spec = PresetSpec(
        name=name,
        description=f"Hawkes model of {dims} fitted by `simlab calibrate hawkes`",
        files=tuple(str(Path(p).resolve()) for p in paths),
        dims=dims,
        format=format,
        options=dict(options or {}),
        split=None if validate_on else split,
        validation_files=tuple(str(Path(p).resolve()) for p in validate_on),
        seasonality=seasonality,
        resolution_s=parse_duration_ns(resolution) / NS,
        ofi_bin_s=parse_duration_ns(ofi_bin) / NS,
        estimator={"decays": tuple(decays)} if decays else {},
    )
    preset = fit_spec(spec, Path("/"), seed=seed, n_paths=n_paths)
    save_preset(preset, output)
    return preset


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: fit the named presets (default all) and write them under ``--out``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help=f"presets to (re)build; default all: {[s.name for s in SPECS]}")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the real-data folder")
    parser.add_argument("--out", type=Path, default=PRESET_DIR, help="where to write the TOML files")
    parser.add_argument("--seed", type=int, default=20240809, help="root seed of the validation simulations")
    parser.add_argument("--bootstrap", type=int, default=99, help="bootstrap replications of the KS p-values")
    args = parser.parse_args(argv)
    chosen = [s for s in SPECS if not args.names or s.name in args.names]
    for spec in chosen:
        started = time.perf_counter()
        preset = fit_spec(spec, args.data, seed=args.seed, n_boot=args.bootstrap)
        path = save_preset(preset, args.out / f"{spec.name}.toml")
        v = preset.validation
        print(
            f"{spec.name}: n={preset.params.branching_ratio:.3f} KS p={preset.diagnostics['ks_pvalue']} "
            f"held-out counts {v['real_counts']} vs {v['simulated_counts_mean']} (z {v['count_z']}), "
            f"gap KS {v['interarrival_ks']}, OFI std {v['ofi_real']['std']} vs {v['ofi_simulated']['std']} "
            f"-> {path} ({time.perf_counter() - started:.1f} s)"
        )


def _estimator(spec: PresetSpec) -> Any:
    from calibration.hawkes import HawkesMLE

    options = {"fit_decays": "decays" not in spec.estimator, "n_starts": 4, "tie_policy": "jitter", "rng": 0}
    options.update(tie_jitter_s=spec.resolution_s, **spec.estimator)
    return HawkesMLE(**options)


def _simulate_like(
    preset: Preset, real: EventWindow, seed: int, n_paths: int, resolution_s: float
) -> list[list[np.ndarray]]:
    """Simulate paths over the span of ``real`` and observe them as the data were observed.

    Each path starts a burn-in (:func:`_burn_in_s`) before the window, so it is near its stationary regime when
    the window opens; times are floored to the data's clock ``resolution_s`` and events of one dimension on one
    stamp merge into one, as :func:`~calibration.hawkes_data.event_times` does with the real records.
    """
    burn = _burn_in_s(preset.params)
    start = real.start_ns - int(burn * NS)
    paths = simulate_preset(preset, real.duration_s + burn, rng=seed, n_paths=n_paths, start_ns=start, marks=False)
    observed = []
    for path in paths:
        kept = path.times_s >= burn
        times, dims = path.times_s[kept] - burn, path.dims[kept]
        stamps = np.floor(times / resolution_s) * resolution_s
        observed.append([np.unique(stamps[dims == i]) for i in range(preset.params.dimension)])
    return observed


def _burn_in_s(params: HawkesParams) -> float:
    """Warm-up simulated before a validation window (paths start empty): 5 relaxation times, at most 1 h."""
    slowest = float(params.decays[params.adjacency > 0].min(initial=np.inf))
    return float(min(5.0 / (slowest * (1.0 - params.branching_ratio)), 3600.0)) if np.isfinite(slowest) else 0.0


def _rounded(params: HawkesParams, digits: int = 6) -> HawkesParams:
    """Round baseline and adjacency to ``digits`` significant digits (presets stay small and readable)."""
    rounded = {
        k: np.asarray(_round(getattr(params, k), digits)).reshape(getattr(params, k).shape)
        for k in ("baseline", "adjacency")
    }
    return HawkesParams(rounded["baseline"], rounded["adjacency"], params.decays, names=params.names)


def _model_time(window: EventWindow, profile: ActivityProfile | None) -> tuple[list[np.ndarray], float]:
    if profile is None:
        return list(window.times_s), window.duration_s
    times = [profile.to_activity(t) for t in window.times_s]
    return times, float(profile.to_activity(np.array([window.duration_s]))[0])


def _gaps(times: Sequence[np.ndarray]) -> np.ndarray:
    return np.diff(np.sort(np.concatenate(times)))


def _summary(values: np.ndarray) -> dict[str, Any]:
    return {
        "mean": _round(values.mean()),
        "std": _round(values.std()),
        "quantile_levels": list(QUANTILES),
        "quantiles": _round(np.quantile(values, QUANTILES)),
        "bins": int(values.size),
    }


def _round(values: Any, digits: int = 6) -> Any:
    array = np.asarray(values, dtype=float)
    rounded = [float(f"{v:.{digits}g}") for v in array.reshape(-1)]
    return rounded[0] if array.ndim == 0 else rounded


def _ns(iso: str) -> int:
    return int(np.datetime64(iso.rstrip("Z"), "ns").astype(np.int64))


def _head(spec: PresetSpec, data_dir: Path, profile: ActivityProfile | None) -> dict[str, Any]:
    from simlab.io.dataset import load_dataset

    attrs = load_dataset(data_dir / spec.files[0], format=spec.format, **spec.options)["events"].attrs
    return {
        "model": "hawkes",
        "description": spec.description,
        "recipe": spec.dims,
        "instrument": str(attrs["instrument"]),
        "venue": str(attrs["venue"]),
        "tick_size": float(attrs["tick_size"]),
        "lot_size": float(attrs["lot_size"]),
        "time": "activity" if profile is not None else "calendar",
    }


def _fitted_on(spec: PresetSpec, train: EventWindow, validation: EventWindow) -> dict[str, Any]:
    return {
        "files": list(spec.files) + [f for f in spec.validation_files if f not in spec.files],
        "format": spec.format,
        **({"options": spec.options} if spec.options else {}),
        "aggregate": True,
        "tie_policy": "jitter (HawkesMLE; ties left after merging same-timestamp records of one dimension)",
        "estimator": {"name": "HawkesMLE", "fit_decays": "decays" not in spec.estimator, **spec.estimator},
        "train": train.span(),
        "validation": validation.span(),
    }


def _marks(train: EventWindow) -> dict[str, Any]:
    levels = np.linspace(0.0, 1.0, 21)
    return {
        "unit": "lots",
        "probabilities": _round(levels),
        "quantiles": [_round(np.quantile(m, levels)) if m.size else [1.0] * levels.size for m in train.marks],
    }


def _seasonality(profile: ActivityProfile | None) -> dict[str, Any] | None:
    if profile is None:
        return None
    return {
        "kind": "hour-of-day",
        "bin_s": profile.bin_s,
        "origin_s": _round(profile.origin_s, 9),
        "levels": _round(profile.levels),
        "note": "parameters are in activity seconds: calendar time t maps to the integral of levels[hour(t)] dt",
    }


def _diagnostics(
    estimator: Any, params: HawkesParams, times: list[np.ndarray], end: float, seconds: float, resolution_s: float
) -> dict[str, Any]:
    """Fit diagnostics of the (rounded) fitted ``params`` on the training times."""
    from calibration.hawkes import poisson_gain

    ties = {"tie_policy": "jitter", "tie_jitter_s": resolution_s, "rng": 0}
    gain = poisson_gain(params, times, end, **ties)
    loglik = estimator.loglik(params, times, end)
    ks, pvalue = _time_rescaling_ks(params, times, end, resolution_s)
    stderr = estimator.stderr_
    free = params.adjacency > 0
    relative = np.concatenate(
        [stderr["baseline"] / params.baseline, (stderr["adjacency"][free] / params.adjacency[free])]
    )
    rho_se = float(stderr["branching_ratio"])
    return {
        "n_events": int(sum(t.size for t in times)),
        "loglik": _round(loglik, 10),
        "loglik_poisson": _round(loglik - gain, 10),
        "poisson_gain": _round(gain),
        "branching_ratio": params.branching_ratio,
        "spectral_radius_ci": _round([params.branching_ratio - 1.96 * rho_se, params.branching_ratio + 1.96 * rho_se]),
        "stationary_intensity": _round(stationary_intensity(params)),
        "empirical_intensity": _round([t.size / end for t in times]),
        "ks_statistic": ks,
        "ks_pvalue": pvalue,
        "stderr_baseline": _round(stderr["baseline"]),
        "stderr_adjacency_max": _round(np.nanmax(stderr["adjacency"])),
        "stderr_relative_median": _round(np.nanmedian(relative)),
        "ties": int(estimator.n_ties_),
        "fit_seconds": round(seconds, 3),
    }


def _time_rescaling_ks(params: HawkesParams, times: list[np.ndarray], end: float, resolution_s: float) -> tuple:
    from calibration.hawkes import ks_test, time_rescaling

    residuals = time_rescaling(params, times, end, tie_policy="jitter", tie_jitter_s=resolution_s, rng=0)
    result = ks_test(residuals)
    return _round(result.statistic, 4), [float(f"{p:.3g}") for p in result.pvalue]


def _heldout_loglik(preset: Preset, times: list[np.ndarray], end: float, resolution_s: float) -> dict[str, Any]:
    """Log-likelihood per event of held-out data under the training fit, and under a Poisson at training rates."""
    from calibration.hawkes import HawkesMLE

    n = np.array([t.size for t in times], dtype=float)
    estimator = HawkesMLE(tie_policy="jitter", tie_jitter_s=resolution_s, rng=0)
    hawkes = estimator.loglik(preset.params, times, end)
    rates = np.asarray(preset.diagnostics["empirical_intensity"], dtype=float)
    poisson = float(np.sum(n * np.log(rates) - rates * end))
    return {"loglik_per_event": _round(hawkes / n.sum()), "loglik_per_event_poisson": _round(poisson / n.sum())}


if __name__ == "__main__":
    main()
