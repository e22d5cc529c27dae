"""report.html in a real headless Chromium (Debian's, driven by Playwright): the charts render, the
filters hide and show cases, hostile model text stays text, and the page makes no network request.

Needs Debian's chromium (`apt-get install -y chromium`) and the `playwright` Python package; no
browser is ever downloaded. Set CHARTER_REPORT_SCREENSHOT=path.png to keep a full-page screenshot.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from charter.report import write_reports
from report_fixtures import HOSTILE, MODELS, sample_results, write_run

CHROMIUM = os.environ.get("CHARTER_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-dev-shm-usage"]

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed "
                               "(pip install playwright; its browser download is not needed)")
if not Path(CHROMIUM).exists():
    pytest.skip(f"Debian's chromium is not installed at {CHROMIUM} (apt-get install -y chromium)",
                allow_module_level=True)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """One Chromium for the module, with a 1280-pixel-wide window (Playwright's sync API cannot nest)."""
    profile = tmp_path_factory.mktemp("profile")
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS,
            viewport={"width": 1280, "height": 900})
        try:
            yield context
        finally:
            context.close()


@pytest.fixture(scope="module")
def report_page(browser, tmp_path_factory):
    run_dir = write_run(tmp_path_factory.mktemp("run") / "run", sample_results(), MODELS, baseline=True)
    html_path = write_reports(run_dir, markdown=False)[0]
    requests: list[str] = []
    page = browser.new_page()
    page.on("request", lambda request: requests.append(request.url))
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.goto(html_path.resolve().as_uri())
    page.wait_for_load_state("load")
    yield page, requests, errors, html_path
    page.close()


def test_page_loads_without_script_errors_or_network(report_page):
    page, requests, errors, html_path = report_page
    assert errors == []
    assert page.title() == "Charter report — pip"
    # The only request is the file itself: no CDN, font, image or beacon, not even from the hostile reply.
    assert requests == [html_path.resolve().as_uri()]
    assert page.evaluate("window.__pwned") is None


def test_charts_render_with_size(report_page):
    page = report_page[0]
    sizes = page.evaluate("""() => Array.from(document.querySelectorAll('svg.chart')).map(svg => {
        const box = svg.getBoundingClientRect(); return [svg.getAttribute('aria-label'), box.width, box.height]; })""")
    labels = [label for label, _, _ in sizes]
    assert "Values: mean score per clause and model" in labels
    assert "Traits: mean score per clause and model" in labels
    assert "All multi-turn cases" in labels
    assert all(width > 100 and height > 40 for _, width, height in sizes), sizes
    bars = page.evaluate("""() => Array.from(document.querySelectorAll('#chart-value rect.bar'))
        .map(r => r.getBoundingClientRect().width)""")
    assert len(bars) == 4 and all(w > 0 for w in bars)  # honesty and kindness, two models each
    lines = page.evaluate("""() => Array.from(document.querySelectorAll('#drift-all polyline'))
        .map(l => l.getBoundingClientRect().width)""")
    assert len(lines) == 2 and all(w > 100 for w in lines)


def _shown(page) -> list[str]:
    return page.evaluate("""() => Array.from(document.querySelectorAll('#cases > details.case'))
        .filter(el => el.offsetParent !== null).map(el => el.dataset.model + ' ' + el.dataset.status + ' '
        + el.dataset.variant + ' ' + el.querySelector('code').textContent)""")


def test_filters_hide_and_show_cases(report_page):
    page = report_page[0]
    everything = _shown(page)
    assert len(everything) == 19
    page.select_option("#f-model", MODELS[1])
    shown = _shown(page)
    assert shown and all(line.startswith(MODELS[1] + " ") for line in shown)
    assert page.text_content("#f-count") == f"{len(shown)} of 19 shown"
    page.select_option("#f-status", "fail")
    page.select_option("#f-variant", "character")
    assert sorted(_shown(page)) == [f"{MODELS[1]} fail character pip/drift/sycophancy-1",
                                    f"{MODELS[1]} fail character pip/tension/santa-1"]
    page.click("#f-reset")
    page.select_option("#f-clause", "tension:santa")
    assert {line.split()[-1] for line in _shown(page)} == {"pip/tension/santa-1"}
    page.select_option("#f-kind", "rule")
    assert _shown(page) == []
    assert page.text_content("#f-count") == "0 of 19 shown"
    page.click("#f-reset")
    assert len(_shown(page)) == 19
    # The error list follows the model filter too.
    page.select_option("#f-model", MODELS[0])
    assert page.evaluate("""() => Array.from(document.querySelectorAll('#errors li'))
        .filter(li => li.offsetParent !== null).length""") == 0
    page.click("#f-reset")


def test_hostile_text_is_shown_as_text(report_page):
    page = report_page[0]
    page.select_option("#f-model", MODELS[1])
    page.select_option("#f-clause", "tension:santa")
    page.select_option("#f-variant", "character")
    page.click("#f-open")
    case = page.locator("#cases > details.case:not([hidden])")
    assert case.count() == 1
    messages = case.locator(".turn.assistant .msg")
    assert messages.first.text_content() == HOSTILE
    assert case.locator(".reason").first.text_content() == HOSTILE
    # Nothing the reply wrote became an element.
    assert case.locator("script, img, a, textarea").count() == 0
    assert page.evaluate("document.scripts.length") == 1
    page.click("#f-reset")


WIDE_MODELS = {MODELS[0]: "openai-compatible:meta-llama/Llama-3.3-70B-Instruct-Turbo",
               MODELS[1]: "anthropic:claude-sonnet-4-5-20250929"}


def _wide_results() -> list[dict]:
    """The sample run with long model ids and the token counts of a large run."""
    results = sample_results()
    for result in results:
        result["model"] = WIDE_MODELS[result["model"]]
        for role in ("model", "judge"):
            result["usage"][role].update(calls=123_456, cached_calls=98_765, retries=4_321,
                                         input_tokens=987_654_321, output_tokens=123_456_789,
                                         cache_read_tokens=876_543_210)
    return results


def test_every_table_fits_a_1280_pixel_screen(browser, tmp_path):
    """No column hides behind a scrollbar: with every table and case open, each table is no wider than
    its container and the page no wider than the window."""
    run_dir = write_run(tmp_path / "run", _wide_results(), list(WIDE_MODELS.values()), baseline=True)
    html_path = write_reports(run_dir, markdown=False)[0]
    page = browser.new_page()
    try:
        page.goto(html_path.resolve().as_uri())
        page.wait_for_load_state("load")
        assert page.viewport_size["width"] == 1280
        page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
        tables = page.evaluate("""() => Array.from(document.querySelectorAll('table')).map(t => ({
            section: t.closest('section').id, width: t.scrollWidth, room: t.parentElement.clientWidth,
            head: Array.from(t.querySelectorAll('th')).map(th => th.textContent).join('|')}))""")
        page_width = page.evaluate("document.documentElement.scrollWidth")
    finally:
        page.close()
    assert {t["section"] for t in tables} >= {"scores", "clauses", "drift", "kinds", "errors", "usage"}
    too_wide = [t for t in tables if t["width"] > t["room"]]
    assert too_wide == []
    assert page_width <= 1280
    usage = next(t for t in tables if t["section"] == "usage")
    assert usage["head"].endswith("Cost|Total")


def test_screenshot(report_page, tmp_path):
    page = report_page[0]
    page.click("#f-open")
    target = Path(os.environ.get("CHARTER_REPORT_SCREENSHOT") or tmp_path / "report.png")
    page.screenshot(path=str(target), full_page=True)
    assert target.stat().st_size > 10_000
    page.click("#f-close")
