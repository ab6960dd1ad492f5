"""Terminal output, one line per finding (or claim): ``path:line:col: level RULE message``.

Like a compiler's diagnostics, so editors, grep and CI annotations can read them. ``path`` is the
input file the page came from (pages.jsonl ``path``; the page id when there is none); line and
column are 1-based, counted in the page's extracted text at the claim's offset. Lines are sorted by
path and position.
"""
from __future__ import annotations

import json
from pathlib import Path

from .baseline import counted


def position(text: str, offset: int) -> tuple[int, int]:
    """1-based (line, column) of a character offset into text."""
    offset = max(0, min(int(offset or 0), len(text)))
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, col


def one_line(text: str) -> str:
    return " ".join(str(text).split())


def format_line(path: str, line: int, col: int, level: str, rule: str, message: str) -> str:
    return f"{path}:{line}:{col}: {level} {rule} {one_line(message)}"


def finding_lines(run_dir: Path | str, include_reviewed: bool = False) -> list[str]:
    """The run's findings as lines; reviewed ones that no longer count are left out unless asked for."""
    run = Path(run_dir)
    pages = {p["page"]: p for p in _jsonl(run / "pages.jsonl")}
    findings = _jsonl(run / "findings.jsonl")
    if not include_reviewed:
        findings = counted(findings)
    texts: dict[str, str | None] = {}

    def text_of(page_id: str) -> str | None:
        if page_id not in texts:
            file = pages.get(page_id, {}).get("text_file")
            try:
                texts[page_id] = json.loads((run / file).read_text(encoding="utf-8"))["text"] if file else None
            except (OSError, ValueError, KeyError):
                texts[page_id] = None
        return texts[page_id]

    rows = []
    for f in findings:
        claim = (f.get("claims") or [{}])[0]
        page_id = claim.get("page") or f.get("page") or ""
        page = pages.get(page_id, {})
        path = page.get("path") or page_id or f.get("source") or "-"
        text = text_of(page_id)
        start = claim.get("start") or 0
        line, col = position(text, start) if text is not None else (1, 1)
        message = f["message"]
        if f.get("review"):
            message += f" [reviewed: {f['review'].get('decision')}]"
        rows.append(((path, line, col, f["rule"]), format_line(path, line, col, f["level"], f["rule"], message)))
    return render(rows)


def claim_rows(page, claims) -> list[tuple[tuple, str]]:
    """Claims of one page (``auditor extract``) as (sort key, line): ``path:line:col: claim KIND.CATEGORY 'text'``.

    Collect the rows of every page and pass them to :func:`render`, which sorts them.
    """
    path = page.path or page.id
    rows = []
    for c in claims:
        line, col = position(page.text, c.start)
        what = f"{c.kind}.{c.category}" if c.category else c.kind
        detail = f"{c.text!r}" + (f" topic {c.topic}" if c.topic else "")
        rows.append(((path, line, col, what), format_line(path, line, col, "claim", what, detail)))
    return rows


def render(rows: list[tuple[tuple, str]]) -> list[str]:
    return [text for _, text in sorted(rows, key=lambda r: r[0])]


def _jsonl(file: Path) -> list[dict]:
    if not file.is_file():
        return []
    with file.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
