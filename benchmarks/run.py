"""Throughput and memory of `auditor audit` at scale, against spaCy's blank tokenizer.

    python benchmarks/run.py                 # 10,000 generated pages (takes a while)
    python benchmarks/run.py --pages 400     # a quick look
    python benchmarks/run.py --skip-dask --corpus DIR

On one generated corpus (benchmarks/make_corpus.py; reused when it is already there) it measures:

1. baseline: ``spacy.blank("en").pipe(texts)`` over the same page texts (after ingest), words/s; and
   the time reading the pages alone takes (decoding, HTML parsing, text extraction), which bounds the
   ratio any audit that reads the pages can reach;
2. the full audit without the HTML report, 1 process, on N/4 pages and on N pages (is memory flat?);
3. the same with 2 local processes;
4. the same on a 2-worker Dask LocalCluster.

Every measurement runs in its own process, so peak memory (``ru_maxrss``) is that run's own; worker
processes are sampled with psutil. ``peak_rss_pages_mb`` is the main process's peak while pages are
audited; ``peak_rss_mb`` includes the final cross-source step and tables. ``main_cpu_ms_per_page`` is the
main process's CPU time per page while pages are audited (reading files, the duplicate index, writing
rows): with enough cores the pages phase cannot go faster than 1000 / that pages per second. Results go
to benchmarks/results.json (and are printed).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def _mb(kb_or_bytes: float, kb: bool = False) -> float:
    return round(kb_or_bytes / 1024 if kb else kb_or_bytes / 2**20, 1)


# -- measurements (each in a child process) ---------------------------------------------------------

def child_baseline(corpus: str) -> dict:
    """The tokenizer pass; and, for scale, what reading the pages alone costs (decoding, HTML parsing and
    text extraction: the audit's first step, ``RawPage.parse``)."""
    import spacy
    from auditor.ingest import RawPage, iter_pages
    from auditor.page import Page

    raw = [r for r in iter_pages([corpus], defer=True) if isinstance(r, RawPage)]
    started = time.perf_counter()
    parsed = [r.parse() for r in raw]
    reading = time.perf_counter() - started
    texts = [p.text for p in parsed if isinstance(p, Page)]
    words = sum(len(t.split()) for t in texts)
    nlp = spacy.blank("en")
    started = time.perf_counter()
    tokens = sum(len(doc) for doc in nlp.pipe(texts))
    seconds = time.perf_counter() - started
    return {"pages": len(texts), "words": words, "tokens": tokens, "seconds": round(seconds, 2),
            "words_per_s": round(words / seconds), "pages_per_s": round(len(texts) / seconds, 1),
            "reading_seconds": round(reading, 2), "reading_ms_per_page": round(1000 * reading / len(raw), 2)}


class _Sampler(threading.Thread):
    """Max RSS of this process's descendants (pool or Dask workers) and of this process."""

    def __init__(self):
        super().__init__(daemon=True)
        import psutil
        self.me = psutil.Process()
        self.workers_peak = 0
        self.main_peak = 0
        self.stop = False
        self.pages_done = False  # workers are sampled while pages are audited (not the table writers after)

    def run(self):
        import psutil
        while not self.stop:
            try:
                self.main_peak = max(self.main_peak, self.me.memory_info().rss)
                for child in ([] if self.pages_done else self.me.children(recursive=True)):
                    try:
                        self.workers_peak = max(self.workers_peak, child.memory_info().rss)
                    except psutil.Error:
                        pass
            except psutil.Error:
                pass
            time.sleep(0.2)


def child_audit(corpus: str, engine: str, workers: int, ignore: list | None = None) -> dict:
    from auditor import batch
    from auditor.batch import iter_jsonl, run_audit
    from auditor.options import AuditOptions

    sampler = _Sampler()
    sampler.start()
    marks = {"compared_claims": 0}
    drop_pages, compared_claims = batch.RunWriter.drop_pages, batch.RunWriter.compared_claims

    def pages_done(self, page_ids):  # called once the pages are done: note the time and the peak so far
        marks["pages_done"] = time.perf_counter()
        sampler.pages_done = True
        usage = resource.getrusage(resource.RUSAGE_SELF)
        marks["peak_pages"] = usage.ru_maxrss
        marks["main_cpu_pages"] = usage.ru_utime + usage.ru_stime
        return drop_pages(self, page_ids)

    def counted(self):
        for claim in compared_claims(self):
            marks["compared_claims"] += 1
            yield claim

    batch.RunWriter.drop_pages, batch.RunWriter.compared_claims = pages_done, counted
    out = tempfile.mkdtemp(prefix="auditor-bench-")
    options = AuditOptions(report=False, progress=False, engine=engine, workers=workers, ignore=list(ignore or []))
    started = time.perf_counter()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_at_start = usage.ru_utime + usage.ru_stime
    try:
        summary = run_audit([corpus], Path(out), options)
        seconds = time.perf_counter() - started
        sampler.stop = True
        words = sum(r.get("words", 0) for r in iter_jsonl(Path(out) / "pages.jsonl") if r.get("status") == "audited")
        sizes = {p.name: p.stat().st_size for p in Path(out).iterdir() if p.is_file()}
    finally:  # an interrupted benchmark must not leave a run folder of hundreds of MB behind
        sampler.stop = True
        shutil.rmtree(out, ignore_errors=True)
    page_seconds = marks["pages_done"] - started
    return {"engine": summary.engine, "pages": summary.pages, "audited": summary.audited,
            "duplicates": summary.duplicates, "failed": summary.failed, "claims": summary.claims,
            "findings": sum(summary.findings_by_level.values()), "words": words,
            "seconds": round(seconds, 2), "pages_seconds": round(page_seconds, 2),
            "final_seconds": round(seconds - page_seconds, 2),
            "pages_per_s": round(summary.pages / seconds, 2), "words_per_s": round(words / seconds),
            "pages_per_s_pages_phase": round(summary.pages / page_seconds, 2),
            "words_per_s_pages_phase": round(words / page_seconds),
            "peak_rss_pages_mb": _mb(marks["peak_pages"], kb=True),
            # what the main process (reading files, duplicate index, writing rows) spends per page: with
            # enough cores, the pages phase cannot go faster than 1000 / this pages per second
            "main_cpu_ms_per_page": round(1000 * (marks["main_cpu_pages"] - cpu_at_start) / summary.pages, 2),
            "peak_rss_mb": _mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, kb=True),
            "workers_peak_rss_mb": _mb(sampler.workers_peak) if sampler.workers_peak else None,
            "claims_compared": marks["compared_claims"],
            "run_folder_mb": _mb(sum(sizes.values()))}


def in_child(kind: str, **kw) -> dict:
    args = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps({"kind": kind, **kw})]
    proc = subprocess.run(args, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{kind} {kw} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# -- the benchmark ----------------------------------------------------------------------------------

def ensure_corpus(folder: Path, pages: int, seed: int) -> Path:
    import make_corpus
    manifest = folder / "manifest.csv"
    if manifest.is_file() and sum(1 for _ in manifest.open()) - 1 == pages:
        return folder
    started = time.perf_counter()
    make_corpus.generate(folder, pages, seed)
    print(f"generated {pages} pages in {time.perf_counter() - started:.0f} s: {folder}", file=sys.stderr)
    return folder


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pages", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "auditor-bench",
                   help="where the generated corpora are kept between runs")
    p.add_argument("--corpus", type=Path, help="use this corpus instead of generating one (no N/4 run)")
    p.add_argument("--skip-dask", action="store_true")
    p.add_argument("--ignore", action="append", default=[], metavar="RULE",
                   help="rules left out of every audit run (as `auditor audit --ignore`)")
    p.add_argument("--output", type=Path, default=HERE / "results.json")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        spec = json.loads(args.child)
        kind = spec.pop("kind")
        result = child_baseline(**spec) if kind == "baseline" else child_audit(**spec)
        print(json.dumps(result))
        return 0

    if args.corpus:
        corpus, quarter = args.corpus, None
    else:
        corpus = ensure_corpus(args.work / f"corpus-{args.seed}-{args.pages}", args.pages, args.seed)
        quarter = ensure_corpus(args.work / f"corpus-{args.seed}-{args.pages // 4}", args.pages // 4, args.seed)

    def step(name, kind, **kw):
        print(f"{name} ...", file=sys.stderr, flush=True)
        result = in_child(kind, **({"ignore": args.ignore, **kw} if kind == "audit" else kw))
        print(f"{name}: {json.dumps(result)}", file=sys.stderr, flush=True)
        return result

    import psutil
    results = {"pages": args.pages if not args.corpus else None, "corpus": str(corpus), "ignore": args.ignore,
               "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                           "platform": platform.platform(), "load_average_at_start": os.getloadavg(),
                           "memory_gb": round(psutil.virtual_memory().total / 2**30, 1)},
               "runs": {}}
    runs = results["runs"]
    runs["tokenizer_baseline"] = step("blank tokenizer", "baseline", corpus=str(corpus))
    if quarter is not None:
        runs["audit_1_process_quarter"] = step("audit, 1 process, N/4 pages", "audit", corpus=str(quarter),
                                               engine="local", workers=1)
    runs["audit_1_process"] = step("audit, 1 process", "audit", corpus=str(corpus), engine="local", workers=1)
    runs["audit_2_processes"] = step("audit, 2 processes", "audit", corpus=str(corpus), engine="local", workers=2)
    if not args.skip_dask:
        runs["audit_dask_2_workers"] = step("audit, Dask 2 workers", "audit", corpus=str(corpus), engine="dask",
                                            workers=2)

    base, one = runs["tokenizer_baseline"], runs["audit_1_process"]
    summary = {
        "tokenizer_words_per_s": base["words_per_s"],
        "audit_1_process_words_per_s": one["words_per_s"],
        "ratio_to_tokenizer_1_process": round(one["words_per_s"] / base["words_per_s"], 4),
        "ratio_to_tokenizer_1_process_pages_phase": round(one["words_per_s_pages_phase"] / base["words_per_s"], 4),
        "speedup_2_processes": round(runs["audit_2_processes"]["pages_per_s"] / one["pages_per_s"], 2),
    }
    # the best ratio one process could reach if everything after reading the pages took no time
    summary["ratio_ceiling_set_by_reading_1_process"] = round(base["seconds"] / base["reading_seconds"], 3)
    summary["ratio_to_tokenizer_2_processes"] = round(runs["audit_2_processes"]["words_per_s"] / base["words_per_s"], 4)
    two = runs["audit_2_processes"]
    summary["main_process_cpu_ms_per_page_2_processes"] = two["main_cpu_ms_per_page"]
    summary["pages_phase_ceiling_pages_per_s"] = round(1000 / two["main_cpu_ms_per_page"])  # however many cores
    summary["meets_half_tokenizer"] = summary["ratio_to_tokenizer_1_process"] >= 0.5
    if "audit_dask_2_workers" in runs:
        summary["speedup_dask_2_workers"] = round(runs["audit_dask_2_workers"]["pages_per_s"] / one["pages_per_s"], 2)
    if quarter is not None:
        q = runs["audit_1_process_quarter"]
        summary["peak_rss_pages_phase_mb"] = {"quarter": q["peak_rss_pages_mb"], "full": one["peak_rss_pages_mb"]}
        summary["peak_rss_mb"] = {"quarter": q["peak_rss_mb"], "full": one["peak_rss_mb"]}
        summary["memory_flat_while_auditing"] = one["peak_rss_pages_mb"] <= 1.25 * q["peak_rss_pages_mb"]
        summary["memory_flat"] = one["peak_rss_mb"] <= 1.25 * q["peak_rss_mb"]
    results["summary"] = summary
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
