"""The Dask engine: the same run folder as the local engine, one pipeline per worker."""
from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

from auditor.batch import iter_jsonl, run_audit
from auditor.options import AuditOptions

distributed = pytest.importorskip("distributed")
pytestmark = pytest.mark.slow  # clusters take a few seconds each to start

ROOT = Path(__file__).resolve().parents[1]
JSONL = ("pages", "claims", "findings", "topics")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    spec = importlib.util.spec_from_file_location("make_corpus", ROOT / "benchmarks" / "make_corpus.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    folder = tmp_path_factory.mktemp("corpus")
    module.generate(folder, 16, seed=11)
    original = next(folder.glob("page-000003.*"))
    shutil.copy(original, folder / f"zz-copy{original.suffix}")
    (folder / "zz-empty.txt").write_text("")
    return folder


def options(**kw) -> AuditOptions:
    return AuditOptions(report=False, progress=False, **kw)


def contents(run: Path) -> dict[str, bytes]:
    return {name: (run / f"{name}.jsonl").read_bytes() for name in JSONL}


@pytest.fixture(scope="module")
def local_run(corpus, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("local")
    run_audit([corpus], out, options(workers=1))
    return out


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c:
        yield c


def test_dask_local_cluster_gives_the_local_results(corpus, local_run, tmp_path):
    summary = run_audit([corpus], tmp_path, options(engine="dask", workers=2))
    assert summary.engine == "dask" and summary.pages == 18 and summary.duplicates >= 1
    assert contents(tmp_path) == contents(local_run)


def test_dask_scheduler_address_loads_the_pipeline_once_per_worker(corpus, local_run, cluster, tmp_path):
    run_audit([corpus], tmp_path, options(engine="dask", scheduler=cluster.scheduler_address))
    assert contents(tmp_path) == contents(local_run)
    with distributed.Client(cluster) as client:
        cached = client.run(lambda: len(__import__("auditor.engines", fromlist=["_AUDITORS"])._AUDITORS))
    assert list(cached.values()) == [1, 1]


def test_dask_compares_claims_beyond_one_part_by_a_group_by_on_the_cluster(corpus, local_run, cluster, tmp_path,
                                                                            monkeypatch):
    """Claims too many for one part are compared by the workers, grouped by intervention: the same page
    rows, and the same cross-source findings and topics as the local engine (in another order)."""
    from auditor import batch

    def not_here(*args, **kwargs):
        raise AssertionError("compared in the main process")
    monkeypatch.setattr(batch, "COMPARE_PART_BYTES", 2000)
    monkeypatch.setattr(batch, "compare_sources", not_here)
    run_audit([corpus], tmp_path, options(engine="dask", scheduler=cluster.scheduler_address))
    local, dask = contents(local_run), contents(tmp_path)
    assert dask["pages"] == local["pages"] and dask["claims"] == local["claims"]
    page_findings = json.loads((local_run / "run.json").read_text())["page_findings"]
    assert json.loads((tmp_path / "run.json").read_text())["page_findings"] == page_findings
    for name in ("findings", "topics"):
        ours, theirs = (list(iter_jsonl(run / f"{name}.jsonl")) for run in (tmp_path, local_run))
        if name == "findings":
            assert ours[:page_findings] == theirs[:page_findings]
            ours, theirs = ours[page_findings:], theirs[page_findings:]
        assert len(theirs) > 3
        assert sorted(map(json.dumps, ours)) == sorted(map(json.dumps, theirs))


def test_dask_time_budget(corpus, cluster, tmp_path):
    run_audit([corpus], tmp_path, options(engine="dask", scheduler=cluster.scheduler_address, time_budget=0.0005))
    rows = list(iter_jsonl(tmp_path / "pages.jsonl"))
    assert len(rows) == 18
    assert any(r.get("error_code") == "E410" for r in rows)
    assert all(r["status"] in ("failed", "duplicate", "audited") for r in rows)


def test_unreachable_scheduler_is_one_line(corpus, tmp_path, monkeypatch):
    from auditor import engines
    from auditor.errors import AuditorError
    monkeypatch.setattr(engines, "DASK_CONNECT_TIMEOUT", "1s")
    with pytest.raises(AuditorError, match="E308"):
        run_audit([corpus], tmp_path, options(engine="dask", scheduler="tcp://127.0.0.1:9"))
