"""JSON text for artifacts: orjson's speed with exactly the bytes ``json.dumps`` writes.

Every artifact Charter writes as JSON uses one of two forms, both with sorted keys and UTF-8 kept
(``ensure_ascii=False``): ``pretty`` (indent 2: the manifest, prompt and monitor files) and
``line`` (no spaces: one JSONL record, the spec digest's canonical text).

``json.dumps`` with an indent runs in pure Python (0.13 s of the 2,000-rule build); orjson writes
the same text about ten times faster. The two agree byte for byte on strings (escapes, non-ASCII,
key order), integers within 64 bits and most floats, and differ elsewhere: orjson writes 1e-05 as
``1e-5``, NaN and infinities as ``null``, serialises dataclasses, enums, dates and UUIDs that
``json`` refuses, and refuses keys that are not text and integers beyond 64 bits. So a document
goes to orjson only after a walk has found nothing but text keys, str, int, bool, None, finite
floats outside (0, 1e-4), dicts, lists and tuples, no deeper than orjson nests; anything else, or
any orjson error, goes to ``json``, which then writes (or refuses) exactly what it always did.

``line`` stays with json's C encoder, reused rather than rebuilt per call: for small records the
walk that makes orjson safe costs as much as orjson saves. tests/test_jsonenc.py compares both
forms with ``json.dumps`` on every code point, random floats and random documents.
"""

from __future__ import annotations

import json
import math
from itertools import chain, compress
from typing import Any, Callable, Iterable

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is a dependency; json alone gives the same bytes
    orjson = None  # type: ignore[assignment]

# orjson refuses documents nested deeper than 254 containers; deeper ones go to json.
_MAX_DEPTH = 254
# Below this (and above zero) Python writes a float as 1e-05 and orjson as 1e-5.
_SMALLEST_PLAIN_FLOAT = 1e-4
_PLAIN_SCALARS = (str, int, bool, type(None))
_PLAIN_SCALAR_SET = frozenset(_PLAIN_SCALARS)
_TEXT_KEYS = frozenset([str])
_FLOAT_KIND = frozenset([float])
_CONTAINER_TYPES = (dict, list, tuple)  # and their subclasses, as json writes them
# A container with more values than this (that are not all plain scalars) is walked level by level.
_WIDE = 32

_LINE = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))
_LINE_UNSORTED = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _orjson_writes_as_json(obj: Any, depth: int = 0) -> bool:
    """Whether orjson would write ``obj`` exactly as ``json.dumps`` does (see the module docstring)."""
    if depth >= _MAX_DEPTH:
        return False
    if isinstance(obj, dict):
        if not _TEXT_KEYS.issuperset(map(type, obj)):  # every key exactly str, checked in C
            return False
        values = obj.values()
    elif isinstance(obj, (list, tuple)):
        values = obj
    else:
        values = (obj,)
    if _PLAIN_SCALAR_SET.issuperset(map(type, values)):  # a list of strings, say: checked in C
        return True
    if len(values) > _WIDE:
        return _writes_level_by_level(obj, depth)
    for value in values:
        kind = type(value)
        if kind in _PLAIN_SCALARS:
            continue
        if kind is float:
            # NaN fails both comparisons; infinities fail the second.
            if value != 0.0 and not (_SMALLEST_PLAIN_FLOAT <= abs(value) < math.inf):
                return False
        elif kind is dict or kind is list or kind is tuple or isinstance(value, (dict, list)):
            # A container of text and plain scalars (a manifest's list of ids, a schema's enum) is
            # accepted here, as the call below would accept it, without the call.
            if depth + 1 < _MAX_DEPTH and (
                    _PLAIN_SCALAR_SET.issuperset(map(type, value.values())) and _TEXT_KEYS.issuperset(map(type, value))
                    if kind is dict else (kind is list or kind is tuple) and _PLAIN_SCALAR_SET.issuperset(map(type, value))):
                continue
            if not _orjson_writes_as_json(value, depth + 1):
                return False
        else:
            return False
    return True


def _writes_level_by_level(obj: Any, depth: int) -> bool:
    """``_orjson_writes_as_json(obj, depth)`` for a wide container: walked one nesting level at a
    time, each step over a whole level running in C (the types of its values, its floats, its
    dicts' keys, the next level's values), so many small containers (a monitor's schema has one
    per clause, a manifest's coverage table three lists per clause) cost a few passes over their
    values rather than a Python call each. Each step costs a few microseconds whatever the
    level's size, so small containers are walked by the recursion instead."""
    level = [obj]
    for depth in range(depth, _MAX_DEPTH + 1):
        kinds = set(map(type, level))
        if kinds <= _PLAIN_SCALAR_SET:
            return True
        if float in kinds:
            for value in compress(level, map(_FLOAT_KIND.__contains__, map(type, level))):
                # NaN fails both comparisons; infinities fail the second.
                if value != 0.0 and not (_SMALLEST_PLAIN_FLOAT <= abs(value) < math.inf):
                    return False
            kinds.discard(float)
        kinds -= _PLAIN_SCALAR_SET
        if not kinds:
            return True
        if depth == _MAX_DEPTH or not all(issubclass(kind, _CONTAINER_TYPES) for kind in kinds):
            return False  # too deeply nested for orjson, or a value json and orjson write differently
        dict_kinds = frozenset(kind for kind in kinds if issubclass(kind, dict))
        dicts = list(compress(level, map(dict_kinds.__contains__, map(type, level)))) if dict_kinds else []
        if not _TEXT_KEYS.issuperset(map(type, chain.from_iterable(dicts))):  # every key exactly str
            return False
        next_level = list(chain.from_iterable(map(dict.values, dicts)))
        if len(dict_kinds) < len(kinds):
            sequence_kinds = kinds - dict_kinds
            next_level += chain.from_iterable(compress(level, map(sequence_kinds.__contains__, map(type, level))))
        level = next_level
    return False  # not reached: the last level returns in the loop


def _fast(obj: Any, option: int) -> bytes | None:
    if orjson is None or not _orjson_writes_as_json(obj):
        return None
    try:
        return orjson.dumps(obj, option=option)
    except (TypeError, ValueError, OverflowError):  # JSONEncodeError is a TypeError: json decides
        return None


def _pretty_fast(obj: Any) -> bytes | None:
    return _fast(obj, orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) if orjson is not None else None


def pretty_bytes(obj: Any) -> bytes:
    """``json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=True)`` plus a newline, as UTF-8."""
    fast = _pretty_fast(obj)
    if fast is not None:
        return fast + b"\n"
    return (json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")


def pretty(obj: Any) -> str:
    """``json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=True)`` (no trailing newline)."""
    fast = _pretty_fast(obj)
    if fast is not None:
        return fast.decode("utf-8")
    return json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=True)


def line(obj: Any, *, sort_keys: bool = True, default: Callable[[Any], Any] | None = None) -> str:
    """``json.dumps(obj, ensure_ascii=False, sort_keys=sort_keys, separators=(",", ":"), default=default)``."""
    if default is None:
        return (_LINE if sort_keys else _LINE_UNSORTED).encode(obj)
    return json.dumps(obj, ensure_ascii=False, sort_keys=sort_keys, separators=(",", ":"), default=default)


def line_bytes(obj: Any) -> bytes:
    """``line(obj)`` as UTF-8: orjson's bytes when the walk finds it writes them as json does
    (worth it for a flat record, such as a training row's meta line), else json's."""
    fast = _fast(obj, orjson.OPT_SORT_KEYS) if orjson is not None else None
    return fast if fast is not None else _LINE.encode(obj).encode("utf-8")


def lines(objects: Any) -> str:
    """One ``line(obj)`` per object, each ending in a newline: a JSONL file's text."""
    encode = _LINE.encode
    return "".join([encode(obj) + "\n" for obj in objects])


def text_record_lines(records: Iterable[Any]) -> bytes:
    """``lines(records)`` as UTF-8, for records built from text alone: dicts with text keys, lists
    and tuples, and leaves that are exact ``str``, ``bool``, ``None`` or ``int``, or floats that are
    finite and either zero or at least 1e-4 in size (orjson and json write those alike). The caller
    vouches for that (training data checks each row's texts, see charter.targets.data), since
    checking it here costs what orjson saves. On such records orjson writes what json does (strings, key order,
    integers: tests/test_jsonenc.py); a record orjson refuses (a lone surrogate, an integer beyond
    64 bits) is written by json, as ``lines`` would."""
    if orjson is None:
        return lines(records).encode("utf-8")
    dumps, option = orjson.dumps, orjson.OPT_SORT_KEYS
    # Appended to one buffer as they come: each bytes object orjson returns keeps a buffer of a few
    # kilobytes however short its text, so a list of them took twelve times the file's size.
    out = bytearray()
    for record in records:
        try:
            out += dumps(record, option=option)
        except (TypeError, ValueError, OverflowError):  # JSONEncodeError is a TypeError
            out += _LINE.encode(record).encode("utf-8")
        out += b"\n"
    return bytes(out)
