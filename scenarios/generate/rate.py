"""The flow rate of a diffusion model, measured one step at a time on true histories (issue 15).

A generated path's rate is set by its inter-arrival times, and the rollout feeds them back: the history the model
reads next is made of its own messages. Two numbers describe that loop (``docs/generators_rate.md``):

* the **one-step ratio** ``b``: on true histories and books of a span (teacher forcing), the mean inter-arrival time
  of one generated block over the mean of the true next block;
* the **gain** ``g``: the slope of ``log`` (mean generated inter-arrival time) against ``log`` of a factor that
  scales every inter-arrival time of the history (an intervention on the history's rate, the books unchanged).

If the model answers a history ``c`` times slower with times ``c^g`` times longer, a rollout settles where its own
history's time scale ``x`` (relative to the true one) satisfies ``x = b x^g``: ``x = b^(1 / (1 - g))``
(:func:`closed_loop_scale`). With ``g`` near 0.55 the loop roughly squares a one-step bias: ``b`` = 0.3 becomes a
path 15 times too fast.

``python -m scenarios.generate.rate MODEL SPEC`` measures both on the validation span of a ground-truth spec's
process path (:mod:`scenarios.generate.ground_truth`) and prints them.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np
import torch
import xarray as xr

from generators import encoding as enc
from simlab.errors import DataError, ParameterError

SCALES = (0.1, 1.0, 10.0)
LONG_GAP_S = 0.09  # the gaps above it are the process's top 10 %, which hold most of its time


def one_step_times(
    model: Any, events: xr.Dataset, books: xr.Dataset, *, contexts: int = 1024, scale: float = 1.0, seed: int = 0
) -> dict[str, float]:
    """Return the law of one generated block's inter-arrival times on true histories, against the true next block.

    Parameters
    ----------
    model
        A fitted generator (``encoding_`` and ``_blocks``, e.g. :class:`generators.diffusion.DiffusionGenerator`).
    events, books
        The span the histories, books and true blocks are read from (its first event the anchor).
    contexts
        Block starts drawn without replacement (after the first :data:`generators.encoding.REGIME_WINDOW`
        messages).
    scale
        Every inter-arrival time of the histories is multiplied by it (rounded to ns) before they are encoded.
    seed
        Seeds the draw of the starts and the sampling noise.

    Returns
    -------
    dict
        ``ratio``: mean generated over mean true inter-arrival time (s / s); ``generated_mean_s``, ``true_mean_s``;
        ``generated_long``, ``true_long``: the share of gaps above :data:`LONG_GAP_S`; ``z_shift``, ``z_std``: the
        generated time column's mean minus the true one's and its standard deviation (normalised units);
        ``generated_trades``, ``true_trades``: the TRADE share of the blocks.
    """
    if not scale > 0:
        raise ParameterError(f"`scale` of one_step_times must be > 0; got {scale!r}")
    encoding = model.encoding_
    flow = enc.encode(events, books, encoding, source="rate probe span")
    table, history, block = flow.messages.table, encoding.history, model.config.block
    first = max(history, enc.REGIME_WINDOW)
    if len(flow) - block - first < contexts:
        raise DataError(
            f"rate probe span: needs {contexts} block starts after message {first}; got {len(flow)} messages"
        )
    rng = np.random.default_rng(seed)
    starts = np.sort(rng.choice(np.arange(first, len(flow) - block + 1), contexts, replace=False))
    rows = table[starts[:, None] + np.arange(-history, 0)]
    rows[:, :, enc.DT] = np.rint(rows[:, :, enc.DT] * float(scale))
    vectors = encoding.messages(rows.reshape(-1, len(enc.FIELDS))).reshape(contexts, history, -1)
    condition = torch.as_tensor(enc.regime_condition(None), device=model.device)
    generator = torch.Generator(device=model.device).manual_seed(int(seed))
    sample = model._blocks(vectors, flow.book[starts], condition, 1.0, generator)
    generated = encoding.table(sample.reshape(-1, enc.MESSAGE_WIDTH))
    true = table[(starts[:, None] + np.arange(block)).ravel()]
    times = generated[:, enc.DT] / 1e9, true[:, enc.DT] / 1e9
    true_z = flow.vectors[(starts[:, None] + np.arange(block)).ravel(), enc.M_DT]
    return {
        "ratio": float(times[0].mean() / times[1].mean()),
        "generated_mean_s": float(times[0].mean()),
        "true_mean_s": float(times[1].mean()),
        "generated_long": float(np.mean(times[0] > LONG_GAP_S)),
        "true_long": float(np.mean(times[1] > LONG_GAP_S)),
        "z_shift": float(sample[:, :, enc.M_DT].mean() - true_z.mean()),
        "z_std": float(sample[:, :, enc.M_DT].std()),
        "generated_trades": float(np.mean(generated[:, enc.TYPE] == enc.TYPE_TRADE)),
        "true_trades": float(np.mean(true[:, enc.TYPE] == enc.TYPE_TRADE)),
    }


def rate_probe(
    model: Any, events: xr.Dataset, books: xr.Dataset, *, contexts: int = 1024, scales=SCALES, seed: int = 0
) -> dict[str, Any]:
    """Return the one-step law at each history ``scales`` factor, the gain and the closed loop's time scale.

    ``gain`` is the least-squares slope of ``log`` (generated mean time) on ``log`` (scale); ``one_step`` is the
    law at scale 1 (:func:`one_step_times`); ``closed_loop_scale`` is :func:`closed_loop_scale` of its ratio and the
    gain (below 1: a rollout faster than the truth).
    """
    scales = tuple(float(s) for s in scales)
    if 1.0 not in scales or len(set(scales)) < 2:
        raise ParameterError(f"`scales` of rate_probe must hold 1 and another factor; got {scales}")
    laws = {s: one_step_times(model, events, books, contexts=contexts, scale=s, seed=seed) for s in scales}
    x = np.log(scales)
    y = np.log([laws[s]["generated_mean_s"] for s in scales])
    gain = float(np.polyfit(x, y, 1)[0])
    one = laws[1.0]
    return {
        "one_step": one,
        "by_scale": {str(s): laws[s]["generated_mean_s"] for s in scales},
        "gain": gain,
        "closed_loop_scale": closed_loop_scale(one["ratio"], gain),
    }


def closed_loop_scale(ratio: float, gain: float) -> float | None:
    """Return ``ratio^(1 / (1 - gain))``, the fixed point of ``x = ratio x^gain`` (None when ``gain >= 1``: none)."""
    if not ratio > 0:
        raise ParameterError(f"`ratio` of closed_loop_scale must be > 0; got {ratio!r}")
    return None if gain >= 1 else float(ratio ** (1.0 / (1.0 - gain)))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Measure a saved diffusion model on its ground-truth spec's validation span; print and return the numbers."""
    from calibration.book_presets import load_book_preset
    from generators.diffusion import DiffusionGenerator
    from scenarios.generate.ground_truth import load_truth_spec, simulate_path, split_at

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("spec")
    parser.add_argument("--contexts", type=int, default=1024)
    args = parser.parse_args(argv)
    spec = load_truth_spec(args.spec)
    seeds = np.random.SeedSequence(spec.seed).spawn(6)
    flow = simulate_path(load_book_preset(spec.process), spec.train_s + spec.validation_s, seeds[0], spec.depth)
    span = split_at(flow, spec.train_s)["validation"]
    model = DiffusionGenerator.load(args.model, device="cpu")
    out = rate_probe(model, span["events"], span["books"], contexts=args.contexts)
    print(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
