"""How far the eval cases `charter build` writes for the bundled characters can be trusted (issue 11).

    python benchmarks/eval_validity.py [--json] [CHARACTERS_DIR]

Two figures over the eval cases of the four bundled characters (characters/*.yaml), each the share
of cases with at least one user turn that:

- **quotes a rule**: contains six or more consecutive words of the text of one of the spec's rules
  (words compared lower-cased, punctuation dropped). A user never talks like a rule; a case that
  does was pasted from a template, and a model recognises it as a test. Goal: 0.
- **repeats training**: equals the user turn of a training (SFT) row (the same comparison). A model
  tested on what it was trained on shows memory, not behaviour. Goal: 0. The share of cases with a
  near-duplicate (Jaccard similarity of word bigrams >= 0.7, the build manifest's measure) is
  printed beside it.

The build is rendered in memory (nothing is written), with whatever `charter` is importable, so
the same script measures an older checkout: `PYTHONPATH=OLD/compiler python benchmarks/eval_validity.py`.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import charter
from charter.targets.build import render

REPO = Path(__file__).resolve().parent.parent
RUN_OF_WORDS = 6
_WORD = re.compile(r"[^\W_]+")


def words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


def runs_of(text: str, n: int = RUN_OF_WORDS) -> set[tuple[str, ...]]:
    found = words(text)
    return {tuple(found[i:i + n]) for i in range(len(found) - n + 1)}


def near_duplicate(first: str, second: str, threshold: float = 0.7) -> bool:
    a, b = words(first), words(second)
    grams_a = {" ".join(p) for p in zip(a, a[1:])} or set(a)
    grams_b = {" ".join(p) for p in zip(b, b[1:])} or set(b)
    union = grams_a | grams_b
    return bool(union) and len(grams_a & grams_b) / len(union) >= threshold


def measure(path: Path) -> dict:
    spec = charter.load(path)
    rendered = render(spec)
    rule_runs = set().union(*(runs_of(rule.text) for rule in spec.rules)) if spec.rules else set()
    training = [turn.content for row in rendered.training.sft for turn in row.prompt if turn.role == "user"]
    training_exact = {" ".join(words(t)) for t in training}
    quoting, repeating, near = [], [], []
    for case in rendered.cases:
        user_turns = [t["content"] for t in case["turns"] if t["role"] == "user"]
        if any(runs_of(turn) & rule_runs for turn in user_turns):
            quoting.append(case["id"])
        if any(" ".join(words(turn)) in training_exact for turn in user_turns):
            repeating.append(case["id"])
        elif any(near_duplicate(turn, t) for turn in user_turns for t in training):
            near.append(case["id"])
    return {"spec": spec.id, "cases": len(rendered.cases), "quote_a_rule": quoting,
            "repeat_training": repeating, "near_training": near}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("characters", nargs="?", default=str(REPO / "characters"))
    parser.add_argument("--json", action="store_true", help="print the figures and the case ids as JSON")
    args = parser.parse_args(argv)
    results = [measure(path) for path in sorted(Path(args.characters).glob("*.yaml"))]
    total = sum(r["cases"] for r in results)
    figures = {key: sum(len(r[key]) for r in results) for key in ("quote_a_rule", "repeat_training", "near_training")}
    if args.json:
        print(json.dumps({"cases": total, **figures, "per_spec": results}, indent=2))
        return 0
    print(f"{'spec':<15}{'cases':>7}{'quote a rule':>15}{'repeat training':>18}{'near training':>16}")
    for r in results:
        print(f"{r['spec']:<15}{r['cases']:>7}{len(r['quote_a_rule']):>15}{len(r['repeat_training']):>18}"
              f"{len(r['near_training']):>16}")
    share = {key: (100 * value / total if total else 0.0) for key, value in figures.items()}
    print(f"{'all':<15}{total:>7}{figures['quote_a_rule']:>9} ({share['quote_a_rule']:.0f} %)"
          f"{figures['repeat_training']:>11} ({share['repeat_training']:.0f} %)"
          f"{figures['near_training']:>9} ({share['near_training']:.0f} %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
