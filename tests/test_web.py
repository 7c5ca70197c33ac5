"""The local web page (issue 13): the JSON API behind it, the server's robustness (bounded
requests, malformed ones, paths outside the page, concurrency under load), and the page
itself in a real headless browser — Debian's Chromium, run with --dump-dom after the
page's scripts have run (nothing downloads a browser)."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import statistics
import subprocess
import threading
import time
from urllib.parse import quote, urlsplit

import pytest

from matcalc.web import MAX_BODY, start_in_thread
from matcalc.web.worker import answer

CI = bool(os.environ.get("CI"))


@pytest.fixture(scope="module")
def server():
    srv, url = start_in_thread()
    yield url
    srv.shutdown()
    srv.server_close()


def _request(url: str, method: str, path: str, body: bytes | None = None,
             headers: dict | None = None) -> tuple[int, dict | str]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    data = r.read().decode("utf-8", "replace")
    conn.close()
    try:
        return r.status, json.loads(data)
    except json.JSONDecodeError:
        return r.status, data


def _post(url: str, request: dict) -> tuple[int, dict]:
    body = json.dumps(request).encode()
    status, data = _request(url, "POST", "/api", body, {"Content-Type": "application/json"})
    assert isinstance(data, dict)
    return status, data


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
    for bad in ({"kind": "nonsense", "expr": "x", "wrt": "x"}, {"kind": "diff"}, {"expr": 3, "wrt": "x"}, [1, 2]):
        assert answer(bad)["kind"] == "error"


# ------------------------------------------------------------------------------ the server


def test_the_page_and_katex_are_served_from_the_package(server):
    status, page = _request(server, "GET", "/")
    assert status == 200 and '<form id="form"' in page and "/katex/katex.min.js" in page
    assert "cdn" not in page.lower() and "https://" not in page
    assert _request(server, "GET", "/page.js")[0] == 200
    assert _request(server, "GET", "/katex/katex.min.js")[0] == 200
    assert _request(server, "GET", "/katex/fonts/KaTeX_Main-Regular.woff2")[0] == 200
    for outside in ("/katex/../__init__.py", "/katex/%2e%2e/web/__init__.py", "/etc/passwd", "/katex/"):
        assert _request(server, "GET", outside)[0] == 404


def test_the_server_survives_malformed_requests(server):
    assert _request(server, "POST", "/api", b"{not json", {"Content-Type": "application/json"})[0] == 400
    assert _request(server, "POST", "/api", b"[1, 2]", {"Content-Type": "application/json"})[0] == 400
    assert _request(server, "POST", "/api", b"\xff\xfe", {"Content-Type": "application/json"})[0] == 400
    assert _request(server, "POST", "/elsewhere", b"{}")[0] == 404
    big = b"{" + b" " * (MAX_BODY + 10) + b"}"
    assert _request(server, "POST", "/api", big, {"Content-Type": "application/json"})[0] == 413
    status, d = _post(server, {"kind": "diff", "expr": "x' A x", "wrt": "x"})  # still serving
    assert status == 200 and d["gradient"]["text"] == "(A + Aᵀ) x"


def test_a_slow_request_is_stopped_and_said(monkeypatch):
    from matcalc import web

    d = web.compute_in_process({"kind": "diff", "expr": "x' A x", "wrt": "x"}, seconds=0.001)
    assert d["kind"] == "error" and "stopped" in d["error"]


def test_load_two_hundred_requests_from_eight_clients(server, capsys):
    """Bounded load on loopback: no failed request; latency percentiles reported."""
    exprs = ["x' A x", "tr(A X B)", "L(W x + b)", "‖A x − b‖²", "logdet(X)", "sum(log(1 + exp(X w)))"]
    wrts = ["x", "X", "W", "x", "X", "w"]
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()

    def client(k: int) -> None:
        for i in range(25):
            j = (k + i) % len(exprs)
            t = time.perf_counter()
            try:
                status, d = _post(server, {"kind": "diff", "expr": exprs[j], "wrt": wrts[j]})
                ok = status == 200 and d.get("kind") == "derivative"
            except Exception as exc:  # noqa: BLE001 - a failed request is what is counted
                ok, d = False, {"error": repr(exc)}
            with lock:
                latencies.append(time.perf_counter() - t)
                if not ok:
                    failures.append(str(d)[:200])

    threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures[:3]
    assert len(latencies) == 200
    q = statistics.quantiles(latencies, n=100)
    with capsys.disabled():
        print(f"\n  200 requests from 8 clients: p50 {q[49] * 1e3:.0f} ms, p90 {q[89] * 1e3:.0f} ms, "
              f"p99 {q[98] * 1e3:.0f} ms, max {max(latencies) * 1e3:.0f} ms")


# ------------------------------------------------------------------------------ in a browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _dom(url: str) -> str:
    if CHROMIUM is None:
        if CI:
            pytest.fail("CI installs Debian's chromium for the browser tests (.ci/run)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    done = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=30000",
                           "--dump-dom", url], capture_output=True, text=True, timeout=120)
    return done.stdout


def _page(server: str, **state: str) -> str:
    query = "&".join(f"{k}={quote(v)}" for k, v in state.items())
    return _dom(f"{server}/?{query}")


def test_the_browser_shows_the_typeset_gradient_and_its_check(server):
    dom = _page(server, expr="L(W x + b)", wrt="W")
    assert 'class="katex"' in dom and "\\nabla L" in dom  # KaTeX keeps the LaTeX in its MathML annotation
    assert "✓ checked with SymPy" in dom


def test_the_browser_shows_an_error_with_its_caret(server):
    dom = _page(server, expr="W x +", wrt="W")
    assert 'class="error"' in dom and "ends too early" in dom and "^" in dom


def test_the_browser_shows_a_claims_verdict(server):
    dom = _page(server, expr="x' A x", wrt="x", claim="2 A x")
    assert "✗ not right" in dom and "only when A is symmetric" in dom


def test_the_browser_shows_a_hessian_and_code(server):
    dom = _page(server, expr="tr(X' A X B)", wrt="X", mode="hessian", code="numpy")
    assert 'class="katex"' in dom and "Hessian" in dom and "def hvp(v" in dom


def test_user_text_is_never_markup(server):
    dom = _page(server, expr="<script>document.title='pwned'</script><img src=x onerror=alert(1)>", wrt="x")
    assert "<title>matcalc</title>" in dom and "pwned" not in dom.split("<body>")[0]
    assert "<img src=\"x\"" not in dom and "&lt;script&gt;" in dom
    dom = _page(server, expr="x' x", wrt="<b>x</b>")
    assert "<b>x</b>" not in dom and "&lt;b&gt;" in dom


def test_matcalc_serve_prints_its_address_and_serves(tmp_path):
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "matcalc.cli", "serve", "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("matcalc is serving on http://127.0.0.1:")
        url = line.split()[4].rstrip("/")
        status, page = _request(url, "GET", "/")
        assert status == 200 and "matcalc" in page
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    from matcalc.cli import main

    assert main(["serve", "--port", "70000"]) == 2
