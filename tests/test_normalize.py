"""Title keys, abstract agreement and code links: what decides that two records are one paper."""

from __future__ import annotations

import pytest

from papers_cli.core.normalize import abstracts_agree, extract_code_links, title_key

ABSTRACT = ("We study how sparse activations emerge in large language models and show that "
            "sparsity grows with training data, which we measure on six model families.")


def test_title_key_folds_case_punctuation_unicode() -> None:
    assert title_key("Omni-Mol: Exploring  Universal") == "omni mol exploring universal"
    assert title_key("Ｅｆｆｉｃｉｅｎｔ ﬁne–tuning “now”") == "efficient fine tuning now"
    assert title_key("Café Déjà Vu") == title_key("cafe deja vu")
    assert title_key("GPT-3") != title_key("GPT-4")


@pytest.mark.parametrize("a, b, same", [
    (ABSTRACT, ABSTRACT, True),
    (ABSTRACT, "  " + ABSTRACT.replace(" ", "\n", 3) + " ", True),  # whitespace only
    (ABSTRACT, ABSTRACT[:120] + "…", True),  # a truncated copy, either way round
    (ABSTRACT[:120] + "...", ABSTRACT, True),
    (ABSTRACT, ABSTRACT.replace("six", "seven"), True),  # a revised abstract
    (ABSTRACT, None, True),  # one side unknown
    (ABSTRACT, "We present a benchmark of protein folding methods across ten datasets "
               "and release code and models for all of them.", False),
])
def test_abstracts_agree(a: str, b: str | None, same: bool) -> None:
    assert abstracts_agree(a, b) is same
    assert abstracts_agree(b, a) is same


def test_code_links() -> None:
    text = ("We release it. Code is available at https://example.org/x/y. "
            "See https://github.com/a/b (and https://arxiv.org/abs/1). Data: https://foo.org/z.")
    assert extract_code_links(text) == ["https://example.org/x/y", "https://github.com/a/b"]
    assert extract_code_links("no links here") == []
