"""The demo's scorecard step: score 30 minutes of the AMZN zero-intelligence and queue-reactive books against real
data (12:00-12:30 New York time, away from the open and the close: the presets are stationary models of the day)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

DURATION_S = 1800.0
START_S = 9000.0  # 12:00 New York time, 2.5 h after the open of the AMZN day
PRESETS = ("zi-amzn", "qr-amzn")
AMZN = "lobster_samples/AMZN_2012-06-21_level1_fullday"
N_BOOT = 100


def score_step(demo: Any, data_dir: Path | None = None) -> dict[str, Any]:
    """Score 30 simulated minutes of each AMZN book preset against 30 real minutes; write the reports.

    The real data is the AMZN LOBSTER day under ``data_dir``, cut to 12:00-12:30 New York time; the simulations
    start at the same time. Without it, each preset is scored against another seeded run of the zero-intelligence
    preset, labelled as such: the step then shows the machinery, not realism. Each preset's ``scores.json``,
    ``scores.zarr`` and ``report.html`` go under ``score/<preset>/`` in the demo folder. Returns the step's metrics.
    """
    from calibration.book_presets import load_book_preset, simulate_book_preset
    from scenarios.score.runner import summary, write_outputs
    from simlab.metrics.scorecard import score

    real = _real_hour(data_dir)
    real_data = real is not None
    label = "AMZN 2012-06-21 12:00-12:30 (LOBSTER level 1)"
    if real is None:
        reference = load_book_preset("zi-amzn")
        start_ns = int(reference.simulation["start_ns"] + START_S * 1e9)
        real = simulate_book_preset(reference, DURATION_S, rng=demo.seed + 100, start_ns=start_ns)
        label = "no real data: a second zi-amzn run stands in (machinery only)"
    against = "30 real minutes" if real_data else "a second zi-amzn run standing in for real data (machinery only)"
    metrics: dict[str, Any] = {
        "about": f"Each AMZN book preset's 30 simulated minutes scored against {against} with the realism "
        f"scorecard: mean L1 and W1 distances (0: identical) with 99% intervals, the classifier's ROC-AUC (0.5: "
        f"it cannot tell them apart) and three L1 scores beside their real-vs-real floor; the full reports are "
        f"under score/.",
        "real data": label,
    }
    for offset, name in enumerate(PRESETS):
        start_ns = int(real["events"]["ts_ns"].values[0])
        simulated = simulate_book_preset(load_book_preset(name), DURATION_S, rng=demo.seed + offset, start_ns=start_ns)
        card = score(simulated, real, seed=demo.seed, n_boot=N_BOOT)
        config = {"preset": name, "duration_s": DURATION_S, "real": label, "n_boot": N_BOOT}
        write_outputs(
            card, demo.output / "score" / name, seed=demo.seed, config=config, title=f"{name} against {label}"
        )
        for key, value in summary(card).items():
            metrics[f"{name} {key}"] = value
        rows = {(r.quantity, r.metric): r.distance for r in card.rows}
        for quantity in ("spread_ticks", "log10_interarrival_s", "bid_volume_l1"):
            distance = rows.get((quantity, "l1"))
            if distance is not None:
                metrics[f"{name} L1 {quantity} (floor)"] = f"{distance.value:.3f} ({distance.floor:.3f})"
    return metrics


def _real_hour(data_dir: Path | None, offset_s: float = 0.0) -> dict[str, Any] | None:
    """The real AMZN day's window of ``DURATION_S`` from ``START_S + offset_s`` after its first event (None without
    the data)."""
    folder = Path(data_dir) / AMZN if data_dir is not None else None
    if folder is None or not folder.is_dir():
        return None
    from simlab.io import read

    data = read(sorted(folder.glob("*.csv")), "lobster")
    ts = data["events"]["ts_ns"].values
    span = START_S + offset_s + np.array([0.0, DURATION_S])
    first, last = np.searchsorted(ts, ts[0] + span * 1e9).astype(int)
    window = slice(int(first), int(last))
    return {"events": data["events"].isel(event=window), "books": data["books"].isel(time=window)}
