"""The demo's generator step: train the tiny diffusion model briefly on the AAPL hour (or load the one trained earlier
in this demo folder), sample a path from the start of the held-out span and score it against that span."""

from __future__ import annotations

from pathlib import Path
from typing import Any

SPEC = Path(__file__).resolve().parents[1] / "library" / "generate_aapl_tiny.toml"
TRAIN_STEPS = 30
SAMPLE_S = 30.0
N_BOOT = 50


def generate_step(demo: Any, data_dir: Path | None = None) -> dict[str, Any]:
    """Train (a few steps) or load the tiny generator, sample ``SAMPLE_S`` seconds and score them; return metrics.

    With the AAPL files under ``data_dir`` the model learns from the hour's first 60 % and the sample is scored
    against the first ``SAMPLE_S`` seconds of its held-out last 20 %. Without them a seeded zero-intelligence book
    stands in for the data, labelled as such (the step then shows the machinery, not realism). A model already in
    ``generate/`` of the demo folder (trained by an earlier run, any number of steps) is loaded instead of trained.
    """
    from generators.config import preset
    from generators.diffusion import DiffusionGenerator
    from scenarios.score.runner import summary, write_outputs
    from simlab.metrics.scorecard import score

    spans, label = _spans(demo, data_dir)
    folder = demo.output / "generate"
    model_path = folder / "diffusion-tiny.model"
    about = (
        "A small conditional diffusion model (a transformer denoiser over the last messages and the book) trained for "
        "a few steps on the training span, or reloaded from an earlier run, then sampled message by message through "
        "the matching engine and scored against the held-out span on the realism scorecard; with so little training "
        "this shows the pipeline, and its distances are expected far above the real-vs-real floor."
    )
    metrics: dict[str, Any] = {"about": about, "data": label}
    if (model_path / "config.json").exists():
        generator = DiffusionGenerator.load(model_path)
        metrics["model"] = f"loaded {model_path} ({generator.training_.step} training steps)"
    else:
        config = preset("tiny", max_steps=TRAIN_STEPS, eval_every=TRAIN_STEPS // 2, validation_blocks=256)
        generator = DiffusionGenerator(config, device="cpu")
        generator.fit({"train": spans["train"], "validation": spans["validation"]}, seed=demo.seed)
        generator.save(model_path)
        state = generator.training_
        metrics["model"] = f"trained {state.step} steps (validation loss {state.best_loss:.4f}) -> {model_path}"
    (path,) = generator.sample(1, SAMPLE_S, generator=demo.seed)
    real = _first_seconds(spans["test"], SAMPLE_S)
    card = score(path, real, seed=demo.seed, n_boot=N_BOOT, known_depth=True)  # a replayed span: unknown depth
    config = {"model": str(model_path), "sample_s": SAMPLE_S, "data": label, "n_boot": N_BOOT}
    write_outputs(card, folder / "score", seed=demo.seed, config=config, title=f"diffusion generator against {label}")
    attrs = path["events"].attrs
    metrics["messages applied / rejected and resampled"] = f"{attrs['applied']} / {attrs['rejected']}"
    metrics.update(summary(card))
    return metrics


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
