"""The layout holds: layers import downward only, no import circles, all SQL in storage/,
imports at the top (but for the heavy libraries), modules small, and the front-ends
accept the same options for every verb they share.

Read from the source (ast), not from a running process: a rule broken anywhere fails
here with the file and line."""

from __future__ import annotations

import ast
import typing
from pathlib import Path

import pytest
import typer.main

from papers_cli.cli import app as cli
from papers_cli.cli import fastpath
from papers_cli.cli.outputs import OUTPUTS, DbOption, NoOutput
from papers_cli.core.options import CLI, MCP, offered
from papers_cli.mcp.tools import ALIASES, TOOLS
from papers_cli.verbs import VERBS

PKG = Path(__file__).resolve().parent.parent / "papers_cli"
LAYERS = {"core": 0, "storage": 1, "parsers": 1, "engine": 2, "render": 2, "verbs": 3,
          "cli": 4, "mcp": 4, "web": 4}
# Third-party libraries heavy enough to import late (start-up time), and the modules of
# ours that exist to wrap them (imported late by the code that needs them, for that).
HEAVY = {"numpy", "httpx", "mcp", "anyio", "bs4", "lxml", "rich", "feedgen", "rapidfuzz",
         "sqlite_utils", "tokenizers", "pypdf", "datasette", "typer", "uvicorn",
         "markdown_it", "mdit_py_plugins",
         # Not heavy themselves, but they pull in tempfile/shutil or selectors/threading/
         # locale (~15 ms), wanted only for the default path and the pager.
         "platformdirs", "subprocess", "anyascii"}
HEAVY_OWN = {
    "papers_cli.cli.app": "typer",
    "papers_cli.cli.fastpath": "the entry point chooses typer or not",
    "papers_cli.mcp.server": "the MCP SDK",
    "papers_cli.engine.fetch.client": "httpx", "papers_cli.engine.fetch.run": "httpx",
    "papers_cli.engine.fetch.texts": "httpx",
    "papers_cli.engine.vectors": "numpy", "papers_cli.engine.embeddings": "numpy",
    "papers_cli.engine.search.hybrid": "numpy", "papers_cli.engine.search.suggest": "rapidfuzz",
    "papers_cli.engine.dedupe": "rapidfuzz", "papers_cli.parsers.html": "bs4",
    "papers_cli.web.server": "Datasette and uvicorn (papers serve only)",
    # Record writers only some formats use: search in a pipe does not load them.
    "papers_cli.engine.formats.bibtex": "BibTeX keys (anyascii, bibkey's tables)",
    "papers_cli.engine.formats.markdown": "the Markdown writer",
}


def modules() -> dict[str, Path]:
    out = {}
    for f in sorted(PKG.rglob("*.py")):
        parts = list(f.relative_to(PKG.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = f
    return out


MODULES = modules()


def imports(path: Path) -> list[tuple[str, int, bool]]:
    """(module imported, line, inside a function) for every import of papers_cli's or
    a third party's in a file; `from a import b` counts b when b is a module."""
    tree = ast.parse(path.read_text())
    late: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            late |= {id(n) for n in ast.walk(node) if isinstance(n, ast.Import | ast.ImportFrom)}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno, id(node) in late) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                out.append((sub if sub in MODULES else node.module, node.lineno,
                            id(node) in late))
    return out


def graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {m: set() for m in MODULES}
    for mod, path in MODULES.items():
        for target, _, _ in imports(path):
            if target in MODULES and target != mod:
                edges[mod].add(target)
    return edges


def test_no_import_circles() -> None:
    edges = graph()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for n in sorted(edges[m]):
            if n.startswith(m + "."):  # a package's face importing its own modules
                continue
            if state.get(n) == 1:
                cycle = [*stack[stack.index(n):], n]
                pytest.fail("import circle: " + " -> ".join(cycle))
            if n not in state:
                visit(n)
        stack.pop()
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            visit(m)


def _layer(mod: str) -> int | None:
    parts = mod.split(".")
    return LAYERS.get(parts[1]) if len(parts) > 1 else None


def test_layers_import_downward_and_parsers_only_the_core() -> None:
    bad = []
    for mod, path in MODULES.items():
        for target, line, _ in imports(path):
            if target not in MODULES or _layer(mod) is None or _layer(target) is None:
                continue
            if mod.startswith("papers_cli.parsers") and not target.startswith(
                    ("papers_cli.core", "papers_cli.parsers")):
                bad.append(f"{path}:{line}: a parser imports {target}")
            if _layer(target) > _layer(mod):  # type: ignore[operator]
                bad.append(f"{path}:{line}: {mod} imports {target}, a layer above it")
    assert bad == []


def test_imports_sit_at_the_top_but_for_heavy_libraries() -> None:
    bad = []
    for mod, path in MODULES.items():
        for target, line, late in imports(path):
            if not late or target.split(".")[0] in HEAVY or target in HEAVY_OWN:
                continue
            if mod == "papers_cli.__main__":  # the entry point answers --version bare
                continue
            bad.append(f"{path}:{line}: {target} imported inside a function")
    assert bad == []


def test_all_sql_lives_in_storage() -> None:
    bad = []
    for mod, path in MODULES.items():
        if mod.startswith("papers_cli.storage"):
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if ".execute(" in line or ".executemany(" in line or "SELECT " in line:
                bad.append(f"{path}:{n}: {line.strip()}")
    assert bad == []


def test_modules_are_small_and_the_front_ends_thin() -> None:
    sizes = {m: len(p.read_text().splitlines()) for m, p in MODULES.items()}
    assert [m for m, n in sizes.items() if n > 400] == []
    typer_lines = sum(n for m, n in sizes.items()
                      if any(t.split(".")[0] in ("typer", "click")
                             for t, _, _ in imports(MODULES[m])))
    mcp_lines = sum(n for m, n in sizes.items()
                    if any(t.split(".")[0] == "mcp" for t, _, _ in imports(MODULES[m])))
    assert typer_lines <= 600 and mcp_lines <= 450


# ------------------------------------------------------------- the same options everywhere

def _click(name: str) -> typing.Any:
    group = typer.main.get_command(cli.build(name.split()[0]))
    cmd = group
    for word in name.split():
        cmd = cmd.commands[word]  # type: ignore[attr-defined]
    return cmd


@pytest.mark.parametrize("verb", VERBS, ids=[v.name for v in VERBS])
def test_the_command_line_takes_the_verbs_options(verb: typing.Any) -> None:
    args_cls, _, _ = verb.load()
    cmd = _click(verb.name)
    took = {p.name for p in cmd.params if p.name != "help" and not p.name.endswith("__off")}
    out_cls = OUTPUTS.get(verb.name, NoOutput)
    want = {p.name for cls in (args_cls, out_cls, DbOption) for p in offered(cls, CLI)}
    assert took == want


@pytest.mark.parametrize("tool", TOOLS, ids=[t.name for t in TOOLS])
def test_mcp_takes_the_verbs_options(tool: typing.Any) -> None:
    args_cls, _, _ = tool.verb.load()
    props = set(tool.input_schema()["properties"]) - set(tool.extra)
    assert props == {ALIASES.get(p.name, p.name) for p in offered(args_cls, MCP)
                     if tool.only is None or p.name in tool.only}


@pytest.mark.parametrize("tool", TOOLS, ids=[t.name for t in TOOLS])
def test_shared_verbs_offer_the_same_operation_options(tool: typing.Any) -> None:
    """Where the command line and MCP share a verb, they take the same options, but for
    the few a spec keeps to one front-end (a fetch's transport settings, a dry run)."""
    args_cls, _, _ = tool.verb.load()
    cli_only = {p.name for p in offered(args_cls, CLI)} - {p.name for p in offered(args_cls, MCP)}
    mcp_only = {p.name for p in offered(args_cls, MCP)} - {p.name for p in offered(args_cls, CLI)}
    assert mcp_only == set()
    # read --outline is the MCP tool `outline` (the same verb).
    assert cli_only <= {"base_url", "arxiv_url", "limit", "dry_run", "rate", "timeout",
                        "retries", "backoff", "outline"}


def test_the_fast_path_takes_the_search_commands_options() -> None:
    cmd = _click("search")
    flags = {o: p.name for p in cmd.params if p.param_type_name == "option" for o in p.opts}
    assert flags == {o: p.name for o, p in fastpath.OPTIONS.items()}
