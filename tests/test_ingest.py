"""Tests for auditor.ingest: every input page comes out as a Page or a PageFailure."""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import random
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor import ingest
from auditor.errors import IngestError
from auditor.ingest import (IngestOptions, NoPagesError, PageFailure, RawPage, find_duplicates, iter_pages,
                            read_html, read_text, registered_domain, safe_filename)
from auditor.page import Page

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data" / "ingest"


# ----------------------------------------------------------------------------- helpers


def run(*paths, **options) -> list:
    """What iter_pages yields; checked on the way against the same input read with ``defer`` and parsed after."""
    paths = [str(p) for p in paths]
    items = list(iter_pages(paths, IngestOptions(**options)))
    deferred = iter_pages(paths, IngestOptions(**options), defer=True)
    assert [x.parse() if isinstance(x, RawPage) else x for x in deferred] == items
    return items


def only(items: list):
    assert len(items) == 1, items
    return items[0]


def pages(items) -> dict[str, Page]:
    return {p.id: p for p in items if isinstance(p, Page)}


def failures(items) -> list[PageFailure]:
    return [f for f in items if isinstance(f, PageFailure)]


def block_texts(page: Page, kind: str | None = None) -> list[str]:
    return [page.text[b.start:b.end] for b in page.blocks if kind is None or b.kind == kind]


def check_page_invariants(page: Page, html: bool = True) -> None:
    """Blocks and links point inside Page.text; blocks are ordered and never overlap.

    HTML pages are built from blocks, so only "\n" or "\n\n" lies between two;
    text pages keep their bullets and indentation there, but always a line break.
    """
    end = 0
    for block in page.blocks:
        assert end <= block.start < block.end <= len(page.text), block
        chunk = page.text[block.start:block.end]
        assert chunk == chunk.strip(), repr(chunk)
        gap = page.text[end:block.start]
        if end and html:
            assert gap in ("\n", "\n\n"), repr(gap)
        elif end:
            assert "\n" in gap, repr(gap)
        end = block.end
    for link in page.links:
        assert 0 <= link.start < link.end <= len(page.text)
        piece = page.text[link.start:link.end]
        assert piece == piece.strip() and piece
        assert any(b.start <= link.start and link.end <= b.end for b in page.blocks)


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


HTML_PAGE = """<html><head><title>{title}</title></head><body><article>
<h1>{title}</h1><p>{body}</p><p>Call us today to book your first appointment with our friendly team.</p>
</article></body></html>"""


def html_page(title="Clinic", body="We treat back pain with gentle methods that work for most people."):
    return HTML_PAGE.format(title=title, body=body)


# ----------------------------------------------------------------------------- plain text


def test_text_file_blocks_and_exact_text():
    page = only(run(DATA / "site" / "swimming.txt"))
    raw = (DATA / "site" / "swimming.txt").read_text(encoding="utf-8")
    assert page.text == raw
    assert page.id == "swimming"
    assert [(b.kind, page.text[b.start:b.end]) for b in page.blocks] == [
        ("heading", "Cold Water Swimming"),
        ("paragraph", "Cold water swimming boosts your immune system by 40%.\n"
                      "It also improves sleep\nfor most people."),
        ("heading", "Benefits"),
        ("list_item", "Better mood"),
        ("list_item", "Fewer colds"),
        ("list_item", "Weight loss of 2 kg a month"),
        ("list_item", "Start slowly"),
        ("paragraph", "Talk to your GP first."),
    ]
    assert page.title == "Cold Water Swimming"
    check_page_invariants(page, html=False)


def test_text_newlines_normalised_and_bom_stripped(tmp_path):
    write(tmp_path / "notes.md", b"\xef\xbb\xbf# Zo\xc3\xab\xe2\x80\x99s clinic\r\n\r\nWe help.\rReally.\r\n")
    page = only(run(tmp_path / "notes.md"))
    assert page.text == "# Zo\u00eb\u2019s clinic\n\nWe help.\nReally.\n"
    assert page.blocks[0].kind == "heading" and page.blocks[0].level == 1
    assert block_texts(page) == ["Zo\u00eb\u2019s clinic", "We help.\nReally."]


def test_text_heading_split_from_its_paragraph():
    page = read_text("Fast Results\nWe cure back pain in three sessions for nearly every patient.\n", "t")
    assert [(b.kind, page.text[b.start:b.end]) for b in page.blocks] == [
        ("heading", "Fast Results"),
        ("paragraph", "We cure back pain in three sessions for nearly every patient."),
    ]


def test_text_wrapped_paragraph_is_not_a_heading():
    text = "Our clinic has helped thousands of people\nwith chronic pain since 1990.\n"
    page = read_text(text, "t")
    assert [b.kind for b in page.blocks] == ["paragraph"]


# ----------------------------------------------------------------------------- HTML


@pytest.fixture(scope="module")
def clinic() -> Page:
    items = run(DATA / "site")
    return pages(items)["clinic"]


def test_html_headings_lists_cells_quote(clinic):
    assert clinic.title == "Bright Smile Clinic | Teeth Whitening"
    headings = [(clinic.text[b.start:b.end], b.level) for b in clinic.blocks if b.kind == "heading"]
    assert ("Teeth Whitening", 1) in headings and ("Why choose us", 2) in headings
    assert block_texts(clinic, "list_item") == ["Results guaranteed for 5 years",
                                                "Completely painless, with no side effects",
                                                "Approved by leading dentists"]
    assert "Laser whitening" in block_texts(clinic, "cell") and "\u00a3299" in block_texts(clinic, "cell")
    assert block_texts(clinic, "quote") == ["My teeth have never been whiter. Best decision I ever made!"]
    paragraph = block_texts(clinic, "paragraph")[0]
    assert paragraph == ("Our laser whitening makes teeth up to 8 shades whiter in a single one-hour visit, "
                         "as shown in our 2021 study.")
    # list items on consecutive lines; other blocks separated by a blank line
    assert "Results guaranteed for 5 years\nCompletely painless" in clinic.text
    assert "ignore me" not in clinic.text and "All rights reserved" not in clinic.text
    check_page_invariants(clinic)


def test_html_links_slice_to_link_text(clinic):
    found = {clinic.text[link.start:link.end]: link.href for link in clinic.links}
    # relative hrefs are resolved against the manifest url
    assert found == {"our 2021 study": "https://www.brightsmile.example.co.uk/evidence/study-2021",
                     "leading dentists": "https://www.example-dental.org/approvals"}


def test_html_reader_comments_are_separate_blocks_at_the_end(clinic):
    comments = block_texts(clinic, "comment")
    assert comments == ["It cured my gum disease in two weeks.", "Mine were 10 shades whiter!"]
    kinds = [b.kind for b in clinic.blocks]
    first_comment = kinds.index("comment")
    assert set(kinds[first_comment:]) == {"comment"}
    main = clinic.text[:clinic.blocks[first_comment].start]
    assert "gum disease" not in main and "10 shades" not in main
    for noise in ("Reply", "Jane", "Post Comment", "thoughts on"):
        assert noise not in clinic.text



@pytest.mark.parametrize("path", sorted((ROOT / "corpus").glob("*.html")) + [DATA / "site" / "clinic.html"],
                         ids=lambda p: p.name)
def test_main_text_is_what_trafilatura_extract_gives(path):
    # the reader skips trafilatura's metadata fingerprint; everything else must be its extract()
    import trafilatura
    from lxml import etree

    html = path.read_text(encoding="utf-8")
    expected = trafilatura.extract(html, url="https://clinic.example/page", output_format="xml",
                                   include_links=True, include_comments=False, include_tables=True,
                                   include_formatting=False, include_images=False, favor_recall=True,
                                   with_metadata=False)
    got = ingest._trafilatura_xml(html, "https://clinic.example/page")
    assert got and expected
    main = [etree.tostring(etree.fromstring(xml.encode("utf-8")).find("main")) for xml in (got, expected)]
    assert main[0] == main[1]

def test_html_fragment_falls_back_to_visible_text():
    page = read_html("<p>Just a fragment of text here.</p><script>var claim = 1;</script>", "f")
    assert page.text == "Just a fragment of text here."
    assert [b.kind for b in page.blocks] == ["paragraph"]


def test_html_fallback_drops_navigation_and_scripts(monkeypatch):
    monkeypatch.setattr(ingest, "_extract_main", lambda html, url, builder: False)
    html = ("<html><body><nav>Home Prices</nav><header>Logo</header><h2>Our promise</h2>"
            "<div>We treat <b>every</b> patient with care.</div><script>x()</script>"
            "<footer>Copyright</footer></body></html>")
    page = read_html(html, "f")
    assert page.text == "Our promise\n\nWe treat every patient with care."
    assert [b.kind for b in page.blocks] == ["heading", "paragraph"]


def test_html_title_falls_back_to_og_title():
    html = ('<html><head><meta property="og:title" content="  Spine   Centre "></head>'
            "<body><p>We fix backs and necks for people of all ages in our spine centre.</p></body></html>")
    assert read_html(html, "x").title == "Spine Centre"


def test_html_without_text_is_a_failure(tmp_path):
    write(tmp_path / "script.html", "<html><head><script>document.write('hi')</script></head><body>"
                                    "<script>render()</script></body></html>")
    failure = only(run(tmp_path / "script.html"))
    assert isinstance(failure, PageFailure)
    assert (failure.code, failure.status, failure.message) == ("E104", "failed", "no text content")


# ----------------------------------------------------------------------------- encodings


def test_latin1_with_meta_charset():
    page = only(run(DATA / "latin1_meta.html"))
    assert "Notre m\u00e9thode r\u00e9duit la douleur" in page.text
    assert "patients \u00e2g\u00e9s" in page.text
    assert page.title == "Clinique Sant\u00e9"


def test_utf8_bom_html(tmp_path):
    html = html_page(title="Zo\u00eb\u2019s Clinic", body="Na\u00efve patients love our caf\u00e9 and our results.")
    write(tmp_path / "bom.html", b"\xef\xbb\xbf" + html.encode("utf-8"))
    page = only(run(tmp_path / "bom.html"))
    assert page.title == "Zo\u00eb\u2019s Clinic"
    assert "Na\u00efve patients love our caf\u00e9" in page.text
    assert "\ufeff" not in page.text


def test_cp1252_without_declaration(tmp_path):
    body = ("Our clinic\u2019s \u201cbest\u201d treatment \u2013 na\u00efve patients pay \u20ac50 "
            "for a caf\u00e9 cr\u00e8me consultation.")
    write(tmp_path / "legacy.html", html_page(body=body).encode("cp1252"))
    write(tmp_path / "legacy.txt", body.encode("cp1252"))
    found = pages(run(tmp_path))
    assert body in found["legacy"].text
    assert found["legacy~2"].text == body


def test_http_charset_beats_meta():
    html = ('<html><head><meta charset="utf-8"></head><body><p>Clinique Sant\u00e9: '
            'nous soignons les patients depuis vingt ans avec succ\u00e8s.</p></body></html>')
    text = ingest.decode_html(html.encode("latin-1"), "ISO-8859-1")
    assert "Clinique Sant\u00e9" in text


def test_undecodable_bytes(tmp_path):
    write(tmp_path / "noise.txt", bytes(range(0x80, 0x100)) * 10)
    failure = only(run(tmp_path / "noise.txt"))
    assert (failure.code, failure.message) == ("E102", "not UTF-8 text and no encoding could be detected")


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("name, data, code, message", [
    ("empty.html", b"", "E101", "empty file"),
    ("blank.txt", b"  \n\t\n", "E101", "empty file (only whitespace)"),
    ("nul.html", b"<html>\x00\x01\x02\x00binary\x00</html>", "E103", "binary content (NUL bytes), not HTML"),
    ("ctrl.txt", b"\x01\x02\x03\x04\x05\x06" * 50, "E103", "binary content (mostly control characters), not text"),
    ("report.html", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "E103", "looks like a PDF, not HTML"),
    ("logo.html", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "E103", "looks like a PNG image, not HTML"),
    ("photo.htm", b"\xff\xd8\xff\xe0\x00\x10JFIF", "E103", "looks like a JPEG image, not HTML"),
    ("anim.html", b"GIF89a\x01\x00\x01\x00", "E103", "looks like a GIF image, not HTML"),
])
def test_bad_files(tmp_path, name, data, code, message):
    write(tmp_path / name, data)
    failure = only(run(tmp_path / name))
    assert isinstance(failure, PageFailure)
    assert (failure.code, failure.message, failure.status) == (code, message, "failed")
    assert failure.id == Path(name).stem and failure.path == str(tmp_path / name)


def test_unknown_extension_is_skipped(tmp_path):
    write(tmp_path / "notes.xyz", "hello")
    write(tmp_path / "README", "hello")
    items = run(tmp_path)
    assert [(f.id, f.status, f.code, f.message) for f in items] == [
        ("README", "skipped", "E108", "unknown file type (no extension)"),
        ("notes", "skipped", "E108", "unknown file type .xyz"),
    ]


def test_too_large_file_is_skipped(tmp_path):
    write(tmp_path / "big.html", html_page() * 5)
    failure = only(run(tmp_path / "big.html", max_bytes=200))
    assert (failure.status, failure.code) == ("skipped", "E107")
    assert "max_bytes 200" in failure.message


def test_too_long_text_is_skipped_not_cut(tmp_path):
    write(tmp_path / "long.txt", "word " * 100)
    failure = only(run(tmp_path / "long.txt", max_text_chars=50))
    assert (failure.status, failure.code) == ("skipped", "E107")
    assert failure.message == "text too long: 500 characters after extraction (max_text_chars 50)"


def test_unreadable_file(tmp_path, monkeypatch):
    target = write(tmp_path / "secret.html", html_page())
    real_open = open

    def fake_open(path, *args, **kwargs):
        if Path(path) == target:
            raise PermissionError(13, "Permission denied")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(ingest, "open", fake_open, raising=False)
    failure = only(run(tmp_path))
    assert (failure.code, failure.message) == ("E105", "cannot read file: Permission denied")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file_by_permissions(tmp_path):
    target = write(tmp_path / "secret.txt", "text")
    target.chmod(0)
    try:
        assert only(run(target)).code == "E105"
    finally:
        target.chmod(0o644)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_not_read(tmp_path):
    os.mkfifo(tmp_path / "pipe.html")
    failure = only(run(tmp_path))
    assert (failure.code, failure.message) == ("E105", "not a regular file")


def test_broken_symlink(tmp_path):
    (tmp_path / "gone.html").symlink_to(tmp_path / "missing.html")
    failure = only(run(tmp_path))
    assert failure.code == "E105" and failure.message.startswith("cannot read file:")


def test_missing_path_raises_immediately(tmp_path):
    with pytest.raises(IngestError) as err:
        iter_pages([tmp_path / "nope"])  # no next(): the check is not deferred
    assert err.value.code == "E106"


def test_directory_without_files_raises(tmp_path):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    write(tmp_path / "empty" / ".DS_Store", b"\x00")
    with pytest.raises(NoPagesError) as err:
        iter_pages([tmp_path / "empty"])
    assert err.value.code == "E109"
    assert isinstance(err.value, IngestError)


def test_internal_error_becomes_failure_and_batch_goes_on(tmp_path, monkeypatch):
    write(tmp_path / "a.html", html_page())
    write(tmp_path / "b.txt", "Plain text survives.")

    def broken(*args, **kwargs):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(ingest, "read_html", broken)
    items = run(tmp_path)
    assert items[0].code == "E100" and items[0].message == "internal error: RuntimeError: boom second line"
    assert isinstance(items[1], Page) and items[1].text == "Plain text survives."


def test_failure_record_shape(tmp_path):
    write(tmp_path / "empty.txt", b"")
    record = only(run(tmp_path)).as_record()
    assert record == {"page": "empty", "path": str(tmp_path / "empty.txt"), "url": "",
                      "source": tmp_path.name, "status": "failed", "error_code": "E101", "error": "empty file"}


# ----------------------------------------------------------------------------- directories, manifest, ids


def test_directory_walk_sorted_hidden_and_manifest_skipped(tmp_path):
    shutil.copytree(DATA / "site", tmp_path / "site")
    write(tmp_path / "site" / "z" / "a.txt", "Nested page text.")
    write(tmp_path / "site" / ".git" / "x.txt", "hidden folder")
    ids = [item.id for item in run(tmp_path / "site")]
    assert ids == ["clinic", "swimming", "a"]
    assert ids == [item.id for item in run(tmp_path / "site")]  # deterministic


def test_manifest_in_directory_applies(clinic):
    assert clinic.url == "https://www.brightsmile.example.co.uk/whitening"
    assert clinic.source == "Bright Smile"


def test_manifest_url_gives_source_by_domain():
    swim = pages(run(DATA / "site"))["swimming"]
    assert (swim.url, swim.source) == ("https://swim.example.com/cold", "example.com")


def test_manifest_found_deeper_in_a_walk(tmp_path):
    shutil.copytree(DATA / "site", tmp_path / "corpus" / "site")
    found = pages(run(tmp_path / "corpus"))
    assert found["clinic"].source == "Bright Smile"


def test_source_falls_back_to_folder_name(tmp_path):
    write(tmp_path / "providerx" / "page.txt", "Some provider text.")
    assert only(run(tmp_path / "providerx" / "page.txt")).source == "providerx"


def test_explicit_manifest_option(tmp_path):
    write(tmp_path / "pages" / "a.txt", "Text of page a.")
    manifest = write(tmp_path / "m.csv", "page,url,source\na,https://www.health.example.org/a,Health Org\n")
    page = only(list(iter_pages([tmp_path / "pages" / "a.txt"], IngestOptions(manifest=manifest))))
    assert (page.url, page.source) == ("https://www.health.example.org/a", "Health Org")


def test_bad_manifest_raises_before_reading(tmp_path):
    write(tmp_path / "a.txt", "Text.")
    write(tmp_path / "manifest.csv", "name,link\na,b\n")
    with pytest.raises(IngestError) as err:
        iter_pages([tmp_path])
    assert err.value.code == "E112"


def test_bad_nested_manifest_is_a_failure_record(tmp_path):
    write(tmp_path / "sub" / "a.txt", "Text.")
    write(tmp_path / "sub" / "manifest.csv", "name,link\na,b\n")
    items = run(tmp_path)
    assert [type(i).__name__ for i in items] == ["PageFailure", "Page"]
    assert items[0].code == "E112" and items[0].message.startswith("manifest ignored:")


def test_duplicate_ids_get_suffixes(tmp_path):
    write(tmp_path / "a" / "x.txt", "one")
    write(tmp_path / "b" / "x.html", html_page())
    write(tmp_path / "b" / "x.md", "three")
    write(tmp_path / "b" / "x~2.txt", "four")
    items = run(tmp_path)
    assert [i.id for i in items] == ["x", "x~2", "x~3", "x~2~2"]
    assert [i.path for i in items] == [str(tmp_path / "a" / "x.txt"), str(tmp_path / "b" / "x.html"),
                                       str(tmp_path / "b" / "x.md"), str(tmp_path / "b" / "x~2.txt")]


# ----------------------------------------------------------------------------- JSONL


JSONL_LINES = [
    json.dumps({"url": "https://www.clinic-a.co.uk/p1", "fetched_at": "2024-05-01T10:00:00Z",
                "html": html_page(title="Clinic A", body="Clinic A heals 95% of knee injuries without surgery.")}),
    json.dumps({"id": "custom-1", "url": "https://www.clinic-a.co.uk/p2", "source": "Clinic A",
                "text": "Plain text page from the crawler."}),
    '{"url": "https://broken.example.com", "html": "<p>',
    json.dumps({"url": "https://www.clinic-b.example.org/none"}),
    "",
    "[1, 2, 3]",
    json.dumps({"id": "last", "text": "Still read after broken lines.", "html": ""}),
]


def url_id(url: str) -> str:
    return hashlib.sha1(url.encode()).hexdigest()[:16]


def check_jsonl(items, path: Path):
    found = pages(items)
    p1 = found[url_id("https://www.clinic-a.co.uk/p1")]
    assert "Clinic A heals 95% of knee injuries without surgery." in p1.text
    assert (p1.source, p1.fetched_at, p1.title, p1.path) == ("clinic-a.co.uk", "2024-05-01T10:00:00Z",
                                                             "Clinic A", str(path))
    assert found["custom-1"].source == "Clinic A" and found["custom-1"].text == "Plain text page from the crawler."
    assert found["last"].text == "Still read after broken lines." and found["last"].source == path.parent.name
    bad = failures(items)
    assert [(f.path, f.code) for f in bad] == [(f"{path}:3", "E110"), (f"{path}:4", "E110"), (f"{path}:6", "E110")]
    assert bad[0].message.startswith("line 3: invalid JSON")
    assert bad[1].message == "line 4: record has neither 'html' nor 'text'"
    assert bad[1].url == "https://www.clinic-b.example.org/none" and bad[1].source == "example.org"
    assert bad[2].message == "line 6: not a JSON object"
    assert len(items) == 6


def test_jsonl(tmp_path):
    path = write(tmp_path / "crawl.jsonl", "\n".join(JSONL_LINES) + "\n")
    check_jsonl(run(path), path)


def test_jsonl_gz(tmp_path):
    path = write(tmp_path / "crawl.jsonl.gz", gzip.compress(("\n".join(JSONL_LINES) + "\n").encode()))
    check_jsonl(run(path), path)


def test_truncated_jsonl_gz_keeps_pages_read_so_far(tmp_path):
    rng = random.Random(7)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9))) for _ in range(3000)]
    lines = [json.dumps({"id": f"r{i}", "text": " ".join(rng.sample(words, 60))}) for i in range(50)]
    data = gzip.compress("\n".join(lines).encode())
    path = write(tmp_path / "cut.jsonl.gz", data[: len(data) // 2])
    items = run(path)
    assert all(isinstance(i, Page) for i in items[:-1]) and 5 < len(items) < 50
    assert [i.id for i in items[:-1]] == [f"r{i}" for i in range(len(items) - 1)]
    last = items[-1]
    assert isinstance(last, PageFailure) and last.code == "E111"
    assert last.message.startswith(f"file truncated or corrupt after line {len(items) - 1}; the rest is lost")


def test_not_really_gzip(tmp_path):
    failure = only(run(write(tmp_path / "fake.jsonl.gz", b"{not gzip}\n")))
    assert failure.code == "E111"


def test_jsonl_oversized_line_is_skipped_and_file_goes_on(tmp_path):
    big = json.dumps({"id": "big", "text": "x " * 600})
    small = json.dumps({"id": "small", "text": "Small record."})
    path = write(tmp_path / "c.jsonl", big + "\n" + small + "\n")
    items = run(path, max_bytes=500)
    assert (items[0].status, items[0].code, items[0].path) == ("skipped", "E107", f"{path}:1")
    assert isinstance(items[1], Page) and items[1].id == "small"


def test_jsonl_lone_surrogates_do_not_escape(tmp_path):
    path = write(tmp_path / "s.jsonl", '{"id": "s", "text": "bad \\ud800 char"}\n')
    page = only(run(path))
    page.text.encode("utf-8")  # would raise on a lone surrogate


# ----------------------------------------------------------------------------- WARC


def warc_file(path: Path, records: list[tuple], gz: bool = True) -> Path:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=gz)
        for rec_type, uri, status, content_type, body, date in records:
            http = StatusAndHeaders(status, [("Content-Type", content_type)], protocol="HTTP/1.1")
            record = writer.create_warc_record(uri, rec_type, payload=io.BytesIO(body), http_headers=http,
                                               warc_headers_dict={"WARC-Date": date})
            writer.write_record(record)
    return path


WARC_RECORDS = [
    ("response", "https://www.sante.example.fr/a", "200 OK", "text/html; charset=ISO-8859-1",
     html_page(title="Sant\u00e9", body="Notre clinique soigne 90% des patients en une semaine.").encode("latin-1"),
     "2024-03-01T12:00:00Z"),
    ("response", "https://www.sante.example.fr/missing", "404 Not Found", "text/html", b"<p>Not found</p>",
     "2024-03-01T12:00:01Z"),
    ("response", "https://www.sante.example.fr/logo.png", "200 OK", "image/png", b"\x89PNG\r\n\x1a\n",
     "2024-03-01T12:00:02Z"),
    ("response", "https://blog.example.com/post", "200 OK", "application/xhtml+xml; charset=utf-8",
     html_page(title="Post", body="Our supplement doubles your energy in a week.").encode("utf-8"),
     "2024-03-02T08:30:00Z"),
]


def test_warc_gz(tmp_path):
    path = warc_file(tmp_path / "crawl.warc.gz", WARC_RECORDS)
    items = run(path)
    assert [type(i).__name__ for i in items] == ["Page", "Page"]
    first, second = items
    assert first.id == url_id("https://www.sante.example.fr/a")
    assert (first.url, first.source, first.fetched_at, first.title) == (
        "https://www.sante.example.fr/a", "example.fr", "2024-03-01T12:00:00Z", "Sant\u00e9")
    assert "Notre clinique soigne 90% des patients" in first.text
    assert second.source == "example.com" and "doubles your energy" in second.text


def test_plain_warc_request_records_ignored(tmp_path):
    records = [("request", "https://a.example.com/", "200 OK", "text/html", b"", "2024-01-01T00:00:00Z"),
               WARC_RECORDS[3]]
    items = run(warc_file(tmp_path / "crawl.warc", records, gz=False))
    assert [i.url for i in items] == ["https://blog.example.com/post"]


def test_warc_without_html_pages_is_reported(tmp_path):
    failure = only(run(warc_file(tmp_path / "img.warc.gz", WARC_RECORDS[1:3])))
    assert failure.code == "E104" and "no HTML response records" in failure.message


@pytest.mark.parametrize("gz", [True, False], ids=["warc.gz", "warc"])
@pytest.mark.parametrize("cut", [40, 100, 200, 300, 400, 600])
def test_truncated_warc_is_never_silent(tmp_path, gz, cut):
    """Cut inside the last page's body, inside headers, or inside ignored records: always one E111."""
    path = warc_file(tmp_path / ("crawl.warc.gz" if gz else "crawl.warc"), WARC_RECORDS, gz=gz)
    data = path.read_bytes()
    write(path, data[: len(data) - cut])
    items = run(path)
    assert isinstance(items[0], Page) and items[0].url == "https://www.sante.example.fr/a"
    assert len(items) == 2
    assert isinstance(items[-1], PageFailure) and items[-1].code == "E111"
    assert "truncated" in items[-1].message


# ----------------------------------------------------------------------------- names and domains


@pytest.mark.parametrize("page_id", [
    "../../etc/passwd", "..\\..\\windows\\system32\\config", "/etc/passwd", "a/../../b", "..", ".", "",
    "\x00", "x\x00y", ".bashrc", "CON", "nul.txt", "page:1?x=y#z", "\u00e9t\u00e9", "a" * 500, "~", "-rf",
])
def test_safe_filename_never_escapes(tmp_path, page_id):
    name = safe_filename(page_id)
    assert re.fullmatch(r"[A-Za-z0-9._~-]{1,120}", name)
    assert not name.startswith(".") and ".." not in name and not name.endswith(".")
    assert name.split(".")[0].lower() not in {"con", "nul", "prn", "aux"}
    target = (tmp_path / name).resolve()
    assert target.parent == tmp_path.resolve()


def test_safe_filename_keeps_clean_ids_and_separates_changed_ones():
    assert safe_filename("clinic-1") == "clinic-1"
    assert safe_filename("page~2") == "page~2"
    assert safe_filename("a/b") != safe_filename("a_b") == "a_b"
    assert safe_filename("a" * 121) != safe_filename("a" * 122)
    assert len(safe_filename("a" * 500)) == 120


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_safe_filename_property(page_id):
    name = safe_filename(page_id)
    assert re.fullmatch(r"[A-Za-z0-9._~-]{1,120}", name)
    assert not name.startswith(".") and ".." not in name
    if name == page_id:
        return
    assert safe_filename(page_id + "x") != name or len(page_id) > 120


@pytest.mark.parametrize("url, domain", [
    ("https://www.clinic.example.co.uk/treatments", "example.co.uk"),
    ("http://WWW.Mayo-Clinic.ORG:8080/a?b=c", "mayo-clinic.org"),
    ("www.example.com/page", "example.com"),
    ("https://someone.blogspot.com/post", "someone.blogspot.com"),
    ("http://127.0.0.1:8000/x", "127.0.0.1"),
    ("http://localhost/x", "localhost"),
    ("", ""),
    ("not a url", ""),
    ("http://[::1/", ""),
])
def test_registered_domain(url, domain):
    assert registered_domain(url) == domain


# ----------------------------------------------------------------------------- duplicates


TEMPLATE = ("Welcome to Bright Smile {city}. Our friendly dentists in {city} have treated more than five "
            "thousand patients with modern whitening, implants and gentle check ups. We offer evening and "
            "weekend appointments, free parking and a price promise on every treatment plan. New patients "
            "receive a full examination, digital x rays and a personal plan written by a senior dentist. "
            "Call our reception team or book online to reserve a time that suits you and your family.")


def test_find_duplicates_exact_near_and_different():
    a = read_text(TEMPLATE.format(city="Leeds"), "a")
    b = read_text("  " + TEMPLATE.format(city="Leeds").replace(" ", "\n  ", 5) + "\n", "b")
    c = read_text(TEMPLATE.format(city="Leeds").replace("friendly", "caring"), "c")
    d = read_text("Cold water swimming boosts the immune system, improves sleep and lifts the mood of most "
                  "swimmers. Start slowly, never swim alone and talk to your doctor if you have a heart "
                  "condition. Our club meets every Saturday morning at the lake beside the old mill.", "d")
    half = TEMPLATE.format(city="Leeds")[:200] + (" The rest of this page is about our orthodontic braces, "
                                                  "clear aligners, retainers and the payment plans we offer to "
                                                  "teenagers and adults across the whole of the county.")
    e = read_text(half, "e")
    failure = PageFailure("f", "", "", "", "failed", "E101", "empty file")
    assert find_duplicates([a, failure, b, c, d, e]) == {"b": "a", "c": "a"}


def test_find_duplicates_points_to_first_page():
    texts = [TEMPLATE.format(city=city) for city in ("Leeds", "York", "Hull")]
    result = find_duplicates(read_text(t, f"p{i}") for i, t in enumerate(texts))
    assert result == {"p1": "p0", "p2": "p0"}


def test_find_duplicates_short_pages_only_exact():
    pages_ = [read_text("Page not found", "a"), read_text("Page not found", "b"), read_text("Hello", "c"),
              read_text("Page found", "d")]
    assert find_duplicates(pages_) == {"b": "a"}


# ----------------------------------------------------------------------------- hostile input


html_fragments = st.sampled_from([
    "<p>", "</p>", "<div>", "</div>", "<ul><li>", "</li>", "<a href='/x'>", "</a>", "<h2>", "</h2>",
    "<table><tr><td>", "<blockquote>", "<br>", "<script>", "</script>", "<!--", "-->", "&amp;", "&#0;",
    "<div id='comments'><p>", "<li id='comment-9'>", "\u00a0", "\u00ad", "Our clinic cures 90% of cases.",
    "Claim", " ", "\n", "<title>T</title>", "<meta charset='koi8-r'>", "\x0b", "\ud7ff", "<nav>", "</nav>",
])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(html_fragments, max_size=60))
def test_read_html_on_random_markup(fragments):
    try:
        page = read_html("".join(fragments), "x", url="https://ex.example.com/a/")
    except IngestError as err:
        assert err.code in {"E101", "E103", "E104"}
        return
    check_page_invariants(page)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=400), suffix=st.sampled_from([".html", ".txt", ".jsonl", ".jsonl.gz", ".warc"]))
def test_iter_pages_on_random_bytes(tmp_path, data, suffix):
    path = tmp_path / f"random{suffix}"
    path.write_bytes(data)
    items = list(iter_pages([path]))
    assert items, "a file must never vanish without a record"
    for item in items:
        assert isinstance(item, (Page, PageFailure))
        if isinstance(item, Page):
            check_page_invariants(item, html=suffix != ".txt")
        else:
            assert re.fullmatch(r"E1\d\d", item.code) and "\n" not in item.message


def test_deeply_nested_html_does_not_crash():
    html = "<div>" * 5000 + "<p>Deep claim: we cure everything.</p>" + "</div>" * 5000
    page = read_html(html, "deep")
    assert "Deep claim: we cure everything." in page.text


def test_large_page_is_linear_enough():
    body = "".join(f"<p>Paragraph {i} says our clinic is the best in the region for treatment {i}.</p>"
                   for i in range(3000))
    page = read_html(f"<html><body><article>{body}</article></body></html>", "big")
    assert len(page.blocks) >= 3000
    check_page_invariants(page)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab .!:-*\u2022#1)\n\r\t \u00e9")), max_size=200))
def test_read_text_blocks_on_random_text(text):
    try:
        page = read_text(text, "t")
    except IngestError as err:
        assert err.code == "E101"
        return
    assert "\r" not in page.text
    check_page_invariants(page, html=False)


def test_unreadable_subdirectory_is_a_failure(tmp_path, monkeypatch):
    write(tmp_path / "a.txt", "Readable page.")
    (tmp_path / "locked").mkdir()
    real_scandir = os.scandir

    def fake_scandir(path):
        if Path(path) == tmp_path / "locked":
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(ingest.os, "scandir", fake_scandir)
    items = run(tmp_path)
    assert isinstance(items[0], Page)
    assert (items[1].code, items[1].message, items[1].path) == ("E105", "cannot read directory: Permission denied",
                                                               str(tmp_path / "locked"))


def test_jsonl_with_only_blank_lines(tmp_path):
    failure = only(run(write(tmp_path / "blank.jsonl", "\n\n  \n")))
    assert (failure.code, failure.message) == ("E101", "no records (only blank lines)")


def test_hidden_file_given_explicitly_is_read(tmp_path):
    page = only(run(write(tmp_path / ".draft.txt", "A draft page.")))
    assert page.id == ".draft"
