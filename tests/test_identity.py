"""One definition of a paper: the sequences of commands that used to lose or corrupt data.

Each test is one case from the "One definition of a paper" issue; each failed on the
code before papers were folded from their sightings.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import pytest

from helpers import SAMPLES, TODAY, dump, get_paper, interruptible, list_papers, page
from papers_cli.engine import dedupe, export
from papers_cli.engine.ingest import expand_paths, ingest_bytes, ingest_sources, ingest_stream
from papers_cli.storage.connection import connect, db_path
from papers_cli.storage.doctor import health, problems
from papers_cli.storage.filters import Filters
from papers_cli.storage.pages import list_pages, remove_pages
from papers_cli.storage.read import counts
from papers_cli.storage.records import Selection

PAPERS = str(Path(sys.executable).parent / "papers")
ABSTRACT = ("We propose a method for training sparse networks that keeps accuracy while "
            "cutting compute by half across many benchmarks, model sizes and datasets; "
            "experiments on language and vision confirm the gains at every scale we tried.")
OTHER = ("A field guide to the growth of mushrooms in Nordic forests, with maps of where "
         "chanterelles appear after rain and a key to telling edible species from the "
         "poisonous ones that look like them, for hikers and cooks alike.")


def papers(db: Path, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PAPERS, "--db", str(db), *args], capture_output=True, text=True,
                          check=False, **kw)


def item(title: str, abstract: str | None, day: str, upvotes: int | None = None,
         arxiv: str | None = None, comments: int | None = None,
         authors: tuple[str, ...] = ("Ada Lovelace",)) -> dict[str, Any]:
    """One /api/daily_papers item listed on `day`."""
    p: dict[str, Any] = {"title": title, "publishedAt": "2024-12-01T00:00:00.000Z",
                         "submittedOnDailyAt": f"{day}T08:00:00.000Z",
                         "authors": [{"name": a} for a in authors]}
    if abstract is not None:
        p["summary"] = abstract
    if arxiv:
        p["id"] = arxiv
    if upvotes is not None:
        p["upvotes"] = upvotes
    it: dict[str, Any] = {"paper": p, "title": title, "publishedAt": f"{day}T08:00:00.000Z"}
    if comments is not None:
        it["numComments"] = comments
    return it


def api(*items: dict[str, Any]) -> bytes:
    return json.dumps(list(items), indent=2).encode()


def ingest(conn: sqlite3.Connection, data: bytes, name: str = "page") -> str:
    out = ingest_bytes(conn, data, name, today=TODAY)
    assert out.status in ("ingested", "skipped"), out.message
    return out.status


def only(conn: sqlite3.Connection) -> dict[str, Any]:
    rows = list_papers(conn, Filters())
    assert len(rows) == 1, [r["title"] for r in rows]
    paper = get_paper(conn, rows[0]["id"])
    assert paper is not None
    return paper


def test_restore_partial_export_then_ingest_pages_gives_every_paper(tmp_path: Path) -> None:
    full = tmp_path / "full.db"
    assert papers(full, "ingest", str(SAMPLES)).returncode == 0
    out = tmp_path / "part.jsonl"
    res = papers(full, "export", "--jsonl", "--since", "2025-10", "-o", str(out))
    assert res.returncode == 0, res.stderr
    exported = len(out.read_text().splitlines())
    assert 0 < exported < 123
    db = tmp_path / "restored.db"
    assert papers(db, "ingest", str(out)).returncode == 0
    assert counts(connect(db))["papers"] == exported
    res = papers(db, "ingest", str(SAMPLES))
    assert res.returncode == 0, res.stderr
    got = counts(connect(db))
    assert (got["papers"], got["sightings"], got["pages"]) == (123, 131, 3)


def test_no_chain_through_a_paper_without_abstract(conn: sqlite3.Connection) -> None:
    ingest(conn, api(item("Gamma Networks for Vision Tasks", ABSTRACT, "2025-01-02"),
                     item("Gamma Network for Vision Tasks", None, "2025-01-02"),
                     item("Gamma Networks for Vision Task", OTHER, "2025-01-02")))
    assert counts(conn)["papers"] == 3
    clusters = dedupe.find_clusters(conn)
    abstracts = {p["id"]: p["abstract"] for p in list_papers(conn, Filters())}
    for c in clusters:
        texts = [abstracts[i] for i in c.ids if abstracts[i]]
        assert not (ABSTRACT in texts and OTHER in texts), c.ids
    res = dedupe.apply(conn, clusters)
    kept = {p["abstract"] for p in list_papers(conn, Filters())}
    assert {ABSTRACT, OTHER} <= kept and res.merged <= 1


def test_undo_after_later_ingest_keeps_what_the_merged_paper_gained(
        conn: sqlite3.Connection) -> None:
    ingest(conn, api(item("Sparse Training: A Study", ABSTRACT, "2025-01-02", 3),
                     item("Sparse Trainings: A Study", ABSTRACT, "2025-01-02", 4)), "day1")
    clusters = dedupe.find_clusters(conn)
    assert len(clusters) == 1
    dedupe.apply(conn, clusters)
    assert counts(conn)["papers"] == 1
    # Later, the merged-away title comes back with an arXiv id and more upvotes: it
    # joins the merged paper...
    ingest(conn, api(item("Sparse Trainings: A Study", ABSTRACT, "2025-02-03", 50,
                          arxiv="2501.00042")), "day2")
    assert counts(conn)["papers"] == 1
    # ...and undo gives it back to the paper it would have matched without the merge.
    assert dedupe.undo(conn) is not None
    rows = {p["title"]: p for p in list_papers(conn, Filters())}
    assert set(rows) == {"Sparse Training: A Study", "Sparse Trainings: A Study"}
    variant = rows["Sparse Trainings: A Study"]
    assert (variant["arxiv_id"], variant["upvotes"], variant["latest_upvotes"]) == \
        ("2501.00042", 50, 50)
    original = rows["Sparse Training: A Study"]
    assert (original["arxiv_id"], original["upvotes"]) == (None, 3)
    assert problems(health(conn)) == []


def test_undo_gives_back_the_corpus_as_if_never_merged(tmp_path: Path) -> None:
    def build(db: Path, merge: bool) -> list[tuple[Any, ...]]:
        conn = connect(db)
        ingest(conn, api(item("Sparse Training: A Study", ABSTRACT, "2025-01-02", 3),
                         item("Sparse Trainings: A Study", ABSTRACT, "2025-01-02", 4)), "d1")
        if merge:
            dedupe.apply(conn, dedupe.find_clusters(conn))
        ingest(conn, api(item("Sparse Training: A Study", ABSTRACT, "2025-03-01", 9),
                         item("Sparse Trainings: A Study", ABSTRACT, "2025-03-01", 11,
                              arxiv="2503.00001")), "d2")
        if merge:
            dedupe.undo(conn)
        return sorted(tuple(r[c] for c in ("id", "title", "arxiv_id", "upvotes",
                                           "latest_upvotes", "first_seen", "last_seen"))
                      for r in conn.execute("SELECT * FROM papers"))

    assert build(tmp_path / "merged.db", True) == build(tmp_path / "plain.db", False)


def test_an_older_page_never_overwrites_a_newer_one(tmp_path: Path) -> None:
    newer = api(item("Counting Votes", ABSTRACT, "2025-03-02", 40, arxiv="2501.00002",
                     comments=7, authors=("Ada Lovelace", "Alan Turing", "Grace Hopper")))
    older = api(item("Counting Votes", ABSTRACT, "2025-01-02", 10, comments=2,
                     authors=("Ada Lovelace", "Alan Turing")))
    for order in ((newer, older), (older, newer)):
        conn = connect(tmp_path / f"{len(os.listdir(tmp_path))}.db")
        for i, data in enumerate(order):
            ingest(conn, data, f"p{i}")
        p = only(conn)
        assert (p["upvotes"], p["latest_upvotes"], p["comments"], p["arxiv_id"]) == \
            (40, 40, 7, "2501.00002")
        assert p["author_names"] == ["Ada Lovelace", "Alan Turing", "Grace Hopper"]
        assert (p["first_seen"], p["last_seen"]) == ("2025-01-02", "2025-03-02")
    # An export made before the newer page, restored later, changes nothing either.
    old_db = tmp_path / "old.db"
    ingest(connect(old_db), older, "p0")
    dump_file = tmp_path / "old.jsonl"
    assert papers(old_db, "export", "--jsonl", "-o", str(dump_file)).returncode == 0
    conn = connect(tmp_path / "late.db")
    ingest(conn, newer, "p1")
    assert ingest_bytes(conn, dump_file.read_bytes(), "old.jsonl").status == "ingested"
    p = only(conn)
    assert (p["latest_upvotes"], p["comments"], len(p["author_names"])) == (40, 7, 3)


def _export_line(db: Path) -> dict[str, Any]:
    lines = papers(db, "export", "--jsonl").stdout.splitlines()
    return json.loads(lines[0])


@pytest.mark.parametrize("field,value,needle", [
    ("position", "x", "position: not a whole number"),
    ("position", -1, "position: not a whole number"),
    ("published", "2024", "published: not a date"),
    ("upvotes", "12", "upvotes: not a whole number"),
    ("upvotes", 10**30, "upvotes: out of range"),
    ("title", None, "title"),
])
def test_bad_export_line_rejects_that_file_only(tmp_path: Path, field: str, value: Any,
                                                needle: str) -> None:
    src = tmp_path / "src.db"
    ingest(connect(src), api(item("Counting Votes", ABSTRACT, "2025-03-02", 4)))
    obj = _export_line(src)
    target = obj["pages"][0] if field in ("position", "published", "upvotes") else obj
    target[field] = value
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(obj) + "\n")
    db = tmp_path / "db.db"
    before = dump(connect(db))
    res = papers(db, "ingest", str(bad), str(SAMPLES / "convergent-jan.txt"))
    assert res.returncode == 1 and "Traceback" not in res.stderr
    lines = [ln for ln in res.stderr.splitlines() if "bad.jsonl" in ln]
    assert len(lines) == 1 and needle in lines[0] and "bad.jsonl:1:" in lines[0], res.stderr
    conn = connect(db)
    assert dump(conn) != before and counts(conn)["papers"] == 14  # the good page
    assert problems(health(conn)) == []


def test_stored_values_always_validate_so_stats_bibtex_dedupe_work(tmp_path: Path) -> None:
    db = tmp_path / "db.db"
    assert papers(db, "ingest", str(SAMPLES)).returncode == 0
    for args in (("stats",), ("export", "--bibtex"), ("dedupe",), ("doctor",)):
        res = papers(db, *args)
        assert res.returncode == 0 and "Traceback" not in res.stderr, (args, res.stderr)
    # A value another tool writes behind papers' back is caught by doctor and repaired
    # from the sightings.
    c = sqlite3.connect(db)
    c.execute("UPDATE papers SET published = '2024', upvotes = 'many' WHERE id = 1")
    c.commit()
    res = papers(db, "doctor")
    assert res.returncode == 1 and "published: not a date" in res.stderr
    assert papers(db, "doctor", "--fix").returncode == 0
    assert papers(db, "doctor").returncode == 0


def test_the_bytes_hashed_are_the_bytes_parsed(conn: sqlite3.Connection) -> None:
    first = page("Paper One\n\nAbstract one.\n\n  • 2 authors\n·\nMar 1, 2024\n").encode()
    second = page("Paper Two\n\nAbstract two.\n\n  • 2 authors\n·\nMar 1, 2024\n").encode()
    versions = iter([first, second, second, second])

    def opener() -> Any:  # the file changes after the first read
        return nullcontext(io.BytesIO(next(versions)))

    out = ingest_stream(conn, opener, "changing.txt")
    assert out.status == "ingested"
    stored = conn.execute("SELECT sha256 FROM pages").fetchone()[0]
    assert stored == hashlib.sha256(first).hexdigest()
    assert [p["title"] for p in list_papers(conn, Filters())] == ["Paper One"]


def test_concurrent_dedupe_and_ingest_equal_sequential(tmp_path: Path) -> None:
    pages_dir = tmp_path / "pages"
    pages_dir.mkdir()
    body = "".join(f"Paper {r}: sparse dense attention modle learning\n\n"
                   + " ".join(f"w{r}x{k}" for k in range(60)) + "\n\n  • 2 authors\n·\n"
                   f"Mar 3, 2024\n\npaper {r} - sparse dense attention model learning\n\n"
                   + " ".join(f"w{r}x{k}" for k in range(60)) + "\n\n  • 2 authors\n·\n"
                   "Mar 3, 2024\n\n" for r in range(40))
    (pages_dir / "variants.txt").write_text(page(body))
    (pages_dir / "late.txt").write_text(page(
        "Late Paper\n\nA late abstract.\n\n  • 1 authors\n·\nMar 4, 2024\n", date="Apr 2"))

    def final(db: Path) -> list[Any]:
        c = sqlite3.connect(db)
        groups = sorted(sorted(r[0].split("\x1f")) for r in c.execute(
            "SELECT group_concat(title_key, char(31)) FROM sightings GROUP BY paper_id"))
        return groups

    seq = tmp_path / "seq.db"
    assert papers(seq, "ingest", str(pages_dir / "variants.txt")).returncode == 0
    assert papers(seq, "dedupe", "--apply").returncode == 0
    assert papers(seq, "ingest", str(pages_dir / "late.txt")).returncode == 0
    conc = tmp_path / "conc.db"
    assert papers(conc, "ingest", str(pages_dir / "variants.txt")).returncode == 0
    procs = [subprocess.Popen([PAPERS, "--db", str(conc), *args], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
             for args in (("dedupe", "--apply"), ("dedupe", "--apply"),
                          ("ingest", str(pages_dir / "late.txt")))]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert all("Traceback" not in err for _, err in outs)
    assert final(conc) == final(seq)
    assert problems(health(connect(conc))) == []


def test_export_filters_apply_to_explicit_ids_and_ids_are_not_bound_one_by_one(
        sample_conn: sqlite3.Connection, tmp_path: Path) -> None:
    db = db_path(sample_conn)
    res = papers(Path(db), "export", "1", "2", "3", "--since", "2100", "--jsonl")
    assert res.returncode == 1 and res.stdout == ""
    # The id list is one JSON parameter: a tiny variable limit does not matter.
    sample_conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 4)
    ids = list(range(60, 0, -1))
    out = io.StringIO()
    n = export.export_to(sample_conn, out, "jsonl", Selection(ids=ids))
    got = [json.loads(line)["id"] for line in out.getvalue().splitlines()]
    assert n == 60 and got == ids
    out = io.StringIO()
    export.export_to(sample_conn, out, "csv",
                     Selection(ids=ids, filters=Filters(since="2025-06-01")))
    assert 0 < len(out.getvalue().splitlines()) - 1 < 60


def test_pages_and_rm(sample_conn: sqlite3.Connection) -> None:
    pages = list_pages(sample_conn)
    assert [p["papers"] for p in pages] == [36, 14, 81]
    jan = next(p for p in pages if p["path"].endswith("convergent-jan.txt"))
    before = counts(sample_conn)
    res = remove_pages(sample_conn, [jan["id"]])
    after = counts(sample_conn)
    assert res.pages == 1 and res.sightings == 14
    # Papers also on another page stay, recomputed; the others are deleted.
    assert before["papers"] - after["papers"] == res.papers_deleted > 0
    assert res.papers_changed > 0
    assert problems(health(sample_conn)) == []
    # Ingesting the page again brings the corpus back.
    report = ingest_sources(sample_conn, expand_paths([jan["path"]]), today=TODAY)
    assert not report.failed and counts(sample_conn) == before


def test_rm_and_pages_commands(tmp_path: Path) -> None:
    db = tmp_path / "db.db"
    assert papers(db, "ingest", str(SAMPLES)).returncode == 0
    listed = papers(db, "pages", "--format", "json")
    rows = json.loads(listed.stdout)
    assert {r["papers"] for r in rows} == {36, 14, 81} and all(len(r["sha256"]) == 64
                                                              for r in rows)
    res = papers(db, "rm", rows[1]["sha256"][:12])
    assert res.returncode == 0 and "removed 1 page and 14 sightings" in res.stderr
    assert papers(db, "rm", "999").returncode == 1


def test_rows_inserted_by_another_tool_are_searchable_and_joined(tmp_path: Path) -> None:
    db = tmp_path / "db.db"
    assert papers(db, "ingest", str(SAMPLES / "convergent-jan.txt")).returncode == 0
    rows = tmp_path / "rows.json"
    rows.write_text(json.dumps([{"title": "Foreign Paper About Gardens",
                                 "abstract": "Written by hand into the table."}]))
    su = str(Path(sys.executable).parent / "sqlite-utils")
    res = subprocess.run([su, "insert", str(db), "papers", str(rows)], capture_output=True,
                         text=True, check=False)
    assert res.returncode == 0, res.stderr
    hit = papers(db, "search", "gardens", "--format", "json")
    assert hit.returncode == 0 and "Foreign Paper" in hit.stdout
    later = tmp_path / "later.txt"
    later.write_text(page("Foreign Paper About Gardens\n\nWritten by hand into the table.\n\n"
                          "  • 2 authors\n·\nMar 1, 2024\n"))
    assert papers(db, "ingest", str(later)).returncode == 0
    conn = connect(db)
    titles = [p["title"] for p in list_papers(conn, Filters())]
    assert titles.count("Foreign Paper About Gardens") == 1
    assert papers(db, "doctor").returncode == 0


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        out += [int(x) for x in text]
    return out


def test_kill_9_of_ingest_leaves_no_worker(tmp_path: Path) -> None:
    from helpers import make_pages

    pages_dir = make_pages(tmp_path / "pages", pages=200, per_page=40)
    db = tmp_path / "k.db"
    proc = subprocess.Popen([PAPERS, "--db", str(db), "ingest", "-q", str(pages_dir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: list[int] = []
    deadline = time.monotonic() + 20
    while not workers and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
        workers = _children(proc.pid)
    if not workers:
        proc.wait()
        pytest.skip("the ingest finished before its worker could be seen")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(1.0)
    alive = [w for w in workers if Path(f"/proc/{w}").exists()
             and "Z" not in Path(f"/proc/{w}/stat").read_text().split()[2]]
    assert alive == []


def test_ctrl_c_prints_what_was_committed(tmp_path: Path) -> None:
    from helpers import make_pages

    pages_dir = make_pages(tmp_path / "pages", pages=300, per_page=40)
    db = tmp_path / "c.db"
    proc = subprocess.Popen([PAPERS, "--db", str(db), "ingest", "-q", str(pages_dir)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=interruptible)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:  # until a batch committed
        time.sleep(0.1)
        try:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as probe:
                if probe.execute("SELECT count(*) FROM pages").fetchone()[0]:
                    break
        except sqlite3.Error:
            continue
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    if proc.returncode == 0:
        pytest.skip("the ingest finished before Ctrl-C")
    assert proc.returncode == 130 and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("papers: interrupted:") or \
        "interrupted:" in err, err
    conn = connect(db)
    assert problems(health(conn)) == []


def test_export_output_file_is_atomic(tmp_path: Path, sample_conn: sqlite3.Connection) -> None:
    from papers_cli.render.outfile import atomic_text

    db = Path(db_path(sample_conn))
    target = tmp_path / "real.csv"
    target.write_text("old")
    os.chmod(target, 0o640)
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    assert papers(db, "export", "--csv", "-o", str(link)).returncode == 0
    assert link.is_symlink() and target.read_text().startswith("id,")
    assert oct(target.stat().st_mode & 0o777) == oct(0o640)
    res = papers(db, "export", "--csv", "-o", "/dev/stdout", "-n", "1")
    assert res.stdout.startswith("id,") and len(res.stdout.splitlines()) == 2
    res = papers(db, "export", "--csv", "-o", "-", "-n", "1")
    assert res.stdout.startswith("id,") and not (Path.cwd() / "-").exists()
    # An error (or Ctrl-C) while writing leaves the old file and no temporary file.
    with pytest.raises(KeyboardInterrupt), atomic_text(target) as fh:
        fh.write("half")
        raise KeyboardInterrupt
    assert target.read_text().startswith("id,")
    assert sorted(p.name for p in tmp_path.iterdir() if ".csv" in p.name) == \
        ["link.csv", "real.csv"]

    def write_one(n: int) -> None:
        with atomic_text(target) as fh:
            fh.write(f"writer {n}\n" * 1000)

    threads = [threading.Thread(target=write_one, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    text = target.read_text()
    assert len(set(text.splitlines())) == 1  # one writer's whole file, never a mix


@pytest.mark.parametrize("args,code,needle", [
    (["show", "99999999999999999999999999"], 1, "no paper"),
    (["show", "²³"], 1, "no paper"),
    (["list", "--limit", "99999999999999999999999"], 2, ""),
    (["list", "--since", "2024-1"], 2, "not a date"),
    (["dedupe", "--threshold", "nan"], 2, ""),
    (["dedupe", "--apply", "--undo"], 2, "contradict"),
    (["export", "--csv", "--fields", " id, title"], 0, ""),
])
def test_hostile_options(tmp_path: Path, args: list[str], code: int, needle: str) -> None:
    db = tmp_path / "db.db"
    assert papers(db, "ingest", str(SAMPLES / "convergent-jan.txt")).returncode == 0
    res = papers(db, *args)
    assert res.returncode == code, res.stderr
    assert "Traceback" not in res.stderr and needle in res.stderr
    assert len(res.stderr.strip().splitlines()) <= 4  # click: usage, hint, blank, error


def test_author_filter_is_literal(sample_conn: sqlite3.Connection) -> None:
    assert list_papers(sample_conn, Filters(author="%")) == []
    assert list_papers(sample_conn, Filters(author="_")) == []


def test_bad_database_paths(tmp_path: Path) -> None:
    for target in ("/dev/null", str(tmp_path)):
        res = subprocess.run([PAPERS, "--db", target, "list"], capture_output=True, text=True,
                             check=False)
        assert res.returncode == 2 and "Traceback" not in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1


def test_streams_are_read_once(tmp_path: Path) -> None:
    db = tmp_path / "db.db"
    res = subprocess.run(f"'{PAPERS}' --db '{db}' ingest <(cat '{SAMPLES}/convergent-jan.txt')",
                         shell=True, executable="/bin/bash", capture_output=True, text=True,
                         check=False)
    assert res.returncode == 0, res.stderr
    assert counts(connect(db))["papers"] == 14
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    feeder = threading.Thread(target=lambda: fifo.write_bytes(
        (SAMPLES / "features-oct.txt").read_bytes()))
    feeder.start()
    res = papers(db, "ingest", str(fifo))
    feeder.join()
    assert res.returncode == 0, res.stderr
    ref = tmp_path / "ref.db"
    assert papers(ref, "ingest", str(SAMPLES / "convergent-jan.txt"),
                  str(SAMPLES / "features-oct.txt")).returncode == 0
    assert counts(connect(db)) == counts(connect(ref))


def test_ingest_dev_zero_is_refused_at_once(tmp_path: Path) -> None:
    res = papers(tmp_path / "db.db", "ingest", "/dev/zero", timeout=20)
    assert res.returncode == 1 and "binary" in res.stderr
