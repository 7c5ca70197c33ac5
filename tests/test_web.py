"""The web page's server: the JSON API (the command line's objects), the worker and its
pool (warm processes, killed and replaced past the time limit or when the client goes, a
bounded queue, then 503), what the server serves and refuses, and ``matcalc serve``.
The attacks are in test_web_attacks.py, the page in a browser in test_web_browser.py."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import pytest
from web_support import (
    JSON,
    connect,
    gone,
    hanging_worker,
    need,
    post,
    read_answer,
    request,
    start,
    wait_until,
)

from matcalc.web import MAX_BODY, Settings
from matcalc.web.guard import content_type_problem, host_problem, origin_problem
from matcalc.web.worker import answer, answer_bytes


@pytest.fixture(scope="module")
def server():
    running = start()
    yield running.url
    running.stop()


# ------------------------------------------------------------------------------ the API


def test_the_api_answers_with_the_command_lines_json():
    d = answer({"kind": "diff", "expr": "L(W x + b)", "wrt": "W"})
    assert d["kind"] == "derivative" and d["gradient"]["text"] == "∇L(W x + b) xᵀ"
    assert d["latex_block"].startswith("\\begin{aligned}") and "steps_latex" in d
    h = answer({"kind": "hessian", "expr": "x' A x", "wrt": "x", "check": True})
    assert h["kind"] == "hessian" and h["hessian"]["text"] == "A + Aᵀ" and h["check"]["status"] == "verified"
    v = answer({"kind": "check", "expr": "x' A x", "wrt": "x", "claim": "2 A x"})
    assert v["kind"] == "verdict" and v["status"] == "wrong" and "symmetric" in v["text"]
    c = answer({"kind": "codegen", "expr": "‖A x − b‖²", "wrt": "x", "target": "numpy"})
    assert c["kind"] == "code" and "def value_and_grad" in c["source"]


def test_errors_are_objects_with_the_caret():
    e = answer({"kind": "diff", "expr": "W x +", "wrt": "W"})
    assert e["kind"] == "error" and "ends too early" in e["error"] and "^" in e["pretty"]
    e = answer({"kind": "check", "expr": "x' x", "wrt": "x", "claim": "2 y"})
    assert e["kind"] == "error" and e["in"] == "claim"
    for bad in ({"kind": "nonsense", "expr": "x", "wrt": "x"}, {"kind": "diff"}, {"expr": 3, "wrt": "x"}, [1, 2],
                {"expr": "x", "wrt": "x", "timeout": "nan"}, {"expr": "x", "wrt": "x", "layout": ["x"]}):
        assert answer(bad)["kind"] == "error"


def test_a_lone_surrogate_is_a_parse_error_with_its_caret_and_valid_utf8():
    body = answer_bytes(b'{"kind": "diff", "expr": "x\\ud800 + y", "wrt": "x"}')
    e = json.loads(body.decode("utf-8"))  # the answer is UTF-8: no UnicodeEncodeError on the way
    assert e["kind"] == "error" and "U+D800" in e["error"] and e["span"] == [1, 2]
    assert e["pretty"].startswith("parse error") and e["pretty"].splitlines()[-1] == "   ^"
    e = json.loads(answer_bytes(b'{"kind": "check", "expr": "x\' x", "wrt": "x", "claim": "\\udc00"}'))
    assert e["kind"] == "error" and e["in"] == "claim" and "U+DC00" in e["error"]


def test_the_worker_answers_bytes_that_are_not_json_with_an_error():
    for body in (b"{not json", b"\xff", b"[" * 100_000):
        assert json.loads(answer_bytes(body))["kind"] == "error"


# ------------------------------------------------------------------------------ what a request must be


def test_the_host_allow_list():
    names = Settings(host="matcalc.example.edu", allowed_hosts=("Proxy.Example",)).host_names()
    for ok in ("localhost", "localhost:8000", "127.0.0.1:8000", "[::1]:8000", "matcalc.example.edu",
               "proxy.example:443", "10.1.2.3:8000", "[2001:db8::1]"):
        assert host_problem(ok, names) is None, ok
    assert host_problem("evil.example", names)[0] == 421
    assert host_problem("localhost.evil.example:8000", names)[0] == 421
    for bad in (None, "", "a b", "x/y", "host:port", "user@localhost"):
        assert host_problem(bad, names)[0] == 400, bad
    assert "0.0.0.0" not in Settings(host="0.0.0.0").host_names()


def test_a_post_must_come_from_the_page_itself():
    assert origin_problem(None, None, "127.0.0.1:8000") is None  # curl, a script
    assert origin_problem("http://127.0.0.1:8000", "same-origin", "127.0.0.1:8000") is None
    assert origin_problem("https://matcalc.example.edu", None, "matcalc.example.edu") is None  # behind TLS
    assert origin_problem(None, "none", "localhost:8000") is None  # typed in the address bar
    for origin, site in (("http://evil.example", "cross-site"), ("http://127.0.0.1:9999", "same-site"),
                         ("null", "cross-site"), ("http://localhost:8000", None), ("ftp://127.0.0.1:8000", None),
                         (None, "cross-site"), (None, "same-site")):
        assert origin_problem(origin, site, "127.0.0.1:8000"), (origin, site)


def test_a_post_must_be_json():
    assert content_type_problem("application/json") is None
    assert content_type_problem("Application/JSON; charset=UTF-8") is None
    for bad in (None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                "application/json; charset=latin-1", "application/jsonx"):
        assert content_type_problem(bad), bad


# ------------------------------------------------------------------------------ the server


def test_the_page_and_katex_are_served_from_the_package(server):
    status, headers, page = request(server, "GET", "/")
    assert status == 200 and '<form id="form"' in page and "/katex/katex.min.js" in page
    assert "cdn" not in page.lower() and "https://" not in page and "<script>" not in page
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "'unsafe-inline'" not in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"
    for path in ("/page.js", "/page.css", "/katex/katex.min.js", "/katex/katex.min.css",
                 "/katex/fonts/KaTeX_Main-Regular.woff2"):
        assert request(server, "GET", path)[0] == 200, path
    assert request(server, "HEAD", "/")[0] == 200
    for outside in ("/katex/../__init__.py", "/katex/%2e%2e/web/__init__.py", "/etc/passwd", "/katex/",
                    "/katex/LICENSE", "/%00", "/page.js%00.html", "/web/__init__.py"):
        status, headers, body = request(server, "GET", outside)
        assert status == 404 and body["kind"] == "error" and body["status"] == 404, outside
        assert "frame-ancestors 'none'" in headers["content-security-policy"]


def test_every_failure_is_a_json_error_with_its_status(server):
    cases = [
        (("POST", "/api", b"{not json", JSON), 400),
        (("POST", "/api", b"[1, 2]", JSON), 400),
        (("POST", "/api", b"\xff\xfe", JSON), 400),
        (("POST", "/api", b'{"expr": "x"}', {"Content-Type": "text/plain"}), 415),
        (("POST", "/api", b'{"expr": "x"}', {**JSON, "Origin": "http://evil.example"}), 403),
        (("POST", "/api", b"{" + b" " * (MAX_BODY + 10) + b"}", JSON), 413),
        (("POST", "/elsewhere", b"{}", JSON), 404),
        (("POST", "/", b"{}", JSON), 405),
        (("GET", "/api", None, {}), 405),
        (("PUT", "/api", b"{}", JSON), 405),
        (("OPTIONS", "/api", None, {"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"}), 405),
        (("GET", "/", None, {"Host": "evil.example"}), 421),
    ]
    for (method, path, body, headers), want in cases:
        status, found, data = request(server, method, path, body, headers)
        assert status == want and data["kind"] == "error" and data["status"] == want and data["error"], (path, data)
        assert found["content-type"].startswith("application/json")
    status, _, d = post(server, {"kind": "diff", "expr": "x' A x", "wrt": "x"})  # still serving
    assert status == 200 and d["gradient"]["text"] == "(A + Aᵀ) x"


def test_the_api_answers_with_its_check_and_keeps_the_contract(server):
    status, headers, d = post(server, {"kind": "diff", "expr": "L(W x + b)", "wrt": "W", "check": True},
                              {"Origin": server})
    assert status == 200 and headers["cache-control"] == "no-store"
    assert d["kind"] == "derivative" and d["gradient"]["text"] == "∇L(W x + b) xᵀ"
    assert d["check"]["status"] == "verified" and d["check_text"].startswith("✓ checked with SymPy")
    status, _, e = post(server, {"kind": "diff", "expr": "W x +", "wrt": "W"})
    assert status == 200 and e["kind"] == "error" and "^" in e["pretty"]  # an answer, with its caret
    status, _, e = post(server, {"kind": "diff", "expr": "x\ud800", "wrt": "x"})
    assert status == 200 and e["kind"] == "error" and "U+D800" in e["error"]


# ------------------------------------------------------------------------------ the pool


@pytest.fixture(scope="module")
def one_worker():
    """One worker that hangs on request, a queue of one, a short time limit."""
    running = start(hanging_worker, workers=1, queue=1, request_seconds=3.0, wait_seconds=600.0)
    yield running
    running.stop()


def _hang(running, pidfile) -> object:
    sock = connect(running.url)
    body = json.dumps({"hang": str(pidfile)}).encode()
    sock.sendall(b"POST /api HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    return sock


def test_a_request_past_its_time_limit_is_stopped_with_what_it_forked(one_worker, tmp_path):
    pidfile = tmp_path / "child"
    with _hang(one_worker, pidfile) as sock:
        status, _, body = read_answer(sock)
    d = json.loads(body)
    assert status == 200 and d["kind"] == "error" and "took longer than 3 s and was stopped" in d["error"]
    wait_until(lambda: gone(int(pidfile.read_text())), what="the check's child ending with its worker")
    wait_until(lambda: one_worker.pool.idle == 1, what="the worker's replacement")
    status, _, d = post(one_worker.url, {"kind": "diff", "expr": "x' x", "wrt": "x"})
    assert status == 200 and d["gradient"]["text"] == "2 x"


def test_a_full_queue_is_a_503_and_a_client_that_leaves_frees_its_worker(one_worker, tmp_path):
    pool = one_worker.pool
    wait_until(lambda: pool.idle == 1, what="an idle worker")
    hung = _hang(one_worker, tmp_path / "child")
    wait_until(lambda: pool.idle == 0, what="the worker taking the request")
    queued = connect(one_worker.url)
    body = json.dumps({"kind": "diff", "expr": "tr(A X)", "wrt": "X"}).encode()
    queued.sendall(b"POST /api HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                   b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    wait_until(lambda: pool.waiting == 1, what="the second request waiting")
    status, headers, d = post(one_worker.url, {"kind": "diff", "expr": "x' x", "wrt": "x"})
    assert status == 503 and headers["retry-after"].isdigit() and d["kind"] == "error" and "busy" in d["error"]
    hung.close()  # the client goes: its worker is killed, a new one answers the waiting request
    status, _, answer_body = read_answer(queued)
    queued.close()
    assert status == 200 and json.loads(answer_body)["gradient"]["text"] == "Aᵀ"


def test_concurrent_requests_are_all_answered(server):
    exprs = [("x' A x", "x", "(A + Aᵀ) x"), ("tr(A X B)", "X", "Aᵀ Bᵀ"), ("L(W x + b)", "W", "∇L(W x + b) xᵀ")]
    results: list[object] = []

    def client(k: int) -> None:
        expr, wrt, want = exprs[k % len(exprs)]
        status, _, d = post(server, {"kind": "diff", "expr": expr, "wrt": wrt, "check": True})
        results.append(status == 200 and d["gradient"]["text"] == want and d["check"]["status"] == "verified")

    threads = [threading.Thread(target=client, args=(k,)) for k in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [True] * 12


# ------------------------------------------------------------------------------ matcalc serve


def test_matcalc_serve_prints_its_address_and_serves():
    need("starlette", "uvicorn")
    proc = subprocess.Popen([sys.executable, "-m", "matcalc.cli", "serve", "--port", "0", "--workers", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("matcalc is serving on http://127.0.0.1:"), line + proc.stderr.read()
        url = line.split()[4].rstrip("/")
        status, _, page = request(url, "GET", "/")
        assert status == 200 and "matcalc" in page
        status, _, d = post(url, {"kind": "diff", "expr": "x' x", "wrt": "x"})
        assert status == 200 and d["gradient"]["text"] == "2 x"
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def test_matcalc_serve_refuses_bad_settings_with_exit_2(capsys):
    from matcalc.cli import main

    for argv in (["serve", "--port", "70000"], ["serve", "--workers", "0"], ["serve", "--queue", "-1"],
                 ["serve", "--allow-host", "a b"]):
        assert main(argv) == 2, argv
    err = capsys.readouterr().err
    assert "--port 70000" in err and "--workers 0" in err and "Traceback" not in err


def test_matcalc_serve_without_the_web_extra_says_how_to_install_it(monkeypatch, capsys):
    from matcalc import web
    from matcalc.cli import main

    monkeypatch.setattr(web, "missing_packages", lambda: ["starlette", "uvicorn"])
    assert main(["serve", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert 'pip install "matcalc[web]"' in err and "starlette and uvicorn" in err and "Traceback" not in err


def test_an_exception_in_a_handler_is_a_json_500_not_a_dropped_connection():
    need("starlette")
    import asyncio

    from matcalc.web.app import Guard

    async def failing(scope, receive, send):
        raise RuntimeError("a bug")

    async def failing_late(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise RuntimeError("a bug after the answer began")

    async def call(app) -> list[dict]:
        sent: list[dict] = []

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "method": "GET", "path": "/", "headers": [(b"host", b"127.0.0.1")]}
        await Guard(app, Settings().host_names())(scope, receive, send)
        return sent

    sent = asyncio.run(call(failing))
    assert sent[0]["status"] == 500 and (b"x-frame-options", b"DENY") in sent[0]["headers"]
    assert json.loads(sent[1]["body"]) == {"kind": "error", "error": "matcalc's web server failed on this request",
                                           "pretty": "", "status": 500}
    sent = asyncio.run(call(failing_late))  # the answer had begun: it is not begun twice
    assert [m["type"] for m in sent] == ["http.response.start"]
