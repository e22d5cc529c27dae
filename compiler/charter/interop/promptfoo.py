"""`charter export promptfoo`: the eval cases of a spec as a promptfoo config.

One chat prompt per deployment context carries the compiled system prompt; each test names the
prompt of its case's context (``tests[].prompts``), so a case never runs under the wrong prompt.
A case becomes one promptfoo test per model reply: a reply is due after every user turn that is
not followed by an assistant turn, as ``charter run`` plays cases. The tests of one case share a
``conversationId`` and the prompt renders earlier replies from promptfoo's ``_conversation``
variable, which is promptfoo's own multi-turn form; every reply is graded, like ``charter run``
does, with an ``llm-rubric`` assertion carrying the case's rubric (with the reference reply and held
answer the runner's judge also sees) and its deterministic checks.

Check regexes are written for Python and promptfoo compiles them as JavaScript ``RegExp`` with no
flags, so they are translated here: case-insensitivity becomes letter classes, ``(?m)`` and
``(?s)`` become lookarounds and ``[\\s\\S]``. A pattern that uses Python-only syntax beyond that
is left out and reported, never exported with a different meaning.

The self-talk case needs two instances of the character talking to each other, which a promptfoo
test cannot express; it is reported as not exported.

promptfoo refuses a config without providers, so the config always has a ``providers`` block:
the models given (Charter model ids are written in promptfoo's explicit form, so any model name
works, not only the ones promptfoo knows), or DEFAULT_PROVIDER. ``promptfoo eval -r`` still
replaces them on the command line.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Iterable

import yaml

from ..diagnostics import CharterError
from ..spec.ir import Spec
from ..targets.evals import compile_cases
from ..targets.prompt import deployment_context, render_prompt, to_generic

# Contexts are ids, which cannot start with "_", so this names the context-free prompt safely.
CONTEXT_FREE = "_default"
# The models under test when none is given: small and cheap, so a first `promptfoo eval` costs little.
DEFAULT_PROVIDER = "openai:gpt-4.1-mini"
# promptfoo's own modes after "openai:" / "anthropic:"; an id that names one is promptfoo's already.
_OPENAI_MODES = ("chat", "responses", "completion", "assistant", "realtime")
_ANTHROPIC_MODES = ("messages", "completion", "claude-agent-sdk", "claude-code")
RUBRIC_METRIC = "rubric"
CHECK_METRIC = "checks"
HOLD_METRIC = "held-answer"


@dataclass(frozen=True)
class Skipped:
    """A case, or one check of it, that an export could not carry, and why."""

    case: str
    reason: str


@dataclass
class PromptfooExport:
    text: str
    cases: int = 0
    tests: int = 0
    prompts: int = 0
    skipped: list[Skipped] = field(default_factory=list)


class UnsupportedPattern(CharterError, ValueError):
    """A Python regex that has no faithful JavaScript translation here."""

    exit_code = 1


class ProviderIdError(CharterError, ValueError):
    """A model that cannot be written as a promptfoo provider; one line saying what to give instead."""


def promptfoo_provider(model: str, *, base_url: str | None = None) -> str | dict:
    """``model`` as promptfoo names it.

    Charter ids become promptfoo's explicit forms (``openai:gpt-4.1-mini`` -> ``openai:chat:gpt-4.1-mini``,
    ``anthropic:claude-sonnet-4-5`` -> ``anthropic:messages:claude-sonnet-4-5``), which work for any
    model name; promptfoo's shorthand works only for names it knows. ``openai-compatible:NAME`` is
    promptfoo's OpenAI chat provider pointed at ``base_url``. Anything else (``openai:chat:...``,
    ``ollama:chat:llama3``, ``echo``) is already a promptfoo id and is written as given.
    """
    model = model.strip()
    if not model or any(c.isspace() for c in model):
        raise ProviderIdError(f"invalid provider {model!r}: expected an id such as {DEFAULT_PROVIDER}")
    kind, _, name = model.partition(":")
    mode = name.split(":", 1)[0]
    if kind == "openai" and name and mode not in _OPENAI_MODES:
        return f"openai:chat:{name}"
    if kind == "anthropic" and name and mode not in _ANTHROPIC_MODES:
        return f"anthropic:messages:{name}"
    if kind == "openai-compatible":
        if not name:
            raise ProviderIdError(f"invalid provider {model!r}: expected openai-compatible:MODEL")
        if not base_url:
            raise ProviderIdError(f"{model} needs its server's address: give --base-url URL")
        return {"id": f"openai:chat:{name}", "label": model, "config": {"apiBaseUrl": base_url}}
    return model


# --- case selection and conversation steps, shared with the Inspect export ---------------------

def select_cases(spec: Spec, contexts: Iterable[str] | None = None) -> tuple[list[dict], list[Skipped]]:
    """The spec's eval cases to export, and the ones left out with the reason.

    ``contexts`` keeps the context-free cases and the cases of these contexts only; an unknown
    context is a SpecError. Self-talk cases are always left out (they need two instances).
    """
    wanted = None
    if contexts is not None:
        wanted = set(contexts)
        for context in sorted(wanted):
            deployment_context(spec, context)
    kept, skipped = [], []
    for case in compile_cases(spec):
        if wanted is not None and case["context"] is not None and case["context"] not in wanted:
            continue
        if case["kind"] == "self-talk":
            skipped.append(Skipped(case["id"], "self-talk needs two instances of the character; run it with `charter run`"))
            continue
        kept.append(case)
    return kept, skipped


def reply_points(turns: list[dict]) -> list[int]:
    """Indices of the user turns the model answers: those not followed by an assistant turn."""
    return [i for i, turn in enumerate(turns)
            if turn["role"] == "user" and (i + 1 == len(turns) or turns[i + 1]["role"] == "user")]


def grading_text(case: dict) -> str:
    """The case's rubric with what `charter run` shows its judge beside it: the authored reference
    reply (rubrics of authored examples refer to it) and, for sycophancy scripts, the held answer."""
    parts = [case["rubric"]]
    if case.get("reference"):
        parts.append(f"A reference reply the spec's author wrote (one good answer, not the only one):\n{case['reference']}")
    hold = (case.get("drift") or {}).get("hold")
    if hold:
        parts.append(f"The correct answer, which must be kept: {hold['answer']}")
    return "\n\n".join(parts)


def context_name(context: str | None) -> str:
    return context or CONTEXT_FREE


# --- the config --------------------------------------------------------------------------------

def export_promptfoo(spec: Spec, contexts: Iterable[str] | None = None, *, providers: Iterable[str] = (),
                     judge: str | None = None, base_url: str | None = None) -> PromptfooExport:
    """The promptfoo config for ``spec`` as YAML text, with what was left out.

    ``providers`` are the models under test (Charter model ids or promptfoo provider ids; default
    DEFAULT_PROVIDER); ``judge`` grades the llm-rubric assertions (``defaultTest.options.provider``;
    default: promptfoo's own grader). ``base_url`` is the server of ``openai-compatible:`` models.
    """
    chosen = [promptfoo_provider(p, base_url=base_url) for p in providers] or [promptfoo_provider(DEFAULT_PROVIDER)]
    grader = promptfoo_provider(judge, base_url=base_url) if judge else None
    cases, skipped = select_cases(spec, contexts)
    used = sorted({context_name(c["context"]) for c in cases})
    prompts = [_prompt(spec, name) for name in used]
    tests: list[dict] = []
    for case in cases:
        assertions, problems = _assertions(case)
        skipped.extend(Skipped(case["id"], p) for p in problems)
        steps = reply_points(case["turns"])
        for n, point in enumerate(steps):
            tests.append(_test(spec, case, steps, n, point, assertions))
    config: dict = {
        "description": f"Charter eval cases for {spec.name} ({spec.id}{' ' + spec.version if spec.version else ''})",
        "providers": chosen,
    }
    if grader is not None:
        config["defaultTest"] = {"options": {"provider": grader}}
    config.update(prompts=prompts, tests=tests)
    text = _header(spec, len(cases), len(tests), default=not list(providers)) + _dump(config)
    return PromptfooExport(text=text, cases=len(cases), tests=len(tests), prompts=len(prompts), skipped=skipped)


def _header(spec: Spec, cases: int, tests: int, *, default: bool) -> str:
    chosen = (f"Models under test: `providers` below, the default {promptfoo_provider(DEFAULT_PROVIDER)}; choose them\n"
              "# with `charter export promptfoo -m MODEL` (repeatable), or replace them for one run" if default
              else "Models under test: `providers` below, from `charter export promptfoo -m`; replace them for one run")
    return (
        f"# promptfoo config generated by `charter export promptfoo` from spec {spec.id}"
        f"{' ' + spec.version if spec.version else ''} (sha256 {spec.digest[:12]}).\n"
        f"# {cases} eval cases as {tests} tests: one test per model reply; the tests of a multi-turn case\n"
        "# share metadata.conversationId and replay earlier replies from promptfoo's _conversation variable.\n"
        "# Regenerate it rather than editing it.\n"
        "#\n"
        f"# {chosen}:\n"
        "#   promptfoo eval -c THIS_FILE -r openai:chat:gpt-4.1-mini --grader openai:chat:gpt-4.1\n"
        "# The llm-rubric assertions are graded by promptfoo's default grader unless\n"
        "# defaultTest.options.provider names one (`charter export promptfoo --judge MODEL`).\n"
    )


def _prompt(spec: Spec, name: str) -> dict:
    system = to_generic(render_prompt(spec, None if name == CONTEXT_FREE else name))
    return {"label": _prompt_label(spec, name), "raw": _chat_template(system)}


def _prompt_label(spec: Spec, name: str) -> str:
    return f"{spec.id}@{name}"


def _chat_template(system: str) -> str:
    """A Nunjucks template that renders to promptfoo's JSON chat format.

    The system prompt is a JSON string literal with every brace escaped (``\\u007b``), so no
    text of the spec can be read as Nunjucks syntax. ``turns`` holds the case's messages up to
    the user turn this test answers; an item ``{reply: n}`` stands for the model's n-th reply in
    this conversation, taken from ``_conversation``.
    """
    literal = json.dumps(system, ensure_ascii=False).replace("{", "\\u007b").replace("}", "\\u007d")
    return (
        '[{"role": "system", "content": ' + literal + "}\n"
        "{%- for turn in turns %},\n"
        "{%- if turn.reply is defined %}"
        '{"role": "assistant", "content": {{ _conversation[turn.reply].output | dump }}}'
        "{%- else %}"
        '{"role": {{ turn.role | dump }}, "content": {{ turn.content | dump }}}'
        "{%- endif %}"
        "{%- endfor %}]\n"
    )


def _test(spec: Spec, case: dict, steps: list[int], n: int, point: int, assertions: list[dict]) -> dict:
    turns: list[dict] = []
    for i, turn in enumerate(case["turns"][: point + 1]):
        turns.append({"role": turn["role"], "content": turn["content"]})
        if i in steps[:n]:
            turns.append({"reply": steps.index(i)})
    label = f"reply {n + 1} of {len(steps)}" if len(steps) > 1 else ""
    metadata = {
        "conversationId": case["id"],
        "case": case["id"],
        "kind": case["kind"],
        "reply": n + 1,
        "replies": len(steps),
        # Lists and strings only: `promptfoo eval --filter-metadata refs=rule:x` matches list items,
        # and calls toString() on any other value, which a null would break.
        "context": case["context"] or "",
        "targets": list(case["targets"]),
        "refs": list(case["refs"]),
        "loc": case["loc"] or "",
    }
    step_assertions = list(assertions)
    hold = (case.get("drift") or {}).get("hold")
    if hold and point >= hold["turn"]:
        step_assertions.append({"type": "regex", "value": _literal(_js_pattern(hold["pattern"], True)),
                                "metric": HOLD_METRIC})
    return {
        "description": f"{case['id']}" + (f" ({label})" if label else ""),
        "prompts": [_prompt_label(spec, context_name(case["context"]))],
        "vars": {"turns": turns},
        "assert": step_assertions,
        "metadata": metadata,
    }


def _assertions(case: dict) -> tuple[list[dict], list[str]]:
    assertions = [{"type": "llm-rubric", "value": _literal(grading_text(case)), "metric": RUBRIC_METRIC}]
    problems = []
    for check in case["checks"]:
        kind, value, ignore_case = check["type"], check["value"], check["ignore_case"]
        if kind in ("contains", "not-contains"):
            assertion_type = ("not-" if kind == "not-contains" else "") + ("icontains" if ignore_case else "contains")
            assertions.append({"type": assertion_type, "value": _literal(value), "metric": CHECK_METRIC})
            continue
        try:
            pattern = _js_pattern(value, ignore_case)
        except UnsupportedPattern as err:
            problems.append(f"check {kind} {value!r} not exported: {err}")
            continue
        assertions.append({"type": kind, "value": _literal(pattern), "metric": CHECK_METRIC})
    return assertions, problems


def _literal(text: str) -> str:
    """An assertion value that promptfoo's Nunjucks pass leaves as it is (vars are not rendered)."""
    if "{{" in text or "{%" in text or "{#" in text:
        # A raw block cannot contain its own end tag, so that tag is closed, printed and reopened.
        return "{% raw %}" + text.replace("{% endraw %}", "{% endraw %}{{ '{% endraw %}' }}{% raw %}") + "{% endraw %}"
    return text


# --- Python regex -> JavaScript RegExp without flags -------------------------------------------

_INLINE_FLAGS = re.compile(r"^\(\?([a-zA-Z]+)\)")
_SUPPORTED_FLAGS = set("ims")


def _js_pattern(pattern: str, ignore_case: bool) -> str:
    """``pattern`` (Python syntax) as a JavaScript pattern with the same meaning and no flags.

    Raises UnsupportedPattern for syntax this translation does not carry over faithfully.
    """
    flags = set()
    match = _INLINE_FLAGS.match(pattern)
    if match:
        flags = set(match.group(1))
        pattern = pattern[match.end():]
        if flags - _SUPPORTED_FLAGS:
            raise UnsupportedPattern(f"inline flags {''.join(sorted(flags - _SUPPORTED_FLAGS))} have no JavaScript equivalent")
    if ignore_case:
        flags.add("i")
    try:
        re.compile(pattern)
    except re.error as err:
        raise UnsupportedPattern(f"not a valid regular expression: {err}") from None
    out: list[str] = []
    i, n, in_class = 0, len(pattern), False
    while i < n:
        char = pattern[i]
        if char == "\\":
            escape, i = _escape(pattern, i)
            out.append(escape)
            continue
        if in_class:
            if char == "]" and not _class_start(pattern, i):
                in_class = False
                out.append(char)
            elif "i" in flags and char.isalpha() and i + 2 < n and pattern[i + 1] == "-" and pattern[i + 2].isalpha():
                low, high = char, pattern[i + 2]
                out.append(f"{low}-{high}")
                if low.swapcase() != low and high.swapcase() != high and low.islower() == high.islower():
                    out.append(f"{low.swapcase()}-{high.swapcase()}")
                i += 3
                continue
            elif "i" in flags and char.isalpha() and char.swapcase() != char and len(char.swapcase()) == 1:
                out.append(char + char.swapcase())
            else:
                out.append(char)
            i += 1
            continue
        if char == "[":
            in_class = True
            out.append(char)
            i += 1
            if i < n and pattern[i] == "^":
                out.append("^")
                i += 1
            if i < n and pattern[i] == "]":  # a leading "]" is a literal in Python
                out.append("\\]")
                i += 1
            continue
        if char == "(" and pattern.startswith("(?", i):
            group, i = _group(pattern, i)
            out.append(group)
            continue
        if char == "." and "s" in flags:
            out.append("[\\s\\S]")
        elif char == "^" and "m" in flags:
            out.append("(?<![^\\n])")
        elif char == "$" and "m" in flags:
            out.append("(?![^\\n])")
        elif char == "$":
            out.append("(?=\\n?(?![\\s\\S]))")  # Python's $ also matches before a final newline
        elif "i" in flags and char.isalpha() and char.swapcase() != char and len(char.swapcase()) == 1:
            out.append(f"[{char}{char.swapcase()}]")
        else:
            out.append(char)
        i += 1
    return "".join(out)


def _class_start(pattern: str, i: int) -> bool:
    return pattern[i - 1] == "[" or pattern[i - 2: i] == "[^"


_SIMPLE_ESCAPES = set("bBdDsSwWnrtfv0123456789\\.^$|?*+()[]{}/-'\"&~#%,:;<=>@`! ")


def _escape(pattern: str, i: int) -> tuple[str, int]:
    """The escape starting at ``pattern[i]`` (a backslash) in JavaScript, and the index after it."""
    if i + 1 >= len(pattern):
        raise UnsupportedPattern("trailing backslash")
    char = pattern[i + 1]
    if char == "A":
        return "(?<![\\s\\S])", i + 2
    if char == "Z":
        return "(?![\\s\\S])", i + 2
    if char == "x":
        return pattern[i: i + 4], i + 4
    if char == "u":
        return pattern[i: i + 6], i + 6
    if char in _SIMPLE_ESCAPES:
        if char in "0123456789" and char != "0":
            raise UnsupportedPattern("numbered backreferences are not translated")
        return pattern[i: i + 2], i + 2
    if char.isalpha():
        raise UnsupportedPattern(f"escape \\{char} has no JavaScript equivalent here")
    return pattern[i: i + 2], i + 2


def _group(pattern: str, i: int) -> tuple[str, int]:
    """The group opener ``(?...`` at ``pattern[i]`` in JavaScript, and the index after it."""
    for opener in ("(?:", "(?=", "(?!", "(?<=", "(?<!"):
        if pattern.startswith(opener, i):
            return opener, i + len(opener)
    named = re.match(r"\(\?P<([A-Za-z_][A-Za-z0-9_]*)>", pattern[i:])
    if named:
        return f"(?<{named.group(1)}>", i + named.end()
    backref = re.match(r"\(\?P=([A-Za-z_][A-Za-z0-9_]*)\)", pattern[i:])
    if backref:
        raise UnsupportedPattern("named backreferences are not translated")
    raise UnsupportedPattern(f"group {pattern[i:i + 4]!r}... has no JavaScript equivalent here")


# --- YAML ---------------------------------------------------------------------------------------

class _Dumper(yaml.SafeDumper):
    pass


def _represent_str(dumper: yaml.SafeDumper, value: str):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def _dump(config: dict) -> str:
    return yaml.dump(config, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100_000,
                     default_flow_style=False)


def write_promptfoo(spec: Spec, path, contexts: Iterable[str] | None = None, **options) -> PromptfooExport:
    """Export ``spec`` (``options`` as for export_promptfoo) and write the config to ``path`` atomically."""
    from ..io import write_text_atomic

    export = export_promptfoo(spec, contexts, **options)
    write_text_atomic(path, export.text)
    return export


__all__ = ["export_promptfoo", "write_promptfoo", "PromptfooExport", "Skipped", "select_cases", "reply_points",
           "context_name", "grading_text", "promptfoo_provider", "ProviderIdError", "CONTEXT_FREE", "DEFAULT_PROVIDER"]
