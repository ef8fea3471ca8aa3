"""The training loop of the diffusion generator: DDPM noise-prediction loss on blocks of messages, condition
dropout, Adam, a moving average of the weights, validation on fixed blocks, early stopping, and seeded,
deterministic runs on CPU.

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
from generators.encoding import M_DT, MESSAGE_WIDTH, N_QUINTILES, NULL_REGIME, REGIME_WINDOW, EncodedFlow
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

    When the flow carries ``known`` rows (an encoding fitted with ``known_depth_only``), a block is kept only if
    every book its encoded values read is known in the encoded levels: the books before its ``history`` messages
    (their ``level``), the conditioning book before its first target and the books before its targets, that is
    rows ``[start - history, start + block)``. ``dropped`` counts the others; no block left is refused.
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
        # the spread (ticks, from the last quoted bests) of the book before each message
        reference = flow.messages.reference
        self.spread = torch.as_tensor(reference[:, 1] - reference[:, 0], device=device)
        starts = np.arange(config.history, n - config.block + 1)
        self.dropped = 0
        if flow.known is not None:
            starts = known_starts(flow.known, starts, config.history, config.block, source)
            self.dropped = n - config.block + 1 - config.history - starts.size
        self.starts = torch.as_tensor(starts, device=device)
        self.history_offsets = torch.arange(-config.history, 0, device=device)
        self.block_offsets = torch.arange(config.block, device=device)
        self._balance: torch.Tensor | None = None  # the regime-balanced sampling law, built on first use
        self._varies: torch.Tensor | None = None  # the book columns not constant on the span, built on first use
        # rows ahead the label measures (the past label is this far back; the GAN has no such option)
        self.window = getattr(config, "condition_window", REGIME_WINDOW)

    def batch(self, starts: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Return (target, history, book, regime) of the blocks starting at message indices ``starts``."""
        target = self.vectors[starts[:, None] + self.block_offsets]
        history = self.vectors[starts[:, None] + self.history_offsets]
        return target, history, self.book[starts], self.regime[starts]

    @property
    def book_varies(self) -> torch.Tensor:
        """The book-state columns that are not constant on the span (float 0/1, ``(book_width,)``)."""
        if self._varies is None:
            self._varies = (self.book != self.book[:1]).any(dim=0).to(self.book.dtype)
        return self._varies

    def draw(self, size: int, generator: torch.Generator) -> torch.Tensor:
        """Return ``size`` block starts drawn uniformly with replacement."""
        pick = torch.randint(0, self.starts.shape[0], (size,), generator=generator, device=self.starts.device)
        return self.starts[pick]

    def draw_balanced(self, size: int, generator: torch.Generator) -> torch.Tensor:
        """Return ``size`` block starts drawn with replacement, regime-balanced (:func:`transition_weights`)."""
        if self._balance is None:
            weights = transition_weights(self.regime.cpu().numpy(), self.window)[self.starts.cpu().numpy()]
            self._balance = torch.as_tensor(weights / weights.sum(), dtype=torch.float64, device=self.starts.device)
        pick = torch.multinomial(self._balance, size, replacement=True, generator=generator)
        return self.starts[pick]


def known_starts(known: np.ndarray, starts: np.ndarray, history: int, block: int, source: str) -> np.ndarray:
    """Return the ``starts`` whose rows ``[start - history, start + block)`` are all ``known``; refuse none left."""
    unknown = np.concatenate([[0], np.cumsum(~np.asarray(known, dtype=bool))])
    kept = starts[unknown[starts + block] == unknown[starts - history]]
    if kept.size == 0:
        raise DataError(
            f"{source}: known_depth_only leaves no block: all {starts.size} blocks of history {history} + block "
            f"{block} messages read a book with an unknown cell ({int(unknown[-1])} of {known.size} rows unknown)"
        )
    return kept


def transition_weights(regime: np.ndarray, window: int = REGIME_WINDOW) -> np.ndarray:
    """Return a sampling weight per message that makes every (past quintile, asked quintile) pair equally likely.

    The asked quintile of message *i* is its regime (measured over the ``window`` rows from *i* on); the past one is
    that of message *i - window* (the window that ends at *i*, which the history and the book mostly reveal). In the
    data the two mostly agree, so a model learns to read the regime from the history and to ignore the condition;
    a counterfactual asks for the pairs the data rarely hold (a calm past, a volatile future). For each regime
    variable the weight of a message is one over the count of its pair, so each of the 25 pairs weighs the same;
    a message's weight is the mean over the variables. The first ``window`` messages, without a past, weigh 0.
    """
    n = regime.shape[0]
    out = np.zeros(n)
    if n <= window:
        raise DataError(f"regime-balanced sampling needs more than {window} messages; got {n}")
    for j in range(regime.shape[1]):
        pairs = regime[: n - window, j] * N_QUINTILES + regime[window:, j]
        counts = np.bincount(pairs, minlength=N_QUINTILES * N_QUINTILES)
        out[window:] += 1.0 / counts[pairs]
    return out / regime.shape[1]


@dataclass
class TrainState:
    """Where training stands: steps done, the best validation loss and when, validations without improvement."""

    step: int = 0
    best_loss: float = float("inf")
    best_step: int = 0
    bad: int = 0
    losses: list[list[float]] = field(default_factory=list)  # [step, train loss, validation loss]
    # [step, validation loss with every regime null - with the true regime] (diffusion only): what the model
    # has learned from the condition
    condition_gain: list[list[float]] = field(default_factory=list)

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


def column_weights(config: DiffusionConfig, device: torch.device) -> torch.Tensor:
    """Return the loss weight of each message-vector column: ``time_weight`` on the inter-arrival time, 1 on the rest,
    scaled to mean 1 (so the loss stays on the scale of an unweighted one)."""
    weights = torch.ones(MESSAGE_WIDTH, device=device)
    weights[M_DT] = config.time_weight
    return weights / weights.mean()


def block_weights(data: BlockData, starts: torch.Tensor, config: DiffusionConfig) -> torch.Tensor | None:
    """Return the loss weight of the blocks starting at ``starts``: ``wide_spread_weight`` where the book before the
    first target message has a spread of at least ``wide_spread_ticks`` ticks, 1 elsewhere; None when the option is
    off (0 ticks or a weight of 1), so the loss is computed as before."""
    if config.wide_spread_ticks <= 0 or config.wide_spread_weight == 1.0:
        return None
    return torch.where(data.spread[starts] >= config.wide_spread_ticks, float(config.wide_spread_weight), 1.0)


def loss_of(
    model,
    schedule: NoiseSchedule,
    batch,
    timesteps: torch.Tensor,
    noise: torch.Tensor,
    weights: torch.Tensor,
    blocks: torch.Tensor | None = None,
) -> torch.Tensor:
    """Return the DDPM noise-prediction loss (mean squared error, columns weighted) of a batch at given steps, noise;
    with ``blocks`` (one weight per block, :func:`block_weights`) each block's squared errors are also multiplied by
    its weight (the mean is still over every element)."""
    target, history, book, regime = batch
    noisy = schedule.add_noise(target, noise, timesteps)
    squared = (model(noisy, timesteps, history, book, regime) - noise) ** 2 * weights
    return torch.mean(squared if blocks is None else squared * blocks[:, None, None])


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
    average: torch.nn.Module | None = None,
) -> TrainState:
    """Train until ``max_steps`` or ``patience`` validations without improvement; validate every ``eval_every``.

    ``generators`` are the training generator (batches, steps, noise, dropout; advanced in place) and one used
    once for the fixed validation blocks. ``on_validation(state, best_weights_or_empty)`` is called after every
    validation (the loop's checkpoint hook), with the model's weights when they are the best so far. With
    ``average`` (a copy of ``model``), it follows the model's weights after every step (:func:`update_average`
    with ``config.ema_decay``) and is what is validated and handed to ``on_validation``.
    """
    train, validation = data
    kept = model if average is None else average
    fixed = _validation_set(validation, schedule, config, generators[1])
    weights = column_weights(config, validation.starts.device)
    running = []
    while state.step < config.max_steps and state.bad < config.patience:
        model.train()
        batch, blocks = _draw(train, config, generators[0], weighted=True)
        device = batch[0].device
        timesteps = torch.randint(0, schedule.steps, (batch[0].shape[0],), generator=generators[0], device=device)
        noise = torch.randn(batch[0].shape, generator=generators[0], device=device)
        loss = loss_of(model, schedule, batch, timesteps, noise, weights, blocks)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        state.step += 1
        if average is not None:
            update_average(average, model, config.ema_decay, state.step)
        running.append(float(loss.detach()))
        if state.step % config.eval_every == 0 or state.step == config.max_steps:
            value, unconditioned = _validate(kept, schedule, fixed, weights)
            train_loss = float(np.mean(running))
            running.clear()
            state.condition_gain.append([state.step, unconditioned - value])
            improved = state.record(train_loss, value)
            on_validation(state, {k: v.detach().clone() for k, v in kept.state_dict().items()} if improved else {})
            if progress is not None:
                progress(state.step, config.max_steps, train_loss, value)
    return state


def update_average(average: torch.nn.Module, model: torch.nn.Module, decay: float, step: int) -> None:
    """Move ``average``'s weights towards ``model``'s: ``w <- d w + (1 - d) w_model``, ``d = min(decay, (1 + step) /
    (10 + step))`` (the warm-up of the usual EMA of diffusion models, so the first steps do not keep the initial
    weights)."""
    d = min(float(decay), (1.0 + step) / (10.0 + step))
    with torch.no_grad():
        for mean, current in zip(average.parameters(), model.parameters(), strict=True):
            mean.mul_(d).add_(current.detach(), alpha=1.0 - d)


def _draw(data: BlockData, config: DiffusionConfig, generator: torch.Generator, weighted: bool = False):
    # (target, history, book, regime) of a batch: `balance` of it regime-balanced with the condition kept, the rest
    # drawn uniformly with the condition dropout (so the null condition still learns the data's own law); with
    # `weighted`, (that batch, its block weights or None) (block_weights; they draw nothing)
    balanced = int(round(config.balance * config.batch_size))
    starts = data.draw(config.batch_size - balanced, generator)
    batch = list(data.batch(starts))
    batch[3] = drop_conditions(batch[3], config.condition_dropout, generator)
    if balanced:
        more = data.draw_balanced(balanced, generator)
        extra = data.batch(more)
        batch = [torch.cat([a, b]) for a, b in zip(batch, extra, strict=True)]
        starts = torch.cat([starts, more])
    if config.book_noise > 0:
        batch[2] = perturb_book(batch[2], config.book_noise, data.book_varies, generator)
    if config.history_dropout > 0:
        batch[1], batch[2] = hide_history(batch[1], batch[2], config.history_dropout, generator)
    return (batch, block_weights(data, starts, config)) if weighted else batch


def perturb_book(book: torch.Tensor, scale: float, varies: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Return the normalised book states plus Gaussian noise of standard deviation ``scale`` on the columns that
    ``varies`` marks (1; the columns constant on the training span stay as they are), drawn from ``generator``."""
    noise = torch.randn(book.shape, generator=generator, device=book.device, dtype=book.dtype)
    return book + scale * noise * varies


def hide_history(
    history: torch.Tensor, book: torch.Tensor, probability: float, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the history and book with each row set to zeros with ``probability`` (the rows are independent).

    A hidden history (every message's type columns 0, which no real message has) leaves the regime label as the
    only thing that tells the block's regime, so the network must learn to read it.
    """
    hidden = torch.rand((history.shape[0],), generator=generator, device=history.device) < probability
    return history.masked_fill(hidden[:, None, None], 0.0), book.masked_fill(hidden[:, None], 0.0)


def _validation_set(validation: BlockData, schedule, config: DiffusionConfig, generator: torch.Generator):
    size = min(config.validation_blocks, validation.starts.shape[0])
    device = validation.starts.device
    starts = validation.starts[torch.randperm(validation.starts.shape[0], generator=generator, device=device)[:size]]
    batch = validation.batch(starts)
    timesteps = torch.randint(0, schedule.steps, (size,), generator=generator, device=device)
    noise = torch.randn(batch[0].shape, generator=generator, device=device)
    return batch, timesteps, noise


def _validate(model, schedule, fixed, weights: torch.Tensor) -> tuple[float, float]:
    # the validation loss with the true regime, and with every regime variable null
    model.eval()
    batch, timesteps, noise = fixed
    null = (*batch[:3], torch.full_like(batch[3], NULL_REGIME))
    out = []
    with torch.no_grad():
        for blocks in (batch, null):
            total, count = 0.0, 0
            for first in range(0, timesteps.shape[0], 512):
                part = slice(first, first + 512)
                piece = tuple(tensor[part] for tensor in blocks)
                loss = loss_of(model, schedule, piece, timesteps[part], noise[part], weights)
                total, count = total + float(loss) * piece[0].shape[0], count + piece[0].shape[0]
            out.append(total / count)
    return out[0], out[1]
