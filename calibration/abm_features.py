"""Which features let the realism scorecard's classifier tell an agent-market preset from the real AMZN day.

The scorecard's classifier (:mod:`simlab.metrics.discriminative`) describes windows of consecutive events by a few
features and reports one ROC-AUC over all of them. This module ranks the features one by one: for each, the
held-out ROC-AUC of the same block-split classifier trained on that feature alone (0.5: the feature does not
separate the two; 1: it alone tells them apart), and the AUC of all features but that one. The windows, the
events (the synthetic ones a level-1 LOBSTER file would record) and the window size are the scorecard's, so the
numbers are those behind its AUC.

``python -m calibration.abm_features PRESET [DATA_DIR] [SEED]`` writes ``<preset>.features.json`` beside the
preset: the ranking on the whole day (one simulated day from 09:30, as :func:`calibration.abm.score_abm_preset`)
and on the preset's fitted window cut from it.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from calibration.abm import AMZN_DAY, cut_window, load_abm_preset, scored_window
from simlab.agents import simulate_abm
from simlab.errors import ParameterError
from simlab.metrics._market import Market
from simlab.metrics.discriminative import block_split_auc, classifier_inputs, window_features
from simlab.store import write_text_atomic

N_SPLITS = 50


def scorecard_markets(synthetic: dict[str, xr.Dataset], real: dict[str, xr.Dataset]) -> tuple[Market, Market, int]:
    """The real and the synthetic :class:`Market` and the window (events) as the scorecard builds them for its
    classifier: the fewer book levels of the two, a LOBSTER file's visible levels on the synthetic side, a 40th of
    the fewer events, 20-200."""
    depth = min(synthetic["books"].sizes["level"], real["books"].sizes["level"])
    levels = real["events"].attrs.get("levels") if real["events"].attrs.get("format") == "lobster" else None
    m_syn = Market(synthetic["events"], synthetic["books"], levels=depth, source="synthetic", window_levels=levels)
    m_real = Market(real["events"], real["books"], levels=depth, source="real")
    return m_real, m_syn, int(np.clip(min(m_real.ts.size, m_syn.ts.size) // 40, 20, 200))


def feature_ranking(
    synthetic: dict[str, xr.Dataset], real: dict[str, xr.Dataset], *, seed: int, n_splits: int = N_SPLITS
) -> dict[str, Any]:
    """Rank the classifier's features by how well each alone separates ``synthetic`` from ``real``.

    Returns the window size (events), the windows of each dataset, the AUC with every feature, and per feature
    (highest single-feature AUC first) its single-feature AUC, the AUC without it, and its median in each dataset.
    """
    m_real, m_syn, size = scorecard_markets(synthetic, real)
    all_names, x_a, x_b, _ = classifier_inputs(m_real, m_syn, size)  # the scorecard's inputs
    names = list(all_names)
    a = {name: x_a[:, i] for i, name in enumerate(names)}
    b = {name: x_b[:, i] for i, name in enumerate(names)}

    def auc(keep: list[str]) -> float:
        x_real, x_syn = (np.column_stack([f[name] for name in keep]) for f in (a, b))
        return block_split_auc(x_real, x_syn, rng=np.random.default_rng(seed), n_boot=n_splits).auc

    rows = [
        {"feature": name, "auc_alone": auc([name]), "auc_without": auc([n for n in names if n != name]),
         "real_median": float(np.median(a[name])), "synthetic_median": float(np.median(b[name]))}
        for name in names
    ]  # fmt: skip
    rows.sort(key=lambda row: -row["auc_alone"])
    windows = {"real": int(x_a.shape[0]), "synthetic": int(x_b.shape[0])}
    return {"window_events": size, "windows": windows, "auc_all": auc(names), "features": rows}


SPLITS = ("halves", "half_hours", "hours")  # the real-against-real splits of :func:`real_split_auc`


def real_split_auc(real: dict[str, xr.Dataset], split: str, *, seed: int, window: int = 200, n_boot: int = 200):
    """The scorecard's classifier between two parts of one real day: how far apart the day is from itself.

    The day's windows of ``window`` events (the scorecard's features, :func:`window_features`) are parted by the
    start time of each window: ``"halves"`` the first half of the session against the second, ``"half_hours"``
    the even half hours (0, 2, ...) against the odd, ``"hours"`` the even hours against the odd. Each part is one
    side of :func:`simlab.metrics.discriminative.block_split_auc` (one ``seed``, ``n_boot`` block splits), so the
    AUC is the one a simulated day would be read with, on the day's own windows: a reference for how much of a
    simulated day's AUC a day of the same market at another time would show. Ours; the real-vs-real floor of the
    scorecard's scores (:mod:`simlab.metrics.scorecard`) read for its classifier.
    """
    if split not in SPLITS:
        raise ParameterError(f"real_split_auc: `split` must be one of {SPLITS}; got {split!r}")
    market = Market(real["events"], real["books"], levels=1, source="real")
    features = window_features(market, window)
    names = tuple(features)
    x = np.column_stack([features[name] for name in names])
    starts = market.ts[: x.shape[0] * window].reshape(x.shape[0], window)[:, 0] - market.ts[0]
    kept = ~np.isnan(x).any(axis=1)  # windows without a quoted row are left out, as the scorecard leaves them
    x, starts = x[kept], starts[kept]
    first = first_part(starts, int(market.ts[-1] - market.ts[0]), split)
    return block_split_auc(x[first], x[~first], rng=np.random.default_rng(seed), n_boot=n_boot, features=names)


def first_part(starts_ns: np.ndarray, span_ns: int, split: str) -> np.ndarray:
    """Which windows of :func:`real_split_auc` fall in its first part, from their start times (ns after the day's
    first event) and the day's span (ns): before half the span (``"halves"``), or in an even half hour or hour
    (0, 2, 4, ...) counted from the first event."""
    if split == "halves":
        return starts_ns < span_ns / 2
    if split not in SPLITS:
        raise ParameterError(f"real_split_auc: `split` must be one of {SPLITS}; got {split!r}")
    return (starts_ns // ((1800 if split == "half_hours" else 3600) * 10**9)) % 2 == 0


def rank_preset(path: str | Path, data_dir: str | Path, *, seed: int = 20260501) -> dict[str, Any]:
    """Rank the features on the whole AMZN day and on the preset's fitted window (one simulated day, ``seed``)."""
    from simlab.io.dataset import load_dataset

    config, calibration = load_abm_preset(path)
    real = load_dataset(Path(data_dir) / AMZN_DAY)
    first = int(real["events"]["ts_ns"].values[0])
    day = simulate_abm(replace(config, open_ns=first), seed=seed, duration_s=config.session_s)
    start_s, duration_s = scored_window(calibration)
    spans = {
        "day": (first, first + int(config.session_s * 1e9)),
        "window": (first + int(start_s * 1e9), first + int((start_s + duration_s) * 1e9)),
    }
    out: dict[str, Any] = {"preset": Path(path).stem, "seed": seed, "splits": N_SPLITS}
    for label, (lo, hi) in spans.items():
        out[label] = feature_ranking(cut_window(day, lo, hi), cut_window(real, lo, hi), seed=seed)
    return out


if __name__ == "__main__":  # python -m calibration.abm_features PRESET [DATA_DIR] [SEED]
    preset = Path(sys.argv[1])
    folder = Path(sys.argv[2]) if len(sys.argv) > 2 else Path("../shared/data")
    document = rank_preset(preset, folder, seed=int(sys.argv[3]) if len(sys.argv) > 3 else 20260501)
    out = preset.with_name(preset.stem + ".features.json")
    write_text_atomic(out, json.dumps(document, indent=1) + "\n")
    for label in ("day", "window"):
        part = document[label]
        print(f"{label}: AUC {part['auc_all']:.3f} ({part['window_events']}-event windows)")
        for row in part["features"]:
            print(f"  {row['feature']:22s} alone {row['auc_alone']:.3f} without {row['auc_without']:.3f} "
                  f"median real {row['real_median']:.4g} synthetic {row['synthetic_median']:.4g}")  # fmt: skip
