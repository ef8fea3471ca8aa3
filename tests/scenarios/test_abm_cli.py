"""`simlab simulate abm` on the shipped RMSC04-equivalent configuration: a store with the four groups, many markets
under their own groups, and the error sentence for a bad configuration."""

from __future__ import annotations

import numpy as np
from typer.testing import CliRunner

from scenarios.cli import app
from simlab.agents import MarketConfig, read_market_config
from simlab.agents.config import CLASS_ORDER
from simlab.store import list_groups, load_store

runner = CliRunner()


def test_the_library_config_is_rmsc04():
    config, _ = read_market_config("scenarios/library/abm_rmsc04.toml")
    assert config == MarketConfig(name="abm-rmsc04")
    assert dict(zip(CLASS_ORDER, config.counts, strict=True)) == {
        "noise": 1000, "value": 102, "market_maker": 2, "momentum": 12, "execution": 0, "stop_loss": 0, "leveraged": 0,
    }  # fmt: skip
    assert config.session_s == 6.5 * 3600


def test_simulate_abm_writes_one_market_then_two(tmp_path):
    store = tmp_path / "abm.zarr"
    args = ["simulate", "abm", "abm_rmsc04", "--duration", "5min", "--seed", "7", "-o", str(store)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert list_groups(store) == ["books", "events", "fundamental", "paths"]
    events = load_store(store, "events")
    assert events.attrs["seed"] == 7 and events.sizes["event"] > 100
    assert set(np.unique(events["agent_id"].values)) - set(range(1116)) == set()
    two = tmp_path / "two.zarr"
    result = runner.invoke(app, [*args[:-1], str(two), "--markets", "2", "--sample", "1s"])
    assert result.exit_code == 0, result.output
    assert "market_1_events" in list_groups(two)
    assert load_store(two, "market_0_books").sizes["time"] == 301


def test_bad_config_exits_2_with_the_sentence(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[agents.whale]\ncount = 3\n")
    result = runner.invoke(app, ["simulate", "abm", str(bad), "-o", str(tmp_path / "x.zarr")])
    assert result.exit_code == 2
    assert "unknown agent class 'whale'; valid ones are" in result.output


def test_the_rmsc03_sized_config():
    config, _ = read_market_config("scenarios/library/abm_rmsc03.toml")
    assert config.counts == (5000, 100, 2, 25, 1, 0, 0)
    assert config.execution.strategy == "pov" and config.execution.quantity_lots == 1_200_000


def test_the_crypto_perpetual_config():
    config, _ = read_market_config("scenarios/library/abm_crypto_perp.toml")
    assert config.leveraged.count == 400 and config.leveraged.leverage == 50.0 and config.stop_loss.count == 50
    assert config.tick_size == 0.1 and config.circuit_breaker.move_pct == 0.0
