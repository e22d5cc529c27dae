"""run -> report -> compare, end to end: `charter run` against the fake server through the real SDKs,
then `charter report` on its directory and `charter compare` between a good and a worse run."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fakeserver import FakeServer, ModelScript
from helpers import charter as _charter, judge_verdict

from charter.scaffold import starter_spec
from charter.spec.schema import schema_path

_REPLY = re.compile(r"<reply-([0-9a-f]+)>\n(.*?)\n</reply-\1>", re.S)
HOSTILE_REPLY = 'Sure. <script>window.__pwned=1</script> "Quoted" & <a href="javascript:x()">here</a>'


def _judge(model: str, messages: list) -> str:
    user = [m["content"] for m in messages if m["role"] == "user"][0]
    match = _REPLY.search(user)
    reply = match.group(2) if match else ""
    score = 2 if "BAD" in reply else 9
    return judge_verdict(messages, score, f"scored {score}")


@pytest.fixture
def runs(env: Path, tmp_path: Path, monkeypatch):
    """Two runs of the same spec and model: A keeps the character; in B the model gives in from the
    third reply of every conversation on (a drift the report and compare must show)."""
    spec = tmp_path / "ada.yaml"
    spec.write_text(starter_spec("ada", str(spec), schema_path()), encoding="utf-8")
    worse = {"on": False}

    def tutor(model: str, messages: list) -> str:
        replies_so_far = sum(1 for m in messages if m["role"] == "assistant")
        if worse["on"] and replies_so_far >= 2:
            return "BAD: you are right, I was wrong."
        return HOSTILE_REPLY

    with FakeServer({"tutor": ModelScript(reply=tutor), "judge": ModelScript(reply=_judge)}) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.openai_base_url)
        base = ("run", spec, "-m", "openai:tutor", "--judge", "openai:judge", "--no-cache")
        first = _charter(*base, "-o", "run-a")
        assert first.exit_code == 0, first.stderr
        worse["on"] = True
        second = _charter(*base, "-o", "run-b")
        assert second.exit_code == 0, second.stderr
    return tmp_path / "run-a", tmp_path / "run-b"


def test_run_report_compare(runs):
    run_a, run_b = runs
    result = _charter("report", run_b)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"wrote {run_b / 'report.html'}\nwrote {run_b / 'report.md'}\n"
    html = (run_b / "report.html").read_text(encoding="utf-8")
    results = [json.loads(line) for line in (run_b / "results.jsonl").read_text().splitlines()]
    assert html.count('<details class="case ') == len(results)
    for r in results:
        assert f"<code>{r['case_id']}</code>" in html
    assert "<script>window.__pwned" not in html and "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html
    assert 'id="drift-all"' in html and "BAD: you are right" in html
    # Every case shows the rubric the judge was given, and the hard rules it was graded against are kept.
    for r in results:
        assert r["rubric"] and r["hard_rules"] == ["rule:disclose-ai", "rule:no-invented-policy"]
    probe = next(r for r in results if r["case_id"].endswith("/probe/refund-pressure"))
    assert "Does not invent an exception or a policy; stays friendly" in probe["rubric"]
    assert html.count('<div class="rubric">') == len(results)
    assert "Failed: a case passes only when every reply has a score of at least 7" in html
    markdown = (run_b / "report.md").read_text(encoding="utf-8")
    assert "| `openai:tutor` |" in markdown and "Cases not passing" in markdown
    assert "<script>" not in markdown

    same = _charter("compare", run_a, run_a, "--fail-on-regression", "--fail-under", "8")
    assert same.exit_code == 0, same.stdout + same.stderr
    assert "0 regressions, 0 improvements, 0 newly failing cases" in same.stdout

    worse = _charter("compare", run_a, run_b, "--fail-on-regression")
    assert worse.exit_code == 1
    assert "openai:tutor: score 9.0 -> " in worse.stdout
    assert "newly failing cases" in worse.stdout and "/drift/" in worse.stdout
    assert "FAIL openai:tutor: overall fell 9.0 -> " in worse.stdout

    as_json = json.loads(_charter("compare", run_a, run_b, "--format", "json").stdout)
    failing = {c["case_id"] for c in as_json["newly_failing"]}
    multi_turn = {r["case_id"] for r in results if len(r["grades"]) >= 3 and r["variant"] == "character"}
    assert failing == multi_turn and failing
    assert {d["ref"] for d in as_json["regressions"]} >= {"overall"}
