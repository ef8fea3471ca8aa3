"""Markdown tables for the forecast reports."""

from __future__ import annotations

from typing import Any

import numpy as np


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    """Return a markdown table; floats are written with 4 significant digits."""

    def cell(value: Any) -> str:
        if isinstance(value, (float, np.floating)):
            return "" if np.isnan(value) else f"{value:.4g}"
        return str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
