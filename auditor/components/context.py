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
from .layout import layout

QUOTES = re.compile(r"[\"\u201c]([^\"\u201c\u201d\n]{1,600})[\"\u201d]")


def _phrases(words) -> dict[str, list[tuple[str, ...]]]:
    """Cue phrases indexed by their first word."""
    index: dict[str, list[tuple[str, ...]]] = {}
    for w in words:
        cue = tuple(w.lower().split())
        index.setdefault(cue[0], []).append(cue)
    return index


@Language.factory("auditor_context", assigns=["doc.spans"])
def make_context(nlp: Language, name: str):
    return AssertionContext()


class AssertionContext:
    def __init__(self):
        cues = reference.lexicon("context")
        self.max_scope = int(cues["max_scope"])
        self.hedges = _phrases(cues["hedges"])
        self.negation = _phrases(cues["negation"])
        self.pseudo_negation = _phrases(cues["pseudo_negation"])
        self.conditional = _phrases(cues["conditional"])
        self.terminators = {t.lower() for t in cues["terminators"]}

    def __call__(self, doc: Doc) -> Doc:
        spans = doc.spans.get(CLAIM_SPANS, [])
        if not spans:
            return doc
        lay = layout(doc)
        quoted = [m.span(1) for m in QUOTES.finditer(lay.text)]
        for span in spans:
            claim = span._.claim
            if claim is None:
                continue
            window = self._window(span, lay.sentence_token_start(span.start))
            claim.hedges = self._find(window, self.hedges)
            bound = tuple(claim.bound.split())
            if bound and bound in self.hedges.get(bound[0], ()) and claim.bound not in claim.hedges:
                claim.hedges.append(claim.bound)
            claim.negated = bool(self._find(window, self.negation, unless=self.pseudo_negation))
            claim.conditional = bool(self._find(window, self.conditional))
            if claim.scope == "provider" and any(s <= claim.start and claim.end <= e for s, e in quoted):
                claim.scope = "quote"
        return doc

    def _window(self, span, sent_start: int) -> list[str]:
        """Lower-cased tokens before the claim, back to the sentence start, a terminator or max_scope."""
        doc = span.doc
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
    def _find(words: list[str], cues: dict[str, list[tuple[str, ...]]],
              unless: dict[str, list[tuple[str, ...]]] | None = None) -> list[str]:
        """Cues in ``words``, except where one of the ``unless`` phrases starts at the same word."""
        found = []
        for i, word in enumerate(words):
            if unless and any(tuple(words[i:i + len(p)]) == p for p in unless.get(word, ())):
                continue
            for cue in cues.get(word, ()):
                if tuple(words[i:i + len(cue)]) == cue and " ".join(cue) not in found:
                    found.append(" ".join(cue))
        return found
