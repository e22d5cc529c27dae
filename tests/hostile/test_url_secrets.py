"""Item 4 of issue 13: credentials in a base URL reach no file and no message.

`OPENAI_BASE_URL=http://user:PASS@host/v1?token=T` used to appear in results.jsonl, report.html and
report.md. Every URL in a provider message goes through scrub_url, which drops the user-info, the
query string and the fragment.
"""

from __future__ import annotations

import os
import stat

import pytest

from charter.providers.errors import ConnectionFailed, one_line, scrub_url, scrub_urls
from helpers import judge_verdict
from fakeserver import FakeServer, ModelScript
from hostile.conftest import one_error_line

SECRETS = ("PASS", "TOKEN123", "user:", "frag")


def _with_credentials(base_url: str) -> str:
    return base_url.replace("http://", "http://user:PASS@", 1) + "?token=TOKEN123#frag"


@pytest.mark.parametrize("url,scrubbed", [
    ("http://user:PASS@host:8080/v1?token=T#x", "http://host:8080/v1"),
    ("https://PASS@host/v1/", "https://host/v1/"),
    ("https://u:p@ss:w@rd@host/v1", "https://host/v1"),
    ("http://host?token=T", "http://host"),
    ("http://127.0.0.1:11434/v1", "http://127.0.0.1:11434/v1"),
    ("https://api.openai.com/v1", "https://api.openai.com/v1"),
])
def test_scrub_url(url, scrubbed):
    assert scrub_url(url) == scrubbed


def test_urls_inside_a_message_are_scrubbed():
    text = "connection to http://user:PASS@h/v1?token=T failed; see https://a:b@docs/x?k=v."
    assert scrub_urls(text) == "connection to http://h/v1 failed; see https://docs/x"
    assert "PASS" not in one_line(text)
    assert str(ConnectionFailed(f"m: connection to {_with_credentials('http://h/v1')} failed")) == \
        "m: connection to http://h/v1 failed"


def _judge(model, messages):
    return judge_verdict(messages, 9, "fine")


def _everything_written(run_dir) -> str:
    return "".join(p.read_text(errors="replace") for p in sorted(run_dir.rglob("*")) if p.is_file())


def test_a_dead_endpoint_with_credentials_leaks_into_no_result_and_no_report(spec_file, env, cli, monkeypatch):
    with FakeServer({"judge": ModelScript(reply=_judge)}) as server:
        dead = server.openai_base_url  # nothing listens here once the server has stopped
    monkeypatch.setenv("OPENAI_BASE_URL", _with_credentials(dead))
    result = cli("run", spec_file, "-m", "openai:tutor", "--judge", "openai:judge", "-o", "out", "--retries", "0",
                 "--case", "probe", "-q")
    # Nothing connects, so the run stops early (issue 13 item 6) with the cause, naming the endpoint scrubbed.
    assert result.exit_code == 2, result.output
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("charter: error: ") and f"cannot connect to {dead}" in last, last
    everything = _everything_written(env / "out") + result.stdout + result.stderr
    assert not [s for s in SECRETS if s in everything]
    umask = os.umask(0o022)
    os.umask(umask)
    # item 12: the usual mode, not 0600
    assert stat.S_IMODE((env / "out" / "run.json").stat().st_mode) == 0o666 & ~umask


def test_an_error_naming_the_endpoint_shows_it_without_credentials(spec_file, env, cli, monkeypatch):
    with FakeServer({"judge": ModelScript(reply=_judge)}) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", _with_credentials(server.openai_base_url))
        result = cli("run", spec_file, "-m", "openai:nosuch", "--judge", "openai:judge", "-o", "out",
                     "--retries", "0", "--case", "probe", "-q")
    assert result.exit_code == 2
    line = one_error_line(result.stderr)
    assert f"the API at {server.openai_base_url}" in line and "HTTP 404" in line
    assert not [s for s in SECRETS if s in line + _everything_written(env / "out")]
