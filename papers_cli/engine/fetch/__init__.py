"""Fetch: the targets and URLs a fetch asks for (plan.py), the HTTP client (client.py:
httpx, imported only when a fetch runs), and running targets into the corpus (run.py)."""
