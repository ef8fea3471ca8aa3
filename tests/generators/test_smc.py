"""Sequential Monte Carlo sampling toward a regime (generators.smc): one particle is plain sampling byte for byte, the
kernels give the slow twin's bytes with resampling on, every output path's events replay to its books (its lineage
is whole), the potential and systematic resampling match hand-computed values and never mix groups, duplicated
particles get their own streams, one seed gives the same bytes, and bad requests get our sentence."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
from typer.testing import CliRunner

from generators import encoding as enc
from generators import smc as smc_module
from generators.diffusion import DiffusionGenerator
from generators.evaluation import counterfactual_sweep, regime_shares, smc_summary
from generators.rollout import RateGuard
from generators.rollout_fast import PathBatch
from generators.smc import (
    _weights,
    adaptive_resample,
    fresh_streams,
    measure,
    potential,
    quintile_distance,
    systematic_resample,
)
from scenarios.cli import app
from simlab.errors import DataError, ParameterError
from simlab.random import spawn
from tests.generators.conftest import check_replayed
from tests.generators.conftest import same_paths as _same
from tests.generators.test_diffusion import SMALL

REGIME = {"volatility": 5}
SMC = {"every_s": 1.0, "window": 32, "sharpness": 20.0}
# the end pick limited to the nearest particles, resampling only when the ESS falls to half the particles
ADAPTIVE = {**SMC, "sharpness": 4.0, "final_sharpness": float("inf"), "ess_threshold": 0.5}


@pytest.fixture(scope="module")
def fitted(zi_spans):
    return DiffusionGenerator(SMALL, device="cpu").fit(zi_spans, seed=3)


def test_one_particle_is_plain_sampling_byte_for_byte(fitted):
    plain = fitted.sample(3, 4.0, generator=11, regime=REGIME)
    _same(plain, fitted.sample(3, 4.0, generator=11, regime=REGIME, particles=1, smc=ADAPTIVE))
    assert not any(key.startswith("smc") for key in plain[0]["events"].attrs)


@pytest.mark.parametrize("smc", [SMC, ADAPTIVE], ids=["every-checkpoint", "adaptive-nearest-end"])
def test_with_resampling_the_kernels_give_the_twins_bytes_and_each_path_replays_to_its_books(fitted, smc, monkeypatch):
    kwargs = dict(generator=5, regime=REGIME, particles=4, smc=smc, stop_when_stuck=True)
    calls = []

    def spy(distance, sharpness, stuck, k, carried=None):  # the weights of every checkpoint, with what they carried
        weights = _weights(distance, sharpness, stuck, k, carried)
        calls.append((sharpness, np.array(carried), weights))
        return weights

    monkeypatch.setattr(smc_module, "_weights", spy)
    fast = fitted.sample(3, 5.0, **kwargs)
    monkeypatch.undo()
    _same(fitted.sample(3, 5.0, twin=True, **kwargs), fast)
    _same(fast, fitted.sample(3, 5.0, **kwargs))  # same seed, same bytes
    assert not fast[0]["events"].equals(fitted.sample(3, 5.0, **{**kwargs, "generator": 6})[0]["events"])
    attrs = [path["events"].attrs for path in fast]
    assert json.loads(attrs[0]["smc_checkpoints_s"]) == [1.0, 2.0, 3.0, 4.0, 5.0]
    # the selection did something (some group lost lineages), so the replay below crosses resampling steps
    assert min(a["smc_ancestors"] for a in attrs) < 4 and all(len(json.loads(a["smc_ess"])) == 5 for a in attrs)
    resampled = np.array([json.loads(a["smc_resampled"]) for a in attrs])
    assert [c[0] for c in calls] == [smc["sharpness"]] * 4 + [smc.get("final_sharpness", smc["sharpness"])]
    for c, due in enumerate(resampled.T):  # a group resampled carries nothing, any other its normalised weights
        with np.errstate(divide="ignore"):
            np.testing.assert_allclose(calls[c + 1][1], np.where(due[:, None], 0.0, np.log(calls[c][2])))
    if smc is ADAPTIVE:  # some groups skipped a resampling (their weights carried over), some did not
        assert resampled.shape == (3, 4) and 0 < resampled.sum() < resampled.size
        for a in attrs:  # the end pick is one of the group's nearest particles
            distances = json.loads(a["smc_end_distances"])
            assert distances[a["smc_chosen"]] == min(distances) and a["smc_final_sharpness"] == "Infinity"
    else:
        assert resampled.all()
    for path in fast:
        check_replayed(path["events"], path["books"])  # the ancestors' records and the path's own fit end to end
        message = path["events"]["message"].values
        generated = message[message >= 0]
        assert np.array_equal(np.unique(generated), np.arange(path["events"].attrs["applied"]))
        assert (np.diff(path["events"]["ts_ns"].values) >= 0).all()


def test_the_distance_and_potential_match_hand_computed_values():
    edges = ((1.0, 2.0, 3.0, 4.0), (0.0, 1.0, 2.0, 3.0), (10.0, 20.0, 40.0, 80.0), (0.0, 0.1, 0.2, 0.3))
    asked = enc.regime_condition({"volatility": 5, "depth": 1})  # quintile indices 4 and 0
    values = np.array([
        [5.0, 0.0, 5.0, 0.0],  # both inside: 0
        [3.5, 0.0, 5.0, 0.0],  # volatility half a quintile below the top one: 0.5
        [0.0, 0.0, 5.0, 0.0],  # volatility in quintile 1, a whole quintile below its top edge: 3 + 1 = 4
        [5.0, 0.0, 30.0, 0.0],  # depth in quintile 3: 1 quintile between + (30 - 20) / 20 = 1.5
        [5.0, 0.0, 100.0, 0.0],  # depth beyond the top edge, quintile 5 takes quintile 4's width 40: 3 + 0.5
    ])  # fmt: skip
    expected = np.array([0.0, 0.5, 4.0, 1.5, 3.5])
    np.testing.assert_allclose(quintile_distance(values, asked, edges), expected)
    np.testing.assert_allclose(potential(values, asked, edges, 2.0), np.exp(-2.0 * expected))
    assert (quintile_distance(values, enc.regime_condition(None), edges) == 0).all()  # nothing asked: G = 1


def test_systematic_resampling_follows_the_weights_within_each_group():
    weights = np.array([[0.0, 0.0, 1.0, 0.0], [0.5, 0.5, 0.0, 0.0], [0.1, 0.2, 0.3, 0.4], [1.0, 1.0, 1.0, 1.0]])
    index = systematic_resample(weights, np.array([0.3, 0.1, 0.5, 0.9]))
    # positions (u + i) / 4 against the cumulative weights, by hand; then offset by the group's first particle
    expected = np.array([[2, 2, 2, 2], [0, 0, 1, 1], [1, 2, 3, 3], [0, 1, 2, 3]]) + 4 * np.arange(4)[:, None]
    np.testing.assert_array_equal(index, expected)
    assert (index // 4 == np.arange(4)[:, None]).all()  # no group draws another's particles
    with pytest.raises(ParameterError, match="weights"):
        systematic_resample(np.zeros((1, 3)), np.array([0.5]))


def test_adaptive_resampling_resamples_only_groups_whose_ess_fell_and_carries_the_others_weights():
    weights = np.array([[0.25, 0.25, 0.25, 0.25], [0.7, 0.1, 0.1, 0.1], [0.5, 0.5, 0.0, 0.0]])
    u = np.array([0.5, 0.5, 0.5])  # ESS by hand: 4, 1 / (0.49 + 3 * 0.01) = 1.92, 2
    index, due, carried = adaptive_resample(weights, u, 0.5)  # resample at ESS <= 2
    np.testing.assert_array_equal(due, [False, True, True])
    # group 0 keeps its particles; positions (0.5 + i) / 4 = 0.125, 0.375, 0.625, 0.875 against the cumulative weights
    np.testing.assert_array_equal(index, [[0, 1, 2, 3], [4, 4, 4, 6], [8, 8, 9, 9]])
    np.testing.assert_allclose(carried[0], np.log(0.25))
    np.testing.assert_array_equal(carried[1:], 0.0)
    assert adaptive_resample(weights, u, 1.0)[1].all() and not adaptive_resample(weights, u, 0.0)[1].any()
    np.testing.assert_array_equal(adaptive_resample(weights, u, 1.0)[0], systematic_resample(weights, u))


def test_the_weights_carry_over_and_the_nearest_end_pick_takes_the_limit():
    distance = np.array([0.3, 0.0, 0.0, 1.0, 0.3, 0.2, 0.2, 0.5])
    none = np.zeros(8, bool)
    inf = float("inf")
    # equal carried weights: the particles inside share the weight; a group with none inside, its nearest ones
    np.testing.assert_allclose(_weights(distance, inf, none, 4), [[0, 0.5, 0.5, 0], [0, 0.5, 0.5, 0]])
    carried = np.log([[0.1, 0.3, 0.6, 1.0], [0.25, 0.25, 0.25, 0.25]])
    carried[0, 3] = -np.inf  # a particle dropped earlier (log of weight 0)
    np.testing.assert_allclose(_weights(distance, inf, none, 4, carried)[0], [0, 1 / 3, 2 / 3, 0])
    stuck = np.array([False, False, False, False, False, True, False, False])  # the nearest is stuck: its twin alone
    np.testing.assert_allclose(_weights(distance, inf, stuck, 4)[1], [0, 0, 1, 0])
    # finite sharpness: carried weight times exp(-2 d), normalised by hand
    expected = np.array([0.1 * np.exp(-0.6), 0.3, 0.6, 0.0])
    np.testing.assert_allclose(_weights(distance, 2.0, none, 4, carried)[0], expected / expected.sum())


def test_a_duplicated_particle_gets_a_fresh_stream_and_its_own_engine(fitted):
    index = np.array([1, 1, 0])
    fresh = fresh_streams(index, 99, (3, 0))
    assert fresh[0] is None and fresh[2] is None and fresh[1] is not None  # the first copy keeps its ancestor's
    again = fresh_streams(index, 99, (3, 0))[1]
    assert fresh[1].integers(1 << 62) == again.integers(1 << 62)  # derived from the seed, deterministically
    rngs = spawn(4, 3)
    batch = PathBatch(fitted.context_, fitted.encoding_, 10, rngs, True)
    batch.select(index, fresh)
    assert batch.rngs[0] is rngs[1] and batch.rngs[1] is fresh[1] and batch.rngs[2] is rngs[0]
    assert batch.engines[0][1] is not batch.engines[1][1]  # copies diverge: the engines are not shared
    np.testing.assert_array_equal(batch.engines[0][1], batch.engines[1][1])
    with pytest.raises(Exception, match="one of its copies"):
        batch.select(np.array([0, 0, 1]), [None, None, None])


def test_the_measure_scales_a_short_window_and_reads_the_asked_levels():
    rows = np.zeros((5, 4, 12), np.int64)
    rows[:, 0, 0], rows[:, 2, 0] = [100, 101, 100, 102, 100], [102, 103, 102, 104, 102]
    rows[:, 1, :], rows[:, 3, :] = 1, 1
    full = measure([rows], 4)[0]
    assert full[0] == pytest.approx(np.sqrt(1 + 1 + 4 + 4)) and full[2] == pytest.approx(20.0)
    short = measure([rows], 8)[0]  # 4 mid changes of the 8 asked: volatility x sqrt(2)
    assert short[0] == pytest.approx(np.sqrt(2) * full[0])
    assert measure([rows], 4, levels=3)[0][2] == pytest.approx(6.0)


def test_the_sweep_reports_the_selection_and_its_cost(fitted):
    rows = counterfactual_sweep(fitted, [REGIME], [1.0], n_paths=2, duration=4.0, seed=3, window=16,
                                stop_when_stuck=True, particles=3, smc=SMC)  # fmt: skip
    row = rows[0]
    assert row["particles"] == 3 and row["conditioned cpu_s"] > 0 and len(row["smc ancestors"]) == 2
    assert len(row["smc in regime"]) == 4 and 1.0 <= row["smc min ess"] <= row["smc median ess"] <= 3.0
    with pytest.raises(ParameterError, match="particles"):
        smc_summary(fitted.sample(1, 1.0, generator=1))


def test_a_path_too_short_to_measure_counts_as_a_miss_when_asked(fitted):
    paths = fitted.sample(2, 0.5, generator=2)
    assert all(p["books"].sizes["time"] - p["events"].attrs["initial_orders"] < 64 for p in paths)
    with pytest.raises(DataError, match="too short"):
        regime_shares(fitted, paths, REGIME, label="x", at="end", window=64)
    out = regime_shares(fitted, paths, REGIME, label="x", at="end", window=64, short_as_miss=True)
    assert out["x short paths"] == 2 and out["x share in volatility quintile 5"] == 0.0
    assert np.isnan(out["x median volatility"])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"particles": 0, "regime": REGIME}, "`particles` of sample must be an int >= 1; got 0"),
        ({"particles": "2", "regime": REGIME}, "`particles` of sample must be an int"),
        ({"particles": 2}, "`particles` > 1 of sample need a `regime`"),
        ({"smc": {"every_s": 1.0}}, "`smc` options of sample need a `regime`"),
        ({"particles": 2, "regime": REGIME, "smc": {"every": 1.0}}, "unknown option 'every'"),
        ({"particles": 2, "regime": REGIME, "smc": {"every_s": -1}}, "every_s must be a number of seconds > 0"),
        ({"particles": 2, "regime": REGIME, "smc": {"window": 1}}, "window must be an int >= 2"),
        ({"particles": 2, "regime": REGIME, "smc": {"sharpness": -1.0}}, "sharpness must be a number >= 0"),
        ({"particles": 2, "regime": REGIME, "smc": {"final_sharpness": -1.0}}, "final_sharpness must be a number >= 0"),
        ({"particles": 2, "regime": REGIME, "smc": {"final_sharpness": float("nan")}}, "or inf; got nan"),
        ({"particles": 2, "regime": REGIME, "smc": {"ess_threshold": 1.5}}, "ess_threshold must be a number in [0, 1]"),
        ({"particles": 2, "regime": REGIME, "smc": {"ess_threshold": True}}, "ess_threshold must be a number"),
        ({"particles": 2, "regime": REGIME, "switches": [(1.0, None)]}, "cannot be combined with `switches`"),
    ],
)
def test_bad_requests_get_our_sentence(fitted, kwargs, match):
    with pytest.raises(ParameterError, match=match.replace("(", r"\(").replace("[", r"\[")):
        fitted.sample(2, 2.0, generator=1, **kwargs)


def test_the_cli_samples_with_particles(fitted, tmp_path):
    model = fitted.save(tmp_path / "model")
    args = ["generate", "sample", str(model), "--paths", "2", "--duration", "3s", "--seed", "4", "--stop-when-stuck"]
    store = tmp_path / "smc.zarr"
    smc = ["--smc", "every_s=1", "--smc", "window=32", "--smc", "final_sharpness=inf", "--smc", "ess_threshold=0.5"]
    result = CliRunner().invoke(app, [*args, "--regime", "volatility=5", "--particles", "3", *smc, "-o", str(store)])
    assert result.exit_code == 0, result.output
    events = xr.open_zarr(store, group="events_0001", consolidated=False)
    assert events.attrs["smc_particles"] == 3 and json.loads(events.attrs["smc_checkpoints_s"]) == [1.0, 2.0, 3.0]
    assert events.attrs["smc_ess_threshold"] == 0.5 and json.loads(events.attrs["smc_final_sharpness"]) == np.inf
    bad = CliRunner().invoke(app, [*args, "--particles", "3", "-o", str(tmp_path / "x.zarr")])
    assert bad.exit_code != 0 and "need a --regime" in bad.output
    bad = CliRunner().invoke(app, [*args, "--regime", "volatility=5", "--smc", "every_s", "-o", str(tmp_path / "y")])
    assert bad.exit_code != 0 and "--smc must look like key=number" in bad.output


def test_a_stuck_particle_weighs_nothing_unless_its_whole_group_is_stuck():
    distance = np.array([0.0, 0.5, 1.0, 0.0, 2.0, 2.0])
    stuck = np.array([True, False, False, True, True, True])
    weights = _weights(distance, 2.0, stuck, 3)
    np.testing.assert_allclose(weights[0], np.array([0.0, np.exp(-1.0), np.exp(-2.0)]) / (np.exp(-1.0) + np.exp(-2.0)))
    np.testing.assert_allclose(weights[1], np.array([np.exp(0.0), np.exp(-4.0), np.exp(-4.0)]) / (1 + 2 * np.exp(-4.0)))


def test_a_runaway_particle_ends_alike_on_both_rollouts_and_weighs_nothing(fitted, monkeypatch):
    kwargs = dict(generator=5, regime=REGIME, particles=4, smc=SMC, stop_when_stuck=True, runaway=RateGuard(5, 0.5))
    ended, weights = [], []

    def spy(distance, sharpness, stuck, k, carried=None):  # what the driver reports ended at every checkpoint
        ended.append(np.asarray(stuck).reshape(-1, k))
        weights.append(_weights(distance, sharpness, stuck, k, carried))
        return weights[-1]

    monkeypatch.setattr(smc_module, "_weights", spy)
    fast = fitted.sample(3, 5.0, **kwargs)
    monkeypatch.undo()
    _same(fitted.sample(3, 5.0, twin=True, **kwargs), fast)
    assert any(e.any() for e in ended)  # some particle ran away (the guard is tighter than these paths' flow)
    for e, w in zip(ended, weights, strict=True):  # and weighed nothing where its group had another
        live = ~e.all(axis=1)
        assert (w[live][e[live]] == 0).all()


def test_with_the_front_rule_the_kernels_give_the_twins_bytes_under_resampling(fitted):
    kwargs = dict(generator=5, regime=REGIME, particles=3, smc=SMC, stop_when_stuck=True, trade_fill="front")
    fast = fitted.sample(2, 5.0, **kwargs)
    _same(fitted.sample(2, 5.0, twin=True, **kwargs), fast)
    assert all(path["events"].attrs["trade_fill"] == "front" for path in fast)
    assert sum(path["events"].attrs["front_held"] for path in fast) > 0  # the rule held some trades
