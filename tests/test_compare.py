"""Interval logic and topic keys of the cross-source comparison."""
import math

import pytest

from auditor.claims import Claim
from auditor.compare import Interval, agree, gap, interval_of
from auditor.page import Page
from auditor.topics import assign_topics, comparison_key


def iv(low, high, unit="week", approx=False, tol=0.1):
    return interval_of(low, high, unit, approx, tol)


def test_overlapping_ranges_agree():
    assert agree(iv(4, 8), iv(6, 12))


def test_touching_ranges_disagree():
    assert not agree(iv(4, 6), iv(6, 12))
    assert gap(iv(4, 6), iv(6, 12)) == 0


def test_touching_is_allowed_when_configured():
    assert agree(iv(4, 6), iv(6, 12), touching_conflicts=False)


def test_disjoint_ranges_disagree_with_their_gap():
    a, b = iv(2, 3), iv(6, 12)
    assert not agree(a, b) and gap(a, b) == pytest.approx(21)  # days


def test_a_value_inside_a_range_agrees():
    assert agree(iv(8, 8), iv(6, 12))
    assert not agree(iv(13, 13), iv(6, 12))


def test_lower_bound_is_open_to_the_top():
    over = iv(90, None, "percent")
    assert over.lo == 90 and over.hi == 100  # over 90% is [90, 100]
    assert agree(over, iv(95, 98, "percent")) and not agree(over, iv(70, 80, "percent"))
    assert iv(3, None, "month").hi == math.inf


def test_upper_bound_starts_at_zero():
    up_to = iv(None, 1, "year")
    assert up_to.lo == 0 and agree(up_to, iv(6, 12, "week"))


def test_approximation_gets_a_tolerance():
    assert agree(iv(3, 3, "month", approx=True), iv(12, 12, "week"))
    assert not agree(iv(3, 3, "month"), iv(12, 12, "week"))


def test_units_convert():
    assert interval_of(1, 1, "year").lo == pytest.approx(365.25)
    assert interval_of(0.75, 0.75, "fraction").lo == pytest.approx(75)
    assert agree(interval_of(0.75, 0.75, "fraction"), interval_of(70, 80, "percent"))


def _claim(sentence, text, low, high, unit, category):
    start = sentence.index(text)
    return Claim(kind="numeric", category=category, text=text, start=start, end=start + len(text),
                 sentence=sentence, sentence_start=0, sentence_end=len(sentence), low=low, high=high, unit=unit)


def _key(sentence, text, low, high, unit, category="rate", title=""):
    claim = _claim(sentence, text, low, high, unit, category)
    assign_topics(Page(id="p", text=sentence, title=title), [claim])
    return comparison_key(claim.topic, claim.qualifiers)


def test_same_measure_in_other_words_shares_a_key():
    a = _key("Recovery after cervical fusion takes 4 to 6 weeks.", "4 to 6 weeks", 4, 6, "week", "duration")
    b = _key("Initial surgical recovery typically requires 6 to 12 weeks.", "6 to 12 weeks", 6, 12, "week",
             "duration", title="Neck Pain After Cervical Fusion")
    assert a == b == "cervical_fusion.recovery_time"


def test_vision_thresholds_are_not_merged():
    a = _key("After LASIK, 96% of eyes reach 20/20 vision.", "96%", 96, 96, "percent")
    b = _key("After LASIK, 99% of eyes reach 20/40 vision.", "99%", 99, 99, "percent")
    assert a.startswith("lasik.visual_acuity_rate") and b.startswith("lasik.visual_acuity_rate") and a != b


def test_time_frames_are_not_merged():
    a = _key("Dental implant survival is 97% at 5 years.", "97%", 97, 97, "percent")
    b = _key("Dental implant survival is 95% at 10 years.", "95%", 95, 95, "percent")
    assert a == "dental_implant.survival_rate[time_frame=5 year]"
    assert b == "dental_implant.survival_rate[time_frame=10 year]"


def test_levels_are_not_merged():
    a = _key("Non-union occurs in 5 percent of single-level fusions.", "5 percent", 5, 5, "percent",
             title="Cervical fusion")
    b = _key("Non-union occurs in 20 percent of multilevel fusions.", "20 percent", 20, 20, "percent",
             title="Cervical fusion")
    assert a != b and "levels=single-level" in a and "levels=multilevel" in b


def test_a_page_outside_the_taxonomy_still_gets_a_key():
    key = _key("Most patients go home in 2 days and recovery takes 3 weeks.", "3 weeks", 3, 3, "week", "duration",
               title="Kyphoplasty: What to Expect")
    assert key == "kyphoplasty.recovery_time"


def test_a_web_address_as_title_is_not_the_subject():
    key = _key("Most patients go home in 2 days and recovery takes 3 weeks.", "3 weeks", 3, 3, "week", "duration",
               title="URL: https://www.example-clinic.com/prolotherapy-recovery/")
    assert key == ""  # was "https.recovery_time", shared with every other such page: false conflicts


# -- the comparison at crawl scale: the same answer as comparing every pair, without comparing every pair

from auditor.compare import _agree_rows, _agreement_groups, _numeric_conflicts, compare_sources  # noqa: E402

PARAMS = {"approx_tolerance": 0.1, "unit_tolerance": 0.1, "touching_conflicts": True}


def _row(n, source, low, high, unit="week"):
    return {"claim_id": f"p{n}:0-1", "page": f"p{n}", "source": source, "url": "", "text": f"{low} to {high} {unit}s",
            "sentence": "", "start": 0, "end": 1, "low": low, "high": high, "unit": unit, "bound": "",
            "kind": "numeric", "category": "duration", "topic": "lasik.recovery_time", "qualifiers": {},
            "scope": "provider", "approx": False, "evidence": "none", "time_frame": ""}


def _figures(rng, sources, n):
    rows = []
    for i in range(n):
        low = rng.randint(1, 20)
        rows.append(_row(i, f"site{rng.randrange(sources)}.example", low, low + rng.randint(0, 6)))
    return [(r, interval_of(r["low"], r["high"], r["unit"])) for r in rows]


def _every_pair_groups(intervals):
    parent = {}

    def find(s):
        while parent.setdefault(s, s) != s:
            s = parent[s]
        return s
    for i, a in enumerate(intervals):
        find(a[0]["source"])
        for b in intervals[i + 1:]:
            if a[0]["source"] != b[0]["source"] and _agree_rows(a, b, PARAMS):
                parent[find(a[0]["source"])] = find(b[0]["source"])
    groups = {}
    for s in parent:
        groups.setdefault(find(s), set()).add(s)
    return sorted(sorted(g) for g in groups.values())


@pytest.mark.parametrize("seed", range(30))
def test_agreement_groups_match_comparing_every_pair(seed):
    import random
    intervals = _figures(random.Random(seed), sources=8, n=20)
    assert _agreement_groups(intervals, PARAMS) == _every_pair_groups(intervals)


@pytest.mark.parametrize("seed", range(30))
def test_conflicts_are_every_disagreeing_pair_when_sources_are_few(seed):
    import random
    intervals = _figures(random.Random(seed), sources=6, n=12)
    every = {(a[0]["claim_id"], b[0]["claim_id"]) for i, a in enumerate(intervals) for b in intervals[i + 1:]
             if a[0]["source"] != b[0]["source"] and not _agree_rows(a, b, PARAMS)}
    found = {(a[0]["claim_id"], b[0]["claim_id"]) for a, b in _numeric_conflicts(intervals, PARAMS, limit=1000)}
    # every disagreeing pair is found, a figure repeated by one source counting once (its first claim)
    seen, firsts = set(), set()
    for r, v in intervals:
        key = (r["source"], v.lo, v.hi)
        if key not in seen:
            seen.add(key)
            firsts.add(r["claim_id"])
    assert found == {p for p in every if p[0] in firsts and p[1] in firsts}


def test_the_widest_apart_pair_comes_first_and_the_limit_holds():
    import random
    intervals = _figures(random.Random(1), sources=300, n=3000)
    conflicts = _numeric_conflicts(intervals, PARAMS, limit=25)
    assert len(conflicts) == 25
    widest = max(gap(a[1], b[1]) for a in intervals for b in intervals[:200] if a[0]["source"] != b[0]["source"])
    assert gap(conflicts[0][0][1], conflicts[0][1][1]) >= widest
    gaps = [gap(a[1], b[1]) for a, b in conflicts]
    assert gaps == sorted(gaps, reverse=True)


def test_an_absolute_promise_against_a_crawl_reports_a_few_sources():
    from auditor.audit import load_rules
    from auditor.options import AuditOptions
    promise = {**_row(0, "promiser.example", None, None), "kind": "promotional", "text": "no recovery time",
               "topic": "lasik.absolute_promise"}
    measured = [_row(i, f"site{i:04d}.example", 1, 2) for i in range(1, 2001)]
    registry = load_rules(AuditOptions(select=["CNF003"]))
    findings, _ = compare_sources([promise] + measured, registry)
    assert 1 <= len(findings) <= 5
    assert findings[0]["details"]["sources_measuring"] == 2000


@pytest.mark.parametrize("first, second", [("month", "year"), ("year", "month"), ("percent", "people"),
                                           ("people", "percent")])
def test_a_tie_between_units_goes_to_the_first_met(first, second):
    """Not to the order of a set (string hashes change from process to process, and so would the run)."""
    from auditor.audit import load_rules
    from auditor.options import AuditOptions
    rows = [_row(0, "a.example", 2, 3, first), _row(1, "b.example", 4, 5, second)]
    _, topics = compare_sources(rows, load_rules(AuditOptions()))
    assert [t["unit"] for t in topics] == [first]


@pytest.mark.parametrize("sentence,text,low,unit,category,title,key", [
    ("About 16 million Americans suffer from sciatica.", "About 16 million Americans", 16000000, "people", "count",
     "Spinal decompression therapy", "sciatica.prevalence"),
    ("Recovery takes about 2 weeks for most patients.", "2 weeks", 2, "week", "duration",
     "Sleeve gastrectomy recovery", "gastric_sleeve.recovery_time"),
    ("Results last 2 years.", "2 years", 2, "year", "duration", "Deoxycholic acid injections for a double chin",
     "kybella.duration_of_effect"),
])
def test_common_treatments_and_conditions_have_their_own_topics(sentence, text, low, unit, category, title, key):
    assert _key(sentence, text, low, low, unit, category, title=title) == key
