"""The generators' ground-truth check end to end at tiny sizes: a diffusion model trained on a Hawkes-driven book
scores closer to that book's fresh paths than to a clearly different book's (the zero-intelligence one)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from calibration.book_presets import load_book_preset
from generators.config import preset
from scenarios.generate.ground_truth import (
    TruthSpec,
    contrast_preset,
    ground_truth,
    kind_shares,
    load_truth_spec,
    main,
    separation,
    simulate_path,
    split_at,
)
from scenarios.generate.rate import closed_loop_scale, one_step_times, rate_probe
from simlab.errors import DataError, ParameterError

TINY_SPEC = """
[process]
preset = "hawkes-aapl"
train_s = 300.0
validation_s = 60.0
[test]
paths = 2
duration_s = 60.0
n_boot = 20
contrast = "zi-aapl"
replay = true
[model]
preset = "tiny"
seed = 7
overrides = { max_steps = 300, eval_every = 50, validation_blocks = 128, batch_size = 64, sampling_steps = 20 }
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The tiny ground truth run once: its output and its folder (spec, JSON, saved model)."""
    folder = tmp_path_factory.mktemp("truth")
    (folder / "truth.toml").write_text(TINY_SPEC)
    out = main([str(folder / "truth.toml"), "-o", str(folder / "truth.json"), "--model-out", str(folder / "m")])
    return out, folder


def test_a_model_trained_on_a_hawkes_book_scores_closer_to_it_than_to_another_book(trained):
    out, folder = trained
    assert (folder / "m" / "config.json").exists()  # the trained model, saved for later sampling
    assert json.loads((folder / "truth.json").read_text())["provenance"]["seed"] == 7
    sep = out["separation"]
    # the scores that tell B from A are chosen from fresh paths alone; the model is closer to A on them
    assert len(sep["scores"]) >= 5
    assert sep["own"] < sep["contrast"] - 0.1
    for row in out["paths"]:
        assert row["model"]["ours"]["value"] < row["contrast"]["ours"]["value"]
        # the zero-intelligence book is far from the Hawkes book's floor: the contrast is a real one
        assert not row["b_vs_a"]["indistinguishable"] and row["b_vs_a"]["difference"]["low"] > 0
        assert row["model"]["theirs"] == row["b_vs_a"]["theirs"]  # one floor per path
    assert set(out["per_score"][sep["scores"][0]]) == {"model", "floor", "contrast", "b_vs_a", "floor_high", "excess"}
    assert out["training"]["best_step"] >= 150 and len(out["rollout"]) == 2
    assert all(r["applied"] > 0 for r in out["rollout"])
    fills = [r["fill_kind_shares"] for r in out["rollout"]]
    for shares in [out["process_kind_shares"]] + [r["kind_shares"] for r in out["rollout"]] + fills:
        assert sum(shares.values()) == pytest.approx(1.0) and shares["TRADE"] > 0
    assert all(f["TRADE"] >= r["kind_shares"]["TRADE"] for f, r in zip(fills, out["rollout"], strict=True))


def test_the_replays_of_fresh_paths_and_the_model_from_the_process_s_whole_book(trained):
    from calibration.book_presets import load_book_preset as load
    from generators.diffusion import DiffusionGenerator
    from scenarios.generate.ground_truth import drop_initial, process_context, simulate_flow

    out, folder = trained
    # the process's whole book at the context: the context's 10 levels, and many more orders and levels behind them
    start = out["start_book"]
    assert start["context"]["levels"] == [10, 10] and start["context"]["orders"] == 20
    assert min(start["full_book"]["levels"]) > 10 and start["full_book"]["orders"] > 3 * 20
    assert all(f > c for f, c in zip(start["full_book"]["lots"], start["context"]["lots"], strict=True))
    replay = out["replay"]["starts"]
    assert set(replay) == {"own", "context", "full_book"}
    for rows in replay.values():
        assert len(rows["paths"]) == 2 and all(r["applied"] > 100 for r in rows["rollout"])
        assert rows["paths"][0]["theirs"] == out["paths"][0]["model"]["theirs"]  # the model's floor
    # the same messages from the path's own whole book apply, every one (encoding 4 gives a sweep's fills beyond
    # the 10 recorded levels the queue of their run); from a one-order-per-level book some cannot
    for own, thin in zip(replay["own"]["rollout"], replay["context"]["rollout"], strict=True):
        assert own["rejected"] == 0 <= thin["rejected"]
    assert set(out["replay"]["per_score"][next(iter(out["replay"]["per_score"]))]) >= {"replay_own", "model", "floor"}
    for name in ("model", "reference", "replay_own"):
        assert len(out["resting_volume"][name]["bid"]) == 5 and out["flow_by_level"][name]["ask"]["trade_per_lot"] > 0
    # the model sampled from the whole book: its engine starts with every order, the model sees the same 10 levels
    spec = load_truth_spec(folder / "truth.toml")
    preset = load(spec.process)
    whole = simulate_flow(preset, spec.train_s + spec.validation_s, np.random.SeedSequence(spec.seed).spawn(7)[0], 10)
    model = DiffusionGenerator.load(folder / "m", device="cpu")
    context = process_context(model, whole, split_at(drop_initial(whole), spec.train_s))
    assert context["orders"].shape[0] == start["full_book"]["orders"]
    (path,) = model.sample(1, 2.0, generator=1, starts=[context])
    (plain,) = model.sample(1, 2.0, generator=1)
    skip = int(path["events"].attrs["initial_orders"])
    assert skip == start["full_book"]["orders"] and plain["events"].attrs["initial_orders"] == 20
    first = np.stack([path["books"][n].values[skip - 1] for n in ("bid_price", "bid_qty", "ask_price", "ask_qty")])
    np.testing.assert_array_equal(first, model.context_["books"][-1])  # the first 10 levels are the context's
    with pytest.raises(DataError, match="is not at row"):
        process_context(model, simulate_flow(preset, 400.0, np.random.SeedSequence(0), 10), split_at(
            drop_initial(whole), spec.train_s))  # fmt: skip


def test_training_brings_the_model_closer_to_the_process_than_one_step(trained):
    out, folder = trained
    sep = out["separation"]
    # training is what brings the model closest to A: one step (the encoding's knots and A's context book) does less
    spec = load_truth_spec(folder / "truth.toml")
    untrained = ground_truth(dataclasses.replace(spec, overrides={**spec.overrides, "max_steps": 1}, replay=False))
    # on the telling scores both models' samples computed (a one-step model's flow may leave one inapplicable)
    common = [name for name in sep["scores"] if name in untrained["per_score"]]
    assert len(common) >= 5
    trained_own, untrained_own = (
        np.mean([run["per_score"][name]["model"] for name in common]) for run in (out, untrained)
    )
    # a one-step model's noise decodes, through the quantile transform, to the training marginals of every field
    # (an i.i.d. sampler of them, a strong baseline: 0.47 here, against 0.75 with version 1's log scale); 300 steps
    # of training beat it under encoding v2 (0.43)
    assert trained_own < untrained_own - 0.02


def test_a_saved_model_is_scored_again_without_training_to_the_same_numbers(trained):
    out, folder = trained
    again = main([str(folder / "truth.toml"), "-o", str(folder / "again.json"), "--model", str(folder / "m")])
    assert again["paths"] == out["paths"] and again["rollout"] == out["rollout"]  # same weights, seeds and paths
    assert again["rate_probe"] == out["rate_probe"] and again["training"] == out["training"]
    assert again["replay"] == out["replay"] and again["start_book"] == out["start_book"]  # the replays are seeded
    probe = out["rate_probe"]
    assert probe["one_step"]["ratio"] > 0 and probe["closed_loop_scale"] == closed_loop_scale(
        probe["one_step"]["ratio"], probe["gain"]
    )


def test_kind_shares_count_one_per_generated_message_without_the_initial_orders():
    from simlab.schema import make_events

    kinds = [1, 1, 1, 5, 5, 5, 3, 2]  # two initial ADDs, an ADD, a market order of three fills, a DELETE, a CANCEL
    message = [-1, -1, 0, 1, 1, 1, 2, 3]
    events = make_events(ts_ns=np.arange(8), kind=np.array(kinds), side=np.ones(8, np.int8),
                         price_ticks=np.full(8, 100), qty_lots=np.ones(8), order_id=np.arange(8),
                         extra={"message": np.array(message)}, attrs={"initial_orders": 2}, source="t",
                         tick_size=0.01, lot_size=1.0, instrument="X", venue="Y")  # fmt: skip
    assert kind_shares(events) == {"ADD": 0.25, "CANCEL": 0.25, "DELETE": 0.25, "TRADE": 0.25, "TRADE_HIDDEN": 0.0}
    # counted like the process and LOBSTER: every fill is an event
    assert kind_shares(events, fills=True) == {"ADD": 1 / 6, "CANCEL": 1 / 6, "DELETE": 1 / 6, "TRADE": 0.5,
                                               "TRADE_HIDDEN": 0.0}  # fmt: skip
    plain = events.drop_vars("message")  # a simulated flow: every event is a message
    plain.attrs["initial_orders"] = 0
    assert kind_shares(plain)["TRADE"] == 3 / 8


def test_separation_picks_the_scores_fresh_paths_tell_apart():
    table = {
        "a": {"model": 0.2, "floor": 0.1, "floor_high": 0.15, "contrast": 0.6, "b_vs_a": 0.5},
        "b": {"model": 0.9, "floor": 0.1, "floor_high": 0.15, "contrast": 0.1, "b_vs_a": 0.12},
    }
    assert separation(table) == {"scores": ["a"], "own": 0.2, "contrast": 0.6}
    assert separation({"b": table["b"]})["scores"] == []


def test_contrast_preset_scales_the_baselines_and_split_cuts_by_time():
    preset = load_book_preset("hawkes-aapl")
    b = contrast_preset(preset, 3.0)
    np.testing.assert_allclose(b.params.hawkes.baseline, 3.0 * preset.params.hawkes.baseline)
    np.testing.assert_array_equal(b.params.hawkes.adjacency, preset.params.hawkes.adjacency)
    with pytest.raises(ParameterError, match="not a Hawkes-driven book"):
        contrast_preset(load_book_preset("zi-aapl"), 3.0)
    import xarray as xr

    ts = np.arange(10) * 10**9
    flow = {"events": xr.Dataset({"ts_ns": ("event", ts)}), "books": xr.Dataset({"x": ("time", ts)})}
    spans = split_at(flow, 4.0)
    assert spans["train"]["events"].sizes["event"] == 4 and spans["validation"]["books"].sizes["time"] == 6
    with pytest.raises(DataError, match="cannot be cut"):
        split_at(flow, 20.0)


def test_the_library_spec_loads_and_bad_specs_are_refused(tmp_path):
    spec = load_truth_spec("scenarios/library/generate_hawkes_truth_tiny.toml")
    assert spec.process == "hawkes-aapl" and spec.model_preset == "tiny" and spec.paths >= 4
    bad = tmp_path / "bad.toml"
    bad.write_text('[test]\npaths = 2\ncolour = "red"\n[model]\nseed = 1\n')
    with pytest.raises(ParameterError, match="unknown keys \\['colour'\\] in \\[test\\]"):
        load_truth_spec(bad)
    bad.write_text("[model]\npreset = 'tiny'\n")
    with pytest.raises(ParameterError, match="needs the key 'seed'"):
        load_truth_spec(bad)
    with pytest.raises(ParameterError, match="`paths` of the ground-truth spec"):
        TruthSpec(seed=1, paths=0)
    assert spec.fit_seed is None  # the model trains with `seed` unless `fit_seed` says otherwise
    bad.write_text("[model]\nseed = 1\nfit_seed = 5\n")
    assert load_truth_spec(bad).fit_seed == 5
    with pytest.raises(ParameterError, match="`fit_seed` of the ground-truth spec must be an int >= 0; got -1"):
        TruthSpec(seed=1, fit_seed=-1)
    assert spec.trade_fill == "queue"  # a generated trade fills its share of the queue unless the spec says "front"
    bad.write_text('[test]\ntrade_fill = "front"\n[model]\nseed = 1\n')
    assert load_truth_spec(bad).trade_fill == "front"
    with pytest.raises(ParameterError, match="`trade_fill` of the ground-truth spec: `trade_fill` must be one of"):
        TruthSpec(seed=1, trade_fill="all")
    with pytest.raises(ParameterError, match="replays true messages under trade_fill 'queue'; got replay = true with"):
        TruthSpec(seed=1, trade_fill="front", replay=True)


class _Stub:
    """A fitted generator's interface around a fixed rule: echo the history's last message, or always the centre."""

    def __init__(self, encoding, echo: bool) -> None:
        self.encoding_, self.echo, self.device = encoding, echo, torch.device("cpu")
        self.config = dataclasses.replace(preset("tiny"), history=encoding.history)

    def _blocks(self, history, book, condition, weight, generator):
        last = np.repeat(history[:, -1:], self.config.block, axis=1)
        return last if self.echo else np.zeros_like(last)


def test_the_rate_probe_measures_the_one_step_times_and_how_the_rollout_feeds_them_back():
    from generators import encoding as enc

    flow = simulate_path(load_book_preset("hawkes-aapl"), 40.0, np.random.SeedSequence(1), 10)
    events, books = flow["events"], flow["books"]
    encoding = enc.fit_encoding(events, books, history=8)
    echo = rate_probe(_Stub(encoding, True), events, books, contexts=200, scales=(0.5, 1.0))
    # generated times are the history's last time, scaled: the mean answers the scale one for one
    assert echo["gain"] == pytest.approx(1.0, abs=0.01) and echo["one_step"]["z_std"] > 0.5
    centre = rate_probe(_Stub(encoding, False), events, books, contexts=200, scales=(0.5, 1.0))
    assert centre["gain"] == pytest.approx(0.0, abs=1e-9) and centre["one_step"]["z_std"] == 0.0  # no history part
    median = float(np.rint(enc.from_quantile(np.array([encoding.message_mean[enc.M_DT]]), encoding.knots[0])[0]))
    one = centre["one_step"]
    assert one["generated_mean_s"] == pytest.approx(median / 1e9) and one["generated_long"] == 0.0
    assert one["ratio"] == pytest.approx(one["generated_mean_s"] / one["true_mean_s"])
    assert centre["closed_loop_scale"] == pytest.approx(one["ratio"])  # no feedback: the one-step bias stays
    assert one["true_mean_s"] == echo["one_step"]["true_mean_s"] and 0 < one["true_trades"] < 1
    assert closed_loop_scale(0.25, 0.5) == pytest.approx(0.0625) and closed_loop_scale(0.5, 1.0) is None
    with pytest.raises(ParameterError, match="`scales` of rate_probe must hold 1"):
        rate_probe(_Stub(encoding, True), events, books, scales=(0.5, 2.0))
    with pytest.raises(DataError, match="rate probe span: needs 100000 block starts"):
        one_step_times(_Stub(encoding, True), events, books, contexts=100_000)
