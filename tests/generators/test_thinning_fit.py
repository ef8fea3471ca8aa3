"""The hazard of unseen removals behind the best (generators.thinning): exact on hand-built flows, recovered on the
zero-intelligence book seen through a level-1 window, and finite on the real AMZN day."""

from __future__ import annotations

import math

import numpy as np
import pytest

from generators.thinning import behind_hazard
from simlab.book.stats import visible_events
from simlab.book.zero_intelligence import ZIParams, simulate_zi
from simlab.errors import DataError
from simlab.schema import NO_PRICE, EventKind, make_books, make_events

ATTRS = {"tick_size": 0.01, "lot_size": 1.0, "instrument": "TEST", "venue": "TEST"}
A, C, D, T = EventKind.ADD, EventKind.CANCEL, EventKind.DELETE, EventKind.TRADE


def _flow(rows):
    """Events and level-1 books from ``(t_s, kind, side, price, qty, order_id, (bid, bid_qty), (ask, ask_qty))``."""
    ts = np.array([round(r[0] * 1e9) for r in rows], np.int64)
    col = [np.array([r[i] for r in rows], np.int64) for i in range(1, 6)]
    events = make_events(ts_ns=ts, kind=col[0].astype(np.int8), side=col[1].astype(np.int8), price_ticks=col[2],
                         qty_lots=col[3], order_id=col[4], **ATTRS)  # fmt: skip
    level = {name: np.array([[r[6 + k][i]] for r in rows], np.int64) for k, s in enumerate(("bid", "ask"))
             for i, name in enumerate((f"{s}_price", f"{s}_qty"))}  # fmt: skip
    return events, make_books(ts_ns=ts, **level)


def _hand_flow():
    # id1 (bid 100) is behind 2 s (id2 at 101), is cancelled 1 lot at the best (its last reference), is behind 4 s
    # (id3 at 102), and the trade of id3 shows best bid 99: id1 died unseen, E_pre 2 s, E_d 4 s. id4 is behind 3 s
    # and deleted: a survivor. id2, id3, id5 finish at the best (0 s behind). id9 is shown gone while at the best
    # (E_d 0). id6, id7, id10, id11 are never shown gone: censored.
    ask, bid = (110, 7), (99, 7)
    rows = [
        (0, A, -1, 110, 7, 6, (NO_PRICE, 0), ask),
        (0, A, 1, 100, 5, 1, (100, 5), ask),
        (1, A, 1, 101, 2, 2, (101, 2), ask),
        (3, D, 1, 101, 2, 2, (100, 5), ask),
        (4, C, 1, 100, 1, 1, (100, 4), ask),
        (5, A, 1, 102, 1, 3, (102, 1), ask),
        (9, T, -1, 102, 1, 3, bid, ask),
        (10, A, 1, 100, 3, 4, (100, 3), ask),
        (11, A, 1, 101, 1, 5, (101, 1), ask),
        (14, D, 1, 101, 1, 5, (100, 3), ask),
        (15, D, 1, 100, 3, 4, bid, ask),
        (16, A, -1, 109, 1, 7, bid, (109, 1)),
        (17, A, 1, 101, 2, 9, (101, 2), (109, 1)),
        (18, A, -1, 108, 1, 10, bid, (108, 1)),
        (20, A, -1, 107, 1, 11, bid, (107, 1)),
    ]
    return _flow(rows)


def test_a_hand_built_flow_gives_the_exposures_counts_and_closed_form_mle():
    result = behind_hazard(*_hand_flow())
    assert (result["survived"], result["died"], result["died_at_zero_exposure"], result["censored"]) == (4, 1, 1, 4)
    assert result["survival_exposure_s"] == pytest.approx(5.0) and result["exposure_s"] == pytest.approx(9.0)
    # one death with E_d = 4 s against S = 5 s: the score -S + d / (exp(h d) - 1) vanishes at log(1 + d / S) / d
    h = math.log(1.8) / 4.0
    assert result["hazard_per_s"] == pytest.approx(h, rel=1e-10)
    assert result["plain_hazard_per_s"] == pytest.approx(h, rel=1e-10)  # one episode: the correction is void
    assert result["std_error_per_s"] == pytest.approx(1.0 / math.sqrt(45.0), rel=1e-8)  # d^2 e^-hd / (1-e^-hd)^2
    lo, hi = result["interval"]
    assert lo < h < hi and lo * hi == pytest.approx(h * h)  # Wald on log h
    # references at distinct times: id2, id1 (cancel), id3, id5, id4; at-best time before the last references
    # 2 (id1) + 2 (id2) + 4 (id3) + 2 (id4) + 3 (id5)
    assert result["reference_rate_per_s"] == pytest.approx(5.0 / 13.0)
    assert [b["died"] for b in result["by_exposure"]] == [0, 0, 1, 0, 0, 0]


def test_a_death_in_the_second_episode_is_weighed_by_the_chance_of_no_reference_at_the_best_between():
    ask = (110, 7)
    rows = [
        (0, A, -1, 110, 7, 6, (NO_PRICE, 0), ask),
        (0, A, 1, 100, 5, 1, (100, 5), ask),
        (1, A, 1, 101, 1, 2, (101, 1), ask),  # id1 behind: episode 1, 2 s
        (3, D, 1, 101, 1, 2, (100, 9), ask),  # back at the best for 4 s (9 lots: others joined, no proof)
        (7, A, 1, 102, 1, 3, (102, 1), ask),  # episode 2, 1 s
        (8, D, 1, 102, 1, 3, (99, 2), ask),  # 100 is gone: id1 died in 3 s of behind-time
        (9, A, 1, 100, 1, 4, (100, 1), ask),
        (10, A, 1, 101, 1, 5, (101, 1), ask),  # id4 behind 2 s, then deleted: S = 2 s
        (12, D, 1, 101, 1, 5, (100, 1), ask),
        (13, D, 1, 100, 1, 4, (99, 2), ask),
    ]
    result = behind_hazard(*_flow(rows))
    assert (result["survived"], result["died"], result["censored"]) == (4, 1, 1)
    assert result["plain_hazard_per_s"] == pytest.approx(math.log(2.5) / 3.0, rel=1e-10)
    g = result["reference_rate_per_s"]
    assert g == pytest.approx(4.0 / 7.0)  # 4 references; at the best 2 (id2) + 1 (id3) + 2 (id4) + 2 (id5) s

    def loglik(h):
        return -2.0 * h + math.log(-math.expm1(-2 * h) + math.exp(-4 * g - 2 * h) * -math.expm1(-h))

    h, eps = result["hazard_per_s"], 1e-6
    assert (loglik(h + eps) - loglik(h - eps)) / (2 * eps) == pytest.approx(0.0, abs=1e-6)
    assert h > result["plain_hazard_per_s"]  # a late death is less likely: the deaths are earlier, h is larger


def test_an_order_shown_with_fewer_lots_than_it_holds_died_unseen():
    # id1 (bid 100, 5 lots) is behind 2 s (id2 at 101); when 101 goes, 100 is the best again with 3 lots: id1 cannot
    # be there (no message named it), so it died in those 2 s. id4 then survives 3 s behind id5: h = log(1 + 2/3) / 2
    ask = (110, 7)
    rows = [
        (0, A, -1, 110, 7, 6, (NO_PRICE, 0), ask),
        (0, A, 1, 100, 5, 1, (100, 5), ask),
        (1, A, 1, 101, 2, 2, (101, 2), ask),
        (3, D, 1, 101, 2, 2, (100, 3), ask),
        (4, A, 1, 100, 1, 4, (100, 4), ask),
        (5, A, 1, 101, 1, 5, (101, 1), ask),
        (8, D, 1, 101, 1, 5, (100, 4), ask),
        (9, D, 1, 100, 1, 4, (100, 3), ask),
    ]
    result = behind_hazard(*_flow(rows))
    assert (result["survived"], result["died"], result["censored"]) == (3, 1, 1)  # id2, id4, id5; id1; id6
    assert result["survival_exposure_s"] == pytest.approx(3.0) and result["exposure_s"] == pytest.approx(5.0)
    assert result["hazard_per_s"] == pytest.approx(math.log(1.0 + 2.0 / 3.0) / 2.0, rel=1e-10)


def test_bad_inputs_are_refused_with_a_sentence_naming_the_parameter():
    events, books = _hand_flow()
    with pytest.raises(DataError, match=r"behind_hazard events: expected the variables .*; missing \['order_id'\]"):
        behind_hazard(events.drop_vars("order_id"), books)
    events.attrs["levels"] = 10
    with pytest.raises(DataError, match=r"expected a level-1 file .*; found the attribute levels = 10"):
        behind_hazard(events, books)
    events.attrs["levels"] = 1
    behind_hazard(events, books)  # a level-1 file is read
    with pytest.raises(DataError, match=r"behind_hazard books: expected one row per event \(15 events.*found 14"):
        behind_hazard(events, books.isel(time=slice(1, None)))
    with pytest.raises(DataError, match=r"behind_hazard books: expected the fields .*; missing \['ask_qty'\]"):
        behind_hazard(events, books.drop_vars("ask_qty"))
    with pytest.raises(DataError, match=r"behind_hazard events: expected an order .* behind .*; found none among 2"):
        behind_hazard(events.isel(event=slice(0, 2)), books.isel(time=slice(0, 2)))


def _zi_level1(delta: float, duration_s: float, seed: int):
    params = ZIParams(limit_rate=0.4, market_rate=1.5, cancel_rate=delta, order_size=3, band_ticks=12,
                      size_law="geometric")  # fmt: skip
    flow = simulate_zi(params, duration_s, rng=seed, depth=30)
    events, books = flow["events"], flow["books"]
    seen = visible_events(events["kind"].values, events["side"].values, events["price_ticks"].values, books, 1)
    return (events, books), (events.isel(event=seen), books.isel(time=seen))


@pytest.mark.parametrize(("delta", "duration_s"), [(0.05, 3000.0), (0.15, 1500.0)])
def test_the_zero_intelligence_cancel_rate_is_recovered_through_a_level1_window(delta, duration_s):
    full, level1 = _zi_level1(delta, duration_s, seed=3)
    result = behind_hazard(*level1)
    print(f"delta {delta}: {result}")
    lo, hi = result["interval"]
    assert lo < delta < hi and abs(result["hazard_per_s"] / delta - 1.0) < 0.1
    assert result["died"] > 200 and result["survived"] > 1000 and result["died_at_zero_exposure"] == 0
    assert result["censored"] < 0.02 * (result["died"] + result["survived"])
    # with every message recorded nothing dies unseen: the hazard is 0, bounded by 3 / S
    everything = behind_hazard(*full)
    assert everything["died"] == 0 and everything["hazard_per_s"] == 0.0
    assert everything["interval"][1] == pytest.approx(3.0 / everything["survival_exposure_s"])


def test_the_amzn_day_first_hour_gives_a_finite_positive_hazard(amzn_day):
    events, books = amzn_day["events"], amzn_day["books"]
    ts = events["ts_ns"].values
    hour = int(np.searchsorted(ts, ts[0] + 3600 * 10**9))
    result = behind_hazard(events.isel(event=slice(0, hour)), books.isel(time=slice(0, hour)))
    print(f"AMZN first hour ({hour} rows): {result}")
    assert np.isfinite(result["hazard_per_s"]) and result["hazard_per_s"] > 0
    lo, hi = result["interval"]
    assert 0 < lo < result["hazard_per_s"] < hi
    assert result["died"] > 0 and result["survived"] > 0 and result["exposure_s"] > 0
