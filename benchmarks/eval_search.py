"""Search quality and latency on real papers (issue 20): `make eval`.

Corpus: the 100 recorded /api/daily_papers responses in shared/hf-api/daily (1,636
papers), ingested into a temporary database with ai_summary and keywords blanked
(they are not indexed; blanked so nothing can leak). Queries:

* summary: each paper's one-sentence AI summary; the right answer is that paper;
* short: 4-7 content words of that summary that are not in the paper's title;
* gap: hand-written questions whose words do not occur in the corpus, judged by
  topic: a hit is on-topic when its title or abstract matches the topic pattern
  (written by hand below, before looking at any ranking).

Reports MRR@10 and recall@10 (summary, short), on-topic hits in the top 10 (gap,
mean over queries), and mean latency per query, for lexical, semantic and each
hybrid fusion method.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from papers_cli.engine import embeddings, search, vectors  # noqa: E402
from papers_cli.engine.ingest import expand_paths, ingest_sources  # noqa: E402
from papers_cli.storage.connection import connect  # noqa: E402
from papers_cli.storage.filters import Filters  # noqa: E402

DAILY = Path(os.environ.get("PAPERS_EVAL_DATA", "/work/shared/hf-api/daily"))

# (query, topic pattern over title + abstract). Query words must not occur in the
# corpus (checked at run time; a query that breaks this is reported).
GAP_QUERIES = [
    ("wardrobe apparel footwear", r"\b(fashion|garment|cloth|outfit|try-on|tryon)"),
    ("songwriting", r"\b(music|song|audio generation|singing|melod)"),
    ("bedside ailments", r"\b(medic|clinic|patient|health|diagnos|disease)"),
    ("cartography townships streetmap", r"\b(map|geospatial|remote sensing|urban|satellite)"),
    ("pupils homework schoolchildren", r"\b(educat|student|teach|tutor|learner)"),
    ("litigation statutes attorneys", r"\b(legal|law|court|juris)"),
    ("brokerage bankers shareholders", r"\b(financ|trading|market|stock|econom)"),
    ("cuisine chefs meals", r"\b(food|recipe|cook|culinar|kitchen)"),
    ("automobiles motorway chauffeur", r"\b(driving|autonomous vehicle|vehicle|traffic|car)"),
    ("rainfall meteorology drizzle", r"\b(weather|climate|forecast|precipitation)"),
    ("droids fingertips prosthetic", r"\b(robot|manipulat|grasp|embodied)"),
    ("counterfeit tampered fraudsters", r"\b(deepfake|forg|fake|manipulated image|detect)"),
]
STOP = search._STOPWORDS
WORD = re.compile(r"[A-Za-z][A-Za-z-]+")


def build(db: Path) -> tuple[dict[int, str], dict[int, str]]:
    """Ingest the daily responses; return {paper id: ai_summary} and titles."""
    conn = connect(db)
    report = ingest_sources(conn, expand_paths([str(DAILY)]))
    if report.failed:
        raise SystemExit(f"ingest failed: {report.failed}")
    summaries = {r[0]: r[1] for r in conn.execute(
        "SELECT id, ai_summary FROM papers WHERE coalesce(ai_summary, '') != ''")}
    titles = {r[0]: r[1] for r in conn.execute("SELECT id, title FROM papers")}
    conn.execute("UPDATE papers SET ai_summary = NULL, keywords = '[]'")
    vectors.embed(conn)
    conn.close()
    return summaries, titles


def short_query(summary: str, title: str) -> str | None:
    title_words = {w.lower() for w in WORD.findall(title)}
    out: list[str] = []
    for w in WORD.findall(summary):
        lw = w.lower()
        if lw in STOP or lw in title_words or lw in (x.lower() for x in out) or len(lw) < 3:
            continue
        out.append(w)
        if len(out) == 6:
            break
    return " ".join(out) if len(out) >= 4 else None


def rank_ids(conn, q: str, method: str, k: int = 10) -> list[int]:  # type: ignore[no-untyped-def]
    f = Filters()
    if method == "lexical":
        return [r[0] for r in search.lexical(conn, q, filters=f, limit=k).ranked]
    vec = embeddings.load().encode([q])[0]
    sem = search.semantic_ranked(conn, vec, filters=f, limit=max(k, search.HYBRID_DEPTH))
    if method == "semantic":
        return [i for i, _ in sem[:k]]
    lex = search.lexical(conn, q, filters=f, limit=search.HYBRID_DEPTH)
    return [r[0] for r in search.fuse(lex.ranked, sem, k, method=method.split(":")[1])]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=0, help="at most this many summary queries")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "eval.db"
        t = time.perf_counter()
        summaries, titles = build(db)
        print(f"corpus: {len(titles)} papers, {len(summaries)} with a summary; built and "
              f"embedded in {time.perf_counter() - t:.1f} s")
        conn = connect(db)
        items = sorted(summaries.items())[: args.limit or None]
        shorts = [(s, pid) for pid, summ in items
                  if (s := short_query(summ, titles[pid])) is not None]
        texts = {r[0]: f"{r[1]} {r[2] or ''}" for r in conn.execute(
            "SELECT id, title, abstract FROM papers")}
        for q, _ in GAP_QUERIES:
            present = [w for w in q.split() if search.count(
                conn, f'"{w}"', Filters()) > 0]
            if present:
                print(f"  note: gap query {q!r} has corpus words {present}")
        methods = ["lexical", "semantic", "hybrid:fill", "hybrid:all_sem", "hybrid:all_rrf"]
        print(f"{'method':16} {'MRR@10 sum':>10} {'R@10 sum':>9} {'MRR@10 short':>12} "
              f"{'R@10 short':>10} {'gap on-topic':>12} {'ms/query':>9}")
        for m in methods:
            row = []
            times: list[float] = []
            for qs in ([(s, pid) for pid, s in items], shorts):
                rr, hit = [], 0
                for q, pid in qs:
                    t = time.perf_counter()
                    ids = rank_ids(conn, q, m)
                    times.append(time.perf_counter() - t)
                    r = ids.index(pid) + 1 if pid in ids else 0
                    rr.append(1 / r if r else 0.0)
                    hit += bool(r)
                row += [statistics.mean(rr), hit / len(qs)]
            on = []
            for q, pat in GAP_QUERIES:
                ids = rank_ids(conn, q, m)
                on.append(sum(bool(re.search(pat, texts[i], re.I)) for i in ids))
            print(f"{m:16} {row[0]:10.3f} {row[1]:9.3f} {row[2]:12.3f} {row[3]:10.3f} "
                  f"{statistics.mean(on):12.2f} {1000 * statistics.mean(times):9.1f}")
        print(f"queries: {len(items)} summary, {len(shorts)} short, {len(GAP_QUERIES)} gap")


if __name__ == "__main__":
    main()
