"""Designs: the points of a sweep in order (grid, Latin hypercube, scrambled Sobol) and their seeds.

The root seed is split once, ``SeedSequence(seed).spawn(2)``: the first child seeds the sampler of an ``lhs`` or
``sobol`` design (:mod:`scipy.stats.qmc`), the second spawns one seed per point in design order. A point's seed so
depends only on the spec and the point's place in the design, never on a worker or the clock.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from scenarios.sweep.spec import RangeTable, SweepSpec


@dataclass(frozen=True)
class Design:
    """The points of a sweep laid out on the store's design dimensions.

    Attributes
    ----------
    dims
        The store's design dimensions: one per swept parameter for a grid, ``("point",)`` for a sampled design.
    coords
        Coordinate values of each design dimension.
    point_coords
        For a sampled design, each swept parameter's value at every point (coordinates along ``point``).
    points
        The swept parameters of each point, in design order (C order over ``dims``).
    """

    dims: tuple[str, ...]
    coords: dict[str, np.ndarray]
    point_coords: dict[str, np.ndarray]
    points: list[dict[str, Any]]

    @property
    def shape(self) -> tuple[int, ...]:
        """Return the size of each design dimension."""
        return tuple(len(self.coords[d]) for d in self.dims)


def build_design(spec: SweepSpec) -> Design:
    """Return the points of ``spec``'s design (see :class:`Design`)."""
    swept = spec.swept()
    if spec.design.kind == "grid":
        if not swept:
            return Design(("point",), {"point": np.arange(1)}, {}, [{}])
        coords = {name: _coordinate(values) for name, values in swept.items()}
        points = [dict(zip(swept, combo, strict=True)) for combo in itertools.product(*swept.values())]
        return Design(tuple(swept), coords, {}, points)
    n = int(spec.design.n)
    sampler_seed = np.random.SeedSequence(spec.sweep.seed).spawn(2)[0]
    unit = _unit_sample(spec.design.kind, len(swept), n, np.random.default_rng(sampler_seed))
    columns = {name: _scale(values, unit[:, j]) for j, (name, values) in enumerate(swept.items())}
    points = [{name: column[i] for name, column in columns.items()} for i in range(n)]
    point_coords = {name: _coordinate(column) for name, column in columns.items()}
    return Design(("point",), {"point": np.arange(n)}, point_coords, points)


def point_seeds(seed: int, n: int) -> list[np.random.SeedSequence]:
    """Return the seeds of ``n`` points in design order, spawned from the root ``seed``."""
    return np.random.SeedSequence(seed).spawn(2)[1].spawn(n)


def _unit_sample(kind: str, dimension: int, n: int, rng: np.random.Generator) -> np.ndarray:
    if dimension == 0:
        return np.zeros((n, 0))
    from scipy.stats import qmc  # imported here: the workers import this module, and scipy.stats costs ~1 s of CPU

    if kind == "lhs":
        return qmc.LatinHypercube(d=dimension, rng=rng).random(n)
    return qmc.Sobol(d=dimension, scramble=True, rng=rng).random_base2(int(n).bit_length() - 1)


def _scale(values: list | RangeTable, unit: np.ndarray) -> list:
    if isinstance(values, RangeTable):
        if values.log:
            low, high = np.log(values.low), np.log(values.high)
            return [float(v) for v in np.exp(low + unit * (high - low))]
        return [float(v) for v in values.low + unit * (values.high - values.low)]
    levels = np.minimum((unit * len(values)).astype(np.int64), len(values) - 1)
    return [values[i] for i in levels]


def _coordinate(values: list) -> np.ndarray:
    if all(isinstance(v, bool) for v in values):
        return np.array(values, dtype=bool)
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        kind = np.int64 if all(isinstance(v, int) for v in values) else np.float64
        return np.array(values, dtype=kind)
    return np.array([str(v) for v in values], dtype=object)
