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
import re
import sqlite3
from array import array
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz, process

from papers_cli.core.normalize import abstracts_agree, same_paper, title_key
from papers_cli.storage import merges, tx
from papers_cli.storage.read import abstracts_of, dedupe_rows, paper_rows
from papers_cli.storage.sql import chunks

DEFAULT_THRESHOLD = 90.0
MAX_BLOCK = 50  # a block this big is not a sign of duplication; only its first members pair
WINDOW = 4  # sorted-neighbourhood window
MIN_ABSTRACT = 200  # identical abstracts shorter than this prove nothing
ABSTRACT_PAIRS = 10_000  # candidate pairs whose abstracts are read at once
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
        self.dates.append(_ordinal(published) if not inferred else 0)
        self.ahash.append(h)


def _ordinal(published: str | None) -> int:
    try:
        return dt.date.fromisoformat(published).toordinal() if published else 0
    except ValueError:
        return 0


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
    for pid, title, abstract, arxiv, published, inferred in dedupe_rows(conn):
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
    """Clusters of papers that are one paper; nothing is changed. All of it is read
    from one snapshot: another dedupe merging meanwhile cannot take a paper away
    between the reads (applying checks again, under the write lock)."""
    with tx.snapshot(conn):
        return _find_clusters(conn, threshold)


def _find_clusters(conn: sqlite3.Connection, threshold: float) -> list[Cluster]:
    c = _load(conn)
    distinct = merges.distinct_pairs(conn)
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
    # The same title over clearly different abstracts is a different paper. Abstracts
    # are read a slice of pairs at a time, and kept for the matched papers only: at 1M
    # papers the pairs involve ~270k papers, whose rows read at once took ~750 MB.
    for part in chunks(need_abstracts, ABSTRACT_PAIRS):
        texts = abstracts_of(conn, {c.ids[k] for i, j, _ in part for k in (i, j)})
        for i, j, score in part:
            if abstracts_agree(texts[c.ids[i]], texts[c.ids[j]]):
                matches.append((i, j, score, f"title {score:.0f}"))
        del texts
    need_abstracts.clear()
    abstracts = abstracts_of(conn, {c.ids[k] for i, j, *_ in matches for k in (i, j)})
    return _describe(conn, _clusters(c, matches, abstracts))


def _clusters(c: Corpus, matches: list[tuple[int, int, float, str]],
              abstracts: dict[int, str | None]) -> list[Cluster]:
    """Union-find over the matched papers only (not the whole corpus). No chain may
    join papers that a veto keeps apart (A~B, B~C, A!~C): different arXiv ids, dates
    more than a year apart, or abstracts that clearly differ (B without an abstract
    must not bridge two different papers)."""
    parent: dict[int, int] = {}
    arxiv: dict[int, set[str]] = {}
    dates: dict[int, list[int]] = {}
    texts: dict[int, list[str]] = {}

    def find(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def own_texts(r: int) -> list[str]:
        a = abstracts.get(c.ids[r])
        return [a] if a else []

    why: dict[int, tuple[float, str]] = {}
    for i, j, score, reason in sorted(matches, key=lambda m: -m[2]):
        ri, rj = find(i), find(j)
        if ri == rj:
            continue
        ai = arxiv.get(ri, {c.arxiv[ri]} if ri in c.arxiv else set())
        aj = arxiv.get(rj, {c.arxiv[rj]} if rj in c.arxiv else set())
        if ai and aj and ai != aj:
            continue
        di = dates.get(ri, [c.dates[ri]] if c.dates[ri] else [])
        dj = dates.get(rj, [c.dates[rj]] if c.dates[rj] else [])
        if di and dj and max(di + dj) - min(di + dj) > 365:
            continue
        ti, tj = texts.get(ri, own_texts(ri)), texts.get(rj, own_texts(rj))
        if not all(abstracts_agree(x, y) for x in ti for y in tj):
            continue
        parent[rj] = ri
        arxiv[ri] = ai | aj
        dates[ri] = di + dj
        texts[ri] = ti + [y for y in tj if y not in ti]
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
    rows = paper_rows(conn, [i for c in clusters for i in c.ids])
    for c in clusters:
        for m in c.members:
            m.title, m.published = rows[m.id]["title"], rows[m.id]["published"]
    return clusters


def _survivor(rows: dict[int, dict[str, Any]], ids: list[int]) -> int:
    """The paper that stays: one with an arXiv id, else the most sightings, else oldest."""
    return min(ids, key=lambda i: (rows[i]["arxiv_id"] is None, -rows[i]["_sightings"], i))


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def apply(conn: sqlite3.Connection, clusters: Iterable[Cluster],
          threshold: float = DEFAULT_THRESHOLD) -> merges.RunResult:
    """Merge every cluster in one transaction.

    The plan was made without the write lock; under it each cluster is checked
    again (its papers still there and still one paper), and what changed is said
    in the result instead of failing."""
    with tx.write(conn):
        result = merges.RunResult(merges.begin_run(conn, _now(), threshold))
        for n, cluster in enumerate(clusters, 1):
            rows = paper_rows(conn, cluster.ids)
            gone = [i for i in cluster.ids if i not in rows]
            if gone:
                result.changes.append(f"cluster {n}: paper(s) {', '.join(map(str, gone))} no "
                                      "longer exist (merged or removed meanwhile)")
            ids = [i for i in cluster.ids if i in rows]
            if len(ids) < 2:
                continue
            if not all(same_paper(rows[a], rows[b]) for k, a in enumerate(ids)
                       for b in ids[k + 1:]):
                result.changes.append(f"cluster {n}: its papers changed meanwhile and no "
                                      "longer agree; not merged")
                continue
            sid = _survivor(rows, ids)
            by_id = {m.id: m for m in cluster.members}
            others = [(i, by_id[i].score, by_id[i].reason) for i in ids if i != sid]
            result.merged += merges.merge(conn, result.run_id,
                                          merges.Planned(sid, others))
        if not result.merged:  # nothing merged: no run to undo (cron would fill the log)
            merges.drop_run(conn, result.run_id)
            result.run_id = 0
    return result


def undo(conn: sqlite3.Connection) -> tuple[int, int, int] | None:
    """Reverse the last merge run exactly: (run id, survivors, papers restored)."""
    with tx.write(conn):
        run = merges.last_run(conn)
        if run is None:
            return None
        survivors, restored = merges.undo_run(conn, run, _now())
    return run["id"], survivors, restored


def mark_distinct(conn: sqlite3.Connection, ids: list[int]) -> int:
    """Remember that these papers are all different from each other."""
    pairs = [(a, b) for k, a in enumerate(ids) for b in ids[k + 1:]]
    with tx.write(conn):
        return merges.add_distinct(conn, pairs, _now())
