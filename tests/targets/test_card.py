"""The data directory as Hugging Face sees it: every file loads with `datasets`, in TRL's documented
shapes, and the dataset card's configs load each file by name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import charter
from charter.length_ratio import length_ratio, median, ratio_summary, skewed, too_far_apart, word_count
from charter.targets.build import BuildOptions, build
from charter.targets.card import CARD_FILE, CardInfo, config_name, render_card, spec_license
from charter.targets.data import FORMATS

CHARACTERS = Path(__file__).resolve().parents[2] / "characters"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tutor")
    build(charter.load(CHARACTERS / "tutor.yaml"), out, BuildOptions(data_formats=FORMATS, inoculate=True))
    return out / "data"


@pytest.fixture
def hf_datasets(tmp_path, monkeypatch):
    """`datasets`, kept offline and away from the user's cache: it never reaches the Hub here."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    import datasets

    datasets.disable_progress_bars()
    return datasets


def _messages(value) -> list[dict]:
    """A column of chat messages as `datasets` returns it: a list of {role, content} dicts."""
    assert isinstance(value, list) and value
    for message in value:
        assert set(message) >= {"role", "content"} and message["role"] in ("system", "user", "assistant")
        assert isinstance(message["content"], str) and message["content"]
    return value


def test_every_data_file_loads_in_trls_documented_shapes(data_dir, hf_datasets, tmp_path):
    files = sorted(p.name for p in data_dir.glob("*.jsonl"))
    assert "sft.trl.jsonl" in files and "dpo.inoculated.trl.jsonl" in files and "sft.anthropic.jsonl" in files
    for name in files:
        rows = hf_datasets.load_dataset("json", data_files=str(data_dir / name), split="train",
                                        cache_dir=str(tmp_path / "cache"))
        lines = (data_dir / name).read_text(encoding="utf-8").splitlines()
        assert rows.num_rows == len(lines) > 0, name
        if name.endswith(".meta.jsonl"):
            assert {"id", "refs", "context", "system_prompt", "spec_digest"} <= set(rows.column_names)
            continue
        kind, fmt = name.split(".")[0], name.split(".")[-2]
        if (kind, fmt) == ("sft", "trl"):
            # Conversational prompt-completion: earlier turns in `prompt`, the reply as `completion`.
            assert sorted(rows.column_names) == ["completion", "prompt"]
            for row in rows:
                assert _messages(row["prompt"])[-1]["role"] == "user"
                assert [m["role"] for m in _messages(row["completion"])] == ["assistant"]
        elif (kind, fmt) == ("dpo", "trl"):
            # Conversational preference: `prompt`, `chosen`, `rejected`.
            assert sorted(rows.column_names) == ["chosen", "prompt", "rejected"]
            for row in rows:
                assert _messages(row["prompt"])[-1]["role"] == "user"
                assert [m["role"] for m in _messages(row["chosen"])] == ["assistant"]
                assert [m["role"] for m in _messages(row["rejected"])] == ["assistant"]
        elif (kind, fmt) == ("sft", "openai"):
            assert rows.column_names == ["messages"]
            assert all(_messages(row["messages"])[-1]["role"] == "assistant" for row in rows)
        elif (kind, fmt) == ("dpo", "openai"):
            assert sorted(rows.column_names) == ["input", "non_preferred_output", "preferred_output"]
        else:
            assert (kind, fmt) == ("sft", "anthropic") and "messages" in rows.column_names


def test_the_card_loads_each_file_by_its_config_name(data_dir, hf_datasets, tmp_path):
    text = (data_dir / CARD_FILE).read_text(encoding="utf-8")
    assert text.startswith("---\n")
    front = yaml.safe_load(text.split("---\n")[1])
    spec = charter.load(CHARACTERS / "tutor.yaml")
    assert front["charter"] == {"spec": "tutor", "version": spec.version, "digest": spec.digest,
                                "made_by": "charter build", "system_prompt": "context"}
    assert front["license"] == "mit"
    files = sorted(p.name for p in data_dir.glob("*.jsonl"))
    assert [c["config_name"] for c in front["configs"]] == [config_name(f) for f in files]
    for config in front["configs"]:
        (data_file,) = config["data_files"]
        rows = hf_datasets.load_dataset(str(data_dir), config["config_name"], split="train",
                                        cache_dir=str(tmp_path / "cache"))
        assert rows.num_rows == len((data_dir / data_file["path"]).read_text(encoding="utf-8").splitlines())
    rows = hf_datasets.load_dataset(str(data_dir), "sft_trl", split="train", cache_dir=str(tmp_path / "cache"))
    assert sorted(rows.column_names) == ["completion", "prompt"]


def test_card_bytes_are_deterministic_and_listed_in_the_manifest(tmp_path):
    spec = charter.load(CHARACTERS / "tutor.yaml")
    first = build(spec, tmp_path / "a").out_dir
    second = build(charter.load(CHARACTERS / "tutor.yaml"), tmp_path / "b").out_dir
    assert (first / "data" / CARD_FILE).read_bytes() == (second / "data" / CARD_FILE).read_bytes()
    manifest = json.loads((first / "manifest.json").read_text(encoding="utf-8"))
    (entry,) = [a for a in manifest["artifacts"] if a["path"] == f"data/{CARD_FILE}"]
    assert entry["kind"] == "dataset-card"


def test_render_card_for_any_directory():
    info = CardInfo("coach", "Coach", "2.0.0", "ab" * 32, "apache-2.0", made_by="charter generate data",
                    system_prompt="full", length_ratio=ratio_summary([1.0, 1.2, 2.0]))
    text = render_card(info, {"sft.trl.jsonl": 3, "sft.trl.meta.jsonl": 3})
    front = yaml.safe_load(text.split("---\n")[1])
    assert front["configs"] == [{"config_name": "sft_trl", "data_files": [{"split": "train", "path": "sft.trl.jsonl"}]},
                                {"config_name": "sft_trl_meta",
                                 "data_files": [{"split": "train", "path": "sft.trl.meta.jsonl"}]}]
    assert front["license"] == "apache-2.0" and "synthetic" in front["tags"]
    assert "1 (33%) with the chosen reply over 1.5x longer" in text
    assert config_name("dpo.inoculated.openai.meta.jsonl") == "dpo_inoculated_openai_meta"
    assert spec_license({}) == "unknown" and spec_license({"license": "MIT"}) == "mit"


def test_length_ratio_helpers():
    assert word_count("  one two\nthree ") == 3
    assert length_ratio("a b c", "a b") == 1.5 and length_ratio("a b", "") == 2.0
    assert too_far_apart("a b c d", "a b") and too_far_apart("a", "a b c") and not too_far_apart("a b c", "a b")
    summary = ratio_summary([1.0, 2.0, 3.0, 0.5])
    assert summary == {"pairs": 4, "max_ratio": 1.5, "median": 1.5, "p90": 2.7, "min": 0.5, "max": 3.0,
                       "above_max": 2, "share_above_max": 0.5, "below_inverse": 1, "share_below_inverse": 0.25}
    assert ratio_summary([]) == {"pairs": 0, "max_ratio": 1.5}
    assert skewed([2, 2, 2, 1]) and not skewed([2, 2, 1, 1]) and not skewed([3, 3, 3])


@pytest.mark.parametrize("values", [[3.0], [2.0, 1.0], [0.1, 0.7, 0.2], [1 / 3, 2 / 3, 0.1, 5.0], [1e308, 1e308], list(range(9))])
def test_median_is_the_statistics_modules(values):
    import statistics

    assert median(values) == statistics.median(values)
    with pytest.raises(ValueError):
        median([])
