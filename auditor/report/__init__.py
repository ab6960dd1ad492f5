"""The HTML report of an audit run: an overview, one view per page, topic charts and a findings table.

    from auditor.report import build_report
    index = build_report(Path("out/run-1"))          # writes out/run-1/index.html and friends

Output (beside index.html): pages.html, findings.html, topics.html, pages/<safe>.html (one per audited
page), static/report.css, static/report.js, static/data/findings.js and static/data/pages.js (the
table data, loaded with <script src> so the report works from file:// without a server).
"""
from __future__ import annotations

from pathlib import Path

__all__ = ["build_report"]


def build_report(run_dir: Path, out_dir: Path | None = None) -> Path:
    """Render the report of the run in run_dir into out_dir (default: run_dir); returns index.html."""
    from . import render, views

    run_dir = Path(run_dir)
    out = Path(out_dir) if out_dir is not None else run_dir
    run = views.load_run(run_dir)
    return render.write_report(run, out)
