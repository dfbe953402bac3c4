"""Random sequences of ordinary commands against a small model of what a paper is.

A hypothesis state machine ingests pages (in any order, again and again), exports
and restores (the whole corpus or a part), merges duplicates, undoes merges and
removes pages. After every step the corpus must equal the model: the same
sightings, grouped into the same papers, each paper's values those its field rules
give, and `doctor` clean.

The pages come from a fixed pool of five papers whose identity is unambiguous:
A has an arXiv id; B and B2 are one paper under two titles (same abstract), which
only dedupe joins; C and D share a title but not an abstract, so nothing may ever
join them. Every page lists its papers on a day of its own, so "newest" is
well defined whatever the order pages arrive in.

`make test` runs a bounded number of examples; `make test-long` (PAPERS_LONG=1)
many more.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from papers_cli.core.normalize import title_key
from papers_cli.engine import dedupe, export
from papers_cli.engine.ingest import ingest_bytes
from papers_cli.storage.connection import connect
from papers_cli.storage.doctor import health, problems
from papers_cli.storage.filters import Filters
from papers_cli.storage.pages import page_by_sha, remove_pages
from papers_cli.storage.records import Selection

LONG = bool(os.environ.get("PAPERS_LONG"))


def _abstract(topic: str) -> str:
    return (f"We study {topic} in depth. " + " ".join(f"{topic}{k}" for k in range(40))
            + " Experiments on many benchmarks confirm the gains, and we release our code "
            "and data so that others can build on the results reported here.")


@dataclass(frozen=True)
class Canon:
    """One paper of the pool, as every page shows it."""

    name: str
    title: str
    abstract: str
    published: str
    arxiv: str | None = None


PAPERS = {
    "A": Canon("A", "Alpha Sparse Attention at Scale", _abstract("alpha"), "2024-12-20",
               "2501.00001"),
    "B": Canon("B", "Beta Methods for Efficient Training", _abstract("beta"), "2024-12-10"),
    "B2": Canon("B2", "Beta Method for Efficient Training", _abstract("beta"), "2024-12-10"),
    "C": Canon("C", "Gamma Study of Things", _abstract("gamma"), "2024-12-25"),
    "D": Canon("D", "Gamma Study of Things", _abstract("delta"), "2024-12-05"),
}
# Page i lists these papers with these upvotes, on day 2025-01-(i+1).
POOL: list[dict[str, int]] = [
    {"A": 3, "B": 5, "C": 1},
    {"B2": 7, "D": 2},
    {"A": 10, "B2": 4, "C": 6},
    {"B": 9, "D": 8},
    {"A": 1, "B": 2, "B2": 3, "C": 4, "D": 5},
    {"B2": 12},
]


def day(i: int) -> str:
    return f"2025-01-{i + 1:02d}"


def page_bytes(i: int) -> bytes:
    items = []
    for name, upvotes in POOL[i].items():
        c = PAPERS[name]
        paper: dict[str, Any] = {"title": c.title, "summary": c.abstract, "upvotes": upvotes,
                                 "publishedAt": f"{c.published}T00:00:00.000Z",
                                 "submittedOnDailyAt": f"{day(i)}T08:00:00.000Z",
                                 "authors": [{"name": "Ada Lovelace"}]}
        if c.arxiv:
            paper["id"] = c.arxiv
        items.append({"paper": paper, "title": c.title,
                      "publishedAt": f"{day(i)}T08:00:00.000Z", "numComments": i})
    return json.dumps(items, indent=2).encode()


@dataclass
class Model:
    """Which pages are in the corpus, and whether B and B2 are one paper."""

    pages: set[int] = field(default_factory=set)
    tags: set[str] = field(default_factory=set)  # every tag a person added
    # Whose each tag is: the paper (by name) it was given to; given to a merged paper,
    # the survivor's (B). It follows that identity through merge, undo, rm, re-ingest.
    owner: dict[str, str] = field(default_factory=dict)
    runs: list[bool] = field(default_factory=list)  # merge runs in force: merged B+B2?
    frozen: bool = False  # merged, and the merge survived an export/restore (no undo)

    @property
    def merged(self) -> bool:
        return self.frozen or any(self.runs)

    def group(self, name: str) -> str:
        return "B" if name == "B2" and self.merged else name

    def sightings(self) -> dict[str, list[tuple[str, int, str]]]:
        """Each paper (by group) -> its sightings (day, upvotes, title), oldest first."""
        out: dict[str, list[tuple[str, int, str]]] = {}
        for i in sorted(self.pages):
            for name, up in POOL[i].items():
                out.setdefault(self.group(name), []).append((day(i), up, PAPERS[name].title))
        return out

    def present(self, name: str) -> bool:
        return any(name in POOL[i] for i in self.pages)


class Corpus(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="papers-stateful-"))
        self.generation = 0
        self.conn = self._fresh()
        self.model = Model()

    def _fresh(self) -> sqlite3.Connection:
        self.generation += 1
        return connect(self.dir / f"corpus-{self.generation}.db")

    def teardown(self) -> None:
        self.conn.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    # ------------------------------------------------------------------ rules

    @rule(i=st.integers(0, len(POOL) - 1))
    def ingest(self, i: int) -> None:
        out = ingest_bytes(self.conn, page_bytes(i), f"page-{i}.json")
        assert out.status == ("skipped" if i in self.model.pages else "ingested"), out.message
        self.model.pages.add(i)

    @precondition(lambda self: self.model.pages)
    @rule(data=st.data())
    def remove_page(self, data: st.DataObject) -> None:
        i = data.draw(st.sampled_from(sorted(self.model.pages)))
        sha = __import__("hashlib").sha256(page_bytes(i)).hexdigest()
        page = page_by_sha(self.conn, sha)
        assert page is not None
        remove_pages(self.conn, [page.id])
        self.model.pages.discard(i)
        if not (self.model.present("B") and self.model.present("B2")):
            # A restored merge has no merge log: it is carried by the merged paper's
            # sightings, and holds while a page under each title remains.
            if self.model.frozen:
                left = [n for n in ("B", "B2") if self.model.present(n)]
                for tag, who in list(self.model.owner.items()):
                    if who == "B+B2":  # the paper lives on under the title left, if any
                        self.model.owner[tag] = left[0] if left else "gone"
            self.model.frozen = False

    def _holder(self, name: str) -> int:
        """The paper that holds canonical paper `name`'s sightings."""
        c = PAPERS[name]
        for pid, abstract in self.conn.execute(
                "SELECT DISTINCT p.id, p.abstract FROM sightings s JOIN papers p ON "
                "p.id = s.paper_id WHERE s.title_key = ?", (title_key(c.title),)):
            if abstract == c.abstract:
                return int(pid)
        raise AssertionError(f"no paper holds {name}")

    @precondition(lambda self: self.model.pages)
    @rule(data=st.data())
    def tag(self, data: st.DataObject) -> None:
        from helpers import library

        names = sorted({n for i in self.model.pages for n in POOL[i]})
        name = data.draw(st.sampled_from(names))
        tag = f"t-{name.lower()}-{len(self.model.tags)}"
        library.tag(self.conn, [self._holder(name)], add=[tag])
        self.model.tags.add(tag)
        # A restored merge is one paper with both titles: a tag given to it is that
        # paper's, whichever of its titles is left (see remove_page).
        # Given to a dedupe survivor: it stays with whichever of B and B2 survived.
        self.model.owner[tag] = ("B+B2" if self.model.frozen and self.model.group(name) == "B"
                                 else "survivor" if self.model.group(name) != name
                                 or (name == "B" and self.model.merged)
                                 else self.model.group(name))

    @rule()
    def dedupe_apply(self) -> None:
        clusters = dedupe.find_clusters(self.conn)
        expect = (self.model.present("B") and self.model.present("B2")
                  and not self.model.merged)
        assert len(clusters) == int(expect), [c.ids for c in clusters]
        result = dedupe.apply(self.conn, clusters)
        assert result.merged == int(expect) and not result.changes
        if expect:  # a run that merges nothing is not recorded (nothing to undo)
            self.model.runs.append(expect)

    @rule()
    def undo(self) -> None:
        done = dedupe.undo(self.conn)
        assert (done is None) == (not self.model.runs)
        if self.model.runs:
            self.model.runs.pop()
        if not self.model.merged:  # the survivor is B's or B2's paper again
            for tag, who in list(self.model.owner.items()):
                if who == "survivor":
                    self.model.owner[tag] = "B or B2"

    @rule(since=st.sampled_from([None, None, "2024-12-15", "2024-12-08"]))
    def export_and_restore(self, since: str | None) -> None:
        """Export (all, or the papers published since a day), restore into a fresh
        database; after a partial export ingest every page again: the restored part must
        not hide the rest. A merge survives only if the merged paper was exported."""
        out = io.StringIO()
        was_merged = self.model.merged
        sel = Selection(filters=Filters(since=since) if since else Filters())
        kept = self._tags_by_title(exported_only=since)
        export.export_to(self.conn, out, "jsonl", sel)
        self.conn.close()
        self.conn = self._fresh()
        if out.getvalue():
            res = ingest_bytes(self.conn, out.getvalue().encode(), "export.jsonl")
            assert res.status == "ingested", res.message
        if since:  # a partial export: the pages themselves bring back the rest
            for i in sorted(self.model.pages):
                ingest_bytes(self.conn, page_bytes(i), f"page-{i}.json")
        # The merge lives on in the merged paper's sightings: both titles exported.
        self.model.frozen = (self.model.merged and self.model.present("B")
                             and self.model.present("B2")
                             and (since is None or PAPERS["B"].published >= since))
        self.model.runs = []
        # Personal data of the exported papers comes back exactly; what was kept for
        # removed papers (or papers not exported) stays in the old database.
        assert self._tags_by_title(exported_only=None) >= kept
        self.model.tags = {t for _, t in self._tags_by_title(exported_only=None)}
        # A restore gives a merged paper's tags to the paper the line became.
        left = [n for n in ("B", "B2") if self.model.present(n)]
        # The exported merged paper comes back as one paper: the pair's, when both its
        # titles are there; else the paper of the title left.
        pair = {"B+B2", "survivor"} | ({"B", "B2"} if was_merged else set())
        self.model.owner = {
            t: (("B+B2" if self.model.frozen else left[0] if len(left) == 1 else o)
                if o in pair else o)
            for t, o in self.model.owner.items() if t in self.model.tags}

    def _tags_by_title(self, exported_only: str | None) -> set[tuple[str, str]]:
        """(paper title, tag) for the papers present (published since a day)."""
        return {(r[0], r[1]) for r in self.conn.execute(
            "SELECT p.title, t.tag FROM papers p JOIN personal x ON x.paper_id = p.id "
            "JOIN personal_tags t ON t.origin_id = x.origin_id "
            "WHERE p.published >= coalesce(?, '')", (exported_only,))}

    # ------------------------------------------------------------------ checks

    @invariant()
    def corpus_equals_model(self) -> None:
        want = self.model.sightings()
        rows = self.conn.execute(
            "SELECT p.*, (SELECT group_concat(title_key, char(31)) FROM sightings s WHERE "
            "s.paper_id = p.id) AS keys FROM papers p").fetchall()
        got: dict[str, sqlite3.Row] = {}
        for r in rows:
            keys = set(r["keys"].split("\x1f"))
            names = {n for n, c in PAPERS.items() if title_key(c.title) in keys}
            # C and D share a title: tell them apart by abstract.
            if names >= {"C", "D"}:
                names = {"C" if r["abstract"] == PAPERS["C"].abstract else "D"}
            groups = {self.model.group(n) for n in names}
            assert len(groups) == 1, (dict(r), names)
            (g,) = groups
            assert g not in got, f"paper {g} stored twice"
            got[g] = r
        assert set(got) == set(want), (sorted(got), sorted(want))
        for g, ss in want.items():
            r = got[g]
            newest = ss[-1]
            assert r["upvotes"] == max(up for _, up, _ in ss), g
            assert r["latest_upvotes"] == newest[1], g
            assert r["title"] == newest[2], g
            assert (r["first_seen"], r["last_seen"]) == (ss[0][0], newest[0]), g
            assert r["arxiv_id"] == (PAPERS["A"].arxiv if g == "A" else None), g
            count = self.conn.execute("SELECT count(*) FROM sightings WHERE paper_id = ?",
                                      (r["id"],)).fetchone()[0]
            assert count == len(ss), g

    @invariant()
    def tags_are_never_lost(self) -> None:
        held = {r[0] for r in self.conn.execute("SELECT tag FROM personal_tags")}
        assert self.model.tags <= held, self.model.tags - held
        # A paper shows the tags of everything merged into it, each once.
        for (pid,) in self.conn.execute("SELECT id FROM papers"):
            from helpers import library

            tags = library.personal(self.conn, pid)["tags"]
            assert len(tags) == len(set(tags))

    @invariant()
    def tags_belong_to_the_identity_they_were_given_to(self) -> None:
        """Whatever happened since (merge, undo, rm, re-ingest), a present paper shows
        exactly the tags given to its identity (and to papers merged into it)."""
        from helpers import library

        shown: dict[str, set[str]] = {}
        for name in PAPERS:
            if not self.model.present(name) or self.model.group(name) != name:
                continue
            shown[name] = set(library.personal(self.conn, self._holder(name))["tags"])
        for tag, who in self.model.owner.items():
            on = {n for n, tags in shown.items() if tag in tags}
            if who in ("B+B2", "survivor"):
                assert on <= {"B"} and (on or not self.model.present("B")), (tag, on)
            elif who == "B or B2":  # which of them survived the merge
                assert on <= {"B", "B2"} and len(on) <= 1, (tag, on)
            elif who != "gone":
                g = self.model.group(who)
                pair = self.model.merged and who in ("B", "B2")  # one paper: B's row
                held = g in shown if not pair else "B" in shown
                assert on == ({g} if held else set()), (tag, who, on)

    @invariant()
    def doctor_is_clean(self) -> None:
        assert problems(health(self.conn)) == []


Corpus.TestCase.settings = settings(
    max_examples=300 if LONG else 12, stateful_step_count=30 if LONG else 10, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
TestCorpus = Corpus.TestCase
