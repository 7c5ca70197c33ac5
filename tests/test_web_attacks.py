"""The web server attacked as a hostile page and a crowd of users would: a foreign Host
(DNS rebinding), cross-origin POSTs, wrong content types, malformed requests and bodies,
64 concurrent clients, 50 slow clients.  Each attack is refused or answered — a whole
answer, JSON, with its status, never a reset connection — and the server still serves
afterwards.  Only loopback is used; every loop is bounded in count and time."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
from web_support import JSON, Answers, connect, post, raw, read_answer, readable, request, start, wait_until

from matcalc.web import MAX_BODY


@pytest.fixture(scope="module")
def running():
    running = start(header_seconds=3.0, body_seconds=3.0, write_seconds=3.0)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def server(running):
    return running.url


def still_serving(url: str) -> None:
    status, _, d = post(url, {"kind": "diff", "expr": "tr(A X B)", "wrt": "X"})
    assert status == 200 and d["gradient"]["text"] == "Aᵀ Bᵀ"


def http(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def api(headers: dict[str, str], body: bytes) -> bytes:
    return http("POST", "/api", {"Host": "127.0.0.1", "Content-Length": str(len(body)), **headers}, body)


def test_a_foreign_host_is_refused(server):
    """DNS rebinding: a page on evil.example whose name now points here cannot read answers."""
    for host in ("evil.example", "evil.example:8000", "127.0.0.1.evil.example", "localhost.evil.example"):
        status, headers, body = request(server, "GET", "/", None, {"Host": host})
        assert status == 421 and body["kind"] == "error" and "evil.example" in body["error"], host
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        status, _, body = request(server, "POST", "/api", b'{"expr": "x", "wrt": "x"}', {**JSON, "Host": host})
        assert status == 421 and "gradient" not in body
    status, _, body = raw(server, b"GET / HTTP/1.0\r\n\r\n")  # no Host at all
    assert status == 400 and body["kind"] == "error"
    status, _, body = raw(server, http("GET", "/", {"Host": "127.0.0.1", "host": "evil.example"}))
    assert status == 400 and body["kind"] == "error"
    assert request(server, "GET", "/", None, {"Host": "localhost"})[0] == 200
    still_serving(server)


def test_a_cross_origin_post_is_refused(server):
    body = json.dumps({"kind": "diff", "expr": "x' A x", "wrt": "x", "check": True}).encode()
    for headers in ({"Origin": "http://evil.example"}, {"Origin": "null"}, {"Origin": "http://127.0.0.1:1"},
                    {"Origin": "http://localhost.evil.example"}, {"Sec-Fetch-Site": "cross-site"},
                    {"Sec-Fetch-Site": "same-site"}, {"Origin": "http://evil.example", "Sec-Fetch-Site": "same-origin"}):
        status, _, d = request(server, "POST", "/api", body, {**JSON, **headers})
        assert status == 403 and d["kind"] == "error" and "gradient" not in d, headers
    status, _, d = request(server, "POST", "/api", body, {**JSON, "Origin": server, "Sec-Fetch-Site": "same-origin"})
    assert status == 200 and d["kind"] == "derivative"
    still_serving(server)


def test_a_wrong_content_type_is_refused(server):
    body = b'{"kind": "diff", "expr": "x\' A x", "wrt": "x"}'
    for ctype in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                  "application/json; charset=latin-1", "text/json", None):
        headers = {} if ctype is None else {"Content-Type": ctype}
        status, _, d = request(server, "POST", "/api", body, headers)
        assert status == 415 and d["kind"] == "error", ctype
    still_serving(server)


MALFORMED_BODIES = [
    b"", b"{not json", b"[1, 2]", b'"text"', b"null", b"\xff\xfe", b"\x00", b"[" * 100_000,
    b'{"a": ' * 20_000, b'{"expr": "x\x00", "wrt": "x"}', b"{" + b" " * 1000 + b"}}",
]


def test_malformed_bodies_are_refused(server):
    for body in MALFORMED_BODIES:
        status, _, d = raw(server, api({"Content-Type": "application/json"}, body))
        assert status == 400 and d["kind"] == "error" and d["status"] == 400, body[:40]
    for request_body in ({"kind": "diff", "expr": "x\ud800", "wrt": "x"}, {"kind": "diff", "expr": "x\u0000", "wrt": "x"},
                         {"kind": 5}, {"expr": ["x"], "wrt": "x"}, {"expr": "x", "wrt": "x", "timeout": -1},
                         {"expr": "(" * 5000, "wrt": "x"}, {"expr": "x" * 100_001, "wrt": "x"}):
        status, _, d = post(server, request_body)
        assert status == 200 and d["kind"] == "error", str(request_body)[:60]  # answered: a mathematical error
    status, _, d = post(server, {"expr": "x' x", "wrt": "x", "check": True, "timeout": 1e308})  # bounded: 20 s
    assert status == 200 and d["check"]["status"] == "verified"
    still_serving(server)


def test_malformed_requests_are_refused_with_a_whole_answer(server):
    cases = [
        (b"HELLO\r\n\r\n", 400),
        (b"GET /\x00 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 400),  # a NUL in the path
        (b"GET /%00 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", 404),
        (http("GET", "/", {"Host": "127.0.0.1", "X-Big": "a" * 40_000}), 431),  # headers past the bound
        (http("GET", "/", {"Host": "127.0.0.1", "X-Big": "a" * 10_000, "X-Big2": "b" * 10_000}), 431),
        (http("POST", "/api", {"Host": "127.0.0.1", "Content-Type": "application/json", "Content-Length": "-5"}), 400),
        (http("POST", "/api", {"Host": "127.0.0.1", "Content-Type": "application/json", "Content-Length": "x"}), 400),
        (http("POST", "/api", {"Host": "127.0.0.1", "Content-Type": "application/json",
                               "Content-Length": "2", "content-length": "3"}, b"{}"), 400),
        (http("POST", "/api", {"Host": "127.0.0.1", "Content-Type": "application/json",
                               "Transfer-Encoding": "chunked"}, b"2\r\n{}\r\n0\r\n\r\n"), 411),
        (http("POST", "/api", {"Host": "127.0.0.1", "Content-Type": "application/json",
                               "Content-Length": str(10 ** 12)}), 413),
        (api({"Content-Type": "application/json"}, b"{" + b" " * (MAX_BODY + 1) + b"}"), 413),
        (http("DELETE", "/api", {"Host": "127.0.0.1", "Connection": "close"}), 405),
        (http("GET", "/../../etc/passwd", {"Host": "127.0.0.1", "Connection": "close"}), 404),
    ]
    for data, want in cases:
        status, headers, d = raw(server, data)
        assert status == want and d["kind"] == "error", (data[:60], status, d)
        assert headers["content-type"].startswith("application/json")
        assert headers["x-frame-options"] == "DENY"
    still_serving(server)


def test_a_pipelined_request_with_too_large_headers_is_refused(server):
    with connect(server) as sock:
        sock.sendall(http("GET", "/page.css", {"Host": "127.0.0.1"}) + http("GET", "/", {"Host": "127.0.0.1", "X-Big": "a" * 40_000}))
        answers = Answers(sock)
        assert answers.next()[0] == 200
        status, _, body = answers.next()
        assert status == 431 and json.loads(body)["status"] == 431
    still_serving(server)


def test_sixty_four_concurrent_clients_are_answered_or_told_to_retry(server):
    """Two workers and a queue of 32: every client gets a whole answer — the derivative, or
    a JSON 503 with Retry-After — and no connection is reset."""
    outcomes: list[str] = []
    lock = threading.Lock()
    go = threading.Barrier(64)

    def client(k: int) -> None:
        go.wait()
        try:
            status, headers, d = post(server, {"kind": "diff", "expr": "L(W x + b)", "wrt": "W", "check": k % 2 == 0})
            if status == 200:
                outcome = "answered" if d["gradient"]["text"] == "∇L(W x + b) xᵀ" else f"wrong: {d}"
            elif status == 503:
                outcome = "retry" if headers.get("retry-after", "").isdigit() and d["kind"] == "error" else f"bad 503 {d}"
            else:
                outcome = f"status {status}: {d}"
        except Exception as exc:  # noqa: BLE001 - a reset or a dropped connection is what is counted
            outcome = f"failed: {exc!r}"
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(outcomes) == 64
    assert all(o in ("answered", "retry") for o in outcomes), [o for o in outcomes if o not in ("answered", "retry")]
    assert outcomes.count("answered") >= 2  # at least the workers' own
    still_serving(server)


def _trickle(url: str, first: bytes, then: bytes, results: list, lock: threading.Lock, ready: threading.Barrier) -> None:
    """A slow client: ``first``, then ``then`` one byte at a time, every 0.2 s, until the server answers."""
    outcome = "still open after 60 s"
    try:
        with connect(url) as sock:
            sock.sendall(first)
            ready.wait(120)
            end = time.monotonic() + 60
            for i in range(10_000):
                if readable(sock) or time.monotonic() > end:
                    break
                sock.sendall(then[i % len(then):i % len(then) + 1])
                time.sleep(0.2)
            if readable(sock):
                status, _, body = read_answer(sock, 30)
                outcome = f"{status} {json.loads(body)['kind']}"
                sock.settimeout(30)
                outcome += " closed" if sock.recv(1) == b"" else " open"
    except Exception as exc:  # noqa: BLE001 - a reset, a connection closed without an answer: counted
        ready.abort()
        outcome = f"failed: {exc!r}"
    with lock:
        results.append(outcome)


def test_fifty_slow_clients_are_cut_off_and_the_server_still_serves(server):
    """Slowloris: 25 clients send their headers a byte at a time, 25 their body; each is
    answered 408 and cut off (3 s for headers, 3 s for a body, in this server), and the
    others are served meanwhile."""
    results: list[str] = []
    lock = threading.Lock()
    ready = threading.Barrier(51)
    head = b"POST /api HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    threads = [threading.Thread(target=_trickle, args=(server, head, b"X-Slow: still coming\r\n", results, lock, ready))
               for _ in range(25)]
    threads += [threading.Thread(target=_trickle, args=(server, head + b"Content-Length: 5000\r\n\r\n{\"expr\": \"",
                                                        b"x + ", results, lock, ready)) for _ in range(25)]
    for t in threads:
        t.start()
    ready.wait(120)
    still_serving(server)  # while all fifty are connected
    for t in threads:
        t.join()
    assert results == ["408 error closed"] * 50, sorted(set(results))
    still_serving(server)


def test_idle_connections_are_closed(server):
    with connect(server) as sock:
        sock.settimeout(60)
        assert sock.recv(1) == b""  # nothing sent: closed without a word after the header time
    with connect(server) as sock:  # kept alive after an answer, then idle
        sock.sendall(http("GET", "/page.css", {"Host": "127.0.0.1"}))
        status, _, _ = read_answer(sock)
        assert status == 200
        sock.settimeout(60)
        assert sock.recv(1) == b""
    still_serving(server)


def test_an_answer_nobody_reads_does_not_hold_the_server(running, server):
    """Clients that ask for the largest file again and again and never read: served
    meanwhile, and their connections are dropped (3 s without reading, in this server)."""
    connections = running.server.server_state.connections
    socks = []
    try:
        for _ in range(20):
            s = connect(server)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.sendall(http("GET", "/katex/katex.min.js", {"Host": "127.0.0.1"}) * 20)
            socks.append(s)
        still_serving(server)
        wait_until(lambda: len(connections) == 0, what="the connections that do not read being dropped")
    finally:
        for s in socks:
            s.close()
    still_serving(server)
