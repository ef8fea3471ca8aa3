"""The demo's book step: simulate the AMZN zero-intelligence and queue-reactive presets, compare, export LOBSTER."""

from __future__ import annotations

from pathlib import Path
from typing import Any

DURATION_S = 1800.0
PRESETS = ("zi-amzn", "qr-amzn")
AMZN = "lobster_samples/AMZN_2012-06-21_level1_fullday"
MIX = ("limit", "cancel", "market")
KS_KEYS = ("spread_ticks", "l1_queue_lots", "imbalance", "interarrival_s", "mid_return_ticks")


def book_step(demo: Any, data_dir: Path | None = None) -> dict[str, Any]:
    """Simulate 30 min of each AMZN book preset, compare it with the real AMZN day and export a LOBSTER pair.

    With the AMZN LOBSTER day under ``data_dir`` the simulated statistics are compared with the real ones
    (:func:`simlab.book.stats.compare_statistics`); without it, with the real numbers recorded in each preset.
    The zero-intelligence run is written as a LOBSTER message and orderbook pair under ``lobster/`` in the demo
    folder, and read back to check it. Returns the step's metrics.
    """
    from calibration.book_presets import load_book_preset, preset_statistics, simulate_book_preset
    from simlab.book.export import export_lobster
    from simlab.book.stats import book_statistics, compare_statistics
    from simlab.io.lobster import read_lobster

    real = _real_statistics(data_dir, book_statistics)
    reference = "the real AMZN day" if real else "the real-day numbers recorded in each preset"
    metrics: dict[str, Any] = {
        "about": f"30 minutes of each AMZN book preset (zero-intelligence, queue-reactive) simulated and compared "
        f"with {reference}: each real/sim row sets the real value beside the simulated one, and the KS distances "
        f"(0: same distribution, 1: disjoint) compare whole distributions.",
        "real data": "AMZN 2012-06-21 level 1" if real else "numbers recorded in the presets",
    }
    exported = None
    for offset, name in enumerate(PRESETS):
        preset = load_book_preset(name)
        simulated = simulate_book_preset(preset, DURATION_S, rng=demo.seed + offset)
        stats = preset_statistics(preset, simulated)
        metrics.update(_rows(preset, stats, compare_statistics(real, stats) if real else None))
        if exported is None:
            exported = export_lobster(simulated["events"], simulated["books"], demo.output / "lobster")
            back = read_lobster(*exported)
            same = back["books"]["bid_price"].values.tolist() == simulated["books"]["bid_price"].values.tolist()
            metrics[f"{name} LOBSTER export"] = f"{exported[0].name} ({back['events'].sizes['event']} rows, "
            metrics[f"{name} LOBSTER export"] += "read back equal)" if same else "read back DIFFERENT)"
    return metrics


def _real_statistics(data_dir: Path | None, book_statistics) -> dict[str, Any] | None:
    folder = Path(data_dir) / AMZN if data_dir is not None else None
    if folder is None or not folder.is_dir():
        return None
    from simlab.io import read

    data = read(sorted(folder.glob("*.csv")), "lobster")
    return book_statistics(data["events"], data["books"])


def _rows(preset: Any, stats: dict[str, Any], table: dict[str, Any] | None) -> dict[str, str]:
    """The step's numbers for one preset: this run's statistics against the real ones (or the recorded ones)."""
    reference = table or preset.comparison  # its *_real numbers are the real day's either way
    name, rows = preset.name, {f"{preset.name} events (30 min)": str(stats["book_rows"])}
    for key, label, digits in (
        ("spread_ticks", "mean spread (ticks)", 2),
        ("l1_queue_lots", "mean L1 queue (lots)", 1),
    ):
        rows[f"{name} {label} real/sim"] = f"{reference[key]['mean_real']:.{digits}f}/{stats[key].mean():.{digits}f}"
    mix = stats["event_mix"]
    rows[f"{name} limit/cancel/market real"] = "/".join(f"{reference['event_mix'][f'{k}_share_real']:.3f}" for k in MIX)
    rows[f"{name} limit/cancel/market sim"] = "/".join(f"{mix[f'{k}_share']:.3f}" for k in MIX)
    acf = stats["return_acf"][0]
    rows[f"{name} return ACF lag 1 real/sim"] = f"{reference['return_acf']['real'][0]:+.3f}/{acf:+.3f}"
    ks = ", ".join(f"{key} {reference[key]['ks']:.3f}" for key in KS_KEYS)
    rows[f"{name} KS distances" + ("" if table else " (recorded 6.5 h run)")] = ks
    return rows
