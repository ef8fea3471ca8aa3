"""`simlab stress report`: one HTML page over stress evaluations (``simlab stress evaluate`` stores).

The page opens with a summary that says, from the numbers, which forecasters and which fee designs hold up in which
crash; then one section per crash: its paths over time (price against the template's trough band, depth, spread,
liquidations), its shape statistics against the template's tolerance and the real stress windows, and its
forecaster and fee-design tables; then the real stress windows. The markdown is written first (``report.md``) and
turned into HTML by the shared renderer (:mod:`scenarios.report_html`); figures are PNG files beside it.

Verdicts, worded from 95 % intervals only:

* a **fee design** holds up in a crash when the paired change of its LP P&L (crash minus the same paths' normal
  day, :func:`scenarios.stress.amm.degradation_table`) has an interval that contains 0 ("indistinguishable from its
  normal day") or lies above 0 ("gains"); below 0 it "loses";
* a **forecaster** holds up when its skill in the crash (mean over the crash paths, t interval over paths) overlaps
  its normal-day skill interval ("indistinguishable"); a crash interval below it "degrades", above it "improves".
  Whether the crash skill interval lies above 0 says whether it still beats the training mean there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from scenarios.report_html import PLOT_STYLE, format_interval, markdown_table, markdown_to_html, page
from simlab.errors import DataError
from simlab.metrics.crash import STATISTICS, UNITS
from simlab.store import write_text_atomic

ABOUT = {
    "summary": "Which forecasters and fee designs hold up in which crash, read from 95 % intervals only: a fee "
    "design holds up when its paired LP P&L change (crash minus the same paths' normal day) does not fall below 0, "
    "a forecaster when its crash skill interval overlaps its normal-day skill interval; overlapping intervals are "
    "called indistinguishable.",
    "crash": "The simulated episode: how many paths, its world, when the shock starts and the fitted shock values "
    "it ran with.",
    "paths": "Median (line) and 5-95 % band (shade) over paths of the price relative to its pre-event level, the "
    "depth within 10 bps, the spread and the liquidations since the open, against minutes from the event "
    "(simulated); the orange box is the template's trough (drawdown and time to trough, each +- its tolerance).",
    "shapes": "Each shape statistic's mean over paths with its 95 % interval, the template's value and tolerance, "
    "the share of paths inside the tolerance, and the range of the same statistic over the real stress windows "
    "(times in real seconds, after the episode's time compression).",
    "forecast": "The forecasters trained on the crash's normal day, scored on its later normal windows and on the "
    "crash window of each re-simulated crash path (centred on its trough unless the spec anchors it at the "
    "event): loss (squared error of the next window's order-flow imbalance), skill (1 - loss / the training mean's "
    "loss: 0 is no better than that mean) and directional accuracy, each with its 95 % interval (normal: "
    "Newey-West over windows; crash: over paths), and on how many crash paths a two-sample test of the loss "
    "against the normal day finds it higher or lower at the 5 % level.",
    "amm": "Every fee design on the crash's mid paths and on the same paths' normal day (bps of the pool's initial "
    "value, mean [95 % interval] over paths): LP P&L against holding, the paired change the crash causes, LVR, "
    "CVaR 5 % of LP P&L, the real Uniswap v3 USDC/WETH replay per day, and the designs' ranks by LP P&L.",
    "stableswap": "In this depeg the designs run on the episode's own pool, a {pool}; the crash is the store's run "
    "(the holders sell their coins into the pool whatever the fee, while the coins' outside price falls), the normal "
    "day the same pool with the peg held; both with the AMM lab's arbitrageur and noise traders. The real v3 replay "
    "is a constant-product pool.",
    "flips": "Where the ranking by LP P&L moves against the normal day: Spearman's rank correlation per table and "
    "every pair of designs whose order flips (significant: intervals disjoint in both tables).",
    "runs": "Forecasters in crashes outside the library (forecaster stress runs, e.g. on the real stress windows of "
    "a tape): each model trained on the run's normal window, its skill there and in each crash window (mean [95 % "
    "Newey-West interval] over forecast windows), and the verdict from the two intervals.",
    "windows": "The most extreme 1-, 5- and 15-minute moves of the real tapes with their shape statistics: the "
    "real-data baseline the simulated crashes are compared with.",
}
WINDOW_COLUMNS = ("drawdown", "time_to_trough_s", "half_life_s", "recovered_1min", "min_depth_ratio",
                  "max_spread_ratio", "volume_ratio")  # fmt: skip


@dataclass(frozen=True)
class Evaluation:
    """One evaluation store's groups, by name, and its attributes."""

    path: Path
    groups: dict[str, xr.Dataset]
    attrs: dict[str, Any]

    @property
    def name(self) -> str:
        """Return the crash's scenario name."""
        return str(self.attrs["scenario"])


def read_evaluation(path: str | Path) -> Evaluation:
    """Read a ``simlab stress evaluate`` store; anything else is one DataError sentence naming the store."""
    from scenarios.stress.evaluate import store_groups
    from simlab.store import load_store

    path = Path(path)
    names = store_groups(path, "stress evaluation", "simlab stress evaluate", ("paths_band", "statistics"),
                         " (a stress store is evaluated first)")  # fmt: skip
    groups = {name: load_store(path, name) for name in names}
    return Evaluation(path, groups, dict(groups["paths_band"].attrs))


def _iv(row: np.ndarray, digits: str = ".3g") -> str:
    if np.isnan(row[0]):
        return "n/a"
    if np.isnan(row[1]):
        return f"{row[0]:{digits}}"
    return format_interval(float(row[0]), float(row[1]), float(row[2]), digits=digits)


def design_verdict(change: np.ndarray) -> str:
    """Return the verdict on a fee design from its paired LP P&L change ``(mean, lo, hi)`` in a crash."""
    if np.isnan(change).any():
        return "untested (no interval: one path)"
    if change[2] < 0:
        return f"loses {-change[0]:.3g} bps"
    if change[1] > 0:
        return f"gains {change[0]:.3g} bps"
    return "holds up (indistinguishable from its normal day)"


def forecaster_verdict(normal: np.ndarray, crash: np.ndarray) -> str:
    """Return the verdict on a forecaster from its normal and crash skill ``(value, lo, hi)``."""
    if np.all(normal == 0) and np.all(crash == 0):
        return "the baseline (skill 0 by definition)"
    if np.isnan(crash).any() or np.isnan(normal).any():
        return "not scored"
    if crash[2] < normal[1]:
        shift = "degrades"
    elif crash[1] > normal[2]:
        shift = "improves"
    else:
        shift = "holds up (indistinguishable from its normal day)"
    edge = (
        "beats the training mean"
        if crash[1] > 0
        else "is worse than the training mean"
        if crash[2] < 0
        else ("is indistinguishable from the training mean")
    )
    return f"{shift}; in the crash it {edge}"


def _short(verdict: str) -> str:
    return verdict.split(" (")[0].split(";")[0]


def _value(table: xr.Dataset, statistic: str) -> np.ndarray:
    """Return ``value`` (design, bound) of one statistic of an AMM stress table."""
    return table["value"].sel(statistic=statistic).transpose("design", "bound").values


def _designs(ev: Evaluation) -> list[str]:
    return [str(d) for d in ev.groups["amm_change"]["design_short"].values]


def summary_section(evaluations: list[Evaluation]) -> list[str]:
    """Return the summary: per crash, the fee designs and forecasters that hold up, with intervals."""
    parts = ["## Summary: what holds up in which crash", "", ABOUT["summary"], ""]
    with_amm = [ev for ev in evaluations if "amm_change" in ev.groups]
    if with_amm:
        designs = _designs(with_amm[0])
        rows = []
        for k, design in enumerate(designs):
            cells = []
            for ev in with_amm:
                change = _value(ev.groups["amm_change"], "lp_pnl")[k]
                cells.append(f"{_iv(change)}: {_short(design_verdict(change))}")
            rows.append([design, *cells])
        parts += ["Fee designs: the paired change of LP P&L in each crash (crash minus normal day, bps of the pool's "
                  "initial value, mean [95 % interval] over paths).", ""]  # fmt: skip
        parts += [markdown_table(["design", *[ev.name for ev in with_amm]], rows), ""]
    with_fc = [ev for ev in evaluations if "forecast" in ev.groups]
    if with_fc:
        models = [str(m) for m in with_fc[0].groups["forecast"].model.values]
        rows = []
        for model in models:
            cells = []
            for ev in with_fc:
                skill = ev.groups["forecast"]["summary"].sel(model=model, metric="skill").values
                cells.append(f"{_iv(skill[0])} -> {_iv(skill[1])}: {_short(forecaster_verdict(skill[0], skill[1]))}")
            rows.append([model, *cells])
        parts += ["Forecasters: skill on the normal day -> in the crash (1 - loss / the training mean's loss, mean "
                  "[95 % interval]).", ""]  # fmt: skip
        parts += [markdown_table(["model", *[ev.name for ev in with_fc]], rows), ""]
    for ev in evaluations:
        parts += [" ".join(_crash_sentences(ev)), ""]
    return parts


def _crash_sentences(ev: Evaluation) -> list[str]:
    out = [f"**{ev.name}** ({ev.attrs['n_paths']} paths):"]
    if "amm_change" in ev.groups:
        designs, change = _designs(ev), _value(ev.groups["amm_change"], "lp_pnl")
        verdicts = [_short(design_verdict(row)).split(" ")[0] for row in change]
        named = {word: [d for d, v in zip(designs, verdicts, strict=True) if v == word] for word in ("gains", "holds",
                 "loses", "untested")}  # fmt: skip
        out.append(f"fee designs whose LP P&L gains in the crash: {', '.join(named['gains']) or 'none'}; "
                   f"indistinguishable from their normal day: {', '.join(named['holds']) or 'none'}; that lose: "
                   f"{', '.join(named['loses']) or 'none'}"
                   + (f"; untested (one path, no interval): {', '.join(named['untested'])}." if named["untested"]
                      else "."))  # fmt: skip
        level = _value(ev.groups["amm_crash"], "lp_pnl")
        best = int(np.nanargmax(level[:, 0]))
        ties = [designs[k] for k in range(len(designs)) if k != best and level[k, 2] >= level[best, 1]]
        if np.isnan(level[best, 1]):
            lead = " (one path: no interval, so no claim on the order)."
        else:
            lead = f", indistinguishable from {', '.join(ties)}." if ties else ", ahead of every other design."
        out.append(f"Highest LP P&L in the crash: {designs[best]} at {_iv(level[best])} bps{lead}")
    if "forecast" in ev.groups:
        summary = ev.groups["forecast"]["summary"]
        verdicts = {
            str(m): forecaster_verdict(*summary.sel(model=m, metric="skill").values) for m in summary.model.values
        }
        groups: dict[str, list[str]] = {}
        for model, verdict in verdicts.items():
            groups.setdefault(_short(verdict), []).append(model)
        said = "; ".join(f"{', '.join(models)}: {verdict}" for verdict, models in groups.items())
        beat = [m for m, v in verdicts.items() if "beats the training mean" in v]
        out.append(f"Forecasters: {said}. Still beating the training mean in the crash: {', '.join(beat) or 'none'}.")
    return out


def plot_paths(ev: Evaluation, path: Path) -> Path:
    """Plot the crash's bands over time (price vs the template's trough box, depth, spread, liquidations)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    band = ev.groups["paths_band"]
    event, pre = float(ev.attrs["event_s"]), float(ev.attrs.get("pre_s", 300.0))
    template = json.loads(ev.attrs.get("template", "{}"))
    trough = template.get("time_to_trough_s", [0.0, 0.0])
    after = max(1800.0, 2.0 * (trough[0] + trough[1]) / float(ev.attrs.get("time_factor", 1.0)))
    t_s = band["t_s"].values
    keep = (t_s >= event - 2.0 * pre) & (t_s <= event + after)
    band = band.isel(time=keep)
    minutes = (t_s[keep] - event) / 60.0
    panels = [
        ("mid_rel", "mid / pre-event level"),
        ("depth", "depth within 10 bps (lots)"),
        ("spread_bps", "spread (bps of mid)"),
        ("liquidations_cum", "liquidations since the open (count)"),
    ]
    panels = [(name, label) for name, label in panels if name in band]
    with plt.rc_context(PLOT_STYLE):
        fig, axes = plt.subplots(len(panels), 1, figsize=(9, 2.3 * len(panels)), sharex=True)
        for ax, (name, label) in zip(np.atleast_1d(axes), panels, strict=True):
            q = band[name].values
            ax.fill_between(minutes, q[0], q[2], color="tab:blue", alpha=0.25, label="5-95 % over paths")
            ax.plot(minutes, q[1], color="tab:blue", lw=1.0, label="median over paths")
            ax.axvline(0.0, color="grey", ls="--", lw=0.8)
            ax.set_ylabel(label)
            if name == "mid_rel":
                _template_box(ax, ev)
                ax.legend(loc="lower left")
        np.atleast_1d(axes)[-1].set_xlabel("minutes from the event (simulated)")
        fig.suptitle(f"{ev.name}: {ev.attrs['n_paths']} paths")
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)
    return path


def _template_box(ax: Any, ev: Evaluation) -> None:
    template = json.loads(ev.attrs.get("template", "{}"))
    if "drawdown" not in template or "time_to_trough_s" not in template:
        return
    from matplotlib.patches import Rectangle

    factor, sign = float(ev.attrs.get("time_factor", 1.0)), int(ev.attrs["direction"])
    (dd, dd_tol), (ttt, ttt_tol) = template["drawdown"], template["time_to_trough_s"]
    x0, x1 = (ttt - ttt_tol) / factor / 60.0, (ttt + ttt_tol) / factor / 60.0
    y0, y1 = sorted((1 + sign * (dd - dd_tol), 1 + sign * (dd + dd_tol)))
    ax.add_patch(Rectangle((max(x0, 0.0), y0), x1 - max(x0, 0.0), y1 - y0, fill=False, ec="tab:orange", lw=1.5,
                           label="template trough +- tolerance"))  # fmt: skip
    low, high = ax.get_ylim()
    pad = 0.05 * (max(high, y1) - min(low, y0))
    ax.set_ylim(min(low, y0 - pad), max(high, y1 + pad))


def shapes_table(ev: Evaluation) -> str:
    """Return the shape statistics table: simulated mean [95 %] over paths, template, share inside, real windows."""
    from simlab.metrics.crash import interval_table

    stats = ev.groups["statistics"]["value"]
    rows = [dict(zip(STATISTICS, row, strict=True)) for row in stats.sel(statistic=list(STATISTICS)).values]
    intervals = interval_table(rows)
    template = json.loads(ev.attrs.get("template", "{}"))
    windows = ev.groups.get("real_windows")
    out = []
    for name in STATISTICS:
        mean, lo, hi, n = intervals[name]
        if n == 0:
            continue
        values = stats.sel(statistic=name).values
        if name in template:
            value, tol = template[name]
            inside = np.mean(np.abs(values - value) <= tol)
            target, share = f"{value:.4g} +- {tol:.4g}", f"{inside:.0%}"
        else:
            target, share = "", ""
        out.append(
            [name, UNITS[name], _iv(np.array([mean, lo, hi]), ".4g"), target, share, _window_range(windows, name)]
        )
    header = ["statistic", "unit", "simulated mean [95 %]", "template", "paths inside",
              "real windows (finite min to max)"]  # fmt: skip
    return markdown_table(header, out)


def _window_range(windows: xr.Dataset | None, name: str) -> str:
    if windows is None or name not in windows:
        return "n/a"
    values = np.asarray(windows[name].values, dtype=float)
    values = values[np.isfinite(values)]
    return f"{values.min():.4g} to {values.max():.4g} ({values.size} windows)" if values.size else "n/a"


def forecast_table(ev: Evaluation) -> str:
    """Return the forecaster table: loss, skill and directional accuracy on the normal day and in the crash."""
    summary = ev.groups["forecast"]["summary"]
    rows = []
    for model in summary.model.values:
        cell = summary.sel(model=model)
        scores = [_iv(cell.sel(phase=p, metric=m).values) for m in ("loss", "skill", "directional_accuracy")
                  for p in ("normal", "crash")]  # fmt: skip
        skill = cell.sel(metric="skill").values
        rows.append([str(model), *scores, _shifted(ev.groups["forecast"], str(model)),
                     forecaster_verdict(skill[0], skill[1])])  # fmt: skip
    header = ["model", "loss normal", "loss crash", "skill normal", "skill crash", "direction normal",
              "direction crash", "paths: loss up / down (p < 0.05)", "verdict"]  # fmt: skip
    n = ev.groups["forecast"].sizes["regime"] - 1
    return markdown_table(header, rows) + f"\n\nCrash scores over {n} re-simulated crash paths."


def _shifted(forecast: xr.Dataset, model: str) -> str:
    """Return how many crash paths' two-sample test finds the model's loss up and down against its normal day."""
    tests = forecast["tests"].sel(model=model, test="shift_loss")
    crash = [r for r in forecast.regime.values if r != "normal"]
    stat, p = (tests.sel(regime=crash, stat=k).values for k in ("statistic", "p_value"))
    up, down = int(np.sum((p < 0.05) & (stat > 0))), int(np.sum((p < 0.05) & (stat < 0)))
    return f"{up} / {down} of {len(crash)}"


def amm_table(ev: Evaluation) -> str:
    """Return the fee-design table (bps of the pool's initial value)."""
    g = ev.groups
    ranks = g["amm_rank"]["rank"]
    run = "fees_run" in g["amm_crash"]["statistic"].values
    tables = [str(t) for t in ranks["table"].values]
    rows = []
    for k, design in enumerate(_designs(ev)):
        row = [design, _iv(_value(g["amm_normal"], "lp_pnl")[k]), _iv(_value(g["amm_crash"], "lp_pnl")[k]),
               _iv(_value(g["amm_change"], "lp_pnl")[k]), _iv(_value(g["amm_change"], "lvr")[k]),
               _iv(_value(g["amm_crash"], "cvar_5")[k])]  # fmt: skip
        row.append(_iv(_value(g["amm_replay"], "lp_pnl")[k]) if "amm_replay" in g else "n/a")
        row.append(" / ".join(str(int(ranks.sel(table=t).values[k])) for t in tables))
        if run:
            row.insert(5, _iv(_value(g["amm_crash"], "fees_run")[k]))
        rows.append(row)
    header = ["design", "LP P&L normal day", "LP P&L crash", "change (crash - normal)", "LVR change", "CVaR 5 % crash",
              "LP P&L real v3 (per day)", f"rank ({' / '.join(tables)})"]  # fmt: skip
    if run:
        header.insert(5, "fees paid by the run (crash)")
    return markdown_table(header, rows)


def flips_text(ev: Evaluation) -> str:
    """Return the ranking flips against the normal day, in words."""
    attrs = ev.groups["amm_rank"].attrs
    spearman = json.loads(attrs["spearman"])
    flips = json.loads(attrs["flips"])
    parts = []
    for table, rho in spearman.items():
        if table == "normal day":
            continue
        here = [f for f in flips if f["table"] == table]
        significant = [f"{f['now_better']} over {f['was_better']}" for f in here if f["significant"]]
        parts.append(
            f"{table}: Spearman {rho:+.2f} against the normal day, {len(here)} pairs flip, "
            f"{len(significant)} significant" + (f" ({'; '.join(significant)})" if significant else "")
        )
    return "; ".join(parts) + "."


def crash_section(ev: Evaluation, folder: Path, stem: str, index: int) -> list[str]:
    """Return one crash's section (paths, shapes, forecasters, fee designs); write its figure into ``folder`` (named
    by the report's ``stem``, the store's ``index`` and the scenario)."""
    values = ", ".join(f"{k} = {v:.4g}" for k, v in json.loads(ev.attrs.get("shock_values", "{}")).items())
    facts = (
        f"World {ev.attrs.get('world', '?')}, {ev.attrs['n_paths']} paths, the event at "
        f"{float(ev.attrs['event_s']):g} s simulated, time compression x{float(ev.attrs.get('time_factor', 1)):g}"
        f", shock values: {values or 'none'}; evaluation store `{ev.path.name}` (seed {ev.attrs.get('seed')})."
    )
    figure = plot_paths(ev, folder / f"{stem}_{index}_{ev.name}.png")
    parts = [f"## Crash: {ev.name}", "", ABOUT["crash"], "", facts, ""]
    parts += ["### Paths over time", "", ABOUT["paths"], "", f"![{ev.name}: paths over time]({figure.name})", ""]
    parts += ["### Shape statistics", "", ABOUT["shapes"], "", shapes_table(ev), ""]
    if "forecast" in ev.groups:
        parts += ["### Forecasters", "", ABOUT["forecast"], "", forecast_table(ev), ""]
    if "amm_change" in ev.groups:
        pool = ev.groups["amm_crash"].attrs.get("pool")
        where = [ABOUT["stableswap"].format(pool=pool), ""] if ev.groups["amm_crash"].attrs.get("pool_kind") else []
        parts += ["### Fee designs", "", ABOUT["amm"], "", *where, amm_table(ev), ""]
        parts += ["### Ranking flips", "", ABOUT["flips"], "", flips_text(ev), ""]
    return parts


def windows_section(windows: xr.Dataset) -> list[str]:
    """Return the real stress windows section."""
    header = ["tape", "window", "start (UTC)", *WINDOW_COLUMNS]
    rows = []
    for i in range(windows.sizes["window"]):
        row = windows.isel(window=i)
        rows.append([str(row["tape"].values), f"{float(row['window_s']) / 60:g} min", str(row["start_utc"].values),
                     *[float(row[c]) if c in row else np.nan for c in WINDOW_COLUMNS]])  # fmt: skip
    return ["## Real stress windows", "", ABOUT["windows"], "", markdown_table(header, rows), ""]


def read_forecast_run(path: str | Path) -> xr.Dataset:
    """Read a forecaster stress run: a store whose ``table`` group is :func:`scenarios.stress.forecast.
    forecaster_stress`'s output (``python -m scenarios.stress.forecast_runs`` writes them)."""
    from simlab.store import is_store, list_groups, load_store

    path = Path(path)
    if not is_store(path) or "table" not in list_groups(path):
        raise DataError(f"forecast run {path}: expected a store with the `table` group of forecaster_stress (as "
                        "`python -m scenarios.stress.forecast_runs` writes)")  # fmt: skip
    table = load_store(path, "table")
    if "score" not in table or "normal" not in table.regime.values:
        raise DataError(f"forecast run {path}: its `table` needs `score` over a `normal` regime; found regimes "
                        f"{list(table.regime.values) if 'regime' in table.dims else 'none'}")  # fmt: skip
    return table.assign_attrs(source=path.name)


def forecast_runs_section(runs: list[xr.Dataset]) -> list[str]:
    """Return the section of the forecaster stress runs: per model, normal skill -> crash skill and verdict."""
    parts = ["## Forecasters on other crash windows", "", ABOUT["runs"], ""]
    for run in runs:
        crashes = [str(r) for r in run.regime.values if r != "normal"]
        rows = []
        for model in run.model.values:
            skill = run["score"].sel(model=model, metric="skill").transpose("regime", "bound")
            normal = skill.sel(regime="normal").values
            if np.isnan(normal[0]):
                continue
            crash = [skill.sel(regime=c).values for c in crashes]
            cells = [f"{_iv(row)}: {_short(forecaster_verdict(normal, row))}" for row in crash]
            rows.append([str(model), _iv(normal), *cells])
        parts += [f"Run `{run.attrs['source']}` (seed {run.attrs.get('seed')}): skill on the normal window and in "
                  "each crash window.", "", markdown_table(["model", "normal", *crashes], rows), ""]  # fmt: skip
    return parts


def write_report(stores: list[str | Path], output: str | Path, forecast_runs: list[str | Path] = ()) -> Path:
    """Write the stress report of ``stores`` (evaluation stores) and of the forecaster stress runs
    ``forecast_runs`` to ``output`` (HTML), ``report.md`` beside it (named after it) and one figure per crash;
    return the HTML path."""
    from simlab.errors import ParameterError

    if not stores:
        raise ParameterError("stress report needs at least one evaluation store (STORE...); got none")
    output = Path(output)
    if output.suffix != ".html":
        raise ParameterError(f"-o/--output must name an .html file; got {str(output)!r}")
    evaluations = [read_evaluation(s) for s in stores]
    runs = [read_forecast_run(r) for r in forecast_runs]
    output.parent.mkdir(parents=True, exist_ok=True)
    parts = ["# Stress lab: crashes, forecasters and fee designs", ""]
    parts += [f"Crashes: {', '.join(ev.name for ev in evaluations)}.", ""]
    parts += summary_section(evaluations)
    for index, ev in enumerate(evaluations):
        parts += crash_section(ev, output.parent, output.stem, index)
    if runs:
        parts += forecast_runs_section(runs)
    windows = next((ev.groups["real_windows"] for ev in evaluations if "real_windows" in ev.groups), None)
    if windows is not None:
        parts += windows_section(windows)
    text = "\n".join(parts)
    write_text_atomic(output.with_suffix(".md"), text)
    write_text_atomic(output, page("Stress lab report", markdown_to_html(text)))
    return output
