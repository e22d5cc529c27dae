"""A fake model server speaking the OpenAI and Anthropic wire formats over real HTTP on 127.0.0.1.

Tests and benchmarks drive the real ``openai`` and ``anthropic`` SDKs against it, so what is tested is
what ships: the SDKs' own request building, response parsing and error mapping. It is a small
HTTP/1.1 server on asyncio streams with keep-alive, cheap enough to hold 64 concurrent connections at
200 ms latency on a 2-core machine.

Behaviour is scripted per model with :class:`ModelScript`: canned or rule-based replies, latency, and
faults — either a fixed sequence for the first calls or a seeded fraction of all calls. Models with
no script use ``default`` (or are answered "model not found" when ``default`` is None).

``hidden_limit=(300, 60.0)`` enforces a per-model request limit the client is not told about up
front (a sliding window: at most 300 requests accepted in any 60 s): a request over it is answered
429 at once, with ``retry-after`` / ``retry-after-ms`` (when the oldest request in the window ages
out) and the rate-limit headers of that API with no requests remaining; every answer under it
carries the limit, the requests remaining and the reset time (OpenAI ``x-ratelimit-*-requests``,
Anthropic ``anthropic-ratelimit-requests-*``), as the real APIs send them.

It also serves the batch APIs — OpenAI files + batches and Anthropic message batches — finishing a
batch after a set number of polls (``batch_polls``).

Run it in a background thread (``with FakeServer(...) as server:``), on the running event loop
(``async with``), or as a process: ``python tests/fakeserver --port 0 --latency 0.2`` from the
repository root. It lives with the tests, not in the wheel: only tests, benchmarks and demos use it.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import datetime
import hashlib
import json
import math
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Collection, Mapping, Sequence, Union

from charter.tokens import estimate_tokens

# Each fault the server can inject, by name, with what the client sees.
FAULTS: dict[str, str] = {
    "rate_limit": "429 with a Retry-After header, answered at once",
    "server_error": "500 internal server error",
    "unavailable": "503 service unavailable",
    "overloaded": "529 overloaded (Anthropic's status; sent to OpenAI clients too)",
    "timeout": "no answer until `hang` seconds have passed (past any sane client timeout)",
    "malformed": "200 with a truncated JSON body",
    "html": "200 with an HTML page, as a captive portal or a misrouted proxy sends",
    "trickle": "200 headers at once, then the body one byte every `trickle_every` seconds",
    "drop": "the connection is closed without a response",
    "auth": "401 invalid API key",
    "bad_request": "400 invalid request",
    "not_found": "404 model not found",
}

Reply = Union[str, Sequence[str], Callable[[str, list], str]]


@dataclass
class ModelScript:
    """How the server answers one model.

    ``reply`` is a fixed text, a sequence of texts used in turn (cycling), or a callable
    ``(model, messages) -> text`` where messages are ``{"role", "content"}`` dicts with string content
    and the system prompt, if any, first with role "system" — the same for both wire formats.
    ``sequence`` scripts the first calls (fault names, or "ok"); after it, each call fails with the
    fault drawn from ``faults`` (name -> fraction of calls), seeded per (seed, model, call number)
    so a run is reproducible. ``latency`` delays every answer except rate limits, which real
    gateways return at once.

    Schema-bound answers: a Chat Completions request with ``response_format`` json_schema gets the
    reply text as its content (as a strict server's JSON); ``reject_response_format`` answers such
    a request 400 instead, as servers without Structured Outputs do. An Anthropic request whose
    ``tool_choice`` forces a tool gets the reply, parsed as a JSON object, as that tool's
    ``tool_use`` input (a reply that is no JSON object comes back as text, so tests of unusable
    answers still work).
    """

    reply: Reply | None = None
    latency: float = 0.0
    faults: Mapping[str, float] = field(default_factory=dict)
    sequence: Sequence[str] = ()
    seed: int = 0
    retry_after: float | None = 1.0
    hang: float = 120.0
    trickle_every: float = 2.0
    reject_response_format: bool = False

    def __post_init__(self) -> None:
        unknown = sorted((set(self.faults) | set(self.sequence)) - {"ok"} - set(FAULTS))
        if unknown:
            raise ValueError(f"unknown fault {unknown[0]!r}; known: {', '.join(sorted(FAULTS))}")
        if sum(self.faults.values()) > 1.0 + 1e-9:
            raise ValueError("fault fractions add up to more than 1")

    def fault_for(self, model: str, call: int) -> str | None:
        """The fault for the call-th call (from 1) to this model, or None to answer normally."""
        if call <= len(self.sequence):
            kind = self.sequence[call - 1]
            return None if kind == "ok" else kind
        if not self.faults:
            return None
        draw = random.Random(f"{self.seed}:{model}:{call}").random()
        threshold = 0.0
        for kind, fraction in sorted(self.faults.items()):
            threshold += fraction
            if draw < threshold:
                return kind
        return None

    def reply_for(self, model: str, messages: list, call: int) -> str:
        if self.reply is None:
            last_user = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
            return f"Fake reply from {model} to: {last_user[:200]}"
        if isinstance(self.reply, str):
            return self.reply
        if callable(self.reply):
            return str(self.reply(model, messages))
        return self.reply[(call - 1) % len(self.reply)]


@dataclass
class LoggedRequest:
    """One request as the server saw it; ``fault`` is the fault injected, if any.

    ``received`` is the server's monotonic clock when the request arrived, so a test can check the
    spacing a client kept between its requests (a rate limit, a Retry-After) from the server's side.
    """

    method: str
    path: str
    api: str | None
    model: str | None
    body: Any
    headers: dict[str, str]
    status: int = 0
    fault: str | None = None
    call: int = 0
    received: float = field(default_factory=time.monotonic)


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


_DROP = object()


@dataclass
class _Trickle:
    """An answer whose headers go out at once and whose body follows one byte per ``every`` seconds."""

    answer: tuple
    every: float
_JSON = "application/json"


class FakeServer:
    """A scripted OpenAI + Anthropic HTTP server on 127.0.0.1; see the module docstring."""

    def __init__(
        self,
        models: Mapping[str, ModelScript] | None = None,
        *,
        default: ModelScript | None = ModelScript(),
        api_keys: Collection[str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        min_cache_tokens: int = 1024,
        batch_polls: int = 2,
        hidden_limit: tuple[int, float] | None = None,
    ) -> None:
        self.models: dict[str, ModelScript] = dict(models or {})
        self.default = default
        # None accepts any key; a collection makes every other key a 401.
        self.api_keys = None if api_keys is None else set(api_keys)
        self.host = host
        self.port = port
        self.min_cache_tokens = min_cache_tokens
        # A batch reports itself finished on this retrieve, so clients must poll.
        self.batch_polls = batch_polls
        self.requests: list[LoggedRequest] = []
        # Completion requests being answered right now, the most there ever were at once, and the
        # TCP connections clients opened: a test sees overlap and keep-alive without a stopwatch.
        self.in_flight = 0
        self.peak_in_flight = 0
        self.connections_opened = 0
        self._calls: dict[str, int] = {}
        self._cached_prefixes: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._serial = 0
        self._server: asyncio.base_events.Server | None = None
        self._connections: set[asyncio.Task] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.batches = _BatchStore(self)
        # (requests, seconds) per model, a sliding window; see the module docstring.
        if hidden_limit is not None and (hidden_limit[0] < 1 or hidden_limit[1] <= 0):
            raise ValueError("a hidden limit needs at least 1 request in a positive window")
        self.hidden_limit = hidden_limit
        self._windows: dict[str, collections.deque] = {}
        # Requests answered 429 because they went over the hidden limit.
        self.limited = 0

    # -- addresses ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.url

    # -- assertions --------------------------------------------------------------------------

    def calls(self, model: str | None = None) -> int:
        """How many completion calls reached the server, for one model or all."""
        with self._lock:
            if model is None:
                return sum(self._calls.values())
            return self._calls.get(model, 0)

    def reset(self) -> None:
        """Forget the request log, the call and connection counters and the prompt-cache state."""
        with self._lock:
            self.requests.clear()
            self._calls.clear()
            self._cached_prefixes.clear()
            self.peak_in_flight = self.in_flight
            self.connections_opened = 0
            self._windows.clear()
            self.limited = 0

    # -- lifecycle ---------------------------------------------------------------------------

    async def start_async(self) -> None:
        self._server = await asyncio.start_server(self._handle_connection, self.host, self.port, backlog=1024)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop_async(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.gather(*self._connections, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    async def __aenter__(self) -> "FakeServer":
        await self.start_async()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop_async()

    def start(self) -> "FakeServer":
        """Serve from a background thread with its own event loop; returns once listening."""
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self.start_async())
            except BaseException as exc:  # reported to the starting thread below
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self.stop_async())
            loop.close()

        self._thread = threading.Thread(target=run, name="charter-fakeserver", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._thread = None
            self._loop = None

    def __enter__(self) -> "FakeServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- HTTP/1.1 ----------------------------------------------------------------------------

    async def _handle_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._connections.add(task)
        with self._lock:
            self.connections_opened += 1
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                request_line, *header_lines = head.decode("latin-1").split("\r\n")
                try:
                    method, target, version = request_line.split(" ", 2)
                except ValueError:
                    return
                headers: dict[str, str] = {}
                for line in header_lines:
                    if line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                if "chunked" in headers.get("transfer-encoding", "").lower():
                    body = await self._read_chunked(reader)
                else:
                    length = int(headers.get("content-length") or 0)
                    body = await reader.readexactly(length) if length else b""
                try:
                    answer = await self._dispatch(method, target.split("?", 1)[0], headers, body)
                except Exception as exc:  # a bug in a reply callable or here: answer, don't hang
                    answer = (500, {}, _JSON, json.dumps({"error": {"message": f"fake server error: {exc!r}",
                                                                    "type": "server_error"}}).encode())
                if answer is _DROP:
                    return
                trickle = answer if isinstance(answer, _Trickle) else None
                if trickle is not None:
                    answer = trickle.answer
                status, extra_headers, content_type, payload = answer
                keep_alive = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
                lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}",
                         f"content-type: {content_type}", f"content-length: {len(payload)}",
                         "connection: keep-alive" if keep_alive else "connection: close"]
                lines.extend(f"{k}: {v}" for k, v in extra_headers.items())
                head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
                if trickle is not None:
                    writer.write(head)
                    for index in range(len(payload)):
                        await writer.drain()
                        await asyncio.sleep(trickle.every)
                        writer.write(payload[index:index + 1])
                else:
                    writer.write(head + payload)
                await writer.drain()
                if not keep_alive:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        except asyncio.CancelledError:
            # Shutting down: asyncio (3.11) logs a cancelled connection task as an error, so end quietly.
            return
        finally:
            self._connections.discard(task)
            writer.close()

    @staticmethod
    async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
        chunks = []
        while True:
            size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                await reader.readline()
                return b"".join(chunks)
            chunks.append(await reader.readexactly(size))
            await reader.readline()

    async def _dispatch(self, method: str, path: str, headers: dict, body: bytes):
        api = "anthropic" if ("anthropic-version" in headers or "x-api-key" in headers) else "openai"
        if method == "POST" and path == "/v1/chat/completions":
            return await self._complete("openai", path, headers, body)
        if method == "POST" and path == "/v1/messages":
            return await self._complete("anthropic", path, headers, body)
        if method == "GET" and path == "/v1/models":
            return self._list_models(api, headers)
        batch_answer = await self.batches.dispatch(api, method, path, headers, body)
        if batch_answer is not None:
            return batch_answer
        return _error(api, 404, "not_found", f"no route for {method} {path}")

    # -- the model endpoints -----------------------------------------------------------------

    def _authorized(self, api: str, headers: dict) -> bool:
        if self.api_keys is None:
            return True
        # Anthropic's SDK sends the key as x-api-key or, in recent versions, as a bearer token.
        keys = {headers.get("x-api-key", ""), headers.get("authorization", "").removeprefix("Bearer ").strip()}
        return bool(keys & self.api_keys)

    def _list_models(self, api: str, headers: dict):
        if not self._authorized(api, headers):
            return _error(api, 401, "auth")
        names = sorted(self.models)
        if api == "anthropic":
            data = [{"type": "model", "id": n, "display_name": n, "created_at": "2025-01-01T00:00:00Z"}
                    for n in names]
            body = {"data": data, "has_more": False, "first_id": names[0] if names else None,
                    "last_id": names[-1] if names else None}
        else:
            body = {"object": "list",
                    "data": [{"id": n, "object": "model", "created": 0, "owned_by": "fake"} for n in names]}
        return 200, {}, _JSON, json.dumps(body).encode()

    def _next_serial(self) -> int:
        with self._lock:
            self._serial += 1
            return self._serial

    async def _complete(self, api: str, path: str, headers: dict, raw: bytes):
        try:
            data = json.loads(raw or b"null")
        except ValueError:
            data = None
        model = data.get("model") if isinstance(data, dict) else None
        entry = LoggedRequest("POST", path, api, model, data, headers)
        with self._lock:
            self.requests.append(entry)
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            answer = await self._answer(api, data, headers, entry)
        finally:
            with self._lock:
                self.in_flight -= 1
        entry.status = 0 if answer is _DROP else answer.answer[0] if isinstance(answer, _Trickle) else answer[0]
        return answer

    async def _answer(self, api: str, data: Any, headers: dict, entry: LoggedRequest):
        if not self._authorized(api, headers):
            return _error(api, 401, "auth")
        problem = _validate(api, data)
        if problem:
            return _error(api, 400, "bad_request", problem)
        model = data["model"]
        script = self.models.get(model, self.default)
        if script is None:
            return _error(api, 404, "not_found", model=model)
        window = self._admit(model)
        if window is not None and window["remaining"] < 0:
            entry.fault = "hidden_limit"
            return self._over_limit(api, model, window)
        if api == "openai" and script.reject_response_format and isinstance(data.get("response_format"), dict) \
                and data["response_format"].get("type") == "json_schema":
            return _error(api, 400, "bad_request", "response_format json_schema is not supported by this server")
        with self._lock:
            call = self._calls[model] = self._calls.get(model, 0) + 1
        entry.call = call
        fault = entry.fault = script.fault_for(model, call)
        if fault != "rate_limit" and script.latency:
            await asyncio.sleep(script.latency)
        if fault:
            return await self._fault(api, fault, script, model, data, call)
        messages = _normalize(api, data)
        text = script.reply_for(model, messages, call)
        answer = self._success(api, data, model, messages, text)
        if window is not None:
            answer[1].update(_window_headers(api, window))
        return answer

    def _admit(self, model: str) -> dict | None:
        """Counts a request against the model's hidden limit: None without one, else the window's
        state after it (``remaining`` is -1 when the request is over the limit and not counted)."""
        if self.hidden_limit is None:
            return None
        limit, seconds = self.hidden_limit
        now = time.monotonic()
        with self._lock:
            stamps = self._windows.setdefault(model, collections.deque())
            while stamps and stamps[0] <= now - seconds:
                stamps.popleft()
            admitted = len(stamps) < limit
            if admitted:
                stamps.append(now)
            else:
                self.limited += 1
            return {"limit": limit, "remaining": limit - len(stamps) if admitted else -1,
                    # when the oldest request leaves the window (one more fits), and when all have
                    "next": stamps[0] + seconds - now, "full": stamps[-1] + seconds - now}

    def _over_limit(self, api: str, model: str, window: dict):
        status, headers, content_type, payload = _error(api, 429, "rate_limit", model=model)
        headers.update(_window_headers(api, window))
        wait = max(0.0, window["next"])
        headers["retry-after"] = str(max(1, math.ceil(wait)))
        headers["retry-after-ms"] = str(max(1, round(wait * 1000)))
        return status, headers, content_type, payload

    async def _fault(self, api: str, fault: str, script: ModelScript, model: str, data: Any = None, call: int = 0):
        if fault == "drop":
            return _DROP
        if fault == "timeout":
            await asyncio.sleep(script.hang)
            return _DROP
        if fault == "malformed":
            return 200, {}, _JSON, b'{"id": "broken", "choices": [{"message": {"content": "trunc'
        if fault == "html":
            return 200, {}, "text/html; charset=utf-8", (
                b"<!DOCTYPE html>\n<html><head><title>Sign in to Hotel Wi-Fi</title></head>"
                b"<body><h1>Welcome</h1><p>Accept the terms to continue.</p></body></html>\n")
        if fault == "trickle":
            messages = _normalize(api, data)
            return _Trickle(self._success(api, data, model, messages, script.reply_for(model, messages, call)),
                            script.trickle_every)
        status = {"rate_limit": 429, "server_error": 500, "unavailable": 503, "overloaded": 529,
                  "auth": 401, "bad_request": 400, "not_found": 404}[fault]
        answer = _error(api, status, fault, model=model)
        if fault == "rate_limit":
            limits = _anthropic_rate_headers() if api == "anthropic" else dict(_OPENAI_RATE_HEADERS)
            for name in limits:
                if "remaining" in name and "request" in name:
                    limits[name] = "0"
            answer[1].update(limits)
            if script.retry_after is not None:
                answer[1]["retry-after"] = _number(script.retry_after)
        return answer

    def _cache_split(self, model: str, prefix: str) -> tuple[bool, int]:
        """Emulates prompt caching: whether this prefix was seen before, and its size in tokens."""
        tokens = estimate_tokens(prefix)
        if tokens < self.min_cache_tokens:
            return False, 0
        key = (model, hashlib.sha256(prefix.encode()).hexdigest())
        with self._lock:
            seen = key in self._cached_prefixes
            self._cached_prefixes.add(key)
        return seen, tokens

    def _success(self, api: str, data: dict, model: str, messages: list, text: str):
        serial = self._next_serial()
        stops = data.get("stop_sequences" if api == "anthropic" else "stop") or []
        if isinstance(stops, str):
            stops = [stops]
        hit_stop = None
        for stop in stops:
            at = text.find(stop)
            if at >= 0 and (hit_stop is None or at < text.find(hit_stop)):
                hit_stop = stop
        if hit_stop is not None:
            text = text[: text.find(hit_stop)]
        limit = data.get("max_tokens") or data.get("max_completion_tokens")
        truncated = bool(limit) and estimate_tokens(text) > limit
        if truncated:
            text = text[: limit * 4]
        prompt_tokens = sum(estimate_tokens(m["content"]) for m in messages) + 3 * len(messages)
        output_tokens = estimate_tokens(text)
        if api == "anthropic":
            return self._anthropic_message(data, model, serial, text, hit_stop, truncated,
                                           prompt_tokens, output_tokens)
        return self._openai_completion(data, model, serial, text, hit_stop, truncated, messages,
                                       prompt_tokens, output_tokens)

    def _openai_completion(self, data, model, serial, text, hit_stop, truncated, messages,
                           prompt_tokens, output_tokens):
        finish = "length" if truncated else "stop"
        system = messages[0]["content"] if messages and messages[0]["role"] == "system" else ""
        seen, prefix_tokens = self._cache_split(model, system)
        cached = (prefix_tokens // 128) * 128 if seen else 0
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": output_tokens,
                 "total_tokens": prompt_tokens + output_tokens,
                 "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
                 "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                               "accepted_prediction_tokens": 0,
                                               "rejected_prediction_tokens": 0}}
        ident = f"chatcmpl-fake{serial:08d}"
        headers = {"x-request-id": f"req_fake{serial:08d}", **_OPENAI_RATE_HEADERS}
        if data.get("stream"):
            return 200, headers, "text/event-stream", _openai_stream(ident, model, text, finish, usage, data)
        body = {"id": ident, "object": "chat.completion", "created": 1700000000, "model": model,
                "system_fingerprint": "fp_fake",
                "choices": [{"index": 0, "finish_reason": finish, "logprobs": None,
                             "message": {"role": "assistant", "content": text, "refusal": None}}],
                "usage": usage}
        return 200, headers, _JSON, json.dumps(body).encode()

    def _anthropic_message(self, data, model, serial, text, hit_stop, truncated, prompt_tokens, output_tokens):
        stop_reason = "max_tokens" if truncated else ("stop_sequence" if hit_stop else "end_turn")
        system = data.get("system")
        cache_read = cache_write = 0
        if isinstance(system, list):
            marked = [i for i, block in enumerate(system) if isinstance(block, dict) and block.get("cache_control")]
            if marked:
                prefix = "".join(_content_text([b]) for b in system[: marked[-1] + 1])
                seen, prefix_tokens = self._cache_split(model, prefix)
                if seen:
                    cache_read = prefix_tokens
                else:
                    cache_write = prefix_tokens
        usage = {"input_tokens": max(0, prompt_tokens - cache_read - cache_write), "output_tokens": output_tokens,
                 "cache_creation_input_tokens": cache_write, "cache_read_input_tokens": cache_read,
                 "service_tier": "standard"}
        ident = f"msg_fake{serial:08d}"
        headers = {"request-id": f"req_fake{serial:08d}", **_anthropic_rate_headers()}
        content: list[dict] = [{"type": "text", "text": text}]
        forced = data.get("tool_choice") if isinstance(data.get("tool_choice"), dict) else {}
        if forced.get("type") == "tool":
            try:
                answer = json.loads(text)
            except ValueError:
                answer = None
            if isinstance(answer, dict):
                content = [{"type": "tool_use", "id": f"toolu_fake{serial:08d}", "name": forced["name"],
                            "input": answer}]
                stop_reason = "tool_use"
        message = {"id": ident, "type": "message", "role": "assistant", "model": model,
                   "content": content, "stop_reason": stop_reason,
                   "stop_sequence": hit_stop, "usage": usage}
        if data.get("stream"):
            return 200, headers, "text/event-stream", _anthropic_stream(message)
        return 200, headers, _JSON, json.dumps(message).encode()

    def complete_for_batch(self, api: str, body: dict) -> tuple[int, dict]:
        """Answers one batched request synchronously (batches ignore latency and faults): (status, body)."""
        problem = _validate(api, body)
        if problem:
            return 400, json.loads(_error(api, 400, "bad_request", problem)[3])
        model = body["model"]
        script = self.models.get(model, self.default)
        if script is None:
            return 404, json.loads(_error(api, 404, "not_found", model=model)[3])
        with self._lock:
            call = self._calls[model] = self._calls.get(model, 0) + 1
        messages = _normalize(api, body)
        text = script.reply_for(model, messages, call)
        status, _, _, payload = self._success(api, {**body, "stream": False}, model, messages, text)
        return status, json.loads(payload)

    def answer_batch_file(self, requests: str | Path, results: str | Path) -> int:
        """Stands in for ``vllm run-batch -i REQUESTS -o RESULTS``: answers each line of an OpenAI
        batch-input file with this server's scripts, as its batch engine does, and writes the batch
        output file in OpenAI's format (which vLLM writes too). Returns the number of requests."""
        lines = []
        for text in Path(requests).read_text(encoding="utf-8").splitlines():
            if not text.strip():
                continue
            item = json.loads(text)
            status, body = self.complete_for_batch("openai", item.get("body") or {})
            serial = self._next_serial()
            lines.append({"id": f"batch_req_fake{serial:08d}", "custom_id": item["custom_id"],
                          "response": {"status_code": status, "request_id": f"req_fake{serial:08d}", "body": body},
                          "error": None})
        Path(results).write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
        return len(lines)


# -- wire-format helpers ---------------------------------------------------------------------

_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 429: "Too Many Requests",
            500: "Internal Server Error", 503: "Service Unavailable", 529: "Overloaded"}

_OPENAI_RATE_HEADERS = {
    "x-ratelimit-limit-requests": "10000", "x-ratelimit-remaining-requests": "9999",
    "x-ratelimit-reset-requests": "6ms", "x-ratelimit-limit-tokens": "2000000",
    "x-ratelimit-remaining-tokens": "1999000", "x-ratelimit-reset-tokens": "1s",
}


def _anthropic_rate_headers() -> dict[str, str]:
    reset = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 60))
    return {"anthropic-ratelimit-requests-limit": "4000", "anthropic-ratelimit-requests-remaining": "3999",
            "anthropic-ratelimit-requests-reset": reset, "anthropic-ratelimit-tokens-limit": "400000",
            "anthropic-ratelimit-tokens-remaining": "399000", "anthropic-ratelimit-tokens-reset": reset}


def _window_headers(api: str, window: dict) -> dict[str, str]:
    """The requests part of the rate-limit headers for a hidden-limit window: OpenAI's reset is a
    duration ("1.25s") until the limit is back to full, Anthropic's an RFC 3339 time."""
    remaining = str(max(0, window["remaining"]))
    full = max(0.0, window["full"])
    if api == "anthropic":
        reset = datetime.datetime.fromtimestamp(time.time() + full, datetime.timezone.utc)
        return {"anthropic-ratelimit-requests-limit": str(window["limit"]),
                "anthropic-ratelimit-requests-remaining": remaining,
                "anthropic-ratelimit-requests-reset": reset.isoformat(timespec="milliseconds").replace("+00:00", "Z")}
    return {"x-ratelimit-limit-requests": str(window["limit"]), "x-ratelimit-remaining-requests": remaining,
            "x-ratelimit-reset-requests": f"{full:.3f}s"}


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


_ERRORS = {
    # fault: (openai type, openai code, anthropic type, message)
    "rate_limit": ("requests", "rate_limit_exceeded", "rate_limit_error", "Rate limit reached for requests."),
    "server_error": ("server_error", None, "api_error", "The server had an error while processing your request."),
    "unavailable": ("server_error", None, "api_error", "The service is temporarily unavailable."),
    "overloaded": ("server_error", "overloaded", "overloaded_error", "Overloaded"),
    "auth": ("invalid_request_error", "invalid_api_key", "authentication_error", "Incorrect API key provided."),
    "bad_request": ("invalid_request_error", None, "invalid_request_error", "Invalid request."),
    "not_found": ("invalid_request_error", "model_not_found", "not_found_error", "Not found."),
}


def _error(api: str, status: int, fault: str, message: str | None = None, *, model: str | None = None):
    openai_type, code, anthropic_type, default_message = _ERRORS[fault]
    if message is None and fault == "not_found" and model is not None:
        message = (f"model: {model}" if api == "anthropic"
                   else f"The model `{model}` does not exist or you do not have access to it.")
    message = message or default_message
    if api == "anthropic":
        body = {"type": "error", "error": {"type": anthropic_type, "message": message}, "request_id": "req_fake_error"}
        headers = {"request-id": "req_fake_error"}
    else:
        body = {"error": {"message": message, "type": openai_type, "param": None, "code": code}}
        headers = {"x-request-id": "req_fake_error"}
    return status, headers, _JSON, json.dumps(body).encode()


def _validate(api: str, data: Any) -> str | None:
    if not isinstance(data, dict):
        return "The request body is not a JSON object."
    if not isinstance(data.get("model"), str) or not data["model"]:
        return "model: field required"
    messages = data.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages: field required"
    if api == "anthropic":
        if not isinstance(data.get("max_tokens"), int):
            return "max_tokens: field required"
        for i, message in enumerate(messages):
            if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
                return f"messages.{i}.role: Input should be 'user' or 'assistant'"
        return _tools_problem(data)
    else:
        for i, message in enumerate(messages):
            if not isinstance(message, dict) or "role" not in message:
                return f"messages[{i}]: missing required parameter 'role'"
        return _response_format_problem(data.get("response_format"))
    return None


def _response_format_problem(response_format: Any) -> str | None:
    """What OpenAI would refuse in a ``response_format`` (the shapes Structured Outputs takes)."""
    if response_format is None:
        return None
    if not isinstance(response_format, dict) or response_format.get("type") not in ("text", "json_object",
                                                                                    "json_schema"):
        return "response_format.type: must be 'text', 'json_object' or 'json_schema'"
    if response_format["type"] != "json_schema":
        return None
    spec = response_format.get("json_schema")
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) or not spec["name"]:
        return "response_format.json_schema.name: field required"
    schema = spec.get("schema")
    if not isinstance(schema, dict) or schema.get("type") != "object":
        return "response_format.json_schema.schema: must be a JSON Schema object of type 'object'"
    if spec.get("strict") and schema.get("additionalProperties") is not False:
        return "Invalid schema for response_format: 'additionalProperties' must be false in strict mode"
    return None


def _tools_problem(data: dict) -> str | None:
    """What Anthropic would refuse in ``tools`` / ``tool_choice``."""
    tools = data.get("tools")
    names = set()
    if tools is not None:
        if not isinstance(tools, list):
            return "tools: Input should be a valid list"
        for i, tool in enumerate(tools):
            if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
                return f"tools.{i}.name: Field required"
            schema = tool.get("input_schema")
            if not isinstance(schema, dict) or schema.get("type") != "object":
                return f"tools.{i}.input_schema.type: Input should be 'object'"
            names.add(tool["name"])
    choice = data.get("tool_choice")
    if choice is not None:
        if not isinstance(choice, dict) or choice.get("type") not in ("auto", "any", "tool", "none"):
            return "tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'"
        if choice["type"] == "tool" and choice.get("name") not in names:
            return f"tool_choice.name: no tool named {choice.get('name')!r} in tools"
    return None


def _normalize(api: str, data: dict) -> list[dict]:
    messages = []
    if api == "anthropic" and data.get("system"):
        messages.append({"role": "system", "content": _content_text(data["system"])})
    for message in data["messages"]:
        messages.append({"role": message["role"], "content": _content_text(message.get("content"))})
    return messages


def _pieces(text: str) -> list[str]:
    words = text.split(" ")
    return [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)] or [""]


def _openai_stream(ident: str, model: str, text: str, finish: str, usage: dict, data: dict) -> bytes:
    def chunk(delta: dict, finish_reason: str | None) -> dict:
        return {"id": ident, "object": "chat.completion.chunk", "created": 1700000000, "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}]}

    events = [chunk({"role": "assistant", "content": ""}, None)]
    events += [chunk({"content": piece}, None) for piece in _pieces(text)]
    events.append(chunk({}, finish))
    if (data.get("stream_options") or {}).get("include_usage"):
        events.append({"id": ident, "object": "chat.completion.chunk", "created": 1700000000, "model": model,
                       "choices": [], "usage": usage})
    lines = [f"data: {json.dumps(e)}\n\n" for e in events] + ["data: [DONE]\n\n"]
    return "".join(lines).encode()


def _anthropic_stream(message: dict) -> bytes:
    text = message["content"][0]["text"]
    usage = message["usage"]
    start = {**message, "content": [], "stop_reason": None, "stop_sequence": None,
             "usage": {**usage, "output_tokens": 1}}
    events = [("message_start", {"type": "message_start", "message": start}),
              ("content_block_start", {"type": "content_block_start", "index": 0,
                                       "content_block": {"type": "text", "text": ""}})]
    events += [("content_block_delta", {"type": "content_block_delta", "index": 0,
                                        "delta": {"type": "text_delta", "text": piece}}) for piece in _pieces(text)]
    events += [("content_block_stop", {"type": "content_block_stop", "index": 0}),
               ("message_delta", {"type": "message_delta",
                                  "delta": {"stop_reason": message["stop_reason"],
                                            "stop_sequence": message["stop_sequence"]},
                                  "usage": {"output_tokens": usage["output_tokens"]}}),
               ("message_stop", {"type": "message_stop"})]
    return "".join(f"event: {name}\ndata: {json.dumps(body)}\n\n" for name, body in events).encode()


class _BatchStore:
    """OpenAI files + batches and Anthropic message batches.

    A batch finishes on its ``server.batch_polls``-th retrieve (earlier retrieves report it in
    progress), answering every request at once with the model's script — replies only: batches
    ignore latency and faults, and an unknown model errors that request alone. Results come back
    in a seeded shuffled order, as the real APIs promise no order.
    """

    def __init__(self, server: FakeServer) -> None:
        self.server = server
        self.files: dict[str, dict] = {}
        self.contents: dict[str, bytes] = {}
        self.openai: dict[str, dict] = {}
        self.anthropic: dict[str, dict] = {}
        self._inputs: dict[str, list] = {}
        self._polls: dict[str, int] = {}
        self._serial = 0

    def _next_id(self, prefix: str) -> str:
        self._serial += 1
        return f"{prefix}{self._serial:06d}"

    async def dispatch(self, api: str, method: str, path: str, headers: dict, body: bytes):
        parts = path.strip("/").split("/")
        if parts[:1] != ["v1"] or len(parts) < 2:
            return None
        route = parts[1:]
        if route[0] in ("files", "batches") or route[:2] == ["messages", "batches"]:
            if not self.server._authorized(api, headers):
                return _error(api, 401, "auth")
        if route == ["files"] and method == "POST":
            return self._upload(headers, body)
        if route[0] == "files" and len(route) >= 2:
            return self._file(method, route[1], route[2:])
        if route == ["batches"]:
            return self._openai_create(body) if method == "POST" else self._listing(self.openai)
        if route[0] == "batches" and len(route) >= 2:
            return self._openai_batch(method, route[1], route[2:])
        if route == ["messages", "batches"]:
            return self._anthropic_create(body) if method == "POST" else self._listing(self.anthropic)
        if route[:2] == ["messages", "batches"] and len(route) >= 3:
            return self._anthropic_batch(method, route[2], route[3:])
        return None

    @staticmethod
    def _json(body: dict, status: int = 200):
        return status, {}, _JSON, json.dumps(body).encode()

    def _listing(self, batches: dict):
        data = [self._view(b) for b in reversed(list(batches.values()))]
        ids = [b["id"] for b in data]
        return self._json({"object": "list", "data": data, "has_more": False,
                           "first_id": ids[0] if ids else None, "last_id": ids[-1] if ids else None})

    def _view(self, batch: dict) -> dict:
        return {k: v for k, v in batch.items() if not k.startswith("_")}

    # -- OpenAI files --------------------------------------------------------------------------

    def _upload(self, headers: dict, body: bytes):
        fields = _multipart(headers.get("content-type", ""), body)
        if "file" not in fields:
            return _error("openai", 400, "bad_request", "file: field required")
        filename, content = fields["file"]
        purpose = fields.get("purpose", (None, b""))[1].decode()
        return self._json(self._store_file(filename or "upload.jsonl", content, purpose))

    def _store_file(self, filename: str, content: bytes, purpose: str) -> dict:
        file_id = self._next_id("file-fake")
        self.files[file_id] = {"id": file_id, "object": "file", "bytes": len(content), "created_at": int(time.time()),
                               "filename": filename, "purpose": purpose, "status": "processed",
                               "status_details": None, "expires_at": None}
        self.contents[file_id] = content
        return self.files[file_id]

    def _file(self, method: str, file_id: str, rest: list):
        if file_id not in self.files:
            return _error("openai", 404, "not_found", f"No such File object: {file_id}")
        if rest == ["content"] and method == "GET":
            return 200, {}, "application/octet-stream", self.contents[file_id]
        if not rest and method == "GET":
            return self._json(self.files[file_id])
        if not rest and method == "DELETE":
            del self.files[file_id], self.contents[file_id]
            return self._json({"id": file_id, "object": "file", "deleted": True})
        return None

    # -- OpenAI batches ------------------------------------------------------------------------

    def _openai_create(self, raw: bytes):
        try:
            data = json.loads(raw)
        except ValueError:
            return _error("openai", 400, "bad_request", "The body is not JSON.")
        file_id = data.get("input_file_id")
        if file_id not in self.contents:
            return _error("openai", 400, "bad_request", f"Invalid 'input_file_id': {file_id!r}.")
        if data.get("completion_window") != "24h":
            return _error("openai", 400, "bad_request", "completion_window must be '24h'.")
        endpoint = data.get("endpoint")
        batch_id = self._next_id("batch_fake")
        now = int(time.time())
        lines, errors = [], []
        for number, line in enumerate(self.contents[file_id].decode().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except ValueError:
                errors.append({"code": "invalid_json_line", "message": "This line is not valid JSON.", "line": number,
                               "param": None})
                continue
            if item.get("url") != endpoint or item.get("method") != "POST":
                errors.append({"code": "mismatched_endpoint", "line": number, "param": "url",
                               "message": f"The url of this line must be {endpoint} with method POST."})
            lines.append(item)
        models = {(item.get("body") or {}).get("model") for item in lines}
        if len(models) > 1:
            errors.append({"code": "mismatched_model", "line": None, "param": "body.model",
                           "message": "All requests in a batch must use the same model."})
        custom_ids = [item.get("custom_id") for item in lines]
        if len(set(custom_ids)) != len(custom_ids) or None in custom_ids:
            errors.append({"code": "duplicate_custom_id", "line": None, "param": "custom_id",
                           "message": "Every line needs a unique custom_id."})
        batch = {"id": batch_id, "object": "batch", "endpoint": endpoint, "errors": None, "input_file_id": file_id,
                 "completion_window": "24h", "status": "validating", "output_file_id": None, "error_file_id": None,
                 "created_at": now, "in_progress_at": None, "expires_at": now + 86400, "finalizing_at": None,
                 "completed_at": None, "failed_at": None, "expired_at": None, "cancelling_at": None,
                 "cancelled_at": None, "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
                 "metadata": data.get("metadata")}
        if errors:
            batch.update(status="failed", failed_at=now, errors={"object": "list", "data": errors})
        self.openai[batch_id] = batch
        self._inputs[batch_id] = lines
        return self._json(batch)

    def _openai_batch(self, method: str, batch_id: str, rest: list):
        batch = self.openai.get(batch_id)
        if batch is None:
            return _error("openai", 404, "not_found", f"No batch found with id '{batch_id}'.")
        if rest == ["cancel"] and method == "POST":
            if batch["status"] in ("validating", "in_progress"):
                now = int(time.time())
                batch.update(status="cancelled", cancelling_at=now, cancelled_at=now)
            return self._json(batch)
        if rest or method != "GET":
            return None
        if batch["status"] in ("validating", "in_progress"):
            polls = self._polls[batch_id] = self._polls.get(batch_id, 0) + 1
            if polls >= self.server.batch_polls:
                self._finish_openai(batch)
            else:
                batch.update(status="in_progress", in_progress_at=batch["in_progress_at"] or int(time.time()))
        return self._json(batch)

    def _finish_openai(self, batch: dict) -> None:
        outputs, failures = [], []
        for item in self._inputs[batch["id"]]:
            status, body = self.server.complete_for_batch("openai", item.get("body") or {})
            line = {"id": self._next_id("batch_req_fake"), "custom_id": item["custom_id"],
                    "response": {"status_code": status, "request_id": self._next_id("req_fake"), "body": body},
                    "error": None}
            (outputs if status == 200 else failures).append(line)
        now = int(time.time())
        shuffle = random.Random(batch["id"]).shuffle
        for name, lines in (("output_file_id", outputs), ("error_file_id", failures)):
            if lines:
                shuffle(lines)
                content = "".join(json.dumps(line) + "\n" for line in lines).encode()
                batch[name] = self._store_file(f"{batch['id']}_{name[:-8]}.jsonl", content, "batch_output")["id"]
        batch.update(status="completed", in_progress_at=batch["in_progress_at"] or now, finalizing_at=now,
                     completed_at=now, request_counts={"total": len(outputs) + len(failures),
                                                       "completed": len(outputs), "failed": len(failures)})

    def expire(self, batch_id: str) -> None:
        """Test hook: the batch runs out of its 24 hours before finishing."""
        if batch_id in self.openai:
            self.openai[batch_id].update(status="expired", expired_at=int(time.time()))
        else:
            self._end_anthropic(self.anthropic[batch_id], "expired")

    # -- Anthropic message batches -------------------------------------------------------------

    def _anthropic_create(self, raw: bytes):
        try:
            data = json.loads(raw)
        except ValueError:
            return _error("anthropic", 400, "bad_request", "The body is not JSON.")
        requests = data.get("requests") if isinstance(data, dict) else None
        if not isinstance(requests, list) or not requests:
            return _error("anthropic", 400, "bad_request", "requests: field required")
        custom_ids = [r.get("custom_id") for r in requests if isinstance(r, dict)]
        if len(custom_ids) != len(requests) or None in custom_ids or len(set(custom_ids)) != len(custom_ids):
            return _error("anthropic", 400, "bad_request", "requests: each needs a unique custom_id")
        batch_id = self._next_id("msgbatch_fake")
        now = time.time()
        batch = {"id": batch_id, "type": "message_batch", "processing_status": "in_progress",
                 "request_counts": {"processing": len(requests), "succeeded": 0, "errored": 0, "canceled": 0,
                                    "expired": 0},
                 "ended_at": None, "created_at": _rfc3339(now), "expires_at": _rfc3339(now + 86400),
                 "archived_at": None, "cancel_initiated_at": None, "results_url": None}
        self.anthropic[batch_id] = batch
        self._inputs[batch_id] = requests
        return self._json(batch)

    def _anthropic_batch(self, method: str, batch_id: str, rest: list):
        batch = self.anthropic.get(batch_id)
        if batch is None:
            return _error("anthropic", 404, "not_found", f"message batch not found: {batch_id}")
        if rest == ["cancel"] and method == "POST":
            if batch["processing_status"] == "in_progress":
                batch["cancel_initiated_at"] = _rfc3339(time.time())
                self._end_anthropic(batch, "canceled")
            return self._json(self._view(batch))
        if rest == ["results"] and method == "GET":
            if batch["processing_status"] != "ended":
                return _error("anthropic", 400, "bad_request", "The batch has not ended yet.")
            return 200, {}, "application/binary", self.contents[batch["_results"]]
        if rest or method != "GET":
            return None
        if batch["processing_status"] == "in_progress":
            polls = self._polls[batch_id] = self._polls.get(batch_id, 0) + 1
            if polls >= self.server.batch_polls:
                self._end_anthropic(batch, None)
        return self._json(self._view(batch))

    def _end_anthropic(self, batch: dict, outcome: str | None) -> None:
        """Ends a batch: answers every request, or marks them all canceled / expired."""
        lines = []
        counts = {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        for item in self._inputs[batch["id"]]:
            if outcome is not None:
                result = {"type": outcome}
            else:
                status, body = self.server.complete_for_batch("anthropic", item.get("params") or {})
                result = ({"type": "succeeded", "message": body} if status == 200
                          else {"type": "errored", "error": body})
            counts[result["type"]] += 1
            lines.append({"custom_id": item["custom_id"], "result": result})
        random.Random(batch["id"]).shuffle(lines)
        results_id = self._next_id("results_fake")
        self.contents[results_id] = "".join(json.dumps(line) + "\n" for line in lines).encode()
        batch.update(processing_status="ended", ended_at=_rfc3339(time.time()), request_counts=counts,
                     results_url=f"{self.server.url}/v1/messages/batches/{batch['id']}/results", _results=results_id)


def _rfc3339(moment: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))


def _multipart(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """Fields of a multipart/form-data body: name -> (filename, bytes)."""
    boundary = next((p.split("=", 1)[1].strip('"') for p in content_type.split(";")
                     if p.strip().startswith("boundary=")), None)
    if boundary is None:
        return {}
    fields = {}
    for part in body.split(b"--" + boundary.encode()):
        head, sep, content = part.partition(b"\r\n\r\n")
        if not sep:
            continue
        disposition = next((line for line in head.decode("latin-1").split("\r\n")
                            if line.lower().startswith("content-disposition")), "")
        params = dict(_disposition_params(disposition))
        if "name" in params:
            fields[params["name"]] = (params.get("filename"), content.removesuffix(b"\r\n"))
    return fields


def _disposition_params(header: str):
    for item in header.split(";")[1:]:
        key, _, value = item.strip().partition("=")
        yield key.strip(), value.strip().strip('"')


# -- as a process ----------------------------------------------------------------------------


def _parse_fault(text: str) -> tuple[str, float]:
    kind, _, fraction = text.partition("=")
    if kind not in FAULTS or not fraction:
        raise argparse.ArgumentTypeError(f"expected KIND=FRACTION with KIND one of {', '.join(sorted(FAULTS))}")
    return kind, float(fraction)


def _parse_limit(text: str) -> tuple[int, float]:
    requests, _, seconds = text.partition("/")
    try:
        return int(requests), float(seconds or 60)
    except ValueError:
        raise argparse.ArgumentTypeError("expected REQUESTS/SECONDS, e.g. 300/60") from None


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python tests/fakeserver",
                                     description="Serve scripted fake OpenAI and Anthropic models on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed on start)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--reply", default=None, help="fixed reply text (default: echo the last user message)")
    parser.add_argument("--fault", type=_parse_fault, action="append", default=[], metavar="KIND=FRACTION")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--retry-after", type=float, default=1.0)
    parser.add_argument("--hidden-limit", type=_parse_limit, metavar="REQUESTS/SECONDS",
                        help="a per-model sliding-window request limit, answered with 429 (e.g. 300/60)")
    parser.add_argument("--demo", action="store_true",
                        help="canned replies, and verdicts from models named *judge* (see fakeserver.demo)")
    args = parser.parse_args(argv)
    reply = args.reply
    if args.demo:
        from fakeserver.demo import demo_reply

        reply = demo_reply
    script = ModelScript(reply=reply, latency=args.latency, faults=dict(args.fault), seed=args.seed,
                         retry_after=args.retry_after)

    async def serve() -> None:
        server = FakeServer(default=script, port=args.port, hidden_limit=args.hidden_limit)
        await server.start_async()
        print(f"fake model server listening on {server.url}", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await server.stop_async()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass

