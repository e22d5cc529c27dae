"""charter._fork: work done in a forked child comes back whole, or as the error it raised, and no
child is left running or unreaped."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

import pytest

from charter._fork import Beside, Forked, WorkerError, can_fork
from charter.diagnostics import Diagnostic, Loc, SpecError

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forked workers run on Linux only")


def _no_child_left(pid: int) -> bool:
    """The child is gone and reaped: not even a zombie of it is left."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def test_the_result_comes_back_whole():
    blob = os.urandom(3_000_000)  # larger than a pipe holds
    with Forked(lambda: {"blob": blob, "pid": os.getpid(), "nested": [(1, "two", None)]}) as work:
        pid = work._pid
        result = work.result()
    assert result["blob"] == blob and result["nested"] == [(1, "two", None)]
    assert result["pid"] == pid != os.getpid()  # it ran in the child
    assert _no_child_left(pid)


def test_the_childs_spec_error_is_raised_with_its_diagnostics():
    diagnostics = [Diagnostic(Loc("spec.yaml", 3, 5), "unknown-context", "no context 'x'"),
                   Diagnostic(Loc("spec.yaml", 1, 1), "other", "second")]

    def refuse():
        raise SpecError(diagnostics)

    with Forked(refuse) as work, pytest.raises(SpecError) as raised:
        work.result()
    assert raised.value.diagnostics == SpecError(diagnostics).diagnostics
    assert str(raised.value) == str(SpecError(diagnostics))


def test_a_bug_in_the_child_keeps_its_type_and_traceback():
    def broken():
        return {}["missing"]

    with Forked(broken) as work, pytest.raises(KeyError) as raised:
        work.result()
    notes = "\n".join(getattr(raised.value, "__notes__", []))
    assert "Traceback in the worker process" in notes and "in broken" in notes


def test_an_error_that_cannot_come_back_becomes_a_worker_error_with_its_message():
    class Unpicklable(Exception):
        def __init__(self, first, second):  # pickling calls cls(*args), which fails
            super().__init__(f"{first}/{second}")

    def raise_it():
        raise Unpicklable("a", "b")

    with Forked(raise_it) as work, pytest.raises(WorkerError, match=r"^Unpicklable: a/b$"):
        work.result()


def test_a_child_killed_before_answering_is_a_worker_error_naming_the_signal():
    with Forked(lambda: os.kill(os.getpid(), signal.SIGKILL)) as work:
        pid = work._pid
        with pytest.raises(WorkerError, match=r"was killed \(SIGKILL\) without giving its result"):
            work.result()
    assert _no_child_left(pid)


def test_a_child_that_exits_early_is_a_worker_error_naming_its_status():
    with Forked(lambda: os._exit(7)) as work, pytest.raises(WorkerError, match="exited with status 7"):
        work.result()


def test_leaving_without_the_result_kills_and_reaps_the_child():
    with Forked(lambda: signal.pause()) as work:  # would wait forever
        pid = work._pid
    assert _no_child_left(pid)


def test_an_error_in_the_parent_kills_and_reaps_the_child():
    with pytest.raises(RuntimeError, match="parent failed"):
        with Forked(lambda: signal.pause()) as work:
            pid = work._pid
            raise RuntimeError("parent failed")
    assert _no_child_left(pid)


def test_the_result_is_taken_once():
    with Forked(lambda: 1) as work:
        assert work.result() == 1
        with pytest.raises(RuntimeError, match="taken once"):
            work.result()


def test_no_fork_while_another_thread_runs():
    before = can_fork()  # False already under pytest-xdist, whose workers have an I/O thread
    tasks = len(os.listdir("/proc/self/task"))
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert not can_fork()
    finally:
        stop.set()
        thread.join()
    # join() returns as the thread finishes, a moment before the kernel lets its task go.
    deadline = time.monotonic() + 10
    while len(os.listdir("/proc/self/task")) > tasks and time.monotonic() < deadline:
        time.sleep(0.001)
    assert can_fork() == before


def test_charter_no_workers_turns_workers_off(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.setattr(os, "listdir", lambda path: ["1"])  # as if single-threaded, here
    assert can_fork()
    monkeypatch.setenv("CHARTER_NO_WORKERS", "1")
    assert not can_fork()
    monkeypatch.setenv("CHARTER_NO_WORKERS", "")
    assert can_fork()


def test_a_worker_that_cannot_be_started_is_a_worker_error(monkeypatch):
    def no_more_processes():
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_more_processes)
    with Forked(lambda: 1) as work, pytest.raises(WorkerError, match="no worker process could be started: Resource"):
        work.result()


def test_a_build_does_its_training_half_itself_when_no_worker_starts(tmp_path, monkeypatch):
    import charter
    from charter.targets.build import BuildOptions, build, render
    from helpers import CHARACTERS

    spec = charter.load(CHARACTERS / "tutor.yaml")
    monkeypatch.setattr(os, "fork", lambda: (_ for _ in ()).throw(OSError(12, "Cannot allocate memory")))
    built = build(spec, tmp_path / "out", BuildOptions(), parallel=True)
    assert [a.path for a in built.artifacts] == [a.path for a in render(spec).artifacts]


def test_beside_does_the_work_here_without_a_worker_or_when_it_dies():
    calls = []
    here = lambda: calls.append("here") or "done here"  # noqa: E731
    with Beside(lambda: "done in the worker", fork=False, here=here) as work:
        assert not work.concurrent and calls == []  # asked for, not done, until result()
        assert work.result() == "done here" and calls == ["here"]
    with Beside(lambda: "done in the worker", fork=True, here=here) as work:
        assert work.concurrent and work.result() == "done in the worker"
    with Beside(lambda: os.kill(os.getpid(), signal.SIGKILL), fork=True, here=here) as work:
        pid = work._worker._pid
        assert work.result() == "done here"
    assert _no_child_left(pid)
    with Beside(lambda: {}["missing"], fork=True) as work, pytest.raises(KeyError):
        work.result()  # an error of the work itself is no reason to do it again
