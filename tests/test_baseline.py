"""Reviewed findings: fingerprints that survive re-crawls, the baseline file, and audits that use it."""
import json
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from auditor.baseline import Baseline, apply, review
from auditor.cli import main
from auditor.errors import OptionsError

V1 = """<html><head><title>Knee replacement | Knee Clinic</title></head><body>
<h1>Knee replacement</h1>
<p>Our surgeons are the best knee surgeons in Ohio.</p>
<h2>Results</h2>
<p>84% of patients are pain-free after one year.</p>
<p>Recovery takes 6 to 12 weeks for most patients.</p>
<p>The implant lasts 20 years in 90% of patients.</p>
</body></html>
"""

# the same page re-crawled after a redesign: other markup and white space, paragraphs moved, URL spelled
# differently (www, no trailing slash)
V2 = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Knee replacement | Knee Clinic</title>
<link rel="stylesheet" href="/new.css"></head>
<body class="redesign"><nav><a href="/">Home</a></nav>
<main><article>
  <h1 class="title">Knee   replacement</h1>
  <div class="intro"><p>Our surgeons   are the
     best knee surgeons in Ohio.</p></div>
  <h2>Results</h2>
  <p class="lead">The implant lasts 20 years in 90% of patients.</p>
  <p>Recovery    takes 6 to 12 weeks
     for most patients.</p>
  <p>84% of patients are <em>pain-free</em> after one year.</p>
</article></main>
<footer>Knee Clinic</footer>
</body></html>
"""


def crawl(folder: Path, html: str, url: str = "https://kneeclinic.example/knee/") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "clinic.html").write_text(html, encoding="utf-8")
    (folder / "manifest.csv").write_text(f"page,url,source\nclinic,{url},Knee Clinic\n", encoding="utf-8")
    return folder


def audit(pages: Path, run: Path, *flags: str) -> int:
    return main(["audit", str(pages), "--out", str(run), "--no-report", "--no-config", *flags])


def findings(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "findings.jsonl").read_text().splitlines() if line.strip()]


def ids_by_claim(run: Path) -> dict[tuple, str]:
    return {(f["rule"], tuple(c["text"] for c in f["claims"])): f["finding_id"] for f in findings(run)}


@pytest.fixture(scope="module")
def crawls(tmp_path_factory):
    """Three crawls of one page (v1; v2 redesigned; v3 with 84% changed to over 90%) audited once each."""
    root = tmp_path_factory.mktemp("crawls")
    runs = {}
    for name, html, url in (("v1", V1, "https://kneeclinic.example/knee/"),
                            ("v2", V2, "https://www.kneeclinic.example/knee"),
                            ("v3", V2.replace("84%", "over 90%"), "https://www.kneeclinic.example/knee")):
        runs[name] = root / f"run-{name}"
        audit(crawl(root / name, html, url), runs[name], "--fail-on", "never")
    return runs


def test_fingerprints_survive_markup_whitespace_and_moved_paragraphs(crawls):
    v1, v2 = ids_by_claim(crawls["v1"]), ids_by_claim(crawls["v2"])
    assert len(v1) >= 5 and ("EVD001", ("84%",)) in v1
    assert v1 == v2
    # the texts really moved: the 84% claim sits elsewhere in the second crawl
    start = {run: next(c["start"] for f in findings(crawls[run]) for c in f["claims"] if c["text"] == "84%")
             for run in ("v1", "v2")}
    assert start["v1"] != start["v2"]


def test_a_changed_figure_gets_a_new_fingerprint(crawls):
    v1, v3 = ids_by_claim(crawls["v1"]), ids_by_claim(crawls["v3"])
    assert ("EVD001", ("84%",)) not in v3
    new = v3[("EVD001", ("over 90%",))]
    assert new not in v1.values()
    unchanged = {k: v for k, v in v1.items() if "84%" not in k[1]}
    assert unchanged and all(v3[k] == v for k, v in unchanged.items())


PAGE = "We are the best knee surgeons in Ohio. Our clinic is world-class. Patients get immediate relief.\n"


@pytest.fixture
def site(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pages").mkdir()
    (tmp_path / "pages" / "clinic.txt").write_text(PAGE, encoding="utf-8")
    audit(tmp_path / "pages", tmp_path / "run", "--fail-on", "never")
    return tmp_path


def by_text(run: Path) -> dict[str, dict]:
    return {f["claims"][0]["text"]: f for f in findings(run)}


def test_review_writes_a_sorted_stable_baseline(site, capsys):
    found = by_text(site / "run")
    best, world, guaranteed = (found[t]["finding_id"] for t in ("best knee surgeons", "world-class", "immediate relief"))
    assert main(["review", "run", world, "--decision", "dismissed", "--reviewer", "ana",
                 "--reason", "the  award\nis named", "--date", "2025-03-01"]) == 0
    assert main(["review", "run", best[:12], "--decision", "accepted", "--reviewer", "ben",
                 "--reason", "ranking cited", "--date", "2025-02-01"]) == 0
    assert "recorded " + best in capsys.readouterr().err
    file = site / "auditor-baseline.json"  # the default: in the current folder
    data = json.loads(file.read_text())
    assert data["format"] == 1
    assert [e["finding_id"] for e in data["findings"]] == sorted([best, world])
    entry = next(e for e in data["findings"] if e["finding_id"] == world)
    assert entry == {"finding_id": world, "rule": found["world-class"]["rule"], "page": "clinic", "url": "",
                     "claim": "world-class", "decision": "dismissed", "reviewer": "ana",
                     "reason": "the award is named", "date": "2025-03-01"}
    text = file.read_text()
    # the same decisions recorded in the other order give the same file, byte for byte
    other = site / "other.json"
    review(site / "run", [best], "accepted", "ben", "ranking cited", other, "2025-02-01")
    review(site / "run", [world], "dismissed", "ana", "the award is named", other, "2025-03-01")
    assert other.read_text() == text and text.endswith("}\n")
    # a second decision on the same finding replaces the first
    review(site / "run", [guaranteed], "fixed", "ana", "page updated", file)
    assert main(["review", "run", world, "--decision", "accepted", "--reviewer", "cy", "--reason", "ok"]) == 0
    assert "updated " + world in capsys.readouterr().err
    entries = {e["finding_id"]: e for e in json.loads(file.read_text())["findings"]}
    assert len(entries) == 3 and entries[world]["reviewer"] == "cy"
    assert entries[world]["date"] == datetime.now(timezone.utc).date().isoformat()


def test_review_errors(site, capsys):
    assert main(["review", "run", "PRM999-0000", "--decision", "accepted", "--reviewer", "a", "--reason", "b"]) == 2
    assert "[E328] no finding 'PRM999-0000'" in capsys.readouterr().err
    assert main(["review", "run", "PRM00", "--decision", "accepted", "--reviewer", "a", "--reason", "b"]) == 2
    assert "[E328] 'PRM00' matches" in capsys.readouterr().err  # ambiguous start of an id
    assert main(["review", "nowhere", "X", "--decision", "accepted", "--reviewer", "a", "--reason", "b"]) == 2
    assert "[E306]" in capsys.readouterr().err
    assert main(["review", "run", "X", "--decision", "maybe", "--reviewer", "a", "--reason", "b"]) == 2
    assert not (site / "auditor-baseline.json").exists()
    (site / "broken.json").write_text('{"format": 1, "findings": [\n{"finding_id": "x",}]}')
    with pytest.raises(OptionsError) as e:
        Baseline.load(site / "broken.json")
    assert e.value.code == "E326" and "broken.json:2" in str(e.value)
    (site / "odd.json").write_text('{"format": 1, "findings": [{"finding_id": "x", "decision": "maybe", "date": "2025-01-01"}]}')
    with pytest.raises(OptionsError, match="decision must be one of"):
        Baseline.load(site / "odd.json")


def test_audit_with_baseline_hides_reviewed_findings(site, capsys):
    found = by_text(site / "run")
    levels = {t: f["level"] for t, f in found.items()}
    assert levels == {"best knee surgeons": "warning", "world-class": "warning", "immediate relief": "error"}
    assert audit(site / "pages", site / "run", "--fail-on", "warning") == 1
    review(site / "run", [found["best knee surgeons"]["finding_id"]], "accepted", "ana", "ranking named",
           "auditor-baseline.json", "2025-01-10")
    review(site / "run", [found["world-class"]["finding_id"]], "dismissed", "ana", "not a claim",
           "auditor-baseline.json", "2025-06-01")
    review(site / "run", [found["immediate relief"]["finding_id"]], "fixed", "ben", "removed from the page",
           "auditor-baseline.json", "2025-07-01")
    capsys.readouterr()
    # the guarantee was marked fixed but is still on the page: it counts again, so the run still fails
    assert audit(site / "pages", site / "run", "--fail-on", "warning", "--baseline", "auditor-baseline.json") == 1
    err = capsys.readouterr().err
    age = (datetime.now(timezone.utc).date() - date(2025, 1, 10)).days
    assert f"2 reviewed findings hidden, oldest review 2025-01-10 ({age} days ago)" in err
    assert "1 marked fixed still found" in err
    assert "findings: 1 error, 0 warning, 0 info" in err  # the summary counts what is left
    rows = by_text(site / "run")
    assert len(rows) == 3  # all kept, with their review
    assert rows["best knee surgeons"]["review"] == {"decision": "accepted", "reviewer": "ana",
                                                   "reason": "ranking named", "date": "2025-01-10"}
    assert rows["world-class"]["review"]["decision"] == "dismissed"
    assert rows["immediate relief"]["review"]["still_found"] is True
    csv_text = (site / "run" / "findings.csv").read_text()
    assert "ranking named" in csv_text  # the CSV twin is rewritten too
    meta = json.loads((site / "run" / "run.json").read_text())
    assert meta["baseline"]["hidden"] == 2
    # the page is fixed for real: now the run is clean (the two reviewed warnings no longer count)
    (site / "pages" / "clinic.txt").write_text(PAGE.replace(" Patients get immediate relief.", ""), encoding="utf-8")
    assert audit(site / "pages", site / "run", "--fail-on", "warning", "--baseline", "auditor-baseline.json") == 0
    assert "1 review match no finding in this run" in capsys.readouterr().err
    # --new-only: the reviewed findings are left out of the run folder; a new claim is kept
    (site / "pages" / "clinic.txt").write_text(PAGE + "Our results are unmatched.\n", encoding="utf-8")
    assert audit(site / "pages", site / "run", "--baseline", "auditor-baseline.json", "--new-only",
                 "--fail-on", "warning") == 1
    assert "left out (--new-only)" in capsys.readouterr().err
    rows = by_text(site / "run")
    assert set(rows) == {"immediate relief", "unmatched"}
    parquet = site / "run" / "findings.parquet"
    if parquet.exists():  # the twins follow findings.jsonl
        import pyarrow.parquet as pq
        assert pq.read_table(parquet).num_rows == 2
    assert len((site / "run" / "findings.csv").read_text().strip().splitlines()) == 3
    assert rows["unmatched"]["review"] is None


def test_apply_returns_counts_and_missing_baseline_hides_nothing(site):
    summary = apply(site / "run", site / "none.json")
    assert not summary.exists and summary.hidden == 0 and sum(summary.by_level.values()) == 3
    assert "no such file yet" in summary.line()
    found = by_text(site / "run")
    review(site / "run", [found["world-class"]["finding_id"]], "accepted", "a", "b", site / "b.json", "2025-01-01")
    summary = apply(site / "run", site / "b.json", new_only=True)
    assert (summary.hidden, summary.dropped, summary.by_level) == (1, 1, {"warning": 1, "error": 1})
    assert summary.oldest_age_days(date(2025, 1, 31)) == 30
    assert len(findings(site / "run")) == 2


def test_report_shows_the_review(site, capsys):
    found = by_text(site / "run")
    review(site / "run", [found["world-class"]["finding_id"]], "dismissed", "ana", "decorative wording",
           "auditor-baseline.json", "2025-01-01")
    main(["audit", "pages", "--out", "run", "--no-config", "--baseline", "auditor-baseline.json"])
    html = "".join(p.read_text(encoding="utf-8") for p in (site / "run").rglob("*.html"))
    assert "decorative wording" in html
