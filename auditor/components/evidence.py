"""Evidence attribution (placeholder replaced below)."""
from spacy.language import Language


@Language.component("auditor_evidence")
def attribute_evidence(doc):
    return doc
