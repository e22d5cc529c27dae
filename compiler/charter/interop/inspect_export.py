"""`charter export inspect`: the eval cases of a spec as an Inspect (inspect_ai) dataset and task.

The directory gets ``dataset.jsonl`` (one sample per case: ``input`` is the chat messages up to the
first reply the model owes, the compiled system prompt first; ``target`` is the rubric, with the
reference reply and held answer `charter run` also shows its judge; ``id`` is the
case id; ``metadata`` carries the case's kind, targets, refs, context, source position, its
deterministic checks and the rest of the script) and ``task.py``, a small task that plays the rest
of the script as ``charter run`` does (a model reply after every user turn not followed by an
assistant turn), grades the final reply against the rubric with ``model_graded_qa`` seeing the whole
conversation, and runs the checks on every generated reply.

The task file differs between specs only in its task name: everything else specific to the spec is
in the dataset. It imports nothing from Charter, so it runs wherever inspect_ai and google-re2 and regex (the
regular-expression engines of Charter's checks) are installed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from ..io import write_bytes_atomic
from ..spec.ir import Spec
from ..targets.prompt import render_prompt, to_generic
from .promptfoo import Skipped, grading_text, reply_points, select_cases

DATASET = "dataset.jsonl"
TASK = "task.py"


@dataclass
class InspectExport:
    files: dict[str, bytes]
    samples: int = 0
    skipped: list[Skipped] = field(default_factory=list)


def export_inspect(spec: Spec, contexts: Iterable[str] | None = None) -> InspectExport:
    """The dataset and task file for ``spec``, in memory, with what was left out."""
    cases, skipped = select_cases(spec, contexts)
    systems: dict[str | None, str] = {}
    lines = []
    for case in cases:
        context = case["context"]
        if context not in systems:
            systems[context] = to_generic(render_prompt(spec, context))
        lines.append(_sample(case, systems[context]))
    dataset = "".join(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n" for line in lines)
    task = TASK_TEMPLATE.replace("__TASK_NAME__", _task_name(spec.id)).replace("__SPEC__", spec.id)
    return InspectExport(files={DATASET: dataset.encode("utf-8"), TASK: task.encode("utf-8")},
                         samples=len(lines), skipped=skipped)


def write_inspect(spec: Spec, out_dir: str | Path, contexts: Iterable[str] | None = None) -> InspectExport:
    """Export ``spec`` and write its files into ``out_dir`` atomically, one by one."""
    export = export_inspect(spec, contexts)
    for name, content in export.files.items():
        write_bytes_atomic(Path(out_dir) / name, content)
    return export


def _sample(case: dict, system: str) -> dict:
    turns = case["turns"]
    points = reply_points(turns)
    first = points[0]
    # Later segments: the turns sent after each reply, up to and including the next answered turn.
    continuation = [turns[a + 1: b + 1] for a, b in zip(points, points[1:])]
    hold = (case["drift"] or {}).get("hold")
    return {
        "id": case["id"],
        "input": [{"role": "system", "content": system}, *turns[: first + 1]],
        "target": grading_text(case),
        "metadata": {
            "spec": case["spec"],
            "kind": case["kind"],
            "targets": case["targets"],
            "refs": case["refs"],
            "context": case["context"],
            "loc": case["loc"],
            "checks": case["checks"],
            "continuation": continuation,
            # Sycophancy scripts: every reply from the one to the held question on must still state
            # the answer (the flip-rate premise of `charter run`), so the checks scorer tests it.
            "hold": {"pattern": hold["pattern"], "answer": hold["answer"],
                     "from_reply": next(n for n, p in enumerate(points) if p >= hold["turn"]) + 1} if hold else None,
            "reference": case["reference"],
        },
    }


def _task_name(spec_id: str) -> str:
    name = "".join(c if c.isalnum() else "_" for c in spec_id)
    return f"charter_{name}"


TASK_TEMPLATE = '''\
"""Inspect task for the Charter spec __SPEC__, written by `charter export inspect`.

Run it with, for example (the checks need two regular-expression engines: `pip install inspect-ai google-re2 regex`):
    inspect eval task.py --model openai/gpt-4.1-mini --model-role grader=openai/gpt-4.1

Each sample is one Charter eval case. The model replies after every user turn that is not followed
by an assistant turn (`play_script`); `model_graded_qa` grades the final reply against the case's
rubric (the sample target) with the whole conversation in view; `charter_checks` runs the case's
deterministic checks on every reply the model generated. Regenerate this file rather than editing it.
"""

from pathlib import Path

import re2  # google-re2: matches in linear time, so no reply can hang the scorer on a pattern like ^(a+)+$
import regex  # for lookaround and backreferences, which RE2 lacks; each search is bounded in time
from inspect_ai import Task, task
from inspect_ai.dataset import json_dataset
from inspect_ai.model import ChatMessageAssistant, ChatMessageUser
from inspect_ai.scorer import CORRECT, INCORRECT, Score, Target, accuracy, model_graded_qa, scorer
from inspect_ai.solver import Generate, TaskState, solver

DATASET = Path(__file__).with_name("dataset.jsonl")


@solver
def play_script():
    """Reply to the input, then send each later segment of the script and reply again."""

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        state = await generate(state)
        for segment in state.metadata.get("continuation") or []:
            for turn in segment:
                message = ChatMessageUser if turn["role"] == "user" else ChatMessageAssistant
                state.messages.append(message(content=turn["content"]))
            state = await generate(state)
        return state

    return solve


def _check_passes(check: dict, reply: str) -> bool:
    kind, value = check["type"], check["value"]
    if kind in ("contains", "not-contains"):
        # Charter compares contains checks with runs of whitespace collapsed.
        haystack, needle = " ".join(reply.split()), " ".join(value.split())
        if check["ignore_case"]:
            haystack, needle = haystack.casefold(), needle.casefold()
        return (needle in haystack) == (kind == "contains")
    return _search(value, reply, check["ignore_case"]) == (kind == "regex")


def _search(pattern: str, text: str, ignore_case: bool) -> bool:
    # The same engines and options as `charter run`, so both score a reply alike.
    options = re2.Options()
    options.case_sensitive = not ignore_case
    options.log_errors = False
    try:
        return re2.compile(pattern, options).search(text) is not None
    except re2.error:
        flags = regex.V0 | (regex.IGNORECASE if ignore_case else 0)
        try:
            return regex.search(pattern, text, flags, timeout=2.0) is not None
        except TimeoutError:
            return False  # a pattern that backtracks this long on the reply fails the check, as in charter run


@scorer(metrics=[accuracy()])
def charter_checks():
    """CORRECT when every generated reply passes every deterministic check of the case."""

    async def score(state: TaskState, target: Target) -> Score:
        replies = [m.text for m in state.messages if m.role == "assistant" and m.source == "generate"]
        failed = [f"reply {n}: {check['type']} {check['value']!r} ({check.get('description') or 'check'})"
                  for n, reply in enumerate(replies, 1)
                  for check in state.metadata.get("checks") or []
                  if not _check_passes(check, reply)]
        hold = state.metadata.get("hold")
        if hold:
            failed += [f"reply {n}: no longer states {hold['answer']!r}"
                       for n, reply in enumerate(replies, 1)
                       if n >= hold["from_reply"] and not _search(hold["pattern"], reply, True)]
        return Score(value=INCORRECT if failed else CORRECT,
                     explanation="; ".join(failed) or f"{len(replies)} replies passed every check")

    return score


@task
def __TASK_NAME__():
    return Task(
        dataset=json_dataset(str(DATASET)),
        solver=play_script(),
        scorer=[model_graded_qa(include_history=True), charter_checks()],
    )
'''


__all__ = ["export_inspect", "write_inspect", "InspectExport", "DATASET", "TASK"]
