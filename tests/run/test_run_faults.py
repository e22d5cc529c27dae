"""Faults and errors: retried faults, failed cases, fatal configuration errors, unusable verdicts."""

from __future__ import annotations

import asyncio

import pytest
from fakeserver import FakeServer, ModelScript
from helpers import charter
from run_helpers import scoring_judge, verdict

from charter.providers import RetryPolicy
from charter.run.cases import load_plan
from charter.run.results import read_results, read_summary
from charter.run.runner import Progress, Runner, RunOptions

FAST = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05, max_retry_after=5.0)


def _run(spec_file, run_dir, **options):
    plan = load_plan(spec_file, select=("probe/refund",))
    progress = Progress()
    defaults = dict(models=("openai:tutor",), judge="openai:judge", retry=FAST, concurrency=4)
    runner = Runner(plan, RunOptions(**{**defaults, **options}), run_dir, cache=None, progress=progress)
    asyncio.run(runner.run())
    return read_results(run_dir), progress


@pytest.mark.parametrize("fault", ["rate_limit", "server_error", "overloaded", "timeout", "malformed", "drop"])
def test_every_fault_is_retried_and_the_case_completes(spec_file, env, monkeypatch, fault):
    tutor = ModelScript(sequence=[fault, fault], retry_after=0.2, hang=3.0)
    with FakeServer({"tutor": tutor, "judge": ModelScript(reply=scoring_judge)}) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.openai_base_url)
        results, progress = _run(spec_file, env / "out", timeout=0.5)
    assert [r["status"] for r in results] == ["ok"] and results[0]["passed"] is True
    assert results[0]["usage"]["model"]["retries"] == 2 and progress.retries == 2
    assert results[0]["usage"]["model"]["calls"] == len(results[0]["grades"]) + 2
    if fault == "rate_limit":
        # The server's Retry-After (0.2 s) was honoured before both retries, as the server saw them.
        arrivals = [r.received for r in server.requests if r.model == "tutor"][:3]
        assert [r.fault for r in server.requests if r.model == "tutor"][:3] == ["rate_limit", "rate_limit", None]
        assert all(retry - failed >= 0.2 for failed, retry in zip(arrivals, arrivals[1:]))


def test_retry_after_is_capped(spec_file, env, monkeypatch):
    tutor = ModelScript(sequence=["rate_limit"], retry_after=30.0)
    with FakeServer({"tutor": tutor, "judge": ModelScript(reply=scoring_judge)}) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.openai_base_url)
        results, _ = _run(spec_file, env / "out", retry=RetryPolicy(max_attempts=3, base_delay=0.01,
                                                                      max_retry_after=0.3))
    # As the server saw it: the retry came after the capped 0.3 s, not after the 30 s it asked for.
    limited, retry = [r.received for r in server.requests if r.model == "tutor"][:2]
    assert results[0]["status"] == "ok" and 0.3 <= retry - limited < 30


def test_a_case_failing_after_retries_is_recorded_and_the_run_goes_on(spec_file, env, monkeypatch):
    def tutor(model, messages):
        return "ok"

    flaky = ModelScript(reply=tutor, faults={"server_error": 1.0})
    with FakeServer({"broken": flaky, "judge": ModelScript(reply=scoring_judge)}) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.openai_base_url)
        result = charter("run", spec_file, "-m", "openai:broken", "-m", "openai:fine", "--judge", "openai:judge",
                         "-o", "out", "--retries", "1", "--case", "probe/refund")
    assert result.exit_code == 1
    assert "case runs failed" in result.stderr and "run the same command again" in result.stderr
    by_model = {r["model"]: r for r in read_results(env / "out")}
    broken = by_model["openai:broken"]
    assert broken["status"] == "error" and broken["errors"][0]["stage"] == "model"
    assert "HTTP 500" in broken["errors"][0]["message"] and "after 2 attempts" in broken["errors"][0]["message"]
    assert by_model["openai:fine"]["status"] == "ok"
    assert read_summary(env / "out")["models"]["openai:broken"]["counts"]["errored"] == 1


def test_an_unparseable_verdict_is_retried_once_then_a_grading_error(spec_file, env, monkeypatch):
    judge = ModelScript(reply=["I think it is fine.", "Still no JSON here."])
    with FakeServer({"judge": judge}) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.openai_base_url)
        result = charter("run", spec_file, "-m", "openai:tutor", "--judge", "openai:judge", "-o", "out",
                         "--case", "probe/refund")
        retry = next(r.body["messages"] for r in server.requests
                     if r.model == "judge" and len(r.body["messages"]) > 2)
    assert result.exit_code == 1
    (case,) = read_results(env / "out")
    grade = case["grades"][0]
    assert grade["score"] is None and grade["passed"] is None and "after one retry" in grade["judge_error"]
    assert case["errors"][0]["stage"] == "judge" and case["passed"] is None
    assert case["usage"]["judge"]["calls"] == 2 * len(case["grades"])
    # The retry shows the judge its unusable answer and asks again.
    assert retry[-2]["role"] == "assistant" and retry[-2]["content"] in ("I think it is fine.", "Still no JSON here.")
    assert "could not be read as the verdict" in retry[-1]["content"]


def test_a_verdict_that_parses_on_the_retry_counts(spec_file, env, monkeypatch):
    def judge_on_second_try(model, messages):
        return verdict(8, messages=messages) if any(m["role"] == "assistant" for m in messages) else "not a verdict"

    judge = ModelScript(reply=judge_on_second_try)
    with FakeServer({"judge": judge}) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.openai_base_url)
        result = charter("run", spec_file, "-m", "openai:tutor", "--judge", "openai:judge", "-o", "out",
                         "--case", "probe/refund")
    assert result.exit_code == 0, result.stderr
    (case,) = read_results(env / "out")
    assert [g["score"] for g in case["grades"]] == [8] * len(case["grades"]) and case["errors"] == []
    assert case["usage"]["judge"]["calls"] == 2 * len(case["grades"])


def test_a_rejected_key_stops_the_run_with_one_line(spec_file, env, monkeypatch):
    with FakeServer(api_keys={"the-right-key"}) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.openai_base_url)
        result = charter("run", spec_file, "-m", "openai:tutor", "--judge", "openai:judge", "-o", "out")
        calls = server.calls()
    assert result.exit_code == 2 and calls <= 16
    assert result.stderr.count("\n") == 1 and "rejected the key in OPENAI_API_KEY" in result.stderr
    assert "sk-test" not in result.stderr and "Traceback" not in result.stderr
    assert read_results(env / "out") == []


def test_an_unknown_model_stops_the_run_with_one_line(spec_file, env, monkeypatch):
    with FakeServer({"judge": ModelScript(reply=scoring_judge)}, default=None) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.openai_base_url)
        result = charter("run", spec_file, "-m", "openai:no-such-model", "--judge", "openai:judge", "-o", "out")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "model 'no-such-model' does not exist" in result.stderr


def test_a_missing_key_stops_before_any_call(spec_file, server, env, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    result = charter("run", spec_file, "-m", "anthropic:claude", "--judge", "openai:judge", "-o", "out")
    assert result.exit_code == 2 and "set ANTHROPIC_API_KEY" in result.stderr and server.calls() == 0


def test_resuming_retries_failed_cases_only(spec_file, env, monkeypatch):
    flaky = ModelScript(faults={"server_error": 1.0})
    with FakeServer({"tutor": flaky, "judge": ModelScript(reply=scoring_judge)}) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.openai_base_url)
        args = ("run", spec_file, "-m", "openai:tutor", "--judge", "openai:judge", "-o", "out", "--retries", "0",
                "--case", "probe/refund", "--case", "probe/rule.")
        assert charter(*args).exit_code == 1
        server.models["tutor"] = ModelScript()
        server.reset()
        assert charter(*args).exit_code == 0
        judged = server.calls("judge")
        assert server.calls("tutor") > 0
        server.reset()
        assert charter(*args).exit_code == 0 and server.calls() == 0
    results = read_results(env / "out")
    assert all(r["status"] == "ok" and not r["errors"] for r in results) and judged > 0
