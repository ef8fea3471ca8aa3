"""The denoiser of the diffusion generator: a small transformer over the last k messages, the book and the block.

After TRADES (Berti et al., 2025): the tokens are the ``history`` messages and the ``block`` noisy messages (one
shared linear embedding, learned positions, a segment embedding); the condition (the book-state vector through an
MLP, one embedding per regime variable with an extra *null* index for a dropped condition, and the sinusoidal
embedding of the diffusion step) is added to every token; a pre-norm transformer encoder attends over all tokens and
a linear head predicts the noise of the block's tokens. Weights are initialised from an explicit ``torch.Generator``
(:func:`init_weights`), never from torch's global generator, and dropout is off, so one seed gives one model.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from generators.config import DiffusionConfig
from generators.encoding import BOOK_WIDTH, MESSAGE_WIDTH, N_QUINTILES, REGIMES


class Denoiser(nn.Module):
    """Predict the noise of a block of messages from its noisy version, the diffusion step and the condition.

    Parameters
    ----------
    config
        Hyperparameters (``history``, ``block``, ``width``, ``layers``, ``heads``).
    """

    def __init__(self, config: DiffusionConfig) -> None:
        super().__init__()
        width = config.width
        self.width = width
        self.embed = nn.Linear(MESSAGE_WIDTH, width)
        self.position = nn.Parameter(torch.zeros(config.history + config.block, width))
        self.segment = nn.Parameter(torch.zeros(2, width))
        self.book = nn.Sequential(nn.Linear(BOOK_WIDTH, width), nn.SiLU(), nn.Linear(width, width))
        self.regimes = nn.ModuleList(nn.Embedding(N_QUINTILES + 1, width) for _ in REGIMES)
        self.step = nn.Sequential(nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width))
        layer = nn.TransformerEncoderLayer(
            width, config.heads, dim_feedforward=4 * width, dropout=0.0, activation="gelu", batch_first=True,
            norm_first=True,
        )  # fmt: skip
        self.encoder = nn.TransformerEncoder(layer, config.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, MESSAGE_WIDTH)
        self.block = config.block

    def forward(
        self,
        noisy: torch.Tensor,
        timesteps: torch.Tensor,
        history: torch.Tensor,
        book: torch.Tensor,
        regime: torch.Tensor,
    ) -> torch.Tensor:
        """Return the predicted noise ``(batch, block, MESSAGE_WIDTH)``.

        Parameters
        ----------
        noisy
            ``(batch, block, MESSAGE_WIDTH)`` noisy message vectors.
        timesteps
            ``(batch,)`` int diffusion steps.
        history
            ``(batch, history, MESSAGE_WIDTH)`` the previous messages (normalised vectors).
        book
            ``(batch, BOOK_WIDTH)`` the book state before the block.
        regime
            ``(batch, 4)`` int condition indices 0-4, or 5 for a dropped condition.
        """
        tokens = self.embed(torch.cat([history, noisy], dim=1))
        segment = torch.cat([self.segment[:1].expand(history.shape[1], -1), self.segment[1:].expand(self.block, -1)])
        condition = self.book(book) + self.step(_sinusoid(timesteps, self.width))
        for j, embedding in enumerate(self.regimes):
            condition = condition + embedding(regime[:, j])
        hidden = self.encoder(tokens + self.position + segment + condition[:, None, :])
        return self.head(self.norm(hidden[:, -self.block :]))


def init_weights(module: nn.Module, generator: torch.Generator) -> None:
    """Initialise every parameter from ``generator``: matrices N(0, 1/fan_in), norms' scales 1, the rest 0.

    Position and segment embeddings get N(0, 0.02^2) and the noise head starts at zero output scale / 10.
    """
    with torch.no_grad():
        for name, parameter in module.named_parameters():
            if name in ("position", "segment"):
                parameter.copy_(0.02 * torch.randn(parameter.shape, generator=generator))
            elif parameter.dim() >= 2:
                std = 1.0 / math.sqrt(parameter.shape[1])
                if name.startswith("head."):
                    std /= 10.0
                parameter.copy_(std * torch.randn(parameter.shape, generator=generator))
            elif name.endswith("weight"):  # LayerNorm scale
                parameter.fill_(1.0)
            else:
                parameter.zero_()


def _sinusoid(timesteps: torch.Tensor, width: int) -> torch.Tensor:
    half = width // 2
    frequencies = torch.exp(-math.log(10000.0) * torch.arange(half, device=timesteps.device) / half)
    angles = timesteps.float()[:, None] * frequencies[None, :]
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)
