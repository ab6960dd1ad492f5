"""Hostile text: no exceptions, offsets that slice, sane bounds, the same output twice, linear time."""
import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.components.quantities import find_quantities
from auditor.page import Page

# text made of the pieces claims are made of, so the fuzzer reaches the grammar's corners
PIECES = st.sampled_from([
    "4", "6", "12", "87", "0.5", "10,871", "-28", "1,3,6", "%", " percent", " to ", "-", "–", " or ", " and ", ", ",
    "between ", "from ", "over ", "up to ", "about ", "nearly ", "within ", "by ", "more than ", "at least ", "a ", "an ",
    "one", "two", "twenty-five", " and a half", " million", " hundred", "half", "two-thirds", " of ", " in ", " out of ",
    " weeks", " months", " year", "-year-old", " times", " patients", " people", "(1)", "[2]", "C5/6", "(555) 123-4567",
    "Step 1 of 2", "©", "best spine surgeon", "no side effects", "may ", "not ", "research shows ", "our patients ",
    ".", "!", "?", "\n", "\n\n", " ", "  ", "\u00a0", "“", "”", "é", "🙂",
])
TEXT = st.one_of(st.text(max_size=300), st.lists(PIECES, max_size=60).map("".join))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TEXT)
def test_quantity_parser_never_fails_and_bounds_are_ordered(text):
    for q in find_quantities(text):
        assert 0 <= q.start < q.end <= len(text)
        if q.low is not None and q.high is not None:
            assert q.low <= q.high
        assert q.unit


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(TEXT)
def test_extractor_offsets_slice_to_the_text_and_output_is_deterministic(auditor, text):
    page = Page(id="fuzz", text=text)
    first = auditor.audit_page(page)
    for c in first.claims:
        assert text[c["start"]:c["end"]] == c["text"]
        assert text[c["sentence_start"]:c["sentence_end"]] == c["sentence"]
        if c["low"] is not None and c["high"] is not None:
            assert c["low"] <= c["high"]
    second = auditor.audit_page(page)
    dump = lambda r: json.dumps([r.claims, r.findings], sort_keys=True).encode()  # noqa: E731
    assert dump(first) == dump(second)


PATHOLOGICAL = {
    "digits": "1" * 200_000,
    "digit groups": "1,000," * 40_000,
    "spaces": "4" + " " * 200_000 + "weeks",
    "dashes": "4" + "-" * 200_000 + "6 weeks",
    "number words": "one two three " * 20_000,
    "ranges": "4 to 6 to 8 to " * 15_000 + "weeks",
    "list": "5, " * 60_000 + "or 20 years",
    "bounds": "more than " * 30_000 + "5%",
    "percent": "%" * 200_000,
    "one line": "Recovery takes 4 to 6 weeks and the best care " * 5_000,
}


@pytest.mark.parametrize("name", sorted(PATHOLOGICAL))
def test_pathological_text_stays_linear(auditor, name):
    """A generous bound: the same input ten times smaller must not take more than ~30x less time."""
    big = PATHOLOGICAL[name]
    small = big[: len(big) // 10]

    def best_time(text):  # the best of two runs: a busy machine slows a run, never speeds one up
        times = []
        for _ in range(2):
            t = time.perf_counter()
            auditor.audit_page(Page(id="p", text=text))
            times.append(time.perf_counter() - t)
        return min(times)

    t_small, t_big = best_time(small), best_time(big)
    assert t_big < 10, f"{name}: {t_big:.1f}s for {len(big)} characters"
    assert t_big < max(30 * t_small, 3.0), f"{name}: {t_small:.3f}s -> {t_big:.3f}s for 10x the text"
