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

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr

from generators import encoding as enc
from generators.checkpoint import load_checkpoint, save_checkpoint
from generators.config import GANConfig, gan_preset
from generators.diffusion import _context, _context_tensors, _jsonable, _seed, _seeded, _span
from generators.gan_networks import Critic, Generator, init_gan_weights
from generators.gan_training import train_gan
from generators.rollout import rollout
from generators.training import BlockData, TrainState, deterministic, torch_generator
from simlab.errors import DataError, ParameterError
from simlab.random import spawn

FAMILY = "gan"
BETAS = (0.5, 0.9)


class GANGenerator:
    """A conditional WGAN-GP model of order flow, rolled out on the matching engine.

    Parameters
    ----------
    config
        Hyperparameters (default: :func:`generators.config.gan_preset`, ``paper`` on CUDA, ``tiny`` otherwise).
    device
        Torch device (default: CUDA when available, else CPU).
    """

    def __init__(self, config: GANConfig | None = None, *, device: str | torch.device | None = None) -> None:
        self.config = config if config is not None else gan_preset()
        if not isinstance(self.config, GANConfig):
            raise ParameterError(f"`config` of GANGenerator must be a GANConfig; got {config!r}")
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model_: Generator | None = None
        self.encoding_: enc.Encoding | None = None
        self.context_: dict[str, Any] | None = None
        self.training_: TrainState | None = None
        self.seed_: int | None = None

    # ------------------------------------------------------------------ training
    def fit(
        self,
        dataset: Mapping[str, Mapping[str, xr.Dataset]],
        *,
        seed: int,
        checkpoint: str | Path | None = None,
        resume: bool = False,
        progress: Callable[[int, int, float, float | None], None] | None = None,
    ) -> GANGenerator:
        """Fit the encoding and train the generator against the critic; return ``self``.

        Parameters
        ----------
        dataset
            ``{"train": {"events", "books"}, "validation": {...}}`` (a ``"test"`` span is never read).
        seed
            Root seed of the run (weights, batches, noise, dropped conditions).
        checkpoint
            Folder written at every validation (the best generator, with the training state of both networks).
        resume
            Continue from ``checkpoint`` when it holds a run with the same hyperparameters, seed and data encoding.
        progress
            Called after every validation with (step, max steps, critic's Wasserstein estimate, validation distance).
        """
        spans = {name: _span(dataset, name) for name in ("train", "validation")}
        seeds = np.random.SeedSequence(_seed(seed)).spawn(3)
        encoding = enc.fit_encoding(*spans["train"], history=self.config.history, source="train span")
        flows = {name: enc.encode(*span, encoding, source=f"{name} span") for name, span in spans.items()}
        data = tuple(BlockData(flows[n], self.config, self.device, f"{n} span") for n in ("train", "validation"))
        self.encoding_, self.seed_ = encoding, _seed(seed)
        self.context_ = _context(flows["validation"], spans["validation"], encoding)
        networks = self._networks(seeds[0])
        rate = self.config.learning_rate
        optimizers = tuple(torch.optim.Adam(n.parameters(), lr=rate, betas=BETAS) for n in networks)
        train_generator = torch_generator(seeds[1], self.device)
        state, best = TrainState(), {k: v.detach().clone() for k, v in networks[0].state_dict().items()}
        if resume and checkpoint is not None and Path(checkpoint).exists():
            state, best = self._resume(Path(checkpoint), networks, optimizers, train_generator)

        def on_validation(current: TrainState, weights: dict) -> None:
            best.update(weights)
            if checkpoint is not None:
                self._save(Path(checkpoint), best, current, networks, optimizers, train_generator)

        with deterministic(self.device):
            state = train_gan(
                networks, self.config, data, generators=(train_generator, torch_generator(seeds[2], self.device)),
                optimizers=optimizers, state=state, on_validation=on_validation, progress=progress,
            )  # fmt: skip
        networks[0].load_state_dict(best)
        self.model_, self.training_ = networks[0].eval(), state
        return self

    def _networks(self, seed: np.random.SeedSequence) -> tuple[Generator, Critic]:
        cpu = torch.device("cpu")
        generator, critic = Generator(self.config), Critic(self.config)
        for network, child in zip((generator, critic), seed.spawn(2), strict=True):
            init_gan_weights(network, torch_generator(child, cpu))
        generator.set_support(self.encoding_.message_low, self.encoding_.message_high)
        return generator.to(self.device), critic.to(self.device)

    def _resume(self, path: Path, networks, optimizers, generator) -> tuple[TrainState, dict]:
        meta, tensors = load_checkpoint(path, FAMILY)
        # a resumed run may train longer (max_steps); everything else must be the checkpoint's
        config = {k: v for k, v in self.config.to_dict().items() if k != "max_steps"}
        theirs = {"config": {k: v for k, v in (meta.get("config") or {}).items() if k != "max_steps"}}
        theirs.update(seed=meta.get("seed"), encoding=meta.get("encoding"))
        ours = {"config": config, "seed": self.seed_, "encoding": self.encoding_.to_dict()}
        for key in ours:
            if _jsonable(ours[key]) != theirs[key]:
                raise ParameterError(
                    f"checkpoint {path}: cannot resume: it was trained with another {key} ({theirs[key]!r}); "
                    f"this run has {ours[key]!r}"
                )
        if "current" not in tensors:
            raise DataError(f"checkpoint {path}: holds no training state to resume from (a final model?)")
        for network, optimizer, name in zip(networks, optimizers, ("generator", "critic"), strict=True):
            network.load_state_dict(tensors["current"][name])
            optimizer.load_state_dict(tensors["optimizer"][name])
        generator.set_state(tensors["generator"])
        return TrainState(**meta["training"]), dict(tensors["model"])

    def _save(self, path: Path, best: dict, state: TrainState, networks, optimizers, generator) -> None:
        tensors: dict[str, Any] = {"model": best, "context": _context_tensors(self.context_)}
        names = ("generator", "critic")
        tensors["current"] = {name: network.state_dict() for name, network in zip(names, networks, strict=True)}
        tensors["optimizer"] = {name: opt.state_dict() for name, opt in zip(names, optimizers, strict=True)}
        tensors["generator"] = generator.get_state()
        save_checkpoint(path, self._meta(state), tensors)

    def _meta(self, state: TrainState | None) -> dict[str, Any]:
        return {
            "family": FAMILY,
            "encoding_version": enc.ENCODING_VERSION,
            "config": self.config.to_dict(),
            "encoding": self.encoding_.to_dict(),
            "seed": self.seed_,
            "training": None if state is None else state.to_dict(),
            "context_attrs": self.context_["attrs"],
            "context_ts_ns": int(self.context_["ts_ns"]),
        }

    def save(self, path: str | Path) -> Path:
        """Write the fitted model (best generator weights, encoding, context, hyperparameters) to the folder ``path``.

        The critic is not kept: sampling does not need it (a training checkpoint keeps it to resume)."""
        self._check_fitted()
        return save_checkpoint(Path(path), self._meta(self.training_), {
            "model": self.model_.state_dict(), "context": _context_tensors(self.context_)
        })  # fmt: skip

    @classmethod
    def load(cls, path: str | Path, *, device: str | torch.device | None = None) -> GANGenerator:
        """Load a model saved by :meth:`save` or a training checkpoint; refuse it whole when it does not match."""
        meta, tensors = load_checkpoint(path, FAMILY)
        try:
            config = GANConfig.from_dict(meta["config"], source=f"checkpoint {path}")
            encoding = enc.Encoding.from_dict(meta["encoding"], source=f"checkpoint {path}")
            generator = cls(config, device=device)
            model = Generator(config)
            model.load_state_dict(tensors["model"], strict=True)
            context = {name: tensors["context"][name].numpy() for name in ("books", "table")}
        except (KeyError, TypeError, RuntimeError) as error:
            raise DataError(f"checkpoint {path}: its weights or context do not fit its config ({error})") from None
        context.update(ts_ns=int(meta["context_ts_ns"]), attrs=dict(meta["context_attrs"]))
        generator.model_, generator.encoding_, generator.context_ = model.to(generator.device).eval(), encoding, context
        generator.seed_ = meta.get("seed")
        generator.training_ = TrainState(**meta["training"]) if meta.get("training") else None
        return generator

    # ------------------------------------------------------------------ sampling
    def sample(
        self,
        n_paths: int,
        duration: float,
        *,
        generator: torch.Generator | int,
        regime: dict[str, int] | None = None,
        guidance: float | None = None,
        progress: Callable[[int, int], None] | None = None,
        stop_when_stuck: bool = False,
    ) -> list[dict[str, xr.Dataset]]:
        """Generate ``n_paths`` independent books for ``duration`` seconds from the context.

        Parameters
        ----------
        n_paths
            Paths (>= 1), rolled out together (one generator pass per block for all running paths).
        duration
            Seconds of flow per path.
        generator
            A ``torch.Generator`` (advanced in place) or an int seed; it draws the noise and seeds the order picks.
        regime
            Quintiles 1-5 by regime name (``{"volatility": 5, "depth": 1}``); unset names are the null token.
        guidance
            Output-space guidance weight (default: the config's).

        stop_when_stuck
            End a path on which no generated message applies any more (``stuck`` = 1 in its attributes) and finish
            the others, instead of raising.

        Returns
        -------
        list of dict
            Per path, ``events`` and ``books`` (the initial orders first, ``initial_orders`` in the attributes,
            with the rollout's counts: applied, rejected by reason, discarded).
        """
        self._check_fitted()
        if isinstance(n_paths, bool) or not isinstance(n_paths, (int, np.integer)) or n_paths < 1:
            raise ParameterError(f"`n_paths` of sample must be an int >= 1; got {n_paths!r}")
        if not isinstance(duration, (int, float)) or not np.isfinite(duration) or duration <= 0:
            raise ParameterError(f"`duration` of sample must be a number of seconds > 0; got {duration!r}")
        condition = torch.as_tensor(enc.regime_condition(regime, source="regime of sample"), device=self.device)
        weight = self.config.guidance if guidance is None else float(guidance)
        torch_gen = generator if isinstance(generator, torch.Generator) else _seeded(generator, self.device)
        pick_seed = int(torch.randint(0, 2**62, (1,), generator=torch_gen, device=torch_gen.device).item())
        depth = max(enc.DEPTH_LEVELS, int(self.context_["books"].shape[2]))

        def generate(history: np.ndarray, book: np.ndarray) -> np.ndarray:
            blocks = self._generate(history, book, condition, weight, torch_gen)
            return self.encoding_.table(blocks.reshape(-1, enc.MESSAGE_WIDTH)).reshape(blocks.shape[0], -1, 6)

        paths = rollout(
            generate, self.encoding_, self.context_, n_paths=int(n_paths), duration_ns=int(round(duration * 1e9)),
            depth=depth, rngs=spawn(pick_seed, int(n_paths)), progress=progress, stop_when_stuck=stop_when_stuck,
        )  # fmt: skip
        attrs = {**self.context_["attrs"], "generator": FAMILY, "regime": str(dict(regime or {})), "guidance": weight}
        attrs.update(duration_s=float(duration))
        return [path.datasets(attrs, "GANGenerator.sample") for path in paths]

    def _generate(self, history, book, condition, weight: float, generator: torch.Generator) -> np.ndarray:
        b = history.shape[0]
        history = torch.as_tensor(history, device=self.device)
        book = torch.as_tensor(book, device=self.device)
        regime = condition.expand(b, -1)
        noise = torch.randn((b, self.config.noise), generator=generator, device=self.device)
        with torch.no_grad(), deterministic(self.device):
            blocks = self.model_(noise, history, book, regime)
            if weight != 1.0 and bool((condition != enc.NULL_REGIME).any()):
                unconditional = self.model_(noise, history, book, torch.full_like(regime, enc.NULL_REGIME))
                blocks = unconditional + weight * (blocks - unconditional)
        return blocks.cpu().numpy()

    def _check_fitted(self) -> None:
        if self.model_ is None:
            raise ParameterError("GANGenerator is not fitted; call fit(dataset, seed=...) or load(path) first")
