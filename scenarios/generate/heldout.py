"""Score trained generators on the held-out span of their training spec, side by side.

``python -m scenarios.generate.heldout SPEC MODEL [MODEL ...] [--preset NAME ...] [--paths 2] [--duration 120]
[--seed S] [--stop-when-stuck] [-o OUT.json]``
samples every model (diffusion or GAN, read from its folder) from the sampling context with the same seed, scores
each path against the whole held-out test span with :func:`simlab.metrics.scorecard.score` (the realism scorecard),
and compares the first model with each other one on the L1 scores both computed
(:func:`generators.evaluation.compare_cards`: means with 99 % intervals and the interval of the difference). It
prints one table and writes every number, with provenance, to the JSON file. A model whose rollout gets stuck
(:data:`generators.rollout.MAX_IDLE_CHAINS` generated blocks in a row that cannot apply) is recorded as failed,
with the rollout's sentence, and left out of the comparisons; with ``--stop-when-stuck`` the stuck path ends
where it got stuck instead, is marked ``stuck`` and is scored as far as it went. Every path is also used as
training flow for the direction forecaster of :mod:`scenarios.generate.tstr` (TSTR against TRTR on the real
held-out span). A book preset named by ``--preset`` (e.g. ``hawkes-aapl``) is a peer scored the same way: the same
number of paths of the same length, simulated from its warmed-up book (its initial orders dropped) with seeds
spawned from ``seed`` and started at the held-out span's first event, so the learned models and the parametric ones
get intervals on the same held-out span.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from calibration.book_presets import load_book_preset, simulate_book_preset
from generators.evaluation import compare_cards, realism
from generators.spec import load_generator, load_spec, spec_spans
from scenarios.generate.tstr import series_of, tstr_direction
from simlab.errors import DataError, SimlabError
from simlab.io import DEFAULT_DATA_DIR
from simlab.provenance import provenance


def score_models(
    spec_path: str | Path,
    models: list[str | Path],
    *,
    n_paths: int = 2,
    duration: float = 120.0,
    seed: int = 20261203,
    n_boot: int = 100,
    data_dir: str | Path = DEFAULT_DATA_DIR,
    stop_when_stuck: bool = False,
    presets: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Sample and score every model against the spec's held-out span; compare the first with the others, per path.

    Parameters
    ----------
    spec_path
        The training spec (its data and split give the held-out span).
    models
        Model folders (the first is the reference of the comparisons).
    n_paths, duration
        Paths per model and seconds per path.
    seed
        Sampling seed (the same for every model) and scoring seed (path p scored with ``seed + p``).
    n_boot
        Bootstrap replicates of the scorecard.
    data_dir
        Where the spec's files are.
    stop_when_stuck
        End a stuck path where it got stuck (recorded, and scored as far as it went) instead of failing the model.
    presets
        Book presets scored as peers (recorded as ``preset:NAME``, compared with the first model).
    """
    spans = spec_spans(load_spec(spec_path), data_dir)
    test = spans["test"]
    real = {name: series_of(f"real {name}", spans[name]) for name in ("train", "test")}
    cards, out = {}, {"models": {}, "comparisons": {}}
    for model in models:
        generator = load_generator(model)
        start = time.perf_counter()
        try:
            paths = generator.sample(n_paths, duration, generator=seed, stop_when_stuck=stop_when_stuck)
        except SimlabError as error:  # a rollout that got stuck is a result: recorded, and the model left out
            out["models"][str(model)] = {"failed": str(error)}
            continue
        seconds = time.perf_counter() - start
        cards[str(model)] = realism(paths, test, seed=seed, n_boot=n_boot)
        out["models"][str(model)] = {
            "family": paths[0]["events"].attrs["generator"],
            "sampling_s": seconds,
            "paths": [_path_summary(path, card) for path, card in zip(paths, cards[str(model)], strict=True)],
            "tstr": [_tstr(real, path) for path in paths],
        }
    for name in presets:
        paths = preset_paths(name, n_paths, duration, seed, int(test["events"]["ts_ns"].values[0]))
        cards[f"preset:{name}"] = realism(paths, test, seed=seed, n_boot=n_boot)
        out["models"][f"preset:{name}"] = {
            "family": f"preset {name}",
            "paths": [_path_summary(path, card) for path, card in zip(paths, cards[f"preset:{name}"], strict=True)],
            "tstr": [_tstr(real, path) for path in paths],
        }
    reference = str(models[0])
    peers = [str(m) for m in models[1:]] + [f"preset:{name}" for name in presets]
    for model in [m for m in peers if m in cards and reference in cards]:
        out["comparisons"][f"{model} vs {reference}"] = [
            compare_cards(ours, theirs) for ours, theirs in zip(cards[str(model)], cards[reference], strict=True)
        ]
    return out


def preset_paths(name: str, n_paths: int, duration: float, seed: int, start_ns: int) -> list[dict[str, Any]]:
    """Simulate ``n_paths`` paths of ``duration`` seconds of a book preset from ``start_ns`` (ns since the epoch),
    its initial orders dropped."""
    preset = load_book_preset(name)
    out = []
    for child in np.random.SeedSequence(seed).spawn(n_paths):
        flow = simulate_book_preset(preset, duration, rng=np.random.default_rng(child), start_ns=start_ns)
        skip = int(flow["events"].attrs.get("initial_orders", 0))
        out.append({"events": flow["events"].isel(event=slice(skip, None)),
                    "books": flow["books"].isel(time=slice(skip, None))})  # fmt: skip
    return out


def _tstr(real: dict, path: dict) -> dict[str, Any]:
    try:
        return tstr_direction(real["train"], real["test"], series_of("generated", path))
    except DataError as error:  # too short a path for the task: recorded
        return {"failed": str(error)}


def _path_summary(path: dict, card: Any) -> dict[str, Any]:
    attrs = path["events"].attrs
    disc = card.discriminative
    return {
        "mean_l1": card.summary["l1"]["mean"],
        "l1_scores": card.summary["l1"]["scores"],
        "roc_auc": disc.auc if hasattr(disc, "auc") else f"not applicable: {disc}",
        "applied": int(attrs.get("applied", path["events"].sizes["event"])),  # a preset: its events
        "rejected": int(attrs.get("rejected", 0)),
        "discarded": int(attrs.get("discarded", 0)),
        "stuck": int(attrs.get("stuck", 0)),
        "seconds": (int(path["events"]["ts_ns"].values[-1]) - int(path["events"]["ts_ns"].values[0])) / 1e9,
        "rejected_by_reason": {k[len("rejected_") :]: int(v) for k, v in attrs.items() if k.startswith("rejected_")},
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run :func:`score_models` from the command line; print a table and write the JSON file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec")
    parser.add_argument("models", nargs="+")
    parser.add_argument("--paths", type=int, default=2)
    parser.add_argument("--duration", type=float, default=120.0)
    parser.add_argument("--seed", type=int, default=20261203)
    parser.add_argument("--n-boot", type=int, default=100)
    parser.add_argument("--stop-when-stuck", action="store_true", help="end a stuck path instead of failing")
    parser.add_argument("--preset", action="append", default=[], help="a book preset scored as a peer")
    parser.add_argument("-o", "--output", default="heldout.json")
    args = parser.parse_args(argv)
    out = score_models(
        args.spec, args.models, n_paths=args.paths, duration=args.duration, seed=args.seed, n_boot=args.n_boot,
        stop_when_stuck=args.stop_when_stuck, presets=tuple(args.preset),
    )  # fmt: skip
    config = {k: v for k, v in vars(args).items() if k != "output"}
    out["provenance"] = provenance(seed=args.seed, config=config)
    Path(args.output).write_text(json.dumps(out, indent=1, default=str) + "\n")
    for model, result in out["models"].items():
        if "failed" in result:
            print(f"{model}: sampling failed: {result['failed']}")
        for p, path in enumerate(result.get("paths", [])):
            m = path["mean_l1"]
            print(f"{result['family']:9s} path {p}: mean L1 {m['value']:.3f} [{m['low']:.3f}, {m['high']:.3f}] over "
                  f"{path['l1_scores']} scores, AUC {path['roc_auc']}, applied/rejected/discarded "
                  f"{path['applied']}/{path['rejected']}/{path['discarded']}, {path['seconds']:.1f} s"
                  f"{' (stuck)' if path['stuck'] else ''} ({model})")  # fmt: skip
        for p, row in enumerate(result.get("tstr", [])):
            if "failed" in row:
                print(f"{result['family']:9s} path {p}: TSTR failed: {row['failed']}")
                continue
            print(
                f"{result['family']:9s} path {p}: direction accuracy TSTR {row['tstr']['accuracy']:.3f} vs TRTR "
                f"{row['trtr']['accuracy']:.3f} (ratio {row['ratio']:.3f}; prior {row['prior']['accuracy']:.3f})"
            )
    for name, rows in out["comparisons"].items():
        for p, row in enumerate(rows):
            o, t, d = row["ours"], row["theirs"], row["difference"]
            print(f"{name} path {p} ({row['shared']} shared L1 scores): {o['value']:.3f} [{o['low']:.3f}, "
                  f"{o['high']:.3f}] vs {t['value']:.3f} [{t['low']:.3f}, {t['high']:.3f}], difference "
                  f"{d['value']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]")  # fmt: skip
    return out


if __name__ == "__main__":
    main()
