"""Configuration: auditor.toml / [tool.auditor], layered under the command line, with the user's own data."""
import json
import textwrap
from argparse import Namespace
from pathlib import Path

import pytest

from auditor import reference
from auditor.cli import main
from auditor.config import describe, effective, find_config, load_config, options_from, resolve_options
from auditor.errors import OptionsError, RuleError

HOUSE = Path(__file__).parent / "data" / "house"  # a valid rule file and values file


@pytest.fixture(autouse=True)
def no_overlays():
    """Lexicon overlays are process-wide: leave none behind for the other tests."""
    yield
    reference.set_overlays({})


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def findings(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "findings.jsonl").read_text().splitlines() if line.strip()]


PAGE = "Our team are spine wizards. We are the best spine surgeons in Ohio, guaranteed results for everyone.\n"


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A folder with pages/ and an auditor.toml; the current directory is a subfolder of it."""
    write(tmp_path / "pages" / "a.txt", PAGE)
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    return tmp_path


def test_found_by_walking_up_and_paths_relative_to_the_file(project):
    write(project / "auditor.toml", """
        select = ["PRM"]
        fail_on = "warning"
        values = ["house/values.yaml"]
    """)
    write(project / "house" / "values.yaml", "values: []\n")
    assert find_config() == project / "auditor.toml"
    config, sources = load_config()
    assert config["select"] == ["PRM"] and config["fail_on"] == "warning"
    assert config["values"] == [project / "house" / "values.yaml"]
    assert sources["select"] == str(project / "auditor.toml") and sources["ignore"] == "default"


def test_pyproject_tool_table_and_pyproject_without_one_is_skipped(tmp_path, monkeypatch):
    write(tmp_path / "pyproject.toml", """
        [tool.ruff]
        select = ["E"]
        [tool.auditor]
        ignore = ["REG"]
        [tool.auditor.levels]
        PRM003 = "info"
    """)
    write(tmp_path / "inner" / "pyproject.toml", "[project]\nname = 'x'\n")  # no [tool.auditor]: keep walking
    monkeypatch.chdir(tmp_path / "inner")
    config, sources = load_config()
    assert sources["file"] == str(tmp_path / "pyproject.toml")
    assert config["ignore"] == ["REG"] and config["levels"] == {"PRM003": "info"} and config["select"] == []


def test_command_line_beats_file_beats_default(project):
    write(project / "auditor.toml", """
        select = ["PRM"]
        fail_on = "warning"
        [levels]
        PRM = "info"
    """)
    args = Namespace(select=[], ignore=[], fail_on="error", model=None, include_comments=False,
                     level=["PRM003=error"], baseline=None, config=None, no_config=False)
    options = resolve_options(args)
    assert options.fail_on == "error"  # command line
    assert options.select == ["PRM"]  # file
    assert options.ignore == [] and options.model is None  # defaults
    assert options.levels == {"PRM": "info", "PRM003": "error"}  # prefix first, the rule's own level last
    values, sources = effective(*load_config(), args)
    assert sources["fail_on"] == "command line"
    assert sources["select"] == str(project / "auditor.toml")
    assert sources["levels.PRM"] == str(project / "auditor.toml") and sources["levels.PRM003"] == "command line"
    assert sources["ignore"] == "default"
    # a dict works as well as a Namespace, and no configuration gives the defaults
    assert options_from(load_config(discover=False)[0], {"fail_on": "info"}).fail_on == "info"
    assert options_from(load_config(discover=False)[0]).fail_on == "error"


def test_per_rule_level_select_and_ignore_change_the_findings(project, capsys):
    write(project / "auditor.toml", """
        select = ["PRM"]
        ignore = ["PRM001"]
        fail_on = "never"
        [levels]
        PRM = "info"
        PRM003 = "error"
    """)
    run = project / "run"
    assert main(["audit", str(project / "pages"), "--out", str(run), "--no-report"]) == 0  # fail_on never
    got = {(f["rule"], f["level"]) for f in findings(run)}
    assert ("PRM003", "error") in got
    assert all(rule.startswith("PRM") and rule != "PRM001" for rule, _ in got)
    assert all(level == "info" for rule, level in got if rule != "PRM003")
    # the command line wins: --fail-on error makes the PRM003 errors fail the run
    assert main(["audit", str(project / "pages"), "--out", str(run), "--no-report", "--fail-on", "error"]) == 1
    # --level on the command line overrides the file for that rule only
    assert main(["audit", str(project / "pages"), "--out", str(run), "--no-report", "--level", "PRM003=warning"]) == 0
    assert {f["level"] for f in findings(run) if f["rule"] == "PRM003"} == {"warning"}
    # --no-config: back to the shipped levels and every rule
    main(["audit", str(project / "pages"), "--out", str(run), "--no-report", "--no-config", "--fail-on", "never"])
    assert "PRM001" in {f["rule"] for f in findings(run)}


def test_user_lexicon_terms_are_added_to_the_shipped_ones(project, capsys):
    write(project / "house" / "promotional.yaml", """
        superlative:
          - spine wizards
        house_boast:
          - finest in the state
    """)
    write(project / "auditor.toml", 'lexicons = {promotional = "house/promotional.yaml"}\n')
    assert main(["extract", str(project / "pages"), "--format", "jsonl"]) == 0
    claims = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    texts = {c["text"]: c["category"] for c in claims}
    assert texts["spine wizards"] == "superlative"  # the user's term
    assert texts["best spine surgeons"] == "superlative"  # the shipped ones are still there
    # layered, not copied: the shipped file is unchanged, and without the overlay the term is not found
    assert "spine wizards" not in reference.path("lexicons", "promotional.yaml").read_text()
    assert main(["extract", str(project / "pages"), "--no-config"]) == 0
    assert "spine wizards" not in {json.loads(line)["text"] for line in capsys.readouterr().out.splitlines()}


def test_lexicon_overlays_merge_and_check_shapes(tmp_path):
    extra = write(tmp_path / "evidence.yaml", "{}\n")
    reference.set_overlays({"evidence": [extra]})
    assert reference.lexicon("evidence") == reference.load_yaml(reference.path("lexicons", "evidence.yaml"))
    assert reference.merge_overlay({"a": [1, 2], "b": {"c": 1}}, {"a": [2, 3], "b": {"d": 2}, "e": 5}, "f") == \
        {"a": [1, 2, 3], "b": {"c": 1, "d": 2}, "e": 5}
    bad = write(tmp_path / "promotional.yaml", "superlative: spine wizards\n")  # a string, not a list
    with pytest.raises(RuleError) as e:
        reference.set_overlays([bad])  # a bare file overlays the lexicon named by its stem
    assert e.value.code == "E213" and "superlative" in str(e.value) and str(bad) in str(e.value)
    assert reference.overlays() == {}  # a failed overlay leaves none behind
    with pytest.raises(RuleError) as e:
        reference.set_overlays({"nosuch": [extra]})
    assert e.value.code == "E212"


def test_user_reference_values_are_loaded(project, capsys):
    write(project / "house" / "values.yaml", (HOUSE / "values.yaml").read_text())
    write(project / "pages" / "a.txt", "After knee replacement, recovery takes 1 to 2 weeks for most patients.\n")
    write(project / "auditor.toml", 'values = ["house/values.yaml"]\nselect = ["REF"]\nfail_on = "never"\n')
    run = project / "run"
    main(["audit", str(project / "pages"), "--out", str(run), "--no-report"])
    refs = [f for f in findings(run) if f["rule"] == "REF001"]
    assert len(refs) == 1 and refs[0]["reference"]["id"] == "house.knee_replacement.recovery_time"
    main(["audit", str(project / "pages"), "--out", str(run), "--no-report", "--no-config", "--select", "REF"])
    assert findings(run) == []


def test_user_rule_folder(project):
    write(project / "house" / "rules" / "HSE.yaml", (HOUSE / "rules" / "HSE.yaml").read_text())
    write(project / "auditor.toml", 'rule_folders = ["house/rules"]\nselect = ["HSE"]\n')
    run = project / "run"
    assert main(["audit", str(project / "pages"), "--out", str(run), "--no-report"]) == 1
    assert {f["rule"] for f in findings(run)} == {"HSE001"}


@pytest.mark.parametrize("text, code, needle", [
    ('select = ["PRM"]\nfail_onn = "info"\n', "E321", ":2: unknown key 'fail_onn'"),
    ('[levels]\nPRM003 = "loud"\n', "E322", ":2: levels.PRM003: must be one of info, warning, error"),
    ('select = "PRM001x"\n', "E322", "select: 'PRM001x' is not a rule id"),
    ('values = ["missing.yaml"]\n', "E322", "values: no such file: missing.yaml"),
    ('lexicons = {adjectives = "x.yaml"}\n', "E322", "no shipped lexicon 'adjectives'"),
    ('select = ["PMR"]\n', "E325", ":1: select: no rule id starts with 'PMR'"),
    ('select = [\n', "E320", "not valid TOML"),
])
def test_config_errors_are_one_line_with_file_and_key(project, capsys, text, code, needle):
    write(project / "auditor.toml", text)
    assert main(["audit", str(project / "pages"), "--out", str(project / "run"), "--no-report"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert f"[{code}]" in err and str(project / "auditor.toml") in err and needle in err, err


def test_explicit_config_file_and_bad_flags(project, capsys):
    other = write(project / "elsewhere.toml", 'fail_on = "info"\n')
    config, sources = load_config(explicit_path=other)
    assert config["fail_on"] == "info" and sources["file"] == str(other)
    with pytest.raises(OptionsError) as e:
        load_config(explicit_path=project / "nope.toml")
    assert e.value.code == "E323"
    assert main(["config", "--level", "PRM003"]) == 2
    assert "[E322] --level PRM003: expected RULE=LEVEL" in capsys.readouterr().err
    assert main(["audit", str(project / "pages"), "--out", str(project / "run"), "--new-only"]) == 2
    assert "[E324]" in capsys.readouterr().err


def test_config_command_names_each_source(project, capsys):
    write(project / "auditor.toml", """
        select = ["PRM"]
        baseline = "reviews.json"
        [levels]
        PRM003 = "info"
    """)
    assert main(["config", "--fail-on", "warning"]) == 0
    out = capsys.readouterr().out
    file = str(project / "auditor.toml")
    assert f"# configuration file: {file}" in out
    lines = {line.split(" = ")[0].lstrip("# "): line for line in out.splitlines() if " = " in line}
    assert lines["fail_on"].endswith("# command line") and '"warning"' in lines["fail_on"]
    assert lines["select"].endswith(f"# {file}") and '["PRM"]' in lines["select"]
    assert lines["levels.PRM003"].endswith(f"# {file}")
    assert lines["baseline"].endswith(f"# {file}") and str(project / "reviews.json") in lines["baseline"]
    assert lines["ignore"].endswith("# default")
    assert main(["config", "--format", "json", "--no-config"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["file"] is None and {s["source"] for s in data["settings"]} == {"default"}


def test_describe_is_valid_toml():
    import tomllib
    values, sources = load_config(discover=False)
    values["levels"] = {"PRM003": "info"}
    text = describe(values, sources)
    assert tomllib.loads(text)["levels"] == {"PRM003": "info"}
