"""The command line: help with examples, one-line errors, exit codes, formats."""
import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from auditor import cli

ROOT = Path(__file__).resolve().parents[1]


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "auditor", *args], capture_output=True, text=True, cwd=cwd or ROOT)


def _subcommands():
    parser = cli._parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return action.choices


@pytest.mark.parametrize("name", sorted(_subcommands()))
def test_every_command_has_help_with_an_example(name):
    parser = _subcommands()[name]
    assert parser.description, f"{name} has no description"
    assert "example:" in (parser.epilog or "") and "auditor " + name in parser.epilog, f"{name} has no example"


def test_missing_path_is_one_line_and_exit_2():
    r = run("extract", "no/such/dir")
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "E106" in r.stderr and "Traceback" not in r.stderr


def test_wrong_option_is_one_line_and_exit_2():
    r = run("audit", "corpus", "--out", "x", "--fail-on", "sometimes")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


def test_unknown_rule_in_explain():
    r = run("explain", "XXX999")
    assert r.returncode == 2 and "XXX999" in r.stderr and r.stderr.count("\n") == 1


def test_extract_jsonl_and_csv(tmp_path):
    page = tmp_path / "p.txt"
    page.write_text("Recovery takes 4 to 6 weeks. Our therapy is painless.\n")
    out = tmp_path / "c.jsonl"
    assert run("extract", str(page), "-o", str(out)).returncode == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["kind"], r["text"], r["low"], r["high"], r["unit"]) for r in rows] == [
        ("numeric", "4 to 6 weeks", 4, 6, "week"), ("promotional", "painless", None, None, "")]
    for field in ("page", "source", "url", "kind", "category", "text", "sentence", "start", "end", "low", "high",
                  "unit", "bound"):
        assert field in rows[0]
    r = run("extract", str(page), "--format", "csv")
    table = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [row["text"] for row in table] == ["4 to 6 weeks", "painless"]


def test_bad_pages_get_one_line_each_and_the_others_go_on(tmp_path):
    (tmp_path / "good.txt").write_text("Recovery takes 4 to 6 weeks.\n")
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "binary.html").write_bytes(b"%PDF-1.4\x00\x01\x02binary")
    (tmp_path / "latin.txt").write_bytes("Caf\xe9 patients recover in 2 weeks.\n".encode("latin-1"))
    r = run("extract", str(tmp_path))
    assert r.returncode == 3
    errors = r.stderr.strip().splitlines()
    assert len(errors) == 2 and any("empty" in e for e in errors) and any("binary.html" in e for e in errors)
    texts = [json.loads(line)["text"] for line in r.stdout.splitlines()]
    assert "4 to 6 weeks" in texts and "2 weeks" in texts


def test_audit_exit_codes_follow_fail_on(tmp_path):
    page = tmp_path / "p.txt"
    page.write_text("Recovery takes 4 to 6 weeks.\n")  # only an info finding (EVD005)
    assert run("audit", str(page), "--out", str(tmp_path / "a"), "--no-report").returncode == 0
    assert run("audit", str(page), "--out", str(tmp_path / "b"), "--no-report", "--fail-on", "info").returncode == 1
    for name in ("pages", "claims", "findings", "topics"):
        assert (tmp_path / "b" / f"{name}.jsonl").is_file() and (tmp_path / "b" / f"{name}.csv").is_file()


def test_unwritable_output_folder(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = run("audit", "corpus", "--out", str(blocker / "run"), "--no-report")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


def test_rules_and_explain():
    r = run("rules")
    assert r.returncode == 0 and "EVD001" in r.stdout and "CNF001" in r.stdout
    r = run("explain", "REG001")
    assert r.returncode == 0 and "510(k)" in r.stdout and "Flags:" in r.stdout


def test_model_that_is_not_installed():
    r = run("extract", "corpus", "--model", "en_core_web_sm_not_here")
    assert r.returncode == 2 and "not installed" in r.stderr and r.stderr.count("\n") == 1


def test_a_trained_pipeline_named_with_model_is_used(tmp_path):
    """A pipeline with trained components (here: a freshly initialised senter, saved to disk) loads by path."""
    import spacy
    nlp = spacy.blank("en")
    nlp.add_pipe("senter")
    nlp.initialize()
    nlp.to_disk(tmp_path / "pipeline")
    page = tmp_path / "p.txt"
    page.write_text("Recovery takes 4 to 6 weeks.\nOur therapy is painless.\n")
    r = run("extract", str(page), "--model", str(tmp_path / "pipeline"))
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [(x["text"], x["sentence"]) for x in rows] == [("4 to 6 weeks", "Recovery takes 4 to 6 weeks."),
                                                         ("painless", "Our therapy is painless.")]
