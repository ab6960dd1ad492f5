"""Every rule has a fixture of sentences that must flag and sentences that must not; one test runs them all."""
import pytest

from auditor import reference
from auditor.errors import RuleError
from auditor.page import Page
from auditor.rules import load_registry

REGISTRY = load_registry()
FIXTURES = reference.path("rules", "fixtures")
CASES = []
for rule in REGISTRY.active():
    fixture = FIXTURES / f"{rule.id}.yaml"
    data = reference.load_yaml(fixture) if fixture.is_file() else {}
    for i, text in enumerate(data.get("flag", [])):
        CASES.append(pytest.param(rule.id, text, True, id=f"{rule.id}-flag-{i}"))
    for i, text in enumerate(data.get("pass", [])):
        CASES.append(pytest.param(rule.id, text, False, id=f"{rule.id}-pass-{i}"))

PER_PAGE_KINDS = {"claim", "page"}


@pytest.mark.parametrize("rule_id", [r.id for r in REGISTRY.active()])
def test_every_rule_has_a_fixture(rule_id):
    fixture = FIXTURES / f"{rule_id}.yaml"
    assert fixture.is_file(), f"{rule_id} has no fixture at reference/rules/fixtures/{rule_id}.yaml"
    data = reference.load_yaml(fixture)
    assert data.get("flag") and data.get("pass"), f"{rule_id}: the fixture needs both flag and pass examples"


@pytest.mark.parametrize("rule_id,text,should_flag", [c for c in CASES if REGISTRY.get(c.values[0]).kind in PER_PAGE_KINDS])
def test_rule_fixture(auditor, rule_id, text, should_flag):
    result = auditor.audit_page(Page(id="fixture", text=text))
    rules = {f["rule"] for f in result.findings}
    if should_flag:
        assert rule_id in rules, f"{rule_id} should flag: {text!r}; found {sorted(rules)}"
    else:
        assert rule_id not in rules, f"{rule_id} should not flag: {text!r}"


@pytest.mark.parametrize("rule_id,pages,should_flag", [c for c in CASES if REGISTRY.get(c.values[0]).kind not in PER_PAGE_KINDS])
def test_cross_page_rule_fixture(auditor, rule_id, pages, should_flag):
    """Conflict cases are lists of pages from different sources; reference cases are one page."""
    from auditor.compare import compare_sources
    pages = [pages] if isinstance(pages, str) else pages
    claims = []
    for i, text in enumerate(pages):
        claims.extend(auditor.audit_page(Page(id=f"p{i}", source=f"source{i}", text=text)).claims)
    findings, _ = compare_sources(claims, auditor.registry)
    rules = {f["rule"] for f in findings}
    assert (rule_id in rules) == should_flag, f"{rule_id} {'should' if should_flag else 'should not'} flag {pages}"


def test_unknown_key_is_an_error_with_file_and_line(tmp_path):
    (tmp_path / "XYZ.yaml").write_text(
        "family: XYZ\ntitle: t\nrules:\n  - id: XYZ001\n    name: n\n    kind: claim\n    level: info\n"
        "    message: m\n    rationale: r\n    resolve: r\n    colour: blue\n")
    with pytest.raises(RuleError) as e:
        load_registry([tmp_path])
    assert "XYZ.yaml:4" in str(e.value) and "colour" in str(e.value)


def test_duplicate_id_is_an_error(tmp_path):
    rule = ("  - id: XYZ001\n    name: n\n    kind: claim\n    level: info\n    message: m\n"
            "    rationale: r\n    resolve: r\n")
    (tmp_path / "XYZ.yaml").write_text("family: XYZ\ntitle: t\nrules:\n" + rule + rule)
    with pytest.raises(RuleError) as e:
        load_registry([tmp_path])
    assert "duplicate rule id XYZ001" in str(e.value) and "XYZ.yaml:11" in str(e.value)


def test_rule_id_must_carry_its_family(tmp_path):
    (tmp_path / "XYZ.yaml").write_text(
        "family: XYZ\ntitle: t\nrules:\n  - id: ABC001\n    name: n\n    kind: claim\n    level: info\n"
        "    message: m\n    rationale: r\n    resolve: r\n")
    with pytest.raises(RuleError, match="XYZ followed by three digits"):
        load_registry([tmp_path])


def test_select_and_ignore_by_prefix():
    chosen = {r.id for r in REGISTRY.select(["PRM"], ["PRM007"]).active()}
    assert chosen == {r.id for r in REGISTRY.active() if r.family == "PRM"} - {"PRM007"}
    assert {r.id for r in REGISTRY.select(["EVD"]).active()} == {r.id for r in REGISTRY.active() if r.family == "EVD"}
