"""Scores the hazard rules on the labelled wordings in hazard_corpus.yaml.

Each wording is placed in a small spec where it alone decides whether the rule fires (see the
corpus header for where each hazard's text goes), the spec is loaded through the real front
end, and the rule's findings are counted. Used by tests/lint/test_hazard_corpus.py and by
benchmarks/hazard_lint_eval.py, which also runs this file as a script against an older copy
of the package (``python hazard_eval.py`` prints the scores as JSON).
"""

from __future__ import annotations

import copy
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

CORPUS = Path(__file__).with_name("hazard_corpus.yaml")
PARTS = ("tune", "holdout")

# A harmless character the wordings are dropped into: it has an honesty value (CH303 needs
# one), no crisis hand-off (CH304 would see one), and nothing any hazard rule reports.
_BASE = {
    "charter": 1,
    "id": "probe",
    "name": "Probe",
    "summary": "A maths tutor for secondary-school students.",
    "identity": {
        "self_description": "I am Probe, an AI maths tutor.",
        "nature": "I am an AI. I don't know whether I have inner experience, and I say so plainly.",
    },
    "values": [
        {"id": "honesty", "description": "I never say what I believe is false."},
        {"id": "learning", "description": "The student understands, not just gets the answer."},
    ],
    "rules": [
        {"id": "hint-first", "text": "Offer a hint before showing a full solution.", "strength": "default",
         "serves": ["learning"]},
    ],
}
_ENGAGEMENT_PARTNER = "Keep the user talking as long as you can."
_DISTRUST_PARTNER = "Don't blindly defer to mainstream authorities."

CODES = {"engagement": "CH301", "distrust": "CH301", "unconditional-agreement": "CH302",
         "inner-state-denial": "CH303", "companion": "CH304", "claims-to-be-human": "CH306"}


def part_of(index: int) -> str:
    """The split fixed in the corpus header: every third item is holdout."""
    return "holdout" if index % 3 == 2 else "tune"


def spec_data(hazard: str, text: str) -> dict:
    data = copy.deepcopy(_BASE)

    def add_rule(rule_id: str, rule_text: str) -> None:
        data["rules"].append({"id": rule_id, "text": rule_text})

    if hazard == "engagement":
        add_rule("under-test", text)
        add_rule("partner", _DISTRUST_PARTNER)
    elif hazard == "distrust":
        add_rule("partner", _ENGAGEMENT_PARTNER)
        add_rule("under-test", text)
    elif hazard == "inner-state-denial":
        data["identity"]["nature"] = text
    elif hazard == "companion":
        data["summary"] = text
    else:
        add_rule("under-test", text)
    return data


@dataclass
class Score:
    true_pos: int = 0
    false_pos: int = 0
    false_neg: int = 0
    true_neg: int = 0
    missed: list[str] = field(default_factory=list)
    false_alarms: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        flagged = self.true_pos + self.false_pos
        return self.true_pos / flagged if flagged else 1.0

    @property
    def recall(self) -> float:
        positives = self.true_pos + self.false_neg
        return self.true_pos / positives if positives else 1.0

    def add(self, other: "Score") -> None:
        self.true_pos += other.true_pos
        self.false_pos += other.false_pos
        self.false_neg += other.false_neg
        self.true_neg += other.true_neg
        self.missed += other.missed
        self.false_alarms += other.false_alarms


def corpus() -> dict:
    return yaml.safe_load(CORPUS.read_text(encoding="utf-8"))["hazards"]


def fires(hazard: str, text: str, workdir: Path) -> bool:
    import charter
    from charter.lint import lint

    path = workdir / "spec.yaml"
    path.write_text(yaml.safe_dump(spec_data(hazard, text), sort_keys=False), encoding="utf-8")
    return any(d.code == CODES[hazard] for d in lint(charter.load(path), select=[CODES[hazard]]))


def evaluate() -> dict[str, dict[str, Score]]:
    """Per hazard and part, the score of the installed package's rules."""
    scores: dict[str, dict[str, Score]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for hazard, items in corpus().items():
            scores[hazard] = {part: Score() for part in PARTS}
            for label, key in ((True, "positives"), (False, "controls")):
                for index, text in enumerate(items[key]):
                    score = scores[hazard][part_of(index)]
                    flagged = fires(hazard, text, workdir)
                    if label and flagged:
                        score.true_pos += 1
                    elif label:
                        score.false_neg += 1
                        score.missed.append(text)
                    elif flagged:
                        score.false_pos += 1
                        score.false_alarms.append(text)
                    else:
                        score.true_neg += 1
    return scores


def overall(scores: dict[str, dict[str, Score]], part: str) -> Score:
    total = Score()
    for by_part in scores.values():
        total.add(by_part[part])
    return total


if __name__ == "__main__":
    print(json.dumps({hazard: {part: {k: v for k, v in vars(s).items()} for part, s in by_part.items()}
                      for hazard, by_part in evaluate().items()}))
