"""`papers serve` over plain HTTP: a real server (the command line, a free local port)
on a small corpus; its pages, its canned queries, its feed, hostile text escaped, and
nothing written. The browser tests are tests/test_serve_browser.py."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from serve_corpus import HOSTILE_ARXIV, build, papers, serving

pytest.importorskip("datasette", reason="the serve extra is not installed "
                    "(pip install 'papers-cli[serve]')")

from papers_cli.cli.app import app
from papers_cli.core.fields import PAPER_FIELDS
from papers_cli.web import config


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("serve"))


@pytest.fixture(scope="module")
def site(corpus: Path) -> Iterator[str]:
    with serving(corpus) as url:
        yield url


def get(url: str, data: bytes | None = None) -> tuple[int, str, dict[str, str]]:
    req = urllib.request.Request(url, data=data)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read().decode(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace"), dict(e.headers)


def pid_of(db: Path, ident: str) -> int:
    return int(json.loads(papers(db, "show", ident, "--json").stdout)["id"])


def sha(db: Path) -> str:
    return hashlib.sha256(db.read_bytes()).hexdigest()


def test_home_lists_the_papers_newest_first(site: str, corpus: Path) -> None:
    status, html, _ = get(site + "/")
    assert status == 200
    newest = json.loads(papers(corpus, "list", "--json", "--limit", "3",
                               "--fields", "id").stdout)
    at = [html.index(f'href="/paper/{r["id"]}"') for r in newest]
    assert at == sorted(at)
    status, html, _ = get(site + "/?tag=efficiency")
    assert status == 200 and html.count('class="paper"') == 2


def test_search_ranks_and_snips_as_papers_search(site: str, corpus: Path) -> None:
    status, html, _ = get(site + "/search?q=" + urllib.parse.quote("activation sparsity"))
    assert status == 200
    cli = json.loads(papers(corpus, "search", "activation sparsity", "--json", "-n", "5",
                            "--fields", "id").stdout)
    at = [html.index(f'href="/paper/{r["id"]}"') for r in cli]
    assert at == sorted(at)  # the same order
    assert "<mark>Activation</mark> <mark>sparsity</mark>" in html  # a snippet, marked
    status, html, _ = get(site + "/search?q=actvation+sparsty")
    assert status == 200 and "did you mean" in html
    status, html, _ = get(site + "/search?q=" + urllib.parse.quote('"unclosed'))
    assert status in (200, 400) and "Traceback" not in html


def test_canned_search_is_papers_ranking(site: str, corpus: Path) -> None:
    url = site + "/corpus/search.json?_shape=array&q=" + urllib.parse.quote(
        "activation sparsity")
    status, body, _ = get(url)
    assert status == 200
    rows = json.loads(body)
    cli = json.loads(papers(corpus, "search", "activation sparsity", "--json", "-n", "100",
                            "--fields", "id,match,score").stdout)
    exact = [r for r in cli if r["match"] == "all"]
    assert [r["id"] for r in rows] == [r["id"] for r in exact]
    assert [r["score"] for r in rows] == [round(r["score"], 3) for r in exact]
    assert "\x02" in rows[0]["snippet"]  # papers' marks
    for name in ("rising", "digest", "by_tag", "passages"):
        status, _, _ = get(f"{site}/corpus/{name}.json?days=7&since=2025-01-01&tag=efficiency"
                           "&q=routing")
        assert status == 200, name


def test_paper_page_shows_authors_links_chart_sightings_and_text(site: str,
                                                                  corpus: Path) -> None:
    status, html, _ = get(f"{site}/paper/{pid_of(corpus, '2411.02335')}")
    assert status == 200
    assert "Yuqi Luo, Chenyang Song" in html and "<svg" in html
    assert 'href="https://arxiv.org/abs/2411.02335"' in html
    assert 'href="https://github.com/thunlp/SparsingLaw"' in html
    assert "efficiency" in html and "baseline &lt;script&gt;" in html  # tag, note escaped
    assert html.count("<tr><td>") == 4  # every sighting
    status, html, _ = get(f"{site}/paper/{pid_of(corpus, '2406.17774')}")
    assert "3.2 Routing" in html and 'class="math inline"' in html  # full text, TeX kept
    status, html, _ = get(f"{site}/paper/999999")
    assert status == 404 and "no paper with id" in html


def test_hostile_text_is_escaped_everywhere(site: str, corpus: Path) -> None:
    pid = pid_of(corpus, HOSTILE_ARXIV)
    pages = [f"/paper/{pid}", "/", "/search?q=hostile", f"/corpus/papers/{pid}",
             "/corpus/papers?_search=hostile", "/corpus/search?q=hostile"]
    for path in pages:
        status, html, _ = get(site + path)
        assert status == 200, path
        assert "<script>window.__pwned" not in html, path
        assert "<img src=x" not in html and "<iframe" not in html, path
        assert 'href="javascript:' not in html.lower(), path
        if not path.startswith("/corpus/papers/"):  # Datasette's row heading: as stored
            assert "\u202e" not in html and "\u2067" not in html, path  # bidi made visible
    status, html, _ = get(f"{site}/paper/{pid}")
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html
    assert "\\u202e" in html
    polyline = html.split("<polyline points=\"")[1].split('"')[0]
    assert len(polyline.split()) == 3  # the upvotes seen on three days


def test_nothing_can_be_written(site: str, corpus: Path) -> None:
    before = sha(corpus)
    for sql in ("insert into watches (name, query, created_at) values ('x', 'y', 'z')",
                "delete from papers", "pragma query_only = 0", "attach database ':memory:' as m"):
        status, body, _ = get(f"{site}/corpus.json?sql=" + urllib.parse.quote(sql))
        assert status >= 400 or '"ok": false' in body, sql
    for path in ("/corpus/search", "/corpus/papers", "/-/insert", "/corpus/papers/-/insert",
                 "/corpus/-/create", "/search"):
        status, _, _ = get(site + path, data=b"q=x&name=x")
        assert status in (400, 403, 404, 405), path
    status, _, _ = get(site + "/corpus.db")  # no download of the file either
    assert status in (403, 404)
    assert sha(corpus) == before


def test_csv_answers_run_no_formula(site: str) -> None:
    """Review: a title such as '=HYPERLINK("http://evil","x")' went as is into the .csv
    of a table or a canned query, a formula for the spreadsheet that opens it; `papers
    export --csv` gives such a cell a leading apostrophe, and so does the server now."""
    sql = ("select '=HYPERLINK(\"http://evil\",\"x\")' as title, '+cmd|x' as a, '-5' as n, "
           "'@x' as b, 'plain, \"quoted\"' as c")
    for extra in ("", "&_dl=1"):
        status, body, _ = get(f"{site}/corpus.csv?sql={urllib.parse.quote(sql)}{extra}")
        assert status == 200, body
        assert body.splitlines() == [
            "title,a,n,b,c", '"\'=HYPERLINK(""http://evil"",""x"")",\'+cmd|x,-5,\'@x,'
            '"plain, ""quoted"""'], body
    status, body, _ = get(f"{site}/corpus/papers.csv?_stream=1")
    assert status == 400  # every row at once is not offered: a CSV is a page, checked whole
    status, body, _ = get(f"{site}/corpus/search.csv?q=sparsity")
    assert status == 200 and body.startswith("id,title,snippet,score")


def test_the_digest_feed_is_atom(site: str) -> None:
    feedparser = pytest.importorskip("feedparser")
    status, body, headers = get(site + "/feed/digest.atom?since=2024-01-01")
    assert status == 200 and headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(body)
    assert not feed.bozo and feed.entries
    assert all("sparsity" in e.title.lower() or "sparse" in e.title.lower() or
               "hostile" in e.title.lower() for e in feed.entries[:3])
    status, _, _ = get(site + "/feed/digest.atom?watch=nope")
    assert status == 404


def test_generated_metadata_follows_the_field_table(corpus: Path) -> None:
    conn = sqlite3.connect(corpus)
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    conn.close()
    meta = config.metadata(tables, str(corpus))["databases"][config.DB_NAME]
    shown = {t for t, c in meta["tables"].items() if not c.get("hidden")}
    assert shown == set(config.SHOWN) & set(tables)
    assert meta["tables"]["papers_fts"]["hidden"] and meta["tables"]["merges"]["hidden"]
    cols = meta["tables"]["papers"]["columns"]
    assert set(cols) == {"id", *(f.name for f in PAPER_FIELDS)}
    assert cols["upvotes"].endswith("highest")
    assert meta["tables"]["papers"]["fts_table"] == "papers_fts"
    assert set(meta["queries"]) == {"search", "rising", "digest", "by_tag", "passages"}


def run_cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def test_serve_refuses_bad_input_in_one_line(tmp_path: Path, corpus: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    res = run_cli("--db", str(tmp_path / "none.db"), "serve")
    assert res.exit_code == 2 and "no database at" in res.stderr
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database" * 100)
    res = run_cli("--db", str(junk), "serve")
    assert res.exit_code == 2 and res.stderr.count("\n") == 1
    res = run_cli("--db", str(corpus), "serve", "--port", "70000")
    assert res.exit_code == 2
    res = run_cli("--db", str(corpus), "serve", "--host", "no.such.host.invalid", "--port", "0")
    assert res.exit_code == 2 and "--host" in res.stderr and "Traceback" not in res.stderr

    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "datasette" else real(name, *a))
    res = run_cli("--db", str(corpus), "serve")
    assert res.exit_code == 2
    assert "pip install 'papers-cli[serve]'" in res.stderr and "Traceback" not in res.stderr


def test_a_busy_port_is_one_line(corpus: Path, site: str) -> None:
    port = urllib.parse.urlsplit(site).port
    res = run_cli("--db", str(corpus), "serve", "--port", str(port))
    assert res.exit_code == 2 and "cannot listen on 127.0.0.1" in res.stderr


def test_local_by_default_and_a_warning_for_another_host(corpus: Path) -> None:
    from papers_cli.verbs.common import Session
    from papers_cli.verbs.serve import ServeArgs, is_local, serve

    plan = serve(Session(corpus), ServeArgs())
    assert plan.host == "127.0.0.1" and not plan.warnings
    plan = serve(Session(corpus), ServeArgs(host="0.0.0.0"))
    assert plan.warnings and "anyone who can reach this machine" in plan.warnings[0]
    assert is_local("localhost") and is_local("::1") and not is_local("192.0.2.1")
    assert config.SETTINGS["allow_download"] is False


def test_errors_leave_no_traceback_in_the_servers_terminal(corpus: Path) -> None:
    # Datasette's own handler printed each error's traceback with its local variables.
    log: list[str] = []
    with serving(corpus, log=log) as url:
        for path in ("/corpus.json?sql=delete+from+papers", "/corpus/papers?_search=%22",
                     "/corpus.json?sql=select+*+from+nosuch", "/nosuch", "/paper/999999"):
            status, _, _ = get(url + path)
            assert 400 <= status < 500, path
        time.sleep(0.5)
    said = "".join(log)
    assert "Traceback" not in said and "locals" not in said, said[:2000]


def test_an_unknown_paper_is_a_404_in_the_page_s_words(site: str) -> None:
    status, body, _ = get(site + "/paper/999999")
    assert status == 404 and "no paper with id" in body
    assert "papers list" not in body  # a command-line hint has no place on a web page
