"""The refit of a hand-set agent-market preset (calibration/abm_refit.py, docs/agents_refit_v7.md): the two moments
it adds (the visible cancel share and the event rate) by hand, the scorecard's window of a preset fitted on the whole
day, the rules it keeps fixed, and the committed abm-amzn-v7-refit preset against v7 (no simulation here)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from calibration.abm import get_parameter, load_abm_preset, scored_window
from calibration.abm_refit import CLOCK_MIX_NAMES, REFIT_PARAMETERS, RULES, moment_subset, refit
from calibration.abm_visible import (
    VISIBLE_MIX_MOMENT_NAMES,
    VISIBLE_MIX_MOMENTS,
    VISIBLE_MOMENT_NAMES,
    VISIBLE_MOMENTS,
)
from calibration.presets import PRESET_DIR
from simlab.errors import ParameterError
from simlab.schema import NO_PRICE, EventKind, make_books, make_events
from tests.calibration.test_abm_visible import _window


def _shifted(window, seconds: float):
    """The hand-built window with every event ``seconds`` later (its events and book rows)."""
    out = {}
    for group in ("events", "books"):
        data = window[group].copy()
        data["ts_ns"] = data["ts_ns"] + int(seconds * 1e9)
        out[group] = data
    return out


def _two_deletes():
    """The hand-built window of test_abm_visible.py and one more event at 2.4 s: the last bid (99 x 100) is deleted.
    Visible: 3 adds, 2 deletes, 1 fill in one 60-s block (the add behind the best at 0.8 s is not visible)."""
    window = _window()
    extra = make_events(
        ts_ns=np.array([10**18 + 2_400_000_000]),
        kind=np.array([EventKind.DELETE]),
        side=np.array([1]),
        price_ticks=np.array([99]),
        qty_lots=np.array([100]),
        **{k: window["events"].attrs[k] for k in ("tick_size", "lot_size", "instrument", "venue")},
    )
    book = make_books(ts_ns=extra["ts_ns"].values, bid_price=np.array([NO_PRICE]), bid_qty=np.array([0]),
                      ask_price=np.array([103]), ask_qty=np.array([1]))  # fmt: skip
    return {"events": xr.concat([window["events"], extra], dim="event", combine_attrs="override"),
            "books": xr.concat([window["books"], book], dim="time", combine_attrs="override")}  # fmt: skip


def test_the_cancel_share_and_the_event_rate_by_hand():
    """Cancel share 2/6 (not the fills' 1/6), rate 6 events / 60 s; the visible moments before them unchanged."""
    window = _two_deletes()
    values = VISIBLE_MIX_MOMENTS.moments(VISIBLE_MIX_MOMENTS.blocks(window, 60.0))
    moments = dict(zip(VISIBLE_MIX_MOMENT_NAMES, values, strict=True))
    assert VISIBLE_MIX_MOMENT_NAMES[: len(VISIBLE_MOMENT_NAMES)] == VISIBLE_MOMENT_NAMES
    before = VISIBLE_MOMENTS.moments(VISIBLE_MOMENTS.blocks(window, 60.0))
    np.testing.assert_array_equal(values[: len(before)], before)
    assert moments["add_share"] == pytest.approx(3 / 6) and moments["trade_share"] == pytest.approx(1 / 6)
    assert moments["cancel_share"] == pytest.approx(2 / 6)
    assert moments["log10_event_rate"] == pytest.approx(np.log10(6 / 60))


def test_the_event_rate_counts_whole_blocks():
    """The window and a copy of it 100 s later (events at 0-2 s and 100-102 s): the blocks start at the first event
    and the partial block at the end is left out, so the rate is the events of the whole blocks over their length."""
    a, b = _window(), _shifted(_window(), 100.0)
    both = {"events": xr.concat([a["events"], b["events"]], dim="event"),
            "books": xr.concat([a["books"], b["books"]], dim="time")}  # fmt: skip
    for block_s, n_blocks, visible in ((60.0, 1, 5), (50.0, 2, 5), (110.0, 1, 10)):
        blocks = VISIBLE_MIX_MOMENTS.blocks(both, block_s)  # 60: [0, 60); 50: [0, 50), [50, 100); 110: one block
        moments = dict(zip(VISIBLE_MIX_MOMENT_NAMES, VISIBLE_MIX_MOMENTS.moments(blocks), strict=True))
        assert len(blocks) == n_blocks, block_s
        assert moments["log10_event_rate"] == pytest.approx(np.log10(visible / (n_blocks * block_s))), block_s
        assert moments["cancel_share"] == pytest.approx(1 / 5), block_s


def test_the_scored_window_is_the_named_one_else_the_fitted_one():
    assert scored_window({"source": {"start_s": 0.0, "duration_s": 23400.0}}) == (0.0, 23400.0)
    named = {"start_s": 0.0, "duration_s": 23400.0, "window_start_s": 9000.0, "window_duration_s": 1800.0}
    assert scored_window({"source": named}) == (9000.0, 1800.0)


def test_the_rules_stay_fixed():
    for rule in RULES:
        with pytest.raises(ParameterError, match=rule.replace(".", r"\.")):
            refit(PRESET_DIR / "abm-amzn-v7.toml", "no-data-needed", parameters=(*REFIT_PARAMETERS, rule))


def test_the_refit_preset_is_v7_with_its_fitted_parameters():
    refitted, calibration = load_abm_preset(PRESET_DIR / "abm-amzn-v7-refit.toml")
    v7, v7_calibration = load_abm_preset(PRESET_DIR / "abm-amzn-v7.toml")
    fitted = calibration["estimates"]
    assert set(fitted) == set(REFIT_PARAMETERS) == set(calibration["std_errors"])
    assert all(calibration["std_errors"][name] > 0 for name in fitted)
    for name, value in fitted.items():
        assert get_parameter(refitted, name) == pytest.approx(value), name
        assert calibration["start"]["values"][name] == get_parameter(v7, name), name
    for rule in RULES:  # the hand-set rules are v7's
        assert get_parameter(refitted, rule) == get_parameter(v7, rule), rule
    assert calibration["hand_set"] == v7_calibration["hand_set"]
    assert refitted.to_dict()["agents"]["momentum"] == v7.to_dict()["agents"]["momentum"]
    assert tuple(calibration["moments"]) == CLOCK_MIX_NAMES and calibration["source"]["moments"] == "clock-mix"
    assert scored_window(calibration) == (9000.0, 1800.0) and calibration["source"]["duration_s"] == 23400.0
    assert refitted.name == "abm-amzn-v7-refit"


def test_a_moment_subset_keeps_the_named_moments_in_order():
    window = _two_deletes()
    values = VISIBLE_MIX_MOMENTS.moments(VISIBLE_MIX_MOMENTS.blocks(window, 60.0))
    full = dict(zip(VISIBLE_MIX_MOMENT_NAMES, values, strict=True))
    subset = moment_subset(VISIBLE_MIX_MOMENTS, CLOCK_MIX_NAMES)
    values = subset.moments(subset.blocks(window, 60.0))
    assert subset.names == CLOCK_MIX_NAMES and "acf_trade_sign" not in subset.names
    np.testing.assert_array_equal(values, [full[n] for n in CLOCK_MIX_NAMES])
    with pytest.raises(ParameterError, match="hidden_share"):
        moment_subset(VISIBLE_MIX_MOMENTS, ("add_share", "hidden_share"))
    with pytest.raises(ParameterError, match="--moments"):
        refit(PRESET_DIR / "abm-amzn-v7.toml", "no-data-needed", moments="all")
