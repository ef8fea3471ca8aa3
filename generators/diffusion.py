"""The conditional diffusion generator of order flow (after TRADES), behind the generators' interface.

``DiffusionGenerator(config).fit(dataset, seed=...)`` encodes the training span (:mod:`generators.encoding`),
trains the denoiser (:mod:`generators.networks`) on the noise process (:mod:`generators.schedule`) with the loop of
:mod:`generators.training`, stops early on the validation span and keeps the best weights (with ``ema_decay`` > 0,
the default, those of the moving average of the training weights, which is what is validated); ``sample(n_paths,
duration, generator=...)`` runs few-step DDIM chains, each generating a block of messages, and rolls them out on
the matching engine (:mod:`generators.rollout`), one book per path, batched over paths. Sampling starts from the
**context**: the book and the last messages at the end of the validation span, i.e. where the held-out test span
starts. The regime condition (quintiles 1-5 by name, :data:`generators.encoding.REGIMES`) is optional: what is left
unset is dropped (the null condition the model was trained with), and ``guidance`` > 1 pushes the samples towards
the condition (classifier-free guidance).
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from generators import encoding as enc
from generators.base import BookGenerator
from generators.config import DiffusionConfig, preset
from generators.networks import Denoiser, init_weights
from generators.schedule import NoiseSchedule
from generators.training import TrainState, deterministic, torch_generator, train_loop

FAMILY = "diffusion"


class DiffusionGenerator(BookGenerator):
    """A conditional denoising diffusion model of order flow, rolled out on the matching engine.

    Parameters
    ----------
    config
        Hyperparameters (default: :func:`generators.config.preset`, ``paper`` on CUDA, ``tiny`` otherwise).
    device
        Torch device (default: CUDA when available, else CPU).
    """

    FAMILY = FAMILY
    CONFIG = DiffusionConfig
    NETWORK = Denoiser

    def __init__(self, config: DiffusionConfig | None = None, *, device: str | torch.device | None = None) -> None:
        super().__init__(config, device=device)
        self.schedule = NoiseSchedule(self.config.diffusion_steps)

    @staticmethod
    def _preset() -> DiffusionConfig:
        return preset()

    # ------------------------------------------------------------------ training
    def _networks(self, seed: np.random.SeedSequence) -> tuple[tuple[Denoiser, ...], tuple[torch.optim.Adam]]:
        # the denoiser, then (with ``ema_decay`` > 0) the moving average of its weights, which is what is kept
        model = Denoiser(self.config, self.encoding_.book_width).to(self.device)
        init_weights(model, torch_generator(seed, torch.device("cpu")))
        average = (copy.deepcopy(model).eval(),) if self.config.ema_decay > 0 else ()
        return (model, *average), (torch.optim.Adam(model.parameters(), lr=self.config.learning_rate),)

    def _train(self, networks, data, generators, optimizers, state, on_validation, progress) -> TrainState:
        return train_loop(
            networks[0], self.schedule, self.config, data, generators=generators,
            optimizer=optimizers[0], state=state, on_validation=on_validation, progress=progress,
            average=networks[1] if len(networks) > 1 else None,
        )  # fmt: skip

    def _restore(self, tensors: dict, networks, optimizers) -> None:
        networks[0].load_state_dict(tensors["current"])
        optimizers[0].load_state_dict(tensors["optimizer"])
        if len(networks) > 1:
            networks[1].load_state_dict(tensors["average"])

    def _state(self, networks, optimizers) -> dict:
        state = {"current": networks[0].state_dict(), "optimizer": optimizers[0].state_dict()}
        if len(networks) > 1:
            state["average"] = networks[1].state_dict()
        return state

    # ------------------------------------------------------------------ sampling
    def _blocks(self, history, book, condition, weight: float, generator: torch.Generator) -> np.ndarray:
        b = history.shape[0]
        history = torch.as_tensor(history, device=self.device)
        book = torch.as_tensor(book, device=self.device)
        regime = condition.expand(b, -1)
        guided = weight != 1.0 and bool((condition != enc.NULL_REGIME).any())
        if guided:
            history, book = torch.cat([history, history]), torch.cat([book, book])
            regime = torch.cat([regime, torch.full_like(regime, enc.NULL_REGIME)])
        shape = (b, self.config.block, enc.MESSAGE_WIDTH)
        sample = torch.randn(shape, generator=generator, device=self.device)
        steps = self.schedule.sampling_timesteps(self.config.sampling_steps)
        support = (self.encoding_.message_low, self.encoding_.message_high)
        bounds = tuple(torch.tensor(v, dtype=torch.float32, device=self.device) for v in support)
        with torch.no_grad(), deterministic(self.device):
            for t, t_prev in zip(steps, steps[1:] + [-1], strict=True):
                inputs = torch.cat([sample, sample]) if guided else sample
                timesteps = torch.full((inputs.shape[0],), t, device=self.device, dtype=torch.long)
                noise = self.model_(inputs, timesteps, history, book, regime)
                if guided:
                    conditional, unconditional = noise[:b], noise[b:]
                    noise = unconditional + weight * (conditional - unconditional)
                sample = self.schedule.ddim_step(sample, noise, t, t_prev, bounds, self.config.sampling_eta, generator)
        return sample.cpu().numpy()
