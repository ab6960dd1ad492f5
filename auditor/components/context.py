"""Assertion context, ConText-style: hedges, negation, conditionals and quoted material.

Cues and their scope come from ``reference/lexicons/context.yaml``: a cue before a claim in the same
sentence modifies it when no terminator ("but", "however", ";") stands between them and it is at
most ``max_scope`` tokens away. The claim's own bound word counts as a hedge when it is one ("up to").
"""
from __future__ import annotations

import re

from spacy.language import Language
from spacy.tokens import Doc

from .. import reference
from ..claims import CLAIM_SPANS

QUOTES = re.compile(r"[\"\u201c]([^\"\u201c\u201d\n]{1,600})[\"\u201d]")


def _phrases(words) -> list[tuple[str, ...]]:
    return sorted((tuple(w.lower().split()) for w in words), key=len, reverse=True)


@Language.factory("auditor_context", assigns=["doc.spans"])
def make_context(nlp: Language, name: str):
    return AssertionContext()


class AssertionContext:
    def __init__(self):
        cues = reference.lexicon("context")
        self.max_scope = int(cues["max_scope"])
        self.hedges = _phrases(cues["hedges"])
        self.negation = _phrases(cues["negation"])
        self.conditional = _phrases(cues["conditional"])
        self.terminators = {t.lower() for t in cues["terminators"]}

    def __call__(self, doc: Doc) -> Doc:
        spans = doc.spans.get(CLAIM_SPANS, [])
        if not spans:
            return doc
        quoted = [m.span(1) for m in QUOTES.finditer(doc.text)]
        for span in spans:
            claim = span._.claim
            if claim is None:
                continue
            window = self._window(span)
            claim.hedges = self._find(window, self.hedges)
            if claim.bound and tuple(claim.bound.split()) in self.hedges and claim.bound not in claim.hedges:
                claim.hedges.append(claim.bound)
            claim.negated = bool(self._find(window, self.negation))
            claim.conditional = bool(self._find(window, self.conditional))
            if claim.scope == "provider" and any(s <= claim.start and claim.end <= e for s, e in quoted):
                claim.scope = "quote"
        return doc

    def _window(self, span) -> list[str]:
        """Lower-cased tokens before the claim, back to the sentence start, a terminator or max_scope."""
        doc = span.doc
        sent_start = span.sent.start
        words: list[str] = []
        i = span.start - 1
        while i >= sent_start and len(words) < self.max_scope:
            word = doc[i].lower_
            if word in self.terminators:
                break
            if not doc[i].is_space:
                words.append(word)
            i -= 1
        return list(reversed(words))

    @staticmethod
    def _find(words: list[str], cues: list[tuple[str, ...]]) -> list[str]:
        found = []
        for cue in cues:
            n = len(cue)
            if any(tuple(words[i:i + n]) == cue for i in range(len(words) - n + 1)):
                found.append(" ".join(cue))
        return found
