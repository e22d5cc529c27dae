"""`charter build`: the CLI face of charter.targets.build."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..diagnostics import CharterError, SpecError
from ..spec import load
from ..targets.build import PROMPT_FLAVOURS, BuildOptions, BuildResult, build as build_spec
from ..targets.data import DEFAULT_SYSTEM_PROMPT, SYSTEM_PROMPT_MODES
from ..io import OutputError
from ._common import (
    EXIT_OK, EXIT_USAGE, allow_outside_option, data_format_option, data_formats as data_formats_chosen, examples,
    fail, print_diagnostics,
)


@click.command(epilog=examples(
    "charter build characters/*.yaml -o build          # each spec into build/<id>/",
    "charter build characters/tutor.yaml -o build/tutor --context session --data-format all",
))
@click.argument("specs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", "out_dir", type=click.Path(path_type=Path), default=Path("build"), show_default=True,
              help="Build directory. With several specs, each goes to OUTPUT/<spec id>/.")
@click.option("--context", "contexts", multiple=True, metavar="ID",
              help="Build prompts for these contexts only (repeatable); the context-free prompt is always built.")
@click.option("--prompt-format", "flavours", multiple=True, type=click.Choice(PROMPT_FLAVOURS),
              help="System prompt flavours to write (repeatable; default: all).")
@click.option("--openai-role", type=click.Choice(["system", "developer"]), default="system", show_default=True,
              help="Role of the OpenAI prompt message.")
@data_format_option("Training data formats (repeatable; default: both = openai and trl; all adds anthropic).")
@click.option("--system-prompt", "system_prompt", type=click.Choice(SYSTEM_PROMPT_MODES),
              default=DEFAULT_SYSTEM_PROMPT, show_default=True,
              help="System message of training rows: 'context' puts a one-line context description on rows set in "
                   "a context, 'full' the compiled prompt of the row's context on every row, 'none' nothing.")
@click.option("--inoculate", is_flag=True, help="Also write training data carrying the spec's inoculation prompt.")
@click.option("--max-prompt-tokens", "max_tokens", type=click.IntRange(min=1), metavar="N",
              help="Fail if a system prompt is estimated above N tokens, naming the largest sections.")
# The earlier spelling, kept working; --max-tokens is a reply's length in the commands that call models.
@click.option("--max-tokens", "max_tokens_alias", type=click.IntRange(min=1), hidden=True)
@allow_outside_option
@click.option("--force", is_flag=True,
              help="Write into a non-empty directory that holds no Charter build, overwriting the files a build "
                   "writes (nothing else there is deleted).")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but warnings and errors.")
def build(specs: tuple[Path, ...], out_dir: Path, contexts: tuple[str, ...], flavours: tuple[str, ...],
          openai_role: str, data_formats: tuple[str, ...], system_prompt: str, inoculate: bool, max_tokens: int | None,
          max_tokens_alias: int | None, allow_outside: bool, force: bool, quiet: bool) -> None:
    """Compile SPECS into prompts, monitor prompts, eval cases and training data (no model needed)."""
    max_tokens = max_tokens if max_tokens is not None else max_tokens_alias
    options = BuildOptions(
        contexts=contexts or None, flavours=flavours or PROMPT_FLAVOURS, openai_role=openai_role,
        data_formats=data_formats_chosen(data_formats), system_prompt=system_prompt, inoculate=inoculate,
        max_tokens=max_tokens,
    )
    status = EXIT_OK
    loaded = []
    for path in specs:
        try:
            loaded.append(load(path, allow_outside=allow_outside))
        except SpecError as err:
            print_diagnostics(err)
            status = max(status, err.exit_code)
    ids = [spec.id for spec in loaded]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated and len(specs) > 1:
        fail(f"several specs have the id {duplicated[0]!r}; they would share a build directory", EXIT_USAGE)
    for spec in loaded:
        target = out_dir if len(specs) == 1 else out_dir / spec.id
        try:
            result = build_spec(spec, target, options, force=force)
        except SpecError as err:
            print_diagnostics(err)
            status = max(status, err.exit_code)
            continue
        except CharterError:  # the output directory refused, or a file could not be written: the group's one line
            raise
        except OSError as err:
            raise OutputError.cannot_write(err, target) from None
        if not quiet:
            click.echo(summary(result))
        for warning in result.warnings:
            click.echo(f"warning: {spec.id}: {warning}", err=True)
    sys.exit(status)


def summary(result: BuildResult) -> str:
    """The compact table `charter build` prints for one spec."""
    manifest = result.manifest
    counts = manifest["counts"]
    prompts = [a for a in manifest["artifacts"] if a["kind"] == "prompt" or a["kind"].startswith("prompt-")]
    tokens = {a["context"]: a["tokens_estimate"] for a in prompts if "tokens_estimate" in a}
    contexts = manifest["options"]["contexts"]
    coverage = manifest["coverage"]
    in_evals = sum(bool(c["eval_cases"]) for c in coverage.values())
    in_data = sum(bool(c["training_rows"]) for c in coverage.values())
    kinds = ", ".join(f"{k} {n}" for k, n in counts["eval_cases_by_kind"].items())
    data_files = sorted({a["path"] for a in manifest["artifacts"] if a["kind"] == "training-data"})
    spec = manifest["spec"]
    rows = [
        ("prompts", f"{len(contexts)} context{'s' if len(contexts) != 1 else ''} "
                    f"({', '.join(contexts)}) x {', '.join(manifest['options']['flavours'])}; "
                    + ", ".join(f"{c} ~{tokens[c]:,} tokens" for c in contexts if c in tokens)),
        ("monitor", f"{counts['monitors']} judge prompt{'s' if counts['monitors'] != 1 else ''}"),
        ("evals", f"{counts['eval_cases']} cases ({kinds})"),
        ("data", f"{counts.get('sft_rows', 0)} SFT rows, {counts.get('dpo_rows', 0)} preference pairs; "
                 f"{len(data_files)} files ({', '.join(manifest['options']['data_formats'])})"),
        ("coverage", f"{len(coverage)} clauses: {in_evals} with eval cases, {in_data} with training rows"),
    ]
    head = f"built {spec['id']} {spec['version']} (spec sha256 {spec['digest'][:12]}) -> {result.out_dir}"
    width = max(len(label) for label, _ in rows)
    return "\n".join([head, *(f"  {label:<{width}}  {text}" for label, text in rows)])


__all__ = ["build", "summary"]
