"""Preset score tables: present for each preset, reproducible; deliberately wrong data scores worse than presets."""

from __future__ import annotations

import json

import numpy as np
import pytest

from calibration.presets import PRESET_DIR
from calibration.score_presets import _book_windows, _hawkes_windows, preset_names, score_preset
from simlab.metrics import lobbench
from simlab.metrics._market import Market
from simlab.metrics.distances import compare_samples
from simlab.metrics.scorecard import aggregate_trades
from simlab.schema import make_events
from tests.conftest import shared_path


def test_every_preset_has_its_score_table():
    for name in preset_names():
        document = json.loads((PRESET_DIR / f"{name}.scores.json").read_text())
        assert document["preset"] == name and set(document) >= {"calibration", "held_out", "seed", "n_boot"}
        calibration = document["calibration"]
        assert calibration["summary"]["l1"]["mean"]["value"] > 0
        assert any(row["status"] == "ok" for row in calibration["scores"])
        held_out = document["held_out"]
        assert isinstance(held_out, dict) or held_out.startswith("not available")


@pytest.mark.slow
def test_a_score_table_is_reproduced_from_the_data(shared_data):
    name = "binance-spot-ethusdt"
    stored = json.loads((PRESET_DIR / f"{name}.scores.json").read_text())
    assert json.loads(json.dumps(score_preset(name, shared_data))) == stored


def test_aggregate_trades_merges_one_timestamp_and_side():
    events = make_events(
        ts_ns=[1, 1, 1, 2, 2], kind=5, side=[1, 1, -1, 1, 1], price_ticks=[10, 11, 9, 10, 10],
        qty_lots=[1, 2, 4, 8, 16], tick_size=0.01, lot_size=1.0, instrument="TOY", venue="test",
    )  # fmt: skip
    merged, books = aggregate_trades(events, kinds=None)
    assert books is None
    assert merged["qty_lots"].values.tolist() == [3, 4, 24] and merged["side"].values.tolist() == [1, -1, 1]


@pytest.fixture(scope="module")
def aapl():
    real, hawkes, _ = _hawkes_windows("lobster-aapl-order-flow", shared_path(""))["held_out"](1)
    return Market(real, None, levels=None, source="real"), Market(hawkes, None, levels=None, source="hawkes")


def _with_times(market: Market, ts: np.ndarray) -> Market:
    events = make_events(
        ts_ns=ts, kind=market.kind, side=market.side, price_ticks=market.price, qty_lots=market.qty,
        tick_size=0.01, lot_size=1.0, instrument="AAPL", venue="test",
    )  # fmt: skip
    return Market(events, None, levels=None, source="wrong")


def _l1(real: Market, synthetic: Market, quantity) -> object:
    return compare_samples(quantity(real), quantity(synthetic), rng=np.random.default_rng(0), n_boot=100)["l1"]


def test_shuffled_interarrival_times_score_worse_than_the_hawkes_preset(aapl):
    """Shuffling keeps the inter-arrival law but not the clustering: the counts per 10 s concentrate."""
    real, hawkes = aapl
    rng = np.random.default_rng(1)
    shuffled = _with_times(real, real.ts[0] + np.concatenate([[0], np.cumsum(rng.permutation(np.diff(real.ts)))]))
    same_law = _l1(real, shuffled, lobbench.log10_interarrival_s)
    assert same_law.value == 0.0  # the law of the intervals is unchanged ...
    wrong, calibrated = (_l1(real, m, lobbench.flow_events_per_10s) for m in (shuffled, hawkes))
    assert wrong.low > calibrated.high  # ... but their clustering is gone
    assert wrong.value > 0.4 and calibrated.value < 0.3


def test_poisson_flow_scores_worse_than_the_hawkes_preset(aapl):
    real, hawkes = aapl
    times = np.sort(np.random.default_rng(2).integers(real.ts[0], real.ts[-1], real.ts.size))
    wrong, calibrated = (_l1(real, m, lobbench.log10_interarrival_s) for m in (_with_times(real, times), hawkes))
    assert wrong.low > calibrated.high
    assert wrong.value > 0.6 and calibrated.value < 0.2


@pytest.mark.slow
def test_a_shifted_spread_scores_worse_than_the_amzn_presets(shared_data):
    real, zi, _ = _book_windows("zi-amzn", shared_data)["calibration"](1)
    _, qr, _ = _book_windows("qr-amzn", shared_data)["calibration"](1)
    m_real = Market(real["events"], real["books"], levels=1, source="real")
    spread = lobbench.spread_ticks(m_real)
    shifted = compare_samples(spread, spread + 8, rng=np.random.default_rng(0), n_boot=100)["l1"]
    for simulated in (zi, qr):
        market = Market(simulated["events"], simulated["books"], levels=1, source="sim", window_levels=1)
        calibrated = _l1(m_real, market, lobbench.spread_ticks)
        assert shifted.low > calibrated.high
    assert shifted.value > 0.5
