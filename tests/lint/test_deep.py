"""`charter lint --deep`: pair pre-filter, the model's judgement, findings, cache and errors.

Every model call goes over real HTTP on 127.0.0.1 to the fake server through the real SDKs.
"""

from __future__ import annotations

import asyncio
import json
import random
import re

import pytest
from click.testing import CliRunner
from fakeserver import FakeServer, ModelScript
from helpers import OPENAI_KEY, charter

from charter.cli import main
from charter.lint import RULES, lint
from charter.lint.deep import (
    CODE,
    PER_CLAUSE,
    JudgementError,
    deep_lint,
    pair_prompt,
    parse_judgement,
    possible_pairs,
    run_deep,
    select_pairs,
)
from charter.providers import RetryPolicy, get_provider
from charter.providers.cache import ResponseCache

MODEL = "judge-1"
KEY = OPENAI_KEY  # set by the root conftest's keys fixture
LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+): warning: .+ \[CH601 model-found-conflict\]$")
SCENARIO = "A parent on the family plan asks the tutor at 9 pm to just give the answer to tomorrow's homework."


def refs_in(messages: list) -> tuple[str, str]:
    prompt = next(m["content"] for m in messages if m["role"] == "user")
    return (re.search(r"^First clause: (\S+)", prompt, re.M).group(1),
            re.search(r"^Second clause: (\S+)", prompt, re.M).group(1))


def judgement(first: str, second: str, verdict: str, winner: str = "neither") -> dict:
    return {"scenario": SCENARIO, "first_demands": f"{first} wants a hint first.",
            "second_demands": f"{second} wants the full answer now.", "verdict": verdict, "winner": winner,
            "reason": "No tension weighs learning against the parent's request."}


def judge(conflicts: set[frozenset[str]], *, verdict: str = "conflict"):
    """A reply callable: the given pairs are judged ``verdict``, every other pair clear."""

    def reply(model: str, messages: list) -> str:
        if any("Hazard (CH" in str(m["content"]) for m in messages):  # a hazard question: none found
            return json.dumps({"present": False, "refs": [], "reason": "No text states it."})
        first, second = refs_in(messages)
        found = verdict if frozenset((first, second)) in conflicts else "clear"
        return "Here is my review:\n```json\n" + json.dumps(judgement(first, second, found)) + "\n```\nHope it helps."

    return reply


def with_pair(data: dict) -> dict:
    """The clean tutor plus two rules that meet when a student asks for the answer."""
    data["rules"] += [
        {"id": "hint-only", "text": "Never give the full solution to a homework question; offer a hint.",
         "serves": ["learning"], "probes": ["Can you just solve question 4 for me?"]},
        {"id": "answer-parents", "text": "Always give the full solution when a parent asks for it.",
         "serves": ["honesty"], "probes": ["I'm Sam's dad. What's the full working for question 4?"]},
    ]
    data["examples"][0]["targets"] += ["rule:hint-only", "rule:answer-parents"]
    return data


PAIR = frozenset(("rule:hint-only", "rule:answer-parents"))


def deep(spec, server: FakeServer, **options):
    """The pair checks alone (no hazard questions, tested on their own below)."""
    [report] = run_deep([spec], f"openai:{MODEL}", base_url=server.openai_base_url, **{"hazards": False, **options})
    return report


# --- the pre-filter ------------------------------------------------------------------------------

ACTIONS = ["recommend", "quote", "promise", "share", "estimate", "confirm", "explain", "summarise", "discuss",
           "compare", "reveal", "schedule", "cancel", "refund", "escalate"]
TOPICS = ["delivery dates", "refund amounts", "medication doses", "account passwords", "exam answers",
          "loan rates", "warranty terms", "store hours", "order history", "diagnosis details", "legal deadlines",
          "shipping costs", "personal addresses", "subscription prices", "return windows", "allergy information",
          "travel visas", "tax rules", "insurance claims", "school grades"]
HEDGES = ["unless the user asks twice", "when the customer is upset", "before checking the record",
          "without a manager's approval", "in plain words", "for a first-time caller", "during a live chat",
          "after confirming their identity"]


def generated_spec(rules: int, seed: int = 7) -> dict:
    """A spec of ``rules`` varied, product-like rules, a tenth as many tensions, 8 values, 4 contexts."""
    rng = random.Random(seed)
    values = [{"id": f"value-{i}", "description": f"I care about concern number {i} of the people I serve."}
              for i in range(8)]
    contexts = {f"ctx-{i}": {"description": f"Deployment surface {i} of the product."} for i in range(4)}
    data: dict = {"charter": 1, "id": "generated", "name": "Generated", "summary": "A shop assistant for tests.",
                  "contexts": contexts,
                  "identity": {"self_description": "I am a shop assistant.", "nature": "I am an AI."},
                  "values": values, "rules": [], "tensions": []}
    for i in range(rules):
        polarity = rng.choice(["Always", "Never", "Do not", "Make sure to"])
        text = f"{polarity} {rng.choice(ACTIONS)} {rng.choice(TOPICS)} {rng.choice(HEDGES)} (case {i})."
        rule = {"id": f"rule-{i}", "text": text, "strength": rng.choice(["hard", "default", "soft"]),
                "serves": [f"value-{rng.randrange(8)}"]}
        if rng.random() < 0.4:
            rule["when"] = [f"ctx-{rng.randrange(4)}"]
        data["rules"].append(rule)
    for i in range(rules // 10):
        a, b = rng.sample(range(8), 2)
        data["tensions"].append({
            "id": f"tension-{i}", "values": [f"value-{a}", f"value-{b}"],
            "situation": f"A customer asks about {rng.choice(TOPICS)} and concerns {a} and {b} pull apart.",
            "resolution": f"{rng.choice(ACTIONS).capitalize()} the {rng.choice(TOPICS)} and say what is uncertain.",
            "favors": f"value-{a}"})
    return data


def test_model_calls_grow_linearly_with_the_spec(keys, write, load):
    checked, possible = {}, {}
    with FakeServer({MODEL: ModelScript(reply=judge(set()))}) as server:
        for rules in (25, 50, 100):
            spec = load(generated_spec(rules))
            server.reset()
            report = deep(spec, server, max_pairs=None)
            clauses = len(spec.rules) + len(spec.tensions)
            assert server.calls(MODEL) == report.calls == len(report.selection.pairs)
            assert report.calls <= PER_CLAUSE * clauses
            checked[rules], possible[rules] = report.calls, report.selection.possible
    assert possible[100] / possible[25] > 15  # all pairs: quadratic
    assert 3.0 <= checked[100] / checked[25] <= 5.0, checked  # checked pairs: linear
    assert 1.5 <= checked[100] / checked[50] <= 2.5, checked


def test_pairs_need_overlapping_contexts_and_come_in_a_stable_order(load):
    data = generated_spec(60)
    spec = load(data)
    selection = select_pairs(spec, max_pairs=None)
    assert selection == select_pairs(spec, max_pairs=None)
    assert selection.possible == possible_pairs(spec) == 60 * 59 // 2 + 60 * 6
    for pair in selection.pairs:
        a, b = pair.first.when, pair.second.when
        assert not a or not b or set(a) & set(b)
        assert pair.first.ref.startswith("rule:")
        assert pair.kind in ("same-value", "across-values", "rule-tension")
    assert {p.kind for p in selection.pairs} == {"same-value", "across-values", "rule-tension"}
    capped = select_pairs(spec, max_pairs=10)
    assert len(capped.pairs) == 10
    assert min(p.score for p in capped.pairs) >= max(p.score for p in selection.pairs if p not in capped.pairs)


def test_rules_that_share_nothing_are_not_paired(load, clean):
    clean["rules"] += [{"id": "emoji", "text": "Use emoji sparingly in greetings.", "serves": ["learning"]},
                       {"id": "units", "text": "Always write units after every number.", "serves": ["honesty"]}]
    refs = {frozenset(p.refs) for p in select_pairs(load(clean)).pairs}
    assert frozenset(("rule:emoji", "rule:units")) not in refs
    assert frozenset(("rule:hint-first", "rule:emoji")) in refs  # both serve learning


def test_pairs_the_static_reader_calls_conflicting_are_among_the_candidates(load, clean):
    clean["rules"] += [{"id": "emoji", "text": "Always use emoji to keep the tone light.", "serves": ["learning"]},
                       {"id": "no-emoji", "text": "Avoid emoji.", "serves": ["honesty"]}]
    selection = select_pairs(load(clean), per_clause=1)
    [pair] = [p for p in selection.pairs if frozenset(p.refs) == {"rule:emoji", "rule:no-emoji"}]
    assert pair.kind == "across-values"


def test_the_prompt_asks_for_a_realistic_scenario_in_the_spec_s_own_product(load, clean):
    spec = load(with_pair(clean))
    pair = next(p for p in select_pairs(spec).pairs if frozenset(p.refs) == PAIR)
    prompt = pair_prompt(spec, pair)
    assert "A maths tutor for secondary-school students." in prompt
    assert "1. honesty:" in prompt and "2. learning:" in prompt
    assert "tension:wrong-but-close (honesty vs learning; favors honesty)" in prompt
    assert "Never give the full solution to a homework question; offer a hint." in prompt
    assert "exam: The student is revising for an exam." in prompt


# --- reading the model's answer ----------------------------------------------------------------


@pytest.fixture
def pair(load, clean):
    spec = load(with_pair(clean))
    return next(p for p in select_pairs(spec).pairs if frozenset(p.refs) == PAIR)


def test_judgements_are_read_bare_fenced_or_inside_prose(pair):
    a, b = pair.refs
    body = judgement(a, b, "Conflict", winner=b)
    for text in (json.dumps(body), f"```json\n{json.dumps(body, indent=2)}\n```",
                 f"Sure. {{not json}} Here it is: {json.dumps(body)} Let me know.",
                 "```\n" + json.dumps(body) + "\n```"):
        read = parse_judgement(text, pair)
        assert (read.verdict, read.winner, read.scenario) == ("conflict", b, SCENARIO)
    nested = {k: v for k, v in body.items() if not k.endswith("_demands")}
    nested["demands"] = {"first": "a hint", "second": "the answer"}
    nested["winner"] = "first"
    read = parse_judgement(json.dumps(nested), pair)
    assert (read.first_demands, read.second_demands, read.winner) == ("a hint", "the answer", a)
    assert parse_judgement(json.dumps({**body, "winner": None, "verdict": "clear"}), pair).winner == "neither"


@pytest.mark.parametrize("text, problem", [
    ("I think these are fine.", "no JSON object"),
    ('{"scenario": "x", "verdict": "conflict"', "incomplete or invalid"),
    ('{"scenario": "x", "first_demands": "a", "second_demands": "b", "verdict": "maybe", "winner": "neither", '
     '"reason": "r"}', "'verdict' must be one of clear, unclear, conflict"),
    ('{"scenario": "x", "first_demands": "a", "second_demands": "b", "verdict": "clear", "winner": "rule:other", '
     '"reason": "r"}', "'winner' must be"),
    ('{"scenario": " ", "first_demands": "a", "second_demands": "b", "verdict": "clear", "winner": "neither", '
     '"reason": "r"}', "'scenario' must be a non-empty string"),
])
def test_malformed_judgements_say_what_is_wrong(pair, text, problem):
    with pytest.raises(JudgementError, match=re.escape(problem)):
        parse_judgement(text, pair)


# --- findings ------------------------------------------------------------------------------------


def test_a_conflict_becomes_a_finding_at_both_clauses_with_the_scenario(keys, load, clean):
    spec = load(with_pair(clean))
    with FakeServer({MODEL: ModelScript(reply=judge({PAIR}))}) as server:
        report = deep(spec, server)
    first, second = (spec.clause(ref) for ref in ("rule:hint-only", "rule:answer-parents"))
    [finding] = report.findings
    assert (finding.code, finding.name, finding.severity) == (CODE, "model-found-conflict", "warning")
    assert finding.loc == first.loc and finding.related == (second.loc,)
    assert SCENARIO in finding.message and f"rule:answer-parents at {second.loc}" in finding.message
    assert "openai:judge-1 found a conflict" in finding.message
    assert "Nothing in the spec decides which wins" in finding.message
    assert LINE.match(finding.format()) and "\n" not in finding.format()
    assert report.evidence(finding).judgement.verdict == "conflict"


def test_unclear_is_reported_and_clear_is_not(keys, load, clean):
    spec = load(with_pair(clean))
    with FakeServer({MODEL: ModelScript(reply=judge({PAIR}, verdict="unclear"))}) as server:
        [finding] = deep(spec, server).findings
    assert "found no clear answer in the spec" in finding.message
    with FakeServer({MODEL: ModelScript(reply=judge(set()))}) as server:
        report = deep(spec, server)
    assert report.findings == () and report.calls == len(report.selection.pairs) > 0


def test_anthropic_models_judge_pairs_too(keys, load, clean, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-0123456789")
    spec = load(with_pair(clean))
    with FakeServer({MODEL: ModelScript(reply=judge({PAIR}))}) as server:
        [report] = run_deep([spec], f"anthropic:{MODEL}", base_url=server.anthropic_base_url)
        assert {r.path for r in server.requests} == {"/v1/messages"}
        assert server.requests[0].body["system"].startswith("You review the specification of an AI character")
    assert len(report.findings) == 1 and "anthropic:judge-1 found a conflict" in report.findings[0].message


def test_a_static_lint_reports_nothing_for_ch601(load, clean):
    assert RULES[CODE].name == "model-found-conflict"
    assert [d for d in lint(load(with_pair(clean))) if d.code == CODE] == []


def test_a_malformed_answer_is_asked_again_once_then_noted(keys, load, clean):
    spec = load(with_pair(clean))

    def first_answer_bad(model, messages):
        first, second = refs_in(messages)
        if frozenset((first, second)) == PAIR and len(messages) == 2:  # system + user: not yet a repair
            return "I would need more context."
        return json.dumps(judgement(first, second, "conflict" if frozenset((first, second)) == PAIR else "clear"))

    with FakeServer({MODEL: ModelScript(reply=first_answer_bad)}) as server:
        report = deep(spec, server)
        repair = [r.body["messages"] for r in server.requests if len(r.body["messages"]) == 4]
    assert len(report.findings) == 1 and report.calls == len(report.selection.pairs) + 1
    assert repair and "could not be read: no JSON object found" in repair[0][-1]["content"]

    with FakeServer({MODEL: ModelScript(reply='{"verdict": "conflict", "scenario": "trunc')}) as server:
        report = deep(spec, server)
    assert report.findings == ()
    assert len(report.unchecked) == len(report.selection.pairs) and report.calls == 2 * len(report.selection.pairs)
    assert "not the JSON asked for, twice" in report.notes()[0]


def test_a_pair_whose_calls_keep_failing_is_noted_and_the_rest_are_checked(keys, load, clean):
    spec = load(with_pair(clean))

    def flaky(model, messages):
        first, second = refs_in(messages)
        return json.dumps(judgement(first, second, "clear"))

    async def run_once(server):
        async with get_provider(f"openai:{MODEL}", base_url=server.openai_base_url) as provider:
            # One pair at a time, so both scripted faults hit the first pair.
            return await deep_lint(spec, provider, concurrency=1, hazard_questions=(),
                                   policy=RetryPolicy(max_attempts=2, base_delay=0.001))

    with FakeServer({MODEL: ModelScript(reply=flaky, sequence=["server_error", "server_error"])}) as server:
        report = asyncio.run(run_once(server))
    pairs = len(report.selection.pairs)
    assert len(report.unchecked) == 1 and "server error (HTTP 500" in report.notes()[0]
    assert report.calls == pairs + 1  # the failed pair used both of its attempts


# --- the cache -----------------------------------------------------------------------------------


def test_a_rerun_is_answered_from_the_cache(keys, load, clean, tmp_path):
    spec = load(with_pair(clean))
    cache = ResponseCache(tmp_path / "responses.sqlite3")
    with FakeServer({MODEL: ModelScript(reply=judge({PAIR}))}) as server:
        first = deep(spec, server, cache=cache)
        calls = server.calls(MODEL)
        again = deep(spec, server, cache=cache)
        assert server.calls(MODEL) == calls > 0
    assert again.calls == 0 and again.cache_hits == first.calls
    assert again.findings == first.findings
    cache.close()


# --- the command line ------------------------------------------------------------------------------


@pytest.fixture
def cli(keys, write, clean, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    write(with_pair(clean))

    def _run(server: FakeServer | None, *args: str, model: str = f"openai:{MODEL}"):
        # The pair checks alone; the hazard questions (CH602) are tested on their own below.
        base = ["--base-url", server.openai_base_url] if server is not None else []
        return charter("lint", "spec.yaml", "--deep", "--model", model, *base, "--ignore", "CH602", *args)

    return _run


def test_cli_reports_findings_counts_pairs_and_reruns_free(cli):
    with FakeServer({MODEL: ModelScript(reply=judge({PAIR}))}) as server:
        result = cli(server)
        assert result.exit_code == 0, result.output  # warnings only
        [line] = result.stdout.splitlines()
        assert LINE.match(line) and line.startswith("spec.yaml:")
        summary = re.search(r"checked (\d+) of (\d+) possible clause pairs .*; (\d+) model call\(s\), (\d+) from cache",
                            result.stderr)
        checked, possible, calls, cached = map(int, summary.groups())
        assert possible == 4 * 3 // 2 + 4 * 1 and 0 < checked <= possible and calls == checked and cached == 0
        rerun = cli(server, "--strict")
        assert rerun.exit_code == 1 and rerun.stdout == result.stdout
        assert f"0 model call(s), {checked} from cache" in rerun.stderr
        assert server.calls(MODEL) == checked
        cli(server, "--no-cache")
        assert server.calls(MODEL) == 2 * checked


def test_cli_sarif_and_json_carry_the_evidence(cli):
    with FakeServer({MODEL: ModelScript(reply=judge({PAIR}))}) as server:
        sarif = json.loads(cli(server, "--format", "sarif").stdout)
        document = json.loads(cli(server, "--format", "json").stdout)
    run = sarif["runs"][0]
    [result] = [r for r in run["results"] if r["ruleId"] == CODE]
    assert result["properties"]["scenario"] == SCENARIO and result["properties"]["verdict"] == "conflict"
    assert result["relatedLocations"][0]["message"]["text"].startswith("rule:answer-parents demands:")
    assert CODE in [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    assert run["invocations"][0]["toolExecutionNotifications"] == []
    [deep_run] = document["deep"]
    assert deep_run["calls"] == 0 and deep_run["cache_hits"] == deep_run["checked_pairs"]
    judged = [p for p in deep_run["pairs"] if frozenset((p["first"], p["second"])) == PAIR]
    assert judged[0]["judgement"]["scenario"] == SCENARIO


def test_cli_max_pairs_and_deselection(cli):
    with FakeServer({MODEL: ModelScript(reply=judge(set()))}) as server:
        assert "checked 2 of 10" in cli(server, "--max-pairs", "2").stderr
        assert server.calls(MODEL) == 2
        skipped = cli(server, "--ignore", "model-found-conflict")
        assert skipped.exit_code == 0 and "deep lint skipped for 1 spec(s)" in skipped.stderr
        assert server.calls(MODEL) == 2


def one_line_error(result, code: int = 2) -> str:
    assert result.exit_code == code, result.output
    assert result.stdout == "" and isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_cli_rejected_key_is_one_line_exit_2(cli):
    with FakeServer({MODEL: ModelScript(reply=judge(set()))}, api_keys={"another-key"}) as server:
        line = one_line_error(cli(server))
    assert line.startswith("charter: error: openai:judge-1: the API rejected the key in OPENAI_API_KEY (HTTP 401)")
    assert KEY not in line


def test_cli_unknown_model_is_one_line_exit_2(cli):
    with FakeServer({MODEL: ModelScript(reply=judge(set()))}, default=None) as server:
        line = one_line_error(cli(server, model="openai:no-such-model"))
        assert server.requests and {r.status for r in server.requests} == {404}
    assert "model 'no-such-model' does not exist (HTTP 404)" in line


def test_cli_missing_key_and_bad_options_are_one_line_exit_2(cli, monkeypatch):
    assert "invalid model id 'gpt-4.1-mini'" in one_line_error(cli(None, model="gpt-4.1-mini"))
    monkeypatch.delenv("OPENAI_API_KEY")
    assert "no API key: set OPENAI_API_KEY" in one_line_error(cli(None))
    assert "--deep needs --model" in one_line_error(CliRunner().invoke(main, ["lint", "spec.yaml", "--deep"]))
    assert "only apply with --deep" in one_line_error(
        CliRunner().invoke(main, ["lint", "spec.yaml", "--model", "openai:x"]))
    bad_count = CliRunner().invoke(main, ["lint", "spec.yaml", "--deep", "--model", "openai:x", "--max-pairs", "0"])
    assert bad_count.exit_code == 2 and "Invalid value for '--max-pairs'" in bad_count.stderr


def test_cli_unusable_cache_is_one_line_exit_2(cli, monkeypatch, tmp_path):
    (tmp_path / "blocked").write_text("a file where the cache folder should be", encoding="utf-8")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "blocked"))
    with FakeServer({MODEL: ModelScript(reply=judge(set()))}) as server:
        line = one_line_error(cli(server))
        assert server.calls() == 0
    assert "cannot create the response cache" in line


# --- hazard questions (CH602) ---------------------------------------------------------------------


def hazard_judge(found: dict[str, list[str]]):
    """Answers hazard questions: ``found`` maps a hazard id to the references the model names."""

    def reply(model: str, messages: list) -> str:
        prompt = next(m["content"] for m in messages if m["role"] == "user")
        match = re.search(r"^Hazard \((CH\d+)\): (.*)$", prompt, re.M)
        if match is None:
            first, second = refs_in(messages)
            return json.dumps(judgement(first, second, "clear"))
        from charter.lint._hazard_prompts import QUESTIONS

        hazard = next(q.hazard for q in QUESTIONS if q.code == match.group(1) and q.question == match.group(2))
        refs = found.get(hazard, [])
        return json.dumps({"present": bool(refs), "refs": refs, "reason": f"{hazard}: scripted"})

    return reply


def test_a_hazard_in_words_no_static_rule_reads_is_reported(keys, load, clean):
    clean["rules"].append({"id": "seamless", "text": "Make sure nobody suspects there is software on the other end.",
                           "serves": ["honesty"], "probes": ["are you a bot"]})
    spec = load(clean)
    assert not [d for d in lint(spec) if d.code == "CH306"]  # the static rule does not read this wording
    with FakeServer({MODEL: ModelScript(reply=hazard_judge({"claims-to-be-human": ["rule:seamless"]}))}) as server:
        [report] = run_deep([spec], f"openai:{MODEL}", base_url=server.openai_base_url, max_pairs=1)
        from charter.lint._hazard_prompts import QUESTIONS

        assert server.calls(MODEL) == report.calls == len(report.selection.pairs) + len(QUESTIONS)
    [finding] = report.hazard_findings
    assert finding.code == "CH602" and finding.name == "model-found-hazard" and finding.severity == "warning"
    assert finding.loc.line > 0 and "rule:seamless" in finding.message and "CH306" in finding.message
    assert {h["hazard"]: h["present"] for h in report.to_dict()["hazards"]}["claims-to-be-human"] is True
    assert "hazard finding(s)" in report.summary()


def test_one_half_of_ch301_is_not_reported(keys, load, clean):
    clean["rules"].append({"id": "stay", "text": "Give people a reason to stay whenever they say goodbye.",
                           "serves": ["honesty"], "probes": ["ok bye"]})
    spec = load(clean)
    with FakeServer({MODEL: ModelScript(reply=hazard_judge({"engagement": ["rule:stay"]}))}) as server:
        [report] = run_deep([spec], f"openai:{MODEL}", base_url=server.openai_base_url, max_pairs=1)
    assert report.hazard_findings == ()  # engagement without distrust is not CH301's hazard


def test_cli_reports_hazard_findings_and_fails_when_nothing_is_answered(keys, write, clean, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    clean["rules"].append({"id": "seamless", "text": "Make sure nobody suspects there is software on the other end.",
                           "serves": ["honesty"], "probes": ["are you a bot"]})
    write(clean)
    with FakeServer({MODEL: ModelScript(reply=hazard_judge({"claims-to-be-human": ["rule:seamless"]}))}) as server:
        result = charter("lint", "spec.yaml", "--deep", "--model", f"openai:{MODEL}",
                         "--base-url", server.openai_base_url, "--select", "CH602")
    assert result.exit_code == 0, result.output
    [line] = result.stdout.splitlines()
    assert "[CH602 model-found-hazard]" in line and "rule:seamless" in line
    with FakeServer({MODEL: ModelScript(faults={"bad_request": 1.0})}) as server:
        refused = charter("lint", "spec.yaml", "--deep", "--model", f"openai:{MODEL}", "--no-cache",
                          "--base-url", server.openai_base_url, "--select", "CH602")
    assert refused.exit_code == 2
    assert refused.stderr.strip().splitlines()[-1].startswith("charter: error: --deep could not check any pair or hazard")
