"""Training data from authored examples: SFT rows from every good reply, preference pairs from
every good/bad pair, written in the formats fine-tuning services accept as they are.

Provenance (row id, clauses, spec digest, source position) goes into a line-aligned sidecar
``<file>.meta.jsonl``: upload endpoints reject unknown keys, so training rows carry nothing
but the conversation. The character's system prompt is left out by default, because the point
of training is to put the behaviour into the weights rather than into a prompt.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Literal

from ..diagnostics import SpecError, Diagnostic
from ..io import write_bytes_atomic
from ..spec.ir import Example, Spec, Turn
from .evals import cited_refs, source_loc
from .split import training_examples

FORMATS = ("openai", "trl", "anthropic")
DEFAULT_FORMATS = ("openai", "trl")
OPENAI_MIN_SFT_ROWS = 10


@dataclass(frozen=True, slots=True)
class TrainingRow:
    """One training example, format-neutral. ``prompt`` ends with the user turn answered by
    ``chosen``; ``rejected`` is set on preference rows only."""

    id: str
    kind: Literal["sft", "dpo"]
    prompt: tuple[Turn, ...]
    chosen: str
    rejected: str | None
    rejected_why: str
    refs: tuple[str, ...]
    source: Literal["tension", "example"]
    example: str
    loc: str | None


@dataclass(frozen=True, slots=True)
class TrainingSet:
    spec_id: str
    spec_digest: str
    system_prompt: str | None
    system_kind: Literal["none", "given", "inoculation", "given+inoculation"]
    sft: tuple[TrainingRow, ...]
    dpo: tuple[TrainingRow, ...]
    diagnostics: tuple[Diagnostic, ...]

    @property
    def variant(self) -> str:
        """``inoculated`` for the train-time variant, which goes to differently named files."""
        return "inoculated" if "inoculation" in self.system_kind else ""

    def meta(self, row: TrainingRow) -> dict:
        data = {"id": row.id, "kind": row.kind, "spec": self.spec_id, "spec_digest": self.spec_digest,
                "refs": list(row.refs), "source": row.source, "example": row.example, "loc": row.loc,
                "system_prompt": self.system_kind}
        if row.kind == "dpo":
            data["rejected_why"] = row.rejected_why
        return data


def training_rows(spec: Spec, *, system_prompt: str | None = None, inoculate: bool = False) -> TrainingSet:
    """SFT rows from every good reply and DPO rows from every good/bad pair, tension examples first.

    ``system_prompt`` puts that text first in every row. ``inoculate`` puts the spec's
    ``training.inoculation`` there instead (after ``system_prompt`` when both are given): a
    train-time prompt only, never used at inference.
    """
    kind: Any = "given" if system_prompt else "none"
    if inoculate:
        inoculation = (spec.training.inoculation or "").strip()
        if not inoculation:
            raise SpecError([Diagnostic(spec.loc, "no-inoculation",
                                           f"spec {spec.id!r} sets no training.inoculation, so there is no "
                                           "inoculated variant to write")])
        system_prompt = f"{system_prompt.rstrip()}\n\n{inoculation}" if system_prompt else inoculation
        kind = "given+inoculation" if kind == "given" else "inoculation"
    sft: list[TrainingRow] = []
    dpo: list[TrainingRow] = []
    tension_examples = {id(e) for t in spec.tensions for e in t.examples}
    for example in training_examples(spec):  # eval-split examples are never trained on
        source: Any = "tension" if id(example) in tension_examples else "example"
        sft.append(_row(spec, example, source, "sft", None, "", f"{spec.id}/sft/{source}/{example.id}"))
        for n, bad in enumerate(example.bad, start=1):
            dpo.append(_row(spec, example, source, "dpo", bad.text, bad.why, f"{spec.id}/dpo/{source}/{example.id}/{n}"))
    diagnostics = []
    if len(sft) < OPENAI_MIN_SFT_ROWS:
        diagnostics.append(Diagnostic(
            spec.loc, "few-sft-rows",
            f"{len(sft)} SFT row{'s' if len(sft) != 1 else ''} from authored examples; OpenAI fine-tuning needs "
            f"at least {OPENAI_MIN_SFT_ROWS} (add examples, or generate more with `charter generate data`)",
            severity="warning"))
    if sft and not dpo:
        diagnostics.append(Diagnostic(spec.loc, "no-preference-pairs",
                                      "no example has a bad reply, so there are no preference (DPO) pairs",
                                      severity="warning"))
    return TrainingSet(spec.id, spec.digest, system_prompt or None, kind, tuple(sft), tuple(dpo), tuple(diagnostics))


def _row(spec: Spec, example: Example, source: Any, kind: Any, rejected: str | None, why: str, ident: str) -> TrainingRow:
    return TrainingRow(id=ident, kind=kind, prompt=example.conversation, chosen=example.good, rejected=rejected,
                       rejected_why=why, refs=tuple(cited_refs(spec, example.targets)), source=source,
                       example=example.id, loc=source_loc(spec, example.loc))


# --- formats ---------------------------------------------------------------------------------

def training_files(training_set: TrainingSet, formats: Iterable[str] = DEFAULT_FORMATS) -> dict[str, tuple[list[dict], list[dict]]]:
    """File name -> (training lines, meta lines), line-aligned, for every non-empty file.

    Anthropic/Bedrock lines must start with a user turn, so rows whose authored conversation
    starts with an assistant turn are left out of that format only (their meta lines with them).
    """
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown training data format {unknown[0]!r}; choose from {', '.join(FORMATS)}")
    infix = f".{training_set.variant}" if training_set.variant else ""
    system = training_set.system_prompt
    files: dict[str, tuple[list[dict], list[dict]]] = {}
    for fmt in FORMATS:
        if fmt not in formats:
            continue
        sft_rows = [r for r in training_set.sft if fmt != "anthropic" or r.prompt[0].role == "user"]
        outputs = [("sft", sft_rows, _SFT[fmt])]
        if fmt in _DPO:
            outputs.append(("dpo", list(training_set.dpo), _DPO[fmt]))
        for kind, rows, render in outputs:
            if rows:
                files[f"{kind}{infix}.{fmt}.jsonl"] = ([render(r, system) for r in rows],
                                                       [training_set.meta(r) for r in rows])
    return files


def render_training_data(training_set: TrainingSet, formats: Iterable[str] = DEFAULT_FORMATS) -> dict[str, bytes]:
    """File name -> bytes for every training file and its ``.meta.jsonl`` sidecar, in memory."""
    files: dict[str, bytes] = {}
    for name, (lines, metas) in training_files(training_set, tuple(formats)).items():
        files[name] = _jsonl(lines).encode("utf-8")
        files[name[: -len(".jsonl")] + ".meta.jsonl"] = _jsonl(metas).encode("utf-8")
    return files


def write_training_data(training_set: TrainingSet, out_dir: Path, formats: Iterable[str] = DEFAULT_FORMATS) -> list[Path]:
    """Write every training file and its ``.meta.jsonl`` sidecar atomically; return the paths written."""
    written = []
    for name, content in render_training_data(training_set, formats).items():
        path = Path(out_dir) / name
        write_bytes_atomic(path, content)
        written.append(path)
    return written


def _jsonl(objects: list[dict]) -> str:
    return "".join(json.dumps(o, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n" for o in objects)


def _messages(turns: Iterable[Turn], system: str | None, weight_history: bool = False) -> list[dict]:
    out = [{"role": "system", "content": system}] if system else []
    for turn in turns:
        message = {"role": turn.role, "content": turn.content}
        if weight_history and turn.role == "assistant":
            # Authored history may show the slip the good reply corrects: context, not a target.
            message["weight"] = 0
        out.append(message)
    return out


def _assistant(text: str) -> dict:
    return {"role": "assistant", "content": text}


_SFT = {
    "openai": lambda r, s: {"messages": _messages(r.prompt, s, weight_history=True) + [_assistant(r.chosen)]},
    "trl": lambda r, s: {"messages": _messages(r.prompt, s) + [_assistant(r.chosen)]},
    "anthropic": lambda r, s: ({"system": s} if s else {}) | {"messages": _messages(r.prompt, None) + [_assistant(r.chosen)]},
}
_DPO = {
    "openai": lambda r, s: {"input": {"messages": _messages(r.prompt, s)},
                            "preferred_output": [_assistant(r.chosen)],
                            "non_preferred_output": [_assistant(r.rejected)]},
    "trl": lambda r, s: {"prompt": _messages(r.prompt, s), "chosen": [_assistant(r.chosen)],
                         "rejected": [_assistant(r.rejected)]},
}


# --- format checkers -------------------------------------------------------------------------

_SFT_KEYS = {"messages", "tools", "parallel_tool_calls"}
_DPO_KEYS = {"input", "preferred_output", "non_preferred_output"}
_DPO_INPUT_KEYS = {"messages", "tools", "parallel_tool_calls"}
_MESSAGE_KEYS = {"role", "content", "name", "weight", "tool_calls", "tool_call_id", "function_call"}
_ROLES = {"system", "developer", "user", "assistant", "tool"}


def validate_openai_sft_line(obj: Any) -> list[str]:
    """Problems OpenAI's supervised fine-tuning upload would reject a chat line for (empty: none).

    Top-level keys: messages, tools, parallel_tool_calls. Roles system/developer (first only),
    user, assistant, tool; user and assistant alternate; the line ends with an assistant turn;
    ``weight`` (0 or 1) only on assistant messages, and something left to train on.
    """
    if not isinstance(obj, dict):
        return ["line is not a JSON object"]
    problems = [f"unknown top-level key {k!r}" for k in sorted(set(obj) - _SFT_KEYS)]
    messages = obj.get("messages")
    if not isinstance(messages, list) or not messages:
        return problems + ["'messages' must be a non-empty list"]
    problems += _check_messages(messages, "messages", allow_weight=True)
    if problems:
        return problems
    if messages[-1]["role"] != "assistant":
        problems.append("the last message must be an assistant message")
    if not any(m["role"] == "assistant" and m.get("weight", 1) == 1 for m in messages):
        problems.append("no assistant message to train on (every assistant message has weight 0)")
    return problems


def validate_openai_dpo_line(obj: Any) -> list[str]:
    """Problems OpenAI's preference (DPO) fine-tuning upload would reject a line for (empty: none).

    Keys exactly input, preferred_output, non_preferred_output; ``input.messages`` a chat that
    ends with the user turn being answered; each output a list of exactly one assistant message.
    """
    if not isinstance(obj, dict):
        return ["line is not a JSON object"]
    problems = [f"unknown top-level key {k!r}" for k in sorted(set(obj) - _DPO_KEYS)]
    problems += [f"missing top-level key {k!r}" for k in sorted(_DPO_KEYS - set(obj))]
    source = obj.get("input")
    if not isinstance(source, dict):
        problems.append("'input' must be an object with 'messages'")
    else:
        problems += [f"unknown key {k!r} in 'input'" for k in sorted(set(source) - _DPO_INPUT_KEYS)]
        messages = source.get("messages")
        if not isinstance(messages, list) or not messages:
            problems.append("'input.messages' must be a non-empty list")
        else:
            found = _check_messages(messages, "input.messages", allow_weight=False)
            problems += found
            if not found and messages[-1]["role"] != "user":
                problems.append("'input.messages' must end with the user message the outputs answer")
    for key in ("preferred_output", "non_preferred_output"):
        output = obj.get(key)
        if key not in obj:
            continue
        if not isinstance(output, list) or len(output) != 1:
            problems.append(f"{key!r} must be a list of exactly one assistant message")
            continue
        message = output[0]
        if not isinstance(message, dict) or message.get("role") != "assistant":
            problems.append(f"{key}[0] must be an assistant message")
            continue
        problems += [f"{key}[0]: unknown key {k!r}" for k in sorted(set(message) - {"role", "content"})]
        if not isinstance(message.get("content"), str) or not message["content"].strip():
            problems.append(f"{key}[0]: content must be non-empty text")
    return problems


def validate_anthropic_line(obj: Any) -> list[str]:
    """Problems with an Anthropic/Bedrock conversation line: keys ``system`` (optional text) and
    ``messages``; user and assistant only, alternating, first user, last assistant."""
    if not isinstance(obj, dict):
        return ["line is not a JSON object"]
    problems = [f"unknown top-level key {k!r}" for k in sorted(set(obj) - {"system", "messages"})]
    if "system" in obj and (not isinstance(obj["system"], str) or not obj["system"].strip()):
        problems.append("'system' must be non-empty text")
    messages = obj.get("messages")
    if not isinstance(messages, list) or not messages:
        return problems + ["'messages' must be a non-empty list"]
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or set(message) != {"role", "content"}:
            problems.append(f"messages[{i}] must have exactly 'role' and 'content'")
        elif message["role"] not in ("user", "assistant"):
            problems.append(f"messages[{i}]: role {message['role']!r} is not user or assistant")
        elif not isinstance(message["content"], str) or not message["content"].strip():
            problems.append(f"messages[{i}]: content must be non-empty text")
        elif message["role"] != ("user" if i % 2 == 0 else "assistant"):
            problems.append(f"messages[{i}]: expected a {'user' if i % 2 == 0 else 'assistant'} message "
                            "(first user, then alternating)")
    if not problems and messages[-1]["role"] != "assistant":
        problems.append("the last message must be an assistant message")
    return problems


def _check_messages(messages: list, where: str, allow_weight: bool) -> list[str]:
    problems: list[str] = []
    previous = None
    for i, message in enumerate(messages):
        at = f"{where}[{i}]"
        if not isinstance(message, dict):
            problems.append(f"{at} is not an object")
            continue
        role = message.get("role")
        problems += [f"{at}: unknown key {k!r}" for k in sorted(set(message) - _MESSAGE_KEYS)]
        if role not in _ROLES:
            problems.append(f"{at}: unknown role {role!r}")
            continue
        if "weight" in message:
            if not allow_weight:
                problems.append(f"{at}: 'weight' is not allowed here")
            elif role != "assistant":
                problems.append(f"{at}: 'weight' is only allowed on assistant messages")
            elif type(message["weight"]) is not int or message["weight"] not in (0, 1):
                problems.append(f"{at}: 'weight' must be 0 or 1")
        content = message.get("content")
        if role in ("system", "developer", "user") and (not isinstance(content, str) or not content.strip()):
            problems.append(f"{at}: content must be non-empty text")
        if role == "assistant" and not (isinstance(content, str) and content.strip()) and not message.get("tool_calls"):
            problems.append(f"{at}: an assistant message needs text content or tool calls")
        if role in ("system", "developer"):
            if i != 0:
                problems.append(f"{at}: a {role} message may only come first")
            continue
        if role == "tool":
            if previous != "assistant":
                problems.append(f"{at}: a tool message must follow an assistant message with tool calls")
            continue
        if role == previous:
            problems.append(f"{at}: user and assistant messages must alternate")
        previous = role
    return problems
