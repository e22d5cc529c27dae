"""Diagnostics: the one error currency of every stage, from the YAML reader to the linter."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Iterable


_new_tuple = tuple.__new__


class Loc(tuple):
    """A position in a source file; line and column count from 1.

    A tuple of (file, line, col), so that the YAML reader, which makes two for every key of a spec
    (61,000 for a 2,000-rule spec), builds one with a single C call, ``tuple.__new__(Loc, (file, line, col))``:
    a frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``, and that was a
    tenth of loading a large spec. Immutable, hashable and ordered by (file, line, col), as the
    frozen dataclass it replaces was.
    """

    __slots__ = ()

    def __new__(cls, file: str, line: int = 0, col: int = 0) -> "Loc":
        return _new_tuple(cls, (file, line, col))

    file = property(itemgetter(0), doc="the file's path as shown to users")
    line = property(itemgetter(1), doc="line number from 1; 0 when the position is the whole file")
    col = property(itemgetter(2), doc="column number from 1; 0 when unknown")

    def __getnewargs__(self) -> tuple:  # pickle and copy go through __new__
        return tuple(self)

    def __repr__(self) -> str:
        return f"Loc(file={self[0]!r}, line={self[1]!r}, col={self[2]!r})"

    def __str__(self) -> str:
        if self[1]:
            return f"{self[0]}:{self[1]}:{self[2]}"
        return self[0]

    def to_dict(self) -> dict:
        return {"file": self[0], "line": self[1], "col": self[2]}


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem found in a spec: where, how bad, which check, and what to do."""

    loc: Loc
    code: str
    message: str
    severity: str = "error"
    # Lint rules carry a kebab-case name next to their code; front-end checks use the name as code.
    name: str = ""
    related: tuple[Loc, ...] = field(default=())

    def format(self) -> str:
        tag = f"{self.code} {self.name}" if self.name else self.code
        return f"{self.loc}: {self.severity}: {self.message} [{tag}]"

    def to_dict(self) -> dict:
        data = {
            "file": self.loc.file,
            "line": self.loc.line,
            "column": self.loc.col,
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
        }
        if self.name:
            data["name"] = self.name
        if self.related:
            data["related"] = [r.to_dict() for r in self.related]
        return data


# A diagnostic names the value it is about, but a value can be a whole file (`extends: [.env]`
# parses as one string) or a pasted secret: messages quote at most this much of it.
EXCERPT_CHARS = 60


def excerpt(value: object, limit: int = EXCERPT_CHARS) -> str:
    """``value`` quoted for a message: its repr, cut to about ``limit`` characters with an ellipsis.

    Every diagnostic that quotes a value from the user's files goes through here, so no message
    (nor the SARIF and JSON built from messages) carries more than a short excerpt of it.
    """
    if isinstance(value, str):
        return repr(value) if len(value) <= limit else repr(value[:limit]) + "…"
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def sort_key(d: Diagnostic):
    return (d.loc.file, d.loc.line, d.loc.col, d.code, d.message)


class CharterError(Exception):
    """The root of every error Charter raises on purpose.

    ``exit_code`` is what the command line exits with; the CLI maps errors to exit codes in one
    place by reading it. Errors that carry positioned diagnostics (``SpecError``) expose them as
    ``diagnostics``; every other error has one message line.
    """

    exit_code: int = 2
    diagnostics: tuple[Diagnostic, ...] = ()


class SpecError(CharterError):
    """A spec cannot be loaded or compiled; carries every diagnostic found, not only the first."""

    exit_code = 1

    def __init__(self, diagnostics: Iterable[Diagnostic]):
        self.diagnostics: tuple[Diagnostic, ...] = tuple(sorted(set(diagnostics), key=sort_key))
        super().__init__(self.diagnostics[0].format() if self.diagnostics else "invalid spec")

    def __str__(self) -> str:
        return "\n".join(d.format() for d in self.diagnostics)

    def __reduce__(self):
        # Pickled by its diagnostics, the constructor's argument (a worker process sends its error
        # back pickled; the default would call the constructor with the message).
        return type(self), (self.diagnostics,), self.__dict__

    def to_json(self) -> str:
        return json.dumps([d.to_dict() for d in self.diagnostics], indent=2)


class UnreadableError(SpecError):
    """The spec file itself could not be read (missing, a directory, no permission)."""

    exit_code = 2
