"""`charter validate`: schema and reference checks, every problem as FILE:LINE:COL."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..diagnostics import SpecError
from ..spec import load
from ._common import EXIT_OK, allow_outside_option, examples


@click.command(epilog=examples(
    "charter validate characters/tutor.yaml",
    "charter validate examples/broken.yaml --format json   # every problem, for tools",
))
@click.argument("specs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text: one FILE:LINE:COL line per problem; json: every spec's problems, for tools.")
@allow_outside_option
def validate(specs: tuple[Path, ...], fmt: str, allow_outside: bool) -> None:
    """Check SPECS against the schema and their references.

    Prints every problem as FILE:LINE:COL: error: MESSAGE [CODE]. Exits 0 when all are
    valid, 1 when any is invalid, 2 when a file cannot be read.
    """
    reports, status = [], EXIT_OK
    for path in specs:
        try:
            spec = load(path, allow_outside=allow_outside, digest=fmt == "json")  # only the JSON report shows it
        except SpecError as err:
            status = max(status, err.exit_code)
            reports.append({"path": str(path), "valid": False, "errors": [d.to_dict() for d in err.diagnostics]})
            if fmt == "text":
                click.echo("\n".join(d.format() for d in err.diagnostics))
            continue
        reports.append({"path": str(path), "valid": True, "id": spec.id, "errors": [],
                        "files": list(spec.files), "digest": spec.digest})
    if fmt == "json":
        click.echo(json.dumps({"valid": status == EXIT_OK, "files": reports}, indent=2))
    else:
        valid = sum(r["valid"] for r in reports)
        problems = sum(len(r["errors"]) for r in reports)
        click.echo(f"{len(specs)} spec{'s' if len(specs) != 1 else ''} checked: {valid} valid, "
                   f"{len(specs) - valid} invalid ({problems} problem{'s' if problems != 1 else ''})", err=True)
    sys.exit(status)
