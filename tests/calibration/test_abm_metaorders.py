"""The held-out square-root runner and judge (calibration/abm_metaorders.py): per-seed rows equal a batch run's, a
stopped run resumes, and the judge's criteria pass and fail where they should on rows of known law."""

from __future__ import annotations

import json

import numpy as np
import pytest

from calibration.abm_metaorders import FRACTIONS, header, judge, main, merge, run
from simlab.agents.impact import metaorder_impact
from simlab.errors import DataError, ParameterError
from tests.simlab.agents.conftest import small_config

PRESET = "calibration/presets/abm-amzn-v23.toml"  # names the header; the tests' market is small_config's
SMALL = np.array([0.01, 0.3])
WINDOW = {"start_s": 300.0, "duration_s": 600.0, "after_s": 300.0, "interval_s": 20.0}


def _run(tmp_path, name, seeds, side="buy"):
    config = small_config(session_s=1800.0)
    return run(PRESET, "twap", side, seeds, tmp_path / name, SMALL, config=config, **WINDOW)


def test_rows_equal_a_batch_run_and_a_stopped_run_resumes(tmp_path):
    batch = metaorder_impact(small_config(session_s=1800.0), SMALL, seeds=[1, 2, 3], strategy="twap", **WINDOW)
    _run(tmp_path, "part.json", [1, 2])
    resumed = _run(tmp_path, "part.json", [1, 2, 3])  # seeds 1 and 2 are read back, 3 is run
    assert [row["seed"] for row in resumed["rows"]] == [1, 2, 3]
    for i, row in enumerate(resumed["rows"]):
        for name in ("peak_bps", "after_bps", "completion_s", "executed_lots", "executed_at_end_lots"):
            np.testing.assert_array_equal(row[name], batch[name].values[i])
        assert row["volume_lots"] == batch["volume_lots"].values[i]
    on_disk = json.loads((tmp_path / "part.json").read_text())
    assert on_disk == resumed and on_disk["protocol"] == "twap" and on_disk["fractions"] == SMALL.tolist()


@pytest.mark.filterwarnings("ignore:All-NaN slice")  # two seeds' own exponent interval, unused
def test_sells_are_signed_against_the_metaorder(tmp_path):
    sells = _run(tmp_path, "sell.json", [1, 2], side="sell")
    batch = metaorder_impact(small_config(session_s=1800.0), SMALL, seeds=[1, 2], strategy="twap", side=-1, **WINDOW)
    np.testing.assert_array_equal([row["peak_bps"] for row in sells["rows"]], batch["peak_bps"].values)
    assert sells["side"] == "sell"


def test_a_file_of_another_run_is_refused(tmp_path):
    _run(tmp_path, "f.json", [1])
    with pytest.raises(DataError, match="holds rows of another run"):
        _run(tmp_path, "f.json", [1], side="sell")


def _rows(delta, *, n=48, after_share=0.6, seed=0, cap_at=None, error_seed=None):
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n):
        peak = 150.0 * (FRACTIONS / 0.1) ** delta + rng.normal(0.0, 3.0, FRACTIONS.size)
        after = after_share * peak + rng.normal(0.0, 3.0, FRACTIONS.size)
        completion = np.full(FRACTIONS.size, 600.0)
        if cap_at is not None:
            completion[cap_at] = 14400.0
        volume = 650_000.0
        done = np.rint(FRACTIONS * volume)
        rows.append({"seed": s, "peak_bps": peak.tolist(), "after_bps": after.tolist(),
                     "completion_s": completion.tolist(), "executed_lots": done.tolist(),
                     "executed_at_end_lots": done.tolist(), "volume_lots": volume, "cpu_s": 1.0})  # fmt: skip
    if error_seed is not None:
        rows[error_seed] = {"seed": error_seed, "error": "runaway"}
    return rows


def _head(protocol="pov25"):
    return {"preset": "p", "preset_sha256": "0", "protocol": protocol, "side": "buy", "fractions": FRACTIONS.tolist()}


def test_the_square_root_with_a_lasting_part_passes():
    verdict = judge(_head(), _rows(0.5))
    assert verdict["passes"] and verdict["criteria"] == {"no_runaway": True, "band": True, "decay": True,
                                                         "valid": True}  # fmt: skip
    low, high = verdict["exponent_interval_95"]
    assert 0.4 <= low <= 0.5 <= high <= 0.65 and verdict["loglog_exponent"] == pytest.approx(0.5, abs=0.05)
    assert verdict["top_after_share_of_peak"] == pytest.approx(0.6, abs=0.05) and len(verdict["halves"]) == 2


@pytest.mark.parametrize(
    ("rows", "failed"),
    [
        (_rows(0.9), "band"),  # too steep
        (_rows(0.5, after_share=0.0), "decay"),  # nothing left after the end
        (_rows(0.5, after_share=1.0), "decay"),  # no decay at all
        (_rows(0.5, error_seed=7), "no_runaway"),
        (_rows(0.5, cap_at=3), "valid"),  # one size read at the cap on every seed
    ],
)
def test_each_criterion_fails_alone(rows, failed):
    verdict = judge(_head(), rows)
    assert not verdict["passes"]
    assert [name for name, ok in verdict["criteria"].items() if not ok] == [failed]


def test_validity_is_the_fixed_rate_povs_only():
    assert "valid" not in judge(_head("twap"), _rows(0.5, cap_at=3))["criteria"]


def test_merge_refuses_other_runs_and_repeated_seeds():
    a = {**_head(), "rows": _rows(0.5, n=4)}
    with pytest.raises(DataError, match="b.json is another run"):
        merge([a, {**_head("twap"), "rows": []}], ["a.json", "b.json"])
    with pytest.raises(DataError, match=r"a seed is in two files \(\[0, 1, 2, 3\]\)"):
        merge([a, a], ["a.json", "b.json"])


def test_bad_command_lines_are_refused(tmp_path):
    with pytest.raises(ParameterError, match="PROTOCOL must be one of"):
        header(PRESET, "vwap", "buy")
    with pytest.raises(ParameterError, match="SIDE must be one of"):
        main(["run", PRESET, "twap", "short", "1", "2", str(tmp_path / "x.json")])
    with pytest.raises(DataError, match="FIRST and LAST must be seeds"):
        main(["run", PRESET, "twap", "buy", "5", "2", str(tmp_path / "x.json")])
    with pytest.raises(DataError, match="takes `run PRESET"):
        main(["judge"])
    with pytest.raises(DataError, match="is not a readable run file"):
        main(["judge", str(tmp_path / "missing.json")])
