"""Step 4, FINDINGS on one page: one small interpreter per rule kind.

``claim`` rules test each claim against their ``when`` conditions; ``page`` rules look at the page as
a whole (testimonials and no typicality statement). Cross-page kinds live in :mod:`auditor.compare`.
"""
from __future__ import annotations

from .claims import Claim
from .findings import Finding, make_finding
from .page import Page
from .rules import Registry, Rule


def claim_matches(claim: Claim, conditions: dict) -> bool:
    """True when the claim meets every condition (a set of allowed values, or a pattern)."""
    for key, allowed in conditions.items():
        if key == "text_matches":
            ok = bool(allowed.search(claim.text))
        elif key == "sentence_matches":
            ok = bool(allowed.search(claim.sentence))
        elif key == "sentence_not_matches":
            ok = not allowed.search(claim.sentence)
        elif key == "hedged":
            ok = bool(claim.hedges) in allowed
        else:
            ok = getattr(claim, key) in allowed
        if not ok:
            return False
    return True


def check_claims(rule: Rule, page: Page, claims: list[Claim]) -> list[Finding]:
    return [make_finding(rule, page, [c]) for c in claims
            if claim_matches(c, rule.when) and not (rule.unless and claim_matches(c, rule.unless))]


def check_page_rule(rule: Rule, page: Page, claims: list[Claim]) -> list[Finding]:
    involved = [c for c in claims if any(claim_matches(c, cond) for cond in rule.claims_when)]
    if not involved or (rule.page_lacks is not None and rule.page_lacks.search(page.text)):
        return []
    return [make_finding(rule, page, involved)]


CHECKS = {"claim": check_claims, "page": check_page_rule}


def check_page(page: Page, claims: list[Claim], registry: Registry) -> list[Finding]:
    """Findings of every per-page rule, in page order."""
    findings: list[Finding] = []
    for rule in registry.active():
        check = CHECKS.get(rule.kind)
        if check is not None:
            findings.extend(check(rule, page, claims))
    findings.sort(key=lambda f: (f.claims[0]["start"] if f.claims else 0, f.rule))
    return findings
