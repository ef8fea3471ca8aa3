"""Task specs: names, refusals with our error sentence, and a tiny planted run end to end (store and report)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from scenarios.forecast.runner import run_spec
from scenarios.forecast.spec import load_spec, parse_spec
from simlab.errors import ParameterError

PLANTED = {
    "run": {"name": "planted-direction", "seed": 3},
    "data": [{"name": "planted", "source": "planted", "rows": 1500, "levels": 5, "signal": 0.9}],
    "task": {"name": "direction", "horizon_events": 1, "models": ["flow_logistic", "last_label", "prior"],
             "reference": "prior", "levels": 5},
}  # fmt: skip


def _with(**task):
    return {**PLANTED, "task": {**PLANTED["task"], **task}}


def test_library_specs_parse():
    spec = load_spec("deep_lob")
    first = spec.task_list[0]
    assert first.name == "direction" and first.models[0] == "deeplob" and spec.data[0].source == "lobster"
    amzn = load_spec("deep_events_amzn").task_list[0]
    assert amzn.name == "realised_vol" and amzn.reference == "har" and load_spec("deep_events_amzn").data[0].levels == 1


@pytest.mark.realdata
def test_library_specs_name_files_that_exist(shared_data):
    for name in ("deep_lob", "deep_events_amzn", "deep_binance_btcusdt", "tstr_hawkes_aapl", "tstr_generator_aapl",
                 "tstr_abm_amzn"):  # fmt: skip
        for path in (f for d in load_spec(name).data for window in d.files for f in window):
            assert (shared_data / path).is_file(), path


@pytest.mark.parametrize(
    ("task", "message"),
    [
        ({"name": "drift"}, r"`task.name` Value error, must be one of \['direction', 'big_move', 'realised_vol'"),
        (
            {"models": ["deeplob", "lstm"]},
            r"must be distinct names from \['deeplob', 'event_transformer', 'footprint_cnn'.*'lstm'",
        ),
        ({"normalisation": "full"}, "would let the normalisation see the test span"),
        ({"horizon_s": 1.0}, "exactly one of `horizon_events` and `horizon_s`"),
    ],
)
def test_bad_task_specs_are_refused(task, message):
    with pytest.raises(ParameterError, match=message):
        parse_spec(_with(**task))


def test_run_refuses_long_horizons_and_shallow_books(tmp_path):
    with pytest.raises(ParameterError, match="longer than the test span of fold 0"):
        run_spec(parse_spec(_with(horizon_events=300)), tmp_path / "a.zarr", data_dir=tmp_path)
    with pytest.raises(ParameterError, match="model 'deeplob' needs books of >= 10 levels; series 'planted' has 5"):
        run_spec(parse_spec(_with(models=["deeplob", "prior"], levels=10)), tmp_path / "b.zarr", data_dir=tmp_path)


@pytest.mark.realdata
def test_task_run_with_tstr_reports_both(tmp_path, shared_data):
    folder = "lobster_samples/AAPL_2012-06-21_level10_first1000/"
    files = [folder + f.name for f in sorted((shared_data / folder).glob("*.csv"))]
    task = {"name": "direction", "horizon_events": 5, "models": ["flow_logistic", "prior"], "reference": "prior",
            "levels": 1, "tstr": True, "tstr_synthetic_s": 300.0, "tstr_n_max": 20}  # fmt: skip
    spec = parse_spec({"data": [{"name": "AAPL", "source": "lobster", "files": [files]}], "task": task})
    out = run_spec(spec, tmp_path / "t.zarr", data_dir=shared_data)
    rows = out["series"]["AAPL"]["tstr"]["rows"]
    assert [r["model"] for r in rows] == ["flow_logistic", "prior"] and all(r["trtr"] > 0.3 for r in rows)
    assert "Train on synthetic, test on real" in (tmp_path / "t_report" / "report.html").read_text()


def test_planted_task_run_writes_store_and_report(tmp_path):
    out = run_spec(parse_spec(PLANTED), tmp_path / "run.zarr", data_dir=tmp_path)
    scores = out["series"]["planted"]["scores"]
    assert scores["flow_logistic"]["accuracy"] > 0.85 and scores["flow_logistic"]["dm_zero_one_vs_prior"] < -5
    stored = xr.open_zarr(tmp_path / "run.zarr", group="planted", consolidated=False)
    assert set(np.unique(stored["fold"].values)) == {0, 1, 2, 3, 4}
    assert set(np.unique(stored["actual"].values)) <= {-1.0, 0.0, 1.0}
    assert stored["probs_flow_logistic"].shape == (out["series"]["planted"]["origins"], 3)
    html = (tmp_path / "run_report" / "report.html").read_text()
    assert "flow_logistic" in html and "Diebold-Mariano" in html
    again = run_spec(parse_spec(PLANTED), tmp_path / "again.zarr", data_dir=tmp_path)
    assert again["series"]["planted"]["scores"]["flow_logistic"] == {
        **scores["flow_logistic"], "seconds": again["series"]["planted"]["scores"]["flow_logistic"]["seconds"]
    }  # fmt: skip
