"""typer commands generated from the verbs' Args (and the command line's own output
options): signatures, help, choices, bounds and defaults come from core/options.py
specs, never copied. Each command's callback hands the parsed values to the verb's
presenter (cli/present.py), the same code the search fast path runs."""

from __future__ import annotations

import enum
import inspect
from typing import Annotated, Any

import typer

from papers_cli.cli.outputs import OUTPUTS, DbOption, NoOutput
from papers_cli.cli.present import run_command
from papers_cli.core.options import CLI, Param, offered
from papers_cli.verbs import Verb


def _choice_type(p: Param) -> type[enum.Enum]:
    """An Enum of the choices, so that help and shell completion list them."""
    return enum.Enum(f"{p.name.title()}Choice", {c: c for c in p.spec.choices},
                     type=str)  # type: ignore[return-value]


def _annotation(p: Param) -> tuple[Any, Any]:
    """(the annotated type, the default) of one option for typer."""
    s = p.spec
    base: Any = p.base
    if s.choices:
        base = _choice_type(p)
    default: Any = p.default
    if p.many:
        default = None if not p.required else ...
        base = list[str]
    if not s.flags:  # a positional argument
        info: Any = typer.Argument(help=s.help, metavar=s.metavar, show_default=False)
        typ = base if p.required else base | None
        return Annotated[typ, info], default
    names = list(s.flags)
    kw: dict[str, Any] = {"help": s.help, "hidden": s.hidden}
    if s.envvar:
        kw["envvar"] = s.envvar
    if (base is int or base is float) and (s.lo is not None or s.hi is not None):
        kw.update(min=s.lo, max=s.hi)
    if isinstance(default, str) and s.choices:
        default = base(default)
    typ = base if not (p.optional or p.many) else base | None
    if s.off:  # `--read` here, `--unread` its own flag (both given: a usage error)
        typ, default = bool, False
    if default is None or p.many or default is False:
        kw["show_default"] = False
    return Annotated[typ, typer.Option(*names, **kw)], default


def command(verb: Verb) -> Any:
    """The typer callback of a verb: its Args' options for the command line, then its
    output options, then --db."""
    args_cls, _, _ = verb.load()
    out_cls = OUTPUTS.get(verb.name, NoOutput)
    ours = [*offered(args_cls, CLI)]
    outs = [*offered(out_cls, CLI)]
    db = [*offered(DbOption, CLI)]
    params, hints = [], {}
    for p in [*ours, *outs, *db]:
        typ, default = _annotation(p)
        params.append(inspect.Parameter(p.name, inspect.Parameter.KEYWORD_ONLY,
                                        default=default, annotation=typ))
        hints[p.name] = typ
        if p.spec.off:
            off = Annotated[bool, typer.Option(p.spec.off, help=f"The opposite of "
                                                f"{p.spec.flags[0]}.", show_default=False)]
            params.append(inspect.Parameter(f"{p.name}__off", inspect.Parameter.KEYWORD_ONLY,
                                            default=False, annotation=off))
            hints[f"{p.name}__off"] = off
    # typer reads positional arguments in signature order; keyword-only keeps it.
    params.sort(key=lambda q: 0 if isinstance(_info(q), typer.models.ArgumentInfo) else 1)

    def callback(**values: Any) -> None:
        def plain(p: Param) -> Any:
            v = values.get(p.name)
            if p.spec.off:
                if v and values.get(f"{p.name}__off"):
                    raise typer.BadParameter(f"choose one of {p.spec.flags[0]} and "
                                             f"{p.spec.off}")
                return True if v else False if values.get(f"{p.name}__off") else None
            if isinstance(v, enum.Enum):
                return v.value
            if p.many and v is None:
                return []
            return v

        args = args_cls(**{p.name: plain(p) for p in ours})
        out = out_cls(**{p.name: plain(p) for p in outs})
        raise typer.Exit(run_command(verb.name, values.get("db"), args, out))

    callback.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    callback.__annotations__ = hints
    callback.__name__ = verb.name.split()[-1]
    return callback


def _info(p: inspect.Parameter) -> Any:
    meta = getattr(p.annotation, "__metadata__", ())
    return meta[0] if meta else None


def register(app: typer.Typer, verb: Verb, *, placeholder: bool = False) -> None:
    """Add a verb to `app` as a command (a placeholder without options lists it in the
    top-level help without importing the verb's module)."""
    name = verb.name.split()[-1]
    if placeholder:
        def listed() -> None:
            """(listed only)"""

        app.command(name, short_help=verb.summary, help=verb.summary)(listed)
        return
    _, _, text = verb.load()
    settings = {"ignore_unknown_options": True} if verb.name == "tag" else {}
    app.command(name, help=text, short_help=verb.summary,
                context_settings=settings)(command(verb))
