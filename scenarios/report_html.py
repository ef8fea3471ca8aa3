"""One home for what every report shares: markdown tables, the markdown-to-HTML renderer, the page style, the
plot style and the interval formatter.

The reports write markdown (readable as text, diffable) and turn it into HTML with :func:`markdown_to_html`, which
knows the small subset they use: ``#`` headings, paragraphs, pipe tables (``\\|`` inside a cell is a literal bar),
images ``![alt](src)``, ``**bold**`` and ```code```. Everything else is text, escaped, so no markdown syntax is
left in a page: a line the renderer does not understand shows as written, and the browser test
(``tests/scenarios/test_reports_browser.py``) fails on it.
"""

from __future__ import annotations

import html
import re
from typing import Any

import numpy as np

STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:1200px;margin:auto;padding:0 1em;font-size:15px;"
    "line-height:1.45;color:#222}table{border-collapse:collapse;margin:.6em 0}"
    "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right;font-variant-numeric:tabular-nums}"
    "th{background:#f2f2f2}td:first-child,th:first-child{text-align:left}.na{color:#888}.bad{background:#fde0dc}"
    "img{max-width:100%;display:block;margin:.6em 0}p.about{color:#444;font-style:italic}"
    "code{background:#f4f4f4;padding:0 3px}"
)
PLOT_STYLE = {
    "font.size": 11,
    "axes.titlesize": 11,
    "axes.labelsize": 11,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 9,
    "figure.dpi": 100,
}
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_CODE = re.compile(r"`([^`]+)`")
_IMAGE = re.compile(r"^!\[(?P<alt>[^\]]*)\]\((?P<src>[^)\s]+)\)$")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")


def format_interval(value: float, low: float, high: float, *, level: float | None = None, digits: str = ".4g") -> str:
    """Return ``value [low, high]``, with ``(95% interval)`` after it when ``level`` (0.95) is given.

    Every report writes an estimate with its interval through this function, so that no ``a +- b`` leaves the
    reader guessing between a standard error and an interval. Pass ``level=None`` only where the table's header
    names the interval already. ``digits`` is a format spec (``"+.2f"``, ``".4g"``).
    """
    text = f"{value:{digits}} [{low:{digits}}, {high:{digits}}]"
    return text if level is None else f"{text} ({100 * level:g}% interval)"


def markdown_cell(value: Any) -> str:
    """Return ``value`` as the text of a markdown table cell: floats with 4 significant digits (NaN empty), ``|``
    escaped, line breaks as spaces."""
    if isinstance(value, (float, np.floating)):
        return "" if np.isnan(value) else f"{value:.4g}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    """Return a markdown pipe table of ``rows`` under ``header`` (cells through :func:`markdown_cell`)."""
    lines = ["| " + " | ".join(markdown_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(markdown_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def inline(text: str) -> str:
    """Return one line of markdown text as HTML: escaped, with ``**bold**`` and ```code``` rendered."""
    escaped = html.escape(text.replace("\\|", "|"), quote=False)
    return _CODE.sub(r"<code>\1</code>", _BOLD.sub(r"<strong>\1</strong>", escaped))


def markdown_to_html(markdown: str) -> str:
    """Return the HTML body of a report written in the markdown subset of the module docstring."""
    out: list[str] = []
    blocks = re.split(r"\n\s*\n", markdown.strip())
    for block in blocks:
        lines = block.splitlines()
        first = lines[0]
        if first.startswith("#"):
            level = min(len(first) - len(first.lstrip("#")), 6)
            out.append(f"<h{level}>{inline(first[level:].strip())}</h{level}>")
            if len(lines) > 1:
                out.append(markdown_to_html("\n".join(lines[1:])))
        elif first.startswith("|") and len(lines) > 1 and set(lines[1].replace("|", "").strip()) <= set("-: "):
            out.append(_table(lines))
        elif (image := _IMAGE.match(first)) and len(lines) == 1:
            alt, src = (html.escape(image[k]) for k in ("alt", "src"))
            out.append(f'<img src="{src}" alt="{alt}">')
        else:
            out.append("<p>" + " ".join(inline(line.strip()) for line in lines) + "</p>")
    return "\n".join(out)


def page(title: str, body: str) -> str:
    """Return a complete HTML page (UTF-8, the shared style) around ``body``."""
    head = f"<!doctype html>\n<html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
    return f"{head}<style>{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n"


def _cells(line: str) -> list[str]:
    inner = line.strip()
    inner = inner[1:] if inner.startswith("|") else inner
    inner = inner[:-1] if inner.endswith("|") and not inner.endswith("\\|") else inner
    return [cell.strip() for cell in _CELL_SPLIT.split(inner)]


def _table(lines: list[str]) -> str:
    head = "".join(f"<th>{inline(c)}</th>" for c in _cells(lines[0]))
    body = ["<tr>" + "".join(f"<td>{inline(c)}</td>" for c in _cells(line)) + "</tr>" for line in lines[2:]]
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
