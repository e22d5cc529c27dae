"""Ids, context names and references checked whole, in code, after schema validation.

The schema's ``pattern`` for an id ends in ``$``, and Python's ``re.search`` (what jsonschema, and a
compiled validator, run) lets ``$`` match before a final newline: ``id: "mini\\n"`` passes the
schema and would name a build directory ``mini⏎/``. JSON Schema patterns are ECMA-262 regexes, in
which ``\\Z`` does not exist, so the schema cannot say "end of string" portably; this check does,
whatever engine validated the schema.

Each diagnostic is worded exactly as the schema's own (``bad-id``, ``bad-ref``, ``bad-version``), so
a validator that does catch the newline and this check together report it once.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Iterator

from ..diagnostics import Diagnostic, Loc, excerpt
from .schema import load_schema, where
from .yamlio import Mapping, Sequence

ID = re.compile(r"[a-z0-9]+(?:[-_.][a-z0-9]+)*")
REF = re.compile(r"(?:value|rule|trait|tension):[a-z0-9]+(?:[-_.][a-z0-9]+)*")
VERSION = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?")

_ID_DEFS = {"#/$defs/id": "id", "#/$defs/idList": "id", "#/$defs/contextList": "id",
            "#/$defs/ref": "ref", "#/$defs/refList": "ref"}


def _deref(node: Any, root: dict) -> Any:
    ref = node.get("$ref") if isinstance(node, dict) else None
    if isinstance(ref, str) and ref.startswith("#/") and ref not in _ID_DEFS:
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part]
        return _deref(target, root)
    return node


def _id_kind(node: Any, root: dict) -> str | None:
    """"id" or "ref" when ``node`` (a property's schema) holds one id or reference or a list of them."""
    node = _deref(node, root)
    if not isinstance(node, dict):
        return None
    if node.get("$ref") in _ID_DEFS:
        return _ID_DEFS[node["$ref"]]
    for key in ("anyOf", "oneOf", "allOf"):
        for branch in node.get(key, ()):
            kind = _id_kind(branch, root)
            if kind:
                return kind
    return _id_kind(node["items"], root) if "items" in node else None


@lru_cache(maxsize=None)
def id_fields() -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """Where the schema puts ids: top-level field -> kind, and for each list of items, item field -> kind.

    Read from the schema itself, so a field added there is checked here without a second list to keep.
    """
    root = load_schema()
    top: dict[str, str] = {}
    lists: dict[str, dict[str, str]] = {}
    for name, prop in root.get("properties", {}).items():
        kind = _id_kind(prop, root)
        if kind:
            top[name] = kind
            continue
        prop = _deref(prop, root)
        items = _deref(prop.get("items"), root) if isinstance(prop, dict) else None
        if isinstance(items, dict):
            fields = {field: kind for field, sub in items.get("properties", {}).items()
                      if (kind := _id_kind(sub, root))}
            if fields:
                lists[name] = fields
    return top, lists


def _bad_id(at: str, value: str) -> str:
    return f"{at}: {excerpt(value)} is not a valid id: use lowercase letters and digits, joined by single - _ or ."


def _bad_ref(at: str, value: str) -> str:
    return f"{at}: {excerpt(value)} is not a clause reference; write value:ID, rule:ID, trait:ID or tension:ID"


def _strings(owner: Mapping, key: str) -> Iterator[tuple[list, str, Loc]]:
    """(path suffix, text, position) of the string at ``owner[key]``, or of each string in the list
    there, that ends in a newline: the only ids ``check_ids`` has anything to say about."""
    value = owner.get(key)
    if isinstance(value, str):
        if value.endswith("\n"):
            yield [key], value, owner.value_locs.get(key, owner.loc)
    elif isinstance(value, Sequence):
        for index, item in enumerate(value):
            if isinstance(item, str) and item.endswith("\n"):
                yield [key, index], item, value.item_locs[index]


def check_ids(data: Any) -> list[Diagnostic]:
    """Every id-like string of one parsed file that the schema's pattern lets through only because
    ``$`` matched before a trailing newline. Everything else about ids is the schema's job."""
    if not isinstance(data, Mapping):
        return []
    out: list[Diagnostic] = []

    def check(path: list, text: str, loc: Loc, pattern: re.Pattern, message) -> None:
        if text.endswith("\n") and pattern.fullmatch(text) is None and pattern.fullmatch(text[:-1]) is not None:
            out.append(Diagnostic(loc, "bad-ref" if pattern is REF else "bad-id", message(where(path), text)))

    top, lists = id_fields()
    patterns = {"id": (ID, _bad_id), "ref": (REF, _bad_ref)}
    for field, kind in top.items():
        for suffix, text, loc in _strings(data, field):
            check(suffix, text, loc, *patterns[kind])
    version = data.get("version")
    if isinstance(version, str) and version.endswith("\n") and VERSION.fullmatch(version[:-1]):
        out.append(Diagnostic(data.value_locs.get("version", data.loc), "bad-version",
                              f"version: {excerpt(version)} is not a semantic version like 1.0.0"))
    contexts = data.get("contexts")
    if isinstance(contexts, Mapping):  # context names are keys: the schema checks them as propertyNames
        for name in contexts:
            if isinstance(name, str) and name.endswith("\n"):
                check(["contexts"], name, contexts.key_locs.get(name, contexts.loc), ID, _bad_id)
    for key, fields in lists.items():
        items = data.get(key)
        if not isinstance(items, Sequence):
            continue
        field_kinds = list(fields.items())
        for index, item in enumerate(items):
            if not isinstance(item, Mapping):
                continue
            for field, kind in field_kinds:
                # Most fields hold one id without a newline: passed over without _strings' generator
                # (2,000 rules have 12,000 such fields).
                value = item.get(field)
                if value is None or (value.__class__ is str and not value.endswith("\n")):
                    continue
                for suffix, text, loc in _strings(item, field):
                    check([key, index, *suffix], text, loc, *patterns[kind])
    return out
