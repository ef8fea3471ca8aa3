"""The ``hawkes`` world: a sell program is a known multiple of the market-sell baseline and yields the closed-form
stationary sell rate in its window (within the closed-form sampling error); a withdrawal scales the limit-order
baselines; primitives with no Hawkes form are refused by name; a toy episode runs on the Hawkes-driven book."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from calibration.book_presets import load_book_preset
from scenarios.stress.episodes import REPO, load_episode
from scenarios.stress.hawkes_world import LIMITS, MARKET, program_factor, shock_windows, shocked_path, window_rates
from scenarios.stress.run import run_stress, simulate_episode
from simlab.errors import ParameterError
from simlab.hawkes.closed_form import count_variance, stationary_intensity
from simlab.store import load_store

from .test_episodes import BASE
from .test_run import write_episode

PRESET = "calibration/presets/hawkes-aapl.toml"


@pytest.fixture(scope="module")
def params():
    return load_book_preset(REPO / PRESET).params.hawkes


def toy(tmp_path, mechanism: dict) -> dict:
    data = copy.deepcopy(BASE)
    data["episode"]["worlds"] = ["hawkes"]
    data["background"] |= {"preset": PRESET, "calibration": "AAPL hour", "duration_s": 240.0, "event_s": 120.0,
                           "pre_s": 60.0}  # fmt: skip
    data["mechanism"] = mechanism
    return load_episode(write_episode(tmp_path, data, "hawkes_toy"))


def test_a_sell_program_yields_the_closed_form_sell_rate_in_its_window(params):
    factor = program_factor(params, 0.3)
    rate = stationary_intensity(params)
    extra = (factor - 1.0) * params.baseline[MARKET[1]]
    assert extra == pytest.approx(0.3 / 0.7 * (rate[MARKET[0]] + rate[MARKET[1]]))  # the program's own flow
    windows = [(100.0, 700.0, {MARKET[1]: factor})]
    expected = window_rates(params, windows, 300.0)
    assert expected[MARKET[1]] > 3 * rate[MARKET[1]] and expected[MARKET[0]] >= rate[MARKET[0]]
    counts, normal = [], []
    for seed in range(4):
        path = shocked_path(params, 700.0, windows, np.random.default_rng(seed))
        sells = path.times_s[path.dims == MARKET[1]]
        counts.append(np.count_nonzero(sells >= 150.0))  # after 50 s: the excitation has reached its level
        normal.append(np.count_nonzero(sells < 100.0))
    from simlab.hawkes import HawkesParams

    shocked = HawkesParams(params.baseline * np.where(np.arange(6) == MARKET[1], factor, 1.0), params.adjacency,
                           params.decays, params.names)  # fmt: skip
    sd = np.sqrt(count_variance(shocked, 550.0)[MARKET[1]] / 4)
    assert abs(np.mean(counts) - expected[MARKET[1]] * 550.0) < 4 * sd, (np.mean(counts), expected[MARKET[1]] * 550)
    sd_normal = np.sqrt(count_variance(params, 100.0)[MARKET[1]] / 4)
    assert abs(np.mean(normal) - rate[MARKET[1]] * 100.0) < 4 * sd_normal


def test_a_withdrawal_scales_the_limit_baselines_and_bad_keys_are_refused(tmp_path, params):
    episode = toy(tmp_path, {"withdrawal": {"fixed": {"start_s": 120.0, "duration_s": 60.0, "size_factor": 0.2}}})
    ((start, end, factors),) = shock_windows(episode, {}, params)
    assert (start, end) == (120.0, 180.0) and factors == dict.fromkeys(LIMITS, 0.2)
    spread = toy(tmp_path, {"withdrawal": {"fixed": {"start_s": 120.0, "duration_s": 60.0, "spread_factor": 3.0}}})
    with pytest.raises(ParameterError, match=r"\[mechanism.withdrawal\] keys .* have no form in the hawkes world"):
        shock_windows(spread, {}, params)
    lots = toy(tmp_path, {"sell_program": {"fixed": {"start_s": 120.0, "duration_s": 60.0, "quantity_lots": 500}}})
    with pytest.raises(ParameterError, match=r"keys \['quantity_lots'\] have no form in the hawkes world"):
        shock_windows(lots, {}, params)


def test_an_episode_with_primitives_without_a_hawkes_form_is_refused_by_name():
    episode = load_episode("crash_2010_05_06_emini")
    with pytest.raises(ParameterError, match="primitives circuit_breaker, news have no form in the 'hawkes' world"):
        simulate_episode(episode, 1, seed=0, world="hawkes")


def test_a_toy_sell_program_runs_on_the_hawkes_book(tmp_path):
    episode = toy(tmp_path, {"sell_program": {"fixed": {"start_s": 120.0, "duration_s": 60.0},
                                              "fit": {"participation": {"low": 0.1, "high": 0.5}}}})  # fmt: skip
    values = {"sell_program.participation": 0.4}
    store, rows = run_stress(episode, tmp_path / "h.zarr", n_paths=2, seed=3, world="hawkes", values=values)
    paths = load_store(store, "paths")
    assert paths.attrs["world"] == "hawkes" and {"mid", "spread", "depth", "volume"} <= set(paths.data_vars)
    again = simulate_episode(episode, 2, seed=3, world="hawkes", values=values)
    np.testing.assert_array_equal(np.stack([p.mid for p in again]), paths["mid"].values)
    assert np.isfinite(rows[:, 0]).all()
