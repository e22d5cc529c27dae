"""The `charter` command: a thin click layer over the library, one module per command.

Only this package imports click or exits. Errors are mapped to exit codes in one place, the group's
``invoke``: a CharterError a command did not handle prints its diagnostics or one line and exits
with its ``exit_code``; anything else is a bug and says so in one line (exit 3).
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from .. import __version__
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


class _Group(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *COMMANDS})

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


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]}, epilog=examples(
    "charter build characters/*.yaml -o build",
    "charter run characters/tutor.yaml -m demo:tutor --judge demo:judge -o runs/demo   # offline, no key",
))
@click.version_option(__version__, "--version", "-V", prog_name="charter")
def main() -> None:
    """Charter: a compiler for AI character specifications."""
