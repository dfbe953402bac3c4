"""The corpus database: every SQL statement of papers lives in this package, one concern
a module. Callers import the module they need (`from papers_cli.storage import read`):
`papers search` loads connection, read and search, not merges, pages or doctor.

connection  opening, pragmas, migrations          tx        the one transaction helper
schema      the numbered schema steps              errors    SQLite errors by error code
rows        a record made ready to store           fold      the merge rule and its fast paths
papers      sightings in, papers folded from them  pages     pages stored, listed and removed
identity    which paper an id, arXiv id or URL is  merges    dedupe's merge runs and undo
filters     the conditions that select papers      read      lists, ids, history, stats
records     whole records, as JSON or CSV cells    fts       the search index and its triggers
search      queries over the index                 vectors   embeddings' blocks
personal    tags, notes, marks, watches, digests   doctor    health checks and repairs
ids, sql    ids never reused; shared fragments

Every statement is parameterised; column names in SQL text come from the field table
(papers_cli/core/fields.py) only.
"""
