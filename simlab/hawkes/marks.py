"""Mark laws: the size (in lots, >= 1) of each simulated event, drawn independently of the event times.

A law has one method, ``sample(rng, n) -> int64 (n,)``. :func:`simlab.hawkes.simulate_hawkes` takes one law per
dimension (or one law for all) and draws the marks of a path from that path's own generator, after its times, so
adding marks never changes the event times.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from simlab.errors import ParameterError


@runtime_checkable
class MarkLaw(Protocol):
    """A law of event sizes in lots."""

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Draw ``n`` sizes (int64 lots >= 1)."""
        ...


@dataclass(frozen=True, eq=False)
class EmpiricalMarks:
    """Resample observed sizes (lots, whole numbers >= 1) uniformly with replacement.

    Parameters
    ----------
    values
        The observed sizes in lots, e.g. the ``qty_lots`` of real trades.
    """

    values: np.ndarray

    def __post_init__(self) -> None:
        raw = np.asarray(self.values)
        if raw.ndim != 1 or raw.shape[0] == 0 or raw.dtype.kind not in "iuf":
            raise ParameterError(
                f"`values` of EmpiricalMarks must be a non-empty 1-D numeric array; got {raw.dtype} {raw.shape}"
            )
        bad = ~np.isfinite(raw) | (raw < 1) | (raw != np.round(raw)) if raw.dtype.kind == "f" else raw < 1
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ParameterError(
                f"`values` of EmpiricalMarks must be whole numbers of lots >= 1; values[{row}] = {raw[row]}"
            )
        values = raw.astype(np.int64)
        values.setflags(write=False)
        object.__setattr__(self, "values", values)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Draw ``n`` sizes (int64 lots) uniformly from ``values``."""
        return self.values[rng.integers(0, self.values.shape[0], size=n)]


@dataclass(frozen=True)
class GeometricMarks:
    """Geometric sizes on {1, 2, ...} with the given mean (lots >= 1): P(k) = p (1 - p)^(k - 1), p = 1 / mean."""

    mean: float

    def __post_init__(self) -> None:
        if not (np.isfinite(self.mean) and self.mean >= 1):
            raise ParameterError(f"`mean` of GeometricMarks must be finite and >= 1 lot; got {self.mean!r}")

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Draw ``n`` sizes (int64 lots)."""
        return rng.geometric(1.0 / self.mean, size=n).astype(np.int64)


@dataclass(frozen=True)
class LogNormalMarks:
    """Sizes ``max(1, round(exp(N(mu, sigma^2))))`` lots (round half to even)."""

    mu: float
    sigma: float

    def __post_init__(self) -> None:
        if not np.isfinite(self.mu):
            raise ParameterError(f"`mu` of LogNormalMarks must be finite; got {self.mu!r}")
        if not (np.isfinite(self.sigma) and self.sigma >= 0):
            raise ParameterError(f"`sigma` of LogNormalMarks must be finite and >= 0; got {self.sigma!r}")

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Draw ``n`` sizes (int64 lots)."""
        draws = np.rint(rng.lognormal(self.mu, self.sigma, size=n))
        return np.maximum(draws, 1.0).astype(np.int64)


def mark_laws(marks: MarkLaw | Sequence[MarkLaw] | None, dimension: int) -> tuple[MarkLaw, ...] | None:
    """Return one law per dimension from ``marks`` (one law for all, a sequence of ``dimension`` laws, or None)."""
    if marks is None:
        return None
    laws = (marks,) * dimension if isinstance(marks, MarkLaw) else tuple(marks)
    if len(laws) != dimension:
        raise ParameterError(
            f"`marks` of simulate_hawkes must hold one law per dimension ({dimension}); got {len(laws)}"
        )
    for i, law in enumerate(laws):
        if not isinstance(law, MarkLaw):
            raise ParameterError(f"`marks[{i}]` of simulate_hawkes must have a sample(rng, n) method; got {law!r}")
    return laws


def draw_marks(laws: tuple[MarkLaw, ...], dims: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draw each event's size from its dimension's law (dimension by dimension, in event order)."""
    out = np.ones(dims.shape[0], dtype=np.int64)
    for i, law in enumerate(laws):
        where = np.flatnonzero(dims == i)
        out[where] = law.sample(rng, where.shape[0])
    return out
