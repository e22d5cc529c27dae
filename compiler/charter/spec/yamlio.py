"""Read YAML into plain dicts and lists that remember where every node came from.

PyYAML's composer gives us a node graph with marks; we build the data ourselves rather than
through its constructor so that we can keep positions, reject duplicate keys, keep keys as the
text the author wrote (``no:`` stays the string "no"), and refuse alias bombs before they
expand.

Three readers build the same tree, each faster than the next and narrower: ``_LineParser`` reads
the block-style document most specs are, line by line; ``_StreamBuilder`` builds from libyaml's
events any single document without aliases or merge keys; ``_Builder`` takes PyYAML's node graph
and gives the positioned diagnostics. Each steps aside (``_Unusual``) for the next on anything it
does not take, so what a document means is always libyaml's reading.
"""

from __future__ import annotations

import codecs
import re
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
        return _constructed(self._scalar, tag, event.value, event.start_mark, event.end_mark, event.style)

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


def _constructed(loader: Any, tag: str, value: str, start_mark: Any = None, end_mark: Any = None,
                 style: str | None = None) -> Any:
    """The value of a scalar with ``tag`` other than text, made by PyYAML's safe constructor for it;
    _Unusual for a tag without one or a value it refuses, which the node builder reports with its
    position."""
    construct = _SCALAR_CONSTRUCTOR.get(tag)
    if construct is None:
        raise _Unusual("an unsupported tag")
    try:
        return construct(loader, yaml.ScalarNode(tag, value, start_mark, end_mark, style))
    except Exception:  # the node builder meets the same error and reports it its own way
        raise _Unusual("a scalar its constructor refuses") from None


def _after_flow_item(text: str, pos: int, closer: str) -> tuple[bool, int]:
    """After an item of a one-line flow collection: (True, the position after ``closer``) where the
    collection closes, (False, where the next item starts) after a comma; _Unusual otherwise."""
    pos = _SPACES(text, pos).end()
    after = text[pos:pos + 1]
    if after == closer:
        return True, pos + 1
    if after != ",":
        raise _Unusual("a flow collection this parser does not read")
    return False, _SPACES(text, pos + 1).end()


def _stream_parse(text: str, file: str) -> Any:
    """The document's tree from ``_StreamBuilder``; raises _Unusual where the node builder must decide."""
    loader = _Loader(text)
    try:
        return _StreamBuilder(loader, file).document()
    except yaml.YAMLError:
        raise _Unusual("a YAML error") from None
    finally:
        loader.dispose()


class _LineParser:
    """Builds the same Mapping/Sequence tree as ``_StreamBuilder`` from the text's lines, for the
    block-style document most specs are, without PyYAML's events.

    libyaml finds the events quickly, but PyYAML makes each of them a Python object with two marks:
    two thirds of reading a spec went into making and dropping event objects (610 M of the 920 M
    instructions that parsing a 2,000-rule spec took). This parser takes one line at a time with a
    few regular expressions and takes only what it can read unambiguously: block mappings with
    plain keys, block sequences (indented or not), plain, quoted and block (``|``, ``>``) scalars on
    their lines, and one-line flow collections of scalars. Anything else -- a multi-line plain or
    quoted scalar, an escape in a double-quoted one, a tag, an anchor, an alias, a complex or
    duplicate key, an empty value, a tab, a carriage return, a document marker, a syntax error --
    raises _Unusual, and ``_StreamBuilder`` (then the node builder) reads the document as before:
    this parser never decides what a document it does not fully understand means.
    tests/test_yaml_lines.py compares it with ``_StreamBuilder`` on every YAML file of the
    repository and on thousands of generated and mutated documents.
    """

    def __init__(self, text: str, file: str):
        if text.isascii():
            # Only the control characters are left after deleting every other ASCII byte.
            unusual = text.encode("ascii").translate(None, _USUAL_ASCII)
        else:
            unusual = not text.replace("\n", "").isprintable() and _UNUSUAL_CHARACTER(text)
        if unusual:
            raise _Unusual("a tab, another line break, a control character or a byte-order mark")
        # Each line cut in C: (indentation, a dash and its spaces, a plain key, the spaces after its
        # colon, the rest), a window of lines at a time as the parser reaches them (fill), and
        # dropped once read (drop): a 10 MB spec's rows all at once were 60 MB beside its tree.
        self.text = text
        self.rows: list[Any] = []
        self.count = text.count("\n") + 1  # rows in all
        self.next_start = 0  # where the next window of lines starts in the text
        self.dropped = 0  # rows before this one are None
        self.file = file
        self.row = 0  # the line being read
        self.keys: dict[str, str] = {}  # every key once, as _StreamBuilder keeps them
        self._scalars: Any = None  # a loader for the few plain scalars that are not text

    def fill(self, row: int) -> None:
        """Cuts lines into rows, about _WINDOW characters at a time, until row ``row`` is cut."""
        text, rows = self.text, self.rows
        while len(rows) <= row:
            start = self.next_start
            end = text.find("\n", start + _WINDOW)
            if end < 0:
                end = len(text)
            window = _LINE(text, start, end)
            if len(window) != text.count("\n", start, end) + 1:
                raise _Unusual("a line the line pattern does not cut")
            rows.extend(window)
            self.next_start = end + 1

    def drop(self, row: int) -> int:
        """Lets the rows before ``row`` go (the parser only reads forward); the row to call again at."""
        self.rows[self.dropped:row] = [None] * (row - self.dropped)
        self.dropped = row
        return row + _DROP_EVERY

    def line(self, row: int) -> str:
        """The text of line ``row``, from its row."""
        if row >= len(self.rows):
            self.fill(row)
        indent, dash, key, spaces, rest = self.rows[row]
        return f"{indent}{dash}{key}:{spaces}{rest}" if key else f"{indent}{dash}{rest}"

    def document(self) -> Mapping:
        indent = self.skip()
        if indent < 0:
            raise _Unusual("an empty document")
        if self.rows[self.row][1]:
            raise _Unusual("a document that is a list")
        root = self.mapping(indent, 0)
        if self.skip() >= 0:
            raise _Unusual("a line less indented than the document")
        return root

    def skip(self) -> int:
        """Moves to the next line that holds a node, past blank and comment lines: its indentation, or -1 at the end."""
        rows, row = self.rows, self.row
        count = self.count
        while row < count:
            if row >= len(rows):
                self.fill(row)
            indent, dash, key, _, rest = rows[row]
            if dash or key or (rest and rest[0] != "#"):
                self.row = row
                return len(indent)
            row += 1
        self.row = row
        return -1

    # mapping() and sequence() read most lines of a spec, so the common case is written out in them
    # rather than called: a plain scalar after the key, and a next line that holds a node.

    def mapping(self, col: int, depth: int) -> Mapping:
        """The block mapping whose first key stands at column ``col`` (from 0) of the current line
        (after a dash: a sequence item's mapping), and the rest of it at that column below."""
        if depth >= MAX_DEPTH:  # its values would be past MAX_DEPTH
            raise _Unusual("past MAX_DEPTH")
        rows, file, keys = self.rows, self.file, self.keys
        count = self.count
        row = self.row
        mapping = Mapping(_new_loc(Loc, (file, row + 1, col + 1)))
        key_locs, value_locs = mapping.key_locs, mapping.value_locs
        _, _, key, spaces, rest = rows[row]
        drop_at = self.dropped + _DROP_EVERY
        while True:
            if not key:
                raise _Unusual("a line that is not 'key: value'")
            if key in mapping:
                raise _Unusual("a duplicate key")
            key = keys.setdefault(key, key)
            number = row + 1
            key_locs[key] = _new_loc(Loc, (file, number, col + 1))
            first = rest[:1]
            if first and first not in _NOT_PLAIN_FIRST:  # a plain scalar: most values
                cut = rest.find(" #")
                value = (rest if cut < 0 else rest[:cut]).rstrip(" ")
                if ": " in value or value[-1] == ":":
                    raise _Unusual("a colon that makes a plain scalar a key")
                mapping[key] = value if first not in _RESOLVED_FIRST or _plain_text(value) else self.resolved(value)
                value_locs[key] = _new_loc(Loc, (file, number, col + len(key) + len(spaces) + 2))
                row += 1
            elif first and first != "#":
                mapping[key], value_locs[key] = self.inline(rest, row, col + len(key) + len(spaces) + 1, col,
                                                            depth + 1)
                row = self.row
            else:  # the value is on the lines below
                self.row = row + 1
                value = mapping[key] = self.nested(col, depth + 1)
                value_locs[key] = value.loc
                row = self.row
            if row > drop_at:
                drop_at = self.drop(row)
            if row < count:
                if row >= len(rows):
                    self.fill(row)
                indent, dash, key, spaces, rest = rows[row]
                if not (dash or key or (rest and rest[0] != "#")):
                    self.row = row
                    self.skip()
                    row = self.row
                    if row == count:
                        return mapping
                    indent, dash, key, spaces, rest = rows[row]
            else:
                self.row = row
                return mapping
            if len(indent) != col or dash:
                self.row = row
                if len(indent) > col or (len(indent) == col and dash):
                    raise _Unusual("a line more indented than the keys, or a dash among them, after a value")
                return mapping

    def nested(self, col: int, depth: int) -> Any:
        """The block collection below a key at column ``col`` that has nothing after its colon."""
        indent = self.skip()
        if indent >= col:
            if self.rows[self.row][1]:
                return self.sequence(indent, depth)
            if indent > col:
                return self.mapping(indent, depth)
        raise _Unusual("an empty value")

    def sequence(self, col: int, depth: int) -> Sequence:
        """The block sequence whose dashes stand at column ``col``, from the current line."""
        if depth >= MAX_DEPTH:  # its items would be past MAX_DEPTH
            raise _Unusual("past MAX_DEPTH")
        rows, file = self.rows, self.file
        row = self.row
        seq = Sequence(_new_loc(Loc, (file, row + 1, col + 1)))
        append, append_loc = seq.append, seq.item_locs.append
        while True:
            _, dash, key, _, rest = rows[row]
            start = col + len(dash)
            if key:  # `- key: value`: a mapping whose keys stand where this one does
                item = self.mapping(start, depth + 1)
                append(item)
                append_loc(item.loc)
            elif rest and rest[0] != "#":
                item, loc = self.inline(rest, row, start, col, depth + 1)
                append(item)
                append_loc(loc)
            else:
                raise _Unusual("an item on the lines below its dash")
            indent = self.skip()
            if self.row > self.dropped + _DROP_EVERY:
                self.drop(self.row)
            if indent != col:
                if indent > col:
                    raise _Unusual("a line more indented than the dashes after an item")
                return seq
            row = self.row
            if not rows[row][1]:
                # A key of the mapping that holds this sequence, when its dashes stand at the key's
                # column; anything else at a sequence's column is not YAML, and the mapping says so.
                return seq

    def inline(self, text: str, row: int, col: int, parent: int, depth: int) -> tuple[Any, Loc]:
        """The node that starts at column ``col`` of line ``row`` and is ``text`` to the end of the
        line (a block scalar goes on below it), and its position; moves past its last line.
        ``parent``: the column of the key or the dash it belongs to."""
        if depth > MAX_DEPTH:
            raise _Unusual("past MAX_DEPTH")
        first = text[0]
        if first == "[" or first == "{":
            value, end = (self.flow_sequence if first == "[" else self.flow_mapping)(text, 0, row, col, depth)
            loc = value.loc  # a collection carries this position already: shared, as _StreamBuilder shares it
        else:
            loc = _new_loc(Loc, (self.file, row + 1, col + 1))
            if first == "'" or first == '"':
                value, end = self.quoted(text, 0)
            elif first == "|" or first == ">":
                return self.block_scalar(text, row, parent), loc
            elif first in _NOT_PLAIN_FIRST:
                raise _Unusual("an indicator that starts no node this parser reads")
            else:
                cut = text.find(" #")
                value = (text if cut < 0 else text[:cut]).rstrip(" ")
                if ": " in value or value[-1] == ":":
                    raise _Unusual("a colon that makes a plain scalar a key")
                if first in _RESOLVED_FIRST and not _plain_text(value):
                    value = self.resolved(value)
                self.row = row + 1
                return value, loc
        if _NODE_END(text, end) is None:
            raise _Unusual("text after a node on its line")
        self.row = row + 1
        return value, loc

    def quoted(self, text: str, pos: int) -> tuple[str, int]:
        """The quoted scalar at ``pos`` (on one line; no escape in double quotes), and where it ends."""
        if text[pos] == "'":
            match = _SINGLE_QUOTED(text, pos)
            if match is None:
                raise _Unusual("a single-quoted scalar not closed on its line")
            value = match[1]
            return (value.replace("''", "'") if "''" in value else value), match.end()
        match = _DOUBLE_QUOTED(text, pos)
        if match is None:
            raise _Unusual("a double-quoted scalar with an escape, or not closed on its line")
        return match[1], match.end()

    def flow_node(self, text: str, pos: int, row: int, base: int, depth: int) -> tuple[Any, int]:
        """The node at ``pos`` inside a flow collection on line ``row`` (``text`` starts at column
        ``base``), and where it ends."""
        first = text[pos:pos + 1]
        if first == "'" or first == '"':
            return self.quoted(text, pos)
        if first == "[":
            return self.flow_sequence(text, pos, row, base, depth)
        if first == "{":
            return self.flow_mapping(text, pos, row, base, depth)
        match = _FLOW_PLAIN(text, pos)
        if match is None:
            raise _Unusual("a flow item this parser does not read")
        value = match[0].rstrip(" ")
        if value[0] in _RESOLVED_FIRST and not _plain_text(value):
            value = self.resolved(value)
        return value, match.end()

    def flow_sequence(self, text: str, pos: int, row: int, base: int, depth: int) -> tuple[Sequence, int]:
        """The flow sequence whose ``[`` is at ``pos`` (see flow_node), closed on its line, and where it ends."""
        if depth >= MAX_DEPTH:  # its items would be past MAX_DEPTH
            raise _Unusual("past MAX_DEPTH")
        file = self.file
        seq = Sequence(_new_loc(Loc, (file, row + 1, base + pos + 1)))
        close = text.find("]", pos)
        if close > 0 and _NAMES(text, pos + 1, close):  # `[value-0, rule:honesty]`: most flow sequences
            if close > pos + 1 and text[pos + 1:close].strip(" "):
                number, offset = seq.loc[1], base + pos + 2
                for piece in text[pos + 1:close].split(","):
                    item = piece.strip(" ")
                    seq.item_locs.append(_new_loc(Loc, (file, number, offset + piece.index(item[0]))))
                    seq.append(item if item[0] not in _RESOLVED_FIRST or _plain_text(item) else self.resolved(item))
                    offset += len(piece) + 1
            return seq, close + 1
        pos = _SPACES(text, pos + 1).end()
        if text[pos:pos + 1] == "]":
            return seq, pos + 1
        number = seq.loc[1]
        while True:
            seq.item_locs.append(_new_loc(Loc, (file, number, base + pos + 1)))
            item, pos = self.flow_node(text, pos, row, base, depth + 1)
            seq.append(item)
            closed, pos = _after_flow_item(text, pos, "]")
            if closed:
                return seq, pos

    def flow_mapping(self, text: str, pos: int, row: int, base: int, depth: int) -> tuple[Mapping, int]:
        """The flow mapping whose ``{`` is at ``pos`` (see flow_node), closed on its line, and where it ends."""
        if depth >= MAX_DEPTH:  # its values would be past MAX_DEPTH
            raise _Unusual("past MAX_DEPTH")
        file, keys = self.file, self.keys
        mapping = Mapping(_new_loc(Loc, (file, row + 1, base + pos + 1)))
        pos = _SPACES(text, pos + 1).end()
        if text[pos:pos + 1] == "}":
            return mapping, pos + 1
        number = mapping.loc[1]  # one line number for every position on the line
        while True:
            match = _FLOW_KEY(text, pos)
            if match is None:
                raise _Unusual("a flow mapping this parser does not read")
            key = match[1]
            if key in mapping:
                raise _Unusual("a duplicate key")
            key = keys.setdefault(key, key)
            mapping.key_locs[key] = _new_loc(Loc, (file, number, base + pos + 1))
            pos = match.end()
            value, end = self.flow_node(text, pos, row, base, depth + 1)
            mapping[key] = value
            mapping.value_locs[key] = (value.loc if value.__class__ is Mapping or value.__class__ is Sequence
                                       else _new_loc(Loc, (file, number, base + pos + 1)))
            closed, pos = _after_flow_item(text, end, "}")
            if closed:
                return mapping, pos

    def block_scalar(self, header: str, row: int, parent: int) -> str:
        """A literal (``|``) or folded (``>``) scalar whose header is ``header`` on line ``row``,
        read as libyaml's scan_block_scalar reads it; moves past its last line."""
        match = _BLOCK_HEADER(header)
        if match is None:
            raise _Unusual("a block scalar header with an indentation indicator or text after it")
        folded, chomping = match[1] == ">", match[2]
        line_of = self.line
        count = self.count
        current = row + 1
        line = line_of(current) if current < count else ""
        content = line.lstrip(" ")
        indent = len(line) - len(content)
        if not content or indent <= parent:
            raise _Unusual("a block scalar that starts with a blank line, or is empty")
        chunks: list[str] = []
        breaks: list[str] = []
        while True:
            chunks.extend(breaks)
            leading_non_space = line[indent] != " "
            chunks.append(line[indent:])
            line_break = "\n" if current + 1 < count else ""
            breaks = []
            following = current + 1
            while following + 1 < count:  # blank lines, each with its line break
                line = line_of(following)
                if line.strip(" "):
                    break
                if len(line) > indent:
                    raise _Unusual("a blank line of more spaces than the block scalar's indentation")
                breaks.append("\n")
                following += 1
            if following == count:
                break
            line = line_of(following)
            rest = line.lstrip(" ")
            if not rest:  # the last line, without a line break
                if len(line) > indent:
                    raise _Unusual("a blank line of more spaces than the block scalar's indentation")
                break
            if len(line) - len(rest) < indent:
                break
            # The next line goes on the scalar. A folded scalar joins lines that start at its
            # indentation with a space, or with the blank lines between them.
            if folded and line_break == "\n" and leading_non_space and line[indent] != " ":
                if not breaks:
                    chunks.append(" ")
            else:
                chunks.append(line_break)
            current = following
        if chomping != "-":
            chunks.append(line_break)
        if chomping == "+":
            chunks.extend(breaks)
        self.row = current + 1
        return "".join(chunks)

    def resolved(self, value: str) -> Any:
        """A plain scalar that an implicit resolver claims (a number, true/false, null, a date)."""
        if self._scalars is None:
            self._scalars = yaml.SafeLoader("")
        return _constructed(self._scalars, self._scalars.resolve(yaml.ScalarNode, value, (True, False)), value)


# Characters that end the line parser's part: tabs (YAML takes them in some places and not in
# others), YAML's other line breaks (\r, NEL, U+2028/9), the byte-order mark, and characters libyaml
# refuses to read. ASCII text is checked bytewise; other text that str.isprintable passes (its line
# feeds aside) has none of them, and the rest is searched. A small set: a class of every character
# YAML reads, up to U+10FFFF, took 0.01 s to compile.
_UNUSUAL_CHARACTER = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff\ufffe\uffff]").search
_DROP_EVERY = 4096  # rows read between two drops
_WINDOW = 1 << 18  # characters of text cut into rows at a time
_USUAL_ASCII = bytes([10, *range(0x20, 0x7f)])  # line feed and the printable characters
_LINE = re.compile(r"^( *)(- +)?(?:([A-Za-z0-9_][A-Za-z0-9_.\-]{0,199}):( +|$))?(.*)$", re.MULTILINE).findall
_FLOW_KEY = re.compile(r"([A-Za-z0-9_][A-Za-z0-9_.\-]{0,199}): +").match
_SINGLE_QUOTED = re.compile(r"'((?:[^']|'')*)'").match
_DOUBLE_QUOTED = re.compile(r'"([^"\\]*)"').match
# A plain scalar inside a flow collection: it ends at a flow indicator or a colon that ends a key;
# a colon followed by other text is its own (`[rule:honesty]`).
_FLOW_PLAIN = re.compile(r"[^ ,\[\]{}#:'\"!&*?|>%@`\-](?:[^,\[\]{}#:]|:(?=[^ ,?\[\]{}]))*").match
_NODE_END = re.compile(r"(?: +(?:#.*)?)?$").match  # what may follow a node on its line
_BLOCK_HEADER = re.compile(r"([|>])([-+]?)(?: +(?:#.*)?)?$").match
_SPACES = re.compile(" *").match
# Names separated by commas, as most flow sequences hold: no quote, bracket, comment or colon that ends a key.
_NAMES = re.compile(r" *(?:\w[\w.\-/]*(?::[\w.\-/]+)* *(?:, *\w[\w.\-/]*(?::[\w.\-/]+)* *)*)?").fullmatch
# First characters of a plain scalar that YAML gives another meaning (or that this parser leaves to libyaml).
_NOT_PLAIN_FIRST = frozenset("-?:,[]{}#&*!|>'\"%@`")


def parse_text(text: str, file: str) -> Any:
    """Parse YAML text; raise SpecError with positions on any problem. None for an empty document."""
    try:
        return _LineParser(text, file).document()
    except _Unusual:
        pass
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
