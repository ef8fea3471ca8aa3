"""Run a forecast spec with a ``[task]`` section: book series, the task's walk-forward, a store and a report.

``simlab forecast run SPEC`` lands here when the spec names a task (:class:`scenarios.forecast.spec.TaskSpec`).
The store holds one group per series (the test origins: actual label, fold, every model's point forecast and class
probabilities), with the scores, seed, config and provenance in its attributes; the report (markdown and HTML)
shows the score table with standard errors and the Diebold-Mariano tests against the reference baseline.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from calibration.book_presets import load_book_preset
from scenarios.forecast.book_oracle import BookOracle, mc_accuracy_se, preset_world, world_series
from scenarios.forecast.book_sources import (
    abm_calibration_span,
    abm_series,
    book_preset_series,
    hawkes_refit_series,
    store_series,
)
from scenarios.forecast.book_tstr import compare_training_sources, train_synthetic_test_real_books
from scenarios.forecast.books import BookSeries, binance_series, lobster_series
from scenarios.forecast.deep import PRESETS, DeepLOB, EventTransformer
from scenarios.forecast.footprint_cnn import FootprintCNN
from scenarios.forecast.forecasters import Forecaster
from scenarios.forecast.planted import planted_book
from scenarios.forecast.spec import DataSpec, ForecastSpec, TaskSpec
from scenarios.forecast.task_data import TaskData
from scenarios.forecast.task_protocol import HAR, BookNow, FlowLogistic, LastLabel, Prior, TaskResult, run_task_protocol
from scenarios.forecast.tasks import CLASSES, Task
from scenarios.report_html import markdown_table, markdown_to_html, page
from simlab.io import DEFAULT_DATA_DIR
from simlab.provenance import provenance
from simlab.random import spawn
from simlab.store import write_store, write_text_atomic

SCORE_COLUMNS = {
    True: ("accuracy", "accuracy_se", "macro_f1", "mcc", "brier", "brier_se"),
    False: ("mse", "mse_se", "mae"),
}


def build_task(spec: TaskSpec) -> Task:
    """Return the :class:`Task` of a task spec."""
    keys = ("horizon_events", "horizon_s", "threshold_ticks", "move_ticks", "size", "side")
    return Task(spec.name, **{k: getattr(spec, k) for k in keys})


def build_task_models(spec: TaskSpec) -> list[Forecaster]:
    """Return fresh forecasters for the names in ``spec.models``."""
    settings = PRESETS[spec.preset]
    if spec.window is not None:
        settings = dataclasses.replace(settings, window=spec.window)
    factories = {
        "deeplob": lambda: DeepLOB(settings, levels=spec.levels),
        "event_transformer": lambda: EventTransformer(settings),
        "footprint_cnn": lambda: FootprintCNN(settings, bin_s=spec.footprint_bin_s, ticks=spec.footprint_ticks),
        "flow_logistic": FlowLogistic,
        "har": HAR,
        "book_now": BookNow,
        "last_label": LastLabel,
        "prior": Prior,
        "oracle": lambda: BookOracle(spec.oracle_paths),
    }
    return [factories[name]() for name in spec.models]


def build_book(data: DataSpec, data_dir: Path) -> BookSeries:
    """Read a LOBSTER sample or a Binance WebSocket capture window, draw a planted book, or simulate a book preset
    (a Hawkes-driven one keeps its world, for the oracle)."""
    if data.source == "preset":
        if load_book_preset(data.preset).model == "hawkes":
            return world_series(preset_world(data.preset, data.duration_s, seed=data.seed, depth=data.levels))
        return book_preset_series(data.preset, data.duration_s, rng=data.seed, depth=data.levels)
    if data.source == "planted":
        return planted_book(data.rows, levels=data.levels, signal=data.signal, rng=np.random.default_rng(data.seed),
                            name=data.name)[0]  # fmt: skip
    files = [Path(data_dir) / f for f in data.files[0]]
    if data.source == "binance_ws":
        return binance_series(data.name, files, levels=data.levels)
    return lobster_series(data.name, files, levels=data.levels)


def run_task_spec(
    spec: ForecastSpec, output: Path, *, data_dir: Path, overwrite: bool = False, progress: Any = None
) -> dict[str, Any]:
    """Run the spec's task (or each of its ``[[tasks]]``) on every series; write the store ``output`` and its report
    folder. Each series is read once; task j draws its streams from children ``2 D j .. 2 D (j + 1)`` of the root
    seed (D series: protocol streams first, then the TSTR ones), so a spec's first task gives the same forecasts as
    a spec holding that task alone.

    Returns
    -------
    dict
        ``store``, ``report``, ``read_seconds`` (per series) and ``headline`` (rows for the CLI). One task:
        ``task`` (its settings) and ``series`` (per series: ``scores`` per model, ``origins``, ``seconds`` for the
        whole walk-forward, ``class_shares`` of the test labels). Several: ``tasks``, per task label the same
        ``task`` and ``series``.
    """
    tasks, n_data = spec.task_list, len(spec.data)
    books, read_seconds = {}, {}
    for data in spec.data:
        started = time.perf_counter()
        books[data.name] = build_book(data, data_dir)
        read_seconds[data.name] = round(time.perf_counter() - started, 1)
    generators = spawn(spec.run.seed, 2 * n_data * len(tasks))
    runs = {}
    for j, task_spec in enumerate(tasks):
        streams = generators[2 * n_data * j : 2 * n_data * (j + 1)]
        runs[task_spec.tag] = _run_task(spec, task_spec, books, streams, progress, data_dir)
    single = len(tasks) == 1
    outs = {tag: out for tag, (out, _) in runs.items()}
    attrs = provenance(seed=spec.run.seed, config=spec.model_dump(mode="json"),
                       sources=[Path(data_dir) / f for d in spec.data for files in d.files for f in files])  # fmt: skip
    summary = {tag: _without_timings(out["series"]) for tag, out in outs.items()}
    attrs["summary"] = json.dumps(next(iter(summary.values())) if single else summary, default=float)
    groups = {
        _group(name if single else f"{name}_{tag}"): to_task_dataset(result)
        for tag, (_, results) in runs.items()
        for name, result in results.items()
    }
    output = Path(output)
    write_store(groups, output, attrs=attrs, overwrite=overwrite)
    folder = output.parent / f"{output.name.removesuffix('.zarr')}_report"
    report = write_task_report(outs, folder, spec.run.name)
    heads = {tag: headline(out, out["task"]["reference"]) for tag, out in outs.items()}
    rows = {f"{tag} | {k}" if not single else k: v for tag, h in heads.items() for k, v in h.items()}
    common = {"store": str(output), "report": str(report), "read_seconds": read_seconds, "headline": rows}
    return {**common, **next(iter(outs.values()))} if single else {**common, "tasks": outs}


def _run_task(
    spec: ForecastSpec,
    task_spec: TaskSpec,
    books: dict[str, BookSeries],
    generators: list,
    progress: Any,
    data_dir: Path,
) -> tuple[dict[str, Any], dict[str, TaskResult]]:
    """Run one task on every series: its summary (``task``, ``series``) and its results per series."""
    task = build_task(task_spec)
    results: dict[str, TaskResult] = {}
    out: dict[str, Any] = {"task": task_spec.model_dump(mode="json"), "series": {}}
    n_data = len(spec.data)
    for k, (data, generator) in enumerate(zip(spec.data, generators[:n_data], strict=True)):
        started = time.perf_counter()
        models = build_task_models(task_spec)
        window = task_spec.window or PRESETS[task_spec.preset].window  # the deep inputs' and the OFI sum's rows
        frame = TaskData(books[data.name], task, window=window)
        step = None if progress is None else (lambda m, f, name=data.name: progress(f"{task_spec.tag} {name}", m, f))
        protocol = spec.protocol
        result = run_task_protocol(
            frame, models, rng=generator, n_folds=protocol.n_folds, initial_fraction=protocol.initial_fraction,
            stride=task_spec.stride, progress=step,
        )  # fmt: skip
        results[data.name] = result
        scores = result.scores(task.classes, task_spec.reference)
        if "oracle" in scores:
            scores["oracle"].update(oracle_extras(result, task, generator))
        out["series"][data.name] = {
            "scores": scores,
            "origins": int(result.index.size),
            "rows": frame.book.size,
            "class_shares": class_shares(result.actual, task.classes),
            "label_overlap": result.overlap,
            "seconds": round(time.perf_counter() - started, 1),
        }
        if task_spec.tstr:
            levels = max(getattr(m, "levels", 1) for m in models)
            files = [Path(data_dir) / f for f in data.files[0]] if data.files else []
            out["series"][data.name]["tstr"] = run_tstr(frame, task_spec, generators[n_data + k], levels,
                                                         data_dir=data_dir, files=files)  # fmt: skip
    return out, results


def class_shares(actual: np.ndarray, classes: tuple[int, ...] | None) -> dict[str, float]:
    """Return the share of each class among the test labels (empty for a regression task)."""
    return {} if classes is None else {str(c): float(np.mean(actual == c)) for c in classes}


def oracle_extras(result: TaskResult, task: Task, rng: np.random.Generator) -> dict[str, float]:
    """Return the oracle row's Monte Carlo error of its accuracy (``mc_accuracy_se``) and its expected accuracy
    (the mean probability of its decision, ``expected_accuracy``), or the mean valid paths for a regression."""
    pred = result.predictions["oracle"]
    if task.classes is None:
        return {"valid_paths": float(pred.counts[:, 0].mean())}
    se = mc_accuracy_se(pred.counts, result.actual, task.classes, rng=rng)
    return {"mc_accuracy_se": se, "expected_accuracy": float(pred.probs.max(axis=1).mean()),
            "valid_paths": float(pred.counts.sum(axis=1).mean())}  # fmt: skip


def run_tstr(
    frame: TaskData,
    task_spec: TaskSpec,
    rng: np.random.Generator,
    levels: int,
    *,
    data_dir: Path | None = None,
    files: list[Path] | None = None,
) -> dict[str, Any]:
    """Return the TRTR / TSTR / mixed comparison of the spec's models on ``frame`` from its ``tstr_source``.

    ``"hawkes:NAME"`` refits the Hawkes-driven book preset NAME on the rows of its data (under ``data_dir``) before
    the cut only; ``"abm:PATH"`` checks that a calibrated preset's window of the same data (``files``) ends before
    the cut. Either records what it fitted or checked under ``fit``.
    """
    source, _, where = task_spec.tstr_source.partition(":")
    models, seconds = build_task_models(task_spec), task_spec.tstr_synthetic_s
    common = {"train_fraction": task_spec.tstr_train_fraction, "mix_share": task_spec.tstr_mix_share,
              "stride": task_spec.tstr_stride}  # fmt: skip
    if source == "qr":
        out = train_synthetic_test_real_books(frame, models, rng=rng, synthetic_s=seconds, levels=levels,
                                              n_max=task_spec.tstr_n_max, **common)  # fmt: skip
        return {**out, "source": "queue-reactive fit on the rows before the cut"}
    sim_seed, compare_seed = (int(x) for x in rng.integers(2**62, size=2))
    cut = int(frame.book.size * task_spec.tstr_train_fraction)
    cut_ns, fit = int(frame.book.ts_ns[cut]), None
    if source == "hawkes":
        series, fit = hawkes_refit_series(where, data_dir or DEFAULT_DATA_DIR, cut_ns, seconds, rng=sim_seed,
                                          depth=max(levels, 1))  # fmt: skip
        synthetic, fit = [series], {**fit, "cut_row": cut}
    elif source == "preset":
        synthetic = [book_preset_series(where, seconds, rng=sim_seed, depth=max(levels, 1))]
    elif source == "abm":
        fit = abm_calibration_span(where, files or [], int(frame.book.ts_ns[0]), cut_ns)
        synthetic = [abm_series(where, seconds, seed=sim_seed, depth=max(levels, 1))]
    else:
        synthetic = store_series(where, paths=task_spec.tstr_paths)
    out = compare_training_sources(frame, synthetic, models, rng=compare_seed, **common)
    return {**out, "source": task_spec.tstr_source, **({} if fit is None else {"fit": fit})}


def headline(out: dict[str, Any], reference: str) -> dict[str, str]:
    """Return one CLI row per series and model: the main score with its standard error, and the DM test."""
    rows = {}
    for name, item in out["series"].items():
        for model, row in item["scores"].items():
            key = "accuracy" if "accuracy" in row else "mse"
            text = f"{key} {row[key]:.4f} +- {row[key + '_se']:.4f}"
            dm = f"dm_zero_one_vs_{reference}" if key == "accuracy" else f"dm_se_vs_{reference}"
            if dm in row:
                text += f", DM {row[dm]:.2f} (p {row[dm.replace('dm_', 'dm_p_', 1)]:.3f})"
            rows[f"{name}: {model}"] = text
        rows[f"{name}: walk-forward seconds"] = str(item["seconds"])
    return rows


def _without_timings(series: dict[str, Any]) -> dict[str, Any]:
    return {
        name: {
            **{k: v for k, v in item.items() if k != "seconds"},
            "scores": {m: {k: v for k, v in r.items() if k != "seconds"} for m, r in item["scores"].items()},
        }
        for name, item in series.items()
    }


def to_task_dataset(result: TaskResult) -> xr.Dataset:
    """Return the test origins of a task run over ``origin``: actual label, fold, each model's forecast and class
    probabilities."""
    variables: dict[str, Any] = {"actual": ("origin", result.actual), "fold": ("origin", result.fold.astype(np.int32))}
    for name, pred in result.predictions.items():
        variables[f"forecast_{name}"] = ("origin", pred.ofi)
        if pred.probs is not None:
            variables[f"probs_{name}"] = (("origin", "label_class"), pred.probs)
    return xr.Dataset(
        variables, coords={"origin_row": ("origin", result.index)}, attrs={"task": json.dumps(result.task)}
    )


def write_task_report(outs: dict[str, dict[str, Any]], folder: Path, title: str) -> Path:
    """Write ``report.md`` and ``report.html`` of a task run (``outs``: per task label, its ``task`` and
    ``series``) into ``folder``; return the markdown path."""
    folder.mkdir(parents=True, exist_ok=True)
    single = len(outs) == 1
    names = ", ".join(out["task"]["name"] for out in outs.values())
    parts = [f"# Forecast task{'' if single else 's'} {names}: {title}", ""]
    if not single:
        parts += ["One section per task of the spec, each with one table per series.", ""]
    for tag, out in outs.items():
        if not single:
            parts += [f"## Task {tag}", ""]
        parts += _task_parts(out, "##" if single else "###")
    markdown = "\n".join(parts)
    path = folder / "report.md"
    write_text_atomic(path, markdown)
    write_text_atomic(folder / "report.html", page(title, markdown_to_html(markdown)))
    return path


def _task_parts(out: dict[str, Any], heading: str) -> list[str]:
    task = out["task"]
    reference, classification = task["reference"], task["name"] in CLASSES
    about = (
        f"Walk-forward forecasts of task {task['name']!r} scored on the test origins only; each score has its "
        f"standard error (Newey-West over the test origins), and dm_* is the Diebold-Mariano statistic against "
        f"{reference!r} (negative: a smaller loss than {reference!r}; 0-1 loss and Brier score for classes, "
        "squared error otherwise)."
    )
    parts = []
    for name, item in out["series"].items():
        columns = list(SCORE_COLUMNS[classification])
        columns += sorted({k for r in item["scores"].values() for k in r if k.startswith("dm")})
        oracle = item["scores"].get("oracle", {})
        columns += [k for k in ("mc_accuracy_se", "expected_accuracy", "valid_paths") if k in oracle]
        rows = [[m, *[r.get(c, np.nan) for c in columns], r["seconds"]] for m, r in item["scores"].items()]
        shares = ", ".join(f"{c}: {v:.3f}" for c, v in item.get("class_shares", {}).items())
        parts += [f"{heading} {name}", "", about, "", f"{item['origins']} test origins of {item['rows']} rows"
                  + (f" (test label shares {shares})" if shares else "") + f"; the whole walk-forward took "
                  f"{item['seconds']} s.", "", markdown_table(["model", *columns, "seconds"], rows), ""]  # fmt: skip
        if "tstr" in item:
            parts += _tstr_section(item["tstr"])
    return parts


def _tstr_section(tstr: dict[str, Any]) -> list[str]:
    keys = ("model", "metric", "trtr", "trtr_se", "tstr", "tstr_se", "ratio", "dm_tstr_vs_trtr", "dm_p_tstr_vs_trtr",
            "mixed", "mixed_se", "dm_mixed_vs_trtr", "dm_p_mixed_vs_trtr", "mixed_real", "mixed_synthetic")  # fmt: skip
    rows = [[r[k] for k in keys] for r in tstr["rows"]]
    header = ["model", "metric", "TRTR", "s.e.", "TSTR", "s.e.", "ratio", "DM TSTR", "p", "mixed", "s.e.", "DM mixed",
              "p", "mixed real origins", "mixed synthetic origins"]  # fmt: skip
    return [
        "### Train on synthetic, test on real",
        "",
        f"Each model trained on the real rows before the cut (TRTR), on {tstr['synthetic_rows']} synthetic rows "
        f"(TSTR; source: {tstr['source']}) and on both mixed, all tested on the same {tstr['test_origins']} real "
        "origins after the cut; a ratio TSTR / TRTR near 1 means the synthetic book teaches what the real one does, "
        "and DM is the Diebold-Mariano statistic of the arm against TRTR (negative: a smaller loss).",
        "",
        markdown_table(header, rows),
        "",
        *_fit_lines(tstr.get("fit")),
    ]


def _fit_lines(fit: dict[str, Any] | None) -> list[str]:
    """Say what the synthetic source was fitted on, against the cut (empty when the source records nothing)."""
    if fit is None:
        return []
    if "rows" in fit:
        text = (
            f"The synthetic source was refitted on the {fit['rows']} real rows before the cut (row {fit['cut_row']}, "
            f"{fit['end_ns']} ns; last row read at {fit['last_ns']} ns): {fit['hawkes']}."
        )
    elif fit.get("same_data"):
        text = (f"The agent market was calibrated on [{fit['window_ns'][0]}, {fit['window_ns'][1]}) ns of the same "
                f"data, before the cut at {fit['cut_ns']} ns.")  # fmt: skip
    else:
        text = f"The agent market was calibrated on {fit['calibrated_on'] or 'nothing (a hand-set config)'}."
    return [text, ""]


def _group(name: str) -> str:
    text = "".join(c if c.isalnum() else "_" for c in name)
    return text if text.isidentifier() else f"series_{text}"
