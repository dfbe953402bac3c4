"""Papers and their sightings: storing a page's records, finding the paper a record
is, and computing each paper from its sightings (fields.fold)."""

from __future__ import annotations

import itertools
import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from papers_cli.core import fields
from papers_cli.core.fields import (
    PAPER_COLUMNS,
    PAPER_FIELDS,
    SIGHTING_FIELDS,
    FieldError,
    Kind,
    Rule,
)
from papers_cli.core.models import PaperRecord, ParsedPage, ParseError, ShownDate
from papers_cli.core.normalize import same_paper, title_key
from papers_cli.storage.fts import chunks
from papers_cli.storage.schema import SEEN_SQL

SIGHTING_COLUMNS = ("page_id", "position", "paper_id", "title_key",
                    *(f.name for f in SIGHTING_FIELDS))
_INSERT_SIGHTING = (f"INSERT INTO sightings ({', '.join(SIGHTING_COLUMNS)}) "
                    f"VALUES ({', '.join('?' * len(SIGHTING_COLUMNS))})")
_INSERT_PAPER = (f"INSERT INTO papers (id, {', '.join(PAPER_COLUMNS)}) "
                 f"VALUES (?, {', '.join('?' * len(PAPER_COLUMNS))})")
# Encoding rows for executemany without a per-value dispatch (fields.to_db): the
# positions of list (JSON) and flag columns, and one JSON encoder built once (json.dumps
# with ensure_ascii=False builds a new encoder at every call). Same text as to_db.
_JSON = json.JSONEncoder(ensure_ascii=False).encode
_SIGHTING_NAMES = tuple(f.name for f in SIGHTING_FIELDS)
_SIGHTING_LISTS = tuple(i for i, f in enumerate(SIGHTING_FIELDS) if f.kind is Kind.LIST)
_SIGHTING_FLAGS = tuple(i for i, f in enumerate(SIGHTING_FIELDS) if f.kind is Kind.BOOL)
_PAPER_LISTS = tuple(i for i, f in enumerate(PAPER_FIELDS) if f.kind is Kind.LIST)
_PAPER_FLAGS = tuple(i for i, f in enumerate(PAPER_FIELDS) if f.kind is Kind.BOOL)


def _encode(row: list[Any], lists: tuple[int, ...], flags: tuple[int, ...]) -> list[Any]:
    for i in lists:
        v = row[i]
        row[i] = _JSON(list(v)) if v else "[]"
    for i in flags:
        row[i] = int(bool(row[i]))
    return row


# Records are matched against stored papers this many at a time: one query per
# chunk instead of two per record, and a streamed page still needs little memory.
LOOKUP_CHUNK = 256


@dataclass
class PageResult:
    """What storing one page did."""

    page_id: int
    new_papers: int = 0
    known_papers: int = 0
    records: int = 0
    paper_ids: list[int] = field(default_factory=list)


# Where a sighting's values list (SIGHTING_FIELDS order) holds what storing reads.
_AT = {name: i for i, name in enumerate(_SIGHTING_NAMES)}
_PUBLISHED, _YEAR_INFERRED = _AT["published"], _AT["year_inferred"]
_ARXIV, _ABSTRACT, _LISTED_ON = _AT["arxiv_id"], _AT["abstract"], _AT["listed_on"]


class Checked(NamedTuple):
    """A record checked and made ready to store, without the database: the parse worker
    makes these on its own core and sends them as plain values (cheap to unpickle), so
    the writer does little more per record than match it and write it."""

    error: str | None  # what is wrong with the record (raised when the page is stored)
    line: int | None
    position: int | None
    key: str  # title_key of the checked title
    values: list[Any]  # sighting values, SIGHTING_FIELDS order, lists decoded
    row: list[Any] | None  # its papers row if it is a new paper (dates set when stored)
    names: list[str]  # its author names
    shown: ShownDate | None  # the date as shown: `published` once the page year is known
    date_text: str | None
    date_line: int | None
    source_index: int | None


def check(rec: PaperRecord, dates_later: bool = False) -> Checked:
    """A record's values checked and normalised for storage (fields.check_record), its
    title key and its papers row. `dates_later`: `published` and `year_inferred` are
    set afterwards from the shown date (resolve_checked), so they are not checked."""
    v = vars(rec)
    if dates_later and rec.shown_date is not None:
        v = {**v, "published": None, "year_inferred": False}
    line = rec.line or None
    try:
        values = fields.check_record(v)
        pos = fields.check_value("position", fields.Kind.INT, rec.position)
        error = None if pos is not None else "position: missing"
    except FieldError as e:
        error, pos = str(e), None
    if error is not None:
        return Checked(error, line, None, "", [], None, [], rec.shown_date, rec.date_text,
                       rec.date_line, rec.source_index)
    key = title_key(values["title"])
    row, names = _row_template(values, key)
    return Checked(None, line, pos, key, list(values.values()), row, names, rec.shown_date,
                   rec.date_text, rec.date_line, rec.source_index)


def set_dates(c: Checked, published: str | None, year_inferred: bool) -> None:
    """The record's date once the page's year is known (see check's `dates_later`)."""
    if c.values:
        c.values[_PUBLISHED] = published
        c.values[_YEAR_INFERRED] = year_inferred


def _as_sighting(c: Checked, seen: str) -> dict[str, Any]:
    """The record as a sighting, as fold takes it."""
    out = dict(zip(_SIGHTING_NAMES, c.values, strict=True))
    out["seen"] = seen
    return out


def next_ids(conn: sqlite3.Connection) -> Iterator[int]:
    """Fresh paper ids. Ids are never reused, not even that of a paper merged away or
    removed (it may come back with `dedupe --undo`, and people keep ids in notes)."""
    start = conn.execute(
        "SELECT max(coalesce((SELECT max(id) FROM papers), 0), "
        "coalesce((SELECT max(merged_id) FROM merges), 0), "
        "coalesce((SELECT CAST(value AS INTEGER) FROM settings WHERE key = 'max_paper_id'), "
        "0)) + 1").fetchone()[0]
    return itertools.count(int(start))


def note_max_id(conn: sqlite3.Connection) -> None:
    conn.execute("INSERT INTO settings (key, value) VALUES ('max_paper_id', "
                 "(SELECT max(id) FROM papers)) ON CONFLICT(key) DO UPDATE SET value = "
                 "max(coalesce(CAST(value AS INTEGER), 0), coalesce(excluded.value, 0))")


class Matcher:
    """The stored papers a chunk of records may be, loaded in one go: by the title
    keys of their sightings (so a title dedupe merged away leads to its survivor)
    and by arXiv id."""

    def __init__(self, conn: sqlite3.Connection, keys: list[str], arxiv_ids: list[str]) -> None:
        self.by_id: dict[int, dict[str, Any]] = {}
        self.by_key: dict[str, list[int]] = {}
        self.by_arxiv: dict[str, int] = {}
        ids: dict[int, None] = {}
        keys = list(dict.fromkeys(keys))
        for chunk in chunks(keys, 500):
            marks = ",".join("?" * len(chunk))
            for key, pid in conn.execute(
                    f"SELECT DISTINCT title_key, paper_id FROM sightings WHERE title_key IN "
                    f"({marks}) ORDER BY paper_id", list(chunk)):
                self.by_key.setdefault(key, []).append(pid)
                ids[pid] = None
        for achunk in chunks(list(dict.fromkeys(arxiv_ids)), 500):
            marks = ",".join("?" * len(achunk))
            for aid, pid in conn.execute(
                    f"SELECT arxiv_id, id FROM papers WHERE arxiv_id IN ({marks})", list(achunk)):
                self.by_arxiv[aid] = pid
                ids[pid] = None
        # A title a merge in force joined stays joined, even once no page shows it.
        self.revive: set[int] = set()
        from papers_cli.storage.merges import merged_keys

        for key, pids in merged_keys(conn, [k for k in keys if k not in self.by_key]).items():
            self.by_key[key] = pids
            ids.update(dict.fromkeys(pids))
        for ichunk in chunks(list(ids), 500):
            marks = ",".join("?" * len(ichunk))
            for r in conn.execute(f"SELECT id, abstract, arxiv_id FROM papers WHERE id IN "
                                  f"({marks})", list(ichunk)):
                self.by_id[r[0]] = {"abstract": r[1], "arxiv_id": r[2]}
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


def store_records(conn: sqlite3.Connection, page: ParsedPage, page_id: int, ingested_at: str,
                  records: Iterable[Checked], *, assigned: dict[int, int] | None = None,
                  skip_positions: set[int] | None = None) -> PageResult:
    """Store a page's records (checked: see `check`) as sightings and fold the papers
    they touch.

    Runs inside the caller's transaction. A bad record raises ParseError (with its
    line) and the caller rolls the page back. `assigned` maps a restored export's
    paper index to the paper its first sighting went to.
    """
    result = PageResult(page_id)
    page_seen = page.page_date_iso or ingested_at[:10]
    ids = next_ids(conn)
    positions: set[int] = set(skip_positions or ())
    for chunk in _batched(records, LOOKUP_CHUNK):
        prepared: list[Checked] = []
        for c in chunk:
            if c.error is not None:
                raise ParseError(c.error, c.line)
            pos = c.position
            assert pos is not None
            if pos in positions:
                if skip_positions and pos in skip_positions:
                    continue  # completing a page restored from a partial export
                raise ParseError(f"position: {pos} appears twice on the page", c.line)
            positions.add(pos)
            prepared.append(c)
        matcher = Matcher(conn, [c.key for c in prepared],
                          [c.values[_ARXIV] for c in prepared if c.values[_ARXIV]])
        new: dict[int, list[tuple[Checked, str]]] = {}
        known: dict[int, list[dict[str, Any]]] = {}
        known_records = 0
        rows = []
        for c in prepared:
            values, key = c.values, c.key
            aid, abstract = values[_ARXIV], values[_ABSTRACT]
            index = c.source_index if assigned is not None else None
            pid = assigned.get(index) if assigned is not None and index is not None else None
            if pid is None:
                pid = matcher.find(key, aid, abstract)
            if pid is None:
                pid = next(ids)
                new[pid] = []
            elif pid in matcher.revive and pid not in new:
                matcher.revive.discard(pid)
                new[pid] = []
            seen = values[_LISTED_ON] or page_seen
            if pid in new:
                new[pid].append((c, seen))
            else:
                known.setdefault(pid, []).append(_as_sighting(c, seen))
                known_records += 1
            matcher.add(pid, key, aid, abstract)
            if assigned is not None and index is not None:
                assigned[index] = pid
            result.paper_ids.append(pid)
            rows.append((page_id, c.position, pid, key,
                         *_encode(list(values), _SIGHTING_LISTS, _SIGHTING_FLAGS)))
        result.records += len(rows)
        result.new_papers += len(new)
        result.known_papers += known_records
        insert_rows(conn, [_new_paper(pid, ss) for pid, ss in new.items()])
        conn.executemany(_INSERT_SIGHTING, rows)
        refold(conn, known)
    note_max_id(conn)
    return result


def _new_paper(pid: int, ss: list[tuple[Checked, str]]) -> tuple[int, list[Any], list[str]]:
    """A new paper's row from its sightings on this page: most have one, and its row
    was made with the record (check); else fold them."""
    if len(ss) == 1:
        c, seen = ss[0]
        assert c.row is not None
        row = list(c.row)
        _date_columns(row, c.values[_PUBLISHED], c.values[_YEAR_INFERRED], seen)
        return pid, row, c.names
    folded = fields.fold([_as_sighting(c, seen) for c, seen in ss], title_key)
    return pid, paper_row(folded), folded["author_names"]


def _batched(items: Iterable[Checked], size: int) -> Iterator[list[Checked]]:
    it = iter(items)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


def paper_row(folded: dict[str, Any]) -> list[Any]:
    return _encode([folded[c] for c in PAPER_COLUMNS], _PAPER_LISTS, _PAPER_FLAGS)


def fold_one(s: dict[str, Any], key: str) -> dict[str, Any]:
    """fields.fold of a paper's only sighting, without the general machinery: most new
    papers have one (tests/test_fold_one.py checks it against fields.fold).
    `key` is title_key of the sighting's title."""
    out: dict[str, Any] = {}
    for f in PAPER_FIELDS:
        rule = f.rule
        if rule is Rule.DATE:
            pub = s.get("published")
            if f.name == "published":
                out[f.name] = pub or None
            else:
                out[f.name] = int(bool(s.get("year_inferred"))) if pub else 0
        elif rule is Rule.FIRST_SEEN or rule is Rule.LAST_SEEN:
            out[f.name] = s.get("seen") or None
        elif rule is Rule.KEY:
            continue
        else:
            v = s.get(f.sighting)  # type: ignore[arg-type]
            if v is None or v == "" or v == []:
                v = None
            elif rule is Rule.UNION:
                v = list(v)
            out[f.name] = v
    if out["title"] is None:
        out["title"] = ""
    return fields.finish(out, key)


def _row_plan() -> tuple[tuple[int, str, str | None], ...]:
    """How new_row computes each papers column from a paper's only sighting."""
    plan = []
    for f in PAPER_FIELDS:
        src = f.sighting
        if f.rule is Rule.KEY:
            op = "key"
        elif f.rule is Rule.DATE:
            op = "published" if f.name == "published" else "inferred"
        elif f.rule is Rule.FIRST_SEEN or f.rule is Rule.LAST_SEEN:
            op = "seen"
        elif src is not None and fields.SIGHTING[src].kind is Kind.LIST:
            op = "list" if f.kind is Kind.LIST else "names"
        else:
            op = "value"
        plan.append((op, f.name, src))
    return tuple((i, op, src) for i, (op, _, src) in enumerate(plan))


_ROW_PLAN = _row_plan()
_TITLE = PAPER_COLUMNS.index("title")
_AUTHORS_COUNT = PAPER_COLUMNS.index("authors_count")


def new_row(s: dict[str, Any], key: str) -> tuple[list[Any], list[str]]:
    """paper_row(fold_one(s, key)) and its author names, built directly: what ingest
    stores for a new paper seen once (tests/test_fold_one.py checks it against fold)."""
    row, names = _row_template(s, key)
    _date_columns(row, s.get("published"), s.get("year_inferred"), s.get("seen"))
    return row, names


_DATE_OPS = frozenset(("seen", "published", "inferred"))
_COLUMN_AT = {op: i for i, op, _ in _ROW_PLAN if op in _DATE_OPS and op != "seen"}
_SEEN_AT = tuple(i for i, op, _ in _ROW_PLAN if op == "seen")


def _row_template(s: dict[str, Any], key: str) -> tuple[list[Any], list[str]]:
    """new_row without its date columns (published, first and last seen), which depend
    on the page's year and date: the parse worker makes this part."""
    row: list[Any] = [None] * len(PAPER_COLUMNS)
    names: list[str] = []
    for i, op, src in _ROW_PLAN:
        if op == "value":
            v = s.get(src)  # type: ignore[arg-type]
            row[i] = None if v is None or v == "" or v == [] else v
        elif op == "list":
            v = s.get(src)  # type: ignore[arg-type]
            row[i] = _JSON(list(v)) if v else "[]"
        elif op == "names":
            v = s.get(src)  # type: ignore[arg-type]
            if v:
                names = list(v)
                row[i] = ", ".join(names) or None
        elif op == "key":
            row[i] = key
    if row[_TITLE] is None:
        row[_TITLE] = ""
    if row[_AUTHORS_COUNT] is None and names:
        row[_AUTHORS_COUNT] = len(names)
    return row, names


def _date_columns(row: list[Any], published: str | None, year_inferred: Any,
                  seen: str | None) -> None:
    row[_COLUMN_AT["published"]] = published or None
    row[_COLUMN_AT["inferred"]] = int(bool(year_inferred)) if published else 0
    for i in _SEEN_AT:
        row[i] = seen or None


def insert_rows(conn: sqlite3.Connection, rows: list[tuple[int, list[Any], list[str]]]) -> None:
    """Insert papers given as (id, encoded row, author names)."""
    if not rows:
        return
    conn.executemany(_INSERT_PAPER, [(pid, *row) for pid, row, _ in rows])
    conn.executemany("INSERT INTO authors (paper_id, position, name) VALUES (?, ?, ?)",
                     [(pid, i, name) for pid, _, names in rows
                      for i, name in enumerate(names, start=1)])


def _present(value: Any) -> bool:
    return value is not None and value != "" and value != []


def fold_next(paper: dict[str, Any], s: dict[str, Any]) -> dict[str, Any] | None:
    """fields.fold of a paper's sightings plus one more, from the paper as folded so far
    (`paper`: fold's result, e.g. a stored row decoded, with author_names) and the new
    sighting `s` (with `seen`), without reading the older sightings again; None when
    that cannot be known from the folded values alone (the caller folds in full).

    Only for a sighting that sorts after all the others: a strictly later `seen` (the
    first key of the order sightings are folded in). tests/test_fold_next.py checks it
    against fields.fold."""
    seen = s.get("seen")
    last = paper.get("last_seen")
    if not seen or not last or not paper.get("first_seen") or seen <= last:
        return None
    out: dict[str, Any] = {}
    old_names: list[str] = paper["author_names"]
    for f in PAPER_FIELDS:
        name, rule, src = f.name, f.rule, f.sighting
        if rule is Rule.KEY:
            continue
        if rule is Rule.DATE:
            if name != "published":
                continue  # set with published below
            pub = s.get("published")
            old_pub = paper["published"]
            if pub and (old_pub is None or (bool(s.get("year_inferred")), pub)
                        < (bool(paper["published_inferred"]), old_pub)):
                out["published"] = pub
                out["published_inferred"] = int(bool(s.get("year_inferred")))
            else:
                out["published"] = old_pub
                out["published_inferred"] = int(paper["published_inferred"] or 0)
            continue
        if rule is Rule.FIRST_SEEN:
            out[name] = paper[name]
            continue
        if rule is Rule.LAST_SEEN:
            out[name] = seen
            continue
        assert src is not None
        v: Any = s.get(src)
        has = _present(v)
        old: Any = (old_names or None) if name == "authors" else paper[name]
        if not _present(old):
            old = None
        if rule is Rule.NEWEST:
            value = v if has else old
        elif rule is Rule.FIRST:
            value = old if old is not None else (v if has else None)
        elif rule is Rule.MAX:
            if name == "authors_count":
                out[name] = v if has else None  # settled below, with the authors
                continue
            value = (v if has else None) if old is None else max(old, v) if has else old
        elif rule is Rule.LONGEST:
            value = v if has and (old is None or len(v) >= len(old)) else old
        elif rule is Rule.UNION:
            value = list(old or [])
            if has:
                value += [x for x in v if x not in value]
        else:  # pragma: no cover - every rule is handled above
            raise AssertionError(rule)
        out[name] = value
    if out["title"] is None:
        out["title"] = ""
    out["title_key"] = title_key(out["title"])
    names: list[str] = list(out["authors"]) if out["authors"] is not None else []
    out["author_names"] = names
    out["authors"] = ", ".join(names) or None if out["authors"] is not None else None
    # authors_count: the highest count a sighting showed, else the number of authors.
    # The stored count does not say which it was when it equals the number of authors.
    new_count, old_count = out["authors_count"], paper["authors_count"]
    if old_count is None:  # no sighting showed a count, and no authors so far
        count = new_count
    elif old_count != len(old_names) or not old_names:  # a count some sighting showed
        count = old_count if new_count is None else max(old_count, new_count)
    elif new_count is not None and new_count >= old_count:
        count = new_count
    elif new_count is None and len(names) == len(old_names):
        count = old_count
    else:
        return None
    if count is None and names:
        count = len(names)
    out["authors_count"] = count
    for f in PAPER_FIELDS:
        if f.kind is Kind.LIST and out[f.name] is None:
            out[f.name] = []
    return out


def decode_paper(row: sqlite3.Row | dict[str, Any], names: list[str]) -> dict[str, Any]:
    """A stored papers row as fold gives it (lists decoded), with its author names."""
    out = {c: row[c] for c in PAPER_COLUMNS}
    for i in _PAPER_LISTS:
        c = PAPER_COLUMNS[i]
        out[c] = fields.from_db(c, out[c])
    out["author_names"] = names
    return out


def insert_papers(conn: sqlite3.Connection, folded: dict[int, dict[str, Any]]) -> None:
    """Insert papers (id -> folded values) and their authors."""
    if not folded:
        return
    conn.executemany(_INSERT_PAPER, [(pid, *paper_row(v)) for pid, v in folded.items()])
    conn.executemany("INSERT INTO authors (paper_id, position, name) VALUES (?, ?, ?)",
                     [(pid, i, name) for pid, v in folded.items()
                      for i, name in enumerate(v["author_names"], start=1)])


def load_sightings(conn: sqlite3.Connection,
                   paper_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    """Each paper's sightings, oldest first, as fold takes them."""
    out: dict[int, list[dict[str, Any]]] = {}
    cols = ", ".join(f"s.{f.name}" for f in SIGHTING_FIELDS)
    for chunk in chunks(list(paper_ids), 500):
        marks = ",".join("?" * len(chunk))
        for r in conn.execute(
                f"SELECT s.paper_id, {cols}, {SEEN_SQL} AS seen FROM sightings s JOIN pages pg "
                f"ON pg.id = s.page_id WHERE s.paper_id IN ({marks}) "
                f"ORDER BY s.paper_id, seen, pg.ingested_at, pg.id, s.position", list(chunk)):
            d = {f.name: fields.from_db(f.name, r[i + 1]) for i, f in enumerate(SIGHTING_FIELDS)}
            d["seen"] = r["seen"]
            out.setdefault(r[0], []).append(d)
    return out


def stored_rows(conn: sqlite3.Connection, ids: Sequence[int]
                ) -> tuple[dict[int, sqlite3.Row], dict[int, list[str]]]:
    """Papers rows by id and their authors in order, for up to ~500 ids."""
    marks = ",".join("?" * len(ids))
    rows = {r["id"]: r for r in conn.execute(
        f"SELECT * FROM papers WHERE id IN ({marks})", list(ids))}
    authors: dict[int, list[str]] = {}
    for pid, name in conn.execute(f"SELECT paper_id, name FROM authors WHERE paper_id IN "
                                  f"({marks}) ORDER BY paper_id, position", list(ids)):
        authors.setdefault(pid, []).append(name)
    return rows, authors


def recompute(conn: sqlite3.Connection, paper_ids: Iterable[int]) -> dict[str, int]:
    """Fold each paper again from its sightings: update what changed, insert a paper
    that has sightings but no row (undo), delete one left with none (and not written
    by another tool). The one function every write path ends in."""
    ids = list(dict.fromkeys(paper_ids))
    stats = {"updated": 0, "inserted": 0, "deleted": 0}
    for chunk in chunks(ids, 500):
        sightings = load_sightings(conn, chunk)
        current, authors = stored_rows(conn, chunk)
        inserts: dict[int, dict[str, Any]] = {}
        for pid in chunk:
            ss = sightings.get(pid)
            row = current.get(pid)
            if not ss:
                if row is not None:
                    conn.execute("DELETE FROM authors WHERE paper_id = ?", (pid,))
                    conn.execute("DELETE FROM papers WHERE id = ?", (pid,))
                    stats["deleted"] += 1
                continue
            folded = fields.fold(ss, title_key)
            if row is None:
                inserts[pid] = folded
                continue
            new = dict(zip(PAPER_COLUMNS, paper_row(folded), strict=True))
            changed = {c: v for c, v in new.items() if row[c] != v}
            if changed:
                sets = ", ".join(f"{c} = ?" for c in changed)  # names from the field table
                conn.execute(f"UPDATE papers SET {sets} WHERE id = ?", (*changed.values(), pid))
                stats["updated"] += 1
            if authors.get(pid, []) != folded["author_names"]:
                set_authors(conn, pid, folded["author_names"])
        insert_papers(conn, inserts)
        stats["inserted"] += len(inserts)
    return stats


def refold(conn: sqlite3.Connection, added: dict[int, list[dict[str, Any]]]) -> None:
    """Fold known papers again after their new sightings (`added`, just stored, with
    `seen`) were stored: from the stored row and the new sighting when that gives
    fold's result (fold_next: a re-listing on a later day, the usual case), else in
    full from every sighting (recompute)."""
    full: list[int] = [pid for pid, ss in added.items() if len(ss) != 1]
    single = [pid for pid, ss in added.items() if len(ss) == 1]
    # Updates grouped by the columns they change (mostly just the upvotes and the last
    # seen date): one executemany per group instead of a statement per paper.
    updates: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
    for chunk in chunks(single, 500):
        rows, authors = stored_rows(conn, chunk)
        for pid in chunk:
            row = rows.get(pid)
            old_names = authors.get(pid, [])
            folded = (fold_next(decode_paper(row, old_names), added[pid][0])
                      if row is not None and row["title_key"] is not None else None)
            if folded is None:
                full.append(pid)
                continue
            assert row is not None
            changed = {c: v for c, v in zip(PAPER_COLUMNS, paper_row(folded), strict=True)
                       if row[c] != v}
            if changed:
                updates.setdefault(tuple(changed), []).append((*changed.values(), pid))
            if old_names != folded["author_names"]:
                set_authors(conn, pid, folded["author_names"])
    for cols, params in updates.items():
        sets = ", ".join(f"{c} = ?" for c in cols)  # names from the field table
        conn.executemany(f"UPDATE papers SET {sets} WHERE id = ?", params)
    if full:
        recompute(conn, full)


def set_authors(conn: sqlite3.Connection, paper_id: int, names: Sequence[str]) -> None:
    conn.execute("DELETE FROM authors WHERE paper_id = ?", (paper_id,))
    conn.executemany("INSERT INTO authors (paper_id, position, name) VALUES (?, ?, ?)",
                     [(paper_id, i, n) for i, n in enumerate(names, start=1)])


def drifted(conn: sqlite3.Connection, limit: int = 20) -> list[int]:
    """Papers whose stored values are not what their sightings fold to (doctor)."""
    out: list[int] = []
    last = 0
    while len(out) < limit:
        ids = [r[0] for r in conn.execute("SELECT id FROM papers WHERE id > ? AND title_key "
                                          "IS NOT NULL ORDER BY id LIMIT 500", (last,))]
        if not ids:
            break
        last = ids[-1]
        sightings = load_sightings(conn, ids)
        marks = ",".join("?" * len(ids))
        rows = {r["id"]: r for r in conn.execute(f"SELECT * FROM papers WHERE id IN ({marks})",
                                                  ids)}
        for pid in ids:
            if pid not in sightings:
                continue
            want = paper_row(fields.fold(sightings[pid], title_key))
            if [rows[pid][c] for c in PAPER_COLUMNS] != want:
                out.append(pid)
    return out[:limit]
