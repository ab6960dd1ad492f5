"""Runs of many pages: ingest -> audit each page -> compare across sources -> write the run folder.

The run folder (``--out DIR``) holds ``pages.jsonl`` (every input page with its status),
``claims.jsonl``, ``findings.jsonl``, ``topics.jsonl``, their CSV twins, ``texts/`` (page texts
for the report) and ``run.json``.
"""
from __future__ import annotations

import csv
import json
import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Iterator

from . import __version__
from .audit import Auditor, PageResult
from .compare import compare_sources
from .errors import OptionsError
from .findings import level_rank
from .ingest import IngestOptions, PageFailure, find_duplicates, iter_pages, safe_filename
from .options import AuditOptions
from .page import Page

TABLES = ("pages", "claims", "findings", "topics")


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

    def worst_level(self) -> str | None:
        levels = [lvl for lvl, n in self.findings_by_level.items() if n]
        return max(levels, key=level_rank) if levels else None


def ingest_options(options: AuditOptions) -> IngestOptions:
    return IngestOptions(max_bytes=options.max_bytes, max_text_chars=options.max_text_chars)


def read_pages(paths: Iterable[str | Path], options: AuditOptions) -> Iterator[Page | PageFailure]:
    return iter_pages(paths, ingest_options(options))


def audit_pages(items: Iterable[Page | PageFailure], auditor: Auditor) -> Iterator[PageResult]:
    """Each page audited in turn; duplicates of an earlier page are reported, not audited again."""
    seen: list[Page] = []
    for item in items:
        if isinstance(item, PageFailure):
            yield PageResult(page=item.as_record())
            continue
        duplicate_of = find_duplicates(seen + [item]).get(item.id) if seen else None
        if duplicate_of:
            record = item.as_record()
            record.update(status="duplicate", duplicate_of=duplicate_of, error_code="", error="")
            yield PageResult(page=record)
            continue
        seen.append(item)
        yield auditor.audit_page(item)


class RunWriter:
    """Writes a run folder; every table is written to a temporary file and moved into place."""

    def __init__(self, out: Path):
        self.out = Path(out)
        try:
            (self.out / "texts").mkdir(parents=True, exist_ok=True)
            probe = self.out / ".write-test"
            probe.write_text("")
            probe.unlink()
        except OSError as e:
            raise OptionsError(f"cannot write to the output folder {self.out}: {e.strerror}", "E305") from None
        self.rows: dict[str, list[dict]] = {name: [] for name in TABLES}

    def add(self, result: PageResult) -> None:
        page = dict(result.page)
        if result.text is not None:
            name = f"texts/{safe_filename(page['page'])}.json"
            atomic_write(self.out / name, json.dumps(result.text, ensure_ascii=False))
            page["text_file"] = name
        self.rows["pages"].append(page)
        self.rows["claims"].extend(result.claims)
        self.rows["findings"].extend(result.findings)

    def finish(self, extra_findings: list[dict], topics: list[dict], meta: dict) -> None:
        self.rows["findings"].extend(extra_findings)
        self.rows["topics"] = topics
        for name in TABLES:
            write_jsonl(self.out / f"{name}.jsonl", self.rows[name])
            write_csv(self.out / f"{name}.csv", self.rows[name])
        atomic_write(self.out / "run.json", json.dumps(meta, indent=2, default=str))


def run_audit(paths: list[str | Path], out: Path, options: AuditOptions) -> RunSummary:
    """Audit every page under paths into the run folder out."""
    options.validate()
    items = read_pages(paths, options)  # raises for a missing path before anything is written
    writer = RunWriter(out)
    started = datetime.now(timezone.utc)
    auditor = Auditor(options)
    summary = RunSummary(out=Path(out))
    for result in audit_pages(items, auditor):
        writer.add(result)
    conflict_findings, topics = compare_sources(writer.rows["claims"], auditor.registry, options)
    meta = {"format": 1, "version": __version__, "started": started.isoformat(),
            "finished": datetime.now(timezone.utc).isoformat(), "inputs": [str(p) for p in paths],
            "settings": {"model": options.model or "blank:en", "engine": options.engine,
                         "fail_on": options.fail_on, "select": options.select, "ignore": options.ignore,
                         "include_comments": options.include_comments}}
    writer.finish(conflict_findings, topics, meta)
    summarise(summary, writer.rows)
    if options.report:
        from .report import build_report
        build_report(Path(out))
    return summary


def summarise(summary: RunSummary, rows: dict[str, list[dict]]) -> RunSummary:
    for page in rows["pages"]:
        summary.pages += 1
        status = page.get("status")
        if status == "audited":
            summary.audited += 1
        elif status == "duplicate":
            summary.duplicates += 1
        elif status == "skipped":
            summary.skipped += 1
        else:
            summary.failed += 1
    summary.claims = len(rows["claims"])
    for f in rows["findings"]:
        summary.findings_by_level[f["level"]] = summary.findings_by_level.get(f["level"], 0) + 1
    return summary


# -- writing files ------------------------------------------------------------------------------

def atomic_write(path: Path, text: str) -> None:
    """Write text to path so that a crash never leaves a half-written file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_jsonl(path: Path, rows: list[dict]) -> None:
    atomic_write(path, "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows))


def write_csv(path: Path, rows: list[dict]) -> None:
    """A flat CSV twin: nested values (lists, dicts) as JSON text."""
    columns: list[str] = []
    for r in rows:
        columns.extend(k for k in r if k not in columns)
    import io
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else v
                         for k, v in r.items()})
    atomic_write(path, buf.getvalue())
