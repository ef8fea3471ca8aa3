"""A fast, strict CSV parser for numeric market data (numba), with line-and-column error messages.

Each column is declared with a :class:`Column`: ``int``, ``decimal`` (a decimal string parsed *exactly* into an
int64 scaled by ``10**scale``), ``float``, ``bool``, ``char`` (one byte), ``str`` (kept as byte offsets and decoded
on request) or ``skip``. Any field that does not parse, a wrong field count, an empty required field or an
overflow raises :class:`~simlab.errors.DataError` naming the file, line, column, rule and the text found.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numba
import numpy as np

from simlab.errors import DataError

_KINDS = {"skip": 0, "int": 1, "decimal": 2, "float": 3, "bool": 4, "char": 5, "str": 6}
_EXPECTED = {
    1: "an integer",
    2: "a decimal number",
    3: "a number",
    4: "true or false",
    5: "a single character",
    6: "text",
}
# error codes of the kernel
_TOO_FEW, _TOO_MANY, _BAD_FIELD, _EMPTY, _OVERFLOW, _SCALE, _QUOTE = 1, 2, 3, 4, 5, 6, 7
_INT64_MAX = np.iinfo(np.int64).max
_ROWS_PER_CHUNK = 4096  # rows below which a file is parsed by one thread
_BYTES_PER_CHUNK = 1 << 16  # bytes below which line breaks are found by one thread


@dataclass(frozen=True)
class Column:
    """One CSV column: its name, how to parse it, and whether an empty field is allowed.

    ``scale`` is the number of decimals kept by a ``decimal`` column. An empty ``optional`` field becomes
    ``fill`` (ints, decimals, chars), NaN (floats) or -1 (bools).
    """

    name: str
    kind: str = "int"
    scale: int = 0
    optional: bool = False
    fill: int = 0

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"Column {self.name!r}: kind must be one of {sorted(_KINDS)}; got {self.kind!r}")
        if not 0 <= self.scale <= 18:
            raise ValueError(f"Column {self.name!r}: scale must be in [0, 18]; got {self.scale}")


class Table:
    """Parsed columns of one CSV file, with the bookkeeping to name a row's file line in an error."""

    def __init__(self, source: str, buf: np.ndarray, starts: np.ndarray, first_line: int, header: list[str] | None):
        self.source = source
        self.header = header
        self.first_line = first_line
        self.columns: dict[str, np.ndarray] = {}
        self._buf = buf
        self._starts = starts
        self._offsets: dict[str, np.ndarray] = {}
        self._rows = np.arange(starts.shape[0], dtype=np.int64)
        self._ints = np.empty((0, starts.shape[0]), dtype=np.int64)  # the parsed integer rows, by slot
        self._slots: dict[str, int] = {}

    def __len__(self) -> int:
        return int(self._starts.shape[0])

    def __getitem__(self, name: str) -> np.ndarray:
        if name in self._offsets and name not in self.columns:
            self.columns[name] = self._decode(name)
        return self.columns[name]

    def __contains__(self, name: str) -> bool:
        return name in self.columns or name in self._offsets

    def line(self, row: int) -> int:
        """Return the 1-based file line of data row ``row``."""
        return self.first_line + int(self._rows[row])

    def text(self, row: int) -> str:
        """Return the text of data row ``row`` (without its line break)."""
        start = int(self._starts[row])
        stop = start
        while stop < self._buf.shape[0] and self._buf[stop] != 10:
            stop += 1
        return bytes(self._buf[start:stop]).decode("utf-8", "replace").rstrip("\r")

    def error(self, row: int, rule: str, column: str | None = None, found: object = None) -> DataError:
        """Build the error for data row ``row``: file, line, column, the rule broken and what was found."""
        where = f"{self.source} line {self.line(row)}" + (f", column {column!r}" if column else "")
        shown = found if found is not None else self.text(row)
        return DataError(f"{where}: {rule}; found {shown!r}")

    def require(self, ok: np.ndarray, rule: str, column: str | None = None) -> None:
        """Raise :meth:`error` at the first row where ``ok`` is False."""
        ok = np.asarray(ok, dtype=bool)
        if not ok.all():
            row = int(np.argmin(ok))
            found = self.columns[column][row] if column in self.columns else None
            raise self.error(row, rule, column, found.item() if hasattr(found, "item") else found)

    def matrix(self, names: Sequence[str]) -> np.ndarray:
        """Return integer columns as the rows of one (len(names), rows) array: a view when parsed side by side."""
        first = self._slots.get(names[0], -1)
        if first >= 0 and all(
            self._slots.get(name) == first + k and self.columns[name].base is self._ints for k, name in enumerate(names)
        ):
            return self._ints[first : first + len(names)]
        return np.stack([self.columns[name] for name in names])

    def offsets(self, name: str) -> np.ndarray:
        """Return the (start, stop) byte offsets of a ``str`` column's fields, shape (rows, 2)."""
        return self._offsets[name]

    def field(self, name: str, row: int) -> str:
        """Return the text of one field of a ``str`` column."""
        lo, hi = self._offsets[name][row]
        return bytes(self._buf[lo:hi]).decode("utf-8", "replace")

    def codes(self, name: str, vocabulary: Sequence[str]) -> np.ndarray:
        """Return, per row, the index of a ``str`` column's text in ``vocabulary`` (int16, -1 when absent).

        The fields are matched as bytes in a numba kernel, without decoding them.
        """
        words = [word.encode() for word in vocabulary]
        vocab = np.frombuffer(b"".join(words) or b"\0", dtype=np.uint8)
        starts = np.cumsum([0] + [len(word) for word in words]).astype(np.int64)
        return _match_tokens(self._buf, self._offsets[name], vocab, starts)

    def reorder(self, order: np.ndarray) -> None:
        """Permute every row of the table (parsed columns and text offsets) by ``order``.

        Error messages then name the file line of each row's original position.
        """
        for name in list(self.columns):
            self.columns[name] = self.columns[name][order]
        for name in list(self._offsets):
            self._offsets[name] = self._offsets[name][order]
        self._starts = self._starts[order]
        self._rows = self._rows[order]

    def _decode(self, name: str) -> np.ndarray:
        offsets = self._offsets[name]
        raw = self._buf.tobytes()
        return np.array([raw[s:e].decode("utf-8", "replace") for s, e in offsets], dtype=object)


def split_lines(buf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the start and end offsets of every line in ``buf`` (a final empty line is dropped)."""
    n_chunks = max(1, min(4 * numba.get_num_threads(), buf.shape[0] // _BYTES_PER_CHUNK))
    bounds = np.arange(n_chunks + 1, dtype=np.int64) * buf.shape[0] // n_chunks
    row0 = _count_breaks(buf, bounds)
    n = int(row0[-1]) + 1
    starts, ends = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
    starts[0], ends[-1] = 0, buf.shape[0]
    _fill_breaks(buf, bounds, row0, starts[1:], ends[:-1])
    if starts[-1] >= buf.shape[0]:
        starts, ends = starts[:-1], ends[:-1]
    return starts, ends


def parse_csv(
    buf: np.ndarray,
    columns: Sequence[Column],
    *,
    source: str,
    header: bool | None = None,
    delimiter: str = ",",
) -> Table:
    """Parse CSV bytes into a :class:`Table`.

    Parameters
    ----------
    buf
        The file's bytes as a uint8 array (see :func:`simlab.io._source.read_bytes`).
    columns
        One :class:`Column` per field, in file order; every line must have exactly this many fields.
    source
        The file name used in error messages.
    header
        True if the first line is a header, False if not, None to detect it (a first line that does not parse
        as data is a header).
    delimiter
        The one-byte field separator.
    """
    starts, ends = split_lines(buf)
    if header is None:
        header = bool(starts.shape[0]) and _first_line_fails(buf, starts, ends, columns, ord(delimiter))
    names = None
    if header:
        if not starts.shape[0]:
            raise DataError(f"{source} line 1: expected a header line; found an empty file")
        names = bytes(buf[starts[0] : ends[0]]).decode("utf-8", "replace").rstrip("\r").split(delimiter)
        if len(names) != len(columns):
            raise DataError(
                f"{source} line 1: the header has {len(names)} columns; expected {len(columns)} "
                f"({', '.join(c.name for c in columns)}); found {names}"
            )
        starts, ends = starts[1:], ends[1:]
    table = Table(source, buf, starts, 2 if header else 1, names)
    out_i, out_f, slots, err = _run(buf, starts, ends, columns, ord(delimiter))
    if err[0]:
        raise _kernel_error(table, columns, err, ord(delimiter))
    table._ints = out_i
    for index, column in enumerate(columns):
        kind, slot = column.kind, slots[index]
        if kind in ("int", "decimal", "char"):
            table.columns[column.name] = out_i[slot]
            table._slots[column.name] = int(slot)
        elif kind == "bool":
            table.columns[column.name] = out_i[slot].astype(np.int8 if column.optional else np.bool_)
        elif kind == "float":
            table.columns[column.name] = out_f[slot]
        elif kind == "str":
            table._offsets[column.name] = np.stack((out_i[slot], out_i[slot + 1]), axis=1)
    return table


def _run(buf, starts, ends, columns, delimiter):
    kinds = np.array([_KINDS[c.kind] for c in columns], dtype=np.int8)
    scales = np.array([c.scale for c in columns], dtype=np.int64)
    optional = np.array([c.optional for c in columns], dtype=np.bool_)
    fills = np.array([c.fill for c in columns], dtype=np.int64)
    slots = np.zeros(len(columns), dtype=np.int64)
    n_int = n_float = 0
    for index, column in enumerate(columns):
        if column.kind == "float":
            slots[index], n_float = n_float, n_float + 1
        elif column.kind != "skip":
            slots[index], n_int = n_int, n_int + (2 if column.kind == "str" else 1)
    n = starts.shape[0]
    out_i = np.empty((n_int, n), dtype=np.int64)
    out_f = np.empty((n_float, n), dtype=np.float64)
    n_chunks = max(1, min(4 * numba.get_num_threads(), n // _ROWS_PER_CHUNK))
    errors = np.zeros((n_chunks, 5), dtype=np.int64)
    _parse_parallel(buf, starts, ends, kinds, scales, optional, fills, slots, delimiter, out_i, out_f, errors)
    failed = np.flatnonzero(errors[:, 0])
    return out_i, out_f, slots, errors[failed[0]] if failed.size else errors[0]


def _first_line_fails(buf, starts, ends, columns, delimiter) -> bool:
    _, _, _, err = _run(buf, starts[:1], ends[:1], columns, delimiter)
    return bool(err[0] in (_BAD_FIELD, _SCALE, _OVERFLOW, _EMPTY))


def _kernel_error(table: Table, columns: Sequence[Column], err: np.ndarray, delimiter: int) -> DataError:
    code, row, col = int(err[0]), int(err[1]), int(err[2])
    text = table.text(row)
    if code in (_TOO_FEW, _TOO_MANY):
        found = _count_fields(text, chr(delimiter))
        return table.error(row, f"expected {len(columns)} fields", None, f"{found} fields in {text[:200]!r}")
    if code == _QUOTE:
        return table.error(row, "a quoted field must close its quote before the next field", None, text[:200])
    column = columns[col]
    field = bytes(table._buf[err[3] : err[4]]).decode("utf-8", "replace")
    if code == _EMPTY:
        return table.error(row, f"expected {_EXPECTED[_KINDS[column.kind]]}, not an empty field", column.name, field)
    if code == _OVERFLOW:
        return table.error(row, "the number does not fit in a 64-bit integer at this scale", column.name, field)
    if code == _SCALE:
        rule = f"expected at most {column.scale} decimals (the column's precision)"
        return table.error(row, rule, column.name, field)
    return table.error(row, f"expected {_EXPECTED[_KINDS[column.kind]]}", column.name, field)


def _count_fields(text: str, delimiter: str) -> int:
    return text.count(delimiter) + 1 if text else 0


@numba.njit(cache=True, parallel=True)
def _parse_parallel(buf, starts, ends, kinds, scales, optional, fills, slots, delim, out_i, out_f, errors):
    # rows split into contiguous chunks, one error slot each: the first failed chunk holds the earliest error
    n_chunks = errors.shape[0]
    n = starts.shape[0]
    for k in numba.prange(n_chunks):
        first, stop = k * n // n_chunks, (k + 1) * n // n_chunks
        _parse_rows(
            buf, starts, ends, first, stop, kinds, scales, optional, fills, slots, delim, out_i, out_f, errors[k]
        )


@numba.njit(cache=True)
def _parse_rows(buf, starts, ends, first, stop, kinds, scales, optional, fills, slots, delim, out_i, out_f, err):
    n_cols = kinds.shape[0]
    for r in range(first, stop):
        pos = starts[r]
        end = ends[r]
        if end > pos and buf[end - 1] == 13:
            end -= 1
        for c in range(n_cols):
            if pos > end:
                _set_err(err, _TOO_FEW, r, c, pos, pos)
                return
            lo = pos
            kind = kinds[c]
            if (kind == 1 or kind == 2) and lo < end and buf[lo] != 34 and buf[lo] != delim:
                # fast path: parse the number while scanning for the delimiter (one pass over the field)
                code, hi = _scan_number(
                    buf, lo, end, delim, scales[c] if kind == 2 else 0, kind == 2, slots[c], r, out_i
                )
                if code != 0:
                    while hi < end and buf[hi] != delim:
                        hi += 1
                    _set_err(err, code, r, c, lo, hi)
                    return
                pos = hi + 1
                continue
            if lo < end and buf[lo] == 34:
                hi = lo + 1
                while hi < end and buf[hi] != 34:
                    hi += 1
                if hi >= end or (hi + 1 < end and buf[hi + 1] != delim):
                    _set_err(err, _QUOTE, r, c, lo, end)
                    return
                nxt = hi + 1
                lo += 1
            else:
                hi = lo
                while hi < end and buf[hi] != delim:
                    hi += 1
                nxt = hi
            pos = nxt + 1
            code = _parse_field(buf, lo, hi, kinds[c], scales[c], optional[c], fills[c], slots[c], r, out_i, out_f)
            if code != 0:
                _set_err(err, code, r, c, lo, hi)
                return
        if pos <= end:
            _set_err(err, _TOO_MANY, r, n_cols, pos, end)
            return


@numba.njit(cache=True, inline="always")
def _scan_number(buf, lo, end, delim, scale, allow_point, slot, r, out_i):
    # an integer or decimal field from lo up to the delimiter; returns (code, index of the delimiter or end)
    negative = buf[lo] == 45
    i = lo + 1 if (buf[lo] == 45 or buf[lo] == 43) else lo
    value = 0
    digits = 0
    frac = 0
    seen_point = False
    limit = (_INT64_MAX - 9) // 10
    while i < end:
        ch = buf[i]
        if ch == delim:
            break
        if 48 <= ch <= 57:
            if seen_point and frac >= scale:
                if ch != 48:
                    return _SCALE, i
            else:
                if value > limit:
                    return _OVERFLOW, i
                value = value * 10 + (ch - 48)
                if seen_point:
                    frac += 1
            digits += 1
        elif ch == 46 and allow_point and not seen_point:
            seen_point = True
        else:
            return _BAD_FIELD, i
        i += 1
    if digits == 0:
        return _BAD_FIELD, i
    for _ in range(scale - frac):
        if value > limit:
            return _OVERFLOW, i
        value *= 10
    out_i[slot, r] = -value if negative else value
    return 0, i


@numba.njit(cache=True, inline="always")
def _set_err(err, code, row, col, lo, hi):
    err[0] = code
    err[1] = row
    err[2] = col
    err[3] = lo
    err[4] = hi


@numba.njit(cache=True, inline="always")
def _parse_field(buf, lo, hi, kind, scale, optional, fill, slot, r, out_i, out_f):
    if kind == 0:
        return 0
    if kind == 6:
        out_i[slot, r] = lo
        out_i[slot + 1, r] = hi
        return 0
    if lo == hi:
        if not optional:
            return _EMPTY
        if kind == 3:
            out_f[slot, r] = np.nan
        elif kind == 4:
            out_i[slot, r] = -1
        else:
            out_i[slot, r] = fill
        return 0
    if kind == 1 or kind == 2:
        return _parse_decimal(buf, lo, hi, scale if kind == 2 else 0, kind == 2, slot, r, out_i)
    if kind == 3:
        return _parse_float(buf, lo, hi, slot, r, out_f)
    if kind == 4:
        return _parse_bool(buf, lo, hi, slot, r, out_i)
    if hi - lo != 1:
        return _BAD_FIELD
    out_i[slot, r] = buf[lo]
    return 0


@numba.njit(cache=True, inline="always")
def _parse_decimal(buf, lo, hi, scale, allow_point, slot, r, out_i):
    # the whole of [lo, hi) is the field: a delimiter of -1 never matches a byte
    code, _ = _scan_number(buf, lo, hi, -1, scale, allow_point, slot, r, out_i)
    return code


@numba.njit(cache=True, inline="always")
def _parse_float(buf, lo, hi, slot, r, out_f):
    negative = buf[lo] == 45
    i = lo + 1 if (buf[lo] == 45 or buf[lo] == 43) else lo
    mantissa = 0
    exponent = 0
    digits = 0
    seen_point = False
    while i < hi:
        ch = buf[i]
        if ch == 46 and not seen_point:
            seen_point = True
        elif 48 <= ch <= 57:
            if mantissa < 100_000_000_000_000_000:
                mantissa = mantissa * 10 + (ch - 48)
                exponent -= 1 if seen_point else 0
            elif not seen_point:
                exponent += 1
            digits += 1
        elif (ch == 101 or ch == 69) and digits > 0:
            break
        else:
            return _BAD_FIELD
        i += 1
    if digits == 0:
        return _BAD_FIELD
    if i < hi:
        i += 1
        exp_negative = i < hi and buf[i] == 45
        if i < hi and (buf[i] == 45 or buf[i] == 43):
            i += 1
        if i == hi:
            return _BAD_FIELD
        e = 0
        while i < hi:
            ch = buf[i]
            if not 48 <= ch <= 57 or e > 100_000:
                return _BAD_FIELD
            e = e * 10 + (ch - 48)
            i += 1
        exponent += -e if exp_negative else e
    # exact when mantissa < 2**53 and |exponent| <= 22 (Clinger's fast path); within an ulp otherwise
    if exponent >= 0:
        value = mantissa * 10.0**exponent
    elif exponent >= -308:
        value = mantissa / 10.0**-exponent
    else:
        value = (mantissa / 10.0**308) / 10.0 ** (-exponent - 308)
    if not np.isfinite(value):
        return _OVERFLOW
    out_f[slot, r] = -value if negative else value
    return 0


@numba.njit(cache=True, inline="always")
def _parse_bool(buf, lo, hi, slot, r, out_i):
    n = hi - lo
    first = buf[lo] | 32
    if n == 1 and (buf[lo] == 49 or buf[lo] == 48):
        out_i[slot, r] = buf[lo] - 48
        return 0
    if (
        n == 4
        and first == 116
        and (buf[lo + 1] | 32) == 114
        and (buf[lo + 2] | 32) == 117
        and (buf[lo + 3] | 32) == 101
    ):
        out_i[slot, r] = 1
        return 0
    if (
        n == 5
        and first == 102
        and (buf[lo + 1] | 32) == 97
        and (buf[lo + 2] | 32) == 108
        and (buf[lo + 3] | 32) == 115
        and (buf[lo + 4] | 32) == 101
    ):
        out_i[slot, r] = 0
        return 0
    return _BAD_FIELD


@numba.njit(cache=True)
def _match_tokens(buf, offsets, vocab, starts):
    codes = np.full(offsets.shape[0], -1, dtype=np.int16)
    for r in range(offsets.shape[0]):
        lo = offsets[r, 0]
        width = offsets[r, 1] - lo
        for v in range(starts.shape[0] - 1):
            if starts[v + 1] - starts[v] != width:
                continue
            k = 0
            while k < width and buf[lo + k] == vocab[starts[v] + k]:
                k += 1
            if k == width:
                codes[r] = v
                break
    return codes


@numba.njit(cache=True, parallel=True)
def _count_breaks(buf, bounds):
    # newlines in each byte range [bounds[k], bounds[k + 1]), as a running total starting at 0
    n_chunks = bounds.shape[0] - 1
    counts = np.zeros(n_chunks + 1, dtype=np.int64)
    for k in numba.prange(n_chunks):
        part = buf[bounds[k] : bounds[k + 1]]
        c = 0
        for i in range(part.shape[0]):
            c += part[i] == 10
        counts[k + 1] = c
    return np.cumsum(counts)


@numba.njit(cache=True, parallel=True)
def _fill_breaks(buf, bounds, row0, after, at):
    # the offset of every newline (at) and of the byte after it (after), each byte range writing its own rows;
    # eight bytes at a time are skipped when none is a newline (the zero-byte test on word ^ 0x0a0a...)
    ones, highs = np.uint64(0x0101010101010101), np.uint64(0x8080808080808080)
    newlines = np.uint64(0x0A0A0A0A0A0A0A0A)
    for k in numba.prange(bounds.shape[0] - 1):
        lo = bounds[k]
        part = buf[lo : bounds[k + 1]]
        words = part[: part.shape[0] // 8 * 8].view(np.uint64)
        r = row0[k]
        for j in range(words.shape[0]):
            x = words[j] ^ newlines
            if (x - ones) & ~x & highs:
                for i in range(8 * j, 8 * j + 8):
                    if part[i] == 10:
                        at[r], after[r] = lo + i, lo + i + 1
                        r += 1
        for i in range(words.shape[0] * 8, part.shape[0]):
            if part[i] == 10:
                at[r], after[r] = lo + i, lo + i + 1
                r += 1
