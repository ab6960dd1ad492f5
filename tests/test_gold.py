"""Quality floors on the seed gold set, computed by the shared scorers (never typed in).

The gold claims describe the five sample pages that belong in corpus/. The floors may be raised,
never lowered silently: a regression below them fails CI.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("AUDITOR_SHARED", ROOT.parent / "shared"))
CORPUS = ROOT / "corpus"
FLOORS = {"precision": 0.95, "f1": 0.95, "value_accuracy": 0.95, "evidence_accuracy": 0.90}


def _seed_pages() -> set[str]:
    gold = SHARED / "gold" / "seeds.jsonl"
    if not gold.is_file():
        pytest.skip(f"no seed gold at {gold}")
    return {json.loads(line)["page"] for line in gold.read_text().splitlines() if line.strip()}


def _require_seed_pages():
    missing = sorted(p for p in _seed_pages() if not any(CORPUS.glob(f"{p}.*")))
    if missing:
        pytest.skip(f"the seed pages {', '.join(missing)} are not in corpus/; the seed score cannot be computed")


def _auditor(*args):
    return subprocess.run([sys.executable, "-m", "auditor", *args], capture_output=True, text=True, cwd=ROOT)


def test_seed_claim_scores_meet_the_floors(tmp_path):
    _require_seed_pages()
    pred, scores = tmp_path / "claims.jsonl", tmp_path / "scores.json"
    run = _auditor("extract", str(CORPUS), "--format", "jsonl", "-o", str(pred))
    assert run.returncode in (0, 3), run.stderr
    subprocess.run([sys.executable, str(SHARED / "eval" / "score_claims.py"), "--gold", str(SHARED / "gold" / "seeds.jsonl"),
                    "--pages", str(CORPUS), "--pred", str(pred), "--json", str(scores)], check=True, capture_output=True)
    summary = json.loads(scores.read_text())["all"]
    for metric, floor in FLOORS.items():
        assert summary[metric] is not None and summary[metric] >= floor, f"{metric} {summary[metric]} < {floor}: {summary}"


def test_seed_conflicts_found_and_agreeing_pairs_not_flagged(tmp_path):
    _require_seed_pages()
    out = tmp_path / "run"
    run = _auditor("audit", str(CORPUS), "--out", str(out), "--no-report", "--fail-on", "never")
    assert run.returncode in (0, 3), run.stderr
    scored = subprocess.run([sys.executable, str(SHARED / "eval" / "score_conflicts.py"), "--gold",
                             str(SHARED / "gold" / "seeds_conflicts.jsonl"), "--pages", str(CORPUS),
                             "--findings", str(out / "findings.jsonl")], check=True, capture_output=True, text=True)
    last = scored.stdout.strip().splitlines()[-1]
    required = sum(1 for line in (SHARED / "gold" / "seeds_conflicts.jsonl").read_text().splitlines()
                   if line.strip() and json.loads(line).get("required"))
    assert f"found {required}/{required} required" in last and " 0/" in last.split("required,")[1], last


def test_scorer_runs_on_the_corpus_we_ship(tmp_path):
    """The extractor's output has the fields the shared scorer reads, and it locates every claim."""
    scorer = SHARED / "eval" / "score_claims.py"
    if not scorer.is_file():
        pytest.skip(f"no scorer at {scorer}")
    pred = tmp_path / "claims.jsonl"
    assert _auditor("extract", str(CORPUS), "-o", str(pred)).returncode in (0, 3)
    rows = [json.loads(line) for line in pred.read_text().splitlines()]
    assert rows and all({"page", "kind", "text", "sentence", "start", "end", "low", "high", "unit"} <= set(r) for r in rows)
    texts = {}
    for r in rows:
        assert r["text"] in r["sentence"]
    # offsets index the page text as the auditor read it
    from auditor.ingest import iter_pages
    for page in iter_pages([CORPUS]):
        texts[page.id] = page.text
    for r in rows:
        assert texts[r["page"]][r["start"]:r["end"]] == r["text"]
