"""The parser alone: CPU time of ``matcalc.parse`` on a mix of mid-size expressions (run on
demand from the repository root: ``python benchmarks/parse.py``, ``--quick`` for a smoke run).

The mix covers the parser's paths: declared and inferred sizes, a size used as a number,
products by juxtaposition, abstract functions, and the search over readings (a Greek
letter read as a vector, a coefficient letter, the literal 1 read as 𝟏).  Each expression
is parsed ``--rounds`` times in a row (warm: the grammar's tables are loaded once), with
the garbage collector off during the calls; the figure per expression is the median of
``--repeats`` such blocks, in CPU time (one thread).  The machines are shared and noisy:
compare runs made one after the other, not absolute times.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time

import matcalc

MIX = [
    ("x' A x + b' x + c", None),
    ("tr(A X B)", "X: n×p"),
    ("‖X w − y‖² / m + λ ‖w‖₁", None),
    ("L(σ(W2 σ(W1 x + b1) + b2))", None),
    ("-1/2 (x - μ)' inv(Σ) (x - μ) - n/2 logdet(Σ)", None),
    ("log det X + tr(S inv(X))", "X: n×n"),
    ("A - 1 x'", None),
    ("a x + c A y", None),
    ("tr(X' (I - 1 1'/n) X)", None),
    ("sum(exp(W x) ./ (1 + exp(W x)))", None),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    rounds, repeats = (5, 1) if args.quick else (args.rounds, args.repeats)
    for text, where in MIX:  # warm: the grammar's tables, the function table
        matcalc.parse(text, where)
    print("| expression | µs per parse |")
    print("|---|---:|")
    total = 0.0
    for text, where in MIX:
        blocks = []
        for _ in range(repeats):
            gc.disable()
            start = time.process_time()
            for _ in range(rounds):
                matcalc.parse(text, where)
            blocks.append((time.process_time() - start) / rounds)
            gc.enable()
        median = statistics.median(blocks)
        total += median
        print(f"| `{text}` | {median * 1e6:,.0f} |")
    print(f"| all {len(MIX)} (sum) | {total * 1e6:,.0f} |")


if __name__ == "__main__":
    main()
