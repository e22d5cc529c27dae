"""Writing an imported spec: ids from free text, readable deterministic YAML, a validated atomic write.

Both importers (the Model Spec importer in ``model_spec`` and the prose importer in ``prose``)
produce a spec tree as plain dicts and hand it here.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any, Iterable

import yaml

from ..diagnostics import CharterError, SpecError
from ..io import write_text_atomic

ID_MAX = 80  # the schema's longest id


def slug(text: str, limit: int = ID_MAX) -> str:
    """A schema-valid id from any text: lowercase ASCII words joined by '-', cut at a word boundary."""
    words = re.findall(r"[a-z0-9]+", text.lower().replace("’", "").replace("'", ""))
    out = ""
    for word in words:
        candidate = f"{out}-{word}" if out else word
        if len(candidate) > limit:
            break
        out = candidate
    return out or (words[0][:limit] if words else "")


def unique_id(base: str, taken: set[str], limit: int = ID_MAX) -> str:
    """``base`` or ``base-2``, ``base-3``, ... whichever is free; recorded in ``taken``."""
    base = base or "item"
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        suffix = f"-{n}"
        candidate = base[: limit - len(suffix)].rstrip("-_.") + suffix
    taken.add(candidate)
    return candidate


class _Dumper(yaml.SafeDumper):
    """Block style everywhere; multi-line text as literal blocks, so prose stays readable."""


def _represent_text(dumper: yaml.SafeDumper, data: str):
    style = "|" if "\n" in data and not re.search(r"[ \t]\n|[ \t]$|^\s", data) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _represent_text)


def _dump(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100,
                     default_flow_style=False)


def to_yaml(spec: dict, header: Iterable[str] = (), comments: dict[str, str] | None = None) -> str:
    """Readable, deterministic YAML for a spec tree: one block per top-level key, a comment above each
    clause naming the source heading it came from (``comments`` maps ``kind:id`` to that text)."""
    comments = comments or {}
    out = [f"# {line}".rstrip() for line in header]
    kinds = {"values": "value", "rules": "rule", "traits": "trait", "tensions": "tension"}
    for key, value in spec.items():
        if key in kinds and isinstance(value, list):
            out.append(f"\n{key}:")
            for item in value:
                note = comments.get(f"{kinds[key]}:{item.get('id')}")
                if note:
                    out.append(f"# {' '.join(note.split())}")
                out.append(_dump([item]).rstrip("\n"))
        else:
            text = _dump({key: value}).rstrip("\n")
            out.append(("\n" + text) if key in ("contexts", "examples", "metadata", "notes") else text)
    return "\n".join(out) + "\n"


class SpecWriteError(CharterError):
    """Writing the imported spec failed: the target exists, or the result does not validate."""

    exit_code = 1


def write_spec(text: str, target: Path, *, force: bool = False) -> None:
    """Validate ``text`` as a spec, then write it to ``target`` atomically.

    Nothing is written when the text does not load (an importer bug, reported with the
    diagnostics) or when ``target`` exists and ``force`` is not set.
    """
    from ..spec import load

    if target.exists() and not force:
        raise SpecWriteError(f"{target} already exists (use --force to overwrite)")
    if target.exists() and not target.is_file():
        raise SpecWriteError(f"{target} exists and is not a file")
    with tempfile.TemporaryDirectory(prefix="charter-import-") as scratch:
        trial = Path(scratch) / target.name
        trial.write_text(text, encoding="utf-8")
        try:
            load(trial)
        except SpecError as err:
            first = err.diagnostics[0].format() if err.diagnostics else "invalid spec"
            raise SpecWriteError(f"the imported spec does not validate ({len(err.diagnostics)} problem(s)); "
                                 f"first: {first}") from err
    write_text_atomic(target, text)
