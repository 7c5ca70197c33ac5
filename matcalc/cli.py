"""The ``matcalc`` command: a thin layer over the public API.

Exit codes: 0 success, 1 a check that failed, 2 bad input (parse, shape or
declaration errors, unknown options) or a derivative matcalc has no rule for.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from . import api
from .errors import MatcalcError
from .printing.text import ascii_words
from .shapes import shape_str

EXAMPLES = """examples:
  matcalc diff "L(W x + b)" W
  matcalc diff "x' A x" x --steps
  matcalc diff "tr(A X B)" X --where "X: n×p" --format latex
  matcalc diff "A X B" X                      (a Jacobian: Bᵀ ⊗ A)
  matcalc diff "logdet(S)" S --where "S: n×n symmetric"
  matcalc parse "W x + b" --where "W: p×n"
  matcalc check "x' A x" x "2 A x"           (is this my gradient? exit 0 yes, 1 no)
  matcalc check --table notes.md             (every row of a Markdown identity table)
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="matcalc",
        description="Matrix calculus: differentials, gradients and Jacobians in textbook form.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument("--where", "-w", default=None, metavar="DECLS",
                       help='declarations, e.g. "A: m×n, x: n, s: scalar, S: n×n symmetric, f: elementwise"')
        q.add_argument("--format", "-f", choices=("text", "ascii", "latex", "json"), default="text",
                       help="output format (default: text, in Unicode)")

    q = sub.add_parser("parse", help="print an expression back with every variable's shape")
    q.add_argument("expr", metavar="EXPR")
    common(q)

    q = sub.add_parser("diff", help="differential, gradient or Jacobian of EXPR with respect to WRT",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    q.add_argument("expr", metavar="EXPR")
    q.add_argument("wrt", metavar="WRT", help="the variable to differentiate with respect to")
    q.add_argument("--layout", "-l", choices=api.LAYOUTS, default="denominator",
                   help="denominator (default): gradients have the shape of WRT; numerator: the transpose, "
                        "and Jacobians as DF")
    q.add_argument("--steps", "-s", action="store_true", help="show the derivation step by step")
    q.add_argument("--check", dest="check", action="store_true", default=True,
                   help="check the answer with SymPy (the default)")
    q.add_argument("--no-check", dest="check", action="store_false",
                   help="skip the SymPy check of the answer")
    q.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                   help="time budget of the SymPy check (default 10)")
    common(q)

    q = sub.add_parser("check", help="is CLAIM the gradient (or derivative) of EXPR with respect to WRT?",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    q.add_argument("expr", metavar="EXPR", nargs="?")
    q.add_argument("wrt", metavar="WRT", nargs="?")
    q.add_argument("claim", metavar="CLAIM", nargs="?", help="your derivative, in the same notation")
    q.add_argument("--table", metavar="FILE", help="check every row of the Markdown identity tables in FILE")
    q.add_argument("--layout", "-l", choices=api.LAYOUTS, default="denominator",
                   help="the layout the claim is written in (default: denominator)")
    q.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                   help="time budget of each SymPy check (default 10)")
    q.add_argument("--where", "-w", default=None, metavar="DECLS", help="declarations, as for diff")
    q.add_argument("--format", "-f", choices=("text", "ascii", "json"), default="text")
    return p


def _cmd_parse(args: argparse.Namespace) -> int:
    e = api.parse(args.expr, args.where)
    ascii = args.format == "ascii"
    if args.format == "json":
        print(json.dumps({"expression": e.text(), "ascii": e.text(ascii=True), "latex": e.latex(),
                          "shape": shape_str(e.shape), "shapes": e.shapes}, ensure_ascii=False, indent=2))
        return 0
    if args.format == "latex":
        print(e.latex())
        return 0
    print(f"{e.text(ascii)}    [{shape_str(e.shape, ascii)}]")
    width = max((len(n) for n in e.shapes), default=0)
    for name, shape in e.shapes.items():
        print(f"  {name:<{width}} : {shape.replace('×', 'x') if ascii else shape}")
    for name, decl in e.functions.items():
        kind = {"scalar": "scalar function", "elementwise": "elementwise function",
                "vector": "vector function"}[decl.kind]
        print(f"  {name:<{width}} : {kind}")
    return 0


def _cmd_diff(args: argparse.Namespace) -> int:
    r = api.diff(args.expr, args.wrt, args.where, layout=args.layout)
    verdict = r.check(timeout=args.timeout) if args.check else None
    if args.format == "json":
        data = r.to_dict()
        if verdict is not None:
            data["check"] = {"ok": verdict.ok, "method": verdict.method, "sizes": verdict.sizes,
                             "seconds": round(verdict.seconds, 3), "detail": verdict.detail}
        print(json.dumps(data, ensure_ascii=False, indent=2))
    elif args.format == "latex":
        print(r.latex())
        if args.steps:
            for s in r.steps:
                print(f"  &= {s.latex()} && \\text{{{s.rule}}} \\\\")
    else:
        ascii = args.format == "ascii"
        print(r.text(ascii=ascii, steps=args.steps))
        if verdict is not None:
            print()
            print(ascii_words(str(verdict)) if ascii else verdict)
    return 1 if verdict is not None and verdict.ok is False else 0


def _cmd_check(args: argparse.Namespace) -> int:
    from . import tables, verify  # these import SymPy

    ascii = args.format == "ascii"
    if args.table:
        if args.expr or args.wrt or args.claim:
            raise MatcalcError("give either EXPR WRT CLAIM or --table FILE, not both")
        try:
            text = open(args.table, encoding="utf-8").read()
        except OSError as exc:
            raise MatcalcError(f"cannot read {args.table}: {exc.strerror}") from None
        rows = tables.check_table(text, args.layout, args.where, args.timeout)
        if not rows:
            raise MatcalcError(f"no derivative table found in {args.table} (a header like "
                               "| $f(x)$ | $\\frac{\\partial f}{\\partial x}$ |)")
        if args.format == "json":
            print(json.dumps([{"line": r.line, "expression": r.expression, "wrt": r.wrt, "claim": r.claim,
                               "correct": r.correct, "error": r.error,
                               "diagnosis": [d for v in r.verdicts for d in v.diagnosis]} for r in rows],
                             ensure_ascii=False, indent=2))
        else:
            for r in rows:
                print(ascii_words(r.text(ascii)) if ascii else r.text())
                print()
            bad = [r for r in rows if not r.correct]
            print(f"{len(rows) - len(bad)} of {len(rows)} rows correct in {args.layout} layout"
                  + (f"; wrong or unchecked: lines {', '.join(str(r.line) for r in bad)}" if bad else ""))
        return 0 if all(r.correct for r in rows) else 1
    if not (args.expr and args.wrt and args.claim):
        raise MatcalcError("check needs EXPR WRT CLAIM (or --table FILE)")
    v = verify.check(args.expr, args.wrt, args.claim, args.where, layout=args.layout, timeout=args.timeout)
    if args.format == "json":
        print(json.dumps({"correct": v.correct, "claim": str(v.claim), "answer": str(v.answer),
                          "layout": v.layout, "diagnosis": v.diagnosis, "counterexample": v.counterexample,
                          "check": str(v.check) if v.check else None}, ensure_ascii=False, indent=2))
    else:
        print(ascii_words(v.text(ascii)) if ascii else v.text())
    return v.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        parser.print_help()
        return 2
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed its message
        return int(exc.code or 0) if exc.code in (0, None) else 2
    try:
        if args.command == "parse":
            return _cmd_parse(args)
        if args.command == "diff":
            return _cmd_diff(args)
        if args.command == "check":
            return _cmd_check(args)
        parser.print_help()
        return 2
    except MatcalcError as err:
        print(err.pretty(), file=sys.stderr)
        return 2
    except RecursionError:
        print("error: the expression is nested too deeply for matcalc", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader went away (matcalc … | head): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
