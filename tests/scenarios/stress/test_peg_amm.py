"""`simlab stress evaluate` on a tiny depeg store: the fee designs on the episode's own StableSwap pool (the store's
run re-drawn and checked, the peg held as the normal day), deterministic tables, the report, a tampered store."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from scenarios.cli import app
from scenarios.stress.episodes import load_episode
from scenarios.stress.evaluate import AmmTable, read_stress_store
from scenarios.stress.peg import POOLS, run_schedule
from scenarios.stress.peg_amm import PEG_MONEY, peg_market
from scenarios.stress.report import write_report
from scenarios.stress.run import run_stress
from simlab.errors import DataError
from simlab.store import list_groups, load_store, write_store

runner = CliRunner()
AMM = '[amm]\ndesigns = ["static", "inventory_linear", "oracle_gap"]\nbefore_s = 60.0\nafter_s = 420.0\nreplay = ""\n'


@pytest.fixture(scope="module")
def depeg(tmp_path_factory):
    """A 4-path store of the USDC depeg (3pool; the run from 600 to 900 s) and its evaluation."""
    folder = tmp_path_factory.mktemp("peg_amm")
    run_stress(load_episode("depeg_2023_03_usdc"), folder / "usdc.zarr", n_paths=4, seed=21, world="amm")
    (folder / "amm.toml").write_text(AMM)
    return folder


def evaluate(folder, name, *extra):
    args = ["stress", "evaluate", str(folder / "usdc.zarr"), "--amm", str(folder / "amm.toml"), "-o",
            str(folder / name), *extra]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return folder / name


def test_the_market_is_the_stores_run_on_its_pool(depeg):
    store = read_stress_store(depeg / "usdc.zarr")
    spec = AmmTable(before_s=60.0, after_s=420.0, replay="")
    market = peg_market(store, spec)
    pool = POOLS["curve_3pool_2023"]
    assert market.coins == pool["coins"] and market.x_coin == 1 and market.into == 2
    assert market.balances.sum() == pytest.approx(spec.pool_value) and np.ptp(market.balances) == 0
    t_s, mid = store.paths["t_s"].values, store.paths["mid"].values
    blocks = 540.0 + market.times
    np.testing.assert_array_equal(market.crash[:, :, 1], mid[:, np.searchsorted(t_s, blocks)])  # the 1-s grid
    np.testing.assert_array_equal(market.crash[:, :, 0], market.crash[:, :, 1])  # DAI falls with USDC
    assert np.all(market.crash[:, :, 2] == 1.0) and np.all(market.normal == 1.0)
    share = store.values["peg_run.run_share"]
    for k in range(4):  # the run re-drawn from path k's seed: what it sells inside the window, by coin
        child = np.random.SeedSequence(21).spawn(4)[k]
        schedule = run_schedule(t_s, 600.0, 300.0, np.random.default_rng(child), 1.0)
        inside = schedule[(t_s > 540.0) & (t_s <= blocks[-1])].sum()
        sold = market.run[k].sum(axis=0)
        assert sold == pytest.approx([0.5 * share * 1e7 * inside, 0.5 * share * 1e7 * inside, 0.0], rel=1e-12)
        assert market.run[k, blocks <= 600.0].sum() == 0.0  # nothing before the run's start


def test_evaluate_runs_the_designs_on_the_pool_with_deterministic_tables(depeg):
    first, again = evaluate(depeg, "e1.zarr"), evaluate(depeg, "e2.zarr")
    for group in ("amm_crash", "amm_normal", "amm_change", "amm_rank"):
        a, b = load_store(first, group), load_store(again, group)
        assert a.identical(b), group  # same seed, same bytes
    crash, normal, change = (load_store(first, g) for g in ("amm_crash", "amm_normal", "amm_change"))
    assert crash.attrs["pool_kind"] == "stableswap" and "DAI, USDC, USDT; A = 2000" in crash.attrs["pool"]
    assert list(crash["statistic"].values) == [*PEG_MONEY, "cvar_5", "cvar_1"]
    mean = {name: t["value"].sel(bound="mean") for name, t in (("crash", crash), ("normal", normal))}
    for stat in ("lp_pnl", "lvr", "fees_run", "fees_arb"):  # the paired change is crash minus normal
        np.testing.assert_allclose(change["value"].sel(statistic=stat, bound="mean"),
                                   mean["crash"].sel(statistic=stat) - mean["normal"].sel(statistic=stat),
                                   atol=1e-9)  # fmt: skip
    fees = mean["crash"].sel(statistic=["fees_arb", "fees_noise", "fees_run"]).sum("statistic")
    np.testing.assert_allclose(fees - mean["crash"].sel(statistic="lvr"), mean["crash"].sel(statistic="hedged_lp_pnl"))
    assert np.all(mean["crash"].sel(statistic="fees_run") > 0) and np.all(mean["normal"].sel(statistic="fees_run") == 0)
    assert np.all(mean["crash"].sel(statistic="lp_pnl") < mean["normal"].sel(statistic="lp_pnl"))  # a depeg costs LPs
    assert np.all(crash["min_share"].sel(bound="mean") < 0.2) and np.all(normal["min_share"].sel(bound="mean") > 0.3)
    other = evaluate(depeg, "e3.zarr", "--seed", "5")
    assert not np.array_equal(load_store(other, "amm_crash")["value"].values, crash["value"].values)
    report = write_report([first], depeg / "report" / "report.html")
    text = report.with_suffix(".md").read_text()
    assert "the designs run on the episode's own pool, a StableSwap pool of the episode" in text
    assert "fees paid by the run (crash)" in text


def test_a_store_whose_run_cannot_be_redrawn_is_refused(depeg, tmp_path):
    groups = {g: load_store(depeg / "usdc.zarr", g) for g in list_groups(depeg / "usdc.zarr")}
    for ds in groups.values():
        ds.attrs["seed"] = 22  # the runs were drawn from seed 21
    write_store(groups, tmp_path / "tampered.zarr")
    with pytest.raises(DataError, match="re-drawing path 0's run from its seed does not reproduce its stored price"):
        peg_market(read_stress_store(tmp_path / "tampered.zarr"), AmmTable())
