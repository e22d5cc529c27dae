"""A spec's file checks (the schema, ids) in a worker process (charter.spec.resolve.FileChecks): the
same verdict and the same diagnostics as in this process, whatever the venture of building the IR
meanwhile."""

from __future__ import annotations

import os
import signal
import sys

import pytest

import charter
from charter.diagnostics import SpecError
from charter.spec import resolve
from helpers import MINIMAL, many_rules

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forked workers run on Linux only")


def _large(extra: str = "", rules: int = 1500) -> str:
    """MINIMAL grown past FILE_CHECK_WORKER_MIN_BYTES with rules, ``extra`` appended to the first of them."""
    text = many_rules(rules, extra)
    assert resolve.FILE_CHECK_WORKER_MIN_BYTES <= len(text.encode()) <= resolve.FILE_CHECK_WORKER_MAX_BYTES
    return text


@pytest.fixture
def workers(monkeypatch):
    """``set(True)``: the files are checked in a worker (the pytest worker has an I/O thread, so a
    fork is not chosen on its own here); ``set(False)``: in this process. Records each choice."""
    chosen: list[bool] = []
    real = resolve.FileChecks.__init__

    def recording(self, documents, source_bytes):
        real(self, documents, source_bytes)
        chosen.append(self.concurrent)

    monkeypatch.setattr(resolve.FileChecks, "__init__", recording)

    class Choice:
        def set(self, allowed: bool) -> list[bool]:
            monkeypatch.setattr(resolve, "can_fork", lambda: allowed)
            chosen.clear()
            return chosen

    return Choice()


def test_a_valid_spec_loads_to_the_same_ir_either_way(write, workers):
    path = write("large.yaml", _large())
    chosen = workers.set(True)
    in_worker = charter.load(path)
    assert chosen == [True]
    chosen = workers.set(False)
    assert charter.load(path) == in_worker and chosen == [False]


@pytest.mark.parametrize("extra, where", [
    ("\n    colour: blue", "rules[0]"),  # an unknown key
    ("\n  - id: no-lies\n    text: Again.\n    serves: [honesty]", "rules"),  # an id given twice
    ("\n  - id: Not An Id\n    text: Bad id.\n    serves: [honesty]", "rules[1].id"),  # an id of the wrong form
    ("\n    strength: [hard, soft]", "rules[0].strength"),  # a type the IR builder does not expect
    ("\n    examples: 7", "rules[0]"),  # a key rules do not have, with a number
], ids=["unknown-key", "duplicate-id", "bad-id", "wrong-type", "number-for-list"])
def test_an_invalid_spec_gets_the_same_diagnostics_either_way(write, workers, extra, where):
    path = write("large.yaml", _large(extra).replace("strength: hard\n    serves: [honesty]" + extra,
                                                     "serves: [honesty]" + extra, 1))
    reports = []
    for allowed in (True, False):
        chosen = workers.set(allowed)
        with pytest.raises(SpecError) as raised:
            charter.load(path)
        assert chosen == [allowed]
        reports.append(raised.value.diagnostics)
    assert reports[0] == reports[1]
    assert [d.message.split(":")[0] for d in reports[0]] == [where]


def test_small_and_very_large_specs_are_checked_here(write, workers):
    chosen = workers.set(True)
    charter.load(write("small.yaml", MINIMAL))
    assert chosen == [False]  # the validator's import would outlast the rest of loading
    assert not resolve.FileChecks([], resolve.FILE_CHECK_WORKER_MAX_BYTES + 1).concurrent


def test_a_worker_that_dies_is_replaced_by_checking_here(write, workers, monkeypatch):
    path = write("large.yaml", _large("\n    colour: blue"))
    parent = os.getpid()
    real = resolve.check_files

    def die_in_the_worker(documents):
        if os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(documents)

    monkeypatch.setattr(resolve, "check_files", die_in_the_worker)
    chosen = workers.set(True)
    with pytest.raises(SpecError, match="colour"):
        charter.load(path)
    assert chosen == [True]


def test_an_ir_that_fails_at_the_venture_raises_its_own_error(write, workers, monkeypatch):
    """The IR built while the worker checks the files fails on a spec the checks pass (a bug): the
    load raises that error, as it would without a worker."""
    from charter.spec import loader

    path = write("large.yaml", _large())

    def broken(*args, **kwargs):
        raise RuntimeError("the IR builder failed")

    monkeypatch.setattr(loader, "build_ir", broken)
    for allowed in (True, False):
        chosen = workers.set(allowed)
        with pytest.raises(RuntimeError, match="the IR builder failed"):
            charter.load(path)
        assert chosen == [allowed]
