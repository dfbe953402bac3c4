"""Deterministic generator of text listing pages for benchmarks.

`generate(out_dir, n_papers, seed)` writes pages of ~60 records in the site's text
format: realistic ML titles, ~1.6 kB abstracts, author lines, dates with and
without years, comment counts; about 12% of records re-list an earlier paper and
about 3% of new papers are near-duplicates of an earlier one (title variants:
case, punctuation, a typo, a version suffix) with the same abstract.
Ground truth for the near-duplicates goes to `truth.jsonl`.
"""

from __future__ import annotations

import argparse
import calendar
import datetime as dt
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ADJ = ("Efficient Scalable Robust Sparse Unified Adaptive Hierarchical Generalist Multimodal "
       "Contrastive Causal Latent Diffusion-based Self-Supervised Federated Differentiable "
       "Equivariant Interpretable Lightweight Continual Probabilistic Structured Neural "
       "Autoregressive Retrieval-Augmented Long-Context Compositional").split()
NOUN = ("Transformers Attention Representations Agents Embeddings Policies Experts Tokenizers "
        "Decoders Encoders Graphs Priors Rewards Kernels Adapters Memories Circuits Features "
        "Activations Gradients Optimizers Solvers Networks Models Benchmarks Datasets").split()
TASK = ("Reasoning Retrieval Segmentation Translation Summarization Planning Navigation "
        "Molecule Design Code Generation Image Synthesis Speech Recognition Video "
        "Understanding Theorem Proving Protein Folding Recommendation Forecasting Detection "
        "Alignment Instruction Tuning Question Answering Robotics").split()
NAME = ("Omni Flux Nova Astra Helix Quanta Vortex Lumen Prism Zephyr Orion Atlas Echo Nimbus "
        "Sigma Delta Kappa Pulse Forge Spark Cortex Tensor Vector Matrix").split()
WORDS = ("we propose a novel method that improves the performance of large language models on "
         "challenging benchmarks while reducing compute and memory costs our approach leverages "
         "sparse activation patterns learned representations and adaptive routing across "
         "experts experiments show consistent gains over strong baselines in accuracy "
         "robustness and efficiency we further analyze scaling behaviour training dynamics and "
         "failure modes code and models are released to facilitate future research on "
         "convergent learning activation sparsity diffusion transformers reinforcement "
         "learning with verifiable rewards multimodal reasoning retrieval augmented generation "
         "mixture of experts quantization pruning distillation alignment safety evaluation "
         "graph neural networks protein structure molecular property prediction speech video "
         "robotics planning theorem proving contrastive pretraining tokenization "
         "interpretability circuits features neurons attention heads optimization gradient "
         "descent convergence generalization memorization grokking").split()


@dataclass
class Paper:
    title: str
    abstract: str
    authors: int
    published: dt.date
    comments: int


def _title(rng: random.Random) -> str:
    form = rng.random()
    name = rng.choice(NAME) + rng.choice(["", "-2", "-X", "Net", "LM", "-V"])
    a, n, t = rng.choice(ADJ), rng.choice(NOUN), rng.choice(TASK)
    a2, n2 = rng.choice(ADJ), rng.choice(NOUN)
    if form < 0.4:
        return f"{name}: {a} {n} for {t}"
    if form < 0.7:
        return f"{a} {n} for {t} with {a2} {n2}"
    if form < 0.85:
        return f"Towards {a} {t}: {name} and the Role of {n2}"
    return f"On the {a} {n} of {a2} {n2} in {t}"


STOP = "the of and to in a for we that is on with by as this our are from be an".split()
_SYLLABLES = ("ka lo mi nu ter vex pra sol dyn ric mor tal qui zen bor cal fen gra hol jor "
              "lum nar pel ros sim tor ul vin wex yor zal").split()


def _vocabulary(size: int = 30_000) -> tuple[list[str], list[float]]:
    """Words in Zipf order (stop words, ML words, then made-up rarer words) and the
    cumulative weights that make word frequencies follow Zipf's law, as in real text."""
    rng = random.Random(7)
    words = STOP + [w for w in WORDS if w not in STOP]
    seen = set(words)
    while len(words) < size:
        w = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4)))
        if w not in seen:
            seen.add(w)
            words.append(w)
    cum, total = [], 0.0
    for rank in range(1, len(words) + 1):
        total += 1.0 / rank
        cum.append(total)
    return words, cum


VOCAB, CUM_WEIGHTS = _vocabulary()


def _abstract(rng: random.Random, size: int = 1600) -> str:
    out: list[str] = []
    length = 0
    while length < size:
        sent = rng.choices(VOCAB, cum_weights=CUM_WEIGHTS, k=rng.randint(12, 24))
        s = " ".join(sent).capitalize() + "."
        out.append(s)
        length += len(s) + 1
    return " ".join(out)


def _variant(rng: random.Random, title: str) -> str:
    kind = rng.randrange(5)
    if kind == 0:
        return title.lower()
    if kind == 1:
        return title.replace(":", " -") + "."
    if kind == 2:  # one typo
        i = rng.randrange(2, max(3, len(title) - 2))
        return title[:i] + title[i + 1] + title[i] + title[i + 2:]
    if kind == 3:
        return title + " (v2)"
    return title.replace(" ", "  ", 1).upper()


def _negative(rng: random.Random, title: str) -> str:
    """A different paper whose title is close: another number, a survey of it, the same."""
    kind = rng.randrange(3)
    if kind == 0:
        return f"{title} II" if not title[-1].isdigit() else title[:-1] + str(
            (int(title[-1]) + 1) % 10)
    if kind == 1:
        return f"A Survey of {title}"
    return title  # the same title over a different abstract


def papers(n: int, seed: int) -> Iterator[tuple[Paper, str | None, str | None]]:
    """The n distinct papers in page order, each with its kind ("dup": a near-duplicate
    of an earlier paper; "neg": a different paper with a close title; None) and the
    earlier paper's title."""
    rng = random.Random(seed)
    made: list[Paper] = []
    start = dt.date(2016, 1, 1)
    for i in range(n):
        roll = rng.random()
        when = start + dt.timedelta(days=int(i * 3650 / max(n, 1)))
        if made and roll < 0.03:
            src = made[rng.randrange(len(made))]
            # Half the copies carry a revised abstract: found by title, not by abstract.
            abstract = src.abstract + (" We also release code and data." if rng.random() < 0.5
                                       else "")
            p = Paper(_variant(rng, src.title), abstract, src.authors, src.published, 0)
            yield p, "dup", src.title
        elif made and roll < 0.04:
            src = made[rng.randrange(len(made))]
            p = Paper(_negative(rng, src.title), _abstract(rng), rng.randint(1, 30), when, 0)
            yield p, "neg", src.title
        else:
            p = Paper(f"{_title(rng)} {i}" if rng.random() < 0.5 else _title(rng),
                      _abstract(rng), rng.randint(1, 30), when, 0)
            if i == 0:  # an older classic that early pages re-list (fixes their year)
                p.published = dt.date(2015, 6, 1)
            p.comments = rng.choice([0, 0, 0, 1, 2, 5])
            yield p, None, None
        if len(made) < 50_000:  # bounded memory: re-list and copy among recent papers
            made.append(p)
        else:
            made[rng.randrange(len(made))] = p


def _date(d: dt.date, page_year: int, comments: int) -> str:
    text = f"{calendar.month_abbr[d.month]} {d.day}"
    if d.year != page_year:
        text += f", {d.year}"
    return text + (f" {comments}" if comments else "")


def generate(out: Path, n: int, seed: int = 42, per_page: int = 60) -> dict[str, int]:
    """Write pages with n distinct papers (plus re-listings) under `out`."""
    pages_dir = out / "pages"
    pages_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed + 1)
    by_year: dict[int, Paper] = {}  # the latest paper of each year
    recent: list[Paper] = []
    page: list[Paper] = []
    pages = records = dups = 0
    truth = (out / "truth.jsonl").open("w")

    def flush() -> None:
        nonlocal pages, records
        latest = max(p.published for p in page)
        page_date = latest + dt.timedelta(days=rng.randint(1, 20))
        # As on real search pages, some paper of an earlier year is listed too, so the
        # page year can be inferred (the page itself never prints it).
        # (a paper of the year before: the inferred year is then the right one).
        if not any(p.published.year == page_date.year - 1 for p in page) \
                and page_date.year - 1 in by_year:
            page.append(by_year[page_date.year - 1])
        elif all(p.published.year >= page_date.year for p in page):
            older = [y for y in by_year if y < page_date.year]
            if older:
                page.append(by_year[max(older)])
        body = ["new", "Get trending papers in your email inbox!", "Subscribe", "Daily Papers",
                "byAK and the research community",
                f"{calendar.month_abbr[page_date.month]} {page_date.day}"]
        for p in page:
            body.append(f"{p.title}\n\n{p.abstract}\n\n  • {p.authors} authors\n·\n"
                        + _date(p.published, page_date.year, p.comments))
        (pages_dir / f"page-{pages:06d}.txt").write_text("\n\n".join(body) + "\n", encoding="utf-8")
        pages += 1
        records += len(page)
        page.clear()

    for i, (p, kind, src_title) in enumerate(papers(n, seed)):
        if kind is not None:
            dups += kind == "dup"
            truth.write(json.dumps({"index": i, "kind": kind, "title": p.title,
                                    "of": src_title}) + "\n")
        page.append(p)
        if recent and rng.random() < 0.12:  # a re-listing of a recent paper
            page.append(rng.choice(recent))
        recent.append(p)
        by_year[p.published.year] = p
        if len(recent) > 2000:
            recent.pop(0)
        if len(page) >= per_page:
            flush()
    if page:
        flush()
    truth.close()
    stats = {"papers": n, "pages": pages, "records": records, "near_duplicates": dups}
    (out / "manifest.json").write_text(json.dumps(stats))
    return stats


def rows(n: int, seed: int = 42) -> Iterator[tuple[str, str]]:
    """(title, abstract) of the same n papers, for the SQLite floor."""
    for p, _, _ in papers(n, seed):
        yield p.title, p.abstract


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("out", type=Path)
    ap.add_argument("-n", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    print(generate(args.out, args.n, args.seed))
