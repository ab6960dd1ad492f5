"""Step 4, FINDINGS across pages: conflicts between sources, and figures outside the literature.

Figures are compared only under the same comparison key (topic + qualifiers, see topics.py), as
intervals in a common unit (days for durations, percent for rates and fractions):

* a one-sided bound is open on that side ("over 90%" is [90, 100], "up to a year" is [0, 1 year]);
* "about" / "approximately" widen a value by ``approx_tolerance``; figures written in different
  units are compared with ``unit_tolerance`` of slack;
* two ranges agree when they overlap by more than a point; ranges that only touch disagree
  (4 to 6 weeks against 6 to 12 weeks); a single value agrees with a range that contains it.

Each conflict finding holds the claims of two sources that disagree; ``details.groups`` says which
sources agree with which. Parameters come from the rules' ``params`` in reference/rules/.
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice
from pathlib import Path

from . import reference
from .components.quantities import grammar
from .findings import CLAIM_REF_FIELDS, Finding, assign_fingerprints, claim_ref
from .rules import Registry, Rule
from .topics import comparison_key

PERCENT_UNITS = {"percent": 1.0, "fraction": 100.0}
DESCRIPTIVE_QUALIFIERS = {"procedure", "condition", "population"}  # describe a reference, do not split keys
EPSILON = 1e-9


@dataclass(frozen=True)
class Interval:
    lo: float
    hi: float
    family: str  # what the numbers are in: day, percent, or the unit itself

    @property
    def point(self) -> bool:
        return abs(self.hi - self.lo) <= EPSILON


def unit_family(unit: str) -> tuple[str, float]:
    """The common unit a claim's unit converts to, and the factor."""
    days = grammar().unit_days
    if unit in days:
        return "day", float(days[unit])
    if unit in PERCENT_UNITS:
        return "percent", PERCENT_UNITS[unit]
    return unit, 1.0


def interval_of(low, high, unit: str, approx: bool = False, approx_tolerance: float = 0.0) -> Interval | None:
    if low is None and high is None:
        return None
    family, factor = unit_family(unit)
    lo = 0.0 if low is None else float(low) * factor
    hi = (100.0 if family == "percent" else math.inf) if high is None else float(high) * factor
    if approx and approx_tolerance:
        lo, hi = lo - abs(lo) * approx_tolerance, hi + abs(hi) * approx_tolerance
    return Interval(min(lo, hi), max(lo, hi), family)


def widen(iv: Interval, tolerance: float) -> Interval:
    return Interval(iv.lo - abs(iv.lo) * tolerance, iv.hi + abs(iv.hi) * tolerance, iv.family)


def agree(a: Interval, b: Interval, touching_conflicts: bool = True) -> bool:
    """Do two intervals (in the same family) describe compatible figures?"""
    if a.point or b.point:  # a single value agrees with any interval that contains it
        return a.lo <= b.hi + EPSILON and b.lo <= a.hi + EPSILON
    overlap = min(a.hi, b.hi) - max(a.lo, b.lo)
    return overlap > EPSILON if touching_conflicts else overlap >= -EPSILON


def gap(a: Interval, b: Interval) -> float:
    """How far apart two intervals are (0 when they touch, negative when they overlap)."""
    return max(a.lo, b.lo) - min(a.hi, b.hi)


def display(value: float, unit: str) -> str:
    family, factor = unit_family(unit)
    shown = value / factor if factor else value
    return f"{shown:.3g} {unit}{'' if unit in ('percent',) else 's' if abs(shown) != 1 else ''}".replace("percent", "%")


def label_of(topic: str) -> str:
    intervention, _, measure = topic.partition(".")
    measure = measure.split("[", 1)[0]
    return f"{intervention.replace('_', ' ')}: {measure.replace('_', ' ')}"


# -- the comparison -------------------------------------------------------------------------------

# The claim fields the comparison reads: a run's claims are read back with only these, to save memory.
COMPARED_FIELDS = tuple(dict.fromkeys(CLAIM_REF_FIELDS + ("qualifiers", "scope", "approx")))


def intervention_of(claim: dict) -> str:
    """Every cross-source check compares claims about one intervention only (the topic's first part),
    so a run's claims can be compared one intervention at a time."""
    return (claim.get("topic") or "").split(".", 1)[0]


def compare_sources(claims: list[dict], registry: Registry, options=None) -> tuple[list[dict], list[dict]]:
    """Cross-source findings (CNF, REF) and the topic table, from the claims of a whole run."""
    rules = {r.id: r for r in registry.active()}
    findings: list[Finding] = []
    numeric = _numeric_by_key(claims)
    topics: list[dict] = []
    references = load_reference_values(tuple(getattr(options, "value_files", None) or []))
    cnf_rules = [r for r in rules.values() if r.kind == "conflict"]
    numeric_rule = next((r for r in cnf_rules if r.name == "figures-disagree"), None)
    params = numeric_rule.params if numeric_rule else {}
    for key, rows in sorted(numeric.items()):
        intervals = _intervals(rows, params)
        groups = _agreement_groups(intervals, params)
        conflicts = _numeric_conflicts(intervals, params, int(params.get("max_findings_per_topic", 25)))
        if numeric_rule is not None:
            for a, b in conflicts:
                findings.append(_conflict_finding(numeric_rule, key, [a, b]))
        if len({r["source"] or r["page"] for r in rows}) >= 2:
            topics.append(_topic_row(key, intervals, groups, bool(conflicts), references))
    for rule in cnf_rules:
        if rule.name == "fda-status-wording-disagrees":
            findings.extend(_wording_conflicts(rule, claims))
        elif rule.name == "absolute-promise-against-measured":
            findings.extend(_absolute_conflicts(rule, claims))
    for rule in (r for r in rules.values() if r.kind == "reference"):
        findings.extend(_reference_findings(rule, claims, references))
    assign_fingerprints(findings)
    return [f.as_record() for f in findings], topics


def _numeric_by_key(claims: list[dict]) -> dict[str, list[dict]]:
    by_key: dict[str, list[dict]] = defaultdict(list)
    for c in claims:
        if c.get("kind") == "numeric" and c.get("topic") and c.get("scope", "provider") == "provider":
            key = comparison_key(c["topic"], c.get("qualifiers"))
            if key.split("[", 1)[0].split(".", 1)[1]:
                by_key[key].append(c)
    return by_key


def _intervals(rows: list[dict], params: dict) -> list[tuple[dict, Interval]]:
    out = []
    for r in rows:
        iv = interval_of(r["low"], r["high"], r["unit"], r.get("approx", False), params.get("approx_tolerance", 0.1))
        if iv is not None:
            out.append((r, iv))
    families = Counter(iv.family for _, iv in out)
    if len(families) > 1:  # counts against rates cannot be compared: keep the most common family
        keep = families.most_common(1)[0][0]  # a tie goes to the first met, so every run keeps the same
        out = [(r, iv) for r, iv in out if iv.family == keep]
    return out


def _agree_rows(a: tuple[dict, Interval], b: tuple[dict, Interval], params: dict) -> bool:
    ia, ib = a[1], b[1]
    if a[0]["unit"] != b[0]["unit"]:
        ia, ib = widen(ia, params.get("unit_tolerance", 0.1)), widen(ib, params.get("unit_tolerance", 0.1))
    return agree(ia, ib, params.get("touching_conflicts", True))


def _source(row: dict) -> str:
    return row.get("source") or row.get("page") or ""


def _distinct(intervals) -> list[tuple[dict, Interval]]:
    """One (first) claim per source and interval: a figure repeated on many pages of a site is one figure."""
    seen: set = set()
    out = []
    for row, iv in intervals:
        key = (_source(row), iv.lo, iv.hi, row["unit"])
        if key not in seen:
            seen.add(key)
            out.append((row, iv))
    return out


def _extremes(intervals, order, sources_wanted: int) -> list:
    """The intervals first in `order` until they cover `sources_wanted` sources."""
    picked, sources = [], set()
    for item in sorted(intervals, key=order):
        if len(sources) >= sources_wanted:
            break
        picked.append(item)
        sources.add(_source(item[0]))
    return picked


def _numeric_conflicts(intervals, params, limit: int) -> list[tuple]:
    """Up to `limit` pairs of figures from different sources that disagree, widest apart first.

    Only the figures with the lowest upper ends and those with the highest lower ends can be the widest
    apart, so only those are paired (the whole topic when it has no more than limit + 1 sources):
    linear in the figures of a topic instead of quadratic.
    """
    distinct = _distinct(intervals)
    position = {id(item): n for n, item in enumerate(distinct)}
    low_ends = _extremes(distinct, lambda item: (item[1].hi, position[id(item)]), limit + 1)
    high_ends = _extremes(distinct, lambda item: (-item[1].lo, position[id(item)]), limit + 1)
    pairs = {}
    for a in low_ends:
        for b in high_ends:
            if _source(a[0]) != _source(b[0]) and not _agree_rows(a, b, params):
                first, second = sorted((a, b), key=lambda item: position[id(item)])
                pairs[(id(first), id(second))] = (first, second)
    ranked = sorted(pairs.values(), key=lambda p: (-gap(p[0][1], p[1][1]), position[id(p[0])], position[id(p[1])]))
    return ranked[:limit]


def _agreement_groups(intervals, params) -> list[list[str]]:
    """Sources joined when any of their figures agree (connected components), by one sweep over the
    figures sorted by lower end: a figure that agrees with any earlier one agrees with the earlier one
    reaching highest (exact for intervals in one unit)."""
    parent: dict[str, str] = {}

    def find(s):
        while parent.setdefault(s, s) != s:
            s = parent[s]
        return s

    reaching = None
    for item in sorted(_distinct(intervals), key=lambda item: (item[1].lo, item[1].hi)):
        find(_source(item[0]))
        if reaching is not None and _agree_rows(reaching, item, params):
            parent[find(_source(item[0]))] = find(_source(reaching[0]))
        if reaching is None or item[1].hi > reaching[1].hi:
            reaching = item
    groups = defaultdict(set)
    for s in parent:
        groups[find(s)].add(s)
    return sorted(sorted(g) for g in groups.values())


def _conflict_finding(rule: Rule, key: str, pair) -> Finding:
    (ra, ia), (rb, ib) = pair
    distance = gap(ia, ib)
    unit = ra["unit"]
    apart = "they touch" if abs(distance) <= EPSILON else f"{display(distance, unit)} apart"
    values = f"{ra['text']} ({_source(ra)}) against {rb['text']} ({_source(rb)}), {apart}"
    message = rule.format(sources=f"{_source(ra)} and {_source(rb)}", label=label_of(key), values=values)
    return Finding(rule=rule.id, level=rule.level, message=message, suggestion=rule.resolve,
                   rationale=rule.rationale, page="", source="", url="", claims=[claim_ref(ra), claim_ref(rb)],
                   topic=key, link=rule.source,
                   details={"key": key, "distance": distance if math.isfinite(distance) else None,
                            "distance_unit": unit_family(unit)[0], "apart": apart})


def _topic_row(key: str, intervals, groups, conflict: bool, references) -> dict:
    units = [r["unit"] for r, _ in intervals]
    unit = Counter(units).most_common(1)[0][0]  # a tie goes to the first met (not to a set's hash order)
    family, factor = unit_family(unit)
    entries = []
    for r, iv in intervals:
        entries.append({"page": r["page"], "source": _source(r), "claim_id": r["claim_id"], "text": r["text"],
                        "low": None if r["low"] is None else round(iv.lo / factor, 4),
                        "high": None if r["high"] is None else round(iv.hi / factor, 4),
                        "bound": r.get("bound", ""), "unit": unit})
    topic, _, _ = key.partition("[")
    qualifiers = dict(intervals[0][0].get("qualifiers") or {}) if intervals else {}
    refs = _compatible_references(topic, qualifiers, references)
    reference_row = None
    if refs:
        ref = refs[0]
        riv = interval_of(ref["low"], ref["high"], ref["unit"])
        if riv is not None and riv.family == family:
            reference_row = {**_reference_summary(ref), "low": round(riv.lo / factor, 4),
                             "high": round(riv.hi / factor, 4) if math.isfinite(riv.hi) else None, "unit": unit}
    return {"topic": key, "unit": unit, "label": label_of(key), "entries": entries, "reference": reference_row,
            "conflict": conflict, "groups": groups}


def _wording_conflicts(rule: Rule, claims: list[dict]) -> list[Finding]:
    by_intervention: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for c in claims:
        if c.get("topic", "").endswith(".fda_status"):
            text = c["text"].lower()
            wording = "approved" if "approved" in text else "cleared" if "cleared" in text else ""
            if wording:
                by_intervention[c["topic"]][wording].append(c)
    findings = []
    limit = int(rule.params.get("max_findings_per_topic", 25))
    for topic, wordings in sorted(by_intervention.items()):
        pairs = ((a, b) for a in wordings.get("approved", []) for b in wordings.get("cleared", [])
                 if _source(a) != _source(b))
        for a, b in islice(pairs, limit):
            values = f"'{a['text']}' ({_source(a)}) against '{b['text']}' ({_source(b)})"
            findings.append(Finding(
                rule=rule.id, level=rule.level, suggestion=rule.resolve, rationale=rule.rationale,
                message=rule.format(sources=f"{_source(a)} and {_source(b)}", label=label_of(topic).split(":")[0],
                                    values=values),
                page="", claims=[claim_ref(a), claim_ref(b)], topic=topic, link=rule.source,
                details={"key": topic}))
    return findings


@lru_cache(maxsize=1)
def _absolute_patterns():
    from .topics import taxonomy
    return taxonomy().absolute


def _absolute_conflicts(rule: Rule, claims: list[dict]) -> list[Finding]:
    """Per absolute promise, one finding per other source measuring what it promises away; at most
    max_sources sources (alphabetically) and max_claims_per_source of their figures, so a crawl of a
    thousand sites does not turn one promise into a thousand findings."""
    max_sources = int(rule.params.get("max_sources", 5))
    max_claims = int(rule.params.get("max_claims_per_source", 3))
    measured: dict[tuple[str, str], dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for c in claims:  # (intervention, measure) -> source -> measured claims
        if c.get("kind") == "numeric" and c.get("topic") and c.get("scope", "provider") == "provider":
            intervention, _, measure = c["topic"].partition(".")
            measured[(intervention, measure)][_source(c)].append(c)
    findings = []
    for promise in claims:
        if not promise.get("topic", "").endswith(".absolute_promise"):
            continue
        intervention = promise["topic"].split(".", 1)[0]
        contradicted = {m for pattern, measures in _absolute_patterns() if pattern.search(promise["text"])
                        for m in measures}
        by_source: dict[str, list[dict]] = defaultdict(list)
        for measure in sorted(contradicted):
            for source, rows in measured.get((intervention, measure), {}).items():
                if source != _source(promise):
                    by_source[source].extend(rows)
        for source in sorted(by_source)[:max_sources]:
            rows = by_source[source][:max_claims]
            values = ", ".join(f"{r['text']} ({r['topic'].split('.', 1)[1].replace('_', ' ')})" for r in rows)
            findings.append(Finding(
                rule=rule.id, level=rule.level, suggestion=rule.resolve, rationale=rule.rationale,
                message=rule.format(absolute_source=_source(promise), absolute_text=promise["text"], sources=source,
                                    values=values, label=intervention.replace("_", " ")),
                page="", claims=[claim_ref(promise)] + [claim_ref(r) for r in rows], topic=promise["topic"],
                link=rule.source, details={"key": promise["topic"], "measures": sorted(contradicted),
                                           "sources_measuring": len(by_source)}))
    return findings


# -- reference values -----------------------------------------------------------------------------

REFERENCE_KEYS = {"id", "topic", "qualifiers", "low", "high", "unit", "population", "time_frame", "statement",
                  "citation", "pmid", "doi", "url", "note"}


@lru_cache(maxsize=8)
def load_reference_values(extra_files: tuple = ()) -> dict[str, list[dict]]:
    """Reference values by topic: the shipped reference/values/*.yaml plus the user's own files."""
    files = sorted(reference.path("values").glob("*.yaml")) + [Path(f) for f in extra_files]
    by_topic: dict[str, list[dict]] = defaultdict(list)
    for file in files:
        data = reference.load_yaml(file, keep_lines=True) or {}
        for row in data.get("values", []):
            reference.check_keys(row, REFERENCE_KEYS, {"id", "topic", "unit", "citation"}, file, f"value {row.get('id')}")
            if not (row.get("pmid") or row.get("doi") or row.get("url")):
                from .errors import RuleError
                raise RuleError(f"value {row['id']}: needs a pmid, doi or url", str(file), row.get(reference.LINE_KEY), "E211")
            by_topic[row["topic"]].append(reference.strip_lines(row))
    return dict(by_topic)


def _compatible_references(topic: str, qualifiers: dict, references) -> list[dict]:
    out = []
    for ref in references.get(topic, []):
        rq = {k: str(v).lower() for k, v in (ref.get("qualifiers") or {}).items() if k not in DESCRIPTIVE_QUALIFIERS}
        cq = {k: str(v).lower() for k, v in (qualifiers or {}).items() if k not in DESCRIPTIVE_QUALIFIERS}
        if rq == cq:
            out.append(ref)
    return out


def _reference_summary(ref: dict) -> dict:
    return {k: ref.get(k) for k in ("id", "citation", "pmid", "doi", "url", "population", "time_frame", "statement")}


def _reference_findings(rule: Rule, claims: list[dict], references) -> list[Finding]:
    tolerance = float(rule.params.get("tolerance", 0.2))
    findings = []
    for c in claims:
        if c.get("kind") != "numeric" or not c.get("topic") or c.get("scope", "provider") != "provider":
            continue
        refs = _compatible_references(c["topic"], c.get("qualifiers") or {}, references)
        iv = interval_of(c["low"], c["high"], c["unit"], c.get("approx", False), 0.1)
        ref_ivs = [(r, interval_of(r.get("low"), r.get("high"), r["unit"])) for r in refs]
        ref_ivs = [(r, riv) for r, riv in ref_ivs if riv is not None and iv is not None and riv.family == iv.family]
        if not ref_ivs:
            continue
        envelope = Interval(min(riv.lo for _, riv in ref_ivs), max(riv.hi for _, riv in ref_ivs), iv.family)
        if agree(iv, widen(envelope, tolerance), touching_conflicts=False):
            continue
        nearest, riv = min(ref_ivs, key=lambda p: abs(gap(iv, p[1])))
        shown = (f"{display(envelope.lo, c['unit'])} to {display(envelope.hi, c['unit'])}"
                 if not envelope.point else display(envelope.lo, c["unit"]))
        message = rule.format(text=c["text"], label=label_of(c["topic"]), reference=shown,
                              citation=nearest.get("citation", "")[:160])
        findings.append(Finding(
            rule=rule.id, level=rule.level, message=message, suggestion=rule.resolve, rationale=rule.rationale,
            page=c["page"], source=c.get("source", ""), url=c.get("url", ""), claims=[claim_ref(c)],
            evidence=c.get("evidence", ""), evidence_text=c.get("evidence_text", ""), topic=c["topic"],
            reference={**_reference_summary(nearest), "low": nearest.get("low"), "high": nearest.get("high"),
                       "unit": nearest["unit"]},
            link=rule.source, details={"envelope": [envelope.lo, envelope.hi], "family": envelope.family,
                                       "references": [r["id"] for r, _ in ref_ivs]}))
    return findings
