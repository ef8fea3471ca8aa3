"""An agent-market preset's scorecard on held-out seeds: mean L1 and ROC-AUC with their intervals, and the facts.

:func:`calibration.abm.score_abm_preset` scores one simulated day (seed 20260501, the scorecard's) on the whole AMZN
day and on the fitted window. A preset's integer settings and start are chosen on other seeds, so the same day
simulated from seeds never used for a choice says whether its numbers are the seed's luck.

``python -m calibration.abm_heldout PRESET DATA_DIR SEED [SEED ...]`` writes ``<preset>.heldout.json`` beside the
preset (per seed and window: mean L1, ROC-AUC, the tail index, the ACF of absolute returns and the order-sign ACF
exponents, each with its 99 % interval) and prints one line per seed and window.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from calibration.abm import score_abm_preset
from simlab.store import write_text_atomic

FACTS = ("hill_tail_index_60s", "abs_return_acf_exponent", "sign_acf_exponent")


def _interval(part: Any) -> Any:
    """``[value, low, high]`` of a scorecard number; a fact the scorecard could not compute stays its sentence."""
    return [part["value"], part["low"], part["high"]] if isinstance(part, dict) else part


def heldout_summary(path: str | Path, data_dir: str | Path, seeds: list[int]) -> dict[str, Any]:
    """Score the preset at ``path`` on each seed; return per seed and window the headline numbers (value, 99 %
    low, high): ``mean_l1`` (and its ``scores`` count), ``auc`` and the :data:`FACTS` (real and synthetic)."""
    out: dict[str, Any] = {"preset": Path(path).stem, "seeds": {}}
    for seed in seeds:
        document = score_abm_preset(path, data_dir, seed=seed)
        rows = {}
        for label in ("calibration", "window"):
            part = document[label]
            facts = part["stylized_facts"]
            rows[label] = {
                "mean_l1": _interval(part["summary"]["l1"]["mean"]),
                "scores": part["summary"]["l1"]["scores"],
                "auc": [part["discriminative"][k] for k in ("auc", "low", "high")],
                **{f"{name}_{who}": _interval(facts[name].get(who) if isinstance(facts[name], dict) else facts[name])
                   for name in FACTS if name in facts for who in ("real", "synthetic")},
            }  # fmt: skip
        out["seeds"][str(seed)] = rows
    return out


if __name__ == "__main__":  # python -m calibration.abm_heldout PRESET DATA_DIR SEED [SEED ...]
    preset = Path(sys.argv[1])
    summary = heldout_summary(preset, sys.argv[2], [int(s) for s in sys.argv[3:]])
    write_text_atomic(preset.with_name(preset.stem + ".heldout.json"), json.dumps(summary, indent=1) + "\n")
    for seed, rows in summary["seeds"].items():
        for label, row in rows.items():
            l1, auc = row["mean_l1"], row["auc"]
            print(f"{seed} {label:11s} mean L1 {l1[0]:.3f} [{l1[1]:.3f}, {l1[2]:.3f}] ({row['scores']}) "
                  f"AUC {auc[0]:.3f} [{auc[1]:.3f}, {auc[2]:.3f}]")  # fmt: skip
