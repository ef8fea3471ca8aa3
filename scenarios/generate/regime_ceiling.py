"""How often the real flow stayed in a regime after a state in it: the ceiling a start in the regime can give.

``python -m scenarios.generate.regime_ceiling MODEL SPEC --regime volatility=5 --regime depth=1 --duration 15
[--blocks 20] [--replicates 400] [--seed 5] [-o OUT.json]`` reads the training span of ``SPEC`` (refused unless
``MODEL`` was trained on it), and for every ``--regime`` prints :func:`generators.starts.real_shares` over the rows
whose past regime is the asked one and over every candidate row, with 95 % intervals from a bootstrap over
``--blocks`` contiguous blocks of the span (neighbouring rows overlap, so rows are not independent draws).
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from generators.spec import load_generator
from generators.starts import StartWindows, matching, real_shares
from scenarios.generate.counterfactual import parse_regime, training_windows
from scenarios.generate.heldout import write_json
from simlab.errors import ParameterError
from simlab.provenance import provenance


def block_bootstrap(
    windows: StartWindows, regime: dict[str, int], rows: np.ndarray, duration: float, *, blocks: int,
    replicates: int, seed: int,
) -> dict[str, dict[str, list[float]]]:  # fmt: skip
    """Return ``{name: {"start": [share, low, high], "end": [...], "rows": [n_start, n_end]}}`` for the asked names.

    The shares are :func:`generators.starts.real_shares` of ``rows``; the 95 % interval resamples ``blocks``
    contiguous blocks of the span with replacement (``replicates`` times, seeded), pooling their rows.
    """
    if blocks < 2 or replicates < 10:
        raise ParameterError(f"block_bootstrap needs blocks >= 2 and replicates >= 10; got {blocks} and {replicates}")
    n = windows.span[0].sizes["event"]
    cuts = np.linspace(0, n, blocks + 1).astype(np.int64)
    spans = zip(cuts[:-1], cuts[1:], strict=True)
    per = [real_shares(windows, regime, duration, rows[(rows >= a) & (rows < b)]) for a, b in spans]
    whole, rng = real_shares(windows, regime, duration, rows), np.random.default_rng(seed)
    picks = rng.integers(0, blocks, (replicates, blocks))
    out: dict[str, Any] = {}
    for name, shares in whole.items():
        out[name] = {"rows": [shares["n_start"], shares["n_end"]]}
        for at in ("start", "end"):
            hits = np.array([0.0 if p[name][f"n_{at}"] == 0 else p[name][at] * p[name][f"n_{at}"] for p in per])
            counts = np.array([p[name][f"n_{at}"] for p in per], np.float64)
            draws = hits[picks].sum(axis=1) / np.maximum(counts[picks].sum(axis=1), 1.0)
            low, high = np.percentile(draws, [2.5, 97.5])
            out[name][at] = [float(shares[at]), float(low), float(high)]
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Print the ceiling of every asked regime (past in the regime, and any row) and write the JSON file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("spec")
    parser.add_argument("--regime", action="append", required=True, help="name=q[,name=q] (repeatable)")
    parser.add_argument("--duration", type=float, required=True, help="seconds from the start to the end window")
    parser.add_argument("--blocks", type=int, default=20)
    parser.add_argument("--replicates", type=int, default=400)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("-o", "--output", default="regime_ceiling.json")
    args = parser.parse_args(argv)
    windows = training_windows(load_generator(args.model), args.spec)
    out: dict[str, Any] = {"rows": []}
    for regime in (parse_regime(text) for text in args.regime):
        for label, rows in (("past in the regime", matching(windows, regime)), ("any row", windows.ends)):
            shares = block_bootstrap(windows, regime, rows, args.duration, blocks=args.blocks,
                                     replicates=args.replicates, seed=args.seed)  # fmt: skip
            out["rows"].append({"regime": regime, "starts": label, "shares": shares})
            for name, row in shares.items():
                start, end = ("{:.2f} [{:.2f}, {:.2f}]".format(*row[at]) for at in ("start", "end"))
                print(f"{name} = {regime[name]}, starts {label}: start {start}, end {end}, rows {row['rows']}")
    out["provenance"] = provenance(seed=args.seed, config={k: v for k, v in vars(args).items() if k != "output"})
    write_json(args.output, out)
    return out


if __name__ == "__main__":
    main()
