"""Read YAML into plain dicts and lists that remember where every node came from.

PyYAML's composer gives us a node graph with marks; we build the data ourselves rather than
through its constructor so that we can keep positions, reject duplicate keys, keep keys as the
text the author wrote (``no:`` stays the string "no"), and refuse alias bombs before they
expand.
"""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Any

import yaml

from ..diagnostics import SpecError, Diagnostic, Loc, UnreadableError, excerpt
from ..io import DEFAULT_MAX_SPEC_BYTES, MAX_SPEC_BYTES_VARIABLE, InputRefused, read_input_bytes, size_limit

try:  # libyaml is about 10x faster; fall back to pure Python where it is missing
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

MAX_DEPTH = 100
# Each node of a real document costs at least two characters of source, so a document that
# expands to more nodes than its own length plus a margin is inflating itself through aliases.
NODE_MARGIN = 10_000


class Mapping(dict):
    """A YAML mapping: a dict that knows its own position and those of its keys and values."""

    __slots__ = ("loc", "key_locs", "value_locs")

    def __init__(self, loc: Loc):
        super().__init__()
        self.loc = loc
        self.key_locs: dict[str, Loc] = {}
        self.value_locs: dict[str, Loc] = {}


class Sequence(list):
    """A YAML sequence: a list that knows its own position and those of its items."""

    __slots__ = ("loc", "item_locs")

    def __init__(self, loc: Loc):
        super().__init__()
        self.loc = loc
        self.item_locs: list[Loc] = []


def child_loc(container: Any, key: Any) -> Loc | None:
    if isinstance(container, Mapping):
        return container.value_locs.get(key)
    if isinstance(container, Sequence) and isinstance(key, int) and 0 <= key < len(container.item_locs):
        return container.item_locs[key]
    return None


def locate(root: Any, path, fallback: Loc) -> Loc:
    """The position of the node at ``path`` (keys and indices) below ``root``; the nearest known ancestor if the path leaves the tree."""
    node, best = root, getattr(root, "loc", fallback)
    for key in path:
        loc = child_loc(node, key)
        if loc is None:
            break
        best = loc
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            break
    return best


_SCALAR_CONSTRUCTOR = yaml.SafeLoader.yaml_constructors
_TEXT_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"


class _Builder:
    def __init__(self, file: str, budget: int):
        self.file = file
        self.budget = budget
        self.count = 0
        self.diagnostics: list[Diagnostic] = []
        self._scalar = yaml.SafeLoader("")  # only its scalar constructors are used
        self._open: set[int] = set()  # containers being built: an alias to one of them is a cycle

    def loc(self, node: yaml.Node) -> Loc:
        return Loc(self.file, node.start_mark.line + 1, node.start_mark.column + 1)

    def build(self, node: yaml.Node, depth: int = 0) -> Any:
        self.count += 1
        if self.count > self.budget:
            raise SpecError([Diagnostic(
                self.loc(node), "alias-bomb",
                f"YAML aliases expand this document past {self.budget:,} nodes (an alias bomb?); refusing to load it",
            )])
        if depth > MAX_DEPTH:
            raise SpecError([Diagnostic(self.loc(node), "too-deep", f"YAML nested deeper than {MAX_DEPTH} levels")])
        if isinstance(node, yaml.ScalarNode):
            if node.tag == _TEXT_TAG:
                return node.value
            construct = _SCALAR_CONSTRUCTOR.get(node.tag)
            if construct is None:
                self.diagnostics.append(Diagnostic(self.loc(node), "yaml-tag", f"unsupported YAML tag {excerpt(node.tag)}"))
                return node.value
            return construct(self._scalar, node)
        if id(node) in self._open:
            raise SpecError([Diagnostic(self.loc(node), "alias-bomb", "recursive YAML alias: a node contains itself")])
        self._open.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                seq = Sequence(self.loc(node))
                for item in node.value:
                    seq.append(self.build(item, depth + 1))
                    seq.item_locs.append(self.loc(item))
                return seq
            return self.build_mapping(node, depth)
        finally:
            self._open.discard(id(node))

    def build_mapping(self, node: yaml.MappingNode, depth: int) -> Mapping:
        mapping = Mapping(self.loc(node))
        merged: list[Mapping] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                value = self.build(value_node, depth + 1)
                merged.extend(value if isinstance(value, list) else [value])
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.diagnostics.append(Diagnostic(self.loc(key_node), "yaml-key", "mapping keys must be plain text"))
                continue
            key = key_node.value
            if key in mapping:
                first = mapping.key_locs[key]
                self.diagnostics.append(Diagnostic(
                    self.loc(key_node), "duplicate-key",
                    f"duplicate key {excerpt(key)} (first defined at line {first.line})",
                ))
                continue
            mapping[key] = self.build(value_node, depth + 1)
            mapping.key_locs[key] = self.loc(key_node)
            mapping.value_locs[key] = self.loc(value_node)
        for extra in merged:
            if not isinstance(extra, Mapping):
                self.diagnostics.append(Diagnostic(mapping.loc, "yaml-merge", "'<<' must merge a mapping"))
                continue
            for key, value in extra.items():
                if key not in mapping:
                    mapping[key] = value
                    mapping.key_locs[key] = extra.key_locs[key]
                    mapping.value_locs[key] = extra.value_locs[key]
        return mapping


def decode(data: bytes, file: str) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        raise SpecError([Diagnostic(Loc(file, 1, 1), "encoding", "file is UTF-16 or UTF-32; save it as UTF-8")])
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        col = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        raise SpecError([Diagnostic(
            Loc(file, line, col), "encoding",
            f"file is not valid UTF-8 (byte 0x{data[err.start]:02x}); save it as UTF-8",
        )]) from None


def _syntax_diagnostic(err: yaml.MarkedYAMLError, text: str, file: str) -> Diagnostic:
    mark = err.problem_mark or err.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    offending = ""
    if mark is not None:
        lines = text.splitlines()
        if mark.line < len(lines):
            offending = lines[mark.line][mark.column:mark.column + 1]
    if offending == "\t" or "'\\t'" in str(err.problem):
        return Diagnostic(Loc(file, line, col), "tab-indent", "tab character in indentation; YAML indents with spaces only")
    problem = (err.problem or "invalid YAML").strip()
    context = f" {err.context.strip()}" if err.context else ""
    if err.context_mark is not None and err.problem_mark is not None and err.context_mark.line != err.problem_mark.line:
        context += f" (line {err.context_mark.line + 1})"
    message = f"{problem}{context}".replace("\n", " ")
    # PyYAML's problem text can quote the source (an alias name, a tag); keep it to one short line.
    return Diagnostic(Loc(file, line, col), "yaml-syntax", message if len(message) <= 200 else message[:200] + "\u2026")


def parse_text(text: str, file: str) -> Any:
    """Parse YAML text; raise SpecError with positions on any problem. None for an empty document."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as err:
        raise SpecError([_syntax_diagnostic(err, text, file)]) from None
    except yaml.YAMLError as err:  # errors without a position, e.g. from the reader
        raise SpecError([Diagnostic(Loc(file, 1, 1), "yaml-syntax", str(err).replace("\n", " ")[:200])]) from None
    if node is None:
        return None
    builder = _Builder(file, budget=len(text) + NODE_MARGIN)
    data = builder.build(node)
    if builder.diagnostics:
        raise SpecError(builder.diagnostics)
    return data


def _kind_of(data: Any) -> str:
    """What a non-mapping document holds, in words, never its content: the file may not be a spec at
    all (`extends: [.env]` reads a file of secrets as one long string)."""
    if isinstance(data, list):
        return "a list"
    if isinstance(data, str):
        return "text"
    if isinstance(data, bool):
        return "true/false"
    if isinstance(data, (int, float)):
        return "a number"
    return f"a {type(data).__name__}"


def read_file(path: Path, display: str) -> Any:
    """Read and parse one YAML spec file.

    Only a regular file of at most CHARTER_MAX_SPEC_BYTES (20 MB unless set) is read: a device, a
    FIFO or a runaway file is refused with an UnreadableError instead of blocking or filling memory.
    """
    try:
        raw = read_input_bytes(path, size_limit(MAX_SPEC_BYTES_VARIABLE, DEFAULT_MAX_SPEC_BYTES),
                               MAX_SPEC_BYTES_VARIABLE)
    except InputRefused as err:
        loc = Loc(display) if err.code == "bad-limit" else Loc(display, 1, 1)
        raise UnreadableError([Diagnostic(loc, err.code, err.message)]) from None
    except FileNotFoundError:
        raise UnreadableError([Diagnostic(Loc(display), "not-found", "no such file")]) from None
    except IsADirectoryError:
        raise UnreadableError([Diagnostic(Loc(display), "not-a-file", "is a directory, not a spec file")]) from None
    except OSError as err:
        raise UnreadableError([Diagnostic(Loc(display), "unreadable", err.strerror or str(err))]) from None
    text = decode(raw, display)
    data = parse_text(text, display)
    if data is None:
        raise SpecError([Diagnostic(Loc(display, 1, 1), "empty-file",
                                       "empty file: a spec needs at least 'charter', 'id' and 'name'")])
    if not isinstance(data, Mapping):
        loc = getattr(data, "loc", Loc(display, 1, 1))
        raise SpecError([Diagnostic(loc, "type", f"a spec must be a YAML mapping of keys to values, but this file "
                                                 f"holds {_kind_of(data)} (is it a spec file?)")])
    return data
