"""The options of every command, said once, and the one check their values pass.

A verb's `Args` is a dataclass; each field is declared with `option(...)`, which
carries its help text, its command-line spellings, its choices and bounds, and
which front-ends offer it. The typer commands, the search fast path and the MCP
tools' JSON schemas are all generated from these fields (cli/build.py,
cli/fastpath.py, mcp/tools.py), and `check` validates an Args however it was
filled: from a command line, an MCP call or a library caller.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from papers_cli.core.errors import UserError
from papers_cli.core.sanitize import for_terminal
from papers_cli.core.validate import is_utf8

MAX_COUNT = 2**53  # counts and limits beyond this are not counts (SQLite integers: 64 bits)
MAX_OPTION_TEXT = 100_000  # a query or a name longer than this is a paste, not an option
CLI, MCP = "cli", "mcp"
BOTH = frozenset((CLI, MCP))


@dataclass(frozen=True)
class Spec:
    """How one Args field is offered and checked."""

    help: str
    flags: tuple[str, ...] = ()  # command-line spellings; none: a positional argument
    metavar: str | None = None
    choices: tuple[str, ...] = ()
    lo: float | None = None
    hi: float | None = None
    fronts: frozenset[str] = BOTH
    hidden: bool = False
    envvar: str | None = None
    off: str | None = None  # the flag that sets a `bool | None` option False (--unread)
    max_len: int = MAX_OPTION_TEXT
    label: str = ""  # how messages name it (default: the first flag, else the field)
    file_name: bool = False  # names files: may hold bytes that are not UTF-8 (os.fsdecode)

    def name_for(self, attr: str) -> str:
        return self.label or (self.flags[0] if self.flags else attr.upper())


def option(default: Any, help: str, *flags: str, **spec: Any) -> Any:
    """A dataclass field for an Args class (a list default gets its own copy)."""
    meta = {"spec": Spec(help, tuple(flags), **spec)}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class Param:
    """One option of a verb, resolved: its name, type, default and spec."""

    name: str
    type: Any
    default: Any
    spec: Spec

    @property
    def base(self) -> Any:
        """The type without `| None` (list[str] stays list[str])."""
        args = [a for a in typing.get_args(self.type) if a is not type(None)]
        if typing.get_origin(self.type) in (typing.Union, _UnionType) and len(args) == 1:
            return args[0]
        return self.type

    @property
    def required(self) -> bool:
        return self.default is ...

    @property
    def optional(self) -> bool:
        return type(None) in typing.get_args(self.type)

    @property
    def many(self) -> bool:
        return typing.get_origin(self.base) is list

    def offered(self, front: str) -> bool:
        return front in self.spec.fronts


_UnionType = type(int | None)


def params(cls: type) -> list[Param]:
    """The options of an Args class, in declaration order."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        spec = f.metadata.get("spec")
        if spec is None:
            raise TypeError(f"{cls.__name__}.{f.name} is not declared with option()")
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING \
            else f.default
        out.append(Param(f.name, hints[f.name], default, spec))
    return out


def offered(cls: type, front: str) -> Iterator[Param]:
    return (p for p in params(cls) if p.offered(front))


def make(cls: type, values: dict[str, Any]) -> Any:
    """An Args from loose values (an MCP call's JSON): unknown names are refused, each
    value is coerced to the field's type where that is lossless, then `check`ed."""
    return check(cls(**coerced(cls, values)))


def coerced(cls: type, values: dict[str, Any]) -> dict[str, Any]:
    """Loose values (JSON) as the Args fields' types where that is lossless (2.0 is 2, an
    id given as a number is its text); unknown names are refused."""
    known = {p.name: p for p in params(cls)}
    bad = sorted(set(values) - set(known))
    if bad:
        raise UserError(f"unknown option{'s' if len(bad) > 1 else ''}: {', '.join(bad)}")
    return {k: _coerce(known[k], v) for k, v in values.items()}


def _coerce(p: Param, value: Any) -> Any:
    if value is None:
        return None
    base = p.base
    if base is Path and isinstance(value, str):
        return Path(value)
    if isinstance(value, float) and value.is_integer() and abs(value) <= MAX_COUNT:
        value = int(value)  # JSON 2.0 is the number 2 (a schema's "integer" takes it)
    if base is str and isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)  # an id given as a JSON number
    if p.many and isinstance(value, list):
        item = dataclasses.replace(p, type=typing.get_args(p.base)[0])
        return [_coerce(item, v) for v in value]
    if base is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def check(args: Any) -> Any:
    """Every option of `args` within its spec (type, choices, bounds, text); UserError
    (usage, exit 2) naming the option otherwise. Returns `args`."""
    for p in params(type(args)):
        value = getattr(args, p.name)
        if value is ...:
            raise UserError(f"{p.spec.name_for(p.name)}: missing (it is required)")
        if value is None:
            if not p.optional and p.default is not None:
                raise UserError(f"{p.spec.name_for(p.name)}: a value is required")
            continue
        items = value if p.many else [value]
        if p.many and not isinstance(value, list | tuple):
            raise UserError(f"{p.spec.name_for(p.name)}: expected a list")
        for item in items:
            _check_one(p, item)
    return args


def _check_one(p: Param, value: Any) -> None:
    name = p.spec.name_for(p.name)
    base = typing.get_args(p.base)[0] if p.many else p.base
    if base is bool:
        if not isinstance(value, bool):
            raise UserError(f"{name}: expected true or false, not {_show(value)}")
        return
    if base is int or base is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if base is int and ok and isinstance(value, float):
            ok = value.is_integer()
        if not ok or (isinstance(value, float) and not math.isfinite(value)):
            raise UserError(f"{name}: expected a number, not {_show(value)}")
        lo, hi = p.spec.lo, p.spec.hi
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise UserError(f"{name}: {_show(value)} is not in the range "
                            f"{_bound(lo)}..{_bound(hi)}")
        return
    if base is Path:
        if not isinstance(value, Path) or not str(value) or "\x00" in str(value):
            raise UserError(f"{name}: not a usable path")
        return
    if not isinstance(value, str):
        raise UserError(f"{name}: expected text, not {_show(value)}")
    if len(value) > p.spec.max_len:
        raise UserError(f"{name}: longer than {p.spec.max_len:,} characters")
    if "\x00" in value:
        raise UserError(f"{name}: contains a NUL character")
    if not p.spec.file_name and not is_utf8(value):
        # A command line's bytes that are not UTF-8 (kept by Python as lone surrogates):
        # no text that can be searched, stored or compared.
        raise UserError(f"{name}: not valid UTF-8 text ({_show(value)})")
    if p.spec.choices and value not in p.spec.choices:
        raise UserError(f"{name}: {_show(value)} is not one of {', '.join(p.spec.choices)}")


def _bound(b: float | None) -> str:
    return "" if b is None else f"{b:g}"


def _show(value: Any) -> str:
    text = for_terminal(repr(value))
    return text if len(text) <= 40 else text[:37] + "..."
