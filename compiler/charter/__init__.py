"""Charter: a compiler for AI character specifications.

    >>> import charter
    >>> spec = charter.load("characters/assistant.yaml")
    >>> [v.id for v in spec.values]
"""

from importlib.metadata import PackageNotFoundError, version as _version

from .diagnostics import CharterError, Diagnostic, Loc, SpecError, UnreadableError
from .spec import Spec, load

try:
    __version__ = _version("charter-spec")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"

__all__ = ["load", "Spec", "CharterError", "SpecError", "UnreadableError", "Diagnostic", "Loc", "__version__"]
