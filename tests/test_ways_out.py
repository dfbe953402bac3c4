"""Ways out (issue "Trust at the edges", item 6): a damaged database is named and its
readable rows recovered; a database that cannot be written is read; another
program's lock is waited for out loud; every error is told apart by its code."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from waysout import (
    build,
    copy,
    doctor_json,
    ids,
    leaf_rowids,
    noise,
    one_line,
    pages_of,
    papers,
    readable_alone,
    truncate,
    zero_page,
)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("corpus"))


# ------------------------------------------------------------------ damage and recovery

def _middle(db: Path) -> set[int] | None:
    at = db.stat().st_size // 2
    noise(db, at)
    return set(range(at // 4096 + 1, (at + 8192 - 1) // 4096 + 2))


def _papers_leaf(db: Path) -> set[int] | None:
    leaves = pages_of(db, "papers")
    noise(db, (leaves[len(leaves) // 2] - 1) * 4096, 4096)
    return {leaves[len(leaves) // 2]}


def _sightings_leaf(db: Path) -> set[int] | None:
    leaves = pages_of(db, "sightings")
    zero_page(db, leaves[len(leaves) // 3])
    return {leaves[len(leaves) // 3]}


def _index(db: Path) -> set[int] | None:
    page = pages_of(db, "sightings_paper")[0]
    noise(db, (page - 1) * 4096, 4096, seed=3)
    return {page}


def _fts(db: Path) -> set[int] | None:
    page = pages_of(db, "papers_fts_data")[1]
    noise(db, (page - 1) * 4096, 4096, seed=4)
    return {page}


def _cut(fraction: float) -> Callable[[Path], set[int] | None]:
    def cut(db: Path) -> set[int] | None:
        truncate(db, fraction)
        return None  # interior pages past the cut hide whole subtrees: see readable_alone
    return cut


DAMAGE: dict[str, Callable[[Path], set[int] | None]] = {
    "8 KB of noise mid-file": _middle,
    "truncated to 2/3": _cut(2 / 3),
    "truncated to 1/2, mid-page": _cut(0.5),
    "noise on a papers leaf": _papers_leaf,
    "a zeroed sightings leaf": _sightings_leaf,
    "noise on an index": _index,
    "noise on the search index": _fts,
}


@pytest.mark.parametrize("how", DAMAGE)
def test_doctor_names_the_damage_and_recover_rescues_the_rest(
        pristine: Path, tmp_path: Path, how: str) -> None:
    db = copy(pristine, tmp_path / "hurt.db")
    every = ids(pristine)
    hit = DAMAGE[how](db)
    alone = readable_alone(db, every)
    if hit is not None:
        # Papers not on a damaged page, counted from the copy made before the damage.
        leaves = set(pages_of(pristine, "papers"))
        on_hit = {i for p in hit & leaves for i in leaf_rowids(pristine, p)}
        assert every - on_hit <= alone
        alone = every - on_hit

    check = papers(db, "doctor")
    assert check.returncode == 1, check.stderr
    assert "Traceback" not in check.stderr
    assert "the database is damaged: " in check.stderr
    assert "run 'papers doctor'" not in check.stderr  # no dead end
    out = tmp_path / "hurt-recovered.db"
    command = f"papers --db {db} doctor --recover {out}"
    assert command in check.stderr, check.stderr
    report = doctor_json(db)
    assert report["damaged"] and report["recover"] == command
    fixed = papers(db, "doctor", "--fix")
    assert fixed.returncode == 1 and command in fixed.stderr

    got = papers(db, "doctor", "--recover", str(out))
    assert got.returncode in (0, 1), got.stderr
    assert "Traceback" not in got.stderr
    assert papers(out, "doctor").returncode == 0  # papers' own, whole
    rescued = ids(out)
    assert alone <= rescued  # every paper a lookup can read, and more from sightings
    assert rescued <= every
    if how in ("noise on an index", "noise on the search index", "noise on a papers leaf"):
        # Every table row readable, or (a papers leaf) folded again from its sightings.
        assert got.returncode == 0 and rescued == every, got.stdout + got.stderr
        assert ids(out, "SELECT * FROM watches") == ids(pristine, "SELECT * FROM watches")
        assert ids(out, "SELECT origin_id, tag FROM personal_tags") == ids(
            pristine, "SELECT origin_id, tag FROM personal_tags")
        assert ids(out, "SELECT text FROM personal_notes") == {"a note to keep"}
    if how == "a zeroed sightings leaf":
        assert got.returncode == 1 and "lost" in got.stdout
        assert rescued == every  # the papers table itself was whole
    assert papers(out, "search", "sparse", "--format", "ids").returncode == 0


def test_recovered_rows_equal_the_originals(pristine: Path, tmp_path: Path) -> None:
    db = copy(pristine, tmp_path / "hurt.db")
    _papers_leaf(db)
    out = tmp_path / "out.db"
    assert papers(db, "doctor", "--recover", str(out)).returncode == 0
    cols = "id, title, abstract, published, upvotes, authors_count"
    assert ids(out, f"SELECT {cols} FROM papers") == ids(pristine, f"SELECT {cols} FROM papers")
    assert ids(out, "SELECT * FROM sightings") == ids(pristine, "SELECT * FROM sightings")


def test_recover_refuses_an_out_that_exists_or_is_the_input(pristine: Path,
                                                             tmp_path: Path) -> None:
    db = copy(pristine, tmp_path / "hurt.db")
    _middle(db)
    before = db.read_bytes()
    taken = tmp_path / "taken.db"
    taken.write_text("mine")
    link = tmp_path / "link.db"
    link.symlink_to(db)
    (tmp_path / "dir.db").mkdir()
    for out, says in ((taken, "exists"), (db, "damaged database itself"),
                      (link, "damaged database itself"), (tmp_path / "dir.db", "exists"),
                      (tmp_path / "none" / "out.db", "not a folder")):
        r = papers(db, "doctor", "--recover", str(out))
        assert r.returncode == 2 and says in one_line(r.stderr), (out, r.stderr)
    assert taken.read_text() == "mine" and db.read_bytes() == before


def test_recover_of_a_healthy_database_copies_everything(pristine: Path,
                                                         tmp_path: Path) -> None:
    out = tmp_path / "copy.db"
    r = papers(pristine, "doctor", "--recover", str(out), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["complete"] is True
    assert ids(out) == ids(pristine)
    assert papers(out, "doctor").returncode == 0


# ------------------------------------------------------------------ cannot be written

READS = (("stats",), ("list", "--limit", "3"), ("search", "sparse", "--limit", "3"),
         ("show", "5"), ("export", "--json", "--limit", "3"), ("pages",),
         ("similar", "5", "--limit", "3"), ("digest", "--dry-run"), ("note", "5", "--show"),
         ("doctor",))
WRITES = (("tag", "3", "--add", "x"), ("ingest", "-"), ("rm", "1"), ("dedupe", "--apply"),
          ("watch", "add", "w2", "graph"))


def _reads_work_writes_refused(db: Path, say: str, **kw) -> None:
    before = db.read_bytes()
    for args in READS:
        r = papers(db, *args, **kw)
        assert r.returncode == 0, (args, r.stderr)
        assert "Traceback" not in r.stderr
    for args in WRITES:
        r = papers(db, *args, input="", **kw)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert say in one_line(r.stderr), (args, r.stderr)
    assert db.read_bytes() == before


@pytest.fixture
def shared(tmp_path: Path) -> Path:
    """A folder an unprivileged child can reach (see helpers.Unprivileged)."""
    import tempfile

    d = Path(tempfile.mkdtemp(prefix="papers-ro-"))
    d.chmod(0o755)
    yield d
    for p in (d, *d.rglob("*")):
        p.chmod(0o700 if p.is_dir() else 0o600)
    shutil.rmtree(d)


def test_read_only_file_and_folder(pristine: Path, shared: Path) -> None:
    from helpers import Unprivileged

    user = Unprivileged()
    db = copy(pristine, shared / "ro.db")
    user.own(shared, db)
    db.chmod(0o444)
    shared.chmod(0o555)
    _reads_work_writes_refused(db, "the database is read-only", **user.kwargs())
    # The MCP server's way in (connect_reader), as `papers mcp` opens it.
    code = ("import sys; from pathlib import Path; from papers_cli.mcp.server import "
            "open_database as o; c = o(Path(sys.argv[1]), allow_write=False); "
            "print(c.execute('SELECT count(*) FROM papers').fetchone()[0])")
    r = subprocess.run([sys.executable, "-c", code, str(db)], capture_output=True, text=True,
                       check=False, **user.kwargs())
    assert r.returncode == 0 and int(r.stdout) == len(ids(pristine)), r.stderr


def test_older_schema_where_it_cannot_be_written(shared: Path) -> None:
    from helpers import Unprivileged
    from papers_cli.storage import schema

    user = Unprivileged()
    db = shared / "old.db"
    c = sqlite3.connect(db, isolation_level=None)
    for step in schema.STEPS[:3]:
        step(c)
    c.execute("PRAGMA user_version = 3")
    c.execute("PRAGMA journal_mode = WAL")
    c.close()
    user.own(shared, db)
    db.chmod(0o444)
    shared.chmod(0o555)
    for args in (("list",), ("search", "x"), ("tag", "1", "--add", "x")):
        r = papers(db, *args, **user.kwargs())
        assert r.returncode == 2, r.stderr
        line = one_line(r.stderr)
        assert "older than this papers" in line and "where it can be written" in line


def _in_namespace() -> str | None:
    """Why a private mount namespace cannot be had here (None: it can)."""
    if shutil.which("unshare") is None:
        return "no unshare"
    r = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k t /mnt"],
                       capture_output=True, text=True, check=False)
    return None if r.returncode == 0 else f"cannot mount in a namespace: {r.stderr.strip()}"


def _mounted(script: str, db: Path, *args: str, **kw) -> subprocess.CompletedProcess:
    """`papers --db DB ARGS` after `script` (mounts), in a private mount namespace."""
    cmd = " ".join(map(shlex_quote, [sys.executable, "-m", "papers_cli", "--db", str(db),
                                     *args]))
    return subprocess.run(["unshare", "-m", "sh", "-c", f"set -e; {script}; exec {cmd}"],
                          capture_output=True, text=True, check=False, timeout=120, **kw)


def shlex_quote(s: str) -> str:
    import shlex

    return shlex.quote(s)


def test_read_only_medium(pristine: Path, tmp_path: Path) -> None:
    why = _in_namespace()
    if why:
        pytest.skip(why)
    src, mnt = tmp_path / "src", tmp_path / "mnt"
    src.mkdir()
    mnt.mkdir()
    db = copy(pristine, src / "p.db")
    ro = f"mount --bind {src} {mnt}; mount -o remount,bind,ro {mnt}"
    before = db.read_bytes()
    for args in READS:
        r = _mounted(ro, mnt / "p.db", *args)
        assert r.returncode == 0, (args, r.stderr)
    for args in WRITES:
        r = _mounted(ro, mnt / "p.db", *args, input="")
        assert r.returncode == 2 and "read-only" in one_line(r.stderr), (args, r.stderr)
    # `papers mcp`, read-only as documented, answers a client.
    import anyio
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    cmd = " ".join(map(shlex_quote, [sys.executable, "-m", "papers_cli", "mcp", "--db",
                                     str(mnt / "p.db")]))
    params = StdioServerParameters(command="unshare", args=["-m", "sh", "-c",
                                                            f"set -e; {ro}; exec {cmd}"],
                                   env=dict(os.environ))
    got: dict = {}

    async def main() -> None:
        async with stdio_client(params) as (r, w), ClientSession(r, w) as s:
            await s.initialize()
            for tool in ("stats", "search"):
                res = await s.call_tool(tool, {"query": "sparse"} if tool == "search" else {})
                assert not res.isError, res.content
                got[tool] = res.structuredContent

    anyio.run(main)
    assert got["stats"]["papers"] == len(ids(pristine)) and got["search"]
    assert db.read_bytes() == before


@pytest.mark.parametrize("shm", ["kept", "none"])
def test_full_disk(pristine: Path, tmp_path: Path, shm: str) -> None:
    why = _in_namespace()
    if why:
        pytest.skip(why)
    disk = tmp_path / "disk"
    disk.mkdir()
    size = pristine.stat().st_size + 200 * 1024
    # A tmpfs just larger than the database, filled up; with the -shm file that an
    # earlier run left (a write then meets SQLITE_FULL), or without (none can be made).
    keep = (f"{sys.executable} -c \"import sqlite3; c = sqlite3.connect('{disk}/p.db'); "
            "c.execute('select 1 from papers').fetchall(); import os; os._exit(0)\"; "
            if shm == "kept" else "")
    setup = (f"mount -t tmpfs -o size={size} t {disk}; cp {pristine} {disk}/p.db; {keep}"
             f"(dd if=/dev/zero of={disk}/fill bs=4k 2>/dev/null || true)")
    for args in READS:
        r = _mounted(setup, disk / "p.db", *args)
        assert r.returncode == 0, (args, r.stderr)
    for args in WRITES[:1] + WRITES[4:]:
        r = _mounted(setup, disk / "p.db", *args, input="")
        assert r.returncode == 2 and "disk full" in one_line(r.stderr), (args, r.stderr)


def test_file_size_limit(pristine: Path, tmp_path: Path) -> None:
    """RLIMIT_FSIZE (any user): no file may grow, as on a full disk, the -shm included."""
    import resource

    db = copy(pristine, tmp_path / "p.db")

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    before = db.read_bytes()
    for args in READS:
        r = papers(db, *args, preexec_fn=limit)
        assert r.returncode == 0, (args, r.stderr)
    for args in WRITES[:1]:
        r = papers(db, *args, preexec_fn=limit)
        assert r.returncode == 2, (args, r.stderr)
        one_line(r.stderr)
    assert db.read_bytes() == before


# ------------------------------------------------------------------ another program's lock

def _holder(db: Path, exclusive_reads: bool = False) -> sqlite3.Connection:
    """Another program holding the database's write lock (or, in exclusive locking
    mode after a write, every lock: readers wait too)."""
    h = sqlite3.connect(db, isolation_level=None)
    if exclusive_reads:
        h.execute("PRAGMA locking_mode = EXCLUSIVE")
    h.execute("BEGIN EXCLUSIVE")
    if exclusive_reads:
        h.execute("UPDATE settings SET value = value WHERE key = 'max_paper_id'")
    return h


WAITING = ("papers: the database is locked by another program; waiting up to 30 s "
           "(Ctrl-C to stop)")


@pytest.mark.parametrize("args,exclusive", [(("tag", "3", "--add", "y"), False),
                                            (("list", "--limit", "2"), True)])
def test_waits_for_another_programs_lock_and_says_so(pristine: Path, tmp_path: Path,
                                                     args: tuple[str, ...],
                                                     exclusive: bool) -> None:
    db = copy(pristine, tmp_path / "p.db")
    h = _holder(db, exclusive)
    started = time.monotonic()
    p = subprocess.Popen([sys.executable, "-m", "papers_cli", "--db", str(db), *args],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(2.5)
    h.execute("ROLLBACK")
    h.close()
    _, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    assert err.count(WAITING) == 1 and "Traceback" not in err
    assert time.monotonic() - started >= 2.5


def test_gives_up_after_the_timeout_with_a_true_message(pristine: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from papers_cli.cli.app import app
    from papers_cli.storage import busy

    monkeypatch.setattr(busy, "BUSY_TIMEOUT_MS", 2000)
    db = copy(pristine, tmp_path / "p.db")
    h = _holder(db)
    try:
        res = CliRunner().invoke(app, ["--db", str(db), "tag", "3", "--add", "y"])
    finally:
        h.close()
    assert res.exit_code == 2
    assert "waiting up to 2 s" in res.stderr
    assert "locked by another program" in res.stderr.splitlines()[-1]
    assert "another papers is writing" not in res.stderr


def test_ctrl_c_while_waiting_exits_130(pristine: Path, tmp_path: Path) -> None:
    from helpers import interruptible

    db = copy(pristine, tmp_path / "p.db")
    h = _holder(db)
    p = subprocess.Popen([sys.executable, "-m", "papers_cli", "--db", str(db), "tag", "3",
                          "--add", "y"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, preexec_fn=interruptible)
    time.sleep(2.5)
    p.send_signal(signal.SIGINT)
    sent = time.monotonic()
    _, err = p.communicate(timeout=30)
    h.close()
    assert p.returncode == 130 and time.monotonic() - sent < 2
    assert WAITING in err and "Traceback" not in err


# ------------------------------------------------------------------ errors by code

def test_errors_are_told_apart_by_code_not_text() -> None:
    from papers_cli.storage.errors import classify

    cases = {"SQLITE_BUSY": "busy", "SQLITE_READONLY_DIRECTORY": "read-only",
             "SQLITE_CORRUPT_INDEX": "damaged", "SQLITE_FULL": "disk",
             "SQLITE_IOERR_SHMSIZE": "disk", "SQLITE_CANTOPEN": "cannot open",
             "SQLITE_NOTADB": "not a database"}
    for code, kind in cases.items():
        e = sqlite3.OperationalError("database disk image is malformed")  # misleading text
        e.sqlite_errorname = code  # type: ignore[attr-defined]
        assert classify(e).kind == kind, code
    e = sqlite3.OperationalError("database is locked")  # no code: not told by text
    assert classify(e).kind == "error"


def test_read_only_folder_with_changes_left_in_the_wal(pristine: Path, tmp_path: Path) -> None:
    """No -shm can be made beside a -wal that holds a commit: the database is read as
    of its last checkpoint, and papers says so."""
    why = _in_namespace()
    if why:
        pytest.skip(why)
    src, mnt = tmp_path / "src", tmp_path / "mnt"
    src.mkdir()
    mnt.mkdir()
    db = copy(pristine, src / "p.db")
    c = sqlite3.connect(db, isolation_level=None)
    c.execute("PRAGMA wal_autocheckpoint = 0")
    c.execute("UPDATE papers SET upvotes = 4242 WHERE id = 1")
    wal = (src / "p.db-wal").read_bytes()
    c.close()
    (src / "p.db-wal").write_bytes(wal)  # as a writer that died left it
    ro = f"mount --bind {src} {mnt}; mount -o remount,bind,ro {mnt}"
    r = _mounted(ro, mnt / "p.db", "show", "1", "--format", "json")
    assert r.returncode == 0, r.stderr
    assert "p.db-wal holds changes that cannot be read here" in r.stderr


def test_doctor_full_runs_integrity_check_on_damage(pristine: Path, tmp_path: Path) -> None:
    db = copy(pristine, tmp_path / "hurt.db")
    _index(db)
    quick, full = doctor_json(db), json.loads(papers(db, "doctor", "--full", "--json").stdout)
    assert "sightings_paper" in quick["damaged"] and "sightings_paper" in full["damaged"]
    assert full["integrity"] != quick["integrity"]


def test_recover_an_older_schema_then_migrate(tmp_path: Path) -> None:
    """An older database is copied at its own schema version, then migrated."""
    from papers_cli.storage import schema

    db = tmp_path / "old.db"
    c = sqlite3.connect(db, isolation_level=None)
    for step in schema.STEPS[:4]:
        step(c)
    c.execute("PRAGMA user_version = 4")
    c.execute("INSERT INTO pages (id, path, sha256, format, records, ingested_at) VALUES "
              "(1, 'x.txt', 'abc', 'text', 1, '2025-01-01T00:00:00+00:00')")
    c.execute("INSERT INTO papers (id, title, title_key) VALUES (1, 'A title', 'a title')")
    c.execute("INSERT INTO sightings (page_id, position, paper_id, published) "
              "VALUES (1, 1, 1, '2024-01-02')")
    c.close()
    out = tmp_path / "new.db"
    r = papers(db, "doctor", "--recover", str(out))
    assert r.returncode == 0, r.stderr
    assert ids(out, "SELECT id, title, published FROM papers") == {(1, "A title", "2024-01-02")}
    assert papers(out, "doctor").returncode == 0
    assert ids(db, "PRAGMA user_version") == {4}  # the source is only read
