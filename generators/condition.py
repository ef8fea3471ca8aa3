"""What the regime condition labels and how much the denoiser reads it.

:func:`relabel` labels every message with the regime of another window ahead than the encoding's
(``DiffusionConfig.condition_window``): the quintiles of that window's measures on the training span, applied to
every span. :func:`condition_gain_by_column` splits the condition gain (the validation loss with the null regime
minus the loss with the true one, :mod:`generators.training`) by message column and by diffusion step, to see
where the model uses the label.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
import xarray as xr

from generators import encoding as enc
from generators.training import BlockData
from simlab.errors import ParameterError
from simlab.schema import BOOK_FIELDS


def relabel(
    flows: dict[str, enc.EncodedFlow], spans: dict[str, tuple[xr.Dataset, xr.Dataset]], window: int
) -> dict[str, enc.EncodedFlow]:
    """Return the flows with each message's regime measured over the ``window`` book rows from it.

    Parameters
    ----------
    flows
        Encoded spans by name, one of them ``"train"`` (its measures give the quintile edges).
    spans
        The same spans' ``(events, books)``.
    window
        Book rows ahead (>= 1).
    """
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
        raise ParameterError(f"`condition_window` must be an int >= 1 book rows; got {window!r}")
    values = {
        name: enc.regime_values(tuple(spans[name][1][field].values for field in BOOK_FIELDS), int(window))[:-1]
        for name in flows
    }
    edges = np.quantile(values["train"], [0.2, 0.4, 0.6, 0.8], axis=0).T
    out = {}
    for name, flow in flows.items():
        labels = [np.searchsorted(edges[j], values[name][:, j], side="right") for j in range(len(enc.REGIMES))]
        out[name] = replace(flow, regime=np.stack(labels, axis=1).astype(np.int64), regime_values=values[name])
    return out


def condition_gain_by_column(
    model: torch.nn.Module, schedule, data: BlockData, *, blocks: int, seed: int, buckets: int = 4
) -> dict[str, np.ndarray]:
    """Return the condition gain of ``model`` (in eval mode) on ``blocks`` random blocks of ``data``, by column and
    step bucket.

    Returns
    -------
    dict
        ``"gain"``: ``(buckets, MESSAGE_WIDTH)`` mean squared noise error with every regime null minus with the true
        regime, by diffusion-step bucket (equal ranges of steps, the first the least noisy) and message column;
        ``"loss"``: the same with the true regime; ``"steps"``: the first step of each bucket.
    """
    generator = torch.Generator().manual_seed(int(seed))
    device = data.starts.device
    starts = data.starts[torch.randint(0, data.starts.shape[0], (blocks,), generator=generator)]
    target, history, book, regime = data.batch(starts)
    timesteps = torch.randint(0, schedule.steps, (blocks,), generator=generator).to(device)
    noise = torch.randn(target.shape, generator=generator).to(device)
    noisy = schedule.add_noise(target, noise, timesteps)
    errors = []
    with torch.no_grad():
        for condition in (regime, torch.full_like(regime, enc.NULL_REGIME)):
            parts = [
                ((model(noisy[s], timesteps[s], history[s], book[s], condition[s]) - noise[s]) ** 2).mean(dim=1)
                for s in (slice(i, i + 512) for i in range(0, blocks, 512))
            ]
            errors.append(torch.cat(parts).cpu().numpy())
    edges = np.linspace(0, schedule.steps, buckets + 1).astype(int)
    bucket = np.searchsorted(edges[1:], timesteps.cpu().numpy(), side="right")
    loss = np.stack([errors[0][bucket == b].mean(axis=0) for b in range(buckets)])
    null = np.stack([errors[1][bucket == b].mean(axis=0) for b in range(buckets)])
    return {"gain": null - loss, "loss": loss, "steps": edges[:-1]}
