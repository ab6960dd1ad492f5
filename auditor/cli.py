"""The ``auditor`` command: extract, audit, rules, explain, report.

Every command has help text with an example. User errors print one line and exit 2; ``--debug``
shows the traceback instead.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import __version__
from .errors import AuditorError, OptionsError
from .options import AuditOptions
from .rules import LEVELS

EXIT_CLEAN, EXIT_FINDINGS, EXIT_FAILED, EXIT_PAGES_FAILED = 0, 1, 2, 3


class ArgumentParser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage and exiting, so errors stay one line."""

    def error(self, message):
        raise OptionsError(f"{self.prog}: {message} (see --help)", "E300")


def _parser() -> ArgumentParser:
    p = ArgumentParser(prog="auditor", description="Find the claims on health-provider pages that need checking.",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="example:\n  auditor audit corpus/ --out out/\n\nexit codes: 0 clean, 1 findings at or "
                              "above --fail-on, 2 the tool failed, 3 some pages could not be read")
    p.add_argument("--version", action="version", version=f"auditor {__version__}")
    p.add_argument("--debug", action="store_true", help="show a traceback when something fails")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)

    def command(name, help, example):
        c = sub.add_parser(name, help=help, description=help, epilog=f"example:\n  {example}",
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        c.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        return c

    c = command("extract", "write the claims found on each page, one row each",
                "auditor extract corpus/ --format jsonl -o claims.jsonl")
    c.add_argument("paths", nargs="+", metavar="PATH", help="page files or folders (text, HTML, JSONL, WARC)")
    c.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    c.add_argument("-o", "--output", metavar="FILE", help="write here instead of standard output")
    c.add_argument("--model", metavar="NAME", help="an installed trained spaCy pipeline (default: blank English)")
    c.add_argument("--include-comments", action="store_true", help="also list claims in readers' comments")

    c = command("audit", "audit pages: claims, findings, conflicts across sources and the HTML report",
                "auditor audit corpus/ --out out/ --fail-on warning")
    c.add_argument("paths", nargs="+", metavar="PATH")
    c.add_argument("--out", required=True, metavar="DIR", help="the run folder to write")
    c.add_argument("--fail-on", default="error", choices=LEVELS + ("never",),
                   help="exit 1 when a finding reaches this level (default: error)")
    c.add_argument("--model", metavar="NAME")
    c.add_argument("--include-comments", action="store_true")
    c.add_argument("--select", action="append", default=[], metavar="ID", help="run only rules with this id or prefix")
    c.add_argument("--ignore", action="append", default=[], metavar="ID", help="skip rules with this id or prefix")
    c.add_argument("--no-report", action="store_true", help="do not write the HTML report")

    c = command("rules", "list the rule registry", "auditor rules --family PRM")
    c.add_argument("--family", metavar="PREFIX", help="only rules whose id starts with this")
    c.add_argument("--format", choices=("text", "json"), default="text")

    c = command("explain", "print a rule's rationale, what resolves it and examples", "auditor explain EVD001")
    c.add_argument("rule", metavar="ID")

    c = command("report", "(re)build the HTML report of a run folder", "auditor report out/")
    c.add_argument("run", metavar="DIR")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    try:
        args = _parser().parse_args(argv)
        if not args.command:
            _parser().print_help()
            return EXIT_CLEAN
        return COMMANDS[args.command](args)
    except AuditorError as e:
        if debug:
            raise
        print(f"auditor: {e}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("auditor: interrupted", file=sys.stderr)
        return EXIT_FAILED
    except Exception as e:  # the last line of defence: one line, not a traceback
        if debug:
            raise
        print(f"auditor: [E999] internal error: {type(e).__name__}: {e} (run with --debug for details)",
              file=sys.stderr)
        return EXIT_FAILED


def cmd_extract(args) -> int:
    from .batch import read_pages
    from .ingest import PageFailure
    from .nlp import load_pipeline
    from .audit import Auditor

    options = AuditOptions(model=args.model, include_comments=args.include_comments, report=False)
    items = read_pages(args.paths, options)
    auditor = Auditor(options)
    rows, failures = [], 0
    for item in items:
        if isinstance(item, PageFailure):
            failures += 1
            print(f"auditor: {item}", file=sys.stderr)
            continue
        rows.extend(c.as_record(item) for c in auditor.claims(item))
    _write_rows(rows, args.format, args.output)
    return EXIT_PAGES_FAILED if failures else EXIT_CLEAN


def _write_rows(rows: list[dict], fmt: str, output: str | None) -> None:
    from .batch import atomic_write, write_csv
    if fmt == "csv":
        if output:
            write_csv(Path(output), rows)
            return
        import csv
        cols: list[str] = []
        for r in rows:
            cols.extend(k for k in r if k not in cols)
        w = csv.DictWriter(sys.stdout, fieldnames=cols)
        w.writeheader()
        for r in rows:
            w.writerow({k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in r.items()})
        return
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    if output:
        try:
            atomic_write(Path(output), text)
        except OSError as e:
            raise OptionsError(f"cannot write {output}: {e.strerror}", "E305") from None
    else:
        sys.stdout.write(text)


def cmd_audit(args) -> int:
    from .batch import run_audit

    options = AuditOptions(model=args.model, include_comments=args.include_comments, fail_on=args.fail_on,
                           select=args.select, ignore=args.ignore, report=not args.no_report)
    summary = run_audit(args.paths, Path(args.out), options)
    levels = ", ".join(f"{summary.findings_by_level.get(lvl, 0)} {lvl}" for lvl in reversed(LEVELS))
    print(f"auditor: {summary.audited}/{summary.pages} pages audited ({summary.duplicates} duplicate, "
          f"{summary.skipped} skipped, {summary.failed} failed), {summary.claims} claims, findings: {levels}; "
          f"wrote {summary.out}", file=sys.stderr)
    if summary.failed:
        return EXIT_PAGES_FAILED
    worst = summary.worst_level()
    if options.fail_on != "never" and worst and LEVELS.index(worst) >= LEVELS.index(options.fail_on):
        return EXIT_FINDINGS
    return EXIT_CLEAN


def cmd_rules(args) -> int:
    from .rules import load_registry
    registry = load_registry()
    rules = [r for r in registry.rules.values() if not args.family or r.id.startswith(args.family.upper())]
    if args.format == "json":
        print(json.dumps([{"id": r.id, "name": r.name, "kind": r.kind, "level": r.level, "removed": r.removed,
                           "message": r.message, "source": r.source} for r in rules], indent=2))
        return EXIT_CLEAN
    for r in rules:
        state = " (removed)" if r.removed else ""
        print(f"{r.id}  {r.level:<7}  {r.kind:<9}  {r.name}{state}")
    return EXIT_CLEAN


def cmd_explain(args) -> int:
    from . import reference
    from .rules import load_registry
    rule = load_registry().get(args.rule)
    print(f"{rule.id} {rule.name} ({rule.level}, {rule.kind} rule)\n")
    print(f"Why: {rule.rationale}\n")
    print(f"What resolves it: {rule.resolve}")
    if rule.source:
        print(f"Source: {rule.source}")
    fixture = reference.path("rules", "fixtures", f"{rule.id}.yaml")
    if fixture.is_file():
        examples = reference.load_yaml(fixture)
        print("\nFlags:")
        for s in examples.get("flag", [])[:3]:
            print(f"  - {' '.join(s.split())}")
        print("Does not flag:")
        for s in examples.get("pass", [])[:3]:
            print(f"  - {' '.join(s.split())}")
    return EXIT_CLEAN


def cmd_report(args) -> int:
    from .report import build_report
    run = Path(args.run)
    if not (run / "pages.jsonl").is_file():
        raise OptionsError(f"{run} is not a run folder (no pages.jsonl); write one with `auditor audit`", "E306")
    index = build_report(run)
    print(f"auditor: wrote {index}", file=sys.stderr)
    return EXIT_CLEAN


COMMANDS = {"extract": cmd_extract, "audit": cmd_audit, "rules": cmd_rules, "explain": cmd_explain,
            "report": cmd_report}

if __name__ == "__main__":
    sys.exit(main())
