"""`simlab amm sweep` end to end (through the sweep runner, equal to the engine in process), the sweep spec's
validation, the library specs and the demo's AMM step."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from scenarios.amm.sweep import amm_job, load_sweep, parse_sweep
from scenarios.demo.amm import CONSERVATION
from scenarios.specs import LIBRARY
from simlab.amm.chain import Gas
from simlab.amm.engine import METRICS, Market, PoolSpec, simulate_amm
from simlab.amm.fees import fee_names
from simlab.errors import ParameterError
from simlab.store import open_store

runner = CliRunner()
SPEC = """
[sweep]
seed = 3
paths = 30
blocks = 200
rank_by = "lp_pnl"

[pool]
value = 1_000_000.0

[[designs]]
name = "static"
fee = [0.0005, 0.003]

[[designs]]
name = "surge"
surge = 0.01

[[markets]]
label = "calm"
volatility = 0.5
noise = { rate_per_s = 0.1, mean_value = 2000.0, fee_elasticity = 200.0 }

[[markets]]
label = "gas"
volatility = 1.0
gas = { gas_units = 100_000.0 }
"""


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    from scenarios import cli

    return cli.app


def test_sweep_runs_through_the_runner_into_a_store_equal_to_the_engine_and_prints_a_ranked_table(app, tmp_path):
    spec, store = tmp_path / "sweep.toml", tmp_path / "sweep.zarr"
    spec.write_text(SPEC)
    args = ["amm", "sweep", str(spec), "-o", str(store), "--workers", "1"]
    result = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    ds = open_store(store)
    assert ds["lp_pnl"].dims == ("parameter", "design", "path") and ds["mean"].dims == ("parameter", "design", "metric")
    assert ds.sizes["design"] == 3 and ds.sizes["parameter"] == 2 and ds.sizes["path"] == 30
    assert ds.attrs["seed"] == 3 and "fee_elasticity = 200.0" in ds.attrs["config"]
    assert (ds.attrs["done"], ds.attrs["failed"], ds.attrs["pending"]) == (6, 0, 0)
    parsed, _ = load_sweep(spec)
    engine = simulate_amm([r for t in parsed.designs for r in t.rules()], markets=[m.market() for m in parsed.markets],
                          pool=PoolSpec(**parsed.pool.model_dump()), n_paths=30, n_blocks=200, seed=3)  # fmt: skip
    values = ds[list(METRICS)].to_array("metric").transpose("design", "parameter", "path", "metric")
    np.testing.assert_array_equal(values.values, engine["value"].values)  # bit for bit: same seeds, same kernel
    np.testing.assert_allclose(ds["mean"].transpose("design", "parameter", "metric"), engine["mean"], rtol=1e-12)
    assert "lp_pnl (95% CI)" in result.output and "static(fee=0.0005)" in result.output
    calm = ds["mean"].sel(parameter="calm", metric="lp_pnl").values
    best = str(ds["design_short"].values[calm.argmax()])
    first_row = next(line for line in result.output.splitlines() if "│ calm" in line and "│ 1 " in line)
    assert best in first_row
    again = runner.invoke(app, ["amm", "sweep", str(spec), "-o", str(store)])
    assert again.exit_code == 2 and "exists" in again.output


def test_the_amm_job_is_the_engine_on_one_design():
    seed = np.random.SeedSequence(5)
    job = amm_job(seed.spawn(1)[0], 12, design="static", fee=0.003, blocks=80, volatility=0.8, gas_units=50_000.0)
    market = Market(volatility=0.8, gas=Gas(gas_units=50_000.0))
    engine = simulate_amm([("static", {"fee": 0.003})], markets=market, n_paths=12, n_blocks=80, seed=5)
    for k, metric in enumerate(METRICS):
        np.testing.assert_array_equal(job[metric].values, engine["value"].values[0, 0, :, k])


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"markets": [{"blocks": {"laww": "fixed"}}]}, "`markets.0.blocks.laww` Extra inputs are not permitted"),
        ({"sweep": {"rank_by": "profit"}}, "`sweep.rank_by` Value error, must be one of the metrics lp_pnl, "),
        ({"sweep": {"paths": 0}}, "`sweep.paths` Input should be greater than or equal to 1; got 0"),
        ({"designs": []}, "`designs` List should have at least 1 item"),
    ],
)
def test_a_bad_spec_names_the_field(patch, message):
    data = {"designs": [{"name": "static"}]} | patch
    with pytest.raises(ParameterError) as caught:
        parse_sweep(data, source="s.toml")
    assert str(caught.value).startswith(f"s.toml: {message}"), str(caught.value)


def test_unknown_design_parameters_list_the_valid_ones():
    spec = parse_sweep({"designs": [{"name": "static", "fees": 0.1}]})
    with pytest.raises(ParameterError, match="fee design static has no parameter 'fees'; its parameters are fee"):
        spec.designs[0].rules()
    grid = parse_sweep({"designs": [{"name": "toxicity", "base_fee": [0.001, 0.002], "halflife_s": [60, 120, 300]}]})
    rules = grid.designs[0].rules()
    assert len(rules) == 6 and {r.halflife_s for r in rules} == {60.0, 120.0, 300.0}


def test_the_library_specs_parse():
    names = sorted(p.stem for p in LIBRARY.glob("amm_*.toml"))
    assert names == ["amm_fee_levels", "amm_registry_tour"]
    levels, _ = load_sweep("amm_fee_levels")
    assert sum(len(d.rules()) for d in levels.designs) == 8 and len(levels.markets) == 2
    tour, _ = load_sweep("amm_registry_tour")
    assert [d.name for d in tour.designs] == fee_names() and tour.sweep.blocks == 7200


def test_demo_amm_step_without_real_data(tmp_path):
    from scenarios.demo import Demo
    from scenarios.demo.amm import amm_step

    demo = Demo(tmp_path, seed=5)
    metrics = amm_step(demo, None)
    assert float(metrics[CONSERVATION]) < 0.02
    assert metrics["real v3 replay"].startswith("skipped")
    share = float(metrics["static(): arb profit share of LVR (no noise)"])
    assert share == pytest.approx(8 / (4 * (2 + 3.4328 * 3)), abs=0.01)  # Nezlobin-Tassy at f / sigma_b = 3
    assert (Path(tmp_path) / "amm_designs.zarr").is_dir()


def test_demo_amm_step_replays_the_real_v3_swaps(tmp_path):
    from scenarios.demo import Demo
    from scenarios.demo.amm import V3_SWAPS, amm_step
    from tests.conftest import shared_path

    data_dir = shared_path(V3_SWAPS).parents[1]
    metrics = amm_step(Demo(tmp_path, seed=5), data_dir)
    assert metrics["real v3 replay"].startswith("13413 swaps, 5 designs")
    fees, _ = metrics["static(): replay fees / hedged P&L, bps"].split(" / ")
    assert float(fees) == pytest.approx(86.60, abs=0.01)  # 0.30% of the 26 days' USD volume over the pool depth
    assert (Path(tmp_path) / "amm_v3_replay.zarr").is_dir()
