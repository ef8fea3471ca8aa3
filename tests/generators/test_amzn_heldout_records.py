"""The AMZN diffusion model's held-out records (scenarios/library/generate_amzn_tiny.heldout-*.json): session 18's
reference model retrained from its spec and scored again in session 35 (docs/scorecard_book_features.md, "Session
35"), kept so that a later re-read is a read. Each path's numbers are the page's (docs/generators_amzn.md) and its
classifier read the book: the seven flow features and the five book features, no window left out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simlab.metrics.discriminative import BOOK_FEATURES

LIBRARY = Path(__file__).parents[2] / "scenarios" / "library"
# sampling seed -> per path: mean L1 [99 %], ROC-AUC, events (docs/generators_amzn.md, the reference rows)
PAGE = {
    20261203: [((0.266, 0.252, 0.287), 0.928, 1729), ((0.201, 0.185, 0.217), 0.912, 2357)],
    20261204: [((0.195, 0.177, 0.212), 0.856, 2361), ((0.239, 0.225, 0.261), 0.937, 2279)],
}


@pytest.mark.parametrize("seed", sorted(PAGE))
def test_the_reference_s_paths_are_the_page_s_and_were_read_with_the_book(seed):
    record = json.loads((LIBRARY / f"generate_amzn_tiny.heldout-{seed}.json").read_text())
    config = json.loads(record["provenance"]["config"])
    assert record["provenance"]["seed"] == seed == config["seed"]
    assert config["spec"] == "scenarios/library/generate_amzn_tiny.toml" and config["stop_when_stuck"] is True
    ((model, result),) = record["models"].items()
    assert model.endswith("amzn-diff-v4.model") and result["family"] == "diffusion"
    for path, (l1, auc, events) in zip(result["paths"], PAGE[seed], strict=True):
        assert tuple(round(path["mean_l1"][k], 3) for k in ("value", "low", "high")) == l1
        assert round(path["classifier"]["auc"], 3) == auc and path["events"] == events
        features = path["classifier"]["features"]
        assert len(features) == 12 and set(BOOK_FEATURES) - set(features) == {"share_unquoted"}, features
        assert "unquoted_windows" not in path["classifier"]  # every window kept: the span and the path quoted
