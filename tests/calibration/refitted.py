"""Checks shared by the tests of refitted agent presets (test_abm_v24.py to test_abm_v29.py)."""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from calibration.abm import get_parameter, with_parameters
from calibration.abm_metaorders import judge, merge
from calibration.abm_paths import GOALS, meets
from calibration.abm_refit import CLOCK_MIX_PATH_NAMES

PRESETS = Path(__file__).parents[2] / "calibration" / "presets"


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


def held_out_days(records: dict[str, str], first_seed: int) -> dict[str, list[dict]]:
    """The stored day rows of each market (``version -> record file`` under calibration/presets/), each row checked
    to be of its preset as it is now (name and SHA-256) and the 11 days to be ``first_seed`` on."""
    out = {}
    for v, name in records.items():
        rows = json.loads((PRESETS / name).read_text())
        digest = hashlib.sha256((PRESETS / f"abm-amzn-{v}.toml").read_bytes()).hexdigest()
        assert [row["seed"] for row in rows] == list(range(first_seed, first_seed + 11)), name
        assert all(row["preset"] == f"abm-amzn-{v}" and row["preset_sha256"] == digest for row in rows), name
        out[v] = rows
    return out


def every_goal_days(rows: list[dict]) -> list[int]:
    """The seeds of the stored day rows that meet every one of the issue's goals at once
    (:data:`calibration.abm_paths.GOALS`, each read at its point)."""
    return [row["seed"] for row in rows if all(meets(goal, day_points([row], goal)[0]) for goal in GOALS)]


def day_points(rows: list[dict], key: str) -> np.ndarray:
    """Each stored day row's point of ``key`` (``[value, low, high]`` or a number; a fact not computed, as NaN)."""
    value = lambda v: float(v[0]) if isinstance(v, list) else float(v) if isinstance(v, (int, float)) else np.nan  # noqa: E731
    return np.array([value(row[key]) for row in rows])


def judged(preset: str, record: str, seeds: tuple[int, int], undefined: tuple[int, ...] = ()) -> dict:
    """The verdict of a stored held-out record of ``preset`` (its file's stem), recomputed by the judge: the preset's
    hash checked, its 48 seeds the rule's, none missing, and exactly the ``undefined`` seeds without a reading (the
    verdict then provisional)."""
    path = PRESETS / record
    document = json.loads(path.read_text())
    assert document["preset_sha256"] == hashlib.sha256((PRESETS / f"{preset}.toml").read_bytes()).hexdigest()
    verdict = judge(*merge([document], [str(path)]))
    assert (verdict["first_seed"], verdict["last_seed"], verdict["seeds"]) == (*seeds, 48)
    assert verdict["undefined_seeds"] == list(undefined) and verdict["missing_seeds"] == []
    assert verdict["provisional"] is bool(undefined)
    return verdict


def rounded(verdict: dict) -> tuple[float, ...]:
    """The weighted and the log-log exponents with their 95 % intervals, to 3 decimals."""
    names = ("exponent", "exponent_interval_95", "loglog_exponent", "loglog_exponent_interval_95")
    return tuple(round(v, 3) for name in names for v in np.atleast_1d(verdict[name]))


def assert_refit_run(calibration: dict, *, objectives: tuple[float, float], commit: str, simulated: int) -> None:
    """The refit ran as the v27-v29 rules' command says (12 Latin-hypercube points of span 0.3, at most 120
    evaluations, 8 sigma paths, 2 paths, the 17 clock-mix-path moments, a 1,200-s budget, not converged) at the
    rule's ``commit``, from the start objective to the end one (``objectives``), with ``simulated`` Nelder-Mead
    candidates."""
    assert calibration["start"]["objective"] == pytest.approx(objectives[0], abs=0.01)
    assert calibration["objective"] == pytest.approx(objectives[1], abs=0.01)
    settings, search = calibration["settings"], calibration["search"]
    assert (settings["n_lhs"], settings["lhs_span"], settings["maxfev"], settings["n_sigma_paths"]) == (12, 0.3, 120, 8)
    assert calibration["source"]["moments"] == "clock-mix-path" and settings["n_paths"] == 2
    assert calibration["provenance"]["git_commit"].startswith(commit)  # the rule's commit, before the refit
    assert (search["search_budget_s"], search["nelder_mead_success"]) == (1200.0, False)
    assert search["nelder_mead_simulated"] == simulated


def fit_z_scores(versions: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """Per clock-mix-path moment, each refitted preset's in-sample z-score (fitted minus real, in the real moment's
    standard errors), read from the presets' ``[calibration]`` tables; the moments checked to be those 17."""
    fits = {v: tomllib.loads((PRESETS / f"abm-amzn-{v}.toml").read_text())["calibration"] for v in versions}
    assert all(list(fit["moments"]) == list(CLOCK_MIX_PATH_NAMES) for fit in fits.values())
    return {
        name: {v: (d["moments"][name]["simulated"] - d["moments"][name]["real"]) / d["moments"][name]["real_se"]
               for v, d in fits.items()}
        for name in CLOCK_MIX_PATH_NAMES
    }  # fmt: skip
