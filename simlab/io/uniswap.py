"""Read Uniswap v2 and v3 swap exports (The Graph subgraphs) into SWAP events with the pool's price path.

Conventions shared by both readers: one SWAP event per swap, ``side`` +1 when the trader buys the base token
(the pool pays it out), -1 when the trader sells it, 0 when the base amount is 0; ``qty_lots`` is the base amount
in lots of 1e-9 base token (int64 cannot hold 1e-18 units of more than 9.2 tokens); the float extra variables
``amount0`` and ``amount1`` are signed from the pool's point of view (positive = paid into the pool), in tokens.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import xarray as xr

from simlab.errors import DataError, ParameterError
from simlab.io._csv import Column, Table, parse_csv
from simlab.io._source import read_bytes
from simlab.provenance import provenance
from simlab.schema import EventKind, make_events

LOT_SIZE = 1e-9
"""Lot of the base token (WETH for v3 USDC/WETH, UNI for v2 UNI/WETH): 1e-9 token."""
V3_MAX_TICK = 887_272
V3_COLUMNS = (
    Column("amount0", "float"),
    Column("amount1", "float"),
    Column("amountUSD", "float"),
    Column("id", "str"),
    Column("sqrtPriceX96", "float"),
    Column("tick", "int"),
    Column("timestamp", "int"),
    *(Column(name, "skip") for name in ("timestamp_1", "liquidity", "token0Price", "token1Price", "sqrtPrice")),
    *(Column(name, "skip") for name in ("open", "close", "datetime")),
)
V2_COLUMNS = (
    Column("", "int"),
    *(Column(name, "str") for name in ("amount0In", "amount0Out", "amount1In", "amount1Out")),
    Column("amountUSD", "float"),
    Column("id", "str"),
    Column("timestamp", "int"),
    Column("pair.id", "skip"),
    Column("pair.reserve0", "str"),
    Column("pair.reserve1", "str"),
    Column("pair.token0.symbol", "skip"),
    Column("pair.token1.symbol", "skip"),
    Column("transaction.blockNumber", "int"),
    Column("transaction.id", "skip"),
)
V2_DECIMALS = 18
_DECIMAL = re.compile(rf"(\d{{1,40}})(?:\.(\d{{1,{V2_DECIMALS}}}))?")


def _read_table(path: Path, columns: tuple[Column, ...]) -> Table:
    table = parse_csv(read_bytes(path), columns, source=path.name, header=True)
    expected = [c.name for c in columns]
    if table.header != expected:
        raise DataError(f"{path.name} line 1: expected the header {expected}; found {table.header}")
    if len(table) == 0:
        raise DataError(f"{path.name}: expected at least one swap row; found none")
    return table


def read_uniswap_v3_swaps(path: str | Path, *, sort: bool = False) -> dict[str, xr.Dataset]:
    """Read a Uniswap v3 USDC/WETH swap export (Credmark / The Graph CSV) into SWAP events.

    Parameters
    ----------
    path
        The ``.csv`` or ``.csv.gz`` file (columns amount0 = USDC, amount1 = WETH, amountUSD, id, ..., tick,
        timestamp in Unix seconds, ...).
    sort
        Sort rows stably by time instead of rejecting a decreasing timestamp (recorded in attrs).

    Returns
    -------
    dict
        ``{"events": ...}``: base WETH priced in USDC. ``price_ticks`` is the pool tick after the swap (raw price
        token1/token0 = 1.0001**tick, so USDC per WETH = 1e12 / 1.0001**tick); ``qty_lots`` the WETH amount in
        1e-9 WETH; extras ``amount0`` (USDC), ``amount1`` (WETH), ``amount_usd``, ``pool_price`` (USDC per WETH
        after the swap) and ``tx_counter`` (the ``n`` of ``txhash#n``).
    """
    path = Path(path)
    table = _read_table(path, V3_COLUMNS)
    amount0, amount1, tick = table["amount0"], table["amount1"], table["tick"]
    table.require(np.abs(tick) <= V3_MAX_TICK, f"a v3 tick must be in [-{V3_MAX_TICK}, {V3_MAX_TICK}]", "tick")
    table.require(table["amountUSD"] >= 0, "amountUSD must be >= 0", "amountUSD")
    same = np.sign(amount0) * np.sign(amount1) > 0
    table.require(~same, "a swap pays one token in and the other out: amount0 and amount1 of opposite signs", "amount1")
    table.require(table["timestamp"] >= 0, "a Unix timestamp must be >= 0", "timestamp")
    order, resorted = _time_order(table, table["timestamp"], sort)
    counter = _v3_counters(table)
    price = 1e12 / np.power(1.0001, tick.astype(np.float64))
    attrs = provenance(seed=None, config={"sort": sort}, sources=[path])
    attrs.update(
        format="uniswap_v3_swaps_thegraph",
        base_token="WETH (token1, 18 decimals)",
        quote_token="USDC (token0, 6 decimals)",
        price_convention="price_ticks is the pool tick after the swap: raw price token1/token0 = 1.0001**tick, "
        "so the price in USDC per WETH is 10**(18-6) / 1.0001**tick; tick_size 1 is one tick of that log grid",
        side_convention="+1: the trader bought WETH (amount1 < 0, paid out by the pool); -1: sold WETH",
        qty_precision="qty_lots = round(|amount1| / 1e-9): the CSV's floats hold ~10 significant digits",
        sorted=resorted,
    )
    extra = dict(amount0=amount0, amount1=amount1, amount_usd=table["amountUSD"], pool_price=price)
    extra["tx_counter"] = counter
    events = make_events(
        ts_ns=table["timestamp"][order] * 10**9, kind=int(EventKind.SWAP),
        side=-np.sign(amount1[order]).astype(np.int8), price_ticks=tick[order],
        qty_lots=np.rint(np.abs(amount1[order]) / LOT_SIZE).astype(np.int64), tick_size=1.0, lot_size=LOT_SIZE,
        instrument="WETH/USDC", venue="Uniswap v3 (Ethereum mainnet)",
        extra={name: values[order] for name, values in extra.items()}, attrs=attrs, source=path.name,
    )  # fmt: skip
    return {"events": events}


def _v3_counters(table: Table) -> np.ndarray:
    ids = table["id"]
    counter = np.empty(ids.shape[0], dtype=np.int64)
    for row, text in enumerate(ids.tolist()):
        head, _, tail = text.partition("#")
        if not (head.startswith("0x") and tail.isdigit() and len(tail) < 19):
            raise table.error(row, "expected a swap id 'txhash#n'", "id", text)
        counter[row] = int(tail)
    return counter


def _time_order(table: Table, seconds: np.ndarray, sort: bool, descending: bool = False) -> tuple[np.ndarray, bool]:
    step = np.diff(seconds)
    bad = np.flatnonzero(step > 0 if descending else step < 0)
    if bad.size and not sort:
        row = int(bad[0]) + 1
        word = "later" if descending else "earlier"
        rule = f"the timestamp is {word} than line {table.line(row - 1)} ({seconds[row - 1]}); pass sort=True"
        raise table.error(row, rule, "timestamp", int(seconds[row]))
    return np.argsort(seconds, kind="stable"), bool(bad.size)


def read_uniswap_v2_swaps(path: str | Path, *, fee: float = 0.003, sort: bool = False) -> dict[str, xr.Dataset]:
    """Read a Uniswap v2 UNI/WETH swap export (The Graph CSV, newest first) and rebuild the pool's reserves.

    The file gives the pair's reserves at query time (one pair of values per block of rows). Walking each block
    backwards from them with the exact 18-decimal amounts gives the reserves before and after every swap; the
    reader checks that x*y does not decrease and measures how well each swap satisfies the constant product with
    fee, ``(x' - fee*in0) (y' - fee*in1) >= x y`` (primes: after the swap), reported in attrs.

    Parameters
    ----------
    path
        The ``.csv`` or ``.csv.gz`` file.
    fee
        The pool's fee as a fraction (0.003 for Uniswap v2).
    sort
        Accept rows whose timestamps increase inside a block (the export is newest first) and sort them.

    Returns
    -------
    dict
        ``{"events": ...}`` sorted oldest first: base UNI priced in WETH. ``price_ticks`` is the pool price
        reserve1/reserve0 after the swap in ticks of 1e-12 WETH per UNI; ``qty_lots`` the UNI amount in 1e-9 UNI;
        extras ``amount0`` (UNI), ``amount1`` (WETH), ``amount_usd``, ``reserve0``, ``reserve1`` and
        ``pool_price`` after the swap, ``k_ratio`` (x'y' / xy), ``block_number``, ``log_index``, ``segment``.
    """
    if not 0 <= fee < 1:
        raise ParameterError(f"`fee` of read_uniswap_v2_swaps must be in [0, 1); got {fee}")
    path = Path(path)
    table = _read_table(path, V2_COLUMNS)
    ins = [_exact_units(table, name) for name in ("amount0In", "amount0Out", "amount1In", "amount1Out")]
    net0, net1 = ins[0] - ins[1], ins[2] - ins[3]
    signs = np.array([(a > 0) - (a < 0) for a in net0]) * np.array([(b > 0) - (b < 0) for b in net1])
    table.require(signs < 0, "a swap pays one token in and takes the other out (net amounts of opposite signs)")
    table.require(table["amountUSD"] >= 0, "amountUSD must be >= 0", "amountUSD")
    segment = _v2_segments(table)
    reserves = _walk_back(table, segment, net0, net1)
    checks = _v2_checks(reserves, ins[0], ins[2], fee)
    order, resorted = _v2_order(table, segment, sort)
    return {
        "events": _v2_events(path, table, ins, reserves, checks, segment, order, dict(fee=fee, sort=sort), resorted)
    }


def _exact_units(table: Table, column: str) -> np.ndarray:
    """Parse a decimal column exactly into Python ints of 1e-18 token (object array)."""
    texts = table[column]
    out = np.empty(texts.shape[0], dtype=object)
    for row, text in enumerate(texts.tolist()):
        match = _DECIMAL.fullmatch(text)
        if not match:
            rule = f"expected a non-negative decimal with at most {V2_DECIMALS} decimals"
            raise table.error(row, rule, column, text)
        whole, frac = match.group(1), match.group(2) or ""
        out[row] = int(whole) * 10**V2_DECIMALS + int(frac.ljust(V2_DECIMALS, "0"))
    return out


def _v2_segments(table: Table) -> np.ndarray:
    """Number the blocks of rows that share one query-time reserve pair (each must be contiguous)."""
    key = np.char.add(np.char.add(table["pair.reserve0"].astype(str), "/"), table["pair.reserve1"].astype(str))
    change = np.flatnonzero(key[1:] != key[:-1]) + 1
    segment = np.zeros(key.shape[0], dtype=np.int64)
    segment[change] = 1
    segment = np.cumsum(segment)
    starts = np.concatenate(([0], change))
    _, first = np.unique(key[starts], return_index=True)
    if first.shape[0] != starts.shape[0]:
        row = int(starts[np.setdiff1d(np.arange(starts.shape[0]), first)[0]])
        raise table.error(row, "the rows of one query-time reserve pair must be contiguous", "pair.reserve0")
    return segment


def _walk_back(table: Table, segment: np.ndarray, net0: np.ndarray, net1: np.ndarray) -> dict[str, np.ndarray]:
    """Return exact reserves before and after each swap, walking each segment back from its query-time reserves."""
    out = {name: np.empty(net0.shape[0], dtype=object) for name in ("x_after", "y_after", "x_before", "y_before")}
    for seg in np.unique(segment):
        rows = np.flatnonzero(segment == seg)
        x0 = _exact_units(table, "pair.reserve0")[rows[0]]
        y0 = _exact_units(table, "pair.reserve1")[rows[0]]
        x_before = x0 - np.cumsum(net0[rows])
        y_before = y0 - np.cumsum(net1[rows])
        out["x_before"][rows], out["y_before"][rows] = x_before, y_before
        out["x_after"][rows], out["y_after"][rows] = x_before + net0[rows], y_before + net1[rows]
    for name in ("x_before", "y_before"):
        bad = np.array([v <= 0 for v in out[name]])
        if bad.any():
            rule = "walking back from the query-time reserves gives a reserve <= 0 before this swap"
            raise table.error(int(np.flatnonzero(bad)[0]), rule, "pair.reserve0" if name[0] == "x" else "pair.reserve1")
    return out


def _v2_checks(reserves: dict[str, np.ndarray], in0: np.ndarray, in1: np.ndarray, fee: float) -> dict[str, object]:
    """Measure x*y growth and the constant-product-with-fee relation (exact integers, one float per swap)."""
    scale = 10**9
    fee_units = round(fee * scale)
    xa, ya, xb, yb = (reserves[k] for k in ("x_after", "y_after", "x_before", "y_before"))
    k_ratio = np.array([(a * b) / (c * d) for a, b, c, d in zip(xa, ya, xb, yb, strict=True)], dtype=np.float64)
    with_fee = np.array(
        [
            ((a * scale - fee_units * i0) * (b * scale - fee_units * i1)) / (c * d * scale * scale) - 1.0
            for a, b, c, d, i0, i1 in zip(xa, ya, xb, yb, in0, in1, strict=True)
        ],
        dtype=np.float64,
    )
    return {"k_ratio": k_ratio, "fee_relation_error": with_fee}


def _v2_order(table: Table, segment: np.ndarray, sort: bool) -> tuple[np.ndarray, bool]:
    seconds = table["timestamp"]
    resorted = False
    for seg in np.unique(segment):
        rows = np.flatnonzero(segment == seg)
        _, moved = _time_order(_Offset(table, int(rows[0])), seconds[rows], sort, descending=True)
        resorted |= moved
    return _ascending(seconds), resorted


def _ascending(seconds: np.ndarray) -> np.ndarray:
    # file rows are newest first: reverse them, then sort stably so equal timestamps keep their reversed order
    reversed_rows = np.arange(seconds.shape[0])[::-1]
    return reversed_rows[np.argsort(seconds[::-1], kind="stable")]


class _Offset:
    """A view of a Table whose row numbers start at ``offset`` (for errors inside one segment)."""

    def __init__(self, table: Table, offset: int):
        self.table, self.offset = table, offset

    def line(self, row: int) -> int:
        return self.table.line(row + self.offset)

    def error(self, row: int, rule: str, column: str | None = None, found: object = None) -> DataError:
        return self.table.error(row + self.offset, rule, column, found)


def _v2_events(path, table, ins, reserves, checks, segment, order, config, resorted) -> xr.Dataset:
    to_float = np.vectorize(lambda v: v / 10**V2_DECIMALS, otypes=[np.float64])
    reserve0, reserve1 = to_float(reserves["x_after"]), to_float(reserves["y_after"])
    price = np.array([b / a for a, b in zip(reserves["x_after"], reserves["y_after"], strict=True)], np.float64)
    base = ins[0] + ins[1]  # one of in/out is 0
    qty = np.array([(v + 5 * 10**8) // 10**9 for v in base], dtype=np.int64)
    side = np.where(np.array([v > 0 for v in ins[1]]), 1, np.where(np.array([v > 0 for v in ins[0]]), -1, 0))
    error = checks["fee_relation_error"]
    attrs = provenance(seed=None, config=config, sources=[path])
    attrs.update(
        format="uniswap_v2_swaps_thegraph",
        base_token="UNI (token0, 18 decimals)",
        quote_token="WETH (token1, 18 decimals)",
        price_convention="price_ticks = round(reserve1 / reserve0 after the swap / 1e-12): WETH per UNI",
        side_convention="+1: the trader bought UNI (amount0Out > 0); -1: sold UNI (amount0In > 0)",
        qty_precision="the amounts are exact 18-decimal strings; qty_lots rounds the UNI amount to 1e-9 UNI",
        fee=config["fee"],
        sorted=resorted,
        segments=int(segment.max()) + 1,
        reserve_method="exact integer walk back from each segment's query-time reserves (pair.reserve0/1); "
        "mints, burns and syncs between swaps are not in the file, so later swaps carry their effect",
        k_decreases=int((checks["k_ratio"] < 1.0).sum()),
        k_ratio_min=float(checks["k_ratio"].min()),
        fee_relation_max_abs_error=float(np.abs(error).max()),
        fee_relation_median_abs_error=float(np.median(np.abs(error))),
        log_index_scope="the id's log index counts inside its transaction, not its block: swaps of one block from "
        "different transactions can share it, and their order inside the block is the file's, which can be wrong",
        blocks_with_shared_log_index=_shared_log_index_blocks(table),
    )
    extra = dict(
        amount0=to_float(ins[0] - ins[1]), amount1=to_float(ins[2] - ins[3]), amount_usd=table["amountUSD"],
        reserve0=reserve0, reserve1=reserve1, pool_price=price, k_ratio=checks["k_ratio"], fee_relation_error=error,
        block_number=table["transaction.blockNumber"], log_index=_log_index(table), segment=segment,
    )  # fmt: skip
    return make_events(
        ts_ns=table["timestamp"][order] * 10**9, kind=int(EventKind.SWAP), side=side[order].astype(np.int8),
        price_ticks=np.rint(price[order] / 1e-12).astype(np.int64), qty_lots=qty[order], tick_size=1e-12,
        lot_size=LOT_SIZE, instrument="UNI/WETH", venue="Uniswap v2 (Ethereum mainnet)",
        extra={name: values[order] for name, values in extra.items()}, attrs=attrs, source=path.name,
    )  # fmt: skip


def _log_index(table: Table) -> np.ndarray:
    out = np.empty(len(table), dtype=np.int64)
    for row, text in enumerate(table["id"].tolist()):
        head, _, tail = text.rpartition("-")
        if not (head.startswith("0x") and tail.isdigit() and len(tail) < 19):
            raise table.error(row, "expected a swap id 'txhash-logIndex'", "id", text)
        out[row] = int(tail)
    return out


def _shared_log_index_blocks(table: Table) -> int:
    """Number of blocks in which two swaps carry the same log index (their order inside the block is unknown)."""
    block, log_index = table["transaction.blockNumber"].astype(np.int64), _log_index(table)
    pairs = np.unique(np.stack([block, log_index]), axis=1, return_counts=True)
    shared = pairs[0][0][pairs[1] > 1]
    return int(np.unique(shared).shape[0])
