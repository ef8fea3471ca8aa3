"""The sandwich standard errors of calibration/abm.py when a moment is undefined on some simulated paths: each
shifted candidate's moments are averaged over the paths where they exist (before, the plain mean made the Jacobian
NaN and the sandwich stopped in ``LinAlgError: SVD did not converge``)."""

from __future__ import annotations

import numpy as np

from calibration.abm import MOMENTS, AgentMarketEstimator, MomentSet, moments_of, window_blocks
from tests.calibration.test_abm import WARMUP_S, WINDOW_S, market, real_window

KURTOSIS = MOMENTS.index("return_kurtosis")


def odd_trade_count_lacks_kurtosis(blocks: list[dict[str, np.ndarray]]) -> np.ndarray:
    """The LOBSTER moments, with the 1-min kurtosis undefined (NaN) on a window whose trade count is odd: a moment
    that about half the simulated paths of a sparse market do not hold, as the kurtosis of a latent market's visible
    stream."""
    moments = moments_of(blocks)
    if sum(int(b["mix"][2]) for b in blocks) % 2:
        moments[KURTOSIS] = np.nan
    return moments


SPARSE = MomentSet(MOMENTS, window_blocks, odd_trade_count_lacks_kurtosis, (0.0,) * len(MOMENTS))


def test_standard_errors_average_a_moment_over_the_paths_that_hold_it():
    vol = "fundamental.volatility_ticks_per_sqrt_s"
    data = real_window(market(3.0), seed=12345)
    assert np.isfinite(SPARSE.moments(SPARSE.blocks(data, 60.0))).all()  # the real window holds every moment
    est = AgentMarketEstimator(market(4.0), parameters=(vol,), warmup_s=WARMUP_S, window_s=WINDOW_S, n_paths=4, seed=7,
                               n_boot=60, n_lhs=3, maxfev=4, n_sigma_paths=6, moments=SPARSE).fit(data)  # fmt: skip
    # the case the fix is for: a shifted candidate whose kurtosis is missing on some of its paths, not all
    h, z = est.jacobian_step, est.free_estimates_
    shifted = est._candidates([z + h, z - h], est._paths)
    lacking = [int(np.isnan(m[:, KURTOSIS]).sum()) for m in shifted]
    assert any(0 < n < est.n_paths for n in lacking), lacking
    assert est.moments_without_jacobian_ == []
    assert np.isfinite(est.jacobian_).all() and est.jacobian_.shape == (len(est.used_moments_), 1)
    se = est.std_errors_[vol]
    assert np.isfinite(se) and se > 0, se
    # the kurtosis row of the Jacobian is the central difference of its means over the paths that hold it
    means = [np.nanmean(m[:, KURTOSIS]) for m in shifted]
    row = est.used_moments_.index("return_kurtosis")
    assert est.jacobian_[row, 0] == (means[0] - means[1]) / (2 * h)
