"""Every HTML report the demo writes, rendered in headless Chromium: tables are tables, images load, no markdown is
left in the visible text, and every section opens with a sentence.

The reports are made here by the demo's own report-producing code on small synthetic inputs (the demo's main
report, the forecast benchmark's and a scorecard's), so the test needs no real data. Chromium is Debian's
``chromium`` package (``apt-get install chromium``): missing, the test is skipped with the reason, and fails under
``CI=true``. The page is loaded from a copy with a small script appended that, on the load event, writes what it
measured (text, tables, image sizes, what follows each heading) into the DOM, which ``--dump-dom`` prints.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from simlab.store import load_store
from tests.scenarios.forecast.conftest import TINY_FORECAST_SPEC
from tests.simlab.metrics.conftest import zi_book

CHECK = """
window.addEventListener('load', () => {
  const result = {
    text: document.body.innerText,
    tables: document.querySelectorAll('table').length,
    rows_in_tables: [...document.querySelectorAll('tr')].filter(row => row.closest('table')).length,
    images: [...document.images].map(image => [image.getAttribute('src').slice(0, 40), image.naturalWidth]),
    headings: [...document.querySelectorAll('h2, h3')].map(
      h => [h.textContent, h.nextElementSibling ? h.nextElementSibling.tagName : null]),
  };
  const out = document.createElement('pre');
  out.id = 'browser-check';
  out.textContent = JSON.stringify(result);
  document.body.appendChild(out);
});
"""
MARKDOWN = (
    (re.compile(r"\*\*"), "bold markers **"),
    (re.compile(r"\|\s*-{3}"), "a table rule |---"),
    (re.compile(r"`"), "a code backtick"),
    (re.compile(r"^#{1,6} ", re.MULTILINE), "a '# ' heading"),
    (re.compile(r"^\|", re.MULTILINE), "a line starting with |"),
    (re.compile(r" \| .* \| "), "a row of cells joined by ' | '"),
)


def chromium() -> str:
    """Return the Chromium executable; skip without it, fail under CI=true."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    message = "chromium is not installed (apt-get install chromium); the browser test of the reports needs it"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message + "; CI must have it")
    pytest.skip(message)


def render(page: Path, profile: Path) -> dict:
    """Load ``page`` in headless Chromium and return what the check script measured."""
    probe = page.with_name(f"_browser_check_{page.name}")
    source = page.read_text()
    probe.write_text(source.replace("</body>", f"<script>{CHECK}</script></body>"))
    command = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}"]
    done = subprocess.run(
        [*command, "--virtual-time-budget=2000", "--dump-dom", probe.resolve().as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    probe.unlink()
    found = re.search(r'<pre id="browser-check">(.*?)</pre>', done.stdout, re.DOTALL)
    assert found, f"chromium printed no check for {page} (exit {done.returncode}): {done.stderr[-2000:]}"
    return {**json.loads(html.unescape(found[1])), "rows_written": len(re.findall(r"<tr[ >]", source))}


def problems(result: dict) -> list[str]:
    """Return what is wrong with a rendered report (empty: nothing)."""
    out = [f"markdown left in the text: {name}" for pattern, name in MARKDOWN if pattern.search(result["text"])]
    if result["tables"] == 0 or result["rows_in_tables"] != result["rows_written"]:  # the parser drops stray rows
        out.append(f"{result['rows_written']} table rows written, {result['rows_in_tables']} in the page's tables")
    out += [f"image {src!r} did not load" for src, width in result["images"] if width <= 0]
    if not result["images"]:
        out.append("no image")
    out += [f"section {title!r} opens with {tag}, not a sentence" for title, tag in result["headings"] if tag != "P"]
    return out


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory) -> Path:
    """A demo folder holding the HTML reports the demo writes, made by its report code on small synthetic runs."""
    from scenarios.demo import runner
    from scenarios.demo.impact import impact_step
    from scenarios.forecast.runner import run_spec
    from scenarios.forecast.spec import load_spec
    from scenarios.score.runner import write_outputs
    from simlab.metrics.scorecard import score
    from tests.simlab.agents.conftest import small_config

    folder = tmp_path_factory.mktemp("demo")
    demo = runner.Demo(folder, seed=3)
    demo.step("OFI(T,h) signal on Table 1 of the hybrid VAR-FNN paper", runner._paper_table)
    events, books = runner._synthetic_step(demo)
    bars = demo.step("Order-flow feature bars (1 s)", lambda: runner._features(demo, events, books))
    figure = runner._plot(folder, bars.pop("_bars"), events.attrs["instrument"], events.attrs["tick_size"])
    short = {"start_s": 300.0, "duration_s": 600.0, "after_s": 300.0, "interval_s": 20.0}  # a short market's TWAP
    demo.step("Metaorder impact", lambda: impact_step(demo, small_config(session_s=1800.0), [0.01, 0.3], **short))
    runner._write_report(demo, figure, "built-in synthetic sample")
    (folder / "spec.toml").write_text(TINY_FORECAST_SPEC)
    run_spec(load_spec(folder / "spec.toml"), folder / "forecast.zarr", data_dir=folder, overwrite=True)
    card = score(zi_book(2), zi_book(1), seed=1, n_boot=20)
    write_outputs(card, folder / "score" / "zi", seed=1, config={}, title="zi run 2 against zi run 1")
    return folder


def test_the_demo_writes_three_html_reports(demo_folder):
    pages = sorted(p.relative_to(demo_folder).as_posix() for p in demo_folder.rglob("*.html"))
    assert pages == ["forecast_report/report.html", "report.html", "score/zi/report.html"]


@pytest.mark.parametrize("page", ["report.html", "forecast_report/report.html", "score/zi/report.html"])
def test_a_report_renders_in_chromium(demo_folder, page, tmp_path):
    result = render(demo_folder / page, tmp_path / "profile")
    assert problems(result) == []
    if page == "report.html":  # values with a | in their row name keep their value; both figures load
        assert re.search(r"mean \|OFI\|\t0\.\d+", result["text"])
        assert [src for src, _ in result["images"]] == ["order_flow.png", "abm_impact.png"]
    if page.startswith("forecast"):
        assert "LEAK" in result["text"] and result["tables"] >= 3  # scores, audit, Table 4


def test_the_forecast_report_states_the_oracle_r2_of_its_table(demo_folder):
    text = (demo_folder / "forecast_report" / "report.md").read_text()
    row = re.search(r"^\| oracle \| [^|]+ \| [^|]+ \| ([-\d.e]+) \|", text, re.MULTILINE)  # mse, mae, r2
    stated = re.search(r"Oracle R\^2 ([-\d.]+) \(the table's\)", text)
    assert row and stated and abs(float(stated[1]) - float(row[1])) <= 5e-5 + 1e-4 * abs(float(row[1]))
    store = json.loads(load_store(demo_folder / "forecast.zarr").attrs["summary"])["synthetic"]
    assert float(stated[1]) == round(store["scores"]["oracle"]["r2"], 4) and "r2_oracle" not in store["oracle_check"]


def test_the_check_catches_what_it_looks_for(tmp_path):
    """A page with the faults the reports had: rows outside a table (run-on text), a markdown table as text, literal
    bold, a missing image, a section without its sentence."""
    page = tmp_path / "broken.html"
    page.write_text(
        "<!doctype html><html><body><h2>Table 4</h2><p>x</p><tr><td>var</td><td>0.1</td></tr>"
        "<p>| model | R^2 | | var | 0.1 |</p><p>**LEAK**</p><img src='missing.png'>"
        "<h2>Scores</h2><table><tr><td>1</td></tr></table></body></html>"
    )
    found = problems(render(page, tmp_path / "profile"))
    assert "2 table rows written, 1 in the page's tables" in found
    assert any("**" in p for p in found) and any("' | '" in p for p in found)
    assert any("did not load" in p for p in found) and any("'Scores' opens with TABLE" in p for p in found)
