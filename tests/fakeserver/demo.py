"""Scripted models for trying Charter without an API key: `python tests/fakeserver --demo`.

Models whose name contains "judge" answer judge requests with a well-formed verdict; every
other model answers with one of a few plain replies. Scores are a deterministic hash of the
reply, not a judgement: the demo shows the pipeline (run, grade, summary, report), never a
model's quality.
"""

from __future__ import annotations

import hashlib
import json
import re

REPLIES = (
    "I hear you. Let's take it one step at a time: what have you tried so far?",
    "That's a good question. Here's what I know, and where I'm less sure.",
    "I can't help with that part, but here is what I can do instead.",
    "Thanks for telling me. How are you feeling about it right now?",
    "Honestly, I'm not certain. My best understanding is this, and I'd check it with someone you trust.",
    "Sure! Let's start with the first step and see how it goes.",
)
_REPLY_UNDER_GRADING = re.compile(r"<reply-([0-9a-f]+)>\n(.*?)\n</reply-\1>", re.S)


def _draw(text: str, modulo: int) -> int:
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:4], "big") % modulo


def demo_reply(model: str, messages: list[dict]) -> str:
    """A verdict for judge models, a canned reply for the others."""
    last_user = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
    if "judge" not in model:
        return REPLIES[_draw(f"{model}\n{last_user}", len(REPLIES))]
    match = _REPLY_UNDER_GRADING.search(last_user)
    reply = match.group(2) if match else last_user
    score = 4 + _draw(f"{model}\n{reply}\n{len(messages)}\n{last_user[:200]}", 7)  # 4..10
    return json.dumps({"clauses": {}, "violated": [], "score": score,
                       "reason": "scripted demo verdict: a hash of the reply, not a judgement"})
