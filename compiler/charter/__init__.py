"""Charter: a compiler for AI character specifications.

    >>> import charter
    >>> spec = charter.load("characters/assistant.yaml")
    >>> [v.id for v in spec.values]
"""

from typing import TYPE_CHECKING, Any

from .diagnostics import CharterError, Diagnostic, Loc, SpecError, UnreadableError

if TYPE_CHECKING:
    from .spec import Spec, load


def __getattr__(name: str) -> Any:
    # `load` and `Spec` (the front end: YAML, the schema, the IR) and the version (importlib.metadata
    # and the email package it parses with) are imported when first used, not with the package:
    # `charter --help` needs none of them, and they were most of its time.
    if name in ("load", "Spec"):
        from . import spec

        globals()[name] = value = getattr(spec, name)
        return value
    if name != "__version__":
        raise AttributeError(f"module 'charter' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("charter-spec")
    except PackageNotFoundError:  # running from a source tree that was never installed
        found = "0.0.0+source"
    globals()["__version__"] = found
    return found


__all__ = ["load", "Spec", "CharterError", "SpecError", "UnreadableError", "Diagnostic", "Loc", "__version__"]
