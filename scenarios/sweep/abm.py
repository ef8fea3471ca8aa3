"""The sweep runner's ``abm`` job: the agent-based market at a point's parameters, summarised by the calibration's
moments (:func:`calibration.abm.simulate_path_moments`, the function the calibration maps over the cluster).

A spec sweeps the market config's dotted parameters (quoted TOML keys, e.g. ``"value.arrival_rate_per_s" = [0.02,
0.05]``) of a config (a library name such as ``abm_rmsc04``, a TOML file or a calibrated preset)::

    [sweep]
    name = "value-arrivals"
    job = "abm"
    seed = 3
    paths = 4

    [parameters]
    config = "abm_rmsc04"
    duration_s = 1800.0
    warmup_s = 600.0
    "value.arrival_rate_per_s" = [0.02, 0.05, 0.1]
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import xarray as xr

from calibration.abm import MOMENTS, PathRun, get_parameter, simulate_path_moments, with_parameters
from simlab.agents import MarketConfig
from simlab.errors import DataError, ParameterError
from simlab.random import seed_parts

NAMED = ("config", "duration_s", "warmup_s", "block_s")


def abm_job(
    seed: np.random.SeedSequence,
    paths: int,
    *,
    config: str = "abm_rmsc04",
    duration_s: float = 1800.0,
    warmup_s: float = 0.0,
    block_s: float = 60.0,
    **overrides: float,
) -> xr.Dataset:
    """Simulate ``paths`` markets and return each one's moments (:data:`calibration.abm.MOMENTS`) over ``path``.

    Parameters
    ----------
    seed, paths
        The point's seed (path ``k`` runs on its ``k``-th spawned child) and number of paths.
    config
        The market: a library name (``abm_rmsc04``), a market TOML file or a calibrated preset.
    duration_s
        Seconds simulated from the open.
    warmup_s
        Seconds left out before the window whose moments are returned (the window ends at ``duration_s``).
    block_s
        Length of the moments' blocks (s).
    **overrides
        Dotted ``table.key`` parameters of the market config (e.g. ``value.arrival_rate_per_s``) replaced.
    """
    market = with_parameters(_market(config), overrides)
    start = market.open_ns + int(round(warmup_s * 1e9))
    end = market.open_ns + int(round(duration_s * 1e9))
    runs = [PathRun(market, *seed_parts(child), float(duration_s), start, end, float(block_s))
            for child in seed.spawn(paths)]  # fmt: skip
    moments = [simulate_path_moments(run) for run in runs]
    for k, value in enumerate(moments):
        if isinstance(value, str):
            raise DataError(f"abm job: path {k} has no moments ({value})")
    table = np.array(moments).reshape(paths, len(MOMENTS))
    return xr.Dataset({name: ("path", table[:, i]) for i, name in enumerate(MOMENTS)})


def _check(values: dict[str, list[Any]]) -> None:
    """Check a spec's values for the ``abm`` job: the configs load, every override is a parameter of each, and the
    window is not empty."""
    configs = [_market(str(name)) for name in values.get("config", ["abm_rmsc04"])]
    for name in sorted(set(values) - set(NAMED)):
        for market in configs:
            try:
                get_parameter(market, name)
            except ParameterError:
                raise ParameterError(f"job abm has no parameter {name!r}; its parameters are {', '.join(NAMED)} "
                                     f"and the market config's `table.key` ones (e.g. value.arrival_rate_per_s, "
                                     f"market_maker.pov)") from None  # fmt: skip
    for duration in values.get("duration_s", [1800.0]):
        for warmup in values.get("warmup_s", [0.0]):
            if not 0 <= float(warmup) < float(duration):
                raise ParameterError(f"job abm: `warmup_s` must be in [0, duration_s); got warmup_s={warmup}, "
                                     f"duration_s={duration}")  # fmt: skip


abm_job.check_parameters = _check  # type: ignore[attr-defined]


@functools.cache
def _market(config: str) -> MarketConfig:
    from calibration.abm import load_abm_preset
    from scenarios.cli.abm import resolve_config

    return load_abm_preset(resolve_config(config))[0]
