"""A second hostile round (issue 25, item 8): inputs of our own design across every
command, the environment and the MCP server. Each case states what must happen: the
exit code, the one line on stderr, and that a refused input leaves the database as it
was (a dump compared) or that a good one is stored as it should be.

In-process (typer's CliRunner) where the streams are not the point; real processes
where they are (closed streams, a terminal, signals, bytes that are not UTF-8).
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import pty
import re
import select
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from helpers import JAN, ROOT, check_consistent, dump, make_pages, page
from papers_cli.cli.app import app
from papers_cli.engine.ingest import expand_paths, ingest_bytes, ingest_sources
from papers_cli.mcp.tools import Context, ToolFailure, call
from papers_cli.storage.connection import connect

PAPERS = str(Path(sys.executable).with_name("papers"))
API_PAPER = ROOT / "tests" / "fixtures" / "api_paper.json"  # 2411.02335, "Sparsing Law"
HEADER = "Daily Papers\n\nJan 7\n\n"


def record(title: str, tail: str = "  • 3 authors\n·\nNov 4, 2024") -> str:
    return f"{title}\n\nAn abstract of some length.\n\n{tail}\n"


def item(pid: str = "2401.00001", **paper: Any) -> dict[str, Any]:
    return {"paper": {"id": pid, "title": f"Paper {pid}", "summary": "An abstract.",
                      **paper}}


def cli(db: Path, *args: str, input: str | None = None,
        env: dict[str, str] | None = None) -> Any:
    result = CliRunner().invoke(app, ["--db", str(db), *args], input=input, env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        repr(result.exception)
    assert "Traceback" not in result.stderr + result.stdout
    return result


def proc(db: Path | str, *args: str | bytes, timeout: float = 30,
         **kw: Any) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([PAPERS, "--db", str(db), *args], capture_output=True,
                          timeout=timeout, check=False, **kw)


def rows(db: Path) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        out = dump(conn)
        for table in ("personal_tags", "personal_notes", "watches", "pages"):
            out += [(table, *r) for r in conn.execute(f"SELECT * FROM {table}")]
        return out
    finally:
        conn.close()


def one_error_line(stderr: str) -> str:
    """The refusal: one line (click's usage errors end with theirs), no traceback."""
    assert "Traceback" not in stderr
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert lines, "nothing said"
    if lines[0].startswith("Usage:"):
        return lines[-1]
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A corpus of 15 papers (JAN and one API paper) with a tag, a note and a watch."""
    db = tmp_path_factory.mktemp("round2") / "template.db"
    conn = connect(db)
    assert not ingest_sources(conn, expand_paths([str(JAN), str(API_PAPER)])).failed
    conn.close()
    for args in (("tag", "1", "+keep"), ("note", "2", "-m", "a note"),
                 ("watch", "add", "conv", "convergent")):
        assert cli(db, *args).exit_code == 0
    c = sqlite3.connect(db)
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    c.close()
    return db


@pytest.fixture
def db(template: Path, tmp_path: Path) -> Path:
    out = tmp_path / "p.db"
    shutil.copy(template, out)
    return out


# ------------------------------------------------------ argument values (CliRunner)

LONG_ID = "9" * 2_000
ARGS: list[tuple[str, list[str], int, str]] = [
    # (name, argv after --db, exit code, what stderr's line holds)
    ("id 0", ["show", "0"], 1, "no paper with id '0'"),
    ("id 2**63", ["show", "9223372036854775808"], 1, "no paper with id '9223372036854775808'"),
    ("id 2**64", ["show", "18446744073709551616"], 1, "no paper with id"),
    ("id 1e3", ["show", "1e3"], 1, "no paper with id '1e3'"),
    ("id in Arabic-Indic digits", ["show", "\u0661\u0662"], 1, "no paper with id"),
    ("id in fullwidth digits", ["show", "\uff11\uff12"], 1, "no paper with id"),
    ("id 12.0", ["show", "12.0"], 1, "no paper with id '12.0'"),
    ("id +12", ["show", "+12"], 1, "no paper with id '+12'"),
    ("id -1 (an option)", ["show", "-1"], 2, "No such option: -1"),
    ("URL of another host", ["show", "https://evil.example/papers/2411.02335"], 1,
     "no paper with id 'https://evil.example/papers/2411.02335'"),
    ("URL with the site as a prefix", ["show", "https://huggingface.co.evil.example/papers/"
                                       "2411.02335"], 1, "no paper with id"),
    ("file URL", ["show", "file:///etc/passwd"], 1, "no paper with id 'file:///etc/passwd'"),
    ("arXiv id in upper case V", ["show", "2411.02335V2"], 1, "no paper with id"),
    # The id is shown escaped once: '12\n13', not '12\\n13'.
    ("id with a newline", ["show", "12\n13"], 1, "no paper with id '12\\n13'"),
    ("id with an escape sequence", ["similar", "\x1b[31m1"], 1, "no paper with id '\\x1b[31m1'"),
    ("id of 2,000 digits", ["show", LONG_ID], 1, "(1,920 more characters)"),
    ("tag with an escape sequence", ["tag", "1", "+\x1b[31m"], 2, "bad tag '\\x1b[31m'"),
    ("tag ++x", ["tag", "1", "++x"], 2, "bad tag '+x'"),
    ("tag +", ["tag", "1", "+"], 2, "empty tag"),
    ("tag with a comma", ["tag", "1", "+a,b"], 2, "bad tag 'a,b'"),
    ("tag of 65 letters", ["tag", "1", "+" + "x" * 65], 2, "tag too long (65 > 64"),
    ("tags without a paper", ["tag", "+x"], 2, "no paper id given"),
    ("empty note", ["note", "1", "-m", ""], 2, "empty note"),
    ("note text and --show", ["note", "1", "-m", "kept?", "--show"], 2,
     "give a note's text (-m) or --show, not both"),
    ("--show of a paper without notes", ["note", "3", "--show"], 1, "paper 3 has no notes"),
    ("mark with nothing to mark", ["mark", "1"], 2, "nothing to mark"),
    ("--read and --unread", ["mark", "1", "--read", "--unread"], 2, "choose one of --read"),
    ("similar -n 0", ["similar", "1", "-n", "0"], 2, "0 is not in the range"),
    ("--fields in the wrong case", ["list", "--fields", "id,Title"], 2, "unknown field Title"),
    ("--fields of commas only", ["list", "--fields", ",,,"], 2, "(none given)"),
    ("--fields with a control", ["list", "--fields", "id,\x1b[2J"], 2,
     "unknown field \\x1b[2J"),
    ("--fields gained without rising", ["list", "--fields", "gained"], 2,
     "--fields gained needs --sort rising"),
    ("--limit -1", ["list", "--limit", "-1"], 2, "-1 is not in the range"),
    ("--limit 2**53+1", ["list", "--limit", "9007199254740993"], 2, "is not in the range"),
    ("--limit 1e3", ["list", "--limit", "1e3"], 2, "'1e3' is not a valid int"),
    ("--offset -1", ["list", "--offset", "-1"], 2, "-1 is not in the range"),
    ("--since 2023-02-29", ["list", "--since", "2023-02-29"], 2, "'2023-02-29' is not a date"),
    ("--since 0000-01-01", ["list", "--since", "0000-01-01"], 2, "'0000-01-01' is not a date"),
    ("--since 2024-13", ["list", "--since", "2024-13"], 2, "'2024-13' is not a date"),
    ("--since 2024-1", ["list", "--since", "2024-1"], 2, "'2024-1' is not a date"),
    ("--since with a time zone", ["list", "--since", "2024-01-01T00:00Z"], 2,
     "--since: longer than 10 characters"),
    ("--until in Arabic-Indic digits", ["list", "--until", "\u0662\u0660\u0662\u0664"], 2,
     "is not a date"),
    ("--days 0", ["list", "--sort", "rising", "--days", "0"], 2, "0 is not in the range"),
    ("--tag with a space", ["list", "--tag", "A B"], 2, "bad tag 'A B'"),
    ("--sort bogus", ["list", "--sort", "bogus"], 2, "'bogus' is not one of"),
    ("--min-upvotes -1", ["list", "--min-upvotes", "-1"], 2, "-1 is not in the range"),
    ("search of an empty query", ["search", ""], 2, "empty query"),
    ("search of a lone quote", ["search", '"'], 2, "empty query"),
    ("search of a lone star", ["search", "*"], 2, "empty query"),
    ("search excluding only", ["search", "--", "-convergent"], 2, "nothing to search for"),
    ("search title:*", ["search", "title:*"], 2, "empty query"),
    ("search a word and its exclusion", ["search", "learning -learning"], 1,
     "no matches for 'learning -learning'"),
    ("search an emoji", ["search", "\U0001f642"], 2, "empty query"),
    ("raw FTS5 unbalanced", ["search", "--raw", '"unbalanced'], 2, "unterminated string"),
    ("raw FTS5 unknown column", ["search", "--raw", "nosuchcol:x"], 2,
     "no such column: nosuchcol"),
    ("3,000 different words", ["search", " ".join(f"zq{i}x" for i in range(3_000))], 2,
     "too many search terms (3000"),
    ("a 10,000-letter word is not echoed whole", ["search", "--lexical", "a" * 10_000], 1,
     "(9,920 more characters)"),
    ("--threshold nan", ["dedupe", "--threshold", "nan"], 2, "--threshold: expected a number"),
    ("--apply with --undo", ["dedupe", "--apply", "--undo"], 2, "contradict each other"),
    ("--distinct of one paper twice", ["dedupe", "--distinct", "1", "1"], 2,
     "--distinct needs two or more"),
    ("undo without a merge", ["dedupe", "--undo"], 1, "nothing to undo"),
    ("watch without a name", ["watch", "add", "", "x"], 2, "empty watch name"),
    ("watch of a lone quote", ["watch", "add", "w", '"'], 2, "empty query"),
    ("watch rm of no watch", ["watch", "rm", "nope"], 1, "no saved search named 'nope'"),
    ("digest of no watch", ["digest", "--watch", "nope"], 1, "no saved search named 'nope'"),
    ("export to an unknown extension", ["export", "-o", "x.unknownext"], 2,
     "the extension of x.unknownext says none"),
    ("rm of no page", ["rm", "424242"], 1, "424242: no such page"),
    ("ingest --date in year 1", ["ingest", "--date", "0001-01-07", str(JAN)], 2,
     "--date 0001-01-07 is before 1990"),
    ("ingest --date Feb 30", ["ingest", "--date", "2024-02-30", str(JAN)], 2,
     "'2024-02-30' is not a day"),
    ("ingest --year 1", ["ingest", "--year", "1", str(JAN)], 2, "1 is not in the range"),
    ("fetch an ISO week 53 that does not exist", ["fetch", "--week", "2021-W53", "--dry-run"],
     2, "--week must be an ISO week"),
    ("fetch month 13", ["fetch", "--month", "2024-13", "--dry-run"], 2, "--month must be"),
    ("fetch from a file URL", ["fetch", "--base-url", "file:///etc", "--dry-run"], 2,
     "--base-url must be an http(s) URL"),
    ("fetch a blank search", ["fetch", "--search", " ", "--dry-run"], 2,
     "--search needs words"),
    ("fetch an id with a path in it", ["fetch", "../../etc/passwd", "--dry-run"], 2,
     "not an arXiv id"),
]


@pytest.mark.parametrize("name,args,code,says", ARGS, ids=[a[0] for a in ARGS])
def test_a_bad_argument_is_one_line_and_changes_nothing(db: Path, name: str, args: list[str],
                                                        code: int, says: str) -> None:
    before = rows(db)
    result = cli(db, *args)
    assert result.exit_code == code, result.stderr
    line = one_error_line(result.stderr)
    assert says in line, line
    assert len(line) < 400
    assert rows(db) == before


# ------------------------------------------------------------- pages that are hostile

def _cards(card: str, head: str = "") -> str:
    return f"<html><body>{head}<article>{card}</article></body></html>"


BAD_PAGES: list[tuple[str, str, bytes, str]] = [
    # (name, file name, content, what its one line says)
    ("embedded data that is not JSON", "props.html",
     b'<div data-target="DailyPapers" data-props="not json"></div>',
     "embedded paper data (data-props of data-target=\"DailyPapers\") is not readable"),
    ("embedded data with an escape from an entity", "entity.html",
     (b'<div data-target="DailyPapers" data-props="{&quot;dailyPapers&quot;: [{&quot;title'
      b'&quot;: &quot;A&#x1b;B&quot;}]}"></div>'), "is not readable"),
    ("a card with 5,000 digits of authors", "authors.html",
     _cards('<h3><a href="/papers/2401.00008">Big</a></h3><p>' + "9" * 5_000 +
            " authors</p>").encode(), "authors_count: out of range (a number of 5000 digits)"),
    ("a comment count in superscript", "sup.txt",
     (HEADER + record("Sup", "  • 3 authors\n·\nNov 4, 2024 \u00b2")).encode(),
     ":11: comment count '\u00b2' after the date is not a number"),
    ("an author count in superscript", "supa.txt",
     (HEADER + record("Supa", "  • \u00b2 authors\n·\nNov 4, 2024")).encode(),
     ":9: author count '\u00b2' is not a number"),
    ("a comment count of 5,000 digits", "bigc.txt",
     (HEADER + record("Bigc", "  • 3 authors\n·\nNov 4, 2024 " + "9" * 5_000)).encode(),
     "comments: out of range (a number of 5000 digits)"),
    ("an author count of 5,000 digits", "biga.txt",
     (HEADER + record("Biga", "  • " + "9" * 5_000 + " authors\n·\nNov 4, 2024")).encode(),
     "authors_count: out of range (a number of 5000 digits)"),
    ("year 0000", "year0.txt", (HEADER + record("Y0", "  • 3 authors\n·\nNov 4, 0000")
                                ).encode(), ":11: 'Nov 4, 0000' is not a real date"),
    ("upvotes 1e400", "inf.json", b'[{"paper": {"id": "2401.00001", "title": "I", '
     b'"upvotes": 1e400}}]', "upvotes: not a whole number (inf)"),
    ("upvotes NaN", "nan.json", b'[{"paper": {"id": "2401.00001", "title": "N", '
     b'"upvotes": NaN}}]', "upvotes: not a whole number (nan)"),
    ("upvotes 3.5", "half.json", json.dumps([item(upvotes=3.5)]).encode(),
     "upvotes: not a whole number (3.5)"),
    ("upvotes true", "bool.json", json.dumps([item(upvotes=True)]).encode(),
     "upvotes: not a whole number (True)"),
    ("upvotes '1e3'", "str.json", json.dumps([item(upvotes="1e3")]).encode(),
     "upvotes: not a whole number ('1e3')"),
    ("upvotes [3]", "list.json", json.dumps([item(upvotes=[3])]).encode(),
     "upvotes: not a whole number ([3])"),
    ("an id that is a JSON number", "numid.json",
     b'[{"paper": {"id": 2401.00012, "title": "Numeric id"}}]', "arxiv_id: not an arXiv id"),
    ("a title of blanks", "blank.json", json.dumps([item(title="   ")]).encode(),
     "its items have no title"),
    ("JSON null", "null.json", b"null", "not a Daily Papers page"),
    ("a list of null", "nulls.json", b"[null]", "not a Daily Papers page"),
    ("paper: null", "pnull.json", b'[{"paper": null}]', "not a Daily Papers page"),
    ("a raw line end inside a string", "crlf.json",
     b'[{"paper": {"id": "2401.00007", "title": "CR\r\nmixed"}}]', "invalid JSON"),
    ("two objects on one JSON Lines line", "two.jsonl",
     json.dumps(item()).encode() + b" " + json.dumps(item("2401.00002")).encode(),
     ":1: invalid JSON: Extra data"),
    ("an overlong UTF-8 slash", "overlong.json",
     b'[{"paper": {"id": "2401.00005", "title": "Over\xc0\xaflong"}}]',
     "not valid UTF-8 (byte 0xc0"),
    ("an escaped NUL in a title", "nul.json", b'[{"paper": {"id": "2401.00006", '
     b'"title": "Nul \\u0000 in"}}]', "title: contains a NUL character"),
]


@pytest.mark.parametrize("name,fname,data,says", BAD_PAGES, ids=[b[0] for b in BAD_PAGES])
def test_a_hostile_page_is_refused_in_one_line(db: Path, tmp_path: Path, name: str,
                                               fname: str, data: bytes, says: str) -> None:
    f = tmp_path / fname
    f.write_bytes(data)
    before = rows(db)
    result = cli(db, "ingest", str(f))
    assert result.exit_code == 1, result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith(str(f))]
    assert len(lines) == 1 and says in lines[0], result.stderr
    assert "could not read this page" not in result.stderr  # no internal error leaks
    assert rows(db) == before


def _stored(db: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return [tuple(r) for r in conn.execute(sql)]
    finally:
        conn.close()


GOOD_PAGES: list[tuple[str, str, bytes, str, list[tuple]]] = [
    # (name, file, content, a query, what it must give)
    ("votes in superscript are no count", "sup.html",
     _cards('<div class="vote">\u00b2</div><h3><a href="/papers/2401.00004">Sup votes</a>'
            "</h3>").encode(), "SELECT upvotes FROM papers WHERE arxiv_id = '2401.00004'",
     [(None,)]),
    ("comments in superscript are no count", "sup2.html",
     _cards('<h3><a href="/papers/2401.00005">Sup comments</a></h3>'
            '<a href="/papers/2401.00005#community">\u00b3</a>').encode(),
     "SELECT comments FROM papers WHERE arxiv_id = '2401.00005'", [(None,)]),
    ("votes in Arabic-Indic digits are the count", "arabic.html",
     _cards('<div class="vote">\u0661\u0662</div><h3><a href="/papers/2401.00006">Arabic'
            "</a></h3>").encode(),
     "SELECT upvotes FROM papers WHERE arxiv_id = '2401.00006'", [(12,)]),
    ("two byte-order marks", "twobom.txt",
     b"\xef\xbb\xbf\xef\xbb\xbf" + (HEADER + record("Two marks")).encode(),
     "SELECT title FROM papers WHERE id > {top}", [("Two marks",)]),
    ("UTF-16 with a second mark", "twobom16.txt",
     b"\xff\xfe" + ("\ufeff" + HEADER + record("Two marks sixteen")).encode("utf-16-le"),
     "SELECT title FROM papers WHERE id > {top}", [("Two marks sixteen",)]),
    ("JSON with two marks", "twobom.json",
     b"\xef\xbb\xbf\xef\xbb\xbf" + json.dumps([item(title="Marked JSON")]).encode(),
     "SELECT title FROM papers WHERE id > {top}", [("Marked JSON",)]),
    ("upvotes -0", "neg0.json", b'[{"paper": {"id": "2401.00011", "title": "Zero", '
     b'"upvotes": -0}}]', "SELECT upvotes FROM papers WHERE id > {top}", [(0,)]),
    ("upvotes 3.0", "three.json", json.dumps([item(upvotes=3.0)]).encode(),
     "SELECT upvotes FROM papers WHERE id > {top}", [(3,)]),
    ("a key given twice: the last one", "dup.json",
     b'[{"paper": {"id": "2401.00013", "title": "First", "title": "Second"}}]',
     "SELECT title FROM papers WHERE id > {top}", [("Second",)]),
    ("an author count in Arabic-Indic digits", "arabic.txt",
     (HEADER + record("Arabic count", "  • \u0663 authors\n·\nNov 4, 2024")).encode(),
     "SELECT authors_count FROM papers WHERE id > {top}", [(3,)]),
]


@pytest.mark.parametrize("name,fname,data,sql,want", GOOD_PAGES, ids=[g[0] for g in GOOD_PAGES])
def test_an_odd_but_good_page_is_stored_as_it_says(db: Path, tmp_path: Path, name: str,
                                                   fname: str, data: bytes, sql: str,
                                                   want: list[tuple]) -> None:
    f = tmp_path / fname
    f.write_bytes(data)
    top = _stored(db, "SELECT max(id) FROM papers")[0][0]
    result = cli(db, "ingest", str(f))
    assert result.exit_code == 0, result.stderr
    assert _stored(db, sql.format(top=top)) == want
    assert not _stored(db, "SELECT id FROM papers WHERE title LIKE '%Daily Papers%' "
                           "OR title LIKE '\ufeff%'")


# -------------------------------------------------------------------- odd paths

def _socket(tmp: Path) -> str:
    path = tmp / "sock.txt"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(path))
    s.close()
    return str(path)


def _loop(tmp: Path) -> str:
    (tmp / "loop1").symlink_to(tmp / "loop2")
    (tmp / "loop2").symlink_to(tmp / "loop1")
    return str(tmp / "loop1")


def _dangling(tmp: Path) -> str:
    (tmp / "dangling.txt").symlink_to(tmp / "nowhere.txt")
    return str(tmp / "dangling.txt")


PATHS: list[tuple[str, Callable[[Path], str], int, str]] = [
    ("a name of 300 letters", lambda t: str(t / ("a" * 300 + ".txt")), 2, "file name too long"),
    ("a path of 6,000 characters", lambda t: "/a" * 3_000, 2, "file name too long"),
    ("a loop of symbolic links", _loop, 2, "too many levels of symbolic links"),
    ("a dangling symbolic link", _dangling, 2, "no such file or directory"),
    ("a socket", _socket, 1, "no such device or address"),
    ("/dev/null", lambda t: "/dev/null", 1, "/dev/null:1: empty file"),
    ("/dev/zero", lambda t: "/dev/zero", 1, "binary file (NUL byte)"),
    ("a pattern that matches nothing", lambda t: str(t / "*.nomatch"), 2,
     "no file matches this pattern"),
]


@pytest.mark.parametrize("name,make,code,says", PATHS, ids=[p[0] for p in PATHS])
def test_an_odd_path_is_one_line(db: Path, tmp_path: Path, name: str,
                                 make: Callable[[Path], str], code: int, says: str) -> None:
    arg = make(tmp_path)
    before = rows(db)
    result = cli(db, "ingest", arg)
    assert result.exit_code == code, result.stderr
    said = [ln for ln in result.stderr.splitlines() if says.lower() in ln.lower()]
    assert len(said) == 1, result.stderr
    assert rows(db) == before


def test_a_file_whose_name_is_not_utf8_is_ingested_and_removed_by_that_name(
        db: Path, tmp_path: Path) -> None:
    name = os.fsdecode(bytes(tmp_path) + b"/x\xff\xfe.txt")
    Path(name).write_bytes(page(record("Named in Latin-1")).encode())
    res = proc(db, "ingest", name)
    assert res.returncode == 0, res.stderr
    assert _stored(db, "SELECT path FROM pages WHERE path LIKE '%x%.txt'") == [
        (str(tmp_path) + "/x\\xff\\xfe.txt",)]
    gone = proc(db, "rm", name)
    assert gone.returncode == 0 and b"removed 1 page" in gone.stderr, gone.stderr
    assert not _stored(db, "SELECT title FROM papers WHERE title = 'Named in Latin-1'")


# ------------------------------------------------ lines of an export edited by hand

def _export(db: Path) -> list[dict[str, Any]]:
    out = cli(db, "export", "--jsonl")
    assert out.exit_code == 0
    return [json.loads(line) for line in out.stdout.splitlines()]


def _sighting(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda r: r["pages"][0].__setitem__(key, value)


def _field(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda r: r.__setitem__(key, value)


EDITS: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("position 2**70", _sighting("position", 2**70), "pages: position: out of range"),
    ("position 2**63", _sighting("position", 2**63), "pages: position: out of range"),
    ("position 1.0", _sighting("position", 1.0), "pages: position: not a whole number"),
    ("line 2**70", _sighting("line", 2**70), "pages: line: not a line number"),
    ("line -1", _sighting("line", -1), "pages: line: not a line number (-1)"),
    ("ingested_at zzz", _sighting("ingested_at", "zzz"), "pages: ingested_at: not a timestamp"),
    ("ingested_at in 9999", _sighting("ingested_at", "9999-01-01T00:00:00+00:00"),
     "pages: ingested_at: in the future"),
    ("version true", _field("papers_export", True), "not a line of a papers export"),
    ("version 2.0", _field("papers_export", 2.0), "not a line of a papers export"),
    ("version 3", _field("papers_export", 3), "not a line of a papers export"),
    ("tags false", _field("tags", False), "tags: not a list"),
    ("tags {}", _field("tags", {}), "tags: not a list"),
    ("tags 0", _field("tags", 0), "tags: not a list"),
    ("a tag with a space", _field("tags", ["ok", "a b"]), "tags: bad tag 'a b'"),
    ("read 1", _field("read", 1), "read: not true or false (1)"),
    ("starred 'true'", _field("starred", "true"), "starred: not true or false"),
    ("pages an object", _field("pages", {}), "pages: not a list"),
    ("pages [1]", _field("pages", [1]), "pages: an item is not an object"),
    ("page date Feb 29 2023", _sighting("page_date", "2023-02-29"),
     "pages: page_date: no such date"),
    ("listed in 9999", _sighting("listed_on", "9999-01-01"), "listed_on: in the future"),
    ("a sighting's title an int", _sighting("title", 5), "title: not text (5)"),
    ("authors as objects", _field("authors", [{"name": "x"}]), "authors: an item is not text"),
    ("a query that is a number", _sighting("query", 5), "pages: query: not text"),
]


@pytest.mark.parametrize("name,edit,says", EDITS, ids=[e[0] for e in EDITS])
def test_a_line_edited_by_hand_is_refused_alone(template: Path, tmp_path: Path, name: str,
                                                edit: Callable[[dict[str, Any]], None],
                                                says: str) -> None:
    lines = _export(template)
    victim = next(i for i, r in enumerate(lines) if r["id"] == 2)  # it has a note
    edit(lines[victim])
    f = tmp_path / "edited.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in lines) + "\n")
    fresh = tmp_path / "fresh.db"
    result = cli(fresh, "ingest", str(f))
    assert result.exit_code == 1, result.stderr
    refused = [ln for ln in result.stderr.splitlines() if re.match(re.escape(f"{f}:") + r"\d", ln)]
    assert refused == [f"{f}:{victim + 1}: " + refused[0].split(": ", 1)[1]], result.stderr
    assert says in refused[0]
    assert "1 line of an export refused" in result.stderr
    # Every other line restored; what was stored is what a restore takes again.
    assert _stored(fresh, "SELECT count(*) FROM papers") == [(len(lines) - 1,)]
    again = tmp_path / "again.jsonl"
    again.write_text(cli(fresh, "export", "--jsonl").stdout)
    assert cli(tmp_path / "third.db", "ingest", str(again)).exit_code == 0
    assert cli(fresh, "doctor").exit_code == 0


# ---------------------------------------------------------------- the MCP tools

@pytest.fixture
def tools(db: Path) -> Iterator[Callable[..., Any]]:
    conn = connect(db)
    yield lambda name, **args: call(Context(conn, db, allow_write=True), name, args)
    conn.close()


def test_mcp_numbers_written_as_floats_are_the_integers(tools: Callable[..., Any]) -> None:
    out = tools("search", query="convergent", limit=2.0)  # was: "slice indices must be..."
    assert len(out["results"]) == 2 and out["limit"] == 2
    assert tools("show", id=2.0)["id"] == 2
    assert tools("tag", ids=[1.0], add=["floaty"])["result"] == {"1": ["floaty", "keep"]}
    with pytest.raises(ToolFailure, match="limit: expected integer"):
        tools("search", query="convergent", limit=1.5)


def test_mcp_note_text_with_show_is_refused(tools: Callable[..., Any], db: Path) -> None:
    with pytest.raises(ToolFailure, match="not both"):
        tools("note", id="1", text="lost?", show=True)
    assert _stored(db, "SELECT text FROM personal_notes") == [("a note",)]


def test_mcp_errors_show_an_id_escaped_once(tools: Callable[..., Any]) -> None:
    with pytest.raises(ToolFailure, match=r"no paper with id '\\x1b\]0;x\\x07'"):
        tools("show", id="\x1b]0;x\x07")


def _mcp(db: Path, **kw: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen([PAPERS, "mcp", "--db", str(db)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def test_mcp_client_that_stops_reading_ends_the_session_quietly(db: Path) -> None:
    server = _mcp(db)
    assert server.stdout is not None and server.stdin is not None
    server.stdout.close()  # the client went away without closing our stdin
    try:
        for i in range(3):
            server.stdin.write(json.dumps({"jsonrpc": "2.0", "id": i, "method": "ping"}
                                          ).encode() + b"\n")
            server.stdin.flush()
            time.sleep(0.2)
        server.stdin.close()
    except BrokenPipeError:
        pass
    assert server.wait(20) == 0
    assert server.stderr is not None and server.stderr.read() == b""


def test_mcp_with_stdout_closed_is_one_line(db: Path) -> None:
    res = subprocess.run([PAPERS, "mcp", "--db", str(db)], input=b'{"jsonrpc": "2.0", '
                         b'"id": 1, "method": "ping"}\n', stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, timeout=30, check=False,
                         preexec_fn=lambda: os.close(1))
    assert res.returncode == 1
    assert res.stderr == b"papers: cannot write the output: stdout is closed\n"


def test_mcp_with_stdin_closed_ends_at_once(db: Path) -> None:
    res = subprocess.run([PAPERS, "mcp", "--db", str(db)], capture_output=True, timeout=30,
                         check=False, preexec_fn=lambda: os.close(0))
    assert res.returncode == 0 and res.stderr == b"" and res.stdout == b""


# ---------------------------------------------------- bytes that are not UTF-8 (argv)

BAD = b"\xff\xfe"
NOT_UTF8: list[tuple[str, list[bytes], str]] = [
    ("show", [b"show", BAD], "PAPER_ID: not valid UTF-8 text"),
    ("similar", [b"similar", BAD], "PAPER_ID: not valid UTF-8 text"),
    ("open", [b"open", BAD], "PAPER_ID: not valid UTF-8 text"),
    ("tag", [b"tag", BAD, b"+a"], "IDS: not valid UTF-8 text"),
    ("dedupe --distinct", [b"dedupe", b"--distinct", BAD, b"1"], "IDS: not valid UTF-8 text"),
    ("list --author", [b"list", b"--author", BAD], "--author: not valid UTF-8 text"),
    ("search --raw", [b"search", b"--raw", BAD], "QUERY: not valid UTF-8 text"),
    ("search --semantic", [b"search", b"--semantic", b"x" + BAD], "QUERY: not valid UTF-8"),
    ("watch add", [b"watch", b"add", b"w", b"x" + BAD], "QUERY: not valid UTF-8 text"),
    ("watch rm", [b"watch", b"rm", BAD], "NAME: not valid UTF-8 text"),
    ("fetch --search", [b"fetch", b"--search", BAD, b"--dry-run"],
     "--search: not valid UTF-8 text"),
]


@pytest.mark.parametrize("name,args,says", NOT_UTF8, ids=[n[0] for n in NOT_UTF8])
def test_arguments_that_are_not_utf8_are_a_usage_error(db: Path, name: str, args: list[bytes],
                                                       says: str) -> None:
    before = rows(db)
    res = proc(db, *args)
    assert res.returncode == 2, res.stderr
    line = one_error_line(res.stderr.decode("utf-8", "replace"))
    assert says in line
    assert rows(db) == before


def test_ids_on_stdin_that_are_not_utf8_are_a_usage_error(db: Path) -> None:
    res = proc(db, "export", "-", "--csv", input=b"1 2 \xff\xfe\x80 3")
    assert res.returncode == 2
    assert one_error_line(res.stderr.decode("utf-8", "replace")).endswith(
        "is not a paper id (not valid UTF-8 text)")


# --------------------------------------------------------- closed standard streams

def _closing(*fds: int) -> Callable[[], None]:
    return lambda: [os.close(fd) for fd in fds]  # type: ignore[func-returns-value]


STREAMS: list[tuple[str, list[str], tuple[int, ...], int, bytes]] = [
    # (name, argv, descriptors closed, exit code, stderr)
    ("list, stdout closed", ["list"], (1,), 1,
     b"papers: cannot write the output: stdout is closed\n"),
    ("export, stdout closed", ["export", "--jsonl"], (1,), 1,
     b"papers: cannot write the output: stdout is closed\n"),
    ("search, stdout closed", ["search", "convergent"], (1,), 1,
     b"papers: cannot write the output: stdout is closed\n"),
    ("help, stdout closed", ["--help"], (1,), 1,
     b"papers: cannot write the output: stdout is closed\n"),
    ("version, stdout closed", ["--version"], (1,), 1,
     b"papers: cannot write the output: stdout is closed\n"),
    ("ingest from a closed stdin", ["ingest", "-"], (0,), 1,
     b"<stdin>:1: empty file\n1 page: 0 ingested (0 new papers, 0 known), 1 rejected\n"),
    ("ids from a closed stdin", ["export", "-", "--csv", "-o", os.devnull], (0,), 1,
     b"0 papers written to /dev/null\n"),
    ("show of no paper, stderr closed", ["show", "424242"], (2,), 1, b""),
    ("list, stdout and stderr closed", ["list"], (1, 2), 1, b""),
]


@pytest.mark.parametrize("name,args,closed,code,err", STREAMS, ids=[s[0] for s in STREAMS])
def test_a_closed_standard_stream_is_no_traceback(db: Path, name: str, args: list[str],
                                                  closed: tuple[int, ...], code: int,
                                                  err: bytes) -> None:
    before = rows(db)
    res = subprocess.run([PAPERS, "--db", str(db), *args], stdout=subprocess.PIPE
                         if 1 not in closed else None, stderr=subprocess.PIPE
                         if 2 not in closed else None, stdin=subprocess.DEVNULL
                         if 0 not in closed else None, preexec_fn=_closing(*closed),
                         timeout=30, check=False)
    assert res.returncode == code
    if 2 not in closed:
        assert res.stderr == err
    assert rows(db) == before


@pytest.mark.parametrize("args", [["--version"], ["--db", "x.db", "--version"]])
def test_version_to_a_full_disk_or_a_closed_pipe(args: list[str], tmp_path: Path) -> None:
    with open("/dev/full", "w") as full:
        res = subprocess.run([PAPERS, *args], stdout=full, stderr=subprocess.PIPE,
                             check=False, cwd=tmp_path)
    assert res.returncode == 1
    assert res.stderr == b"papers: cannot write the output: No space left on device\n"
    r, w = os.pipe()
    os.close(r)  # nobody reads: `papers --version | true`
    res = subprocess.run([PAPERS, *args], stdout=w, stderr=subprocess.PIPE, check=False,
                         cwd=tmp_path)
    os.close(w)
    assert res.returncode == 0 and res.stderr == b""


@pytest.mark.parametrize("args", [
    ["list"], ["export", "--jsonl"], ["search", "convergent"], ["pages", "--format", "json"],
    ["show", "1", "--json"], ["stats", "--format", "json"], ["--help"], ["list", "--help"],
], ids=" ".join)
def test_a_reader_that_left_is_exit_0_and_silence(db: Path, args: list[str]) -> None:
    r, w = os.pipe()
    os.close(r)  # `papers ... | head -0`: the reader is gone before the first byte
    res = subprocess.run([PAPERS, "--db", str(db), *args], stdout=w, stderr=subprocess.PIPE,
                         timeout=30, check=False)
    os.close(w)
    assert (res.returncode, res.stderr) == (0, b"")


# -------------------------------------------------------------- $PAPERS_DB itself

@pytest.mark.parametrize("target,says", [
    ("dir", "is a directory, not a database file"),
    ("fifo", "is not a regular file"),
    ("text", "is not a papers database (the file is not a SQLite database)"),
    ("newline", "no database at "),
])
def test_papers_db_that_is_no_database(tmp_path: Path, target: str, says: str) -> None:
    path = {"dir": tmp_path, "fifo": tmp_path / "f.db", "text": tmp_path / "t.db",
            "newline": tmp_path / "a\nb.db"}[target]
    if target == "fifo":
        os.mkfifo(path)
    if target == "text":
        path.write_text("not sqlite\n")
    res = subprocess.run([PAPERS, "stats"], capture_output=True, text=True, timeout=30,
                         check=False, env={**os.environ, "PAPERS_DB": str(path)})
    assert res.returncode == 2
    line = one_error_line(res.stderr)
    assert says in line and "\n" not in line


# ------------------------------------------------------------- on a terminal (pty)

def _on_a_terminal(db: Path, args: list[str], env: dict[str, str], timeout: float = 8
                   ) -> tuple[int, bytes, float]:
    """Run papers with stdin, stdout and stderr on a pseudo-terminal; its exit code, what
    it showed, and how long it took (killed after `timeout`)."""
    main, sub = pty.openpty()
    full = {k: v for k, v in os.environ.items() if k not in ("PAGER", "TERM", "COLUMNS")}
    started = time.monotonic()
    child = subprocess.Popen([PAPERS, "--db", str(db), *args], stdin=sub, stdout=sub,
                             stderr=sub, env={**full, "TERM": "xterm", **env},
                             start_new_session=True)
    os.close(sub)
    shown = b""
    try:
        while (left := timeout - (time.monotonic() - started)) > 0:
            if not select.select([main], [], [], left)[0]:
                break  # nothing more within the time: it waits (for a key?)
            try:
                chunk = os.read(main, 65536)
            except OSError:  # the child ended and the terminal closed
                break
            if not chunk:
                break
            shown += chunk
    finally:
        if child.poll() is None:
            child.kill()
        code = child.wait()
        os.close(main)
    return code, shown, time.monotonic() - started


def test_quitting_the_pager_early_is_exit_0(db: Path, tmp_path: Path) -> None:
    many = make_pages(tmp_path / "many", 8, 100)  # 400 papers: more than a pipe holds
    assert cli(db, "ingest", "-q", str(many)).exit_code == 0
    code, shown, _ = _on_a_terminal(db, ["list", "-n", "1000"],
                                    {"PAGER": "head -c 10", "COLUMNS": "200"})
    assert code == 0, shown
    assert b"Traceback" not in shown


def test_a_pager_that_fails_is_one_line(db: Path) -> None:
    code, shown, _ = _on_a_terminal(db, ["list"], {"PAGER": "false"})
    assert code == 1
    assert shown.strip() == (b"papers: the pager ('false') exited with status 1; "
                             b"--no-pager or PAGER=cat prints directly")


def test_a_dumb_terminal_gets_no_pager(db: Path) -> None:
    code, shown, took = _on_a_terminal(db, ["list", "-n", "20"], {"TERM": "dumb"})
    assert code == 0 and took < 5
    assert b"Press RETURN" not in shown and b"Convergent" in shown


@pytest.mark.parametrize("columns", ["1", "10"])
def test_a_very_narrow_terminal_still_shows_the_data(db: Path, columns: str) -> None:
    code, shown, _ = _on_a_terminal(db, ["list", "-n", "3", "--fields", "id,title"],
                                    {"PAGER": "cat", "COLUMNS": columns})
    assert code == 0
    assert b"Bridging" in shown or b"Sparsing" in shown or b"Convergent" in shown, shown
    code, shown, _ = _on_a_terminal(db, ["show", "2411.02335"],
                                    {"PAGER": "cat", "COLUMNS": columns})
    assert code == 0 and b"Sparsing" in shown


# -------------------------------------------------------------------- signals

def _spools(tmp: Path) -> list[Path]:
    return sorted(tmp.glob("papers-*"))


def test_sigterm_during_a_large_page_removes_its_copy_and_says_so(db: Path,
                                                                  tmp_path: Path) -> None:
    spool_dir = tmp_path / "tmp"
    spool_dir.mkdir()
    big = tmp_path / "big.txt"
    body = "".join(f"Big paper {i} of many\n\nAbstract number {i} with some words.\n\n"
                   f"  • 3 authors\n·\nMar 1, 2024\n\n" for i in range(130_000))
    big.write_text(page(body))  # ~12 MB: over the 8 MB kept in memory, so spooled
    before = rows(db)
    child = subprocess.Popen([PAPERS, "--db", str(db), "ingest", str(big)],
                             stderr=subprocess.PIPE, env={**os.environ, "TMPDIR": str(spool_dir)})
    deadline = time.monotonic() + 20
    while not _spools(spool_dir) and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _spools(spool_dir), "the page was never spooled"
    child.send_signal(signal.SIGTERM)
    _, err = child.communicate(timeout=30)
    assert child.returncode == 143
    assert err.decode().strip().splitlines()[-1] == "interrupted: 0 pages ingested, " \
        "1 not started"
    assert _spools(spool_dir) == []
    assert rows(db) == before
    check_consistent(db)


def test_sigterm_during_many_pages_keeps_what_was_committed(tmp_path: Path) -> None:
    pages = make_pages(tmp_path / "pages", 300, 40)  # 12,000 records: batches commit
    db = tmp_path / "t.db"
    child = subprocess.Popen([PAPERS, "--db", str(db), "ingest", str(pages)],
                             stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while child.poll() is None and time.monotonic() < deadline:  # a batch is committed
        time.sleep(0.05)
        with contextlib.suppress(sqlite3.Error):
            c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.1)
            try:
                if c.execute("SELECT count(*) FROM pages").fetchone()[0]:
                    break
            finally:
                c.close()
    child.send_signal(signal.SIGTERM)
    _, err = child.communicate(timeout=30)
    if child.returncode in (0, -signal.SIGTERM) and b"300 pages: " in err:
        pytest.skip("the ingest finished before the signal")
    assert child.returncode == 143, err
    assert err.decode().strip().splitlines()[-1].startswith("interrupted: ")
    check_consistent(db)
    again = proc(db, "ingest", str(pages))
    assert again.returncode == 0  # the rest goes in; nothing was half done
    assert proc(db, "doctor").returncode == 0


# ---------------------------------------------------------------- $EDITOR

EDITORS: list[tuple[str, str, str]] = [
    # (name, the editor's shell script ($1: the note's file), what the line says)
    ("a note in Latin-1", "printf 'caf\\351' > \"$1\"",
     "the note is not UTF-8 (byte 0xe9 at offset 3)"),
    ("an editor that removes the file", "rm \"$1\"", "$EDITOR left no note to read"),
    ("an editor that leaves a folder", "rm \"$1\"; mkdir \"$1\"",
     "$EDITOR left no note to read (Is a directory)"),
    ("a note with a NUL", "printf 'a\\000b' > \"$1\"",
     "the note from $EDITOR contains a NUL character: nothing saved"),
    ("an editor that fails", "exit 3", "$EDITOR exited with status 3"),
]


def _editor(tmp: Path, script: str) -> dict[str, str]:
    """An $EDITOR running `script`; it writes down the note's file name in tmp/edited."""
    editor = tmp / "editor.sh"
    editor.write_text(f"#!/bin/sh\nprintf '%s' \"$1\" > '{tmp}/edited'\n{script}\n")
    editor.chmod(0o755)
    return {"VISUAL": "", "EDITOR": str(editor)}


@pytest.mark.parametrize("name,script,says", EDITORS, ids=[e[0] for e in EDITORS])
def test_a_hostile_editor_saves_nothing(db: Path, tmp_path: Path, name: str, script: str,
                                        says: str) -> None:
    before = rows(db)
    result = cli(db, "note", "3", env=_editor(tmp_path, script))
    assert result.exit_code == 2, result.stderr
    assert says in one_error_line(result.stderr)
    assert rows(db) == before
    assert not Path((tmp_path / "edited").read_text()).exists()  # no file or folder left


def test_a_note_in_utf8_from_the_editor_is_kept_exactly(db: Path, tmp_path: Path) -> None:
    result = cli(db, "note", "3", env=_editor(tmp_path, "printf 'caf\\303\\251\\r\\n' > \"$1\""))
    assert result.exit_code == 0, result.stderr
    assert _stored(db, "SELECT n.text FROM personal_notes n JOIN personal p USING (origin_id) "
                       "WHERE p.paper_id = 3") == [("caf\u00e9",)]


# ------------------------------------------------------- a sequence of operations

def test_personal_data_follows_identity_through_merge_rm_undo_and_restore(tmp_path: Path
                                                                          ) -> None:
    """tag A, note and star B; merge B into A; tag and note through B's merged id; remove
    B's page; undo; ingest B again; export and restore: each keeps exactly its own."""
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    abstract = "We learn compact image representations from unlabelled data."
    a.write_text(f"Daily Papers\n\nApr 2\n\nHierarchical Diffusion Transformers\n\n"
                 f"{abstract}\n\n  • 3 authors\n·\nMar 1, 2024\n")
    b.write_text(a.read_text().replace("Diffusion", "Diffusoin").replace("Apr 2", "Apr 3"))
    db = tmp_path / "s.db"
    steps = [("ingest", "-q", "--year", "2024", str(a), str(b)), ("tag", "1", "+froma"),
             ("note", "2", "-m", "note on B"), ("mark", "2", "--star"),
             ("dedupe", "--apply"), ("tag", "2", "+viamerged"),
             ("note", "2", "-m", "written through the merged id"), ("rm", str(b)),
             ("dedupe", "--undo"), ("ingest", "-q", "--year", "2024", str(b))]
    for step in steps:
        assert cli(db, *step).exit_code == 0, step

    def library(path: Path) -> dict[str, tuple]:
        got = json.loads(cli(path, "list", "--format", "json", "--fields",
                             "title,tags,notes,starred").stdout)
        return {r["title"]: (tuple(r["tags"]), tuple(n["text"] for n in r["notes"]),
                             r["starred"]) for r in got}

    want = {"Hierarchical Diffusion Transformers": (("froma", "viamerged"),
                                                    ("written through the merged id",), False),
            "Hierarchical Diffusoin Transformers": ((), ("note on B",), True)}
    assert library(db) == want
    assert cli(db, "doctor").exit_code == 0
    backup = tmp_path / "backup.jsonl"
    backup.write_text(cli(db, "export", "--jsonl").stdout)
    restored = tmp_path / "restored.db"
    assert cli(restored, "ingest", str(backup)).exit_code == 0
    assert library(restored) == want


# ---------------------------------------------------- a hostile server, more answers

HOSTILE_ANSWERS: list[tuple[str, dict[str, Any], int, str]] = [
    ("gzip that is cut short", {"body": gzip.compress(b'[{"paper": {}}]' * 50)[:-10],
                                "headers": {"Content-Encoding": "gzip"}}, 1, "rejected"),
    ("HTTP 204 with no body", {"status": 204, "body": b""}, 1, "HTTP 204"),
    ("JSON null", {"body": b"null"}, 1, "not JSON"),
    ("a lone NaN", {"body": b"[NaN]"}, 1, "a lone JSON float"),
    ("Latin-1 announced", {"body": b'[{"title": "caf\xe9"}]',
                           "content_type": "application/json; charset=iso-8859-1"}, 1,
     "not UTF-8 (byte 0xe9"),
    ("an escape in the content type", {"body": b"<html>", "content_type": "text/html\x1b[31m"},
     1, "not JSON (content type"),
]


@pytest.mark.parametrize("name,reply,code,says", HOSTILE_ANSWERS,
                         ids=[h[0] for h in HOSTILE_ANSWERS])
def test_a_hostile_answer_rejects_its_day(db: Path, name: str, reply: dict[str, Any],
                                          code: int, says: str,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from hfserver import Reply, hf_server

    with hf_server() as server:
        server.day("2024-07-10", Reply(**reply))
        monkeypatch.setenv("PAPERS_HF_URL", server.url)
        monkeypatch.delenv("HF_TOKEN", raising=False)
        before = rows(db)
        result = cli(db, "fetch", "--rate", "50", "--backoff", "0", "--retries", "0",
                     "--timeout", "2", "--date", "2024-07-10")
    assert result.exit_code == code, result.stderr
    assert says in result.stderr and "\x1b" not in result.stderr
    assert rows(db) == before


def test_ingest_bytes_never_raises_for_what_the_cli_refuses(tmp_path: Path) -> None:
    """The library entry gets the same answers: a rejected outcome, not an exception."""
    conn = connect(tmp_path / "lib.db")
    for _, _, data, says in BAD_PAGES:
        out = ingest_bytes(conn, data, "x")
        assert out.status == "rejected" and says.split(": ", 1)[-1][:20] in out.message
    conn.close()
