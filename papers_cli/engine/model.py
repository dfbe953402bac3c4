"""Which embedding model papers uses, and the text of a paper it embeds: what stored
vectors are keyed by. Light (no numpy): a plain search asks whether vectors exist."""

from __future__ import annotations

import hashlib

MODEL = "wordllama-l2_supercat-256"
DIM = 256
# Bump when paper_text() changes: stored vectors then count as stale.
TEXT_RECIPE = 1
MODEL_ID = f"{MODEL}/text{TEXT_RECIPE}"


class ModelUnavailable(RuntimeError):
    """The embedding model's files are not installed."""


def paper_text(title: str | None, abstract: str | None) -> str:
    """The text of a paper that is embedded (title, then abstract)."""
    return f"{title or ''}\n{abstract or ''}".strip()


def text_hash(text: str) -> int:
    """A signed 64-bit hash of the embedded text (what staleness is judged by)."""
    digest = hashlib.blake2b(f"{MODEL_ID}\0{text}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)
