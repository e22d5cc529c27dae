"""Draft a Charter spec from a prose constitution with a model, section by section, traced to lines.

The document is cut into chunks along its headings (a section longer than the budget is cut at
paragraphs, a paragraph at lines), so that every line is in exactly one chunk. The model sees each
chunk with its line numbers and answers with JSON in ``DRAFT_SHAPE``: values in priority order,
traits, rules with a strength, tensions with a resolution and examples, authored examples, each
with the line range it came from, a verbatim quote from those lines and a confidence. An answer
that is not JSON or not in the shape gets one repair request; a second failure leaves the chunk's
sections unmapped.

Then every clause is checked against the source: its lines must lie inside its chunk and its quote
must be in those lines (a quote found elsewhere in the chunk moves the lines there; a quote found
nowhere in it drops the item, which the model may have invented). A kept clause whose own words are
mostly not in its paragraph is flagged (``unsupported:`` in its problems), and an example whose prompt
is neither in the document nor made of its excerpt's words is dropped; ``ProseImport.warnings()``
lists both. Ids are made
valid and unique; ``serves``, tension values, ``favors`` and example targets are checked against
the clauses that exist, and what does not resolve is dropped and reported. Every section of the
source either yields a clause or is listed as not mapped.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable

import jsonschema

from ..tokens import estimate_tokens
from ._specwrite import slug, unique_id

if TYPE_CHECKING:
    from ..providers.cache import ResponseCache
    from ..providers.calls import CallService

DEFAULT_MAX_CHUNK_TOKENS = 6000
DEFAULT_MAX_REPLY_TOKENS = 8000
REVIEW_SIZE = 10
KINDS = ("values", "traits", "rules", "tensions", "examples")
_REF_KIND = {"values": "value", "traits": "trait", "rules": "rule", "tensions": "tension"}

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_NUMBERED = "{number:>5}| {text}"

# --- chunking -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    """A heading and the lines up to the next heading (the preamble has no heading)."""

    first: int
    last: int
    path: str


@dataclass(frozen=True)
class Chunk:
    """Consecutive source lines ``first``..``last`` sent to the model in one request."""

    index: int
    first: int
    last: int
    sections: tuple[Section, ...]
    tokens: int

    def render(self, lines: list[str]) -> str:
        return "\n".join(_NUMBERED.format(number=n, text=lines[n - 1]) for n in range(self.first, self.last + 1))


def split_sections(lines: list[str]) -> list[Section]:
    """The document's sections in order, covering every line once; fenced code is never a heading."""
    starts: list[tuple[int, str]] = []
    stack: list[tuple[int, str]] = []
    fence = ""
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if fence:
            fence = "" if stripped.startswith(fence) else fence
            continue
        if stripped.startswith(("```", "~~~")):
            fence = stripped[:3]
            continue
        match = _HEADING.match(line)
        if match:
            level, title = len(match.group(1)), " ".join(match.group(2).split())
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, title))
            starts.append((number, " > ".join(t for _, t in stack)))
    if not starts or starts[0][0] != 1:
        starts.insert(0, (1, "(before the first heading)"))
    bounds = [n for n, _ in starts[1:]] + [len(lines) + 1]
    return [Section(first, end - 1, path) for (first, path), end in zip(starts, bounds) if end - 1 >= first]


def _line_tokens(lines: list[str]) -> list[int]:
    return [estimate_tokens(_NUMBERED.format(number=n, text=line) + "\n") for n, line in enumerate(lines, 1)]


def chunk_document(text: str, max_tokens: int = DEFAULT_MAX_CHUNK_TOKENS) -> list[Chunk]:
    """Chunks of whole sections where they fit in ``max_tokens`` (counted on the numbered lines the
    model sees); a longer section is cut at blank lines, a longer paragraph at lines. A single line
    over the budget becomes a chunk of its own, the only way a chunk can exceed it."""
    if max_tokens < 1:
        raise ValueError("max_tokens must be positive")
    lines = text.splitlines()
    if not lines:
        return []
    cost = _line_tokens(lines)

    def tokens(first: int, last: int) -> int:
        return sum(cost[first - 1:last])

    # Units: whole sections, or the paragraph-aligned pieces of one that is too long.
    units: list[tuple[int, int, Section, bool]] = []  # first, last, section, whole
    for section in split_sections(lines):
        if tokens(section.first, section.last) <= max_tokens:
            units.append((section.first, section.last, section, True))
            continue
        for first, last in _pieces(lines, cost, section.first, section.last, max_tokens):
            units.append((first, last, section, False))

    chunks: list[Chunk] = []
    current: list[tuple[int, int, Section, bool]] = []

    def close() -> None:
        if current:
            first, last = current[0][0], current[-1][1]
            sections = tuple(dict.fromkeys(u[2] for u in current))
            chunks.append(Chunk(len(chunks) + 1, first, last, sections, tokens(first, last)))
            current.clear()

    for unit in units:
        if current and (not unit[3] or not current[-1][3] or
                        tokens(current[0][0], unit[1]) > max_tokens):
            close()
        current.append(unit)
        if not unit[3]:
            close()
    close()
    return chunks


def _pieces(lines: list[str], cost: list[int], first: int, last: int, budget: int) -> list[tuple[int, int]]:
    """``first``..``last`` cut into consecutive ranges within ``budget``: at blank lines where possible."""
    paragraphs: list[tuple[int, int]] = []
    start = first
    for number in range(first, last + 1):
        if not lines[number - 1].strip() and number > start:
            paragraphs.append((start, number))  # the blank line closes its paragraph
            start = number + 1
    if start <= last:
        paragraphs.append((start, last))
    units: list[tuple[int, int]] = []
    for a, b in paragraphs:
        if sum(cost[a - 1:b]) <= budget:
            units.append((a, b))
        else:
            units.extend((n, n) for n in range(a, b + 1))
    pieces: list[tuple[int, int]] = []
    for a, b in units:
        if pieces and sum(cost[pieces[-1][0] - 1:b]) <= budget:
            pieces[-1] = (pieces[-1][0], b)
        else:
            pieces.append((a, b))
    return pieces


# --- the request and the answer's shape --------------------------------------------------------

_TEXT = {"type": "string", "pattern": r"\S"}
_LINES = {"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 2, "maxItems": 2}
_TRACE = {"lines": _LINES, "quote": _TEXT, "confidence": {"type": "number", "minimum": 0, "maximum": 1}}
_BAD = {"type": "object", "required": ["text", "why"], "properties": {"text": _TEXT, "why": _TEXT}}
_SAMPLE = {"prompt": _TEXT, "good": _TEXT, "bad": {"type": "array", "items": _BAD}}


def _clause(required: list[str], properties: dict) -> dict:
    return {"type": "object", "required": ["id", *required, "lines", "quote", "confidence"],
            "properties": {"id": _TEXT, **properties, **_TRACE}}


DRAFT_SHAPE: dict = {
    "type": "object",
    "properties": {
        "values": {"type": "array", "items": _clause(["description"], {"description": _TEXT})},
        "traits": {"type": "array", "items": _clause(["description"], {"description": _TEXT})},
        "rules": {"type": "array", "items": _clause(["text", "strength"], {
            "text": _TEXT, "strength": {"enum": ["hard", "default", "soft"]}, "rationale": {"type": "string"},
            "serves": {"type": "array", "items": {"type": "string"}}})},
        "tensions": {"type": "array", "items": _clause(["values", "situation", "resolution"], {
            "values": {"type": "array", "items": {"type": "string"}, "minItems": 2},
            "situation": _TEXT, "resolution": _TEXT, "favors": {"type": ["string", "null"]},
            "examples": {"type": "array", "items": {"type": "object", "required": ["prompt", "good"],
                                                    "properties": _SAMPLE}}})},
        "examples": {"type": "array", "items": _clause(["prompt", "good", "targets"], {
            **_SAMPLE, "targets": {"type": "array", "items": {"type": "string"}, "minItems": 1}})},
        "not_mapped": {"type": "array", "items": {"type": "object", "required": ["lines", "reason"],
                                                  "properties": {"lines": _LINES, "reason": _TEXT}}},
    },
    "required": ["values", "rules"],
}

_SHAPE_VALIDATOR = jsonschema.Draft202012Validator(DRAFT_SHAPE)

SYSTEM_PROMPT = """\
You convert a prose constitution for an AI character into a Charter spec, one excerpt at a time.
Charter specs hold:
- values: what the character cares about, in priority order (earlier wins), each described in the
  first person ("I ...");
- traits: dispositions that show in behaviour, in the first person;
- rules: concrete behaviours as instructions ("Always ...", "Never ...", "When ..., ..."), each
  with a strength: "hard" (never overridden by anyone), "default" (holds unless the operator
  changes it) or "soft" (style; yields to the user), and the ids of the values it serves;
- tensions: situations where two or more values pull apart, with the resolution, the value it
  favors (or null) and examples;
- examples: a user prompt with a good reply and bad replies (each with why), quoted from the text
  where the text gives them, and the clauses they illustrate as refs like "rule:ID" or "value:ID".
Draw only on what the excerpt states; do not invent. Every item carries "lines": [first, last],
the line numbers (shown at the left of each line) it comes from; "quote": a short verbatim
excerpt (at most 200 characters) copied exactly from those lines; and "confidence": 0 to 1, how
sure you are that the item says what the text means. Ids are lowercase words joined by "-".
List stretches of the excerpt that state nothing for the spec (history, asides) under
"not_mapped" with a reason. Answer with one JSON object and nothing else, in this shape:
{"values": [{"id", "description", "lines", "quote", "confidence"}],
 "traits": [{"id", "description", "lines", "quote", "confidence"}],
 "rules": [{"id", "text", "strength", "serves": [value ids], "rationale", "lines", "quote", "confidence"}],
 "tensions": [{"id", "values": [two or more value ids], "situation", "resolution", "favors",
               "examples": [{"prompt", "good", "bad": [{"text", "why"}]}], "lines", "quote", "confidence"}],
 "examples": [{"id", "prompt", "good", "bad": [{"text", "why"}], "targets": [refs], "lines", "quote",
               "confidence"}],
 "not_mapped": [{"lines", "reason"}]}
"""


def chunk_prompt(document: str, chunk: Chunk, lines: list[str], known_values: list[str]) -> str:
    """The user message for one chunk: where it is, the values found so far, the numbered lines."""
    sections = "; ".join(s.path for s in chunk.sections)
    known = ", ".join(known_values) if known_values else "none yet"
    return (f"Document: {document}\nSections: {sections}\nLines {chunk.first}-{chunk.last} "
            f"(excerpt {chunk.index}).\nValues found in earlier excerpts (reuse these ids in serves and "
            f"tensions rather than defining them again): {known}.\n\n{chunk.render(lines)}\n")


def parse_draft(text: str) -> dict:
    """The JSON object in a model's answer (code fences and text around it tolerated), checked
    against DRAFT_SHAPE. Raises ValueError with a one-line reason."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise ValueError("the answer holds no JSON object")
    try:
        data = json.loads(text[start:end + 1])
    except json.JSONDecodeError as err:
        raise ValueError(f"the answer is not valid JSON: {err.msg} at character {err.pos}") from err
    errors = sorted(_SHAPE_VALIDATOR.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        where = "/".join(str(p) for p in errors[0].absolute_path) or "top level"
        raise ValueError(f"the answer does not have the declared shape: at {where}: {errors[0].message[:200]}")
    return data


# --- results -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Drafted:
    """One clause the model drafted, after checking: its kind and final id, lines, confidence, problems."""

    kind: str
    id: str
    lines: tuple[int, int]
    chunk: int
    confidence: float
    quote: str
    problems: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        return f"{_REF_KIND.get(self.kind, 'example')}:{self.id}"


@dataclass(frozen=True)
class NotMapped:
    section: Section
    reason: str


@dataclass
class ProseImport:
    """The drafted spec tree, the chunks, every clause's trace, and the sections nothing came from."""

    spec: dict
    chunks: list[Chunk]
    drafted: list[Drafted]
    not_mapped: list[NotMapped]
    rejected: list[str] = field(default_factory=list)
    failed_chunks: list[str] = field(default_factory=list)
    # Items dropped because the source does not hold them: a quote not in it, an invented example.
    unsupported: list[str] = field(default_factory=list)

    def flagged(self) -> list[Drafted]:
        """Kept clauses whose own words are weakly supported by their source lines: check them first."""
        return [d for d in self.drafted if any(p.startswith("unsupported:") for p in d.problems)]

    def warnings(self) -> list[str]:
        """One line per item not supported by the source: dropped ones, then flagged ones."""
        out = [f"dropped {item}" for item in self.unsupported]
        out += [f"flagged {d.ref} (lines {d.lines[0]}-{d.lines[1]}): "
                + "; ".join(p for p in d.problems if p.startswith("unsupported:")) for d in self.flagged()]
        return out

    def counts(self) -> dict[str, int]:
        tally = {kind: sum(d.kind == kind for d in self.drafted) for kind in KINDS}
        mapped = len({s for c in self.chunks for s in c.sections}) - len(self.not_mapped)
        return {"chunks": len(self.chunks), **tally, "sections mapped": mapped,
                "sections not mapped": len(self.not_mapped), "items rejected": len(self.rejected),
                "items not in the source": len(self.unsupported)}

    def summary(self) -> str:
        return ", ".join(f"{n} {name}" for name, n in self.counts().items())

    def review(self, size: int = REVIEW_SIZE) -> list[Drafted]:
        """The clauses to check first: every one with a problem, then the ``size`` least confident."""
        flagged = [d for d in self.drafted if d.problems]
        rest = sorted((d for d in self.drafted if not d.problems), key=lambda d: (d.confidence, d.lines))
        return flagged + rest[:size]

    def review_text(self, document: str, size: int = REVIEW_SIZE) -> str:
        lines = [f"Review of the spec drafted from {document}: {self.summary()}.", ""]
        lines.append("Clauses the model was least sure of, and clauses with problems:")
        for d in self.review(size):
            problems = f" ({'; '.join(d.problems)})" if d.problems else ""
            lines.append(f"- {d.ref} lines {d.lines[0]}-{d.lines[1]}, confidence {d.confidence:.2f}{problems}")
        if self.not_mapped:
            lines += ["", "Sections not mapped:"]
            lines += [f"- {document}:{n.section.first}-{n.section.last} {n.section.path}: {n.reason}"
                      for n in self.not_mapped]
        if self.rejected or self.failed_chunks:
            lines += ["", "Rejected model output:"]
            lines += [f"- {item}" for item in [*self.failed_chunks, *self.rejected]]
        if self.unsupported:
            lines += ["", "Dropped as not supported by the source (the model may have invented them):"]
            lines += [f"- {item}" for item in self.unsupported]
        return "\n".join(lines) + "\n"


# --- drafting ------------------------------------------------------------------------------------

Ask = Callable[[list[dict]], Awaitable[str]]


def _normal(text: str) -> str:
    return " ".join(text.replace("’", "'").replace("“", '"').replace("”", '"').split()).lower()


# Support: the share of an item's content words (stems of four letters or more, common words aside)
# that occur in its source text. A rule rewritten as an instruction keeps most of its source's words;
# an invented one does not.
SUPPORT_MIN = 0.5  # below it a clause is flagged in the review and the command's warnings
EXAMPLE_SUPPORT_MIN = 0.6  # below it (and not quoted) an example prompt is dropped as invented
_STOP = frozenset(
    "about above after again against also always another because been before being below between both "
    "cannot could does doing down during each even every from further have having here into itself just "
    "like make more most much must never only other over same should some such than that their them then "
    "there these they this those through under until very want what when where which while will with "
    "would your yours yourself".split())
_CONTENT = re.compile(r"[a-z]{4,}")


def _stems(text: str) -> set[str]:
    """Crude stems: a plural's "s" dropped, then the first five letters ("users" and "user's" meet)."""
    words = (w[:-1] if w.endswith("s") and len(w) > 4 else w for w in _CONTENT.findall(_normal(text)))
    return {word[:5] for word in words if word not in _STOP}


def support(text: str, source: str) -> float:
    """The share of ``text``'s content-word stems found in ``source`` (1.0 for text without any)."""
    wanted = _stems(text)
    return len(wanted & _stems(source)) / len(wanted) if wanted else 1.0


def _clip(text: str, width: int = 80) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= width else flat[:width - 1] + "…"


def _find_quote(lines: list[str], quote: str, first: int, last: int) -> tuple[int, int] | None:
    """The shortest line range within first..last (the earliest of equal length) whose text contains
    ``quote``, whitespace and curly quotes aside."""
    needle = _normal(quote).strip(" .…")
    if not needle:
        return None
    normal = [_normal(lines[n - 1]) for n in range(first, last + 1)]
    if needle not in " ".join(normal):
        return None
    for width in range(1, len(normal) + 1):
        for a in range(0, len(normal) - width + 1):
            if needle in " ".join(normal[a:a + width]):
                return first + a, first + a + width - 1
    return None


class _Drafter:
    def __init__(self, text: str, document: str, model: str, spec_id: str, name: str) -> None:
        self.lines = text.splitlines()
        self.document = document
        self.model = model
        self.spec_id = spec_id
        self.name = name
        self.items: dict[str, list[dict]] = {kind: [] for kind in KINDS}
        self.drafted: list[Drafted] = []
        self.rejected: list[str] = []
        self.unsupported: list[str] = []
        self.normal_text = _normal(text)
        self.failed: list[str] = []
        self.model_not_mapped: list[tuple[int, int, str]] = []
        self.taken: dict[str, set[str]] = {kind: set() for kind in KINDS}
        self.renamed: dict[str, dict[str, str]] = {kind: {} for kind in KINDS}
        self.sections: list[Section] = split_sections(self.lines)

    def section_of(self, line: int) -> Section:
        return next(s for s in self.sections if s.first <= line <= s.last)

    async def draft_chunk(self, chunk: Chunk, ask: Ask) -> None:
        prompt = chunk_prompt(self.document, chunk, self.lines, [v["id"] for v in self.items["values"]])
        messages = [{"role": "user", "content": prompt}]
        answer = await ask(messages)
        try:
            draft = parse_draft(answer)
        except ValueError as first_error:
            messages += [{"role": "assistant", "content": answer or "(empty)"},
                         {"role": "user", "content": f"That answer cannot be used: {first_error}. Answer again "
                                                     "with only the JSON object in the declared shape."}]
            answer = await ask(messages)
            try:
                draft = parse_draft(answer)
            except ValueError as second_error:
                self.failed.append(f"chunk {chunk.index} (lines {chunk.first}-{chunk.last}): {second_error} "
                                   "(after one repair request)")
                return
        self.accept(chunk, draft)

    def trace(self, chunk: Chunk, kind: str, item: dict) -> tuple[tuple[int, int], list[str]] | None:
        """The checked line range of one item, or None (and a rejection) when it cannot be placed."""
        a, b = item["lines"]
        label = f"{kind[:-1]} {item.get('id')!r} from chunk {chunk.index}"
        problems: list[str] = []
        if a > b:
            a, b = b, a
        inside = chunk.first <= a and b <= chunk.last
        found = _find_quote(self.lines, item["quote"], a, b) if inside else None
        if found is None:
            elsewhere = _find_quote(self.lines, item["quote"], chunk.first, chunk.last)
            if elsewhere is not None:
                problems.append(f"lines {a}-{b} given, quote found at {elsewhere[0]}-{elsewhere[1]}")
                return elsewhere, problems
            if not inside:
                self.rejected.append(f"{label}: lines {a}-{b} lie outside the chunk ({chunk.first}-{chunk.last}) "
                                     "and its quote is not in the chunk")
                return None
            # An item whose quote is not in the text it was drawn from may be invented: never kept.
            self.unsupported.append(f"{label} (lines {a}-{b}): its quote is not in the source: "
                                    f"{_clip(item['quote'])!r}")
            return None
        return (a, b), problems

    def paragraph(self, first: int, last: int) -> tuple[int, int]:
        """``first``..``last`` widened to the blank lines (or headings) around them."""
        while first > 1 and self.lines[first - 2].strip() and not _HEADING.match(self.lines[first - 2]):
            first -= 1
        while last < len(self.lines) and self.lines[last].strip() and not _HEADING.match(self.lines[last]):
            last += 1
        return first, last

    def support(self, text: str, first: int, last: int) -> float:
        return support(text, "\n".join(self.lines[first - 1:last]))

    def check_support(self, chunk: Chunk, kind: str, item: dict, lines: tuple[int, int],
                      problems: list[str]) -> bool:
        """Whether an item the quote check let through is supported by the source: its own words
        (description, rule text, situation and resolution) are flagged when too few of them are in
        its paragraph; an example whose prompt is neither in the document nor mostly made of its
        excerpt's words is invented and dropped (the whole item, or one example of a tension)."""
        label = f"{kind[:-1]} {item.get('id')!r} from chunk {chunk.index}"
        own = " ".join(str(item.get(key, "")) for key in ("description", "text", "situation", "resolution"))
        if own.strip():
            share = self.support(own, *self.paragraph(*lines))
            if share < SUPPORT_MIN:
                problems.append(f"unsupported: only {share:.0%} of its words are in the source around lines "
                                f"{lines[0]}-{lines[1]}")
        if kind == "examples":
            if not self.example_supported(chunk, item):
                self.unsupported.append(f"{label} (lines {lines[0]}-{lines[1]}): its prompt is not in the source: "
                                        f"{_clip(item['prompt'])!r}")
                return False
        elif kind == "tensions" and item.get("examples"):
            kept = []
            for n, example in enumerate(item["examples"], 1):
                if self.example_supported(chunk, example):
                    kept.append(example)
                else:
                    self.unsupported.append(f"example {n} of {label}: its prompt is not in the source: "
                                            f"{_clip(example['prompt'])!r}")
            item["examples"] = kept
        return True

    def example_supported(self, chunk: Chunk, example: dict) -> bool:
        prompt = str(example.get("prompt", ""))
        if _normal(prompt).strip(" .…?!") in self.normal_text:
            return True
        return self.support(prompt, chunk.first, chunk.last) >= EXAMPLE_SUPPORT_MIN

    def accept(self, chunk: Chunk, draft: dict) -> None:
        for entry in draft.get("not_mapped", []):
            a, b = sorted(entry["lines"])
            if chunk.first <= a and b <= chunk.last:
                self.model_not_mapped.append((a, b, " ".join(entry["reason"].split())))
        for kind in KINDS:
            for item in draft.get(kind, []):
                traced = self.trace(chunk, kind, item)
                if traced is None:
                    continue
                (a, b), problems = traced
                item = dict(item)
                if not self.check_support(chunk, kind, item, (a, b), problems):
                    continue
                original = str(item["id"])
                if kind == "values" and slug(original) in self.taken["values"]:
                    # A value an earlier excerpt defined: the same value, mentioned again.
                    self.renamed[kind][original] = slug(original)
                    continue
                ident = unique_id(slug(original) or kind[:-1], self.taken[kind])
                self.renamed[kind].setdefault(original, ident)
                self.renamed[kind].setdefault(slug(original), ident)
                clause = self.clause(kind, ident, item, (a, b))
                clause["_trace"] = Drafted(kind, ident, (a, b), chunk.index, float(item["confidence"]),
                                           item["quote"], tuple(problems))
                self.items[kind].append(clause)

    def clause(self, kind: str, ident: str, item: dict, lines: tuple[int, int]) -> dict:
        text = lambda key: " ".join(str(item.get(key, "")).split())  # noqa: E731
        out: dict[str, Any] = {"id": ident}
        if kind in ("values", "traits"):
            out["description"] = text("description")
        elif kind == "rules":
            out.update(text=text("text"), strength=item["strength"], serves=list(item.get("serves", [])))
            if text("rationale"):
                out["rationale"] = text("rationale")
        elif kind == "tensions":
            out.update(values=list(item["values"]), situation=text("situation"), resolution=text("resolution"),
                       favors=item.get("favors"), examples=[_sample(e) for e in item.get("examples", [])])
        else:
            out.update(_sample(item), targets=list(item["targets"]))
        out["notes"] = (f"Drafted by {self.model} from lines {lines[0]}-{lines[1]} "
                        f"(confidence {float(item['confidence']):.2f}). Quote: {' '.join(item['quote'].split())}")
        out["source"] = {"document": self.document, "section": self.section_of(lines[0]).path,
                         "lines": [lines[0], lines[1]]}
        return out

    def resolve(self) -> None:
        """Check every reference against the clauses that exist; drop and report what does not resolve."""
        values = {v["id"] for v in self.items["values"]}

        def value_id(name: str) -> str | None:
            ident = self.renamed["values"].get(name) or self.renamed["values"].get(slug(name)) or slug(name)
            return ident if ident in values else None

        def note(clause: dict, problem: str) -> None:
            trace: Drafted = clause["_trace"]
            clause["_trace"] = Drafted(trace.kind, trace.id, trace.lines, trace.chunk, trace.confidence,
                                       trace.quote, (*trace.problems, problem))

        for rule in self.items["rules"]:
            kept = []
            for name in rule["serves"]:
                ident = value_id(name)
                if ident is None:
                    note(rule, f"serves unknown value {name!r}, dropped")
                elif ident not in kept:
                    kept.append(ident)
            rule["serves"] = kept
            if not kept:
                del rule["serves"]
        for tension in list(self.items["tensions"]):
            kept = []
            for name in tension["values"]:
                ident = value_id(name)
                if ident is None:
                    note(tension, f"weighs unknown value {name!r}, dropped")
                elif ident not in kept:
                    kept.append(ident)
            if len(kept) < 2:
                self.items["tensions"].remove(tension)
                self.rejected.append(f"tension {tension['id']!r} (lines {tension['source']['lines'][0]}-"
                                     f"{tension['source']['lines'][1]}): fewer than two known values")
                continue
            tension["values"] = kept
            favors = tension.get("favors")
            if favors is not None:
                ident = value_id(str(favors))
                if ident not in kept:
                    note(tension, f"favors {favors!r} is not one of its values; set to none")
                    ident = None
                tension["favors"] = ident
            if not tension["examples"]:
                del tension["examples"]
        known = {f"{_REF_KIND[k]}:{c['id']}" for k in _REF_KIND for c in self.items[k]}
        for example in list(self.items["examples"]):
            kept = []
            for ref in example["targets"]:
                kind, _, name = str(ref).partition(":")
                plural = {v: k for k, v in _REF_KIND.items()}.get(kind)
                ident = self.renamed[plural].get(name, slug(name)) if plural else None
                target = f"{kind}:{ident}"
                if ident and target in known:
                    if target not in kept:
                        kept.append(target)
                else:
                    note(example, f"target {ref!r} does not resolve, dropped")
            if not kept:
                self.items["examples"].remove(example)
                self.rejected.append(f"example {example['id']!r} (lines {example['source']['lines'][0]}-"
                                     f"{example['source']['lines'][1]}): no target resolves")
                continue
            example["targets"] = kept

    def coverage(self, chunks: list[Chunk], drafted: list[Drafted]) -> list[NotMapped]:
        spans = [d.lines for d in drafted]
        out = []
        for section in self.sections:
            if any(a <= section.last and section.first <= b for a, b in spans):
                continue
            body = [line for line in self.lines[section.first:section.last] if line.strip()]
            failed = next((c for c in chunks if c.first <= section.first <= c.last
                           and any(f.startswith(f"chunk {c.index} ") for f in self.failed)), None)
            reasons = [r for a, b, r in self.model_not_mapped if a <= section.last and section.first <= b]
            if failed is not None:
                reason = f"the model's answer for chunk {failed.index} could not be used"
            elif reasons:
                reason = "the model says: " + "; ".join(dict.fromkeys(reasons))
            elif not body:
                reason = "a heading with no text of its own"
            else:
                reason = "no clause drawn from it"
            out.append(NotMapped(section, reason))
        return out

    def build(self, chunks: list[Chunk]) -> ProseImport:
        self.resolve()
        drafted = [c.pop("_trace") for kind in KINDS for c in self.items[kind]]
        spec: dict[str, Any] = {"charter": 1, "id": self.spec_id, "name": self.name,
                                "notes": (f"Drafted by `charter import prose` from {self.document} with "
                                          f"{self.model}, in {len(chunks)} excerpts. Every clause names the lines "
                                          "it came from; review the clauses listed in the review summary.")}
        spec["metadata"] = {"imported_from": self.document, "importer": "charter import prose", "model": self.model}
        for kind in KINDS:
            if self.items[kind]:
                spec[kind] = self.items[kind]
        not_mapped = self.coverage(chunks, drafted)
        return ProseImport(spec, chunks, drafted, not_mapped, self.rejected, self.failed, self.unsupported)


def _sample(item: dict) -> dict:
    out: dict[str, Any] = {"prompt": str(item["prompt"]).strip(), "good": str(item["good"]).strip()}
    bad = [{"text": str(b["text"]).strip(), "why": " ".join(str(b["why"]).split())} for b in item.get("bad", [])]
    if bad:
        out["bad"] = bad
    return out


def document_title(text: str) -> str | None:
    for line in text.splitlines():
        match = _HEADING.match(line)
        if match and len(match.group(1)) == 1:
            return " ".join(match.group(2).split())
    return None


async def draft_spec(text: str, document: str, ask: Ask, *, model: str, spec_id: str | None = None,
                     name: str | None = None, max_chunk_tokens: int = DEFAULT_MAX_CHUNK_TOKENS,
                     on_chunk: Callable[[Chunk], object] | None = None) -> ProseImport:
    """Draft a spec from ``text`` chunk by chunk; ``ask(messages)`` returns the model's answer.

    Chunks go in document order, one at a time, so each sees the value ids found before it.
    """
    spec_id = spec_id or slug(Path(document).stem) or "imported"
    title = document_title(text)
    name = name or (re.sub(r"[’']s\s+constitution$", "", title, flags=re.I) if title else spec_id)
    drafter = _Drafter(text, document, model, spec_id, name)
    chunks = chunk_document(text, max_chunk_tokens)
    for chunk in chunks:
        if on_chunk is not None:
            on_chunk(chunk)
        await drafter.draft_chunk(chunk, ask)
    return drafter.build(chunks)


def service_ask(calls: "CallService", model_id: str, *, max_tokens: int = DEFAULT_MAX_REPLY_TOKENS) -> Ask:
    """An ``ask`` over the call service: the drafting system prompt, temperature 0, the cache, retries.

    A failed call raises the provider's error (``ProviderError``, with ``attempts`` stamped on it).
    """
    from ..providers import Request
    from ..providers.calls import CallFailed, RunAborted

    async def ask(messages: list[dict]) -> str:
        request = Request(messages=messages, system=SYSTEM_PROMPT, temperature=0.0, max_tokens=max_tokens)
        try:
            return (await calls.call(model_id, request)).text
        except (CallFailed, RunAborted) as failure:
            raise failure.cause or failure from None

    return ask


def import_prose(text: str, document: str, model: str, *, base_url: str | None = None, timeout: float | None = None,
                 spec_id: str | None = None, name: str | None = None,
                 max_chunk_tokens: int = DEFAULT_MAX_CHUNK_TOKENS, max_reply_tokens: int = DEFAULT_MAX_REPLY_TOKENS,
                 on_chunk: Callable[[Chunk], object] | None = None,
                 cache: "ResponseCache | None" = None) -> ProseImport:
    """Draft a spec from a prose constitution with ``model`` (``provider:model``).

    Answers come from ``cache`` when it holds them (the same document, model and options ask the
    same questions), so drafting again costs no calls. Raises the provider layer's ConfigError for
    a bad model id or a missing key, and its ProviderError when a call fails for good.
    """
    from ..providers import DEFAULT_TIMEOUT, get_provider
    from ..providers.calls import CallOptions, CallService

    timeout = DEFAULT_TIMEOUT if timeout is None else timeout  # the one default of every command's --timeout

    async def run() -> ProseImport:
        async with get_provider(model, base_url=base_url, timeout=timeout) as provider:
            calls = CallService(CallOptions.with_deadline(timeout, concurrency=1), cache=cache)
            ask = service_ask(calls, calls.add(provider), max_tokens=max_reply_tokens)
            return await draft_spec(text, document, ask, model=model, spec_id=spec_id, name=name,
                                    max_chunk_tokens=max_chunk_tokens, on_chunk=on_chunk)

    return asyncio.run(run())
