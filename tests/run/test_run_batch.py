"""`charter run --batch` and `--batch-files`: the same results as a synchronous run, round by round.

The fake server's prompt-cache emulation is turned off here (``min_cache_tokens``): it reports
cached tokens for a system prompt it has seen before, so token counts would depend on which request
happened to arrive first, which differs between any two runs, batched or not.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fakeserver import ModelScript
from helpers import charter
from run_helpers import scoring_judge

from charter.providers.batch import PollPolicy
from charter.run import RunOptions, run_evals
from charter.run._batch import SENT_FILE, BATCHES_FILE, EXIT_ROUND_PENDING, BatchAPI, BatchFiles, RoundPending

FAST = PollPolicy(initial=0.01, max_interval=0.05)


@pytest.fixture
def server_options() -> dict:
    return {"models": {"judge": ModelScript(reply=scoring_judge)}, "min_cache_tokens": 10**9}


def _lines(run_dir: Path) -> list[bytes]:
    """results.jsonl's lines, sorted: the file is in completion order, each line must match byte for byte."""
    return sorted((run_dir / "results.jsonl").read_bytes().splitlines())


def _summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


def _without_cost(summary: dict) -> dict:
    return {**summary, "models": {m: {k: v for k, v in e.items() if k != "cost"} for m, e in summary["models"].items()}}


def _batch_creates(server) -> int:
    return len(server.batches.openai) + len(server.batches.anthropic)


def test_batch_run_writes_what_a_synchronous_run_writes(spec_file, server, env):
    options = RunOptions(models=("openai:gpt-4.1-mini",), judge="anthropic:claude-haiku-4-5-judge")
    server.models["claude-haiku-4-5-judge"] = ModelScript(reply=scoring_judge)
    run_evals(spec_file, env / "sync", options, cache_path=env / "sync.sqlite3")
    sync_calls = sum(1 for r in server.requests if r.path.endswith(("/chat/completions", "/messages")))
    summary = run_evals(spec_file, env / "batch", options, cache_path=env / "batch.sqlite3", batch=BatchAPI(poll=FAST))

    assert _lines(env / "batch") == _lines(env / "sync")
    run_info = [{k: v for k, v in json.loads((env / d / "run.json").read_text()).items() if k != "estimate"}
                for d in ("batch", "sync")]  # a cost estimate, if recorded, is at batch prices
    assert run_info[0] == run_info[1]
    sync = _summary(env / "sync")
    assert _without_cost(summary) == _without_cost(sync)
    for model, entry in summary["models"].items():  # the same tokens at half the price
        assert entry["cost"]["total_usd"] == pytest.approx(sync["models"][model]["cost"]["total_usd"] / 2, abs=1e-6)
        assert "batch: 50%" in entry["cost"]["prices"]["model"]["source"]
    # No synchronous call was made: every request went through a batch, the multi-turn cases one turn a round.
    assert sum(1 for r in server.requests if r.path.endswith(("/chat/completions", "/messages"))) == sync_calls
    assert _batch_creates(server) >= 3
    assert not (env / "batch" / BATCHES_FILE).exists()
    # The run is one `charter report` reads, and a second run has nothing left to do.
    assert charter("report", env / "batch", "-q").exit_code == 0
    creates = _batch_creates(server)
    run_evals(spec_file, env / "batch", options, cache_path=env / "batch.sqlite3", batch=BatchAPI(poll=FAST))
    assert _batch_creates(server) == creates


def test_a_stopped_batch_run_resumes_its_batches(spec_file, server, env):
    options = RunOptions(models=("openai:tutor",), judge="openai:judge")
    run_evals(spec_file, env / "sync", options, cache_path=env / "sync.sqlite3")
    polls = []

    def stop_on_the_third_poll(status) -> None:
        polls.append(status)
        if len(polls) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_evals(spec_file, env / "batch", options, cache_path=env / "batch.sqlite3",
                  batch=BatchAPI(poll=FAST, on_status=stop_on_the_third_poll))
    saved = json.loads((env / "batch" / BATCHES_FILE).read_text())["batches"]
    assert saved and (env / "batch" / SENT_FILE).exists()
    before = set(server.batches.openai)
    run_evals(spec_file, env / "batch", options, cache_path=env / "batch.sqlite3", batch=BatchAPI(poll=FAST))
    # The saved batches were waited for, not sent again: no later batch holds one of their requests.
    assert all(server.batches.openai[h["batch_id"]]["status"] == "completed" for h in saved)
    resumed = {custom_id for h in saved for custom_id in h["custom_ids"]}
    later = {item["custom_id"] for batch_id in set(server.batches.openai) - before
             for item in server.batches._inputs[batch_id]}
    assert later and not later & resumed
    assert _lines(env / "batch") == _lines(env / "sync")
    assert not (env / "batch" / BATCHES_FILE).exists()


def test_a_request_several_cases_ask_for_is_sent_and_counted_once(spec_file, server, env):
    # With --baseline both variants of a case ask the judge the same question (the judge never sees the
    # system prompt): a round sends it once and the first case in run order counts it as its call.
    options = RunOptions(models=("openai:tutor",), judge="openai:judge", baseline=True)
    run_evals(spec_file, env / "batch", options, cache_path=env / "batch.sqlite3", batch=BatchAPI(poll=FAST))
    sent = sum(len(items) for items in server.batches._inputs.values())
    records = [json.loads(line) for line in _lines(env / "batch")]
    calls = sum(r["usage"][role]["calls"] for r in records for role in ("model", "judge"))
    cached = sum(r["usage"][role]["cached_calls"] for r in records for role in ("model", "judge"))
    assert calls == sent and cached > 0
    assert all(r["usage"]["judge"]["cached_calls"] == 0 for r in records if r["variant"] == "character")
    # The same records otherwise as a synchronous run's.
    run_evals(spec_file, env / "sync", options, cache_path=env / "sync.sqlite3")

    def without_usage(run_dir):
        return sorted(json.dumps({k: v for k, v in json.loads(line).items() if k != "usage"}) for line in _lines(run_dir))

    assert without_usage(env / "batch") == without_usage(env / "sync")


def test_overwrite_drops_the_batch_state_of_the_run_it_replaces(spec_file, server, env):
    options = RunOptions(models=("openai:tutor",), judge="openai:judge")
    run_evals(spec_file, env / "out", options, select=("probe",), batch=BatchAPI(poll=FAST))
    assert (env / "out" / SENT_FILE).exists()
    other = RunOptions(models=("openai:other",), judge="openai:judge")
    run_evals(spec_file, env / "out", other, select=("probe",), overwrite=True)
    assert not (env / "out" / SENT_FILE).exists()


def _answer_rounds(server, command: list, limit: int = 30) -> tuple[int, object]:
    """Runs `charter run ... --batch-files DIR` and the fake engine in turn until the run completes;
    returns the number of rounds and the last command's result."""
    directory = Path(command[command.index("--batch-files") + 1])
    for rounds in range(limit):
        result = charter(*command)
        assert "never retrieved" not in result.stderr and "Traceback" not in result.stderr, result.stderr
        if result.exit_code != EXIT_ROUND_PENDING:
            return rounds, result
        assert "vllm run-batch -i " in result.stdout and "then run this command again" in result.stdout
        for entry in json.loads((directory / "rounds.json").read_text())["files"]:
            server.answer_batch_file(directory / entry["requests"], directory / entry["results"])
    raise AssertionError("the run did not complete")


def test_batch_files_loop_completes_a_multi_turn_run(spec_file, server, env):
    common = [spec_file, "-m", "openai-compatible:tutor", "--judge", "openai-compatible:judge",
              "--base-url", server.openai_base_url]
    assert charter("run", *common, "-o", "sync", "--cache", env / "sync.sqlite3").exit_code == 0
    command = ["run", *common, "-o", "files", "--cache", env / "files.sqlite3", "--batch-files", env / "rounds"]
    before = len(server.requests)
    rounds, result = _answer_rounds(server, command)
    assert result.exit_code == 0, result.output
    assert len(server.requests) == before  # nothing went over HTTP: the files were the only way out
    cases = [json.loads(line) for line in _lines(env / "files")]
    longest = max(sum(1 for t in c["transcript"] if t["generated"]) for c in cases)
    assert longest >= 2 and rounds == longest + 1  # one turn a round, then the last replies' judge calls
    assert _lines(env / "files") == _lines(env / "sync")
    first = [json.loads(line) for line in (env / "rounds" / "round-1.tutor.requests.jsonl").read_text().splitlines()]
    assert set(first[0]) == {"custom_id", "method", "url", "body"}
    assert first[0]["method"] == "POST" and first[0]["url"] == "/v1/chat/completions"
    assert first[0]["body"]["model"] == "tutor"
    assert not (env / "rounds" / "round-1.judge.requests.jsonl").exists()  # nothing to grade before a reply


def test_batch_files_waits_for_results_and_reports_failed_requests(spec_file, server, env):
    command = ["run", spec_file, "-m", "openai-compatible:tutor", "--judge", "openai-compatible:judge",
               "-o", "out", "--batch-files", "rounds", "--case", "probe"]
    first = charter(*command)
    assert first.exit_code == EXIT_ROUND_PENDING and "round 1 written" in first.stdout
    again = charter(*command)  # no results yet: the same round, nothing rewritten
    assert again.exit_code == EXIT_ROUND_PENDING and "round 1 still waits for its results" in again.stdout
    assert not (env / "rounds" / "round-2.tutor.requests.jsonl").exists()

    requests = (env / "rounds" / "round-1.tutor.requests.jsonl").read_text().splitlines()
    rounds = env / "rounds"
    server.answer_batch_file(rounds / "round-1.tutor.requests.jsonl", rounds / "round-1.tutor.results.jsonl")
    results = (env / "rounds" / "round-1.tutor.results.jsonl").read_text().splitlines()
    failed = json.loads(results[0])
    failed["response"] = {"status_code": 400, "request_id": "r1",
                          "body": {"error": {"message": "context too long", "type": "invalid_request_error"}}}
    (env / "rounds" / "round-1.tutor.results.jsonl").write_text(
        "\n".join([json.dumps(failed), *results[1:-1]]) + "\n")  # the last request has no answer at all
    assert len(requests) >= 2

    rounds, result = _answer_rounds(server, command)
    assert result.exit_code == 1 and "run the same command again to retry them" in result.stderr
    cases = [json.loads(line) for line in (env / "out" / "results.jsonl").read_text().splitlines()]
    errors = [e["message"] for c in cases for e in c["errors"]]
    assert any("context too long" in m for m in errors) and any("no result in" in m for m in errors), errors
    # Run again, the failed requests go out in a new round, as a synchronous run retries failed cases.
    rounds, result = _answer_rounds(server, command)
    assert rounds >= 2 and result.exit_code == 0, result.output
    summary = json.loads((env / "out" / "summary.json").read_text())
    assert summary["models"]["openai-compatible:tutor"]["counts"]["errored"] == 0


@pytest.mark.parametrize(("options", "message"), [
    (["-m", "demo:tutor", "--judge", "demo:judge", "--batch"], "--batch: demo:tutor has no batch API"),
    (["-m", "openai:tutor", "--judge", "openai:judge", "--batch-files", "d"], "--batch-files: openai:tutor is not an"),
    (["-m", "openai:tutor", "--judge", "openai:judge", "--batch", "--no-cache"], "drop --no-cache"),
    (["-m", "openai:tutor", "--judge", "openai:judge", "--batch", "--batch-files", "d"], "give one"),
])
def test_batch_options_refuse_what_they_cannot_do(spec_file, env, options, message):
    result = charter("run", spec_file, "-o", "out", *options)
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_an_unreadable_results_file_is_one_line(spec_file, server, env):
    command = ["run", spec_file, "-m", "openai-compatible:tutor", "--judge", "openai-compatible:tutor",
               "-o", "out", "--batch-files", "rounds", "--case", "probe"]
    assert charter(*command).exit_code == EXIT_ROUND_PENDING
    (env / "rounds" / "round-1.tutor.results.jsonl").write_text("this is not json\n")
    result = charter(*command)
    assert result.exit_code == 2
    assert "round-1.tutor.results.jsonl:1: not a batch output line" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_round_pending_from_python(spec_file, server, env):
    options = RunOptions(models=("openai-compatible:tutor",), judge="openai-compatible:tutor")
    with pytest.raises(RoundPending) as pending:
        run_evals(spec_file, env / "out", options, select=("probe",), batch=BatchFiles(env / "rounds"))
    assert pending.value.number == 1 and pending.value.written
    assert [f.requests.name for f in pending.value.files] == ["round-1.tutor.requests.jsonl"]
    assert pending.value.files[0].command().endswith("--model tutor")


def test_an_expired_batch_fails_its_cases_and_a_rerun_sends_them_again(spec_file, server, env):
    from charter.run import has_failures

    options = RunOptions(models=("openai:tutor",), judge="openai:judge")
    expired = []

    def expire_the_first_batch(status) -> None:
        if not expired:
            expired.append(status.batch_id)
            server.batches.expire(status.batch_id)

    summary = run_evals(spec_file, env / "out", options, select=("probe",),
                        batch=BatchAPI(poll=FAST, on_status=expire_the_first_batch))
    assert has_failures(summary)
    records = [json.loads(line) for line in _lines(env / "out")]
    assert all(r["status"] == "error" and "expired" in r["errors"][0]["message"] for r in records)
    summary = run_evals(spec_file, env / "out", options, select=("probe",), batch=BatchAPI(poll=FAST))
    assert not has_failures(summary)
