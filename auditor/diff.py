"""Changes between two runs (two crawls of the same sites): claims and findings added, removed, changed.

Pages are matched by URL (scheme, ``www.``, query and trailing slash ignored; the page id when
there is no URL). On each page, claims are paired in three passes:

1. unchanged: same kind, category, normalised text and sentence around it;
2. changed: the same sentence around the claim (the claim cut out, numbers masked) with a
   different claim in it, e.g. "84% of patients ..." -> "over 90% of patients ...";
3. changed: the same kind, category and topic (a rewritten sentence stating the same measure).

What is left is added (only in the second run) or removed (only in the first). Findings are matched
by their fingerprint (``finding_id``); one with the same id but another level or message is
changed. ``diff.json`` holds everything; the text, JSON and CSV forms are for the terminal.
"""
from __future__ import annotations

import csv
import io
import json
import re
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

from .errors import OptionsError
from .files import atomic_write, read_jsonl
from .findings import page_key

FORMAT = 1
ACROSS = "(across sources)"  # the page key of findings that compare sources
CLAIM_FIELDS = ("claim_id", "page", "source", "url", "kind", "category", "text", "sentence", "start", "end",
                "low", "high", "unit", "bound", "topic", "evidence")
FINDING_FIELDS = ("finding_id", "rule", "level", "message", "page", "source", "url", "topic")
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


# -- reading runs ---------------------------------------------------------------------------------

def load_run(run_dir: Path | str) -> dict:
    run = Path(run_dir)
    if not (run / "pages.jsonl").is_file():
        raise OptionsError(f"{run} is not a run folder (no pages.jsonl); write one with `auditor audit`", "E306")
    tables = {name: run / f"{name}.jsonl" for name in ("pages", "claims", "findings")}
    return {name: read_jsonl(file) if file.is_file() else [] for name, file in tables.items()}


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w%#§]+", " ", str(text or "").lower()).split())


def context_of(claim: dict) -> str:
    """The claim's sentence with the claim cut out and numbers masked: what stays when a figure changes."""
    sentence, text = claim.get("sentence") or "", claim.get("text") or ""
    s = (claim.get("start") or 0) - (claim.get("sentence_start") or 0)
    e = s + len(text)
    if 0 <= s and sentence[s:e] == text:
        cut = f"{sentence[:s]} § {sentence[e:]}"
    elif text and text.lower() in sentence.lower():
        s = sentence.lower().index(text.lower())
        cut = f"{sentence[:s]} § {sentence[s + len(text):]}"
    else:
        cut = sentence
    return _norm(NUMBER.sub("#", cut))


def _claim_row(c: dict, key: str) -> dict:
    row = {k: c.get(k) for k in CLAIM_FIELDS}
    row["page_key"] = key
    return row


def _finding_row(f: dict, key: str) -> dict:
    row = {k: f.get(k) for k in FINDING_FIELDS}
    row["page_key"] = key
    row["claims"] = [c.get("text") for c in f.get("claims") or []]
    return row


def _finding_key(f: dict) -> str:
    if f.get("page"):
        return page_key(f.get("url") or "", f["page"])
    keys = {page_key(c.get("url") or "", c.get("page") or "") for c in f.get("claims") or []}
    return next(iter(keys)) if len(keys) == 1 else ACROSS


# -- comparing ------------------------------------------------------------------------------------

def _pair(a: list[dict], b: list[dict], key) -> tuple[list[tuple[dict, dict]], list[dict], list[dict]]:
    """Pair items of a and b with equal key (None never pairs), in page order; (pairs, rest of a, rest of b)."""
    waiting: dict = defaultdict(list)
    for item in b:
        k = key(item)
        if k is not None:
            waiting[k].append(item)
    pairs, rest_a, used = [], [], set()
    for item in a:
        k = key(item)
        if k is not None and waiting.get(k):
            other = waiting[k].pop(0)
            pairs.append((item, other))
            used.add(id(other))
        else:
            rest_a.append(item)
    return pairs, rest_a, [item for item in b if id(item) not in used]


def compare_claims(a: list[dict], b: list[dict]) -> dict:
    """Claims of one page in two runs: {unchanged: [(a, b)], changed: [(a, b)], added: [b], removed: [a]}."""
    a = sorted(a, key=lambda c: (c.get("start") or 0))
    b = sorted(b, key=lambda c: (c.get("start") or 0))
    same, a, b = _pair(a, b, lambda c: (c.get("kind"), c.get("category"), _norm(c.get("text")), context_of(c)))
    by_context, a, b = _pair(a, b, lambda c: (c.get("kind"), context_of(c)) if context_of(c) else None)
    by_topic, a, b = _pair(a, b, lambda c: (c.get("kind"), c.get("category"), c["topic"]) if c.get("topic") else None)
    changed = []
    for x, y in by_context + by_topic:
        differs = ((_norm(x.get("text")), x.get("low"), x.get("high"), x.get("unit"))
                   != (_norm(y.get("text")), y.get("low"), y.get("high"), y.get("unit")))
        (changed if differs else same).append((x, y))
    return {"unchanged": same, "changed": changed, "added": b, "removed": a}


def diff_runs(run_a: Path | str, run_b: Path | str) -> dict:
    """Everything that changed from run_a to run_b, as one JSON-ready dict."""
    A, B = load_run(run_a), load_run(run_b)
    pages_a = {page_key(p.get("url") or "", p["page"]): p for p in A["pages"]}
    pages_b = {page_key(p.get("url") or "", p["page"]): p for p in B["pages"]}
    claims_a, claims_b = defaultdict(list), defaultdict(list)
    for c in A["claims"]:
        claims_a[page_key(c.get("url") or "", c["page"])].append(c)
    for c in B["claims"]:
        claims_b[page_key(c.get("url") or "", c["page"])].append(c)
    findings_a = {f["finding_id"]: f for f in A["findings"]}
    findings_b = {f["finding_id"]: f for f in B["findings"]}

    out = {"format": FORMAT, "run_a": str(run_a), "run_b": str(run_b),
           "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
           "claims": {"added": [], "removed": [], "changed": []},
           "findings": {"added": [], "removed": [], "changed": []}, "pages": []}
    per_page: dict[str, dict] = {}

    def page_entry(key: str) -> dict:
        if key not in per_page:
            pa, pb = pages_a.get(key), pages_b.get(key)
            status = "added" if pa is None and key != ACROSS else "removed" if pb is None and key != ACROSS else "both"
            per_page[key] = {"key": key, "source": (pb or pa or {}).get("source", ""),
                             "page_a": (pa or {}).get("page"), "page_b": (pb or {}).get("page"), "status": status,
                             "claims": {"added": 0, "removed": 0, "changed": 0, "unchanged": 0},
                             "findings": {"added": 0, "removed": 0, "changed": 0, "unchanged": 0}}
        return per_page[key]

    for key in sorted(set(pages_a) | set(pages_b) | set(claims_a) | set(claims_b)):
        entry = page_entry(key)
        result = compare_claims(claims_a.get(key, []), claims_b.get(key, []))
        entry["claims"]["unchanged"] = len(result["unchanged"])
        for before, after in result["changed"]:
            out["claims"]["changed"].append({"page_key": key, "before": _claim_row(before, key),
                                             "after": _claim_row(after, key)})
        for name in ("added", "removed"):
            out["claims"][name].extend(_claim_row(c, key) for c in result[name])
        for name in ("added", "removed", "changed"):
            entry["claims"][name] = len(result[name])

    for fid in sorted(set(findings_a) | set(findings_b)):
        fa, fb = findings_a.get(fid), findings_b.get(fid)
        key = _finding_key(fb or fa)
        entry = page_entry(key)
        if fa is None:
            out["findings"]["added"].append(_finding_row(fb, key))
            entry["findings"]["added"] += 1
        elif fb is None:
            out["findings"]["removed"].append(_finding_row(fa, key))
            entry["findings"]["removed"] += 1
        elif (fa.get("level"), fa.get("message")) != (fb.get("level"), fb.get("message")):
            out["findings"]["changed"].append({"page_key": key, "before": _finding_row(fa, key),
                                               "after": _finding_row(fb, key)})
            entry["findings"]["changed"] += 1
        else:
            entry["findings"]["unchanged"] += 1

    for name in ("added", "removed"):
        out["findings"][name].sort(key=lambda f: (f["page_key"], f["rule"], f["finding_id"]))
    out["findings"]["changed"].sort(key=lambda c: (c["page_key"], c["after"]["rule"], c["after"]["finding_id"]))
    for entry in per_page.values():
        if entry["status"] == "both":
            moved = any(entry[t][k] for t in ("claims", "findings") for k in ("added", "removed", "changed"))
            entry["status"] = "changed" if moved else "unchanged"
    out["pages"] = sorted(per_page.values(), key=lambda p: (p["source"] or "~", p["key"]))
    out["summary"] = {
        "pages": {s: sum(1 for p in out["pages"] if p["status"] == s and p["key"] != ACROSS)
                  for s in ("added", "removed", "changed", "unchanged")},
        "claims": {k: len(v) for k, v in out["claims"].items()},
        "findings": {k: len(v) for k, v in out["findings"].items()},
    }
    return out


def write_diff(diff: dict, file: Path) -> Path:
    try:
        atomic_write(file, json.dumps(diff, indent=2, ensure_ascii=False, default=str) + "\n")
    except OSError as e:
        raise OptionsError(f"cannot write {file}: {e.strerror}", "E305") from None
    return file


# -- showing it -----------------------------------------------------------------------------------

def _value(c: dict) -> str:
    return repr(c.get("text") or "")


def as_text(diff: dict) -> str:
    s = diff["summary"]
    lines = [f"{diff['run_a']} -> {diff['run_b']}",
             f"pages: {s['pages']['changed']} changed, {s['pages']['added']} added, {s['pages']['removed']} removed, "
             f"{s['pages']['unchanged']} unchanged; claims: +{s['claims']['added']} -{s['claims']['removed']} "
             f"~{s['claims']['changed']}; findings: +{s['findings']['added']} -{s['findings']['removed']} "
             f"~{s['findings']['changed']}"]
    moved = [p for p in diff["pages"] if p["status"] != "unchanged"]
    if moved:
        src_w = min(max(len("source"), *(len(p["source"] or "-") for p in moved)), 30)
        key_w = min(max(len("page"), *(len(p["key"]) for p in moved)), 60)
        lines += ["", f"{'source':<{src_w}}  {'page':<{key_w}}  {'status':<9}  claims +/-/~   findings +/-/~"]
        for p in moved:
            c, f = p["claims"], p["findings"]
            lines.append(f"{(p['source'] or '-')[:src_w]:<{src_w}}  {p['key'][:key_w]:<{key_w}}  {p['status']:<9}  "
                         f"{'+%d -%d ~%d' % (c['added'], c['removed'], c['changed']):<13}  "
                         f"+{f['added']} -{f['removed']} ~{f['changed']}")
    sections = [
        ("changed claims", [f"{ch['page_key']}  {ch['after']['kind']}.{ch['after']['category']}  "
                            f"{_value(ch['before'])} -> {_value(ch['after'])}"
                            + (f"  [{ch['after']['topic']}]" if ch['after'].get('topic') else "")
                            for ch in diff["claims"]["changed"]]),
        ("added claims", [f"{c['page_key']}  {c['kind']}.{c['category']}  {_value(c)}" for c in diff["claims"]["added"]]),
        ("removed claims", [f"{c['page_key']}  {c['kind']}.{c['category']}  {_value(c)}"
                            for c in diff["claims"]["removed"]]),
        ("changed findings", [f"{ch['page_key']}  {ch['after']['finding_id']}  {ch['before']['level']} -> "
                              f"{ch['after']['level']}  {ch['after']['message']}" for ch in diff["findings"]["changed"]]),
        ("added findings", [f"{f['page_key']}  {f['finding_id']}  {f['level']}  {f['message']}"
                            for f in diff["findings"]["added"]]),
        ("removed findings", [f"{f['page_key']}  {f['finding_id']}  {f['level']}  {f['message']}"
                              for f in diff["findings"]["removed"]]),
    ]
    for title, rows in sections:
        if rows:
            lines += ["", f"{title}:"] + [f"  {' '.join(r.split())}" for r in rows]
    return "\n".join(lines) + "\n"


CSV_COLUMNS = ("change", "item", "source", "page_key", "page", "kind", "what", "level", "before", "after",
               "finding_id", "detail")


# Claims and findings in the CSV: (section of the diff, item, the field shown before/after, the other columns)
_ROW_ITEMS = (
    ("claims", "claim", "text", lambda c: {"kind": c["kind"], "what": c["category"], "detail": c["sentence"]}),
    ("findings", "finding", "message", lambda f: {"what": f["rule"], "level": f["level"],
                                                  "finding_id": f["finding_id"]}),
)


def as_rows(diff: dict) -> list[dict]:
    rows = []
    for p in diff["pages"]:
        if p["status"] in ("added", "removed"):
            rows.append({"change": p["status"], "item": "page", "source": p["source"], "page_key": p["key"],
                         "page": p["page_b"] or p["page_a"]})
    for section, item, text, columns in _ROW_ITEMS:
        for ch in diff[section]["changed"]:
            a = ch["after"]
            rows.append({"change": "changed", "item": item, "source": a["source"], "page_key": ch["page_key"],
                         "page": a["page"], **columns(a), "before": ch["before"][text], "after": a[text]})
        for name, side in (("added", "after"), ("removed", "before")):
            for x in diff[section][name]:
                rows.append({"change": name, "item": item, "source": x["source"], "page_key": x["page_key"],
                             "page": x["page"], **columns(x), side: x[text]})
    return rows


def as_csv(diff: dict) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, extrasaction="ignore")
    w.writeheader()
    for row in as_rows(diff):
        w.writerow({k: row.get(k, "") for k in CSV_COLUMNS})
    return buf.getvalue()


def render(diff: dict, fmt: str = "text") -> str:
    if fmt == "json":
        return json.dumps(diff, indent=2, ensure_ascii=False, default=str) + "\n"
    if fmt == "csv":
        return as_csv(diff)
    return as_text(diff)
