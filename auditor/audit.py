"""One page through the whole audit: page -> sentences -> claims -> findings, as plain records.

:class:`Auditor` holds what is costly to build (the spaCy pipeline, the rule registry) and is made
once per process or Dask worker; :meth:`Auditor.audit_page` is pure and returns records that pickle.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from . import __version__
from .checks import check_page
from .findings import Finding, assign_fingerprints
from .nlp import extract_claims, load_pipeline
from .options import AuditOptions
from .page import Page
from .rules import Registry, load_registry
from .topics import assign_topics


@dataclass
class PageResult:
    page: dict  # the pages.jsonl row: identity, status, counts
    claims: list[dict] = field(default_factory=list)
    findings: list[dict] = field(default_factory=list)
    text: dict | None = None  # {"page", "text", "blocks", "links"} for the report


def load_rules(options: AuditOptions) -> Registry:
    """The rules to run, with the options' levels. The user's reference values are read here too, so a broken
    rule or values file stops a run before it starts (RuleError)."""
    registry = load_registry(options.rule_folders).select(options.select, options.ignore)
    if options.value_files:
        from .compare import load_reference_values
        from .reference import check_value_file
        for file in options.value_files:
            check_value_file(file)
        load_reference_values(tuple(options.value_files))  # cached: the comparison at the end reuses it
    for rule_id, level in options.levels.items():
        for rule in registry.rules.values():
            if rule.id.startswith(rule_id.upper()):
                rule.level = level
    return registry


class Auditor:
    def __init__(self, options: AuditOptions | None = None):
        self.options = (options or AuditOptions()).validate()
        from .reference import set_overlays
        set_overlays(self.options.lexicon_files)  # the user's lexicon terms, before the pipeline reads them
        self.nlp = load_pipeline(self.options.model, self.options.include_comments)
        self.registry = load_rules(self.options)

    def claims(self, page: Page):
        claims = extract_claims(self.nlp, page)
        assign_topics(page, claims)
        return claims

    def audit_page(self, page: Page) -> PageResult:
        claims = self.claims(page)
        findings: list[Finding] = check_page(page, claims, self.registry)
        assign_fingerprints(findings)
        record = page.as_record()
        record.update(status="audited", error_code="", error="", claims=len(claims), findings=len(findings),
                      version=__version__)
        text = {"page": page.id, "text": page.text,
                "blocks": [{"start": b.start, "end": b.end, "kind": b.kind, "level": b.level} for b in page.blocks],
                "links": [{"start": k.start, "end": k.end, "href": k.href} for k in page.links]}
        return PageResult(page=record, claims=[c.as_record(page) for c in claims],
                          findings=[f.as_record() for f in findings], text=text)
