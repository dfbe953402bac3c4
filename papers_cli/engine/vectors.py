"""Paper vectors as numpy arrays: quantised, cached in a memory-mapped file, checked
for staleness, scored by brute force. The rows themselves are in storage/vectors.py.

Vectors are stored int8 with one float32 scale per paper (cosine within ~0.5% of
float32, a quarter of the bytes), in blocks of up to BLOCK papers per row: reading
1M vectors row by row takes 4.7 s, as ~250 blobs a fraction of that. A block row
holds its papers' ids, text hashes, scales and vectors: 276 bytes a paper at 256-d.

Staleness: each vector carries the hash of the text it was computed from
(embeddings.text_hash). A full check re-hashes every paper (seconds at 1M), so the
result is stamped with the search index's version (storage.search.index_version,
which changes whenever a title, abstract or author list is written, a paper added
or deleted): while the version is unchanged, nothing needs re-checking.

Imported only by the commands that search by meaning or embed (numpy: ~60 ms).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from papers_cli.engine import cache, embeddings
from papers_cli.engine.model import DIM, MODEL_ID, paper_text, text_hash
from papers_cli.storage import vectors as rows
from papers_cli.storage.search import index_version

BLOCK = 4096


def quantize(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int8 rows and per-row scales with v ~= q * scale."""
    scales = np.abs(v).max(axis=1) / 127.0
    scales[scales == 0] = 1.0
    q = np.rint(v / scales[:, None]).astype(np.int8)
    return q, scales.astype(np.float32)


@dataclass
class Store:
    """Every stored vector of one model: ids, hashes and scales concatenated; the
    vectors as their blocks (scoring reads them in place: joining 1M vectors into one
    array would copy 250 MB), joined only when `vecs` is asked for."""

    ids: np.ndarray      # int64
    hashes: np.ndarray   # int64
    scales: np.ndarray   # float32
    vec_blocks: list[np.ndarray]  # int8 (n_i, dim), in the order of ids
    block_ids: list[int] = field(default_factory=list)

    @property
    def vecs(self) -> np.ndarray:
        """int8 (n, dim), all blocks joined."""
        return np.concatenate(self.vec_blocks)


def from_blocks(blocks: list[tuple[Any, ...]], dim: int = DIM) -> Store:
    """A Store over block rows (arrays view the rows' bytes; nothing is copied)."""
    if not blocks:
        return Store(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32),
                     [np.zeros((0, dim), np.int8)])
    return Store(np.concatenate([np.frombuffer(r[1], dtype=np.int64) for r in blocks]),
                 np.concatenate([np.frombuffer(r[2], dtype=np.int64) for r in blocks]),
                 np.concatenate([np.frombuffer(r[3], dtype=np.float32) for r in blocks]),
                 [np.frombuffer(r[4], dtype=np.int8).reshape(-1, dim) for r in blocks],
                 [r[0] for r in blocks])


def load(conn: sqlite3.Connection, model: str = MODEL_ID, dim: int = DIM) -> Store:
    """Every stored vector of `model` (from the database)."""
    return from_blocks(rows.read_blocks(conn, model), dim)


def current(conn: sqlite3.Connection, model: str = MODEL_ID, dim: int = DIM) -> Store:
    """Every stored vector of `model`, from the cache file when it is current (else
    from the database, and the cache is written for next time)."""
    store, gen = from_cache(conn, model, dim)
    if store is None:
        store = load(conn, model, dim)
        write_cache(conn, store, model, gen)
    return store


# The cache file of a model's vectors (cache.py): a JSON header padded to _HEADER
# bytes, then ids, hashes, scales and vectors as contiguous arrays, memory-mapped
# when read. Reading 1M vectors out of SQLite takes ~300 ms (61k overflow pages);
# mapping the file costs nothing and scoring pages it in from the OS cache.
_HEADER = 4096


def _cache_path(conn: sqlite3.Connection, model: str, gen: str) -> Path | None:
    tag = hashlib.sha1(f"{model}\0{gen}".encode()).hexdigest()[:16]
    return cache.path_for(conn, "vectors", tag, ".bin")


def from_cache(conn: sqlite3.Connection, model: str = MODEL_ID,
               dim: int = DIM) -> tuple[Store | None, str | None]:
    """(the cached Store of the current vectors, or None; the generation it is for)."""
    gen = rows.generation(conn)
    path = _cache_path(conn, model, gen) if gen else None
    if path is None:
        return None, gen
    try:
        with open(path, "rb") as fh:
            head = json.loads(fh.read(_HEADER).rstrip(b"\0 "))
        n, blocks = int(head["n"]), [int(b) for b in head["blocks"]]
        if head.get("model") != model or int(head["dim"]) != dim or head.get("gen") != gen:
            return None, gen
        off = _HEADER
        arrays = []
        for dtype, shape in ((np.int64, (n,)), (np.int64, (n,)), (np.float32, (n,)),
                             (np.int8, (n, dim))):
            arrays.append(np.memmap(path, dtype=dtype, mode="r", offset=off, shape=shape)
                          if n else np.zeros(shape, dtype))
            off += int(np.prod(shape)) * np.dtype(dtype).itemsize
    except (OSError, ValueError, KeyError, TypeError):
        return None, gen
    return Store(arrays[0], arrays[1], arrays[2], [arrays[3]], blocks), gen


def write_cache(conn: sqlite3.Connection, store: Store, model: str, gen: str | None) -> None:
    """Keep `store` (read at generation `gen`) for the next search; best effort, and
    only when the vectors are still at `gen` (else the file would be misnamed)."""
    if gen is None or rows.generation(conn) != gen:
        return
    path = _cache_path(conn, model, gen)
    if path is None:
        return
    head = json.dumps({"model": model, "gen": gen, "n": len(store.ids),
                       "dim": store.vec_blocks[0].shape[1], "blocks": store.block_ids})
    if len(head) >= _HEADER:
        return  # more blocks than a header holds: no cache (never at realistic sizes)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as fh:
            fh.write(head.encode().ljust(_HEADER, b"\0"))
            for arr in (store.ids, store.hashes, store.scales, *store.vec_blocks):
                np.ascontiguousarray(arr).tofile(fh)
        os.replace(tmp, path)
    except OSError:  # full disk, read-only home: searches read the database instead
        with contextlib.suppress(OSError):
            tmp.unlink()
        return
    cache.drop_others(path)


def current_hashes(conn: sqlite3.Connection) -> Iterator[tuple[int, int]]:
    """(paper id, text hash) of every paper."""
    for pid, title, abstract in rows.paper_texts(conn):
        yield pid, text_hash(paper_text(title, abstract))


@dataclass
class Status:
    """How the stored vectors stand against the papers."""

    papers: int
    stored: int
    missing: int = 0          # papers without a vector
    stale: int = 0            # papers whose text changed since
    orphaned: int = 0         # vectors of papers that no longer exist
    unusable: set[int] = field(default_factory=set)  # stored ids not to rank on

    @property
    def current(self) -> bool:
        return not (self.missing or self.stale or self.orphaned)

    def message(self) -> str:
        parts = [f"{n} {what}" for n, what in ((self.missing, "without an embedding"),
                                               (self.stale, "changed since embedded"))
                 if n]
        return (f"{' and '.join(parts)} of {self.papers} papers: semantic ranking leaves "
                "them out; run 'papers embed'")


def status(conn: sqlite3.Connection, store: Store | None = None) -> Status:
    """Missing, stale and orphaned vectors of the current model (see module doc)."""
    version = index_version(conn)
    if store is None:
        store = load(conn)
    if rows.checked_at(conn, MODEL_ID) == version:
        return Status(papers=len(store.ids), stored=len(store.ids))
    stored = dict(zip(store.ids.tolist(), store.hashes.tolist(), strict=True))
    papers = missing = stale = 0
    unusable: set[int] = set()
    seen: set[int] = set()
    for pid, h in current_hashes(conn):
        papers += 1
        seen.add(pid)
        old = stored.get(pid)
        if old is None:
            missing += 1
        elif old != h:
            stale += 1
            unusable.add(pid)
    orphans = set(stored) - seen
    st = Status(papers=papers, stored=len(stored), missing=missing, stale=stale,
                orphaned=len(orphans), unusable=unusable | orphans)
    if st.current and store.block_ids:
        rows.stamp(conn, MODEL_ID, version)
    return st


@dataclass
class EmbedReport:
    papers: int
    embedded: int
    removed: int
    unchanged: int


def embed(conn: sqlite3.Connection, *, rebuild: bool = False, batch: int = 16384,
          progress: Callable[[int, int], Any] | None = None) -> EmbedReport:
    """Compute vectors for papers that lack one or whose text changed (all with
    `rebuild`), drop those of papers that no longer exist, and store them."""
    version = index_version(conn)  # what the scan below sees
    model, dim = MODEL_ID, DIM
    store = load(conn, model, dim)
    # The scan keeps ids and hashes only (16 bytes a paper); texts are read again a
    # chunk at a time when encoded (holding 1M papers' texts took 2.4 GB).
    seen_ids, seen_hashes = array("q"), array("q")
    for pid, h in current_hashes(conn):
        seen_ids.append(pid)
        seen_hashes.append(h)
    cur_ids = np.array(seen_ids, dtype=np.int64)
    cur_hashes = np.array(seen_hashes, dtype=np.int64)
    n_papers = len(cur_ids)
    same = np.zeros(n_papers, dtype=bool)
    if not rebuild and len(store.ids) and n_papers:
        order = np.argsort(store.ids)
        pos = np.minimum(np.searchsorted(store.ids, cur_ids, sorter=order), len(order) - 1)
        at = order[pos]
        same = (store.ids[at] == cur_ids) & (store.hashes[at] == cur_hashes)
    keep_ids = cur_ids[same]
    todo = cur_ids[~same]
    removed = len(store.ids) - len(keep_ids)
    encoder = embeddings.load() if len(todo) else None
    new_ids, new_hashes = todo.copy(), np.zeros(len(todo), dtype=np.int64)
    new_vecs = np.zeros((len(todo), dim), dtype=np.int8)
    new_scales = np.zeros(len(todo), dtype=np.float32)
    present = np.ones(len(todo), dtype=bool)
    # Large chunks: inside one, encode() tokenizes the next 2k texts while summing these.
    for start in range(0, len(todo), batch):
        assert encoder is not None
        chunk_ids = todo[start:start + batch]
        texts = {pid: paper_text(title, abstract)
                 for pid, title, abstract in rows.texts_of(conn, chunk_ids.tolist())}
        chunk = [texts.get(int(pid), "") for pid in chunk_ids]
        # The hash of the text embedded now (a paper edited since the scan included);
        # a paper deleted since the scan gets no vector.
        new_hashes[start:start + len(chunk)] = [text_hash(t) for t in chunk]
        present[start:start + len(chunk)] = [int(pid) in texts for pid in chunk_ids]
        q, qs = quantize(encoder.encode(chunk))
        new_vecs[start:start + len(chunk)], new_scales[start:start + len(chunk)] = q, qs
        if progress:
            progress(min(start + batch, len(todo)), len(todo))
    new_ids, new_hashes = new_ids[present], new_hashes[present]
    new_vecs, new_scales = new_vecs[present], new_scales[present]
    mask = np.isin(store.ids, keep_ids)
    ids = np.concatenate([store.ids[mask], new_ids])
    hashes = np.concatenate([store.hashes[mask], new_hashes])
    scales = np.concatenate([store.scales[mask], new_scales])
    vecs = np.concatenate([store.vecs[mask], new_vecs])
    if len(todo) or removed or rebuild:
        rows.replace_blocks(conn, model, (
            (len(ids[s:s + BLOCK]), ids[s:s + BLOCK].tobytes(), hashes[s:s + BLOCK].tobytes(),
             scales[s:s + BLOCK].tobytes(), vecs[s:s + BLOCK].tobytes())
            for s in range(0, len(ids), BLOCK)))
        _stamp_if_unchanged(conn, model, version)
        # The first search then maps the vectors instead of reading them out of SQLite.
        write_cache(conn, Store(ids, hashes, scales, [vecs], rows.block_ids(conn, model)),
                    model, rows.generation(conn))
    else:
        _stamp_if_unchanged(conn, model, version)
    return EmbedReport(papers=n_papers, embedded=len(new_ids), removed=removed,
                       unchanged=len(keep_ids))


def _stamp_if_unchanged(conn: sqlite3.Connection, model: str, version: str) -> None:
    """Stamp the vectors current if no paper text was written since the scan."""
    if index_version(conn) == version:
        rows.stamp(conn, model, version)


def scores(store: Store, query: np.ndarray, skip: set[int] | None = None) -> np.ndarray:
    """Cosine of `query` (unit float32) with every stored vector; -inf for `skip`."""
    out = np.empty(len(store.ids), dtype=np.float32)
    query = np.ascontiguousarray(query, dtype=np.float32)
    s = 0
    for block in store.vec_blocks:
        # einsum widens int8 to float32 in small buffers as it goes: 3x faster than a
        # float32 copy of the block and a BLAS product (the copy is memory traffic).
        np.einsum("ij,j->i", block, query, out=out[s:s + len(block)])
        s += len(block)
    out *= store.scales
    if skip:
        out[np.isin(store.ids, np.fromiter(skip, dtype=np.int64, count=len(skip)))] = -np.inf
    return out


def top(store: Store, sc: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The k best (paper id, score), best first."""
    k = min(k, len(sc))
    if k <= 0:
        return []
    idx = np.argpartition(-sc, k - 1)[:k]
    idx = idx[np.argsort(-sc[idx], kind="stable")]
    return [(int(store.ids[i]), float(sc[i])) for i in idx if np.isfinite(sc[i])]
