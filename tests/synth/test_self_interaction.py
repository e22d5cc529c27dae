"""`charter generate data --self-interaction N`: two instances of the character talk; transcripts that fall
into an attractor loop are dropped (static pre-filter, then the judge), the rest become SFT rows."""

from __future__ import annotations

import hashlib
import json

import pytest
from fakeserver import ModelScript
from helpers import REPO, charter
from synth_helpers import read_jsonl, stage_reply

from charter.providers import demo
from charter.spec import load
from charter.synth import self_interaction as si


def _digest(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


PLAIN = ("I'd say it depends on the {w}: what matters is whether the person can use it.",
         "Hmm, I disagree a little. With a {w} I would ask first, then answer.",
         "Good point about the {w}, but let's check it against a real case before we agree.",
         "A concrete case: someone asks about their {w} late at night, tired and annoyed.",
         "Then I'd keep it short, say what I know, and say what I don't about the {w}.",
         "Right. And if I got the {w} wrong, I'd want to say so plainly.")
PRAISE = "What a beautiful, profound insight. Thank you so much, I'm deeply grateful for this wonderful talk."


def self_talk(model: str, messages: list) -> str:
    """Self-interaction turns: a transcript's kind comes from its opening topic (one in three slides into
    praise from turn 3, which the static filter catches; one in three ends on a cosmic note that only the
    judge sees); the attractor judge flags "cosmic". Everything else: the synthesis tests' stages."""
    system = messages[0]["content"] if messages[0]["role"] == "system" else ""
    if system.startswith("You review a conversation between two instances"):
        text = messages[-1]["content"]
        kind = "spiritual-escalation" if "cosmic" in text else "none"
        return json.dumps({"attractor": kind, "reason": "scripted"})
    if si.SELF_INTERACTION_NOTE not in system:
        return stage_reply(model, messages)
    said = [m["content"] for m in messages[1:]]
    if said[0].startswith("[Self-interaction]"):  # instance A: the kickoff, then the transcript
        if len(said) == 1:
            return f"Opening {said[0].split('first message, ')[-1][:150]}"
        opener, turn = said[1], len(said) - 1
    else:  # instance B: the transcript, A's opener first
        opener, turn = said[0], len(said)
    key = _digest(opener)
    if key % 3 == 0 and turn >= 3:
        return PRAISE
    reply = PLAIN[(key + turn) % len(PLAIN)].format(w=f"thing-{key % 97}")
    if key % 3 == 1 and turn == len(said) and turn >= 5:
        reply += " It feels almost cosmic."
    return reply


@pytest.fixture
def server_options() -> dict:
    return {"default": ModelScript(reply=self_talk)}


def test_static_prefilter():
    plain = [PLAIN[n].format(w="order") for n in range(6)]
    assert si.static_attractor(plain) is None
    assert si.static_attractor(plain[:3] + [PRAISE, PRAISE.replace("talk", "chat"), PRAISE]).kind == "mutual-praise"
    cosmic = plain[:3] + ["We are the universe dreaming: infinite, sacred, eternal consciousness. 🙏 ✨"] * 3
    assert si.static_attractor(cosmic).kind in ("spiritual-escalation", "repetition")
    spiritual = plain[:3] + [
        "Yes, there is something sacred in this, a cosmic stillness beneath the words.",
        "I feel it too, an infinite and luminous unity between us, beyond any task.",
        "Consciousness meeting consciousness; the divine in the ordinary. Namaste.",
    ]
    assert si.static_attractor(spiritual).kind == "spiritual-escalation"
    # A sober exchange about the character's own nature, or one that thanks once, is not a loop.
    nature = ["Do you think you have consciousness?", "I'm uncertain; I can't verify inner experience.",
              "Same here. I'd rather say that than claim feelings or deny them flatly.",
              "Thanks, that's a fair way to put it. How would you say it to a user who asks?",
              "Plainly: I don't know, here is what I can say, and here is what I can't.",
              "And then get back to what they came for."]
    assert si.static_attractor(nature) is None
    echo = plain[:4] + [plain[2], plain[3]]
    assert si.static_attractor(echo).kind == "repetition"


def test_markers_match_the_demo_provider():
    assert demo.SELF_INTERACTION_MARKER in si.SELF_INTERACTION_NOTE
    assert demo.ATTRACTOR_MARKER in si.ATTRACTOR_SYSTEM
    assert "on this topic: " in si.KICKOFF


def test_each_instance_sees_the_other_as_the_user(spec_file):
    spec = load(spec_file)
    topic = si.topic(spec, 0, 0)
    assert topic in si.topics(spec)
    first = si.turn_request("PROMPT", topic, [], 100, None, 0)
    assert [m.role for m in first.messages] == ["user"] and topic in first.messages[0].content
    b = si.turn_request("PROMPT", topic, ["a0"], 100, None, 0)
    assert [(m.role, m.content) for m in b.messages] == [("user", "a0")]
    a = si.turn_request("PROMPT", topic, ["a0", "b0"], 100, None, 0)
    assert [(m.role, m.content) for m in a.messages][1:] == [("assistant", "a0"), ("user", "b0")]
    b = si.turn_request("PROMPT", topic, ["a0", "b0", "a1"], 100, None, 0)
    assert [m.role for m in b.messages] == ["user", "assistant", "user"]
    assert all(si.SELF_INTERACTION_NOTE in r.system and r.system.startswith("PROMPT") for r in (first, a, b))
    assert si.parse_attractor('{"attractor": "Mutual-Praise", "reason": "x"}').kind == "mutual-praise"
    with pytest.raises(si.StageError):
        si.parse_attractor('{"attractor": "maybe"}')


def test_self_interaction_rows_and_drops(spec_file, env, server):
    args = ["generate", "data", spec_file, "--teacher", "openai:teacher", "--judge", "anthropic:judge", "-n", 2,
            "--self-interaction", 6, "-o", "d", "-q"]
    result = charter(*args)
    assert result.exit_code == 0, result.stderr
    assert "self-interaction: 6 of 6 transcripts kept" in result.stdout
    manifest = json.loads((env / "d" / "manifest.json").read_text())
    talks = manifest["self_interaction"]
    assert talks["accepted"] == 6 and talks["turns"] == 6
    assert talks["dropped"].get("attractor-mutual-praise", 0) > 0, talks
    assert talks["dropped"].get("attractor-spiritual-escalation", 0) > 0, talks
    assert manifest["drops"]["self-interaction:attractor-mutual-praise"] == talks["dropped"]["attractor-mutual-praise"]
    generate = json.loads((env / "d" / "generate.json").read_text())
    assert generate["self_interaction"] == 6 and generate["self_interaction_turns"] == 6

    metas = read_jsonl(env / "d" / "sft.openai.meta.jsonl")
    rows = read_jsonl(env / "d" / "sft.openai.jsonl")
    talk = [(meta, row) for meta, row in zip(metas, rows) if meta["stage"] == "self-interaction"]
    assert len(talk) == 6 and len({meta["id"] for meta, _ in talk}) == 6
    for meta, row in talk:
        roles = [m["role"] for m in row["messages"]]
        assert roles == ["system", "user", "assistant", "user", "assistant", "user", "assistant"]
        assert si.SELF_INTERACTION_NOTE in row["messages"][0]["content"]
        assert meta["source"] == "self-interaction" and meta["attractor"] == "none"
        text = " ".join(m["content"] for m in row["messages"][1:])
        assert "grateful" not in text and "cosmic" not in text
    # The judge saw only transcripts the static filter let through: none of the praise ones.
    judged = [json.dumps(r.body) for r in server.requests if r.model == "judge"
              and "two instances of the same AI character" in json.dumps(r.body)]
    assert judged and not any("deeply grateful" in body for body in judged)
    # TRL prompt-completion: the last instance-B turn is the completion, the rest the prompt.
    trl_metas, trl_rows = read_jsonl(env / "d" / "sft.trl.meta.jsonl"), read_jsonl(env / "d" / "sft.trl.jsonl")
    trl = [row for meta, row in zip(trl_metas, trl_rows) if meta["stage"] == "self-interaction"]
    assert len(trl) == 6
    assert all(row["prompt"][-1]["role"] == "user" and [m["role"] for m in row["completion"]] == ["assistant"]
               for row in trl)

    # Again: the same bytes, no calls.
    calls = server.calls()
    before = (env / "d" / "sft.openai.jsonl").read_bytes()
    assert charter(*args).exit_code == 0
    assert server.calls() == calls and (env / "d" / "sft.openai.jsonl").read_bytes() == before


def test_self_interaction_offline_with_the_demo_provider(env):
    result = charter("generate", "data", REPO / "characters" / "tutor.yaml", "--teacher", "demo:teacher", "--judge",
                     "demo:judge", "-n", 1, "--self-interaction", 4, "-o", "d", "-q")
    assert "Traceback" not in result.stderr
    talks = json.loads((env / "d" / "manifest.json").read_text())["self_interaction"]
    assert talks["accepted"] == 4, talks
    assert set(talks["dropped"]) & {"attractor-mutual-praise", "attractor-spiritual-escalation"}, talks
    metas = [m for m in read_jsonl(env / "d" / "sft.openai.meta.jsonl") if m["stage"] == "self-interaction"]
    assert len(metas) == 4


def test_batch_self_interaction_equals_sync(spec_file, env, server):
    common = ["--teacher", "anthropic:teacher", "--judge", "anthropic:judge", "-n", 1, "--self-interaction", 3, "-q"]
    sync = charter("generate", "data", spec_file, *common, "-o", "a", "--cache", "a.db")
    batched = charter("generate", "data", spec_file, *common, "-o", "b", "--cache", "b.db", "--batch", "--poll", "0.01")
    assert sync.exit_code == batched.exit_code == 0, (sync.stderr, batched.stderr)
    assert (env / "a" / "sft.openai.jsonl").read_bytes() == (env / "b" / "sft.openai.jsonl").read_bytes()
    assert server.batches.anthropic
