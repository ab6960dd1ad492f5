"""Where an offset sits on the page: its sentence, its block, the heading above it.

Built once per Doc and shared by the components through ``doc.user_data``.
"""
from __future__ import annotations

import re
from bisect import bisect_right
from functools import lru_cache

from spacy.tokens import Doc

from .. import reference
from .segmenter import page_text

KEY = "auditor_layout"
SHORT_LINE = re.compile(r"^[^\n]{1,60}$", re.M)
CONTRACTION_END = re.compile(r"['’](?:s|re)$")  # "what's", "who’re"


class Layout:
    def __init__(self, doc: Doc):
        self.text = page_text(doc)
        sents = list(doc.sents)
        self.sentences = [(s.start_char, s.end_char) for s in sents]
        self._sent_starts = [s for s, _ in self.sentences]
        self._sent_token_starts = [s.start for s in sents]
        blocks = doc._.blocks or []
        self.blocks = sorted(blocks, key=lambda b: b.start)
        self._block_starts = [b.start for b in self.blocks]
        self.headings = [b for b in self.blocks if b.kind in ("heading", "title")]
        self._heading_starts = [b.start for b in self.headings]
        self.comments_start = self._comments_start()

    def _comments_start(self) -> int:
        """Offset where the readers' comments begin (a comment block, a "Comments" heading or a
        "Name says:" line), or the end of the text when the page has none."""
        cues = _scope_cues()
        starts = [b.start for b in self.blocks if b.kind == "comment"]
        starts += [h.start for h in self.headings
                   if heading_key(self.text[h.start:h.end]) in cues["comment_headings"]]
        m = cues["comment_line"].search(self.text)
        if m:
            starts.append(m.start())
        for line in SHORT_LINE.finditer(self.text):  # text pages have no heading blocks
            if heading_key(line.group(0)) in cues["comment_headings"]:
                starts.append(line.start())
                break
        return min(starts, default=len(self.text))

    def scope(self, offset: int) -> str:
        """Whose voice the text at offset is: provider, comment (readers) or testimonial."""
        if offset >= self.comments_start:
            return "comment"
        if heading_key(self.heading(offset)) in _scope_cues()["testimonial_headings"]:
            return "testimonial"
        return "provider"

    def sentence(self, offset: int) -> tuple[int, int]:
        """(start, end) of the sentence holding offset, trailing white space trimmed."""
        i = max(bisect_right(self._sent_starts, offset) - 1, 0)
        start, end = self.sentences[i] if self.sentences else (0, len(self.text))
        while end > start and self.text[end - 1].isspace():
            end -= 1
        while start < end and self.text[start].isspace():
            start += 1
        return start, end

    def sentence_token_start(self, token_index: int) -> int:
        """Index of the first token of the sentence holding token_index."""
        i = bisect_right(self._sent_token_starts, token_index) - 1
        return self._sent_token_starts[i] if i >= 0 else 0

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


def fold_apostrophes(text: str) -> str:
    """Typographic apostrophes as plain ones ("we’ve" -> "we've"), for matching word lists; offsets stay the same."""
    return text.replace("\u2019", "'")


def asks(sentence: str, openers) -> bool:
    """Whether a sentence is a question that opens with one of ``openers`` ("How long does it last?")."""
    words = sentence.split(maxsplit=1)
    return (sentence.rstrip().endswith("?") and bool(words)
            and CONTRACTION_END.sub("", words[0].lower()) in openers)  # "What's the best oil for sleep?"


def heading_key(heading: str) -> str:
    """"12 Comments", "Leave a Reply:" -> "comments", "leave a reply"."""
    return " ".join(re.sub(r"[^a-z ]", " ", heading.lower()).split())


@lru_cache(maxsize=1)
def _scope_cues() -> dict:
    scope = reference.lexicon("context")["scope"]
    return {"comment_headings": {heading_key(h) for h in scope["comment_headings"]},
            "testimonial_headings": {heading_key(h) for h in scope["testimonial_headings"]},
            "comment_line": re.compile(scope["comment_line"], re.M)}
