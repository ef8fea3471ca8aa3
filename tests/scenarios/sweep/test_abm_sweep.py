"""The agent market on the sweep runner: the ``abm`` job through a spec, and the simulated-moments calibration with
its paths on a Dask cluster giving the same estimate as in process, on 1 and 2 workers and through the CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from typer.testing import CliRunner

from calibration.abm import MOMENTS, AgentMarketEstimator, cut_window, load_abm_preset, with_parameters
from calibration.presets import dumps_toml
from scenarios.sweep.abm import abm_job
from scenarios.sweep.cluster import ClusterMap, cluster_map, connect
from scenarios.sweep.design import point_seeds
from scenarios.sweep.runner import plan_from_spec, run_sweep_spec
from simlab.agents import MarketConfig, simulate_abm
from simlab.errors import ParameterError

WARMUP_S, WINDOW_S = 300.0, 300.0


def tiny_config() -> MarketConfig:
    return MarketConfig.from_dict({
        "market": {"session_s": 1200.0},
        "fundamental": {"volatility_ticks_per_sqrt_s": 5.0},
        "agents": {"noise": {"count": 50, "wake_start_s": 0.0}, "value": {"count": 20, "arrival_rate_per_s": 0.05},
                   "market_maker": {"count": 1, "wake_interval_s": 10.0, "volume_window_s": 10.0, "pov": 0.05}},
    })  # fmt: skip


def _config_file(folder: Path) -> Path:
    path = folder / "tiny_market.toml"
    path.write_text(dumps_toml(tiny_config().to_dict()))
    return path


def test_the_abm_job_runs_through_the_runner(tmp_path, scheduler):
    """Each point's moments equal the job run in process on the seed spawned for it; a dotted parameter that is
    not the market's is refused before anything runs, naming it."""
    config = _config_file(tmp_path)
    spec = tmp_path / "abm.toml"
    body = (f'[sweep]\nname = "arrivals"\njob = "abm"\nseed = 5\npaths = 2\n[parameters]\nconfig = "{config}"\n'
            f'duration_s = {WARMUP_S + WINDOW_S}\nwarmup_s = {WARMUP_S}\n')  # fmt: skip
    spec.write_text(body + '"value.arrival_rate_per_s" = [0.03, 0.06]\n')
    result = run_sweep_spec(spec, tmp_path / "abm.zarr", scheduler=scheduler)
    assert (result.done, result.failed) == (2, 0)
    ds = xr.open_zarr(tmp_path / "abm.zarr", consolidated=False).load()
    assert set(MOMENTS) <= set(ds.data_vars) and ds["spread_mean_ticks"].dims == ("value.arrival_rate_per_s", "path")
    for k, (rate, seed) in enumerate(zip((0.03, 0.06), point_seeds(5, 2), strict=True)):
        direct = abm_job(seed, 2, config=str(config), duration_s=WARMUP_S + WINDOW_S, warmup_s=WARMUP_S,
                         **{"value.arrival_rate_per_s": rate})  # fmt: skip
        for name in MOMENTS:
            np.testing.assert_array_equal(ds[name].values[k], direct[name].values)
    assert not np.array_equal(ds["add_share"].values[0], ds["add_share"].values[1])
    spec.write_text(body + '"value.arrival_rates" = [0.03, 0.06]\n')
    with pytest.raises(ParameterError, match="job abm has no parameter 'value.arrival_rates'; its parameters are"):
        plan_from_spec(spec)


def _window(seed: int) -> dict:
    truth = with_parameters(tiny_config(), {"market_maker.pov": 0.05})
    start = truth.open_ns + int(WARMUP_S * 1e9)
    return cut_window(simulate_abm(truth, seed=seed, duration_s=WARMUP_S + WINDOW_S), start,
                      start + int(WINDOW_S * 1e9))  # fmt: skip


def _fit(data: dict, mapper) -> AgentMarketEstimator:
    start = with_parameters(tiny_config(), {"market_maker.pov": 0.03})
    est = AgentMarketEstimator(start, parameters=("market_maker.pov",), warmup_s=WARMUP_S, window_s=WINDOW_S,
                               n_paths=2, seed=3, n_boot=30, n_lhs=3, lhs_span=0.6, maxfev=8, n_sigma_paths=3,
                               mapper=mapper)  # fmt: skip
    return est.fit(data)


def _same_fit(a: AgentMarketEstimator, b: AgentMarketEstimator) -> None:
    assert a.estimates_ == b.estimates_ and a.std_errors_ == b.std_errors_ and a.objective_ == b.objective_
    assert a.search_["lhs_objective"] == b.search_["lhs_objective"] and a.n_evaluations_ == b.n_evaluations_
    np.testing.assert_array_equal(a.moments_, b.moments_)


def test_the_calibration_gives_the_same_estimate_in_process_and_on_1_and_2_workers(scheduler):
    data = _window(11)
    serial = _fit(data, None)
    with cluster_map(1, None) as one:
        on_one = _fit(data, one)
        assert one.n_workers == 1 and one.tasks > 0
    with connect(None, scheduler) as (client, n):
        two = ClusterMap(client, n)
        on_two = _fit(data, two)
    assert n == 2 and two.tasks > 0
    assert serial.n_evaluations_ > 3 + 8 and serial.estimates_["market_maker.pov"] > 0
    _same_fit(serial, on_one)
    _same_fit(serial, on_two)


def test_calibrate_abm_on_two_workers_writes_the_same_preset(tmp_path):
    from scenarios.cli import app
    from simlab.store import write_store

    store = tmp_path / "day.zarr"
    truth = with_parameters(tiny_config(), {"market_maker.pov": 0.05})
    write_store(simulate_abm(truth, seed=3, duration_s=WARMUP_S + WINDOW_S), store)
    config = _config_file(tmp_path)
    args = ["calibrate", "abm", str(store), "--config", str(config), "--start", "5min", "--duration", "5min",
            "--parameter", "market_maker.pov", "--paths", "2", "--maxfev", "6"]  # fmt: skip
    presets = {}
    for label, extra in (("serial", []), ("two", ["--workers", "2"])):
        presets[label] = tmp_path / f"{label}.toml"
        result = CliRunner().invoke(app, [*args, "-o", str(presets[label]), *extra])
        assert result.exit_code == 0, result.output
    (serial, fit_serial), (two, fit_two) = load_abm_preset(presets["serial"]), load_abm_preset(presets["two"])
    assert fit_serial["estimates"] == fit_two["estimates"] and fit_serial["std_errors"] == fit_two["std_errors"]
    assert fit_serial["objective"] == fit_two["objective"] and serial.market_maker.pov == two.market_maker.pov
    both = CliRunner().invoke(app, [*args, "-o", str(tmp_path / "x.toml"), "--workers", "2", "--scheduler", "tcp://x"])
    assert both.exit_code == 2 and "--workers and --scheduler exclude each other" in both.output
