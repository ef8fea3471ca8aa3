"""Metaorder impact with common random numbers: no impact before the metaorder, a buy pushes the mid up, the
metaorder is executed whole, and the fit's exponent comes with its interval."""

from __future__ import annotations

import numpy as np
import pytest

from simlab.agents import ValueAgents
from simlab.agents.impact import metaorder_impact
from simlab.errors import ParameterError
from tests.simlab.agents.conftest import small_config


def test_metaorder_impact_mechanics():
    config = small_config(session_s=1800.0)
    result = metaorder_impact(
        config, np.array([0.01, 0.3]), seeds=[1, 2], start_s=300.0, duration_s=600.0, after_s=300.0, interval_s=20.0
    )
    impact = result["impact_bps"].values
    assert impact.shape == (2, 2, 91)  # 300 s to 1200 s every 10 s
    np.testing.assert_array_equal(impact[:, :, 0], 0.0)  # the same market until the first child order
    target = np.rint(result["fraction"].values[None, :] * result["volume_lots"].values[:, None])
    np.testing.assert_array_equal(result["executed_lots"].values, target)
    np.testing.assert_array_equal(result["peak_bps"].values, impact[:, :, 60])  # the end, 600 s after the start
    np.testing.assert_array_equal(result["after_bps"].values, impact[:, :, -1])  # 300 s later
    np.testing.assert_array_equal(result["completion_s"].values, 600.0)
    assert (result["peak_bps"].values[:, 1] > 0).all()  # buying 30 % of the day's volume lifts the mid
    low, high = result.attrs["exponent_low"], result.attrs["exponent_high"]
    assert low <= result.attrs["exponent"] <= high or result.attrs["fractions_fitted"] < 2


def test_bad_fractions():
    with pytest.raises(ParameterError, match=r"`fractions` of metaorder_impact must be >= 2 numbers in \(0, 1\)"):
        metaorder_impact(small_config(), np.array([0.5, 1.5]), seeds=[1])


def test_pov_metaorder_participates_in_the_baseline_volume():
    config = small_config(session_s=1800.0)
    args = dict(seeds=[3], start_s=300.0, duration_s=600.0, after_s=300.0, interval_s=20.0)
    pov = metaorder_impact(config, np.array([0.01, 0.2]), strategy="pov", **args)
    twap = metaorder_impact(config, np.array([0.01, 0.2]), **args)
    assert pov.attrs["strategy"] == "pov" and twap.attrs["strategy"] == "twap"
    np.testing.assert_array_equal(pov["volume_lots"].values, twap["volume_lots"].values)  # the same baseline
    np.testing.assert_array_equal(pov["impact_bps"].values[:, :, 0], 0.0)
    target = np.rint(pov["fraction"].values * pov["volume_lots"].values[0])
    executed = pov["executed_lots"].values[0]
    assert (executed <= target).all() and (executed > 0).all()
    assert not np.array_equal(pov["impact_bps"].values, twap["impact_bps"].values)  # another schedule
    with pytest.raises(ParameterError, match=r"`strategy` of metaorder_impact must be 'twap' or 'pov'; got 'vwap'"):
        metaorder_impact(config, np.array([0.01, 0.2]), strategy="vwap", **args)


def test_the_baseline_runs_to_the_metaorders_end():
    # value agents forecast to the run's end; with a strong mean reversion a whole-day baseline would differ from the
    # metaorder's shorter runs long before the metaorder starts
    config = small_config(session_s=1800.0, value=ValueAgents(count=12, arrival_rate_per_s=0.05,
                                                              mean_reversion_per_s=2e-3))  # fmt: skip
    result = metaorder_impact(config, np.array([1e-4, 1e-3]), seeds=[1, 2], start_s=400.0, duration_s=200.0,
                              after_s=100.0, interval_s=20.0)  # fmt: skip
    np.testing.assert_array_equal(result["impact_bps"].values[:, :, 0], 0.0)  # the same market until the start
    assert (result["executed_lots"].values > 0).all()


def test_pov_participation_is_sized_on_the_paired_baseline(monkeypatch):
    # the POV agent's participation is Q / (Q + v) with v the window's volume in the baseline run to the metaorder
    # runs' end; with value agents that forecast to the run's end the whole day's window volume differs from it
    from dataclasses import replace

    import simlab.agents.impact as impact
    from simlab.agents import ExecutionAgents, simulate_abm

    config = small_config(session_s=1800.0, value=ValueAgents(count=12, arrival_rate_per_s=0.05,
                                                              mean_reversion_per_s=2e-3))  # fmt: skip
    seen = []

    def spy(**kwargs):
        seen.append(kwargs)
        return ExecutionAgents(**kwargs)

    monkeypatch.setattr(impact, "ExecutionAgents", spy)
    result = impact.metaorder_impact(config, np.array([1e-3, 1e-2]), seeds=[1], strategy="pov", start_s=400.0,
                                     duration_s=200.0, after_s=100.0, interval_s=20.0)  # fmt: skip
    idle = replace(config, execution=ExecutionAgents(count=0))
    lo, hi = config.open_ns + 400 * 10**9, config.open_ns + 600 * 10**9

    def window_volume(duration_s):
        ev = simulate_abm(idle, seed=1, duration_s=duration_s)["events"]
        ts, kind, qty = (ev[name].values for name in ("ts_ns", "kind", "qty_lots"))
        return int(qty[(kind == 5) & (ts >= lo) & (ts < hi)].sum())

    paired, whole = window_volume(700.0), window_volume(None)
    assert paired != whole  # the test would not tell the two apart otherwise
    runs = [k for k in seen if k.get("count") == 1]
    assert len(runs) == 2
    for k in runs:
        assert k["participation"] == pytest.approx(k["quantity_lots"] / (k["quantity_lots"] + paired))
    # the result records what the agent was given, so a sizing fault shows in the output
    assert int(result["window_volume_lots"].values[0]) == paired
    np.testing.assert_allclose(result["participation"].values[0], [k["participation"] for k in runs])


@pytest.mark.parametrize("side", [1, -1])
def test_pov_at_a_fixed_participation_reads_the_peak_when_the_metaorder_is_done(monkeypatch, side):
    # the textbook POV: every metaorder at one participation, so a larger one takes longer; its peak is read at the
    # first path sample at which it is done, found here from the trades themselves, not from the inventory path
    from dataclasses import replace

    import simlab.agents.impact as impact
    from simlab.agents import ExecutionAgents, simulate_abm

    config = small_config(session_s=1800.0)
    seen = []

    def spy(**kwargs):
        seen.append(kwargs)
        return ExecutionAgents(**kwargs)

    monkeypatch.setattr(impact, "ExecutionAgents", spy)
    args = dict(seeds=[3], start_s=300.0, duration_s=900.0, after_s=200.0, interval_s=20.0, strategy="pov", side=side)
    result = impact.metaorder_impact(config, np.array([0.01, 0.06]), participation=0.25, **args)
    runs = [k for k in seen if k.get("count") == 1]
    assert [k["participation"] for k in runs] == [0.25, 0.25] and {k["duration_s"] for k in runs} == {900.0}
    volume = int(result["volume_lots"].values[0])
    target = np.rint(result["fraction"].values * volume)
    np.testing.assert_array_equal(result["executed_lots"].values[0], target)  # both done before the cap
    np.testing.assert_array_equal(result["executed_at_end_lots"].values[0], target)
    completion = result["completion_s"].values[0]
    assert 0 < completion[0] < completion[1] < 900.0  # six times the lots take longer at the same rate
    for j, k in enumerate(runs):
        run = simulate_abm(replace(config, execution=ExecutionAgents(**k)), seed=3, duration_s=1400.0,
                           path_sample_ns=10**10)  # fmt: skip
        me = int(run["execution"]["agent_id"].values[0])
        ev = run["events"]
        mine = (ev["kind"].values == 5) & ((ev["agent_id"].values == me) | (ev["passive_agent_id"].values == me))
        filled = np.cumsum(ev["qty_lots"].values[mine])
        done_ns = ev["ts_ns"].values[mine][np.searchsorted(filled, k["quantity_lots"])]
        sample = int(np.searchsorted(run["paths"]["ts_ns"].values, done_ns))  # the first sample at or after it
        assert completion[j] == (sample - 30) * 10.0  # samples every 10 s from the open; the start is sample 30
        path = result["impact_bps"].values[0, j]
        assert result["peak_bps"].values[0, j] == path[sample - 30]
        assert result["after_bps"].values[0, j] == path[sample - 30 + 20]  # after_s = 200 s later
    assert result.attrs["fixed_participation"] == 0.25
    twap = impact.metaorder_impact(config, np.array([0.01, 0.06]), **{**args, "strategy": "twap"})
    np.testing.assert_array_equal(twap["completion_s"].values, 900.0)  # a schedule ends at its end
    assert twap.attrs["fixed_participation"] == -1.0


def test_a_fixed_rate_metaorder_not_done_by_the_cap_is_read_at_the_cap():
    # 30 % of the day's volume at 5 % cannot finish in 300 s: read at the cap, and the child resting there may still
    # fill later, which executed_lots counts and executed_at_end_lots does not
    config = small_config(session_s=1800.0)
    result = metaorder_impact(config, np.array([1e-3, 0.3]), seeds=[2], start_s=300.0, duration_s=300.0,
                              after_s=200.0, interval_s=20.0, strategy="pov", participation=0.05)  # fmt: skip
    target = np.rint(result["fraction"].values * result["volume_lots"].values[0])
    assert result["completion_s"].values[0, 1] == 300.0
    path = result["impact_bps"].values[0, 1]
    assert result["peak_bps"].values[0, 1] == path[30] and result["after_bps"].values[0, 1] == path[50]
    at_end, executed = result["executed_at_end_lots"].values[0, 1], result["executed_lots"].values[0, 1]
    assert at_end <= executed < target[1]
    assert result["completion_s"].values[0, 0] < 300.0  # the small one is done before


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(strategy="twap", participation=0.2), r"`participation` of metaorder_impact applies to strategy 'pov'"),
        (dict(strategy="pov", participation=1.0), r"`participation` of metaorder_impact must be a number in \(0, 1\)"),
        (dict(strategy="pov", participation=True), r"must be a number in \(0, 1\); got True"),
        (dict(strategy="pov", participation=0.2, start_s=305.0), r"`start_s` of metaorder_impact must be a multiple"),
        (dict(strategy="pov", participation=0.2, after_s=215.0), r"`after_s` .* sample_s \(10.0\) .*; got 215.0"),
    ],
)
def test_bad_fixed_participation(kwargs, message):
    with pytest.raises(ParameterError, match=message):
        metaorder_impact(small_config(), np.array([0.01, 0.1]), seeds=[1], **kwargs)


def test_the_lean_recording_gives_the_full_recordings_impact(monkeypatch):
    # metaorder_impact records one book level on the paths' grid; with every run recording the whole book after
    # every event instead, every output is the same
    import xarray as xr

    import simlab.agents.impact as impact
    from simlab.agents import simulate_abm

    args = dict(seeds=[3], start_s=300.0, duration_s=600.0, after_s=200.0, interval_s=20.0)
    lean = impact.metaorder_impact(small_config(session_s=1800.0), np.array([0.01, 0.1]), **args)
    lean_pov = impact.metaorder_impact(small_config(session_s=1800.0), np.array([0.01, 0.1]), strategy="pov",
                                       participation=0.25, **args)  # fmt: skip
    seen = []

    def full(config, **kwargs):
        seen.append(dict(kwargs))
        kwargs.pop("depth"), kwargs.pop("sample_ns")
        return simulate_abm(config, **kwargs)

    monkeypatch.setattr(impact, "simulate_abm", full)
    config, fractions = small_config(session_s=1800.0), np.array([0.01, 0.1])
    xr.testing.assert_identical(impact.metaorder_impact(config, fractions, **args), lean)
    pov = impact.metaorder_impact(config, fractions, strategy="pov", participation=0.25, **args)
    xr.testing.assert_identical(pov, lean_pov)
    assert seen and all(k["depth"] == 1 and k["sample_ns"] == 10**10 for k in seen)


def test_a_sample_spacing_of_zero_is_refused():
    with pytest.raises(ParameterError, match=r"`sample_s` of metaorder_impact must be > 0 seconds; got 0.0"):
        metaorder_impact(small_config(), np.array([0.01, 0.1]), seeds=[1], strategy="pov", participation=0.2,
                         sample_s=0.0)  # fmt: skip
