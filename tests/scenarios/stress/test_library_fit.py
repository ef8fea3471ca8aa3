"""Ground truth of the library: every agent-market episode's stored fit reproduces its template's drawdown and time
to trough within tolerance on >= 80 % of fresh paths; the fitter recovers a known news jump; the AMM episodes are
handed to the peg-run module, not run here."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from scenarios.specs import LIBRARY
from scenarios.stress.episodes import load_episode
from scenarios.stress.fit import fit_episode
from scenarios.stress.run import episode_statistics, simulate_episode, within_tolerance
from simlab.errors import ParameterError
from simlab.metrics.crash import STATISTICS

from .test_episodes import BASE
from .test_run import write_episode

EPISODES = sorted(p.stem for p in LIBRARY.glob("*.toml") if p.stem.startswith(("crash_", "depeg_")))
AGENT_EPISODES = [name for name in EPISODES if "abm" in load_episode(name).spec.episode.worlds]


def test_the_library_holds_the_nine_episodes():
    assert len(EPISODES) == 9 and len(AGENT_EPISODES) == 7
    assert {"depeg_2022_05_ust", "depeg_2023_03_usdc"} == set(EPISODES) - set(AGENT_EPISODES)


@pytest.mark.slow
@pytest.mark.parametrize("name", AGENT_EPISODES)
def test_the_stored_fit_reproduces_drawdown_and_time_to_trough(name):
    episode = load_episode(name)
    assert episode.fitted is not None, f"{name}: no stored fit; run `simlab stress fit {name}`"
    rows = episode_statistics(episode, simulate_episode(episode, 10, seed=20261203, workers=2))
    assert within_tolerance(episode, rows).mean() >= 0.8, rows[:, :2]


def test_the_amm_episodes_are_refused_by_the_agent_runner_with_a_pointer():
    episode = load_episode("depeg_2023_03_usdc")
    with pytest.raises(ParameterError, match="world 'abm' is not one of its worlds"):
        simulate_episode(episode, 1, seed=0, values={"peg_run.run_share": 0.5})
    with pytest.raises(ParameterError, match="not runnable by this runner .* peg run lives in scenarios.stress"):
        simulate_episode(episode, 1, seed=0, values={"peg_run.run_share": 0.5}, world="amm")


@pytest.mark.slow
def test_the_fitter_recovers_a_known_news_jump(tmp_path):
    data = copy.deepcopy(BASE)
    data["background"] |= {
        "duration_s": 900.0,
        "event_s": 500.0,
        "pre_s": 200.0,
        "overrides": {"fundamental.volatility_ticks_per_sqrt_s": 2.0},
        "override_reason": "quiet",
    }
    data["mechanism"] = {"news": {"fixed": {"time_s": 520.0}, "fit": {"jump_bps": {"low": -900.0, "high": -100.0}}}}
    truth = load_episode(write_episode(tmp_path, data, "truth"))
    rows = episode_statistics(truth, simulate_episode(truth, 4, seed=99, values={"news.jump_bps": -500.0}))
    mean = {n: float(np.mean(rows[:, STATISTICS.index(n)])) for n in ("drawdown", "time_to_trough_s")}
    data["template"] = {
        "drawdown": {"value": mean["drawdown"], "tolerance": 0.004},
        "time_to_trough_s": {"value": mean["time_to_trough_s"], "tolerance": 200.0},
    }
    episode = load_episode(write_episode(tmp_path, data, "toy"))
    result = fit_episode(episode, seed=1, n_design=8, n_refine=4, paths=2, validate_paths=4, workers=1)
    assert abs(result.parameters["news.jump_bps"] + 500.0) < 60.0, result.parameters
    assert result.share_within >= 0.75 and result.evaluations == 12
