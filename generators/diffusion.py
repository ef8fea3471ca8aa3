"""The conditional diffusion generator of order flow (after TRADES), behind the generators' interface.

``DiffusionGenerator(config).fit(dataset, seed=...)`` encodes the training span (:mod:`generators.encoding`),
trains the denoiser (:mod:`generators.networks`) on the noise process (:mod:`generators.schedule`) with the loop of
:mod:`generators.training`, stops early on the validation span and keeps the best weights; ``sample(n_paths,
duration, generator=...)`` runs few-step DDIM chains, each generating a block of messages, and rolls them out on
the matching engine (:mod:`generators.rollout`), one book per path, batched over paths. Sampling starts from the
**context**: the book and the last messages at the end of the validation span, i.e. where the held-out test span
starts. The regime condition (quintiles 1-5 by name, :data:`generators.encoding.REGIMES`) is optional: what is left
unset is dropped (the null condition the model was trained with), and ``guidance`` > 1 pushes the samples towards
the condition (classifier-free guidance).
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
from generators.config import DiffusionConfig, preset
from generators.networks import Denoiser, init_weights
from generators.rollout import rollout
from generators.schedule import NoiseSchedule
from generators.training import BlockData, TrainState, deterministic, torch_generator, train_loop
from simlab.errors import DataError, ParameterError
from simlab.random import spawn
from simlab.schema import NO_PRICE

FAMILY = "diffusion"


class DiffusionGenerator:
    """A conditional denoising diffusion model of order flow, rolled out on the matching engine.

    Parameters
    ----------
    config
        Hyperparameters (default: :func:`generators.config.preset`, ``paper`` on CUDA, ``tiny`` otherwise).
    device
        Torch device (default: CUDA when available, else CPU).
    """

    def __init__(self, config: DiffusionConfig | None = None, *, device: str | torch.device | None = None) -> None:
        self.config = config if config is not None else preset()
        if not isinstance(self.config, DiffusionConfig):
            raise ParameterError(f"`config` of DiffusionGenerator must be a DiffusionConfig; got {config!r}")
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.schedule = NoiseSchedule(self.config.diffusion_steps)
        self.model_: Denoiser | None = None
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
    ) -> DiffusionGenerator:
        """Fit the encoding and train the denoiser; return ``self``.

        Parameters
        ----------
        dataset
            ``{"train": {"events", "books"}, "validation": {...}}`` (e.g. :func:`generators.data.split_by_time`;
            a ``"test"`` span is never read).
        seed
            Root seed of the run (weights, batches, noise).
        checkpoint
            Folder written at every validation (the model so far, with the training state).
        resume
            Continue from ``checkpoint`` when it holds a run with the same hyperparameters, seed and data encoding.
        progress
            Called after every validation with (step, max steps, training loss, validation loss).
        """
        spans = {name: _span(dataset, name) for name in ("train", "validation")}
        seeds = np.random.SeedSequence(_seed(seed)).spawn(3)
        encoding = enc.fit_encoding(*spans["train"], history=self.config.history, source="train span")
        flows = {name: enc.encode(*span, encoding, source=f"{name} span") for name, span in spans.items()}
        data = tuple(BlockData(flows[n], self.config, self.device, f"{n} span") for n in ("train", "validation"))
        self.encoding_, self.seed_ = encoding, _seed(seed)
        self.context_ = _context(flows["validation"], spans["validation"], encoding)
        model = Denoiser(self.config).to(self.device)
        init_weights(model, torch_generator(seeds[0], torch.device("cpu")))
        optimizer = torch.optim.Adam(model.parameters(), lr=self.config.learning_rate)
        train_generator = torch_generator(seeds[1], self.device)
        state, best = TrainState(), {k: v.detach().clone() for k, v in model.state_dict().items()}
        if resume and checkpoint is not None and Path(checkpoint).exists():
            state, best = self._resume(Path(checkpoint), model, optimizer, train_generator)

        def on_validation(current: TrainState, weights: dict) -> None:
            best.update(weights)
            if checkpoint is not None:
                self._save(Path(checkpoint), best, current, model, optimizer, train_generator)

        generators = (train_generator, torch_generator(seeds[2], self.device))
        with deterministic(self.device):
            state = train_loop(
                model, self.schedule, self.config, data, generators=generators,
                optimizer=optimizer, state=state, on_validation=on_validation, progress=progress,
            )  # fmt: skip
        model.load_state_dict(best)
        self.model_, self.training_ = model.eval(), state
        return self

    def _resume(self, path: Path, model, optimizer, generator) -> tuple[TrainState, dict]:
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
        model.load_state_dict(tensors["current"])
        optimizer.load_state_dict(tensors["optimizer"])
        generator.set_state(tensors["generator"])
        return TrainState(**meta["training"]), dict(tensors["model"])

    def _save(self, path: Path, best: dict, state: TrainState, model, optimizer, generator) -> None:
        tensors = {"model": best, "context": _context_tensors(self.context_)}
        if state is not None and model is not None:
            tensors.update(current=model.state_dict(), optimizer=optimizer.state_dict())
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
        """Write the fitted model (best weights, encoding, context, hyperparameters) to the folder ``path``."""
        self._check_fitted()
        return save_checkpoint(Path(path), self._meta(self.training_), {
            "model": self.model_.state_dict(), "context": _context_tensors(self.context_)
        })  # fmt: skip

    @classmethod
    def load(cls, path: str | Path, *, device: str | torch.device | None = None) -> DiffusionGenerator:
        """Load a model saved by :meth:`save` or a training checkpoint; refuse it whole when it does not match."""
        meta, tensors = load_checkpoint(path, FAMILY)
        try:
            config = DiffusionConfig.from_dict(meta["config"], source=f"checkpoint {path}")
            encoding = enc.Encoding.from_dict(meta["encoding"], source=f"checkpoint {path}")
            generator = cls(config, device=device)
            model = Denoiser(config)
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
            Paths (>= 1), rolled out together (one batch of denoising chains per block).
        duration
            Seconds of flow per path.
        generator
            A ``torch.Generator`` (advanced in place) or an int seed; it draws the noise and seeds the order picks.
        regime
            Quintiles 1-5 by regime name (``{"volatility": 5, "depth": 1}``); unset names are dropped.
        guidance
            Classifier-free guidance weight (default: the config's).

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
            blocks = self._denoise(history, book, condition, weight, torch_gen)
            return self.encoding_.table(blocks.reshape(-1, enc.MESSAGE_WIDTH)).reshape(blocks.shape[0], -1, 6)

        paths = rollout(
            generate, self.encoding_, self.context_, n_paths=int(n_paths), duration_ns=int(round(duration * 1e9)),
            depth=depth, rngs=spawn(pick_seed, int(n_paths)), progress=progress, stop_when_stuck=stop_when_stuck,
        )  # fmt: skip
        attrs = {**self.context_["attrs"], "generator": FAMILY, "regime": str(dict(regime or {})), "guidance": weight}
        attrs.update(duration_s=float(duration))
        return [path.datasets(attrs, "DiffusionGenerator.sample") for path in paths]

    def _denoise(self, history, book, condition, weight: float, generator: torch.Generator) -> np.ndarray:
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
                sample = self.schedule.ddim_step(sample, noise, t, t_prev, bounds)
        return sample.cpu().numpy()

    def _check_fitted(self) -> None:
        if self.model_ is None:
            raise ParameterError("DiffusionGenerator is not fitted; call fit(dataset, seed=...) or load(path) first")


def _span(dataset: Mapping[str, Any], name: str) -> tuple[xr.Dataset, xr.Dataset]:
    if not isinstance(dataset, Mapping) or name not in dataset:
        found = sorted(dataset) if isinstance(dataset, Mapping) else type(dataset).__name__
        raise DataError(f"dataset: expected the spans 'train' and 'validation' (split_by_time); got {found}")
    span = dataset[name]
    if not isinstance(span, Mapping) or "events" not in span:
        found = type(span).__name__
        raise DataError(f"dataset {name!r} span: expected a mapping with 'events' and 'books'; got {found}")
    return span["events"], span.get("books")


def _seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ParameterError(f"`seed` must be a non-negative int; got {seed!r}")
    return int(seed)


def _seeded(seed: Any, device: torch.device) -> torch.Generator:
    return torch_generator(np.random.SeedSequence(_seed(seed)), device)


def _context(flow: enc.EncodedFlow, span: tuple[xr.Dataset, xr.Dataset], encoding: enc.Encoding) -> dict[str, Any]:
    events, books = span
    rows = max(encoding.history, enc.FLOW_WINDOW)
    end = _context_end(books, rows)
    names = ("bid_price", "bid_qty", "ask_price", "ask_qty")
    arrays = np.stack([books[name].values[end - rows : end + 1] for name in names], 1)
    if arrays.shape[2] < enc.DEPTH_LEVELS:
        pad = np.zeros((arrays.shape[0], 4, enc.DEPTH_LEVELS - arrays.shape[2]), np.int64)
        pad[:, [0, 2]] = NO_PRICE
        arrays = np.concatenate([arrays, pad], axis=2)
    return {
        "books": arrays.astype(np.int64),
        "table": flow.messages.table[end - rows : end].copy(),
        "ts_ns": int(events["ts_ns"].values[end]),
        "attrs": dict(flow.messages.attrs),
    }


def _context_end(books: xr.Dataset, rows: int) -> int:
    # the last book row of the span with levels 1-10 quoted on both sides (else both bests), after `rows` rows
    bid, ask = (books[f"{side}_qty"].values > 0 for side in ("bid", "ask"))
    depth = min(enc.DEPTH_LEVELS, bid.shape[1])
    for good in (bid[:, :depth].all(axis=1) & ask[:, :depth].all(axis=1), bid[:, 0] & ask[:, 0]):
        good[:rows] = False
        if good.any():
            return int(np.flatnonzero(good)[-1])
    raise DataError(
        f"validation span: the sampling context needs a book quoted on both sides after {rows} messages; found none "
        f"in {bid.shape[0]} rows"
    )


def _context_tensors(context: dict[str, Any]) -> dict[str, torch.Tensor]:
    return {name: torch.as_tensor(context[name]) for name in ("books", "table")}


def _jsonable(value: Any) -> Any:
    import json

    return json.loads(json.dumps(value))
