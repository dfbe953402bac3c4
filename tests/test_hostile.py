"""Hostile input and hostile environments: a full disk, absurd JSON, broken Unicode,
odd --db targets, FIFOs, control characters in file names. Real SQLite files, and a
subprocess wherever the exit code and stderr are the point."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from helpers import DEC, JAN, TODAY, check_consistent, dump, make_pages
from papers_cli.engine.ingest import expand_paths, ingest_sources
from papers_cli.storage.connection import connect
from papers_cli.storage.read import counts

PAPERS = str(Path(sys.executable).parent / "papers")
DEEP = "[" * 100_000 + "]" * 100_000
BIG = "1" + "0" * 400  # 10**400: no 64-bit integer holds it
HUGE = "1" + "0" * 5000  # past Python's default int-from-string limit (4300 digits)


def papers(db: Path | str, *args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([PAPERS, "--db", str(db), *args], capture_output=True, text=True,
                          check=False, timeout=timeout)


def test_disk_full_rejects_the_page_and_changes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "full.db"
    conn = connect(db)
    assert not ingest_sources(conn, expand_paths([str(JAN)]), today=TODAY).failed
    before = dump(conn)
    pages = make_pages(tmp_path / "big", 1, 200)  # ~200 KB of new papers
    # max_page_count is per connection: the limit binds this connection only.
    used = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {used + 2}")
    report = ingest_sources(conn, expand_paths([str(pages)]), today=TODAY)
    assert [o.status for o in report.outcomes] == ["rejected"]
    message = report.outcomes[0].message
    assert "disk full" in message and "\n" not in message and message.startswith(str(pages))
    assert dump(conn) == before
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    check_consistent(db)
    conn = connect(db)  # a new connection: no limit, the same page goes in
    report = ingest_sources(conn, expand_paths([str(pages)]), today=TODAY)
    assert [o.status for o in report.outcomes] == ["ingested"]
    assert counts(conn)["papers"] > len({r[1] for r in before if r[0] == "papers"})
    conn.close()
    check_consistent(db)


def _export_lines(tmp_path: Path) -> list[str]:
    db = tmp_path / "src.db"
    assert papers(db, "ingest", "-q", str(JAN)).returncode == 0
    out = papers(db, "export", "--format", "jsonl")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 14 and all('"upvotes":null' in ln for ln in lines[:3])
    return lines


def _hostile_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """name -> (file, where the hostile value is), for an API page and an export."""
    lines = _export_lines(tmp_path)

    def export(name: str, middle: str) -> Path:
        f = tmp_path / name
        f.write_text("\n".join([lines[0], middle, lines[2]]) + "\n")
        return f

    def api(name: str, upvotes: str) -> Path:
        f = tmp_path / name
        f.write_text('[{"paper": {"id": "2401.00001", "title": "Absurd Counts", '
                     f'"summary": "We count.", "upvotes": {upvotes}}}}}]')
        return f

    return {
        "deep page": (api("deep.json", DEEP), "1"),
        "deep export line": (export("deep.jsonl", lines[1].replace(
            '"upvotes":null', '"upvotes":' + DEEP, 1)), "2"),
        "big int page": (api("big.json", BIG), ""),
        "huge int page": (api("huge.json", HUGE), ""),
        "big int export line": (export("big.jsonl", lines[1].replace(
            '"upvotes":null', '"upvotes":' + BIG, 1)), ""),
        "huge int export line": (export("huge.jsonl", lines[1].replace(
            '"upvotes":null', '"upvotes":' + HUGE, 1)), ""),
    }


@pytest.mark.slow
def test_json_nested_100000_deep_is_one_line_and_nothing_stored(tmp_path: Path) -> None:
    files = _hostile_files(tmp_path)
    db = tmp_path / "d.db"
    assert papers(db, "ingest", "-q", str(DEC)).returncode == 0
    before = dump(connect(db))
    for case in ("deep page", "deep export line"):
        f, line = files[case]
        res = papers(db, "ingest", str(f))
        assert res.returncode == 1, (case, res.stderr)
        errors = [ln for ln in res.stderr.splitlines()
                  if re.match(re.escape(f"{f}:") + r"\d+: ", ln)]
        assert errors == [f"{f}:{line}: " + errors[0].split(": ", 1)[1]]
        assert "nested too deeply" in errors[0] and "Traceback" not in res.stderr
        if case == "deep page":  # a page is refused whole
            assert dump(connect(db)) == before
        else:  # one line of an export costs that line: the others are restored
            assert "1 line of an export refused" in res.stderr


@pytest.mark.slow
def test_a_count_no_integer_column_holds_rejects_its_page(tmp_path: Path) -> None:
    # 10**400 upvotes is no count: the page is refused with the field named (one line,
    # no OverflowError, nothing stored), like "many" or -3.
    files = _hostile_files(tmp_path)
    db = tmp_path / "counts.db"
    assert papers(db, "ingest", "-q", str(DEC)).returncode == 0
    before = dump(connect(db))
    for case in ("big int page", "huge int page", "big int export line",
                 "huge int export line"):
        f, _ = files[case]
        res = papers(db, "ingest", str(f))
        assert res.returncode == 1 and "Traceback" not in res.stderr, (case, res.stderr)
        errors = [ln for ln in res.stderr.splitlines()
                  if ln.startswith(f"{f}:") and "out of range" in ln]
        assert len(errors) == 1 and "upvotes: out of range" in errors[0], (case, errors)
        if "page" in case:
            assert dump(connect(db)) == before
        else:  # the export's other line is restored
            assert "1 line of an export refused" in res.stderr


def test_lone_surrogates_become_replacement_characters(tmp_path: Path) -> None:
    page = tmp_path / "lone.json"
    page.write_text('[{"paper": {"id": "2401.00003", "title": "Lone \\ud800 Surrogate '
                    'Study", "summary": "Half a pair: \\udc00."}}]')
    db = tmp_path / "s.db"
    res = papers(db, "ingest", str(page))
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT title, abstract FROM papers").fetchall() == [
        ("Lone \ufffd Surrogate Study", "Half a pair: \ufffd.")]
    conn.close()
    out = papers(db, "export", "--format", "jsonl")
    assert out.returncode == 0 and json.loads(out.stdout)["title"] == "Lone \ufffd Surrogate Study"
    # The same in the papers export format: read back, no surrogate reaches SQLite.
    line = json.loads(out.stdout)
    text = out.stdout.replace("Lone \ufffd Surrogate", "Lone \\ud800 Surrogate")
    assert text != out.stdout and line["arxiv_id"] == "2401.00003"
    back = tmp_path / "lone.jsonl"
    back.write_text(text)
    res = papers(tmp_path / "s2.db", "ingest", str(back))
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
    conn = sqlite3.connect(tmp_path / "s2.db")
    assert conn.execute("SELECT title FROM papers").fetchall() == [
        ("Lone \ufffd Surrogate Study",)]
    conn.close()


@pytest.mark.parametrize("target", ["dir", "/dev/null"])
@pytest.mark.parametrize("command", [["stats"], ["ingest", str(JAN)], ["list"]])
def test_db_that_is_no_file(tmp_path: Path, target: str, command: list[str]) -> None:
    db = str(tmp_path) if target == "dir" else target
    res = papers(db, *command)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"papers: {db} ") and res.stdout == ""
    assert "directory" in lines[0] if target == "dir" else "not a regular file" in lines[0]
    assert not any(tmp_path.iterdir())  # nothing created beside it


def test_a_directory_with_a_fifo_in_it_does_not_hang(tmp_path: Path) -> None:
    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "jan.txt").write_bytes(JAN.read_bytes())
    os.mkfifo(pages / "stray.txt")  # nobody will ever write to it
    res = papers(tmp_path / "f.db", "ingest", str(pages), timeout=20)
    assert res.returncode == 0, res.stderr
    assert "1 page: 1 ingested (14 new papers" in res.stderr


def test_a_fifo_named_with_a_regular_file_is_read_as_a_stream(tmp_path: Path) -> None:
    fifo = tmp_path / "listing.txt"
    os.mkfifo(fifo)

    def write() -> None:  # as `papers ingest <(curl ...)` would
        with fifo.open("wb") as w:
            w.write(DEC.read_bytes())

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    db = tmp_path / "f.db"
    res = papers(db, "ingest", str(fifo), str(JAN), timeout=20)
    writer.join(5)
    assert res.returncode == 0, res.stderr
    assert "2 pages: 2 ingested" in res.stderr
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM pages").fetchone()[0] == 2
    conn.close()
    check_consistent(db)


ESC_NAME = ("evil\x1b[31mred\x1b]52;c;aGk=\x07\u202etxt.exe\x9b2J"
            "\x1b]8;;x.invalid\x1b\\link")


def test_control_characters_in_file_names_are_escaped(tmp_path: Path) -> None:
    good = tmp_path / (ESC_NAME + ".txt")
    good.write_bytes(JAN.read_bytes())
    bad = tmp_path / (ESC_NAME + "-bad.txt")
    bad.write_bytes(b"plain words, no listing here\n")
    missing = tmp_path / (ESC_NAME + "-missing.txt")
    db = tmp_path / "c.db"
    res = papers(db, "ingest", str(good), str(bad), str(missing))
    assert res.returncode == 1
    for raw in ("\x1b", "\x07", "\u202e", "\x9b"):
        assert raw not in res.stderr and raw not in res.stdout, repr(raw)
    lines = res.stderr.splitlines()
    # One line per file, each naming it with its controls shown escaped.
    assert sum("\\x1b[31mred" in ln for ln in lines) == 3, lines
    assert any("\\u202e" in ln and "14 papers" in ln for ln in lines)
    # ("[" makes the missing name a glob pattern, reported as such.)
    assert any(ln.endswith(("no such file or directory", "no file matches this pattern"))
               for ln in lines), lines
    assert "Traceback" not in res.stderr
    listed = papers(db, "pages", "--format", "tsv")
    assert listed.returncode == 0 and "\x1b" not in listed.stdout, listed.stderr
