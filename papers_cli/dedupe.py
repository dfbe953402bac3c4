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
from array import array
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


class Corpus:
    """What dedupe keeps per paper, as compact columns (1M papers: about 200 MB):
    id, folded title, a hash of its numbers, arXiv id, printed date (ordinal, 0 if
    none or inferred) and a hash of the folded abstract (0 if too short)."""

    def __init__(self) -> None:
        self.ids = array("q")
        self.keys: list[str] = []
        self.numbers = array("q")
        self.arxiv: dict[int, str] = {}
        self.dates = array("l")
        self.ahash = array("q")

    def __len__(self) -> int:
        return len(self.ids)

    def add(self, pid: int, title: str, abstract: str | None, arxiv: str | None,
            published: str | None, inferred: bool) -> None:
        key = dedupe_key(title)
        h = 0
        if abstract and len(abstract) >= MIN_ABSTRACT:
            digest = hashlib.blake2b(" ".join(abstract.casefold().split()).encode(),
                                     digest_size=8).digest()
            h = int.from_bytes(digest, "little", signed=True) or 1
        if arxiv:
            self.arxiv[len(self.ids)] = arxiv
        self.ids.append(pid)
        self.keys.append(key)
        self.numbers.append(hash(numbers_of(key)))
        self.dates.append(dt.date.fromisoformat(published).toordinal()
                          if published and not inferred else 0)
        self.ahash.append(h)


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


def _load(conn: sqlite3.Connection) -> Corpus:
    corpus = Corpus()
    for pid, title, abstract, arxiv, published, inferred in storage.iter_dedupe_rows(conn):
        corpus.add(pid, title, abstract, arxiv, published, bool(inferred))
    return corpus


PASSES = 4  # token-pair blocks are found in this many passes, to bound memory


def _groups(c: Corpus) -> Iterator[tuple[list[int], bool]]:
    """Blocks of paper indices worth comparing; never all pairs, never a big dict.

    Each block is yielded with whether it is a block of identical abstracts.
    Blocks: the same abstract; the same key; each pair of a title's three rarest
    tokens (a typo in one token leaves another pair intact); and neighbours in
    sorted order of the key and of the reversed key (typos near either end).
    Blocks are found by sorting compact integers.
    """
    n = len(c)
    by_hash = sorted((i for i in range(n) if c.ahash[i]), key=c.ahash.__getitem__)
    for _, run in itertools.groupby(by_hash, key=c.ahash.__getitem__):
        group = list(run)
        if len(group) > 1:
            yield group[:MAX_BLOCK], True
    del by_hash
    by_key = sorted(range(n), key=c.keys.__getitem__)
    for _, run in itertools.groupby(by_key, key=c.keys.__getitem__):
        group = list(run)
        if len(group) > 1:
            yield group[:MAX_BLOCK], False
    for pos in range(n):
        yield by_key[pos: pos + 1 + WINDOW], False
    del by_key
    by_rev = sorted(range(n), key=lambda i: c.keys[i][::-1])
    for pos in range(n):
        yield by_rev[pos: pos + 1 + WINDOW], False
    del by_rev
    df: Counter[str] = Counter()
    for key in c.keys:
        df.update({t for t in key.split() if t not in _STOP})
    shift = 24 if n < (1 << 24) else 32
    mask = (1 << shift) - 1
    for part in range(PASSES):
        codes: list[int] = []
        for i, key in enumerate(c.keys):
            rare = sorted({t for t in key.split() if t not in _STOP},
                          key=lambda t: (df[t], t))[:3]
            for a in range(len(rare)):
                for b in range(a + 1, len(rare)):
                    h = hash((rare[a], rare[b]) if rare[a] < rare[b] else (rare[b], rare[a]))
                    if h % PASSES == part:
                        codes.append(((h & 0xFFFFFFFFFF) << shift) | i)
        codes.sort()
        for _, run in itertools.groupby(codes, key=lambda code: code >> shift):
            group = [code & mask for code in run]
            if len(group) > 1:
                yield group[:MAX_BLOCK], False


def _veto(c: Corpus, i: int, j: int) -> str | None:
    ai, aj = c.arxiv.get(i), c.arxiv.get(j)
    if ai and aj and ai != aj:
        return "different arXiv ids"
    if c.dates[i] and c.dates[j] and abs(c.dates[i] - c.dates[j]) > 365:
        return "dates more than a year apart"
    if c.numbers[i] != c.numbers[j]:
        return "different numbers in the titles"
    return None


def find_clusters(conn: sqlite3.Connection,
                  threshold: float = DEFAULT_THRESHOLD) -> list[Cluster]:
    """Clusters of papers that are one paper; nothing is changed."""
    from rapidfuzz import process

    c = _load(conn)
    distinct = storage.distinct_pairs(conn)
    matches: list[tuple[int, int, float, str]] = []
    need_abstracts: list[tuple[int, int, float]] = []
    done: set[tuple[int, int]] = set()  # only pairs that matched: small

    def consider(i: int, j: int, score: float, same_abstract: bool) -> None:
        pair = (i, j) if i < j else (j, i)
        if pair in done:
            return
        done.add(pair)
        a, b = c.ids[i], c.ids[j]
        if (min(a, b), max(a, b)) in distinct or _veto(c, i, j):
            return
        if same_abstract:
            matches.append((i, j, score, f"same abstract (title {score:.0f})"))
        else:
            need_abstracts.append((i, j, score))

    for group, same_abstract in _groups(c):
        keys = [c.keys[k] for k in group]
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
        abstracts = storage.abstracts_of(conn, {c.ids[k] for i, j, _ in need_abstracts
                                                for k in (i, j)})
        for i, j, score in need_abstracts:
            # The same title over clearly different abstracts is a different paper.
            if abstracts_agree(abstracts[c.ids[i]], abstracts[c.ids[j]]):
                matches.append((i, j, score, f"title {score:.0f}"))
    return _describe(conn, _clusters(c, matches))


def _clusters(c: Corpus, matches: list[tuple[int, int, float, str]]) -> list[Cluster]:
    """Union-find over the matched papers only (not the whole corpus)."""
    parent: dict[int, int] = {}
    arxiv: dict[int, set[str]] = {}
    dates: dict[int, list[int]] = {}

    def find(x: int) -> int:
        parent.setdefault(x, x)
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
        ai = arxiv.get(ri, {c.arxiv[ri]} if ri in c.arxiv else set())
        aj = arxiv.get(rj, {c.arxiv[rj]} if rj in c.arxiv else set())
        if ai and aj and ai != aj:
            continue
        di = dates.get(ri, [c.dates[ri]] if c.dates[ri] else [])
        dj = dates.get(rj, [c.dates[rj]] if c.dates[rj] else [])
        if di and dj and max(di + dj) - min(di + dj) > 365:
            continue
        parent[rj] = ri
        arxiv[ri] = ai | aj
        dates[ri] = di + dj
        why.setdefault(j, (score, reason))
        why.setdefault(i, (score, reason))
    groups: dict[int, list[int]] = defaultdict(list)
    for i in list(parent):
        groups[find(i)].append(i)
    out = []
    for members in groups.values():
        if len(members) < 2:
            continue
        members.sort(key=lambda k: c.ids[k])
        out.append(Cluster([Member(c.ids[k], "", None, *why.get(k, (100.0, "")))
                            for k in members]))
    out.sort(key=lambda cl: cl.ids[0])
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
