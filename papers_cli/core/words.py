"""Counts read right in messages: `1 paper`, `2 papers`."""

from __future__ import annotations


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"



def quoted(text: str, most: int = 80) -> str:
    """`text` quoted as a message shows it (repr: control, bidi and separator characters
    escaped, once), cut to `most` characters: a pasted 100 KB query is not echoed back
    whole."""
    if len(text) <= most:
        return repr(text)
    return f"{text[:most]!r}... ({len(text) - most:,} more characters)"
