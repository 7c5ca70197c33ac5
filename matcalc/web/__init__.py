"""The web page: ``matcalc serve`` (needs the ``web`` extra: ``pip install "matcalc[web]"``).

One page (``page.html``, ``page.js``, ``page.css``) and a JSON API behind it, ``POST /api``,
whose answers are the same ``to_dict()`` objects as the command line's ``--format json``:
the page holds no mathematics of its own.  Typesetting is the KaTeX shipped inside the
package, served from ``/katex/``: nothing is fetched from the internet.

The layers, each a module:

- :mod:`.worker`: one request → its answer, and a warm worker process's loop (matcalc only);
- :mod:`.pool`: a bounded pool of warm worker processes, killed and replaced past the time
  limit, with a bounded queue (standard library only);
- :mod:`.guard`: which Host, Origin and Content-Type a request may have, and the headers
  of every answer (standard library only);
- :mod:`.app`: the Starlette application: the page, its files and ``POST /api``, every
  failure a JSON error with its status;
- :mod:`.server`: uvicorn, with the time limits on reading a request and on writing its
  answer, and :func:`~.server.serve`.

This module holds the settings and imports neither Starlette nor uvicorn, so that
``matcalc serve`` can say which package is missing.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field

#: the largest request body accepted (bytes)
MAX_BODY = 200_000
#: the SymPy check's own budget inside a request (seconds): then "unchecked"
CHECK_SECONDS = 10.0
#: the pip command that installs what ``matcalc serve`` needs
INSTALL = 'pip install "matcalc[web]"'
#: host names that are always allowed: this machine's (any IP address is allowed too)
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def default_workers() -> int:
    """The number of cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class Settings:
    """Where the server listens and every bound it keeps (seconds, bytes, counts)."""

    host: str = "127.0.0.1"
    port: int = 8000
    #: worker processes: at most this many requests computed at once
    workers: int = field(default_factory=default_workers)
    #: requests waiting for a worker beyond those (None: 16 per worker); more get a 503
    queue: int | None = None
    #: extra host names the Host header may carry (the name a reverse proxy passes on)
    allowed_hosts: tuple[str, ...] = ()
    #: a request's worker is killed after this long (the check has CHECK_SECONDS of it)
    request_seconds: float = 30.0
    #: a request waits at most this long for a free worker, then 503
    wait_seconds: float = 15.0
    #: a request's line and headers must arrive within this long of the connection (or of
    #: the previous answer on it)
    header_seconds: float = 10.0
    #: and its body within this long of its headers
    body_seconds: float = 30.0
    #: an answer the client does not read is dropped after this long
    write_seconds: float = 30.0
    #: an idle kept-alive connection is closed after this long
    keep_alive_seconds: int = 5
    #: the request line and headers at most this many bytes
    max_header_bytes: int = 16 * 1024
    #: open connections at most; one more is answered 503 and closed
    max_connections: int = 512
    #: log every request (to standard output)
    access_log: bool = False

    @property
    def queue_size(self) -> int:
        """Requests that may wait for a worker."""
        return 16 * self.workers if self.queue is None else self.queue

    def host_names(self) -> frozenset[str]:
        """The names a request's Host header may carry: loopback, the bound name, the extra ones."""
        names = {*LOOPBACK_NAMES, *(h.lower().strip("[]") for h in self.allowed_hosts)}
        if self.host not in ("", "0.0.0.0", "::"):
            names.add(self.host.lower().strip("[]"))
        return frozenset(names)


def missing_packages() -> list[str]:
    """The packages of the ``web`` extra that are not installed."""
    return [name for name in ("starlette", "uvicorn") if importlib.util.find_spec(name) is None]


__all__ = ["Settings", "MAX_BODY", "CHECK_SECONDS", "INSTALL", "missing_packages", "default_workers"]
