"""Time helpers: durations in text, and exchange-local times to UTC nanoseconds."""

from __future__ import annotations

import re
from datetime import date as Date
from datetime import datetime, time
from zoneinfo import ZoneInfo

import numpy as np

from simlab.errors import ParameterError

_UNITS_NS = {
    "ns": 1,
    "us": 1_000,
    "ms": 1_000_000,
    "s": 10**9,
    "min": 60 * 10**9,
    "h": 3600 * 10**9,
    "d": 86400 * 10**9,
}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ns|us|ms|s|min|m|h|d)\s*$")


def parse_duration_ns(text: str | int) -> int:
    """Return a duration in ns from text such as ``"250ms"``, ``"1s"``, ``"5min"``, ``"1h"`` (an int is ns)."""
    if isinstance(text, (int, np.integer)) and not isinstance(text, bool):
        if text <= 0:
            raise ParameterError(f"a duration must be > 0 ns; got {text}")
        return int(text)
    match = _DURATION.match(str(text))
    if not match:
        raise ParameterError(
            f"a duration must look like 250ms, 1s, 5min or 1h (units {sorted(_UNITS_NS)}); got {text!r}"
        )
    value, unit = (
        float(match.group(1)),
        match.group(2).replace("m", "min") if match.group(2) == "m" else match.group(2),
    )
    ns = round(value * _UNITS_NS[unit])
    if ns <= 0:
        raise ParameterError(f"a duration must be > 0; got {text!r}")
    return ns


def local_midnight_utc_ns(day: Date | str, time_zone: str) -> int:
    """Return the UTC ns timestamp of local midnight of ``day`` in ``time_zone`` (e.g. America/New_York)."""
    if isinstance(day, str):
        day = Date.fromisoformat(day if "-" in day else f"{day[:4]}-{day[4:6]}-{day[6:8]}")
    midnight = datetime.combine(day, time(0), tzinfo=ZoneInfo(time_zone))
    return int(midnight.timestamp()) * 10**9
