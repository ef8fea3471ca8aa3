"""The training loop of the WGAN-GP generator: critic and generator updates, the gradient penalty, condition
dropout, validation by a fixed distance between generated and real blocks, and early stopping.

A generator update follows ``critic_steps`` critic updates (Gulrajani et al., 2017): the critic minimises
``D(fake) - D(real) + lambda GP`` and the generator ``-D(G(z))``, both with Adam (betas 0.5, 0.9). The regime
condition of every batch goes through :func:`generators.training.drop_conditions`, so the null token is seen a
share of the time and a condition can be left unset at sampling. A GAN has no likelihood to validate, so a
validation generates the fixed validation blocks from fixed noise and takes the mean over the message-vector
columns of the 1-D Wasserstein distance between the generated and the real values (lower is better; the critic is
not involved, so the number is comparable across steps). Every random draw comes from explicit generators, as in
:mod:`generators.training`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from generators.config import GANConfig
from generators.gan_networks import Critic, Generator, type_draws
from generators.training import BlockData, Progress, TrainState, drop_conditions


def gradient_penalty(
    critic: Critic, real: torch.Tensor, fake: torch.Tensor, condition: tuple[torch.Tensor, ...], mix: torch.Tensor
) -> torch.Tensor:
    """Return the mean of ``(||grad_x D(x)||_2 - 1)^2`` at ``x = mix real + (1 - mix) fake`` (one ``mix`` per block).

    Parameters
    ----------
    critic
        The critic; the graph is kept (``create_graph``) so the penalty trains it.
    real, fake
        ``(batch, block, MESSAGE_WIDTH)`` blocks.
    condition
        (history, book, regime) of the batch.
    mix
        ``(batch,)`` interpolation weights in [0, 1].
    """
    weight = mix.view(-1, 1, 1)
    points = (weight * real + (1.0 - weight) * fake).requires_grad_(True)
    scores = critic(points, *condition)
    (gradient,) = torch.autograd.grad(scores.sum(), points, create_graph=True)
    return ((gradient.flatten(1).norm(dim=1) - 1.0) ** 2).mean()


def critic_loss(
    critic: Critic, generator: Generator, batch: tuple, noise: tuple, mix: torch.Tensor, weight: float
) -> tuple[torch.Tensor, float]:
    """Return the critic's loss ``D(fake) - D(real) + weight GP`` and its Wasserstein estimate ``D(real) - D(fake)``.

    ``noise`` is the generator's (Gaussian input, uniforms of the type draws)."""
    target, *condition = batch
    with torch.no_grad():
        fake = generator(noise[0], *condition, draws=noise[1])
    distance = critic(target, *condition).mean() - critic(fake, *condition).mean()
    penalty = gradient_penalty(critic, target, fake, tuple(condition), mix)
    return -distance + weight * penalty, float(distance.detach())


def train_gan(
    networks: tuple[Generator, Critic],
    config: GANConfig,
    data: tuple[BlockData, BlockData],
    *,
    generators: tuple[torch.Generator, torch.Generator],
    optimizers: tuple[torch.optim.Optimizer, torch.optim.Optimizer],
    state: TrainState,
    on_validation: Callable[[TrainState, dict], None],
    progress: Progress | None = None,
) -> TrainState:
    """Train until ``max_steps`` generator updates or ``patience`` validations without improvement.

    ``generators`` are the training generator (batches, noise, interpolation weights, dropout; advanced in place)
    and one used once for the fixed validation blocks and noise. ``on_validation(state, best_weights_or_empty)`` is
    the checkpoint hook, called with the generator's weights when they are the best so far. The training loss
    reported is the critic's running Wasserstein estimate.
    """
    generator, critic = networks
    train, validation = data
    fixed = _validation_set(validation, config, generators[1])
    running: list[float] = []
    while state.step < config.max_steps and state.bad < config.patience:
        generator.train(), critic.train()
        for _ in range(config.critic_steps):
            batch, noise = _draw(train, config, generators[0])
            mix = torch.rand((noise[0].shape[0],), generator=generators[0], device=noise[0].device)
            loss, distance = critic_loss(critic, generator, batch, noise, mix, config.gradient_penalty)
            optimizers[1].zero_grad(set_to_none=True)
            loss.backward()
            optimizers[1].step()
        running.append(distance)
        batch, noise = _draw(train, config, generators[0])
        critic.requires_grad_(False)
        loss = -critic(generator(noise[0], *batch[1:], draws=noise[1]), *batch[1:]).mean()
        optimizers[0].zero_grad(set_to_none=True)
        loss.backward()
        optimizers[0].step()
        critic.requires_grad_(True)
        state.step += 1
        if state.step % config.eval_every == 0 or state.step == config.max_steps:
            value = validation_distance(generator, fixed)
            estimate = float(np.mean(running))
            running.clear()
            improved = state.record(estimate, value)
            weights = {k: v.detach().clone() for k, v in generator.state_dict().items()} if improved else {}
            on_validation(state, weights)
            if progress is not None:
                progress(state.step, config.max_steps, estimate, value)
    return state


def _draw(data: BlockData, config: GANConfig, generator: torch.Generator) -> tuple[tuple, tuple]:
    # a batch of blocks with its conditions dropped, and the generator's noise: (Gaussian input, type-draw uniforms)
    batch = list(data.batch(data.draw(config.batch_size, generator)))
    batch[3] = drop_conditions(batch[3], config.condition_dropout, generator)
    noise = torch.randn((config.batch_size, config.noise), generator=generator, device=batch[0].device)
    return tuple(batch), (noise, type_draws((config.batch_size, config.block), generator, batch[0].device))


def _validation_set(validation: BlockData, config: GANConfig, generator: torch.Generator):
    size = min(config.validation_blocks, validation.starts.shape[0])
    device = validation.starts.device
    starts = validation.starts[torch.randperm(validation.starts.shape[0], generator=generator, device=device)[:size]]
    noise = torch.randn((size, config.noise), generator=generator, device=device)
    return validation.batch(starts), (noise, type_draws((size, config.block), generator, device))


def validation_distance(generator: Generator, fixed) -> float:
    """Return the mean over message-vector columns of the 1-D Wasserstein distance, generated vs real blocks."""
    generator.eval()
    (target, *condition), (noise, draws) = fixed
    with torch.no_grad():
        fake = torch.cat([
            generator(noise[i : i + 512], *(c[i : i + 512] for c in condition), draws=draws[i : i + 512])
            for i in range(0, noise.shape[0], 512)
        ])  # fmt: skip
    real = torch.sort(target.flatten(0, 1), dim=0).values
    generated = torch.sort(fake.flatten(0, 1), dim=0).values
    return float(torch.mean(torch.abs(real - generated)))
