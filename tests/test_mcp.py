"""`papers mcp`: driven through the MCP SDK's own client over stdio, against real
databases built by `papers ingest` (fixtures: sample_pages/, tests/fixtures/api_daily.json
and tests/fixtures/hf-api/, whose sources are noted in tests/fixtures/hf-api/README.md)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from helpers import SAMPLES, dump, get_paper, list_papers, page
from hfserver import Reply, hf_server, json_reply
from papers_cli.engine import search as search_mod
from papers_cli.storage.connection import connect
from papers_cli.storage.filters import Filters
from papers_cli.storage.identity import resolve_paper_id
from papers_cli.storage.read import corpus_stats

anyio = pytest.importorskip("anyio")
pytest.importorskip("mcp")

from mcp import ClientSession, StdioServerParameters  # noqa: E402
from mcp.client.stdio import stdio_client  # noqa: E402
from mcp.shared.exceptions import McpError  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"
API_DAY = FIXTURES / "api_daily.json"
FETCH_DAY, FETCH_FILE = "2025-03-19", FIXTURES / "hf-api" / "2025-03-19.json"
READ_TOOLS = {"search", "show", "similar", "list", "stats"}
WRITE_TOOLS = {"tag", "note", "mark", "fetch"}


def papers(*args: str, env: dict[str, str] | None = None,
           timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "papers_cli", *args], capture_output=True,
                          text=True, timeout=timeout, env=env)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """Sample text pages plus one API day (papers with arXiv ids)."""
    db = tmp_path / "corpus.db"
    r = papers("--db", str(db), "ingest", "-q", str(SAMPLES), str(API_DAY))
    assert r.returncode == 0, r.stderr
    return db


@asynccontextmanager
async def client(db: Path, *extra: str, env: dict[str, str] | None = None
                 ) -> AsyncIterator[ClientSession]:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "papers_cli", "mcp", "--db", str(db), *extra],
        env={**os.environ, **(env or {})})
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


def run(db: Path, body: Callable[[ClientSession], Awaitable[None]], *extra: str,
        env: dict[str, str] | None = None) -> None:
    async def main() -> None:
        async with client(db, *extra, env=env) as s:
            await body(s)

    anyio.run(main)


async def ok(s: ClientSession, name: str, **args: Any) -> dict[str, Any]:
    res = await s.call_tool(name, args)
    text = res.content[0].text if res.content else ""  # type: ignore[union-attr]
    assert not res.isError, f"{name}{args}: {text}"
    assert res.structuredContent is not None
    assert json.loads(text) == res.structuredContent  # the text copy is the same data
    return res.structuredContent


async def err(s: ClientSession, name: str, **args: Any) -> str:
    res = await s.call_tool(name, args)
    assert res.isError, f"{name}{args} should fail"
    text: str = res.content[0].text  # type: ignore[union-attr]
    assert "\n" not in text.strip() and "Traceback" not in text
    return text


def cli_error(*args: str) -> str:
    """The one line the CLI prints for the same mistake, without its 'papers: '."""
    r = papers(*args)
    assert r.returncode != 0
    line = r.stderr.strip()
    assert line.startswith("papers: ") and "\n" not in line, r.stderr
    return line.removeprefix("papers: ")


# ---------------------------------------------------------------- listing, read-only


def test_read_only_server_lists_read_tools_and_refuses_writes(corpus: Path) -> None:
    before = dump(sqlite3.connect(corpus))

    async def body(s: ClientSession) -> None:
        tools = {t.name: t for t in (await s.list_tools()).tools}
        assert set(tools) >= READ_TOOLS
        assert not WRITE_TOOLS & set(tools)
        for t in tools.values():
            assert t.inputSchema["type"] == "object" and t.outputSchema is not None
            assert t.annotations is not None and t.annotations.readOnlyHint
        assert tools["search"].inputSchema["required"] == ["query"]
        for name in ("fetch", "tag", "note", "mark"):
            msg = await err(s, name, ids=["1"])
            assert "read-only" in msg and "--allow-write" in msg
        # An unknown tool is a protocol error (-32602), not a tool result (MCP tools spec).
        with pytest.raises(McpError, match="unknown tool") as caught:
            await s.call_tool("drop_everything", {})
        assert caught.value.error.code == -32602

    run(corpus, body)
    assert dump(sqlite3.connect(corpus)) == before


def test_read_only_connection_cannot_write(corpus: Path) -> None:
    from papers_cli.mcp.server import open_database

    conn = open_database(corpus, allow_write=False)
    assert conn.execute("SELECT count(*) FROM papers").fetchone()[0] > 0
    # papers_fold is registered: the author filter works on this connection.
    assert list(list_papers(conn, Filters(author="LUO"), limit=1))
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        conn.execute("DELETE FROM papers")
    conn.close()


def test_start_up_errors_are_one_line(tmp_path: Path) -> None:
    r = papers("mcp", "--db", str(tmp_path / "none.db"))
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert "no database at" in r.stderr and not (tmp_path / "none.db").exists()
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not sqlite at all" * 100)
    r = papers("mcp", "--db", str(junk))
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert "not a papers database" in r.stderr


def test_other_commands_do_not_import_the_sdk(corpus: Path) -> None:
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "papers_cli", "--db",
                        str(corpus), "stats"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0
    modules = {line.split("|")[-1].strip() for line in r.stderr.splitlines()
               if line.startswith("import time:")}
    assert "papers_cli.cli.app" in modules
    assert not {m for m in modules if m.split(".")[0] in ("mcp", "pydantic", "starlette",
                                                        "papers_cli.mcp.tools")}
    assert "papers_cli.mcp.tools" not in modules


# ---------------------------------------------------------------- read tools


def test_search_pages_through_every_hit(corpus: Path) -> None:
    conn = connect(corpus)
    expected = [h["id"] for h in search_mod.search(conn, "learning", limit=1000).hits]
    conn.close()
    assert len(expected) > 7

    async def body(s: ClientSession) -> None:
        got: list[int] = []
        offset: int | None = 0
        pages = 0
        while offset is not None:
            res = await ok(s, "search", query="learning", limit=3, offset=offset)
            assert res["total"] == len(expected)
            assert len(res["results"]) <= 3
            assert res["more"] == (res["next_offset"] is not None)
            got += [h["id"] for h in res["results"]]
            ranks = [h["rank"] for h in res["results"]]
            assert ranks == list(range(offset + 1, offset + 1 + len(ranks)))
            offset = res["next_offset"]
            pages += 1
        assert got == expected
        assert pages == -(-len(expected) // 3)
        # Default limit bounds the answer; past the end is empty, not an error.
        assert len((await ok(s, "search", query="learning"))["results"]) == 10
        tail = await ok(s, "search", query="learning", offset=5000)
        assert tail["results"] == [] and not tail["more"]

    run(corpus, body)


def test_search_filters_modes_and_abstract_length(corpus: Path) -> None:
    async def body(s: ClientSession) -> None:
        res = await ok(s, "search", query="sparsity", limit=5)
        hit = res["results"][0]
        assert {"id", "title", "score", "snippet", "rank", "arxiv_id"} <= set(hit)
        assert "\x02" not in (hit["snippet"] or "")  # highlight marks stripped
        assert all(len(h.get("abstract") or "") <= 301 for h in res["results"])  # 300 + "…"
        cut = [i for i, h in enumerate(res["results"]) if h.get("truncated")]
        assert cut
        long = await ok(s, "search", query="sparsity", limit=5, abstract_chars=100_000)
        assert len(long["results"][cut[0]]["abstract"]) > 301
        assert not any(h.get("truncated") for h in long["results"])
        assert "abstract" not in (await ok(s, "search", query="sparsity",
                                           abstract_chars=0))["results"][0]
        dated = await ok(s, "search", query="sparsity", since="2025", limit=100)
        assert all(h["published"] >= "2025" for h in dated["results"])
        assert dated["total"] < res["total"]
        by_votes = await ok(s, "search", query="model", sort="upvotes", limit=20)
        votes = [h["upvotes"] or 0 for h in by_votes["results"]]
        assert votes == sorted(votes, reverse=True)
        raw = await ok(s, "search", query="title : sparsity", raw=True)
        assert raw["total"] >= 1
        none = await ok(s, "search", query="sparsty")
        assert none["total"] == 0 and "sparsity" in none["did_you_mean"]["sparsty"]

    run(corpus, body)


def test_bad_arguments_give_the_cli_message_and_the_server_goes_on(corpus: Path) -> None:
    excluded = cli_error("--db", str(corpus), "search", "--", "-x")
    bad_date = cli_error("--db", str(corpus), "list", "--since", "garbage")
    missing = cli_error("--db", str(corpus), "show", "99999")
    bad_raw = cli_error("--db", str(corpus), "search", "--raw", "AND AND")

    async def body(s: ClientSession) -> None:
        assert await err(s, "search", query="-x") == excluded
        assert await err(s, "list", since="garbage") == bad_date
        assert await err(s, "show", id="99999") == missing
        assert await err(s, "similar", id=99999) == missing
        assert await err(s, "search", query="AND AND", raw=True) == bad_raw
        # Arguments the schema refuses: wrong types, unknown names, out of range, missing.
        for name, args in (("search", {}), ("search", {"query": ""}),
                           ("search", {"query": "x", "limit": 0}),
                           ("search", {"query": "x", "limit": "ten"}),
                           ("search", {"query": "x", "sort": "chaos"}),
                           ("list", {"bogus": True}), ("list", {"offset": -1}),
                           ("show", {"id": None}), ("list", {"sort": "nonsense"})):
            assert "validation error" in (await err(s, name, **args)).lower()
        assert (await ok(s, "stats"))["papers"] > 0  # still serving

    run(corpus, body)


def test_show_by_id_arxiv_id_and_url(corpus: Path) -> None:
    conn = connect(corpus)
    pid = resolve_paper_id(conn, "2411.02335")
    full = get_paper(conn, pid) if pid else None
    conn.close()
    assert full is not None

    async def body(s: ClientSession) -> None:
        for ident in (pid, str(pid), "2411.02335", "https://huggingface.co/papers/2411.02335",
                      "https://arxiv.org/abs/2411.02335v2"):
            paper = await ok(s, "show", id=ident)
            assert paper["id"] == pid and paper["title"] == full["title"]
        paper = await ok(s, "show", id=pid, abstract_chars=40, max_pages=0)
        assert len(paper["abstract"]) <= 41 and paper["truncated"] is True
        assert paper["pages"] == [] and paper["pages_total"] == len(full["pages"])
        assert paper["authors"] == full["author_names"]
        whole = await ok(s, "show", id=pid)
        assert whole["abstract"] == full["abstract"] and "truncated" not in whole

    run(corpus, body)


def test_similar_and_list(corpus: Path) -> None:
    conn = connect(corpus)
    newest = [r["id"] for r in list_papers(conn, Filters(), limit=12)]
    oldest = [r["id"] for r in list_papers(conn, Filters(), reverse=True,
                                                    limit=4)]
    sim = [h["id"] for h in search_mod.similar(conn, newest[0], limit=5).hits]
    stats = corpus_stats(conn)
    conn.close()

    async def body(s: ClientSession) -> None:
        res = await ok(s, "similar", id=newest[0], limit=5)
        assert [h["id"] for h in res["results"]] == sim and newest[0] not in sim
        first = await ok(s, "list", limit=5)
        second = await ok(s, "list", limit=5, offset=5)
        assert [r["id"] for r in first["results"] + second["results"]] == newest[:10]
        assert first["more"] and first["next_offset"] == 5 and first["total"] is None
        rev = await ok(s, "list", limit=4, reverse=True)
        assert [r["id"] for r in rev["results"]] == oldest
        votes = await ok(s, "list", sort="upvotes", min_upvotes=1, limit=100)
        ups = [r["upvotes"] for r in votes["results"]]
        assert ups and ups == sorted(ups, reverse=True) and min(ups) >= 1
        luo = await ok(s, "list", author="luo", limit=100)
        assert luo["results"] and not luo["more"]
        end = await ok(s, "list", offset=stats["papers"] - 1, limit=5)
        assert len(end["results"]) == 1 and not end["more"] and end["next_offset"] is None
        got = await ok(s, "stats")
        assert got["papers"] == stats["papers"] and got["per_year"] == stats["per_year"]

    run(corpus, body)


def test_hostile_text_is_escaped(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    evil = "Sparse \x1b]52;c;ZWNobw==\x07 experts \u202eredro\u202c routing"
    (tmp_path / "p.txt").write_text(page(f"{evil}\n\nWe study sparse experts routing.\n\n"
                                         "  • 2 authors\n·\nMar 5, 2024\n"))
    assert papers("--db", str(db), "ingest", "-q", str(tmp_path / "p.txt")).returncode == 0

    async def body(s: ClientSession) -> None:
        title = (await ok(s, "search", query="experts"))["results"][0]["title"]
        assert "\x1b" not in title and "\u202e" not in title and "\x07" not in title
        assert "\\x1b" in title and "\\u202e" in title

    run(db, body)


# ---------------------------------------------------------------- concurrency, writes


def test_ingest_while_the_server_runs(corpus: Path, tmp_path: Path) -> None:
    extra = tmp_path / "new.txt"
    extra.write_text(page("Quokka Attention: A Marsupial Approach To Routing\n\n"
                          "We route tokens the quokka way.\n\n  • 2 authors\n·\nMar 5, 2024\n"))

    async def body(s: ClientSession) -> None:
        before = (await ok(s, "stats"))["papers"]
        assert (await ok(s, "search", query="quokka"))["total"] == 0
        t0 = time.monotonic()
        # The server holds a read connection; a writer must not wait for it.
        r = await anyio.to_thread.run_sync(lambda: papers("--db", str(corpus), "ingest", "-q",
                                                          str(extra)))
        assert r.returncode == 0, r.stderr
        assert time.monotonic() - t0 < 20
        assert (await ok(s, "stats"))["papers"] == before + 1
        assert (await ok(s, "search", query="quokka"))["total"] == 1

    run(corpus, body)


def test_allow_write_fetches_from_the_site(corpus: Path) -> None:
    with hf_server() as site:
        site.day(FETCH_DAY, json_reply(FETCH_FILE))
        n_items = len(json.loads(FETCH_FILE.read_bytes()))

        async def body(s: ClientSession) -> None:
            tools = {t.name: t for t in (await s.list_tools()).tools}
            assert "fetch" in tools and not tools["fetch"].annotations.readOnlyHint
            before = (await ok(s, "stats"))["papers"]
            res = await ok(s, "fetch", date=FETCH_DAY)
            assert not res["failed"] and res["outcomes"][0]["status"] == "ingested"
            assert res["outcomes"][0]["records"] == n_items
            assert (await ok(s, "stats"))["papers"] == before + res["new_papers"]
            again = await ok(s, "fetch", date=FETCH_DAY)
            assert again["new_papers"] == 0
            assert "date" in (await err(s, "fetch", date="2025-13-45")).lower()
            msg = await err(s, "fetch", since="2020-01-01", until="2020-12-31")
            assert "at most 31" in msg
            assert site.hits("/api/daily_papers?date=2020") == 0

        run(corpus, body, "--allow-write", env={"PAPERS_HF_URL": site.url})


def test_fetch_full_text_is_a_write_tool(corpus: Path) -> None:
    text = FIXTURES / "fulltext"
    before = dump(sqlite3.connect(corpus))

    async def read_only(s: ClientSession) -> None:
        msg = await err(s, "fetch", full_text=True, ids=["2411.02335"])
        assert "read-only" in msg and "--allow-write" in msg

    run(corpus, read_only)
    assert dump(sqlite3.connect(corpus)) == before
    with hf_server() as site, hf_server() as arxiv:
        site.route("/papers/2411.02335.md", Reply(body=(text / "paper2.md").read_bytes(),
                                                  content_type="text/markdown"))
        arxiv.route("/html/2502.01074", Reply(body=(text / "arxiv_no_html.html").read_bytes(),
                                              content_type="text/html"))

        async def body(s: ClientSession) -> None:
            schema = {t.name: t for t in (await s.list_tools()).tools}["fetch"].inputSchema
            assert {"full_text", "tags", "starred", "query", "all"} <= set(schema["properties"])
            assert "arxiv_url" not in schema["properties"]  # the server's, as base_url is
            res = await ok(s, "fetch", full_text=True, ids=["2411.02335", "2502.01074"])
            assert res["failed"] and res["summary"] == (
                "2 papers: 1 from the site's Markdown, 0 from arXiv HTML, 1 without full "
                "text (1 no HTML on arXiv)")
            assert [(o["arxiv_id"], o["status"]) for o in res["outcomes"]] == [
                ("2411.02335", "md"), ("2502.01074", "none")]
            again = await ok(s, "fetch", full_text=True, ids=["2411.02335"])
            assert again["skipped"] == 1 and again["outcomes"] == []
            assert "at most 31" in await err(s, "fetch", full_text=True, all=True,
                                             refresh=True)
            assert "add --full-text" in await err(s, "fetch", tags=["x"])

        run(corpus, body, "--allow-write",
            env={"PAPERS_HF_URL": site.url, "PAPERS_ARXIV_URL": arxiv.url})
    assert site.hits("/papers/") == 2 and arxiv.hits("/html/") == 1
    conn = sqlite3.connect(corpus)
    assert conn.execute("SELECT location FROM documents").fetchall() == [
        (f"{site.url}/papers/2411.02335.md",)]


# ---------------------------------------------------------------- personal layer (issue 17)


@pytest.mark.parametrize("name,args", [
    ("tag", {"ids": ["2411.02335"], "add": ["sparsity"]}),
    ("note", {"id": "2411.02335", "text": "read section 3"}),
    ("mark", {"ids": ["2411.02335"], "read": True}),
])
def test_personal_write_tools(corpus: Path, name: str, args: dict[str, Any]) -> None:
    before = dump(sqlite3.connect(corpus))

    async def read_only(s: ClientSession) -> None:
        assert name not in {t.name for t in (await s.list_tools()).tools}
        assert "read-only" in await err(s, name, **args)

    run(corpus, read_only)
    assert dump(sqlite3.connect(corpus)) == before

    async def writer(s: ClientSession) -> None:
        assert name in {t.name for t in (await s.list_tools()).tools}
        await ok(s, name, **args)
        assert "no paper" in await err(s, name, **{**args, **(
            {"ids": ["99999"]} if "ids" in args else {"id": "99999"})})

    run(corpus, writer, "--allow-write")


def test_digest_tool(corpus: Path) -> None:
    async def empty(s: ClientSession) -> None:
        assert "digest" in {t.name for t in (await s.list_tools()).tools}
        res = await s.call_tool("digest", {"since": "2020-01-01"})
        assert res.isError and "no saved searches yet" in res.content[0].text

    run(corpus, empty)
    assert papers("--db", str(corpus), "watch", "add", "sparsity",
                  "activation sparsity").returncode == 0
    before = corpus.read_bytes()

    async def body(s: ClientSession) -> None:
        await ok(s, "digest", since="2020-01-01")

    run(corpus, body)
    assert corpus.read_bytes() == before  # read-only: the digest was not recorded


def test_rising_sort() -> None:
    from papers_cli.mcp.tools import TOOLS

    spec = next(t for t in TOOLS if t.name == "list")
    assert "rising" in spec.input_schema()["properties"]["sort"]["enum"]
