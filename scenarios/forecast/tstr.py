"""Train on synthetic, test on real (TSTR): does a preset calibrated to the training window teach a forecaster?

The real series is cut into a training block (the first ``train_fraction`` of its windows) and a later test block
(after an embargo). A Hawkes process is fitted on the training block's events (the calibration step); each
forecaster is then trained on the real block (TRTR), on ``synthetic_s`` seconds simulated from the fitted process
(TSTR), and on both, and tested on the same real block. The ratio TSTR / TRTR of the test R^2 (and of the MSE)
says how much of the real-data skill the synthetic data carries.
"""

from __future__ import annotations

import copy
import warnings
from typing import Any

import numpy as np

from calibration.hawkes import HawkesMLE
from scenarios.forecast.data import FlowSeries, series_from_events, simulate_series
from scenarios.forecast.forecasters import Forecaster
from scenarios.forecast.hawkes_models import DEFAULT_DECAYS, _training_realizations
from scenarios.forecast.metrics import regression_scores
from scenarios.forecast.protocol import streams
from simlab.errors import DataError
from simlab.random import RandomLike


def _join(synthetic: FlowSeries, real: FlowSeries) -> FlowSeries:
    """One series of the synthetic span followed by the real segments (clocks shifted so that they follow)."""
    shift = synthetic.spans_s[-1, 1] - real.spans_s[0, 0]
    mine, theirs = synthetic.times_s >= 0, real.times_s >= real.spans_s[0, 0]  # no burn-in history
    times = np.r_[synthetic.times_s[mine], real.times_s[theirs] + shift]
    dims = np.r_[synthetic.dims[mine], real.dims[theirs]]
    spans = np.r_[synthetic.spans_s, real.spans_s + shift]
    return series_from_events(
        times, dims, spans, bin_s=real.bin_s, horizon_s=real.window_s, threshold=real.threshold, name="joined"
    )


def train_synthetic_test_real(
    real: FlowSeries,
    models: list[Forecaster],
    *,
    rng: RandomLike,
    train_fraction: float = 0.6,
    synthetic_s: float = 3600.0,
) -> dict[str, Any]:
    """Return per model the test R^2 and MSE when trained on real, synthetic and both, and the TSTR/TRTR ratios."""
    lags = max(m.lags for m in models)
    usable = np.flatnonzero(real.first_in_segment(lags))
    cut = int(usable.size * train_fraction)
    train, test = usable[:cut], usable[cut:][usable[cut:] > usable[cut - 1] + 1 + lags]
    if train.size < 50 or test.size < 20:
        raise DataError(f"series {real.name!r}: {usable.size} usable windows are too few for a TSTR split")
    fit_rng, sim_rng, *model_rngs = streams(rng, 2 + 3 * len(models))
    realizations, ends = _training_realizations(real, train)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        params = HawkesMLE(list(DEFAULT_DECAYS), rng=fit_rng).fit(realizations, ends, names=("buy", "sell")).params_
    synthetic = simulate_series(params, synthetic_s, rng=sim_rng, bin_s=real.bin_s, horizon_s=real.window_s)
    joined = _join(synthetic, real)
    offset = synthetic.size
    synthetic_train = np.flatnonzero(joined.first_in_segment(lags) & (joined.segment == 0))
    sources = {
        "real": (real, train, 0),
        "synthetic": (joined, synthetic_train, offset),
        "both": (joined, np.r_[synthetic_train, train + offset], offset),
    }
    out: dict[str, Any] = {"calibrated_branching_ratio": params.branching_ratio, "models": {}}
    actual = real.ofi[test]
    for m, model in enumerate(models):
        row = {}
        for s, (name, (series, rows, shift)) in enumerate(sources.items()):
            fitted = copy.deepcopy(model).fit(series, rows, model_rngs[3 * m + s])
            forecast = fitted.predict(series, test + shift).ofi
            scores = regression_scores(actual, forecast, np.full(test.size, real.ofi[train].mean()))
            row[f"r2_{name}"], row[f"mse_{name}"] = scores["r2"], scores["mse"]
        row["tstr_trtr_r2"] = row["r2_synthetic"] / row["r2_real"] if row["r2_real"] != 0 else np.nan
        row["tstr_trtr_mse"] = row["mse_synthetic"] / row["mse_real"]
        out["models"][model.name] = row
    return out
