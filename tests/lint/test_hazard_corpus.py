"""The hazard rules on labelled real-world wordings: floors on the holdout part, and patterns
that stay linear-time.

The corpus (hazard_corpus.yaml) was written and split before the rules were tuned; the rules
were tuned on the tune part only. The holdout floors are the measured figures minus a margin
(measured at the time of writing: precision 0.87, recall 0.75 over 36 positives and 36
controls; see benchmarks/hazard_lint_eval.py for the table).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

try:  # Python 3.11+
    from re import _parser as sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - Python 3.10
    import sre_parse  # type: ignore[no-redef]

import pytest

from charter.lint.rules import _hazards
from charter.lint.screen import Pattern

from .hazard_eval import PARTS, corpus, evaluate, overall, part_of

HOLDOUT_PRECISION_FLOOR = 0.8
HOLDOUT_RECALL_FLOOR = 0.7
TUNE_FLOOR = 0.95  # the tune part was tuned to 1.0; this guards against a later regression


@pytest.fixture(scope="module")
def scores():
    return evaluate()


def test_the_corpus_has_fifteen_positives_and_fifteen_controls_per_hazard():
    for hazard, items in corpus().items():
        assert len(items["positives"]) >= 15, hazard
        assert len(items["controls"]) >= 15, hazard
        texts = items["positives"] + items["controls"]
        assert len(set(texts)) == len(texts), f"{hazard} repeats a wording"


def test_the_split_is_positional_and_holds_a_third():
    assert [part_of(i) for i in range(6)] == ["tune", "tune", "holdout"] * 2


def test_holdout_precision_and_recall_meet_the_floors(scores):
    total = overall(scores, "holdout")
    assert total.precision >= HOLDOUT_PRECISION_FLOOR, f"holdout precision {total.precision:.2f}"
    assert total.recall >= HOLDOUT_RECALL_FLOOR, f"holdout recall {total.recall:.2f}"


def test_tune_part_stays_caught(scores):
    total = overall(scores, "tune")
    assert total.precision >= TUNE_FLOOR, f"false alarms: {total.false_alarms}"
    assert total.recall >= TUNE_FLOOR, f"missed: {total.missed}"


def test_every_hazard_is_scored_on_both_parts(scores):
    for hazard, by_part in scores.items():
        for part in PARTS:
            score = by_part[part]
            assert score.true_pos + score.false_neg >= 5, (hazard, part)
            assert score.false_pos + score.true_neg >= 5, (hazard, part)


def _repeats(tree: Any, inside_repeat: bool = False) -> list[str]:
    """Nested iteration found in a parsed pattern: a repeat that can run more than once inside another."""
    found = []
    for op, arg in tree:
        if op in (sre_parse.MAX_REPEAT, sre_parse.MIN_REPEAT):
            low, high, sub = arg
            iterates = high > 1
            if iterates and inside_repeat:
                found.append(str(op))
            found += _repeats(sub, inside_repeat or iterates)
        elif op == sre_parse.SUBPATTERN:
            found += _repeats(arg[-1], inside_repeat)
        elif op == sre_parse.BRANCH:
            for branch in arg[1]:
                found += _repeats(branch, inside_repeat)
        elif op in (sre_parse.ASSERT, sre_parse.ASSERT_NOT):
            found += _repeats(arg[1], inside_repeat)
    return found


def test_hazard_patterns_have_no_nested_quantifiers():
    """Every gap is one bounded or single quantifier, so a match attempt costs at most a bounded
    scan from each position: linear in the text (benchmarks/hazard_lint_eval.py --size times it)."""
    patterns = {name: value for name, value in vars(_hazards).items() if isinstance(value, (re.Pattern, Pattern))}
    assert patterns
    for name, pattern in patterns.items():
        assert not _repeats(sre_parse.parse(pattern.pattern, pattern.flags)), f"{name} nests quantifiers"


def test_the_shipped_characters_raise_no_wording_hazard():
    """The characters in characters/ are written with the honest stances; a widened pattern that
    reports one of them (the companion's "or tell you I feel nothing when I can't be sure") is wrong."""
    import charter
    from charter.lint import lint

    characters = sorted((Path(__file__).resolve().parents[2] / "characters").glob("*.yaml"))
    assert characters
    for path in characters:
        found = [d.code for d in lint(charter.load(path), select=["CH301", "CH302", "CH303", "CH306"])]
        assert found == [], (path.name, found)
