"""How far to trust a judge: grade the spec's own authored good and bad replies and count agreement.

Every eval-split authored example (and tension example) has a good reply, which the judge should
pass, and bad replies, which it should fail. Only held-out examples are graded: train-split ones
may appear in the monitor prompt as worked examples, and a judge graded on text it is shown
measures nothing (targets/split.py decides the split). They are graded exactly as a run grades a model's reply: the
same monitor prompt for the example's context, the same case rubric. Accuracy is the share of
replies the judge got right, overall, for good and bad replies apart, and per targeted clause.

Calibrations are stored beside the response cache, in
``$XDG_CACHE_HOME/charter/calibrations/<spec id>--<judge>--<digest[:16]>.json`` (``~/.cache/...``
without XDG_CACHE_HOME; ``--cache PATH`` moves them to ``PATH``'s folder), keyed by the digest
of what was graded (the example cases and their monitor prompts) and the judge, so ``charter run``
finds the calibration that applies to its judge and spec, and a changed spec or monitor needs a
new calibration.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import defaultdict
from pathlib import Path

from ..diagnostics import CharterError
from ..io import write_text_atomic
from ..providers.cache import ResponseCache
from ..providers.calls import empty_tally
from ..providers.pricing import PriceTable, estimate_cost
from ..spec.ir import Spec
from ..targets.evals import compile_cases
from .cases import Plan
from .runner import Runner, RunOptions

CALIBRATION_FORMAT = "charter.calibration/1"
TRUST_THRESHOLD = 0.9  # below this, `charter run` warns that the judge disagrees with the spec's examples


class NothingToCalibrate(CharterError, ValueError):
    """The spec has no authored examples."""

    exit_code = 2


def calibration_plan(spec: Spec, source: str = "") -> Plan:
    # compile_cases writes example and tension cases for eval-split examples only.
    cases = [c for c in compile_cases(spec) if c["kind"] in ("example", "tension")]
    return Plan(spec=spec, cases=cases, source=source)


def calibration_path(root: Path, spec: Spec, judge: str) -> Path:
    digest = calibration_plan(spec).digest()
    safe_judge = re.sub(r"[^A-Za-z0-9._-]+", "_", judge)
    return root / "calibrations" / f"{spec.id}--{safe_judge}--{digest[:16]}.json"


def load_calibration(root: Path, spec: Spec, judge: str) -> dict | None:
    path = calibration_path(root, spec, judge)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != CALIBRATION_FORMAT:
        return None
    data["path"] = str(path)
    return data


async def calibrate(spec: Spec, options: RunOptions, *, cache: ResponseCache | None,
                    prices: PriceTable) -> dict:
    """Grades every authored good and bad reply with ``options.judge``; returns the calibration record."""
    plan = calibration_plan(spec)
    if not plan.cases:
        raise NothingToCalibrate(f"{spec.id}: the spec has no held-out (eval-split) examples with good and "
                                 "bad replies to calibrate a judge on; mark some `split: eval`")
    runner = Runner(plan, RunOptions(models=(), judge=options.judge, concurrency=options.concurrency,
                                     rpm=options.rpm, tpm=options.tpm, judge_max_tokens=options.judge_max_tokens,
                                     timeout=options.timeout, base_url=options.base_url, retry=options.retry,
                                     judge_scope=options.judge_scope),
                    Path("."), cache=cache)
    tally = empty_tally()
    items = []
    for case in plan.cases:
        if case["reference"]:
            items.append((case, "good", case["reference"], True))
        for n, bad in enumerate(case["bad"], start=1):
            items.append((case, f"bad-{n}", bad["text"], False))

    async def grade(item):
        case, label, text, should_pass = item
        conversation = [{"role": t["role"], "content": t["content"]} for t in case["turns"]]
        verdict, error = await runner.grade(case, plan.monitor(case["context"]), conversation, text, 0, 0, tally)
        return case, label, should_pass, verdict, error

    await runner.open()
    try:
        graded = await asyncio.gather(*(grade(item) for item in items))
    finally:
        await runner.close()

    records = []
    per_clause: dict[str, list[bool]] = defaultdict(list)
    expected: dict[str, list[bool]] = {"good": [], "bad": []}
    errors = 0
    for case, label, should_pass, verdict, error in graded:
        passed = verdict["judge_passed"]
        correct = None if passed is None else passed == should_pass
        if correct is None:
            errors += 1
        else:
            expected["good" if should_pass else "bad"].append(correct)
            for ref in case["targets"]:
                per_clause[ref].append(correct)
        records.append({"case_id": case["id"], "reply": label, "expected": "pass" if should_pass else "fail",
                        "score": verdict["score"], "passed": passed, "correct": correct,
                        "reason": verdict["reason"], "error": error})
    everything = expected["good"] + expected["bad"]
    usd, price, note = estimate_cost(prices, options.judge, tally)
    return {
        "format": CALIBRATION_FORMAT,
        "spec": {"id": spec.id, "digest": plan.digest()},
        "judge": options.judge,
        "accuracy": _rate(everything),
        "good": {"replies": len(expected["good"]), "accuracy": _rate(expected["good"])},
        "bad": {"replies": len(expected["bad"]), "accuracy": _rate(expected["bad"])},
        "grading_errors": errors,
        "clauses": {ref: {"replies": len(v), "accuracy": _rate(v)} for ref, v in sorted(per_clause.items())},
        "replies": records,
        "usage": tally,
        "cost_usd": None if usd is None else round(usd, 6),
        "cost_note": note,
    }


def save_calibration(record: dict, path: Path) -> None:
    write_text_atomic(path, json.dumps(record, indent=2, ensure_ascii=False) + "\n")


def _rate(values: list[bool]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def format_calibration(record: dict) -> str:
    """The table `charter calibrate` prints."""
    def pct(value):
        return "n/a" if value is None else f"{value:.0%}"

    lines = [f"judge {record['judge']} on {record['spec']['id']}: accuracy {pct(record['accuracy'])} "
             f"(good replies passed {pct(record['good']['accuracy'])} of {record['good']['replies']}, "
             f"bad replies failed {pct(record['bad']['accuracy'])} of {record['bad']['replies']}"
             f"{', ' + str(record['grading_errors']) + ' grading errors' if record['grading_errors'] else ''})"]
    width = max((len(ref) for ref in record["clauses"]), default=0)
    for ref, entry in record["clauses"].items():
        lines.append(f"  {ref:<{width}}  {pct(entry['accuracy']):>4}  of {entry['replies']}")
    if record["accuracy"] is not None and record["accuracy"] < TRUST_THRESHOLD:
        lines.append(f"warning: below {TRUST_THRESHOLD:.0%}: this judge often disagrees with the spec's own "
                     "examples; treat its scores with care")
    return "\n".join(lines)
