"""The errors an operation raises for the user: one line on stderr and an exit code.

Operations let them through; each front-end turns them into its own form (the CLI:
`papers: message` and the exit code; MCP: an error result), never a traceback.
"""

from __future__ import annotations

EXIT_OK, EXIT_NOTHING, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UserError(Exception):
    """Bad usage (code 2) or nothing found (code 1); the message is one line."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


class NotFound(UserError):
    """What was asked for is not in the corpus (exit 1)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, EXIT_NOTHING)


class QueryError(UserError):
    """A query that cannot be searched: empty, only exclusions, bad --raw syntax, or too
    costly (refused rather than run for long)."""
