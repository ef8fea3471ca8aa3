"""Leakage audit: on synthetic data no forecast that uses only the past can beat the oracle; flag any that does.

The oracle forecasts E[OFI | state], the conditional mean given the whole past, so every honest forecaster's
expected squared error is at least the oracle's. A model whose test MSE is below the oracle's (net of the oracle's
Monte Carlo noise) by more than ``z`` standard errors of the difference (HAC over the test windows) is flagged, with
the margin: it is using information it could not have had at the forecast origin.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scenarios.forecast.metrics import hac_variance
from scenarios.forecast.protocol import ProtocolResult


def leakage_audit(result: ProtocolResult, *, z: float = 3.0) -> list[dict[str, Any]]:
    """Return one row per model: MSE, the oracle's floor, the margin by which the model beats it (MSE units and
    R^2 points), its standard error, the z-score and ``flagged`` (margin > z standard errors).

    Parameters
    ----------
    result
        A protocol run on a synthetic series that includes the oracle.
    z
        Standard errors a margin must exceed to be flagged (3 by default: a false flag per honest model at about
        0.1 % one-sided).
    """
    floor_loss = (result.actual - result.forecasts["oracle"]) ** 2 - result.oracle_noise
    denominator = float(np.mean((result.actual - result.benchmark) ** 2))
    rows = []
    for name, forecast in result.forecasts.items():
        if name == "oracle":
            continue
        gain = floor_loss - (result.actual - forecast) ** 2
        margin = float(gain.mean())
        error = float(np.sqrt(hac_variance(gain) / gain.size))
        rows.append(
            {
                "model": name,
                "honest": result.honest[name],
                "mse": float(np.mean((result.actual - forecast) ** 2)),
                "oracle_floor": float(floor_loss.mean()),
                "margin": margin,
                "margin_r2": margin / denominator,
                "standard_error": error,
                "z": margin / error if error > 0 else np.inf * np.sign(margin),
                "flagged": bool(margin > z * error),
            }
        )
    return rows


def oracle_ceiling(result: ProtocolResult) -> dict[str, float]:
    """Return the closed-form expectation of the oracle's R^2 and the standard error of the oracle's distance to it.

    The oracle's R^2 is the one of the score table (:func:`scenarios.forecast.metrics.regression_scores`:
    1 - SSE / sum (OFI - training mean)^2, the only stored value). Its expectation given the simulated
    conditional variances is ``r2_theory`` = 1 - sum (Var(OFI | state) + Monte Carlo variance) / sum (OFI -
    training mean)^2, over the same test windows and with the same denominator, so the two are comparable;
    ``standard_error`` is the HAC standard error of their difference.
    """
    actual = result.actual
    denominator = float(np.mean((actual - result.benchmark) ** 2))
    expected_loss = result.oracle_variance + result.oracle_noise
    difference = ((actual - result.forecasts["oracle"]) ** 2 - expected_loss) / denominator
    return {
        "r2_theory": float(1 - np.mean(expected_loss) / denominator),
        "standard_error": float(np.sqrt(hac_variance(difference) / difference.size)),
    }
