"""The abm-amzn-v30 preset (docs/agents_spread_gap.md): abm-amzn-v26 with the makers' post-only clip put 8 ticks off
the other side's touch, the one change; the spread it opens, and its held-out days against v26's on the same days."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from calibration.abm import load_abm_preset
from calibration.abm_paths import GOALS, meets, paired_table, summary_table
from simlab.agents import simulate_abm
from simlab.metrics._market import Market
from tests.calibration.refitted import day_points, every_goal_days, held_out_days, judged, rounded

PRESETS = Path(__file__).parents[2] / "calibration" / "presets"
DAYS = {"v30": "abm-amzn-v30.days.json", "v26": "abm-amzn-v26.days-20270701.json"}


def _presets():
    return (load_abm_preset(PRESETS / f"abm-amzn-{v}.toml") for v in ("v26", "v30"))


def test_v30_is_v26_with_the_post_only_gap_alone():
    (v26, fit26), (v30, fit30) = _presets()
    assert (v26.market_maker.post_only_gap_ticks, v30.market_maker.post_only_gap_ticks) == (0, 8)
    assert v30.name == "abm-amzn-v30"
    back = replace(v30, name=v26.name, market_maker=replace(v30.market_maker, post_only_gap_ticks=0))
    assert back == v26
    assert fit30 == fit26  # v26's refit, whose fitted values v30 keeps (the page says so)


def test_the_gap_takes_the_one_and_two_tick_spreads_away():
    """Section 1: with the one-tick clip a fifth of v26's book rows have a spread of at most 3 ticks in this half hour
    (0.215 at seed 11; AMZN's day: 0.046, docs/agents_impact_v17.md section 6.1); with the gap almost none do on the
    same seed (0.016), the lowest decile moves from 1 tick to 8, and the median stays near AMZN's 13 ticks."""
    spreads = {}
    for (config, _), v in zip(_presets(), ("v26", "v30"), strict=True):
        day = simulate_abm(config, seed=11, duration_s=1800.0)
        m = Market(day["events"], day["books"], levels=1, source="synthetic")
        spreads[v] = (m.book[2][:, 0] - m.book[0][:, 0])[m.quoted]
    narrow = {v: float((s <= 3).mean()) for v, s in spreads.items()}
    assert narrow["v26"] > 0.15 and narrow["v30"] < 0.05, narrow
    assert np.quantile(spreads["v26"], 0.1) <= 2 and np.quantile(spreads["v30"], 0.1) >= 6
    assert 12 <= np.median(spreads["v30"]) <= 15


def _days():
    return held_out_days(DAYS, 20270701)


def test_the_held_out_days_as_the_page_reads_them():
    """Section 4 (days 20270701-11, the two markets on the same days, each row tied to its preset by hash): the day
    AUC read with the book falls from 0.939 to 0.887 and is under 0.9 at 8 of 11 days (v26: 0), but its interval
    reaches 0.902, so it is under the goal on average, not shown; every goal at once at 2 of 11 days against 0."""
    rows = _days()
    for r in rows.values():  # the rule's commit; the classifier read the book
        assert all(row["git_commit"][:7] == "88574fc" and "mean_spread" in row["window_feature_auc"] for row in r)
    assert {v: every_goal_days(r) for v, r in rows.items()} == {"v30": [20270703, 20270711], "v26": []}
    counts = {goal: {v: sum(meets(goal, x) for x in day_points(r, goal)) for v, r in rows.items()} for goal in GOALS}
    assert counts["auc"] == {"v30": 8, "v26": 0} and counts["mean_l1"] == {"v30": 11, "v26": 11}
    assert counts["hill_tail_index_60s"] == {"v30": 8, "v26": 10}
    assert counts["abs_return_acf_exponent"] == {"v30": 6, "v26": 4}
    summary = summary_table(rows["v30"])
    assert "auc: 0.887 [0.875, 0.902], 0.863 - 0.927, goal at 8 of 11" in summary
    assert "auc: 0.939 [0.931, 0.945], 0.919 - 0.947, goal at 0 of 11" in summary_table(rows["v26"])
    paired = paired_table(rows["v30"], rows["v26"])
    assert "auc: 0.887 / 0.939, -0.052 [-0.063, -0.038], lower at 11 of 11" in paired
    assert "mean_l1: 0.219 / 0.252, -0.033 [-0.035, -0.030], lower at 11 of 11" in paired
    # the spread no longer tells the windows apart (v26: 0.17); the imbalance does first
    spread = {v: np.mean([row["window_feature_auc"]["mean_spread"] for row in r]) for v, r in rows.items()}
    assert 0.45 < spread["v30"] < 0.52 and spread["v26"] < 0.2
    assert summary[summary.index(next(x for x in summary if x.startswith("window features"))) + 1].startswith(
        "  mean_imbalance: 0.354"
    )


def test_the_held_out_twap_buys_fail_the_band_above():
    """Section 4 (seeds 3700-3747): the weighted interval leaves the band above (0.67 against 0.65), the smallest
    metaorders barely move the price (0.3 bps at 1e-4), the decay holds without levelling off within 30 min."""
    twap = judged("abm-amzn-v30", "abm-amzn-v30.twap-buy.json", (3700, 3747))
    assert twap["criteria"] == {"no_runaway": True, "band": False, "decay": True} and twap["passes"] is False
    assert rounded(twap) == (0.64, 0.61, 0.67, 0.888, 0.63, 1.019)
    assert round(twap["peak_bps"][0], 1) == 0.3 and round(twap["top_after_share_of_peak"], 2) == 0.64
    assert twap["plateau"]["levels_off"] is False and twap["p_sqrt_law"] < 1e-25


def test_the_held_out_pov_buys_pass_provisionally():
    """Section 4 (seeds 3800-3847): the POV at 25 % passes every criterion on 47 measured seeds (3824 has no reading at
    its three smallest sizes: no mid at an instant the peak is read), so the verdict is provisional."""
    pov = judged("abm-amzn-v30", "abm-amzn-v30.pov25-buy.json", (3800, 3847), undefined=(3824,))
    assert pov["criteria"] == {"no_runaway": True, "band": True, "decay": True, "valid": True}
    assert pov["passes"] is True
    assert rounded(pov) == (0.565, 0.54, 0.6, 0.574, 0.541, 0.611) and pov["done_before_cap_share"] == [1.0] * 7
    assert pov["plateau"]["levels_off"] is True and round(pov["top_after_share_of_peak"], 2) == 0.61
