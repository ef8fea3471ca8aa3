"""`simlab generate train` (the tiny preset cut to 40 steps, AAPL hour) and `simlab generate sample`; errors."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from scenarios.cli import app
from simlab.store import list_groups, load_store
from tests.conftest import shared_path

runner = CliRunner()
SPEC = """
[data]
message = "lobster_samples/AAPL_2012-06-21_level50_0930-1030_messages/AAPL_2012-06-21_34200000_37800000_message_50.csv"
books = [
    "lobster_samples/AAPL_2012-06-21_level10_first1000/AAPL_2012-06-21_34200000_57600000_message_10_first998.csv",
    "lobster_samples/AAPL_2012-06-21_level10_first1000/AAPL_2012-06-21_34200000_57600000_orderbook_10_first998.csv",
]
split = [0.6, 0.2, 0.2]

[model]
preset = "tiny"
seed = 5
overrides = { max_steps = 40, eval_every = 20, batch_size = 64, validation_blocks = 256, sampling_steps = 10 }
"""


def test_train_then_sample_under_a_regime(tmp_path):
    data = shared_path("")
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC)
    model = tmp_path / "aapl.model"
    result = runner.invoke(app, ["generate", "train", str(spec), "-o", str(model), "--data", str(data)])
    assert result.exit_code == 0, result.output
    config = json.loads((model / "config.json").read_text())
    assert config["config"]["max_steps"] == 40 and config["training"]["step"] == 40 and config["seed"] == 5
    (first, second) = config["training"]["losses"]
    assert second[2] < 0.9 * first[2]  # the validation loss falls: it learns from the real hour
    store = tmp_path / "out.zarr"
    args = ["generate", "sample", str(model), "--paths", "2", "--duration", "5s", "--seed", "3"]
    result = runner.invoke(app, [*args, "--regime", "volatility=5", "-o", str(store)])
    assert result.exit_code == 0, result.output
    assert list_groups(store) == ["books", "books_0001", "events", "events_0001"]
    events = load_store(store, "events")
    assert events.attrs["instrument"] == "AAPL" and events.attrs["seed"] == 3 and "volatility" in events.attrs["config"]
    bad = runner.invoke(app, [*args, "--regime", "volatility=7", "-o", str(tmp_path / "x.zarr")])
    assert bad.exit_code == 2 and "quintile of regime 'volatility' must be an int in 1-5; got 7" in bad.output
    bad = runner.invoke(app, [*args, "--regime", "heat=2", "-o", str(tmp_path / "x.zarr")])
    assert bad.exit_code == 2 and "unknown regime 'heat'" in bad.output
    bad = runner.invoke(app, ["generate", "sample", str(tmp_path / "none"), "-o", str(tmp_path / "x.zarr")])
    assert bad.exit_code == 2 and "expected a folder with config.json" in bad.output
    check_runaway(tmp_path, args)
    check_start_in_regime(tmp_path, spec, args, data)


def check_runaway(tmp_path: Path, args: list[str]) -> None:
    # --runaway: a bound below the AAPL flow's (tens of messages per second) ends both paths, recorded
    store = tmp_path / "runaway.zarr"
    result = runner.invoke(app, [*args, "--runaway", "3/0.5", "-o", str(store)])
    assert result.exit_code == 0, result.output
    assert "paths ended runaway" in result.output
    for group in ("events", "events_0001"):
        attrs = load_store(store, group).attrs
        assert attrs["runaway"] == 1 and (attrs["runaway_messages"], attrs["runaway_seconds"]) == (3, 0.5)
        assert attrs["applied"] >= 4 and json.loads(attrs["config"])["runaway"] == {"messages": 3, "seconds": 0.5}
    bad = runner.invoke(app, [*args, "--runaway", "3", "-o", str(tmp_path / "x.zarr")])
    assert bad.exit_code == 2 and "`--runaway` must be MESSAGES/SECONDS" in bad.output and "got '3'" in bad.output
    # --trade-fill front: each generated trade fills the front order at most (recorded with its count)
    store = tmp_path / "front.zarr"
    longer = [*args[:-4], "--duration", "60s", *args[-2:]]  # 60 s: long enough for trades that meet two orders
    result = runner.invoke(app, [*longer, "--trade-fill", "front", "-o", str(store)])
    assert result.exit_code == 0, result.output
    attrs = load_store(store, "events").attrs
    held = sum(load_store(store, group).attrs["front_held"] for group in ("events", "events_0001"))
    assert attrs["trade_fill"] == "front" and held > 0 and attrs["applied"] > 0  # the rule was applied
    assert json.loads(attrs["config"])["trade_fill"] == "front"
    bad = runner.invoke(app, [*args, "--trade-fill", "all", "-o", str(tmp_path / "x.zarr")])
    assert bad.exit_code == 2
    assert "--trade-fill must be one of ['queue', 'front']; got 'all'" in bad.output
    # --thin-rate: the orders the flow left behind the best are thinned (recorded with its count)
    store = tmp_path / "thin.zarr"
    result = runner.invoke(app, [*longer, "--thin-rate", "5", "-o", str(store)])
    assert result.exit_code == 0, result.output
    attrs = [load_store(store, group).attrs for group in ("events", "events_0001")]
    assert attrs[0]["thin_rate_per_s"] == 5.0 and json.loads(attrs[0]["config"])["thin_rate"] == 5.0
    assert sum(a["thinned"] for a in attrs) > 0
    bad = runner.invoke(app, [*args, "--thin-rate", "-1", "-o", str(tmp_path / "x.zarr")])
    assert bad.exit_code == 2
    assert "--thin-rate must be a finite number of removals per order per second >= 0; got -1.0" in bad.output


def check_start_in_regime(tmp_path: Path, spec: Path, args: list[str], data: Path) -> None:
    """Sample from training windows in the asked regime: the drawn windows are in the provenance and the paths."""
    store, regime = tmp_path / "regime.zarr", ["--regime", "depth=1", "--start-in-regime", "--data", str(data)]
    result = runner.invoke(app, [*args, *regime, "--spec", str(spec), "-o", str(store)])
    assert result.exit_code == 0, result.output
    drawn = json.loads(load_store(store, "events").attrs["config"])["start_windows"]
    assert drawn["mode"] == "regime" and drawn["regime"] == {"depth": 1} and len(drawn["rows"]) == 2
    edge = json.loads((Path(args[2]) / "config.json").read_text())["encoding"]["regime_edges"][2][0]
    assert max(drawn["past"]["depth"]) < edge  # the drawn windows' past depth is in the bottom quintile
    rows = [load_store(store, group).attrs["start_row"] for group in ("events", "events_0001")]
    assert rows == drawn["rows"]
    bad = runner.invoke(app, [*args, *regime, "-o", str(tmp_path / "x.zarr")])
    assert bad.exit_code == 2 and "need --spec, the spec the model was trained from" in bad.output
    bad = runner.invoke(app, [*args, "--start-in-regime", "--spec", str(spec), "-o", str(tmp_path / "x.zarr")])
    assert bad.exit_code == 2 and "--start-in-regime needs a --regime" in bad.output
    other = tmp_path / "other.toml"
    other.write_text(SPEC.replace("split = [0.6, 0.2, 0.2]", "split = [0.5, 0.3, 0.2]"))  # the same context
    bad = runner.invoke(app, [*args, *regime, "--spec", str(other), "-o", str(tmp_path / "x.zarr")])
    assert bad.exit_code == 2 and "not the data the model was trained on" in bad.output


def test_a_spec_with_a_typo_is_refused(tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC.replace("split =", "splitt ="))
    result = runner.invoke(app, ["generate", "train", str(spec), "-o", str(tmp_path / "m")])
    assert result.exit_code == 2 and "unknown keys ['splitt'] in table 'data'" in result.output


def test_the_gan_family_trains_and_samples_through_the_same_commands(tmp_path):
    from generators.spec import load_spec

    library = load_spec(Path(__file__).resolve().parents[2] / "scenarios" / "library" / "generate_aapl_gan_tiny.toml")
    assert library.family == "gan" and library.preset == "tiny"
    spec = tmp_path / "spec.toml"
    overrides = (
        "overrides = { max_steps = 30, eval_every = 15, critic_steps = 2, batch_size = 32, validation_blocks = 256 }"
    )
    text = SPEC.replace('preset = "tiny"', 'family = "gan"\npreset = "tiny"')
    spec.write_text(text.split("overrides")[0] + overrides)
    model = tmp_path / "gan.model"
    result = runner.invoke(app, ["generate", "train", str(spec), "-o", str(model), "--data", str(shared_path(""))])
    assert result.exit_code == 0, result.output
    config = json.loads((model / "config.json").read_text())
    assert config["family"] == "gan" and config["config"]["critic_steps"] == 2 and config["training"]["step"] == 30
    (first, second) = config["training"]["losses"]
    assert second[2] < first[2]  # the generated blocks move towards the real validation blocks
    store = tmp_path / "gan.zarr"
    args = ["generate", "sample", str(model), "--paths", "2", "--duration", "2s", "--seed", "3", "-o", str(store)]
    result = runner.invoke(app, [*args, "--regime", "depth=1", "--stop-when-stuck"])
    assert result.exit_code == 0, result.output
    assert "paths ended stuck" in result.output
    events = load_store(store, "events")
    # a 30-update GAN may get stuck (recorded, not raised, under --stop-when-stuck); it applied messages before that
    assert events.attrs["stuck"] in (0, 1) and events.attrs["generator"] == "gan" and events.attrs["applied"] > 0, dict(
        events.attrs
    )
    assert events.attrs["instrument"] == "AAPL"


def test_a_spec_is_found_by_its_library_name(tmp_path):
    """`simlab generate train generate_aapl_tiny` reads scenarios/library/generate_aapl_tiny.toml (the README's
    tour); an unknown name fails on the library path it tried."""
    missing = tmp_path / "no data"
    result = runner.invoke(
        app, ["generate", "train", "generate_aapl_tiny", "-o", str(tmp_path / "m"), "--data", str(missing)]
    )
    assert result.exit_code != 0 and "AAPL_2012-06-21_34200000_37800000_message_50.csv" in result.output
    assert "do not exist" in result.output and "cannot be read" not in result.output
    result = runner.invoke(app, ["generate", "train", "generate_nothing", "-o", str(tmp_path / "m")])
    assert result.exit_code != 0 and "scenarios/library/generate_nothing.toml cannot be read" in result.output
