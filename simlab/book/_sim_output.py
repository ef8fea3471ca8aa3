"""Python side shared by the book simulators: buffers, opening the recording, run attributes, Datasets, checks.

A simulator's ``_Simulation`` derives from :class:`BookSimulation`, which holds the matching engine's state, the
fill buffer and the kernel buffers of :mod:`simlab.book._sim`; the simulator adds ``run`` (its kernel) and
``emit_resting`` (its kernel recording the orders resting after the warm-up), and names the counters that the
recording starts from zero (``reset_counters``). A simulation runs the warm-up unrecorded, calls
:meth:`BookSimulation.open_book`, runs the recorded span and returns :meth:`BookSimulation.datasets` with
:func:`run_attrs`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import xarray as xr

from simlab.book import _engine, _sim
from simlab.errors import ParameterError
from simlab.provenance import provenance
from simlab.random import RandomLike
from simlab.schema import make_books, make_events


class BookSimulation:
    """The engine state, the fill buffer, the event and book buffers and the counters of one simulation.

    Parameters
    ----------
    params
        The model's parameters (with ``tick_size``, ``lot_size``, ``instrument``, ``venue`` and ``to_dict``).
    state
        The matching engine's state (``_engine.new_engine``).
    fills
        Initial rows of the fill buffer.
    n_records, n_books, depth
        Initial event rows, book rows and book levels (the buffers grow in the kernels).
    ctr_size
        Length of the counter array (the model's ``CTR_SIZE``); order ids start at 1.
    sample_ns
        0: the book after every event record; > 0: the book every ``sample_ns`` ns from ``start_ns``.
    start_ns
        Time of the recording's start, ns since the epoch.
    source
        The ``source`` of the output Datasets (the public function's name).
    """

    reset_counters: tuple[int, ...] = (_sim.C_UNFILLED,)

    def __init__(
        self,
        params: Any,
        state: tuple,
        *,
        fills: int,
        n_records: int,
        n_books: int,
        depth: int,
        ctr_size: int,
        sample_ns: int,
        start_ns: int,
        source: str,
    ):
        self.params, self.sample_ns, self.start_ns, self.source = params, sample_ns, int(start_ns), source
        self.state = state
        self.out = _engine.new_fills(fills)
        self.ev = np.zeros((n_records, _sim.EV_FIELDS), np.int64)
        self.books = np.zeros((4, n_books, depth), np.int64)
        self.book_ts = np.zeros(n_books, np.int64)
        self.ctr = np.zeros(ctr_size, np.int64)
        self.ctr[_sim.C_NEXT_ID] = 1

    def emit_resting(self, per_event: bool) -> None:
        """Record the resting orders as ADDs at ``start_ns`` (the model's kernel; it updates the buffers)."""
        raise NotImplementedError

    def open_book(self) -> int:
        """Record the resting orders as ADDs at ``start_ns``; reset the counters; return their number."""
        self.emit_resting(self.sample_ns == 0)
        self.ctr[list(self.reset_counters)] = 0
        return int(self.ctr[_sim.C_EVENTS])

    def datasets(self, attrs: dict[str, Any]) -> dict[str, xr.Dataset]:
        """Return the events and books Datasets of the records so far."""
        p, n, m = self.params, int(self.ctr[_sim.C_EVENTS]), int(self.ctr[_sim.C_BOOKS])
        ev = self.ev[:n]
        events = make_events(
            ts_ns=ev[:, _sim.EV_TS], kind=ev[:, _sim.EV_KIND], side=ev[:, _sim.EV_SIDE],
            price_ticks=ev[:, _sim.EV_PRICE], qty_lots=ev[:, _sim.EV_QTY], order_id=ev[:, _sim.EV_ID],
            tick_size=p.tick_size, lot_size=p.lot_size, instrument=p.instrument, venue=p.venue,
            attrs=attrs, source=self.source,
        )  # fmt: skip
        book_attrs = dict(attrs, tick_size=p.tick_size, lot_size=p.lot_size, instrument=p.instrument, venue=p.venue)
        books = make_books(
            ts_ns=self.book_ts[:m], bid_price=self.books[0, :m], bid_qty=self.books[1, :m],
            ask_price=self.books[2, :m], ask_qty=self.books[3, :m], attrs=book_attrs, source=self.source,
        )  # fmt: skip
        return {"events": events, "books": books}


def run_attrs(
    sim: BookSimulation,
    rng: RandomLike,
    model: str,
    initial_orders: int,
    *,
    duration_s: float,
    depth: int,
    sample_ns: int,
    warmup_s: float,
    start_ns: int,
) -> dict[str, Any]:
    """The provenance (seed, run options, true parameters) and ``model``, ``initial_orders``, ``duration_s``."""
    config = dict(engine=f"simlab.book.{sim.source}", duration_s=duration_s, depth=depth, sample_ns=sample_ns or None)
    config.update(warmup_s=warmup_s, start_ns=int(start_ns))
    seed = int(rng) if isinstance(rng, (int, np.integer)) else None
    attrs = provenance(seed=seed, config=config, true_params=sim.params.to_dict())
    attrs.update(model=model, initial_orders=initial_orders, duration_s=duration_s)
    return attrs


def positive_float(value: Any, name: str, owner: str) -> float:
    """``value`` as a float, checked finite and > 0 (the error names ``name`` of ``owner``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ParameterError(f"`{name}` of {owner} must be a finite number > 0; got {value!r}")
    return float(value)


def whole(value: Any, name: str, low: int, owner: str) -> int:
    """``value`` as an int, checked >= ``low`` (the error names ``name`` of ``owner``)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ParameterError(f"`{name}` of {owner} must be an int >= {low}; got {value!r}")
    return int(value)


def check_recording(depth: Any, sample_ns: Any, start_ns: Any, owner: str) -> tuple[int, int]:
    """Check the recording options; return ``depth`` and ``sample_ns`` (0 for a book after every event)."""
    depth = whole(depth, "depth", 1, owner)
    sample_ns = 0 if sample_ns is None else whole(sample_ns, "sample_ns", 1, owner)
    whole(start_ns, "start_ns", 0, owner)
    return depth, sample_ns
