"""The README's tour names library specs and presets that exist (a renamed spec must not leave the tour broken)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _tour_lines() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = text.split("## A tour", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    return [line.split("#", 1)[0] for line in block.splitlines() if line.startswith("simlab ")]


def test_every_library_name_in_the_tour_is_a_shipped_spec():
    names = {t for line in _tour_lines() for t in line.split() if re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)+", t)}
    assert len(names) >= 8, names  # the tour's specs were found
    missing = sorted(n for n in names if not (ROOT / "scenarios" / "library" / f"{n}.toml").is_file())
    assert not missing, f"README tour names library specs that do not exist: {missing}"


def test_every_book_preset_in_the_tour_is_shipped():
    presets = [line.split()[3] for line in _tour_lines() if line.split()[1:3] == ["simulate", "book"]]
    assert presets, "the tour simulates a book preset"
    for name in presets:
        assert (ROOT / "calibration" / "presets" / f"{name}.toml").is_file(), name


def test_the_files_run_first_exist_and_the_test_command_keeps_their_order():
    """A renamed slow file would silently lose its place at the head of the run (tests/conftest.py)."""
    from tests.conftest import SLOWEST_FIRST

    assert [path for path in SLOWEST_FIRST if not (ROOT / path).is_file()] == []
    assert "--dist loadfile --no-loadscope-reorder" in (ROOT / "README.md").read_text()
