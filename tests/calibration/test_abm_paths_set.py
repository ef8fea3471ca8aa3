"""``calibration.abm_paths --set table.key=value`` (docs/agents_split_v12.md): a preset scored with one number
changed, the rest of the market as the file has it; bad overrides refused with a sentence (no simulation here)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from calibration.abm import load_abm_preset
from calibration.abm_paths import _main, parse_set, with_overrides
from calibration.presets import PRESET_DIR
from simlab.errors import ParameterError

V10_SLOW = PRESET_DIR / "abm-amzn-v10-slow.toml"


def test_parse_set_splits_the_dotted_name_from_the_value():
    assert parse_set("noise.split_exponent=1.35") == ("noise.split_exponent", "1.35")
    assert parse_set(" market_maker.levels = 8 ") == ("market_maker.levels", "8")
    for bad in ("noise.split_exponent", "split_exponent=1.5", "noise.split_exponent=", ".x=1", "noise.=1"):
        with pytest.raises(ParameterError, match="table.key=value"):
            parse_set(bad)


def test_an_override_changes_that_number_only():
    """The split exponent set to 1.35 (a float) and the children cap to 500 (an int field stays an int); every other
    field of the market is the file's."""
    config = load_abm_preset(V10_SLOW)[0]
    changed = with_overrides(config, {"noise.split_exponent": "1.35", "noise.split_max_children": "500"})
    assert changed.noise.split_exponent == 1.35 and isinstance(changed.noise.split_exponent, float)
    assert changed.noise.split_max_children == 500 and type(changed.noise.split_max_children) is int
    assert config.noise.split_exponent == 1.6 and config.noise.split_max_children == 10000  # the file's, unchanged
    assert changed != config and replace(changed, noise=config.noise) == config
    assert with_overrides(config, {}) == config


def test_bad_overrides_are_refused_with_a_sentence():
    config = load_abm_preset(V10_SLOW)[0]
    cases = {
        "noise.split_exponentt": ("1.5", "expected a key of the noise table, one of .*split_exponent.*; found "),
        "noise_agents.split_exponent": ("1.5", "expected a table .*'noise'.*; found 'noise_agents'"),
        "noise.excitation": ("nan", "must be a number; got 'nan'"),
        "value.variance_update": ("1", "only numbers"),
        "noise.split_max_children": ("1.5", "must be a whole number"),
        "noise.split_exponent": ("fast", "must be a number"),
    }
    for name, (value, message) in cases.items():
        with pytest.raises(ParameterError, match=message):
            with_overrides(config, {name: value})
    with pytest.raises(ParameterError, match="split_exponent"):  # the config's own check: (0, 1] is no tail
        with_overrides(config, {"noise.split_exponent": "0.8"})


def test_the_cli_hands_the_overrides_to_score_seeds(tmp_path, monkeypatch):
    """``--set`` before ``--seeds`` reaches :func:`score_seeds` (stood in for here: no simulation); ``--set`` with
    another mode, or without its value, is refused."""
    import calibration.abm_paths as paths

    seen = {}

    def fake(preset, data_dir, seeds, overrides=None):
        seen.update(preset=preset, data_dir=data_dir, seeds=seeds, overrides=overrides)
        return [{"seed": s, "set": overrides} for s in seeds]

    monkeypatch.setattr(paths, "score_seeds", fake)
    out = tmp_path / "rows.json"
    argv = ["--set", "noise.split_exponent=1.5", "--set", "noise.split_max_children=99", "--seeds", "7,8", "--out",
            str(out), "DATA", "PRESET.toml"]  # fmt: skip
    with pytest.raises(ParameterError, match="--set noise.split_exponent given twice"):
        _main(["--set", "noise.split_exponent=1.5", "--set", "noise.split_exponent=1.4", "--seeds", "7"])
    _main(argv)
    assert seen == {"preset": "PRESET.toml", "data_dir": "DATA", "seeds": [7, 8],
                    "overrides": {"noise.split_exponent": "1.5", "noise.split_max_children": "99"}}  # fmt: skip
    assert [row["seed"] for row in json.loads(out.read_text())] == [7, 8]
    _main(["--seeds", "9", "--out", str(out), "DATA", "PRESET.toml"])
    assert seen["overrides"] == {}
    with pytest.raises(ParameterError, match="--seeds only"):
        _main(["--set", "noise.split_exponent=1.5", "--summary", str(out)])
    with pytest.raises(ParameterError, match="needs a `table.key=value`"):
        _main(["--set"])
    # a --set after the preset was once read as nothing at all (the day scored unchanged): each mode's arguments are
    # counted, and a line of another shape is refused, naming the shape
    with pytest.raises(ParameterError, match="each --set before --seeds"):
        _main(["--seeds", "9", "--out", str(out), "DATA", "PRESET.toml", "--set", "noise.split_exponent=1.5"])
    with pytest.raises(ParameterError, match="--seeds SEED"):
        _main(["--seeds", "9", "DATA", "PRESET.toml", "--out", str(out)])
    with pytest.raises(ParameterError, match="--summary A.json"):
        _main(["--summary", str(out), str(out)])
    with pytest.raises(ParameterError, match="--paired A.json B.json"):
        _main(["--paired", str(out)])
