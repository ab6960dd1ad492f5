"""Sentence boundaries for web pages: end punctuation, and every line break.

Headings, bullets and table cells reach the pipeline as separate lines, so a sentence never runs
from a heading into the paragraph under it. Works in a blank pipeline and before a trained parser.
Boundaries are found with two linear regular expressions on the text and written in one array
operation (setting ``token.is_sent_start`` token by token costs more than tokenising).
"""
from __future__ import annotations

import re
from functools import lru_cache

import numpy
from spacy.attrs import IDX, SENT_START
from spacy.language import Language
from spacy.tokens import Doc

from .. import reference

# the first character after a line break
AFTER_LINE_BREAK = re.compile(r"\n[\s]{0,200}+(?=\S)")
# the first character after end punctuation (and a reference marker glued to it, closing quotes or brackets)
# and a space: "... is effective.[2] Most", "... for migraine.4 A second"
AFTER_END_PUNCT = re.compile(r"[.!?\u2026]{1,10}+(?:(?<=[a-z][.!?])\d{1,2}+|[\[(]\d{1,3}+(?:[,\u2013-]\d{1,3}+){0,6}+[\])])?+"
                             r"[\"')\]\u201d\u2019]{0,3}+[ \t\u00a0]{1,50}+(?=\S)")
MAX_SENTENCE_TOKENS = 200  # a "sentence" longer than this (a page that is one long line) is cut
CONTINUES = re.compile(r"[a-z,;:)\]\-\u2013\u2014]")  # "e.g. the", "approx. an inch": not a new sentence
SHORT_NAME = re.compile(r"[A-Z][a-z]{0,3}")  # "K.", "Med." before a full stop
BRACKET_REACH = 150  # characters back to look for an unclosed "(": "(J. Smith, K. Lee; Sleep Med. 2015)"


def page_text(doc: Doc) -> str:
    """The Doc's text, read once (``Doc.text`` is rebuilt from the tokens on every access)."""
    text = doc.user_data.get("text")
    if text is None:
        text = doc.user_data["text"] = doc.text
    return text


WORD_BEFORE = re.compile(r"([\w.]{1,12})$")


@lru_cache(maxsize=1)
def abbreviations() -> frozenset:
    return frozenset(a.lower() for a in reference.load_yaml(reference.path("lexicons", "abbreviations.yaml")))


def sentence_start_chars(text: str) -> list[int]:
    starts = [m.end() for m in AFTER_LINE_BREAK.finditer(text)]
    abbrev = abbreviations()
    for m in AFTER_END_PUNCT.finditer(text):
        if CONTINUES.match(text, m.end()):
            continue
        if text[m.start()] == ".":  # "Vol. 42", "et al. 2019": an abbreviation, not the end
            word = WORD_BEFORE.search(text, max(0, m.start() - 12), m.start())
            # "et.al. 2023": the last part of a dotted word is the abbreviation
            if word and {word.group(1).lower().lstrip("."), word.group(1).lower().rpartition(".")[2]} & abbrev:
                continue
            # "(J. Smith, K. Lee; Sleep Med. 2015)": initials and short names in a reference
            if word and SHORT_NAME.fullmatch(word.group(1)) and _inside_brackets(text, m.end()):
                continue
        starts.append(m.end())
    return starts


def _inside_brackets(text: str, end: int) -> bool:
    """Whether a "(" opened earlier on the line is still open at ``end`` (initials and journal names in a
    reference end in full stops that do not end the sentence)."""
    before = text[max(0, end - BRACKET_REACH):end]
    before = before[before.rfind("\n") + 1:]
    return before.count("(") > before.count(")")


@Language.component("auditor_sentences", assigns=["token.is_sent_start"])
def set_sentence_starts(doc: Doc) -> Doc:
    if not len(doc):
        return doc
    idx = doc.to_array([IDX]).reshape(-1)
    flags = numpy.full(len(doc), -1, dtype="int32")  # -1: not a start, 1: a start
    flags[0] = 1
    chars = numpy.asarray(sentence_start_chars(page_text(doc)), dtype=idx.dtype)
    if len(chars):
        at = numpy.searchsorted(idx, chars)
        at = at[at < len(doc)]
        at = at[numpy.isin(idx[at], chars)]  # only where a token starts exactly there
        flags[at] = 1
    starts = numpy.flatnonzero(flags == 1)
    gaps = numpy.diff(numpy.append(starts, len(doc)))
    for start, length in zip(starts.tolist(), gaps.tolist()):
        if length > MAX_SENTENCE_TOKENS:
            flags[start + MAX_SENTENCE_TOKENS: start + length: MAX_SENTENCE_TOKENS] = 1
    doc.from_array([SENT_START], flags.reshape(-1, 1).astype("uint64"))
    return doc
