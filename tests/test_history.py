"""Upvotes over time: show's history (json, plain, sparkline on a terminal only) and
`list --sort rising --days N`.

The corpus is one recorded API day (tests/fixtures/hf-api/2024-11-13.json, a copy of
/work/shared/hf-api/2024-11-13.json) "fetched" four times with changed upvote counts:
ingest_bytes under the API URL with ingested_at = the fetch time, as `papers fetch`
stores it. Times are relative to the real clock, since the window ends now.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from test_terminal import run_in_pty
from typer.testing import CliRunner

from hfserver import FIXTURES, HFServer, Reply, hf_server
from papers_cli.cli.app import app
from papers_cli.engine.ingest import expand_paths, ingest_bytes, ingest_sources
from papers_cli.render.paper import sparkline
from papers_cli.storage.connection import connect
from papers_cli.storage.read import rising_sql, upvote_history
from papers_cli.storage.records import Selection, records

DAY_FILE = FIXTURES / "2024-11-13.json"
URL = "https://huggingface.co/api/daily_papers?date=2024-11-13"
PAPERS = str(Path(sys.executable).parent / "papers")

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
YESTERDAY = (NOW - dt.timedelta(days=1)).date()
# The four fetches, in the order they are stored: the evening fetch of yesterday is
# stored before the morning one, so "latest of the day" is not "last stored".
A = NOW - dt.timedelta(days=10)  # before a 7-day window
B = NOW - dt.timedelta(days=3)
EVENING = dt.datetime.combine(YESTERDAY, dt.time(18), dt.UTC)
MORNING = dt.datetime.combine(YESTERDAY, dt.time(6), dt.UTC)
FETCHES = (A, B, EVENING, MORNING)
# Upvotes per fetch (A, B, evening, morning); None: not listed in that response.
# Published dates (from the fixture): 07184 and 07133 on 11-11, 07975, 08017 and
# 07461 on 11-12, 05197 on 11-07, 06307 on 11-09.
UPVOTES: dict[str, tuple[int | None, ...]] = {
    "2411.07184": (10, 20, 30, 25),      # +20 over 7 days, +10 over 2
    "2411.07975": (5, 5, 25, 20),        # +20 over 7 days (newer than 07184: first)
    "2411.07133": (40, 40, 40, 40),      # no change
    "2411.08017": (1, 50, 61, 60),       # +60 over 7 days, +11 over 2
    "2411.07461": (None, None, 100, None),  # seen once: gains 0
    "2411.05197": (9, 9, 3, 4),          # falls: -6
    "2411.06307": (0, 0, 0, 0),
}
RISING_7 = ["2411.08017", "2411.07975", "2411.07184",  # 60, then 20 and 20 newest first
            "2411.07461", "2411.07133", "2411.06307",  # 0: 11-12, 11-11, 11-09
            "2411.05197"]                                # -6


def fetched_day(n: int) -> bytes:
    items = json.loads(DAY_FILE.read_bytes())
    kept = []
    for item in items:
        ups = UPVOTES[item["paper"]["id"]][n]
        if ups is not None:
            item["paper"]["upvotes"] = ups
            kept.append(item)
    return json.dumps(kept).encode()


@pytest.fixture(scope="module")
def history_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("history") / "h.db"
    conn = connect(db)
    for n, when in enumerate(FETCHES):
        out = ingest_bytes(conn, fetched_day(n), URL, stored_path=URL,
                           ingested_at=when.isoformat())
        assert out.status == "ingested", out.message
    conn.close()
    return db


@pytest.fixture
def hconn(history_db: Path) -> Iterator[sqlite3.Connection]:
    c = connect(history_db)
    yield c
    c.close()


@pytest.fixture
def cli(history_db: Path) -> Callable[..., Any]:
    def run(*args: str) -> Any:
        return CliRunner().invoke(app, ["--db", str(history_db), *args],
                                  catch_exceptions=False)
    return run


def pid(conn: sqlite3.Connection, arxiv_id: str) -> int:
    return int(conn.execute("SELECT id FROM papers WHERE arxiv_id = ?",
                            (arxiv_id,)).fetchone()[0])


def page_at(conn: sqlite3.Connection, when: dt.datetime) -> int:
    return int(conn.execute("SELECT id FROM pages WHERE ingested_at = ?",
                            (when.isoformat(),)).fetchone()[0])


# --- the history ---


def test_history_keeps_the_latest_observation_of_each_day(hconn: sqlite3.Connection) -> None:
    hist = upvote_history(hconn, pid(hconn, "2411.07184"))
    assert hist == [
        {"date": A.date().isoformat(), "upvotes": 10, "page_id": page_at(hconn, A)},
        {"date": B.date().isoformat(), "upvotes": 20, "page_id": page_at(hconn, B)},
        # yesterday: the 18:00 fetch (30), stored before the 06:00 one (25)
        {"date": YESTERDAY.isoformat(), "upvotes": 30, "page_id": page_at(hconn, EVENING)},
    ]
    assert upvote_history(hconn, pid(hconn, "2411.07461")) == [
        {"date": YESTERDAY.isoformat(), "upvotes": 100, "page_id": page_at(hconn, EVENING)}]


def test_a_saved_page_is_dated_by_its_listing_day(tmp_path: Path) -> None:
    conn = connect(tmp_path / "s.db")
    saved = tmp_path / "2024-11-13.json"
    saved.write_bytes(DAY_FILE.read_bytes())  # the recorded response, saved on disk
    assert not ingest_sources(conn, expand_paths([str(saved)])).failed
    ingest_bytes(conn, fetched_day(0), URL, stored_path=URL, ingested_at=A.isoformat())
    hist = upvote_history(conn, pid(conn, "2411.07184"))
    # saved: the day it lists (its upvotes 15, as recorded); fetched: the fetch day
    assert [(h["date"], h["upvotes"]) for h in hist] == [("2024-11-13", 15),
                                                         (A.date().isoformat(), 10)]


def test_fetching_a_changed_day_twice_is_one_point_for_that_day(tmp_path: Path) -> None:
    from papers_cli.engine.fetch.client import HttpConfig
    from papers_cli.engine.fetch.plan import Target
    from papers_cli.engine.fetch.run import run_fetch

    conn = connect(tmp_path / "f.db")
    server: HFServer
    with hf_server() as server:
        cfg = HttpConfig(base_url=server.url, rate=0, timeout=2.0, retries=0)
        target = Target("day", "2024-11-13")
        for n in (0, 1):
            server.day("2024-11-13", Reply(body=fetched_day(n)))
            run_fetch(conn, [target], cfg, limit=None, refresh=True,
                      today=dt.date(2024, 12, 31))
    assert conn.execute("SELECT count(*) FROM pages").fetchone()[0] == 2
    hist = upvote_history(conn, pid(conn, "2411.08017"))
    assert len(hist) == 1 and hist[0]["upvotes"] == 50  # the second fetch of today


# --- show ---


def test_show_json_has_the_history(cli: Callable[..., Any], hconn: sqlite3.Connection) -> None:
    out = cli("show", "2411.07184", "--json")
    assert out.exit_code == 0, out.stderr
    rec = json.loads(out.stdout)
    assert [(h["date"], h["upvotes"]) for h in rec["upvote_history"]] == [
        (A.date().isoformat(), 10), (B.date().isoformat(), 20), (YESTERDAY.isoformat(), 30)]
    picked = json.loads(cli("show", "2411.07184", "--json", "--fields",
                            "id,upvote_history").stdout)
    assert list(picked) == ["id", "upvote_history"]
    assert picked["upvote_history"] == rec["upvote_history"]


def test_show_plain_prints_dates_and_counts_without_a_sparkline(
        cli: Callable[..., Any]) -> None:
    out = cli("show", "2411.07184", "--format", "tsv")
    assert out.exit_code == 0, out.stderr
    block = out.stdout.split("upvotes over time (3 days):\n")[1].split("\n\n")[0]
    assert block.splitlines() == [f"{A.date()}\t10", f"{B.date()}\t20", f"{YESTERDAY}\t30"]
    table = cli("show", "2411.07184", "--format", "table")  # a table, but into a pipe
    assert "Upvotes over time" in table.stdout
    for text in (out.stdout, table.stdout):
        assert not set("▁▂▃▄▅▆▇█") & set(text)
    once = cli("show", "2411.07461", "--format", "tsv").stdout
    assert "upvotes over time" not in once  # one point is not a history


def test_sparkline_only_on_a_terminal(history_db: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "PAGER")}
    env.update(TERM="xterm-256color", COLUMNS="200", LINES="50", PAGER="cat",
               PAPERS_DB=str(history_db))
    text = run_in_pty([PAPERS, "show", "2411.08017"], env).decode()
    # 1, 50, 61: (v - 1) * 7 // 60 -> 0, 5, 7
    assert "▁▆█" in text and "1 → 61" in text


def test_sparkline() -> None:
    assert sparkline([]) == ""
    assert sparkline([5, 5, 5]) == "▁▁▁"
    assert sparkline([0, 7, 3]) == "▁█▄"
    assert sparkline([-2, 2]) == "▁█"
    long = sparkline(list(range(100)), width=10)
    assert len(long) == 10 and long[0] == "▁" and long[-1] == "█"
    assert list(long) == sorted(long)


# --- list --sort rising ---


def arxiv_ids(out: Any) -> list[str]:
    assert out.exit_code == 0, out.stderr
    return [r["url"].rsplit("/", 1)[1] for r in json.loads(out.stdout)]


def test_rising_order_gains_and_ties(cli: Callable[..., Any]) -> None:
    out = cli("list", "--sort", "rising", "--json")
    assert arxiv_ids(out) == RISING_7
    gained = {r["url"].rsplit("/", 1)[1]: r["gained"] for r in json.loads(out.stdout)}
    assert gained == {"2411.08017": 60, "2411.07975": 20, "2411.07184": 20, "2411.07461": 0,
                      "2411.07133": 0, "2411.06307": 0, "2411.05197": -6}
    keys = list(json.loads(out.stdout)[0])
    assert keys[keys.index("upvotes") + 1] == "gained"  # the whole record, gained beside
    assert arxiv_ids(cli("list", "--sort", "rising", "--json", "--reverse")) == RISING_7[::-1]
    assert arxiv_ids(cli("list", "--sort", "rising", "--json", "-n", "2")) == RISING_7[:2]


def test_rising_window(cli: Callable[..., Any]) -> None:
    two = json.loads(cli("list", "--sort", "rising", "--days", "2", "--json").stdout)
    assert [(r["url"][-10:], r["gained"]) for r in two[:3]] == [
        ("2411.07975", 20), ("2411.08017", 11), ("2411.07184", 10)]
    # 30 days: nothing before the window, so the first observation inside it counts
    thirty = json.loads(cli("list", "--sort", "rising", "--days", "30", "--json").stdout)
    seven = json.loads(cli("list", "--sort", "rising", "--json").stdout)
    assert thirty == seven


def test_rising_with_filters(cli: Callable[..., Any]) -> None:
    assert arxiv_ids(cli("list", "--sort", "rising", "--since", "2024-11-12", "--json")) == [
        "2411.08017", "2411.07975", "2411.07461"]
    # upvotes is a paper's highest count: 07184 30, 07133 40, 08017 61, 07461 100
    assert arxiv_ids(cli("list", "--sort", "rising", "--min-upvotes", "30", "--json")) == [
        "2411.08017", "2411.07184", "2411.07461", "2411.07133"]


def test_rising_tsv_and_fields(cli: Callable[..., Any]) -> None:
    out = cli("list", "--sort", "rising", "--format", "tsv")
    lines = out.stdout.splitlines()
    head = lines[0].split("\t")
    at = head.index("upvotes")
    assert head[at + 1] == "gained"
    assert lines[1].split("\t")[at:at + 2] == ["61", "60"]
    picked = cli("list", "--sort", "rising", "--fields", "gained,id", "--format", "tsv")
    assert picked.stdout.splitlines()[:2][0] == "gained\tid"
    wrong = cli("list", "--fields", "id,gained")
    assert wrong.exit_code == 2 and wrong.stderr.strip() == (
        "papers: --fields gained needs --sort rising")


@pytest.mark.parametrize("days", ["0", "3651", "-1", "week"])
def test_days_is_checked(cli: Callable[..., Any], days: str) -> None:
    out = cli("list", "--sort", "rising", "--days", days)
    assert out.exit_code == 2 and "--days" in out.stderr and out.stdout == ""


def test_storage_refuses_a_bad_window(hconn: sqlite3.Connection) -> None:
    with pytest.raises(ValueError, match=r"--days must be 1\.\.3650"):
        rising_sql(0)
    # `now` sets the window: (now - days, now]; a count observed exactly at its start
    # is the baseline (B, 20), so 07184 gained 30 - 20
    rows = list(records(hconn, Selection(sort="rising", days=1,
                                         now=NOW - dt.timedelta(days=2)), ["arxiv_id", "gained"]))
    by = {r["arxiv_id"]: r["gained"] for r in rows}
    assert by["2411.07184"] == 10 and by["2411.08017"] == 11 and len(rows) == 7


def test_mcp_list_rising_takes_days(hconn: sqlite3.Connection, history_db: Path) -> None:
    from papers_cli.mcp.tools import Context, ToolFailure, call

    ctx = Context(conn=hconn, path=history_db)
    two = call(ctx, "list", {"sort": "rising", "days": 2, "limit": 3})
    assert [(r["arxiv_id"], r["gained"]) for r in two["results"]] == [
        ("2411.07975", 20), ("2411.08017", 11), ("2411.07184", 10)]
    with pytest.raises(ToolFailure, match="days"):
        call(ctx, "list", {"sort": "rising", "days": 0})
