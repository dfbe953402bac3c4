"""The one place a transaction begins and ends.

At top level `write` takes the write lock up front (BEGIN IMMEDIATE: a writer
never upgrades a read lock and dies with SQLITE_BUSY halfway); inside an open
transaction it uses a uniquely named savepoint, so library calls nest inside a
caller's transaction as sqlite-utils' `atomic()` does.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

_names = itertools.count(1)


@contextmanager
def write(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """All of the block or none of it."""
    if conn.in_transaction:
        name = f"papers_sp{next(_names)}"
        conn.execute(f"SAVEPOINT {name}")
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:  # an error may already have ended the transaction
                conn.execute(f"ROLLBACK TO {name}")
                conn.execute(f"RELEASE {name}")
            raise
        conn.execute(f"RELEASE {name}")
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    try:
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


@contextmanager
def snapshot(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Every read of the block sees the same state of the database (a WAL read
    transaction), whatever other processes commit meanwhile; inside an open
    transaction the block already does."""
    if conn.in_transaction:
        yield conn
        return
    conn.execute("BEGIN")
    try:
        yield conn
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")  # nothing was written: ending the read is all


def begin(conn: sqlite3.Connection) -> None:
    """Open a long write transaction that several steps share (ingest batches); end it
    with `commit` or `rollback`."""
    if not conn.in_transaction:
        conn.execute("BEGIN IMMEDIATE")


def commit(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        conn.execute("COMMIT")


def rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        conn.execute("ROLLBACK")
