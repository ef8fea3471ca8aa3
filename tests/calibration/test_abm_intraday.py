"""The intraday profiles of a real day (calibration.abm_intraday, docs/agents_intraday.md): the parts' mean spread
and events against a slow loop over the rows, the correction step by hand, bad input refused, and on the AMZN day
the spread's reverse-J and abm-amzn-v33's profile reproduced from abm-amzn-v30 and the exploration seeds."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from calibration.abm import load_abm_preset
from calibration.abm_intraday import _main, day_profile, part_means, refine_preset, refine_profile
from simlab.agents import MarketMakers
from simlab.errors import ParameterError
from simlab.metrics._market import Market
from tests.simlab.agents.conftest import small_config

PRESETS = Path(__file__).parents[2] / "calibration" / "presets"


def test_part_means_are_the_slow_loop_over_the_rows():
    from simlab.agents import simulate_abm

    makers = MarketMakers(count=2, wake_interval_s=5.0, levels=3, volume_window_s=20.0, level_spacing=0.5,
                          spread_alpha=0.2, min_half_spread_ticks=2)  # fmt: skip
    config = small_config(market_maker=makers)
    day = simulate_abm(config, seed=4, duration_s=config.session_s)
    market = Market(day["events"], day["books"], levels=1, source="synthetic")
    means = part_means(market, config.open_ns, parts=7, session_s=config.session_s)
    sums, quoted, events = [0.0] * 7, [0] * 7, [0] * 7
    for ts, spread, ok in zip(market.ts.tolist(), market.spread_after.tolist(), market.quoted.tolist(), strict=True):
        part = min(max(int((ts - config.open_ns) * 7 // int(config.session_s * 1e9)), 0), 6)
        events[part] += 1
        if ok:
            sums[part], quoted[part] = sums[part] + spread, quoted[part] + 1
    assert sum(events) > 1000 and min(quoted) > 0
    np.testing.assert_array_equal(means["events"], events)
    np.testing.assert_allclose(means["spread_ticks"], [s / q for s, q in zip(sums, quoted, strict=True)], rtol=1e-12)


def test_the_correction_step_by_hand_and_its_bad_input():
    profile, real = [2.0, 1.0, 0.5], [20.0, 12.0, 8.0]
    simulated = [[16.0, 12.0, 10.0], [np.nan, 8.0, 10.0]]  # the second day never quoted the first part
    np.testing.assert_allclose(refine_profile(profile, real, simulated), [2.5, 1.25, 0.4])  # 2 x 20/16; 1 x (1 + 1.5)/2
    with pytest.raises(ParameterError, match=re.escape("refine_profile: parts [0] have no quoted row in any")):
        refine_profile(profile, real, [[np.nan, 12.0, 10.0]])
    with pytest.raises(ParameterError, match=re.escape("need one value per part; got shapes (3,), (2,) and (1, 3)")):
        refine_profile(profile, real[:2], simulated[:1])
    with pytest.raises(ParameterError, match=re.escape("part_means: `parts` must be an int >= 1; got 0")):
        part_means(None, 0, parts=0)
    with pytest.raises(ParameterError, match=re.escape("abm_intraday: expected `DATA_DIR [PRESET --seeds S1,S2,...]`")):
        _main(["data", "preset.toml", "--seed", "1"])
    with pytest.raises(ParameterError, match=re.escape("abm_intraday: --seeds must be integers separated by commas")):
        _main(["data", "preset.toml", "--seeds", "1,x"])


def test_the_amzn_day_spread_is_a_reverse_j_and_v33_profile_is_reproduced(shared_data):
    from calibration.abm import AMZN_DAY
    from simlab.io.dataset import load_dataset

    shape = day_profile(load_dataset(shared_data / AMZN_DAY))
    spread = shape["spread_ticks"]
    assert spread[0] > 1.5 * np.median(spread) and spread[-1] < 0.7 * np.median(spread)  # wide open, narrow close
    np.testing.assert_allclose([shape["spread_shape"].mean(), shape["activity_shape"].mean()], [1.0, 1.0])
    assert shape["events"].sum() > 50_000 and shape["events"][-1] == shape["events"].max()  # the close is busiest
    v33 = load_abm_preset(PRESETS / "abm-amzn-v33.toml")[0].market_maker.half_spread_profile
    out = refine_preset(PRESETS / "abm-amzn-v30.toml", shared_data, [5724, 5725])
    assert out["start"] == np.round(shape["spread_shape"], 4).tolist()  # v30 has no profile: the day's shape
    assert np.round(out["refined"], 3).tolist() == list(v33)  # v33's profile is the step, to 3 decimals
