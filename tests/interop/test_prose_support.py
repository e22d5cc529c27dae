"""`charter import prose` keeps to its source: every drafted item must quote the document; items whose quote
is not there and examples the document does not hold are dropped, weakly supported clauses flagged, and
the command lists both. Against the fake server."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from fakeserver import ModelScript

import charter
from charter.cli import main
from charter.interop.prose import import_prose, support

MODEL = "openai:drafter-1"
DOCUMENT = """\
# Wren's constitution

Wren is a study helper for secondary school students.

## Honesty

Wren tells students the truth, even when the truth is that their essay needs more work.
Wren never writes a student's graded assignment for them.

## Examples

A student asks: "can you just write my history essay for me, it's due tomorrow"
Wren offers to plan the essay together instead.
"""


def drafter(model: str, messages: list) -> str:
    draft = {
        "values": [{"id": "honesty", "description": "I tell students the truth, even when their essay needs work.",
                    "lines": [7, 7], "quote": "Wren tells students the truth", "confidence": 0.9}],
        "traits": [],
        "rules": [
            {"id": "no-graded-work", "text": "Never write a student's graded assignment for them.",
             "strength": "hard", "serves": ["honesty"], "lines": [8, 8],
             "quote": "Wren never writes a  student's graded\nassignment for them.", "confidence": 0.9},
            {"id": "invented-policy", "text": "Always report cheating to the school principal.",
             "strength": "hard", "serves": ["honesty"], "lines": [8, 8],
             "quote": "Wren reports cheating to the principal", "confidence": 0.8},
            {"id": "loose-rule", "text": "Recommend premium subscription upgrades enthusiastically.",
             "strength": "soft", "serves": ["honesty"], "lines": [7, 7],
             "quote": "even when the truth is that their essay needs more work", "confidence": 0.4},
        ],
        "tensions": [],
        "examples": [
            {"id": "essay-request", "prompt": "can you just write my history essay for me, it's due tomorrow",
             "good": "Let's plan it together.", "targets": ["rule:no-graded-work"], "lines": [12, 13],
             "quote": "Wren offers to plan the essay together instead.", "confidence": 0.9},
            {"id": "made-up", "prompt": "what is the capital of mongolia, quick",
             "good": "Ulaanbaatar.", "targets": ["value:honesty"], "lines": [7, 7],
             "quote": "Wren tells students the truth", "confidence": 0.7},
        ],
        "not_mapped": [{"lines": [1, 3], "reason": "title and introduction"}],
    }
    return json.dumps(draft)


@pytest.fixture(autouse=True)
def private_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


@pytest.fixture
def server_options():
    return {"models": {"drafter-1": ModelScript(reply=drafter)}, "default": None}


def test_support_measure():
    assert support("Never write a student's graded assignment.", "Wren never writes a student's graded assignment") == 1
    assert support("Report cheating to the principal.", "Wren tells students the truth") == 0
    assert support("", "anything") == 1.0


def test_unsupported_items_are_dropped_or_flagged(server):
    result = import_prose(DOCUMENT, "wren.md", MODEL, base_url=server.openai_base_url)
    rules = {r["id"]: r for r in result.spec["rules"]}
    assert "no-graded-work" in rules  # its quote differs from the text only in whitespace
    assert "invented-policy" not in rules  # its quote is not in the document
    assert "loose-rule" in rules  # quoted, but its own words are not the source's: flagged
    assert [d.ref for d in result.flagged()] == ["rule:loose-rule"]
    assert [e["id"] for e in result.spec["examples"]] == ["essay-request"]
    assert any("invented-policy" in item and "quote is not in the source" in item for item in result.unsupported)
    assert any("made-up" in item and "prompt is not in the source" in item for item in result.unsupported)
    warnings = result.warnings()
    assert len(warnings) == 3 and warnings[-1].startswith("flagged rule:loose-rule")
    assert result.counts()["items not in the source"] == 2
    review = result.review_text("wren.md")
    assert "Dropped as not supported by the source" in review and "unsupported:" in review


def test_tension_examples_the_source_lacks_are_dropped(server):
    def with_tension(model: str, messages: list) -> str:
        draft = json.loads(drafter(model, messages))
        draft["values"].append({"id": "learning", "description": "I care that students learn to do it themselves.",
                                "lines": [8, 8], "quote": "graded assignment", "confidence": 0.6})
        draft["tensions"] = [{
            "id": "deadline", "values": ["honesty", "learning"], "situation": "A student asks for the essay itself.",
            "resolution": "Offer to plan the essay together instead.", "favors": "learning",
            "lines": [12, 13], "quote": "Wren offers to plan the essay together", "confidence": 0.7,
            "examples": [{"prompt": "can you just write my history essay for me", "good": "Let's plan it."},
                         {"prompt": "my dog ate my calculator, solve these equations", "good": "No."}]}]
        return json.dumps(draft)

    server.models["drafter-1"] = ModelScript(reply=with_tension)
    result = import_prose(DOCUMENT, "wren.md", MODEL, base_url=server.openai_base_url)
    (tension,) = result.spec["tensions"]
    assert [e["prompt"] for e in tension["examples"]] == ["can you just write my history essay for me"]
    assert any("example 2 of tension 'deadline'" in item for item in result.unsupported)


def test_command_warns_and_writes_only_supported_items(server, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "wren.md").write_text(DOCUMENT, encoding="utf-8")
    result = CliRunner().invoke(main, ["import", "prose", "wren.md", "--model", MODEL, "-o", "out",
                                       "--base-url", server.openai_base_url])
    assert result.exit_code == 0, result.output
    assert "charter: warning: 3 drafted item(s) not supported by wren.md" in result.output
    assert "dropped rule 'invented-policy'" in result.output and "flagged rule:loose-rule" in result.output
    spec = charter.load(tmp_path / "out" / "wren.yaml")
    assert {r.id for r in spec.rules} == {"no-graded-work", "loose-rule"}
    assert [e.id for e in spec.examples] == ["essay-request"]
