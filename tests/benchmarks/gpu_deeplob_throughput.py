"""Benchmark: training throughput of the DeepLOB-style model on the AAPL books, on the GPU against the CPU.

Run by hand (not in CI): ``PYTHONPATH=. python tests/benchmarks/gpu_deeplob_throughput.py [--preset full]
[--steps 300] [--cpu-steps 20] [--batch 256]``. It replays the AAPL level-50 hour of ``../shared/data`` to 10
levels, builds the DeepLOB inputs of the ``direction`` task (50 events ahead, threshold 0.5 tick) for the first
``--origins`` usable origins, normalised on those rows only, and trains the network of ``--preset`` with Adam on
cross-entropy for ``--steps`` mini-batches of ``--batch`` windows on CUDA (when ``torch.cuda.is_available()``) and
for ``--cpu-steps`` mini-batches on the CPU (``--threads`` torch threads, default every core), after
``--warmup`` untimed steps on each. It prints the training throughput (windows per second; wall time, CUDA
synchronised) of each device and the ratio GPU / CPU. Without CUDA it runs the CPU part, says that no GPU is
present and prints no ratio. The peer is the CPU run of the same script, so no figure is typed in.

Both runs start from the same weights (drawn from one ``torch.Generator``) and the same batches. Throughput is the
only output: the few hundred steps train nothing worth scoring (``simlab forecast run deep_lob`` does that).
"""

from __future__ import annotations

import argparse
import copy
import os
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from scenarios.forecast.books import lobster_series
from scenarios.forecast.deep import PRESETS, DeepLOB, DeepLOBNet, initialise
from scenarios.forecast.task_data import TaskData
from scenarios.forecast.task_protocol import origins
from scenarios.forecast.tasks import Task
from simlab.io import DEFAULT_DATA_DIR

AAPL = "lobster_samples/AAPL_2012-06-21_level50_0930-1030_messages/AAPL_2012-06-21_34200000_37800000_message_50.csv"


def inputs(preset: str, n_origins: int, data_dir: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the DeepLOB windows (n, window, 40) and class targets (n,) of the first ``n_origins`` AAPL origins."""
    book = lobster_series("AAPL", [data_dir / AAPL], levels=10)
    settings = PRESETS[preset]
    data = TaskData(book, Task("direction", horizon_events=50, threshold_ticks=0.5), window=settings.window)
    usable = origins(data, 10, 1)[:n_origins]
    data.fit_limit = int(usable[-1]) + 1  # the normaliser reads the benchmark's own rows only
    model = DeepLOB(settings, levels=10)
    model.fit_scale(data, usable)
    x = torch.as_tensor(model._inputs(data, usable), dtype=torch.float32)
    y = torch.as_tensor(np.searchsorted(data.task.classes, data.y[usable]), dtype=torch.long)
    return x, y


def throughput(net: nn.Module, x, y, device, steps: int, warmup: int, batch: int, seed: int) -> float:
    """Train ``net`` on ``device`` for ``warmup`` untimed and ``steps`` timed mini-batches; return windows / s."""
    net = net.to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=2e-3)
    generator = torch.Generator().manual_seed(seed)
    order = torch.randint(0, x.shape[0], ((warmup + steps) * batch,), generator=generator)
    x, y = x.to(device), y.to(device)
    started = 0.0
    for step in range(warmup + steps):
        if step == warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            started = time.perf_counter()
        rows = order[step * batch : (step + 1) * batch].to(device)
        optimizer.zero_grad()
        nn.functional.cross_entropy(net(x[rows]), y[rows]).backward()
        optimizer.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps * batch / (time.perf_counter() - started)


def main() -> None:
    """Parse the options, run the CPU part and, when CUDA is present, the GPU part; print the throughputs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="full")
    parser.add_argument("--steps", type=int, default=300, help="timed GPU steps")
    parser.add_argument("--cpu-steps", type=int, default=20, help="timed CPU steps")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--origins", type=int, default=20_000)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR))
    args = parser.parse_args()
    settings = PRESETS[args.preset]
    x, y = inputs(args.preset, args.origins, Path(args.data_dir))
    net = DeepLOBNet(10, settings.channels, settings.hidden, 3)
    initialise(net, torch.Generator().manual_seed(args.seed))
    print(f"DeepLOB preset {args.preset!r}: window {settings.window}, {settings.channels} channels, LSTM "
          f"{settings.hidden}; {x.shape[0]} AAPL windows, batch {args.batch}")  # fmt: skip
    torch.set_num_threads(args.threads)
    cpu = throughput(copy.deepcopy(net), x, y, torch.device("cpu"), args.cpu_steps, args.warmup, args.batch, args.seed)
    print(f"CPU ({args.threads} threads, {args.cpu_steps} steps): {cpu:,.0f} windows/s")
    if not torch.cuda.is_available():
        print("no GPU: torch.cuda.is_available() is False, so only the CPU part ran (no ratio)")
        return
    gpu = throughput(copy.deepcopy(net), x, y, torch.device("cuda"), args.steps, args.warmup, args.batch, args.seed)
    name = torch.cuda.get_device_name(0)
    print(f"GPU ({name}, {args.steps} steps): {gpu:,.0f} windows/s")
    print(f"ratio GPU / CPU: {gpu / cpu:.1f}x")


if __name__ == "__main__":
    main()
