"""Crash safety, concurrent writers, hostile input: nothing lost, nothing doubled."""

from __future__ import annotations

import json
import random
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers import (
    HEADER,
    JAN,
    Unprivileged,
    check_consistent,
    dump,
    interruptible,
    make_pages,
    page,
    snapshot,
)
from papers_cli.cli.app import app
from papers_cli.storage.connection import connect
from papers_cli.storage.read import counts
from papers_cli.storage.schema import VERSION as SCHEMA_VERSION

PAPERS = str(Path(sys.executable).parent / "papers")


def papers(db: Path, *args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([PAPERS, "--db", str(db), *args], capture_output=True, text=True,
                          check=False, **kw)


# --------------------------------------------------------------------- hostile input

GOOD = "Good title\n\nGood abstract.\n\n  • 2 authors\n·\nMar 1, 2024\n"
HOSTILE = {
    "empty": (b"", "empty file"),
    "header only": ((HEADER + "Jan 7\n").encode(), "no records"),
    "truncated last record": (page(GOOD + "\nCut title\n").encode(), "truncated"),
    "feb 30": (page("T\n\nA\n\n  • 2 authors\n·\nFeb 30, 2024\n").encode(), "not a real date"),
    "foo 3": (page("T\n\nA\n\n  • 2 authors\n·\nFoo 3\n").encode(), "expected a date"),
    "latin-1": (page("T\n\nCaf\xe9 abstract\n").encode("latin-1"), "not valid UTF-8"),
    "nul": (page(GOOD).encode().replace(b"Good abstract", b"Good\x00abstract"), "NUL"),
    "binary": (bytes(range(256)) * 40, "line"),
    "json garbage": (b'[{"paper": ', "invalid JSON"),
    "html without papers": (b"<!DOCTYPE html><html><body>hi</body></html>", "no papers found"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_pages_one_line_error_db_unchanged(case: str, tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    assert papers(db, "ingest", str(JAN)).returncode == 0
    before = dump(connect(db))
    data, needle = HOSTILE[case]
    f = tmp_path / f"{case.replace(' ', '-')}.txt"
    f.write_bytes(data)
    res = papers(db, "ingest", str(f))
    assert res.returncode == 1
    lines = [ln for ln in res.stderr.splitlines() if str(f) in ln]
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in res.stderr
    assert dump(connect(db)) == before


def test_correct_results_for_odd_but_valid_input(tmp_path: Path) -> None:
    db = tmp_path / "v.db"
    no_author = page("No author line\n\nAbstract here.\n\n·\nMar 1, 2024 3\n")
    crlf_bom = b"\xef\xbb\xbf" + page(GOOD).replace("\n", "\r\n").encode()
    huge = page("Huge abstract\n\n" + ("word " * 19_000) + "\n\n  • 1 authors\n·\nMar 2\n")
    odd_json = json.dumps([{"paper": {"id": "2401.00001", "title": "Odd upvotes",
                                      "upvotes": " 12", "authors": [{"name": " nobody "}]}}])
    for name, data in (("a.txt", no_author), ("b.txt", crlf_bom), ("c.txt", huge),
                       ("d.json", odd_json)):
        (tmp_path / name).write_bytes(data if isinstance(data, bytes) else data.encode())
    res = papers(db, "ingest", *(str(tmp_path / n) for n in ("a.txt", "b.txt", "c.txt",
                                                              "d.json")))
    assert res.returncode == 0, res.stderr
    conn = connect(db)
    rows = {r[0]: r[1:] for r in conn.execute(
        "SELECT title, comments, authors_count, length(abstract), upvotes FROM papers")}
    assert rows["No author line"][:2] == (3, None)
    assert rows["Good title"][1] == 2
    assert rows["Huge abstract"][2] == 95_000 - 1  # under the 100k cap
    assert rows["Odd upvotes"][3] == 12  # a count written as text is still the count


@pytest.fixture
def shared_dir() -> Iterator[tuple[Path, Unprivileged]]:
    """A directory the unprivileged child can reach (pytest's tmp_path is 0700 under
    /tmp/pytest-of-root), owned by whoever that child runs as."""
    user = Unprivileged()
    d = Path(tempfile.mkdtemp(prefix="papers-perm-"))
    d.chmod(0o755)
    user.own(d)
    try:
        yield d, user
    finally:
        for p in (d, *d.rglob("*")):
            p.chmod(0o700 if p.is_dir() else 0o600)
        shutil.rmtree(d)


def test_paths_missing_unreadable_directory_twice(
        shared_dir: tuple[Path, Unprivileged]) -> None:
    d, user = shared_dir
    db = d / "p.db"
    locked = d / "locked.txt"
    locked.write_text(page(GOOD))
    jan = d / JAN.name
    shutil.copy(JAN, jan)
    user.own(locked, jan)
    jan.chmod(0o644)
    locked.chmod(0)
    args = [str(d / "missing.txt"), str(locked), str(jan), str(jan)]
    res = papers(db, "ingest", *args, **user.kwargs())
    assert f"{locked}: Permission denied" in res.stderr, res.stderr
    assert "missing.txt: no such file or directory" in res.stderr
    assert "Traceback" not in res.stderr
    assert res.returncode == 1
    assert counts(connect(db))["sightings"] >= 14
    assert res.stderr.count("convergent-jan.txt") == 1  # a path given twice is read once


def test_unreadable_file_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Root (as in CI) reads files without read permission, so simulate the OS refusal.
    from papers_cli.engine.ingest import expand_paths, ingest_sources

    f = tmp_path / "secret.txt"
    f.write_text(page(GOOD))
    real_open = Path.open

    def refuse(self: Path, *a, **kw):
        if self.name == "secret.txt":
            raise PermissionError(13, "Permission denied")
        return real_open(self, *a, **kw)

    monkeypatch.setattr(Path, "open", refuse)
    conn = connect(tmp_path / "u.db")
    report = ingest_sources(conn, expand_paths([str(f), str(JAN)]))
    assert [o.status for o in report.outcomes] == ["rejected", "ingested"]
    assert report.outcomes[0].message == f"{f}: Permission denied"


def test_bad_databases(tmp_path: Path) -> None:
    not_sqlite = tmp_path / "x.db"
    not_sqlite.write_text("just text\n" * 500)
    res = papers(not_sqlite, "stats")
    assert res.returncode == 2 and "not a papers database" in res.stderr
    newer = tmp_path / "newer.db"
    c = sqlite3.connect(newer)
    c.execute("PRAGMA user_version = 99")
    c.close()
    res = papers(newer, "ingest", str(JAN))
    assert res.returncode == 2 and "newer than this papers supports" in res.stderr



@pytest.mark.slow
def test_read_only_database(shared_dir: tuple[Path, Unprivileged]) -> None:
    d, user = shared_dir
    ro = d / "ro.db"
    jan = d / JAN.name
    shutil.copy(JAN, jan)
    jan.chmod(0o644)
    assert papers(ro, "ingest", str(jan)).returncode == 0
    c = sqlite3.connect(ro)
    c.execute("PRAGMA journal_mode = DELETE")  # a read-only WAL file cannot be opened
    c.close()
    user.own(ro, jan)
    before = dump(connect(ro))
    ro.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    d.chmod(0o555)
    res = papers(ro, "ingest", str(d / "none.txt"), str(jan), **user.kwargs())
    assert res.returncode == 2 and "read-only" in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr
    # Reading still works on a database that cannot be written.
    listed = papers(ro, "list", "--format", "json", **user.kwargs())
    assert listed.returncode == 0, listed.stderr
    d.chmod(0o755)
    assert dump(connect(ro)) == before


def test_doctor_rebuilds_deleted_index(tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    papers(db, "ingest", str(JAN))
    c = sqlite3.connect(db)
    c.execute("DELETE FROM papers WHERE id = 1")  # leaves orphan sightings
    c.execute("DROP TABLE papers_fts")
    c.commit()
    c.close()
    res = papers(db, "search", "convergent")
    assert res.returncode == 2 and "papers doctor --fix" in res.stderr
    check = papers(db, "doctor", "--json")
    assert check.returncode == 1
    report = json.loads(check.stdout)
    assert report["missing_fts_objects"] == ["papers_fts"] and report["orphan_sightings"] == 1
    fixed = papers(db, "doctor", "--fix")
    assert fixed.returncode == 0, fixed.stderr
    assert "deleted 1 orphan sighting(s)" in fixed.stderr
    check_consistent(db)
    assert papers(db, "search", "convergent").returncode == 0


def _old_database(path: Path, version: int) -> None:
    """A database as an older papers left it: the first `version` migrations only."""
    from papers_cli.storage import schema

    c = sqlite3.connect(path, isolation_level=None)
    for step in schema.STEPS[:version]:
        step(c)
    c.execute(f"PRAGMA user_version = {version}")
    c.close()


@pytest.mark.parametrize("version", [1, 2])
def test_older_schema_is_migrated(tmp_path: Path, version: int) -> None:
    db = tmp_path / "old.db"
    _old_database(db, version)
    assert papers(db, "ingest", str(JAN)).returncode == 0
    c = sqlite3.connect(db)
    assert c.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    config = dict(c.execute("SELECT k, v FROM papers_fts_config"))
    assert config["hashsize"] == 16 << 20 and config["automerge"] == 8
    assert c.execute("SELECT count(*) FROM merge_runs").fetchone()[0] == 0  # v2 tables
    assert "title_key" in {r[1] for r in c.execute("PRAGMA table_info(merges)")}  # v4
    c.close()
    check_consistent(db)
    assert papers(db, "search", "convergent").returncode == 0


def test_migration_of_a_corpus_without_its_index(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    _old_database(db, 2)
    c = sqlite3.connect(db)
    c.execute("DROP TABLE papers_fts")
    c.commit()
    c.close()
    res = papers(db, "doctor", "--fix")
    assert res.returncode == 0, res.stderr
    c = sqlite3.connect(db)
    assert dict(c.execute("SELECT k, v FROM papers_fts_config"))["hashsize"] == 16 << 20
    c.close()
    assert papers(db, "ingest", str(JAN)).returncode == 0
    check_consistent(db)


def test_rich_output_of_hostile_stored_text(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    titles = ["[bold red]Markup[/] \"quoted\" 'single'; -- DROP", "NEAR(a b) OR title:x *",
              "学习 表示 🚀 مرحبا بالعالم", "=SUM(A1) formula"]
    body = "".join(f"{t}\n\nAbstract {i} about markup.\n\n  • 1 authors\n·\nMar {i + 1}, 2024\n\n"
                   for i, t in enumerate(titles))
    (tmp_path / "p.txt").write_text(page(body))
    papers(db, "ingest", str(tmp_path / "p.txt"))
    runner = CliRunner()
    table = runner.invoke(app, ["--db", str(db), "list", "--format", "table"]).stdout
    assert "[bold red]Markup[/]" in table and "学习" in table
    hits = runner.invoke(app, ["--db", str(db), "search", "markup", "--format", "table"]).stdout
    assert "[bold red]" in hits
    for t in titles:
        got = runner.invoke(app, ["--db", str(db), "search", t, "--json"])
        assert got.exit_code in (0, 1), got.stderr


# ----------------------------------------------------------------------- crash safety

@pytest.mark.slow
def test_sigkill_during_ingest_then_rerun_equals_clean_run(tmp_path: Path) -> None:
    pages = make_pages(tmp_path / "pages", pages=160, per_page=40)
    ref = tmp_path / "ref.db"
    assert papers(ref, "ingest", "-q", str(pages)).returncode == 0
    expected = snapshot(ref)
    rng = random.Random(7)
    for attempt in range(4):
        db = tmp_path / f"k{attempt}.db"
        for _ in range(2):  # two kills, at different points, before a clean finish
            proc = subprocess.Popen([PAPERS, "--db", str(db), "ingest", "-q", str(pages)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.2, 1.5))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            if db.exists():
                check_consistent(db)
        assert papers(db, "ingest", "-q", str(pages)).returncode == 0
        check_consistent(db)
        assert snapshot(db) == expected


@pytest.mark.slow
def test_sigkill_during_dedupe_apply(tmp_path: Path) -> None:
    pages = make_pages(tmp_path / "pages", pages=40, per_page=30)
    variants = "".join(
        f"Paper {r}: sparse dense attention modle learning\n\n"
        + " ".join(f"w{r}x{k}" for k in range(60)) + f"\n\n  • 2 authors\n·\nMar 3, 2024\n\n"
        f"paper {r} - sparse dense attention model learning\n\n"
        + " ".join(f"w{r}x{k}" for k in range(60)) + "\n\n  • 2 authors\n·\nMar 3, 2024\n\n"
        for r in range(300))
    (pages / "variants.txt").write_text(page(variants))
    base = tmp_path / "base.db"
    assert papers(base, "ingest", "-q", str(pages)).returncode == 0
    ref = tmp_path / "ref.db"
    ref.write_bytes(base.read_bytes())
    assert papers(ref, "dedupe", "--apply").returncode == 0
    expected = snapshot(ref)
    assert expected != snapshot(base)
    rng = random.Random(3)
    for attempt in range(3):
        db = tmp_path / f"d{attempt}.db"
        db.write_bytes(base.read_bytes())
        proc = subprocess.Popen([PAPERS, "--db", str(db), "dedupe", "--apply"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.05, 0.6))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        check_consistent(db)
        assert snapshot(db) in (snapshot(base), expected)  # all or nothing
        assert papers(db, "dedupe", "--apply").returncode == 0
        check_consistent(db)
        assert snapshot(db) == expected


# ------------------------------------------------------------------------ concurrency

READER = r"""
import sqlite3, sys, time
db, stop = sys.argv[1], time.time() + float(sys.argv[2])
bad = runs = 0
while time.time() < stop:
    try:
        c = sqlite3.connect(db, timeout=30)
        c.execute("BEGIN")
        bad += c.execute("SELECT count(*) FROM pages g WHERE records != (SELECT count(*) "
                         "FROM sightings s WHERE s.page_id = g.id)").fetchone()[0]
        c.execute("SELECT count(*) FROM papers_fts WHERE papers_fts MATCH 'sparse'").fetchone()
        c.execute("COMMIT")
        c.close()
        runs += 1
    except sqlite3.OperationalError as e:
        if "no such table" not in str(e):
            raise
    time.sleep(0.02)
print(bad, runs)
"""


@pytest.mark.slow
@pytest.mark.parametrize("writers", [2, 4])
def test_concurrent_ingest_equals_sequential(tmp_path: Path, writers: int) -> None:
    pages = make_pages(tmp_path / "pages", pages=80, per_page=30)
    files = sorted(str(p) for p in pages.iterdir())
    ref = tmp_path / "ref.db"
    assert papers(ref, "ingest", "-q", str(pages)).returncode == 0
    db = tmp_path / "c.db"
    assert papers(db, "stats").returncode == 2  # no database yet
    papers(db, "ingest", "-q", files[0])  # create it first so the reader has tables
    reader = subprocess.Popen([sys.executable, "-c", READER, str(db), "6"],
                              stdout=subprocess.PIPE, text=True)
    procs = []
    for w in range(writers):  # overlapping halves, in different orders
        mine = files[w::2] + files[: len(files) // 2]
        if w % 2:
            mine.reverse()
        procs.append(subprocess.Popen([PAPERS, "--db", str(db), "ingest", "-q", *mine],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                      text=True))
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    out, _ = reader.communicate(timeout=60)
    bad, runs = (int(x) for x in out.split())
    assert bad == 0 and runs > 0  # readers never saw half a page
    check_consistent(db)
    assert snapshot(db) == snapshot(ref)


@pytest.mark.slow
def test_ctrl_c_exits_130_and_leaves_database_consistent(tmp_path: Path) -> None:
    pages = make_pages(tmp_path / "pages", pages=160, per_page=40)
    db = tmp_path / "i.db"
    proc = subprocess.Popen([PAPERS, "--db", str(db), "ingest", "-q", str(pages)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=interruptible)
    deadline = time.monotonic() + 60  # until the ingest has begun (a loaded machine is slow)
    while time.monotonic() < deadline and proc.poll() is None and not db.exists():
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode in (0, 130)  # 0 only if it had already finished
    assert "Traceback" not in err
    if proc.returncode == 130:
        assert "interrupted" in err
    check_consistent(db)
    assert papers(db, "ingest", "-q", str(pages)).returncode == 0
    check_consistent(db)


_PEAK_WRAPPER = """
import sys
from papers_cli.cli.app import main
try:
    main()
finally:
    status = open('/proc/self/status').read()
    peak = next(l for l in status.splitlines() if l.startswith('VmHWM:'))
    sys.stderr.write('PEAK ' + peak.split()[1] + '\\n')
"""


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc")
def test_100_mb_page_is_streamed_in_flat_memory(tmp_path: Path) -> None:
    # Written in pieces so that the test does not hold the page either.
    big = tmp_path / "big.txt"
    n = 0
    with big.open("w") as f:
        f.write(page(""))
        while f.tell() < 100 << 20:
            words = " ".join(f"w{(n * 31 + k) % 997}" for k in range(300))
            f.write(f"Paper number {n} on streamed memory\n\n{words} end {n}.\n\n"
                    f"  • 3 authors\n·\nMar {1 + n % 28}, 2024\n\n")
            n += 1
    db = tmp_path / "big.db"
    res = subprocess.run([sys.executable, "-c", _PEAK_WRAPPER, "--db", str(db), "ingest",
                          str(big)], capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr[-500:]
    peak_mb = int(res.stderr.split("PEAK ")[1].split()[0]) / 1024
    # Held whole, the page alone would be 100 MB of bytes plus its decoded text and
    # records (over 300 MB); streamed, the peak is SQLite's cache and one batch.
    print(f"peak {peak_mb:.0f} MB for a {big.stat().st_size >> 20} MB page of {n} records")
    assert peak_mb < 200, f"peak {peak_mb:.0f} MB"
    conn = connect(db)
    got = counts(conn)
    assert (got["papers"], got["sightings"]) == (n, n)
    conn.close()
    check_consistent(db)
