"""Step 2, SENTENCES and CLAIMS: the spaCy pipeline, and a page run through it.

The default is a blank English pipeline with the auditor's rule-based components; ``--model NAME``
loads an installed trained pipeline instead and adds the same components to it.
"""
from __future__ import annotations

from urllib.parse import urlsplit

import spacy
from spacy.language import Language
from spacy.tokens import Doc

from . import claims as _claims  # noqa: F401  (registers the Doc and Span extensions)
from .claims import CLAIM_SPANS, Claim
from .components import context, evidence, numeric, promotional, segmenter  # noqa: F401  (factories)
from .components.layout import KEY as LAYOUT_KEY
from .components.tokenizer import GuardedTokenizer, split_glued_punctuation
from .errors import AuditorError
from .page import Page

CLAIM_COMPONENTS = ["auditor_numeric", "auditor_promotional", "auditor_context", "auditor_evidence"]


def load_pipeline(model: str | None = None, include_comments: bool = False) -> Language:
    """A pipeline that writes claims to ``doc.spans["claims"]``."""
    if model:
        try:
            nlp = spacy.load(model)
        except (OSError, ImportError) as e:
            raise AuditorError(f"cannot load the spaCy pipeline {model!r}: it is not installed here "
                               f"({str(e).splitlines()[0][:120]})", "E401") from None
    else:
        nlp = spacy.blank("en")
    split_glued_punctuation(nlp.tokenizer)
    nlp.tokenizer = GuardedTokenizer(nlp.tokenizer)
    # a parser respects boundaries set before it; a senter overwrites them, so ours go after it
    if "parser" in nlp.pipe_names:
        nlp.add_pipe("auditor_sentences", before="parser")
    elif "senter" in nlp.pipe_names:
        nlp.add_pipe("auditor_sentences", after="senter")
    else:
        nlp.add_pipe("auditor_sentences")
    nlp.add_pipe("auditor_numeric", config={"include_comments": include_comments})
    nlp.add_pipe("auditor_promotional", config={"include_comments": include_comments})
    nlp.add_pipe("auditor_context")
    nlp.add_pipe("auditor_evidence")
    return nlp


def page_doc(nlp: Language, page: Page) -> Doc:
    """A Doc of the page's text that carries its blocks and links, ready for the pipeline."""
    doc = nlp.make_doc(page.text)
    doc.user_data["text"] = page.text  # Doc.text is rebuilt from the tokens on every access
    doc._.blocks = page.blocks
    doc._.links = page.links
    doc.user_data["page_host"] = urlsplit(page.url).netloc if page.url else ""
    return doc


def claims_of(doc: Doc) -> list[Claim]:
    """The claims the components found, in page order; the Doc's scratch data is dropped."""
    for key in (LAYOUT_KEY, "page_host", "text"):
        doc.user_data.pop(key, None)
    found = [span._.claim for span in doc.spans.get(CLAIM_SPANS, []) if span._.claim is not None]
    return sorted(found, key=lambda c: (c.start, c.end))


def extract_claims(nlp: Language, page: Page) -> list[Claim]:
    return claims_of(nlp(page_doc(nlp, page)))
