"""`simlab stress evaluate` and `simlab stress report` on a tiny stress store: the results store, the paired normal
day, the re-simulation check, same seed same bytes, the report in Chromium, bad input, and the demo step."""

from __future__ import annotations

import copy
import json
import re

import numpy as np
import pytest
import xarray as xr
from typer.testing import CliRunner

from scenarios.cli import app
from scenarios.specs import LIBRARY
from scenarios.stress.episodes import load_episode
from scenarios.stress.evaluate import normal_paths, read_stress_store
from scenarios.stress.real_windows import tape_windows, windows_dataset
from scenarios.stress.run import run_stress
from simlab.metrics.crash import CrashPath
from simlab.store import list_groups, load_store, write_store
from tests.scenarios.test_reports_browser import problems, render

from .test_episodes import BASE
from .test_run import write_episode

runner = CliRunner()
AMM = '[amm]\ndesigns = ["static", "oracle_gap"]\nbefore_s = 200.0\nafter_s = 250.0\nreplay = ""\n'
FORECAST = '[forecast]\nmodels = ["mean", "persistence", "ar"]\nwindow_s = 5.0\ncrash_window_s = 200.0\nnormal_s = 300.0\npaths = 2\n'  # noqa: E501


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A 3-path stress store of a 10-minute toy episode (a sell program at 300 s), the two specs, a windows store."""
    folder = tmp_path_factory.mktemp("stress_eval")
    episode = load_episode(write_episode(folder, copy.deepcopy(BASE)))
    store, _ = run_stress(
        episode, folder / "crash.zarr", n_paths=3, seed=3, values={"sell_program.quantity_lots": 900.0}
    )
    (folder / "amm.toml").write_text(AMM)
    (folder / "fc.toml").write_text(FORECAST)
    paths = load_store(store, "paths")
    tape = CrashPath(paths["t_s"].values, paths["mid"].values[0], depth=paths["depth"].values[0])
    rows = tape_windows("synthetic tape (path 0)", [tape], (60.0, 120.0), pre_s=60.0)
    write_store(windows_dataset(rows), folder / "windows.zarr")
    return folder


def said(result) -> str:
    """Return the CLI's output with the console's line wrapping undone."""
    return " ".join(result.output.split())


def evaluate(folder, name, *extra):
    args = ["stress", "evaluate", str(folder / "crash.zarr"), "-o", str(folder / name), "--amm",
            str(folder / "amm.toml"), "--forecasters", str(folder / "fc.toml"), *extra]  # fmt: skip
    return runner.invoke(app, args)


@pytest.fixture(scope="module")
def evaluated(tiny):
    result = evaluate(tiny, "eval.zarr", "--real-windows", str(tiny / "windows.zarr"))
    assert result.exit_code == 0, result.output
    return tiny / "eval.zarr"


def test_the_results_store_holds_every_table_with_provenance(evaluated):
    groups = list_groups(evaluated)
    assert groups == ["amm_change", "amm_crash", "amm_normal", "amm_rank", "forecast", "paths_band", "real_windows",
                      "statistics"]  # fmt: skip
    crash, normal, change = (load_store(evaluated, g)["value"] for g in ("amm_crash", "amm_normal", "amm_change"))
    assert list(crash["design_short"].values) == ["static()", "oracle_gap()"]
    # the paired change's mean is the crash mean minus the normal mean (same paths, same noise traders)
    diff = crash.sel(statistic="lp_pnl", bound="mean") - normal.sel(statistic="lp_pnl", bound="mean")
    np.testing.assert_allclose(change.sel(statistic="lp_pnl", bound="mean"), diff, atol=1e-9)
    forecast = load_store(evaluated, "forecast")
    assert list(forecast.regime.values) == ["normal", "path_0", "path_1"]
    summary = forecast["summary"].sel(metric="loss")
    per_path = forecast["score"].sel(regime=["path_0", "path_1"], metric="loss", bound="value")
    np.testing.assert_allclose(summary.sel(phase="crash", bound="value"), per_path.mean("regime"))
    np.testing.assert_array_equal(summary.sel(phase="normal"), forecast["score"].sel(regime="normal", metric="loss"))
    attrs = load_store(evaluated).attrs
    config = json.loads(attrs["config"])
    assert attrs["seed"] == 3 and config["amm_spec"] == AMM and config["forecast_spec"] == FORECAST
    assert "[mechanism.sell_program]" in config["episode"] and attrs["git_commit"] and attrs["simlab_version"]
    band = load_store(evaluated, "paths_band")["mid_rel"].sel(quantile=0.5).values
    t_s = load_store(evaluated, "paths_band")["t_s"].values
    assert abs(np.nanmedian(band[(t_s >= 180) & (t_s < 300)]) - 1.0) < 2e-3  # relative to the pre-event level


def test_each_crash_window_is_centred_on_its_paths_trough(tiny, evaluated):
    from scenarios.stress.evaluate import ForecastTable, _config, _crash_start

    forecast = load_store(evaluated, "forecast")
    stats = load_store(evaluated, "statistics")["value"].sel(statistic="time_to_trough_s").values
    store = read_stress_store(tiny / "crash.zarr")
    open_ns = _config(store.episode, store.values).open_ns
    for k in range(2):
        begin = max(300.0, min(300.0 + stats[k] - 100.0, 600.0 - 200.0))  # 200 s windows, session of 600 s
        assert forecast["start_ns"].sel(regime=f"path_{k}").item() == open_ns + int(round(begin * 1e9))
        assert forecast["end_ns"].sel(regime=f"path_{k}").item() == open_ns + int(round(begin * 1e9)) + 200 * 10**9
    assert _crash_start(store, ForecastTable(models=["mean"], anchor="event"), 1) == 300.0


def test_the_normal_day_is_the_crash_path_before_its_shock(tiny):
    """Normal path k runs on the crash's seed k without the mechanism: identical until the sell program starts."""
    store = read_stress_store(tiny / "crash.zarr")
    normal, crash = normal_paths(store), store.paths["mid"].values
    t_s = store.paths["t_s"].values
    before, after = t_s < 300.0, t_s > 360.0
    np.testing.assert_array_equal(normal[:, before], crash[:, before])
    assert not np.array_equal(normal[:, after], crash[:, after], equal_nan=True)


def test_same_seed_same_bytes_on_two_workers_and_another_seed_differs(tiny, evaluated):
    again = evaluate(tiny, "again.zarr", "--real-windows", str(tiny / "windows.zarr"), "--workers", "2")
    assert again.exit_code == 0, again.output
    for group in list_groups(evaluated):
        first, second = load_store(evaluated, group), load_store(tiny / "again.zarr", group)
        assert first.identical(second), group
    other = evaluate(tiny, "other.zarr", "--seed", "4")
    assert other.exit_code == 0, other.output
    a, b = (load_store(p, "amm_crash")["value"].values for p in (evaluated, tiny / "other.zarr"))
    assert not np.array_equal(a, b)


def test_a_store_whose_paths_cannot_be_reproduced_is_refused(tiny, tmp_path):
    groups = {g: load_store(tiny / "crash.zarr", g) for g in ("paths", "statistics")}
    for ds in groups.values():
        ds.attrs["seed"] = 4  # the paths were drawn from seed 3
    write_store(groups, tmp_path / "tampered.zarr")
    result = runner.invoke(app, ["stress", "evaluate", str(tmp_path / "tampered.zarr"), "-o", str(tmp_path / "o.zarr"),
                                 "--forecasters", str(tiny / "fc.toml")])  # fmt: skip
    assert result.exit_code == 2
    assert "re-simulating path 0 from its recorded episode, shock values and seed does not reproduce" in said(result)


def test_bad_input_is_one_sentence(tiny, evaluated, tmp_path):
    out = str(tmp_path / "o.zarr")
    cases = [
        (["stress", "evaluate", str(evaluated), "-o", out, "--amm", str(tiny / "amm.toml")],
         "expected the groups `paths` and `statistics` of `simlab stress run`; found ['amm_change'"),
        (["stress", "evaluate", str(tmp_path), "-o", out, "--amm", str(tiny / "amm.toml")],
         "not a zarr store (expected the output of `simlab stress run`)"),
        (["stress", "evaluate", str(tiny / "crash.zarr"), "-o", out, "--amm", "no_such_spec"],
         "AMM stress spec"),
        (["stress", "evaluate", str(tiny / "crash.zarr"), "-o", out],
         "stress evaluate needs --forecasters SPEC or --amm SPEC (or both); got neither"),
        (["stress", "report", str(tiny / "crash.zarr"), "-o", str(tmp_path / "r.html")],
         "of `simlab stress evaluate`; found ['paths', 'statistics'] (a stress store is evaluated first)"),
        (["stress", "report", str(evaluated), "-o", str(tmp_path / "r.pdf")],
         "-o/--output must name an .html file; got"),
        (["stress", "windows", "-o", str(tmp_path / "w.zarr"), "--data", str(tmp_path / "nowhere")],
         "nowhere/binance_ws_l2_trades_hftbacktest/spot/btcusdt_20240808.gz: no such file"),
        (["stress", "windows", "-o", str(evaluated)], "exists; pass --overwrite to replace it"),
    ]  # fmt: skip
    for args, words in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and words in said(result), (args, result.output)
    (tmp_path / "bad.toml").write_text('[amm]\ndesigns = ["static", "magic"]\n')
    bad = runner.invoke(app, ["stress", "evaluate", str(tiny / "crash.zarr"), "-o", out, "--amm",
                              str(tmp_path / "bad.toml")])  # fmt: skip
    assert bad.exit_code == 2 and "`amm.designs` ['magic'] are not fee designs; valid ones are" in said(bad)
    missing = runner.invoke(app, ["stress", "evaluate", str(tiny / "crash.zarr"), "-o", out, "--amm",
                                  str(tmp_path / "missing.toml")])  # fmt: skip
    assert missing.exit_code == 2 and "missing.toml': no such file" in said(missing)


def test_the_report_renders_in_chromium_and_opens_with_the_summary(evaluated, tmp_path):
    run = load_store(evaluated, "forecast").drop_vars("summary")  # a forecaster_stress table, as forecast_runs writes
    write_store({"table": run}, tmp_path / "run.zarr")
    args = ["stress", "report", str(evaluated), "-o", str(tmp_path / "report.html"), "--forecast-run"]
    result = runner.invoke(app, [*args, str(tmp_path / "run.zarr")])
    assert result.exit_code == 0, result.output
    markdown = (tmp_path / "report.md").read_text()
    headings = [line for line in markdown.splitlines() if line.startswith("## ")]
    assert headings[0] == "## Summary: what holds up in which crash" and headings[-1] == "## Real stress windows"
    assert "## Forecasters on other crash windows" in headings
    skill = run["score"].sel(model="ar", metric="skill").transpose("regime", "bound").values
    assert f"| ar | {skill[0, 0]:.3g} [{skill[0, 1]:.3g}, {skill[0, 2]:.3g}] | {skill[1, 0]:.3g} [" in markdown
    bad = runner.invoke(app, [*args, str(evaluated)])
    assert bad.exit_code == 2 and "expected a store with the `table` group of forecaster_stress" in said(bad)
    table = load_store(evaluated, "amm_change")["value"].sel(statistic="lp_pnl")
    change = table.isel(design=list(table["design_short"].values).index("oracle_gap()")).values
    from scenarios.stress.report import design_verdict

    assert f"| oracle_gap() | {change[0]:.3g} [{change[1]:.3g}, {change[2]:.3g}]: " in markdown
    assert design_verdict(change).split(" (")[0] in markdown
    tests = load_store(evaluated, "forecast")["tests"].sel(model="ar", test="shift_loss", regime=["path_0", "path_1"])
    up = int(((tests.sel(stat="p_value") < 0.05) & (tests.sel(stat="statistic") > 0)).sum())
    down = int(((tests.sel(stat="p_value") < 0.05) & (tests.sel(stat="statistic") < 0)).sum())
    assert re.search(rf"^\| ar \|.*\| {up} / {down} of 2 \| ", markdown, re.MULTILINE)
    checked = render(tmp_path / "report.html", tmp_path / "profile")
    assert problems(checked) == []
    assert checked["tables"] >= 6 and "synthetic tape (path 0)" in checked["text"]


def test_verdicts_read_intervals_only():
    from scenarios.stress.report import design_verdict, forecaster_verdict

    assert design_verdict(np.array([-1.0, -2.0, -0.1])) == "loses 1 bps"
    assert design_verdict(np.array([1.0, 0.2, 2.0])) == "gains 1 bps"
    assert design_verdict(np.array([-1.0, -2.0, 0.1])).startswith("holds up (indistinguishable")
    assert design_verdict(np.array([-1.0, np.nan, np.nan])).startswith("untested")
    normal = np.array([0.4, 0.3, 0.5])
    assert forecaster_verdict(normal, np.array([0.1, 0.0, 0.29])).startswith("degrades; in the crash it is indisting")
    assert forecaster_verdict(normal, np.array([0.3, 0.2, 0.31])).startswith("holds up")
    assert forecaster_verdict(normal, np.array([0.7, 0.6, 0.8])) == "improves; in the crash it beats the training mean"
    assert forecaster_verdict(np.zeros(3), np.zeros(3)).startswith("the baseline")


def test_the_demo_step_runs_one_crash_end_to_end(tmp_path):
    from scenarios.demo.runner import Demo
    from scenarios.demo.stress import stress_step
    from simlab.metrics.crash import interval_table

    metrics = stress_step(Demo(tmp_path, seed=11))
    assert (
        metrics["about"].startswith("The crash_2010_05_06_emini episode") and "stored fitted shock" in metrics["about"]
    )
    fitted = json.loads((LIBRARY / "crash_2010_05_06_emini.fitted.json").read_text())["parameters"]
    assert sorted(metrics["shock values"].split(", ")) == sorted(f"{k} = {v:.4g}" for k, v in fitted.items())
    stats = load_store(tmp_path / "stress_crash.zarr", "statistics")["value"]
    rows = [dict(zip(stats.statistic.values, row, strict=True)) for row in stats.values]
    mean, lo, hi, n = interval_table(rows)["drawdown"]
    assert n == 4 and metrics["drawdown: simulated vs template"] == f"{mean:.4g} [{lo:.4g}, {hi:.4g}] vs 0.05 +- 0.015"
    change = load_store(tmp_path / "stress_eval.zarr", "amm_change")["value"].sel(statistic="lp_pnl")
    assert change.sizes["design"] == 4 and len([k for k in metrics if k.startswith("fee design")]) == 4
    assert len([k for k in metrics if k.startswith("forecaster")]) == 4
    assert (tmp_path / metrics["report"]).is_file()
    assert isinstance(xr.open_zarr(tmp_path / "stress_eval.zarr", group="forecast", consolidated=False), xr.Dataset)
    depeg = load_store(tmp_path / "stress_depeg_eval.zarr", "amm_change")["value"].sel(statistic="lp_pnl")
    lines = {k: v for k, v in metrics.items() if k.startswith("depeg_2023_03_usdc on its StableSwap pool")}
    assert depeg.sizes["design"] == 4 and len(lines) == 4
    assert "StableSwap" in load_store(tmp_path / "stress_depeg_eval.zarr", "amm_crash").attrs["pool"]


def test_a_peg_run_store_is_evaluated_against_the_peg_held(tmp_path):
    """A depeg store (world amm): fee designs against the peg held as its normal day; forecasters are refused."""
    store = tmp_path / "usdc.zarr"
    made = runner.invoke(app, ["stress", "run", "depeg_2023_03_usdc", "--world", "amm", "--paths", "3", "-o",
                               str(store)])  # fmt: skip
    assert made.exit_code == 0, made.output
    normal = normal_paths(read_stress_store(store))
    mid = load_store(store, "paths")["mid"].values
    assert normal.shape == mid.shape and np.all(normal == normal[:, :1])  # flat: the peg held
    assert np.allclose(normal[:, 0], 1.0, atol=1e-3) and np.nanmin(mid) < 0.95
    out = runner.invoke(app, ["stress", "evaluate", str(store), "--amm", str(tmp_path / "amm.toml"), "-o",
                              str(tmp_path / "e.zarr")])  # fmt: skip
    assert out.exit_code == 2 and "amm.toml': no such file" in said(out)
    (tmp_path / "amm.toml").write_text('[amm]\ndesigns = ["static", "oracle_gap"]\nreplay = ""\n')
    out = runner.invoke(app, ["stress", "evaluate", str(store), "--amm", str(tmp_path / "amm.toml"), "-o",
                              str(tmp_path / "e.zarr")])  # fmt: skip
    assert out.exit_code == 0, out.output
    change = load_store(tmp_path / "e.zarr", "amm_change")
    assert sorted(str(d).split("(")[0] for d in change["design"].values) == ["oracle_gap", "static"]
    refused = runner.invoke(app, ["stress", "evaluate", str(store), "--forecasters", "stress_forecasters", "-o",
                                  str(tmp_path / "f.zarr")])  # fmt: skip
    assert refused.exit_code == 2 and "usdc.zarr is world 'amm'" in said(refused), refused.output
