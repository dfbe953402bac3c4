"""Writing an output file so that a reader never sees half of it.

A regular file (or a new one) is written through a unique temporary file in the
same folder, then renamed over the target: never a fixed `<out>.part`, never
following a symlink planted there, removed on error or Ctrl-C, with the mode a
plain write would give. `-` is stdout; an existing non-regular target
(/dev/stdout, a FIFO, a terminal) is written to in place, never replaced.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def atomic_text(target: str | os.PathLike[str]) -> Iterator[IO[str]]:
    """A text stream whose content replaces `target` only when the block succeeds."""
    name = os.fspath(target)
    if name == "-":
        yield sys.stdout
        return
    path = Path(name)
    try:
        st = path.stat()  # follows a symlink: its target is what gets replaced
    except FileNotFoundError:
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode):
        with open(path, "w", encoding="utf-8", newline="") as fh:
            yield fh
        return
    real = Path(os.path.realpath(path))
    fd, tmp = tempfile.mkstemp(dir=real.parent, prefix=f".{real.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        if st is not None:
            mode = stat.S_IMODE(st.st_mode)
        else:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        os.replace(tmp, real)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
