"""The seed paper (Rahman and Upadhye, hybrid VAR-FNN for OFI) reproduced: its sensitivity grid and Table 4.

:func:`sensitivity_configs` lists the paper's grid (VAR lag 1, 2, 5, 10; layers 128-64, 32-16, 32-32, 128-64-32,
64-32-16; ReLU, tanh, sigmoid; Adam and SGD: 120 configurations) or a Latin hypercube sample of it;
:func:`sensitivity` runs both hybrid variants of each configuration (:func:`score_config`) through the walk-forward
protocol, in process or through the sweep runner's map on Dask (``simlab forecast run --workers N``), and
:func:`sensitivity_job` is the same run as the sweep runner's ``forecast`` job (``simlab sweep
sweep_forecast_sensitivity -o STORE``);
:func:`table4` lays out VAR, FNN and the two hybrids side by side on each series (the paper's Table 4 with the
nowcast variant added next to the honest one).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import xarray as xr

from scenarios.forecast.data import FlowSeries
from scenarios.forecast.neural import ACTIVATIONS as ACTIVATION_LAYERS
from scenarios.forecast.neural import OPTIMIZERS, Hybrid, NetworkSettings
from scenarios.forecast.protocol import ProtocolResult, run_protocol
from scenarios.report_html import markdown_table
from simlab.errors import ParameterError
from simlab.random import RandomLike, as_generator

VAR_LAGS = (1, 2, 5, 10)
LAYERS = ((128, 64), (32, 16), (32, 32), (128, 64, 32), (64, 32, 16))
ACTIVATIONS = tuple(ACTIVATION_LAYERS)
TABLE4_MODELS = ("var", "fnn", "hybrid_honest", "hybrid_nowcast")


def sensitivity_configs(kind: str = "grid", n: int = 12, *, rng: RandomLike = 0) -> list[dict[str, Any]]:
    """Return the paper's configurations: the full ``"grid"`` (120) or ``n`` of them by ``"lhs"`` (Latin hypercube:
    each factor's levels are spread evenly over the n draws, then the columns are shuffled independently)."""
    factors = (VAR_LAGS, LAYERS, ACTIVATIONS, OPTIMIZERS)
    if kind == "grid":
        rows = list(itertools.product(*factors))
    elif kind == "lhs":
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ParameterError(f"`n` of sensitivity_configs must be an int >= 1; got {n!r}")
        generator = as_generator(rng)
        columns = [[levels[(i * len(levels)) // n] for i in generator.permutation(n)] for levels in factors]
        rows = list(zip(*columns, strict=True))
    else:
        raise ParameterError(f"`kind` of sensitivity_configs must be 'grid' or 'lhs'; got {kind!r}")
    return [{"var_lags": r[0], "layers": r[1], "activation": r[2], "optimizer": r[3]} for r in rows]


def sensitivity(
    series: FlowSeries,
    configs: list[dict[str, Any]],
    *,
    base: NetworkSettings,
    rng: RandomLike,
    n_folds: int = 5,
    mapper: Callable[[Callable[[Any], Any], list[Any]], list[Any]] | None = None,
) -> list[dict[str, Any]]:
    """Run the honest and nowcast hybrids of every configuration; return one row per configuration with both R^2.

    Configuration ``i`` runs on the ``i``-th SeedSequence spawned from ``rng``'s, so the rows do not depend on where
    or in which order the configurations run: ``mapper(function, items) -> list`` runs :func:`score_config` over
    them (default: in this process; the sweep runner's :class:`scenarios.sweep.cluster.ClusterMap` runs them on a
    Dask cluster).
    """
    seeds = as_generator(rng).bit_generator.seed_seq.spawn(len(configs))
    score = functools.partial(score_config, series, base=base, n_folds=n_folds)
    items = list(zip(configs, seeds, strict=True))
    r2 = mapper(score, items) if mapper is not None else [score(item) for item in items]
    return [{**config, "r2_honest": h, "r2_nowcast": n} for config, (h, n) in zip(configs, r2, strict=True)]


def score_config(
    series: FlowSeries, item: tuple[dict[str, Any], np.random.SeedSequence], *, base: NetworkSettings, n_folds: int
) -> tuple[float, float]:
    """Return the honest and the nowcast hybrid's R^2 on ``series`` for ``item = (config, seed)``: the config's VAR
    lags, layers, activation and optimizer on the network settings ``base``, through the walk-forward protocol."""
    config, seed = item
    settings = replace(base, layers=tuple(config["layers"]), activation=config["activation"],
                       optimizer=config["optimizer"])  # fmt: skip
    models = [
        Hybrid(config["var_lags"], settings=settings),
        Hybrid(config["var_lags"], nowcast=True, settings=settings),
    ]
    scores = run_protocol(series, models, rng=seed, n_folds=n_folds).scores()
    return scores["hybrid_honest"]["r2"], scores["hybrid_nowcast"]["r2"]


def sensitivity_job(
    seed: np.random.SeedSequence,
    paths: int,
    *,
    var_lags: int = 5,
    layers: str = "32-16",
    activation: str = "relu",
    optimizer: str = "adam",
    preset: str = "binance-usdm-btcusdt",
    duration_s: float = 1800.0,
    series_seed: int = 0,
    n_folds: int = 5,
    max_epochs: int = 50,
    patience: int = 5,
    max_train: int = 4096,
) -> xr.Dataset:
    """Score one configuration of the paper's sensitivity grid: the ``forecast`` job of the sweep runner.

    Every point forecasts the same series (``duration_s`` seconds of the Hawkes ``preset`` simulated from
    ``series_seed``, kept in the worker); path ``k`` runs the honest and nowcast hybrids through the walk-forward
    protocol with the ``k``-th seed spawned from the point's seed. Returns ``r2_honest`` and ``r2_nowcast`` over
    ``path``. ``layers`` reads like ``"128-64-32"``.
    """
    try:
        widths = tuple(int(width) for width in str(layers).split("-"))
    except ValueError:
        raise ParameterError(f"`layers` of the forecast job must read like '128-64'; got {layers!r}") from None
    series = _preset_series(preset, float(duration_s), int(series_seed))
    base = NetworkSettings(max_epochs=max_epochs, patience=patience, max_train=max_train)
    config = {"var_lags": var_lags, "layers": widths, "activation": activation, "optimizer": optimizer}
    r2 = np.array([score_config(series, (config, child), base=base, n_folds=n_folds) for child in seed.spawn(paths)])
    return xr.Dataset({"r2_honest": ("path", r2[:, 0]), "r2_nowcast": ("path", r2[:, 1])})


@functools.cache
def _preset_series(preset: str, duration_s: float, series_seed: int) -> FlowSeries:
    from calibration.presets import load_preset
    from scenarios.forecast.data import simulate_series

    return simulate_series(load_preset(preset).params, duration_s, rng=series_seed)


def sensitivity_table(rows: list[dict[str, Any]]) -> str:
    """Return the sensitivity rows as a markdown table."""
    header = ["VAR lag", "layers", "activation", "optimizer", "R^2 honest", "R^2 nowcast"]
    body = [
        [
            r["var_lags"],
            "-".join(map(str, r["layers"])),
            r["activation"],
            r["optimizer"],
            r["r2_honest"],
            r["r2_nowcast"],
        ]
        for r in rows
    ]
    return markdown_table(header, body)


def table4(results: dict[str, ProtocolResult]) -> str:
    """Return the paper's Table 4 layout: per model (VAR, FNN, hybrid honest, hybrid nowcast), MSE, R^2 and signal
    accuracy on each series."""
    scores = {name: result.scores() for name, result in results.items()}
    header = ["model"] + [f"{name} {m}" for name in results for m in ("MSE", "R^2", "accuracy")]
    body = []
    for model in TABLE4_MODELS:
        row: list[Any] = [model]
        for name in results:
            s = scores[name].get(model)
            row += [np.nan] * 3 if s is None else [s["mse"], s["r2"], s["accuracy"]]
        body.append(row)
    return markdown_table(header, body)
