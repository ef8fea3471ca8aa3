"""Replay the true held-out messages through the generators' rollout: a perfect model's score, and where its lots go.

``python -m scenarios.generate.replay SPEC [--paths 2] [--duration SECONDS] [--seed S] [--start context|queues]
[--data DIR] [-o OUT.json]``

A perfect model would generate exactly the real messages that followed the sampling context. This module feeds
them, encoded as the model's messages (:func:`generators.encoding.message_table`), one at a time through the
rollout's rules (:class:`generators.rollout.BookPath`, the Python twin the numba kernels reproduce bit for bit),
from the model's start book at the end of the validation span, and scores each path against the whole held-out
span like a model's paths (:func:`generators.evaluation.realism`). A message the rollout rejects is counted by
reason and skipped (the next true message follows, at its true time: the replay keeps the real clock). What
remains between the replay's score and the real-vs-real floor is the rollout's and the start book's, not a model's.

It also accounts for the lots, per message type and level (1-10, 11 = beyond level 10): the true lots of every
message, the lots the rollout applied, and the rejections; and it follows the resting volume on the first 10
levels of the replayed book against the real book at the same message.

``--start context`` starts from the context book as sampling does (one order per price level, the level's lots);
``--start queues`` from the real queues: the orders resting in the real book at the start, in time priority
(:func:`generators.starts.queue_context`).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from generators import encoding as enc
from generators.base import _context_end, context_window
from generators.data import split_by_time
from generators.evaluation import realism
from generators.rollout import REASONS, BookPath
from generators.spec import load_spec, spec_flow
from generators.starts import queue_context
from scenarios.generate.heldout import floor_summary, write_json
from simlab.errors import ParameterError
from simlab.io import DEFAULT_DATA_DIR
from simlab.provenance import provenance
from simlab.schema import BOOK_FIELDS

TYPE_NAMES = ("add", "cancel", "delete", "trade", "hidden")
START_BOOKS = ("context", "queues")
HISTORY = 64  # messages of context kept (the rollout's FLOW_WINDOW; the replay generates nothing from them)


def replay_flow(spec_path: str | Path, data_dir: str | Path = DEFAULT_DATA_DIR) -> dict[str, Any]:
    """Read a spec's flow and return what a replay needs: the whole flow, its message table and the context row.

    Returns
    -------
    dict
        ``events``, ``books`` (the whole flow), ``table`` (its integer messages: message *i* leads to book row
        *i* + 1), ``end`` (the book row of the sampling context: the last row of the validation span quoted on
        both sides, as :func:`generators.base._context_end` picks it), ``test`` (the held-out span) and
        ``test_end`` (the whole flow's last row).
    """
    spec = load_spec(spec_path)
    flow = spec_flow(spec, data_dir)
    spans = split_by_time(flow["events"], flow["books"], spec.split)
    offset = int(spans["train"]["events"].sizes["event"])
    end = offset + _context_end(spans["validation"]["books"], HISTORY)
    table = enc.message_table(flow["events"], flow["books"], source="replayed flow").table
    return {"events": flow["events"], "books": flow["books"], "table": table, "end": end, "test": spans["test"]}


def replay_path(
    flow: dict[str, Any], duration_s: float, *, seed: int, start: str = "context", book_levels: int = 10
) -> tuple[BookPath, dict[str, Any]]:
    """Replay the true messages that follow the context for ``duration_s`` through the rollout's rules.

    Parameters
    ----------
    flow
        :func:`replay_flow`.
    duration_s
        Seconds replayed from the context's time.
    seed
        Seeds the rollout's picks of resting orders (cancels and deletes).
    start
        ``"context"`` (the sampling context's one order per level) or ``"queues"`` (the real resting orders).
    book_levels
        The encoding's :attr:`~generators.encoding.Encoding.book_levels` (10 for the AAPL and Hawkes books).

    Returns
    -------
    tuple
        The path (its records, counts and ``datasets``) and the accounting (see :func:`lots_accounting`).
    """
    if start not in START_BOOKS:
        raise ParameterError(f"`start` of replay_path must be one of {list(START_BOOKS)}; got {start!r}")
    events, books, table, end = flow["events"], flow["books"], flow["table"], int(flow["end"])
    context = context_window(table, (events, books), end, HISTORY)
    if start == "queues":
        context = queue_context(context, events, end)
    ts = events["ts_ns"].values
    end_ns = int(ts[end]) + int(round(duration_s * 1e9))
    depth = max(enc.DEPTH_LEVELS, int(context["books"].shape[2]))
    path = BookPath(context, depth, np.random.default_rng(seed), end_ns, False, book_levels)
    last = int(np.searchsorted(ts, end_ns, side="right")) - 1  # the last book row within the duration
    rows = np.arange(end, last)  # message i leads to book row i + 1
    outcome, applied_lots, replay_volume = replay_messages(path, table[rows], ts[rows + 1])
    rows = rows[: outcome.shape[0]]
    real_books = np.stack([books[name].values[rows + 1, : enc.DEPTH_LEVELS] for name in BOOK_FIELDS], 1)
    real_lots = _true_lots(events, rows)
    real_volume = np.stack([real_books[:, 1].sum(axis=1), real_books[:, 3].sum(axis=1)], 1)
    accounting = lots_accounting(table[rows], real_lots, applied_lots, outcome, replay_volume, real_volume)
    accounting.update(start=start, seed=int(seed), duration_s=float(duration_s), messages=int(rows.shape[0]))
    return path, accounting


def replay_messages(
    path: BookPath, messages: np.ndarray, times: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Apply true messages one at a time to a rollout path, each at its true time, until the path is done.

    Parameters
    ----------
    path
        A :class:`generators.rollout.BookPath` (its ``end_ns`` ends the replay).
    messages
        int64 ``(n, 6)``: the messages (:func:`generators.encoding.message_table`); their time field is replaced.
    times
        int64 ``(n,)``: the time of each message (ns); a message's time field is set to its time minus the path's
        last applied time, whatever was rejected before (the replay keeps the true clock).

    Returns
    -------
    tuple
        Per message replayed (fewer than ``n`` when the path ended first): ``outcome`` (-1 applied, else the index
        of its rejection reason in :data:`generators.rollout.REASONS`, also counted in the path's counts), the lots
        the rollout moved for it, and the lots on the first 10 bid and ask levels after it (``(k, 2)``).
    """
    outcome = np.full(messages.shape[0], -1, np.int64)
    applied_lots = np.zeros(messages.shape[0], np.int64)
    replay_volume = np.zeros((messages.shape[0], 2), np.int64)
    for k in range(messages.shape[0]):
        row = np.asarray(messages[k], np.int64).copy()
        row[enc.DT] = int(times[k]) - path.ts
        records = len(path.events)
        reason = path.apply(row)
        if path.done:
            return outcome[:k], applied_lots[:k], replay_volume[:k]
        if reason is not None:
            path.counts.rejected[reason] += 1
            outcome[k] = REASONS.index(reason)
        else:
            applied_lots[k] = sum(int(e[4]) for e in path.events[records:])
        last_book = path.books[-1]
        replay_volume[k] = last_book[1, : enc.DEPTH_LEVELS].sum(), last_book[3, : enc.DEPTH_LEVELS].sum()
    return outcome, applied_lots, replay_volume


def lots_accounting(
    table: np.ndarray,
    real_lots: np.ndarray,
    applied_lots: np.ndarray,
    outcome: np.ndarray,
    replay_volume: np.ndarray,
    real_volume: np.ndarray,
) -> dict[str, Any]:
    """Account for a replay's lots per message type, side and level, and compare the resting volumes.

    Parameters
    ----------
    table
        int64 ``(n, 6)``: the replayed messages.
    real_lots
        int64 ``(n,)``: the lots each message moved in the real book (a trade: its fill's lots).
    applied_lots
        int64 ``(n,)``: the lots the rollout moved for it (the sum of its records; 0 when rejected).
    outcome
        int64 ``(n,)``: -1 for an applied message, else the index of its rejection reason in
        :data:`generators.rollout.REASONS`.
    replay_volume, real_volume
        int64 ``(n, 2)``: lots on the first 10 bid and ask levels after each message, replayed and real.

    Returns
    -------
    dict
        ``by_type``: per type and side (``"delete bid"``...), the messages, those applied, the rejections by reason,
        the true and the applied lots, and for removals the same per level (1-11); ``volume``: the median, mean
        and last resting volume per side, replayed and real, and their ratio; ``net_lots``: per side, lots added
        minus lots removed, replayed and real (the excess a replay accumulates).
    """
    out: dict[str, Any] = {"by_type": {}, "volume": {}, "net_lots": {}}
    types, sides, levels = table[:, enc.TYPE], table[:, enc.SIDE], table[:, enc.LEVEL]
    resting = np.where(types >= enc.TYPE_TRADE, -sides, sides)
    applied = outcome < 0
    for t, name in enumerate(TYPE_NAMES):
        for side, side_name in ((1, "bid"), (-1, "ask")):
            mask = (types == t) & (resting == side)
            if not mask.any():
                continue
            entry = _counts(mask, applied, outcome, real_lots, applied_lots)
            if t in (enc.TYPE_CANCEL, enc.TYPE_DELETE):
                entry["by_level"] = {
                    str(level): _counts(mask & (levels == level), applied, outcome, real_lots, applied_lots)
                    for level in range(1, enc.DEPTH_LEVELS + 2)
                    if (mask & (levels == level)).any()
                }
            out["by_type"][f"{name} {side_name}"] = entry
    for j, side_name in enumerate(("bid", "ask")):
        rep, real = replay_volume[:, j].astype(float), real_volume[:, j].astype(float)
        out["volume"][side_name] = {
            "replay_median": float(np.median(rep)), "real_median": float(np.median(real)),
            "replay_mean": float(rep.mean()), "real_mean": float(real.mean()),
            "replay_last": float(rep[-1]), "real_last": float(real[-1]),
            "ratio_of_means": float(rep.mean() / real.mean()),
        }  # fmt: skip
        side = 1 if j == 0 else -1
        add = (types == enc.TYPE_ADD) & (resting == side)
        removal = ~add & (resting == side) & (types != enc.TYPE_HIDDEN)
        out["net_lots"][side_name] = {
            "real": int(real_lots[add].sum() - real_lots[removal].sum()),
            "replay": int(applied_lots[add].sum() - applied_lots[removal].sum()),
        }
    return out


def _counts(mask, applied, outcome, real_lots, applied_lots) -> dict[str, Any]:
    reasons = {REASONS[r]: int(((outcome == r) & mask).sum()) for r in range(len(REASONS))}
    return {
        "messages": int(mask.sum()), "applied": int((mask & applied).sum()),
        "rejected": {k: v for k, v in reasons.items() if v},
        "real_lots": int(real_lots[mask].sum()), "applied_lots": int(applied_lots[mask].sum()),
        "real_lots_of_rejected": int(real_lots[mask & ~applied].sum()),
    }  # fmt: skip


def _true_lots(events: xr.Dataset, rows: np.ndarray) -> np.ndarray:
    # message i is event i + 1
    return events["qty_lots"].values[rows + 1].astype(np.int64)


def replay(
    spec_path: str | Path,
    *,
    n_paths: int = 2,
    duration: float = 120.0,
    seed: int = 20261204,
    n_boot: int = 100,
    start: str = "context",
    data_dir: str | Path = DEFAULT_DATA_DIR,
) -> dict[str, Any]:
    """Replay the held-out messages ``n_paths`` times (seeds ``seed + p`` for the picks), score and account."""
    flow = replay_flow(spec_path, data_dir)
    attrs = {name: flow["events"].attrs[name] for name in ("tick_size", "lot_size", "instrument", "venue")}
    out: dict[str, Any] = {"duration_s": float(duration), "start": start, "paths": []}
    paths, accounts = [], []
    for p in range(int(n_paths)):
        begin = time.process_time()
        path, account = replay_path(flow, duration, seed=seed + p, start=start)
        account["replay_cpu_s"] = time.process_time() - begin
        paths.append(path.datasets({**attrs, "generator": "replay"}, "scenarios.generate.replay"))
        accounts.append(account)
    cards = realism(paths, flow["test"], seed=seed, n_boot=n_boot)
    for path, card, account in zip(paths, cards, accounts, strict=True):
        attrs = path["events"].attrs
        out["paths"].append({
            "mean_l1": card.summary["l1"]["mean"], "l1_scores": card.summary["l1"]["scores"], **floor_summary(card),
            "roc_auc": getattr(card.discriminative, "auc", None),
            "applied": int(attrs["applied"]), "rejected": int(attrs["rejected"]),
            "rejected_by_reason": {r: int(attrs[f"rejected_{r}"]) for r in REASONS}, "accounting": account,
        })  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run :func:`replay` from the command line; print the scores and the lots, write the JSON file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec")
    parser.add_argument("--paths", type=int, default=2)
    parser.add_argument("--duration", type=float, default=120.0)
    parser.add_argument("--seed", type=int, default=20261204)
    parser.add_argument("--n-boot", type=int, default=100)
    parser.add_argument("--start", choices=START_BOOKS, default="context")
    parser.add_argument("--data", default=str(DEFAULT_DATA_DIR))
    parser.add_argument("-o", "--output", default="replay.json")
    args = parser.parse_args(argv)
    out = replay(
        args.spec, n_paths=args.paths, duration=args.duration, seed=args.seed, n_boot=args.n_boot,
        start=args.start, data_dir=args.data,
    )  # fmt: skip
    out["provenance"] = provenance(seed=args.seed, config={k: v for k, v in vars(args).items() if k != "output"})
    write_json(args.output, out)
    for p, path in enumerate(out["paths"]):
        m, f = path["mean_l1"], path["floor_mean_l1"]
        rows = path["l1_rows"]
        vol = {k: rows[k]["value"] for k in rows if "volume" in k and "l1" not in k and "given" not in k}
        print(f"replay ({args.start}) path {p}: mean L1 {m['value']:.3f} [{m['low']:.3f}, {m['high']:.3f}] "
              f"(floor {f['value']:.3f} [{f['low']:.3f}, {f['high']:.3f}]), AUC {path['roc_auc']}, applied "
              f"{path['applied']}, rejected {path['rejected_by_reason']}, volumes {vol}")  # fmt: skip
        acc = path["accounting"]
        for side, v in acc["volume"].items():
            print(
                f"  {side}: 10-level lots replay/real median {v['replay_median']:.0f}/{v['real_median']:.0f}, "
                f"mean {v['replay_mean']:.0f}/{v['real_mean']:.0f}; net lots {acc['net_lots'][side]}"
            )
    return out


if __name__ == "__main__":
    main()
