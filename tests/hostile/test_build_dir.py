"""Item 8 of issue 13: `charter build -o DIR` deletes only what Charter wrote and refuses a foreign directory.

A planted manifest.json used to make a rebuild delete the files it listed (precious.txt), and a
build into a non-Charter directory silently overwrote evals.jsonl and prompts/_default.md.
"""

from __future__ import annotations

import hashlib
import json
import os

import pytest

import charter
from charter.targets.build import OutputDirError, build
from helpers import MINIMAL
from hostile.conftest import one_error_line

PRECIOUS = "years of notes\n"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _planted_manifest(paths: dict[str, str], *, charter_marker: bool) -> str:
    data = {"artifacts": [{"path": p, "sha256": sha} for p, sha in paths.items()]}
    if charter_marker:
        data.update(manifest_version=1, tool={"name": "charter", "version": "0"})
    return json.dumps(data)


def test_a_planted_foreign_manifest_deletes_nothing_and_the_build_is_refused(write, cli, tmp_path):
    spec = write("s.yaml", MINIMAL)
    write("out/precious.txt", PRECIOUS)
    write("out/manifest.json", _planted_manifest({"precious.txt": _sha(PRECIOUS)}, charter_marker=False))
    result = cli("build", spec, "-o", "out")
    assert result.exit_code == 2
    assert one_error_line(result.stderr) == (
        "charter: error: out is not empty and holds no Charter build (no Charter manifest.json); refusing to write "
        "into it: choose a new or empty directory, or pass --force to overwrite")
    assert (tmp_path / "out/precious.txt").read_text() == PRECIOUS
    assert sorted(os.listdir(tmp_path / "out")) == ["manifest.json", "precious.txt"]


@pytest.mark.parametrize("listed", ["precious.txt", "../precious.txt", "/tmp/precious.txt", "sub/../precious.txt",
                                    "link/precious.txt"])
def test_a_charter_looking_manifest_cannot_delete_a_file_charter_did_not_write(write, cli, tmp_path, listed):
    """Marker or not, a file is deleted only if it holds the bytes the manifest recorded, inside DIR."""
    spec = write("s.yaml", MINIMAL)
    write("out/precious.txt", PRECIOUS)
    write("precious.txt", PRECIOUS)
    os.symlink(tmp_path, tmp_path / "out/link")
    # The attacker does not know the content, so the recorded hash is of something else ...
    write("out/manifest.json", _planted_manifest({listed: _sha("guess")}, charter_marker=True))
    assert cli("build", spec, "-o", "out").exit_code == 0
    assert (tmp_path / "out/precious.txt").read_text() == PRECIOUS
    assert (tmp_path / "precious.txt").read_text() == PRECIOUS


@pytest.mark.parametrize("listed", ["../precious.txt", "link/precious.txt", "/PRECIOUS"])
def test_even_a_matching_hash_deletes_nothing_outside_the_build_directory(write, cli, tmp_path, listed):
    spec = write("s.yaml", MINIMAL)
    outside = write("precious.txt", PRECIOUS)
    write("out/.keep", "")
    os.symlink(tmp_path, tmp_path / "out/link")
    listed = listed.replace("/PRECIOUS", str(tmp_path / outside))
    write("out/manifest.json", _planted_manifest({listed: _sha(PRECIOUS)}, charter_marker=True))
    result = cli("build", spec, "-o", "out")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "precious.txt").read_text() == PRECIOUS
    assert f"kept {listed}" in result.stderr


def test_a_rebuild_still_removes_what_it_wrote_and_keeps_what_was_edited(write, tmp_path):
    spec_path = write("s.yaml", MINIMAL + "contexts:\n  kids: {description: Children.}\n"
                                          "  teens: {description: Teenagers.}\n")
    build(charter.load(spec_path), "out")
    edited = tmp_path / "out/prompts/teens.md"
    edited.write_text(edited.read_text() + "\nmy own addition\n")
    spec_path.write_text(MINIMAL)
    result = build(charter.load(spec_path), "out")
    assert not (tmp_path / "out/prompts/kids.md").exists()  # unchanged since the build wrote it: removed
    assert edited.read_text().endswith("my own addition\n")  # changed by someone: kept, with a warning
    assert any(w.startswith("kept prompts/teens.md: changed since Charter wrote it") for w in result.warnings)


def test_a_non_charter_directory_is_refused_and_left_untouched(write, cli, tmp_path):
    spec = write("s.yaml", MINIMAL)
    write("proj/evals.jsonl", "my hand-written cases\n")
    write("proj/prompts/_default.md", "my prompt\n")
    result = cli("build", spec, "-o", "proj")
    assert result.exit_code == 2 and "pass --force" in one_error_line(result.stderr)
    assert (tmp_path / "proj/evals.jsonl").read_text() == "my hand-written cases\n"
    assert (tmp_path / "proj/prompts/_default.md").read_text() == "my prompt\n"
    assert not (tmp_path / "proj/manifest.json").exists()


def test_force_writes_into_a_non_charter_directory_and_deletes_nothing(write, cli, tmp_path):
    spec = write("s.yaml", MINIMAL)
    write("proj/evals.jsonl", "my hand-written cases\n")
    write("proj/notes.txt", PRECIOUS)
    write("proj/manifest.json", _planted_manifest({"notes.txt": _sha(PRECIOUS)}, charter_marker=False))
    result = cli("build", spec, "-o", "proj", "--force")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "proj/notes.txt").read_text() == PRECIOUS
    assert json.loads((tmp_path / "proj/manifest.json").read_text())["tool"]["name"] == "charter"
    assert (tmp_path / "proj/evals.jsonl").read_text() != "my hand-written cases\n"


def test_an_empty_or_new_directory_and_a_charter_build_are_fine(write, cli, tmp_path):
    spec = write("s.yaml", MINIMAL)
    (tmp_path / "empty").mkdir()
    assert cli("build", spec, "-o", "empty").exit_code == 0
    assert cli("build", spec, "-o", "empty").exit_code == 0  # now a Charter build
    assert cli("build", spec, "-o", "new/deeper").exit_code == 0


def test_a_file_as_the_output_directory_is_one_line(write, cli, tmp_path):
    spec = write("s.yaml", MINIMAL)
    write("out", PRECIOUS)
    result = cli("build", spec, "-o", "out")
    assert result.exit_code == 2
    assert one_error_line(result.stderr) == ("charter: error: out exists and is not a directory; "
                                             "choose a directory for the build")
    assert (tmp_path / "out").read_text() == PRECIOUS


def test_a_build_does_not_write_through_a_symlinked_folder(write, tmp_path):
    spec = charter.load(write("s.yaml", MINIMAL))
    build(spec, "out")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for child in (tmp_path / "out/prompts").iterdir():
        child.unlink()
    (tmp_path / "out/prompts").rmdir()
    os.symlink(elsewhere, tmp_path / "out/prompts")
    with pytest.raises(OutputDirError, match="prompts is a symbolic link"):
        build(spec, "out")
    assert list(elsewhere.iterdir()) == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_a_fifo_named_manifest_json_is_no_manifest_and_blocks_nothing(write, cli_process, tmp_path):
    spec = write("s.yaml", MINIMAL)
    (tmp_path / "out").mkdir()
    os.mkfifo(tmp_path / "out/manifest.json")
    result = cli_process("build", spec, "-o", "out", cwd=tmp_path)  # a child with a timeout: it used to block
    assert result.returncode == 2
    assert "holds no Charter build" in one_error_line(result.stderr)
