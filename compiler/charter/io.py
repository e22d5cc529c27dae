"""Atomic file writes: a reader, or a run killed half-way, never sees a half-written artifact."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .diagnostics import CharterError


class OutputError(CharterError):
    """An output file or directory cannot be written, or holds output a command must not mix with its own."""

    exit_code = 2

    @classmethod
    def cannot_write(cls, err: OSError, target: str | os.PathLike) -> "OutputError":
        """``cannot write PATH: REASON`` for an OSError met while writing into ``target``."""
        return cls(f"cannot write {err.filename or target}: {err.strerror or err}")


def write_bytes_atomic(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))
