"""The real-book library specs (AAPL, AMZN, Binance BTCUSDT) and what they need: several tasks in one spec, the
Binance capture as a book series, the slippage persistence baseline and intervals that widen with label overlap."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from scenarios.forecast.books import binance_series
from scenarios.forecast.runner import run_spec
from scenarios.forecast.spec import load_spec, parse_spec
from scenarios.forecast.task_data import TaskData
from scenarios.forecast.task_protocol import BookNow, Prior, label_overlap, newey_west_lags, run_task_protocol
from scenarios.forecast.tasks import Task, walk_book
from simlab.errors import ParameterError
from simlab.schema import NO_PRICE, EventKind
from tests.conftest import shared_path

REAL_SPECS = ("deep_lob", "deep_events_amzn", "deep_binance_btcusdt")
DEEP = {"deeplob", "event_transformer", "footprint_cnn"}
PLANTED = {"name": "planted", "source": "planted", "rows": 1200, "levels": 5, "signal": 0.9}
DIRECTION = {"name": "direction", "horizon_events": 1, "models": ["flow_logistic", "prior"], "reference": "prior",
             "levels": 5}  # fmt: skip
SLIPPAGE = {"name": "slippage", "horizon_events": 3, "size": 20, "models": ["book_now", "flow_logistic", "prior"],
            "reference": "book_now", "levels": 5}  # fmt: skip


def test_real_specs_run_every_task_with_every_deep_model_that_applies():
    tags = {name: [t.tag for t in load_spec(name).task_list] for name in REAL_SPECS}
    assert tags["deep_lob"] == ["direction_50ev", "direction_5s", "big_move_5s", "realised_vol_10s", "slippage_5s"]
    assert tags["deep_events_amzn"] == ["realised_vol_60s", "direction_50ev", "direction_10s", "big_move_60s"]
    assert tags["deep_binance_btcusdt"] == [
        "direction_50ev", "direction_1s", "big_move_1s", "realised_vol_1s", "slippage_1s"
    ]  # fmt: skip
    references = {"direction": "flow_logistic", "big_move": "flow_logistic", "realised_vol": "har",
                  "slippage": "book_now"}  # fmt: skip
    for name in REAL_SPECS:
        spec = load_spec(name)
        levels = spec.data[0].levels
        assert spec.run.seed == 16 and spec.protocol.n_folds == 5
        for task in spec.task_list:
            assert task.preset == "cpu" and task.reference == references[task.name]
            assert DEEP & set(task.models) == (DEEP if levels >= 10 else DEEP - {"deeplob"}), (name, task.tag)
    assert load_spec("deep_binance_btcusdt").data[0].source == "binance_ws"


@pytest.mark.realdata
def test_real_specs_name_files_that_exist(shared_data):
    for name in REAL_SPECS:
        for path in (f for d in load_spec(name).data for window in d.files for f in window):
            assert (shared_data / path).is_file(), path


@pytest.mark.realdata
@pytest.mark.parametrize("name", REAL_SPECS)
def test_real_spec_slice_runs_every_task(name, shared_data, tmp_path):
    """Each task of the spec on its real series, with the baselines only: every horizon fits the test spans."""
    data = load_spec(name).model_dump(mode="json")
    for task in data["tasks"]:
        task["models"] = [m for m in task["models"] if m not in DEEP]
    out = run_spec(parse_spec(data), tmp_path / "slice.zarr", data_dir=shared_data)
    for tag, task in out["tasks"].items():
        item = next(iter(task["series"].values()))
        assert item["origins"] > 1000, tag
        reference = item["scores"][task["task"]["reference"]]
        assert np.isfinite(reference.get("accuracy", reference.get("mse"))), tag
        if task["task"]["name"] in ("direction", "big_move"):
            assert abs(sum(item["class_shares"].values()) - 1) < 1e-9 and max(item["class_shares"].values()) < 0.95


def test_several_tasks_in_one_spec_match_each_task_alone(tmp_path):
    spec = {"run": {"name": "two", "seed": 3}, "data": [PLANTED], "tasks": [DIRECTION, SLIPPAGE]}
    out = run_spec(parse_spec(spec), tmp_path / "two.zarr", data_dir=tmp_path)
    alone = run_spec(parse_spec({**spec, "tasks": [DIRECTION]}), tmp_path / "one.zarr", data_dir=tmp_path)
    assert list(out["tasks"]) == ["direction_1ev", "slippage_3ev"] and "task" in alone
    first = xr.open_zarr(tmp_path / "two.zarr", group="planted_direction_1ev", consolidated=False)
    single = xr.open_zarr(tmp_path / "one.zarr", group="planted", consolidated=False)
    np.testing.assert_array_equal(first["probs_flow_logistic"].values, single["probs_flow_logistic"].values)
    slip = xr.open_zarr(tmp_path / "two.zarr", group="planted_slippage_3ev", consolidated=False)
    assert json.loads(slip.attrs["task"])["size"] == 20 and "probs_book_now" not in slip
    report = (tmp_path / "two_report" / "report.md").read_text()
    assert "## Task direction_1ev" in report and "## Task slippage_3ev" in report and "test label shares" in report
    assert any(k.startswith("slippage_3ev | planted: book_now") for k in out["headline"])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"task": DIRECTION, "tasks": [DIRECTION]}, "not both"),
        ({"tasks": [DIRECTION, DIRECTION]}, r"distinct labels .*\['direction_1ev', 'direction_1ev'\]"),
        ({"tasks": [{**DIRECTION, "label": "a b"}]}, "tasks.0.label"),
    ],
)
def test_bad_multi_task_specs_are_refused(change, message):
    with pytest.raises(ParameterError, match=message):
        parse_spec({"data": [PLANTED], **change})


def _capture(path: Path) -> Path:
    """A hand-written spot capture: a trade before the snapshot's first diff, then diffs and trades."""

    def line(k: int, msg: dict) -> str:
        return f"{1723161255000000000 + k} {json.dumps(msg)}"

    def depth(e, first, last, bids, asks):
        return {"stream": "btcusdt@depth@100ms", "data": {"e": "depthUpdate", "E": e, "s": "BTCUSDT", "U": first,
                                                          "u": last, "b": bids, "a": asks}}  # fmt: skip

    def trade(t, i, p, q, m):
        return {"stream": "btcusdt@trade", "data": {"e": "trade", "E": t, "s": "BTCUSDT", "t": i, "p": p, "q": q,
                                                    "T": t, "m": m}}  # fmt: skip

    t0 = 1723161255000
    snapshot = {"lastUpdateId": 100, "bids": [["100.00", "1.00"], ["99.99", "2.00"]],
                "asks": [["100.01", "1.50"], ["100.02", "3.00"]]}  # fmt: skip
    lines = [
        line(0, trade(t0 - 5, 1, "100.01", "0.10", False)),
        line(1, snapshot),
        line(2, depth(t0 + 10, 99, 101, [["100.00", "0.50"]], [])),
        line(3, trade(t0 + 20, 2, "100.01", "0.20", False)),
        line(4, trade(t0 + 30, 3, "100.00", "0.30", True)),
        line(5, depth(t0 + 30, 102, 103, [["99.98", "4.00"]], [["100.01", "1.30"], ["100.03", "2.00"]])),
        line(6, trade(t0 + 40, 4, "100.01", "0.05", False)),
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_binance_capture_rows_by_hand(tmp_path):
    """Tick 0.01, lot 0.05: one row per applied diff and per trade; a trade sees the latest earlier diff's book,
    a trade and a diff of the same millisecond go trade first, the trade before the first diff is not a row."""
    s = binance_series("hand", [_capture(tmp_path / "btcusdt_20240808")], levels=2)
    ms = 1723161255000
    assert s.ts_ns.tolist() == [(ms + d) * 10**6 for d in (10, 20, 30, 30, 40)]
    assert s.kind.tolist() == [EventKind.SET_LEVEL, EventKind.TRADE, EventKind.TRADE, EventKind.SET_LEVEL,
                               EventKind.TRADE]  # fmt: skip
    assert s.side.tolist() == [0, 1, -1, 0, 1]
    assert s.price.tolist() == [NO_PRICE, 10001, 10000, NO_PRICE, 10001]
    assert s.qty.tolist() == [1, 4, 6, 3, 1]  # diff rows: the levels the diff set; trades: lots
    assert s.bid_qty.tolist() == [[10, 40]] * 5 and s.bid_price.tolist() == [[10000, 9999]] * 5
    assert s.ask_qty.tolist() == [[30, 60]] * 3 + [[26, 60]] * 2 and s.ask_price.tolist() == [[10001, 10002]] * 5


@pytest.mark.realdata
def test_binance_capture_rows_match_a_slow_twin():
    """Spot BTCUSDT 2024-08-08: every row against a loop over the reader's own trades and books."""
    from simlab.io.binance_ws import read_binance_ws

    path = shared_path("binance_ws_l2_trades_hftbacktest/spot/btcusdt_20240808.gz")
    series = binance_series("spot", [path], levels=5)
    data = read_binance_ws([path], depth=5, require_snapshot=True)
    books, events = data["books"], data["events"]
    kind, event_ts = events["kind"].values, events["ts_ns"].values
    trades = [i for i in range(kind.size) if kind[i] == EventKind.TRADE]
    book_ts, rows, b, t = books["ts_ns"].values, [], 0, 0
    while b < book_ts.size or t < len(trades):  # merge: a trade goes before a diff of the same time
        trade_ts = event_ts[trades[t]] if t < len(trades) else np.iinfo(np.int64).max
        if b < book_ts.size and book_ts[b] < trade_ts:
            rows.append((book_ts[b], b, None))
            b += 1
        else:
            if b > 0:
                rows.append((trade_ts, b - 1, trades[t]))
            t += 1
    assert series.size == len(rows)
    ask_qty, bid_price = books["ask_qty"].values, books["bid_price"].values
    price, side = events["price_ticks"].values, events["side"].values
    for k in np.linspace(0, len(rows) - 1, 400).astype(int):
        ts, b, e = rows[k]
        assert series.ts_ns[k] == ts and series.ask_qty[k].tolist() == ask_qty[b].tolist()
        assert series.bid_price[k].tolist() == bid_price[b].tolist()
        if e is not None:
            assert series.price[k] == price[e] and series.side[k] == side[e]


def test_book_now_walks_the_origin_book():
    from scenarios.forecast.planted import planted_book

    book, _ = planted_book(400, levels=5, rng=np.random.default_rng(2))
    data = TaskData(book, Task("slippage", horizon_events=3, size=40), window=5)
    index = np.arange(300, 380)
    model = BookNow().fit(data, np.arange(5, 290), np.random.default_rng(0))
    forecast = model.predict(data, index).ofi
    for k, t in enumerate(index):
        asks = book.ask_price[t], book.ask_qty[t]
        expected = walk_book(*asks, 40)[1] / 40 if asks[1].sum() >= 40 else model.mean_
        assert forecast[k] == expected
    with pytest.raises(ParameterError, match="model 'book_now' forecasts task 'slippage' only"):
        BookNow().fit(TaskData(book, Task("direction", horizon_events=1), window=5), np.arange(5, 50), None)


def test_overlapping_labels_widen_the_intervals():
    """A horizon of 30 rows with every origin tested: each label overlaps the next 30, and the lags follow."""
    from scenarios.forecast.planted import planted_book

    book, _ = planted_book(1500, levels=5, rng=np.random.default_rng(4))
    long = TaskData(book, Task("realised_vol", horizon_events=30), window=5)
    index = np.arange(800, 1400)
    assert label_overlap(long, index) == 30 and label_overlap(long, index[::10]) == 3
    assert newey_west_lags(600, 30) == 30 and newey_west_lags(600, 3) == int(np.floor(4 * 6 ** (2 / 9)))
    result = run_task_protocol(long, [Prior()], rng=1, n_folds=5)
    assert result.overlap == 30 and result.bandwidth == 30


def test_cli_runs_a_spec_with_several_tasks(tmp_path):
    from typer.testing import CliRunner

    from scenarios.cli import app

    spec = tmp_path / "two.toml"
    spec.write_text(
        '[run]\nname = "two"\nseed = 3\n\n[[data]]\nname = "planted"\nsource = "planted"\nrows = 800\nlevels = 5\n\n'
        '[[tasks]]\nname = "direction"\nhorizon_events = 1\nmodels = ["last_label", "prior"]\nreference = "prior"\n'
        'levels = 5\n\n[[tasks]]\nname = "slippage"\nhorizon_events = 2\nsize = 20\nmodels = ["book_now", "prior"]\n'
        'reference = "book_now"\nlevels = 5\n'
    )
    result = CliRunner().invoke(app, ["forecast", "run", str(spec), "-o", str(tmp_path / "two.zarr")])
    assert result.exit_code == 0, result.output
    assert "task direction_1ev, slippage_2ev" in result.output
    assert (tmp_path / "two_report" / "report.html").is_file()
