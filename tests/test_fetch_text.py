"""`papers fetch --full-text`: the site's Markdown, else arXiv's HTML, into the papers'
full texts; what is refused, what is skipped, the selection, resume, exit codes, the
summary; then `search --full-text` and `read` on what was fetched.

Two local servers on 127.0.0.1 (tests/hfserver.py) stand for the site and arXiv: two
ports, so two sites to the client (a redirect from one to the other leaves the site,
and HF_TOKEN must reach only the first). They serve the real-format documents of
tests/fixtures/fulltext/ (see its README): paper1.md and paper1.arxiv.html are paper
2406.17774's, paper2.* name no arXiv id, and the three "no HTML" pages are arXiv's,
ar5iv's and LaTeXML's.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from helpers import ROOT, dump, interruptible, page
from hfserver import HFServer, Reply, hf_server
from papers_cli.cli.app import app
from papers_cli.engine.fetch.client import HttpConfig
from papers_cli.engine.fetch.texts import TextReport, fetch_texts
from papers_cli.storage.connection import connect
from papers_cli.storage.identity import resolve_paper_id
from papers_cli.verbs.common import Events, Session
from papers_cli.verbs.fetching import FetchArgs, FetchedTexts, fetch

FT = ROOT / "tests" / "fixtures" / "fulltext"
P1, P2, P3, P4 = "2406.17774", "2411.02335", "2502.01234", "2503.04567"
# arXiv id, title, abstract, published. P1 is paper1's; the others' texts are paper2's,
# which names no arXiv id (so it may stand for any paper). No abstract holds the word
# "estimator": paper1's body does (2 Related Work).
PAPERS = [
    (P1, "Sparse Routing Networks for Efficient Token Mixing",
     "Token mixers that send each token to a few experts at a nearly constant cost.",
     "2024-06-25"),
    (P2, "Sparsing Law: Towards Large Language Models with Greater Activation Sparsity",
     "Activation sparsity in language models follows predictable laws.", "2024-11-04"),
    (P3, "Counting Lattice Walks with Transfer Matrices",
     "Walks on lattices counted by transfer matrices and their eigenvalues.", "2025-02-03"),
    (P4, "Quokka Models of Heat Exchange",
     "Marsupials and the thermodynamics of small islands.", "2025-03-04"),
]
NO_ID = "A Paper Listed Without Any Identifier"
STUBS = ["arxiv_no_html.html", "ar5iv_no_content.html", "latexml_fatal.html"]
TOKEN = "hf_fUlLtExT0123456789"


def md(name: str = "paper1.md", **kw: Any) -> Reply:
    return Reply(body=(FT / name).read_bytes(), content_type="text/markdown; charset=utf-8",
                 **kw)


def html(name: str = "paper1.arxiv.html", **kw: Any) -> Reply:
    return Reply(body=(FT / name).read_bytes(), content_type="text/html; charset=utf-8", **kw)


def paper_json(aid: str, title: str, abstract: str, day: str) -> bytes:
    return json.dumps({"id": aid, "title": title, "summary": abstract,
                       "publishedAt": f"{day}T10:00:00.000Z",
                       "authors": [{"name": "Ada Example"}], "upvotes": 3}).encode()


def cli(db: Path, *args: str) -> Any:
    return CliRunner().invoke(app, ["--db", str(db), *args], catch_exceptions=False)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """Papers P1-P4 (API JSON, with arXiv ids) and one without an arXiv id (a text page)."""
    files = []
    for aid, title, abstract, day in PAPERS:
        f = tmp_path / f"{aid}.json"
        f.write_bytes(paper_json(aid, title, abstract, day))
        files.append(str(f))
    bare = tmp_path / "bare.txt"
    bare.write_text(page(f"{NO_ID}\n\nNothing here names arXiv at all.\n\n  • 2 authors\n·\n"
                         "Jan 15, 2025\n", date="Jan 16"))
    db = tmp_path / "papers.db"
    res = cli(db, "ingest", "-q", "--year", "2025", *files, str(bare))
    assert res.exit_code == 0, res.stderr
    return db


@pytest.fixture
def site() -> Iterator[HFServer]:
    with hf_server() as s:
        yield s


@pytest.fixture
def arxiv() -> Iterator[HFServer]:
    with hf_server() as s:
        yield s


@pytest.fixture
def run(db: Path, site: HFServer, arxiv: HFServer, monkeypatch: pytest.MonkeyPatch):
    """`papers fetch --full-text ARGS` against the two servers, fast."""
    monkeypatch.setenv("PAPERS_HF_URL", site.url)
    monkeypatch.setenv("PAPERS_ARXIV_URL", arxiv.url)
    monkeypatch.delenv("HF_TOKEN", raising=False)

    def invoke(*args: str) -> Any:
        return cli(db, "fetch", "--full-text", "--rate", "50", "--backoff", "0",
                   "--retries", "1", *args)

    return invoke


def pid(db: Path, aid: str) -> int:
    conn = sqlite3.connect(db)
    try:
        found = resolve_paper_id(conn, aid)
    finally:
        conn.close()
    assert found is not None
    return found


def one(db: Path, sql: str) -> Any:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()


def texts(db: Path) -> dict[int, tuple[str, str]]:
    """Paper id -> (source, location) of every stored full text."""
    conn = sqlite3.connect(db)
    try:
        return {r[0]: (r[1], r[2]) for r in conn.execute(
            "SELECT o.paper_id, d.source, d.location FROM documents d JOIN personal o ON "
            "o.origin_id = d.origin_id")}
    finally:
        conn.close()


def asked(server: HFServer) -> list[str]:
    return [p for p, _ in server.requests]


# ---------------------------------------------------------------- where texts come from


def test_the_sites_markdown_is_stored(run, db: Path, site: HFServer, arxiv: HFServer) -> None:
    site.route(f"/papers/{P1}.md", md())
    res = run(P1)
    assert res.exit_code == 0, res.stderr
    p = pid(db, P1)
    assert f"paper {p} ({P1}): full text from the site's Markdown, 4,920 characters, " \
           "11 sections" in res.stderr
    assert res.stderr.splitlines()[-1] == \
        "1 paper: 1 from the site's Markdown, 0 from arXiv HTML"
    assert texts(db) == {p: ("md", f"{site.url}/papers/{P1}.md")}
    assert asked(arxiv) == []  # the Markdown was enough
    accept = site.requests[0][1]["accept"]
    assert accept.startswith("text/markdown")


def test_a_markdown_404_falls_back_to_arxiv_html(run, db: Path, site: HFServer,
                                                 arxiv: HFServer) -> None:
    arxiv.route(f"/html/{P1}", html())
    res = run(P1)
    assert res.exit_code == 0, res.stderr
    assert asked(site) == [f"/papers/{P1}.md"] and asked(arxiv) == [f"/html/{P1}"]
    assert texts(db) == {pid(db, P1): ("arxiv-html", f"{arxiv.url}/html/{P1}")}
    assert res.stderr.splitlines()[-1] == "1 paper: 0 from the site's Markdown, 1 from arXiv HTML"


def test_a_same_site_redirect_on_arxiv_is_followed(run, db: Path, arxiv: HFServer) -> None:
    arxiv.route(f"/html/{P1}", Reply(301, b"", headers={"Location": f"/html/{P1}v2"}))
    arxiv.route(f"/html/{P1}v2", html())
    assert run(P1).exit_code == 0
    # The location is the URL asked for: the paper's, not one version's.
    assert texts(db) == {pid(db, P1): ("arxiv-html", f"{arxiv.url}/html/{P1}")}


def test_a_429_with_retry_after_is_waited_for(run, db: Path, site: HFServer) -> None:
    site.route(f"/papers/{P1}.md", Reply(429, b"slow down", headers={"Retry-After": "0"}),
               md())
    assert run(P1).exit_code == 0
    assert asked(site) == [f"/papers/{P1}.md"] * 2
    assert texts(db)[pid(db, P1)][0] == "md"


@pytest.mark.parametrize("stub", STUBS)
def test_a_no_html_page_is_no_full_text(run, db: Path, arxiv: HFServer, stub: str) -> None:
    arxiv.route(f"/html/{P1}", html(stub))  # HTTP 200, a page saying there is no text
    res = run(P1)
    assert res.exit_code == 1
    line = f"paper {pid(db, P1)} ({P1}): no full text: the site's Markdown: HTTP 404 " \
           "(not found); arXiv HTML: a 'no full text' page"
    assert line in res.stderr
    assert res.stderr.splitlines()[-1] == ("1 paper: 0 from the site's Markdown, 0 from arXiv "
                                           "HTML, 1 without full text (1 no HTML on arXiv)")
    assert texts(db) == {}


@pytest.mark.parametrize("reply, why", [
    (html(), "not Markdown (content type 'text/html')"),  # the site's HTML page
    (md("paper1.arxiv.html"), "not Markdown (an HTML page)"),  # labelled Markdown
    (Reply(body=b"", content_type="text/markdown"), "an empty answer"),
    (Reply(body=b"  \n\n", content_type="text/markdown"), "an empty answer"),
    (Reply(body=b"Title: Sparse Routing\n\n###### Abstract\n\nOnly the abstract.\n",
           content_type="text/markdown"), "no more than an abstract"),
])
def test_markdown_that_is_not_the_papers_text_is_not_stored(
        run, db: Path, site: HFServer, arxiv: HFServer, reply: Reply, why: str) -> None:
    site.route(f"/papers/{P1}.md", reply)
    res = run(P1)
    assert res.exit_code == 1
    assert f"the site's Markdown: {why}" in res.stderr
    assert "(1 refused)" in res.stderr.splitlines()[-1]
    assert texts(db) == {}
    arxiv.route(f"/html/{P1}", html())  # arXiv has it: the paper gets arXiv's text
    assert run(P1).exit_code == 0
    assert texts(db)[pid(db, P1)][0] == "arxiv-html"


def test_an_answer_naming_another_paper_is_refused(run, db: Path, site: HFServer,
                                                   arxiv: HFServer) -> None:
    site.route(f"/papers/{P2}.md", md())  # paper1's Markdown, asked for as P2's
    res = run(P2)
    assert res.exit_code == 1
    assert (f"paper {pid(db, P2)} ({P2}): no full text: the site's Markdown "
            f"({site.url}/papers/{P2}.md) names arXiv {P1}, not {P2}; refused") in res.stderr
    assert texts(db) == {} and asked(arxiv) == []


def test_a_too_large_answer_is_refused(run, db: Path, site: HFServer) -> None:
    site.route(f"/papers/{P1}.md", Reply(stream_bytes=31 << 20, content_type="text/markdown"))
    res = run(P1)
    assert res.exit_code == 1
    assert "the site's Markdown: response larger than 30 MB; refused" in res.stderr
    assert "(1 refused)" in res.stderr and texts(db) == {}


def test_a_redirect_to_another_host_is_refused(run, db: Path, site: HFServer,
                                               arxiv: HFServer) -> None:
    site.route(f"/papers/{P1}.md", Reply(302, b"", headers={"Location": f"{arxiv.url}/x.md"}))
    res = run(P1)
    assert res.exit_code == 1
    assert (f"the site's Markdown: redirected to another site (127.0.0.1:"
            f"{arxiv.url.rsplit(':', 1)[1]}); not followed") in res.stderr
    assert "/x.md" not in asked(arxiv)
    assert texts(db) == {}


def test_hf_token_goes_to_the_site_never_to_arxiv(run, db: Path, site: HFServer,
                                                  arxiv: HFServer,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    arxiv.route(f"/html/{P1}", html())
    # The site echoing the token back in a Markdown answer: refused, never stored.
    site.route(f"/papers/{P2}.md",
               Reply(body=(FT / "paper2.md").read_bytes() + b"\n\n{auth}\n", echo=True,
                     content_type="text/markdown"))
    res = run(P1, P2)
    assert res.exit_code == 1
    assert [h.get("authorization") for _, h in site.requests] == [f"Bearer {TOKEN}"] * 2
    assert arxiv.requests and all("authorization" not in h for _, h in arxiv.requests)
    assert "the site's Markdown: the answer holds the token sent with the request" in res.stderr
    assert TOKEN not in res.stdout + res.stderr
    assert set(texts(db)) == {pid(db, P1)}
    for f in db.parent.glob("papers.db*"):
        assert TOKEN.encode() not in f.read_bytes()


def test_an_unreachable_arxiv_stops_the_run(run, db: Path, site: HFServer,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("PAPERS_ARXIV_URL", f"http://127.0.0.1:{port}")
    res = run(P1, P2)
    assert res.exit_code == 1
    assert res.stderr.startswith(f"papers: cannot reach 127.0.0.1:{port}: ")
    assert asked(site) == [f"/papers/{P1}.md"]  # stopped there: P2 was not asked for
    assert texts(db) == {}


# ---------------------------------------------------------------- skip, refresh, resume


def test_a_paper_with_text_is_skipped_unless_refresh(run, db: Path, site: HFServer,
                                                     arxiv: HFServer) -> None:
    site.route(f"/papers/{P1}.md", md())
    assert run(P1).exit_code == 0
    site.requests.clear()
    again = run(P1)
    assert again.exit_code == 0 and site.requests == []
    assert again.stderr.splitlines()[-1] == ("1 paper: 0 from the site's Markdown, 0 from "
                                             "arXiv HTML, 1 already had one (--refresh to "
                                             "fetch again)")
    same = run(P1, "--refresh")  # the same bytes: nothing to replace
    assert same.exit_code == 0 and "1 unchanged" in same.stderr
    site.route(f"/papers/{P1}.md", Reply(404, b"nope"))
    arxiv.route(f"/html/{P1}", html())
    new = run(P1, "--refresh")
    assert new.exit_code == 0
    assert "from arXiv HTML, 4,845 characters" in new.stderr
    assert "(replaced the one it had)" in new.stderr
    assert texts(db) == {pid(db, P1): ("arxiv-html", f"{arxiv.url}/html/{P1}")}


def test_an_interrupted_run_resumes(db: Path, site: HFServer, arxiv: HFServer) -> None:
    site.route(f"/papers/{P2}.md", md("paper2.md"))
    site.route(f"/papers/{P4}.md", md("paper2.md"))
    env = {**os.environ, "PAPERS_HF_URL": site.url, "PAPERS_ARXIV_URL": arxiv.url}
    env.pop("HF_TOKEN", None)
    cmd = [sys.executable, "-m", "papers_cli", "--db", str(db), "fetch", "--full-text", P2,
           P3, P4, "--rate", "50"]
    for _ in range(3):  # a Ctrl-C that lands after the run ended proves nothing
        site.route(f"/papers/{P3}.md", md("paper2.md", hang=30))
        site.requests.clear()
        proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True,
                                preexec_fn=interruptible)
        deadline = time.monotonic() + 60
        while not site.hits(f"/papers/{P3}.md") and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        if proc.returncode != 0:
            break
        conn = connect(db)
        conn.execute("DELETE FROM passages")  # finished before the signal: start over
        conn.execute("DELETE FROM documents")
        conn.commit()
        conn.close()
    assert proc.returncode == 130, err
    assert err.splitlines()[-1] == ("papers: interrupted after 1 of 3 papers to fetch (1 "
                                    "stored, committed); run the same command again to "
                                    "resume")
    assert "Traceback" not in err
    assert set(texts(db)) == {pid(db, P2)}
    site.route(f"/papers/{P3}.md", md("paper2.md"))
    site.requests.clear()
    done = subprocess.run([*cmd, "-q"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert asked(site) == [f"/papers/{P3}.md", f"/papers/{P4}.md"]  # P2 was kept
    assert set(texts(db)) == {pid(db, p) for p in (P2, P3, P4)}


# ---------------------------------------------------------------- which papers


def dry(run, *args: str) -> list[str]:
    res = run("--dry-run", *args)
    assert res.exit_code == 0, res.stderr
    return res.stdout.splitlines()


def urls_of(site: HFServer, arxiv: HFServer, *aids: str) -> list[str]:
    return [u for a in aids for u in (f"{site.url}/papers/{a}.md", f"{arxiv.url}/html/{a}")]


def test_the_dry_run_prints_the_urls_it_would_try(run, db: Path, site: HFServer,
                                                  arxiv: HFServer) -> None:
    before = dump(sqlite3.connect(db))
    res = run("--dry-run", "--all")
    assert res.exit_code == 0
    assert res.stdout.splitlines() == urls_of(site, arxiv, P4, P3, P2, P1)  # newest first
    assert "note: 1 paper without an arXiv id: nothing to fetch" in res.stderr
    assert site.requests == [] and arxiv.requests == []
    assert dump(sqlite3.connect(db)) == before and texts(db) == {}


def test_selection_by_tag_starred_query_dates_and_all(run, db: Path, site: HFServer,
                                                      arxiv: HFServer) -> None:
    assert cli(db, "tag", P1, P3, "+to-read").exit_code == 0
    assert cli(db, "mark", P2, "--star").exit_code == 0
    assert dry(run, "--tag", "to-read") == urls_of(site, arxiv, P3, P1)
    assert dry(run, "--tag", "TO-READ", "--since", "2025") == urls_of(site, arxiv, P3)
    assert dry(run, "--starred") == urls_of(site, arxiv, P2)
    assert dry(run, "--query", "lattice walks") == urls_of(site, arxiv, P3)
    assert dry(run, "--query", "tag:to-read sparse") == urls_of(site, arxiv, P1)
    assert dry(run, "--since", "2025-02") == urls_of(site, arxiv, P4, P3)
    assert dry(run, "--until", "2024-12-31") == urls_of(site, arxiv, P2, P1)
    assert dry(run, "--query", "nothinglikethis") == []
    assert dry(run, str(pid(db, P3)), f"https://arxiv.org/abs/{P1}v2",
               f"https://huggingface.co/papers/{P2}") == urls_of(site, arxiv, P3, P1, P2)
    site.route(f"/papers/{P1}.md", md())
    assert run(P1).exit_code == 0
    skipped = run("--dry-run", "--tag", "to-read")
    assert skipped.stdout.splitlines() == urls_of(site, arxiv, P3)
    assert "note: 1 paper already held a full text (--refresh to fetch again)" in skipped.stderr
    assert dry(run, "--tag", "to-read", "--refresh") == urls_of(site, arxiv, P3, P1)


def test_a_merged_away_id_means_its_survivor(run, db: Path, site: HFServer,
                                             tmp_path: Path) -> None:
    dup = tmp_path / "dup.txt"  # P1 listed again with a typo and no arXiv id
    dup.write_text(page(f"{PAPERS[0][1].replace('Mixing', 'Mixng')}\n\n{PAPERS[0][2]}\n\n"
                        "  • 2 authors\n·\nJun 25, 2024\n", date="Jun 26"))
    assert cli(db, "ingest", "-q", "--year", "2024", str(dup)).exit_code == 0
    gone = one(db, "SELECT id FROM papers WHERE title LIKE '%Mixng'")
    assert cli(db, "dedupe", "--apply").exit_code == 0
    kept = pid(db, P1)
    assert kept != gone
    assert json.loads(cli(db, "show", str(gone), "--json").stdout)["id"] == kept
    site.route(f"/papers/{P1}.md", md())
    res = run(str(gone))
    assert res.exit_code == 0, res.stderr
    assert res.stderr.count(f"note: {gone} was merged into {kept}") == 1
    assert texts(db) == {kept: ("md", f"{site.url}/papers/{P1}.md")}


# ---------------------------------------------------------------- exit codes, the summary


def test_the_summary_says_what_came_from_where(run, db: Path, site: HFServer,
                                               arxiv: HFServer) -> None:
    site.route(f"/papers/{P1}.md", md())
    arxiv.route(f"/html/{P2}", html("paper2.latexml.html"))
    arxiv.route(f"/html/{P3}", html("latexml_fatal.html"))
    site.route(f"/papers/{P4}.md", Reply(500, b"down"))
    res = run("--all")  # one bad paper never stops the others
    assert res.exit_code == 1
    last = res.stderr.splitlines()[-1]
    assert last == ("5 papers: 1 from the site's Markdown, 1 from arXiv HTML, 3 without full "
                    "text (1 no arXiv id, 1 request failed, 1 no HTML on arXiv)")
    bare = one(db, "SELECT id FROM papers WHERE arxiv_id IS NULL")
    assert f"paper {bare}: no full text: no arXiv id" in res.stderr
    assert (f"({P4}): no full text: the site's Markdown: HTTP 500 (after 2 attempts); "
            "arXiv HTML: HTTP 404 (not found)") in res.stderr
    assert set(texts(db)) == {pid(db, P1), pid(db, P2)}
    quiet = cli(db, "-q", "fetch", "--full-text", "--all", "--refresh", "--rate", "50",
                "--retries", "0")  # what failed is still said; what was stored is not
    assert quiet.exit_code == 1
    assert "no full text: no arXiv id" in quiet.stderr and "full text from" not in quiet.stderr


@pytest.mark.parametrize("args, words", [
    ([], "--full-text needs papers: ids, --tag, --starred, --query, --since/--until or --all"),
    (["--date", "2024-07-09", P1], "--full-text fetches papers' texts; it takes no --date"),
    (["--week", "2024-W28", "--all"], "it takes no --week"),
    (["--month", "2024-07", "--all"], "it takes no --month"),
    (["--search", "sparse", "--all"], "it takes no --search"),
    (["--limit", "5", "--all"], "it takes no --limit"),
    ([P1, "--tag", "x"], "give paper ids or --tag, not both"),
    (["--all", "--starred"], "--all chooses every paper; it takes no --starred"),
    (["--all", "--arxiv-url", "ftp://arxiv.org"], "--arxiv-url must be an http(s) URL"),
    (["--tag", "+bad"], "bad tag"),
    (["--query", "-only"], "nothing to search for"),
    (["--all", "--arxiv-url", "http://me:pw@arxiv.org"], "--arxiv-url takes no user or "
                                                         "password\n"),
])
def test_usage_errors_exit_2(run, args: list[str], words: str) -> None:
    res = run(*args)
    assert res.exit_code == 2, res.stderr
    assert res.stderr.startswith("papers: ") and res.stderr.count("\n") == 1
    assert words in res.stderr


@pytest.mark.parametrize("flag", [["--tag", "x"], ["--starred"], ["--query", "x"], ["--all"]])
def test_choosing_papers_needs_full_text(db: Path, flag: list[str]) -> None:
    res = cli(db, "fetch", *flag)
    assert res.exit_code == 2
    assert res.stderr == f"papers: {flag[0]} chooses papers for --full-text; add --full-text\n"


def test_an_unknown_paper_exits_1_before_any_request(run, site: HFServer) -> None:
    res = run(P1, "9999")
    assert res.exit_code == 1 and "no paper with id '9999'" in res.stderr
    assert site.requests == []


# ---------------------------------------------------------------- as a library


def test_the_verb_reports_progress_and_each_paper(db: Path, site: HFServer,
                                                  arxiv: HFServer) -> None:
    class Seen(Events):
        def __init__(self) -> None:
            super().__init__()
            self.bars: list[tuple[float | None, str]] = []
            self.items: list[Any] = []

        def progress(self, total: float | None, unit: str = "items",
                     description: str = "") -> Any:
            self.bars.append((total, unit))
            return super().progress(total, unit, description)

        def done(self, item: Any) -> None:
            self.items.append(item)

    site.route(f"/papers/{P1}.md", md())
    events = Seen()
    session = Session(db, events)
    out = fetch(session, FetchArgs(full_text=True, ids=[P1, P2], base_url=site.url,
                                   arxiv_url=arxiv.url, rate=50, retries=0))
    session.close()
    assert isinstance(out, FetchedTexts) and out.code == 1
    assert events.bars == [(2, "papers")]
    assert [(o.arxiv_id, o.status, o.why) for o in events.items] == [
        (P1, "md", ""), (P2, "none", "not-found")]


def test_arxiv_is_never_given_the_token(conn: sqlite3.Connection) -> None:
    with pytest.raises(ValueError, match="never sent HF_TOKEN"):
        fetch_texts(conn, [], HttpConfig(), HttpConfig(token=TOKEN), report=TextReport())


# ---------------------------------------------------------------- end to end


def test_fetched_text_is_searched_and_read(run, db: Path, site: HFServer) -> None:
    site.route(f"/papers/{P1}.md", md())
    assert run(P1).exit_code == 0
    p = pid(db, P1)
    # "estimator" is in the paper's body only, not in its title or abstract.
    plain = cli(db, "search", "estimator", "--lexical")
    assert plain.exit_code == 1
    found = cli(db, "search", "--full-text", "estimator", "--fields", "id,section,snippet")
    assert found.exit_code == 0, found.stderr
    rows = [line.split("\t") for line in found.stdout.splitlines()[1:]]
    assert [(r[0], r[1]) for r in rows] == [(str(p), "2 Related Work")]
    assert "straight-through estimator" in rows[0][2]
    read = cli(db, "read", P1)
    assert read.exit_code == 0, read.stderr
    assert "Sparse Routing Networks for Efficient Token Mixing" in read.stdout
    assert "trained with a straight-through estimator instead of a softmax gate" in read.stdout
