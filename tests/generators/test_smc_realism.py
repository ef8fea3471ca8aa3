"""The SMC realism study (`scenarios.generate.smc_realism`): the quintile windows of a real span, by hand."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import xarray as xr

from generators import encoding as enc
from scenarios.generate import smc_realism as sr
from simlab.errors import DataError, ParameterError


class Encoding:
    """The model's encoding as regime_mask reads it: one level, hand-set quintile edges (real `quintiles`)."""

    book_levels = 1
    # volatility: top quintile at >= 1.9 ticks; depth: bottom quintile below 10 lots; trend and imbalance unused
    regime_edges = ([0.5, 1.0, 1.5, 1.9], [-1.0, 0.0, 1.0, 2.0], [10.0, 15.0, 19.0, 25.0], [-0.5, 0.0, 0.5, 0.9])
    quintiles = enc.Encoding.quintiles


def book_span(n: int, jumps: tuple[int, ...], thin: int = 0) -> dict[str, xr.Dataset]:
    """A one-level span of ``n`` rows: the mid moves up 2 ticks at each row of ``jumps``; rows before ``thin`` hold
    1 lot a side (else 10)."""
    up = np.zeros(n, np.int64)
    for row in jumps:
        up[row:] += 2
    qty = np.where(np.arange(n) < thin, 1, 10)[:, None]
    books = xr.Dataset(
        {
            "bid_price": (("time", "level"), (100 + up)[:, None]),
            "bid_qty": (("time", "level"), qty),
            "ask_price": (("time", "level"), (102 + up)[:, None]),
            "ask_qty": (("time", "level"), qty),
        }
    )
    events = xr.Dataset({"ts_ns": ("event", np.arange(n, dtype=np.int64) * 1_000_000_000)})
    return {"events": events, "books": books}


def test_covered_rows_marks_every_row_of_each_matching_window():
    hits = np.zeros(8, bool)
    hits[[1, 5]] = True  # windows of 2 changes: rows 1..3 and 5..7
    assert sr.covered_rows(hits, 2, 10).tolist() == [0, 1, 1, 1, 0, 1, 1, 1, 0, 0]
    assert not sr.covered_rows(np.zeros(8, bool), 2, 10).any()
    with pytest.raises(ParameterError, match="covered_rows"):
        sr.covered_rows(np.zeros(9, bool), 2, 10)


def test_the_quintile_windows_of_a_hand_built_book():
    # 12 rows, windows of 3 changes (rows i..i+3, starts 0..8); the mid jumps 2 ticks between rows 5 and 6, so the
    # windows starting at 3, 4, 5 have volatility 2 (top quintile), the others 0
    span = book_span(12, jumps=(6,), thin=7)
    mask, windows = sr.regime_mask(span["books"], Encoding(), {"volatility": 5}, window=3)
    assert windows == 3 and np.flatnonzero(mask).tolist() == [3, 4, 5, 6, 7, 8]
    # depth: 2 lots on rows 0..6, 20 after; a window's mean is below 10 when 3 or 4 of its 4 rows are thin: starts
    # 0..4, rows 0..7
    mask, windows = sr.regime_mask(span["books"], Encoding(), {"depth": 1}, window=3)
    assert windows == 5 and np.flatnonzero(mask).tolist() == list(range(8))
    # both at once: starts 3 and 4, rows 3..7
    mask, windows = sr.regime_mask(span["books"], Encoding(), {"volatility": 5, "depth": 1}, window=3)
    assert windows == 2 and np.flatnonzero(mask).tolist() == [3, 4, 5, 6, 7]
    # the top quintile is not the fourth
    mask, windows = sr.regime_mask(span["books"], Encoding(), {"volatility": 4}, window=3)
    assert windows == 0 and not mask.any()


def test_the_reference_takes_the_first_span_with_enough_rows_and_joins_its_stretches():
    spans = {"test": book_span(20, jumps=()), "train": book_span(20, jumps=(6, 16))}
    ref, record = sr.regime_reference(spans, Encoding(), {"volatility": 5}, min_rows=12, window=3)
    # train: starts 3-5 and 13-15, rows 3..8 and 13..18
    kept = [3, 4, 5, 6, 7, 8, 13, 14, 15, 16, 17, 18]
    assert record["span"] == "train" and record["rows"] == 12 and record["stretches"] == 2
    assert record["tried"]["test"] == {"rows": 0, "of": 20, "windows": 0}
    assert record["seconds"] == pytest.approx((8 - 3) + (18 - 13))
    assert (ref["events"]["ts_ns"].values // 1_000_000_000).tolist() == kept
    assert ref["books"]["bid_price"].values[:, 0].tolist() == [
        int(spans["train"]["books"]["bid_price"][r, 0]) for r in kept
    ]
    # the held-out span first when it holds enough
    spans["test"] = book_span(20, jumps=(10,))
    _, record = sr.regime_reference(spans, Encoding(), {"volatility": 5}, min_rows=6, window=3)
    assert record["span"] == "test" and record["rows"] == 6 and "train" not in record["tried"]
    with pytest.raises(DataError, match="regime_reference: no span"):
        sr.regime_reference(spans, Encoding(), {"volatility": 5}, min_rows=13, window=3)


def test_real_segments_are_consecutive_windows_of_the_asked_seconds_quoted_throughout():
    span = book_span(20, jumps=())  # one event a second, 0 .. 19 s
    segments = sr.real_segments(span, 5.0, 32)
    assert [(s["events"]["ts_ns"].values // 1_000_000_000).tolist() for s in segments] == [
        list(range(k, k + 5)) for k in (0, 5, 10)
    ]  # 19 s hold three whole segments of 5 s
    assert [s["books"].sizes["time"] for s in segments] == [5, 5, 5]
    assert len(sr.real_segments(span, 5.0, 2)) == 2
    span["books"]["bid_qty"][7, 0] = 0  # no bid at 7 s: the second segment is left out
    assert [int(s["events"]["ts_ns"][0]) // 1_000_000_000 for s in sr.real_segments(span, 5.0, 32)] == [0, 10]
    with pytest.raises(DataError, match="real_segments"):
        sr.real_segments(span, 30.0, 2)


def test_each_arm_samples_with_its_own_options():
    calls = []
    model = SimpleNamespace(sample=lambda n, d, **kwargs: calls.append((n, d, kwargs)) or [])
    for arm in ("plain", "cfg:volatility=5", "smc:depth=1,volatility=5"):
        sr.sample_arm(model, arm, n_paths=3, duration=2.0, seed=7, particles=4)
    assert calls[0] == (3, 2.0, {"generator": 7, "stop_when_stuck": True})
    assert calls[1][2] == {"generator": 7, "stop_when_stuck": True, "regime": {"volatility": 5}, "guidance": 1.0}
    smc = calls[2][2]
    assert smc["regime"] == {"depth": 1, "volatility": 5} and smc["particles"] == 4 and smc["guidance"] == 1.0
    assert smc["smc"] == {"final_sharpness": math.inf}
    assert sr.parse_arm("real:validation") == ("real", None)
    for bad in ("cfg", "plain:depth=1", "smc:depth=6", "smc:speed=1", "grid:depth=1", "real:test", "real"):
        with pytest.raises(ParameterError, match="arm"):
            sr.parse_arm(bad)


def card(value: float, low: float, floor: float, extra: float | None = None) -> SimpleNamespace:
    """A scorecard with two L1 scores of equal values and constant floor replicates (and a third, ``extra``)."""
    distance = SimpleNamespace(value=value, low=low, high=value + 0.1, floor=floor, floor_low=floor - 0.01,
                               floor_high=floor + 0.01, floor_replicates=np.full(20, floor),
                               replicates=np.full(20, value), to_dict=dict)  # fmt: skip
    rows = [SimpleNamespace(metric="l1", distance=distance, quantity=q, family="f") for q in ("a", "b")]
    if extra is not None:
        same = dict.fromkeys(("value", "low", "high", "floor", "floor_low", "floor_high"), extra)
        other = SimpleNamespace(
            **same, replicates=np.full(20, extra), floor_replicates=np.full(20, extra), to_dict=dict
        )
        rows.append(SimpleNamespace(metric="l1", distance=other, quantity="c", family="f"))
    summary = {"l1": {"mean": {"value": value, "low": low, "high": value + 0.1}, "scores": 2}}
    return SimpleNamespace(rows=rows, summary=summary, discriminative=SimpleNamespace(auc=0.5 + value))


def test_an_arm_is_indistinguishable_only_when_its_interval_reaches_the_floor():
    path = {"events": xr.Dataset(coords={"event": np.arange(5)}), "books": book_span(5, ())["books"]}
    cards = [card(0.30, 0.25, 0.20), card(0.40, 0.35, 0.20)]
    rows = [sr.path_card(c, path, Encoding()) for c in cards]
    assert [r["indistinguishable"] for r in rows] == [False, False]
    assert "too short" in rows[0]["end_regime"]
    summary = sr.summarise_arm(cards, rows, seed=1)
    assert summary["mean_l1"]["value"] == pytest.approx(0.35) and 0.30 <= summary["mean_l1"]["low"] <= 0.35
    assert summary["floor"] == {"value": pytest.approx(0.20), "low": pytest.approx(0.20), "high": pytest.approx(0.20)}
    assert not summary["indistinguishable"] and summary["auc"]["value"] == pytest.approx(0.85)
    near = [card(0.20, 0.19, 0.20), card(0.25, 0.20, 0.20)]  # the bootstrap over paths reaches 0.20
    near_rows = [sr.path_card(c, path, Encoding()) for c in near]
    assert sr.summarise_arm(near, near_rows, seed=1)["indistinguishable"]
    assert sr.summarise_arm(near, near_rows, seed=1)["paths_indistinguishable"] == 2
    d = sr.difference([0.3, 0.3], [0.1, 0.1], seed=1)
    assert d == {"value": pytest.approx(0.2), "low": pytest.approx(0.2), "high": pytest.approx(0.2)}


def test_the_shared_scores_leave_out_a_score_only_some_paths_computed():
    path = {"events": xr.Dataset(coords={"event": np.arange(5)}), "books": book_span(5, ())["books"]}
    cards = [card(0.30, 0.25, 0.20, extra=0.90), card(0.40, 0.35, 0.20)]
    rows = [sr.path_card(c, path, Encoding()) for c in cards]
    assert rows[0]["mean_l1"]["value"] == pytest.approx(0.30)  # the fake summary; "c (f)" would raise it to 0.5
    assert sorted(sr.l1_scores(cards[0])) == ["a (f)", "b (f)", "c (f)"]
    one = sr.shared_mean(sr.l1_scores(cards[0]), ["a (f)", "b (f)", "c (f)"])
    assert one["value"] == pytest.approx(0.5) and one["floor"]["value"] == pytest.approx(0.2 * 2 / 3 + 0.9 / 3)
    shared = sr.summarise_arm([sr.l1_scores(c) for c in cards], rows, seed=1, names=["a (f)", "b (f)"])
    assert shared["path_values"] == pytest.approx([0.30, 0.40]) and shared["l1_scores"] == [2, 2]
    assert shared["floor"]["value"] == pytest.approx(0.20) and not shared["indistinguishable"]
    assert shared["path_excess"] == pytest.approx([0.10, 0.20]) and shared["excess_over_floor"][
        "value"
    ] == pytest.approx(0.15)


def test_the_size_adjusted_difference_removes_a_common_size_slope():
    # value = 0.5 - 0.0001 size + 0.02 [arm a], exactly: the busier arm a looks better raw, worse at equal size
    size_a, size_b = np.array([900.0, 1000.0, 1100.0, 1200.0]), np.array([500.0, 600.0, 700.0, 800.0])
    a, b = 0.52 - 1e-4 * size_a, 0.5 - 1e-4 * size_b
    assert sr.difference(a, b, seed=3)["value"] == pytest.approx(-0.02)
    d = sr.size_adjusted_difference(a, b, size_a, size_b, seed=3)
    assert d["value"] == pytest.approx(0.02) and d["slope"] == pytest.approx(-1e-4)
    assert d["low"] == pytest.approx(0.02, abs=1e-9) and d["high"] == pytest.approx(0.02, abs=1e-9)


def test_the_cache_folder_belongs_to_one_model_and_spec(tmp_path):
    from scenarios.generate.smc_realism import cache_folder

    model, spec = tmp_path / "a.model", tmp_path / "spec.toml"
    model.mkdir()
    (model / "weights.pt").write_bytes(b"one")
    spec.write_text("x = 1\n")
    first = cache_folder(tmp_path / "cache", model, spec)
    assert first.parent == tmp_path / "cache" and first == cache_folder(tmp_path / "cache", model, spec)
    (model / "weights.pt").write_bytes(b"two")  # another model's weights: another folder, never read back
    second = cache_folder(tmp_path / "cache", model, spec)
    spec.write_text("x = 2\n")  # another spec: another folder
    assert len({first, second, cache_folder(tmp_path / "cache", model, spec)}) == 3
