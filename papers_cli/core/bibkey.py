"""BibTeX citation keys in the form people expect: ``zhang2025scaling``.

First author's family name, the year, the first significant word of the title, all
lowercase ASCII. Transliteration is anyascii's (Schütze -> schutze); a Greek letter
standing alone (a symbol, as in "μ-law" or "$\\alpha$-Fold") is spelt out (mu, alpha),
because anyascii gives one Latin letter for it. Uniqueness suffixes (a, b, ...) are the
caller's job.
"""

from __future__ import annotations

import re

__all__ = ["bibtex_key", "family_name", "title_word"]

_GREEK = ("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron "
          "pi rho sigma tau upsilon phi chi psi omega").split()
# Lower- and upper-case Greek letters, final sigma and the micro sign (U+00B5), by name.
_GREEK_NAMES: dict[str, str] = {
    **{chr(0x3B1 + i + (i > 16)): n for i, n in enumerate(_GREEK)},
    **{chr(0x391 + i + (i > 16)): n for i, n in enumerate(_GREEK)},
    "ς": "sigma", "µ": "mu", "ϵ": "epsilon", "ϑ": "theta", "ϕ": "phi", "ϖ": "pi",
}
_GREEK_BLOCK = r"\u0370-\u03ff\u1f00-\u1fff"
_LONE_GREEK = re.compile(f"(?<![{_GREEK_BLOCK}])([{''.join(_GREEK_NAMES)}])(?![{_GREEK_BLOCK}])")
_TEX_GREEK = re.compile(r"\\(var)?(" + "|".join(_GREEK) + r")(?![a-zA-Z])", re.IGNORECASE)
_TEX_COMMAND = re.compile(r"\\[a-zA-Z]+")
_WORD = re.compile(r"[A-Za-z0-9]+")
_STOP = frozenset("""a an the on of to in for and or with without from by at via as into
onto over under upon towards toward beyond versus vs is are be do does can could should
would will what how why when where which who whose we our us you your it its this that
these those not no all any one""".split())
_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv", "phd", "md"})
_YEAR = re.compile(r"(1[89]|2[0-9])\d\d")


def _ascii(text: str) -> str:
    text = _TEX_GREEK.sub(lambda m: " " + m.group(2).lower() + " ", text)
    text = _TEX_COMMAND.sub(" ", text)  # \times, \textbf: markup, not words
    text = _LONE_GREEK.sub(lambda m: " " + _GREEK_NAMES[m.group(1)] + " ", text)
    from anyascii import anyascii  # its tables load through importlib.resources: BibTeX only

    return anyascii(text)


def family_name(author: str) -> str:
    """The family name of "Given Family", "Family, Given" or "Family Jr.", as lowercase
    ASCII letters and digits; "" when nothing is left."""
    name = author.split(",")[0] if "," in author else author
    words = [w.lower() for w in _WORD.findall(_ascii(name))]
    if "," not in author:
        while len(words) > 1 and words[-1] in _SUFFIXES:
            words.pop()
        words = words[-1:]
    return "".join(words)


def title_word(title: str, skip: int = 0) -> str:
    """The first significant word of a title (after `skip` of them): not a stop word,
    longer than one character, not a bare number."""
    found = 0
    for w in _WORD.findall(_ascii(title)):
        w = w.lower()
        if len(w) < 2 or w in _STOP or w.isdigit():
            continue
        if found == skip:
            return w
        found += 1
    return ""


def bibtex_key(authors: list[str], published: str | None, title: str) -> str:
    """``family + year + word``, e.g. ``zhang2025scaling``; never empty.

    No year gives "nd" (no date); no usable author gives the title's first two
    significant words around the year (``scaling2025laws``); nothing usable at all
    gives ``paper`` + year.
    """
    m = _YEAR.match(published.strip()) if published else None
    year = m.group(0) if m else "nd"
    family = next((f for f in (family_name(a) for a in authors) if f), "") if authors else ""
    first = title_word(title)
    if family:
        return f"{family}{year}{first}"
    if first:
        return f"{first}{year}{title_word(title, 1)}"
    return f"paper{year}"
