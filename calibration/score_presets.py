"""Score every shipped preset against the real data it was calibrated on and a window it was not.

For each preset a seeded simulation of the window's span (same start time, same length) is scored with
:func:`simlab.metrics.scorecard.score` against the real data of the window, and the numbers (no curves) are written
beside the preset as ``calibration/presets/<preset>.scores.json``:

* Hawkes presets (``[fitted_on.train]`` and ``[fitted_on.validation]``): the training window ("calibration") and
  the validation window ("held_out"). The real trades are aggregated as for the fit: consecutive records of one
  side and kind sharing a timestamp are one event, their sizes summed
  (:func:`simlab.metrics.scorecard.aggregate_trades` over every kind). Hawkes paths carry no prices and no books, so
  only the event-time and size scores apply; the rest are reported not applicable, with why.
* Book presets: the fitted span (the AMZN day, the AAPL hour). The data hold no second AMZN day or AAPL hour with
  a message file, so their held-out window is recorded as not available.

The book presets' tables under LOB-Bench's own convention (:func:`score_preset_lobbench`) are written beside them
as ``<preset>.lobbench.json`` by ``python -m calibration.score_presets --lobbench [DATA_DIR]``.

Run ``python -m calibration.score_presets [DATA_DIR]`` to rebuild every file (seed :data:`SEED`, :data:`N_BOOT`
bootstrap replicates); :func:`score_preset` rebuilds one.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from calibration.book_presets import SPECS, load_book_preset, simulate_book_preset
from calibration.presets import PRESET_DIR, list_presets, load_preset, preset_events, simulate_preset
from simlab.errors import ParameterError
from simlab.io import DEFAULT_DATA_DIR
from simlab.metrics.scorecard import aggregate_trades, score
from simlab.schema import EventKind
from simlab.store import write_text_atomic

SEED = 20260501
N_BOOT = 100
DEFAULT_DATA = DEFAULT_DATA_DIR


def preset_names() -> list[str]:
    """Return every shipped preset: the Hawkes ones, then the book ones."""
    return [*list_presets(), *(spec.name for spec in SPECS)]


def score_preset(name: str, data_dir: str | Path = DEFAULT_DATA, *, seed: int = SEED, n_boot: int = N_BOOT) -> dict:
    """Return the score tables of preset ``name`` (the document written to ``<name>.scores.json``)."""
    data_dir = Path(data_dir)
    windows = _book_windows(name, data_dir) if name in {s.name for s in SPECS} else _hawkes_windows(name, data_dir)
    document: dict[str, Any] = {"preset": name, "seed": seed, "n_boot": n_boot}
    for offset, (label, window) in enumerate(windows.items()):
        if isinstance(window, str):
            document[label] = window
            continue
        real, simulated, span = window(seed + offset)
        card = score(simulated, real, seed=seed, n_boot=n_boot)
        document[label] = {**span, **_numbers(card)}
    return document


def write_scores(name: str, data_dir: str | Path = DEFAULT_DATA, *, seed: int = SEED) -> Path:
    """Score preset ``name`` and write ``calibration/presets/<name>.scores.json``; return the path."""
    path = PRESET_DIR / f"{name}.scores.json"
    return write_text_atomic(path, json.dumps(score_preset(name, data_dir, seed=seed), indent=1) + "\n")


def score_preset_lobbench(name: str, data_dir: str | Path = DEFAULT_DATA, *, seed: int = SEED) -> dict:
    """Return the LOB-Bench-convention score table of book preset ``name`` (``<name>.lobbench.json``).

    The fitted span is scored as :func:`score_preset` scores it, with ``score(convention="lobbench")``: the
    numbers of LOB-Bench's reference code (one sequence per dataset), comparable with published LOB-Bench results.
    """
    if name not in {s.name for s in SPECS}:
        raise ParameterError(f"score_preset_lobbench: {name!r} is not a book preset; the book presets are "
                             f"{[s.name for s in SPECS]}")  # fmt: skip
    real, simulated, span = _book_windows(name, Path(data_dir))["calibration"](seed)
    card = score(simulated, real, seed=seed, convention="lobbench", discriminative=False)
    document = card.to_dict()
    return {"preset": name, "seed": seed, "convention": "lobbench", "reference": card.meta["reference"], **span,
            "summary": document["summary"], "scores": document["scores"], "lobbench": document["lobbench"],
            "events": {"real": card.meta["real_events"], "synthetic": card.meta["synthetic_events"]}}  # fmt: skip


def write_lobbench(name: str, data_dir: str | Path = DEFAULT_DATA, *, seed: int = SEED) -> Path:
    """Write ``calibration/presets/<name>.lobbench.json`` (:func:`score_preset_lobbench`); return the path."""
    path = PRESET_DIR / f"{name}.lobbench.json"
    document = score_preset_lobbench(name, data_dir, seed=seed)
    return write_text_atomic(path, json.dumps(document, indent=1, default=float) + "\n")


def _hawkes_windows(name: str, data_dir: Path) -> dict[str, Any]:
    preset = load_preset(name)
    files = {Path(f).name: data_dir / f for f in preset.fitted_on["files"]}
    windows = {}
    for label, key in (("calibration", "train"), ("held_out", "validation")):
        span = preset.fitted_on[key]
        windows[label] = _hawkes_window(preset, [files[f] for f in span["files"]], span)
    return windows


def _hawkes_window(preset, paths: list[Path], span: dict[str, Any]):
    def run(seed: int):
        from simlab.io import read

        start, end = (int(np.datetime64(span[k].rstrip("Z"), "ns").astype(np.int64)) for k in ("start", "end"))
        parts = [read(path)["events"] for path in paths]
        events = xr.concat(parts, dim="event", combine_attrs="override") if len(parts) > 1 else parts[0]
        ts = events["ts_ns"].values
        flow = np.isin(events["kind"].values, [k for k in EventKind if k not in (EventKind.HALT, EventKind.AUCTION)])
        window = events.isel(event=np.flatnonzero((ts >= start) & (ts < end) & flow))
        real, _ = aggregate_trades(window, kinds=None)  # every kind, as the fit merges each dimension's records
        duration = (end - start) / 1e9
        (path,) = simulate_preset(preset, duration, rng=seed, start_ns=start)
        simulated = preset_events(preset, path, start_ns=start, seed=seed)
        where = {"start": span["start"], "end": span["end"], "files": [p.name for p in paths]}
        return real, simulated, {**where, "duration_s": round(duration, 3)}

    return run


def _book_windows(name: str, data_dir: Path) -> dict[str, Any]:
    from calibration.book_presets import _read_real

    spec = next(s for s in SPECS if s.name == name)
    preset = load_book_preset(name)

    def run(seed: int):
        files, events, books = _read_real(spec, data_dir)
        ts = events["ts_ns"].values
        duration = float(preset.comparison["duration_s"])
        simulated = simulate_book_preset(preset, duration, rng=seed)
        where = {"start": str(np.datetime64(int(ts[0]), "ns")) + "Z", "files": [f.name for f in files]}
        return {"events": events, "books": books}, simulated, {**where, "duration_s": duration}

    why = "not available: the data hold no other window of this instrument with a message file"
    return {"calibration": run, "held_out": why}


def _numbers(card) -> dict[str, Any]:
    """The scorecard's numbers without its curves (facts keep value and interval)."""
    document = card.to_dict()
    facts = {
        name: {side: _without_curve(v) for side, v in pair.items()} for name, pair in document["stylized_facts"].items()
    }
    return {
        "summary": document["summary"],
        "discriminative": document["discriminative"],
        "scores": document["scores"],
        "stylized_facts": facts,
        "events": {"real": document["meta"]["real_events"], "synthetic": document["meta"]["synthetic_events"]},
    }


def _without_curve(fact: dict[str, Any] | str) -> dict[str, Any] | str:
    return {k: fact[k] for k in ("value", "low", "high")} if isinstance(fact, dict) else fact


def main(argv: list[str] | None = None) -> int:
    """Rebuild every ``<preset>.scores.json`` from the real data (default ``../shared/data``); with ``--lobbench``
    first, every book preset's ``<preset>.lobbench.json`` instead."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--lobbench"]:
        data_dir = Path(argv[1]) if len(argv) > 1 else DEFAULT_DATA
        for spec in SPECS:
            path = write_lobbench(spec.name, data_dir)
            print(f"{spec.name}: {path.name} mean L1 {json.loads(path.read_text())['summary']['l1']['mean']['value']}")
        return 0
    data_dir = Path(argv[0]) if argv else DEFAULT_DATA
    for name in preset_names():
        path = write_scores(name, data_dir)
        document = json.loads(path.read_text())
        means = {
            label: document[label]["summary"].get("l1", {}).get("mean", {}).get("value")
            for label in ("calibration", "held_out")
            if isinstance(document[label], dict)
        }
        print(f"{name}: {path.name} mean L1 {means}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
