"""The classifier's inputs one by one (``calibration.abm_paths.window_feature_aucs``, session 33): each window
feature's univariate AUC of a simulated day against the real one, stored in every day row and summarised by
``--summary`` with the most telling first."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.abm_paths import GOALS, feature_lines, summary_table, window_feature_aucs
from tests.conftest import shared_path


@pytest.fixture(scope="module")
def amzn_half_hour():
    from calibration.abm import AMZN_DAY, select_window
    from simlab.io.dataset import load_dataset

    return select_window(load_dataset(shared_path(AMZN_DAY)), 0.0, 1800.0)


def test_a_day_against_itself_tells_nothing_apart(amzn_half_hour):
    aucs = window_feature_aucs(amzn_half_hour, amzn_half_hour)
    assert {"log_duration_s", "share_trade", "mean_spread", "abs_mid_change"} <= set(aucs)
    assert all(v == 0.5 for v in aucs.values()), aucs


def test_a_thinned_day_is_told_apart_by_the_features_thinning_moves(amzn_half_hour):
    """Every other row of the real half hour (events and their books): the same mix at half the rate. Windows of
    the same number of events last longer (measured 0.755) and hold fewer same-nanosecond neighbours (0.134); the
    event mix is the same (0.46-0.53)."""
    day = {"events": amzn_half_hour["events"].isel(event=slice(None, None, 2)),
           "books": amzn_half_hour["books"].isel(time=slice(None, None, 2))}  # fmt: skip
    aucs = window_feature_aucs(day, amzn_half_hour)
    assert aucs["log_duration_s"] > 0.7 and aucs["share_zero_interval"] < 0.2, aucs
    assert all(abs(aucs[name] - 0.5) < 0.1 for name in ("share_limit", "share_cancel", "share_trade")), aucs


def test_the_features_are_the_ones_the_scorecards_classifier_reads(amzn_half_hour, monkeypatch):
    """The scorecard's own Markets and window (caught at its call of ``discriminate``) give the same features, so
    the per-feature AUCs are of the classifier's inputs, also if the scorecard's set-up changes."""
    import simlab.metrics.scorecard as scorecard
    from simlab.metrics.discriminative import classifier_inputs, roc_auc

    day = {"events": amzn_half_hour["events"].isel(event=slice(None, None, 3)),
           "books": amzn_half_hour["books"].isel(time=slice(None, None, 3))}  # fmt: skip
    caught, original = {}, scorecard.discriminate

    def catch(real, synthetic, **kwargs):
        caught.update(real=real, synthetic=synthetic, window=kwargs["window"])
        return original(real, synthetic, **kwargs)

    monkeypatch.setattr(scorecard, "discriminate", catch)
    scorecard.score(day, amzn_half_hour, seed=1, n_boot=20)
    names, a, b, _ = classifier_inputs(caught["real"], caught["synthetic"], caught["window"])
    labels = np.r_[np.zeros(a.shape[0]), np.ones(b.shape[0])]
    theirs = {n: roc_auc(labels, np.r_[a[:, i], b[:, i]]) for i, n in enumerate(names)}
    assert window_feature_aucs(day, amzn_half_hour) == theirs and len(theirs) == 12


def test_the_summary_lists_the_features_most_telling_first():
    features = ({"share_trade": 0.55 + d, "log_size": 0.2 + d, "log_duration_s": 0.5} for d in (0.0, 0.02))
    rows = [{"seed": s, **{name: [0.5, 0.4, 0.6] for name in GOALS}, "window_feature_auc": f}
            for s, f in zip((1, 2), features, strict=True)]  # fmt: skip
    lines = feature_lines(rows)
    assert lines[0].startswith("window features alone (2 seeds)")
    assert [line.split(":")[0].strip() for line in lines[1:]] == ["log_size", "share_trade", "log_duration_s"]
    assert lines[1] == "  log_size: 0.210 (0.200 - 0.220)"
    assert summary_table(rows)[-4:] == lines
    older = [{k: v for k, v in r.items() if k != "window_feature_auc"} for r in rows]  # written before session 33
    assert feature_lines(older) == [] and summary_table(older)[-1].startswith("every goal at once")
    assert np.isclose(float(lines[2].split(":")[1].split()[0]), 0.56)


@pytest.fixture(scope="module")
def amzn_day():
    from calibration.abm import AMZN_DAY
    from simlab.io.dataset import load_dataset

    return load_dataset(shared_path(AMZN_DAY))


def test_the_amzn_day_against_itself_is_told_apart_far_less_than_any_agent_market(amzn_day):
    """The real-against-real reference (docs/agents_touch_sides.md, section 3): its own half hours are not told
    apart at this power (measured 0.571, the interval across 0.5), its morning from its afternoon more (0.669,
    mostly by the spread); both points under every agent market's day AUC (0.85 on the flow alone to 1.00)."""
    from calibration.abm_features import real_split_auc

    half_hours = real_split_auc(amzn_day, "half_hours", seed=1)
    halves = real_split_auc(amzn_day, "halves", seed=1)
    assert 0.5 < half_hours.auc < 0.65 and half_hours.low < 0.5 < half_hours.high, half_hours
    assert 0.6 < halves.auc < 0.75 and halves.high < 0.95, halves
    assert len(halves.features) == 12 and half_hours.n_test > 50  # the seven flow and five book features


def test_the_parts_are_the_halves_the_even_half_hours_and_the_even_hours():
    from calibration.abm_features import first_part

    minute = 60 * 10**9
    starts = np.array([0, 29, 30, 59, 60, 89, 90, 119, 120, 359]) * minute
    span = 390 * minute
    assert first_part(starts, span, "halves").tolist() == [True] * 9 + [False]
    assert first_part(starts, span, "half_hours").tolist() == [True, True, False, False, True, True, False, False,
                                                                True, False]  # fmt: skip
    assert first_part(starts, span, "hours").tolist() == [True] * 4 + [False] * 4 + [True, False]


def test_a_day_whose_second_half_is_thinned_is_told_apart_from_its_first(amzn_day):
    """Every other row of the afternoon dropped: the same flow at half the rate, which the halves split finds (the
    windows last longer) and the alternating half hours, each mixing both, find less."""
    from calibration.abm_features import real_split_auc

    ts = amzn_day["events"]["ts_ns"].values
    cut = np.searchsorted(ts, ts[0] + (ts[-1] - ts[0]) // 2)
    keep = np.r_[np.arange(cut), np.arange(cut, ts.size, 2)]
    thinned = {"events": amzn_day["events"].isel(event=keep), "books": amzn_day["books"].isel(time=keep)}
    halves = real_split_auc(thinned, "halves", seed=1)
    assert halves.auc > 0.9 and halves.low > 0.7, halves
    assert real_split_auc(thinned, "half_hours", seed=1).auc < halves.auc - 0.2


def test_an_unknown_split_is_refused_with_a_sentence():
    from calibration.abm_features import real_split_auc
    from simlab.errors import ParameterError

    with pytest.raises(ParameterError, match="`split` must be one of"):
        real_split_auc({}, "quarters", seed=1)
