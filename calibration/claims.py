"""Write ``docs/claims.md``: the README's realism claims read against the stored preset scores.

Every number in the document comes from the score tables beside the presets (``calibration/presets/<preset>
.scores.json``, and ``<preset>.lobbench.json`` for the book presets), every reading from a rule on those numbers
(:func:`read_score`, :func:`read_fact`, :func:`read_auc`), and every claim's corrected wording from counts of those
readings. Run ``python -m calibration.claims`` after regenerating the score tables; ``tests/calibration/
test_claims.py`` fails when the committed document differs from the one the tables give.
"""

from __future__ import annotations

import json
import math
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from simlab.errors import DataError
from simlab.store import write_text_atomic

PRESET_DIR = Path(__file__).resolve().parent / "presets"
DOCUMENT = Path(__file__).resolve().parent.parent / "docs" / "claims.md"
CONFIDENCE = 0.99  # the interval level of simlab.metrics.scorecard.score's default, which score_presets uses
LEVEL = f"{CONFIDENCE * 100:.0f} %"
INTERARRIVAL, FLOW, VOLUME = "log10_interarrival_s", "flow_events_per_10s", "traded_volume_per_minute"
ORDER_FLOW_SCORES = (INTERARRIVAL, FLOW, VOLUME)
BOOK_SCORES = ("spread_ticks", INTERARRIVAL, "log10_time_to_cancel_s", "bid_volume_l1", FLOW, "ofi_l1")
ORDER_FLOW_FACTS = ("interarrival_cv", "log_interarrival_acf_lag1")
BOOK_FACTS = ("interarrival_cv", "mean_spread_ticks")
MARKETS = {"binance-spot": "spot", "binance-futures": "USD-M"}
SMALL_WINDOW = 10_000  # real events; below it an interval is wide
WINDOW_NAMES = {"calibration": "fitted", "held_out": "held-out"}


@dataclass(frozen=True)
class Interval:
    """A value with its interval (``low`` <= ``high``)."""

    value: float
    low: float
    high: float

    def overlaps(self, other: Interval) -> bool:
        """Return whether the two intervals share a point."""
        return self.low <= other.high and other.low <= self.high

    def text(self, digits: int = 3) -> str:
        """Return ``value [low, high]`` rounded to ``digits`` decimals."""
        return f"{self.value:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"


def read_score(score: Interval, floor: Interval) -> str:
    """Read a distance against its real-vs-real floor: "indistinguishable", "above the floor" or "below the floor"."""
    if score.low > floor.high:
        return "above the floor"
    return "below the floor" if score.high < floor.low else "indistinguishable"


def read_fact(simulated: Interval, real: Interval) -> str:
    """Read a stylized fact: "indistinguishable" where the intervals overlap, else "simulated higher" / "lower"."""
    if simulated.overlaps(real):
        return "indistinguishable"
    return "simulated higher" if simulated.low > real.high else "simulated lower"


def read_auc(auc: Interval) -> str:
    """Read a ROC-AUC interval against chance (0.5)."""
    if auc.low > 0.5:
        return "tells them apart"
    return "below chance (interval under 0.5)" if auc.high < 0.5 else "cannot tell them apart (interval holds 0.5)"


@dataclass(frozen=True)
class Window:
    """The numbers of one scored window of one preset."""

    preset: str
    kind: str  # "fitted" or "held-out"
    label: str  # e.g. "fitted spot BTCUSDT"
    span: str
    events: tuple[int, int]  # real, simulated
    duration_s: float
    mean_l1: Interval
    scores: dict[tuple[str, str], tuple[Interval, Interval]]  # (quantity, metric) -> (score, floor)
    facts: dict[str, tuple[Interval, Interval]]  # name -> (simulated, real)
    auc: Interval | None

    def score_reading(self, quantity: str, metric: str = "l1") -> str | None:
        """Return the reading of one score, or None where it is not applicable."""
        pair = self.scores.get((quantity, metric))
        return None if pair is None else read_score(*pair)

    def fact_reading(self, name: str) -> str | None:
        """Return the reading of one stylized fact, or None where it is not applicable."""
        pair = self.facts.get(name)
        return None if pair is None else read_fact(*pair)


@dataclass(frozen=True)
class Preset:
    """One preset's scored windows, model and, for a book preset, its LOB-Bench-convention mean L1."""

    name: str
    model: str
    instrument: str
    windows: list[Window]
    missing: dict[str, str] = field(default_factory=dict)  # window kind -> why it is not available
    lobbench: tuple[Interval, int, str] | None = None  # mean unconditional L1, number of scores, reference

    @property
    def is_book(self) -> bool:
        """Return whether the preset simulates a book (rather than order flow alone)."""
        return self.model != "hawkes"


def _interval(entry: dict, where: str) -> Interval:
    if not all(isinstance(entry.get(k), (int, float)) for k in ("value", "low", "high")):
        raise DataError(f"{where}: expected numbers value, low and high; found {entry!r}")
    return Interval(float(entry["value"]), float(entry["low"]), float(entry["high"]))


def _window(preset: str, market: str, kind: str, entry: dict, path: Path) -> Window:
    where = f"{path.name} [{kind}]"
    scores = {}
    for row in entry["scores"]:
        if row["status"] == "ok" and "floor" in row:
            floor = {"value": row["floor"], "low": row["floor_low"], "high": row["floor_high"]}
            scores[row["quantity"], row["metric"]] = (_interval(row, where), _interval(floor, where))
    facts = {
        name: (_interval(pair["synthetic"], where), _interval(pair["real"], where))
        for name, pair in entry["stylized_facts"].items()
        if isinstance(pair["synthetic"], dict) and isinstance(pair["real"], dict)
    }
    disc = entry["discriminative"]
    auc = Interval(disc["auc"], disc["low"], disc["high"]) if isinstance(disc, dict) else None
    name = WINDOW_NAMES[kind]
    until = f" to {entry['end']}" if "end" in entry else ""
    span = f"{'' if until else 'from '}{entry['start']}{until}, {entry['duration_s']:,.0f} s"
    events = (int(entry["events"]["real"]), int(entry["events"]["synthetic"]))
    mean_l1 = _interval(entry["summary"]["l1"]["mean"], where)
    label = f"{name} {market}".strip()
    return Window(preset, name, label, span, events, float(entry["duration_s"]), mean_l1, scores, facts, auc)


def load_preset(path: Path) -> Preset:
    """Read one ``<preset>.scores.json`` (with its ``.toml`` and, if present, ``.lobbench.json``) into a Preset."""
    name = path.name.removesuffix(".scores.json")
    toml = path.with_name(f"{name}.toml")
    if not toml.exists():
        raise DataError(f"{path}: no preset file {toml.name} beside it; expected the preset the scores belong to")
    data = tomllib.loads(toml.read_text())
    # an agent-market preset is a market config (no [preset] table): its [market] table names the instrument
    header = data.get("preset") or {"model": "abm", "venue": "", "instrument": data["market"]["instrument"]}
    market = " ".join(w for w in (MARKETS.get(header["venue"], ""), header["instrument"]) if w)
    document = json.loads(path.read_text())
    windows, missing = [], {}
    for kind in WINDOW_NAMES:
        entry = document.get(kind)
        if isinstance(entry, dict):
            try:
                windows.append(_window(name, market, kind, entry, path))
            except KeyError as error:
                raise DataError(
                    f"{path} [{kind}]: no key {error}; expected a table of calibration.score_presets"
                ) from error
        elif isinstance(entry, str):
            missing[WINDOW_NAMES[kind]] = entry
        else:
            raise DataError(f"{path}: key {kind!r} must hold a window's scores or why there is none; found {entry!r}")
    lobbench = None
    lob_path = path.with_name(f"{name}.lobbench.json")
    if lob_path.exists():
        lob = json.loads(lob_path.read_text())
        l1 = lob["summary"]["l1"]
        lobbench = (_interval(l1["mean"], lob_path.name), int(l1["scores"]), str(lob["reference"]))
    return Preset(name, header["model"], header["instrument"], windows, missing, lobbench)


def load_presets(directory: Path = PRESET_DIR) -> tuple[list[Preset], dict]:
    """Read every preset score table of ``directory``; return the presets (order flow first) and the run settings.

    Raises
    ------
    DataError
        If there is no score table, or the tables were built with different seeds or bootstrap sizes.
    """
    paths = sorted(Path(directory).glob("*.scores.json"))
    if not paths:
        raise DataError(f"{directory}: no <preset>.scores.json; expected the tables of calibration.score_presets")
    settings = {(d["seed"], d["n_boot"]) for d in (json.loads(p.read_text()) for p in paths)}
    if len(settings) != 1:
        raise DataError(f"{directory}: the score tables must share one seed and n_boot; found {sorted(settings)}")
    presets = sorted(
        (load_preset(p) for p in paths), key=lambda p: (p.is_book, p.instrument if p.is_book else "", p.name)
    )
    seed, n_boot = settings.pop()
    return presets, {"seed": seed, "n_boot": n_boot}


def share(count: int, total: int) -> str:
    """Return ``count`` of ``total`` in words: "all 12", "none of the 12" or "5 of 12"."""
    if count == total:
        return f"all {total}" if total > 2 else ("both" if total == 2 else "the one")
    return f"none of the {total}" if count == 0 else f"{count} of {total}"


def listing(items: list[str]) -> str:
    """Join ``items`` as "a", "a and b" or "a, b and c"."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1] if items else "none"


def _except(selected: list[Window], windows: list[Window]) -> str:
    """Name the windows of a count: " (a and b)" when few are selected, " (all but a)" when few are not."""
    rest = [w for w in windows if w not in selected]
    if 0 < len(selected) <= min(5, len(windows) // 2):
        return f" ({listing([w.label for w in selected])})"
    if 0 < len(rest) <= 5 and selected:
        return f" (all but {listing([w.label for w in rest])})"
    return ""


def _above(windows: list[Window], quantity: str, metric: str = "l1") -> list[Window]:
    return [w for w in windows if w.score_reading(quantity, metric) == "above the floor"]


def _facts(windows: list[Window], name: str, reading: str) -> list[Window]:
    return [w for w in windows if w.fact_reading(name) == reading]


def _score_text(window: Window, quantity: str, metric: str = "l1") -> str:
    score, floor = window.scores[quantity, metric]
    return f"{score.text()} against a floor of {floor.text()}"


def _fact_text(window: Window, name: str, digits: int = 3) -> str:
    simulated, real = window.facts[name]
    return f"{simulated.text(digits)} against real {real.text(digits)}"


def claim_interarrival(flow: list[Window]) -> tuple[str, str]:
    """Read "the Hawkes presets reproduce the inter-arrival law"; return (the numbers say, corrected wording)."""
    n = len(flow)
    l1, w1 = _above(flow, INTERARRIVAL), _above(flow, INTERARRIVAL, "w1")
    cv = _facts(flow, "interarrival_cv", "indistinguishable")
    acf = {r: _facts(flow, "log_interarrival_acf_lag1", r) for r in ("simulated lower", "simulated higher")}
    acf_off = len(acf["simulated lower"]) + len(acf["simulated higher"])
    said = (
        f"L1 of the log inter-arrival law is above the real-vs-real floor in {share(len(l1), n)} windows"
        f"{_except(l1, flow)}; W1 of it is above the floor in {share(len(w1), n)}{_except(w1, flow)}; the "
        f"inter-arrival coefficient of variation is indistinguishable in {share(len(cv), n)}{_except(cv, flow)}; "
        f"the lag-1 autocorrelation of log inter-arrivals is lower than real in {share(len(acf['simulated lower']), n)}"
        f" and higher in {share(len(acf['simulated higher']), n)}{_except(acf['simulated higher'], flow)}"
    )
    spread = (
        "the spread of the inter-arrival times (coefficient of variation indistinguishable in "
        f"{share(len(cv), n)} windows)"
    )
    histogram = f"its L1 distance lies above the real-vs-real floor in {share(len(l1), n)} windows"
    memory = f"the memory of successive intervals (lag-1 autocorrelation) is off in {share(acf_off, n)}"
    if not l1 and not acf_off:
        return said, f"Supported: {spread}, the histogram (L1 within the floor in all {n}) and the memory all match."
    if 2 * len(cv) > n and 2 * len(l1) > n:
        return said, f"The Hawkes presets match {spread} but not their histogram: {histogram}, and {memory}."
    if 2 * len(cv) > n:
        within = f"their histogram in {share(n - len(l1), n)} (L1 within the floor; {histogram[4:]})"
        return said, f"The Hawkes presets match {spread} and {within}; {memory}."
    return said, f"The Hawkes presets miss the inter-arrival law: {spread}; {histogram}; {memory}."


def claim_clustering(flow: list[Window]) -> tuple[str, str]:
    """Read "and the clustering of the flow" (messages per 10 s); return (the numbers say, corrected wording)."""
    n = len(flow)
    l1, w1 = _above(flow, FLOW), _above(flow, FLOW, "w1")
    named = "; ".join(f"{w.label}: {_score_text(w, FLOW)}" for w in l1) if len(l1) <= 3 else ""
    said = (
        f"messages per 10 s: L1 overlaps the floor in {share(n - len(l1), n)} windows"
        f"{f' (not {named})' if named else _except(l1, flow)}; W1 in {share(n - len(w1), n)}{_except(w1, flow)}"
    )
    wording = f"The number of messages per 10 s cannot be told from real data in {share(n - len(l1), n)} windows"
    if not l1:
        return said, f"Supported: {wording}."
    them = listing([f"the {w.label} window" for w in l1]) if len(l1) <= 4 else f"{len(l1)} windows"
    verb = "is the exception" if len(l1) == 1 else "are the exceptions"
    return said, f"{wording}; {them} {verb}."


def claim_classifier(flow: list[Window]) -> tuple[str, str]:
    """Read "the classifier still tells most of their windows apart"; return (the numbers say, corrected wording)."""
    scored = [w for w in flow if w.auc is not None]
    n = len(scored)
    told = [w for w in scored if read_auc(w.auc) == "tells them apart"]
    untold = [w for w in scored if w not in told]
    said = (
        f"AUC interval contains 0.5 in {share(len(untold), n)} windows: {listing([w.label for w in untold])}; it is "
        f"above 0.5 for {listing([f'{w.label} ({w.auc.text()})' for w in told])}"
    )
    sizes = {key: [w.events[0] for w in group] for key, group in (("told", told), ("untold", untold)) if group}
    spans = {key: f"{min(v):,} to {max(v):,}" for key, v in sizes.items()}
    most = "most" if 2 * len(told) > n else "fewer than half"
    wording = (
        f"The classifier tells the simulated windows apart in {len(told)} of {n} windows ({most}: "
        f"{listing([w.label for w in told])}); in the other {len(untold)} its AUC interval contains 0.5"
    )
    if len(sizes) == 2:
        wording += f"; the windows it tells apart hold {spans['told']} real events, the others {spans['untold']}"
    return said, wording + "."


def claim_held_out(presets: list[Preset]) -> tuple[str, str]:
    """Read "the held-out perpetual-futures windows are worse than the fitted ones"."""
    said, words = [], []
    for preset in presets:
        fitted, held = preset.windows
        gap = held.mean_l1.overlaps(fitted.mean_l1)
        said.append(
            f"{fitted.label.removeprefix('fitted ')}: held out {held.mean_l1.text()} against fitted "
            f"{fitted.mean_l1.text()} ({'overlap' if gap else 'no overlap'})"
        )
        values = f"mean L1 {held.mean_l1.value:.3f} against {fitted.mean_l1.value:.3f}"
        if gap:
            words.append(
                f"for {held.label.removeprefix('held-out ')} the difference ({values}) is within the intervals"
            )
        else:
            side = "worse" if held.mean_l1.low > fitted.mean_l1.high else "better"
            words.append(f"the {held.label} window scores {side} than its fitted window ({values}, intervals apart)")
    text = "; ".join(words)
    return "mean L1, " + "; ".join(said), text[0].upper() + text[1:] + "."


def _name(window: Window) -> str:
    """The preset's name, marked when the window is a held-out one (a preset may have both)."""
    return window.preset + (" (held out)" if window.kind == "held-out" else "")


def claim_books_told_apart(books: list[Window]) -> tuple[str, str]:
    """Read "every book model is told apart (AUC >= 0.97)"."""
    told = [w for w in books if w.auc is not None and read_auc(w.auc) == "tells them apart"]
    said = "AUC: " + ", ".join(f"{_name(w)} {w.auc.text()}" for w in books)
    aucs = [w.auc for w in books if w.auc is not None]
    span = f"AUC {min(a.value for a in aucs):.2f} to {max(a.value for a in aucs):.2f}"
    if len(told) == len(books):
        lowest = math.floor(100 * min(a.low for a in aucs)) / 100  # rounded down: "or more" stays true
        return said, f"Every book model is told apart: {span}, every interval's lower end {lowest:.2f} or more."
    rest = listing([w.preset for w in books if w not in told])
    return said, f"{len(told)} of {len(books)} book models are told apart ({span}); not {rest}."


def claim_zi(books: list[Window]) -> tuple[str, str]:
    """Read "ZI books miss the bursty flow (Poisson against bursts of simultaneous messages)"."""
    zi = [w for w in books if w.preset.startswith("zi-")]
    flow, law = (", ".join(f"{w.preset} {_score_text(w, q)}" for w in zi) for q in (FLOW, INTERARRIVAL))
    cv = ", ".join(f"{w.preset} {_fact_text(w, 'interarrival_cv', 2)}" for w in zi)
    said = f"messages per 10 s, L1: {flow}; log inter-arrival L1: {law}; inter-arrival coefficient of variation: {cv}"
    flow_above, law_above = _above(zi, FLOW), _above(zi, INTERARRIVAL)
    cv_lower = _facts(zi, "interarrival_cv", "simulated lower")
    if len(flow_above) == len(law_above) == len(cv_lower) == len(zi):
        cvs = listing([f"{w.facts['interarrival_cv'][0].value:.2f}" for w in zi])
        reals = listing([f"{w.facts['interarrival_cv'][1].value:.2f}" for w in zi])
        return said, (
            f"Supported: {share(len(zi), len(zi))} ZI books are above the floor on messages per 10 s and on the "
            f"inter-arrival law, and their inter-arrival coefficient of variation ({cvs}; 1 for a Poisson flow) is "
            f"below the real {reals}."
        )
    return said, (
        f"Partly: the ZI books are above the floor on messages per 10 s in {share(len(flow_above), len(zi))}, on the "
        f"inter-arrival law in {share(len(law_above), len(zi))}, and less bursty than real in "
        f"{share(len(cv_lower), len(zi))}."
    )


def _best(windows: list[Window], quantity: str) -> Window:
    return min((w for w in windows if (quantity, "l1") in w.scores), key=lambda w: w.scores[quantity, "l1"][0].value)


def _told(within: bool) -> str:
    return "cannot be told from real data" if within else "lies above the floor"


def _market(window: Window) -> str:
    return window.label.split(" ", 1)[1]


def claim_qr(books: list[Window]) -> tuple[str, str]:
    """Read "QR books have the best spreads but not the flow"."""
    qr = [w for w in books if w.preset.startswith("qr-")]
    said, words, closest = [], [], []
    for w in qr:
        peers = [b for b in books if _market(b) == _market(w)]
        reading = w.score_reading("spread_ticks")
        said.append(
            f"{w.preset}: spread L1 {_score_text(w, 'spread_ticks')} ({reading}), mean spread "
            f"{_fact_text(w, 'mean_spread_ticks', 1)} ({w.fact_reading('mean_spread_ticks')}), messages per 10 s L1 "
            f"{_score_text(w, FLOW)} ({w.score_reading(FLOW)})"
        )
        others = ", ".join(f"{_name(b)} {b.scores['spread_ticks', 'l1'][0].value:.3f}" for b in peers if b is not w)
        best = _best(peers, "spread_ticks")
        closest.append(best is w)
        law = _told(reading != "above the floor")
        rank = f"the closest of the {_market(w)} books" if best is w else f"not the closest ({best.preset} is)"
        value = w.scores["spread_ticks", "l1"][0].value
        words.append(f"on {_market(w)} the spread law of {w.preset} {law} (L1 {value:.3f}, {rank}; {others})")
    head = "The QR books have the best spreads of the books" if all(closest) else "Partly: the QR books"
    flow_above = _above(qr, FLOW)
    flow = f"messages per 10 s above the floor on {share(len(flow_above), len(qr))}"
    tail = f"Their flow is not real: {flow}." if len(flow_above) == len(qr) else f"Their flow: {flow}."
    return "; ".join(said), f"{head}: " + "; ".join(words) + f". {tail}"


def claim_hawkes_book(books: list[Window]) -> tuple[str, str]:
    """Read "the Hawkes-driven AAPL book has the best flow of the books and a spread still too tight"."""
    hawkes = next(w for w in books if w.preset.startswith("hawkes-"))
    others = [w for w in books if w is not hawkes]
    law = ", ".join(f"{_name(w)} {w.scores[INTERARRIVAL, 'l1'][0].value:.3f}" for w in others)
    said = (
        f"{hawkes.preset}: messages per 10 s L1 {_score_text(hawkes, FLOW)} ({hawkes.score_reading(FLOW)}); log "
        f"inter-arrival L1 {_score_text(hawkes, INTERARRIVAL)} ({hawkes.score_reading(INTERARRIVAL)}; other books "
        f"{law}); spread L1 {_score_text(hawkes, 'spread_ticks')} ({hawkes.score_reading('spread_ticks')}); mean "
        f"spread {_fact_text(hawkes, 'mean_spread_ticks', 1)} ({hawkes.fact_reading('mean_spread_ticks')})"
    )
    flow_best = _best(books, FLOW) is hawkes and _best(books, INTERARRIVAL) is hawkes
    flow_real = hawkes.score_reading(FLOW) != "above the floor"
    law_real = hawkes.score_reading(INTERARRIVAL) != "above the floor"
    tight = hawkes.fact_reading("mean_spread_ticks") == "simulated lower"
    simulated, real = hawkes.facts["mean_spread_ticks"]
    flow_l1, law_l1 = (hawkes.scores[q, "l1"][0].value for q in (FLOW, INTERARRIVAL))
    closest = "has" if flow_best else "does not have"
    n_books = len({b.preset for b in books})
    flow = (
        f"the Hawkes-driven book {hawkes.preset} {closest} the closest flow of the {n_books} books: its count of "
        f"messages per 10 s (L1 {flow_l1:.3f}) {_told(flow_real)} and its inter-arrival law (L1 {law_l1:.3f}) "
        f"{_told(law_real)}"
    )
    spread = (
        f"its mean spread, {simulated.value:.1f} ticks against {real.value:.1f}, is {'' if tight else 'not '}too tight"
    )
    verdict = "Supported as worded" if flow_best and tight else "Partly"
    return said, f"{verdict}: {flow}; {spread}."


def _claims(flow: list[Window], books: list[Window], futures: list[Preset]) -> list[tuple[str, str, str]]:
    have = {"order-flow": bool(flow), "USD-M": bool(futures)}
    have.update({f"{m}- book": any(w.preset.startswith(f"{m}-") for w in books) for m in ("zi", "qr", "hawkes")})
    if not all(have.values()):
        lacking = [kind for kind, present in have.items() if not present]
        found = sorted({w.preset for w in flow + books})
        raise DataError(f"the README's claims need order-flow, USD-M, zi-, qr- and hawkes- book presets; {lacking} "
                        f"missing among {found}")  # fmt: skip
    return [
        ('the Hawkes presets "reproduce the inter-arrival law"', *claim_interarrival(flow)),
        ('"and the clustering of the flow"', *claim_clustering(flow)),
        ('"but the classifier still tells most of their windows apart"', *claim_classifier(flow)),
        ('"the held-out perpetual-futures windows are worse than the fitted ones"', *claim_held_out(futures)),
        ('"Every book model is told apart (AUC >= 0.97)"', *claim_books_told_apart(books)),
        ('"ZI books miss the bursty flow (Poisson against bursts of simultaneous messages)"', *claim_zi(books)),
        ('"QR books have the best spreads but not the flow"', *claim_qr(books)),
        ('"the Hawkes-driven AAPL book has the best flow of the books and a spread still too tight"',
         *claim_hawkes_book(books)),
    ]  # fmt: skip


def _split(presets: list[Preset]) -> tuple[list[Window], list[Window], list[Preset]]:
    flow = [w for p in presets if not p.is_book for w in p.windows]
    books = [w for p in presets if p.is_book for w in p.windows]
    futures = [p for p in presets if not p.is_book and len(p.windows) == 2 and "USD-M" in p.windows[0].label]
    return flow, books, futures


def _reading_rules(presets: list[Preset], settings: dict) -> list[str]:
    windows = [w for p in presets for w in p.windows]
    small = [w for w in windows if w.events[0] < SMALL_WINDOW]
    large = [w for w in windows if w not in small]
    sizes = " ".join(
        f"{len(group)} of the {len(windows)} windows ({listing(sorted({w.preset for w in group}))}) hold "
        f"{min(w.events[0] for w in group):,} to {max(w.events[0] for w in group):,} real events over "
        f"{min(w.duration_s for w in group):,.0f} to {max(w.duration_s for w in group):,.0f} s{end}"
        for group, end in (
            (small, ", so their intervals are wide and an overlap there is weak evidence;"),
            (large, "."),
        )
        if group
    )
    return [
        "# What the preset scores show, claim by claim",
        "",
        "Generated by `python -m calibration.claims` from the score tables stored beside each preset,",
        "`calibration/presets/<preset>.scores.json` (and `<preset>.lobbench.json` for the book presets), built by",
        f"`python -m calibration.score_presets` (seed {settings['seed']}, {settings['n_boot']} bootstrap replicates, "
        f"{LEVEL} intervals).",
        "Every number and every reading below is computed from those files; do not edit this file by hand",
        "(`tests/calibration/test_claims.py` fails when it differs from what the tables give).",
        "",
        "How a number is read:",
        "",
        "- A **score** (L1 or W1 distance between the real and the simulated distribution of one quantity; 0:",
        "  identical) is compared with its **floor**, the same distance between the real data and a resample of",
        "  itself. Where the two intervals overlap, the data cannot tell the simulation from real data on that",
        '  quantity: "indistinguishable". Where the score\'s interval lies above the floor\'s: "above the floor", the',
        '  simulation is told apart. (One lying below the floor\'s would read "below the floor" and count with the',
        "  indistinguishable ones.)",
        "- A **stylized fact** is measured on each dataset with its interval: overlapping intervals,",
        '  "indistinguishable"; otherwise the simulated value is higher or lower.',
        "- The **ROC-AUC** of the real-vs-synthetic classifier is measured on held-out contiguous time blocks",
        "  (trained on the others). An interval that contains 0.5 means the classifier cannot tell the two apart; one",
        "  whose lower end is above 0.5 means it can.",
        '- "Indistinguishable" is a statement about these windows and their length, not a proof of equality: ' + sizes,
        "",
    ]


def _claims_section(claims: list[tuple[str, str, str]], flow: list[Window]) -> list[str]:
    lines = [
        "## The README's claims, corrected",
        "",
        'The README\'s "What it shows" paragraph under the preset table, sentence by sentence; the Hawkes order-flow',
        f"presets are the {len({w.preset for w in flow})} presets with model `hawkes` ({len(flow)} windows: each "
        "fitted and held-out window).",
        "",
        "| README says | the numbers say | corrected wording |",
        "|---|---|---|",
    ]
    return lines + [_row(*claim) for claim in claims]


def _summary(claims: list[tuple[str, str, str]], presets: list[Preset], books: list[Window]) -> list[str]:
    bare = [w.split(": ", 1)[1] if w.startswith(("Supported", "Partly")) else w for _, _, w in claims]
    bare = [w[0].upper() + w[1:] for w in bare]
    book_presets = [p for p in presets if p.is_book]
    lo, hi = (min(books, key=lambda w: w.mean_l1.value), max(books, key=lambda w: w.mean_l1.value))
    lob = sorted((p.lobbench[0].value, p.name) for p in book_presets if p.lobbench)
    book = f"Book presets: mean L1 from {lo.mean_l1.value:.3f} ({lo.preset}) to {hi.mean_l1.value:.3f} ({hi.preset})"
    if lob:
        book += f", under LOB-Bench's convention from {lob[0][0]:.3f} ({lob[0][1]}) to {lob[-1][0]:.3f} ({lob[-1][1]})"
    book += f"; {bare[4][0].lower()}{bare[4][1:]}"
    bullets = [bare[0], bare[1], bare[2], bare[3], book, bare[5], bare[6], bare[7]]
    return [
        "## Summary for the README",
        "",
        'Sentences for the README\'s "What it shows" paragraph, each built from the counts and values above.',
        "",
        *(f"- {b}" for b in bullets),
        "",
    ]


def _readme_table(presets: list[Preset]) -> list[str]:
    def cell(window: Window, quantity: str) -> str:
        pair = window.scores.get((quantity, "l1"))
        return "n/a" if pair is None else f"{pair[0].value:.3f} ({pair[1].value:.3f})"

    lines = [
        "## The README's preset table, from the stored numbers",
        "",
        "One row per preset, for the README's table under \"Every preset is scored\": the L1 scores are the fitted",
        "window's, with their floor in parentheses; ROC-AUC of the fitted / held-out window.",
        "",
        _row("preset", "mean L1, fitted window", "mean L1, held out", "L1 log inter-arrival (floor)",
             "L1 spread (floor)", "ROC-AUC"),
        "|---|---|---|---|---|---|",
    ]  # fmt: skip
    for p in presets:
        fitted, held = p.windows[0], (p.windows[1:] or [None])[0]
        aucs = " / ".join(f"{w.auc.value:.2f}" for w in p.windows if w.auc is not None)
        held_l1 = f"{held.mean_l1.value:.3f}" if held else "none"
        cells = (cell(fitted, INTERARRIVAL), cell(fitted, "spread_ticks"), aucs)
        lines.append(_row(p.name, f"{fitted.mean_l1.value:.3f}", held_l1, *cells))
    return lines + [""]


def _lobbench_section(presets: list[Preset]) -> list[str]:
    rows = [p for p in presets if p.lobbench]
    if not rows:
        return []
    lines = [
        "## Book presets under LOB-Bench's convention",
        "",
        f"The mean of the unconditional L1 scores as LOB-Bench's reference code ({rows[0].lobbench[2]}) computes",
        f"them (one sequence per dataset, its own bootstrap and {LEVEL} percentile interval; no real-vs-real floor),",
        "beside the simlab-convention mean L1 of the same fitted window.",
        "",
        _row("preset", f"mean unconditional L1, LOB-Bench [{LEVEL}]", "scores", f"mean L1, simlab [{LEVEL}]"),
        "|---|---|---|---|",
    ]
    for p in rows:
        interval, count, _ = p.lobbench
        lines.append(_row(p.name, interval.text(), str(count), p.windows[0].mean_l1.text()))
    return lines + [""]


def _row(*cells: str) -> str:
    return "| " + " | ".join(cells) + " |"


def _measure_rows(window: Window, metrics: tuple[str, ...], quantities: tuple, facts: tuple) -> list[str]:
    rows = []
    for quantity in quantities:
        for metric in metrics:
            if (quantity, metric) in window.scores:
                score, floor = window.scores[quantity, metric]
                label = f"{metric.upper()} {quantity} (reference: floor)"
                rows.append(_row(label, score.text(), floor.text(), read_score(score, floor)))
    for name in facts:
        if name in window.facts:
            simulated, real = window.facts[name]
            label = f"fact {name} (reference: real)"
            rows.append(_row(label, simulated.text(), real.text(), read_fact(simulated, real)))
    if window.auc is not None:
        rows.append(_row("ROC-AUC, held-out time blocks", window.auc.text(), "0.5 (chance)", read_auc(window.auc)))
    return rows


def _preset_section(preset: Preset) -> list[str]:
    measures = (
        (("l1",), BOOK_SCORES, BOOK_FACTS) if preset.is_book else (("l1", "w1"), ORDER_FLOW_SCORES, ORDER_FLOW_FACTS)
    )
    lines = [f"### {preset.name}", ""]
    for window in preset.windows:
        within = sum(read_score(*pair) != "above the floor" for pair in window.scores.values())
        real, simulated = window.events
        lines += [
            f"**{window.kind} window** ({window.span}; {real:,} real and {simulated:,} simulated events): mean L1 "
            f"{window.mean_l1.text()}; {within} of {len(window.scores)} applicable scores overlap their floor.",
            "",
            _row("measure", f"simulated [{LEVEL} interval]", f"reference [{LEVEL} interval]", "reading"),
            "|---|---|---|---|",
            *_measure_rows(window, *measures),
            "",
        ]
    lines += [f"{kind} window: {why}." for kind, why in preset.missing.items()]
    return lines + ([""] if preset.missing else [])


def render(presets: list[Preset], settings: dict) -> str:
    """Return the text of ``docs/claims.md`` for the presets read by :func:`load_presets`."""
    flow, books, futures = _split(presets)
    claims = _claims(flow, books, futures)
    lines = _reading_rules(presets, settings) + _claims_section(claims, flow) + [""]
    lines += _summary(claims, presets, books) + _readme_table(presets) + _lobbench_section(presets)
    counts = sorted({len(w.scores) for w in books})
    lines += [
        "## Per preset",
        "",
        f"Each table lists the applicable scores the claims rest on (for the book presets, {len(BOOK_SCORES)} L1",
        f"scores of the {counts[0]}-{counts[-1]} they have, with the count of all scores overlapping their floor above",
        "the table), the stylized facts and the AUC.",
        "",
    ]
    for preset in presets:
        lines += _preset_section(preset)
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write ``docs/claims.md`` from the score tables (atomically); print where."""
    argv = sys.argv[1:] if argv is None else argv
    target = Path(argv[0]) if argv else DOCUMENT
    text = render(*load_presets(PRESET_DIR))
    write_text_atomic(target, text)
    print(f"wrote {target} ({len(text.splitlines())} lines)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
