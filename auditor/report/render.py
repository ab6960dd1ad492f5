"""Writes the report: jinja2 templates (autoescaped) filled from the view models, static files, data files."""
from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from ..files import atomic_write as _write
from . import views

# the policy written literally in templates/base.html.j2 (a test checks they agree)
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; base-uri 'none'; form-action 'none'")
STATIC_FILES = ("report.css", "report.js")


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("auditor.report", "templates"),
        autoescape=True,  # every template, every variable
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.globals["LEVELS"] = views.LEVELS
    return env


def js_data(name: str, data: Any) -> str:
    """A script that sets window.<name>; '<' is escaped so the data can never close a script element."""
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    body = body.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return f"window.{name} = {body};\n"


def copy_static(out_dir: Path) -> None:
    target = out_dir / "static"
    target.mkdir(parents=True, exist_ok=True)
    src = resources.files("auditor.report") / "static"
    for name in STATIC_FILES:
        _write(target / name, (src / name).read_bytes())


def write_report(run: views.Run, out_dir: Path) -> Path:
    env = environment()
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "pages").mkdir(exist_ok=True)
    (out_dir / "static" / "data").mkdir(parents=True, exist_ok=True)
    copy_static(out_dir)

    version = run.info.version
    _write(out_dir / "static" / "data" / "findings.js", js_data("AUDITOR_FINDINGS", views.findings_data(run)))
    _write(out_dir / "static" / "data" / "pages.js", js_data("AUDITOR_PAGES", views.pages_data(run)))

    page_tpl = env.get_template("page.html.j2")
    for view in views.iter_page_views(run):
        _write(out_dir / "pages" / f"{view.page.safe}.html", page_tpl.render(v=view))

    _write(out_dir / "topics.html", env.get_template("topics.html.j2").render(v=views.build_topics(run)))
    _write(out_dir / "findings.html", env.get_template("findings.html.j2").render(
        v=views.TablePage(views.Nav("", "findings"), version, len(run.findings), "static/data/findings.js")))
    _write(out_dir / "pages.html", env.get_template("pages.html.j2").render(
        v=views.TablePage(views.Nav("", "pages"), version, len(run.pages), "static/data/pages.js")))
    index = out_dir / "index.html"
    _write(index, env.get_template("index.html.j2").render(v=views.build_overview(run)))
    return index
