"""Errors map to exit codes in one place: every CharterError carries its exit code, and one a command
does not handle is one line (or the spec's diagnostics) with that code, never "internal error"."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from charter.cli import main
from charter.diagnostics import CharterError, Diagnostic, Loc, SpecError, UnreadableError
from charter.io import OutputError
from charter.providers import AuthenticationFailed, ConfigError, RateLimited
from charter.report.compare import CompareError
from charter.report.runs import RunDirError
from charter.providers.cache import CacheError
from charter.run.calibrate import NothingToCalibrate
from charter.run.cases import PlanError
from charter.providers.pricing import PriceTableError
from charter.run.results import ResultsFormatError
from charter.providers.calls import RunAborted

# Today's exit codes, as the commands document them: 1 a spec is invalid or the model failed;
# 2 bad input or configuration.
EXIT_CODES = {
    SpecError: 1, UnreadableError: 2, ConfigError: 2, AuthenticationFailed: 2, RateLimited: 1, RunAborted: 2,
    PlanError: 2, CacheError: 2, PriceTableError: 2, ResultsFormatError: 2, RunDirError: 2, CompareError: 2,
    NothingToCalibrate: 2, OutputError: 2,
}


@pytest.mark.parametrize("error, code", EXIT_CODES.items(), ids=lambda v: getattr(v, "__name__", str(v)))
def test_exit_codes(error, code):
    assert issubclass(error, CharterError) and error.exit_code == code


def _invoke(error: BaseException):
    @click.command("fails")
    def fails() -> None:
        raise error

    main.add_command(fails)
    try:
        return CliRunner().invoke(main, ["fails"])
    finally:
        main.commands.pop("fails")


def test_an_unhandled_charter_error_is_one_line_with_its_exit_code():
    result = _invoke(RunAborted("openai:gpt-x: the API key was rejected (401)"))
    assert result.exit_code == 2
    assert result.stderr == "charter: error: openai:gpt-x: the API key was rejected (401)\n"
    result = _invoke(RateLimited("openai:gpt-x: rate limited\n after 6 attempts"))
    assert result.exit_code == 1 and result.stderr == "charter: error: openai:gpt-x: rate limited after 6 attempts\n"


def test_an_unhandled_spec_error_prints_its_diagnostics():
    diagnostic = Diagnostic(Loc("a.yaml", 3, 1), "unknown-context", "unknown context 'kid'")
    result = _invoke(SpecError([diagnostic]))
    assert result.exit_code == 1 and result.stderr == diagnostic.format() + "\n"


def test_anything_else_is_an_internal_error():
    result = _invoke(ZeroDivisionError("division by zero"))
    assert result.exit_code == 3
    assert result.stderr.startswith("charter: error: internal error: ZeroDivisionError: division by zero")
