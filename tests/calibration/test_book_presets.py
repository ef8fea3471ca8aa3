"""Book presets (zi-amzn, qr-amzn): the TOML format, the shipped files, and the golden refit from the AMZN day."""

from __future__ import annotations

import tomllib

import numpy as np
import pytest

from calibration.book_presets import (
    SPECS,
    BookPreset,
    fit_book_preset,
    list_book_presets,
    load_book_preset,
    save_book_preset,
    simulate_book_preset,
)
from calibration.presets import dumps_toml, list_presets
from simlab.book import QRParams, ZIParams
from simlab.book.stats import DISTRIBUTIONS
from simlab.errors import DataError, ParameterError


def test_book_presets_are_shipped_apart_from_the_hawkes_ones():
    assert list_book_presets() == ["qr-amzn", "zi-amzn"]
    assert not set(list_book_presets()) & set(list_presets())


@pytest.mark.parametrize("name", ["zi-amzn", "qr-amzn"])
def test_shipped_preset_loads_simulates_and_records_its_comparison(name, tmp_path):
    preset = load_book_preset(name)
    assert preset.path.stat().st_size < 16_000 and preset.params.instrument == "AMZN"
    assert isinstance(preset.params, ZIParams if preset.model == "zi" else QRParams)
    comparison = preset.comparison
    for statistic in DISTRIBUTIONS:
        row = comparison[statistic]
        assert 0 <= row["ks"] <= 1 and len(row["quantiles_real"]) == len(row["quantiles"]) == 5
    assert comparison["real_events"] == 57515 and comparison["duration_s"] == 23400.0
    assert comparison["event_mix"]["limit_share_real"] == pytest.approx(0.505629)
    run = simulate_book_preset(preset, 60.0, rng=1)
    assert run["events"].sizes["event"] == run["books"].sizes["time"] > 10
    assert run["events"]["ts_ns"].values[0] == preset.simulation["start_ns"]
    back = load_book_preset(save_book_preset(preset, tmp_path / f"{name}.toml"))
    assert dumps_toml(back.to_dict()) == dumps_toml(preset.to_dict()) == preset.path.read_text()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["comparison"].update(sprad=1.0), r"unknown key\(s\) \['sprad'\] in \[comparison\]"),
        (lambda d: d.update(extra={"a": 1}), r"unknown \['extra'\]"),
        (lambda d: d.pop("simulation"), r"missing \['simulation'\]"),
        (lambda d: d["params"].update(limit_rte=1.0), r"\[params\] does not fit ZIParams"),
        (lambda d: d["preset"].update(model="hawkes"), "model"),
    ],
)
def test_book_preset_rejects_unknown_or_missing_keys(tmp_path, edit, message):
    data = tomllib.loads(dumps_toml(load_book_preset("zi-amzn").to_dict()))
    edit(data)
    (tmp_path / "bad.toml").write_text(dumps_toml(data))
    with pytest.raises(ParameterError, match=message):
        load_book_preset(tmp_path / "bad.toml")
    with pytest.raises(DataError, match="no such file"):
        load_book_preset("zi-nowhere")


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_shipped_preset_is_what_fit_book_preset_builds_today(spec, shared_data):
    """Golden check: refitting from the AMZN day reproduces the committed parameters and comparison numbers."""
    committed = load_book_preset(spec.name)
    rebuilt = fit_book_preset(spec, shared_data, seed=committed.comparison["seed"])
    rebuilt = BookPreset.from_dict(tomllib.loads(dumps_toml(rebuilt.to_dict())))  # as written
    old, new = committed.params.to_dict(), rebuilt.params.to_dict()
    assert old.keys() == new.keys()
    for key in old:
        if isinstance(old[key], (float, list)):
            np.testing.assert_allclose(new[key], old[key], rtol=1e-9, err_msg=key)
        else:
            assert new[key] == old[key], key
    assert rebuilt.fitted_on == committed.fitted_on and rebuilt.simulation == committed.simulation
    for statistic in DISTRIBUTIONS:
        for key in ("mean_real", "mean_simulated", "ks"):
            assert rebuilt.comparison[statistic][key] == pytest.approx(committed.comparison[statistic][key], rel=1e-6)
    assert rebuilt.comparison["event_mix"] == committed.comparison["event_mix"]
