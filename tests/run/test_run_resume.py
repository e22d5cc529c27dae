"""A real `charter run` process killed (SIGKILL) or interrupted (SIGINT) mid-run, then resumed.

Only the runs that are killed need a process of their own; the reference run and the resumes run
in-process (the same command), which spares the suite an interpreter and the SDK imports each.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import fakeserver
import pytest
from helpers import charter, interruptible

from charter.run.results import RESULTS_FILE, read_results

# The single- and two-turn cases: enough jobs to interrupt, few enough to finish quickly.
CASES = ("--case", "/example/", "--case", "/tension/", "--case", "/probe/")
# A fixed reply grades the starter spec's hard rules, which every case's judge is asked about.
VERDICT = json.dumps({"clauses": {"rule:disclose-ai": "pass", "rule:no-invented-policy": "pass"}, "violated": [],
                      "reason": "scripted", "score": 8})


@pytest.fixture
def fake_process(env):
    """The fake server in its own process (a killed run must not take it down)."""
    process, url = fakeserver.start("--latency", "0.1", "--reply", VERDICT)
    yield url
    process.kill()
    process.wait()


def _arguments(spec_file: Path, run_dir: str, *extra: str) -> list[str]:
    return ["run", str(spec_file), "-m", "openai:tutor", "-m", "anthropic:claude", "--judge", "openai:judge",
            "-o", run_dir, "--concurrency", "2", *CASES, *extra]


def _command(spec_file: Path, run_dir: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "charter", *_arguments(spec_file, run_dir, *extra)]


def _environment(url: str, env: Path, monkeypatch) -> dict:
    """The fake server's URLs, for this test's in-process runs and as the environment of its processes."""
    monkeypatch.setenv("OPENAI_BASE_URL", url + "/v1")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", url)
    return {**os.environ, "XDG_CACHE_HOME": str(env / "xdg")}


def _wait_for_lines(path: Path, count: int, process: subprocess.Popen, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if path.exists() and path.read_bytes().count(b"\n") >= count:
            return
        assert process.poll() is None, "the run ended before it could be interrupted"
        time.sleep(0.02)
    raise AssertionError(f"{path} never reached {count} lines")


def _comparable(results):
    return [{k: v for k, v in r.items() if k != "usage"} for r in results]


def test_sigkill_then_resume_completes_only_what_is_missing(spec_file, env, fake_process, monkeypatch):
    environment = _environment(fake_process, env, monkeypatch)
    reference = charter(*_arguments(spec_file, "reference", "--no-cache"))
    assert reference.exit_code == 0, reference.stderr

    process = subprocess.Popen(_command(spec_file, "killed"), env=environment, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    results = env / "killed" / RESULTS_FILE
    _wait_for_lines(results, 5, process)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done_before = {r["case_id"] + r["model"] for r in read_results(env / "killed")}
    assert 5 <= len(done_before) < 14
    with results.open("ab") as handle:  # as if the kill had landed mid-write
        handle.write(b'{"format":"charter.result/1","case_id":"ada/pro')

    resumed = charter(*_arguments(spec_file, "killed"))
    assert resumed.exit_code == 0, resumed.stderr
    lines = results.read_text().splitlines()
    assert all(json.loads(line) for line in lines)  # the torn line is gone
    final = read_results(env / "killed")
    assert len(final) == 14 and len(lines) == 14  # nothing run twice
    assert _comparable(final) == _comparable(read_results(env / "reference"))
    summary = json.loads((env / "killed" / "summary.json").read_text())
    reference_summary = json.loads((env / "reference" / "summary.json").read_text())
    for model in ("openai:tutor", "anthropic:claude"):
        assert summary["models"][model]["score"] == reference_summary["models"][model]["score"]
        assert summary["models"][model]["clauses"] == reference_summary["models"][model]["clauses"]


def test_ctrl_c_stops_cleanly_and_says_how_to_resume(spec_file, env, fake_process, monkeypatch):
    environment = _environment(fake_process, env, monkeypatch)
    process = interruptible(_command(spec_file, "interrupted"), env=environment, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    _wait_for_lines(env / "interrupted" / RESULTS_FILE, 2, process)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130
    assert "Traceback" not in stderr and stderr.count("\n") == 1
    assert "interrupted:" in stderr and "resume with: charter run" in stderr and "-o interrupted" in stderr
    saved = read_results(env / "interrupted")
    assert 2 <= len(saved) < 14
    resumed = charter(*_arguments(spec_file, "interrupted"))
    assert resumed.exit_code == 0, resumed.stderr
    assert len(read_results(env / "interrupted")) == 14
