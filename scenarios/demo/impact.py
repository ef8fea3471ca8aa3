"""The demo's metaorder-impact step: one-hour TWAP buys of three sizes in the calibrated agent market
(abm-amzn-v26, docs/agents_skew_rounding.md) on two seeds, their impact paths during and after the metaorder, and
the stored held-out record of the same protocol (48 fresh seeds each, judged here by the committed criteria).

Two seeds and three sizes are a demonstration of the machinery, not a test of the square-root law: the held-out
rows beside them are the test (docs/agents_decay_plateau.md for the path after the end).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from scenarios.report_html import PLOT_STYLE, format_interval

PRESET = "abm-amzn-v26"
FRACTIONS = np.array([1e-3, 1e-2, 1e-1])  # Q/V: metaorder sizes as fractions of the day's volume
SEED_OFFSETS = (200, 201)  # the step's seeds: the demo's root seed plus these
WINDOW = {"start_s": 3600.0, "duration_s": 3600.0, "after_s": 1800.0, "interval_s": 30.0, "sample_s": 10.0}
HELD_OUT = {  # the stored held-out runs of the same protocol (buys), judged afresh by the committed criteria
    "30 min watched (seeds 2400-2447)": "abm-amzn-v26.twap-buy.json",
    "60 min watched (seeds 2800-2847)": "abm-amzn-v26.twap-buy-watch60.json",
}
TITLE = "Metaorder impact in the calibrated agent market: one-hour TWAP buys"


def impact_step(demo: Any, config: Any = None, fractions: np.ndarray = FRACTIONS, **window: float) -> dict[str, Any]:
    """Run the TWAP buys of ``fractions`` on the demo's two seeds in ``config`` (default: the abm-amzn-v26 preset),
    store them (``abm/impact.zarr``), plot their mean impact paths and peaks (``abm_impact.png``, kept in
    ``demo.figures``) and return the step's metrics with the held-out record. ``window`` overrides :data:`WINDOW`
    (tests use a short market)."""
    from calibration.abm import load_abm_preset
    from calibration.presets import PRESET_DIR
    from simlab.agents.impact import metaorder_impact

    if config is None:
        config = load_abm_preset(PRESET_DIR / f"{PRESET}.toml")[0]
    times, fractions = {**WINDOW, **window}, np.asarray(fractions, dtype=float)
    seeds = [demo.seed + offset for offset in SEED_OFFSETS]
    result = metaorder_impact(config, fractions, seeds=seeds, strategy="twap", side=1, **times)
    run = {"preset": config.name, "seeds": seeds, "fractions": [float(f) for f in fractions], **times}
    demo.save("abm/impact.zarr", result, run)
    figure = plot_impact(result, demo.output / "abm_impact.png")
    about = (
        "The mean impact of the two seeds' metaorders (against the metaorder, in bps of the paired baseline's mid) "
        "over time, the one-hour TWAP's end marked; on the right the peak against the size Q/V on log axes with a "
        "square-root line through the middle size."
    )
    demo.figures.append((TITLE + ": impact paths", about, figure))
    peak, after = (result[name].values.mean(axis=0) for name in ("peak_bps", "after_bps"))
    minutes = times["after_s"] / 60
    metrics: dict[str, Any] = {
        "about": (
            f"TWAP buys of {', '.join(f'{f:g}' for f in fractions)} of the day's volume over "
            f"{times['duration_s'] / 60:g} min in {config.name} (from {times['start_s'] / 60:g} min after the open, "
            f"children every {times['interval_s']:g} s) on two seeds, each against its seed's run "
            "without the metaorder; two seeds show the machinery, not the law: the held-out rows (48 fresh seeds "
            "each, stored, judged here by the committed criteria) are the test, and the square-root band is "
            "[0.4, 0.65]."
        ),
        "market": config.name,
        "seeds": ", ".join(str(s) for s in seeds),
    }
    for i, fraction in enumerate(fractions):
        metrics[f"Q/V {fraction:g}: peak / {minutes:g} min after (bps, mean of 2 seeds)"] = (
            f"{peak[i]:.1f} / {after[i]:.1f}"
        )
    metrics[f"log-log exponent over these {fractions.size} sizes (2 seeds: not a test)"] = round(
        float(result.attrs["exponent"]), 3
    )
    if config.name == PRESET:
        metrics.update(held_out_rows(PRESET))
    return metrics


def held_out_rows(preset: str) -> dict[str, str]:
    """The held-out record of ``preset``'s one-hour TWAP buys (:data:`HELD_OUT`), each stored file judged afresh:
    the weighted and log-log exponents with their 95 % intervals, the verdict, and where the rows keep their paths
    after the end, the plateau reading (docs/agents_decay_plateau.md)."""
    from calibration.abm_metaorders import judge, merge
    from calibration.presets import PRESET_DIR

    rows: dict[str, str] = {}
    for label, name in HELD_OUT.items():
        path = PRESET_DIR / name.replace(PRESET, preset)
        if not path.is_file():
            continue
        verdict = judge(*merge([json.loads(path.read_text())], [str(path)]))
        low, high = verdict["exponent_interval_95"]
        ll_low, ll_high = verdict["loglog_exponent_interval_95"]
        rows[f"held out, {label}: weighted exponent (95 % interval)"] = format_interval(
            verdict["exponent"], low, high, digits=".3f"
        )
        rows[f"held out, {label}: log-log exponent, the issue's regression (95 % interval)"] = format_interval(
            verdict["loglog_exponent"], ll_low, ll_high, digits=".3f"
        )
        band = "inside" if 0.4 <= ll_low and ll_high <= 0.65 else "not inside"
        rows[f"held out, {label}: verdict"] = (
            f"weighted criterion {'passes' if verdict['criteria']['band'] else 'fails'}; log-log interval {band} "
            "[0.4, 0.65]"
        )
        level = verdict.get("plateau")
        if level is not None:
            share_low, share_high = level["last_third_share_interval_95"]
            rows[f"held out, {label}: share of the fall in the watch's last third (95 % interval; a line: 1/3)"] = (
                format_interval(
                    level["last_third_share"], share_low, np.inf if share_high is None else share_high, digits=".3f"
                )  # fmt: skip
            )
            rows[f"held out, {label}: impact at the end of the watch, share of the peak"] = (
                f"{level['top_path_bps'][-1] / level['top_path_bps'][0]:.2f}"
            )
    return rows


def plot_impact(result: Any, path: Path) -> Path:
    """Two panels: the mean impact path of each size over time (minutes from the metaorder's start, the end
    marked) and the mean peak against Q/V on log axes with a square-root line through the middle size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fractions = result["fraction"].values
    minutes = result["time_s"].values / 60
    impact = result["impact_bps"].values.mean(axis=0)
    peak = result["peak_bps"].values.mean(axis=0)
    end = result.attrs["duration_s"] / 60
    with matplotlib.rc_context(PLOT_STYLE):
        fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
        for fraction, curve in zip(fractions, impact, strict=True):
            left.plot(minutes, curve, lw=1.0, label=f"Q/V = {fraction:g}")
        left.axvline(end, color="grey", ls="--", lw=0.8, label="the TWAP's end")
        left.axhline(0.0, color="black", lw=0.5)
        left.set_xlabel("minutes since the metaorder's start (min)")
        left.set_ylabel("impact against the metaorder (bps)")
        left.set_title("mean impact path over the seeds")
        left.legend()
        shown = peak > 0
        right.loglog(fractions[shown], peak[shown], "o-", label="mean peak")
        middle = fractions.size // 2
        if peak[middle] > 0:
            right.loglog(fractions, peak[middle] * np.sqrt(fractions / fractions[middle]), "k:", label="square root")
        right.set_xlabel("metaorder size Q/V (share of the day's volume)")
        right.set_ylabel("peak impact (bps)")
        right.set_title("peak impact against size")
        right.legend()
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
    return path
