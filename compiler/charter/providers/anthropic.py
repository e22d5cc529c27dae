"""Anthropic Messages, with the system prompt's cache_control breakpoints sent as written."""

from __future__ import annotations

import inspect
import json
import time
from typing import Any

import anthropic
from anthropic.resources.messages import AsyncMessages

from charter.providers.base import (
    ModelId, Provider, RateLimits, Request, Response, Usage, header_dict, not_json, parse_rate_limits,
)
from charter.providers.errors import MalformedResponse

_FINISH = {"end_turn": "stop", "stop_sequence": "stop", "tool_use": "stop", "max_tokens": "length", "refusal": "refusal"}

# anthropic 1.0 dropped temperature from messages.create; models that still take it get it in the
# body through extra_body. Checked against the installed SDK rather than assumed.
_CREATE_TAKES_TEMPERATURE = "temperature" in inspect.signature(AsyncMessages.create).parameters


class AnthropicProvider(Provider):
    """``anthropic:MODEL``: the Anthropic API, or the endpoint in ANTHROPIC_BASE_URL / ``base_url``."""

    kind = "anthropic"
    key_variable = "ANTHROPIC_API_KEY"

    def __init__(self, model_id: ModelId, *, base_url: str | None = None, timeout: float = 120.0) -> None:
        super().__init__(model_id, timeout=timeout)
        self._api_key = self._key_from_environment(self.key_variable, model_id)
        # An explicit timeout also keeps the SDK from refusing large non-streaming max_tokens.
        options: dict[str, Any] = {"api_key": self._api_key, "max_retries": 0, "timeout": timeout}
        if base_url:
            options["base_url"] = base_url
        self._open_client(base_url, lambda: anthropic.AsyncAnthropic(**options))
        self._base_url = str(self._client.base_url).rstrip("/")

    @property
    def base_url(self) -> str:
        return self._base_url

    def payload(self, request: Request) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "max_tokens": request.max_tokens,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
        }
        if isinstance(request.system, str):
            body["system"] = request.system
        elif request.system is not None:
            body["system"] = [dict(block, type=block.get("type", "text")) for block in request.system]
        if request.stop:
            body["stop_sequences"] = list(request.stop)
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.output is not None:
            # One tool whose input is the answer, and tool_choice forcing it: the Messages API's way
            # of binding a reply to a schema. read_message hands the tool's input back as the text.
            tool: dict[str, Any] = {"name": request.output.name, "input_schema": request.output.schema}
            if request.output.description:
                tool["description"] = request.output.description
            body["tools"] = [tool]
            body["tool_choice"] = {"type": "tool", "name": request.output.name}
        return body

    async def complete(self, request: Request) -> Response:
        body = self.payload(request)
        if "temperature" in body and not _CREATE_TAKES_TEMPERATURE:
            body["extra_body"] = {"temperature": body.pop("temperature")}
        started = time.perf_counter()
        try:
            raw = await self._client.messages.with_raw_response.create(**body)
            message = raw.parse()
            if inspect.isawaitable(message):
                message = await message
        except (ValueError, anthropic.APIError) as exc:
            error = self._call_error(exc, anthropic, "message", "request-id")
            if error is None:
                raise
            raise error from exc
        headers = header_dict(raw.headers)
        return read_message(str(self.model_id), message, request_id=headers.get("request-id"),
                            latency=time.perf_counter() - started, rate_limits=parse_rate_limits(headers))


def read_message(model: str, message: Any, *, request_id: str | None = None, latency: float = 0.0,
                 rate_limits: RateLimits | None = None) -> Response:
    """A Message as Charter reads it, from a synchronous call or a batch result."""
    if isinstance(message, str):  # the SDK hands back the text of a body that is not JSON
        raise MalformedResponse(f"{model}: {not_json(message)}", model=model, request_id=request_id)
    content = getattr(message, "content", None)
    if content is None:
        raise MalformedResponse(f"{model}: the message has no content", model=model, request_id=request_id)
    text = "".join(block.text for block in content if getattr(block, "type", None) == "text")
    tool_inputs = [block.input for block in content if getattr(block, "type", None) == "tool_use"]
    if tool_inputs:
        # A forced tool (Request.output): its input is the answer, returned as JSON text like
        # response_format's, so callers read both APIs' bound answers the same way.
        text = json.dumps(tool_inputs[0], ensure_ascii=False)
    usage = message.usage
    cache_read = (getattr(usage, "cache_read_input_tokens", None) or 0) if usage else 0
    cache_write = (getattr(usage, "cache_creation_input_tokens", None) or 0) if usage else 0
    raw_finish = message.stop_reason
    return Response(
        text=text,
        finish_reason=_FINISH.get(raw_finish, raw_finish or "stop"),
        raw_finish_reason=raw_finish,
        usage=Usage(
            # Anthropic's input_tokens excludes the cached prefix; ours counts the whole prompt.
            input_tokens=((usage.input_tokens or 0) + cache_read + cache_write) if usage else 0,
            output_tokens=(usage.output_tokens or 0) if usage else 0,
            cache_read_tokens=cache_read,
            cache_write_tokens=cache_write,
        ),
        latency=latency,
        model=model,
        request_id=request_id,
        rate_limits=rate_limits,
    )
