"""Topic keys: what each claim measures, so figures from different pages can be compared.

A key is ``intervention.measure`` plus qualifiers that change its meaning (threshold "20/20",
time frame "10 year", levels "multilevel", subgroup "smokers"). The taxonomy in
``reference/taxonomy/`` names interventions and measures; a page outside it still gets a key: the
intervention from the page's title or first heading, the measure from the words before "rate" or
"time" in the sentence.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

from . import reference
from .claims import Claim
from .page import Page

NUMBER_WORDS = {"one": "1", "two": "2", "three": "3", "five": "5", "ten": "10", "fifteen": "15", "twenty": "20"}
INFERRED_MEASURE = re.compile(r"\b([a-z]{3,20}(?:-[a-z]{3,20})?) (rate|rates|time|period|duration)\b", re.I)
STOP_MEASURE_WORDS = {"the", "this", "that", "same", "long", "short", "high", "low", "overall", "average", "success",
                      "first", "total", "some", "most", "any", "every", "each", "such", "what", "which", "more"}
CONDITION_MEASURES = {"prevalence", "risk_multiplier", "nonunion_risk_multiplier"}  # about a condition or risk factor
CLAUSE_BREAK = re.compile(r"[,;:()]| (?:and|but|while|whereas|although) ", re.I)
SUBJECT_WORDS = re.compile(r"[a-z][a-z-]{2,30}", re.I)
WEB_ADDRESS = re.compile(r"\S*(?:://|www\.)\S*", re.I)  # a crawl's text file may start with the page's address
TITLE_STOP = {"the", "and", "for", "with", "your", "you", "how", "what", "why", "when", "can", "does", "after",
              "before", "about", "from", "our", "its", "are", "is", "of", "to", "in", "on", "a", "an", "it", "relieve",
              "pain", "treatment", "treatments", "surgery", "guide", "clinic", "center", "doctor", "years", "year",
              "best", "recovery", "expect", "benefits", "risks", "cost", "costs", "procedure", "patients", "complete",
              "everything", "know", "need", "overview", "options", "types", "faq", "faqs", "home", "services", "learn",
              "more", "side", "effects", "results", "long", "term", "much", "does", "take", "work", "works", "near",
              "this", "that", "these", "those", "cheap", "simple", "easy", "natural", "amazing", "ways", "tips",
              "which", "will", "should", "could", "top", "new", "latest", "really", "truth", "facts", "help", "helps"}


@dataclass(frozen=True)
class Measure:
    id: str
    categories: frozenset
    units: frozenset  # empty: any unit of the categories
    cues: re.Pattern
    generic: bool  # a broad measure ("affects" -> prevalence): tried only after the specific ones


class Taxonomy:
    def __init__(self, interventions: dict, conditions: dict, measures: dict):
        self.conditions = set(conditions)
        self.synonym_of: dict[str, str] = {}
        for intervention, synonyms in {**interventions, **conditions}.items():
            for s in synonyms + [intervention.replace("_", " ")]:
                self.synonym_of[" ".join(s.lower().split())] = intervention
        alternation = "|".join(re.escape(s).replace(r"\ ", r"[ -]") for s in
                               sorted(self.synonym_of, key=len, reverse=True))
        # the lookahead on the first letters lets most positions fail before the long alternation is tried
        first_letters = re.escape("".join(sorted({s[0] for s in self.synonym_of})))
        self.intervention_re = re.compile(rf"\b(?=[{first_letters}])(?:{alternation})\b", re.I)
        self.qualifiers = {k: re.compile(v, re.I) for k, v in measures.pop("qualifiers").items()}
        self.absolute = [(re.compile(row["phrases"], re.I), tuple(row["measures"]))
                         for row in measures.pop("absolute_contradicts")]
        self.measures = [Measure(mid, frozenset(m["categories"]), frozenset(m.get("units", [])),
                                 reference.any_of(m["cues"]), bool(m.get("generic")))
                         for mid, m in measures.items()]

    def intervention_in(self, text: str) -> list[tuple[int, str]]:
        """(offset, intervention id) of every mention in text."""
        return [(m.start(), self.synonym_of[" ".join(m.group(0).lower().replace("-", " ").split())])
                for m in self.intervention_re.finditer(text)
                if " ".join(m.group(0).lower().replace("-", " ").split()) in self.synonym_of]


@lru_cache(maxsize=1)
def taxonomy() -> Taxonomy:
    subjects = reference.load_yaml(reference.path("taxonomy", "interventions.yaml"))
    measures = reference.load_yaml(reference.path("taxonomy", "measures.yaml"))

    def normalised(group: dict) -> dict:  # synonyms are matched with hyphens read as spaces
        return {k: [" ".join(s.lower().replace("-", " ").split()) for s in v] for k, v in group.items()}

    return Taxonomy(normalised(subjects["interventions"]), normalised(subjects["conditions"]), measures)


def page_subject(page: Page, tax: Taxonomy) -> str:
    """The intervention a page is about: from its title or first heading, else the most mentioned one."""
    title = page.title or _first_heading(page)
    found = sorted(tax.intervention_in(title), key=lambda m: (m[1] in tax.conditions, m[0]))
    if found:
        return found[0][1]
    counts = Counter(i for _, i in tax.intervention_in(page.text[:200_000]))
    if counts:
        return counts.most_common(1)[0][0]
    # outside the taxonomy: the first topical word of the title ("Kyphoplasty Recovery: What to Expect")
    words = [w.lower() for w in SUBJECT_WORDS.findall(WEB_ADDRESS.sub(" ", title)) if len(w) >= 4 and w.lower() not in TITLE_STOP]
    return words[0].replace("-", "_") if words else ""


def _first_heading(page: Page) -> str:
    for b in page.blocks:
        if b.kind in ("title", "heading"):
            return page.text[b.start:b.end]
    return ""


def clause_of(claim: Claim) -> str:
    """The part of the claim's sentence between the separators around it (commas, "and", "but"...)."""
    sentence = claim.sentence
    start, end = claim.start - claim.sentence_start, claim.end - claim.sentence_start
    before = [m.end() for m in CLAUSE_BREAK.finditer(sentence, 0, start)]
    after = [m.start() for m in CLAUSE_BREAK.finditer(sentence, end)]
    return sentence[before[-1] if before else 0: after[0] if after else len(sentence)]


def measure_of(claim: Claim, tax: Taxonomy) -> str:
    """The first measure (in taxonomy order) with a cue near the figure: specific ones in its clause,
    then its sentence; generic ones there; then specific ones in the heading above it."""
    candidates = [m for m in tax.measures if claim.category in m.categories and (not m.units or claim.unit in m.units)]
    clause = clause_of(claim)
    # specific cues in the clause and sentence, then generic ones there, then specific ones in the heading
    for generic, text in ((False, clause), (False, claim.sentence), (True, clause), (True, claim.sentence),
                          (False, claim.heading)):
        for measure in candidates:
            if measure.generic == generic and measure.cues.search(text):
                return measure.id
    sentence = claim.sentence
    for m in INFERRED_MEASURE.finditer(sentence):  # "relapse rates" -> relapse_rate, for a rate only
        kind = "rate" if m.group(2).lower().startswith("rate") else "time"
        if m.group(1).lower() not in STOP_MEASURE_WORDS and claim.category == ("rate" if kind == "rate" else "duration"):
            return f"{m.group(1).lower().replace('-', '_')}_{kind}"
    return ""


def qualifiers_of(claim: Claim, tax: Taxonomy) -> dict:
    found = {}
    clause = clause_of(claim)
    for name, pattern in tax.qualifiers.items():
        if name == "time_frame" and claim.category == "duration":
            continue  # a duration's own figure is not its time frame
        m = pattern.search(clause)
        if m:
            value = next(g for g in m.groups() if g) if m.groups() else m.group(0)
            found[name] = _qualifier_value(name, value)
    if claim.time_frame:
        found["time_frame"] = claim.time_frame
    elif "time_frame" in found:
        found["time_frame"] = f"{found['time_frame']} year"
    return found


def _qualifier_value(name: str, value: str) -> str:
    value = " ".join(value.lower().replace("-", " ").split())
    if name == "time_frame":
        return NUMBER_WORDS.get(value, value)
    if name == "levels":
        return "single-level" if value.startswith(("single", "one")) else "multilevel"
    return value


def intervention_of(claim: Claim, measure: str, subject: str, tax: Taxonomy,
                    mentions_in: Callable[[str], list[tuple[int, str]]]) -> str:
    """What the claim is about: the intervention named nearest it in its sentence, else in its heading,
    else the page's subject. A condition ("depression") stands in only for prevalence figures, risk
    multipliers, or on pages about no intervention. ``mentions_in``: the page's memo of tax.intervention_in."""
    at = claim.start - claim.sentence_start
    for text, offset in ((claim.sentence, at), (claim.heading, 0)):
        mentions = mentions_in(text)
        treatments = [m for m in mentions if m[1] not in tax.conditions]
        conditions = [m for m in mentions if m[1] in tax.conditions]
        if treatments and measure not in CONDITION_MEASURES:
            return min(treatments, key=lambda m: abs(m[0] - offset))[1]
        if conditions and (measure in CONDITION_MEASURES or subject in tax.conditions or not subject):
            return min(conditions, key=lambda m: abs(m[0] - offset))[1]
        if treatments:
            return min(treatments, key=lambda m: abs(m[0] - offset))[1]
    return subject


def assign_topics(page: Page, claims: list[Claim]) -> None:
    """Set topic and qualifiers on every claim of the page."""
    if not claims:
        return
    tax = taxonomy()
    subject = page_subject(page, tax)
    found: dict[str, list] = {}  # claims share sentences and headings: each is searched once a page

    def mentions_in(text: str) -> list[tuple[int, str]]:
        if text not in found:
            found[text] = tax.intervention_in(text)
        return found[text]

    for claim in claims:
        if claim.kind == "numeric":
            measure = measure_of(claim, tax)
            claim.qualifiers = qualifiers_of(claim, tax)
        elif claim.category == "authority" and re.search(r"\bfda\b", claim.text, re.I):
            measure = "fda_status"
        elif claim.category in ("absolute_outcome", "safety"):
            measure = "absolute_promise"
        else:
            measure = ""
        intervention = intervention_of(claim, measure, subject, tax, mentions_in)
        claim.topic = f"{intervention}.{measure}" if intervention and measure else ""


def comparison_key(topic: str, qualifiers: dict | None) -> str:
    """Topic plus its qualifiers: the key under which figures are compared."""
    if not topic:
        return ""
    if not qualifiers:
        return topic
    return topic + "[" + ",".join(f"{k}={v}" for k, v in sorted(qualifiers.items())) + "]"
