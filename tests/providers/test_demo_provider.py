"""The in-process `demo:` models: no server, no key, the real pipeline, verdicts that grade clauses."""

from __future__ import annotations

import asyncio
import json

import pytest
from click.testing import CliRunner

import charter
from charter.cli import main
from charter.providers import ConfigError, Request, get_provider, parse_model_id
from charter.providers.batch import get_batch_client
from charter.providers.demo import DEMO_REASON, REPLIES, DemoProvider, demo_reply
from charter.providers.pricing import PriceTable, estimate_cost
from charter.run.results import read_results, read_summary
from charter.targets.monitor import judge_messages, parse_verdict, render_monitor

from helpers import CHARACTERS

TUTOR = CHARACTERS / "tutor.yaml"


@pytest.fixture
def offline(env, monkeypatch):
    """No key and no endpoint anywhere in the environment."""
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    return env


def test_demo_models_need_no_key_and_answer_in_process(offline):
    provider = get_provider("demo:tutor")
    assert isinstance(provider, DemoProvider) and parse_model_id("demo:tutor").provider == "demo"
    request = Request(messages=({"role": "user", "content": "Can you help me read this word?"},),
                      system="You are Pip.")

    async def ask_twice():
        async with provider:
            return await provider.complete(request), await provider.complete(request)

    first, second = asyncio.run(ask_twice())
    assert first.text == second.text and first.text in REPLIES and first.finish_reason == "stop"
    assert first.usage.input_tokens > 0 and first.usage.output_tokens > 0
    assert provider.cache_key(request) == get_provider("demo:tutor").cache_key(request)
    assert provider.cache_key(request) != get_provider("demo:other").cache_key(request)


def test_the_demo_judge_grades_the_clauses_it_is_asked_about():
    spec = charter.load(TUTOR)
    monitor = render_monitor(spec, None)
    verdicts = []
    for n in range(12):
        system, user = judge_messages(monitor, [{"role": "user", "content": f"question {n}"}], f"reply {n}")
        verdicts.append(parse_verdict(demo_reply("demo:judge", [system, user]), monitor))
    for verdict in verdicts:
        assert set(verdict.clauses) == set(monitor.clause_refs)
        assert "pass" in verdict.clauses.values() and verdict.reason == DEMO_REASON
        assert verdict.passed == (verdict.score >= 7)  # a low score names a failed clause, never a hard rule
        assert all(ref not in monitor.hard_refs for ref in verdict.violated)
        assert bool(verdict.violated) == (verdict.score < 7)
    assert len({v.score for v in verdicts}) > 1


def test_demo_models_cost_nothing_and_have_no_batch_api():
    price = PriceTable().lookup("demo:gpt-4.1")
    assert price is not None and price.cost({"input_tokens": 10**6, "output_tokens": 10**6}) == 0
    assert estimate_cost(PriceTable(), "demo:judge", {"input_tokens": 5})[0] == 0
    assert PriceTable().lookup("openai:gpt-4.1").input > 0
    with pytest.raises(ConfigError, match="no batch API for demo models"):
        get_batch_client("demo:teacher")


def test_charter_run_and_report_with_demo_models_offline(offline):
    runner = CliRunner()
    result = runner.invoke(main, ["run", str(TUTOR), "--model", "demo:tutor", "--judge", "demo:judge", "-o", "run"])
    assert result.exit_code == 0, result.output
    assert "demo:tutor: score" in result.stdout and "~$0.0000" in result.stdout
    results = read_results(charter_run := offline / "run")
    assert results and all(r["status"] == "ok" and not r["errors"] for r in results)
    graded = [clause for r in results for g in r["grades"] for clause in g["clauses"].values()]
    assert graded.count("pass") > graded.count("n/a") > 0
    summary = read_summary(charter_run)
    usage = summary["models"]["demo:tutor"]["usage"]
    assert usage["model"]["calls"] > 0 and usage["judge"]["input_tokens"] > usage["judge"]["output_tokens"] > 0
    assert summary["models"]["demo:tutor"]["cost"]["total_usd"] == 0
    scored = [c for c in summary["models"]["demo:tutor"]["clauses"].values() if c["score"] is not None]
    assert scored

    report = runner.invoke(main, ["report", "run"])
    assert report.exit_code == 0, report.output
    assert (charter_run / "report.html").stat().st_size > 10_000

    again = runner.invoke(main, ["run", str(TUTOR), "--model", "demo:tutor", "--judge", "demo:judge", "-o", "run2"])
    assert again.exit_code == 0 and "(0 API calls this time)" in again.stdout  # every answer from the cache
    def graded_replies(records):
        return sorted(json.dumps([r["case_id"], r["transcript"], r["grades"]]) for r in records)

    assert graded_replies(read_results(offline / "run2")) == graded_replies(results)
