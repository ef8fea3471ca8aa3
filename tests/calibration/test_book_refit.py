"""The leak-free TSTR sources: a Hawkes-driven book refitted on the rows before a cut reads none after it; an ABM
preset calibrated on the same data must end before the cut."""

from __future__ import annotations

import json

import numpy as np
import pytest

from calibration.book_refit import hawkes_book_before
from calibration.hawkes import HawkesMLE
from scenarios.forecast.book_sources import abm_calibration_span
from simlab.book.hawkes_book import simulate_hawkes_book
from simlab.errors import ParameterError
from tests.simlab.book.test_hawkes_book import HAWKES, PARAMS

OPTIONS = {"placement_reference": "same", "max_distance_ticks": 50, "hazard_ticks": 20}


@pytest.fixture(scope="module")
def book():
    return simulate_hawkes_book(PARAMS, 120.0, rng=5, warmup_s=10.0, depth=50)


def _fit(events, books, cut_ns):
    mle = HawkesMLE(decays=np.asarray(HAWKES.decays), fit_decays=False, n_starts=1, rng=0)
    params, info = hawkes_book_before(events, books, cut_ns, options=OPTIONS, hawkes=mle)
    return json.dumps(params.to_dict(), default=float, sort_keys=True), info


def test_rows_after_the_cut_change_nothing_and_rows_before_do(book):
    events, books = book["events"], book["books"]
    ts = events["ts_ns"].values
    cut_ns = int(ts[ts.size // 2])
    first, info = _fit(events, books, cut_ns)
    assert info["rows"] == int((ts < cut_ns).sum()) and info["last_ns"] < cut_ns <= int(ts[info["rows"]])
    after = ts >= cut_ns
    scrambled_events = events.copy(deep=True)
    scrambled_events["qty_lots"].values[after] = 7 * scrambled_events["qty_lots"].values[after] + 3
    scrambled_events["price_ticks"].values[after] += 11
    scrambled_events["ts_ns"].values[after] += np.cumsum(np.full(after.sum(), 10**6))  # later, still in order
    scrambled_books = books.copy(deep=True)
    for name in ("bid_qty", "ask_qty"):
        scrambled_books[name].values[after] = 1
    assert _fit(scrambled_events, scrambled_books, cut_ns)[0] == first
    before = events.copy(deep=True)  # a control: the same change before the cut moves the fit
    early = np.flatnonzero(~after)[10 : info["rows"] // 2]
    before["qty_lots"].values[early] = 7 * before["qty_lots"].values[early] + 3
    assert _fit(before, books, cut_ns)[0] != first


def test_an_abm_preset_must_be_calibrated_before_the_cut(tmp_path):
    real = [tmp_path / "AMZN_day" / "message.csv"]
    text = '[market]\nname = "m"\n\n[initial_book]\nlevels = 5\n\n[calibration.source]\nfiles = ["../data/AMZN_day"]\n'
    text += "start_s = 100.0\n"
    (tmp_path / "p.toml").write_text(text + "duration_s = 50.0\n")
    first = 10**18
    span = abm_calibration_span(tmp_path / "p.toml", real, first, first + 150 * 10**9)
    assert span["before_cut"] and span["window_ns"] == [first + 100 * 10**9, first + 150 * 10**9]
    with pytest.raises(ParameterError, match="reaches the TSTR test span"):
        abm_calibration_span(tmp_path / "p.toml", real, first, first + 149 * 10**9)
    other = abm_calibration_span(tmp_path / "p.toml", [tmp_path / "AAPL_hour" / "m.csv"], first, first + 1)
    assert other["same_data"] is False
