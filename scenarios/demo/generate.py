"""The demo's generator step: train the tiny diffusion model briefly on the AAPL hour (or load the one trained earlier
in this demo folder), sample a path from the start of the held-out span and score it against that span; then ask
for a thin-book regime, plainly and by sequential Monte Carlo selection, and count the paths that end in it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

SPEC = Path(__file__).resolve().parents[1] / "library" / "generate_aapl_tiny.toml"
TRAIN_STEPS = 30
SAMPLING_STEPS = 20  # DDIM steps per block: the preset samples with 50, at 2.4 times the cost
SAMPLE_S = 30.0
N_BOOT = 50
STRESS = {"depth": 1}  # the thin-book regime: the training span's bottom depth quintile
STRESS_PATHS, STRESS_S, PARTICLES = 3, 20.0, 4  # 20 s: 256 book rows on most plain paths (a shorter one misses)
RUNAWAY_FACTOR = 2.0  # the sampled path is ended if its flow runs faster than twice the training span's peak


def generate_step(demo: Any, data_dir: Path | None = None) -> dict[str, Any]:
    """Train (a few steps) or load the tiny generator, sample ``SAMPLE_S`` seconds and score them; return metrics.

    With the AAPL files under ``data_dir`` the model learns from the hour's first 60 % and the sample is scored
    against the first ``SAMPLE_S`` seconds of its held-out last 20 %. Without them a seeded zero-intelligence book
    stands in for the data, labelled as such (the step then shows the machinery, not realism). A model already in
    ``generate/`` of the demo folder (trained by an earlier run, any number of steps) is loaded instead of trained.
    """
    from generators.config import preset
    from generators.diffusion import DiffusionGenerator
    from scenarios.generate.heldout import runaway_guard
    from scenarios.score.runner import summary, write_outputs
    from simlab.metrics.scorecard import score

    spans, label = _spans(demo, data_dir)
    folder = demo.output / "generate"
    model_path = folder / "diffusion-tiny.model"
    about = (
        "A small conditional diffusion model (a transformer denoiser over the last messages and the book) trained for "
        "a few steps on the training span, or reloaded from an earlier run, then sampled message by message (with the "
        "denoising steps the model was trained to take: 20 per block of messages in this demo, where the preset "
        "takes 50 at 2.4 times the cost) through the matching engine (under a runaway guard: a path whose flow "
        "outruns twice the training span's busiest "
        "minute is ended and said so) and scored against the held-out span on the realism scorecard; with so little "
        "training this shows the pipeline, and its distances are expected far above the real-vs-real floor. Then a "
        "thin book (the bottom depth quintile of the training span) is asked for, by the model's condition alone and "
        "by sequential Monte Carlo (each path kept as several particles, resampled every 2 s toward the regime): the "
        "counts say how many paths end in that quintile over their last 256 book rows (a path too short to measure "
        "counts as outside). Selection, not the network, does the work of the second count (docs/generators_smc.md)."
    )
    metrics: dict[str, Any] = {"about": about, "data": label}
    stale = _stale(model_path)
    if (model_path / "config.json").exists() and stale is None:
        generator = DiffusionGenerator.load(model_path)
        metrics["model"] = f"loaded {model_path} ({generator.training_.step} training steps)"
    else:
        config = preset(
            "tiny",
            max_steps=TRAIN_STEPS,
            eval_every=TRAIN_STEPS // 2,
            validation_blocks=256,
            sampling_steps=SAMPLING_STEPS,
        )
        generator = DiffusionGenerator(config, device="cpu")
        generator.fit({"train": spans["train"], "validation": spans["validation"]}, seed=demo.seed)
        generator.save(model_path)
        state = generator.training_
        metrics["model"] = f"trained {state.step} steps (validation loss {state.best_loss:.4f}) -> {model_path}"
        if stale is not None:
            metrics["model"] += f" (retrained: the model an earlier run stored there {stale})"
    steps, block = generator.config.sampling_steps, generator.config.block
    metrics["sampling"] = (
        f"{steps} denoising (DDIM) steps per block of {block} messages (the tiny preset's default: "
        f"{preset('tiny').sampling_steps})"
    )
    guard, bound = runaway_guard(spans["train"]["events"], RUNAWAY_FACTOR)
    (path,) = generator.sample(1, SAMPLE_S, generator=demo.seed, runaway=guard)
    real = _first_seconds(spans["test"], SAMPLE_S)
    card = score(path, real, seed=demo.seed, n_boot=N_BOOT, known_depth=True)  # a replayed span: unknown depth
    config = {"model": str(model_path), "sample_s": SAMPLE_S, "data": label, "n_boot": N_BOOT, "runaway_guard": bound}
    write_outputs(card, folder / "score", seed=demo.seed, config=config, title=f"diffusion generator against {label}")
    attrs = path["events"].attrs
    metrics["messages applied / rejected and resampled"] = f"{attrs['applied']} / {attrs['rejected']}"
    metrics["runaway guard"] = (
        f"more than {bound['messages']} messages in {bound['seconds']:g} s ends a path ({bound['factor']:g} x the "
        f"training span's {bound['train_peak_events']}); this path: {'ended by it' if attrs['runaway'] else 'under it'}"
    )
    metrics["trade fills"] = _fills_line(path, spans["test"])
    metrics.update(summary(card))
    metrics.update(_stress_counts(generator, demo.seed))
    return metrics


def _fills_line(path: dict[str, Any], test: dict[str, Any]) -> str:
    # fills per marketable order (a run of executions of one side, price and time) on the path and the held-out span
    from generators.evaluation import order_fills

    ours = order_fills(path["events"], skip=int(path["events"].attrs["initial_orders"]))
    real = order_fills(test["events"])

    def said(counts: dict[str, Any]) -> str:
        if not counts["orders"]:
            return "no fill"
        return f"{counts['fills_per_order']:.2f} fills per order ({counts['fills']} fills, {counts['orders']} orders)"

    return f"this path {said(ours)}; the held-out span {said(real)}"


def _stale(model_path: Path) -> str | None:
    """Say why a model an earlier run stored at ``model_path`` is of another layout than this simlab's, else None.

    A model of another encoding version (or simlab, checkpoint or network version) cannot be loaded (the checkpoint
    refuses it), so the demo retrains instead of failing on a second run in an old folder. A folder without a
    model, or whose ``config.json`` is not JSON, gives None: the load then says what is wrong.
    """
    import json

    from generators.checkpoint import layout_versions
    from generators.diffusion import DiffusionGenerator

    try:
        meta = json.loads((model_path / "config.json").read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(meta, dict):
        return None
    expected = {**layout_versions(DiffusionGenerator.FAMILY), "network_version": DiffusionGenerator.NETWORK.VERSION}
    found = {"network_version": 1, **meta}  # a checkpoint written before the network version holds version 1
    for key, value in expected.items():
        if found.get(key) != value:
            return f"has {key} {found.get(key)!r}, this simlab {value!r}"
    return None


def _stress_counts(generator: Any, seed: int) -> dict[str, str]:
    # how many of STRESS_PATHS paths end in the thin-book quintile: the condition alone, then SMC with PARTICLES
    from generators.evaluation import regime_shares

    out = {}
    for label, particles in (("condition alone", 1), (f"SMC, {PARTICLES} particles per path", PARTICLES)):
        paths = generator.sample(STRESS_PATHS, STRESS_S, generator=seed, regime=STRESS, particles=particles)
        shares = regime_shares(generator, paths, STRESS, label=label, at="end", short_as_miss=True)
        measured = STRESS_PATHS - int(shares[f"{label} unmeasured stuck paths"])  # 0 unless a path got stuck
        hits = round(shares[f"{label} share in depth quintile 1"] * measured) if measured else 0
        short = int(shares[f"{label} short paths"])
        note = f" ({short} too short to measure, counted outside)" if short else ""
        out[f"thin book asked, {label}: paths ending in it"] = f"{hits} of {measured}{note}"
    return out


def _spans(demo: Any, data_dir: Path | None) -> tuple[dict, str]:
    from generators.data import split_by_time
    from generators.spec import load_spec, spec_spans

    spec = load_spec(SPEC)
    if data_dir is not None and (Path(data_dir) / spec.message).exists():
        return spec_spans(spec, data_dir), "AAPL 2012-06-21 09:30-10:30 (LOBSTER level 50), last 20 % held out"
    from simlab.book.zero_intelligence import ZIParams, simulate_zi

    params = ZIParams(limit_rate=0.2, market_rate=0.5, cancel_rate=0.05, band_ticks=20, size_law="geometric",
                      order_size=3.0)  # fmt: skip
    flow = simulate_zi(params, 600.0, rng=demo.seed, depth=10)
    skip = int(flow["events"].attrs["initial_orders"]) - 1
    events, books = flow["events"].isel(event=slice(skip, None)), flow["books"].isel(time=slice(skip, None))
    return split_by_time(events, books), "no real data: a seeded zero-intelligence book stands in (machinery only)"


def _first_seconds(span: dict, seconds: float) -> dict:
    import numpy as np

    ts = span["events"]["ts_ns"].values
    end = int(np.searchsorted(ts, ts[0] + seconds * 1e9, side="right"))
    return {"events": span["events"].isel(event=slice(0, end)), "books": span["books"].isel(time=slice(0, end))}
