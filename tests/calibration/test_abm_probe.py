"""calibration.abm_probe: a candidate is a preset with some settings replaced, each parsed to its field's type."""

from __future__ import annotations

import pytest

from simlab.errors import ParameterError


def _v4():
    from calibration.abm import load_abm_preset
    from calibration.presets import PRESET_DIR

    return load_abm_preset(PRESET_DIR / "abm-amzn-v4.toml")[0]


def test_settings_replace_the_named_fields_with_their_types():
    from calibration.abm_probe import parse_settings, with_settings

    config = _v4()
    settings = parse_settings(["market_maker.keep_touch_ticks=0", "noise.arrival_rate_per_s=0.05"])
    probe = with_settings(config, settings)
    assert probe.market_maker.keep_touch_ticks == 0 and isinstance(probe.market_maker.keep_touch_ticks, int)
    assert probe.noise.arrival_rate_per_s == 0.05
    assert config.market_maker.keep_touch_ticks == -1  # the preset itself is unchanged
    assert probe.market_maker.quote_offset_ticks == config.market_maker.quote_offset_ticks
    times = with_settings(config, parse_settings(["fundamental.activity_time_s=60,600,3600"]))
    assert times.fundamental.activity_time_s == (60.0, 600.0, 3600.0)  # a list for the field that takes one
    back = with_settings(times, parse_settings(["fundamental.activity_time_s=900"]))
    assert back.fundamental.activity_time_s == 900.0


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        (["market_maker.keep_touch_ticks"], "table.key=value"),
        (["market_maker.no_such_key=1"], "no_such_key"),
        (["market_maker.keep_touch_ticks=0.5"], "expects an int"),
        (["value.variance_update=kalman"], "not a number"),
        (["market_maker.keep_touch_ticks=-3"], "keep_touch_ticks"),
        (["noise.arrival_rate_per_s=0.1,0.2"], "`arrival_rate_per_s` of NoiseAgents must be a finite number"),
        (["fundamental.activity_time_s=60,x"], "expects an float or a comma-separated list"),
    ],
)
def test_bad_settings_are_refused_with_a_sentence(arguments, words):
    from calibration.abm_probe import parse_settings, with_settings

    with pytest.raises(ParameterError, match=words):
        with_settings(_v4(), parse_settings(arguments))
