"""The ``generator`` world: a regime switch inside one rollout leaves the flow before it byte for byte as the run
without it and changes it after; primitives map to regime quintiles from the model's edges; primitives and keys
without a learned counterpart are refused by name; the stress store is one `stress evaluate` reads, and one seed
gives the same bytes. The model is a small diffusion generator fitted in seconds on a zero-intelligence flow."""

from __future__ import annotations

import copy
import tomllib

import numpy as np
import pytest

from generators.config import DiffusionConfig
from generators.data import split_by_time
from generators.diffusion import DiffusionGenerator
from scenarios.stress.episodes import load_episode
from scenarios.stress.evaluate import evaluate_store, read_stress_store, store_groups
from scenarios.stress.generator_compare import SHAPE, WINDOW, paired_table
from scenarios.stress.generator_world import regime_pieces, shock_windows, stress_regime
from scenarios.stress.run import run_stress, simulate_episode
from simlab.book.zero_intelligence import ZIParams, simulate_zi
from simlab.errors import ParameterError
from simlab.store import load_store

from .test_episodes import BASE
from .test_run import write_episode


def toy_file(tmp_path, data: dict):
    return write_episode(tmp_path, data, "generator_cli")


SMALL = DiffusionConfig(
    history=8, block=4, width=16, layers=1, heads=2, diffusion_steps=20, sampling_steps=4, batch_size=32,
    max_steps=20, eval_every=10, validation_blocks=64,
)  # fmt: skip
EDGES = ((1.0, 2.0, 3.0, 4.0), (-2.0, -1.0, 1.0, 2.0), (100.0, 200.0, 300.0, 400.0), (-0.2, -0.1, 0.1, 0.2))


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    params = ZIParams(limit_rate=0.2, market_rate=0.5, cancel_rate=0.05, band_ticks=20, size_law="geometric",
                      order_size=3.0)  # fmt: skip
    flow = simulate_zi(params, 240.0, rng=7, depth=10)
    skip = int(flow["events"].attrs["initial_orders"]) - 1
    events, books = flow["events"].isel(event=slice(skip, None)), flow["books"].isel(time=slice(skip, None))
    spans = split_by_time(events, books)
    fitted = DiffusionGenerator(SMALL, device="cpu").fit(spans, seed=3)
    path = tmp_path_factory.mktemp("genworld") / "small.model"
    fitted.save(path)
    return fitted, path


def toy(tmp_path, model_path, mechanism: dict | None = None, worlds=("generator",)):
    data = copy.deepcopy(BASE)
    data["episode"]["worlds"] = list(worlds)
    data["background"] |= {"preset": "scenarios/library/generate_aapl_tiny.toml", "calibration": "ZI flow",
                           "duration_s": 10.0, "event_s": 5.0, "pre_s": 4.0}  # fmt: skip
    window = {"start_s": 5.0, "duration_s": 5.0}
    data["mechanism"] = mechanism or {"withdrawal": {"fixed": window | {"size_factor": 0.1}},
                                      "sell_program": {"fixed": window | {"side": -1}}}  # fmt: skip
    data["world"] = {"generator": {"model": str(model_path), "guidance": 3.0}}
    return load_episode(write_episode(tmp_path, data, "generator_toy"))


def test_a_switch_leaves_the_flow_before_it_unchanged_and_changes_it_after(model):
    fitted, _ = model
    (calm,) = fitted.sample(1, 6.0, generator=5, switches=[(3.0, None)])
    (shocked,) = fitted.sample(1, 6.0, generator=5, switches=[(3.0, {"depth": 1, "trend": 1})], guidance=3.0)
    a, b = calm["events"], shocked["events"]
    # the messages generated before the switch are those of a run that ends there (same seed); the first one
    # generated after it goes on from the path's last message, so it may land before the switch time
    (before,) = fitted.sample(1, 3.0, generator=5)
    n = before["events"].sizes["event"]
    assert n > 20 and a.sizes["event"] > n and b.sizes["event"] > n
    for name in ("ts_ns", "kind", "side", "price_ticks", "qty_lots", "order_id"):
        assert a[name].values[:n].tobytes() == b[name].values[:n].tobytes() == before["events"][name].values.tobytes()
    for name in ("bid_price", "bid_qty", "ask_price", "ask_qty"):
        assert calm["books"][name].values[:n].tobytes() == shocked["books"][name].values[:n].tobytes(), name
    after = min(a.sizes["event"], b.sizes["event"])
    assert not np.array_equal(a["price_ticks"].values[n:after], b["price_ticks"].values[n:after])
    assert "switches" in b.attrs and a.attrs["switches"] != b.attrs["switches"]
    with pytest.raises(ParameterError, match=r"`switches` of sample: the times must increase strictly within"):
        fitted.sample(1, 6.0, generator=5, switches=[(7.0, None)])


def test_primitives_map_to_quintiles_of_the_model_edges():
    assert stress_regime("withdrawal", {"size_factor": 0.1}, EDGES) == {"depth": 1}  # 25 lots < 100
    assert stress_regime("withdrawal", {"size_factor": 0.9}, EDGES) == {"depth": 3}  # 0.9 x 250 = 225
    assert stress_regime("sell_program", {"side": -1}, EDGES) == {"trend": 1, "imbalance": 1}
    assert stress_regime("sell_program", {"side": 1}, EDGES) == {"trend": 5, "imbalance": 5}
    windows = [(5.0, 10.0, {"depth": 1}), (7.0, 9.0, {"trend": 1})]
    assert regime_pieces(windows, {}, 12.0) == [(0.0, {}), (5.0, {"depth": 1}), (7.0, {"depth": 1, "trend": 1}),
                                                (9.0, {"depth": 1}), (10.0, {})]  # fmt: skip
    with pytest.raises(ParameterError, match="overlapping shocks ask regime 'depth' for quintiles 1 and 2 at 7 s"):
        regime_pieces([(5.0, 10.0, {"depth": 1}), (7.0, 9.0, {"depth": 2})], {"depth": 3}, 12.0)


def test_primitives_and_keys_without_a_learned_counterpart_are_refused(tmp_path, model):
    _, path = model
    with pytest.raises(ParameterError, match=r"primitives circuit_breaker, news have no form in the 'generator' world "
                       r"\(it takes sell_program, withdrawal\)"):  # fmt: skip
        run_stress(load_episode("crash_2010_05_06_emini"), tmp_path / "x.zarr", n_paths=1, seed=0, world="generator")
    news = {"news": {"fixed": {"time_s": 5.0, "jump_bps": -300.0}}}
    with pytest.raises(ParameterError, match=r"world 'generator' has no agents for primitive 'news' .* the "
                       r"'generator' world takes sell_program, withdrawal"):  # fmt: skip
        toy(tmp_path, path, news)
    thick = {"withdrawal": {"fixed": {"start_s": 5.0, "duration_s": 5.0, "size_factor": 0.3, "spread_factor": 2.0}}}
    episode = toy(tmp_path, path, thick)
    with pytest.raises(ParameterError, match=r"keys \['spread_factor'\] have no learned counterpart in the generator"):
        shock_windows(episode, {}, EDGES)
    sized = {"sell_program": {"fixed": {"start_s": 5.0, "duration_s": 5.0, "participation": 0.09}}}
    with pytest.raises(ParameterError, match=r"keys \['participation'\] have no learned counterpart"):
        shock_windows(toy(tmp_path, path, sized), {}, EDGES)


def test_the_store_is_read_by_evaluate_and_one_seed_gives_the_same_bytes(tmp_path, model):
    _, path = model
    episode = toy(tmp_path, path)
    store, rows = run_stress(episode, tmp_path / "a.zarr", n_paths=2, seed=4, world="generator")
    assert rows.shape[0] == 2
    assert store_groups(store, "stress store", "simlab stress run", ("paths", "statistics")) == [
        "normal_statistics", "paths", "statistics"]  # fmt: skip
    stress = read_stress_store(store)
    paths = stress.paths
    assert paths.attrs["world"] == "generator" and paths.attrs["generator_model"] == str(path)
    t_s, event = paths["t_s"].values, float(paths.attrs["event_s"])
    before = t_s < event
    for field in ("mid", "depth", "spread"):  # the paired run without the switch: equal before the shock
        np.testing.assert_array_equal(paths[field].values[:, before], paths[f"normal_{field}"].values[:, before])
    assert not np.array_equal(paths["depth"].values[:, ~before], paths["normal_depth"].values[:, ~before])
    again, _ = run_stress(episode, tmp_path / "b.zarr", n_paths=2, seed=4, world="generator")
    for group in ("paths", "statistics", "normal_statistics"):
        a, b = load_store(store, group), load_store(again, group)
        for name in a.data_vars:
            assert a[name].values.tobytes() == b[name].values.tobytes(), (group, name)
    first = simulate_episode(episode, 1, seed=4, world="generator")[0]  # path 0 does not depend on n_paths
    assert first.mid.tobytes() == paths["mid"].values[0].tobytes()
    rows = {row["statistic"]: row for row in paired_table(store)}
    assert set(rows) == set(SHAPE + WINDOW) and rows["drawdown"]["template"] == [0.05, 0.01]
    for row in (rows[name] for name in WINDOW):  # paired: the mean difference is the difference of the means
        assert row["difference"][0] == pytest.approx(row["switched"][0] - row["unswitched"][0], abs=1e-9)
    evaluated(tmp_path, store)


def evaluated(tmp_path, store) -> None:
    """Run `stress evaluate` on a generator-world store: fee designs against the unswitched paths, forecasters on
    re-simulated flows (checked against the stored mids)."""
    amm = tmp_path / "amm.toml"
    amm.write_text('[amm]\ndesigns = ["static", "volatility_linear"]\nbefore_s = 5.0\nafter_s = 5.0\nreplay = ""\n'
                   "block_s = 1.0\n")  # fmt: skip
    forecast = tmp_path / "forecast.toml"
    forecast.write_text('[forecast]\nmodels = ["mean", "ar"]\nwindow_s = 0.1\ncrash_window_s = 4.5\nanchor = "event"\n'
                        "normal_s = 5.0\npaths = 2\nlags = 2\n")  # fmt: skip
    out = evaluate_store(store, tmp_path / "eval.zarr", forecasters=forecast, amm=amm)
    change = load_store(out, "amm_change")
    assert np.isfinite(change["value"].values).any()
    summary = load_store(out, "forecast")["summary"]
    assert list(summary["phase"].values) == ["normal", "crash"] and np.isfinite(summary.values).any()


def test_the_cli_runs_the_generator_world_with_a_model(tmp_path, model):
    from typer.testing import CliRunner

    from scenarios.cli import app

    _, path = model
    data = tomllib.loads(toy(tmp_path, path).text)
    del data["world"]  # the model comes from --model
    episode = toy_file(tmp_path, data)
    args = ["stress", "run", str(episode), "--paths", "1", "--seed", "2", "-o", str(tmp_path / "cli.zarr")]
    result = CliRunner().invoke(app, [*args, "--world", "generator", "--model", str(path)])
    assert result.exit_code == 0, result.output
    assert load_store(tmp_path / "cli.zarr", "paths").attrs["generator_model"] == str(path)
    result = CliRunner().invoke(app, [*args, "--world", "abm", "--model", str(path), "--overwrite"])
    assert result.exit_code != 0 and "--model is for --world generator; got --world abm" in result.output
    with pytest.raises(ParameterError, match="no generator model .* and nowhere to save one trained from"):
        simulate_episode(load_episode(episode), 1, seed=0, world="generator")
