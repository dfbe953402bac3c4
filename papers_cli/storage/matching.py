"""Which stored paper a record is: the stored papers a chunk of records may be, loaded
in one go by the title keys of their sightings (so a title dedupe merged away leads to
its survivor) and by arXiv id, then compared by normalize.same_paper.

What is read comes through `MatchReads`: the database (`DbReads`), or the database
plus batches a parse worker planned ahead and the writer has not committed yet
(storage/plan.py). Matching is the same code either way."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from papers_cli.core.normalize import same_paper
from papers_cli.storage.identity import merged_keys
from papers_cli.storage.sql import chunks


class MatchReads(Protocol):
    def key_pairs(self, keys: Sequence[str]) -> Iterable[tuple[str, int]]:
        """(title key, paper id) of the sightings with these keys, by paper id."""

    def arxiv_pairs(self, arxiv_ids: Sequence[str]) -> Iterable[tuple[str, int]]:
        """(arXiv id, paper id) of the papers with these arXiv ids."""

    def merged(self, keys: Sequence[str]) -> dict[str, list[int]]:
        """For title keys that merges in force know: the paper each leads to now."""

    def values(self, ids: Sequence[int]) -> Iterable[tuple[int, str | None, str | None]]:
        """(id, abstract, arxiv_id) of the papers that have a row."""


class DbReads:
    """MatchReads of the database as the connection sees it."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def key_pairs(self, keys: Sequence[str]) -> Iterable[tuple[str, int]]:
        for chunk in chunks(keys, 500):
            yield from self.conn.execute(
                f"SELECT DISTINCT title_key, paper_id FROM sightings WHERE title_key IN "
                f"({','.join('?' * len(chunk))}) ORDER BY paper_id", list(chunk))

    def arxiv_pairs(self, arxiv_ids: Sequence[str]) -> Iterable[tuple[str, int]]:
        for chunk in chunks(arxiv_ids, 500):
            yield from self.conn.execute(
                f"SELECT arxiv_id, id FROM papers WHERE arxiv_id IN "
                f"({','.join('?' * len(chunk))})", list(chunk))

    def merged(self, keys: Sequence[str]) -> dict[str, list[int]]:
        return merged_keys(self.conn, list(keys))

    def values(self, ids: Sequence[int]) -> Iterable[tuple[int, str | None, str | None]]:
        for chunk in chunks(ids, 500):
            yield from self.conn.execute(
                f"SELECT id, abstract, arxiv_id FROM papers WHERE id IN "
                f"({','.join('?' * len(chunk))})", list(chunk))


class Matcher:
    """The stored papers a chunk of records may be, loaded in one go."""

    def __init__(self, reads: MatchReads, keys: list[str], arxiv_ids: list[str]) -> None:
        self.by_id: dict[int, dict[str, Any]] = {}
        self.by_key: dict[str, list[int]] = {}
        self.by_arxiv: dict[str, int] = {}
        ids: dict[int, None] = {}
        keys = list(dict.fromkeys(keys))
        if keys:
            for key, pid in reads.key_pairs(keys):
                self.by_key.setdefault(key, []).append(pid)
                ids[pid] = None
        for aid, pid in reads.arxiv_pairs(list(dict.fromkeys(arxiv_ids))):
            self.by_arxiv[aid] = pid
            ids[pid] = None
        # A title a merge in force joined stays joined, even once no page shows it.
        self.revive: set[int] = set()
        for key, pids in reads.merged([k for k in keys if k not in self.by_key]).items():
            self.by_key[key] = pids
            ids.update(dict.fromkeys(pids))
        for pid, abstract, arxiv in reads.values(list(ids)):
            self.by_id[pid] = {"abstract": abstract, "arxiv_id": arxiv}
        for pid in ids:
            if pid not in self.by_id:  # merged, then all its pages removed: comes back as itself
                self.revive.add(pid)
                self.by_id[pid] = {"abstract": None, "arxiv_id": None}

    def add(self, pid: int, key: str, arxiv_id: str | None, abstract: str | None) -> None:
        """Know one more sighting of a paper (just stored)."""
        known = self.by_id.setdefault(pid, {"abstract": None, "arxiv_id": None})
        if abstract and len(abstract) > len(known["abstract"] or ""):
            known["abstract"] = abstract
        if arxiv_id and not known["arxiv_id"]:
            known["arxiv_id"] = arxiv_id
            self.by_arxiv.setdefault(arxiv_id, pid)
        listed = self.by_key.setdefault(key, [])
        if pid not in listed:
            listed.append(pid)

    def find(self, key: str, arxiv_id: str | None, abstract: str | None) -> int | None:
        """The stored paper this record is: same arXiv id, else the same title key
        and the same paper by normalize.same_paper."""
        if arxiv_id and arxiv_id in self.by_arxiv:
            return self.by_arxiv[arxiv_id]
        candidates = self.by_key.get(key)
        if candidates:
            values: dict[str, object] = {"arxiv_id": arxiv_id, "abstract": abstract}
            for pid in candidates:
                if same_paper(self.by_id[pid], values):
                    return pid
        return None
