"""The aggregate price response moments (calibration.abm_visible, docs/agents_skew_prior.md): on a hand-built
level-1 window, per bin of a 10-s interval's net traded volume, the mean signed move of the mid by hand; the
intervals without a trade or a mid before them left out; bad blocks refused; the AMZN day's values; and the
refit's new moment set, start values and process pool (the pool gives the serial fit)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from calibration.abm import load_abm_preset, with_parameters
from calibration.abm_paths import PAIRED, paired_table, response_levels, summary_table
from calibration.abm_refit import (
    CLOCK_MIX_PATH_NAMES,
    CLOCK_MIX_PATH_RESPONSE_NAMES,
    MOMENT_SETS,
    REFIT_V9_PARAMETERS,
    REFIT_V25_PARAMETERS,
    main,
)
from calibration.abm_visible import (
    RESPONSE_MOMENT_NAMES,
    VISIBLE_PATH_MOMENTS,
    VISIBLE_PATH_RESPONSE_MOMENT_NAMES,
    VISIBLE_PATH_RESPONSE_MOMENTS,
    response_moments,
    visible_response_blocks,
)
from simlab.errors import ParameterError
from simlab.schema import EventKind, make_books, make_events

T0 = 10**18
ADD, TRADE = EventKind.ADD, EventKind.TRADE
DATA = Path("no-such-data-folder")  # the flag checks refuse before any data is read


def _window(rows):
    """A level-1 window from ``(seconds, kind, side, price, qty, bid, ask)`` rows: the event, then the book after it
    (10 lots a side)."""
    ts = np.array([T0 + int(round(r[0] * 1e9)) for r in rows])
    meta = dict(tick_size=0.01, lot_size=1.0, instrument="X", venue="test")
    events = make_events(ts_ns=ts, kind=np.array([r[1] for r in rows]), side=np.array([r[2] for r in rows]),
                         price_ticks=np.array([r[3] for r in rows]), qty_lots=np.array([r[4] for r in rows]),
                         **meta)  # fmt: skip
    ten = np.full(ts.size, 10)
    books = make_books(ts_ns=ts, bid_price=np.array([r[5] for r in rows]), bid_qty=ten,
                       ask_price=np.array([r[6] for r in rows]), ask_qty=ten)  # fmt: skip
    return {"events": events, "books": books}


# mid 101 (100/102) at the start; per 10-s interval its trades and the quote after them:
ROWS = [
    (0.0, ADD, 1, 100, 10, 100, 102),
    (5.0, TRADE, 1, 102, 60, 100, 102),  # [0, 10): no mid before 0 s, so no move: left out
    (12.0, TRADE, 1, 102, 50, 100, 102),  # [10, 20): net +50, mid 101 -> 102: +1 (bin 1-100)
    (13.0, ADD, -1, 104, 10, 100, 104),
    (22.0, TRADE, -1, 100, 200, 100, 104),  # [20, 30): net -200, mid 102 -> 100: -2, signed +2 (bin 100-300)
    (23.0, ADD, 1, 96, 10, 96, 104),
    (33.0, ADD, -1, 110, 10, 96, 110),  # [30, 40): no trade (mid 100 -> 103): left out
    (42.0, TRADE, 1, 110, 500, 96, 110),  # [40, 50): net +500, mid 103 -> 101: -2 (bin 300-1000)
    (43.0, ADD, -1, 106, 10, 96, 106),
    (52.0, TRADE, 1, 106, 700, 96, 106),  # [50, 60): net +600, mid 101 -> 104: +3 (bin 300-1000)
    (53.0, TRADE, -1, 96, 100, 96, 106),
    (54.0, ADD, 1, 102, 10, 102, 106),
    (61.0, TRADE, 1, 106, 2000, 102, 106),  # [60, 70): net +2000, mid 104 -> 110: +6 (bin 1000+)
    (62.0, ADD, -1, 118, 10, 102, 118),
    (75.0, TRADE, -1, 102, 99, 102, 118),  # [70, 80): net -99, mid 110 -> 111: +1, signed -1 (bin 1-100)
    (76.0, ADD, 1, 104, 10, 104, 118),
    (120.0, ADD, 1, 104, 10, 104, 118),  # closes block 2 (the partial block after it is left out)
]


def test_the_response_by_hand():
    blocks = visible_response_blocks(_window(ROWS), 60.0)
    assert len(blocks) == 2
    np.testing.assert_array_equal(blocks[0]["net"], [60, 50, -200, 0, 500, 600])
    np.testing.assert_array_equal(blocks[0]["move"][1:], [1, -2, 3, -2, 3])
    assert np.isnan(blocks[0]["move"][0])
    np.testing.assert_array_equal(blocks[1]["net"], [2000, -99, 0, 0, 0, 0])
    np.testing.assert_array_equal(blocks[1]["move"], [6, 1, 0, 0, 0, 0])
    # bins: 1-100 {+1, -1}, 100-300 {+2}, 300-1000 {-2, +3}, 1000+ {+6}
    np.testing.assert_allclose(response_moments(blocks), [0.0, 2.0, 0.5, 6.0])


def test_a_bin_without_intervals_is_nan_and_the_set_extends_the_path_set():
    rows = [r for r in ROWS if r[0] != 61.0 and r[0] != 62.0]  # no interval of 1000 lots or more
    window = _window(rows)
    blocks = VISIBLE_PATH_RESPONSE_MOMENTS.blocks(window, 60.0)
    moments = VISIBLE_PATH_RESPONSE_MOMENTS.moments(blocks)
    assert VISIBLE_PATH_RESPONSE_MOMENT_NAMES[-4:] == RESPONSE_MOMENT_NAMES
    assert np.isnan(moments[-1]) and np.isfinite(moments[-4:-1]).all()
    before = VISIBLE_PATH_MOMENTS.moments(VISIBLE_PATH_MOMENTS.blocks(window, 60.0))
    np.testing.assert_array_equal(moments[: before.size], before)


@pytest.mark.parametrize("block_s", [15.0, 5.0, 65.0])
def test_blocks_of_a_part_of_an_interval_are_refused(block_s):
    with pytest.raises(ParameterError, match="block_s must be a whole number of 10-s intervals"):
        visible_response_blocks(_window(ROWS), block_s)


def test_the_day_tables_leave_out_a_quantity_an_older_file_lacks():
    base = {name: [0.5, 0.4, 0.6] for name in PAIRED if name not in RESPONSE_MOMENT_NAMES}
    new = [{"seed": s, **base, **dict.fromkeys(RESPONSE_MOMENT_NAMES, 1.0 + s)} for s in (1, 2)]
    old = [{"seed": s, **base} for s in (1, 2)]
    assert not any("response" in line for line in paired_table(new, old, n_boot=10))
    assert sum("response" in line for line in paired_table(new, new, n_boot=10)) == 4
    assert sum("response" in line for line in summary_table(new, n_boot=10)) == 4
    assert not any("response" in line for line in summary_table(old, n_boot=10))


def test_the_refit_set_and_parameters():
    assert CLOCK_MIX_PATH_RESPONSE_NAMES == (*CLOCK_MIX_PATH_NAMES, *RESPONSE_MOMENT_NAMES)
    assert MOMENT_SETS["clock-mix-path-response"] == CLOCK_MIX_PATH_RESPONSE_NAMES
    assert REFIT_V25_PARAMETERS == (*REFIT_V9_PARAMETERS, "market_maker.skew_prior_lots")


@pytest.mark.parametrize("bad", ["market_maker.skew_prior_lots", "market_maker.skew_prior_lots=x",
                                 "market_maker.skew_prior_lots=nan"])  # fmt: skip
def test_a_bad_start_value_is_refused_naming_the_flag(bad, tmp_path):
    with pytest.raises(ParameterError, match="--start-value must be TABLE.KEY=NUMBER"):
        main(["calibration/presets/abm-amzn-v24.toml", str(DATA), str(tmp_path / "x.toml"), "--start-value", bad])


def test_a_named_rule_and_the_setting_it_needs_are_set_together_in_any_order():
    v24 = load_abm_preset("calibration/presets/abm-amzn-v24.toml")[0]
    pair = [("market_maker.skew_rounding", "random"), ("market_maker.skew_prior_lots", 300)]
    for values in (dict(pair), dict(reversed(pair))):
        market = with_parameters(v24, values).market_maker
        assert (market.skew_rounding, market.skew_prior_lots) == ("random", 300.0)


def test_workers_below_one_are_refused(tmp_path):
    with pytest.raises(ParameterError, match="--workers must be a whole number >= 1"):
        main(["calibration/presets/abm-amzn-v24.toml", str(DATA), str(tmp_path / "x.toml"), "--workers", "0"])


def test_the_amzn_days_response_rises_with_the_net_volume(shared_data):
    from calibration.abm import AMZN_DAY, select_window
    from simlab.io.dataset import load_dataset

    day = select_window(load_dataset(shared_data / AMZN_DAY), 0.0, 23400.0)
    values = response_moments(visible_response_blocks(day, 60.0))
    np.testing.assert_allclose(values, [1.416, 3.620, 6.014, 11.523], atol=5e-4)  # docs/agents_skew_prior.md
    assert response_levels(day) == pytest.approx(dict(zip(RESPONSE_MOMENT_NAMES, values, strict=True)))


def test_a_pool_of_workers_gives_the_serial_fit(tmp_path, shared_data):
    """Two parameters, one path, 20 min after a 30-min warm-up (every moment defined, so the search moves): the start
    value recorded, and with 2 workers the same search, estimates, moments and standard errors (no wall budget)."""
    import tomllib

    common = ["calibration/presets/abm-amzn-v24.toml", str(shared_data), "--paths", "1", "--n-lhs", "2",
              "--maxfev", "4", "--sigma-paths", "2", "--duration", "1200", "--warmup", "1800", "--start", "3600",
              "--moments", "clock-mix-path", "--parameter", "market_maker.price_skew_ticks", "--parameter",
              "market_maker.skew_prior_lots", "--start-value", "market_maker.skew_prior_lots=300",
              "--start-value", "market_maker.skew_rounding=random"]  # fmt: skip
    serial = tomllib.loads(main([*common[:2], str(tmp_path / "a.toml"), *common[2:]]).read_text())["calibration"]
    pooled = tomllib.loads(main([*common[:2], str(tmp_path / "b.toml"), *common[2:], "--workers", "2"]).read_text())
    pooled = pooled["calibration"]
    assert load_abm_preset(tmp_path / "a.toml")[0].market_maker.skew_rounding == "random"  # the named rule kept
    for cal in (serial, pooled):
        assert cal["start"]["overrides"] == {"market_maker.skew_prior_lots": 300.0,
                                             "market_maker.skew_rounding": "random"}  # fmt: skip
        assert cal["start"]["values"]["market_maker.skew_prior_lots"] == 300.0
        moved = [abs(cal["estimates"][n] / cal["start"]["values"][n] - 1) > 1e-6 for n in cal["estimates"]]
        assert cal["objective"] < 1e12 and any(moved)  # a real search, not refusals
    for key in ("estimates", "std_errors", "moments", "objective"):
        assert serial[key] == pooled[key], key


def test_a_rule_freed_at_zero_or_an_unknown_start_key_is_refused_before_any_data(tmp_path):
    args = ["calibration/presets/abm-amzn-v24.toml", str(tmp_path / "no-data"), str(tmp_path / "x.toml"),
            "--parameter", "market_maker.skew_prior_lots"]  # fmt: skip
    with pytest.raises(ParameterError, match="start at \\[0.0\\].*--start-value market_maker.skew_prior_lots=VALUE"):
        main(args)
    with pytest.raises(ParameterError, match="--start-value market_maker.no_such_key: expected a `table.key`"):
        main([*args, "--start-value", "market_maker.no_such_key=3"])
    prior = ["--start-value", "market_maker.skew_prior_lots=300"]
    with pytest.raises(ParameterError, match="--start-value .*skew_rounding=up: the market refuses it .*must be one"):
        main([*args, *prior, "--start-value", "market_maker.skew_rounding=up"])
    with pytest.raises(ParameterError, match="--start-value market_maker.skew_rounding=random: the market refuses"):
        main([*args[:3], "--start-value", "market_maker.skew_rounding=random"])  # v24 has no prior
    with pytest.raises(ParameterError, match="\\['market_maker.skew_rounding'\\] are named rules and stay fixed"):
        main([*args, *prior, "--parameter", "market_maker.skew_rounding"])
