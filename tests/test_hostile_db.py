"""Hostile databases (damaged, truncated, not files, not ours, odd -wal files...):
every command ends in its exit code and, on error, one line, never a traceback;
doctor names what it finds and never dead-ends; what --recover makes passes doctor."""

from __future__ import annotations

from pathlib import Path

import pytest
from hostile_dbs import CASES
from typer.testing import CliRunner
from waysout import build

from papers_cli.cli.app import app

# case: (list, doctor, doctor --recover) exit codes (None: it depends on where the
# damage fell), and what doctor says.
ANY = None
EXPECT: dict[str, tuple[int | None, int, int | None, str]] = {
    "zero_length": (0, 0, 0, ""),  # an empty file is a new database
    "directory": (2, 2, 2, "is a directory"),
    "fifo": (2, 2, 2, "not a regular file"),
    "symlink_loop": (2, 2, 2, "symbolic links"),
    "dangling_symlink": (2, 2, 2, "no database at"),
    "symlink_to_a_good_one": (0, 0, 0, ""),
    "text_file": (2, 2, 2, "not a SQLite database"),
    "random_bytes": (2, 2, 2, "not a SQLite database"),
    "header_only": (2, 2, 2, "restore a backup"),
    "first_page_only": (2, 2, 2, "restore a backup"),
    "magic_damaged": (2, 2, 2, "not a SQLite database"),
    "page_size_damaged": (2, 2, 2, "not a SQLite database"),
    "schema_page_noise": (2, 2, 2, "restore a backup"),
    "truncated_to_one_page": (2, 2, 2, "restore a backup"),
    "truncated_to_half": (2, 1, 1, "doctor --recover"),
    "truncated_mid_page": (2, 1, 1, "doctor --recover"),
    "noise_mid_file": (ANY, 1, ANY, "doctor --recover"),
    "noise_at_the_end": (ANY, 1, ANY, "doctor --recover"),
    "noise_in_five_places": (ANY, 1, ANY, "doctor --recover"),
    "three_zeroed_pages": (ANY, 1, ANY, "doctor --recover"),
    "200_bit_flips": (ANY, 1, ANY, "doctor --recover"),
    "noise_on_personal_tags": (0, 1, 1, "personal_tags"),
    "wal_of_another_database": (2, 2, 2, "another program"),
    # SQLite reads another papers database's -wal as this one's: the papers then differ
    # from their sightings, which doctor sees (and --fix folds them back).
    "wal_of_another_papers_database": (0, 1, 0, "differ from what their sightings say"),
    "wal_without_its_database": (2, 2, 2, "only its -wal file"),
    "wal_of_garbage": (0, 0, 0, ""),
    "shm_of_garbage": (0, 0, 0, ""),
    "journal_of_garbage": (0, 0, 0, ""),
    "wal_with_a_commit_pending": (0, 1, 0, "differ from what their sightings say"),
    "database_of_another_program": (2, 2, 2, "another program"),
    "newer_schema": (2, 2, 2, "newer than this papers"),
    "negative_schema_version": (2, 2, 2, "not a papers database"),
    "table_dropped": (0, 1, 1, "table missing: sightings"),
    "rollback_journal_mode": (0, 0, 0, ""),
    "empty_sqlite_database": (0, 0, 0, ""),
    "garbage_in_a_column": (0, 1, 0, "bad value: paper 3"),
    "text_not_utf8": (0, 1, 1, "not UTF-8"),  # recover keeps it, with U+FFFD: a loss
    "odd_characters_in_the_path": (0, 0, 0, ""),
    "largest_rowid_then_noise": (ANY, 1, ANY, "doctor --recover"),
    "index_out_of_step": (0, 1, 0, "integrity check failed"),
}


def test_every_case_has_an_expectation() -> None:
    assert set(EXPECT) == set(CASES) and len(CASES) >= 30


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("corpus"))


def run(db: Path, *args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(app, ["--db", str(db), *args])
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert "Traceback" not in r.stderr, r.stderr
    if r.exit_code == 2:
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("papers: "), r.stderr
    return r.exit_code, r.stdout, r.stderr


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_database(pristine: Path, tmp_path: Path, case: str) -> None:
    list_rc, doctor_rc, recover_rc, says = EXPECT[case]
    db = CASES[case](pristine, tmp_path)
    rc, _, _ = run(db, "list", "--format", "ids", "--limit", "3")
    assert list_rc is None or rc == list_rc, case
    rc, _, err = run(db, "doctor")
    assert rc == doctor_rc and says in err, (case, err)
    if "doctor --recover" in err:
        assert "run 'papers doctor'" not in err  # a way out, not a loop
    out = tmp_path / "out" / "r.db"
    out.parent.mkdir()
    rc, _, err = run(db, "doctor", "--recover", str(out))
    assert recover_rc is None or rc == recover_rc, (case, err)
    if rc == 2:
        assert not out.exists()
    else:
        assert run(out, "doctor")[0] == 0, case  # what recover makes is whole
    if case == "index_out_of_step":
        assert run(db, "doctor", "--fix")[0] == 0 and run(db, "doctor")[0] == 0
