"""The command line: typer commands generated from the verbs' Args (app.py, build.py),
the search fast path without typer (fastpath.py), and how each command speaks
(records.py, browse.py, commands.py, curate.py) under one error guard (runtime.py)."""
