"""The ``matcalc`` command: a thin layer over the public API.

Exit codes: 0 success (``diff``: the answer is checked, or ``--no-check`` was asked;
``check``: the claim is right); 1 wrong (a claim, or ``diff``'s own check); 2 bad input,
a derivative matcalc has no rule for, a bound or the time limit — a one-paragraph
message, never a traceback; 3 an answer printed whose check reached no verdict
(unchecked).  ``check --table``: 1 if a row is wrong, else 2 if a row is unreadable,
else 3 if a row is unchecked, else 0.

Positionals (EXPR, WRT, CLAIM) may start with any character, ``-`` included: before
argparse sees the command line, every token that is not exactly one of the subcommand's
option strings (or ``--option=value``) is marked as a positional, and the value after an
option that takes one is joined to it (``--where=…``), so argparse cannot read either as
an option.  ``--`` still ends the options.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from . import api, limits
from .errors import EXIT_CODES, MatcalcError, TimeLimitError
from .printing.text import ascii_words
from .shapes import shape_str
from .version import __version__

EXAMPLES = """examples:
  matcalc diff "L(W x + b)" W
  matcalc diff "x' A x" x --steps
  matcalc diff "-sum(log(σ(X w)))" w           (a leading minus is fine)
  matcalc diff "tr(A X B)" X --where "X: n×p" --format latex
  matcalc diff "A X B" X                      (a Jacobian: Bᵀ ⊗ A)
  matcalc diff "logdet(S)" S --where "S: n×n symmetric"
  matcalc hessian "tr(X' A X B)" X             (H in Kronecker form, and H[V] = A V B + Aᵀ V Bᵀ)
  matcalc parse "W x + b" --where "W: p×n"
  matcalc check "x' A x" x "2 A x"           (is this my gradient? exit 0 yes, 1 no)
  matcalc check "tr(X' A X B)" X "A V B + A' V B'" --hessian     (my Hessian, applied to V)
  matcalc check --table notes.md             (every row of a Markdown identity table)
  matcalc codegen "L(σ(W x + b))" W b --target jax     (a module: value_and_grad(**arrays))
  matcalc numcheck "‖A X B − C‖²" X --size m=300 --size n=200   (the generated code at real sizes)
  matcalc serve                               (the web page, at http://127.0.0.1:8000/)
  matcalc serve --host 0.0.0.0 --workers 4    (for a class: every interface, four worker processes)

exit codes: 0 success, 1 wrong, 2 bad input / no rule / a limit / the time limit,
            3 an answer that could not be checked (unchecked)
"""

def _examples(command: str) -> str:
    """The examples of one subcommand (its --help), with the exit codes."""
    head, _, codes = EXAMPLES.partition("\n\nexit codes:")
    lines = [line for line in head.splitlines()[1:] if line.strip().startswith(f"matcalc {command} ")]
    return "examples:\n" + "\n".join(lines) + "\n\nexit codes:" + codes if lines else "exit codes:" + codes


#: marks a command-line token as a positional; removed again after parsing
_MARK = "\ue000"


class _Parser(argparse.ArgumentParser):
    """argparse, with its error messages free of the positional marks; exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        message = message.replace(repr(_MARK)[1:-1], "").replace(_MARK, "")
        self.exit(2, f"{self.prog}: error: {message}\n")


def _seconds(text: str) -> float:
    """--timeout: a finite number of seconds, 0 < t ≤ limits.MAX_TIMEOUT."""
    try:
        return limits.valid_timeout(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


#: subcommand → option string → the argparse Action (public: option_strings, nargs)
Options = dict[str, dict[str, argparse.Action]]


def _parser() -> tuple[argparse.ArgumentParser, Options]:
    p = _Parser(
        prog="matcalc",
        allow_abbrev=False,
        description="Matrix calculus: differentials, gradients and Jacobians in textbook form.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"matcalc {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    options: Options = {}

    def command(name: str, help: str) -> Callable[..., argparse.Action]:
        q = sub.add_parser(name, help=help, epilog=_examples(name), allow_abbrev=False,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        table = options[name] = {}
        table["-h"] = table["--help"] = argparse.Action(["-h", "--help"], "help", nargs=0)  # argparse adds it

        def add(*flags: str, **kw: Any) -> argparse.Action:
            action = q.add_argument(*flags, **kw)
            for flag in action.option_strings:
                table[flag] = action
            return action

        return add

    def common(add: Callable[..., argparse.Action], formats: tuple[str, ...]) -> None:
        add("--where", "-w", default=None, metavar="DECLS",
            help='declarations, e.g. "A: m×n, x: n, s: scalar, S: n×n symmetric, f: elementwise"')
        add("--format", "-f", choices=formats, default="text",
            help="output format (default: text, in Unicode)")
        add("--timeout", type=_seconds, default=limits.DEFAULT_TIMEOUT, metavar="SECONDS",
            help=f"time limit of the whole command, SymPy check included (default {limits.DEFAULT_TIMEOUT:g}, "
                 f"at most {limits.MAX_TIMEOUT:g}); with --table, of each row")

    def derived(add: Callable[..., argparse.Action], what: str) -> None:
        """The options of a command that derives (diff, hessian): steps, the check, formats."""
        add("--steps", "-s", action="store_true", help="show the derivation step by step")
        add("--check", dest="check", action="store_true", default=True,
            help=f"check the {what} with SymPy (the default)")
        add("--no-check", dest="check", action="store_false", help=f"skip the SymPy check of the {what}")
        common(add, ("text", "ascii", "latex", "markdown", "json"))

    add = command("parse", "print an expression back with every variable's shape")
    add("expr", metavar="EXPR")
    common(add, ("text", "ascii", "latex", "json"))

    add = command("diff", "differential, gradient or Jacobian of EXPR with respect to WRT (each of several)")
    add("expr", metavar="EXPR")
    add("wrt", metavar="WRT", nargs="+", help="the variable to differentiate with respect to (several: each one)")
    add("--layout", "-l", choices=api.LAYOUTS, default="denominator",
        help="denominator (default): gradients have the shape of WRT; numerator: the transpose, "
             "and Jacobians as DF")
    derived(add, "answer")

    add = command("hessian", "Hessian of the scalar EXPR with respect to WRT (and WRT2: the mixed derivative)")
    add("expr", metavar="EXPR")
    add("wrt", metavar="WRT", help="the variable")
    add("wrt2", metavar="WRT2", nargs="?", help="a second variable: the mixed derivative ∂²f/∂vec WRT ∂(vec WRT2)ᵀ")
    add("--layout", "-l", choices=api.LAYOUTS, default=None,
        help="not for a Hessian: it has no layout (one row per entry of vec WRT); swap WRT and WRT2 for the transpose")
    derived(add, "Hessian")

    add = command("check", "is CLAIM the gradient (or derivative, or with --hessian the Hessian) of EXPR with respect to WRT?")
    add("expr", metavar="EXPR", nargs="?")
    add("wrt", metavar="WRT", nargs="?")
    add("claim", metavar="CLAIM", nargs="?", help="your derivative, in the same notation")
    add("--table", metavar="FILE", help="check every row of the Markdown identity tables in FILE")
    add("--layout", "-l", choices=api.LAYOUTS, default=None,
        help="the layout the claim is written in (default: denominator; a Hessian has none)")
    add("--hessian", action="store_true",
        help="CLAIM is the Hessian: the matrix ∂²f/∂vec X ∂(vec X)ᵀ, or H[V] applied to a direction V of its own")
    add("--wrt2", metavar="Y", default=None, help="with --hessian: the mixed Hessian ∂²f/∂vec WRT ∂(vec Y)ᵀ")
    common(add, ("text", "ascii", "markdown", "json"))

    add = command("codegen", "a Python module computing the scalar EXPR and its gradients (NumPy, JAX or PyTorch)")
    add("expr", metavar="EXPR")
    add("wrt", metavar="WRT", nargs="+", help="the variables to differentiate with respect to")
    add("--target", "-t", choices=("numpy", "jax", "torch"), default="numpy", help="the array library (default numpy)")
    add("--hessian", action="store_true", help="also hessian(**arrays) and hvp(v, **arrays) (one WRT)")
    add("--where", "-w", default=None, metavar="DECLS", help="declarations, as for diff")
    add("--timeout", type=_seconds, default=limits.DEFAULT_TIMEOUT, metavar="SECONDS",
        help=f"time limit (default {limits.DEFAULT_TIMEOUT:g})")

    add = command("numcheck", "run the generated NumPy code at random inputs of real sizes: finite differences "
                              "(and JAX's autodiff when installed) against its gradients")
    add("expr", metavar="EXPR")
    add("wrt", metavar="WRT", nargs="+", help="the variables to differentiate with respect to")
    add("--size", action="append", default=[], metavar="NAME=N", help="a size, e.g. --size n=500 (repeatable)")
    add("--where", "-w", default=None, metavar="DECLS", help="declarations, as for diff")
    add("--seed", type=int, default=0, help="the random inputs' seed (default 0)")
    add("--format", "-f", choices=("text", "json"), default="text", help="output format (default: text)")
    add("--timeout", type=_seconds, default=60.0, metavar="SECONDS", help="time limit (default 60)")

    add = command("serve", "the web page: derivatives typeset, explained and checked, offline "
                           '(needs pip install "matcalc[web]")')
    add("--port", type=int, default=8000, help="the port (default 8000; 0: any free one)")
    add("--host", default="127.0.0.1",
        help="the address to bind (default 127.0.0.1, this machine only; 0.0.0.0: every interface)")
    add("--workers", type=int, default=None, metavar="N",
        help="worker processes, the requests computed at once (default: the number of cores)")
    add("--queue", type=int, default=None, metavar="N",
        help="requests that may wait for a worker (default 16 per worker); more are answered 503")
    add("--allow-host", action="append", default=[], metavar="NAME",
        help="a host name the page may be opened by besides loopback, --host and IP addresses "
             "(the public name behind a reverse proxy; repeatable)")
    add("--access-log", action="store_true", help="print a line for every request")
    return p, options


def _mark_positionals(argv: list[str], options: Options) -> list[str]:
    """Make every positional unmistakable to argparse (see the module docstring)."""
    if not argv or argv[0] not in options:
        return argv  # no subcommand: argparse reports it (or prints the help)
    known = options[argv[0]]
    out = [argv[0]]
    i, only_positionals = 1, False
    while i < len(argv):
        token = argv[i]
        i += 1
        if only_positionals:
            out.append(_MARK + token)
        elif token == "--":
            only_positionals = True
        elif token in known:
            action = known[token]
            if action.nargs != 0 and i < len(argv):  # the value, whatever it starts with
                long = next((f for f in action.option_strings if f.startswith("--")), token)
                out.append(f"{long}={argv[i]}")
                i += 1
            else:
                out.append(token)
        elif token.startswith("--") and token.split("=", 1)[0] in known and "=" in token:
            out.append(token)
        elif token[:2] in known and (known[token[:2]].choices or ()) and token[2:] in known[token[:2]].choices:
            out.append(token)  # -fjson, -lnumerator: a short option with one of its choices attached
        else:
            out.append(_MARK + token)
    return out


def _stdin() -> str:
    """The expression given on standard input (``matcalc diff - W < expr.txt``): the command
    line carries at most about 128 KiB.  Read up to one character more than the parser
    accepts, so that a longer input is refused by the parser's own message."""
    try:
        text = sys.stdin.read(limits.MAX_INPUT_CHARS + 1)
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise MatcalcError(f"cannot read the expression from standard input ('-'): {err}") from None
    if len(text) > limits.MAX_INPUT_CHARS:
        raise MatcalcError(f"the expression on standard input ('-') is longer than {limits.MAX_INPUT_CHARS:,} "
                           "characters, the most matcalc reads")
    text = text.rstrip("\r\n")
    if not text.strip():
        raise MatcalcError("the expression is '-', read from standard input, which is empty")
    return text


def _unmark(value: Any) -> Any:
    if isinstance(value, list):
        return [_unmark(v) for v in value]
    return value[len(_MARK):] if isinstance(value, str) and value.startswith(_MARK) else value


class _Clock:
    """The command's time limit: the deadline around the work, and what is left of it."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.ends = time.monotonic() + seconds

    def remaining(self) -> float:
        return self.ends - time.monotonic()

    def check_budget(self) -> float:
        """The SymPy check's own budget: the time left, less a margin."""
        return limits.check_budget(self.remaining())


def _unchecked_line(detail: str, ascii: bool = False) -> str:
    line = f"unchecked: {detail}; the answer above has not been verified"
    return ascii_words(line) if ascii else line


def _cmd_parse(args: argparse.Namespace, clock: _Clock) -> int:
    with limits.deadline(clock.seconds, "parsing the expression"):
        e = api.parse(args.expr, args.where)
        unused = api.unused_declarations(e)
        ascii = args.format == "ascii"
        if args.format == "json":
            data = e.to_dict()
            data["assumptions"] += unused
            out = json.dumps(data, ensure_ascii=False, indent=2)
        elif args.format == "latex":
            out = e.latex_block()
        else:
            main, *bindings = e.text(ascii).split("\n")  # a long expression: its named parts below it
            lines = [f"{main}    [{shape_str(e.shape, ascii)}]", *bindings]
            width = max((len(n) for n in e.shapes), default=0)
            for name, shape in e.shapes.items():
                lines.append(f"  {name:<{width}} : {shape.replace('×', 'x') if ascii else shape}")
            for name, decl in e.functions.items():
                lines.append(f"  {name:<{width}} : abstract {decl.kind} function")
            lines.extend(f"  {ascii_words(a) if ascii else a}" for a in e.assumptions + unused)
            out = "\n".join(lines)
    print(out)
    return 0


def _run_check(r: api.Derivative, clock: _Clock) -> tuple[dict[str, Any], Any]:
    """diff's own check within what is left of the time limit: (its JSON, the result or None)."""
    left = clock.remaining()
    if left > 0.05:
        try:
            with limits.deadline(left, "the SymPy check"):
                result = r.check(timeout=clock.check_budget())
            return result.to_dict(), result
        except TimeLimitError:
            pass
    detail = f"the time limit of {clock.seconds:g} s ran out before the check finished"
    return {"status": "unchecked", "ok": None, "method": "time limit", "sizes": {},
            "seconds": round(clock.seconds - max(clock.remaining(), 0.0), 3), "entries": 0,
            "detail": detail}, None


def _checked(result: Any, args: argparse.Namespace, clock: _Clock, what: str) -> tuple[dict[str, Any], str]:
    """The check of a diff or hessian result (unless --no-check): its JSON and its line."""
    ascii = args.format == "ascii"
    if not args.check:
        return ({"status": "not run", "ok": None, "method": "not run", "sizes": {}, "seconds": 0.0, "entries": 0,
                 "detail": "--no-check was given"},
                f"not checked: --no-check was given, so the {what} above has not been verified")
    check, done = _run_check(result, clock)
    if check["status"] == "unchecked":
        return check, _unchecked_line(check["detail"] or "the check reached no verdict", ascii)
    return check, ascii_words(str(done)) if ascii else str(done)


def _cmd_diff(args: argparse.Namespace, clock: _Clock) -> int:
    wrts = args.wrt
    if len(set(wrts)) != len(wrts):
        raise MatcalcError(f"a variable is given twice: {' '.join(wrts)}")
    if len(wrts) == 1:
        return _diff_one(args, clock, wrts[0])
    # several variables: each derivative in turn (JSON: one object with the list)
    if args.format == "json":
        results = []
        worst = 0
        for w in wrts:
            with limits.deadline(clock.seconds, "differentiating"):
                r = api.diff(args.expr, w, args.where, layout=args.layout)
                data = r.to_dict()
            data["check"], _ = _checked(r, args, clock, "answer")
            results.append(data)
            worst = max(worst, EXIT_CODES.get(data["check"]["status"], 0))
        print(json.dumps({"version": api.SCHEMA_VERSION, "kind": "derivatives", "results": results},
                         ensure_ascii=False, indent=2))
        return worst
    codes = []
    for k, w in enumerate(wrts):
        if k:
            print()
        codes.append(_diff_one(args, clock, w))
    return max(codes)


def _diff_one(args: argparse.Namespace, clock: _Clock, wrt: str) -> int:
    with limits.deadline(clock.seconds, "differentiating"):
        r = api.diff(args.expr, wrt, args.where, layout=args.layout)
        text = _answer_text(r, args)
    return _print_result(r, text, args, clock, "answer")


def _answer_text(r: Any, args: argparse.Namespace) -> str | dict[str, Any] | None:
    """What is printed of a derivative or Hessian before its check, within the time limit:
    its text (--format text, ascii) or its JSON without the check (json); else None."""
    if args.format == "json":
        return r.to_dict()
    return r.text(ascii=args.format == "ascii", steps=args.steps) if args.format in ("text", "ascii") else None


def _print_result(r: Any, answer: str | dict[str, Any] | None, args: argparse.Namespace, clock: _Clock,
                  what: str) -> int:
    """A derivative or Hessian in the format asked for, with its check: as text, the answer
    first (it stands whatever the check finds), then the check's line; typeset or as JSON,
    printed whole with the verdict in it.  The exit code is the check's."""
    if isinstance(answer, str):
        print(answer, flush=True)
    check, line = _checked(r, args, clock, what)
    if isinstance(answer, dict):
        print(json.dumps({**answer, "check": check}, ensure_ascii=False, indent=2))
    elif args.format == "latex":
        print(r.latex(check=line))
        if args.steps:
            print()
            print(r.steps.latex())
    elif args.format == "markdown":
        print(r.markdown(steps=args.steps, check=line))
    else:
        print()
        print(line)
    return EXIT_CODES.get(check["status"], 0)


def _cmd_check(args: argparse.Namespace, clock: _Clock) -> int:
    from . import tables  # it imports SymPy, which `import matcalc` must not

    ascii = args.format == "ascii"
    layout = args.layout or "denominator"
    if args.table:
        if args.expr or args.wrt or args.claim:
            raise MatcalcError("give either EXPR WRT CLAIM or --table FILE, not both")
        if args.hessian:
            raise MatcalcError("--hessian checks one claim (EXPR WRT CLAIM), not a --table of gradients")
        with limits.deadline(args.timeout, f"reading {'standard input' if args.table == '-' else args.table}"):
            text = tables.read_table_file(args.table)  # a FIFO may never be written to: bounded
        rows = tables.check_table(text, layout, args.where, args.timeout)
        if not rows:
            raise MatcalcError(f"no derivative table found in {args.table} (a header like "
                               "| $f(x)$ | $\\frac{\\partial f}{\\partial x}$ | followed by |---|---|)")
        if args.format == "json":
            print(json.dumps(tables.to_dict(rows, layout, args.table), ensure_ascii=False, indent=2))
        elif args.format == "markdown":  # the file written back, with a verdict column
            print(tables.markdown(text, rows, layout), end="")
        else:
            for r in rows:
                print(ascii_words(r.text(ascii)) if ascii else r.text())
                print()
            print(tables.summary(rows, layout))
        return tables.exit_code(rows)
    if args.expr is None or args.wrt is None or args.claim is None:
        raise MatcalcError("check needs EXPR WRT CLAIM (or --table FILE)")
    if args.wrt2 is not None and not args.hessian:
        raise MatcalcError("--wrt2 names the second variable of a mixed Hessian: give it with --hessian")
    if args.hessian and args.layout is not None:
        raise MatcalcError(f"--layout {args.layout}: a Hessian has no layout (one row per entry of vec WRT, one "
                           "column per entry of vec WRT2); for the transpose of a mixed Hessian, swap the variables")
    with limits.deadline(clock.seconds, "checking the claim"):
        if args.hessian:
            v = api.check_hessian(args.expr, args.wrt, args.claim, args.where, wrt2=args.wrt2,
                              timeout=clock.check_budget())
        else:
            v = api.check(args.expr, args.wrt, args.claim, args.where, layout=args.layout or "denominator",
                          timeout=clock.check_budget())
        out = (json.dumps(v.to_dict(), ensure_ascii=False, indent=2) if args.format == "json"
               else v.markdown() if args.format == "markdown"
               else ascii_words(v.text(ascii)) if ascii else v.text())
    print(out)
    return v.exit_code


def _cmd_hessian(args: argparse.Namespace, clock: _Clock) -> int:
    if args.layout is not None:
        raise MatcalcError(f"--layout {args.layout}: a Hessian has no layout. H = ∂²f/∂vec X ∂(vec Y)ᵀ has one row "
                           "per entry of vec X and one column per entry of vec Y (symmetric when Y is X); for "
                           "the transpose of a mixed Hessian, swap the two variables")
    with limits.deadline(clock.seconds, "differentiating twice"):
        h = api.hessian(args.expr, args.wrt, args.wrt2, args.where)
        text = _answer_text(h, args)
    return _print_result(h, text, args, clock, "Hessian")


def _cmd_codegen(args: argparse.Namespace, clock: _Clock) -> int:
    from .code import codegen

    with limits.deadline(clock.seconds, "generating code"):
        print(codegen(args.expr, args.wrt, args.where, target=args.target, hessian=args.hessian), end="")
    return 0


def _cmd_numcheck(args: argparse.Namespace, clock: _Clock) -> int:
    from .numcheck import numcheck

    sizes: dict[str, int] = {}
    for item in args.size:
        name, eq, value = item.partition("=")
        if not eq or not name.strip() or not value.strip().isascii() or not value.strip().isdigit() or int(value) < 1:
            raise MatcalcError(f"--size {item}: write a size as NAME=N with N a whole number ≥ 1, e.g. --size n=500")
        sizes[name.strip()] = int(value)
    with limits.deadline(clock.seconds, "the numerical check"):
        report = numcheck(args.expr, args.wrt, args.where, sizes=sizes, seed=args.seed)
    print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2) if args.format == "json" else report.text())
    return report.exit_code


def _cmd_serve(args: argparse.Namespace, clock: _Clock) -> int:
    from . import web
    from .web.guard import split_host

    if not 0 <= args.port <= 65535:
        raise MatcalcError(f"--port {args.port}: a port is a number from 0 to 65535")
    if args.workers is not None and not 1 <= args.workers <= 256:
        raise MatcalcError(f"--workers {args.workers}: from 1 to 256 worker processes")
    if args.queue is not None and not 0 <= args.queue <= 100_000:
        raise MatcalcError(f"--queue {args.queue}: from 0 to 100,000 waiting requests")
    for name in args.allow_host:
        if split_host(name) is None:
            raise MatcalcError(f"--allow-host {name!r}: not a host name")
    missing = web.missing_packages()
    if missing:
        raise MatcalcError(f"matcalc serve needs {' and '.join(missing)}, which are not installed: {web.INSTALL}")
    from .web.server import serve

    settings = web.Settings(host=args.host, port=args.port, queue=args.queue, allowed_hosts=tuple(args.allow_host),
                            access_log=args.access_log,
                            **({"workers": args.workers} if args.workers is not None else {}))
    try:
        serve(settings)
    except OSError as err:
        raise MatcalcError(f"cannot serve on {args.host}:{args.port}: {err.strerror or err}") from None
    except RuntimeError as err:
        raise MatcalcError(str(err)) from None
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace, _Clock], int]] = {
    "parse": _cmd_parse, "diff": _cmd_diff, "hessian": _cmd_hessian, "check": _cmd_check,
    "codegen": _cmd_codegen, "numcheck": _cmd_numcheck, "serve": _cmd_serve,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser, options = _parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        parser.print_help(sys.stderr)
        return 2
    try:
        args = parser.parse_args(_mark_positionals(argv, options))
    except SystemExit as exc:  # argparse has printed its message (or the help: exit 0)
        return 0 if exc.code in (0, None) else 2
    for name in ("expr", "wrt", "wrt2", "claim"):
        if hasattr(args, name):
            setattr(args, name, _unmark(getattr(args, name)))
    if args.command not in COMMANDS:
        parser.print_help(sys.stderr)
        return 2
    try:
        if getattr(args, "wrt", None) == "-" or "-" in (getattr(args, "wrt", None) or []):
            raise MatcalcError("'-' reads EXPR or CLAIM from standard input; WRT is the name of a variable")
        for name in ("expr", "claim"):  # -: read from standard input (a long expression)
            if getattr(args, name, None) == "-":
                with limits.deadline(getattr(args, "timeout", limits.DEFAULT_TIMEOUT), "reading standard input"):
                    setattr(args, name, _stdin())
                break
        return COMMANDS[args.command](args, _Clock(getattr(args, "timeout", limits.DEFAULT_TIMEOUT)))
    except MatcalcError as err:
        print(err.pretty(), file=sys.stderr)
        return 2
    except RecursionError:
        print("error: the expression is nested too deeply for matcalc", file=sys.stderr)
        return 2
    except MemoryError:
        print("error: matcalc ran out of memory: the expression (or its derivative) is too large", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader went away (matcalc … | head): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug in matcalc: still one paragraph, never a traceback
        print(f"internal error: {type(exc).__name__}: {exc}\n  this is a bug in matcalc, not in your input; "
              "please report it with the command line that caused it", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
