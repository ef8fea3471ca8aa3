"""Error against horizon: a slow twin of the window cuts, zero on identical data, a drift shows as a rising curve."""

from __future__ import annotations

import numpy as np
import pytest

from simlab.errors import ParameterError
from simlab.metrics import lobbench
from simlab.metrics._market import Market
from simlab.metrics.distances import histogram_edges, total_variation, wasserstein_standardised
from simlab.metrics.horizon import error_vs_horizon
from simlab.schema import EventKind, make_events
from tests.simlab.metrics.conftest import zi_book


def _market(data) -> Market:
    return Market(data["events"], data.get("books"), levels=5, source="test")


def _trades(ts_ns: np.ndarray) -> dict:
    n = ts_ns.size
    events = make_events(
        ts_ns=ts_ns, kind=EventKind.TRADE, side=np.where(np.arange(n) % 2, 1, -1), price_ticks=100, qty_lots=1,
        tick_size=0.01, lot_size=1.0, instrument="TOY", venue="test",
    )  # fmt: skip
    return {"events": events}


def _without_initial_orders(data) -> dict:
    """The simulator's resting set-up (``initial_orders`` events) dropped by hand, as Market does."""
    first = int(data["events"].attrs["initial_orders"])
    assert first > 0
    events = data["events"].isel(event=slice(first, None))
    events.attrs = {**events.attrs, "initial_orders": 0}
    return {"events": events, "books": data["books"].isel(time=slice(first, None))}


def test_window_scores_match_a_slow_twin_cut_from_the_datasets(zi_pair):
    """Twin: cut each dataset's xarray by seconds since its first event, then measure and compare from scratch."""
    out = error_vs_horizon(*(_market(data) for data in zi_pair), windows=3)
    real, synthetic = (_without_initial_orders(data) for data in zi_pair)
    spans = [int(d["events"]["ts_ns"].values[-1] - d["events"]["ts_ns"].values[0]) for d in (real, synthetic)]
    edges = np.linspace(0, min(spans), 4).astype(np.int64)
    assert out["edges_s"] == pytest.approx(edges / 1e9)
    for k in range(3):
        parts = []
        for data in (real, synthetic):
            offset = data["events"]["ts_ns"].values - data["events"]["ts_ns"].values[0]
            rows = np.flatnonzero(
                (offset >= edges[k]) & ((offset <= edges[k + 1]) if k == 2 else offset < edges[k + 1])
            )
            window = {"events": data["events"].isel(event=rows), "books": data["books"].isel(time=rows)}
            parts.append(_market(window))
        for name in ("spread_ticks", "log10_interarrival_s", "bid_volume"):
            a, b = (lobbench.QUANTITIES[name](m) for m in parts)
            edges_h = histogram_edges(a, b)
            tv = total_variation(*(np.histogram(x, edges_h)[0].astype(float) for x in (a, b)))
            i = out["quantities"].index(name)
            assert out["l1"][i, k] == pytest.approx(tv, rel=1e-12)
            assert out["w1"][i, k] == pytest.approx(wasserstein_standardised(a, b), rel=1e-12)
    finite = np.isfinite(out["l1"])
    assert out["mean_l1"] == pytest.approx(np.nansum(out["l1"], axis=0) / finite.sum(axis=0))
    assert out["scored"] == finite.sum(axis=0).tolist()


def test_identical_data_scores_zero_in_every_window(zi_pair):
    market = _market(zi_pair[0])
    out = error_vs_horizon(market, market, windows=4)
    assert out["scored"] == [18] * 4  # all but traded volume per minute: 2.5 min windows hold too few minutes
    assert np.nanmax(out["l1"]) == 0.0 and np.nanmax(out["w1"]) == 0.0
    assert out["mean_l1"].tolist() == [0.0] * 4


def test_a_drifting_flow_shows_a_rising_error():
    """Real: Poisson trades at 1/s for 2000 s. Synthetic: the same for 1000 s, then 5/s (intervals 5x shorter).

    In windows 1-2 the inter-arrival laws agree (L1 is sampling noise); in windows 3-4 they are Exp(1) against
    Exp(5), whose total variation (a monotone map such as log10 keeps it) is ``e^-x - e^-5x`` at the density
    crossing ``x = ln 5 / 4``: 0.535.
    """
    rng = np.random.default_rng(0)
    real_ts = np.cumsum(rng.exponential(1e9, 2000)).astype(np.int64)
    early = np.cumsum(rng.exponential(1e9, 1000))
    late = early[-1] + np.cumsum(rng.exponential(0.2e9, 5000))
    synthetic_ts = np.concatenate([early, late[late <= real_ts[-1] - real_ts[0] + early[0]]]).astype(np.int64)
    out = error_vs_horizon(_market(_trades(real_ts)), _market(_trades(synthetic_ts)), windows=4)
    row = out["l1"][out["quantities"].index("log10_interarrival_s")]
    assert row[0] < 0.15 and row[1] < 0.15  # sampling noise of about 500 values a window
    x = np.log(5) / 4
    assert row[2:] == pytest.approx([np.exp(-x) - np.exp(-5 * x)] * 2, abs=0.05)
    assert out["mean_l1"][3] > 2 * out["mean_l1"][0]


def test_bad_parameters_are_refused_with_our_sentence():
    market = _market(zi_book(1, duration_s=20.0))
    with pytest.raises(ParameterError, match=r"`windows` of error_vs_horizon must be an int >= 2; got 1"):
        error_vs_horizon(market, market, windows=1)
    with pytest.raises(ParameterError, match=r"`min_values` of error_vs_horizon must be an int >= 2; got 0"):
        error_vs_horizon(market, market, min_values=0)
