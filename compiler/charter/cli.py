"""The `charter` command: a thin click layer over the library. No logic lives here that the library lacks."""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
from pathlib import Path

import click

from . import __version__
from .diagnostics import SpecError, UnreadableError
from .spec import load

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


def fail(message: str, code: int = EXIT_USAGE) -> None:
    """One line on stderr and a non-zero exit: the CLI's only way of reporting a problem."""
    click.echo(f"charter: error: {message}", err=True)
    sys.exit(code)


# Commands that live beside the library code they drive, imported only when used so that
# `charter validate` does not pay for the runner's SDK imports.
LAZY_COMMANDS = {
    "build": "charter.targets.command:build",
    "lint": "charter.lint.command:lint",
    "run": "charter.run.command:run",
    "calibrate": "charter.run.command:calibrate",
    "report": "charter.report.command:report",
    "compare": "charter.report.command:compare",
    "import": "charter.interop.import_command:import_group",
    "export": "charter.interop.export_command:export_group",
    "diff": "charter.interop.export_command:diff",
    "generate": "charter.synth.command:generate",
}


class _Group(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        lazy = [name for name, target in LAZY_COMMANDS.items()
                if importlib.util.find_spec(target.split(":")[0]) is not None]
        return sorted({*self.commands, *lazy})

    def get_command(self, ctx: click.Context, name: str):
        if name in self.commands or name not in LAZY_COMMANDS:
            return self.commands.get(name)
        module, attr = LAZY_COMMANDS[name].split(":")
        try:
            return getattr(importlib.import_module(module), attr)
        except ModuleNotFoundError as err:
            if err.name and module.startswith(err.name):
                return None
            raise

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, SystemExit):
            raise
        except KeyboardInterrupt:
            fail("interrupted", 130)
        except BrokenPipeError:
            sys.exit(EXIT_OK)
        except Exception as err:  # a bug in Charter, not bad input: say so in one line
            if os.environ.get("CHARTER_DEBUG"):
                raise
            fail(f"internal error: {type(err).__name__}: {err} (set CHARTER_DEBUG=1 for the traceback)", 3)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="charter")
def main() -> None:
    """Charter: a compiler for AI character specifications."""


allow_outside_option = click.option(
    "--allow-outside", is_flag=True,
    help="Let `extends` reach files outside the spec's folder tree, or by absolute path.",
)


@main.command()
@click.argument("specs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@allow_outside_option
def validate(specs: tuple[Path, ...], fmt: str, allow_outside: bool) -> None:
    """Check SPECS against the schema and their references.

    Prints every problem as FILE:LINE:COL: error: MESSAGE [CODE]. Exits 0 when all are
    valid, 1 when any is invalid, 2 when a file cannot be read.
    """
    reports, unreadable, invalid = [], False, 0
    for path in specs:
        try:
            spec = load(path, allow_outside=allow_outside)
        except SpecError as err:
            unreadable = unreadable or isinstance(err, UnreadableError)
            invalid += 1
            reports.append({"path": str(path), "valid": False, "errors": [d.to_dict() for d in err.diagnostics]})
            if fmt == "text":
                click.echo("\n".join(d.format() for d in err.diagnostics))
            continue
        reports.append({"path": str(path), "valid": True, "id": spec.id, "errors": [],
                        "files": list(spec.files), "digest": spec.digest})
    if fmt == "json":
        click.echo(json.dumps({"valid": not invalid and not unreadable, "files": reports}, indent=2))
    else:
        valid = sum(r["valid"] for r in reports)
        problems = sum(len(r["errors"]) for r in reports)
        click.echo(f"{len(specs)} spec{'s' if len(specs) != 1 else ''} checked: {valid} valid, "
                   f"{len(specs) - valid} invalid ({problems} problem{'s' if problems != 1 else ''})", err=True)
    sys.exit(EXIT_USAGE if unreadable else EXIT_INVALID if invalid else EXIT_OK)


@main.command()
@click.argument("name")
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="File to write (default: NAME in lowercase with dashes, plus .yaml).")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(name: str, output: Path | None, force: bool) -> None:
    """Write a commented starter spec that validates and teaches the format.

    \b
    Examples:
      charter init "Museum Guide"     # writes museum-guide.yaml
      charter init acme -o specs/acme.yaml
    """
    from .diagnostics import CharterError
    from .scaffold import init_spec

    try:
        done = init_spec(name, output, force=force)
    except CharterError as err:
        fail(str(err), err.exit_code)
    schema = f" and {done.schema_copy.name} beside it" if done.schema_copy else ""
    click.echo(f"wrote {done.spec_path}{schema}; next: {done.next_command}")
