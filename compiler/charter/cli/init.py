"""`charter init`: a commented starter spec."""

from __future__ import annotations

from pathlib import Path

import click

from ._common import fail


@click.command()
@click.argument("name")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="File to write (default: NAME.yaml).")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(name: str, output: Path | None, force: bool) -> None:
    """Write a commented starter spec NAME.yaml that validates and teaches the format."""
    from ..io import write_text_atomic
    from ..scaffold import starter_spec
    from ..spec.schema import schema_path

    target = output or Path(f"{name}.yaml")
    if target.exists() and not force:
        fail(f"{target} already exists (use --force to overwrite)")
    write_text_atomic(target, starter_spec(name, str(target), schema_path()))
    click.echo(f"wrote {target}; next: charter validate {target}")
