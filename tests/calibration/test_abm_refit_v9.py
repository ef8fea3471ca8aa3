"""The refit of abm-amzn-v9 (calibration/abm_refit.py, docs/agents_refit_v9.md): the four price-path moments it adds
(the 1-min return sd and kurtosis, the 1-s |r| ACF at lag 1 and over lags 10-30 s) on a hand-built window with
values by hand, and the settings the refit refuses (no simulation here)."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.abm_refit import (
    CLOCK_MIX_NAMES,
    CLOCK_MIX_PATH_NAMES,
    REFIT_PARAMETERS,
    REFIT_V9_PARAMETERS,
    moment_subset,
    refit,
)
from calibration.abm_visible import (
    PATH_MOMENT_NAMES,
    VISIBLE_MIX_MOMENTS,
    VISIBLE_PATH_MOMENT_NAMES,
    VISIBLE_PATH_MOMENTS,
    pooled_acf,
)
from calibration.presets import PRESET_DIR
from simlab.errors import ParameterError
from simlab.schema import NO_PRICE, EventKind, make_books, make_events

V9 = PRESET_DIR / "abm-amzn-v9.toml"
T0 = 10**18


def _quotes(states: list[tuple[float, int, int]]):
    """A level-1 window of one visible event per quote state ``(seconds, bid, ask)``: an add at the bid when the bid
    changes, else an add at the ask (each at the new best price, so each is visible), the book after it that state."""
    ts = np.array([T0 + int(round(t * 1e9)) for t, _, _ in states])
    bid = np.array([b for _, b, _ in states])
    ask = np.array([a for _, _, a in states])
    bid_moved = np.concatenate([[True], np.diff(bid) != 0])
    side = np.where(bid_moved, 1, -1)
    meta = dict(tick_size=0.01, lot_size=1.0, instrument="X", venue="test")
    events = make_events(ts_ns=ts, kind=np.full(ts.size, EventKind.ADD), side=side,
                         price_ticks=np.where(bid_moved, bid, ask), qty_lots=np.full(ts.size, 10), **meta)  # fmt: skip
    books = make_books(ts_ns=ts, bid_price=bid, bid_qty=np.full(ts.size, 10), ask_price=ask,
                       ask_qty=np.full(ts.size, 10))  # fmt: skip
    return {"events": events, "books": books}


def _four_blocks():
    """Four 60-s blocks from the first event at 0 s; the mid is 101 (bid 100, ask 102) and moves once in each block,
    at 30.5 s after the block's start: up to 102 (ask 104) in blocks 1 and 3, back to 101 in blocks 2 and 4. A last
    event at 240 s closes block 4 (the partial block after it is left out)."""
    states = [(0.0, 100, 102)]
    for i in range(4):
        states.append((60.0 * i + 30.5, 100, 104 if i % 2 == 0 else 102))
    states.append((240.0, 100, 102))
    return _quotes(states)


def test_the_path_moments_by_hand():
    """Block returns +c, -c, +c, -c (c = ln(102/101)): sd c, excess kurtosis 1 - 3 = -2. The 1-s |r| series: 60 per
    block, one c (at index 30, the move between 30 and 31 s), else 0; pooled mean m = c/60, variance c^2 59/3600.
    Lag L within blocks: 4 (60 - L) pairs, of which 8 (L <= 29; 4 at L = 30) hold the move: each (-m)(c - m) =
    -59 c^2/3600, the others m^2 = c^2/3600. So acf(L) = (-59 n + (P - n)) / (59 P) with P pairs, n of them moving."""
    window = _four_blocks()
    blocks = VISIBLE_PATH_MOMENTS.blocks(window, 60.0)
    moments = dict(zip(VISIBLE_PATH_MOMENT_NAMES, VISIBLE_PATH_MOMENTS.moments(blocks), strict=True))
    c = np.log(102 / 101)
    assert len(blocks) == 4 and all(b["r1"].size == 60 for b in blocks)
    assert moments["log10_return_sd_1m_bps"] == pytest.approx(np.log10(1e4 * c))
    assert moments["return_kurtosis_1m"] == pytest.approx(-2.0)

    def acf(lag: int) -> float:
        pairs = 4 * (60 - lag)
        moving = 8 if lag <= 29 else 4
        return (-59 * moving + (pairs - moving)) / (59 * pairs)

    assert moments["acf_abs_return_1s_lag1"] == pytest.approx(acf(1))  # -244 / 13924
    assert acf(1) == pytest.approx(-244 / 13924)
    assert moments["acf_abs_return_1s_lag10_30"] == pytest.approx(np.mean([acf(lag) for lag in range(10, 31)]))
    # the 18 moments before them are those of the mix set, unchanged
    before = VISIBLE_MIX_MOMENTS.moments(VISIBLE_MIX_MOMENTS.blocks(window, 60.0))
    np.testing.assert_array_equal(VISIBLE_PATH_MOMENTS.moments(blocks)[: before.size], before)


def test_the_returns_are_on_a_one_second_grid_from_each_block_start():
    """Moves 0.2 s apart (up at 10.1 s, down at 10.3 s) fall inside one grid second and leave no 1-s return; a move
    at 20.1 s and back at 21.1 s gives +c at index 20 and -c at index 21; the lag-1 ACF sees that pair."""
    states = [(0.0, 100, 102), (10.1, 100, 104), (10.3, 100, 102), (20.1, 100, 104), (21.1, 100, 102),
              (60.0, 100, 102)]  # fmt: skip
    blocks = VISIBLE_PATH_MOMENTS.blocks(_quotes(states), 60.0)
    c = np.log(102 / 101)
    expected = np.zeros(60)
    expected[20], expected[21] = c, -c
    np.testing.assert_allclose(blocks[0]["r1"], expected, atol=1e-15)
    x = np.abs(expected)
    m, var = x.mean(), x.var()
    assert pooled_acf([x], (1,)) == pytest.approx(np.mean((x[1:] - m) * (x[:-1] - m)) / var)
    assert pooled_acf([x], (1,)) > 0


def test_pooled_acf_pools_within_series_and_skips_missing_values():
    a, b = np.array([1.0, 2.0, 3.0]), np.array([np.nan, 3.0, 1.0])
    values = np.array([1.0, 2.0, 3.0, 3.0, 1.0])  # finite values: mean 2, variance 0.8
    pairs = [(-1) * 0, 0 * 1, 1 * (-1)]  # (2,1), (3,2) in a; (1,3) in b; (3, nan) left out
    assert values.var() == pytest.approx(0.8)
    assert pooled_acf([a, b], (1,)) == pytest.approx(np.mean(pairs) / 0.8)
    assert np.isnan(pooled_acf([np.ones(5)], (1,)))  # no variation
    assert np.isnan(pooled_acf([a], (5,)))  # no pair at that lag


def test_the_path_moment_set_is_the_clock_mix_set_and_the_four():
    assert CLOCK_MIX_PATH_NAMES == (*CLOCK_MIX_NAMES, *PATH_MOMENT_NAMES)
    subset = moment_subset(VISIBLE_PATH_MOMENTS, CLOCK_MIX_PATH_NAMES)
    window = _four_blocks()
    full = dict(zip(VISIBLE_PATH_MOMENT_NAMES, VISIBLE_PATH_MOMENTS.moments(VISIBLE_PATH_MOMENTS.blocks(window, 60.0)),
                    strict=True))  # fmt: skip
    np.testing.assert_array_equal(subset.moments(subset.blocks(window, 60.0)), [full[n] for n in CLOCK_MIX_PATH_NAMES])
    with pytest.raises(ParameterError, match="whole number of seconds"):
        VISIBLE_PATH_MOMENTS.blocks(window, 2.5)


@pytest.mark.parametrize(
    ("start", "options", "match"),
    [
        (V9, {"parameters": (*REFIT_V9_PARAMETERS, "fundamental.activity_time_s")}, "activity_time_s"),
        (V9, {"parameters": (*REFIT_V9_PARAMETERS, "noise.walk_ticks")}, r"noise\.walk_ticks"),
        (PRESET_DIR / "abm-amzn-v7.toml", {"parameters": REFIT_V9_PARAMETERS}, "activity on"),
        (V9, {"moments": "path"}, "--moments"),
        (V9, {"n_paths": 0}, "--paths"),
        (V9, {"n_sigma_paths": 1}, "--sigma-paths"),
        (V9, {"maxfev": -1}, "--maxfev"),
        (V9, {"lhs_span": 0.0}, "--lhs-span"),
    ],
)
def test_the_refit_refuses_bad_settings_before_reading_data(start, options, match):
    """Each bad setting is one ParameterError naming it; the data folder is never opened (it does not exist)."""
    with pytest.raises(ParameterError, match=match):
        refit(start, "no-data-needed", moments=options.pop("moments", "clock-mix-path"), **options)


def test_the_v9_parameters_are_the_seven_and_two():
    assert REFIT_V9_PARAMETERS[: len(REFIT_PARAMETERS)] == REFIT_PARAMETERS
    assert REFIT_V9_PARAMETERS[len(REFIT_PARAMETERS) :] == ("market_maker.price_skew_ticks", "fundamental.activity_sd")


def test_the_paired_table_of_two_presets_over_seeds():
    """A is 0.1 lower in AUC than B at each of three seeds: mean difference -0.1, its bootstrap interval a point
    (every resample of equal differences has the same mean), lower at 3 of 3; a seed only B has is left out."""
    from calibration.abm_paths import PAIRED, paired_table

    def row(seed, auc):
        return {"seed": seed, "auc": [auc, 0.0, 1.0], **{n: 1.0 for n in PAIRED if n != "auc"}}

    a = [row(1, 0.8), row(2, 0.7), row(3, 0.9)]
    b = [row(1, 0.9), row(2, 0.8), row(3, 1.0), row(4, 0.0)]
    lines = paired_table(a, b, n_boot=200)
    assert lines[0].startswith("3 seeds")
    auc = next(line for line in lines if line.startswith("auc:"))
    assert auc == "auc: 0.800 / 0.900, -0.100 [-0.100, -0.100], lower at 3 of 3"
    l1 = next(line for line in lines if line.startswith("mean_l1:"))
    assert l1.endswith("+0.000 [+0.000, +0.000], lower at 0 of 3")


def assert_refit_of(path, start_path):
    """Check that the preset at ``path`` is the one at ``start_path`` refitted where the v9 refit frees parameters:
    each freed value is the estimate (with a positive standard error), the start's values are the start preset's,
    putting them back gives the start preset (but for its name and clock), and the hand-set record is kept. Return
    the preset and its calibration record."""
    from dataclasses import replace

    from calibration.abm import get_parameter, load_abm_preset, with_parameters

    preset, calibration = load_abm_preset(path)
    start, start_calibration = load_abm_preset(start_path)
    fitted = calibration["estimates"]
    assert tuple(fitted) == REFIT_V9_PARAMETERS and set(calibration["std_errors"]) == set(fitted)
    assert all(calibration["std_errors"][name] > 0 for name in fitted)
    for name, value in fitted.items():
        assert get_parameter(preset, name) == value, name
        assert calibration["start"]["values"][name] == get_parameter(start, name), name
    back = with_parameters(preset, calibration["start"]["values"])  # the start's values put back: the start preset
    assert replace(back, name=start.name, open_ns=start.open_ns) == start
    assert calibration["hand_set"] == start_calibration["hand_set"]
    return preset, calibration


def test_the_committed_v10_is_v9_refitted_where_freed():
    """abm-amzn-v10: v9 except the nine freed parameters (each with a positive standard error; the start's values
    are v9's), the activity rule on (sd > 0, v9's three time scales), v9's hand-set record, fitted with the path
    moments on the whole day and scored on 12:00-12:30 beside it."""
    from calibration.abm import scored_window

    v10, calibration = assert_refit_of(PRESET_DIR / "abm-amzn-v10.toml", V9)
    assert v10.fundamental.activity_sd > 0 and v10.fundamental.activity_time_s == (60.0, 600.0, 3600.0)
    assert (
        tuple(calibration["moments"]) == CLOCK_MIX_PATH_NAMES and calibration["source"]["moments"] == "clock-mix-path"
    )
    assert scored_window(calibration) == (9000.0, 1800.0) and calibration["source"]["duration_s"] == 23400.0
    assert v10.name == "abm-amzn-v10"


def test_v10_slow_is_v10_with_the_two_slow_activity_times_set_by_hand():
    """abm-amzn-v10-slow: v10's market and fit record, the activity over 600 and 3600 s at sd 0.6 (v10: 60, 600,
    3600 s at the fitted 0.138), those two values in its hand-set record and nothing else changed."""
    from dataclasses import replace

    from calibration.abm import load_abm_preset

    slow, calibration = load_abm_preset(PRESET_DIR / "abm-amzn-v10-slow.toml")
    v10, fit = load_abm_preset(PRESET_DIR / "abm-amzn-v10.toml")
    changed = {"fundamental.activity_sd": 0.6, "fundamental.activity_time_s": [600.0, 3600.0]}
    assert {k: v for k, v in calibration["hand_set"].items() if fit["hand_set"].get(k) != v} == changed
    assert slow.fundamental.activity_sd == 0.6 and slow.fundamental.activity_time_s == (600.0, 3600.0)
    back = replace(slow.fundamental, activity_sd=v10.fundamental.activity_sd, activity_time_s=(60.0, 600.0, 3600.0))
    assert replace(slow, name=v10.name, fundamental=back) == v10
    assert calibration["estimates"] == fit["estimates"] and calibration["moments"] == fit["moments"]


def _day_of_blips(minutes: int):
    """A level-1 day whose first row has no ask (not quoted); quoted from 5 s on (bid 100, ask 102). In each minute
    from 5 s: the bid steps to 101 at +10.5 s and back at +11.5 s (a lag-1 pair of half-tick moves), the ask goes
    to 104 (even minutes) or back to 102 (odd) at +30.5 s (the 1-min return), the bid steps to 101 at +40.5 s and
    back at +50.5 s (a lag-10 pair). Returns the day and its states ``(seconds, bid, ask)``."""
    states = [(0.0, 100, NO_PRICE), (5.0, 100, 102)]
    ask = 102
    for k in range(minutes):
        t = 5.0 + 60.0 * k
        ask = 104 if k % 2 == 0 else 102
        states += [(t + 10.5, 101, states[-1][2]), (t + 11.5, 100, states[-1][2]), (t + 30.5, 100, ask),
                   (t + 40.5, 101, ask), (t + 50.5, 100, ask)]  # fmt: skip
    states.append((5.0 + 60.0 * minutes + 1.0, 100, ask))
    ts = np.array([T0 + int(round(t * 1e9)) for t, _, _ in states])
    bid = np.array([b for _, b, _ in states])
    asks = np.array([a for _, _, a in states])
    meta = dict(tick_size=0.01, lot_size=1.0, instrument="X", venue="test")
    events = make_events(ts_ns=ts, kind=np.full(ts.size, EventKind.ADD), side=np.ones(ts.size, np.int64),
                         price_ticks=bid, qty_lots=np.full(ts.size, 10), **meta)  # fmt: skip
    books = make_books(ts_ns=ts, bid_price=bid, bid_qty=np.full(ts.size, 10), ask_price=asks,
                       ask_qty=np.where(asks == NO_PRICE, 0, 10))  # fmt: skip
    return {"events": events, "books": books}, states


def test_path_levels_read_the_mid_from_its_first_quote_on_grids_of_1_min_and_1_s():
    """The diagnostic's 1-min sd (bps) and 1-s |r| ACF at lags 1, 10 and 100 equal a slow reading of the same day:
    the mid of the last state at or before each grid time, the grids starting at the first quoted row (5 s), and the
    ACF as the plain sum of lagged products over the sum of squares. A grid from the unquoted first row, or lags
    read one off, fails it."""
    from calibration.abm_paths import path_levels

    minutes = 180
    day, states = _day_of_blips(minutes)
    times = np.array([t for t, _, _ in states])
    mids = np.array([(b + a) / 2 if a != NO_PRICE else np.nan for _, b, a in states])

    def mid_at(t: float) -> float:
        return float(mids[np.flatnonzero(times <= t)[-1]])

    end = times[-1]
    mid_1m = np.array([mid_at(t) for t in np.arange(5.0, end + 1e-9, 60.0)])
    expected_sd = 1e4 * np.diff(np.log(mid_1m)).std()
    x = np.abs(np.diff([mid_at(t) for t in np.arange(5.0, end + 1e-9, 1.0)]))
    x = x - x.mean()

    def acf(lag: int) -> float:
        return float(sum(x[i] * x[i + lag] for i in range(x.size - lag)) / sum(v * v for v in x))

    got = path_levels(day, day, T0)
    assert expected_sd == pytest.approx(1e4 * np.log(102 / 101), rel=1e-3)  # the ask's tick every other minute
    assert got["return_sd_1m_bps"] == pytest.approx(expected_sd, rel=1e-9)
    for lag in (1, 5, 10, 100):
        assert got[f"abs_acf_lag{lag}"] == pytest.approx(acf(lag), abs=1e-12)
    lags = (1, 4, 5, 6, 9, 10, 11, 99, 100)
    assert len({round(acf(lag), 6) for lag in lags}) == len(lags)  # each lag, and its neighbours, differ
