"""The parse worker: one process that reads, hashes and parses the next pages (prepare)
while the main process writes, so the second core hides parsing."""

from __future__ import annotations

import collections
import ctypes
import multiprocessing
import os
import pickle
import queue
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from multiprocessing.connection import Connection
from pathlib import Path

from papers_cli.engine.ingest.prepare import Prepared, prepare
from papers_cli.engine.ingest.sources import Body, Source
from papers_cli.storage.connection import connect_readonly, db_path
from papers_cli.storage.pages import is_known


def with_prepared(conn: sqlite3.Connection, sources: Sequence[Source],
                   parallel: bool | None) -> Iterator[tuple[Source, Prepared | None]]:
    """Sources with their pages prepared ahead by a worker process, in order."""
    files = [s for s in sources if s.path is not None and not s.error and s.path.is_file()]
    path = db_path(conn)
    if parallel is None:
        parallel = len(files) >= PARALLEL_MIN and (os.cpu_count() or 1) > 1
    if not parallel or not files or not path:
        for src in sources:
            yield src, None
        return
    regular = {id(s) for s in files}
    with _Worker(path) as worker:
        ahead: dict[int, int] = {}  # source index -> its file's size
        queue = iter(i for i, s in enumerate(sources) if id(s) in regular)
        queued_bytes = 0

        def fill() -> None:
            # A window of pages bounded in count and bytes: memory stays flat, and the
            # worker has work while this process builds the search index at a commit.
            nonlocal queued_bytes
            while len(ahead) < PREFETCH_PAGES and (not ahead or queued_bytes < PREFETCH_BYTES):
                j = next(queue, None)
                if j is None:
                    return
                p = sources[j].path
                assert p is not None
                try:
                    size = p.stat().st_size
                except OSError:
                    size = 0
                if not worker.submit(str(p)):
                    return  # the worker is gone: the remaining pages are read here
                ahead[j] = size
                queued_bytes += size

        fill()
        for i, src in enumerate(sources):
            size = ahead.pop(i, None)
            if size is None:
                yield src, None
                continue
            queued_bytes -= size
            fill()  # before waiting: the worker's queue never runs dry
            yield src, worker.result()  # None: the main process meets the error itself


class _Worker:
    """One process that prepares pages, in the order they are submitted.

    A plain pipe rather than concurrent.futures: the pool's result thread unpickled
    every page in this process while holding the GIL, and each release of the GIL
    by the writer's SQLite calls handed it over (parallel was no faster than serial).
    Here a thread only moves the results' bytes off the pipe (so the worker never
    waits on a full pipe while the writer commits), and the writer unpickles them
    when it wants them.
    """

    def __init__(self, db: str) -> None:
        self._conn, child = multiprocessing.Pipe()
        self._proc = multiprocessing.Process(target=_worker_main, args=(child, db, os.getpid()),
                                             daemon=True)
        self._proc.start()
        child.close()
        self._results: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._pending = 0
        self._alive = True

    def _read(self) -> None:
        try:
            while True:
                self._results.put(self._conn.recv_bytes())
        except (EOFError, OSError):
            self._results.put(None)  # the worker is gone

    def __enter__(self) -> _Worker:
        return self

    def submit(self, path: str) -> bool:
        if not self._alive:
            return False
        try:
            self._conn.send(path)
        except OSError:
            self._alive = False
            return False
        self._pending += 1
        return True

    def result(self) -> Prepared | None:
        """The next page's result; None when the worker failed on it or is gone."""
        return self._next(None)

    def _next(self, timeout: float | None) -> Prepared | None:
        self._pending -= 1
        data = self._results.get(timeout=timeout)
        if data is None:
            self._alive = False
            return None
        out = pickle.loads(data)
        return out if isinstance(out, Prepared) else None

    def __exit__(self, *exc: object) -> None:
        # Ask the worker to stop (it drops what it has not started), then take what it
        # had finished: their spooled copies of large pages are removed.
        try:
            self._conn.send(None)
            deadline = time.monotonic() + (5.0 if exc[0] is None else 1.0)
            while self._alive and self._pending > 0:
                out = self._next(max(deadline - time.monotonic(), 0.0))
                if out is not None:
                    out.body.discard()
        except Exception:  # a broken pipe or no answer in time: the worker is killed below
            pass
        finally:
            self._proc.join(1.0)
            if self._proc.is_alive():
                self._proc.kill()
                self._proc.join()
            self._reader.join(1.0)  # it sees the worker's end of the pipe close
            self._conn.close()


PARALLEL_MIN = 16
PREFETCH_PAGES = 64
PREFETCH_BYTES = 16 << 20
_worker_conn: sqlite3.Connection | None = None


def die_with_parent(parent: int) -> None:
    """The worker must not outlive an ingest killed with -9 (it would block on its pipe
    forever): Linux kills it when the parent dies; elsewhere a thread watches."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)
        return
    except (OSError, AttributeError):
        pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _worker_main(pipe: Connection, db: str, parent: int) -> None:
    """The worker's loop: a path in, its Prepared page out (or None if preparing it
    failed: the main process then reads the page and reports the error); None in: stop."""
    global _worker_conn
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    die_with_parent(parent)
    try:
        _worker_conn = connect_readonly(db)
    except sqlite3.Error:
        _worker_conn = None
    todo: collections.deque[str] = collections.deque()
    try:
        while True:
            # Take every request waiting, so a stop is seen before more work is started.
            while not todo or pipe.poll():
                msg = pipe.recv()
                if msg is None:
                    return
                todo.append(msg)
            path = todo.popleft()
            try:
                out: Prepared | None = _worker_prepare(path)
            except Exception:
                out = None
            pipe.send(out)
    except (EOFError, OSError, KeyboardInterrupt):
        return
    finally:
        pipe.close()


def _worker_prepare(path: str) -> Prepared:
    def known(sha: str) -> bool:
        if _worker_conn is None:
            return False
        try:
            return is_known(_worker_conn, sha)
        except sqlite3.Error:
            return False

    pre = prepare(lambda: Path(path).open("rb"), known)  # noqa: SIM115 (prepare closes it)
    if pre.kind == "text" and pre.scan is not None and pre.scan.records is not None:
        # The parsed records are all the main process needs of a small text page: do not
        # send its bytes back through the pipe too (they were 2/3 of what was pickled).
        pre.body = Body(pre.body.sha, pre.body.size, b"")
    return pre

