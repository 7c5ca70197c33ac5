"""Hessians (issue 11), side by side with SymPy in one process (run on demand from the
repository root: ``python benchmarks/hessian.py``, ``--quick`` for a smoke run).

For each row: matcalc's warm ``hessian(expr, wrt)`` with both of its results printed (H in
Kronecker form and H[V]; parse, two differentiations, identification, canonical forms), and
SymPy's matrix-expression ``f.diff(X).diff(X)`` on ``MatrixSymbol``s with symbolic sizes,
building the expression inside the timed call in both.  The calls are made in blocks of
:data:`BLOCK` per tool, the tools taking turns, with the garbage collector off during the
calls; each figure is the median.  SymPy's answer is shown as it comes (an array
expression for a matrix variable; for some rows an error or a wrong answer, said so).

The machines are shared and noisy: read the ratios, measured in one run.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable
from typing import Any

import sympy as sp

import matcalc

BLOCK = 5

m, n = sp.symbols("m n", integer=True, positive=True)
MS = sp.MatrixSymbol

#: (label, matcalc expression, wrt, SymPy's f and variable)
ROWS: list[tuple[str, str, str, Callable[[], tuple[Any, Any]]]] = [
    ("xᵀAx", "x' A x", "x", lambda: (MS("x", n, 1).T * MS("A", n, n) * MS("x", n, 1), MS("x", n, 1))),
    ("‖Ax − b‖²", "‖A x − b‖²", "x",
     lambda: ((MS("A", m, n) * MS("x", n, 1) - MS("b", m, 1)).T * (MS("A", m, n) * MS("x", n, 1) - MS("b", m, 1)),
              MS("x", n, 1))),
    ("tr(XᵀAXB)", "tr(X' A X B)", "X",
     lambda: (sp.Trace(MS("X", m, n).T * MS("A", m, m) * MS("X", m, n) * MS("B", n, n)), MS("X", m, n))),
    ("‖AXB − C‖²", "‖A X B − C‖²", "X",
     lambda: (sp.Trace((MS("A", m, m) * MS("X", m, n) * MS("B", n, n) - MS("C", m, n)).T
                       * (MS("A", m, m) * MS("X", m, n) * MS("B", n, n) - MS("C", m, n))), MS("X", m, n))),
    ("logdet(X)", "logdet(X)", "X", lambda: (sp.log(sp.Determinant(MS("X", n, n))), MS("X", n, n))),
    ("tr(X⁻¹)", "tr(inv(X))", "X", lambda: (sp.Trace(MS("X", n, n).I), MS("X", n, n))),
    ("aᵀX⁻¹b", "a' inv(X) b", "X", lambda: (MS("a", n, 1).T * MS("X", n, n).I * MS("b", n, 1), MS("X", n, n))),
]


def _matcalc(expr: str, wrt: str) -> Callable[[], str]:
    def run() -> str:
        h = matcalc.hessian(expr, wrt)
        return f"{h.hessian} | {h.hvp}"
    return run


def _sympy(build: Callable[[], tuple[Any, Any]]) -> Callable[[], str]:
    def run() -> str:
        f, x = build()
        return str(f.diff(x).diff(x))
    return run


def _timed(fn: Callable[[], str]) -> tuple[float, str]:
    gc.disable()
    try:
        t = time.perf_counter()
        out = fn()
        return time.perf_counter() - t, out
    finally:
        gc.enable()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a few calls per row (a smoke run)")
    args = ap.parse_args()
    blocks = 2 if args.quick else 8
    print("| Hessian | matcalc (ms) | SymPy (ms) | SymPy ÷ matcalc | SymPy's answer |")
    print("|---|---|---|---|---|")
    ratios = []
    for label, expr, wrt, build in ROWS:
        tools = {"matcalc": _matcalc(expr, wrt), "sympy": _sympy(build)}
        times: dict[str, list[float]] = {k: [] for k in tools}
        answers: dict[str, str] = {}
        for block in range(blocks + 1):  # the first block warms up
            for name, fn in tools.items():
                for _ in range(BLOCK):
                    try:
                        t, out = _timed(fn)
                    except RecursionError:
                        t, out = float("nan"), "RecursionError"
                    except Exception as exc:  # noqa: BLE001 - reported in the table
                        t, out = float("nan"), f"{type(exc).__name__}"
                    answers[name] = out
                    if block:
                        times[name].append(t)
        ours = statistics.median(times["matcalc"]) * 1e3
        theirs = [t for t in times["sympy"] if t == t]
        sym = statistics.median(theirs) * 1e3 if theirs else None
        wrong = "Derivative(0," in answers["sympy"]  # logdet: SymPy returns an unevaluated zero
        ratio = f"{sym / ours:.1f}×" if sym and not wrong else "—"
        if sym and not wrong:
            ratios.append(sym / ours)
        shown = answers["sympy"].replace("|", "\\|")
        shown = shown if len(shown) < 60 else shown[:57] + "…"
        note = " (wrong: the Hessian is −(X⁻¹ ⊗ X⁻ᵀ) K)" if wrong else ""
        print(f"| {label} | {ours:.2f} | {f'{sym:.2f}' if sym else 'fails'} | {ratio} | `{shown}`{note} |")
    if ratios:
        print(f"\nmedian SymPy ÷ matcalc over the rows SymPy answers: {statistics.median(ratios):.1f}×")


if __name__ == "__main__":
    main()
