"""The Python API: audit pages, get pandas DataFrames.

    from auditor.api import audit_corpus, audit_page

    result = audit_corpus(["corpus/"])                  # a temporary run folder, removed afterwards
    result.findings.groupby("rule").size()
    result = audit_corpus(["corpus/"], out="runs/june")  # keeps the run folder (continues an unfinished one)
    one = audit_page("Most patients are back at work in 2 weeks, and 98% are pain-free.")
    one.claims[["text", "kind", "category", "low", "high", "unit"]]

``AuditResult`` holds four DataFrames with the columns of the run folder's tables: ``pages`` (one row
per input page, with its status), ``claims``, ``findings`` (per-page and cross-source) and ``topics``.
Nested values (a finding's claims, a claim's qualifiers) stay Python lists and dicts. An empty table
still has its columns.

``audit_corpus`` runs :func:`auditor.batch.run_audit`: the same engines, duplicate detection and time
budget as ``auditor audit``; options default to ``AuditOptions(report=False)``. ``audit_page`` audits
one page in this process with a cached pipeline (built on the first call, reused while the options
that shape it stay the same), including the checks against literature values.
"""
from __future__ import annotations

import dataclasses
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable

import pandas as pd

from .batch import RunSummary, iter_jsonl, run_audit
from .claims import Claim
from .compare import compare_sources
from .engines import auditor_for
from .findings import Finding
from .options import AuditOptions
from .page import Page

COLUMNS = {
    "pages": ["page", "source", "url", "title", "path", "fetched_at", "words", "status", "error_code", "error",
              "duplicate_of", "claims", "findings", "version", "text_file"],
    "claims": ["claim_id", "page", "source", "url"] + [f.name for f in dataclasses.fields(Claim)],
    "findings": [f.name for f in dataclasses.fields(Finding)],
    "topics": ["topic", "unit", "label", "entries", "reference", "conflict", "groups"],
}


@dataclass
class AuditResult:
    pages: pd.DataFrame
    claims: pd.DataFrame
    findings: pd.DataFrame
    topics: pd.DataFrame
    summary: RunSummary | None = None  # audit_corpus: the run's counts
    out: Path | None = None  # audit_corpus with out=: the run folder

    def __repr__(self) -> str:
        return (f"AuditResult({len(self.pages)} pages, {len(self.claims)} claims, {len(self.findings)} findings, "
                f"{len(self.topics)} topics)")


def frame(name: str, rows: Iterable[dict]) -> pd.DataFrame:
    """A DataFrame of one table's rows: the known columns first (present even with no rows), then any others."""
    rows = list(rows)
    df = pd.DataFrame.from_records(rows) if rows else pd.DataFrame()
    known = COLUMNS.get(name, [])
    columns = known + [c for c in df.columns if c not in known]
    return df.reindex(columns=columns)


def load_run(out: Path | str) -> AuditResult:
    """The tables of a run folder as DataFrames."""
    out = Path(out)
    return AuditResult(**{name: frame(name, iter_jsonl(out / f"{name}.jsonl")) for name in COLUMNS}, out=out)


def audit_corpus(paths: str | Path | Iterable[str | Path], options: AuditOptions | None = None,
                 out: str | Path | None = None) -> AuditResult:
    """Audit every page under paths (files or folders: text, HTML, JSONL, WARC); tables as DataFrames.

    With ``out``, the run folder is written there and kept (an unfinished run there is continued, see
    :mod:`auditor.batch`); without it, a temporary folder is used, and no HTML report is written.
    """
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    options = replace(options) if options is not None else AuditOptions(report=False)
    if out is not None:
        summary = run_audit(paths, Path(out), options)
        result = load_run(out)
        result.summary = summary
        return result
    folder = Path(tempfile.mkdtemp(prefix="auditor-run-"))
    try:
        summary = run_audit(paths, folder, replace(options, report=False))
        result = load_run(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    result.summary, result.out = summary, None
    return result


def audit_page(text_or_page: str | Page, options: AuditOptions | None = None, *, id: str = "page",
               url: str = "", source: str = "") -> AuditResult:
    """Audit one page: a Page, or its text (HTML when it starts with a tag, plain text otherwise)."""
    from .ingest import read_html, read_text

    options = options if options is not None else AuditOptions(report=False)
    if isinstance(text_or_page, Page):
        page = text_or_page
    elif isinstance(text_or_page, str):
        reader = read_html if text_or_page.lstrip().startswith("<") else read_text
        page = reader(text_or_page, id=id, url=url, source=source)
    else:
        raise TypeError(f"audit_page takes a str or a Page, not {type(text_or_page).__name__}")
    auditor = auditor_for(options, 1)
    result = auditor.audit_page(page)
    cross, topics = compare_sources(result.claims, auditor.registry, options)
    return AuditResult(pages=frame("pages", [result.page]), claims=frame("claims", result.claims),
                       findings=frame("findings", result.findings + cross), topics=frame("topics", topics))
