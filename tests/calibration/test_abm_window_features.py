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
