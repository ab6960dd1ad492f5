"""Batch runs: parallel = sequential, resume after a kill, duplicates, failures, time budget, tables."""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from auditor import batch, engines, ingest
from auditor.audit import load_rules
from auditor.batch import DUPLICATE_INDEX, RunWriter, iter_jsonl, run_audit
from auditor.compare import compare_sources, intervention_of
from auditor.engines import Encoded, LocalPool, Task
from auditor.errors import AuditorError, OptionsError
from auditor.ingest import DuplicateIndex, find_duplicates, read_text
from auditor.options import AuditOptions
from auditor.page import Page

ROOT = Path(__file__).resolve().parents[1]
AUDITOR = Path(sys.executable).parent / "auditor"
JSONL = ("pages", "claims", "findings", "topics")


def make_corpus():
    spec = importlib.util.spec_from_file_location("make_corpus", ROOT / "benchmarks" / "make_corpus.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """30 generated pages, an exact and a near copy of two of them, and three pages that cannot be audited."""
    folder = tmp_path_factory.mktemp("corpus")
    make_corpus().generate(folder, 30, seed=3)
    original = next(folder.glob("page-000004.*"))
    shutil.copy(original, folder / f"zz-exact-copy{original.suffix}")
    text_page = sorted(folder.glob("page-*.txt"))[1]
    (folder / "zz-near-copy.txt").write_text(text_page.read_text().replace(" the ", " a ", 2))
    (folder / "zz-empty.txt").write_text("")
    (folder / "zz-binary.txt").write_bytes(b"\x00\x01\x02PDF\x00" * 20)
    (folder / "zz-notes.xyz").write_text("not a page")
    return folder


def options(**kw) -> AuditOptions:
    return AuditOptions(report=False, progress=False, **kw)


def tables(run: Path) -> dict[str, list[dict]]:
    return {name: list(iter_jsonl(run / f"{name}.jsonl")) for name in JSONL}


def contents(run: Path) -> dict[str, bytes]:
    return {name: (run / f"{name}.jsonl").read_bytes() for name in JSONL}


@pytest.fixture(scope="module")
def sequential(corpus, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sequential")
    summary = run_audit([corpus], out, options(workers=1))
    assert summary.engine == "in-process"
    return out


# -- parallel = sequential ----------------------------------------------------------------------

def test_parallel_run_equals_sequential_run(corpus, sequential, tmp_path):
    summary = run_audit([corpus], tmp_path, options(workers=2))
    assert summary.engine == "local pool of 2"
    assert contents(tmp_path) == contents(sequential)  # same rows, same (input) order
    texts = sorted(p.name for p in (tmp_path / "texts").iterdir())
    assert texts == sorted(p.name for p in (sequential / "texts").iterdir())


def test_a_recycled_pipeline_gives_the_same_run(corpus, sequential, tmp_path, monkeypatch):
    """The Auditor is rebuilt every RECYCLE_PAGES pages (bounded memory): the results do not change."""
    from auditor import audit
    built = []

    class Counted(audit.Auditor):
        def __init__(self, *a, **kw):
            built.append(1)
            super().__init__(*a, **kw)

    monkeypatch.setattr(audit, "Auditor", Counted)
    monkeypatch.setattr(engines, "RECYCLE_PAGES", 4)
    engines._AUDITORS.clear()
    run_audit([corpus], tmp_path, options(workers=1))
    engines._AUDITORS.clear()
    assert contents(tmp_path) == contents(sequential)
    assert len(built) >= 7  # 31 pages audited, 4 per Auditor


def test_every_input_page_is_in_pages_jsonl(corpus, sequential):
    rows = {r["page"]: r for r in iter_jsonl(sequential / "pages.jsonl")}
    inputs = [p for p in corpus.iterdir() if p.name != "manifest.csv"]
    assert len(rows) == len(inputs) == 35
    assert rows["zz-empty"]["status"] == "failed" and rows["zz-empty"]["error_code"] == "E101"
    assert rows["zz-binary"]["status"] == "failed"
    assert rows["zz-notes"]["status"] == "skipped" and rows["zz-notes"]["error_code"] == "E108"
    assert rows["zz-exact-copy"]["status"] == "duplicate" and rows["zz-exact-copy"]["duplicate_of"] == "page-000004"
    run = json.loads((sequential / "run.json").read_text())
    assert run["state"] == "complete" and run["pages"] == 35


def test_duplicates_are_reported_and_audited_once(corpus, sequential):
    pages = list(iter_jsonl(sequential / "pages.jsonl"))
    duplicates = {r["page"]: r["duplicate_of"] for r in pages if r["status"] == "duplicate"}
    assert {"zz-exact-copy", "zz-near-copy"} <= set(duplicates)
    claim_pages = {c["page"] for c in iter_jsonl(sequential / "claims.jsonl")}
    finding_pages = {f["page"] for f in iter_jsonl(sequential / "findings.jsonl")}
    for page, original in duplicates.items():
        assert page not in claim_pages and page not in finding_pages
        assert original in claim_pages
        assert not (sequential / "texts" / f"{page}.json").exists()
    summary_line = [r["status"] for r in pages]
    assert summary_line.count("audited") == len(pages) - len(duplicates) - 3


def test_pages_are_parsed_in_the_workers_not_the_main_process(corpus, sequential, tmp_path, monkeypatch):
    main, parsed_here = os.getpid(), []
    real = ingest.RawPage.parse

    def parse(self):
        if os.getpid() == main:
            parsed_here.append(self.id)
        return real(self)

    monkeypatch.setattr(ingest.RawPage, "parse", parse)
    run_audit([corpus], tmp_path, options(workers=2))
    assert parsed_here == []
    assert contents(tmp_path) == contents(sequential)  # duplicates found from the workers' fingerprints


def test_duplicate_index_agrees_with_find_duplicates(corpus):
    from auditor.ingest import iter_pages
    pages = [p for p in iter_pages([corpus]) if isinstance(p, Page)]
    near = Page(id="near", text=pages[0].text.replace(".", ";", 3))
    short = Page(id="short", text="Two words")
    pages += [near, short, Page(id="short-again", text="Two  words")]
    index = DuplicateIndex()
    incremental = {p.id: d for p in pages if (d := index.check(p))}
    assert incremental == find_duplicates(pages)
    assert incremental["near"] == pages[0].id and incremental["short-again"] == "short"


def test_run_folder_tables(sequential):
    assert not (sequential / DUPLICATE_INDEX).exists()  # the scratch duplicate index goes when the run ends
    for name in JSONL:
        rows = list(iter_jsonl(sequential / f"{name}.jsonl"))
        parquet = pd.read_parquet(sequential / f"{name}.parquet")
        csv = pd.read_csv(sequential / f"{name}.csv")
        assert len(parquet) == len(csv) == len(rows)
        if rows:
            assert list(parquet.columns)[:3] == list(rows[0])[:3]
    findings = pd.read_parquet(sequential / "findings.parquet")
    cross = [f for f in iter_jsonl(sequential / "findings.jsonl") if f["rule"].startswith("CNF")]
    assert cross and json.loads(findings[findings.rule.str.startswith("CNF")].claims.iloc[0])[0]["claim_id"]
    assert not list(sequential.glob(".*.tmp"))
    from auditor.files import file_mode
    for name in ("run.json", "findings.jsonl", "topics.jsonl", "claims.csv", "pages.parquet"):
        assert (sequential / name).stat().st_mode & 0o777 == file_mode(), f"{name}: the usual mode, not private"


def test_comparison_on_claims_with_a_topic_is_the_same(sequential):
    """RunWriter.claims_for_comparison leaves out claims without a topic and keeps only COMPARED_FIELDS:
    compare_sources must not need the rest."""
    claims = list(iter_jsonl(sequential / "claims.jsonl"))
    assert any(not c.get("topic") for c in claims)
    o = options()
    registry = load_rules(o)
    (compact,) = list(batch.RunWriter(sequential).claims_for_comparison())
    assert len(compact) == sum(1 for c in claims if c.get("topic"))
    assert compare_sources(claims, registry, o) == compare_sources(compact, registry, o)


def test_comparison_in_parts_is_the_same_as_in_one(sequential, monkeypatch):
    """A large run is compared one part (a few interventions) at a time: the same findings and topics."""
    o = options()
    registry = load_rules(o)
    (whole,) = list(batch.RunWriter(sequential).claims_for_comparison())
    monkeypatch.setattr(batch, "COMPARE_PART_BYTES", 2000)
    parts = list(batch.RunWriter(sequential).claims_for_comparison())
    assert len(parts) > 3 and sum(len(p) for p in parts) == len(whole)
    assert all(len({intervention_of(c) for c in p}) < len({intervention_of(c) for c in whole}) for p in parts)
    assert not (sequential / ".compare").exists()

    def key(finding):
        return finding["finding_id"]
    one_findings, one_topics = compare_sources(whole, registry, o)
    in_parts = [compare_sources(p, registry, o) for p in parts]
    assert sorted(f for fs, _ in in_parts for f in map(key, fs)) == sorted(map(key, one_findings))
    assert sorted((t["topic"] for _, ts in in_parts for t in ts)) == sorted(t["topic"] for t in one_topics)


# -- continuing an interrupted run --------------------------------------------------------------

def _interrupt(full: Path, out: Path, pages_done: int, partial_page: bool = True, torn: bool = True) -> None:
    """Make out look like a run of the same inputs killed after pages_done pages."""
    shutil.copytree(full, out)
    rows = tables(full)
    done = rows["pages"][:pages_done]
    ids = {r["page"] for r in done}
    nxt = rows["pages"][pages_done]["page"]
    keep = ids | ({nxt} if partial_page else set())  # the next page got its claims and findings, not its row
    meta = json.loads((full / "run.json").read_text())
    own = {"claims": rows["claims"], "findings": rows["findings"][:meta["page_findings"]]}  # not cross-source
    for name in ("claims", "findings"):
        (out / f"{name}.jsonl").write_text("".join(engines.dumps(r) + "\n" for r in own[name] if r["page"] in keep))
    with open(out / "claims.jsonl", "a") as f:
        f.write('{"claim_id": "torn')  # a torn last line
    text = "".join(engines.dumps(r) + "\n" for r in done) + ('{"page": "tor' if torn else "")
    (out / "pages.jsonl").write_text(text)
    for name in ("topics",):
        (out / f"{name}.jsonl").unlink()
    meta["state"] = "running"
    for key in ("page_findings", "finished", "pages", "claims"):
        meta.pop(key, None)
    (out / "run.json").write_text(json.dumps(meta))


def test_continuing_repairs_partial_rows_and_gives_the_same_run(corpus, sequential, tmp_path):
    out = tmp_path / "run"
    _interrupt(sequential, out, pages_done=7)
    summary = run_audit([corpus], out, options(workers=1))
    assert summary.resumed == 7
    assert contents(out) == contents(sequential)


def test_continuing_a_run_killed_while_finishing(corpus, sequential, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(sequential, out)
    meta = json.loads((out / "run.json").read_text())
    meta["state"] = "finishing"  # findings.jsonl already holds the cross-source findings
    (out / "run.json").write_text(json.dumps(meta))
    summary = run_audit([corpus], out, options(workers=1))
    assert summary.resumed == 35 and summary.audited + summary.duplicates + summary.failed + summary.skipped == 35
    assert contents(out) == contents(sequential)


def test_continuing_with_other_settings_is_refused(corpus, sequential, tmp_path):
    out = tmp_path / "run"
    _interrupt(sequential, out, pages_done=5)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    with pytest.raises(OptionsError) as e:
        run_audit([corpus], out, options(workers=1, select=["PRM"]))
    assert e.value.code == "E307" and "rule selection" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(OptionsError, match="E307.*inputs"):
        run_audit([corpus / "page-000001.txt"], out, options(workers=1))
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before


def test_a_finished_run_is_started_over(corpus, sequential, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(sequential, out)
    one = tmp_path / "one"
    one.mkdir()
    shutil.copy(corpus / "zz-empty.txt", one / "single.txt")
    summary = run_audit([one], out, options(workers=1))
    assert summary.pages == 1 and summary.resumed == 0
    assert [r["page"] for r in iter_jsonl(out / "pages.jsonl")] == ["single"]
    assert not list((out / "texts").iterdir()) and not (out / "topics.csv").read_text().strip()


KILL_ENV = dict(os.environ, PYTHONHASHSEED="0")  # compare_sources' output may depend on set order


def _processes_writing_to(out: Path, within: float) -> list[int]:
    """Processes whose command line names the run folder, once none is left or ``within`` seconds have passed
    (Linux /proc; elsewhere none are seen)."""
    deadline = time.monotonic() + within
    while True:
        found = []
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                if str(out).encode() in cmdline.read_bytes():
                    found.append(int(cmdline.parent.name))
            except OSError:
                pass  # the process ended while we looked
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def audit_command(pages: Path, out: Path, workers: int) -> list[str]:
    return [str(AUDITOR), "audit", str(pages), "--out", str(out), "--no-report", "--no-progress", "--no-config",
            "--workers", str(workers)]


@pytest.fixture(scope="module")
def kill_corpus(tmp_path_factory) -> tuple[Path, Path]:
    """44 pages, and the run folder of an uninterrupted `auditor audit` of them."""
    pages = tmp_path_factory.mktemp("kill") / "pages"
    make_corpus().generate(pages, 44, seed=5)
    full = pages.parent / "full"
    subprocess.run(audit_command(pages, full, 1), env=KILL_ENV, capture_output=True, check=False)
    return pages, full


@pytest.mark.parametrize("workers", [1, 2])
def test_resume_after_the_process_is_killed(kill_corpus, tmp_path, workers):
    """`auditor audit` killed (SIGKILL) half-way, then run again: the same run as an uninterrupted one."""
    pages, full = kill_corpus
    out = tmp_path / "killed"
    proc = subprocess.Popen(audit_command(pages, out, workers), env=KILL_ENV, stderr=subprocess.DEVNULL)
    rows_at_kill = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if (out / "pages.jsonl").exists():
            rows_at_kill = (out / "pages.jsonl").read_bytes().count(b"\n")
            if rows_at_kill >= 6:
                break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 6 <= rows_at_kill < 44, "the run was not caught half-way"
    assert _processes_writing_to(out, within=10) == [], "workers outlived the killed run"
    assert json.loads((out / "run.json").read_text())["state"] == "running"
    assert (out / DUPLICATE_INDEX).exists()  # the killed run's scratch index stays in its own folder
    again = subprocess.run(audit_command(pages, out, workers), env=KILL_ENV, capture_output=True, text=True)
    assert again.returncode in (0, 1), again.stderr
    assert "continued the unfinished run" in again.stderr
    assert contents(out) == contents(full)
    pages_rows = [r["page"] for r in iter_jsonl(out / "pages.jsonl")]
    assert len(pages_rows) == len(set(pages_rows)) == 44
    assert not (out / DUPLICATE_INDEX).exists()


# -- time budget and worker failures ------------------------------------------------------------

@pytest.mark.parametrize("workers", [1, 2])
def test_time_budget_fails_the_page_and_the_run_goes_on(corpus, tmp_path, workers):
    summary = run_audit([corpus], tmp_path, options(workers=workers, time_budget=0.0005))
    rows = list(iter_jsonl(tmp_path / "pages.jsonl"))
    assert len(rows) == 35
    unreadable = {"zz-empty": "E101", "zz-binary": "E103"}
    auditable = [r for r in rows if r["page"] not in unreadable and r["page"] != "zz-notes"]
    assert len(auditable) == 32
    assert all(r["status"] == "failed" and r["error_code"] == "E410"
               and r["error"] == "time budget of 0.0005 s exceeded" for r in auditable)
    # The budget covers reading too: on a busy machine it may run out before an unreadable page's own error.
    assert all(r["status"] == "failed" and r["error_code"] in (unreadable[r["page"]], "E410")
               for r in rows if r["page"] in unreadable)
    assert (summary.failed, summary.skipped, summary.audited) == (34, 1, 0)


@pytest.mark.parametrize("workers", [1, 2])
def test_parsing_a_page_is_under_the_time_budget(tmp_path, monkeypatch, workers):
    pages = tmp_path / "pages"
    pages.mkdir()
    for n in range(4):
        (pages / f"p{n}.txt").write_text(f"Recovery takes {n + 2} weeks for most patients after cervical fusion.")
    (pages / "p2.txt").write_text("HANG while this page is read.")
    real = ingest.read_text

    def read_text_slowly(text, *args, **kw):
        if text.startswith("HANG"):
            time.sleep(30)
        return real(text, *args, **kw)

    monkeypatch.setattr(ingest, "read_text", read_text_slowly)  # forked workers inherit it
    started = time.monotonic()
    run_audit([pages], tmp_path / "run", options(workers=workers, time_budget=0.5))
    assert time.monotonic() - started < 25
    rows = {r["page"]: r for r in iter_jsonl(tmp_path / "run" / "pages.jsonl")}
    assert rows["p2"]["status"] == "failed" and rows["p2"]["error_code"] == "E410"
    assert [rows[f"p{n}"]["status"] for n in (0, 1, 3)] == ["audited"] * 3


def _misbehaving_worker(conn, options):
    """A pool worker whose page "STUCK" hangs where no signal reaches it and whose page "CRASH" kills it."""
    import signal as _signal
    import time as _time
    from auditor import engines as _engines

    _signal.pthread_sigmask(_signal.SIG_BLOCK, {_signal.SIGALRM})
    real = _engines.audit_one

    def audit_one(auditor, page, seq, budget, audit=True):
        if page.text.startswith("STUCK"):
            _time.sleep(120)
        if page.text.startswith("CRASH"):
            os._exit(7)
        return real(auditor, page, seq, budget, audit)

    _engines.audit_one = audit_one
    _engines._worker_main(conn, options)


def test_pool_kills_a_stuck_worker_and_replaces_a_dead_one(monkeypatch):
    monkeypatch.setattr(engines, "HARD_GRACE", 0.5)
    pages = [read_text(f"Recovery takes {n} weeks for most patients after cervical fusion.", id=f"p{n}")
             for n in range(8)]
    pages[2] = read_text("STUCK here. Recovery takes 3 weeks.", id="stuck")
    pages[5] = read_text("CRASH now. Recovery takes 5 weeks.", id="crash")
    pool = LocalPool(options(time_budget=1.0), 2)
    pool.target = _misbehaving_worker
    started = time.monotonic()
    with pool:
        results = {r.seq: r for r in pool.run((Task(i, p) for i, p in enumerate(pages)), lambda: True)}
    assert time.monotonic() - started < 60
    assert sorted(results) == list(range(8))
    assert results[2].page["error_code"] == "E410" and results[2].page["status"] == "failed"
    assert results[5].page["error_code"] == "E411" and "exit code 7" in results[5].page["error"]
    assert all(results[i].page["status"] == "audited" for i in (0, 1, 3, 4, 6, 7))
    assert pool.restarts == 2


def test_a_worker_that_cannot_load_the_pipeline_stops_the_run(corpus, tmp_path):
    with pytest.raises(AuditorError) as e:
        run_audit([corpus], tmp_path, options(workers=2, model="no_such_model_xyz"))
    assert e.value.code == "E401"
    summary = run_audit([corpus], tmp_path, options(workers=1))  # no page was written: not a run to continue
    assert summary.resumed == 0 and summary.pages == 35


# -- progress, CLI --------------------------------------------------------------------------------

def test_progress_bar_only_when_asked(corpus, tmp_path, capsys):
    run_audit([corpus / "page-000001.txt" if (corpus / "page-000001.txt").exists() else corpus / "page-000001.html"],
              tmp_path / "a", options(workers=1))
    assert capsys.readouterr().err == ""
    run_audit([corpus], tmp_path / "b", replace(options(workers=1), progress=True))
    err = capsys.readouterr().err
    assert "page/s" in err and "35/35" in err


def test_estimate_pages(tmp_path, corpus):
    assert batch.estimate_pages([corpus]) == 35
    (tmp_path / "crawl.jsonl").write_text('{"id": "a", "text": "x"}\n{"id": "b", "text": "y"}\n')
    assert batch.estimate_pages([tmp_path / "crawl.jsonl", corpus / "zz-empty.txt"]) == 3


def test_cli_engine_flags(corpus, tmp_path, capsys):
    from auditor.cli import main
    code = main(["audit", str(corpus), "--out", str(tmp_path / "run"), "--no-report", "--workers", "2",
                 "--engine", "local", "--no-progress", "--no-config"])
    assert code == 3  # some pages failed
    assert "35 pages" not in capsys.readouterr().out
    assert len(list(iter_jsonl(tmp_path / "run" / "pages.jsonl"))) == 35
    assert main(["audit", str(corpus), "--out", str(tmp_path / "x"), "--scheduler", "tcp://1.2.3.4:1"]) == 2
    assert "E302" in capsys.readouterr().err
    assert main(["audit", str(corpus), "--out", str(tmp_path / "x"), "--workers", "-1"]) == 2
    assert "E303" in capsys.readouterr().err


def test_a_second_run_into_the_same_folder_is_refused(tmp_path):
    writer = RunWriter(tmp_path)
    writer.open(batch.run_meta([tmp_path], options()))
    try:
        with pytest.raises(OptionsError, match="E309"):
            RunWriter(tmp_path).open(batch.run_meta([tmp_path], options()))
    finally:
        writer.release()


def test_in_order_writer_bounds_the_window(tmp_path):
    written = []

    class Sink:
        def append(self, result):
            written.append(result.seq)

    order = batch._InOrder(Sink(), None, window=3, index=None)
    seqs = [order.allocate() for _ in range(3)]
    assert not order.can_take()
    order.put(seqs[2], Encoded(2, {}))
    order.put(seqs[1], None)
    assert written == [] and not order.can_take()
    order.put(seqs[0], Encoded(0, {}))
    assert written == [0, 2] and order.can_take()
