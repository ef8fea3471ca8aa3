"""The resting volumes scored on the depth the real books know: a level-N message file replayed from a shallower start.

``python -m scenarios.generate.depth SPEC [MODEL ...] [--paths 2] [--duration SECONDS] [--seed S] [--levels 10]
[--card-levels N] [--stop-when-stuck] [--data DIR] [-o OUT.json]``

The AAPL hour's books are a replay of its level-50 message file from the level-10 book of 09:30
(:func:`generators.data.read_flow`, :func:`simlab.io.lobster.replay_lobster`): a level the messages never showed (an
order resting before 09:30 beyond level 10, or one that entered the 50 levels from beyond them) is
**undetermined**, and the replay's books hold it as empty (0 lots). On the held-out span the real books know 24
bid and 14 ask levels at the median row, the ask side is empty on 22 % of the rows and has fewer than 10 known
levels on 40 %. The scorecard's ``bid_volume`` / ``ask_volume`` sum the lots over the levels both books keep (50
here), so a generated book, whose levels are all known, is compared with a reference that counts its unknown
lots as none.

This module scores the two resting volumes on what the reference knows: over the first ``levels`` levels, on the
real rows quoted on both sides whose ``levels`` first cells of that side are all determined
(:func:`known_reference`), with the scorecard's own distance (:func:`simlab.metrics.distances.compare_samples`,
the same bins, block bootstrap and floor) and the scorecard's view of the generated paths (its ``Market``: the
initial orders and the events a level-N file would not record left out). It also gives each path's mean L1 over the
scorecard's L1 scores with the two volume scores replaced by these (:func:`adjusted_mean`), with the interval of
the mean of the replicates as :func:`generators.evaluation.compare_cards` computes it. The models' paths are
sampled as :mod:`scenarios.generate.heldout` samples them (same seed, same bytes), and the true held-out messages
replayed through the rollout (:mod:`scenarios.generate.replay`) are scored the same way.

Since session 11 :func:`generators.data.read_flow` keeps the masks and the scorecard reads them itself with
``known_depth=True`` (:mod:`scenarios.generate.known`); the "card" columns here drop the masks, to give the card
as it was before.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from generators.evaluation import realism
from generators.spec import load_generator, load_spec, spec_spans
from scenarios.generate.heldout import default_duration, floor_summary, lobster_window, write_json
from simlab.errors import DataError, ParameterError
from simlab.io import DEFAULT_DATA_DIR
from simlab.metrics._market import Market
from simlab.metrics.distances import check_bootstrap, compare_samples
from simlab.metrics.scorecard import score
from simlab.provenance import provenance
from simlab.schema import EventKind

VOLUMES = ("bid_volume", "ask_volume")
CARD_NAMES = {name: f"{name} (unconditional)" for name in VOLUMES}


def reference_flow(spec_path: str | Path, data_dir: str | Path = DEFAULT_DATA_DIR) -> dict[str, Any]:
    """Read a spec's flow as :func:`generators.spec.spec_spans` does, keeping which book cells the data determine.

    Returns
    -------
    dict
        ``spans`` (train, validation, test: ``events`` and ``books``, the books with ``bid_determined`` and
        ``ask_determined`` over ``(time, level)``) and ``replayed`` (True when the books are a replay of a deeper
        message file; an orderbook file's books are determined everywhere).
    """
    spans = spec_spans(load_spec(spec_path), data_dir)  # read_flow keeps a replay's masks (session 11)
    replayed = "bid_determined" in spans["test"]["books"]
    if not replayed:
        for span in spans.values():
            known = xr.ones_like(span["books"]["bid_qty"], dtype=bool)
            span["books"] = span["books"].assign(bid_determined=known, ask_determined=known)
    return {"spans": spans, "replayed": replayed}


def known_reference(books: xr.Dataset, levels: int, *, only_known: bool = True) -> dict[str, np.ndarray]:
    """Return the real resting volumes over the first ``levels`` levels on the rows where the data know them.

    A row counts for a side when both sides are quoted (the scorecard's rows) and the side's first ``levels``
    cells are all determined (every quoted row with ``only_known=False``: the scorecard's view at that depth).
    Returns ``{"bid_volume": ..., "ask_volume": ...}`` (float64 lots, time order) and
    ``{"bid_known": share, "ask_known": share}`` of the quoted rows kept.
    """
    if isinstance(levels, bool) or not isinstance(levels, (int, np.integer)) or levels < 1:
        raise ParameterError(f"`levels` of known_reference must be an int >= 1; got {levels!r}")
    depth = min(int(levels), books.sizes["level"])
    quoted = (books["bid_qty"].values[:, 0] > 0) & (books["ask_qty"].values[:, 0] > 0)
    out: dict[str, Any] = {}
    for side in ("bid", "ask"):
        known = quoted & (books[f"{side}_determined"].values[:, :depth].all(axis=1) if only_known else True)
        out[f"{side}_volume"] = books[f"{side}_qty"].values[known, :depth].sum(axis=1).astype(np.float64)
        out[f"{side}_known"] = float(known.sum() / max(int(quoted.sum()), 1))
    return out


def path_volumes(path: dict[str, xr.Dataset], levels: int, window: int | None) -> dict[str, np.ndarray]:
    """Return a generated path's resting volumes over its first ``levels`` levels, as the scorecard sees the path
    (initial orders left out; with ``window``, only the events a level-``window`` file would record)."""
    market = Market(path["events"], path["books"], levels=int(levels), source="synthetic", window_levels=window)
    quoted = market.quoted
    return {
        f"{side}_volume": market.book[j][quoted].sum(axis=1).astype(np.float64) for side, j in (("bid", 1), ("ask", 3))
    }


def known_depth_rows(
    paths: list[dict[str, xr.Dataset]], test: dict[str, xr.Dataset], *, levels: int, seed: int, n_boot: int
) -> list[dict[str, Any]]:
    """Score every path's two resting volumes against the known real rows (see the module docstring).

    ``test`` is the held-out span with the determined masks in its books (:func:`reference_flow`). Returns one
    ``{name: Distance}`` per path (``bid_volume``, ``ask_volume``), seeded ``[seed, path]``, and under
    ``"all"`` the same against every quoted row at that depth (the scorecard's view cut to ``levels``), under
    ``"medians"`` the median lots of the path, the known rows and all rows.
    """
    reference = known_reference(test["books"], levels)
    everything = known_reference(test["books"], levels, only_known=False)
    window = lobster_window(test)
    out = []
    for p, path in enumerate(paths):
        rng = np.random.default_rng([int(seed), p])
        synthetic = path_volumes(path, levels, window)
        row = {
            name: compare_samples(reference[name], synthetic[name], rng=rng, n_boot=n_boot)["l1"] for name in VOLUMES
        }
        row["all"] = {
            name: compare_samples(everything[name], synthetic[name], rng=rng, n_boot=n_boot)["l1"] for name in VOLUMES
        }
        row["medians"] = {
            name: {"path": float(np.median(synthetic[name])), "known": float(np.median(reference[name])),
                   "all": float(np.median(everything[name]))}
            for name in VOLUMES
        }  # fmt: skip
        out.append(row)
    return out


def adjusted_mean(card: Any, replacements: dict[str, Any], *, confidence: float = 0.99) -> dict[str, Any]:
    """Return a scorecard's mean L1 with the rows named in ``replacements`` (``bid_volume``...) replaced.

    The interval is the percentile interval of the mean of the scores' bootstrap replicates, as
    :func:`generators.evaluation.compare_cards` takes it; the floor likewise.
    """
    _, tails = check_bootstrap(10, confidence)
    rows = {f"{r.quantity} ({r.family})": r.distance for r in card.rows if r.metric == "l1" and r.distance is not None}
    for name, distance in replacements.items():
        if CARD_NAMES[name] not in rows:
            raise DataError(f"adjusted_mean: the scorecard has no L1 score {CARD_NAMES[name]!r} to replace")
        rows[CARD_NAMES[name]] = distance
    size = min(min(d.replicates.shape[0], d.floor_replicates.shape[0]) for d in rows.values())
    out: dict[str, Any] = {"scores": len(rows)}
    for key, attr, value in (("mean_l1", "replicates", "value"), ("floor", "floor_replicates", "floor")):
        replicates = np.mean([getattr(d, attr)[:size] for d in rows.values()], axis=0)
        low, high = np.percentile(replicates, tails)
        out[key] = {"value": float(np.mean([getattr(d, value) for d in rows.values()])), "low": float(low),
                    "high": float(high)}  # fmt: skip
    return out


def deep_flow(events: xr.Dataset, books: xr.Dataset, *, levels: int = 10) -> dict[str, dict[str, float]]:
    """Return the flow beyond the first ``levels`` levels, per side: messages and lots per second of ADDs and of
    removals (CANCEL and DELETE), and their shares of all ADDs and removals of the side.

    A message's level is read from the book before it, as :func:`generators.encoding.message_table` reads a
    removal's: the non-empty levels of its own side, among the first ``levels``, better than its price, plus one.
    ``events`` start with an anchor (its book is the one before the first message), e.g. a path's last initial
    order and what follows it.
    """
    names = ("ts_ns", "kind", "side", "price_ticks", "qty_lots")
    ts, kind, side, price, qty = (events[name].values.astype(np.int64) for name in names)
    before = {name: books[name].values[:-1, :levels] for name in ("bid_price", "bid_qty", "ask_price", "ask_qty")}
    kind, side, price, qty = kind[1:], side[1:], price[1:], qty[1:]
    seconds = max((int(ts[-1]) - int(ts[0])) / 1e9, 1e-9)
    out = {}
    for sign, name in ((1, "bid"), (-1, "ask")):
        prices, qtys = before[f"{name}_price"], before[f"{name}_qty"]
        better = (qtys > 0) & (sign * (prices - price[:, None]) > 0)
        deep = better.sum(axis=1) + 1 > levels
        entry = {}
        for label, kinds in (("add", (EventKind.ADD,)), ("removal", (EventKind.CANCEL, EventKind.DELETE))):
            mine = (side == sign) & np.isin(kind, [int(k) for k in kinds])
            entry[f"{label}_per_s"] = float((mine & deep).sum() / seconds)
            entry[f"{label}_lots_per_s"] = float(qty[mine & deep].sum() / seconds)
            entry[f"{label}_share"] = float((mine & deep).sum() / max(int(mine.sum()), 1))
        out[name] = entry
    return out


def path_flow(path: dict[str, xr.Dataset], levels: int = 10) -> dict[str, dict[str, float]]:
    """Return :func:`deep_flow` of a generated path after its initial orders (the last one is the anchor)."""
    start = max(int(path["events"].attrs.get("initial_orders", 0)) - 1, 0)
    return deep_flow(
        path["events"].isel(event=slice(start, None)), path["books"].isel(time=slice(start, None)), levels=levels
    )


def score_depth(
    paths: list[dict[str, xr.Dataset]],
    test: dict[str, xr.Dataset],
    *,
    levels: int,
    seed: int,
    n_boot: int,
    card_levels: int | None = None,
) -> list[dict[str, Any]]:
    """Score paths with the scorecard and on the known depth; return per path both views of the two volumes and
    the mean L1 before and after replacing them. ``test`` holds the determined masks (:func:`reference_flow`); the
    scorecard sees the span without them, as :mod:`scenarios.generate.heldout` gives it; ``card_levels`` cuts the
    scorecard's books to that many levels (default: the fewer of the two books', 50 on AAPL)."""
    plain = {"events": test["events"], "books": test["books"].drop_vars(["bid_determined", "ask_determined"])}
    if card_levels is None:
        cards = realism(paths, plain, seed=seed, n_boot=n_boot)
    else:  # realism with the books cut (the same seeds)
        cards = [score(path, plain, seed=seed + p, n_boot=n_boot, levels=card_levels) for p, path in enumerate(paths)]
    known = known_depth_rows(paths, test, levels=levels, seed=seed, n_boot=n_boot)
    out = []
    for card, rows in zip(cards, known, strict=True):
        floor = floor_summary(card)
        entry = {
            "mean_l1": card.summary["l1"]["mean"], "floor_mean_l1": floor["floor_mean_l1"],
            "roc_auc": getattr(card.discriminative, "auc", None), "card_levels": card.meta.get("levels"),
            "adjusted": adjusted_mean(card, {name: rows[name] for name in VOLUMES}), "medians": rows["medians"],
        }  # fmt: skip
        for name in VOLUMES:
            entry[f"{name} card"] = floor["l1_rows"][CARD_NAMES[name]]
            entry[f"{name} known {levels}"] = rows[name].to_dict()
            entry[f"{name} all {levels}"] = rows["all"][name].to_dict()
        out.append(entry)
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Score the replay of the true messages and any models on the known depth; print and write the JSON file."""
    from scenarios.generate.replay import replay_flow, replay_path

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec")
    parser.add_argument("models", nargs="*")
    parser.add_argument("--paths", type=int, default=2)
    parser.add_argument("--duration", type=float, default=None)
    parser.add_argument("--seed", type=int, default=20261204)
    parser.add_argument("--levels", type=int, default=10)
    parser.add_argument("--card-levels", type=int, default=None, help="cut the scorecard's books (default: 50)")
    parser.add_argument("--n-boot", type=int, default=100)
    parser.add_argument("--stop-when-stuck", action="store_true")
    parser.add_argument("--data", default=str(DEFAULT_DATA_DIR))
    parser.add_argument("-o", "--output", default="depth.json")
    args = parser.parse_args(argv)
    reference = reference_flow(args.spec, args.data)
    test = reference["spans"]["test"]
    plain = {"events": test["events"], "books": test["books"].drop_vars(["bid_determined", "ask_determined"])}
    duration = default_duration(plain) if args.duration is None else float(args.duration)
    known = known_reference(test["books"], args.levels)
    out: dict[str, Any] = {
        "duration_s": duration, "levels": args.levels,
        "reference": {k: v for k, v in known.items() if k.endswith("_known")}, "runs": {},
    }  # fmt: skip
    flow = replay_flow(args.spec, args.data)
    attrs = {name: flow["events"].attrs[name] for name in ("tick_size", "lot_size", "instrument", "venue")}
    replays = [replay_path(flow, duration, seed=args.seed + p)[0] for p in range(args.paths)]
    runs = {"replay": [p.datasets({**attrs, "generator": "replay"}, "scenarios.generate.depth") for p in replays]}
    for model in args.models:
        generator = load_generator(model)
        runs[model] = generator.sample(args.paths, duration, generator=args.seed, stop_when_stuck=args.stop_when_stuck)
    out["deep_flow"] = {
        f"real {span}": deep_flow(reference["spans"][span]["events"], reference["spans"][span]["books"])
        for span in ("train", "test")
    }
    for name, paths in runs.items():
        out["deep_flow"].update({f"{name} path {p}": path_flow(path) for p, path in enumerate(paths)})
        out["runs"][name] = score_depth(
            paths, test, levels=args.levels, seed=args.seed, n_boot=args.n_boot, card_levels=args.card_levels
        )
    out["provenance"] = provenance(seed=args.seed, config={k: v for k, v in vars(args).items() if k != "output"})
    write_json(args.output, out)
    print(f"{duration:g} s per path; real rows with {args.levels} known levels: {out['reference']}")
    for name, flow in out["deep_flow"].items():
        print(f"beyond level 10, {name}: " + "; ".join(
            f"{side} ADDs {v['add_per_s']:.2f}/s ({v['add_lots_per_s']:.0f} lots/s, share {v['add_share']:.2f}), "
            f"removals {v['removal_per_s']:.2f}/s ({v['removal_lots_per_s']:.0f} lots/s, "
            f"share {v['removal_share']:.2f})"
            for side, v in flow.items()
        ))  # fmt: skip
    for name, rows in out["runs"].items():
        for p, row in enumerate(rows):
            m, a, f = row["mean_l1"], row["adjusted"]["mean_l1"], row["adjusted"]["floor"]
            vols = "; ".join(_volume_line(row, v, args.levels) for v in VOLUMES)
            print(f"{name} path {p}: mean L1 {m['value']:.3f} [{m['low']:.3f}, {m['high']:.3f}] -> on known depth "
                  f"{a['value']:.3f} [{a['low']:.3f}, {a['high']:.3f}] (floor {f['value']:.3f} [{f['low']:.3f}, "
                  f"{f['high']:.3f}]), AUC {row['roc_auc']}; {vols}")  # fmt: skip
    return out


def _volume_line(row: dict[str, Any], name: str, levels: int) -> str:
    card, known, every = row[f"{name} card"], row[f"{name} known {levels}"], row[f"{name} all {levels}"]
    return (
        f"{name} card {card['value']:.3f} (floor {card['floor']:.3f}), known {levels} levels {known['value']:.3f} "
        f"[{known['low']:.3f}, {known['high']:.3f}] (floor {known['floor']:.3f}), all rows {every['value']:.3f} "
        f"(floor {every['floor']:.3f}); median lots {row['medians'][name]}"
    )


if __name__ == "__main__":
    main()
