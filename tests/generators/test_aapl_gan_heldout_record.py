"""The tiny AAPL GAN's held-out record beside the diffusion model (scenarios/library/generate_aapl_tiny.heldout-gan-
20261204.json): both retrained from their specs in session 38 and scored in one run (docs/scorecard_book_features.md,
"Session 38"), kept so that a later re-read is a read. Each path's numbers are the page's, the classifier read the
book (the seven flow features and the six book features), and the verdict is session 20's rule: GAN - diffusion
above 0 with its 99 % interval excluding 0 on both paths."""

from __future__ import annotations

import json
from pathlib import Path

from simlab.metrics.discriminative import BOOK_FEATURES

RECORD = Path(__file__).parents[2] / "scenarios" / "library" / "generate_aapl_tiny.heldout-gan-20261204.json"
# family -> per path: mean L1 [99 %], ROC-AUC [its interval] (docs/scorecard_book_features.md, "Session 38")
PAGE = {
    "diffusion": [((0.276, 0.259, 0.302), (0.761, 0.376, 0.981)), ((0.268, 0.250, 0.290), (0.895, 0.630, 1.000))],
    "gan": [((0.325, 0.308, 0.346), (0.934, 0.616, 0.997)), ((0.310, 0.295, 0.334), (0.936, 0.756, 0.996))],
}
# GAN - diffusion per path, over the 19 shared scores (99 %)
DIFFERENCE = [(0.049, 0.021, 0.077), (0.042, 0.018, 0.072)]


def _three(d):
    return tuple(round(d[k], 3) for k in ("value", "low", "high"))


def test_the_paths_are_the_page_s_and_were_read_with_the_book():
    record = json.loads(RECORD.read_text())
    config = json.loads(record["provenance"]["config"])
    assert record["provenance"]["seed"] == 20261204 == config["seed"]
    assert config["spec"] == "scenarios/library/generate_aapl_tiny.toml" and config["stop_when_stuck"] is True
    (diffusion, gan) = record["models"].values()
    for result, family in ((diffusion, "diffusion"), (gan, "gan")):
        assert result["family"] == family
        for path, (l1, auc) in zip(result["paths"], PAGE[family], strict=True):
            assert _three(path["mean_l1"]) == l1
            classifier = path["classifier"]
            assert (round(classifier["auc"], 3), round(classifier["low"], 3), round(classifier["high"], 3)) == auc
            assert set(BOOK_FEATURES) <= set(classifier["features"]) and len(classifier["features"]) == 13


def test_the_diffusion_model_beats_the_gan_on_both_paths():
    record = json.loads(RECORD.read_text())
    ((name, rows),) = record["comparisons"].items()
    assert name.startswith(str(json.loads(record["provenance"]["config"])["models"][1]))
    for row, difference in zip(rows, DIFFERENCE, strict=True):
        assert row["shared"] == 19 and _three(row["difference"]) == difference
        assert row["difference"]["low"] > 0  # the rule: above 0, its interval excluding 0
