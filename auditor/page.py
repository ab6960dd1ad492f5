"""The page: what every reader (text, HTML, JSONL, WARC) produces and every later step reads.

Offsets in ``Block`` and ``Link`` are character offsets into ``Page.text``.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Block:
    """A structural piece of the page text: heading, paragraph, list item, table cell, quote or comment."""

    start: int
    end: int
    kind: str  # heading | paragraph | list_item | cell | quote | comment | title
    level: int = 0  # heading level (1-6), 0 otherwise


@dataclass(frozen=True)
class Link:
    start: int
    end: int
    href: str


@dataclass
class Page:
    id: str
    text: str
    source: str = ""
    url: str = ""
    title: str = ""
    path: str = ""
    fetched_at: str = ""
    blocks: list[Block] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)

    RECORD_FIELDS = ("page", "source", "url", "title", "path", "fetched_at", "words")  # of as_record

    def as_record(self) -> dict:
        return {"page": self.id, "source": self.source, "url": self.url, "title": self.title,
                "path": self.path, "fetched_at": self.fetched_at, "words": len(self.text.split())}
