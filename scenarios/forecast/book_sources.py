"""Synthetic book series for train-on-synthetic runs: the Hawkes-driven book presets, the agent-based market and a
generator's sampled store, each as a :class:`~scenarios.forecast.books.BookSeries` (one book row per event).

* :func:`book_preset_series`: ``duration_s`` seconds of a book preset (``hawkes-aapl``, or any ``zi-*`` / ``qr-*``)
  simulated by :func:`calibration.book_presets.simulate_book_preset` with ``depth`` levels; a queue-reactive
  preset's transient rebuild rows are collapsed (:func:`~scenarios.forecast.book_tstr.collapse_rebuilds`);
* :func:`hawkes_refit_series`: ``duration_s`` seconds of a Hawkes-driven book preset's recipe refitted on the rows
  of its real data before a cut only (:func:`calibration.book_refit.refit_hawkes_preset`), with the fit's
  provenance: the leak-free source for a run that tests on the same data after the cut;
* :func:`abm_series`: ``duration_s`` seconds of the agent-based market (:func:`simlab.agents.simulate_abm`) from a
  library or preset config (e.g. ``calibration/presets/abm-amzn.toml``), the book after every event record;
* :func:`store_series`: the ``events`` / ``books`` groups of a store with one book row per event, e.g. the output
  of ``simlab generate sample`` (path p > 0 is the groups ``events_{p:04d}`` / ``books_{p:04d}``).

Rows whose time runs backwards would break the horizons in seconds; a series must have non-decreasing ``ts_ns``
(every source here writes them so) and the adapters check it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from scenarios.forecast.books import BookSeries, from_books
from simlab.errors import DataError, ParameterError


def _checked(series: BookSeries) -> BookSeries:
    if series.size < 2 or np.any(np.diff(series.ts_ns) < 0):
        raise DataError(f"synthetic series {series.name!r}: needs >= 2 rows in time order; got {series.size} rows")
    return series


def book_preset_series(name: str, duration_s: float, *, rng: int, depth: int = 10) -> BookSeries:
    """Return ``duration_s`` seconds of the book preset ``name`` (see the module docstring), ``depth`` levels."""
    from calibration.book_presets import load_book_preset, simulate_book_preset
    from scenarios.forecast.book_tstr import collapse_rebuilds

    preset = load_book_preset(name)
    sim = simulate_book_preset(preset, duration_s, rng=rng, depth=depth)
    series = from_books(f"preset:{preset.name}", sim["books"], sim["events"])
    return _checked(collapse_rebuilds(series) if preset.model == "qr" else series)


def hawkes_refit_series(
    name: str, data_dir: str | Path, end_ns: int, duration_s: float, *, rng: int, depth: int = 10
) -> tuple[BookSeries, dict[str, Any]]:
    """Return ``duration_s`` seconds of the Hawkes-driven book preset ``name`` refitted on the rows of its data
    (under ``data_dir``) before ``end_ns`` only, ``depth`` levels, and the refit's provenance (module docstring)."""
    from calibration.book_refit import refit_hawkes_preset
    from simlab.book.hawkes_book import simulate_hawkes_book

    params, info = refit_hawkes_preset(name, data_dir, end_ns)
    sim = simulate_hawkes_book(params, duration_s, rng=rng, depth=depth, start_ns=info["first_ns"])
    return _checked(from_books(f"hawkes-refit:{name}", sim["books"], sim["events"])), info


def abm_series(config: Any, duration_s: float, *, seed: int, depth: int = 10) -> BookSeries:
    """Return ``duration_s`` seconds of the agent-based market ``config`` (a :class:`simlab.agents.MarketConfig`, or
    the path of an ABM preset or library spec TOML), seeded by ``seed``, ``depth`` levels (module docstring)."""
    from calibration.abm import load_abm_preset
    from simlab.agents import simulate_abm

    if isinstance(config, (str, Path)):
        config, _ = load_abm_preset(Path(config))
    sim = simulate_abm(config, seed=seed, duration_s=duration_s, depth=depth)
    return _checked(from_books(f"abm:{config.name}", sim["books"], sim["events"]))


def abm_calibration_span(path: str | Path, real_files: list[Path], first_ns: int, cut_ns: int) -> dict[str, Any]:
    """Return where the ABM preset ``path`` was calibrated, set against a TSTR cut on the real series read from
    ``real_files`` (first event at ``first_ns``): a preset calibrated on a window of the same data that reaches
    ``cut_ns`` or later (the test span) is refused with our ParameterError; otherwise the window is returned for
    the run's provenance (``before_cut``), or ``same_data`` False when it was calibrated on other data."""
    from calibration.abm import load_abm_preset

    _, calibration = load_abm_preset(Path(path))
    source = calibration.get("source")
    if not source:
        return {"calibrated_on": None}
    folders = {Path(f).name for f in source["files"]}
    if not any(Path(f).parent.name in folders or Path(f).name in folders for f in real_files):
        return {"calibrated_on": source["files"], "same_data": False}
    start = int(first_ns) + int(round(source["start_s"] * 1e9))
    end = start + int(round(source["duration_s"] * 1e9))
    if end > cut_ns:
        raise ParameterError(
            f"abm preset {path}: calibrated on [{start}, {end}) ns of the same data, which reaches the TSTR test span "
            f"(cut at {cut_ns} ns); recalibrate it on a window before the cut or lower tstr_train_fraction"
        )
    return {"calibrated_on": source["files"], "same_data": True, "window_ns": [start, end], "cut_ns": int(cut_ns),
            "before_cut": True}  # fmt: skip


def store_series(path: str | Path, *, paths: int = 1) -> list[BookSeries]:
    """Return the first ``paths`` event-and-book paths of a store (``events`` / ``books``, then ``events_0001`` /
    ``books_0001`` ...), each a :class:`BookSeries`; a missing group is our DataError naming it."""
    from simlab.store import list_groups, load_store

    if paths < 1:
        raise ParameterError(f"`paths` of store_series must be >= 1; got {paths}")
    groups = list_groups(path)
    out = []
    for p in range(paths):
        suffix = "" if p == 0 else f"_{p:04d}"
        if f"events{suffix}" not in groups or f"books{suffix}" not in groups:
            raise DataError(
                f"store {path}: expected groups events{suffix} and books{suffix} (path {p}); found {groups}"
            )
        events, books = load_store(path, f"events{suffix}"), load_store(path, f"books{suffix}")
        out.append(_checked(from_books(f"store:{Path(path).name}:{p}", books, events)))
    return out
