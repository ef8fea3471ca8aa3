"""Hawkes calibration: exact maximum likelihood, standard errors and goodness of fit."""

from calibration.hawkes.gof import KSResult, bootstrap_ks_pvalue, ks_test, poisson_gain, qq_data, time_rescaling
from calibration.hawkes.mle import (
    HawkesMLE,
    NonStationaryFitError,
    NonStationaryFitWarning,
    log_likelihood,
    prepare_events,
)

__all__ = [
    "HawkesMLE",
    "KSResult",
    "NonStationaryFitError",
    "NonStationaryFitWarning",
    "bootstrap_ks_pvalue",
    "ks_test",
    "log_likelihood",
    "poisson_gain",
    "prepare_events",
    "qq_data",
    "time_rescaling",
]
