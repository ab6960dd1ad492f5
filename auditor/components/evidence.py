"""Evidence attribution: how the page itself supports each claim.

Labels, strongest first: ``cited`` (a link, DOI, PubMed id, a named study with year, a named source,
a numbered reference), ``study`` (a study described, not identified), ``self_reported`` (the
provider's own patients or data), ``vague`` ("research shows"), ``none``. The claim's sentence is
read first; a sentence that points back ("the study", "these patients") or reports a result in the
past tense ("62% had fewer attacks") inherits the evidence of the nearest earlier sentence of its
paragraph that names a study or source. The cue or citation found is kept as evidence_text.
"""
from __future__ import annotations

import re
from bisect import bisect_right
from urllib.parse import urlsplit

from spacy.language import Language
from spacy.tokens import Doc

from .. import reference
from ..claims import CLAIM_SPANS
from .layout import fold_apostrophes, heading_key, layout

LABELS = ("cited", "study", "self_reported", "vague")  # strongest first
REFERENCE_HEADING = re.compile(r"^\s*(?:references|sources|citations|bibliography|works cited|footnotes)\s*:?\s*$",
                               re.I | re.M)
LOOK_BACK_SENTENCES = 3
LIST_NUMBER = re.compile(r"[\[(]\d{1,3}[\])]$")
LIST_INTRO_END = re.compile(r":\s*(?:[\[(]\d{1,3}[\])])?\s*$")  # "results:", "results:[1]"
PARAGRAPHS_UNDER_INTRO = 2  # paragraphs after a line ending in a colon that it introduces
BLOCKS_BACK = 2  # paragraphs before a claim's own searched for the study it reports on
STUDY_SECTION_OPENING = re.compile(r"\W{0,3}([A-Za-z][A-Za-z ]{2,30}):")  # "RESULTS: A total of 64 adults ..."
# "Reference: The Lancet (2017)", "Source of the study: https://..."
SOURCE_LINE = re.compile(r"(?i:sources?|references?|citations?)(?i: (?:of|for) (?:the|this) [a-z]{3,12})?"
                         r"[ \t]{0,3}:[ \t]{0,3}(?:[A-Z]|https?://|www\.)")
ITEMS_BEFORE_SOURCE = 4  # list items before a source line that it gives
WORD = re.compile(r"[a-z]+")


class EvidenceCues:
    def __init__(self, data: dict):
        self.patterns = {label: reference.any_of(data[label].values()) for label in LABELS}
        self.back_reference = re.compile(data["back_reference"], re.I)
        self.continuation = re.compile(data["continuation"], re.I)
        self.past_result_verbs = frozenset(data["past_result_verbs"])
        self.past_result_not_after = frozenset(data["past_result_not_after"])
        self.study_sections = frozenset(data["study_section_headings"])

    def reports_past_result(self, sentence: str) -> bool:
        """A verb of the past tense that reports a result ("62% had fewer attacks"), not one describing a noun ("no
        reported side effects"); word sets, as a regex alternation of fifty words costs about 20 µs a sentence."""
        words = WORD.findall(sentence.lower())
        return any(w in self.past_result_verbs and (i == 0 or words[i - 1] not in self.past_result_not_after)
                   for i, w in enumerate(words))

    def label(self, sentence: str) -> tuple[str, str]:
        """The strongest label the sentence's own cues support, and the cue text."""
        folded = fold_apostrophes(sentence)  # "we’ve seen" as "we've seen"
        for label in LABELS:
            for m in self.patterns[label].finditer(folded):
                if label == "cited" and m.start() == 0 and LIST_NUMBER.match(m.group(0)):
                    continue  # "(1) Rest for a week" is list numbering, not a reference marker
                return label, sentence[m.start():m.end()].strip()
        return "none", ""


@Language.factory("auditor_evidence", assigns=["doc.spans"])
def make_evidence(nlp: Language, name: str):
    return EvidenceAttribution()


class EvidenceAttribution:
    def __init__(self):
        self.cues = EvidenceCues(reference.lexicon("evidence"))

    def __call__(self, doc: Doc) -> Doc:
        spans = doc.spans.get(CLAIM_SPANS, [])
        if not spans:
            return doc
        lay = layout(doc)
        references = None  # the page's numbered reference list, read when a marker needs it
        page_host = doc.user_data.get("page_host", "")
        by_sentence: dict[int, tuple[str, str]] = {}
        for span in spans:
            claim = span._.claim
            if claim is None:
                continue
            label, cue = self._sentence_label(doc, lay, claim.sentence_start, claim.sentence_end, page_host, by_sentence)
            if label == "none":  # "... satisfaction rate. (Journal of Cataract & Refractive Surgery, 2016)."
                label, cue = self._citation_after(doc, lay, claim.sentence_end, page_host, by_sentence)
            if self.cues.back_reference.search(claim.sentence):
                inherited = self._from_paragraph(doc, lay, claim.sentence_start, page_host, by_sentence)
                if inherited[0] != "none" and (label == "none" or LABELS.index(inherited[0]) < LABELS.index(label)):
                    label, cue = inherited
            if label == "none" and self.cues.continuation.match(claim.sentence):
                label, cue = self._previous_sentence(doc, lay, claim.sentence_start, page_host, by_sentence)
            if label == "none" and self.cues.reports_past_result(claim.sentence):  # "At six months, 62% had ..."
                label, cue = self._from_paragraph(doc, lay, claim.sentence_start, page_host, by_sentence)
            if label == "none":  # "The trials showed [1]:" and a list of results under it
                label, cue = self._list_intro(doc, lay, claim.start, page_host, by_sentence)
            if label in ("none", "vague", "study"):  # "Pain fell by 40%." and then "Source: https://..." on its own line
                source = _source_line_after(lay, claim.start)
                if source[0] == "cited":
                    label, cue = source
            marker = _marker_number(cue) if label == "cited" else ""
            if marker:
                references = _reference_entries(lay.text) if references is None else references
                cue = references.get(marker, cue)
            claim.evidence, claim.evidence_text = label, cue[:300]
        return doc

    def _sentence_label(self, doc, lay, start, end, page_host, cache) -> tuple[str, str]:
        if start not in cache:
            label, cue = self.cues.label(lay.text[start:end])
            link = _external_link(doc, start, end, page_host)
            if link and label != "cited":
                label, cue = "cited", link
            cache[start] = (label, cue)
        return cache[start]

    def _citation_after(self, doc, lay, sentence_end, page_host, cache) -> tuple[str, str]:
        """A citation standing alone in parentheses right after the claim's sentence."""
        i = bisect_right(lay._sent_starts, sentence_end)
        if i < len(lay.sentences):
            s, e = lay.sentences[i]
            following = lay.text[s:e].strip()
            if following[:1] in "([" and len(following) <= 300 and not lay.text[sentence_end:s].count("\n"):
                label, cue = self._sentence_label(doc, lay, s, e, page_host, cache)
                if label == "cited":
                    return label, cue
        return "none", ""

    def _previous_sentence(self, doc, lay, sentence_start, page_host, cache) -> tuple[str, str]:
        """The evidence of the sentence just before, in the same block."""
        earlier = _earlier_in_block(lay, sentence_start, 1)
        return self._sentence_label(doc, lay, *earlier[0], page_host, cache) if earlier else ("none", "")

    def _list_intro(self, doc, lay, claim_start, page_host, cache) -> tuple[str, str]:
        """The evidence of the line that introduces a list ("... showed these results:[1]"), for its items, or
        that introduces the paragraphs under it ("Of 349 patients we treated, we found the following:")."""
        i = _text_block(lay, claim_start)
        if i < 0:
            return "none", ""
        if lay.blocks[i].kind == "list_item":
            while i >= 0 and lay.blocks[i].kind == "list_item":
                i -= 1
        else:
            first = max(i - PARAGRAPHS_UNDER_INTRO, 0)
            i -= 1
            while i > first and lay.blocks[i].kind == "paragraph" and not self._intro(lay, i):
                i -= 1
        if i < 0 or not self._intro(lay, i):
            return "none", ""
        s, e = lay.sentence(lay.blocks[i].end - 1)
        return self._sentence_label(doc, lay, s, e, page_host, cache)

    @staticmethod
    def _intro(lay, i: int) -> bool:
        return bool(LIST_INTRO_END.search(lay.text, lay.blocks[i].start, lay.blocks[i].end))

    def _from_paragraph(self, doc, lay, sentence_start, page_host, cache) -> tuple[str, str]:
        """The evidence of the nearest earlier sentence that describes a study or cites a source."""
        for s, e in self._earlier_sentences(lay, sentence_start):
            label, cue = self._sentence_label(doc, lay, s, e, page_host, cache)
            if label in ("cited", "study"):
                return label, cue
        return "none", ""

    def _earlier_sentences(self, lay, sentence_start: int):
        """Nearest first: the sentences before it in its block, then the last ones of the paragraphs before it."""
        yield from _earlier_in_block(lay, sentence_start, LOOK_BACK_SENTENCES)
        for block in self._blocks_before(lay, sentence_start):
            yield from _last_sentences(lay, block, LOOK_BACK_SENTENCES)

    def _blocks_before(self, lay, sentence_start: int) -> list:
        """Up to BLOCKS_BACK paragraphs or list items before the one holding sentence_start, nearest first, when it
        is a study's own section: under a heading such as "Results", or opening with "Results:" ("In this study, 64
        adults ..." / "Results" / "Pain fell by 35%."); a heading of any other kind ends the search."""
        i = _text_block(lay, sentence_start)
        if i < 0:
            return []  # a quote or a testimonial under "Results" is no study's result
        opening = STUDY_SECTION_OPENING.match(lay.text, lay.blocks[i].start, lay.blocks[i].end)
        in_section = bool(opening) and self._study_section(opening.group(1))
        out = []
        for block in reversed(lay.blocks[max(0, i - 2 * BLOCKS_BACK):i]):
            if len(out) == BLOCKS_BACK:
                break
            if block.kind in ("paragraph", "list_item"):
                out.append(block)
            elif block.kind == "heading" and self._study_section(lay.text[block.start:block.end]):
                in_section = True
            else:
                break
        return out if in_section else []

    def _study_section(self, heading: str) -> bool:
        return heading_key(heading) in self.cues.study_sections


def _text_block(lay, position: int) -> int:
    """The index of the paragraph or list item holding ``position``, or -1 (a heading, a table cell, no block)."""
    i = bisect_right(lay._block_starts, position) - 1
    return i if i >= 0 and lay.blocks[i].kind in ("list_item", "paragraph") else -1


def _source_line_after(lay, claim_start: int) -> tuple[str, str]:
    """A source named on its own line right after the claim's paragraph, or a few list items after the claim's
    item in the same list: the claim is cited."""
    i = _text_block(lay, claim_start)
    if i < 0:
        return "none", ""
    reach = ITEMS_BEFORE_SOURCE if lay.blocks[i].kind == "list_item" else 1
    for block in lay.blocks[i + 1:i + 1 + reach]:
        if SOURCE_LINE.match(lay.text, block.start, block.end):
            return "cited", lay.text[block.start:block.end].strip()[:300]
        if block.kind != "list_item":
            break  # a source line may close a list, not reach over another paragraph
    return "none", ""


def _earlier_in_block(lay, sentence_start: int, n: int) -> list[tuple[int, int]]:
    """Up to n sentences before the one starting at sentence_start, nearest first, within its block."""
    block = lay.block(sentence_start)
    i = bisect_right(lay._sent_starts, sentence_start - 1)  # the sentences before this one
    return [s for s in reversed(lay.sentences[max(0, i - n):i]) if block is None or s[0] >= block.start]


def _last_sentences(lay, block, n: int) -> list[tuple[int, int]]:
    """Up to n last sentences of a block, nearest its end first."""
    lo, hi = bisect_right(lay._sent_starts, block.start - 1), bisect_right(lay._sent_starts, block.end - 1)
    return list(reversed(lay.sentences[max(lo, hi - n):hi]))


def _external_link(doc: Doc, start: int, end: int, page_host: str) -> str:
    """The target of a link to another site inside the sentence, if any."""
    for link in doc._.links or []:
        if start <= link.start < end:
            parts = urlsplit(link.href)
            if parts.scheme in ("http", "https") and parts.netloc and parts.netloc != page_host:
                return link.href
    return ""


def _marker_number(cue: str) -> str:
    m = re.match(r"^[\[(](\d{1,3})", cue)
    return m.group(1) if m else ""


def _reference_entries(text: str) -> dict[str, str]:
    """Numbered entries of a reference list at the end of the page: {"1": "Smith J. ... 2019"}."""
    heading = None
    for heading in REFERENCE_HEADING.finditer(text):
        pass
    if heading is None:
        return {}
    entries = {}
    for m in re.finditer(r"^\s*\[?(\d{1,3})[.)\]]\s+([^\n]{5,400})$", text[heading.end():], re.M):
        entries.setdefault(m.group(1), m.group(2).strip())
    return entries
