"""Score trained generators on the held-out span of their training spec, side by side.

``python -m scenarios.generate.heldout SPEC MODEL [MODEL ...] [--paths 2] [--duration SECONDS] [--seed S]
[--stop-when-stuck] [--presets NAME ...] [--levels N] [--tstr-choice CHOICE.json] [--tstr-boot 2000] [--data DIR]
[--real-windows N] [--against span|same] [--pooled-classifier] [--runaway-factor F] [--trade-fill queue|front]
[--thin-behind off|fit] [-o OUT.json]``
samples every model (diffusion or GAN, read from its folder) from the sampling context with the same seed, scores
each path against the whole held-out test span (``--against same``: its first seconds, below) with
:func:`simlab.metrics.scorecard.score` (the realism scorecard),
and compares the first model with each other one on the L1 scores both computed
(:func:`generators.evaluation.compare_cards`: means with 99 % intervals and the interval of the difference). It
prints one table and writes every number, with provenance, to the JSON file. A model whose rollout gets stuck
(:data:`generators.rollout.MAX_IDLE_CHAINS` generated blocks in a row that cannot apply) is recorded as failed,
with the rollout's sentence, and left out of the comparisons; with ``--stop-when-stuck`` the stuck path ends
where it got stuck instead, is marked ``stuck`` and is scored as far as it went. With ``--runaway-factor F`` a
path whose flow speeds up past F times the training span's peak rate (:func:`runaway_guard`) is ended there, marked
``runaway`` and scored as far as it went. A model with a path too short to score (ended after a few messages) is
recorded as failed, with our sentence, as a stuck rollout is.

Usefulness (TSTR, :func:`tstr_scores`): each model's paths, pooled, and each preset's are the training flow of the
direction forecaster of :mod:`scenarios.generate.tstr`, tested on the real held-out span beside the same forecaster
trained on the real training span (TRTR), the prior (chance) and the real validation span (real flow from another
time), with paired block-bootstrap intervals and the verdict on the issue's goal (ratio >= 0.9: shown, refuted or
not shown; :func:`scenarios.generate.tstr.verdict`). The task is chosen on the training and validation spans only
(:func:`scenarios.generate.tstr_study.select_task`, or a ``tstr_study select`` file given with ``--tstr-choice``).

Any instrument's spec works the same way (``generate_aapl_*.toml``, ``generate_amzn_*.toml``): a path lasts a
sixth of the held-out span unless ``--duration`` says otherwise (120 s of the AAPL hour's 720 s, 778 s of the AMZN
day's 4,671 s), and when the real data are a level-N LOBSTER file (the AMZN day is level 1), the TSTR keeps only the
generated events such a file would record, as the scorecard does. ``--presets`` (e.g. ``qr-amzn zi-amzn
abm-amzn-v2``) simulates shipped parametric presets over the held-out span, path p with the seed
:func:`preset_seed` splits from ``seed`` (:mod:`scenarios.generate.baselines`), scores them the same way and
compares each with the first model.

What real flow gives where a path is read (:func:`real_reference`, always in the JSON and printed): the real spans'
message rates and the held-out span's events in each path-length window from its start, since a path covers the
span's first seconds and is scored against all of it. ``--real-windows N`` also scores the last N path-length windows
of the real validation span as paths (real flow of another time, scored the same way).

``--pooled-classifier`` also reads one real-vs-synthetic classifier over all of a source's paths (a model's, a
preset's, and with ``--real-windows N`` the real windows', whose reading is then the real-vs-real floor of this
one), every source at one book depth and one window of events (:func:`pooled_readings`), so that the readings of
one run compare.

``--against same`` scores every path (model, preset or real window) against the held-out span's first ``duration``
seconds instead of all of it: the real continuation of the context the paths start from, the seconds the paths
cover (LOB-Bench scores a generated continuation against the real one of the same context). The default ``span``
keeps the whole span. The TSTR task reads the whole span either way.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from generators.evaluation import compare_cards, order_fills, realism
from generators.rollout import TRADE_FILLS, RateGuard, check_trade_fill
from generators.spec import load_generator, load_spec, slice_flow, spec_spans
from generators.thinning import behind_hazard
from scenarios.forecast.book_tstr import joined
from scenarios.forecast.books import BookSeries
from scenarios.forecast.task_protocol import origins
from scenarios.generate.baselines import baseline_kind, fitted_on, simulate_baseline, span_start
from scenarios.generate.ground_truth import kind_shares
from scenarios.generate.tstr import GOAL, MIN_ORIGINS, series_of, verdict
from simlab.errors import DataError, ParameterError, SimlabError
from simlab.io import DEFAULT_DATA_DIR
from simlab.provenance import provenance
from simlab.store import write_text_atomic

HELDOUT_SHARE = 6  # a path's default length is the held-out span's over this
AGAINST = ("span", "same")  # what a path is scored against: the whole held-out span, or its first seconds
THIN_BEHIND = ("off", "fit")  # --thin-behind: no thinning behind the best, or at the training span's rate
REAL_WINDOWS = "real windows"  # the source name of --real-windows among the pooled readings
RUNAWAY_WINDOW_S = 60.0  # the rate guard's interval (--runaway-factor)


def score_models(
    spec_path: str | Path,
    models: list[str | Path],
    *,
    n_paths: int = 2,
    duration: float | None = None,
    seed: int = 20261203,
    n_boot: int = 100,
    data_dir: str | Path = DEFAULT_DATA_DIR,
    stop_when_stuck: bool = False,
    presets: list[str] | tuple[str, ...] = (),
    levels: int | None = None,
    tstr_choice: dict[str, Any] | str | Path | None = None,
    tstr_boot: int = 2000,
    real_windows: int = 0,
    against: str = "span",
    pooled: bool = False,
    runaway_factor: float | None = None,
    trade_fill: str | Sequence[str] = "queue",
    thin_behind: str | Sequence[str] = "off",
) -> dict[str, Any]:
    """Sample and score every model (and preset) against the spec's held-out span; compare the first model with the
    others, per path; score every model's and preset's pooled paths as TSTR training flow (:func:`tstr_scores`).

    Parameters
    ----------
    spec_path
        The training spec (its data and split give the held-out span).
    models
        Model folders (the first is the reference of the comparisons).
    n_paths, duration
        Paths per model and seconds per path (default :func:`default_duration` of the held-out span).
    seed
        Sampling seed (the same for every model; preset path p is simulated with :func:`preset_seed`) and scoring seed
        (path p scored with ``seed + p``).
    n_boot
        Bootstrap replicates of the scorecard.
    data_dir
        Where the spec's files are.
    stop_when_stuck
        End a stuck path where it got stuck (recorded, and scored as far as it went) instead of failing the model.
    presets
        Shipped parametric presets (:mod:`scenarios.generate.baselines`) simulated over the held-out span and scored
        the same way, each compared with the first model.
    levels
        Book levels the scorecard compares (default: the fewer of the two books', 50 for a model on AAPL). The real
        books' unknown cells are left out either way (:func:`generators.evaluation.realism`); on AAPL no held-out
        row knows 50 levels, so the two resting volumes are scored only with ``levels=10``.
    tstr_choice
        The TSTR task: a ``tstr_study select`` result (its file or its dict); default: chosen here by
        :func:`scenarios.generate.tstr_study.select_task` on the training and validation spans.
    tstr_boot
        Bootstrap replicates of the TSTR intervals (its root seed is ``seed``).
    real_windows
        Also score the last ``real_windows`` whole windows of ``duration`` of the real validation span (real flow of
        another time, just before the held-out span) as paths, the same way (:func:`real_reference`); 0: none.
    against
        What every path is scored against: ``"span"`` the whole held-out span, ``"same"`` its first ``duration``
        seconds (the paths' own seconds, right after the context).
    pooled
        Also read one classifier over all of a model's (and preset's) paths, ``pooled_classifier``
        (:func:`pooled_classifier`): a path alone gives the classifier few windows, so its AUC interval is wide and
        its point low (``docs/generators_amzn.md``, session 39); with ``real_windows``, the real windows too, every
        source at one window (:func:`pooled_readings`).
    runaway_factor
        Sample under a rate guard (:func:`runaway_guard`): a path is ended, marked ``runaway`` and scored as far as
        it went once more than ``runaway_factor`` times the training span's most events in any
        :data:`RUNAWAY_WINDOW_S` seconds apply within one such interval of its clock. None: no guard.
    trade_fill
        What the models' generated TRADEs fill (:data:`generators.rollout.TRADE_FILLS`; ``"front"``: at most the
        front order of the best opposite level, one fill, as one execution row of the data): one value for every
        model, or one per model (a model folder copied under another name then runs under both rules).
    thin_behind
        :data:`THIN_BEHIND`, one value for every model or one per model: ``"fit"`` samples the model with the
        orders its flow leaves behind the best thinned at the rate :func:`generators.thinning.behind_hazard`
        estimates on the spec's training span (the removals a level-1 file does not record; recorded as
        ``thinning``); ``"off"``: none.

    Returns
    -------
    dict
        ``duration_s``, ``window_levels`` (the real file's levels, or None); ``against`` (its ``name`` and the
        reference's ``events``); ``real`` (:func:`real_reference`: the
        real spans' message rates, the held-out span's events per path-length window, and the scored real
        windows); ``models`` (per model folder: ``family``,
        ``sampling_s``, ``paths``: per path the scorecard's summary; or ``failed``); ``presets`` (per preset:
        ``kind``, ``fitted_on``, ``simulating_s``, ``paths``); ``comparisons`` (per "other vs first model", per
        path, :func:`generators.evaluation.compare_cards`); ``tstr`` (:func:`tstr_scores`; sources are named by the
        model folder or the preset). With ``pooled``: ``pooled_classifier`` in every model's and preset's entry and,
        with ``real_windows``, in ``real`` (:func:`pooled_readings`), and ``pooled_window``, the events of the one
        window they were all read at. With ``runaway_factor``: ``runaway_guard`` (:func:`runaway_guard`'s record).
        With ``thin_behind`` "fit" for a model: ``thinning`` (:func:`generators.thinning.behind_hazard` of the
        training span) and the model's ``thin_rate_per_s``.
    """
    if levels is not None and (isinstance(levels, bool) or not isinstance(levels, int) or levels < 1):
        raise ParameterError(f"`levels` of score_models must be an int >= 1 or None; got {levels!r}")
    if isinstance(tstr_boot, bool) or not isinstance(tstr_boot, int) or tstr_boot < 1:
        raise ParameterError(f"`--tstr-boot` (tstr_boot) must be an int >= 1; got {tstr_boot!r}")
    if isinstance(real_windows, bool) or not isinstance(real_windows, int) or real_windows < 0:
        raise ParameterError(f"`--real-windows` (real_windows) must be an int >= 0; got {real_windows!r}")
    if against not in AGAINST:
        raise ParameterError(f"`--against` (against) must be one of {list(AGAINST)}; got {against!r}")
    names = [str(m) for m in models] + list(presets) + ([REAL_WINDOWS] if pooled and real_windows else [])
    if len(set(names)) < len(names):
        raise ParameterError(f"the models and `--presets` must each be named once (and none {REAL_WINDOWS!r}); got "
                             f"{sorted(n for n in set(names) if names.count(n) > 1)} more than once")  # fmt: skip
    if duration is not None and not (isinstance(duration, (int, float)) and duration > 0):
        raise ParameterError(f"`--duration` (duration) must be a number of seconds > 0; got {duration!r}")
    if runaway_factor is not None:
        _check_factor(runaway_factor)
    fills = [trade_fill] * len(models) if isinstance(trade_fill, str) else list(trade_fill)
    if len(fills) != len(models):
        raise ParameterError(f"`--trade-fill` (trade_fill) must be one value or one per model ({len(models)}); got "
                             f"{len(fills)}")  # fmt: skip
    for fill in fills:
        check_trade_fill(fill, "score_models (--trade-fill)")
    thins = [thin_behind] * len(models) if isinstance(thin_behind, str) else list(thin_behind)
    if len(thins) != len(models) or any(t not in THIN_BEHIND for t in thins):
        raise ParameterError(f"`--thin-behind` (thin_behind) must be one of {list(THIN_BEHIND)}, one value or one per "
                             f"model ({len(models)}); got {thin_behind!r}")  # fmt: skip
    if isinstance(tstr_choice, (str, Path)):  # read before the sampling: a bad file fails fast
        tstr_choice = _read_choice(tstr_choice)
    if tstr_choice is not None:
        _check_picks(tstr_choice)
    spans = spec_spans(load_spec(spec_path), data_dir)
    duration = default_duration(spans["test"]) if duration is None else float(duration)
    window = lobster_window(spans["test"])
    test = spans["test"] if against == "span" else slice_flow(spans["test"], 0.0, duration)  # what paths meet
    sources: dict[str, list[BookSeries]] = {}  # the TSTR training flow: each model's and preset's paths
    cards, out = {}, {"duration_s": duration, "window_levels": window, "models": {}, "presets": {}, "comparisons": {}}
    out["against"] = {"name": against, "events": test["events"].sizes["event"]}
    guard = None
    if runaway_factor is not None:
        guard, out["runaway_guard"] = runaway_guard(spans["train"]["events"], runaway_factor)
    out["real"] = real_reference(
        spans, duration, windows=real_windows, seed=seed, n_boot=n_boot, levels=levels, reference=test
    )
    thin_rate = 0.0
    if "fit" in thins:
        out["thinning"] = behind_hazard(spans["train"]["events"], spans["train"]["books"])
        thin_rate = float(out["thinning"]["hazard_per_s"])
    pooled_sources: dict[str, list[dict[str, Any]]] = {}  # --pooled-classifier: every source's paths, read at the end
    if pooled and real_windows:
        pooled_sources[REAL_WINDOWS] = [
            slice_flow(spans["validation"], w["start_s"], duration) for w in out["real"]["windows"]
        ]
    for model, fill, thin in zip(models, fills, thins, strict=True):
        generator = load_generator(model)
        start = time.perf_counter()
        try:
            paths = generator.sample(
                n_paths,
                duration,
                generator=seed,
                stop_when_stuck=stop_when_stuck,
                runaway=guard,
                trade_fill=fill,
                thin_rate=thin_rate if thin == "fit" else 0.0,
            )
            seconds = time.perf_counter() - start
            card = realism(paths, test, seed=seed, n_boot=n_boot, levels=levels)
            summaries = [_path_summary(path, c) for path, c in zip(paths, card, strict=True)]
        except SimlabError as error:  # a rollout that got stuck, or a path too short to score, is a result:
            out["models"][str(model)] = {"failed": str(error)}  # recorded, and the model left out
            continue
        cards[str(model)] = card
        out["models"][str(model)] = {
            "family": paths[0]["events"].attrs["generator"],
            "trade_fill": fill,
            "thin_rate_per_s": thin_rate if thin == "fit" else 0.0,
            "sampling_s": seconds,
            "paths": summaries,
        }
        if pooled:
            pooled_sources[str(model)] = paths
        sources[str(model)] = [
            series_of(f"{model} path {p}", path, window_levels=window) for p, path in enumerate(paths)
        ]
    for name in presets:
        cards[name], out["presets"][name], paths = _score_preset(
            name, spans, n_paths, duration, seed, n_boot, levels, reference=test
        )
        if pooled:
            pooled_sources[name] = paths
        sources[name] = [series_of(f"{name} path {p}", path, window_levels=window) for p, path in enumerate(paths)]
    if pooled_sources:
        out["pooled_window"], readings = pooled_readings(pooled_sources, test, seed=seed, n_boot=n_boot, levels=levels)
        for name, reading in readings.items():  # names are unique (checked above)
            where = out["real"] if name == REAL_WINDOWS else out["models"].get(name, out["presets"].get(name))
            where["pooled_classifier"] = reading
    reference = str(models[0])
    for other in [str(m) for m in models[1:]] + list(presets):
        if other in cards and reference in cards:
            out["comparisons"][f"{other} vs {reference}"] = [
                compare_cards(ours, theirs) for ours, theirs in zip(cards[other], cards[reference], strict=True)
            ]
    real = {name: series_of(f"real {name}", spans[name]) for name in ("train", "validation", "test")}
    out["tstr"] = tstr_scores(real, sources, choice=tstr_choice, n_boot=tstr_boot, seed=seed)
    return out


def pooled_classifier(
    paths: list[dict[str, Any]],
    real: dict[str, Any],
    *,
    seed: int,
    n_boot: int = 100,
    levels: int | None = None,
    window: int | None = None,
) -> dict[str, Any] | str:
    """One real-vs-synthetic classifier over all ``paths`` against ``real``
    (:func:`simlab.metrics.discriminative.discriminate_pooled`), read as the scorecard reads one path: the books
    cut to ``levels`` (default: the fewest of all), each path's events as a level-N file of the real data's would
    record them, known depth only, 99 % intervals, ``n_boot`` splits, the generator ``default_rng(seed)`` (so one
    path pooled does not repeat its card's AUC, whose generator is the card's). The window (events) is ``window``,
    by default the one the scorecard gives the smallest path (its events and the real ones, the fewer over 40,
    within 20-200): one short or stuck path shortens every path's windows, and a path without one whole window
    makes the reading not applicable. Returns the classifier's record, or the reason in words where it does not
    apply."""
    if window is not None and (isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 10):
        raise ParameterError(f"`window` of pooled_classifier must be an int >= 10 events or None; got {window!r}")
    m_real, synthetic = _pooled_markets(paths, real, levels)
    return _pooled_reading(
        m_real, synthetic, seed, n_boot, _pooled_window(m_real, synthetic) if window is None else window
    )


def pooled_readings(
    sources: dict[str, list[dict[str, Any]]],
    real: dict[str, Any],
    *,
    seed: int,
    n_boot: int = 100,
    levels: int | None = None,
) -> tuple[int, dict[str, dict[str, Any] | str]]:
    """Read :func:`pooled_classifier` for every source (a model's, a preset's or real windows' paths) at one book
    depth and one window for all, so that the readings compare, and return ``(window, {source: reading})``. The
    depth is ``levels`` (default: the fewest of every source's books and the real ones), the window the
    scorecard's rule applied to the smallest path of any source. A classifier's AUC grows with its window's
    events, so sources read at their own windows would not compare (on the AMZN validation span a real 778-s
    window holds 1,267-1,615 level-1 events, a model's path 1,659-3,089). So one short path (a stuck one, under
    ``--stop-when-stuck``) shortens every source's window, the real windows' included, and a source's reading
    depends on the sources read beside it: compare readings of one call only."""
    if not sources:
        raise ParameterError("`sources` of pooled_readings must name at least one source; got none")
    empty = sorted(name for name, paths in sources.items() if not paths)
    if empty:
        raise ParameterError(f"`sources` of pooled_readings must each hold at least one path; got none for {empty}")
    books = [p.get("books") for paths in sources.values() for p in paths] + [real.get("books")]
    depth = levels or min((b.sizes["level"] for b in books if b is not None), default=None)
    m_real = _real_market(real, depth)  # once for every source
    markets = {name: _pooled_markets(paths, real, depth, name, m_real)[1] for name, paths in sources.items()}
    window = min(_pooled_window(m_real, synthetic) for synthetic in markets.values())
    return window, {
        name: _pooled_reading(m_real, synthetic, seed, n_boot, window) for name, synthetic in markets.items()
    }


def _real_market(real: dict[str, Any], depth: int | None) -> Any:
    from simlab.metrics._market import Market

    return Market(real["events"], real.get("books"), levels=depth, source="real", known_depth=True)


def _pooled_markets(
    paths: list[dict[str, Any]],
    real: dict[str, Any],
    levels: int | None,
    source: str = "pooled_classifier",
    m_real: Any = None,
) -> tuple[Any, list[Any]]:
    # the real span (``m_real`` when it is already read at the depth) and the paths as the scorecard reads them
    # (see pooled_classifier)
    from simlab.metrics._market import Market

    if not paths:
        raise ParameterError("`paths` of pooled_classifier must hold at least one path; got none")
    for p, path in enumerate(paths):
        for key in ("tick_size", "instrument"):
            ours, theirs = path["events"].attrs.get(key), real["events"].attrs.get(key)
            if ours is None or theirs is None or str(ours) != str(theirs):
                raise DataError(f"{source}: path {p}'s {key} is {ours!r}, the real data's {theirs!r}; "
                                "expected the same")  # fmt: skip
    books = [b for b in (real.get("books"), *(p.get("books") for p in paths)) if b is not None]
    depth = levels or min((b.sizes["level"] for b in books), default=None)
    attrs = real["events"].attrs
    window_levels = attrs.get("levels") if attrs.get("format") == "lobster" else None
    m_real = _real_market(real, depth) if m_real is None else m_real
    synthetic = [Market(p["events"], p.get("books"), levels=depth, source="synthetic", window_levels=window_levels,
                        known_depth=True) for p in paths]  # fmt: skip
    return m_real, synthetic


def _pooled_window(m_real: Any, synthetic: list[Any]) -> int:
    # the scorecard's window for the smallest path: the fewer events over 40, within 20-200
    return int(np.clip(min(m_real.ts.size, min(m.ts.size for m in synthetic)) // 40, 20, 200))


def _pooled_reading(m_real: Any, synthetic: list[Any], seed: int, n_boot: int, window: int) -> dict[str, Any] | str:
    from simlab.metrics._market import NotApplicable
    from simlab.metrics.discriminative import discriminate_pooled

    try:
        result = discriminate_pooled(m_real, synthetic, rng=np.random.default_rng(seed), window=window, n_boot=n_boot)
    except NotApplicable as reason:
        return f"not applicable: {reason}"
    return {**result.to_dict(), "window": window, "paths": len(synthetic)}


def runaway_guard(events: Any, factor: float, seconds: float = RUNAWAY_WINDOW_S) -> tuple[RateGuard, dict[str, Any]]:
    """Return the rate guard ``factor`` times the most ``events`` (the training span's) in any ``seconds`` window,
    and its record.

    The peak is over every window that starts at an event (a sliding window, so no interval of the rollout's,
    which start at the path's start, can hold more of the span's flow). Events count each fill of a market
    order, messages count the order once, so the bound in messages is looser than the factor says, never tighter.
    The rollout's intervals are fixed (from the path's start), not sliding, so up to twice the bound can apply in
    a ``seconds`` that straddles two of them. On the AMZN day's training span the peak is 664 events in 60 s (the
    span averages 2.4 events per second; ``docs/generators_amzn.md``, session 41).
    """
    _check_factor(factor)
    ts = np.asarray(events["ts_ns"].values, np.int64)
    width = int(round(seconds * 1e9))
    if ts.size == 0 or width < 1:
        raise DataError(f"runaway guard: needs a training span with events and a window > 0 s; got {ts.size} "
                        f"events and {seconds!r} s")  # fmt: skip
    peak = int((np.searchsorted(ts, ts + width, side="left") - np.arange(ts.size)).max())
    guard = RateGuard(int(np.ceil(factor * peak)), float(seconds))
    record = {"factor": float(factor), "seconds": float(seconds), "train_peak_events": peak, "messages": guard.messages}
    return guard, record


def _check_factor(factor: Any) -> None:
    number = not isinstance(factor, (bool, np.bool_)) and isinstance(factor, (int, float, np.integer, np.floating))
    if not number or not np.isfinite(factor) or factor < 1:
        raise ParameterError(f"`--runaway-factor` (runaway_factor) must be a finite number >= 1; got {factor!r}")


def real_reference(
    spans: dict[str, dict[str, Any]],
    duration: float,
    *,
    windows: int = 0,
    seed: int = 20261203,
    n_boot: int = 100,
    levels: int | None = None,
    reference: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Return what real flow gives where a generated path is read: rates, and real windows scored as paths.

    ``windows`` windows of ``duration`` s are scored with ``seed`` and ``n_boot`` at ``levels`` against
    ``reference`` (the paths' reference, ``--against``; default the whole held-out span). A path starts where the
    held-out span starts and lasts ``duration`` s; under ``--against span`` it is scored against the whole span.
    When the span's flow is not stationary, the path's rate is then compared with a rate the span only reaches
    later (on the AAPL hour: 26.3 messages per s in its first 120 s, 20.0 over its 720 s;
    ``docs/generators_truth_context.md``, session 20).

    Returns
    -------
    dict
        ``rate_per_s``: events per second of each real span (``train``, ``validation``, ``test``, the first event
        to the last); ``test_windows``: the held-out span's events in each whole window of ``duration`` from its
        start (the first is the paths' own seconds); ``test_order_fills``: the held-out span's fills per marketable
        order (:func:`generators.evaluation.order_fills`, as every path's ``order_fills``); ``windows``: the last
        ``windows`` whole windows of ``duration`` of the validation span, oldest first, each scored against the
        held-out span as a path is (:func:`generators.evaluation.realism`, seed ``seed + index``), with its
        ``start_s`` (from the validation span's first event) and the summary a path gets.
    """
    if windows and not duration > 0:
        raise ParameterError(f"`duration` of real_reference must be > 0 s; got {duration!r}")
    seconds = {name: _span_seconds(span["events"]) for name, span in spans.items()}
    rate = {name: spans[name]["events"].sizes["event"] / seconds[name] if seconds[name] > 0 else None for name in spans}
    out: dict[str, Any] = {"rate_per_s": rate, "test_windows": _window_counts(spans["test"]["events"], duration)}
    out["test_order_fills"] = order_fills(spans["test"]["events"])  # fills per marketable order of the held-out span
    whole = int(seconds["validation"] // duration) if duration > 0 else 0
    if windows > whole:
        raise DataError(f"`--real-windows` {windows}: the validation span holds {whole} whole windows of "
                        f"{duration:g} s; ask for at most {whole}")  # fmt: skip
    starts = [seconds["validation"] - (k + 1) * duration for k in reversed(range(windows))]
    paths = [slice_flow(spans["validation"], start, duration) for start in starts]
    reference = spans["test"] if reference is None else reference
    cards = realism(paths, reference, seed=seed, n_boot=n_boot, levels=levels) if paths else []
    scored = zip(starts, paths, cards, strict=True)
    out["windows"] = [{"start_s": start, **_path_summary(path, card)} for start, path, card in scored]
    return out


def _span_seconds(events: Any) -> float:
    ts = events["ts_ns"].values
    return (int(ts[-1]) - int(ts[0])) / 1e9


def _window_counts(events: Any, duration: float) -> list[int]:
    # events in each whole window of ``duration`` s from the span's first event
    ts = events["ts_ns"].values.astype(np.int64)
    width = int(round(duration * 1e9))
    whole = int((int(ts[-1]) - int(ts[0])) // width) if width > 0 else 0
    index = (ts - ts[0]) // width if width > 0 else np.zeros(0, np.int64)
    return np.bincount(index[index < whole], minlength=whole).astype(int).tolist() if whole else []


def tstr_scores(
    real: dict[str, BookSeries],
    sources: dict[str, list[BookSeries]],
    *,
    choice: dict[str, Any] | None = None,
    n_boot: int = 2000,
    seed: int = 20261203,
    select_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Return the TSTR of every source (its paths pooled) on the real held-out span, with references and verdicts.

    The task is :func:`scenarios.generate.tstr_study.select_task`'s choice on ``real["train"]`` and
    ``real["validation"]`` (``choice`` None; the held-out span is not read for it) or the given ``choice``; every
    (task, window) it names is scored with :func:`scenarios.generate.tstr.tstr_compare`
    (:func:`scenarios.generate.tstr_study.score_choice`), and each source's ratio on the role's selected metric is
    read against the goal 0.9 and chance (:func:`scenarios.generate.tstr.verdict`).

    Parameters
    ----------
    real
        The real ``train``, ``validation`` and ``test`` (held-out) book series.
    sources
        Per source, its paths' book series (:func:`scenarios.generate.tstr.series_of`).
    choice, n_boot, seed
        The task choice (:func:`~scenarios.generate.tstr_study.select_task`'s result), the bootstrap's replicates
        and root seed.
    select_options
        Keyword arguments of :func:`~scenarios.generate.tstr_study.select_task` (``windows``, ``n_boot``, ``seed``;
        its defaults, those of ``tstr_study select``, when None); a window too long for the real spans is dropped.

    Returns
    -------
    dict
        ``choice`` (per role, the candidate: ``task``, ``window``, ``metric``, and its validation ``score``,
        ``prior`` and ``chance_ratio``), ``selected_on`` (how the task was chosen), ``left_out`` (per "TASK
        wWINDOW", per source left out of it: why, fewer than :data:`~scenarios.generate.tstr.MIN_ORIGINS` usable
        training origins), ``tasks`` (per "TASK wWINDOW" with a source scored: ``tstr_compare``'s result, its
        ``role`` and ``selected_metric`` of the first role naming it, and ``verdicts``: per role naming it, per
        source the :func:`~scenarios.generate.tstr.verdict` of its ratio on that role's metric, with the ``ratio``,
        ``chance_ratio`` (the prior's) and ``ratio_to_real_validation`` it read; or ``{"failed": why}`` when the
        real spans cannot carry that task), and ``cpu_s``; or ``{"failed": why}`` when no task can be chosen.
    """
    # imported here, not at the top: tstr_study imports this module
    from scenarios.generate.tstr_study import WINDOWS, score_choice, select_task, task_from_name

    start = time.process_time()
    try:
        selected_on = "given by the caller"
        if choice is None:
            options = dict(select_options or {})
            rows = min(real["train"].size, real["validation"].size)  # a window needs its rows and then origins
            windows = tuple(w for w in options.pop("windows", WINDOWS) if w + MIN_ORIGINS < rows)
            if not windows:
                raise DataError(f"TSTR task choice: the shorter of the real training and validation spans has "
                                f"{rows} rows; need more than the smallest OFI window + {MIN_ORIGINS}")  # fmt: skip
            choice = select_task(real["train"], real["validation"], windows=windows, **options)
            selected_on = "chosen on the training and validation spans"
        picks = _check_picks(choice)
        tasks, left_out = {}, {}
        for role, pick in picks.items():
            key = f"{pick['task']} w{pick['window']}"
            if key in left_out:  # another role names the same task and window: scored once, read per role below
                continue
            task, window = task_from_name(pick["task"]), int(pick["window"])
            generated, left_out[key] = {}, {}
            for name, paths in sources.items():  # a source too short for this task is left out of it, with why
                kept = [path for path in paths if path.size > 0]
                usable = origins(joined(kept, task, window), 1, 1).size if kept else 0
                if usable >= MIN_ORIGINS:
                    generated[name] = kept
                else:
                    left_out[key][name] = (f"{usable} usable training origins over {len(paths)} paths "
                                           f"({len(paths) - len(kept)} empty); need >= {MIN_ORIGINS}")  # fmt: skip
            if generated:
                try:
                    tasks.update(score_choice(real, generated, {role: pick}, n_boot=n_boot, seed=seed))
                except DataError as error:  # real spans too short for this task: recorded, the others kept
                    tasks[key] = {"failed": str(error)}
    except DataError as error:  # real spans too short to choose a task: recorded
        return {"failed": str(error), "cpu_s": time.process_time() - start}
    for role, pick in picks.items():  # every role's verdicts, on its own metric (roles may share a task)
        result = tasks.get(f"{pick['task']} w{pick['window']}")
        if result is None or "failed" in result:  # every source left out of this task, or the task failed
            continue
        arms = result["arms"][pick["metric"]]
        result.setdefault("verdicts", {})[role] = {
            name: {**verdict(arms[name]["ratio"], arms["prior"]["ratio"]), "metric": pick["metric"],
                   "ratio": arms[name]["ratio"], "chance_ratio": arms["prior"]["ratio"],
                   "ratio_to_real_validation": arms[name]["ratio_to_real_validation"]}
            for name in result["paths"]
        }  # fmt: skip
    return {"choice": picks, "selected_on": selected_on, "left_out": left_out, "tasks": tasks,
            "cpu_s": time.process_time() - start}  # fmt: skip


def _check_picks(choice: dict[str, Any]) -> dict[str, dict[str, Any]]:
    # the roles of a task choice, each with a known task, a window (an int >= 1) and a metric; else our sentence
    from scenarios.generate.tstr_study import ROLES, task_from_name

    picks = {role: {k: choice[role][k] for k in ("task", "window", "metric", "score", "prior", "chance_ratio")
                    if k in choice[role]} for role in ROLES if isinstance(choice.get(role), dict)}  # fmt: skip
    if not picks:
        raise ParameterError(f"TSTR choice must name at least one of the roles {ROLES}; found {sorted(choice)}")
    for role, pick in picks.items():
        window = pick.get("window")
        if (
            pick.get("metric") not in ("accuracy", "balanced_accuracy")
            or "task" not in pick
            or isinstance(window, bool)
            or not isinstance(window, int)
            or window < 1
        ):
            raise ParameterError(f"TSTR choice role {role!r} must give a task, a window (an int >= 1) and a metric "
                                 f"(accuracy or balanced_accuracy); found {pick}")  # fmt: skip
        task_from_name(pick["task"])  # an unknown task: its own sentence, before any sampling
    return picks


def _read_choice(path: str | Path) -> dict[str, Any]:
    # a ``tstr_study select`` file: its roles name the task, window and metric
    try:
        choice = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise DataError(
            f"TSTR choice file {str(path)!r}: expected a tstr_study select JSON file; found {error}"
        ) from error
    if not isinstance(choice, dict) or "chosen" not in choice:
        raise DataError(f"TSTR choice file {str(path)!r}: expected a key 'chosen' (tstr_study select); found none")
    return choice


def _score_preset(
    name: str,
    spans: dict,
    n_paths: int,
    duration: float,
    seed: int,
    n_boot: int,
    levels: int | None = None,
    reference: dict | None = None,
) -> tuple[list, dict, list]:
    # simulate the preset's paths over the held-out span and score them as the models' paths (against `reference`,
    # default the whole held-out span)
    open_ns, start_ns = span_start(spans["train"]), span_start(spans["test"])
    start = time.perf_counter()
    paths = [
        simulate_baseline(name, open_ns=open_ns, start_ns=start_ns, duration_s=duration, seed=preset_seed(seed, p))
        for p in range(n_paths)
    ]
    seconds = time.perf_counter() - start
    cards = realism(paths, spans["test"] if reference is None else reference, seed=seed, n_boot=n_boot, levels=levels)
    return cards, {
        "kind": baseline_kind(name), "fitted_on": fitted_on(name), "simulating_s": seconds,
        "paths": [_path_summary(path, card) for path, card in zip(paths, cards, strict=True)],
    }, paths  # fmt: skip


def preset_seed(seed: int, path: int) -> int:
    """Return the simulation seed of a preset's path ``path`` in a run seeded ``seed`` (split by ``SeedSequence``,
    so runs with nearby seeds share no path)."""
    return int(np.random.SeedSequence([seed, path]).generate_state(1, np.uint64)[0] >> 1)


def default_duration(test: dict[str, Any]) -> float:
    """Return the default seconds per path: a sixth of the held-out span (120 s of the AAPL hour's 720 s).

    A sixth keeps the sampling cost per path to about a sixth of the span's messages whatever the instrument: the
    AMZN day's held-out span is 4,671 s of slower flow, so 120 s would hold about 375 real events.
    """
    ts = test["events"]["ts_ns"].values
    return round((int(ts[-1]) - int(ts[0])) / 1e9 / HELDOUT_SHARE)


def lobster_window(span: dict[str, Any]) -> int | None:
    """Return the levels of a LOBSTER level-N span (its file records only events that touch them), else None."""
    attrs = span["events"].attrs
    return int(attrs["levels"]) if attrs.get("format") == "lobster" and attrs.get("levels") else None


def floor_summary(card: Any, *, confidence: float = 0.99) -> dict[str, Any]:
    """Return the real-vs-real floor of a scorecard's L1 scores and which scores cannot be told from it.

    Returns
    -------
    dict
        ``floor_mean_l1`` (the mean over the card's L1 scores of each score's real-vs-real floor, with the
        percentile interval of the mean of the floor replicates), ``indistinguishable`` (the L1 scores whose
        interval reaches the floor's: ``low <= floor_high``) and ``l1_rows`` (every L1 score's value, interval,
        floor and floor interval).
    """
    rows = [r for r in card.rows if r.metric == "l1" and r.distance is not None]
    if not rows:
        return {"floor_mean_l1": None, "indistinguishable": [], "l1_rows": {}}
    size = min(r.distance.floor_replicates.shape[0] for r in rows)
    replicates = np.mean([r.distance.floor_replicates[:size] for r in rows], axis=0)
    low, high = np.percentile(replicates, [50 * (1 - confidence), 50 * (1 + confidence)])
    floor = {"value": float(np.mean([r.distance.floor for r in rows])), "low": float(low), "high": float(high)}
    names = {f"{r.quantity} ({r.family})": r.distance for r in rows}
    return {
        "floor_mean_l1": floor,
        "indistinguishable": [name for name, d in names.items() if d.low <= d.floor_high],
        "l1_rows": {name: d.to_dict() for name, d in names.items()},
    }


def classifier_record(card: Any) -> dict[str, Any] | str:
    """The scorecard's classifier as a record keeps it: its AUC with the interval, the features it read (the book's
    five only where both datasets are quoted enough: docs/scorecard_book_features.md) and any windows left out
    unquoted; the reason in words where it did not apply."""
    disc = card.discriminative
    return disc.to_dict() if hasattr(disc, "to_dict") else f"not applicable: {disc}"


def _path_summary(path: dict, card: Any) -> dict[str, Any]:
    attrs = path["events"].attrs
    disc = card.discriminative
    if "l1" not in card.summary:  # a path ended after a few messages (stuck, or a guard far below its flow)
        ended = " (ended stuck)" if attrs.get("stuck") else " (ended runaway)" if attrs.get("runaway") else ""
        raise DataError(
            f"held-out scoring: a path of {path['events'].sizes['event']} events{ended} gives the realism scorecard "
            f"no L1 score; expected a path long enough to score (its classifier: {disc})"
        )
    out = {
        "mean_l1": card.summary["l1"]["mean"],
        "l1_scores": card.summary["l1"]["scores"],
        **floor_summary(card),
        "roc_auc": disc.auc if hasattr(disc, "auc") else f"not applicable: {disc}",
        "classifier": classifier_record(card),
        "events": int(path["events"].sizes["event"]),
        "seconds": (int(path["events"]["ts_ns"].values[-1]) - int(path["events"]["ts_ns"].values[0])) / 1e9,
        "kind_shares": kind_shares(path["events"]),
        "fill_kind_shares": kind_shares(path["events"], fills=True),
        "order_fills": order_fills(path["events"], skip=int(attrs.get("initial_orders", 0))),
    }
    if "applied" in attrs:  # a generator's rollout counts
        out.update({key: int(attrs[key]) for key in ("applied", "rejected", "discarded", "stuck", "runaway")})
        out["front_held"] = int(attrs.get("front_held", 0))
        out["thinned"] = int(attrs.get("thinned", 0))
        reasons = {k[len("rejected_") :]: int(v) for k, v in attrs.items() if k.startswith("rejected_")}
        out["rejected_by_reason"] = reasons
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run :func:`score_models` from the command line; print a table and write the JSON file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec")
    parser.add_argument("models", nargs="+")
    parser.add_argument("--paths", type=int, default=2)
    parser.add_argument("--duration", type=float, default=None, help="seconds per path (default: span / 6)")
    parser.add_argument("--seed", type=int, default=20261203)
    parser.add_argument("--n-boot", type=int, default=100)
    parser.add_argument("--stop-when-stuck", action="store_true", help="end a stuck path instead of failing")
    parser.add_argument("--presets", nargs="*", default=[], help="parametric presets scored on the same span")
    parser.add_argument("--data", default=str(DEFAULT_DATA_DIR), help="the real-data folder")
    parser.add_argument("--levels", type=int, default=None, help="book levels scored (default: the fewer of both)")
    parser.add_argument("--tstr-choice", default=None, help="a tstr_study select file (default: select here)")
    parser.add_argument("--tstr-boot", type=int, default=2000, help="bootstrap replicates of the TSTR intervals")
    windows = "also score the last N path-length windows of the real validation span as paths"
    parser.add_argument("--real-windows", type=int, default=0, help=windows)
    against = "score every path against the whole held-out span (span) or its first --duration seconds (same)"
    parser.add_argument("--against", choices=AGAINST, default="span", help=against)
    pooled = (
        "also read one classifier over all of each model's, preset's and (with --real-windows) the real "
        "windows' paths, every source at one window of events (a path alone gives it few windows)"
    )
    parser.add_argument("--pooled-classifier", action="store_true", help=pooled)
    runaway = (
        f"end a path (marked runaway, scored as far as it went) once more than F times the training span's most "
        f"events in any {RUNAWAY_WINDOW_S:g} s apply within one such interval of its clock"
    )
    parser.add_argument("--runaway-factor", type=float, default=None, metavar="F", help=runaway)
    fill = (
        "what a generated TRADE fills: its share of the best queue (queue) or at most its front order (front); one "
        "value, or one per model"
    )
    parser.add_argument("--trade-fill", nargs="+", choices=TRADE_FILLS, default=["queue"], help=fill)
    thin = (
        "thin the orders a model's flow leaves behind the best at the rate estimated on the training span (fit) or "
        "not (off); one value, or one per model"
    )
    parser.add_argument("--thin-behind", nargs="+", choices=THIN_BEHIND, default=["off"], help=thin)
    parser.add_argument("-o", "--output", default="heldout.json")
    args = parser.parse_args(argv)
    out = score_models(
        args.spec, args.models, n_paths=args.paths, duration=args.duration, seed=args.seed, n_boot=args.n_boot,
        data_dir=args.data, stop_when_stuck=args.stop_when_stuck, presets=args.presets, levels=args.levels,
        tstr_choice=args.tstr_choice, tstr_boot=args.tstr_boot, real_windows=args.real_windows, against=args.against,
        pooled=args.pooled_classifier, runaway_factor=args.runaway_factor,
        trade_fill=args.trade_fill[0] if len(args.trade_fill) == 1 else args.trade_fill,
        thin_behind=args.thin_behind[0] if len(args.thin_behind) == 1 else args.thin_behind,
    )  # fmt: skip
    config = {k: v for k, v in vars(args).items() if k != "output"}
    out["provenance"] = provenance(seed=args.seed, config=config)
    write_json(args.output, out)
    print(f"{out['duration_s']:g} s per path; real data window levels: {out['window_levels']}; scored against "
          f"{out['against']['name']} ({out['against']['events']} real events)")  # fmt: skip
    real = out["real"]
    if "runaway_guard" in out:
        g = out["runaway_guard"]
        print(f"runaway guard: a path ends once more than {g['messages']} messages apply within {g['seconds']:g} s "
              f"({g['factor']:g} x the training span's {g['train_peak_events']} events at most in any {g['seconds']:g} "
              f"s)")  # fmt: skip
    rates = ", ".join(f"{name} {rate:.1f}" for name, rate in real["rate_per_s"].items() if rate is not None)
    print(f"real events per s: {rates}; held-out events per {out['duration_s']:g} s from its start (the paths' own "
          f"seconds first): {real['test_windows']}")  # fmt: skip
    for window in real["windows"]:
        _print_paths("real     ", f"validation span from {window['start_s']:.1f} s", {"paths": [window]})
    _print_pooled(REAL_WINDOWS, real)
    for model, result in out["models"].items():
        if "failed" in result:
            print(f"{model}: failed: {result['failed']}")
        _print_paths(f"{result.get('family', '?'):9s}", model, result)
        _print_pooled(model, result)
    for name, result in out["presets"].items():
        _print_paths(f"{name:9s}", result["kind"], result)
        _print_pooled(name, result)
    for name, rows in out["comparisons"].items():
        for p, row in enumerate(rows):
            o, t, d = row["ours"], row["theirs"], row["difference"]
            print(f"{name} path {p} ({row['shared']} shared L1 scores): {o['value']:.3f} [{o['low']:.3f}, "
                  f"{o['high']:.3f}] vs {t['value']:.3f} [{t['low']:.3f}, {t['high']:.3f}], difference "
                  f"{d['value']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]")  # fmt: skip
    for line in tstr_lines(out["tstr"]):
        print(line)
    return out


def tstr_lines(tstr: dict[str, Any]) -> list[str]:
    """Return the printed lines of a :func:`tstr_scores` result: per chosen task, the references and each source's
    score, ratio to TRTR, ratio to the real validation arm and verdict, on the role's selected metric, and the
    sources left out of it."""
    fmt = lambda r: f"{r['value']:.3f} [{r['low']:.3f}, {r['high']:.3f}]"  # noqa: E731
    if "tasks" not in tstr:
        return [f"TSTR failed: {tstr['failed']}"]
    lines = [f"TSTR (trained on generated flow, tested on the real held-out span; task {tstr['selected_on']}; "
             f"verdict on the goal ratio >= {GOAL:g}; {tstr['cpu_s']:.0f} CPU s):"]  # fmt: skip
    for role, pick in tstr["choice"].items():  # one block per role, on its own metric (roles may share a task)
        key, metric = f"{pick['task']} w{pick['window']}", pick["metric"]
        result = tstr["tasks"].get(key)
        if result is None:
            lines.append(f"  {role}: {key}, {metric}: no source scored")
        elif "failed" in result:
            lines.append(f"  {role}: {key}, {metric}: failed: {result['failed']}")
        else:
            arms = result["arms"][metric]
            lines.append(f"  {role}: {key}, {metric}, {result['origins']['test']} held-out origins, block "
                         f"{result['block']} ({result['confidence']:.0%} intervals): TRTR "
                         f"{fmt(arms['trtr']['accuracy'])}, chance ratio {fmt(arms['prior']['ratio'])}, real "
                         f"validation ratio {fmt(arms['real_validation']['ratio'])}")  # fmt: skip
            for name, row in result["verdicts"][role].items():
                lines.append(f"    {name} ({result['paths'][name]} paths, {result['origins'][name]} origins): "
                             f"{fmt(arms[name]['accuracy'])}, ratio {fmt(row['ratio'])}, to real validation "
                             f"{fmt(row['ratio_to_real_validation'])}: {row['verdict']}")  # fmt: skip
        lines += [f"    {name}: left out: {why}" for name, why in tstr["left_out"][key].items()]
    return lines


def write_json(path: str | Path, document: dict[str, Any]) -> None:
    """Write ``document`` as JSON atomically (a temporary file beside ``path``, renamed)."""
    write_text_atomic(path, json.dumps(document, indent=1, default=str) + "\n")


def _print_pooled(source: str, result: dict[str, Any]) -> None:
    pooled = result.get("pooled_classifier")
    if isinstance(pooled, dict):
        print(f"{source}: one classifier over its {pooled['paths']} paths: AUC {pooled['auc']:.3f} "
              f"[{pooled['low']:.3f}, {pooled['high']:.3f}] ({pooled['n_test']} held-out windows of {pooled['window']} "
              "events)")  # fmt: skip
    elif pooled is not None:
        print(f"{source}: one classifier over its paths: {pooled}")


def _print_paths(label: str, source: str, result: dict[str, Any]) -> None:
    for p, path in enumerate(result.get("paths", [])):
        m = path["mean_l1"]
        counts = (f", applied/rejected/discarded {path['applied']}/{path['rejected']}/{path['discarded']}"
                  f"{' (stuck)' if path['stuck'] else ''}{' (runaway)' if path.get('runaway') else ''}"
                  ) if "applied" in path else ""  # fmt: skip
        f = path["floor_mean_l1"] or {"value": np.nan, "low": np.nan, "high": np.nan}
        print(f"{label} path {p}: mean L1 {m['value']:.3f} [{m['low']:.3f}, {m['high']:.3f}] over "
              f"{path['l1_scores']} scores (floor {f['value']:.3f} [{f['low']:.3f}, {f['high']:.3f}]; "
              f"{len(path['indistinguishable'])} scores indistinguishable from it), AUC {path['roc_auc']}, "
              f"{path['events']} events in {path['seconds']:.1f} s{counts} ({source})")  # fmt: skip


if __name__ == "__main__":
    main()
