"""The strict CSV parser against a slow, obvious twin (csv module + Decimal), and its error sentences."""

from __future__ import annotations

import csv
import io
from decimal import Decimal, InvalidOperation

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simlab.errors import DataError
from simlab.io._csv import Column, parse_csv


def _buf(text: str) -> np.ndarray:
    return np.frombuffer(text.encode(), dtype=np.uint8)


def _twin(text: str, columns: list[Column]) -> dict[str, list]:
    """Parse with the csv module and Decimal: the obvious reference."""
    out: dict[str, list] = {c.name: [] for c in columns}
    for row in csv.reader(io.StringIO(text)):
        assert len(row) == len(columns)
        for field, column in zip(row, columns, strict=True):
            if column.kind == "int":
                out[column.name].append(int(field))
            elif column.kind == "decimal":
                out[column.name].append(int(Decimal(field).scaleb(column.scale)))
            elif column.kind == "float":
                out[column.name].append(float(field))
            elif column.kind == "bool":
                out[column.name].append(field.lower() in ("true", "1"))
            elif column.kind == "str":
                out[column.name].append(field)
    return out


decimals = st.decimals(min_value=-(10**9), max_value=10**9, places=6, allow_nan=False, allow_infinity=False)
floats = st.floats(min_value=-1e30, max_value=1e30, allow_nan=False).filter(lambda x: x == 0 or abs(x) > 1e-30)
rows = st.tuples(
    st.integers(-(2**62), 2**62),
    decimals,
    floats,
    st.booleans(),
    st.text("abcXYZ_-#", min_size=0, max_size=8),
)
COLUMNS = [
    Column("i", "int"),
    Column("d", "decimal", 6),
    Column("f", "float"),
    Column("b", "bool"),
    Column("s", "str"),
]


@settings(max_examples=150, deadline=None)
@given(st.lists(rows, min_size=1, max_size=40), st.booleans())
def test_parser_matches_twin(data, crlf):
    eol = "\r\n" if crlf else "\n"
    text = eol.join(f"{i},{d},{f!r},{'true' if b else 'False'},{s}" for i, d, f, b, s in data) + eol
    table = parse_csv(_buf(text), COLUMNS, source="t.csv", header=False)
    twin = _twin(text.replace("\r", ""), COLUMNS)
    assert table["i"].tolist() == twin["i"]
    assert table["d"].tolist() == twin["d"]
    np.testing.assert_allclose(table["f"], twin["f"], rtol=1e-15, atol=0)
    assert table["b"].tolist() == twin["b"]
    assert table["s"].tolist() == twin["s"]


def test_header_is_detected_and_lines_are_numbered():
    text = "id,price\n1,2.50\n2,x\n"
    with pytest.raises(DataError, match=r"t\.csv line 3, column 'price': expected a decimal number; found 'x'"):
        parse_csv(_buf(text), [Column("id"), Column("price", "decimal", 2)], source="t.csv")
    table = parse_csv(_buf("id,price\n1,2.50\n"), [Column("id"), Column("price", "decimal", 2)], source="t.csv")
    assert table.header == ["id", "price"] and table["price"].tolist() == [250] and table.line(0) == 2


@pytest.mark.parametrize(
    ("text", "columns", "message"),
    [
        ("1,2\n3\n", [Column("a"), Column("b")], r"line 2: expected 2 fields; found .1 fields"),
        ("1,2\n3,4,5\n", [Column("a"), Column("b")], r"line 2: expected 2 fields; found .3 fields"),
        (
            "1,nan\n",
            [Column("a"), Column("b", "float")],
            r"line 1, column 'b': expected a number; found 'nan'",
        ),
        ("1,\n", [Column("a"), Column("b", "float")], r"expected a number, not an empty field"),
        ("1,2.125\n", [Column("a"), Column("b", "decimal", 2)], r"at most 2 decimals"),
        ("99999999999999999999,1\n", [Column("a"), Column("b")], r"does not fit in a 64-bit integer"),
        ("1,maybe\n", [Column("a"), Column("b", "bool")], r"expected true or false; found 'maybe'"),
        ('1,"ab\n', [Column("a"), Column("b", "str")], r"quoted field must close"),
        ("1,xy\n", [Column("a"), Column("b", "char")], r"expected a single character; found 'xy'"),
    ],
)
def test_bad_fields_raise_with_line_and_column(text, columns, message):
    with pytest.raises(DataError, match=message):
        parse_csv(_buf(text), columns, source="t.csv", header=False)


def test_optional_fields_fill_and_quotes_strip():
    columns = [Column("a", optional=True, fill=-7), Column("b", "float", optional=True), Column("c", "str")]
    table = parse_csv(_buf(',,"x,y"\n1,2.5,z\n'), columns, source="t.csv", header=False)
    assert table["a"].tolist() == [-7, 1]
    assert np.isnan(table["b"][0]) and table["b"][1] == 2.5
    assert table["c"].tolist() == ["x,y", "z"]


def test_exponent_floats_and_decimal_trailing_zeros():
    table = parse_csv(
        _buf("1.4069E+33,61800.01000000\n"),
        [Column("f", "float"), Column("d", "decimal", 2)],
        source="t.csv",
        header=False,
    )
    # outside the exact fast path (|exponent| > 22) the value is within one ulp
    assert abs(table["f"][0] - 1.4069e33) <= np.spacing(1.4069e33) and table["d"][0] == 6180001


def test_empty_file_gives_empty_table():
    assert len(parse_csv(_buf(""), [Column("a")], source="t.csv", header=False)) == 0


def test_twin_is_decimal_exact_where_float_is_not():
    # 0.1 + 0.2 style rounding never happens: decimals are integers
    text = "0.30000001\n"
    table = parse_csv(_buf(text), [Column("d", "decimal", 8)], source="t.csv", header=False)
    assert table["d"][0] == 30000001
    with pytest.raises(InvalidOperation):
        Decimal("abc")


def test_text_columns_codes_and_reorder_keep_original_lines():
    text = "3,MARKET\n1,LIMIT\n2,MARKET\n"
    table = parse_csv(_buf(text), [Column("t"), Column("kind", "str")], source="t.csv", header=False)
    assert table.codes("kind", ["LIMIT", "MARKET"]).tolist() == [1, 0, 1]
    assert table.codes("kind", ["MARKET"]).tolist() == [0, -1, 0]
    assert table.field("kind", 1) == "LIMIT" and table.offsets("kind").shape == (3, 2)
    table.reorder(np.argsort(table["t"], kind="stable"))
    assert table["t"].tolist() == [1, 2, 3] and table["kind"].tolist() == ["LIMIT", "MARKET", "MARKET"]
    assert table.line(0) == 2 and table.text(0) == "1,LIMIT"
    with pytest.raises(DataError, match=r"t\.csv line 1, column 't': must be small; found 3"):
        table.require(table["t"] < 3, "must be small", "t")


def test_parallel_chunks_report_the_earliest_error_and_match_the_single_thread_result():
    rows = [f"{i},{i}.5" for i in range(50_000)]
    good = parse_csv(_buf("\n".join(rows) + "\n"), [Column("a"), Column("b", "decimal", 1)], source="big.csv")
    assert good["a"].tolist() == list(range(50_000)) and good["b"][-1] == 499_995
    rows[45_000] = "45000,late"
    rows[20_000] = "20000,early"
    with pytest.raises(DataError, match=r"big\.csv line 20001, column 'b': expected a decimal number; found 'early'"):
        parse_csv(_buf("\n".join(rows) + "\n"), [Column("a"), Column("b", "decimal", 1)], source="big.csv")


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=400).map(lambda raw: bytes(b if b % 5 else 10 for b in raw)), st.integers(1, 64))
def test_split_lines_matches_twin_across_byte_ranges(raw, chunk):
    import simlab.io._csv as module

    twin_lines = raw.split(b"\n")
    if raw.endswith(b"\n") or not raw:
        twin_lines = twin_lines[:-1]
    twin_starts = np.cumsum([0] + [len(line) + 1 for line in twin_lines])[:-1]
    saved, module._BYTES_PER_CHUNK = module._BYTES_PER_CHUNK, chunk  # many ranges, unaligned eight-byte words
    try:
        starts, ends = module.split_lines(np.frombuffer(raw, dtype=np.uint8))
    finally:
        module._BYTES_PER_CHUNK = saved
    assert starts.tolist() == twin_starts.tolist()
    assert ends.tolist() == [int(s) + len(line) for s, line in zip(twin_starts, twin_lines, strict=True)]


def test_matrix_is_a_view_of_side_by_side_columns_and_a_copy_after_reorder():
    table = parse_csv(
        _buf("1,2,x,3\n4,5,y,6\n"), [Column("a"), Column("b"), Column("s", "str"), Column("c")], source="t"
    )
    assert table.matrix(["a", "b"]).tolist() == [[1, 4], [2, 5]] and table.matrix(["a", "b"]).base is not None
    assert table.matrix(["b", "c"]).tolist() == [[2, 5], [3, 6]]
    table.reorder(np.array([1, 0]))
    assert table.matrix(["a", "b"]).tolist() == [[4, 1], [5, 2]]
