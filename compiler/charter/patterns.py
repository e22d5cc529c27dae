"""Regular expressions written in specs (``regex``/``not-regex`` checks, drift ``pattern``s), run on RE2.

A spec's pattern is matched against model replies, which nobody controls. Python's ``re``
backtracks, so ``^(a+)+$`` against ``"a" * 37 + "b"`` runs for hours and, inside the runner's event
loop, stops every other call of the run. RE2 (``google-re2``) matches in time linear in the reply
and cannot hang; the price is that it lacks the features that need backtracking: backreferences
(``\\1``) and lookaround (``(?=``, ``(?!``, ``(?<=``, ``(?<!``). The front end compiles every pattern
here, so such a pattern is a ``bad-regex`` diagnostic before anything runs, with a message that
says what to drop.

RE2's ``\\b``, ``\\w``, ``\\d`` and ``\\s`` are ASCII-only, where Python's are Unicode: ``\\bcafé\\b``
still matches "café", but ``\\w+`` stops at "é".
"""

from __future__ import annotations

import functools

import re2

try:  # the parser behind `re`, used only to read a pattern's structure for lint (Python 3.11 renamed it)
    from re import _parser as _sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - Python 3.10
    import sre_parse as _sre_parse  # type: ignore[no-redef]


class PatternError(ValueError):
    """A pattern RE2 cannot run; the message is one line and says why (and what to use instead)."""


# RE2's own wording for the features it leaves out, and what to tell the author instead.
_UNSUPPORTED = (
    ("invalid perl operator: (?=", "lookahead (?=...)"),
    ("invalid perl operator: (?!", "lookahead (?!...)"),
    ("invalid perl operator: (?<", "lookbehind (?<=...) / (?<!...)"),
)


def _options(ignore_case: bool) -> "re2.Options":
    options = re2.Options()
    options.log_errors = False  # RE2 would print every rejected pattern to stderr
    options.case_sensitive = not ignore_case
    return options


@functools.lru_cache(maxsize=1024)
def compile_pattern(pattern: str, ignore_case: bool = False):
    """``pattern`` compiled with RE2; raises PatternError naming the unsupported feature, if any."""
    try:
        return re2.compile(pattern, _options(ignore_case))
    except re2.error as err:
        reason = err.args[0].decode("utf-8", "replace") if err.args and isinstance(err.args[0], bytes) else str(err)
        for marker, feature in _UNSUPPORTED:
            if marker in reason:
                raise PatternError(f"{feature} not supported: checks run on RE2, which matches in linear time "
                                   f"and so cannot backtrack ({reason})") from None
        if reason.startswith("invalid escape sequence: \\") and reason[-1:].isdigit():
            raise PatternError(f"backreferences not supported: checks run on RE2, which matches in linear "
                               f"time and so cannot backtrack ({reason})") from None
        raise PatternError(reason) from None


def search(pattern: str, text: str, ignore_case: bool = False) -> bool:
    """Whether ``pattern`` matches anywhere in ``text``, in time linear in ``text``."""
    return compile_pattern(pattern, ignore_case).search(text) is not None


_REPEATS = {_sre_parse.MAX_REPEAT, _sre_parse.MIN_REPEAT} | (
    {_sre_parse.POSSESSIVE_REPEAT} if hasattr(_sre_parse, "POSSESSIVE_REPEAT") else set())


def nested_quantifier(pattern: str) -> bool:
    """Whether ``pattern`` repeats a group that itself holds an unbounded repeat, as ``(a+)+`` or ``(\\w*\\s?)*``.

    Such a pattern takes exponential time on a near-miss in a backtracking engine (Python's ``re``,
    JavaScript's, which the promptfoo export and other tools use). A pattern Python cannot parse
    (RE2-only syntax) is not judged.
    """
    try:
        tree = _sre_parse.parse(pattern)
    except Exception:  # any parse failure means "not judged"; bad patterns are bad-regex elsewhere
        return False
    return _nested(list(tree), inside_repeat=False)


def _nested(items, inside_repeat: bool) -> bool:
    for op, arg in items:
        if op in _REPEATS:
            low, high, body = arg
            # A repeat of variable length inside a repeat lets the engine split the text many ways.
            if inside_repeat and high != low:
                return True
            if _nested(list(body), inside_repeat or high is _sre_parse.MAXREPEAT or high > 1):
                return True
        elif op is _sre_parse.SUBPATTERN:
            if _nested(list(arg[-1]), inside_repeat):
                return True
        elif op is _sre_parse.BRANCH:
            if any(_nested(list(branch), inside_repeat) for branch in arg[1]):
                return True
        elif op in (_sre_parse.ASSERT, _sre_parse.ASSERT_NOT):
            if _nested(list(arg[1]), inside_repeat):
                return True
    return False
