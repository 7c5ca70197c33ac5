"""Helpers of the web server's tests: what they need installed, a server in a thread, plain
HTTP on loopback, and a worker that can be told to hang (the pool's tests).

A missing package or browser skips a test with its reason here, and fails it under CI
(``CI=true``, set by .ci/run, which installs them)."""

from __future__ import annotations

import http.client
import importlib.util
import json
import os
import select
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from matcalc.web import worker

CI = bool(os.environ.get("CI"))
CHROMIUM = "/usr/bin/chromium"


def need(*modules: str) -> None:
    """Skip (fail under CI) unless every module is importable."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        reason = f"{', '.join(missing)} not installed (pip install -e \".[test]\")"
        if CI:
            pytest.fail(f"CI installs the test extra: {reason}")
        pytest.skip(reason)


def need_chromium() -> None:
    need("playwright")
    if not os.access(CHROMIUM, os.X_OK):
        if CI:
            pytest.fail("CI installs Debian's chromium for the browser tests (.ci/run)")
        pytest.skip(f"Debian's chromium is not at {CHROMIUM} (apt-get install chromium)")


def start(target: Callable[[Any], None] = worker.serve, **settings: Any) -> Any:
    """A server on a free loopback port, in a thread, with two workers unless told otherwise."""
    need("starlette", "uvicorn")
    from matcalc.web import Settings
    from matcalc.web.server import start_in_thread

    return start_in_thread(Settings(**{"port": 0, "workers": 2, **settings}), target)


def wait_until(condition: Callable[[], bool], seconds: float = 120.0, what: str = "the condition") -> None:
    """Poll ``condition`` until it holds; fail after ``seconds`` (generous: this is no timing test)."""
    end = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > end:
            pytest.fail(f"{what} did not happen within {seconds:g} s")
        time.sleep(0.05)


# ------------------------------------------------------------------------------ HTTP


def request(url: str, method: str, path: str, body: bytes | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
    """One request on its own connection: status, headers (lower-case names), JSON or text."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read().decode("utf-8", "replace")
        found = {k.lower(): v for k, v in r.getheaders()}
    finally:
        conn.close()
    try:
        return r.status, found, json.loads(data)
    except json.JSONDecodeError:
        return r.status, found, data


JSON = {"Content-Type": "application/json"}


def post(url: str, data: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
    return request(url, "POST", "/api", json.dumps(data).encode(), {**JSON, **(headers or {})})


def connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    return socket.create_connection((parts.hostname, parts.port), timeout=120)


class Answers:
    """The answers arriving on one socket, one after another (pipelined ones included)."""

    def __init__(self, sock: socket.socket, seconds: float = 120.0):
        self.sock = sock
        self.buffer = b""
        sock.settimeout(seconds)

    def _more(self, what: bytes) -> None:
        chunk = self.sock.recv(65536)  # a reset raises ConnectionResetError: the test fails on it
        if not chunk:
            raise AssertionError(f"the server closed the connection without an answer (after {what[:200]!r})")
        self.buffer += chunk

    def next(self) -> tuple[int, dict[str, str], bytes]:
        """The next whole answer: status, headers, body; fails on a reset or a closed connection."""
        while b"\r\n\r\n" not in self.buffer:
            self._more(self.buffer)
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(self.buffer) < length:
            self._more(head)
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return status, headers, body


def read_answer(sock: socket.socket, seconds: float = 120.0) -> tuple[int, dict[str, str], bytes]:
    """Read one whole answer from a socket (see :class:`Answers`)."""
    return Answers(sock, seconds).next()


def raw(url: str, data: bytes, seconds: float = 120.0) -> tuple[int, dict[str, str], Any]:
    """Send bytes as they are, read the answer: status, headers, JSON body."""
    with connect(url) as sock:
        sock.sendall(data)
        status, headers, body = read_answer(sock, seconds)
    try:
        return status, headers, json.loads(body)
    except json.JSONDecodeError:
        return status, headers, body


def readable(sock: socket.socket) -> bool:
    return bool(select.select([sock], [], [], 0)[0])


# ------------------------------------------------------------------------------ a worker for the pool's tests


def hanging_answer(request: Any) -> dict[str, Any]:
    """A request ``{"hang": PIDFILE}`` forks a child that sleeps (as the SymPy check's child
    computes), writes its pid to PIDFILE and sleeps itself; any other is answered as usual."""
    if isinstance(request, dict) and "hang" in request:
        pid = os.fork()
        if pid == 0:
            time.sleep(3600)
            os._exit(0)
        Path(request["hang"]).write_text(str(pid))
        time.sleep(3600)
    return worker.answer(request)


def hanging_worker(conn: Any) -> None:
    worker.serve(conn, respond=hanging_answer)


def gone(pid: int) -> bool:
    """The process has ended (or is a zombie, waiting to be reaped by whoever adopted it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")
