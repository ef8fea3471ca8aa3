"""Score a synthetic store against a real one: the numbers as JSON and an xarray store, and a one-page HTML report.

Both datasets are loaded by :func:`simlab.io.dataset.load_dataset`, the data path every command shares: a simlab
store (the groups ``events`` and ``books`` of ``simlab simulate book``, ``simlab replay``, ``simlab ingest``; a single
events group such as ``path0000`` of ``simlab simulate hawkes``, ``group`` picks another) or the raw files themselves
(a LOBSTER message/orderbook pair, a Binance trades file, a folder of files, ...) with the reader's options.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from scenarios.report_html import format_interval
from simlab.errors import DataError
from simlab.io.dataset import load_dataset
from simlab.metrics.scorecard import ScoreCard, score
from simlab.provenance import provenance
from simlab.store import write_store, write_text_atomic

OUTPUTS = ("scores.json", "scores.zarr", "report.html")


def score_stores(
    synthetic: str | Path,
    real: str | Path,
    output: str | Path,
    *,
    seed: int,
    n_boot: int = 200,
    group: str | None = None,
    discriminative: bool = True,
    strict: bool = False,
    overwrite: bool = False,
    aggregate_trades: bool = False,
    format: str = "auto",
    options: dict[str, Any] | None = None,
    convention: str = "simlab",
    sequence_length: int | None = None,
    known_depth: bool | None = None,
) -> dict[str, Any]:
    """Score ``synthetic`` against ``real`` and write ``scores.json``, ``scores.zarr`` and ``report.html``.

    Parameters
    ----------
    synthetic, real
        Stores or raw files (see :func:`simlab.io.dataset.load_dataset`).
    output
        The folder written (created; its three outputs replaced only with ``overwrite``).
    seed
        Root seed of the bootstraps and of the classifier.
    n_boot
        Bootstrap replicates of every interval.
    group
        The events group of the synthetic store (see :func:`simlab.io.dataset.load_dataset`).
    discriminative
        Train the real-vs-synthetic classifier.
    strict
        Fail with the list of every measure that is not applicable instead of reporting them.
    overwrite
        Replace existing outputs.
    aggregate_trades
        Merge the consecutive trades of one aggressor side sharing a timestamp into one market order in both
        datasets before scoring (:func:`simlab.metrics.scorecard.aggregate_trades`): raw trade files (Binance) hold
        one print per fill, several per taker order, where a simulated market order is one event.
    format, options
        The format and reader options of ``real`` when it is raw files (see :func:`simlab.io.read`).
    convention
        ``simlab`` or ``lobbench`` (:func:`simlab.metrics.scorecard.score`); the outputs say which produced them.
    sequence_length
        Under ``lobbench``: messages per sequence (None: one sequence per dataset).
    known_depth
        Read the books' unknown-cell masks (:func:`simlab.metrics.scorecard.score`; None: when they mark any).

    Returns
    -------
    dict
        A summary: the paths written, the mean L1 and W1 with intervals, the ROC-AUC and the count of scores.
    """
    output = Path(output)
    existing = [name for name in OUTPUTS if (output / name).exists()]
    if existing and not overwrite:
        raise DataError(f"{output} already holds {existing}; pass overwrite=True to replace them")
    data = load_dataset(synthetic, group), load_dataset(real, format=format, **(options or {}))
    card = score(
        *data, seed=seed, n_boot=n_boot, discriminative=discriminative, strict=strict,
        aggregate_trades=aggregate_trades, convention=convention, sequence_length=sequence_length,
        known_depth=known_depth,
    )  # fmt: skip
    config = {"synthetic": str(synthetic), "real": str(real), "group": group, "n_boot": n_boot, "strict": strict}
    config.update(aggregate_trades=aggregate_trades, format=format, options=options or {})
    config.update(aggregate_trades=aggregate_trades, convention=convention, sequence_length=sequence_length)
    config.update(known_depth=card.meta.get("known_depth", False))
    write_outputs(card, output, seed=seed, config=config, title=f"{Path(synthetic).name} against {Path(real).name}")
    return summary(card, output)


def write_outputs(card: ScoreCard, output: Path, *, seed: int, config: dict[str, Any], title: str) -> None:
    """Write ``scores.json``, ``scores.zarr`` and ``report.html`` of ``card`` under ``output`` (replacing them)."""
    from scenarios.score.report import write_report

    document = {"convention": card.meta.get("convention", "simlab"), **card.to_dict()}
    document["provenance"] = provenance(seed=seed, config=config)
    output.mkdir(parents=True, exist_ok=True)
    write_text_atomic(output / "scores.json", json.dumps(document, indent=1, default=float) + "\n")
    write_store(card.to_dataset(), output / "scores.zarr", attrs=provenance(seed=seed, config=config), overwrite=True)
    write_report(card, output / "report.html", title=title)


def summary(card: ScoreCard, output: Path | None = None) -> dict[str, Any]:
    """Return the headline numbers of a scorecard (and the files written under ``output``)."""
    out: dict[str, Any] = {}
    if output is not None:
        out.update({name.split(".")[1]: str(output / name) for name in OUTPUTS})
    confidence = card.meta.get("confidence", 0.99)
    for metric, table in card.summary.items():
        mean = [table["mean"][k] for k in ("value", "low", "high")]
        out[f"mean {metric} [{100 * confidence:g}% interval]"] = format_interval(*mean, digits=".4f")
    out["convention"] = card.meta.get("convention", "simlab")
    ok = sum(row.distance is not None for row in card.rows)
    out["scores"] = f"{ok} of {len(card.rows)} applicable"
    disc = card.to_dict()["discriminative"]
    out["ROC-AUC real vs synthetic"] = (
        format_interval(disc["auc"], disc["low"], disc["high"], level=confidence, digits=".3f")
        if isinstance(disc, dict)
        else disc
    )
    return out
