"""The claim: what the components find, with offsets into the page text (never a Doc), so it pickles.

Span and Doc extensions are registered here, once.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields

from spacy.tokens import Doc, Span

CLAIM_SPANS = "claims"  # doc.spans key written by the claim components

if not Span.has_extension("claim"):
    Span.set_extension("claim", default=None)
if not Doc.has_extension("blocks"):
    Doc.set_extension("blocks", default=None)  # list[auditor.page.Block] of the page, if known
if not Doc.has_extension("links"):
    Doc.set_extension("links", default=None)  # list[auditor.page.Link] of the page, if known


@dataclass
class Claim:
    kind: str  # numeric | promotional
    category: str  # promotional category, or the numeric measure family (rate, duration, count, ...)
    text: str
    start: int
    end: int
    sentence: str = ""
    sentence_start: int = 0
    sentence_end: int = 0
    low: float | None = None
    high: float | None = None
    unit: str = ""
    bound: str = ""
    approx: bool = False
    form: str = ""  # numeric: single | range | list | ratio | fraction
    pattern: str = ""  # id of the pattern or lexicon entry that found it
    count: int = 1  # occurrences on the page of the same promotional phrase
    occurrences: list = field(default_factory=list)  # [[start, end], ...] of every occurrence
    time_frame: str = ""  # "10 year" when the figure is stated for a period ("within 10 years")
    heading: str = ""  # nearest heading above the claim
    block_kind: str = ""  # paragraph | list_item | heading | comment | ...
    scope: str = "provider"  # provider | comment | testimonial | quote
    hedges: list = field(default_factory=list)
    negated: bool = False
    conditional: bool = False
    evidence: str = "none"  # cited | study | vague | self_reported | none
    evidence_text: str = ""
    topic: str = ""
    qualifiers: dict = field(default_factory=dict)

    @property
    def claim_id(self) -> str:
        return f"{self.start}-{self.end}"

    def as_record(self, page) -> dict:
        """A flat row for JSONL/CSV: the page's identity first, then the claim."""
        row = {"claim_id": f"{page.id}:{self.start}-{self.end}", "page": page.id, "source": page.source,
               "url": page.url}
        # A shallow copy (dataclasses.asdict deep-copies, and was a fifth of a page's audit time).
        for name in _CLAIM_FIELDS:
            value = getattr(self, name)
            row[name] = value.copy() if isinstance(value, (list, dict)) else value
        return row


_CLAIM_FIELDS = tuple(f.name for f in fields(Claim))
