"""How good a generator is: realism against a held-out real span (the scorecard), counterfactual validity of the
regime condition, and sampling throughput.

* :func:`realism` scores each sampled path against the real span with :func:`simlab.metrics.scorecard.score` and
  :func:`compare_on_shared_scores` restricts two score tables to the scores both could compute, so that a model is
  compared with another on the same footing.
* :func:`counterfactual` samples paths under a regime condition and under none, measures the regime on each path's
  first :data:`generators.encoding.REGIME_WINDOW` book rows exactly as the encoding measures it on real data, and
  returns the share of paths in the asked quintile of the *training* data; :func:`counterfactual_sweep` does it
  over regimes and guidance weights, measured at the start and at the end of each path.
* :func:`compare_cards` gives two models' mean distance over the scores both computed against the same real span,
  with bootstrap intervals, and the interval of their difference.
* :func:`throughput` times the sampling of many paths at once (messages applied per second of wall time).
* :func:`order_fills` counts the fills of each marketable order (a run of executions of one side, one price and one
  time, :func:`generators.encoding.fill_runs`), the same way on a real span and on a sampled path.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import xarray as xr

from generators import encoding as enc
from generators.starts import START_MODES, StartWindows, draw_starts
from simlab.errors import DataError, ParameterError
from simlab.metrics.distances import check_bootstrap
from simlab.metrics.scorecard import ScoreCard, score
from simlab.schema import BOOK_FIELDS

REGIME_AT = ("start", "end")  # where path_regime measures a path


def realism(
    paths: list[dict[str, xr.Dataset]],
    real: dict[str, xr.Dataset],
    *,
    seed: int,
    n_boot: int = 100,
    known_depth: bool = True,
    levels: int | None = None,
) -> list[ScoreCard]:
    """Score every path against the real span (one scorecard each; seeds ``seed, seed + 1, ...``).

    With ``known_depth`` (default) the scorecard reads the real books' ``{side}_determined`` masks
    (:func:`generators.data.read_flow` keeps them for a replayed reference) and computes its depth quantities on
    known cells only; False scores every cell as it reads (an unknown level as empty), as before session 11.
    ``levels`` cuts both books to that many levels (default: the fewer of the two books').
    """
    return [
        score(path, real, seed=seed + index, n_boot=n_boot, known_depth=known_depth, levels=levels)
        for index, path in enumerate(paths)
    ]


def compare_on_shared_scores(ours: list[dict], theirs: list[dict], metric: str = "l1") -> dict[str, Any]:
    """Return the mean ``metric`` of two score tables over the scores both computed (``scores`` of ``to_dict``).

    Returns
    -------
    dict
        ``ours``, ``theirs`` (means over the shared scores), ``shared`` (their number) and ``quantities``.
    """

    def table(rows: list[dict]) -> dict[tuple[str, str], float]:
        return {
            (row["quantity"], row["family"]): float(row["value"])
            for row in rows
            if row["metric"] == metric and row.get("status") == "ok"
        }

    a, b = table(ours), table(theirs)
    shared = sorted(set(a) & set(b))
    if not shared:
        raise ParameterError(f"compare_on_shared_scores: the two tables share no {metric!r} score")
    return {
        "ours": float(np.mean([a[k] for k in shared])),
        "theirs": float(np.mean([b[k] for k in shared])),
        "shared": len(shared),
        "quantities": [f"{q} ({f})" for q, f in shared],
    }


def compare_cards(ours: ScoreCard, theirs: ScoreCard, *, metric: str = "l1", confidence: float = 0.99) -> dict:
    """Return the mean ``metric`` of two scorecards over their shared scores, with intervals, and their difference.

    The intervals are percentiles of the mean over the shared scores of each card's bootstrap replicates (the two
    cards resample independently, so the difference's replicates are the differences of the replicate means).

    Returns
    -------
    dict
        ``ours`` and ``theirs`` (``value``, ``low``, ``high``), ``difference`` (ours - theirs, same keys) and
        ``shared`` (the number of scores).
    """
    _, tails = check_bootstrap(10, confidence)

    def rows(card: ScoreCard) -> dict:
        return {(r.quantity, r.family): r.distance for r in card.rows if r.metric == metric and r.distance is not None}

    a, b = rows(ours), rows(theirs)
    shared = sorted(set(a) & set(b))
    if not shared:
        raise ParameterError(f"compare_cards: the two scorecards share no {metric!r} score")
    size = min(min(a[k].replicates.shape[0], b[k].replicates.shape[0]) for k in shared)
    means = {}
    for label, table in (("ours", a), ("theirs", b)):
        replicates = np.mean([table[k].replicates[:size] for k in shared], axis=0)
        means[label] = (float(np.mean([table[k].value for k in shared])), replicates)
    out: dict = {"shared": len(shared), "metric": metric, "confidence": confidence}
    pairs = {**means, "difference": (means["ours"][0] - means["theirs"][0], means["ours"][1] - means["theirs"][1])}
    for label, (value, replicates) in pairs.items():
        low, high = np.percentile(replicates, tails)
        out[label] = {"value": value, "low": float(low), "high": float(high)}
    return out


def path_regime(path: dict[str, xr.Dataset], window: int = enc.REGIME_WINDOW, *, at: str = "start") -> np.ndarray:
    """Return the regime measures ``(4,)`` of a sampled path over ``window`` of its book rows.

    ``at="start"`` measures the first ``window`` rows after the path's start (what a condition asks of the flow
    that follows it); ``at="end"`` the last ``window`` rows, once the path has had time to leave its context book
    (the path must then hold more than ``window`` rows). A model trained on a level-N LOBSTER file (the path's
    ``window_levels`` attribute) is measured on the first N levels, as the encoding measured its training data:
    the hidden levels behind them (:mod:`generators.hidden_depth`) are not part of the regime.
    """
    if at not in REGIME_AT:
        raise ParameterError(f"`at` of path_regime must be one of {list(REGIME_AT)}; got {at!r}")
    skip = int(path["events"].attrs.get("initial_orders", 0))
    levels = path["events"].attrs.get("window_levels")
    cut = slice(None) if levels is None else slice(0, int(levels))
    books = tuple(path["books"][name].values[max(skip - 1, 0) :, cut] for name in BOOK_FIELDS)
    if at == "end":
        if books[0].shape[0] <= window:
            raise DataError(
                f"path_regime: a path of {books[0].shape[0]} book rows is too short to measure its regime over its "
                f"last {window} rows; sample a longer duration"
            )
        books = tuple(rows[-(window + 1) :] for rows in books)
    return enc.regime_values(books, window=window)[0]


def counterfactual(
    generator: Any,
    regime: dict[str, int],
    *,
    n_paths: int,
    duration: float,
    seed: int,
    guidance: float | None = None,
    stop_when_stuck: bool = False,
) -> dict[str, Any]:
    """Sample ``n_paths`` under ``regime`` and under no condition; return the share of paths in each asked quintile.

    Parameters
    ----------
    generator
        A fitted generator with ``sample`` and ``encoding_``.
    regime
        Quintiles 1-5 by regime name.
    n_paths, duration
        Paths per run and seconds each (enough for :data:`generators.encoding.REGIME_WINDOW` messages).
    seed
        Seed of both runs (the same noise).
    guidance
        Classifier-free guidance weight (default: the model's).
    stop_when_stuck
        End stuck paths instead of failing (their number is returned as ``{label} stuck paths``).
    """
    enc.regime_condition(regime, source="regime of counterfactual")
    out: dict[str, Any] = {"regime": dict(regime), "n_paths": n_paths, "duration_s": duration}
    for label, condition in (("conditioned", regime), ("unconditioned", None)):
        paths = generator.sample(
            n_paths, duration, generator=seed, regime=condition, guidance=guidance, stop_when_stuck=stop_when_stuck
        )
        out.update(regime_shares(generator, paths, regime, label=label))
    return out


def regime_shares(
    generator: Any,
    paths: list[dict[str, xr.Dataset]],
    regime: dict[str, int],
    *,
    label: str,
    at: str = "start",
    window: int = enc.REGIME_WINDOW,
    short_as_miss: bool = False,
) -> dict[str, Any]:
    """Return the share of ``paths`` in each asked quintile of the training data, their median measure and stuck count.

    The keys are ``{label} share in {name} quintile {q}``, ``{label} median {name}``, ``{label} stuck paths`` and
    the messages ``{label} applied`` and ``{label} rejected`` (sums over the paths);
    the regime is measured by :func:`path_regime` (``at`` the start or the end of each path, over ``window`` rows:
    the quintiles are those of the encoding's window, so another one is for tests only). A stuck path (ended by
    ``stop_when_stuck``) too short to be measured at its end is left out of the shares and medians and counted in
    ``{label} unmeasured stuck paths``; the shares are then over the other paths (NaN when none is left). Any other
    path too short to be measured raises, unless ``short_as_miss``: it then counts as a path outside the asked
    quintiles (in the share's denominator, not in the medians) and in ``{label} short paths``.
    """
    asked = enc.regime_condition(regime, source="regime of counterfactual")
    out: dict[str, Any] = {
        f"{label} {count}": sum(int(path["events"].attrs[count]) for path in paths)
        for count in ("stuck", "applied", "rejected")
    }
    out[f"{label} stuck paths"] = out.pop(f"{label} stuck")
    rows, short = [], 0
    for path in paths:
        try:
            rows.append(path_regime(path, window, at=at))
        except DataError:
            if int(path["events"].attrs.get("stuck", 0)):
                continue
            if not short_as_miss:
                raise
            short += 1
    out[f"{label} unmeasured stuck paths"] = len(paths) - len(rows) - short
    out[f"{label} short paths"] = short
    measured = np.asarray(rows, np.float64).reshape(-1, len(enc.REGIMES))
    quintiles = generator.encoding_.quintiles(measured)
    for j, name in enumerate(enc.REGIMES):
        if asked[j] != enc.NULL_REGIME:
            hits = quintiles[:, j] == asked[j]
            share = float(hits.sum() / (len(rows) + short)) if rows or short else float("nan")
            out[f"{label} share in {name} quintile {asked[j] + 1}"] = share
            out[f"{label} median {name}"] = float(np.median(measured[:, j])) if rows else float("nan")
    return out


def counterfactual_sweep(
    generator: Any,
    regimes: list[dict[str, int]],
    guidances: list[float],
    *,
    n_paths: int,
    duration: float,
    seed: int,
    stop_when_stuck: bool = False,
    window: int = enc.REGIME_WINDOW,
    start: str = "context",
    windows: StartWindows | None = None,
    on_row: Callable[[dict[str, Any]], None] | None = None,
    particles: int = 1,
    smc: dict[str, Any] | None = None,
    short_as_miss: bool = False,
) -> list[dict[str, Any]]:
    """Run :func:`counterfactual` over regimes and guidance weights, measured at each path's start and end.

    The unconditioned paths are sampled with the same seed as every conditioned run (so the same noise) and from
    the same starts. Each row holds ``regime``, ``guidance``, ``start`` (the record of
    :func:`generators.starts.draw_starts`, or ``{"mode": "context"}``) and, for ``at`` in ``start`` and ``end``, the
    keys of :func:`regime_shares` (over ``window`` rows) for the conditioned and the unconditioned paths (prefixed
    ``{at}:``).

    Parameters
    ----------
    start
        Where each path starts (:data:`generators.starts.START_MODES`): ``"context"``, the model's one context
        book; ``"random"``, a training window drawn per path (the same for every regime); ``"regime"``, a training
        window whose past regime is the asked one, drawn per path and regime. Both draws are seeded by ``seed``.
    windows
        :func:`generators.starts.start_windows` of the model's training span (needed unless ``start="context"``).
    on_row
        Called with each row as soon as it is measured (a long sweep shows its rows as it goes).
    particles, smc
        Particles per conditioned path and the selection's options (:mod:`generators.smc`; 1: plain sampling).
        The unconditioned paths are always sampled plainly (there is no regime to select toward). Each row also
        holds ``particles``, the CPU seconds of both samples (``conditioned cpu_s``, ``unconditioned cpu_s``) and,
        with particles, :func:`smc_summary` of the conditioned paths.
    short_as_miss
        Count a path too short to be measured at its end as outside the asked quintiles (:func:`regime_shares`)
        instead of failing the sweep.
    """
    if start not in START_MODES:
        raise ParameterError(f"`start` of counterfactual_sweep must be one of {list(START_MODES)}; got {start!r}")
    if start != "context" and windows is None:
        raise ParameterError(f"counterfactual_sweep: start={start!r} needs the training span's `windows`")
    kwargs = {"generator": seed, "stop_when_stuck": stop_when_stuck}
    free: dict[tuple, list] = {}  # the unconditioned paths of each set of starts
    rows = []
    for regime in regimes:
        starts, record = (None, {"mode": "context"})
        if start != "context":
            starts, record = draw_starts(windows, regime, n_paths, seed=seed, mode=start)
        drawn = tuple(record.get("rows", ()))
        if drawn not in free:
            begin = time.process_time()
            free[drawn] = (generator.sample(n_paths, duration, starts=starts, **kwargs), time.process_time() - begin)
        for guidance in guidances:
            begin = time.process_time()
            paths = generator.sample(n_paths, duration, regime=regime, guidance=guidance, starts=starts,
                                     particles=particles, smc=smc, **kwargs)  # fmt: skip
            row: dict[str, Any] = {"regime": dict(regime), "guidance": float(guidance), "n_paths": n_paths}
            row.update(duration_s=duration, start=record, particles=int(particles))
            row.update({"conditioned cpu_s": time.process_time() - begin, "unconditioned cpu_s": free[drawn][1]})
            if particles > 1:
                row.update(smc_summary(paths))
            for at in REGIME_AT:
                for label, sampled in (("conditioned", paths), ("unconditioned", free[drawn][0])):
                    shares = regime_shares(generator, sampled, regime, label=label, at=at, window=window,
                                           short_as_miss=short_as_miss)  # fmt: skip
                    row.update({f"{at}: {key}": value for key, value in shares.items()})
            rows.append(row)
            if on_row is not None:
                on_row(row)
    return rows


def smc_summary(paths: list[dict[str, xr.Dataset]]) -> dict[str, Any]:
    """Return what the selection of SMC-sampled paths (:mod:`generators.smc`) cost in diversity.

    Keys: ``smc ancestors`` (distinct first ancestors among each group's particles at the end, per path),
    ``smc median ess`` and ``smc min ess`` (the effective sample size of the group's weights over all checkpoints
    and paths), ``smc in regime`` (the mean share of particles in the asked quintiles at each checkpoint).
    """
    attrs = [path["events"].attrs for path in paths]
    if not attrs or "smc_particles" not in attrs[0]:
        raise ParameterError("smc_summary: the paths were not sampled with particles > 1 (no smc_* attributes)")
    ess = np.array([json.loads(a["smc_ess"]) for a in attrs])
    inside = np.array([json.loads(a["smc_in_regime"]) for a in attrs])
    return {
        "smc ancestors": [int(a["smc_ancestors"]) for a in attrs],
        "smc median ess": float(np.median(ess)),
        "smc min ess": float(ess.min()),
        "smc in regime": [round(float(v), 4) for v in inside.mean(axis=0)],
        "smc checkpoints_s": json.loads(attrs[0]["smc_checkpoints_s"]),
    }


def order_fills(events: xr.Dataset, *, skip: int = 0) -> dict[str, Any]:
    """Count the visible fills and the marketable orders they belong to in ``events`` (from row ``skip`` on).

    An order is a run of TRADE events of one side, one price and one time (:func:`generators.encoding.fill_runs`):
    LOBSTER writes one row per resting order it meets, and so does the rollout. Returns ``fills``, ``orders``,
    ``fills_per_order`` (None without a fill) and ``multi_fill`` (the share of orders of more than one fill).
    """
    if isinstance(skip, bool) or not isinstance(skip, (int, np.integer)) or not 0 <= skip <= events.sizes["event"]:
        raise ParameterError(f"`skip` of order_fills must be an int in 0-{events.sizes['event']}; got {skip!r}")
    events = events.isel(event=slice(int(skip), None))
    first, last = enc.fill_runs(events)
    kind = events["kind"].values.astype(np.int64) & 0xFF
    runs = (last - first + 1)[kind[first] == int(enc.KINDS[enc.TYPE_TRADE])]
    fills, orders = int(runs.sum()), int(runs.shape[0])
    return {
        "fills": fills,
        "orders": orders,
        "fills_per_order": fills / orders if orders else None,
        "multi_fill": float(np.mean(runs > 1)) if orders else None,
    }


def throughput(generator: Any, *, n_paths: int, duration: float, seed: int) -> dict[str, float]:
    """Time one batched sampling run; return messages applied, seconds and messages per second."""
    start = time.perf_counter()
    paths = generator.sample(n_paths, duration, generator=seed)
    seconds = time.perf_counter() - start
    applied = sum(int(path["events"].attrs["applied"]) for path in paths)
    rejected = sum(int(path["events"].attrs["rejected"]) for path in paths)
    return {
        "paths": n_paths,
        "messages": applied,
        "rejected": rejected,
        "seconds": seconds,
        "messages_per_second": applied / seconds,
    }
