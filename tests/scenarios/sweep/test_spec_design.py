"""Sweep specs, designs, seeds, keys and the job registry (no cluster needed)."""

from __future__ import annotations

import numpy as np
import pytest

from scenarios.sweep import jobs
from scenarios.sweep.design import build_design, point_seeds
from scenarios.sweep.runner import plan_from_spec
from scenarios.sweep.spec import parse_sweep_spec
from simlab.errors import ParameterError
from tests.scenarios.sweep.conftest import JOB, spec_text


def _spec(design: dict, parameters: dict, **sweep):
    return parse_sweep_spec({"sweep": {"job": JOB, "seed": 4, **sweep}, "design": design, "parameters": parameters})


def test_a_grid_enumerates_every_combination_in_c_order():
    design = build_design(_spec({}, {"x": [3, 1], "y": ["a", "b", "c"], "sleep_s": 0.0}))
    assert design.dims == ("x", "y") and design.shape == (2, 3)
    assert design.points[:4] == [{"x": 3, "y": "a"}, {"x": 3, "y": "b"}, {"x": 3, "y": "c"}, {"x": 1, "y": "a"}]
    assert design.coords["x"].dtype == np.int64 and list(design.coords["y"]) == ["a", "b", "c"]


@pytest.mark.parametrize("log", [False, True])
def test_a_latin_hypercube_puts_one_point_in_each_stratum_of_each_parameter(log):
    n = 40
    spec = _spec({"kind": "lhs", "n": n}, {"x": {"low": 1.0, "high": 100.0, "log": log}, "y": ["a", "b", "c", "d"]})
    design = build_design(spec)
    x = np.array([p["x"] for p in design.points])
    unit = (np.log(x) - np.log(1.0)) / np.log(100.0) if log else (x - 1.0) / 99.0
    assert sorted(np.floor(unit * n).astype(int)) == list(range(n))
    levels = [p["y"] for p in design.points]
    assert {level: levels.count(level) for level in "abcd"} == dict.fromkeys("abcd", 10)
    assert design.dims == ("point",) and list(design.point_coords["y"]) == levels


def test_a_sobol_design_is_balanced_seeded_and_differs_between_seeds():
    parameters = {"x": {"low": 0.0, "high": 1.0}, "z": {"low": -1.0, "high": 1.0}}
    design = build_design(_spec({"kind": "sobol", "n": 16}, parameters))
    x = np.array([p["x"] for p in design.points])
    assert sorted(np.floor(x * 16).astype(int)) == list(range(16))  # a (0, m, d)-net: one point per 1/16 of x
    again = build_design(_spec({"kind": "sobol", "n": 16}, parameters))
    other = build_design(_spec({"kind": "sobol", "n": 16}, parameters, seed=5))
    assert again.points == design.points and other.points != design.points


def test_seeds_are_spawned_in_design_order_and_keys_follow_parameters_seed_and_paths(tmp_path):
    seeds = point_seeds(9, 3)
    assert [s.spawn_key for s in seeds] == [(1, 0), (1, 1), (1, 2)] and seeds[0].entropy == 9
    path = tmp_path / "s.toml"
    path.write_text(spec_text(xs=2))
    keys = plan_from_spec(path).keys()
    assert len(set(keys)) == 4 and keys == plan_from_spec(path).keys()
    for changed in (spec_text(xs=2, seed=2), spec_text(xs=2).replace("paths = 5", "paths = 6")):
        path.write_text(changed)
        assert not set(plan_from_spec(path).keys()) & set(keys)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"sweep": {"job": "nope", "seed": 1}},
            f"`sweep.job` Value error, must be one of the jobs {', '.join(jobs.job_names())} or a dotted path "
            "'package.module:function'",
        ),
        ({"design": {"kind": "halton"}}, "`design.kind` Input should be 'grid', 'lhs' or 'sobol'; got 'halton'"),
        (
            {"parameters": {"x": {"low": 2.0, "high": 2.0}}, "design": {"kind": "lhs", "n": 4}},
            "`parameters.x` is an empty range: `low` must be < `high`; got low=2.0, high=2.0",
        ),
        (
            {"parameters": {"x": {"low": 0.0, "hgh": 1.0}}, "design": {"kind": "lhs", "n": 4}},
            "`parameters.x.high` Field required",
        ),
        ({"parameters": {"x": []}}, "`(top level)` Value error, `parameters.x` is an empty list of values"),
        ({"parameters": {"x": {"low": 0.0, "high": 1.0}}}, "`parameters.x` is a range, which a grid cannot"),
        ({"design": {"kind": "sobol", "n": 12}}, "`design.n` of a sobol design must be a power of 2"),
        ({"design": {"kind": "lhs"}}, "`design.n` (the number of points) is required by design kind 'lhs'"),
        ({"sweep": {"job": "hawkes", "seed": 1, "pathz": 3}}, "`sweep.pathz` Extra inputs are not permitted"),
    ],
)
def test_a_bad_spec_names_the_field_and_the_valid_choices(data, message):
    full = {"sweep": {"job": JOB, "seed": 1}} | data
    with pytest.raises(ParameterError) as caught:
        parse_sweep_spec(full, source="s.toml")
    assert message in str(caught.value), str(caught.value)


def test_unknown_parameters_are_refused_before_anything_runs(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[sweep]\njob = "hawkes"\nseed = 1\n[parameters]\nbranchin = [0.1, 0.2]\n')
    with pytest.raises(ParameterError, match="job hawkes has no parameter 'branchin'; its parameters are baseline, "
                                             "branching, decay, duration_s"):  # fmt: skip
        plan_from_spec(path)
    path.write_text('[sweep]\njob = "amm"\nseed = 1\n[parameters]\ndesign = "static"\nfees = [0.1, 0.2]\n')
    with pytest.raises(ParameterError, match="fee design static has no parameter 'fees'; its parameters are fee"):
        plan_from_spec(path)


def test_the_registry_is_open_and_an_unknown_job_lists_the_valid_ones():
    jobs.register("toy", JOB)
    try:
        from tests.scenarios.sweep.sweep_jobs import noisy

        assert jobs.resolve_job("toy") is noisy and "toy" in jobs.job_names()
    finally:
        del jobs.JOBS["toy"]
    valid = ", ".join(jobs.job_names())
    assert {"abm", "amm", "forecast", "hawkes"} <= set(jobs.job_names())
    with pytest.raises(ParameterError, match=f"job 'weather' is unknown; the valid jobs are {valid} or"):
        jobs.resolve_job("weather")
    with pytest.raises(ParameterError, match="job 'scenarios.nowhere:job': cannot import 'job' from module"):
        jobs.resolve_job("scenarios.nowhere:job")


def test_the_hawkes_job_meets_its_stationary_rate():
    result = jobs.hawkes_job(np.random.SeedSequence(3), 4, baseline=1.0, branching=0.5, decay=2.0, duration_s=2000.0)
    assert float(result["stationary_rate_per_s"]) == 2.0
    assert float(result["rate_per_s"].mean()) == pytest.approx(2.0, rel=0.1)
    again = jobs.hawkes_job(np.random.SeedSequence(3), 4, baseline=1.0, branching=0.5, decay=2.0, duration_s=2000.0)
    assert result.identical(again)


def test_the_library_sweep_specs_plan():
    forecast = plan_from_spec("sweep_forecast_sensitivity")
    assert len(forecast.design.points) == 120 and forecast.design.dims == ("var_lags", "layers", "activation",
                                                                           "optimizer")  # fmt: skip
    amm = plan_from_spec("sweep_amm_volatility")
    assert len(amm.design.points) == 64 and amm.fixed["design"] == "static"
