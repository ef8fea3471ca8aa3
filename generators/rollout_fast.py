"""The batched rollout on numba kernels: all paths' books, windows and counts in arrays, one kernel call per block.

:func:`rollout_fast` does what :func:`generators.rollout.rollout` (the slow Python twin, one
:class:`~generators.rollout.BookPath` per path, which shares no code with the kernels) does, with the same rules,
counts and draws, so the same seed gives the same bytes: every block the model generates for the running paths is
applied by one call of :func:`generators.rollout_kernel.apply_blocks`, and the network inputs of the next block are
read, for all running paths at once, from ring buffers of the last messages and books (:func:`window_features`)
instead of being recomputed from Python lists path by path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr
from numba.typed import List

from generators import encoding as enc
from generators import rollout_kernel as K
from generators.rollout import (
    MAX_IDLE_CHAINS,
    REASONS,
    RateGuard,
    RolloutCounts,
    check_thin_rate,
    check_trade_fill,
    path_contexts,
    path_datasets,
    start_orders,
)
from simlab.book import _engine as E
from simlab.errors import DataError, SimlabError


@dataclass
class RolledPath:
    """One path's records after a fast rollout (the interface of :class:`generators.rollout.BookPath` that
    :meth:`generators.base.BookGenerator.sample` reads)."""

    events: np.ndarray  # int64 (n, 7): ts_ns, kind, side, price_ticks, qty_lots, order_id, message
    books: np.ndarray  # int64 (n, 4, depth)
    counts: RolloutCounts
    initial_orders: int

    def datasets(self, attrs: dict[str, Any], source: str) -> dict[str, xr.Dataset]:
        """Return the path's ``events`` and ``books`` (see :meth:`generators.rollout.BookPath.datasets`)."""
        return path_datasets(self.events, self.books, self.initial_orders, self.counts, attrs, source)


class PathBatch:
    """The state of ``n_paths`` paths started from one context each: engines, per-path arrays, windows and records.

    Parameters
    ----------
    context
        As for :class:`generators.rollout.BookPath`: one context for every path, or a list of one per path (the
        start states of :mod:`generators.starts`; they must share ``ts_ns``, the paths' common clock).
    depth, rngs, stop_when_stuck, guard, trade_fill, thin_rate
        As for :class:`generators.rollout.BookPath` (one generator per path).
    encoding
        The model's encoding (its history length sizes the windows).
    """

    def __init__(
        self,
        context: dict[str, Any] | list[dict[str, Any]],
        encoding: enc.Encoding,
        depth: int,
        rngs: list[np.random.Generator],
        stop_when_stuck: bool = False,
        guard: RateGuard | None = None,
        trade_fill: str = "queue",
        thin_rate: float = 0.0,
    ) -> None:
        self.front = check_trade_fill(trade_fill, "rollout") == "front"
        self.thin_rate = check_thin_rate(thin_rate, "rollout")
        n, window = len(rngs), max(encoding.history, enc.FLOW_WINDOW)
        contexts = path_contexts(context, n)
        ts = int(contexts[0]["ts_ns"])
        unique = {id(c): _context_arrays(c, window) for c in contexts}  # a context shared by paths is read once
        first = {id(c): c for c in contexts}
        started = {key: _start(books[-1], start_orders(first[key]), depth, ts) for key, (_, books) in unique.items()}
        tables, books = zip(*(unique[id(c)] for c in contexts), strict=True)
        starts = [started[id(c)] for c in contexts]
        self.initial = [(ev[:, K.EV_TS :], bk) for _, ev, bk, _ in starts]
        self.engines = List([tuple(a.copy() for a in state) for state, _, _, _ in starts])
        self.rngs = List(rngs)
        self.out = E.new_fills(256)
        last = np.array([[E.best_bid(state), E.best_ask(state)] for state, _, _, _ in starts], np.int64)
        # ts, last, next_id, counts, seen, done, idle, the rate guard's interval start and count, the first id
        # the flow places, the time thinning has covered (the order apply_blocks reads them in)
        self.paths = (np.full(n, ts, np.int64), last, np.array([s[3] for s in starts], np.int64),
                      np.zeros((n, K.N_COUNTS), np.int64), np.zeros(n, np.int64), np.zeros(n, np.bool_),
                      np.zeros(n, np.int64), np.full(n, ts, np.int64), np.zeros(n, np.int64),
                      np.array([s[3] for s in starts], np.int64), np.full(n, ts, np.int64))  # fmt: skip
        self.guard = (0, 1) if guard is None else (int(guard.messages), guard.window_ns)
        self.windows = (
            np.stack([t[-window:] for t in tables]),
            np.stack([b[-window - 1 :, :, : enc.DEPTH_LEVELS] for b in books]),
        )
        self.encoding = encoding
        self.beyond = np.array(
            enc._beyond(encoding.cancel_position, encoding.beyond_lots, "rollout", encoding.beyond_ticks), np.int64
        )
        vectors = {key: encoding.messages(table[-encoding.history :]) for key, (table, _) in unique.items()}
        self.vectors = np.stack([vectors[id(c)] for c in contexts])
        self.ev, self.bk = np.zeros((1024, K.EV_WIDTH), np.int64), np.zeros((1024, 4, depth), np.int64)
        self.records: list[tuple[np.ndarray, np.ndarray]] = []
        # each path's records before the last select: a chain of (parent, events, books) segments its ancestors
        # wrote (None: none yet); paths selected from one ancestor share its chain, nothing is copied
        self.lineage: list[tuple | None] = [None] * n
        self.stop_when_stuck, self.end_ns, self.final = bool(stop_when_stuck), ts, True

    @property
    def done(self) -> np.ndarray:
        """bool ``(n_paths,)``: the paths that reached the horizon of the piece (or got stuck, or ran away)."""
        return self.paths[5]

    def resume(self, end_ns: int, final: bool) -> None:
        """Go on to ``end_ns`` (the next switch, or the paths' end when ``final``); stuck and runaway paths stay
        ended."""
        self.end_ns, self.final = int(end_ns), bool(final)
        self.paths[5][:] = self.ended()

    def ended(self) -> np.ndarray:
        """bool ``(n_paths,)``: the paths ended early (stuck or runaway)."""
        return (self.paths[3][:, K.C_STUCK] > 0) | (self.paths[3][:, K.C_RUNAWAY] > 0)

    def features(self, active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the normalised histories ``(len(active), history, MESSAGE_WIDTH)`` and book states."""
        return window_features(self.vectors, *self.windows, self.paths[4], active, self.encoding)

    def apply(self, blocks: np.ndarray, active: np.ndarray) -> None:
        """Apply one generated block per active path (int64 ``(len(active), block, 6)``) on the kernel."""
        blocks = np.ascontiguousarray(blocks, np.int64)
        if blocks.size and (blocks[..., enc.TYPE].min() < 0 or blocks[..., enc.TYPE].max() >= enc.N_TYPES):
            found = sorted(set(np.unique(blocks[..., enc.TYPE]).tolist()) - set(range(enc.N_TYPES)))
            raise SimlabError(
                f"generator rollout: a generated message type must be in 0-{enc.N_TYPES - 1}; got {found}"
            )
        before = self.paths[4][active]
        result = K.apply_blocks(blocks, active.astype(np.int64), self.engines, self.rngs, self.out, self.paths,
                                self.windows, self.end_ns, self.final, self.stop_when_stuck, MAX_IDLE_CHAINS,
                                *self.guard, self.ev, self.bk, self.encoding.book_levels,
                                self.encoding.cancel_position != "level", self.beyond,
                                enc.price_signs(self.encoding.add_price), self.front, self.thin_rate)  # fmt: skip
        self.out, self.ev, self.bk, rows, outcome, path, status = result
        self.records.append((self.ev[:rows].copy(), self.bk[:rows].copy()))
        push_vectors(self.vectors, self.windows[0], before, self.paths[4][active], active, self.encoding)
        if outcome == K.STATUS_ENGINE:
            _check_engine(status)
        if outcome == K.STATUS_STUCK:
            raise SimlabError(
                f"generator rollout: {MAX_IDLE_CHAINS} generated blocks in a row (denoising chains or GAN passes) "
                f"gave no message that applies to the book; rejections so far {self.counts(path).rejected}"
            )

    def counts(self, path: int) -> RolloutCounts:
        """Return the counts of one path."""
        row = [int(v) for v in self.paths[3][path]]
        rejected = dict(zip(REASONS, row[K.R_BAD_VALUE : K.R_TRADE_BEYOND_BEST + 1], strict=True))
        return RolloutCounts(row[K.C_APPLIED], rejected, row[K.C_DISCARDED], row[K.C_CHAINS], row[K.C_UNFILLED],
                             row[K.C_STUCK], row[K.C_RUNAWAY], row[K.C_FRONT_HELD], row[K.C_THINNED])  # fmt: skip

    def select(self, index: np.ndarray, fresh: list[np.random.Generator | None]) -> None:
        """Replace every path by a copy of the path ``index[j]`` (sequential Monte Carlo resampling).

        Every per-path state follows its ancestor: the engine (copied, so copies diverge), the arrays (time, last
        quotes, next order id, counts, messages seen, done, idle, the rate guard's interval, the first flow id, the
        thinning clock), the ring buffers and vectors, the initial orders and the records so far (the ancestor's
        lineage, shared). ``fresh[j]`` is the new path's generator of order picks; None keeps the ancestor's own
        (allowed for one copy of each ancestor only: two paths must not share a stream).
        """
        index = np.asarray(index, np.int64)
        n = self.paths[0].shape[0]
        if index.shape != (n,) or len(fresh) != n or index.min() < 0 or index.max() >= n:
            raise SimlabError(f"PathBatch.select: expected {n} ancestors in 0-{n - 1}; got {index.tolist()}")
        kept = [int(a) for a, rng in zip(index, fresh, strict=True) if rng is None]
        if len(kept) != len(set(kept)):
            raise SimlabError("PathBatch.select: an ancestor's generator can be kept by one of its copies only")
        nodes = [self.lineage[p] if ev.shape[0] == 0 else (self.lineage[p], ev, bk)
                 for p, (ev, bk) in enumerate(self._segments())]  # fmt: skip
        self.records = []
        self.lineage = [nodes[a] for a in index]
        self.initial = [self.initial[a] for a in index]
        self.engines = List([tuple(array.copy() for array in self.engines[a]) for a in index])
        self.rngs = List([self.rngs[a] if rng is None else rng for a, rng in zip(index, fresh, strict=True)])
        self.paths = tuple(np.ascontiguousarray(array[index]) for array in self.paths)
        self.windows = tuple(np.ascontiguousarray(array[index]) for array in self.windows)
        self.vectors = np.ascontiguousarray(self.vectors[index])

    def last_books(self, rows: int) -> list[np.ndarray]:
        """Return each path's last ``rows`` book rows (int64 ``(<= rows, 4, depth)``), from its start book on (the
        last initial order's book) at most."""
        out = []
        for p, (_, bk) in enumerate(self._segments()):
            pieces, have, node = [bk], bk.shape[0], self.lineage[p]
            while node is not None and have < rows:
                pieces.append(node[2])
                have, node = have + node[2].shape[0], node[0]
            if have < rows:
                pieces.append(self.initial[p][1][-1:])
            out.append(np.concatenate(pieces[::-1])[-rows:])
        return out

    def _segments(self) -> list[tuple[np.ndarray, np.ndarray]]:
        # every path's records since the last select (events without the path column, books)
        n = self.paths[0].shape[0]
        ev = np.concatenate([r[0] for r in self.records] or [np.zeros((0, K.EV_WIDTH), np.int64)])
        bk = np.concatenate([r[1] for r in self.records] or [np.zeros((0,) + self.bk.shape[1:], np.int64)])
        order = np.argsort(ev[:, K.EV_PATH], kind="stable")
        bounds = np.searchsorted(ev[order, K.EV_PATH], np.arange(n + 1))
        return [(ev[order[bounds[p] : bounds[p + 1]], K.EV_TS :], bk[order[bounds[p] : bounds[p + 1]]])
                for p in range(n)]  # fmt: skip

    def results(self) -> list[RolledPath]:
        """Return every path's records (its initial orders first, then its ancestors' and its own) and counts."""
        out = []
        for p, (ev, bk) in enumerate(self._segments()):
            events, books, node = [ev], [bk], self.lineage[p]
            while node is not None:
                events.append(node[1])
                books.append(node[2])
                node = node[0]
            initial = self.initial[p]
            events.append(initial[0])
            books.append(initial[1])
            out.append(RolledPath(np.concatenate(events[::-1]), np.concatenate(books[::-1]), self.counts(p),
                                  initial[0].shape[0]))  # fmt: skip
        return out


def window_features(
    vectors: np.ndarray,
    tables: np.ndarray,
    books: np.ndarray,
    seen: np.ndarray,
    active: np.ndarray,
    encoding: enc.Encoding,
) -> tuple[np.ndarray, np.ndarray]:
    """Return the network inputs of paths from their ring buffers (the same numbers as ``BookPath.features``).

    Parameters
    ----------
    vectors
        float32 ``(paths, history, MESSAGE_WIDTH)`` ring buffers of the normalised vectors of the last messages
        (the next at ``seen % history``; see :func:`push_vectors`).
    tables
        int64 ``(paths, W, 6)`` ring buffers of the last ``W`` messages (the next is written at ``seen % W``).
    books
        int64 ``(paths, W + 1, 4, DEPTH_LEVELS)`` ring buffers of the books after them (the next at ``seen % (W + 1)``).
    seen
        Messages applied per path.
    active
        The paths to read.
    encoding
        The model's encoding.

    Returns
    -------
    tuple
        float32 histories ``(len(active), history, MESSAGE_WIDTH)`` and book states
        ``(len(active), encoding.book_width)``.
    """
    history = np.empty((active.shape[0],) + vectors.shape[1:], np.float32)
    raw = np.empty((active.shape[0], encoding.book_width))
    K.gather_inputs(vectors, tables, books, seen, active.astype(np.int64), enc.FLOW_WINDOW, enc.SHORT_WINDOW,
                    history, raw)  # fmt: skip
    return history, encoding.book(_book_state(raw))


def push_vectors(
    vectors: np.ndarray,
    tables: np.ndarray,
    before: np.ndarray,
    after: np.ndarray,
    active: np.ndarray,
    encoding: enc.Encoding,
) -> None:
    """Write the normalised vectors of the messages the paths applied since ``before`` into their ring buffers.

    A message's vector does not change once it is applied, so only the new ones are computed (at most ``history``
    per path); ``before`` and ``after`` are the active paths' applied counts before and after the block.
    """
    history, window = vectors.shape[1], tables.shape[1]
    new = np.minimum(after - before, history)
    if not new.any():
        return
    paths = np.repeat(active, new)
    seq = np.repeat(after - new, new) + np.arange(new.sum()) - np.repeat(np.cumsum(new) - new, new)
    vectors[paths, seq % history] = encoding.messages(tables[paths, seq % window])


def _book_state(raw: np.ndarray) -> np.ndarray:
    # encoding.book_features' logarithms of the raw state gather_inputs writes
    depth = enc.DEPTH_LEVELS
    out = raw.copy()
    out[:, : 2 * depth + 1] = np.log1p(np.ascontiguousarray(raw[:, : 2 * depth + 1]))
    out[:, enc.BOOK_WIDTH :] = np.log1p(np.ascontiguousarray(raw[:, enc.BOOK_WIDTH :]))  # the level positions, if any
    for column in (2 * depth + 3, 2 * depth + 4):
        out[:, column] = np.sign(raw[:, column]) * np.log1p(np.abs(raw[:, column]))
    return out


def _context_arrays(context: dict[str, Any], window: int) -> tuple[np.ndarray, np.ndarray]:
    table, books = np.asarray(context["table"], np.int64), np.asarray(context["books"], np.int64)
    if table.shape[0] < window or books.shape[0] < window + 1:
        raise DataError(
            f"sampling context: needs {window} messages and {window + 1} books; got {table.shape[0]} and "
            f"{books.shape[0]}"
        )
    return table, books


def _start(book: np.ndarray, orders: np.ndarray, depth: int, ts: int) -> tuple:
    # the engine of one path started from its context's start orders, its grid centred on the median quoted price
    # of the context's last book
    priced = book[[0, 2]][book[[1, 3]] > 0]
    centre = int(np.median(priced)) if priced.size else 0
    state, ev, bk, next_id, status = K.start_engine(np.ascontiguousarray(orders), depth, ts, centre)
    _check_engine(status)
    return state, ev, bk, next_id


def _check_engine(status: int) -> None:
    if status != E.OK:
        raise SimlabError(f"generator rollout: the engine refused an ADD: {E.STATUS_TEXT[status]}")


def rollout_fast(
    generate: Callable[[np.ndarray, np.ndarray], np.ndarray],
    encoding: enc.Encoding,
    context: dict[str, Any] | list[dict[str, Any]],
    *,
    n_paths: int,
    duration_ns: int,
    depth: int,
    rngs: list[np.random.Generator],
    progress: Callable[[int, int], None] | None = None,
    stop_when_stuck: bool = False,
    switches: list[tuple[int, Callable[[np.ndarray, np.ndarray], np.ndarray]]] = (),
    guard: RateGuard | None = None,
    trade_fill: str = "queue",
    thin_rate: float = 0.0,
) -> list[RolledPath]:
    """Run ``n_paths`` independent books on the kernels; the arguments and rules of :func:`generators.rollout.rollout`.

    Returns
    -------
    list of RolledPath
        Per path, the records (the initial orders first) and the counts.
    """
    start = int(path_contexts(context, n_paths)[0]["ts_ns"])
    ends = [start + int(offset) for offset, _ in switches] + [start + int(duration_ns)]
    makers = [generate] + [maker for _, maker in switches]
    batch = PathBatch(context, encoding, depth, rngs[:n_paths], stop_when_stuck, guard, trade_fill, thin_rate)
    for piece, (end_ns, maker) in enumerate(zip(ends, makers, strict=True)):
        batch.resume(end_ns, final=piece == len(ends) - 1)
        while not batch.done.all():
            active = np.flatnonzero(~batch.done)
            batch.apply(maker(*batch.features(active)), active)
            if progress is not None:
                progress(int(batch.done.sum()), n_paths)
    return batch.results()
