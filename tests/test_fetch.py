"""`papers fetch`: planning, resume, the HTTP client's faults, and the same corpus as ingest.

Every response comes from a local server on 127.0.0.1 (tests/hfserver.py) that
replays the recorded responses in tests/fixtures/hf-api/ or scripted faults.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers import ROOT, dump, interruptible, snapshot
from hfserver import FIXTURES, HFServer, Reply, day_reply, hf_server, json_reply
from papers_cli.cli.app import app
from papers_cli.engine.fetch.client import (
    Client,
    FetchError,
    HttpConfig,
    Unreachable,
    clean,
    retry_after,
)
from papers_cli.engine.fetch.plan import PlanError, Target, page_url, plan
from papers_cli.engine.fetch.run import FetchReport, run_fetch
from papers_cli.engine.ingest import expand_paths, ingest_sources
from papers_cli.storage.connection import connect

DAY = "2024-07-09"
DAY_FILE = FIXTURES / f"{DAY}.json"
OLD_TODAY = dt.date(2024, 12, 31)  # far from the fixtures' days: nothing counts as recent
FAST = {"rate": 0, "timeout": 2.0, "retries": 2, "backoff": 0.001, "max_backoff": 0.01}


@pytest.fixture
def server() -> Iterator[HFServer]:
    with hf_server() as s:
        yield s


def config(server: HFServer, **kw: object) -> HttpConfig:
    return HttpConfig(base_url=server.url, **{**FAST, **kw})  # type: ignore[arg-type]


def fetch(conn: sqlite3.Connection, server: HFServer, targets: list[Target],
          today: dt.date = OLD_TODAY, **kw: object) -> FetchReport:
    limit = kw.pop("limit", None)
    refresh = bool(kw.pop("refresh", False))
    return run_fetch(conn, targets, config(server, **kw), limit=limit,  # type: ignore[arg-type]
                     refresh=refresh, today=today)


def days(first: str, n: int) -> list[Target]:
    start = dt.date.fromisoformat(first)
    return [Target("day", (start + dt.timedelta(days=i)).isoformat()) for i in range(n)]


def page_rows(conn: sqlite3.Connection) -> list[tuple]:
    return [tuple(r) for r in conn.execute(
        "SELECT path, sha256, format, records FROM pages ORDER BY id")]


# --- planning ---


def test_plan_defaults_to_today_and_expands_ranges() -> None:
    today = dt.date(2026, 8, 19)
    assert plan(today=today) == [Target("day", "2026-08-19")]
    assert plan(date="2026-08-13", today=today) == [Target("day", "2026-08-13")]
    r = plan(since="2026-08-01", until="2026-08-03", today=today)
    assert [t.key for t in r] == ["2026-08-01", "2026-08-02", "2026-08-03"]
    # --until defaults to today and never passes it (the site has no future lists)
    assert plan(since="2026-08-17", today=today)[-1].key == "2026-08-19"
    assert len(plan(since="2026-08-17", until="2027-01-01", today=today)) == 3
    assert plan(week="2026-W33", today=today) == [Target("week", "2026-W33")]
    assert plan(month="2026-08", today=today) == [Target("month", "2026-08")]
    assert plan(ids=["arXiv:2407.21783v2", "2407.21783", "2604.01234"], today=today) == [
        Target("paper", "2407.21783"), Target("paper", "2604.01234")]


@pytest.mark.parametrize("kw, words", [
    ({"date": "2026-8-1"}, "YYYY-MM-DD"),
    ({"date": "2026-02-30"}, "YYYY-MM-DD"),
    ({"date": "2030-01-01"}, "in the future"),
    ({"since": "2026-08-05", "until": "2026-08-01"}, "after --until"),
    ({"until": "2026-08-01"}, "--until needs --since"),
    ({"week": "2026-W54"}, "ISO week"),
    ({"week": "2026-33"}, "ISO week"),
    ({"month": "2026-13"}, "YYYY-MM"),
    ({"date": "2026-08-01", "week": "2026-W33"}, "choose one of --date, --week"),
    ({"ids": ["../../etc/passwd"]}, "not an arXiv id"),
    ({"search": "  "}, "needs words"),
])
def test_plan_refuses_bad_options(kw: dict, words: str) -> None:
    with pytest.raises(PlanError, match=words):
        plan(today=dt.date(2026, 8, 19), **kw)


def test_urls_are_the_apis() -> None:
    base = "https://huggingface.co"
    assert page_url(base, Target("day", DAY)) == \
        f"{base}/api/daily_papers?date={DAY}&limit=100"
    assert page_url(base, Target("day", DAY), 2, 30) == \
        f"{base}/api/daily_papers?date={DAY}&limit=30&p=2"
    assert page_url(base, Target("week", "2026-W33")).endswith("?week=2026-W33&limit=100")
    assert page_url(base, Target("month", "2026-08")).endswith("?month=2026-08&limit=100")
    # hostile words stay inside the q parameter
    assert page_url(base, Target("search", "a&limit=1 #x")) == \
        f"{base}/api/papers/search?q=a%26limit%3D1+%23x"
    assert page_url(base, Target("paper", "2407.21783")) == f"{base}/api/papers/2407.21783"


def test_retry_after_seconds_and_date() -> None:
    assert retry_after("7") == 7.0
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert retry_after("soon") is None
    assert retry_after(None) is None


def test_text_from_the_site_is_made_safe_for_a_terminal() -> None:
    assert clean("evil\x1b[2J\nhost\x07") == "evil?[2J host?"
    assert len(clean("x" * 1000)) == 200


def test_base_url_trailing_slash(server: HFServer, conn: sqlite3.Connection) -> None:
    server.day(DAY, json_reply(DAY_FILE))
    cfg = HttpConfig(base_url=server.url + "/", **FAST)  # type: ignore[arg-type]
    run_fetch(conn, [Target("day", DAY)], cfg, today=OLD_TODAY)
    assert page_rows(conn)[0][0] == f"{server.url}/api/daily_papers?date={DAY}&limit=100"


# --- the same corpus as ingest ---


def test_fetching_a_day_gives_the_same_corpus_as_ingesting_its_file(
        server: HFServer, tmp_path: Path) -> None:
    server.day(DAY, json_reply(DAY_FILE))
    fetched_db, ingested_db = tmp_path / "fetched.db", tmp_path / "ingested.db"
    conn = connect(fetched_db)
    report = fetch(conn, server, [Target("day", DAY)])
    assert [o.status for o in report.outcomes] == ["ingested"]
    assert report.outcomes[0].new_papers == 14
    other = connect(ingested_db)
    assert not ingest_sources(other, expand_paths([str(DAY_FILE)])).failed
    assert snapshot(fetched_db) == snapshot(ingested_db)
    cols = ("title, abstract, authors, authors_count, published, upvotes, comments, arxiv_id, "
            "github_repo, organization, ai_summary, keywords, first_seen, last_seen")
    assert sorted(map(tuple, conn.execute(f"SELECT {cols} FROM papers"))) == \
        sorted(map(tuple, other.execute(f"SELECT {cols} FROM papers")))
    url = f"{server.url}/api/daily_papers?date={DAY}&limit=100"
    (path, sha, fmt, records), = page_rows(conn)
    assert (path, fmt, records) == (url, "json", 14)
    assert sha == other.execute("SELECT sha256 FROM pages").fetchone()[0]
    fetched_at = conn.execute("SELECT ingested_at FROM pages").fetchone()[0]
    assert fetched_at.startswith(str(dt.datetime.now(dt.UTC).year))


def test_identical_response_changes_nothing_and_a_changed_one_is_a_new_sighting(
        server: HFServer, conn: sqlite3.Connection) -> None:
    target = Target("day", DAY)
    server.day(DAY, json_reply(DAY_FILE))
    fetch(conn, server, [target])
    before = dump(conn)
    again = fetch(conn, server, [target], refresh=True)
    assert again.outcomes[0].status == "unchanged"
    assert dump(conn) == before
    items = json.loads(DAY_FILE.read_bytes())
    first_id = items[0]["paper"]["id"]
    items[0]["paper"]["upvotes"] += 50
    server.day(DAY, Reply(body=json.dumps(items).encode()))
    third = fetch(conn, server, [target], refresh=True)
    assert third.outcomes[0].status == "ingested"
    assert third.outcomes[0].new_papers == 0 and third.outcomes[0].known_papers == 14
    assert conn.execute("SELECT count(*) FROM pages").fetchone()[0] == 2
    ups = [r[0] for r in conn.execute(
        "SELECT s.upvotes FROM sightings s JOIN papers p ON p.id = s.paper_id "
        "WHERE p.arxiv_id = ? ORDER BY s.page_id", (first_id,))]
    assert ups[1] == ups[0] + 50  # both sightings kept: upvotes over time
    assert conn.execute("SELECT upvotes FROM papers WHERE arxiv_id = ?",
                        (first_id,)).fetchone()[0] == ups[1]


# --- resume ---


def serve_range(server: HFServer) -> None:
    """2024-07-08..12: real days on the 9th, 10th and 12th, an empty weekend-like 11th."""
    server.day("2024-07-08", Reply(body=b"[]"))
    server.day("2024-07-09", json_reply(DAY_FILE))
    server.day("2024-07-10", day_reply(FIXTURES / "2024-11-13.json", "2024-07-10"))
    server.day("2024-07-11", Reply(body=b"[ ]\n"))
    server.day("2024-07-12", day_reply(FIXTURES / "2025-03-19.json", "2024-07-12"))


def test_a_range_resumes_after_the_days_it_completed(server: HFServer,
                                                     conn: sqlite3.Connection) -> None:
    serve_range(server)

    class Interrupting(Client):
        def get(self, url: str):  # type: ignore[no-untyped-def]
            if "2024-07-11" in url:
                raise KeyboardInterrupt
            return super().get(url)

    report = FetchReport()
    with Interrupting(config(server)) as cl, pytest.raises(KeyboardInterrupt):
        run_fetch(conn, days("2024-07-08", 5), config(server), report=report,
                  today=OLD_TODAY, client=cl)
    assert [o.status for o in report.outcomes] == ["empty", "ingested", "ingested"]
    assert conn.execute("SELECT count(*) FROM pages").fetchone()[0] == 2
    assert not conn.in_transaction
    server.requests.clear()
    second = fetch(conn, server, days("2024-07-08", 5))
    assert [o.status for o in second.outcomes] == ["done", "done", "done", "empty", "ingested"]
    assert [p for p, _ in server.requests] == [
        "/api/daily_papers?date=2024-07-11&limit=100",
        "/api/daily_papers?date=2024-07-12&limit=100"]
    assert "3 already fetched, 1 empty" in second.summary()
    server.requests.clear()
    third = fetch(conn, server, days("2024-07-08", 5))
    assert {o.status for o in third.outcomes} == {"done"} and server.requests == []
    refreshed = fetch(conn, server, days("2024-07-08", 5), refresh=True)
    assert len(server.requests) == 5
    assert [o.status for o in refreshed.outcomes] == [
        "empty", "unchanged", "unchanged", "empty", "unchanged"]


def test_the_last_two_days_are_always_fetched_again(server: HFServer,
                                                    conn: sqlite3.Connection) -> None:
    serve_range(server)
    today = dt.date(2024, 7, 12)
    fetch(conn, server, days("2024-07-08", 5), today=today)
    server.requests.clear()
    again = fetch(conn, server, days("2024-07-08", 5), today=today)
    assert [o.status for o in again.outcomes] == ["done", "done", "unchanged", "empty",
                                                   "unchanged"]
    assert [p.split("date=")[1][:10] for p, _ in server.requests] == [
        "2024-07-10", "2024-07-11", "2024-07-12"]


def test_a_day_already_ingested_from_its_file_is_not_fetched_again(
        server: HFServer, conn: sqlite3.Connection) -> None:
    assert not ingest_sources(conn, expand_paths([str(DAY_FILE)])).failed
    server.day(DAY, json_reply(DAY_FILE))
    first = fetch(conn, server, [Target("day", DAY)])
    assert first.outcomes[0].status == "unchanged"
    assert conn.execute("SELECT count(*) FROM pages").fetchone()[0] == 1
    server.requests.clear()
    assert fetch(conn, server, [Target("day", DAY)]).outcomes[0].status == "done"
    assert server.requests == []


# --- paging ---


def test_lists_page_until_a_short_page(server: HFServer, conn: sqlite3.Connection) -> None:
    items = json.loads(DAY_FILE.read_bytes())
    base = "/api/daily_papers?week=2024-W28&limit=5"
    for p, chunk in enumerate((items[:5], items[5:10], items[10:])):
        server.route(base + (f"&p={p}" if p else ""), Reply(body=json.dumps(chunk).encode()))
    report = fetch(conn, server, [Target("week", "2024-W28")], limit=5)
    o = report.outcomes[0]
    assert (o.status, o.pages, o.records, o.new_papers) == ("ingested", 3, 14, 14)
    assert server.hits("/api/daily_papers?week=") == 3
    assert [r[0].split("?")[1] for r in page_rows(conn)] == [
        "week=2024-W28&limit=5", "week=2024-W28&limit=5&p=1", "week=2024-W28&limit=5&p=2"]


def test_a_server_ignoring_p_does_not_loop(server: HFServer, conn: sqlite3.Connection) -> None:
    items = json.loads(DAY_FILE.read_bytes())[:5]
    server.default = lambda path: Reply(body=json.dumps(items).encode())
    report = fetch(conn, server, [Target("month", "2024-07")], limit=5)
    assert report.outcomes[0].records == 5
    assert len(server.requests) == 2


def test_an_interrupted_multi_page_day_leaves_nothing(server: HFServer,
                                                       conn: sqlite3.Connection) -> None:
    items = json.loads(DAY_FILE.read_bytes())
    server.route(f"/api/daily_papers?date={DAY}&limit=5", Reply(body=json.dumps(
        items[:5]).encode()))
    server.route(f"/api/daily_papers?date={DAY}&limit=5&p=1", Reply(body=b"[1"))  # broken
    report = fetch(conn, server, [Target("day", DAY)], limit=5)
    assert report.outcomes[0].status == "rejected"
    assert "&p=1:1: invalid JSON" in report.outcomes[0].message
    assert conn.execute("SELECT count(*) FROM pages").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM papers").fetchone()[0] == 0


# --- faults ---


def test_429_with_retry_after_then_200(server: HFServer, conn: sqlite3.Connection) -> None:
    server.day(DAY, Reply(429, b"slow down", {"Retry-After": "3"}), json_reply(DAY_FILE))
    waits: list[float] = []
    with Client(config(server), sleep=waits.append) as cl:
        report = run_fetch(conn, [Target("day", DAY)], config(server), today=OLD_TODAY,
                           client=cl)
    assert report.outcomes[0].status == "ingested"
    assert waits and waits[0] >= 3.0  # the site's wish beats our tiny backoff
    assert server.hits("/api/daily_papers") == 2


def test_a_retry_after_too_long_is_an_error(server: HFServer, conn: sqlite3.Connection) -> None:
    server.day(DAY, Reply(429, b"", {"Retry-After": "86400"}))
    report = fetch(conn, server, [Target("day", DAY)])
    assert report.outcomes[0].status == "rejected"
    assert "HTTP 429; the site asks to wait 86400 s" in report.outcomes[0].message
    assert server.hits("/api") == 1


def test_500_then_200(server: HFServer, conn: sqlite3.Connection) -> None:
    server.day(DAY, Reply(500, b"oops", content_type="text/plain"), json_reply(DAY_FILE))
    report = fetch(conn, server, [Target("day", DAY)])
    assert report.outcomes[0].status == "ingested"
    assert server.hits("/api") == 2


def test_backoff_grows_with_jitter(server: HFServer) -> None:
    server.day(DAY, Reply(503, b""))
    waits: list[float] = []
    cfg = config(server, retries=3, backoff=1.0, max_backoff=100)
    with Client(cfg, sleep=waits.append, jitter=lambda: 1.0) as cl, \
            pytest.raises(FetchError, match=r"HTTP 503 \(after 4 attempts\)"):
        cl.get(f"{server.url}/api/daily_papers?date={DAY}&limit=100")
    assert waits == [1.0, 2.0, 4.0]
    with Client(cfg, sleep=(low := []).append, jitter=lambda: 0.0) as cl, \
            pytest.raises(FetchError):
        cl.get(f"{server.url}/api/daily_papers?date={DAY}&limit=100")
    assert low == [0.5, 1.0, 2.0]


def test_5xx_for_good_rejects_that_day_and_the_others_go_on(
        server: HFServer, conn: sqlite3.Connection) -> None:
    server.day("2024-07-08", Reply(502, b"bad gateway", content_type="text/html"))
    server.day("2024-07-09", json_reply(DAY_FILE))
    report = fetch(conn, server, days("2024-07-08", 2))
    assert [o.status for o in report.outcomes] == ["rejected", "ingested"]
    assert report.outcomes[0].message == (f"{server.url}/api/daily_papers?date=2024-07-08"
                                          "&limit=100: HTTP 502 (after 3 attempts)")
    assert server.hits("/api/daily_papers?date=2024-07-08") == 3
    assert report.failed


def test_a_truncated_body_is_rejected_with_its_url(server: HFServer,
                                                   conn: sqlite3.Connection) -> None:
    server.day(DAY, Reply(body=DAY_FILE.read_bytes(), truncate=True))
    report = fetch(conn, server, [Target("day", DAY)])
    o = report.outcomes[0]
    assert o.status == "rejected"
    assert o.message.startswith(f"{server.url}/api/daily_papers?date={DAY}&limit=100: ")
    assert "cut short" in o.message
    assert conn.execute("SELECT count(*) FROM pages").fetchone()[0] == 0


def test_truncated_once_then_whole_is_fetched(server: HFServer,
                                              conn: sqlite3.Connection) -> None:
    server.day(DAY, Reply(body=DAY_FILE.read_bytes(), truncate=True), json_reply(DAY_FILE))
    assert fetch(conn, server, [Target("day", DAY)]).outcomes[0].status == "ingested"


def test_malformed_json_is_rejected_like_a_bad_page(server: HFServer,
                                                    conn: sqlite3.Connection) -> None:
    server.day(DAY, Reply(body=b'[{"title": "x",\n "paper": '))
    o = fetch(conn, server, [Target("day", DAY)]).outcomes[0]
    assert o.status == "rejected"
    assert o.message.startswith(f"{server.url}/api/daily_papers?date={DAY}&limit=100:")
    assert "invalid JSON" in o.message


def test_a_body_slower_than_the_timeout(server: HFServer, conn: sqlite3.Connection) -> None:
    server.day(DAY, Reply(body=DAY_FILE.read_bytes(), delay_body=1.5))
    started = time.monotonic()
    o = fetch(conn, server, [Target("day", DAY)], timeout=0.2, retries=1).outcomes[0]
    assert time.monotonic() - started < 1.4
    assert o.status == "rejected" and "timed out" in o.message


def test_a_trickling_body_hits_the_timeout(server: HFServer,
                                           conn: sqlite3.Connection) -> None:
    # 1 KB every 0.05 s: every read comes well within the timeout, the whole never does
    server.day(DAY, Reply(body=DAY_FILE.read_bytes(), trickle=0.05))
    started = time.monotonic()
    o = fetch(conn, server, [Target("day", DAY)], timeout=0.3, retries=0).outcomes[0]
    assert time.monotonic() - started < 2
    assert o.status == "rejected"
    assert o.message.endswith("timed out: no complete answer within 0.3 s (after 1 attempt)")


def test_redirects_only_on_the_same_site(server: HFServer, conn: sqlite3.Connection) -> None:
    with hf_server() as elsewhere:
        elsewhere.default = lambda path: json_reply(DAY_FILE)
        server.day("2024-07-08", Reply(302, b"", {"Location": f"{elsewhere.url}/x"}))
        server.day("2024-07-09", Reply(301, b"", {"Location": "/mirror/2024-07-09.json"}))
        server.route("/mirror/2024-07-09.json", json_reply(DAY_FILE))
        report = fetch(conn, server, days("2024-07-08", 2))
        assert elsewhere.requests == []
    assert report.outcomes[0].status == "rejected"
    assert "redirected to another site (127.0.0.1:" in report.outcomes[0].message
    assert report.outcomes[1].status == "ingested"
    # the page is named by the URL asked for, so a resumed range finds it
    assert page_rows(conn)[0][0] == f"{server.url}/api/daily_papers?date=2024-07-09&limit=100"


def test_a_wrong_content_type_or_an_html_body_is_refused(server: HFServer,
                                                         conn: sqlite3.Connection) -> None:
    html = (ROOT / "tests" / "fixtures" / "daily.html").read_bytes()
    server.day("2024-07-08", Reply(body=html, content_type="text/html; charset=utf-8"))
    server.day("2024-07-09", Reply(body=html))  # claims JSON, is a listing page in HTML
    report = fetch(conn, server, days("2024-07-08", 2))
    assert [o.message.split(": ", 1)[1] for o in report.outcomes] == [
        "not JSON (content type 'text/html')", "not JSON"]
    assert conn.execute("SELECT count(*) FROM papers").fetchone()[0] == 0


def test_a_huge_body_is_refused_without_reading_it_all(server: HFServer,
                                                       conn: sqlite3.Connection) -> None:
    server.day("2024-07-08", Reply(stream_bytes=8 << 20))  # chunked, no length
    server.day("2024-07-09", Reply(body=b"[" + b" " * (2 << 20) + b"]"))  # length declared
    report = fetch(conn, server, days("2024-07-08", 2), max_bytes=1 << 20)
    assert [o.status for o in report.outcomes] == ["rejected", "rejected"]
    assert all(o.message.endswith("response larger than 1 MB; refused")
               for o in report.outcomes)


def test_unreachable_site_raises_and_writes_nothing(conn: sqlite3.Connection) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: connections are refused
    cfg = HttpConfig(base_url=f"http://127.0.0.1:{port}", **FAST)  # type: ignore[arg-type]
    with pytest.raises(Unreachable):
        run_fetch(conn, days("2024-07-08", 3), cfg, today=OLD_TODAY)
    assert conn.execute("SELECT count(*) FROM pages").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM papers").fetchone()[0] == 0
    assert not conn.in_transaction


def test_rate_limit_spaces_requests(server: HFServer, conn: sqlite3.Connection) -> None:
    serve_range(server)
    waits: list[float] = []
    cfg = config(server, rate=2.0)
    with Client(cfg, sleep=waits.append) as cl:
        run_fetch(conn, days("2024-07-08", 4), cfg, today=OLD_TODAY, client=cl)
    assert len(waits) == 3  # before each request but the first
    assert all(0.3 < w <= 0.5 for w in waits)


def test_connections_are_reused(server: HFServer, conn: sqlite3.Connection) -> None:
    serve_range(server)
    ports: set[int] = set()
    orig = server.httpd.RequestHandlerClass.do_GET  # type: ignore[attr-defined]

    def spy(h):  # type: ignore[no-untyped-def]
        ports.add(h.client_address[1])
        orig(h)

    server.httpd.RequestHandlerClass.do_GET = spy  # type: ignore[attr-defined]
    fetch(conn, server, days("2024-07-08", 5))
    assert len(ports) == 1


# --- the command ---


@pytest.fixture
def run(db_path: Path, server: HFServer, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PAPERS_HF_URL", server.url)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, ["--db", str(db_path), "fetch", "--rate", "50",
                                   "--backoff", "0", "--retries", "1", *args],
                             catch_exceptions=False)

    return invoke


def test_cli_range_summary_and_rerun(run, server: HFServer) -> None:
    serve_range(server)
    first = run("--since", "2024-07-08", "--until", "2024-07-12")
    assert first.exit_code == 0, first.stderr
    assert first.stdout == ""
    assert "2024-07-09: 14 papers (14 new)" in first.stderr
    assert "5 days: 3 fetched (39 new papers, 0 known), 2 empty" in first.stderr
    again = run("--since", "2024-07-08", "--until", "2024-07-12", "-q")
    assert again.exit_code == 0 and again.stderr == ""


def test_cli_paper_ids_404_and_the_others_go_on(run, server: HFServer) -> None:
    server.route("/api/papers/2411.02335",
                 json_reply(ROOT / "tests" / "fixtures" / "api_paper.json"))
    result = run("2604.99999", "2411.02335")
    assert result.exit_code == 1
    assert "2604.99999: no such paper on the site" in result.stderr
    assert "2 paper ids: 1 fetched (1 new paper, 0 known), 1 not on the site" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_search_week_and_month(run, server: HFServer) -> None:
    server.route("/api/papers/search?q=activation+sparsity",
                 json_reply(ROOT / "tests" / "fixtures" / "api_search.json"))
    server.route("/api/daily_papers?week=2024-W28&limit=100", json_reply(DAY_FILE))
    server.route("/api/daily_papers?month=2024-11&limit=100",
                 json_reply(FIXTURES / "2024-11-13.json"))
    assert run("--search", "activation sparsity").exit_code == 0
    assert run("--week", "2024-W28").exit_code == 0
    assert run("--month", "2024-11").exit_code == 0
    nothing = run("--search", "zzzz")  # the server says 404 for it: an error
    assert nothing.exit_code == 1


def test_cli_search_with_no_result_exits_1(run, server: HFServer) -> None:
    server.route("/api/papers/search?q=qqq", Reply(body=b"[]"))
    result = run("--search", "qqq")
    assert result.exit_code == 1 and "'qqq': nothing found" in result.stderr


def test_cli_dry_run_prints_urls_and_touches_nothing(run, server: HFServer,
                                                     db_path: Path) -> None:
    result = run("--since", "2024-07-08", "--until", "2024-07-09", "--limit", "20",
                 "--dry-run")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        f"{server.url}/api/daily_papers?date=2024-07-08&limit=20",
        f"{server.url}/api/daily_papers?date=2024-07-09&limit=20"]
    assert server.requests == [] and not db_path.exists()


def test_cli_usage_errors_exit_2(run) -> None:
    for args in (["--date", "yesterday"], ["--week", "2026-W99"], ["nope"],
                 ["--date", "2024-07-08", "--month", "2024-07"],
                 ["--base-url", "ftp://x", "--date", "2024-07-08"]):
        result = run(*args)
        assert result.exit_code == 2, args
        assert result.stderr.startswith("papers: ") and result.stderr.count("\n") == 1


def test_cli_unreachable(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("PAPERS_HF_URL", f"http://127.0.0.1:{port}")
    result = CliRunner().invoke(app, ["--db", str(db_path), "fetch", "--date", "2024-07-08",
                                      "--backoff", "0", "--retries", "1"])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"papers: cannot reach 127.0.0.1:{port}: ")
    assert result.stderr.count("\n") == 1
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT count(*) FROM pages").fetchone()[0] == 0


def test_token_is_sent_never_shown_or_stored(run, server: HFServer, db_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    token = "hf_sEcReT0123456789"
    monkeypatch.setenv("HF_TOKEN", token)
    server.day(DAY, json_reply(DAY_FILE))
    server.day("2024-07-10", Reply(401, b'{"error":"bad token"}'))
    result = run("--since", DAY, "--until", "2024-07-10")
    assert result.exit_code == 1
    assert all(h.get("authorization") == f"Bearer {token}" for _, h in server.requests)
    assert all(h.get("user-agent", "").startswith("papers/") for _, h in server.requests)
    assert "HTTP 401 (check HF_TOKEN)" in result.stderr
    assert token not in result.stdout + result.stderr
    for f in db_path.parent.glob("papers.db*"):
        assert token.encode() not in f.read_bytes()


def test_ctrl_c_exits_130_and_a_rerun_resumes(server: HFServer, tmp_path: Path) -> None:
    serve_range(server)
    server.day("2024-07-10", Reply(body=day_reply(FIXTURES / "2024-11-13.json",
                                                  "2024-07-10").body, hang=30))
    env = {**os.environ, "PAPERS_HF_URL": server.url}
    env.pop("HF_TOKEN", None)
    for attempt in range(3):  # a Ctrl-C that lands after the run ended proves nothing
        db = tmp_path / f"p{attempt}.db"
        cmd = [sys.executable, "-m", "papers_cli", "--db", str(db), "fetch", "--since",
               "2024-07-08", "--until", "2024-07-12", "--rate", "50"]
        server.requests.clear()
        proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True,
                                preexec_fn=interruptible)
        deadline = time.monotonic() + 60
        while (not server.hits("/api/daily_papers?date=2024-07-10")
               and time.monotonic() < deadline):
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        if proc.returncode != 0:
            break
    assert proc.returncode == 130
    assert err.splitlines()[-1] == ("papers: interrupted after 2 of 5 days (1 fetched, 14 new "
                                    "papers, committed); run the same command again to resume")
    assert "Traceback" not in err
    server.day("2024-07-10", day_reply(FIXTURES / "2024-11-13.json", "2024-07-10"))
    server.requests.clear()
    done = subprocess.run([*cmd, "-q"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert [p.split("date=")[1][:10] for p, _ in server.requests] == [
        "2024-07-10", "2024-07-11", "2024-07-12"]


def test_httpx_is_not_imported_by_the_cli_at_start_up() -> None:
    for module in ("papers_cli.cli.app", "papers_cli.engine.fetch"):
        out = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"],
                             capture_output=True, text=True, check=True).stderr
        imported = {line.split("|")[-1].strip() for line in out.splitlines() if "|" in line}
        assert module in imported
        assert not any(m == "httpx" or m.startswith("httpx.") for m in imported), module
