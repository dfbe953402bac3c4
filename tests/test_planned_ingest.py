"""Batches planned by the worker (storage/plan.py) store exactly what storing page by
page stores: the same rows (rowids included), the same FTS index, the same outcomes.

Compared against the page-by-page path run here and now on the same pages (not against
a file written by the code): the bench generator's corpus at a small size, and the real
pages (sample_pages, the saved HTML fixtures, the recorded API responses, and
../shared's pages when this machine has them). Also: a batch whose writing fails, or
whose database another program changed meanwhile, is stored page by page instead.
"""

from __future__ import annotations

import shutil
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest

from helpers import ROOT, SAMPLES, TODAY
from papers_cli.engine.ingest import expand_paths, ingest_sources
from papers_cli.engine.ingest.report import IngestReport
from papers_cli.storage import plan
from papers_cli.storage.connection import connect

SHARED = ROOT.parent / "shared"
BATCH = 300  # records: small, so that papers listed again span batches


def _bench_corpus(out: Path, n: int) -> Path:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import generate  # the bench's own generator
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    generate.generate(out, n)
    return out / "pages"


def _real_corpus(out: Path) -> Path:
    """Every real page this machine has, in one folder (a bad page among them: its
    outcome must be the same too)."""
    pages = out / "real"
    pages.mkdir()
    found = [*SAMPLES.iterdir(), *(ROOT / "tests" / "fixtures").glob("*.html"),
             *(ROOT / "tests" / "fixtures").glob("api_*"),
             *(ROOT / "tests" / "fixtures" / "hf-api").glob("*.json")]
    for folder in (SHARED / "sample_pages", SHARED / "hf-api", SHARED / "hf-api" / "daily"):
        if folder.is_dir():
            found += [f for f in folder.iterdir() if f.suffix in (".txt", ".html", ".json")]
    for i, f in enumerate(sorted(found)):
        shutil.copyfile(f, pages / f"{i:04d}-{f.name}")
    (pages / "9999-broken.json").write_text('{"not a page": ')
    return pages


def _ingest(db: Path, sources: list[Path], parallel: bool) -> IngestReport:
    conn = connect(db)
    try:
        return ingest_sources(conn, expand_paths([str(s) for s in sources]), today=TODAY,
                              parallel=parallel, batch_records=BATCH, batch_seconds=1e9)
    finally:
        conn.close()


def _outcomes(report: IngestReport) -> list[tuple[Any, ...]]:
    return [(o.source, o.status, o.message, o.records, o.new_papers, o.known_papers,
             o.notes, o.errors) for o in report.outcomes]


def snapshot(db: Path) -> dict[str, Any]:
    """Every table row for row (rowids included; the clock's ingested_at masked) and
    the FTS index by its content: every (term, paper, column, offset)."""
    conn = sqlite3.connect(db)
    out: dict[str, Any] = {}
    tables = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "AND name NOT LIKE '%fts%' ORDER BY name")]
    for t in tables:
        cur = conn.execute(f"SELECT * FROM {t} LIMIT 0")
        cols = [d[0] for d in cur.description]
        try:
            rows = conn.execute(f"SELECT rowid, * FROM {t} ORDER BY rowid").fetchall()
            cols = ["rowid", *cols]
        except sqlite3.OperationalError:  # WITHOUT ROWID
            rows = conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()
        masked = [i for i, c in enumerate(cols) if c == "ingested_at"]
        out[t] = [tuple("*" if i in masked else v for i, v in enumerate(r)) for r in rows]
    out["settings"] = [r for r in out.get("settings", []) if r[1] != "vectors_generation"]
    conn.execute("CREATE VIRTUAL TABLE temp.v USING fts5vocab(main, papers_fts, instance)")
    out["fts instances"] = conn.execute("SELECT * FROM temp.v ORDER BY 1, 2, 3, 4").fetchall()
    out["fts docsize"] = conn.execute("SELECT * FROM papers_fts_docsize ORDER BY 1").fetchall()
    out["fts totals"] = conn.execute("SELECT * FROM papers_fts_data WHERE id = 1").fetchall()
    out["fts rows"] = conn.execute("SELECT rowid, * FROM papers_fts ORDER BY rowid").fetchall()
    conn.execute("INSERT INTO papers_fts(papers_fts, rank) VALUES ('integrity-check', 1)")
    conn.close()
    return out


def _same(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert len(a[k]) == len(b[k]), k
        first = next((i for i, (x, y) in enumerate(zip(a[k], b[k], strict=True)) if x != y),
                     None)
        assert first is None, (k, a[k][first], b[k][first])


def _failing_writes(monkeypatch: pytest.MonkeyPatch, at: tuple[int, ...]) -> list[int]:
    """Planned batches number `at` fail after writing part of their rows (the rollback
    must undo that); returns [batches written so far]."""
    real_write = plan.write_batch
    calls = [0]

    def failing(conn: sqlite3.Connection, batch: plan.Batch) -> None:
        calls[0] += 1
        real_write(conn, batch)
        if calls[0] in at:
            raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(plan, "write_batch", failing)
    return calls


@pytest.fixture(scope="module")
def bench_pages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _bench_corpus(tmp_path_factory.mktemp("bench"), 2500)


@pytest.fixture(scope="module")
def real_pages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _real_corpus(tmp_path_factory.mktemp("real"))


@pytest.fixture
def planned(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many pages each planned batch written had (to check the plan was used)."""
    out: list[int] = []
    real_write = plan.write_batch

    def counting(conn: sqlite3.Connection, batch: plan.Batch) -> None:
        real_write(conn, batch)
        out.append(len(batch.pages))

    monkeypatch.setattr(plan, "write_batch", counting)
    return out


@pytest.mark.parametrize("corpus", ["bench", "real"])
def test_planned_batches_store_what_page_by_page_stores(
        corpus: str, bench_pages: Path, real_pages: Path, tmp_path: Path,
        planned: list[int]) -> None:
    pages = bench_pages if corpus == "bench" else real_pages
    files = sorted(pages.iterdir())
    assert len(files) > 20
    slow = _ingest(tmp_path / "slow.db", files, parallel=False)
    assert not planned
    fast = _ingest(tmp_path / "fast.db", files, parallel=True)
    # Most pages went through the plan (papers' own exports are stored by the writer).
    # (How many batches depends on the pages found: a clone without ../shared has few.)
    assert planned and sum(planned) >= 0.8 * fast.count("ingested"), planned
    assert _outcomes(fast) == _outcomes(slow)
    assert slow.count("ingested") >= 10  # the repository's own pages at the least
    if corpus == "real":
        assert slow.count("rejected") >= 1  # the broken page: rejected alone
    _same(snapshot(tmp_path / "slow.db"), snapshot(tmp_path / "fast.db"))


def test_planned_onto_a_database_that_has_papers(bench_pages: Path, tmp_path: Path) -> None:
    # The plan reads the stored papers (matching, folding a re-listing) through its own
    # connection: the second half onto the first, each way.
    files = sorted(bench_pages.iterdir())
    half = len(files) // 2
    _ingest(tmp_path / "slow.db", files[:half], parallel=False)
    shutil.copyfile(tmp_path / "slow.db", tmp_path / "fast.db")
    slow = _ingest(tmp_path / "slow.db", files[half:] + files[:3], parallel=False)
    fast = _ingest(tmp_path / "fast.db", files[half:] + files[:3], parallel=True)
    assert _outcomes(fast) == _outcomes(slow)
    assert slow.count("skipped") == 3 and slow.known_papers > 0
    _same(snapshot(tmp_path / "slow.db"), snapshot(tmp_path / "fast.db"))


def test_a_batch_that_fails_to_write_is_stored_page_by_page(
        bench_pages: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # An SQL error writing a planned batch costs no page: that batch is stored page by
    # page, and a new worker plans the rest.
    files = sorted(bench_pages.iterdir())[:20]
    slow = _ingest(tmp_path / "slow.db", files, parallel=False)
    calls = _failing_writes(monkeypatch, (2, 3))
    fast = _ingest(tmp_path / "fast.db", files, parallel=True)
    assert calls[0] > 3
    assert _outcomes(fast) == _outcomes(slow)
    _same(snapshot(tmp_path / "slow.db"), snapshot(tmp_path / "fast.db"))


def test_a_batch_planned_on_a_database_changed_meanwhile_is_stored_page_by_page(
        bench_pages: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Another program committing between planning and writing: the batch is not written
    # as planned (it may match papers that are not there any more).
    files = sorted(bench_pages.iterdir())[:20]
    slow = _ingest(tmp_path / "slow.db", files, parallel=False)
    real_version = plan.data_version
    calls = 0

    def moving(conn: sqlite3.Connection) -> int:
        nonlocal calls
        calls += 1
        return real_version(conn) + (1000 if calls == 4 else 0)

    monkeypatch.setattr(plan, "data_version", moving)
    fast = _ingest(tmp_path / "fast.db", files, parallel=True)
    assert calls > 4
    assert _outcomes(fast) == _outcomes(slow)
    _same(snapshot(tmp_path / "slow.db"), snapshot(tmp_path / "fast.db"))


@pytest.mark.parametrize("parallel", [False, True])
def test_ctrl_c_just_after_a_commit_counts_that_batch(tmp_path: Path, parallel: bool,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # A Ctrl-C that lands after a batch's commit and before its pages are reported
    # said "463 pages ingested" while 492 were stored (a 1M-paper ingest, by hand).
    from helpers import make_pages
    from papers_cli.engine.ingest.run import Interrupted
    from papers_cli.storage import pages as pages_mod

    folder = make_pages(tmp_path / "pages", 40, 20)
    conn = connect(tmp_path / "c.db")
    real, calls = pages_mod.commit_batch, []

    def commit_then_interrupt(c: sqlite3.Connection) -> None:
        real(c)
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(pages_mod, "commit_batch", commit_then_interrupt)
    with pytest.raises(Interrupted) as caught:
        ingest_sources(conn, expand_paths([str(folder)]), today=TODAY, batch_records=100,
                       parallel=parallel)
    stored = conn.execute("SELECT count(*) FROM pages").fetchone()[0]
    assert stored > 0
    assert caught.value.report.count("ingested") == stored


def test_checkpoints_run_beside_the_writer_and_keep_the_log_short(
        bench_pages: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        planned: list[int]) -> None:
    # A bulk ingest copies the log back in a thread of its own (storage/checkpoint.py)
    # instead of inside the writer's commits: the log still starts over once it passes
    # the limit, and the writer's connection gets its autocheckpoint back afterwards.
    import threading

    from papers_cli.storage import checkpoint

    monkeypatch.setattr(checkpoint, "WAL_LIMIT", 256 << 10)
    copies = 0
    real_run = checkpoint.Checkpointer._run

    def counting(self: checkpoint.Checkpointer) -> None:
        nonlocal copies
        real = self._conn

        class Counted:
            def execute(self, sql: str) -> sqlite3.Cursor:
                nonlocal copies
                copies += 1
                return real.execute(sql)

            def __getattr__(self, name: str) -> Any:
                return getattr(real, name)

        self._conn = Counted()  # type: ignore[assignment]
        real_run(self)

    monkeypatch.setattr(checkpoint.Checkpointer, "_run", counting)
    db = tmp_path / "fast.db"
    conn = connect(db)
    files = sorted(bench_pages.iterdir())
    ingest_sources(conn, expand_paths([str(f) for f in files]), today=TODAY, parallel=True,
                   batch_records=BATCH, batch_seconds=1e9)
    wal = Path(str(db) + "-wal").stat().st_size
    size = db.stat().st_size
    assert conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 65536
    conn.close()
    assert len(planned) > 5 and copies >= len(planned) - 1
    # Without checkpoints the log would hold every page written (as large as the file).
    assert wal < size / 2, (wal, size)
    assert not [t for t in threading.enumerate() if t.name == "papers-checkpoint"]
    slow = tmp_path / "slow.db"
    _ingest(slow, files, parallel=False)
    _same(snapshot(slow), snapshot(db))


def test_a_reader_that_holds_the_log_does_not_stall_the_checkpoints(
        bench_pages: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Another program reading one snapshot all along: the log cannot start over. Each
    # try waits 0.1 s and the next comes a limit later: the ingest goes on, complete.
    import time

    from papers_cli.storage import checkpoint

    monkeypatch.setattr(checkpoint, "WAL_LIMIT", 1 << 20)
    db = tmp_path / "fast.db"
    connect(db).close()
    reader = sqlite3.connect(db, isolation_level=None)
    reader.execute("BEGIN")
    assert reader.execute("SELECT count(*) FROM papers").fetchone()[0] == 0
    files = sorted(bench_pages.iterdir())
    started = time.monotonic()
    fast = _ingest(db, files, parallel=True)
    took = time.monotonic() - started
    assert reader.execute("SELECT count(*) FROM papers").fetchone()[0] == 0  # its snapshot
    reader.execute("COMMIT")
    reader.close()
    slow = _ingest(tmp_path / "slow.db", files, parallel=False)
    assert _outcomes(fast) == _outcomes(slow)
    _same(snapshot(tmp_path / "slow.db"), snapshot(db))
    assert took < 60


def test_no_checkpoint_runs_while_a_planning_worker_is_forked(
        bench_pages: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A worker forked while the checkpoint thread is inside SQLite inherits SQLite's
    # locks held and waits on them for ever (a full test run hung so). Checkpoints are
    # slowed and batches fail, so that workers are forked again and again mid-run.
    import time

    from papers_cli.engine.ingest import pipeline
    from papers_cli.storage import checkpoint

    running: list[bool] = []
    real_run = checkpoint.Checkpointer._run

    def slow(self: checkpoint.Checkpointer) -> None:
        real = self._conn

        class Slow:
            def execute(self, sql: str) -> sqlite3.Cursor:
                running.append(True)
                time.sleep(0.05)
                try:
                    return real.execute(sql)
                finally:
                    running.append(False)

            def __getattr__(self, name: str) -> Any:
                return getattr(real, name)

        self._conn = Slow()  # type: ignore[assignment]
        real_run(self)

    forked_during: list[bool] = []
    real_init = pipeline.Planner.__init__

    def init(self: pipeline.Planner, *args: Any) -> None:
        forked_during.append(bool(running) and running[-1])
        real_init(self, *args)

    monkeypatch.setattr(checkpoint.Checkpointer, "_run", slow)
    monkeypatch.setattr(pipeline.Planner, "__init__", init)
    _failing_writes(monkeypatch, (3, 5))
    files = sorted(bench_pages.iterdir())
    fast = _ingest(tmp_path / "fast.db", files, parallel=True)
    assert len(forked_during) >= 3 and not any(forked_during)
    slow_report = _ingest(tmp_path / "slow.db", files, parallel=False)
    assert _outcomes(fast) == _outcomes(slow_report)
    _same(snapshot(tmp_path / "slow.db"), snapshot(tmp_path / "fast.db"))
