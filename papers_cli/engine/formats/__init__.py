"""Whole records as documents: BibTeX, a Markdown reading list, and a digest as
Markdown or an Atom feed. Pure functions: records in, text out."""
