"""The full-text section of `make bench` (issue 26): extraction rate of paper-sized
documents, database growth per paper against the text extracted, and
`search --full-text` latency at 1k and 10k papers with text.

Documents are generated, deterministic and shaped as the real ones are (the
fixtures in tests/fixtures/fulltext are real LaTeXML, pandoc and pdflatex output):
LaTeXML's HTML5 (ltx_document, sections and subsections with ltx_title headings,
ltx_para/ltx_p paragraphs, inline math with alttext, figure captions, a
bibliography) and the site's Markdown (its header, setext and ATX headings, $TeX$
math, caption paragraphs, references), about 60 KB of text each, with words drawn
Zipf-like from the listing generator's vocabulary so queries meet realistic
selectivity.
"""

from __future__ import annotations

import html
import multiprocessing
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import generate

from papers_cli.engine import fulltext
from papers_cli.engine import search as search_mod
from papers_cli.parsers import fulltext as ft
from papers_cli.storage import documents
from papers_cli.storage.connection import connect

TEXT_CHARS = 60_000
SECTIONS = ("Introduction", "Related Work", "Method", "Experiments", "Analysis",
            "Limitations", "Conclusion")
QUERIES = ("activation sparsity", "mixture of experts", "gradient descent convergence",
           "protein folding", "theorem proving", "sparse routing")


def _sentence(rng: random.Random) -> str:
    words = rng.choices(generate.VOCAB, cum_weights=generate.CUM_WEIGHTS, k=rng.randint(12, 26))
    if rng.random() < 0.15:
        words.insert(rng.randrange(len(words)), "$x_{t}^{2}$")
    return " ".join(words).capitalize() + "."


def _paragraph(rng: random.Random, chars: int) -> str:
    out, n = [], 0
    while n < chars:
        s = _sentence(rng)
        out.append(s)
        n += len(s) + 1
    return " ".join(out)


def _plan(rng: random.Random) -> list[tuple[str, list[tuple[str, list[str]]]]]:
    """Sections, each with subsections (title, paragraphs), summing to ~TEXT_CHARS."""
    per_section = TEXT_CHARS // len(SECTIONS)
    plan = []
    for i, name in enumerate(SECTIONS, 1):
        subs = []
        for j in range(1, rng.randint(2, 4)):
            paras = [_paragraph(rng, rng.randint(500, 1400))
                     for _ in range(max(1, per_section // 2 // 900))]
            subs.append((f"{i}.{j} {name} part {j}", paras))
        plan.append((f"{i} {name}", subs))
    return plan


def make_html(seed: int, arxiv: str) -> bytes:
    """A LaTeXML page of a paper (as arxiv.org/html serves its article)."""
    rng = random.Random(seed)
    title = html.escape(" ".join(rng.choices(generate.VOCAB[40:2000], k=7)).title())
    parts = [f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}'
             '</title></head><body><div class="ltx_page_main"><div class="ltx_page_content">'
             f'<article class="ltx_document ltx_authors_1line"><h1 class="ltx_title '
             f'ltx_title_document">{title}</h1><div class="ltx_abstract"><h6 class="ltx_title '
             f'ltx_title_abstract">Abstract</h6><p class="ltx_p">'
             f'{html.escape(_paragraph(rng, 900))}</p></div>']
    for s, (name, subs) in enumerate(_plan(rng), 1):
        parts.append(f'<section id="S{s}" class="ltx_section"><h2 class="ltx_title '
                     f'ltx_title_section">{html.escape(name)}</h2>')
        for k, (sub, paras) in enumerate(subs, 1):
            parts.append(f'<section id="S{s}.SS{k}" class="ltx_subsection"><h3 class="ltx_title '
                         f'ltx_title_subsection">{html.escape(sub)}</h3>')
            for p in paras:
                body = html.escape(p).replace(
                    "$x_{t}^{2}$", '<math alttext="x_{t}^{2}" class="ltx_Math" display="inline">'
                    "<semantics><msubsup><mi>x</mi><mi>t</mi><mn>2</mn></msubsup></semantics>"
                    "</math>")
                parts.append(f'<div class="ltx_para"><p class="ltx_p">{body}</p></div>')
            parts.append(f'<figure class="ltx_figure"><figcaption class="ltx_caption">Figure '
                         f'{s}.{k}: {html.escape(_sentence(rng))}</figcaption></figure></section>')
        parts.append("</section>")
    parts.append('<section class="ltx_bibliography"><h2 class="ltx_title ltx_title_bibliography">'
                 'References</h2><ul class="ltx_biblist">')
    parts += [f'<li class="ltx_bibitem"><span class="ltx_bibblock">{html.escape(_sentence(rng))}'
              "</span></li>" for _ in range(25)]
    parts.append(f'</ul></section></article></div></div><div class="ltx_page_footer">arXiv:'
                 f"{arxiv}v1</div></body></html>")
    return "".join(parts).encode()


def make_markdown(seed: int, arxiv: str) -> bytes:
    """The site's Markdown of a paper (/papers/{id}.md)."""
    rng = random.Random(seed)
    title = " ".join(rng.choices(generate.VOCAB[40:2000], k=7)).title()
    out = [f"Title: {title}\n\nURL Source: https://arxiv.org/html/{arxiv}v1\n\n"
           f"Markdown Content:\n{title}\n{'=' * len(title)}\n\n###### Abstract\n\n"
           f"{_paragraph(rng, 900)}\n"]
    for name, subs in _plan(rng):
        out.append(f"\n{name}\n{'-' * len(name)}\n")
        for k, (sub, paras) in enumerate(subs, 1):
            out.append(f"\n### {sub}\n")
            out += [f"\n{p}\n" for p in paras]
            out.append(f"\nFigure {k}: {_sentence(rng)}\n")
    out.append("\nReferences\n----------\n")
    out += [f"\n*   [{i}]{_sentence(rng)}\n" for i in range(1, 26)]
    return "".join(out).encode()


def _rate(make: Callable[[int, str], bytes], n: int) -> tuple[float, float]:
    """Documents extracted a second (one core), and the mean text extracted a document."""
    docs = [make(i, f"2501.{i:05d}") for i in range(n)]
    t = time.perf_counter()
    chars = sum(sum(len(p.text) for p in ft.extract(d).passages) for d in docs)
    return n / (time.perf_counter() - t), chars / n


def _extracted(i: int) -> fulltext.Extracted:
    return fulltext.extract(make_markdown(i, f"2501.{i:05d}"))


def _corpus(db: Path, n: int, report: Any) -> float:
    """A corpus of `n` papers with text (Markdown documents, extracted once and stored as
    fetch stores them); the database growth per character of text extracted."""
    db.unlink(missing_ok=True)
    conn = connect(db, create=True)
    with conn:
        conn.executemany("INSERT INTO papers (id, title, title_key, abstract) VALUES (?, ?, ?, ?)",
                         [(i, f"Paper {i}", f"paper {i}", _paragraph(random.Random(i), 400))
                          for i in range(1, n + 1)])
    conn.execute("VACUUM")
    before = db.stat().st_size
    chars = 0
    now = "2026-12-06T00:00:00+00:00"
    t = time.perf_counter()
    # Documents made and extracted on every core, stored here (one writer, as fetch).
    with multiprocessing.Pool() as pool:
        for i, doc in enumerate(pool.imap(_extracted, range(1, n + 1), chunksize=8), 1):
            chars += sum(len(p.text) for p in doc.text.passages)
            fulltext.store(conn, i, doc, f"https://huggingface.co/papers/2501.{i:05d}.md", now)
    wall = time.perf_counter() - t
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    growth = (db.stat().st_size - before) / chars
    report(n, "fulltext", "ingest (extract + store) docs/s", n / wall, "docs/s", 20,
           "extraction target", True, "Markdown documents as above; all cores extract")
    return growth


def bench(work: Path, report: Any, sizes: tuple[int, ...] = (1_000, 10_000)) -> None:
    md_rate, md_chars = _rate(make_markdown, 40)
    report(0, "fulltext", "extract Markdown docs/s", md_rate, "docs/s", 20, "target >= 20/s",
           True, f"{md_chars / 1000:.0f} K chars a document, one core")
    html_rate, html_chars = _rate(make_html, 20)
    report(0, "fulltext", "extract arXiv HTML docs/s", html_rate, "docs/s", 5, "target >= 5/s",
           True, f"{html_chars / 1000:.0f} K chars a document, one core")
    for n in sizes:
        db = work / f"fulltext-{n}.db"
        growth = _corpus(db, n, report)
        report(n, "fulltext", "database growth / text extracted", growth, "x", 2.5,
               "budget 2.5x", False, "raw kept compressed; passages, FTS index")
        conn = connect(db)
        times = []
        for _ in range(5):
            for q in QUERIES:
                t = time.perf_counter()
                search_mod.search(conn, q, limit=20, mode="full-text").hits  # noqa: B018
                times.append((time.perf_counter() - t) * 1000)
        times.sort()
        p95 = times[int(len(times) * 0.95) - 1]
        report(n, "fulltext", "search --full-text p95 (in-process)", p95, "ms", 300,
               "budget 300 ms", False, f"median {statistics.median(times):.0f} ms, "
               f"{documents.counts(conn)['passages']:,} passages")
        conn.close()


if __name__ == "__main__":  # a quick look: python benchmarks/bench_fulltext.py
    import tempfile

    def show(*a: Any, **k: Any) -> None:
        print(a)

    with tempfile.TemporaryDirectory() as d:
        bench(Path(d), show, sizes=(200,))
