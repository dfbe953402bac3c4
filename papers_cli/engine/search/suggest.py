""""Did you mean": for query words that match nothing, the closest words of the corpus.

Bounded: at most SUGGEST_CHECK words are checked and SUGGEST_WORDS get suggestions,
against a vocabulary of real words read from the SUGGEST_SAMPLE most recent papers
and cached in a file per database and index version.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import sqlite3
from collections import Counter

from rapidfuzz import fuzz, process

from papers_cli.engine import cache
from papers_cli.engine.search.query import Query, Term
from papers_cli.storage import search as index
from papers_cli.storage.connection import db_path

SUGGEST_CHECK, SUGGEST_WORDS, SUGGEST_SAMPLE = 20, 5, 5_000
_WORD_RE = re.compile(r"\b[a-z]{3,30}\b")  # suggestible words (ASCII letters, lower case)


def did_you_mean(conn: sqlite3.Connection, query: Query, limit: int = 3) -> dict[str, list[str]]:
    """For each query word that matches nothing, the closest words in the corpus."""
    out: dict[str, list[str]] = {}
    words = [t for t in query.words() if not t.phrase][:SUGGEST_CHECK]
    with index.deadline(conn):
        missing = [t for t in words if not index.has_match(
            conn, Term(t.text, prefix=t.prefix).fts())][:SUGGEST_WORDS]
    if not missing:
        return out
    vocab = cached_vocabulary(conn)
    names = [w for w, _ in vocab]
    for t in missing:
        word = t.text.lower()
        if len(word) > 40:  # not a word: nothing useful to suggest
            continue
        found = process.extract(word, names, scorer=fuzz.ratio, limit=limit * 5,
                                score_cutoff=60)
        best = sorted(((s, vocab[i][1], w) for w, s, i in found if w != word),
                      key=lambda x: (-x[0], -x[1], x[2]))
        if best:
            out[t.text] = [w for _s, _n, w in best[:limit]]
    return out


def cached_vocabulary(conn: sqlite3.Connection) -> list[tuple[str, int]]:
    """Words (as written, lower-cased) of the SUGGEST_SAMPLE most recent papers with
    their counts, cached in a file per database and index version.

    Read from the texts, not from fts5vocab: listing the index's terms reads every
    doclist (2 s at 100k papers, ~20 s at 1M), while the sample costs the same at
    any size; a word only in older papers is not suggested.
    """
    version = index.index_version(conn)
    key = hashlib.sha1(os.path.realpath(db_path(conn)).encode()).hexdigest()[:16]
    path = os.path.join(cache.directory(), f"vocab-{key}.tsv")
    with contextlib.suppress(OSError, ValueError), open(path, encoding="utf-8") as fh:
        if fh.readline().rstrip("\n") == version:
            return [(w, int(n)) for w, n in (line.rstrip("\n").split("\t") for line in fh)]
    counts: Counter[str] = Counter()
    for title, abstract in index.recent_texts(conn, SUGGEST_SAMPLE):
        counts.update(_WORD_RE.findall(f"{title} {abstract or ''}".lower()))
    words = counts.most_common()
    with contextlib.suppress(OSError):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(version + "\n")
            fh.writelines(f"{w}\t{n}\n" for w, n in words)
        os.replace(tmp, path)
    return words
