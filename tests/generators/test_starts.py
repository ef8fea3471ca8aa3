"""Paths started in a regime (generators.starts): the drawn training windows lie in the asked quintiles (measured here
by hand), each path starts from its own window's book and history, one seed gives the same bytes on the kernels and
on the slow twin, and bad requests get our sentence."""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import pytest

from generators import encoding as enc
from generators.diffusion import DiffusionGenerator
from generators.evaluation import counterfactual_sweep, path_regime
from generators.hidden_depth import HIDDEN_LEVELS
from generators.starts import check_trained_on, draw_starts, matching, real_shares, start_windows
from simlab.errors import DataError, ParameterError
from tests.generators.test_diffusion import SMALL


@pytest.fixture(scope="module")
def fitted(zi_spans):
    return DiffusionGenerator(SMALL, device="cpu").fit(zi_spans, seed=3)


@pytest.fixture(scope="module")
def windows(zi_spans, fitted):
    span = zi_spans["train"]
    return start_windows(span["events"], span["books"], fitted.encoding_)


def _past_by_hand(books, row: int) -> tuple[float, float]:
    # realised volatility of the mid and mean depth of levels 1-10 over the REGIME_WINDOW rows that end at `row`
    cut = slice(row - enc.REGIME_WINDOW, row + 1)
    bid, ask = books["bid_price"].values[cut, 0], books["ask_price"].values[cut, 0]
    mid = (bid + ask) / 2.0
    depth = books["bid_qty"].values[cut, :10].sum(axis=1) + books["ask_qty"].values[cut, :10].sum(axis=1)
    return float(np.sqrt(np.sum(np.diff(mid) ** 2))), float(depth.mean())


@pytest.mark.parametrize(("regime", "column", "quintile"), [({"volatility": 5}, 0, 5), ({"depth": 1}, 1, 1)])
def test_the_drawn_windows_lie_in_the_asked_quintile_measured_by_hand(zi_spans, fitted, windows, regime, column,
                                                                      quintile):  # fmt: skip
    books = zi_spans["train"]["books"]
    assert (books["bid_qty"].values[:, 0] > 0).all() and (books["ask_qty"].values[:, 0] > 0).all()  # mid defined
    starts, record = draw_starts(windows, regime, 3, seed=77)
    edges = fitted.encoding_.regime_edges[enc.REGIMES.index(next(iter(regime)))]
    bounds = ([-np.inf, *edges, np.inf][quintile - 1], [-np.inf, *edges, np.inf][quintile])
    for start in starts:
        value = _past_by_hand(books, start["row"])[column]
        assert bounds[0] <= value < bounds[1]
    assert record["rows"] == [s["row"] for s in starts] and record["candidates"] == matching(windows, regime).size
    assert 0 < record["candidates"] < windows.ends.size and not record["replace"]
    assert record["spaced"] == (np.diff(record["rows"]).min() >= enc.REGIME_WINDOW)
    # the window's last book is the span's book at the drawn row, its history the messages that led there
    start = starts[0]
    for k, name in enumerate(("bid_price", "bid_qty", "ask_price", "ask_qty")):
        np.testing.assert_array_equal(start["books"][-1, k, :10], books[name].values[start["row"], :10])
    np.testing.assert_array_equal(start["table"], windows.table[start["row"] - windows.rows : start["row"]])


def test_the_drawn_windows_are_a_regime_window_apart_while_the_candidates_allow(windows):
    def draw(ends, n):
        some = replace(windows, ends=np.asarray(ends), past=windows.past[: len(ends)])
        return draw_starts(some, None, n, seed=3, mode="random")[1]

    wide = draw(np.arange(300, 2300), 5)
    assert wide["spaced"] and np.diff(wide["rows"]).min() >= enc.REGIME_WINDOW and not wide["replace"]
    narrow = draw(np.arange(300, 400), 5)
    assert not narrow["spaced"] and len(set(narrow["rows"])) == 5 and not narrow["replace"]
    few = draw([300, 301], 5)
    assert few["replace"] and set(few["rows"]) == {300, 301} and len(few["rows"]) == 5


def test_each_path_starts_from_its_own_window_and_one_seed_gives_the_same_bytes(fitted, windows):
    starts, record = draw_starts(windows, {"volatility": 5}, 2, seed=77)
    again, same = draw_starts(windows, {"volatility": 5}, 2, seed=77)
    assert same == record and draw_starts(windows, {"volatility": 5}, 2, seed=78)[1]["rows"] != record["rows"]
    fast = fitted.sample(2, 4.0, generator=5, regime={"volatility": 5}, starts=starts)
    twin = fitted.sample(2, 4.0, generator=5, regime={"volatility": 5}, starts=again, twin=True)
    for path, other, start in zip(fast, twin, starts, strict=True):
        assert path["events"].equals(other["events"]) and path["books"].equals(other["books"])
        attrs = path["events"].attrs
        assert attrs["start_row"] == start["row"] and attrs["start_ts_ns"] == start["ts_ns"]
        first = int(attrs["initial_orders"]) - 1  # the book once the start's orders rest: the window's last book
        for k, name in enumerate(("bid_price", "bid_qty", "ask_price", "ask_qty")):
            np.testing.assert_array_equal(path["books"][name].values[first, :10], start["books"][-1, k, :10])
        assert int(path["events"]["ts_ns"].values[0]) == int(fitted.context_["ts_ns"])  # the context's clock
    assert not fast[0]["books"].equals(fast[1]["books"])


def test_the_sweep_records_its_starts_and_shares_the_unconditioned_paths_of_the_same_starts(fitted, windows):
    kwargs = {"n_paths": 2, "duration": 8.0, "seed": 5, "window": 16}
    rows = counterfactual_sweep(fitted, [{"volatility": 5}, {"depth": 1}], [1.0], start="regime", windows=windows,
                                **kwargs)  # fmt: skip
    drawn = [draw_starts(windows, r, 2, seed=5)[1] for r in ({"volatility": 5}, {"depth": 1})]
    assert [row["start"] for row in rows] == drawn
    random = counterfactual_sweep(fitted, [{"volatility": 5}], [1.0], start="random", windows=windows, **kwargs)
    assert random[0]["start"]["candidates"] == windows.ends.size and random[0]["start"]["regime"] == {}
    with pytest.raises(ParameterError, match="start='regime' needs the training span's `windows`"):
        counterfactual_sweep(fitted, [{"volatility": 5}], [1.0], start="regime", **kwargs)
    with pytest.raises(ParameterError, match="`start` of counterfactual_sweep must be one of"):
        counterfactual_sweep(fitted, [{"volatility": 5}], [1.0], start="middle", **kwargs)


def test_bad_requests_get_our_sentence(zi_spans, fitted, windows):
    with pytest.raises(ParameterError, match="unknown regime 'vol'; expected one of"):
        draw_starts(windows, {"vol": 5}, 2, seed=1)
    with pytest.raises(ParameterError, match="quintile of regime 'depth' must be an int in 1-5; got 6"):
        draw_starts(windows, {"depth": 6}, 2, seed=1)
    with pytest.raises(ParameterError, match="`mode` of draw_starts must be one of"):
        draw_starts(windows, {"depth": 1}, 2, seed=1, mode="context")
    starts, _ = draw_starts(windows, {"depth": 1}, 2, seed=1)
    with pytest.raises(ParameterError, match=r"`starts` of sample must hold one start per path \(3\); got 2"):
        fitted.sample(3, 1.0, generator=1, starts=starts)
    empty = replace(windows, ends=windows.ends[:0], past=windows.past[:0], quintiles=windows.quintiles[:0])
    with pytest.raises(DataError, match="no training window has its past regime in"):
        draw_starts(empty, {"depth": 1}, 2, seed=1)
    train, validation, test = ((zi_spans[k]["events"], zi_spans[k]["books"]) for k in ("train", "validation", "test"))
    check_trained_on(fitted, train, validation, source="spec x")
    for spans in ((train, train), (test, validation)):  # another context; another training span
        with pytest.raises(DataError, match="spec x: not the data the model was trained on"):
            check_trained_on(fitted, *spans, source="spec x")


def test_a_path_is_measured_on_the_window_its_condition_labels_in_training(zi_spans, windows):
    # training labels message i (the book before it is row i) with the regime of rows i .. i + REGIME_WINDOW;
    # path_regime measures a path from its start book (the last initial order) on: on a real span cut at row i
    # the two are the same numbers
    events, books = zi_spans["train"]["events"], zi_spans["train"]["books"]
    labels = enc.regime_values(tuple(books[name].values for name in ("bid_price", "bid_qty", "ask_price", "ask_qty")))
    for row in windows.ends[[0, windows.ends.size // 2]]:
        cut = slice(int(row) - 2, int(row) + enc.REGIME_WINDOW + 40)
        path = {"events": events.isel(event=cut), "books": books.isel(time=cut)}
        path["events"].attrs["initial_orders"] = 3  # rows row - 2 .. row are the "initial orders"
        np.testing.assert_allclose(path_regime(path), labels[row])


def test_real_shares_count_the_real_flow_after_the_starts(zi_spans, windows):
    events, books = zi_spans["train"]["events"], zi_spans["train"]["books"]
    labels = enc.regime_values(tuple(books[name].values for name in ("bid_price", "bid_qty", "ask_price", "ask_qty")))
    edges = windows.encoding.regime_edges[0]
    rows = matching(windows, {"volatility": 5})
    out = real_shares(windows, {"volatility": 5}, 30.0)["volatility"]
    ts = events["ts_ns"].values
    start = [labels[r, 0] >= edges[3] for r in rows if r + enc.REGIME_WINDOW < ts.size]
    late = []
    for r in rows:
        end = int(np.flatnonzero(ts <= ts[r] + 30 * 10**9)[-1])
        if end < ts.size - 1 and end - enc.REGIME_WINDOW >= r:
            late.append(labels[end - enc.REGIME_WINDOW, 0] >= edges[3])
    assert out == {"start": np.mean(start), "end": np.mean(late), "n_start": len(start), "n_end": len(late)}


def test_a_level1_model_gives_each_started_path_its_own_hidden_levels(fitted, windows):
    model = copy.copy(fitted)
    law = {"window_levels": 1, "bid": [[1, 5], [2, 7], [1, 9]], "ask": [[1, 4], [3, 6]]}
    model.context_ = {**fitted.context_, "hidden_depth": law}
    starts, _ = draw_starts(windows, None, 2, seed=4, mode="random")
    fast = model.sample(2, 2.0, generator=9, starts=starts)
    twin = model.sample(2, 2.0, generator=9, starts=starts, twin=True)
    hidden = []
    for path, other, start in zip(fast, twin, starts, strict=True):
        assert path["events"].equals(other["events"])
        initial = path["events"].isel(event=slice(0, int(path["events"].attrs["initial_orders"])))
        bids = initial["price_ticks"].values[initial["side"].values == 1]
        assert bids.size == 1 + HIDDEN_LEVELS and bids[0] == start["books"][-1, 0, 0]  # level 1, then hidden ones
        hidden.append(np.diff(bids))
    assert not np.array_equal(hidden[0], hidden[1])  # drawn per path


def test_the_ceilings_block_bootstrap_brackets_the_share_and_is_seeded(windows):
    from scenarios.generate.regime_ceiling import block_bootstrap

    rows = matching(windows, {"volatility": 5})
    kwargs = {"blocks": 5, "replicates": 50, "seed": 2}
    out = block_bootstrap(windows, {"volatility": 5}, rows, 30.0, **kwargs)["volatility"]
    whole = real_shares(windows, {"volatility": 5}, 30.0, rows)["volatility"]
    for at in ("start", "end"):
        share, low, high = out[at]
        assert share == whole[at] and low <= share <= high and 0.0 <= low <= high <= 1.0
    assert out == block_bootstrap(windows, {"volatility": 5}, rows, 30.0, **kwargs)["volatility"]
    with pytest.raises(ParameterError, match="block_bootstrap needs blocks >= 2"):
        block_bootstrap(windows, {"volatility": 5}, rows, 30.0, blocks=1, replicates=50, seed=2)
