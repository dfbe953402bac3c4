from __future__ import annotations

import signal
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

# A shell that starts the tests in the background (`make test &`, as a CI job may)
# leaves SIGINT ignored, and every child inherits that: a `papers` started by a test
# would then never see the Ctrl-C the Ctrl-C tests send. Handled here, children get
# the default disposition again.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

from helpers import SAMPLES, TODAY
from papers_cli.engine.ingest import expand_paths, ingest_sources
from papers_cli.storage.connection import connect


@pytest.fixture(autouse=True, scope="session")
def _cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Caches (papers_cli/cache.py) go to a temporary folder, never the user's, for
    this process and the `papers` processes tests start."""
    import os

    old = os.environ.get("PAPERS_CACHE_DIR")
    os.environ["PAPERS_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if old is None:
        os.environ.pop("PAPERS_CACHE_DIR", None)
    else:
        os.environ["PAPERS_CACHE_DIR"] = old


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "papers.db"


@pytest.fixture
def conn(db_path: Path) -> Iterator[sqlite3.Connection]:
    c = connect(db_path)
    yield c
    c.close()


@pytest.fixture
def sample_conn(conn: sqlite3.Connection) -> sqlite3.Connection:
    report = ingest_sources(conn, expand_paths([str(SAMPLES)]), today=TODAY)
    assert not report.failed
    return conn
