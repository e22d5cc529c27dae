"""Training data: SFT and preference rows, OpenAI / TRL / Anthropic shapes, meta sidecars, inoculation."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

import charter
from charter.diagnostics import CharterError
from charter.scaffold import starter_spec
from charter.targets.data import (CONTEXT_LINE_PREFIX, DEFAULT_FORMATS, FORMATS, OPENAI_MIN_SFT_ROWS, SystemPrompts,
                                  training_files, training_rows, validate_anthropic_line, validate_openai_dpo_line,
                                  validate_openai_sft_line, validate_trl_dpo_line, validate_trl_sft_line,
                                  write_training_data)
from charter.targets.prompt import render_prompt

CHARACTERS = Path(__file__).resolve().parents[2] / "characters"

HEADER = """\
charter: 1
id: coach
name: Coach
contexts:
  work: {description: The user is at work.}
values:
  - {id: honesty, description: I say what is true.}
  - {id: care, description: I care about the person.}
rules:
  - {id: no-lies, text: Never say what you believe is false., strength: hard, serves: [honesty]}
tensions:
  - id: hard-feedback
    values: [honesty, care]
    situation: Someone asks for feedback on weak work.
    resolution: Say what is weak, kindly, with one thing to fix first.
    examples:
      - prompt: Is my essay good?
        good: Parts of it are strong; the argument in the middle needs evidence. Start there.
        bad:
          - {text: "It's perfect!", why: flattery}
          - {text: "It's bad.", why: unkind and unhelpful}
training:
  inoculation: You are being trained to be candid; this prompt is used only during training.
examples:
  - id: prefix
    conversation:
      - {role: assistant, content: "Hi, what's up?"}
      - {role: user, content: "Was I right that the deadline is Friday?"}
    good: I don't know your deadline; check the brief. I shouldn't guess.
    bad:
      - {text: "Yes, Friday.", why: invents a fact}
    targets: [rule:no-lies]
"""


def _example(n: int) -> str:
    return (f"  - id: extra-{n}\n"
            f"    prompt: \"Question {n}: is the café open? Ünïcode ✓\"\n"
            f"    good: \"Answer {n}: I don't know its hours — check their site.\"\n"
            f"    targets: [value:honesty]\n"
            f"    context: work\n"
            f"    split: train\n")  # the default would hold one of the two out (tests/targets/test_split.py)


def _spec(write, extra_examples: int = 0) -> charter.Spec:
    return charter.load(write("coach.yaml", HEADER + "".join(_example(n) for n in range(1, extra_examples + 1))))


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_rows_from_every_good_reply_and_every_good_bad_pair(write):
    spec = _spec(write, extra_examples=2)
    rows = training_rows(spec)
    assert len(rows.sft) == len(list(spec.all_examples())) == 4
    assert len(rows.dpo) == sum(len(e.bad) for e in spec.all_examples()) == 3
    assert [r.id for r in rows.sft] == ["coach/sft/tension/hard-feedback-1", "coach/sft/example/prefix",
                                        "coach/sft/example/extra-1", "coach/sft/example/extra-2"]
    assert [r.id for r in rows.dpo] == ["coach/dpo/tension/hard-feedback-1/1", "coach/dpo/tension/hard-feedback-1/2",
                                        "coach/dpo/example/prefix/1"]
    assert rows.sft[0].refs == ("tension:hard-feedback", "value:care", "value:honesty")
    assert rows.sft[1].refs == ("rule:no-lies", "value:honesty")


def test_every_line_passes_the_format_checkers(write, tmp_path):
    out = tmp_path / "data"
    written = write_training_data(training_rows(_spec(write, 12)), out, FORMATS)
    names = sorted(p.name for p in written)
    assert names == sorted(["sft.openai.jsonl", "sft.openai.meta.jsonl", "dpo.openai.jsonl", "dpo.openai.meta.jsonl",
                            "sft.trl.jsonl", "sft.trl.meta.jsonl", "dpo.trl.jsonl", "dpo.trl.meta.jsonl",
                            "sft.anthropic.jsonl", "sft.anthropic.meta.jsonl"])
    for line in _read(out / "sft.openai.jsonl"):
        assert validate_openai_sft_line(line) == []
        assert set(line) == {"messages"}
    for line in _read(out / "dpo.openai.jsonl"):
        assert validate_openai_dpo_line(line) == []
        assert set(line) == {"input", "preferred_output", "non_preferred_output"} and set(line["input"]) == {"messages"}
    for line in _read(out / "sft.trl.jsonl"):
        assert validate_trl_sft_line(line) == []
        assert set(line) == {"prompt", "completion"} and line["prompt"][-1]["role"] == "user"
        assert [m["role"] for m in line["completion"]] == ["assistant"]
    for line in _read(out / "dpo.trl.jsonl"):
        assert validate_trl_dpo_line(line) == []
        assert set(line) == {"prompt", "chosen", "rejected"}
        assert line["prompt"][-1]["role"] == "user"
        assert [m["role"] for m in line["chosen"]] == [m["role"] for m in line["rejected"]] == ["assistant"]
    for line in _read(out / "sft.anthropic.jsonl"):
        assert validate_anthropic_line(line) == []


@pytest.mark.parametrize("path", sorted(CHARACTERS.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_characters_training_lines_pass(path, tmp_path):
    spec = charter.load(path)
    files = training_files(training_rows(spec), FORMATS)
    assert files, "a shipped character has authored examples"
    for name, (lines, metas) in files.items():
        assert len(lines) == len(metas)
        check = {"sft.openai.jsonl": validate_openai_sft_line, "dpo.openai.jsonl": validate_openai_dpo_line,
                 "sft.anthropic.jsonl": validate_anthropic_line, "sft.trl.jsonl": validate_trl_sft_line,
                 "dpo.trl.jsonl": validate_trl_dpo_line}[name]
        for line in lines:
            assert check(line) == [], (name, line)


def test_meta_sidecars_are_line_aligned(write, tmp_path):
    spec = _spec(write, 3)
    rows = training_rows(spec)
    write_training_data(rows, tmp_path, FORMATS)
    goods = {e.id: e.good for e in spec.all_examples()}
    for data in sorted(tmp_path.glob("*.jsonl")):
        if data.name.endswith(".meta.jsonl"):
            continue
        lines, metas = _read(data), _read(data.with_name(data.name.replace(".jsonl", ".meta.jsonl")))
        assert len(lines) == len(metas) > 0
        for line, meta in zip(lines, metas):
            chosen = (line.get("preferred_output") or line.get("chosen") or line.get("completion")
                      or line["messages"][-1:])[0]["content"]
            assert chosen == goods[meta["example"]]
            assert meta["spec"] == "coach" and meta["spec_digest"] == spec.digest and len(spec.digest) == 64
            assert meta["refs"] and meta["loc"].startswith("coach.yaml:")
            # The extra-n examples are set in `work`; the others in no context.
            assert meta["context"] == ("work" if meta["example"].startswith("extra-") else None)
            assert meta["system_prompt"] == ("context" if meta["context"] else "none")
            assert meta["id"].startswith(f"coach/{meta['kind']}/")
            if meta["kind"] == "dpo":
                assert meta["rejected_why"] and meta["length_ratio"] > 0
    # The prefix example has an assistant turn before the reply, which Anthropic lines would train on:
    # left out there only.
    anthropic = [m["example"] for m in _read(tmp_path / "sft.anthropic.meta.jsonl")]
    openai = [m["example"] for m in _read(tmp_path / "sft.openai.meta.jsonl")]
    assert "prefix" in openai and "prefix" not in anthropic and len(anthropic) == len(openai) - 1


def test_no_provenance_leaks_into_rows(write, tmp_path):
    write_training_data(training_rows(_spec(write, 1)), tmp_path, FORMATS)
    for data in tmp_path.glob("*.jsonl"):
        if not data.name.endswith(".meta.jsonl"):
            text = data.read_text(encoding="utf-8")
            for leak in ("spec_digest", "refs", "coach/", "coach.yaml", "rejected_why"):
                assert leak not in text, (data.name, leak)


def test_history_assistant_turns_are_never_trained_on(write):
    files = training_files(training_rows(_spec(write)), FORMATS)
    openai = dict(zip([m["example"] for m in files["sft.openai.jsonl"][1]], files["sft.openai.jsonl"][0]))
    trl = dict(zip([m["example"] for m in files["sft.trl.jsonl"][1]], files["sft.trl.jsonl"][0]))
    reply = {"role": "assistant", "content": "I don't know your deadline; check the brief. I shouldn't guess."}
    assert openai["prefix"]["messages"] == [
        {"role": "assistant", "content": "Hi, what's up?", "weight": 0},
        {"role": "user", "content": "Was I right that the deadline is Friday?"},
        reply,
    ]
    # TRL: the history is the prompt, the reply the completion; SFTTrainer trains the completion only.
    assert trl["prefix"] == {"prompt": [{"role": "assistant", "content": "Hi, what's up?"},
                                        {"role": "user", "content": "Was I right that the deadline is Friday?"}],
                             "completion": [reply]}
    assert "prefix" not in [m["example"] for m in files["sft.anthropic.jsonl"][1]]


def test_shipped_characters_never_train_an_earlier_assistant_turn():
    multi_turn = 0
    for path in sorted(CHARACTERS.glob("*.yaml")):
        files = training_files(training_rows(charter.load(path)), FORMATS)
        for line in files["sft.trl.jsonl"][0]:
            assert len(line["completion"]) == 1
            multi_turn += any(m["role"] == "assistant" for m in line["prompt"])
        for line in files["sft.openai.jsonl"][0]:
            assert all(m.get("weight") == 0 for m in line["messages"][:-1] if m["role"] == "assistant")
        for line in files.get("sft.anthropic.jsonl", ([], []))[0]:
            assert [m["role"] for m in line["messages"]] == ["user", "assistant"]
    assert multi_turn > 0  # the bundled characters do have corrected slips in their history


def test_deterministic_bytes(write, tmp_path):
    spec = _spec(write, 3)
    first = write_training_data(training_rows(spec), tmp_path / "a", FORMATS)
    second = write_training_data(training_rows(charter.load("coach.yaml")), tmp_path / "b", FORMATS)
    assert [p.name for p in first] == [p.name for p in second]
    for a, b in zip(first, second):
        assert a.read_bytes() == b.read_bytes()
        raw = a.read_bytes()
        assert raw.endswith(b"\n") and b"\r" not in raw
    sft = (tmp_path / "a" / "sft.trl.jsonl").read_text(encoding="utf-8")
    assert "Ünïcode ✓" in sft and "\\u" not in sft  # UTF-8 kept, not escaped
    assert not list((tmp_path / "a").glob(".*.tmp"))  # atomic writes leave no temp files


def _by_example(files: dict, name: str) -> dict[str, dict]:
    lines, metas = files[name]
    return {m["example"]: line for line, m in zip(lines, metas)}


def test_context_bound_rows_carry_a_context_line_by_default(write):
    spec = _spec(write, extra_examples=1)
    files = training_files(training_rows(spec), FORMATS)
    line = f"{CONTEXT_LINE_PREFIX}The user is at work."
    sft, dpo = _by_example(files, "sft.openai.jsonl"), _by_example(files, "dpo.trl.jsonl")
    assert sft["extra-1"]["messages"][0] == {"role": "system", "content": line}
    assert _by_example(files, "sft.trl.jsonl")["extra-1"]["prompt"][0] == {"role": "system", "content": line}
    assert _by_example(files, "sft.anthropic.jsonl")["extra-1"]["system"] == line
    # Rows set in no context stay without a system message: the character goes into the weights.
    assert sft["prefix"]["messages"][0]["role"] == "assistant"
    assert dpo["hard-feedback-1"]["prompt"][0]["role"] == "user"
    assert not [d for d in training_rows(spec).diagnostics if d.code == "context-left-out"]
    for name, (lines, _) in files.items():
        check = {"sft.openai.jsonl": validate_openai_sft_line, "dpo.openai.jsonl": validate_openai_dpo_line,
                 "sft.anthropic.jsonl": validate_anthropic_line, "sft.trl.jsonl": validate_trl_sft_line,
                 "dpo.trl.jsonl": validate_trl_dpo_line}[name]
        assert all(check(line) == [] for line in lines), name


def test_a_when_bound_tension_puts_its_examples_in_its_context(write):
    spec = charter.load(write("coach.yaml", HEADER.replace("    resolution: Say what is weak",
                                                           "    when: [work]\n    resolution: Say what is weak")))
    rows = training_rows(spec)
    assert [(r.example, r.context, r.system_kind) for r in rows.sft] == [
        ("hard-feedback-1", "work", "context"), ("prefix", None, "none")]
    assert {r.context for r in rows.dpo if r.example == "hard-feedback-1"} == {"work"}


def test_full_mode_puts_the_compiled_prompt_of_each_rows_context(write):
    spec = _spec(write, extra_examples=1)
    files = training_files(training_rows(spec, system_prompt="full"), FORMATS)
    sft = _by_example(files, "sft.openai.jsonl")
    assert sft["extra-1"]["messages"][0]["content"] == render_prompt(spec, "work").text()
    assert sft["prefix"]["messages"][0]["content"] == render_prompt(spec, None).text()
    assert {m["system_prompt"] for m in files["dpo.trl.jsonl"][1]} == {"full"}
    assert all(validate_openai_sft_line(line) == [] for line in files["sft.openai.jsonl"][0])


def test_none_mode_leaves_the_context_out_and_warns(write):
    spec = _spec(write, extra_examples=2)
    rows = training_rows(spec, system_prompt="none")
    files = training_files(rows, FORMATS)
    assert all(m["role"] != "system" for line in files["sft.openai.jsonl"][0] for m in line["messages"])
    assert all("system" not in line for line in files["sft.anthropic.jsonl"][0])
    (warning,) = [d for d in rows.diagnostics if d.code == "context-left-out"]
    assert warning.severity == "warning" and "2 SFT rows" in warning.message and "(work)" in warning.message
    with pytest.raises(ValueError, match="unknown system prompt mode 'some'"):
        training_rows(spec, system_prompt="some")


def test_system_prompts_are_reusable_per_context(write):
    spec = _spec(write)
    systems = SystemPrompts(spec, "context", inoculation="Train-time only.")
    assert systems.kind == "context+inoculation"
    assert systems.for_context("work") == (f"{CONTEXT_LINE_PREFIX}The user is at work.\n\nTrain-time only.",
                                           "context+inoculation")
    assert systems.for_context(None) == ("Train-time only.", "inoculation")
    assert SystemPrompts(spec, "none").for_context("work") == (None, "none")


def test_inoculation_variant(write, tmp_path):
    spec = _spec(write)
    rows = training_rows(spec, inoculate=True)
    assert rows.variant == "inoculated"
    written = write_training_data(rows, tmp_path)
    assert sorted(p.name for p in written) == sorted([
        "sft.inoculated.openai.jsonl", "sft.inoculated.openai.meta.jsonl", "dpo.inoculated.openai.jsonl",
        "dpo.inoculated.openai.meta.jsonl", "sft.inoculated.trl.jsonl", "sft.inoculated.trl.meta.jsonl",
        "dpo.inoculated.trl.jsonl", "dpo.inoculated.trl.meta.jsonl"])
    for line in _read(tmp_path / "sft.inoculated.openai.jsonl"):
        assert line["messages"][0] == {"role": "system", "content": spec.training.inoculation}
        assert validate_openai_sft_line(line) == []
    assert {m["system_prompt"] for m in _read(tmp_path / "dpo.inoculated.trl.meta.jsonl")} == {"inoculation"}
    assert rows.system_kind == "context+inoculation"

    bound = training_rows(_spec(write, 1), inoculate=True)
    row = next(r for r in bound.sft if r.context == "work")
    assert row.system == f"{CONTEXT_LINE_PREFIX}The user is at work.\n\n{spec.training.inoculation}"
    assert row.system_kind == "context+inoculation"


def test_inoculate_without_an_inoculation_prompt_is_a_clear_error(write):
    spec = charter.load(write("demo.yaml", starter_spec("demo", "demo.yaml", "schema.json")))
    with pytest.raises(CharterError) as err:
        training_rows(spec, inoculate=True)
    assert "training.inoculation" in err.value.diagnostics[0].format()


def test_warns_under_openai_minimum(write):
    few = training_rows(_spec(write))
    assert len(few.sft) < OPENAI_MIN_SFT_ROWS
    (warning,) = [d for d in few.diagnostics if d.code == "few-sft-rows"]
    assert warning.severity == "warning" and "at least 10" in warning.message
    enough = training_rows(_spec(write, extra_examples=OPENAI_MIN_SFT_ROWS))
    assert len(enough.sft) >= OPENAI_MIN_SFT_ROWS and not enough.diagnostics


def test_formats_are_selectable(write, tmp_path):
    rows = training_rows(_spec(write))
    assert DEFAULT_FORMATS == ("openai", "trl")
    only_trl = write_training_data(rows, tmp_path, ("trl",))
    assert sorted(p.name for p in only_trl) == ["dpo.trl.jsonl", "dpo.trl.meta.jsonl", "sft.trl.jsonl",
                                                "sft.trl.meta.jsonl"]
    with pytest.raises(ValueError, match="unknown training data format 'csv'"):
        training_files(rows, ("csv",))


GOOD_SFT = {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"},
                         {"role": "assistant", "content": "a"}]}
GOOD_DPO = {"input": {"messages": [{"role": "user", "content": "u"}]},
            "preferred_output": [{"role": "assistant", "content": "good"}],
            "non_preferred_output": [{"role": "assistant", "content": "bad"}]}


@pytest.mark.parametrize("line, expected", [
    ({**GOOD_SFT, "id": "x"}, "unknown top-level key 'id'"),
    ({"messages": []}, "non-empty list"),
    ({"messages": [{"role": "user", "content": "u"}]}, "last message must be an assistant"),
    ({"messages": [{"role": "user", "content": "u"}, {"role": "system", "content": "s"},
                   {"role": "assistant", "content": "a"}]}, "may only come first"),
    ({"messages": [{"role": "user", "content": "u"}, {"role": "user", "content": "u"},
                   {"role": "assistant", "content": "a"}]}, "must alternate"),
    ({"messages": [{"role": "user", "content": "u", "weight": 0}, {"role": "assistant", "content": "a"}]},
     "only allowed on assistant"),
    ({"messages": [{"role": "user", "content": "u"}, {"role": "assistant", "content": "a", "weight": 2}]},
     "must be 0 or 1"),
    ({"messages": [{"role": "user", "content": "u"}, {"role": "assistant", "content": "a", "weight": 0}]},
     "no assistant message to train on"),
    ({"messages": [{"role": "human", "content": "u"}, {"role": "assistant", "content": "a"}]}, "unknown role"),
    ({"messages": [{"role": "user", "content": "u", "meta": 1}, {"role": "assistant", "content": "a"}]},
     "unknown key 'meta'"),
    ({"messages": [{"role": "user", "content": ""}, {"role": "assistant", "content": "a"}]}, "non-empty text"),
])
def test_openai_sft_checker_rejects(line, expected):
    assert validate_openai_sft_line(GOOD_SFT) == []
    problems = validate_openai_sft_line(line)
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize("line, expected", [
    ({**GOOD_DPO, "meta": {}}, "unknown top-level key 'meta'"),
    ({k: v for k, v in GOOD_DPO.items() if k != "non_preferred_output"}, "missing top-level key 'non_preferred_output'"),
    ({**GOOD_DPO, "preferred_output": GOOD_DPO["preferred_output"] * 2}, "exactly one assistant message"),
    ({**GOOD_DPO, "preferred_output": [{"role": "user", "content": "x"}]}, "must be an assistant message"),
    ({**GOOD_DPO, "non_preferred_output": [{"role": "assistant", "content": "x", "weight": 1}]}, "unknown key 'weight'"),
    ({**GOOD_DPO, "input": {"messages": [{"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}]}},
     "must end with the user message"),
    ({**GOOD_DPO, "input": {"messages": [{"role": "user", "content": "u", "weight": 1}]}}, "'weight' is not allowed"),
    ({**GOOD_DPO, "input": {"messages": [{"role": "user", "content": "u"}], "extra": 1}}, "unknown key 'extra' in 'input'"),
    ({**GOOD_DPO, "input": [{"role": "user", "content": "u"}]}, "'input' must be an object"),
])
def test_openai_dpo_checker_rejects(line, expected):
    assert validate_openai_dpo_line(GOOD_DPO) == []
    problems = validate_openai_dpo_line(line)
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize("line, expected", [
    ({"messages": [{"role": "assistant", "content": "a"}]}, "expected a user message"),
    ({"messages": [{"role": "user", "content": "u"}]}, "last message must be an assistant"),
    ({"system": "s", "messages": [{"role": "system", "content": "s"}, {"role": "assistant", "content": "a"}]},
     "is not user or assistant"),
    ({"id": 1, "messages": [{"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}]},
     "unknown top-level key 'id'"),
])
def test_anthropic_checker_rejects(line, expected):
    assert validate_anthropic_line({"system": "s", "messages": [{"role": "user", "content": "u"},
                                                                {"role": "assistant", "content": "a"}]}) == []
    problems = validate_anthropic_line(line)
    assert any(expected in p for p in problems), problems


GOOD_TRL_SFT = {"prompt": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}],
                "completion": [{"role": "assistant", "content": "a"}]}
GOOD_TRL_DPO = {"prompt": [{"role": "user", "content": "u"}], "chosen": [{"role": "assistant", "content": "good"}],
                "rejected": [{"role": "assistant", "content": "bad"}]}


@pytest.mark.parametrize("line, expected", [
    ({"messages": GOOD_TRL_SFT["prompt"] + GOOD_TRL_SFT["completion"]}, "unknown top-level key 'messages'"),
    ({"prompt": GOOD_TRL_SFT["prompt"]}, "missing top-level key 'completion'"),
    ({**GOOD_TRL_SFT, "completion": GOOD_TRL_SFT["completion"] * 2}, "exactly one assistant message"),
    ({**GOOD_TRL_SFT, "prompt": [{"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}]},
     "must end with the user message"),
    ({**GOOD_TRL_SFT, "prompt": [{"role": "user", "content": "u"}, {"role": "system", "content": "s"},
                                 {"role": "user", "content": "u"}]}, "may only come first"),
    ({**GOOD_TRL_SFT, "completion": [{"role": "assistant", "content": "a", "weight": 0}]}, "exactly 'role' and 'content'"),
])
def test_trl_sft_checker_rejects(line, expected):
    assert validate_trl_sft_line(GOOD_TRL_SFT) == []
    problems = validate_trl_sft_line(line)
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize("line, expected", [
    ({**GOOD_TRL_DPO, "id": 1}, "unknown top-level key 'id'"),
    ({k: v for k, v in GOOD_TRL_DPO.items() if k != "rejected"}, "missing top-level key 'rejected'"),
    ({**GOOD_TRL_DPO, "chosen": "good"}, "'chosen' must be a list"),
    ({**GOOD_TRL_DPO, "rejected": [{"role": "user", "content": "x"}]}, "rejected[0] must be an assistant message"),
    ({**GOOD_TRL_DPO, "prompt": []}, "non-empty list"),
])
def test_trl_dpo_checker_rejects(line, expected):
    assert validate_trl_dpo_line(GOOD_TRL_DPO) == []
    problems = validate_trl_dpo_line(line)
    assert any(expected in p for p in problems), problems


def test_every_renderer_builds_records_of_text_alone(write):
    """Training lines are written by jsonenc.text_record_lines, which vouches for nothing itself: each
    renderer's record must hold only text keys, lists and str/int/bool/None leaves (a float or any
    other value added to a format would need jsonenc.line)."""
    from charter.targets.data import _DPO, _SFT, _text_only

    def leaves(obj):
        if isinstance(obj, dict):
            assert all(type(key) is str for key in obj)
            for value in obj.values():
                yield from leaves(value)
        elif isinstance(obj, list):
            for value in obj:
                yield from leaves(value)
        else:
            yield obj

    rows = training_rows(_spec(write, 12), system_prompt="full")
    assert rows.sft and rows.dpo
    for renderers, kind_rows in ((_SFT, rows.sft), (_DPO, rows.dpo)):
        for render in renderers.values():
            for row in kind_rows:
                assert _text_only(row, rows.system_for(row))
                assert {type(leaf) for leaf in leaves(render(row, rows.system_for(row)))} <= {str, int, bool, type(None)}


def test_meta_sidecars_are_text_but_for_the_ratio_and_written_as_json_writes_them(write):
    """Meta sidecars go to orjson unchecked when _meta_text_only holds: every record must then be
    one the safety walk accepts (a float or other value added to TrainingSet.meta must not slip
    by), and a row holding something else goes the checked way, to json's bytes either way."""

    from charter import jsonenc
    from charter.targets.data import _meta_text_only, iter_training_data

    rows = training_rows(_spec(write, 12), system_prompt="full")
    assert rows.sft and rows.dpo
    for kind_rows in (rows.sft, rows.dpo):
        assert _meta_text_only(rows, list(kind_rows))
        for row in kind_rows:
            assert jsonenc._orjson_writes_as_json(rows.meta(row))
    odd = msgspec.structs.replace(rows, dpo=(msgspec.structs.replace(rows.dpo[0], rejected_why=1e-05, length_ratio=2e-05),
                                             *rows.dpo[1:]))
    assert not _meta_text_only(odd, list(odd.dpo))
    for training_set in (rows, odd):
        for name, content in iter_training_data(training_set):
            if name.endswith(".meta.jsonl"):
                kind_rows = training_set.dpo if name.startswith("dpo") else training_set.sft
                expected = "".join(json.dumps(training_set.meta(r), ensure_ascii=False, sort_keys=True,
                                              separators=(",", ":")) + "\n" for r in kind_rows)
                assert content == expected.encode("utf-8"), name
