"""The encoding of order flow for the generators: the only code that knows the tensor layouts.

A flow is an events Dataset (simlab schema) with the L2 book after each event (``books`` row *i* follows event *i*).
The first event is the **anchor**: its time and the book after it start the encoding, and every later event is a
**message** of six integers (:data:`FIELDS`):

* ``dt_ns``: time since the previous event (ns, >= 0);
* ``type``: index in :data:`KINDS` (ADD, CANCEL, DELETE, TRADE, TRADE_HIDDEN);
* ``side``: +1 / -1 as in the schema (the resting side for ADD / CANCEL / DELETE, the aggressor for a trade);
* ``price_rel_ticks``: for an ADD, ticks from the *opposite* best before the message (1 = one tick inside it, i.e.
  at the best of a one-tick spread; an ADD is never placed at or through the opposite best), as the Hawkes book
  places orders, so that a generated book cannot lose its spread by drifting away from it; for CANCEL / DELETE,
  ticks behind the same-side best (0 at the best); for a trade, ticks behind the best of the side it executes
  against. The best of a side that is empty is its last quoted value (the **reference**, kept with the table).
  An encoding with ``add_price = "own"`` (session 24) writes an ADD's instead as the ticks **inside its own side's
  best** (0 at the touch, k > 0 k ticks inside the spread, < 0 behind the best; the rollout refuses one at or
  through the opposite best as before): the touch is then one value whatever the spread. With ``add_price =
  "touch"`` an ADD at or behind its own best is written so (0 at the touch, -k k ticks behind) and one inside the
  spread as by default (>= 1 ticks inside the opposite best): the touch is one value and the inside ADDs keep the
  opposite best's scale (a flow with an ADD at or through the opposite best is refused: it has no such value).
  With ``add_price = "share"`` (session 25) an ADD at or inside the spread is written as its **share of the spread**:
  an ADD ``k`` ticks inside its own best, ``0 <= k < spread``, has the code ``round(k * ADD_SHARE_ONE / spread)``
  in ``[0, ADD_SHARE_ONE)`` (0 the touch), and one behind its own best keeps minus its ticks behind it (< 0), so the
  sign tells the two regions apart. The rollout decodes a code ``0 <= c < ADD_SHARE_ONE`` against the spread of the
  book it meets (the last quoted bests): ``k = round(c * spread / ADD_SHARE_ONE)``, clipped to ``0 .. spread - 1``
  (the nearest tick strictly inside the opposite best); a spread of 1 tick (or less, from a side's stale last quote)
  leaves only the touch. An ADD at or through the opposite side's last quote (only where that side is empty: the
  AAPL hour's replayed books hold such spans) is written ``ADD_SHARE_ONE + (k - spread)``, a third region
  (:func:`share_code`, with the spread taken as at least 1). The round trip is exact for spreads below
  ``ADD_SHARE_ONE`` ticks (a flow with a wider one before an ADD is refused);
* ``size_lots``: the lots of an ADD, CANCEL, DELETE or hidden trade; for a TRADE, the **share of the touch queue**
  it takes (version 3 of the layout, in units of ``1 / SHARE_ONE``, :mod:`generators.shares`): the lots ``s`` of a
  trade against a queue of ``q`` lots (the lots at its price on the side it executes against when it met them,
  :func:`touch_queues`) are stored as exactly 1 when ``s = q`` (an atom: the whole queue, whatever its size), else
  as the middle of the bin ``((s - 1) / q, s / q]``, ``floor((2 s - 1) SHARE_ONE / (2 q))``, and decoded by
  ``ceil(share q / SHARE_ONE)``. A share in ``(0, 1]`` decodes to ``1..q`` lots whatever the queue, so a generated
  trade never exceeds the queue it meets; above 1 it lies beyond the queue. Since version 4 the queue of a fill at
  a price its books do not show (a sweep beyond the recorded levels, a side shown empty) is read from its run of
  fills and the book after it, so the data's shares are all at most 1 (version 3 counted such a queue as one
  lot);
* ``level``: for CANCEL and DELETE, the price level (1 = the best) among the non-empty levels of the resting side
  before the message, at most :data:`DEPTH_LEVELS` + 1, which means "beyond level 10" (the books a model sees are
  10 levels deep; such a removal is placed by its price, see :mod:`generators.rollout`); 0 otherwise. An encoding
  with ``cancel_position = "volume"`` writes instead the removal's **volume position**: the middle of its level's
  share of the cumulative resting lots of the side's levels 1-10 before it, on a grid of :data:`VOLUME_GRID`
  (:func:`volume_position`; :data:`VOLUME_BEYOND` beyond the levels shown), which the rollout maps back to the
  level whose share holds it in the book it meets (:func:`position_level`): a model that removes every lot alike
  then removes where the lots are, in any book.

:func:`decode` turns a table back into the events' ``ts_ns``, ``kind``, ``side``, ``price_ticks`` and ``qty_lots``,
exactly. The networks see float vectors (:data:`MESSAGE_WIDTH` per message: the inter-arrival time, the type one-hot
in +-1, the side, the price distance, the size and the level; :data:`BOOK_WIDTH` for the book state
before a message: log depths of levels 1-10 per side, log spread, a both-sides-quoted flag, the order-sign
imbalance of the last :data:`FLOW_WINDOW` messages and the mid returns over the last :data:`FLOW_WINDOW` and
:data:`SHORT_WINDOW` messages; an encoding with ``level_prices`` appends the positions of levels 2-10 per side,
:data:`LEVEL_PRICE_WIDTH` columns of log1p ticks from the side's best, 0 where the level is empty, so that the model
sees how many ticks its levels span). The regime of a message is measured on the :data:`REGIME_WINDOW` book rows from it
on (the flow a condition asks for): realised volatility and trend of the mid (ticks), mean total depth of levels
1-10 (lots) and mean depth imbalance; each is binned to the quintiles of the training data. :class:`Encoding` holds
the normalisation statistics and quintile edges, saved with every model.

The four integer columns ``dt_ns``, ``price_rel_ticks``, ``size_lots`` and ``level`` enter the vectors through their
**Gaussian quantile transform** (version 2 of the layout): each value becomes its mid-rank among
:data:`QUANTILE_KNOTS` + 1 quantiles of the training span, mapped through the inverse normal CDF, so each column is
standard normal on the training span (the law a few-step DDIM sampler handles best). A value that is an atom of
the training law (a size of 100 lots, a level beyond 10, a time of 0 ns) thus owns an interval whose normal
probability is its own, and every generated value inside it decodes to it. The log scale of version 1 gave the
atoms points, which a small denoiser smears onto their neighbours (sizes of 100 lots came out as 80-95, removals
beyond level 10 as levels 9-10), and the clip to the training range cut the top value's bin in half. Values
outside the training range are encoded at its ends (the model's support: it never generates them). A trade's
share has its own quantiles (:data:`KNOT_ROWS`), fitted on the trades of the training span.

Why the share (version 3): an execution of a visible order never exceeds the order, so never the queue it rests
in (a marketable order sweeping levels is recorded as several executions), and the data's trades are at most the
touch queue. Version 2 stored the lots, a generated trade larger than the queue it met was rejected and another
block generated, and resampling on rejection cut the trades of the applied flow (on the Hawkes ground truth: 2.8 %
applied against 6.9 % generated and 12.2 % true). The share is exact: :func:`decode` recovers the lots from the
share and the queue the table keeps (:attr:`MessageTable.queue`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import xarray as xr
from scipy.special import ndtr, ndtri

from generators.shares import check_trades, trade_lots, trade_share
from simlab.errors import DataError, ParameterError
from simlab.schema import BOOK_FIELDS, EVENT_FIELDS, NO_PRICE, EventKind

ENCODING_VERSION = 4
KINDS = (EventKind.ADD, EventKind.CANCEL, EventKind.DELETE, EventKind.TRADE, EventKind.TRADE_HIDDEN)
N_TYPES = len(KINDS)
TYPE_ADD, TYPE_CANCEL, TYPE_DELETE, TYPE_TRADE, TYPE_HIDDEN = range(N_TYPES)
FIELDS = ("dt_ns", "type", "side", "price_rel_ticks", "size_lots", "level")
DT, TYPE, SIDE, PRICE, SIZE, LEVEL = range(len(FIELDS))
DEPTH_LEVELS = 10
# the replay masks of a book (True where the messages determine the cell), and the training books' attribute that
# asks to train on known depth only (set by generators.spec from a spec's ``known_depth_only`` key)
MASK_FIELDS = ("bid_determined", "ask_determined")
KNOWN_DEPTH_ONLY = "known_depth_only"
# the training books' attribute that asks for the level positions in the book state (generators.spec, from a spec's
# ``level_prices`` key)
LEVEL_PRICES = "level_prices"
# the training books' attribute (and the encoding's field) that says how a removal's ``level`` column is written:
# "level" (the level number, the default) or "volume" (its position in the cumulative resting volume, see
# volume_position); a checkpoint of the "volume" layout records VOLUME_LAYOUT as its encoding_version
CANCEL_POSITION = "cancel_position"
CANCEL_POSITIONS = ("level", "volume", "depth", "spread")
# the training books' attribute (and the encoding's field, session 24) that says what an ADD's ``price_rel_ticks`` is
# measured from: "opposite" (ticks inside the opposite best, the default) or "own" (ticks inside its own side's
# best: 0 at the touch, < 0 behind it), so that the touch is one value whatever the spread; a checkpoint of "own"
# records layout_version(..., "own") as its encoding_version; "touch": an ADD at or behind its own best as "own"
# (<= 0), one inside the spread as "opposite" (>= 1); "share" (session 25): an ADD at or inside the spread as its
# share of the spread, k / spread in units of 1 / ADD_SHARE_ONE ([0, ADD_SHARE_ONE)), one behind its best as "own" (< 0)
ADD_PRICE = "add_price"
ADD_PRICES = ("opposite", "own", "touch", "share")
ADD_SHARE_ONE = 1_000_000  # an inside ADD's share of the spread is an integer in units of 1 / ADD_SHARE_ONE
# the training books' attribute (and the encoding's field, session 42) that says what one TRADE message is: "fill"
# (one execution row of the data, the default) or "order" (a marketable order's fills at one price, one message:
# merge_fills), which the rollout's "queue" fill splits back into one fill per resting order it meets
TRADE_MESSAGE = "trade_message"
TRADE_MESSAGES = ("fill", "order")
# "depth" (session 19): the volume position with a fitted pseudo-depth of ``beyond_lots`` (per side) behind the counted
# levels, so that a removal beyond them is a position too (the last share of the depth) and the share of removals
# inside the levels grows with their lots (see volume_position and fit_beyond_lots); "spread" (session 19) also spreads
# the removals beyond the levels over that share by their distance behind the last counted level (spread_position)
VOLUME_GRID = 10**9  # a removal's volume position inside levels 1-10 lies in [0, VOLUME_GRID)
VOLUME_BEYOND = 2 * VOLUME_GRID  # the volume position of a removal beyond the counted levels
FLOW_WINDOW = 64
SHORT_WINDOW = 8
REGIME_WINDOW = 256
REGIMES = ("volatility", "trend", "depth", "imbalance")
N_QUINTILES = 5
NULL_REGIME = N_QUINTILES  # the index of a dropped (unset) condition
STD_FLOOR = 1e-6  # the normalisation std of a column constant in the training data
# message vector: dt_ns, type one-hot (+-1), side, price_rel, size, level (the four integers quantile-transformed)
M_DT, M_TYPE, M_SIDE, M_PRICE, M_SIZE, M_LEVEL = 0, 1, 1 + N_TYPES, 2 + N_TYPES, 3 + N_TYPES, 4 + N_TYPES
MESSAGE_WIDTH = 5 + N_TYPES
NORMALISED_MESSAGE_COLUMNS = (M_DT, M_PRICE, M_SIZE, M_LEVEL)
QUANTILE_FIELDS = (DT, PRICE, SIZE, LEVEL)  # the table columns of NORMALISED_MESSAGE_COLUMNS, in order
QUANTILE_KNOTS = 512
# the rows of Encoding.knots: the four integer columns (sizes of every message but a TRADE), then a TRADE's share
KNOT_ROWS = ("dt_ns", "price_rel_ticks", "size_lots", "level", "trade_share")
SHARE_ROW = 4
BOOK_WIDTH = 2 * DEPTH_LEVELS + 5  # the default book state (without the level positions)
LEVEL_PRICE_WIDTH = 2 * (DEPTH_LEVELS - 1)  # log1p ticks from the side's best of levels 2-10, bid then ask
# book-state columns: the log1p depths of levels 1-10, bid (B_DEPTH_BID) then ask (B_DEPTH_ASK), then the log1p spread
B_DEPTH_BID, B_DEPTH_ASK = slice(0, DEPTH_LEVELS), slice(DEPTH_LEVELS, 2 * DEPTH_LEVELS)
B_SPREAD = 2 * DEPTH_LEVELS
# the book features the GAN's field head reads (generators.gan_networks.book_head_features): the normalised log spread,
# then the bid's and the ask's number of non-empty levels among 1-10 over DEPTH_LEVELS
HEAD_BOOK_WIDTH = 3
EMPTY_LEVEL_CUT = float(np.log1p(0.5))  # a level's log1p depth above it holds at least one lot (half a lot: between)
_TYPE_OF_KIND = np.full(256, -1, dtype=np.int64)
_TYPE_OF_KIND[np.array([int(k) for k in KINDS])] = np.arange(N_TYPES)
_KIND_OF_TYPE = np.array([int(k) for k in KINDS], dtype=np.int8)
_REFERENCE_SIGN = np.array([-1, 1, 1, -1, -1], dtype=np.int64)  # the side whose best prices are from: side * this
_DIRECTION_SIGN = np.array([1, 1, 1, -1, -1], dtype=np.int64)  # price = reference best - side * this * rel
# add_price = "own": an ADD is measured from its own side's best, ticks inside the spread (price = best + side * rel)
_OWN_REFERENCE_SIGN = np.array([1, 1, 1, -1, -1], dtype=np.int64)
_OWN_DIRECTION_SIGN = np.array([-1, 1, 1, -1, -1], dtype=np.int64)
_FLOW_SIGN = np.array([1, -1, -1, 1, 1], dtype=np.int64)  # order-sign of a message = side * this, per type


@dataclass(frozen=True)
class MessageTable:
    """Messages as integers (:data:`FIELDS` columns), with what decoding needs.

    Attributes
    ----------
    table
        int64 ``(n, 6)``, one row per message (the events after the anchor).
    reference
        int64 ``(n, 2)``: best bid and best ask (ticks) the prices are relative to, before each message.
    queue
        int64 ``(n,)``: lots of the queue a TRADE met (:func:`touch_queues`; 0 for the other messages): with the
        share it gives the trade's lots back (:func:`generators.shares.trade_lots`).
    anchor_ns
        Time of the anchor event (ns since the epoch).
    attrs
        The events' tick size, lot size, instrument and venue.
    add_price
        What an ADD's ``price_rel_ticks`` are measured from (:data:`ADD_PRICES`; see the module docstring).
    """

    table: np.ndarray
    reference: np.ndarray
    anchor_ns: int
    queue: np.ndarray
    attrs: dict[str, Any] = field(default_factory=dict)
    add_price: str = "opposite"


@dataclass(frozen=True)
class Encoding:
    """Normalisation statistics and regime quintile edges fitted on training data (saved with every model).

    Parameters
    ----------
    message_mean, message_std
        Per column of the message vector (identity on the one-hot and side columns).
    book_mean, book_std
        Per column of the book-state vector.
    regime_edges
        For each of :data:`REGIMES`, the 20/40/60/80 % quantiles of its training values.
    message_low, message_high
        Per column, the smallest and largest normalised training value (the support a sample is clipped to).
    history
        Messages of history the model conditions on.
    knots
        For each of :data:`KNOT_ROWS`, :data:`QUANTILE_KNOTS` + 1 quantiles of its training values (the
        quantile transform, see the module docstring; the size row holds every message but the trades, whose
        shares have the last row).
    book_levels
        Levels of the training books the ``level`` field counts (at most :data:`DEPTH_LEVELS`): a removal at a
        level above it lies beyond the levels the model sees and is placed by its price.
    version
        :data:`ENCODING_VERSION` of the layout.
    known_depth_only
        Train and validate only on blocks whose books hold no unknown cell in the encoded levels (see
        :func:`known_rows`; asked for by the training books' :data:`KNOWN_DEPTH_ONLY` attribute). Saved only
        when True, so the default encoding's dictionary is unchanged.
    level_prices
        The book state holds the positions of levels 2-10 (:func:`book_features`; asked for by the training books'
        :data:`LEVEL_PRICES` attribute): its width is :attr:`book_width`, and the networks' too. Saved only when
        True, so the default encoding's dictionary is unchanged.
    cancel_position
        How the ``level`` column of a CANCEL / DELETE is written: ``"level"`` (the level number) or ``"volume"``
        (its position in the cumulative resting volume of levels 1-10, :func:`volume_position`; asked for by the
        training books' :data:`CANCEL_POSITION` attribute). Saved only when ``"volume"``, so the default encoding's
        dictionary is unchanged. ``"depth"`` (session 19) is the volume position with a pseudo-depth of
        ``beyond_lots`` behind the counted levels.
    beyond_lots
        With ``cancel_position = "depth"``: the pseudo-depth (lots, bid then ask) behind the counted levels
        (:func:`fit_beyond_lots`); empty otherwise, and then not saved. Also with ``"spread"``.
    beyond_ticks
        With ``cancel_position = "spread"``: the scale (ticks, bid then ask) of a beyond removal's distance behind
        the last counted level (:func:`fit_beyond_ticks`, :func:`spread_position`); empty otherwise, not saved.
    add_price
        What an ADD's ``price_rel_ticks`` are measured from: ``"opposite"`` (the default), ``"own"``, ``"touch"`` or
        ``"share"`` (:data:`ADD_PRICES`, the module docstring; saved only when not the default).
    trade_message
        What one TRADE message is: ``"fill"`` (one execution row, the default) or ``"order"`` (a marketable order's
        fills at one price, :func:`merge_fills`; saved only when not the default). Every real span the model
        reads (training, validation, start windows) is merged so before it is encoded.
    """

    message_mean: tuple[float, ...]
    message_std: tuple[float, ...]
    book_mean: tuple[float, ...]
    book_std: tuple[float, ...]
    regime_edges: tuple[tuple[float, ...], ...]
    message_low: tuple[float, ...]
    message_high: tuple[float, ...]
    history: int
    knots: tuple[tuple[float, ...], ...] = ()
    book_levels: int = DEPTH_LEVELS
    version: int = ENCODING_VERSION
    known_depth_only: bool = False
    level_prices: bool = False
    cancel_position: str = "level"
    beyond_lots: tuple[int, ...] = ()
    beyond_ticks: tuple[int, ...] = ()
    add_price: str = "opposite"
    trade_message: str = "fill"

    @property
    def book_width(self) -> int:
        """Columns of the book state: :data:`BOOK_WIDTH`, plus :data:`LEVEL_PRICE_WIDTH` with ``level_prices``."""
        return book_width(self.level_prices)

    def to_dict(self) -> dict[str, Any]:
        """Return the statistics as a JSON-serialisable mapping (``known_depth_only``, ``level_prices`` only when
        True, ``cancel_position`` only when ``"volume"``)."""
        values = asdict(self)
        for name in ("known_depth_only", "level_prices"):
            if not values[name]:
                del values[name]
        if values["cancel_position"] == "level":
            del values["cancel_position"]
        if values["add_price"] == "opposite":
            del values["add_price"]
        if values["trade_message"] == "fill":
            del values["trade_message"]
        for name in ("beyond_lots", "beyond_ticks"):
            if not values[name]:
                del values[name]
            else:
                values[name] = list(values[name])
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any], source: str = "encoding") -> Encoding:
        """Rebuild an encoding from :meth:`to_dict`; refuse another layout version or malformed statistics."""
        if values.get("version") != ENCODING_VERSION:
            raise DataError(
                f"{source}: encoding version must be {ENCODING_VERSION} (this simlab's layout); got "
                f"{values.get('version')!r}"
            )
        level_prices = values.get("level_prices", False)
        if not isinstance(level_prices, bool):
            raise DataError(f"{source}: encoding 'level_prices' must be true or false; got {level_prices!r}")
        width = book_width(level_prices)
        widths = {"message_mean": MESSAGE_WIDTH, "message_std": MESSAGE_WIDTH, "book_mean": width}
        widths.update(book_std=width, message_low=MESSAGE_WIDTH, message_high=MESSAGE_WIDTH)
        for name, width in widths.items():
            if len(values.get(name) or ()) != width:
                raise DataError(f"{source}: encoding {name!r} must hold {width} numbers; got {values.get(name)!r}")
        edges = values.get("regime_edges") or ()
        if len(edges) != len(REGIMES) or any(len(row) != N_QUINTILES - 1 for row in edges):
            raise DataError(f"{source}: encoding 'regime_edges' must be 4 rows of 4 quantiles; got {edges!r}")
        knots = values.get("knots") or ()
        shape = (len(KNOT_ROWS), QUANTILE_KNOTS + 1)
        array = np.array(knots, dtype=np.float64) if np.shape(knots) == shape else None
        if array is None or not np.isfinite(array).all() or (np.diff(array, axis=1) < 0).any():
            raise DataError(f"{source}: encoding 'knots' must be {shape[0]} rows of {shape[1]} non-decreasing numbers")
        levels = values.get("book_levels")
        if isinstance(levels, bool) or not isinstance(levels, int) or not 1 <= levels <= DEPTH_LEVELS:
            raise DataError(f"{source}: encoding 'book_levels' must be an int in 1-{DEPTH_LEVELS}; got {levels!r}")
        known_only = values.get("known_depth_only", False)
        if not isinstance(known_only, bool):
            raise DataError(f"{source}: encoding 'known_depth_only' must be true or false; got {known_only!r}")
        position = values.get("cancel_position", "level")
        if position not in CANCEL_POSITIONS:
            expected = list(CANCEL_POSITIONS)
            raise DataError(f"{source}: encoding 'cancel_position' must be one of {expected}; got {position!r}")
        pairs = {}
        for name, wanted in (("beyond_lots", ("depth", "spread")), ("beyond_ticks", ("spread",))):
            beyond = values.get(name, [])
            size = 2 if position in wanted else 0
            if (
                not isinstance(beyond, (list, tuple))
                or len(beyond) != size
                or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in beyond)
            ):
                raise DataError(
                    f"{source}: encoding {name!r} must be {'2 ints >= 1 (bid, ask)' if size else 'absent'} with "
                    f"cancel_position {position!r}; got {beyond!r}"
                )
            pairs[name] = tuple(beyond)
        add_price = values.get("add_price", "opposite")
        if add_price not in ADD_PRICES:
            raise DataError(f"{source}: encoding 'add_price' must be one of {list(ADD_PRICES)}; got {add_price!r}")
        trade_message = values.get("trade_message", "fill")
        if trade_message not in TRADE_MESSAGES:
            expected = list(TRADE_MESSAGES)
            raise DataError(f"{source}: encoding 'trade_message' must be one of {expected}; got {trade_message!r}")
        return cls(
            tuple(map(float, values["message_mean"])),
            tuple(map(float, values["message_std"])),
            tuple(map(float, values["book_mean"])),
            tuple(map(float, values["book_std"])),
            tuple(tuple(map(float, row)) for row in edges),
            tuple(map(float, values["message_low"])),
            tuple(map(float, values["message_high"])),
            int(values["history"]),
            knots=tuple(tuple(map(float, row)) for row in array),
            book_levels=levels,
            known_depth_only=known_only,
            level_prices=level_prices,
            cancel_position=position,
            beyond_lots=pairs["beyond_lots"],
            beyond_ticks=pairs["beyond_ticks"],
            add_price=add_price,
            trade_message=trade_message,
        )

    @property
    def layout(self) -> int | str:
        """The ``encoding_version`` a checkpoint of this encoding records: :data:`ENCODING_VERSION`, or
        :func:`layout_version` of its options (which a simlab without them refuses)."""
        return layout_version(self.cancel_position, self.add_price, self.trade_message)

    def span(self, events: xr.Dataset, books: xr.Dataset) -> tuple[xr.Dataset, xr.Dataset]:
        """Return a real span as this encoding reads it: its fills merged into orders with ``trade_message =
        "order"`` (:func:`merge_fills`), else as it is."""
        return merge_fills(events, books) if self.trade_message == "order" else (events, books)

    def messages(self, table: np.ndarray) -> np.ndarray:
        """Return the normalised message vectors (float32 ``(n, MESSAGE_WIDTH)``) of an integer table."""
        return ((message_features(table, self.knots) - self.message_mean) / self.message_std).astype(np.float32)

    def table(self, vectors: np.ndarray) -> np.ndarray:
        """Return the integer table of normalised message vectors (rounded; the inverse of :meth:`messages`)."""
        return features_to_table(np.asarray(vectors, np.float64) * self.message_std + self.message_mean, self.knots)

    def book(self, features: np.ndarray) -> np.ndarray:
        """Return normalised book-state vectors (float32) from :func:`book_features` rows.

        A column that never varied in the training data (its std at the :data:`STD_FLOOR`: the depth of levels
        2-10 of a level-1 LOBSTER file, the both-sides-quoted flag of a book never one-sided) is 0: the model
        cannot have learned from it, and a rollout book with depth there would otherwise be scaled by 1e6.
        """
        std = np.asarray(self.book_std)
        return np.where(std > STD_FLOOR, (features - self.book_mean) / std, 0.0).astype(np.float32)

    def empty_level_cuts(self) -> np.ndarray:
        """Return the normalised depth (``(2 DEPTH_LEVELS,)``, bid levels 1-10 then ask) above which a level of the
        normalised book state (:meth:`book`) holds at least one lot: the normalised :data:`EMPTY_LEVEL_CUT`, half a
        lot. A column constant in the training data is 0 in :meth:`book`; its cut is -1 (always counted) when the
        constant depth is non-empty, +1 (never) when it is empty."""
        mean = np.asarray(self.book_mean[: 2 * DEPTH_LEVELS], np.float64)
        std = np.asarray(self.book_std[: 2 * DEPTH_LEVELS], np.float64)
        constant = np.where(mean > EMPTY_LEVEL_CUT, -1.0, 1.0)
        return np.where(std > STD_FLOOR, (EMPTY_LEVEL_CUT - mean) / np.maximum(std, STD_FLOOR), constant)

    def quintiles(self, values: np.ndarray) -> np.ndarray:
        """Return the quintile index 0-4 of regime values ``(n, 4)`` (columns in :data:`REGIMES` order)."""
        values = np.asarray(values, np.float64)
        return np.stack(
            [np.searchsorted(self.regime_edges[j], values[:, j], side="right") for j in range(len(REGIMES))], axis=1
        ).astype(np.int64)


@dataclass(frozen=True)
class EncodedFlow:
    """A flow encoded for a model: integer messages and the float tensors of :class:`Encoding`.

    Attributes
    ----------
    messages
        The :class:`MessageTable`.
    vectors
        float32 ``(n, MESSAGE_WIDTH)`` normalised message vectors.
    book
        float32 ``(n, BOOK_WIDTH)`` normalised book state before each message.
    regime
        int64 ``(n, 4)`` quintile index 0-4 of each message's regime.
    regime_values
        float64 ``(n, 4)`` the regime measures themselves.
    known
        bool ``(n,)``: message *i*'s book before holds no unknown cell in the encoded levels (:func:`known_rows`);
        None unless the encoding is ``known_depth_only`` and the books carry masks (then every row counts).
    """

    messages: MessageTable
    vectors: np.ndarray
    book: np.ndarray
    regime: np.ndarray
    regime_values: np.ndarray
    known: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.messages.table.shape[0])


def message_table(
    events: xr.Dataset,
    books: xr.Dataset,
    *,
    source: str = "dataset",
    cancel_position: str = "level",
    beyond_lots: tuple[int, ...] = (),
    beyond_ticks: tuple[int, ...] = (),
    add_price: str = "opposite",
) -> MessageTable:
    """Encode events (and the book after each) as integer messages (see the module docstring).

    Parameters
    ----------
    events
        Events in the simlab schema whose kinds are all in :data:`KINDS` and sides +-1.
    books
        L2 books with one row per event (the book after it).
    source
        Names the data in error messages.
    cancel_position
        ``"level"`` (the ``level`` column of a removal holds its level number) or ``"volume"`` (its volume position,
        :func:`volume_position`, read from the same book before it) or ``"depth"`` (the same with the pseudo-depth
        ``beyond_lots``, bid then ask, behind the counted levels) or ``"spread"`` (the same, a removal beyond the
        levels spread over the pseudo-depth's share by its distance behind the last one, scale ``beyond_ticks``).
    add_price
        ``"opposite"`` (an ADD's ``price_rel_ticks`` are the ticks inside the opposite best) or ``"own"`` (the ticks
        inside its own side's best: 0 at the touch, < 0 behind it) or ``"touch"`` (``"own"``'s value at or behind the
        own best, the default's inside the spread; an ADD at or through the opposite best is refused) or ``"share"``
        (at or inside the spread its share of the spread in units of 1 / :data:`ADD_SHARE_ONE`, behind its own best
        minus the ticks behind it, at or through the opposite side's last quote above ``ADD_SHARE_ONE``:
        :func:`share_code`).
    """
    check_cancel_position(cancel_position, source=source)
    check_add_price(add_price, source=source)
    beyond = _beyond(cancel_position, beyond_lots, source, beyond_ticks)
    check_flow(events, books, source=source)
    names = ("ts_ns", "kind", "side", "price_ticks", "qty_lots")
    ts, kind, side, price, qty = (events[name].values.astype(np.int64) for name in names)
    types = _TYPE_OF_KIND[kind & 0xFF]
    bid_price, bid_qty, ask_price, ask_qty = (books[name].values for name in BOOK_FIELDS)
    reference = _reference(bid_price[:, 0], bid_qty[:, 0], ask_price[:, 0], ask_qty[:, 0], source)[:-1]
    types, side, price, qty = types[1:], side[1:], price[1:], qty[1:]
    rel = relative_price(types, side, price, reference, add_price)
    if add_price == "touch":
        opposite = relative_price(types, side, price, reference)
        spread = reference[:, 1] - reference[:, 0]
        bad = np.flatnonzero((types == TYPE_ADD) & (opposite <= 0) & (opposite < spread))
        if bad.size:
            raise DataError(
                f"{source}: events row {int(bad[0]) + 1}: an ADD at or through the opposite best has no price under "
                f"add_price 'touch' (expected every ADD strictly inside the opposite best); use 'opposite' or 'own'"
            )
    if add_price == "share":
        spread = reference[:, 1] - reference[:, 0]
        wide = np.flatnonzero((types == TYPE_ADD) & (spread >= ADD_SHARE_ONE))
        if wide.size:
            raise DataError(
                f"{source}: events row {int(wide[0]) + 1}: add_price 'share' expects spreads below {ADD_SHARE_ONE} "
                f"ticks before an ADD (its share of the spread would not round-trip); got {int(spread[wide[0]])}"
            )
    resting = side * np.where(types >= TYPE_TRADE, -1, 1)
    level = np.zeros(types.shape[0], dtype=np.int64)
    removal = (types == TYPE_CANCEL) | (types == TYPE_DELETE)
    rows = np.flatnonzero(removal)
    for book_price, book_qty, sign, pseudo, scale in (
        (bid_price, bid_qty, 1, beyond[0], beyond[2]),
        (ask_price, ask_qty, -1, beyond[1], beyond[3]),
    ):
        on_side = rows[resting[rows] == sign]
        before_p = book_price[on_side, :DEPTH_LEVELS]  # book row i is before message i (row i + 1)
        before_q = book_qty[on_side, :DEPTH_LEVELS]
        better = (before_q > 0) & (sign * (before_p - price[on_side, None]) > 0)
        level[on_side] = better.sum(axis=1) + 1
        if cancel_position != "level":
            lots = shown_lots(before_q)
            position = volume_position(level[on_side], lots, pseudo)
            back = position_level(position, lots, pseudo)
            shown = (lots > 0).sum(axis=1)
            wrong = back != np.minimum(level[on_side], shown + 1)
            if wrong.any():
                bad = int(on_side[np.flatnonzero(wrong)[0]])
                raise DataError(
                    f"{source}: events row {bad + 1}: the volume position of the removal does not give its level back "
                    f"(more than {VOLUME_GRID // 2} lots on the side's levels?)"
                )
            if scale > 0:  # "spread": a removal beyond the levels takes its place in the pseudo-depth's share
                out = level[on_side] > shown
                ticks = np.where(out, behind_last(before_p, before_q, price[on_side], sign, scale), 0)
                position = np.where(out, spread_position(lots.sum(axis=1), pseudo, ticks, scale), position)
            level[on_side] = position
    trade = types == TYPE_TRADE
    queue = touch_queues(trade, side, price, qty, np.diff(ts), (bid_price, bid_qty, ask_price, ask_qty))
    check_trades(qty, queue, trade, source)
    size = np.where(trade, trade_share(qty, queue), qty)
    table = np.stack([np.diff(ts), types, side, rel, size, level], axis=1).astype(np.int64)
    attrs = {name: events.attrs[name] for name in ("tick_size", "lot_size", "instrument", "venue")}
    return MessageTable(table, reference, int(ts[0]), queue, attrs, add_price)


def _beyond(
    cancel_position: str, beyond_lots: tuple[int, ...], source: str, beyond_ticks: tuple[int, ...] = ()
) -> tuple[int, int, int, int]:
    # the pseudo-depth per side, then the spread's scale per side (0 where the layout has none)
    if cancel_position not in ("depth", "spread"):
        return (0, 0, 0, 0)
    pairs = [beyond_lots] + ([beyond_ticks] if cancel_position == "spread" else [])
    for name, values in zip(("beyond_lots", "beyond_ticks"), pairs, strict=False):
        values = tuple(values)
        if len(values) != 2 or any(isinstance(v, bool) or int(v) != v or v < 1 for v in values):
            raise ParameterError(
                f"{source}: cancel_position {cancel_position!r} needs {name} of 2 ints >= 1; got {values!r}"
            )
    ticks = tuple(beyond_ticks) if cancel_position == "spread" else (0, 0)
    return int(beyond_lots[0]), int(beyond_lots[1]), int(ticks[0]), int(ticks[1])


def behind_last(prices: np.ndarray, lots: np.ndarray, price: np.ndarray, sign: int, scale: int) -> np.ndarray:
    """Return the ticks (>= 1) a removal at ``price`` lies behind the last non-empty level of ``prices`` /
    ``lots`` (``(n, k)``, one side, ``sign`` +1 bid / -1 ask); ``scale`` where the side shows no level."""
    lots = np.asarray(lots)
    shown = lots > 0
    last = np.where(shown, sign * np.asarray(prices, np.int64), np.iinfo(np.int64).max).min(axis=1) * sign
    ticks = sign * (last - np.asarray(price, np.int64))
    return np.where(shown.any(axis=1), np.maximum(ticks, 1), scale).astype(np.int64)


def spread_position(depth: np.ndarray, beyond: int, ticks: np.ndarray, scale: int) -> np.ndarray:
    """Return the position (int64) of removals beyond the counted levels under ``cancel_position = "spread"``: with
    ``C`` = ``depth`` lots on the levels, ``K`` = ``beyond`` and ``f = d / (d + scale)`` of their ``ticks`` ``d``
    behind the last level, ``floor(VOLUME_GRID (C + K f) / (C + K))``, kept inside the pseudo-depth's share
    ``[C / (C + K), 1)`` (the same float operations as the kernels)."""
    depth = np.asarray(depth, np.int64)
    total = depth + beyond
    fraction = np.asarray(ticks, np.float64) / (np.asarray(ticks, np.float64) + float(scale))
    raw = np.floor(VOLUME_GRID * ((depth + beyond * fraction) / total)).astype(np.int64)
    low = (depth * VOLUME_GRID + total - 1) // total
    return np.minimum(np.maximum(raw, low), VOLUME_GRID - 1).astype(np.int64)


def fit_beyond_ticks(events: xr.Dataset, books: xr.Dataset, *, source: str = "dataset") -> tuple[int, int]:
    """Return the median ticks (>= 1, bid then ask) of the removals beyond the counted levels behind the last of
    them (the scale of :func:`spread_position`; 1 for a side without such removals)."""
    table = message_table(events, books, source=source).table
    removal = np.isin(table[:, TYPE], [TYPE_CANCEL, TYPE_DELETE])
    price = events["price_ticks"].values.astype(np.int64)[1:]  # message i is event i + 1, its book before row i
    out = []
    for sign, name in ((1, "bid"), (-1, "ask")):
        rows = np.flatnonzero(removal & (table[:, SIDE] == sign))
        prices, lots = (books[f"{name}_{f}"].values[rows, :DEPTH_LEVELS] for f in ("price", "qty"))
        shown = (lots > 0).sum(axis=1)
        out_rows = (table[rows, LEVEL] > shown) & (shown > 0)
        ticks = behind_last(prices[out_rows], lots[out_rows], price[rows][out_rows], sign, 1)
        out.append(max(1, int(np.median(ticks))) if ticks.size else 1)
    return out[0], out[1]


def fit_beyond_lots(events: xr.Dataset, books: xr.Dataset, *, source: str = "dataset") -> tuple[int, int]:
    """Return the pseudo-depth (lots, bid then ask) behind the counted levels that best explains, per side, which
    removals lie inside them: the maximum-likelihood ``K`` of ``P(inside) = C / (C + K)``, ``C`` the lots of the
    side's counted levels before the removal (a book that removes every lot alike, with ``K`` lots beyond them).

    On the Hawkes ground truth's training span (session 19) the inside share of the bid's removals grows from 0.18
    to 0.53 as its 10 levels go from 400 to 2,000 lots, as ``C / (C + K)`` does with ``K`` about 1,650 (ask: about
    950). A side without a removal beyond the levels gets 1.
    """
    table = message_table(events, books, source=source).table
    removal = np.isin(table[:, TYPE], [TYPE_CANCEL, TYPE_DELETE])
    out = []
    for sign, name in ((1, "bid"), (-1, "ask")):
        rows = np.flatnonzero(removal & (table[:, SIDE] == sign))
        lots = shown_lots(books[f"{name}_qty"].values[rows, :DEPTH_LEVELS])
        shown = (lots > 0).sum(axis=1)
        keep = shown > 0
        inside = (table[rows, LEVEL] <= shown)[keep]
        if inside.size and not inside.any():
            raise DataError(f"{source}: no {name} removal lies inside the counted levels; cannot fit beyond_lots")
        out.append(pseudo_depth(lots.sum(axis=1)[keep], inside))
    return out[0], out[1]


def pseudo_depth(depth: np.ndarray, inside: np.ndarray) -> int:
    """Return the maximum-likelihood ``K`` (an int >= 1) of ``P(inside) = depth / (depth + K)`` for removals that
    met ``depth`` lots (> 0) on the counted levels and lay ``inside`` them or not; 1 when none lay beyond."""
    depth, inside = np.asarray(depth, np.float64), np.asarray(inside, bool)
    if not (~inside).any():
        return 1

    def loglik(k: np.ndarray) -> np.ndarray:
        return (~inside).sum() * np.log(k) - np.log(depth[:, None] + k[None, :]).sum(axis=0)

    grid = np.unique(np.rint(np.geomspace(1.0, 100.0 * depth.max(), 400)))
    best = grid[int(np.argmax(loglik(grid)))]
    fine = np.arange(max(1.0, np.floor(best * 0.97) - 1), np.ceil(best * 1.03) + 2)
    return int(fine[int(np.argmax(loglik(fine)))])


def check_cancel_position(value: Any, *, source: str = "encoding") -> str:
    """Return ``value`` when it is one of :data:`CANCEL_POSITIONS`; refuse it otherwise."""
    if not isinstance(value, str) or value not in CANCEL_POSITIONS:
        raise ParameterError(f"{source}: cancel_position must be one of {list(CANCEL_POSITIONS)}; got {value!r}")
    return value


def check_add_price(value: Any, *, source: str = "encoding") -> str:
    """Return ``value`` when it is one of :data:`ADD_PRICES`; refuse it otherwise."""
    if not isinstance(value, str) or value not in ADD_PRICES:
        raise ParameterError(f"{source}: add_price must be one of {list(ADD_PRICES)}; got {value!r}")
    return value


def check_trade_message(value: Any, *, source: str = "encoding") -> str:
    """Return ``value`` when it is one of :data:`TRADE_MESSAGES`; refuse it otherwise."""
    if not isinstance(value, str) or value not in TRADE_MESSAGES:
        raise ParameterError(f"{source}: trade_message must be one of {list(TRADE_MESSAGES)}; got {value!r}")
    return value


def layout_version(
    cancel_position: str = "level", add_price: str = "opposite", trade_message: str = "fill"
) -> int | str:
    """Return the ``encoding_version`` a checkpoint records: :data:`ENCODING_VERSION` for the default layout, the
    string ``"<version>+cancel_position=volume"`` for the volume positions, with ``"+add_price=own"`` (or
    ``"touch"``, ``"share"``) appended for ADD prices from their own best and ``"+trade_message=order"`` for
    merged fills (a simlab without the option refuses it with its own sentence: its ``encoding_version`` must be
    the int, or the string without it)."""
    check_cancel_position(cancel_position)
    check_add_price(add_price)
    check_trade_message(trade_message)
    options = "" if cancel_position == "level" else f"+cancel_position={cancel_position}"
    options += "" if add_price == "opposite" else f"+add_price={add_price}"
    options += "" if trade_message == "fill" else f"+trade_message={trade_message}"
    return f"{ENCODING_VERSION}{options}" if options else ENCODING_VERSION


def shown_lots(qty: np.ndarray) -> np.ndarray:
    """Return int64 ``(n, k)``: the lots of each row's non-empty levels in book order (best first), then zeros."""
    qty = np.asarray(qty, np.int64)
    order = np.argsort(qty <= 0, axis=1, kind="stable")
    packed = np.take_along_axis(qty, order, axis=1)
    return np.where(packed > 0, packed, 0).astype(np.int64)


def volume_position(level: np.ndarray, lots: np.ndarray, beyond: int = 0) -> np.ndarray:
    """Return the volume position (int64) of removals at ``level`` (1 = the best) in books of ``lots``.

    ``lots`` int64 ``(n, k)`` are the lots of the side's non-empty levels, best first, zeros after
    (:func:`shown_lots`; the first ``book_levels`` of them, at most :data:`DEPTH_LEVELS`). With ``C_j`` the lots of
    levels 1..j and ``m`` the non-empty levels, a removal at level ``L <= m`` is at the middle of its level's share
    of the cumulative depth, ``floor((2 C_(L-1) + q_L) VOLUME_GRID / (2 C_m))`` in ``[0, VOLUME_GRID)``; one at a
    level the lots do not show (``L > m``: beyond them) is :data:`VOLUME_BEYOND`. Under a law that cancels every
    resting lot alike (Smith-Farmer, zero intelligence) the position is about uniform on ``[0, VOLUME_GRID)``
    whatever the book, and :func:`position_level` maps it back to the level whose interval holds it in any book.

    With a pseudo-depth ``beyond`` = ``K`` >= 1 (``cancel_position = "depth"``) the shares are of ``C_m + K``, and a
    removal beyond the shown levels is the middle of the last share, ``floor((2 C_m + K) VOLUME_GRID / (2 (C_m +
    K)))``: a law that removes every lot alike, with ``K`` lots beyond the levels, then puts ``C_m / (C_m + K)`` of
    its removals inside them, more as they fill.
    """
    level = np.asarray(level, np.int64)
    lots = np.asarray(lots, np.int64).reshape(level.shape[0], -1)
    cum = np.concatenate([np.zeros((lots.shape[0], 1), np.int64), np.cumsum(lots, axis=1)], axis=1)
    shown = (lots > 0).sum(axis=1)
    inside = (level >= 1) & (level <= shown)
    j = np.clip(level, 1, max(lots.shape[1], 1))
    rows = np.arange(level.shape[0])
    beyond = int(beyond)
    total = np.maximum(cum[rows, shown] + beyond, 1)
    before = cum[rows, np.minimum(j - 1, lots.shape[1])]
    here = lots[rows, np.minimum(j - 1, lots.shape[1] - 1)] if lots.shape[1] else np.zeros_like(level)
    middle = (2 * before + here) * VOLUME_GRID // (2 * total)
    outside = (2 * cum[rows, shown] + beyond) * VOLUME_GRID // (2 * total) if beyond > 0 else VOLUME_BEYOND
    return np.where(inside, middle, outside).astype(np.int64)


def position_level(position: np.ndarray, lots: np.ndarray, beyond: int = 0) -> np.ndarray:
    """Return the level (1 = the best) a volume position takes in books of ``lots`` (the inverse of
    :func:`volume_position`): the first level ``j`` with ``position C_m < C_j VOLUME_GRID``; ``m + 1`` (beyond the
    shown levels) for a position at or above :data:`VOLUME_GRID`; else 0 (no level) for a negative one or a side
    without lots. With a pseudo-depth ``beyond`` >= 1 the shares are of ``C_m + beyond``: a position in the last
    share (or at or above :data:`VOLUME_GRID`) lies beyond the shown levels, also on a side without lots."""
    position = np.asarray(position, np.int64)
    lots = np.asarray(lots, np.int64).reshape(position.shape[0], -1)
    cum = np.cumsum(lots, axis=1)
    shown = (lots > 0).sum(axis=1)
    beyond = int(beyond)
    total = np.where(shown > 0, cum[:, -1] if lots.shape[1] else 0, 0) + beyond
    below = (position[:, None] * total[:, None] >= cum * VOLUME_GRID) & (lots > 0)
    empty = (shown == 0) & (beyond == 0)
    level = np.where((position < 0) | empty, 0, below.sum(axis=1) + 1)
    return np.where(position >= VOLUME_GRID, shown + 1, level).astype(np.int64)


def touch_queues(trade, side, price, qty, dt, books: tuple[np.ndarray, ...]) -> np.ndarray:
    """Return the lots (int64 ``(n,)``) of the queue each TRADE message executes against (0 for other messages).

    A run of TRADEs of one side at one time (``dt`` 0 after the first) is one marketable order's fills. The queue a
    fill met is the largest of three lower bounds, each exact in some recording and each at most that queue:

    (a) the lots at its price, on the side it executes against, in the book before it (exact when the books follow
        every fill, as LOBSTER's do);
    (b) the lots there in the book before the run's first fill less the run's earlier fills at that price (exact
        when a simulator records the book after the whole order with each of its fills, as the book simulators and
        the rollout do; (a) is then what the order left);
    (c) the run's fills at that price from this one on plus the lots there in the book after the run (encoding
        version 4): exact in both recordings (nothing joins a price during a run of fills), and the only bound
        left when no book before the run's fills shows the price: a sweep through more levels than the books
        hold, or a side the books show empty. Version 3 counted such a fill's queue 0, so its share was its lots
        over one lot and a replay rejected it (``trade_beyond_best``), leaving those lots in the book.

    An L1 book may not show the second level a sweep reaches, nor a 10-level book the eleventh, so the largest is
    the queue. A side the books show empty before and after counts the run's own fills.

    Parameters
    ----------
    trade, side, price, qty, dt
        Per message: TRADE mask, aggressor side, price (ticks), lots and time since the previous event (ns).
    books
        ``(bid_price, bid_qty, ask_price, ask_qty)`` with one row per event (message *i*'s book before is row *i*,
        its book after row *i* + 1; without a row *i* + 1, (c) counts the run's fills alone).
    """
    queue = np.zeros(trade.shape[0], dtype=np.int64)
    last_row = books[0].shape[0] - 1
    fills = np.flatnonzero(trade)
    runs: list[list[int]] = []  # [first, last] message of each marketable order's fills
    for i in fills:
        if runs and runs[-1][1] == i - 1 and side[i - 1] == side[i] and dt[i] == 0:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    for start, end in runs:
        after = end + 1  # the book after the run (none after the last message of books one row short)
        for i in range(start, end + 1):
            here = price[start : end + 1] == price[i]
            earlier = int(qty[start:i][here[: i - start]].sum())
            later = int(qty[i : end + 1][here[i - start :]].sum())
            run = _lots_at(books, start, side[i], price[i]) - earlier
            shown_after = later + (_lots_at(books, after, side[i], price[i]) if after <= last_row else 0)
            queue[i] = max(_lots_at(books, i, side[i], price[i]), run, shown_after)
    return queue


def _lots_at(books: tuple[np.ndarray, ...], row: int, side: int, price: int) -> int:
    # lots at `price` on the side a trade of aggressor `side` executes against, in book row `row` (0 if not shown)
    prices, lots = (books[2][row], books[3][row]) if side == 1 else (books[0][row], books[1][row])
    return int(lots[(prices == price) & (lots > 0)].sum())


def fill_runs(events: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Return the first and the last event (int64 ``(m,)`` each) of every event of the merged span
    (:func:`merge_fills`): a run of one marketable order's fills at one price, or any other event alone."""
    kind = events["kind"].values.astype(np.int64) & 0xFF
    ts, side, price = (events[name].values for name in ("ts_ns", "side", "price_ticks"))
    trade = _TYPE_OF_KIND[kind] == TYPE_TRADE
    fill = np.zeros(trade.shape[0], dtype=bool)  # a fill that goes on the run of the event before it
    fill[1:] = trade[1:] & trade[:-1] & (np.diff(ts) == 0) & (side[1:] == side[:-1]) & (price[1:] == price[:-1])
    first = np.flatnonzero(~fill)
    return first, np.append(first[1:] - 1, fill.shape[0] - 1).astype(np.int64)


def merge_fills(events: xr.Dataset, books: xr.Dataset) -> tuple[xr.Dataset, xr.Dataset]:
    """Return a span with each marketable order's fills at one price as one TRADE event (``trade_message =
    "order"``).

    A run of TRADE events (visible executions) of one aggressor side at one price and one time, one after the
    other, is one marketable order's fills against that level's time-priority queue: LOBSTER writes one execution
    row per resting order it meets, and so do the book simulators and the rollout. The run becomes its first event
    with the run's lots (every other field the first's), and the book after it is the book after the run's last
    fill. A sweep through several prices stays one event per price; a hidden execution, or any other event, between
    two fills ends the run. The encoding of the merged span round-trips exactly (:func:`decode`); what the merge
    leaves out is how the run's lots were split among the resting orders, which the rollout's ``"queue"`` fill
    (:data:`generators.rollout.TRADE_FILLS`) takes from its own queue, front order first. Merging a merged span
    changes nothing.

    Parameters
    ----------
    events, books
        A span (the books one row per event, the book after it), as :func:`message_table` reads them.
    """
    first, last = fill_runs(events)
    if first.shape[0] == events["ts_ns"].shape[0]:
        return events, books
    qty = events["qty_lots"]
    merged = events.isel({events["ts_ns"].dims[0]: first})
    merged["qty_lots"] = (qty.dims, np.add.reduceat(qty.values.astype(np.int64), first).astype(qty.dtype), qty.attrs)
    dim = books[BOOK_FIELDS[0]].dims[0]
    return merged.assign_attrs({TRADE_MESSAGE: "order"}), books.isel({dim: last})


def decode(messages: MessageTable) -> dict[str, np.ndarray]:
    """Return the events of an integer table: ``ts_ns``, ``kind``, ``side``, ``price_ticks``, ``qty_lots``.

    A TRADE's lots come from its share and :attr:`MessageTable.queue` (:func:`generators.shares.trade_lots`).
    """
    table, reference = messages.table, messages.reference
    return {
        "ts_ns": messages.anchor_ns + np.cumsum(table[:, DT]),
        "kind": _KIND_OF_TYPE[table[:, TYPE]],
        "side": table[:, SIDE].astype(np.int8),
        "price_ticks": absolute_price(table[:, TYPE], table[:, SIDE], table[:, PRICE], reference, messages.add_price),
        "qty_lots": np.where(table[:, TYPE] == TYPE_TRADE, trade_lots(table[:, SIZE], messages.queue), table[:, SIZE]),
    }


def price_signs(add_price: str = "opposite") -> np.ndarray:
    """Return int64 ``(3, N_TYPES)``: per message type, the sign whose product with the side names the best its price
    is measured from, the direction sign (``price = best - side * direction * rel``), under ``add_price``, and 1
    where a value <= 0 is measured from the own best instead (``price = own best + side * rel``: an ADD under
    ``"touch"``), 2 where a value >= 0 is a share of the spread from the own best (an ADD under ``"share"``, measured
    from its own best as under ``"own"``), else 0."""
    check_add_price(add_price)
    split = np.zeros(N_TYPES, np.int64)
    if add_price in ("own", "share"):
        split[TYPE_ADD] = 2 if add_price == "share" else 0
        return np.stack([_OWN_REFERENCE_SIGN, _OWN_DIRECTION_SIGN, split])
    split[TYPE_ADD] = int(add_price == "touch")
    return np.stack([_REFERENCE_SIGN, _DIRECTION_SIGN, split])


def reference_side(types: np.ndarray, sides: np.ndarray, add_price: str = "opposite") -> np.ndarray:
    """Return the side (+1 bid, -1 ask) whose best a message's price is measured from (see the module docstring)."""
    return np.asarray(sides, np.int64) * price_signs(add_price)[0][np.asarray(types, np.int64)]


def absolute_price(types, sides, rel, reference: np.ndarray, add_price: str = "opposite") -> np.ndarray:
    """Return prices (ticks) from relative prices and the reference bests ``(n, 2)`` (bid, ask) before each message
    (an ADD's from the opposite best, or from its own with ``add_price = "own"``; ``"touch"``: from its own at or
    behind it, from the opposite inside the spread)."""
    types, sides, rel = (np.asarray(a, np.int64) for a in (types, sides, rel))
    reference = np.asarray(reference, np.int64).reshape(-1, 2)
    best = np.where(reference_side(types, sides, add_price) == 1, reference[:, 0], reference[:, 1])
    if add_price == "share":  # an ADD's code >= 0: its share of the spread, decoded to ticks inside its own best
        rel = np.where(types == TYPE_ADD, share_ticks(rel, reference[:, 1] - reference[:, 0]), rel)
    price = best - sides * price_signs(add_price)[1][types] * rel
    if add_price == "touch":  # an ADD's value <= 0: ticks inside its own best (0 the touch, < 0 behind it)
        own = np.where(sides == 1, reference[:, 0], reference[:, 1])
        price = np.where((types == TYPE_ADD) & (rel <= 0), own + sides * rel, price)
    return price


def relative_price(types, sides, prices, reference: np.ndarray, add_price: str = "opposite") -> np.ndarray:
    """Return relative prices (ticks; the inverse of :func:`absolute_price`)."""
    types, sides, prices = (np.asarray(a, np.int64) for a in (types, sides, prices))
    reference = np.asarray(reference, np.int64).reshape(-1, 2)
    best = np.where(reference_side(types, sides, add_price) == 1, reference[:, 0], reference[:, 1])
    rel = (best - prices) * sides * price_signs(add_price)[1][types]
    if add_price == "share":  # an ADD at or inside the spread: its share of it (ticks inside its own best / spread)
        rel = np.where(types == TYPE_ADD, share_code(rel, reference[:, 1] - reference[:, 0]), rel)
    if add_price == "touch":  # an ADD at or behind its own best: minus its ticks behind it
        spread = reference[:, 1] - reference[:, 0]
        rel = np.where((types == TYPE_ADD) & (rel >= spread), spread - rel, rel)
    return rel


def share_code(ticks, spread) -> np.ndarray:
    """Return the ``"share"`` codes (int64) of ADDs ``ticks`` inside their own best before a ``spread`` (ticks; the
    last quoted bests, so at most 0 where a side's stale quote lies through the other's), with ``S = max(spread, 1)``:
    the ticks themselves at or behind the best (``ticks <= 0``), ``round(ticks * ADD_SHARE_ONE / S)`` (half up, in
    ``(0, ADD_SHARE_ONE)``) inside the spread (``0 < ticks < S``), and ``ADD_SHARE_ONE + ticks - S`` at or through the
    opposite side's last quote (an ADD only the data can hold, where that side is empty). The inverse of
    :func:`share_ticks` for spreads below ``ADD_SHARE_ONE``."""
    ticks = np.asarray(ticks, np.int64)
    spread = np.maximum(np.asarray(spread, np.int64), 1)
    inside = (2 * ticks * ADD_SHARE_ONE + spread) // (2 * spread)
    return np.where(ticks <= 0, ticks, np.where(ticks < spread, inside, ADD_SHARE_ONE + ticks - spread))


def share_ticks(code, spread) -> np.ndarray:
    """Return the ticks inside their own best (int64) of ADDs of ``"share"`` codes ``code`` before a ``spread``
    (ticks), with ``S = max(spread, 1)``: a code < 0 is the ticks themselves (behind the best); a code in
    ``[0, ADD_SHARE_ONE)`` is a share of the spread, ``round(code * S / ADD_SHARE_ONE)`` (half up) clipped to
    ``0 .. S - 1`` (the nearest tick strictly inside the opposite best: only the touch, 0, when the spread is 1 tick
    or less); a code >= ``ADD_SHARE_ONE`` lies ``code - ADD_SHARE_ONE`` ticks through the opposite side's last quote
    (the rollout refuses it unless that side is empty). The inverse of :func:`share_code`."""
    code = np.asarray(code, np.int64)
    spread = np.maximum(np.asarray(spread, np.int64), 1)
    inside = np.minimum((2 * np.maximum(code, 0) * spread + ADD_SHARE_ONE) // (2 * ADD_SHARE_ONE), spread - 1)
    return np.where(code < 0, code, np.where(code < ADD_SHARE_ONE, inside, spread + code - ADD_SHARE_ONE))


def message_features(table: np.ndarray, knots: tuple[tuple[float, ...], ...]) -> np.ndarray:
    """Return the raw (unnormalised) float64 message vectors ``(n, MESSAGE_WIDTH)`` of an integer table.

    ``knots`` are :attr:`Encoding.knots`: the four integer columns enter through their quantile transform
    (:func:`to_quantile`), a TRADE's share through the quantiles of the trades' shares.
    """
    table = np.asarray(table, np.int64)
    out = np.zeros((table.shape[0], MESSAGE_WIDTH))
    out[:, M_TYPE : M_TYPE + N_TYPES] = -1.0
    out[np.arange(table.shape[0]), M_TYPE + table[:, TYPE]] = 1.0
    out[:, M_SIDE] = table[:, SIDE]
    for column, name, row in zip(NORMALISED_MESSAGE_COLUMNS, QUANTILE_FIELDS, knots[:SHARE_ROW], strict=True):
        out[:, column] = to_quantile(table[:, name], row)
    trade = table[:, TYPE] == TYPE_TRADE
    out[trade, M_SIZE] = to_quantile(table[trade, SIZE], knots[SHARE_ROW])
    return out


def features_to_table(vectors: np.ndarray, knots: tuple[tuple[float, ...], ...]) -> np.ndarray:
    """Return the integer table of raw message vectors, rounded; values may break the rules (the rollout checks).

    The type is the largest one-hot entry, the side the sign of its entry (0 counts as +1); the other fields are
    the nearest integers of the inverse quantile transform (:func:`from_quantile`; a size may come out 0: such a
    message is invalid). The size of a TRADE is its share (the inverse of the trades' own quantiles), which the
    rollout turns into lots against the queue the trade meets.
    """
    vectors = np.asarray(vectors, np.float64)
    table = np.zeros((vectors.shape[0], len(FIELDS)), dtype=np.int64)
    table[:, TYPE] = np.argmax(vectors[:, M_TYPE : M_TYPE + N_TYPES], axis=1)
    table[:, SIDE] = np.where(vectors[:, M_SIDE] >= 0, 1, -1)
    for column, name, row in zip(NORMALISED_MESSAGE_COLUMNS, QUANTILE_FIELDS, knots[:SHARE_ROW], strict=True):
        table[:, name] = np.rint(from_quantile(vectors[:, column], row))
    trade = table[:, TYPE] == TYPE_TRADE
    table[trade, SIZE] = np.rint(from_quantile(vectors[trade, M_SIZE], knots[SHARE_ROW]))
    return table


def fit_knots(table: np.ndarray) -> tuple[tuple[float, ...], ...]:
    """Return the :data:`QUANTILE_KNOTS` + 1 quantiles (training values) of each of :data:`KNOT_ROWS`.

    The size row holds the messages other than TRADEs, the share row the TRADEs. A row with no message (a span
    without trades) is all 0: every value of it decodes to a size of 0, which the rollout rejects (``bad_value``),
    so a model trained without trades applies none.
    """
    table = np.asarray(table, np.int64)
    trade = table[:, TYPE] == TYPE_TRADE
    columns = [table[:, DT], table[:, PRICE], table[~trade, SIZE], table[:, LEVEL], table[trade, SIZE]]
    return tuple(_quantiles(values) for values in columns)


def _quantiles(values: np.ndarray) -> tuple[float, ...]:
    if values.size == 0:
        return (0.0,) * (QUANTILE_KNOTS + 1)
    probabilities = np.linspace(0.0, 1.0, QUANTILE_KNOTS + 1)
    return tuple(np.quantile(values, probabilities, method="inverted_cdf").astype(np.float64).tolist())


def to_quantile(values: np.ndarray, knots: tuple[float, ...]) -> np.ndarray:
    """Return the Gaussian quantile transform of ``values``: ``Phi^-1((index + 0.5) / (knots))``.

    The index of a value equal to knots ``i..j`` is the middle ``(i + j) / 2`` of its run, that of one between two
    knots the linear interpolation of theirs, that of one outside the knots the nearer end (about +-3.1 with 513
    knots).
    """
    knots_ = np.asarray(knots, np.float64)
    values = np.asarray(values, np.float64)
    last = knots_.shape[0] - 1
    low, high = np.searchsorted(knots_, values, "left"), np.searchsorted(knots_, values, "right")
    below, above = np.clip(low - 1, 0, last), np.clip(low, 0, last)
    gap = knots_[above] - knots_[below]
    between = below + np.clip((values - knots_[below]) / np.where(gap > 0, gap, 1.0), 0.0, 1.0)
    index = np.where(high > low, (low + high - 1) / 2.0, np.where(low == 0, 0.0, np.where(low > last, last, between)))
    return ndtri((index + 0.5) / (last + 1))


def from_quantile(values: np.ndarray, knots: tuple[float, ...]) -> np.ndarray:
    """Return the inverse of :func:`to_quantile` (float; an index beyond the ends maps to the end knots)."""
    knots_ = np.asarray(knots, np.float64)
    last = knots_.shape[0] - 1
    index = np.clip(ndtr(np.asarray(values, np.float64)) * (last + 1) - 0.5, 0.0, last)
    return np.interp(index, np.arange(last + 1), knots_)


def flow_signs(types: np.ndarray, sides: np.ndarray) -> np.ndarray:
    """Return the order sign of each message (+1 pushes the price up: a bid added, an ask removed, a buy)."""
    return np.asarray(sides, np.int64) * _FLOW_SIGN[np.asarray(types, np.int64)]


def book_width(level_prices: bool = False) -> int:
    """Return the width of the book-state vector with or without the level positions (``level_prices``)."""
    return BOOK_WIDTH + (LEVEL_PRICE_WIDTH if level_prices else 0)


def book_features(books: tuple[np.ndarray, ...], signs: np.ndarray, level_prices: bool = False) -> np.ndarray:
    """Return the raw book-state vectors ``(n, book_width(level_prices))``: row *i* describes the book after row *i*.

    Parameters
    ----------
    books
        ``(bid_price, bid_qty, ask_price, ask_qty)`` arrays ``(n, levels)`` (ticks, lots).
    signs
        Order sign of the message that led to each row (:func:`flow_signs`; 0 for the anchor).
    level_prices
        Append the positions of levels 2-10: per side (bid, then ask), ``log1p`` of the ticks from the side's best
        (``best bid - price``, ``price - best ask``), 0 where the level or the side's best is empty.
    """
    bid_price, bid_qty, ask_price, ask_qty = books
    n = bid_qty.shape[0]
    out = np.zeros((n, book_width(level_prices)))
    depth = min(DEPTH_LEVELS, bid_qty.shape[1])
    out[:, :depth] = np.log1p(bid_qty[:, :depth])
    out[:, DEPTH_LEVELS : DEPTH_LEVELS + depth] = np.log1p(ask_qty[:, :depth])
    quoted = (bid_qty[:, 0] > 0) & (ask_qty[:, 0] > 0)
    spread = np.where(quoted, ask_price[:, 0] - np.where(quoted, bid_price[:, 0], 0), 0)
    out[:, B_SPREAD] = np.log1p(np.maximum(spread, 0).astype(np.float64))
    out[:, 2 * DEPTH_LEVELS + 1] = quoted
    out[:, 2 * DEPTH_LEVELS + 2] = _trailing_mean(np.asarray(signs, np.float64), FLOW_WINDOW)
    mid = mid_ticks(books)
    for column, lag in ((3, FLOW_WINDOW), (4, SHORT_WINDOW)):
        change = mid - mid[np.maximum(np.arange(n) - lag, 0)]
        out[:, 2 * DEPTH_LEVELS + column] = np.sign(change) * np.log1p(np.abs(change))
    if level_prices:
        for offset, price, qty, direction in ((0, bid_price, bid_qty, 1), (DEPTH_LEVELS - 1, ask_price, ask_qty, -1)):
            for k in range(1, depth):
                present = (qty[:, k] > 0) & (qty[:, 0] > 0)
                ticks = np.where(present, direction * (price[:, 0] - price[:, k]), 0)
                out[:, BOOK_WIDTH + offset + k - 1] = np.log1p(np.maximum(ticks, 0).astype(np.float64))
    return out


def mid_ticks(books: tuple[np.ndarray, ...]) -> np.ndarray:
    """Return the mid price (ticks) after each row, carried over rows where a side is empty (first quote back)."""
    bid_price, bid_qty, ask_price, ask_qty = books
    quoted = (bid_qty[:, 0] > 0) & (ask_qty[:, 0] > 0)
    if not quoted.any():
        return np.zeros(bid_qty.shape[0])
    index = np.maximum.accumulate(np.where(quoted, np.arange(quoted.shape[0]), -1))
    index = np.where(index < 0, np.flatnonzero(quoted)[0], index)
    mid = (np.where(quoted, bid_price[:, 0], 0) + np.where(quoted, ask_price[:, 0], 0)) / 2.0
    return mid[index]


def regime_values(books: tuple[np.ndarray, ...], window: int = REGIME_WINDOW) -> np.ndarray:
    """Return the regime measures ``(n, 4)`` of each row over rows ``i .. i + window`` (cut at the end).

    Columns in :data:`REGIMES` order: realised volatility ``sqrt(sum of squared mid changes)`` (ticks), trend (mid
    change, ticks), mean total depth of levels 1-10 of both sides (lots), mean depth imbalance
    ``(bid - ask) / (bid + ask)``.
    """
    bid_qty, ask_qty = books[1][:, :DEPTH_LEVELS].sum(axis=1), books[3][:, :DEPTH_LEVELS].sum(axis=1)
    mid = mid_ticks(books)
    n = mid.shape[0]
    end = np.minimum(np.arange(n) + window, n - 1)
    squared = np.concatenate([[0.0], np.cumsum(np.diff(mid) ** 2)])
    total = (bid_qty + ask_qty).astype(np.float64)
    imbalance = np.where(total > 0, (bid_qty - ask_qty) / np.maximum(total, 1), 0.0)
    out = np.empty((n, len(REGIMES)))
    out[:, 0] = np.sqrt(squared[end] - squared)
    out[:, 1] = mid[end] - mid
    for column, values in ((2, total), (3, imbalance)):
        sums = np.concatenate([[0.0], np.cumsum(values)])
        out[:, column] = (sums[end + 1] - sums[:n]) / (end + 1 - np.arange(n))
    return out


def raw_features(
    events: xr.Dataset,
    books: xr.Dataset,
    knots: tuple[tuple[float, ...], ...],
    *,
    source: str = "dataset",
    level_prices: bool = False,
    cancel_position: str = "level",
    beyond_lots: tuple[int, ...] = (),
    beyond_ticks: tuple[int, ...] = (),
    add_price: str = "opposite",
) -> dict[str, Any]:
    """Return the integer messages and the unnormalised vectors of a flow (message *i*'s book is row *i*; the book
    state with the level positions when ``level_prices``; a removal's ``level`` column as ``cancel_position``; an
    ADD's price as ``add_price``)."""
    messages = message_table(
        events, books, source=source, cancel_position=cancel_position, beyond_lots=beyond_lots,
        beyond_ticks=beyond_ticks, add_price=add_price,
    )  # fmt: skip
    arrays = tuple(books[name].values for name in BOOK_FIELDS)
    signs = np.concatenate([[0], flow_signs(messages.table[:, TYPE], messages.table[:, SIDE])])
    return {
        "messages": messages,
        "vectors": message_features(messages.table, knots),
        "book": book_features(arrays, signs, level_prices)[:-1],
        "regime_values": regime_values(arrays)[:-1],
    }


def fit_encoding(events: xr.Dataset, books: xr.Dataset, *, history: int, source: str = "dataset") -> Encoding:
    """Fit the normalisation statistics and regime quintiles on a training flow.

    Parameters
    ----------
    events, books
        The training span (see :func:`message_table`).
    history
        Messages of history the model conditions on (>= 1; the flow needs more messages than that).
    source
        Names the data in error messages.

    The books' :data:`KNOWN_DEPTH_ONLY` and :data:`LEVEL_PRICES` attributes (set by :mod:`generators.spec`) turn
    on the encoding's ``known_depth_only`` and ``level_prices``; their :data:`CANCEL_POSITION` attribute
    (``"level"`` or ``"volume"``) sets its ``cancel_position``, their :data:`ADD_PRICE` attribute (``"opposite"``
    or ``"own"``) its ``add_price``, their :data:`TRADE_MESSAGE` attribute (``"order"``: the span's fills merged
    first, :func:`merge_fills`) its ``trade_message``.
    """
    if isinstance(history, bool) or not isinstance(history, (int, np.integer)) or history < 1:
        raise ParameterError(f"`history` of fit_encoding must be an int >= 1; got {history!r}")
    trade_message = check_trade_message(getattr(books, "attrs", {}).get(TRADE_MESSAGE, "fill"), source=source)
    if trade_message == "order":
        events, books = merge_fills(events, books)
    position = check_cancel_position(getattr(books, "attrs", {}).get(CANCEL_POSITION, "level"), source=source)
    beyond = fit_beyond_lots(events, books, source=source) if position in ("depth", "spread") else ()
    ticks = fit_beyond_ticks(events, books, source=source) if position == "spread" else ()
    add_price = check_add_price(getattr(books, "attrs", {}).get(ADD_PRICE, "opposite"), source=source)
    messages = message_table(
        events,
        books,
        source=source,
        cancel_position=position,
        beyond_lots=beyond,
        beyond_ticks=ticks,
        add_price=add_price,
    )
    knots = fit_knots(messages.table)
    level_prices = bool(books.attrs.get(LEVEL_PRICES, False))
    raw = raw_features(
        events, books, knots, source=source, level_prices=level_prices, cancel_position=position, beyond_lots=beyond,
        beyond_ticks=ticks, add_price=add_price,
    )  # fmt: skip
    vectors = raw["vectors"]
    mean, std = np.zeros(MESSAGE_WIDTH), np.ones(MESSAGE_WIDTH)
    for column in NORMALISED_MESSAGE_COLUMNS:
        mean[column], std[column] = vectors[:, column].mean(), max(vectors[:, column].std(), STD_FLOOR)
    book = raw["book"]
    edges = np.quantile(raw["regime_values"], [0.2, 0.4, 0.6, 0.8], axis=0).T
    normalised = (vectors - mean) / std
    return Encoding(
        tuple(mean),
        tuple(std),
        tuple(book.mean(axis=0)),
        tuple(np.maximum(book.std(axis=0), STD_FLOOR)),
        tuple(tuple(row) for row in edges),
        tuple(normalised.min(axis=0)),
        tuple(normalised.max(axis=0)),
        int(history),
        knots=knots,
        book_levels=min(DEPTH_LEVELS, int(books.sizes["level"])),
        known_depth_only=wants_known_depth(books, source=source),
        level_prices=level_prices,
        cancel_position=position,
        beyond_lots=tuple(beyond),
        beyond_ticks=tuple(ticks),
        add_price=add_price,
        trade_message=trade_message,
    )


def encode(events: xr.Dataset, books: xr.Dataset, encoding: Encoding, *, source: str = "dataset") -> EncodedFlow:
    """Encode a flow with fitted statistics (its fills merged first with ``trade_message = "order"``,
    :meth:`Encoding.span`); refuse one with too few messages for the history."""
    events, books = encoding.span(events, books)
    raw = raw_features(
        events, books, encoding.knots, source=source, level_prices=encoding.level_prices,
        cancel_position=encoding.cancel_position, beyond_lots=encoding.beyond_lots,
        beyond_ticks=encoding.beyond_ticks, add_price=encoding.add_price,
    )  # fmt: skip
    n = raw["vectors"].shape[0]
    if n <= encoding.history:
        raise DataError(
            f"{source}: the encoding needs more messages than the history length {encoding.history}; got {n} "
            f"(events after the first)"
        )
    rows = known_rows(books, encoding.book_levels) if encoding.known_depth_only else None
    known = None if rows is None else rows[:-1]  # message i's book before is books row i
    return EncodedFlow(
        raw["messages"],
        encoding.messages(raw["messages"].table),
        encoding.book(raw["book"]),
        encoding.quintiles(raw["regime_values"]),
        raw["regime_values"],
        known,
    )


def known_rows(books: xr.Dataset, levels: int = DEPTH_LEVELS) -> np.ndarray | None:
    """Return bool ``(time,)``: the book row's first ``levels`` cells of both sides are all known; None without masks.

    A replay's books carry ``bid_determined`` / ``ask_determined`` (:func:`generators.data.read_flow`, True where
    the messages determine the cell); books without them are known in every cell. One mask without the other is
    refused.
    """
    present = [name for name in MASK_FIELDS if name in books]
    if not present:
        return None
    if len(present) == 1:
        raise DataError(f"books: the masks {list(MASK_FIELDS)} come together; found only {present}")
    bid, ask = (np.asarray(books[name].values, dtype=bool)[:, :levels] for name in MASK_FIELDS)
    return bid.all(axis=1) & ask.all(axis=1)


def wants_known_depth(books: xr.Dataset, *, source: str = "train span") -> bool:
    """Return whether the training books ask for ``known_depth_only`` (:data:`KNOWN_DEPTH_ONLY` attribute);
    refuse the request on books without masks."""
    if not books.attrs.get(KNOWN_DEPTH_ONLY, False):
        return False
    if any(name not in books for name in MASK_FIELDS):
        raise DataError(
            f"{source}: known_depth_only needs books with the masks {list(MASK_FIELDS)} (a replay of a deeper "
            f"message file); got {sorted(name for name in MASK_FIELDS if name in books) or 'none'}"
        )
    return True


def regime_condition(regime: dict[str, int] | None, *, source: str = "--regime") -> np.ndarray:
    """Return the condition indices ``(4,)`` of a regime given as quintiles 1-5 by name (unset: the null index).

    Parameters
    ----------
    regime
        ``{"volatility": 5, "depth": 1}``: names from :data:`REGIMES`, quintiles 1 (lowest) to 5 (highest).
    source
        Names the argument in error messages.
    """
    out = np.full(len(REGIMES), NULL_REGIME, dtype=np.int64)
    for name, quintile in (regime or {}).items():
        if name not in REGIMES:
            raise ParameterError(f"{source}: unknown regime {name!r}; expected one of {list(REGIMES)}")
        if isinstance(quintile, bool) or not isinstance(quintile, (int, np.integer)) or not 1 <= quintile <= 5:
            raise ParameterError(f"{source}: quintile of regime {name!r} must be an int in 1-5; got {quintile!r}")
        out[REGIMES.index(name)] = int(quintile) - 1
    return out


def check_flow(events: xr.Dataset, books: xr.Dataset | None, *, source: str = "dataset") -> None:
    """Refuse a flow without the fields the encoding needs, with kinds or sides it cannot encode."""
    if not isinstance(events, xr.Dataset) or any(name not in events for name in EVENT_FIELDS):
        found = list(events.data_vars) if isinstance(events, xr.Dataset) else type(events).__name__
        raise DataError(f"{source}: the encoding needs events with {list(EVENT_FIELDS)}; got {found}")
    if books is None or any(name not in books for name in BOOK_FIELDS):
        found = None if books is None else list(books.data_vars)
        raise DataError(f"{source}: the encoding needs books with {list(BOOK_FIELDS)} (a book model); got {found}")
    n = events.sizes["event"]
    if books.sizes.get("time") != n:
        raise DataError(f"{source}: books must hold one row per event ({n}); got {books.sizes.get('time')}")
    if n < 2:
        raise DataError(f"{source}: the encoding needs at least 2 events (an anchor and a message); got {n}")
    kind = events["kind"].values.astype(np.int64)
    bad = np.flatnonzero((_TYPE_OF_KIND[kind & 0xFF] < 0) | (kind < 0))
    if bad.size:
        names = [k.name for k in KINDS]
        raise DataError(f"{source}: events row {int(bad[0])}: kind must be one of {names}; got {int(kind[bad[0]])}")
    side = events["side"].values
    bad = np.flatnonzero(np.abs(side.astype(np.int64)) != 1)
    if bad.size:
        raise DataError(f"{source}: events row {int(bad[0])}: side must be +1 or -1; got {int(side[bad[0]])}")


def _reference(bid_price, bid_qty, ask_price, ask_qty, source: str) -> np.ndarray:
    # last quoted best of each side after each row; a side never quoted yet sits one tick from the other's
    refs = []
    for price, qty in ((bid_price, bid_qty), (ask_price, ask_qty)):
        index = np.maximum.accumulate(np.where(qty > 0, np.arange(qty.shape[0]), -1))
        refs.append(np.where(index >= 0, price[np.maximum(index, 0)], NO_PRICE))
    bid, ask = refs
    missing = (bid == NO_PRICE) & (ask == NO_PRICE)
    if missing.any():
        raise DataError(f"{source}: books row {int(np.flatnonzero(missing)[0])}: neither side has been quoted yet")
    bid = np.where(bid == NO_PRICE, ask - 1, bid)
    ask = np.where(ask == NO_PRICE, bid + 1, ask)
    return np.stack([bid, ask], axis=1).astype(np.int64)


def _trailing_mean(values: np.ndarray, window: int) -> np.ndarray:
    sums = np.concatenate([[0.0], np.cumsum(values)])
    index = np.arange(values.shape[0]) + 1
    start = np.maximum(index - window, 0)
    return (sums[index] - sums[start]) / (index - start)
