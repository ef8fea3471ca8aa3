"""Parametric baselines on a generator's held-out span: shipped presets simulated over the same span, same seed.

A generator is scored against the held-out test span of its training spec (:mod:`scenarios.generate.heldout`).
The parametric presets are scored the same way: each path is simulated for the same duration from the held-out
span's start and scored against the whole span with the same scorecard seed. Two kinds of preset are simulated:

* **book presets** (``calibration/presets/{zi,qr,hawkes}-*.toml``: zero-intelligence, queue-reactive,
  Hawkes-driven books), with :func:`calibration.book_presets.simulate_book_preset` started at the span's start
  (``depth`` levels recorded; a queue-reactive book records its own ``K``);
* **agent-based market presets** (``calibration/presets/abm-*.toml``): :func:`simlab.agents.simulate_abm` from
  the day's open (the first real event of the spec's data) to the window's end, with the window
  ``[span start, span start + duration)`` cut out, as :func:`calibration.abm.score_abm_preset` cuts its fitted
  window out of a simulated day. So the market has run through the day up to the span, as the real one had.

The presets' own fits may have seen the span: qr-amzn and zi-amzn were fitted on the whole AMZN day, while
abm-amzn-v2 was fitted on 12:00-12:30. :func:`fitted_on` says what each preset was fitted on, so a report can say
whether the span was out of sample for it.
"""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from simlab.errors import ParameterError

PRESET_DIR = Path(__file__).resolve().parents[2] / "calibration" / "presets"


def baseline_kind(name: str) -> str:
    """Return ``"book"`` or ``"abm"`` for a shipped preset name; refuse any other name with the known ones."""
    from calibration.book_presets import list_book_presets

    if name in list_book_presets():
        return "book"
    path = PRESET_DIR / f"{name}.toml"
    if path.is_file() and "preset" not in tomllib.loads(path.read_text()) and name.startswith("abm"):
        return "abm"
    known = sorted([*list_book_presets(), *(p.stem for p in PRESET_DIR.glob("abm*.toml"))])
    raise ParameterError(f"--presets: unknown preset {name!r}; expected one of {known}")


def fitted_on(name: str) -> dict[str, Any]:
    """Return where preset ``name`` was fitted: its files and, when known, the start and duration of the window."""
    if baseline_kind(name) == "book":
        from calibration.book_presets import load_book_preset

        table = load_book_preset(name).fitted_on
        return {key: table[key] for key in ("files", "start", "end", "duration_s") if key in table}
    from calibration.abm import load_abm_preset

    _, calibration = load_abm_preset(PRESET_DIR / f"{name}.toml")
    source = calibration.get("source", {})
    return {key: source[key] for key in ("files", "start_s", "duration_s") if key in source}


def simulate_baseline(
    name: str, *, open_ns: int, start_ns: int, duration_s: float, seed: int, depth: int = 10
) -> dict[str, xr.Dataset]:
    """Simulate preset ``name`` over ``[start_ns, start_ns + duration_s)``; return ``{"events", "books"}``.

    Parameters
    ----------
    name
        A shipped book preset or agent-based market preset (see the module docstring).
    open_ns
        The day's open (ns since the epoch): an agent-based market runs from it.
    start_ns, duration_s
        The span to simulate (the held-out span's start; seconds).
    seed
        The simulation's seed.
    depth
        Book levels recorded.
    """
    if duration_s <= 0 or start_ns < open_ns:
        raise ParameterError(
            f"simulate_baseline: need duration_s > 0 and start_ns >= open_ns; got {duration_s} s, {start_ns} < "
            f"{open_ns}"
        )
    if baseline_kind(name) == "book":
        from calibration.book_presets import load_book_preset, simulate_book_preset

        return simulate_book_preset(load_book_preset(name), duration_s, rng=seed, start_ns=start_ns, depth=depth)
    from calibration.abm import cut_window, load_abm_preset
    from simlab.agents import simulate_abm

    config, _ = load_abm_preset(PRESET_DIR / f"{name}.toml")
    end_ns = start_ns + int(round(duration_s * 1e9))
    config = replace(config, open_ns=int(open_ns))
    day = simulate_abm(config, seed=seed, duration_s=(end_ns - open_ns) / 1e9, depth=depth)
    window = cut_window(day, start_ns, end_ns)
    for group in window.values():
        group.attrs["initial_orders"] = 0  # the day's opening orders are long before the window
        group.attrs["window_ns"] = [int(start_ns), int(end_ns)]
    if window["events"].sizes["event"] < 2:
        raise ParameterError(f"preset {name}: {window['events'].sizes['event']} events in the window; need >= 2")
    return window


def span_start(span: dict[str, xr.Dataset]) -> int:
    """Return the time (ns) of a span's first event."""
    return int(np.asarray(span["events"]["ts_ns"].values)[0])
