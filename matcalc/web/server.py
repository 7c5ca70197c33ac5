"""uvicorn, serving :func:`matcalc.web.app.create_app` with time limits on every connection.

uvicorn's HTTP/1.1 protocol (h11) bounds the size of a request's line and headers and
closes a kept-alive connection that stays idle; :class:`GuardedH11` adds what a server left
open to a class, or to the internet behind a proxy, needs besides:

- a request's line and headers must arrive within ``header_seconds`` of the connection (or
  of the previous answer), and its body within ``body_seconds`` of its headers, however
  slowly they trickle in (a "slowloris" client is answered 408 and cut off);
- an answer the client does not read is dropped (the connection aborted) after
  ``write_seconds``;
- beyond ``max_connections`` open connections, a new one is answered 503 and closed;
- a request's line and headers longer than ``max_header_bytes`` get a 431 however they
  arrive (h11 bounds only what it has not yet parsed), and a request that is not HTTP a
  400 — JSON, like every other failure.

Each refusal is written as a whole answer, then the connection is half-closed and what
the client still sends is read and dropped for a moment before it is closed: a client
reads why, never a reset connection.
"""

from __future__ import annotations

import asyncio
import copy
import json
import socket
import threading
from collections.abc import Callable
from http import HTTPStatus
from multiprocessing.connection import Connection
from typing import Any

import h11
import uvicorn
from uvicorn.config import LOGGING_CONFIG
from uvicorn.protocols.http.h11_impl import H11Protocol

from . import Settings, worker
from .app import create_app
from .guard import SECURITY_HEADERS
from .pool import RETRY_SECONDS, START_SECONDS, Pool

#: seconds a refused connection is still read (and what comes dropped) before it is closed
LINGER_SECONDS = 2.0


def raw_error(status: int, message: str) -> bytes:
    """A whole HTTP answer with the JSON error, for the connection that is closed after it."""
    body = json.dumps({"kind": "error", "error": message, "pretty": "", "status": status}).encode()
    head = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}", "content-type: application/json; charset=utf-8",
            f"content-length: {len(body)}", "connection: close", "cache-control: no-store"]
    head += [f"{k.decode()}: {v.decode()}" for k, v in SECURITY_HEADERS]
    if status == 503:
        head.append(f"retry-after: {RETRY_SECONDS}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


class GuardedH11(H11Protocol):
    """uvicorn's h11 protocol with the limits of the module docstring (``settings`` is set
    on the subclass that :func:`protocol` makes)."""

    settings: Settings

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        #: what the connection waits for ("headers", "body" or None), and its deadline
        self._phase: str | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._write_timer: asyncio.TimerHandle | None = None
        #: answered and closing (see _close)
        self._lingering = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.settings.max_connections:
            self._refuse(503, f"the server has {self.settings.max_connections} connections open; try again")
            return
        self._watch()

    def data_received(self, data: bytes) -> None:
        if self._lingering:  # answered and closing: what still comes is read and dropped
            return
        if self._headers_too_large(data):
            return
        super().data_received(data)
        self._watch()

    def on_response_complete(self) -> None:
        if self._headers_too_large(pipelined=True):  # a request read with the one before
            return
        super().on_response_complete()
        self._watch()

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in (self._timer, self._write_timer):
            if timer is not None:
                timer.cancel()
        self._timer = self._write_timer = None
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        if len(self.conn.trailing_data[0]) > self.settings.max_header_bytes:  # h11: "receive buffer too long"
            self._refuse(431, self._too_large)
        else:
            self._refuse(400, "the request is not valid HTTP/1.1")

    @property
    def _too_large(self) -> str:
        return f"a request's line and headers have at most {self.settings.max_header_bytes:,} bytes"

    def _headers_too_large(self, data: bytes = b"", pipelined: bool = False) -> bool:
        """Refuse (431) a request whose line and headers, waiting to be read, pass the bound:
        h11 bounds only what it has not yet parsed, and parses at once what came at once."""
        waiting = (h11.IDLE, h11.DONE) if pipelined else (h11.IDLE,)
        if self.conn.their_state not in waiting or self.transport.is_closing():
            return False
        block = self.conn.trailing_data[0] + data
        end = block.find(b"\r\n\r\n")
        if (end if end >= 0 else len(block)) <= self.settings.max_header_bytes:
            return False
        self._refuse(431, self._too_large)
        return True

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._write_timer is None:
            self._write_timer = self.loop.call_later(self.settings.write_seconds, self.transport.abort)

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None

    # ------------------------------------------------------------------ the read deadlines

    def _seconds(self, phase: str) -> float:
        return self.settings.header_seconds if phase == "headers" else self.settings.body_seconds

    def _watch(self) -> None:
        """Arm the deadline of what the connection is waiting for: headers, a body, or nothing."""
        if self.transport.is_closing() or self._lingering:
            return
        state = self.conn.their_state
        phase = "headers" if state is h11.IDLE else "body" if state is h11.SEND_BODY else None
        if phase == self._phase:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._phase = phase
        if phase is not None:
            self._timer = self.loop.call_later(self._seconds(phase), self._expire)

    def _expire(self) -> None:
        self._timer = None
        phase = self._phase or "headers"
        if self.transport.is_closing() or self._lingering:
            return
        if phase == "headers" and not self.conn.trailing_data[0]:
            self._close()  # nothing was sent: an idle connection, closed
        elif self.cycle is not None and self.cycle.response_started and phase == "body":
            self._close()  # answered already (a 413), the rest of the body never came
        else:
            self._refuse(408, f"the request's {phase} did not arrive within {self._seconds(phase):g} s")

    def _refuse(self, status: int, message: str) -> None:
        self.transport.write(raw_error(status, message))
        self._close()

    def _close(self) -> None:
        """Close without a reset: end our side after what was written (FIN), then read and
        drop what the client still sends, for at most LINGER_SECONDS, before closing.

        Closing a socket with unread data makes the kernel send a reset, and a reset can
        destroy the answer before the client reads it."""
        self._lingering = True
        for timer in (self._timer, self._write_timer):
            if timer is not None:
                timer.cancel()
        self._write_timer = None
        if self.transport.can_write_eof():
            self.transport.write_eof()
        # then abort: everything sent was read (nothing is left to reset) and an answer still
        # unsent after this long has a client that does not read
        self._timer = self.loop.call_later(LINGER_SECONDS, self.transport.abort)

    def timeout_keep_alive_handler(self) -> None:
        """An idle kept-alive connection: closed as a refused one is (a request crossing the
        close is dropped, not reset)."""
        if not self.transport.is_closing() and not self._lingering:
            self._close()


def protocol(settings: Settings) -> type[GuardedH11]:
    """:class:`GuardedH11` with ``settings``."""
    return type("MatcalcH11", (GuardedH11,), {"settings": settings})


def log_config(settings: Settings) -> dict[str, Any]:
    """uvicorn's logging, warnings only, and the access log if asked for."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["uvicorn"]["level"] = "WARNING"
    config["loggers"]["uvicorn.error"]["level"] = "WARNING"
    config["loggers"]["uvicorn.access"]["level"] = "INFO" if settings.access_log else "WARNING"
    config["loggers"]["matcalc.web"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


def bind(host: str, port: int) -> socket.socket:
    """A socket bound to ``host`` (a name or an address) and ``port`` (0: any free one)."""
    family, kind, proto, _, address = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                                         flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6 and host in ("::", ""):
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)  # and IPv4 too
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


def url(sock: socket.socket) -> str:
    """The address a bound socket serves, as a URL."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class _Server(uvicorn.Server):
    """uvicorn's server, calling ``on_ready`` once it listens (the workers are warm by then)."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[], None]):
        super().__init__(config)
        self.on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self.on_ready()


def _server(settings: Settings, on_ready: Callable[[], None], target: Callable[[Connection], None]) -> uvicorn.Server:
    app = create_app(settings, target=target)
    config = uvicorn.Config(
        app, http=protocol(settings), ws="none", lifespan="on", interface="asgi3",
        timeout_keep_alive=settings.keep_alive_seconds, h11_max_incomplete_event_size=settings.max_header_bytes,
        server_header=False, proxy_headers=False, access_log=settings.access_log, log_config=log_config(settings),
        timeout_graceful_shutdown=5,
    )
    return _Server(config, on_ready)


def serve(settings: Settings) -> None:
    """Serve the page until interrupted; prints its address once the workers are warm.

    Raises OSError when the address cannot be bound, RuntimeError when the workers cannot start."""
    sock = bind(settings.host, settings.port)
    address = url(sock)

    def ready() -> None:
        note = ("" if settings.host not in ("0.0.0.0", "::", "") else
                "; on every interface: open it by this machine's address (or a name given to --allow-host)")
        print(f"matcalc is serving on {address}/  ({settings.workers} worker{'s' * (settings.workers > 1)}"
              f"{note}; Ctrl-C to stop)", flush=True)

    server = _server(settings, ready, worker.serve)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    except SystemExit as exc:  # uvicorn's way of saying the application did not start
        raise RuntimeError("the web server's workers did not start (see the messages above)") from exc
    finally:
        sock.close()


class Running:
    """A server in a background thread (tests, benchmarks): its URL, its pool, and :meth:`stop`."""

    def __init__(self, server: uvicorn.Server, thread: threading.Thread, url: str):
        self.server = server
        self.thread = thread
        self.url = url

    @property
    def pool(self) -> Pool:
        guard = self.server.config.app
        return guard.app.state.pool

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(60)


def start_in_thread(settings: Settings, target: Callable[[Connection], None] = worker.serve) -> Running:
    """Start a server in a background thread; return once its workers are warm."""
    sock = bind(settings.host, settings.port)
    ready = threading.Event()
    server = _server(settings, ready.set, target)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="matcalc-web")
    thread.start()
    deadline = START_SECONDS * 2
    while not ready.wait(0.1):
        deadline -= 0.1
        if not thread.is_alive() or deadline <= 0:
            server.should_exit = True
            raise RuntimeError("the web server did not start")
    return Running(server, thread, url(sock))
