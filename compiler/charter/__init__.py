"""Charter: a compiler for AI character specifications.

    >>> import charter
    >>> spec = charter.load("characters/assistant.yaml")
    >>> [v.id for v in spec.values]
"""

from typing import TYPE_CHECKING, Any

from .diagnostics import CharterError, Diagnostic, Loc, SpecError, UnreadableError

# The one place the version is written: pyproject.toml reads it from here (setuptools' `attr:`,
# parsed without importing), so the installed metadata and this constant cannot disagree, and no
# command pays for importlib.metadata (and the email package it parses with) to print it.
__version__ = "0.1.0"

if TYPE_CHECKING:
    from .spec import Spec, load


def __getattr__(name: str) -> Any:
    # `load` and `Spec` (the front end: YAML, the schema, the IR) are imported when first used, not
    # with the package: `charter --help` needs none of them, and they were most of its time.
    if name in ("load", "Spec"):
        from . import spec

        globals()[name] = value = getattr(spec, name)
        return value
    raise AttributeError(f"module 'charter' has no attribute {name!r}")


__all__ = ["load", "Spec", "CharterError", "SpecError", "UnreadableError", "Diagnostic", "Loc", "__version__"]
