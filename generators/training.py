"""The training loop of the diffusion generator: DDPM noise-prediction loss on blocks of messages, condition
dropout, Adam, validation on fixed blocks, early stopping, and seeded, deterministic runs on CPU.

Every random draw (initial weights, batches, diffusion steps, noise, dropped conditions) comes from an explicit
``torch.Generator`` seeded from the run's root seed through ``numpy.random.SeedSequence``; torch's global generator
is never seeded or used. On CPU the loop runs under ``torch.use_deterministic_algorithms(True)`` (restored after),
so one seed gives the same weights every time, and a run resumed from a checkpoint ends where an uninterrupted one
does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from generators.config import DiffusionConfig
from generators.encoding import NULL_REGIME, EncodedFlow
from generators.schedule import NoiseSchedule
from simlab.errors import DataError

Progress = Callable[[int, int, float, "float | None"], None]


CPU_THREADS = 1


@contextmanager
def deterministic(device: torch.device, threads: int = CPU_THREADS) -> Iterator[None]:
    """Run the body with deterministic algorithms and ``threads`` intra-op threads on CPU (both restored after).

    One thread by default: the same bytes on every machine, and no thread oversubscription on a shared one (two
    threads on a busy 2-core machine ran a training step of the tiny model 18 times slower than one).
    """
    if device.type != "cpu":
        yield
        return
    previous = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    previous_threads = torch.get_num_threads()
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous, warn_only=warn_only)
        torch.set_num_threads(previous_threads)


def torch_generator(seed: np.random.SeedSequence, device: torch.device) -> torch.Generator:
    """Return a torch generator on ``device`` seeded from a numpy SeedSequence (its first 63-bit word)."""
    generator = torch.Generator(device=device)
    generator.manual_seed(int(seed.generate_state(1, np.uint64)[0] >> np.uint64(1)))
    return generator


class BlockData:
    """The blocks of one span: ``history`` messages, then ``block`` target messages, the book and the regime.

    Parameters
    ----------
    flow
        The encoded span.
    config
        ``history`` and ``block``.
    device
        Where the tensors live.
    source
        Names the span in errors.
    """

    def __init__(self, flow: EncodedFlow, config: DiffusionConfig, device: torch.device, source: str) -> None:
        n = len(flow)
        if n < config.history + config.block:
            raise DataError(
                f"{source}: a block needs history {config.history} + block {config.block} messages; got {n}"
            )
        self.vectors = torch.as_tensor(flow.vectors, device=device)
        self.book = torch.as_tensor(flow.book, device=device)
        self.regime = torch.as_tensor(flow.regime, device=device)
        self.starts = torch.arange(config.history, n - config.block + 1, device=device)
        self.history_offsets = torch.arange(-config.history, 0, device=device)
        self.block_offsets = torch.arange(config.block, device=device)

    def batch(self, starts: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Return (target, history, book, regime) of the blocks starting at message indices ``starts``."""
        target = self.vectors[starts[:, None] + self.block_offsets]
        history = self.vectors[starts[:, None] + self.history_offsets]
        return target, history, self.book[starts], self.regime[starts]

    def draw(self, size: int, generator: torch.Generator) -> torch.Tensor:
        """Return ``size`` block starts drawn uniformly with replacement."""
        pick = torch.randint(0, self.starts.shape[0], (size,), generator=generator, device=self.starts.device)
        return self.starts[pick]


@dataclass
class TrainState:
    """Where training stands: steps done, the best validation loss and when, validations without improvement."""

    step: int = 0
    best_loss: float = float("inf")
    best_step: int = 0
    bad: int = 0
    losses: list[list[float]] = field(default_factory=list)  # [step, train loss, validation loss]

    def to_dict(self) -> dict:
        """Return the state as a JSON-serialisable mapping."""
        return asdict(self)

    def record(self, train_loss: float, value: float) -> bool:
        """Append a validation (step, training loss, validation loss); return whether its loss is the best so far."""
        self.losses.append([self.step, train_loss, value])
        improved = value < self.best_loss
        if improved:
            self.best_loss, self.best_step, self.bad = value, self.step, 0
        else:
            self.bad += 1
        return improved


def drop_conditions(regime: torch.Tensor, probability: float, generator: torch.Generator) -> torch.Tensor:
    """Replace each regime variable, and independently all of a row's, by the null index with ``probability``."""
    if probability <= 0:
        return regime
    one = torch.rand(regime.shape, generator=generator, device=regime.device) < probability
    every = torch.rand((regime.shape[0], 1), generator=generator, device=regime.device) < probability
    return torch.where(one | every, torch.full_like(regime, NULL_REGIME), regime)


def loss_of(model, schedule: NoiseSchedule, batch, timesteps: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """Return the DDPM noise-prediction loss (mean squared error) of a batch at given steps and noise."""
    target, history, book, regime = batch
    noisy = schedule.add_noise(target, noise, timesteps)
    return torch.mean((model(noisy, timesteps, history, book, regime) - noise) ** 2)


def train_loop(
    model: torch.nn.Module,
    schedule: NoiseSchedule,
    config: DiffusionConfig,
    data: tuple[BlockData, BlockData],
    *,
    generators: tuple[torch.Generator, torch.Generator],
    optimizer: torch.optim.Optimizer,
    state: TrainState,
    on_validation: Callable[[TrainState, dict], None],
    progress: Progress | None = None,
) -> TrainState:
    """Train until ``max_steps`` or ``patience`` validations without improvement; validate every ``eval_every``.

    ``generators`` are the training generator (batches, steps, noise, dropout; advanced in place) and one used
    once for the fixed validation blocks. ``on_validation(state, best_weights_or_empty)`` is called after every
    validation (the loop's checkpoint hook), with the model's weights when they are the best so far.
    """
    train, validation = data
    fixed = _validation_set(validation, schedule, config, generators[1])
    running = []
    while state.step < config.max_steps and state.bad < config.patience:
        model.train()
        starts = train.draw(config.batch_size, generators[0])
        batch = list(train.batch(starts))
        batch[3] = drop_conditions(batch[3], config.condition_dropout, generators[0])
        device = starts.device
        timesteps = torch.randint(0, schedule.steps, (starts.shape[0],), generator=generators[0], device=device)
        noise = torch.randn(batch[0].shape, generator=generators[0], device=device)
        loss = loss_of(model, schedule, batch, timesteps, noise)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        state.step += 1
        running.append(float(loss.detach()))
        if state.step % config.eval_every == 0 or state.step == config.max_steps:
            value = _validate(model, schedule, fixed)
            train_loss = float(np.mean(running))
            running.clear()
            improved = state.record(train_loss, value)
            on_validation(state, {k: v.detach().clone() for k, v in model.state_dict().items()} if improved else {})
            if progress is not None:
                progress(state.step, config.max_steps, train_loss, value)
    return state


def _validation_set(validation: BlockData, schedule, config: DiffusionConfig, generator: torch.Generator):
    size = min(config.validation_blocks, validation.starts.shape[0])
    device = validation.starts.device
    starts = validation.starts[torch.randperm(validation.starts.shape[0], generator=generator, device=device)[:size]]
    batch = validation.batch(starts)
    timesteps = torch.randint(0, schedule.steps, (size,), generator=generator, device=device)
    noise = torch.randn(batch[0].shape, generator=generator, device=device)
    return batch, timesteps, noise


def _validate(model, schedule, fixed) -> float:
    model.eval()
    batch, timesteps, noise = fixed
    with torch.no_grad():
        total, count = 0.0, 0
        for first in range(0, timesteps.shape[0], 512):
            part = slice(first, first + 512)
            piece = tuple(tensor[part] for tensor in batch)
            loss = loss_of(model, schedule, piece, timesteps[part], noise[part])
            total, count = total + float(loss) * piece[0].shape[0], count + piece[0].shape[0]
    return total / count
