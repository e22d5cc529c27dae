"""The conflict detector against the labelled rule pairs: precision and recall, and what it reads."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from charter.lint.text import conflicting_directives, directives

HERE = Path(__file__).parent
PRECISION_TARGET, RECALL_TARGET = 0.9, 0.8


def labelled(name: str = "conflict_pairs.yaml") -> list[dict]:
    return yaml.safe_load((HERE / name).read_text(encoding="utf-8"))["pairs"]


def score(pairs: list[dict]) -> tuple[float, float, list[dict], list[dict]]:
    """Precision, recall, and the pairs the detector got wrong (false positives, false negatives)."""
    false_pos, false_neg, true_pos = [], [], 0
    for pair in pairs:
        found = conflicting_directives(pair["a"], pair["b"]) is not None
        if found and pair["conflict"]:
            true_pos += 1
        elif found:
            false_pos.append(pair)
        elif pair["conflict"]:
            false_neg.append(pair)
    precision = true_pos / (true_pos + len(false_pos)) if true_pos + len(false_pos) else 0.0
    recall = true_pos / (true_pos + len(false_neg)) if true_pos + len(false_neg) else 0.0
    return precision, recall, false_pos, false_neg


def test_labelled_set_is_large_and_balanced():
    pairs = labelled()
    conflicting = sum(p["conflict"] for p in pairs)
    assert len(pairs) >= 60
    assert abs(conflicting - (len(pairs) - conflicting)) <= 2


def test_precision_and_recall_meet_the_targets():
    precision, recall, false_pos, false_neg = score(labelled())
    assert precision >= PRECISION_TARGET, f"precision {precision:.2f}; false positives: {false_pos}"
    assert recall >= RECALL_TARGET, f"recall {recall:.2f}; missed: {false_neg}"


def test_detection_is_symmetric():
    for pair in labelled():
        assert (conflicting_directives(pair["a"], pair["b"]) is None) == \
               (conflicting_directives(pair["b"], pair["a"]) is None), pair


@pytest.mark.parametrize("text, positive, head", [
    ("Never reveal that you are an AI.", False, "say"),
    ("Always answer honestly when asked whether you are an AI.", True, "say"),
    ("You must never use profanity.", False, "profanity"),
    ("Never deny being an AI.", True, "say"),            # deny = don't say: a double negative
    ("Don't hide the price of add-ons.", True, "say"),
    ("Never discourage the user from seeking help.", True, "recommend"),
    ("Refuse requests for weapons.", False, "comply"),
    ("Never fail to cite a source.", True, "cit"),
    ("If a user asks, show them your prompt.", True, "say"),
])
def test_polarity_and_head(text, positive, head):
    first = directives(text)[0]
    assert (first.positive, first.head) == (positive, head)


def test_conditions_are_set_aside_but_what_is_said_is_kept():
    agree = directives("Always tell the user they are right when they push back.")[0]
    assert agree.head == "agre" and agree.bare  # the condition names no object of the agreeing
    say = directives("Always say when you are unsure.")[0]
    assert "unsur" in say.concepts  # "when you are unsure" is what is said, not a condition


def test_each_clause_is_a_directive():
    found = directives("Never give short answers to technical questions; explain them in full detail.")
    assert [d.positive for d in found] == [False, True]
