"""Fee designs through crashes: the stress table (deterministic, CVaR against a slow twin), per-path references in
the engine, the synthetic crash, the real replay and the detection of ranking flips."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr

from scenarios.stress.amm import (
    BOUNDS,
    STATISTICS,
    _blocks,
    amm_stress_table,
    degradation_table,
    ranking_flips,
    replay_stress_table,
    run_designs,
    store_stress_table,
    synthetic_paths,
)
from simlab.amm.engine import Market, PoolSpec, simulate_amm
from simlab.amm.metrics import cvar
from simlab.amm.paths import PricePath
from simlab.errors import DataError, ParameterError
from tests.conftest import shared_path

DESIGNS = ["static", ("static", {"fee": 0.0005}), "oracle_gap", "surge"]


def small_crash(seed: int = 1, n_paths: int = 24):
    return synthetic_paths(n_paths, seed=seed, duration_s=1800.0, jump_s=600.0, recovery_halflife_s=300.0)


def slow_cvar(values, level):
    ordered = sorted(float(v) for v in values)
    count = max(1, int(math.floor(level * len(ordered))))
    return sum(ordered[:count]) / count


def test_stress_table_is_deterministic_for_a_seed_and_shaped_for_the_report():
    t_s, mid = small_crash()
    first = amm_stress_table(t_s, mid, DESIGNS, seed=3, scenario="toy")
    again = amm_stress_table(t_s, mid, DESIGNS, seed=3, scenario="toy")
    other = amm_stress_table(t_s, mid, DESIGNS, seed=4, scenario="toy")
    assert first["value"].dims == ("design", "statistic", "bound")
    assert list(first["statistic"].values) == list(STATISTICS) and list(first["bound"].values) == list(BOUNDS)
    assert first["value"].values.tobytes() == again["value"].values.tobytes()
    assert first["value"].values.tobytes() != other["value"].values.tobytes()  # the seed drives the noise flow
    assert first.attrs["seed"] == 3 and first.attrs["scenario"] == "toy"
    mean, lo, hi = (first["value"].sel(bound=b) for b in BOUNDS)
    assert bool(((lo <= mean) & (mean <= hi)).all())


def test_cvar_of_the_table_equals_the_slow_twin_on_the_paths():
    t_s, mid = small_crash(n_paths=40)
    results = run_designs(t_s, mid, DESIGNS, seed=3, pool_value=1e7)
    table = amm_stress_table(t_s, mid, DESIGNS, seed=3, pool_value=1e7)
    pnl = results["value"].isel(parameter=0).sel(metric="lp_pnl").values  # (design, path)
    for d in range(len(DESIGNS)):
        for level, name in ((0.05, "cvar_5"), (0.01, "cvar_1")):
            expected = slow_cvar(pnl[d], level) * 1e4 / 1e7
            assert float(table["value"].isel(design=d).sel(statistic=name, bound="mean")) == pytest.approx(expected)
    rng = np.random.default_rng(0)
    values = rng.standard_t(3, size=(5, 333))
    np.testing.assert_allclose(cvar(values, 0.05), [slow_cvar(row, 0.05) for row in values])


def test_each_path_gets_its_own_reference_row():
    t_s, mid = small_crash(n_paths=3)
    pool = PoolSpec(value=1e7, price=3000.0)
    together = simulate_amm(DESIGNS, markets=Market(reference=PricePath(t_s, mid)), pool=pool, n_paths=3, seed=0)
    for p in range(3):
        alone = simulate_amm(DESIGNS, markets=Market(reference=PricePath(t_s, mid[p])), pool=pool, n_paths=1, seed=0)
        np.testing.assert_allclose(together["value"].isel(path=p).values, alone["value"].isel(path=0).values)
    with pytest.raises(ParameterError, match="n_paths"):
        simulate_amm(DESIGNS, markets=Market(reference=PricePath(t_s, mid)), pool=pool, n_paths=2, seed=0)


def test_synthetic_crash_is_the_normal_day_times_the_known_jump():
    t_s, normal = synthetic_paths(5, seed=2, jump=0.0)
    _, crash = synthetic_paths(5, seed=2, jump=-0.10, jump_s=1800.0, recovery=0.5, recovery_halflife_s=600.0)
    ratio = crash / normal
    np.testing.assert_allclose(ratio[:, t_s < 1800.0], 1.0)
    np.testing.assert_allclose(ratio[:, t_s == 1800.0], 0.9)
    after = t_s[-1] - 1800.0
    np.testing.assert_allclose(ratio[:, -1], math.exp(math.log(0.9) * (1 - 0.5 * (1 - 2 ** (-after / 600.0)))))
    _, slide = synthetic_paths(5, seed=2, jump=-0.10, jump_s=1800.0, fall_s=360.0, recovery=0.0)
    halfway = np.flatnonzero(t_s == 1980.0)[0]
    np.testing.assert_allclose((slide / normal)[:, [halfway, -1]], [[math.sqrt(0.9), 0.9]] * 5)  # even in log
    with pytest.raises(ParameterError, match="fall_s"):
        synthetic_paths(5, seed=2, jump_s=1800.0, fall_s=7000.0)


def test_blocks_take_the_last_mid_at_or_before_each_block():
    t_s = np.cumsum(np.r_[0.0, np.full(60, 0.7)])  # an irregular grid: 0, 0.7, 1.4, ... 42 s
    mid = np.vstack([3000.0 + t_s, 3000.0 - t_s])
    times, prices = _blocks(t_s, mid, 12.0)
    np.testing.assert_allclose(times, [0.0, 12.0, 24.0, 36.0])
    expected = [max(k for k in range(61) if t_s[k] <= b + 1e-12) for b in times]  # slow: scan every step
    np.testing.assert_allclose(prices, mid[:, expected])
    with pytest.raises(ParameterError, match="block_s"):
        run_designs(t_s, mid, ["static"], seed=0, block_s=100.0)
    with pytest.raises(ParameterError, match="mid"):
        run_designs(t_s, mid[:, :10], ["static"], seed=0)


def constructed(means, lo=None, hi=None):
    designs = ["a", "b", "c", "d"]
    value = np.zeros((4, len(STATISTICS), 3))
    value[:, 0, 0] = means
    value[:, 0, 1] = np.asarray(means) - 1 if lo is None else lo
    value[:, 0, 2] = np.asarray(means) + 1 if hi is None else hi
    coords = dict(design=designs, statistic=list(STATISTICS), bound=list(BOUNDS), design_short=("design", designs))
    return xr.Dataset({"value": (("design", "statistic", "bound"), value)}, coords=coords)


def test_ranking_flips_are_found_where_they_were_built():
    normal = constructed([12.0, 9.0, 6.0, 3.0])  # a > b > c > d, intervals +-1: all disjoint
    same = constructed([22.0, 19.0, 16.0, 13.0])
    crash = constructed([3.0, 8.5, 6.0, 4.0], lo=[2.0, 7.5, 5.9, 3.0], hi=[4.0, 9.5, 6.1, 5.0])  # a falls to last
    out = ranking_flips(dict(normal=normal, same=same, crash=crash), baseline="normal")
    assert out["rank"].sel(table="crash").values.tolist() == [4, 1, 2, 3]
    assert out["spearman"]["same"] == pytest.approx(1.0)
    assert out["spearman"]["crash"] == pytest.approx(1 - 6 * (9 + 1 + 1 + 1) / (4 * 15))
    assert out["movers"]["crash"][0] == "a" and out["shift"].sel(table="crash", design="a") == 3
    flips = {(f["now_better"], f["was_better"]): f["significant"] for f in out["flips"]}
    assert flips == {("b", "a"): True, ("c", "a"): True, ("d", "a"): False}  # d and a overlap in the crash
    assert not [f for f in out["flips"] if f["table"] == "same"]
    with pytest.raises(ParameterError, match="baseline"):
        ranking_flips(dict(normal=normal), baseline="calm")


def test_replay_table_has_means_without_intervals():
    from simlab.amm.uniswap import implied_depth, replay_v3
    from simlab.io.uniswap import read_uniswap_v3_swaps

    path = shared_path("uniswap_v3_usdc_weth_swaps_2021-08_credmark/univ3_usdc_weth_swaps_2021-08-10_to_09-05.csv.gz")
    events = read_uniswap_v3_swaps(path)["events"]
    table = replay_stress_table(events, DESIGNS)
    depth = implied_depth(events)
    direct = replay_v3(events, DESIGNS, pool_value=depth)["value"].isel(parameter=0, path=0).sel(metric="lp_pnl")
    mean = table["value"].sel(statistic="lp_pnl", bound="mean")
    np.testing.assert_allclose(mean.values, direct.values * 1e4 / depth)
    assert np.isnan(table["value"].sel(bound="lo")).all() and np.isnan(table["value"].sel(statistic="cvar_5")).all()


def test_degradation_is_paired_crash_minus_normal():
    t_s, normal = synthetic_paths(30, seed=5, duration_s=1800.0, jump_s=600.0, jump=0.0)
    _, crash = small_crash(seed=5, n_paths=30)
    table = degradation_table(t_s, normal, crash, DESIGNS, seed=2)
    one = amm_stress_table(t_s, crash, DESIGNS, seed=2)["value"].sel(bound="mean")
    base = amm_stress_table(t_s, normal, DESIGNS, seed=2)["value"].sel(bound="mean")
    np.testing.assert_allclose(table["value"].sel(bound="mean"), one - base, atol=1e-9)  # means and CVaRs alike
    lvr = table["value"].sel(statistic="lvr")
    assert bool((lvr.sel(bound="lo") > 0).all())  # a 10 % jump costs every design LVR, beyond the noise
    lo, hi = table["value"].sel(bound="lo"), table["value"].sel(bound="hi")
    assert bool((lo <= table["value"].sel(bound="mean")).all() and (table["value"].sel(bound="mean") <= hi).all())


def test_store_table_reads_the_paths_group(tmp_path):
    t_s, mid = small_crash(n_paths=6)
    paths = xr.Dataset({"mid": (("path", "time"), mid)}, coords={"t_s": ("time", t_s)})
    paths.attrs.update(scenario="toy-crash", seed=9)
    paths.to_zarr(tmp_path / "s.zarr", group="paths", consolidated=False)
    table = store_stress_table(tmp_path / "s.zarr", DESIGNS)
    direct = amm_stress_table(t_s, mid, DESIGNS, seed=9, scenario="toy-crash")
    assert table["value"].values.tobytes() == direct["value"].values.tobytes()
    assert table.attrs["scenario"] == "toy-crash"
    with pytest.raises(DataError, match="paths"):
        store_stress_table(tmp_path / "absent.zarr")


def test_replay_cut_into_windows_gives_intervals_and_the_worst_window_as_cvar():
    from simlab.amm.uniswap import replay_v3
    from simlab.io.uniswap import read_uniswap_v3_swaps

    path = shared_path("uniswap_v3_usdc_weth_swaps_2021-08_credmark/univ3_usdc_weth_swaps_2021-08-10_to_09-05.csv.gz")
    events = read_uniswap_v3_swaps(path)["events"].isel(event=slice(0, 2500))  # about four days
    table = replay_stress_table(events, DESIGNS, pool_value=5e8, window_s=86400.0)
    day = (events["ts_ns"].values - events["ts_ns"].values[0]) // (86400 * 10**9)
    direct = []  # (day, design): each day replayed alone, the slow way
    for d in np.unique(day):
        one = replay_v3(events.isel(event=day == d), DESIGNS, pool_value=5e8)["value"]
        direct.append(one.isel(parameter=0, path=0).sel(metric="lp_pnl").values * 1e4 / 5e8)
    direct = np.array(direct)
    assert table.attrs["n_paths"] == len(np.unique(day)) >= 3
    np.testing.assert_allclose(table["value"].sel(statistic="lp_pnl", bound="mean"), direct.mean(axis=0))
    np.testing.assert_allclose(table["value"].sel(statistic="cvar_1", bound="mean"), direct.min(axis=0))
    assert np.isfinite(table["value"].sel(bound="lo").values).all()
    with pytest.raises(ParameterError, match="window_s"):
        replay_stress_table(events, DESIGNS, window_s=0.0)


def test_a_reference_with_rows_is_checked_row_by_row():
    t_s = np.arange(4.0)
    prices = np.ones((2, 4))
    prices[1, 2] = -1.0
    with pytest.raises(DataError, match="block 2 of path 1 has -1.0"):
        PricePath(t_s, prices)
    with pytest.raises(DataError, match="same length"):
        PricePath(t_s, np.ones((2, 3)))
    assert PricePath(t_s, np.ones((2, 4))).n_paths == 2 and PricePath(t_s, np.ones(4)).n_paths is None
