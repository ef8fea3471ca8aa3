"""The summaries of simlab.amm.metrics against direct computation: means, normal intervals, CVaR and its bootstrap."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy.stats import norm

from simlab.amm.engine import METRICS
from simlab.amm.metrics import N_BOOTSTRAP, cvar, summarise
from simlab.errors import ParameterError


def test_cvar_is_the_mean_of_the_worst_share():
    values = np.arange(1.0, 201.0)[::-1]  # 200 P&Ls, 200 down to 1: cvar sorts them
    assert cvar(values, 0.05) == pytest.approx(np.mean(np.arange(1.0, 11.0)), rel=1e-15)  # the 10 worst
    assert cvar(values, 0.01) == pytest.approx(1.5, rel=1e-15)  # the 2 worst
    assert cvar(values[:50], 0.01) == pytest.approx(151.0, rel=1e-15)  # at least one value: the worst of 200..151
    with pytest.raises(ParameterError, match=r"`level` of cvar must be in \(0, 1\]; got 0.0"):
        cvar(values, 0.0)


def test_summary_means_intervals_and_cvar_match_direct_computation():
    rng = np.random.default_rng(9)
    raw = rng.normal(size=(2, 1, 400, len(METRICS))) * np.arange(1, len(METRICS) + 1)
    values = xr.DataArray(raw, dims=("design", "parameter", "path", "metric"), coords={"metric": list(METRICS)})
    out = summarise(values, seed=4)
    half = norm.ppf(0.975) * raw.std(axis=2, ddof=1) / np.sqrt(400)
    assert np.allclose(out["mean"].values, raw.mean(axis=2), rtol=1e-13, atol=0)
    assert np.allclose(out["ci_high"].values - out["mean"].values, half, rtol=1e-12, atol=0)
    pnl = raw[..., METRICS.index("lp_pnl")]
    worst = np.sort(pnl, axis=-1)
    assert np.allclose(out["cvar_5"].values, worst[..., :20].mean(axis=-1), rtol=1e-13, atol=0)
    assert np.allclose(out["cvar_1"].values, worst[..., :4].mean(axis=-1), rtol=1e-13, atol=0)
    # the bootstrap interval of the 5% CVaR: the 2.5% and 97.5% quantiles of the CVaR of N_BOOTSTRAP resamples
    resample = np.random.default_rng(4).integers(0, 400, size=(N_BOOTSTRAP, 400))
    boot = np.sort(pnl[0, 0][resample], axis=-1)[:, :20].mean(axis=-1)
    assert out["cvar_5_ci_low"].values[0, 0] == pytest.approx(np.quantile(boot, 0.025), rel=1e-13)
    assert out["cvar_5_ci_high"].values[0, 0] == pytest.approx(np.quantile(boot, 0.975), rel=1e-13)
    assert np.array_equal(summarise(values, seed=4)["cvar_1_ci_low"].values, out["cvar_1_ci_low"].values)
