"""What every command shares: the exit codes, `fail()`, loading a spec or exiting, and the shared options.

The provider and call options are defined here once, with one set of help texts, so `charter run`,
`charter calibrate`, `charter generate`, `charter lint --deep` and `charter import prose` describe
them alike.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from ..diagnostics import CharterError, SpecError

if TYPE_CHECKING:
    from ..providers.retry import RetryPolicy
    from ..spec.ir import Spec

# The exit codes of every command. A CharterError carries its own (``exit_code``); these are the
# ones the CLI decides itself.
EXIT_OK = 0
EXIT_FAILED = 1  # a spec is invalid, findings remain, a gate tripped, some calls failed
EXIT_USAGE = 2  # bad input or configuration: a usage error, an unreadable file, a rejected key
EXIT_INTERNAL = 3  # a bug in Charter, not bad input
EXIT_INTERRUPTED = 130  # Ctrl-C, as a shell reports SIGINT


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """One line on stderr and a non-zero exit: the CLI's only way of reporting a problem."""
    click.echo(f"charter: error: {message}", err=True)
    sys.exit(code)


def one_line(err: BaseException) -> str:
    """An error's message as one line (the messages are written as one; this guards the exceptions)."""
    text = str(err)
    return " ".join(text.split()) if "\n" in text else text


def report_error(err: CharterError) -> NoReturn:
    """Print a CharterError as the CLI does (a spec's diagnostics, else one line) and exit with its code."""
    if isinstance(err, SpecError) and err.diagnostics:
        print_diagnostics(err)
        sys.exit(err.exit_code)
    fail(one_line(err) or type(err).__name__, err.exit_code)


def print_diagnostics(err: SpecError) -> None:
    click.echo("\n".join(d.format() for d in err.diagnostics), err=True)


def load_spec_or_exit(path: Path, allow_outside: bool = False) -> Spec:
    """The spec at ``path``; or its diagnostics on stderr and exit 2 (unreadable) or 1 (invalid)."""
    from ..spec import load

    try:
        return load(path, allow_outside=allow_outside)
    except SpecError as err:
        print_diagnostics(err)
        sys.exit(err.exit_code)


def apply(options: list):
    """A decorator applying click options in the order listed (as they appear in --help)."""
    def decorate(function):
        for option in reversed(options):
            function = option(function)
        return function
    return decorate


allow_outside_option = click.option(
    "--allow-outside", is_flag=True,
    help="Let `extends` reach files outside the spec's folder tree, or by absolute path.",
)


# -- the provider and call options -------------------------------------------------------------

def model_option(help: str, *, required: bool = False, multiple: bool = False, dest: str = "model"):
    """-m/--model: the one spelling of "the model this command calls" in every command."""
    return click.option("-m", "--model", dest, required=required, multiple=multiple, metavar="PROVIDER:MODEL",
                        help=help)


def judge_option(required: bool = True, help: str = "The model that grades replies."):
    return click.option("--judge", required=required, metavar="PROVIDER:MODEL", help=help)


concurrency_option = click.option("--concurrency", type=click.IntRange(1, 1024), default=16, show_default=True,
                                  help="Most API calls in flight at once; fewer to a model answering 429/529, and "
                                       "paced by its rate-limit headers.")
rpm_option = click.option("--rpm", type=click.FloatRange(min=0, min_open=True), help="Requests per minute, per model.")
tpm_option = click.option("--tpm", type=click.FloatRange(min=0, min_open=True),
                          help="Tokens per minute, per model (estimated before each call).")


# The providers' DEFAULT_TIMEOUT, written out rather than imported: importing charter.providers
# would load the SDK layer into `charter --help` (tests/test_cli_help.py checks the two agree).
DEFAULT_TIMEOUT = 120.0


def timeout_option(default: float | None = None, minimum: float = 0.0):
    """--timeout, with one default for every command (the providers' DEFAULT_TIMEOUT) unless told otherwise."""
    return click.option("--timeout", type=click.FloatRange(min=minimum, min_open=minimum == 0),
                        default=DEFAULT_TIMEOUT if default is None else default, show_default=True,
                        help="Seconds each model call may take as a whole, headers and body (a deadline, not "
                             "a wait per byte); a call past it counts as timed out and is retried.")


retries_option = click.option("--retries", type=click.IntRange(0, 50), default=5, show_default=True,
                              help="Retries per call on 429, 5xx, timeouts and dropped connections.")
base_url_option = click.option(
    "--base-url", metavar="URL",
    help="Endpoint of openai-compatible models (required for them; openai/anthropic models use "
         "OPENAI_BASE_URL / ANTHROPIC_BASE_URL).")
cache_option = click.option("--cache", "cache_path", type=click.Path(path_type=Path), metavar="FILE",
                            help="Response cache file (default: $XDG_CACHE_HOME/charter/responses.sqlite3).")
no_cache_option = click.option("--no-cache", is_flag=True,
                               help="Neither read nor write the response cache (nothing is replayed on a re-run).")
prices_option = click.option("--prices", "prices_path", type=click.Path(path_type=Path), metavar="FILE",
                             help="JSON/YAML price overrides, USD per million tokens.")

# The options of every command that calls models through the runner's call path, in --help order.
CALL_OPTIONS = [concurrency_option, rpm_option, tpm_option, timeout_option(), retries_option, base_url_option,
                cache_option, no_cache_option, prices_option]


# -- the shared help pieces ---------------------------------------------------------------------

class CheckedRequired(click.Option):
    """A required option the command checks itself, so that leaving it out is a one-line error
    (click's own check prints a usage block); --help marks it [required] all the same."""

    def get_help_record(self, ctx: click.Context):
        record = super().get_help_record(ctx)
        if record is None or "required" in record[1]:
            return record
        return record[0], f"{record[1]}  [required]".strip()


def examples(*commands: str) -> str:
    """The epilog that ends a command's --help: example command lines, printed as written.

    click rewraps help paragraphs; the ``\\b`` line tells it to keep these lines as they are. Each
    line is a real command (tests/test_cli_help.py parses every one with the command's own parser);
    a ``#`` starts a comment, as in a shell.
    """
    return "\b\nExamples:\n" + "\n".join(f"  {command}" for command in commands)


# Training-data formats, as `charter build` and `charter generate data` take them: the formats
# themselves, plus `both` (openai and trl, the default) and `all`.
DATA_FORMAT_GROUPS = ("both", "all")


def data_format_option(help: str, dest: str = "data_formats"):
    from ..targets.data import FORMATS

    return click.option("-f", "--data-format", dest, multiple=True,
                        type=click.Choice([*FORMATS, *DATA_FORMAT_GROUPS]), help=help)


def data_formats(chosen: tuple[str, ...]) -> tuple[str, ...]:
    """--data-format values as formats, in the library's order: none or `both` is openai and trl, `all` all."""
    from ..targets.data import DEFAULT_FORMATS, FORMATS

    if not chosen or "both" in chosen:
        chosen = tuple(c for c in chosen if c != "both") + tuple(DEFAULT_FORMATS)
    if "all" in chosen:
        return tuple(FORMATS)
    return tuple(f for f in FORMATS if f in chosen)


def retry_policy(retries: int) -> RetryPolicy:
    """The default retry policy with ``retries`` retries after the first attempt."""
    from ..providers.calls import DEFAULT_RETRY

    return replace(DEFAULT_RETRY, max_attempts=retries + 1)


def check_model_ids(*ids: str | None) -> None:
    """Every given model id names a known provider (ConfigError, exit 2, otherwise)."""
    from ..providers import parse_model_id

    for model_id in ids:
        if model_id is not None:
            parse_model_id(model_id)


def load_prices(path: Path | None):
    """The price table, with the overrides in ``path`` (PriceTableError, exit 2, when unreadable)."""
    from ..providers.pricing import PriceTable

    return PriceTable().with_overrides(path) if path is not None else PriceTable()
