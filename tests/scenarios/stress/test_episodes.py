"""Episode specs: the library parses, and each kind of bad input is one sentence naming what is wrong."""

from __future__ import annotations

import copy
import tomllib

import pytest

from scenarios.specs import LIBRARY
from scenarios.stress.episodes import PRIMITIVES, load_episode, parse_episode
from simlab.errors import ParameterError

BASE = {
    "episode": {"name": "toy", "date": "2010-05-06", "market": "m", "asset": "a", "direction": -1, "worlds": ["abm"]},
    "sources": [{"author": "A", "title": "T", "year": 2010, "url": "https://example.org"}],
    "template": {"drawdown": {"value": 0.05, "tolerance": 0.01}, "time_to_trough_s": {"value": 60, "tolerance": 30}},
    "compression": {"time_factor": 1.0, "real_duration_s": 600.0, "method": "none"},
    "background": {"preset": "calibration/presets/abm-amzn.toml", "calibrated": True, "calibration": "AMZN",
                   "duration_s": 600.0, "event_s": 300.0, "pre_s": 120.0},
    "mechanism": {"sell_program": {"fixed": {"start_s": 300.0, "duration_s": 60.0},
                                   "fit": {"quantity_lots": {"low": 100.0, "high": 1000.0, "integer": True}}}},
}  # fmt: skip


def edited(path: str, value) -> dict:
    data = copy.deepcopy(BASE)
    keys = path.split(".")
    table = data
    for key in keys[:-1]:
        table = table[key]
    table[keys[-1]] = value
    return data


def test_a_good_episode_parses_and_lists_its_fitted_parameters():
    spec = parse_episode(copy.deepcopy(BASE))
    assert spec.episode.direction == -1 and set(spec.template) == {"drawdown", "time_to_trough_s"}
    assert list(spec.mechanism["sell_program"].fit) == ["quantity_lots"]


def test_every_library_episode_parses():
    names = sorted(p.stem for p in LIBRARY.glob("*.toml") if p.stem.startswith(("crash_", "depeg_")))
    assert "crash_2010_05_06_emini" in names
    for name in names:
        episode = load_episode(name)
        assert episode.spec.sources and episode.spec.template["drawdown"].tolerance > 0
        data = tomllib.loads(episode.text)
        assert data["episode"]["name"] == name


@pytest.mark.parametrize(
    ("path", "value", "words"),
    [
        ("mechanism", {"melt": {}}, "unknown primitive [mechanism.melt]; valid ones are circuit_breaker, leverage"),
        ("mechanism.sell_program.fixed", {"start_s": 300.0, "speed": 2}, "[mechanism.sell_program] unknown key 'speed'; valid ones are strategy, side"),  # noqa: E501
        ("template.drawdown.tolerance", 0.0, "`template.drawdown.tolerance` Input should be greater than 0; got 0.0"),
        ("template.drawdown.tolerance", -1.0, "`template.drawdown.tolerance` Input should be greater than 0"),
        ("template.crashiness", {"value": 1, "tolerance": 1}, "unknown template statistic 'crashiness'; valid ones are drawdown, time_to_trough_s"),  # noqa: E501
        ("mechanism.sell_program.fixed", {"start_s": 580.0, "duration_s": 60.0}, "shock outside the session: `start_s` 580 s + `duration_s` 60 s must lie within [0, 600] s"),  # noqa: E501
        ("mechanism.sell_program", {"fixed": {"duration_s": 60.0}, "fit": {"start_s": {"low": 100.0, "high": 700.0}}}, "shock outside the session: `start_s` 700 s"),  # noqa: E501
        ("episode.worlds", ["abm", "hawkes"], "world 'hawkes' has no agents for primitive 'sell_program'"),
        ("episode.direction", 0, "`episode.direction` Input should be -1 or 1"),
        ("background.pre_s", 400.0, "needs pre_s <= event_s < duration_s"),
        ("sources", [{"author": "A", "title": "T", "year": 2010}], "a source needs a `url` or a `doc` id"),
        ("episode.colour", "red", "`episode.colour` Extra inputs are not permitted"),
    ],
)  # fmt: skip
def test_bad_input_is_one_sentence(path, value, words):
    with pytest.raises(ParameterError) as info:
        parse_episode(edited(path, value), "episode toy.toml")
    message = str(info.value)
    assert message.startswith("episode toy.toml: ") and words in message and "\n" not in message


def test_a_liquidation_cascade_on_the_hawkes_book_is_refused():
    data = edited("mechanism", {"leverage": {"fixed": {"count": 10, "start_s": 10.0}}})
    data["episode"]["worlds"] = ["hawkes"]
    with pytest.raises(ParameterError, match=r"world 'hawkes' has no agents for primitive 'leverage' \(leveraged"):
        parse_episode(data, "episode toy.toml")


def test_a_missing_core_statistic_and_a_key_both_fixed_and_fitted_are_refused():
    data = copy.deepcopy(BASE)
    del data["template"]["time_to_trough_s"]
    with pytest.raises(ParameterError, match=r"\[template\] needs `time_to_trough_s`"):
        parse_episode(data, "episode toy.toml")
    data = edited("mechanism.sell_program.fixed", {"start_s": 300.0, "quantity_lots": 5})
    with pytest.raises(ParameterError, match="'quantity_lots' is both fixed and fitted"):
        parse_episode(data, "episode toy.toml")


def test_every_primitive_names_its_table_and_worlds():
    assert {"sell_program", "stop_loss", "leverage", "news", "withdrawal", "mark", "pause", "peg_run"} <= set(
        PRIMITIVES
    )
    assert PRIMITIVES["peg_run"].worlds == ("amm",) and "hawkes" not in PRIMITIVES["leverage"].worlds
