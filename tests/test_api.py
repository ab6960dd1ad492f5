"""The Python API: DataFrames of pages, claims, findings and topics."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from auditor.api import COLUMNS, AuditResult, audit_corpus, audit_page, load_run
from auditor.options import AuditOptions
from auditor.page import Page

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
TEXT = ("Cervical fusion recovery\n\nMost patients are back at work within 6 weeks after cervical fusion, "
        "and 98% are pain-free. Our world-class surgeons guarantee results.")


@pytest.fixture(scope="module")
def corpus_result() -> AuditResult:
    return audit_corpus(CORPUS, AuditOptions(report=False, progress=False, workers=1))


def test_audit_corpus_returns_dataframes(corpus_result):
    r = corpus_result
    for name in COLUMNS:
        df = getattr(r, name)
        assert isinstance(df, pd.DataFrame)
        assert list(df.columns[:len(COLUMNS[name])]) == COLUMNS[name]
    assert len(r.pages) == 5 and set(r.pages.status) == {"audited"}
    assert len(r.claims) > 20 and set(r.claims.page) <= set(r.pages.page)
    assert {"PRM001", "CNF001"} & set(r.findings.rule)
    assert len(r.topics) >= 1
    assert isinstance(r.findings.claims.iloc[0], list)  # nested values stay Python objects
    assert r.summary.pages == 5 and r.out is None
    assert r.findings.groupby("level").size().sum() == len(r.findings)


def test_audit_corpus_keeps_the_run_folder_when_asked(tmp_path, corpus_result):
    r = audit_corpus([CORPUS / "tms-depression.html", CORPUS / "scrambler-therapy.html"], out=tmp_path / "run")
    assert (tmp_path / "run" / "findings.parquet").is_file() and not (tmp_path / "run" / "index.html").exists()
    again = load_run(tmp_path / "run")
    assert len(again.claims) == len(r.claims) and list(again.pages.page) == list(r.pages.page)


def test_audit_page_text_html_and_page():
    r = audit_page(TEXT, id="p1", url="https://clinic.example/fusion/", source="Clinic")
    assert len(r.pages) == 1 and r.pages.page.iloc[0] == "p1" and r.pages.status.iloc[0] == "audited"
    texts = set(r.claims.text)
    assert any("6 weeks" in t for t in texts) and "98%" in texts and "world-class" in texts
    assert set(r.claims.source) == {"Clinic"}
    assert not r.findings.empty and set(r.findings.page) == {"p1"}
    html = audit_page("<html><body><h1>TMS</h1><p>TMS therapy is 100% safe with no side effects.</p></body></html>")
    assert "no side effects" in " ".join(html.claims.text)
    page = audit_page(Page(id="x", text="Recovery takes about 2 weeks."))
    assert len(page.claims) == 1 and "2 weeks" in page.claims.text.iloc[0]


def test_empty_tables_keep_their_columns():
    r = audit_page("We are open Monday to Friday.")
    assert r.claims.empty and list(r.claims.columns) == COLUMNS["claims"]
    assert r.findings.empty and list(r.findings.columns) == COLUMNS["findings"]
    assert r.topics.empty and list(r.topics.columns) == COLUMNS["topics"]


def test_audit_page_rejects_other_types():
    with pytest.raises(TypeError):
        audit_page(42)
