"""The shared report renderer: markdown tables keep every value, the HTML holds no markdown, one interval format."""

from __future__ import annotations

import re

import numpy as np
import pytest

from scenarios.report_html import format_interval, markdown_table, markdown_to_html, page

TEXT = """# Title

First sentence of the section,
on two lines with **bold** and `code`.

| metric | value |
|---|---|
| mean \\|OFI\\| | 0.3945 |
| worst \\|(a + b) / c - 1\\| over the designs | 0.0527 |

![order flow](order_flow.png)

## Next <section>
"""


def test_markdown_table_escapes_bars_and_the_renderer_keeps_every_cell():
    table = markdown_table(["metric", "value"], [["mean |OFI|", 0.39454], ["worst |x - 1|", np.nan], ["n", 3]])
    assert "| mean \\|OFI\\| | 0.3945 |" in table and "| worst \\|x - 1\\| |  |" in table
    cells = re.findall(r"<td>(.*?)</td>", markdown_to_html(table))
    assert cells == ["mean |OFI|", "0.3945", "worst |x - 1|", "", "n", "3"]


def test_markdown_to_html_renders_the_subset_and_escapes_the_rest():
    body = markdown_to_html(TEXT)
    assert body.startswith("<h1>Title</h1>\n<p>First sentence of the section, on two lines with <strong>bold</strong>")
    assert "<code>code</code>" in body and "<h2>Next &lt;section&gt;</h2>" in body
    assert "<thead><tr><th>metric</th><th>value</th></tr></thead>" in body
    assert "<td>worst |(a + b) / c - 1| over the designs</td><td>0.0527</td>" in body
    assert '<img src="order_flow.png" alt="order flow">' in body
    assert not re.search(r"\*\*|\|---|`|^#", re.sub(r"<[^>]+>", "", body), re.MULTILINE)
    document = page("a <title>", body)
    assert document.startswith("<!doctype html>") and "<title>a &lt;title&gt;</title>" in document


def test_an_interval_says_it_is_one():
    assert format_interval(31.054, 30.851, 31.25, level=0.95, digits="+.2f") == "+31.05 [+30.85, +31.25] (95% interval)"
    assert format_interval(0.5, 0.25, 0.75) == "0.5 [0.25, 0.75]"


def test_demo_report_rows_keep_their_values(tmp_path):
    from scenarios.demo.runner import Demo, _write_report

    demo = Demo(tmp_path, seed=1)
    demo.step("Bars", lambda: {"about": "What the bars are.", "mean |OFI|": 0.3945, "BUY/HOLD/SELL": "1/2/3"})
    (tmp_path / "order_flow.png").write_bytes(b"")
    report = _write_report(demo, tmp_path / "order_flow.png", "a test").read_text()
    assert "| mean \\|OFI\\| | 0.3945 |" in report and "What the bars are." in report
    assert "<td>mean |OFI|</td><td>0.3945</td>" in (tmp_path / "report.html").read_text()
    demo.step("No sentence", lambda: {"x": 1})
    with pytest.raises(RuntimeError, match="No sentence"):
        _write_report(demo, tmp_path / "order_flow.png", "a test")
