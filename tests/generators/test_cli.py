"""`simlab generate train` and `simlab generate sample` on the AMZN day (a few training steps), and their errors."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from scenarios.cli import app
from simlab.store import list_groups, load_store
from tests.conftest import shared_path

runner = CliRunner()
SPEC = """
[data]
message = "lobster_samples/AMZN_2012-06-21_level1_fullday/AMZN_2012-06-21_34200000_57600000_message_1.csv"
books = ["lobster_samples/AMZN_2012-06-21_level1_fullday/AMZN_2012-06-21_34200000_57600000_orderbook_1.csv"]
split = [0.1, 0.05, 0.85]

[model]
preset = "tiny"
seed = 5
overrides = { history = 8, width = 16, layers = 1, heads = 2, diffusion_steps = 20, sampling_steps = 4, \
batch_size = 32, max_steps = 10, eval_every = 5, validation_blocks = 64 }
"""


def test_train_then_sample_under_a_regime(tmp_path):
    data = shared_path("")
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC)
    model = tmp_path / "amzn.model"
    result = runner.invoke(app, ["generate", "train", str(spec), "-o", str(model), "--data", str(data)])
    assert result.exit_code == 0, result.output
    config = json.loads((model / "config.json").read_text())
    assert config["config"]["max_steps"] == 10 and config["training"]["step"] == 10 and config["seed"] == 5
    store = tmp_path / "out.zarr"
    args = ["generate", "sample", str(model), "--paths", "2", "--duration", "5s", "--seed", "3"]
    result = runner.invoke(app, [*args, "--regime", "volatility=5", "-o", str(store)])
    assert result.exit_code == 0, result.output
    assert list_groups(store) == ["books", "books_0001", "events", "events_0001"]
    events = load_store(store, "events")
    assert events.attrs["instrument"] == "AMZN" and events.attrs["seed"] == 3 and "volatility" in events.attrs["config"]
    bad = runner.invoke(app, [*args, "--regime", "volatility=7", "-o", str(tmp_path / "x.zarr")])
    assert bad.exit_code == 2 and "quintile of regime 'volatility' must be an int in 1-5; got 7" in bad.output
    bad = runner.invoke(app, [*args, "--regime", "heat=2", "-o", str(tmp_path / "x.zarr")])
    assert bad.exit_code == 2 and "unknown regime 'heat'" in bad.output
    bad = runner.invoke(app, ["generate", "sample", str(tmp_path / "none"), "-o", str(tmp_path / "x.zarr")])
    assert bad.exit_code == 2 and "expected a folder with config.json" in bad.output


def test_a_spec_with_a_typo_is_refused(tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC.replace("split =", "splitt ="))
    result = runner.invoke(app, ["generate", "train", str(spec), "-o", str(tmp_path / "m")])
    assert result.exit_code == 2 and "unknown keys ['splitt'] in table 'data'" in result.output
