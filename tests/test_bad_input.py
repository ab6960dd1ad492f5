"""Bad input end to end: `auditor audit` on a folder of hostile files accounts for every one of them, writes
nothing outside its run folder and says in one line what went wrong when the tool itself cannot go on."""
from __future__ import annotations

import gzip
import json
import os
import random
import stat
import time
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor import cli, files, ingest
from auditor.batch import iter_jsonl
from auditor.components.quantities import find_quantities
from auditor.report import build_report

CLAIM = "Our clinic cures 90% of back pain in 2 weeks."


def html(body: str) -> str:
    return f"<html><head><title>Clinic</title></head><body><article>{body}</article></body></html>"


def files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*")}


def audit(capsys, *args: str) -> tuple[int, str]:
    code = cli.main(["audit", *args, "--no-config", "--workers", "1", "--fail-on", "never"])
    return code, capsys.readouterr().err


# --------------------------------------------------------------------------- the bad input matrix

def truncated_jsonl_gz() -> bytes:
    rng = random.Random(3)
    lines = [json.dumps({"id": f"r{i}", "text": f"Record {i}: recovery takes {i % 9 + 2} weeks. " +
                         " ".join(rng.choice(["pain", "relief", "clinic", "spine", "care"]) for _ in range(40))})
             for i in range(60)]
    data = gzip.compress("\n".join(lines).encode())
    return data[: len(data) // 2]


CRAWL = [
    json.dumps({"id": "ok", "url": "https://a.example.com/ok", "text": "A crawled page: we heal 85% of hips."}),
    '{"id": "broken", "text": "cut',  # not JSON
    json.dumps({"id": "fieldless", "url": "https://a.example.com/x"}),  # neither html nor text
    json.dumps(["not", "an", "object"]),
    json.dumps({"id": "ok", "text": "The same id again: recovery takes 3 weeks."}),  # duplicate id
    json.dumps({"id": "../../escape", "text": "Escape attempt one: 4 weeks of rest."}),
    json.dumps({"id": "/etc/passwd", "text": "Escape attempt two: 5 weeks of rest."}),
    json.dumps({"id": "nul\u0000byte", "text": "Escape attempt three: 6 weeks of rest."}),
    json.dumps({"id": "a" * 5000, "text": "A very long id: 7 weeks of rest."}),
    json.dumps({"id": "CON", "text": "A reserved Windows name: 8 weeks of rest."}),
    json.dumps({"id": "..", "text": "The parent folder: 9 weeks of rest."}),
    json.dumps({"url": "https://b.example.com/../../../../tmp/pwned", "text": "A hostile URL: 10 weeks of rest."}),
    json.dumps({"id": "<script>alert(1)</script>", "text": "Markup in the id: 11 weeks of rest."}),
]


def make_matrix(root: Path) -> dict[str, tuple[str, str]]:
    """Writes the bad input under root; returns {file name: (status, error code)} (JSONL files: see the test)."""
    expect: dict[str, tuple[str, str]] = {}

    def put(name: str, data: bytes | str, status: str, code: str = "") -> Path:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        expect[name] = (status, code)
        return path

    put("good.txt", CLAIM + "\n", "audited")
    put("empty.html", b"", "failed", "E101")
    put("blank.txt", b" \n\t \n", "failed", "E101")
    put("binary.txt", bytes(range(256)) * 8, "failed", "E103")
    put("report.html", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >>", "failed", "E103")
    put("logo.html", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10", "failed", "E103")
    put("photo.htm", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "failed", "E103")
    put("latin1.txt", "Caf\u00e9 patients: recovery takes 4 to 6 weeks.\n".encode("latin-1"), "audited")
    put("mixed.html", html("<p>Caf\u00e9 na\u00efve: we heal 80% of knees.</p>").encode("utf-8")
        + html("<p>Co\u00fbt \u20ac90, r\u00e9sultat garanti.</p>").encode("cp1252"), "audited")
    put("noise.txt", bytes(range(0x80, 0x100)) * 8, "failed", "E102")
    put("script-only.html", "<html><head><script>document.write('hi')</script></head>"
                            "<body><script>render()</script><style>p{}</style></body></html>", "failed", "E104")
    put("nested.html", html("<div>" * 100_000 + "<p>A deep page: we cure 70% of back pain in 2 weeks.</p>"), "audited")
    put("unclosed.html", "<html><body><table><tr><td><font><b><i><p>Deep and unclosed: we heal 75% of "
                         "shoulders in 3 weeks<li><a href='x'>link", "audited")
    put("reopened.html", "".join(f"<p><i class=c{k}></p>" for k in range(20_000)) + "<p>Reopened: 65% better.</p>",
        "audited")
    put("notes.xyz", "not a page type", "skipped", "E108")
    put("README", "no extension", "skipped", "E108")
    put("a/same.txt", "First of two files with the same name: 3 weeks.\n", "audited")
    put("b/same.txt", "Second of two files with the same name: 4 weeks.\n", "audited")
    put("zz-copy.txt", CLAIM + "\n", "duplicate")  # after good.txt: pages are read in name order
    put("cut.jsonl.gz", truncated_jsonl_gz(), "failed", "E111")
    put("fake.jsonl.gz", b'{"id": "not gzip at all"}\n', "failed", "E111")
    put("crawl.jsonl", "\n".join(CRAWL) + "\n", "failed", "E110")
    # 50 MB of HTML, and a 5 MB page on one line: over the size caps, skipped without being parsed
    with open(root / "huge.html", "w") as f:
        f.write("<html><body>")
        para = f"<p>{CLAIM}</p>"
        f.write(para * (50_000_000 // len(para) + 1))
        f.write("</body></html>")
    expect["huge.html"] = ("skipped", "E107")
    put("one-line.txt", "Recovery takes 4 to 6 weeks and the best care in town. " * 90_000, "skipped", "E107")
    # files that cannot be read (tests run as root, which reads any file whatever its mode)
    (root / "dangling.html").symlink_to(root / "nowhere.html")
    expect["dangling.html"] = ("failed", "E105")
    if hasattr(os, "mkfifo"):
        os.mkfifo(root / "fifo.html")
        expect["fifo.html"] = ("failed", "E105")
    return expect


def test_every_input_file_is_accounted_for_and_nothing_escapes(tmp_path, capsys):
    pages_dir, out = tmp_path / "in", tmp_path / "out"
    expect = make_matrix(pages_dir)
    before = files_under(tmp_path)

    t = time.perf_counter()
    code, err = audit(capsys, str(pages_dir), "--out", str(out))
    elapsed = time.perf_counter() - t

    assert code == cli.EXIT_PAGES_FAILED, err  # some pages failed: exit 3, the others audited
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert elapsed < 180, f"{elapsed:.0f}s"  # generous: the nested pages alone took minutes before

    rows = list(iter_jsonl(out / "pages.jsonl"))
    by_file: dict[str, list[dict]] = {}
    for row in rows:
        assert row["status"] in ("audited", "duplicate", "skipped", "failed"), row
        if row["status"] in ("skipped", "failed"):
            assert row["error_code"] and row["error"] and "\n" not in row["error"], row
        name = str(Path(row["path"].rsplit(":", 1)[0] if ".jsonl" in row["path"] else row["path"])
                   .relative_to(pages_dir))
        by_file.setdefault(name, []).append(row)
    assert set(by_file) == set(expect), set(expect) ^ set(by_file)  # every input file, nothing else
    for name, (status, code_) in expect.items():
        if name.endswith((".jsonl", ".jsonl.gz")):
            assert any(r["status"] == status and r["error_code"] == code_ for r in by_file[name]), by_file[name]
        else:
            assert [(r["status"], r.get("error_code") or "") for r in by_file[name]] == [(status, code_)], name

    # the parts of the broken files that could be read were audited; every record has its row
    crawl = by_file["crawl.jsonl"]
    assert len(crawl) == len(CRAWL)
    assert [r["error_code"] for r in crawl if r["status"] == "failed"] == ["E110", "E110", "E110"]
    assert all(r["status"] == "audited" for r in crawl if r["status"] != "failed")
    cut = by_file["cut.jsonl.gz"]
    assert len(cut) > 5 and all(r["status"] == "audited" for r in cut[:-1]) and cut[-1]["error_code"] == "E111"
    assert "truncated" in cut[-1]["error"]

    ids = [r["page"] for r in rows]
    assert len(ids) == len(set(ids)), "page ids are unique"
    assert {"ok", "ok~2", "same", "same~2"} <= set(ids)
    assert next(r for r in rows if r["path"].endswith("zz-copy.txt"))["duplicate_of"] == "good"
    deep = next(r for r in rows if r["path"].endswith("nested.html"))
    claims = [c for c in iter_jsonl(out / "claims.jsonl") if c["page"] == deep["page"]]
    assert "70%" in {c["text"] for c in claims}, "the text of the deep page is kept"

    # nothing was written outside the run folder, and every file in it has a tame name
    after = files_under(tmp_path)
    assert {p for p in after - before if out not in p.parents and p != out} == set()
    for p in files_under(out):
        assert p.resolve().is_relative_to(out.resolve())
        assert len(p.name) <= 130 and "\x00" not in p.name and not p.name.startswith(".."), p
    texts = [json.loads((out / r["text_file"]).read_text()) for r in rows if r.get("text_file")]
    assert len(texts) == sum(r["status"] == "audited" for r in rows)

    # the report lists the failed and skipped pages with their codes, escaped
    listing = (out / "static" / "data" / "pages.js").read_text()
    for row in rows:  # ids as the report encodes them ("<" as \u003c, so data never closes a script)
        assert json.dumps(row["page"], ensure_ascii=False).replace("<", "\\u003c")[1:-1][:60] in listing
        if row["status"] in ("failed", "skipped"):
            assert row["error_code"] in listing
    index = (out / "index.html").read_text()
    assert "<script>alert(1)</script>" not in index and "<script>alert(1)</script>" not in listing


def test_a_page_over_its_time_budget_is_failed_and_the_run_goes_on(tmp_path, capsys):
    for i in range(3):
        (tmp_path / "in" / f"p{i}.txt").parent.mkdir(exist_ok=True)
        (tmp_path / "in" / f"p{i}.txt").write_text(f"Page {i}. " + CLAIM * 40)
    code, err = audit(capsys, str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--time-budget", "0.0001")
    assert code == cli.EXIT_PAGES_FAILED, err
    rows = list(iter_jsonl(tmp_path / "out" / "pages.jsonl"))
    assert len(rows) == 3
    assert {(r["status"], r["error_code"], r["error"]) for r in rows} == {
        ("failed", "E410", "time budget of 0.0001 s exceeded")}
    assert "E410" in (tmp_path / "out" / "static" / "data" / "pages.js").read_text()


def test_an_unexpected_error_in_one_page_fails_that_page_only(tmp_path, capsys, monkeypatch):
    from auditor.audit import Auditor
    real = Auditor.audit_page

    def audit_page(self, page):
        if "BOOM" in page.text:
            raise RuntimeError("the pipeline broke\non this page")
        return real(self, page)

    monkeypatch.setattr(Auditor, "audit_page", audit_page)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text("Recovery takes 4 to 6 weeks.\n")
    (tmp_path / "in" / "b.txt").write_text("BOOM: this page breaks the pipeline.\n")
    (tmp_path / "in" / "c.txt").write_text("Our therapy is painless.\n")
    code, err = audit(capsys, str(tmp_path / "in"), "--out", str(tmp_path / "out"))
    assert code == cli.EXIT_PAGES_FAILED, err
    rows = {r["page"]: r for r in iter_jsonl(tmp_path / "out" / "pages.jsonl")}
    assert [rows[p]["status"] for p in "abc"] == ["audited", "failed", "audited"]
    assert rows["b"]["error_code"] == "E400"
    assert rows["b"]["error"] == "error while auditing the page: RuntimeError: the pipeline broke on this page"


def test_a_clean_run_exits_0_and_one_failed_page_makes_it_3(tmp_path, capsys):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "good.txt").write_text("Recovery takes 4 to 6 weeks.\n")
    assert audit(capsys, str(tmp_path / "in"), "--out", str(tmp_path / "a"))[0] == cli.EXIT_CLEAN
    (tmp_path / "in" / "bad.html").write_bytes(b"%PDF-1.4\x00")
    assert audit(capsys, str(tmp_path / "in"), "--out", str(tmp_path / "b"))[0] == cli.EXIT_PAGES_FAILED


# --------------------------------------------------------------------------- one-line CLI errors

HOUSE = Path(__file__).parent / "data" / "house"  # a valid rule file and values file, shared with test_config
RULE_OK = (HOUSE / "rules" / "HSE.yaml").read_text()
VALUE_OK = (HOUSE / "values.yaml").read_text()


def _config(tmp_path: Path, key: str, name: str, data: bytes | str) -> list[str]:
    target = tmp_path / "house" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data.encode() if isinstance(data, str) else data)
    value = f'["{target.parent}"]' if key == "rule_folders" else \
        f'{{promotional = "{target}"}}' if key == "lexicons" else f'["{target}"]'
    (tmp_path / "auditor.toml").write_text(f"{key} = {value}\n")
    return ["--config", str(tmp_path / "auditor.toml")]


@pytest.mark.parametrize("case, code, needle", [
    ("wrong option", "E300", "--fail-on"),
    ("unknown option", "E300", "--bogus"),
    ("missing path", "E106", "no/such/page.html"),
    ("empty folder", "E109", "empty"),
    ("output under a file", "E305", "Not a directory"),
    ("output is a file", "E305", "Not a directory"),
    ("bad time budget", "E300", "--time-budget"),
    ("rule file not YAML", "E203", "HSE.yaml:2"),
    ("rule file not UTF-8", "E202", "HSE.yaml"),
    ("rule with unknown kind", "E209", "HSE.yaml:4"),
    ("values file not YAML", "E203", "values.yaml"),
    ("values file not a mapping", "E204", "values.yaml:1"),
    ("value not a mapping", "E204", "values.yaml"),
    ("value with text for a number", "E204", "high must be a number"),
    ("value with an unknown key", "E204", "unknown key(s) bogus"),
    ("value without a source", "E211", "needs a pmid, doi or url"),
    ("values file missing", "E322", "no such file"),
    ("lexicon of the wrong shape", "E213", "p.yaml"),
])
def test_cli_errors_are_one_line_exit_2_and_write_nothing(tmp_path, capsys, case, code, needle):
    (tmp_path / "pages").mkdir()
    (tmp_path / "pages" / "a.txt").write_text("Recovery takes 4 to 6 weeks. The best spine care.\n")
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "file").write_text("x")
    out = tmp_path / "out"
    pages, extra = str(tmp_path / "pages"), ["--no-config"]
    if case == "wrong option":
        extra += ["--fail-on", "sometimes"]
    elif case == "unknown option":
        extra += ["--bogus"]
    elif case == "missing path":
        pages = "no/such/page.html"
    elif case == "empty folder":
        pages = str(tmp_path / "empty")
    elif case == "output under a file":
        out = tmp_path / "file" / "run"
    elif case == "output is a file":
        out = tmp_path / "file"
    elif case == "bad time budget":
        extra += ["--time-budget", "-3"]
    elif case.startswith("rule"):
        data = {"rule file not YAML": "family: [\n", "rule file not UTF-8": b"\xff\xfe\x00f",
                "rule with unknown kind": RULE_OK.replace("kind: claim", "kind: vibes")}[case]
        extra = _config(tmp_path, "rule_folders", "rules/HSE.yaml", data)
    elif case.startswith("value"):
        data = {"values file not YAML": "values: [\n", "values file not a mapping": "- 1\n- 2\n",
                "value not a mapping": "values:\n  - just text\n",
                "value with text for a number": VALUE_OK.replace("high: 6", "high: six"),
                "value with an unknown key": VALUE_OK.replace("unit: month", "unit: month\n    bogus: 1"),
                "value without a source": VALUE_OK.replace('    url: "https://example.org/guideline"\n', ""),
                "values file missing": VALUE_OK}[case]
        extra = _config(tmp_path, "values", "values.yaml", data)
        if case == "values file missing":
            (tmp_path / "house" / "values.yaml").unlink()
    elif case == "lexicon of the wrong shape":
        extra = _config(tmp_path, "lexicons", "p.yaml", "superlative: just one word\n")
    before = files_under(tmp_path)

    result = cli.main(["audit", pages, "--out", str(out), "--workers", "1", *extra])

    err = capsys.readouterr().err
    assert result == cli.EXIT_FAILED, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert f"[{code}]" in err and needle in err, err
    assert files_under(tmp_path) == before, "nothing written"


@pytest.mark.parametrize("command", [
    ["extract", "{pages}", "-o", "{file}/claims.jsonl"],
    ["extract", "{pages}", "--format", "csv", "-o", "{file}/claims.csv"],
    ["extract", "{pages}", "--format", "lines", "-o", "{file}/claims.txt"],
    ["report", "{pages}"],
    ["explain", "NOPE001"],
])
def test_other_commands_fail_in_one_line(tmp_path, capsys, command):
    (tmp_path / "pages").mkdir()
    (tmp_path / "pages" / "a.txt").write_text("Recovery takes 4 to 6 weeks.\n")
    (tmp_path / "file").write_text("x")
    args = [a.format(pages=tmp_path / "pages", file=tmp_path / "file") for a in command]
    assert cli.main(args) == cli.EXIT_FAILED
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err and "[E" in err, err


def test_debug_shows_the_traceback(tmp_path):
    from auditor.errors import IngestError
    with pytest.raises(IngestError):
        cli.main(["--debug", "audit", str(tmp_path / "missing"), "--out", str(tmp_path / "out")])


# --------------------------------------------------------------------------- safe outputs

def test_report_files_are_replaced_whole_or_not_at_all(tmp_path, capsys, monkeypatch):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text(CLAIM + "\n")
    out = tmp_path / "out"
    audit(capsys, str(tmp_path / "in"), "--out", str(out))
    report = {p: p.read_bytes() for p in files_under(out) if p.is_file() and p.suffix in (".html", ".js", ".css")}
    assert out / "index.html" in report and out / "static" / "report.css" in report
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE((out / "index.html").stat().st_mode) == 0o666 & ~umask, "the usual mode, not private"

    real_fdopen = os.fdopen
    written = []

    class DiskFull:  # writes half of what it is given, then fails as a full disk does
        def __init__(self, f):
            self.f = f

        def write(self, data):
            self.f.write(data[: len(data) // 2])
            raise OSError(28, "No space left on device")

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def close(self):
            self.f.close()

    def fdopen(fd, *args, **kwargs):
        f = real_fdopen(fd, *args, **kwargs)
        written.append(f)
        return DiskFull(f) if len(written) > 3 else f  # a few files are written, then the disk is full

    monkeypatch.setattr(files.os, "fdopen", fdopen)
    with pytest.raises(OSError):
        build_report(out)
    monkeypatch.undo()
    for path, data in report.items():
        assert path.read_bytes() == data, f"{path} was changed by the failed write"
    assert not [p for p in files_under(out) if p.name.endswith(".tmp")], "no temporary file is left behind"


# --------------------------------------------------------------------------- deeply nested HTML

PATHOLOGICAL_HTML = {
    "unclosed divs": "<div>" * 200_000,
    "closed divs": "<div>" * 100_000 + "x" + "</div>" * 100_000,
    "unclosed lists": "<ul><li>" * 100_000,
    "misnested formatting": "<b><div>x</b>" * 100_000,
    "reopened formatting": "".join(f"<p><i class=c{k}></p>" for k in range(50_000)),
    "formatting and links": "<h1><i></svg><option><li><dl><dd></table>" * 20_000,
    "lists in lists": "<dd><li><i>" * 50_000,
    "self-closing divs": "<div/>" * 200_000,
    "svg breakout": "<svg><div><g/>" * 100_000,
    "selects": "<select><pre><div><html></object><div>" * 30_000,
}


@pytest.mark.parametrize("name", sorted(PATHOLOGICAL_HTML))
def test_deeply_nested_html_is_read_in_linear_time(name):
    """Each took from a minute to hours before (the parser looks through every open element at each tag)."""
    page_html = PATHOLOGICAL_HTML[name] + f"<p>{CLAIM}</p>"
    t = time.perf_counter()
    page = ingest.read_html(page_html, "deep")
    elapsed = time.perf_counter() - t
    assert CLAIM in page.text
    assert elapsed < 20, f"{name}: {elapsed:.1f}s for {len(page_html)} characters"


def test_flattened_html_keeps_the_text_and_block_breaks():
    page = ingest.read_html("<title>Deep &amp; dark</title><script>var x = '<p>no</p>';</script>" +
                            "<div>" * 2000 + "<h2>Results</h2><p>We heal 90% of knees.<p>Call &lt;now&gt;</p>", "d")
    assert ingest._too_deep("<div>" * 2000, ingest.MAX_HTML_DEPTH)
    assert page.title == "Deep & dark"
    texts = [page.text[b.start:b.end] for b in page.blocks]
    assert texts == ["Results", "We heal 90% of knees.", "Call <now>"]


def test_ordinary_html_is_not_flattened():
    """Big, sloppy but ordinary markup: thousands of unclosed <p>, <li>, <td> and <option>, closed formatting."""
    rows = "".join(f"<tr><td>Row {i}<td><b>bold</b> and <i>italic</i><td><a href='/x{i}'>link</a>" for i in range(3000))
    items = "".join(f"<li>Item {i} <span>with a span</span>" for i in range(3000))
    paras = "".join(f"<p>Paragraph {i} <font face=arial>in a font</font>" for i in range(3000))
    options = "<select>" + "".join(f"<option>Choice {i}" for i in range(3000)) + "</select>"
    nested = "<div>" * 200 + "Deep but reasonable" + "</div>" * 200
    page_html = html(f"<table>{rows}</table><ul>{items}</ul>{paras}{options}{nested}")
    assert not ingest._too_deep(page_html, ingest.MAX_HTML_DEPTH)
    assert ingest._limit_depth(page_html) is page_html


# --------------------------------------------------------------------------- fuzzing

@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.sampled_from(list("0123456789 ,.-–%to and or between up over about one two half "
                                            "weeks months years times in of out\n")), max_size=200))
def test_quantity_parser_is_deterministic_and_its_spans_are_trimmed(text):
    first = find_quantities(text)
    assert first == find_quantities(text)
    for q in first:
        span = text[q.start:q.end]
        assert span and span == span.strip(), repr(span)
        if q.low is not None and q.high is not None:
            assert q.low <= q.high


# ordinary markup: the literal text of an unclosed <textarea> or <iframe> (markup shown as text) is not kept
MARKUP = ["<div>", "</div>", "<b>", "</b>", "<p>", "</p>", "<li>", "<ul>", "</ul>", "<table>", "<td>", "<tr>",
          "<caption>", "<svg>", "</svg>", "<g/>", "<math>", "<mi>", "<select>", "<option>", "<a>", "</a>", "<i x=1>",
          "<font>", "<h1>", "<br>", "<button>", "<form>", "<template>", "</template>", "<noscript>", "<frameset>",
          "<body>", "</html>", "<!--", "-->", "<!-->", "<?x>", "<!doctype html>", "<a title='>'>", "</x>", "x", "y",
          " ", "&amp;", "&lt;", "<", ">", "'", '"']


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(MARKUP), max_size=80))
def test_limit_depth_never_loses_visible_text(pieces):
    """Flattened or not, a page's visible characters survive (flattening drops markup, never text)."""
    from selectolax.lexbor import LexborHTMLParser

    def visible(markup: str) -> Counter:
        tree = LexborHTMLParser(markup)
        return Counter("".join((tree.body.text(deep=True) if tree.body else "").split()))

    page_html = "".join(pieces) * 10
    limited = ingest._limit_depth(page_html, limit=8)
    assert not visible(page_html) - visible(limited)
