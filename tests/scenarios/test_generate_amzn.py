"""The generators on the AMZN level-1 day, end to end on a 15-minute slice: train, sample, score on the held-out
span next to a parametric preset, TSTR; the spec's slice and the level-1 window's hidden depth."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from generators.rollout import RateGuard
from generators.spec import load_spec, spec_spans, train_from_spec
from scenarios.generate import heldout
from scenarios.generate.tstr import VERDICTS, series_of
from simlab.errors import DataError, ParameterError

FOLDER = "lobster_samples/AMZN_2012-06-21_level1_fullday"
SPEC = f"""
[data]
message = "{FOLDER}/AMZN_2012-06-21_34200000_57600000_message_1.csv"
books = ["{FOLDER}/AMZN_2012-06-21_34200000_57600000_orderbook_1.csv"]
split = [0.6, 0.2, 0.2]
span_s = [3600.0, 900.0]

[model]
family = "diffusion"
preset = "tiny"
seed = 11
overrides = {{ max_steps = 20, eval_every = 10, batch_size = 32, validation_blocks = 128, sampling_steps = 20 }}
"""


@pytest.fixture(scope="module")
def amzn(tmp_path_factory):
    from tests.conftest import shared_path

    data = shared_path("")
    folder = tmp_path_factory.mktemp("amzn")
    spec = folder / "spec.toml"
    spec.write_text(SPEC)
    model = folder / "amzn.model"
    train_from_spec(spec, model, data_dir=data)
    return {"data": data, "spec": spec, "model": model, "folder": folder}


def test_the_spec_slices_the_day_before_the_split(amzn):
    spans = spec_spans(load_spec(amzn["spec"]), amzn["data"])
    first = min(int(s["events"]["ts_ns"].values[0]) for s in spans.values())
    last = max(int(s["events"]["ts_ns"].values[-1]) for s in spans.values())
    assert (last - first) / 1e9 == pytest.approx(900.0, abs=5.0)
    assert spans["test"]["events"].attrs["levels"] == 1 and spans["test"]["books"].sizes["level"] == 1
    assert heldout.default_duration(spans["test"]) == pytest.approx(30.0, abs=1.0)  # a sixth of the 180 s span
    bad = amzn["folder"] / "bad.toml"
    bad.write_text(SPEC.replace("span_s = [3600.0, 900.0]", "span_s = [3600.0]"))
    with pytest.raises(ParameterError, match=r"span_s in table 'data' must be \[start >= 0, duration > 0\] s"):
        load_spec(bad)
    bad.write_text(SPEC.replace("span_s = [3600.0, 900.0]", "span_s = [99000.0, 10.0]"))
    with pytest.raises(DataError, match="holds 0 events; need >= 2"):
        spec_spans(load_spec(bad), amzn["data"])


def test_heldout_scores_the_amzn_model_next_to_a_preset_with_one_command(amzn, capsys):
    out_path = amzn["folder"] / "heldout.json"
    argv = [str(amzn["spec"]), str(amzn["model"]), "--paths", "1", "--duration", "180", "--n-boot", "10", "--tstr-boot",
            "500"]  # fmt: skip
    out = heldout.main([*argv, "--presets", "zi-amzn", "--data", str(amzn["data"]), "-o", str(out_path)])
    assert json.loads(out_path.read_text())["window_levels"] == 1 and out["duration_s"] == 180.0
    assert "thinning" not in out  # no model asked for it: no rate is fitted
    (model,) = out["models"].values()
    (path,) = model["paths"]
    assert path["applied"] > 50 and np.isfinite(path["mean_l1"]["value"]) and path["l1_scores"] >= 10
    assert sum(path["kind_shares"].values()) == pytest.approx(1.0) and path["kind_shares"]["ADD"] > 0
    fills = path["order_fills"]  # fills per marketable order, counted after the initial orders
    assert fills["orders"] > 0 and fills["fills_per_order"] == pytest.approx(fills["fills"] / fills["orders"])
    floor, rows = path["floor_mean_l1"], path["l1_rows"]
    assert len(rows) == path["l1_scores"] and floor["low"] <= floor["value"] <= floor["high"]
    assert floor["value"] == pytest.approx(np.mean([row["floor"] for row in rows.values()]), abs=1e-5)
    assert path["indistinguishable"] == [name for name, row in rows.items() if row["low"] <= row["floor_high"]]
    assert path["classifier"] == path["roc_auc"]  # 180 s hold too few classifier windows: the reason, in both
    tstr = json.loads(out_path.read_text())["tstr"]  # pooled TSTR, the task chosen on training + validation
    assert tstr["selected_on"] == "chosen on the training and validation spans" and "chosen" in tstr["choice"]
    chosen = tstr["tasks"][f"{tstr['choice']['chosen']['task']} w{tstr['choice']['chosen']['window']}"]
    assert chosen["role"] == "chosen" and set(chosen["verdicts"]["chosen"]) == {str(amzn["model"]), "zi-amzn"}
    for result in tstr["tasks"].values():
        arms = result["arms"][result["selected_metric"]]
        assert result["origins"]["test"] >= 50 and arms["trtr"]["ratio"] == {"value": 1.0, "low": 1.0, "high": 1.0}
        for name, row in result["verdicts"][result["role"]].items():
            assert row["verdict"] in VERDICTS and 0 < row["ratio"]["low"] <= row["ratio"]["high"] < 2
            assert result["origins"][name] >= 50 and row["chance_ratio"] == arms["prior"]["ratio"]
    preset = out["presets"]["zi-amzn"]
    assert preset["kind"] == "book" and "AMZN" in preset["fitted_on"]["files"][0]
    assert preset["paths"][0]["seconds"] == pytest.approx(180.0, abs=2.0)
    (comparison,) = out["comparisons"][f"zi-amzn vs {amzn['model']}"]
    assert comparison["shared"] >= 10 and comparison["difference"]["low"] <= comparison["difference"]["high"]
    printed = capsys.readouterr().out
    assert "zi-amzn" in printed and "chosen: " in printed and "chance ratio" in printed


def test_a_level1_model_samples_books_that_never_lose_a_side_and_tstr_reads_only_visible_events(amzn):
    from generators.spec import load_generator

    generator = load_generator(amzn["model"])
    assert generator.context_["hidden_depth"]["window_levels"] == 1
    (path,) = generator.sample(1, 30.0, generator=2)
    attrs, books = path["events"].attrs, path["books"]
    assert attrs["window_levels"] == 1 and attrs["hidden_levels"] > 0
    after = slice(int(attrs["initial_orders"]), None)  # the initial orders place the bids, then the asks
    quoted = (books["bid_qty"].values[after, 0] > 0) & (books["ask_qty"].values[after, 0] > 0)
    assert attrs["applied"] > 20 and quoted.all()  # the real level-1 book is never one-sided either
    assert attrs["rejected_empty_side"] == 0  # (it was about a third of the rejections without hidden depth)
    assert np.any(books["bid_qty"].values[after, 1] > 0)  # the engine holds the hidden levels behind the best
    every, visible = series_of("all", path), series_of("visible", path, window_levels=1)
    assert visible.size < every.size  # the hidden depth's deeper events are left out, as a level-1 file would


def test_real_windows_are_scored_as_paths_and_the_rates_count_every_event(amzn):
    from generators.evaluation import order_fills, realism
    from generators.spec import slice_flow

    spans = spec_spans(load_spec(amzn["spec"]), amzn["data"])
    out = heldout.real_reference(spans, 50.0, windows=2, seed=3, n_boot=10)
    ts = {name: span["events"]["ts_ns"].values for name, span in spans.items()}
    for name, times in ts.items():  # events over first-to-last seconds
        assert out["rate_per_s"][name] == pytest.approx(times.size / ((times[-1] - times[0]) / 1e9))
    width = int(50e9)  # the held-out span's whole 50-s windows, counted by hand
    whole = int((ts["test"][-1] - ts["test"][0]) // width)
    hand = [int(np.sum((ts["test"] >= ts["test"][0] + k * width) & (ts["test"] < ts["test"][0] + (k + 1) * width)))
            for k in range(whole)]  # fmt: skip
    assert out["test_windows"] == hand and whole >= 3 and sum(hand) < ts["test"].size
    assert out["test_order_fills"] == order_fills(spans["test"]["events"]) and out["test_order_fills"]["orders"] > 10
    seconds = (ts["validation"][-1] - ts["validation"][0]) / 1e9
    starts = [w["start_s"] for w in out["windows"]]
    assert starts == pytest.approx([seconds - 100.0, seconds - 50.0])  # the last two whole windows, oldest first
    paths = [slice_flow(spans["validation"], start, 50.0) for start in starts]
    cards = realism(paths, spans["test"], seed=3, n_boot=10)  # scored exactly as a path is
    for window, path, card in zip(out["windows"], paths, cards, strict=True):
        assert window["mean_l1"] == card.summary["l1"]["mean"] and window["events"] == path["events"].sizes["event"]
        assert "applied" not in window and window["l1_scores"] >= 10
        assert window["classifier"] == f"not applicable: {card.discriminative}"  # 50 s: too few windows
    assert heldout.real_reference(spans, 50.0)["windows"] == []  # none asked: none scored
    with pytest.raises(DataError, match=r"`--real-windows` 9: the validation span holds 3 whole windows of 50 s"):
        heldout.real_reference(spans, 50.0, windows=9)
    with pytest.raises(ParameterError, match=r"`--real-windows` \(real_windows\) must be an int >= 0; got -1"):
        heldout.score_models(amzn["spec"], [amzn["model"]], real_windows=-1, data_dir=amzn["data"])
    # --against same: a window is scored against the held-out span's first 50 s (the paths' own seconds)
    first = slice_flow(spans["test"], 0.0, 50.0)
    same = heldout.real_reference(spans, 50.0, windows=1, seed=3, n_boot=10, reference=first)
    (card,) = realism(paths[-1:], first, seed=3, n_boot=10)
    assert same["windows"][0]["mean_l1"] == card.summary["l1"]["mean"]
    with pytest.raises(ParameterError, match=r"`--against` \(against\) must be one of \['span', 'same'\]; got 'x'"):
        heldout.score_models(amzn["spec"], [amzn["model"]], against="x", data_dir=amzn["data"])
    with pytest.raises(ParameterError, match=r"`--duration` \(duration\) must be a number of seconds > 0; got -5"):
        heldout.score_models(amzn["spec"], [amzn["model"]], duration=-5, against="same", data_dir=amzn["data"])


def test_the_pooled_classifier_reads_all_of_a_model_s_paths_at_the_per_path_window(amzn, monkeypatch):
    """`--pooled-classifier`: one classifier over every path of a model, its windows the scorecard's for the
    smallest path. On this slice's 180-s held-out span the real side has too few windows, and the record says so;
    against the 540-s training span the pooled classifier reads the 3 paths where no path alone can."""
    from generators.spec import load_generator

    spans = spec_spans(load_spec(amzn["spec"]), amzn["data"])
    argv = [str(amzn["spec"]), str(amzn["model"]), "--paths", "3", "--duration", "120", "--n-boot", "10",
            "--tstr-boot", "200", "--pooled-classifier", "--real-windows", "1", "--data", str(amzn["data"]),
            "-o", str(amzn["folder"] / "pooled.json")]  # fmt: skip
    calls = []  # every source goes to one pooled_readings call
    read = heldout.pooled_readings
    monkeypatch.setattr(
        heldout, "pooled_readings", lambda sources, *a, **k: calls.append(sorted(sources)) or read(sources, *a, **k)
    )
    out = heldout.main(argv)
    assert calls == [sorted([heldout.REAL_WINDOWS, str(amzn["model"])])] and out["pooled_window"] == 20
    (model,) = out["models"].values()
    assert model["pooled_classifier"].startswith("not applicable: missing at least 20 windows of 20 events")
    assert out["real"]["pooled_classifier"].startswith("not applicable: missing at least 20 windows of 20 events")
    with pytest.raises(ParameterError, match=r"must each be named once \(and none 'real windows'\); got \['zi-amzn'\]"):
        heldout.score_models(amzn["spec"], ["zi-amzn"], presets=["zi-amzn"], data_dir=amzn["data"])
    paths = load_generator(amzn["model"]).sample(3, 180.0, generator=7, stop_when_stuck=True)
    pooled = heldout.pooled_classifier(paths, spans["train"], seed=7, n_boot=10)
    assert isinstance(pooled, dict), pooled
    assert pooled["paths"] == 3 and 0.0 <= pooled["low"] <= pooled["auc"] <= pooled["high"] <= 1.0
    from simlab.metrics._market import Market

    smallest = min(Market(p["events"], p["books"], levels=1, source="s", window_levels=1).ts.size for p in paths)
    real = Market(spans["train"]["events"], spans["train"]["books"], levels=1, source="r").ts.size
    assert pooled["window"] == int(np.clip(min(real, smallest) // 40, 20, 200))
    alone = [heldout.pooled_classifier([path], spans["train"], seed=7, n_boot=10) for path in paths]
    assert all(isinstance(a, str) or a["n_test"] < pooled["n_test"] for a in alone)
    # several sources at one window, the smallest path's of any: the training span itself (its own window 39 events)
    # beside the 180-s paths (20 events)
    itself = heldout.pooled_classifier([spans["train"]], spans["train"], seed=7, n_boot=10)
    assert isinstance(itself, dict) and itself["window"] > pooled["window"], itself
    window, readings = heldout.pooled_readings(
        {"model": paths, "itself": [spans["train"]]}, spans["train"], seed=7, n_boot=10
    )
    assert window == pooled["window"] and readings["model"] == pooled and readings["itself"]["window"] == window
    at = heldout.pooled_classifier([spans["train"]], spans["train"], seed=7, n_boot=10, window=pooled["window"])
    assert readings["itself"] == at and at["n_test"] > itself["n_test"]  # smaller windows: more of them
    assert heldout.pooled_classifier(paths, spans["train"], seed=7, n_boot=10, window=np.int64(20)) == pooled
    with pytest.raises(
        ParameterError, match="`window` of pooled_classifier must be an int >= 10 events or None; got 9"
    ):
        heldout.pooled_classifier(paths, spans["train"], seed=7, window=9)
    with pytest.raises(ParameterError, match=r"`sources` of pooled_readings must each hold at least one path; got "
                                             r"none for \['model'\]"):  # fmt: skip
        heldout.pooled_readings({"model": [], "other": paths}, spans["train"], seed=7)
    with pytest.raises(ParameterError, match="`sources` of pooled_readings must name at least one source; got none"):
        heldout.pooled_readings({}, spans["train"], seed=7)
    with pytest.raises(DataError, match="^model B: path 0's tick_size is 0.05"):
        bad = {**paths[0], "events": paths[0]["events"].assign_attrs(tick_size=0.05)}
        heldout.pooled_readings({"model A": paths, "model B": [bad]}, spans["train"], seed=7)
    with pytest.raises(ParameterError, match="at least one path"):
        heldout.pooled_classifier([], spans["test"], seed=1)
    other = {**paths[0], "events": paths[0]["events"].assign_attrs(tick_size=0.05)}
    with pytest.raises(DataError, match="path 0's tick_size is 0.05, the real data's 0.01; expected the same"):
        heldout.pooled_classifier([other], spans["train"], seed=1)


def test_the_runaway_guard_is_read_from_the_training_span_and_ends_and_marks_a_path(amzn, monkeypatch, capsys):
    spans = spec_spans(load_spec(amzn["spec"]), amzn["data"])
    ts = spans["train"]["events"]["ts_ns"].values
    guard, record = heldout.runaway_guard(spans["train"]["events"], 1.5, seconds=10.0)
    hand = max(int(((ts >= t) & (ts < t + 10**10)).sum()) for t in ts)  # the most events in any 10 s, by hand
    assert record == {"factor": 1.5, "seconds": 10.0, "train_peak_events": hand, "messages": guard.messages}
    assert guard == RateGuard(int(np.ceil(1.5 * hand)), 10.0) and hand > 10
    for bad in (0.5, float("inf"), float("nan"), True):
        with pytest.raises(ParameterError, match=r"`--runaway-factor` \(runaway_factor\) must be a finite number >= 1"):
            heldout.score_models(amzn["spec"], [amzn["model"]], runaway_factor=bad, data_dir=amzn["data"])
    with pytest.raises(ParameterError, match=r"must be a finite number >= 1; got 0.5"):
        heldout.runaway_guard(spans["train"]["events"], 0.5)
    # the held-out run samples under the guard it reads and records it; a guard of 21 messages in 10 s ends the
    # second path (22 in its first 10 s) and not the first (22 at most in any 10 s unguarded, 21 guarded)
    tight = (RateGuard(21, 10.0), {"factor": 1.0, "seconds": 10.0, "train_peak_events": 21, "messages": 21})
    seen = []
    monkeypatch.setattr(heldout, "runaway_guard", lambda events, factor: seen.append(factor) or tight)
    argv = [str(amzn["spec"]), str(amzn["model"]), "--paths", "2", "--duration", "60", "--n-boot", "10"]
    out = heldout.main([*argv, "--tstr-boot", "200", "--runaway-factor", "2", "--data", str(amzn["data"]),
                        "-o", str(amzn["folder"] / "runaway.json")])  # fmt: skip
    assert seen == [2.0] and out["runaway_guard"] == tight[1]
    (model,) = out["models"].values()
    assert [path["runaway"] for path in model["paths"]] == [0, 1]
    assert model["paths"][1]["seconds"] < 10.0 < model["paths"][0]["seconds"]  # the second ended in its first 10 s
    assert model["paths"][1]["applied"] == 22
    printed = capsys.readouterr().out
    assert "runaway guard: a path ends once more than 21 messages apply within 10 s" in printed
    assert printed.count("(runaway)") == 1
    # a guard far below the flow ends a path too early to score: the model is recorded as failed, with our
    # sentence (not a bare KeyError), and the run goes on with the preset
    tight = (RateGuard(3, 1.0), {"factor": 1.0, "seconds": 1.0, "train_peak_events": 3, "messages": 3})
    out = heldout.score_models(amzn["spec"], [amzn["model"]], n_paths=1, duration=60.0, n_boot=10, runaway_factor=2,
                               presets=["zi-amzn"], tstr_boot=200, data_dir=amzn["data"])  # fmt: skip
    failed = out["models"][str(amzn["model"])]["failed"]
    assert re.fullmatch(
        r"held-out scoring: a path of \d+ events \(ended runaway\) gives the realism scorecard no L1 "
        r"score; expected a path long enough to score \(its classifier: .*\)",
        failed,
    ), failed
    assert out["presets"]["zi-amzn"]["paths"][0]["l1_scores"] >= 10 and out["comparisons"] == {}


def _twin_arms(amzn, name: str, duration: float = 120.0, **arms) -> tuple[list, dict]:
    """Score the AMZN model beside its copy ``name`` (one path of ``duration`` s each) under ``arms`` (one value per
    model)."""
    import shutil

    copy = amzn["folder"] / name
    shutil.copytree(amzn["model"], copy, dirs_exist_ok=True)
    models = [amzn["model"], copy]
    out = heldout.score_models(amzn["spec"], models, n_paths=1, duration=duration, n_boot=10, tstr_boot=200,
                               data_dir=amzn["data"], **arms)  # fmt: skip
    assert len(out["comparisons"][f"{copy} vs {amzn['model']}"]) == 1  # the copy against the model
    return models, out


def test_one_model_runs_under_both_trade_fills_when_copied_under_another_name(amzn):
    models, out = _twin_arms(amzn, "amzn-front.model", trade_fill=["queue", "front"])
    queue, front = (out["models"][str(m)] for m in models)
    assert (queue["trade_fill"], front["trade_fill"]) == ("queue", "front")
    assert queue["paths"][0]["front_held"] == 0 and front["paths"][0]["front_held"] > 0
    with pytest.raises(ParameterError, match=r"`--trade-fill` \(trade_fill\) must be one value or one per model \(2\)"):
        heldout.score_models(amzn["spec"], models, trade_fill=["front"], data_dir=amzn["data"])
    with pytest.raises(ParameterError, match=r"score_models \(--trade-fill\): `trade_fill` must be one of"):
        heldout.score_models(amzn["spec"], models, trade_fill=["queue", "all"], data_dir=amzn["data"])


def test_one_model_runs_thinned_at_the_training_spans_rate_beside_itself_unthinned(amzn):
    from generators.thinning import behind_hazard

    models, out = _twin_arms(amzn, "amzn-thin.model", 60.0, thin_behind=["off", "fit"])
    plain, thin = (out["models"][str(m)] for m in models)
    train = spec_spans(load_spec(amzn["spec"]), amzn["data"])["train"]
    fitted = behind_hazard(train["events"], train["books"])  # the rate is the training span's
    assert out["thinning"]["hazard_per_s"] == fitted["hazard_per_s"] > 0
    assert (plain["thin_rate_per_s"], thin["thin_rate_per_s"]) == (0.0, fitted["hazard_per_s"])
    assert plain["paths"][0]["thinned"] == 0 and thin["paths"][0]["thinned"] > 0
    for bad in (["fit"] * 3, ["on", "off"], "fitted"):
        with pytest.raises(ParameterError, match=r"`--thin-behind` \(thin_behind\) must be one of \['off', 'fit'\]"):
            heldout.score_models(amzn["spec"], models, thin_behind=bad, data_dir=amzn["data"])
