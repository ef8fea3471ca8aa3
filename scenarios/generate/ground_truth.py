"""Ground truth of the generators: a diffusion model trained on a process of known law, scored against that law.

A Hawkes-driven book from a preset (``calibration/presets/hawkes-aapl.toml``) is the *process A*. One long path of
it trains the diffusion model (the first ``train_s`` seconds) and validates it (the next ``validation_s``). The
model then samples ``paths`` paths of ``test_s`` seconds from its sampling context. Each sample is scored with the
realism scorecard (:func:`simlab.metrics.scorecard.score`) against a *fresh* path of A (a new seed, never trained
on). The real-vs-real floor is computed the same way: a second fresh path of A scored against the same reference
path. A model whose mean L1 interval overlaps the floor's is "indistinguishable" from the process it learned.

As a contrast that checks the pipeline end to end, the model's samples are also scored against fresh paths of a
*process B*: another book preset (``contrast``, e.g. ``zi-aapl``, the zero-intelligence book of the same hour) or
process A with every Hawkes baseline intensity multiplied by ``contrast_baseline_factor`` (3 by default, about
3 times the order flow). A model that learned A must score closer to A than to B, on the scores that tell B from A
(:func:`separation`).

``python -m scenarios.generate.ground_truth scenarios/library/generate_hawkes_truth_tiny.toml -o truth.json``
runs the whole check once (spec format: :func:`load_truth_spec`), prints a summary and writes every number, with
provenance, to the JSON file.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from calibration.book_presets import BookPreset, load_book_preset, simulate_book_preset
from generators import encoding as enc
from generators.base import _context_end
from generators.config import preset as diffusion_preset
from generators.diffusion import DiffusionGenerator
from generators.evaluation import compare_cards
from generators.rollout import MESSAGE_THINNED, REASONS, BookPath, check_trade_fill, start_orders
from scenarios.generate.rate import rate_probe
from simlab.errors import DataError, ParameterError
from simlab.metrics.scorecard import ScoreCard, score
from simlab.provenance import provenance
from simlab.schema import NO_PRICE, EventKind

_KEYS = {
    "process": {"preset", "train_s", "validation_s", "depth"},
    "test": {"paths", "duration_s", "n_boot", "contrast", "contrast_baseline_factor", "start", "replay", "trade_fill"},
    "model": {"preset", "seed", "fit_seed", "overrides", "cancel_position", "trade_message"},
}


START_BOOKS = ("context", "full_book")


@dataclasses.dataclass(frozen=True)
class TruthSpec:
    """A parsed ground-truth spec (see :func:`load_truth_spec`); durations in seconds."""

    seed: int
    process: str = "hawkes-aapl"
    train_s: float = 1800.0
    validation_s: float = 600.0
    depth: int = 10
    paths: int = 4
    duration_s: float = 120.0
    n_boot: int = 100
    contrast: str | None = None
    contrast_baseline_factor: float = 3.0
    model_preset: str = "tiny"
    overrides: dict[str, Any] = dataclasses.field(default_factory=dict)
    fit_seed: int | None = None  # the model's training seed, when not ``seed`` (the process paths keep ``seed``)
    start: str = "context"  # the model's start book: "context" (one order per level, 10 levels) or "full_book"
    replay: bool = False  # also replay fresh paths' true messages through the rollout (see replay_rows)
    cancel_position: str = "level"  # a removal's place: "level", "volume" (its depth share), "depth"
    trade_fill: str = "queue"  # what a generated TRADE fills (generators.rollout.TRADE_FILLS)
    trade_message: str = "fill"  # what one TRADE message is (generators.encoding.TRADE_MESSAGES)

    def __post_init__(self) -> None:
        for name in ("train_s", "validation_s", "duration_s", "contrast_baseline_factor"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ParameterError(f"`{name}` of the ground-truth spec must be a number > 0; got {value!r}")
        for name in ("seed", "depth", "paths", "n_boot"):
            value = getattr(self, name)
            low = 0 if name == "seed" else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ParameterError(f"`{name}` of the ground-truth spec must be an int >= {low}; got {value!r}")
        if self.fit_seed is not None and (isinstance(self.fit_seed, bool) or not isinstance(self.fit_seed, int)
                                          or self.fit_seed < 0):  # fmt: skip
            raise ParameterError(f"`fit_seed` of the ground-truth spec must be an int >= 0; got {self.fit_seed!r}")
        if self.start not in START_BOOKS:
            expected = list(START_BOOKS)
            raise ParameterError(f"`start` of the ground-truth spec must be one of {expected}; got {self.start!r}")
        if not isinstance(self.replay, bool):
            raise ParameterError(f"`replay` of the ground-truth spec must be true or false; got {self.replay!r}")
        if self.cancel_position not in enc.CANCEL_POSITIONS:
            expected = list(enc.CANCEL_POSITIONS)
            raise ParameterError(
                f"`cancel_position` of the ground-truth spec must be one of {expected}; got {self.cancel_position!r}"
            )
        check_trade_fill(self.trade_fill, "`trade_fill` of the ground-truth spec")
        enc.check_trade_message(self.trade_message, source="`trade_message` of the ground-truth spec")
        if self.trade_message == "order" and self.trade_fill == "front":
            raise ParameterError(
                "`trade_fill` of the ground-truth spec: a model of whole marketable orders (trade_message 'order') is "
                "sampled under trade_fill 'queue'; got 'front'"
            )
        if self.replay and self.trade_fill != "queue":
            raise ParameterError(
                f"`replay` of the ground-truth spec replays true messages under trade_fill 'queue'; got replay = true "
                f"with trade_fill {self.trade_fill!r} (set replay = false)"
            )
        if self.contrast_baseline_factor == 1.0:
            raise ParameterError("`contrast_baseline_factor` of the ground-truth spec must differ from 1; got 1.0")


def load_truth_spec(path: str | Path) -> TruthSpec:
    """Read a ground-truth spec: tables ``[process]``, ``[test]`` and ``[model]``; unknown keys are refused.

    ``[process]`` names the Hawkes-driven book ``preset`` and the ``train_s``, ``validation_s`` spans and book
    ``depth``; ``[test]`` the sampled and fresh ``paths``, their ``duration_s``, the scorecard's ``n_boot`` and
    process B: another book preset named by ``contrast`` or, without it, process A with its Hawkes baselines
    times ``contrast_baseline_factor``; optionally ``start`` (the model's start book: ``"context"``, the default,
    one order per level of the 10-level context book as on real data, or ``"full_book"``, every order resting in
    the process at the context's time, at every level: :func:`process_context`) and ``replay`` (true: also
    :func:`replay_rows`) and ``trade_fill`` (what the model's generated TRADEs fill,
    :data:`generators.rollout.TRADE_FILLS`: ``"front"``, at most the best queue's front order);
    ``[model]`` the diffusion ``preset``, ``seed``, ``overrides`` and optionally ``fit_seed`` (the training seed
    alone, to see how a result depends on it with the same process paths) and ``cancel_position`` (``"volume"``:
    the model's encoding writes a removal's position in the resting depth, not its level; see
    :func:`generators.encoding.volume_position`; ``"depth"``: the same with a fitted pseudo-depth behind the levels,
    :func:`generators.encoding.fit_beyond_lots`) and ``trade_message`` (``"order"``: a marketable order's fills at
    one price are one message, :func:`generators.encoding.merge_fills`).
    """
    path = Path(path)
    try:
        document = tomllib.loads(path.read_text())
    except OSError as error:
        raise DataError(f"ground-truth spec {path} cannot be read ({error.strerror})") from None
    except tomllib.TOMLDecodeError as error:
        raise DataError(f"ground-truth spec {path}: not valid TOML ({error})") from None
    unknown = sorted(set(document) - set(_KEYS))
    if unknown:
        raise ParameterError(f"ground-truth spec {path}: unknown tables {unknown}; expected {sorted(_KEYS)}")
    for table, keys in _KEYS.items():
        extra = sorted(set(document.get(table, {})) - keys)
        if extra:
            expected = sorted(keys)
            raise ParameterError(f"ground-truth spec {path}: unknown keys {extra} in [{table}]; expected {expected}")
    if "seed" not in document.get("model", {}):
        raise ParameterError(f"ground-truth spec {path}: table 'model' needs the key 'seed'")
    process, test, model = (dict(document.get(t, {})) for t in ("process", "test", "model"))
    if "preset" in process:
        process["process"] = process.pop("preset")
    if "preset" in model:
        model["model_preset"] = model.pop("preset")
    return TruthSpec(**process, **test, **model)


def contrast_preset(preset: BookPreset, factor: float) -> BookPreset:
    """Return ``preset`` with every Hawkes baseline intensity multiplied by ``factor`` (process B)."""
    hawkes = getattr(preset.params, "hawkes", None)
    if hawkes is None:
        raise ParameterError(f"ground truth: preset {preset.name!r} is not a Hawkes-driven book (model {preset.model})")
    params = dataclasses.replace(preset.params, hawkes=dataclasses.replace(hawkes, baseline=hawkes.baseline * factor))
    return dataclasses.replace(preset, name=f"{preset.name} (baseline x{factor:g})", params=params)


def simulate_path(preset: BookPreset, duration_s: float, seed: np.random.SeedSequence, depth: int) -> dict:
    """Simulate one path of ``preset`` and drop its initial orders (the warmed-up book is the first row)."""
    return drop_initial(simulate_flow(preset, duration_s, seed, depth))


def simulate_flow(preset: BookPreset, duration_s: float, seed: np.random.SeedSequence, depth: int) -> dict:
    """Simulate one path of ``preset`` with its initial orders (the warmed-up book's resting orders, as ADDs)."""
    return simulate_book_preset(preset, duration_s, rng=np.random.default_rng(seed), depth=depth)


def drop_initial(flow: dict[str, xr.Dataset]) -> dict[str, xr.Dataset]:
    """Return ``flow`` without its initial orders (``initial_orders`` events and book rows).

    The cut flow's ``initial_orders`` attributes are 0 (``flow``'s own is kept): the scorecard and the flow statistics
    leave out that many leading events, which are now real flow. Before session 17 the attribute was kept, so a
    fresh path's first 143-219 real events (its first 5-21 s) were left out of its scores.
    """
    skip = int(flow["events"].attrs.get("initial_orders", 0))
    cut = {"events": flow["events"].isel(event=slice(skip, None)), "books": flow["books"].isel(time=slice(skip, None))}
    for data in cut.values():
        if "initial_orders" in data.attrs:  # a new dict: the whole flow keeps its count
            data.attrs = {**data.attrs, "initial_orders": 0}
    return cut


def resting_orders(events: xr.Dataset, end: int) -> np.ndarray:
    """Return every order resting after event ``end`` of a simulated flow, at every level: int64 ``(n, 3)``.

    The rows are side (+1 bid, -1 ask), price (ticks) and lots, in time priority (placing order). A book simulator
    names every order (``order_id``) and opens its events with the resting orders of its warmed-up book, so the
    whole book is known: an ADD rests an order, a CANCEL or a TRADE (one per fill, naming the resting order) takes
    lots from it, a DELETE removes it. ``events`` must hold the initial orders (:func:`simulate_flow`).
    """
    if not 0 <= end < events.sizes["event"]:
        raise ParameterError(f"`end` of resting_orders must be an event row in [0, {events.sizes['event']}); got {end}")
    names = ("kind", "side", "price_ticks", "qty_lots", "order_id")
    kind, side, price, qty, ids = (events[name].values[: end + 1].astype(np.int64) for name in names)
    resting: dict[int, list[int]] = {}  # id -> [side, price, lots]; dicts keep insertion (time) order
    rows = zip(kind.tolist(), side.tolist(), price.tolist(), qty.tolist(), ids.tolist(), strict=True)
    for row, (k, sd, pr, q, i) in enumerate(rows):
        if k == EventKind.ADD:
            resting[i] = [sd, pr, q]
        elif k in (EventKind.CANCEL, EventKind.TRADE):
            if i not in resting:
                raise DataError(f"resting_orders: event {row} (kind {k}) names order {i}, which is not resting")
            resting[i][2] -= q
            if resting[i][2] <= 0:
                del resting[i]
        elif k == EventKind.DELETE:
            resting.pop(i, None)
    # a TRADE's side is the aggressor's: the resting order keeps the side of its ADD
    return np.asarray(list(resting.values()), np.int64).reshape(-1, 3)


def full_book_context(context: dict[str, Any], orders: np.ndarray) -> dict[str, Any]:
    """Return a sampling context that starts from the whole book ``orders`` instead of one order per level.

    The context's books gain levels behind its own (empty in the history rows; the start row holds every level of
    ``orders``), which the rollout's engine rests order by order (:func:`generators.rollout.start_orders` checks
    that the lots at every price add up) while the model still sees the first
    :data:`generators.encoding.DEPTH_LEVELS` levels. The first levels of ``orders`` must be the context's start
    book (checked), so only the queues and the levels behind it differ from the context.
    """
    books = np.asarray(context["books"], np.int64)
    levels = books.shape[2]
    sides = []
    for side in (1, -1):  # bids best (highest) first, asks best (lowest) first
        own = orders[orders[:, 0] == side]
        prices = np.unique(own[:, 1])[::-side]
        lots = np.array([own[own[:, 1] == p, 2].sum() for p in prices], np.int64)
        sides.append((prices, lots))
    depth = max(levels, *(prices.shape[0] for prices, _ in sides))
    start = np.zeros((4, depth), np.int64)
    start[[0, 2]] = NO_PRICE
    for j, (prices, lots) in enumerate(sides):
        start[2 * j, : prices.shape[0]], start[2 * j + 1, : lots.shape[0]] = prices, lots
    last = books[-1]
    if not np.array_equal(start[:, :levels][[1, 3]], last[[1, 3]]) or not np.array_equal(
        np.where(last[[1, 3]] > 0, start[:, :levels][[0, 2]], 0), np.where(last[[1, 3]] > 0, last[[0, 2]], 0)
    ):
        raise DataError("full_book_context: the first levels of the resting orders are not the context's start book")
    padded = np.zeros((books.shape[0], 4, depth), np.int64)
    padded[:, [0, 2]] = NO_PRICE
    padded[:, :, :levels] = books
    padded[-1] = start
    return {**context, "books": padded, "orders": orders}


def split_at(flow: dict[str, xr.Dataset], seconds: float) -> dict[str, dict[str, xr.Dataset]]:
    """Cut a flow into ``train`` (its first ``seconds``) and ``validation`` (the rest; its first event the anchor)."""
    ts = flow["events"]["ts_ns"].values
    cut = int(np.searchsorted(ts, ts[0] + int(seconds * 1e9), side="left"))
    if not 0 < cut < ts.shape[0] - 1:
        raise DataError(f"ground truth: the simulated flow ({ts.shape[0]} events) cannot be cut at {seconds} s")
    spans = {"train": slice(0, cut), "validation": slice(cut, None)}
    return {
        name: {"events": flow["events"].isel(event=part), "books": flow["books"].isel(time=part)}
        for name, part in spans.items()
    }


def process_context(model: DiffusionGenerator, whole: dict[str, xr.Dataset], spans: dict) -> dict[str, Any]:
    """Return the model's sampling context started from the process's whole book at the context's time.

    ``whole`` is the process path the model was trained on, with its initial orders (:func:`simulate_flow`);
    ``spans`` its :func:`split_at` without them. The context ends at the book row :func:`generators.base._context_end`
    picks in the validation span (as training did); the orders resting there (:func:`resting_orders`) replace the
    context's one order per level (:func:`full_book_context`). The time and the first 10 levels must be the
    model's context (checked), so only the queues and the levels behind them differ.
    """
    rows = max(model.encoding_.history, enc.FLOW_WINDOW)
    skip = int(whole["events"].attrs.get("initial_orders", 0))
    validation = spans["validation"]
    row = _context_end(model.encoding_.span(validation["events"], validation["books"])[1], rows)
    if model.encoding_.trade_message == "order":  # the context's row of the merged span: its run's last fill
        row = int(enc.fill_runs(validation["events"])[1][row])
    end = skip + int(spans["train"]["events"].sizes["event"]) + row
    if int(whole["events"]["ts_ns"].values[end]) != int(model.context_["ts_ns"]):
        raise DataError(
            f"ground truth: the model's context (ts_ns {model.context_['ts_ns']}) is not at row {end} of the process "
            "path; was the model trained on this spec's process path?"
        )
    return full_book_context(model.context_, resting_orders(whole["events"], end))


def replay_fresh(
    context: dict[str, Any], whole: dict[str, xr.Dataset], duration_s: float, *, seed: np.random.SeedSequence,
    depth: int, book_levels: int, trade_message: str = "fill",
) -> dict[str, xr.Dataset]:  # fmt: skip
    """Replay a fresh path's true messages through the rollout's rules from ``context``, on the context's clock.

    The messages are the path's own after its warmed-up book (:func:`generators.encoding.message_table` of the
    flow from its last initial order on: message *i* is the path's event *i*), each at its time since the warmed-up
    book, applied one at a time as a model's would be (:func:`scenarios.generate.replay.replay_messages`: a message
    the rollout rejects is counted and skipped) for ``duration_s`` from the context's time. ``context=None``
    starts from the path's own warmed-up book (every order, at every level: :func:`resting_orders` after its last
    initial order): what remains then is the rollout's rules alone. ``trade_message = "order"`` replays each
    marketable order's fills at one price as one message (:func:`generators.encoding.merge_fills`), which the
    rollout splits among the orders it meets.
    """
    from scenarios.generate.replay import replay_messages  # here: replay imports heldout, which imports this module

    skip = int(whole["events"].attrs.get("initial_orders", 0))
    if skip < 1:
        raise DataError("replay_fresh: the fresh path has no initial orders (its warmed-up book is unknown)")
    events, books = whole["events"].isel(event=slice(skip - 1, None)), whole["books"].isel(time=slice(skip - 1, None))
    if enc.check_trade_message(trade_message, source="replay_fresh") == "order":
        events, books = enc.merge_fills(events, books)
    ts = events["ts_ns"].values.astype(np.int64)
    if context is None:
        first = np.stack([books[name].values[:1] for name in ("bid_price", "bid_qty", "ask_price", "ask_qty")], 1)
        own = {"books": first.astype(np.int64), "table": np.zeros((0, 6), np.int64), "ts_ns": int(ts[0])}
        context = full_book_context(own, resting_orders(whole["events"], skip - 1))
    start = int(context["ts_ns"])
    end_ns = start + int(round(duration_s * 1e9))
    path = BookPath(context, depth, np.random.default_rng(seed), end_ns, False, book_levels)
    table = enc.message_table(events, books, source="fresh path").table
    replay_messages(path, table, start + ts[1:] - ts[0])
    attrs = {name: events.attrs[name] for name in ("tick_size", "lot_size", "instrument", "venue")}
    return path.datasets({**attrs, "generator": "replay"}, "scenarios.generate.ground_truth.replay_fresh")


def replay_rows(
    contexts: dict[str, dict[str, Any]],
    peers: list[dict[str, xr.Dataset]],
    references: list[dict[str, xr.Dataset]],
    cards: dict[str, list[ScoreCard]],
    *,
    spec: TruthSpec,
    seeds: list[np.random.SeedSequence],
    score_seeds: list[np.random.SeedSequence],
    book_levels: int,
) -> dict[str, Any]:
    """Replay the floor's fresh paths (``peers``, with initial orders) through the rollout; score them like the model.

    A perfect model would generate the process's messages; the floor's own fresh path is such a draw. Its messages
    are replayed (:func:`replay_fresh`) from every start book of ``contexts`` (``"context"``: the model's, one order
    per level; ``"full_book"``: :func:`process_context`) and from the path's own whole book (``"own"``: the rules
    alone), each scored against the same fresh reference path with the model's scoring seed. What lies between a
    replay and the floor is the rollout's and its start book's; what lies between the model and the replay from
    the model's start, the model's.

    Returns
    -------
    dict
        ``starts``: per start, ``paths`` (per path :func:`compare_cards` against the floor, with
        ``indistinguishable``), ``rollout`` (the counts: applied, rejected by reason), ``volume``
        (:func:`resting_volume`) and ``flow_by_level`` (:func:`flow_by_level`); ``per_score``: :func:`per_score`
        of the model, the floor and every replay.
    """
    out: dict[str, Any] = {"starts": {}}
    replay_cards = {}
    for name, context in {"own": None, **contexts}.items():
        paths = [
            replay_fresh(
                context,
                peer,
                spec.duration_s,
                seed=seeds[i],
                depth=spec.depth,
                book_levels=book_levels,
                trade_message=spec.trade_message,
            )  # fmt: skip
            for i, peer in enumerate(peers)
        ]
        replay_cards[name] = [
            score(path, references[i], seed=int(score_seeds[i].generate_state(1)[0]), n_boot=spec.n_boot)
            for i, path in enumerate(paths)
        ]
        out["starts"][name] = {
            "paths": [_against_floor(c, floor) for c, floor in zip(replay_cards[name], cards["floor"], strict=True)],
            "rollout": [_counts(path, spec.duration_s) for path in paths],
            "volume": resting_volume(paths, spec.duration_s),
            "flow_by_level": flow_by_level(paths, spec.duration_s),
        }
    table = {"model": cards["model"], "floor": cards["floor"]}
    out["per_score"] = per_score(table | {f"replay_{name}": group for name, group in replay_cards.items()})
    return out


def _each_second(books: xr.Dataset, seconds: np.ndarray) -> np.ndarray:
    """The book row in force at each of ``seconds`` after the path's first book row (the last row at or before it)."""
    ts = books["ts_ns"].values.astype(np.int64)
    return np.clip(np.searchsorted(ts, ts[0] + (seconds * 1e9).astype(np.int64), side="right") - 1, 0, None)


def resting_volume(paths: list[dict[str, xr.Dataset]], duration_s: float, bins: int = 5) -> dict[str, Any]:
    """Return the lots resting on the first 10 levels per side, averaged over the paths, in ``bins`` time bins.

    The book is read every second from the path's first book row (a generated path's start, a fresh path's first
    event); each bin's value is the mean over its seconds and the paths. Also the mean over the whole path.
    """
    edges = np.linspace(0.0, duration_s, bins + 1)
    seconds = np.arange(int(duration_s)) + 0.5
    out: dict[str, Any] = {"bins_s": [[float(a), float(b)] for a, b in zip(edges[:-1], edges[1:], strict=True)]}
    series = {"bid": [], "ask": []}
    for path in paths:
        books = path["books"]
        row = _each_second(books, seconds)
        for side in series:
            series[side].append(books[f"{side}_qty"].values[row, : enc.DEPTH_LEVELS].sum(axis=1))
    for side, values in series.items():
        mean = np.mean(values, axis=0)
        out[side] = [float(mean[(seconds >= a) & (seconds < b)].mean()) for a, b in out["bins_s"]]
        out[f"{side}_mean"] = float(mean.mean())
    return out


def flow_by_level(paths: list[dict[str, xr.Dataset]], duration_s: float) -> dict[str, Any]:
    """Return the lots added and removed per second at each book level, and the removals per resting lot.

    ``paths`` hold their initial orders (``initial_orders`` events, left out of the counts): a sampled path, a
    replay or a fresh path of :func:`simulate_flow`.

    A message's level is the number of quoted levels of its resting side priced better than it in the book before
    it, plus one (1-10; 11 beyond level 10): an ADD at a quoted price joins that level, one inside it opens a new
    best (level 1). TRADEs take from level 1 of the side they execute against. The resting lots per level are read
    every second (as :func:`resting_volume`). Every number is per side, summed over ``paths`` and divided by their
    total time; ``delete_per_lot`` (DELETE and CANCEL lots per second over the mean resting lots) is the rate at
    which a resting lot at that level is removed by a cancellation, ``trade_per_lot`` by a trade (level 1).
    """
    levels = enc.DEPTH_LEVELS
    sums = {name: np.zeros((2, levels + 1)) for name in ("add", "delete", "trade")}
    resting = np.zeros((2, levels))
    seconds = np.arange(int(duration_s)) + 0.5
    for path in paths:
        events, books = path["events"], path["books"]
        # the book before event k is row k - 1: from the last initial order on (a flow without them: from its
        # second event on, its first event's book before being unknown)
        first = max(int(events.attrs.get("initial_orders", 0)), 1)
        kind, side, price, qty = (
            events[name].values.astype(np.int64)[first:] for name in ("kind", "side", "price_ticks", "qty_lots")
        )
        rows = slice(first - 1, first - 1 + kind.shape[0])
        for j, (sign, name) in enumerate(((1, "bid"), (-1, "ask"))):
            prices, lots = (books[f"{name}_{field}"].values[rows, :levels] for field in ("price", "qty"))
            better = ((lots > 0) & (sign * (prices - price[:, None]) > 0)).sum(axis=1)
            level = np.minimum(better, levels)  # 0-based; 10 = beyond level 10
            resting_side = np.where(kind == EventKind.TRADE, -side, side) == sign
            for label, kinds in (("add", (EventKind.ADD,)), ("delete", (EventKind.DELETE, EventKind.CANCEL))):
                mask = resting_side & np.isin(kind, kinds)
                np.add.at(sums[label][j], level[mask], qty[mask])
            trade = resting_side & (kind == EventKind.TRADE)
            sums["trade"][j, 0] += qty[trade].sum()
        row = _each_second(books, seconds)
        for j, name in enumerate(("bid", "ask")):
            shown = books[f"{name}_qty"].values[row, :levels]
            resting[j, : shown.shape[1]] += shown.mean(axis=0)  # a book of fewer levels: the rest hold none
    total_s = duration_s * len(paths)
    out: dict[str, Any] = {}
    for j, name in enumerate(("bid", "ask")):
        mean = resting[j] / len(paths)
        rates = {label: values[j] / total_s for label, values in sums.items()}
        out[name] = {
            "resting_lots": mean.tolist(),
            "add_lots_per_s": rates["add"].tolist(),
            "delete_lots_per_s": rates["delete"].tolist(),
            "trade_lots_per_s": float(rates["trade"][0]),
            "delete_per_lot": (rates["delete"][:levels] / np.maximum(mean, 1e-9)).tolist(),
            "trade_per_lot": float(rates["trade"][0] / max(mean[0], 1e-9)),
        }
    return out


def ground_truth(
    spec: TruthSpec,
    *,
    progress: Any = None,
    model_out: str | Path | None = None,
    model: DiffusionGenerator | None = None,
) -> dict[str, Any]:
    """Train the diffusion model on process A, score its samples and the A-vs-A floor against fresh paths of A.

    With ``model_out``, the trained model is also saved there (a checkpoint folder, for later sampling). With
    ``model`` (one this spec trained, e.g. loaded from ``model_out``; its sampling settings may differ), nothing is
    trained: that model is sampled and scored on the same process paths and seeds.

    Returns
    -------
    dict
        ``paths``: per sampled path, ``model`` (model vs fresh A), ``floor`` (fresh A vs the same fresh A path),
        ``contrast`` (model vs fresh B) and ``b_vs_a`` (fresh B vs fresh A) from :func:`compare_cards` against the
        floor, each with ``indistinguishable`` (the intervals overlap); ``per_score``: :func:`per_score` of the
        four; ``separation``: :func:`separation`; ``training``: the validation curve; ``rollout``: the message counts;
        ``rate_probe``: :func:`scenarios.generate.rate.rate_probe` on the validation span (the one-step inter-arrival
        law on true histories and how the rollout feeds it back); ``start_book``: the levels, lots and orders of the
        context's start book and of the process's whole book there (:func:`process_context`); ``resting_volume``
        and ``flow_by_level``: :func:`resting_volume` and :func:`flow_by_level` of the model's, the reference and the
        peer fresh paths (and of the replays); ``replay``: :func:`replay_rows` when the spec asks (else None).
    """
    preset = load_book_preset(spec.process)
    if spec.contrast is None:
        contrast = contrast_preset(preset, spec.contrast_baseline_factor)
    else:
        contrast = load_book_preset(spec.contrast)
    seeds = np.random.SeedSequence(spec.seed).spawn(7)  # children are keyed by index: the first 6 as before
    whole = simulate_flow(preset, spec.train_s + spec.validation_s, seeds[0], spec.depth)
    flow = drop_initial(whole)
    spans = split_at(flow, spec.train_s)
    options = {enc.CANCEL_POSITION: spec.cancel_position, enc.TRADE_MESSAGE: spec.trade_message}
    options = {k: v for k, v in options.items() if v not in ("level", "fill")}
    if options:
        train = spans["train"]
        spans = {**spans, "train": {**train, "books": train["books"].assign_attrs(options)}}
    if model is None:
        model = DiffusionGenerator(diffusion_preset(spec.model_preset, **spec.overrides), device="cpu")
        model.fit(spans, seed=spec.seed if spec.fit_seed is None else spec.fit_seed, progress=progress)
    if model_out is not None:
        model.save(model_out)
    probe = rate_probe(model, spans["validation"]["events"], spans["validation"]["books"], contexts=_probe_size(spans))
    sample_seed = int(seeds[1].generate_state(1)[0])
    full_book = process_context(model, whole, spans)
    starts = None if spec.start == "context" else [full_book] * spec.paths
    samples = model.sample(
        spec.paths, spec.duration_s, generator=sample_seed, starts=starts, trade_fill=spec.trade_fill
    )
    whole_fresh = {
        name: [simulate_flow(law, spec.duration_s, s, spec.depth) for s in seeds[k].spawn(spec.paths)]
        for name, law, k in (("reference", preset, 2), ("peer", preset, 3), ("b", contrast, 4))
    }
    fresh = {name: [drop_initial(f) for f in group] for name, group in whole_fresh.items()}
    score_seeds = seeds[5].spawn(spec.paths)
    rows, cards = [], {"model": [], "floor": [], "contrast": [], "b_vs_a": []}
    for i in range(spec.paths):
        base = int(score_seeds[i].generate_state(1)[0])
        reference = fresh["reference"][i]
        card = {
            "model": score(samples[i], reference, seed=base, n_boot=spec.n_boot),
            "floor": score(fresh["peer"][i], reference, seed=base + 1, n_boot=spec.n_boot),
            "contrast": score(samples[i], fresh["b"][i], seed=base + 2, n_boot=spec.n_boot),
            "b_vs_a": score(fresh["b"][i], reference, seed=base + 3, n_boot=spec.n_boot),
        }
        rows.append({label: _against_floor(card[label], card["floor"]) for label in ("model", "contrast", "b_vs_a")})
        for label in cards:
            cards[label].append(card[label])
    table = per_score(cards)
    groups = (("model", samples), ("reference", fresh["reference"]), ("peer", fresh["peer"]))
    volume = {name: resting_volume(group, spec.duration_s) for name, group in groups}
    # the fresh paths with their initial orders: the book before their first real event is the warmed-up book
    by_level = {name: flow_by_level(whole_fresh.get(name, group), spec.duration_s) for name, group in groups}
    replays = None
    if spec.replay:
        replays = replay_rows(
            {"context": model.context_, "full_book": full_book}, whole_fresh["peer"], fresh["reference"], cards,
            spec=spec, seeds=seeds[6].spawn(spec.paths), score_seeds=score_seeds,
            book_levels=model.encoding_.book_levels,
        )  # fmt: skip
        volume.update({f"replay_{name}": rows.pop("volume") for name, rows in replays["starts"].items()})
        by_level.update({f"replay_{name}": rows.pop("flow_by_level") for name, rows in replays["starts"].items()})
    return {
        "spec": dataclasses.asdict(spec),
        "process": preset.name,
        "contrast_process": contrast.name,
        "paths": rows,
        "per_score": table,
        "separation": separation(table),
        "training": model.training_.to_dict() if model.training_ is not None else None,
        "rollout": [_counts(path, spec.duration_s) for path in samples],
        "fresh_events_per_s": [_rate(path, spec.duration_s) for path in fresh["reference"]],
        "rate_probe": probe,
        "process_kind_shares": kind_shares(flow["events"]),
        "start_book": {
            name: {
                "levels": [int((b[1] > 0).sum()), int((b[3] > 0).sum())],
                "lots": [int(b[1].sum()), int(b[3].sum())],
                "orders": int(len(start_orders(c))),
            }
            for name, c in (("context", model.context_), ("full_book", full_book))
            for b in [np.asarray(c["books"], np.int64)[-1]]
        },  # fmt: skip
        "resting_volume": volume,
        "flow_by_level": by_level,
        "replay": replays,
    }


def kind_shares(events: xr.Dataset, *, fills: bool = False) -> dict[str, float]:
    """Return the share of each event kind (ADD, CANCEL, DELETE, TRADE, TRADE_HIDDEN) among a flow's events.

    A sampled path's initial orders are left out; so is every fill of a generated market order but its first (the
    ``message`` field: one generated message, one count), so the shares are those of the applied messages. With
    ``fills``, every fill counts, as the book simulators and LOBSTER record trades (one event per resting order
    executed) and as the training messages are: the share to set beside theirs, since a generated trade that
    takes its share of a queue of several orders is one message and several fills. The removals a rollout's
    thinning made behind the best (``thin_rate``; ``message`` :data:`generators.rollout.MESSAGE_THINNED`) are no
    generated message and are left out of both (a path counts them, ``thinned``).
    """
    skip = int(events.attrs.get("initial_orders", 0))
    kind = events["kind"].values[skip:].astype(np.int64)
    if "message" in events:
        message = events["message"].values[skip:]
        generated = message != MESSAGE_THINNED  # a removal thinning made is no generated message (counted apart)
        kind, message = kind[generated], message[generated]
        if not fills:
            kind = kind[np.concatenate([[True], message[1:] != message[:-1]])] if kind.size else kind
    names = ("ADD", "CANCEL", "DELETE", "TRADE", "TRADE_HIDDEN")
    return {name: float(np.mean(kind == int(EventKind[name]))) if kind.size else 0.0 for name in names}


def _against_floor(card: ScoreCard, floor: ScoreCard) -> dict[str, Any]:
    row = compare_cards(card, floor)
    ours, theirs = row["ours"], row["theirs"]
    row["indistinguishable"] = bool(ours["low"] <= theirs["high"] and theirs["low"] <= ours["high"])
    return row


def per_score(cards: dict[str, list[ScoreCard]]) -> dict[str, dict[str, float]]:
    """Return, per L1 score (``quantity (family)``), its mean over the paths for every label of ``cards``.

    ``cards`` maps labels (``model``, ``floor``, ...) to one scorecard per path; only the scores that every card
    computed are kept. Each row also holds ``floor_high`` (the mean upper end of the floor's interval) and
    ``excess`` (model minus floor) when those labels are present.
    """

    def table(card: ScoreCard) -> dict[str, tuple[float, float]]:
        rows = (r for r in card.rows if r.metric == "l1" and r.distance is not None)
        return {f"{r.quantity} ({r.family})": (float(r.distance.value), float(r.distance.high)) for r in rows}

    tables = {label: [table(c) for c in group] for label, group in cards.items()}
    shared = sorted(set.intersection(*(set(t) for group in tables.values() for t in group)))
    out = {}
    for name in shared:
        row = {label: float(np.mean([t[name][0] for t in group])) for label, group in tables.items()}
        if "floor" in tables:
            row["floor_high"] = float(np.mean([t[name][1] for t in tables["floor"]]))
            if "model" in row:
                row["excess"] = row["model"] - row["floor"]
        out[name] = row
    return out


def separation(table: dict[str, dict[str, float]]) -> dict[str, Any]:
    """Return the model's mean L1 to A and to B over the scores that tell B from A (from fresh paths alone).

    A score tells B from A when fresh B scored against fresh A (``b_vs_a``) lies above the upper end of the A-vs-A
    floor's interval (both means over the paths); the model plays no part in choosing them. A model that learned A
    has ``own`` below ``contrast``.
    """
    telling = [name for name, row in table.items() if row["b_vs_a"] > row["floor_high"]]
    if not telling:
        return {"scores": [], "own": None, "contrast": None}
    return {
        "scores": telling,
        "own": float(np.mean([table[name]["model"] for name in telling])),
        "contrast": float(np.mean([table[name]["contrast"] for name in telling])),
    }


def _counts(path: dict[str, xr.Dataset], duration_s: float) -> dict[str, Any]:
    attrs = path["events"].attrs
    return {key: int(attrs[key]) for key in ("applied", "rejected", "discarded", "stuck", "front_held")} | {
        "messages_per_s": int(attrs["applied"]) / duration_s,
        "rejected_trade_beyond_best": int(attrs["rejected_trade_beyond_best"]),
        "rejected_by_reason": {reason: int(attrs[f"rejected_{reason}"]) for reason in REASONS},
        "kind_shares": kind_shares(path["events"]),
        "fill_kind_shares": kind_shares(path["events"], fills=True),
    }


def _probe_size(spans: dict[str, dict[str, xr.Dataset]]) -> int:
    # 1,024 block starts, fewer on a short validation span (a quarter of its messages)
    return int(min(1024, spans["validation"]["events"].sizes["event"] // 4))


def _rate(path: dict[str, xr.Dataset], duration_s: float) -> float:
    return float(path["events"].sizes["event"] / duration_s)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run :func:`ground_truth` on a spec file; print a summary and write the JSON file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec")
    parser.add_argument("-o", "--output", default="ground_truth.json")
    parser.add_argument("--model-out", default=None, help="also save the trained model to this folder")
    parser.add_argument("--model", default=None, help="score this saved model instead of training")
    args = parser.parse_args(argv)
    spec = load_truth_spec(args.spec)

    def progress(step: int, total: int, loss: float, validation: float | None) -> None:
        print(f"step {step}/{total}: training loss {loss:.4f}, validation {validation}", flush=True)

    model = None if args.model is None else DiffusionGenerator.load(args.model, device="cpu")
    out = ground_truth(spec, progress=progress, model_out=args.model_out, model=model)
    out["provenance"] = provenance(seed=spec.seed, config=dataclasses.asdict(spec), sources=[args.spec])
    output = Path(args.output)
    partial = output.with_name(output.name + ".partial")
    partial.write_text(json.dumps(out, indent=1, default=str) + "\n")
    partial.replace(output)  # atomic: a reader sees the old file or the whole new one
    for p, row in enumerate(out["paths"]):
        for label in ("model", "contrast", "b_vs_a"):
            o, t, d = row[label]["ours"], row[label]["theirs"], row[label]["difference"]
            print(f"path {p} {label:8s} ({row[label]['shared']} L1 scores): {o['value']:.3f} [{o['low']:.3f}, "
                  f"{o['high']:.3f}] vs floor {t['value']:.3f} [{t['low']:.3f}, {t['high']:.3f}], excess "
                  f"{d['value']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}], indistinguishable "
                  f"{row[label]['indistinguishable']}")  # fmt: skip
    for name, row in out["per_score"].items():
        print(f"{name:45s} " + " ".join(f"{k} {v:.3f}" for k, v in row.items()))
    print(f"separation: {out['separation']}")
    probe = out["rate_probe"]
    print(
        f"one step on true histories: inter-arrival ratio {probe['one_step']['ratio']:.3f}, gain {probe['gain']:.3f}, "
        f"closed-loop time scale {probe['closed_loop_scale']}"
    )
    print(f"kind shares: process {out['process_kind_shares']}")
    for p, row in enumerate(out["rollout"]):
        print(f"path {p}: applied {row['applied']}, rejected {row['rejected']}, kind shares {row['kind_shares']}, "
              f"counting every fill {row['fill_kind_shares']}")  # fmt: skip
    print(f"start books (levels bid/ask, lots bid/ask, orders): {out['start_book']}")
    for name, volume in out["resting_volume"].items():
        bins = " ".join(f"{b:.0f}/{a:.0f}" for b, a in zip(volume["bid"], volume["ask"], strict=True))
        print(f"lots on 10 levels bid/ask per {volume['bins_s'][0][1]:g} s, {name:18s}: {bins}")
    for name, flows in out["flow_by_level"].items():
        for side, row in flows.items():
            rates = " ".join(f"{r:.4f}" for r in row["delete_per_lot"])
            added, removed = (
                sum(row["add_lots_per_s"][:10]),
                sum(row["delete_lots_per_s"][:10]) + row["trade_lots_per_s"],
            )
            print(
                f"{name:18s} {side}: deletions per resting lot per s, levels 1-10: {rates}; trades per L1 lot "
                f"{row['trade_per_lot']:.4f}; lots added / removed per s on 10 levels "
                f"{added:.1f} / {removed:.1f}"
            )
    if out["replay"] is not None:
        for name, start in out["replay"]["starts"].items():
            for p, (row, counts) in enumerate(zip(start["paths"], start["rollout"], strict=True)):
                o, t = row["ours"], row["theirs"]
                print(f"replay from {name:9s} path {p}: {o['value']:.3f} [{o['low']:.3f}, {o['high']:.3f}] vs floor "
                      f"{t['value']:.3f} [{t['low']:.3f}, {t['high']:.3f}], applied {counts['applied']}, rejected "
                      f"{counts['rejected']}, indistinguishable {row['indistinguishable']}")  # fmt: skip
        for name, row in out["replay"]["per_score"].items():
            print(f"{name:45s} " + " ".join(f"{k} {v:.3f}" for k, v in row.items()))
    return out


if __name__ == "__main__":
    main()
