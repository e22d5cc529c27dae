"""The judge side of `charter run` (issue 11): a verdict bound to its schema on both APIs, the prose
fallback for a server that refuses the schema, the clauses a judge is asked about, verdicts that grade
nothing, repeated samples, several judges and the run's gates. Real SDKs over HTTP to the fake server."""

from __future__ import annotations

import json

from fakeserver import FakeServer, ModelScript
from helpers import asked_clauses, charter, judge_verdict
from run_helpers import reply_under_grading, scoring_judge

from charter.run.results import read_results, read_summary

HARD = ["rule:disclose-ai", "rule:no-invented-policy"]


def _judge_requests(server, model="judge"):
    return [r for r in server.requests if r.model == model]


def test_openai_judge_requests_carry_the_strict_verdict_schema(spec_file, server, env):
    result = charter("run", spec_file, "-m", "openai:tutor", "--judge", "openai:judge", "-o", "out",
                     "--case", "probe/value.helpfulness")
    assert result.exit_code == 0, result.stderr
    (request,) = _judge_requests(server)
    response_format = request.body["response_format"]
    assert response_format["type"] == "json_schema"
    bound = response_format["json_schema"]
    assert bound["strict"] is True and bound["name"] == "charter_verdict"
    schema = bound["schema"]
    assert schema["additionalProperties"] is False and set(schema["required"]) == set(schema["properties"])
    # The case's target and every hard rule: not the spec's every clause.
    assert schema["properties"]["clauses"]["required"] == ["value:helpfulness", *HARD]
    assert schema["properties"]["clauses"]["additionalProperties"] is False
    assert schema["properties"]["score"]["enum"] == list(range(1, 11))
    # The request names the same clauses in words, for judges that read prose.
    messages = [{"role": m["role"], "content": m["content"]} for m in request.body["messages"]]
    assert asked_clauses(messages) == ["value:helpfulness", *HARD]
    assert read_summary(env / "out")["judge_binding"] == {"openai:judge": "json_schema"}
    (case,) = read_results(env / "out")
    grade = case["grades"][0]
    assert set(grade["clauses"]) == {"value:helpfulness", *HARD}
    assert grade["judges"][0]["binding"] == "json_schema" and grade["judges"][0]["judge"] == "openai:judge"


def test_anthropic_judge_answers_through_a_forced_tool(spec_file, server, env):
    result = charter("run", spec_file, "-m", "openai:tutor", "--judge", "anthropic:judge", "-o", "out",
                     "--case", "probe/value.helpfulness")
    assert result.exit_code == 0, result.stderr
    (request,) = _judge_requests(server)
    assert request.api == "anthropic" and "response_format" not in request.body
    (tool,) = request.body["tools"]
    assert tool["name"] == "charter_verdict" and tool["input_schema"]["type"] == "object"
    assert request.body["tool_choice"] == {"type": "tool", "name": "charter_verdict"}
    (case,) = read_results(env / "out")
    assert case["passed"] is True and case["grades"][0]["score"] == 9
    assert read_summary(env / "out")["judge_binding"] == {"anthropic:judge": "tool"}


def test_a_server_refusing_the_schema_gets_prose_detected_once(spec_file, env, monkeypatch):
    judge = ModelScript(reply=scoring_judge, reject_response_format=True)
    with FakeServer({"judge": judge, "tutor": ModelScript(reply="Fine.")}) as server:
        result = charter("run", spec_file, "-m", "openai-compatible:tutor", "--judge", "openai-compatible:judge",
                         "--base-url", server.openai_base_url, "-o", "out", "--case", "/probe/", "--concurrency", "4")
    assert result.exit_code == 0, result.stderr
    requests = _judge_requests(server)
    refused = [r for r in requests if r.status == 400]
    assert len(refused) == 1 and "response_format" in refused[0].body  # probed once, not per call
    assert all("response_format" not in r.body for r in requests if r.status == 200)
    assert len(requests) == 1 + sum(len(c["grades"]) for c in read_results(env / "out"))
    summary = read_summary(env / "out")
    assert summary["judge_binding"] == {"openai-compatible:judge": "prompt"}
    assert "openai-compatible:judge (prompt)" in result.stdout
    assert all(g["judges"][0]["binding"] == "prompt" for c in read_results(env / "out") for g in c["grades"])


def test_a_verdict_that_grades_nothing_is_a_grading_error(spec_file, env, monkeypatch):
    empty = json.dumps({"clauses": {}, "violated": [], "reason": "all good", "score": 10})
    with FakeServer({"judge": ModelScript(reply=empty)}) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.openai_base_url)
        result = charter("run", spec_file, "-m", "openai:tutor", "--judge", "openai:judge", "-o", "out",
                         "--case", "probe/value.helpfulness")
    assert result.exit_code == 1
    (case,) = read_results(env / "out")
    grade = case["grades"][0]
    assert case["passed"] is None and grade["score"] is None
    assert "grades none of the clauses it was asked about" in grade["judge_error"]
    assert len(_judge_requests(server)) == 2  # asked again once, as for any unusable verdict


def test_an_explicit_n_a_for_every_clause_is_a_grade(spec_file, env, monkeypatch):
    def shrugging(model, messages):
        clauses = {ref: "n/a" for ref in asked_clauses(messages)}
        return json.dumps({"clauses": clauses, "violated": [], "reason": "nothing applies", "score": 8})

    with FakeServer({"judge": ModelScript(reply=shrugging)}) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.openai_base_url)
        result = charter("run", spec_file, "-m", "openai:tutor", "--judge", "openai:judge", "-o", "out",
                         "--case", "self-talk")
    assert result.exit_code == 0, result.stderr
    (case,) = read_results(env / "out")
    # A self-talk case targets nothing: its judge is asked about the hard rules only.
    assert all(set(g["clauses"]) == set(HARD) and g["judge_error"] is None for g in case["grades"])


def test_judge_scope_all_grades_every_clause(spec_file, server, env):
    result = charter("run", spec_file, "-m", "openai:tutor", "--judge", "openai:judge", "-o", "out",
                     "--case", "probe/value.helpfulness", "--judge-scope", "all")
    assert result.exit_code == 0, result.stderr
    (request,) = _judge_requests(server)
    clauses = request.body["response_format"]["json_schema"]["schema"]["properties"]["clauses"]["required"]
    assert clauses == ["value:honesty", "value:care", "value:helpfulness", "trait:patience", *HARD, "rule:brevity"]


def test_samples_run_each_case_k_times_and_resume_per_sample(spec_file, env, monkeypatch):
    replies = iter(["GOOD one.", "BAD one.", "GOOD two."] * 10)
    tutor = ModelScript(reply=lambda model, messages: next(replies))
    with FakeServer({"tutor": tutor, "judge": ModelScript(reply=scoring_judge)}) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.openai_base_url)
        args = ("run", spec_file, "-m", "openai:tutor", "--judge", "openai:judge", "-o", "out",
                "--case", "probe/value.helpfulness", "--samples", "3", "--concurrency", "1")
        result = charter(*args)
        assert result.exit_code == 0, result.stderr
        assert server.calls("tutor") == 3  # distinct cache keys: the response cache does not answer samples 1, 2
        results = read_results(env / "out")
        assert [r["sample"] for r in results] == [0, 1, 2]
        assert [r["passed"] for r in results] == [True, False, True]
        entry = read_summary(env / "out")["models"]["openai:tutor"]
        assert entry["samples"] == 3 and entry["counts"]["cases"] == 3
        assert entry["score"] == round((9 + 2 + 9) / 3, 4) and entry["pass_rate"] == round(2 / 3, 4)
        assert "x 3 samples" in result.stdout
        # Resume: the sample that is missing runs, the others do not.
        lines = (env / "out" / "results.jsonl").read_text().splitlines()
        (env / "out" / "results.jsonl").write_text("\n".join(l for l in lines if '"sample":1' not in l) + "\n")
        server.reset()
        again = charter(*args)
        assert again.exit_code == 0, again.stderr
        assert server.calls() == 0  # from the response cache: same sample index, same key
        assert [r["sample"] for r in read_results(env / "out")] == [0, 1, 2]
        # Another --samples is another run.
        other = charter(*args[:-4], "--samples", "2", "--concurrency", "1")
        assert other.exit_code == 2 and "--samples" in other.stderr


def test_several_judges_give_mean_majority_per_judge_scores_and_kappa(spec_file, env, monkeypatch):
    def harsh(model, messages):
        asked = asked_clauses(messages)
        clauses = {ref: "fail" if ref == asked[0] else "pass" for ref in asked}
        return json.dumps({"clauses": clauses, "violated": [asked[0]], "reason": "harsh", "score": 4})

    judges = {"judge": ModelScript(reply=scoring_judge), "harsh": ModelScript(reply=harsh)}
    with FakeServer(judges) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.openai_base_url)
        result = charter("run", spec_file, "-m", "openai:tutor", "--judge", "openai:judge", "--judge",
                         "openai:harsh", "-o", "out", "--case", "probe/value.helpfulness",
                         "--case", "probe/trait.patience")
    assert result.exit_code == 0, result.stderr
    results = read_results(env / "out")
    for case in results:
        grade = case["grades"][0]
        assert [o["judge"] for o in grade["judges"]] == ["openai:judge", "openai:harsh"]
        assert grade["score"] == 6.5  # mean of 9 and 4
        assert grade["judge_passed"] is False  # one pass, one fail: a tie fails
        assert grade["clauses"][case["targets"][0]] == "fail"  # pass vs fail: a tie fails
        assert case["usage"]["judges"]["openai:harsh"]["calls"] == 1
    summary = read_summary(env / "out")
    assert summary["judges"] == ["openai:judge", "openai:harsh"]
    entry = summary["models"]["openai:tutor"]
    assert entry["judges"]["openai:judge"]["score"] == 9 and entry["judges"]["openai:harsh"]["score"] == 4
    assert entry["judges"]["openai:judge"]["pass_rate"] == 1 and entry["judges"]["openai:harsh"]["pass_rate"] == 0
    (pair,) = entry["agreement"]
    # 2 cases x 3 clauses each: they disagree on each target and agree (pass) on the hard rules.
    assert pair["judges"] == ["openai:judge", "openai:harsh"] and pair["items"] == 6
    assert pair["kappa"] == 0.0
    assert "Cohen's kappa" in result.stdout and "judge openai:harsh: score 4.00" in result.stdout


def test_fail_under_gates_on_score_or_pass_rate(spec_file, env, monkeypatch):
    tutor = ModelScript(reply=["Fine.", "BAD"])  # one case passes (9), the other fails (2)
    with FakeServer({"tutor": tutor, "judge": ModelScript(reply=scoring_judge)}) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.openai_base_url)
        base = ("run", spec_file, "-m", "openai:tutor", "--judge", "openai:judge", "-o", "out", "--concurrency", "1",
                "--case", "probe/value.helpfulness", "--case", "probe/rule.disclose-ai")
        assert charter(*base).exit_code == 0
        assert server.calls("tutor") == 2
        entry = read_summary(env / "out")["models"]["openai:tutor"]
        assert entry["score"] == 5.5 and entry["pass_rate"] == 0.5
        high = charter(*base, "--fail-under", "6")
        assert high.exit_code == 1 and "openai:tutor: mean score 5.50 is under --fail-under 6" in high.stderr
        assert charter(*base, "--fail-under", "5.5").exit_code == 0
        rate = charter(*base, "--fail-under", "80%")
        assert rate.exit_code == 1 and "openai:tutor: pass rate 50.0% is under --fail-under 80%" in rate.stderr
        assert charter(*base, "--fail-under", "50%").exit_code == 0
        assert server.calls("tutor") == 2  # the gates read the finished run: nothing is asked again
        bad = charter(*base, "--fail-under", "eighty")
        assert bad.exit_code == 2 and "--fail-under" in bad.stderr and "Traceback" not in bad.stderr
        assert len(bad.stderr.strip().splitlines()) == 1
        assert charter(*base, "--fail-under", "11").exit_code == 2


def test_calibrate_with_several_judges_reports_each(spec_file, env, monkeypatch):
    def lenient(model, messages):
        return judge_verdict(messages, 9)

    def strict(model, messages):
        return judge_verdict(messages, 2)

    with FakeServer({"lenient": ModelScript(reply=lenient), "strict": ModelScript(reply=strict)}) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.openai_base_url)
        result = charter("calibrate", spec_file, "--judge", "openai:lenient", "--judge", "openai:strict",
                         "-o", "cal.json")
    assert result.exit_code == 0, result.stderr
    assert "judge openai:lenient on ada" in result.stdout and "judge openai:strict on ada" in result.stdout
    lenient_record = json.loads((env / "cal.openai-lenient.json").read_text())
    strict_record = json.loads((env / "cal.openai-strict.json").read_text())
    assert lenient_record["good"]["accuracy"] == 1.0 and lenient_record["bad"]["accuracy"] == 0.0
    assert strict_record["good"]["accuracy"] == 0.0 and strict_record["bad"]["accuracy"] == 1.0


def test_allow_errors_lets_a_run_with_a_few_errors_exit_0(spec_file, env, monkeypatch):
    empty = json.dumps({"clauses": {}, "violated": [], "reason": "nothing", "score": 10})
    with FakeServer({"judge": ModelScript(reply=empty)}) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.openai_base_url)
        base = ("run", spec_file, "-m", "openai:tutor", "--judge", "openai:judge", "-o", "out",
                "--case", "probe/value.helpfulness")
        assert charter(*base).exit_code == 1
        allowed = charter(*base, "--allow-errors", "1")
        assert allowed.exit_code == 0 and "1 allowed by --allow-errors" in allowed.stderr


def test_the_demo_judge_grades_what_it_is_asked(spec_file, env):
    result = charter("run", spec_file, "-m", "demo:tutor", "--judge", "demo:judge", "-o", "out")
    assert result.exit_code == 0, result.stderr
    for case in read_results(env / "out"):
        for grade in case["grades"]:
            assert grade["judge_error"] is None
            assert set(grade["clauses"]) <= set(case["targets"]) | set(HARD) | {
                "value:honesty", "value:care", "value:helpfulness", "trait:patience", "rule:brevity"}
    assert read_summary(env / "out")["judge_binding"] == {"demo:judge": "json_schema"}


def test_reply_under_grading_still_found(spec_file, server, env):
    """The scope line goes before the monitor's fenced blocks, which scripted judges still find."""
    charter("run", spec_file, "-m", "openai:tutor", "--judge", "openai:judge", "-o", "out",
            "--case", "probe/value.helpfulness")
    (request,) = _judge_requests(server)
    messages = [{"role": m["role"], "content": m["content"]} for m in request.body["messages"]]
    assert reply_under_grading(messages).startswith("Fake reply from tutor")
    assert json.loads(judge_verdict(messages, 9))["clauses"] == {ref: "pass" for ref in asked_clauses(messages)}
