"""Fit an episode's shock parameters so that the simulated shape matches its template: an inverse problem on the
sweep runner.

1. **Design**: a Latin hypercube of ``n_design`` points over the fitted parameters' bounds (log scale where the
   bound says so), run by :func:`scenarios.sweep.run_plan` with the job :func:`shape_job`: ``paths`` paths per
   point, every point on the same path seeds (common random numbers), so points differ only by their shocks.
2. **Objective** (:func:`objective`): the squared distance, in tolerance units, of each template statistic's mean
   over the paths to its template value, weighted 1 for drawdown and time to trough and :data:`SECONDARY_WEIGHT`
   for the others; a statistic that is not finite on a share ``q`` of the paths adds ``100 q`` instead.
3. **Refine**: a second hypercube of ``n_refine`` points in a box a quarter of the bounds wide around the best
   point (clipped to the bounds), the same paths; the best point of both designs is the fit.
4. **Validate** on fresh seeds: ``validate_paths`` new paths at the fit; the share of paths whose drawdown AND time
   to trough lie within the template's tolerance.

:func:`write_fit` stores the fit beside the episode (``<episode>.fitted.json``): the parameters, the objective, the
validation, the designs and the provenance (seed, episode text, version, commit).
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from scenarios.stress.episodes import Bound, Episode, load_episode
from scenarios.stress.run import episode_statistics, simulate_episode, statistic_names, within_tolerance
from scenarios.sweep.design import build_design, point_seeds
from scenarios.sweep.runner import Plan, run_plan
from scenarios.sweep.spec import parse_sweep_spec
from simlab.errors import ParameterError
from simlab.provenance import provenance
from simlab.store import write_text_atomic

JOB = "scenarios.stress.fit:shape_job"
PRIMARY = ("drawdown", "time_to_trough_s")
SECONDARY_WEIGHT = 0.25
MISSING_PENALTY = 100.0


def _identifier(name: str) -> str:
    return name.replace(".", "__")


def _dotted(name: str) -> str:
    return name.replace("__", ".")


def shape_job(seed: np.random.SeedSequence, paths: int, *, episode: str, crn_seed: int, **values: float) -> xr.Dataset:
    """Sweep job: the shape statistics of ``paths`` paths of ``episode`` at the shock ``values``.

    ``values`` are keyed ``primitive__key``. Every point draws its paths from ``SeedSequence([crn_seed, 0])``
    (common random numbers across points); the point's own ``seed`` is not used.
    """
    del seed  # common random numbers: every point runs the same paths
    ep = load_episode(episode)
    shocks = {_dotted(k): float(v) for k, v in values.items()}
    crash_paths = simulate_episode(ep, paths, seed=np.random.SeedSequence([crn_seed, 0]), values=shocks)
    rows = episode_statistics(ep, crash_paths)
    return xr.Dataset({name: (("path",), rows[:, j]) for j, name in enumerate(statistic_names(ep))})


def objective(episode: Episode, rows: np.ndarray) -> float:
    """Return the weighted squared distance of the paths' mean statistics to the template (tolerance units)."""
    total = 0.0
    for name, stat in episode.spec.template.items():
        weight = 1.0 if name in PRIMARY else SECONDARY_WEIGHT
        column = rows[:, statistic_names(episode).index(name)]
        finite = np.isfinite(column)
        if not finite.any():
            total += weight * MISSING_PENALTY
            continue
        z = (column[finite].mean() - stat.value) / stat.tolerance
        total += weight * (z * z + MISSING_PENALTY * (1.0 - finite.mean()))
    return float(total)


@dataclass(frozen=True)
class FitResult:
    """A fitted episode: the parameters, their objective, and the validation on fresh seeds."""

    episode: str
    parameters: dict[str, float]
    objective: float
    share_within: float
    validate_paths: int
    validate_means: dict[str, float]
    validate_within: dict[str, float]
    evaluations: int
    design: dict[str, Any]
    seed: int
    seconds: float


def fit_episode(
    episode: Episode,
    *,
    seed: int = 0,
    n_design: int = 12,
    n_refine: int = 6,
    paths: int = 4,
    validate_paths: int = 20,
    workers: int = 2,
    scheduler: str | None = None,
    work_dir: str | Path | None = None,
) -> FitResult:
    """Fit the episode's shock parameters on the sweep runner (see the module docstring)."""
    bounds = episode.parameters()
    if not bounds:
        raise ParameterError(f"episode {episode.name}: its mechanism has no `fit` keys; nothing to fit")
    for name, value, low in (("n_design", n_design, 1), ("n_refine", n_refine, 0), ("paths", paths, 1),
                             ("validate_paths", validate_paths, 1)):  # fmt: skip
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ParameterError(f"`{name}` of fit_episode must be an int >= {low}; got {value!r}")
    started = time.perf_counter()
    options = {"workers": workers, "scheduler": scheduler}
    with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
        first = _run_design(episode, bounds, n_design, paths, seed, Path(tmp) / "design.zarr", options)
        best = min(first, key=lambda item: item[1])
        points = first
        if n_refine > 0:
            box = _box(bounds, best[0])
            points = first + _run_design(episode, box, n_refine, paths, seed + 1, Path(tmp) / "refine.zarr",
                                         options, crn=seed)  # fmt: skip
            best = min(points, key=lambda item: item[1])
    fitted = best[0]
    rows = episode_statistics(
        episode,
        simulate_episode(
            episode,
            validate_paths,
            seed=np.random.SeedSequence([seed, 1]),
            values=fitted,
            workers=workers if scheduler is None else 1,
        ),  # fmt: skip
    )
    means = {n: float(np.nanmean(rows[:, statistic_names(episode).index(n)])) for n in episode.spec.template}
    within = {n: float(within_tolerance(episode, rows, (n,)).mean()) for n in episode.spec.template}
    design = {"n_design": n_design, "n_refine": n_refine, "paths_per_point": paths, "kind": "lhs",
              "points": [{"parameters": p, "objective": o} for p, o in points]}  # fmt: skip
    return FitResult(episode.name, fitted, best[1], float(within_tolerance(episode, rows).mean()), validate_paths,
                     means, within, len(points), design, seed, time.perf_counter() - started)  # fmt: skip


def _run_design(
    episode: Episode,
    bounds: dict[str, Bound],
    n: int,
    paths: int,
    seed: int,
    store: Path,
    options: dict[str, Any],
    crn: int | None = None,
) -> list[tuple[dict[str, float], float]]:
    parameters: dict[str, Any] = {"episode": str(episode.path), "crn_seed": seed if crn is None else crn}
    for name, bound in bounds.items():
        parameters[_identifier(name)] = {"low": bound.low, "high": bound.high, "log": bound.log}
    data = {"sweep": {"name": f"fit-{episode.name}", "job": JOB, "seed": seed, "paths": paths, "retries": 0},
            "design": {"kind": "lhs", "n": n}, "parameters": parameters}  # fmt: skip
    spec = parse_sweep_spec(data, f"fit of {episode.name}")
    design = build_design(spec)
    plan = Plan(name=spec.sweep.name, job=JOB, design=design, seeds=point_seeds(seed, len(design.points)),
                fixed=spec.fixed(), paths=paths, metrics=None, retries=0, allowed_failures=3, task_seconds=1.0,
                seed=seed, config=json.dumps(data, sort_keys=True))  # fmt: skip
    run_plan(plan, store, **options)
    results = xr.open_zarr(store, consolidated=False).load()
    out = []
    for i, point in enumerate(design.points):
        if int(results["status"].values[i]) != 1:
            raise ParameterError(f"fit of {episode.name}: design point {point} failed: {results['error'].values[i]}")
        rows = np.stack([results[name].values[i] for name in statistic_names(episode)], axis=1)
        values = {_dotted(k): _value(bounds[_dotted(k)], v) for k, v in point.items()}
        out.append((values, objective(episode, rows)))
    return out


def _value(bound: Bound, value: float) -> float:
    return float(round(value)) if bound.integer else float(value)


def _box(bounds: dict[str, Bound], centre: dict[str, float]) -> dict[str, Bound]:
    """A box a quarter of each bound wide (on the bound's scale) around ``centre``, clipped to the bounds."""
    out = {}
    for name, b in bounds.items():
        scale = (math.log, math.exp) if b.log else (float, float)
        low, high, mid = scale[0](b.low), scale[0](b.high), scale[0](centre[name])
        half = (high - low) / 8.0
        lo, hi = max(low, mid - half), min(high, mid + half)
        out[name] = Bound(low=scale[1](lo), high=scale[1](hi), log=b.log, integer=b.integer)
    return out


def write_fit(episode: Episode, result: FitResult, path: str | Path | None = None) -> Path:
    """Write the fit beside the episode (``<episode>.fitted.json``) atomically; return its path."""
    path = episode.fitted_path if path is None else Path(path)
    document = asdict(result)
    document["method"] = __doc__.split("\n\n")[0].replace("\n", " ")
    document["provenance"] = provenance(seed=result.seed, config=episode.text)
    return write_text_atomic(path, json.dumps(document, indent=1, sort_keys=True, default=float) + "\n")
