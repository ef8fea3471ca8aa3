"""The ``amm`` world of the stress runner: the depeg episodes' peg runs on seeded paths (the run's arrival is a
compound Poisson schedule of known mean and spread), the stress store, the CLI, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from typer.testing import CliRunner

from scenarios.cli import app
from scenarios.stress.episodes import load_episode
from scenarios.stress.peg import POOLS, peg_episode, peg_run, run_schedule
from scenarios.stress.peg_world import peg_path
from scenarios.stress.run import episode_statistics, run_stress, simulate_episode, statistic_names
from simlab.errors import ParameterError
from simlab.store import load_store

runner = CliRunner()
USDC = {"peg_run.run_share": 0.25}


def test_the_run_schedule_has_the_compound_poisson_mean_and_spread():
    t_s = np.arange(0.0, 1001.0)
    rng = np.random.default_rng(5)
    totals = np.array([run_schedule(t_s, 100.0, 400.0, rng, 0.5).sum() for _ in range(2000)])
    expected_cv = math.sqrt(2.0 / (0.5 * 400.0))  # exponential sizes: Var(sum) = 2 lambda T / (lambda T)^2
    assert abs(totals.mean() - 1.0) < 4 * expected_cv / math.sqrt(totals.size)
    assert abs(totals.std() / expected_cv - 1.0) < 0.1
    steps = np.flatnonzero(run_schedule(t_s, 100.0, 400.0, np.random.default_rng(6), 0.5))
    assert steps.min() >= 101 and steps.max() <= 500  # orders in [100, 500) land in steps ending in (100, 500]


def test_a_schedule_of_the_constant_rate_is_the_deterministic_run():
    run = peg_episode(start_s=60.0, duration_s=120.0, run_share=0.2, depeg_factor=0.9, window_s=300.0, step_s=1.0)
    even = np.where((run.t_s > 60.0) & (run.t_s <= 180.0), 1.0 / 120.0, 0.0)
    spec = POOLS["curve_3pool_2023"]
    scheduled = peg_run(run.t_s, run.external, balances=spec["balances"], run_size=0.2, run_weights=spec["run_weights"],
                        into=2, amplification=spec["amplification"], fee=spec["fee"], start_s=60.0, duration_s=120.0,
                        arb_capacity=0.0, schedule=even)  # fmt: skip
    np.testing.assert_allclose(scheduled.balances, run.balances, rtol=1e-12)
    with pytest.raises(ParameterError, match="`schedule` of peg_run must be 301 finite shares >= 0"):
        peg_run(run.t_s, run.external, balances=spec["balances"], run_size=0.2, run_weights=spec["run_weights"],
                into=2, schedule=-even)  # fmt: skip


def test_a_noisy_run_conserves_tokens_and_its_price_follows_the_run():
    episode = load_episode("depeg_2023_03_usdc")
    rng = np.random.default_rng(np.random.SeedSequence(3))
    run = peg_episode(start_s=600.0, duration_s=300.0, run_share=0.25, depeg_factor=0.88, window_s=1200.0,
                      step_s=1.0, rng=rng)  # fmt: skip
    flows = run.balances - run.balances[0] + run.holders + run.arbitrageurs
    np.testing.assert_allclose(flows, 0.0, atol=1e-6 * run.balances[0].sum())
    sold = -run.holders[:, 1] / (0.25 * run.balances[0].sum() * 0.5)  # USDC sold over the expected USDC sold
    np.testing.assert_allclose(run.external[:, 1], 1.0 - 0.12 * sold, atol=1e-12)
    path = peg_path(episode, USDC, np.random.SeedSequence(3), 1.0)
    assert path.mid.min() == pytest.approx(1.0 - 0.12 * sold.max(), abs=0.002)


def test_amm_paths_are_seeded_and_differ_by_path():
    episode = load_episode("depeg_2023_03_usdc")
    a = simulate_episode(episode, 3, seed=7, values=USDC, world="amm")
    b = simulate_episode(episode, 3, seed=7, values=USDC, world="amm", workers=2)
    assert all(
        np.array_equal(x.mid, y.mid) and np.array_equal(x.least_share, y.least_share) for x, y in zip(a, b, strict=True)
    )
    rows = episode_statistics(episode, a)
    assert np.unique(rows[:, statistic_names(episode).index("min_share")]).size == 3


def test_the_amm_stress_store_and_cli(tmp_path):
    episode = load_episode("depeg_2023_03_usdc")
    store, rows = run_stress(episode, tmp_path / "s.zarr", n_paths=2, seed=1, world="amm")
    paths, stats = load_store(store, "paths"), load_store(store, "statistics")
    assert {"mid", "pool_price", "least_share"} <= set(paths.data_vars) and "depth" not in paths.data_vars
    assert paths.attrs["world"] == "amm" and paths["mid"].shape == (2, 3601)
    assert list(stats["statistic"].values[-2:]) == ["min_share", "min_pool_price"]
    np.testing.assert_array_equal(stats["value"].values, rows)
    result = runner.invoke(app, ["stress", "run", "depeg_2023_03_usdc", "--world", "amm", "--paths", "2", "--seed",
                                 "1", "-o", str(tmp_path / "cli.zarr")])  # fmt: skip
    assert result.exit_code == 0, result.output
    again = load_store(tmp_path / "cli.zarr", "statistics")["value"].values
    np.testing.assert_array_equal(again, rows)  # both ran the stored fit on seed 1


def test_bad_input_of_the_amm_world_is_one_sentence(tmp_path):
    episode = load_episode("depeg_2023_03_usdc")
    with pytest.raises(ParameterError, match="world 'abm' is not one of its worlds"):
        simulate_episode(episode, 1, seed=0, values=USDC, world="abm")
    with pytest.raises(ParameterError, match=r"`peg_run.run_share` must lie in \[0.05, 0.5\]; got 0.9"):
        simulate_episode(episode, 1, seed=0, values={"peg_run.run_share": 0.9}, world="amm")
    odd = tmp_path / "odd.toml"
    odd.write_text(episode.text.replace("start_s = 600.0", "start_s = 600.5"))
    with pytest.raises(ParameterError, match="`start_s` must be a multiple of the 1-s grid; got 600.5"):
        simulate_episode(load_episode(odd), 1, seed=0, values=USDC, world="amm")
