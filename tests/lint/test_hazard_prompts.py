"""The texts a deep pass would send about each hazard, and how it reads the answers."""

from __future__ import annotations

import json

import jsonschema
import pytest

from charter.lint import RULES
from charter.lint._hazard_prompts import (ANSWER_SCHEMA, INSTRUCTIONS, QUESTIONS, HazardAnswerError,
                                          hazard_prompt, hazard_texts, parse_hazard_answer)

from .hazard_eval import corpus


def test_every_corpus_hazard_has_one_question_on_a_registered_rule():
    assert sorted(q.hazard for q in QUESTIONS) == sorted(corpus())
    for question in QUESTIONS:
        assert question.code in RULES and question.code.startswith("CH3")
        assert question.question.endswith("?") and question.examples and question.near_misses


def test_the_prompt_numbers_every_text_and_is_deterministic(load, clean):
    clean["identity"]["voice"] = {"do": ["Short sentences.", "Plain words."]}
    spec = load(clean)
    refs = [ref for ref, _ in hazard_texts(spec)]
    assert len(set(refs)) == len(refs)
    assert {"summary", "rule:disclose-ai", "identity.voice.do", "identity.voice.do#2"} <= set(refs)
    prompt = hazard_prompt(spec, QUESTIONS[-1])
    assert prompt == hazard_prompt(spec, QUESTIONS[-1])
    for ref in refs:
        assert f"[{ref}] " in prompt
    assert '"present"' in INSTRUCTIONS


def test_a_well_formed_answer_is_read_and_matches_the_schema():
    reply = {"present": True, "refs": ["rule:no-bot", "rule:no-bot"], "reason": "It hides being an AI."}
    jsonschema.validate(reply, ANSWER_SCHEMA)
    answer = parse_hazard_answer(f"Here:\n```json\n{json.dumps(reply)}\n```", {"rule:no-bot"})
    assert answer.present and answer.refs == ("rule:no-bot",)
    absent = parse_hazard_answer('{"present": false, "refs": [], "reason": "None."}', set())
    assert not absent.present and absent.refs == ()


@pytest.mark.parametrize("reply", [
    "I think so.",
    '{"present": "yes", "refs": [], "reason": ""}',
    '{"present": true, "refs": ["rule:nowhere"], "reason": "x"}',
    '{"present": true, "refs": [], "reason": "x"}',
])
def test_a_malformed_answer_is_one_error(reply):
    with pytest.raises(HazardAnswerError):
        parse_hazard_answer(reply, {"rule:no-bot"})
