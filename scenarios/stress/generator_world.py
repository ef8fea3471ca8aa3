"""The ``generator`` world of the stress runner: an episode's shocks as regime switches of a trained generator of
order flow (:mod:`generators`), rolled out through the matching engine (the books are always consistent).

A path starts from the model's context book (the end of its validation span) and runs ``background.duration_s``
seconds; ``t_s = 0`` is the context. Before a shock's window the model samples the **normal** regime (``normal =
"unconditioned"``: no condition, the model's own flow; ``"median"``: quintile 3 of every regime variable); during the
window it samples the **stress** regime that the active primitives map to; after it, the normal regime again. The
switch happens inside one rollout (:meth:`generators.base.BookGenerator.sample` with ``switches``): each path goes on
from its own history, book and clock. Every path is also run **without** the switch (the same seed and the same
switch times, every piece under the normal regime): the two are equal up to the shock (the noise does not depend
on the regime), so the pair measures what the learned stress regime does.

The primitives that have a learned counterpart, sourced from the generator's regime variables (realised
volatility, trend, mean total depth of levels 1-10, mean depth imbalance ``(bid - ask) / (bid + ask)``, each binned
to the quintiles of the training span, :mod:`generators.encoding`), are :data:`GENERATOR_FORMS`:

* ``withdrawal`` (``size_factor`` f): depth in the quintile of the training data that holds f x the training median
  depth (the median taken as the middle of the 40 % and 60 % quantiles); ``spread_factor`` has no counterpart (no
  regime variable is the spread: the spread is an outcome) and is refused unless 1;
* ``sell_program`` (``side``): trend quintile 1 and imbalance quintile 1 (the falling-mid fifth of the training
  data, and the fifth whose bid side is thinnest); a buyer (``side = +1``): quintiles 5. Its size keys
  (``participation``, ``quantity_lots``, ...) have no counterpart in a quintile condition and are refused.

A news jump, stop ladders, leverage, the circuit breaker, the mark, a pause and the makers' own thresholds have no
learned counterpart (a quintile of a 256-message window is not an instantaneous jump of a fundamental value the
generator does not have): an episode naming them is refused with one sentence that lists what the world takes.

The model is ``[world.generator] model`` of the episode (or ``--model``); without one it is trained from
``[world.generator] spec`` (a training spec, default the library's ``generate_aapl_tiny``) on the real data.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from scenarios.stress.episodes import REPO, Episode
from simlab.errors import ParameterError
from simlab.metrics.crash import CrashPath, crash_path_from_book

GENERATOR_FORMS = {
    "sell_program": "trend and imbalance quintile 1 (side -1; 5 for a buyer): the falling-mid, thin-bid fifth",
    "withdrawal": "depth quintile of `size_factor` x the training median depth",
}
"""The primitives that have a learned counterpart in the generator world, and what it is."""

ALLOWED = {"sell_program": {"side", "start_s", "duration_s"},
           "withdrawal": {"start_s", "duration_s", "size_factor", "spread_factor"}}  # fmt: skip
NORMAL_REGIMES = ("unconditioned", "median")
DEFAULT_SPEC = "generate_aapl_tiny"


def stress_regime(name: str, keys: dict[str, Any], edges: tuple[tuple[float, ...], ...]) -> dict[str, int]:
    """Return the regime condition (quintiles 1-5 by regime name) of one primitive with its keys.

    ``edges`` are the model's regime quintile edges (:attr:`generators.encoding.Encoding.regime_edges`).
    """
    from generators.encoding import REGIMES

    if name == "sell_program":
        q = 5 if int(keys.get("side", -1)) > 0 else 1
        return {"trend": q, "imbalance": q}
    depth_edges = edges[REGIMES.index("depth")]
    median = 0.5 * (depth_edges[1] + depth_edges[2])
    target = float(keys["size_factor"]) * median
    return {"depth": int(np.searchsorted(depth_edges, target, side="right")) + 1}


def shock_windows(episode: Episode, values: dict[str, float], edges) -> list[tuple[float, float, dict[str, int]]]:
    """Return the episode's shocks as ``(start_s, end_s, regime)`` windows; refuse keys that have no counterpart
    (a primitive without one is refused when the episode is read, :func:`scenarios.stress.episodes.check_episode`)."""
    out = []
    for name, shock in episode.spec.mechanism.items():
        if name not in GENERATOR_FORMS:
            raise ParameterError(f"episode {episode.name}: primitive {name!r} has no learned counterpart in the "
                                 f"generator world (it takes {', '.join(GENERATOR_FORMS)})")  # fmt: skip
        keys = {**shock.fixed, **{k: values[f"{name}.{k}"] for k in shock.fit}}
        extra = sorted(set(keys) - ALLOWED[name])
        if extra or float(keys.get("spread_factor", 1.0)) != 1.0:
            raise ParameterError(
                f"episode {episode.name}: [mechanism.{name}] keys {extra or ['spread_factor']} have no learned "
                f"counterpart in the generator world ({GENERATOR_FORMS[name]}; it takes "
                f"{', '.join(sorted(ALLOWED[name]))}, spread_factor 1)"
            )
        start = float(keys["start_s"])
        out.append((start, start + float(keys["duration_s"]), stress_regime(name, keys, edges)))
    return out


def regime_pieces(windows: list[tuple], normal: dict[str, int], duration_s: float) -> list[tuple[float, dict]]:
    """Return ``(start_s, regime)`` of every piece between the windows' edges: the normal regime updated by the
    primitives active in the piece (two that ask one variable for different quintiles are refused)."""
    cuts = sorted({0.0, *(t for w in windows for t in w[:2] if 0.0 < t < duration_s)})
    pieces = []
    for a in cuts:
        regime = dict(normal)
        asked: dict[str, int] = {}
        for start, end, condition in windows:
            if start <= a < end:
                for key, q in condition.items():
                    if asked.get(key, q) != q:
                        raise ParameterError(
                            f"generator world: overlapping shocks ask regime {key!r} for quintiles {asked[key]} and "
                            f"{q} at {a:g} s; give them disjoint windows"
                        )
                    asked[key] = q
        pieces.append((a, regime | asked))
    return pieces


def normal_regime(name: str) -> dict[str, int]:
    """Return the normal regime: ``unconditioned`` (no condition) or ``median`` (quintile 3 of every variable)."""
    from generators.encoding import REGIMES

    if name not in NORMAL_REGIMES:
        raise ParameterError(f"[world.generator] normal must be one of {', '.join(NORMAL_REGIMES)}; got {name!r}")
    return dict.fromkeys(REGIMES, 3) if name == "median" else {}


def load_world_model(episode: Episode, model: str | Path | None = None, *, train_to: str | Path | None = None):
    """Return the generator of the episode's world: ``model`` (or ``[world.generator] model``) loaded, or else one
    trained from ``[world.generator] spec`` on the real data and saved to ``train_to``."""
    from generators.spec import load_generator, train_from_spec

    table = episode.spec.world.generator
    model = model if model is not None else table.model
    if model:
        path = Path(model) if Path(model).is_absolute() or Path(model).exists() else REPO / model
        return load_generator(path), str(path)
    spec = Path(table.spec)
    if not spec.exists() and not spec.suffix:
        spec = REPO / "scenarios" / "library" / f"{table.spec}.toml"
    if train_to is None:
        raise ParameterError(
            f"episode {episode.name}: no generator model ([world.generator] model or --model) and nowhere to save "
            f"one trained from {spec.name}"
        )
    return train_from_spec(spec, train_to), str(train_to)


def path_seed(child: np.random.SeedSequence) -> int:
    """Return the sampling seed of one path from its child of the root seed."""
    return int(child.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


def generator_flow(episode: Episode, values: dict[str, float], child, generator: Any, *, switched: bool = True,
                   table: Any = None) -> dict:  # fmt: skip
    """Return one path's flow (``events``, ``books``): with the episode's regime switches, or (``switched`` False)
    with every piece under the normal regime; ``table`` overrides the episode's ``[world.generator]``."""
    table = episode.spec.world.generator if table is None else table
    duration = float(episode.spec.background.duration_s)
    normal = normal_regime(table.normal)
    pieces = regime_pieces(shock_windows(episode, values, generator.encoding_.regime_edges), normal, duration)
    regimes = [r for _, r in pieces] if switched else [normal] * len(pieces)
    switches = [(at, regime) for (at, _), regime in zip(pieces[1:], regimes[1:], strict=True)]
    (flow,) = generator.sample(1, duration, generator=path_seed(child), regime=regimes[0], guidance=table.guidance,
                               switches=switches)  # fmt: skip
    return flow


def generator_paths(
    episode: Episode, values: dict[str, float], children: list, grid_s: float, generator: Any
) -> tuple[list[CrashPath], list[CrashPath]]:
    """Run every path with the regime switches and without them (same seed); return (shocked, normal) paths."""
    duration = float(episode.spec.background.duration_s)
    shocked, calm = [], []
    for child in children:
        for switched, out in ((True, shocked), (False, calm)):
            flow = generator_flow(episode, values, child, generator, switched=switched)
            out.append(crash_path(flow, duration, grid_s))
    return shocked, calm


def crash_path(flow: dict, duration_s: float, grid_s: float) -> CrashPath:
    """Put one generated flow on the grid from its start (the context) for ``duration_s`` seconds."""
    start = int(flow["events"]["ts_ns"].values[0])
    return crash_path_from_book(flow["events"], flow["books"], grid_s, span_ns=(start, start + int(duration_s * 1e9)))


def store_flows(store: Any, n: int, day_ns: int) -> tuple[int, list[dict], dict]:
    """Re-simulate a generator-world stress store's first ``n`` paths for the forecasters.

    Returns the start (UTC ns of ``t_s = 0``), the shocked flows (each checked against the stored mid: a DataError
    when it differs) and path 0 without the switch, moved ``day_ns`` earlier (the normal day before).
    """
    from scenarios.stress.episodes import GeneratorWorld
    from simlab.errors import DataError

    paths = store.paths
    table = GeneratorWorld(**json.loads(paths.attrs["generator_world"]))
    generator, _ = load_world_model(store.episode, paths.attrs["generator_model"])
    children = np.random.SeedSequence(store.seed).spawn(paths.sizes["path"])
    duration, step = float(store.episode.spec.background.duration_s), float(np.diff(paths["t_s"].values[:2])[0])
    flows = []
    for k in range(n):
        flow = generator_flow(store.episode, store.values, children[k], generator, table=table)
        if not np.array_equal(crash_path(flow, duration, step).mid, paths["mid"].values[k], equal_nan=True):
            raise DataError(
                f"stress store {store.path}: re-simulating path {k} with its recorded model and seed does not "
                "reproduce its stored mid (another model?); run `simlab stress run` again"
            )
        flows.append(flow)
    calm = generator_flow(store.episode, store.values, children[0], generator, switched=False, table=table)
    events = calm["events"].assign(ts_ns=calm["events"]["ts_ns"] - day_ns)
    return int(flows[0]["events"]["ts_ns"].values[0]) if flows else 0, flows, {"events": events}
