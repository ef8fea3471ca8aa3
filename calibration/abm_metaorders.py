"""Held-out square-root tests of an agent-market preset: one metaorder protocol run seed by seed into a resumable
file, and the judge that applies the pre-registered criteria of every impact test since session 25.

Until session 26 the per-seed drivers and judges of the held-out tests lived in the git-ignored ``outputs/`` and
were lost with the machine; this module is them, in the repository (docs/agents_refit_v24.md).

``python -m calibration.abm_metaorders run PRESET PROTOCOL SIDE FIRST LAST OUT.json [--after-s S]`` runs seeds
FIRST..LAST (inclusive) of one protocol (:data:`PROTOCOLS`: ``pov25``, the textbook POV at one participation rate
of 25 % capped at 4 h; ``twap``, the one-hour TWAP; ``pov-hour``, the POV whose rate ``Q / (Q + v)`` would finish in
the hour) with buys or sells (SIDE ``buy`` / ``sell``) of the sizes :data:`calibration.abm_impact.FRACTIONS`, each
from 10:30 with 30 min (or S seconds, a multiple of 3 min) watched after its end; each row keeps the impact path
after the end, minute by minute. After each seed the file is rewritten atomically; a rerun with the same header
skips the seeds already in it (a stopped run resumes), and a file with another header is refused. A seed that stops
with our runaway ``ParameterError`` or a ``DataError`` is recorded with its sentence (criterion 1).

``python -m calibration.abm_metaorders judge FILE.json [FILE.json ...]`` merges files of one preset, protocol and
side and prints the verdict (:func:`judge`) as JSON.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from calibration.abm_impact import FIXED_CAP_S, FRACTIONS, power_law_fit
from simlab.agents.impact import loglog_fit
from simlab.errors import DataError, ParameterError
from simlab.provenance import git_commit
from simlab.store import write_text_atomic

# protocol -> metaorder_impact's keywords (start 10:30 = 3,600 s after the open, 30 min after, children every 30 s,
# paths every 10 s: the defaults of simlab.agents.impact.metaorder_impact)
PROTOCOLS: dict[str, dict[str, Any]] = {
    "pov25": {"strategy": "pov", "participation": 0.25, "duration_s": FIXED_CAP_S},
    "twap": {"strategy": "twap", "duration_s": 3600.0},
    "pov-hour": {"strategy": "pov", "duration_s": 3600.0},
}
SIDES = {"buy": 1, "sell": -1}
BAND = (0.4, 0.65)  # the exponent band
VALID_SHARE = 0.95  # a fixed-rate POV is valid if >= this share of Q is done before the cap at every size
DECAY_MAX = 0.9  # decay: the mean impact after_s after the end at most this share of the mean peak, ...
DECAY_SE = 2.0  # ... and more than this many standard errors above 0 (a lasting part)
FULL, LEAST = 48, 24  # seeds a test is planned on; fewer: provisional; below LEAST: not judged
WINDOW = {"start_s": 3600.0, "after_s": 1800.0, "interval_s": 30.0, "sample_s": 10.0}  # 10:30, 30 min after
PATH_STEP_S = 60.0  # a row's impact path after the end: every minute from the peak's reading to after_s
LEVEL_SHARE = 1.0 / 3.0  # levelling: the last third of the watch takes less than this share of the fall (a line: 1/3)


def header(preset: str | Path, protocol: str, side: str, fractions: np.ndarray = FRACTIONS,
           **window: float) -> dict[str, Any]:  # fmt: skip
    """What a file's rows were measured under: the preset (name and SHA-256 of its text), protocol, side, sizes and
    every keyword of ``metaorder_impact`` (:data:`WINDOW`, the protocol's, then ``window``'s overrides)."""
    if protocol not in PROTOCOLS:
        raise ParameterError(f"abm_metaorders: PROTOCOL must be one of {sorted(PROTOCOLS)}; got {protocol!r}")
    if side not in SIDES:
        raise ParameterError(f"abm_metaorders: SIDE must be one of {sorted(SIDES)}; got {side!r}")
    text = Path(preset).read_bytes()
    return {"preset": Path(preset).stem, "preset_sha256": hashlib.sha256(text).hexdigest(), "protocol": protocol,
            "side": side, "fractions": [float(f) for f in fractions],
            "window": {**WINDOW, **PROTOCOLS[protocol], **window}, "path_step_s": PATH_STEP_S}  # fmt: skip


def seed_row(config: Any, head: dict[str, Any], seed: int) -> dict[str, Any]:
    """One seed's metaorders under ``head`` (:func:`header`): peak and after impact (bps), the impact path after the
    end (``after_path_bps``, per size the impact every ``path_step_s`` from the peak's reading to ``after_s`` after
    it: its first value is the peak, its last the after reading when ``after_s`` is a multiple of the step),
    completion time, executed lots and the baseline's volume per size, the CPU seconds and the code's commit; a
    runaway (``ParameterError``) or a ``DataError`` gives ``{"seed", "error", "git_commit"}``."""
    from simlab.agents.impact import metaorder_impact

    started = time.process_time()
    keywords, fractions, side = head["window"], np.asarray(head["fractions"]), head["side"]
    commit = git_commit()
    try:
        with warnings.catch_warnings():  # one seed's own exponent interval (unused here) is all-NaN
            warnings.filterwarnings("ignore", "All-NaN slice", RuntimeWarning)
            result = metaorder_impact(config, fractions, seeds=[int(seed)], side=SIDES[side], **keywords)
    except (ParameterError, DataError) as error:
        return {"seed": int(seed), "error": str(error), "git_commit": commit}
    first = {name: result[name].values[0].tolist() for name in
             ("peak_bps", "after_bps", "completion_s", "executed_lots", "executed_at_end_lots")}  # fmt: skip
    sample, step = keywords["sample_s"], head.get("path_step_s", PATH_STEP_S)
    lags = np.arange(0.0, keywords["after_s"] + 1e-9, step)  # from the peak's reading, the metaorder's end
    impact = result["impact_bps"].values[0]  # (fraction, time) from the metaorder's start
    first["after_path_bps"] = [impact[i, np.rint((done + lags) / sample).astype(int)].tolist()
                               for i, done in enumerate(first["completion_s"])]  # fmt: skip
    ends = np.array([(path[0], path[-1]) for path in first["after_path_bps"]])
    readings = np.array([first["peak_bps"], first["after_bps"]]).T  # NaN where the market had no mid: equal here
    if lags[-1] == keywords["after_s"] and not np.array_equal(ends, readings, equal_nan=True):
        raise ParameterError(
            f"abm_metaorders: the window {keywords} must put the metaorder's end and the after "
            f"reading on the path samples (start_s and duration_s multiples of sample_s); seed "
            f"{seed}'s path after the end does not start at its peak and end at its after reading"
        )
    return {"seed": int(seed), **first, "volume_lots": float(result["volume_lots"].values[0]),
            "cpu_s": round(time.process_time() - started, 1), "git_commit": commit}  # fmt: skip


def run(preset: str | Path, protocol: str, side: str, seeds: list[int], out: str | Path,
        fractions: np.ndarray = FRACTIONS, config: Any = None, **window: float) -> dict[str, Any]:  # fmt: skip
    """Run ``seeds`` into ``out`` (resuming a file with the same header and no seed outside ``seeds``; another is
    refused); return the document. ``config`` (tests) replaces the preset's market, which still names the header;
    ``window`` overrides metaorder_impact's times (tests use a short market)."""
    from calibration.abm import load_abm_preset

    head = header(preset, protocol, side, fractions, **window)
    out = Path(out)
    document = {**head, "rows": []}
    if out.exists():
        old = _read(out, "abm_metaorders run")
        if {k: old.get(k) for k in head} != head:
            raise DataError(f"abm_metaorders run: {out} holds rows of another run ({ {k: old.get(k) for k in head} }); "
                            f"this one is {head}: give another OUT")  # fmt: skip
        outside = sorted({row["seed"] for row in old["rows"]} - set(seeds))
        if outside:
            raise DataError(f"abm_metaorders run: {out} holds seeds {outside} outside the seeds asked for "
                            f"({seeds[0]}..{seeds[-1]}): give their range or another OUT")  # fmt: skip
        document = old
    done = {row["seed"] for row in document["rows"]}
    market = config if config is not None else load_abm_preset(preset)[0]
    for seed in seeds:
        if seed in done:
            continue
        document["rows"].append(seed_row(market, head, seed))
        write_text_atomic(out, json.dumps(document, indent=1) + "\n")
    return document


def merge(documents: list[dict[str, Any]], names: list[str]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The one header of ``documents`` (files ``names``) and their rows sorted by seed; files of other runs or a
    seed in two files are refused."""
    keys = ("preset", "preset_sha256", "protocol", "side", "fractions", "window", "path_step_s")
    first = {k: documents[0].get(k) for k in keys}
    for doc, name in zip(documents, names, strict=True):
        if {k: doc.get(k) for k in keys} != first:
            raise DataError(f"abm_metaorders judge: {name} is another run ({ {k: doc.get(k) for k in keys} }) than "
                            f"{names[0]} ({first})")  # fmt: skip
    rows = sorted((row for doc in documents for row in doc["rows"]), key=lambda r: r["seed"])
    seeds = [row["seed"] for row in rows]
    if len(set(seeds)) != len(seeds):
        repeated = sorted({s for s in seeds if seeds.count(s) > 1})
        raise DataError(f"abm_metaorders judge: a seed is in two files ({repeated})")
    return first, rows


def judge(head: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The pre-registered criteria (docs/agents_pov_fixed.md section 2, docs/agents_flow_learning.md section 3):
    1. no runaway (no seed recorded with an error); 2. band: the weighted power law's point exponent and its 95 %
    interval inside [0.4, 0.65]; 3. decay: at the largest size the mean impact ``after_s`` after the end at most 0.9 x
    the mean peak and more than 2 SE above 0; for ``pov25``, validity: on average at least 0.95 of Q done before the
    cap at every size (a metaorder read at the cap counts 0). ``passes`` is their conjunction, ``None`` (not judged)
    below :data:`LEAST` seeds measured; ``provisional`` below :data:`FULL`; ``missing_seeds`` are the gaps in the
    seeds' range. A seed with a reading that is not a number (the market had no mid there: no two-sided book yet)
    is listed in ``undefined_seeds`` and left out of the fit and the criteria, so the verdict is provisional.
    Reported beside them: per-size means and SEs, the executed share at the end, the ratios of consecutive
    peaks, completion times, the issue's log-log regression (the slope of log mean peak on log(Q/V), sizes with a
    positive mean) with its 95 % bootstrap interval over seeds (:func:`simlab.agents.impact.loglog_fit`),
    ``p_sqrt_law``, the two halves' exponents (by position among the seeds that ran), CPU seconds, and where every
    row has its path after the end, ``plateau`` (:func:`plateau`; None, with ``plateau_missing`` saying which seeds
    lack it, otherwise)."""
    fractions = np.asarray(head["fractions"])
    errors = [row for row in rows if "error" in row]
    # a reading where the market had no mid (no two-sided book since the open: forward-filled mids stay undefined)
    undefined = [row["seed"] for row in rows if "error" not in row
                 and not np.isfinite(np.array(row["peak_bps"] + row["after_bps"], dtype=float)).all()]  # fmt: skip
    good = [row for row in rows if "error" not in row and row["seed"] not in undefined]
    out: dict[str, Any] = {k: head[k] for k in ("preset", "protocol", "side")}
    out.update(seeds=len(rows), first_seed=rows[0]["seed"] if rows else None,
               last_seed=rows[-1]["seed"] if rows else None,
               runaways=[(r["seed"], r["error"]) for r in errors], undefined_seeds=undefined)  # fmt: skip
    if len(good) < 2:
        raise DataError(f"abm_metaorders judge: needs >= 2 seeds that ran; got {len(good)} of {len(rows)}")
    peak, after = (np.array([row[k] for row in good]) for k in ("peak_bps", "after_bps"))
    n = peak.shape[0]
    se = lambda a: a.std(axis=0, ddof=1) / np.sqrt(a.shape[0])  # noqa: E731
    law = power_law_fit(fractions, peak)
    halves = [power_law_fit(fractions, part) for part in (peak[: n // 2], peak[n // 2 :])] if n >= 4 else []
    loglog, loglog_low, loglog_high, _ = loglog_fit(fractions, peak)
    low, high = law["delta_interval_95"]
    band = BAND[0] <= law["delta"] <= BAND[1] and BAND[0] <= low and high <= BAND[1]
    top_peak, top_after, top_se = peak[:, -1].mean(), after[:, -1].mean(), se(after)[-1]
    decay = bool(top_after <= DECAY_MAX * top_peak and top_after > DECAY_SE * top_se)
    volume = np.array([row["volume_lots"] for row in good])
    target = np.maximum(1.0, np.rint(fractions[None, :] * volume[:, None]))
    completion = np.array([row["completion_s"] for row in good])
    at_end = np.array([row["executed_at_end_lots"] for row in good])
    criteria = {"no_runaway": not errors, "band": bool(band), "decay": decay}
    window = head.get("window") or {**WINDOW, **PROTOCOLS[head["protocol"]]}  # files of 4a80ddf had no window
    if head["protocol"] == "pov25":
        cap = window["duration_s"]
        done = np.where(completion < cap, np.minimum(at_end / target, 1.0), 0.0).mean(axis=0)
        out["done_before_cap_share"] = done.tolist()
        criteria["valid"] = bool((done >= VALID_SHARE).all())
    seeds = [row["seed"] for row in rows]
    measured = len(rows) - len(undefined)  # a runaway is a measured failure; an undefined reading is no measurement
    out.update(
        criteria=criteria, passes=all(criteria.values()) if measured >= LEAST else None,
        provisional=measured < FULL, missing_seeds=sorted(set(range(seeds[0], seeds[-1] + 1)) - set(seeds)),
        executed_at_end_share=(at_end / target).mean(axis=0).tolist(),
        peak_ratios=(peak.mean(axis=0)[1:] / peak.mean(axis=0)[:-1]).tolist(),
        exponent=law["delta"], exponent_interval_95=law["delta_interval_95"], p_sqrt_law=law["p_sqrt_law"],
        loglog_exponent=loglog, loglog_exponent_interval_95=[loglog_low, loglog_high],
        halves=[[h["delta"], *h["delta_interval_95"]] for h in halves],
        peak_bps=peak.mean(axis=0).tolist(), peak_se_bps=se(peak).tolist(),
        after_bps=after.mean(axis=0).tolist(), after_se_bps=se(after).tolist(),
        top_after_share_of_peak=float(top_after / top_peak), top_after_se_units=float(top_after / top_se),
        completion_s=completion.mean(axis=0).tolist(), cpu_s=float(sum(row.get("cpu_s", 0.0) for row in good)),
        after_s=window["after_s"],
    )  # fmt: skip
    pathless = [row["seed"] for row in good if "after_path_bps" not in row]
    out["plateau"] = None if pathless else plateau(np.array([row["after_path_bps"] for row in good]),
                                                   head.get("path_step_s"))  # fmt: skip
    if pathless:  # files written before session 30 keep no path after the end
        out["plateau_missing"] = (
            f"no plateau reading: seeds {pathless[:5]}{'...' if len(pathless) > 5 else ''} "
            f"({len(pathless)} of {len(good)}) have no path after the end"
        )
    return out


def plateau(paths: np.ndarray, step_s: float, draws: int = 2000) -> dict[str, Any]:
    """Whether the impact after the metaorder levels off within the watch (docs/agents_decay_plateau.md): ``paths``
    ``(seed, size, lag)`` are the impacts (bps) every ``step_s`` from the end (lag 0: the peak) to the end of the
    watch ``W``, a whole number of thirds. At the largest size, with ``m`` the mean over seeds, the fall is
    ``m(0) - m(W)`` and the last third's share of it ``(m(2W/3) - m(W)) / (m(0) - m(W))``: 0 for a level reached
    early, 1/3 for a straight decline, above 1/3 for a decline that speeds up (negative: a rebound). ``levels_off``
    when the fall is > 0 and the share's 95 % bootstrap interval over seeds (``draws`` resamples, seed 0; a resample
    whose fall is <= 0 counts as an infinite share, printed as None at an interval's end) lies under
    :data:`LEVEL_SHARE`. Reported beside it: the same share from the first step (``m(step)`` for ``m(0)``: the last
    child's own short-lived impact left out) with its interval; per size the mean path and its SE, the share's
    point, and the falls over the first and the last third (the mean of the seeds' paired differences) with their
    SEs."""
    paths = np.asarray(paths, dtype=float)
    width = paths.shape[-1] if paths.ndim == 3 else 0
    if paths.ndim != 3 or paths.shape[0] < 2 or width < 4 or (width - 1) % 3:
        raise DataError(f"`paths` of abm_metaorders.plateau must be (seed, size, lag) with >= 2 seeds and 3k + 1 >= 4 "
                        f"lags (a watch of whole thirds); got shape {paths.shape}")  # fmt: skip
    n, sizes = paths.shape[:2]
    last, third, early = width - 1, 2 * (width - 1) // 3, (width - 1) // 3
    mean, se = paths.mean(axis=0), paths.std(axis=0, ddof=1) / np.sqrt(n)

    def share(m: np.ndarray, origin: int = 0) -> np.ndarray:  # m: (..., lag) means
        fall = m[..., origin] - m[..., last]
        return np.where(fall > 0, (m[..., third] - m[..., last]) / np.where(fall > 0, fall, 1.0), np.inf)

    picks = np.random.default_rng(0).integers(0, n, size=(draws, n))
    resampled = paths[picks, -1, :].mean(axis=1)

    def interval(boot: np.ndarray) -> list[float | None]:
        ends = np.quantile(boot, 0.025, method="lower"), np.quantile(boot, 0.975, method="higher")
        return [float(v) if np.isfinite(v) else None for v in ends]

    top = mean[-1]
    high = np.quantile(share(resampled), 0.975, method="higher")
    paired = lambda a, b: (float((a - b).mean()), float((a - b).std(ddof=1) / np.sqrt(n)))  # noqa: E731
    return {
        "step_s": step_s, "lags_s": (np.arange(width) * step_s).tolist(), "watch_s": last * step_s,
        "top_path_bps": top.tolist(), "top_path_se_bps": se[-1].tolist(),
        "fall_bps": float(top[0] - top[last]), "last_third_share": float(share(top)),
        "last_third_share_interval_95": interval(share(resampled)), "share_limit": LEVEL_SHARE,
        "levels_off": bool(top[0] - top[last] > 0 and high < LEVEL_SHARE),
        "share_from_first_step": float(share(top, 1)),
        "share_from_first_step_interval_95": interval(share(resampled, 1)),
        "first_third_fall_bps": [paired(paths[:, i, 0], paths[:, i, early]) for i in range(sizes)],
        "last_third_fall_bps": [paired(paths[:, i, third], paths[:, i, last]) for i in range(sizes)],
        "share_by_size": [float(share(mean[i])) for i in range(sizes)],
        "path_bps": mean.tolist(), "path_se_bps": se.tolist(),
    }  # fmt: skip


def _read(path: Path, who: str) -> dict[str, Any]:
    """A run file's document; one that cannot be read or holds no rows is refused naming the file."""
    try:
        document = json.loads(path.read_text())
        rows = document["rows"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DataError(f"{who}: {path} is not a readable run file (a JSON object with `rows`): {error}") from error
    if not isinstance(rows, list):
        raise DataError(f"{who}: {path} is not a readable run file: `rows` is {type(rows).__name__}, not a list")
    return document


def _seeds(first: str, last: str) -> list[int]:
    if not (first.isdecimal() and last.isdecimal() and int(first) <= int(last)):
        raise DataError(f"abm_metaorders run: FIRST and LAST must be seeds, integers with FIRST <= LAST; got "
                        f"{first!r}, {last!r}")  # fmt: skip
    return list(range(int(first), int(last) + 1))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """The command line (module docstring)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["run"] and len(argv) in (7, 9) and (len(argv) == 7 or argv[7] == "--after-s"):
        preset, protocol, side, first, last, out = argv[1:7]
        window = {"after_s": _watch(argv[8])} if len(argv) == 9 else {}
        header(preset, protocol, side)  # refuse a bad protocol or side before anything runs
        document = run(preset, protocol, side, _seeds(first, last), out, **window)
        print(f"{out}: {len(document['rows'])} seeds")
        return document
    if argv[:1] == ["judge"] and len(argv) >= 2:
        documents = [_read(Path(name), "abm_metaorders judge") for name in argv[1:]]
        verdict = judge(*merge(documents, argv[1:]))
        print(json.dumps(verdict, indent=1))
        return verdict
    raise DataError("abm_metaorders takes `run PRESET PROTOCOL SIDE FIRST LAST OUT.json [--after-s SECONDS]` or "
                    f"`judge FILE.json ...`; got {argv}")  # fmt: skip


def _watch(text: str) -> float:
    """``--after-s``: the time watched after the metaorder's end, a positive multiple of three path steps (the
    plateau reading compares thirds of the watch)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    thirds = 3 * PATH_STEP_S
    if not (value > 0 and np.isfinite(value) and abs(value / thirds - round(value / thirds)) < 1e-9):
        raise DataError(f"abm_metaorders run: --after-s must be a positive multiple of {thirds:g} seconds; "
                        f"got {text!r}")  # fmt: skip
    return value


if __name__ == "__main__":
    main()
