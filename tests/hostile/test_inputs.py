"""Item 10 of issue 13: unbounded or odd inputs are refused with one diagnostic and exit 2.

A device (/dev/zero read until MemoryError), a FIFO (blocked forever), a file over the size bound
and a symlink loop, as the entry spec, through `extends`, and as the cases file of `charter run`.
"""

from __future__ import annotations

import os

import pytest

import charter
from charter.diagnostics import UnreadableError
from helpers import MINIMAL
from hostile.conftest import one_error_line

needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
needs_dev_zero = pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero on this system")


@needs_dev_zero
def test_dev_zero_as_the_entry_spec(cli):
    result = cli("validate", "/dev/zero")
    assert result.exit_code == 2
    assert result.stdout.strip() == "/dev/zero:1:1: error: is a device, not a regular file [not-a-file]"


@needs_fifo
def test_a_fifo_as_the_entry_spec_is_refused_without_waiting_for_a_writer(tmp_path, cli_process):
    os.mkfifo(tmp_path / "pipe.yaml")
    # In a child process with a timeout: before the fix, reading a FIFO without a writer blocked forever.
    result = cli_process("validate", "pipe.yaml", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout.strip() == "pipe.yaml:1:1: error: is a FIFO (named pipe), not a regular file [not-a-file]"


@needs_fifo
@needs_dev_zero
def test_a_fifo_or_a_device_through_extends(write, tmp_path):
    os.mkfifo(tmp_path / "pipe.yaml")
    os.symlink("/dev/zero", tmp_path / "zero.yaml")
    for base, kind in (("pipe.yaml", "a FIFO (named pipe)"), ("zero.yaml", "a device")):
        spec = write("s.yaml", MINIMAL + f"extends: [{base}]\n")
        with pytest.raises(UnreadableError) as caught:
            charter.load(spec, allow_outside=True)
        assert caught.value.exit_code == 2
        [diagnostic] = caught.value.diagnostics
        assert diagnostic.code == "not-a-file" and (diagnostic.loc.line, diagnostic.loc.col) == (12, 11)
        assert diagnostic.message.endswith(f"is {kind}, not a regular file")


def test_a_spec_over_the_size_bound(write, cli, monkeypatch):
    spec = write("big.yaml", MINIMAL + "notes: " + "x" * 5000 + "\n")
    monkeypatch.setenv("CHARTER_MAX_SPEC_BYTES", "4000")
    result = cli("validate", spec)
    assert result.exit_code == 2
    assert result.stdout.strip() == ("big.yaml:1:1: error: is larger than 4,000 bytes; refusing to read it "
                                     "(set CHARTER_MAX_SPEC_BYTES to raise the bound) [too-large]")
    monkeypatch.setenv("CHARTER_MAX_SPEC_BYTES", "100000")
    assert cli("validate", spec).exit_code == 0


def test_the_default_bound_is_20_mb(write, cli, monkeypatch):
    monkeypatch.delenv("CHARTER_MAX_SPEC_BYTES", raising=False)
    spec = write("huge.yaml", b"")
    with open(spec, "wb") as handle:  # sparse: the size is what is checked, before any byte is read
        handle.truncate(20_000_001)
    result = cli("validate", spec)
    assert result.exit_code == 2 and "[too-large]" in result.stdout and "20,000,000 bytes" in result.stdout


def test_an_extended_file_over_the_bound_is_reported_at_the_extends_entry(write, cli, monkeypatch):
    write("base.yaml", "charter: 1\nid: base\nname: Base\nnotes: " + "x" * 5000 + "\n")
    spec = write("s.yaml", MINIMAL + "extends: [base.yaml]\n")
    monkeypatch.setenv("CHARTER_MAX_SPEC_BYTES", "4000")
    result = cli("validate", spec)
    assert result.exit_code == 2
    assert result.stdout.strip() == ("s.yaml:12:11: error: extends base.yaml: is larger than 4,000 bytes; "
                                     "refusing to read it (set CHARTER_MAX_SPEC_BYTES to raise the bound) [too-large]")


def test_a_malformed_bound_is_one_line(write, cli, monkeypatch):
    monkeypatch.setenv("CHARTER_MAX_SPEC_BYTES", "lots")
    result = cli("validate", write("s.yaml", MINIMAL))
    assert result.exit_code == 2
    assert result.stdout.strip() == ("s.yaml: error: CHARTER_MAX_SPEC_BYTES must be a whole number of bytes above 0, "
                                     "got 'lots' [bad-limit]")


def test_a_symlink_loop_in_extends(write, cli, tmp_path):
    os.symlink("loop-b.yaml", tmp_path / "loop-a.yaml")
    os.symlink("loop-a.yaml", tmp_path / "loop-b.yaml")
    spec = write("s.yaml", MINIMAL + "extends: [loop-a.yaml]\n")
    result = cli("validate", spec)
    assert result.exit_code == 2
    assert result.stdout.strip() == ("s.yaml:12:11: error: extends 'loop-a.yaml': the path runs through a loop of "
                                     "symbolic links (via s.yaml) [symlink-loop]")
    assert "internal error" not in result.stderr


def test_a_symlink_loop_as_the_entry_spec(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    os.symlink("loop-b.yaml", tmp_path / "loop-a.yaml")
    os.symlink("loop-a.yaml", tmp_path / "loop-b.yaml")
    result = cli("validate", "loop-a.yaml")
    assert result.exit_code == 2
    assert result.stdout.strip() == "loop-a.yaml: error: the path runs through a loop of symbolic links [symlink-loop]"


@needs_fifo
@needs_dev_zero
def test_charter_run_refuses_a_device_or_a_fifo_as_its_cases_file(write, cli, tmp_path):
    spec = write("s.yaml", MINIMAL)
    os.mkfifo(tmp_path / "cases.jsonl")
    os.symlink("/dev/zero", tmp_path / "zero.jsonl")
    for cases, kind in (("cases.jsonl", "a FIFO (named pipe)"), ("zero.jsonl", "a device")):
        result = cli("run", cases, "--spec", spec, "-m", "openai:m", "--judge", "openai:j", "-o", "out")
        assert result.exit_code == 2
        assert one_error_line(result.stderr).endswith(f"{cases}: is {kind}, not a regular file [not-a-file]")
    assert not (tmp_path / "out").exists()


def test_charter_run_bounds_its_cases_file(write, cli, tmp_path, monkeypatch):
    spec = write("s.yaml", MINIMAL)
    write("cases.jsonl", "{}\n" * 100)
    monkeypatch.setenv("CHARTER_MAX_CASES_BYTES", "50")
    result = cli("run", "cases.jsonl", "--spec", spec, "-m", "openai:m", "--judge", "openai:j", "-o", "out")
    assert result.exit_code == 2
    assert one_error_line(result.stderr).endswith(
        "cases.jsonl: is larger than 50 bytes; refusing to read it (set CHARTER_MAX_CASES_BYTES to raise the bound)"
        " [too-large]")
