"""The cache key is put together from pieces (the system prompt's JSON and hash prefix kept between
calls); it must stay the sha256 of json.dumps(sort_keys) of the document, or old caches stop matching."""

from __future__ import annotations

import hashlib
import json
import random
import string

from charter.providers import Request
from charter.providers.base import CACHE_KEY_VERSION, cache_key, chat_completions_body

_CHARS = string.ascii_letters + string.digits + ' \n\t"\\/{}[],:' + "é漢😀\u2028\x00\x1f"


def _reference(provider: str, model: str, base_url: str, payload: dict, sample: int = 0) -> str:
    document = {"v": CACHE_KEY_VERSION, "provider": provider, "model": model, "base_url": base_url.rstrip("/"),
                "payload": payload}
    if sample:
        document["sample"] = sample
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _value(rng: random.Random, depth: int, long_texts: list[str]):
    kind = rng.choice(["str", "long", "int", "float", "bool", "none", "dict", "list", "tuple"] if depth < 6
                      else ["str", "int"])
    if kind == "str":
        return "".join(rng.choice(_CHARS) for _ in range(rng.randint(0, 30)))
    if kind == "long":
        return rng.choice(long_texts)
    if kind == "int":
        return rng.randint(-10**6, 10**6)
    if kind == "float":
        return rng.choice([0.5, 1e-7, 123456.789, -0.0, 2.0])
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "none":
        return None
    items = [_value(rng, depth + 1, long_texts) for _ in range(rng.randint(0, 4))]
    if kind == "list":
        return items
    if kind == "tuple":
        return tuple(items)
    keys = ["".join(rng.choice(_CHARS) for _ in range(rng.randint(0, 8))) for _ in items]
    if rng.random() < 0.1:
        keys = [rng.randint(0, 9) for _ in items]  # json converts these keys itself
    return dict(zip(keys, items))


def test_the_key_is_the_hash_of_the_sorted_compact_json_on_random_payloads():
    rng = random.Random(7)
    long_texts = ["".join(rng.choice(_CHARS) for _ in range(rng.randint(4096, 9000))) for _ in range(3)]
    for _ in range(400):
        payload = {"model": "m", "messages": [{"role": "system", "content": rng.choice(long_texts)},
                                              {"role": "user", "content": _value(rng, 3, long_texts)}],
                   "extra": _value(rng, 1, long_texts)}
        if rng.random() < 0.3:
            payload = _value(rng, 1, long_texts)
            if not isinstance(payload, dict):
                payload = {"value": payload}
        sample = rng.choice([0, 0, 1, 3])
        base_url = rng.choice(["http://127.0.0.1:8000/v1/", "https://api.example.com/v1"])
        assert cache_key("openai", "gpt-x", base_url, payload, sample) == _reference(
            "openai", "gpt-x", base_url, payload, sample)


def test_requests_sharing_a_system_prompt_keep_their_own_keys():
    system = "You are the character.\n" * 400  # tens of KB, as compiled prompts are
    keys = set()
    for n in range(50):
        request = Request(messages=({"role": "user", "content": f"Question {n}"},), system=system, max_tokens=64 + n % 3)
        payload = chat_completions_body("gpt-x", request)
        key = cache_key("openai", "gpt-x", "http://h/v1", payload)
        assert key == _reference("openai", "gpt-x", "http://h/v1", payload)
        keys.add(key)
    assert len(keys) == 50
