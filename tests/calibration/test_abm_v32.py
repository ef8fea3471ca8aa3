"""The abm-amzn-v32 preset (docs/agents_touch_sides.md): abm-amzn-v30 with a touch size law a side, each fitted to
that side's adds of the AMZN day, and the noise agents' arrival rate at 0.062 per s; its held-out days against
v30's on the same days (section 5), and v30 over its 33 held-out days."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from calibration.abm import load_abm_preset
from calibration.abm_paths import GOALS, meets, paired_table, summary_table
from tests.calibration.refitted import day_points, every_goal_days, held_out_days, judged, rounded

PRESETS = Path(__file__).parents[2] / "calibration" / "presets"
DAYS = {"v32": "abm-amzn-v32.days.json", "v30": "abm-amzn-v30.days-20271001.json"}


def _presets():
    return (load_abm_preset(PRESETS / f"abm-amzn-{v}.toml") for v in ("v30", "v32"))


def test_v32_is_v30_with_a_touch_law_a_side_and_a_faster_noise_clock(shared_data):
    """The bid's and the ask's laws are the day's fits to each side's adds (calibration.abm_sizes), to the printed
    digits; the noise rate is 1.4 times the fitted one; nothing else changed."""
    from calibration.abm_sizes import day_add_sizes, fit_size_mixture

    (v30, fit30), (v32, fit32) = _presets()
    m = v32.market_maker
    for side, (weights, mean, sd) in ((1, (m.touch_size_weights, m.touch_size_log_mean, m.touch_size_log_sd)),
                                      (-1, (m.touch_ask_size_weights, m.touch_ask_size_log_mean,
                                            m.touch_ask_size_log_sd))):  # fmt: skip
        fitted, fitted_mean, fitted_sd = fit_size_mixture(day_add_sizes(shared_data, side))
        assert np.allclose(weights, fitted, rtol=1e-5, atol=1e-9) and np.isclose(mean, fitted_mean, rtol=1e-5)
        assert np.isclose(sd, fitted_sd, rtol=1e-5)
    assert v32.noise.arrival_rate_per_s == 0.062 == pytest.approx(1.4 * v30.noise.arrival_rate_per_s, rel=0.001)
    back = replace(
        v32,
        name=v30.name,
        noise=replace(v32.noise, arrival_rate_per_s=v30.noise.arrival_rate_per_s),
        market_maker=replace(m, **{k: getattr(v30.market_maker, k) for k in (
            "touch_size_weights", "touch_size_log_mean", "touch_size_log_sd", "touch_ask_size_weights",
            "touch_ask_size_log_mean", "touch_ask_size_log_sd")}),
    )  # fmt: skip
    assert back == v30 and fit32 == fit30  # v26's refit table, kept


def test_the_held_out_days_do_not_improve_on_v30():
    """Section 5 (days 20271001-11, the two markets on the same days, each row tied to its preset by hash, run at
    the rule's commit): the mean L1 is lower at 9 of 11 days, but the day AUC is not lower (+0.012 [-0.010, +0.029],
    lower at 3 of 11), the tail index and the |r| exponent leave their goals more often, and every goal at once
    holds at 0 of 11 days against v30's 1: by the rule the two changes do not turn into realism."""
    rows = held_out_days(DAYS, 20271001)
    for r in rows.values():
        assert all(row["git_commit"][:7] == "c3d4ca5" and "mean_spread" in row["window_feature_auc"] for row in r)
    assert {v: every_goal_days(r) for v, r in rows.items()} == {"v32": [], "v30": [20271009]}
    counts = {goal: {v: sum(meets(goal, x) for x in day_points(r, goal)) for v, r in rows.items()} for goal in GOALS}
    assert counts["auc"] == {"v32": 6, "v30": 8} and counts["hill_tail_index_60s"] == {"v32": 4, "v30": 7}
    assert counts["abs_return_acf_exponent"] == {"v32": 1, "v30": 5}
    assert "auc: 0.898 [0.887, 0.909], 0.872 - 0.925, goal at 6 of 11" in summary_table(rows["v32"])
    assert "auc: 0.886 [0.869, 0.903], 0.852 - 0.924, goal at 8 of 11" in summary_table(rows["v30"])
    paired = paired_table(rows["v32"], rows["v30"])
    assert "auc: 0.898 / 0.886, +0.012 [-0.010, +0.029], lower at 3 of 11" in paired
    assert "mean_l1: 0.214 / 0.220, -0.007 [-0.010, -0.002], lower at 9 of 11" in paired
    # the two features that told v30 apart first tell v32 apart less: the imbalance and the order size
    mean = {v: {k: np.mean([row["window_feature_auc"][k] for row in r]) for k in ("mean_imbalance", "log_size",
                                                                                  "share_limit")}
            for v, r in rows.items()}  # fmt: skip
    assert mean["v30"]["mean_imbalance"] < 0.36 < 0.40 < mean["v32"]["mean_imbalance"]
    assert mean["v30"]["log_size"] < 0.42 and 0.47 < mean["v32"]["log_size"] < 0.53
    assert mean["v32"]["share_limit"] < 0.39 < 0.43 < mean["v30"]["share_limit"]  # ... and the add share more


def test_v30_over_its_33_held_out_days_is_under_the_goal_on_average_not_shown():
    """v30's three sets of 11 fresh days (20270701-11, 20270801-11, 20271001-11): day AUC 0.893 [0.883, 0.903],
    under 0.9 at 22 of 33 days, every goal at once at 6 of 33."""
    rows = [row for first, name in ((20270701, "abm-amzn-v30.days.json"), (20270801, "abm-amzn-v30.days-20270801.json"),
                                    (20271001, "abm-amzn-v30.days-20271001.json"))
            for row in held_out_days({"v30": name}, first)["v30"]]  # fmt: skip
    summary = summary_table(rows)
    assert "auc: 0.893 [0.883, 0.903], 0.852 - 0.945, goal at 22 of 33" in summary
    assert len(every_goal_days(rows)) == 6


def test_the_held_out_twap_buys_pass_the_band():
    """Section 5 (seeds 4000-4047): the weighted exponent and its interval inside [0.4, 0.65], the smallest
    metaorders moving the price again (3.4 bps at 1e-4; v30 0.3), 68 % of the largest peak left 30 min after."""
    twap = judged("abm-amzn-v32", "abm-amzn-v32.twap-buy.json", (4000, 4047))
    assert twap["criteria"] == {"no_runaway": True, "band": True, "decay": True} and twap["passes"] is True
    assert rounded(twap) == (0.585, 0.555, 0.62, 0.639, 0.589, 0.735)
    assert round(twap["peak_bps"][0], 1) == 3.4 and round(twap["top_after_share_of_peak"], 2) == 0.68
    assert twap["p_sqrt_law"] < 1e-10
    rows = json.loads((PRESETS / "abm-amzn-v32.twap-buy.json").read_text())["rows"]
    assert {row["git_commit"][:7] for row in rows} == {"c3d4ca5"}  # every seed ran at the rule's commit
