import pytest

from auditor.audit import Auditor
from auditor.options import AuditOptions
from auditor.page import Page


@pytest.fixture(scope="session")
def auditor():
    """One pipeline for the whole session: loading it is the slow part."""
    return Auditor(AuditOptions(report=False))


@pytest.fixture(scope="session")
def claims_of(auditor):
    def run(text: str, page_id: str = "t"):
        return auditor.claims(Page(id=page_id, text=text))
    return run
