"""The denoiser of the diffusion generator: a small transformer over the last k messages, the book and the block.

After TRADES (Berti et al., 2025): the tokens are the ``history`` messages and the ``block`` noisy messages (one
shared linear embedding, learned positions, a segment embedding). The condition vector is the book-state vector
through an MLP, the sum of one embedding per regime variable (with an extra *null* index for a dropped condition) and
the sinusoidal embedding of the diffusion step; it is added to every token. With ``adaptive_norm`` = 1 the regime
sum goes through its own MLP first and the condition also modulates **every** transformer block (adaptive layer
norm, as DiT's adaLN: a per-block linear map of the condition, zero at initialisation, gives the shift and scale of
both layer norms and the gates of both residual branches). A pre-norm transformer then attends over all tokens and
a linear head predicts the noise of the block's tokens. Weights are initialised from an explicit
``torch.Generator`` (:func:`init_weights`), never from torch's global generator, and dropout is off, so one seed
gives one model.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from generators.config import DiffusionConfig
from generators.encoding import BOOK_WIDTH, MESSAGE_WIDTH, N_QUINTILES, REGIMES

# the layout of the denoiser's weights; a checkpoint of another version is refused (generators.base.load); the
# adaLN layout is chosen by the config (``adaptive_norm``), which every checkpoint records
NETWORK_VERSION = 1


class ConditionedBlock(nn.Module):
    """A pre-norm transformer block whose layer norms and residual gates are set by the condition (adaLN).

    Parameters
    ----------
    width, heads
        Token width and attention heads.
    """

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(width, elementwise_affine=False)
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)
        self.norm2 = nn.LayerNorm(width, elementwise_affine=False)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))
        self.modulation = nn.Linear(width, 6 * width)  # zero at init: a plain pre-norm block

    def forward(self, tokens: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """Return the tokens ``(batch, n, width)`` after attention and MLP, modulated by the condition."""
        shift1, scale1, gate1, shift2, scale2, gate2 = self.modulation(F.silu(condition))[:, None].chunk(6, dim=-1)
        h = self.norm1(tokens) * (1 + scale1) + shift1
        b, n, width = h.shape
        q, k, v = self.qkv(h).view(b, n, 3, self.heads, width // self.heads).permute(2, 0, 3, 1, 4)
        attended = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, width)
        tokens = tokens + (1 + gate1) * self.out(attended)
        h = self.norm2(tokens) * (1 + scale2) + shift2
        return tokens + (1 + gate2) * self.mlp(h)


class Denoiser(nn.Module):
    """Predict the noise of a block of messages from its noisy version, the diffusion step and the condition.

    Parameters
    ----------
    config
        Hyperparameters (``history``, ``block``, ``width``, ``layers``, ``heads``).
    book_width
        Columns of the book-state vector (the encoding's :attr:`~generators.encoding.Encoding.book_width`).
    """

    VERSION = NETWORK_VERSION

    def __init__(self, config: DiffusionConfig, book_width: int = BOOK_WIDTH) -> None:
        super().__init__()
        width = config.width
        self.width = width
        self.embed = nn.Linear(MESSAGE_WIDTH, width)
        self.position = nn.Parameter(torch.zeros(config.history + config.block, width))
        self.segment = nn.Parameter(torch.zeros(2, width))
        self.book = nn.Sequential(nn.Linear(book_width, width), nn.SiLU(), nn.Linear(width, width))
        self.regimes = nn.ModuleList(nn.Embedding(N_QUINTILES + 1, width) for _ in REGIMES)
        self.adaptive = bool(config.adaptive_norm)
        if self.adaptive:
            self.regime = nn.Sequential(nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width))
        self.step = nn.Sequential(nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width))
        if self.adaptive:
            self.blocks = nn.ModuleList(ConditionedBlock(width, config.heads) for _ in range(config.layers))
        else:  # the version-1 layout (the parameters keep their names and order, so its checkpoints load)
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
            ``(batch, book_width)`` the book state before the block.
        regime
            ``(batch, 4)`` int condition indices 0-4, or 5 for a dropped condition.
        """
        tokens = self.embed(torch.cat([history, noisy], dim=1))
        segment = torch.cat([self.segment[:1].expand(history.shape[1], -1), self.segment[1:].expand(self.block, -1)])
        regimes = sum(embedding(regime[:, j]) for j, embedding in enumerate(self.regimes))
        condition = self.book(book) + self.step(_sinusoid(timesteps, self.width))
        if not self.adaptive:
            hidden = self.encoder(tokens + self.position + segment + (condition + regimes)[:, None, :])
            return self.head(self.norm(hidden[:, -self.block :]))
        condition = condition + self.regime(regimes)
        hidden = tokens + self.position + segment + condition[:, None, :]
        for block in self.blocks:
            hidden = block(hidden, condition)
        return self.head(self.norm(hidden[:, -self.block :]))


def init_weights(module: nn.Module, generator: torch.Generator) -> None:
    """Initialise every parameter from ``generator``: matrices N(0, 1/fan_in), norms' scales 1, the rest 0.

    Position and segment embeddings get N(0, 0.02^2), the noise head starts at a tenth of that scale, and the
    adaLN modulations start at zero (each block starts as a plain pre-norm block).
    """
    with torch.no_grad():
        for name, parameter in module.named_parameters():
            if name in ("position", "segment"):
                parameter.copy_(0.02 * torch.randn(parameter.shape, generator=generator))
            elif ".modulation." in name:
                parameter.zero_()
            elif name.startswith("regimes.") and getattr(module, "adaptive", False):  # unit-scale codes
                parameter.copy_(torch.randn(parameter.shape, generator=generator))
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
