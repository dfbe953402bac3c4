"""The inputs of an ingest: paths expanded into sources, and each page's bytes read
once (hashed as they are read, kept in memory or a private spool file), so that what
is parsed is exactly what was hashed, even if the file changes meanwhile or is a pipe."""

from __future__ import annotations

import contextlib
import errno
import glob
import hashlib
import io
import os
import tempfile
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from papers_cli.core.models import ParseError
from papers_cli.parsers import decode
from papers_cli.parsers.fulltext import arxiv_id_from_name

# Extensions picked up when a folder is given; a file named explicitly is read
# whatever its name, since the format is told by content.
SUPPORTED_SUFFIXES = {".txt", ".text", ".html", ".htm", ".json", ".jsonl", ".ndjson"}
# Saved full texts in a folder: only those named by an arXiv id (2406.17774v2.pdf), so
# that a README.md or a stray PDF beside the pages is not read as a paper's text.
TEXT_SUFFIXES = {".md", ".markdown", ".pdf"}
STDIN = "-"


@dataclass
class Source:
    """One input: a file path, or stdin when `path` is None."""

    name: str
    path: Path | None = None
    error: str | None = None  # set when the argument could not be turned into a file



def expand_paths(args: Sequence[str]) -> list[Source]:
    """Files, folders (recursive, supported files only), globs and '-' as sources.

    A path named twice is read once. Arguments that match nothing become
    sources with an error, so they are reported, not silently dropped.
    """
    out: list[Source] = []
    seen: set[str] = set()

    def add(path: Path) -> None:
        key = os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            out.append(Source(str(path), path))

    for arg in args:
        if arg == STDIN:
            if STDIN not in seen:
                seen.add(STDIN)
                out.append(Source("<stdin>"))
            continue
        try:
            _expand(arg, add, out)
        except OSError as e:  # a name too long, a loop of symbolic links, no permission
            out.append(Source(arg, error=_why(e)))
    return out


def _why(e: OSError) -> str:
    """What is wrong with a path, in the words of the rest of the report."""
    if e.errno == errno.ENOENT:
        return "no such file or directory"
    return (e.strerror or str(e)).lower()


def _expand(arg: str, add: Callable[[Path], None], out: list[Source]) -> None:
    """The sources one argument names (OSError: why it names none)."""
    p = Path(arg)
    try:
        p.stat()
    except OSError as e:
        if e.errno != errno.ENOENT or p.is_symlink():
            raise  # there, but not readable as a file or folder (a loop, a long name...)
        if not glob.has_magic(arg):
            raise
        matches = sorted(glob.glob(arg, recursive=True))
        if not matches:
            out.append(Source(arg, error="no file matches this pattern"))
        for m in matches:
            mp = Path(m)
            if mp.is_file():
                add(mp)
        return
    if p.is_dir():
        for f in sorted(p.rglob("*")):
            rel = f.relative_to(p).parts
            if (
                f.is_file()
                and (f.suffix.lower() in SUPPORTED_SUFFIXES
                     or (f.suffix.lower() in TEXT_SUFFIXES and arxiv_id_from_name(f.name)))
                and not any(part.startswith(".") for part in rel)
            ):
                add(f)
    else:
        add(p)



Opener = Callable[[], AbstractContextManager[IO[bytes]]]
HEAD = 65536  # bytes read to tell the format
IN_MEMORY_LIMIT = 8 << 20  # pages up to this size are held in memory, larger ones spooled
MAX_PAGE_BYTES = 2 << 30  # a "page" larger than this is not a listing page
_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")


class PageTooLarge(Exception):
    pass


@dataclass
class Body:
    """The bytes of one page, read once: hashed as they are read and kept (in memory,
    or in a private spool file for large pages), so what is parsed is exactly what was
    hashed, even if the file changes meanwhile or is a pipe."""

    sha: str
    size: int
    head: bytes
    data: bytes | None = None
    spool: str | None = None

    def open(self) -> AbstractContextManager[IO[bytes]]:
        if self.data is not None:
            return contextlib.nullcontext(io.BytesIO(self.data))
        assert self.spool is not None
        return open(self.spool, "rb")

    def discard(self) -> None:
        if self.spool is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.spool)
            self.spool = None


def read_once(stream: IO[bytes], limit: int = MAX_PAGE_BYTES) -> Body:
    """Read a page once, hashing it; refuse early what cannot be a listing page."""
    h = hashlib.sha256()
    buf = bytearray()
    spool: IO[bytes] | None = None
    size = 0
    head = b""
    try:
        while chunk := stream.read(1 << 20):
            if not head:
                head = chunk[:HEAD]
                if b"\x00" in head and not head.startswith(_BOMS):
                    decode(head)  # raises the precise error (binary, UTF-16 without a BOM)
                    raise ParseError("binary file (NUL byte), not a listing page", 1)
            size += len(chunk)
            if size > limit:
                raise PageTooLarge(f"larger than {limit >> 20} MiB: not a listing page")
            h.update(chunk)
            if spool is None and size > IN_MEMORY_LIMIT:
                spool = tempfile.NamedTemporaryFile(prefix="papers-", delete=False)  # noqa: SIM115
                spool.write(buf)
                buf = bytearray()
            if spool is not None:
                spool.write(chunk)
            else:
                buf += chunk
    except BaseException:
        if spool is not None:
            spool.close()
            os.unlink(spool.name)
        raise
    if spool is not None:
        spool.close()
        return Body(h.hexdigest(), size, head, spool=spool.name)
    return Body(h.hexdigest(), size, head, data=bytes(buf))

