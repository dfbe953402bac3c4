"""The one error a library call raises for the user: a line on stderr and an exit code.

Commands let it through; the CLI group turns it into `papers: message` and the code
(no traceback), so commands need no try/except of their own.
"""

from __future__ import annotations


class UserError(Exception):
    """Bad usage (code 2) or nothing found (code 1); the message is one line."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code
