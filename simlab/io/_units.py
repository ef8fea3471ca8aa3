"""Convert exactly parsed decimals (int64 scaled by 10**scale) into integer ticks or lots."""

from __future__ import annotations

import numpy as np

from simlab.errors import DataError
from simlab.io._csv import Table


def to_units(
    table: Table,
    column: str,
    scale: int,
    unit: float | None = None,
    *,
    values: np.ndarray | None = None,
) -> tuple[np.ndarray, float]:
    """Return ``(values // unit, unit)`` for a decimal column parsed at ``scale`` decimals.

    ``unit`` is the tick (or lot) size in the file's units; when None it is inferred as the greatest common
    divisor of the values (so a window that only ever traded on multiples of 0.1 gets 0.1). Every value must be a
    whole multiple of the unit, otherwise the first offending line is named.
    """
    scaled = table[column] if values is None else values
    if unit is None:
        step = int(np.gcd.reduce(np.abs(scaled))) if scaled.size else 1
        step = max(step, 1)
    else:
        step = round(unit * 10**scale)
        if step <= 0 or abs(step - unit * 10**scale) > 1e-9 * step:
            raise DataError(f"{table.source}: unit {unit} of column {column!r} is not a multiple of 1e-{scale}")
    units = scaled // step
    table.require(units * step == scaled, f"must be a whole multiple of the unit {step / 10**scale:g}", column)
    return units, step / 10**scale
