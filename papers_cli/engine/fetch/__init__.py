"""Fetch: the targets and URLs a fetch asks for (plan.py), the HTTP client (client.py:
httpx, imported only when a fetch runs; deadline.py bounds each attempt), whether an
answer is about what was asked (trust.py), HF_TOKEN kept in check (secret.py),
running targets into the corpus (run.py), and papers' full texts (texts.py: the site's
Markdown, else arXiv's HTML)."""
