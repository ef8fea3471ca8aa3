"""The conditional Wasserstein GAN generator of order flow (after Coletta et al.), behind the generators' interface.

``GANGenerator(config).fit(dataset, seed=...)`` encodes the training span (:mod:`generators.encoding`), trains a
generator and a critic (:mod:`generators.gan_networks`: GRU history encoders, a convolutional head) with the
WGAN-GP loop of :mod:`generators.gan_training`, stops early on the validation span and keeps the best weights;
``sample(n_paths, duration, generator=...)`` generates a block of messages per pass, inter-arrival times included
(where Coletta et al.'s code draws them from a fitted gamma law), and rolls them out on the matching engine
(:mod:`generators.rollout`), one book per path, batched over paths, from the same **context** as the diffusion
model: the book and the last messages at the end of the validation span. The regime condition is optional: what
is left unset is the null token the model was trained with a share of the time; ``guidance`` w != 1 extrapolates
in output space, ``G(z, null) + w (G(z, c) - G(z, null))`` with the same noise.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from generators import encoding as enc
from generators.base import BookGenerator
from generators.config import GANConfig, gan_preset
from generators.gan_networks import Critic, Generator, init_gan_weights, type_draws
from generators.gan_training import train_gan
from generators.training import TrainState, deterministic, torch_generator
from simlab.errors import ParameterError

FAMILY = "gan"
BETAS = (0.5, 0.9)
NAMES = ("generator", "critic")


# the encoding's rules on the fields of each type (generators.encoding): an ADD rests at least one tick inside the
# opposite best (price_rel_ticks >= 1), a CANCEL / DELETE is at or behind its side's best (>= 0) at a level >= 1, a
# TRADE executes at or behind the best it meets (>= 0); the level of every other type is 0
PRICE_FLOORS = {enc.TYPE_ADD: 1, enc.TYPE_CANCEL: 0, enc.TYPE_DELETE: 0, enc.TYPE_TRADE: 0}
LEVEL_FLOORS = {enc.TYPE_CANCEL: 1, enc.TYPE_DELETE: 1}
LEVEL_ZERO = (enc.TYPE_ADD, enc.TYPE_TRADE, enc.TYPE_HIDDEN)
# a floor lies this far below the smallest allowed integer (in the column's own units, before the quantile
# transform): between it and the largest forbidden one, so that the allowed atom lies inside the squashed range,
# not at its end, where the sigmoid saturates (every value above decodes to an allowed integer: rint of >= 0.75)
FLOOR_MARGIN = 0.25


def type_support(encoding: enc.Encoding) -> tuple[np.ndarray, np.ndarray]:
    """Return the range ``(low, high)``, each ``(N_TYPES, MESSAGE_WIDTH)``, of the normalised columns of each type.

    It is the encoding's range (:attr:`~generators.encoding.Encoding.message_low` / ``message_high``) narrowed by
    the rules of :data:`PRICE_FLOORS`, :data:`LEVEL_FLOORS` and :data:`LEVEL_ZERO`: a floor is the normalised value
    of the smallest allowed integer less :data:`FLOOR_MARGIN` (so every value above it decodes to an allowed one,
    and the allowed atom's whole quantile run lies inside the range), and a level that must be 0 is pinned at 0's
    value. A generated ADD then never lies at or through the opposite best (under the default ``add_price =
    "opposite"``; with ``"own"``, ``"touch"`` or ``"share"`` the price field has no such floor) and a removal never
    at level 0, whatever the generator learned (session 22). The data may break a
    rule (2.4 % of the AAPL hour's training ADDs lie at or through the opposite best as the books record it): the
    generator does not make such messages, which the rollout would reject whenever the opposite side is quoted.
    """
    low = np.tile(np.asarray(encoding.message_low, np.float64), (enc.N_TYPES, 1))
    high = np.tile(np.asarray(encoding.message_high, np.float64), (enc.N_TYPES, 1))

    def narrowed(kind: int, column: int, knots: int, value: float) -> float:
        # the normalised value of ``value`` in the column (its knots row): a floor under the column's range leaves the
        # range as it is; one above its top would leave the type no value, which is refused
        normalised = (enc.to_quantile(np.array([value]), encoding.knots[knots])[0] - mean[column]) / std[column]
        if normalised > high[kind, column] + 1e-9:
            raise ParameterError(
                f"type_support: the floor {value} of column {column} for message type {kind} lies above the "
                f"encoding's range of that column (normalised {normalised:.4g} > {high[kind, column]:.4g}); the "
                "training data hold no allowed value there"
            )
        return float(max(normalised, low[kind, column]))

    mean, std = np.asarray(encoding.message_mean), np.asarray(encoding.message_std)
    price, level = enc.QUANTILE_FIELDS.index(enc.PRICE), enc.QUANTILE_FIELDS.index(enc.LEVEL)  # their knots rows
    for kind, floor in PRICE_FLOORS.items():
        if kind == enc.TYPE_ADD and encoding.add_price != "opposite":
            continue  # an ADD from its own best: 0 is the touch; the rollout refuses one at the opposite best
        low[kind, enc.M_PRICE] = narrowed(kind, enc.M_PRICE, price, floor - FLOOR_MARGIN)
    for kind, floor in LEVEL_FLOORS.items():
        low[kind, enc.M_LEVEL] = narrowed(kind, enc.M_LEVEL, level, floor - FLOOR_MARGIN)
    for kind in LEVEL_ZERO:
        low[kind, enc.M_LEVEL] = high[kind, enc.M_LEVEL] = narrowed(kind, enc.M_LEVEL, level, 0.0)
    return low, high


class GANGenerator(BookGenerator):
    """A conditional WGAN-GP model of order flow, rolled out on the matching engine.

    Parameters
    ----------
    config
        Hyperparameters (default: :func:`generators.config.gan_preset`, ``paper`` on CUDA, ``tiny`` otherwise).
    device
        Torch device (default: CUDA when available, else CPU).
    """

    FAMILY = FAMILY
    CONFIG = GANConfig
    NETWORK = Generator

    def __init__(self, config: GANConfig | None = None, *, device: str | torch.device | None = None) -> None:
        super().__init__(config, device=device)

    @staticmethod
    def _preset() -> GANConfig:
        return gan_preset()

    # ------------------------------------------------------------------ training
    def _networks(self, seed: np.random.SeedSequence) -> tuple[tuple[Generator, Critic], tuple[torch.optim.Adam, ...]]:
        cpu = torch.device("cpu")
        width = self.encoding_.book_width
        generator, critic = Generator(self.config, width), Critic(self.config, width)
        for network, child in zip((generator, critic), seed.spawn(2), strict=True):
            init_gan_weights(network, torch_generator(child, cpu))
        generator.set_support(self.encoding_.message_low, self.encoding_.message_high)
        generator.set_type_support(*type_support(self.encoding_))
        generator.set_level_cuts(self.encoding_.empty_level_cuts())
        networks = generator.to(self.device), critic.to(self.device)
        rate = self.config.learning_rate
        return networks, tuple(torch.optim.Adam(n.parameters(), lr=rate, betas=BETAS) for n in networks)

    def _train(self, networks, data, generators, optimizers, state, on_validation, progress) -> TrainState:
        return train_gan(
            networks, self.config, data, generators=generators, optimizers=optimizers, state=state,
            on_validation=on_validation, progress=progress,
        )  # fmt: skip

    def _restore(self, tensors: dict, networks, optimizers) -> None:
        for network, optimizer, name in zip(networks, optimizers, NAMES, strict=True):
            network.load_state_dict(tensors["current"][name])
            optimizer.load_state_dict(tensors["optimizer"][name])

    def _state(self, networks, optimizers) -> dict:
        return {
            "current": {name: network.state_dict() for name, network in zip(NAMES, networks, strict=True)},
            "optimizer": {name: opt.state_dict() for name, opt in zip(NAMES, optimizers, strict=True)},
        }

    def save(self, path: str | Path) -> Path:
        """Write the fitted model (best generator weights, encoding, context, hyperparameters) to the folder ``path``.

        The critic is not kept: sampling does not need it (a training checkpoint keeps it to resume)."""
        return super().save(path)

    # ------------------------------------------------------------------ sampling
    def _blocks(self, history, book, condition, weight: float, generator: torch.Generator) -> np.ndarray:
        b = history.shape[0]
        history = torch.as_tensor(history, device=self.device)
        book = torch.as_tensor(book, device=self.device)
        regime = condition.expand(b, -1)
        noise = torch.randn((b, self.config.noise), generator=generator, device=self.device)
        draws = type_draws((b, self.config.block), generator, self.device)
        with torch.no_grad(), deterministic(self.device):
            blocks = self.model_(noise, history, book, regime, draws)
            if weight != 1.0 and bool((condition != enc.NULL_REGIME).any()):
                unconditional = self.model_(noise, history, book, torch.full_like(regime, enc.NULL_REGIME), draws)
                blocks = unconditional + weight * (blocks - unconditional)
        return blocks.cpu().numpy()
