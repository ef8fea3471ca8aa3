"""The TSTR study of issue 15: choose a task on the real training and validation spans, then score generated flow.

``python -m scenarios.generate.tstr_study select SPEC [-o CHOICE.json]`` fits the direction forecaster of
:mod:`scenarios.generate.tstr` on the real *training* span and scores it on the real *validation* span for every
candidate task (:func:`candidate_tasks`), OFI window (:data:`WINDOWS`) and metric (accuracy, or balanced accuracy
with class-balanced fits); it never reads the held-out span. The chance ratio of a candidate is the prior's score
(the commonest training class) over the forecaster's, on the validation span, with a block-bootstrap interval. The
chosen candidate is the one whose interval's upper end is lowest (the forecaster beats chance most clearly); the
one with the lowest point value, and the chosen one among the plain-accuracy candidates, are scored beside it.

``python -m scenarios.generate.tstr_study sample SPEC --model M --paths N --duration D --seed S -o PATHS.npz``
(or ``--preset NAME``) samples generated flow once and stores its book series (:func:`save_series`);
``python -m scenarios.generate.tstr_study score SPEC CHOICE.json NAME=PATHS.npz ... [-o OUT.json]`` scores every
stored source on the held-out span with :func:`scenarios.generate.tstr.tstr_compare` for the chosen task.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from generators.spec import load_spec, spec_spans
from scenarios.forecast.book_tstr import collapse_rebuilds
from scenarios.forecast.books import BookSeries
from scenarios.forecast.task_data import TaskData
from scenarios.forecast.task_protocol import Prior, origins
from scenarios.forecast.tasks import Task
from scenarios.generate.heldout import lobster_window, preset_seed, write_json
from scenarios.generate.tstr import NextMove, forecast, paired_block_bootstrap, series_of, tstr_compare
from simlab.errors import DataError, ParameterError
from simlab.io import DEFAULT_DATA_DIR
from simlab.provenance import provenance

WINDOWS = (1, 5, 20, 100, 500)  # rows of order-flow imbalance summed at each origin, the candidates
ROLES = ("chosen", "by_value", "chosen_accuracy")  # the candidates a choice names, scored in this order
_FIELDS = ("ts_ns", "bid_price", "bid_qty", "ask_price", "ask_qty", "kind", "side", "price", "qty")


def candidate_tasks() -> dict[str, Any]:
    """Return the candidate tasks by name: the direction 1-50 events ahead (threshold 0 or 0.5 tick) and the
    direction of the next mid change."""
    out: dict[str, Any] = {"next_move": NextMove()}
    for h in (1, 5, 10, 20, 50):
        for threshold in (0.0, 0.5):
            out[f"direction_h{h}_t{threshold:g}"] = Task("direction", horizon_events=h, threshold_ticks=threshold)
    return out


def task_from_name(name: str) -> Any:
    """Return the candidate task called ``name``."""
    tasks = candidate_tasks()
    if name not in tasks:
        raise ParameterError(f"unknown TSTR task {name!r}; expected one of {sorted(tasks)}")
    return tasks[name]


def select_task(
    train: BookSeries,
    validation: BookSeries,
    *,
    windows: tuple[int, ...] = WINDOWS,
    n_boot: int = 500,
    seed: int = 0,
) -> dict[str, Any]:
    """Score every candidate (task, OFI window, metric) on the real spans: the forecaster fitted on ``train`` (on
    class-balanced subsamples for the balanced accuracy, :func:`~scenarios.generate.tstr.forecast`) and the prior
    scored on ``validation``; return the scores, the candidate that beats the prior most clearly (``chosen``: the
    lowest upper end of the chance ratio's interval, prior / forecaster), the one with the lowest chance ratio
    (``by_value``) and the chosen one among the plain-accuracy candidates (``chosen_accuracy``, the issue's metric).
    The held-out span is not an argument."""
    rows = {}
    for window in windows:
        for name, task in candidate_tasks().items():
            fit, test = TaskData(train, task, window=window), TaskData(validation, task, window=window)
            a, b = origins(fit, 1, 1), origins(test, 1, 1)
            y, classes = test.y[b], np.asarray(task.classes)
            prior = classes[np.argmax(Prior().fit(fit, a, np.random.default_rng(0)).predict(test, b).probs, axis=1)]
            for metric in ("accuracy", "balanced_accuracy"):
                predicted = forecast(fit, a, test, b, balanced=metric == "balanced_accuracy", seed=seed)
                hits = {"trtr": predicted == y, "prior": prior == y}
                boot = paired_block_bootstrap(
                    hits, block=int(np.ceil(np.sqrt(b.size))), n_boot=n_boot, rng=seed, prior=None,
                    labels=y if metric == "balanced_accuracy" else None,
                )  # fmt: skip
                rows[f"{name} w{window} {metric}"] = {
                    "task": name, "window": window, "metric": metric,
                    "origins": {"train": int(a.size), "validation": int(b.size)},
                    "score": boot["trtr"]["accuracy"], "prior": boot["prior"]["accuracy"],
                    "chance_ratio": boot["prior"]["ratio"],
                }  # fmt: skip
    chosen = min(rows, key=lambda key: rows[key]["chance_ratio"]["high"])
    by_value = min(rows, key=lambda key: rows[key]["chance_ratio"]["value"])
    plain = min((k for k in rows if rows[k]["metric"] == "accuracy"), key=lambda k: rows[k]["chance_ratio"]["high"])
    return {"chosen": rows[chosen], "by_value": rows[by_value], "chosen_accuracy": rows[plain], "candidates": rows}


def save_series(path: str | Path, series: list[BookSeries], meta: dict[str, Any]) -> None:
    """Store book series (one per path) and a JSON ``meta`` in one ``.npz`` file."""
    arrays = {f"{p}_{f}": getattr(s, f) for p, s in enumerate(series) for f in _FIELDS}
    np.savez_compressed(path, meta=json.dumps({**meta, "paths": len(series)}, default=str), **arrays)


def load_series(path: str | Path) -> tuple[list[BookSeries], dict[str, Any]]:
    """Return the book series and meta stored by :func:`save_series`."""
    try:
        with np.load(path) as z:
            meta = json.loads(str(z["meta"]))
            series = [BookSeries(f"{path}:{p}", *(z[f"{p}_{f}"] for f in _FIELDS)) for p in range(meta["paths"])]
    except (OSError, KeyError, ValueError) as error:
        raise DataError(f"TSTR series file {str(path)!r}: expected a save_series .npz; found {error}") from error
    return series, meta


def sample_source(
    spec: str | Path,
    *,
    model: str | None,
    preset: str | None,
    n_paths: int,
    duration: float,
    seed: int,
    data_dir: str | Path = DEFAULT_DATA_DIR,
    stop_when_stuck: bool = True,
) -> tuple[list[BookSeries], dict[str, Any]]:
    """Sample ``n_paths`` paths of ``duration`` seconds from a model folder, or simulate a parametric preset over
    the held-out span's start, and return their book series (events a level-N file would record) and a summary."""
    if (model is None) == (preset is None):
        raise ParameterError("tstr_study sample: give exactly one of --model and --preset")
    spans = spec_spans(load_spec(spec), data_dir)
    window = lobster_window(spans["test"])
    start = time.process_time()
    if model is not None:
        import torch

        from generators.spec import load_generator

        torch.set_num_threads(1)  # a shared machine: one core per job

        paths = load_generator(model).sample(n_paths, duration, generator=seed, stop_when_stuck=stop_when_stuck)
    else:
        from scenarios.generate.baselines import simulate_baseline, span_start

        open_ns, start_ns = span_start(spans["train"]), span_start(spans["test"])
        paths = [
            simulate_baseline(
                preset, open_ns=open_ns, start_ns=start_ns, duration_s=duration, seed=preset_seed(seed, p)
            )
            for p in range(n_paths)
        ]
    cpu = time.process_time() - start
    series = [series_of(f"path {p}", path, window_levels=window) for p, path in enumerate(paths)]
    attrs = [path["events"].attrs for path in paths]
    meta = {"source": model or preset, "n_paths": n_paths, "duration_s": duration, "seed": seed, "cpu_s": cpu,
            "events": [s.size for s in series], "stuck": [int(a.get("stuck", 0)) for a in attrs]}  # fmt: skip
    return series, meta


def score_sources(
    spec: str | Path,
    choice: dict[str, Any],
    sources: dict[str, str | Path],
    *,
    data_dir: str | Path = DEFAULT_DATA_DIR,
    n_boot: int = 2000,
    seed: int = 20261205,
    block: int | None = None,
) -> dict[str, Any]:
    """Score every stored source (name -> its files, comma-separated, pooled) on the held-out span for the chosen
    candidate and the other roles of :data:`ROLES` (:func:`tstr_compare`)."""
    spans = spec_spans(load_spec(spec), data_dir)
    real = {name: series_of(f"real {name}", spans[name]) for name in ("train", "validation", "test")}
    generated, metas = {}, {}
    for name, files in sources.items():  # a source may pool several files: "a.npz,b.npz"
        generated[name], metas[name] = [], []
        for file in str(files).split(","):
            series, meta = load_series(file)
            generated[name] += [collapse_rebuilds(one) for one in series]  # as series_of does (older files)
            metas[name].append(meta)
    tasks = score_choice(real, generated, choice, n_boot=n_boot, seed=seed, block=block)
    return {"sources": metas, "tasks": tasks}


def score_choice(
    real: dict[str, BookSeries],
    generated: dict[str, list[BookSeries]],
    choice: dict[str, Any],
    *,
    n_boot: int = 2000,
    seed: int = 20261205,
    block: int | None = None,
) -> dict[str, Any]:
    """Score generated sources (name -> its paths' book series, pooled) on the real held-out span for every role of
    :data:`ROLES` that ``choice`` (:func:`select_task`'s result) names, each (task, window) once.

    Returns ``{"TASK wWINDOW": tstr_compare's result, with "role" and "selected_metric"}`` in the order of ROLES;
    ``real`` holds the ``train``, ``validation`` and ``test`` series."""
    out: dict[str, Any] = {}
    for role in [r for r in ROLES if r in choice]:
        pick = choice[role]
        key = f"{pick['task']} w{pick['window']}"
        if key not in out:
            out[key] = tstr_compare(
                real["train"], real["validation"], real["test"], generated, task=task_from_name(pick["task"]),
                window=int(pick["window"]), block=block, n_boot=n_boot, rng=seed,
            )  # fmt: skip
            out[key]["role"], out[key]["selected_metric"] = role, pick["metric"]
    return out


def markdown(out: dict[str, Any]) -> str:
    """Return the tables of a ``score`` result: per task and metric, each arm's score, ratio and skill with their
    intervals, the ratio of each half of a source's paths, and the usable origins."""
    lines = []
    fmt = lambda r: f"{r['value']:.3f} [{r['low']:.3f}, {r['high']:.3f}]"  # noqa: E731
    for key, result in out["tasks"].items():
        lines.append(f"{result['role']}: {key}, block {result['block']} origins ({result['confidence']:.0%} intervals)")
        lines.append("")
        lines.append("| metric | arm | score | ratio to TRTR | skill over prior | ratio to real validation | halves | "
                     "training origins |")  # fmt: skip
        lines.append("|---|---|---|---|---|---|---|---|")
        for metric, arms in result["arms"].items():
            for name, row in arms.items():
                origin = result["origins"].get(name, result["origins"]["trtr"] if name == "prior" else "")
                halves = " / ".join(f"{h:.3f}" for h in row.get("halves", [])) or "-"
                skill = fmt(row["skill"]) if "skill" in row else "-"
                vs_real = fmt(row["ratio_to_real_validation"]) if "ratio_to_real_validation" in row else "-"
                lines.append(f"| {metric} | {name} | {fmt(row['accuracy'])} | {fmt(row['ratio'])} | {skill} | "
                             f"{vs_real} | {halves} | {origin} |")  # fmt: skip
        first = next(iter(result["paths"]))  # the first source over each other one (the JSON holds every pair)
        for metric, arms in result["arms"].items():
            for ref, ratio in arms[first].get("ratio_to_sources", {}).items():
                lines.append(f"- {metric}: {first} / {ref} {fmt(ratio)}")
        lines.append(f"\nheld-out origins: {result['origins']['test']}\n")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the ``select``, ``sample`` or ``score`` step from the command line; write its JSON (or .npz) file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="step", required=True)
    sel = sub.add_parser("select", help="choose the task on the training and validation spans")
    sel.add_argument("spec")
    sel.add_argument("-o", "--output", default="tstr_choice.json")
    smp = sub.add_parser("sample", help="sample a model's or a preset's flow and store its book series")
    smp.add_argument("spec")
    smp.add_argument("--model")
    smp.add_argument("--preset")
    smp.add_argument("--paths", type=int, default=4)
    smp.add_argument("--duration", type=float, default=120.0)
    smp.add_argument("--seed", type=int, default=20261203)
    smp.add_argument("-o", "--output", required=True)
    sco = sub.add_parser("score", help="score stored sources on the held-out span")
    sco.add_argument("spec")
    sco.add_argument("choice")
    sco.add_argument("sources", nargs="+", help="NAME=PATHS.npz[,MORE.npz]")
    sco.add_argument("--n-boot", type=int, default=2000)
    sco.add_argument("--seed", type=int, default=20261205)
    sco.add_argument("--block", type=int, default=None)
    sco.add_argument("-o", "--output", default="tstr_scores.json")
    rep = sub.add_parser("report", help="print a score file's tables as markdown")
    rep.add_argument("scores")
    for p in (sel, smp, sco, rep):
        p.add_argument("--data", default=str(DEFAULT_DATA_DIR), help="the real-data folder")
    args = parser.parse_args(argv)
    if args.step == "report":
        out = json.loads(Path(args.scores).read_text())
        print(markdown(out))
        return out
    config = {k: v for k, v in vars(args).items() if k != "output"}
    if args.step == "select":
        spans = spec_spans(load_spec(args.spec), args.data)
        real = {name: series_of(f"real {name}", spans[name]) for name in ("train", "validation")}
        out = select_task(real["train"], real["validation"])
        for name, row in out["candidates"].items():
            r = row["chance_ratio"]
            print(f"{name:40s} validation {row['score']['value']:.3f}, prior {row['prior']['value']:.3f}, chance "
                  f"ratio {r['value']:.3f} [{r['low']:.3f}, {r['high']:.3f}], origins {row['origins']}")  # fmt: skip
        for role in ROLES:
            pick = out[role]
            print(f"{role}: {pick['task']}, window {pick['window']}, {pick['metric']}")
    elif args.step == "sample":
        series, meta = sample_source(args.spec, model=args.model, preset=args.preset, n_paths=args.paths,
                                     duration=args.duration, seed=args.seed, data_dir=args.data)  # fmt: skip
        save_series(args.output, series, {**meta, "provenance": provenance(seed=args.seed, config=config)})
        print(json.dumps(meta))
        return meta
    else:
        choice = json.loads(Path(args.choice).read_text())
        sources = dict(s.split("=", 1) for s in args.sources)
        out = score_sources(args.spec, choice, sources, data_dir=args.data, n_boot=args.n_boot, seed=args.seed,
                            block=args.block)  # fmt: skip
        for key, result in out["tasks"].items():
            print(f"{result['role']}: {key} ({result['task']}), block {result['block']} origins, origins "
                  f"{result['origins']}")  # fmt: skip
            for metric, arms in result["arms"].items():
                for name, row in arms.items():
                    parts = [f"{k} {row[k]['value']:.3f} [{row[k]['low']:.3f}, {row[k]['high']:.3f}]"
                             for k in ("accuracy", "ratio", "skill") if k in row]  # fmt: skip
                    halves = f", halves {row['halves'][0]:.3f} / {row['halves'][1]:.3f}" if "halves" in row else ""
                    print(f"  {metric:17s} {name:16s} " + ", ".join(parts) + halves)
    out["provenance"] = provenance(seed=getattr(args, "seed", 0), config=config)
    write_json(args.output, out)
    return out


if __name__ == "__main__":
    main()
