"""Where pages are audited: in this process, in a pool of local processes, or on a Dask cluster.

Every engine runs the same per-page function, :func:`audit_one`, with one :class:`~auditor.audit.Auditor`
per process (the spaCy pipeline is loaded once per worker, never per page), and hands back
:class:`Encoded` results: the page's row plus its claims, findings and text already serialised as
JSON lines, so the main process only appends them to the run folder. Pages usually arrive unparsed
(:class:`~auditor.ingest.RawPage`): parsing them is costly too, so it runs in the workers, and each
result carries the page's :class:`~auditor.ingest.Fingerprint` for the main process's duplicate index.

Each process rebuilds its Auditor every ``RECYCLE_PAGES`` pages (spaCy's vocabulary and tokenizer
cache grow with every new word), so a worker's memory stays flat however many pages it audits.

Engines take tasks from an iterator only when they have room (``capacity`` pages in flight, and only
while ``can_take()`` says the writer is not too far behind), so memory does not grow with the number
of pages. Results come back in completion order; :mod:`auditor.batch` puts them back in input order.

Time budget (``AuditOptions.time_budget`` seconds per page):

* everywhere, a soft deadline interrupts the page's Python code when the budget is spent (SIGALRM in
  a process's main thread, otherwise an asynchronous exception raised in the auditing thread); the
  page is recorded as failed, E410, and the worker goes on with the next page;
* in the local pool, a worker still busy with a page ``HARD_GRACE`` seconds after its budget (stuck in
  C code, which the soft deadline cannot interrupt) is killed and replaced; its page is failed, E410.
  A worker that dies (crash, out of memory) fails its page with E411 and is replaced as well;
* on Dask, only the soft deadline applies (a running Dask task cannot be stopped); a worker lost by
  the cluster fails the pages of its batch with E411.

With more claims than one part of the cross-source step, the Dask engine also runs that step on the
cluster (:meth:`DaskEngine.compare`): a Dask dataframe group-by on intervention, each group compared by
a worker.

Error codes: E400 an unexpected error while auditing one page (the run goes on), E410 time budget
exceeded, E411 the worker process died, E412 a worker could not start (the run stops), E308 the Dask
scheduler cannot be reached.
"""
from __future__ import annotations

import ctypes
import json
import multiprocessing as mp
import os
import queue
import signal
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import Callable, Iterable, Iterator

from . import __version__
from .errors import AuditorError
from .ingest import Fingerprint, PageFailure, RawPage, fingerprint
from .options import AuditOptions
from .page import Page

E_AUDIT = "E400"
E_TIME_BUDGET = "E410"
E_WORKER_DIED = "E411"
E_WORKER_START = "E412"
HARD_GRACE = 5.0  # seconds past the budget before a stuck local worker is killed
PREFETCH = 2  # pages queued per local worker, so a worker never waits for the main process
PARENT_CHECK = 1.0  # seconds between a local worker's checks that the main process is still there
DASK_CONNECT_TIMEOUT = "20s"


@dataclass
class Encoded:
    """One page's result, ready to append to the run folder."""

    seq: int  # position of the page in the input
    page: dict | None  # the pages.jsonl row (the text file name is added by the writer); None: write nothing
    claims: str = ""  # claims.jsonl lines
    findings: str = ""  # findings.jsonl lines (this page's own findings)
    text: str | None = None  # the texts/ file (JSON), for audited pages
    fingerprint: Fingerprint | None = None  # for the duplicate index; None when the page was not parsed


@dataclass
class Task:
    seq: int
    page: Page | RawPage
    audit: bool = True  # False: a page written by an earlier run, parsed only for its fingerprint


# -- the per-page function --------------------------------------------------------------------------

def pipeline_settings(options: AuditOptions) -> dict:
    """The settings that change what a page's audit produces (and so what one Auditor serves)."""
    return {"version": __version__, "model": options.model or "blank:en",
            "include_comments": options.include_comments, "select": list(options.select),
            "ignore": list(options.ignore), "levels": dict(sorted(options.levels.items())),
            "rule_folders": [str(p) for p in options.rule_folders],
            "lexicon_files": [[str(x) for x in f] if isinstance(f, (tuple, list)) else str(f)
                              for f in options.lexicon_files]}


RECYCLE_PAGES = 1000  # a fresh Auditor after this many pages (see auditor_for)
_AUDITORS: dict[str, list] = {}  # settings -> [Auditor, pages audited with it]


def auditor_for(options: AuditOptions, pages: int = 0):
    """This process's Auditor for these settings, built on first use (one per worker, not per page).

    ``pages`` counts the pages about to be audited with it. After RECYCLE_PAGES pages the Auditor is
    built again: spaCy's vocabulary and tokenizer cache keep every new word they see (about 6 MB per
    thousand pages here), so a long run would otherwise grow with the number of pages.
    """
    key = json.dumps(pipeline_settings(options), sort_keys=True)
    entry = _AUDITORS.get(key)
    if entry is None or entry[1] >= RECYCLE_PAGES:
        from .audit import Auditor
        _AUDITORS.clear()  # the pipeline's lexicon overlays are per process: keep one Auditor
        entry = _AUDITORS[key] = [Auditor(options), 0]
    entry[1] += pages
    return entry[0]


def dumps(row) -> str:
    return json.dumps(row, ensure_ascii=False, default=str)


def failed_row(page: Page, code: str, message: str) -> dict:
    row = page.as_record()
    row.update(status="failed", error_code=code, error=message)
    return row


def budget_message(budget: float) -> str:
    return f"time budget of {budget:g} s exceeded"


def audit_one(auditor, page: Page | RawPage, seq: int, budget: float | None, audit: bool = True) -> Encoded:
    """Parse (a RawPage) and audit one page; a page that fails or runs out of time becomes a failed row,
    never an exception. Without ``audit`` the page is parsed for its fingerprint only, and nothing is
    written for it."""
    page_fingerprint = None
    try:
        with deadline(budget):
            if isinstance(page, RawPage):
                page = page.parse()
                if isinstance(page, PageFailure):
                    return Encoded(seq, page.as_record() if audit else None)
            page_fingerprint = fingerprint(page)
            if not audit:
                return Encoded(seq, None, fingerprint=page_fingerprint)
            result = auditor.audit_page(page)
    except TimeBudgetExceeded:
        return Encoded(seq, failed_row(page, E_TIME_BUDGET, budget_message(budget)) if audit else None,
                       fingerprint=page_fingerprint)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as e:  # noqa: BLE001 - a hostile page must not stop the run
        message = f"error while auditing the page: {type(e).__name__}: {' '.join(str(e).split())[:200]}"
        return Encoded(seq, failed_row(page, E_AUDIT, message) if audit else None, fingerprint=page_fingerprint)
    return Encoded(seq, result.page, "".join(dumps(r) + "\n" for r in result.claims),
                   "".join(dumps(r) + "\n" for r in result.findings),
                   None if result.text is None else dumps(result.text), page_fingerprint)


def task_failed(task: Task, code: str, message: str) -> Encoded:
    """The result of a page whose worker was lost or killed (nothing to write when it was not to be audited)."""
    return Encoded(task.seq, failed_row(task.page, code, message) if task.audit else None)


def audit_batch(tasks: list[Task], options: AuditOptions) -> list[Encoded]:
    """What a Dask task runs: a few pages with this worker's cached Auditor."""
    auditor = auditor_for(options, len(tasks))
    return [audit_one(auditor, t.page, t.seq, options.time_budget, t.audit) for t in tasks]


# -- the soft deadline ------------------------------------------------------------------------------

class TimeBudgetExceeded(BaseException):
    """Raised inside a page's audit when its time budget is spent (BaseException: not caught by
    ``except Exception`` in the components)."""


class deadline:
    """Raise TimeBudgetExceeded in this thread after ``seconds`` (no limit when None or <= 0)."""

    def __init__(self, seconds: float | None):
        self.seconds = seconds if seconds and seconds > 0 else None
        self.fired = False
        self._lock = threading.Lock()
        self._done = False
        self._timer = None
        self._old = None

    def __enter__(self):
        if self.seconds is None:
            return self
        if (hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
                and signal.getitimer(signal.ITIMER_REAL)[0] == 0):
            self._old = signal.signal(signal.SIGALRM, self._on_alarm)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
        else:
            self._thread_id = threading.get_ident()
            self._timer = threading.Timer(self.seconds, self._on_timer)
            self._timer.daemon = True
            self._timer.start()
        return self

    def _on_alarm(self, signum, frame):
        self.fired = True
        raise TimeBudgetExceeded()

    def _on_timer(self):
        with self._lock:
            if not self._done:
                self.fired = True
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self._thread_id),
                                                           ctypes.py_object(TimeBudgetExceeded))

    def __exit__(self, exc_type, exc, tb):
        if self.seconds is None:
            return False
        if self._timer is None:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self._old)
        else:
            with self._lock:
                self._done = True
                self._timer.cancel()
                if self.fired:  # clear an exception that was set but not raised yet
                    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self._thread_id), None)
        if self.fired and exc_type is None:
            raise TimeBudgetExceeded()
        return False


# -- engines -----------------------------------------------------------------------------------------

class InProcess:
    """Audit in this process: no start-up cost. The time budget is the soft deadline only."""

    capacity = 1

    def __init__(self, options: AuditOptions):
        self.options = options

    def __enter__(self):
        auditor_for(self.options)  # load the pipeline now: a bad model stops the run before any page
        return self

    def __exit__(self, *exc):
        return False

    def run(self, tasks: Iterable[Task], can_take: Callable[[], bool]) -> Iterator[Encoded]:
        for task in tasks:
            yield audit_one(auditor_for(self.options, 1), task.page, task.seq, self.options.time_budget, task.audit)


def _worker_main(conn, options: AuditOptions) -> None:
    """A local pool worker: build one Auditor, then audit pages until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's business
    inbox: queue.SimpleQueue = queue.SimpleQueue()
    parent = os.getppid()

    def read():  # always draining the pipe, so the main process never blocks sending a page
        while True:
            try:
                if not conn.poll(PARENT_CHECK):
                    # a main process killed outright may leave the pipe open (forked workers hold copies of its
                    # ends), so a worker also stops when it has a new parent
                    if os.getppid() != parent:
                        inbox.put(None)
                        return
                    continue
                msg = conn.recv()
            except (EOFError, OSError):  # the main process is gone
                inbox.put(None)
                return
            inbox.put(msg)
            if msg is None:
                return

    threading.Thread(target=read, daemon=True).start()
    try:
        auditor = auditor_for(options)
    except AuditorError as e:
        conn.send(("fatal", e.code, e.message))
        return
    except Exception as e:  # noqa: BLE001
        conn.send(("fatal", E_WORKER_START, f"a worker could not load the pipeline: {type(e).__name__}: {e}"))
        return
    conn.send(("ready", os.getpid()))
    try:
        while True:
            msg = inbox.get()
            if msg is None:
                return
            seq, page, audit = msg
            conn.send(("start", seq))
            auditor = auditor_for(options, 1)
            conn.send(("done", seq, audit_one(auditor, page, seq, options.time_budget, audit)))
    except (BrokenPipeError, EOFError, OSError):
        return


class _Worker:
    def __init__(self, ctx, options: AuditOptions, target=_worker_main):
        self.conn, child = ctx.Pipe(duplex=True)
        self.process = ctx.Process(target=target, args=(child, options), daemon=True,
                                   name="auditor-worker")
        self.process.start()
        child.close()
        self.ready = False
        self.queue: deque[Task] = deque()  # sent, not finished; the first one is running once started
        self.started_at: float | None = None

    def kill(self) -> None:
        try:
            self.process.kill()
            self.process.join(5)
        except (OSError, ValueError):
            pass
        self.conn.close()


class LocalPool:
    """A pool of worker processes, each with its own pipeline, fed a few pages at a time."""

    def __init__(self, options: AuditOptions, processes: int):
        self.options = options
        self.processes = max(1, processes)
        self.capacity = self.processes * PREFETCH
        self.workers: list[_Worker] = []
        self.retry: deque[Task] = deque()
        # fork on Linux: workers start at once and a script need not guard its top level with
        # `if __name__ == "__main__":`; spawn elsewhere (fork is unsafe on macOS, absent on Windows)
        self.ctx = mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")
        self.restarts = 0
        self.attempts: dict[int, int] = {}  # page position -> times re-queued after its worker died
        self.target = _worker_main  # what a worker process runs (tests replace it)

    def __enter__(self):
        self.workers = [_Worker(self.ctx, self.options, self.target) for _ in range(self.processes)]
        return self

    def __exit__(self, *exc):
        for w in self.workers:
            if exc[0] is None:
                try:
                    w.conn.send(None)
                except (OSError, ValueError):
                    pass
        for w in self.workers:
            if exc[0] is None:
                w.process.join(2)
            if w.process.is_alive():
                w.process.kill()
                w.process.join(2)
            w.conn.close()
        self.workers = []
        return False

    def _send(self, worker: _Worker, task: Task) -> None:
        worker.queue.append(task)
        try:
            worker.conn.send((task.seq, task.page, task.audit))
        except OSError:  # the worker is gone; the next wait() sees it and says why
            pass

    def _replace(self, worker: _Worker, keep_first: bool = False) -> None:
        """Kill the worker and start another; its pages go back in the queue, but for the first one (the
        culprit) unless keep_first."""
        worker.kill()
        self.retry.extendleft(reversed(list(worker.queue)[0 if keep_first else 1:]))
        self.workers[self.workers.index(worker)] = _Worker(self.ctx, self.options, self.target)
        self.restarts += 1

    def run(self, tasks: Iterable[Task], can_take: Callable[[], bool]) -> Iterator[Encoded]:
        tasks = iter(tasks)
        exhausted = False
        budget = self.options.time_budget if self.options.time_budget and self.options.time_budget > 0 else None
        while True:
            # hand out work: re-queued pages first, then new ones while there is room
            for w in sorted(self.workers, key=lambda w: len(w.queue)):
                while len(w.queue) < PREFETCH:
                    if self.retry:
                        self._send(w, self.retry.popleft())
                        continue
                    if exhausted or not can_take():
                        break
                    try:
                        task = next(tasks)
                    except StopIteration:
                        exhausted = True
                        break
                    self._send(w, task)
            busy = [w for w in self.workers if w.queue]
            if not busy:
                if exhausted and not self.retry:
                    return
                if not self.retry and not can_take():
                    raise RuntimeError("the pool is idle but may not take work")  # a bug, not a page
                continue
            timeout = 1.0
            now = time.monotonic()
            if budget is not None:
                for w in busy:
                    if w.started_at is not None:
                        timeout = min(timeout, max(0.0, w.started_at + budget + HARD_GRACE - now))
            ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy], timeout)
            for w in list(busy):
                dead = w.process.sentinel in ready
                if w.conn in ready or dead:
                    try:
                        while w.conn.poll():
                            yield from self._message(w, w.conn.recv())
                    except (EOFError, OSError):
                        dead = True
                if dead:
                    w.process.join(1)
                    yield from self._died(w)
                elif budget is not None and w.started_at is not None and \
                        time.monotonic() - w.started_at > budget + HARD_GRACE:
                    task = w.queue[0]
                    self._replace(w)
                    yield task_failed(task, E_TIME_BUDGET, budget_message(budget))

    def _message(self, w: _Worker, msg) -> Iterator[Encoded]:
        kind = msg[0]
        if kind == "ready":
            w.ready = True
        elif kind == "start":
            w.started_at = time.monotonic()
        elif kind == "done":
            w.started_at = None
            task = w.queue.popleft()
            assert task.seq == msg[1], (task.seq, msg[1])
            yield msg[2]
        elif kind == "fatal":
            raise AuditorError(msg[2], msg[1])

    def _died(self, w: _Worker) -> Iterator[Encoded]:
        code = w.process.exitcode
        if not w.ready:
            raise AuditorError(f"a worker process could not start (exit code {code}); try --workers 1 to see "
                               "why (in a script, start the run under `if __name__ == \"__main__\":`)", E_WORKER_START)
        task = w.queue[0] if w.queue else None
        # a worker that died before it started its first page did not die of that page: give it another
        # go (once), unless it had one already
        retry = task is not None and w.started_at is None and self.attempts.get(task.seq, 0) < 1
        if retry:
            self.attempts[task.seq] = self.attempts.get(task.seq, 0) + 1
        self._replace(w, keep_first=retry)
        if task is not None and not retry:
            yield task_failed(task, E_WORKER_DIED, f"the worker process died while auditing this page (exit code {code})")


class DaskEngine:
    """The same per-page function on a Dask cluster: a scheduler at ``address``, else a LocalCluster.

    Each Dask worker process keeps one Auditor (``auditor_for``'s module-level cache), so the pipeline
    is loaded once per worker. Pages go out in batches of ``batch`` with at most ``4 x workers``
    batches in flight, collected with ``as_completed``.
    """

    def __init__(self, options: AuditOptions, address: str | None = None, workers: int = 2, batch: int = 8):
        self.options = options
        self.address = address
        self.n_workers = max(1, workers)
        self.batch = batch
        self.cluster = None
        self.client = None

    def __enter__(self):
        import logging

        from distributed import Client, LocalCluster
        try:
            if self.address:
                self.client = Client(self.address, timeout=DASK_CONNECT_TIMEOUT)
            else:
                self.cluster = LocalCluster(n_workers=self.n_workers, threads_per_worker=1, processes=True,
                                            dashboard_address=None, silence_logs=logging.ERROR)
                self.client = Client(self.cluster)
        except (OSError, TimeoutError) as e:
            self.__exit__(None, None, None)
            raise AuditorError(f"cannot reach the Dask scheduler {self.address or '(local cluster)'}: "
                               f"{' '.join(str(e).split())[:200]}", "E308") from None
        workers = len(self.client.scheduler_info().get("workers", {})) or self.n_workers
        self.capacity = 4 * workers * self.batch  # batches queued per worker: it never waits for the client
        return self

    def __exit__(self, *exc):
        for thing in (self.client, self.cluster):
            if thing is not None:
                try:
                    thing.close()
                except Exception:  # noqa: BLE001 - shutting down
                    pass
        self.client = self.cluster = None
        return False

    def run(self, tasks: Iterable[Task], can_take: Callable[[], bool]) -> Iterator[Encoded]:
        from distributed import as_completed

        tasks = iter(tasks)
        exhausted = False
        pending = as_completed()
        batches: dict = {}  # future key -> tasks, to fail them if the worker is lost
        in_flight = 0

        def fill():
            nonlocal exhausted, in_flight
            while not exhausted and in_flight < self.capacity:
                chunk = []
                while len(chunk) < self.batch and not exhausted and can_take():
                    try:
                        chunk.append(next(tasks))
                    except StopIteration:
                        exhausted = True
                if not chunk:
                    return
                future = self.client.submit(audit_batch, chunk, self.options, pure=False)
                batches[future.key] = chunk
                pending.add(future)
                in_flight += len(chunk)

        fill()
        while not pending.is_empty():
            future = next(pending)
            chunk = batches.pop(future.key)
            in_flight -= len(chunk)
            try:
                results = future.result()
            except Exception as e:  # noqa: BLE001 - a lost worker (KilledWorker) fails its pages only
                results = [task_failed(t, E_WORKER_DIED, f"the Dask worker was lost while auditing this page: "
                                       f"{type(e).__name__}") for t in chunk]
            future.release()
            yield from results
            fill()
            if pending.is_empty() and not exhausted:
                fill()

    def compare(self, claims: Iterable[dict], options: AuditOptions, block_bytes: int
                ) -> Iterator[tuple[list[dict], list[dict]]]:
        """The cross-source step as a Dask dataframe group-by on intervention: the client sends the claims
        (compact rows, in run order) in blocks of about ``block_bytes``, the workers group them by
        intervention and compare each group (:func:`compare_group`), and the (findings, topics) come back
        one output partition at a time. The client holds one block or one partition, never the run."""
        import dask.dataframe as dd
        import pandas as pd

        columns = {"seq": "int64", "intervention": "object", "claim": "object"}
        blocks = [self.client.scatter(pd.DataFrame(block, columns=list(columns)).astype(columns), hash=False)
                  for block in _claim_blocks(claims, block_bytes)]
        if not blocks:
            return
        frame = dd.from_delayed(blocks, meta=pd.DataFrame(columns=list(columns)).astype(columns), verify_meta=False)
        compared = frame.groupby("intervention")[["seq", "claim"]].apply(
            compare_group, options, meta={"table": "object", "line": "object"})
        for future in self.client.compute(compared.to_delayed()):
            part = future.result()
            future.release()
            yield ([json.loads(line) for line in part["line"][part["table"] == "findings"]],
                   [json.loads(line) for line in part["line"][part["table"] == "topics"]])


def _claim_blocks(claims: Iterable[dict], block_bytes: int) -> Iterator[list[tuple[int, str, str]]]:
    """(run order, intervention, claim as JSON) rows in blocks of about block_bytes."""
    from .compare import intervention_of

    block, size = [], 0
    for seq, claim in enumerate(claims):
        line = dumps(claim)
        block.append((seq, intervention_of(claim), line))
        size += len(line)
        if size >= block_bytes:
            yield block
            block, size = [], 0
    if block:
        yield block


def compare_group(group, options: AuditOptions):
    """On a Dask worker: one intervention's claims, in run order, compared across sources. The findings
    and topic rows come back as JSON lines in a frame (table, line)."""
    import pandas as pd

    from .compare import compare_sources

    claims = [json.loads(line) for line in group.sort_values("seq")["claim"]]
    findings, topics = compare_sources(claims, auditor_for(options).registry, options)
    return pd.DataFrame({"table": ["findings"] * len(findings) + ["topics"] * len(topics),
                         "line": [dumps(row) for row in findings + topics]})
