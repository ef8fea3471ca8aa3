"""`simulate book`, `replay` and `export lobster` on a tiny app that mounts them as scenarios/cli.py does; the
demo's book step."""

from __future__ import annotations

import json

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from scenarios.cli import book as book_cli
from simlab.io.lobster import read_lobster
from simlab.store import list_groups, load_store
from tests.conftest import shared_path

runner = CliRunner()
AAPL10 = "lobster_samples/AAPL_2012-06-21_level10_first1000"


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer(no_args_is_help=True)
    simulate_app, export_app = typer.Typer(no_args_is_help=True), typer.Typer(no_args_is_help=True)
    app.add_typer(simulate_app, name="simulate")
    app.add_typer(export_app, name="export")
    simulate_app.command("book")(book_cli.simulate_book)
    app.command("replay")(book_cli.replay)
    export_app.command("lobster")(book_cli.export_lobster)
    return app


@pytest.mark.parametrize("preset", ["zi-amzn", "qr-amzn"])
def test_simulate_then_export_a_preset(app, tmp_path, preset):
    store = tmp_path / "book.zarr"
    args = ["simulate", "book", preset, "-o", str(store), "--duration", "2min", "--seed", "4"]
    result = runner.invoke(app, [*args, "--model", preset[:2]])
    assert result.exit_code == 0, result.output
    assert list_groups(store) == ["books", "events"]
    events = load_store(store, "events")
    assert json.loads(events.attrs["true_params"])["instrument"] == "AMZN" and load_store(store).attrs["seed"] == 4
    result = runner.invoke(app, ["export", "lobster", str(store), "-o", str(tmp_path / "lobster")])
    assert result.exit_code == 0, result.output
    message = next((tmp_path / "lobster").glob("AMZN_2012-06-21_*_message_*.csv"))
    back = read_lobster(message, str(message).replace("message", "orderbook"))
    books = load_store(store, "books")
    np.testing.assert_array_equal(back["books"]["ask_qty"].values[-1], books["ask_qty"].values[-1])


def test_simulate_the_hawkes_book_preset(app, tmp_path):
    store = tmp_path / "hawkes.zarr"
    args = ["simulate", "book", "hawkes-aapl", "-o", str(store), "--model", "hawkes", "--duration", "1min"]
    result = runner.invoke(app, [*args, "--seed", "7"])
    assert result.exit_code == 0, result.output
    assert "hawkes-aapl (hawkes)" in result.output and list_groups(store) == ["books", "events"]
    events, books = load_store(store, "events"), load_store(store, "books")
    true_params = json.loads(events.attrs["true_params"])
    assert true_params["instrument"] == "AAPL" and true_params["hawkes"]["names"][0] == "limit_bid"
    assert books.sizes["level"] == 50 and books.sizes["time"] == events.sizes["event"]
    assert sum(events.attrs["hawkes_counts"]) > 600 and load_store(store).attrs["seed"] == 7
    result = runner.invoke(app, ["simulate", "book", "hawkes-aapl", "-o", str(tmp_path / "x.zarr"), "--model", "zi"])
    assert result.exit_code == 2 and "whose model is 'hawkes'" in result.output


def test_model_mismatch_and_missing_groups_exit_with_our_sentence(app, tmp_path):
    result = runner.invoke(app, ["simulate", "book", "zi-amzn", "-o", str(tmp_path / "x.zarr"), "--model", "qr"])
    assert result.exit_code == 2 and "does not match preset zi-amzn" in result.output
    result = runner.invoke(app, ["export", "lobster", str(tmp_path / "none.zarr"), "-o", str(tmp_path)])
    assert result.exit_code == 2 and "does not exist" in result.output


@pytest.mark.parametrize("engine", ["levels", "orders"])
def test_replay_the_aapl_fixture(app, tmp_path, engine):
    message, orderbook = sorted(shared_path(AAPL10).glob("*.csv"))
    store = tmp_path / f"{engine}.zarr"
    result = runner.invoke(app, ["replay", str(message), str(orderbook), "-o", str(store), "--engine", engine])
    assert result.exit_code == 0, result.output
    books, reference = load_store(store, "books"), read_lobster(message, orderbook)["books"]
    assert books.sizes["time"] == reference.sizes["time"] == 999
    if engine == "levels":
        assert "mismatched_cells" in result.output
        np.testing.assert_array_equal(books["bid_price"].values, reference["bid_price"].values)
    else:
        assert "unknown_" in result.output and books.sizes["level"] == 10


def test_demo_book_step(tmp_path, shared_data):
    from scenarios.demo import Demo
    from scenarios.demo.book import book_step

    metrics = Demo(tmp_path, 20240809).step("book", lambda: book_step(Demo(tmp_path, 20240809), shared_data))
    assert metrics["real data"].startswith("AMZN")
    assert "read back equal" in metrics["zi-amzn LOBSTER export"]
    assert metrics["zi-amzn mean spread (ticks) real/sim"].startswith("12.85/")
