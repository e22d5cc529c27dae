"""Item 11 of issue 13 (part): a failed write and a malformed score are one-line errors, not internal errors."""

from __future__ import annotations

import json
import os

import pytest

from charter.io import WriteError, write_text_atomic
from charter.run.results import RESULT_FORMAT, SUMMARY_FORMAT
from helpers import MINIMAL
from hostile.conftest import one_error_line

resource = pytest.importorskip("resource")


def _file_size_limit(limit: int):
    """For a child process: writes past ``limit`` bytes fail with EFBIG (Python ignores SIGXFSZ), as a full disk
    fails with ENOSPC; both are an OSError from the same write."""

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_build_that_cannot_write_is_one_line_naming_the_file_exit_2(write, cli_process, tmp_path):
    spec = write("s.yaml", MINIMAL)
    result = cli_process("build", spec, "-o", "out", cwd=tmp_path, preexec_fn=_file_size_limit(200))
    assert result.returncode == 2, result.stderr
    line = one_error_line(result.stderr)
    assert line.startswith("charter: error: cannot write out/") and line.endswith(": File too large")
    assert "internal error" not in line
    leftovers = [p.name for p in (tmp_path / "out").rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []  # the temporary file of the failed write is gone


def test_a_write_error_is_one_line_naming_the_file_and_still_an_os_error(tmp_path):
    error = WriteError(tmp_path / "x", OSError(28, "No space left on device"))
    assert str(error) == f"cannot write {tmp_path / 'x'}: No space left on device" and error.exit_code == 2
    assert isinstance(error, OSError) and error.filename == str(tmp_path / "x")


def test_an_unwritable_directory_is_a_write_error(tmp_path):
    (tmp_path / "blocked").write_text("a file where a folder should be")
    with pytest.raises(WriteError, match=r"^cannot write .*blocked/report\.html: "):
        write_text_atomic(tmp_path / "blocked" / "report.html", "<html>")


def _result(case_id: str, score: float) -> dict:
    return {"format": RESULT_FORMAT, "case_id": case_id, "model": "openai:m", "variant": "character",
            "kind": "probe", "targets": ["value:honesty"], "refs": ["value:honesty"], "context": None,
            "drift_risk": None, "status": "ok",
            "transcript": [{"role": "user", "content": "Hi", "generated": False, "instance": None},
                           {"role": "assistant", "content": "Hello", "generated": True, "instance": None}],
            "grades": [{"reply": 0, "turn": 1, "score": score, "judge_passed": True, "clauses": {}, "violated": [],
                        "reason": "fine", "checks": [], "passed": True, "judge_error": None, "holds_answer": None}],
            "score": score, "passed": True, "flipped": None, "errors": [], "usage": {}}


def _run_with_result_line(tmp_path, mutate) -> str:
    """A run directory whose second result line is changed by ``mutate``."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    records = [_result("c1", 8), _result("c2", 9)]
    mutate(records[1])
    (run_dir / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (run_dir / "summary.json").write_text(json.dumps({
        "format": SUMMARY_FORMAT, "spec": {"id": "mini"}, "judge": "openai:j", "threshold": 7, "cases": 2,
        "models": {"openai:m": {"score": 8.5, "pass_rate": 1.0}}}))
    return str(run_dir)


@pytest.mark.parametrize("mutate,problem", [
    (lambda r: r.update(score="9"), "'score' must be a number or null"),
    (lambda r: r["grades"][0].update(score="high"), "grades[0].score must be a number or null"),
    (lambda r: r.update(passed="yes"), "'passed' must be true, false or null"),
    (lambda r: r.update(transcript="hi"), "'transcript' must be a list of objects"),
])
def test_a_malformed_result_line_is_one_line_naming_it(tmp_path, cli, mutate, problem):
    run_dir = _run_with_result_line(tmp_path, mutate)
    result = cli("report", run_dir)
    assert result.exit_code == 2
    assert one_error_line(result.stderr) == f"charter: error: {run_dir}/results.jsonl:2: {problem}"
    assert not os.path.exists(os.path.join(run_dir, "report.html"))
