"""The `charter` command: a thin click layer over the library, one module per command.

Only this package imports click or exits. Errors are mapped to exit codes in one place, the group's
``invoke``: a CharterError a command did not handle prints its diagnostics or one line and exits
with its ``exit_code``; anything else is a bug and says so in one line (exit 3).
"""

from __future__ import annotations

import gc
import importlib
import os
import sys

# A command is one short process that allocates hundreds of thousands of small objects, almost none
# in cycles (a parsed spec, its IR, rendered rows): the collector's default of a pass per 700 new
# objects walked them again and again, about a twentieth of `charter build` of a 2,000-rule spec
# (42 passes). Collections every 200,000 allocations, as mypy's command line sets them, leave no
# pass at all in build, lint or validate and still bound what a long `charter run` holds in cycles.
gc.set_threshold(200_000, 30, 30)

import click  # after the threshold: importing is the first bulk allocation

from ..diagnostics import CharterError
from ._common import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_OK, examples, fail, report_error

# Every command lives in its own module, imported only when used so that `charter --help` and
# `charter validate` do not pay for the runner's SDK imports.
COMMANDS = {
    "build": "charter.cli.build:build",
    "calibrate": "charter.cli.run:calibrate",
    "compare": "charter.cli.report:compare",
    "diff": "charter.cli.export:diff",
    "export": "charter.cli.export:export_group",
    "generate": "charter.cli.generate:generate",
    "import": "charter.cli.import_:import_group",
    "init": "charter.cli.init:init",
    "lint": "charter.cli.lint:lint",
    "report": "charter.cli.report:report",
    "run": "charter.cli.run:run",
    "validate": "charter.cli.validate:validate",
}


# The first paragraph of each command's help: `charter --help` lists the commands from here, so
# that it imports none of them (the run and generate modules bring the SDKs). tests/test_cli_startup.py
# checks that each entry is its command's own text.
SUMMARIES = {
    "build": "Compile SPECS into prompts, monitor prompts, eval cases and training data (no model needed).",
    "calibrate": "Grade SPEC's authored good and bad replies with each --judge and report how often it agrees.",
    "compare": "Compare RUN_B (the new run) against RUN_A (the reference): regressions and improvements per "
               "model and clause, pass-rate changes and newly failing cases.",
    "diff": "Show what changed between two versions of a spec, and the evals it touches.",
    "export": "Export a spec's eval cases to other eval tools (promptfoo, Inspect).",
    "generate": "Synthesize training data or eval cases from a spec with a model.",
    "import": "Convert existing constitutions into Charter YAML specs.",
    "init": "Write a commented starter spec that validates and teaches the format.",
    "lint": "Lint SPECS: contradictions, gaps and hazard patterns, as FILE:LINE:COL: SEVERITY: MESSAGE [CODE NAME].",
    "report": "Write RUN_DIR/report.html (self-contained, opens offline) and RUN_DIR/report.md (for CI comments).",
    "run": "Run the eval cases of SPEC (or a CASES file with --spec) against each --model, graded by --judge.",
    "validate": "Check SPECS against the schema and their references.",
}


class _Group(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *COMMANDS})

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """click's own listing, with the summaries standing in for commands not imported yet."""
        group = self

        class Listing(click.Group):
            def list_commands(self, ctx: click.Context) -> list[str]:
                return group.list_commands(ctx)

            def get_command(self, ctx: click.Context, name: str):
                if name not in group.commands and SUMMARIES.get(name):
                    return click.Command(name, help=SUMMARIES[name])  # stands in for the command
                return group.get_command(ctx, name)

        click.Group.format_commands(Listing(self.name), ctx, formatter)

    def get_command(self, ctx: click.Context, name: str):
        if name in self.commands or name not in COMMANDS:
            return self.commands.get(name)
        module, attr = COMMANDS[name].split(":")
        return getattr(importlib.import_module(module), attr)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, SystemExit):
            raise
        except KeyboardInterrupt:
            fail("interrupted", EXIT_INTERRUPTED)
        except BrokenPipeError:
            sys.exit(EXIT_OK)
        except CharterError as err:  # bad input the command left to this one place
            report_error(err)
        except Exception as err:  # a bug in Charter, not bad input: say so in one line
            if os.environ.get("CHARTER_DEBUG"):
                raise
            fail(f"internal error: {type(err).__name__}: {err} (set CHARTER_DEBUG=1 for the traceback)",
                 EXIT_INTERNAL)


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    # click's version_option wants the version when the command is defined; reading it
    # (importlib.metadata) is left to the one invocation that shows it.
    if not value or ctx.resilient_parsing:
        return
    from .. import __version__

    click.echo(f"charter, version {__version__}")
    ctx.exit()


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]}, epilog=examples(
    "charter build characters/*.yaml -o build",
    "charter run characters/tutor.yaml -m demo:tutor --judge demo:judge -o runs/demo   # offline, no key",
))
@click.option("--version", "-V", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
              help="Show the version and exit.")
def main() -> None:
    """Charter: a compiler for AI character specifications."""


def entry() -> None:
    """The `charter` executable (and `python -m charter`): ``main``, then a hard exit.

    A normal interpreter exit frees every object the command made, one by one: 0.1 to 0.3 s after a
    build or lint of a 2,000-rule spec has already finished its work, a tenth of the command. Like
    mypy's command line (its ``--fast-exit``, on by default), the executable flushes its output and
    ends the process without that. Nothing is lost: every file Charter writes is complete and closed
    before a command returns (atomic replaces, fsync'd run records), and in-process callers (click's
    CliRunner, notebooks) use ``main``, which exits normally.
    """
    try:
        main(prog_name="charter")
        status = 0
    except SystemExit as done:  # click's standalone mode always ends here
        code = done.code
        if code is None or isinstance(code, int):
            status = code or 0
        else:  # sys.exit("message"): what the interpreter would print, and its status
            print(code, file=sys.stderr)
            status = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`charter lint | head -1`) or a closed stream
            pass
    os._exit(status)
