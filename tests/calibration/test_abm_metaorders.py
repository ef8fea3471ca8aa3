"""The held-out square-root runner and judge (calibration/abm_metaorders.py): per-seed rows equal a batch run's, a
stopped run resumes, and the judge's criteria pass and fail where they should on rows of known law."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from calibration.abm_metaorders import FRACTIONS, PROTOCOLS, header, judge, main, merge, plateau, run
from simlab.agents.impact import loglog_fit, metaorder_impact
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
    part = _run(tmp_path, "part.json", [1, 2])
    part["rows"][0]["marker"] = "kept"  # a row read back, not rerun, keeps what the file holds
    (tmp_path / "part.json").write_text(json.dumps(part))
    resumed = _run(tmp_path, "part.json", [1, 2, 3])  # seeds 1 and 2 are read back, 3 is run
    assert resumed["rows"][0]["marker"] == "kept" and "marker" not in resumed["rows"][2]
    assert [row["seed"] for row in resumed["rows"]] == [1, 2, 3]
    for i, row in enumerate(resumed["rows"]):
        for name in ("peak_bps", "after_bps", "completion_s", "executed_lots", "executed_at_end_lots"):
            np.testing.assert_array_equal(row[name], batch[name].values[i])
        assert row["volume_lots"] == batch["volume_lots"].values[i]
    on_disk = json.loads((tmp_path / "part.json").read_text())
    assert on_disk == resumed and on_disk["protocol"] == "twap" and on_disk["fractions"] == SMALL.tolist()
    assert on_disk["window"] == {**WINDOW, "strategy": "twap", "sample_s": 10.0} and on_disk["path_step_s"] == 60.0
    with pytest.raises(DataError, match=r"holds seeds \[3\] outside the seeds asked for \(1..2\)"):
        _run(tmp_path, "part.json", [1, 2])


def test_the_protocols_are_the_documented_ones():
    """docs/agents_pov_fixed.md and docs/agents_refit_v24.md: from 10:30, 30 min after, children every 30 s, paths
    every 10 s; POV at 25 % capped at 4 h, TWAP and the old POV in one hour."""
    common = {"start_s": 3600.0, "after_s": 1800.0, "interval_s": 30.0, "sample_s": 10.0}
    assert header(PRESET, "pov25", "buy")["window"] == {**common, "strategy": "pov", "participation": 0.25,
                                                         "duration_s": 14400.0}  # fmt: skip
    assert header(PRESET, "twap", "sell")["window"] == {**common, "strategy": "twap", "duration_s": 3600.0}
    assert header(PRESET, "pov-hour", "buy")["window"] == {**common, "strategy": "pov", "duration_s": 3600.0}
    assert sorted(PROTOCOLS) == ["pov-hour", "pov25", "twap"]


def test_a_runaway_is_recorded_and_not_rerun(tmp_path, monkeypatch):
    import simlab.agents.impact as impact

    def runaway(*args, **kwargs):
        raise ParameterError("the mid ran away")

    monkeypatch.setattr(impact, "metaorder_impact", runaway)
    first = _run(tmp_path, "r.json", [4])
    assert first["rows"][0]["seed"] == 4 and first["rows"][0]["error"] == "the mid ran away"
    monkeypatch.undo()
    again = _run(tmp_path, "r.json", [4, 5])
    assert again["rows"][0] == first["rows"][0] and "error" not in again["rows"][1]


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
    old = json.loads((tmp_path / "f.json").read_text())
    del old["path_step_s"]  # a file written before the rows kept their paths
    (tmp_path / "f.json").write_text(json.dumps(old))
    with pytest.raises(DataError, match="holds rows of another run"):
        _run(tmp_path, "f.json", [1, 2])


@pytest.mark.filterwarnings("ignore:All-NaN slice")  # one seed's own exponent interval, unused
@pytest.mark.parametrize("protocol", ["twap", "pov25"])
def test_the_path_after_the_end_is_the_runs_minute_by_minute(tmp_path, protocol):
    """Each size's path starts at the peak's reading (for the fixed-rate POV the sample at which it is done, which
    differs by size) and ends at the after reading, every 60 s of the batch run's impact path between."""
    config = small_config(session_s=1800.0)
    keywords = {**WINDOW, **({"strategy": "pov", "participation": 0.25} if protocol == "pov25" else {})}
    row = run(PRESET, protocol, "buy", [3], tmp_path / "p.json", SMALL, config=config, **WINDOW)["rows"][0]
    batch = metaorder_impact(config, SMALL, seeds=[3], **keywords)
    impact = batch["impact_bps"].values[0]
    for i in range(SMALL.size):
        start = int(round(row["completion_s"][i] / 10.0))
        path = row["after_path_bps"][i]
        np.testing.assert_array_equal(path, impact[i, start : start + 31 : 6])
        assert len(path) == 6 and path[0] == row["peak_bps"][i] and path[-1] == row["after_bps"][i]
    if protocol == "pov25":  # the small metaorder is done before the cap, the large one is not
        assert row["completion_s"][0] < row["completion_s"][1]


def test_a_window_off_the_path_samples_is_refused(tmp_path):
    """A TWAP whose end falls between path samples: its peak is read at one sample and the path would start at
    another; refused, not recorded."""
    off = {**WINDOW, "start_s": 304.0, "duration_s": 605.0}
    with pytest.raises(ParameterError, match="must put the metaorder's end and the after reading on the path samples"):
        run(PRESET, "twap", "buy", [3], tmp_path / "o.json", SMALL, config=small_config(session_s=1800.0), **off)


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
    head = header(PRESET, protocol, "buy")
    return {**head, "preset": "p", "preset_sha256": "0"}


def test_the_square_root_with_a_lasting_part_passes():
    verdict = judge(_head(), _rows(0.5))
    assert verdict["passes"] and verdict["criteria"] == {"no_runaway": True, "band": True, "decay": True,
                                                         "valid": True}  # fmt: skip
    low, high = verdict["exponent_interval_95"]
    assert 0.4 <= low <= 0.5 <= high <= 0.65 and verdict["loglog_exponent"] == pytest.approx(0.5, abs=0.05)
    assert verdict["top_after_share_of_peak"] == pytest.approx(0.6, abs=0.05) and len(verdict["halves"]) == 2
    assert not verdict["provisional"] and verdict["missing_seeds"] == [] and verdict["after_s"] == 1800.0
    peaks = np.array(verdict["peak_bps"])
    np.testing.assert_allclose(verdict["peak_ratios"], peaks[1:] / peaks[:-1])
    np.testing.assert_allclose(verdict["peak_ratios"][-4:], 10**0.25, rtol=0.1)  # the square root's half-decades
    np.testing.assert_allclose(verdict["executed_at_end_share"], 1.0)


def _paths(shape, *, n=48, sizes=2, width=31, noise=3.0, seed=0):
    """Paths after the end (seed, size, lag), lag every minute: ``shape`` of the minutes since the end."""
    minutes = np.arange(width, dtype=float)
    rng = np.random.default_rng(seed)
    return shape(minutes)[None, None, :] + rng.normal(0.0, noise, (n, sizes, width))


@pytest.mark.parametrize(
    ("shape", "levels"),
    [
        (lambda t: 40.0 + 60.0 * np.exp(-t / 5.0), True),  # a transient part over minutes, a permanent level
        (lambda t: 40.0 + 60.0 / np.sqrt(1.0 + t), True),  # a slow power-law decay: still levelling
        (lambda t: 100.0 - 2.0 * t, False),  # a straight decline: the last third takes a third
        (lambda t: 100.0 - 0.5 * t**2 / 15.0, False),  # a decline that speeds up
        (lambda t: 100.0 + 0.0 * t, False),  # no decay
    ],
)
def test_the_plateau_reading_tells_a_level_from_a_decline(shape, levels):
    paths = _paths(shape)
    paths[:, 0, :] = _paths(lambda t: 100.0 - 2.0 * t if levels else 40.0 + 60.0 * np.exp(-t / 5.0))[:, 0, :]
    reading = plateau(paths, 60.0)  # the smaller size has the other shape: only the largest is judged
    assert reading["levels_off"] is levels and reading["watch_s"] == 1800.0 and reading["share_limit"] == 1 / 3
    low, high = reading["last_third_share_interval_95"]
    if high is not None:  # None: some resamples did not fall at all
        assert low <= reading["last_third_share"] <= high
    assert (reading["share_by_size"][0] < 0.2) is not levels and (reading["share_by_size"][1] < 0.2) is levels


def test_the_plateau_reading_by_hand():
    paths = np.array([[[11.0, 7.0, 5.0, 3.0]], [[9.0, 5.0, 5.0, 5.0]]])  # means 10, 6, 5, 4 at lags 0-3 min
    reading = plateau(paths, 60.0, draws=50)
    assert reading["fall_bps"] == 6.0 and reading["last_third_share"] == pytest.approx(1 / 6)  # (5 - 4) / 6
    assert reading["share_from_first_step"] == pytest.approx(0.5)  # (5 - 4) / (6 - 4)
    assert reading["first_third_fall_bps"][0] == (4.0, 0.0) and reading["last_third_fall_bps"][0][0] == 1.0
    assert reading["lags_s"] == [0.0, 60.0, 120.0, 180.0] and reading["path_bps"] == [[10.0, 6.0, 5.0, 4.0]]
    assert reading["last_third_fall_bps"][0][1] == pytest.approx(np.std([2.0, 0.0], ddof=1) / np.sqrt(2))
    for bad in (paths[:, :, :3], np.concatenate([paths, paths[:, :, :1]], axis=2), paths[:1], paths[0]):
        with pytest.raises(
            DataError, match=re.escape(f"3k + 1 >= 4 lags (a watch of whole thirds); got shape {bad.shape}")
        ):
            plateau(bad, 60.0)
    flat = plateau(np.array([[[5.0, 5.0, 5.0, 5.0]], [[5.0, 5.0, 5.0, 5.0]]]), 60.0, draws=20)
    assert flat["levels_off"] is False and flat["last_third_share_interval_95"] == [None, None]  # no fall


def test_the_judge_reads_the_plateau_and_the_issues_regression_with_its_interval():
    rows = _rows(0.5)
    shapes = _paths(lambda t: 40.0 + 60.0 * np.exp(-t / 5.0), sizes=FRACTIONS.size)
    for row, path in zip(rows, shapes, strict=True):
        row["after_path_bps"] = path.tolist()
    verdict = judge(_head("twap"), rows)
    assert verdict["plateau"] == plateau(shapes, 60.0) and verdict["plateau"]["levels_off"] is True
    peak = np.array([row["peak_bps"] for row in rows])
    assert verdict["loglog_exponent_interval_95"] == list(loglog_fit(FRACTIONS, peak)[1:3])
    low, high = verdict["loglog_exponent_interval_95"]
    assert low < verdict["loglog_exponent"] < high
    del rows[3]["after_path_bps"]  # rows without their paths (files before session 30): no reading, said
    verdict = judge(_head("twap"), rows)
    assert verdict["plateau"] is None and "seeds [3] (1 of 48) have no path after the end" in verdict["plateau_missing"]


def test_the_watch_goes_from_the_command_line_to_the_run(tmp_path, monkeypatch):
    import calibration.abm_metaorders as metaorders

    seen = {}
    monkeypatch.setattr(
        metaorders, "run", lambda *args, **kwargs: seen.update(args=args, kwargs=kwargs) or {"rows": []}
    )
    main(["run", PRESET, "twap", "buy", "1", "2", str(tmp_path / "x.json"), "--after-s", "3600"])
    assert seen["kwargs"] == {"after_s": 3600.0} and seen["args"][3] == [1, 2]
    assert header(PRESET, "twap", "buy", **seen["kwargs"])["window"]["after_s"] == 3600.0
    main(["run", PRESET, "twap", "buy", "1", "2", str(tmp_path / "x.json")])
    assert seen["kwargs"] == {}


def test_few_seeds_are_provisional_or_not_judged():
    rows = _rows(0.5)
    verdict = judge(_head(), rows[:30] + rows[31:40])
    assert verdict["passes"] and verdict["provisional"] and verdict["missing_seeds"] == [30]
    assert judge(_head(), rows[:23])["passes"] is None


def test_a_point_in_the_band_with_a_wide_interval_fails():
    rng = np.random.default_rng(1)
    rows = _rows(0.6)
    for row in rows:  # noisy peaks: the point stays near 0.6, the interval leaves the band
        row["peak_bps"] = (np.array(row["peak_bps"]) + rng.normal(0.0, 60.0, FRACTIONS.size)).tolist()
    verdict = judge(_head("twap"), rows)
    low, high = verdict["exponent_interval_95"]
    assert 0.4 <= verdict["exponent"] <= 0.65 and (low < 0.4 or high > 0.65)
    assert verdict["criteria"]["band"] is False


@pytest.mark.parametrize(("capped", "valid"), [(2, True), (3, False)])  # 46/48 = 0.958 done, 45/48 = 0.9375
def test_validity_at_its_boundary(capped, valid):
    rows = _rows(0.5)
    for row in rows[:capped]:
        row["completion_s"][2] = 14400.0  # read at the cap: counts 0 however much was done
    assert judge(_head(), rows)["criteria"]["valid"] is valid


def test_the_judge_reads_files(tmp_path, capsys):
    head = _head("twap")
    rows = _rows(0.5)
    for name, part in (("a.json", rows[:24]), ("b.json", rows[24:])):
        (tmp_path / name).write_text(json.dumps({**head, "rows": part}))
    verdict = main(["judge", str(tmp_path / "a.json"), str(tmp_path / "b.json")])
    assert verdict == judge(head, rows) and json.loads(capsys.readouterr().out)["passes"] is True


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


def test_a_seed_without_a_mid_is_listed_and_left_out():
    rows = _rows(0.5)
    rows[5]["peak_bps"][0] = float("nan")  # no two-sided book at the smallest metaorder's end
    verdict = judge(_head(), rows)
    rest = judge(_head(), rows[:5] + rows[6:])
    assert verdict["undefined_seeds"] == [5] and verdict["provisional"] and verdict["passes"]
    assert verdict["exponent_interval_95"] == rest["exponent_interval_95"] and verdict["peak_bps"] == rest["peak_bps"]
    rows[9]["after_bps"][6] = None  # JSON's null: undefined too
    assert judge(_head(), rows)["undefined_seeds"] == [5, 9]


def test_a_runaway_fails_a_full_run_outright():
    verdict = judge(_head(), _rows(0.5, error_seed=7))
    assert verdict["passes"] is False and not verdict["provisional"] and verdict["runaways"] == [(7, "runaway")]


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
    for bad in ("90", "120", "-180", "nan", "an hour"):
        with pytest.raises(DataError, match=f"--after-s must be a positive multiple of 180 seconds; got '{bad}'"):
            main(["run", PRESET, "twap", "buy", "1", "2", str(tmp_path / "x.json"), "--after-s", bad])
    with pytest.raises(DataError, match="takes `run PRESET"):
        main(["run", PRESET, "twap", "buy", "1", "2", str(tmp_path / "x.json"), "--after", "3600"])
    with pytest.raises(DataError, match="missing.json is not a readable run file"):
        main(["judge", str(tmp_path / "missing.json")])
    (tmp_path / "bad.json").write_text('{"rows": 3}')
    with pytest.raises(DataError, match="bad.json is not a readable run file: `rows` is int"):
        main(["judge", str(tmp_path / "bad.json")])
