"""The MCP tools: each one a verb, its input schema generated from the verb's Args (the
options offered to MCP), and a handler that calls the verb as the CLI does.

What the MCP front-end adds is only what a model's context needs: results are
paged (`limit`, `offset`, `more`, `next_offset`), long text is cut to
`abstract_chars` (raisable), a record leaves out its sightings unless asked for
(`fields`), and every string is escaped as for a terminal (page text is hostile and
an assistant shows what it is given to a person). Nothing here imports the SDK.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import sqlite3
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

from papers_cli.core.errors import UserError
from papers_cli.core.options import MCP, Param, coerced, make, offered
from papers_cli.core.sanitize import for_terminal
from papers_cli.engine.fetch.plan import ARXIV
from papers_cli.mcp.rpc import short
from papers_cli.render.reading import reading_json
from papers_cli.storage.errors import StorageError, explain
from papers_cli.verbs import BY_NAME, Verb
from papers_cli.verbs.common import Events, Records, Session

DEFAULT_LIMIT = 10
MAX_LIMIT = 100
DEFAULT_ABSTRACT = 300
SHOW_ABSTRACT = 4000
MAX_TEXT = 100_000
SHOW_PAGES = 20
READ_CHARS = 20_000  # a stretch of full text a call gives unless asked for more
MAX_FETCH_TARGETS = 31  # a month of days: one call must not keep the server busy for hours
LONG_TEXT = ("abstract", "ai_summary")  # cut together with the abstract
ID_FIELDS = ("paper_id", "ids")  # take numbers as well as text
# What the tools call an Args field, where the name differs.
ALIASES = {"paper_id": "id"}

INSTRUCTIONS = (
    "A local corpus of Hugging Face Daily Papers (offline). Use `search` for topics "
    "(words are ANDed, \"phrases\", -exclude, a OR b, prefix*, title:/abstract:/author:, "
    "tag:/note:, text: for the full text), `show` for one paper in full, `outline` and "
    "`read` for its full text when held, `similar` for related papers, `list` to "
    "browse with filters, `stats` for an overview. Results are paged: pass `offset` = "
    "`next_offset` while `more` is true. Abstracts are cut to `abstract_chars` characters."
)


class ToolFailure(Exception):
    """A tool call that cannot be done; the message is the CLI's one line."""


@dataclass
class Context:
    """What every handler gets: the connection and how the server was started."""

    conn: sqlite3.Connection
    path: Path
    allow_write: bool = False
    base_url: str = "https://huggingface.co"

    def session(self) -> Session:
        return Session(self.path, Events(), shape="mcp", conn=self.conn)


def _schema(p: Param) -> dict[str, Any]:
    s = p.spec
    base = typing.get_args(p.base)[0] if p.many else p.base
    one: dict[str, Any] = {"type": {bool: "boolean", int: "integer", float: "number"}.get(
        base, "string")}
    if one["type"] == "string":
        one["maxLength"] = s.max_len
        if p.required:
            one["minLength"] = 1
        if p.name in ID_FIELDS:
            one["type"] = ["string", "integer"]
    if s.choices:
        one["enum"] = list(s.choices)
    if s.lo is not None:
        one["minimum"] = s.lo
    if s.hi is not None:
        one["maximum"] = s.hi
    out = {"type": "array", "items": one, "maxItems": 1000} if p.many else one
    if p.optional and not p.many and out["type"] in ("boolean", "integer", "number"):
        out["type"] = [out["type"], "null"]
    if p.default not in (None, ...) and not p.many:
        out["default"] = p.default
    return {**out, "description": s.help}


@dataclass(frozen=True)
class Tool:
    """One tool: a verb, the extra options MCP gives it, and how its result is shaped."""

    name: str
    description: str
    shape: Callable[[Context, Any, dict[str, Any]], Any]
    extra: dict[str, dict[str, Any]] = field(default_factory=dict)
    limits: dict[str, dict[str, Any]] = field(default_factory=dict)  # tighter for a model
    fixed: Callable[[Context], dict[str, Any]] | None = None  # values the server sets
    verb_name: str | None = None  # the verb, when the tool is named otherwise
    only: tuple[str, ...] | None = None  # the verb's options the tool offers (else all)
    defaults: dict[str, Any] = field(default_factory=dict)  # when the call gives none

    @property
    def verb(self) -> Verb:
        return BY_NAME[self.verb_name or self.name]

    @property
    def write(self) -> bool:
        return self.verb.writes

    def params(self) -> list[Param]:
        return [p for p in offered(self.verb.load()[0], MCP)
                if self.only is None or p.name in self.only]

    def output_schema(self) -> dict[str, Any]:
        if self.shape is not _page:
            return {"type": "object"}
        return {"type": "object", "required": ["results", "offset", "limit", "more",
                                               "next_offset"], "properties": {
            "results": {"type": "array", "items": {"type": "object"}},
            "offset": {"type": "integer"}, "limit": {"type": "integer"},
            "total": {"type": ["integer", "null"],
                      "description": "All matches (null when not counted)."},
            "more": {"type": "boolean", "description": "More results after these."},
            "next_offset": {"type": ["integer", "null"]}}}

    def input_schema(self) -> dict[str, Any]:
        props = {ALIASES.get(p.name, p.name): {**_schema(p), **self.limits.get(p.name, {})}
                 for p in self.params()}
        props.update(self.extra)
        required = [ALIASES.get(p.name, p.name) for p in self.params() if p.required]
        return {"type": "object", "properties": props, "required": required,
                "additionalProperties": False}

    def run(self, ctx: Context, args: dict[str, Any]) -> Any:
        args = dict(args)
        extra = {k: args.pop(k) for k in list(args) if k in self.extra}
        names = {ALIASES.get(p.name, p.name): p.name for p in self.params()}
        unknown = sorted(set(args) - set(names))
        if unknown:
            raise ToolFailure(f"{self.name}: unknown argument(s): {', '.join(unknown)}")
        args_cls, run, _ = self.verb.load()
        values = coerced(args_cls, {names[k]: v for k, v in args.items()})
        if self.shape is _page:
            limit = values.get("limit") or DEFAULT_LIMIT
            # list: one more than shown says whether more follow, without counting
            values["limit"] = limit + (1 if self.name == "list" else 0)
            extra["_limit"], extra["_offset"] = limit, values.get("offset") or 0
        for k, v in self.defaults.items():
            values.setdefault(k, v)
        if self.fixed is not None:
            values.update(self.fixed(ctx))
        session = ctx.session()
        kw = {"max_targets": MAX_FETCH_TARGETS} if self.name == "fetch" else {}
        result = self.shape(ctx, run(session, make(args_cls, values), **kw), extra)
        if session.events.notes and isinstance(result, dict):
            # Beside the result, not in it: a paper's own `notes` are the person's.
            result["messages"] = list(session.events.notes)
        return result


def _int(desc: str, lo: int, hi: int, default: int) -> dict[str, Any]:
    return {"type": "integer", "minimum": lo, "maximum": hi, "default": default,
            "description": desc}


ABSTRACT = _int("Cut abstracts (and AI summaries) to this many characters; 0 leaves them "
                "out.", 0, MAX_TEXT, DEFAULT_ABSTRACT)
PAGED = {"limit": {"maximum": MAX_LIMIT, "default": DEFAULT_LIMIT,
                   "description": f"Results to give (default {DEFAULT_LIMIT}, at most "
                                  f"{MAX_LIMIT})."}}


def _trim(rec: dict[str, Any], chars: int) -> dict[str, Any]:
    """Long free text cut to `chars` (dropped at 0), with a flag when cut."""
    cut = False
    for k in LONG_TEXT:
        v = rec.get(k)
        if not isinstance(v, str):
            continue
        if chars == 0:
            del rec[k]
            cut = True
        elif len(v) > chars:
            rec[k] = v[:chars].rstrip() + "…"
            cut = True
    if cut:
        rec["truncated"] = True
    return rec


def _page(ctx: Context, result: Records, extra: dict[str, Any]) -> dict[str, Any]:
    """A page of records: the verb was asked for limit+offset (it skips offset), and
    list one more than that, so `more` is known without counting."""
    chars = extra.get("abstract_chars", DEFAULT_ABSTRACT)
    limit, offset = extra["_limit"], extra["_offset"]
    rows = [_trim(dict(r), chars) for r in result.records]
    total = result.total
    more = len(rows) > limit if total is None else offset + limit < total
    out: dict[str, Any] = {"results": rows[:limit], "offset": offset, "limit": limit,
                           "total": total, "more": more,
                           "next_offset": offset + limit if more else None}
    if result.suggestions:
        out["did_you_mean"] = result.suggestions
    return out


def _show(ctx: Context, paper: Any, extra: dict[str, Any]) -> dict[str, Any]:
    rec = {**paper.record, "upvote_history": paper.history, "merged_from": paper.merged_from,
           "full_text": paper.full_text}
    rec = {k: v for k, v in rec.items() if k in (*paper.names, "upvote_history",
                                                 "merged_from", "pages", "full_text")}
    _trim(rec, extra.get("abstract_chars", SHOW_ABSTRACT))
    max_pages = extra.get("max_pages", SHOW_PAGES)
    pages = rec.get("pages") or []
    rec["pages_total"] = len(pages)
    rec["pages"] = pages[-max_pages:] if max_pages else []  # the latest sightings
    return rec


def _plain(value: Any) -> Any:
    """A result as JSON values (dataclasses by their fields)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    return value if value is None or isinstance(value, str | int | float | bool) else str(value)


def _reading(ctx: Context, reading: Any, extra: dict[str, Any]) -> dict[str, Any]:
    """A stretch of a paper's text and where the next one starts (null at the end)."""
    return reading_json(reading)


def _outline(ctx: Context, reading: Any, extra: dict[str, Any]) -> dict[str, Any]:
    return {"id": reading.paper_id, "full_text": reading.document, "sections": reading.outline}


def _fetched(ctx: Context, result: Any, extra: dict[str, Any]) -> dict[str, Any]:
    report = result.report
    if result.unreachable:
        raise ToolFailure(result.unreachable)
    if not hasattr(result, "targets"):  # full_text: engine.fetch.texts.TextReport
        return report.as_json()
    return {"summary": report.summary(result.targets), "failed": report.failed,
            "new_papers": report.new_papers,
            "outcomes": [{"target": o.target.label, "status": o.status, "message": o.message,
                          "records": o.records, "new_papers": o.new_papers}
                         for o in report.outcomes]}


TOOLS: tuple[Tool, ...] = (
    Tool("search", "Ranked search of titles, abstracts and authors (bm25), by words, by "
         "meaning or both. Query language: words ANDed and stemmed, \"exact phrase\", "
         "-exclude, a OR b, prefix*, title:word abstract:word author:name tag:x note:y "
         "text:word (in the full text). full_text=true searches inside the papers too: each "
         "hit gives the section and passage it was found in. raw=true takes an FTS5 "
         "expression.", _page, {"abstract_chars": ABSTRACT}, PAGED),
    Tool("read", "A paper's full text (Markdown, math as $TeX$), a stretch at a time: from "
         f"`start`, at most `max_chars` (default {READ_CHARS:,}); `next_start` is where the "
         "next stretch begins (null at the end). `section` reads one section (see outline).",
         _reading, limits={"max_chars": {
             "maximum": MAX_TEXT, "default": READ_CHARS, "description": "At most N "
             f"characters (default {READ_CHARS:,}), cut at a line end."}},
         defaults={"max_chars": READ_CHARS}),
    Tool("outline", "The sections of a paper's full text with their sizes in characters, "
         "to read one with read(section=...).", _outline, verb_name="read",
         only=("paper_id",), fixed=lambda ctx: {"outline": True}),
    Tool("show", "One paper in full: every field, its authors, your tags and notes, its "
         "upvote history and the pages it was seen on (latest `max_pages`).", _show,
         {"abstract_chars": _int("Cut the abstract to this many characters.", 0, MAX_TEXT,
                                 SHOW_ABSTRACT),
          "max_pages": _int("Sightings to include (the latest).", 0, 1000, SHOW_PAGES)}),
    Tool("similar", "Papers most like one paper (by meaning, else its most distinctive "
         "words), best first.", _page, {"abstract_chars": ABSTRACT}, PAGED),
    Tool("list", "Browse papers with filters, newest first by default (sort=rising: most "
         "upvotes gained over `days`).", _page, {"abstract_chars": ABSTRACT}, PAGED),
    Tool("stats", "The corpus at a glance: counts, date ranges, papers per year and month.",
         lambda ctx, r, e: r),
    Tool("digest", "What is new for your saved searches since the last digest or a date "
         "(a look: it does not move 'last').", lambda ctx, r, e: r.as_json()),
    Tool("tag", "Add or remove tags on papers (ids may also hold +tag / -tag words).",
         lambda ctx, r, e: {"ids": list(r), "result": _plain(r)}),
    Tool("note", "Append a note to a paper (or, with show, give its notes).",
         lambda ctx, r, e: _plain(r)),
    Tool("mark", "Mark papers read or unread, starred or not.",
         lambda ctx, r, e: {"ids": r}),
    Tool("fetch", "Fetch lists from the Hugging Face Daily Papers API into the corpus: one "
         f"day, a range of days (at most {MAX_FETCH_TARGETS}), a week, a month, the site's "
         "search, or single papers by arXiv id. With full_text=true: the full texts of "
         "papers of the corpus (ids, or tags/starred/query/since/until/all; at most "
         f"{MAX_FETCH_TARGETS} to fetch a call), from the site's Markdown, else arXiv's HTML; "
         "papers holding one are skipped unless refresh. Safe to re-run.", _fetched,
         fixed=lambda ctx: {"base_url": ctx.base_url,
                            "arxiv_url": os.environ.get("PAPERS_ARXIV_URL") or ARXIV}),
)
BY_TOOL = {t.name: t for t in TOOLS}


def active_tools(allow_write: bool) -> list[Tool]:
    """The tools a server started this way offers."""
    return [t for t in TOOLS if allow_write or not t.write]


def call(ctx: Context, name: str, args: dict[str, Any]) -> Any:
    """Run one tool; any failure becomes ToolFailure with one line (never a traceback)."""
    tool = BY_TOOL.get(name)
    if tool is not None and tool.write and not ctx.allow_write:
        raise ToolFailure(f"{name}: the server is read-only; start it with "
                          "'papers mcp --allow-write' to change the corpus")
    if tool is None:
        raise ToolFailure(f"unknown tool {short(name)}")
    try:
        check_arguments(tool, args)
        return clean(tool.run(ctx, args))
    except ToolFailure:
        raise
    except (UserError, StorageError) as e:
        raise ToolFailure(str(e)) from None
    except sqlite3.Error as e:
        raise ToolFailure(explain(e, ctx.path)) from None


@functools.cache
def _validator(name: str) -> Any:
    schema = BY_TOOL[name].input_schema()
    return jsonschema.validators.validator_for(schema)(schema)


def check_arguments(tool: Tool, args: dict[str, Any]) -> None:
    """`args` against the tool's input schema: ToolFailure naming the argument in a few
    words (jsonschema's own message quotes the whole value). A bad argument is a tool
    error, a result the model reads and can correct (MCP 2025-11-25, tools)."""
    err = jsonschema.exceptions.best_match(_validator(tool.name).iter_errors(args))
    if err is not None:
        raise ToolFailure(f"input validation error: {_why(err)}")


_JSON_TYPE = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array",
              dict: "object", type(None): "null"}


def _why(e: Any) -> str:
    """One schema error in a few words; values only through `short`."""
    where = ".".join(str(p) for p in e.absolute_path) or "arguments"
    want, got = e.validator_value, e.instance
    if e.validator == "required":
        return ", ".join(f"{k}: missing (it is required)" for k in want if k not in got)
    if e.validator == "additionalProperties":
        unknown = sorted(set(got) - set(e.schema.get("properties", {})))
        return f"unknown argument(s): {', '.join(short(k) for k in unknown[:5])}"
    if e.validator == "type":
        kinds = " or ".join(want) if isinstance(want, list) else want
        return f"{where}: expected {kinds}, not {_JSON_TYPE.get(type(got), 'a value')}"
    if e.validator == "minLength" and want == 1:
        return f"{where}: empty"
    sizes = {"maxLength": "longer than {:,} characters", "minLength": "shorter than {:,} "
             "characters", "maxItems": "more than {:,} items"}
    if e.validator in sizes:
        return f"{where}: {sizes[e.validator].format(want)} ({len(got):,})"
    if e.validator == "enum":
        return f"{where}: {short(got)} is not one of {', '.join(map(str, want))}"
    if e.validator in ("minimum", "maximum"):
        return f"{where}: {short(got)} is not in the range {e.schema.get('minimum', '')}.." \
               f"{e.schema.get('maximum', '')}"
    return f"{where}: {short(got)} does not satisfy {e.validator} {short(want)}"


def clean(value: Any) -> Any:
    """Every string escaped as for the terminal: page text is hostile, and an
    assistant shows what it is given to a person."""
    if isinstance(value, str):
        return for_terminal(value, multiline=True)
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return value
