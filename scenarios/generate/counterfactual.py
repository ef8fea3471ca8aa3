"""Counterfactual validity of a trained generator from the command line: does it give the regime it is asked for?

``python -m scenarios.generate.counterfactual MODEL --regime volatility=5 --regime depth=1 [--guidance 1 2]
[--paths 8] [--duration SECONDS] [--seed 77] [--start context random regime --spec SPEC [--data DIR]]
[--stop-when-stuck] [--particles K [--smc every_s=2 --smc sharpness=4 --smc final_sharpness=inf
--smc ess_threshold=0.5]] [--short-as-miss] [-o OUT.json]``
runs :func:`generators.evaluation.counterfactual_sweep`: for every ``--start`` mode, every ``--regime`` (one
condition, ``name=q`` pairs joined by commas, e.g. ``volatility=5,depth=1``) and every guidance weight,
``--paths`` paths are sampled with the condition and the same noise without it, and the regime is measured at the
start and at the end of each path (over :data:`generators.encoding.REGIME_WINDOW` book rows, in the quintiles of
the training data). ``--start random`` and ``--start regime`` start each path from a window of the training span
of ``--spec`` (the spec the model was trained from; refused when its validation span does not end at the model's
context): any window, or one whose past regime is the asked one (:mod:`generators.starts`). It prints the share of
paths in the asked quintile against the unconditioned share, and writes every number, with the drawn windows and
provenance, to the JSON file; each share comes with its count of paths and its 95 % Clopper-Pearson interval
(:func:`with_intervals`). With ``--stop-when-stuck`` a path on which no generated message applies any more
ends there and is counted (``stuck paths``) instead of failing the run; one too short to be measured at its end is
counted as ``unmeasured`` and left out of that share.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scipy.stats import beta

from generators.evaluation import REGIME_AT, counterfactual_sweep
from generators.spec import load_generator, load_spec, spec_spans
from generators.starts import START_MODES, StartWindows, check_trained_on, start_windows
from scenarios.generate.heldout import write_json
from simlab.errors import ParameterError
from simlab.io import DEFAULT_DATA_DIR
from simlab.provenance import provenance


def parse_regime(text: str) -> dict[str, int]:
    """Return ``{"volatility": 5, "depth": 1}`` from ``"volatility=5,depth=1"`` (quintiles checked by the sweep)."""
    out = {}
    for pair in text.split(","):
        name, sep, value = pair.partition("=")
        if not sep or not value.strip().lstrip("-").isdigit():
            raise ParameterError(f"--regime: expected name=quintile pairs joined by commas; got {text!r}")
        out[name.strip()] = int(value)
    return out


def run(
    model: str, regimes: list[dict[str, int]], guidances: list[float], *, n_paths: int, duration: float, seed: int,
    stop_when_stuck: bool = False, starts: tuple[str, ...] = ("context",), spec: str | None = None,
    data_dir: str | Path = DEFAULT_DATA_DIR, on_row: Callable[[dict[str, Any]], None] | None = None,
    particles: int = 1, smc: dict[str, Any] | None = None, short_as_miss: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """Load ``model`` and run the sweep for every start mode (``on_row`` sees each row as it is measured); return
    ``{"rows", "seconds", "family"}``."""
    generator = load_generator(model)
    windows = training_windows(generator, spec, data_dir) if set(starts) - {"context"} else None
    begin, rows = time.perf_counter(), []

    def seen(row: dict[str, Any]) -> None:
        with_intervals(row)
        if on_row is not None:
            on_row(row)

    for start in starts:
        rows += counterfactual_sweep(
            generator, regimes, guidances, n_paths=n_paths, duration=duration, seed=seed,
            stop_when_stuck=stop_when_stuck, start=start, windows=windows, on_row=seen, particles=particles,
            smc=smc, short_as_miss=short_as_miss,
        )  # fmt: skip
    return {"family": generator.FAMILY, "rows": rows, "seconds": time.perf_counter() - begin}


def parse_smc(pairs: list[str], flag: str) -> dict[str, Any] | None:
    """Return the SMC options ``{key: number}`` of ``key=value`` pairs (checked by the sampler); None when empty."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = None
        if not sep or number is None:
            raise ParameterError(f"{flag} must look like key=number, e.g. every_s=2; got {pair!r}")
        out[key.strip()] = int(number) if key.strip() == "window" and number.is_integer() else number
    return out or None


def clopper_pearson(hits: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Return the exact (Clopper-Pearson) interval of a share of ``hits`` among ``n`` paths (NaNs when n is 0)."""
    if n == 0:
        return float("nan"), float("nan")
    tail = (1.0 - confidence) / 2.0
    low = float(beta.ppf(tail, hits, n - hits + 1)) if hits > 0 else 0.0
    high = float(beta.ppf(1.0 - tail, hits + 1, n - hits)) if hits < n else 1.0
    return low, high


def with_intervals(row: dict[str, Any]) -> dict[str, Any]:
    """Add to a sweep row, for every share, the paths it counts over (``... paths in {name} quintile {q}``: hits
    and measured paths) and its 95 % interval (``... interval in {name} quintile {q}``); return the row."""
    for at in REGIME_AT:
        for label in ("conditioned", "unconditioned"):
            n = row["n_paths"] - row[f"{at}: {label} unmeasured stuck paths"]
            for name, quintile in row["regime"].items():
                key = f"{name} quintile {quintile}"
                share = row[f"{at}: {label} share in {key}"]
                hits = 0 if n == 0 else round(share * n)
                row[f"{at}: {label} paths in {key}"] = [hits, n]
                row[f"{at}: {label} interval in {key}"] = list(clopper_pearson(hits, n))
    return row


def training_windows(generator: Any, spec: str | Path | None, data_dir: str | Path = DEFAULT_DATA_DIR) -> StartWindows:
    """Return the start windows of the training span of ``spec``, refused unless the model was trained on it."""
    if spec is None:
        raise ParameterError("paths started from training windows need --spec, the spec the model was trained from")
    spans = spec_spans(load_spec(spec), data_dir)
    check_trained_on(generator, _pair(spans["train"]), _pair(spans["validation"]), source=f"spec {spec}")
    return start_windows(*_pair(spans["train"]), generator.encoding_, source=f"spec {spec} train span")


def _pair(span: dict) -> tuple:
    return span["events"], span["books"]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the sweep from the command line; print one line per condition, weight and place; write the JSON file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--regime", action="append", required=True, help="name=q[,name=q] (repeatable)")
    parser.add_argument("--guidance", type=float, nargs="+", default=[1.0])
    parser.add_argument("--paths", type=int, default=8)
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per path")
    parser.add_argument("--seed", type=int, default=77)
    parser.add_argument("--stop-when-stuck", action="store_true", help="end a stuck path instead of failing")
    parser.add_argument("--start", nargs="+", choices=START_MODES, default=["context"], help="where paths start")
    parser.add_argument("--spec", help="the model's training spec (its train span holds the start windows)")
    parser.add_argument("--data", default=str(DEFAULT_DATA_DIR), help="real-data folder")
    parser.add_argument("--particles", type=int, default=1, help="particles per conditioned path (SMC; 1: plain)")
    parser.add_argument("--smc", action="append", default=[], help="an SMC option key=value (every_s, window, "
                        "sharpness, final_sharpness (inf: nearest particle), ess_threshold; repeatable)")  # fmt: skip
    parser.add_argument("--short-as-miss", action="store_true",
                        help="count a path too short to measure at its end as outside the regime")  # fmt: skip
    parser.add_argument("-o", "--output", default="counterfactual.json")
    args = parser.parse_args(argv)
    regimes = [parse_regime(text) for text in args.regime]
    out = run(args.model, regimes, args.guidance, n_paths=args.paths, duration=args.duration, seed=args.seed,
              stop_when_stuck=args.stop_when_stuck, starts=tuple(args.start), spec=args.spec,
              data_dir=args.data, on_row=_print_rows, particles=args.particles,
              smc=parse_smc(args.smc, "--smc"), short_as_miss=args.short_as_miss)  # fmt: skip
    config = {k: v for k, v in vars(args).items() if k != "output"}
    out["provenance"] = provenance(seed=args.seed, config=config)
    write_json(args.output, out)
    print(f"{out['family']}: {out['seconds']:.0f} s for the sweep")
    return out


def _print_rows(row: dict[str, Any]) -> None:
    for at in REGIME_AT:
        _print_row(row, at)


def _print_row(row: dict[str, Any], at: str) -> None:
    parts, labels = [], ("conditioned", "unconditioned")
    for name, quintile in row["regime"].items():
        ours, free = (_count(row, f"{at}: {label}", f"{name} quintile {quintile}") for label in labels)
        medians = [row[f"{at}: {label} median {name}"] for label in labels]
        parts.append(f"{name} = {quintile}: {ours} (unconditioned {free}), median {_f(medians[0])} "
                     f"({_f(medians[1])})")  # fmt: skip
    stuck = [row[f"{at}: {label} stuck paths"] for label in ("conditioned", "unconditioned")]
    unmeasured = [row[f"{at}: {label} unmeasured stuck paths"] for label in ("conditioned", "unconditioned")]
    short = [row.get(f"{at}: {label} short paths", 0) for label in ("conditioned", "unconditioned")]
    head = f"start {row['start']['mode']}, guidance {row['guidance']:g}, particles {row.get('particles', 1)}, {at}"
    cpu = [row.get(f"{label} cpu_s", float("nan")) for label in ("conditioned", "unconditioned")]
    print(f"{head}: {'; '.join(parts)}; stuck paths {stuck[0]} ({stuck[1]}), "
          f"unmeasured {unmeasured[0]} ({unmeasured[1]}), short (misses) {short[0]} ({short[1]}) of "
          f"{row['n_paths']}; CPU s {cpu[0]:.0f} ({cpu[1]:.0f})", flush=True)  # fmt: skip


def _count(row: dict[str, Any], head: str, key: str) -> str:
    (hits, n), (low, high) = row[f"{head} paths in {key}"], row[f"{head} interval in {key}"]
    return f"{hits}/{n} [{_f(low)}, {_f(high)}]"


def _f(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value:.3g}"


if __name__ == "__main__":
    main()
