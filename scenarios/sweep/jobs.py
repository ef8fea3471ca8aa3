"""The job registry: a job is a pure function ``job(seed, paths, **parameters) -> xarray.Dataset``.

``seed`` is the point's :class:`numpy.random.SeedSequence`, ``paths`` the number of paths per point and the keyword
arguments the point's parameters (swept and fixed). The Dataset holds the job's metrics (e.g. one variable per
metric over a ``path`` dimension); its variables keep the same dimensions and shapes at every point. A job never
knows whether it runs on a laptop or a cluster.

Jobs are registered by name as ``"package.module:function"`` strings, imported only when used, so that a new job
plugs in with one line (``JOBS["stress"] = "scenarios.stress.run:job"``) or one call of :func:`register`; a spec may
also name any dotted path directly. A job's parameters are the keyword arguments of its signature; a job that takes
``**parameters`` checks the names itself with a ``check_parameters(names)`` attribute.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
import xarray as xr

from simlab.errors import ParameterError

JOBS: dict[str, str] = {
    "amm": "scenarios.amm.sweep:amm_job",
    "hawkes": "scenarios.sweep.jobs:hawkes_job",
    "forecast": "scenarios.forecast.paper:sensitivity_job",
    "abm": "scenarios.sweep.abm:abm_job",
}


def register(name: str, target: str) -> None:
    """Register the job ``name`` as the function at the dotted path ``target`` (``"package.module:function"``)."""
    if not name.isidentifier() or ":" not in target:
        raise ParameterError(f"job {name!r} -> {target!r}: a job name is an identifier and its target reads "
                             f"'package.module:function'")  # fmt: skip
    JOBS[name] = target


def job_names() -> list[str]:
    """Return the registered job names."""
    return sorted(JOBS)


def check_job_name(name: str) -> None:
    """Raise ValueError unless ``name`` is a registered job or looks like a dotted path."""
    if name not in JOBS and not _is_dotted(name):
        raise ValueError(f"must be one of the jobs {', '.join(job_names())} or a dotted path 'package.module:function'")


def resolve_job(name: str) -> Callable[..., Any]:
    """Return the job function of a registered ``name`` or a dotted path (``package.module:function`` or
    ``package.module.function``)."""
    target = JOBS.get(name, name)
    if not _is_dotted(target):
        raise ParameterError(f"job {name!r} is unknown; the valid jobs are {', '.join(job_names())} or a dotted "
                             f"path 'package.module:function'")  # fmt: skip
    module_name, _, attribute = target.rpartition(":") if ":" in target else target.rpartition(".")
    try:
        function = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ParameterError(f"job {name!r}: cannot import {attribute!r} from module {module_name!r} ({exc}); the "
                             f"registered jobs are {', '.join(job_names())}") from None  # fmt: skip
    if not callable(function):
        raise ParameterError(f"job {name!r}: {target} is not a function")
    return function


def check_parameters(name: str, function: Callable[..., Any], values: dict[str, list[Any]]) -> None:
    """Check the parameter names (and, where the job checks them, the values) a spec gives the job ``name``."""
    signature = inspect.signature(function)
    accepted = [p.name for p in list(signature.parameters.values())[2:] if p.kind is p.KEYWORD_ONLY or
                p.kind is p.POSITIONAL_OR_KEYWORD]  # fmt: skip
    open_ended = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    unknown = sorted(set(values) - set(accepted))
    if unknown and not open_ended:
        raise ParameterError(f"job {name} has no parameter {', '.join(map(repr, unknown))}; its parameters are "
                             f"{', '.join(accepted) or '(none)'}")  # fmt: skip
    check = getattr(function, "check_parameters", None)
    if check is not None:
        check(values)


def _is_dotted(name: str) -> bool:
    module, _, attribute = name.rpartition(":") if ":" in name else name.rpartition(".")
    return bool(module) and attribute.isidentifier() and all(p.isidentifier() for p in module.split("."))


def hawkes_job(
    seed: np.random.SeedSequence,
    paths: int,
    *,
    baseline: float = 1.0,
    branching: float = 0.5,
    decay: float = 2.0,
    duration_s: float = 600.0,
) -> xr.Dataset:
    """Simulate ``paths`` paths of a one-dimensional exponential Hawkes process and return their event counts and
    rates (events/s) beside the closed-form stationary rate ``baseline / (1 - branching)``.

    Parameters
    ----------
    seed, paths
        The point's seed and number of paths.
    baseline
        Baseline intensity (events/s).
    branching
        Branching ratio (kernel mass, in [0, 1)).
    decay
        Kernel decay (1/s).
    duration_s
        Length of each path (s).
    """
    from simlab.hawkes.closed_form import stationary_intensity
    from simlab.hawkes.params import HawkesParams
    from simlab.hawkes.simulate import simulate_hawkes

    params = HawkesParams([baseline], [[branching]], [[decay]])
    simulated = simulate_hawkes(params, duration_s, rng=seed, n_paths=paths)
    counts = np.array([path.times_s.shape[0] for path in simulated], dtype=np.int64)
    return xr.Dataset(
        {
            "n_events": ("path", counts),
            "rate_per_s": ("path", counts / duration_s),
            "stationary_rate_per_s": ((), float(stationary_intensity(params)[0])),
        }
    )
