"""The public market: same seed same bytes (1 and N parallel markets), buffers that grow give the same run, the
events replay through the matching engine to the same books, outputs in the schema with their provenance."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from simlab.agents import _kernel as K
from simlab.agents import simulate_abm, simulate_markets
from simlab.agents.market import _Market, _root
from simlab.book import match_events
from simlab.errors import ParameterError
from tests.simlab.agents.conftest import small_config

CONFIG = small_config(session_s=600.0)


def _bytes(result: dict) -> dict[str, bytes]:
    return {f"{g}/{v}": result[g][v].values.tobytes() for g in result for v in result[g].variables}


def test_same_seed_same_bytes_and_another_seed_differs():
    a, b = simulate_abm(CONFIG, seed=4), simulate_abm(CONFIG, seed=4)
    assert _bytes(a) == _bytes(b)
    c = simulate_abm(CONFIG, seed=5)
    assert _bytes(a)["events/ts_ns"] != _bytes(c)["events/ts_ns"]


def test_parallel_markets_same_bytes_whatever_the_workers():
    one = simulate_markets(CONFIG, 3, seed=9, workers=1, path_sample_ns=10**10)
    two = simulate_markets(CONFIG, 3, seed=9, workers=2, path_sample_ns=10**10)
    assert [_bytes(r) for r in one] == [_bytes(r) for r in two]
    alone = simulate_abm(CONFIG, seed=9, market=1, path_sample_ns=10**10)
    assert _bytes(alone) == _bytes(one[1])
    again = simulate_abm(CONFIG, seed=9, market=(1,), path_sample_ns=10**10)  # the same arguments, the same bytes
    assert _bytes(again) == _bytes(alone)
    # the events of simulate_markets(CONFIG, 3, seed=9) (since every rule draws a fixed count per look)
    digest = hashlib.sha256()
    for result in one:
        for name in sorted(result["events"].data_vars):
            digest.update(result["events"][name].values.tobytes())
    assert digest.hexdigest() == "dee2647f955889ec88454919b1baa7498d76d48b17878d1dbfc429bbf7120745"
    assert one[1]["events"].attrs["seed"] == 9 and one[1]["events"].attrs["seed_spawn_key"] == [1]
    assert _bytes(one[0])["events/ts_ns"] != _bytes(one[1])["events/ts_ns"]


def test_growing_buffers_changes_nothing():
    big = _Market(CONFIG, _root(6), CONFIG.session_s, 3, 0, 0)
    big.run()
    small = _Market(CONFIG, _root(6), CONFIG.session_s, 3, 0, 0)
    for name, rows in (
        ("ev", 8),
        ("book_ts", 8),
        ("path_ts", 4),
        ("path_vals", 4),
        ("path_mid", 4),
        ("orders", 4),
        ("fund_ts", 2),
        ("fund_val", 2),
        ("fund_shocks", 2),
        ("heap", int(small.ctr[K.C_HEAP]) + 1),
    ):
        setattr(small, name, getattr(small, name)[:rows].copy())  # fmt: skip
    small.books = small.books[:, :8].copy()
    small.run()
    assert _bytes(small.datasets()) == _bytes(big.datasets())


def test_what_is_recorded_of_the_books_does_not_change_the_market():
    # metaorder_impact records one level on a grid to save memory; no agent may read the recorded books
    import xarray as xr

    from simlab.agents import ExecutionAgents

    config = small_config(execution=ExecutionAgents(count=1, strategy="pov", quantity_lots=300, start_s=200.0,
                                                    duration_s=600.0, participation=0.2))  # fmt: skip
    full = simulate_abm(config, seed=9, duration_s=1200.0, path_sample_ns=10**10)
    lean = simulate_abm(config, seed=9, duration_s=1200.0, path_sample_ns=10**10, depth=1, sample_ns=10**10)
    assert lean["books"].sizes != full["books"].sizes  # the recording did change
    for name in ("events", "paths", "execution", "agents"):
        if name in full:
            xr.testing.assert_equal(lean[name], full[name])


def test_events_replay_through_the_engine_to_the_same_books():
    out = simulate_abm(CONFIG, seed=12, depth=5, sample_ns=None)
    events, books = out["events"], out["books"]
    replay = match_events(events, depth=5, trades="market")["books"]
    ts = events["ts_ns"].values
    last = np.flatnonzero(np.r_[ts[1:] != ts[:-1], True])  # the book after all messages of one instant
    for name in ("bid_price", "bid_qty", "ask_price", "ask_qty"):
        np.testing.assert_array_equal(books[name].values[last], replay[name].values[last])


def test_outputs_carry_agents_paths_and_provenance():
    out = simulate_abm(CONFIG, seed=2, path_sample_ns=60 * 10**9)
    events, paths, fundamental = out["events"], out["paths"], out["fundamental"]
    n_agents = sum(CONFIG.counts)
    agent = events["agent_id"].values
    assert agent.dtype == np.int32 and agent.min() >= 0 and agent.max() < n_agents
    trades = events["kind"].values == 5
    assert (events["passive_agent_id"].values[trades] >= 0).all()
    assert paths.sizes == {"time": 11, "agent_class": 8}
    np.testing.assert_array_equal(paths["inventory_lots"].sum("agent_class"), 0)
    total_pnl = paths["pnl_ticks_lots"].sum("agent_class").values
    np.testing.assert_allclose(total_pnl[~np.isnan(total_pnl)], 0, atol=1e-6)  # a zero-sum game marked at one mid
    assert fundamental.sizes["look"] == events.attrs["wakeups_value"] or fundamental.sizes["look"] > 0
    attrs = events.attrs
    assert attrs["seed"] == 2 and json.loads(attrs["true_params"])["agents"]["value"]["count"] == CONFIG.value.count
    assert json.loads(attrs["config"])["run"]["duration_s"] == 600.0


def test_bad_arguments():
    with pytest.raises(ParameterError, match=r"`seed` of simulate_abm must be an int >= 0 or a tuple of them"):
        simulate_abm(CONFIG, seed=-1)
    with pytest.raises(ParameterError, match=r"`seed` of simulate_abm must be an int >= 0 or a tuple"):
        simulate_abm(CONFIG, seed=(1, -1))
    with pytest.raises(ParameterError, match=r"`seed` of simulate_abm must be an int >= 0"):
        simulate_abm(CONFIG, seed=np.random.SeedSequence(1))
    with pytest.raises(ParameterError, match=r"`market` of simulate_abm must be None, an int >= 0 or a tuple"):
        simulate_abm(CONFIG, seed=1, market=-2)
    with pytest.raises(ParameterError, match=r"`duration_s` of simulate_abm must be a finite number > 0; got 0"):
        simulate_abm(CONFIG, seed=1, duration_s=0)
    with pytest.raises(ParameterError, match=r"`config` of simulate_abm must be a MarketConfig; got dict"):
        simulate_abm({}, seed=1)


def test_a_tuple_seed_is_the_entropy_of_a_seed_sequence():
    """``seed=(a, b), market=k`` is the market of ``SeedSequence([a, b], spawn_key=(k,))``, call after call."""
    one = simulate_abm(CONFIG, seed=(7, 0), market=1, duration_s=120.0)
    again = simulate_abm(CONFIG, seed=[7, 0], market=(1,), duration_s=120.0)
    other = simulate_abm(CONFIG, seed=(7, 1), market=1, duration_s=120.0)
    assert one["events"].equals(again["events"])
    assert not one["events"]["ts_ns"].equals(other["events"]["ts_ns"])
