"""The command line's own options: how a result is shown (formats and their shorthands,
an output file). The operation's options are the verbs' Args; a command takes both,
and the typer signature is generated from the two (cli/build.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from papers_cli.core.errors import UserError
from papers_cli.core.options import CLI, option
from papers_cli.render.rows import FORMATS, choose_format
from papers_cli.render.terminal import is_terminal

ONLY = frozenset((CLI,))


@dataclass
class DbOption:
    # The env var is read once, by the global --db (cli/app.py), so that `papers --db X
    # cmd` is never overridden by $PAPERS_DB.
    db: Path | None = option(None, "Database file (overrides the global --db and "
                             "PAPERS_DB).", "--db", fronts=ONLY, max_len=4096)


@dataclass
class NoOutput:
    """A command whose output has no format to choose."""


@dataclass
class RecordsOutput:
    format: str | None = option(None, "Default: table on a terminal, tsv otherwise.",
                                "--format", "-f", choices=FORMATS, fronts=ONLY)
    json: bool = option(False, "Shorthand for --format json.", "--json", fronts=ONLY)
    jsonl: bool = option(False, "Shorthand for --format jsonl.", "--jsonl", fronts=ONLY)
    csv: bool = option(False, "Shorthand for --format csv.", "--csv", fronts=ONLY)

    def chosen(self) -> str:
        """The format asked for (two different ones are a usage error), else the default."""
        try:
            return choose_format(self.format, json_=self.json, jsonl=self.jsonl,
                                 csv_=self.csv)
        except ValueError as e:
            raise UserError(str(e)) from None


@dataclass
class RowsOutput(RecordsOutput):
    """Rows that are not papers (`pages`): no BibTeX or Markdown."""

    format: str | None = option(None, "Default: table on a terminal, tsv otherwise.",
                                "--format", "-f",
                                choices=tuple(f for f in FORMATS if f not in ("bibtex", "md")),
                                fronts=ONLY)


@dataclass
class ReportOutput:
    format: str | None = option(None, "Default: table on a terminal, tsv otherwise.",
                                "--format", "-f", choices=("table", "tsv", "json"),
                                fronts=ONLY)
    json: bool = option(False, "Shorthand for --format json.", "--json", fronts=ONLY)

    def chosen(self) -> str:
        try:
            return choose_format(self.format, json_=self.json)
        except ValueError as e:
            raise UserError(str(e)) from None


@dataclass
class DigestOutput:
    format: str = option("table", "table, md, json or atom.", "--format", "-f",
                         choices=("table", "md", "json", "atom"), fronts=ONLY)
    output: str | None = option(None, "Write to FILE (atomically).", "--output", "-o",
                                fronts=ONLY, max_len=4096, file_name=True)


@dataclass
class ReadOutput:
    format: str | None = option(None, "md (Markdown source), text or json; default: rendered "
                                "Markdown on a terminal, text in a pipe.", "--format", "-f",
                                choices=("md", "text", "json"), fronts=ONLY)
    json: bool = option(False, "Shorthand for --format json.", "--json", fronts=ONLY)

    def chosen(self) -> str:
        """The format asked for, else "rich" (a terminal) or "text"."""
        if self.json and self.format not in (None, "json"):
            raise UserError(f"--json and --format {self.format} disagree; give one")
        if self.json:
            return "json"
        return self.format or ("rich" if is_terminal() else "text")


# The output options of each command that has some.
OUTPUTS: dict[str, type] = {
    "list": RecordsOutput, "show": RecordsOutput, "search": RecordsOutput,
    "similar": RecordsOutput, "pages": RowsOutput, "stats": ReportOutput,
    "dedupe": ReportOutput, "doctor": ReportOutput, "watch list": ReportOutput,
    "digest": DigestOutput, "read": ReadOutput,
}
