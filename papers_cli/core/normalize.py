"""Normalising titles and abstracts so the same paper is recognised across pages."""

from __future__ import annotations

import re
import unicodedata

_ASCII_PUNCT_RE = re.compile(r"[^a-z0-9]+")
_URL_RE = re.compile(r"https?://[^\s<>\"'\]\[{}|\\^`]+", re.IGNORECASE)
# Hosts whose links are code or model/data repositories.
CODE_HOSTS = (
    "github.com",
    "gitlab.com",
    "bitbucket.org",
    "huggingface.co",
    "anonymous.4open.science",
    "codeberg.org",
    "gitee.com",
    "sourceforge.net",
)
# Revised abstracts of one paper stay above this rapidfuzz ratio; abstracts of
# different papers that happen to share a title fall far below it.
ABSTRACT_AGREEMENT = 80.0


def fold_whitespace(text: str) -> str:
    """Collapse every run of whitespace to one space and strip the ends."""
    # Most texts are folded already: tested in C without splitting them into words.
    # (Every whitespace character but the space is unprintable to str.isprintable.)
    if text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " ":
        return text
    return " ".join(text.split())


def title_key(title: str) -> str:
    """Case, spacing, punctuation, diacritics and Unicode forms folded away.

    Ligatures (NFKC), dashes and quotes (punctuation removed), accents
    (combining marks dropped) and case (casefold) all compare equal.
    """
    if title.isascii():  # the common case, ~10x faster than the general one
        return " ".join(_ASCII_PUNCT_RE.sub(" ", title.lower()).split())
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", title)).casefold()
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat.startswith("M"):
            continue
        out.append(ch if cat[0] in "LN" else " ")
    return " ".join("".join(out).split())


def abstracts_agree(a: str | None, b: str | None) -> bool:
    """Whether two abstracts can belong to one paper.

    Identical once whitespace is folded, nearly identical (a revised abstract),
    one a truncated copy of the other, or one of them missing.
    """
    if not a or not b or a == b:  # a re-listing: the same text (the common case)
        return True
    fa, fb = fold_whitespace(a), fold_whitespace(b)
    if fa == fb:
        return True
    short, long_ = sorted((fa.rstrip(".… "), fb.rstrip(".… ")), key=len)
    if len(short) >= 100 and long_.startswith(short):  # a truncated copy
        return True
    from rapidfuzz import fuzz  # here: search and list import this module, never reach this

    return fuzz.ratio(fa, fb, score_cutoff=ABSTRACT_AGREEMENT) > 0


def extract_code_links(text: str | None) -> list[str]:
    """URLs of code repositories mentioned in an abstract, in order, once each.

    A URL counts when its host is a known code host, or when the sentence it
    stands in speaks of code ("Code is available at https://...").
    """
    if not text or "://" not in text:  # most abstracts have no link: skip the regex
        return []
    links: list[str] = []
    for m in _URL_RE.finditer(text):
        url = m.group(0).rstrip(".,;:!?)'\"")
        # Balanced parentheses inside a URL are part of it.
        if url.count("(") > url.count(")") and m.group(0)[len(url) :].startswith(")"):
            url += ")"
        host = url.split("/")[2].lower() if url.count("/") >= 2 else ""
        sentence_start = max(text.rfind(". ", 0, m.start()), 0)
        sentence = text[sentence_start : m.start()].lower()
        if (
            any(host == h or host.endswith("." + h) for h in CODE_HOSTS) or "code" in sentence
        ) and url not in links:
            links.append(url)
    return links


def same_paper(stored: dict[str, object], values: dict[str, object]) -> bool:
    """The identity rule, once: a record with the same title key is the stored paper
    unless their arXiv ids differ or their abstracts clearly do."""
    a, b = stored.get("arxiv_id"), values.get("arxiv_id")
    if a and b and a != b:
        return False
    sa, sb = stored.get("abstract"), values.get("abstract")
    return abstracts_agree(sa if isinstance(sa, str) else None,
                           sb if isinstance(sb, str) else None)


def stored_path(path: str) -> str:
    """A file name as the corpus stores it (text): bytes of the name that are not UTF-8
    (kept by Python as lone surrogates) written as \\xNN escapes, the rest as it is."""
    if path.isascii():
        return path
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
