"""One API request of the web page, in a process of its own: a JSON request on standard
input, the JSON answer on standard output (``python -m matcalc.web.worker``).

The answers are the command line's ``--format json`` objects (``to_dict()``), with the
LaTeX the page typesets; an error is ``{"kind": "error", "error", "pretty", "span",
"in"}`` — ``pretty`` is the command line's paragraph, with the caret under the input.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from .. import limits
from ..errors import MatcalcError

KINDS = ("diff", "hessian", "check", "codegen")


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
    return value


def compute(request: dict[str, Any]) -> dict[str, Any]:
    """The answer to one request (``kind``: diff, hessian, check or codegen)."""
    from .. import api
    from ..hessian import check_hessian, hessian

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
    budget = limits.valid_timeout(min(float(request.get("timeout", 10.0)), 20.0))
    assert expr is not None and wrt is not None
    with limits.deadline(budget + 5.0, "the request"):
        if kind == "codegen":
            from ..codegen import codegen

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


def main() -> None:
    try:
        request = json.loads(sys.stdin.read(400_000))
    except json.JSONDecodeError as err:
        request = None
        print(json.dumps({"kind": "error", "error": f"the request is not JSON: {err}", "pretty": "", "span": None,
                          "in": None}))
        return
    print(json.dumps(answer(request), ensure_ascii=False))


if __name__ == "__main__":
    main()
