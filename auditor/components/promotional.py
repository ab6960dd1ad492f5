"""Promotional claims: phrases that sell a provider or treatment, with their category.

Phrase lists (``reference/lexicons/promotional.yaml``) go to a PhraseMatcher, structural patterns
(``reference/patterns/promotional.jsonl``) to a Matcher; a pattern of plain words and word lists is matched as
the phrases it spells out, which costs next to nothing. A phrase weakened by a hedge ("may help"),
negated ("there is no cure") or offered as advice ("choose the best treatment for you") is not a
claim. The same phrase repeated on a page is one claim with a count.
"""
from __future__ import annotations

import itertools
import math

import numpy
from spacy.attrs import LOWER
from spacy.language import Language
from spacy.matcher import Matcher, PhraseMatcher
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from .. import reference
from ..claims import CLAIM_SPANS, Claim
from ..errors import RuleError
from .layout import asks, layout

PATTERN_KEYS = {"id", "label", "pattern"}
# categories that a preceding hedge or negation turns into advice or a denial
WEAKENED_BY_HEDGE = {"efficacy", "comparative"}
NEGATABLE = {"absolute_outcome", "efficacy", "superlative", "authority", "comparative", "social_proof"}
DEPENDS_REACH = 3  # tokens after a superlative searched for "depends" ("the best treatment strategy depends")
MAX_SPELLED_OUT = 2000  # a plain pattern with more word sequences than this stays in the Matcher
CLITIC_NEGATIONS = {"n't", "n\u2019t"}
CONJUNCTIONS = {"and", "or"}  # a hedge before the first of two joined phrases covers the second (not ", and": a clause)
LOOK_BACK = 6  # tokens before a phrase searched for a hedge or negation ("none has ever been proven to cure")


def load_patterns() -> list[dict]:
    file = reference.path("patterns", "promotional.jsonl")
    rows = []
    for line, row in reference.load_jsonl(file):
        unknown = set(row) - PATTERN_KEYS
        if unknown or not PATTERN_KEYS <= set(row):
            raise RuleError(f"pattern rows need exactly {sorted(PATTERN_KEYS)}", str(file), line, "E206")
        if any(r["id"] == row["id"] for r in rows):  # a second row would silently join the first's patterns
            raise RuleError(f"pattern id {row['id']!r} is used twice", str(file), line, "E206")
        rows.append(row)
    return rows


@Language.factory("auditor_promotional", assigns=["doc.spans"], default_config={"include_comments": False})
def make_promotional(nlp: Language, name: str, include_comments: bool):
    return PromotionalClaims(nlp, include_comments)


class PromotionalClaims:
    def __init__(self, nlp: Language, include_comments: bool = False):
        self.include_comments = include_comments
        # NORM folds typographic apostrophes, quotes and dashes: "won’t hurt" is the phrase "won't hurt"
        self.phrases = PhraseMatcher(nlp.vocab, attr="NORM")
        context = reference.lexicon("context")
        for category, phrases in reference.lexicon("promotional").items():
            phrases = _with_hyphenated(phrases, context["hyphenated_too"])
            phrases = _with_contracted(phrases, context["contracted_is_after"])
            self.phrases.add(category, list(nlp.tokenizer.pipe(phrases)))
        self.matcher = Matcher(nlp.vocab)
        self.spelled_out = PhraseMatcher(nlp.vocab, attr="LOWER")
        self.pattern_label = {}
        patterns = []
        for row in load_patterns():
            self.pattern_label[row["id"]] = row["label"]
            sequences = _word_sequences(row["pattern"])
            if sequences is not None:
                self.spelled_out.add(row["id"], [Doc(nlp.vocab, words=words) for words in sequences])
            else:
                self.matcher.add(row["id"], [row["pattern"]])
                patterns.append(row)
        # the Matcher costs time on every token: run it only near tokens that can start a pattern
        first_words = [_first_words(row["pattern"]) for row in patterns]
        self.match_everywhere = any(words is None for words in first_words)
        # how far a window reaches from each word a pattern can start with: its longest pattern; and, when every
        # pattern from that word names them, the words it must go on with and end on ("results" opens no window
        # in "results vary")
        self.reach = {}
        closing: dict[int, set[str] | None] = {}
        second: dict[int, set[str] | None] = {}
        for row, words in zip(patterns, first_words):
            last_words = _closing_words(row["pattern"])
            next_words = _second_words(row["pattern"])
            for w in words or []:
                h = nlp.vocab.strings.add(w)
                self.reach[h] = max(self.reach.get(h, 0), len(row["pattern"]))
                _add_words(closing, h, last_words)
                _add_words(second, h, next_words)
        self.trigger_hashes = numpy.array(sorted(self.reach), dtype="uint64")
        self.needs_closing = {h for h, words in closing.items() if words is not None}
        self.second_words = {h: {nlp.vocab.strings.add(w) for w in words} for h, words in second.items()
                             if words is not None}
        self.closing_hashes = numpy.array(sorted({nlp.vocab.strings.add(w) for words in closing.values()
                                                  for w in words or ()}), dtype="uint64")
        self.weakening = {w.lower() for w in context["weakening_hedges"]}
        self.negation = {w.lower() for w in context["negation"] if " " not in w}
        self.pseudo_negation = {tuple(p.lower().split()) for p in context["pseudo_negation"]}
        self.choosing_verbs = {w.lower() for w in context["choosing_advice"]["verbs"]}
        self.advice_after = {tuple(p.lower().split()) for p in context["choosing_advice"]["after"]}
        self.advice_depends = {w.lower() for w in context["choosing_advice"]["depends"]}
        self.readers_own = {w.lower() for w in context["choosing_advice"]["readers_own_before"]}
        self.superlative_not_before = {w.lower() for w in context["superlative_not_before"]}
        self.rank_before_superlative = {w.lower() for w in context["rank_before_superlative"]}
        self.measure_nouns = {w.lower() for w in context["measure_nouns"]}
        self.measure_nouns_before_of = {w.lower() for w in context["measure_nouns_before_of"]}
        self.negated_openers = {w.lower() for w in context["negated_subject"]["openers"]}
        self.copulas = {w.lower() for w in context["negated_subject"]["copulas"]}
        self.risk_status_before = {w.lower() for w in context["risk_status_before"]}
        self.diminished_before = {w.lower() for w in context["diminished_before"]}
        self.how_it_works_after = {w.lower() for w in context["how_it_works_after"]}
        self.symptoms_after_safety = {w.lower() for w in context["symptoms_after_safety"]}
        said_of = context["conditions_before_safety"]
        self.conditions = {w.lower() for w in said_of["conditions"]}
        self.condition_linking = {w.lower() for w in said_of["linking"]}
        self.condition_not_after = {w.lower() for w in said_of["not_after"]}
        self.open_after = {category: {w.lower() for w in words} for category, words in context["open_after"].items()}
        self.terminators = set(context["terminators"])
        self.disclaimers = tuple(d.lower() for d in context["disclaimers"])
        self.question_openers = {w.lower() for w in context["question_openers"]}

    def __call__(self, doc: Doc) -> Doc:
        vocab = doc.vocab.strings
        found = []
        for match_id, start, end in self.phrases(doc):
            label = vocab[match_id]
            found.append(_span(doc, start, end, label, f"lexicon.{label}"))
        pattern_matches = sorted([*self.spelled_out(doc), *self._pattern_matches(doc)], key=lambda m: (m[1], m[2]))
        for match_id, start, end in pattern_matches:
            key = vocab[match_id]
            found.append(_span(doc, start, end, self.pattern_label[key], key))
        if not found:
            doc.spans.setdefault(CLAIM_SPANS, [])
            return doc
        lay = layout(doc)
        first_of: dict[str, Span] = {}
        spans = list(doc.spans.get(CLAIM_SPANS, []))
        for span in filter_spans(found):
            category = span.label_
            if self._weakened(span, category, lay.sentence_token_start(span.start)):
                continue
            block = lay.block(span.start_char)
            scope = lay.scope(span.start_char)
            if scope == "comment" and not self.include_comments:
                continue
            s, e = lay.sentence(span.start_char)
            sentence = lay.text[s:e]
            if self._asserts_nothing(sentence):
                continue  # nor is it another occurrence of a phrase claimed elsewhere
            key = " ".join(span.text.lower().split())
            if key in first_of:  # the same phrase again: one claim, counted
                claim = first_of[key]._.claim
                claim.count += 1
                claim.occurrences.append([span.start_char, span.end_char])
                continue
            span._.claim = Claim(
                kind="promotional", category=category, text=span.text, start=span.start_char,
                end=span.end_char, sentence=sentence, sentence_start=s, sentence_end=e,
                pattern=span.id_ or "", heading=lay.heading(span.start_char),
                block_kind=block.kind if block else "", scope=scope,
                occurrences=[[span.start_char, span.end_char]])
            first_of[key] = span
            spans.append(span)
        doc.spans[CLAIM_SPANS] = spans
        return doc

    def _asserts_nothing(self, sentence: str) -> bool:
        """A disclaimer ("not intended to diagnose, treat, cure...") or a question ("Do implants last forever?")."""
        return any(d in sentence.lower() for d in self.disclaimers) or asks(sentence, self.question_openers)

    def _pattern_matches(self, doc: Doc):
        """Matcher hits, looked for only in windows that start at a possible first word."""
        if self.match_everywhere:
            yield from self.matcher(doc)
            return
        lower = doc.to_array([LOWER]).reshape(-1)
        starts = numpy.flatnonzero(numpy.isin(lower, self.trigger_hashes))
        # closers[k]: how many closing words stand before token k
        closers = numpy.concatenate(([0], numpy.cumsum(numpy.isin(lower, self.closing_hashes))))
        window_start = window_end = end = -1
        for i in starts.tolist() + [None]:
            if i is not None:
                first = int(lower[i])
                end = min(i + self.reach[first], len(doc))
                if not self._may_match_from(first, i, end, lower, closers):
                    continue
                if i <= window_end:
                    window_end = max(window_end, end)
                    continue
            if window_end > window_start >= 0:
                for match_id, s, e in self.matcher(doc[window_start:window_end]):
                    yield match_id, s + window_start, e + window_start
            window_start, window_end = i, end

    def _may_match_from(self, first: int, i: int, end: int, lower, closers) -> bool:
        """Whether a pattern from the word at ``i`` can go on with its next word and end before ``end`` on one of
        its last words (when the patterns from that word name them)."""
        if first in self.needs_closing and closers[end] == closers[i + 1]:
            return False
        following = self.second_words.get(first)
        return following is None or (i + 1 < len(lower) and int(lower[i + 1]) in following)

    def _weakened(self, span: Span, category: str, sent_start: int) -> bool:
        """A hedge ("may help"), a negation ("no cure", "not guaranteed") or a verb of choosing before a
        superlative that is then "for you" ("choose the best treatment for your condition"), or a superlative
        that depends on something ("the best treatment strategy depends on the problem") or is of a study or a paper
        ("one of the best trials"); or a phrase that names a measure ("cure rate")."""
        doc = span.doc
        following = doc[span.end].lower_ if span.end < len(doc) else ""
        number_follows = span.end < len(doc) and doc[span.end].like_num
        if category != "comparative" and following in self.measure_nouns:
            return True  # "the cure rate is 99%": the name of a measure ("lower complication rates" compares)
        if (category != "comparative" and span.start > 1 and doc[span.start - 1].lower_ == "of"
                and doc[span.start - 2].lower_ in self.measure_nouns_before_of):
            return True  # "the share of cured patients": what a measure counts
        if (category == "comparative" and span.start > 1 and doc[span.start - 1].lower_ == "or"
                and doc[span.start - 2].like_num):
            return True  # "6 or fewer sessions": a bound on a number, not a comparison
        if category == "comparative" and doc[span.end - 1].lower_ == "than" and number_follows:
            return True  # "shorter than 10 days": a bound on a number, not a comparison
        # "the gold standard of study design", "for diagnosing", "one of the top three causes": the noun after
        # "of"/"for"/"in" or a number says what is the best
        skip = following in ("of", "for", "in") or number_follows
        named = doc[span.end + 1].lower_ if skip and span.end + 1 < len(doc) else following
        if category == "superlative" and (
                any(t.lower_ in self.advice_depends for t in doc[span.end:span.end + DEPENDS_REACH])
                or (span.start > 0 and doc[span.start - 1].lower_ in self.readers_own)
                or following in self.superlative_not_before or named in self.superlative_not_before):
            return True
        if (category == "superlative" and span.start > 1 and doc[span.start - 1].text == "-"
                and doc[span.start - 2].lower_ in self.rank_before_superlative):
            return True  # "the second-leading surgical procedure": a rank
        if category == "safety" and span.start > 0 and doc[span.start - 1].lower_ in self.risk_status_before:
            return True  # "people at low risk of heart disease"
        if (category == "safety" and following in self.symptoms_after_safety
                and doc[span.end - 1].lower_ not in ("of", "from", "for", "or", "and", "-")):
            return True  # "a painless lump in the breast": a symptom (not "a low risk of bleeding")
        if category == "safety" and self._said_of_condition(doc, sent_start, span.start):
            return True
        if category == "efficacy" and span.start > 0 and doc[span.start - 1].lower_ in self.diminished_before:
            return True  # "less effective in treating"
        if (category == "efficacy" and doc[span.end - 1].lower_ in ("works", "work")
                and following in self.how_it_works_after):
            return True  # "a treatment that works inside the nerve sheath"
        if self._subject_denied(doc, sent_start, span.start):
            return True
        # a phrase that carries its own negation ("no downtime") is not denied by the one before it
        # ("no needles, no surgery, no downtime")
        negatable = category in NEGATABLE and doc[span.start].lower_ not in self.negation
        i = span.start - 1
        while i >= max(sent_start, span.start - LOOK_BACK):
            word = doc[i].lower_
            if word in self.terminators and not _aside(doc, i, self.negation):
                break
            if category in WEAKENED_BY_HEDGE and word in self.weakening:
                return True
            # "not only" opens a phrase that denies nothing
            if negatable and word in self.negation and not _phrase_at(doc, i, self.pseudo_negation):
                return True
            if word in self.open_after.get(category, ()):
                return True
            if (category == "superlative" and word in self.choosing_verbs
                    and _phrase_at(doc, span.end, self.advice_after)):
                return True
            if (category in WEAKENED_BY_HEDGE and word in CONJUNCTIONS and i > sent_start and doc[i - 1].text != ","
                    and self._hedged(doc, i, sent_start)):
                return True  # "may lead to fewer infections and a quicker recovery"
            i -= 1
        return False

    def _hedged(self, doc: Doc, end: int, sent_start: int) -> bool:
        """A weakening hedge in the words before ``end``, back to a terminator or LOOK_BACK words."""
        for i in range(end - 1, max(sent_start, end - LOOK_BACK) - 1, -1):
            word = doc[i].lower_
            if word in self.terminators:
                return False
            if word in self.weakening:
                return True
        return False

    def _said_of_condition(self, doc: Doc, sent_start: int, span_start: int) -> bool:
        """ "Most skin tags are harmless": a lesion, then at least one linking word (the phrase's own first word may be
        one), then the safety phrase; not "removes sun spots safely"."""
        i = span_start
        while i >= sent_start and doc[i].lower_ in self.condition_linking:
            i -= 1
        return (sent_start <= i < span_start and doc[i].lower_ in self.conditions
                and not (i > sent_start and doc[i - 1].lower_ in self.condition_not_after))

    def _subject_denied(self, doc: Doc, sent_start: int, span_start: int) -> bool:
        """ "No procedure is risk-free": the sentence opens with a denied subject linked to the phrase by a copula."""
        if doc[sent_start].lower_ not in self.negated_openers:
            return False
        between = [t.lower_ for t in doc[sent_start + 1:span_start]]
        return (len(between) <= LOOK_BACK and any(w in self.copulas for w in between)
                and not any(w == "," or w in self.terminators for w in between))


def _aside(doc: Doc, i: int, negation: set[str]) -> bool:
    """A terminator word at ``i`` that does not end the clause: set off by commas ("does not, however, cure")
    or "yet" after a negation ("has not yet received")."""
    before = doc[i - 1].lower_ if i > 0 else ""
    after = doc[i + 1].lower_ if i + 1 < len(doc) else ""
    return (before == "," and after == ",") or (doc[i].lower_ == "yet" and before in negation)


def _phrase_at(doc: Doc, i: int, phrases: set[tuple[str, ...]]) -> bool:
    """One of the lower-cased word sequences starts at token ``i``."""
    return any(tuple(t.lower_ for t in doc[i:i + len(p)]) == p for p in phrases)


def _span(doc: Doc, start: int, end: int, label: str, pattern_id: str) -> Span:
    if start > 0 and doc[start].lower_ in CLITIC_NEGATIONS:
        start -= 1  # "doesn't leave any scars": the claim starts at "does", not inside the word
    span = Span(doc, start, end, label=label)
    span.id_ = pattern_id
    return span


def _with_hyphenated(phrases: list[str], compounds: list[str]) -> list[str]:
    """The phrases, and each one holding a compound ("no side effects") also with it hyphenated ("no side-effects")."""
    out = list(phrases)
    for phrase in phrases:
        lower = phrase.lower()
        for compound in compounds:
            if compound in lower:
                out.append(lower.replace(compound, compound.replace(" ", "-")))
    return out


def _with_contracted(phrases: list[str], subjects: list[str]) -> list[str]:
    """The phrases, and each one opening with "is" ("is a great way to") also after each subject with the contraction
    ("it's a great way to"); the subject is named, as "'s" after a noun is mostly a possessive."""
    out = list(phrases)
    for phrase in phrases:
        if phrase.lower().startswith("is "):
            out.extend(f"{subject}'s {phrase[3:]}" for subject in subjects)
    return out


def _word_sequences(pattern: list[dict]) -> list[list[str]] | None:
    """The word sequences a pattern of plain lower-case words and word lists matches, a word marked ``"OP": "?"``
    present or left out; None for any other pattern (other operators and attributes) or one that spells out too
    many."""
    options = []
    for spec in pattern:
        if set(spec) - {"OP"} != {"LOWER"} or spec.get("OP", "?") != "?":
            return None
        value = spec["LOWER"]
        if isinstance(value, str):
            words = [value]
        elif isinstance(value, dict) and list(value) == ["IN"]:
            words = [str(w) for w in value["IN"]]
        else:
            return None
        options.append([*words, None] if "OP" in spec else words)  # None: the optional word left out
    if not options or math.prod(len(o) for o in options) > MAX_SPELLED_OUT:
        return None
    sequences = [[w for w in words if w is not None] for words in itertools.product(*options)]
    return [words for words in sequences if words]


def _add_words(table: dict[int, set[str] | None], first: int, words: list[str] | None) -> None:
    """Add to the words that patterns from ``first`` need; one pattern that takes any word (None) makes it None."""
    known = table.get(first, set())
    table[first] = None if known is None or words is None else known | set(words)


def _closing_words(pattern: list[dict]) -> list[str] | None:
    """Lower-case words the pattern's last required token after the first must be, or None when that token can be
    anything (or there is none)."""
    for spec in reversed(pattern[1:]):
        if spec.get("OP") in ("?", "*"):
            continue
        return _lower_words(spec) if spec.get("OP") in (None, "+") else None
    return None


def _second_words(pattern: list[dict]) -> list[str] | None:
    """Lower-case words the pattern's second token must be, or None when it can be anything or left out."""
    if len(pattern) < 2 or "OP" in pattern[1]:
        return None
    return _lower_words(pattern[1])


def _first_words(pattern: list[dict]) -> list[str] | None:
    """Lower-case words the pattern's first token must be, or None when it can be anything."""
    spec = pattern[0] if pattern else {}
    if spec.get("OP") in ("?", "*"):
        return None
    return _lower_words(spec)


def _lower_words(spec: dict) -> list[str] | None:
    """The lower-case words a token spec allows (other attributes only narrow it), or None when it names none."""
    value = spec.get("LOWER")
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict) and list(value) == ["IN"]:
        return [str(v) for v in value["IN"]]
    return None
