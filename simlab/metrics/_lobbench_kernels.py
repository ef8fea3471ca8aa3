"""Numba kernels of the LOB-Bench convention's bootstrap (private; checked against numpy twins in the tests).

Both take the reference's bootstrap draws (``draws[r, i]``: the row drawn as value ``i`` of replicate ``r``) and
count without materialising the resampled samples.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def replicate_counts(codes, valid, draws, n_labels):  # pragma: no cover - compiled
    """Return ``(replicates, n_labels)`` counts of the drawn rows' labels ``codes`` (rows with ``valid`` False,
    the reference's NaN scores, are not counted)."""
    reps, m = draws.shape
    out = np.zeros((reps, n_labels))
    for r in range(reps):
        for i in range(m):
            j = draws[r, i]
            if valid[j]:
                out[r, codes[j]] += 1.0
    return out


@numba.njit(cache=True)
def replicate_w1(grid, codes_a, finite_a, draws_a, codes_b, finite_b, draws_b):  # pragma: no cover - compiled
    """Return the W1 distance ``int |F_a - G_b|`` of each replicate's two resampled samples (values ``grid[codes]``);
    NaN for a replicate that drew a non-finite value."""
    reps, n = draws_a.shape[0], grid.shape[0]
    na, nb = draws_a.shape[1], draws_b.shape[1]
    out = np.empty(reps)
    count_a, count_b = np.zeros(n), np.zeros(n)
    for r in range(reps):
        count_a[:] = 0.0
        count_b[:] = 0.0
        bad = False
        for i in range(na):
            j = draws_a[r, i]
            bad = bad or not finite_a[j]
            count_a[codes_a[j]] += 1.0
        for i in range(nb):
            j = draws_b[r, i]
            bad = bad or not finite_b[j]
            count_b[codes_b[j]] += 1.0
        if bad:
            out[r] = np.nan
            continue
        total, cum_a, cum_b = 0.0, 0.0, 0.0
        for k in range(n - 1):
            cum_a += count_a[k]
            cum_b += count_b[k]
            total += abs(cum_a / na - cum_b / nb) * (grid[k + 1] - grid[k])
        out[r] = total
    return out
