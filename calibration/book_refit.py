"""Refit a Hawkes-driven book preset's recipe on the rows of its data before a time cut (leak-free TSTR sources).

A shipped preset such as ``hawkes-aapl`` was fitted on the whole AAPL hour; a train-on-synthetic / test-on-real run
that tests on the end of that hour would train on a book that has seen its test span. :func:`refit_hawkes_preset`
reads the preset's data as the preset did (:data:`calibration.book_presets.SPECS`: the deep AAPL replay started
from the level-10 row) and refits :class:`calibration.hawkes_book.HawkesBookEstimator`, with the preset's options,
on the rows whose time is before ``end_ns`` only. The event-time process is refitted too: the preset's Hawkes
process (``lobster-aapl-order-flow``) is replaced by a ``HawkesMLE`` with that process's own estimator settings
(:data:`calibration.fit_presets.SPECS`), fitted on the same rows. The laws are not compacted
(:func:`calibration.book_presets.compact_params` only shortens the shipped files).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from simlab.book.hawkes_book import HawkesBookParams
from simlab.errors import DataError, ParameterError


def hawkes_book_before(
    events: xr.Dataset, books: xr.Dataset, end_ns: int, *, options: dict[str, Any], hawkes: Any
) -> tuple[HawkesBookParams, dict[str, Any]]:
    """Fit the Hawkes-driven book on the events (and the books after them) whose ``ts_ns`` is before ``end_ns``.

    Parameters
    ----------
    events, books
        Events in time order and the book after each (row i follows event i).
    end_ns
        The cut (ns since the epoch): no row at or after it is read.
    options
        :class:`HawkesBookEstimator` options other than ``hawkes``.
    hawkes
        The event-time process: a ``HawkesMLE`` to refit on the same rows, or fixed ``HawkesParams``.

    Returns
    -------
    tuple
        The parameters and a provenance dict: ``rows`` fitted, ``first_ns``, ``last_ns`` (the last row read),
        ``end_ns``, the estimator's ``counts`` and ``options``.
    """
    from calibration.hawkes_book import HawkesBookEstimator

    ts = events["ts_ns"].values
    if np.any(np.diff(ts) < 0):
        raise DataError("hawkes_book_before: the events' ts_ns must be non-decreasing")
    rows = int(np.searchsorted(ts, end_ns, side="left"))
    if rows < 3:
        raise DataError(f"hawkes_book_before: {rows} events before the cut {end_ns} ns; need >= 3")
    estimator = HawkesBookEstimator(hawkes=hawkes, **options)
    estimator.fit(events.isel(event=slice(0, rows)), books.isel(time=slice(0, rows)))
    info = {"rows": rows, "first_ns": int(ts[0]), "last_ns": int(ts[rows - 1]), "end_ns": int(end_ns),
            "counts": estimator.counts_, "options": dict(options)}  # fmt: skip
    return estimator.params_, info


def refit_hawkes_preset(name: str, data_dir: str | Path, end_ns: int) -> tuple[HawkesBookParams, dict[str, Any]]:
    """Refit the Hawkes-driven book preset ``name`` (its data, options and event-time estimator) on the rows of its
    data before ``end_ns`` (module docstring); return the parameters and the provenance of the fit (files, rows,
    span, options, the event-time estimator's settings)."""
    from calibration.book_presets import SPECS, _read_real
    from calibration.fit_presets import SPECS as PROCESS_SPECS
    from calibration.fit_presets import _estimator

    books_ = {s.name: s for s in SPECS if s.model == "hawkes"}
    if name not in books_:
        raise ParameterError(f"a Hawkes-driven book refit needs one of the presets {sorted(books_)}; got {name!r}")
    spec = books_[name]
    options = dict(spec.options)
    process = options.pop("hawkes")
    processes = {s.name: s for s in PROCESS_SPECS}
    if process not in processes:
        raise ParameterError(f"preset {name!r}: its event-time process {process!r} has no recipe to refit")
    estimator = _estimator(processes[process])
    files, events, books = _read_real(spec, Path(data_dir))
    params, info = hawkes_book_before(events, books, end_ns, options=options, hawkes=estimator)
    mle = {k: v for k, v in estimator.get_params().items() if k != "decays"}
    info.update(preset=name, files=[str(Path(f).relative_to(data_dir)) for f in files],
                hawkes=f"HawkesMLE refit on the same rows ({process}'s settings: {mle})")  # fmt: skip
    return params, info
