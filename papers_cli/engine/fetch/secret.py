"""HF_TOKEN: checked before any request is made, and kept out of every message.

A token that cannot be sent as it is (a line end from a file saved with CRLF, a
non-ASCII character) is refused up front with a line that names the variable, never
its value: sent anyway, httpx would fail with an error quoting the whole header.
"""

from __future__ import annotations

from collections.abc import Mapping

from papers_cli.core.errors import UserError

TOKEN_VAR = "HF_TOKEN"
MAX_TOKEN = 1024  # Hugging Face tokens are under 100 characters; a header must stay small
HIDDEN = "[HF_TOKEN]"


def token_problem(value: str) -> str | None:
    """What makes `value` unusable as a bearer token, without quoting any of it."""
    if "\r" in value or "\n" in value:
        return "a line end (a file saved with CRLF line ends?)"
    if not value.isascii():
        return "a non-ASCII character"
    if any(c.isspace() for c in value):
        return "a space or tab"
    if not value.isprintable():
        return "a control character"
    if len(value) > MAX_TOKEN:
        return f"more than {MAX_TOKEN} characters"
    return None


def token_from(environ: Mapping[str, str]) -> str | None:
    """The token to send (None when unset or empty); UserError (usage, exit 2) when it
    cannot be sent, naming the variable only."""
    value = environ.get(TOKEN_VAR)
    if not value:
        return None
    problem = token_problem(value)
    if problem:
        raise UserError(f"{TOKEN_VAR} cannot be sent: it holds {problem}; fix or unset it")
    return value


def redact(text: str, token: str | None) -> str:
    """`text` without the token, for text that came from the other side (a header, a
    body) and could echo what was sent."""
    return text.replace(token, HIDDEN) if token else text
