"""The README's console examples run and print what they show (so they cannot drift).

Every ```console block's `$ ` lines run in order, in bash, in a temporary directory
that links sample_pages/ and tests/ from the repository, against one fresh database;
stdout and stderr together must match the lines shown up to the next `$ ` line.
In the expected text a line `...` stands for any number of lines and `...` inside a
line for any text (timestamps, absolute paths, long abstracts). Blocks that must not
run (merges, made-up files) are ```text.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def examples(text: str) -> list[tuple[int, str, list[str]]]:
    """(line number, command, expected output lines) of each `$ ` line in console blocks."""
    out: list[tuple[int, str, list[str]]] = []
    inside = False
    for n, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("```"):
            inside = stripped == "```console" and not inside
            continue
        if not inside:
            continue
        if stripped.startswith("$ "):
            out.append((n, stripped[2:], []))
        elif out and out[-1][0] < n and inside:
            out[-1][2].append(line)
    # A blank line ends an example's output when the next `$ ` follows.
    return [(n, cmd, _trim(lines)) for n, cmd, lines in out]


def _trim(lines: list[str]) -> list[str]:
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def matches(expected: list[str], got: list[str]) -> bool:
    """Whether `got` fits `expected`, with `...` lines and `...` inside lines as wildcards."""
    if not expected:
        return not got
    head, rest = expected[0], expected[1:]
    if head.strip() == "...":
        return any(matches(rest, got[i:]) for i in range(len(got) + 1))
    if not got:
        return False
    pattern = ".*".join(re.escape(part) for part in head.split("..."))
    return re.fullmatch(pattern, got[0]) is not None and matches(rest, got[1:])


def test_examples_found_and_matcher_works() -> None:
    found = examples(README.read_text(encoding="utf-8"))
    assert len(found) >= 10
    assert matches(["a", "...", "d ...z"], ["a", "b", "c", "d xyz"])
    assert not matches(["a", "b"], ["a", "c"])
    assert not matches(["a"], ["a", "extra"])


def test_readme_console_examples_run(tmp_path: Path) -> None:
    (tmp_path / "sample_pages").symlink_to(ROOT / "sample_pages")
    (tmp_path / "tests").symlink_to(ROOT / "tests")
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "PAGER", "BROWSER")}
    env.update(PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
               PAPERS_DB=str(tmp_path / "papers.db"), COLUMNS="100", LC_ALL="C.UTF-8")
    failures = []
    for line, command, expected in examples(README.read_text(encoding="utf-8")):
        res = subprocess.run(["bash", "-c", f"{{ {command}\n}} 2>&1"], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=120, check=False)
        got = _trim(res.stdout.splitlines())
        if not matches(expected, got):
            failures.append(f"README.md:{line}: $ {command}\n--- shown\n" + "\n".join(expected)
                            + "\n--- printed\n" + "\n".join(got))
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize("command", ["search", "export", "dedupe", "fetch"])
def test_help_examples_are_verbatim(command: str) -> None:
    """Help keeps example lines as written (click's \\b), not reflowed into a paragraph."""
    from papers_cli.cli.app import app

    source = next(c.help for c in app.registered_commands if c.callback and
                  c.callback.__name__ == command)
    assert source
    shown = {ln.strip() for ln in subprocess.run(
        [str(Path(sys.executable).parent / "papers"), command, "--help"], capture_output=True,
        text=True, check=True, env={**os.environ, "COLUMNS": "100"}).stdout.splitlines()}
    lines = [ln.strip() for ln in source.splitlines()
             if ln.strip().startswith(("papers ", "Example")) and "papers " in ln]
    assert lines
    for ln in lines:
        assert ln in shown, ln


def test_the_documented_field_rules_are_the_field_table() -> None:
    """docs/identity-and-merging.md's table of field rules says what core/fields says."""
    from papers_cli.core import fields

    text = (README.parent / "docs" / "identity-and-merging.md").read_text(encoding="utf-8")
    block = text.split("<!-- field rules: start -->")[1].split("<!-- field rules: end -->")[0]
    rows = [[c.strip().strip("`") for c in line.strip().strip("|").split("|")]
            for line in block.strip().splitlines()[2:]]
    want = [[f.name, f.rule.value, f.sighting or "(the sighting dates)"]
            for f in fields.PAPER_FIELDS if f.rule is not fields.Rule.KEY]
    assert rows == want
