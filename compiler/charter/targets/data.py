"""Training data from authored examples: SFT rows from every good reply, preference pairs from
every good/bad pair, written in the formats fine-tuning services accept as they are.

Provenance (row id, clauses, context, spec digest, source position) goes into a line-aligned
sidecar ``<file>.meta.jsonl``: upload endpoints reject unknown keys, so training rows carry
nothing but the conversation.

What a row's system message holds is the ``system_prompt`` mode (``charter build
--system-prompt``):

- ``context`` (the default): rows whose example is set in a deployment context (its own
  ``context:``, or a ``when:``-bound clause it targets) start with one compact line describing
  that context; the other rows have no system message. The character itself is left out of the
  prompt, because the point of training is to put it into the weights; but the context is a
  fact about the conversation the model cannot guess (is the user a child?), and a behaviour
  that depends on it must be trained with it, or the model learns it everywhere.
- ``full``: every row starts with the compiled system prompt for its context (the context-free
  prompt for rows bound to none), as deployed. A prompt that spells the behaviour out also
  explains it away, so less of it goes into the weights (the inoculation effect); use it to
  train a model that will always run with that prompt.
- ``none``: no system message at all; context-bound rows then lose their context (warned).
"""

from __future__ import annotations

from itertools import chain
from operator import attrgetter
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Literal

from msgspec import Struct

from .. import jsonenc
from ..diagnostics import SpecError, Diagnostic
from ..io import write_bytes_atomic
from ..length_ratio import length_ratio
from ..spec.ir import Example, Spec, Turn
from .evals import cited_refs, example_context, source_loc
from .prompt import render_prompt
from .split import training_examples as split_training_examples

FORMATS = ("openai", "trl", "anthropic")
DEFAULT_FORMATS = ("openai", "trl")
OPENAI_MIN_SFT_ROWS = 10
SYSTEM_PROMPT_MODES = ("none", "context", "full")
DEFAULT_SYSTEM_PROMPT = "context"
CONTEXT_LINE_PREFIX = "Where you are deployed: "  # the heading the compiled prompt gives the context


class TrainingRow(Struct, frozen=True):
    """One training example, format-neutral. ``prompt`` ends with the user turn answered by
    ``chosen``; ``rejected`` is set on preference rows only.

    ``context`` is the deployment context the example is set in (None: none). ``system`` is
    this row's system message and ``system_kind`` what it holds; rows built without them (None
    and "") take the set's ``system_prompt`` and ``system_kind``.
    """

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
    context: str | None = None
    system: str | None = None
    system_kind: str = ""
    # Chosen over rejected words (charter.length_ratio) of a preference row, worked out once where
    # the row is made: the meta sidecar, the dataset card and the manifest all report it. None:
    # not given (computed when asked).
    length_ratio: float | None = None

    def chosen_length_ratio(self) -> float:
        """Chosen over rejected words, as charter.length_ratio.length_ratio defines it."""
        if self.length_ratio is not None:
            return self.length_ratio
        return length_ratio(self.chosen, self.rejected or "")


class TrainingSet(Struct, frozen=True):
    spec_id: str
    spec_digest: str
    system_prompt: str | None  # one system message for rows that carry none of their own
    system_kind: str  # the mode: none | context | full | given, with "+inoculation" when inoculated
    sft: tuple[TrainingRow, ...]
    dpo: tuple[TrainingRow, ...]
    diagnostics: tuple[Diagnostic, ...]

    @property
    def variant(self) -> str:
        """``inoculated`` for the train-time variant, which goes to differently named files."""
        return "inoculated" if "inoculation" in self.system_kind else ""

    def system_for(self, row: TrainingRow) -> str | None:
        return row.system if row.system is not None or row.system_kind else self.system_prompt

    def meta(self, row: TrainingRow) -> dict:
        data = {"id": row.id, "kind": row.kind, "spec": self.spec_id, "spec_digest": self.spec_digest,
                "refs": list(row.refs), "source": row.source, "example": row.example, "loc": row.loc,
                "context": row.context, "system_prompt": row.system_kind or self.system_kind}
        if row.kind == "dpo":
            data["rejected_why"] = row.rejected_why
            data["length_ratio"] = round(row.chosen_length_ratio(), 3)
        return data

    def length_ratios(self) -> list[float]:
        """Chosen over rejected words for every preference pair, in row order."""
        return [r.chosen_length_ratio() for r in self.dpo]


class SystemPrompts:
    """The system message a training row starts with under one ``system_prompt`` mode, by the
    context its example is set in; compiled prompts are rendered once per context.

    ``inoculation`` (a train-time-only prompt) goes after whatever the mode gives, or alone.
    ``charter generate data`` places its rows with the same object, so offline and generated
    rows in one context start the same way.
    """

    def __init__(self, spec: Spec, mode: str = DEFAULT_SYSTEM_PROMPT, inoculation: str | None = None) -> None:
        if mode not in SYSTEM_PROMPT_MODES:
            raise ValueError(f"unknown system prompt mode {mode!r}; choose from {', '.join(SYSTEM_PROMPT_MODES)}")
        self.spec = spec
        self.mode = mode
        self.inoculation = inoculation.strip() if inoculation else None
        self._cache: dict[str | None, tuple[str | None, str]] = {}

    @property
    def kind(self) -> str:
        """The set-wide kind: the mode, with ``+inoculation`` when an inoculation prompt is added."""
        return f"{self.mode}+inoculation" if self.inoculation else self.mode

    def for_context(self, context: str | None) -> tuple[str | None, str]:
        """(system text or None, kind) for a row set in ``context`` (None: no context)."""
        if context not in self._cache:
            base, kind = None, "none"
            if self.mode == "full":
                base, kind = render_prompt(self.spec, context).text(), "full"
            elif self.mode == "context" and context is not None:
                base, kind = context_line(self.spec, context), "context"
            if self.inoculation:
                base = f"{base.rstrip()}\n\n{self.inoculation}" if base else self.inoculation
                kind = "inoculation" if kind == "none" else f"{kind}+inoculation"
            self._cache[context] = (base, kind)
        return self._cache[context]


def context_line(spec: Spec, context: str) -> str:
    """One line naming the deployment context, worded as the compiled prompt's context section."""
    found = spec.context(context)
    if found is None:
        raise SpecError([Diagnostic(spec.loc, "unknown-context", f"{spec.id} has no context {context!r}")])
    return CONTEXT_LINE_PREFIX + " ".join(found.description.split())


def training_examples(spec: Spec) -> Iterator[tuple[Example, Literal["tension", "example"], str | None]]:
    """The authored examples that become training rows, with their source and context: tension
    examples first, then the spec's own. The one place that decides what is trained on: only
    train-split examples (eval-split ones are held out for evals and judge calibration)."""
    train = {id(example) for example in split_training_examples(spec)}
    for tension in spec.tensions:
        for example in tension.examples:
            if id(example) in train:
                yield example, "tension", example_context(spec, example, tension)
    for example in spec.examples:
        if id(example) in train:
            yield example, "example", example_context(spec, example)


def training_rows(spec: Spec, *, system_prompt: str = DEFAULT_SYSTEM_PROMPT, inoculate: bool = False) -> TrainingSet:
    """SFT rows from every good reply and DPO rows from every good/bad pair, tension examples first.

    ``system_prompt`` is the mode (none | context | full, see the module doc). ``inoculate``
    adds the spec's ``training.inoculation`` after it: a train-time prompt only, never used at
    inference.
    """
    inoculation = None
    if inoculate:
        inoculation = (spec.training.inoculation or "").strip()
        if not inoculation:
            raise SpecError([Diagnostic(spec.loc, "no-inoculation",
                                           f"spec {spec.id!r} sets no training.inoculation, so there is no "
                                           "inoculated variant to write")])
    systems = SystemPrompts(spec, system_prompt, inoculation)
    sft: list[TrainingRow] = []
    dpo: list[TrainingRow] = []
    for example, source, context in training_examples(spec):
        system, kind = systems.for_context(context)
        common = dict(prompt=example.conversation, chosen=example.good, refs=tuple(cited_refs(spec, example.targets)),
                      source=source, example=example.id, loc=source_loc(spec, example.loc), context=context,
                      system=system, system_kind=kind)
        sft.append(TrainingRow(id=f"{spec.id}/sft/{source}/{example.id}", kind="sft", rejected=None,
                               rejected_why="", **common))
        for n, bad in enumerate(example.bad, start=1):
            dpo.append(TrainingRow(id=f"{spec.id}/dpo/{source}/{example.id}/{n}", kind="dpo", rejected=bad.text,
                                   rejected_why=bad.why, length_ratio=length_ratio(example.good, bad.text), **common))
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
    lost = [r for r in sft if r.context is not None and "context" not in r.system_kind and "full" not in r.system_kind]
    if lost:
        contexts = ", ".join(sorted({r.context for r in lost if r.context}))
        diagnostics.append(Diagnostic(
            spec.loc, "context-left-out",
            f"{len(lost)} SFT row{'s' if len(lost) != 1 else ''} (and their preference pairs) are set in a context "
            f"({contexts}) that --system-prompt {system_prompt} leaves out; a model trained on them learns the "
            "behaviour everywhere", severity="warning"))
    return TrainingSet(spec.id, spec.digest, None, systems.kind, tuple(sft), tuple(dpo), tuple(diagnostics))


# --- formats ---------------------------------------------------------------------------------

def training_files(training_set: TrainingSet, formats: Iterable[str] = DEFAULT_FORMATS) -> dict[str, tuple[list[dict], list[dict]]]:
    """File name -> (training lines, meta lines), line-aligned, for every non-empty file.

    Anthropic/Bedrock lines have no per-message weight, so every assistant turn in them is a
    target: rows whose authored history holds an assistant turn (an opening line, or the slip
    the good reply corrects) are left out of that format only, their meta lines with them.
    """
    return {name: ([render(r, training_set.system_for(r)) for r in rows], [training_set.meta(r) for r in rows])
            for name, (render, rows) in _training_file_rows(training_set, formats).items()}


def _training_file_rows(training_set: TrainingSet, formats: Iterable[str]) -> dict[str, tuple[Callable, list[TrainingRow]]]:
    """File name -> (the row renderer of its format, its rows), as ``training_files`` describes."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown training data format {unknown[0]!r}; choose from {', '.join(FORMATS)}")
    infix = f".{training_set.variant}" if training_set.variant else ""
    files: dict[str, tuple[Callable, list[TrainingRow]]] = {}
    for fmt in FORMATS:
        if fmt not in formats:
            continue
        sft_rows = [r for r in training_set.sft if fmt != "anthropic" or all(t.role == "user" for t in r.prompt)]
        outputs = [("sft", sft_rows, _SFT[fmt])]
        if fmt in _DPO:
            outputs.append(("dpo", list(training_set.dpo), _DPO[fmt]))
        for kind, rows, render in outputs:
            if rows:
                files[f"{kind}{infix}.{fmt}.jsonl"] = (render, rows)
    return files


def render_training_data(training_set: TrainingSet, formats: Iterable[str] = DEFAULT_FORMATS) -> dict[str, bytes]:
    """File name -> bytes for every training file and its ``.meta.jsonl`` sidecar, in memory."""
    return dict(iter_training_data(training_set, formats))


def iter_training_data(training_set: TrainingSet, formats: Iterable[str] = DEFAULT_FORMATS) -> Iterator[tuple[str, bytes]]:
    """(file name, bytes) for every training file and its ``.meta.jsonl`` sidecar, in name order, one
    file at a time: a build writes each and lets it go (a large spec's files together were most of
    its peak memory)."""
    def meta_line(row: TrainingRow) -> bytes:
        return jsonenc.line_bytes(training_set.meta(row)) + b"\n"

    def lines(render: Callable, rows: list[TrainingRow]) -> bytes:
        system_for = training_set.system_for
        records = (render(r, system_for(r)) for r in rows)  # one at a time: each is encoded and let go
        if all(_text_only(r, system_for(r)) for r in rows):
            return jsonenc.text_record_lines(records)
        return "".join([jsonenc.line(record) + "\n" for record in records]).encode("utf-8")

    # (the rows' identities, their sidecar): formats that keep the same rows (openai and trl) write
    # the same sidecar, encoded once; files come in name order, so the two are neighbours.
    last_meta: list = [None, b""]

    def meta(rows: list[TrainingRow]) -> bytes:
        key = tuple(map(id, rows))
        if last_meta[0] != key:
            if _meta_text_only(training_set, rows):
                content = jsonenc.text_record_lines(map(training_set.meta, rows))
            else:
                content = b"".join(map(meta_line, rows))
            last_meta[:] = [key, content]
        return last_meta[1]

    producers: dict[str, Callable[[], bytes]] = {}
    for name, (render, rows) in _training_file_rows(training_set, tuple(formats)).items():  # checks the formats now
        producers[name] = lambda render=render, rows=rows: lines(render, rows)
        producers[name[: -len(".jsonl")] + ".meta.jsonl"] = lambda rows=rows: meta(rows)
    return ((name, producers.pop(name)()) for name in sorted(producers))


def _text_only(row: TrainingRow, system: str | None) -> bool:
    """Whether every text a row's training line holds is an exact ``str``: then the line (the
    renderers below add only role names and the integer weight 0) is a record of text alone, which
    `jsonenc.text_record_lines` writes ten times faster than json, to the same bytes."""
    return (type(row.chosen) is str and (row.rejected is None or type(row.rejected) is str)
            and (system is None or type(system) is str)
            and all(type(turn.role) is str and type(turn.content) is str for turn in row.prompt))


_META_TEXTS = attrgetter("id", "kind", "source", "example", "rejected_why", "loc", "context", "system_kind")
_TEXT_OR_NONE = frozenset([str, type(None)])


def _meta_text_only(training_set: TrainingSet, rows: list[TrainingRow]) -> bool:
    """Whether the meta records of ``rows`` (TrainingSet.meta) hold only exact ``str`` and None,
    besides a preference row's length ratio: then `jsonenc.text_record_lines` writes them with
    orjson, without the safety walk per record that `jsonenc.line_bytes` makes (a large spec has
    49,000 of them). The ratio is safe by construction: a ratio of word counts rounded to three
    places is finite and either 0.0 or at least 0.001, where orjson writes floats as json does.
    Checked for all rows at once, in C."""
    return (type(training_set.spec_id) is str and type(training_set.spec_digest) is str
            and type(training_set.system_kind) is str
            and _TEXT_OR_NONE.issuperset(map(type, chain.from_iterable(map(_META_TEXTS, rows))))
            and _TEXT_OR_NONE.issuperset(map(type, chain.from_iterable(map(attrgetter("refs"), rows)))))


def write_training_data(training_set: TrainingSet, out_dir: Path, formats: Iterable[str] = DEFAULT_FORMATS) -> list[Path]:
    """Write every training file and its ``.meta.jsonl`` sidecar atomically; return the paths written."""
    written = []
    for name, content in iter_training_data(training_set, formats):
        path = Path(out_dir) / name
        write_bytes_atomic(path, content)
        written.append(path)
    return written


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


# Every renderer builds its record from the row's texts (checked by _text_only), role names and
# the integer weight 0, nothing else: a float or any other value here would need jsonenc.line
# (tests/targets/test_data.py checks every renderer's records).
# TRL's conversational prompt-completion form: SFTTrainer computes the loss on the completion
# only, so earlier turns (the slip a good reply corrects) are context, never targets.
_SFT = {
    "openai": lambda r, s: {"messages": _messages(r.prompt, s, weight_history=True) + [_assistant(r.chosen)]},
    "trl": lambda r, s: {"prompt": _messages(r.prompt, s), "completion": [_assistant(r.chosen)]},
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


# TRL's documented conversational shapes (https://huggingface.co/docs/trl/dataset_formats).
_TRL_ROLES = {"system", "user", "assistant"}


def validate_trl_sft_line(obj: Any) -> list[str]:
    """Problems with a TRL conversational prompt-completion line (empty: none): keys exactly
    ``prompt`` (messages ending with the user turn answered; a system message only first) and
    ``completion`` (exactly one assistant message)."""
    if not isinstance(obj, dict):
        return ["line is not a JSON object"]
    problems = [f"unknown top-level key {k!r}" for k in sorted(set(obj) - {"prompt", "completion"})]
    problems += [f"missing top-level key {k!r}" for k in ("prompt", "completion") if k not in obj]
    problems += _trl_prompt(obj.get("prompt"))
    problems += _trl_reply(obj.get("completion"), "completion") if "completion" in obj else []
    return problems


def validate_trl_dpo_line(obj: Any) -> list[str]:
    """Problems with a TRL conversational preference line (empty: none): keys exactly ``prompt``,
    ``chosen`` and ``rejected``; each reply a list of exactly one assistant message."""
    if not isinstance(obj, dict):
        return ["line is not a JSON object"]
    problems = [f"unknown top-level key {k!r}" for k in sorted(set(obj) - {"prompt", "chosen", "rejected"})]
    problems += [f"missing top-level key {k!r}" for k in ("prompt", "chosen", "rejected") if k not in obj]
    problems += _trl_prompt(obj.get("prompt"))
    for key in ("chosen", "rejected"):
        if key in obj:
            problems += _trl_reply(obj[key], key)
    return problems


def _trl_prompt(prompt: Any) -> list[str]:
    if not isinstance(prompt, list) or not prompt:
        return ["'prompt' must be a non-empty list of messages"]
    problems = []
    for i, message in enumerate(prompt):
        if not isinstance(message, dict) or set(message) != {"role", "content"}:
            problems.append(f"prompt[{i}] must have exactly 'role' and 'content'")
        elif message["role"] not in _TRL_ROLES:
            problems.append(f"prompt[{i}]: unknown role {message['role']!r}")
        elif message["role"] == "system" and i != 0:
            problems.append(f"prompt[{i}]: a system message may only come first")
        elif not isinstance(message["content"], str) or not message["content"].strip():
            problems.append(f"prompt[{i}]: content must be non-empty text")
    if not problems and prompt[-1]["role"] != "user":
        problems.append("'prompt' must end with the user message the reply answers")
    return problems


def _trl_reply(reply: Any, key: str) -> list[str]:
    if not isinstance(reply, list) or len(reply) != 1:
        return [f"{key!r} must be a list of exactly one assistant message"]
    message = reply[0]
    if not isinstance(message, dict) or set(message) != {"role", "content"} or message["role"] != "assistant":
        return [f"{key}[0] must be an assistant message with exactly 'role' and 'content'"]
    if not isinstance(message["content"], str) or not message["content"].strip():
        return [f"{key}[0]: content must be non-empty text"]
    return []
