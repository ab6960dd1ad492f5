"""The HTML report in a real browser: Debian's chromium driven by playwright, over file:// URLs.

Screenshots of the overview, a page view, the topic chart and the findings table go to tests/artifacts/.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import json
import shutil
from pathlib import Path

import pytest

from auditor.report import build_report
from auditor.report import views

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
DATA = Path(__file__).parent / "data" / "report"
ARTIFACTS = Path(__file__).parent / "artifacts"

IN_CI = os.environ.get("CI", "").lower() in ("1", "true")  # CI installs chromium: a missing one is a failure there
if IN_CI:
    sync_api = importlib.import_module("playwright.sync_api")
else:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
if not CHROMIUM.exists():
    if IN_CI:
        pytest.fail(f"{CHROMIUM} is missing in CI (scripts/test.sh installs it)", pytrace=False)
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)", allow_module_level=True)
expect = sync_api.expect


def _make_run_module():
    spec = importlib.util.spec_from_file_location("report_make_run", DATA / "make_run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_run = _make_run_module()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        except Exception as e:  # pragma: no cover - depends on the machine
            if IN_CI:
                raise
            pytest.skip(f"chromium does not start: {e}")
        yield b
        b.close()


class Watched:
    """A page that records dialogs, console errors and uncaught exceptions."""

    def __init__(self, page):
        self.page = page
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        page.on("dialog", self._dialog)
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    def _dialog(self, dialog):
        self.dialogs.append(dialog.message)
        dialog.dismiss()


@pytest.fixture
def tab(browser):
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    page = context.new_page()
    page.set_default_timeout(5000)
    watched = Watched(page)
    yield watched
    context.close()


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    run = make_run.make_run(tmp_path_factory.mktemp("browser") / "run")
    build_report(run)
    return run


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> Path:
    run = make_run.make_hostile_run(tmp_path_factory.mktemp("browser-hostile") / "run")
    build_report(run)
    return run


@pytest.fixture(scope="module")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    ignore = ARTIFACTS / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*.png\n", encoding="utf-8")
    return ARTIFACTS


def url(path: Path) -> str:
    return path.resolve().as_uri()


def page_path(run: Path, page_id: str) -> Path:
    return run / views.load_run(run).page_by_id[page_id].href


def claims_of(run: Path, page_id: str) -> list[dict]:
    rows = [json.loads(line) for line in (run / "claims.jsonl").read_text(encoding="utf-8").splitlines()]
    rows = [r for r in rows if r["page"] == page_id]
    return sorted(rows, key=lambda c: (c["start"], -c["end"], c["claim_id"]))


# ------------------------------------------------------------------------------------------ views

def test_overview_opens(tab, sample, artifacts):
    page = tab.page
    page.goto(url(sample / "index.html"))
    expect(page.locator("h1")).to_have_text("Audit overview")
    expect(page.locator(".lede")).to_contain_text("15 claims")
    expect(page.locator("text=fetch failed: HTTP 404 Not Found")).to_be_visible()
    page.screenshot(path=str(artifacts / "overview.png"), full_page=True)
    # links to the views work
    page.click("text=Knee Injections That Work | Clinic A")
    expect(page.locator("h1")).to_have_text("Knee Injections That Work | Clinic A")
    assert page.url.endswith(".html") and "/pages/" in page.url
    page.goto(url(sample / "index.html"))
    page.click(".top nav >> text=Topics")
    expect(page.locator("h1")).to_have_text("Topics compared across sources")
    assert not tab.errors and not tab.dialogs


def test_highlights_sit_on_the_claims(tab, sample, artifacts):
    page = tab.page
    for page_id in (make_run.PAGE_A, make_run.PAGE_B, make_run.PAGE_C):
        page.goto(url(page_path(sample, page_id)))
        for idx, claim in enumerate(claims_of(sample, page_id)):
            pieces = page.locator(f'#text mark.claim[data-claim="{idx}"]')
            assert pieces.count() >= 1, claim["claim_id"]
            if pieces.count() == 1:
                assert page.locator(f"#claim-{idx}").text_content() == claim["text"]
            else:  # a claim crossing another one is split; the pieces still spell it
                assert "".join(pieces.all_text_contents()) == claim["text"]
    assert not tab.errors


def test_clicking_a_highlight_shows_its_findings(tab, sample, artifacts):
    page = tab.page
    page.goto(url(page_path(sample, make_run.PAGE_A)))
    detail = page.locator("#detail-1")
    expect(detail).to_be_hidden()
    page.click("#claim-1")
    expect(detail).to_be_visible()
    expect(detail.locator(".finding")).to_have_count(3)
    for rule in ("REF001", "CNF001", "EVD001"):
        expect(detail).to_contain_text(rule)
    expect(detail).to_contain_text("What would settle it")
    expect(detail).to_contain_text("Smith J, Lee K")
    expect(page.locator("#detail-0")).to_be_hidden()
    assert page.url.endswith("#claim-1")
    page.screenshot(path=str(artifacts / "page-view.png"), full_page=True)

    # keyboard: focus a highlight, Enter opens it, Escape goes back to the highlight
    page.focus("#claim-5")
    page.keyboard.press("Enter")
    expect(page.locator("#detail-5")).to_be_visible()
    expect(page.locator("#detail-5")).to_contain_text("REG001")
    expect(page.locator("#detail-1")).to_be_hidden()
    page.keyboard.press("Escape")
    expect(page.locator("#detail-5")).to_be_hidden()
    assert page.evaluate("document.activeElement.id") == "claim-5"

    # a link to a claim opens the panel on it
    page.goto(url(page_path(sample, make_run.PAGE_B)) + "#claim-1")
    expect(page.locator("#detail-1")).to_be_visible()
    expect(page.locator("#detail-1")).to_contain_text("the only treatment")
    assert not tab.errors and not tab.dialogs


def test_topic_chart(tab, sample, artifacts):
    page = tab.page
    page.goto(url(sample / "topics.html"))
    chart = page.locator("#topic-0 svg")
    expect(chart).to_be_visible()
    expect(chart.locator("g.row")).to_have_count(3)
    expect(chart.locator("g.row.conflict")).to_have_count(2)
    expect(chart.locator("rect.band")).to_have_count(1)
    expect(chart.locator("text.axis-label")).to_have_text("percent (%)")
    expect(page.locator("#topic-0 .ref-cite a")).to_have_attribute("href", "https://example.org/jama/2021/prp-knee")
    page.locator("#topic-0").screenshot(path=str(artifacts / "topic-chart.png"))
    page.screenshot(path=str(artifacts / "topics.png"), full_page=True)
    assert not tab.errors


def test_findings_filters_sort_search_and_url_state(tab, sample, artifacts):
    page = tab.page
    page.goto(url(sample / "findings.html"))
    rows = page.locator("#findings tbody tr")
    expect(rows).to_have_count(15)
    page.screenshot(path=str(artifacts / "findings.png"), full_page=True)

    page.select_option("select[data-filter=level]", "error")
    expect(rows).to_have_count(4)
    assert set(page.locator("#findings tbody .pill").all_text_contents()) == {"error"}
    assert "level=error" in page.url

    page.select_option("select[data-filter=source]", "clinic-b.example")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("REF001")
    state = page.url
    page.reload()
    expect(rows).to_have_count(1)
    assert page.url == state
    assert page.locator("select[data-filter=level]").input_value() == "error"
    assert page.locator("select[data-filter=source]").input_value() == "clinic-b.example"

    # a shared link reproduces the view
    page.goto(url(sample / "findings.html") + "#kind=promotional&rule=PRM002")
    expect(rows).to_have_count(2)
    assert page.locator("select[data-filter=kind]").input_value() == "promotional"

    # "/" focuses the search box; free text filters
    page.click("#reset")
    expect(rows).to_have_count(15)
    page.locator("body").press("/")
    assert page.evaluate("document.activeElement.id") == "q"
    page.keyboard.type("guarantee")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("REG001")
    assert "q=guarantee" in page.url
    page.keyboard.press("Escape")

    # sorting by a column, both ways
    page.click("#reset")
    page.click("th[data-col=rule] button")
    rules = page.locator("#findings tbody tr th, #findings tbody tr td.col-rule code").all_text_contents()
    codes = [r for r in page.locator("#findings tbody code.rule").all_text_contents()]
    assert codes == sorted(codes) and rules
    expect(page.locator("th[data-col=rule]")).to_have_attribute("aria-sort", "ascending")
    page.click("th[data-col=rule] button")
    codes = page.locator("#findings tbody code.rule").all_text_contents()
    assert codes == sorted(codes, reverse=True)
    assert "sort=rule" in page.url and "dir=desc" in page.url
    assert not tab.errors


def test_findings_keyboard_opens_the_claim(tab, sample):
    page = tab.page
    page.goto(url(sample / "findings.html") + "#q=guarantee")
    rows = page.locator("#findings tbody tr")
    expect(rows).to_have_count(1)
    page.locator("body").press("j")
    expect(rows.first).to_have_class("lv-error selected")
    page.keyboard.press("Enter")
    page.wait_for_url("**/pages/*.html#claim-5")
    expect(page.locator("#detail-5")).to_be_visible()
    expect(page.locator("#detail-5")).to_contain_text("Guarantee of treatment results.")

    # k/j and the arrow keys move through the rows
    page.goto(url(sample / "findings.html"))
    expect(rows).to_have_count(15)
    page.locator("body").press("j")
    page.keyboard.press("j")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("k")
    assert page.locator("#findings tbody tr.selected").get_attribute("data-pos") == "1"
    assert not tab.errors


def test_pages_list_links_and_filters(tab, sample):
    page = tab.page
    page.goto(url(sample / "pages.html") + "#status=failed")
    rows = page.locator("#pages tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("fetch failed")
    page.click("#reset")
    expect(rows).to_have_count(6)
    page.click("#pages tbody >> text=Does PRP help knee arthritis?")
    expect(page.locator("h1")).to_have_text("Does PRP help knee arthritis?")
    assert not tab.errors


# ------------------------------------------------------------------------------------------ hostile input

def test_injection_payloads_execute_nothing(tab, hostile, artifacts):
    page = tab.page
    files = sorted(hostile.glob("*.html")) + sorted((hostile / "pages").glob("*.html"))
    assert len(files) >= 7
    for f in files:
        page.goto(url(f))
        page.wait_for_load_state("load")
        # nothing from the data became an element
        assert page.locator("img, iframe, object, embed, textarea, style, main script, main svg[onload]").count() == 0
        assert page.evaluate("document.querySelectorAll('[onerror],[onload],[onclick],[onmouseover]').length") == 0
    page.goto(url(page_path(hostile, make_run.HOSTILE_ID)))
    expect(page.locator("h1")).to_have_text("<script>alert(1)</script>")
    expect(page.locator("#text")).to_contain_text("<img src=x onerror=alert(1)>")
    expect(page.locator("#text")).to_contain_text("{{ 7*7 }}")
    expect(page.locator("#text")).to_contain_text("</textarea></script></style>")
    # the javascript: URL is shown as text, not linked
    expect(page.locator(".page-head .meta .nolink")).to_have_text("javascript:alert(1)")
    assert page.locator("a[href^='javascript:' i]").count() == 0
    # opening every claim runs nothing either
    marks = page.locator("#text mark.claim[id]")
    for i in range(marks.count()):
        marks.nth(i).click()
    page.screenshot(path=str(artifacts / "hostile-page.png"), full_page=True)
    page.goto(url(hostile / "findings.html"))
    expect(page.locator("#findings tbody tr").first).to_be_visible()
    expect(page.locator("#findings tbody")).to_contain_text("<script>alert(1)</script>")
    page.goto(url(hostile / "pages.html"))
    expect(page.locator("#pages tbody tr").first).to_be_visible()
    assert page.locator("#pages a[href^='javascript:' i], #pages a[href^='data:' i]").count() == 0
    assert tab.dialogs == []
    assert not [e for e in tab.errors if "alert" in e or "Content Security Policy" in e], tab.errors


def test_report_works_when_copied_elsewhere(tab, sample, tmp_path):
    """The report is self-contained: copying its folder keeps every view working offline."""
    copy = tmp_path / "copy"
    shutil.copytree(sample, copy)
    page = tab.page
    page.goto(url(copy / "findings.html"))
    expect(page.locator("#findings tbody tr")).to_have_count(15)
    assert not tab.errors


# ------------------------------------------------------------------------------ the corpus report

@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory):
    """The report of the sample corpus, as the README's quick start writes it."""
    from auditor.batch import run_audit
    from auditor.options import AuditOptions
    out = tmp_path_factory.mktemp("corpus-run")
    run_audit([Path(__file__).resolve().parents[1] / "corpus"], out, AuditOptions(workers=1, progress=False))
    return out


def test_corpus_report_highlights_and_links(tab, corpus_run, artifacts):
    page = tab.page
    page.goto(url(corpus_run / "index.html"))
    expect(page.locator("h1")).to_have_text("Audit overview")
    pages = [json.loads(line) for line in (corpus_run / "pages.jsonl").read_text().splitlines()]
    assert {p["status"] for p in pages} == {"audited"}
    for row in pages:
        page.goto(url(page_path(corpus_run, row["page"])))
        claims = claims_of(corpus_run, row["page"])
        marks = page.locator("#text mark.claim")
        assert marks.count() >= len(claims) > 0
        for idx, claim in enumerate(claims):
            pieces = page.locator(f'#text mark.claim[data-claim="{idx}"]')
            assert "".join(pieces.all_text_contents()) == claim["text"], claim["claim_id"]
        link = page.locator(f'a[href="{row["url"]}"]')
        expect(link.first).to_be_visible()  # back to the original page
    page.screenshot(path=str(artifacts / "corpus-page.png"), full_page=True)
    page.goto(url(corpus_run / "findings.html") + "#rule=CNF001")
    rows = page.locator("#findings tbody tr")
    expect(rows.first).to_be_visible()
    assert all(code == "CNF001" for code in page.locator("#findings tbody code.rule").all_text_contents())
    page.goto(url(corpus_run / "topics.html"))
    expect(page.locator("svg g.row.conflict").first).to_be_visible()
    page.screenshot(path=str(artifacts / "corpus-topics.png"), full_page=True)
    assert not tab.errors and not tab.dialogs
