"""The web page's API requests, answered in a warm worker process of the server's pool.

:func:`answer` turns one request into its answer: the command line's ``--format json``
objects (``to_dict()``), with the LaTeX the page typesets; an error is ``{"kind": "error",
"error", "pretty", "span", "in"}`` — ``pretty`` is the command line's paragraph, with the
caret under the input.  :func:`serve` is a worker's life: import and warm up once, then
answer the requests that come down its pipe, one at a time (:mod:`matcalc.web.pool`).
"""

from __future__ import annotations

import importlib
import json
import os
import signal
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from .. import limits
from ..errors import MatcalcError, ParseError
from . import CHECK_SECONDS

KINDS = ("diff", "hessian", "check", "codegen")

#: what a worker imports before its first request (the forkserver imports them too, so a
#: new worker starts with them): matcalc's heavy modules, SymPy and NumPy, the modules that
#: SymPy and NumPy import on first use inside a check (so that a check's forked child does
#: not import them again for every request), and last :mod:`matcalc.web.warm`, which
#: answers :data:`WARM_REQUEST`
WARM_MODULES = (
    "sympy", "numpy", "numpy.random", "sympy.combinatorics", "sympy.tensor.tensor", "sympy.assumptions.wrapper",
    "matcalc.api", "matcalc.code", "matcalc.checking.numeric",
    "matcalc.checking.sympy_oracle", "matcalc.checking.verdict", "matcalc.web.warm",
)
#: the request a worker answers once before it says it is ready (the parser is built,
#: matcalc's first-use work done)
WARM_REQUEST = {"kind": "diff", "expr": "L(W x + b)", "wrt": "W"}
#: what a worker sends when it is ready for requests
READY = b"ready"


def _text(request: dict[str, Any], key: str, required: bool = True, limit: int = 20_000) -> str | None:
    value = request.get(key)
    if value is None or value == "":
        if required:
            raise MatcalcError(f"the request needs '{key}'")
        return None
    if not isinstance(value, str):
        raise MatcalcError(f"'{key}' must be text")
    if len(value) > limit:
        raise MatcalcError(f"'{key}' is longer than {limit:,} characters")
    surrogate = next((i for i, ch in enumerate(value) if "\ud800" <= ch <= "\udfff"), None)
    if surrogate is not None:  # JSON can carry "\ud800" alone; it is no character, and no UTF-8
        shown = "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in value)
        where = "in the claim: " if key == "claim" else ""
        raise ParseError(f"{where}a lone surrogate U+{ord(value[surrogate]):04X} is not a character "
                         f"(the text is not valid Unicode)", span=(surrogate, surrogate + 1), source=shown)
    return value


def compute(request: dict[str, Any]) -> dict[str, Any]:
    """The answer to one request (``kind``: diff, hessian, check or codegen)."""
    from .. import api
    from ..api import check_hessian, hessian

    kind = request.get("kind", "diff")
    if kind not in KINDS:
        raise MatcalcError(f"'kind' must be one of {', '.join(KINDS)}")
    expr = _text(request, "expr")
    wrt = _text(request, "wrt")
    where = _text(request, "where", required=False)
    layout = request.get("layout") or "denominator"
    if layout not in api.LAYOUTS:
        raise MatcalcError(f"layout must be one of {', '.join(api.LAYOUTS)}")
    run_check = bool(request.get("check", False))
    budget = limits.valid_timeout(min(float(request.get("timeout", CHECK_SECONDS)), 20.0))
    assert expr is not None and wrt is not None
    with limits.deadline(budget + 5.0, "the request"):
        if kind == "codegen":
            from ..code import codegen

            target = request.get("target") or "numpy"
            source = codegen(expr, wrt.split(), where, target=target, hessian=bool(request.get("hessian")))
            return {"kind": "code", "target": target, "source": source}
        if kind == "check":
            claim = _text(request, "claim")
            assert claim is not None
            if request.get("hessian"):
                v = check_hessian(expr, wrt, claim, where, timeout=budget)
            else:
                v = api.check(expr, wrt, claim, where, layout=layout, timeout=budget)
            return {**v.to_dict(), "text": v.text(), "markdown": v.markdown()}
        if kind == "hessian":
            return _typeset(hessian(expr, wrt, _text(request, "wrt2", required=False), where), run_check, budget)
        return _typeset(api.diff(expr, wrt, where, layout=layout), run_check, budget)


def _typeset(result: Any, run_check: bool, budget: float) -> dict[str, Any]:
    """A derivative's or Hessian's JSON, with the LaTeX the page typesets and, asked for, the check."""
    out = result.to_dict()
    out["latex_block"] = result.latex()
    out["steps_latex"] = result.steps.latex()
    if run_check:
        checked = result.check(timeout=budget)
        out["check"] = checked.to_dict()
        out["check_text"] = str(checked)
    return out


def answer(request: Any) -> dict[str, Any]:
    """``compute``, with every failure an error object (never a traceback)."""
    try:
        if not isinstance(request, dict):
            raise MatcalcError("the request is not a JSON object")
        return compute(request)
    except MatcalcError as err:
        span = list(err.span) if err.span else None
        claim = request.get("claim") if isinstance(request, dict) else None
        where = "claim" if claim and (err.source == claim or err.message.startswith("in the claim")) else "expr"
        return {"kind": "error", "error": err.message, "pretty": err.pretty(), "span": span, "in": where}
    except (ValueError, TypeError) as err:
        return {"kind": "error", "error": f"bad request: {err}", "pretty": f"error: bad request: {err}", "span": None,
                "in": None}
    except RecursionError:
        return {"kind": "error", "error": "the expression is nested too deeply", "pretty": "", "span": None,
                "in": "expr"}
    except Exception as err:  # a bug in matcalc: said, never a traceback
        return {"kind": "error", "error": f"internal error: {type(err).__name__}: {err}", "pretty": "",
                "span": None, "in": None}


def encode(data: dict[str, Any]) -> bytes:
    """An answer as UTF-8 JSON (a string that is not valid Unicode: with escapes)."""
    try:
        return json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(data).encode("ascii")


def answer_bytes(body: bytes, respond: Callable[[Any], dict[str, Any]] = answer) -> bytes:
    """The answer to one request as it came to the server (JSON bytes), as JSON bytes."""
    try:
        request = json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError) as err:  # the server has checked it; said all the same
        return encode({"kind": "error", "error": f"the request is not JSON: {err}", "pretty": "", "span": None,
                       "in": None})
    return encode(respond(request))


def warm() -> None:
    """Import what a request needs and answer one, so that the next is answered warm (in a
    worker forked from the pool's forkserver, all of it is done already)."""
    for name in WARM_MODULES:
        importlib.import_module(name)


def serve(conn: Connection, respond: Callable[[Any], dict[str, Any]] = answer) -> None:
    """A worker's life: warm up, say :data:`READY`, then answer each request read from
    ``conn`` with ``respond`` until the server closes it.

    The worker leads a process group of its own, so that killing the group also kills the
    SymPy check's child; Ctrl-C at the terminal is for the server, which stops the pool."""
    if hasattr(os, "setpgrp"):
        os.setpgrp()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    warm()
    conn.send_bytes(READY)
    while True:
        try:
            body = conn.recv_bytes()
        except (EOFError, OSError):
            return
        conn.send_bytes(answer_bytes(body, respond))
