"""`charter run --dry-run` and the estimate in run.json: calls, tokens, prompt-cache reads, cost; no call made."""

from __future__ import annotations

import json

from fakeserver import ModelScript
from helpers import charter

from charter.providers import Request
from charter.providers.estimate import MIN_CACHED_PREFIX, CallEstimate
from charter.providers.pricing import PriceTable
from charter.run import RunOptions, load_plan
from charter.run.estimate import TYPICAL_REPLY_TOKENS, estimate_run, typical_reply, typical_verdict
from charter.report.html import render_html
from charter.report.markdown import render_markdown
from charter.report.runs import load_run


def test_dry_run_prints_the_estimate_and_makes_no_call(spec_file, server, env):
    result = charter("run", spec_file, "-m", "openai:gpt-4.1-mini", "-m", "anthropic:claude-haiku-4-5",
                     "--judge", "openai:gpt-4.1", "-o", "out", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert server.requests == [] and not (env / "out").exists()
    lines = result.stdout.splitlines()
    assert "no call made" in lines[0]
    for model in ("openai:gpt-4.1-mini", "anthropic:claude-haiku-4-5", "openai:gpt-4.1", "total"):
        line = next(line for line in lines if line.startswith(f"  {model}: "))
        assert "calls" in line and "input tokens" in line and "prompt cache" in line and "~$" in line


def test_the_estimate_counts_the_calls_a_run_makes_and_lands_in_run_json_and_the_report(spec_file, server, env):
    plan = load_plan(spec_file)
    monitor = plan.monitor(None)
    server.models["tutor"] = ModelScript(reply=typical_reply())
    server.models["judge"] = ModelScript(reply=typical_verdict(monitor))
    result = charter("run", spec_file, "-m", "openai:tutor", "--judge", "openai:judge", "-o", "out")
    assert result.exit_code == 0, result.stderr
    estimate = json.loads((env / "out" / "run.json").read_text())["estimate"]
    summary = json.loads((env / "out" / "summary.json").read_text())
    usage = summary["models"]["openai:tutor"]["usage"]
    for model, role in (("openai:tutor", "model"), ("openai:judge", "judge")):
        estimated, actual = estimate["models"][model], usage[role]
        assert estimated["calls"] == actual["calls"]  # one call per user turn, one verdict per reply
        # Input from the requests themselves: within a tenth of what the (same-estimator) server counted.
        assert abs(estimated["input_tokens"] - actual["input_tokens"]) <= 0.1 * actual["input_tokens"]
    assert estimate["assumptions"] and estimate["total"]["calls"] == sum(m["calls"] for m in estimate["models"].values())
    run = load_run(env / "out")
    assert "Estimated before the run / actual: api calls ~" in render_markdown(run)
    assert "Estimated before the run</th>" in render_html(run)
    # Resumed, the run keeps the estimate it started with.
    again = charter("run", spec_file, "-m", "openai:tutor", "--judge", "openai:judge", "-o", "out")
    assert again.exit_code == 0, again.stderr
    assert json.loads((env / "out" / "run.json").read_text())["estimate"] == estimate


def test_dry_run_of_a_spec_with_a_baseline_counts_both_variants(spec_file):
    plan = load_plan(spec_file)
    single = estimate_run(plan, RunOptions(models=("openai:gpt-4.1-mini",), judge="openai:gpt-4.1"))
    both = estimate_run(plan, RunOptions(models=("openai:gpt-4.1-mini",), judge="openai:gpt-4.1", baseline=True))
    assert both["total"]["calls"] == 2 * single["total"]["calls"]
    assert single["total"]["usd"] > 0 and single["total"]["usd_max"] >= single["total"]["usd"]
    # The batch discount halves every price; samples multiply every call.
    batch = estimate_run(plan, RunOptions(models=("openai:gpt-4.1-mini",), judge="openai:gpt-4.1"), batch=True)
    assert batch["total"]["usd"] == round(single["total"]["usd"] / 2, 6) or \
        abs(batch["total"]["usd"] - single["total"]["usd"] / 2) < 1e-5
    assert batch["batch_discount"] == 0.5
    sampled = estimate_run(plan, RunOptions(models=("openai:gpt-4.1-mini",), judge="openai:gpt-4.1"), samples=3)
    assert sampled["total"]["calls"] == 3 * single["total"]["calls"]


def test_an_unknown_model_gets_no_cost_but_its_tokens(spec_file):
    estimate = estimate_run(load_plan(spec_file), RunOptions(models=("openai:my-own",), judge="openai:gpt-4.1"))
    assert estimate["models"]["openai:my-own"]["usd"] is None and estimate["total"]["usd"] is None
    assert estimate["models"]["openai:my-own"]["input_tokens"] > 0
    assert any("openai:my-own" in note for note in estimate["notes"])


def test_prompt_cache_reads_follow_each_providers_rules():
    long_prompt = "word " * (MIN_CACHED_PREFIX + 300)
    ask = ({"role": "user", "content": "hello"},)
    marked = ({"type": "text", "text": long_prompt, "cache_control": {"type": "ephemeral"}},)
    estimate = CallEstimate()
    for _ in range(3):
        estimate.add("anthropic:claude-haiku-4-5", Request(messages=ask, system=marked), output_tokens=10)
        estimate.add("anthropic:claude-sonnet-4-5", Request(messages=ask, system=long_prompt), output_tokens=10)
        estimate.add("openai:gpt-4.1", Request(messages=ask, system=long_prompt), output_tokens=10)
        estimate.add("openai:gpt-4.1-mini", Request(messages=ask, system="short"), output_tokens=10)
    haiku, sonnet, gpt, mini = (estimate.models[m] for m in ("anthropic:claude-haiku-4-5",
                                                              "anthropic:claude-sonnet-4-5", "openai:gpt-4.1",
                                                              "openai:gpt-4.1-mini"))
    assert haiku.cache_write_tokens > 0 and haiku.cache_read_tokens == 2 * haiku.cache_write_tokens
    assert sonnet.cache_read_tokens == 0  # no cache breakpoint, no caching on Anthropic
    assert gpt.cache_write_tokens == 0 and gpt.cache_read_tokens % 128 == 0 and gpt.cache_read_tokens > 0
    assert mini.cache_read_tokens == 0  # under the minimum
    assert gpt.output_tokens == 30 and gpt.max_output_tokens == 3 * 1024
    table = estimate.to_dict(PriceTable())
    assert table["models"]["openai:gpt-4.1"]["usd"] < table["models"]["openai:gpt-4.1"]["usd_max"]


def test_typical_reply_is_about_the_typical_size():
    from charter.tokens import estimate_tokens

    assert abs(estimate_tokens(typical_reply()) - TYPICAL_REPLY_TOKENS) <= 3
