"""The ``matcalc`` command: a thin layer over the public API.

Exit codes: 0 success, 1 a check that failed, 2 bad input (parse, shape or
declaration errors, unknown options) or a derivative matcalc has no rule for.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

from . import api
from .errors import MatcalcError
from .shapes import shape_str

EXAMPLES = """examples:
  matcalc diff "L(W x + b)" W
  matcalc diff "x' A x" x --steps
  matcalc diff "tr(A X B)" X --where "X: n×p" --format latex
  matcalc diff "A X B" X                      (a Jacobian: Bᵀ ⊗ A)
  matcalc diff "logdet(S)" S --where "S: n×n symmetric"
  matcalc parse "W x + b" --where "W: p×n"
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
    common(q)
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
    if args.format == "json":
        print(json.dumps(r.to_dict(), ensure_ascii=False, indent=2))
    elif args.format == "latex":
        print(r.latex())
        if args.steps:
            for s in r.steps:
                print(f"  &= {s.latex()} && \\text{{{s.rule}}} \\\\")
    else:
        print(r.text(ascii=args.format == "ascii", steps=args.steps))
    return 0


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
        parser.print_help()
        return 2
    except MatcalcError as err:
        print(err.pretty(), file=sys.stderr)
        return 2
    except RecursionError:
        print("error: the expression is nested too deeply for matcalc", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
