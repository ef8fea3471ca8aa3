"""The data pairs of the LOB-Bench reference checks (issue 12): real AMZN against seeded QR and ZI books.

The real side is the first :data:`MINUTES` minutes of the AMZN 2012-06-21 level-1 LOBSTER day; the generated side
a seeded simulation of the same span from the shipped preset (``qr-amzn``, ``zi-amzn``), written as LOBSTER rows
by :func:`simlab.book.export.lobster_table` (one level, as the real file). :func:`write_layout` writes a pair in
the folder layout of the reference code's ``run_bench.py`` (``{root}/data_real``, ``{root}/data_gen``), cut into
sequences of ``sequence_length`` messages.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from calibration.book_presets import load_book_preset, simulate_book_preset
from simlab.book.export import LobsterTable, _format_rows, lobster_table
from simlab.io.lobster import read_lobster

AMZN = "lobster_samples/AMZN_2012-06-21_level1_fullday"
MINUTES = 60
PAIRS = {"qr": ("qr-amzn", 1201, None), "zi": ("zi-amzn", 1202, 2000)}  # preset, seed, sequence length


def real_table(data_dir: Path, minutes: int = MINUTES) -> LobsterTable:
    """Return the first ``minutes`` minutes of the AMZN day as LOBSTER rows."""
    data = read_lobster(*sorted((Path(data_dir) / AMZN).glob("*.csv")))
    ts = data["events"]["ts_ns"].values
    keep = np.flatnonzero(ts < ts[0] - ts[0] % 60_000_000_000 + minutes * 60_000_000_000)
    return lobster_table(data["events"].isel(event=keep), data["books"].isel(time=keep))


def generated_table(pair: str, minutes: int = MINUTES) -> LobsterTable:
    """Return the seeded simulation of ``pair`` (a key of :data:`PAIRS`) for ``minutes`` minutes as LOBSTER rows."""
    preset, seed, _ = PAIRS[pair]
    out = simulate_book_preset(load_book_preset(preset), minutes * 60.0, rng=seed)
    return lobster_table(out["events"], out["books"], levels=1)


def write_layout(real: LobsterTable, generated: LobsterTable, root: Path, sequence_length: int | None) -> int:
    """Write the pair as the reference's ``data_real`` / ``data_gen`` files; return the number of sequences."""
    chunks = [_chunks(t.seconds_ns.size, sequence_length) for t in (real, generated)]
    n = min(len(chunks[0]), len(chunks[1]))
    for folder, table, parts, suffix in (
        ("data_real", real, chunks[0], ""),
        ("data_gen", generated, chunks[1], "_gen_id_0"),
    ):
        (root / folder).mkdir(parents=True, exist_ok=True)
        for k, rows in enumerate(parts[:n]):
            name = f"AMZN_{table.day.isoformat()}_{{}}_real_id_{k:04d}{suffix}.csv"
            fields = np.stack(
                [c[rows] for c in (table.event_type, table.order_id, table.size, table.price, table.direction)], axis=1
            )
            (root / folder / name.format("message")).write_bytes(
                _format_rows(table.seconds_ns[rows], fields, True).tobytes()
            )
            book = table.book[rows]
            (root / folder / name.format("orderbook")).write_bytes(
                _format_rows(np.zeros(len(book), np.int64), book, False).tobytes()
            )
    (root / "data_cond").mkdir(exist_ok=True)
    return n


def _chunks(n: int, length: int | None) -> list[slice]:
    length = length or n
    return [slice(i, min(i + length, n)) for i in range(0, n, length)]
