"""SQL fragments several storage modules share (each said once)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")

# The order of a paper's sightings, oldest first: the day the listing showed it (else
# the page's date, else the day it was ingested), then ingest order.
SEEN_SQL = "coalesce(s.listed_on, pg.page_date, substr(pg.ingested_at, 1, 10))"

# A full-text passage's id says where it is: its document (id >> PASSAGE_SHIFT), its
# place in it and its kind (the two low bits, PASSAGE_KINDS): a search ranks passages
# and finds their papers from the index alone, never reading the passages' rows.
PASSAGE_SHIFT = 22
PASSAGES_PER_DOCUMENT = 1 << (PASSAGE_SHIFT - 2)  # a document's passages fit below its next id
PASSAGE_KINDS = ("body", "caption", "references", "abstract")
# Papers holding a passage that matches `?`: one uncorrelated subquery (storage/filters).
TEXT_MATCH = (f"SELECT o.paper_id FROM (SELECT DISTINCT rowid >> {PASSAGE_SHIFT} AS doc FROM "
              "passages_fts WHERE passages_fts MATCH ?) h JOIN documents d ON d.id = h.doc "
              "JOIN personal o ON o.origin_id = d.origin_id WHERE o.paper_id IS NOT NULL")


def passage_id(document_id: int, seq: int, kind: str) -> int:
    return (document_id << PASSAGE_SHIFT) | (seq << 2) | PASSAGE_KINDS.index(kind)


# When a sighting's upvote count was observed: a fetched page (stored under its URL)
# at its fetch time, a saved page on the day it lists (the sighting date, SEEN_SQL;
# a bare date sorts before any time of that day).
OBSERVED_SQL = ("CASE WHEN pg.path LIKE 'http://%' OR pg.path LIKE 'https://%' "
                f"THEN pg.ingested_at ELSE {SEEN_SQL} END")
# A count whose observation is dated: a fetched page (by its fetch time) or a saved
# page that says its day. A saved search result or paper page says none: its count
# would be put on the day it happened to be ingested, so it is left out of histories.
DATED_SQL = ("(pg.path LIKE 'http://%' OR pg.path LIKE 'https://%' OR s.listed_on IS NOT NULL "
             "OR pg.page_date IS NOT NULL)")


def ids_json(ids: Iterable[int]) -> str:
    """Ids as one JSON parameter (json_each): no variable limit, order kept."""
    return "[" + ",".join(str(int(i)) for i in ids) + "]"


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def marks(n: int) -> str:
    """`?,?,?` for n parameters."""
    return ",".join("?" * n)
