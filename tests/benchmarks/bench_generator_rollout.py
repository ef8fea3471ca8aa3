"""Benchmark: the generators' rollout on the numba kernels against its Python twin, for the tiny diffusion and GAN.

Run by hand (not in CI): ``PYTHONPATH=. python tests/benchmarks/bench_generator_rollout.py [--paths 8 32]
[--duration 10] [--repeats 2] [--steps 60] [--family diffusion gan]``. It trains the ``tiny`` preset of each
family for ``--steps`` steps on a seeded zero-intelligence flow (the throughput depends on the networks' size and
the rollout, not on the model's quality), then samples ``--paths`` paths of ``--duration`` seconds with the same
seed twice: through the Python twin (:func:`generators.rollout.rollout`, the rollout before the kernels) and
through the kernels (:func:`generators.rollout_fast.rollout_fast`), checks that both give the same bytes, and
prints, per family and batch size, CPU seconds (``time.process_time``: the machine is shared, so wall time would
measure the neighbours) split into the network (the generated block: denoising chains or GAN passes, and the
decoding to integers) and the rest (the rollout: engine, feature windows, records, Datasets; for the kernels split
into the kernel calls, the network inputs and the rest), messages per CPU second end to end and for the rollout
alone, and the ratios kernel / twin. The peer is the twin in the same script, so no figure is typed in. Best of
``--repeats`` runs each, after an untimed warm-up (numba compilation, torch).
"""

from __future__ import annotations

import argparse
import time

from generators.config import gan_preset, preset
from generators.data import split_by_time
from generators.diffusion import DiffusionGenerator
from generators.gan import GANGenerator
from generators.rollout_fast import PathBatch
from simlab.book.zero_intelligence import ZIParams, simulate_zi

APPLY, FEATURES = PathBatch.apply, PathBatch.features
ZI = ZIParams(limit_rate=0.2, market_rate=0.5, cancel_rate=0.05, band_ticks=20, size_law="geometric", order_size=3.0)


def models(steps: int, families: list[str]) -> dict[str, DiffusionGenerator | GANGenerator]:
    """Return the tiny ``families`` models trained ``steps`` steps on a seeded zero-intelligence flow."""
    flow = simulate_zi(ZI, 600.0, rng=1, depth=10)
    skip = int(flow["events"].attrs["initial_orders"]) - 1
    spans = split_by_time(flow["events"].isel(event=slice(skip, None)), flow["books"].isel(time=slice(skip, None)))
    every = max(steps // 2, 1)
    diffusion = preset("tiny", max_steps=steps, eval_every=every, validation_blocks=256)
    gan = gan_preset("tiny", max_steps=steps, eval_every=every, validation_blocks=256)
    made = {
        "diffusion": lambda: DiffusionGenerator(diffusion, device="cpu"),
        "gan": lambda: GANGenerator(gan, device="cpu"),
    }
    return {family: made[family]().fit(spans, seed=1) for family in families}


def _counted(function, seconds: list[float]):
    def counted(*args, **kwargs):
        start = time.process_time()
        out = function(*args, **kwargs)
        seconds[0] += time.process_time() - start
        return out

    return counted


def timed_sample(model, n_paths: int, duration: float, seed: int, twin: bool) -> tuple[list, dict[str, float]]:
    """Sample once; return the paths, the messages applied and the CPU seconds: in total, in the network, and (the
    kernels only) in the kernel calls (``PathBatch.apply``) and the network inputs (``PathBatch.features``)."""
    seconds = {name: [0.0] for name in ("network", "apply", "features")}
    model._blocks = _counted(model._blocks, seconds["network"])
    PathBatch.apply = _counted(APPLY, seconds["apply"])
    PathBatch.features = _counted(FEATURES, seconds["features"])
    try:
        start = time.process_time()
        paths = model.sample(n_paths, duration, generator=seed, stop_when_stuck=True, twin=twin)
        total = time.process_time() - start
    finally:
        del model._blocks
        PathBatch.apply, PathBatch.features = APPLY, FEATURES
    applied = sum(int(path["events"].attrs["applied"]) for path in paths)
    return paths, {"total": total, "messages": applied, **{name: value[0] for name, value in seconds.items()}}


def best(model, n_paths: int, duration: float, repeats: int, twin: bool) -> tuple[list, dict[str, float]]:
    """Return the paths and the timing of the run with the least CPU time among ``repeats`` (the same seed)."""
    runs = [timed_sample(model, n_paths, duration, 0, twin) for _ in range(repeats)]
    return runs[0][0], min((run[1] for run in runs), key=lambda t: t["total"])


def report(family: str, n_paths: int, twin: dict[str, float], fast: dict[str, float]) -> None:
    """Print one family's and batch size's line of numbers and ratios."""
    lines = []
    for name, t in (("twin  ", twin), ("kernel", fast)):
        rollout = t["total"] - t["network"]
        lines.append(
            f"  {name}: {t['messages']} messages, CPU {t['total']:.2f} s (network {t['network']:.2f} s, rollout "
            f"{rollout:.2f} s); {t['messages'] / t['total']:,.0f} messages/CPU-s end to end, "
            f"{t['messages'] / max(rollout, 1e-9):,.0f} for the rollout alone"
        )
    end_to_end = twin["total"] / fast["total"]
    rollout = (twin["total"] - twin["network"]) / max(fast["total"] - fast["network"], 1e-9)
    share = (fast["total"] - fast["network"]) / fast["total"]
    rest = fast["total"] - fast["network"] - fast["apply"] - fast["features"]
    print(f"{family}, {n_paths} paths:")
    print("\n".join(lines))
    print(
        f"  kernel run's rollout: {fast['apply']:.2f} s in the kernel calls, {fast['features']:.2f} s reading the "
        f"network inputs, {rest:.2f} s the rest (start, records, Datasets)"
    )
    print(f"  ratio kernel / twin: {end_to_end:.2f} x end to end, {rollout:.2f} x the rollout alone; the rollout is "
          f"{share:.0%} of the kernel run's CPU time")  # fmt: skip


def main() -> int:
    """Train both tiny models, then time the twin and the kernels per family and batch size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--family", nargs="+", default=["diffusion", "gan"], choices=["diffusion", "gan"])
    args = parser.parse_args()
    for family, model in models(args.steps, args.family).items():
        for twin in (True, False):  # warm-up: numba compilation (or its cache), torch
            model.sample(2, 1.0, generator=0, stop_when_stuck=True, twin=twin)
        for n_paths in args.paths:
            old, twin = best(model, n_paths, args.duration, args.repeats, twin=True)
            new, fast = best(model, n_paths, args.duration, args.repeats, twin=False)
            same = all(a[k].equals(b[k]) for a, b in zip(old, new, strict=True) for k in ("events", "books"))
            if not same:
                raise SystemExit(f"{family}, {n_paths} paths: the kernels and the twin gave different paths")
            report(family, n_paths, twin, fast)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
