"""Helpers for the runner tests: a rule-based judge for the fake server (scripted in conftest.py)."""

from __future__ import annotations

import json
import re

from helpers import judge_verdict

_REPLY = re.compile(r"<reply-([0-9a-f]+)>\n(.*?)\n</reply-\1>", re.S)


def reply_under_grading(messages: list) -> str:
    """The reply a judge request asks to grade (from the monitor's fenced block)."""
    user = [m["content"] for m in messages if m["role"] == "user"][0]
    match = _REPLY.search(user)
    return match.group(2) if match else ""


def verdict(score: int, reason: str = "scripted", messages: list | None = None) -> str:
    """A verdict grading every clause the request in ``messages`` asks about (none without it: a
    verdict that grades nothing, which the runner counts as a grading error)."""
    if messages is None:
        return json.dumps({"clauses": {}, "violated": [], "reason": reason, "score": score})
    return judge_verdict(messages, score, reason)


def scoring_judge(model: str, messages: list) -> str:
    """Fails replies containing BAD (score 2), passes the rest (score 9)."""
    return verdict(2 if "BAD" in reply_under_grading(messages) else 9, messages=messages)

