"""Benchmark and reference check: ``simlab score --convention lobbench`` beside LOB-Bench's own code.

Run by hand (not in CI)::

    git clone https://github.com/peernagy/lob_bench /tmp/lob_bench && git -C /tmp/lob_bench checkout 276baf3
    python -m venv --system-site-packages /tmp/lbvenv
    /tmp/lbvenv/bin/pip install numpy==2.2.4 pandas==2.2.3 scipy==1.15.2 statsmodels==0.14.4 tqdm seaborn plotly
    LOB_BENCH_DIR=/tmp/lob_bench LOB_BENCH_PYTHON=/tmp/lbvenv/bin/python \\
        python tests/benchmarks/bench_lobbench.py [PAIR ...] [--minutes M] [--write-fixture]

For each pair (``qr``, ``zi``: see ``tests/simlab/metrics/lobbench_pairs.py``) the real AMZN slice and the seeded
simulation are written in the reference's folder layout; the reference (``scoring.run_benchmark`` with its default
unconditional then conditional configs, as ``run_bench.py`` runs them; ``scoring.summary_stats``;
``impact.impact_compare``) runs in a subprocess under ``LOB_BENCH_PYTHON``, then
:func:`simlab.metrics.lobbench_convention.score_lobbench` on the same rows. The script prints the largest absolute
difference over every number and the ratio of the two wall times. The reference is unmodified except that its
``ask_volume`` / ``bid_volume`` sum ``min(10, levels)`` levels (its ``total_volume(m, b, 10)`` asserts on the
level-1 books). ``--write-fixture`` writes the reference's numbers to ``tests/simlab/metrics/data/lobbench_<pair>.json``
(the expected values of ``tests/simlab/metrics/test_lobbench_convention.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.simlab.metrics.lobbench_pairs import MINUTES, PAIRS, generated_table, real_table, write_layout

FIXTURES = Path(__file__).resolve().parents[1] / "simlab" / "metrics" / "data"
DATA = Path(__file__).resolve().parents[3] / "shared" / "data"

DRIVER = r"""
import json, sys, time
import numpy as np
sys.path.insert(0, ".")
import data_loading, eval as ev, impact, run_bench, scoring

root, out = sys.argv[1], sys.argv[2]
levels = lambda b: min(10, b.shape[1] // 4)
config = dict(run_bench.DEFAULT_SCORING_CONFIG)
config["ask_volume"] = {"fn": lambda m, b: ev.total_volume(m, b, levels(b)).iloc[:, 0].values}
config["bid_volume"] = {"fn": lambda m, b: ev.total_volume(m, b, levels(b)).iloc[:, 1].values}

def num(x):
    x = float(x)
    return x if np.isfinite(x) else None

def table(scores):
    return {name: {metric: {"value": num(v[0]), "ci": [num(c) for c in v[1]], "replicates": [num(r) for r in v[2]]}
                   for metric, v in by_metric.items()} for name, by_metric in scores.items()}

def summary(scores):
    s = scoring.summary_stats(scores)
    return {metric: dict(zip(("mean", "median", "iqm"), ([num(v), num(ci[0]), num(ci[1])] for v, ci in parts)))
            for metric, parts in s.items()}

loader = data_loading.Simple_Loader(root + "/data_real", root + "/data_gen", root + "/data_cond")
for s in loader:
    s.materialize()
t0 = time.time()
uncond = scoring.run_benchmark(loader, config, run_bench.DEFAULT_METRICS)[0]
cond = scoring.run_benchmark(loader, run_bench.DEFAULT_SCORING_CONFIG_COND, run_bench.DEFAULT_METRICS)[0]
t1 = time.time()
sums = {"unconditional": summary(uncond), "conditional": summary(cond)}
t2 = time.time()
res = impact.impact_compare(loader, ticker="AMZN", model="pair", save_dir=root)
t3 = time.time()
x, ys_real, ys_gen, _, _, abs_diffs = res["Saved_Tuple"]
document = {
    "unconditional": table(uncond), "conditional": table(cond), "summary": sums,
    "impact": {"lags": [int(v) for v in x], "events": ["MO_0", "MO_1", "LO_0", "LO_1", "CA_0", "CA_1"],
               "real": [[num(v) for v in y] for y in ys_real], "generated": [[num(v) for v in y] for y in ys_gen],
               "abs_diffs": [num(v) for v in abs_diffs], "score": num(res["Mean_Diffs"])},
    "seconds": {"scores": t1 - t0, "summary": t2 - t1, "impact": t3 - t2},
}
with open(out, "w") as f:
    json.dump(document, f)
"""


def run_reference(root: Path) -> tuple[dict, float]:
    """Run the reference on the layout under ``root``; return its numbers and wall time (s)."""
    source = os.environ.get("LOB_BENCH_DIR")
    if not source or not (Path(source) / "scoring.py").exists():
        raise SystemExit("set LOB_BENCH_DIR to a checkout of peernagy/lob_bench at 276baf3 (see the docstring)")
    python = os.environ.get("LOB_BENCH_PYTHON", sys.executable)
    out = root / "reference.json"
    start = time.perf_counter()
    subprocess.run([python, "-c", DRIVER, str(root), str(out)], cwd=source, check=True, stdout=subprocess.DEVNULL)
    return json.loads(out.read_text()), time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    """Run the reference and simlab on each pair; print the agreement and the time ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pairs", nargs="*", default=list(PAIRS))
    parser.add_argument("--minutes", type=int, default=MINUTES)
    parser.add_argument("--write-fixture", action="store_true")
    parser.add_argument("--reference-only", action="store_true")
    args = parser.parse_args(argv)
    for pair in args.pairs:
        real, generated = real_table(DATA, args.minutes), generated_table(pair, args.minutes)
        length = PAIRS[pair][2]
        with tempfile.TemporaryDirectory() as tmp:
            n = write_layout(real, generated, Path(tmp), length)
            reference, t_ref = run_reference(Path(tmp))
        print(f"{pair}: {n} sequences, reference {t_ref:.1f} s ({reference['seconds']})")
        if args.write_fixture:
            reference.pop("seconds")
            document = {"pair": pair, "minutes": args.minutes, "sequence_length": length, **reference}
            path = FIXTURES / f"lobbench_{pair}.json"
            path.write_text(json.dumps(document, indent=0) + "\n")
            print(f"wrote {path}")
        if args.reference_only:
            continue
        from simlab.metrics.lobbench_convention import compare_numbers, score_lobbench, sequences

        start = time.perf_counter()
        ours = score_lobbench(sequences(real, length), sequences(generated, length))
        t_ours = time.perf_counter() - start
        parts = ("unconditional", "conditional", "summary", "impact")
        worst = compare_numbers({k: ours[k] for k in parts}, {k: reference[k] for k in parts})
        print(f"{pair}: largest difference {worst[0]:.3g} at {worst[1]}")
        print(f"{pair}: reference {t_ref:.1f} s, simlab {t_ours:.2f} s, ratio {t_ref / t_ours:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
