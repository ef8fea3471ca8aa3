"""Ground truth of the sweep runner: same bytes whatever the scheduling, a killed worker or a killed sweep changes
nothing, a raising point is a failed row, and bad input leaves the existing store untouched."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import zarr
from typer.testing import CliRunner

from scenarios.sweep.runner import run_sweep_spec
from scenarios.sweep.store import DONE, FAILED
from simlab.errors import ParameterError, StoreError
from tests.scenarios.sweep.conftest import assert_same_store, spec_text, store_files
from tests.scenarios.sweep.sweep_jobs import markers

ROOT = Path(__file__).resolve().parents[3]


def _spec(tmp_path: Path, name: str = "spec.toml", **options) -> Path:
    path = tmp_path / name
    path.write_text(spec_text(**options))
    return path


def _wait_for(condition, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the sweep did not get far enough in time")
        time.sleep(0.05)


def test_same_spec_same_bytes_on_1_and_2_workers_and_a_scheduler(tmp_path, scheduler):
    from scenarios import cli

    spec = _spec(tmp_path, task_seconds=0.001)
    one = run_sweep_spec(spec, tmp_path / "one.zarr", workers=1)
    result = CliRunner().invoke(cli.app, ["sweep", str(spec), "-o", str(tmp_path / "two.zarr"), "--workers", "2"])
    assert result.exit_code == 0, result.output
    remote = run_sweep_spec(spec, tmp_path / "remote.zarr", scheduler=scheduler)
    assert (one.done, one.failed, one.pending, one.workers, remote.workers) == (12, 0, 0, 1, 2)
    assert one.workers_cpu_s > 0 and one.client_cpu_s > 0 and remote.workers_cpu_s > 0  # the run's CPU, recorded
    assert_same_store(tmp_path / "one.zarr", tmp_path / "two.zarr")
    assert_same_store(tmp_path / "one.zarr", tmp_path / "remote.zarr")
    ds = xr.open_zarr(tmp_path / "one.zarr", consolidated=False).load()
    assert ds["draw"].dims == ("x", "y", "path") and list(ds["y"].values) == ["a", "b"]
    assert ds.attrs["done"] == 12 and ds.attrs["pending"] == 0 and ds.attrs["simlab_complete"] is True
    assert ds.attrs["seed"] == 1 and 'job = "tests.scenarios.sweep.sweep_jobs:noisy"' in ds.attrs["config"]
    assert {"simlab_version", "git_commit"} <= set(ds.attrs)
    # each point's draws come from its own seed, spawned in design order from the root seed, shifted by x
    children = np.random.SeedSequence(1).spawn(2)[1].spawn(12)
    expected = np.stack([np.random.default_rng(s).normal(size=5) for s in children]).reshape(6, 2, 5)
    np.testing.assert_array_equal(ds["draw"].values, expected + np.arange(6)[:, None, None])
    np.testing.assert_array_equal(ds["total"].values, ds["draw"].sum("path").values)
    assert len(set(ds["key"].values.ravel())) == 12


def test_a_killed_worker_changes_no_result(tmp_path, scheduler):
    from distributed import Client

    marks = tmp_path / "marks"
    marks.mkdir()
    spec = _spec(tmp_path, xs=10, marker_dir=str(marks), sleep_s=0.1, task_seconds=0.3)
    run_sweep_spec(spec, tmp_path / "undisturbed.zarr", scheduler=scheduler)
    for marker in marks.iterdir():
        marker.unlink()
    with Client(scheduler, set_as_default=False) as client:
        victim = sorted(client.run(os.getpid).values())[0]

    def kill_once_running() -> None:
        _wait_for(lambda: sum(markers(marks).values()) >= 6)
        os.kill(victim, signal.SIGKILL)

    killer = threading.Thread(target=kill_once_running)
    killer.start()
    result = run_sweep_spec(spec, tmp_path / "disturbed.zarr", scheduler=scheduler)
    killer.join()
    with pytest.raises(ProcessLookupError):
        os.kill(victim, 0)
    assert (result.done, result.failed, result.pending) == (20, 0, 0)
    assert sum(markers(marks).values()) > 20  # the killed worker's task ran again elsewhere
    assert_same_store(tmp_path / "undisturbed.zarr", tmp_path / "disturbed.zarr")


def test_a_killed_sweep_resumes_without_rerunning_what_it_wrote(tmp_path, scheduler):
    marks = tmp_path / "marks"
    marks.mkdir()
    spec = _spec(tmp_path, xs=10, marker_dir=str(marks), sleep_s=0.1, task_seconds=0.2)
    store = tmp_path / "killed.zarr"
    command = [sys.executable, "-m", "scenarios.cli", "sweep", str(spec), "-o", str(store), "--scheduler", scheduler]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    sweep = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def some_written() -> bool:
        return store.is_dir() and int((zarr.open_group(store, mode="r")["status"][...] == DONE).sum()) >= 4

    _wait_for(some_written)
    sweep.kill()
    sweep.wait()
    statuses = np.asarray(zarr.open_group(store, mode="r")["status"][...]).ravel()
    assert 4 <= (statuses == DONE).sum() < 20 and not zarr.open_group(store, mode="r").attrs["simlab_complete"]
    written = {f"x={i // 2},y={'ab'[i % 2]}" for i in np.flatnonzero(statuses == DONE)}
    time.sleep(0.5)  # let the killed client's tasks still running on the workers finish
    before = markers(marks)
    result = run_sweep_spec(spec, store, scheduler=scheduler, resume=True)
    after = markers(marks)
    assert (result.done, result.failed, result.pending) == (20, 0, 0)
    assert all(after[name] == before[name] == 1 for name in written), (written, after)
    assert set(after) == {f"x={x},y={y}" for x in range(10) for y in "ab"}
    run_sweep_spec(spec, tmp_path / "reference.zarr", scheduler=scheduler)
    assert_same_store(tmp_path / "reference.zarr", store)


def test_a_raising_point_is_a_failed_row_and_the_others_complete(tmp_path, scheduler):
    marks = tmp_path / "marks"
    marks.mkdir()
    spec = _spec(tmp_path, fail_at=2, marker_dir=str(marks), retries=2)
    result = run_sweep_spec(spec, tmp_path / "s.zarr", scheduler=scheduler)
    assert (result.done, result.failed, result.pending) == (10, 2, 0)
    ds = xr.open_zarr(tmp_path / "s.zarr", consolidated=False).load()
    assert (ds["status"].sel(x=2) == FAILED).all() and (ds["status"].drop_sel(x=2) == DONE).all()
    assert list(ds["error"].sel(x=2).values) == ["ValueError: `x` of the noisy job must not be 2; got 2"] * 2
    assert (ds["error"].drop_sel(x=2) == "").all()
    assert ds["draw"].sel(x=2).isnull().all() and ds["draw"].drop_sel(x=2).notnull().all()
    assert ds.attrs["failed"] == 2 and ds.attrs["done"] == 10
    assert markers(marks)["x=2,y=a"] == 3 and markers(marks)["x=1,y=a"] == 1  # retries = 2: three runs, then failed


def test_a_resume_onto_another_spec_and_an_existing_store_are_refused_untouched(tmp_path, scheduler):
    store = tmp_path / "s.zarr"
    run_sweep_spec(_spec(tmp_path, xs=2), store, scheduler=scheduler)
    before = store_files(store)
    other = _spec(tmp_path, "other.toml", xs=2, seed=2)
    with pytest.raises(ParameterError, match=f"--resume: store {store} was written from another spec than sweep"):
        run_sweep_spec(other, store, scheduler=scheduler, resume=True)
    with pytest.raises(StoreError, match="already exists; pass --resume to continue it or choose another path"):
        run_sweep_spec(other, store, scheduler=scheduler)
    assert store_files(store) == before
    with pytest.raises(StoreError, match="does not exist; run the sweep without --resume"):
        run_sweep_spec(other, tmp_path / "none.zarr", scheduler=scheduler, resume=True)


def test_a_scheduler_that_does_not_answer_is_named_with_the_wait(tmp_path):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
    started = time.monotonic()
    with pytest.raises(ParameterError, match=f"--scheduler {address}: no Dask scheduler answered within 1 s"):
        run_sweep_spec(_spec(tmp_path), tmp_path / "s.zarr", scheduler=address, connect_timeout_s=1.0)
    assert time.monotonic() - started < 30
    assert not (tmp_path / "s.zarr").exists()


def test_the_cli_prints_our_sentence_on_bad_input(tmp_path):
    from scenarios import cli

    spec = tmp_path / "bad.toml"
    spec.write_text(spec_text().replace("[parameters]", "[parameters]\nz = [1, 2]"))
    result = CliRunner().invoke(cli.app, ["sweep", str(spec), "-o", str(tmp_path / "s.zarr")])
    assert result.exit_code == 2
    assert "job tests.scenarios.sweep.sweep_jobs:noisy has no parameter 'z'; its parameters are x, y, " in result.output
    assert not (tmp_path / "s.zarr").exists()


@pytest.mark.slow
def test_the_forecast_sensitivity_grid_runs_through_the_runner(tmp_path, scheduler):
    from scenarios.forecast.paper import sensitivity_job
    from scenarios.sweep.design import point_seeds

    spec = tmp_path / "forecast.toml"
    small = {"duration_s": 600.0, "max_epochs": 3, "max_train": 100}
    spec.write_text('[sweep]\nname = "paper"\njob = "forecast"\nseed = 4\npaths = 1\n[parameters]\nvar_lags = [1, 2]\n'
                    'layers = "8-4"\n' + "".join(f"{k} = {v}\n" for k, v in small.items()))  # fmt: skip
    result = run_sweep_spec(spec, tmp_path / "f.zarr", scheduler=scheduler)
    assert (result.done, result.failed) == (2, 0)
    ds = xr.open_zarr(tmp_path / "f.zarr", consolidated=False).load()
    for lag, seed in zip((1, 2), point_seeds(4, 2), strict=True):
        direct = sensitivity_job(seed, 1, var_lags=lag, layers="8-4", **small)
        assert float(ds["r2_honest"].sel(var_lags=lag)[0]) == float(direct["r2_honest"][0])
        assert float(ds["r2_nowcast"].sel(var_lags=lag)[0]) == float(direct["r2_nowcast"][0])
        assert np.isfinite(float(direct["r2_honest"][0]))


def test_the_demo_sweep_step(tmp_path):
    from scenarios.demo import Demo
    from scenarios.demo.sweep import sweep_step

    metrics = sweep_step(Demo(tmp_path, seed=5))
    assert metrics["points done / failed / pending"] == "8 / 0 / 0"
    assert metrics["first point equals the job run in process"] == "True"
    assert metrics["workers, tasks, points per task"].startswith("2, ")
    assert set(metrics) >= {"best static fee at volatility 0.3", "best static fee at volatility 1.2"}
