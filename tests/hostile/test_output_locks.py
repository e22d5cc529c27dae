"""Item 1 of issue 13: one process at a time writes into an output directory (run, generate, build).

Two `charter generate data -o DIR` at once used to leave every .jsonl with duplicated rows, and two
`charter run` on one directory made twice the calls. The second process is now refused at once with
a one-line error naming the holder's pid; the lock is an flock the kernel drops when the holder dies.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

import charter
from charter.io import LOCK_FILE, DirectoryLocked, output_dir_lock
from charter.targets.build import build
from helpers import MINIMAL
from hostile.conftest import one_error_line

# A child process that takes the lock on argv[1], says so, and holds it until its stdin closes.
HOLDER = textwrap.dedent("""\
    import sys
    from charter.io import output_dir_lock
    with output_dir_lock(sys.argv[1]):
        print("locked", flush=True)
        sys.stdin.read()
""")


def _refusal(directory: str, pid: int) -> str:
    return (f"charter: error: {directory} is in use by another Charter command (pid {pid}); wait for it to finish "
            "or choose another output directory")


@pytest.mark.parametrize("command", [
    ("build", "s.yaml", "-o", "out"),
    ("run", "s.yaml", "-m", "openai:model", "--judge", "openai:judge", "-o", "out"),
    ("generate", "data", "s.yaml", "--teacher", "openai:teacher", "--judge", "openai:judge", "-n", "4", "-o", "out"),
])
def test_a_second_process_is_refused_while_the_directory_is_locked(write, server, cli_process, tmp_path, command):
    write("s.yaml", MINIMAL)
    with output_dir_lock(tmp_path / "out"):
        result = cli_process(*command, cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert one_error_line(result.stderr) == _refusal("out", os.getpid())
        assert os.listdir(tmp_path / "out") == [LOCK_FILE]  # nothing written by the refused process
    assert server.calls() == 0
    assert not (tmp_path / "out").exists()  # the lock made the directory; nothing else was written there
    result = cli_process(*command, cwd=tmp_path)
    assert result.returncode in (0, 1), result.stderr  # 1: a run whose fake judge gives no verdict
    assert LOCK_FILE not in os.listdir(tmp_path / "out")


def test_the_library_is_refused_while_another_process_holds_the_lock(write, tmp_path):
    spec = charter.load(write("s.yaml", MINIMAL))
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path / "out")], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "locked\n"  # waits until the child holds the lock
        with pytest.raises(DirectoryLocked, match=f"pid {holder.pid}"):
            build(spec, tmp_path / "out")
        assert DirectoryLocked.exit_code == 2
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    build(spec, tmp_path / "out")  # released when the holder exits
    manifest = json.loads((tmp_path / "out/manifest.json").read_text())
    assert LOCK_FILE not in {a["path"] for a in manifest["artifacts"]}


def test_a_killed_holder_leaves_a_lock_file_that_locks_nothing(write, tmp_path):
    spec = charter.load(write("s.yaml", MINIMAL))
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path / "out")], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline() == "locked\n"
    holder.kill()
    holder.wait(timeout=60)
    holder.stdin.close()
    assert (tmp_path / "out" / LOCK_FILE).exists()
    # The directory holds only the dead holder's lock file: still an empty directory for a build.
    result = build(spec, tmp_path / "out")
    assert LOCK_FILE not in {a.path for a in result.artifacts}
    build(spec, tmp_path / "out")  # a rebuild: the lock file is neither stale output nor foreign
