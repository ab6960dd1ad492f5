"""Runs of many pages: ingest -> audit each page -> compare across sources -> write the run folder.

The run folder (``--out DIR``) holds ``pages.jsonl`` (every input page with its status),
``claims.jsonl``, ``findings.jsonl``, ``topics.jsonl``, their CSV and Parquet twins, ``texts/``
(page texts for the report) and ``run.json``.

How a run goes:

* pages are read lazily (:func:`auditor.ingest.iter_pages`) but not parsed: an engine
  (:mod:`auditor.engines`) parses and audits them, in this process, in a pool of one process per core
  (the default), or on Dask (``engine="dask"``), so the main process only reads files and writes
  results. Only a bounded number of pages is in flight, so memory does not grow with the number of
  pages;
* results are checked in input order against an incremental duplicate index
  (:class:`auditor.ingest.DuplicateIndex`, fed with the fingerprints the engines send back): a
  duplicate is reported with ``duplicate_of`` and its own audit is dropped, so each text is reported
  once (the engine audits a duplicate before it is known to be one);
* each page's rows are appended to ``texts/``, ``claims.jsonl``, ``findings.jsonl`` and, last,
  ``pages.jsonl`` as soon as the page is done, in input order whatever the engine, so the run folder
  of a parallel run is the same as a sequential one;
* at the end, the cross-source comparison (:func:`auditor.compare.compare_sources`) reads the claims
  back from ``claims.jsonl`` one part at a time (whole interventions per part, so memory is bounded by
  a part), its findings are added to ``findings.jsonl``, and ``topics.jsonl`` and
  the CSV and Parquet tables are written (each one atomically: a crash never leaves half a table).

Continuing an interrupted run: run the same command again. ``run.json`` says whether the run in the
folder is unfinished (``state`` running or finishing) and which inputs and settings it had.

* Same inputs and settings (the paths as given and as resolved, the auditor version, model, rules
  and rule options, lexicons, page size limits): the pages already in ``pages.jsonl`` (matched by page
  id and path) are not audited again; claims and findings rows of pages without a ``pages.jsonl`` row
  (a crash between files; the page row is written last) and a torn last line are dropped first, then
  the run goes on. No page is lost and none is counted twice. The engine, number of workers, time
  budget, progress bar and report may differ. The input files are assumed unchanged; rows of pages
  that are no longer in the input are dropped at the end.
* Other inputs or settings: the run stops with E307 and changes nothing; run the same command to
  continue, or use another ``--out`` (or delete the folder) to start over.
* A finished run, an unfinished one without a single page written yet, or a folder without a readable
  ``run.json`` is started over: the earlier tables and texts are removed.

Pages are written without fsync: a killed process loses nothing that was written, a power cut may
lose the last pages (they are audited again on the next run).
"""
from __future__ import annotations

import csv
import heapq
import io
import itertools
import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, Iterator

from . import __version__
from .audit import Auditor, PageResult, load_rules
from .compare import COMPARED_FIELDS, compare_sources, intervention_of
from .engines import DaskEngine, Encoded, InProcess, LocalPool, Task, dumps, pipeline_settings
from .errors import OptionsError
from .files import AtomicFile as _atomic_file, atomic_write, write_jsonl
from .findings import level_rank
from .ingest import DuplicateIndex, IngestOptions, PageFailure, RawPage, iter_pages, safe_filename
from .options import AuditOptions
from .page import Page
from .reference import set_overlays

TABLES = ("pages", "claims", "findings", "topics")
DUPLICATE_INDEX = ".duplicates.sqlite"  # scratch, in the run folder so a killed run leaves nothing elsewhere
RUN_FORMAT = 1
MIN_POOL_PAGES = 24  # with workers=0 (automatic), fewer pages than this are audited in-process
WINDOW_PER_SLOT = 16  # pages the writer may lag behind the next page handed out, per page in flight
PARQUET_BATCH = 5000
COMPARE_PART_BYTES = 8 << 20  # bytes of compact claims per part of the cross-source step (memory, not speed)
MAX_COMPARE_PARTS = 256  # part files open at once while spilling


@dataclass
class RunSummary:
    out: Path
    pages: int = 0
    audited: int = 0
    failed: int = 0
    skipped: int = 0
    duplicates: int = 0
    claims: int = 0
    findings_by_level: dict = field(default_factory=dict)
    resumed: int = 0  # pages already in the run folder when an unfinished run was continued
    engine: str = ""  # in-process | local pool of N | dask

    def worst_level(self) -> str | None:
        levels = [lvl for lvl, n in self.findings_by_level.items() if n]
        return max(levels, key=level_rank) if levels else None

    def count_page(self, page: dict) -> None:
        self.pages += 1
        status = page.get("status")
        if status == "audited":
            self.audited += 1
        elif status == "duplicate":
            self.duplicates += 1
        elif status == "skipped":
            self.skipped += 1
        else:
            self.failed += 1

    def count_finding(self, finding: dict) -> None:
        level = finding.get("level")
        self.findings_by_level[level] = self.findings_by_level.get(level, 0) + 1


def ingest_options(options: AuditOptions) -> IngestOptions:
    return IngestOptions(max_bytes=options.max_bytes, max_text_chars=options.max_text_chars)


def read_pages(paths: Iterable[str | Path], options: AuditOptions) -> Iterator[Page | PageFailure]:
    return iter_pages(paths, ingest_options(options))


def duplicate_row(page: Page | dict, duplicate_of: str) -> dict:
    """The pages.jsonl row of a duplicate, from the page or from the row its own audit gave it."""
    if isinstance(page, Page):
        row = page.as_record()
    else:
        row = {k: page[k] for k in Page.RECORD_FIELDS if k in page}
    row.update(status="duplicate", duplicate_of=duplicate_of, error_code="", error="")
    return row


def audit_pages(items: Iterable[Page | PageFailure], auditor: Auditor) -> Iterator[PageResult]:
    """Each page audited in turn, in this process; duplicates of an earlier page are reported, not audited."""
    with DuplicateIndex() as index:
        for item in items:
            if isinstance(item, PageFailure):
                yield PageResult(page=item.as_record())
                continue
            duplicate_of = index.check(item)
            if duplicate_of:
                yield PageResult(page=duplicate_row(item, duplicate_of))
                continue
            yield auditor.audit_page(item)


def encode(result: PageResult, seq: int = 0) -> Encoded:
    return Encoded(seq, result.page, "".join(dumps(r) + "\n" for r in result.claims),
                   "".join(dumps(r) + "\n" for r in result.findings),
                   None if result.text is None else dumps(result.text))


# -- the run folder -------------------------------------------------------------------------------

_LOCK_FDS: set[int] = set()  # run folder locks held by this process


def _close_locks_in_child() -> None:
    """Forked workers must not hold the run folder's lock: it goes when the main process goes."""
    for fd in list(_LOCK_FDS):
        try:
            os.close(fd)
        except OSError:
            pass
    _LOCK_FDS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_locks_in_child)


class RunWriter:
    """Writes a run folder: page rows appended as pages finish, final tables written atomically."""

    def __init__(self, out: Path):
        self.out = Path(out)
        try:
            (self.out / "texts").mkdir(parents=True, exist_ok=True)
            probe = self.out / ".write-test"
            probe.write_text("")
            probe.unlink()
        except OSError as e:
            raise OptionsError(f"cannot write to the output folder {self.out}: {e.strerror}", "E305") from None
        self._fds: dict[str, int] = {}
        self._lock_fd: int | None = None
        self.done: dict[tuple[str, str], str] = {}  # (page id, path) -> page id, of pages already written

    # -- starting or continuing

    def open(self, meta: dict) -> dict[tuple[str, str], str]:
        """Start the run described by meta, or continue the unfinished one with the same inputs and settings.

        Returns the pages already written, by (page id, path). Raises OptionsError E307 when the folder
        holds an unfinished run of other inputs or settings.
        """
        self._lock()
        earlier = _read_json(self.out / "run.json")
        state = earlier.get("state") if isinstance(earlier, dict) else None
        if state in ("running", "finishing") and next(_complete_lines(self.out / "pages.jsonl"), None) is not None:
            if earlier.get("resume") != meta["resume"]:
                what = _difference(earlier.get("resume") or {}, meta["resume"])
                raise OptionsError(f"{self.out} holds an unfinished run with other {what}; run the same command "
                                   f"again to continue it, or use another --out (or delete the folder) to start over",
                                   "E307")
            self._recover(earlier.get("page_findings") if state == "finishing" else None)
            meta["started"] = earlier.get("started", meta["started"])
            meta["continued"] = int(earlier.get("continued") or 0) + 1
        else:
            self._clear()
        meta["state"] = "running"
        atomic_write(self.out / "run.json", json.dumps(meta, indent=2, default=str))
        for name in ("pages", "claims", "findings"):
            self._fds[name] = os.open(self.out / f"{name}.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        return self.done

    def _lock(self) -> None:
        try:
            import fcntl
        except ImportError:  # not POSIX: no guard against two runs into one folder
            return
        fd = os.open(self.out / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise OptionsError(f"another auditor run is writing to {self.out}; wait for it or use another --out",
                               "E309") from None
        self._lock_fd = fd
        _LOCK_FDS.add(fd)

    def _clear(self) -> None:
        """Remove what an earlier run wrote: its tables and page texts."""
        for name in TABLES:
            for suffix in (".jsonl", ".csv", ".parquet"):
                (self.out / f"{name}{suffix}").unlink(missing_ok=True)
        for file in (self.out / "texts").glob("*.json"):
            file.unlink(missing_ok=True)

    def _recover(self, page_findings: int | None) -> None:
        """Make the appended tables agree with pages.jsonl (see the module docstring)."""
        ids: set[str] = set()

        def page_ok(row: dict, _n: int) -> bool:
            if not isinstance(row.get("page"), str):
                return False
            key = (row["page"], str(row.get("path") or ""))
            if key in self.done:
                return False
            self.done[key] = row["page"]
            ids.add(row["page"])
            return True

        _filter_jsonl(self.out / "pages.jsonl", page_ok, stop_at_bad=True)
        _filter_jsonl(self.out / "claims.jsonl", lambda row, n: row.get("page") in ids)
        _filter_jsonl(self.out / "findings.jsonl", lambda row, n: row.get("page") in ids and
                      (page_findings is None or n < page_findings))

    # -- writing pages

    def add(self, result: PageResult) -> None:
        self.append(encode(result))

    def append(self, result: Encoded) -> None:
        """Write one page: its text, claims and findings, then its pages.jsonl row (last: it marks the page done)."""
        page = dict(result.page)
        if result.text is not None:
            name = f"texts/{safe_filename(page['page'])}.json"
            atomic_write(self.out / name, result.text)
            page["text_file"] = name
        if result.claims:
            _write_all(self._fds["claims"], result.claims.encode("utf-8", "surrogatepass"))
        if result.findings:
            _write_all(self._fds["findings"], result.findings.encode("utf-8", "surrogatepass"))
        _write_all(self._fds["pages"], (dumps(page) + "\n").encode("utf-8", "surrogatepass"))
        self.done[(page["page"], str(page.get("path") or ""))] = page["page"]

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds = {}

    def release(self) -> None:
        self.close()
        if self._lock_fd is not None:
            _LOCK_FDS.discard(self._lock_fd)
            os.close(self._lock_fd)
            self._lock_fd = None

    # -- the end of the run

    def compared_claims(self) -> Iterator[dict]:
        """The claims compare_sources looks at, in run order: those with a topic, with COMPARED_FIELDS only."""
        return ({k: row[k] for k in COMPARED_FIELDS if k in row}
                for row in iter_jsonl(self.out / "claims.jsonl") if row.get("topic"))

    def claims_fit_one_part(self) -> bool:
        path = self.out / "claims.jsonl"
        return not path.exists() or path.stat().st_size <= COMPARE_PART_BYTES

    def claims_for_comparison(self) -> Iterator[list[dict]]:
        """The claims compare_sources looks at, in parts that each hold whole interventions, so memory is
        bounded by a part, not by the run. Claims without a topic are left out and only the fields the
        comparison reads are kept (tests/test_batch.py checks that this gives the same result). Claims
        of up to COMPARE_PART_BYTES are one part; more are spilled to disk and dealt into parts of about
        that size (the largest interventions first, each to the smallest part so far)."""
        rows = self.compared_claims()
        if self.claims_fit_one_part():
            yield list(rows)
            return
        spill = self.out / ".compare"
        shutil.rmtree(spill, ignore_errors=True)
        spill.mkdir()
        sizes: dict[str, int] = {}  # intervention -> bytes of its compact claims
        with open(spill / "claims.jsonl", "wb") as f:
            for row in rows:
                line = (dumps(row) + "\n").encode("utf-8", "surrogatepass")
                intervention = intervention_of(row)
                sizes[intervention] = sizes.get(intervention, 0) + len(line)
                f.write(line)
        parts = min(MAX_COMPARE_PARTS, len(sizes), max(1, -(-sum(sizes.values()) // COMPARE_PART_BYTES)))
        filled = [(0, n) for n in range(parts)]  # a heap of (bytes, part)
        part_of: dict[str, int] = {}
        for intervention, size in sorted(sizes.items(), key=lambda item: (-item[1], item[0])):
            used, n = heapq.heappop(filled)
            part_of[intervention] = n
            heapq.heappush(filled, (used + size, n))
        files = [open(spill / f"part-{n:04d}.jsonl", "wb") for n in range(parts)]
        try:
            for line in _complete_lines(spill / "claims.jsonl"):
                files[part_of[intervention_of(json.loads(line))]].write(line)
        finally:
            for f in files:
                f.close()
        for n in range(parts):
            yield list(iter_jsonl(spill / f"part-{n:04d}.jsonl"))
        shutil.rmtree(spill, ignore_errors=True)

    def drop_pages(self, page_ids: set[str]) -> None:
        """Remove the rows of these pages (pages that were in an earlier part of the run, not in the input now)."""
        if not page_ids:
            return
        self.close()
        for name in ("pages", "claims", "findings"):
            _filter_jsonl(self.out / f"{name}.jsonl", lambda row, n: row.get("page") not in page_ids)

    def add_comparison(self, compared: Iterable[tuple[list[dict], list[dict]]], meta: dict) -> None:
        """Add the cross-source findings and topics (``compared``: (findings, topics) of each part of the
        comparison, consumed as they come)."""
        self.close()
        findings = self.out / "findings.jsonl"
        meta.update(state="finishing", page_findings=sum(1 for _ in _complete_lines(findings)))
        atomic_write(self.out / "run.json", json.dumps(meta, indent=2, default=str))
        with _atomic_file(findings, "wb") as f, _atomic_file(self.out / "topics.jsonl", "wb") as t:
            for line in _complete_lines(findings):
                f.write(line)
            for part_findings, part_topics in compared:
                for row in part_findings:
                    f.write((dumps(row) + "\n").encode("utf-8", "surrogatepass"))
                for row in part_topics:
                    t.write((dumps(row) + "\n").encode("utf-8", "surrogatepass"))

    def finish(self, meta: dict, summary: RunSummary | None = None) -> RunSummary:
        """Write the CSV and Parquet tables and run.json (after add_comparison)."""
        summary = summary or RunSummary(out=self.out)
        for name, n, counts in _write_tables(self.out):
            if name == "pages":
                for status, k in counts.items():
                    for _ in range(k):
                        summary.count_page({"status": status})
            elif name == "findings":
                for level, k in counts.items():
                    summary.findings_by_level[level] = summary.findings_by_level.get(level, 0) + k
            elif name == "claims":
                summary.claims = n
        meta.update(state="complete", finished=datetime.now(timezone.utc).isoformat(), pages=summary.pages,
                    claims=summary.claims)
        atomic_write(self.out / "run.json", json.dumps(meta, indent=2, default=str))
        return summary


class _InOrder:
    """Puts results back in input order, checks them against the duplicate index and writes them, and says
    when the engines may take more."""

    def __init__(self, writer: RunWriter, bar, window: int, index: DuplicateIndex):
        self.writer = writer
        self.bar = bar
        self.window = window
        self.index = index
        self.next = 0  # the next position to write
        self.allocated = 0
        self.pending: dict[int, Encoded | None] = {}

    def allocate(self) -> int:
        self.allocated += 1
        return self.allocated - 1

    def put(self, seq: int, result: Encoded | None) -> None:
        self.pending[seq] = result
        while self.next in self.pending:
            result = self.pending.pop(self.next)
            if result is not None and result.fingerprint is not None:
                # every parsed page, written before or not, so the answers do not change on resuming
                duplicate_of = self.index.check_fingerprint(result.fingerprint)
                if duplicate_of and result.page is not None:
                    result = Encoded(result.seq, duplicate_row(result.page, duplicate_of))
            if result is not None and result.page is not None:
                self.writer.append(result)
                if self.bar is not None:
                    self.bar.update(1)
            self.next += 1

    def can_take(self) -> bool:
        return self.allocated - self.next < self.window


def _plan(items: Iterable[RawPage | PageFailure], done: dict, order: _InOrder, seen: set) -> Iterator[Task]:
    """The pages for the engine; failures are settled on the way, and pages written before are sent only
    to be parsed (the duplicate index needs their fingerprints)."""
    for item in items:
        seq = order.allocate()
        key = (item.id, str(item.path or ""))
        seen.add(key)
        if isinstance(item, PageFailure):
            order.put(seq, None if key in done else Encoded(seq, item.as_record()))
        else:
            yield Task(seq, item, audit=key not in done)


def _engine(options: AuditOptions, tasks: Iterator[Task]):
    if options.engine == "dask":
        return DaskEngine(options, options.scheduler, options.processes), tasks, "dask"
    n = options.processes
    if n > 1 and options.workers == 0:  # automatic: a small input is audited here, without the pool's start-up
        head = list(itertools.islice(tasks, MIN_POOL_PAGES))
        tasks = itertools.chain(head, tasks)
        if len(head) < MIN_POOL_PAGES:
            n = 1
    if n <= 1:
        return InProcess(options), tasks, "in-process"
    return LocalPool(options, n), tasks, f"local pool of {n}"


def run_meta(paths: list[str | Path], options: AuditOptions) -> dict:
    inputs = [str(p) for p in paths]
    return {"format": RUN_FORMAT, "version": __version__, "started": datetime.now(timezone.utc).isoformat(),
            "inputs": inputs,
            "settings": {"model": options.model or "blank:en", "engine": options.engine,
                         "workers": options.workers, "fail_on": options.fail_on, "select": options.select,
                         "ignore": options.ignore, "include_comments": options.include_comments,
                         "time_budget": options.time_budget},
            "resume": {"inputs": inputs, "resolved": [str(Path(p).resolve()) for p in paths],
                       **pipeline_settings(options), "max_bytes": options.max_bytes,
                       "max_text_chars": options.max_text_chars}}


def run_audit(paths: list[str | Path], out: Path, options: AuditOptions) -> RunSummary:
    """Audit every page under paths into the run folder out (continuing an unfinished run there)."""
    options.validate()
    paths = list(paths)
    items = iter_pages(paths, ingest_options(options), defer=True)  # raises for a missing path now
    set_overlays(options.lexicon_files)  # this process compares across sources with the same lexicons
    registry = load_rules(options)  # a broken rule or lexicon file stops the run before it starts
    writer = RunWriter(out)
    meta = run_meta(paths, options)
    try:
        done = writer.open(meta)
        summary = RunSummary(out=Path(out), resumed=len(done))
        bar = _progress_bar(paths, options, len(done))
        try:
            seen: set = set()
            with DuplicateIndex(writer.out / DUPLICATE_INDEX) as index:
                order = _InOrder(writer, bar, window=0, index=index)
                engine, tasks, summary.engine = _engine(options, _plan(items, dict(done), order, seen))
                with engine:
                    order.window = max(64, WINDOW_PER_SLOT * engine.capacity)
                    for result in engine.run(tasks, order.can_take):
                        order.put(result.seq, result)
                    assert not order.pending, "pages left unwritten"
                    if bar is not None:
                        bar.close()
                        bar = None
                    writer.drop_pages({pid for key, pid in done.items() if key not in seen})
                    writer.add_comparison(_comparison(writer, registry, options, engine), meta)
        finally:
            if bar is not None:
                bar.close()
        writer.finish(meta, summary)
    finally:
        writer.release()
    if options.report:
        from .report import build_report
        build_report(Path(out))
    return summary


def _comparison(writer: RunWriter, registry, options: AuditOptions, engine) -> Iterator[tuple[list[dict], list[dict]]]:
    """The cross-source step, (findings, topics) a part at a time: in this process, or on the Dask cluster
    (a dataframe group-by on intervention) when the claims are more than one part."""
    if isinstance(engine, DaskEngine) and not writer.claims_fit_one_part():
        return engine.compare(writer.compared_claims(), options, COMPARE_PART_BYTES)
    return (compare_sources(part, registry, options) for part in writer.claims_for_comparison())


def summarise(summary: RunSummary, rows: dict[str, list[dict]]) -> RunSummary:
    for page in rows["pages"]:
        summary.count_page(page)
    summary.claims = len(rows["claims"])
    for f in rows["findings"]:
        summary.count_finding(f)
    return summary


# -- progress -------------------------------------------------------------------------------------

def _progress_bar(paths: list, options: AuditOptions, initial: int):
    show = options.progress if options.progress is not None else sys.stderr.isatty()
    if not show:
        return None
    from tqdm import tqdm

    class Bar(tqdm):
        monitor_interval = 0  # no monitor thread: worker processes are forked while the bar runs

    return Bar(total=estimate_pages(paths), initial=initial, unit="page", desc="auditing", file=sys.stderr,
               dynamic_ncols=True, smoothing=0.05)


def estimate_pages(paths: list) -> int | None:
    """How many pages the input holds, for the progress bar's ETA: one per file, one per line of an
    uncompressed JSONL file; None when an archive makes it unknowable without reading it."""
    total = 0
    for path in map(Path, paths):
        files = [path] if not path.is_dir() else (
            Path(root) / name for root, dirs, names in os.walk(path)
            for name in names if not name.startswith(".") and name != "manifest.csv"
            if not any(part.startswith(".") for part in Path(root).relative_to(path).parts))
        for file in files:
            lower = file.name.lower()
            if lower.endswith((".gz", ".warc")):
                return None
            if lower.endswith(".jsonl"):
                try:
                    with open(file, "rb") as fh:
                        total += sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
                except OSError:
                    total += 1
            else:
                total += 1
    return total


# -- tables ---------------------------------------------------------------------------------------

def iter_jsonl(path: Path) -> Iterator[dict]:
    """The rows of a JSONL file; a missing file has none, a line that is not a JSON object is skipped,
    a torn last line (no newline) ends it."""
    for line in _complete_lines(path):
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict):
            yield row


def _complete_lines(path: Path) -> Iterator[bytes]:
    """The lines of a file this run wrote itself (no torn last line), without parsing them."""
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        return
    with fh:
        for line in fh:
            if not line.endswith(b"\n"):
                break
            if line.strip():
                yield line


def _filter_jsonl(path: Path, keep: Callable[[dict, int], bool], stop_at_bad: bool = False) -> None:
    """Keep the rows for which keep(row, n) holds (n counts the valid rows); rewrite only when needed."""
    if not path.exists():
        return
    changed, n = False, 0
    with _atomic_file(path, "wb") as out, open(path, "rb") as fh:
        for line in fh:
            try:
                row = json.loads(line) if line.endswith(b"\n") else None
            except ValueError:
                row = None
            if not isinstance(row, dict):
                changed = True
                if stop_at_bad:
                    break
                continue
            if keep(row, n):
                out.write(line)
            else:
                changed = True
            n += 1
        if not changed:
            out.discard()


def _table_columns(path: Path, on_row: Callable[[dict], None] | None) -> tuple[list[str], dict[str, set], int]:
    columns: dict[str, None] = {}
    kinds: dict[str, set] = {}
    n = 0
    for row in iter_jsonl(path):
        n += 1
        if on_row is not None:
            on_row(row)
        for k, v in row.items():
            if k not in columns:
                columns[k] = None
                kinds[k] = set()
            if v is None:
                continue
            if isinstance(v, bool):
                kinds[k].add("bool")
            elif isinstance(v, int):
                kinds[k].add("int" if -2**63 <= v < 2**63 else "text")
            elif isinstance(v, float):
                kinds[k].add("float")
            elif isinstance(v, str):
                kinds[k].add("str")
            else:
                kinds[k].add("json")
    return list(columns), kinds, n


def _arrow_type(kinds: set):
    import pyarrow as pa
    if kinds == {"bool"}:
        return pa.bool_()
    if kinds == {"int"}:
        return pa.int64()
    if kinds and kinds <= {"int", "float"}:
        return pa.float64()
    return pa.string()


def _converter(kinds: set) -> Callable | None:
    """What turns a JSON value into its Parquet column's type; None when nothing needs doing."""
    if kinds <= {"str"} or kinds == {"bool"} or kinds == {"int"} or kinds == {"float"}:
        return None
    if kinds <= {"int", "float"}:
        return lambda v: None if v is None else float(v)
    return lambda v: v if v is None or isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str)


def _table_job(run_dir: Path, name: str) -> tuple[str, int, dict]:
    """Write one table's CSV and Parquet files; the counts the run summary needs come back."""
    key = {"pages": "status", "findings": "level"}.get(name)
    counts: dict = {}

    def count(row: dict) -> None:
        counts[row.get(key)] = counts.get(row.get(key), 0) + 1

    return name, write_table_files(run_dir, name, count if key else None), counts


def _write_tables(run_dir: Path) -> list[tuple[str, int, dict]]:
    """All four tables, in parallel processes where fork is cheap (the big ones take a while)."""
    jobs = ("findings", "claims", "pages", "topics")  # the largest first
    if not sys.platform.startswith("linux") or (os.cpu_count() or 1) < 2:
        return [_table_job(run_dir, name) for name in jobs]
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=min(len(jobs), os.cpu_count() or 1), mp_context=mp.get_context("fork")) as ex:
        return list(ex.map(_table_job, [run_dir] * len(jobs), jobs))


def write_table_files(run_dir: Path, name: str, on_row: Callable[[dict], None] | None = None) -> int:
    """``NAME.csv`` and ``NAME.parquet`` from ``NAME.jsonl``, streamed and each written atomically.

    Lists and dicts become JSON text in both (so every Parquet column has one plain type); numbers
    mixed with text become text. Returns the number of rows.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    run_dir = Path(run_dir)
    source = run_dir / f"{name}.jsonl"
    columns, kinds, n = _table_columns(source, on_row)
    schema = pa.schema([(c, _arrow_type(kinds[c])) for c in columns])
    convert = [(c, _converter(kinds[c])) for c in columns]
    nested = [c for c in columns if "json" in kinds[c]]

    def flush(pw, batch):
        data = {c: [r.get(c) for r in batch] if f is None else [f(r.get(c)) for r in batch] for c, f in convert}
        pw.write_table(pa.Table.from_pydict(data, schema=schema))

    with _atomic_file(run_dir / f"{name}.csv", "w") as csv_file, \
            _atomic_file(run_dir / f"{name}.parquet", "wb") as parquet_file:
        writer = csv.DictWriter(csv_file.file, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        with pq.ParquetWriter(parquet_file.file, schema) as pw:
            batch: list[dict] = []
            for row in iter_jsonl(source):
                for c in nested:
                    v = row.get(c)
                    if isinstance(v, (list, dict)):
                        row[c] = json.dumps(v, ensure_ascii=False)
                writer.writerow(row)
                batch.append(row)
                if len(batch) >= PARQUET_BATCH:
                    flush(pw, batch)
                    batch = []
            if batch or n == 0:
                flush(pw, batch)
    return n


# -- writing files ------------------------------------------------------------------------------

def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def write_csv(path: Path, rows: list[dict]) -> None:
    """A flat CSV twin: nested values (lists, dicts) as JSON text."""
    columns: list[str] = []
    for r in rows:
        columns.extend(k for k in r if k not in columns)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else v
                         for k, v in r.items()})
    atomic_write(path, buf.getvalue())


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _difference(before: dict, now: dict) -> str:
    names = {"inputs": "inputs", "resolved": "inputs", "version": "auditor version", "model": "model",
             "include_comments": "--include-comments", "select": "rule selection (--select)",
             "ignore": "rule selection (--ignore)", "levels": "rule levels", "rule_folders": "rule folders",
             "lexicon_files": "lexicons", "max_bytes": "page size limit", "max_text_chars": "page size limit"}
    differing = sorted({names.get(k, k) for k in set(before) | set(now) if before.get(k) != now.get(k)})
    return " and ".join(differing) or "settings"
