"""Are the paths the SMC limit end pick selects still realistic? Score them against real flow, beside plain samples.

``python -m scenarios.generate.smc_realism MODEL [--spec SPEC] [--seeds 78 79] [--paths 32] [--duration 20]
[--particles 8] [--arms plain cfg:volatility=5 ...] [--cache DIR] [-o OUT.json]``

samples, for every root seed, the arms (default :data:`DEFAULT_ARMS`):

- ``plain``: no condition;
- ``cfg:NAME=Q``: the condition at guidance 1, no selection (classifier-free guidance, as
  ``scenarios.generate.counterfactual`` ran it);
- ``smc:NAME=Q``: the condition at guidance 1 with ``particles`` particles per path and the limit end pick
  (``final_sharpness = inf``, :mod:`generators.smc`),

all with ``stop_when_stuck`` from the model's context, and ``real:validation``: consecutive segments of the same
duration cut from the validation span, those quoted on both sides throughout (real flow the references do not hold:
a real-data control, scored with the first seed only). It scores every path with the realism scorecard
(:func:`generators.evaluation.realism`) against two references:

- ``heldout``: the whole held-out span of the spec (what :mod:`scenarios.generate.heldout` scores against);
- ``quintile``: for an arm with a condition (``plain``, ``real``: every asked one), the real windows of the asked
  quintiles (:func:`regime_reference`): the 256-row windows of a real span whose regime, measured as the model
  measures it, is in every asked quintile. The held-out span's when it holds at least ``min_rows`` such rows, else
  the training span's (the record says which: the AAPL hour's held-out span holds no top-volatility window).

Each arm gets the mean over its paths of each path's mean L1 (over the L1 scores that every path of every arm
computed against that reference, ``shared``; ``all`` and ``seeds``: over each path's own applicable ones), with a 99 %
bootstrap interval over paths, and the real-vs-real floor of as many paths: the median and percentile interval of
the mean over paths of each path's floor replicates (what as many paths of a perfect generator would average);
the number of paths whose own interval reaches their own floor; and the mean ROC-AUC of the real-vs-synthetic
classifier with its interval over paths. Sampled paths and their scorecards can be cached (``--cache``: one
pickle per seed and arm, and per reference) so that a rerun with another seed added samples and scores only that.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import pickle
import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from generators import encoding as enc
from generators.evaluation import path_regime, realism
from generators.spec import load_generator, load_spec, spec_spans
from generators.starts import BOOK_FIELDS
from scenarios.generate.heldout import floor_summary, write_json
from scenarios.generate.scores import windows_of
from simlab.errors import DataError, ParameterError
from simlab.metrics.distances import check_bootstrap
from simlab.provenance import provenance

DEFAULT_SPEC = "scenarios/library/generate_aapl_tiny.toml"
DEFAULT_ARMS = ("plain", "cfg:volatility=5", "cfg:depth=1", "smc:volatility=5", "smc:depth=1", "real:validation")
KINDS = ("plain", "cfg", "smc", "real")
REAL_SPANS = ("train", "validation")
GUIDANCE = 1.0
CONFIDENCE = 0.99
PATH_BOOT = 2000  # bootstrap replicates over paths
TAILS = check_bootstrap(PATH_BOOT, CONFIDENCE)[1]  # the percentile tails of every interval here
MIN_ROWS = 2000  # fewest real rows of the quintile a reference span must hold


def parse_arm(arm: str) -> tuple[str, dict[str, int] | None]:
    """Return ``(kind, regime)`` of an arm name: ``plain``, ``cfg:NAME=Q[,NAME=Q]``, ``smc:NAME=Q[,NAME=Q]`` or
    ``real:SPAN`` (SPAN in :data:`REAL_SPANS`; its regime is None)."""
    kind, _, rest = arm.partition(":")
    if kind not in KINDS or (kind == "plain") != (rest == "") or (kind == "real" and rest not in REAL_SPANS):
        raise ParameterError(
            f"arm must be 'plain', 'cfg:NAME=Q', 'smc:NAME=Q' or 'real:SPAN' (SPAN in {list(REAL_SPANS)}); got {arm!r}"
        )
    if kind in ("plain", "real"):
        return kind, None
    regime = {}
    for item in rest.split(","):
        name, _, q = item.partition("=")
        if name not in enc.REGIMES or not q.isdigit() or not 1 <= int(q) <= enc.N_QUINTILES:
            raise ParameterError(f"arm {arm!r}: each condition must be NAME=Q with NAME in {list(enc.REGIMES)} "
                                 f"and Q in 1-{enc.N_QUINTILES}; got {item!r}")  # fmt: skip
        regime[name] = int(q)
    return kind, regime


def sample_arm(
    generator: Any, arm: str, *, n_paths: int, duration: float, seed: int, particles: int = 8
) -> tuple[list[dict[str, xr.Dataset]], float]:
    """Sample one arm (see the module docstring); return the paths and the CPU seconds of the ``sample`` call."""
    kind, regime = parse_arm(arm)
    kwargs: dict[str, Any] = {"generator": seed, "stop_when_stuck": True}
    if kind != "plain":
        kwargs.update(regime=regime, guidance=GUIDANCE)
    if kind == "smc":
        kwargs.update(particles=particles, smc={"final_sharpness": math.inf})
    begin = time.process_time()
    paths = generator.sample(n_paths, duration, **kwargs)
    return paths, time.process_time() - begin


def real_segments(span: dict[str, xr.Dataset], duration: float, n_paths: int) -> list[dict[str, xr.Dataset]]:
    """Cut a real span into its whole windows of ``duration`` seconds from its first event
    (:func:`scenarios.generate.scores.windows_of`) and return the first ``n_paths`` of those quoted on both sides at
    every row (a window with an empty side at some row is left out: the AAPL validation span's replayed book has
    no bid for long stretches)."""
    e_dim, b_dim = span["events"]["ts_ns"].dims[0], span["books"][BOOK_FIELDS[0]].dims[0]
    quoted = (span["books"]["bid_qty"].values[:, 0] > 0) & (span["books"]["ask_qty"].values[:, 0] > 0)
    out = [
        {"events": span["events"].isel({e_dim: slice(a, b)}), "books": span["books"].isel({b_dim: slice(a, b)})}
        for _, a, b in windows_of(span, duration)
        if b > a and quoted[a:b].all()
    ][:n_paths]
    if not out:
        ts = span["events"]["ts_ns"].values
        raise DataError(
            f"real_segments: a span of {(int(ts[-1]) - int(ts[0])) / 1e9:.1f} s holds no {duration:g} s window "
            "quoted on both sides throughout"
        )
    return out


def arm_key(arm: str, **kwargs: Any) -> str:
    """Return the file name stem of an arm's paths (or cards) sampled with ``kwargs`` in a cache folder."""
    return "_".join([arm.replace(":", "-").replace("=", "").replace(",", "+")]
                    + [f"{k}{v:g}" for k, v in sorted(kwargs.items())])  # fmt: skip


def cached(cache: Path | None, key: str, compute: Any) -> Any:
    """Return ``compute()``, read from ``cache / key.pkl`` when a run wrote it there (written atomically)."""
    if cache is None:
        return compute()
    file = Path(cache) / f"{key}.pkl"
    if file.exists():
        with file.open("rb") as handle:
            return pickle.load(handle)
    result = compute()
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_name(file.name + ".tmp")
    with tmp.open("wb") as handle:
        pickle.dump(result, handle)
    tmp.replace(file)
    return result


def cache_folder(cache: str | Path, model: str | Path, spec: str | Path) -> Path:
    """Return the subfolder of ``cache`` that belongs to this model and spec: named by a digest of the model's
    files and the spec's bytes, so that a cache folder reused with another model or spec is never read back."""
    digest = hashlib.sha256()
    model = Path(model)
    for file in sorted(model.rglob("*")) if model.is_dir() else [model]:
        if file.is_file():
            digest.update(str(file.relative_to(model) if model.is_dir() else file.name).encode())
            digest.update(file.read_bytes())
    digest.update(Path(spec).read_bytes())
    return Path(cache) / digest.hexdigest()[:16]


def cached_arm(cache: Path | None, generator: Any, arm: str, **kwargs: Any) -> tuple[list, float]:
    """Return :func:`sample_arm`'s result, read from ``cache`` when a run with the same arguments wrote it there."""
    return cached(cache, arm_key(arm, **kwargs), lambda: sample_arm(generator, arm, **kwargs))


def covered_rows(hits: np.ndarray, window: int, n_rows: int) -> np.ndarray:
    """Return the rows (a boolean mask of ``n_rows``) covered by the windows that start at the rows ``hits`` marks.

    The window starting at row ``i`` covers rows ``i .. i + window`` (``window + 1`` book rows, ``window`` changes:
    :func:`generators.encoding.regime_values`); ``hits`` has one entry per complete window start.
    """
    hits = np.asarray(hits, bool)
    if hits.ndim != 1 or hits.size + window > n_rows:
        raise ParameterError(f"covered_rows: {hits.size} window starts of {window} rows do not fit {n_rows} rows")
    change = np.zeros(n_rows + 1, np.int64)
    starts = np.flatnonzero(hits)
    np.add.at(change, starts, 1)
    np.add.at(change, starts + window + 1, -1)
    return np.cumsum(change[:n_rows]) > 0


def regime_mask(
    books: xr.Dataset, encoding: Any, regime: dict[str, int], *, window: int = enc.REGIME_WINDOW
) -> tuple[np.ndarray, int]:
    """Return the rows of a real span covered by a ``window``-row window in every asked quintile, and the windows.

    Each complete window (rows ``i .. i + window`` of the book's first ``encoding.book_levels`` levels) is measured
    as the model measures its training data and its paths (:func:`generators.encoding.regime_values`, the model's
    quintile edges ``encoding.quintiles``); ``regime`` gives quintiles 1-5 by name.
    """
    asked = enc.regime_condition(regime, source="regime of regime_mask")
    arrays = tuple(books[name].values[:, : encoding.book_levels] for name in BOOK_FIELDS)
    n_rows = arrays[0].shape[0]
    if n_rows <= window:
        raise DataError(f"regime_mask: a span of {n_rows} book rows holds no window of {window} rows")
    values = enc.regime_values(arrays, window=window)[: n_rows - window]
    hits = np.ones(values.shape[0], bool)
    quintiles = encoding.quintiles(values)
    for j in np.flatnonzero(asked != enc.NULL_REGIME):
        hits &= np.isfinite(values[:, j]) & (quintiles[:, j] == asked[j])
    return covered_rows(hits, window, n_rows), int(hits.sum())


def regime_reference(
    spans: dict[str, dict[str, xr.Dataset]],
    encoding: Any,
    regime: dict[str, int],
    *,
    min_rows: int = MIN_ROWS,
    order: tuple[str, ...] = ("test", "train"),
    window: int = enc.REGIME_WINDOW,
) -> tuple[dict[str, xr.Dataset], dict[str, Any]]:
    """Return the real flow of the asked quintiles as a scorecard reference, and its record.

    The first span of ``order`` whose rows covered by in-regime windows (:func:`regime_mask`) number at least
    ``min_rows`` gives the reference: its events and books at those rows, in time order (``window``: rows per
    regime window, the encoding's by default). Separate stretches are
    joined as they are (the record counts them: each join is one long inter-arrival and one jump in the book).
    """
    record: dict[str, Any] = {"regime": dict(regime), "tried": {}}
    for name in order:
        span = spans[name]
        mask, windows = regime_mask(span["books"], encoding, regime, window=window)
        kept = int(mask.sum())
        record["tried"][name] = {"rows": kept, "of": int(mask.size), "windows": windows}
        if kept >= min_rows:
            (edges,) = np.nonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
            segments = edges.reshape(-1, 2)
            ts = span["events"]["ts_ns"].values
            seconds = float(sum((int(ts[b - 1]) - int(ts[a])) / 1e9 for a, b in segments))
            record.update(span=name, rows=kept, windows=windows, stretches=int(segments.shape[0]), seconds=seconds)
            events = span["events"].isel({span["events"]["ts_ns"].dims[0]: mask})
            books = span["books"].isel({span["books"][BOOK_FIELDS[0]].dims[0]: mask})
            return {"events": events, "books": books}, record
    raise DataError(f"regime_reference: no span of {list(order)} holds {min_rows} rows of {regime} windows: "
                    f"{record['tried']}")  # fmt: skip


def path_card(card: Any, path: dict[str, xr.Dataset], encoding: Any) -> dict[str, Any]:
    """Return one path's scorecard summary: mean L1 with its interval, its floor, AUC, and the path's end regime."""
    mean = card.summary["l1"]["mean"]
    floor = floor_summary(card, confidence=CONFIDENCE)
    disc = card.discriminative
    out = {
        "mean_l1": {k: float(mean[k]) for k in ("value", "low", "high")},
        "l1_scores": int(card.summary["l1"]["scores"]),
        "floor": floor["floor_mean_l1"],
        "indistinguishable": bool(mean["low"] <= floor["floor_mean_l1"]["high"]),
        "scores_indistinguishable": len(floor["indistinguishable"]),
        "auc": float(disc.auc) if hasattr(disc, "auc") else None,
        "events": int(path["events"].sizes["event"]),
        "stuck": int(path["events"].attrs.get("stuck", 0)),
    }
    try:
        values = path_regime(path, at="end")
        out["end_regime"] = {name: float(v) for name, v in zip(enc.REGIMES, values, strict=True)}
        out["end_quintile"] = {
            n: int(q) + 1 for n, q in zip(enc.REGIMES, encoding.quintiles(values[None])[0], strict=True)
        }
    except DataError as error:  # too short to measure at its end: recorded
        out["end_regime"] = str(error)
    return out


def floor_replicates(card: Any) -> np.ndarray:
    """Return a card's floor replicates of the mean over its L1 scores (as :func:`heldout.floor_summary` takes it)."""
    rows = [r for r in card.rows if r.metric == "l1" and r.distance is not None]
    size = min(r.distance.floor_replicates.shape[0] for r in rows)
    return np.mean([r.distance.floor_replicates[:size] for r in rows], axis=0)


def over_paths(values: np.ndarray, *, seed: int, n_boot: int = PATH_BOOT, confidence: float = CONFIDENCE) -> dict:
    """Return the mean of per-path values with the percentile interval of a bootstrap over paths (seeded)."""
    values = np.asarray(values, np.float64)
    values = values[np.isfinite(values)]
    if values.size < 2:
        return {"value": float(np.mean(values)) if values.size else None, "low": None, "high": None, "n": values.size}
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    means = values[rng.integers(0, values.size, (n_boot, values.size))].mean(axis=1)
    low, high = np.percentile(means, check_bootstrap(n_boot, confidence)[1])
    return {"value": float(values.mean()), "low": float(low), "high": float(high), "n": int(values.size)}


def l1_scores(card: Any) -> dict[str, tuple[float, np.ndarray, np.ndarray]]:
    """Return a card's finite L1 scores by name (``quantity (family)``): value, replicates and floor replicates."""
    return {
        f"{r.quantity} ({r.family})": (float(r.distance.value), r.distance.replicates, r.distance.floor_replicates)
        for r in card.rows
        if r.metric == "l1" and r.distance is not None and np.isfinite(r.distance.value)
    }


def shared_mean(scores: dict[str, tuple], names: list[str]) -> dict[str, Any]:
    """Return the mean over ``names`` of a path's L1 scores (:func:`l1_scores`) with its interval, the mean's floor
    replicates, the floor's median and interval, and whether the path's interval reaches its floor's."""
    size = min(min(scores[n][1].shape[0], scores[n][2].shape[0]) for n in names)
    replicates = np.mean([scores[n][1][:size] for n in names], axis=0)
    floor = np.mean([scores[n][2][:size] for n in names], axis=0)
    (low, high), (f_low, f_high) = np.percentile(replicates, TAILS), np.percentile(floor, TAILS)
    value = float(np.mean([scores[n][0] for n in names]))
    return {
        "value": value, "low": float(low), "high": float(high), "floor_replicates": floor,
        "floor": {"value": float(np.median(floor)), "low": float(f_low), "high": float(f_high)},
        "indistinguishable": bool(low <= f_high),
    }  # fmt: skip


def summarise_arm(
    cards: list[Any], rows: list[dict[str, Any]], *, seed: int, names: list[str] | None = None
) -> dict[str, Any]:
    """Return an arm's summary over its paths' cards (see the module docstring) for one reference.

    With ``names`` the per-path score is the mean over those L1 scores only (:func:`shared_mean`; every card must
    hold them), so that arms compared on one reference average the same scores; without, over each card's own.
    """
    if names is None:
        values = [r["mean_l1"]["value"] for r in rows]
        floors = [r["floor"]["value"] for r in rows]
        floor_reps = np.mean([floor_replicates(c) for c in cards], axis=0)
        reached = [r["indistinguishable"] for r in rows]
    else:
        means = [shared_mean(c if isinstance(c, dict) else l1_scores(c), names) for c in cards]
        values = [m["value"] for m in means]
        floors = [m["floor"]["value"] for m in means]
        floor_reps = np.mean([m["floor_replicates"] for m in means], axis=0)
        reached = [m["indistinguishable"] for m in means]
    score = over_paths(values, seed=seed)
    low, high = np.percentile(floor_reps, TAILS)
    floor = {"value": float(np.median(floor_reps)), "low": float(low), "high": float(high)}
    auc = over_paths([np.nan if r["auc"] is None else r["auc"] for r in rows], seed=seed + 1)
    return {
        "mean_l1": score,
        "floor": floor,
        "indistinguishable": bool(score["low"] is not None and score["low"] <= floor["high"]),
        "paths_indistinguishable": int(sum(reached)),
        "paths": len(rows),
        "l1_scores": [len(names)] * 2
        if names
        else [min(r["l1_scores"] for r in rows), max(r["l1_scores"] for r in rows)],
        "auc": auc,
        "events": int(sum(r["events"] for r in rows)),
        "excess_over_floor": over_paths(np.subtract(values, floors), seed=seed + 2),
        "path_values": [float(v) for v in values],
        "path_excess": [float(v - f) for v, f in zip(values, floors, strict=True)],
    }


def difference(a: list[float], b: list[float], *, seed: int) -> dict[str, Any]:
    """Return mean(a) - mean(b) with the percentile interval of independent bootstraps over each one's paths."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    reps = (a[rng.integers(0, a.size, (PATH_BOOT, a.size))].mean(axis=1)
            - b[rng.integers(0, b.size, (PATH_BOOT, b.size))].mean(axis=1))  # fmt: skip
    low, high = np.percentile(reps, TAILS)
    return {"value": float(a.mean() - b.mean()), "low": float(low), "high": float(high)}


def size_adjusted_difference(
    a: list[float], b: list[float], size_a: list[float], size_b: list[float], *, seed: int
) -> dict[str, Any]:
    """Return the difference of ``a`` from ``b`` at equal path size, with a bootstrap interval over paths.

    The coefficient of the arm in the least-squares fit ``value = c + d [path in a] + s size`` over both arms' paths
    (one common slope ``s``: an L1 distance between histograms falls with the sample's size, and the SMC paths are
    busier); the interval resamples each arm's paths independently, as :func:`difference` does. ``slope`` is ``s``.
    """
    a, b, size_a, size_b = (np.asarray(x, np.float64) for x in (a, b, size_a, size_b))

    def fit(ia: np.ndarray, ib: np.ndarray) -> np.ndarray:
        y = np.concatenate([a[ia], b[ib]])
        x = np.column_stack(
            [np.ones(y.size), np.r_[np.ones(ia.size), np.zeros(ib.size)], np.r_[size_a[ia], size_b[ib]]]
        )
        return np.linalg.lstsq(x, y, rcond=None)[0]

    _, value, slope = fit(np.arange(a.size), np.arange(b.size))
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    reps = [fit(rng.integers(0, a.size, a.size), rng.integers(0, b.size, b.size))[1] for _ in range(PATH_BOOT)]
    low, high = np.percentile(reps, TAILS)
    return {"value": float(value), "low": float(low), "high": float(high), "slope": float(slope)}


def smc_realism(
    model: str | Path,
    *,
    spec: str | Path = DEFAULT_SPEC,
    seeds: tuple[int, ...] = (78, 79),
    arms: tuple[str, ...] = DEFAULT_ARMS,
    n_paths: int = 32,
    duration: float = 20.0,
    particles: int = 8,
    n_boot: int = 100,
    cache: str | Path | None = None,
    min_rows: int = MIN_ROWS,
) -> dict[str, Any]:
    """Sample every arm at every seed and score it against the held-out span and its quintile's real windows.

    Path ``p`` of seed ``s`` is scored with scoring seed ``s + p`` (as :mod:`scenarios.generate.heldout` does).
    Returns the references' records, every path's row (:func:`path_card`), each arm's summary per reference and
    seed and over all seeds on each card's own L1 scores (``seeds``, ``all``), the summary over all seeds on the L1
    scores every path of every arm computed against that reference (``shared``, the scores in ``shared_scores``),
    and on those the differences of the SMC arms from the other arms of the same or no condition, in mean L1
    (``differences``), in each path's excess over its own floor (``excess_differences``: the floor falls with the
    path's size, and the SMC paths are busier) and in mean L1 at equal size (``size_adjusted``,
    :func:`size_adjusted_difference`).
    """
    parsed = {arm: parse_arm(arm) for arm in arms}
    generator = load_generator(model)
    cache = None if cache is None else cache_folder(cache, model, spec)  # one subfolder per model and spec
    spans = spec_spans(load_spec(spec))
    references: dict[str, dict] = {"heldout": spans["test"]}
    out: dict[str, Any] = {
        "references": {"heldout": {"span": "test", "rows": int(spans["test"]["events"].sizes["event"])}}
    }
    for _kind, regime in parsed.values():
        name = _reference_name(regime)
        if regime is not None and name not in references:
            references[name], out["references"][name] = regime_reference(spans, generator.encoding_, regime,
                                                                         min_rows=min_rows)  # fmt: skip
    out.update(arms={}, sampling={}, differences={}, excess_differences={}, size_adjusted={}, shared_scores={})
    compact: dict[tuple[str, str], list] = {}  # (arm, reference): every path's L1 scores (:func:`l1_scores`)
    for arm, (kind, regime) in parsed.items():
        targets = list(references) if regime is None else ["heldout", _reference_name(regime)]
        rows: dict[str, list] = {ref: [] for ref in targets}
        cards: dict[str, list] = {ref: [] for ref in targets}
        out["sampling"][arm] = {}
        for seed in seeds[:1] if kind == "real" else seeds:
            if kind == "real":  # real segments of another span: one set, scored with the first seed
                paths, cpu = real_segments(spans[arm.partition(":")[2]], duration, n_paths), 0.0
            else:
                paths, cpu = cached_arm(cache, generator, arm, n_paths=n_paths,
                                        duration=duration, seed=seed, particles=particles)  # fmt: skip
            out["sampling"][arm][str(seed)] = {
                "cpu_s": cpu,
                "events": int(sum(p["events"].sizes["event"] for p in paths)),
            }
            for ref in targets:
                key = arm_key(arm, n_paths=n_paths, duration=duration, seed=seed, particles=particles)
                seed_cards, scoring_cpu = cached(cache, f"{key}_vs-{ref.replace(' ', '-')}_boot{n_boot}.cards",
                                         partial(_timed, realism, paths, references[ref], seed=seed,
                                                 n_boot=n_boot))  # fmt: skip
                seed_rows = [path_card(c, p, generator.encoding_) for c, p in zip(seed_cards, paths, strict=True)]
                summary = summarise_arm(seed_cards, seed_rows, seed=seed)
                summary["scoring_cpu_s"] = scoring_cpu
                out["arms"].setdefault(arm, {}).setdefault(ref, {"seeds": {}})["seeds"][str(seed)] = summary
                rows[ref] += seed_rows
                cards[ref] += seed_cards
                compact.setdefault((arm, ref), []).extend(l1_scores(c) for c in seed_cards)
                print(f"{arm} seed {seed} vs {ref}: {_line(summary)}", flush=True)
        for ref in targets:
            entry = out["arms"][arm][ref]
            entry["all"] = summarise_arm(cards[ref], rows[ref], seed=seeds[0])
            entry["path_rows"] = rows[ref]
            print(f"{arm} all seeds vs {ref}: {_line(entry['all'])}", flush=True)
    for ref in references:  # every arm on one reference averages the L1 scores all its paths computed
        held = [set(scores) for (_, r), paths in compact.items() if r == ref for scores in paths]
        names = out["shared_scores"][ref] = sorted(set.intersection(*held)) if held else []
        for (arm, r), paths in compact.items():
            if r == ref and names:
                entry = out["arms"][arm][ref]
                entry["shared"] = summarise_arm(paths, entry["path_rows"], seed=seeds[0], names=names)
                print(f"{arm} all seeds vs {ref}, shared scores: {_line(entry['shared'])}", flush=True)
    for arm, (kind, regime) in parsed.items():
        if kind != "smc":
            continue
        for other, (other_kind, other_regime) in parsed.items():
            if other_kind == "smc" or other_regime not in (None, regime):
                continue
            for ref in sorted(set(out["arms"][arm]) & set(out["arms"][other])):
                pair = [out["arms"][name][ref].get("shared", {}) for name in (arm, other)]
                if all(pair):
                    label = f"{arm} - {other} vs {ref}"
                    values, excess = ([p[key] for p in pair] for key in ("path_values", "path_excess"))
                    out["differences"][label] = difference(*values, seed=seeds[0])
                    out["excess_differences"][label] = difference(*excess, seed=seeds[0])
                    sizes = [[r["events"] for r in out["arms"][name][ref]["path_rows"]] for name in (arm, other)]
                    out["size_adjusted"][label] = size_adjusted_difference(*values, *sizes, seed=seeds[0])
    for name, d in out["differences"].items():
        e, z = out["excess_differences"][name], out["size_adjusted"][name]
        print(f"{name}: mean L1 {d['value']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}], excess over the floor "
              f"{e['value']:+.3f} [{e['low']:+.3f}, {e['high']:+.3f}], at equal size {z['value']:+.3f} "
              f"[{z['low']:+.3f}, {z['high']:+.3f}]")  # fmt: skip
    return out


def _timed(function: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    begin = time.process_time()
    return function(*args, **kwargs), time.process_time() - begin


def _reference_name(regime: dict[str, int] | None) -> str:
    return "heldout" if regime is None else "quintile " + ",".join(f"{k}={v}" for k, v in sorted(regime.items()))


def _line(s: dict[str, Any]) -> str:
    m, f, a, x = s["mean_l1"], s["floor"], s["auc"], s["excess_over_floor"]
    verdict = "indistinguishable from the floor" if s["indistinguishable"] else "above the floor"
    auc = f"{a['value']:.3f} [{a['low']:.3f}, {a['high']:.3f}]" if a["low"] is not None else str(a["value"])
    return (f"mean L1 {m['value']:.3f} [{m['low']:.3f}, {m['high']:.3f}], floor {f['value']:.3f} [{f['low']:.3f}, "
            f"{f['high']:.3f}] ({verdict}); {s['paths_indistinguishable']}/{s['paths']} paths reach their floor; "
            f"AUC {auc}; {s['l1_scores'][0]}-{s['l1_scores'][1]} L1 scores; excess over the floor "
            f"{x['value']:.3f} [{x['low']:.3f}, {x['high']:.3f}]")  # fmt: skip


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run :func:`smc_realism` from the command line; print one line per arm, seed and reference; write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--spec", default=DEFAULT_SPEC)
    parser.add_argument("--seeds", type=int, nargs="+", default=[78, 79])
    parser.add_argument("--arms", nargs="+", default=list(DEFAULT_ARMS))
    parser.add_argument("--paths", type=int, default=32)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--particles", type=int, default=8)
    parser.add_argument("--n-boot", type=int, default=100)
    parser.add_argument("--min-rows", type=int, default=MIN_ROWS, help="fewest real rows of a quintile reference")
    parser.add_argument("--cache", default=None, help="folder of sampled paths (one pickle per seed and arm)")
    parser.add_argument("-o", "--output", default="smc_realism.json")
    args = parser.parse_args(argv)
    out = smc_realism(
        args.model, spec=args.spec, seeds=tuple(args.seeds), arms=tuple(args.arms), n_paths=args.paths,
        duration=args.duration, particles=args.particles, n_boot=args.n_boot, cache=args.cache, min_rows=args.min_rows,
    )  # fmt: skip
    config = {k: v for k, v in vars(args).items() if k != "output"}
    out["provenance"] = provenance(seed=args.seeds[0], config=config)
    write_json(args.output, out)
    return out


if __name__ == "__main__":
    main()
