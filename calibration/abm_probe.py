"""A cheap probe of an agent-market candidate: the whole AMZN day's mean L1 and ROC-AUC at a few seeds.

Choosing a preset's integer settings (``market_maker.keep_touch_ticks``, ``quote_offset_ticks``,
``min_half_spread_ticks``) or a start for the fit needs many candidates scored on the whole day. A candidate here is
a preset with some of its ``table.key`` settings replaced (the fit's ``[calibration]`` table is ignored); it is scored
as :func:`calibration.abm.score_abm_preset` scores the ``calibration`` part (one simulated day from the real day's
first event, the scorecard's mean L1, classifier and the day's stylized facts with
:data:`calibration.score_presets.N_BOOT` replicates), without the 12:00-12:30 window. Score candidates on
exploration seeds, then the chosen one with the full scripts on the scorecard's seed and the held-out ones.

``python -m calibration.abm_probe PRESET DATA_DIR SEED[,SEED...] [table.key=value ...]`` prints one line per seed.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from calibration.abm import AMZN_DAY, _split, cut_window, load_abm_preset
from calibration.abm_heldout import FACTS, _interval
from simlab.agents import MarketConfig, simulate_abm
from simlab.errors import ParameterError


def with_settings(config: MarketConfig, settings: dict[str, str]) -> MarketConfig:
    """Return ``config`` with the dotted settings replaced, each parsed to its field's type (int or float); a value
    with commas (``fundamental.activity_time_s=60,600,3600``) is a tuple of them, for the fields that take a list.

    An unknown ``table.key`` or a value that is not a number of that type is refused with a sentence; the market's
    own validation then checks the value.
    """
    for name, text in settings.items():
        table, key = _split(config, name)
        current = getattr(getattr(config, table), key)
        if isinstance(current, tuple) and current and all(isinstance(v, float) for v in current):
            current = current[0]  # a list of floats (e.g. `fundamental.activity_time_s`): its items are floats
        if not isinstance(current, (int, float)) or isinstance(current, bool):
            raise ParameterError(f"abm_probe: setting {name!r} is not a number (found {current!r}); only numbers "
                                 "can be replaced")  # fmt: skip
        kind = int if isinstance(current, int) else float
        try:
            items = tuple(kind(item) for item in text.split(","))
        except ValueError:
            raise ParameterError(f"abm_probe: setting {name!r} expects an {kind.__name__} or a comma-separated list "
                                 f"of them, found {text!r}") from None  # fmt: skip
        value = items if "," in text else items[0]  # a list goes to the field's own check (most take none)
        config = replace(config, **{table: replace(getattr(config, table), **{key: value})})
    return config


def parse_settings(arguments: list[str]) -> dict[str, str]:
    """``["table.key=value", ...]`` as a dict; an argument without ``=`` is refused with a sentence."""
    out = {}
    for argument in arguments:
        name, sep, value = argument.partition("=")
        if not sep or not name or not value:
            raise ParameterError(f"abm_probe: setting {argument!r} must read `table.key=value`")
        out[name] = value
    return out


def probe_day(config: MarketConfig, real: Any, seed: int) -> dict[str, Any]:
    """Score one simulated day of ``config`` at ``seed`` against the real day ``real`` (a loaded dataset): the
    scorecard's mean L1 (value, 99 % low, high, count of scores), ROC-AUC (value, 99 % low, high) and the
    synthetic day's stylized facts of :data:`calibration.abm_heldout.FACTS` (value, 99 % low, high; a sentence when
    the scorecard could not compute one)."""
    from calibration.score_presets import N_BOOT, _numbers
    from simlab.metrics.scorecard import score

    first = int(real["events"]["ts_ns"].values[0])
    day = simulate_abm(replace(config, open_ns=first), seed=seed, duration_s=config.session_s)
    lo, hi = first, first + int(config.session_s * 1e9)
    card = _numbers(score(cut_window(day, lo, hi), cut_window(real, lo, hi), seed=seed, n_boot=N_BOOT))
    l1, d = card["summary"]["l1"], card["discriminative"]
    facts = card["stylized_facts"]
    return {
        "seed": seed,
        "mean_l1": [l1["mean"]["value"], l1["mean"]["low"], l1["mean"]["high"]],
        "scores": l1["scores"],
        "auc": [d["auc"], d["low"], d["high"]],
        **{name: _interval(facts[name].get("synthetic") if isinstance(facts.get(name), dict) else facts.get(name))
           for name in FACTS},
    }  # fmt: skip


def _shown(fact: Any) -> str:
    """A fact of :func:`probe_day` as ``value [low, high]`` (two decimals), or its sentence."""
    return f"{fact[0]:.2f} [{fact[1]:.2f}, {fact[2]:.2f}]" if isinstance(fact, list) else str(fact)


if __name__ == "__main__":  # python -m calibration.abm_probe PRESET DATA_DIR SEED[,SEED...] [table.key=value ...]
    from simlab.io.dataset import load_dataset

    preset, folder, seeds = Path(sys.argv[1]), Path(sys.argv[2]), [int(s) for s in sys.argv[3].split(",")]
    settings = parse_settings(sys.argv[4:])
    config = with_settings(load_abm_preset(preset)[0], settings)
    real = load_dataset(folder / AMZN_DAY)
    label = " ".join(f"{k}={v}" for k, v in settings.items()) or "as fitted"
    for seed in seeds:
        row = probe_day(config, real, seed)
        l1, auc = row["mean_l1"], row["auc"]
        tail, abs_acf, sign = (_shown(row[name]) for name in FACTS)
        print(f"{preset.stem} [{label}] seed {seed}: day mean L1 {l1[0]:.3f} [{l1[1]:.3f}, {l1[2]:.3f}] "
              f"AUC {auc[0]:.3f} [{auc[1]:.3f}, {auc[2]:.3f}] tail index (60 s) {tail} ACF of |r| exponent "
              f"{abs_acf} sign ACF exponent {sign}", flush=True)  # fmt: skip
