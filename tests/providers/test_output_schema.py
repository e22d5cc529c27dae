"""Request.output (an answer bound to a JSON Schema) on each provider's wire, and Request.sample in the
cache key: real SDKs against the fake server."""

from __future__ import annotations

import asyncio
import json

import pytest

from charter.providers import OutputSchema, Request, get_provider

SCHEMA = {"type": "object", "required": ["score"], "additionalProperties": False,
          "properties": {"score": {"type": "integer", "enum": [1, 2, 3]}}}
OUTPUT = OutputSchema(name="verdict", schema=SCHEMA, description="A score.")


def _request(**extra) -> Request:
    return Request(messages=[{"role": "user", "content": "Grade it."}], **extra)


def _complete(model_id: str, request: Request, **options):
    async def go():
        async with get_provider(model_id, **options) as provider:
            return await provider.complete(request)

    return asyncio.run(go())


def test_openai_sends_a_strict_response_format(server):
    response = _complete("openai:m", _request(output=OUTPUT))
    body = server.requests[-1].body
    assert body["response_format"] == {"type": "json_schema", "json_schema": {
        "name": "verdict", "strict": True, "schema": SCHEMA, "description": "A score."}}
    assert response.text.startswith("Fake reply")


def test_anthropic_forces_one_tool_and_reads_its_input_as_the_answer(env, monkeypatch):
    from fakeserver import FakeServer, ModelScript

    with FakeServer({"m": ModelScript(reply=json.dumps({"score": 2}))}) as server:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.anthropic_base_url)
        response = _complete("anthropic:m", _request(output=OUTPUT))
        plain = _complete("anthropic:m", _request())
    body = server.requests[0].body
    assert body["tools"] == [{"name": "verdict", "input_schema": SCHEMA, "description": "A score."}]
    assert body["tool_choice"] == {"type": "tool", "name": "verdict"}
    assert json.loads(response.text) == {"score": 2} and response.finish_reason == "stop"
    assert "tools" not in server.requests[1].body and plain.text == json.dumps({"score": 2})


def test_a_server_without_structured_outputs_answers_400(env, monkeypatch):
    from fakeserver import FakeServer, ModelScript

    from charter.providers.errors import BadRequest

    with FakeServer({"m": ModelScript(reject_response_format=True)}) as server:
        with pytest.raises(BadRequest) as caught:
            _complete("openai-compatible:m", _request(output=OUTPUT), base_url=server.openai_base_url)
        assert _complete("openai-compatible:m", _request(), base_url=server.openai_base_url).text
    assert caught.value.status == 400 and "response_format" in str(caught.value)


def test_the_demo_judge_answers_the_schema_clauses(env):
    clauses = {"type": "object", "required": ["rule:a"], "additionalProperties": False,
               "properties": {"rule:a": {"type": "string", "enum": ["pass", "fail", "n/a"]}}}
    output = OutputSchema(name="v", schema={"type": "object", "properties": {"clauses": clauses}})
    request = Request(messages=[{"role": "user", "content": "<reply-ab>\nhi\n</reply-ab>"}],
                      system="- `rule:a`: x\n- `rule:b`: y", output=output)
    verdict = json.loads(_complete("demo:judge", request).text)
    assert set(verdict["clauses"]) == {"rule:a"} and verdict["clauses"]["rule:a"] != "n/a"


def test_samples_and_schemas_have_their_own_cache_keys(env):
    async def keys():
        async with get_provider("demo:m") as provider:
            return [provider.cache_key(r) for r in (_request(), _request(sample=0), _request(sample=1),
                                                   _request(output=OUTPUT))]

    first, same, second, bound = asyncio.run(keys())
    assert first == same and len({first, second, bound}) == 3


def test_output_schema_names_and_shapes_are_checked():
    with pytest.raises(ValueError):
        OutputSchema(name="has space", schema=SCHEMA)
    with pytest.raises(ValueError):
        OutputSchema(name="ok", schema={"type": "array"})
