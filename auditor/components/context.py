"""Assertion context of each claim (placeholder replaced below)."""
from spacy.language import Language


@Language.component("auditor_context")
def assertion_context(doc):
    return doc
