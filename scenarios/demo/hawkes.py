"""The demo's Hawkes step: simulate the shipped Binance BTCUSDT preset and check it against its closed forms."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

PRESET = "binance-usdm-btcusdt"
DURATION_S = 600.0
N_PATHS = 4
OFI_BIN_S = 1.0


def hawkes_step(demo: Any, data_dir: Path | None = None) -> dict[str, Any]:
    """Simulate 4 paths of 10 min from the BTCUSDT preset into ``hawkes_btcusdt.zarr``; return the step's metrics.

    The metrics compare the simulated rate of each dimension with the preset's stationary intensity (closed
    form, with a z-score from the closed-form count variance), and the count OFI on 1 s bins with the real
    data's held-out OFI recorded in the preset. ``data_dir`` is not read (the preset is committed); it is taken so
    that every demo step has one signature.
    """
    from calibration.hawkes_data import count_ofi
    from calibration.presets import load_preset, simulate_to_store
    from simlab.hawkes.closed_form import count_variance, stationary_intensity
    from simlab.store import list_groups, load_store

    preset = load_preset(PRESET)
    params = preset.params
    store = demo.output / "hawkes_btcusdt.zarr"
    summary = simulate_to_store(preset, store, DURATION_S, n_paths=N_PATHS, seed=demo.seed, overwrite=True)
    counts, ofi = [], []
    for group in list_groups(store):
        events = load_store(store, group)
        seconds = (events["ts_ns"].values - events["ts_ns"].values[:1]) / 1e9 if events.sizes["event"] else []
        dims = events["dimension"].values
        times = [np.asarray(seconds)[dims == i] for i in range(params.dimension)]
        counts.append([t.size for t in times])
        ofi.append(count_ofi(times, params.names, DURATION_S, OFI_BIN_S))
    counts, ofi = np.array(counts, dtype=float), np.concatenate(ofi)
    expected = stationary_intensity(params) * DURATION_S
    z = (counts.mean(axis=0) - expected) / np.sqrt(count_variance(params, DURATION_S) / N_PATHS)
    real = preset.validation["ofi_real"]
    return {
        "about": "Four 10-minute paths simulated from the Hawkes preset fitted to Binance USD-M BTCUSDT trades and "
        "checked against its closed forms: the simulated and stationary rates should agree (count z-scores, in "
        "standard errors, within about 2 of 0), and the 1 s OFI is set beside the real held-out OFI recorded in the "
        "preset.",
        "preset": f"{preset.name} (branching ratio {params.branching_ratio:.3f})",
        "paths x duration": f"{N_PATHS} x {DURATION_S:.0f} s",
        "events": summary["events"],
        "rate buy/sell simulated (1/s)": "/".join(f"{c / DURATION_S:.3f}" for c in counts.mean(axis=0)),
        "rate buy/sell stationary (1/s)": "/".join(f"{v / DURATION_S:.3f}" for v in expected),
        "count z-scores": "/".join(f"{v:+.2f}" for v in z),
        "OFI 1 s mean/std simulated": f"{ofi.mean():+.3f}/{ofi.std():.3f}",
        "OFI 1 s mean/std real (held-out)": f"{real['mean']:+.3f}/{real['std']:.3f}",
        "store": store.name,
    }
