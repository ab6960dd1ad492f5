"""Step 4, FINDINGS: what an editor acts on, with a stable fingerprint and a versioned record format.

A finding names its rule, level and message, the claim(s) it concerns (text, sentence, offsets), the
evidence found and what would settle it. ``finding_id`` is a fingerprint of the rule, the page's URL
(or id) and the normalised claim text, so it survives re-crawls, white-space changes and moved
paragraphs, while a changed figure gets a new one.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, fields
from urllib.parse import urlsplit

from .claims import Claim
from .rules import LEVELS, Rule

FORMAT_VERSION = 1
CLAIM_REF_FIELDS = ("claim_id", "page", "source", "url", "kind", "category", "text", "sentence", "start", "end",
                    "low", "high", "unit", "bound", "evidence", "topic", "time_frame")


@dataclass
class Finding:
    rule: str
    level: str
    message: str
    suggestion: str
    rationale: str
    page: str  # page id; "" for findings across pages
    source: str = ""
    url: str = ""
    claims: list = field(default_factory=list)  # claim refs (CLAIM_REF_FIELDS)
    evidence: str = ""
    evidence_text: str = ""
    topic: str = ""
    reference: dict | None = None
    details: dict = field(default_factory=dict)
    link: str = ""  # the rule's source (guidance, regulation)
    finding_id: str = ""
    review: dict | None = None

    def as_record(self) -> dict:
        # Shallow: records are serialised, never mutated (dataclasses.asdict deep-copies every claim ref).
        return {name: getattr(self, name) for name in _FINDING_FIELDS}


_FINDING_FIELDS = tuple(f.name for f in fields(Finding))


def level_rank(level: str) -> int:
    return LEVELS.index(level)


def claim_ref(claim: Claim | dict, page=None) -> dict:
    """The compact form of a claim carried by a finding."""
    if isinstance(claim, dict):
        return {k: claim.get(k) for k in CLAIM_REF_FIELDS}
    ids = {"claim_id": f"{page.id}:{claim.start}-{claim.end}", "page": page.id, "source": page.source, "url": page.url}
    return {k: ids[k] if k in ids else getattr(claim, k) for k in CLAIM_REF_FIELDS}


def page_key(url: str, page_id: str) -> str:
    """What identifies a page across crawls: its URL without scheme, query or trailing slash."""
    if not url:
        return page_id
    parts = urlsplit(url.strip())
    host = parts.netloc.lower().removeprefix("www.")
    return f"{host}{parts.path.rstrip('/')}" or page_id


def normalised(text: str) -> str:
    return " ".join(re.sub(r"[^\w%.]+", " ", text.lower()).split())


def assign_fingerprints(findings: list[Finding]) -> None:
    """Set finding_id on each finding: rule + page + normalised claim texts (+ ordinal among equals)."""
    seen: dict[str, int] = {}
    for f in findings:
        pages = sorted({page_key(c.get("url") or "", c.get("page") or "") for c in f.claims}) or [page_key(f.url, f.page)]
        texts = sorted(normalised(c.get("text") or "") for c in f.claims)
        key = "|".join([f.rule, ";".join(pages), ";".join(texts), f.topic])
        n = seen.get(key, 0)
        seen[key] = n + 1
        digest = hashlib.sha1(f"{key}|{n}".encode("utf-8")).hexdigest()[:16]
        f.finding_id = f"{f.rule}-{digest}"


def make_finding(rule: Rule, page, claims: list[Claim], **extra) -> Finding:
    first = claims[0] if claims else None
    values = {"count": len(claims)}
    if first is not None:
        values.update(text=first.text, evidence_text=first.evidence_text, sentence=first.sentence,
                      category=first.category)
    values.update(extra.pop("values", {}))
    return Finding(rule=rule.id, level=rule.level, message=rule.format(**values), suggestion=rule.resolve,
                   rationale=rule.rationale, page=page.id, source=page.source, url=page.url,
                   claims=[claim_ref(c, page) for c in claims],
                   evidence=first.evidence if first else "", evidence_text=first.evidence_text if first else "",
                   topic=first.topic if first else "", link=rule.source, **extra)
