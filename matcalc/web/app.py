"""The Starlette application: the page, its files, and ``POST /api``.

Every request passes :class:`Guard` first (the Host allow-list of :mod:`.guard`; every
answer gets the security headers; an exception anywhere is a JSON 500, never a dropped
connection).  Every failure is ``{"kind": "error", "error": message, "status": status}``
with that status: 400 (not JSON, a bad Host), 403 (another site), 404, 405, 411, 413,
415, 421 (a foreign Host), 500, 503 (busy, with ``Retry-After``).  An answer of the API —
a derivative, or an error in the mathematics such as a parse error with its caret — is a
200, as on the command line.

The files served are read once, at start, into a table: no path from a request ever
reaches the file system.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from multiprocessing.connection import Connection
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import MAX_BODY, Settings, worker
from .guard import SECURITY_HEADERS, content_type_problem, host_problem, origin_problem
from .pool import Busy, Pool, Stopped, WorkerDied

log = logging.getLogger("matcalc.web")

HERE = Path(__file__).parent
KATEX = HERE.parent / "vendor" / "katex"
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".woff2": "font/woff2",
         ".html": "text/html; charset=utf-8"}


def _files() -> dict[str, tuple[bytes, str, str]]:
    """Every file served: path → (content, Content-Type, Cache-Control)."""
    page = "no-cache"
    table = {"/": ((HERE / "page.html").read_bytes(), TYPES[".html"], page)}
    table["/index.html"] = table["/"]
    for name in ("page.js", "page.css"):
        table[f"/{name}"] = ((HERE / name).read_bytes(), TYPES[Path(name).suffix], page)
    for path in sorted(KATEX.rglob("*")):
        if path.is_file() and path.suffix in TYPES:
            table["/katex/" + path.relative_to(KATEX).as_posix()] = (path.read_bytes(), TYPES[path.suffix],
                                                                    "public, max-age=86400")
    return table


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """A failure: the JSON error object, with its status."""
    return JSONResponse({"kind": "error", "error": message, "pretty": "", "status": status}, status_code=status,
                        headers={"cache-control": "no-store", **(headers or {})})


class Guard:
    """ASGI middleware: the Host allow-list, the security headers, and no exception escapes."""

    def __init__(self, app: ASGIApp, names: frozenset[str]):
        self.app = app
        self.names = names

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_guarded(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message = {**message, "headers": [*message.get("headers", []), *SECURITY_HEADERS]}
            await send(message)

        hosts = [v.decode("latin-1") for k, v in scope["headers"] if k == b"host"]
        problem = (400, "a request has one Host header") if len(hosts) > 1 else \
            host_problem(hosts[0] if hosts else None, self.names)
        try:
            if problem:
                await error(*problem)(scope, receive, send_guarded)
                return
            await self.app(scope, receive, send_guarded)
        except Exception:  # noqa: BLE001 - logged; the client gets an answer all the same
            log.exception("matcalc's web server failed on %s %r", scope.get("method"), scope.get("path"))
            if not started:
                await error(500, "matcalc's web server failed on this request")(scope, receive, send_guarded)


async def _until_disconnect(receive: Receive) -> None:
    """Return when the client has gone (after its body has been read)."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def _read_body(request: Request) -> bytes | Response:
    """The request's body, or the failure that refuses it."""
    length = request.headers.get("content-length")
    if length is None:
        return error(411, "a request needs its Content-Length (no chunked bodies)")
    try:
        size = int(length)
    except ValueError:
        return error(400, "the Content-Length is not a number")
    if size > MAX_BODY:
        return error(413, f"a request has at most {MAX_BODY:,} bytes")
    chunks: list[bytes] = []
    got = 0
    async for chunk in request.stream():
        got += len(chunk)
        if got > MAX_BODY:
            return error(413, f"a request has at most {MAX_BODY:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _json_problem(body: bytes) -> str | None:
    """Why a body is not a JSON object, or None."""
    try:
        request = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        return "the request is not UTF-8"
    except RecursionError:
        return "the request is nested too deeply"
    except ValueError as err:
        return f"the request is not JSON: {err}"
    if not isinstance(request, dict):
        return "the request is not a JSON object"
    return None


def create_app(settings: Settings, target: Callable[[Connection], None] = worker.serve) -> ASGIApp:
    """The application, its pool of ``settings.workers`` started with it (``target``: the
    workers' loop, :func:`matcalc.web.worker.serve`)."""
    files = _files()
    pool = Pool(settings.workers, settings.queue_size, settings.request_seconds, settings.wait_seconds, target)

    async def page(request: Request) -> Response:
        found = files.get(request.url.path)
        if found is None:
            raise HTTPException(404)
        content, ctype, cache = found
        return Response(content, media_type=ctype, headers={"cache-control": cache})

    async def api(request: Request) -> Response:
        headers = request.headers
        problem = origin_problem(headers.get("origin"), headers.get("sec-fetch-site"), headers.get("host") or "")
        if problem:
            return error(403, problem)
        problem = content_type_problem(headers.get("content-type"))
        if problem:
            return error(415, problem)
        try:
            body = await _read_body(request)
        except ClientDisconnect:
            return error(400, "the client went away")  # nobody is listening
        if isinstance(body, Response):
            return body
        problem = _json_problem(body)
        if problem:
            return error(400, problem)
        asked = asyncio.ensure_future(pool.ask(body))
        gone = asyncio.ensure_future(_until_disconnect(request.receive))
        try:
            await asyncio.wait({asked, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (asked, gone):
                if not task.done():
                    task.cancel()
        if not asked.done() or asked.cancelled():  # the client has gone: its worker is stopped
            await asyncio.gather(asked, return_exceptions=True)
            return error(400, "the client went away")
        try:
            answer = asked.result()
        except Busy as err:
            return error(503, f"the server is busy: {err}; try again", {"retry-after": str(err.retry_after)})
        except Stopped as err:
            return Response(worker.encode({"kind": "error", "error": str(err), "pretty": "", "span": None,
                                           "in": None}), media_type="application/json; charset=utf-8",
                            headers={"cache-control": "no-store"})
        except WorkerDied as err:
            return error(500, f"{err}; try again")
        return Response(answer, media_type="application/json; charset=utf-8", headers={"cache-control": "no-store"})

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        messages = {404: f"there is no page {request.url.path}", 405: f"{request.method} is not allowed here"}
        return error(exc.status_code, messages.get(exc.status_code, exc.detail), exc.headers)

    async def server_error(request: Request, exc: Exception) -> Response:
        return error(500, "matcalc's web server failed on this request")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await pool.start()
        try:
            yield
        finally:
            await pool.close()

    routes = [Route(path, page, methods=["GET"]) for path in files]
    routes.append(Route("/api", api, methods=["POST"]))
    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={HTTPException: http_error, 500: server_error})
    app.state.pool = pool
    return Guard(app, settings.host_names())
