"""What a request must look like to be served, and the headers every answer carries.

The server keeps no state and has no accounts: what it guards is the machine's time and
the answers' privacy from other web pages.  So:

- **Host** must be a name of this server — loopback, the name given to ``--host``, those
  given to ``--allow-host`` — or an IP address.  A page on ``evil.example`` that rebinds
  its name to 127.0.0.1 (DNS rebinding) sends ``Host: evil.example``: refused (421), so it
  cannot read answers.  An IP address cannot be rebound, so any is accepted.
- **POST** must come from the page itself: an ``Origin`` header, where there is one, names
  the same host and port as ``Host``; without one, ``Sec-Fetch-Site`` (sent by browsers)
  must be ``same-origin`` or ``none``.  Tools like curl send neither and are served.
- **Content-Type** of a POST must be ``application/json``: a cross-site HTML form cannot
  send that, and a cross-site script cannot without a CORS preflight, which is refused.
- Every answer carries a Content-Security-Policy (scripts only from this server, no
  inline script, ``frame-ancestors 'none'``) and ``X-Frame-Options: DENY``.

Standard library only.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

#: every answer's security headers (lower-case names, as ASGI wants them)
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; font-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
)

_DEFAULT_PORTS = {"http": 80, "https": 443}


def split_host(value: str) -> tuple[str, int | None] | None:
    """``name[:port]`` or ``[v6]:port`` as (lower-case name without brackets, port), or None
    when it is not a host."""
    value = value.strip().lower()
    if not value or any(c in value for c in "/?#@\\ \t") or not value.isascii():
        return None
    try:
        parts = urlsplit("//" + value)
        port = parts.port
    except ValueError:
        return None
    name = parts.hostname
    if not name:
        return None
    return name, port


def is_ip(name: str) -> bool:
    """Whether ``name`` is an IPv4 or IPv6 address (no brackets)."""
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def host_problem(host: str | None, names: frozenset[str]) -> tuple[int, str] | None:
    """Why a request's Host header is refused (status, message), or None when it is one of ours."""
    if host is None:
        return 400, "a request needs a Host header"
    parsed = split_host(host)
    if parsed is None:
        return 400, "the Host header is not a host name"
    name, _ = parsed
    if name in names or is_ip(name):
        return None
    return 421, (f"this server does not answer for the host {name!r} (it answers for "
                 f"{', '.join(sorted(names))} and IP addresses; matcalc serve --allow-host NAME adds a name)")


def origin_problem(origin: str | None, fetch_site: str | None, host: str) -> str | None:
    """Why a POST is not from the page itself, or None when it is (see the module)."""
    if origin is not None:
        if origin == "null":
            return "a request from an opaque origin (a sandboxed frame, a file) is refused"
        parts = urlsplit(origin)
        try:
            port = parts.port
        except ValueError:
            port = -1
        ours = split_host(host)
        if parts.scheme not in _DEFAULT_PORTS or not parts.hostname or ours is None or port == -1:
            return f"the Origin {origin!r} is not an origin"
        theirs = (parts.hostname, port or _DEFAULT_PORTS[parts.scheme])
        # the scheme is left out: behind a reverse proxy the page is https, this server http
        if theirs != (ours[0], ours[1] or _DEFAULT_PORTS[parts.scheme]):
            return f"a request from another site ({origin}) is refused"
        return None
    if fetch_site is not None and fetch_site.lower() not in ("same-origin", "none"):
        return f"a request from another site (Sec-Fetch-Site: {fetch_site}) is refused"
    return None


def content_type_problem(value: str | None) -> str | None:
    """Why a POST's Content-Type is refused, or None for ``application/json`` (UTF-8)."""
    if value is None:
        return "a request needs Content-Type: application/json"
    kind, _, params = value.partition(";")
    if kind.strip().lower() != "application/json":
        return f"a request must be Content-Type: application/json, not {kind.strip()!r}"
    for param in params.split(";"):
        key, _, val = param.partition("=")
        if key.strip().lower() == "charset" and val.strip().strip('"').lower() not in ("utf-8", "utf8"):
            return f"a request must be UTF-8, not {val.strip()!r}"
    return None
