"""Item 2 of issue 13: `--timeout` is a deadline on each call as a whole.

A server that sent its headers and then one byte every 2 s held `charter run --timeout 5 --retries 1`
past 90 s: the SDK's timeout is per read, and every read got a byte in time. The call service now
bounds each attempt, headers and body, by the --timeout of every command that calls models.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from charter.cli import main
from helpers import judge_verdict
from fakeserver import ModelScript


def _judge(model, messages):
    return judge_verdict(messages, 9, "fine")


@pytest.fixture
def server_options() -> dict:
    # The model sends its headers at once and then trickles its body, one byte every 2 s.
    return {"models": {"judge": ModelScript(reply=_judge),
                       "trickler": ModelScript(faults={"trickle": 1.0}, trickle_every=2.0)}}


def test_a_trickling_server_times_out_at_the_deadline(spec_file, server, cli_process):
    # The subprocess timeout only guards against a hang; the outcome is what is asserted.
    result = cli_process("run", spec_file, "-m", "openai:trickler", "--judge", "openai:judge", "-o", "out",
                         "--timeout", "3", "--retries", "1", "--case", "probe", "-q", cwd=spec_file.parent,
                         timeout=90)
    assert result.returncode == 1, result.stderr
    records = [json.loads(line) for line in (spec_file.parent / "out/results.jsonl").read_text().splitlines()]
    assert records and all(r["status"] == "error" for r in records)
    for record in records:
        (error,) = record["errors"]
        assert error["stage"] == "model"
        assert error["message"].startswith("openai:trickler: timed out: no complete answer within the 3s deadline")
        assert error["message"].endswith("(after 2 attempts)")
    assert server.calls("trickler") == 2 * len(records)
    assert "most common errors:" in result.stderr and "timed out" in result.stderr


@pytest.mark.parametrize("command", [["run"], ["calibrate"], ["generate", "evals"], ["generate", "data"],
                                     ["lint"], ["import", "prose"]])
def test_every_command_that_calls_models_says_timeout_is_a_deadline(command):
    text = " ".join(CliRunner().invoke(main, [*command, "--help"]).output.split())
    assert "--timeout" in text and "as a whole, headers and body (a deadline" in text, text
