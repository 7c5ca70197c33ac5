"""The local web page: ``matcalc serve`` (issue 13).

One page (``page.html``) and a JSON API behind it, ``POST /api``, whose answers are the same
``to_dict()`` objects as the command line's ``--format json``: the page holds no mathematics
of its own.  Typesetting is the KaTeX shipped inside the package, served from ``/katex/``:
nothing is fetched from the internet.

Each API request runs in a process of its own (``python -m matcalc.web.worker``), killed
at a time limit, so a slow SymPy check or a pathological input cannot hold the server; the
check itself has a shorter budget and answers "unchecked" when it runs out.  Requests are
bounded in size; malformed ones get a 400 with a JSON error; the server binds to loopback
by default and serves requests concurrently (one thread each).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

#: the largest request body accepted (bytes)
MAX_BODY = 200_000
#: a request's process is killed after this many seconds
REQUEST_SECONDS = 30.0
#: the SymPy check's own budget inside a request (seconds): then "unchecked"
CHECK_SECONDS = 10.0

HERE = Path(__file__).parent
KATEX = HERE.parent / "vendor" / "katex"
TYPES = {".js": "text/javascript", ".css": "text/css", ".woff2": "font/woff2", ".html": "text/html; charset=utf-8"}


def compute_in_process(request: dict[str, Any], seconds: float = REQUEST_SECONDS) -> dict[str, Any]:
    """Run :func:`matcalc.web.worker.compute` in a process of its own, killed after ``seconds``."""
    try:
        done = subprocess.run([sys.executable, "-m", "matcalc.web.worker"], input=json.dumps(request),
                              capture_output=True, text=True, timeout=seconds, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"the request took longer than {seconds:g} s and was stopped", "kind": "error"}
    try:
        return json.loads(done.stdout)
    except json.JSONDecodeError:
        return {"error": "matcalc's worker failed: " + (done.stderr.strip().splitlines() or ["no output"])[-1],
                "kind": "error"}


class Handler(BaseHTTPRequestHandler):
    server_version = "matcalc"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        if getattr(self.server, "verbose", False):
            super().log_message(format, *args)

    def _send(self, status: int, body: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy",
                         "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                         "font-src 'self'; script-src 'self'; connect-src 'self'")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, data: dict[str, Any]) -> None:
        self._send(status, json.dumps(data, ensure_ascii=False).encode(), "application/json; charset=utf-8")

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        path = urlsplit(self.path).path
        if path in ("/", "/index.html"):
            self._send(HTTPStatus.OK, (HERE / "page.html").read_bytes(), TYPES[".html"])
            return
        if path == "/page.js":
            self._send(HTTPStatus.OK, (HERE / "page.js").read_bytes(), TYPES[".js"])
            return
        if path.startswith("/katex/"):
            rel = path[len("/katex/"):]
            target = (KATEX / rel).resolve()
            if KATEX.resolve() in target.parents and target.is_file() and target.suffix in TYPES:
                self._send(HTTPStatus.OK, target.read_bytes(), TYPES[target.suffix])
                return
        self._json(HTTPStatus.NOT_FOUND, {"error": f"no page {path}"})

    def do_POST(self) -> None:  # noqa: N802
        if urlsplit(self.path).path != "/api":
            self._json(HTTPStatus.NOT_FOUND, {"error": "POST /api only"})
            return
        try:
            length = int(self.headers.get("Content-Length") or "-1")
        except ValueError:
            length = -1
        if length < 0:
            self._json(HTTPStatus.LENGTH_REQUIRED, {"error": "a request needs its Content-Length"})
            return
        if length > MAX_BODY:
            self.close_connection = True
            self._json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": f"a request has at most {MAX_BODY:,} bytes"})
            return
        try:
            request = json.loads(self.rfile.read(length).decode("utf-8"))
            if not isinstance(request, dict):
                raise ValueError("not an object")
        except (ValueError, UnicodeDecodeError) as err:
            self._json(HTTPStatus.BAD_REQUEST, {"error": f"the request is not a JSON object: {err}"})
            return
        self._json(HTTPStatus.OK, compute_in_process(request))


def make_server(host: str = "127.0.0.1", port: int = 8000, verbose: bool = False) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    server.verbose = verbose  # type: ignore[attr-defined]
    return server


def serve(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve the page until interrupted; prints its address first."""
    server = make_server(host, port, verbose=True)
    print(f"matcalc is serving on http://{host}:{server.server_address[1]}/  (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def start_in_thread(host: str = "127.0.0.1", port: int = 0) -> tuple[ThreadingHTTPServer, str]:
    """A server in a background thread (tests): the server and its base URL."""
    server = make_server(host, port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://{host}:{server.server_address[1]}"


__all__ = ["serve", "make_server", "start_in_thread", "compute_in_process", "MAX_BODY", "REQUEST_SECONDS"]
