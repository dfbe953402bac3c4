"""Issue 17: tags, notes, marks, saved searches and the digest, on real SQLite files."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers import TODAY, library
from papers_cli.cli.app import app
from papers_cli.engine import dedupe
from papers_cli.engine.ingest import ingest_bytes
from papers_cli.storage.identity import resolve_paper_id
from papers_cli.storage.pages import remove_pages

ABSTRACT = ("We introduce a method for {topic} that learns compact representations from "
            "unlabelled data, scales to billions of tokens and improves downstream accuracy on "
            "twelve benchmarks while halving the compute budget of prior approaches.")


def item(aid: str, title: str, topic: str, upvotes: int = 5, day: str = "2025-03-03") -> dict:
    return {"paper": {"id": aid, "title": title, "summary": ABSTRACT.format(topic=topic),
                      "publishedAt": f"{day}T00:00:00Z", "upvotes": upvotes,
                      "authors": [{"name": "Ada Lovelace"}]},
            "publishedAt": f"{day}T00:00:00Z", "numComments": 1}


def put(conn: sqlite3.Connection, items: list[dict], name: str,
        at: str = "2025-03-03T08:00:00+00:00") -> None:
    out = ingest_bytes(conn, json.dumps(items).encode(), name, today=TODAY, ingested_at=at)
    assert out.status == "ingested", out.message


def pid(conn: sqlite3.Connection, aid: str) -> int:
    got = resolve_paper_id(conn, aid)
    assert got is not None
    return got


@pytest.fixture
def lib(conn: sqlite3.Connection) -> sqlite3.Connection:
    put(conn, [item("2503.00001", "Activation Sparsity in Large Models", "activation sparsity",
                    upvotes=40),
               item("2503.00002", "Sparse Attention Kernels", "sparse attention", upvotes=12),
               item("2503.00003", "Crop Rotation Economics", "crop rotation", upvotes=3)], "a")
    return conn


def test_tags_are_folded_added_removed_and_checked(lib: sqlite3.Connection) -> None:
    a, b = pid(lib, "2503.00001"), pid(lib, "2503.00002")
    assert library.tag(lib, [a, b], add=["Efficiency", "to-read"]) == {
        a: ["efficiency", "to-read"], b: ["efficiency", "to-read"]}
    assert library.tag(lib, [a], remove=["TO-READ"]) == {a: ["efficiency"]}
    for bad in ("", "has space", "-x", "semi;colon", "x" * 65):
        with pytest.raises(library.LibraryError) as e:
            library.tag(lib, [a], add=[bad])
        assert e.value.code == 2
    with pytest.raises(library.LibraryError) as e:
        library.tag(lib, [999], add=["x"])
    assert e.value.code == 1 and "999" in str(e.value)
    assert library.personal(lib, a)["tags"] == ["efficiency"]  # the failed calls wrote nothing


def test_cli_tag_note_mark_list_search(lib: sqlite3.Connection, db_path: Path) -> None:
    a, b, c = (pid(lib, f"2503.0000{i}") for i in (1, 2, 3))
    r = CliRunner()
    db = ["--db", str(db_path)]
    res = r.invoke(app, ["tag", str(a), "2503.00002", "+Efficiency", "+old", *db])
    assert res.exit_code == 0, res.output
    res = r.invoke(app, ["tag", str(a), "-old", *db])
    assert res.exit_code == 0 and f"{a}\tefficiency" in res.stdout
    assert r.invoke(app, ["tag", str(a), "+bad tag!", *db]).exit_code == 2
    res = r.invoke(app, ["tag", "424242", "+x", *db])
    assert res.exit_code == 1 and "no paper with id '424242'" in res.stderr
    assert r.invoke(app, ["note", str(a), "-m", "baseline is dense attention", *db]).exit_code == 0
    res = r.invoke(app, ["note", str(a), "-m", "   \n", *db])
    assert res.exit_code == 2 and "empty note" in res.stderr
    assert r.invoke(app, ["mark", str(a), str(c), "--read", "--star", *db]).exit_code == 0
    assert r.invoke(app, ["mark", str(c), "--unstar", *db]).exit_code == 0
    assert r.invoke(app, ["mark", str(c), "--read", "--unread", *db]).exit_code == 2

    def listed(*args: str) -> list[int]:
        res = r.invoke(app, ["list", "--format", "ids", *args, *db])
        return sorted(int(x) for x in res.stdout.split())

    assert listed("--tag", "EFFICIENCY") == sorted([a, b])
    assert listed("--unread") == [b]
    assert listed("--read") == sorted([a, c])
    assert listed("--starred") == [a]
    assert listed("--tag", "efficiency", "--unread") == [b]
    res = r.invoke(app, ["search", "tag:efficiency note:baseline sparsity", "-f", "ids", *db])
    assert res.stdout.split() == [str(a)]
    res = r.invoke(app, ["search", "tag:efficiency", "-f", "ids", *db])
    assert sorted(int(x) for x in res.stdout.split()) == sorted([a, b])
    res = r.invoke(app, ["search", 'note:"dense attention"', "-f", "ids", *db])
    assert res.stdout.split() == [str(a)]
    assert r.invoke(app, ["search", "tag:nothere", *db]).exit_code == 1
    # Review: "-tag:x" excluded the words "tag x" (the tagged paper was found) and
    # "tag:x OR tag:y" said "empty query": each is refused, in one line, exit 2.
    for query, words in (("sparsity -tag:efficiency", "-tag: is not a filter"),
                         ("-note:baseline sparsity", "-note: is not a filter"),
                         ("sparsity -text:routing", "-text: is not a filter"),
                         ("tag:efficiency OR tag:old", "OR joins words"),
                         ('sparsity OR note:"dense attention"', "OR joins words"),
                         ("text:routing OR sparsity", "OR joins words"),
                         # Nothing after the colon searched the word itself ("text").
                         ("text:", "text: needs what to look for"),
                         ("sparsity tag: x", "tag: needs what to look for"),
                         ('note:""', "note: needs what to look for")):
        res = r.invoke(app, ["search", "-f", "ids", *db, "--", query])
        assert res.exit_code == 2 and res.stdout == "", (query, res.output)
        assert words in res.stderr and res.stderr.count("\n") == 1, (query, res.stderr)
    res = r.invoke(app, ["search", "-f", "ids", *db, "--", "sparsity OR routing tag:efficiency"])
    assert res.exit_code == 0 and res.stdout.split() == [str(a)]


def _fake_editor(tmp_path: Path, body: str, code: int = 0) -> str:
    script = tmp_path / "editor.py"
    script.write_text("import sys\n"
                      f"open(sys.argv[1], 'w', encoding='utf-8').write({body!r})\n"
                      f"sys.exit({code})\n")
    return f"{sys.executable} {script}"


def test_note_with_editor_in_a_subprocess(lib: sqlite3.Connection, db_path: Path,
                                          tmp_path: Path) -> None:
    a = pid(lib, "2503.00001")
    papers = [sys.executable, "-m", "papers_cli", "--db", str(db_path), "note", str(a)]
    env = {k: v for k, v in os.environ.items() if k not in ("VISUAL", "EDITOR")}
    ok = subprocess.run(papers, env={**env, "EDITOR": _fake_editor(tmp_path, "From the editor.\n")},
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    failing = subprocess.run(papers, env={**env, "EDITOR": _fake_editor(tmp_path, "half", 3)},
                             capture_output=True, text=True, timeout=60)
    assert failing.returncode == 2 and "nothing saved" in failing.stderr
    assert "Traceback" not in failing.stderr
    missing = subprocess.run(papers, env={**env, "EDITOR": "/nonexistent/editor"},
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "nothing saved" in missing.stderr
    unset = subprocess.run(papers, env=env, capture_output=True, text=True, timeout=60)
    assert unset.returncode == 2
    empty = subprocess.run(papers, env={**env, "EDITOR": _fake_editor(tmp_path, "\n\n")},
                           capture_output=True, text=True, timeout=60)
    assert empty.returncode == 2 and "empty note" in empty.stderr
    lib.execute("SELECT 1")  # see the other process's commit
    assert [n["text"] for n in library.personal(lib, a)["notes"]] == ["From the editor."]


def test_merge_unions_and_undo_gives_each_its_own(conn: sqlite3.Connection) -> None:
    page = ("new\n\nDaily Papers\n\nApr 2\n\n{title}\n\n" + ABSTRACT.format(topic="diffusion")
            + "\n\n  • 3 authors\n·\nMar 1, 2024\n")
    for name, title in (("a", "Hierarchical Diffusion Transformers"),
                        ("b", "Hierarchical Diffusion Transformers (v2)")):
        out = ingest_bytes(conn, page.format(title=title).encode(), name, today=TODAY)
        assert out.status == "ingested", out.message
    a, b = (r[0] for r in conn.execute("SELECT id FROM papers ORDER BY id"))
    library.tag(conn, [a], add=["shared", "only-a"])
    library.tag(conn, [b], add=["shared", "only-b"])
    library.note(conn, a, "note on a")
    library.note(conn, b, "note on b")
    library.mark(conn, [a], read=True)
    library.mark(conn, [b], starred=True)
    before = {p: library.personal(conn, p) for p in (a, b)}
    res = dedupe.apply(conn, dedupe.find_clusters(conn))
    assert res.merged == 1
    (survivor,) = (r[0] for r in conn.execute("SELECT id FROM papers"))
    merged = library.personal(conn, survivor)
    assert merged["tags"] == ["only-a", "only-b", "shared"]
    assert sorted((n["from"], n["text"]) for n in merged["notes"]) == [
        (a, "note on a"), (b, "note on b")]
    assert merged["read"] and merged["starred"]
    library.tag(conn, [survivor], add=["after-merge"])
    assert dedupe.undo(conn) is not None
    for p in (a, b):
        got = library.personal(conn, p)
        want = before[p]
        if p == survivor:
            want = {**want, "tags": sorted([*want["tags"], "after-merge"])}
        assert got == want


def test_page_removal_keeps_data_and_reingest_brings_it_back(lib: sqlite3.Connection,
                                                             db_path: Path) -> None:
    put(lib, [item("2503.00009", "Tiny Paper", "tiny things")], "tiny",
        at="2025-03-04T08:00:00+00:00")
    t = pid(lib, "2503.00009")
    library.tag(lib, [t], add=["keep"])
    library.note(lib, t, "my thoughts")
    library.mark(lib, [t], starred=True)
    page_id = lib.execute("SELECT page_id FROM sightings WHERE paper_id = ?", (t,)).fetchone()[0]
    remove_pages(lib, [page_id])
    assert resolve_paper_id(lib, "2503.00009") is None
    (orphan,) = library.orphans(lib)
    assert orphan["origin_id"] == t and orphan["arxiv_id"] == "2503.00009"
    assert orphan["tags"] == ["keep"] and orphan["notes"] == 1 and orphan["starred"]
    res = CliRunner().invoke(app, ["doctor", "--db", str(db_path)])
    assert "personal data of removed papers\t1" in res.stdout
    # The same paper ingested again (a new id: ids are never reused) takes it back.
    put(lib, [item("2503.00009", "Tiny Paper", "tiny things", upvotes=9)], "tiny-again",
        at="2025-03-05T08:00:00+00:00")
    t2 = pid(lib, "2503.00009")
    assert t2 != t and library.orphans(lib) == []
    got = library.personal(lib, t2)
    assert got["tags"] == ["keep"] and got["starred"]
    assert [n["text"] for n in got["notes"]] == ["my thoughts"]


def test_reingest_never_touches_personal_data(lib: sqlite3.Connection) -> None:
    a = pid(lib, "2503.00001")
    library.tag(lib, [a], add=["x"])
    library.mark(lib, [a], read=True)
    before = library.personal(lib, a)
    put(lib, [item("2503.00001", "Activation Sparsity in Large Models (v2)",
                   "activation sparsity", upvotes=99)], "later", at="2025-03-09T08:00:00+00:00")
    assert pid(lib, "2503.00001") == a
    assert library.personal(lib, a) == before


def test_watches(lib: sqlite3.Connection, db_path: Path) -> None:
    r = CliRunner()
    db = ["--db", str(db_path)]
    assert r.invoke(app, ["watch", "list", *db]).exit_code == 1
    res = r.invoke(app, ["watch", "add", "Sparsity", "activation sparsity OR sparse attention",
                         *db])
    assert res.exit_code == 0, res.output
    assert r.invoke(app, ["watch", "add", "bad name", "x", *db]).exit_code == 2
    assert r.invoke(app, ["watch", "add", "empty", "  ", *db]).exit_code == 2
    res = r.invoke(app, ["watch", "list", "--format", "tsv", *db])
    assert res.exit_code == 0 and "sparsity\tactivation sparsity OR sparse attention" in res.stdout
    assert r.invoke(app, ["watch", "rm", "nope", *db]).exit_code == 1
    assert r.invoke(app, ["watch", "rm", "sparsity", *db]).exit_code == 0
    assert library.watch_list(lib) == []


def test_digest_new_by_identity_and_upvote_jumps(lib: sqlite3.Connection) -> None:
    library.watch_add(lib, "sparsity", "sparsity OR sparse")
    library.watch_add(lib, "crops", "crop rotation")
    first = library.digest(lib, now="2025-03-03T09:00:00+00:00")
    got = {g.watch: [i.paper["arxiv_id"] for i in g.items] for g in first.groups}
    assert got == {"crops": ["2503.00003"], "sparsity": ["2503.00001", "2503.00002"]}  # best 1st
    assert first.since is None
    # Nothing new: nothing shown again.
    assert library.digest(lib, now="2025-03-03T10:00:00+00:00").total == 0
    # A later day: one new paper, a v2 re-listing of a known one, an upvote jump.
    put(lib, [item("2503.00004", "Sparse Experts Routing", "sparse routing", upvotes=7,
                   day="2025-03-05"),
              item("2503.00001", "Activation Sparsity in Large Models v2", "activation sparsity",
                   upvotes=41, day="2025-03-05"),
              item("2503.00002", "Sparse Attention Kernels", "sparse attention", upvotes=30,
                   day="2025-03-05")], "b", at="2025-03-05T08:00:00+00:00")
    d = library.digest(lib, now="2025-03-05T09:00:00+00:00")
    assert d.since == "2025-03-03T10:00:00+00:00"
    (sp,) = [g for g in d.groups if g.watch == "sparsity"]
    assert [(i.paper["arxiv_id"], i.describe()) for i in sp.items] == [
        ("2503.00004", "new"), ("2503.00002", "upvotes +18")]
    # --since DATE: first listed on or after the date, whatever was shown before.
    d = library.digest(lib, since="2025-03-04", watch="sparsity", record=False)
    assert [i.paper["arxiv_id"] for i in d.groups[0].items] == ["2503.00004"]
    with pytest.raises(library.LibraryError) as e:
        library.digest(lib, watch="nope")
    assert e.value.code == 1
    with pytest.raises(library.LibraryError) as e:
        library.digest(lib, since="yesterday-ish")
    assert e.value.code == 2


def test_digest_formats(lib: sqlite3.Connection, db_path: Path, tmp_path: Path) -> None:
    import feedparser

    put(lib, [item("2503.00005", "Sparse <script>alert(1)</script> [x](javascript:y) \x1b[31m",
                   "sparse evil", upvotes=8)], "evil", at="2025-03-03T08:30:00+00:00")
    library.watch_add(lib, "sparsity", "sparsity OR sparse")
    r = CliRunner()
    db = ["--db", str(db_path)]
    md = r.invoke(app, ["digest", "--format", "md", "--dry-run", *db])
    assert md.exit_code == 0, md.output
    assert "## sparsity" in md.stdout and "\x1b" not in md.stdout
    assert "<script>" not in md.stdout and "](javascript:" not in md.stdout
    assert "[Sparse Attention Kernels](https://huggingface.co/papers/2503.00002)" in md.stdout
    js = json.loads(r.invoke(app, ["digest", "--format", "json", "--dry-run", *db]).stdout)
    assert [p["arxiv_id"] for p in js["watches"][0]["papers"]][:2] == ["2503.00001", "2503.00002"]
    out = tmp_path / "feed.xml"
    res = r.invoke(app, ["digest", "--format", "atom", "-o", str(out), *db])
    assert res.exit_code == 0, res.output
    feed = feedparser.parse(out.read_bytes())
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    ids = [e.id for e in feed.entries]
    assert len(ids) == len(set(ids)) == 3  # the three sparse papers, once each
    assert "urn:papers:arxiv:2503.00001" in ids
    assert all(e.updated_parsed for e in feed.entries)
    # The run was recorded once the feed was written: nothing new now (exit 1).
    again = r.invoke(app, ["digest", "--format", "md", *db])
    assert again.exit_code == 1
    assert r.invoke(app, ["digest", "--format", "rss", *db]).exit_code == 2
