"""The impact summary of calibration/abm_impact.py: per-size means and standard errors over seeds, executed shares
and the fit, from a small market's metaorders."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.abm_impact import absorption, decay_profile, impact_summary, power_law_fit
from simlab.agents.impact import metaorder_impact
from simlab.errors import DataError
from tests.simlab.agents.conftest import small_config


def test_impact_summary_of_a_small_market():
    result = metaorder_impact(small_config(session_s=1800.0), np.array([0.01, 0.3]), seeds=[1, 2, 3], start_s=300.0,
                              duration_s=600.0, after_s=300.0, interval_s=20.0, strategy="pov")  # fmt: skip
    summary = impact_summary(result)
    peak = result["peak_bps"].values
    assert summary["strategy"] == "pov" and summary["seeds"] == 3
    np.testing.assert_allclose(summary["peak_bps"], peak.mean(axis=0))
    np.testing.assert_allclose(summary["peak_se_bps"], peak.std(axis=0, ddof=1) / np.sqrt(3))
    np.testing.assert_allclose(summary["after_bps"], result["after_bps"].values.mean(axis=0))
    assert all(0 < share <= 1 for share in summary["executed_share"])
    assert summary["exponent"] == pytest.approx(result.attrs["exponent"]) or np.isnan(summary["exponent"])
    assert summary["window"] == {"start_s": 300.0, "duration_s": 600.0, "after_s": 300.0}


@pytest.mark.parametrize("delta", [0.5, 1.5])
def test_power_law_fit_recovers_the_exponent(delta):
    fractions = np.geomspace(1e-4, 1e-1, 7)
    rng = np.random.default_rng(4)
    peak = 300.0 * (fractions / 0.1) ** delta + rng.normal(0.0, 10.0, size=(64, 7))  # some sizes' means < 0
    law = power_law_fit(fractions, peak, draws=200)
    low, high = law["delta_interval_95"]
    assert low <= delta <= high and high - low < 0.5
    assert law["Y_bps"] == pytest.approx(300.0 * 0.1**-delta, rel=0.3)
    if delta == 0.5:  # the square-root law fits data made by it, ...
        assert law["p_sqrt_law"] > 0.01 and law["p_band"] > 0.01
    else:  # ... and is rejected on convex data
        assert law["p_sqrt_law"] < 1e-6 and law["p_band"] < 1e-6


def test_power_law_fit_needs_spread_over_seeds():
    with pytest.raises(DataError, match="power_law_fit needs a standard error > 0 at every size"):
        power_law_fit(np.array([0.01, 0.1]), np.ones((4, 2)))


def test_decay_profile_reads_the_impact_after_the_end():
    result = metaorder_impact(small_config(session_s=1800.0), np.array([0.01, 0.3]), seeds=[1, 2], start_s=300.0,
                              duration_s=600.0, after_s=300.0, interval_s=20.0)  # fmt: skip
    decay = decay_profile(result, lags_s=(0.0, 300.0, 600.0))
    assert decay["lags_s"] == [0.0, 300.0]  # lags past after_s are left out
    impact = result["impact_bps"].values  # every 10 s from the start: the end is column 60, 300 s later 90
    np.testing.assert_allclose(decay["mean_bps"], impact[:, :, [60, 90]].mean(axis=0))
    np.testing.assert_allclose(np.array(decay["mean_bps"])[:, 0], result["peak_bps"].values.mean(axis=0))


def test_absorption_shares_are_conserved():
    config = small_config(session_s=1200.0)
    got = absorption(config, np.array([0.02, 0.2]), [1, 2], start_s=200.0, duration_s=300.0, interval_s=20.0)
    share = np.array(got["share_mean"])
    assert got["classes"] == ["noise", "value", "market_maker", "momentum"] and share.shape == (2, 4)
    np.testing.assert_allclose(share.sum(axis=1), -np.array(got["executed_share"]))  # shares are conserved
    assert 0 < min(got["executed_share"]) <= max(got["executed_share"]) <= 1
    assert np.isfinite(np.array(got["share_se"])).all()
    # the trades in the window, passive plus aggressive, are each class's inventory change (the runs are equal
    # before the metaorder), and the execution agent's are the lots it bought
    assert got["flow_classes"] == ["noise", "value", "market_maker", "momentum", "execution"]
    sold = np.array(got["passive_sold_share"]) + np.array(got["aggressive_sold_share"])
    np.testing.assert_allclose(sold[:, :4], -share, atol=1e-12)
    np.testing.assert_allclose(sold[:, 4], -np.array(got["executed_share"]), atol=1e-12)
    assert (np.array(got["maker_short_share"]) >= 0).all() and [r["seed"] for r in got["per_seed"]] == [1, 2]
    assert np.isfinite(got["spread_ticks"]).all() and np.isfinite(got["baseline_ask_depth_lots"])


def test_absorb_cli_takes_its_seeds_and_saves_each_seed(tmp_path, monkeypatch):
    import json

    import calibration.abm_impact as abm_impact

    seen = []

    def fake_absorption(config, fractions, seeds, *, on_seed):
        seen.append(seeds)
        for k in range(len(seeds)):
            on_seed({"per_seed": seeds[: k + 1]})
        return {"per_seed": seeds, "fractions": list(fractions)}

    monkeypatch.setattr(abm_impact, "absorption", fake_absorption)
    monkeypatch.setattr(abm_impact, "load_abm_preset", lambda path: (None, None))
    out = tmp_path / "absorb.json"
    abm_impact._main(["m.toml", "3", "absorb", "from", "100", "out", str(out)])
    assert seen[-1] == [100, 101, 102] and json.loads(out.read_text()) == {"per_seed": [100, 101, 102]}
    abm_impact._main(["m.toml", "2", "absorb"])
    assert seen[-1] == [0, 1]
    with pytest.raises(DataError, match="absorb takes `from FIRST` and `out FILE.json` after it"):
        abm_impact._main(["m.toml", "2", "absorb", "since", "100"])


def _fake_measure(calls: list):
    """A stand-in for ``measure`` that records its arguments and returns a power law per strategy."""
    law = {"delta": 0.6, "delta_interval_95": [0.5, 0.7], "Y_bps": 1.0, "chi2": 1.0, "chi2_sqrt_law": 2.0,
           "p_sqrt_law": 0.5, "chi2_band": 1.0, "p_band": 0.6, "dof": 6}  # fmt: skip

    def fake_measure(path, n_seeds, *, frozen, first_seed, strategies, **kwargs):
        calls.append((n_seeds, frozen, first_seed, strategies, *([kwargs] if kwargs else [])))
        return {name: {"power_law": law} for name in strategies}

    return fake_measure


def test_one_strategy_alone_is_measured_and_written_to_its_own_file(tmp_path, monkeypatch):
    import json

    import calibration.abm_impact as abm_impact

    calls = []
    monkeypatch.setattr(abm_impact, "measure", _fake_measure(calls))
    preset = tmp_path / "m.toml"
    abm_impact._main([str(preset), "48", "from", "100", "twap"])
    assert calls[-1] == (48, False, 100, ("twap",))
    assert set(json.loads((tmp_path / "m.impact-twap.json").read_text())) == {"twap"}
    assert not (tmp_path / "m.impact.json").exists()
    abm_impact._main([str(preset), "8", "from", "100"])
    assert calls[-1] == (8, False, 100, ("twap", "pov"))
    assert (tmp_path / "m.impact.json").exists()


def test_an_unknown_strategy_is_refused_with_a_sentence():
    from calibration.abm_impact import measure

    with pytest.raises(DataError, match="`strategies` of measure must be a non-empty subset of \\['twap', 'pov'\\]"):
        measure("unused.toml", 2, strategies=("vwap",))


def test_pov_at_one_participation_from_the_command_line(tmp_path, monkeypatch):
    import calibration.abm_impact as abm_impact

    calls = []
    monkeypatch.setattr(abm_impact, "measure", _fake_measure(calls))
    preset = tmp_path / "m.toml"
    abm_impact._main([str(preset), "48", "from", "1000", "pov", ".25"])
    assert calls[-1] == (48, False, 1000, ("pov",), {"participation": 0.25})
    assert (tmp_path / "m.impact-pov-0.25.json").exists() and not (tmp_path / "m.impact-pov.json").exists()
    grammar = r"takes PRESET \[N_SEEDS \[frozen \| absorb ... \| from FIRST \[twap \| pov \[ETA\]\]\]\]; got "
    for argv, message in (
        (["48", "from", "1000", "pov", "1.5"], r"participation ETA must be a number in \(0, 1\); got '1.5'"),
        (["48", "from", "1000", "pov", "a"], r"participation ETA must be a number in \(0, 1\); got 'a'"),
        (["48", "from", "1000", "twap", "0.25"], grammar),
        (["48", "since", "1000"], grammar),
        (["48", "from"], grammar),
        (["48", "frozen", "x"], grammar),
        (["48", "from", "x"], r"FIRST \(after `from`\) must be a seed, an integer >= 0; got 'x'"),
        (["4.5"], r"N_SEEDS \(after PRESET\) must be a count, an integer >= 1; got '4.5'"),
        (["\u00b2"], r"N_SEEDS \(after PRESET\) must be a count"),
        (["2", "absorb", "from", "x"], r"FIRST \(after `from`\) must be a seed, an integer >= 0; got 'x'"),
    ):
        with pytest.raises(DataError, match=message):
            abm_impact._main([str(preset), *argv])
    assert len(calls) == 1
    with pytest.raises(DataError, match=r"abm_impact takes PRESET \[N_SEEDS \.\.\.\]; got no argument"):
        abm_impact._main([])


def test_measure_refuses_a_participation_beside_twap():
    from calibration.abm_impact import measure

    with pytest.raises(DataError, match=r"`participation` of measure needs strategies=\('pov',\) and frozen=False"):
        measure("unused.toml", 2, strategies=("twap", "pov"), participation=0.25)
    with pytest.raises(DataError, match=r"got strategies=\('pov',\), frozen=True"):
        measure("unused.toml", 2, strategies=("pov",), frozen=True, participation=0.25)


def test_measure_runs_pov_at_one_participation_with_the_pages_window(monkeypatch):
    import calibration.abm_impact as abm_impact

    seen = []
    result = metaorder_impact(small_config(session_s=1800.0), np.array([0.01, 0.06]), seeds=[3, 4], start_s=300.0,
                              duration_s=900.0, after_s=200.0, interval_s=20.0, strategy="pov",
                              participation=0.25)  # fmt: skip

    def fake(config, fractions, **kwargs):
        seen.append(kwargs)
        return result

    monkeypatch.setattr(abm_impact, "load_abm_preset", lambda preset: (small_config(), None))
    monkeypatch.setattr(abm_impact, "metaorder_impact", fake)
    document = abm_impact.measure("m.toml", 2, first_seed=1000, strategies=("pov",), participation=0.25)
    # docs/agents_pov_fixed.md: 25 %, capped at 4 h, the defaults' 10:30 start, 30 min after, 30-s slices
    assert seen == [dict(seeds=[1000, 1001], strategy="pov", participation=0.25, duration_s=14400.0)]
    assert abm_impact.FIXED_CAP_S == 14400.0
    import inspect

    defaults = {k: v.default for k, v in inspect.signature(metaorder_impact).parameters.items()}
    assert [defaults[k] for k in ("start_s", "after_s", "interval_s", "sample_s")] == [3600.0, 1800.0, 30.0, 10.0]
    assert document["pov"]["participation"] == 0.25 and set(document) == {"preset", "fundamental", "first_seed", "pov"}


def test_impact_summary_records_when_each_fixed_rate_metaorder_was_done():
    result = metaorder_impact(small_config(session_s=1800.0), np.array([0.01, 0.06]), seeds=[3, 4], start_s=300.0,
                              duration_s=900.0, after_s=200.0, interval_s=20.0, strategy="pov",
                              participation=0.25)  # fmt: skip
    summary = impact_summary(result)
    np.testing.assert_allclose(summary["completion_s"], result["completion_s"].values.mean(axis=0))
    assert summary["executed_at_end_share"] == [1.0, 1.0] and summary["done_share"] == [1.0, 1.0]
    assert summary["completion_s"][0] < summary["completion_s"][1] <= 900.0
    # the decay is read from each metaorder's own end: lag 0 is its peak, lag 200 s its after value
    decay = decay_profile(result, lags_s=(0.0, 200.0))
    np.testing.assert_allclose(np.array(decay["mean_bps"])[:, 0], result["peak_bps"].values.mean(axis=0))
    np.testing.assert_allclose(np.array(decay["mean_bps"])[:, 1], result["after_bps"].values.mean(axis=0))
