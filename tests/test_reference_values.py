"""Checks on the literature reference values in reference/values/*.yaml.

Every value must say what it measures (topic = intervention.measure), in which unit, for whom, and
where it comes from (at least one of pmid, doi, url), so that the auditor can compare a clinic's claim
with a traceable literature figure.
"""
from __future__ import annotations

import re
from numbers import Real
from pathlib import Path

import pytest

from auditor import reference

INTERVENTIONS = {
    "cervical_fusion", "lumbar_fusion", "lasik", "dental_implant", "tms", "botox",
    "scrambler_therapy", "back_pain",
}
MEASURES = {
    "recovery_time", "return_to_work_time", "return_to_work_rate", "adjacent_segment_disease_rate",
    "nonunion_rate", "nonunion_risk_multiplier", "visual_acuity_rate", "survival_rate", "response_rate",
    "remission_rate", "duration_of_effect", "pain_reduction", "prevalence",
}
UNITS = {"percent", "week", "month", "year", "day", "times", "fraction"}
QUALIFIER_KEYS = {"time_frame", "threshold", "levels", "condition", "population", "procedure"}
ALLOWED_KEYS = {
    "id", "topic", "qualifiers", "low", "high", "unit", "population", "time_frame", "statement",
    "citation", "pmid", "doi", "url",
}
REQUIRED_KEYS = {"id", "topic", "unit", "population", "statement", "citation"}
TOPIC_RE = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
TIME_FRAME_RE = re.compile(r"^\d+(\.\d+)? (day|week|month|year)$")


def _files() -> list[Path]:
    return sorted(p for p in reference.path("values").iterdir() if p.suffix in {".yaml", ".yml"})


def _rows() -> list[tuple[Path, dict]]:
    rows = []
    for file in _files():
        data = reference.load_yaml(file)
        assert isinstance(data, dict) and isinstance(data.get("values"), list), f"{file.name}: needs a 'values' list"
        rows.extend((file, row) for row in data["values"])
    return rows


ROWS = _rows()


def _label(item: tuple[Path, dict]) -> str:
    file, row = item
    return f"{file.stem}:{row.get('id', '?')}"


def _is_number(x) -> bool:
    return isinstance(x, Real) and not isinstance(x, bool)


def test_there_are_values():
    assert _files(), "no YAML files under reference/values"
    assert ROWS, "no values in reference/values"


def test_ids_unique_across_files():
    seen: dict[str, str] = {}
    for file, row in ROWS:
        rid = row.get("id")
        assert rid not in seen, f"duplicate id {rid!r} in {file.name} and {seen[rid]}"
        seen[rid] = file.name


@pytest.mark.parametrize("item", ROWS, ids=_label)
def test_value_shape(item):
    file, row = item
    assert isinstance(row, dict)
    unknown = set(row) - ALLOWED_KEYS
    assert not unknown, f"unknown keys {sorted(unknown)}"
    missing = REQUIRED_KEYS - set(row)
    assert not missing, f"missing keys {sorted(missing)}"
    for key in REQUIRED_KEYS:
        assert isinstance(row[key], str) and row[key].strip(), f"{key} must be a non-empty string"


@pytest.mark.parametrize("item", ROWS, ids=_label)
def test_topic_form(item):
    file, row = item
    topic = row["topic"]
    assert TOPIC_RE.match(topic), f"topic {topic!r} is not intervention.measure"
    intervention, measure = topic.split(".")
    assert intervention in INTERVENTIONS, f"unknown intervention {intervention!r}"
    assert measure in MEASURES, f"unknown measure {measure!r}"
    assert intervention == file.stem, f"topic {topic!r} filed in {file.name}"
    assert row["id"] == topic or row["id"].startswith(topic + "."), f"id {row['id']!r} does not start with topic"


@pytest.mark.parametrize("item", ROWS, ids=_label)
def test_numbers_and_unit(item):
    _, row = item
    assert row["unit"] in UNITS, f"unit {row['unit']!r} not in {sorted(UNITS)}"
    low, high = row.get("low"), row.get("high")
    assert low is not None or high is not None, "needs low and/or high"
    for name, v in (("low", low), ("high", high)):
        if v is not None:
            assert _is_number(v), f"{name} must be a number, got {v!r}"
            assert v >= 0, f"{name} must not be negative"
    if low is not None and high is not None:
        assert low <= high, f"low {low} > high {high}"
    if row["unit"] == "percent":
        assert all(v is None or v <= 100 for v in (low, high)), "percent above 100"
    if row["unit"] == "fraction":
        assert all(v is None or v <= 1 for v in (low, high)), "fraction above 1"


@pytest.mark.parametrize("item", ROWS, ids=_label)
def test_source(item):
    _, row = item
    assert any(row.get(k) for k in ("pmid", "doi", "url")), "needs at least one of pmid, doi, url"
    if "pmid" in row:
        assert isinstance(row["pmid"], str) and row["pmid"].isdigit(), f"pmid {row['pmid']!r} is not digits"
    if "doi" in row:
        assert isinstance(row["doi"], str) and row["doi"].startswith("10."), f"doi {row['doi']!r} must start with '10.'"
        assert " " not in row["doi"]
    if "url" in row:
        assert isinstance(row["url"], str) and re.match(r"^https?://\S+$", row["url"]), f"bad url {row['url']!r}"


@pytest.mark.parametrize("item", ROWS, ids=_label)
def test_qualifiers(item):
    _, row = item
    q = row.get("qualifiers")
    if q is None:
        return
    assert isinstance(q, dict), "qualifiers must be a mapping"
    unknown = set(q) - QUALIFIER_KEYS
    assert not unknown, f"unknown qualifier keys {sorted(unknown)}"
    for k, v in q.items():
        assert isinstance(v, str) and v.strip(), f"qualifier {k} must be a non-empty string"
    if "time_frame" in q:
        assert TIME_FRAME_RE.match(q["time_frame"]), f"time_frame {q['time_frame']!r} is not '<n> <unit>'"
    if "levels" in q:
        assert q["levels"] in {"single-level", "multilevel"}
    if "threshold" in q:
        assert re.match(r"^20/\d+$", q["threshold"]), f"threshold {q['threshold']!r}"
