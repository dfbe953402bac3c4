"""Find and merge near-duplicate papers without comparing all pairs.

Candidates come from blocking: papers sharing one of the two rarest tokens of
their titles, neighbours in sorted title order, and papers with the same
abstract. Candidate pairs are scored with rapidfuzz; hard vetoes keep different
papers apart whatever the score: two different arXiv ids, printed dates more
than a year apart, different numbers in the titles (GPT-3 / GPT-4, Part I /
Part II), abstracts that clearly differ, and pairs a person marked distinct.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import re
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz

from papers_cli import storage
from papers_cli.normalize import abstracts_agree, title_key

DEFAULT_THRESHOLD = 90.0
MAX_BLOCK = 50  # a block this big is not a sign of duplication; only its first members pair
WINDOW = 4  # sorted-neighbourhood window
MIN_ABSTRACT = 200  # identical abstracts shorter than this prove nothing
_VERSION_RE = re.compile(r"(?:\s+v\d+)+$")
_ROMAN = {"i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x", "xi", "xii"}
_STOP = {"a", "an", "the", "of", "for", "and", "in", "on", "to", "with", "via", "by", "from",
         "towards", "toward", "is", "are", "at", "as", "into", "its", "do", "does", "we"}


def dedupe_key(title: str) -> str:
    """Title key without a trailing version suffix ("(v2)", "v3")."""
    return _VERSION_RE.sub("", title_key(title))


def numbers_of(key: str) -> tuple[str, ...]:
    """Digit runs and roman numerals: what tells GPT-3 from GPT-4, Part I from Part II."""
    digits = re.findall(r"\d+", key)
    romans = [t for t in key.split() if t in _ROMAN]
    return tuple(digits + romans)


@dataclass(slots=True)
class Paper:
    """What dedupe keeps in memory per paper (compact: 1M papers fit in well under 1 GB)."""

    id: int
    key: str
    numbers: tuple[str, ...]
    arxiv_id: str | None
    date: dt.date | None  # a printed (not inferred) date
    abstract_hash: bytes | None


@dataclass
class Member:
    """A paper in a cluster and why it matched (score and field)."""

    id: int
    title: str
    published: str | None
    score: float
    reason: str


@dataclass
class Cluster:
    """Papers that are one paper; the first member survives a merge."""

    members: list[Member] = field(default_factory=list)

    @property
    def ids(self) -> list[int]:
        return [m.id for m in self.members]


def _load(conn: sqlite3.Connection) -> list[Paper]:
    papers = []
    for pid, title, abstract, arxiv, published, inferred in storage.iter_dedupe_rows(conn):
        h = None
        if abstract and len(abstract) >= MIN_ABSTRACT:
            h = hashlib.blake2b(" ".join(abstract.casefold().split()).encode(),
                                digest_size=12).digest()
        d = dt.date.fromisoformat(published) if published and not inferred else None
        key = dedupe_key(title)
        papers.append(Paper(pid, key, numbers_of(key), arxiv, d, h))
    return papers


def _groups(papers: list[Paper]) -> Iterator[tuple[list[int], bool]]:
    """Blocks of paper indices worth comparing; never all pairs, never a big dict.

    Each block is yielded with whether it is a block of identical abstracts.
    Blocks: the same abstract; the same key; each pair of a title's three rarest
    tokens (a typo in one token leaves another pair intact); and neighbours in
    sorted order of the key and of the reversed key (typos near either end).
    Blocks are found by sorting compact integers, so 1M papers stay well under 1 GB.
    """
    n = len(papers)
    with_hash = sorted((p.abstract_hash, i) for i, p in enumerate(papers)
                       if p.abstract_hash is not None)
    for _, run in itertools.groupby(with_hash, key=lambda t: t[0]):
        group = [i for _, i in run]
        if len(group) > 1:
            yield group[:MAX_BLOCK], True
    by_key = sorted(range(n), key=lambda i: papers[i].key)
    for _, run in itertools.groupby(by_key, key=lambda i: papers[i].key):
        group = list(run)
        if len(group) > 1:
            yield group[:MAX_BLOCK], False
    for pos in range(len(by_key)):
        yield by_key[pos: pos + 1 + WINDOW], False
    del by_key
    by_rev = sorted(range(n), key=lambda i: papers[i].key[::-1])
    for pos in range(len(by_rev)):
        yield by_rev[pos: pos + 1 + WINDOW], False
    del by_rev
    df: Counter[str] = Counter()
    for p in papers:
        df.update({t for t in p.key.split() if t not in _STOP})
    shift = 24 if n < (1 << 24) else 32
    mask = (1 << shift) - 1
    codes: list[int] = []
    for i, p in enumerate(papers):
        rare = sorted({t for t in p.key.split() if t not in _STOP},
                      key=lambda t: (df[t], t))[:3]
        for a in range(len(rare)):
            for b in range(a + 1, len(rare)):
                pair = (rare[a], rare[b]) if rare[a] < rare[b] else (rare[b], rare[a])
                codes.append(((hash(pair) & 0xFFFFFFFFFF) << shift) | i)
    df.clear()
    codes.sort()
    for _, run in itertools.groupby(codes, key=lambda c: c >> shift):
        group = [c & mask for c in run]
        if len(group) > 1:
            yield group[:MAX_BLOCK], False


def _veto(a: Paper, b: Paper) -> str | None:
    if a.arxiv_id and b.arxiv_id and a.arxiv_id != b.arxiv_id:
        return "different arXiv ids"
    if a.date and b.date and abs((a.date - b.date).days) > 365:
        return "dates more than a year apart"
    if a.numbers != b.numbers:
        return "different numbers in the titles"
    return None


def find_clusters(conn: sqlite3.Connection,
                  threshold: float = DEFAULT_THRESHOLD) -> list[Cluster]:
    """Clusters of papers that are one paper; nothing is changed."""
    from rapidfuzz import process

    papers = _load(conn)
    distinct = storage.distinct_pairs(conn)
    matches: list[tuple[int, int, float, str]] = []
    need_abstracts: list[tuple[int, int, float]] = []
    done: set[tuple[int, int]] = set()  # only pairs that matched: small

    def consider(i: int, j: int, score: float, same_abstract: bool) -> None:
        pair = (i, j) if i < j else (j, i)
        if pair in done:
            return
        done.add(pair)
        a, b = papers[i], papers[j]
        if (min(a.id, b.id), max(a.id, b.id)) in distinct or _veto(a, b):
            return
        if same_abstract:
            matches.append((i, j, score, f"same abstract (title {score:.0f})"))
        else:
            need_abstracts.append((i, j, score))

    for group, same_abstract in _groups(papers):
        keys = [papers[k].key for k in group]
        if same_abstract:
            for a in range(1, len(group)):
                consider(group[0], group[a], fuzz.ratio(keys[0], keys[a]), True)
            continue
        for a in range(len(group) - 1):
            # rapidfuzz compares one title with the rest of the block in C.
            for _, score, b in process.extract(keys[a], keys[a + 1:], scorer=fuzz.ratio,
                                               score_cutoff=threshold, limit=None):
                consider(group[a], group[a + 1 + b], score, False)
    if need_abstracts:
        abstracts = storage.abstracts_of(conn, {papers[k].id for i, j, _ in need_abstracts
                                                for k in (i, j)})
        for i, j, score in need_abstracts:
            # The same title over clearly different abstracts is a different paper.
            if abstracts_agree(abstracts[papers[i].id], abstracts[papers[j].id]):
                matches.append((i, j, score, f"title {score:.0f}"))
    return _describe(conn, _clusters(papers, matches))


def _clusters(papers: list[Paper], matches: list[tuple[int, int, float, str]]) -> list[Cluster]:
    parent = list(range(len(papers)))
    arxiv: dict[int, set[str]] = {}
    dates: dict[int, list[dt.date]] = {}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    why: dict[int, tuple[float, str]] = {}
    for i, j, score, reason in sorted(matches, key=lambda m: -m[2]):
        ri, rj = find(i), find(j)
        if ri == rj:
            continue
        # No chain may join papers that a veto keeps apart (A~B, B~C, A!~C).
        ai = arxiv.get(ri, {papers[ri].arxiv_id} - {None})
        aj = arxiv.get(rj, {papers[rj].arxiv_id} - {None})
        if ai and aj and ai != aj:
            continue
        di = dates.get(ri, [papers[ri].date] if papers[ri].date else [])
        dj = dates.get(rj, [papers[rj].date] if papers[rj].date else [])
        if di and dj and (max(di + dj) - min(di + dj)).days > 365:
            continue
        parent[rj] = ri
        arxiv[ri] = ai | aj  # type: ignore[operator]
        dates[ri] = di + dj
        why.setdefault(j, (score, reason))
        why.setdefault(i, (score, reason))
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(len(papers)):
        groups[find(i)].append(i)
    out = []
    for members in groups.values():
        if len(members) < 2:
            continue
        members.sort(key=lambda k: papers[k].id)
        out.append(Cluster([Member(papers[k].id, "", None, *why.get(k, (100.0, "")))
                            for k in members]))
    out.sort(key=lambda c: c.ids[0])
    return out


def _describe(conn: sqlite3.Connection, clusters: list[Cluster]) -> list[Cluster]:
    """Fill in titles and dates of cluster members (kept out of memory until now)."""
    rows = storage.paper_rows(conn, [i for c in clusters for i in c.ids])
    for c in clusters:
        for m in c.members:
            m.title, m.published = rows[m.id]["title"], rows[m.id]["published"]
    return clusters


def _survivor(rows: dict[int, dict[str, Any]], ids: list[int]) -> int:
    """The paper that stays: one with an arXiv id, else the most sightings, else oldest."""
    return min(ids, key=lambda i: (rows[i]["arxiv_id"] is None, -rows[i]["_sightings"], i))


def merged_values(rows: list[dict[str, Any]], survivor: dict[str, Any]) -> tuple[dict[str, Any],
                                                                                  list[str]]:
    """The most complete fields of a cluster: longest abstract, highest counts, earliest
    printed date, any arXiv id and links, the longest author list."""
    vals: dict[str, Any] = {}
    longest = max((r["abstract"] or "" for r in rows), key=len)
    if longest and longest != (survivor["abstract"] or ""):
        vals["abstract"] = longest
    for col in ("upvotes", "comments", "github_stars", "authors_count"):
        best = max((r[col] for r in rows if r[col] is not None), default=None)
        if best != survivor[col]:
            vals[col] = best
    dated = [r for r in rows if r["published"]]
    if dated:
        best_r = min(dated, key=lambda r: (r["published_inferred"], r["published"]))
        if (best_r["published"], best_r["published_inferred"]) != (
                survivor["published"], survivor["published_inferred"]):
            vals["published"] = best_r["published"]
            vals["published_inferred"] = best_r["published_inferred"]
    for col in ("arxiv_id", "github_repo", "project_page", "ai_summary", "organization",
                "organization_handle", "thumbnail"):
        if not survivor[col]:
            other = next((r[col] for r in rows if r[col]), None)
            if other:
                vals[col] = other
    for col in ("code_links", "keywords"):
        merged: list[str] = []
        for r in rows:
            merged += [x for x in json.loads(r[col] or "[]") if x not in merged]
        if merged != json.loads(survivor[col] or "[]"):
            vals[col] = json.dumps(merged)
    firsts = [r["first_seen"] for r in rows if r["first_seen"]]
    lasts = [r["last_seen"] for r in rows if r["last_seen"]]
    if firsts and min(firsts) != survivor["first_seen"]:
        vals["first_seen"] = min(firsts)
    if lasts and max(lasts) != survivor["last_seen"]:
        vals["last_seen"] = max(lasts)
    authors = max((r["_authors"] for r in rows), key=len)
    if authors != survivor["_authors"]:
        vals["authors"] = ", ".join(authors) or None
    return vals, authors


def apply(conn: sqlite3.Connection, clusters: Iterable[Cluster],
          threshold: float = DEFAULT_THRESHOLD) -> tuple[int, int]:
    """Merge every cluster in one transaction; returns (run id, papers merged away)."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    merged = 0
    conn.execute("BEGIN IMMEDIATE")
    try:
        run_id = storage.begin_merge_run(conn, now, threshold)
        for cluster in clusters:
            rows = storage.paper_rows(conn, cluster.ids)
            sid = _survivor(rows, cluster.ids)
            survivor = rows[sid]
            vals, authors = merged_values(list(rows.values()), survivor)
            others = [(rows[m.id], m.score, m.reason) for m in cluster.members if m.id != sid]
            storage.merge_papers(conn, run_id, survivor, others, vals, authors)
            merged += len(others)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return run_id, merged


def undo(conn: sqlite3.Connection) -> tuple[int, int, int] | None:
    """Reverse the last merge run exactly: (run id, survivors, papers restored)."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    conn.execute("BEGIN IMMEDIATE")
    try:
        run = storage.last_merge_run(conn)
        if run is None:
            conn.execute("ROLLBACK")
            return None
        survivors, restored = storage.undo_merge_run(conn, run["id"], now)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return run["id"], survivors, restored


def mark_distinct(conn: sqlite3.Connection, ids: list[int]) -> int:
    """Remember that these papers are all different from each other."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    pairs = [(a, b) for k, a in enumerate(ids) for b in ids[k + 1:]]
    conn.execute("BEGIN IMMEDIATE")
    try:
        n = storage.add_distinct(conn, pairs, now)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return n
