"""The Model Context Protocol front-end: tools generated from the verbs' Args
(tools.py) and the stdio server on the official SDK (server.py)."""
