"""Terminal lines: path:line:col: level RULE message, one per finding, sorted, 1-based positions."""
import json
import re
from pathlib import Path

import pytest

from auditor.baseline import review
from auditor.cli import main
from auditor.lines import format_line, position

LINE = re.compile(r"^(?P<path>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<level>info|warning|error) "
                  r"(?P<rule>[A-Z]{3}\d{3}) (?P<message>\S.*)$")

ALPHA = """Knee replacement

We are the best knee surgeons in Ohio.
Recovery takes 6 to 12 weeks for most patients.
  Patients get immediate relief.
"""
BETA = "Hip replacement\n\nOur clinic is world-class.\n"


@pytest.fixture
def pages(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "pages"
    folder.mkdir()
    (folder / "beta.txt").write_text(BETA, encoding="utf-8")
    (folder / "alpha.txt").write_text(ALPHA, encoding="utf-8")
    return folder


def test_position_is_one_based():
    text = "ab\ncd\n\nef"
    assert position(text, 0) == (1, 1)
    assert position(text, 1) == (1, 2)
    assert position(text, 3) == (2, 1)
    assert position(text, 7) == (4, 1)
    assert position(text, 8) == (4, 2)
    assert position(text, 999) == (4, 3)  # clamped to the end
    assert format_line("a.txt", 2, 5, "warning", "PRM003", "two\n  lines") == "a.txt:2:5: warning PRM003 two lines"


def test_audit_format_lines(pages, capsys):
    assert main(["audit", "pages", "--out", "run", "--no-report", "--no-config", "--format", "lines",
                 "--fail-on", "never"]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines and all(LINE.match(line) for line in lines), lines
    assert "pages audited" in err and "pages audited" not in out  # the summary stays on stderr
    parsed = [LINE.match(line).groupdict() for line in lines]
    keys = [(p["path"], int(p["line"]), int(p["col"])) for p in parsed]
    assert keys == sorted(keys)  # by path, then position (numerically)
    assert {p["path"] for p in parsed} == {"pages/alpha.txt", "pages/beta.txt"}
    # line and column point at the claim in the file
    files = {"pages/alpha.txt": ALPHA.splitlines(), "pages/beta.txt": BETA.splitlines()}
    for p, text in (("PRM003", "best knee surgeons"), ("PRM001", "immediate relief"), ("PRM003", "world-class")):
        hit = next(x for x in parsed if x["rule"] == p and text in x["message"])
        row = files[hit["path"]][int(hit["line"]) - 1]
        assert row[int(hit["col"]) - 1:].startswith(text), (hit, row)
    best = next(x for x in parsed if "best knee surgeons" in x["message"])
    assert (best["line"], best["col"], best["level"]) == ("3", "12", "warning")
    relief = next(x for x in parsed if "immediate relief" in x["message"])
    assert (relief["line"], relief["col"]) == ("5", "16")
    # one line per finding of the run
    findings = (Path("run") / "findings.jsonl").read_text().splitlines()
    assert len(lines) == len(findings)


def test_reviewed_findings_leave_the_lines(pages, capsys):
    main(["audit", "pages", "--out", "run", "--no-report", "--no-config", "--fail-on", "never"])
    first = json.loads((Path("run") / "findings.jsonl").read_text().splitlines()[0])
    review("run", [first["finding_id"]], "accepted", "ana", "fine", "auditor-baseline.json", "2025-01-01")
    capsys.readouterr()
    main(["audit", "pages", "--out", "run", "--no-report", "--no-config", "--format", "lines", "--fail-on", "never",
          "--baseline", "auditor-baseline.json"])
    out = capsys.readouterr().out
    assert first["message"] not in out and len(out.splitlines()) == len(
        (Path("run") / "findings.jsonl").read_text().splitlines()) - 1


def test_extract_format_lines(pages, capsys, tmp_path):
    assert main(["extract", "pages", "--format", "lines", "--no-config"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "pages/alpha.txt:3:12: claim promotional.superlative 'best knee surgeons'" in lines
    assert any(line.startswith("pages/alpha.txt:4:16: claim numeric.duration '6 to 12 weeks'") for line in lines)
    assert lines[-1].startswith("pages/beta.txt:3:15: claim promotional.superlative 'world-class'")
    assert main(["extract", "pages", "--format", "lines", "--no-config", "-o", str(tmp_path / "claims.txt")]) == 0
    assert (tmp_path / "claims.txt").read_text().splitlines() == lines
