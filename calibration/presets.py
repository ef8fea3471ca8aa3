"""Hawkes presets: small TOML files of parameters fitted to real data, with their diagnostics and validation.

A preset file has the tables ``[preset]`` (name, model, description, recipe, instrument, venue, time), ``[fitted_on]``
(files, window, train and validation spans, event aggregation, tie policy), ``[params]``
(:meth:`HawkesParams.to_dict`), ``[diagnostics]`` (fit quality on the training span), ``[validation]`` (simulated vs
real on the held-out span) and, optionally, ``[marks]`` (quantiles of the event sizes, for simulated quantities)
and ``[seasonality]`` (an intraday activity profile; then ``time = "activity"``: the parameters are in activity
seconds, see :class:`calibration.hawkes_data.ActivityProfile`). Unknown tables or keys are an error naming them.
Presets shipped with simlab live in ``calibration/presets/`` and load by name.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from simlab.errors import DataError, ParameterError
from simlab.hawkes.params import HawkesParams
from simlab.store import write_text_atomic

PRESET_DIR = Path(__file__).resolve().parent / "presets"
SCHEMA: dict[str, set[str]] = {
    "preset": {"name", "model", "description", "recipe", "instrument", "venue", "time", "tick_size", "lot_size"},
    "fitted_on": {"files", "format", "window", "train", "validation", "aggregate", "tie_policy", "estimator"},
    "params": {"names", "baseline", "adjacency", "decays"},
    "diagnostics": {
        "n_events",
        "loglik",
        "loglik_poisson",
        "poisson_gain",
        "branching_ratio",
        "spectral_radius_ci",
        "stationary_intensity",
        "empirical_intensity",
        "ks_statistic",
        "ks_pvalue",
        "ks_pvalue_bootstrap",
        "ks_bootstrap_replications",
        "stderr_baseline",
        "stderr_adjacency_max",
        "stderr_relative_median",
        "ties",
        "fit_seconds",
    },
    "validation": {
        "span",
        "n_paths",
        "seed",
        "real_counts",
        "simulated_counts_mean",
        "simulated_counts_std",
        "count_z",
        "interarrival_ks",
        "interarrival_ks_pvalue",
        "interarrival_median_real_s",
        "interarrival_median_simulated_s",
        "ofi_bin_s",
        "ofi_real",
        "ofi_simulated",
        "ofi_ks",
        "ks_statistic",
        "ks_pvalue",
        "loglik_per_event",
        "loglik_per_event_poisson",
    },
    "marks": {"unit", "probabilities", "quantiles"},
    "seasonality": {"kind", "bin_s", "origin_s", "levels", "note"},
}
REQUIRED = ("preset", "fitted_on", "params", "diagnostics", "validation")
MODELS = ("hawkes",)


@dataclass(frozen=True, eq=False)
class Preset:
    """A fitted Hawkes model and what is known about its fit (the tables of a preset file)."""

    name: str
    params: HawkesParams
    preset: dict[str, Any]
    fitted_on: dict[str, Any]
    diagnostics: dict[str, Any]
    validation: dict[str, Any]
    marks: dict[str, Any] | None = None
    seasonality: dict[str, Any] | None = None
    path: Path | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Return the preset as the nested mapping written to TOML."""
        data = {
            "preset": {**self.preset, "name": self.name},
            "fitted_on": self.fitted_on,
            "params": self.params.to_dict(),
            "diagnostics": self.diagnostics,
            "validation": self.validation,
        }
        if self.marks is not None:
            data["marks"] = self.marks
        if self.seasonality is not None:
            data["seasonality"] = self.seasonality
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "preset", path: Path | None = None) -> Preset:
        """Build a preset from its mapping; unknown tables or keys and missing tables are errors."""
        unknown = sorted(set(data) - set(SCHEMA))
        missing = [t for t in REQUIRED if t not in data]
        if unknown or missing:
            raise ParameterError(
                f"{source}: tables must be {sorted(SCHEMA)} with {list(REQUIRED)} required; "
                f"got unknown {unknown}, missing {missing}"
            )
        for table, values in data.items():
            if not isinstance(values, dict):
                raise ParameterError(f"{source}: [{table}] must be a table; got {type(values).__name__}")
            extra = sorted(set(values) - SCHEMA[table])
            if extra:
                raise ParameterError(f"{source}: unknown key(s) {extra} in [{table}]; allowed {sorted(SCHEMA[table])}")
        head = data["preset"]
        if "name" not in head or head.get("model", "hawkes") not in MODELS:
            raise ParameterError(f"{source}: [preset] needs a `name` and `model` in {MODELS}; got {head}")
        return cls(
            name=str(head["name"]),
            params=HawkesParams.from_dict(data["params"]),
            preset=dict(head),
            fitted_on=dict(data["fitted_on"]),
            diagnostics=dict(data["diagnostics"]),
            validation=dict(data["validation"]),
            marks=data.get("marks"),
            seasonality=data.get("seasonality"),
            path=path,
        )

    def activity_profile(self) -> Any:
        """Return the preset's :class:`~calibration.hawkes_data.ActivityProfile`, or ``None`` without seasonality."""
        from calibration.hawkes_data import ActivityProfile

        if self.seasonality is None:
            return None
        s = self.seasonality
        return ActivityProfile(np.asarray(s["levels"], dtype=float), float(s["bin_s"]), float(s.get("origin_s", 0)))


def mark_laws(preset: Preset) -> list[Any] | None:
    """Return one :class:`~simlab.hawkes.EmpiricalMarks` per dimension from ``[marks]`` (None without it).

    The law resamples 1,001 points of the stored quantile curve (linear interpolation, rounded to whole lots >= 1).
    """
    from simlab.hawkes import EmpiricalMarks

    if preset.marks is None:
        return None
    grid = np.linspace(0.0, 1.0, 1001)
    probabilities = np.asarray(preset.marks["probabilities"], dtype=float)
    curves = np.asarray(preset.marks["quantiles"], dtype=float)
    return [EmpiricalMarks(np.maximum(1.0, np.rint(np.interp(grid, probabilities, q)))) for q in curves]


def simulate_preset(
    preset: Preset,
    duration_s: float,
    *,
    rng: Any,
    n_paths: int = 1,
    start_ns: int | None = None,
    marks: bool = True,
) -> list[Any]:
    """Simulate ``n_paths`` paths of ``duration_s`` calendar seconds from a preset.

    With ``[seasonality]`` the process runs in activity time over the activity length of ``[0, duration_s)``
    (the profile anchored at the time of day of ``start_ns``, default the fitted window's) and its event times
    map back to calendar seconds. Marks (event sizes in lots) come from ``[marks]`` when ``marks`` is true.
    """
    from simlab.hawkes import HawkesPath, simulate_hawkes

    profile = preset.activity_profile()
    horizon = float(duration_s)
    if profile is not None:
        if start_ns is not None:
            profile = type(profile)(profile.levels, profile.bin_s, (start_ns / 1e9) % 86400)
        horizon = float(profile.to_activity(np.array([duration_s]))[0])
    laws = mark_laws(preset) if marks else None
    paths = simulate_hawkes(preset.params, horizon, rng=rng, n_paths=n_paths, marks=laws)
    if profile is None:
        return paths
    return [
        HawkesPath(
            np.minimum(profile.to_calendar(p.times_s, duration_s), np.nextafter(duration_s, 0)),
            p.dims,
            p.marks,
            p.state_times_s,
            p.intensity,
        )
        for p in paths
    ]


def preset_events(preset: Preset, path: Any, *, start_ns: int = 0, seed: int | None = None) -> Any:
    """Write a path simulated from ``preset`` as events (kinds and sides from the dimension names).

    The events carry the true parameters (``true_params``), the preset's name and, for a seasonal preset, its
    activity profile (``seasonality``, JSON): the true parameters are then in activity seconds.
    """
    import json

    from calibration.hawkes_data import DIMENSIONS
    from simlab.hawkes import hawkes_events

    names = preset.params.names
    unknown = [n for n in names if n not in DIMENSIONS]
    if unknown:
        raise ParameterError(f"preset {preset.name}: dimension names {unknown} are not in {sorted(DIMENSIONS)}")
    head = preset.preset
    events = hawkes_events(
        path,
        preset.params,
        start_ns=start_ns,
        kinds=[int(DIMENSIONS[n][0][0]) for n in names],
        sides=[DIMENSIONS[n][1] for n in names],
        instrument=str(head.get("instrument", "HAWKES")),
        venue="simlab:" + str(head.get("venue", "hawkes")),
        seed=seed,
        tick_size=float(head.get("tick_size", 1.0)),
        lot_size=float(head.get("lot_size", 1.0)),
    )
    events.attrs["preset"] = preset.name
    if preset.seasonality is not None:
        events.attrs["seasonality"] = json.dumps(preset.seasonality)
    return events


def simulate_to_store(
    preset: Preset,
    output: str | Path,
    duration_s: float,
    *,
    n_paths: int = 1,
    seed: int,
    start_ns: int = 0,
    overwrite: bool = False,
    progress: Any = None,
) -> dict[str, Any]:
    """Simulate ``n_paths`` paths from ``preset`` and write them to the store ``output``; return a summary.

    Each path is the group ``path0000``, ``path0001``, ... (an events Dataset with the true parameters); path k
    uses the k-th child of ``SeedSequence(seed)``. ``progress(k)`` is called after each path.
    """
    from simlab.provenance import provenance
    from simlab.random import spawn
    from simlab.store import StoreWriter

    if isinstance(n_paths, bool) or not isinstance(n_paths, (int, np.integer)) or n_paths < 1:
        raise ParameterError(
            f"`n_paths`, the number of paths to simulate, must be a whole number >= 1; got {n_paths!r}"
        )
    config = {"preset": preset.name, "duration_s": float(duration_s), "n_paths": int(n_paths), "start_ns": start_ns}
    attrs = provenance(seed=seed, config=config, true_params=preset.params.to_dict())
    counts = np.zeros(preset.params.dimension, dtype=np.int64)
    with StoreWriter(output, attrs=attrs, overwrite=overwrite) as writer:
        for k, generator in enumerate(spawn(seed, n_paths)):
            (path,) = simulate_preset(preset, duration_s, rng=generator, start_ns=start_ns)
            writer.append(preset_events(preset, path, start_ns=start_ns, seed=seed), group=f"path{k:04d}")
            counts += np.bincount(path.dims, minlength=counts.size)
            if progress is not None:
                progress(k)
    rates = np.round(counts / (n_paths * duration_s), 4).tolist()
    return {
        "preset": preset.name,
        "paths": int(n_paths),
        "events": int(counts.sum()),
        "rate_per_s": dict(zip(preset.params.names, rates, strict=True)),
    }


def load_preset(path_or_name: str | Path) -> Preset:
    """Load a preset from a TOML file, or by name from ``calibration/presets/`` (e.g. ``"binance-usdm-btcusdt"``)."""
    path, data = read_preset_toml(path_or_name)
    return Preset.from_dict(data, source=f"preset {path.name}", path=path)


def read_preset_toml(
    path_or_name: str | Path, *, model: str | tuple[str, ...] = "hawkes"
) -> tuple[Path, dict[str, Any]]:
    """Return the path and parsed tables of a preset file, or of a preset shipped in ``calibration/presets/``.

    ``model`` names the kind (or kinds) of preset asked for, so that a missing name lists the shipped presets of
    that kind.
    """
    path = Path(path_or_name)
    if not path.suffix and not path.exists():
        path = PRESET_DIR / f"{path_or_name}.toml"
    if not path.is_file():
        raise DataError(f"preset {path_or_name!r}: no such file; shipped presets are {list_presets(model)}")
    try:
        return path, tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"preset {path}: not valid TOML: {exc}") from exc


def save_preset(preset: Preset, path: str | Path) -> Path:
    """Write ``preset`` as TOML to ``path`` (read back exactly by :func:`load_preset`) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_text_atomic(path, dumps_toml(preset.to_dict()))


def list_presets(model: str | tuple[str, ...] = "hawkes") -> list[str]:
    """Return the names of the presets of ``model`` (``[preset] model``, one or several) shipped in
    ``calibration/presets/``."""
    models = (model,) if isinstance(model, str) else model
    names = []
    for path in sorted(PRESET_DIR.glob("*.toml")):
        head = tomllib.loads(path.read_text()).get("preset")
        if head is not None and head.get("model", "hawkes") in models:  # no [preset] table: an agent-market config
            names.append(path.stem)
    return names


def dumps_toml(data: dict[str, Any]) -> str:
    """Return TOML text for a mapping of tables (nested mappings become sub-tables; arrays may nest)."""
    lines: list[str] = []
    _table(data, (), lines)
    return "\n".join(lines).lstrip("\n") + "\n"


def _table(data: dict[str, Any], prefix: tuple[str, ...], lines: list[str]) -> None:
    scalars = {k: v for k, v in data.items() if not isinstance(v, dict)}
    if prefix and (scalars or not data):
        lines.extend(["", "[" + ".".join(_key(p) for p in prefix) + "]"])
    for key, value in scalars.items():
        lines.append(f"{_key(key)} = {_value(value)}")
    for key, value in data.items():
        if isinstance(value, dict):
            _table(value, (*prefix, key), lines)


def _key(key: str) -> str:
    key = str(key)
    if key and all(c.isalnum() or c in "_-" for c in key):
        return key
    return _string(key)


def _value(value: Any) -> str:
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if math.isnan(value):
            return "nan"
        return ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if value is None:
        raise ParameterError("a preset value is None; TOML has no null (leave the key out)")
    raise ParameterError(f"cannot write a {type(value).__name__} to TOML: {value!r}")


def _string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return '"' + escaped + '"'
