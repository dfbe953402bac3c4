"""A digest as Markdown (to mail or paste), JSON, or an Atom feed.

Titles and abstracts come from pages and are hostile: Markdown escapes them
(core/sanitize.md_escape), Atom drops characters XML cannot hold.
"""

from __future__ import annotations

import io
import re
from typing import IO, Any
from urllib.parse import quote

from papers_cli.core.fields import SITE
from papers_cli.core.sanitize import dumps, md_escape, md_link
from papers_cli.engine.digest import Digest, DigestItem

FORMATS = ("table", "md", "json", "atom")
SUMMARY_CHARS = 300
# Characters XML 1.0 cannot carry at all, plus controls a feed reader would show raw.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def paper_url(p: dict[str, Any]) -> str | None:
    aid = p.get("arxiv_id")
    return f"{SITE}/papers/" + quote(aid, safe="./") if aid else None


def _short(text: str | None, n: int = SUMMARY_CHARS) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


def _since_text(d: Digest) -> str:
    return f"since {d.since}" if d.since else "everything so far"


def write_markdown(d: Digest, out: IO[str]) -> None:
    out.write(f"# Papers digest, {d.ran_at[:10]}\n\n")
    out.write(f"{d.total} paper(s) for {len(d.groups)} saved search(es), {_since_text(d)}.\n")
    for g in d.groups:
        out.write(f"\n## {md_escape(g.watch)}\n\n")
        out.write(f"Query: `{g.query.replace('`', '')}`\n\n")
        if not g.items:
            out.write("Nothing new.\n")
            continue
        for item in g.items:
            p = item.paper
            title = md_escape(p["title"])
            link = md_link(paper_url(p))
            head = f"- [{title}]({link})" if link else f"- **{title}**"
            meta = [item.describe(), f"▲ {p.get('upvotes') or 0}"]
            if p.get("first_seen"):
                meta.append(f"first seen {md_escape(p['first_seen'])}")
            out.write(f"{head} — {' · '.join(meta)}\n")
            summary = p.get("ai_summary") or p.get("abstract")
            if summary:
                out.write(f"  > {md_escape(_short(summary))}\n")
        if g.more:
            out.write(f"\n…and {g.more} more (papers search {md_escape(repr(g.query))}).\n")


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
    from feedgen.feed import FeedGenerator  # heavy (lxml): only for a feed

    fg = FeedGenerator()
    fg.id(feed_id)
    fg.title("papers digest")
    fg.author({"name": "papers"})
    fg.link(href=f"{SITE}/papers", rel="alternate")
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
        # Atom needs an alternate link or content: a paper without an arXiv id (every
        # paper from a text page) has no page to link, so the entry carries its text.
        fe.content(_xml(summary), type="text")
    return bytes(fg.atom_str(pretty=True))


def render(d: Digest, fmt: str) -> str:
    """The digest as text in `fmt`: md, json or atom."""
    buf = io.StringIO()
    if fmt == "md":
        write_markdown(d, buf)
    elif fmt == "json":
        buf.write(dumps(d.as_json(), indent=2) + "\n")
    elif fmt == "atom":
        buf.write(atom_bytes(d).decode("utf-8"))
    else:
        raise ValueError(f"unknown digest format {fmt!r}")
    return buf.getvalue()
