"""Flows for the generator tests: a small zero-intelligence flow split in spans, and real flows read once per session
(skipped when ../shared/data is absent); checks the two families share."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from generators.data import split_by_time
from simlab.book.engine import match_events
from simlab.book.zero_intelligence import ZIParams, simulate_zi
from simlab.schema import BOOK_FIELDS


@pytest.fixture(scope="module")
def zi_spans():
    """Four minutes of a seeded zero-intelligence flow (its initial orders dropped) split in train/validation/test."""
    params = ZIParams(limit_rate=0.2, market_rate=0.5, cancel_rate=0.05, band_ticks=20, size_law="geometric",
                      order_size=3.0)  # fmt: skip
    flow = simulate_zi(params, 240.0, rng=7, depth=10)
    skip = int(flow["events"].attrs["initial_orders"]) - 1
    events, books = flow["events"].isel(event=slice(skip, None)), flow["books"].isel(time=slice(skip, None))
    return split_by_time(events, books)


def weights(generator) -> dict[str, torch.Tensor]:
    """Return a copy of a fitted generator's model weights."""
    return {k: v.clone() for k, v in generator.model_.state_dict().items()}


def equal_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    """Return whether two sets of weights have the same names and the same tensors, bit for bit."""
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def check_seeded_fit(cls, config, spans, fitted) -> None:
    """Check that ``fitted`` (seed 3) is refitted bit for bit from seed 3, differs from seed 4, and restores torch."""
    again = cls(config, device="cpu").fit(spans, seed=3)
    assert equal_weights(weights(fitted), weights(again))
    other = cls(config, device="cpu").fit(spans, seed=4)
    assert not equal_weights(weights(fitted), weights(other))
    assert [row[0] for row in fitted.training_.losses] == [10, 20]
    assert not torch.are_deterministic_algorithms_enabled()  # the setting is restored after training


def check_replayed(events, books) -> np.ndarray:
    """Check that a rollout's books are the matching engine's after each message; return the inner-fill mask."""
    attrs = events.attrs
    replayed = match_events(events, depth=books.sizes["level"], trades="market")["books"]
    # the fills of one market order all carry the book after the whole order; compare after each message
    message = events["message"].values
    inner = np.append((message[:-1] == message[1:]) & (message[:-1] >= 0), False)
    assert (~inner).sum() == attrs["initial_orders"] + attrs["applied"] + attrs.get("thinned", 0)
    for name in BOOK_FIELDS:
        np.testing.assert_array_equal(replayed[name].values[~inner], books[name].values[~inner], err_msg=name)
    return inner


def check_resampled(fitted, paths) -> None:
    """Check that sampling ``fitted`` again with seed 11 gives the same 3 paths of 20 s."""
    again = fitted.sample(3, 20.0, generator=11)
    for a, b in zip(paths, again, strict=True):
        assert a["events"].equals(b["events"]) and a["books"].equals(b["books"])


AAPL_L50 = "lobster_samples/AAPL_2012-06-21_level50_0930-1030_messages/AAPL_2012-06-21_34200000_37800000_message_50.csv"
AAPL_START = "lobster_samples/AAPL_2012-06-21_level10_first1000"
AMZN = "lobster_samples/AMZN_2012-06-21_level1_fullday"


@pytest.fixture(scope="session")
def aapl_hour():
    """The AAPL level-50 hour with its replayed books."""
    from generators.data import read_flow
    from tests.conftest import shared_path

    start = tuple(sorted(shared_path(AAPL_START).glob("*.csv")))
    return read_flow(shared_path(AAPL_L50), start)


@pytest.fixture(scope="session")
def amzn_day():
    """The AMZN level-1 day with its orderbook file."""
    from generators.data import read_flow
    from tests.conftest import shared_path

    message, orderbook = sorted(shared_path(AMZN).glob("*.csv"))
    return read_flow(message, (orderbook,))


def train_denoiser(network, config, flows, name: str):
    """Train ``network(config)`` on ``flows`` (a train and a validation EncodedFlow) with seed 12 on the CPU,
    deterministically; return the model in eval mode and its TrainState."""
    from generators.networks import init_weights
    from generators.schedule import NoiseSchedule
    from generators.training import BlockData, TrainState, deterministic, torch_generator, train_loop

    device = torch.device("cpu")
    seeds = np.random.SeedSequence(12).spawn(3)
    data = tuple(BlockData(flow, config, device, name) for flow in flows)
    model = network(config)
    init_weights(model, torch_generator(seeds[0], device))
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    generators = (torch_generator(seeds[1], device), torch_generator(seeds[2], device))
    with deterministic(device):
        state = train_loop(
            model, NoiseSchedule(config.diffusion_steps), config, data, generators=generators, optimizer=optimizer,
            state=TrainState(), on_validation=lambda *_: None,
        )  # fmt: skip
    return model.eval(), state


def same_paths(a: list[dict], b: list[dict]) -> None:
    """Assert two lists of sampled paths are equal: every path's events and books, values and attributes."""
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        for name in ("events", "books"):
            assert x[name].equals(y[name]), name
            assert x[name].attrs == y[name].attrs, name


def check_option_checkpoint(model, folder, option: str, value: str, duration: float) -> dict:
    """Save a model trained with an encoding option, check that it loads whole and samples the same bytes on both
    rollouts, and that a simlab without the option (no ``option`` in the encoding, so ``encoding_version`` 4
    expected) refuses it with our sentence; return its saved ``config.json``."""
    import json

    from generators.checkpoint import CONFIG_FILE
    from generators.diffusion import DiffusionGenerator
    from simlab.errors import DataError

    model.save(folder)
    config = json.loads((folder / CONFIG_FILE).read_text())
    assert config["encoding"][option] == value and config["encoding_version"] == f"4+{option}={value}"
    loaded = DiffusionGenerator.load(folder)
    assert loaded.encoding_ == model.encoding_
    twin = loaded.sample(2, duration, generator=5, stop_when_stuck=True, twin=True)
    fast = loaded.sample(2, duration, generator=5, stop_when_stuck=True)
    for x, y in zip(twin, fast, strict=True):
        assert x["events"].equals(y["events"]) and x["books"].equals(y["books"])
    assert sum(path["events"].attrs["applied"] for path in fast) > 0
    old = {**config, "encoding": {k: v for k, v in config["encoding"].items() if k != option}}
    (folder / CONFIG_FILE).write_text(json.dumps(old))
    with pytest.raises(DataError, match=rf"encoding_version must be 4 \(this simlab\); got '4\+{option}={value}'"):
        DiffusionGenerator.load(folder)
    return config
