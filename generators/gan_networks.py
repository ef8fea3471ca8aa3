"""The networks of the conditional WGAN-GP generator (after Coletta et al., ICAIF 2021/22).

Both networks read the same condition through their own :class:`Conditioner`: a GRU over the last k normalised
message vectors (the recurrent history encoder), an MLP of the book-state vector, and one embedding per regime
variable with an extra *null* index (a dropped condition). The :class:`Generator` maps the condition and Gaussian
noise to a block of messages through a convolutional head (a linear layer to ``width`` channels per message, then
1-D convolutions along the block); every field is generated, the inter-arrival time included. Its outputs are
bounded the way the data are: the type columns are a **hard** +-1 one-hot, the type drawn from the softmax of its
logits (Gumbel-max on uniforms the caller draws, :func:`type_draws`) with the gradient of that softmax
(straight-through), and every other column is offset by the drawn type (``by_type``) before it is squashed: the
side by a ``tanh``, each other column into the drawn type's range: the training data's range
(:attr:`Encoding.message_low` / ``message_high``) narrowed by the encoding's rules for that type (session 22,
:func:`generators.gan.type_support`: an ADD inside the opposite best, a removal at a level >= 1), kept as buffers so
they travel with the weights. The price and level columns also get the output of a **field head** (session 23,
network version 4): a per-message MLP of the message's hidden vector, its drawn type, its side and three features of
the current book (:func:`book_head_features`: the log spread and each side's number of non-empty levels), so that
the fields that place a message in the book read the book directly, not only through the condition vector. Until
session 20b the type columns were
``2 softmax - 1``, a relaxed one-hot that no data block holds: the critic judged soft vectors, the decoder took
their argmax, and the tiny AAPL model's argmax never fell on a rare type (no trade, no partial cancel; see
docs/generators.md, "Session 20b"). The :class:`Critic` embeds a block with 1-D
convolutions, joins it to its condition and returns one unbounded score per block (no normalisation layer, as the
gradient penalty needs). Weights are initialised from an explicit ``torch.Generator`` (:func:`init_gan_weights`).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from generators.config import GANConfig
from generators.encoding import (
    B_DEPTH_ASK,
    B_DEPTH_BID,
    B_SPREAD,
    BOOK_WIDTH,
    DEPTH_LEVELS,
    HEAD_BOOK_WIDTH,
    M_LEVEL,
    M_PRICE,
    M_SIDE,
    M_TYPE,
    MESSAGE_WIDTH,
    N_QUINTILES,
    N_TYPES,
    REGIMES,
)
from simlab.errors import ParameterError


class Conditioner(nn.Module):
    """Encode (history, book, regime) as one ``(batch, width)`` condition vector."""

    def __init__(self, config: GANConfig, book_width: int = BOOK_WIDTH) -> None:
        super().__init__()
        width = config.width
        self.gru = nn.GRU(MESSAGE_WIDTH, width, batch_first=True)
        self.book = nn.Sequential(nn.Linear(book_width, width), nn.LeakyReLU(0.2))
        self.regimes = nn.ModuleList(nn.Embedding(N_QUINTILES + 1, width) for _ in REGIMES)
        self.mix = nn.Sequential(nn.Linear(2 * width, width), nn.LeakyReLU(0.2))

    def forward(self, history: torch.Tensor, book: torch.Tensor, regime: torch.Tensor) -> torch.Tensor:
        """Return the condition ``(batch, width)`` of histories ``(batch, k, MESSAGE_WIDTH)``, books and regimes."""
        _, last = self.gru(history)
        condition = self.mix(torch.cat([last[-1], self.book(book)], dim=1))
        for j, embedding in enumerate(self.regimes):
            condition = condition + embedding(regime[:, j])
        return condition


class Generator(nn.Module):
    """Map noise and the condition to a block of normalised message vectors ``(batch, block, MESSAGE_WIDTH)``.

    Parameters
    ----------
    config
        ``history``, ``block``, ``width``, ``noise``.
    book_width
        Columns of the book-state vector (the encoding's :attr:`~generators.encoding.Encoding.book_width`).
    """

    # the layout of the generator's weights (checkpoints record it as ``network_version``); 2 (session 20b): the
    # type is a straight-through Gumbel draw, a hard one-hot, and ``by_type`` offsets the other fields by it; 3
    # (session 22): each column is squashed into the range of the drawn type (the buffers ``type_low`` /
    # ``type_high``, :meth:`set_type_support`); 4 (session 23): the field head ``fields`` of the price and level
    # columns, reading the book features of :func:`book_head_features` (cuts in the buffer ``level_cuts``)
    VERSION = 4

    def __init__(self, config: GANConfig, book_width: int = BOOK_WIDTH) -> None:
        super().__init__()
        width, self.block = config.width, config.block
        self.condition = Conditioner(config, book_width)
        self.expand = nn.Sequential(nn.Linear(width + config.noise, width * config.block), nn.LeakyReLU(0.2))
        self.head = nn.Sequential(
            nn.Conv1d(width, width, 3, padding=1), nn.LeakyReLU(0.2), nn.Conv1d(width, MESSAGE_WIDTH, 3, padding=1)
        )
        self.by_type = nn.Linear(N_TYPES, MESSAGE_WIDTH, bias=False)  # the drawn type's offset of every field
        self.register_buffer("low", torch.full((MESSAGE_WIDTH,), -1.0))
        self.register_buffer("high", torch.full((MESSAGE_WIDTH,), 1.0))
        self.register_buffer("type_low", torch.full((N_TYPES, MESSAGE_WIDTH), -1.0))  # the range of each drawn type
        self.register_buffer("type_high", torch.full((N_TYPES, MESSAGE_WIDTH), 1.0))
        # the normalised depth above which a level holds a lot (Encoding.empty_level_cuts, set_level_cuts)
        self.register_buffer("level_cuts", torch.zeros(2 * DEPTH_LEVELS))
        # the field head: the price and level pre-activations given the message's hidden vector, drawn type, side and
        # the book's features (registered last, so the other weights are initialised as version 3's)
        self.fields = nn.Sequential(
            nn.Linear(width + N_TYPES + 1 + HEAD_BOOK_WIDTH, width), nn.LeakyReLU(0.2), nn.Linear(width, 2)
        )
        placement = torch.zeros((2, MESSAGE_WIDTH))
        placement[0, M_PRICE] = placement[1, M_LEVEL] = 1.0
        self.register_buffer("field_columns", placement, persistent=False)  # the field head's two columns

    def set_support(self, low: tuple[float, ...], high: tuple[float, ...]) -> None:
        """Set the range each continuous column is squashed into (the encoding's normalised training range).

        The output bias of those columns is set so that a zero pre-activation gives the training mean (0 after
        normalisation): an untrained generator starts at typical inter-arrival times, sizes and prices rather than
        at the middle of their log range. Every type's range is set to it too (:meth:`set_type_support` narrows
        them).
        """
        low_t, high_t = (torch.as_tensor(v, dtype=torch.float32) for v in (low, high))
        share = torch.clamp(-low_t / torch.clamp(high_t - low_t, min=1e-6), 1e-3, 1 - 1e-3)
        with torch.no_grad():
            self.by_type.weight.zero_()  # and the drawn type offsets no field yet
            self.fields[-1].weight.zero_()  # nor does the field head
            self.low.copy_(low_t)
            self.high.copy_(high_t)
            self.type_low.copy_(low_t.expand(N_TYPES, -1))
            self.type_high.copy_(high_t.expand(N_TYPES, -1))
            for column in (0, *range(M_SIDE + 1, MESSAGE_WIDTH)):
                self.head[-1].bias[column] = torch.log(share[column] / (1 - share[column]))

    def set_type_support(self, low: np.ndarray, high: np.ndarray) -> None:
        """Set the range ``(N_TYPES, MESSAGE_WIDTH)`` each column is squashed into when the message is of that type
        (a row per type, inside the range of :meth:`set_support`; low == high pins a column at that value).

        Session 22: with one range for all types, the tiny AAPL GAN put 66 % of the ADDs it tried at or through the
        opposite best (the range its removals and trades hold) and 55 % of its removals at level 0 (its ADDs' and
        trades'), and the rollout rejected them; :func:`generators.gan.type_support` gives the ranges the
        encoding's rules allow.
        """
        low_t, high_t = (torch.as_tensor(np.asarray(v, np.float64), dtype=torch.float32) for v in (low, high))
        shape = (N_TYPES, MESSAGE_WIDTH)
        if low_t.shape != shape or high_t.shape != shape:
            found = f"{tuple(low_t.shape)} and {tuple(high_t.shape)}"
            raise ParameterError(f"set_type_support: low and high must be {shape} arrays; got {found}")
        inside = (low_t <= high_t) & (low_t >= self.low - 1e-6) & (high_t <= self.high + 1e-6)
        if not bool(inside.all()):
            raise ParameterError(
                "set_type_support: every type's range must lie inside the generator's support (set_support) with "
                f"low <= high; got {int((~inside).sum())} cells outside"
            )
        with torch.no_grad():
            self.type_low.copy_(low_t)
            self.type_high.copy_(high_t)

    def set_level_cuts(self, cuts: np.ndarray) -> None:
        """Set the normalised depth ``(2 DEPTH_LEVELS,)`` above which a level of the book state holds a lot
        (:meth:`generators.encoding.Encoding.empty_level_cuts`)."""
        cuts_t = torch.as_tensor(np.asarray(cuts, np.float64), dtype=torch.float32)
        if cuts_t.shape != self.level_cuts.shape:
            raise ParameterError(
                f"set_level_cuts: cuts must be {tuple(self.level_cuts.shape)} finite numbers; got {tuple(cuts_t.shape)}"
            )
        if not bool(torch.isfinite(cuts_t).all()):
            bad = torch.nonzero(~torch.isfinite(cuts_t)).flatten().tolist()
            raise ParameterError(f"set_level_cuts: cuts must be finite numbers; got non-finite at index {bad[0]}")
        with torch.no_grad():
            self.level_cuts.copy_(cuts_t)

    def forward(
        self,
        noise: torch.Tensor,
        history: torch.Tensor,
        book: torch.Tensor,
        regime: torch.Tensor,
        draws: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Return generated blocks ``(batch, block, MESSAGE_WIDTH)`` for noise ``(batch, noise)`` and the condition.

        ``draws`` are the uniforms ``(batch, block, N_TYPES)`` of the type draws (:func:`type_draws`); without them
        each message takes its most likely type (a deterministic pass, for tests).
        """
        hidden = self.expand(torch.cat([self.condition(history, book, regime), noise], dim=1))
        inner = self.head[:-1](hidden.view(noise.shape[0], -1, self.block))  # (batch, width, block)
        raw = self.head[-1](inner).transpose(1, 2)
        one_hot = draw_types(raw[..., M_TYPE : M_TYPE + N_TYPES], draws)
        raw = raw + self.by_type(one_hot)  # every other field given the type drawn
        side = torch.tanh(raw[..., M_SIDE : M_SIDE + 1])
        features = book_head_features(book, self.level_cuts)[:, None, :].expand(-1, self.block, -1)
        fields = self.fields(torch.cat([inner.transpose(1, 2), one_hot, side, features], dim=-1))
        raw = raw + fields @ self.field_columns  # the price and level given the book met
        # the drawn type's range (forward: the one-hot's, within float32 rounding of the straight-through sum)
        low, high = one_hot @ self.type_low, one_hot @ self.type_high
        squashed = low + (high - low) * torch.sigmoid(raw)
        return torch.cat([squashed[..., :M_TYPE], 2.0 * one_hot - 1.0, side, squashed[..., M_SIDE + 1 :]], dim=-1)


class Critic(nn.Module):
    """Score blocks of messages given the condition (higher: more like the real data); one score per block.

    Parameters
    ----------
    config
        ``history``, ``block``, ``width``.
    book_width
        Columns of the book-state vector (the encoding's :attr:`~generators.encoding.Encoding.book_width`).
    """

    def __init__(self, config: GANConfig, book_width: int = BOOK_WIDTH) -> None:
        super().__init__()
        width = config.width
        self.condition = Conditioner(config, book_width)
        self.embed = nn.Sequential(
            nn.Conv1d(MESSAGE_WIDTH, width, 3, padding=1), nn.LeakyReLU(0.2),
            nn.Conv1d(width, width, 3, padding=1), nn.LeakyReLU(0.2),
        )  # fmt: skip
        self.score = nn.Sequential(
            nn.Linear(width * config.block + width, width), nn.LeakyReLU(0.2), nn.Linear(width, 1)
        )

    def forward(
        self, block: torch.Tensor, history: torch.Tensor, book: torch.Tensor, regime: torch.Tensor
    ) -> torch.Tensor:
        """Return the score ``(batch,)`` of blocks ``(batch, block, MESSAGE_WIDTH)`` under their condition."""
        embedded = self.embed(block.transpose(1, 2)).flatten(1)
        return self.score(torch.cat([embedded, self.condition(history, book, regime)], dim=1))[:, 0]


def book_head_features(book: torch.Tensor, cuts: torch.Tensor) -> torch.Tensor:
    """Return the field head's book features ``(batch, HEAD_BOOK_WIDTH)`` of normalised book states ``(batch, width)``:
    the normalised log spread, then the bid's and the ask's number of non-empty levels among 1-10 (depth above
    ``cuts``, :meth:`generators.encoding.Encoding.empty_level_cuts`) over ``DEPTH_LEVELS``."""
    bid = (book[:, B_DEPTH_BID] > cuts[B_DEPTH_BID]).sum(dim=1, dtype=book.dtype) / DEPTH_LEVELS
    ask = (book[:, B_DEPTH_ASK] > cuts[B_DEPTH_ASK]).sum(dim=1, dtype=book.dtype) / DEPTH_LEVELS
    return torch.stack([book[:, B_SPREAD], bid, ask], dim=1)


def type_draws(shape: tuple[int, int], generator: torch.Generator, device: torch.device | None = None) -> torch.Tensor:
    """Return the uniforms of the type draws of ``shape`` = (batch, block) messages, from ``generator``."""
    return torch.rand((*shape, N_TYPES), generator=generator, device=device)


def draw_types(logits: torch.Tensor, draws: torch.Tensor | None) -> torch.Tensor:
    """Return one hard one-hot type per message, drawn from ``softmax(logits)`` (Gumbel-max on the uniforms
    ``draws``; their argmax without), with the gradient of that softmax (straight-through, temperature 1).

    The forward values are exact 0 / 1, as the data's, so the critic judges which types are generated, not how
    soft they are, and the decoder's argmax returns the type drawn.
    """
    if draws is not None:
        tiny = torch.finfo(logits.dtype).tiny
        logits = logits - torch.log(-torch.log(draws.clamp(tiny, 1.0 - 1e-7)))
    soft = torch.softmax(logits, dim=-1)
    hard = torch.zeros_like(soft).scatter_(-1, soft.argmax(dim=-1, keepdim=True), 1.0)
    return hard + soft - soft.detach()


def init_gan_weights(module: nn.Module, generator: torch.Generator) -> None:
    """Initialise every parameter from ``generator``: weights N(0, 1/fan_in) (fan_in over all but the first axis),
    biases 0; buffers are left alone."""
    with torch.no_grad():
        for _, parameter in module.named_parameters():
            if parameter.dim() >= 2:
                std = 1.0 / math.sqrt(math.prod(parameter.shape[1:]))
                parameter.copy_(std * torch.randn(parameter.shape, generator=generator))
            else:
                parameter.zero_()
