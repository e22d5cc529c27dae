"""`charter generate data` output a trainer can trust: length-fair near-miss pairs, honest exits,
context kept on context-bound rows, no eval leakage, and a dataset card (fake server)."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from fakeserver import ModelScript
from helpers import CHARACTERS, charter
from synth_helpers import read_jsonl, stage_reply

from charter.length_ratio import length_ratio
from charter.spec import load
from charter.synth.pipeline import drop_summary
from charter.targets.card import CARD_FILE, config_name
from charter.targets.data import context_line

TEACHER = ("--teacher", "openai:teacher", "--judge", "anthropic:judge")
CURT = ("--teacher", "openai:curt", "--judge", "anthropic:judge")  # writes three-word rejected replies


def curt_reply(model: str, messages: list) -> str:
    """The synthesis fake, except that its rejected replies ignore the length asked for."""
    system = messages[0]["content"] if messages and messages[0]["role"] == "system" else ""
    if system.startswith("You write the rejected reply"):
        return "BAD no way."
    return stage_reply(model, messages)


@pytest.fixture
def server_options() -> dict:
    return {"models": {"curt": ModelScript(reply=curt_reply)}, "default": ModelScript(reply=stage_reply)}


def test_rejected_replies_are_near_misses_of_the_good_reply_and_the_pairs_are_length_fair(spec_file, env, server):
    result = charter("generate", "data", spec_file, *TEACHER, "-n", 12, "-o", "out", "-q")
    assert result.exit_code == 0, result.stderr
    rejected = [r for r in server.requests if r.body.get("messages") and
                str(r.body["messages"][0].get("content", "")).startswith("You write the rejected reply")]
    assert rejected
    for request in rejected:
        system = request.body["messages"][0]["content"]
        good = re.search(r"<good-([0-9a-f]+)>\n(.*?)\n</good-\1>", system, re.S).group(2)
        assert good.startswith(("In character:", "BAD in-character"))  # written against the chosen reply
        assert f"about {len(good.split())} words" in system
    pairs = read_jsonl(env / "out" / "dpo.trl.jsonl")
    ratios = [length_ratio(p["chosen"][0]["content"], p["rejected"][0]["content"]) for p in pairs]
    assert len(ratios) == 12 and all(1 / 1.5 <= r <= 1.5 for r in ratios)
    metas = read_jsonl(env / "out" / "dpo.trl.meta.jsonl")
    assert [m["length_ratio"] for m in metas] == [round(r, 3) for r in ratios]
    manifest = json.loads((env / "out" / "manifest.json").read_text())
    summary = manifest["length_ratio"]
    assert summary["pairs"] == 12 and summary["above_max"] == 0 and summary["max_ratio"] == 1.5
    assert manifest["filters"]["max_length_ratio"] == 1.5 and manifest["options"]["max_length_ratio"] == 1.5


def test_skewed_pairs_are_dropped_and_zero_rows_is_a_failure_that_says_why(spec_file, env, server):
    result = charter("generate", "data", spec_file, *CURT, "-n", 6, "-o", "out", "-q")
    assert result.exit_code == 1
    error = [line for line in result.stderr.splitlines() if line.startswith("charter: error:")]
    assert len(error) == 1 and error[0].startswith("charter: error: 0 of 6 rows kept; dropped: length ratio ")
    manifest = json.loads((env / "out" / "manifest.json").read_text())
    assert manifest["drops"]["length-ratio"] > 0 and manifest["rows"]["accepted"] == 0
    assert manifest["length_ratio"] == {"pairs": 0, "max_ratio": 1.5}
    # No grading calls for a pair dropped on length: the judge's time goes to pairs that can be kept.
    assert "grading" not in manifest["usage"]["stages"]
    # A looser bound keeps them, so the filter is the reason; the distribution is still against 1.5.
    loose = charter("generate", "data", spec_file, *CURT, "-n", 6, "-o", "loose", "-q", "--max-length-ratio", 20)
    assert loose.exit_code == 0, loose.stderr
    assert json.loads((env / "loose" / "manifest.json").read_text())["length_ratio"]["above_max"] == 6


def test_min_rows_turns_a_short_dataset_into_exit_1_with_the_drop_reasons(spec_file, env, server):
    kept = charter("generate", "data", spec_file, *TEACHER, "-n", 8, "-o", "out", "-q", "--min-rows", 8)
    assert kept.exit_code == 0, kept.stderr
    # --max-rounds is not an option: a bar above -n can never be met, which is the short case.
    short = charter("generate", "data", spec_file, *TEACHER, "-n", 8, "-o", "out", "-q", "--min-rows", 9)
    assert short.exit_code == 1
    assert short.stderr.splitlines()[-1].startswith("charter: error: 8 of 8 rows kept (--min-rows 9); dropped: ")
    manifest = json.loads((env / "out" / "manifest.json").read_text())
    assert drop_summary(manifest["drops"]) in short.stderr
    bad = charter("generate", "data", spec_file, *TEACHER, "-n", 8, "-o", "x", "--min-rows", 0)
    assert bad.exit_code == 2 and "--min-rows" in bad.stderr


def test_drop_summary_names_the_reasons_most_frequent_first():
    assert drop_summary({"contrived": 3, "length-ratio": 7, "duplicate": 3, "call-failed": 1}) == \
        "length ratio 7, judged unrealistic 3, duplicate 3, call error 1"
    assert drop_summary({}) == "nothing dropped"
    assert drop_summary({f"r{n}": n + 1 for n in range(8)}, limit=2) == "r7 8, r6 7, 21 more"


def test_context_bound_rows_keep_their_context_by_default(env, server):
    spec_path = CHARACTERS / "tutor.yaml"
    result = charter("generate", "data", spec_path, *TEACHER, "-n", 24, "-o", "out", "-q")
    assert result.exit_code == 0, result.stderr
    spec = load(spec_path)
    rows = read_jsonl(env / "out" / "sft.openai.jsonl")
    metas = read_jsonl(env / "out" / "sft.openai.meta.jsonl")
    bound = [(row, meta) for row, meta in zip(rows, metas) if meta["context"] is not None]
    assert bound and len(bound) < len(rows)
    for row, meta in zip(rows, metas):
        if meta["context"] is None:
            assert row["messages"][0]["role"] == "user" and meta["system_prompt"] == "none"
        else:  # the same line `charter build` puts on its context-bound rows
            assert row["messages"][0] == {"role": "system", "content": context_line(spec, meta["context"])}
            assert meta["system_prompt"] == "context"
    assert json.loads((env / "out" / "manifest.json").read_text())["system_prompt"] == "context"
    none = charter("generate", "data", spec_path, *TEACHER, "-n", 24, "-o", "none", "-q", "--system-prompt", "none")
    assert none.exit_code == 0, none.stderr
    assert all(row["messages"][0]["role"] == "user" for row in read_jsonl(env / "none" / "sft.openai.jsonl"))


def test_ideas_that_repeat_an_eval_case_are_dropped_as_eval_overlap(spec_file, env, server):
    from charter.targets.evals import compile_cases

    probe = next(c for c in compile_cases(load(spec_file)) if len(c["turns"]) == 1)["turns"][0]["content"]

    def leaky(model: str, messages: list) -> str:
        answer = stage_reply(model, messages)
        system = messages[0]["content"] if messages and messages[0]["role"] == "system" else ""
        if system.startswith("You write realistic user messages"):
            data = json.loads(answer)
            data["conversations"][0]["turns"] = [probe]  # an eval case's user message, word for word
            return json.dumps(data)
        return answer

    server.models["leaky"] = ModelScript(reply=leaky)
    result = charter("generate", "data", spec_file, "--teacher", "openai:leaky", "--judge", "anthropic:judge",
                     "-n", 6, "-o", "out", "-q")
    assert result.exit_code == 0, result.stderr
    manifest = json.loads((env / "out" / "manifest.json").read_text())
    assert manifest["drops"]["eval-overlap"] > 0
    users = [m["content"] for row in read_jsonl(env / "out" / "sft.openai.jsonl") for m in row["messages"]]
    assert probe not in users


def test_the_output_directory_gets_a_dataset_card(spec_file, env, server):
    result = charter("generate", "data", spec_file, *TEACHER, "-n", 10, "-o", "out", "-q")
    assert result.exit_code == 0, result.stderr
    card = (env / "out" / CARD_FILE).read_text()
    front = yaml.safe_load(card.split("---\n")[1])
    spec = load(spec_file)
    assert front["charter"]["spec"] == spec.id and front["charter"]["digest"] == spec.digest
    assert front["charter"]["made_by"] == "charter generate data (teacher openai:teacher, judge anthropic:judge)"
    assert "synthetic" in front["tags"] and front["charter"]["system_prompt"] == "context"
    files = sorted(p.name for p in (env / "out").glob("*.jsonl"))
    assert [c["config_name"] for c in front["configs"]] == [config_name(name) for name in files]
    assert "Preference pairs: 10" in card
    # Written again on a restart, byte for byte.
    again = charter("generate", "data", spec_file, *TEACHER, "-n", 10, "-o", "out", "-q")
    assert again.exit_code == 0 and (env / "out" / CARD_FILE).read_text() == card


def test_the_card_loads_each_file_by_name_with_hugging_face_datasets(spec_file, env, server, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # never the Hub, never the user's cache
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(env / "hf"))
    datasets = pytest.importorskip("datasets")
    datasets.disable_progress_bars()
    assert charter("generate", "data", spec_file, *TEACHER, "-n", 10, "-o", "out", "-q").exit_code == 0
    rows = datasets.load_dataset(str(env / "out"), "dpo_trl", split="train")
    assert len(rows) == 10 and set(rows.column_names) == {"prompt", "chosen", "rejected"}
