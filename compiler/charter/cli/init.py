"""`charter init`: a commented starter spec."""

from __future__ import annotations

from pathlib import Path

import click

from ._common import examples


@click.command(epilog=examples(
    'charter init "Museum Guide"       # writes museum-guide.yaml',
    "charter init acme -o specs/acme.yaml",
))
@click.argument("name")
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="File to write (default: NAME in lowercase with dashes, plus .yaml).")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(name: str, output: Path | None, force: bool) -> None:
    """Write a commented starter spec that validates and teaches the format."""
    from ..scaffold import init_spec

    done = init_spec(name, output, force=force)  # a ScaffoldError is the group's one line
    schema = f" and {done.schema_copy.name} beside it" if done.schema_copy else ""
    click.echo(f"wrote {done.spec_path}{schema}; next: {done.next_command}")
