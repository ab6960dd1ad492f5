"""Reading pages: text, HTML, crawler JSONL and WARC files in; ``Page`` or ``PageFailure`` out.

Scraped pages are hostile input. Every page that goes in comes out either as a
``Page`` or as a ``PageFailure`` with an error code and a one-line reason; no
exception escapes ``iter_pages`` once it has started yielding. Only user errors
(a missing path, an empty directory, a broken manifest) raise, and they raise
before the first page is read.

Error codes (E1xx, see ``auditor.errors``):

====  ==========================================================  =========
code  meaning                                                     status
====  ==========================================================  =========
E100  unexpected internal error while reading one page            failed
E101  empty file or record                                        failed
E102  not decodable text (no encoding fits)                       failed
E103  binary content: NUL bytes, control characters, PDF, image   failed
E104  no text content after extraction                            failed
E105  file cannot be read (permissions, not a regular file)       failed
E106  a path given by the user does not exist (raised)            --
E107  too large: raw bytes > max_bytes, or text > max_text_chars  skipped
E108  unknown file type                                           skipped
E109  a directory given by the user holds no files (raised)       --
E110  broken record in a JSONL file (bad JSON, no html/text)      failed
E111  truncated or corrupt archive (gzip, WARC): rest is lost     failed
E112  unusable manifest (raised)                                  --
====  ==========================================================  =========

Decisions worth knowing:

* ``max_text_chars``: a page whose extracted text is longer is *skipped*
  (E107), not cut. Two million characters is not a web page an editor reads,
  and a cut page would be reported as audited when most of it was not.
* Near duplicates (``find_duplicates``): MinHash over 3-word shingles; two
  pages are near duplicates when the estimated Jaccard similarity of their
  shingle sets is at least ``NEAR_DUPLICATE_THRESHOLD`` (0.8).
* Text extracted from HTML is NFC-normalised with whitespace collapsed inside
  blocks; text from .txt/.md/JSONL ``text`` is kept as it is (newlines
  normalised, BOM removed) so offsets refer to the original wording.
* HTML whose tree would be deeper than ``MAX_HTML_DEPTH`` (512, as Chromium's
  parser) is flattened before it is parsed: its text, one paragraph per block,
  without other markup (headings, lists and links are lost; the text is not).
  HTML parsers look through the open elements at each tag and reopen unclosed
  formatting elements, so 200 KB of unclosed ``<div>`` or ``<p><i class=N></p>``
  takes minutes to parse. A linear scan of the tags decides, erring towards
  flattening.
"""
from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import json
import os
import re
import stat
import unicodedata
import zlib
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Iterator
from urllib.parse import urljoin, urlsplit

from auditor.errors import IngestError
from auditor.page import Block, Link, Page

# --------------------------------------------------------------------------- codes

E_INTERNAL = "E100"
E_EMPTY = "E101"
E_ENCODING = "E102"
E_BINARY = "E103"
E_NO_TEXT = "E104"
E_UNREADABLE = "E105"
E_MISSING = "E106"
E_TOO_LARGE = "E107"
E_UNKNOWN_TYPE = "E108"
E_NO_PAGES = "E109"
E_BAD_RECORD = "E110"
E_BAD_ARCHIVE = "E111"
E_BAD_MANIFEST = "E112"

# Codes that mean "deliberately not read" rather than "tried and failed".
_SKIP_CODES = frozenset({E_TOO_LARGE, E_UNKNOWN_TYPE})

TEXT_SUFFIXES = (".txt", ".text", ".md")
HTML_SUFFIXES = (".html", ".htm", ".xhtml")
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz")
WARC_SUFFIXES = (".warc", ".warc.gz")

NEAR_DUPLICATE_THRESHOLD = 0.8
MAX_ID_CHARS = 200
MAX_HREF_CHARS = 2048
MAX_TITLE_CHARS = 500


class NoPagesError(IngestError):
    """A directory given to ``iter_pages`` contains no files at all."""

    code = E_NO_PAGES


@dataclass
class PageFailure:
    """A page that could not be read, or was deliberately skipped."""

    id: str
    path: str
    url: str
    source: str
    status: str  # "failed" | "skipped"
    code: str
    message: str

    def as_record(self) -> dict:
        return {"page": self.id, "path": self.path, "url": self.url, "source": self.source,
                "status": self.status, "error_code": self.code, "error": self.message}

    def __str__(self) -> str:
        return f"[{self.code}] {self.path or self.id}: {self.message}"


@dataclass(frozen=True)  # frozen: the default instance in iter_pages' signature is shared
class IngestOptions:
    max_bytes: int = 20_000_000  # per page; bigger -> skipped, E107
    max_text_chars: int = 2_000_000  # extracted text; longer -> skipped, E107 (never cut)
    manifest: Path | None = None  # CSV page,url,source applying to every input


@dataclass
class RawPage:
    """A page taken from its file but not parsed yet: decoding, HTML parsing and text extraction (the costly
    part of reading) happen in ``parse``, which a batch run calls in its worker processes."""

    id: str
    path: str  # the input file
    url: str
    source: str  # from a manifest or the record; "" = the url's domain, else the folder's name
    folder_name: str
    kind: str  # "html" | "text"
    content: bytes | str  # bytes: still to be decoded
    max_text_chars: int
    http_charset: str = ""  # a WARC response's charset, for decoding its bytes
    fetched_at: str = ""
    where: str = ""  # what error messages start with: "line 12: " in a JSONL file, the url in a WARC file
    failure_path: str = ""  # where a failure points (file:line in a JSONL file); the file when empty

    def parse(self) -> Page | PageFailure:
        """The Page, or the PageFailure saying why there is none; never an exception."""
        try:
            if self.kind == "html":
                html = decode_html(self.content, self.http_charset) if isinstance(self.content, bytes) else self.content
                page = read_html(html, self.id, self.url, self.source, self.path)
            else:
                text = decode_text(self.content) if isinstance(self.content, bytes) else self.content
                page = read_text(text, self.id, self.url, self.source, self.path)
        except IngestError as err:
            return self.failure(err.code, self.where + err.message)
        except Exception as err:  # hostile input must never stop the batch
            return self.failure(E_INTERNAL, f"{self.where}internal error: {type(err).__name__}: {_one_line(str(err))}")
        page.fetched_at = self.fetched_at
        if not page.source:
            page.source = self.folder_name
        if len(page.text) > self.max_text_chars:
            return _failure(page.id, page.path, page.url, page.source, E_TOO_LARGE,
                            f"text too long: {len(page.text)} characters after extraction "
                            f"(max_text_chars {self.max_text_chars})")
        return page

    def failure(self, code: str, message: str) -> PageFailure:
        return _failure(self.id, self.failure_path or self.path, self.url, self._source(), code, message)

    def as_record(self) -> dict:
        """What is known of the page before it is parsed, in the shape of ``Page.as_record``."""
        return {"page": self.id, "source": self._source(), "url": self.url, "title": "", "path": self.path,
                "fetched_at": self.fetched_at, "words": 0}

    def _source(self) -> str:
        return self.source or registered_domain(self.url) or self.folder_name


def _failure(page_id: str, path: str, url: str, source: str, code: str, message: str) -> PageFailure:
    return PageFailure(id=page_id, path=path, url=url, source=source,
                       status="skipped" if code in _SKIP_CODES else "failed", code=code, message=_one_line(message))


# =========================================================================== iter_pages


def iter_pages(paths: Iterable[str | Path], options: IngestOptions = IngestOptions(),
               defer: bool = False) -> Iterator[Page | PageFailure | RawPage]:
    """Yield a ``Page`` or a ``PageFailure`` for every page under ``paths``.

    With ``defer``, pages come as ``RawPage`` (read, not parsed): whoever takes them calls ``parse()``,
    which gives the same ``Page`` or ``PageFailure``. Files that cannot be read at all, broken records
    and archives still come as ``PageFailure``.

    Raises at once (before any page is read): ``IngestError`` E106 for a
    missing path, ``NoPagesError`` E109 for a directory without files,
    ``IngestError`` E112 for an unusable manifest.
    """
    paths = [Path(p) for p in paths]
    for path in paths:
        if not os.path.lexists(path):
            raise IngestError(f"no such file or directory: {path}", E_MISSING)
        if path.is_dir() and not _has_page_files(path):
            raise NoPagesError(f"directory has no files to read: {path}")
    # The user's own manifests fail loudly now; ones met deeper in a walk become failure records.
    base = [_Manifest.load(Path(options.manifest))] if options.manifest else []
    top = {p: _Manifest.load(p / "manifest.csv") for p in paths if p.is_dir() and (p / "manifest.csv").is_file()}
    return _generate(paths, options, base, top, defer)


def _generate(paths, options, base, top, defer: bool) -> Iterator[Page | PageFailure | RawPage]:
    ids = _IdRegistry()
    for path in paths:
        for item in _pages_under(path, options, base, top):
            item.id = ids.claim(item.id)
            yield item if defer or not isinstance(item, RawPage) else item.parse()


def _pages_under(path: Path, options: IngestOptions, base: list[_Manifest],
                 top: dict[Path, _Manifest]) -> Iterator[Page | PageFailure]:
    if not path.is_dir():
        yield from _read_file_safely(_FileContext(path, base, options))
        return
    # Manifests that apply in each folder: the option's first, then the nearest folder's, then outer ones.
    chains: dict[Path, list[_Manifest]] = {}
    for event, where, detail in _walk(path):
        if event == "dir":
            outer = chains.get(where.parent, base) if where != path else base
            own, failure = _folder_manifest(where, detail, top.get(path) if where == path else None, options)
            if failure is not None:
                yield failure
            chains[where] = outer[:len(base)] + own + outer[len(base):]
        elif event == "error":
            ctx = _FileContext(where, chains.get(where.parent, base), options)
            yield ctx.failure(E_UNREADABLE, f"cannot read directory: {_os_reason(detail)}")
        else:
            yield from _read_file_safely(_FileContext(where, chains.get(where.parent, base), options))


def _folder_manifest(folder: Path, has_manifest: bool, preloaded: _Manifest | None,
                     options: IngestOptions) -> tuple[list[_Manifest], PageFailure | None]:
    if preloaded is not None or not has_manifest:
        return ([preloaded] if preloaded else []), None
    manifest_path = folder / "manifest.csv"
    try:
        return [_Manifest.load(manifest_path)], None
    except IngestError as err:
        ctx = _FileContext(manifest_path, [], options)
        return [], ctx.failure(err.code, f"manifest ignored: {err.message}")


def _read_file_safely(ctx: _FileContext) -> Iterator[Page | PageFailure]:
    """Run the reader for one file; an unexpected exception becomes one failure, not a crash."""
    try:
        yield from _read_file(ctx)
    except IngestError as err:
        yield ctx.failure(err.code, err.message)
    except Exception as err:  # hostile input must never stop the batch
        yield ctx.failure(E_INTERNAL, f"internal error: {type(err).__name__}: {_one_line(str(err))}")


def _read_file(ctx: _FileContext) -> Iterator[Page | PageFailure]:
    kind = _file_kind(ctx.file.name)
    if kind is None:
        yield ctx.failure(E_UNKNOWN_TYPE, f"unknown file type {_suffix_label(ctx.file.name)}")
        return
    try:
        st = os.stat(ctx.file)
    except OSError as err:
        yield ctx.failure(E_UNREADABLE, f"cannot read file: {_os_reason(err)}")
        return
    if not stat.S_ISREG(st.st_mode):  # a FIFO or device would block or never end
        yield ctx.failure(E_UNREADABLE, "not a regular file")
        return
    if st.st_size == 0:
        yield ctx.failure(E_EMPTY, "empty file")
        return
    if kind == "jsonl":
        yield from _read_jsonl(ctx)
    elif kind == "warc":
        yield from _read_warc(ctx)
    else:
        yield _read_single(ctx, kind, st.st_size)


def _read_single(ctx: _FileContext, kind: str, size: int) -> RawPage | PageFailure:
    """A .txt/.md or .html file: one file, one page."""
    limit = ctx.options.max_bytes
    if size > limit:
        return ctx.failure(E_TOO_LARGE, f"file too large: {size} bytes (max_bytes {limit})")
    try:
        with open(ctx.file, "rb") as fh:
            data = fh.read(limit + 1)  # the file may have grown since stat
    except OSError as err:
        return ctx.failure(E_UNREADABLE, f"cannot read file: {_os_reason(err)}")
    if len(data) > limit:
        return ctx.failure(E_TOO_LARGE, f"file too large: more than {limit} bytes (max_bytes)")
    return ctx.raw_page(ctx.page_id, ctx.url, ctx.manifest_source, kind, data)


# =========================================================================== files and folders


def _file_kind(name: str) -> str | None:
    lower = name.lower()
    if lower.endswith(TEXT_SUFFIXES):
        return "text"
    if lower.endswith(HTML_SUFFIXES):
        return "html"
    if lower.endswith(JSONL_SUFFIXES):
        return "jsonl"
    if lower.endswith(WARC_SUFFIXES):
        return "warc"
    return None


def _suffix_label(name: str) -> str:
    suffix = Path(name).suffix
    return suffix.lower() if suffix else "(no extension)"


def _page_id_from_name(name: str) -> str:
    """File name without its extension; compound ones (.jsonl.gz, .warc.gz) count as one."""
    lower = name.lower()
    for suffix in (".jsonl.gz", ".warc.gz"):
        if lower.endswith(suffix):
            return name[: -len(suffix)] or name
    stem = Path(name).stem
    return stem or name


def _is_candidate(name: str) -> bool:
    return not name.startswith(".") and name != "manifest.csv"


def _walk(root: Path) -> Iterator[tuple[str, Path, object]]:
    """Walk root depth first in name order, streaming (one folder listing in memory at a time).

    Yields ("dir", folder, has_manifest) before a folder's files, ("file", path, None)
    and ("error", folder, OSError) for a folder that cannot be listed. Hidden
    entries and manifest.csv are not files to read. Directory symlinks are not
    followed (no loops); file symlinks are read like files.
    """
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as err:
            yield "error", folder, err
            continue
        yield "dir", folder, any(e.name == "manifest.csv" for e in entries)
        subdirs = []
        for entry in entries:
            if not _is_candidate(entry.name):
                continue
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_dir = False
            if is_dir:
                subdirs.append(Path(entry.path))
            else:
                yield "file", Path(entry.path), None
        stack.extend(reversed(subdirs))  # pop() takes them in name order


def _has_page_files(root: Path) -> bool:
    return any(event == "file" for event, _where, _detail in _walk(root))


class _IdRegistry:
    """Gives each yielded id once: later copies become id~2, id~3, ... in input order."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._next: dict[str, int] = {}

    def claim(self, page_id: str) -> str:
        candidate = page_id
        n = self._next.get(page_id, 1)
        while candidate in self._seen:
            n += 1
            candidate = f"{page_id}~{n}"
        self._next[page_id] = n
        self._seen.add(candidate)
        return candidate


class _Manifest:
    """manifest.csv: columns page,url,source; ``page`` names a file (relative path or name) or a page id."""

    def __init__(self, folder: Path, rows: dict[str, tuple[str, str]]):
        self.folder = folder
        self.rows = rows

    @classmethod
    def load(cls, path: Path) -> _Manifest:
        if not path.is_file():
            raise IngestError(f"manifest not found: {path}", E_MISSING)
        rows: dict[str, tuple[str, str]] = {}
        try:
            with open(path, newline="", encoding="utf-8-sig") as fh:
                reader = csv.DictReader(fh)
                columns = [c.strip().lower() for c in (reader.fieldnames or [])]
                if "page" not in columns:
                    raise IngestError(f"{path}: manifest needs a 'page' column (page,url,source)", E_BAD_MANIFEST)
                reader.fieldnames = columns
                for row in reader:
                    key = (row.get("page") or "").strip()
                    if key and key not in rows:  # first row wins
                        rows[key] = ((row.get("url") or "").strip(), (row.get("source") or "").strip())
        except (OSError, UnicodeDecodeError, csv.Error) as err:
            raise IngestError(f"{path}: cannot read manifest: {_one_line(str(err))}", E_BAD_MANIFEST) from None
        return cls(path.parent.resolve(), rows)

    def lookup(self, file: Path, resolved: Path, page_id: str | None) -> tuple[str, str] | None:
        keys = [page_id] if page_id is not None else []  # a record's own row beats its file's row
        try:
            keys.append(resolved.relative_to(self.folder).as_posix())
        except ValueError:
            pass
        keys.append(file.name)
        if page_id is None:
            keys.append(_page_id_from_name(file.name))
        for key in keys:
            if key in self.rows:
                return self.rows[key]
        return None


class _FileContext:
    """What is known about one input file: its default id, manifest entry, fallbacks for source."""

    def __init__(self, file: Path, manifests: list[_Manifest], options: IngestOptions):
        self.file = file
        self.options = options
        self.manifests = manifests
        self.page_id = _clean_id(_page_id_from_name(file.name))
        self.folder_name = file.parent.name
        self._resolved = file.resolve() if manifests else file
        self.url, self.manifest_source = self.manifest_entry(None)

    def manifest_entry(self, record_id: str | None) -> tuple[str, str]:
        """(url, source) from the first manifest naming this record or file; ("", "") if none does."""
        for manifest in self.manifests:
            found = manifest.lookup(self.file, self._resolved, record_id)
            if found:
                return found
        return "", ""

    def raw_page(self, page_id: str, url: str, source: str, kind: str, content: bytes | str, **more) -> RawPage:
        """A page of this file, to be parsed later; source "" = the url's domain, else the folder name."""
        return RawPage(id=page_id, path=str(self.file), url=url, source=source, folder_name=self.folder_name,
                       kind=kind, content=content, max_text_chars=self.options.max_text_chars, **more)

    def failure(self, code: str, message: str, page_id: str | None = None, url: str | None = None,
                source: str | None = None, path: str | None = None) -> PageFailure:
        url = self.url if url is None else url
        if source is None:
            source = self.manifest_source or registered_domain(url) or self.folder_name
        return _failure(page_id or self.page_id, path or str(self.file), url, source, code, message)


# =========================================================================== JSONL


def _read_jsonl(ctx: _FileContext) -> Iterator[Page | PageFailure]:
    """One JSON object a line; a bad line is one failure and the file goes on."""
    limit = ctx.options.max_bytes
    opener = gzip.open if ctx.file.name.lower().endswith(".gz") else open
    lineno = 0
    records = 0
    try:
        with opener(ctx.file, "rb") as fh:
            while True:
                line = fh.readline(limit + 1)
                if not line:
                    break
                lineno += 1
                if len(line) > limit and not line.endswith(b"\n"):
                    _skip_rest_of_line(fh, limit)
                    records += 1
                    yield _line_failure(ctx, lineno, E_TOO_LARGE, f"line {lineno}: record too large "
                                        f"(more than {limit} bytes, max_bytes)")
                    continue
                if line.isspace():
                    continue
                records += 1
                yield _guarded(ctx, lineno, _jsonl_record, ctx, lineno, line)
    except OSError as err:
        if lineno == 0 and isinstance(err, PermissionError):
            yield ctx.failure(E_UNREADABLE, f"cannot read file: {_os_reason(err)}")
            return
        yield _archive_failure(ctx, lineno, err)
        return
    except (EOFError, zlib.error) as err:
        yield _archive_failure(ctx, lineno, err)
        return
    if not records:
        yield ctx.failure(E_EMPTY, "no records (only blank lines)")


def _guarded(ctx: _FileContext, number: int, reader, *args):
    """One record of a JSONL or WARC file; a crash on it costs that record, not the rest of the file."""
    try:
        return reader(*args)
    except Exception as err:  # hostile input must never stop the batch
        return _line_failure(ctx, number, E_INTERNAL, f"record {number}: internal error: "
                             f"{type(err).__name__}: {_one_line(str(err))}")


def _skip_rest_of_line(fh, chunk: int) -> None:
    while True:
        piece = fh.readline(chunk)
        if not piece or piece.endswith(b"\n"):
            return


def _archive_failure(ctx: _FileContext, lineno: int, err: BaseException) -> PageFailure:
    where = f"after line {lineno}" if lineno else "at the start"
    return ctx.failure(E_BAD_ARCHIVE, f"file truncated or corrupt {where}; the rest is lost "
                       f"({type(err).__name__}: {_one_line(str(err))})",
                       page_id=f"{ctx.page_id}:rest", path=f"{ctx.file}:{lineno + 1}")


def _line_failure(ctx: _FileContext, lineno: int, code: str, message: str, page_id: str | None = None,
                  url: str = "", source: str | None = None) -> PageFailure:
    return ctx.failure(code, message, page_id=page_id or f"{ctx.page_id}:{lineno}", url=url,
                       source=source, path=f"{ctx.file}:{lineno}")


def _jsonl_record(ctx: _FileContext, lineno: int, line: bytes) -> RawPage | PageFailure:
    fix = _fix_surrogates if _SURROGATE_ESCAPE.search(line) else _same
    try:
        record = json.loads(line.decode("utf-8-sig" if lineno == 1 else "utf-8"))
    except UnicodeDecodeError:
        return _line_failure(ctx, lineno, E_ENCODING, f"line {lineno}: not UTF-8")
    except ValueError as err:  # JSONDecodeError, and int/recursion limits
        return _line_failure(ctx, lineno, E_BAD_RECORD, f"line {lineno}: invalid JSON ({_one_line(str(err))})")
    except RecursionError:
        return _line_failure(ctx, lineno, E_BAD_RECORD, f"line {lineno}: invalid JSON (nested too deeply)")
    if not isinstance(record, dict):
        return _line_failure(ctx, lineno, E_BAD_RECORD, f"line {lineno}: not a JSON object")

    url = fix(_str_field(record, "url"))
    record_id = fix(_str_field(record, "id"))
    page_id = _clean_id(record_id) if record_id else (_url_hash(url) if url else f"{ctx.page_id}:{lineno}")
    m_url, m_source = ctx.manifest_entry(page_id)
    url = url or m_url
    source = m_source or fix(_str_field(record, "source")) or registered_domain(url) or ctx.folder_name
    html, text = record.get("html"), record.get("text")
    if not isinstance(html, str) and not isinstance(text, str):
        return _line_failure(ctx, lineno, E_BAD_RECORD, f"line {lineno}: record has neither 'html' nor 'text'",
                             page_id, url, source)
    # An empty "html" next to a real "text" means the crawler kept only the text.
    use_html = isinstance(html, str) and (not isinstance(text, str) or (html and not html.isspace()))
    return ctx.raw_page(page_id, url, source, "html" if use_html else "text", fix(html if use_html else text),
                        fetched_at=fix(_str_field(record, "fetched_at")), where=f"line {lineno}: ",
                        failure_path=f"{ctx.file}:{lineno}")


def _str_field(record: dict, key: str) -> str:
    value = record.get(key)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    return value.strip() if isinstance(value, str) else ""


# A JSON escape of a UTF-16 surrogate (\ud800-\udfff): only then can json.loads give a lone one.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _same(text: str) -> str:
    return text


def _fix_surrogates(text: str) -> str:
    """JSON may carry lone surrogates ("\\ud800"); they would break every UTF-8 writer later."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")


# =========================================================================== WARC


_HTML_TYPES = ("text/html", "application/xhtml+xml")


def _read_warc(ctx: _FileContext) -> Iterator[Page | PageFailure]:
    """Response records with status 200 and an HTML content type become pages; others are ignored."""
    from warcio.archiveiterator import ArchiveIterator

    pages = 0
    damage = None
    try:
        with open(ctx.file, "rb") as fh:
            archive = ArchiveIterator(fh)
            end = 0
            for number, record in enumerate(archive, 1):
                if record.length is None:  # every WARC record has a Content-Length; a cut header has none
                    damage = f"record {number} has a broken header"
                    break
                item = _guarded(ctx, number, _warc_record, ctx, record)
                if item is not None:
                    pages += 1
                    yield item
                    if isinstance(item, PageFailure) and item.code == E_BAD_ARCHIVE:
                        return  # the file ended inside this record: nothing follows
                elif _ends_short(record):
                    damage = f"the file ends inside record {number}"
                    break
                end = archive.get_record_offset() + archive.get_record_length()
            # warcio stops quietly at a cut inside a record's headers: bytes left after the last record tell.
            if damage is None and _has_leftover(fh, end):
                damage = f"unreadable data after byte {end}"
    except Exception as err:  # errors here come from warcio reading a damaged file
        damage = f"{type(err).__name__}: {_one_line(str(err))}"
    if damage:
        yield ctx.failure(E_BAD_ARCHIVE, f"WARC file truncated or corrupt after {pages} page(s); the rest "
                          f"is lost ({damage})", page_id=f"{ctx.page_id}:rest")
        return
    if not pages:
        yield ctx.failure(E_NO_TEXT, "no HTML response records with status 200 in the WARC file")


def _warc_record(ctx: _FileContext, record) -> RawPage | PageFailure | None:
    if record.rec_type != "response" or record.http_headers is None:
        return None
    if record.http_headers.get_statuscode() != "200":
        return None
    content_type = record.http_headers.get_header("Content-Type") or ""
    if not content_type.split(";", 1)[0].strip().lower() in _HTML_TYPES:
        return None
    url = _fix_surrogates(record.rec_headers.get_header("WARC-Target-URI") or "").strip()
    page_id = _url_hash(url) if url else f"{ctx.page_id}:{record.rec_headers.get_header('WARC-Record-ID')}"
    m_url, m_source = ctx.manifest_entry(page_id)
    url = url or m_url
    source = m_source or registered_domain(url) or ctx.folder_name
    limit = ctx.options.max_bytes
    try:
        data = record.content_stream().read(limit + 1)
        if _ends_short(record):
            return ctx.failure(E_BAD_ARCHIVE, f"{url}: record truncated (the WARC file ends inside it)",
                               page_id=page_id, url=url, source=source)
    except (OSError, ValueError, zlib.error, EOFError) as err:  # bad Content-Encoding, chunking
        return ctx.failure(E_BAD_ARCHIVE, f"{url}: cannot read response body ({type(err).__name__})",
                           page_id=page_id, url=url, source=source)
    if len(data) > limit:
        return ctx.failure(E_TOO_LARGE, f"{url}: response too large: more than {limit} bytes (max_bytes)",
                           page_id=page_id, url=url, source=source)
    return ctx.raw_page(page_id, url, source, "html", data, http_charset=_charset_of(content_type),
                        fetched_at=record.rec_headers.get_header("WARC-Date") or "", where=f"{url}: ")


def _ends_short(record) -> bool:
    """Read the rest of a record; True when the file ended before its Content-Length."""
    stream = record.raw_stream
    while stream.read(1 << 16):
        pass
    return getattr(stream, "limit", 0) > 0


def _has_leftover(fh, end: int) -> bool:
    """Anything but blank lines after the end of the last whole record?"""
    fh.seek(end)
    while chunk := fh.read(1 << 16):
        if not chunk.isspace():
            return True
    return False


# =========================================================================== decoding and sniffing


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),  # before UTF-16: same start
    (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_MAGIC = (
    (b"%PDF", "a PDF"), (b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"), (b"GIF89a", "a GIF image"), (b"PK\x03\x04", "a ZIP archive or Office document"),
    (b"\x1f\x8b", "gzip-compressed data"), (b"\xd0\xcf\x11\xe0", "an old Office document"),
)
# Linear: bounded repeats only. Group 1 or 2 is the declared charset.
_META_CHARSET = re.compile(
    rb"""<meta[^>]{0,512}?charset\s*=\s*["']?([A-Za-z0-9_.:-]{1,40})"""
    rb"""|<\?xml[^>]{0,200}?encoding\s*=\s*["']([A-Za-z0-9_.:-]{1,40})""", re.I)
_HTTP_CHARSET = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9_.:-]{1,40})""", re.I)
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
_SNIFF_BYTES = 8192
# WHATWG: labels for Latin-1 and ASCII mean windows-1252, which browsers use for them.
_CHARSET_ALIASES = {"iso-8859-1": "cp1252", "iso8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252",
                    "l1": "cp1252", "us-ascii": "cp1252", "ascii": "cp1252", "iso_8859-1": "cp1252",
                    "x-sjis": "shift_jis", "gb2312": "gbk"}


def decode_html(data: bytes, http_charset: str = "") -> str:
    """Bytes of an HTML page to text: BOM, HTTP charset, meta charset, UTF-8, then detection.

    Raises IngestError E101 (empty), E103 (binary, PDF, image) or E102 (undecodable).
    """
    return _decode(data, "HTML", http_charset, sniff_meta=True)


def decode_text(data: bytes) -> str:
    """Bytes of a plain-text page to text: BOM, UTF-8, then detection."""
    return _decode(data, "text", "", sniff_meta=False)


def _decode(data: bytes, what: str, http_charset: str, sniff_meta: bool) -> str:
    if not data or data.isspace():
        raise IngestError("empty file (only whitespace)", E_EMPTY)
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            text = data[len(bom):].decode(encoding, "replace")
            return _check_text(text, what)
    _check_magic(data, what)
    if b"\x00" in data[:_SNIFF_BYTES]:
        raise IngestError(f"binary content (NUL bytes), not {what}", E_BINARY)
    declared = [http_charset]
    if sniff_meta:
        match = _META_CHARSET.search(data, 0, _SNIFF_BYTES)
        if match:
            declared.append((match.group(1) or match.group(2)).decode("ascii"))
    text = None
    tried = set()
    for encoding in (_python_encoding(label) for label in declared):
        if encoding and encoding not in tried:
            tried.add(encoding)
            text = _try_decode(data, encoding)
            if text is not None:
                break
    if text is None:
        text = (None if "utf-8" in tried else _try_decode(data, "utf-8")) or _detect(data)
    if text is None:
        raise IngestError(f"not UTF-8 {what} and no encoding could be detected", E_ENCODING)
    return _check_text(text, what)


def _python_encoding(label: str) -> str | None:
    label = label.strip().lower()
    if not label:
        return None
    label = _CHARSET_ALIASES.get(label, label)
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    # WHATWG: a page that says UTF-16 in ASCII bytes is not UTF-16.
    return "utf-8" if name.startswith("utf-16") or name.startswith("utf-32") else name


def _try_decode(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        if encoding == "cp1252":  # five bytes cp1252 leaves undefined; Latin-1 maps everything
            return data.decode("latin-1")
        return None


def _detect(data: bytes) -> str | None:
    """charset-normalizer's guess; among equally good guesses prefer windows-1252, the web's default."""
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data))
    if not matches:
        return None
    best = matches[0]
    for m in matches:
        tied = (abs(m.percent_chaos - best.percent_chaos) < 0.01
                and abs(m.percent_coherence - best.percent_coherence) < 0.01)
        if tied and "cp1252" in (m.could_be_from_charset or [m.encoding]):
            return _try_decode(data, "cp1252") or str(best)
    return str(best)


def _check_magic(data: bytes, what: str) -> None:
    head = data[:16].lstrip()
    for magic, name in _MAGIC:
        if head.startswith(magic):
            raise IngestError(f"looks like {name}, not {what}", E_BINARY)
    if head.startswith(b"RIFF") and data[8:12] == b"WEBP":
        raise IngestError(f"looks like a WebP image, not {what}", E_BINARY)


def _check_text(text: str, what: str) -> str:
    """Reject decoded text that is really binary: NUL characters or mostly control characters."""
    sample = text[:_SNIFF_BYTES]
    if "\x00" in sample:
        raise IngestError(f"binary content (NUL bytes), not {what}", E_BINARY)
    if len(_CONTROL.findall(sample)) > 0.1 * max(len(sample), 1):
        raise IngestError(f"binary content (mostly control characters), not {what}", E_BINARY)
    if not text or text.isspace():
        raise IngestError("empty (only whitespace)", E_EMPTY)
    if what == "HTML" and text[:64].lstrip().startswith("%PDF-"):
        raise IngestError("looks like a PDF, not HTML", E_BINARY)
    return text


def _charset_of(content_type: str) -> str:
    match = _HTTP_CHARSET.search(content_type)
    return match.group(1) if match else ""


# =========================================================================== plain text


_NEWLINES = re.compile(r"\r\n?")
# A list marker: a bullet, or "1." / "1)" numbering, then blank space, then the item.
_BULLET = re.compile(r"[ \t]*(?:[\u2022\u00b7\u25e6\u25aa\u2023\u25cf\u2013*+-]|\d{1,3}[.)])[ \t]+(?=\S)")
_MD_HEADING = re.compile(r"[ \t]{0,3}(#{1,6})[ \t]+(?=\S)")
_FINAL_PUNCT = ".!?,;\u2026"
_HEADING_MAX_CHARS = 80
_HEADING_MAX_WORDS = 12


def read_text(text: str, id: str, url: str = "", source: str = "", path: str = "") -> Page:
    """A plain-text page. Newlines become \\n and a BOM goes; the text is kept otherwise exactly.

    Blocks: blank-line separated paragraphs, bulleted or numbered lines as
    list items (the marker left out of the block), Markdown "#" lines and
    short unpunctuated lines before a paragraph as headings (best effort).
    """
    text = _check_text(_NEWLINES.sub("\n", text), "text")
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text or text.isspace():
        raise IngestError("empty (only whitespace)", E_EMPTY)
    blocks = _text_blocks(text)
    title = next((text[b.start:b.end] for b in blocks[:1] if b.kind == "heading"), "")
    return Page(id=id, text=text, source=source or registered_domain(url), url=url,
                title=title[:MAX_TITLE_CHARS], path=path, blocks=blocks)


@dataclass
class _Para:
    start: int
    end: int
    kind: str
    level: int = 0
    lines: int = 1
    first_end: int = 0  # end of the first line, to split a heading off a paragraph


def _text_blocks(text: str) -> list[Block]:
    paras: list[_Para] = []
    open_para: _Para | None = None  # paragraph or list item that the next line may continue
    pos = 0
    for line in text.split("\n"):
        start, pos = pos, pos + len(line) + 1
        stripped = line.strip()
        if not stripped:
            open_para = None
            continue
        lstart = start + len(line) - len(line.lstrip())
        lend = start + len(line.rstrip())
        bullet = _BULLET.match(line)
        heading = _MD_HEADING.match(line)
        if bullet:
            open_para = _Para(start + bullet.end(), lend, "list_item")
            paras.append(open_para)
        elif heading:
            paras.append(_Para(start + heading.end(), lend, "heading", level=len(heading.group(1))))
            open_para = None
        elif open_para is not None and (open_para.kind == "paragraph" or line[:1] in " \t"):
            open_para.end = lend  # a wrapped line, or an indented continuation of a list item
            open_para.lines += 1
        else:
            open_para = _Para(lstart, lend, "paragraph", first_end=lend)
            paras.append(open_para)
    return _mark_headings(text, paras)


def _mark_headings(text: str, paras: list[_Para]) -> list[Block]:
    blocks: list[Block] = []
    for i, para in enumerate(paras):
        followed = i + 1 < len(paras) and paras[i + 1].kind in ("paragraph", "list_item")
        if para.kind == "paragraph" and para.lines == 1 and followed and _heading_like(text[para.start:para.end]):
            blocks.append(Block(para.start, para.end, "heading", 2))
        elif para.kind == "paragraph" and para.lines > 1 and _heading_first_line(text, para):
            blocks.append(Block(para.start, para.first_end, "heading", 2))
            rest = para.first_end + 1
            rest += len(text[rest:para.end]) - len(text[rest:para.end].lstrip())
            blocks.append(Block(rest, para.end, "paragraph"))
        else:
            blocks.append(Block(para.start, para.end, para.kind, para.level))
    return blocks


def _heading_like(line: str) -> bool:
    # a short question heads the answer under it on FAQ pages ("How long does Botox last?")
    return (len(line) <= _HEADING_MAX_CHARS and (line[-1] not in _FINAL_PUNCT or line[-1] == "?")
            and len(line.split()) <= _HEADING_MAX_WORDS and any(c.isalpha() for c in line))


def _heading_first_line(text: str, para: _Para) -> bool:
    """'Fast results\\nWe cure...': a short title line above its paragraph, not a wrapped line."""
    first = text[para.start:para.first_end]
    nxt_end = text.find("\n", para.first_end + 1, para.end)
    second = text[para.first_end + 1: para.end if nxt_end < 0 else nxt_end].strip()
    return (_heading_like(first) and first[:1].isupper() and second[:1].isupper()
            and len(first) < 0.6 * len(second))


# =========================================================================== HTML


# Reader comment sections (WordPress and friends); they are not the provider's words.
_COMMENT_SELECTOR = ('#comments, .comment-list, .commentlist, .comments-area, [id^="comment-"], '
                     '.comment-body')
# Inside a comment section: who wrote it, when, reply links and the reply form.
_COMMENT_NOISE = ("script, style, noscript, template, form, textarea, button, .comment-meta, "
                  ".comment-metadata, .comment-author, .vcard, .reply, .comment-reply-link, .comments-title, "
                  ".comment-reply-title, #reply-title, .comment-respond, #respond, .says, "
                  ".comment-awaiting-moderation, .comment-navigation")
_BOILERPLATE = "script, style, nav, header, footer, template, noscript, svg, iframe, object, canvas"
# Elements that end a line of visible text.
_BLOCK_ELEMENTS = ("p, div, li, h1, h2, h3, h4, h5, h6, br, tr, td, th, section, article, blockquote, pre, "
                   "ul, ol, dl, dt, dd, table, main, aside, address, figure, figcaption, hr, form, "
                   "caption, details, summary")
_MAX_COMMENT_NODES = 2000
_WS = re.compile(r"\s+")
_INVISIBLE = re.compile("[\u00ad\u200b\u2060\ufeff]")  # soft hyphen, zero-width space, word joiner, BOM

# trafilatura.Extractor settings: what `trafilatura.extract(output_format="xml", include_links=True,
# include_comments=False, favor_recall=True, ...)` would use.
_TRAFILATURA_SETTINGS = dict(output_format="xml", links=True, comments=False, tables=True, formatting=False,
                             images=False, recall=True, with_metadata=False)


# -- deeply nested HTML: see the module docstring. The scan follows the HTML parser's stack of open elements and its
# list of formatting elements closely enough never to see less depth than the parser builds; where it is unsure it
# sees more (a page flattened needlessly loses only its markup).
MAX_HTML_DEPTH = 512
_TAG = re.compile(r"<(/?)([A-Za-z][^\s/>]*)|<!--|<[!?]")
_COMMENT_END = re.compile(r"--!?>")
_RAW_TEXT = frozenset({"script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes"})
_VOID = frozenset({"area", "base", "basefont", "bgsound", "br", "col", "embed", "frame", "hr", "image", "img",
                   "input", "keygen", "link", "meta", "param", "source", "track", "wbr", "html", "head", "body"})
_FORMATTING = frozenset({"a", "b", "big", "code", "em", "font", "i", "nobr", "s", "small", "strike", "strong", "tt",
                         "u"})
_TABLE_PARTS = frozenset({"caption", "colgroup", "tbody", "thead", "tfoot", "tr", "td", "th"})
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
# An end tag does not close an element below one of these (the parser's "scope") ...
_SCOPE = frozenset({"applet", "caption", "table", "td", "th", "marquee", "object", "template", "foreignobject",
                    "desc", "mi", "mo", "mn", "ms", "mtext", "annotation-xml", "button", "svg", "math", "select",
                    "frameset"})
# ... and the end tag of an element not in this list does not close one below these ("special" elements).
_SPECIAL = _SCOPE | _TABLE_PARTS | _HEADINGS | frozenset({
    "address", "article", "aside", "blockquote", "center", "dd", "details", "dir", "div", "dl", "dt", "fieldset",
    "figcaption", "figure", "footer", "form", "frameset", "header", "hgroup", "li", "listing", "main", "menu", "nav",
    "noscript", "ol", "p", "pre", "search", "section", "select", "summary", "ul", "xmp", "iframe", "textarea",
    "style", "script", "title", "noembed", "noframes", "plaintext"})
_LIST_STOP = _SPECIAL - {"address", "div", "p"}  # what an <li>, <dd> or <dt> looks past for the one it closes
_CLOSES_P = _HEADINGS | frozenset({  # start tags that close an open <p> first
    "address", "article", "aside", "blockquote", "center", "details", "dialog", "dir", "div", "dl", "fieldset",
    "figcaption", "figure", "footer", "header", "hgroup", "main", "menu", "nav", "ol", "p", "search", "section",
    "summary", "ul", "pre", "listing", "form", "li", "dd", "dt", "xmp"})
_INTEGRATION = frozenset({"foreignobject", "desc", "mi", "mo", "mn", "ms", "mtext", "annotation-xml"})
_BREAKOUT = frozenset({  # HTML start tags that end an <svg> or <math>
    "b", "big", "blockquote", "body", "br", "center", "code", "dd", "div", "dl", "dt", "em", "embed", "h1", "h2", "h3",
    "h4", "h5", "h6", "head", "hr", "i", "img", "li", "listing", "menu", "meta", "nobr", "ol", "p", "pre", "ruby", "s",
    "small", "span", "strong", "strike", "sub", "sup", "table", "tt", "u", "ul", "var"})


def _tags(html: str) -> Iterator[tuple[int, int, str, str]]:
    """(start, end, "" or "/", lower-case name) of each tag; comments, doctypes and the text of <script>, <style>
    and their kind are passed over. Linear time."""
    lower = ""
    unclosed: set[str] = set()  # raw text elements with no end tag after the last one
    i = 0
    while (m := _TAG.search(html, i)) is not None:
        if m.group() == "<!--":
            end = _COMMENT_END.search(html, m.end() - 2)  # "<!-->" is a whole comment
            if end is None:
                return
            i = end.end()
            continue
        end = html.find(">", m.end())
        if end < 0:
            return
        i = end + 1
        if m.group(2) is None:  # <!DOCTYPE ...>, <![CDATA[, <?...>
            continue
        name = m.group(2).lower()
        yield m.start(), i, m.group(1), name
        if name in _RAW_TEXT and not m.group(1) and name not in unclosed:
            lower = lower or html.lower()
            close = lower.find("</" + name, i)
            if close >= 0:
                i = close
            else:  # the tags after it are read as tags, which errs on the deep side
                unclosed.add(name)


def _too_deep(html: str, limit: int) -> bool:
    """Would the HTML parser's tree (its open elements plus the formatting elements it will reopen) get deeper
    than limit? Errs on the side of yes."""
    stack: list[tuple[str, str]] = []  # the open elements: name, and the tag of a formatting element
    where: dict[str, list[int]] = {}  # name -> its positions in stack
    scopes: list[int] = []  # positions of _SCOPE elements
    specials: list[int] = []  # positions of _SPECIAL elements
    list_stops: list[int] = []  # positions of _LIST_STOP elements
    integrations: list[int] = []  # positions of _INTEGRATION elements (HTML inside SVG or MathML)
    marks = ((_SCOPE, scopes), (_SPECIAL, specials), (_LIST_STOP, list_stops), (_INTEGRATION, integrations))
    # formatting elements closed by another element's tag: the parser reopens them at the next text or tag
    pending: list[tuple[str, str] | None] = []  # None: closed by its own end tag meanwhile
    pending_at: dict[str, list[int]] = {}  # name -> its positions in pending
    ark: Counter = Counter()  # the parser keeps three of a kind (same tag) at most
    n_pending = 0

    def top(name: str) -> int:
        return where[name][-1] if where.get(name) else -1

    def in_scope(k: int, stops: list[int]) -> bool:
        return k >= 0 and not (stops and stops[-1] > k)

    def push(name: str, key: str) -> None:
        position = len(stack)
        where.setdefault(name, []).append(position)
        for names, positions in marks:
            if name in names:
                positions.append(position)
        stack.append((name, key))

    def pop_to(k: int, own: bool = False) -> None:  # stack[k:] closed; own: stack[k] by its own end tag
        nonlocal n_pending
        while len(stack) > k:
            name, key = stack.pop()
            where[name].pop()
            for _, positions in marks:
                if positions and positions[-1] == len(stack):
                    positions.pop()
            if name in _FORMATTING and not (own and len(stack) == k) and ark[key] < 3:
                ark[key] += 1
                pending_at.setdefault(name, []).append(len(pending))
                pending.append((name, key))
                n_pending += 1

    def close(name: str) -> bool:
        """An end tag, or what an <a> does to the open one; False when it changes nothing."""
        nonlocal n_pending
        k = top(name)
        if k >= 0:
            if in_scope(k, scopes) and (name in _SPECIAL or in_scope(k, specials)):
                pop_to(k, own=True)
                return True
        elif pending_at.get(name):
            pending[pending_at[name].pop()] = None
            n_pending -= 1
            return True
        return False

    def reopen() -> None:
        nonlocal n_pending
        for item in pending:
            if item is not None:
                push(*item)
        pending.clear()
        pending_at.clear()
        ark.clear()
        n_pending = 0

    last = 0
    for start, end, closing, name in _tags(html):
        if start > last and n_pending:  # text, even blank, reopens formatting elements
            reopen()
        last = end
        if closing:
            close(name)
            continue
        foreign = max(top("svg"), top("math")) > (integrations[-1] if integrations else -1)
        if foreign and html[end - 2] == "/" and name not in _BREAKOUT:
            continue  # a self-closing SVG or MathML element
        if foreign and name in _BREAKOUT:
            pop_to(max(top("svg"), top("math")))
        elif not foreign:
            if name in _VOID:
                continue
            if name in _CLOSES_P and in_scope(top("p"), scopes):
                pop_to(top("p"))
            if name in ("li", "dd", "dt"):
                k = top("li") if name == "li" else max(top("dd"), top("dt"))
                if in_scope(k, list_stops):
                    pop_to(k)
            elif name in _HEADINGS and stack and stack[-1][0] in _HEADINGS:
                pop_to(len(stack) - 1)
            elif name in ("option", "optgroup") and stack and stack[-1][0] == "option":
                pop_to(len(stack) - 1)
            elif name in _TABLE_PARTS:
                if top("table") < 0:
                    continue  # ignored outside a table
                if top("table") > max(top("select"), top("template"), top("frameset")):
                    pop_to(top("table") + 1)
            elif name in ("a", "nobr", "button", "select") and close(name) and name == "select":
                continue  # a <select> inside another closes it and is left out
        if n_pending:
            reopen()
        if len(stack) >= limit:
            return True
        push(name, html[start:end].lower() if name in _FORMATTING else "")
    return False


_FLAT_BLOCKS = frozenset(_BLOCK_ELEMENTS.replace(" ", "").split(",")) | _HEADINGS | {"title"}


def _limit_depth(html: str, limit: int = MAX_HTML_DEPTH) -> str:
    """html, or when its tree would be deeper than limit, its text with a paragraph per block and no other markup:
    HTML parsers look through the open elements at each tag, so such a page takes minutes to parse. Linear time."""
    if html.count("<") <= limit or not _too_deep(html, limit):
        return html
    parts: list[str] = []
    title = None
    copied = 0
    raw = ""  # inside this <script>, <style>, <title>, ...: its text is not page text
    for start, end, closing, name in _tags(html):
        if raw:
            if closing and name == raw:
                if raw == "title" and title is None:
                    title = html[copied:start][:4 * MAX_TITLE_CHARS]
                copied, raw = end, ""
                continue
            raw = ""  # never closed: what follows is kept as text
        parts.append(html[copied:start])
        copied = end
        if name in _RAW_TEXT and name != "textarea" and not closing:
            raw = name
        elif name in _FLAT_BLOCKS:
            parts.append("\n")
    parts.append(html[copied:])
    text = "".join(parts).replace("<", "&lt;")
    body = "".join(f"<p>{line}</p>\n" for line in text.split("\n") if line.strip())
    title = (title or "").replace("<", "&lt;")
    return f"<html><head><title>{title}</title></head><body>{body}</body></html>"


def read_html(html: str, id: str, url: str = "", source: str = "", path: str = "") -> Page:
    """An HTML page: main text by trafilatura, reader comments appended as "comment" blocks.

    Raises IngestError E104 when neither trafilatura nor the visible text of
    <body> gives any text.
    """
    from selectolax.lexbor import LexborHTMLParser

    html = _limit_depth(_check_text(html, "HTML"))
    tree = LexborHTMLParser(html)
    title = _title(tree)
    comments = _pop_comments(tree)
    # Comment sections are cut out before trafilatura so they are not read twice.
    main_html = tree.html if comments else html
    builder = _TextBuilder(base_url=url)
    if not _extract_main(main_html or "", url, builder):
        builder.add_lines(_visible_lines(tree.body) if tree.body is not None else [])
    if not builder.blocks:
        raise IngestError("no text content", E_NO_TEXT)
    for line in comments:
        builder.add_block("comment", 0, [(line, None)])
    return Page(id=id, text=builder.text(), source=source or registered_domain(url), url=url,
                title=title, path=path, blocks=builder.blocks, links=builder.links)


def _title(tree) -> str:
    node = tree.css_first("title")
    title = _WS.sub(" ", node.text()).strip() if node is not None else ""
    if not title:
        meta = tree.css_first('meta[property="og:title"]')
        title = _WS.sub(" ", (meta.attributes.get("content") or "") if meta is not None else "").strip()
    return title[:MAX_TITLE_CHARS]


def _pop_comments(tree) -> list[str]:
    """Text lines of the reader comment sections, which are removed from the tree."""
    nodes = tree.css(_COMMENT_SELECTOR)[:_MAX_COMMENT_NODES]
    if not nodes:
        return []
    chosen = {n.mem_id for n in nodes}
    outermost, seen = [], set()
    for node in nodes:
        if node.mem_id in seen or _has_ancestor_in(node, chosen):
            continue
        seen.add(node.mem_id)
        outermost.append(node)
    lines: list[str] = []
    for node in outermost:
        for noise in node.css(_COMMENT_NOISE):
            noise.decompose()
        lines.extend(_visible_lines(node))
    for node in outermost:
        node.decompose()
    return lines


def _has_ancestor_in(node, ids: set[int]) -> bool:
    parent = node.parent
    while parent is not None:
        if parent.mem_id in ids:
            return True
        parent = parent.parent
    return False


def _visible_lines(node) -> list[str]:
    """Visible text of a node, one entry per block-level element, whitespace collapsed."""
    for noise in node.css(_BOILERPLATE):
        noise.decompose()
    for element in node.css(_BLOCK_ELEMENTS):
        element.insert_after("\n")
        element.insert_before("\n")
    raw = node.text(deep=True, separator="")
    return [line for line in (_clean_inline(part).strip() for part in raw.split("\n")) if line]


def _clean_inline(text: str) -> str:
    return _WS.sub(" ", _INVISIBLE.sub("", unicodedata.normalize("NFC", text)))


def _extract_main(html: str, url: str, builder: _TextBuilder) -> bool:
    """trafilatura's main text into builder; False when it found nothing (or broke on the page)."""
    from lxml import etree

    try:
        xml = _trafilatura_xml(html, url)
    except Exception:  # trafilatura breaking on hostile HTML: fall back to the visible text
        return False
    if not xml:
        return False
    try:
        root = etree.fromstring(xml.encode("utf-8"), etree.XMLParser(recover=True, huge_tree=False,
                                                                     resolve_entities=False))
    except etree.XMLSyntaxError:
        return False
    if root is None:
        return False
    main = root.find("main")
    _XmlWalker(builder).walk(main if main is not None else root)
    return bool(builder.blocks)


def _trafilatura_xml(html: str, url: str) -> str | None:
    """What ``trafilatura.extract`` returns in XML, without the content fingerprint it computes for the
    metadata: a third of its time, and never read here (tests/test_ingest.py checks the output is the same)."""
    from trafilatura.core import bare_extraction, determine_returnstring
    from trafilatura.settings import Extractor

    options = Extractor(url=url or None, **_TRAFILATURA_SETTINGS)
    document = bare_extraction(html, options=options, as_dict=False)
    return determine_returnstring(document, options) if document else None


class _TextBuilder:
    """Collects blocks and links; Page.text is built once at the end by a single join."""

    def __init__(self, base_url: str = ""):
        self.base_url = base_url
        self.parts: list[str] = []
        self.length = 0
        self.blocks: list[Block] = []
        self.links: list[Link] = []
        self._last: tuple[str, object] | None = None  # (kind, group) of the previous block

    def add_block(self, kind: str, level: int, segments: list[tuple[str, str | None]], group: object = None):
        """Add one block from (text, href) segments; href None for plain text, "\\n" for a line break."""
        body, spans = _join_segments(segments)
        if not body:
            return
        if self.parts:
            # Items of a list (nested ones too) and cells of one row sit on consecutive lines.
            last_kind, last_group = self._last or ("", None)
            same_run = kind == last_kind and (kind == "list_item" or (kind == "cell" and group == last_group))
            self._append("\n" if same_run else "\n\n")
        start = self.length
        self._append(body)
        self.blocks.append(Block(start, self.length, kind, level))
        for s, e, href in spans:
            self.links.append(Link(start + s, start + e, self._href(href)))
        self._last = (kind, group)

    def add_lines(self, lines: list[str]) -> None:
        """Fallback text without markup: one block a line; a short line without final punctuation
        followed by more text is a heading."""
        for i, line in enumerate(lines):
            heading = i + 1 < len(lines) and _heading_like(line)
            self.add_block("heading" if heading else "paragraph", 2 if heading else 0, [(line, None)])

    def text(self) -> str:
        return "".join(self.parts)

    def _append(self, s: str) -> None:
        self.parts.append(s)
        self.length += len(s)

    def _href(self, href: str) -> str:
        href = href.strip()[:MAX_HREF_CHARS]
        if self.base_url and not href.startswith(("data:", "javascript:", "mailto:", "tel:")):
            try:
                return urljoin(self.base_url, href)
            except ValueError:
                return href
        return href


def _join_segments(segments: list[tuple[str, str | None]]) -> tuple[str, list[tuple[int, int, str]]]:
    """Join inline pieces with whitespace collapsed; return the text and link spans inside it.

    A link span covers exactly the link's text, without surrounding blanks.
    """
    parts: list[str] = []
    length = 0
    after_space = True  # drop leading blanks of the block
    spans: list[tuple[int, int, str]] = []
    for text, href in segments:
        if text == "\n" and href == "\n":  # <lb/>: a line break inside the block
            if parts and parts[-1].endswith(" "):
                parts[-1] = parts[-1][:-1]
                length -= 1
            if parts and parts[-1] != "\n":
                parts.append("\n")
                length += 1
            after_space = True
            continue
        piece = _clean_inline(text)
        if after_space:
            piece = piece.lstrip(" ")
        if not piece:
            continue
        if href:
            lead = len(piece) - len(piece.lstrip(" "))
            core = piece.strip(" ")
            if core:
                spans.append((length + lead, length + lead + len(core), href))
        parts.append(piece)
        length += len(piece)
        after_space = piece.endswith(" ")
    body = "".join(parts).rstrip()
    return body, [(s, min(e, len(body)), h) for s, e, h in spans if s < len(body)]


# trafilatura XML tags: blocks, containers (which end a block) and everything else inline.
_XML_BLOCKS = {"head": "heading", "p": "paragraph", "item": "list_item", "cell": "cell",
               "quote": "quote", "code": "paragraph"}
_XML_CONTAINERS = {"list", "table", "row", "main", "doc", "body", "div", "comments", "figure"}
# A paragraph nested in a quote, item or cell keeps the outer kind (a testimonial stays a quote).
_INHERITING = {"p", "code"}


class _XmlWalker:
    """Turns trafilatura's XML into blocks without recursion (hostile pages nest deeply)."""

    def __init__(self, builder: _TextBuilder):
        self.builder = builder
        self.stack: list[dict] = []  # open blocks: kind, level, group, segments
        self.hrefs: list[str] = []  # open <ref> targets
        self.loose: list[tuple[str, str | None]] = []  # text outside any block
        self.containers: list[int] = [0]  # serial numbers of open lists/rows: items in one run share it
        self.serial = 0

    def walk(self, root) -> None:
        from lxml import etree

        for event, el in etree.iterwalk(root, events=("start", "end")):
            tag = el.tag if isinstance(el.tag, str) else ""
            if event == "start":
                self._start(el, tag)
            else:
                self._end(el, tag)
        self._flush_loose()

    def _start(self, el, tag: str) -> None:
        if tag in _XML_BLOCKS:
            self._flush_top()
            self._flush_loose()
            kind = _XML_BLOCKS[tag]
            if tag in _INHERITING and self.stack:
                kind = self.stack[-1]["kind"]
            level = _heading_level(el.get("rend")) if tag == "head" else 0
            self.stack.append({"kind": kind, "level": level, "group": self.containers[-1], "segments": []})
        elif tag in _XML_CONTAINERS:
            self._flush_top()
            self._flush_loose()
            self.serial += 1
            self.containers.append(self.serial)
        elif tag == "ref":
            self.hrefs.append(el.get("target") or "")
        elif tag == "lb":
            self._add("\n", "\n")
        self._add(el.text)

    def _end(self, el, tag: str) -> None:
        if tag in _XML_BLOCKS:
            # The parent (if any) was flushed when this block began: text after it starts a new block.
            self._emit(self.stack.pop())
        elif tag in _XML_CONTAINERS:
            self._flush_top()
            self._flush_loose()
            if len(self.containers) > 1:
                self.containers.pop()
        elif tag == "ref" and self.hrefs:
            self.hrefs.pop()
        self._add(el.tail)

    def _add(self, text: str | None, href: str | None = None) -> None:
        if not text:
            return
        if href is None and self.hrefs:
            href = self.hrefs[-1]
        target = self.stack[-1]["segments"] if self.stack else self.loose
        if target is self.loose and not text.strip():
            return
        target.append((text, href))

    def _flush_top(self) -> None:
        if self.stack:
            self._emit(self.stack[-1])
            self.stack[-1]["segments"] = []

    def _flush_loose(self) -> None:
        if self.loose:
            self.builder.add_block("paragraph", 0, self.loose)
            self.loose = []

    def _emit(self, block: dict) -> None:
        if block["segments"]:
            self.builder.add_block(block["kind"], block["level"], block["segments"], block["group"])


def _heading_level(rend: str | None) -> int:
    if rend and len(rend) == 2 and rend[0] in "hH" and rend[1] in "123456":
        return int(rend[1])
    return 2


# =========================================================================== ids, names, domains


def _url_hash(url: str) -> str:
    return hashlib.sha1(url.encode("utf-8", "surrogatepass")).hexdigest()[:16]


_ID_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _clean_id(page_id: str) -> str:
    """Ids are one line and at most MAX_ID_CHARS long (a hash suffix keeps shortened ones distinct)."""
    cleaned = _ID_CONTROL.sub("_", page_id.strip()) or "_"
    if len(cleaned) > MAX_ID_CHARS:
        digest = hashlib.sha1(page_id.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        cleaned = f"{cleaned[:MAX_ID_CHARS - 17]}-{digest}"
    return cleaned


_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._~-]")
_DOTS = re.compile(r"\.{2,}")
_WINDOWS_RESERVED = frozenset({"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)),
                               *(f"lpt{i}" for i in range(10))})
MAX_FILENAME_CHARS = 120


def safe_filename(page_id: str) -> str:
    """A file name for a page id that stays inside its folder on any OS.

    Keeps only [A-Za-z0-9._~-]; no "..", no leading or trailing dot, no
    reserved Windows name, at most 120 characters. Whenever the id had to be
    changed or shortened, a hash of the original id is appended, so two
    different ids never share a file name.
    """
    cleaned = _UNSAFE_FILENAME.sub("_", page_id)
    cleaned = _DOTS.sub(".", cleaned).strip(".")
    if cleaned.split(".", 1)[0].lower() in _WINDOWS_RESERVED:
        cleaned = f"_{cleaned}"
    if cleaned == page_id and 0 < len(cleaned) <= MAX_FILENAME_CHARS:
        return cleaned
    digest = hashlib.sha1(page_id.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    head = cleaned[:MAX_FILENAME_CHARS - len(digest) - 1].rstrip(".")
    return f"{head}-{digest}" if head else digest


@lru_cache(maxsize=1)
def _extractor():
    import tldextract

    # Bundled public-suffix snapshot only: no network, no cache directory.
    # Private suffixes count, so each blogspot.com or github.io site is its own source.
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True)


_BAD_HOST = re.compile(r"[\s/\\@?#<>\"']")


@lru_cache(maxsize=65536)
def _domain_of_host(host: str) -> str:
    if ":" in host or "." not in host:
        return host  # an IPv6 address, or a single-label host such as "localhost"
    result = _extractor()(host)
    domain = getattr(result, "top_domain_under_public_suffix", None)
    if domain is None:  # tldextract < 5.3
        domain = result.registered_domain
    if domain:
        return domain.lower()
    return host if result.ipv4 else ""


def registered_domain(url: str) -> str:
    """'https://www.clinic.example.co.uk/a' -> 'example.co.uk'; '' when there is no usable url."""
    url = (url or "").strip()
    if not url:
        return ""
    try:
        host = urlsplit(url if "//" in url else f"//{url}").hostname or ""
    except ValueError:
        return ""
    host = host.lower().rstrip(".")
    if not host or len(host) > 253 or _BAD_HOST.search(host):
        return ""
    return _domain_of_host(host)


# =========================================================================== duplicates


_WORD = re.compile(r"\w+")
_SHINGLE = 3
# 126 MinHash values in 21 bands of 6: a pair at Jaccard 0.8 shares a band with p = 0.998,
# at 0.5 with p = 0.28, so few dissimilar pairs are compared.
_BANDS, _ROWS = 21, 6
_PERMUTATIONS = _BANDS * _ROWS
_MAX_BUCKET = 256  # pages sharing one band value beyond this are boilerplate; keeps the work linear


@lru_cache(maxsize=1)
def _minhash_seeds():
    import numpy as np

    rng = np.random.default_rng(20240611)  # fixed: results must not change between runs
    return rng.integers(0, 2**63, size=_PERMUTATIONS, dtype=np.uint64)


def _fmix64(x):
    """MurmurHash3's 64-bit finaliser, on numpy uint64 arrays: a strong, cheap bit mixer."""
    import numpy as np

    x = x ^ (x >> np.uint64(33))
    x = x * np.uint64(0xFF51AFD7ED558CCD)
    x = x ^ (x >> np.uint64(33))
    x = x * np.uint64(0xC4CEB9FE1A85EC53)
    return x ^ (x >> np.uint64(33))


def _minhash(text: str):
    """MinHash signature (126 x uint32) of the page's 3-word shingles, or None under 3 words."""
    import numpy as np

    words = _WORD.findall(text.lower())
    if len(words) < _SHINGLE:
        return None
    h = np.fromiter((zlib.crc32(w.encode("utf-8", "surrogatepass")) for w in words),
                    dtype=np.uint64, count=len(words))
    with np.errstate(over="ignore"):  # uint64 arithmetic wraps on purpose
        shingles = np.unique(_fmix64((h[:-2] << np.uint64(32)) ^ _fmix64(h[1:-1]) ^ (h[2:] * np.uint64(31))))
        seeds = _minhash_seeds()
        sig = np.full(_PERMUTATIONS, np.iinfo(np.uint64).max, dtype=np.uint64)
        for i in range(0, len(shingles), 2048):  # chunks keep the matrix small
            sig = np.minimum(sig, _fmix64(shingles[i:i + 2048, None] ^ seeds).min(axis=0))
    return (sig >> np.uint64(32)).astype(np.uint32)


@dataclass(frozen=True)
class Fingerprint:
    """What the duplicate index needs of a page: small, so it travels back from a worker cheaply."""

    page: str  # the page's id
    text_hash: bytes  # SHA-1 of the whitespace-normalised text (exact copies)
    minhash: bytes | None  # the MinHash signature (near copies); None under three words


def fingerprint(page: Page) -> Fingerprint:
    sig = _minhash(page.text)
    return Fingerprint(page.id, hashlib.sha1(" ".join(page.text.split()).encode("utf-8", "surrogatepass")).digest(),
                       None if sig is None else sig.tobytes())


def find_duplicates(pages: Iterable[Page]) -> dict[str, str]:
    """Map each duplicate page's id to the id of the first page with the same or nearly the same text.

    Exact: same SHA-1 of the whitespace-normalised text. Near: estimated
    Jaccard similarity of the pages' 3-word shingle sets (lower-cased words)
    >= NEAR_DUPLICATE_THRESHOLD, from 126 MinHash values with banded LSH so
    large batches stay near-linear. Only first pages are indexed, so a chain
    of small edits does not drift away from its first page. Pages under three
    words are matched exactly only. Failures in the input are ignored.
    """
    duplicates: dict[str, str] = {}
    with DuplicateIndex() as index:
        for page in pages:
            if isinstance(page, Page):
                first = index.check(page)
                if first is not None:
                    duplicates[page.id] = first
    return duplicates


class DuplicateIndex:
    """``find_duplicates`` one page at a time, for streams of pages.

    ``check(page)`` returns the id of the earlier page that ``page`` repeats (same text, or nearly:
    the same signatures and threshold as ``find_duplicates``), or None, and then remembers ``page``.
    Checking pages in order gives the same answers as ``find_duplicates`` on the whole list, in time
    linear in the number of pages. The index lives in a scratch SQLite file (deleted on close), so a
    crawl of millions of pages does not grow the process's memory: the hashes, signatures and band keys
    (about 4 kB a page) go to disk instead. ``path`` puts that file somewhere known (a run folder), so a
    process killed before it could delete the file leaves it there to be replaced, not in the temp folder.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        import sqlite3
        import tempfile

        if path is None:
            fd, self._path = tempfile.mkstemp(prefix="auditor-duplicates-", suffix=".sqlite")
            os.close(fd)
        else:
            self._path = str(path)
            Path(self._path).unlink(missing_ok=True)  # left by a killed run: its pages are re-checked
        self._owner = os.getpid()  # a forked worker inherits the object but must not delete the file
        self._db = sqlite3.connect(self._path, isolation_level=None)
        self._db.executescript("""
            PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -8000;
            CREATE TABLE exact (key BLOB PRIMARY KEY, first TEXT) WITHOUT ROWID;
            CREATE TABLE firsts (n INTEGER PRIMARY KEY, id TEXT, sig BLOB);
            CREATE TABLE bands (key BLOB, n INTEGER);
            CREATE INDEX bands_key ON bands (key);
        """)
        self._db.execute("BEGIN")
        self._pages = 0

    def __enter__(self) -> "DuplicateIndex":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    def close(self) -> None:
        if getattr(self, "_db", None) is not None and self._owner == os.getpid():
            self._db.close()
            self._db = None
            Path(self._path).unlink(missing_ok=True)

    def check(self, page: Page) -> str | None:
        return self.check_fingerprint(fingerprint(page))

    def check_fingerprint(self, page_fingerprint: Fingerprint) -> str | None:
        """``check`` for a page known by its fingerprint (computed where the page was parsed)."""
        import numpy as np

        db = self._db
        self._pages += 1
        if self._pages % 1000 == 0:  # one transaction per thousand pages
            db.execute("COMMIT")
            db.execute("BEGIN")
        key = page_fingerprint.text_hash
        row = db.execute("SELECT first FROM exact WHERE key = ?", (key,)).fetchone()
        if row is not None:
            return row[0]
        sig = None if page_fingerprint.minhash is None else np.frombuffer(page_fingerprint.minhash, dtype=np.uint32)
        match = None
        if sig is not None:
            keys = [bytes([i]) + sig[i * _ROWS:(i + 1) * _ROWS].tobytes() for i in range(_BANDS)]
            in_bands = db.execute(f"SELECT key, n FROM bands WHERE key IN ({','.join('?' * len(keys))})",
                                  keys).fetchall()
            candidates = sorted({n for _, n in in_bands})
            if candidates:
                rows = db.execute(f"SELECT n, id, sig FROM firsts WHERE n IN ({','.join('?' * len(candidates))}) "
                                  "ORDER BY n", candidates).fetchall()
                sigs = np.stack([np.frombuffer(r[2], dtype=np.uint32) for r in rows])
                hits = np.flatnonzero(np.count_nonzero(sigs == sig, axis=1) >= NEAR_DUPLICATE_THRESHOLD * _PERMUTATIONS)
                match = rows[hits[0]][1] if len(hits) else None
        db.execute("INSERT INTO exact VALUES (?, ?)", (key, match or page_fingerprint.page))  # later exact copies: the same first
        if match is None and sig is not None:
            n = db.execute("INSERT INTO firsts (id, sig) VALUES (?, ?)", (page_fingerprint.page, page_fingerprint.minhash)).lastrowid
            in_bucket = Counter(k for k, _ in in_bands)
            db.executemany("INSERT INTO bands VALUES (?, ?)", [(k, n) for k in keys if in_bucket[k] < _MAX_BUCKET])
        return match


# =========================================================================== small helpers


def _one_line(message: str, limit: int = 300) -> str:
    line = _WS.sub(" ", message).strip()
    return line if len(line) <= limit else line[: limit - 1] + "\u2026"


def _os_reason(err: OSError) -> str:
    return err.strerror or type(err).__name__

