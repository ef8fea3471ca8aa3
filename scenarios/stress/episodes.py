"""Named crash episodes: a strict TOML schema of the shape a real crash had and the shocks that should make it.

An episode file (``scenarios/library/crash_*.toml``, ``depeg_*.toml``) holds:

```toml
[episode]
name = "crash_2010_05_06_emini"
date = "2010-05-06"
market = "CME Globex"
asset = "E-mini S&P 500 futures"
direction = -1                  # -1 a crash (the price falls), +1 a spike (the price jumps)
worlds = ["abm"]                # the worlds that have the agents every primitive needs

[[sources]]                     # every number below cites one of these
author = "CFTC and SEC staff"
title = "Findings regarding the market events of May 6, 2010"
year = 2010
url = "https://www.sec.gov/news/studies/2010/marketevents-report.pdf"

[template]                      # the shape from public accounts, each with the tolerance of the match
drawdown = { value = 0.05, tolerance = 0.01, note = "..." }
time_to_trough_s = { value = 270.0, tolerance = 90.0 }

[compression]                   # how the real episode maps onto the simulated window
time_factor = 1.0               # real seconds per simulated second
real_duration_s = 1800.0
method = "none"

[background]                    # the market the shock hits
preset = "calibration/presets/abm-amzn.toml"
calibrated = true
calibration = "AMZN 2012-06-21 (LOBSTER), simulated moments"
duration_s = 1800.0             # simulated seconds from the open
event_s = 600.0                 # when the shock starts
pre_s = 300.0                   # the pre-event window the shape is measured against

[mechanism.sell_program]        # one table per primitive: fixed keys and the keys to fit (with bounds)
fixed = { strategy = "pov", side = -1, start_s = 600.0, duration_s = 270.0 }
fit = { participation = { low = 0.05, high = 0.6 } }
```

Time statistics of the template (names ending ``_s``) are real seconds; the simulated ones are multiplied by
``compression.time_factor`` before they are compared (and rates per minute divided by it). :func:`load_episode`
reads a file or a library name; every problem is one :class:`~simlab.errors.ParameterError` sentence.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from scenarios.specs import LIBRARY, StrictModel, parse_spec_data
from simlab.errors import DataError, ParameterError
from simlab.metrics.crash import STATISTICS

REPO = Path(__file__).resolve().parents[2]
WORLDS = ("abm", "hawkes", "generator", "amm")
Scalar = bool | int | float | str
PEG_STATISTICS: tuple[str, ...] = ("min_share", "min_pool_price")
"""Statistics of the ``amm`` world's peg runs (:mod:`scenarios.stress.peg_world`): the smallest share of the coin
bought in the pool (a fraction) and the lowest pool price of the depegging coin (in the coin bought)."""


@dataclass(frozen=True)
class Primitive:
    """A shock primitive: the config table it fills, its keys, the keys that are times, and the worlds that have it.

    ``table`` is the path of the world's config table (``("agents", "execution")``); ``defaults`` are set before the
    episode's keys (a sell program is one POV seller); ``times`` pairs a start key with an optional duration key.
    """

    table: tuple[str, ...]
    keys: tuple[str, ...]
    worlds: tuple[str, ...]
    times: tuple[tuple[str, str | None], ...] = ()
    defaults: tuple[tuple[str, Scalar], ...] = ()
    needs: str = ""


PRIMITIVES: dict[str, Primitive] = {
    "sell_program": Primitive(
        ("agents", "execution"),
        ("strategy", "side", "quantity_lots", "start_s", "duration_s", "interval_s", "participation", "urgency_per_s"),
        ("abm", "hawkes", "generator"), (("start_s", "duration_s"),), (("count", 1), ("strategy", "pov"), ("side", -1)),
        "an execution agent (price-insensitive POV / TWAP seller)",
    ),
    "stop_loss": Primitive(
        ("agents", "stop_loss"), ("count", "side", "quantity_lots", "start_s", "first_ticks", "spacing_ticks"),
        ("abm",), (("start_s", None),), needs="stop-loss agents",
    ),
    "leverage": Primitive(
        ("agents", "leveraged"),
        ("count", "side", "position_lots", "leverage", "maintenance_margin", "start_s", "stagger_s",
         "insurance_fund_ticks"),
        ("abm",), (("start_s", None),), needs="leveraged traders and a liquidation engine (liquidation cascade)",
    ),
    "circuit_breaker": Primitive(("circuit_breaker",), ("move_pct", "window_s", "pause_s"), ("abm",),
                                 needs="a matching engine with a halt rule"),
    "maker_withdrawal": Primitive(
        ("agents", "market_maker"),
        ("withdraw_inventory_lots", "withdraw_move_bps", "withdraw_size_factor", "withdraw_spread_factor"),
        ("abm",), needs="adaptive market makers with a withdrawal threshold",
    ),
    "news": Primitive(("shocks", "news"), ("time_s", "jump_bps"), ("abm",), (("time_s", None),),
                      needs="a fundamental value that agents trade on"),
    "withdrawal": Primitive(("shocks", "withdrawal"), ("start_s", "duration_s", "size_factor", "spread_factor"),
                            ("abm", "hawkes", "generator"), (("start_s", "duration_s"),), needs="market-maker agents"),
    "mark": Primitive(("shocks", "mark"), ("start_s", "duration_s", "factor"), ("abm",), (("start_s", "duration_s"),),
                      needs="a liquidation engine that reads a mark price"),
    "pause": Primitive(("shocks", "pause"), ("start_s", "duration_s"), ("abm",), (("start_s", "duration_s"),),
                       needs="a matching engine that can halt"),
    "peg_run": Primitive(("peg_run",), ("start_s", "duration_s", "run_share", "depeg_factor", "pool"), ("amm",),
                         (("start_s", "duration_s"),), needs="an AMM pool with arbitrageurs (scenarios.stress.amm)"),
}  # fmt: skip


class EpisodeTable(StrictModel):
    """``[episode]``: the name, date, market, asset, direction of the move and the worlds it runs in."""

    name: str = Field(min_length=1)
    title: str = ""
    date: str = Field(pattern=r"^\d{4}-\d{2}(-\d{2})?$")
    market: str
    asset: str
    direction: Literal[-1, 1]
    worlds: list[Literal["abm", "hawkes", "generator", "amm"]] = Field(min_length=1)
    summary: str = ""


class Source(StrictModel):
    """One citation: author, title, year and a URL or a document id."""

    author: str
    title: str
    year: int = Field(ge=1900, le=2100)
    url: str = ""
    doc: str = ""
    note: str = ""

    @model_validator(mode="after")
    def _locator(self) -> Source:
        if not (self.url or self.doc):
            raise ValueError("a source needs a `url` or a `doc` id")
        return self


class Stat(StrictModel):
    """One template statistic: its value from public accounts and the tolerance of a match (same units)."""

    value: float
    tolerance: float = Field(gt=0)
    note: str = ""


class Compression(StrictModel):
    """How a real episode maps onto the simulated window: real seconds per simulated second, and how."""

    time_factor: float = Field(ge=1.0)
    real_duration_s: float = Field(gt=0)
    method: str = Field(min_length=1)


class Background(StrictModel):
    """The market the shock hits: a preset, whether it is calibrated (to what), the window and any overrides."""

    preset: str
    calibrated: bool
    calibration: str = Field(min_length=1)
    duration_s: float = Field(gt=0)
    event_s: float = Field(gt=0)
    pre_s: float = Field(gt=0)
    overrides: dict[str, Scalar] = {}
    override_reason: str = ""

    @model_validator(mode="after")
    def _window(self) -> Background:
        if not self.pre_s <= self.event_s < self.duration_s:
            raise ValueError(
                f"needs pre_s <= event_s < duration_s; got {self.pre_s}, {self.event_s}, {self.duration_s}"
            )
        if self.overrides and not self.override_reason:
            raise ValueError("`overrides` need an `override_reason` (why the preset is changed)")
        return self


class Bound(StrictModel):
    """The range of a fitted shock parameter (``log``: searched on a log scale)."""

    low: float
    high: float
    log: bool = False
    integer: bool = False

    @model_validator(mode="after")
    def _order(self) -> Bound:
        if not self.low < self.high or (self.log and self.low <= 0):
            raise ValueError(f"needs low < high (and low > 0 with log); got low={self.low}, high={self.high}")
        return self


class Shock(StrictModel):
    """One primitive of the mechanism: its fixed keys and the keys fitted within bounds."""

    fixed: dict[str, Scalar | list[float]] = {}
    fit: dict[str, Bound] = {}


class GeneratorWorld(StrictModel):
    """``[world.generator]``: the trained model of the generator world (or the spec to train one), the guidance
    weight (None: the model's) and the normal regime (:mod:`scenarios.stress.generator_world`)."""

    model: str = ""
    spec: str = "generate_aapl_tiny"
    guidance: float | None = Field(None, ge=0)
    normal: Literal["unconditioned", "median"] = "unconditioned"


class WorldTable(StrictModel):
    """``[world]``: settings of the worlds that need more than the background preset."""

    generator: GeneratorWorld = GeneratorWorld()


class EpisodeSpec(StrictModel):
    """A whole episode file (see the module docstring)."""

    episode: EpisodeTable
    sources: list[Source] = Field(min_length=1)
    template: dict[str, Stat]
    compression: Compression
    background: Background
    mechanism: dict[str, Shock] = Field(min_length=1)
    world: WorldTable = WorldTable()


@dataclass(frozen=True)
class Episode:
    """A checked episode: its spec, its source text and path, and the fitted parameters when a fit is stored."""

    spec: EpisodeSpec
    text: str
    path: Path
    fitted: dict[str, float] | None

    @property
    def name(self) -> str:
        """Return the episode's name."""
        return self.spec.episode.name

    def parameters(self) -> dict[str, Bound]:
        """Return the fitted parameters' bounds, keyed ``primitive.key``, in file order."""
        return {f"{p}.{k}": b for p, shock in self.spec.mechanism.items() for k, b in shock.fit.items()}

    @property
    def fitted_path(self) -> Path:
        """Return the path of the stored fit (``<file stem>.fitted.json`` beside the file)."""
        return self.path.with_name(f"{self.path.stem}.fitted.json")


def resolve_episode(name: str | Path) -> Path:
    """Return the path of an episode file given as a path or a library name (``crash_2010_05_06_emini``)."""
    path = Path(name)
    if not path.exists() and not path.suffix:
        path = LIBRARY / f"{path.name}.toml"
    if not path.is_file():
        raise DataError(f"episode {str(name)!r}: no such file (give a TOML path or a name in {LIBRARY})")
    return path


def load_episode(name: str | Path) -> Episode:
    """Read and check an episode file (a path or a library name) and its stored fit, if any."""
    path = resolve_episode(name)
    text = path.read_text()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"episode {path}: not valid TOML: {exc}") from None
    spec = parse_episode(data, f"episode {path.name}")
    episode = Episode(spec, text, path, None)
    fitted = read_fitted(episode) if episode.fitted_path.is_file() else None
    return Episode(spec, text, path, fitted)


def parse_episode(data: dict[str, Any], source: str = "episode") -> EpisodeSpec:
    """Validate an episode's TOML layout; every problem is one ParameterError sentence naming the field."""
    mechanism = data.get("mechanism", {})
    if isinstance(mechanism, dict):
        for name in mechanism:
            if name not in PRIMITIVES:
                raise ParameterError(
                    f"{source}: unknown primitive [mechanism.{name}]; valid ones are {', '.join(sorted(PRIMITIVES))}"
                )
    template = data.get("template", {})
    if isinstance(template, dict):
        for name in template:
            if name not in STATISTICS + PEG_STATISTICS:
                raise ParameterError(
                    f"{source}: unknown template statistic {name!r}; valid ones are "
                    f"{', '.join(STATISTICS + PEG_STATISTICS)}"
                )
    spec = parse_spec_data(EpisodeSpec, data, source)
    check_episode(spec, source)
    return spec


def check_episode(spec: EpisodeSpec, source: str) -> None:
    """Check what the schema cannot: primitive keys, shock times inside the session, worlds that have the agents."""
    for needed in ("drawdown", "time_to_trough_s"):
        if needed not in spec.template:
            raise ParameterError(f"{source}: [template] needs `{needed}` (value and tolerance); got none")
    pool_only = sorted(set(spec.template) & set(PEG_STATISTICS))
    if pool_only and spec.episode.worlds != ["amm"]:
        raise ParameterError(
            f'{source}: template statistic {pool_only[0]!r} is a pool statistic: it needs worlds = ["amm"]; got '
            f"{spec.episode.worlds}"
        )
    for name, shock in spec.mechanism.items():
        _check_keys(source, name, shock)
        _check_times(source, name, shock, spec.background.duration_s)
        for world in spec.episode.worlds:
            if world not in PRIMITIVES[name].worlds:
                takes = ", ".join(other for other, primitive in PRIMITIVES.items() if world in primitive.worlds)
                raise ParameterError(
                    f"{source}: world {world!r} has no agents for primitive {name!r} ({PRIMITIVES[name].needs}); "
                    f"its worlds are {', '.join(PRIMITIVES[name].worlds)}; the {world!r} world takes {takes}"
                )


def _check_keys(source: str, name: str, shock: Shock) -> None:
    valid = PRIMITIVES[name].keys
    for key in (*shock.fixed, *shock.fit):
        if key not in valid:
            raise ParameterError(f"{source}: [mechanism.{name}] unknown key {key!r}; valid ones are {', '.join(valid)}")
    both = sorted(set(shock.fixed) & set(shock.fit))
    if both:
        raise ParameterError(f"{source}: [mechanism.{name}] key {both[0]!r} is both fixed and fitted; give it once")


def _check_times(source: str, name: str, shock: Shock, duration_s: float) -> None:
    for start_key, length_key in PRIMITIVES[name].times:
        start = _highest(shock, start_key)
        length = 0.0 if length_key is None else _highest(shock, length_key)
        if start is None:
            continue
        end = start + (length or 0.0)
        if start < 0 or end > duration_s:
            raise ParameterError(
                f"{source}: [mechanism.{name}] shock outside the session: `{start_key}` {start:g} s"
                + (f" + `{length_key}` {length:g} s" if length_key else "")
                + f" must lie within [0, {duration_s:g}] s (background.duration_s)"
            )


def _highest(shock: Shock, key: str) -> float | None:
    if key in shock.fit:
        return shock.fit[key].high
    value = shock.fixed.get(key)
    if value is None or isinstance(value, (bool, str, list)):
        return None
    return float(value)


def read_fitted(episode: Episode) -> dict[str, float]:
    """Read the stored fit of ``episode``: the fitted parameters, each within its bounds."""
    path = episode.fitted_path
    try:
        document = json.loads(path.read_text())
        values = document["parameters"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise DataError(f"fit {path}: not a fit document with a `parameters` table ({exc})") from None
    bounds = episode.parameters()
    if set(values) != set(bounds):
        raise DataError(f"fit {path}: parameters {sorted(values)} do not match the episode's {sorted(bounds)}")
    return {k: float(values[k]) for k in bounds}
