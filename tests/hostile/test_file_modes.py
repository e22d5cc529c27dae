"""Item 12 of issue 13: atomically written files get the usual mode (0666 less the umask), not 0600."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from charter.io import write_bytes_atomic, write_text_atomic
from helpers import MINIMAL

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")


@pytest.fixture
def umask():
    """Sets the process umask for one test and restores it."""
    previous = os.umask(0o022)
    os.umask(previous)

    def _set(mask: int) -> None:
        os.umask(mask)

    yield _set
    os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("mask,expected", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_a_new_file_gets_0666_less_the_umask(tmp_path, umask, mask, expected):
    umask(mask)
    write_text_atomic(tmp_path / "a" / "file.txt", "hello")
    assert _mode(tmp_path / "a" / "file.txt") == expected
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["file.txt"]  # no temporary file left


def test_a_replaced_file_keeps_its_mode(tmp_path, umask):
    umask(0o022)
    target = tmp_path / "private.json"
    target.write_text("old")
    target.chmod(0o600)
    write_bytes_atomic(target, b"new")
    assert target.read_bytes() == b"new" and _mode(target) == 0o600


def test_every_build_output_and_init_spec_follow_the_umask(write, cli, tmp_path, umask):
    umask(0o022)
    spec = write("s.yaml", MINIMAL)
    assert cli("build", spec, "-o", "out").exit_code == 0
    assert cli("init", "ada").exit_code == 0
    written = [p for p in (tmp_path / "out").rglob("*") if p.is_file()] + [tmp_path / "ada.yaml"]
    assert len(written) >= 8
    assert {p.relative_to(tmp_path).as_posix(): oct(_mode(p)) for p in written if _mode(p) != 0o644} == {}
