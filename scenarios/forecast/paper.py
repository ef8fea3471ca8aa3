"""The seed paper (Rahman and Upadhye, hybrid VAR-FNN for OFI) reproduced: its sensitivity grid and Table 4.

:func:`sensitivity_configs` lists the paper's grid (VAR lag 1, 2, 5, 10; layers 128-64, 32-16, 32-32, 128-64-32,
64-32-16; ReLU, tanh, sigmoid; Adam and SGD: 120 configurations) or a Latin hypercube sample of it;
:func:`sensitivity` runs both hybrid variants of each configuration through the walk-forward protocol;
:func:`table4` lays out VAR, FNN and the two hybrids side by side on each series (the paper's Table 4 with the
nowcast variant added next to the honest one).
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Any

import numpy as np

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
    series: FlowSeries, configs: list[dict[str, Any]], *, base: NetworkSettings, rng: RandomLike, n_folds: int = 5
) -> list[dict[str, Any]]:
    """Run the honest and nowcast hybrids of every configuration; return one row per configuration with both R^2."""
    rows = []
    generator = as_generator(rng)
    for config in configs:
        settings = replace(
            base, layers=config["layers"], activation=config["activation"], optimizer=config["optimizer"]
        )
        models = [
            Hybrid(config["var_lags"], settings=settings),
            Hybrid(config["var_lags"], nowcast=True, settings=settings),
        ]
        scores = run_protocol(series, models, rng=generator, n_folds=n_folds).scores()
        rows.append(
            {**config, "r2_honest": scores["hybrid_honest"]["r2"], "r2_nowcast": scores["hybrid_nowcast"]["r2"]}
        )
    return rows


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
