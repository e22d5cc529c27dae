"""File input and output with the guarantees every command relies on.

Writes are atomic: a reader, or a run killed half-way, never sees a half-written artifact. Reads of
user-named input files are bounded: a device, a FIFO or a runaway file is refused before it can
block the process or fill its memory.
"""

from __future__ import annotations

import fcntl
import os
import stat
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .diagnostics import CharterError


class OutputError(CharterError):
    """An output file or directory cannot be written, or holds output a command must not mix with its own."""

    exit_code = 2

    @staticmethod
    def cannot_write(err: OSError, target: str | os.PathLike) -> "WriteError":
        """``cannot write PATH: REASON`` for an OSError met while writing into ``target`` (a WriteError)."""
        return WriteError(err.filename or target, err)


# Spec YAML files (the entry spec and every file it extends) larger than this are refused.
MAX_SPEC_BYTES_VARIABLE = "CHARTER_MAX_SPEC_BYTES"
DEFAULT_MAX_SPEC_BYTES = 20_000_000
# Eval-case files (`charter run CASES.jsonl`) may legitimately hold 100,000 cases, so their bound is larger.
MAX_CASES_BYTES_VARIABLE = "CHARTER_MAX_CASES_BYTES"
DEFAULT_MAX_CASES_BYTES = 2_000_000_000


class WriteError(OutputError, OSError):
    """An output file could not be written (disk full, no permission, ...). One line naming the file.

    Also an OSError, so code that already handles OSError around a write keeps working.
    """

    exit_code = 2

    def __init__(self, path: Path | str, cause: OSError):
        reason = cause.strerror or str(cause)
        super().__init__(cause.errno, reason, str(path))  # errno, strerror and filename, as OSError has them
        self.path = str(path)
        self.reason = reason

    def __str__(self) -> str:
        return f"cannot write {self.path}: {self.reason}"


class InputRefused(CharterError):
    """An input file is not something Charter reads: not a regular file, or over the size bound.

    ``code`` is a diagnostic code (``not-a-file``, ``too-large``, ``bad-limit``); the message is one line
    without the path, so that each reader can place it (a spec diagnostic, a cases-file error).
    """

    exit_code = 2

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def size_limit(variable: str, default: int) -> int:
    """The byte bound for one kind of input: the environment variable ``variable`` if set, else ``default``."""
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return default
    try:
        limit = int(raw.replace("_", ""))
    except ValueError:
        limit = 0
    if limit <= 0:
        raise InputRefused("bad-limit", f"{variable} must be a whole number of bytes above 0, got {raw[:40]!r}")
    return limit


def _not_a_file(mode: int) -> str:
    for test, kind in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return f"is {kind}, not a regular file"
    return "is not a regular file"


def read_input_bytes(path: Path | str, limit: int, variable: str) -> bytes:
    """The bytes of the regular file ``path``, refusing anything else or anything over ``limit`` bytes.

    Raises InputRefused for a directory, FIFO, device or socket and for a file over the bound (the
    message names ``variable``, which raises it), and OSError (FileNotFoundError, PermissionError, ...)
    when the file cannot be opened. Opened non-blocking and checked on the open descriptor, so a
    FIFO is refused instead of waiting for a writer, and a file swapped after a check is still caught.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InputRefused("not-a-file", _not_a_file(info.st_mode))
        too_large = InputRefused("too-large", f"is larger than {limit:,} bytes; refusing to read it "
                                              f"(set {variable} to raise the bound)")
        if info.st_size > limit:
            raise too_large
        chunks, total = [], 0
        # Read to the bound and one byte beyond: a file that grows after fstat, or a /proc file whose
        # size reads as 0, still cannot make the read unbounded.
        while total <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:
            raise too_large
        return b"".join(chunks)
    finally:
        os.close(fd)


def write_bytes_atomic(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename.

    A reader, or a process killed half-way, sees the old file or the new one, never a mix. With
    ``durable`` (the default) the data is also fsync'd before the rename, so it survives a power loss
    or an OS crash; ``durable=False`` leaves that to the OS, for output that is rebuilt from its
    source anyway (a build's artifacts, as a compiler's objects): an fsync per file was a tenth of
    `charter build` of a large spec. The file gets the mode any other new file would get (0666 less the umask), or keeps the mode of
    the file it replaces, as an in-place rewrite would (``mkstemp`` would make every file 0600).
    Any OSError (disk full, no permission) is raised as WriteError naming ``path``.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            mode: int | None = stat.S_IMODE(os.stat(path).st_mode)
        except FileNotFoundError:
            mode = None  # a new file: 0666 in os.open below, less the umask, as for any other file
        while True:
            # os.urandom is what secrets.token_hex reads, without importing random and hmac.
            tmp = path.parent / f".{path.name}.{os.urandom(6).hex()}.tmp"
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
                             | getattr(os, "O_BINARY", 0), 0o666)
                break
            except FileExistsError:
                continue
    except OSError as err:
        raise WriteError(path, err) from err
    try:
        with os.fdopen(fd, "wb") as handle:
            if mode is not None and hasattr(os, "fchmod"):  # before any byte is written
                os.fchmod(handle.fileno(), mode)
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(err, OSError) and not isinstance(err, WriteError):
            raise WriteError(path, err) from err
        raise


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


# The lock file an output directory holds while a command writes there; it holds the holder's pid.
LOCK_FILE = ".charter.lock"


class DirectoryLocked(OutputError):
    """Another process holds the output directory's lock: two writers would interleave their output."""

    exit_code = 2


@contextmanager
def output_dir_lock(directory: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive lock on ``directory`` (created if missing) while the block writes there.

    Two `charter run` (or generate, or build) on one directory would both append to the same files
    (twice the calls, duplicated rows); the second is refused at once with DirectoryLocked naming
    the holder's pid. The lock is an ``flock`` on ``DIR/.charter.lock``, so the kernel releases it when
    the holder exits, crash or kill -9 included; a lock file left by a dead process locks nothing.
    A path that exists and is not a directory is left to the command's own check.
    """
    directory = Path(directory)
    if os.path.lexists(directory) and not directory.is_dir():
        yield
        return
    created = not directory.exists()
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError.cannot_write(err, directory) from None
    path = directory / LOCK_FILE
    fd = _acquire(path, directory)
    try:
        yield
    finally:
        # Unlink while still holding the lock; a process that opened the old file meanwhile sees,
        # once it gets the lock, that the path no longer names its file, and tries again (_acquire).
        try:
            path.unlink()
        except OSError:
            pass
        os.close(fd)
        if created:
            try:
                directory.rmdir()  # a failed command leaves no empty directory it made
            except OSError:
                pass


def _acquire(path: Path, directory: Path) -> int:
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        except OSError as err:
            raise OutputError.cannot_write(err, path) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            who = f"pid {holder}" if holder else "another process"
            raise DirectoryLocked(f"{directory} is in use by another Charter command ({who}); wait for it to finish "
                                  "or choose another output directory") from None
        except OSError as err:
            os.close(fd)
            raise OutputError(f"{path}: cannot lock: {err.strerror or err}") from None
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if not same:  # the holder unlinked it as we opened it: lock the file that is there now
            os.close(fd)
            continue
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError as err:
            os.close(fd)
            raise OutputError.cannot_write(err, path) from None
        return fd


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
