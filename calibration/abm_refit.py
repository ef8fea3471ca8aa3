"""Refit a hand-set agent-market preset by simulated moments, its hand-set rules fixed (docs/agents_refit_v7.md).

``abm-amzn-v7`` is ``abm-amzn-v5``'s fit with five settings changed by hand (``[calibration.hand_set]``), so its
continuous parameters no longer match the moments. This module refits the continuous parameters that set the event
clock and mix (:data:`REFIT_PARAMETERS`) with :class:`calibration.abm.AgentMarketEstimator`, starting from the
preset's values, on the whole AMZN day (the span the scorecard's day classifier compares) with the visible moments
plus the cancel share and the event rate (:data:`calibration.abm_visible.VISIBLE_MIX_MOMENTS`). The rules
(:data:`RULES`: layers, keeping the touch within 2 ticks, walking 2 ticks through it) stay the preset's; of v7's
five hand-set values the two continuous ones (the makers' wake interval, the noise clock's excitation) are refitted.

``abm-amzn-v9`` (v8 in business time with a multi-timescale activity) is refitted the same way with the moment set
``clock-mix-path`` (the 13 clock and mix moments plus four of the mid's path: the 1-min return sd, its kurtosis, the
1-s |r| ACF at lag 1 and over lags 10-30 s; :data:`calibration.abm_visible.VISIBLE_PATH_MOMENTS`) and
:data:`REFIT_V9_PARAMETERS` (the seven, the makers' skew and the activity's sd), the activity's time scales fixed
(docs/agents_refit_v9.md).

``abm-amzn-v11`` refits ``abm-amzn-v10-slow`` (the activity on its two slow time scales) with ``clock-mix-far``: the
same moments in 300-s blocks plus the 1-s |r| ACF averaged over lags 50-100 s
(:data:`calibration.abm_visible.VISIBLE_PATH_FAR_MOMENTS`; docs/agents_refit_v11.md).

``python -m calibration.abm_refit START_PRESET DATA_DIR OUTPUT [--paths N] [--maxfev N] [--n-lhs N]
[--lhs-span X] [--sigma-paths N] [--start S] [--duration S] [--warmup S] [--parameter table.key ...]
[--moments visible-mix|clock-mix|clock-mix-path|clock-mix-far|clock-mix-path-response] [--doc PAGE]
[--search-budget-s S] [--start-value table.key=VALUE ...] [--workers N]`` writes the
refitted preset (the market, and a ``[calibration]`` table with the estimates, the sandwich standard errors, the
moments real and fitted, the start's values and objective, the hand-set rules kept).

``abm-amzn-v25`` refits ``abm-amzn-v24`` with the makers' imbalance skew given a prior volume
(``market_maker.skew_prior_lots``, started at 300 lots by ``--start-value``) freed beside the nine
(:data:`REFIT_V25_PARAMETERS`), with ``clock-mix-path-response``: the 17 moments plus the aggregate price response
of 10-s intervals in four bins of net volume (:data:`calibration.abm_visible.RESPONSE_MOMENT_NAMES`;
docs/agents_skew_prior.md). A ``--start-value`` of a named rule (a string setting) chooses it for the whole
fit (e.g. ``market_maker.skew_rounding=random``, docs/agents_skew_rounding.md); a named rule is never freed.

The preset's ``[calibration.source]`` records the fitted span (``start_s``, ``duration_s``) and the scorecard's
window (``window_start_s``, ``window_duration_s``: the 12:00-12:30 span every earlier preset reports), which
:func:`calibration.abm.score_abm_preset` scores beside the day.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from calibration.abm import (
    AMZN_DAY,
    AgentMarketEstimator,
    MomentSet,
    get_parameter,
    load_abm_preset,
    preset_document,
    select_window,
    with_parameters,
    write_preset,
)
from calibration.abm_visible import (
    FAR_BLOCK_S,
    PATH_FAR_MOMENT_NAMES,
    PATH_MOMENT_NAMES,
    RESPONSE_MOMENT_NAMES,
    VISIBLE_MIX_MOMENT_NAMES,
    VISIBLE_MIX_MOMENTS,
    VISIBLE_PATH_FAR_MOMENTS,
    VISIBLE_PATH_MOMENTS,
    VISIBLE_PATH_RESPONSE_MOMENTS,
)
from simlab.errors import ParameterError

REFIT_PARAMETERS = (
    "noise.arrival_rate_per_s",
    "noise.excitation",
    "noise.decay_per_s",
    "value.arrival_rate_per_s",
    "value.aggressive_share",
    "market_maker.wake_interval_s",
    "market_maker.pov",
)
RULES = ("market_maker.layer_ticks", "market_maker.keep_touch_ticks", "noise.walk_ticks")  # v7's rules, fixed
# v9's refit (docs/agents_refit_v9.md): v7-refit's seven and the two that set the mid's 1-min volatility and the
# level of the |r| ACF in the one-at-a-time measurement (the makers' skew, the activity's sd)
REFIT_V9_PARAMETERS = (*REFIT_PARAMETERS, "market_maker.price_skew_ticks", "fundamental.activity_sd")
LISTS = ("fundamental.activity_time_s",)  # list-valued settings: never free (the activity's time scales stay fixed)
CLOCK_MIX_NAMES = ("spread_mean_ticks", "spread_q50_ticks", "spread_q90_ticks", "log_depth_l1", "log10_gap_mean",
                   "log10_gap_std", "zero_gap_share", "add_share", "trade_share", "log10_size_mean", "mid_move_share",
                   "cancel_share", "log10_event_rate")  # fmt: skip
SCORED_WINDOW = (9000.0, 1800.0)  # 12:00-12:30 after the AMZN day's first event: every preset's reported window


@dataclass(frozen=True)
class _Subset:
    """The moments ``index`` of a moment function (a picklable callable, so a parallel mapper can ship it)."""

    moments: Callable[[list[dict[str, np.ndarray]]], np.ndarray]
    index: tuple[int, ...]

    def __call__(self, blocks: list[dict[str, np.ndarray]]) -> np.ndarray:
        return self.moments(blocks)[list(self.index)]


def moment_subset(moment_set: MomentSet, names: tuple[str, ...]) -> MomentSet:
    """The moment set with only the moments ``names`` (in that order); an unknown name is refused with a sentence."""
    unknown = [n for n in names if n not in moment_set.names]
    if unknown or not names:
        raise ParameterError(f"abm_refit: moments {unknown or '(none)'} are not among {list(moment_set.names)}")
    index = tuple(moment_set.names.index(n) for n in names)
    floor = tuple(moment_set.variance_floor[i] for i in index)
    return MomentSet(tuple(names), moment_set.blocks, _Subset(moment_set.moments, index), floor)


CLOCK_MIX_PATH_NAMES = (*CLOCK_MIX_NAMES, *PATH_MOMENT_NAMES)  # + 1-min sd (log10), kurtosis, 1-s |r| ACF level, decay
# + the 1-s |r| ACF over lags 50-100 s, all in 300-s blocks (docs/agents_refit_v11.md)
CLOCK_MIX_FAR_NAMES = (*CLOCK_MIX_NAMES, *PATH_FAR_MOMENT_NAMES)
# + the aggregate price response of 10-s intervals in four bins of net volume (docs/agents_skew_prior.md)
CLOCK_MIX_PATH_RESPONSE_NAMES = (*CLOCK_MIX_PATH_NAMES, *RESPONSE_MOMENT_NAMES)
MOMENT_SETS = {"visible-mix": VISIBLE_MIX_MOMENT_NAMES, "clock-mix": CLOCK_MIX_NAMES,
               "clock-mix-path": CLOCK_MIX_PATH_NAMES, "clock-mix-far": CLOCK_MIX_FAR_NAMES,
               "clock-mix-path-response": CLOCK_MIX_PATH_RESPONSE_NAMES}  # fmt: skip
# the moment set each subset is taken from (the first two keep the 18 moments' blocks, so their fits are unchanged)
MOMENT_SOURCES = {"visible-mix": VISIBLE_MIX_MOMENTS, "clock-mix": VISIBLE_MIX_MOMENTS,
                  "clock-mix-path": VISIBLE_PATH_MOMENTS, "clock-mix-far": VISIBLE_PATH_FAR_MOMENTS,
                  "clock-mix-path-response": VISIBLE_PATH_RESPONSE_MOMENTS}  # fmt: skip
# the block (seconds) each set is cut into: the bootstrap's resampling unit and the longest lag pairs can span
MOMENT_BLOCK_S = {"visible-mix": 60.0, "clock-mix": 60.0, "clock-mix-path": 60.0, "clock-mix-far": FAR_BLOCK_S,
                  "clock-mix-path-response": 60.0}  # fmt: skip
# v25's refit (docs/agents_skew_prior.md): v24's nine and the makers' skew prior, with the response moments
REFIT_V25_PARAMETERS = (*REFIT_V9_PARAMETERS, "market_maker.skew_prior_lots")


def _named_rule(config: Any, name: str) -> bool:
    """Whether the dotted ``name`` is a named rule of ``config`` (a string setting, e.g. market_maker.skew_rounding)."""
    table, _, key = name.partition(".")
    part = getattr(config, table, None)
    return key in getattr(part, "__dataclass_fields__", {}) and isinstance(getattr(part, key), str)


def check_refit(config: Any, parameters: tuple[str, ...], moments: str, counts: dict[str, int],
                lhs_span: float) -> None:  # fmt: skip
    """Refuse a refit's bad settings before any data is read, each with one sentence naming the setting: an unknown
    moment set, a hand-set rule or a list-valued setting among the freed ``parameters``, the activity's sd freed from
    a start whose activity is off (freeing it would switch the rule on, not refit it), a named rule (a string
    setting, chosen with ``--start-value TABLE.KEY=NAME``) among them, any other freed parameter
    starting at 0 or below (the search works on logs: ``--start-value`` gives a start), a count in ``counts`` below
    its least (``paths``, ``n-lhs`` >= 1; ``maxfev`` >= 0; ``sigma-paths`` >= 2), a ``lhs_span`` <= 0."""
    if moments not in MOMENT_SETS:
        raise ParameterError(f"abm_refit: --moments must be one of {sorted(MOMENT_SETS)}; got {moments!r}")
    named = [name for name in parameters if _named_rule(config, name)]
    if named:
        raise ParameterError(f"abm_refit: {named} are named rules and stay fixed (choose one with --start-value "
                             f"{named[0]}=NAME); drop them from --parameter (found {list(parameters)})")  # fmt: skip
    fixed = sorted(set(RULES) & set(parameters))
    if fixed:
        raise ParameterError(f"abm_refit: {fixed} are hand-set rules (integer settings) and stay fixed; drop them "
                             f"from --parameter (found {list(parameters)})")  # fmt: skip
    lists = sorted(set(LISTS) & set(parameters))
    if lists:
        raise ParameterError(f"abm_refit: {lists} are lists (the activity's time scales) and stay fixed; drop them "
                             f"from --parameter (found {list(parameters)})")  # fmt: skip
    off = [name for name in parameters if name != "fundamental.activity_sd" and not get_parameter(config, name) > 0]
    if off:  # the search works on logs (logits for shares): a freed rule at 0 is off, not a start
        raise ParameterError(f"abm_refit: the freed parameters {off} start at {[get_parameter(config, n) for n in off]}"
                             f"; the search needs a start > 0: give one with --start-value {off[0]}=VALUE (e.g. "
                             f"market_maker.skew_prior_lots=300)")  # fmt: skip
    if "fundamental.activity_sd" in parameters and not config.fundamental.activity_sd > 0:
        raise ParameterError(
            "abm_refit: --parameter fundamental.activity_sd needs a start with the activity on "
            f"(activity_sd > 0, e.g. abm-amzn-v9); the start has {config.fundamental.activity_sd}"
        )
    least = {"paths": 1, "n-lhs": 1, "maxfev": 0, "sigma-paths": 2}
    for flag, value in counts.items():
        if int(value) != value or value < least[flag]:
            raise ParameterError(f"abm_refit: --{flag} must be a whole number >= {least[flag]}; got {value!r}")
    if not lhs_span > 0:
        raise ParameterError(f"abm_refit: --lhs-span must be > 0 (the search box's half-width); got {lhs_span!r}")


@dataclass(frozen=True)
class _PoolMap:
    """A mapper (``mapper(function, items) -> list``, in the items' order) over a process pool."""

    pool: Any

    def __call__(self, function: Callable[[Any], Any], items: list[Any]) -> list[Any]:
        return self.pool.map(function, items, chunksize=1)


REFUSED = 1e12  # a candidate refused after the search's budget (the estimator's value for a window without moments)


class BudgetedObjective:
    """The estimator's one-candidate objective with a wall-clock budget for the search: a candidate asked for after
    ``deadline`` (a :func:`time.perf_counter` value) is refused unsimulated (:data:`REFUSED`, worse than any
    simulated one), so Nelder-Mead spends its remaining evaluations at once and ends at its best simulated point.
    ``refused`` counts them; ``log`` (a callable taking a line, or None) gets one line per simulated candidate."""

    def __init__(self, objective: Callable[[np.ndarray], float], deadline: float, log: Callable | None = None):
        self.objective, self.deadline, self.log = objective, deadline, log
        self.refused, self.simulated, self.best = 0, 0, np.inf

    def __call__(self, z: np.ndarray) -> float:
        if time.perf_counter() > self.deadline:
            self.refused += 1
            return REFUSED
        value = self.objective(z)
        self.simulated += 1
        self.best = min(self.best, value)
        if self.log is not None:
            self.log(f"search candidate {self.simulated}: objective {value:.2f} (best {self.best:.2f})")
        return value


def refit(
    start: str | Path,
    data_dir: str | Path,
    *,
    parameters: tuple[str, ...] = REFIT_PARAMETERS,
    start_s: float = 0.0,
    duration_s: float = 23400.0,
    warmup_s: float = 1800.0,
    n_paths: int = 2,
    n_lhs: int = 8,
    lhs_span: float = 0.5,
    maxfev: int = 40,
    n_sigma_paths: int = 12,
    seed: int = 0,
    moments: str = "visible-mix",
    name: str = "abm-amzn-v7-refit",
    doc: str = "docs/agents_refit_v7.md",
    search_budget_s: float | None = None,
    start_values: dict[str, float | str] | None = None,
    mapper: Callable | None = None,
) -> dict[str, Any]:
    """Refit ``parameters`` of the preset ``start`` to ``[start_s, start_s + duration_s)`` of the AMZN day and
    return the new preset document (:func:`calibration.abm.preset_document` plus the start's record).

    ``search_budget_s`` (None: no budget): the wall seconds from the start after which Nelder-Mead's candidates are
    refused (:class:`BudgetedObjective`); the Latin-hypercube points, the Jacobian and the sandwich's paths always
    run. Progress lines (one per search candidate) are printed. ``start_values`` (dotted name -> value) replace the
    preset's values before the search starts (a rule switched on at a first value, e.g. the makers' skew prior: the
    search works on logs, so a freed parameter must start > 0; or a named rule chosen, e.g. the skew's rounding,
    which stays fixed) and are recorded in the preset's start. ``mapper``
    (None: this process) runs the paths, e.g. a pool's ``map``: the paths and their order are the same, so the fit
    is too (the search budget is wall time, so a faster mapper lets Nelder-Mead try more candidates)."""
    from simlab.io.dataset import load_dataset

    config, calibration = load_abm_preset(start)
    config = with_parameters(config, start_values or {})
    counts = {"paths": n_paths, "n-lhs": n_lhs, "maxfev": maxfev, "sigma-paths": n_sigma_paths}
    check_refit(config, parameters, moments, counts, lhs_span)
    if search_budget_s is not None and not search_budget_s > 0:
        raise ParameterError(f"abm_refit: --search-budget-s must be > 0 (wall seconds); got {search_budget_s!r}")
    moment_set = moment_subset(MOMENT_SOURCES[moments], MOMENT_SETS[moments])
    hand_set = calibration.get("hand_set", {})
    data = load_dataset(Path(data_dir) / AMZN_DAY)
    window = select_window(data, start_s, duration_s)
    config = replace(config, name=name)
    started = time.perf_counter()
    est = AgentMarketEstimator(config, parameters=parameters, warmup_s=warmup_s, window_s=duration_s,
                               block_s=MOMENT_BLOCK_S[moments],
                               n_paths=n_paths, seed=seed, n_lhs=n_lhs, lhs_span=lhs_span, maxfev=maxfev,
                               n_sigma_paths=n_sigma_paths, moments=moment_set, mapper=mapper)  # fmt: skip
    deadline = started + (np.inf if search_budget_s is None else search_budget_s)
    log = lambda line: print(f"{time.perf_counter() - started:6.0f} s {line}", flush=True)  # noqa: E731
    budget = BudgetedObjective(est._objective, deadline, log)
    est._objective = budget  # Nelder-Mead's objective (the Latin-hypercube points go through est._objectives)
    est.fit(window)
    source = {"files": [str(Path(data_dir) / AMZN_DAY)], "start_s": start_s, "duration_s": duration_s,
              "config": str(start), "moments": moments, "warmup_s": warmup_s,
              "window_start_s": SCORED_WINDOW[0], "window_duration_s": SCORED_WINDOW[1]}  # fmt: skip
    document = preset_document(est, source=source)
    search = est.search_
    document["calibration"].update(
        note=f"{Path(start).stem}'s continuous parameters refitted by calibration.abm_refit on the whole AMZN day, "
        f"its hand-set rules fixed ({doc})",
        hand_set=hand_set,
        start={"values": {n: get_parameter(config, n) for n in parameters}, "objective": search["lhs_objective"][0],
               "overrides": dict(start_values or {})},
        search={"lhs_best_objective": float(np.min(search["lhs_objective"])),
                "nelder_mead_success": search["nelder_mead_success"],
                "nelder_mead_message": search["nelder_mead_message"],
                "search_budget_s": search_budget_s or 0.0, "nelder_mead_simulated": budget.simulated,
                "nelder_mead_refused_after_budget": budget.refused,
                "wall_s": round(time.perf_counter() - started, 1)},
    )  # fmt: skip
    return document


def main(argv: list[str] | None = None) -> Path:
    """The command line (module docstring); returns the written preset's path."""
    parser = argparse.ArgumentParser(prog="python -m calibration.abm_refit", description=__doc__.splitlines()[0])
    parser.add_argument("start")
    parser.add_argument("data_dir")
    parser.add_argument("output", type=Path)
    parser.add_argument("--paths", type=int, default=2)
    parser.add_argument("--maxfev", type=int, default=40)
    parser.add_argument("--n-lhs", type=int, default=8)
    parser.add_argument("--lhs-span", type=float, default=0.5)
    parser.add_argument("--sigma-paths", type=int, default=12)
    parser.add_argument("--start", type=float, default=0.0, dest="start_s")
    parser.add_argument("--duration", type=float, default=23400.0)
    parser.add_argument("--warmup", type=float, default=1800.0)
    parser.add_argument("--parameter", action="append", default=None)
    parser.add_argument("--moments", default="visible-mix", choices=sorted(MOMENT_SETS))
    parser.add_argument("--doc", default="docs/agents_refit_v7.md", help="the doc page the preset's note names")
    parser.add_argument("--search-budget-s", type=float, default=None, help="wall seconds for the search (refit)")
    parser.add_argument(
        "--start-value",
        action="append",
        default=[],
        metavar="TABLE.KEY=VALUE",
        help="replace a start value before the search (repeatable)",
    )
    parser.add_argument("--workers", type=int, default=1, help="processes that simulate the paths (1: this one)")
    args = parser.parse_args(argv)
    config = load_abm_preset(args.start)[0]
    start_values: dict[str, float | str] = {}
    for item in args.start_value:
        name, sep, value = item.partition("=")
        if sep and _named_rule(config, name):
            start_values[name] = value  # a rule's name (e.g. market_maker.skew_rounding=random), checked by the config
            continue
        try:
            start_values[name] = float(value) if sep else float("nan")
        except ValueError:
            start_values[name] = float("nan")
        if not np.isfinite(start_values[name]):
            raise ParameterError(f"abm_refit: --start-value must be TABLE.KEY=NUMBER (a finite number, e.g. "
                                 f"market_maker.skew_prior_lots=300, or a name for a named rule, e.g. "
                                 f"market_maker.skew_rounding=random); got {item!r}")  # fmt: skip
    if args.workers < 1:
        raise ParameterError(f"abm_refit: --workers must be a whole number >= 1; got {args.workers!r}")
    if args.search_budget_s is not None and not args.search_budget_s > 0:
        raise ParameterError(f"abm_refit: --search-budget-s must be > 0 (wall seconds); got {args.search_budget_s!r}")
    for name in start_values:  # checked here, before a pool starts, naming the flag
        table, _, key = name.partition(".")
        if not hasattr(getattr(config, table, None), key) or not key:
            raise ParameterError(f"abm_refit: --start-value {name}: expected a `table.key` of the market config "
                                 f"(e.g. market_maker.skew_prior_lots); got {name!r}")  # fmt: skip
    counts = {"paths": args.paths, "n-lhs": args.n_lhs, "maxfev": args.maxfev, "sigma-paths": args.sigma_paths}
    try:
        started = with_parameters(config, start_values)
    except ParameterError as error:  # a value the market's own checks refuse, e.g. an unknown rule's name
        raise ParameterError(f"abm_refit: --start-value {', '.join(f'{k}={v}' for k, v in start_values.items())}: "
                             f"the market refuses it ({error})") from None  # fmt: skip
    check_refit(started, tuple(args.parameter or REFIT_PARAMETERS), args.moments, counts, args.lhs_span)
    with ExitStack() as stack:
        pool = stack.enter_context(get_context("spawn").Pool(args.workers)) if args.workers > 1 else None
        document = refit(args.start, args.data_dir, parameters=tuple(args.parameter or REFIT_PARAMETERS),
                         start_s=args.start_s, duration_s=args.duration, warmup_s=args.warmup, n_paths=args.paths,
                         n_lhs=args.n_lhs, lhs_span=args.lhs_span, maxfev=args.maxfev,
                         n_sigma_paths=args.sigma_paths, moments=args.moments, name=args.output.stem, doc=args.doc,
                         search_budget_s=args.search_budget_s, start_values=start_values,
                         mapper=None if pool is None else _PoolMap(pool))  # fmt: skip
    out = write_preset(document, args.output)
    cal = document["calibration"]
    print(f"{out}: objective {cal['objective']:.2f} (start {cal['start']['objective']:.2f}), "
          f"{cal['evaluations']} evaluations, {cal['search']['wall_s']} s")  # fmt: skip
    for name, value in cal["estimates"].items():
        print(f"  {name} = {value:.6g} +- {cal['std_errors'][name]:.2g} (start {cal['start']['values'][name]:.6g})")
    for name, row in cal["moments"].items():
        print(f"  {name:22s} real {row['real']:.4g} fitted {row['simulated']:.4g}")
    return out


if __name__ == "__main__":
    main()
