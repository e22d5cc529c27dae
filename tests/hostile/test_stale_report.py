"""Item 13 of issue 13: a run that starts over or adds results leaves no stale report behind.

`charter run --overwrite` deleted results.jsonl and summary.json but kept report.html and report.md,
which then described a run that no longer existed.
"""

from __future__ import annotations


import pytest

from helpers import judge_verdict
from fakeserver import ModelScript


def _judge(model, messages):
    return judge_verdict(messages, 9, "fine")


@pytest.fixture
def server_options() -> dict:
    return {"models": {"judge": ModelScript(reply=_judge), "tutor": ModelScript(reply="Hello there.")}}


def test_overwrite_and_new_results_drop_the_old_report_and_a_no_op_resume_keeps_it(spec_file, server, cli, env):
    arguments = ["run", spec_file, "-m", "openai:tutor", "--judge", "openai:judge", "-o", "out", "-q",
                 "--case", "probe"]
    assert cli(*arguments).exit_code == 0
    assert cli("report", "out", "-q").exit_code == 0
    reports = [env / "out/report.html", env / "out/report.md"]
    assert all(p.exists() for p in reports)

    assert cli(*arguments).exit_code == 0  # nothing missing: nothing ran, the report still holds
    assert all(p.exists() for p in reports)

    assert cli(*arguments, "--overwrite").exit_code == 0  # started over: the old report is gone
    assert not any(p.exists() for p in reports)
    assert (env / "out/results.jsonl").exists() and (env / "out/summary.json").exists()
