"""BibTeX keys: family name + year + first significant title word, ASCII, never empty."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from papers_cli.core.bibkey import bibtex_key, family_name, title_word

HF = Path(__file__).parent / "fixtures" / "hf-api"


@pytest.mark.parametrize(("authors", "published", "title", "key"), [
    (["Yuqi Luo", "Chenyang Song"], "2024-11-04", "Sparsing Law: Towards Large Language Models",
     "luo2024sparsing"),
    (["Wei Zhang"], "2025-01-02", "Scaling Laws for Everything", "zhang2025scaling"),
    (["Hinrich Schütze"], "2025-03-01", "On the Theory of Everything", "schutze2025theory"),
    (["A. Author"], "2026-02-11", "μ_0: A Parametrization", "author2026mu"),
    (["A. Author"], "2026-02-11", "$\\mu$P Works", "author2026mu"),
    (["A. Author"], "2026-02-11", "A U-Net Study", "author2026net"),  # one-letter words skipped
    (["Luo, Yuqi"], "2024", "LLM$\\times$MapReduce", "luo2024llm"),
    (["Martin Luther King Jr."], "2024-01-01", "Towards a Dream", "king2024dream"),
    (["Łukasz Kaiser"], "2017-06-12", "Attention Is All You Need", "kaiser2017attention"),
])
def test_expected_keys(authors: list[str], published: str, title: str, key: str) -> None:
    assert bibtex_key(authors, published, title) == key


def test_fallbacks_never_empty() -> None:
    assert bibtex_key([], "2024-05-01", "Scaling Laws Revisited") == "scaling2024laws"
    assert bibtex_key(["Wei Zhang"], None, "Scaling") == "zhangndscaling"
    assert bibtex_key([], None, "") == "papernd"
    assert bibtex_key(["", "  "], "2023", "The Of") == "paper2023"
    assert re.fullmatch(r"[a-z0-9]+", bibtex_key(["🚀"], "2023-01-01", "Rockets"))


def test_parts() -> None:
    assert family_name("Ludwig van Beethoven") == "beethoven"
    assert family_name("van Beethoven, Ludwig") == "vanbeethoven"
    assert title_word("The 3 Body Problem") == "body"
    assert title_word("Ελληνικά") == "ellinika"  # a Greek word is transliterated, not spelt


def test_real_papers_give_ascii_keys() -> None:
    n = 0
    for path in sorted(HF.glob("*.json")):
        for item in json.loads(path.read_text()):
            p = item["paper"]
            key = bibtex_key([a["name"] for a in p["authors"]], p["publishedAt"], item["title"])
            assert re.fullmatch(r"[a-z0-9]+", key), key
            assert p["publishedAt"][:4] in key
            first = p["authors"][0]["name"].split()[-1].lower()
            if first.isascii() and first.isalpha():
                assert key.startswith(first), (key, first)
            n += 1
    assert n > 50
