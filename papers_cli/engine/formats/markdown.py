"""Records as a Markdown reading list: a linked title, date, upvotes, authors, your
marks, tags and notes, optionally the abstract. Text is escaped by
core/sanitize.md_escape and only http(s) links are written (md_link)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import IO, Any
from urllib.parse import quote

from papers_cli.core.sanitize import md_escape, md_link


def write_markdown(recs: Iterable[dict[str, Any]], out: IO[str], abstracts: bool = False) -> int:
    n = 0
    for r in recs:
        out.write(markdown_item(r, abstracts) + "\n")
        n += 1
    return n


def markdown_item(r: dict[str, Any], abstracts: bool) -> str:
    """One reading-list item: linked title, date, upvotes, optional abstract.

    Only http(s) links are written; a title with another link is plain bold text.
    """
    link = md_link(f"https://arxiv.org/abs/{quote(r['arxiv_id'], safe='./')}"
                   if r.get("arxiv_id") else (r.get("code_links") or [None])[0])
    title = md_escape(r["title"])
    head = f"- [{title}]({link})" if link else f"- **{title}**"
    meta = [md_escape(r["published"] or "undated")]
    if r.get("upvotes") is not None:
        meta.append(f"▲ {int(r['upvotes'])}")
    if r.get("authors"):
        meta.append(", ".join(md_escape(a) for a in r["authors"][:3])
                    + (" et al." if len(r["authors"]) > 3 else ""))
    if r.get("starred"):
        meta.append("★")
    if r.get("read"):
        meta.append("read")
    if r.get("tags"):
        meta.append("tags: " + ", ".join(md_escape(t) for t in r["tags"]))
    line = f"{head} — {' · '.join(meta)}"
    for n in r.get("notes") or []:
        line += f"\n  - note ({md_escape(n['created_at'][:10])}): {md_escape(n['text'])}"
    if abstracts and r.get("abstract"):
        line += "\n\n  > " + md_escape(r["abstract"]) + "\n"
    return line

