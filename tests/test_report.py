"""The HTML report: golden files, escaping of hostile input, text layout, charts and data files.

Golden files live in tests/data/report/golden/; rewrite them with

    UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_report.py
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest

from auditor.report import build_report
from auditor.report import views
from auditor.report.render import CSP

DATA = Path(__file__).parent / "data" / "report"
GOLDEN = DATA / "golden"
PACKAGE = Path(views.__file__).parent
CSP_META = f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'


def _make_run_module():
    spec = importlib.util.spec_from_file_location("report_make_run", DATA / "make_run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_run = _make_run_module()


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    run = make_run.make_run(tmp_path_factory.mktemp("sample") / "run")
    build_report(run)
    return run


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> Path:
    run = make_run.make_hostile_run(tmp_path_factory.mktemp("hostile") / "run")
    build_report(run)
    return run


def page_file(run: Path, page_id: str) -> Path:
    run_data = views.load_run(run)
    return run / run_data.page_by_id[page_id].href


# ------------------------------------------------------------------------------------------ HTML helpers

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Tags(HTMLParser):
    """Collects start tags with attributes, checks nesting, gathers text of elements with an id."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.stack: list[tuple[str, str | None]] = []
        self.errors: list[str] = []
        self.text_by_id: dict[str, list[str]] = {}
        self.open_ids: list[str] = []
        self.data: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag in VOID:
            return
        self.stack.append((tag, a.get("id")))
        if a.get("id"):
            self.text_by_id[a["id"]] = []
            self.open_ids.append(a["id"])

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1][0] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1][0] if self.stack else 'nothing'} at {self.getpos()}")
            return
        _, ident = self.stack.pop()
        if ident:
            self.open_ids.remove(ident)

    def handle_data(self, data):
        self.data.append(data)
        for ident in self.open_ids:
            self.text_by_id[ident].append(data)


def parse(path: Path) -> Tags:
    p = Tags()
    p.feed(path.read_text(encoding="utf-8"))
    p.close()
    return p


def html_files(root: Path) -> list[Path]:
    return sorted(root.glob("*.html")) + sorted((root / "pages").glob("*.html"))


def read_js_data(path: Path) -> dict:
    text = path.read_text(encoding="utf-8")
    m = re.fullmatch(r"window\.[A-Z_]+ = (.*);\n", text, re.S)
    assert m, f"{path.name} is not a single assignment"
    return json.loads(m.group(1))


# ------------------------------------------------------------------------------------------ golden files

def scrub(text: str, run: Path) -> str:
    text = text.replace(str(run), "<RUN>")
    text = re.sub(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})?", "<DATE>", text)
    text = re.sub(r"\((?:\d+h )?(?:\d+m )?\d+s\)", "(<DURATION>)", text)
    text = re.sub(r"auditor \d+\.\d+\.\d+\S*", "auditor <VERSION>", text)
    text = re.sub(r"(<dt>Version</dt><dd>)[^<]*", r"\1<VERSION>", text)
    return text


@pytest.mark.parametrize("name", ["index.html", "page.html", "topics.html"])
def test_golden(sample, name):
    path = page_file(sample, make_run.PAGE_A) if name == "page.html" else sample / name
    got = scrub(path.read_text(encoding="utf-8"), sample)
    golden = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1" or not golden.exists():
        GOLDEN.mkdir(parents=True, exist_ok=True)
        golden.write_text(got, encoding="utf-8")
        if os.environ.get("UPDATE_GOLDEN") != "1":
            pytest.fail(f"golden file {golden} was missing and has been written; rerun")
    assert got == golden.read_text(encoding="utf-8"), \
        f"{name} differs from {golden}; if the change is intended, rerun with UPDATE_GOLDEN=1"


# ------------------------------------------------------------------------------------------ structure

def test_build_report_writes_every_file(sample):
    assert (sample / "index.html").is_file()
    for name in ("pages.html", "findings.html", "topics.html", "static/report.css", "static/report.js",
                 "static/data/findings.js", "static/data/pages.js"):
        assert (sample / name).is_file(), name
    # one view per audited page, none for duplicate, skipped and failed pages
    assert len(list((sample / "pages").glob("*.html"))) == 3


def test_out_dir_can_differ_from_run_dir(tmp_path):
    run = make_run.make_run(tmp_path / "run")
    index = build_report(run, tmp_path / "report")
    assert index == tmp_path / "report" / "index.html" and index.is_file()
    assert not (run / "index.html").exists()
    assert len(list((tmp_path / "report" / "pages").glob("*.html"))) == 3


def test_every_html_file_is_balanced_and_has_csp(sample, hostile):
    for root in (sample, hostile):
        for path in html_files(root):
            text = path.read_text(encoding="utf-8")
            assert CSP_META in text, path
            assert "'unsafe-inline'" not in text and "'unsafe-eval'" not in text
            tags = parse(path)
            assert not tags.errors, (path, tags.errors[:5])
            assert not tags.stack, (path, tags.stack)


def test_links_between_views_resolve(sample):
    for path in html_files(sample):
        for tag, attrs in parse(path).tags:
            href = attrs.get("href") or attrs.get("src")
            if not href or href.startswith(("http://", "https://", "#")):
                continue
            target = (path.parent / href.split("#")[0]).resolve()
            assert target.is_file(), f"{path.name}: broken link {href}"


def test_overview_counts(sample):
    o = views.build_overview(views.load_run(sample))
    assert {c.label: c.count for c in o.statuses} == {"audited": 3, "duplicate": 1, "skipped": 1, "failed": 1}
    assert {c.label: c.count for c in o.levels} == {"error": 4, "warning": 6, "info": 5}
    assert o.n_claims == 15 and o.n_findings == 15
    assert [p.status for p in o.not_audited] == ["failed", "skipped"]
    assert o.sources[0].source == "clinic-a.example"  # most errors first
    # the cross-source finding counts once for each source it cites
    assert sum(r.counts["warning"] for r in o.sources) == 6 + 2
    text = (sample / "index.html").read_text(encoding="utf-8")
    assert "fetch failed: HTTP 404 Not Found" in text
    assert 'href="findings.html#rule=EVD001"' in text
    assert 'href="pages.html#status=failed"' in text


def test_highlights_are_the_claim_texts(sample):
    run = views.load_run(sample)
    for page in run.audited:
        views.build_page_view(run, page)
        tags = parse(sample / page.href)
        for c in run.claims_by_page[page.id]:
            assert c.placed, c.claim_id
            pieces = [tag for tag in tags.tags if tag[0] == "mark" and tag[1].get("data-claim") == str(c.idx)]
            assert pieces, c.claim_id
            if len(pieces) == 1:
                assert "".join(tags.text_by_id[f"claim-{c.idx}"]) == c.text


def test_claim_levels_and_badges(sample):
    text = page_file(sample, make_run.PAGE_A).read_text(encoding="utf-8")
    # 70-80% has REF001 (error), CNF001 and EVD001 (warnings): the highest level wins, the badge counts 3
    m = re.search(r'<mark class="claim k-numeric lv-error" data-claim="1" id="claim-1"[^>]*data-badge="3">70-80%</mark>',
                  text)
    assert m, "70-80% should be an error-level numeric highlight with 3 findings"
    assert '<mark class="claim k-promotional lv-warning" data-claim="0" id="claim-0"' in text
    assert 'class="claim k-numeric" data-claim="2" id="claim-2"' in text  # no findings, no level


def test_original_url_only_linked_when_http(sample, hostile):
    a = page_file(sample, make_run.PAGE_A).read_text(encoding="utf-8")
    assert '<a class="ext" href="https://clinic-a.example/knee-injections"' in a
    b = page_file(sample, make_run.PAGE_B).read_text(encoding="utf-8")
    assert 'href="http://clinic-b.example/prp"' in b
    for path in html_files(hostile):
        for tag, attrs in parse(path).tags:
            for key in ("href", "src", "action", "xlink:href", "formaction"):
                value = (attrs.get(key) or "").strip().lower()
                assert not value.startswith(("javascript:", "data:", "vbscript:")), (path.name, tag, attrs)


# ------------------------------------------------------------------------------------------ escaping

ALLOWED_SCRIPTS = {"static/report.js", "../static/report.js", "static/data/findings.js", "static/data/pages.js"}


def test_no_markup_from_data(hostile):
    for path in html_files(hostile):
        text = path.read_text(encoding="utf-8")
        tags = parse(path)
        for tag, attrs in tags.tags:
            assert not [k for k in attrs if k.startswith("on")], (path.name, tag, attrs)
            if tag == "script":
                assert attrs.get("src") in ALLOWED_SCRIPTS, (path.name, attrs)
            assert tag not in ("img", "iframe", "object", "embed", "textarea", "style", "base"), \
                (path.name, tag, attrs)
            assert tag != "form" or "action" not in attrs
            if tag == "svg":
                assert "onload" not in attrs
        # every '<script' in the file is one of ours
        assert text.count("<script") == sum(1 for t, _ in tags.tags if t == "script")
        assert "alert(1)</script>" not in text
    page = page_file(hostile, make_run.HOSTILE_ID).read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "&#34;&gt;&lt;svg onload=alert(1)&gt;" in page
    assert "&lt;/textarea&gt;&lt;/script&gt;&lt;/style&gt;" in page
    assert "{{ 7*7 }}" in page and "49" not in page
    assert "{% raw %}" in page


def test_hostile_values_stay_inside_attributes(hostile):
    run = views.load_run(hostile)
    for path in html_files(hostile):
        for tag, attrs in parse(path).tags:
            cls = attrs.get("class") or ""
            # class names come from fixed vocabularies, never from data
            assert re.fullmatch(r"[A-Za-z0-9 _-]*", cls), (path.name, tag, cls)
            if tag == "mark" and "data-claim" in attrs:
                assert re.fullmatch(r"\d+", attrs["data-claim"])
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+", p.safe) for p in run.pages if p.safe)


def test_data_files_cannot_break_out(hostile):
    for name in ("findings.js", "pages.js"):
        path = hostile / "static" / "data" / name
        text = path.read_text(encoding="utf-8")
        assert "<" not in text and "\u2028" not in text
        data = read_js_data(path)
        assert data["rows"]
    findings = read_js_data(hostile / "static" / "data" / "findings.js")
    messages = {row[findings["columns"].index("message")] for row in findings["rows"]}
    assert "<script>alert(1)</script>" in messages  # the text survives, escaped only for transport
    pages = read_js_data(hostile / "static" / "data" / "pages.js")
    urls = [row[pages["columns"].index("url")] for row in pages["rows"]]
    assert urls and all(u == "" for u in urls)  # no page has an http(s) url: none is linked
    for row in findings["rows"] + pages["rows"]:
        href = row[findings["columns"].index("href") if row in findings["rows"] else pages["columns"].index("href")]
        assert href == "" or re.fullmatch(r"(pages/[A-Za-z0-9._-]+\.html|topics\.html)(#[A-Za-z0-9-]+)?", href), href


def test_text_file_outside_run_dir_is_refused(hostile):
    page = (hostile / "pages" / "traversal.html").read_text(encoding="utf-8")
    assert "points outside the run directory; refused" in page
    assert "root:" not in page


def test_templates_and_code_never_bypass_escaping():
    assert CSP_META in (PACKAGE / "templates" / "base.html.j2").read_text(encoding="utf-8")
    for path in (PACKAGE / "templates").glob("*.j2"):
        text = path.read_text(encoding="utf-8")
        assert "|safe" not in text.replace(" ", ""), path.name
        assert "autoescape false" not in text and "autoescape off" not in text
    for path in PACKAGE.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "Markup(" not in text and "markupsafe" not in text, path.name
    js = (PACKAGE / "static" / "report.js").read_text(encoding="utf-8")
    for bad in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
                "setAttribute(\"style\"", ".style."):
        assert bad not in js, bad


# ------------------------------------------------------------------------------------------ units

@pytest.mark.parametrize("page_id", ["clinic-a", "a.b_c-1", "x" * 80])
def test_safe_name_keeps_safe_ids(page_id):
    assert views.safe_name(page_id) == page_id


@pytest.mark.parametrize("page_id", ["../../etc/passwd", "/abs/path", ".hidden", "..", "", "a b", "CON", "nul.txt",
                                     "ünïcödé", "x" * 81, "a\x00b", "page?q=<script>", "trailing."])
def test_safe_name_sanitises_and_hashes(page_id):
    name = views.safe_name(page_id)
    assert re.fullmatch(r"[A-Za-z0-9._-]+", name) and not name.startswith(".")
    assert ".." not in name and "/" not in name and len(name) <= 91
    assert re.search(r"[0-9a-f]{10}$", name)
    assert views.safe_name(page_id) == name  # stable


def test_names_unique_on_case_insensitive_file_systems():
    alloc = views.NameAllocator()
    names = [alloc(x) for x in ["Page", "page", "PAGE", "a/b", "a_b", "a?b"]]
    assert len({n.lower() for n in names}) == len(names)


@pytest.mark.parametrize("url,ok", [
    ("https://example.org/x?a=1", True), ("http://example.org", True), ("HTTPS://EXAMPLE.ORG", True),
    ("javascript:alert(1)", False), ("  JaVaScRiPt:alert(1)", False), ("java\tscript:alert(1)", False),
    ("data:text/html,<script>", False), ("vbscript:x", False), ("//example.org", False), ("https:///x", False),
    ("ftp://example.org", False), ("http://exa\nmple.org", False), ("", False), (None, False), (42, False),
])
def test_http_url(url, ok):
    assert (views.http_url(url) is not None) is ok


def _claim(idx, start, end, text, kind="numeric"):
    c = views._claim({"claim_id": f"p:{start}-{end}", "page": "p", "kind": kind, "text": text[start:end],
                      "start": start, "end": end})
    c.idx = idx
    return c


def _flatten(nodes, out=None, depth=0):
    out = [] if out is None else out
    for n in nodes:
        if n.claim < 0:
            out.append(("text", n.text, depth))
        else:
            out.append(("open", n.claim, depth))
            _flatten(n.children, out, depth + 1)
            out.append(("close", n.claim, depth))
    return out


def _plain(nodes):
    return "".join(n.text if n.claim < 0 else _plain(n.children) for n in nodes)


def test_layout_nests_contained_claims():
    text = "clinically proven to cut pain by 70-80% fast"
    outer = _claim(0, 0, text.index(" fast"), text, "promotional")
    inner = _claim(1, text.index("70"), text.index(" fast"), text)
    groups = views.layout_text(text, [{"start": 0, "end": len(text), "kind": "paragraph"}], [outer, inner])
    nodes = groups[0].blocks[0].nodes
    assert _plain(nodes) == text
    flat = _flatten(nodes)
    assert ("open", 0, 0) in flat and ("open", 1, 1) in flat  # inner inside outer
    assert outer.placed and inner.placed


def test_layout_splits_crossing_claims():
    text = "Best results: more than 50% of patients respond."
    a = _claim(0, 0, text.index(" of"), text, "promotional")
    b = _claim(1, text.index("more"), text.index(" respond"), text)
    nodes = views.layout_text(text, [], [a, b])[0].blocks[0].nodes
    assert _plain(nodes) == text
    pieces = [n for n in views._walk(nodes) if n.claim == 1]
    assert len(pieces) == 2
    assert pieces[0].first and pieces[0].cont_r and not pieces[0].last
    assert pieces[1].last and pieces[1].cont_l and not pieces[1].first
    assert text[pieces[0].start:pieces[0].end] + text[pieces[1].start:pieces[1].end] == "more than 50% of patients"


def test_layout_identical_spans_and_claims_across_blocks():
    text = "First block 10%\n\nsecond block"
    a = _claim(0, text.index("10%"), len(text), text)  # crosses the block boundary
    b = _claim(1, text.index("10%"), text.index("10%") + 3, text)
    c = _claim(2, text.index("10%"), text.index("10%") + 3, text, "promotional")
    groups = views.layout_text(text, [{"start": 0, "end": 15, "kind": "paragraph"},
                                      {"start": 17, "end": len(text), "kind": "paragraph"}], [a, b, c])
    assert len(groups) == 2
    assert [_plain(g.blocks[0].nodes) for g in groups] == ["First block 10%", "second block"]
    assert all(x.placed for x in (a, b, c))
    assert sum(1 for g in groups for n in views._walk(g.blocks[0].nodes) if n.claim == 0) == 2


def test_layout_survives_bad_offsets_and_many_overlaps():
    text = "aaaa bbbb cccc dddd " * 50
    claims = [_claim(i, i % 40, i % 40 + 30, text) for i in range(300)]
    claims.append(views._claim({"claim_id": "x", "text": "zzz", "start": -5, "end": 10_000}))
    claims[-1].idx = 300
    claims.append(views._claim({"claim_id": "y", "text": "cccc", "start": 10_000, "end": 10_004}))
    claims[-1].idx = 301
    groups = views.layout_text(text, [{"start": 5, "end": 3}, {"start": "x"}, "junk"], claims)
    assert "".join(_plain(b.nodes) for g in groups for b in g.blocks) == text.strip()
    assert not claims[300].placed and "not highlighted" in claims[300].note
    assert claims[301].placed and "nearest occurrence" in claims[301].note


def test_value_text():
    assert views.value_text(70, 80, "percent") == "70\u201380%"
    assert views.value_text(None, 90, "percent") == "\u2264 90%"
    assert views.value_text(50, None, "patients") == "\u2265 50 patients"
    assert views.value_text(98.7, 98.7, "percent") == "98.7%"
    assert views.value_text(27, None, "bmi") == "\u2265 27 kg/m\u00b2"  # unit names that read badly get a label
    assert views.value_text(1, 1, "cup_size") == "1 cup size"
    assert views.value_text(5000, 5000, "") == "5,000"
    assert views.value_text(None, None, "x") == ""
    assert views.value_text(13.0457, None, "week") == "\u2265 13.05 weeks"
    assert views.value_text(1, 1, "week") == "1 week"
    assert views.value_text(0.125, 0.125, "mg") == "0.125 mg"


def test_topic_chart(sample):
    page = views.build_topics(views.load_run(sample))
    t = page.topics[0]
    assert t.key == "prp.knee_pain_reduction" and t.conflict  # conflicts first
    ch = t.chart
    assert [r.full_label for r in ch.rows] == ["clinic-a.example", "clinic-b.example", "blog.example"]
    shapes = {r.full_label: r.marks[0].shape for r in ch.rows}
    assert shapes == {"clinic-a.example": "bar", "clinic-b.example": "upper", "blog.example": "bar"}
    # percent axis runs 0..100; the "up to 90%" arrow opens to the axis start
    assert ch.ticks[0].label == "0" and ch.ticks[-1].label == "100"
    upper = ch.rows[1].marks[0]
    assert upper.x1 == ch.x0 and upper.arrow
    # the reference band spans 30..50
    x = lambda v: ch.x0 + v / 100 * (ch.x1 - ch.x0)  # noqa: E731
    assert ch.band.x == pytest.approx(x(30), abs=0.1) and ch.band.width == pytest.approx(x(50) - x(30), abs=0.2)
    # the group that fits the reference is the baseline; the clinics conflict with it
    assert [r.conflict for r in ch.rows] == [True, True, False]
    assert [r.outside for r in ch.rows] == [True, False, False]
    t2 = page.topics[1]
    assert {r.full_label: r.marks[0].shape for r in t2.chart.rows} == {"clinic-a.example": "point",
                                                                        "blog.example": "lower"}
    lower = t2.chart.rows[1].marks[0]
    assert lower.x2 == t2.chart.x1
    html = (sample / "topics.html").read_text(encoding="utf-8")
    assert "reference 30\u201350%" in html and "percent (%)" in html
    assert 'href="https://pubmed.ncbi.nlm.nih.gov/33000000/"' in html
    assert 'href="https://doi.org/10.1001/jama.2021.0001"' in html


def test_nice_ticks_and_domain():
    assert views.nice_ticks(0, 100) == [0, 20, 40, 60, 80, 100]
    assert views.nice_ticks(0, 7) == [0, 2, 4, 6]
    assert views.nice_ticks(0, 7, target=8) == [0, 1, 2, 3, 4, 5, 6, 7]
    lo, hi = views._domain([5000], "patients", True)
    assert lo < 5000 < hi
    lo, hi = views._domain([-3, 4], "mmHg", False)
    assert lo <= -3 and hi >= 4


def test_findings_data(sample):
    data = read_js_data(sample / "static" / "data" / "findings.js")
    cols = data["columns"]
    rows = [dict(zip(cols, r)) for r in data["rows"]]
    assert len(rows) == 15
    assert [r["level"] for r in rows[:4]] == ["error"] * 4  # most severe first
    cnf = next(r for r in rows if r["rule"] == "CNF001")
    assert sorted(cnf["sources"]) == ["blog.example", "clinic-a.example", "clinic-b.example"]
    assert cnf["href"].endswith("#claim-1")
    page_level = next(r for r in rows if r["rule"] == "REG003")
    assert page_level["kinds"] == ["page"] and page_level["href"] == "pages/clinic-b-prp.html#page-findings"


def test_missing_and_broken_files_still_render(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "pages.jsonl").write_text('{"page": "a", "status": "audited", "text_file": "texts/none.json"}\n'
                                     "not json\n[1, 2]\n", encoding="utf-8")
    index = build_report(run)
    text = index.read_text(encoding="utf-8")
    assert "pages.jsonl: 2 unreadable lines skipped" in text
    assert "run.json is missing" in text
    assert "the text file is missing or unreadable" in (run / "pages" / "a.html").read_text(encoding="utf-8")


@pytest.mark.slow
def test_large_run_is_fast_and_index_small(tmp_path):
    run = make_run.make_large_run(tmp_path / "run", n_pages=2000, claims_per_page=8)
    t0 = time.perf_counter()
    build_report(run)
    elapsed = time.perf_counter() - t0
    assert elapsed < 30, elapsed
    assert len(list((run / "pages").glob("*.html"))) == 2000
    assert (run / "index.html").stat().st_size < 150_000  # the page list is not inlined
