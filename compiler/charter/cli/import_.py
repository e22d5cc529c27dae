"""`charter import`: turn existing constitutions into Charter specs. The work is in model_spec and prose."""

from __future__ import annotations

from pathlib import Path

import click

from ._common import (
    EXIT_FAILED, EXIT_USAGE, base_url_option, examples, fail, model_option, no_cache_option, timeout_option,
)


def _read_source(path: Path) -> str:
    """The source document's text, or a one-line error: missing or unreadable is exit 2, not UTF-8 exit 1."""
    if not path.exists():
        fail(f"{path}: no such file", EXIT_USAGE)
    if not path.is_file():
        fail(f"{path}: not a file", EXIT_USAGE)
    try:
        data = path.read_bytes()
    except OSError as err:
        fail(f"{path}: cannot read: {err.strerror or err}", EXIT_USAGE)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        fail(f"{path}: not UTF-8 (byte {err.start}: 0x{data[err.start]:02x})", EXIT_FAILED)
    raise AssertionError("unreachable")


def _target(output: Path, spec_id: str) -> Path:
    if output.exists() and not output.is_dir():
        fail(f"{output} exists and is not a directory", EXIT_USAGE)
    return output / f"{spec_id}.yaml"


def _check_id(spec_id: str | None) -> None:
    from ..interop._specwrite import slug

    if spec_id is not None and slug(spec_id) != spec_id:
        fail(f"--id {spec_id!r} is not a valid id (lowercase letters and digits joined by '-', "
              f"e.g. {slug(spec_id) or 'my-spec'!r})", EXIT_USAGE)


@click.group("import", epilog=examples(
    "charter import model-spec model_spec.md -o imported",
    "charter import prose constitution.md -m openai:gpt-4.1 -o imported",
))
def import_group() -> None:
    """Convert existing constitutions into Charter YAML specs."""


@import_group.command("model-spec", epilog=examples(
    "charter import model-spec model_spec.md -o imported          # writes imported/model-spec.yaml",
    "charter import model-spec model_spec.md -o imported --id chat-assistant --name Ada",
))
@click.argument("source", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="Folder to write the spec into (created if missing).")
@click.option("--id", "spec_id", help="Id of the imported spec (default: from the file name).")
@click.option("--name", default="Assistant", show_default=True, help="Name of the character.")
@click.option("--force", is_flag=True, help="Overwrite an existing spec file.")
def model_spec(source: Path, output: Path, spec_id: str | None, name: str, force: bool) -> None:
    """Import OpenAI's Model Spec (Markdown) from SOURCE into a spec in OUTPUT.

    Sections with {#id authority=...} become rules (root, platform, system: hard; developer,
    user: default; guideline: soft), top-level sections values, example comparisons authored
    examples, commentary notes. Prints the counts and every item it could not map, with its
    line. Exits 0 on success, 1 when SOURCE is not a Model Spec, 2 on usage errors.
    """
    from ..interop._specwrite import SpecWriteError, to_yaml, write_spec
    from ..interop.model_spec import ModelSpecError, import_model_spec

    _check_id(spec_id)
    text = _read_source(source)
    try:
        result = import_model_spec(text, source.name, spec_id=spec_id, name=name)
    except ModelSpecError as err:
        fail(f"{source}: {err}", EXIT_FAILED)
    target = _target(output, result.spec["id"])
    if target.exists() and not force:
        fail(f"{target} already exists (use --force to overwrite)", EXIT_USAGE)
    header = [f"Imported from {source.name} by `charter import model-spec`.",
              f"Mapped: {result.summary()}.",
              "Strength follows the source's authority: root/platform/system hard, developer/user default, "
              "guideline soft."]
    try:
        write_spec(to_yaml(result.spec, header, result.comments), target, force=force)
    except SpecWriteError as err:
        fail(str(err), EXIT_FAILED)
    for item in result.unmapped:
        click.echo(item.format(str(source)))
    click.echo(f"wrote {target}: {result.summary()}")


@import_group.command("prose", epilog=examples(
    "charter import prose constitution.md -m openai:gpt-4.1 -o imported",
    "charter import prose guide.md -m openai-compatible:qwen3 --base-url http://localhost:8000/v1 -o imported",
))
@click.argument("source", type=click.Path(path_type=Path))
@model_option("The model that drafts the spec.", required=True)
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="Folder to write the spec and its review into (created if missing).")
@click.option("--max-chunk-tokens", type=click.IntRange(min=200), default=None, metavar="N",
              help="Largest excerpt sent in one request, in estimated tokens [default: 6000].")
@click.option("--max-reply-tokens", type=click.IntRange(min=256), default=None, metavar="N",
              help="Largest answer per excerpt [default: 8000].")
@base_url_option
@timeout_option(minimum=1.0)
@click.option("--id", "spec_id", help="Id of the drafted spec (default: from the file name).")
@click.option("--name", help="Name of the character (default: from the document's title).")
@click.option("--force", is_flag=True, help="Overwrite an existing spec file.")
@no_cache_option
def prose(source: Path, model: str, output: Path, max_chunk_tokens: int | None, max_reply_tokens: int | None,
          base_url: str | None, timeout: float, spec_id: str | None, name: str | None, force: bool,
          no_cache: bool) -> None:
    """Draft a spec from the prose constitution SOURCE with a model, section by section.

    Every clause records the source lines it came from and the model's confidence, and must quote
    the source: items whose quote is not in SOURCE, and examples whose prompt is not in it, are
    dropped; clauses whose words the source barely supports are flagged. Both are listed. Writes
    OUTPUT/ID.yaml (validated) and OUTPUT/ID.review.md, and prints the counts, the sections not
    mapped and the clauses to review first. Exits 0 on success, 1 when the model fails or the
    draft is unusable, 2 on usage errors (bad model id, missing key, missing file).
    """
    from ..io import write_text_atomic
    from ..providers import ConfigError, ProviderError
    from ..providers.cache import CacheError, ResponseCache, default_cache_path
    from ..interop._specwrite import SpecWriteError, slug, to_yaml, write_spec
    from ..interop.prose import DEFAULT_MAX_CHUNK_TOKENS, DEFAULT_MAX_REPLY_TOKENS, import_prose

    _check_id(spec_id)
    text = _read_source(source)
    if not text.strip():
        fail(f"{source}: the document is empty", EXIT_FAILED)
    spec_id = spec_id or slug(source.stem) or "imported"
    target = _target(output, spec_id)
    if target.exists() and not force:
        fail(f"{target} already exists (use --force to overwrite)", EXIT_USAGE)

    def progress(chunk) -> None:
        click.echo(f"excerpt {chunk.index}: lines {chunk.first}-{chunk.last} (~{chunk.tokens} tokens)", err=True)

    try:
        cache = None if no_cache else ResponseCache(default_cache_path())
    except CacheError as err:
        fail(str(err), EXIT_USAGE)
    try:
        result = import_prose(text, source.name, model, base_url=base_url, timeout=timeout, spec_id=spec_id,
                              name=name, max_chunk_tokens=max_chunk_tokens or DEFAULT_MAX_CHUNK_TOKENS,
                              max_reply_tokens=max_reply_tokens or DEFAULT_MAX_REPLY_TOKENS, on_chunk=progress,
                              cache=cache)
    except ConfigError as err:
        fail(str(err), EXIT_USAGE)
    except ProviderError as err:
        fail(f"{err} (after {err.attempts} attempt(s)); nothing written", EXIT_FAILED)
    finally:
        if cache is not None:
            cache.close()
    if not any(result.spec.get(kind) for kind in ("values", "traits", "rules", "tensions", "examples")):
        fail(f"the model drafted no usable clause from {source}; nothing written "
              f"({'; '.join(result.failed_chunks[:1]) or 'every section unmapped'})", EXIT_FAILED)
    header = [f"Drafted from {source.name} by `charter import prose` with {model}.",
              f"Mapped: {result.summary()}.", f"Review: {spec_id}.review.md lists the clauses to check first."]
    try:
        write_spec(to_yaml(result.spec, header), target, force=force)
    except SpecWriteError as err:
        fail(str(err), EXIT_FAILED)
    review = result.review_text(source.name)
    write_text_atomic(output / f"{spec_id}.review.md", review)
    click.echo(review, nl=False)
    unsupported = result.warnings()
    if unsupported:
        click.echo(f"charter: warning: {len(unsupported)} drafted item(s) not supported by {source.name}; "
                   "dropped ones are not in the spec, flagged ones are (check them):", err=True)
        shown = 20
        for line in unsupported[:shown]:
            click.echo(f"  {line}", err=True)
        if len(unsupported) > shown:
            click.echo(f"  ... and {len(unsupported) - shown} more, in {spec_id}.review.md", err=True)
    click.echo(f"wrote {target}: {result.summary()}")
