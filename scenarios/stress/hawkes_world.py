"""The ``hawkes`` world of the stress runner: an episode's sell program and market-maker withdrawal on the
Hawkes-driven book (:func:`simlab.book.simulate_hawkes_book`, e.g. the preset ``hawkes-aapl``).

The book's event times and types are a 6-D Hawkes path (:data:`simlab.book.hawkes_book.ORDER_FLOW`). A primitive
is a multiplier of baselines during its window ``[start_s, start_s + duration_s)``; the path is simulated piece by
piece between the windows' edges, each piece continued from the excitation the one before left
(:func:`simlab.hawkes.closed_form.excitation_state`: the exact continuation of an exponential-kernel process):

* ``sell_program`` (``participation`` p, ``side``): a price-insensitive, exogenous flow of market orders of that
  side at ``p / (1 - p)`` x the normal stationary rate of all market orders, added to the side's baseline
  (:func:`program_factor`); the orders it triggers through the excitation come on top, so in the window the
  side's rate is the closed-form stationary rate of the shocked process (:func:`window_rates`);
* ``withdrawal`` (``size_factor`` f): market makers post less: both limit-order baselines x f.

Other primitives (stop-loss ladders, leverage, the circuit breaker, a news jump, a mark shock, a pause, the
adaptive makers' withdrawal) need agents or a fundamental value the Hawkes book does not have: :data:`HAWKES_FORMS`
lists those that have a form, and an episode naming another is refused (``scenarios.stress.episodes``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scenarios.stress.episodes import REPO, Episode
from simlab.book.hawkes_book import ORDER_FLOW
from simlab.errors import ParameterError
from simlab.hawkes import HawkesParams, HawkesPath, simulate_hawkes
from simlab.hawkes.closed_form import excitation_state, stationary_intensity
from simlab.metrics.crash import CrashPath, crash_path_from_book

HAWKES_FORMS = {
    "sell_program": "market orders of one side at `participation` of the market orders (the side's baseline up)",
    "withdrawal": "limit-order baselines x `size_factor`",
}
"""The primitives that have a form on the Hawkes-driven book, and what it is."""

MARKET = (ORDER_FLOW.index("market_buy"), ORDER_FLOW.index("market_sell"))
LIMITS = (ORDER_FLOW.index("limit_bid"), ORDER_FLOW.index("limit_ask"))
WARMUP_S = 60.0
ALLOWED = {"sell_program": {"strategy", "side", "start_s", "duration_s", "participation"},
           "withdrawal": {"start_s", "duration_s", "size_factor", "spread_factor"}}  # fmt: skip


def program_factor(params: HawkesParams, participation: float, side: int = -1) -> float:
    """Return the multiplier of the market-order baseline of ``side`` (-1 sells, +1 buys) that adds market orders
    at ``participation / (1 - participation)`` x the normal stationary rate of all market orders."""
    if not 0.0 < participation < 1.0:
        raise ParameterError(f"`participation` of the hawkes sell program must lie in (0, 1); got {participation!r}")
    rate = stationary_intensity(params)
    dim = MARKET[1] if side < 0 else MARKET[0]
    return 1.0 + participation / (1.0 - participation) * (rate[MARKET[0]] + rate[MARKET[1]]) / params.baseline[dim]


def scaled(params: HawkesParams, factors: dict[int, float]) -> HawkesParams:
    """Return ``params`` with the baseline of each dimension in ``factors`` multiplied by its factor."""
    baseline = params.baseline.copy()
    for dim, factor in factors.items():
        baseline[dim] *= factor
    return HawkesParams(baseline, params.adjacency, params.decays, params.names)


def shock_windows(episode: Episode, values: dict[str, float], params: HawkesParams) -> list[tuple]:
    """Return the episode's shocks as ``(start_s, end_s, {dimension: factor})`` windows (simulated seconds)."""
    out = []
    for name, shock in episode.spec.mechanism.items():
        keys = {**shock.fixed, **{k: values[f"{name}.{k}"] for k in shock.fit}}
        if name not in HAWKES_FORMS:
            raise ParameterError(f"episode {episode.name}: primitive {name!r} has no form in the hawkes world "
                                 f"(it has {', '.join(HAWKES_FORMS)})")  # fmt: skip
        extra = sorted(set(keys) - ALLOWED[name])
        if extra or keys.get("strategy", "pov") != "pov" or float(keys.get("spread_factor", 1.0)) != 1.0:
            raise ParameterError(
                f"episode {episode.name}: [mechanism.{name}] keys {extra or sorted(keys)} have no form in the hawkes "
                f"world ({HAWKES_FORMS[name]}; strategy 'pov', spread_factor 1)"
            )
        start, end = float(keys["start_s"]), float(keys["start_s"]) + float(keys["duration_s"])
        if name == "sell_program":
            side = int(keys.get("side", -1))
            factors = {MARKET[1] if side < 0 else MARKET[0]: program_factor(params, float(keys["participation"]), side)}
        else:
            factors = dict.fromkeys(LIMITS, float(keys["size_factor"]))
        out.append((start, end, factors))
    return out


def shocked_path(params: HawkesParams, duration_s: float, windows: list[tuple], rng: np.random.Generator):
    """Simulate a Hawkes path on ``[0, duration_s)`` whose baselines are multiplied in each window (piecewise,
    each piece continued from the excitation of all events before it); return a :class:`HawkesPath`."""
    cuts = sorted({0.0, float(duration_s), *(t for w in windows for t in w[:2] if 0.0 < t < duration_s)})
    times, dims, state = [np.empty(0)], [np.empty(0, dtype=np.int32)], None
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        factors: dict[int, float] = {}
        for start, end, shock in windows:
            if start <= a < end:
                for dim, f in shock.items():
                    factors[dim] = factors.get(dim, 1.0) * f
        piece = scaled(params, factors)
        (path,) = simulate_hawkes(piece, b - a, rng=rng, initial_state=state)
        times.append(path.times_s + a)
        dims.append(path.dims)
        state = excitation_state(np.concatenate(times), np.concatenate(dims), piece, b)
    t, d = np.concatenate(times), np.concatenate(dims).astype(np.int32)
    return HawkesPath(times_s=t, dims=d, marks=None, state_times_s=np.empty(0), intensity=np.empty((0, 6)))


def window_rates(params: HawkesParams, windows: list[tuple], at_s: float) -> np.ndarray:
    """Return the closed-form stationary rate of every dimension (1/s) under the shocks active at ``at_s``."""
    factors: dict[int, float] = {}
    for start, end, shock in windows:
        if start <= at_s < end:
            for dim, f in shock.items():
                factors[dim] = factors.get(dim, 1.0) * f
    return stationary_intensity(scaled(params, factors))


def hawkes_path(episode: Episode, values: dict[str, float], seed: np.random.SeedSequence, grid_s: float) -> CrashPath:
    """Run one path of the episode on the Hawkes-driven book of its background preset, on a ``grid_s`` grid."""
    from calibration.book_presets import load_book_preset
    from simlab.book import simulate_hawkes_book

    bg = episode.spec.background
    if bg.overrides:
        raise ParameterError(f"episode {episode.name}: background.overrides have no form in the hawkes world")
    book = load_book_preset(REPO / bg.preset).params
    windows = [(s + WARMUP_S, e + WARMUP_S, f) for s, e, f in shock_windows(episode, values, book.hawkes)]
    gen = np.random.default_rng(seed)
    path = shocked_path(book.hawkes, WARMUP_S + bg.duration_s, windows, gen)
    out = simulate_hawkes_book(book, bg.duration_s, rng=gen, sample_ns=int(round(grid_s * 1e9)), warmup_s=WARMUP_S,
                               path=path)  # fmt: skip
    span = (0, int(round(bg.duration_s * 1e9)))
    return crash_path_from_book(out["events"], out["books"], grid_s, span_ns=span)


def simulate_hawkes_episode(episode: Episode, values: dict[str, float], children: list, grid_s: float) -> list[Any]:
    """Return one Hawkes-book path per child seed."""
    return [hawkes_path(episode, values, child, grid_s) for child in children]
