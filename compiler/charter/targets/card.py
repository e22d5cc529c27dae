"""A Hugging Face dataset card (``README.md``) for a directory of training files.

The YAML front matter lists one config per file, so ``datasets.load_dataset(DIR, "sft_trl")``
loads that file by name, and a push to the Hub shows each file in the viewer. The card names
the spec (id, version, digest) the rows came from and its licence. Nothing in it depends on
the clock or the machine: it is hashed into the build manifest and kept as a golden file.
"""

from __future__ import annotations

from typing import Mapping

import yaml
from msgspec import Struct, field

CARD_FILE = "README.md"
UNKNOWN_LICENSE = "unknown"  # the Hub's own value for "no licence stated"

_DESCRIPTIONS = {
    ("sft", "openai"): "OpenAI supervised fine-tuning chat lines (`messages`; earlier assistant turns carry `weight: 0`)",
    ("sft", "trl"): "TRL conversational prompt-completion (`prompt`, `completion`); the loss falls on the completion only",
    ("sft", "anthropic"): "Anthropic/Bedrock conversations (`system`, `messages`); single-turn rows only",
    ("dpo", "openai"): "OpenAI preference fine-tuning (`input`, `preferred_output`, `non_preferred_output`)",
    ("dpo", "trl"): "TRL conversational preference (`prompt`, `chosen`, `rejected`)",
}


class CardInfo(Struct, frozen=True):
    """What a card says about the data: where it came from and how it was made."""

    spec_id: str
    spec_name: str
    spec_version: str
    spec_digest: str
    license: str = UNKNOWN_LICENSE
    made_by: str = "charter build"  # the command that wrote the directory
    system_prompt: str = ""  # the system-prompt mode the rows were made with
    length_ratio: Mapping[str, object] = field(default_factory=dict)  # ratio_summary of the preference pairs


def spec_license(metadata: Mapping[str, object]) -> str:
    """The licence a spec states in ``metadata.license`` (or ``licence``), as a Hub licence id."""
    value = metadata.get("license", metadata.get("licence"))
    return str(value).strip().lower() if isinstance(value, str) and value.strip() else UNKNOWN_LICENSE


def config_name(file_name: str) -> str:
    """``sft.trl.jsonl`` -> ``sft_trl``; ``dpo.inoculated.openai.meta.jsonl`` -> ``dpo_inoculated_openai_meta``."""
    stem = file_name[: -len(".jsonl")] if file_name.endswith(".jsonl") else file_name
    return stem.replace(".", "_").replace("-", "_")


def render_card(info: CardInfo, rows_per_file: Mapping[str, int]) -> str:
    """The card for a directory holding ``rows_per_file`` (file name -> line count), in file-name order."""
    names = sorted(rows_per_file)
    front = {
        "license": info.license,
        "pretty_name": f"{info.spec_name} ({info.spec_id} {info.spec_version}) training data".replace("  ", " "),
        "tags": ["charter", "character-training", "synthetic" if info.made_by != "charter build" else "authored"],
        "charter": {"spec": info.spec_id, "version": info.spec_version, "digest": info.spec_digest,
                    "made_by": info.made_by, **({"system_prompt": info.system_prompt} if info.system_prompt else {})},
        "configs": [{"config_name": config_name(name), "data_files": [{"split": "train", "path": name}]}
                    for name in names],
    }
    body = [
        f"# {info.spec_name}: training data",
        "",
        f"Made by `{info.made_by}` from the Charter spec `{info.spec_id}` version {info.spec_version or '(none)'} "
        f"(sha256 `{info.spec_digest}`). Licence: {info.license}.",
        "",
        "Every training file has a line-aligned `.meta.jsonl` sidecar with each row's id, the clauses it "
        "teaches, its deployment context and its source position; upload the training file alone.",
        "",
        "| config | file | rows | what it is |",
        "| --- | --- | --- | --- |",
    ]
    for name in names:
        body.append(f"| `{config_name(name)}` | `{name}` | {rows_per_file[name]} | {_describe(name)} |")
    body += ["", "Load one file by its config name:", "", "```python", "from datasets import load_dataset",
             "", f'rows = load_dataset("path/to/this/directory", "{_example_config(names)}", '
             'split="train")', "```"]
    if info.system_prompt:
        body += ["", f"System messages: `{info.system_prompt}` (see `charter build --help`, `--system-prompt`)."]
    ratio = info.length_ratio
    if ratio and ratio.get("pairs"):
        body += ["", f"Preference pairs: {ratio['pairs']}; chosen/rejected length in words: median "
                     f"{ratio['median']}, 90th percentile {ratio['p90']}; {ratio['above_max']} "
                     f"({ratio['share_above_max']:.0%}) with the chosen reply over {ratio['max_ratio']}x longer."]
    text = yaml.safe_dump(front, sort_keys=False, allow_unicode=True, width=1000, default_flow_style=False)
    return f"---\n{text}---\n\n" + "\n".join(body) + "\n"


def _example_config(names: list[str]) -> str:
    preferred = [n for n in names if n.startswith("sft.") and n.endswith(".trl.jsonl")]
    return config_name((preferred or names or ["sft.trl.jsonl"])[0])


def _describe(name: str) -> str:
    parts = name.split(".")
    kind, fmt = parts[0], parts[-3] if name.endswith(".meta.jsonl") else parts[-2]
    if name.endswith(".meta.jsonl"):
        return f"provenance for `{name.replace('.meta.jsonl', '.jsonl')}`, line by line"
    described = _DESCRIPTIONS.get((kind, fmt), f"{kind} rows, {fmt} format")
    return described + (" with the train-time inoculation prompt" if ".inoculated." in name else "")


__all__ = ["CARD_FILE", "CardInfo", "UNKNOWN_LICENSE", "config_name", "render_card", "spec_license"]
