"""Items 6, 7 and 13 of issue 13: a dead endpoint fails fast and says why.

With no network, `charter run` made 432 calls and printed only "72 errored"; `charter lint --deep`
exited 0 with "12 pair(s) could not be checked"; refused attempts were counted as API calls. Now a
model whose first attempts all fail to connect is given up on after three, in one line naming the
model, the (scrubbed) endpoint and the cause, exit 2, with finished cases kept; and a run with
errors ends with its most common error messages.
"""

from __future__ import annotations

import asyncio
import json
import socket

import pytest

from charter.providers import Request
from charter.providers.calls import UNREACHABLE_AFTER, CallOptions, CallService, RunAborted
from charter.providers.errors import EndpointUnreachable
from charter.providers.retry import RetryPolicy
from helpers import judge_verdict
from fakeserver import FakeServer, ModelScript
from hostile.conftest import one_error_line


def _closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _judge(model, messages):
    return judge_verdict(messages, 9, "fine")


def _results(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_refused_attempts_are_no_api_calls_and_the_model_is_given_up_on(keys, monkeypatch):
    endpoint = f"http://127.0.0.1:{_closed_port()}/v1"
    monkeypatch.setenv("OPENAI_BASE_URL", endpoint.replace("http://", "http://user:PASS@") + "?token=T")
    request = Request(messages=({"role": "user", "content": "Hi"},))
    # More retries than the give-up threshold: without it, each call would try all ten times.
    options = CallOptions(concurrency=4, retry=RetryPolicy(max_attempts=10, base_delay=0.001, max_delay=0.001))

    async def go():
        async with CallService(options) as calls:
            await calls.open(["openai:m"])
            outcomes = await asyncio.gather(*(calls.call("openai:m", request) for _ in range(8)),
                                            return_exceptions=True)
            return outcomes, calls.counts

    outcomes, counts = asyncio.run(go())
    assert all(isinstance(o, RunAborted) for o in outcomes), outcomes
    aborted = outcomes[0]
    assert isinstance(aborted.cause, EndpointUnreachable) and aborted.exit_code == 2
    message = str(aborted)
    assert message.startswith("openai:m: cannot connect to " + endpoint + ": ")
    assert f"{UNREACHABLE_AFTER} attempts failed to connect" in message
    assert "PASS" not in message and "token" not in message and "\n" not in message
    assert counts.calls == 0  # nothing reached a server


def test_run_against_a_closed_port_stops_at_once_keeps_finished_cases_and_names_the_cause(spec_file, env, cli,
                                                                                       monkeypatch):
    arguments = ["run", spec_file, "-m", "openai:tutor", "--judge", "openai:judge", "-o", "out", "-q",
                 "--concurrency", "1"]
    # A first run where the first case fails (a refused request) and the others finish.
    with FakeServer({"judge": ModelScript(reply=_judge), "tutor": ModelScript(sequence=["bad_request"])}) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.openai_base_url)
        first = cli(*arguments)
    assert first.exit_code == 1, first.output
    assert "most common errors:\n  1 x openai:tutor: the API refused the request (HTTP 400)" in first.stderr
    before = (env / "out/results.jsonl").read_bytes()
    finished = [r for r in _results(env / "out/results.jsonl") if r["status"] == "ok"]
    assert finished and len(finished) == len(_results(env / "out/results.jsonl")) - 1

    # The same run, resumed against an endpoint nobody listens on: it gives up after a few attempts.
    endpoint = f"http://127.0.0.1:{_closed_port()}/v1"
    monkeypatch.setenv("OPENAI_BASE_URL", endpoint)
    resumed = cli(*arguments)
    assert resumed.exit_code == 2
    line = one_error_line(resumed.stderr)
    assert line.startswith(f"charter: error: openai:tutor: cannot connect to {endpoint}: ")
    assert f"{UNREACHABLE_AFTER} attempts failed to connect and none succeeded" in line
    assert "finished cases are kept" in line
    assert (env / "out/results.jsonl").read_bytes() == before  # nothing lost, nothing half-written


def test_lint_deep_against_an_unreachable_model_exits_2_in_one_line(spec_file, env, cli, monkeypatch):
    endpoint = f"http://127.0.0.1:{_closed_port()}/v1"
    monkeypatch.setenv("OPENAI_BASE_URL", endpoint)
    result = cli("lint", spec_file, "--deep", "--model", "openai:checker", "--no-cache")
    assert result.exit_code == 2, result.output
    line = one_error_line(result.stderr)
    assert f"openai:checker: cannot connect to {endpoint}: " in line
    assert "could not be checked" not in result.output


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_an_html_page_with_status_200_is_reported_as_html(keys, provider):
    request = Request(messages=({"role": "user", "content": "Hi"},))
    options = CallOptions(retry=RetryPolicy(max_attempts=1))

    async def go(server):
        async with CallService(options) as calls:
            await calls.open([f"{provider}:portal"])
            return await calls.call(f"{provider}:portal", request)

    from charter.providers.calls import CallFailed

    with FakeServer({"portal": ModelScript(faults={"html": 1.0})}) as server, pytest.MonkeyPatch.context() as patch:
        patch.setenv("OPENAI_BASE_URL", server.openai_base_url)
        patch.setenv("ANTHROPIC_BASE_URL", server.anthropic_base_url)
        with pytest.raises(CallFailed) as failure:
            asyncio.run(go(server))
    assert str(failure.value) == (f"{provider}:portal: the server answered with HTML, not JSON: "
                                  "<title>Sign in to Hotel Wi-Fi</title>")


def test_lint_deep_that_checks_no_pair_at_all_exits_2(spec_file, env, cli, monkeypatch):
    # The endpoint answers, but refuses every request: no pair is checked, so the deep lint did not run.
    with FakeServer({"checker": ModelScript(faults={"bad_request": 1.0})}) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.openai_base_url)
        result = cli("lint", spec_file, "--deep", "--model", "openai:checker", "--no-cache")
    assert result.exit_code == 2, result.output
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("charter: error: --deep could not check any pair or hazard of ada with openai:checker: ")
    assert "HTTP 400" in last
