"""Benchmark: the JSON parser of the Binance WebSocket reader, standard-library ``json`` against ``orjson``.

Run by hand (not in CI): ``PYTHONPATH=. python tests/benchmarks/bench_ws_json.py``. The peer ``orjson`` is a PyPI
package: ``pip install orjson``. Every capture in ``../shared/data/binance_ws_l2_trades_hftbacktest`` is read end to
end with :func:`simlab.io.binance_ws.read_binance_ws` (parse, validate, rebuild the book, build the Datasets) once
with each parser, best of ``REPEATS`` alternating rounds after a warm-up that compiles the kernels; the results
must be equal. It also times the parse alone (``json.loads`` / ``orjson.loads`` over every line). Times are CPU
seconds of this process (``time.process_time``: the machine is shared, and wall time follows the other users'
load). It prints them and the ratio ``json / orjson`` (above 1: orjson is faster). The reader keeps ``json``
unless orjson is more than 1.3x faster end to end.
"""

from __future__ import annotations

import gc
import gzip
import json
import sys
import time
import warnings

import numpy as np

from simlab.io import DEFAULT_DATA_DIR
from simlab.io import _binance_ws_capture as capture_module
from simlab.io.binance_ws import read_binance_ws

try:
    import orjson
except ImportError:  # the peer is optional
    sys.exit("bench_ws_json needs the peer orjson: pip install orjson")

REPEATS = 3
FOLDER = DEFAULT_DATA_DIR / "binance_ws_l2_trades_hftbacktest"
WINDOWS = [
    ["spot/btcusdt_20240808.gz"],
    ["spot/ethusdt_20240808.gz"],
    ["spot/btcusdt_20230405.dat.gz"],
    ["usdm/btcusdt_20240808.gz"],
    ["usdm/ethusdt_20240808.gz"],
    ["usdm/btcusdt_20240718.gz", "usdm/btcusdt_20240719.gz"],
    ["usdm/ethusdt_20240718.gz", "usdm/ethusdt_20240719.gz"],
    ["usdm/btcusdt_20230404.dat.gz", "usdm/btcusdt_20230405.dat.gz"],
]
PARSERS = {"json": json.loads, "orjson": orjson.loads}


def best_of(functions: dict, repeats: int = REPEATS) -> dict[str, float]:
    """Return each function's smallest CPU time (s) over ``repeats`` rounds that alternate between them."""
    times: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            gc.collect()
            started = time.process_time()
            function()
            times[name].append(time.process_time() - started)
    return {name: min(values) for name, values in times.items()}


def read_all(loads) -> list[dict]:
    """Read every window with ``loads`` as the reader's JSON parser."""
    capture_module._loads = loads
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the window without a REST snapshot warns
        return [read_binance_ws([FOLDER / f for f in files]) for files in WINDOWS]


def payloads() -> list[bytes]:
    """Return the JSON part of every capture line."""
    lines = []
    for files in WINDOWS:
        for name in files:
            lines += [line.partition(b" ")[2] for line in gzip.decompress((FOLDER / name).read_bytes()).splitlines()]
    return lines


def parse_all(loads, lines: list[bytes]) -> None:
    """Parse every line and drop the result (the reader keeps only columns, not the dicts)."""
    for line in lines:
        loads(line)


def main() -> None:
    if not FOLDER.is_dir():
        sys.exit(f"bench_ws_json needs the captures in {FOLDER}")
    first = read_all(orjson.loads)  # warm-up: numba kernels compile
    second = read_all(json.loads)
    for a, b in zip(first, second, strict=True):
        for group in a:
            assert all(np.array_equal(a[group][v].values, b[group][v].values) for v in a[group].data_vars)
    lines = payloads()
    print(f"{len(lines):,} capture lines in {len(WINDOWS)} windows; best of {REPEATS}")
    end = best_of({name: lambda loads=loads: read_all(loads) for name, loads in PARSERS.items()})
    parse = best_of({name: lambda loads=loads: parse_all(loads, lines) for name, loads in PARSERS.items()})
    capture_module._loads = orjson.loads
    print(f"{'':12s} {'json s':>8s} {'orjson s':>9s} {'json/orjson':>12s}")
    for label, times in (("end to end", end), ("parse only", parse)):
        ratio = times["json"] / times["orjson"]
        print(f"{label:12s} {times['json']:8.2f} {times['orjson']:9.2f} {ratio:11.2f}x")


if __name__ == "__main__":
    main()
