"""The quantity parser: finds quantities in text and reads their bounds and unit.

The grammar is one regular expression assembled from ``reference/lexicons/quantities.yaml``;
the lexicon holds every word, this module only the shape of a quantity:

    [bound] VALUE [+ | bound-after] [adjective] [unit] [to VALUE time-unit] [bound-after]
    VALUE: single | range | list | ratio | fraction | multiplier | unit-first range ("weeks 2-3")

Every repetition in the grammar is bounded or possessive, so matching stays linear on
hostile text (long runs of digits, spaces or dashes).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from .. import reference

SP = r"[ \t\u00a0]{1,3}+"  # one to three spaces; never crosses a line break
OPT_SP = r"[ \t\u00a0]{0,3}+"
HYPHENED_FRACTION = re.compile(r"[ -]and-(?:(a)[ -])?(half|quarter)$")  # "4 and-a-half", "four-and-a-half"


# the forms of the number itself, in the grammar's order
BODY_FORMS = ("ratio", "fraction", "multiplier", "fraction_unit", "fraction_alone", "sample",
              "ordinal", "unit_first", "between", "from", "list", "pair", "range", "single", "article")
YEAR = re.compile(r"(?:19|20)\d{2}")
COMPOUND_AFTER = re.compile(r"-[a-z]", re.I)  # "a day-active sandfly": the unit opens a compound word
NEXT_WORD = re.compile(r"[ \t\u00a0]{1,3}([a-z][a-z-]{0,30})\b", re.I)
SECOND_END_LINK = re.compile(r"[ \t\u00a0]*(?:to|through|and|-|\u2013)[ \t\u00a0]*$", re.I)
# a dash between digits and a number word: "Study 2 - Thirty adults" is a label, then a count
MIXED_DASH_RANGE = re.compile(r"^\d[\d.,]*[ \t\u00a0]*[-\u2013\u2014][ \t\u00a0]*(?!(?:to|through|or)\b)[a-z]"
                              r"|^[a-z][a-z-]*[a-z][ \t\u00a0]*[-\u2013\u2014][ \t\u00a0]*\d", re.I)


@dataclass(frozen=True)
class Quantity:
    start: int
    end: int
    low: float | None
    high: float | None
    unit: str
    bound: str  # the bound word as written, lower-cased ("" when none)
    approx: bool
    form: str  # single | range | list | ratio | fraction


def _alternation(words) -> str:
    """Regex alternation of words, longest first, spaces matching any short run of spaces."""
    parts = sorted({w.lower() for w in words}, key=len, reverse=True)
    return "|".join(re.escape(p).replace(r"\ ", SP) for p in parts)


def _word_before(m: re.Match) -> str:
    """The lower-cased word right before a match ("" at the start of the text)."""
    words = m.string[max(0, m.start() - 16):m.start()].split()
    return words[-1].lower() if words else ""


def _number(value: float) -> float | int:
    # four decimals, or four significant digits for a small share ("1 in 100,000" is 0.00001, not 0)
    value = round(value, 4) if abs(value) >= 0.001 else float(f"{value:.4g}")
    return int(value) if value == int(value) and abs(value) < 1e15 else value


class Grammar:
    """The compiled quantity grammar and the lexicon it was built from."""

    def __init__(self, lexicon: dict):
        self.numbers = {k.lower(): v for k, v in lexicon["number_words"].items()}
        self.scales = {k.lower(): v for k, v in lexicon["scales"].items()}
        self.fractions = {k.lower(): v for k, v in lexicon["fractions"].items()}
        self.fraction_characters = dict(lexicon["fraction_characters"])
        fraction_chars = "".join(map(re.escape, self.fraction_characters))
        self.digit_class = rf"[\d{fraction_chars}]"  # where a written number starts: a digit or "½"
        self.multipliers = {k.lower(): v for k, v in lexicon["multiplier_words"].items()}
        self.multipliers_before_determiner = {k.lower(): v for k, v in lexicon["multiplier_words_before_determiner"].items()}
        self.multiplier_verbs = {k.lower(): v for k, v in lexicon["multiplier_verbs"].items()}
        # words before a time bound that make it no deadline: a change ("extended by 40 minutes") or what comes
        # next ("followed by two years of bracing")
        self.not_deadline_after = {w.lower() for w in [*lexicon["change_verbs"], *lexicon["by_not_deadline_after"]]}
        self.multiplier_value = {**self.multipliers, **self.multipliers_before_determiner, **self.multiplier_verbs}
        self.times_signs = list(lexicon["times_signs"])
        self.ordinals = {k.lower(): v for k, v in lexicon["ordinals"].items()}
        self.ordinal_nouns = {w.lower() for w in lexicon["ordinal_nouns"]}
        # every word that can be (part of) a number: where the numeric component looks for quantities
        self.number_like_words = [*self.numbers, *self.fractions, *self.scales, *self.multiplier_value]
        self.bound_kind = {}
        for kind, words in lexicon["bounds"].items():
            for w in words:
                self.bound_kind[" ".join(w.lower().split())] = kind
        self.after_kind = {}
        for kind, words in lexicon["bounds_after"].items():
            for w in words:
                self.after_kind[" ".join(w.lower().split())] = kind
        self.time_only = set(lexicon["time_only_bounds"])
        self.period_words = set(lexicon["period_words"])
        self.unit_of = {}
        for unit, forms in lexicon["units"].items():
            for f in forms:
                self.unit_of[" ".join(f.lower().split())] = unit
        self.countable = set(lexicon["countable_units"])
        self.units_named_by_year = set(lexicon["units_named_by_year"])
        self.units_of_one = set(lexicon["units_of_one"])
        # the words a quantity can start with, before its number: bounds, "between", "from", the ordinal's "the",
        # the sample size's "n", articles, and number, fraction and multiplier words (a number starts with a digit)
        first_words = {w.split()[0] for w in self.bound_kind} | set(lexicon["bound_signs"])
        self.start_words = (first_words | {w.rstrip(".") for w in first_words}
                            # "(N= 41)": the tokenizer keeps "=" on the n
                            | {"between", "from", "the", "n", "n=", "a", "an", "one"}
                            | {w.lower() for w in lexicon["units_before_range"]}
                            | {w for phrase in self.number_like_words for w in phrase.split()})
        self.unit_days = lexicon["unit_days"]
        self.article_verbs = {w.lower() for w in lexicon["article_after_verbs"]}
        self.article_verbs_not_units = set(lexicon["article_after_verbs_not_units"])
        # a measure named before a bare value gives its unit: "a BMI of 35 or higher"
        self.unit_before = [(re.compile(rf"\b(?:{_alternation(names)}){SP}(?:of{SP}|is{SP}|was{SP})?$", re.I), unit)
                            for unit, names in lexicon["units_before"].items()]

        num_w = _alternation(self.numbers)
        scale = _alternation(self.scales)
        frac = _alternation(self.fractions)
        multiplier = _alternation(self.multipliers)
        multiplier_before_determiner = _alternation(self.multipliers_before_determiner)
        determiner = _alternation(lexicon["multiplier_determiners"])
        multiplier_verb = _alternation(self.multiplier_verbs)
        not_after_verb = _alternation(lexicon["multiplier_verbs_not_before"])
        # a sign, not after a word or "3 " ("3 -5 days" is a range); Indian grouping too ("1,25,000")
        digits = (r"(?:(?<![\w%])(?<!\d )[-\u2212+])?(?:(?:\d{1,3}(?:,\d{3})++(?!\d)|\d{1,2}(?:,\d\d)+,\d{3}(?!\d)|\d{1,12}+)(?:\.\d{1,6}+)?"
                  rf"(?:[ \u00a0]?[{fraction_chars}])?|[{fraction_chars}]"  # "1½", "1 ½"
                  r"|(?<![\w.,])\.\d{1,6}+)")  # ".02%": a leading point
        # "twenty-five", "one hundred and thirty-five": the tail is tried after the first word, which is cheap
        hundreds = rf"{SP}hundred(?:{SP}and)?{SP}(?:{num_w})(?:-(?:{num_w}))?\b(?!{SP}hundred\b)"
        word_num = rf"\b(?:{num_w})(?:{hundreds}|(?:-|{SP})(?:{num_w}))?\b"
        # "half a million", "five hundred thousand"
        value = (rf"(?:{digits}|{word_num}|half{SP}an?(?={SP}(?:{scale})\b))"
                 rf"(?:(?:{SP}|-)and(?:{SP}|-)(?:a(?:{SP}|-))?(?:half|quarter)\b)?(?:{SP}(?:{scale})\b){{0,2}}")
        self._value_re = re.compile(value, re.I)
        # "4 to 6", "4-6", "two-to-three", "4−6" (a minus sign) and the suspended hyphen of "a 2- to 3-day stay"
        sep = rf"{OPT_SP}(?:(?:[-\u2013]{OPT_SP})?(?:to|through|or)(?:-(?=\w))?|-|\u2013|\u2014|\u2212){OPT_SP}"
        fillers = _alternation(lexicon["list_fillers"])
        # a percent sign or word after the first value too ("between 50 percent and 90 percent")
        pct = rf"(?:{OPT_SP}%|{SP}(?:{_alternation(f for f in lexicon['units']['percent'] if f != '%')})\b)?"
        units = _alternation(self.unit_of)
        counted = _alternation(f for f, unit in self.unit_of.items() if unit in self.countable)
        adjective = rf"(?:(?:{_alternation(lexicon['unit_adjectives'])}){SP})?"  # "one full year"
        forms = {
            # "one in a hundred": a scale word alone as the whole; "2-3 in 5,000 births": a range of parts
            "ratio": (rf"{value}(?:{sep}{value})?{SP}(?:out{SP}of(?:{SP}every)?|(?:in|per)(?:{SP}every)?|of{SP}every|(?P<bare_of>of)){SP}"
                      rf"(?:{value}|(?:an?{SP})?(?P<ratio_scale>{scale}))\b"
                      rf"|\d{{1,6}}/\d{{1,6}}(?={SP}of{SP}(?:the{SP})?(?:{counted})(?![\w%]))"),  # "3/4 of patients"
            # "two-thirds of patients", "half the patients"
            "fraction": rf"(?:(?:(?:{num_w}|a|one)(?:-|{SP}))?(?:{frac})\b|[{fraction_chars}])(?={SP}(?:of|the)\b)",
            "multiplier": (rf"\b(?:{multiplier})\b(?={SP}(?:as|the)\b)"
                           rf"|\b(?:{multiplier_before_determiner})\b(?={SP}(?:{determiner})\b)"
                           rf"|\b(?:{multiplier_verb})\b(?!{SP}(?:{not_after_verb})\b)"),
            # "a half-inch incision": only a unit may follow (checked in parse)
            "fraction_unit": (rf"(?:(?:a|one)(?:-|{SP}))?(?:{_alternation(lexicon['fractions_before_unit'])})\b(?:{SP}an?\b)?"
                              rf"(?=(?:{OPT_SP}-{OPT_SP}|{OPT_SP}){adjective}(?:{units})(?![\w%]))"),
            # "more than half stay in remission": a fraction word alone, after a bound only (checked in parse)
            "fraction_alone": rf"(?:(?:{num_w}|a|one)(?:-|{SP}))?(?:{frac})\b(?!-|{SP}an?{SP}(?:{scale})\b)",
            "sample": rf"\bn{OPT_SP}={OPT_SP}{digits}",  # a study's size: "(n=1,423)"
            "ordinal": rf"the{SP}(?:{_alternation(self.ordinals)}|\d{{1,2}}(?:st|nd|rd|th))\b",  # "by the sixth week"
            # "in weeks 2-3", "from months 6 to 12": a period named before its range of digits
            "unit_first": (rf"(?P<unit_first_name>{_alternation(lexicon['units_before_range'])}){SP}"
                           rf"(?P<unit_first_values>(?=\d){value}{sep}(?=\d){value})"
                           # "back at work by day 3": one day named after a bound of time (checked in parse)
                           rf"|(?P<unit_first_single>{_alternation(lexicon['units_before_value'])}){SP}"
                           rf"(?P<unit_first_value>\d{{1,3}})(?![\d%-]|[.,]\d)"),
            "between": rf"between{SP}{value}{pct}{SP}and{SP}{value}",
            "from": rf"from{SP}{value}{pct}{SP}(?:to|-|\u2013){SP}{value}",
            "list": rf"{value}(?:{OPT_SP},{OPT_SP}{value}){{1,8}}+{OPT_SP},?{OPT_SP}(?:or|and){SP}(?:(?:{fillers}){SP})?{value}",
            "pair": rf"{value}{SP}and{SP}{value}(?=(?:{SP}|-){adjective}(?:{units})(?![\w%]))",  # "at 3 and 6 months"
            "range": rf"{value}{pct}{sep}{value}",
            "single": value,
            "article": r"\ban?\b",
        }
        body = "|".join(f"(?P<{name}>{rx})" for name, rx in forms.items())
        times_sign = "|".join(map(re.escape, self.times_signs))
        filler_word = (r"(?!(?:of|the|in|for|and|or|to|with|who|that|a|an|are|is|were|was|per|each|every)\b)"
                       r"(?:[a-z][a-z-]{1,20}+|u\.s\.|u\.k\.)")  # "3,112 U.S. adults"
        # "3 million suffer from migraine", "5 million visit": millions who do something are people (tried first,
        # as "visit" is also a unit)
        unit = (rf"(?:(?<=illion)(?={SP}(?:{_alternation(lexicon['verbs_after_millions'])})\b)(?P<people_verb>)"
                rf"|{OPT_SP}(?P<pct>%)|(?:{OPT_SP}-{OPT_SP}|{OPT_SP}){adjective}(?P<unit>{units})(?![\w%])"
                rf"|(?P<times_sign>{times_sign})(?![\w%])"  # "20x", against the digits
                rf"|(?:{SP}{filler_word}){{1,2}}{SP}(?P<cunit>{units})(?![\w%])"
                rf"|{SP}of{SP}(?:these|those){SP}(?P<of_these>{units})(?![\w%]))")  # "25,000 of these patients"
        bounds = _alternation(self.bound_kind)
        after = _alternation(self.after_kind)
        # an article between a bound and digits ("up to a 55% increase", not the period of "over a 10-year
        # period"); "near-100%"
        not_period = "".join(rf"(?<!\b{re.escape(w)} )" for w in sorted(self.period_words))
        signs = "".join(map(re.escape, lexicon["bound_signs"]))
        # a comma after the bound word too: "it requires, at least, 3 months"
        after_bound = rf"(?:(?<=[{signs}]){OPT_SP}|,?{SP}(?:{not_period}an?{SP}(?=\d))?|-(?=\d))"
        self.regex = re.compile(
            # "between" alone before the value only opens a range with a unit after each end
            rf"(?<![\w.,/\-\u2212])(?:(?P<between_word>between){SP})??(?:(?P<bound>{bounds}){after_bound})?(?:{body})"
            rf"(?:(?P<plus>\+)|{SP}(?P<after_value>{after})(?=(?:{SP}|-){adjective}(?:{units})(?![\w%])))?"
            rf"(?:{unit})?"
            # "a year and a half": a fraction of the unit after it
            rf"(?:{SP}and{SP}an?{SP}(?P<unit_fraction>{_alternation(lexicon['fractions_before_unit'])})\b)?"
            # "a day or two": one unit or a few
            rf"(?P<alternative>{SP}or{SP}(?P<alternative_value>{_alternation(lexicon['alternatives_after_unit'])})\b"
            rf"(?!{OPT_SP}-?{OPT_SP}(?:{units})(?![\w%])))?"
            # a range with a unit after each end: "six months to a year", "2 weeks to 3 months", "500mg-1500mg"
            rf"(?:(?:{SP}(?:to|through|(?(between_word)and|(?!))){SP}|{OPT_SP}[-\u2013]{OPT_SP})"
            rf"(?P<second_value>an?|{value}){OPT_SP}-?{OPT_SP}(?P<second_unit>{units})(?![\w%]))?"
            # "40+ pounds and over 30 inches": a bound word before another number opens that quantity
            rf"(?:{OPT_SP}(?P<after>{after})(?![\w])(?!{SP}(?:\d|(?:{num_w})\b)))?",
            re.I,
        )
        # where a quantity can be: a digit, a number or fraction word, or a bound before "a"/"an";
        # the full grammar only runs in windows around these
        after_verb = "|".join(rf"(?<=\b{re.escape(v)} )" for v in sorted(self.article_verbs))
        self.candidates = re.compile(rf"{self.digit_class}|\b(?:{num_w}|{frac}|{multiplier}|{multiplier_before_determiner}"
                                     rf"|{multiplier_verb}|(?:{bounds}){SP}an?"
                                     rf"|(?:{after_verb})an?)\b"
                                     # an ordinal only after "by the" / "within the" ("second" is a common word)
                                     rf"|\b(?:{_alternation(self.time_only)}){SP}the{SP}(?:{_alternation(self.ordinals)})\b",
                                     re.I)

    # -- reading values --------------------------------------------------------------------
    def value_of(self, text: str) -> float | None:
        """The number a single value expression stands for ("two and a half" -> 2.5)."""
        read = self._number_and_scale(text)
        return None if read is None else read[0] * read[1]

    def _number_and_scale(self, text: str) -> tuple[float, float] | None:
        """"2.5 million" -> (2.5, 1e6); the scale is 1 when none is written."""
        t = " ".join(text.lower().replace("\u2212", "-").split())
        extra = 0.0
        scale = 1
        for _ in range(2):  # "five hundred thousand"
            for word, mult in self.scales.items():
                if t.endswith((" " + word, "-" + word)):  # "two dozen", "three-hundred"
                    t, scale = t[: -len(word) - 1], scale * mult
                    break
        if " hundred " in t:  # "one hundred and thirty-five (thousand)"
            head, _, rest = t.partition(" hundred ")
            hundreds, remainder = self.value_of(head), self.value_of(rest.removeprefix("and "))
            return None if hundreds is None or remainder is None else (hundreds * 100 + remainder, scale)
        t = HYPHENED_FRACTION.sub(lambda m: " and " + ("a " if m[1] else "") + m[2], t)
        for tail, add in ((" and a half", 0.5), (" and a quarter", 0.25), (" and half", 0.5), (" and quarter", 0.25)):
            if t.endswith(tail):  # "one and a half million"
                t, extra = t[: -len(tail)], add
        if t in ("a", "an", "half a", "half an"):  # "a dozen", "half a million"
            return (0.5 if t.startswith("half") else 1) + extra, scale
        if t and t[-1] in self.fraction_characters:  # "1½", "½"
            t, extra = t[:-1], extra + self.fraction_characters[t[-1]]
            if not t:
                return extra, scale
        if t and (t[0].isdigit() or t[0] in "+-."):
            try:
                base = float(t.replace(",", ""))
            except ValueError:
                return None
        else:
            parts = re.split(r"[- ]", t)
            if " ".join(parts) in self.numbers:
                base = self.numbers[" ".join(parts)]
            elif all(p in self.numbers for p in parts):
                base = sum(self.numbers[p] for p in parts)
            else:
                return None
        return base + extra, scale

    def values_in(self, text: str, shared_scale: bool = False) -> list[float]:
        """The values of a range or list; with ``shared_scale``, a scale written once after the last value
        applies to the smaller values before it ("1 to 2.5 million" is 1 million to 2.5 million)."""
        read = [r for r in (self._number_and_scale(m.group(0)) for m in self._value_re.finditer(text)) if r]
        if shared_scale and len(read) > 1:
            last, scale = read[-1]
            if scale > 1 and all(s == 1 and n <= last for n, s in read[:-1]):
                read = [(n, scale) for n, _ in read]
        return [n * s for n, s in read]

    def fraction_value(self, text: str) -> float | None:
        if text in self.fraction_characters:  # "¾ of patients"
            return self.fraction_characters[text]
        words = re.split(r"[- \t\u00a0]+", text.lower().strip())
        denominator = self.fractions.get(words[-1])
        if denominator is None:
            return None
        count = 1 if len(words) == 1 or words[0] in ("a", "one") else self.numbers.get(words[0])
        return None if count is None else count / denominator

    # -- the parser ------------------------------------------------------------------------
    def parse(self, m: re.Match) -> Quantity | None:
        """A Quantity from one grammar match, or None when the match is not a quantity claim."""
        form = self._body(m)
        # where this quantity ends when a second end with its own unit follows but is not taken
        first_end = self._before_second_end(m) if m.group("second_unit") else None
        bound = " ".join((m.group("bound") or "").lower().split())
        # "12+ months", "6 or more treatments", "10 years or more"
        after = m.group("plus") or " ".join((m.group("after_value") or m.group("after") or "").lower().split())
        unit_text = m.group("pct") or m.group("unit") or m.group("cunit") or m.group("of_these")
        unit = self._unit_named(unit_text) if unit_text else None
        if m.group("times_sign"):
            unit = "times"
        if m.group("people_verb") is not None:
            unit = "people"
        if (m.group("cunit") or m.group("of_these")) and unit not in self.countable:
            return None
        if YEAR.fullmatch(m.group(form) or "") and (
                m.group("cunit") or unit in self.units_named_by_year and not bound):
            return None  # "a review in 2016 found patients ...", "the 2015 trials": a year, not a count
        if form == "sample":
            unit = unit or "patients"
        if form == "article":
            # "up to a year", "a week or so", "a day or two", "lasts a year", "for a week": an article counts as one
            # only with a bound, an alternative, or after a verb of duration or "for"/"after"
            if unit is None or not (bound or after or m.group("alternative") or self._after_duration_verb(m, unit)):
                return None
            if not bound and self._after_rate_unit(m):
                return None  # "10 minutes a day or longer": a rate, not a day
            if COMPOUND_AFTER.match(m.string, m.end()):
                return None  # "carried by a day-active sandfly": a compound word, not a day
            if unit == "second" and self._before_noun(m):
                return None  # "followed by a second cycle": an ordinal
            values = [1]
        elif form == "ratio":
            values = self.values_in(m.group("ratio"))
            if m.group("ratio_scale"):
                values.append(self.scales[m.group("ratio_scale").lower()])
            if len(values) not in (2, 3):
                return None
            parts, whole = values[:-1], values[-1]
            if not 0 < parts[0] <= parts[-1] < whole or whole > 1e7 or 1900 <= whole <= 2100:
                return None
            if unit is not None and (unit not in self.countable or unit == "sessions" and m.group("bare_of")):
                return None  # "2 in 3 weeks" is not a ratio, nor "one of three sessions"
            if m.group("bare_of") and unit is None:
                return None  # "7 of 10 patients" is a ratio, "one of three options" is not
            return self._quantity(m, bound, after, [p / whole for p in parts], "fraction", "ratio", end=first_end)
        elif form in ("fraction", "fraction_alone"):
            if form == "fraction_alone" and self._before_noun(m):
                return None  # "followed by a third visit": an ordinal
            v = self.fraction_value(m.group(form))
            if v is not None and form == "fraction_alone" and m.group("second_unit"):  # "one-half to one inch"
                second_unit = self._unit_named(m.group("second_unit"))
                second = self._second_end(m, [v], second_unit)
                if second is not None:
                    return self._quantity(m, bound, after, [v, second], second_unit, "range")
            if v is None or (form == "fraction_alone" and (not bound or unit is not None)):
                return None  # a fraction word alone is one only after a bound, with no unit after it
            return self._quantity(m, bound, after, [v], "fraction", "fraction", end=first_end)
        elif form == "multiplier":
            value = self.multiplier_value[m.group(form).lower()]
            return self._quantity(m, bound, after, [value], "times", "single", end=first_end)
        elif form == "ordinal":
            if bound not in self.time_only or unit not in self.unit_days or unit_text.lower().endswith("s"):
                return None  # "the first week" alone is a moment, "within the first weeks" no number
            word = m.group(form).split()[-1].lower()
            values, form = [self.ordinals.get(word) or int(word[:-2])], "single"
        elif form == "unit_first" and m.group("unit_first_single"):
            if bound not in self.time_only:
                return None  # "on day 3" is a moment, "by day 3" a bound
            return self._quantity(m, bound, "", [int(m.group("unit_first_value"))],
                                  self._unit_named(m.group("unit_first_single")), "single", end=m.end(form))
        elif form == "unit_first":
            values = self.values_in(m.group("unit_first_values"))
            if unit is not None or len(values) != 2:
                return None  # "weeks 2-3%": the unit after the range is the quantity's
            return self._quantity(m, bound, after, values, self._unit_named(m.group("unit_first_name")), "range")
        elif form == "fraction_unit":
            if unit is None or unit == "percent":
                return None
            values = [self.fraction_value(re.sub(r"\s+an?$", "", m.group(form), flags=re.I))]  # "half an hour"
        else:
            if form == "range" and MIXED_DASH_RANGE.match(m.group(form)):
                return None
            values = self.values_in(m.group(form), shared_scale=form in ("between", "from", "list", "pair", "range"))
            if not values:
                return None
            if form == "range" and len(values) == 2 and YEAR.fullmatch(f"{values[0]:g}") and values[1] < values[0]:
                return None  # "from 21% in 2005 to 14% in 2019": a year, not a range; the 14% is read alone
            if form == "pair":  # "at 3 and 6 months": a list of two; "one hundred and five": one number
                form = "list" if len(values) > 1 else "single"
        if unit is None:
            unit = self._unit_before(m)
        if unit is None:
            return None  # a bare number asserts nothing we can read
        if unit_text and " ".join(unit_text.lower().split()) in self.units_of_one and (values != [1] or m.group("cunit")):
            return None  # "2 treatment areas", "the 15+ visit group": a singular noun counts one ("after one treatment")
        if form in ("range", "list", "between", "from") and len(values) < 2:
            if form != "range" or not values:
                return None
            form = "single"  # "eighty-two" read as a range of "eighty" to "two" is one number
        if m.group("unit_fraction") and len(values) == 1:
            values = [values[0] + 1 / self.fractions[m.group("unit_fraction").lower()]]
        if m.group("alternative"):
            if values != [1] or form not in ("article", "single"):  # only "a day or two": the quantity ends before "or"
                return self._quantity(m, bound, "", values, unit, form, end=m.start("alternative"))
            values, form = [1, self.value_of(m.group("alternative_value"))], "range"
        second = self._second_end(m, values, unit) if m.group("second_unit") else None
        if m.group("between_word") and second is None:
            return None  # "between" opens only a range with a unit after each end; the value is read again alone
        if m.group("second_unit"):
            if second is None:  # not a range in other units: the quantity ends at its own unit
                return self._quantity(m, bound, "", values, unit, form, end=first_end)
            values, form = [values[0], second], "range"
        return self._quantity(m, bound, after, values, unit, form)

    def _unit_named(self, text: str) -> str | None:
        """The unit a written unit stands for ("Weeks" -> "week")."""
        return self.unit_of.get(" ".join(text.lower().split()))

    @staticmethod
    def _body(m: re.Match) -> str:
        """The name of the form that matched the number itself."""
        return next(name for name in BODY_FORMS if m.group(name) is not None)

    @staticmethod
    def _before_second_end(m: re.Match) -> int:
        head = m.string[m.start():m.start("second_value")]
        return m.start() + len(SECOND_END_LINK.sub("", head))

    def _before_noun(self, m: re.Match) -> bool:
        """Whether a noun that takes an ordinal follows: "a third" is then an ordinal ("a third visit")."""
        following = NEXT_WORD.match(m.string, m.end())
        return following is not None and following.group(1).lower() in self.ordinal_nouns

    def _unit_before(self, m: re.Match) -> str | None:
        before = m.string[max(0, m.start() - 30):m.start()]
        return next((unit for rx, unit in self.unit_before if rx.search(before)), None)

    def _after_rate_unit(self, m: re.Match) -> bool:
        """Whether a time unit or "times" is the word before: "10 minutes a day", "3 times a week"."""
        word = _word_before(m)
        return self._unit_named(word) in self.unit_days or word == "times"

    def _after_duration_verb(self, m: re.Match, unit: str) -> bool:
        if unit not in self.unit_days or unit in self.article_verbs_not_units:
            return False
        return _word_before(m) in self.article_verbs

    def _second_end(self, m: re.Match, values: list[float], unit: str) -> float | None:
        """The far end of "six months to a year" in the first end's unit (12 months), or of "5 mg to 10 mg", or None."""
        if len(values) != 1:
            return None
        text = m.group("second_value")
        value = 1 if text.lower() in ("a", "an") else self.value_of(text)
        second_unit = self._unit_named(m.group("second_unit"))
        if value is None or second_unit is None:
            return None
        if unit in self.unit_days and second_unit in self.unit_days:
            value = round(value * self.unit_days[second_unit] / self.unit_days[unit], 1)
        elif second_unit != unit:
            return None
        return value if abs(value) > abs(values[0]) else None  # "-238°F to -274°F" runs away from zero too

    def _quantity(self, m, bound, after, values, unit, form, end: int | None = None) -> Quantity:
        start, end = m.start(), m.end() if end is None else end
        if values[0] < 0 and m.string[start] in "-\u2212" and (unit in self.countable or unit in self.unit_days):
            start, values = start + 1, [abs(v) for v in values]  # "-2 treatments": a bullet, no count or time is negative
        kind = self.bound_kind.get(bound)
        if bound in self.time_only and (unit not in self.unit_days or _word_before(m) in self.not_deadline_after):
            # "reduced by 50%", "extended by 40 minutes": a change; "followed by two years of bracing": what comes
            start, bound, kind = m.start(self._body(m)), "", None
        elif bound in self.period_words and len(values) > 1:
            start, bound, kind = m.start(self._body(m)), "", None  # "over 3 to 6 months" is a period
        low, high = min(values), max(values)
        approx = kind == "approx"
        if len(values) == 1:
            if kind == "lower":
                high = None
            elif kind == "upper":
                low = None
        # a bound after the value wins over one before it ("up to 2,500 or more" is at least 2,500)
        after_kind = self.after_kind.get(after)
        if after_kind == "lower":
            low, high = min(values), None
            bound = bound or after
        elif after_kind == "upper":
            low, high = None, max(values)
            bound = bound or after
        elif after_kind == "approx":
            approx, bound = True, bound or after
        low = None if low is None else _number(low)
        high = None if high is None else _number(high)
        return Quantity(start, end, low, high, unit, bound, approx, form)


@lru_cache(maxsize=1)
def grammar() -> Grammar:
    return Grammar(reference.lexicon("quantities"))


WORDS_BEFORE = 3  # a quantity can start this many words before its number ("more than", "between")
WORD = re.compile(r"\S{1,40}")


def find_quantities(text: str, starts: list[int] | None = None) -> list[Quantity]:
    """Every quantity in text with a unit we can read (no furniture filtering here).

    The grammar is tried only where a quantity can start: at a number, a fraction word or an article
    after a bound, and at the few words before it. ``starts`` gives those offsets when the caller
    already knows them (the numeric component reads them off the tokens).
    """
    g = grammar()
    out: list[Quantity] = []
    last_end = 0
    for start in sorted(set(candidate_starts(text) if starts is None else starts)):
        if start < last_end:
            continue
        m = g.regex.match(text, start)
        if m is None or m.end() == start:
            continue
        q = g.parse(m)
        if q is not None:
            out.append(q)
            last_end = q.end
    return out


def candidate_starts(text: str) -> list[int]:
    starts = []
    for m in grammar().candidates.finditer(text):
        starts.append(m.start())
        line_start = text.rfind("\n", 0, m.start()) + 1
        before = [w.start() for w in WORD.finditer(text, max(line_start, m.start() - 40), m.start())]
        starts.extend(before[-WORDS_BEFORE:])
    return starts
