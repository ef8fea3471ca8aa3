"""The scorecard under the LOB-Bench convention: :func:`simlab.metrics.lobbench_convention.score_lobbench` as a
:class:`simlab.metrics.scorecard.ScoreCard` (``score(..., convention="lobbench")``).

Both datasets are written as LOBSTER rows in memory (:func:`simlab.book.export.lobster_table`, each with its own
book levels, as the reference reads each file) and cut into sequences of ``sequence_length`` messages. The rows of
the card are the reference's scores under its names (families ``unconditional`` and ``conditional``, metrics ``l1``
and ``wasserstein``; intervals are the reference's 99 % percentile intervals, it has no real-vs-real floor) and the
impact response score (family ``response``, metric ``sum_abs_diff_ticks``, no interval); the summary is the
reference's ``summary_stats``. A score the reference leaves undefined (NaN, e.g. the Wasserstein distance of a
constant sample) is reported as not applicable with that reason. The stylized facts are simlab's (the reference has
none); the full document, with every bootstrap value, is ``card.lobbench``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from simlab.book.export import lobster_table
from simlab.errors import DataError
from simlab.metrics.distances import Distance
from simlab.metrics.lobbench_convention import score_lobbench, sequences
from simlab.metrics.scorecard import ScoreRow

REFERENCE = "peernagy/lob_bench@276baf3"


Pair = tuple[xr.Dataset, xr.Dataset | None]


def lobbench_rows(synthetic: Pair, real: Pair, sequence_length: int | None) -> tuple[list, dict, dict]:
    """Return the card rows, the summary and the reference document of ``synthetic`` against ``real``.

    Parameters
    ----------
    synthetic, real
        (events, books) of each dataset; books are required.
    sequence_length
        Messages per sequence (None: one sequence per dataset).
    """
    tables = []
    for name, (events, books) in (("real", real), ("synthetic", synthetic)):
        if books is None:
            raise DataError(f"score --convention lobbench: the {name} dataset has no books (LOBSTER rows need them)")
        tables.append(lobster_table(events, books))
    if sequence_length is not None and (isinstance(sequence_length, bool) or int(sequence_length) < 2):
        raise DataError(f"score --convention lobbench: `sequence_length` must be >= 2 messages; got {sequence_length}")
    tick = int(round(float(real[0].attrs["tick_size"]) * 10_000))
    document = score_lobbench(*(sequences(t, sequence_length) for t in tables), tick=tick)
    rows = []
    for family in ("unconditional", "conditional"):
        for quantity, entry in document[family].items():
            for metric in ("l1", "wasserstein"):
                rows.append(_row(quantity, family, metric, entry))
    score = document["impact"]["score"]
    reason = "" if score is not None else "undefined in the reference (a touch-event type missing in one dataset)"
    distance = None if score is None else _distance(score, [np.nan, np.nan], [score])
    rows.append(ScoreRow("impact_response", "response", "sum_abs_diff_ticks", distance, reason))
    summary = {}
    for family, label in (("unconditional", ""), ("conditional", " conditional")):
        for metric, table in document["summary"][family].items():
            scored = sum(1 for r in rows if r.family == family and r.metric == metric and r.distance is not None)
            triples = {k: [np.nan if v is None else v for v in table[k]] for k in table}
            summary[metric + label] = {
                k: dict(zip(("value", "low", "high"), v, strict=True)) for k, v in triples.items()
            }
            summary[metric + label]["scores"] = scored
    return rows, summary, document


def _row(quantity: str, family: str, metric: str, entry: dict[str, Any]) -> ScoreRow:
    if "status" in entry:
        return ScoreRow(quantity, family, metric, None, entry["status"].removeprefix("not applicable: "))
    value = entry[metric]
    if value["value"] is None:
        return ScoreRow(quantity, family, metric, None, "undefined in the reference (NaN: a constant or empty sample)")
    return ScoreRow(quantity, family, metric, _distance(value["value"], value["ci"], value["replicates"]))


def _distance(value: float, ci: list, replicates: list) -> Distance:
    low, high = (np.nan if c is None else c for c in ci)
    reps = np.array([np.nan if r is None else r for r in replicates], dtype=np.float64)
    nan = float("nan")
    return Distance(float(value), float(low), float(high), nan, nan, nan, reps, np.full(reps.size, np.nan))
