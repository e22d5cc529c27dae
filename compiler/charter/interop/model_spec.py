"""Import OpenAI's Model Spec (Markdown) into a Charter spec.

The Model Spec marks its normative sections with ``{#id authority=LEVEL}`` and shows behaviour in
``**Example**:`` blocks: a ``~~~xml`` conversation whose ``<comparison>`` holds replies marked
``<!-- GOOD -->``, ``<!-- BAD: why -->`` or ``<!-- OK -->``. The mapping, documented in SPEC.md:

- a section with an authority becomes a rule: its heading and its prose are the rule text (the
  prose is what the rule asks, not a rationale), its strength follows the authority
  (``AUTHORITY_STRENGTH``); subsections without an authority of their own are part of it;
- a top-level section that holds rules becomes a value (values keep document order), named after
  its heading (``Under-18 Principles`` -> ``under-18-principles``, not the anchor ``chatgpt_u18``),
  and its rules serve it; the prose of grouping sections between the two is kept as the value's notes;
- top-level sections without rules (the overview, the definitions) are kept as the spec's notes;
- ``!!! meta "Commentary"`` blocks are kept as notes of their clause, never as rules;
- each ``<comparison>`` becomes an authored example: the turns before it, each GOOD reply as
  ``good`` (one example per GOOD), BAD replies as ``bad`` with their reasons. Developer and system
  messages become the example's deployment context, named after the role they give ("You are a
  customer service assistant for Acme Corp" -> ``customer-service-assistant-for-acme-corp``) or,
  when they give none, after the example; ``tags=under_18`` and the ``under_18`` setting become
  the context ``under-18``;
- the spec's summary makes the imported principles a deployable prompt: they speak of "the
  assistant", and the summary tells the model that this is itself;
- ``[?](#id)`` and ``[text](#id)`` links become refs (example targets, clause notes) where the
  anchor is a rule or a value, and the linked title in the text.

Whatever cannot be mapped is listed with its line number in ``ImportResult.unmapped``.
Writing the result (``to_yaml``, ``write_spec``) is shared with the prose importer in ``_specwrite``.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from ..diagnostics import CharterError
from ._specwrite import slug, unique_id

AUTHORITY_STRENGTH = {
    "root": "hard",
    "platform": "hard",  # the 2025-02 and earlier revisions' name for root
    "system": "hard",
    "developer": "default",
    "user": "default",
    "guideline": "soft",
}

EXAMPLE_ID_MAX = 60
CONTEXT_ID_MAX = 40
UNDER_18 = "under-18"
# The imported principles speak of "the assistant"; the summary says who that is, so that the
# compiled prompt reads "You are NAME, a general-purpose AI assistant; ..." and can be deployed.
SUMMARY = ("A general-purpose AI assistant; where the principles below say “the assistant”, "
           "they mean you")
# The role a developer or system message gives: "You are a JSON validation bot", "You're Fred, ...",
# "You are playing the role of a math tutor", "You are part of a coding help application".
_ROLE = re.compile(r"^\s*you(?: are|'re|’re)\s+(?:playing the role of\s+|part of\s+|in\s+)?(?:an?|the)?\s*"
                   r"(?P<role>[^,.;:\n]+)", re.I)
_ROLE_END = re.compile(r"\s+(?:and|who|that|which|with|where|to|so)\s.*$", re.I)

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*(?:\{#([^\s}]+)([^}]*)\})?\s*$")
_ATTRIBUTE = re.compile(r"(\w+)=(\S+)")
_EXAMPLE_TITLE = re.compile(r"^\*\*Example\*\*:?\s*(.*)$")
_COMMENTARY = re.compile(r'^!!!\s+\w+(?:\s+"([^"]*)")?\s*$')
_MESSAGE_OPEN = re.compile(r"^\s*<(system|developer|user|assistant|tool)((?:\s+[\w-]+=\"[^\"]*\")*)\s*>\s*(<!--.*-->)?\s*$")
_MESSAGE_CLOSE = re.compile(r"^\s*</(system|developer|user|assistant|tool)>\s*$")
_MARKER = re.compile(r"<!--\s*(GOOD|BAD|OK)\s*(?:\[#([\w.-]+)\])?\s*[:,]?\s*(.*?)\s*-->", re.S)
_SETTING = re.compile(r"^\s*([\w.-]+)\s*:\s*(.*?)\s*$")
_LINK = re.compile(r"\[([^\]]*)\]\(#([^)\s]+)\)")
_FOOTNOTE = re.compile(r"\[\^[^\]]+\]")


class ModelSpecError(CharterError):
    """The input is not a Model Spec document Charter can import; the message is one line."""

    exit_code = 1


@dataclass(frozen=True)
class Unmapped:
    """Something in the source that has no place in the spec, and why."""

    line: int
    what: str
    reason: str

    def format(self, document: str) -> str:
        return f"{document}:{self.line}: not mapped: {self.what}: {self.reason}"


@dataclass
class ImportResult:
    """The imported spec as a plain tree, what was counted, and what could not be mapped."""

    spec: dict
    counts: dict[str, int]
    unmapped: list[Unmapped]
    comments: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        return ", ".join(f"{count} {name}" for name, count in self.counts.items())


# --- reading the document -----------------------------------------------------------------------


@dataclass
class _Section:
    level: int
    title: str
    anchor: str | None
    attrs: dict[str, str]
    line: int
    end: int = 0
    body: list[tuple[int, str]] = field(default_factory=list)
    children: list["_Section"] = field(default_factory=list)
    parent: "_Section | None" = None
    kind: str = "note"  # "rule", "value", "part" (of a rule), "group" (under a value), "note"
    clause_id: str = ""

    @property
    def heading(self) -> str:
        return f"{self.title} {{#{self.anchor}}}" if self.anchor else self.title

    def ancestors(self) -> Iterable["_Section"]:
        node = self.parent
        while node is not None:
            yield node
            node = node.parent

    def descendants(self) -> Iterable["_Section"]:
        for child in self.children:
            yield child
            yield from child.descendants()


def _sections(lines: list[str]) -> tuple[list[_Section], list[tuple[int, str]]]:
    """Headings outside code fences, each with its body lines; and the lines before the first heading."""
    roots: list[_Section] = []
    stack: list[_Section] = []
    preamble: list[tuple[int, str]] = []
    fence = ""
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if fence:
            if stripped.startswith(fence):
                fence = ""
        elif stripped.startswith("~~~") or stripped.startswith("```"):
            fence = stripped[:3]
        else:
            match = _HEADING.match(line)
            if match:
                level, title, anchor, rest = len(match.group(1)), match.group(2), match.group(3), match.group(4)
                section = _Section(level, title.strip(), anchor, dict(_ATTRIBUTE.findall(rest or "")), number)
                while stack and stack[-1].level >= level:
                    stack.pop().end = number - 1
                if stack:
                    section.parent = stack[-1]
                    stack[-1].children.append(section)
                else:
                    roots.append(section)
                stack.append(section)
                continue
        (stack[-1].body if stack else preamble).append((number, line))
    for section in stack:
        section.end = len(lines)
    for section in _walk(roots):
        while section.end > section.line and not lines[section.end - 1].strip():
            section.end -= 1
    return roots, preamble


def _walk(roots: list[_Section]) -> Iterable[_Section]:
    for root in roots:
        yield root
        yield from root.descendants()


@dataclass
class _Block:
    kind: str  # "prose", "commentary", "example"
    line: int
    end: int
    lines: list[str]
    title: str = ""
    title_line: int = 0
    content: list[tuple[int, str]] = field(default_factory=list)  # an example's numbered lines


def _blocks(body: list[tuple[int, str]]) -> list[_Block]:
    """A section body split into prose, commentary blocks and example blocks, in order."""
    blocks: list[_Block] = []
    i = 0
    pending_title: tuple[int, str] | None = None

    def prose(number: int, text: str) -> None:
        if blocks and blocks[-1].kind == "prose":
            blocks[-1].lines.append(text)
            if text.strip():
                blocks[-1].end = number
        else:
            blocks.append(_Block("prose", number, number, [text]))

    while i < len(body):
        number, line = body[i]
        stripped = line.strip()
        title = _EXAMPLE_TITLE.match(stripped)
        if title:
            if pending_title is not None:
                prose(*pending_title)
            pending_title = (number, title.group(1).strip())
            i += 1
            continue
        if stripped.startswith("~~~"):
            content, j = [], i + 1
            while j < len(body) and not body[j][1].strip().startswith("~~~"):
                content.append(body[j])
                j += 1
            end = body[min(j, len(body) - 1)][0]
            block = _Block("example", number, end, [text for _, text in content], content=content)
            if pending_title is not None:
                block.title_line, block.title = pending_title
                block.line = pending_title[0]
                pending_title = None
            blocks.append(block)
            i = j + 1
            continue
        if pending_title is not None:
            if not stripped:
                i += 1
                continue
            # An "**Example**:" line with no conversation after it is prose.
            prose(pending_title[0], f"**Example**: {pending_title[1]}")
            pending_title = None
        commentary = _COMMENTARY.match(stripped)
        if commentary and not line.startswith(" "):
            content, j = [], i + 1
            while j < len(body) and (not body[j][1].strip() or body[j][1].startswith((" ", "\t"))):
                content.append(body[j][1])
                j += 1
            while content and not content[-1].strip():
                content.pop()
                j -= 1
            blocks.append(_Block("commentary", number, body[j - 1][0], _dedent(content),
                                 title=commentary.group(1) or "Note"))
            i = j
            continue
        prose(number, line)
        i += 1
    if pending_title is not None:
        prose(*pending_title)
    return blocks


def _dedent(lines: list[str]) -> list[str]:
    indents = [len(line) - len(line.lstrip()) for line in lines if line.strip()]
    cut = min(indents, default=0)
    return [line[cut:] for line in lines]


def _tidy(lines: Iterable[str]) -> str:
    """Lines joined, trailing spaces cut, runs of blank lines collapsed, ends stripped."""
    text = "\n".join(line.rstrip() for line in lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


class _Links:
    """Resolves ``#anchor`` links to titles and clause refs, and records the ones that do not resolve."""

    def __init__(self, by_anchor: dict[str, _Section], unmapped: list[Unmapped]) -> None:
        self.by_anchor = by_anchor
        self.unmapped = unmapped
        self._reported: set[tuple[int, str]] = set()

    def ref(self, anchor: str) -> str | None:
        section = self.by_anchor.get(anchor)
        while section is not None and section.kind == "part":
            section = section.parent
        if section is None or section.kind not in ("rule", "value"):
            return None
        return f"{section.kind}:{section.clause_id}"

    def clean(self, text: str, line: int, refs: list[str] | None = None) -> str:
        """Markdown text with internal links rendered as their titles and footnote marks removed."""

        def replace(match: re.Match) -> str:
            label, anchor = match.group(1), match.group(2)
            section = self.by_anchor.get(anchor)
            if section is None:
                if (line, anchor) not in self._reported:
                    self._reported.add((line, anchor))
                    self.unmapped.append(Unmapped(line, f"link to #{anchor}", "no section has this anchor"))
                return label if label and label != "?" else anchor
            ref = self.ref(anchor)
            if ref and refs is not None and ref not in refs:
                refs.append(ref)
            return f"“{section.title}”" if label in ("", "?") else label

        return _FOOTNOTE.sub("", _LINK.sub(replace, text))


# --- examples -----------------------------------------------------------------------------------


@dataclass
class _Reply:
    marker: str
    reason: str
    anchor: str | None
    text: str
    line: int


@dataclass
class _Comparison:
    line: int
    turns: list[tuple[str, str]]
    setup: list[tuple[str, str]]
    replies: list[_Reply]


def _message_text(lines: list[str]) -> str:
    return html.unescape(_tidy(lines))


def _parse_conversation(content: list[tuple[int, str]]) -> tuple[list[_Comparison], list[Unmapped]]:
    """The comparisons of one example block, each with the turns before it.

    Developer and system messages before the first turn are the setup (the deployment context);
    consecutive messages of one role are one turn; a tool's output joins the assistant turn that
    called it; after a comparison the conversation goes on with its first GOOD reply.
    """
    comparisons: list[_Comparison] = []
    problems: list[Unmapped] = []
    turns: list[tuple[str, str]] = []
    setup: list[tuple[str, str]] = []
    replies: list[_Reply] | None = None
    comparison_line = 0
    i = 0
    while i < len(content):
        number, line = content[i]
        stripped = line.strip()
        if stripped == "<comparison>":
            replies, comparison_line = [], number
            i += 1
            continue
        if stripped == "</comparison>":
            comparisons.append(_Comparison(comparison_line, list(turns), list(setup), replies or []))
            good = next((r for r in replies or [] if r.marker == "GOOD"), None)
            if good is not None:
                turns.append(("assistant", good.text))
            replies = None
            i += 1
            continue
        opened = _MESSAGE_OPEN.match(line)
        if not opened:
            if stripped:
                problems.append(Unmapped(number, "example line", f"outside any message: {stripped[:60]!r}"))
            i += 1
            continue
        role, attrs, marker = opened.group(1), opened.group(2) or "", opened.group(3) or ""
        body, j = [], i + 1
        while j < len(content) and not (_MESSAGE_CLOSE.match(content[j][1])
                                        and _MESSAGE_CLOSE.match(content[j][1]).group(1) == role):
            body.append(content[j][1])
            j += 1
        text = _message_text(body)
        i = j + 1
        attributes = dict(re.findall(r'([\w-]+)="([^"]*)"', attrs))
        if role == "assistant" and attributes.get("recipient"):
            text = f"[to {attributes['recipient']}] {text}"
        if replies is not None:
            found = _MARKER.search(marker)
            if role != "assistant" or found is None:
                problems.append(Unmapped(number, f"<{role}> in a comparison", "not an assistant reply marked GOOD, BAD or OK"))
                continue
            reason = " ".join(found.group(3).split())
            replies.append(_Reply(found.group(1), reason[:1].upper() + reason[1:], found.group(2), text, number))
            continue
        if role in ("system", "developer"):
            if turns:
                problems.append(Unmapped(number, f"<{role}> message", "comes after the conversation started; "
                                                                      "only setup before the first turn is kept"))
                continue
            setup.append((role, text))
        elif role == "tool":
            if not turns or turns[-1][0] != "assistant":
                problems.append(Unmapped(number, "<tool> message", "does not follow an assistant turn"))
                continue
            name = attributes.get("name", "tool")
            turns[-1] = ("assistant", f"{turns[-1][1]}\n\n[{name} output] {text}")
        elif turns and turns[-1][0] == role:
            turns[-1] = (role, f"{turns[-1][1]}\n\n{text}")
        else:
            turns.append((role, text))
    return comparisons, problems


def _settings_context(setup: list[tuple[str, str]]) -> tuple[str | None, list[tuple[str, str]]]:
    """The under-18 context when a system message sets ``under_18: true``; the rest of the setup."""
    rest, context = [], None
    for role, text in setup:
        match = re.fullmatch(r"\s*<settings>\s*(.*?)\s*</settings>\s*(.*)", text, re.S)
        if role == "system" and match:
            settings = dict(m.groups() for m in map(_SETTING.match, match.group(1).splitlines()) if m)
            if settings.get("under_18", "").lower() == "true":
                context = UNDER_18
            leftover = match.group(2).strip()
            others = {k: v for k, v in settings.items() if k != "under_18"}
            if others:
                leftover = "\n".join([*(f"{k}: {v}" for k, v in others.items()), leftover]).strip()
            if leftover:
                rest.append((role, leftover))
        else:
            rest.append((role, text))
    return context, rest


# --- the importer -------------------------------------------------------------------------------


class _Importer:
    def __init__(self, text: str, document: str, spec_id: str, name: str) -> None:
        self.lines = text.splitlines()
        self.document = document
        self.spec_id = spec_id
        self.name = name
        self.unmapped: list[Unmapped] = []
        self.contexts: dict[str, dict] = {}
        self.context_by_text: dict[str, str] = {}
        self.example_ids: set[str] = set()
        self.comments: dict[str, str] = {}
        self.counts = {"sections": 0, "values": 0, "rules": 0, "examples": 0, "contexts": 0,
                       "commentary notes": 0, "cross-references": 0}

    def source(self, section: _Section, lines: tuple[int, int]) -> dict:
        path = " > ".join([*(a.title for a in reversed(list(section.ancestors()))), section.heading])
        return {"document": self.document, "section": path, "lines": [lines[0], max(lines)]}

    def run(self) -> ImportResult:
        roots, preamble = _sections(self.lines)
        sections = list(_walk(roots))
        self.counts["sections"] = len(sections)
        if not any(s.attrs.get("authority") for s in sections):
            raise ModelSpecError("no section heading carries {#id authority=...}; "
                                 "this does not look like a Model Spec document")
        if any(line.strip() for _, line in preamble):
            first = next(n for n, line in preamble if line.strip())
            self.unmapped.append(Unmapped(first, "text before the first heading", "kept in the spec's notes"))
        self.classify(roots)
        by_anchor = {s.anchor: s for s in sections if s.anchor}
        self.links = _Links(by_anchor, self.unmapped)

        spec: dict[str, Any] = {"charter": 1, "id": self.spec_id, "name": self.name, "summary": SUMMARY}
        notes = [_tidy(line for _, line in preamble)] if any(line.strip() for _, line in preamble) else []
        values, rules, examples = [], [], []
        for section in sections:
            if section.kind == "note" and section.parent is None:
                notes.append(self.note_text(section, include_children=True))
            elif section.kind == "value":
                values.append(self.value(section))
            elif section.kind == "rule":
                rules.append(self.rule(section))
        for section in sections:
            if section.kind in ("rule", "value", "group", "part"):
                examples.extend(self.examples(section))
            elif section.kind == "note" and (section.parent is None or section.parent.kind == "note"):
                for block in _blocks(section.body):
                    if block.kind == "example":
                        self.unmapped.append(Unmapped(block.line, f"example {block.title!r}" if block.title
                                                      else "example", "outside any rule or value section"))
        notes = [n for n in notes if n]
        if notes:
            spec["notes"] = "\n\n".join(notes)
        spec["metadata"] = {"imported_from": self.document, "importer": "charter import model-spec"}
        if self.contexts:
            spec["contexts"] = {key: self.contexts[key] for key in sorted(self.contexts)}
        if values:
            spec["values"] = values
        if rules:
            spec["rules"] = rules
        if examples:
            spec["examples"] = examples
        self.counts.update(values=len(values), rules=len(rules), examples=len(examples),
                           contexts=len(self.contexts))
        self.counts["not mapped"] = len(self.unmapped)
        self.unmapped.sort(key=lambda u: (u.line, u.what))
        return ImportResult(spec, dict(self.counts), self.unmapped, self.comments)

    def classify(self, roots: list[_Section]) -> None:
        taken: dict[str, set[str]] = {"rule": set(), "value": set()}

        def visit(section: _Section, owner: _Section | None, value: _Section | None) -> None:
            authority = section.attrs.get("authority")
            if authority is not None and owner is None and authority in AUTHORITY_STRENGTH:
                section.kind = "rule"
            elif authority is not None and authority not in AUTHORITY_STRENGTH:
                section.kind = "part" if owner else ("group" if value else "note")
                kept = "its text joins the enclosing rule" if owner else "its text is kept as notes"
                self.unmapped.append(Unmapped(section.line, f"section {section.heading!r}",
                                              f"unknown authority {authority!r}; {kept}"))
            elif owner is not None:
                section.kind = "part"
            elif section.parent is None and any(d.attrs.get("authority") in AUTHORITY_STRENGTH
                                                for d in section.descendants()):
                section.kind = "value"
            else:
                section.kind = "group" if value is not None else "note"
            if section.kind == "value":  # a value's id is its label in prompts: the heading reads, the anchor may not
                title = re.sub(r"^(?:the|a|an)\s+", "", section.title, flags=re.I)
                section.clause_id = unique_id(slug(title) or slug(section.anchor or ""), taken["value"])
            elif section.kind == "rule":
                section.clause_id = unique_id(slug(section.anchor or section.title), taken["rule"])
            for child in section.children:
                authority_here = child.attrs.get("authority") in AUTHORITY_STRENGTH
                # An authority section inside another one is a rule of its own, not part of it.
                child_owner = None if authority_here else (section if section.kind == "rule" else owner)
                visit(child, child_owner, section if section.kind == "value" else value)

        for root in roots:
            visit(root, None, None)

    def prose(self, section: _Section, refs: list[str], *, with_heading: bool = False,
              into_parts: bool = False) -> tuple[str, list[str], int]:
        """The section's prose (links resolved), its commentary, and the last line it covers."""
        parts: list[str] = [f"{section.title}:"] if with_heading else []
        commentary: list[str] = []
        end = section.line
        for block in _blocks(section.body):
            end = max(end, block.end)
            if block.kind == "prose":
                parts.append(self.clean_lines(block.lines, block.line, refs))
            elif block.kind == "commentary":
                self.counts["commentary notes"] += 1
                commentary.append(self.clean_lines(block.lines, block.line + 1, refs))
        if into_parts:
            for child in section.children:
                if child.kind == "part":
                    text, notes, child_end = self.prose(child, refs, with_heading=True, into_parts=True)
                    parts.append(text)
                    commentary.extend(notes)
                    end = max(end, child_end)
        return _tidy(p for p in parts if p), commentary, end

    def clean_lines(self, lines: list[str], first: int, refs: list[str]) -> str:
        return _tidy(self.links.clean(line, first + k, refs) for k, line in enumerate(lines))

    def note_text(self, section: _Section, include_children: bool = False) -> str:
        refs: list[str] = []
        text, commentary, _ = self.prose(section, refs)
        pieces = [f"{'#' * section.level} {section.title}", text, *commentary]
        if include_children:
            pieces += [self.note_text(child, True) for child in section.children]
        return "\n\n".join(p for p in pieces if p)

    def value(self, section: _Section) -> dict:
        refs: list[str] = []
        text, commentary, end = self.prose(section, refs)
        paragraphs = [p for p in text.split("\n\n") if p.strip()]
        description = _sentence(self.links.clean(section.title, section.line))
        if paragraphs:
            description += " " + paragraphs[0]
        notes = paragraphs[1:] + commentary
        for group in section.descendants():
            if group.kind == "group":
                group_text, group_commentary, _ = self.prose(group, refs)
                notes.append(_tidy([f"{group.title}:", group_text, *group_commentary]))
        value: dict[str, Any] = {"id": section.clause_id, "description": description}
        own = f"value:{section.clause_id}"
        refs = [r for r in refs if r != own]
        if refs:
            notes.append("Cross-references: " + ", ".join(refs))
            self.counts["cross-references"] += len(refs)
        if notes:
            value["notes"] = _tidy("\n\n".join(notes).splitlines())
        value["source"] = self.source(section, (section.line, end))
        self.comments[f"value:{section.clause_id}"] = section.title
        return value

    def rule(self, section: _Section) -> dict:
        refs: list[str] = []
        text, commentary, end = self.prose(section, refs, into_parts=True)
        authority = section.attrs["authority"]
        heading = _sentence(self.links.clean(section.title, section.line))
        # The prose under the heading is what the rule asks ("The assistant should ..."), so it is the
        # rule's text; as a rationale it would be shown as the rule's "Why".
        rule: dict[str, Any] = {"id": section.clause_id, "text": f"{heading}\n\n{text}" if text else heading,
                                "strength": AUTHORITY_STRENGTH[authority]}
        value = next((a for a in section.ancestors() if a.kind == "value"), None)
        if value is not None:
            rule["serves"] = [value.clause_id]
        tags = [t for t in re.split(r"[,\s]+", section.attrs.get("tags", "")) if t]
        when = []
        for tag in tags:
            context_id = self.tag_context(tag)
            if context_id not in when:
                when.append(context_id)
        if when:
            rule["when"] = when
        own = f"rule:{section.clause_id}"
        refs = [r for r in refs if r != own]
        notes = [f"Authority in the source: {authority}."]
        notes += [f"Commentary: {c}" for c in commentary]
        if refs:
            notes.append("Cross-references: " + ", ".join(refs))
            self.counts["cross-references"] += len(refs)
        rule["notes"] = "\n\n".join(notes)
        rule["source"] = self.source(section, (section.line, end))
        self.comments[own] = section.title
        return rule

    def tag_context(self, tag: str) -> str:
        context_id = UNDER_18 if tag == "under_18" else slug(tag)
        if context_id not in self.contexts:
            description = ("The user is under 18: the conversation is marked under_18 by the system."
                           if context_id == UNDER_18 else f"Conversations the source tags {tag!r}.")
            self.contexts[context_id] = {"description": description}
        return context_id

    def setup_context(self, setup: list[tuple[str, str]], base: str) -> str:
        description = "\n\n".join(f"The {role} message says:\n{text}" for role, text in setup)
        if description not in self.context_by_text:
            # Room for a "-2" suffix, so that two setups giving one role keep whole words.
            context_id = unique_id(_context_name(setup) or slug(base, CONTEXT_ID_MAX - 3), set(self.contexts),
                                   CONTEXT_ID_MAX)
            self.contexts[context_id] = {"description": description}
            self.context_by_text[description] = context_id
        return self.context_by_text[description]

    def examples(self, section: _Section) -> list[dict]:
        owner = section
        while owner.kind in ("part", "group"):
            owner = owner.parent  # type: ignore[assignment]
        out = []
        for block in _blocks(section.body):
            if block.kind != "example":
                continue
            title_refs: list[str] = []
            title = self.links.clean(block.title, block.title_line or block.line, title_refs) if block.title else ""
            label = f"example {block.title!r}" if block.title else "example"
            comparisons, problems = _parse_conversation(block.content)
            self.unmapped.extend(Unmapped(p.line, f"{label}: {p.what}", p.reason) for p in problems)
            if not comparisons:
                self.unmapped.append(Unmapped(block.line, label, "no <comparison> of replies"))
                continue
            base = slug(title or f"{owner.clause_id}-example", EXAMPLE_ID_MAX)
            for index, comparison in enumerate(comparisons, 1):
                out.extend(self.comparison_examples(owner, section, block, title, title_refs, base, index,
                                                    len(comparisons), comparison, label))
        return out

    def comparison_examples(self, owner: _Section, section: _Section, block: _Block, title: str,
                            title_refs: list[str], base: str, index: int, total: int,
                            comparison: _Comparison, label: str) -> list[dict]:
        where = f"{label}, comparison {index}" if total > 1 else label
        turns = list(comparison.turns)
        prefix = ""
        if turns and turns[-1][0] == "assistant":
            # The assistant already acted this turn (a tool call, say); each reply continues it.
            prefix = turns.pop()[1] + "\n\n"
        setup = list(comparison.setup)
        notes = [f"From the source example: {title}" if title else "From a source example."]
        if not turns and setup and setup[-1][0] == "developer":
            # The Model Spec treats developer and user messages alike when only one of them speaks.
            turns = [("user", setup.pop()[1])]
            notes.append("In the source the developer sends this message; no user message is present.")
        if not turns:
            self.unmapped.append(Unmapped(comparison.line, where, "no user or developer message before the replies"))
            return []
        goods = [r for r in comparison.replies if r.marker == "GOOD"]
        oks = [r for r in comparison.replies if r.marker == "OK"]
        bads = [r for r in comparison.replies if r.marker == "BAD"]
        if not goods and oks:
            goods, oks = oks[:1], oks[1:]
            notes.append("The source marks no reply GOOD; its OK reply is used as the good one.")
        if not goods:
            self.unmapped.append(Unmapped(comparison.line, where, "no reply marked GOOD or OK"))
            return []
        for ok in oks:
            notes.append(f"Also acceptable (marked OK{': ' + ok.reason if ok.reason else ''}):\n{prefix}{ok.text}")
        targets = [f"{owner.kind}:{owner.clause_id}"]
        for ref in title_refs:
            if ref not in targets:
                targets.append(ref)
        for reply in comparison.replies:
            if reply.anchor:
                ref = self.links.ref(reply.anchor)
                if ref is None:
                    self.unmapped.append(Unmapped(reply.line, f"{where}: marker [#{reply.anchor}]",
                                                  "the anchor is not a rule or value"))
                elif ref not in targets:
                    targets.append(ref)
        context = None
        settings_context, setup = _settings_context(setup)
        if setup:
            context = self.setup_context(setup, base)
            if settings_context:
                notes.append("The source also marks this conversation under_18.")
        elif settings_context:
            context = self.tag_context("under_18")
        elif owner.kind == "rule":
            when = [self.tag_context(t) for t in re.split(r"[,\s]+", owner.attrs.get("tags", "")) if t]
            context = when[0] if when else None
        bad = []
        for reply in bads:
            why = reply.reason or (f"The source marks this reply BAD in the example “{title}”." if title
                                   else "The source marks this reply BAD.")
            if reply.anchor and not reply.reason:
                why += f" It breaks “{self.links.by_anchor[reply.anchor].title}”." if reply.anchor in self.links.by_anchor else ""
            bad.append({"text": prefix + reply.text, "why": _sentence(why)})
        out = []
        for n, good in enumerate(goods, 1):
            stem = base if index == 1 else f"{base}-turn-{index}"
            example: dict[str, Any] = {"id": unique_id(stem if n == 1 else f"{stem}-good-{n}", self.example_ids,
                                                       EXAMPLE_ID_MAX + 12)}
            if context:
                example["context"] = context
            if len(turns) == 1:
                example["prompt"] = turns[0][1]
            else:
                example["conversation"] = [{"role": role, "content": text} for role, text in turns]
            example["good"] = prefix + good.text
            if bad:
                example["bad"] = bad
            example["targets"] = targets
            example_notes = list(notes)
            if good.reason:
                example_notes.append(f"Why the source calls the reply GOOD: {good.reason}")
            example["notes"] = "\n\n".join(example_notes)
            example["source"] = self.source(section, (block.line, block.end))
            out.append(example)
        return out


def _context_name(setup: list[tuple[str, str]]) -> str:
    """An id for a deployment context from the role its messages give the assistant, or ""."""
    for _, text in setup:
        found = _ROLE.match(text)
        if found:
            role = _ROLE_END.sub("", found.group("role")).strip()
            name = slug(role, CONTEXT_ID_MAX - 3)
            if name:
                return name
    return ""


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    return text if not text or text[-1] in ".!?:”\"" else text + "."


def import_model_spec(text: str, document: str, *, spec_id: str | None = None,
                      name: str = "Assistant") -> ImportResult:
    """Map a Model Spec Markdown text to a Charter spec tree; ``document`` names it in ``source``.

    Raises ModelSpecError when the text has no ``{#id authority=...}`` section at all.
    """
    spec_id = spec_id or slug(Path(document).stem) or "model-spec"
    return _Importer(text, document, spec_id, name).run()
