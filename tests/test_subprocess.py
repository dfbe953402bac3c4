"""A few end-to-end runs of the installed `papers` command through real pipes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from helpers import JAN, SAMPLES

PAPERS = str(Path(sys.executable).parent / "papers")


def _env(db: Path) -> dict[str, str]:
    return {**os.environ, "PAPERS_DB": str(db), "NO_COLOR": "1"}


def test_stdin_ingest_then_jsonl_pipe(tmp_path: Path) -> None:
    env = _env(tmp_path / "p.db")
    ing = subprocess.run([PAPERS, "ingest", "-"], input=JAN.read_bytes(), env=env,
                         capture_output=True, check=False)
    assert ing.returncode == 0, ing.stderr
    assert b"<stdin>: 14 papers (14 new)" in ing.stderr
    out = subprocess.run(
        f"'{PAPERS}' list --jsonl | '{sys.executable}' -c "
        "'import sys, json; print(sum(1 for l in sys.stdin if json.loads(l)[\"id\"]))'",
        shell=True, env=env, capture_output=True, text=True, check=False)
    assert out.stdout.strip() == "14" and out.stderr == ""


def test_head_closes_pipe_quietly(tmp_path: Path) -> None:
    env = _env(tmp_path / "p.db")
    subprocess.run([PAPERS, "ingest", str(SAMPLES)], env=env, capture_output=True, check=True)
    res = subprocess.run(f"set -o pipefail; '{PAPERS}' list | head -3", shell=True,
                         executable="/bin/bash", env=env, capture_output=True, text=True,
                         check=False)
    assert res.returncode == 0
    assert res.stderr == ""
    assert len(res.stdout.splitlines()) == 3


def test_show_json_through_process(tmp_path: Path) -> None:
    env = _env(tmp_path / "p.db")
    subprocess.run([PAPERS, "ingest", str(JAN)], env=env, capture_output=True, check=True)
    res = subprocess.run([PAPERS, "show", "1", "--json"], env=env, capture_output=True,
                         text=True, check=True)
    assert json.loads(res.stdout)["title"].startswith("Convergent Learning")


def test_user_error_has_no_traceback(tmp_path: Path) -> None:
    env = _env(tmp_path / "absent.db")
    res = subprocess.run([PAPERS, "list"], env=env, capture_output=True, text=True, check=False)
    assert res.returncode == 2
    assert res.stderr.startswith("papers: no database at")
    assert "Traceback" not in res.stderr
