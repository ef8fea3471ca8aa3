"""The stress runner: the config an episode builds, same seed same bytes on 1 and 2 workers, the stress store, the
CLI's tiny run and its bad input, and the fitter's objective."""

from __future__ import annotations

import copy
import json
import tomllib
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from scenarios.cli import app
from scenarios.stress.episodes import load_episode
from scenarios.stress.fit import _box, objective
from scenarios.stress.run import episode_config, run_stress, simulate_episode, within_tolerance
from simlab.errors import ParameterError
from simlab.metrics.crash import STATISTICS
from simlab.store import list_groups, load_store

from .test_episodes import BASE

runner = CliRunner()


def write_episode(tmp_path: Path, data: dict, name: str = "toy") -> Path:
    lines = []

    def emit(prefix: str, table: dict) -> None:
        scalars = {k: v for k, v in table.items() if not isinstance(v, dict) or k in ("fixed", "overrides")}
        lines.append(f"[{prefix}]")
        lines.extend(f"{k} = {_toml(v)}" for k, v in scalars.items())
        for k, v in table.items():
            if isinstance(v, dict) and k not in ("fixed", "overrides"):
                emit(f"{prefix}.{k}", v)

    for key, value in data.items():
        if key == "sources":
            for source in value:
                lines.append("[[sources]]")
                lines.extend(f"{k} = {_toml(v)}" for k, v in source.items())
        else:
            emit(key, value)
    path = tmp_path / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n")
    tomllib.loads(path.read_text())
    return path


def _toml(value) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f'"{k}" = {_toml(v)}' for k, v in value.items()) + " }"
    return json.dumps(value)


@pytest.fixture
def toy(tmp_path):
    return load_episode(write_episode(tmp_path, copy.deepcopy(BASE)))


def test_the_config_carries_the_background_overrides_and_the_shocks(tmp_path):
    data = copy.deepcopy(BASE)
    data["background"] |= {"overrides": {"fundamental.volatility_ticks_per_sqrt_s": 2.0}, "override_reason": "r"}
    episode = load_episode(write_episode(tmp_path, data))
    config = episode_config(episode, {"sell_program.quantity_lots": 500.0})
    assert config.fundamental.volatility_ticks_per_sqrt_s == 2.0
    assert config.fundamental.mean_ticks == 22382.0  # the rest of the calibrated preset
    ex = config.execution
    assert (ex.count, ex.strategy, ex.side, ex.quantity_lots, ex.start_s, ex.duration_s) == (
        1,
        "pov",
        -1,
        500,
        300.0,
        60.0,
    )
    with pytest.raises(ParameterError, match=r"`sell_program.quantity_lots` must lie in \[100, 1000\]; got 5000"):
        episode_config(episode, {"sell_program.quantity_lots": 5000.0})
    with pytest.raises(ParameterError, match="no stored fit"):
        episode_config(episode)


def test_same_seed_same_bytes_on_one_and_two_workers(toy):
    values = {"sell_program.quantity_lots": 800.0}
    one = simulate_episode(toy, 3, seed=5, values=values, workers=1)
    two = simulate_episode(toy, 3, seed=5, values=values, workers=2)
    for a, b in zip(one, two, strict=True):
        assert a.mid.tobytes() == b.mid.tobytes() and a.volume.tobytes() == b.volume.tobytes()
    other = simulate_episode(toy, 1, seed=6, values=values)
    assert other[0].mid.tobytes() != one[0].mid.tobytes()


def test_the_stress_store_holds_paths_and_statistics(toy, tmp_path):
    store, rows = run_stress(toy, tmp_path / "s.zarr", n_paths=2, seed=3, values={"sell_program.quantity_lots": 900.0})
    assert list_groups(store) == ["paths", "statistics"]
    paths, stats = load_store(store, "paths"), load_store(store, "statistics")
    assert paths["mid"].dims == ("path", "time") and paths.sizes == {"path": 2, "time": 601}
    assert {"mid", "depth", "spread", "volume", "maker_gross", "maker_net"} <= set(paths.data_vars)
    assert "liquidations" not in paths  # no leveraged traders in this market
    assert (paths.attrs["scenario"], paths.attrs["world"], paths.attrs["event_s"], paths.attrs["direction"]) == (
        "toy", "abm", 300.0, -1)  # fmt: skip
    assert paths.attrs["seed"] == 3 and json.loads(paths.attrs["shock_values"]) == {"sell_program.quantity_lots": 900.0}
    assert list(stats["statistic"].values) == list(STATISTICS)
    np.testing.assert_array_equal(stats["value"].values, rows)
    assert np.all(rows[:, 0] >= 0) and np.all((rows[:, 1] >= 0) & (rows[:, 1] <= 300))


def test_within_tolerance_and_the_objective_count_in_tolerance_units(toy):
    rows = np.full((3, len(STATISTICS)), np.nan)
    rows[:, 0], rows[:, 1] = [0.05, 0.059, 0.07], [60.0, 85.0, 60.0]
    assert within_tolerance(toy, rows).tolist() == [True, True, False]
    # means: drawdown 0.0597 (0.97 tolerances off), time to trough 68.3 s (0.28 off)
    assert objective(toy, rows) == pytest.approx(((0.179 / 3 - 0.05) / 0.01) ** 2 + ((205 / 3 - 60) / 30) ** 2)
    box = _box(toy.parameters(), {"sell_program.quantity_lots": 150.0})
    assert (box["sell_program.quantity_lots"].low, box["sell_program.quantity_lots"].high) == (100.0, 262.5)


def test_cli_runs_a_tiny_stress_and_refuses_bad_input(toy, tmp_path):
    fit = {"parameters": {"sell_program.quantity_lots": 700.0}}
    toy.fitted_path.write_text(json.dumps(fit))
    store = tmp_path / "cli.zarr"
    result = runner.invoke(app, ["stress", "run", str(toy.path), "--paths", "2", "--seed", "1", "-o", str(store)])
    assert result.exit_code == 0, result.output
    assert load_store(store, "paths").sizes["path"] == 2 and "share within tolerance" in result.output
    bad = runner.invoke(app, ["stress", "run", str(toy.path), "--world", "moon", "-o", str(tmp_path / "x.zarr")])
    assert bad.exit_code == 2 and "--world must be one of abm, hawkes, generator, amm; got 'moon'" in bad.output
    again = runner.invoke(app, ["stress", "run", str(toy.path), "--paths", "1", "-o", str(store)])
    assert again.exit_code == 2 and "exists; pass --overwrite" in again.output
    missing = runner.invoke(app, ["stress", "run", "crash_1929_10_29_nowhere", "-o", str(tmp_path / "y.zarr")])
    assert missing.exit_code == 2 and "no such file" in missing.output
    zero = runner.invoke(app, ["stress", "run", str(toy.path), "--paths", "0", "-o", str(tmp_path / "z.zarr")])
    assert zero.exit_code == 2 and "--paths must be an int >= 1; got 0" in zero.output


def test_cli_fit_refuses_bad_input_before_any_work(toy, tmp_path):
    bad = runner.invoke(app, ["stress", "fit", str(toy.path), "--design", "0"])
    assert bad.exit_code == 2 and "--design of fit_episode must be an int >= 1; got 0" in bad.output
    data = copy.deepcopy(BASE)
    data["mechanism"]["sell_program"] = {"fixed": {"start_s": 300.0, "duration_s": 60.0}}
    fixed = write_episode(tmp_path, data, "fixed")
    nothing = runner.invoke(app, ["stress", "fit", str(fixed)])
    assert nothing.exit_code == 2 and "its mechanism has no `fit` keys; nothing to fit" in nothing.output
