"""Book presets: zero-intelligence (``zi-*``) and queue-reactive (``qr-*``) models fitted to real books.

A book preset is a small TOML file in ``calibration/presets/`` (written with :func:`calibration.presets.dumps_toml`)
with the tables ``[preset]`` (name, model ``zi`` or ``qr``, description, instrument, venue, tick and lot size),
``[fitted_on]`` (files, estimator and its options, the span and event counts), ``[params]``
(:meth:`ZIParams.to_dict` or :meth:`QRParams.to_dict`), ``[simulation]`` (how a simulation starts: ``start_ns``,
``initial_bid_ticks`` for the queue-reactive book, ``depth``) and ``[comparison]``: a seeded simulated day set side
by side with the real one by :func:`simlab.book.stats.compare_statistics` (spread, L1 queues, imbalance,
inter-arrival times, mid returns with KS distances; event mix; return autocorrelations). Unknown tables or keys
are an error naming them.

Rebuild the shipped presets with ``python -m calibration.book_presets [DATA_DIR]``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from calibration.presets import PRESET_DIR, dumps_toml, list_presets, read_preset_toml
from simlab.book import QRParams, ZIParams, simulate_qr, simulate_zi
from simlab.book.stats import DISTRIBUTIONS, book_statistics, compare_statistics
from simlab.errors import ParameterError

MODELS = ("zi", "qr")
DAY_S = 23_400.0
COMPARISON_SEED = 20120621
SCHEMA: dict[str, set[str]] = {
    "preset": {"name", "model", "description", "instrument", "venue", "tick_size", "lot_size"},
    "fitted_on": {"files", "format", "estimator", "options", "start", "end", "duration_s", "counts"},
    "simulation": {"start_ns", "initial_bid_ticks", "depth"},
    "comparison": {"seed", "duration_s", "window_levels", "return_interval_ns", "real_events", "simulated_events"}
    | set(DISTRIBUTIONS)
    | {"event_mix", "return_acf", "abs_return_acf"},
    "params": set(),  # checked by the parameter class
}
REQUIRED = ("preset", "fitted_on", "params", "simulation", "comparison")


@dataclass(frozen=True)
class BookSpec:
    """How a shipped book preset is fitted: its name, model, LOBSTER folder and estimator options."""

    name: str
    model: str
    folder: str
    options: dict[str, Any] = field(default_factory=dict)
    description: str = ""


AMZN = "lobster_samples/AMZN_2012-06-21_level1_fullday"
SPECS = (
    BookSpec("zi-amzn", "zi", AMZN, {}, "Santa Fe zero-intelligence book fitted to NASDAQ AMZN 2012-06-21 (level 1)"),
    BookSpec(
        "qr-amzn",
        "qr",
        AMZN,
        {"levels": 1, "n_max": 20},
        "Queue-reactive book (Huang, Lehalle, Rosenbaum 2015) fitted to NASDAQ AMZN 2012-06-21 (level 1)",
    ),
)


@dataclass(frozen=True, eq=False)
class BookPreset:
    """A fitted book model (``params``) and the tables of its preset file."""

    name: str
    model: str
    params: ZIParams | QRParams
    preset: dict[str, Any]
    fitted_on: dict[str, Any]
    simulation: dict[str, Any]
    comparison: dict[str, Any]
    path: Path | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Return the preset as the nested mapping written to TOML."""
        return {
            "preset": {**self.preset, "name": self.name, "model": self.model},
            "fitted_on": self.fitted_on,
            "params": self.params.to_dict(),
            "simulation": self.simulation,
            "comparison": self.comparison,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "book preset", path: Path | None = None) -> BookPreset:
        """Build a preset from its mapping; unknown tables or keys and missing tables are errors."""
        unknown, missing = sorted(set(data) - set(SCHEMA)), [t for t in REQUIRED if t not in data]
        if unknown or missing:
            raise ParameterError(f"{source}: tables must be {list(REQUIRED)}; got unknown {unknown}, missing {missing}")
        for table, values in data.items():
            if not isinstance(values, dict):
                raise ParameterError(f"{source}: [{table}] must be a table; got {type(values).__name__}")
            extra = sorted(set(values) - SCHEMA[table]) if table != "params" else []
            if extra:
                raise ParameterError(f"{source}: unknown key(s) {extra} in [{table}]; allowed {sorted(SCHEMA[table])}")
        head = data["preset"]
        if "name" not in head or head.get("model") not in MODELS:
            raise ParameterError(f"{source}: [preset] needs a `name` and `model` in {MODELS}; got {head}")
        return cls(
            name=str(head["name"]),
            model=str(head["model"]),
            params=_params(head["model"], data["params"], source),
            preset=dict(head),
            fitted_on=dict(data["fitted_on"]),
            simulation=dict(data["simulation"]),
            comparison=dict(data["comparison"]),
            path=path,
        )


def load_book_preset(path_or_name: str | Path) -> BookPreset:
    """Load a book preset from a TOML file, or by name from ``calibration/presets/`` (e.g. ``"zi-amzn"``)."""
    path, data = read_preset_toml(path_or_name, model="zi")
    return BookPreset.from_dict(data, source=f"book preset {path.name}", path=path)


def save_book_preset(preset: BookPreset, path: str | Path) -> Path:
    """Write ``preset`` as TOML to ``path`` (read back exactly by :func:`load_book_preset`) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps_toml(preset.to_dict()))
    return path


def list_book_presets() -> list[str]:
    """Return the names of the book presets shipped in ``calibration/presets/``."""
    return sorted(name for model in MODELS for name in list_presets(model))


def simulate_book_preset(
    preset: BookPreset, duration_s: float, *, rng: Any, start_ns: int | None = None, depth: int | None = None
) -> dict[str, xr.Dataset]:
    """Simulate ``duration_s`` seconds of the preset's book; return ``{"events", "books"}`` (book after each event).

    The run starts at ``start_ns`` (default: the fitted data's start, ``[simulation] start_ns``); the
    zero-intelligence book records ``depth`` levels (default ``[simulation] depth``), the queue-reactive one its
    ``K`` levels from ``[simulation] initial_bid_ticks``.
    """
    start = int(preset.simulation.get("start_ns", 0) if start_ns is None else start_ns)
    if preset.model == "zi":
        depth = int(preset.simulation.get("depth", 10) if depth is None else depth)
        return simulate_zi(preset.params, duration_s, rng=rng, depth=depth, start_ns=start)
    bid = int(preset.simulation.get("initial_bid_ticks", 10_000))
    return simulate_qr(preset.params, duration_s, rng=rng, start_ns=start, initial_bid_ticks=bid)


def preset_statistics(preset: BookPreset, simulated: dict[str, xr.Dataset]) -> dict[str, Any]:
    """Return :func:`book_statistics` of a simulation of ``preset``, filtered like the real data it was fitted to."""
    return book_statistics(
        simulated["events"],
        simulated["books"],
        window_levels=preset.comparison.get("window_levels"),
        return_interval_ns=int(preset.comparison.get("return_interval_ns", 10**9)),
    )


def fit_book_preset(spec: BookSpec, data_dir: str | Path, *, seed: int = COMPARISON_SEED) -> BookPreset:
    """Fit ``spec`` to its LOBSTER day under ``data_dir``, simulate a day with ``seed`` and record the comparison."""
    from calibration.queue_reactive import QREstimator
    from calibration.zero_intelligence import ZIEstimator
    from simlab.io import read

    files = sorted((Path(data_dir) / spec.folder).glob("*.csv"))
    data = read(files, "lobster")
    events, books = data["events"], data["books"]
    estimator = (ZIEstimator if spec.model == "zi" else QREstimator)(**spec.options).fit(events, books)
    params, ts = estimator.params_, events["ts_ns"].values
    simulation: dict[str, Any] = {"start_ns": int(ts[0])}
    if spec.model == "zi":
        simulation["depth"] = 10
        counts = dict(estimator.counts_)
    else:
        first_bid = np.argmax(books["bid_qty"].values[:, 0] > 0)
        simulation["initial_bid_ticks"] = int(books["bid_price"].values[first_bid, 0])
        totals = estimator.counts_.sum(axis=(1, 2, 3))
        counts = {name: int(c) for name, c in zip(("limit", "cancel", "market"), totals, strict=True)}
    head = {"description": spec.description, "instrument": params.instrument, "venue": params.venue}
    head.update(tick_size=params.tick_size, lot_size=params.lot_size)
    fitted_on = {"files": [f"{spec.folder}/{f.name}" for f in files], "format": "lobster"}
    fitted_on.update(
        estimator=type(estimator).__name__, options=dict(spec.options), start=_iso(ts[0]), end=_iso(ts[-1])
    )
    fitted_on.update(duration_s=round(float(ts[-1] - ts[0]) / 1e9, 6), counts=counts)
    real = book_statistics(events, books)
    window = int(events.attrs.get("levels") or books.sizes["level"])
    comparison = {"seed": int(seed), "duration_s": DAY_S, "window_levels": window, "return_interval_ns": 10**9}
    preset = BookPreset(spec.name, spec.model, params, head, fitted_on, simulation, comparison)
    simulated = preset_statistics(preset, simulate_book_preset(preset, DAY_S, rng=seed))
    comparison.update(real_events=real["events"], simulated_events=simulated["events"])
    comparison.update(compare_statistics(real, simulated))
    return preset


def _iso(ts_ns: int) -> str:
    return str(np.datetime64(int(ts_ns), "ns")) + "Z"


def _params(model: str, values: dict[str, Any], source: str) -> ZIParams | QRParams:
    cls = ZIParams if model == "zi" else QRParams
    try:
        return cls(**values)
    except TypeError as exc:
        raise ParameterError(f"{source}: [params] does not fit {cls.__name__}: {exc}") from exc


def main(argv: list[str] | None = None) -> int:
    """Refit every shipped book preset from the real data (default ``../shared/data``) and write them."""
    argv = sys.argv[1:] if argv is None else argv
    data_dir = Path(argv[0]) if argv else Path(__file__).resolve().parents[2] / "shared" / "data"
    for spec in SPECS:
        preset = fit_book_preset(spec, data_dir)
        path = save_book_preset(preset, PRESET_DIR / f"{spec.name}.toml")
        print(f"{spec.name}: {path} (KS spread {preset.comparison['spread_ticks']['ks']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
