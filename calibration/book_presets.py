"""Book presets: zero-intelligence (``zi-*``), queue-reactive (``qr-*``) and Hawkes-driven (``hawkes-*``) books.

A book preset is a small TOML file in ``calibration/presets/`` (written with :func:`calibration.presets.dumps_toml`)
with the tables ``[preset]`` (name, model, description, instrument, venue, tick and lot size), ``[fitted_on]``
(files, estimator and its options, the span and event counts), ``[params]`` (:meth:`ZIParams.to_dict`,
:meth:`QRParams.to_dict` or :meth:`HawkesBookParams.to_dict`), ``[simulation]`` (how a simulation starts:
``start_ns``, ``initial_bid_ticks`` for the queue-reactive book, ``depth``) and ``[comparison]``: a seeded
simulation of the fitted span (the AMZN day, the AAPL hour) set side by side with the real one by
:func:`simlab.book.stats.compare_statistics` (spread, L1 queues, imbalance, inter-arrival times, mid returns with
KS distances; event mix; return autocorrelations). Unknown tables or keys are an error naming them.

The model ``hawkes`` (:mod:`simlab.book.hawkes_book`) is written ``model = "hawkes-book"`` in the file, since
``model = "hawkes"`` marks the Hawkes process presets sharing the folder; its laws are per-side tables
(``[params.placement.bid]``, ...). To keep the file small its fitted laws are compacted (:func:`compact_law`):
values of probability >= 1e-3 are kept as they are, the rarer ones are pooled per gap between kept values and per
power-of-two band of ``|value|`` at their probability-weighted mean (rounded, halves to even), so each law keeps its
mean (to rounding) and its reach; probabilities and the cancellation hazard are rounded to 6 significant digits. The
shipped parameters, and the comparison, are the compacted ones.

Rebuild the shipped presets with ``python -m calibration.book_presets [DATA_DIR]``.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from calibration.presets import PRESET_DIR, dumps_toml, list_presets, read_preset_toml
from simlab.book import QRParams, ZIParams, simulate_qr, simulate_zi
from simlab.book.hawkes_book import EmpiricalLaw, HawkesBookParams, simulate_hawkes_book
from simlab.book.stats import DISTRIBUTIONS, book_statistics, compare_statistics
from simlab.errors import ParameterError
from simlab.io import DEFAULT_DATA_DIR
from simlab.store import write_text_atomic

MODELS = ("zi", "qr", "hawkes")
FILE_MODEL = {"zi": "zi", "qr": "qr", "hawkes": "hawkes-book"}  # ``[preset] model`` in the file
LAW_SIDES = {"placement": ("bid", "ask"), "limit_sizes": ("bid", "ask"), "market_sizes": ("buy", "sell")}
DAY_S = 23_400.0
HOUR_S = 3_600.0
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
    start_folder: str = ""  # AAPL: the level-10 files whose first book row starts the deep message file
    duration_s: float = DAY_S  # the span simulated for the comparison


AAPL = "lobster_samples/AAPL_2012-06-21_level50_0930-1030_messages"
AAPL_START = "lobster_samples/AAPL_2012-06-21_level10_first1000"


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
    BookSpec(
        "hawkes-aapl",
        "hawkes",
        AAPL,
        {
            "hawkes": "lobster-aapl-order-flow",
            "placement_reference": "opposite",
            "max_distance_ticks": 500,
            "hazard_ticks": 200,
        },
        "Hawkes-driven book fitted to NASDAQ AAPL 2012-06-21 09:30-10:30 (level 50): event times from the "
        "lobster-aapl-order-flow Hawkes preset; placement (ticks behind the opposite best), size and cancellation "
        "laws from the hour (rare values pooled, see calibration.book_presets). The book feeds back into whether "
        "cancels apply (reference_depth_lots: the mean lots within 100 ticks), not into the event times: without it "
        "cancels plus market orders outnumber limit orders and the book drains. Placed from the opposite best, orders "
        "keep the spread open (median 11 ticks, 18 real; placed from the same-side best it closes to 1 tick) and the "
        "1-s mid returns close to the real ones (KS 0.03); the L1 queues are about half the real ones (KS 0.30) and "
        "12 % of the cancel events are skipped, see [comparison].",
        start_folder=AAPL_START,
        duration_s=HOUR_S,
    ),
    BookSpec(
        "zi-aapl",
        "zi",
        AAPL,
        {"window": 20},
        "Santa Fe zero-intelligence book fitted to NASDAQ AAPL 2012-06-21 09:30-10:30 (level 50; limit and cancel "
        "rates counted within 20 ticks of the opposite best). As on AMZN the model's spread is too tight (median 8 "
        "ticks, 18 real) and the L1 queue is one order of the fixed size; 1-s mid returns are close (KS 0.08).",
        start_folder=AAPL_START,
        duration_s=HOUR_S,
    ),
    BookSpec(
        "qr-aapl",
        "qr",
        AAPL,
        {"levels": 2, "n_max": 20},
        "Queue-reactive book (Huang, Lehalle, Rosenbaum 2015) fitted to NASDAQ AAPL 2012-06-21 09:30-10:30 (level 50, "
        "two queues per side). The spread law matches (KS 0.01); AAPL is a small-tick stock, outside the model's "
        "large-tick design: the queues at the two best prices see only a fraction of the hour's limit orders and "
        "cancels, so the event rates are far below the real ones.",
        start_folder=AAPL_START,
        duration_s=HOUR_S,
    ),
)


@dataclass(frozen=True, eq=False)
class BookPreset:
    """A fitted book model (``params``) and the tables of its preset file."""

    name: str
    model: str
    params: ZIParams | QRParams | HawkesBookParams
    preset: dict[str, Any]
    fitted_on: dict[str, Any]
    simulation: dict[str, Any]
    comparison: dict[str, Any]
    path: Path | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Return the preset as the nested mapping written to TOML."""
        return {
            "preset": {**self.preset, "name": self.name, "model": FILE_MODEL[self.model]},
            "fitted_on": self.fitted_on,
            "params": _params_table(self.params),
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
        head, models = data["preset"], {file_model: model for model, file_model in FILE_MODEL.items()}
        if "name" not in head or head.get("model") not in models:
            raise ParameterError(f"{source}: [preset] needs a `name` and `model` in {sorted(models)}; got {head}")
        model = models[head["model"]]
        return cls(
            name=str(head["name"]),
            model=model,
            params=_params(model, data["params"], source),
            preset=dict(head),
            fitted_on=dict(data["fitted_on"]),
            simulation=dict(data["simulation"]),
            comparison=dict(data["comparison"]),
            path=path,
        )


def load_book_preset(path_or_name: str | Path) -> BookPreset:
    """Load a book preset from a TOML file, or by name from ``calibration/presets/`` (e.g. ``"zi-amzn"``)."""
    path, data = read_preset_toml(path_or_name, model=tuple(FILE_MODEL[m] for m in MODELS))
    return BookPreset.from_dict(data, source=f"book preset {path.name}", path=path)


def save_book_preset(preset: BookPreset, path: str | Path) -> Path:
    """Write ``preset`` as TOML to ``path`` (read back exactly by :func:`load_book_preset`) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_text_atomic(path, dumps_toml(preset.to_dict()))


def list_book_presets() -> list[str]:
    """Return the names of the book presets shipped in ``calibration/presets/``."""
    return list_presets(tuple(FILE_MODEL[model] for model in MODELS))


def simulate_book_preset(
    preset: BookPreset, duration_s: float, *, rng: Any, start_ns: int | None = None, depth: int | None = None
) -> dict[str, xr.Dataset]:
    """Simulate ``duration_s`` seconds of the preset's book; return ``{"events", "books"}`` (book after each event).

    The run starts at ``start_ns`` (default: the fitted data's start, ``[simulation] start_ns``); the
    zero-intelligence and Hawkes-driven books record ``depth`` levels (default ``[simulation] depth``), the
    queue-reactive one its ``K`` levels from ``[simulation] initial_bid_ticks``.
    """
    start = int(preset.simulation.get("start_ns", 0) if start_ns is None else start_ns)
    if preset.model in ("zi", "hawkes"):
        depth = int(preset.simulation.get("depth", 10) if depth is None else depth)
        simulate = simulate_zi if preset.model == "zi" else simulate_hawkes_book
        return simulate(preset.params, duration_s, rng=rng, depth=depth, start_ns=start)
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
    """Fit ``spec`` to its LOBSTER data under ``data_dir``, simulate the fitted span with ``seed``, compare."""
    files, events, books = _read_real(spec, Path(data_dir))
    params, counts, simulation = _fit(spec, events, books)
    ts = events["ts_ns"].values
    head = {"description": spec.description, "instrument": params.instrument, "venue": params.venue}
    head.update(tick_size=params.tick_size, lot_size=params.lot_size)
    fitted_on = {"files": [str(f.relative_to(data_dir)) for f in files], "format": "lobster"}
    estimator = {"zi": "ZIEstimator", "qr": "QREstimator", "hawkes": "HawkesBookEstimator"}[spec.model]
    fitted_on.update(estimator=estimator, options=dict(spec.options), start=_iso(ts[0]), end=_iso(ts[-1]))
    fitted_on.update(duration_s=round(float(ts[-1] - ts[0]) / 1e9, 6), counts=counts)
    real = book_statistics(events, books)
    window = int(events.attrs.get("levels") or books.sizes["level"])
    duration_s = spec.duration_s
    comparison = {"seed": int(seed), "duration_s": duration_s, "window_levels": window, "return_interval_ns": 10**9}
    preset = BookPreset(spec.name, spec.model, params, head, fitted_on, simulation, comparison)
    simulated = preset_statistics(preset, simulate_book_preset(preset, duration_s, rng=seed))
    comparison.update(real_events=real["events"], simulated_events=simulated["events"])
    comparison.update(compare_statistics(real, simulated))
    return preset


def _read_real(spec: BookSpec, data_dir: Path) -> tuple[list[Path], xr.Dataset, xr.Dataset]:
    """The files, events and books a spec is fitted to (AAPL: the deep file started from the level-10 row)."""
    from calibration.hawkes_book import lobster_with_depth
    from simlab.io import read

    files = sorted((data_dir / spec.folder).glob("*.csv"))
    if not spec.start_folder:
        data = read(files, "lobster")
        return files, data["events"], data["books"]
    start = tuple(sorted((data_dir / spec.start_folder).glob("*.csv")))
    (message,) = [f for f in files if "_message_" in f.name]
    data = lobster_with_depth(message, start, levels=int(message.stem.rsplit("_", 1)[1]))
    return [message, *start], data["events"], data["books"]


def _fit(spec: BookSpec, events: xr.Dataset, books: xr.Dataset) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """Return the fitted parameters, the event counts and the ``[simulation]`` table."""
    from calibration.hawkes_book import HawkesBookEstimator
    from calibration.queue_reactive import QREstimator
    from calibration.zero_intelligence import ZIEstimator

    estimator = {"zi": ZIEstimator, "qr": QREstimator, "hawkes": HawkesBookEstimator}[spec.model](**spec.options)
    estimator.fit(events, books)
    simulation: dict[str, Any] = {"start_ns": int(events["ts_ns"].values[0])}
    if spec.model == "zi":
        return estimator.params_, dict(estimator.counts_), {**simulation, "depth": 10}
    if spec.model == "hawkes":
        simulation["depth"] = int(events.attrs.get("levels") or books.sizes["level"])
        return compact_params(estimator.params_), dict(estimator.counts_), simulation
    first_bid = np.argmax(books["bid_qty"].values[:, 0] > 0)
    simulation["initial_bid_ticks"] = int(books["bid_price"].values[first_bid, 0])
    totals = estimator.counts_.sum(axis=(1, 2, 3))
    counts = {name: int(c) for name, c in zip(("limit", "cancel", "market"), totals, strict=True)}
    return estimator.params_, counts, simulation


def compact_law(law: EmpiricalLaw, min_probability: float = 1e-3, digits: int = 6) -> EmpiricalLaw:
    """Pool the rare values of ``law`` (see the module docstring); probabilities to ``digits`` significant digits.

    The probabilities are adjusted (on the largest) to sum to exactly 1.0, so that a law read back from its file is
    written back identically.
    """
    values, probabilities = law.values, law.probabilities
    kept = probabilities >= min_probability
    gap = np.searchsorted(values[kept], values)
    band = np.sign(values) * np.floor(np.log2(np.abs(values) + 1.0)).astype(np.int64)
    pooled: dict[tuple[int, int], list[int]] = {}
    for i in np.flatnonzero(~kept):
        pooled.setdefault((int(gap[i]), int(band[i])), []).append(i)
    out_values, out_weights = list(values[kept]), list(probabilities[kept])
    for members in pooled.values():
        out_values.append(_pooled_value(values[members], probabilities[members]))
        out_weights.append(math.fsum(probabilities[members]))
    order = np.argsort(out_values)
    weights = np.array([float(f"{w:.{digits}g}") for w in np.asarray(out_weights)[order]])
    weights /= weights.sum()
    weights = np.array([float(f"{w:.{digits}g}") for w in weights])
    largest = int(np.argmax(weights))
    for _ in range(8):  # make the sum exactly 1.0 (normalisation is then the identity)
        total = weights.sum()
        if total == 1.0:
            break
        weights[largest] += 1.0 - total
    return EmpiricalLaw(np.asarray(out_values, dtype=np.int64)[order], weights)


def _pooled_value(values: np.ndarray, probabilities: np.ndarray) -> int:
    """Return the probability-weighted mean of ``values`` rounded to the nearest integer, halves to the even one.

    The mean is exact (rational arithmetic on the float probabilities) and one within 1e-12 (relative) of a half
    integer is that half: the probabilities are counts / total rounded to floats, and a mean of counts that is not a
    tie is at least 1 / (2 |sum of the pooled samples|) (relative) from it, far above 1e-12. A tie is thus decided by
    the rule, not by float noise that a library version's summation order rounds either way.
    """
    weights = [Fraction(float(p)) for p in probabilities]
    mean = sum((int(v) * w for v, w in zip(values, weights, strict=True)), Fraction(0)) / sum(weights)
    half = Fraction(round(2 * mean), 2)
    if abs(mean - half) <= abs(mean) * Fraction(1, 10**12):
        mean = half
    return round(mean)


def compact_params(params: HawkesBookParams, digits: int = 6) -> HawkesBookParams:
    """Return ``params`` with its laws compacted by :func:`compact_law` and the hazard rounded to ``digits``."""
    laws = {name: tuple(compact_law(law, digits=digits) for law in getattr(params, name)) for name in LAW_SIDES}
    hazard = np.array([[float(f"{h:.{digits}g}") for h in row] for row in params.cancel_hazard])
    return replace(params, **laws, cancel_hazard=hazard)


def _iso(ts_ns: int) -> str:
    return str(np.datetime64(int(ts_ns), "ns")) + "Z"


def _params(model: str, values: dict[str, Any], source: str) -> ZIParams | QRParams | HawkesBookParams:
    if model == "hawkes":
        try:
            laws = {name: [values[name][side] for side in sides] for name, sides in LAW_SIDES.items()}
            return HawkesBookParams.from_dict({**values, **laws})
        except (KeyError, TypeError) as exc:
            raise ParameterError(f"{source}: [params] does not fit HawkesBookParams: per-side laws {exc!r}") from exc
        except ParameterError as exc:
            raise ParameterError(f"{source}: [params] does not fit HawkesBookParams: {exc}") from exc
    cls = ZIParams if model == "zi" else QRParams
    try:
        return cls(**values)
    except TypeError as exc:
        raise ParameterError(f"{source}: [params] does not fit {cls.__name__}: {exc}") from exc


def _params_table(params: ZIParams | QRParams | HawkesBookParams) -> dict[str, Any]:
    """``params.to_dict()``, a Hawkes-driven book's law pairs as per-side tables (TOML has no arrays of tables)."""
    table = params.to_dict()
    if isinstance(params, HawkesBookParams):
        for name, sides in LAW_SIDES.items():
            table[name] = dict(zip(sides, table[name], strict=True))
    return table


def main(argv: list[str] | None = None) -> int:
    """Refit every shipped book preset from the real data (default ``../shared/data``) and write them."""
    argv = sys.argv[1:] if argv is None else argv
    data_dir = Path(argv[0]) if argv else DEFAULT_DATA_DIR
    for spec in SPECS:
        preset = fit_book_preset(spec, data_dir)
        path = save_book_preset(preset, PRESET_DIR / f"{spec.name}.toml")
        print(f"{spec.name}: {path} ({path.stat().st_size} bytes, KS spread {preset.comparison['spread_ticks']['ks']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
