"""The demo's metaorder-impact step: one-hour TWAP buys of three sizes in the calibrated agent market
(abm-amzn-v26, docs/agents_skew_rounding.md) on two seeds, their impact paths during and after the metaorder, and
the stored held-out record of the same protocol (48 fresh seeds each, judged here by the committed criteria).

Two seeds and three sizes are a demonstration of the machinery, not a test of the square-root law: the held-out
rows beside them are the test (docs/agents_decay_plateau.md for the path after the end).
"""

from __future__ import annotations

import json
from hashlib import sha256
from pathlib import Path
from typing import Any

import numpy as np

from calibration.abm_metaorders import BAND
from scenarios.report_html import PLOT_STYLE, format_interval
from simlab.errors import DataError, ParameterError

PRESET = "abm-amzn-v26"
FRACTIONS = np.array([1e-3, 1e-2, 1e-1])  # Q/V: metaorder sizes as fractions of the day's volume
SEED_OFFSETS = (200, 201)  # the step's seeds: the demo's root seed plus these
WINDOW = {"start_s": 3600.0, "duration_s": 3600.0, "after_s": 1800.0, "interval_s": 30.0, "sample_s": 10.0}
# the stored held-out runs of the same protocol, calibration/presets/PRESET.NAME.json (30, 60 and 180 min watched)
HELD_OUT = ("twap-buy", "twap-buy-watch60", "twap-buy-watch180")
TITLE = "Metaorder impact in the calibrated agent market: one-hour TWAP buys"


def impact_step(demo: Any, config: Any = None, fractions: np.ndarray = FRACTIONS, **window: float) -> dict[str, Any]:
    """Run the TWAP buys of ``fractions`` on the demo's two seeds in ``config`` (default: the abm-amzn-v26 preset),
    store them (``abm/impact.zarr``), plot their mean impact paths and peaks (``abm_impact.png``, kept in
    ``demo.figures``) and return the step's metrics, with the preset's held-out record when ``config`` is the
    preset. ``window`` overrides :data:`WINDOW` (tests use a short market)."""
    from calibration.abm import load_abm_preset
    from calibration.presets import PRESET_DIR
    from simlab.agents.impact import metaorder_impact

    unknown = sorted(set(window) - set(WINDOW))
    if unknown:
        raise ParameterError(f"impact_step: window keys {unknown} are not among {sorted(WINDOW)}")
    run: dict[str, Any] = {}
    if config is None:
        text = (PRESET_DIR / f"{PRESET}.toml").read_bytes()
        config, run = load_abm_preset(PRESET_DIR / f"{PRESET}.toml")[0], {"preset_sha256": sha256(text).hexdigest()}
    times, fractions = {**WINDOW, **window}, np.asarray(fractions, dtype=float)
    seeds = [demo.seed + offset for offset in SEED_OFFSETS]
    result = metaorder_impact(config, fractions, seeds=seeds, strategy="twap", side=1, **times)
    run.update(market=config.name, seeds=seeds, fractions=[float(f) for f in fractions], **times)
    demo.save("abm/impact.zarr", result, run)
    figure, left_out = plot_impact(result, demo.output / "abm_impact.png")
    about = (
        "The mean impact of the two seeds' metaorders (against the metaorder, in bps of the paired baseline's mid) "
        "over time, the TWAP's end marked; on the right the mean peak against the size Q/V on log axes with a "
        "square-root line through the middle size"
        + (f" (sizes {left_out} left out of the log axes: their mean peak is not positive)." if left_out else ".")
    )
    duration = times["duration_s"] / 60
    demo.figures.append((f"Metaorder impact in {config.name}: TWAP buys over {duration:g} min", about, figure))
    peak, after = (result[name].values.mean(axis=0) for name in ("peak_bps", "after_bps"))
    exponent = float(result.attrs["exponent"])
    metrics: dict[str, Any] = {
        "about": (
            f"TWAP buys of {', '.join(f'{f:g}' for f in fractions)} of the day's volume over {duration:g} min in "
            f"{config.name} (from {times['start_s'] / 60:g} min after the open, children every "
            f"{times['interval_s']:g} s) on two seeds, each against its seed's run without the metaorder; two seeds "
            "show the machinery, not the law: the held-out rows (stored runs on fresh seeds, judged here by the "
            f"committed criteria) are the test, and the square-root band is [{BAND[0]}, {BAND[1]}]."
        ),
        "market": config.name,
        "seeds": ", ".join(str(s) for s in seeds),
    }
    for i, fraction in enumerate(fractions):
        metrics[f"Q/V {fraction:g}: peak / {times['after_s'] / 60:g} min after (bps, mean of 2 seeds)"] = (
            f"{peak[i]:.1f} / {after[i]:.1f}"
        )
    metrics[f"log-log exponent over these {fractions.size} sizes (2 seeds: not a test)"] = (
        f"{exponent:.3f}" if np.isfinite(exponent) else "undefined (fewer than two sizes with a positive mean peak)"
    )
    if run.get("preset_sha256"):
        metrics.update(held_out_rows(PRESET))
    return metrics


def held_out_rows(preset: str, folder: Path | None = None, names: tuple[str, ...] = HELD_OUT) -> dict[str, str]:
    """The held-out record of ``preset``'s TWAP buys: each stored file ``folder/preset.NAME.json`` (the presets'
    folder by default) judged afresh by :func:`calibration.abm_metaorders.judge`: the weighted and the log-log
    exponents with their 95 % intervals and the judge's verdict; where the rows keep their paths after the end, the
    plateau reading of docs/agents_decay_plateau.md, whose rule makes decay and levelling the verdict and the band
    a reading. A file that is missing or was measured on another version of the preset is refused."""
    from calibration.abm_metaorders import judge, merge
    from calibration.presets import PRESET_DIR

    folder = PRESET_DIR if folder is None else Path(folder)
    text = (folder / f"{preset}.toml").read_bytes()
    rows: dict[str, str] = {}
    for name in names:
        path = folder / f"{preset}.{name}.json"
        if not path.is_file():
            raise DataError(f"held_out_rows: the held-out record {path} is not stored; expected a run file of {preset}")
        document = json.loads(path.read_text())
        if document.get("preset_sha256") != sha256(text).hexdigest():
            raise DataError(f"held_out_rows: {path} was measured on another version of {preset}.toml (its SHA-256 "
                            f"{document.get('preset_sha256')!r} is not the file's)")  # fmt: skip
        verdict = judge(*merge([document], [str(path)]))
        label = (f"held out, seeds {verdict['first_seed']}-{verdict['last_seed']} ({verdict['seeds']}), "
                 f"{verdict['after_s'] / 60:g} min watched")  # fmt: skip
        low, high = verdict["exponent_interval_95"]
        ll, (ll_low, ll_high) = verdict["loglog_exponent"], verdict["loglog_exponent_interval_95"]
        inside = BAND[0] <= ll <= BAND[1] and BAND[0] <= ll_low and ll_high <= BAND[1]
        level = verdict.get("plateau")
        kind = "band reading" if level is not None else "exponent"
        rows[f"{label}: {kind}, weighted fit (95 % interval)"] = format_interval(verdict["exponent"], low, high,
                                                                                digits=".3f")  # fmt: skip
        rows[f"{label}: log-log exponent, the issue's regression (95 % interval)"] = (
            f"{format_interval(ll, ll_low, ll_high, digits='.3f')}, {'inside' if inside else 'not inside'} "
            f"[{BAND[0]}, {BAND[1]}]"
        )
        if level is None:
            failed = [k for k, ok in verdict["criteria"].items() if not ok]
            rows[f"{label}: verdict (the committed criteria)"] = (
                "passes" if verdict["passes"] else f"fails {failed}" if verdict["passes"] is False else "not judged"
            ) + (" (provisional: fewer seeds than planned)" if verdict["provisional"] else "")
            continue
        shown = verdict["criteria"]["decay"] and level["levels_off"] and not verdict["provisional"]
        rows[f"{label}: verdict by its rule at Q/V {document['fractions'][-1]:g}"] = (
            "shown: a decay whose decline slows, a part more than 2 SE above 0 left (not a level reached)"
            if shown
            else "not shown"
        )
        for key, words in (("last_third_share", "the watch's last third"),
                           ("share_from_first_step", "the last third, from the first minute")):  # fmt: skip
            a, b = level[f"{key}_interval_95"]
            rows[f"{label}: share of the fall in {words} (95 % interval; a straight decline gives 1/3)"] = (
                f"{level[key]:.3f} [{_end(a)}, {_end(b)}]"
            )
        rows[f"{label}: impact at the watch's end, share of the peak at Q/V {document['fractions'][-1]:g}"] = (
            f"{verdict['top_after_share_of_peak']:.2f} ({verdict['top_after_se_units']:.1f} SE above 0)"
        )
    return rows


def _end(value: float | None) -> str:
    return "unbounded (some resamples did not fall)" if value is None else f"{value:.3f}"


def impact_figure(result: Any) -> tuple[Any, list[float]]:
    """Two panels: the mean impact path of each size over time (minutes from the metaorder's start, the end
    marked) and the mean peak against Q/V on log axes with a square-root line through the middle size (when its
    mean peak is positive). Returns the figure and the sizes left off the log axes (mean peak not positive)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fractions = result["fraction"].values
    minutes = result["time_s"].values / 60
    impact = result["impact_bps"].values.mean(axis=0)
    peak = result["peak_bps"].values.mean(axis=0)
    end = result.attrs["duration_s"] / 60
    shown = peak > 0
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
        right.set_xscale("log")
        right.set_yscale("log")
        if shown.any():
            right.plot(fractions[shown], peak[shown], "o-", label="mean peak")
        middle = fractions.size // 2
        if peak[middle] > 0:
            right.plot(fractions, peak[middle] * np.sqrt(fractions / fractions[middle]), "k:", label="square root")
        right.set_xlabel("metaorder size Q/V (share of the day's volume)")
        right.set_ylabel("peak impact (bps)")
        right.set_title("peak impact against size")
        if shown.any():
            right.legend()
        fig.tight_layout()
    return fig, [float(f) for f in fractions[~shown]]


def plot_impact(result: Any, path: Path) -> tuple[Path, list[float]]:
    """Save :func:`impact_figure` to ``path``; return the path and the sizes left off the log axes."""
    import matplotlib.pyplot as plt

    fig, left_out = impact_figure(result)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path, left_out
