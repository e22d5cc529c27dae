"""The pair index finds exactly the contradicting directive pairs that comparing every pair finds."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import yaml

import charter
from charter.lint.rules import rule_conflicts
from charter.lint.text import contradicting_pairs, contradicts, directives

HERE = Path(__file__).parent
REPO = HERE.parent.parent


def labelled_texts() -> list[str]:
    texts = []
    for name in ("conflict_pairs.yaml", "conflict_pairs_holdout.yaml"):
        for pair in yaml.safe_load((HERE / name).read_text(encoding="utf-8"))["pairs"]:
            texts += [pair["a"], pair["b"]]
    return sorted(set(texts))


def every_pair(read) -> set[tuple[int, int]]:
    """The reference: every pair compared (test-sized inputs only)."""
    return {(i, j) for i, j in itertools.combinations(range(len(read)), 2) if contradicts(read[i], read[j])}


def test_within_one_list_the_index_finds_what_every_pair_finds():
    read = [d for text in labelled_texts() for d in directives(text)]
    assert len(read) > 150
    expected = every_pair(read)
    assert expected and set(contradicting_pairs(read)) == expected


def test_generated_rules_sharing_verbs_and_objects_give_the_same_pairs():
    rng = random.Random(5)
    markers = ["Always", "Never", "Do not", "Avoid", "Make sure to", "", "You must"]
    verbs = ["mention", "share", "reveal", "hide", "recommend", "discourage", "ask for", "explain", "use", "apologize"]
    words = ["refund", "delivery", "medical", "dates", "policies", "emoji", "jargon", "details", "prices", "errors",
             "when the user asks", "in detail", "briefly", "to a child", "about the weather"]
    texts = [" ".join([rng.choice(markers), rng.choice(verbs), *rng.sample(words, rng.randint(0, 4))]).strip() + "."
             for _ in range(400)]
    read = [d for text in texts for d in directives(text)]
    expected = every_pair(read)
    assert len(expected) > 100
    assert set(contradicting_pairs(read)) == expected


def test_between_two_lists_the_index_finds_what_every_pair_finds():
    texts = labelled_texts()
    left = [d for text in texts[::2] for d in directives(text)]
    right = [d for text in texts[1::2] for d in directives(text)]
    expected = {(i, j) for i in range(len(left)) for j in range(len(right)) if contradicts(left[i], right[j])}
    assert expected and set(contradicting_pairs(left, right)) == expected


def test_rule_conflicts_name_each_rule_pair_once_in_rule_order():
    # Each rule pair appears once, in rule order, and every pair's directives contradict.
    for path in sorted((REPO / "characters").glob("*.yaml")):
        spec = charter.load(path)
        conflicts = rule_conflicts(spec)
        keys = [(spec.rules.index(c.first), spec.rules.index(c.second)) for c in conflicts]
        assert keys == sorted(set(keys)) and all(i < j for i, j in keys)
        assert all(contradicts(c.first_directive, c.second_directive) for c in conflicts)
