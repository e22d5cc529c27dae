"""The fake server's ``--demo`` mode answers as the in-process ``demo:`` models do (charter.providers.demo)."""

from __future__ import annotations

from charter.providers.demo import demo_reply

__all__ = ["demo_reply"]
