"""Building and keeping the corpus: ingest, pages, rm, doctor, embed (fetch: fetching.py)."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from papers_cli.core.dates import parse_day
from papers_cli.core.errors import NotFound, UserError
from papers_cli.core.normalize import stored_path
from papers_cli.core.options import CLI, check, option
from papers_cli.engine import fulltext
from papers_cli.engine.fulltext import PEEK, document_kind
from papers_cli.engine.ingest import IngestReport, Source, expand_paths, ingest_sources
from papers_cli.engine.ingest.page import now_utc
from papers_cli.engine.model import ModelUnavailable
from papers_cli.storage import doctor as checks
from papers_cli.storage import documents, pages
from papers_cli.storage.errors import StorageError
from papers_cli.storage.pages import Removal
from papers_cli.storage.personal import orphans
from papers_cli.storage.recover import recover
from papers_cli.verbs.common import Session, resolve_all
from papers_cli.verbs.texts import attach_files

CLI_ONLY = frozenset((CLI,))
FIRST_YEAR, LAST_YEAR = 1990, 2100  # --year's range; --date is held to it too


@dataclass
class IngestArgs:
    paths: list[str] = option(..., "Files, folders (recursive), globs, or - for stdin.",
                              metavar="PATH...", fronts=CLI_ONLY, file_name=True)
    year: int | None = option(None, "Year of pages whose date shows none.", "--year",
                              lo=FIRST_YEAR, hi=LAST_YEAR, fronts=CLI_ONLY)
    date: str | None = option(None, "Page date of pages that show none (also sets their "
                              "year).", "--date", metavar="YYYY-MM-DD", fronts=CLI_ONLY,
                              max_len=10)
    paper: str | None = option(None, "The paper the full texts given belong to (an id, arXiv "
                               "id or URL); else the arXiv id in each file's name or "
                               "content.", "--paper", metavar="ID", fronts=CLI_ONLY,
                               max_len=2000)


@dataclass
class Ingested:
    report: IngestReport
    sources: list[Source]

    @property
    def code(self) -> int:
        """0 ok, 1 when a page was rejected, 2 when no input could be read at all."""
        if self.sources and all(s.error for s in self.sources):
            return 2
        return 1 if self.report.failed else 0


def ingest(session: Session, args: IngestArgs) -> Ingested:
    """Read listing pages into the corpus; safe to re-run. Each page is one transaction.
    Ctrl-C raises engine.ingest.Interrupted with what was committed."""
    check(args)
    try:
        page_date = parse_day(args.date) if args.date else None
    except ValueError as e:
        raise UserError(f"--date: {e}") from None
    today = dt.datetime.now(dt.UTC).date()
    if page_date is not None and page_date > today + dt.timedelta(days=1):
        raise UserError(f"--date {page_date} is in the future (today is {today} UTC)")
    if page_date is not None and page_date.year < FIRST_YEAR:
        raise UserError(f"--date {page_date} is before {FIRST_YEAR} (as --year, "
                        f"{FIRST_YEAR} to {LAST_YEAR})")
    if args.year is not None and args.year > today.year:
        raise UserError(f"--year {args.year} is in the future (this year is {today.year})")
    sources = expand_paths(args.paths)
    missing = [s for s in sources if s.error == "no such file or directory"]
    if missing and len(missing) == len(sources):
        raise UserError(f"{missing[0].name}: no such file or directory")
    conn = session.open(create=True)
    texts, listing = _split_texts(sources, every=args.paper is not None)
    with session.events.progress(len(sources), "files", "ingesting") as bar:
        report = ingest_sources(conn, listing, year=args.year, date=page_date,
                                on_page=session.events.done, on_progress=bar.advance)
        if texts:
            report.outcomes += attach_files(session, texts, args.paper, now_utc())
            bar.advance(len(texts))
    return Ingested(report, sources)


def _split_texts(sources: list[Source], every: bool) -> tuple[list[Source], list[Source]]:
    """(saved full texts, listing pages): told by each file's first bytes and name
    (engine.fulltext.document_kind); with --paper every input is a full text."""
    if every:
        return sources, []
    texts: list[Source] = []
    listing: list[Source] = []
    for src in sources:
        kind = None
        # Regular files only: a pipe or a FIFO would lose what is peeked (read it once).
        if src.path is not None and not src.error and src.path.is_file() and \
                src.path.suffix.lower() not in (".txt", ".text", ".json", ".jsonl", ".ndjson"):
            try:
                with src.path.open("rb") as fh:
                    kind = document_kind(fh.read(PEEK), src.name)
            except OSError:
                kind = None  # the page path reports the error
        (texts if kind else listing).append(src)
    return texts, listing


@dataclass
class PagesArgs:
    pass


def list_pages(session: Session, args: PagesArgs) -> list[dict[str, Any]]:
    """Every ingested page: id, page date, format, papers, ingested at, sha256, source."""
    return pages.list_pages(session.open())


@dataclass
class RmArgs:
    pages: list[str] = option(..., "Pages as 'papers pages' shows them: ids, sha256 prefixes, "
                              "the path or URL they were ingested from, or a file whose "
                              "content is an ingested page (with --full-text: papers).",
                              metavar="PAGE...", fronts=CLI_ONLY, file_name=True)
    full_text: bool = option(False, "Remove the full texts of the papers given (ids, arXiv "
                             "ids or URLs), not pages.", "--full-text", fronts=CLI_ONLY)


@dataclass
class Removed:
    pages: list[dict[str, Any]]
    removal: Removal | None
    texts: dict[int, int] = field(default_factory=dict)  # --full-text: paper -> texts removed


def rm(session: Session, args: RmArgs) -> Removed:
    """Remove pages and their sightings in one transaction; papers they touched are
    computed again from their other sightings, those left with none are deleted."""
    check(args)
    if args.full_text:
        return _rm_texts(session, args.pages)
    conn = session.open()
    known = pages.list_pages(conn)
    chosen: dict[int, dict[str, Any]] = {}
    for ident in args.pages:
        for p in _pages_named(ident, known):
            chosen[p["id"]] = p
    removal = pages.remove_pages(conn, sorted(chosen))
    return Removed(list(chosen.values()), removal)


def _rm_texts(session: Session, idents: list[str]) -> Removed:
    """Remove papers' full texts (their own and those merged into them), each paper in
    its own transaction; NotFound when a paper holds none."""
    pids = resolve_all(session, idents)
    conn = session.open()
    bare = [p for p in pids if documents.summary(conn, p) is None]
    if bare:
        raise NotFound(f"paper {bare[0]} has no full text to remove")
    return Removed([], None, {p: fulltext.remove(conn, p) for p in pids})


def _pages_named(ident: str, known: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The pages one identifier names: a page id, a sha256 prefix (6+ characters, one
    page), the path or URL as ingested (every page ingested from it), or a file whose
    content hash is an ingested page's."""
    t = ident.strip()
    low = t.lower()
    if low.isascii() and low.isdigit() and len(low) <= 18:
        hits = [p for p in known if p["id"] == int(low)]
        if hits:
            return hits
    if len(low) >= 6 and all(c in "0123456789abcdef" for c in low):
        hits = [p for p in known if p["sha256"].startswith(low)]
        if len(hits) > 1:
            raise UserError(f"{t}: matches several pages (see 'papers pages')")
        if hits:
            return hits
    paths = {stored_path(t), stored_path(os.path.abspath(t))} if t else set()
    hits = [p for p in known if p["path"] in paths]
    if hits:
        return hits
    sha = _file_sha(t)
    hits = [p for p in known if sha is not None and p["sha256"] == sha]
    if hits:
        return hits
    raise NotFound(f"{t}: no such page (see 'papers pages')")


def _file_sha(path: str) -> str | None:
    try:
        if not Path(path).is_file():
            return None
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
        return h.hexdigest()
    except OSError:
        return None


@dataclass
class DoctorArgs:
    fix: bool = option(False, "Repair what can be repaired.", "--fix", fronts=CLI_ONLY)
    full: bool = option(False, "Run the full integrity check even when the quick one finds "
                        "damage (slower; names more of what is damaged).", "--full",
                        fronts=CLI_ONLY)
    recover: str | None = option(None, "Copy every readable row of a damaged database into "
                                 "the new database OUT.db, and say what was lost.",
                                 "--recover", metavar="OUT.db", fronts=CLI_ONLY, max_len=4096,
                                 file_name=True)


@dataclass
class Checkup:
    report: dict[str, Any]
    problems: list[str]
    fixed: list[str]
    personal_orphans: int
    damaged: bool = False  # pages cannot be read: --fix cannot help, --recover can
    recovery: Any = None  # storage.recover.Recovery, with --recover


def doctor(session: Session, args: DoctorArgs) -> Checkup:
    """Check the corpus: integrity, search index, orphans, schema, personal triggers; on
    a damaged database, what is damaged and how to get the data out (--recover)."""
    check(args)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    if args.recover is not None:
        try:
            done = recover(session.db, Path(args.recover), now)
        except StorageError as e:
            raise UserError(str(e)) from None
        return Checkup({}, done.problems, [], 0, recovery=done)
    conn = session.open(damaged_ok=True)
    try:
        found = checks.damage(session.db, conn, full=args.full)
    except StorageError as e:
        raise UserError(str(e)) from None
    if found is not None:
        report, problems = found
        report["problems"] = problems
        return Checkup(report, problems, [], 0, damaged=True)
    fixed: list[str] = []
    if args.fix:
        fixed = checks.repair(conn, now)
        again = fulltext.reextract(conn)  # from the stored raw bytes: no network
        if again.done:
            fixed.append(f"extracted {again.done} full text(s) again with the current "
                         "extractor")
        fixed += [f"could not extract again: {f}" for f in again.failed]
    report = checks.health(conn)
    report["full_texts"]["stale"] = len(fulltext.stale(conn))
    problems = checks.problems(report)
    if report["full_texts"]["stale"]:
        problems.append(f"{report['full_texts']['stale']} full text(s) were extracted by an "
                        "older extractor")
    report["problems"] = problems
    return Checkup(report, problems, fixed, len(orphans(conn)))


@dataclass
class EmbedArgs:
    rebuild: bool = option(False, "Recompute every paper's.", "--rebuild", fronts=CLI_ONLY)


def embed(session: Session, args: EmbedArgs) -> Any:
    """Compute embeddings of papers that lack one or whose text changed (offline, a small
    model installed with papers); --rebuild recomputes all. Returns vectors.EmbedReport."""
    from papers_cli.engine import vectors  # numpy and the model

    conn = session.open()
    with session.events.progress(None, "papers", "embedding") as bar:
        try:
            return vectors.embed(conn, rebuild=args.rebuild,
                                 progress=lambda done, total: bar.update(done, total))
        except ModelUnavailable as e:
            raise UserError(str(e)) from None
