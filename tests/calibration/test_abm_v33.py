"""The abm-amzn-v33 preset (docs/agents_intraday.md): abm-amzn-v30 with the AMZN day's intraday spread profile for
the makers' half-spread floor and a touch size law a side; its 66 held-out days (the rule's fixed batch, section 4)
and v30 on the same days."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from calibration.abm import load_abm_preset
from calibration.abm_paths import paired_table, summary_table
from tests.calibration.refitted import every_goal_days, judged, rounded

PRESETS = Path(__file__).parents[2] / "calibration" / "presets"
FIXED = "4a448596b973aa19b69e68fcba1ea523c942fc3295eb2d54e60c60a42812032b"  # the rule's hash (the page, section 4)
RECORDS = {"v33": "abm-amzn-v33.days.json", "v30": "abm-amzn-v30.days-20280101.json"}


def _rows() -> dict[str, list[dict]]:
    out = {}
    for v, name in RECORDS.items():
        rows = json.loads((PRESETS / name).read_text())
        digest = hashlib.sha256((PRESETS / f"abm-amzn-{v}.toml").read_bytes()).hexdigest()
        assert [row["seed"] for row in rows] == list(range(20280101, 20280167)), name  # the rule's 66 days
        assert all(row["preset"] == f"abm-amzn-{v}" and row["preset_sha256"] == digest for row in rows), name
        assert {row["git_commit"][:7] for row in rows} == {"a07d630"}, name  # the commit that fixed the rule
        out[v] = rows
    return out


def test_v33_is_v30_with_the_spread_profile_and_v32_touch_laws():
    (v30, fit30), (v32, _), (v33, fit33) = (load_abm_preset(PRESETS / f"abm-amzn-{v}.toml") for v in
                                            ("v30", "v32", "v33"))  # fmt: skip
    assert hashlib.sha256((PRESETS / "abm-amzn-v33.toml").read_bytes()).hexdigest() == FIXED
    m = v33.market_maker
    laws = ("touch_size_weights", "touch_size_log_mean", "touch_size_log_sd", "touch_ask_size_weights",
            "touch_ask_size_log_mean", "touch_ask_size_log_sd")  # fmt: skip
    assert all(getattr(m, k) == getattr(v32.market_maker, k) for k in laws)
    assert m.half_spread_profile == (2.05, 1.173, 0.734, 1.05, 1.108, 1.145, 1.046, 0.748, 1.024, 0.923, 1.116,
                                     0.917, 0.51)  # fmt: skip
    back = replace(v33, name=v30.name, market_maker=replace(
        m, half_spread_profile=(), **{k: getattr(v30.market_maker, k) for k in laws}))  # fmt: skip
    assert back == v30 and fit33 == fit30  # nothing else changed; v26's refit table kept
    floors = np.rint(m.min_half_spread_ticks * np.asarray(m.half_spread_profile)).astype(int).tolist()
    assert floors == [14, 8, 5, 7, 8, 8, 7, 5, 7, 6, 8, 6, 4]  # the page's floors


def test_the_auc_goal_is_shown_on_the_66_held_out_days_and_v33_is_lower_than_v30_at_every_day():
    """Section 5: v33's day AUC 0.833 [0.822, 0.845] (upper end below 0.9: shown), under 0.9 at 65 of 66; the mean
    L1 0.227 [0.224, 0.229] (shown below 0.393); v30 on the same days 0.899 [0.893, 0.905]; paired -0.066 [-0.076,
    -0.057], lower at 66 of 66; every goal at once at 18 of 66 against 8."""
    rows = _rows()
    v33, v30 = summary_table(rows["v33"]), summary_table(rows["v30"])
    assert "auc: 0.833 [0.822, 0.845], 0.768 - 0.904, goal at 65 of 66" in v33
    assert "mean_l1: 0.227 [0.224, 0.229], 0.211 - 0.253, goal at 66 of 66" in v33
    assert "hill_tail_index_60s: 4.562 [4.223, 4.891], 2.500 - 7.001, goal at 45 of 66" in v33
    assert "abs_return_acf_exponent: 0.666 [0.435, 0.958], 0.128 - 4.253, goal at 32 of 66" in v33
    assert "sign_acf_exponent: 0.640 [0.587, 0.694], 0.326 - 1.073, goal at 52 of 66" in v33
    assert "every goal at once: 18 of 66 seeds" in v33
    assert "auc: 0.899 [0.893, 0.905], 0.856 - 0.938, goal at 34 of 66" in v30
    assert "every goal at once: 8 of 66 seeds" in v30
    assert (len(every_goal_days(rows["v33"])), len(every_goal_days(rows["v30"]))) == (18, 8)
    paired = paired_table(rows["v33"], rows["v30"])
    assert "auc: 0.833 / 0.899, -0.066 [-0.076, -0.057], lower at 66 of 66" in paired
    assert "mean_l1: 0.227 / 0.221, +0.006 [+0.004, +0.007], lower at 13 of 66" in paired
    assert "abs_return_acf_exponent: 0.666 / 0.565, +0.102 [-0.030, +0.269], lower at 30 of 66" in paired


def test_the_held_out_twap_buys_pass_the_band():
    """Section 5 (seeds 4100-4147): the weighted exponent 0.600 [0.575, 0.620] inside [0.4, 0.65], no runaway, 62 %
    of the largest peak left 30 min after its end (18 SE above 0); every seed at the rule's commit."""
    twap = judged("abm-amzn-v33", "abm-amzn-v33.twap-buy.json", (4100, 4147))
    assert twap["criteria"] == {"no_runaway": True, "band": True, "decay": True} and twap["passes"] is True
    assert rounded(twap) == (0.6, 0.575, 0.62, 0.655, 0.607, 0.732)
    assert round(twap["top_after_share_of_peak"], 2) == 0.62 and twap["top_after_se_units"] > 18
    assert [round(p, 1) for p in twap["peak_bps"]] == [3.1, 6.0, 20.2, 43.2, 74.0, 145.9, 276.4]
    rows = json.loads((PRESETS / "abm-amzn-v33.twap-buy.json").read_text())["rows"]
    assert {row["git_commit"][:7] for row in rows} == {"a07d630"}


def test_the_held_out_pov_buys_pass_the_band():
    """Section 8 (seeds 4200-4247, POV at 25 %): the weighted exponent 0.575 [0.540, 0.605] and the log-log 0.575
    [0.537, 0.624] inside [0.4, 0.65], every size done before the cap, 60 % of the largest peak left 30 min after
    (14 SE above 0); every seed at the POV rule's commit."""
    pov = judged("abm-amzn-v33", "abm-amzn-v33.pov25-buy.json", (4200, 4247))
    assert pov["criteria"] == {"no_runaway": True, "band": True, "decay": True, "valid": True}
    assert pov["passes"] is True and pov["done_before_cap_share"] == [1.0] * 7
    assert rounded(pov) == (0.575, 0.54, 0.605, 0.575, 0.537, 0.624)
    assert round(pov["top_after_share_of_peak"], 2) == 0.6 and pov["top_after_se_units"] > 14
    rows = json.loads((PRESETS / "abm-amzn-v33.pov25-buy.json").read_text())["rows"]
    assert {row["git_commit"][:7] for row in rows} == {"16981c8"}
