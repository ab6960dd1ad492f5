"""Reviewed findings: a baseline file of editors' decisions, kept in version control.

``auditor review RUN FINDING_ID --decision accepted|dismissed|fixed`` records a decision in the
baseline (``auditor-baseline.json`` by default): JSON, one entry per finding id, sorted, so that a
change is a small diff. ``auditor audit ... --baseline FILE`` then marks each finding of the run
with its review and leaves the reviewed ones out of the exit code:

* accepted (the claim stands as written) and dismissed (not a real problem) findings are hidden;
  with ``--new-only`` they are dropped from the run folder too;
* a finding marked fixed that is still found is counted again: the fix did not reach the page.

Finding ids are fingerprints (rule + page URL + normalised claim text, see :mod:`auditor.findings`),
so a review survives re-crawls and markup changes but not a changed figure.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

from .errors import OptionsError
from .files import atomic_write, read_jsonl, write_jsonl

FORMAT = 1
DEFAULT_FILE = "auditor-baseline.json"
DECISIONS = ("accepted", "dismissed", "fixed")
HIDDEN = frozenset({"accepted", "dismissed"})  # decisions that take a finding out of the exit code
ENTRY_KEYS = ("finding_id", "rule", "page", "url", "claim", "decision", "reviewer", "reason", "date")
REVIEW_KEYS = ("decision", "reviewer", "reason", "date")


# -- the baseline file ---------------------------------------------------------------------------

@dataclass
class Baseline:
    path: Path
    entries: dict[str, dict] = field(default_factory=dict)  # finding_id -> entry
    exists: bool = False

    @classmethod
    def load(cls, path: Path | str) -> "Baseline":
        """The baseline at path; a file that does not exist yet is an empty baseline."""
        path = Path(path)
        if not path.exists():
            return cls(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as e:
            raise OptionsError(f"{path}: cannot read the baseline: {e.strerror}", "E326") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            where = f"{path}:{e.lineno}" if isinstance(e, json.JSONDecodeError) else str(path)
            raise OptionsError(f"{where}: the baseline is not valid JSON ({getattr(e, 'msg', e)}); "
                               "fix or restore it from version control", "E326") from None
        if not isinstance(data, dict) or not isinstance(data.get("findings"), list):
            raise OptionsError(f"{path}: not an auditor baseline (expected {{\"format\": 1, \"findings\": [...]}})",
                               "E326")
        entries = {}
        for n, entry in enumerate(data["findings"], 1):
            problem = _entry_problem(entry)
            if problem:
                raise OptionsError(f"{path}: entry {n}: {problem}", "E326")
            entries[entry["finding_id"]] = entry
        return cls(path, entries, True)

    def record(self, finding: dict, decision: str, reviewer: str, reason: str,
               when: date | str | None = None) -> tuple[dict, bool]:
        """Add (or replace) the decision on finding; returns (entry, replaced an earlier one)."""
        if decision not in DECISIONS:
            raise OptionsError(f"--decision must be one of {', '.join(DECISIONS)}, not {decision!r}", "E327")
        if not reviewer.strip():
            raise OptionsError("--reviewer must name who decided", "E327")
        first = (finding.get("claims") or [{}])[0]
        entry = {
            "finding_id": finding["finding_id"],
            "rule": finding.get("rule", ""),
            "page": finding.get("page") or first.get("page") or "",
            "url": finding.get("url") or first.get("url") or "",
            "claim": " | ".join(c.get("text") or "" for c in finding.get("claims") or []),
            "decision": decision,
            "reviewer": reviewer.strip(),
            "reason": " ".join(reason.split()),
            "date": _iso_date(when),
        }
        replaced = entry["finding_id"] in self.entries
        self.entries[entry["finding_id"]] = entry
        return entry, replaced

    def text(self) -> str:
        """The file's text: sorted entries, sorted keys, one key a line (diff-friendly)."""
        rows = [{k: self.entries[i][k] for k in ENTRY_KEYS} for i in sorted(self.entries)]
        return json.dumps({"format": FORMAT, "findings": rows}, indent=2, ensure_ascii=False) + "\n"

    def save(self) -> None:
        try:
            atomic_write(self.path, self.text())
        except OSError as e:
            raise OptionsError(f"cannot write the baseline {self.path}: {e.strerror}", "E305") from None
        self.exists = True


def _entry_problem(entry) -> str:
    if not isinstance(entry, dict):
        return "each entry is an object"
    unknown = sorted(set(entry) - set(ENTRY_KEYS))
    if unknown:
        return f"unknown key(s) {', '.join(unknown)}"
    missing = [k for k in ("finding_id", "decision", "date") if not entry.get(k)]
    if missing:
        return f"missing {', '.join(missing)}"
    if entry["decision"] not in DECISIONS:
        return f"decision must be one of {', '.join(DECISIONS)}, not {entry['decision']!r}"
    try:
        date.fromisoformat(str(entry["date"]))
    except ValueError:
        return f"date must be YYYY-MM-DD, not {entry['date']!r}"
    return ""


def _iso_date(when: date | str | None) -> str:
    if when is None:
        return datetime.now(timezone.utc).date().isoformat()
    if isinstance(when, date):
        return when.isoformat()
    try:
        return date.fromisoformat(when).isoformat()
    except ValueError:
        raise OptionsError(f"--date must be YYYY-MM-DD, not {when!r}", "E327") from None


# -- the run folder ------------------------------------------------------------------------------

def read_findings(run_dir: Path | str) -> list[dict]:
    run = Path(run_dir)
    file = run / "findings.jsonl"
    if not (run / "pages.jsonl").is_file() or not file.is_file():
        raise OptionsError(f"{run} is not a run folder (no pages.jsonl/findings.jsonl); write one with `auditor audit`",
                           "E306")
    return read_jsonl(file)


def find_finding(findings: list[dict], ident: str) -> dict:
    """The finding with this id, or the only one whose id starts with it."""
    exact = [f for f in findings if f.get("finding_id") == ident]
    if exact:
        return exact[0]
    matches = [f for f in findings if str(f.get("finding_id", "")).startswith(ident)] if len(ident) >= 4 else []
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise OptionsError(f"{ident!r} matches {len(matches)} findings ({', '.join(f['finding_id'] for f in matches[:4])}"
                           f"{', ...' if len(matches) > 4 else ''}); give more of the id", "E328")
    raise OptionsError(f"no finding {ident!r} in this run; finding ids are in findings.jsonl and the report", "E328")


def review(run_dir: Path | str, finding_ids: list[str], decision: str, reviewer: str, reason: str,
           baseline_file: Path | str = DEFAULT_FILE, when: date | str | None = None) -> list[tuple[dict, bool]]:
    """Record a decision on each finding of the run into the baseline file; [(entry, replaced)]."""
    findings = read_findings(run_dir)
    chosen = [find_finding(findings, i) for i in finding_ids]  # every id is checked before anything is written
    baseline = Baseline.load(baseline_file)
    done = [baseline.record(f, decision, reviewer, reason, when) for f in chosen]
    baseline.save()
    return done


@dataclass
class ReviewSummary:
    baseline: Path
    exists: bool = False
    findings: int = 0  # in the run
    hidden: int = 0  # accepted or dismissed: out of the exit code
    dropped: int = 0  # removed from the run folder (--new-only)
    fixed_present: int = 0  # marked fixed but still found
    stale: int = 0  # reviews that match no finding of this run
    by_level: dict = field(default_factory=dict)  # findings that still count, by level
    oldest: str | None = None  # date of the oldest review that hides a finding

    def oldest_age_days(self, today: date | None = None) -> int | None:
        if not self.oldest:
            return None
        return ((today or datetime.now(timezone.utc).date()) - date.fromisoformat(self.oldest)).days

    def line(self, today: date | None = None) -> str:
        """One line for the terminal."""
        if not self.exists:
            return (f"baseline {self.baseline}: no such file yet, nothing hidden "
                    f"(`auditor review` creates it)")
        verb = "left out (--new-only)" if self.dropped else "hidden"
        parts = [f"baseline {self.baseline}: {self.hidden} reviewed finding{'s' * (self.hidden != 1)} {verb}"]
        if self.oldest:
            age = self.oldest_age_days(today)
            parts[0] += f", oldest review {self.oldest} ({age} day{'s' * (age != 1)} ago)"
        if self.fixed_present:
            parts.append(f"{self.fixed_present} marked fixed still found (counted again)")
        if self.stale:
            parts.append(f"{self.stale} review{'s' * (self.stale != 1)} match no finding in this run")
        return "; ".join(parts)


def apply(run_dir: Path | str, baseline_file: Path | str, new_only: bool = False) -> ReviewSummary:
    """Mark the run's findings with their reviews; with new_only drop the hidden ones.

    Rewrites findings.jsonl (and its CSV and Parquet twins) in the run folder (and notes the baseline in run.json);
    returns the counts the exit code and the summary line use.
    """
    from . import batch
    run = Path(run_dir)
    findings = read_findings(run)
    baseline = Baseline.load(baseline_file)
    summary = ReviewSummary(baseline=Path(baseline_file), exists=baseline.exists, findings=len(findings))
    kept, seen = [], set()
    for f in findings:
        entry = baseline.entries.get(f.get("finding_id", ""))
        f["review"] = {k: entry[k] for k in REVIEW_KEYS} if entry else None
        if entry:
            seen.add(entry["finding_id"])
        if entry and entry["decision"] in HIDDEN:
            summary.hidden += 1
            summary.oldest = min(summary.oldest or entry["date"], entry["date"])
            if new_only:
                summary.dropped += 1
                continue
        else:
            if entry:  # fixed, yet still on the page
                f["review"]["still_found"] = True
                summary.fixed_present += 1
            summary.by_level[f["level"]] = summary.by_level.get(f["level"], 0) + 1
        kept.append(f)
    summary.stale = len(set(baseline.entries) - seen)
    write_jsonl(run / "findings.jsonl", kept)
    batch.write_table_files(run, "findings")  # the CSV and Parquet twins, as the run wrote them
    meta_file = run / "run.json"
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8")) if meta_file.is_file() else {}
    except (OSError, ValueError):
        meta = {}
    if isinstance(meta, dict):
        meta["baseline"] = {"file": str(baseline_file), "new_only": new_only, "hidden": summary.hidden,
                            "dropped": summary.dropped, "fixed_still_found": summary.fixed_present,
                            "stale": summary.stale, "oldest_review": summary.oldest}
        atomic_write(meta_file, json.dumps(meta, indent=2, default=str))
    return summary


def counted(findings: list[dict]) -> list[dict]:
    """The findings that still count: not hidden by an accepted or dismissed review."""
    return [f for f in findings if not (f.get("review") and f["review"].get("decision") in HIDDEN)]
