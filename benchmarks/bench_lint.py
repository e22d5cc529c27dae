"""Benchmark the static linter: a generated 2,000-rule spec, load and lint timed separately.

    python benchmarks/bench_lint.py [--rules 2000] [--runs 5] [--whole 2000,8000,16000]

Prints the best-of-N wall time of `charter.load` and of `charter.lint.lint` (caches cleared
before every run, so each lint run starts cold), the findings per rule, and the precision and
recall of the conflict detector on the labelled pairs in tests/lint/ (the main set, and the
held-out set that was never used to tune the detector). Goal: lint < 1 s for 2,000 rules.

``--whole`` also times `charter lint` as a user runs it, the whole process, on the generated
specs of benchmarks/synthetic.py at each size, and prints how the time grows against the first
(goal: 16k rules at most 10x the 2k time, 50k under 30 s).
"""

from __future__ import annotations

import argparse
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import yaml

import charter
from charter.lint import lint
from charter.lint import rules as lint_rules
from charter.lint.text import conflicting_directives, directives

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic import synthetic_spec  # noqa: E402
MARKERS = ["Always", "Never", "Do not", "Avoid", "Make sure to", "", "You must", "Don't"]
VERBS = ["mention", "recommend", "share", "explain", "ask for", "promise", "discuss", "describe", "offer",
         "correct", "praise", "summarize", "quote", "translate", "confirm", "escalate", "compare", "cite",
         "estimate", "list", "check", "repeat", "schedule", "cancel", "refund", "reveal", "hide", "suggest"]
ADJECTIVES = ["delivery", "billing", "warranty", "account", "medical", "legal", "pricing", "shipping", "return",
              "privacy", "security", "product", "subscription", "loyalty", "holiday", "store", "gift", "tax",
              "payment", "discount"]
NOUNS = ["dates", "policies", "fees", "details", "options", "limits", "errors", "codes", "terms", "deadlines",
         "exceptions", "plans", "statistics", "sources", "steps", "times", "rules", "changes", "costs", "records",
         "questions", "numbers", "addresses", "contacts", "reviews", "complaints", "results", "updates",
         "settings", "features"]
CONDITIONS = ["", "", " when the user asks", " in the first reply", " if the order is late",
              " unless the customer objects", " before checkout", " after a complaint", " to a new customer"]


def generate(n_rules: int, seed: int = 7) -> dict:
    rng = random.Random(seed)
    values = [{"id": f"value-{i}", "description": f"Value number {i}, weighed against the others."} for i in range(30)]
    contexts = {f"ctx-{i}": {"description": f"Deployment context {i}."} for i in range(10)}
    rules = []
    for i in range(n_rules):
        marker = rng.choice(MARKERS)
        verb = rng.choice(VERBS)
        text = f"{marker} {verb} the {rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}{rng.choice(CONDITIONS)}.".strip()
        rule = {"id": f"rule-{i}", "text": text[0].upper() + text[1:],
                "strength": rng.choice(["hard", "default", "default", "soft"]),
                "serves": sorted(rng.sample([v["id"] for v in values], rng.choice([1, 1, 2])))}
        if rng.random() < 0.4:
            rule["when"] = sorted(rng.sample(sorted(contexts), rng.choice([1, 2])))
        rules.append(rule)
    tensions = []
    for i in range(150):
        pair = rng.sample([v["id"] for v in values], 2)
        tensions.append({"id": f"tension-{i}", "values": pair, "situation": f"Situation {i} where they meet.",
                         "resolution": "Say plainly what can be done, then offer the next step.",
                         "favors": pair[0] if rng.random() < 0.5 else None,
                         "examples": [{"prompt": f"Question {i}?", "good": "A good reply.",
                                       "bad": [{"text": "A bad reply.", "why": "It is bad."}]}]})
    examples = [{"id": f"example-{i}", "prompt": f"Prompt {i}?", "good": "A good reply.",
                 "targets": [f"rule:{r['id']}" for r in rules[i * 4:(i + 1) * 4]]} for i in range(n_rules // 5)]
    return {"charter": 1, "id": "bench", "name": "Bench", "summary": "A generated spec for benchmarking the linter.",
            "contexts": contexts, "identity": {"self_description": "I am a generated assistant.",
                                               "nature": "I am an AI and say so."},
            "values": values, "rules": rules, "tensions": tensions, "examples": examples}


def best_of(runs: int, action) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(runs):
        start = time.perf_counter()
        result = action()
        best = min(best, time.perf_counter() - start)
    return best, result


def cold_lint(path: Path):
    spec = charter.load(path)
    directives.cache_clear()
    lint_rules._conflicts._CONFLICT_CACHE.clear()
    lint_rules._helpers._clause_texts.cache_clear()
    lint_rules._helpers._SPEC_CLAUSES.clear()
    start = time.perf_counter()
    findings = lint(spec)
    return time.perf_counter() - start, findings


def precision_recall(name: str) -> tuple[float, float, int]:
    pairs = yaml.safe_load((ROOT / "tests" / "lint" / name).read_text(encoding="utf-8"))["pairs"]
    tp = fp = fn = 0
    for pair in pairs:
        found = conflicting_directives(pair["a"], pair["b"]) is not None
        tp += found and pair["conflict"]
        fp += found and not pair["conflict"]
        fn += (not found) and pair["conflict"]
    return tp / max(tp + fp, 1), tp / max(tp + fn, 1), len(pairs)


def whole_process(sizes: list[int]) -> None:
    """Wall and CPU time of `charter lint SPEC` in a fresh process, per generated spec size."""
    first = None
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            path = Path(tmp) / f"synthetic-{size}.yaml"
            path.write_text(synthetic_spec(rules=size), encoding="utf-8")
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "charter", "lint", str(path)], capture_output=True, check=False)
            wall = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
            first = first or wall
            print(f"charter lint, {size:,} rules (whole process): wall {wall:.2f} s, CPU {cpu:.2f} s, "
                  f"{wall / first:.1f}x the first size")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--whole", default="", help="comma-separated rule counts to time `charter lint` at")
    args = parser.parse_args()
    if args.whole:
        whole_process([int(n) for n in args.whole.split(",")])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.yaml"
        path.write_text(yaml.safe_dump(generate(args.rules), sort_keys=False), encoding="utf-8")
        load_time, spec = best_of(args.runs, lambda: charter.load(path))
        lint_times, findings = [], []
        for _ in range(args.runs):
            elapsed, findings = cold_lint(path)
            lint_times.append(elapsed)
    lint_time = min(lint_times)
    print(f"spec: {len(spec.rules)} rules, {len(spec.values)} values, {len(spec.tensions)} tensions, "
          f"{len(spec.contexts)} contexts")
    print(f"load (best of {args.runs}): {load_time:.3f} s")
    print(f"lint (best of {args.runs}, cold caches): {lint_time:.3f} s  [goal < 1 s: {'met' if lint_time < 1 else 'MISSED'}]")
    print("findings: " + ", ".join(f"{code} {n}" for code, n in sorted(Counter(d.code for d in findings).items())))
    for name in ("conflict_pairs.yaml", "conflict_pairs_holdout.yaml"):
        precision, recall, count = precision_recall(name)
        print(f"conflict detection on {name} ({count} pairs): precision {precision:.2f}, recall {recall:.2f}")
    return 0 if lint_time < 1 else 1


if __name__ == "__main__":
    sys.exit(main())
