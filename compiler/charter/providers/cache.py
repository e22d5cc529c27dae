"""The response cache: one SQLite file mapping a request's cache key to the response it got.

The key is :meth:`Provider.cache_key`: provider kind, model, base URL and the request body as
sent (parameters, system prompt, messages), never the API key. A response is stored only after
a successful call, so errors are never replayed. The answer to a request with temperature > 0 is
a sample; the cache replays the first sample, which is what makes re-runs reproducible (use
``--no-cache`` to draw new ones).

Default location: ``$XDG_CACHE_HOME/charter/responses.sqlite3`` (``~/.cache/charter/...`` without
XDG_CACHE_HOME); ``--cache PATH`` chooses another file. The file is opened in WAL mode with a busy
timeout, so several runs (processes) can share it; within a run all access is from the event
loop's thread, and each lookup or insert is well under a millisecond.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

from ..diagnostics import CharterError
from .base import Response

CACHE_FILE = "responses.sqlite3"
_SCHEMA = "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, response TEXT NOT NULL)"


def default_cache_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".cache"
    return root / "charter" / CACHE_FILE


class CacheError(CharterError, OSError):
    """The cache file cannot be opened or is not a Charter cache."""

    exit_code = 2


class ResponseCache:
    """``get(key) -> Response | None`` and ``put(key, response)`` over one SQLite file."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            # WAL with synchronous=NORMAL survives a killed process; only an OS crash can lose the
            # last few inserts, which merely costs their calls again.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(_SCHEMA)
        except sqlite3.DatabaseError as err:
            raise CacheError(f"{self.path}: cannot use as a response cache: {err}") from None
        except OSError as err:
            raise CacheError(f"{self.path}: cannot create the response cache: {err.strerror or err}") from None
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> Response | None:
        row = self._db.execute("SELECT response FROM responses WHERE key = ?", (key,)).fetchone()
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        return Response.from_dict(json.loads(row[0]))

    def put(self, key: str, response: Response) -> None:
        text = json.dumps(response.to_dict(), ensure_ascii=False, separators=(",", ":"))
        self._db.execute("INSERT OR REPLACE INTO responses (key, response) VALUES (?, ?)", (key, text))

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        self._db.close()
