"""The rule registry: rules are data in ``reference/rules/<FAMILY>.yaml``, validated on load.

A rule has a stable id with its family's prefix (EVD001), a kind the code interprets (see
:mod:`auditor.checks` and :mod:`auditor.compare`), a level, a message template, a rationale, what
would resolve it and, where one exists, a source. Unknown keys, duplicate ids and bad patterns are
errors naming the file and line. Rule ids are never reused: a removed rule stays listed as removed.
"""
from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from pathlib import Path

from . import reference
from .errors import RuleError

LEVELS = ("info", "warning", "error")
KINDS = ("claim", "page", "conflict", "reference")
RULE_KEYS = {"id", "name", "kind", "level", "message", "rationale", "resolve", "source", "when", "unless",
             "claims_when", "page_lacks", "params", "removed"}
REQUIRED_KEYS = {"id", "name", "kind", "level", "message", "rationale", "resolve"}
FILE_KEYS = {"family", "title", "rules"}
# fields a `when` condition may test; *_matches take a regular expression
CONDITION_FIELDS = {"kind", "category", "evidence", "scope", "unit", "bound", "form", "negated", "conditional",
                    "hedged", "text_matches", "sentence_matches", "sentence_not_matches", "topic"}
ID_PATTERN = re.compile(r"^[A-Z]{3}\d{3}$")


@dataclass
class Rule:
    id: str
    name: str
    kind: str
    level: str
    message: str
    rationale: str
    resolve: str
    source: str = ""
    when: dict = field(default_factory=dict)
    unless: dict = field(default_factory=dict)
    claims_when: list = field(default_factory=list)
    page_lacks: re.Pattern | None = None
    params: dict = field(default_factory=dict)
    removed: bool = False
    file: str = ""
    line: int = 0

    @property
    def family(self) -> str:
        return self.id[:3]

    def format(self, **values) -> str:
        """The message with {placeholders} filled; missing values stay empty."""
        return string.Formatter().vformat(self.message, (), _Blank(values))


class _Blank(dict):
    def __missing__(self, key):
        return ""


class Registry:
    def __init__(self, rules: list[Rule], titles: dict[str, str]):
        self.rules = {r.id: r for r in rules}
        self.titles = titles

    def active(self) -> list[Rule]:
        return [r for r in self.rules.values() if not r.removed]

    def of_kind(self, kind: str) -> list[Rule]:
        return [r for r in self.active() if r.kind == kind]

    def get(self, rule_id: str) -> Rule:
        rule = self.rules.get(rule_id.upper())
        if rule is None:
            raise RuleError(f"no rule {rule_id!r}; `auditor rules` lists them", code="E210")
        return rule

    def select(self, select: list[str] | None = None, ignore: list[str] | None = None) -> "Registry":
        """Rules whose id starts with one of `select` (all when empty) and with none of `ignore`."""
        chosen = [r for r in self.rules.values()
                  if (not select or any(r.id.startswith(p.upper()) for p in select))
                  and not any(r.id.startswith(p.upper()) for p in ignore or [])]
        return Registry(chosen, self.titles)


def load_registry(folders: list[Path] | None = None) -> Registry:
    """Every rule file in the shipped rules folder (and any extra folders), validated."""
    folders = [reference.path("rules")] + list(folders or [])
    rules: list[Rule] = []
    titles: dict[str, str] = {}
    seen: dict[str, Rule] = {}
    for folder in folders:
        for file in sorted(Path(folder).glob("*.yaml")):
            data = reference.load_yaml(file, keep_lines=True)
            if not isinstance(data, dict):
                raise RuleError("a rule file is a mapping with family, title and rules", str(file), 1, "E204")
            reference.check_keys(data, FILE_KEYS, FILE_KEYS, file, "rule file")
            family = data["family"]
            if family != file.stem:
                raise RuleError(f"family {family!r} must match the file name {file.stem!r}", str(file),
                                data.get(reference.LINE_KEY), "E207")
            titles[family] = data["title"]
            for row in data["rules"] or []:
                rule = _rule_from_row(row, family, file)
                if rule.id in seen:
                    first = seen[rule.id]
                    raise RuleError(f"duplicate rule id {rule.id} (first defined at {first.file}:{first.line})",
                                    str(file), rule.line, "E208")
                seen[rule.id] = rule
                rules.append(rule)
    return Registry(rules, titles)


def _rule_from_row(row: dict, family: str, file: Path) -> Rule:
    if not isinstance(row, dict):
        raise RuleError("each rule is a mapping", str(file), None, "E204")
    line = row.get(reference.LINE_KEY)
    reference.check_keys(row, RULE_KEYS, REQUIRED_KEYS, file, f"rule {row.get('id', '?')}")
    rule_id = str(row["id"])
    if not ID_PATTERN.match(rule_id) or not rule_id.startswith(family):
        raise RuleError(f"rule id {rule_id!r} must be {family} followed by three digits", str(file), line, "E207")
    if row["kind"] not in KINDS:
        raise RuleError(f"rule {rule_id}: kind must be one of {', '.join(KINDS)}", str(file), line, "E209")
    if row["level"] not in LEVELS:
        raise RuleError(f"rule {rule_id}: level must be one of {', '.join(LEVELS)}", str(file), line, "E209")
    when = _conditions(row.get("when") or {}, rule_id, file, line)
    unless = _conditions(row.get("unless") or {}, rule_id, file, line)
    claims_when = [_conditions(c, rule_id, file, line) for c in row.get("claims_when") or []]
    page_lacks = _regex(row["page_lacks"], rule_id, file, line) if row.get("page_lacks") else None
    params = reference.strip_lines(row.get("params") or {})
    return Rule(id=rule_id, name=row["name"], kind=row["kind"], level=row["level"], message=row["message"],
                rationale=" ".join(str(row["rationale"]).split()), resolve=row["resolve"],
                source=row.get("source", ""), when=when, unless=unless, claims_when=claims_when,
                page_lacks=page_lacks, params=params, removed=bool(row.get("removed")), file=str(file), line=line or 0)


def _conditions(raw: dict, rule_id: str, file: Path, line: int | None) -> dict:
    raw = reference.strip_lines(raw)
    unknown = set(raw) - CONDITION_FIELDS
    if unknown:
        raise RuleError(f"rule {rule_id}: unknown condition field(s) {', '.join(sorted(unknown))}", str(file), line, "E204")
    out = {}
    for key, value in raw.items():
        if key.endswith("_matches"):
            out[key] = _regex(value, rule_id, file, line)
        elif isinstance(value, list):
            out[key] = frozenset(value)
        else:
            out[key] = frozenset([value])
    return out


def _regex(pattern: str, rule_id: str, file: Path, line: int | None) -> re.Pattern:
    try:
        return re.compile(pattern, re.I)
    except re.error as e:
        raise RuleError(f"rule {rule_id}: bad pattern: {e}", str(file), line, "E209") from None
