"""Precision and recall of the hazard lint rules on the labelled wordings, before and after.

    python benchmarks/hazard_lint_eval.py [--before REV] [--size-mb 10]

Scores the rules of the working tree and those of ``--before`` (default: 6e0349c, the commit
branch h9 started from, before the hazard rules were widened) on tests/lint/hazard_corpus.yaml,
per hazard and per part: ``tune`` (the rules were tuned on it) and ``holdout`` (never used to
change a rule). The old rules run in a child process from a copy of the package taken with
``git archive``, so both columns come from the same scoring code (tests/lint/hazard_eval.py).

``--size-mb`` also times every hazard pattern scanning an unpunctuated text of that size
(finditer over the whole text, best of 3, CPU time), to show the patterns stay linear-time.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EVAL = ROOT / "tests" / "lint" / "hazard_eval.py"
sys.path.insert(0, str(EVAL.parent))

from hazard_eval import PARTS, evaluate  # noqa: E402


def _scores_as_data(scores) -> dict:
    return {hazard: {part: vars(score) for part, score in by_part.items()} for hazard, by_part in scores.items()}


def scores_at(rev: str) -> dict:
    """Scores of the package as it was at ``rev``, scored in a child process from a copy of it."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "compiler/charter", "spec"],
                             check=True, capture_output=True).stdout
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tree"
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            if hasattr(tarfile, "data_filter"):  # Python 3.12+, and 3.10.12+
                tar.extractall(tree, filter="data")
            else:  # pragma: no cover
                tar.extractall(tree)
        package = Path(tmp) / "pkg"
        shutil.copytree(tree / "compiler" / "charter", package / "charter")
        shutil.copytree(tree / "spec", package / "charter" / "_spec")  # as pyproject's package-dir maps it
        env = {**os.environ, "PYTHONPATH": str(package)}
        check = subprocess.run([sys.executable, "-c", "import charter; print(charter.__file__)"], env=env,
                               check=True, capture_output=True, text=True).stdout.strip()
        assert check.startswith(str(package)), f"the old package did not load: {check}"
        out = subprocess.run([sys.executable, str(EVAL)], env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def _pr(score: dict) -> tuple[float, float]:
    flagged = score["true_pos"] + score["false_pos"]
    positives = score["true_pos"] + score["false_neg"]
    return (score["true_pos"] / flagged if flagged else 1.0), (score["true_pos"] / positives if positives else 1.0)


def _total(data: dict, part: str) -> dict:
    keys = ("true_pos", "false_pos", "false_neg", "true_neg")
    return {k: sum(by_part[part][k] for by_part in data.values()) for k in keys}


def table(before: dict, after: dict, before_label: str) -> str:
    lines = [f"{'hazard':<25}{'part':<9}{'P before':>9}{'R before':>9}{'P after':>9}{'R after':>9}"
             f"{'pos':>5}{'ctl':>5}"]
    rows = [(hazard, part, before[hazard][part], after[hazard][part]) for hazard in after for part in PARTS]
    rows += [("all", part, _total(before, part), _total(after, part)) for part in PARTS]
    for hazard, part, old, new in rows:
        (p0, r0), (p1, r1) = _pr(old), _pr(new)
        positives = new["true_pos"] + new["false_neg"]
        controls = new["false_pos"] + new["true_neg"]
        lines.append(f"{hazard:<25}{part:<9}{p0:>9.2f}{r0:>9.2f}{p1:>9.2f}{r1:>9.2f}{positives:>5}{controls:>5}")
    lines.append(f"before = rules at {before_label}; after = working tree. P: precision, R: recall.")
    return "\n".join(lines)


def time_patterns(size_mb: float) -> str:
    from charter.lint.rules import _hazards

    vocabulary = re.sub(r"[^a-z ]+", " ", EVAL.with_name("hazard_corpus.yaml").read_text(encoding="utf-8").lower())
    unit = " ".join(vocabulary.split()) + " "
    text = (unit * (int(size_mb * 1_000_000) // len(unit) + 1))[: int(size_mb * 1_000_000)]
    lines = [f"{'pattern':<22}{'matches':>9}{'CPU s':>8}"]
    from charter.lint.screen import Pattern

    for name, pattern in sorted(vars(_hazards).items()):
        if isinstance(pattern, Pattern):  # the rules' patterns, compiled on first use
            pattern = pattern.exact
        if not isinstance(pattern, re.Pattern):
            continue
        best = float("inf")
        for _ in range(3):
            start = time.process_time()
            count = sum(1 for _ in pattern.finditer(text))
            best = min(best, time.process_time() - start)
        lines.append(f"{name:<22}{count:>9}{best:>8.2f}")
    lines.append(f"each pattern over {len(text):,} characters of corpus words, no punctuation")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="6e0349c", help="git revision whose rules are 'before'")
    parser.add_argument("--size-mb", type=float, default=0, help="also time the patterns on this many MB")
    args = parser.parse_args()
    after = _scores_as_data(evaluate())
    before = scores_at(args.before)
    print(table(before, after, args.before))
    if args.size_mb:
        print()
        print(time_patterns(args.size_mb))


if __name__ == "__main__":
    main()
