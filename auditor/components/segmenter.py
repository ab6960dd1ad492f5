"""Sentence boundaries for web pages: end punctuation, and every line break.

Headings, bullets and table cells reach the pipeline as separate lines, so a sentence never runs
from a heading into the paragraph under it. Works in a blank pipeline and before a trained parser.
"""
from __future__ import annotations

from spacy.language import Language
from spacy.tokens import Doc

END_PUNCT = frozenset({".", "!", "?", "...", "\u2026", "!!", "??", "?!"})
CLOSERS = frozenset({'"', "'", ")", "]", "\u201d", "\u2019"})


@Language.component("auditor_sentences", assigns=["token.is_sent_start"])
def set_sentence_starts(doc: Doc) -> Doc:
    pending = ""  # "line" after a line break, "punct" after end punctuation
    for i, token in enumerate(doc):
        starts = i == 0
        if pending and not token.is_space and token.text not in CLOSERS:
            # "e.g. the", "approx. an inch": a lower-case word after a full stop continues the sentence
            starts = pending == "line" or not (token.text[:1].islower() or token.is_punct)
            pending = ""
        token.is_sent_start = starts
        if "\n" in token.text or "\n" in token.whitespace_:
            pending = "line"
        elif token.text in END_PUNCT and pending != "line":
            pending = "punct"
    return doc
