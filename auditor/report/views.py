"""View models for the HTML report: plain dataclasses built from the records of a run directory.

Every decision the report makes lives here: which file name a page gets, which URLs become links,
how overlapping claims nest inside the page text, where a bar sits on a topic chart. The templates
only loop, branch and escape. Every field read from the run is treated as hostile: coerced to the
type we expect, never trusted as markup, and URLs are linked only when their scheme is http(s).
"""
from __future__ import annotations

import bisect
import hashlib
import heapq
import json
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Iterator
from urllib.parse import quote, urlencode, urlsplit

LEVELS = ("error", "warning", "info")
LEVEL_RANK = {"error": 3, "warning": 2, "info": 1}
KINDS = ("numeric", "promotional")
STATUSES = ("audited", "duplicate", "skipped", "failed")
FAMILIES = {
    "EVD": "evidence", "PRM": "promotional", "REG": "regulatory",
    "NUM": "numeric", "CNF": "cross-source conflict", "REF": "reference values",
}
UNIT_LABELS = {"percent": "%", "percentage": "%", "cup_size": "cup size", "bmi": "kg/m²", "lab": "(lab value)",
               "mmhg": "mmHg", "cfu": "CFU", "atmosphere": "ATA", "celsius": "°C", "fahrenheit": "°F",
               "degree": "°"}
BLOCK_KINDS = ("heading", "paragraph", "list_item", "cell", "quote", "comment", "title")

TOP_SOURCES = 25      # rows of the overview's source table
TOP_PAGES = 20        # rows of the overview's "pages with most findings"
MAX_LISTED = 100      # failed/skipped pages listed on the overview
MAX_NEST = 8          # deepest nesting of highlights inside one another
LABEL_CHARS = 32      # source labels on topic charts


# ============================================================================ coercion of hostile input

def s(value: Any) -> str:
    """Any JSON value as display text ("" for null)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def num(value: Any) -> float | None:
    """A finite number, or None."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def integer(value: Any, default: int = 0) -> int:
    v = num(value)
    return int(v) if v is not None else default


def level_of(value: Any) -> str:
    v = s(value).strip().lower()
    return v if v in LEVEL_RANK else "info"


def kind_of(value: Any) -> str:
    v = s(value).strip().lower()
    return v if v in KINDS else "other"


def http_url(value: Any) -> str | None:
    """The URL if its scheme is http or https (and it has a host), else None."""
    if not isinstance(value, str):
        return None
    u = value.strip()
    if not u or any(ord(c) < 0x20 or c == "\x7f" for c in u):
        return None
    try:
        parts = urlsplit(u)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return u


def pmid_url(pmid: Any) -> str | None:
    p = s(pmid).strip()
    return f"https://pubmed.ncbi.nlm.nih.gov/{p}/" if re.fullmatch(r"\d{1,10}", p) else None


def doi_url(doi: Any) -> str | None:
    d = s(doi).strip()
    if d.lower().startswith("https://doi.org/"):
        d = d[16:]
    if not re.fullmatch(r"10\.\d{2,9}/\S{1,300}", d):
        return None
    return "https://doi.org/" + quote(d, safe="/")


def fmt_num(value: float | None) -> str:
    """12,000 · 98.7 · 13.05 · 0.125 (at most two decimals from 1 up, three significant digits below)."""
    if value is None:
        return ""
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    if abs(value) >= 1:
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{value:.3g}"


PLURAL_UNITS = {"second", "minute", "hour", "day", "week", "month", "year", "decade", "session", "visit",
                "treatment", "injection", "appointment", "procedure"}


def unit_label(unit: Any, plural: bool = False) -> str:
    u = s(unit).strip()
    if plural and u.lower() in PLURAL_UNITS:
        return u + "s"
    return UNIT_LABELS.get(u.lower(), u)


def value_text(low: float | None, high: float | None, unit: Any = "", bound: Any = "") -> str:
    """'70–80 %', '≤ 90 %', '≥ 50 %', '90 %' — the interval a claim states."""
    if low is None and high is None:
        return ""
    u = unit_label(unit, plural=(low, high) not in ((1, 1), (None, 1), (1, None)))
    tail = ("" if u == "%" else " ") + u if u else ""
    if low is not None and high is not None:
        core = fmt_num(low) if low == high else f"{fmt_num(low)}\u2013{fmt_num(high)}"
    elif low is not None:
        core = f"\u2265 {fmt_num(low)}"
    else:
        core = f"\u2264 {fmt_num(high)}"
    return core + tail


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


def family_of(rule: str) -> str:
    return FAMILIES.get(rule[:3].upper(), "other")


def hash_href(page: str, **params: str) -> str:
    """A link to a table view with its filters in the fragment, e.g. findings.html#rule=EVD001."""
    q = urlencode({k: v for k, v in params.items() if v}, quote_via=quote)
    return f"{page}#{q}" if q else page


# ============================================================================ file names

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}


def safe_name(page_id: str, max_len: int = 80) -> str:
    """A file name for a page: only [A-Za-z0-9._-], never hidden or a path; hashed when changed."""
    name = re.sub(r"\.{2,}", ".", _UNSAFE.sub("_", page_id)).strip("._-")
    changed = (name != page_id or not name or len(name) > max_len
               or name.split(".")[0].lower() in _RESERVED or name.endswith("."))
    name = name[:max_len].rstrip(".")
    if changed:
        digest = hashlib.sha256(page_id.encode("utf-8", "surrogatepass")).hexdigest()[:10]
        name = f"{name}-{digest}" if name else digest
    return name


class NameAllocator:
    """Unique safe names, also on case-insensitive file systems."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def __call__(self, page_id: str) -> str:
        name = safe_name(page_id)
        if name.lower() in self.used:
            name = f"{safe_name(page_id, 60)}-{hashlib.sha256(page_id.encode('utf-8', 'surrogatepass')).hexdigest()[:10]}"
            n = 2
            base = name
            while name.lower() in self.used:
                name, n = f"{base}-{n}", n + 1
        self.used.add(name.lower())
        return name


# ============================================================================ reading the run

def read_json(path: Path, problems: list[str]) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except FileNotFoundError:
        problems.append(f"{path.name} is missing")
    except (OSError, ValueError) as e:
        problems.append(f"{path.name} is unreadable: {type(e).__name__}")
    return None


def read_jsonl(path: Path, problems: list[str]) -> Iterator[dict]:
    """Rows of a JSON-lines file; missing file = no rows; bad lines are counted, not fatal."""
    if not path.exists():
        problems.append(f"{path.name} is missing")
        return
    bad = 0
    with path.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                bad += 1
                continue
            if isinstance(row, dict):
                yield row
            else:
                bad += 1
    if bad:
        problems.append(f"{path.name}: {bad} unreadable line{'s' if bad != 1 else ''} skipped")


# ============================================================================ records

@dataclass(slots=True)
class RunInfo:
    version: str
    started: str
    finished: str
    duration: str
    settings: list[tuple[str, str]]
    inputs: list[str]
    more_inputs: int


@dataclass(slots=True)
class PageRow:
    id: str
    title: str
    source: str
    url: str
    url_href: str | None
    path: str
    status: str
    error_code: str
    error: str
    duplicate_of: str
    words: int
    text_file: str
    safe: str = ""
    href: str = ""               # page view from the report root ("" when the page has none)
    n_claims: int = 0
    counts: dict = field(default_factory=lambda: {lv: 0 for lv in LEVELS})

    @property
    def display_title(self) -> str:
        return self.title.strip() or self.id

    @property
    def n_findings(self) -> int:
        return sum(self.counts.values())


@dataclass(slots=True)
class Reference:
    range_text: str
    low: float | None
    high: float | None
    unit: str
    citation: str
    url: str
    url_href: str | None
    pmid: str
    pmid_href: str | None
    doi: str
    doi_href: str | None
    population: str
    time_frame: str


@dataclass(slots=True)
class Review:
    decision: str
    reviewer: str
    reason: str
    date: str


@dataclass(slots=True)
class ClaimRef:
    """A claim as a finding cites it, with a link to it in its page view."""
    claim_id: str
    page: str
    source: str
    text: str
    value: str
    href: str


@dataclass(slots=True)
class Finding:
    finding_id: str
    rule: str
    family: str
    level: str
    message: str
    suggestion: str
    rationale: str
    page: str
    source: str
    sources: list[str]
    topic: str
    topic_href: str
    claims: list[ClaimRef]
    kinds: list[str]
    evidence: str
    evidence_text: str
    reference: Reference | None
    details: list[tuple[str, str]]
    review: Review | None
    href: str                       # where "open" goes: the first claim in its page view


@dataclass(slots=True)
class Claim:
    claim_id: str
    page: str
    source: str
    kind: str
    kind_raw: str
    category: str
    text: str
    sentence: str
    start: int
    end: int
    low: float | None
    high: float | None
    unit: str
    bound: str
    approx: bool
    count: int
    evidence: str
    evidence_text: str
    scope: str
    hedges: list[str]
    topic: str
    qualifiers: list[tuple[str, str]]
    idx: int = 0
    anchor: str = ""
    href: str = ""
    value: str = ""
    topic_href: str = ""
    findings: list[Finding] = field(default_factory=list)
    level: str = ""              # highest finding level, "" without findings
    placed: bool = False
    note: str = ""               # why the highlight is missing or moved

    @property
    def badge(self) -> str:
        return str(len(self.findings)) if self.findings else ""


def _reference(raw: Any) -> Reference | None:
    if not isinstance(raw, dict):
        return None
    low, high = num(raw.get("low")), num(raw.get("high"))
    return Reference(
        range_text=value_text(low, high, raw.get("unit")), low=low, high=high, unit=s(raw.get("unit")),
        citation=s(raw.get("citation")), url=s(raw.get("url")), url_href=http_url(raw.get("url")),
        pmid=s(raw.get("pmid")), pmid_href=pmid_url(raw.get("pmid")),
        doi=s(raw.get("doi")), doi_href=doi_url(raw.get("doi")),
        population=s(raw.get("population")), time_frame=s(raw.get("time_frame")))


def _review(raw: Any) -> Review | None:
    if not isinstance(raw, dict):
        return None
    return Review(decision=s(raw.get("decision")), reviewer=s(raw.get("reviewer")),
                  reason=s(raw.get("reason")), date=s(raw.get("date")))


def _claim(raw: dict) -> Claim:
    quals = raw.get("qualifiers")
    hedges = raw.get("hedges")
    return Claim(
        claim_id=s(raw.get("claim_id")), page=s(raw.get("page")), source=s(raw.get("source")),
        kind=kind_of(raw.get("kind")), kind_raw=s(raw.get("kind")), category=s(raw.get("category")),
        text=s(raw.get("text")), sentence=s(raw.get("sentence")),
        start=integer(raw.get("start"), -1), end=integer(raw.get("end"), -1),
        low=num(raw.get("low")), high=num(raw.get("high")), unit=s(raw.get("unit")), bound=s(raw.get("bound")),
        approx=bool(raw.get("approx")), count=integer(raw.get("count"), 1),
        evidence=s(raw.get("evidence")) or "none", evidence_text=s(raw.get("evidence_text")),
        scope=s(raw.get("scope")) or "provider",
        hedges=[s(h) for h in hedges] if isinstance(hedges, list) else ([s(hedges)] if hedges else []),
        topic=s(raw.get("topic")),
        qualifiers=sorted((s(k), s(v)) for k, v in quals.items()) if isinstance(quals, dict) else [],
    )


def _parse_time(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return None


def _duration(started: str, finished: str) -> str:
    a, b = _parse_time(started), _parse_time(finished)
    if not a or not b:
        return ""
    try:
        secs = int((b - a).total_seconds())
    except TypeError:  # naive vs aware
        return ""
    if secs < 0:
        return ""
    h, rem = divmod(secs, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}h {m:02d}m {sec:02d}s" if h else (f"{m}m {sec:02d}s" if m else f"{sec}s")


@dataclass
class Run:
    """Everything read from a run directory, indexed for the views."""
    run_dir: Path
    info: RunInfo
    pages: list[PageRow]
    page_by_id: dict[str, PageRow]
    claims_by_page: dict[str, list[Claim]]
    claim_by_id: dict[str, Claim]
    findings: list[Finding]
    page_findings: dict[str, list[Finding]]          # findings on a page that cite no claim
    topics: list[dict]
    topic_anchor: dict[str, str]
    duplicates_of: dict[str, list[PageRow]]
    problems: list[str]

    @property
    def audited(self) -> list[PageRow]:
        return [p for p in self.pages if p.href and p.status == "audited"]


def load_run(run_dir: Path) -> Run:
    run_dir = Path(run_dir)
    problems: list[str] = []
    raw_run = read_json(run_dir / "run.json", problems)
    raw_run = raw_run if isinstance(raw_run, dict) else {}
    settings = raw_run.get("settings")
    settings = settings if isinstance(settings, dict) else {}
    inputs = raw_run.get("inputs")
    inputs = [s(i) for i in inputs] if isinstance(inputs, list) else []
    info = RunInfo(version=s(raw_run.get("version")), started=s(raw_run.get("started")),
                   finished=s(raw_run.get("finished")),
                   duration=_duration(s(raw_run.get("started")), s(raw_run.get("finished"))),
                   settings=sorted((s(k), s(v)) for k, v in settings.items()),
                   inputs=inputs[:20], more_inputs=max(0, len(inputs) - 20))

    # --- pages
    names = NameAllocator()
    pages: list[PageRow] = []
    page_by_id: dict[str, PageRow] = {}
    for raw in read_jsonl(run_dir / "pages.jsonl", problems):
        pid = s(raw.get("page"))
        if not pid or pid in page_by_id:
            continue
        status = s(raw.get("status")).strip().lower() or "audited"
        row = PageRow(id=pid, title=s(raw.get("title")), source=s(raw.get("source")), url=s(raw.get("url")),
                      url_href=http_url(raw.get("url")), path=s(raw.get("path")), status=status,
                      error_code=s(raw.get("error_code")), error=s(raw.get("error")),
                      duplicate_of=s(raw.get("duplicate_of")), words=integer(raw.get("words")),
                      text_file=s(raw.get("text_file")), n_claims=integer(raw.get("claims")))
        if status == "audited":
            row.safe = names(pid)
            row.href = f"pages/{row.safe}.html"
        pages.append(row)
        page_by_id[pid] = row
    duplicates_of: dict[str, list[PageRow]] = defaultdict(list)
    for row in pages:
        if row.status == "duplicate" and row.duplicate_of in page_by_id:
            original = page_by_id[row.duplicate_of]
            row.href = original.href
            duplicates_of[original.id].append(row)

    # --- claims, numbered per page in text order
    claims_by_page: dict[str, list[Claim]] = defaultdict(list)
    for raw in read_jsonl(run_dir / "claims.jsonl", problems):
        c = _claim(raw)
        claims_by_page[c.page].append(c)
    claim_by_id: dict[str, Claim] = {}
    for pid, claims in claims_by_page.items():
        claims.sort(key=lambda c: (c.start, -c.end, c.claim_id))
        page = page_by_id.get(pid)
        if page is not None and page.status == "audited":
            page.n_claims = len(claims)
        for i, c in enumerate(claims):
            c.idx = i
            c.anchor = f"claim-{i}"
            c.href = f"{page.href}#{c.anchor}" if page is not None and page.status == "audited" else ""
            c.value = value_text(c.low, c.high, c.unit) if c.kind == "numeric" or c.low is not None \
                or c.high is not None else ""
            claim_by_id.setdefault(c.claim_id, c)

    # --- topics (anchors first: findings link to them)
    topics = [t for t in read_jsonl(run_dir / "topics.jsonl", problems) if s(t.get("topic"))]
    topics.sort(key=lambda t: (not t.get("conflict"), s(t.get("label")) or s(t.get("topic")), s(t.get("topic"))))
    topic_anchor: dict[str, str] = {}
    for i, t in enumerate(topics):
        topic_anchor.setdefault(s(t.get("topic")), f"topic-{i}")
    for claims in claims_by_page.values():
        for c in claims:
            if c.topic in topic_anchor:
                c.topic_href = f"topics.html#{topic_anchor[c.topic]}"

    # --- findings
    findings: list[Finding] = []
    page_findings: dict[str, list[Finding]] = defaultdict(list)
    for raw in read_jsonl(run_dir / "findings.jsonl", problems):
        f = _finding(raw, claim_by_id, page_by_id, topic_anchor)
        findings.append(f)
        cited = [claim_by_id[r.claim_id] for r in f.claims if r.claim_id in claim_by_id]
        for c in {id(c): c for c in cited}.values():
            c.findings.append(f)
            if LEVEL_RANK[f.level] > LEVEL_RANK.get(c.level, 0):
                c.level = f.level
        touched = {r.page for r in f.claims if r.page} or ({f.page} if f.page else set())
        for pid in touched:
            if pid in page_by_id:
                page_by_id[pid].counts[f.level] += 1
        if not f.claims and f.page:
            page_findings[f.page].append(f)
    findings.sort(key=lambda f: (-LEVEL_RANK[f.level], f.rule, f.finding_id))
    for claims in claims_by_page.values():
        for c in claims:
            c.findings.sort(key=lambda f: (-LEVEL_RANK[f.level], f.rule, f.finding_id))

    return Run(run_dir=run_dir, info=info, pages=pages, page_by_id=page_by_id, claims_by_page=claims_by_page,
               claim_by_id=claim_by_id, findings=findings, page_findings=page_findings, topics=topics,
               topic_anchor=topic_anchor, duplicates_of=duplicates_of, problems=problems)


def _finding(raw: dict, claim_by_id: dict[str, Claim], page_by_id: dict[str, PageRow],
             topic_anchor: dict[str, str]) -> Finding:
    refs: list[ClaimRef] = []
    kinds: set[str] = set()
    raw_claims = raw.get("claims")
    for rc in raw_claims if isinstance(raw_claims, list) else []:
        if not isinstance(rc, dict):
            continue
        cid = s(rc.get("claim_id"))
        known = claim_by_id.get(cid)
        if known is not None:
            kinds.add(known.kind)
            refs.append(ClaimRef(cid, known.page, known.source, known.text, known.value, known.href))
        else:
            page = page_by_id.get(s(rc.get("page")))
            refs.append(ClaimRef(cid, s(rc.get("page")), s(rc.get("source")), s(rc.get("text")),
                                 value_text(num(rc.get("low")), num(rc.get("high")), rc.get("unit")),
                                 page.href if page is not None else ""))
    rule = s(raw.get("rule")) or "?"
    page = s(raw.get("page"))
    source = s(raw.get("source"))
    sources = [source] if source else sorted({r.source for r in refs if r.source})
    topic = s(raw.get("topic"))
    topic_href = f"topics.html#{topic_anchor[topic]}" if topic in topic_anchor else ""
    details = raw.get("details")
    href = next((r.href for r in refs if r.href), "")
    if not href and page in page_by_id and page_by_id[page].href:
        href = f"{page_by_id[page].href}#page-findings"
    href = href or topic_href
    return Finding(
        finding_id=s(raw.get("finding_id")), rule=rule, family=family_of(rule), level=level_of(raw.get("level")),
        message=s(raw.get("message")), suggestion=s(raw.get("suggestion")), rationale=s(raw.get("rationale")),
        page=page, source=source, sources=sources, topic=topic, topic_href=topic_href, claims=refs,
        kinds=sorted(kinds), evidence=s(raw.get("evidence")), evidence_text=s(raw.get("evidence_text")),
        reference=_reference(raw.get("reference")),
        details=sorted((s(k), s(v)) for k, v in details.items()) if isinstance(details, dict) else [],
        review=_review(raw.get("review")), href=href)


# ============================================================================ small shared pieces

@dataclass(slots=True)
class Segment:
    level: str
    x: float
    width: float
    count: int


def stacked_bar(counts: dict, scale: int, width: float) -> list[Segment]:
    """Horizontal stacked bar segments (error, warning, info) scaled so `scale` fills `width`."""
    out, x = [], 0.0
    for lv in LEVELS:
        n = counts.get(lv, 0)
        if n and scale:
            w = round(width * n / scale, 1)
            out.append(Segment(lv, round(x, 1), max(w, 1.0), n))
            x += w
    return out


@dataclass(slots=True)
class Nav:
    root: str        # "" at the report root, "../" in pages/
    current: str     # overview | pages | findings | topics | page


# ============================================================================ overview

@dataclass(slots=True)
class Count:
    label: str
    count: int
    href: str = ""
    css: str = ""


@dataclass(slots=True)
class RuleRow:
    rule: str
    family: str
    counts: dict
    total: int
    href: str
    bar: list[Segment]


@dataclass(slots=True)
class SourceRow:
    source: str
    pages: int
    claims: int
    counts: dict
    total: int
    href: str
    bar: list[Segment]


@dataclass(slots=True)
class Overview:
    nav: Nav
    info: RunInfo
    problems: list[str]
    n_pages: int
    statuses: list[Count]
    not_audited: list[PageRow]
    more_not_audited: int
    n_claims: int
    claim_kinds: list[Count]
    claim_evidence: list[Count]
    n_findings: int
    levels: list[Count]
    level_bar: list[Segment]
    n_reviewed: int
    families: list[Count]
    rules: list[RuleRow]
    sources: list[SourceRow]
    n_sources: int
    top_pages: list[PageRow]
    n_topics: int
    n_conflicts: int


def build_overview(run: Run) -> Overview:
    status_counts = Counter(p.status for p in run.pages)
    statuses = [Count(st, status_counts.get(st, 0), hash_href("pages.html", status=st), f"st-{st}")
                for st in STATUSES]
    statuses += [Count(st, n, hash_href("pages.html", status=st), "st-other")
                 for st, n in sorted(status_counts.items()) if st not in STATUSES]
    not_audited = [p for p in run.pages if p.status in ("failed", "skipped")]
    not_audited.sort(key=lambda p: (p.status != "failed", p.source, p.id))

    all_claims = [c for cs in run.claims_by_page.values() for c in cs]
    kinds = Counter(c.kind for c in all_claims)
    evidence = Counter(c.evidence for c in all_claims)
    level_counts = Counter(f.level for f in run.findings)
    fam = Counter(f.family for f in run.findings)

    by_rule: dict[str, Counter] = defaultdict(Counter)
    for f in run.findings:
        by_rule[f.rule][f.level] += 1
    rule_max = max((sum(c.values()) for c in by_rule.values()), default=0)
    rules = [RuleRow(rule, family_of(rule), {lv: c.get(lv, 0) for lv in LEVELS}, sum(c.values()),
                     hash_href("findings.html", rule=rule), stacked_bar(c, rule_max, 160))
             for rule, c in sorted(by_rule.items())]

    src_pages: Counter = Counter(p.source for p in run.pages)
    src_claims: Counter = Counter(c.source for c in all_claims)
    src_levels: dict[str, Counter] = defaultdict(Counter)
    for f in run.findings:
        for src in f.sources:
            src_levels[src][f.level] += 1
    all_sources = set(src_pages) | set(src_claims) | set(src_levels)
    ranked = sorted(all_sources, key=lambda x: (-src_levels[x]["error"], -src_levels[x]["warning"],
                                                -sum(src_levels[x].values()), -src_claims[x], x))
    top = ranked[:TOP_SOURCES]
    src_max = max((sum(src_levels[x].values()) for x in top), default=0)
    sources = [SourceRow(x, src_pages[x], src_claims[x], {lv: src_levels[x].get(lv, 0) for lv in LEVELS},
                         sum(src_levels[x].values()), hash_href("findings.html", source=x),
                         stacked_bar(src_levels[x], src_max, 160)) for x in top]

    with_findings = [p for p in run.pages if p.status == "audited" and p.n_findings]
    top_pages = sorted(with_findings, key=lambda p: (-p.counts["error"], -p.counts["warning"],
                                                     -p.n_findings, p.display_title, p.id))[:TOP_PAGES]
    n_findings = len(run.findings)
    return Overview(
        nav=Nav("", "overview"), info=run.info, problems=run.problems, n_pages=len(run.pages),
        statuses=statuses, not_audited=not_audited[:MAX_LISTED],
        more_not_audited=max(0, len(not_audited) - MAX_LISTED),
        n_claims=len(all_claims),
        claim_kinds=[Count(k, kinds.get(k, 0), hash_href("findings.html", kind=k), f"k-{k}")
                     for k in (*KINDS, "other") if kinds.get(k) or k in KINDS],
        claim_evidence=[Count(e, n) for e, n in sorted(evidence.items(), key=lambda kv: (-kv[1], kv[0]))],
        n_findings=n_findings,
        levels=[Count(lv, level_counts.get(lv, 0), hash_href("findings.html", level=lv), f"lv-{lv}")
                for lv in LEVELS],
        level_bar=stacked_bar(level_counts, n_findings, 600),
        n_reviewed=sum(1 for f in run.findings if f.review is not None),
        families=[Count(name, fam.get(name, 0)) for name in [*FAMILIES.values(), "other"] if fam.get(name)],
        rules=rules, sources=sources, n_sources=len(all_sources), top_pages=top_pages,
        n_topics=len(run.topics), n_conflicts=sum(1 for t in run.topics if t.get("conflict") is True),
    )


# ============================================================================ page view: text layout

@dataclass(slots=True)
class Node:
    """A run of text, or a highlighted piece of one claim holding further nodes."""
    text: str = ""
    claim: int = -1
    kind: str = ""
    level: str = ""
    start: int = 0
    end: int = 0
    first: bool = False      # the piece that carries the claim's id and focus
    last: bool = False       # the piece that carries the badge
    cont_l: bool = False     # the claim continues before this piece
    cont_r: bool = False     # ... or after it
    label: str = ""
    badge: str = ""
    children: list["Node"] = field(default_factory=list)


@dataclass(slots=True)
class BlockView:
    kind: str
    tag: str
    css: str
    start: int
    end: int
    nodes: list[Node]


@dataclass(slots=True)
class BlockGroup:
    kind: str                # list | cells | single
    blocks: list[BlockView]


def _blocks(text: str, raw_blocks: Any) -> list[tuple[int, int, str, int]]:
    """Sorted, non-overlapping blocks trimmed of edge whitespace; text outside blocks becomes paragraphs."""
    n = len(text)
    spans = []
    for b in raw_blocks if isinstance(raw_blocks, list) else []:
        if not isinstance(b, dict):
            continue
        start, end = max(0, integer(b.get("start"))), min(n, integer(b.get("end")))
        if start < end:
            kind = s(b.get("kind"))
            spans.append((start, end, kind if kind in BLOCK_KINDS else "paragraph", integer(b.get("level"))))
    spans.sort(key=lambda b: (b[0], -b[1]))
    out: list[tuple[int, int, str, int]] = []
    pos = 0

    def gap(lo: int, hi: int) -> None:
        for m in re.finditer(r"\S(?:.*?\S)??(?=\s*\n\s*\n|\s*$)", text[lo:hi], re.S):
            out.append((lo + m.start(), lo + m.end(), "paragraph", 0))

    for start, end, kind, level in spans:
        start = max(start, pos)
        if start >= end:
            continue  # inside the previous block: its text is already shown
        if start > pos:
            gap(pos, start)
        out.append((start, end, kind, level))
        pos = end
    if pos < n:
        gap(pos, n)
    trimmed = []
    for start, end, kind, level in out:
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start < end:
            trimmed.append((start, end, kind, level))
    return trimmed


def _nest(text: str, lo: int, hi: int, spans: list[tuple[int, int, int]], claims: list[Claim],
          depth: int = 0) -> list[Node]:
    """Nodes for text[lo:hi] with spans (start, end, claim index) nested; crossing spans are split."""
    heap = [(a, -b, i) for a, b, i in spans]
    heapq.heapify(heap)
    nodes: list[Node] = []
    pos = lo
    while heap:
        start, neg_end, i = heapq.heappop(heap)
        end = -neg_end
        start = max(start, pos)
        if start >= end:
            continue
        inner, later = [], []
        while heap and heap[0][0] < end:
            cs, nce, ci = heapq.heappop(heap)
            ce = -nce
            inner.append((cs, min(ce, end), ci))
            if ce > end:
                later.append((end, -ce, ci))  # the part after this highlight: a new piece
        for item in later:
            heapq.heappush(heap, item)
        if start > pos:
            nodes.append(Node(text=text[pos:start]))
        c = claims[i]
        children = (_nest(text, start, end, inner, claims, depth + 1) if depth + 1 < MAX_NEST
                    else [Node(text=text[start:end])])
        nodes.append(Node(claim=i, kind=c.kind, level=c.level, start=start, end=end, children=children))
        pos = end
    if pos < hi:
        nodes.append(Node(text=text[pos:hi]))
    return nodes


def _walk(nodes: list[Node]) -> Iterator[Node]:
    for node in nodes:
        if node.claim >= 0:
            yield node
            yield from _walk(node.children)


def _place(text: str, c: Claim) -> tuple[int, int] | None:
    """Where a claim sits in the text: its offsets, or the nearest occurrence of its text."""
    n = len(text)
    ok = 0 <= c.start < c.end <= n
    if ok and (not c.text or text[c.start:c.end] == c.text):
        return c.start, c.end
    if c.text:
        hits, pos = [], text.find(c.text)
        while pos >= 0 and len(hits) < 1000:
            hits.append(pos)
            pos = text.find(c.text, pos + 1)
        if hits:
            best = min(hits, key=lambda h: abs(h - c.start))
            c.note = "offsets did not match the text; highlighted at the nearest occurrence of the claim text"
            return best, best + len(c.text)
    if ok:
        c.note = "the claim text differs from the page text at its offsets"
        return c.start, c.end
    c.note = "offsets outside the page text; not highlighted"
    return None


_TAGS = {"paragraph": "p", "list_item": "li", "cell": "div", "quote": "blockquote", "comment": "div", "title": "p"}


def layout_text(text: str, raw_blocks: Any, claims: list[Claim]) -> list[BlockGroup]:
    """The page text as block groups whose nodes nest the claim highlights."""
    blocks = _blocks(text, raw_blocks)
    starts = [b[0] for b in blocks]
    inside: list[list[tuple[int, int, int]]] = [[] for _ in blocks]
    where: dict[int, tuple[int, int]] = {}
    for c in claims:
        span = _place(text, c)
        if span is None:
            continue
        a, b = span
        where[c.idx] = span
        k = max(0, bisect.bisect_right(starts, a) - 1)
        while k < len(blocks) and blocks[k][0] < b:
            lo, hi = max(a, blocks[k][0]), min(b, blocks[k][1])
            if lo < hi:
                inside[k].append((lo, hi, c.idx))
            k += 1
    views: list[BlockView] = []
    for (start, end, kind, level), spans in zip(blocks, inside):
        if kind == "heading":
            tag = f"h{min(6, max(2, level + 1 if level > 0 else 3))}"
        else:
            tag = _TAGS.get(kind, "p")
        views.append(BlockView(kind, tag, f"blk blk-{kind.replace('_', '-')}", start, end,
                               _nest(text, start, end, spans, claims)))
    # pieces: the first carries the claim's id and focus, the last its badge; continuations are marked
    last_piece: dict[int, Node] = {}
    for view in views:
        for node in _walk(view.nodes):
            c = claims[node.claim]
            if not c.placed:
                c.placed = True
                node.first = True
                node.label = _aria_label(c)
            last_piece[node.claim] = node
            a, b = where[node.claim]
            node.cont_l = node.start > a
            node.cont_r = node.end < b
    for i, node in last_piece.items():
        node.last = True
        node.badge = claims[i].badge
    for c in claims:
        if not c.placed and not c.note:
            c.note = "not highlighted (outside the text blocks, or nested too deep)"
    groups: list[BlockGroup] = []
    for view in views:
        grouped = {"list_item": "list", "cell": "cells"}.get(view.kind, "single")
        if grouped != "single" and groups and groups[-1].kind == grouped:
            groups[-1].blocks.append(view)
        else:
            groups.append(BlockGroup(grouped, [view]))
    return groups


def _aria_label(c: Claim) -> str:
    n = len(c.findings)
    tail = f"{n} finding{'s' if n != 1 else ''}, highest {c.level}" if n else "no findings"
    return f"{c.kind} claim: {truncate(c.text, 120)} ({tail})"


# ============================================================================ page view

@dataclass(slots=True)
class PageView:
    nav: Nav
    version: str
    page: PageRow
    groups: list[BlockGroup]
    claims: list[Claim]
    unplaced: list[Claim]
    page_findings: list[Finding]
    duplicates: list[PageRow]
    text_error: str
    kind_counts: list[Count]
    levels: list[Count]
    prev: PageRow | None
    next: PageRow | None


def read_text(run: Run, page: PageRow) -> tuple[dict | None, str]:
    """The page's text record, refusing files outside the run directory."""
    if not page.text_file:
        return None, "no text file was recorded for this page"
    root = run.run_dir.resolve()
    try:
        path = (root / page.text_file).resolve()
    except (OSError, ValueError):
        return None, "the text file path is invalid"
    if not path.is_relative_to(root) or path == root:
        return None, "the text file path points outside the run directory; refused"
    problems: list[str] = []
    data = read_json(path, problems)
    if not isinstance(data, dict) or not isinstance(data.get("text"), str):
        return None, "the text file is missing or unreadable"
    return data, ""


def build_page_view(run: Run, page: PageRow, prev: PageRow | None = None, nxt: PageRow | None = None) -> PageView:
    claims = run.claims_by_page.get(page.id, [])
    data, error = read_text(run, page)
    groups = layout_text(data["text"], data.get("blocks"), claims) if data else []
    if not data:
        for c in claims:
            c.note = "page text unavailable"
    kinds = Counter(c.kind for c in claims)
    return PageView(
        nav=Nav("../", "page"), version=run.info.version, page=page, groups=groups, claims=claims,
        unplaced=[c for c in claims if not c.placed], page_findings=run.page_findings.get(page.id, []),
        duplicates=run.duplicates_of.get(page.id, []), text_error=error,
        kind_counts=[Count(k, kinds[k], css=f"k-{k}") for k in (*KINDS, "other") if kinds.get(k)],
        levels=[Count(lv, page.counts[lv], css=f"lv-{lv}") for lv in LEVELS],
        prev=prev, next=nxt)


# ============================================================================ topics

@dataclass(slots=True)
class Tick:
    x: float
    label: str


@dataclass(slots=True)
class Mark:
    shape: str               # bar | point | lower | upper | none
    y: float
    x1: float
    x2: float
    width: float
    arrow: str               # polygon points of the open end ("" if closed)
    title: str


@dataclass(slots=True)
class ChartRow:
    label: str
    full_label: str
    y: float                 # top of the row
    height: float
    mid: float
    conflict: bool
    outside: bool
    group: str               # "A", "B"... when the topic has several groups
    css: str
    marks: list[Mark]


@dataclass(slots=True)
class Band:
    x: float
    width: float
    label: str
    label_x: float
    label_anchor: str


@dataclass(slots=True)
class Chart:
    width: int
    height: int
    x0: float
    x1: float
    top: float
    axis_y: float
    ticks: list[Tick]
    axis_label: str
    band: Band | None
    rows: list[ChartRow]
    title: str


@dataclass(slots=True)
class TopicEntry:
    source: str
    text: str
    value: str
    bound: str
    group: str
    conflict: bool
    outside: bool
    href: str


@dataclass(slots=True)
class TopicView:
    key: str
    anchor: str
    label: str
    unit: str
    conflict: bool
    reference: Reference | None
    chart: Chart | None
    entries: list[TopicEntry]
    findings: list[Finding]


@dataclass(slots=True)
class TopicsPage:
    nav: Nav
    version: str
    topics: list[TopicView]
    n_conflicts: int


def nice_ticks(lo: float, hi: float, target: int = 6) -> list[float]:
    span = hi - lo
    if span <= 0:
        return [lo]
    raw = span / target
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks, v = [], first
    while v <= hi + step * 1e-9 and len(ticks) < 50:
        ticks.append(round(v, 10))
        v += step
    return ticks


def _domain(values: list[float], unit: str, open_ended: bool) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    if unit_label(unit) == "%" and lo >= 0 and hi <= 100:
        return 0.0, 100.0
    span = hi - lo
    if span == 0:
        pad = abs(lo) * 0.25 or 1.0
        lo, hi = lo - pad, hi + pad
    else:
        lo, hi = lo - span * 0.08, hi + span * (0.2 if open_ended else 0.08)
    if min(values) >= 0 and lo < 0:
        lo = 0.0
    if lo > 0 and lo < (hi - lo) * 0.5:
        lo = 0.0
    step_ticks = nice_ticks(lo, hi)
    if len(step_ticks) >= 2:
        step = step_ticks[1] - step_ticks[0]
        lo, hi = math.floor(lo / step) * step, math.ceil(hi / step) * step
    return lo, hi


CHART_W, LABEL_W, PLOT_PAD = 760, 210, 24
LANE_H, ROW_PAD, TOP, AXIS_H = 18, 8, 30, 44


def _overlaps(low: float | None, high: float | None, ref: Reference | None) -> bool:
    if ref is None or (ref.low is None and ref.high is None):
        return True
    a, b = (low if low is not None else -math.inf), (high if high is not None else math.inf)
    ra, rb = (ref.low if ref.low is not None else -math.inf), (ref.high if ref.high is not None else math.inf)
    return a <= rb and ra <= b


def build_topic(run: Run, raw: dict, findings_by_topic: dict[str, list[Finding]]) -> TopicView:
    key = s(raw.get("topic"))
    unit = s(raw.get("unit"))
    ref = _reference(raw.get("reference"))
    conflict = raw.get("conflict") is True
    raw_groups = raw.get("groups") if isinstance(raw.get("groups"), list) else []
    groups = [[s(x) for x in g] for g in raw_groups if isinstance(g, list)]
    group_of: dict[str, int] = {}
    for gi, g in enumerate(groups):
        for src in g:
            group_of.setdefault(src, gi)
    # the baseline group: the one that fits the reference best, then the largest; the others conflict
    entries_raw = [e for e in (raw.get("entries") if isinstance(raw.get("entries"), list) else [])
                   if isinstance(e, dict)]
    sizes = Counter(group_of[s(e.get("source"))] for e in entries_raw if s(e.get("source")) in group_of)

    def fits(gi: int) -> float:
        return sum(1 for e in entries_raw if group_of.get(s(e.get("source"))) == gi
                   and _overlaps(num(e.get("low")), num(e.get("high")), ref)) / sizes[gi]

    majority = max(sizes, key=lambda gi: (fits(gi), sizes[gi], -gi)) if sizes else None
    letters = len(groups) > 1

    entries: list[TopicEntry] = []
    rows_src: dict[str, list[dict]] = {}
    for e in entries_raw:
        src = s(e.get("source"))
        rows_src.setdefault(src, []).append(e)
        gi = group_of.get(src)
        low, high = num(e.get("low")), num(e.get("high"))
        claim = run.claim_by_id.get(s(e.get("claim_id")))
        href = claim.href if claim is not None else (run.page_by_id[s(e.get("page"))].href
                                                      if s(e.get("page")) in run.page_by_id else "")
        entries.append(TopicEntry(
            source=src, text=s(e.get("text")), value=value_text(low, high, unit), bound=s(e.get("bound")),
            group=chr(65 + gi) if letters and gi is not None and gi < 26 else "",
            conflict=conflict and gi is not None and gi != majority,
            outside=not _overlaps(low, high, ref), href=href))

    chart = _chart(key, s(raw.get("label")) or key, unit, ref, rows_src, group_of, majority, conflict, letters)
    return TopicView(key=key, anchor=run.topic_anchor.get(key, ""), label=s(raw.get("label")) or key, unit=unit,
                     conflict=conflict, reference=ref, chart=chart, entries=entries,
                     findings=findings_by_topic.get(key, []))


def _chart(key: str, label: str, unit: str, ref: Reference | None, rows_src: dict[str, list[dict]],
           group_of: dict[str, int], majority: int | None, conflict: bool, letters: bool) -> Chart | None:
    values: list[float] = []
    open_ended = False
    for es in rows_src.values():
        for e in es:
            low, high = num(e.get("low")), num(e.get("high"))
            values += [v for v in (low, high) if v is not None]
            open_ended |= (low is None) != (high is None)
    if ref is not None:
        values += [v for v in (ref.low, ref.high) if v is not None]
    if not values:
        return None
    lo, hi = _domain(values, unit, open_ended)
    x0, x1 = LABEL_W + PLOT_PAD, CHART_W - PLOT_PAD

    def x(v: float) -> float:
        return round(x0 + (v - lo) / (hi - lo) * (x1 - x0), 1)

    rows: list[ChartRow] = []
    y = TOP
    for src, es in rows_src.items():
        gi = group_of.get(src)
        height = ROW_PAD * 2 + LANE_H * len(es)
        marks = []
        outside_all = True
        for k, e in enumerate(es):
            low, high = num(e.get("low")), num(e.get("high"))
            outside_all &= not _overlaps(low, high, ref)
            cy = round(y + ROW_PAD + LANE_H * k + LANE_H / 2, 1)
            tip = f"{src}: {s(e.get('text'))} ({value_text(low, high, unit) or 'no value'})"
            if low is not None and high is not None:
                shape = "point" if low == high else "bar"
                marks.append(Mark(shape, cy, x(low), x(high), max(2.0, round(x(high) - x(low), 1)), "", tip))
            elif low is not None:
                marks.append(Mark("lower", cy, x(low), x1, 0, f"{x1},{cy - 6} {x1 + 10},{cy} {x1},{cy + 6}", tip))
            elif high is not None:
                marks.append(Mark("upper", cy, x0, x(high), 0, f"{x0},{cy - 6} {x0 - 10},{cy} {x0},{cy + 6}", tip))
            else:
                marks.append(Mark("none", cy, x0, x0, 0, "", tip))
        row_conflict = conflict and gi is not None and gi != majority
        group = chr(65 + gi) if letters and gi is not None and gi < 26 else ""
        css = " ".join(filter(None, [f"g{gi % 6}" if gi is not None else "g-none",
                                     "conflict" if row_conflict else "",
                                     "outside" if ref is not None and outside_all else ""]))
        rows.append(ChartRow(label=truncate(src or "(no source)", LABEL_CHARS), full_label=src, y=y, height=height,
                             mid=round(y + height / 2, 1), conflict=row_conflict,
                             outside=ref is not None and outside_all, group=group, css=css, marks=marks))
        y += height
    band = None
    if ref is not None and (ref.low is not None or ref.high is not None):
        bx1 = x(ref.low) if ref.low is not None else x0
        bx2 = x(ref.high) if ref.high is not None else x1
        mid = (bx1 + bx2) / 2
        anchor = "middle"
        if mid < x0 + 60:
            mid, anchor = bx1, "start"
        elif mid > x1 - 60:
            mid, anchor = bx2, "end"
        band = Band(x=bx1, width=max(bx2 - bx1, 2.0), label=f"reference {ref.range_text}", label_x=round(mid, 1),
                    label_anchor=anchor)
    u = unit_label(unit, plural=True)
    return Chart(width=CHART_W, height=int(y + AXIS_H), x0=x0, x1=x1, top=TOP, axis_y=y,
                 ticks=[Tick(x(t), fmt_num(t)) for t in nice_ticks(lo, hi)],
                 axis_label=f"{unit} ({u})" if u == "%" and u != unit else (u or "value"), band=band, rows=rows,
                 title=label)


def build_topics(run: Run) -> TopicsPage:
    by_topic: dict[str, list[Finding]] = defaultdict(list)
    for f in run.findings:
        if f.topic and (f.family in ("cross-source conflict", "reference values")):
            by_topic[f.topic].append(f)
    topics = [build_topic(run, t, by_topic) for t in run.topics]
    return TopicsPage(nav=Nav("", "topics"), version=run.info.version, topics=topics,
                      n_conflicts=sum(1 for t in topics if t.conflict))


# ============================================================================ data files for the tables

FINDING_COLUMNS = ["id", "level", "rule", "family", "message", "claim", "value", "sources", "page", "href", "kinds",
                   "topic", "evidence", "suggestion", "review"]
PAGE_COLUMNS = ["id", "title", "source", "status", "claims", "findings", "error_count", "warning_count", "href",
                "url", "error"]


def findings_data(run: Run) -> dict:
    rows = []
    for f in run.findings:
        first = f.claims[0] if f.claims else None
        page = run.page_by_id.get(first.page if first else f.page)
        rows.append([
            f.finding_id, f.level, f.rule, f.family, f.message,
            first.text if first else "", first.value if first else "",
            f.sources, (page.display_title if page else "") + (f" (+{len({c.page for c in f.claims}) - 1} pages)"
                                                             if len({c.page for c in f.claims}) > 1 else ""),
            f.href, f.kinds or ["page"], f.topic, f.evidence, f.suggestion, f.review.decision if f.review else "",
        ])
    return {"columns": FINDING_COLUMNS, "rows": rows}


def _page_note(p: PageRow, run: Run) -> str:
    if p.status == "duplicate" and p.duplicate_of:
        original = run.page_by_id.get(p.duplicate_of)
        return f"duplicate of {original.display_title if original else p.duplicate_of}"
    return f"{p.error_code} {p.error}".strip()


def pages_data(run: Run) -> dict:
    rows = []
    for p in run.pages:
        rows.append([p.id, p.display_title, p.source, p.status, p.n_claims, p.n_findings, p.counts["error"],
                     p.counts["warning"], p.href, p.url_href or "", _page_note(p, run)])
    return {"columns": PAGE_COLUMNS, "rows": rows}


@dataclass(slots=True)
class TablePage:
    nav: Nav
    version: str
    total: int
    data_file: str


def iter_page_views(run: Run) -> Iterable[PageView]:
    """Page views one at a time (each reads its text file), with previous/next links."""
    audited = [p for p in run.pages if p.status == "audited"]
    for i, page in enumerate(audited):
        yield build_page_view(run, page, audited[i - 1] if i else None,
                              audited[i + 1] if i + 1 < len(audited) else None)
