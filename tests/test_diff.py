"""Changes between two crawls: claims and findings added, removed and changed, per page and source."""
import csv
import io
import json
from pathlib import Path

import pytest

from auditor.cli import main
from auditor.diff import compare_claims, context_of, diff_runs

JUNE = {
    "knee.txt": ("https://kneeclinic.example/knee/", "Knee Clinic",
                 "Knee replacement\n\n84% of patients are pain free after one year. "
                 "Recovery takes 6 to 12 weeks for most patients. We are the best knee surgeons in Ohio.\n"),
    "hip.txt": ("https://hipcentre.example/hip/", "Hip Centre",
                "Hip replacement\n\nRecovery after hip replacement takes 3 months.\n"),
    "old.txt": ("https://hipcentre.example/old/", "Hip Centre", "Old page\n\nWe are world-class.\n"),
}
JULY = {
    # 84% -> over 90%; the recovery sentence is gone; a new promise; the same superlative
    "knee.txt": ("https://www.kneeclinic.example/knee", "Knee Clinic",
                 "Knee replacement\n\nOver 90% of patients are pain free after one year. "
                 "We are the best knee surgeons in Ohio. Patients get immediate relief.\n"),
    "hip.txt": JUNE["hip.txt"],
    "new.txt": ("https://hipcentre.example/new/", "Hip Centre", "New page\n\nOur results are unmatched.\n"),
}


def crawl(folder: Path, pages: dict) -> Path:
    folder.mkdir(parents=True)
    rows = ["page,url,source"]
    for name, (url, source, text) in pages.items():
        (folder / name).write_text(text, encoding="utf-8")
        rows.append(f"{Path(name).stem},{url},{source}")
    (folder / "manifest.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("diff")
    out = {}
    for name, pages in (("june", JUNE), ("july", JULY)):
        out[name] = root / f"run-{name}"
        main(["audit", str(crawl(root / name, pages)), "--out", str(out[name]), "--no-report", "--no-config",
              "--fail-on", "never"])
    return out


def test_claims_added_removed_and_changed(runs):
    d = diff_runs(runs["june"], runs["july"])
    changed = [(c["before"]["text"], c["after"]["text"], c["page_key"]) for c in d["claims"]["changed"]]
    assert ("84%", "Over 90%", "kneeclinic.example/knee") in changed
    added = {(c["page_key"], c["text"]) for c in d["claims"]["added"]}
    removed = {(c["page_key"], c["text"]) for c in d["claims"]["removed"]}
    assert ("kneeclinic.example/knee", "immediate relief") in added
    assert ("hipcentre.example/new", "unmatched") in added
    assert ("kneeclinic.example/knee", "6 to 12 weeks") in removed
    assert ("hipcentre.example/old", "world-class") in removed
    # what did not change is not listed
    everything = [c["text"] for c in d["claims"]["added"] + d["claims"]["removed"]]
    assert "best knee surgeons" not in everything and "3 months" not in everything
    pages = {p["key"]: p for p in d["pages"]}
    assert pages["hipcentre.example/new"]["status"] == "added"
    assert pages["hipcentre.example/old"]["status"] == "removed"
    assert pages["hipcentre.example/hip"]["status"] == "unchanged"
    knee = pages["kneeclinic.example/knee"]
    assert knee["status"] == "changed" and knee["source"] == "Knee Clinic"
    assert knee["claims"]["changed"] == 1 and knee["claims"]["unchanged"] >= 1
    assert d["summary"]["pages"] == {"added": 1, "removed": 1, "changed": 1, "unchanged": 1}


def test_findings_added_and_removed_by_fingerprint(runs):
    d = diff_runs(runs["june"], runs["july"])
    added = {(f["rule"], tuple(f["claims"])) for f in d["findings"]["added"]}
    removed = {(f["rule"], tuple(f["claims"])) for f in d["findings"]["removed"]}
    assert ("PRM001", ("immediate relief",)) in added
    assert ("PRM003", ("world-class",)) in removed
    assert any("Over 90%" in claims for _, claims in added) and any("84%" in claims for _, claims in removed)
    assert not any("best knee surgeons" in claims for _, claims in added | removed)  # same fingerprint
    assert d["summary"]["findings"]["changed"] == 0


def test_a_finding_with_a_new_level_is_changed(tmp_path, runs):
    again = tmp_path / "july-again"
    main(["audit", str(runs["july"].parent / "july"), "--out", str(again), "--no-report", "--no-config",
          "--fail-on", "never", "--level", "PRM003=error"])
    d = diff_runs(runs["july"], again)
    assert d["findings"]["changed"] and {c["after"]["rule"] for c in d["findings"]["changed"]} == {"PRM003"}
    assert all(c["before"]["level"] == "warning" and c["after"]["level"] == "error" for c in d["findings"]["changed"])
    assert not d["claims"]["changed"] and not d["claims"]["added"] and not d["claims"]["removed"]


def test_diff_command_formats_and_diff_json(runs, tmp_path, capsys):
    assert main(["diff", str(runs["june"]), str(runs["july"])]) == 0
    out, err = capsys.readouterr()
    assert "'84%' -> 'Over 90%'" in out and "changed claims:" in out and "added findings:" in out
    assert "Knee Clinic" in out and "kneeclinic.example/knee" in out
    saved = json.loads((runs["july"] / "diff.json").read_text())  # for the report
    assert saved["summary"]["claims"]["changed"] >= 1 and "wrote" in err
    assert main(["diff", str(runs["june"]), str(runs["july"]), "--format", "csv", "--out", str(tmp_path)]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {"change": "changed", "item": "claim", "before": "84%", "after": "Over 90%"}.items() <= \
        next(r for r in rows if r["before"] == "84%" and r["item"] == "claim").items()
    assert {r["change"] for r in rows} == {"added", "removed", "changed"}
    assert (tmp_path / "diff.json").is_file()
    assert main(["diff", str(runs["june"]), str(runs["july"]), "--format", "json", "--out",
                 str(tmp_path / "d.json")]) == 0
    assert json.loads(capsys.readouterr().out)["format"] == 1 and (tmp_path / "d.json").is_file()
    assert main(["diff", str(runs["june"]), str(tmp_path / "nothing")]) == 2
    assert "[E306]" in capsys.readouterr().err


def test_a_run_against_itself_has_no_changes(runs, tmp_path):
    d = diff_runs(runs["june"], runs["june"])
    assert d["summary"]["claims"] == {"added": 0, "removed": 0, "changed": 0}
    assert d["summary"]["findings"] == {"added": 0, "removed": 0, "changed": 0}


def claim(text, sentence, start, sentence_start=0, **kw):
    return {"kind": "numeric", "category": "rate", "text": text, "sentence": sentence, "start": start,
            "end": start + len(text), "sentence_start": sentence_start, **kw}


def test_claims_pair_by_sentence_context_then_topic():
    a = [claim("84%", "84% of patients improve.", 0), claim("5%", "Complications occur in 5% of cases.", 40,
                                                            sentence_start=17, topic="x.complication_rate")]
    b = [claim("over 90%", "Over 90% of patients improve.", 0),
         claim("2%", "Only 2% see complications.", 30, sentence_start=30, topic="x.complication_rate")]
    assert context_of(a[0]) == context_of(b[0]) == "§ of patients improve"
    result = compare_claims(a, b)
    assert [(x["text"], y["text"]) for x, y in result["changed"]] == [("84%", "over 90%"), ("5%", "2%")]
    assert result["added"] == result["removed"] == []
    # the same figure in another sentence (and no topic to tie them) is another claim
    result = compare_claims([claim("84%", "84% of patients improve.", 0)], [claim("84%", "84% felt worse.", 0)])
    assert len(result["removed"]) == len(result["added"]) == 1 and not result["unchanged"] and not result["changed"]
