"""What the generators of order flow share: the fit and resume scaffolding, checkpoints, the sampling rollout.

A family (:class:`generators.diffusion.DiffusionGenerator`, :class:`generators.gan.GANGenerator`) subclasses
:class:`BookGenerator` and sets ``FAMILY`` (the checkpoint's family), ``CONFIG`` (its hyperparameter class) and
``NETWORK`` (the network kept by :meth:`BookGenerator.save`); it builds its networks and optimizers
(``_networks``), trains them (``_train``), restores and saves their training state (``_restore``, ``_state``) and
generates one block of messages per running path (``_blocks``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import torch
import xarray as xr

from generators import encoding as enc
from generators.checkpoint import load_checkpoint, save_checkpoint
from generators.condition import relabel
from generators.hidden_depth import HIDDEN_LEVELS, reveal_law, with_hidden_depth
from generators.rollout import RateGuard, check_thin_rate, check_trade_fill, rollout
from generators.rollout_fast import rollout_fast
from generators.smc import SMCOptions, smc_options, smc_rollout
from generators.training import BlockData, TrainState, deterministic, torch_generator
from simlab.errors import DataError, ParameterError
from simlab.random import spawn
from simlab.schema import NO_PRICE


class BookGenerator:
    """The base of the generators: fit on a split dataset, save, load and sample books from the context.

    Parameters
    ----------
    config
        Hyperparameters (an instance of ``CONFIG``; default: the family's preset for this machine).
    device
        Torch device (default: CUDA when available, else CPU).
    """

    FAMILY: ClassVar[str]
    CONFIG: ClassVar[type]
    NETWORK: ClassVar[type[torch.nn.Module]]

    def __init__(self, config: Any = None, *, device: str | torch.device | None = None) -> None:
        self.config = config if config is not None else self._preset()
        if not isinstance(self.config, self.CONFIG):
            name, kind = type(self).__name__, self.CONFIG.__name__
            raise ParameterError(f"`config` of {name} must be a {kind}; got {config!r}")
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model_: torch.nn.Module | None = None
        self.encoding_: enc.Encoding | None = None
        self.context_: dict[str, Any] | None = None
        self.training_: TrainState | None = None
        self.seed_: int | None = None

    # ------------------------------------------------------------------ family hooks
    @staticmethod
    def _preset() -> Any:
        raise NotImplementedError

    def _networks(self, seed: np.random.SeedSequence) -> tuple[tuple[torch.nn.Module, ...], tuple[Any, ...]]:
        raise NotImplementedError

    def _train(self, networks, data, generators, optimizers, state, on_validation, progress) -> TrainState:
        raise NotImplementedError

    def _restore(self, tensors: dict[str, Any], networks, optimizers) -> None:
        raise NotImplementedError

    def _state(self, networks, optimizers) -> dict[str, Any]:
        raise NotImplementedError

    def _blocks(self, history, book, condition, weight: float, generator: torch.Generator) -> np.ndarray:
        raise NotImplementedError

    # ------------------------------------------------------------------ training
    def fit(
        self,
        dataset: Mapping[str, Mapping[str, xr.Dataset]],
        *,
        seed: int,
        checkpoint: str | Path | None = None,
        resume: bool = False,
        progress: Callable[[int, int, float, float | None], None] | None = None,
    ) -> Self:
        """Fit the encoding and train the denoiser (the GAN: the generator against the critic); return ``self``.

        Parameters
        ----------
        dataset
            ``{"train": {"events", "books"}, "validation": {...}}`` (e.g. :func:`generators.data.split_by_time`;
            a ``"test"`` span is never read).
        seed
            Root seed of the run (weights, batches, noise, the GAN's dropped conditions).
        checkpoint
            Folder written at every validation (the best model so far, with the training state of every network;
            the GAN's critic is kept there, not in :meth:`save`).
        resume
            Continue from ``checkpoint`` when it holds a run with the same hyperparameters, seed and data encoding.
        progress
            Called after every validation with (step, max steps, training loss (the GAN: the critic's Wasserstein
            estimate), validation loss (the GAN: the validation distance)).
        """
        spans = {name: _span(dataset, name) for name in ("train", "validation")}
        seeds = np.random.SeedSequence(_seed(seed)).spawn(3)
        encoding = enc.fit_encoding(*spans["train"], history=self.config.history, source="train span")
        spans = {name: encoding.span(*span) for name, span in spans.items()}  # as the encoding reads them
        flows = {name: enc.encode(*span, encoding, source=f"{name} span") for name, span in spans.items()}
        if getattr(self.config, "condition_window", enc.REGIME_WINDOW) != enc.REGIME_WINDOW:
            flows = relabel(flows, spans, self.config.condition_window)  # the label of another window ahead
        data = tuple(BlockData(flows[n], self.config, self.device, f"{n} span") for n in ("train", "validation"))
        self.encoding_, self.seed_ = encoding, _seed(seed)
        self.context_ = _context(flows["validation"], spans["validation"], encoding)
        self.context_["hidden_depth"] = reveal_law(*spans["train"])  # None unless a narrow LOBSTER window
        networks, optimizers = self._networks(seeds[0])
        train_generator = torch_generator(seeds[1], self.device)
        state, best = TrainState(), {k: v.detach().clone() for k, v in networks[0].state_dict().items()}
        if resume and checkpoint is not None and Path(checkpoint).exists():
            state, best = self._resume(Path(checkpoint), networks, optimizers, train_generator)

        def on_validation(current: TrainState, weights: dict) -> None:
            best.update(weights)
            if checkpoint is not None:
                self._save(Path(checkpoint), best, current, networks, optimizers, train_generator)

        generators = (train_generator, torch_generator(seeds[2], self.device))
        with deterministic(self.device):
            state = self._train(networks, data, generators, optimizers, state, on_validation, progress)
        networks[0].load_state_dict(best)
        self.model_, self.training_ = networks[0].eval(), state
        return self

    def _resume(self, path: Path, networks, optimizers, generator) -> tuple[TrainState, dict]:
        meta, tensors = _load(path, self)
        # a resumed run may train longer (max_steps); everything else must be the checkpoint's
        config = {k: v for k, v in self.config.to_dict().items() if k != "max_steps"}
        stored = meta.get("config")
        if isinstance(stored, dict):  # an older checkpoint lacks the options added since: they take their defaults
            stored = type(self.config).from_dict(stored, source=f"checkpoint {path}").to_dict()
        theirs = {"config": {k: v for k, v in (stored or {}).items() if k != "max_steps"}}
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
        self._restore(tensors, networks, optimizers)
        generator.set_state(tensors["generator"])
        return TrainState(**meta["training"]), dict(tensors["model"])

    def _save(self, path: Path, best: dict, state: TrainState, networks, optimizers, generator) -> None:
        tensors: dict[str, Any] = {"model": best, "context": _context_tensors(self.context_)}
        tensors.update(self._state(networks, optimizers))
        tensors["generator"] = generator.get_state()
        save_checkpoint(path, self._meta(state), tensors)

    def _meta(self, state: TrainState | None) -> dict[str, Any]:
        return {
            "family": self.FAMILY,
            "encoding_version": self.encoding_.layout,
            "network_version": self.NETWORK.VERSION,
            "config": self.config.to_dict(),
            "encoding": self.encoding_.to_dict(),
            "seed": self.seed_,
            "training": None if state is None else state.to_dict(),
            "context_attrs": self.context_["attrs"],
            "context_ts_ns": int(self.context_["ts_ns"]),
            "context_hidden_depth": self.context_.get("hidden_depth"),
        }

    def save(self, path: str | Path) -> Path:
        """Write the fitted model (best weights, encoding, context, hyperparameters) to the folder ``path``."""
        self._check_fitted()
        return save_checkpoint(Path(path), self._meta(self.training_), {
            "model": self.model_.state_dict(), "context": _context_tensors(self.context_)
        })  # fmt: skip

    @classmethod
    def load(cls, path: str | Path, *, device: str | torch.device | None = None) -> Self:
        """Load a model saved by :meth:`save` or a training checkpoint; refuse it whole when it does not match."""
        meta, tensors = _load(path, cls)
        try:
            config = cls.CONFIG.from_dict(meta["config"], source=f"checkpoint {path}")
            encoding = enc.Encoding.from_dict(meta["encoding"], source=f"checkpoint {path}")
            generator = cls(config, device=device)
            model = cls.NETWORK(config, encoding.book_width)  # weights of the other book state do not fit
            model.load_state_dict(tensors["model"], strict=True)
            context = {name: tensors["context"][name].numpy() for name in ("books", "table")}
        except (KeyError, TypeError, RuntimeError) as error:
            raise DataError(f"checkpoint {path}: its weights or context do not fit its config ({error})") from None
        context.update(ts_ns=int(meta["context_ts_ns"]), attrs=dict(meta["context_attrs"]))
        context["hidden_depth"] = meta.get("context_hidden_depth")
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
        switches: Sequence[tuple[float, dict[str, int] | None]] = (),
        twin: bool = False,
        starts: Sequence[dict[str, Any]] | None = None,
        particles: int = 1,
        smc: Mapping[str, Any] | None = None,
        runaway: RateGuard | None = None,
        trade_fill: str = "queue",
        thin_rate: float = 0.0,
    ) -> list[dict[str, xr.Dataset]]:
        """Generate ``n_paths`` independent books for ``duration`` seconds from the context.

        Parameters
        ----------
        n_paths
            Paths (>= 1), rolled out together (one pass of the model per block for all running paths: a generator
            pass for the GAN, a batch of denoising chains for diffusion).
        duration
            Seconds of flow per path.
        generator
            A ``torch.Generator`` (advanced in place) or an int seed; it draws the noise and seeds the order picks.
        regime
            Quintiles 1-5 by regime name (``{"volatility": 5, "depth": 1}``); unset names are dropped (the null
            token).
        guidance
            Guidance weight (default: the config's): classifier-free for diffusion, in output space for the GAN.

        stop_when_stuck
            End a path on which no generated message applies any more (``stuck`` = 1 in its attributes) and finish
            the others, instead of raising.
        switches
            ``(seconds, regime)`` pairs, seconds increasing in ``(0, duration)``: from that second on, every path is
            sampled under ``regime`` (a regime switch inside the one rollout: each path goes on from its own
            history and book). A message generated before a switch that would land after it is regenerated under
            the new regime (it and the rest of its block count as discarded). The noise does not depend on the
            regime, so two runs with the same seed and the same switch times are equal up to the first switch whose
            regime differs.
        twin
            Roll out on the slow Python twin (:func:`generators.rollout.rollout`) instead of the numba kernels
            (:func:`generators.rollout_fast.rollout_fast`); both give the same bytes (for tests and benchmarks).
        starts
            One start state per path instead of the model's context (:func:`generators.starts.draw_starts`: real
            windows, e.g. in the asked regime). Each path runs on the context's clock (its ``ts_ns``); a start's
            own ``ts_ns`` and ``row`` are kept in the path's attributes (``start_ts_ns``, ``start_row``).
        particles
            Particles per output path (>= 1). Above 1 the paths are selected toward ``regime`` by sequential Monte
            Carlo (:mod:`generators.smc`): every path's ``particles`` copies are resampled at checkpoints by how far
            their measured regime is from the asked quintiles, and one of them, with its ancestors' history, is the
            output path (its ``smc_*`` attributes record the run). 1: plain sampling, the same bytes as before.
        smc
            Options of the selection (:class:`generators.smc.SMCOptions`: ``every_s``, ``window``, ``sharpness``,
            ``final_sharpness``, ``ess_threshold``);
            they need a ``regime``.
        runaway
            A :class:`generators.rollout.RateGuard`: end a path on which more than its ``messages`` messages apply
            within one ``seconds``-long interval of the path's clock (``runaway`` = 1 in its attributes; a model
            that feeds on its own output can speed its flow up far beyond the data's). None: no bound.
        trade_fill
            What a generated TRADE fills (:data:`generators.rollout.TRADE_FILLS`): ``"queue"``, its share of the best
            opposite level's lots, as many resting orders as that takes; ``"front"``, at most that level's front
            order, one fill, as one execution row of the data executes one order (the trades held below their
            share are counted, ``front_held``). The training does not depend on it.
        thin_rate
            Removals per order per second of the orders the flow left behind the best, which a level-1 file does
            not record (:class:`generators.rollout.BookPath`; estimate it on the training span with
            :func:`generators.thinning.behind_hazard`). 0 (the default): no thinning. Recorded as the paths'
            ``thin_rate_per_s``; the removals are counted, ``thinned``.

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
        if runaway is not None and not isinstance(runaway, RateGuard):
            raise ParameterError(f"`runaway` of sample must be a RateGuard or None; got {runaway!r}")
        check_trade_fill(trade_fill, "sample")
        thin_rate = check_thin_rate(thin_rate, "sample")
        if trade_fill == "front" and self.encoding_.trade_message == "order":
            raise ParameterError(
                "`trade_fill` of sample: a model of whole marketable orders (trade_message 'order') is sampled under "
                "trade_fill 'queue', which splits each order among the resting orders it meets; got 'front'"
            )
        condition = self._condition(regime)
        options = _smc_request(particles, smc, regime, switches)
        weight = self.config.guidance if guidance is None else float(guidance)
        torch_gen = generator if isinstance(generator, torch.Generator) else _seeded(generator, self.device)
        pick_seed = int(torch.randint(0, 2**62, (1,), generator=torch_gen, device=torch_gen.device).item())
        context, law = self._start_contexts(starts, int(n_paths), pick_seed), self.context_.get("hidden_depth")
        depth = max(enc.DEPTH_LEVELS, int(self.context_["books"].shape[2]))

        def generator_of(condition: torch.Tensor) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
            def generate(history: np.ndarray, book: np.ndarray) -> np.ndarray:
                blocks = self._blocks(history, book, condition, weight, torch_gen)
                return self.encoding_.table(blocks.reshape(-1, enc.MESSAGE_WIDTH)).reshape(blocks.shape[0], -1, 6)

            return generate

        later = [(int(round(s * 1e9)), generator_of(self._condition(r))) for s, r in _switches(switches, duration)]
        records: list[dict[str, Any]] = [{}] * int(n_paths)
        if int(particles) == 1:
            paths = (rollout if twin else rollout_fast)(
                generator_of(condition), self.encoding_, context, n_paths=int(n_paths),
                duration_ns=int(round(duration * 1e9)), depth=depth, rngs=spawn(pick_seed, int(n_paths)),
                progress=progress, stop_when_stuck=stop_when_stuck, switches=later, guard=runaway,
                trade_fill=trade_fill, thin_rate=thin_rate,
            )  # fmt: skip
        else:
            paths, records = smc_rollout(
                generator_of(condition), self.encoding_, context, n_paths=int(n_paths), particles=int(particles),
                duration_ns=int(round(duration * 1e9)), depth=depth, seed=pick_seed,
                regime=enc.regime_condition(regime, source="regime of sample"), options=options,
                levels=None if law is None else int(law["window_levels"]), twin=twin, stop_when_stuck=stop_when_stuck,
                guard=runaway, trade_fill=trade_fill, thin_rate=thin_rate,
                progress=None if progress is None else lambda done, total: progress(done * int(n_paths) // total,
                                                                                   int(n_paths)),
            )  # fmt: skip
        attrs = {**self.context_["attrs"], "generator": self.FAMILY, "regime": str(dict(regime or {}))}
        attrs.update(guidance=weight, duration_s=float(duration), trade_fill=trade_fill, thin_rate_per_s=thin_rate)
        if runaway is not None:
            attrs.update(runaway_messages=int(runaway.messages), runaway_seconds=float(runaway.seconds))
        if law is not None:
            attrs.update(window_levels=int(law["window_levels"]), hidden_levels=HIDDEN_LEVELS)
        if switches:
            attrs["switches"] = str([(float(s), dict(r or {})) for s, r in switches])
        own = [{}] * len(paths) if starts is None else [_start_attrs(start) for start in starts]
        source = f"{type(self).__name__}.sample"
        return [
            path.datasets({**attrs, **extra, **record}, source)
            for path, extra, record in zip(paths, own, records, strict=True)
        ]

    def _start_contexts(self, starts: Sequence[dict[str, Any]] | None, n_paths: int, pick_seed: int) -> Any:
        # the context (one for every path) or one start per path on the context's clock; a level-N window gets
        # hidden levels behind the visible ones (generators.hidden_depth), drawn per path for the starts
        law = self.context_.get("hidden_depth")
        if starts is None:
            if law is None:
                return self.context_
            return with_hidden_depth(self.context_, law, np.random.default_rng([pick_seed, 1]))
        if len(starts) != n_paths:
            raise ParameterError(f"`starts` of sample must hold one start per path ({n_paths}); got {len(starts)}")
        contexts = [{**start, "ts_ns": int(self.context_["ts_ns"])} for start in starts]
        if law is None:
            return contexts
        return [with_hidden_depth(c, law, np.random.default_rng([pick_seed, 1, p])) for p, c in enumerate(contexts)]

    def _condition(self, regime: dict[str, int] | None) -> torch.Tensor:
        return torch.as_tensor(enc.regime_condition(regime, source="regime of sample"), device=self.device)

    def _check_fitted(self) -> None:
        if self.model_ is None:
            raise ParameterError(
                f"{type(self).__name__} is not fitted; call fit(dataset, seed=...) or load(path) first"
            )


def _smc_request(particles: Any, smc: Any, regime: Any, switches: Any) -> SMCOptions | None:
    # the checked SMC options of sample (None for plain sampling, particles = 1)
    if isinstance(particles, bool) or not isinstance(particles, (int, np.integer)) or particles < 1:
        raise ParameterError(f"`particles` of sample must be an int >= 1; got {particles!r}")
    if smc is not None and not isinstance(smc, Mapping):
        raise ParameterError(f"`smc` of sample must be a mapping of options; got {type(smc).__name__}")
    options = smc_options(smc)
    if (particles > 1 or smc) and not any(q is not None for q in dict(regime or {}).values()):
        asked = "`particles` > 1" if particles > 1 else "`smc` options"
        raise ParameterError(f"{asked} of sample need a `regime` to select toward (e.g. {{'volatility': 5}}); got none")
    if particles > 1 and switches:
        raise ParameterError("`particles` > 1 of sample cannot be combined with `switches`; sample one regime")
    return options


def _start_attrs(start: dict[str, Any]) -> dict[str, int]:
    return {f"start_{key}": int(start[key]) for key in ("ts_ns", "row") if key in start}


def _load(path: str | Path, cls: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    # load_checkpoint, then refuse a network layout of another version (a checkpoint written before the field
    # existed holds version 1)
    meta, tensors = load_checkpoint(path, cls.FAMILY)
    version = meta.get("network_version", 1)
    if version != cls.NETWORK.VERSION:
        raise DataError(
            f"checkpoint {path}: network_version must be {cls.NETWORK.VERSION} (this simlab's {cls.NETWORK.__name__}); "
            f"got {version!r}; retrain the model"
        )
    return meta, tensors


def _switches(switches: Any, duration: float) -> list[tuple[float, dict[str, int] | None]]:
    try:
        pairs = [(float(at), regime) for at, regime in switches]
    except (TypeError, ValueError):
        raise ParameterError(f"`switches` of sample must be (seconds, regime) pairs; got {switches!r}") from None
    times = [at for at, _ in pairs]
    if any(not 0.0 < at < duration for at in times) or times != sorted(set(times)):
        raise ParameterError(
            f"`switches` of sample: the times must increase strictly within (0, {duration:g}) s; got {times}"
        )
    return pairs


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
    rows = max(encoding.history, enc.FLOW_WINDOW)
    return context_window(flow.messages.table, span, _context_end(span[1], rows), rows)


def context_window(table: np.ndarray, span: tuple[xr.Dataset, xr.Dataset], end: int, rows: int) -> dict[str, Any]:
    """Return the sampling context that ends at book row ``end`` of a span: its last ``rows`` messages and books.

    Parameters
    ----------
    table
        The span's integer messages (:func:`generators.encoding.message_table`; message *i* leads to book row
        *i* + 1).
    span
        The span's ``(events, books)``.
    end
        The book row that starts the rollout (>= ``rows``).
    rows
        Messages of history kept (the books hold one more row).

    Returns
    -------
    dict
        ``books`` int64 ``(rows + 1, 4, levels)`` (at least :data:`generators.encoding.DEPTH_LEVELS` levels, the
        missing ones empty), ``table`` int64 ``(rows, 6)``, ``ts_ns`` (the time of row ``end``) and ``attrs``.
    """
    events, books = span
    names = ("bid_price", "bid_qty", "ask_price", "ask_qty")
    arrays = np.stack([books[name].values[end - rows : end + 1] for name in names], 1)
    if arrays.shape[2] < enc.DEPTH_LEVELS:
        pad = np.zeros((arrays.shape[0], 4, enc.DEPTH_LEVELS - arrays.shape[2]), np.int64)
        pad[:, [0, 2]] = NO_PRICE
        arrays = np.concatenate([arrays, pad], axis=2)
    attrs = {name: events.attrs[name] for name in ("tick_size", "lot_size", "instrument", "venue")}
    return {
        "books": arrays.astype(np.int64),
        "table": np.asarray(table[end - rows : end], np.int64).copy(),
        "ts_ns": int(events["ts_ns"].values[end]),
        "attrs": attrs,
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
    return json.loads(json.dumps(value))
