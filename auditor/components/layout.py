"""Where an offset sits on the page: its sentence, its block, the heading above it.

Built once per Doc and shared by the components through ``doc.user_data``.
"""
from __future__ import annotations

from bisect import bisect_right

from spacy.tokens import Doc

KEY = "auditor_layout"


class Layout:
    def __init__(self, doc: Doc):
        self.text = doc.text
        self.sentences = [(s.start_char, s.end_char) for s in doc.sents]
        self._sent_starts = [s for s, _ in self.sentences]
        blocks = doc._.blocks or []
        self.blocks = sorted(blocks, key=lambda b: b.start)
        self._block_starts = [b.start for b in self.blocks]
        self.headings = [b for b in self.blocks if b.kind in ("heading", "title")]
        self._heading_starts = [b.start for b in self.headings]

    def sentence(self, offset: int) -> tuple[int, int]:
        """(start, end) of the sentence holding offset, trailing white space trimmed."""
        i = max(bisect_right(self._sent_starts, offset) - 1, 0)
        start, end = self.sentences[i] if self.sentences else (0, len(self.text))
        while end > start and self.text[end - 1].isspace():
            end -= 1
        while start < end and self.text[start].isspace():
            start += 1
        return start, end

    def block(self, offset: int):
        i = bisect_right(self._block_starts, offset) - 1
        if i >= 0 and self.blocks[i].start <= offset < self.blocks[i].end:
            return self.blocks[i]
        return None

    def heading(self, offset: int) -> str:
        i = bisect_right(self._heading_starts, offset) - 1
        if i < 0:
            return ""
        h = self.headings[i]
        return self.text[h.start:h.end].strip()


def layout(doc: Doc) -> Layout:
    if KEY not in doc.user_data:
        doc.user_data[KEY] = Layout(doc)
    return doc.user_data[KEY]
