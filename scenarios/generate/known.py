"""Score generated paths against the held-out span before and after the reference's unknown depth is made explicit.

``python -m scenarios.generate.known SPEC [MODEL ...] [--presets NAME ...] [--no-replay] [--paths 2]
[--duration SECONDS] [--seed S] [--levels 10] [--n-boot 100] [--stop-when-stuck] [--data DIR] [-o OUT.json]``

The AAPL held-out books are a replay of the level-50 message file from the level-10 book of 09:30
(:func:`generators.data.read_flow`); a level the messages never showed is unknown, and the books carry
``bid_determined`` / ``ask_determined``. Every path (the true held-out messages replayed through the rollout,
:mod:`scenarios.generate.replay`; each model's samples; each preset's simulations, as
:mod:`scenarios.generate.heldout` runs them) is scored three times with the same scoring seed:

* ``before``: the scorecard as every page before session 11 ran it: the masks dropped, every unknown cell read as
  empty, the fewer of the two books' levels (50 for a model, 10 for a preset);
* ``after``: the same levels with ``known_depth=True`` (:func:`simlab.metrics.scorecard.score`): the depth
  quantities on known cells only (on AAPL's held-out span no row knows 50 levels of a side, so the two volumes are
  not applicable there);
* ``after, N levels`` (``--levels``, default 10): the same with the books cut to N levels.

Each card gives the mean L1 with its 99 % interval, the real-vs-real floor of the same scores with its interval, and
the scores that cannot be told from their floor (:func:`scenarios.generate.heldout.floor_summary`).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from generators.spec import load_generator, load_spec, spec_spans
from scenarios.generate.baselines import simulate_baseline, span_start
from scenarios.generate.heldout import default_duration, floor_summary, preset_seed, write_json
from simlab.io import DEFAULT_DATA_DIR
from simlab.metrics.scorecard import score
from simlab.provenance import provenance

MASKS = ("bid_determined", "ask_determined")
WATCHED = ("bid_volume", "ask_volume", "limit_level_bid", "limit_level_ask", "cancel_level_bid",
           "cancel_level_ask", "ofi_l1")  # fmt: skip


def views(levels: int) -> dict[str, dict[str, Any]]:
    """Return the three scorecard views of the module docstring: name -> (masks kept, ``score`` keywords)."""
    return {
        "before": {"masks": False, "levels": None, "known_depth": False},
        "after": {"masks": True, "levels": None, "known_depth": True},
        f"after, {levels} levels": {"masks": True, "levels": levels, "known_depth": True},
    }


def score_views(
    paths: list[dict[str, Any]], test: dict[str, Any], *, seed: int, n_boot: int, levels: int
) -> list[dict[str, Any]]:
    """Score each path (path p with the seed ``seed + p``) in every view of :func:`views`; return a row per path."""
    plain = {"events": test["events"], "books": test["books"].drop_vars([m for m in MASKS if m in test["books"]])}
    out = []
    for p, path in enumerate(paths):
        row = {}
        for name, view in views(levels).items():
            real = test if view["masks"] else plain
            card = score(path, real, seed=seed + p, n_boot=n_boot, levels=view["levels"],
                         known_depth=view["known_depth"])  # fmt: skip
            floor = floor_summary(card)
            row[name] = {
                "mean_l1": card.summary["l1"]["mean"], "l1_scores": card.summary["l1"]["scores"],
                "floor_mean_l1": floor["floor_mean_l1"], "indistinguishable": floor["indistinguishable"],
                "roc_auc": getattr(card.discriminative, "auc", None), "levels": card.meta.get("levels"),
                "real_known_cells": card.meta.get("real_known_cells"),
                "watched": {r.quantity: _row(r) for r in card.rows if r.metric == "l1" and r.quantity in WATCHED},
            }  # fmt: skip
        out.append(row)
    return out


def _row(row: Any) -> dict[str, Any]:
    if row.distance is None:
        return {"not_applicable": row.reason}
    d = row.distance
    return {"value": d.value, "low": d.low, "high": d.high, "floor": d.floor, "n_real": row.n_real}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Sample or simulate every run, score it in the three views and print one line per path and view."""
    from scenarios.generate.replay import replay_flow, replay_path

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec")
    parser.add_argument("models", nargs="*")
    parser.add_argument("--presets", nargs="*", default=[])
    parser.add_argument("--no-replay", action="store_true", help="leave out the replay of the true messages")
    parser.add_argument("--paths", type=int, default=2)
    parser.add_argument("--duration", type=float, default=None)
    parser.add_argument("--seed", type=int, default=20261204)
    parser.add_argument("--levels", type=int, default=10)
    parser.add_argument("--n-boot", type=int, default=100)
    parser.add_argument("--stop-when-stuck", action="store_true")
    parser.add_argument("--data", default=str(DEFAULT_DATA_DIR))
    parser.add_argument("-o", "--output", default="known.json")
    args = parser.parse_args(argv)
    spans = spec_spans(load_spec(args.spec), args.data)
    test = spans["test"]
    duration = default_duration(test) if args.duration is None else float(args.duration)
    runs: dict[str, list] = {}
    if not args.no_replay:
        flow = replay_flow(args.spec, args.data)
        attrs = {name: flow["events"].attrs[name] for name in ("tick_size", "lot_size", "instrument", "venue")}
        replays = [replay_path(flow, duration, seed=args.seed + p)[0] for p in range(args.paths)]
        runs["replay"] = [p.datasets({**attrs, "generator": "replay"}, "scenarios.generate.known") for p in replays]
    for model in args.models:
        generator = load_generator(model)
        runs[model] = generator.sample(args.paths, duration, generator=args.seed, stop_when_stuck=args.stop_when_stuck)
    open_ns, start_ns = span_start(spans["train"]), span_start(test)
    for name in args.presets:
        runs[name] = [
            simulate_baseline(
                name, open_ns=open_ns, start_ns=start_ns, duration_s=duration, seed=preset_seed(args.seed, p)
            )  # fmt: skip
            for p in range(args.paths)
        ]
    out: dict[str, Any] = {"duration_s": duration, "runs": {}}
    for name, paths in runs.items():
        out["runs"][name] = score_views(paths, test, seed=args.seed, n_boot=args.n_boot, levels=args.levels)
        for p, row in enumerate(out["runs"][name]):
            for view, card in row.items():
                m, f = card["mean_l1"], card["floor_mean_l1"]
                print(f"{Path(name).name} path {p} {view} ({card['levels']} levels, {card['l1_scores']} scores): "
                      f"mean L1 {m['value']:.3f} [{m['low']:.3f}, {m['high']:.3f}], floor {f['value']:.3f} "
                      f"[{f['low']:.3f}, {f['high']:.3f}], AUC {card['roc_auc']}, "
                      f"{len(card['indistinguishable'])} scores at the floor", flush=True)  # fmt: skip
    out["provenance"] = provenance(seed=args.seed, config={k: v for k, v in vars(args).items() if k != "output"})
    write_json(args.output, out)
    return out


if __name__ == "__main__":
    main()
