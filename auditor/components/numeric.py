"""Numeric claims: quantities the page asserts something with.

The quantity parser finds every quantity with a unit; this component drops the ones that are not
claims (``reference/lexicons/not_claims.yaml``: contact details, dates, labels, shop boilerplate,
keyword phrases repeated as page furniture, readers' comments), folds a time frame into the rate it
qualifies ("25 to 30 percent of patients within 10 years"), and writes the rest to
``doc.spans["claims"]`` with a :class:`~auditor.claims.Claim` on ``span._.claim``.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace

import numpy
from spacy.attrs import IDX, LIKE_NUM, LOWER
from spacy.language import Language
from spacy.tokens import Doc

from .. import reference
from ..claims import CLAIM_SPANS, Claim
from .layout import asks, fold_apostrophes, layout
from .quantities import WORDS_BEFORE, Quantity, find_quantities, grammar
from .segmenter import page_text

# the measure family a unit implies
UNIT_CATEGORY = {
    "percent": "rate", "fraction": "rate", "times": "multiplier",
    "people": "count", "patients": "count", "sessions": "count", "events": "count", "grafts": "count", "hairs": "count",
    "studies": "count",
    "inch": "size", "cm": "size", "mm": "size", "cup_size": "size",
    "mg": "dose", "mcg": "dose", "g": "dose", "ml": "dose", "ounce": "dose", "iu": "dose", "units": "dose", "cfu": "dose", "cells": "dose",
    "pound": "amount", "kg": "amount", "calorie": "amount", "liter": "amount", "gallon": "amount",
}
TIME_FRAME_LINKS = re.compile(r"\b(?:within|after|at|over|for|following|in the first|by)\s*$", re.I)
ADJECTIVE_DURATION = re.compile(r"\S+-(?:year|month|week|day)s?$", re.I)  # "ten-year", "5-year"
LABEL_PUNCTUATION = " \t.:;-\u2013|"  # around a quantity standing alone as a label
NON_WORD = re.compile(r"[^\w%]+")
LINK_REACH = 400  # characters back to the start of a web address holding a number
WINDOW = 48  # characters of context read before and after a quantity
SPAN_REACH_BEFORE, SPAN_REACH_AFTER = 16, 24  # how far a furniture span overlapping a quantity may stick out of it
TIME_POINT_BEFORE = re.compile(r"\b(?:at|after|following)\s{1,3}$", re.I)
COPULA = re.compile(r"\s{0,3}(?:is|are|was|were|remains|stays|holds at|reaches)\s{1,3}", re.I)
CLAUSE_OPENING = re.compile(r"(?:(?:even|only|just)\s{1,3})?(?:at|after|following|in the first)?", re.I)
FREQUENCY_AFTER = re.compile(r"[ \t]{0,3}(?:per|a|an|each|every)[ \t]{1,3}(?:day|night|week|month)\b", re.I)
FRAME_NOUN_REACH = 3  # words after an adjectival duration searched for the measure it frames
FRAME_NOUN_STOPS = frozenset("a an the of in for with and or to is are was were by at on that which who".split())
TIME_FRAME_REACH = 60  # a duration this close after a rate, in its sentence, is the rate's time frame
CLAUSE_JOIN = re.compile(r"(?:\band|;)\s{0,3}$", re.I)  # "under 5% is left, and by one year ...": a clause of its own


class NotClaims:
    """The furniture rules of not_claims.yaml, compiled."""

    def __init__(self, data: dict):
        self.spans = reference.any_of(data["spans"].values())
        self.after = reference.any_of(data["after"].values())
        self.after_duration = reference.any_of(data["after_duration"].values())
        self.after_amount = reference.any_of(data["after_amount"].values())
        self.before = reference.any_of(data["before"].values())
        self.before_ratio = reference.any_of(data["before_ratio"].values())
        self.before_count = reference.any_of(data["before_count"].values())
        self.sentence_words = tuple(w.lower() for w in data["sentence_words"])
        self.question_openers = frozenset(w.lower() for w in data["question_openers"])
        self.age_bounds = frozenset(w.lower() for w in data["age_bounds"])
        self.label_words = tuple(w.lower() for w in data["label_words"])
        self.time_frame_nouns = frozenset(w.lower() for w in data["time_frame_nouns"])
        self.furniture_repeats = int(data["furniture_repeats"])
        self.count_of_one_kept = re.compile(data["count_of_one_kept_before"], re.I)
        self.count_of_one_units = frozenset(data["count_of_one_units"])
        self.hypothetical_openers = tuple(fold_apostrophes(w.lower()) for w in data["hypothetical_openers"])


def _frame_text(duration: Quantity) -> str:
    """A duration as a rate's time frame: its far end ("within 10 years" -> "10 year")."""
    return f"{duration.high if duration.high is not None else duration.low:g} {duration.unit}"


def _inside_link(text: str, start: int) -> bool:
    """Whether the word holding ``start`` is a web address, however far back it began."""
    lo = max(0, start - LINK_REACH)
    word = text[max(lo, *(text.rfind(space, lo, start) + 1 for space in " \n\t")):start]
    return "://" in word or word[:4].lower() == "www."


def category_of(unit: str) -> str:
    return "duration" if unit in grammar().unit_days else UNIT_CATEGORY.get(unit, "quantity")


@Language.factory("auditor_numeric", assigns=["doc.spans"], default_config={"include_comments": False})
def make_numeric(nlp: Language, name: str, include_comments: bool):
    return NumericClaims(include_comments)


class NumericClaims:
    def __init__(self, include_comments: bool = False):
        self.include_comments = include_comments
        self.not_claims = NotClaims(reference.lexicon("not_claims"))
        g = grammar()
        words = [w for phrase in g.number_like_words for w in phrase.split()]
        # "one-" is one token in the suspended hyphen of "a one- to two-day stay"
        self.number_hashes = _hashes([*words, *(w + "-" for w in words)])
        self.article_hashes = _hashes(["a", "an"])
        self.digit_runs = re.compile(g.digit_class + "+")
        # the word before an article that counts as one: a bound ("up to a year") or a verb ("lasts a year")
        self.bound_or_verb_hashes = _hashes([*(b.split()[-1] for b in g.bound_kind), *g.article_verbs])
        self.ordinal_hashes = _hashes(g.ordinals)
        self.the_hash = _hashes(["the"])
        self.time_only_hashes = _hashes(g.time_only)
        self.start_hashes = _hashes(g.start_words)

    def __call__(self, doc: Doc) -> Doc:
        text = page_text(doc)
        quantities = find_quantities(text, self._candidates(doc))
        if not quantities:
            doc.spans.setdefault(CLAIM_SPANS, [])
            return doc
        lay = layout(doc)
        # a quantity in a keyword phrase said again and again: count each quantity's surrounding words
        phrases = [_phrase_around(q, text) for q in quantities]
        repeats = Counter(p for p in phrases if p)
        kept: list[tuple[Quantity, tuple[int, int]]] = []
        for q, phrase in zip(quantities, phrases):
            sent = lay.sentence(q.start)
            if self._is_furniture(q, text, sent) or (phrase and repeats[phrase] >= self.not_claims.furniture_repeats):
                continue
            kept.append((q, sent))
        kept = self._read_periods(kept, text)
        kept = self._fold_time_frames(kept, text)
        spans = list(doc.spans.get(CLAIM_SPANS, []))
        examples = self._worked_examples(doc._.blocks or [], text)
        for q, sent, time_frame in kept:
            block = lay.block(q.start)
            scope = lay.scope(q.start)
            if scope == "comment" and not self.include_comments:
                continue  # readers' comments are not the provider's claims
            if (block.start if block is not None else -1) in examples or (block is None and self._opens_example(text, *sent)):
                continue  # "Take, for example, a person 5'7" tall...": arithmetic that illustrates, not a claim
            if block is not None and block.kind in ("heading", "title") and category_of(q.unit) == "dose":
                continue  # "Omega-3 1000mg Fish Oil": a product's name, not a dose it claims
            span = doc.char_span(q.start, q.end, label="numeric", alignment_mode="expand")
            if span is None:
                continue
            span._.claim = Claim(
                kind="numeric", category=category_of(q.unit), text=text[q.start:q.end], start=q.start, end=q.end,
                sentence=text[sent[0]:sent[1]], sentence_start=sent[0], sentence_end=sent[1],
                low=q.low, high=q.high, unit=q.unit, bound=q.bound, approx=q.approx, form=q.form,
                pattern=f"quantity.{q.form}", time_frame=time_frame, heading=lay.heading(q.start),
                block_kind=block.kind if block else "", scope=scope, occurrences=[[q.start, q.end]])
            spans.append(span)
        doc.spans[CLAIM_SPANS] = spans
        return doc

    def _opens_example(self, text: str, start: int, end: int) -> bool:
        first_words = fold_apostrophes(text[start:min(end, start + 40)].lstrip().lower())
        return first_words.startswith(self.not_claims.hypothetical_openers)

    def _worked_examples(self, blocks, text: str) -> set[int]:
        """Starts of the blocks of worked examples: a paragraph that opens like one, and the list items after it."""
        found, in_example = set(), False
        for b in blocks:
            if self._opens_example(text, b.start, b.end):
                in_example = True
            elif b.kind != "list_item":
                in_example = False
            if in_example:
                found.add(b.start)
        return found

    def _candidates(self, doc: Doc) -> list[int]:
        """Character offsets of tokens a quantity can start from: tokens holding a digit (not only those
        spaCy reads as numbers: "10%-20" is one token), number and fraction words, "a"/"an" after a bound."""
        if not len(doc):
            return []
        attrs = doc.to_array([LIKE_NUM, LOWER, IDX])
        like_num, lower, idx = attrs[:, 0], attrs[:, 1], attrs[:, 2]
        hit = (like_num == 1) | numpy.isin(lower, self.number_hashes)
        digit_at = [m.start() for m in self.digit_runs.finditer(page_text(doc))]
        if digit_at:
            hit[numpy.searchsorted(idx, digit_at, side="right") - 1] = True
        hit[1:] |= numpy.isin(lower[1:], self.article_hashes) & numpy.isin(lower[:-1], self.bound_or_verb_hashes)
        # "by the sixth week": an ordinal after "by the" / "within the" ("second" alone is a common word)
        hit[2:] |= (numpy.isin(lower[2:], self.ordinal_hashes) & numpy.isin(lower[1:-1], self.the_hash)
                    & numpy.isin(lower[:-2], self.time_only_hashes))
        at = numpy.flatnonzero(hit)
        # a quantity may start a few words before its number ("more than 90%", "between 6 and 12"), at a word
        # that can start one (the grammar is not tried at the others: most words before a number are not)
        before = numpy.concatenate([numpy.maximum(at - k, 0) for k in range(1, WORDS_BEFORE + 1)])
        before = before[numpy.isin(lower[before], self.start_hashes)]
        return idx[numpy.unique(numpy.concatenate([at, before]))].tolist()

    def _is_furniture(self, q: Quantity, text: str, sent: tuple[int, int]) -> bool:
        if _inside_link(text, q.start):
            return True  # "https://example.gr/%CE%B1%83%CE/": the digits of a web address
        # a span of furniture overlapping the quantity starts a little before it at most ("All On 4 implants") and
        # ends a little after it ("24 hours a day"): the search is kept to that stretch, as it runs for every quantity
        lo = max(0, q.start - SPAN_REACH_BEFORE)
        for m in self.not_claims.spans.finditer(text, lo, min(len(text), q.end + SPAN_REACH_AFTER)):
            if m.start() >= q.end:
                break
            if q.start < m.end():
                return True
        after = text[q.end:q.end + WINDOW]
        after_unit = self.not_claims.after_duration if q.unit in grammar().unit_days else self.not_claims.after_amount
        if self.not_claims.after.search(after) or after_unit.search(after):
            return True
        before = text[max(0, q.start - WINDOW):q.start]
        if (self.not_claims.before.search(before) or (q.form == "ratio" and self.not_claims.before_ratio.search(before))
                or (q.unit != "percent" and self.not_claims.before_count.search(before))):
            return True
        sentence = text[sent[0]:sent[1]].lower()
        if any(w in sentence for w in self.not_claims.sentence_words):
            return True
        if asks(sentence, self.not_claims.question_openers):
            return True
        if q.bound in self.not_claims.age_bounds and q.unit in grammar().unit_days:
            return True  # "adults 75 years and older": an age
        if category_of(q.unit) == "dose" and (any(w in sentence for w in self.not_claims.label_words)
                                             or sentence.strip(LABEL_PUNCTUATION) == text[q.start:q.end].lower()):
            return True  # a label: "Each capsule contains: ... 500 mg", or "500 mg" alone on its line
        if q.form == "article" and q.unit in grammar().countable:
            return True  # "over a session that lasts 30 minutes": a count of one, bounded or not, asserts nothing
        if (q.unit in self.not_claims.count_of_one_units and q.low == 1 and q.high == 1 and not q.bound
                and not self.not_claims.count_of_one_kept.search(text, max(0, q.start - WINDOW), q.start)):
            return True  # "one patient", "a session": a count of one asserts nothing ("only one session" does)
        if ADJECTIVE_DURATION.match(text, q.start, q.end) and q.unit in grammar().unit_days:
            # "the ten-year success rate", "a five-year implant survival rate": a time frame, read by topics.py
            # as a qualifier; the nouns right after it, up to three, are searched
            for word in after.split()[:FRAME_NOUN_REACH]:
                word = word.lower().strip(".,;:")
                if word in self.not_claims.time_frame_nouns:
                    return True
                if word in FRAME_NOUN_STOPS or not word.isalpha():
                    break
        return False

    @staticmethod
    def _read_periods(kept, text):
        """"36 sessions over 9 weeks": a period word right after another quantity is not a bound."""
        out = []
        period_words = grammar().period_words
        for q, sent in kept:
            prev = out[-1][0] if out else None
            if (prev is not None and q.bound in period_words and q.low is not None
                    and not text[prev.end:q.start].strip()):
                word = re.match(rf"{re.escape(q.bound)}\s+", text[q.start:q.end], re.I)
                q = replace(q, start=q.start + (word.end() if word else 0), high=q.low, bound="", approx=False)
            out.append((q, sent))
        return out

    @staticmethod
    def _fold_time_frames(kept, text):
        kept = NumericClaims._fold_backward(kept, text)
        return NumericClaims._fold_forward(kept, text)

    @staticmethod
    def _fold_forward(kept, text):
        """A duration opening a clause before a rate ("After 6 weeks, 70% of patients improved", "weight loss at one
        year is 75%") is that rate's time frame."""
        time_units = grammar().unit_days
        out = []
        skip = set()
        for i, (q, sent, frame) in enumerate(kept):
            if i in skip:
                continue
            nxt = kept[i + 1] if i + 1 < len(kept) else None
            if (nxt is not None and q.unit in time_units and nxt[0].unit in ("percent", "fraction") and not nxt[2]
                    and nxt[1] == sent and nxt[0].start - q.end <= TIME_FRAME_REACH
                    and "|" not in text[q.end:nxt[0].start]  # a table row: "35 to 38 years | 33%" is an age group
                    and (NumericClaims._opens_clause(text, sent[0], q.start)
                         or (TIME_POINT_BEFORE.search(text, max(0, q.start - 12), q.start)
                             and COPULA.fullmatch(text, q.end, nxt[0].start)))  # "the rate after 10 years is 94%"
                    and not FREQUENCY_AFTER.match(text, q.end)):
                out.append((nxt[0], nxt[1], _frame_text(q)))
                skip.add(i + 1)
                continue
            out.append((q, sent, frame))
        return out

    @staticmethod
    def _opens_clause(text: str, sentence_start: int, start: int) -> bool:
        """Only a time-point word stands between the clause's start and here ("After 6 weeks", "Even at 20 years")."""
        clause = text[sentence_start:start]
        breaks = [clause.rfind(c) for c in ",;:"]
        return CLAUSE_OPENING.fullmatch(clause[max(breaks) + 1:].strip()) is not None

    @staticmethod
    def _fold_backward(kept, text):
        """A duration right after a rate ("30 percent of patients within 10 years", "15% of their weight over
        68 weeks") is the rate's time frame."""
        out = []
        time_units = grammar().unit_days
        frame_bounds = grammar().time_only | grammar().period_words
        for q, sent in kept:
            # the rate before, passing over a study's size ("82% of patients (n = 3855) ... within 3 months")
            at = next((i for i in range(len(out) - 1, -1, -1) if out[i][0].form != "sample"), None)
            prev = out[at] if at is not None else None
            if (prev is not None and q.unit in time_units and prev[0].unit in ("percent", "fraction")
                    and not prev[2]  # a rate has one time frame: a second duration is a claim of its own
                    and not FREQUENCY_AFTER.match(text, q.end)  # "for at least 10 hours per day": a usage
                    and prev[1] == sent and q.start - prev[0].end <= TIME_FRAME_REACH
                    and not CLAUSE_JOIN.search(text, prev[0].end, q.start)
                    and (q.bound in frame_bounds or TIME_FRAME_LINKS.search(text[prev[0].end:q.start]))):
                out[at] = (prev[0], prev[1], _frame_text(q))
                continue
            out.append((q, sent, ""))
        return out


def _phrase_around(q: Quantity, text: str) -> str:
    """The quantity with two words before and three after, normalised ("neck pain 2 years after cervical fusion")."""
    before = text[max(0, q.start - WINDOW):q.start].split()[-2:]
    after = text[q.end:q.end + WINDOW].split()[:3]
    if len(before) + len(after) < 4:
        return ""
    return _normalised(" ".join(before + [text[q.start:q.end]] + after))


def _hashes(words) -> numpy.ndarray:
    from spacy.strings import hash_string
    return numpy.array(sorted({hash_string(w.lower()) for w in words}), dtype="uint64")


def _normalised(s: str) -> str:
    """Lower case, punctuation and runs of white space folded to one space."""
    return " ".join(NON_WORD.sub(" ", s.lower()).split())
