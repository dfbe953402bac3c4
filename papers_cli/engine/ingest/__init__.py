"""Ingest: find the pages (sources.py), prepare them without the database (prepare.py,
on a worker process when there are many: worker.py), store each page in one
transaction (page.py), many pages in batches (run.py)."""

from __future__ import annotations

from papers_cli.engine.ingest.page import Options, ingest_bytes, ingest_stream
from papers_cli.engine.ingest.report import IngestReport, PageOutcome, Tally
from papers_cli.engine.ingest.run import Interrupted, ingest_sources
from papers_cli.engine.ingest.sources import Source, expand_paths

__all__ = ["IngestReport", "Interrupted", "Options", "PageOutcome", "Source", "Tally",
           "expand_paths", "ingest_bytes", "ingest_sources", "ingest_stream"]
