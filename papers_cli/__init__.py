"""papers: a command-line corpus of Daily Papers listing pages, as a library and a CLI."""

__version__ = "0.1.0"
