"""Part of a command's work done in a forked child process, on another core, while the caller goes on.

`charter build` has two halves that share nothing but the spec: the prompts, monitors and eval
cases, and the training data; and loading a spec, its schema check needs nothing the reference
checks and the IR do. The GIL keeps two threads from running Python code at once, so the build
(charter.targets.build) and the loader (charter.spec.resolve.FileChecks) fork, and the child does
its part on the machine's second core. A fork, unlike a new process, needs no second import of
Charter and no copy of the spec: the child starts with the parent's memory, shared until one of
them writes to it. The result comes back pickled (see Forked).

The child runs only the function it was given and leaves with ``os._exit``: it never returns into
the caller's code, runs no atexit handler and flushes none of the parent's buffers. Its exception is
raised in the parent as if the work had run there. A child that ends without an answer (killed, out
of memory) is a WorkerError saying how it ended, and so is a child that could not be started;
callers use Beside, which then does the work in this process. A parent that stops waiting (an error of its own, Ctrl-C)
kills and reaps the child, so none is left behind.
"""

from __future__ import annotations

import os
import signal
import struct
import sys
from typing import Callable, Generic, TypeVar

from .diagnostics import CharterError

T = TypeVar("T")


class WorkerError(CharterError):
    """A child process doing part of a command's work ended without giving its result."""

    exit_code = 2


# Set (to anything but "") to keep every command in one process: to step through it in a
# debugger, under a sandbox that forbids fork, or to count all the work in one process.
NO_WORKERS_VARIABLE = "CHARTER_NO_WORKERS"


def can_fork() -> bool:
    """Whether a fork is safe here and can run beside this process.

    Linux only: macOS system libraries are not safe to use in a forked child that does not exec,
    and Windows has no fork. The process must have a second CPU to run on, and no other thread: a
    thread holding a lock at the moment of the fork would leave the child's copy of it locked.
    CHARTER_NO_WORKERS turns workers off.
    """
    if os.environ.get(NO_WORKERS_VARIABLE) or not sys.platform.startswith("linux") or not hasattr(os, "memfd_create"):
        return False
    if len(os.sched_getaffinity(0)) < 2:
        return False
    try:
        return len(os.listdir("/proc/self/task")) == 1  # every OS thread, not only Python's
    except OSError:
        return False


class Forked(Generic[T]):
    """``work()`` running in a forked child; ``result()`` waits for it. Use as a context manager:
    leaving the block kills the child if its result was not taken, and reaps it.

    The child writes its pickled result into an in-memory file and then one byte into a pipe: a
    pipe carries 64 KB at a time, and a build's training data (megabytes) through one cost more
    than the fork saved. The byte says the result is complete; the pipe's end without one, that
    the child ended without it. A ``pickle.PickleBuffer`` in the result (a build's file contents)
    travels out of band: written to the file as it is, and read back as a read-only memoryview of
    the file mapped into memory, with no copy made by pickling or unpickling it.
    """

    def __init__(self, work: Callable[[], T]) -> None:
        self._pid: int | None = None
        self._done_pipe: int | None = None
        self._result_file: int | None = None
        self._not_started: OSError | None = None
        write_end = None
        try:
            self._result_file = os.memfd_create("charter-worker-result", os.MFD_CLOEXEC)
            self._done_pipe, write_end = os.pipe()
            pid = os.fork()
        except OSError as err:  # no file descriptors or processes to spare: result() says so
            self._not_started = err
            if write_end is not None:
                os.close(write_end)
            self._close()
            return
        if pid == 0:
            _child(work, self._result_file, self._done_pipe, write_end)  # never returns
        os.close(write_end)
        self._pid = pid

    def __enter__(self) -> "Forked[T]":
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._pid is None:
            return
        if self._done_pipe is not None:  # the result was not taken: the child is not needed any more
            try:
                os.kill(self._pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._close()
        self._reap()

    def result(self) -> T:
        """What ``work()`` returned, or the exception it raised, raised here."""
        if self._not_started is not None:
            raise WorkerError(f"no worker process could be started: {self._not_started.strerror or self._not_started}")
        if self._done_pipe is None:
            raise RuntimeError("the result of a forked work is taken once")
        pickle = _pickle()
        done = os.read(self._done_pipe, 1)
        os.close(self._done_pipe)
        self._done_pipe = None
        if not done:
            raise WorkerError(f"a worker process {_ending(self._reap())} without giving its result")
        import mmap

        # The views of the mapping keep it alive as long as the values holding them.
        view = memoryview(mmap.mmap(self._result_file, 0, access=mmap.ACCESS_READ))
        self._close()
        (count,) = struct.unpack_from("<Q", view)
        lengths = struct.unpack_from(f"<{count}Q", view, 8)
        offset = 8 * (count + 1)
        parts = []
        for length in lengths:
            parts.append(view[offset:offset + length])
            offset += length
        ok, value = pickle.loads(parts[0], buffers=parts[1:])
        if ok:
            return value
        raise value

    def _close(self) -> None:
        for name in ("_done_pipe", "_result_file"):
            fd = getattr(self, name)
            if fd is not None:
                os.close(fd)
                setattr(self, name, None)

    def _reap(self) -> int:
        pid, self._pid = self._pid, None
        _, status = os.waitpid(pid, 0)
        return status


class Beside(Generic[T]):
    """``work`` done in a forked worker beside the caller when ``fork``, else done here when its
    result is asked for. ``here`` (``work`` unless given) is what this process does instead: also
    when a worker ends without its result or could not be started, so a caller never depends on a
    worker to get its answer. Use as a context manager, as Forked."""

    def __init__(self, work: Callable[[], T], *, fork: bool, here: Callable[[], T] | None = None) -> None:
        self._here = here if here is not None else work
        self._worker: Forked[T] | None = Forked(work) if fork else None

    @property
    def concurrent(self) -> bool:
        """Whether a worker was started for the work, so the caller's work meanwhile is free."""
        return self._worker is not None

    def __enter__(self) -> "Beside[T]":
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._worker is not None:
            self._worker.__exit__(*exc_info)

    def result(self) -> T:
        """The worker's result, or ``here()``'s; an error the work raised is raised here."""
        if self._worker is not None:
            try:
                return self._worker.result()
            except WorkerError:
                pass  # killed, out of memory, or never started: the work is done here instead
        return self._here()


def out_of_band(data: bytes) -> object:
    """``data`` marked to travel out of band in a result (see Forked): the parent gets a read-only
    memoryview of it."""
    return _pickle().PickleBuffer(data)


_PROTOCOL = 5  # the first with out-of-band buffers


def _pickle():
    """The pickle module's C core where there is one: the pure-Python ``pickle`` module around it
    takes longer to import than the result takes to read."""
    try:
        import _pickle as pickle
    except ImportError:  # pragma: no cover - CPython always has it
        import pickle
    return pickle


def _ending(status: int) -> str:
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        return f"was killed ({name})"
    return f"exited with status {os.waitstatus_to_exitcode(status)}"


def _child(work: Callable[[], object], result_file: int, read_end: int, write_end: int) -> None:
    code = 1
    try:
        os.close(read_end)
        # Ctrl-C reaches the whole process group: the child just stops, and the parent's own
        # KeyboardInterrupt reaps it.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        buffers: list = []
        try:
            payload = _pickle().dumps((True, work()), protocol=_PROTOCOL, buffer_callback=buffers.append)
        except BaseException as err:  # given to the parent, which raises it
            payload, buffers = _pickled_error(err), []
        # The file: how many parts, each part's length, then the parts: the pickle and its buffers.
        parts = [memoryview(payload), *(buffer.raw() for buffer in buffers)]
        _write_all(result_file, struct.pack(f"<{len(parts) + 1}Q", len(parts), *(part.nbytes for part in parts)))
        for part in parts:
            _write_all(result_file, part)
        os.write(write_end, b"\n")
        code = 0
    finally:
        os._exit(code)


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _pickled_error(err: BaseException) -> bytes:
    """``err`` pickled, when it comes back as itself; else a WorkerError with its message. An error
    that is no CharterError (a bug) carries the child's traceback as a note."""
    pickle = _pickle()

    if not isinstance(err, CharterError):
        import traceback

        err.add_note("".join(traceback.format_exception(err)).rstrip()
                     .replace("Traceback", "Traceback in the worker process", 1))
    try:
        payload = pickle.dumps((False, err), protocol=_PROTOCOL)
        if type(pickle.loads(payload)[1]) is type(err):
            return payload
    except Exception:
        pass
    return pickle.dumps((False, WorkerError(f"{type(err).__name__}: {err}")), protocol=_PROTOCOL)
