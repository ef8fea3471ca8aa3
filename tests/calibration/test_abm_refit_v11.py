"""The refit of abm-amzn-v10-slow into abm-amzn-v11 (calibration/abm_refit.py, docs/agents_refit_v11.md): the far-lag
moment set (the 1-s |r| ACF over lags 50-100 s within 300-s blocks, the 1-min returns as 60-s pieces of each block)
on a hand-built window with values by hand, the refit's block for that set, and the 11-seed summary of
calibration/abm_paths.py on hand-made rows (no simulation here)."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.abm_refit import CLOCK_MIX_FAR_NAMES, CLOCK_MIX_NAMES, MOMENT_BLOCK_S, moment_subset
from calibration.abm_visible import (
    FAR_BLOCK_S,
    PATH_FAR_MOMENT_NAMES,
    PATH_MOMENT_NAMES,
    VISIBLE_MIX_MOMENTS,
    VISIBLE_PATH_FAR_MOMENT_NAMES,
    VISIBLE_PATH_FAR_MOMENTS,
)
from calibration.presets import PRESET_DIR
from simlab.errors import ParameterError
from tests.calibration.test_abm_refit_v9 import _quotes, assert_refit_of

V10_SLOW = PRESET_DIR / "abm-amzn-v10-slow.toml"


def _two_far_blocks():
    """Two 300-s blocks from the first event at 0 s; the mid is 101 (bid 100, ask 102) and moves twice in each
    block: up to 102 (ask 104) at 30.5 s and back to 101 at 230.5 s after the block's start. A last event at 600 s
    closes block 2."""
    states = [(0.0, 100, 102)]
    for i in range(2):
        states += [(300.0 * i + 30.5, 100, 104), (300.0 * i + 230.5, 100, 102)]
    states.append((600.0, 100, 102))
    return _quotes(states)


def _acf_by_hand(lag: int) -> float:
    """The pooled 1-s |r| ACF of :func:`_two_far_blocks` at ``lag``: per block 300 values, c at indices 30 and 230,
    else 0; pooled mean m = c/150, variance c^2 149/22500. Pairs within a block: 2 (300 - lag), of which those
    holding one move each give (c - m)(-m) = -149 c^2/22500, the others m^2 = c^2/22500. Per block the move at 30
    pairs backwards only when lag <= 30, the move at 230 forwards only when lag < 70 (230 + lag < 300)."""
    pairs = 2 * (300 - lag)
    moving = 2 * (2 + (lag <= 30) + (lag < 70))
    return (-149 * moving + (pairs - moving)) / (149 * pairs)


def test_the_far_lag_moments_by_hand():
    """1-min returns (five 60-s pieces a block): +c, 0, 0, -c, 0 twice: mean 0, variance 0.4 c^2, fourth moment
    0.4 c^4, so sd c sqrt(0.4) and excess kurtosis 0.4 / 0.16 - 3 = -0.5. The ACFs within 300-s blocks are
    :func:`_acf_by_hand`'s: the mean over lags 50-100 s sees the forward pair of the move at 230 s end at 70 s."""
    window = _two_far_blocks()
    blocks = VISIBLE_PATH_FAR_MOMENTS.blocks(window, FAR_BLOCK_S)
    moments = dict(zip(VISIBLE_PATH_FAR_MOMENT_NAMES, VISIBLE_PATH_FAR_MOMENTS.moments(blocks), strict=True))
    c = np.log(102 / 101)
    assert len(blocks) == 2 and all(b["r1"].size == 300 for b in blocks)
    assert moments["log10_return_sd_1m_bps"] == pytest.approx(np.log10(1e4 * c * np.sqrt(0.4)))
    assert moments["return_kurtosis_1m"] == pytest.approx(-0.5)
    assert moments["acf_abs_return_1s_lag1"] == pytest.approx(_acf_by_hand(1))
    assert moments["acf_abs_return_1s_lag10_30"] == pytest.approx(np.mean([_acf_by_hand(lag) for lag in range(10, 31)]))
    far = np.mean([_acf_by_hand(lag) for lag in range(50, 101)])
    assert moments["acf_abs_return_1s_lag50_100"] == pytest.approx(far, rel=1e-12)
    # the range matters to the digits checked: lags 50-99 or 51-100 give other values
    assert abs(np.mean([_acf_by_hand(lag) for lag in range(50, 100)]) - far) > 1e-6 * abs(far)
    assert abs(np.mean([_acf_by_hand(lag) for lag in range(51, 101)]) - far) > 1e-6 * abs(far)
    # the 18 moments before them are those of the mix set on the same blocks
    before = VISIBLE_MIX_MOMENTS.moments(VISIBLE_MIX_MOMENTS.blocks(window, FAR_BLOCK_S))
    np.testing.assert_array_equal(VISIBLE_PATH_FAR_MOMENTS.moments(blocks)[: before.size], before)


def test_the_far_lag_pairs_stay_within_a_block():
    """The same |r| series pooled as one 600-s series has pairs across the block edge (the move at 230 s with the
    move at 330 s, lag 100), so its far-lag mean differs from the moment's: the moment keeps pairs within blocks."""
    from calibration.abm_visible import FAR_LAGS_50_100, pooled_acf

    blocks = VISIBLE_PATH_FAR_MOMENTS.blocks(_two_far_blocks(), FAR_BLOCK_S)
    absolute = [np.abs(b["r1"]) for b in blocks]
    within = pooled_acf(absolute, FAR_LAGS_50_100)
    assert within == pytest.approx(np.mean([_acf_by_hand(lag) for lag in FAR_LAGS_50_100]))
    assert abs(pooled_acf([np.concatenate(absolute)], FAR_LAGS_50_100) - within) > 1e-4


def test_the_far_set_refuses_blocks_too_short_for_its_lags():
    """60-s blocks hold no pair 61-100 s apart; 150-s blocks are not whole minutes: each is one sentence."""
    window = _two_far_blocks()
    for block_s in (60.0, 150.0):
        with pytest.raises(ParameterError, match="whole minutes longer than 100"):
            VISIBLE_PATH_FAR_MOMENTS.moments(VISIBLE_PATH_FAR_MOMENTS.blocks(window, block_s))


def test_the_far_set_is_the_clock_mix_set_and_the_five_in_300_s_blocks():
    assert PATH_FAR_MOMENT_NAMES == (*PATH_MOMENT_NAMES, "acf_abs_return_1s_lag50_100")
    assert CLOCK_MIX_FAR_NAMES == (*CLOCK_MIX_NAMES, *PATH_FAR_MOMENT_NAMES)
    assert MOMENT_BLOCK_S["clock-mix-far"] == FAR_BLOCK_S == 300.0
    assert {MOMENT_BLOCK_S[name] for name in ("visible-mix", "clock-mix", "clock-mix-path")} == {60.0}
    subset = moment_subset(VISIBLE_PATH_FAR_MOMENTS, CLOCK_MIX_FAR_NAMES)
    window = _two_far_blocks()
    blocks = VISIBLE_PATH_FAR_MOMENTS.blocks(window, FAR_BLOCK_S)
    full = dict(zip(VISIBLE_PATH_FAR_MOMENT_NAMES, VISIBLE_PATH_FAR_MOMENTS.moments(blocks), strict=True))
    np.testing.assert_array_equal(subset.moments(blocks), [full[n] for n in CLOCK_MIX_FAR_NAMES])


def test_the_refit_cuts_the_far_set_into_300_s_blocks(monkeypatch):
    """The refit hands the estimator the set's block (the bootstrap's resampling unit): 300 s for clock-mix-far, 60 s
    for clock-mix-path (a stand-in estimator records it; no data read, no simulation)."""
    import simlab.io.dataset
    from calibration import abm_refit

    seen = {}

    class Stop(Exception):
        pass

    class Recorder:
        def __init__(self, config, **options):
            seen.update(options)
            raise Stop

    monkeypatch.setattr(abm_refit, "AgentMarketEstimator", Recorder)
    monkeypatch.setattr(abm_refit, "select_window", lambda data, start_s, duration_s: data)
    monkeypatch.setattr(simlab.io.dataset, "load_dataset", lambda path: {})
    for moments, block_s in (("clock-mix-far", 300.0), ("clock-mix-path", 60.0)):
        with pytest.raises(Stop):
            abm_refit.refit(V10_SLOW, "no-data-needed", moments=moments,
                            parameters=abm_refit.REFIT_V9_PARAMETERS)  # fmt: skip
        assert seen["block_s"] == block_s
        assert seen["moments"].names == abm_refit.MOMENT_SETS[moments]


def test_the_summary_over_seeds_by_hand():
    """Two seeds: seed 1 meets every goal (a tail index of exactly 5 and an exponent of exactly 0.26 are inside their
    closed ranges), seed 2 none (AUC 0.95, mean L1 0.4 >= 0.393, tail 1.9, an exponent the scorecard could not fit,
    sign exponent 0.81). The bootstrap means over two seeds are the first value (a quarter of the resamples), the
    midpoint (half) or the second (a quarter): the 99 % interval is the two values, a 40 % one (30th-70th
    percentiles) the midpoint alone."""
    from calibration.abm_paths import PAIRED, summary_table

    def row(seed, auc, l1, tail, exponent, sign):
        return {"seed": seed, "auc": [auc, 0.0, 1.0], "mean_l1": [l1, 0.0, 1.0], "hill_tail_index_60s": [tail, 1, 9],
                "abs_return_acf_exponent": exponent, "sign_acf_exponent": [sign, 0.0, 2.0],
                **{n: 1.0 for n in PAIRED[5:]}}  # fmt: skip

    rows = [row(1, 0.8, 0.2, 5.0, [0.26, 0.1, 0.9], 0.5), row(2, 0.95, 0.4, 1.9, "not fitted: too few lags", 0.81)]
    lines = summary_table(rows)
    assert lines[0].startswith("2 seeds")
    by_name = {line.split(":")[0]: line for line in lines[1:]}
    assert by_name["auc"] == "auc: 0.875 [0.800, 0.950], 0.800 - 0.950, goal at 1 of 2"
    assert by_name["mean_l1"].endswith("goal at 1 of 2")
    assert by_name["hill_tail_index_60s"] == "hill_tail_index_60s: 3.450 [1.900, 5.000], 1.900 - 5.000, goal at 1 of 2"
    assert by_name["abs_return_acf_exponent"] == (
        "abs_return_acf_exponent: 0.260 [0.260, 0.260], 0.260 - 0.260, goal at 1 of 2"
    )
    assert by_name["sign_acf_exponent"].endswith("goal at 1 of 2")
    assert by_name["abs_acf_lag1"] == "abs_acf_lag1: 1.000 [1.000, 1.000], 1.000 - 1.000"
    assert lines[-1] == "every goal at once: 1 of 2 seeds"
    narrow = {line.split(":")[0]: line for line in summary_table(rows, level=0.4)[1:]}
    assert narrow["auc"].startswith("auc: 0.875 [0.875, 0.875]")


def test_the_search_budget_refuses_candidates_after_its_deadline():
    """Before the deadline a candidate is simulated (the objective called, a line logged); after it, refused unseen
    with REFUSED, worse than any simulated value, so Nelder-Mead ends at its best simulated point."""
    import time

    from calibration.abm_refit import REFUSED, BudgetedObjective, refit

    calls, lines = [], []

    def objective(z):
        calls.append(float(z[0]))
        return float(z[0]) ** 2

    open_budget = BudgetedObjective(objective, time.perf_counter() + 1e9, lines.append)
    assert open_budget(np.array([3.0])) == 9.0 and open_budget(np.array([2.0])) == 4.0
    assert lines == ["search candidate 1: objective 9.00 (best 9.00)", "search candidate 2: objective 4.00 (best 4.00)"]
    spent = BudgetedObjective(objective, time.perf_counter() - 1.0)
    assert spent(np.array([1.0])) == REFUSED and spent.refused == 1 and spent.simulated == 0
    assert calls == [3.0, 2.0]
    with pytest.raises(ParameterError, match="--search-budget-s"):
        refit(V10_SLOW, "no-data-needed", moments="clock-mix-far", search_budget_s=0.0)


def test_the_committed_v11_is_v10_slow_refitted_where_freed():
    """abm-amzn-v11: v10-slow except the nine freed parameters (each with a positive standard error; the start's
    values are v10-slow's), the activity on its two slow time scales (600, 3600 s), v10-slow's hand-set record,
    fitted with the far-lag set in 300-s blocks on the whole day and scored on 12:00-12:30 beside it."""
    from calibration.abm import scored_window

    v11, calibration = assert_refit_of(PRESET_DIR / "abm-amzn-v11.toml", V10_SLOW)
    assert v11.fundamental.activity_sd > 0 and v11.fundamental.activity_time_s == (600.0, 3600.0)
    assert tuple(calibration["moments"]) == CLOCK_MIX_FAR_NAMES and calibration["source"]["moments"] == "clock-mix-far"
    assert calibration["settings"]["block_s"] == FAR_BLOCK_S
    assert scored_window(calibration) == (9000.0, 1800.0) and calibration["source"]["duration_s"] == 23400.0
    assert v11.name == "abm-amzn-v11"
