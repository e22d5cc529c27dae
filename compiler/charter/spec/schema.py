"""Validate one spec file against spec/charter.schema.json and say what is wrong in plain words.

The verdict comes from a compiled validator (jsonschema-rs, about fifty times faster); only a
document it rejects goes through ``jsonschema``, whose errors carry the paths and schema
keywords that the positioned, did-you-mean messages are made from. ``jsonschema`` is imported
only then.
"""

from __future__ import annotations

import datetime
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from ..diagnostics import Diagnostic, Loc, excerpt
from .yamlio import Mapping, locate

if TYPE_CHECKING:
    import jsonschema
    from jsonschema.exceptions import ValidationError

JSON_TYPES = {dict: "a mapping", list: "a list", str: "text", bool: "true/false", int: "a number",
              float: "a number", type(None): "nothing (null)", datetime.date: "a date",
              datetime.datetime: "a date and time"}
EXPECTED = {"object": "a mapping", "array": "a list", "string": "text", "boolean": "true or false",
            "integer": "a whole number", "number": "a number", "null": "null"}


def _spec_folder() -> Path:
    # The package's own folder rather than importlib.resources, whose import (tempfile, random,
    # zipfile) was a tenth of `charter validate`: the package is always installed as files.
    from .. import _spec

    return Path(_spec.__file__).parent


def schema_text(name: str = "charter.schema.json") -> str:
    """The text of a schema shipped in the package (the files of the repository's spec/ folder)."""
    return (_spec_folder() / name).read_text(encoding="utf-8")


@lru_cache(maxsize=None)
def load_schema(name: str = "charter.schema.json") -> dict:
    return json.loads(schema_text(name))


@lru_cache(maxsize=None)
def validator(name: str = "charter.schema.json") -> jsonschema.Draft202012Validator:
    import jsonschema

    schema = load_schema(name)
    jsonschema.Draft202012Validator.check_schema(schema)
    # Resolving "$ref" through the registry on every node costs a third of validation time on
    # large specs; the schema is not recursive, so validate against an equivalent inlined copy.
    return jsonschema.Draft202012Validator(_inline_refs(schema, schema))


def _inline_refs(node: Any, root: dict) -> Any:
    if isinstance(node, list):
        return [_inline_refs(item, root) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part]
        siblings = {k: _inline_refs(v, root) for k, v in node.items() if k != "$ref"}
        inlined = _inline_refs(target, root)
        return {"allOf": [inlined], **siblings} if siblings else inlined
    return {k: _inline_refs(v, root) for k, v in node.items() if k != "$defs"}


@lru_cache(maxsize=None)
def compiled_validator(name: str = "charter.schema.json") -> Any:
    """jsonschema-rs's validator for the schema, or None where the package is not installed."""
    try:
        import jsonschema_rs
    except ImportError:
        return None
    return jsonschema_rs.Draft202012Validator(load_schema(name), validate_formats=False)


def is_valid(data: Any, name: str = "charter.schema.json") -> bool:
    """Whether a parsed document satisfies the schema: the verdict ``validate_document`` starts from."""
    compiled = compiled_validator(name)
    if compiled is not None:
        try:
            return compiled.is_valid(data)
        except (ValueError, TypeError, OverflowError):
            pass  # a value JSON has no type for (a YAML date, binary): jsonschema says where it is
    return next(iter(validator(name).iter_errors(data)), None) is None


def validate_document(data: Mapping, file: str) -> list[Diagnostic]:
    """Every schema violation in one parsed file, each placed at its node."""
    if is_valid(data):
        return []
    out: list[Diagnostic] = []
    for error in validator().iter_errors(data):
        out.extend(_translate(error, data, file))
    # Never let an invalid document through because no message was written for its error. (The
    # compiled validator can disagree where regex dialects differ: a trailing newline that Python's
    # `$` accepts; the whole-id check after the schema reports those.)
    error = None if out else next(iter(validator().iter_errors(data)), None)
    if error is not None:
        message = error.message.replace(repr(error.instance), excerpt(error.instance))
        out.append(Diagnostic(locate(data, list(error.absolute_path), Loc(file, 1, 1)), "schema",
                              f"{where(error.absolute_path)}: {message}".replace("\n", " ")[:300]))
    return out


def where(path: Iterable[Any]) -> str:
    text = ""
    for key in path:
        text += f"[{key}]" if isinstance(key, int) else (f".{key}" if text else str(key))
    return text or "spec"


def _deref(schema: dict) -> dict:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = load_schema()
        for part in ref[2:].split("/"):
            target = target[part]
        return target
    return schema


def _allowed_keys(schema: dict) -> list[str]:
    keys: list[str] = []
    stack = [schema]
    while stack:
        current = stack.pop()
        keys.extend(current.get("properties", {}))
        if "$ref" in current:
            stack.append(_deref(current))
        stack.extend(current.get("allOf", []))
    return sorted(set(keys))


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    import difflib  # here: only a spec with a mistake needs it, and every command loads a spec

    match = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _describe(value: Any) -> str:
    for kind, name in JSON_TYPES.items():
        if type(value) is kind or (kind is dict and isinstance(value, dict)) or (kind is list and isinstance(value, list)):
            return name
    return type(value).__name__


def _translate(error: ValidationError, root: Mapping, file: str) -> list[Diagnostic]:
    path = list(error.absolute_path)
    loc = locate(root, path, Loc(file, 1, 1))
    at = where(path)
    kind = error.validator
    instance = error.instance

    def diag(message: str, code: str, position: Loc = loc) -> list[Diagnostic]:
        return [Diagnostic(position, code, message)]

    if kind in ("additionalProperties", "unevaluatedProperties"):
        allowed = _allowed_keys(error.schema)
        patterns = list(error.schema.get("patternProperties", {}))
        extras = [k for k in instance if k not in allowed and not any(re.search(p, k) for p in patterns)]
        out = []
        for key in extras:
            key_loc = instance.key_locs.get(key, loc) if isinstance(instance, Mapping) else loc
            out.append(Diagnostic(key_loc, "unknown-key", f"{at}: unknown key {excerpt(key)}{did_you_mean(key, allowed)}"))
        return out
    if kind == "required":
        missing = [k for k in error.validator_value if k not in instance]
        return [Diagnostic(loc, "missing-field", f"{at}: missing required field {k!r}") for k in missing]
    if kind == "type":
        expected = error.validator_value
        expected = " or ".join(EXPECTED.get(t, t) for t in (expected if isinstance(expected, list) else [expected]))
        hint = ""
        if expected == "text" and (instance is None or isinstance(instance, (bool, int, float, datetime.date))):
            hint = "; put the value in quotes to make it text"
        return diag(f"{at}: expected {expected}, got {_describe(instance)}{hint}", "type")
    if kind == "enum" and not isinstance(instance, (str, int, float)) or isinstance(instance, bool) and kind == "enum":
        return diag(f"{at}: expected one of {', '.join(map(str, error.validator_value))}, got {_describe(instance)}", "type")
    if kind == "enum":
        options = ", ".join(str(o) for o in error.validator_value)
        suggestion = did_you_mean(str(instance), [str(o) for o in error.validator_value])
        return diag(f"{at}: {excerpt(instance)} is not one of: {options}{suggestion}", "enum")
    if kind == "const":
        if path == ["charter"]:
            return diag(f"unsupported spec language version {excerpt(instance)}; this Charter reads 'charter: 1'", "version")
        return diag(f"{at}: must be {error.validator_value!r}", "const")
    if kind == "pattern":
        pattern = error.validator_value
        if pattern == "\\S":
            return diag(f"{at}: must not be blank", "blank")
        if pattern.startswith("^(value|rule"):
            return diag(f"{at}: {excerpt(instance)} is not a clause reference; write value:ID, rule:ID, trait:ID or tension:ID", "bad-ref")
        if pattern.startswith("^(0|"):
            return diag(f"{at}: {excerpt(instance)} is not a semantic version like 1.0.0", "bad-version")
        return diag(f"{at}: {excerpt(instance)} is not a valid id: use lowercase letters and digits, joined by single - _ or .", "bad-id")
    if kind == "propertyNames":
        return [d for sub in error.context for d in _translate_name(sub, instance, at, loc)]
    if kind == "minLength":
        return diag(f"{at}: must not be empty", "blank")
    if kind == "minItems":
        n = error.validator_value
        return diag(f"{at}: needs at least {n} item{'s' if n != 1 else ''}", "too-few")
    if kind == "uniqueItems":
        seen, dup = set(), None
        for item in instance:
            key = json.dumps(item, sort_keys=True, default=str)
            if key in seen:
                dup = item
                break
            seen.add(key)
        return diag(f"{at}: lists {excerpt(dup)} more than once", "duplicate-item")
    if kind == "oneOf" and not isinstance(instance, dict):
        # Branches of different types (text or a mapping): name them all. Where only the
        # object-shaped branches disagree, a separate type error already says it.
        types = [e.validator_value for e in error.context if e.validator == "type" and not e.relative_path]
        if len(types) < len(error.schema.get("oneOf", ())):
            return []
        expected = " or ".join(dict.fromkeys(EXPECTED.get(t, t) for t in types))
        hint = "; put the value in quotes to make it text" if "text" in expected and (
            instance is None or isinstance(instance, (bool, int, float, datetime.date))) else ""
        return diag(f"{at}: expected {expected}, got {_describe(instance)}{hint}", "type")
    if kind == "oneOf" and "good" in (error.schema.get("properties") or {}):
        if "prompt" in instance and "conversation" in instance:
            return diag(f"{at}: give either 'prompt' or 'conversation', not both", "prompt-or-conversation")
        return diag(f"{at}: missing 'prompt' (the user's message) or 'conversation'", "missing-field")
    if kind in ("anyOf", "oneOf") and error.context:
        # Report the branch that got furthest rather than "is not valid under any of the given schemas".
        best = max(error.context, key=lambda e: (e.validator != "type", len(e.absolute_path)))
        return _translate(best, root, file)
    if kind in ("minimum", "maximum"):
        word = "at least" if kind == "minimum" else "at most"
        return diag(f"{at}: must be {word} {error.validator_value}, got {excerpt(instance)}", "range")
    if kind == "maxItems":
        return diag(f"{at}: has more than {error.validator_value} items", "too-many")
    if kind == "maxLength":
        return diag(f"{at}: longer than {error.validator_value} characters", "too-long")
    # jsonschema's own message starts with the whole instance; quote only an excerpt of it.
    message = error.message.replace(repr(instance), excerpt(instance))
    return diag(f"{at}: {message}".replace("\n", " ")[:300], kind or "schema")


def _translate_name(error: ValidationError, mapping: Any, at: str, loc: Loc) -> list[Diagnostic]:
    name = error.instance
    key_loc = mapping.key_locs.get(name, loc) if isinstance(mapping, Mapping) else loc
    return [Diagnostic(key_loc, "bad-id",
                       f"{at}: {excerpt(name)} is not a valid id: use lowercase letters and digits, joined by single - _ or .")]


def schema_path(name: str = "charter.schema.json") -> str:
    """A filesystem path to the shipped schema, for editors' `# yaml-language-server: $schema=` lines."""
    return str(_spec_folder() / name)
