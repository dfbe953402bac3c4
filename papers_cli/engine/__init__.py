"""The work behind the verbs, free of any front-end: ingest (pages into the corpus),
fetch (the site's API), search (by words and by meaning), dedupe, export formats,
digests, embeddings. Uses storage/ for every SQL statement and parsers/ for pages."""
