"""Regular expressions written in specs (``regex``/``not-regex`` checks, drift ``pattern``s): matching that cannot hang.

A spec's pattern is matched against model replies, which nobody controls. Python's ``re``
backtracks, so ``^(a+)+$`` against ``"a" * 37 + "b"`` runs for hours and, inside the runner's event
loop, stops every other call of the run. So patterns run on RE2 (``google-re2``), which matches in
time linear in the reply and cannot hang.

RE2 lacks the features that need backtracking: lookaround (``(?<!not )\\bI promise\\b``, which the
shipped characters use) and backreferences (``\\1``). A pattern with those runs on the ``regex``
module instead, each search bounded by FALLBACK_TIMEOUT seconds; a search that runs out of time
raises PatternTimeout, and the check fails (lint's CH505 warns about the nested quantifiers that
cause this). Every other invalid pattern is a PatternError, which the front end reports as
``bad-regex``.

RE2's ``\\b``, ``\\w``, ``\\d`` and ``\\s`` are ASCII-only, where Python's are Unicode: ``\\bcafé\\b``
still matches "café", but ``\\w+`` stops at "é".
"""

from __future__ import annotations

import functools
import re
import warnings

import re2

try:  # the parser behind `re`, used only to read a pattern's structure for lint (Python 3.11 renamed it)
    from re import _parser as _sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - Python 3.10
    import sre_parse as _sre_parse  # type: ignore[no-redef]


class PatternError(ValueError):
    """A pattern that does not compile; the message is one line and says why."""


class PatternTimeout(PatternError):
    """A lookaround or backreference pattern whose search ran past FALLBACK_TIMEOUT (it backtracks badly)."""


# Seconds one search of a lookaround/backreference pattern may take; a sane one takes microseconds.
FALLBACK_TIMEOUT = 2.0


# RE2's own wording for the features it leaves out: such a pattern runs on `regex` with a time bound.
_NEEDS_BACKTRACKING = ("invalid perl operator: (?=", "invalid perl operator: (?!", "invalid perl operator: (?<",
                       "invalid escape sequence: \\")


def _options(ignore_case: bool) -> "re2.Options":
    options = re2.Options()
    options.log_errors = False  # RE2 would print every rejected pattern to stderr
    options.case_sensitive = not ignore_case
    return options


class _Bounded:
    """A `regex` pattern whose every search stops after FALLBACK_TIMEOUT seconds."""

    def __init__(self, compiled):
        self.compiled = compiled

    def search(self, text: str):
        try:
            return self.compiled.search(text, timeout=FALLBACK_TIMEOUT)
        except TimeoutError:
            raise PatternTimeout(f"{self.compiled.pattern!r} did not finish within {FALLBACK_TIMEOUT:g} s "
                                 "(it backtracks catastrophically on this reply)") from None


@functools.lru_cache(maxsize=1024)
def compile_pattern(pattern: str, ignore_case: bool = False):
    """``pattern`` compiled for ``search``: RE2, or a time-bounded `regex` pattern for lookaround and
    backreferences. Raises PatternError for a pattern that does not compile."""
    try:
        return re2.compile(pattern, _options(ignore_case))
    except re2.error as err:
        _raise_unless_backtracking(err)
    import regex  # only here: a tenth of a second to import, and most specs never need it

    try:  # V0: the syntax and semantics of Python's `re`
        return _Bounded(regex.compile(pattern, regex.V0 | (regex.IGNORECASE if ignore_case else 0)))
    except regex.error as err:
        raise PatternError(str(err)) from None


def check_pattern(pattern: str, ignore_case: bool = False) -> None:
    """Raises PatternError where ``compile_pattern`` would, with its message, for the front end's checks.

    A lookaround pattern (the shipped characters have several) is checked by Python's own `re`
    rather than by importing `regex` (a tenth of a second) to compile it: `regex`'s V0 mode takes
    Python's syntax, so what `re` compiles it compiles; only what `re` refuses (a variable-width
    lookbehind, say) goes to `regex` to decide. tests/hostile/test_regex_checks.py compares the
    two verdicts.
    """
    try:
        re2.compile(pattern, _options(ignore_case))
        return
    except re2.error as err:
        _raise_unless_backtracking(err)
    try:
        with warnings.catch_warnings():  # `re`'s FutureWarnings ("possible nested set") are not the user's concern
            warnings.simplefilter("ignore")
            re.compile(pattern, re.IGNORECASE if ignore_case else 0)
        return
    except (re.error, OverflowError, RecursionError, ValueError):  # `regex` decides
        compile_pattern(pattern, ignore_case)


def _raise_unless_backtracking(err: "re2.error") -> None:
    """Returns when RE2 refused the pattern for a feature that needs backtracking (a lookaround, a
    backreference), which the callers hand to a backtracking engine; any other refusal is the
    pattern's error: PatternError with RE2's reason."""
    reason = err.args[0].decode("utf-8", "replace") if err.args and isinstance(err.args[0], bytes) else str(err)
    if not any(reason.startswith(marker) for marker in _NEEDS_BACKTRACKING):
        raise PatternError(reason) from None


def search(pattern: str, text: str, ignore_case: bool = False) -> bool:
    """Whether ``pattern`` matches anywhere in ``text``; never hangs (see the module's docstring)."""
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
