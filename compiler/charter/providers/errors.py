"""The provider layer's own exceptions: the runner decides on retries from the class alone.

Every message is one line, names the model id, and never contains an API key: SDK and server text
is collapsed to one line, shortened, and scrubbed of anything shaped like a key before it is shown.
"""

from __future__ import annotations

import re

from ..diagnostics import CharterError

_KEYLIKE = re.compile(r"\b(sk-ant-|sk-proj-|sk-)[A-Za-z0-9_\-*]{8,}")
_MAX_DETAIL = 300


# A URL as it appears inside a message: up to whitespace, a quote or an angle bracket.
_URL_IN_TEXT = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")


def scrub_url(url: str) -> str:
    """``url`` without what can carry a credential: the user-info (``user:PASS@``), the query string
    (``?token=T``) and the fragment. What remains (scheme, host, port, path) names the endpoint.

    Every URL that reaches a file or a message goes through here (or through scrub_urls).
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url.split("?", 1)[0].split("#", 1)[0]
    authority, slash, path = rest.partition("/")
    # The user-info ends at the last "@" of the authority; a password may itself hold "@" or ":".
    authority = authority.split("?", 1)[0].split("#", 1)[0].rpartition("@")[2]
    path = path.split("?", 1)[0].split("#", 1)[0]
    return f"{scheme}://{authority}{slash}{path}"


def scrub_urls(text: str) -> str:
    """``text`` with every URL in it passed through scrub_url."""
    return _URL_IN_TEXT.sub(lambda match: scrub_url(match.group(0)), text) if "://" in text else text


def one_line(text: object, *, secrets: tuple[str, ...] = ()) -> str:
    """Collapses whitespace, removes secrets, URL credentials and key-shaped strings, and shortens."""
    line = scrub_urls(" ".join(str(text).split()))
    for secret in secrets:
        if secret:
            line = line.replace(secret, "***")
    line = _KEYLIKE.sub(lambda m: m.group(1) + "***", line)
    return line if len(line) <= _MAX_DETAIL else line[: _MAX_DETAIL - 3] + "..."


class ProviderError(CharterError):
    """A model call failed. ``attempts`` is set by the retry helper to the number of calls made."""

    exit_code = 1  # the model failed (after retries); FatalError's are the caller's to fix: 2

    def __init__(self, message: str, *, model: str = "", status: int | None = None,
                 request_id: str | None = None) -> None:
        message = scrub_urls(message)  # messages name the endpoint; never its credentials
        super().__init__(message)
        self.message = message
        self.model = model
        self.status = status
        self.request_id = request_id
        self.attempts = 1
        # What the response's rate-limit headers said (a RateLimits), when the server sent any.
        self.rate_limits = None


class RetryableError(ProviderError):
    """Worth trying again later; ``retry_after`` is the server's Retry-After in seconds, if it sent one."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class RateLimited(RetryableError):
    """HTTP 429."""


class ServerError(RetryableError):
    """HTTP 5xx, 408 or 409."""


class Overloaded(ServerError):
    """HTTP 529, Anthropic's "overloaded"."""


class RequestTimedOut(RetryableError):
    """No answer within the client's timeout."""


class ConnectionFailed(RetryableError):
    """The connection could not be made or was dropped before an answer."""


class CannotConnect(ConnectionFailed):
    """No connection could be opened at all (a DNS failure, connection refused, no route): the
    request never reached a server, so it is no API call. ``reason`` is the cause, one line."""

    def __init__(self, message: str, *, reason: str = "", **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.reason = reason


class MalformedResponse(RetryableError):
    """The server answered 2xx with a body that is not a valid completion (a truncating proxy, a flaky server)."""


class FatalError(ProviderError):
    """Retrying cannot help: fix the key, the model name, the request or the configuration."""

    exit_code = 2


class AuthenticationFailed(FatalError):
    """HTTP 401 or 403: the key was rejected or lacks permission."""


class ModelNotFound(FatalError):
    """HTTP 404: the API says the model does not exist (or the base URL is wrong)."""


class BadRequest(FatalError):
    """HTTP 400, 422 and other 4xx: the API refused the request as written."""


class EndpointUnreachable(FatalError):
    """A model's first attempts all failed to connect and none has succeeded: the endpoint is wrong
    or down, and every other call would fail the same way (after its retries)."""


class ConfigError(FatalError):
    """Before any call: a malformed model id, a missing key, a missing base URL."""
