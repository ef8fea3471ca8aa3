"""How much the regime label can tell a block of messages, and how much trained models read it.

``python -m scenarios.generate.condition_check SPEC [--window 256 32] [--model MODEL ...] [--blocks 4096]
[--data DIR] [-o OUT.json]``

For each label window (book rows ahead), on the training span of ``SPEC``: how often the past window's quintile
equals the label's, and the share of variance of two block measures (the mid moves in the next ``block`` messages
and their trade share) that a linear model of the history explains, and that the label's quintile adds to it
(:func:`added_r2`: blocked cross-validation, folds contiguous in time with a gap of the label window around each
test fold). Then, for each model, the condition gain (:func:`generators.condition.condition_gain_by_column`) on
the training and validation spans, with two seeds of fixed blocks, by quarter of the diffusion steps and by
message column. Writes every number, with provenance, to the JSON file. ``docs/generators_condition.md`` reads it.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import torch

from generators import encoding as enc
from generators.condition import condition_gain_by_column, relabel
from generators.spec import load_generator, load_spec, spec_spans
from generators.training import BlockData
from scenarios.generate.heldout import write_json
from simlab.io import DEFAULT_DATA_DIR
from simlab.provenance import provenance
from simlab.schema import BOOK_FIELDS

BLOCK = 4  # messages per block, as in the tiny preset
PAST_WINDOWS = (32, 64, 256)


def added_r2(history: np.ndarray, label: np.ndarray, target: np.ndarray, *, folds: int = 5, gap: int = 0):
    """Return the out-of-fold R2 of ``target`` from ``history`` alone and the R2 the label's one-hot adds.

    Least squares on the centred training rows (the label's first quintile is the reference); ``folds``
    contiguous folds, each fitted on the rest less ``gap`` rows on both of its sides (neighbouring rows share
    their windows).
    """
    onehot = np.eye(enc.N_QUINTILES)[label]
    errors = np.zeros(2)
    for fold in np.array_split(np.arange(target.shape[0]), folds):
        train = np.ones(target.shape[0], bool)
        train[max(fold[0] - gap, 0) : fold[-1] + gap + 1] = False
        for k, x in enumerate((history, np.column_stack([history, onehot[:, 1:]]))):
            centre, level = x[train].mean(axis=0), target[train].mean()
            coef = np.linalg.lstsq(x[train] - centre, target[train] - level, rcond=None)[0]
            errors[k] += np.sum(((x[fold] - centre) @ coef + level - target[fold]) ** 2)
    total = np.sum((target - target.mean()) ** 2)
    return float(1 - errors[0] / total), float((errors[0] - errors[1]) / total)


def label_information(events, books, windows: tuple[int, ...]) -> dict[str, Any]:
    """Return, per regime variable (volatility, depth) and label window, the measures of the module docstring."""
    encoding = enc.fit_encoding(events, books, history=PAST_WINDOWS[-1])
    flow = enc.encode(events, books, encoding)
    arrays = tuple(books[name].values for name in BOOK_FIELDS)
    n, history = len(flow), _history(flow, arrays)
    rows = np.arange(PAST_WINDOWS[-1], n - max(windows) - BLOCK)
    moved = np.diff(enc.mid_ticks(arrays)) != 0  # message i moved the mid (book row i to i + 1)
    types = flow.messages.table[:, enc.TYPE]
    targets = {
        "mid moves": sum(moved[rows + k] for k in range(BLOCK)).astype(float),
        "trade share": np.mean([types[rows + k] == enc.TYPE_TRADE for k in range(BLOCK)], axis=0),
    }
    out = {}
    for window in windows:
        values = enc.regime_values(arrays, window)[:-1]
        edges = np.quantile(values, [0.2, 0.4, 0.6, 0.8], axis=0).T
        for j in (enc.REGIMES.index("volatility"), enc.REGIMES.index("depth")):
            label = np.searchsorted(edges[j], values[:, j], side="right")
            row = {"past quintile = label": float(np.mean(label[rows - window] == label[rows]))}
            for name, target in targets.items():
                alone, added = added_r2(history[rows], label[rows], target, gap=window)
                row[f"{name}: R2 of the history"], row[f"{name}: R2 added by the label"] = alone, added
            out[f"{enc.REGIMES[j]}, {window} rows ahead"] = row
    return out


def _history(flow: enc.EncodedFlow, arrays: tuple[np.ndarray, ...]) -> np.ndarray:
    # the book-state vector, the past regime (log volatility, signed log trend, log depth, imbalance) over each of
    # PAST_WINDOWS rows, and the mean of the last 32 message vectors, standardised
    n, columns = len(flow), [flow.book]
    for window in PAST_WINDOWS:
        ahead = enc.regime_values(arrays, window)[:-1]
        past = np.concatenate([np.repeat(ahead[:1], window, axis=0), ahead[:-window]])
        trend = np.sign(past[:, 1]) * np.log1p(np.abs(past[:, 1]))
        columns.append(np.column_stack([np.log1p(past[:, 0]), trend, np.log1p(past[:, 2]), past[:, 3]]))
    sums = np.concatenate([np.zeros((1, enc.MESSAGE_WIDTH)), np.cumsum(flow.vectors, axis=0)])
    recent = np.zeros((n, enc.MESSAGE_WIDTH))
    recent[32:] = (sums[32:n] - sums[: n - 32]) / 32
    x = np.column_stack([*columns, recent])
    x = x[:, x.std(axis=0) > 1e-6]  # columns constant over the span (e.g. the both-sides-quoted flag) say nothing
    return (x - x.mean(axis=0)) / x.std(axis=0)


def model_gains(model: str, spans: dict[str, tuple], blocks: int) -> dict[str, Any]:
    """Return the condition gain of one model on the training and validation spans (two seeds of blocks)."""
    generator = load_generator(model)
    spans = {name: generator.encoding_.span(*span) for name, span in spans.items()}  # as the model read them
    flows = {name: enc.encode(*span, generator.encoding_) for name, span in spans.items()}
    if generator.config.condition_window != enc.REGIME_WINDOW:
        flows = relabel(flows, spans, generator.config.condition_window)
    out = {"condition_window": generator.config.condition_window}
    for name, flow in flows.items():
        data = BlockData(flow, generator.config, torch.device("cpu"), f"{name} span")
        runs = [
            condition_gain_by_column(generator.model_, generator.schedule, data, blocks=blocks, seed=s) for s in (1, 2)
        ]
        out[name] = {
            "gain by seed": [float(r["gain"].mean()) for r in runs],
            "gain by step quarter": np.mean([r["gain"].mean(axis=1) for r in runs], axis=0).tolist(),
            "gain by column": np.mean([r["gain"].mean(axis=0) for r in runs], axis=0).tolist(),
        }
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Measure and print the label's information and the models' gains; write the JSON file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec")
    parser.add_argument("--window", type=int, nargs="+", default=[enc.REGIME_WINDOW, 32])
    parser.add_argument("--model", nargs="*", default=[])
    parser.add_argument("--blocks", type=int, default=4096)
    parser.add_argument("--data", default=str(DEFAULT_DATA_DIR))
    parser.add_argument("-o", "--output", default="condition-check.json")
    args = parser.parse_args(argv)
    spans = spec_spans(load_spec(args.spec), Path(args.data))
    pairs = {name: (spans[name]["events"], spans[name]["books"]) for name in ("train", "validation")}
    out = {"labels": label_information(*pairs["train"], tuple(args.window)), "models": {}}
    for label, row in out["labels"].items():
        print(label, {k: round(v, 3) for k, v in row.items()}, flush=True)
    with torch.no_grad():
        for model in args.model:
            out["models"][model] = model_gains(model, pairs, args.blocks)
            print(model, {k: v["gain by seed"] for k, v in out["models"][model].items() if isinstance(v, dict)})
    out["provenance"] = provenance(seed=None, config={k: v for k, v in vars(args).items() if k != "output"})
    write_json(args.output, out)
    return out


if __name__ == "__main__":
    main()
