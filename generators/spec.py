"""Training specs of the generators: a TOML file naming the real data, the split, the preset and the seed.

A spec (see ``scenarios/library/generate_*.toml``) has two tables, and unknown keys are refused::

    [data]
    message = "lobster_samples/.../AAPL_..._message_50.csv"  # under the data folder
    books = ["lobster_samples/.../..._message_10_first998.csv", "lobster_samples/.../..._orderbook_10_first998.csv"]
    split = [0.6, 0.2, 0.2]  # train, validation, held-out test, by time
    span_s = [0.0, 600.0]  # optional: only [first event + start, + duration) s of the file (a slice of a long day)
    known_depth_only = true  # optional (default false): train and validate only on blocks whose books are known
    level_prices = true  # optional (default false): the book state holds the positions of levels 2-10 (ticks)
    cancel_position = "volume"  # optional (default "level"): a removal's position in the depth, not its level
    add_price = "own"  # optional (default "opposite"): an ADD's price as ticks inside its own best (0 the touch);
    # "touch": an ADD at or behind its own best so, one inside the spread from the opposite best; "share": one at or
    # inside the spread as its share of the spread (read against the spread the rollout meets), behind as "own"
    trade_message = "order"  # optional (default "fill"): a marketable order's fills at one price as one TRADE

    [model]
    family = "diffusion"  # or "gan"
    preset = "tiny"  # omitted: "paper" on CUDA, else "tiny"
    seed = 20261203
    overrides = { max_steps = 1500 }  # any field of the family's config (DiffusionConfig, GANConfig)

``books`` is the message file's orderbook file (one path) or the files whose first book row starts a replay of a
deeper message file (two paths), as :func:`generators.data.read_flow` reads them. ``known_depth_only`` needs the
second form (a replay, whose books carry the ``bid_determined`` / ``ask_determined`` masks): the training and
validation blocks that read a book with an unknown cell in the encoded levels are then dropped
(:class:`generators.training.BlockData`), and the model's encoding records ``known_depth_only``.
``level_prices`` gives the model the positions of levels 2-10 in its book state (:func:`generators.encoding.
book_features`), recorded in its encoding (whose width its networks take). ``cancel_position = "volume"`` writes
a CANCEL / DELETE's position in the cumulative resting lots of levels 1-10 instead of its level number
(:func:`generators.encoding.volume_position`; the rollout maps it back to a level in the book it meets), recorded
in its encoding and in the checkpoint's ``encoding_version``. ``cancel_position = "depth"`` does the same with a
pseudo-depth behind the levels, fitted per side on the training span (:func:`generators.encoding.fit_beyond_lots`):
a removal beyond them is the last share of the depth, so their share of the removals can grow with their lots.
``add_price = "own"`` (session 24) writes an ADD's price as the ticks inside its own side's best instead of the
ticks inside the opposite best (:mod:`generators.encoding`), recorded in its encoding and ``encoding_version``;
``add_price = "touch"`` writes so only the ADDs at or behind their own best (the others as by default).
``add_price = "share"`` (session 25) writes an ADD at or inside the spread as its share of the spread (the rollout
reads it against the spread of the book it meets), one behind its own best as ``"own"`` does.
``trade_message = "order"`` (session 42) merges each marketable order's fills at one price (a run of executions of
one side, one price and one time) into one TRADE message before encoding (:func:`generators.encoding.merge_fills`),
recorded in its encoding and ``encoding_version``: the rollout's ``"queue"`` fill splits such a message back into one
fill per resting order it meets, as the data record them.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from generators.checkpoint import CONFIG_FILE
from generators.config import gan_preset, preset
from generators.data import read_flow, split_by_time
from generators.diffusion import DiffusionGenerator
from generators.encoding import (
    ADD_PRICE,
    ADD_PRICES,
    CANCEL_POSITION,
    CANCEL_POSITIONS,
    KNOWN_DEPTH_ONLY,
    LEVEL_PRICES,
    MASK_FIELDS,
    TRADE_MESSAGE,
    TRADE_MESSAGES,
)
from generators.gan import GANGenerator
from simlab.errors import DataError, ParameterError
from simlab.io import DEFAULT_DATA_DIR

FAMILIES = ("diffusion", "gan")
_KEYS = {
    "data": {
        "message",
        "books",
        "split",
        "span_s",
        "known_depth_only",
        "level_prices",
        "cancel_position",
        "add_price",
        "trade_message",
    },
    "model": {"family", "preset", "seed", "overrides"},
}


@dataclass(frozen=True)
class TrainSpec:
    """A parsed training spec (see the module docstring); paths are relative to the data folder."""

    message: str
    books: tuple[str, ...]
    seed: int
    split: tuple[float, float, float] = (0.6, 0.2, 0.2)
    family: str = "diffusion"
    preset: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    text: str = ""
    span_s: tuple[float, float] | None = None
    known_depth_only: bool = False
    level_prices: bool = False
    cancel_position: str = "level"
    add_price: str = "opposite"
    trade_message: str = "fill"


def load_spec(path: str | Path) -> TrainSpec:
    """Read and check a training spec TOML file."""
    path = Path(path)
    try:
        text = path.read_text()
        document = tomllib.loads(text)
    except OSError as error:
        raise DataError(f"spec {path} cannot be read ({error.strerror})") from None
    except tomllib.TOMLDecodeError as error:
        raise DataError(f"spec {path}: not valid TOML ({error})") from None
    unknown = sorted(set(document) - set(_KEYS))
    if unknown:
        raise ParameterError(f"spec {path}: unknown tables {unknown}; expected {sorted(_KEYS)}")
    for table, keys in _KEYS.items():
        extra = sorted(set(document.get(table, {})) - keys)
        if extra:
            expected = sorted(keys)
            raise ParameterError(f"spec {path}: unknown keys {extra} in table {table!r}; expected some of {expected}")
    data, model = document.get("data", {}), document.get("model", {})
    for table, key in (("data", "message"), ("data", "books"), ("model", "seed")):
        if key not in document.get(table, {}):
            raise ParameterError(f"spec {path}: table {table!r} needs the key {key!r}")
    span = data.get("span_s")
    if span is not None and (
        not isinstance(span, list) or len(span) != 2 or not all(isinstance(v, (int, float)) for v in span)
        or span[0] < 0 or span[1] <= 0
    ):  # fmt: skip
        raise ParameterError(f"spec {path}: span_s in table 'data' must be [start >= 0, duration > 0] s; got {span!r}")
    known_only = data.get("known_depth_only", False)
    if not isinstance(known_only, bool):
        raise ParameterError(f"spec {path}: known_depth_only in table 'data' must be true or false; got {known_only!r}")
    level_prices = data.get("level_prices", False)
    if not isinstance(level_prices, bool):
        raise ParameterError(f"spec {path}: level_prices in table 'data' must be true or false; got {level_prices!r}")
    position = data.get("cancel_position", "level")
    if position not in CANCEL_POSITIONS:
        raise ParameterError(
            f"spec {path}: cancel_position in table 'data' must be one of {list(CANCEL_POSITIONS)}; got {position!r}"
        )
    add_price = data.get("add_price", "opposite")
    if add_price not in ADD_PRICES:
        raise ParameterError(
            f"spec {path}: add_price in table 'data' must be one of {list(ADD_PRICES)}; got {add_price!r}"
        )
    trade_message = data.get("trade_message", "fill")
    if trade_message not in TRADE_MESSAGES:
        raise ParameterError(
            f"spec {path}: trade_message in table 'data' must be one of {list(TRADE_MESSAGES)}; got {trade_message!r}"
        )
    family = model.get("family", "diffusion")
    if family not in FAMILIES:
        raise ParameterError(f"spec {path}: family in table 'model' must be one of {list(FAMILIES)}; got {family!r}")
    return TrainSpec(
        message=str(data["message"]),
        books=tuple(str(p) for p in data["books"]),
        seed=model["seed"],
        split=tuple(data.get("split", (0.6, 0.2, 0.2))),
        family=family,
        preset=model.get("preset"),
        overrides=dict(model.get("overrides", {})),
        text=text,
        span_s=None if span is None else (float(span[0]), float(span[1])),
        known_depth_only=known_only,
        level_prices=level_prices,
        cancel_position=position,
        add_price=add_price,
        trade_message=trade_message,
    )


def spec_flow(spec: TrainSpec, data_dir: str | Path = DEFAULT_DATA_DIR) -> dict[str, xr.Dataset]:
    """Read the spec's real data as one flow (``events`` and ``books``), cut to its ``span_s`` slice if it has one."""
    data_dir = Path(data_dir)
    paths = [data_dir / p for p in (spec.message, *spec.books)]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise DataError(f"spec data: files {missing} do not exist (data folder {data_dir})")
    flow = read_flow(paths[0], tuple(paths[1:]))
    return flow if spec.span_s is None else slice_flow(flow, *spec.span_s)


def spec_spans(spec: TrainSpec, data_dir: str | Path = DEFAULT_DATA_DIR) -> dict[str, dict[str, xr.Dataset]]:
    """Read the spec's real data (its ``span_s`` slice, if any) and split it by time into ``train``, ``validation``
    and ``test``."""
    flow = spec_flow(spec, data_dir)
    return split_by_time(flow["events"], flow["books"], spec.split)


def slice_flow(flow: dict[str, xr.Dataset], start_s: float, duration_s: float) -> dict[str, xr.Dataset]:
    """Return the events (and books) of ``[first event + start_s, + duration_s)``; refuse a slice of < 2 events."""
    ts = flow["events"]["ts_ns"].values
    lo, hi = ts[0] + int(round(start_s * 1e9)), ts[0] + int(round((start_s + duration_s) * 1e9))
    a, b = (int(i) for i in np.searchsorted(ts, [lo, hi], side="left"))
    if b - a < 2:
        span = (ts[-1] - ts[0]) / 1e9
        raise DataError(
            f"spec data: span_s [{start_s:g}, {duration_s:g}] s holds {b - a} events; need >= 2 (the file spans "
            f"{span:.1f} s)"
        )
    return {"events": flow["events"].isel(event=slice(a, b)), "books": flow["books"].isel(time=slice(a, b))}


def train_from_spec(
    spec_path: str | Path,
    output: str | Path,
    *,
    data_dir: str | Path = DEFAULT_DATA_DIR,
    resume: bool = False,
    progress: Callable[[int, int, float, float | None], None] | None = None,
) -> DiffusionGenerator | GANGenerator:
    """Train the spec's model on its train and validation spans, checkpointing to ``output``; return it.

    Parameters
    ----------
    spec_path
        The TOML spec.
    output
        The model folder (written at every validation, then with the best weights).
    data_dir
        Where the spec's paths are (default ``../shared/data``).
    resume
        Continue the training checkpointed in ``output``.
    progress
        Called after every validation with (step, max steps, training loss, validation loss).
    """
    spec = load_spec(spec_path)
    spans = spec_spans(spec, data_dir)
    if spec.family == "gan":
        generator = GANGenerator(gan_preset(spec.preset, **spec.overrides))
    else:
        generator = DiffusionGenerator(preset(spec.preset, **spec.overrides))
    train = {"train": spans["train"], "validation": spans["validation"]}
    if spec.known_depth_only:
        train["train"] = known_depth_only(spans["train"], spec_path)
    options = {  # the encoding's options, as attributes of the training books (generators.encoding.fit_encoding)
        LEVEL_PRICES: (spec.level_prices, False),
        CANCEL_POSITION: (spec.cancel_position, "level"),
        ADD_PRICE: (spec.add_price, "opposite"),
        TRADE_MESSAGE: (spec.trade_message, "fill"),
    }
    attrs = {name: value for name, (value, default) in options.items() if value != default}
    if attrs:
        span = train["train"]
        train["train"] = {**span, "books": span["books"].assign_attrs(attrs)}
    generator.fit(train, seed=spec.seed, checkpoint=output, resume=resume, progress=progress)
    generator.save(output)
    return generator


def known_depth_only(span: dict[str, xr.Dataset], spec_path: str | Path) -> dict[str, xr.Dataset]:
    """Return the training span with its books marked to train on known depth only; refuse books without masks."""
    books = span["books"]
    missing = [name for name in MASK_FIELDS if name not in books]
    if missing:
        raise ParameterError(
            f"spec {spec_path}: known_depth_only in table 'data' needs books with the masks {list(MASK_FIELDS)} "
            f"(a replay: books = [level-N message file, its orderbook file]); the books lack {missing}"
        )
    return {**span, "books": books.assign_attrs({KNOWN_DEPTH_ONLY: True})}


def load_generator(path: str | Path) -> DiffusionGenerator | GANGenerator:
    """Load a model folder of either family (named by its ``config.json``); refuse it whole when it does not match."""
    try:
        family = json.loads((Path(path) / CONFIG_FILE).read_text()).get("family")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        family = None  # the family's own load names what is wrong with the folder
    return GANGenerator.load(path) if family == "gan" else DiffusionGenerator.load(path)
