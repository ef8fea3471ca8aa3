"""Benchmark: sampling throughput of the ``paper`` generators on CUDA (generated messages applied per second).

Run by hand when an accelerator is lent (not in CI): ``PYTHONPATH=. python tests/benchmarks/gpu_generator_sampling.py
[--family diffusion gan] [--steps 300] [--paths 256 1024 4096] [--duration 5] [--twin-paths 64]
[--sampling-steps 50 10] [--bf16]``. It trains the ``paper`` preset of each family for ``--steps`` steps on a
seeded zero-intelligence flow (the issue's "a few hundred steps": throughput depends on the networks' size and the
rollout, not on the model's quality), on CUDA when ``torch.cuda.is_available()``, else on the CPU with the ``tiny``
preset (it says so; the numbers are then not the GPU goal's). Then it samples ``--paths`` paths of ``--duration``
seconds and prints, per batch size, the messages applied, the wall seconds (CUDA synchronised) split into the
network (the generated blocks: denoising chains or GAN passes, and their decoding) and the rest (the rollout on the
numba kernels: engine, feature windows, records, Datasets), messages per second end to end and for the rollout
alone, against the issue's goal of 1e5 messages/s. The diffusion model is timed at each of ``--sampling-steps``
DDIM steps (50, the default it samples with; 10, TRADES' count), and with ``--bf16`` also under bf16 autocast on the
largest batch (CUDA only). The peer, in the same script, is the Python twin of the rollout (``sample(...,
twin=True)``) on ``--twin-paths`` paths: its ratio says what the kernels gained, and both must give the same bytes.
A 15-minute device budget fits the defaults (about 2-4 min of training and compilation per family, seconds per
sampling run).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import time

import torch

from generators.config import gan_preset, preset
from generators.data import split_by_time
from generators.diffusion import DiffusionGenerator
from generators.gan import GANGenerator
from generators.rollout_fast import PathBatch
from simlab.book.zero_intelligence import ZIParams, simulate_zi

ZI = ZIParams(limit_rate=0.2, market_rate=0.5, cancel_rate=0.05, band_ticks=20, size_law="geometric", order_size=3.0)
APPLY, FEATURES = PathBatch.apply, PathBatch.features
GOAL = 1e5  # messages per second (issue 15)


def spans() -> dict:
    """Return a seeded zero-intelligence hour split in train / validation / test (enough for the paper history)."""
    flow = simulate_zi(ZI, 3600.0, rng=1, depth=10)
    skip = int(flow["events"].attrs["initial_orders"]) - 1
    return split_by_time(flow["events"].isel(event=slice(skip, None)), flow["books"].isel(time=slice(skip, None)))


def train(family: str, data: dict, steps: int, device: str) -> DiffusionGenerator | GANGenerator:
    """Train the family's ``paper`` preset (``tiny`` on CPU) for ``steps`` steps; print the seconds it took."""
    name = "paper" if device == "cuda" else "tiny"
    every = max(steps // 2, 1)
    make = preset if family == "diffusion" else gan_preset
    config = make(name, max_steps=steps, eval_every=every, validation_blocks=1024)
    cls = DiffusionGenerator if family == "diffusion" else GANGenerator
    start = time.perf_counter()
    model = cls(config, device=device).fit(data, seed=1)
    print(f"{family}: trained the {name} preset {steps} steps on {device} in {time.perf_counter() - start:.1f} s")
    return model


def _counted(function, seconds: list[float], sync):
    def counted(*args, **kwargs):
        sync()
        start = time.perf_counter()
        out = function(*args, **kwargs)
        sync()
        seconds[0] += time.perf_counter() - start
        return out

    return counted


def timed(model, n_paths: int, duration: float, twin: bool = False, bf16: bool = False) -> tuple[list, dict]:
    """Sample once (seed 0); return the paths, the messages applied and the wall seconds: in total, in the network,
    and (the kernels only) in the kernel calls and in reading the network inputs."""
    sync = torch.cuda.synchronize if model.device.type == "cuda" else (lambda: None)
    seconds = {name: [0.0] for name in ("network", "apply", "features")}
    model._blocks = _counted(model._blocks, seconds["network"], sync)
    PathBatch.apply = _counted(APPLY, seconds["apply"], lambda: None)
    PathBatch.features = _counted(FEATURES, seconds["features"], lambda: None)
    cast = torch.autocast("cuda", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
    try:
        start = time.perf_counter()
        with cast:
            paths = model.sample(n_paths, duration, generator=0, stop_when_stuck=True, twin=twin)
        total = time.perf_counter() - start
    finally:
        del model._blocks
        PathBatch.apply, PathBatch.features = APPLY, FEATURES
    applied = sum(int(path["events"].attrs["applied"]) for path in paths)
    return paths, {"total": total, "messages": applied, **{name: value[0] for name, value in seconds.items()}}


def line(label: str, t: dict[str, float]) -> str:
    """Word one run's numbers."""
    rollout = t["total"] - t["network"]
    rate = t["messages"] / t["total"]
    text = (
        f"  {label}: {t['messages']} messages in {t['total']:.2f} s (network {t['network']:.2f} s, rollout "
        f"{rollout:.2f} s): {rate:,.0f} messages/s end to end ({rate / GOAL:.2f} x the 1e5 goal), "
        f"{t['messages'] / max(rollout, 1e-9):,.0f} messages/s for the rollout alone"
    )
    if t["apply"] > 0:
        rest = rollout - t["apply"] - t["features"]
        text += (f"\n    rollout: {t['apply']:.2f} s kernel calls, {t['features']:.2f} s network inputs, {rest:.2f} s "
                 f"the rest (start, records, Datasets)")  # fmt: skip
    return text


def main() -> int:
    """Train, then time the kernels' sampling per batch size and the twin on the smallest."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", nargs="+", default=["diffusion", "gan"], choices=["diffusion", "gan"])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--paths", type=int, nargs="+", default=[256, 1024, 4096])
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--twin-paths", type=int, default=64)
    parser.add_argument("--sampling-steps", type=int, nargs="+", default=[50, 10])
    parser.add_argument("--bf16", action="store_true", help="also time the largest batch under bf16 autocast (CUDA)")
    args = parser.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        print("no CUDA device: the CPU run of the tiny preset below is not the GPU goal's measurement")
    else:
        print(f"device: {torch.cuda.get_device_name(0)}")
    data = spans()
    for family in args.family:
        model = train(family, data, args.steps, device)
        model.sample(2, 1.0, generator=0, stop_when_stuck=True)  # warm-up: numba, CUDA kernels
        trained = model.config
        for steps in args.sampling_steps if family == "diffusion" else [None]:
            if steps is not None:
                model.config = dataclasses.replace(trained, sampling_steps=steps)
            label = f" ({steps} DDIM steps)" if steps is not None else ""
            for n_paths in args.paths:
                print(f"{family}{label}, {n_paths} paths of {args.duration:g} s:", flush=True)
                print(line("kernels", timed(model, n_paths, args.duration)[1]), flush=True)
            if args.bf16 and device == "cuda":
                print(f"{family}{label}, {args.paths[-1]} paths of {args.duration:g} s, bf16 autocast:", flush=True)
                print(line("kernels", timed(model, args.paths[-1], args.duration, bf16=True)[1]), flush=True)
        model.config = trained
        old, twin = timed(model, args.twin_paths, args.duration, twin=True)
        new, fast = timed(model, args.twin_paths, args.duration)
        same = all(a[k].equals(b[k]) for a, b in zip(old, new, strict=True) for k in ("events", "books"))
        print(f"{family}, {args.twin_paths} paths, the peer (same bytes: {same}):")
        print(line("twin   ", twin))
        print(line("kernels", fast))
        rollout = (twin["total"] - twin["network"]) / max(fast["total"] - fast["network"], 1e-9)
        print(f"  ratio kernels / twin: {twin['total'] / fast['total']:.2f} x end to end, {rollout:.2f} x the rollout")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
