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

    def __init__(self, loc: Loc):  # empty, as dict.__new__ made it: no dict.__init__ call
        self.loc = loc
        self.key_locs: dict[str, Loc] = {}
        self.value_locs: dict[str, Loc] = {}


class Sequence(list):
    """A YAML sequence: a list that knows its own position and those of its items."""

    __slots__ = ("loc", "item_locs")

    def __init__(self, loc: Loc):  # empty, as list.__new__ made it: no list.__init__ call
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
_ScalarNode = yaml.ScalarNode
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
        mark = node.start_mark
        return Loc(self.file, mark.line + 1, mark.column + 1)

    def child(self, node: yaml.Node, depth: int) -> Any:
        """``build(node, depth)``, with the common case (plain text within budget and depth) inline."""
        if node.__class__ is _ScalarNode and node.tag == _TEXT_TAG and depth <= MAX_DEPTH and self.count < self.budget:
            self.count += 1
            return node.value
        return self.build(node, depth)

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
            try:
                return construct(self._scalar, node)
            except (ValueError, TypeError, yaml.YAMLError):  # `!!int nope`, `!!binary` that is not base64
                self.diagnostics.append(Diagnostic(self.loc(node), "yaml-tag",
                                                   f"{excerpt(node.value)} is not a valid {node.tag.rsplit(':', 1)[-1]}"))
                return node.value
        if id(node) in self._open:
            raise SpecError([Diagnostic(self.loc(node), "alias-bomb", "recursive YAML alias: a node contains itself")])
        self._open.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                seq = Sequence(self.loc(node))
                append, append_loc, loc = seq.append, seq.item_locs.append, self.loc
                for item in node.value:
                    value = self.child(item, depth + 1)
                    append(value)
                    append_loc(value.loc if value.__class__ is Mapping or value.__class__ is Sequence else loc(item))
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
            value = mapping[key] = self.child(value_node, depth + 1)
            mapping.key_locs[key] = self.loc(key_node)
            # A container built from this node carries the same position already.
            mapping.value_locs[key] = (value.loc if value.__class__ is Mapping or value.__class__ is Sequence
                                       else self.loc(value_node))
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


class _Unusual(Exception):
    """The document is not one the streaming builder takes: the node builder decides what it holds."""


class _StreamBuilder:
    """Builds the same Mapping/Sequence tree as ``_Builder`` straight from the parser's events.

    ``_Builder`` needs the whole node graph first, and that graph (a node and two marks per value)
    takes about 25 times the document's size: 275 MB for a 10 MB spec, all of it alive until the
    tree is built. Building from events keeps only the tree. This builder takes the common case
    only, a single document without aliases, merge keys, duplicate anchors, or anything the node
    builder would report or refuse (duplicate keys, unknown tags, keys that are not text, nesting
    past MAX_DEPTH, a syntax error); on any of those it raises _Unusual, and the document goes
    through ``yaml.compose`` and ``_Builder``, which give the positioned diagnostic.
    tests/test_yaml_stream.py compares the two builders' trees and positions on every YAML file of
    the repository and on documents made to reach each branch.

    It keeps no node budget: the budget stops aliases from expanding a document (an alias bomb),
    and this builder takes no alias. Without aliases each node has source text of its own (its
    scalar, its key, its dash or its bracket), so a document holds fewer nodes than characters
    and the node builder's budget, its length plus NODE_MARGIN, could not be reached.
    """

    def __init__(self, loader: Any, file: str):
        self.next_event = loader.get_event
        self.resolve = loader.resolve
        self.file = file
        self.anchors: set[str] = set()
        # Every key once: a spec repeats a handful of keys ("id", "text") tens of thousands of times,
        # and the parser gives each occurrence its own string (16 MB of a 10 MB spec's tree).
        self.keys: dict[str, str] = {}
        self._scalar = yaml.SafeLoader("")  # only its scalar constructors are used

    def document(self) -> Any:
        self.next_event()  # stream start
        event = self.next_event()
        if event.__class__ is yaml.StreamEndEvent:
            return None
        root = self.value(self.next_event(), 0)  # after the document start
        self.next_event()  # document end
        if self.next_event().__class__ is not yaml.StreamEndEvent:
            raise _Unusual("more than one document")
        return root

    def value(self, event: Any, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise _Unusual("past MAX_DEPTH")
        kind = event.__class__
        anchor = event.anchor
        if kind is yaml.AliasEvent or anchor in self.anchors:
            raise _Unusual("an alias or a duplicate anchor")
        if anchor is not None:
            self.anchors.add(anchor)
        if kind is yaml.ScalarEvent:
            return self.scalar(event)
        mark = event.start_mark
        loc = _new_loc(Loc, (self.file, mark.line + 1, mark.column + 1))
        if kind is yaml.SequenceStartEvent:
            return self.sequence(loc, depth)
        if kind is yaml.MappingStartEvent:
            return self.mapping(loc, depth)
        raise _Unusual(f"unexpected {kind.__name__}")

    def scalar(self, event: Any) -> Any:
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.resolve(yaml.ScalarNode, event.value, event.implicit)
        if tag == _TEXT_TAG:
            return event.value
        construct = _SCALAR_CONSTRUCTOR.get(tag)
        if construct is None:
            raise _Unusual("an unsupported tag")
        try:
            return construct(self._scalar, yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark,
                                                            event.style))
        except Exception:  # the node builder meets the same error and reports it its own way
            raise _Unusual("a scalar its constructor refuses") from None

    # The loops below take most of a spec's values without calling ``value``: a scalar event with no
    # tag and no anchor that is quoted, or plain and claimed by no implicit resolver (``_plain_text``),
    # is text, as ``yaml.resolve`` would conclude after a call and a list concatenation per value.
    # That and the Loc built inline are most of the builder's cost on a large spec.

    def sequence(self, loc: Loc, depth: int) -> Sequence:
        seq = Sequence(loc)
        append, append_loc, file, next_event, value_of = seq.append, seq.item_locs.append, self.file, self.next_event, self.value
        text_ok = depth + 1 <= MAX_DEPTH
        while True:
            event = next_event()
            kind = event.__class__
            if kind is _ScalarEvent:
                mark = event.start_mark
                item_loc = _new_loc(Loc, (file, mark.line + 1, mark.column + 1))
                value = event.value
                if (text_ok and event.tag is None and event.anchor is None
                        and (not event.implicit[0] or value[:1] not in _RESOLVED_FIRST or _plain_text(value))):
                    append(value)
                else:
                    append(value_of(event, depth + 1))
            elif kind is _SequenceEndEvent:
                return seq
            else:
                item = value_of(event, depth + 1)
                item_loc = item.loc
                append(item)
            append_loc(item_loc)

    def mapping(self, loc: Loc, depth: int) -> Mapping:
        mapping = Mapping(loc)
        key_locs, value_locs, file, next_event, value_of = (mapping.key_locs, mapping.value_locs, self.file,
                                                            self.next_event, self.value)
        keys = self.keys
        text_ok = depth + 1 <= MAX_DEPTH
        while True:
            event = next_event()
            kind = event.__class__
            if kind is _MappingEndEvent:
                return mapping
            if kind is not _ScalarEvent:
                raise _Unusual("a key that is not text")
            key, tag = event.value, event.tag
            if event.anchor is not None:
                if event.anchor in self.anchors:
                    raise _Unusual("a duplicate anchor")
                self.anchors.add(event.anchor)
            # Only the merge key matters among key tags, and a plain key resolves to it only from "<".
            if tag is not None and (tag == _MERGE_TAG or (tag == "!" and key[:1] == "<")) or (
                    tag is None and key[:1] == "<"
                    and self.resolve(yaml.ScalarNode, key, event.implicit) == _MERGE_TAG):
                raise _Unusual("a merge key")
            if key in mapping:
                raise _Unusual("a duplicate key")
            key = keys.setdefault(key, key)
            mark = event.start_mark
            line = mark.line + 1
            key_locs[key] = _new_loc(Loc, (file, line, mark.column + 1))
            event = next_event()
            if event.__class__ is _ScalarEvent:
                mark = event.start_mark
                # `key: value` on one line shares the line number's int object (a line past 256 is one).
                value_locs[key] = _new_loc(Loc, (file, line if mark.line + 1 == line else mark.line + 1, mark.column + 1))
                value = event.value
                if (text_ok and event.tag is None and event.anchor is None
                        and (not event.implicit[0] or value[:1] not in _RESOLVED_FIRST or _plain_text(value))):
                    mapping[key] = value
                else:
                    mapping[key] = value_of(event, depth + 1)
            else:
                value = mapping[key] = value_of(event, depth + 1)
                value_locs[key] = value.loc


_ScalarEvent = yaml.ScalarEvent
_new_loc = tuple.__new__  # Loc(file, line, col) in one C call: the builder makes two per key
_SequenceEndEvent = yaml.SequenceEndEvent
_MappingEndEvent = yaml.MappingEndEvent
# The first characters from which an implicit resolver can give a plain scalar a tag other than
# text ('' for the empty scalar, which resolves to null). Wildcard resolvers (key None) would claim
# any character; PyYAML's safe loader has none, and the assertion keeps it so.
assert None not in _Loader.yaml_implicit_resolvers, "a wildcard implicit resolver: every plain scalar needs resolving"
_RESOLVED_FIRST = frozenset(_Loader.yaml_implicit_resolvers)
assert not _Loader.yaml_path_resolvers, "a path resolver: a plain scalar's tag would depend on where it is"
# Each first character's resolvers, as ``yaml.resolve`` tries them: the first whose pattern matches
# the whole scalar gives its tag; a scalar none matches is text.
_MATCHERS = {first: tuple(pattern.match for _tag, pattern in resolvers)
             for first, resolvers in _Loader.yaml_implicit_resolvers.items()}


def _plain_text(value: str) -> bool:
    """Whether no implicit resolver claims the plain scalar ``value``, which starts with a character
    some resolver is for (one in _RESOLVED_FIRST): ``yaml.resolve``'s answer, str, without its calls.
    A spec's sentences starting with N, Y, O, T or F ("Never ...") are tried against the patterns
    for yes/no/on/off/true/false/null, which fail on their first few characters."""
    for match in _MATCHERS[value[:1]]:
        if match(value):
            return False
    return True


def _stream_parse(text: str, file: str) -> Any:
    """The document's tree from ``_StreamBuilder``; raises _Unusual where the node builder must decide."""
    loader = _Loader(text)
    try:
        return _StreamBuilder(loader, file).document()
    except yaml.YAMLError:
        raise _Unusual("a YAML error") from None
    finally:
        loader.dispose()


def parse_text(text: str, file: str) -> Any:
    """Parse YAML text; raise SpecError with positions on any problem. None for an empty document."""
    try:
        return _stream_parse(text, file)
    except _Unusual:
        pass
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
