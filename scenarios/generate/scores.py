"""Break a generator's held-out scorecard down per score, against its floor and against real windows.

``python -m scenarios.generate.scores SPEC MODEL [--paths 2] [--duration SECONDS] [--seed S] [--stop-when-stuck]
[--spans validation train] [--every 1] [--levels N] [--n-boot 100] [--data DIR] [-o OUT.json]``
samples the model as :mod:`scenarios.generate.heldout` does (same seed, same paths, same cards), and prints each
L1 score of each path with its interval, its real-vs-real floor and its **excess** over the floor, worst first
(:func:`score_rows`). The floor splits the held-out span against itself, so it cannot see that the flow changes
within the hour. :func:`real_windows` therefore also scores whole windows of the *earlier* real spans (the
validation and training spans, each window as long as a path) against the held-out span with the same scorecard:
what a model that reproduced the earlier real flow exactly, window for window, would score. Per score the table
gives the windows' smallest, median and largest value (:func:`window_summary`), and per window its mean over the
scores it shares with each path, with the difference bootstrapped (:func:`generators.evaluation.compare_cards`).

Every window is scored with ``seed`` (a window is its own card). A window's mean may hold fewer scores than a
path's: a score is not applicable where the window's known cells or its hours do not allow it (the real books'
unknown depth, ``spread_ticks|hour`` outside the held-out hour); the comparisons are on the shared scores.

Per path the JSON also holds the flow beyond level 10 (:func:`scenarios.generate.depth.path_flow`) and the ticks
its first 10 levels span (:func:`level_span`; the held-out span's under ``test_level_span``), the book's density in
ticks that the deep flow follows (``docs/generators_scores.md``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from generators.evaluation import compare_cards, realism
from generators.spec import load_generator, load_spec, spec_spans
from scenarios.generate.depth import path_flow
from scenarios.generate.heldout import classifier_record, default_duration, floor_summary, write_json
from simlab.errors import DataError, ParameterError
from simlab.io import DEFAULT_DATA_DIR
from simlab.provenance import provenance

WINDOW_SPANS = ("validation", "train")
COUNTS = ("applied", "discarded", "stuck")


def score_rows(card: Any) -> list[dict[str, Any]]:
    """Return the L1 scores of a scorecard with their floors, worst excess first.

    Returns
    -------
    list of dict
        Per score: ``score`` ("quantity (family)"), ``value``, ``low``, ``high`` (its interval), ``floor``,
        ``floor_low``, ``floor_high``, ``excess`` (``value - floor``) and ``indistinguishable`` (the interval
        reaches the floor's: ``low <= floor_high``), sorted by ``excess``, largest first.
    """
    rows = []
    for name, d in floor_summary(card)["l1_rows"].items():
        entry = {"score": name, **d, "excess": d["value"] - d["floor"]}
        entry["indistinguishable"] = bool(d["low"] <= d["floor_high"])
        rows.append(entry)
    return sorted(rows, key=lambda row: -row["excess"])


def windows_of(span: dict[str, xr.Dataset], duration: float, *, every: int = 1) -> list[tuple[int, int, int]]:
    """Return ``(index, first row, end row)`` of the whole windows of ``duration`` seconds of a span, from its first
    event, keeping every ``every``-th window (0, every, 2 every, ...)."""
    if not isinstance(duration, (int, float)) or isinstance(duration, bool) or not duration > 0:
        raise ParameterError(f"`duration` of windows_of must be a number of seconds > 0; got {duration!r}")
    if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
        raise ParameterError(f"`every` of windows_of must be an int >= 1; got {every!r}")
    ts = span["events"]["ts_ns"].values.astype(np.int64)
    step = int(round(duration * 1e9))
    whole = int((int(ts[-1]) - int(ts[0])) // step)
    out = []
    for k in range(0, whole, int(every)):
        lo, hi = np.searchsorted(ts, [int(ts[0]) + k * step, int(ts[0]) + (k + 1) * step], side="left")
        out.append((k, int(lo), int(hi)))
    return out


def real_windows(
    spans: dict[str, dict[str, xr.Dataset]],
    duration: float,
    *,
    seed: int,
    names: tuple[str, ...] = WINDOW_SPANS,
    every: int = 1,
    n_boot: int = 100,
    levels: int | None = None,
) -> list[dict[str, Any]]:
    """Score whole windows of the earlier real spans against the held-out ``test`` span (see the module docstring).

    Parameters
    ----------
    spans
        ``train``, ``validation`` and ``test`` spans (:func:`generators.spec.spec_spans`; the masks of a replayed
        reference are read as :func:`generators.evaluation.realism` reads them).
    duration
        Seconds per window (a path's length).
    seed, n_boot, levels
        The scorecard's seed (every window), replicates and levels (as :func:`realism`).
    names
        The spans cut into windows.
    every
        Keep every ``every``-th window of each span.

    Returns
    -------
    list of dict
        Per window: ``span``, ``index``, ``rows`` (first and end row), ``events``, ``card`` (the ScoreCard),
        ``mean_l1``, ``floor_mean_l1``, ``roc_auc`` and ``rows_l1`` (:func:`score_rows`).
    """
    for name in (*names, "test"):
        if name not in spans:
            raise DataError(f"real windows: the spans must hold {name!r}; got {sorted(spans)}")
    out = []
    for name in names:
        span = spans[name]
        for index, lo, hi in windows_of(span, duration, every=every):
            if hi - lo < 2:
                continue
            window = {
                "events": span["events"].isel(event=slice(lo, hi)),
                "books": span["books"].isel(time=slice(lo, hi)),
            }
            card = realism([window], spans["test"], seed=seed, n_boot=n_boot, levels=levels)[0]
            out.append({
                "span": name, "index": index, "rows": [lo, hi], "events": hi - lo, "card": card,
                "mean_l1": card.summary["l1"]["mean"], "floor_mean_l1": floor_summary(card)["floor_mean_l1"],
                "roc_auc": getattr(card.discriminative, "auc", None), "classifier": classifier_record(card),
                "rows_l1": score_rows(card),
            })  # fmt: skip
    if not out:
        raise DataError(f"real windows: the spans {list(names)} hold no whole window of {duration:g} s")
    return out


def window_summary(windows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Return per L1 score the windows' ``min``, ``median`` and ``max`` value and their ``count`` (the windows where
    it is applicable)."""
    values: dict[str, list[float]] = {}
    for window in windows:
        for row in window["rows_l1"]:
            values.setdefault(row["score"], []).append(row["value"])
    return {
        name: {"min": float(np.min(v)), "median": float(np.median(v)), "max": float(np.max(v)), "count": len(v)}
        for name, v in values.items()
    }


def level_span(books: xr.Dataset, levels: int = 10) -> dict[str, dict[str, float]]:
    """Return, per side, the median ticks from the best to level ``levels`` over the book rows where the side has
    that many non-empty levels (``median_ticks``; NaN if none) and the share of rows that have them (``full_share``).
    """
    out = {}
    for sign, name in ((1, "bid"), (-1, "ask")):
        price, qty = books[f"{name}_price"].values[:, :levels], books[f"{name}_qty"].values[:, :levels]
        full = (qty > 0).sum(axis=1) >= levels if qty.shape[1] >= levels else np.zeros(qty.shape[0], bool)
        ticks = sign * (price[full, 0] - price[full, -1]).astype(np.float64)
        out[name] = {
            "median_ticks": float(np.median(ticks)) if ticks.size else float("nan"),
            "full_share": float(full.mean()) if full.size else 0.0,
        }
    return out


def breakdown(
    spec_path: str | Path,
    model: str | Path,
    *,
    n_paths: int = 2,
    duration: float | None = None,
    seed: int = 20261203,
    n_boot: int = 100,
    data_dir: str | Path = DEFAULT_DATA_DIR,
    stop_when_stuck: bool = False,
    names: tuple[str, ...] = WINDOW_SPANS,
    every: int = 1,
    levels: int | None = None,
) -> dict[str, Any]:
    """Sample and score a model as :func:`scenarios.generate.heldout.score_models` does, break each path's card
    down per score, and score the real windows of ``names`` (``()``: none) against the same held-out span."""
    spans = spec_spans(load_spec(spec_path), data_dir)
    duration = default_duration(spans["test"]) if duration is None else float(duration)
    generator = load_generator(model)
    start = time.perf_counter()
    paths = generator.sample(n_paths, duration, generator=seed, stop_when_stuck=stop_when_stuck)
    sampling = time.perf_counter() - start
    cards = realism(paths, spans["test"], seed=seed, n_boot=n_boot, levels=levels)
    out: dict[str, Any] = {"duration_s": duration, "sampling_s": sampling, "paths": [], "windows": [], "summary": {}}
    out["test_level_span"] = level_span(spans["test"]["books"])
    for path, card in zip(paths, cards, strict=True):
        attrs = path["events"].attrs
        start = max(int(attrs.get("initial_orders", 0)) - 1, 0)
        out["paths"].append({
            "mean_l1": card.summary["l1"]["mean"], "floor_mean_l1": floor_summary(card)["floor_mean_l1"],
            "roc_auc": getattr(card.discriminative, "auc", None), "classifier": classifier_record(card),
            "rows_l1": score_rows(card),
            "deep_flow": path_flow(path), "level_span": level_span(path["books"].isel(time=slice(start, None))),
            "counts": {k: int(v) for k, v in attrs.items() if k.startswith("rejected") or k in COUNTS},
        })  # fmt: skip
    if names:
        windows = real_windows(
            spans, duration, seed=seed, names=tuple(names), every=every, n_boot=n_boot, levels=levels
        )
        for window in windows:
            versus = [compare_cards(window["card"], card) for card in cards]
            out["windows"].append({**{k: v for k, v in window.items() if k != "card"}, "versus_paths": versus})
        out["summary"] = window_summary(windows)
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run :func:`breakdown` from the command line; print the tables and write the JSON file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec")
    parser.add_argument("model")
    parser.add_argument("--paths", type=int, default=2)
    parser.add_argument("--duration", type=float, default=None, help="seconds per path and window (default: span / 6)")
    parser.add_argument("--seed", type=int, default=20261203)
    parser.add_argument("--n-boot", type=int, default=100)
    parser.add_argument("--stop-when-stuck", action="store_true", help="end a stuck path instead of failing")
    parser.add_argument("--spans", nargs="*", default=list(WINDOW_SPANS), help="real spans cut into windows")
    parser.add_argument("--every", type=int, default=1, help="keep every N-th window of each span")
    parser.add_argument("--levels", type=int, default=None, help="book levels scored (default: the fewer of both)")
    parser.add_argument("--data", default=str(DEFAULT_DATA_DIR), help="the real-data folder")
    parser.add_argument("-o", "--output", default="scores.json")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.spans) - set(WINDOW_SPANS))
    if unknown:
        raise ParameterError(f"--spans: unknown spans {unknown}; expected some of {list(WINDOW_SPANS)}")
    out = breakdown(
        args.spec, args.model, n_paths=args.paths, duration=args.duration, seed=args.seed, n_boot=args.n_boot,
        data_dir=args.data, stop_when_stuck=args.stop_when_stuck, names=tuple(args.spans), every=args.every,
        levels=args.levels,
    )  # fmt: skip
    out["provenance"] = provenance(seed=args.seed, config={k: v for k, v in vars(args).items() if k != "output"})
    write_json(args.output, out)
    _print(out)
    return out


def _interval(d: dict[str, float], key: str = "") -> str:
    return f"{d[key + 'value' if key else 'value']:.3f} [{d['low']:.3f}, {d['high']:.3f}]"


def _print(out: dict[str, Any]) -> None:
    summary = out["summary"]
    for p, path in enumerate(out["paths"]):
        f = path["floor_mean_l1"]
        print(f"path {p}: mean L1 {_interval(path['mean_l1'])} (floor {_interval(f)}), AUC {path['roc_auc']}")
        print(f"  {'score':40s} {'value [99 % CI]':22s} {'floor [99 % CI]':22s} excess  real windows min/median/max")
        for row in path["rows_l1"]:
            w = summary.get(row["score"])
            span = f"{w['min']:.3f} / {w['median']:.3f} / {w['max']:.3f} ({w['count']})" if w else "-"
            floor = f"{row['floor']:.3f} [{row['floor_low']:.3f}, {row['floor_high']:.3f}]"
            print(f"  {row['score']:40s} {_interval(row):22s} {floor:22s} {row['excess']:+.3f}  {span}")
        flow, ticks = path["deep_flow"], path["level_span"]
        print("  deep ADDs per deep removal (beyond level 10), bid / ask: " + " / ".join(
            f"{flow[s]['add_per_s'] / max(flow[s]['removal_per_s'], 1e-9):.2f}" for s in ("bid", "ask")
        ) + "; median ticks from the best to level 10, bid / ask: " + " / ".join(
            f"{ticks[s]['median_ticks']:.0f}" for s in ("bid", "ask")
        ))  # fmt: skip
    for window in out["windows"]:
        m = window["mean_l1"]
        auc = "n/a" if window["roc_auc"] is None else f"{window['roc_auc']:.3f}"
        versus = "; ".join(
            f"vs path {p} on {v['shared']}: {_interval(v['ours'])} - {v['theirs']['value']:.3f} = "
            f"{v['difference']['value']:+.3f} [{v['difference']['low']:+.3f}, {v['difference']['high']:+.3f}]"
            for p, v in enumerate(window["versus_paths"])
        )
        print(f"real {window['span']} window {window['index']} ({window['events']} events): mean L1 {_interval(m)} "
              f"over {len(window['rows_l1'])} scores, AUC {auc}; {versus}")  # fmt: skip


if __name__ == "__main__":
    main()
