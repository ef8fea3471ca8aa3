"""Checks shared by the tests of refitted agent presets (test_abm_v24.py to test_abm_v28.py)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from calibration.abm import get_parameter, with_parameters


def assert_refitted(start: Any, preset: Any, calibration: dict, parameters: tuple[str, ...]) -> None:
    """``preset`` (a market config, with its ``[calibration]`` table) is the market ``start`` with exactly the
    refitted ``parameters`` replaced by the recorded estimates, each recorded start value being ``start``'s, and
    nothing else changed; the flow rule of v23 is kept."""
    estimates = calibration["estimates"]
    assert sorted(estimates) == sorted(parameters)
    for name in parameters:  # the market runs the recorded estimates, each moved from its start
        assert get_parameter(preset, name) == pytest.approx(estimates[name], rel=1e-12)
        assert calibration["start"]["values"][name] == get_parameter(start, name)
    assert replace(with_parameters(start, estimates), name=preset.name) == preset  # nothing else changed
    assert (preset.value.flow_learning_ticks_per_lot, preset.value.flow_learning_source) == (0.005, "others")


def day_points(rows: list[dict], key: str) -> np.ndarray:
    """Each stored day row's point of ``key`` (``[value, low, high]`` or a number; a fact not computed, as NaN)."""
    value = lambda v: float(v[0]) if isinstance(v, list) else float(v) if isinstance(v, (int, float)) else np.nan  # noqa: E731
    return np.array([value(row[key]) for row in rows])
