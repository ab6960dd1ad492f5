"""The ``auditor`` command: extract, audit, rules, explain, report, config, review, diff.

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
    c.add_argument("--format", choices=("jsonl", "csv", "lines"), default="jsonl",
                   help="lines: one per claim, path:line:col: claim KIND.CATEGORY 'text'")
    c.add_argument("-o", "--output", metavar="FILE", help="write here instead of standard output")
    c.add_argument("--model", metavar="NAME", help="an installed trained spaCy pipeline (default: blank English)")
    c.add_argument("--include-comments", action="store_true", help="also list claims in readers' comments")
    _config_flags(c)

    c = command("audit", "audit pages: claims, findings, conflicts across sources and the HTML report",
                "auditor audit corpus/ --out out/ --fail-on warning")
    c.add_argument("paths", nargs="+", metavar="PATH")
    c.add_argument("--out", required=True, metavar="DIR", help="the run folder to write")
    c.add_argument("--fail-on", default=None, choices=LEVELS + ("never",),
                   help="exit 1 when a finding reaches this level (default: error)")
    c.add_argument("--model", metavar="NAME")
    c.add_argument("--include-comments", action="store_true")
    c.add_argument("--select", action="append", default=[], metavar="ID", help="run only rules with this id or prefix")
    c.add_argument("--ignore", action="append", default=[], metavar="ID", help="skip rules with this id or prefix")
    c.add_argument("--no-report", action="store_true", help="do not write the HTML report")
    c.add_argument("--engine", choices=("local", "dask"), default="local",
                   help="local: processes on this machine (default); dask: a Dask cluster")
    c.add_argument("--workers", type=int, default=0, metavar="N",
                   help="processes (local) or local Dask workers; 0 = one per core (default)")
    c.add_argument("--scheduler", metavar="ADDRESS",
                   help="with --engine dask: the scheduler, e.g. tcp://10.0.0.5:8786 (default: a local cluster)")
    c.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="a progress bar on standard error (default: when it is a terminal)")
    c.add_argument("--time-budget", type=_seconds, default=None, metavar="SECONDS",
                   help="seconds of work per page before it is reported as failed (E410); 0 = no limit "
                        "(default: 60)")
    _config_flags(c)
    _workflow_flags(c)

    c = command("rules", "list the rule registry", "auditor rules --family PRM")
    c.add_argument("--family", metavar="PREFIX", help="only rules whose id starts with this")
    c.add_argument("--format", choices=("text", "json"), default="text")

    c = command("explain", "print a rule's rationale, what resolves it and examples", "auditor explain EVD001")
    c.add_argument("rule", metavar="ID")

    c = command("report", "(re)build the HTML report of a run folder", "auditor report out/")
    c.add_argument("run", metavar="DIR")
    _workflow_commands(command)
    return p


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number of seconds, 0 or more, not {text!r}")
    return value


def _config_flags(c) -> None:
    c.add_argument("--config", metavar="FILE", help="read settings from this file instead of the nearest "
                   "auditor.toml or pyproject.toml [tool.auditor]")
    c.add_argument("--no-config", action="store_true", help="ignore configuration files")


def _workflow_flags(c) -> None:
    c.add_argument("--level", action="append", default=[], metavar="RULE=LEVEL",
                   help="change a rule's (or a prefix's) level, e.g. --level PRM003=info")
    c.add_argument("--baseline", metavar="FILE", help="reviewed findings (from `auditor review`): marked in the "
                   "run and left out of the exit code")
    c.add_argument("--new-only", action="store_true", help="with --baseline: keep only findings not reviewed yet")
    c.add_argument("--format", choices=("lines",), default=None,
                   help="also print one line per finding to standard output: path:line:col: level RULE message")


def _workflow_commands(command) -> None:
    c = command("config", "print the effective configuration and where each value comes from",
                "auditor config --fail-on warning")
    c.add_argument("--select", action="append", default=[], metavar="ID")
    c.add_argument("--ignore", action="append", default=[], metavar="ID")
    c.add_argument("--fail-on", default=None, choices=LEVELS + ("never",))
    c.add_argument("--model", metavar="NAME")
    c.add_argument("--include-comments", action="store_true")
    _config_flags(c)
    c.add_argument("--level", action="append", default=[], metavar="RULE=LEVEL")
    c.add_argument("--baseline", metavar="FILE")
    c.add_argument("--format", choices=("text", "json"), default="text")

    c = command("review", "record a decision on findings of a run in the baseline file",
                "auditor review out/ PRM003-2a0c4934024b6ef6 --decision accepted --reviewer ana "
                "--reason \"award is named on the page\"")
    c.add_argument("run", metavar="RUN_DIR")
    c.add_argument("finding_ids", nargs="+", metavar="FINDING_ID", help="finding id(s), or a unique start of one")
    c.add_argument("--decision", required=True, choices=("accepted", "dismissed", "fixed"),
                   help="accepted: the claim stands; dismissed: not a problem; fixed: the page was corrected")
    c.add_argument("--reviewer", required=True, metavar="NAME")
    c.add_argument("--reason", required=True, metavar="TEXT")
    c.add_argument("--baseline", metavar="FILE", help="default: the configuration's baseline, else "
                   "./auditor-baseline.json")
    c.add_argument("--date", metavar="YYYY-MM-DD", help="record this date instead of today's")
    _config_flags(c)

    c = command("diff", "claims and findings added, removed and changed between two runs",
                "auditor diff out-june/ out-july/ --format text")
    c.add_argument("run_a", metavar="RUN_A")
    c.add_argument("run_b", metavar="RUN_B")
    c.add_argument("--format", choices=("text", "json", "csv"), default="text")
    c.add_argument("--out", metavar="FILE", help="write diff.json here (default: RUN_B/diff.json)")


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
    from .audit import Auditor
    from .batch import read_pages
    from .ingest import PageFailure
    from .lines import claim_rows, render

    options = _options(args, report=False)
    items = read_pages(args.paths, options)
    auditor = Auditor(options)
    rows, lines, failures = [], [], 0
    for item in items:
        if isinstance(item, PageFailure):
            failures += 1
            print(f"auditor: {item}", file=sys.stderr)
            continue
        claims = auditor.claims(item)
        rows.extend(c.as_record(item) for c in claims)
        lines.extend(claim_rows(item, claims) if args.format == "lines" else [])
    if args.format == "lines":
        _write_text("".join(line + "\n" for line in render(lines)), args.output)
    else:
        _write_rows(rows, args.format, args.output)
    return EXIT_PAGES_FAILED if failures else EXIT_CLEAN


def _write_rows(rows: list[dict], fmt: str, output: str | None) -> None:
    from .batch import write_csv
    from .files import atomic_write
    if fmt == "csv":
        if output:
            try:
                write_csv(Path(output), rows)
            except OSError as e:
                raise _cannot_write(output, e) from None
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
            raise _cannot_write(output, e) from None
    else:
        sys.stdout.write(text)


def _cannot_write(output: str, e: OSError) -> OptionsError:
    # FileExistsError: a file is where its folder should be
    reason = "Not a directory" if isinstance(e, FileExistsError) else e.strerror or str(e)
    return OptionsError(f"cannot write {output}: {reason}", "E305")


def cmd_audit(args) -> int:
    from .batch import run_audit

    budget = {} if args.time_budget is None else {"time_budget": args.time_budget}
    options = _options(args, engine=args.engine, workers=args.workers, scheduler=args.scheduler,
                       progress=args.progress, **budget)
    if args.scheduler and args.engine != "dask":
        raise OptionsError("--scheduler needs --engine dask", "E302")
    summary = run_audit(args.paths, Path(args.out), options)
    if summary.resumed:
        print(f"auditor: continued the unfinished run in {summary.out}: {summary.resumed} pages were already done",
              file=sys.stderr)
    _after_audit(args, options, summary)
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


def _options(args, **override) -> AuditOptions:
    """AuditOptions from the configuration file (if any) with the command line over it."""
    from dataclasses import replace
    from .config import resolve_options
    options = resolve_options(args)
    return replace(options, **override) if override else options


def _write_text(text: str, output: str | None) -> None:
    from .files import atomic_write
    if not output:
        sys.stdout.write(text)
        return
    try:
        atomic_write(Path(output), text)
    except OSError as e:
        raise _cannot_write(output, e) from None


def _after_audit(args, options: AuditOptions, summary) -> None:
    """Reviews from the baseline (they leave the exit code), then the terminal lines."""
    if options.baseline is not None:
        from .baseline import apply
        review = apply(summary.out, options.baseline, options.new_only)
        summary.findings_by_level = review.by_level
        if options.report:
            from .report import build_report
            build_report(Path(summary.out))
        print(f"auditor: {review.line()}", file=sys.stderr)
    if getattr(args, "format", None) == "lines":
        from .lines import finding_lines
        lines = finding_lines(summary.out)
        sys.stdout.write("".join(line + "\n" for line in lines))


def cmd_config(args) -> int:
    from .config import check_rule_references, describe, effective, load_config
    config, sources = load_config(None, args.config, discover=not args.no_config)
    values, sources = effective(config, sources, args)
    check_rule_references(values, sources)
    sys.stdout.write(describe(values, sources, args.format))
    return EXIT_CLEAN


def cmd_review(args) -> int:
    from .baseline import DEFAULT_FILE, review
    from .config import load_config
    baseline = args.baseline
    if baseline is None:
        config, _ = load_config(None, args.config, discover=not args.no_config)
        baseline = config.get("baseline") or DEFAULT_FILE
    done = review(args.run, args.finding_ids, args.decision, args.reviewer, args.reason, baseline, args.date)
    for entry, replaced in done:
        print(f"auditor: {'updated' if replaced else 'recorded'} {entry['finding_id']}: {entry['decision']} by "
              f"{entry['reviewer']} on {entry['date']} in {baseline}", file=sys.stderr)
    return EXIT_CLEAN


def cmd_diff(args) -> int:
    from .diff import diff_runs, render, write_diff
    result = diff_runs(args.run_a, args.run_b)
    out = Path(args.out) if args.out else Path(args.run_b) / "diff.json"
    if out.is_dir():
        out = out / "diff.json"
    write_diff(result, out)
    sys.stdout.write(render(result, args.format))
    print(f"auditor: wrote {out}", file=sys.stderr)
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
            "report": cmd_report, "config": cmd_config, "review": cmd_review, "diff": cmd_diff}

if __name__ == "__main__":
    sys.exit(main())
