"""Issue 17: personal data (tags, notes, read, starred) in every export format, and
restored by `papers ingest` of a JSONL export (fresh db, existing db, twice)."""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from helpers import SAMPLES, TODAY, library, snapshot
from papers_cli.cli.app import app
from papers_cli.core.sanitize import braces_balanced
from papers_cli.engine import dedupe
from papers_cli.engine.ingest import expand_paths, ingest_bytes, ingest_sources
from papers_cli.storage.connection import connect
from papers_cli.storage.identity import resolve_paper_id

ABSTRACT = "We study {topic} at scale and report results on twelve benchmarks."
MERGE_PAGE = ("new\n\nDaily Papers\n\nApr 2\n\n{title}\n\n" + ABSTRACT.format(topic="diffusion")
              + "\n\n  • 3 authors\n·\nMar 1, 2024\n")
HOSTILE = "weak } baseline, @misc{pwn, title={x}} [click](javascript:alert(1)) <b>#1</b> 100%"


def run(db: Path, *args: str) -> Any:
    return CliRunner().invoke(app, ["--db", str(db), *args], catch_exceptions=False)


def pid(conn: sqlite3.Connection, ident: str) -> int:
    got = resolve_paper_id(conn, ident)
    assert got is not None
    return got


def corpus(conn: sqlite3.Connection) -> None:
    assert not ingest_sources(conn, expand_paths([str(SAMPLES)]), today=TODAY).failed


@pytest.fixture
def personal_db(db_path: Path) -> Path:
    """The sample corpus plus personal data, including a merge (a note written for
    the paper merged away) and a hostile note."""
    conn = connect(db_path)
    corpus(conn)
    for name, title in (("a", "Hierarchical Diffusion Transformers"),
                        ("b", "Hierarchical Diffusion Transformers (v2)")):
        assert ingest_bytes(conn, MERGE_PAGE.format(title=title).encode(), name,
                            today=TODAY).status == "ingested"
    a, b = (pid(conn, str(r[0])) for r in conn.execute(
        "SELECT id FROM papers WHERE title LIKE 'Hierarchical Diffusion%' ORDER BY id"))
    library.tag(conn, [a], add=["diffusion", "to-read"])
    library.tag(conn, [b], add=["diffusion", "v2"])
    library.note(conn, a, "note on a", now="2025-03-01T10:00:00+00:00")
    library.note(conn, b, "note on b\nsecond line", now="2025-03-02T10:00:00+00:00")
    library.mark(conn, [b], starred=True)
    assert dedupe.apply(conn, dedupe.find_clusters(conn)).merged >= 1
    conv = pid(conn, "1")  # "Convergent Learning" in the samples
    library.tag(conn, [conv], add=["efficiency"])
    library.note(conn, conv, HOSTILE, now="2025-03-03T10:00:00+00:00")
    library.mark(conn, [conv], read=True, starred=True)
    conn.close()
    return db_path


def personal_by_identity(db: Path) -> dict[str, dict[str, Any]]:
    """Every paper's personal data keyed by title key (ids differ between databases),
    `from` as "self" or "otherN" (another paper, numbered in order of appearance)."""
    conn = connect(db)
    ids = [r[0] for r in conn.execute("SELECT id FROM papers")]
    titles = dict(conn.execute("SELECT id, title_key FROM papers").fetchall())
    out: dict[str, dict[str, Any]] = {}
    for p, data in library.personal_many(conn, ids).items():
        others: dict[int, str] = {}
        notes = [(n["text"], n["created_at"], "self" if n["from"] == p else
                  others.setdefault(n["from"], f"other{len(others)}")) for n in data["notes"]]
        out[titles[p]] = {"tags": data["tags"], "notes": notes, "read": data["read"],
                          "starred": data["starred"]}
    conn.close()
    return out


def export_jsonl(db: Path, tmp_path: Path) -> Path:
    dump = tmp_path / "all.jsonl"
    res = run(db, "export", "--jsonl", "-o", str(dump))
    assert res.exit_code == 0, res.stderr
    return dump


def test_round_trip_into_a_fresh_db(personal_db: Path, tmp_path: Path) -> None:
    before = personal_by_identity(personal_db)
    assert len(before) == 2
    merged = next(v for k, v in before.items() if "hierarchical" in k)
    assert merged["tags"] == ["diffusion", "to-read", "v2"] and merged["starred"]
    assert {n[2] for n in merged["notes"]} == {"self", "other0"}  # one written for b
    dump = export_jsonl(personal_db, tmp_path)
    fresh = tmp_path / "fresh.db"
    res = run(fresh, "ingest", str(dump))
    assert res.exit_code == 0, res.stderr
    assert "restored 10 tag(s), note(s) and mark(s)" in res.stderr
    assert personal_by_identity(fresh) == before
    assert snapshot(fresh) == snapshot(personal_db)
    # The note written for the merged-away paper got an id no paper will ever take.
    conn = connect(fresh)
    foreign = conn.execute("SELECT origin_id FROM personal WHERE origin_id != paper_id") \
        .fetchall()
    assert len(foreign) == 1
    assert conn.execute("SELECT count(*) FROM papers WHERE id = ?", foreign[0]).fetchone()[0] == 0
    conn.close()
    # Exported again, the fresh db gives the same personal fields.
    (tmp_path / "again").mkdir()
    again = [json.loads(line) for line in
             export_jsonl(fresh, tmp_path / "again").read_text().splitlines()]
    first = [json.loads(line) for line in dump.read_text().splitlines()]

    def key(r: dict[str, Any]) -> tuple[Any, ...]:
        return (r["title"], r["tags"], [(n["text"], n["created_at"]) for n in r["notes"]],
                r["read"], r["starred"])

    assert sorted(map(key, again)) == sorted(map(key, first))


def test_restore_twice_adds_nothing(personal_db: Path, tmp_path: Path) -> None:
    dump = export_jsonl(personal_db, tmp_path)
    fresh = tmp_path / "fresh.db"
    assert run(fresh, "ingest", str(dump)).exit_code == 0
    once = personal_by_identity(fresh)
    res = run(fresh, "ingest", str(dump))
    assert res.exit_code == 0 and "1 already ingested" in res.stderr
    assert personal_by_identity(fresh) == once
    conn = connect(fresh)
    assert conn.execute("SELECT count(*) FROM personal_notes").fetchone()[0] == 3
    conn.close()


def test_restore_into_a_db_that_has_the_papers(personal_db: Path, tmp_path: Path) -> None:
    dump = export_jsonl(personal_db, tmp_path)
    other = tmp_path / "other.db"
    conn = connect(other)
    corpus(conn)
    conv = pid(conn, "1")
    library.tag(conn, [conv], add=["mine"])
    library.note(conn, conv, "already here", now="2024-01-01T00:00:00+00:00")
    papers_before = conn.execute("SELECT count(*) FROM papers").fetchone()[0]
    conn.close()
    res = run(other, "ingest", str(dump))
    assert res.exit_code == 0, res.stderr
    got = personal_by_identity(other)
    want = personal_by_identity(personal_db)
    title = next(k for k in want if k.startswith("convergent"))
    assert got[title]["tags"] == ["efficiency", "mine"]  # union: nothing of its own lost
    assert got[title]["notes"] == [("already here", "2024-01-01T00:00:00+00:00", "self"),
                                   *want[title]["notes"]]
    assert got[title]["read"] and got[title]["starred"]
    conn = connect(other)
    assert conn.execute("SELECT count(*) FROM papers").fetchone()[0] >= papers_before
    conn.close()
    # Only personal data was new: a second run changes nothing and says so.
    assert "already ingested" in run(other, "ingest", str(dump)).stderr
    assert personal_by_identity(other) == got


def test_bad_personal_data_is_one_line_with_its_line(personal_db: Path, tmp_path: Path) -> None:
    lines = export_jsonl(personal_db, tmp_path).read_text().splitlines()
    for bad, says in (({"tags": ["ok", "bad tag!"]}, "tags: bad tag"),
                      ({"notes": [{"text": "x", "created_at": "yesterday"}]}, "created_at"),
                      ({"notes": [{"text": "x", "created_at": "2025-01-01", "from": "a"}]},
                       "from"),
                      ({"read": "yes"}, "read: not true or false")):
        edited = [json.dumps({**json.loads(line), **bad}) if i == 2 else line
                  for i, line in enumerate(lines)]
        path = tmp_path / "bad.jsonl"
        path.write_text("\n".join(edited) + "\n")
        res = run(tmp_path / "bad.db", "ingest", str(path))
        assert res.exit_code == 1
        err = [ln for ln in res.stderr.splitlines() if "bad.jsonl:3:" in ln]
        assert len(err) == 1 and says in err[0], res.stderr
        assert "Traceback" not in res.stderr


def test_csv_has_tags_and_marks(personal_db: Path) -> None:
    rows = list(csv.DictReader(io.StringIO(run(personal_db, "export", "--csv").stdout)))
    conv = next(r for r in rows if r["title"].startswith("Convergent Learning"))
    merged = next(r for r in rows if r["title"].startswith("Hierarchical Diffusion"))
    assert conv["tags"] == "efficiency" and conv["read"] == "true"
    assert merged["tags"] == "diffusion;to-read;v2" and merged["read"] == "false"
    assert merged["notes"] == "note on a\n\nnote on b\nsecond line"
    assert conv["notes"].startswith("weak }")
    plain = next(r for r in rows if not r["tags"])
    assert plain["notes"] == "" and plain["starred"] == "false"


def test_bibtex_keywords_and_escaped_note(personal_db: Path) -> None:
    conn = connect(personal_db)
    conv = pid(conn, "1")
    conn.execute("UPDATE papers SET keywords = ? WHERE id = ?",
                 (json.dumps(["Neural Networks", "Efficiency"]), conv))
    conn.commit()
    conn.close()
    out = run(personal_db, "export", str(conv), "--bibtex").stdout
    assert out.count("@misc{") == 1 and braces_balanced(out)
    fields = dict(re.findall(r"^  (\w+) = (.*?),?$", out, flags=re.M))
    assert fields["keywords"] == "{Neural Networks, Efficiency}"  # tag = keyword once
    assert fields["note"] == (r"{weak \textbraceright{} baseline, @misc\textbraceleft{}pwn, "
                              r"title=\textbraceleft{}x\textbraceright{}\textbraceright{} "
                              r"[click](javascript:alert(1)) <b>\#1</b> 100\%}")
    assert "pwn" not in "".join(re.findall(r"^@misc\{([^,]+),", out, flags=re.M))
    assert "keywords = {diffusion, to-read, v2}" in run(personal_db, "export", "--bibtex").stdout
    assert "note = {note on a / note on b second line}" in run(
        personal_db, "export", "--bibtex").stdout


def test_markdown_shows_tags_and_escaped_notes(personal_db: Path) -> None:
    out = run(personal_db, "export", "1", "--format", "md").stdout
    head, note = out.rstrip("\n").split("\n")
    assert head.endswith("· ★ · read · tags: efficiency")
    assert note == (r"  - note (2025-03-03): weak } baseline, @misc{pwn, title={x}} "
                    r"\[click\]\(javascript:alert\(1\)\) \<b\>\#1\</b\> 100%")


def test_fields_select_personal_data(personal_db: Path) -> None:
    res = run(personal_db, "list", "--tag", "diffusion", "--fields", "id,tags,read,starred",
              "--format", "json")
    assert res.exit_code == 0, res.stderr
    (rec,) = json.loads(res.stdout)
    assert rec.keys() == {"id", "tags", "read", "starred"}
    assert rec["tags"] == ["diffusion", "to-read", "v2"] and rec["starred"] is True
    assert run(personal_db, "export", "--fields", "notess", "--json").exit_code == 2


def test_show_prints_personal_data(personal_db: Path) -> None:
    text = run(personal_db, "show", "1", "--format", "tsv").stdout
    assert "tags: efficiency\n" in text and "marks: read, starred\n" in text
    assert "notes (1):\n# 2025-03-03T10:00:00+00:00\nweak } baseline" in text
    rec = json.loads(run(personal_db, "show", "1", "--json").stdout)
    assert rec["tags"] == ["efficiency"] and rec["read"] is True and rec["starred"] is True
    assert [n["text"] for n in rec["notes"]] == [HOSTILE]
    conn = connect(personal_db)
    merged = conn.execute("SELECT id FROM papers WHERE title LIKE 'Hier%'").fetchone()[0]
    conn.close()
    table = run(personal_db, "show", str(merged), "--format", "table").stdout
    assert "diffusion, to-read, v2" in table and "Notes" in table and "(paper " in table
    bare = run(personal_db, "show", "2", "--format", "tsv").stdout
    assert "tags:" not in bare and "notes (" not in bare and "marks:" not in bare
