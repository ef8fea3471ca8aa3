"""The model's flow beyond level 10 on the Hawkes ground truth, whose books are exact (issue 15, session 11).

``python -m scenarios.generate.deep_truth [SPEC] [--paths 2] [--duration 120] [--model DIR] [-o OUT.json]``

On the AAPL hour the tiny diffusion model adds about twice as many orders beyond level 10 as it removes there, where
the data balance (``docs/generators_depth.md``, finding 6), and the AAPL books do not know most of that depth. The
Hawkes ground truth (:mod:`scenarios.generate.ground_truth`, ``generate_hawkes_truth_tiny.toml``) is a process of
known law with exact books. This script simulates the spec's training flow with the spec's seeds, trains the
spec's model on it exactly as :func:`scenarios.generate.ground_truth.ground_truth` does (or loads ``--model``),
samples ``--paths`` paths with the ground truth's sampling seed and counts, with
:func:`scenarios.generate.depth.deep_flow`, the ADDs and removals beyond level 10 (a message's level read from the
book before it) on the training span, on fresh paths of the process and on the model's paths.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from calibration.book_presets import load_book_preset
from generators.config import preset as diffusion_preset
from generators.diffusion import DiffusionGenerator
from scenarios.generate.depth import deep_flow, path_flow
from scenarios.generate.ground_truth import load_truth_spec, simulate_path, split_at
from scenarios.generate.heldout import write_json
from simlab.provenance import provenance

SPEC = Path(__file__).resolve().parents[1] / "library" / "generate_hawkes_truth_tiny.toml"


def deep_truth(spec_path: str | Path, *, paths: int, duration: float, model_dir: str | Path | None) -> dict[str, Any]:
    """Return the flow beyond level 10 of the truth's training span, fresh truth paths and the model's paths."""
    spec = load_truth_spec(spec_path)
    law = load_book_preset(spec.process)
    seeds = np.random.SeedSequence(spec.seed).spawn(6)  # as ground_truth: 0 training flow, 1 sampling, 2 fresh
    spans = split_at(simulate_path(law, spec.train_s + spec.validation_s, seeds[0], spec.depth), spec.train_s)
    if model_dir is not None and (Path(model_dir) / "config.json").exists():
        model = DiffusionGenerator.load(model_dir)
    else:
        model = DiffusionGenerator(diffusion_preset(spec.model_preset, **spec.overrides), device="cpu")
        model.fit(spans, seed=spec.seed if spec.fit_seed is None else spec.fit_seed)
        if model_dir is not None:
            model.save(model_dir)
    samples = model.sample(paths, duration, generator=int(seeds[1].generate_state(1)[0]))
    fresh = [simulate_path(law, duration, s, spec.depth) for s in seeds[2].spawn(paths)]
    out: dict[str, Any] = {"depth": spec.depth, "duration_s": duration}
    out["train"] = deep_flow(spans["train"]["events"], spans["train"]["books"])
    out.update({f"truth path {p}": deep_flow(f["events"], f["books"]) for p, f in enumerate(fresh)})
    out.update({f"model path {p}": path_flow(s) for p, s in enumerate(samples)})
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run :func:`deep_truth`; print a line per flow and write the JSON file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", nargs="?", default=str(SPEC))
    parser.add_argument("--paths", type=int, default=2)
    parser.add_argument("--duration", type=float, default=120.0)
    parser.add_argument("--model", default=None, help="a model folder: loaded if it exists, else trained and saved")
    parser.add_argument("-o", "--output", default="deep_truth.json")
    args = parser.parse_args(argv)
    out = deep_truth(args.spec, paths=args.paths, duration=args.duration, model_dir=args.model)
    out["provenance"] = provenance(seed=0, config=vars(args))
    write_json(args.output, out)
    for name, flow in out.items():
        if isinstance(flow, dict) and "bid" in flow:
            print(f"beyond level 10, {name}: " + "; ".join(
                f"{side} ADDs {v['add_per_s']:.2f}/s ({v['add_lots_per_s']:.0f} lots/s), removals "
                f"{v['removal_per_s']:.2f}/s ({v['removal_lots_per_s']:.0f} lots/s)" for side, v in flow.items()
            ))  # fmt: skip
    return out


if __name__ == "__main__":
    main()
