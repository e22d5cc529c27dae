"""Resolve `extends`: read every file of a spec's tree, validate each, and merge them child-over-base.

Merge semantics (spec/SPEC.md, "extends"):
  * the files are put in one linear order — depth first, each base before the file that extends
    it, bases left to right, every file once (so a base shared by two parents in a diamond is
    applied once, first) — and merged in that order: a later file wins over an earlier one;
  * id lists (values, traits, rules, tensions, examples, probes) merge by id: an item whose id
    is already present replaces it in place, new items are appended in the child's order;
    a value may move itself with ``before: <value id>``;
  * contexts and metadata merge by key; identity and its voice merge key by key;
  * drift.risks and lint.ignore are unions; other drift and training keys: the child wins;
  * every other top-level field: the child's value, if it gives one.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from .._fork import Beside, can_fork
from ..diagnostics import SpecError, Diagnostic, Loc, UnreadableError, excerpt
from .ids import check_ids
from .schema import validate_document, where
from .yamlio import Mapping, Sequence, read_file

ID_LISTS = ("values", "traits", "rules", "tensions", "examples", "probes")
KEYED_MAPPINGS = ("contexts", "metadata")
KIND_OF_LIST = {"values": "value", "traits": "trait", "rules": "rule", "tensions": "tension",
                "examples": "example", "probes": "probe"}


def display_path(path: Path) -> str:
    """Paths in messages: relative to the working directory when below it, as an editor would show them."""
    try:
        return str(_real(path).relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)


class SymlinkLoop(Exception):
    """A path runs through a loop of symbolic links."""


def _real(path: Path) -> Path:
    """``path.resolve()``, with a symlink loop as SymlinkLoop whatever the Python version (RuntimeError
    before 3.13, OSError ELOOP since)."""
    try:
        return path.resolve()
    except RuntimeError as err:
        raise SymlinkLoop(str(err)) from None
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise SymlinkLoop(str(err)) from None
        raise


@dataclass
class _Resolver:
    """Reads a spec file and the files it extends, depth first, collecting every problem."""

    root: Path
    allow_outside: bool
    diagnostics: list[Diagnostic] = field(default_factory=list)
    visited: dict[Path, bool] = field(default_factory=dict)  # path -> read and followed cleanly
    linear: list[Mapping] = field(default_factory=list)  # every file once, bases before extenders
    documents: list[tuple[Mapping, str]] = field(default_factory=list)  # (file, its name): for check_files
    source_bytes: int = 0
    order: list[str] = field(default_factory=list)
    unreadable: bool = False  # some extended file could not be read at all

    def visit(self, path: Path, chain: tuple[Path, ...], via: Loc | None = None) -> bool:
        """Read ``path``, then its bases depth first; add it to the linear order after them.

        ``via`` is the `extends` entry that named ``path`` (None for the entry spec). Returns False
        when the file or one of its bases could not be read or followed.
        """
        if path in self.visited:
            return self.visited[path]
        display = display_path(path)
        try:
            data = read_file(path, display)
        except UnreadableError as err:
            if not chain:
                raise
            # An extended file that cannot be read (a device, too large, no permission) makes the
            # whole spec unreadable (exit 2); say so at the `extends` entry that named it.
            self.unreadable = True
            self.diagnostics.extend(
                Diagnostic(via or d.loc, d.code, f"extends {display}: {d.message}") for d in err.diagnostics)
            self.visited[path] = False
            return False
        except SpecError as err:
            self.diagnostics.extend(err.diagnostics)
            self.visited[path] = False
            return False
        self.order.append(display)
        self.documents.append((data, display))  # checked on their own by the caller: see FileChecks
        self.source_bytes += _size(path)
        clean = True
        extends = data.get("extends")
        if isinstance(extends, Sequence):
            for index, target in enumerate(extends):
                if isinstance(target, str):
                    clean = self._follow(path, target, extends.item_locs[index], chain + (path,)) and clean
        self.visited[path] = clean
        # A file with schema errors still merges, so that reference checks can run on what is
        # there; the caller raises before anything is built from it.
        self.linear.append(data)
        return clean

    def _follow(self, parent: Path, target: str, loc: Loc, chain: tuple[Path, ...]) -> bool:
        def fail(code: str, message: str) -> None:
            self.diagnostics.append(Diagnostic(loc, code, message))

        names = " -> ".join(display_path(p) for p in chain)
        quoted = excerpt(target, 120)
        if os.path.isabs(target) and not self.allow_outside:
            fail("extends-outside", f"extends {quoted}: absolute paths are refused (use a path relative to this file, or --allow-outside)")
            return False
        try:
            candidate = _real(parent.parent / target)
        except SymlinkLoop:
            self.unreadable = True
            fail("symlink-loop", f"extends {quoted}: the path runs through a loop of symbolic links (via {names})")
            return False
        if not self.allow_outside and not candidate.is_relative_to(self.root):
            fail("extends-outside", f"extends {quoted}: leaves the spec's folder {display_path(self.root)}/ (refused unless --allow-outside)")
            return False
        if candidate in chain:
            cycle = " -> ".join(display_path(p) for p in chain[chain.index(candidate):] + (candidate,))
            fail("extends-cycle", f"extends cycle: {cycle}")
            return False
        if not candidate.exists():
            fail("extends-missing", f"extends {quoted}: no such file {display_path(candidate)} (via {names})")
            return False
        if candidate.is_dir():
            fail("extends-missing", f"extends {quoted}: {display_path(candidate)} is a directory, not a file (via {names})")
            return False
        # Any other file that is not a regular file (a FIFO, a device) is refused by read_file, unread.
        return self.visit(candidate, chain, loc)


def check_files(documents: list[tuple[Mapping, str]]) -> list[Diagnostic]:
    """The checks each file of a spec gets on its own: the schema, the form of every id, and ids
    given twice in one list."""
    return [diagnostic for data, file in documents
            for diagnostic in (*validate_document(data, file), *check_ids(data), *_duplicate_ids(data))]


# A spec whose files hold this many bytes or more has its files checked (check_files) in a worker
# process while the loader checks references and builds the IR (see FileChecks): the schema
# validator's import alone (jsonschema-rs imports email.utils and socket) takes about 20 ms, and
# for smaller specs the rest of loading is over sooner. Up to the larger bound only: the worker
# reads the whole tree, and the kernel copies every page it touches.
FILE_CHECK_WORKER_MIN_BYTES = 200_000
FILE_CHECK_WORKER_MAX_BYTES = 2_000_000


class FileChecks(Beside[list[Diagnostic]]):
    """check_files on a spec's files, in a forked worker process beside the caller where that is
    safe and pays (see FILE_CHECK_WORKER_MIN_BYTES), else here; ``result()`` gives the diagnostics."""

    def __init__(self, documents: list[tuple[Mapping, str]], source_bytes: int) -> None:
        worth = FILE_CHECK_WORKER_MIN_BYTES <= source_bytes <= FILE_CHECK_WORKER_MAX_BYTES and can_fork()
        super().__init__(lambda: check_files(documents), fork=worth)


def _size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:  # read a moment ago, gone now: the size only decides where the files are checked
        return 0


def _duplicate_ids(data: Mapping) -> list[Diagnostic]:
    out = []
    for key in ID_LISTS:
        items = data.get(key)
        if not isinstance(items, Sequence):
            continue
        seen: dict[str, Loc] = {}
        for item in items:
            if not isinstance(item, Mapping) or not isinstance(item.get("id"), str):
                continue
            ident, loc = item["id"], item.value_locs["id"]
            if ident in seen:
                out.append(Diagnostic(loc, "duplicate-id",
                                      f"{where([key])}: duplicate {KIND_OF_LIST[key]} id {excerpt(ident)} (first defined at line {seen[ident].line})"))
            else:
                seen[ident] = loc
    return out


def _copy_mapping(source: Mapping) -> Mapping:
    copy = Mapping(source.loc)
    copy.update(source)
    copy.key_locs.update(source.key_locs)
    copy.value_locs.update(source.value_locs)
    return copy


def _copy_sequence(source: Sequence) -> Sequence:
    copy = Sequence(source.loc)
    copy.extend(source)
    copy.item_locs.extend(source.item_locs)
    return copy


def _put(target: Mapping, key: str, value: Any, source: Mapping, source_key: str | None = None) -> None:
    source_key = source_key or key
    target[key] = value
    target.key_locs[key] = source.key_locs.get(source_key, source.loc)
    target.value_locs[key] = source.value_locs.get(source_key, source.loc)


def _merge_keyed(base: Mapping, child: Mapping) -> Mapping:
    merged = _copy_mapping(base)
    merged.loc = child.loc
    for key, value in child.items():
        _put(merged, key, value, child)
    return merged


def _merge_union(base: Sequence, child: Sequence) -> Sequence:
    merged = Sequence(child.loc)
    for seq in (base, child):
        for item, loc in zip(seq, seq.item_locs):
            if item not in merged:
                merged.append(item)
                merged.item_locs.append(loc)
    return merged


def _merge_by_id(base: Sequence, child: Sequence) -> Sequence:
    merged = Sequence(child.loc)
    position: dict[Any, int] = {}
    for seq in (base, child):
        for item, loc in zip(seq, seq.item_locs):
            ident = item.get("id") if isinstance(item, dict) else None
            if ident is not None and ident in position:
                merged[position[ident]] = item
                merged.item_locs[position[ident]] = loc
            else:
                if ident is not None:
                    position[ident] = len(merged)
                merged.append(item)
                merged.item_locs.append(loc)
    return merged


def _apply_before(values: Sequence, child: Sequence, diagnostics: list[Diagnostic]) -> Sequence:
    """Move each of the child's values that says ``before: X`` to just before value X."""
    values = _copy_sequence(values)  # never reorder a file's own list
    for item in child:
        target = item.get("before") if isinstance(item, Mapping) else None
        if not isinstance(target, str):
            continue
        ids = [v.get("id") if isinstance(v, dict) else None for v in values]
        if target not in ids or target == item.get("id"):
            diagnostics.append(Diagnostic(item.value_locs["before"], "undefined-ref",
                                          f"values: 'before' names {excerpt(target)}, which is not another value"))
            continue
        moving = ids.index(item["id"])
        entry, loc = values.pop(moving), values.item_locs.pop(moving)
        dest = [v.get("id") if isinstance(v, dict) else None for v in values].index(target)
        values.insert(dest, entry)
        values.item_locs.insert(dest, loc)
    return values


def merge(base: Mapping, child: Mapping, diagnostics: list[Diagnostic]) -> Mapping:
    """``child`` merged on top of ``base`` (both schema-valid trees); neither is modified."""
    merged = _copy_mapping(base)
    merged.loc = child.loc
    for key, value in child.items():
        if key == "extends":
            continue
        old = merged.get(key)
        if key in ID_LISTS and isinstance(old, Sequence) and isinstance(value, Sequence):
            value = _merge_by_id(old, value)
        elif key in KEYED_MAPPINGS and isinstance(old, Mapping) and isinstance(value, Mapping):
            value = _merge_keyed(old, value)
        elif key == "identity" and isinstance(old, Mapping) and isinstance(value, Mapping):
            voice_old, voice_new = old.get("voice"), value.get("voice")
            value = _merge_keyed(old, value)
            if isinstance(voice_old, Mapping) and isinstance(voice_new, Mapping):
                _put(value, "voice", _merge_keyed(voice_old, voice_new), value)
        elif key in ("drift", "training", "lint") and isinstance(old, Mapping) and isinstance(value, Mapping):
            combined = _merge_keyed(old, value)
            for union_key in ("risks", "ignore"):
                if isinstance(old.get(union_key), Sequence) and isinstance(value.get(union_key), Sequence):
                    _put(combined, union_key, _merge_union(old[union_key], value[union_key]), value)
            value = combined
        _put(merged, key, value, child)
    if isinstance(merged.get("values"), Sequence) and isinstance(child.get("values"), Sequence):
        merged["values"] = _apply_before(merged["values"], child["values"], diagnostics)
    merged.pop("extends", None)
    return merged


class Resolved(NamedTuple):
    merged: Mapping | None  # None when a file could not be parsed or an `extends` could not be followed
    files: list[str]  # the files read, as shown
    diagnostics: list[Diagnostic]  # every problem found but check_files's
    documents: list[tuple[Mapping, str]]  # each file read and its name: what check_files reads
    source_bytes: int  # the files' size


def resolve(path: Path, allow_outside: bool = False) -> Resolved:
    """Read ``path`` and everything it extends, and merge them.

    Every problem is found but those of check_files (the schema, the form of ids, ids given twice
    in a file): the caller checks ``documents`` with FileChecks, which may check them in a worker
    process while the caller goes on.
    """
    try:
        entry = _real(path)
    except SymlinkLoop:
        raise UnreadableError([Diagnostic(Loc(str(path)), "symlink-loop",
                                          "the path runs through a loop of symbolic links")]) from None
    resolver = _Resolver(root=entry.parent, allow_outside=allow_outside)
    if not resolver.visit(entry, ()):
        if resolver.unreadable:
            raise UnreadableError(resolver.diagnostics)
        return Resolved(None, resolver.order, resolver.diagnostics, resolver.documents, resolver.source_bytes)
    merged = Mapping(resolver.linear[-1].loc)
    for data in resolver.linear:
        merged = merge(merged, data, resolver.diagnostics)
    return Resolved(merged, resolver.order, resolver.diagnostics, resolver.documents, resolver.source_bytes)
