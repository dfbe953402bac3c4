"""`papers fetch` trusts nothing: an answer must be about what was asked, a request
ends in time however the site trickles, HF_TOKEN is checked up front and never shown,
and a hostile server gets one clear line per target, never a traceback, and leaves the
corpus exactly as it was.

Every response comes from a local server on 127.0.0.1 (tests/hfserver.py).
"""

from __future__ import annotations

import gzip
import json
import logging
import socket
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from helpers import ROOT, dump
from hfserver import FIXTURES, HFServer, Reply, hf_server, relisted
from papers_cli.cli.app import app
from papers_cli.engine.fetch.client import Client, HttpConfig
from papers_cli.engine.fetch.plan import Target
from papers_cli.engine.fetch.run import FetchReport, TargetOutcome
from papers_cli.engine.ingest import ingest_bytes
from papers_cli.storage.connection import connect

DAY_FILE = FIXTURES / "2024-07-09.json"
H = "2024-07-10"  # the day the hostile server is asked for
LIST = f"/api/daily_papers?date={H}&limit=100"
LLAMA = "2407.21783"
ASKED = "2604.07429"
TOKEN = "hf_FAKEtokenDoNotLeak0123456789"
HTML = (ROOT / "tests" / "fixtures" / "daily.html").read_bytes()


def paper(pid: str, title: str) -> dict[str, Any]:
    """An /api/papers/<id> answer."""
    obj = json.loads((ROOT / "tests" / "fixtures" / "api_paper.json").read_bytes())
    obj.update(id=pid, title=title)
    return obj


def items(n: int, day: str = H, first: int = 0) -> list[dict[str, Any]]:
    """`n` distinct items listed on `day` (2024 layout: the item's publishedAt)."""
    template = json.loads(DAY_FILE.read_bytes())[0]
    out = []
    for i in range(first, first + n):
        item = json.loads(json.dumps(template))
        pid = f"2499.{10000 + i}"
        item["paper"].update(id=pid, title=f"Synthetic paper {pid}")
        item.update(title=f"Synthetic paper {pid}", publishedAt=f"{day}T12:00:00.000Z")
        out.append(item)
    return out


def js(value: Any) -> bytes:
    return json.dumps(value).encode()


def with_item(n: int, change: Callable[[dict[str, Any]], None]) -> bytes:
    """Five good items, the `n`th (1-based) changed."""
    its = items(5)
    change(its[n - 1])
    return js(its)


@pytest.fixture
def server() -> Iterator[HFServer]:
    with hf_server() as s:
        yield s


@pytest.fixture
def other() -> Iterator[HFServer]:
    """Another site, for redirects that leave the site."""
    with hf_server() as s:
        s.default = lambda path: Reply(body=js(items(3)))
        yield s


@pytest.fixture
def corpus(db_path: Path) -> Path:
    """A corpus that already holds a day, a paper and a tag."""
    conn = connect(db_path)
    ingest_bytes(conn, DAY_FILE.read_bytes(), "seed-day")
    ingest_bytes(conn, js(paper(LLAMA, "The Llama 3 Herd of Models")), "seed-llama")
    conn.close()
    assert CliRunner().invoke(app, ["--db", str(db_path), "tag", "1", "+mine"]).exit_code == 0
    return db_path


def rows(db: Path) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return dump(conn)
    finally:
        conn.close()


@pytest.fixture
def run(corpus: Path, server: HFServer, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PAPERS_HF_URL", server.url)
    monkeypatch.delenv("HF_TOKEN", raising=False)

    def invoke(*args: str):
        return CliRunner().invoke(app, ["--db", str(corpus), "fetch", "--rate", "50",
                                        "--backoff", "0", "--retries", "1", "--timeout", "2",
                                        *args], catch_exceptions=False)

    return invoke


# --- the cases ---


def test_another_paper_for_the_one_asked_is_rejected_and_renames_nothing(
        run, server: HFServer, corpus: Path) -> None:
    server.route(f"/api/papers/{ASKED}", Reply(body=js(paper(LLAMA, "Other paper"))))
    before = rows(corpus)
    result = run(ASKED)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{server.url}/api/papers/{ASKED}: the site answered with paper {LLAMA}, not {ASKED}",
        "1 paper id: 0 fetched (0 new papers, 0 known), 1 rejected"]
    assert rows(corpus) == before
    conn = sqlite3.connect(corpus)
    assert conn.execute("SELECT title FROM papers WHERE arxiv_id = ?",
                        (LLAMA,)).fetchone()[0] == "The Llama 3 Herd of Models"


def test_one_byte_a_second_ends_within_the_timeout(run, server: HFServer) -> None:
    server.day(H, Reply(body=js(items(3)), drip=1.0))
    started = time.monotonic()
    result = run("--date", H, "--timeout", "3", "--retries", "0")
    took = time.monotonic() - started
    assert took < 10, took
    assert result.exit_code == 1
    assert "timed out: no complete answer within 3 s (after 1 attempt)" in result.stderr


def test_retries_share_one_deadline(run, server: HFServer) -> None:
    """With the default retries a URL ends within timeout x (retries + 1), waits included."""
    server.day(H, Reply(body=js(items(3)), drip=1.0))
    started = time.monotonic()
    result = run("--date", H, "--timeout", "1", "--retries", "4", "--backoff", "0.2")
    took = time.monotonic() - started
    assert took < 10, took  # the bound is 5 s
    assert result.exit_code == 1 and "timed out" in result.stderr


@pytest.mark.parametrize("token, why", [
    ("hf_tökén€", "a non-ASCII character"),
    ("hf_SECRETsecret\r", "a line end"),
    ("hf_SECRET\nsecret", "a line end"),
    ("hf_SECRET secret", "a space or tab"),
    ("hf_SECRET\x07secret", "a control character"),
    ("hf_" + "x" * 2000, "more than 1024 characters"),
])
@pytest.mark.parametrize("dry", [False, True])
def test_a_bad_token_is_refused_before_any_request(run, server: HFServer, corpus: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   token: str, why: str, dry: bool) -> None:
    monkeypatch.setenv("HF_TOKEN", token)
    before = rows(corpus)
    result = run("--date", H, *(["--dry-run"] if dry else []))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"papers: HF_TOKEN cannot be sent: it holds {why}")
    assert result.stderr.endswith("; fix or unset it\n") and result.stderr.count("\n") == 1
    assert token.strip()[:9] not in result.stdout + result.stderr
    assert server.requests == []
    assert rows(corpus) == before


def test_the_mcp_fetch_tool_refuses_a_bad_token_in_one_line(
        corpus: Path, server: HFServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from papers_cli.mcp.tools import Context, ToolFailure, call

    monkeypatch.setenv("HF_TOKEN", "hf_SECRET\r\n")
    conn = connect(corpus)
    before = rows(corpus)
    with pytest.raises(ToolFailure) as e:
        call(Context(conn, corpus, allow_write=True, base_url=server.url), "fetch",
             {"date": H})
    conn.close()
    assert str(e.value) == ("HF_TOKEN cannot be sent: it holds a line end (a file saved "
                            "with CRLF line ends?); fix or unset it")
    assert server.requests == [] and rows(corpus) == before


def test_the_client_refuses_a_bad_token_without_quoting_it() -> None:
    from papers_cli.core.errors import UserError

    with pytest.raises(UserError) as e:
        Client(HttpConfig(token="hf_SECRET\r\n"))
    assert "SECRET" not in str(e.value)


# --- no secret in any output ---


def _refused_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


LEAKS: list[tuple[str, Callable[[HFServer, HFServer], None]]] = [
    ("401", lambda s, o: s.day(H, Reply(401, b'{"error":"Invalid credentials"}'))),
    ("403", lambda s, o: s.day(H, Reply(403, b'{"error":"{auth} is forbidden"}', echo=True))),
    ("500-retried", lambda s, o: s.day(H, Reply(500, b"{auth}", echo=True,
                                                content_type="text/plain"))),
    ("redirect-elsewhere", lambda s, o: s.day(H, Reply(302, b"", {
        "Location": o.url + "/steal?t={auth}"}, echo=True))),
    ("redirect-here-token-in-path", lambda s, o: s.day(H, Reply(302, b"", {
        "Location": "/x/{auth}"}, echo=True))),
    ("bad-header-line", lambda s, o: s.day(H, Reply(raw=b"HTTP/1.1 200 OK\r\nBad header "
                                                        b"{auth}\r\n\r\n[]", echo=True))),
    ("token-in-content-type", lambda s, o: s.day(H, Reply(body=b"x", content_type=None,
                                                          headers={"Content-Type":
                                                                   "text/{auth}"},
                                                          echo=True))),
    ("token-in-body", lambda s, o: s.day(H, Reply(body=js(items(3)).replace(
        b"Synthetic", b"{auth}", 1), echo=True))),
    ("token-in-a-field-error", lambda s, o: s.day(H, Reply(body=with_item(
        2, lambda i: i["paper"].update(upvotes="{auth}")), echo=True))),
    ("token-escaped-in-body", lambda s, o: s.day(H, Reply(body=js(items(3)).replace(
        b"Synthetic", "".join(f"\\u{ord(c):04x}" for c in "Bearer " + TOKEN).encode(), 1)))),
    ("timeout", lambda s, o: s.day(H, Reply(body=b"[]", drip=1.0))),
    ("refused", lambda s, o: None),
]


@pytest.mark.parametrize("name, setup", LEAKS, ids=[n for n, _ in LEAKS])
def test_the_token_appears_in_no_output(corpus: Path, server: HFServer, other: HFServer,
                                        monkeypatch: pytest.MonkeyPatch,
                                        caplog: pytest.LogCaptureFixture, name: str,
                                        setup: Callable[[HFServer, HFServer], None]) -> None:
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setenv("PAPERS_HF_URL", _refused_url() if name == "refused" else server.url)
    setup(server, other)
    caplog.set_level(logging.DEBUG)  # httpx and httpcore log requests at DEBUG
    before = rows(corpus)
    result = CliRunner().invoke(app, ["--db", str(corpus), "fetch", "--date", H, "--rate",
                                      "50", "--backoff", "0", "--retries", "2", "--timeout",
                                      "1"], catch_exceptions=False)
    assert result.exit_code == 1
    seen = result.stdout + result.stderr + caplog.text
    assert TOKEN not in seen and TOKEN[:12] not in seen
    assert "Traceback" not in seen
    assert other.requests == []
    assert rows(corpus) == before
    for f in corpus.parent.glob(corpus.name + "*"):
        assert TOKEN.encode() not in f.read_bytes()
    if name not in ("refused",):
        assert server.requests and all(
            h.get("authorization") == f"Bearer {TOKEN}" for _, h in server.requests)


# --- words ---


def test_counts_read_right(run, server: HFServer) -> None:
    server.route(f"/api/papers/{ASKED}", Reply(body=js(paper(ASKED, "A new paper"))))
    result = run(ASKED)
    assert result.exit_code == 0
    assert result.stderr.splitlines() == [
        f"{ASKED}: 1 paper (1 new)", "1 paper id: 1 fetched (1 new paper, 0 known)"]
    server.route("/api/papers/search?q=x", Reply(body=js(items(1))))
    assert run("--search", "x").stderr.splitlines()[-1] == \
        "1 search: 1 fetched (1 new paper, 0 known)"
    report = FetchReport([TargetOutcome(Target("search", "x"), "ingested", new_papers=1)])
    assert report.interrupted([Target("search", "x"), Target("search", "y")]) == (
        "interrupted after 1 of 2 searches (1 fetched, 1 new paper, committed); run the "
        "same command again to resume")


# --- bad input ---


@pytest.mark.parametrize("args, says", [
    (["--timeout", "nan", "--date", H], "--timeout"),
    (["--timeout", "0", "--date", H], "--timeout"),
    (["--retries", "-1", "--date", H], "--retries"),
    (["--limit", "0", "--date", H], "--limit"),
    (["--rate", "inf", "--date", H], "--rate"),
    (["--date", "2024-07-10\x00"], "--date"),
    (["--search", "x" * 600], "--search"),
    (["2407.21783/../x"], "not an arXiv id"),
    (["--base-url", "http://user:s3cretpw@127.0.0.1:1", "--date", H], "no user or password"),
    (["--base-url", "http://127.0.0.1:99999", "--date", H], "a bad host or port"),
    (["--base-url", "http://[::1", "--date", H], "a bad host or port"),
])
def test_bad_input_is_one_line_exit_2_and_changes_nothing(run, server: HFServer,
                                                          corpus: Path, args: list[str],
                                                          says: str) -> None:
    before = rows(corpus)
    result = run(*args)
    assert result.exit_code == 2, result.stderr
    # The range checks are click's, whose usage errors take a few lines (as for every
    # command); the others are papers' one line.
    last = result.stderr.splitlines()[-1]
    assert says in last and last.startswith(("papers: ", "Error: "))
    assert "Traceback" not in result.stderr
    assert "s3cretpw" not in result.stderr  # a password in a URL is not repeated
    assert server.requests == [] and rows(corpus) == before


# --- hostile servers ---


@dataclass
class Case:
    name: str
    setup: Callable[[HFServer, HFServer], None]
    says: str  # in stderr
    args: tuple[str, ...] = ("--date", H)
    code: int = 1
    stored: bool = False  # a good answer: the corpus changes
    opts: tuple[str, ...] = field(default=())


def day(*replies: Reply) -> Callable[[HFServer, HFServer], None]:
    return lambda s, o: s.day(H, *replies)


def route(path: str, *replies: Reply) -> Callable[[HFServer, HFServer], None]:
    return lambda s, o: s.route(path, *replies)


def both(*setups: Callable[[HFServer, HFServer], None]) -> Callable[[HFServer, HFServer], None]:
    def go(s: HFServer, o: HFServer) -> None:
        for f in setups:
            f(s, o)
    return go


def relisted_items(day_: str, n: int = 5) -> list[dict[str, Any]]:
    return relisted(items(n), day_)


GOOD = Reply(body=js(items(5)))
PAPER = f"/api/papers/{ASKED}"
SLOW = ("--timeout", "1", "--retries", "0")
BOMB = gzip.compress(b"[" + b" " * (64 << 20) + b"]", compresslevel=1)
HOSTILE = [
    Case("html-200", day(Reply(body=HTML, content_type="text/html")),
         ": not JSON (content type 'text/html')"),
    Case("html-labelled-json", day(Reply(body=HTML)), f"{LIST}: not JSON"),
    Case("another-paper", route(PAPER, Reply(body=js(paper(LLAMA, "Other paper")))),
         f"the site answered with paper {LLAMA}, not {ASKED}", args=(ASKED,)),
    Case("paper-without-an-id", route(PAPER, Reply(body=js(paper("", "No id")))),
         "not a paper: a JSON object with keys", args=(ASKED,)),
    Case("paper-in-a-list", route(PAPER, Reply(body=js([paper(ASKED, "Listed")]))),
         "not a paper: a JSON list of objects", args=(ASKED,)),
    Case("paper-with-a-version", route(PAPER, Reply(body=js(paper(ASKED + "v3", "V3")))),
         f"{ASKED}: 1 paper (1 new)", args=(ASKED,), code=0, stored=True),
    Case("error-object-200", day(Reply(body=b'{"error": "Sorry, not found"}')),
         "not a list of papers: a JSON object with keys error"),
    Case("one-of-51-of-another-day", day(Reply(body=js(items(50) + items(
        1, "2024-06-30", first=50)))),
         f"the site answered with 1 item of 51 listed outside {H} (first: item 51, paper "
         "2499.10050, listed on 2024-06-30)"),
    Case("listed-the-evening-before", day(Reply(body=js(items(3) + items(
        2, "2024-07-09", first=3)))), f"{H}: 5 papers (5 new)", code=0, stored=True),
    Case("two-days-before", day(Reply(body=js(relisted_items("2024-07-08")))),
         "5 items of 5 listed outside"),
    Case("a-day-in-the-future", day(Reply(body=js(items(4) + items(1, "2024-07-11", 4)))),
         "listed on 2024-07-11"),
    Case("far-future-arxiv-date", day(Reply(body=with_item(
        1, lambda i: i["paper"].update(publishedAt="2999-01-01T00:00:00.000Z")))),
         "item 1, paper 2499.10000: published on 2999-01-01, after the day it is listed on "
         "(2024-07-10)"),
    Case("no-listing-day", day(Reply(body=with_item(3, lambda i: i.pop("publishedAt")))),
         "1 item of 5 has no listing day, so cannot be shown to be of 2024-07-10 "
         "(first: item 3)"),
    Case("the-same-paper-twice", day(Reply(body=js(items(3) + items(1))) ),
         "paper 2499.10000 comes twice (items 1 and 4)"),
    Case("negative-upvotes", day(Reply(body=with_item(
        2, lambda i: i["paper"].update(upvotes=-5)))), "item 2: upvotes"),
    Case("a-400-digit-count", day(Reply(body=js(items(1)).replace(
        b'"upvotes": ', b'"upvotes": ' + b"9" * 400 + b", \"x\": "))), "item 1: upvotes"),
    Case("truncated", day(Reply(body=js(items(5)), truncate=True)), "cut short"),
    Case("content-length-too-short", day(Reply(raw=b"HTTP/1.1 200 OK\r\nContent-Type: "
                                               b"application/json\r\nContent-Length: 10"
                                               b"\r\n\r\n" + js(items(2)))),
         "invalid JSON"),
    Case("content-length-garbage", day(Reply(raw=b"HTTP/1.1 200 OK\r\nContent-Length: "
                                             b"abc\r\n\r\n[]")),
         "response cut short or malformed"),
    Case("content-length-10-GB", day(Reply(raw=b"HTTP/1.1 200 OK\r\nContent-Length: "
                                           b"10000000000\r\n\r\n[")),
         "response larger than 50 MB; refused"),
    Case("gzip-bomb", day(Reply(body=BOMB, headers={"Content-Encoding": "gzip"})),
         "response larger than 50 MB; refused"),
    Case("not-gzip-though-it-says-so", day(Reply(body=js(items(2)),
                                                 headers={"Content-Encoding": "gzip"})),
         "body not readable as its Content-Encoding says"),
    Case("retry-after-in-the-past", day(Reply(503, b"", {
        "Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}), GOOD), f"{H}: 5 papers (5 new)",
         code=0, stored=True),
    Case("retry-after-huge", day(Reply(429, b"", {"Retry-After": "9" * 30})),
         "the site asks to wait 1000000000000000019884624838656 s, more than is left"),
    Case("retry-after-garbage", day(Reply(503, b"", {"Retry-After": "soon"}), GOOD),
         f"{H}: 5 papers (5 new)", code=0, stored=True),
    Case("retry-after-negative", day(Reply(503, b"", {"Retry-After": "-5"}), GOOD),
         f"{H}: 5 papers (5 new)", code=0, stored=True),
    Case("redirect-loop", day(Reply(302, b"", {"Location": LIST})), "more than 5 redirects"),
    Case("redirect-to-another-host", lambda s, o: s.day(H, Reply(302, b"", {
        "Location": o.url + "/x"})), "redirected to another site (127.0.0.1:"),
    Case("redirect-to-ftp", day(Reply(301, b"", {"Location": "ftp://127.0.0.1/x"})),
         "redirected to another site"),
    Case("301-here-to-another-day", both(day(Reply(301, b"", {"Location": "/mirror"})),
                                         route("/mirror", Reply(body=js(relisted_items(
                                             "2024-07-01"))))),
         "5 items of 5 listed outside 2024-07-10"),
    Case("301-here-to-the-right-day", both(day(Reply(301, b"", {"Location": "/m"})),
                                           route("/m", GOOD)),
         f"{H}: 5 papers (5 new)", code=0, stored=True),
    Case("redirect-to-a-broken-url", day(Reply(302, b"", {"Location": "http://[::1/x"})),
         "redirected to an invalid URL; not followed"),
    Case("redirect-to-a-bad-port", day(Reply(302, b"", {
        "Location": "http://127.0.0.1:99999/x"})), "redirected to an invalid URL; not followed"),
    Case("redirect-without-location", day(Reply(302, b"")), "HTTP 302 without a Location"),
    Case("one-byte-a-second", day(Reply(body=js(items(2)), drip=1.0)),
         "timed out: no complete answer within 1 s", opts=SLOW),
    Case("slow-then-good", day(Reply(body=js(items(5)), drip=1.0), GOOD),
         f"{H}: 5 papers (5 new)", code=0, stored=True, opts=("--timeout", "1")),
    Case("headers-one-byte-at-a-time", day(Reply(body=b"[]", drip=0.3, drip_head=True)),
         "timed out: no complete answer within 1 s", opts=SLOW),
    Case("chunked-trickle", day(Reply(body=js(items(2)), trickle=0.2, chunked=True)),
         "timed out: no complete answer within 1 s", opts=SLOW),
    Case("never-answers", day(Reply(body=b"[]", hang=30)),
         "timed out: no complete answer within 1 s", opts=SLOW),
    Case("empty-body", day(Reply(body=b"")), f"{LIST}: empty response"),
    Case("nul-bytes", day(Reply(body=b"[\x00\x00]")), "invalid JSON"),
    Case("escaped-nul-in-a-title", day(Reply(body=with_item(
        1, lambda i: (i.update(title="A\u0000B"), i["paper"].update(title="A\u0000B"))))),
         "title: contains a NUL character"),
    Case("a-10-MB-title", day(Reply(body=with_item(
        1, lambda i: i["paper"].update(title="x" * (10 << 20))))),
         "title: longer than 4,000 characters"),
    Case("a-10-MB-string", day(Reply(body=b'"' + b"x" * (10 << 20) + b'"')),
         f"{LIST}: not JSON"),
    Case("deep-nesting", day(Reply(body=b"[" * 100_000 + b"]" * 100_000)),
         "JSON nested too deeply"),
    Case("latin-1", day(Reply(body=with_item(1, lambda i: i.update(
        title="caf\u00e9")).replace(b"caf\\u00e9", b"caf\xe9"))),
         "not UTF-8 (byte 0xe9 at offset"),
    Case("utf-16", day(Reply(body=js(items(1)).decode().encode("utf-16"))), "not JSON"),
    Case("a-list-of-numbers", day(Reply(body=b"[1, 2, 3]")),
         "item 1 is not a paper: a lone JSON int"),
    Case("papers-own-export", lambda s, o: s.day(H, Reply(body=_export())),
         "invalid JSON"),
    Case("json-lines", day(Reply(body=js(items(2)) + b"\n" + js(items(2, first=2)))),
         "invalid JSON"),
    Case("status-206", day(Reply(206, js(items(2)))), "HTTP 206"),
    Case("status-401", day(Reply(401, b"")), "HTTP 401 (check HF_TOKEN)"),
    Case("garbage-status-line", day(Reply(raw=b"HTTP/1.1 abc\r\n\r\n")),
         "response cut short or malformed"),
    Case("week-with-another-month", route("/api/daily_papers?week=2024-W28&limit=100",
                                          Reply(body=js(items(3) + items(1, "2024-08-20",
                                                                         3)))),
         "listed outside the week 2024-W28 (first: item 4", args=("--week", "2024-W28")),
    Case("month-within", route("/api/daily_papers?month=2024-07&limit=100", GOOD),
         "2024-07: 5 papers (5 new)", args=("--month", "2024-07"), code=0, stored=True),
    Case("search-of-any-day", route("/api/papers/search?q=x", Reply(body=js(
        relisted_items("2020-01-01")))), "'x': 5 papers (5 new)", args=("--search", "x"),
         code=0, stored=True),
    Case("search-answered-with-html", route("/api/papers/search?q=x", Reply(body=HTML)),
         "not JSON", args=("--search", "x")),
    Case("second-page-of-another-day", both(
        route(f"/api/daily_papers?date={H}&limit=5", Reply(body=js(items(5)))),
        route(f"/api/daily_papers?date={H}&limit=5&p=1", Reply(body=js(relisted_items(
            "2023-01-01", 2))))),
         "&p=1: the site answered with 2 items of 2 listed outside",
         args=("--date", H, "--limit", "5")),
]


def _export() -> bytes:
    """papers' own JSONL export (it restores tags too), as a hostile answer."""
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        db = str(Path(d) / "e.db")
        conn = connect(Path(db))
        ingest_bytes(conn, js(items(2)), "x")
        conn.close()
        runner = CliRunner()
        assert runner.invoke(app, ["--db", db, "tag", "1", "+planted"]).exit_code == 0
        out = runner.invoke(app, ["--db", db, "export", "--format", "jsonl"])
        return out.stdout.encode()


@pytest.mark.parametrize("case", HOSTILE, ids=[c.name for c in HOSTILE])
def test_a_hostile_server(case: Case, corpus: Path, server: HFServer, other: HFServer,
                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERS_HF_URL", server.url)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    case.setup(server, other)
    before = rows(corpus)
    started = time.monotonic()
    result = CliRunner().invoke(app, ["--db", str(corpus), "fetch", "--rate", "50",
                                      "--backoff", "0", "--retries", "1", "--timeout", "2",
                                      *case.opts, *case.args], catch_exceptions=False)
    assert time.monotonic() - started < 10
    assert result.exit_code == case.code, result.stderr
    assert case.says in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert all(len(line) < 400 for line in result.stderr.splitlines())
    assert other.requests == []
    if case.stored:
        assert rows(corpus) != before
    else:
        assert rows(corpus) == before
        if case.code == 1:
            assert "rejected" in result.stderr.splitlines()[-1]
