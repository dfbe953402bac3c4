"""A digest as Markdown (to mail or paste), JSON, an Atom feed, or tables.

Titles and abstracts come from pages and are hostile: Markdown escapes them
(export's escaper), Atom drops characters XML cannot hold, tables go through
output.write_rows.
"""

from __future__ import annotations

import io
import re
from typing import IO, Any
from urllib.parse import quote

from papers_cli.engine.library import Digest, DigestItem

FORMATS = ("table", "md", "json", "atom")
SUMMARY_CHARS = 300
SITE = "https://huggingface.co/papers/"
# Characters XML 1.0 cannot carry at all, plus controls a feed reader would show raw.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def paper_url(p: dict[str, Any]) -> str | None:
    aid = p.get("arxiv_id")
    return SITE + quote(aid, safe="./") if aid else None


def _short(text: str | None, n: int = SUMMARY_CHARS) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


def _since_text(d: Digest) -> str:
    return f"since {d.since}" if d.since else "everything so far"


def write_markdown(d: Digest, out: IO[str]) -> None:
    from papers_cli.engine.export import _md_escape, md_link

    out.write(f"# Papers digest, {d.ran_at[:10]}\n\n")
    out.write(f"{d.total} paper(s) for {len(d.groups)} saved search(es), {_since_text(d)}.\n")
    for g in d.groups:
        out.write(f"\n## {_md_escape(g.watch)}\n\n")
        out.write(f"Query: `{g.query.replace('`', '')}`\n\n")
        if not g.items:
            out.write("Nothing new.\n")
            continue
        for item in g.items:
            p = item.paper
            title = _md_escape(p["title"])
            link = md_link(paper_url(p))
            head = f"- [{title}]({link})" if link else f"- **{title}**"
            meta = [item.describe(), f"▲ {p.get('upvotes') or 0}"]
            if p.get("first_seen"):
                meta.append(f"first seen {_md_escape(p['first_seen'])}")
            out.write(f"{head} — {' · '.join(meta)}\n")
            summary = p.get("ai_summary") or p.get("abstract")
            if summary:
                out.write(f"  > {_md_escape(_short(summary))}\n")
        if g.more:
            out.write(f"\n…and {g.more} more (papers search {_md_escape(repr(g.query))}).\n")


def _xml(text: Any) -> str:
    return _NOT_XML.sub("", str(text or ""))


def _atom_time(stamp: str) -> str:
    """An RFC 3339 time from a stored timestamp or date (dates at midnight UTC)."""
    if len(stamp) == 10:
        return stamp + "T00:00:00+00:00"
    return stamp if re.search(r"(Z|[+-]\d\d:\d\d)$", stamp) else stamp + "+00:00"


def entry_id(p: dict[str, Any]) -> str:
    """Stable across digests and databases where the paper has an arXiv id."""
    aid = p.get("arxiv_id")
    return f"urn:papers:arxiv:{quote(aid, safe='./')}" if aid else f"urn:papers:id:{int(p['id'])}"


def atom_bytes(d: Digest, feed_id: str = "urn:papers:digest") -> bytes:
    """One entry a paper (a paper in several searches gets one entry with a category
    for each), updated at the digest that showed it."""
    from feedgen.feed import FeedGenerator

    fg = FeedGenerator()
    fg.id(feed_id)
    fg.title("papers digest")
    fg.author({"name": "papers"})
    fg.link(href="https://huggingface.co/papers", rel="alternate")
    fg.updated(_atom_time(d.ran_at))
    fg.subtitle(_xml(f"{d.total} paper(s), {_since_text(d)}"))
    by_paper: dict[int, tuple[DigestItem, list[str]]] = {}
    for g in d.groups:
        for item in g.items:
            by_paper.setdefault(item.paper["id"], (item, []))[1].append(g.watch)
    for item, watches in by_paper.values():
        p = item.paper
        fe = fg.add_entry(order="append")
        fe.id(entry_id(p))
        fe.title(_xml(p["title"]))
        fe.updated(_atom_time(d.ran_at))
        if p.get("first_seen"):
            fe.published(_atom_time(p["first_seen"]))
        url = paper_url(p)
        if url:
            fe.link(href=url, rel="alternate")
        for w in watches:
            fe.category(term=_xml(w))
        summary = f"{item.describe()} · ▲ {p.get('upvotes') or 0}. " + _short(
            p.get("ai_summary") or p.get("abstract"), 1000)
        fe.summary(_xml(summary))
    return bytes(fg.atom_str(pretty=True))


def rows(d: Digest) -> list[dict[str, Any]]:
    """Flat rows (one a paper and search) for table/tsv/csv output."""
    return [{"watch": g.watch, "id": i.paper["id"], "change": i.describe(),
             "upvotes": i.paper.get("upvotes"), "first_seen": i.paper.get("first_seen"),
             "title": i.paper["title"]} for g in d.groups for i in g.items]


def render(result: Any, fmt: str) -> str:
    """The digest as text in `fmt` (md, json, atom); "" for table, which is written
    by write_tables."""
    buf = io.StringIO()
    if fmt == "md":
        write_markdown(result, buf)
    elif fmt == "json":
        from papers_cli.core.sanitize import dumps

        buf.write(dumps(result.as_json(), indent=2) + "\n")
    elif fmt == "atom":
        buf.write(atom_bytes(result).decode("utf-8"))
    return buf.getvalue()


def write_tables(result: Any, *, no_color: bool = False) -> None:
    """The digest for a terminal: one table per saved search."""
    from papers_cli.render.output import Column, message, write_rows

    cols = [Column("id", "id", style="dim", justify="right"),
            Column("change", "what", style="yellow"),
            Column("upvotes", "▲", justify="right", style="green"),
            Column("first_seen", "first seen", style="cyan", minor=1),
            Column("title", "title", style="bold", flex=True)]
    for g in result.groups:
        rows = [{**i.paper, "change": i.describe()} for i in g.items]
        if rows:
            write_rows(rows, cols, "table", title=f"{g.watch}: {g.query}",
                       no_color=no_color)
        else:
            message(f"{g.watch}: nothing new", no_color=no_color)
        if g.more:
            message(f"{g.watch}: {g.more} more", style="dim", no_color=no_color)
