"""The OpenAI provider posts its body itself (``client.post``) instead of through
``chat.completions.create``: the server must see exactly what create() would have sent, and the
answer must read the same from its JSON as from the SDK's object."""

from __future__ import annotations

import json

import openai
import pytest
from provider_helpers import base_url_for, run

from charter.providers import OutputSchema, Request, get_provider
from charter.providers.openai import read_completion

VERDICT = OutputSchema(name="charter_verdict", schema={
    "type": "object", "required": ["clauses", "score"], "additionalProperties": False,
    "properties": {"clauses": {"type": "object", "required": ["rule:a"], "additionalProperties": False,
                               "properties": {"rule:a": {"type": "string", "enum": ["pass", "fail", "n/a"]}}},
                   "score": {"type": "integer", "enum": list(range(1, 11))}}})
JUDGE_SYSTEM = ({"type": "text", "text": "You grade replies. " * 300, "cache_control": {"type": "ephemeral"}},)
REQUESTS = {
    "plain": Request(messages=[{"role": "user", "content": "hi"}]),
    "every parameter": Request(system="You are Ada.", messages=[
        {"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "again, with “quotes” and ünïcode"}],
        temperature=0.2, max_tokens=50, seed=7, stop=("END", "###")),
    "judge": Request(system=JUDGE_SYSTEM, messages=[{"role": "user", "content": "Grade this."}],
                     max_tokens=2048, output=VERDICT),
}
# Headers that say how the SDK was called, not what was sent.
_CALL_HEADERS = {"x-stainless-raw-response", "x-stainless-retry-count", "x-stainless-read-timeout",
                 "content-length"}


@pytest.mark.parametrize("name", REQUESTS)
@pytest.mark.parametrize("model", ["openai:gpt-4.1-mini", "openai-compatible:llama3"])
def test_the_server_gets_what_create_would_send(server, model, name):
    request = REQUESTS[name]

    async def both():
        async with get_provider(model, base_url=base_url_for(server, model)) as provider:
            ours = await provider.complete(request)
            body = {**provider.payload(request), **provider._extra(request)}
            theirs = await provider._client.chat.completions.create(**body)
        return ours, theirs

    ours, theirs = run(both())
    sent, created = server.requests
    assert sent.path == created.path and sent.method == created.method == "POST"
    assert sent.body == created.body
    assert sent.headers["authorization"] == created.headers["authorization"]
    assert {k: v for k, v in sent.headers.items() if k.lower() not in _CALL_HEADERS} == \
        {k: v for k, v in created.headers.items() if k.lower() not in _CALL_HEADERS}
    assert ours.text == theirs.choices[0].message.content


COMPLETIONS = [
    {"id": "c1", "object": "chat.completion", "created": 1, "model": "m",
     "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Hi."}}],
     "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15,
               "prompt_tokens_details": {"cached_tokens": 1024}}},
    {"id": "c2", "object": "chat.completion", "created": 1, "model": "m",
     "choices": [{"index": 0, "finish_reason": "length", "message": {"role": "assistant", "content": None}}]},
    {"id": "c3", "object": "chat.completion", "created": 1, "model": "m",
     "choices": [{"index": 0, "finish_reason": "stop",
                  "message": {"role": "assistant", "content": None, "refusal": "I can't help with that."}}],
     "usage": {"prompt_tokens": 5, "completion_tokens": 0, "total_tokens": 5, "prompt_tokens_details": None}},
    {"id": "c4", "object": "chat.completion", "created": 1, "model": "m",
     "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": "x"}},
                 {"index": 1, "finish_reason": "stop", "message": {"role": "assistant", "content": "y"}}],
     "usage": {"prompt_tokens": 7, "completion_tokens": None, "total_tokens": 7}},
    {"id": "c5", "object": "chat.completion", "created": 1, "model": "m",
     "choices": [{"index": 0, "finish_reason": None, "message": {"role": "assistant", "content": "z"}}]},
]


@pytest.mark.parametrize("completion", COMPLETIONS, ids=[c["id"] for c in COMPLETIONS])
def test_a_completion_reads_the_same_from_its_json_as_from_the_sdks_object(completion):
    # As the SDK's parse of an answer builds it: constructed without validation.
    sdk_object = openai.types.chat.ChatCompletion.construct(**json.loads(json.dumps(completion)))
    from_json = read_completion("openai:m", json.loads(json.dumps(completion)), request_id="r", latency=0.5)
    assert from_json == read_completion("openai:m", sdk_object, request_id="r", latency=0.5)


@pytest.mark.parametrize("completion", [{"choices": []}, {"object": "error"}, {"choices": [{"index": 0}]},
                                        {"choices": ["text"]}])
def test_a_completion_without_a_message_is_malformed(completion):
    from charter.providers import MalformedResponse

    with pytest.raises(MalformedResponse):
        read_completion("openai:m", completion)


PLAIN_URLS = ["https://api.openai.com/v1", "http://127.0.0.1:18766/v1", "http://localhost:11434/v1/",
              "http://h:8080/openai/v1//", "http://[::1]:8000/v1", "https://my-proxy.example.com/a/b.c/v1",
              "http://h/a//b"]
OTHER_URLS = ["https://example.com:443/v1", "http://h:80/v1", "HTTP://Example.COM/v1", "http://h/v1?x=1",
              "https://example.com/a b", "http://h/a/./b", "http://h/a/../b", "http://user@h/v1",
              "http://h/%7Ev1", "http://h:080/v1", ""]


@pytest.mark.parametrize("url", PLAIN_URLS + OTHER_URLS)
def test_the_endpoint_is_the_one_the_sdks_client_holds(keys, monkeypatch, url):
    from charter.providers.openai import plain_base_url

    monkeypatch.setenv("OPENAI_BASE_URL", url)
    if url in PLAIN_URLS:
        assert plain_base_url(url) is not None
    else:
        assert plain_base_url(url) is None  # left to the SDK's client
    try:
        sdk = str(openai.AsyncOpenAI(api_key="k").base_url).rstrip("/")
    except Exception:  # a URL the SDK refuses is refused by the provider too
        with pytest.raises(Exception):
            get_provider("openai:m").base_url
        return
    for provider in (get_provider("openai:m"), get_provider("openai:m", base_url=url or None)):
        assert provider.base_url == sdk


def test_a_cache_key_needs_no_sdk(keys, tmp_path):
    """A run answered from the response cache computes keys and never imports the SDK."""
    import subprocess
    import sys

    script = ("import sys; from charter.providers import Request, get_provider; "
              "p = get_provider('openai:m', base_url='http://127.0.0.1:1/v1'); "
              "k = p.cache_key(Request(messages=[{'role': 'user', 'content': 'hi'}])); "
              "q = get_provider('openai-compatible:m', base_url='http://127.0.0.1:1/v1'); "
              "print(len(k), p.base_url, 'openai' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["64", "http://127.0.0.1:1/v1", "False"]
