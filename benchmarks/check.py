"""What the SymPy check costs (run on demand from the repository root:
``python benchmarks/check.py [--baseline DIR]``): CPU seconds of the whole check — this
process and the check's child process (``RUSAGE_CHILDREN``) — for the cases that were slow
(inverses, several matrices, Hessians of the second identification table), and the median
and maximum over the identity table (``tests/identities.py``), with how many were decided
exactly.

With ``--baseline DIR`` (another checkout of matcalc, such as ``git worktree add
/tmp/base <commit>``) the same cases run there too, in a process of its own, and the
figures are printed side by side.  Each check runs once (a check is seconds long, its
variation is that of the machine); read the figures as ratios between two columns of one
run, not as absolute times.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: (label, kind, expression, variable, second variable, declarations, claim)
#: kind "diff": matcalc's own gradient checked; "hessian": matcalc's Hessian H checked;
#: "claim": the Hessian applied to V, checked as a claim (matcalc check … --hessian)
CASES = [
    ("tr(A X⁻¹ B) wrt X", "diff", "tr(A inv(X) B)", "X", None, None, None),
    ("‖A X B − C‖² wrt X", "diff", "‖A X B - C‖²", "X", None, None, None),
    ("tr((XᵀX)⁻¹) wrt X", "diff", "tr(inv(X' X))", "X", None, None, None),
    ("tr(X A⁻¹ Xᵀ) wrt A", "diff", "tr(X inv(A) X')", "A", None, None, None),
    ("logdet(AᵀA + λI) wrt A", "diff", "logdet(A' A + λ I)", "A", None, None, None),
    ("aᵀ X⁻¹ b wrt X", "diff", "a' inv(X) b", "X", None, None, None),
    ("Gaussian NLL wrt Σ", "diff", "(x - μ)' inv(Σ) (x - μ) / 2 + logdet(Σ) / 2", "Σ", None, "Σ: n×n symmetric", None),
    ("det(A X B) wrt X", "diff", "det(A X B)", "X", None, "A: n×n, B: n×n", None),
    ("H: softmax regression wrt W", "hessian", "-y' log(softmax(W x))", "W", None, "y: k, W: k×n", None),
    ("H: logistic regression wrt w", "hessian", "sum(log(1 + exp(X w))) - y' X w", "w", None, None, None),
    ("H: tr(Xᵀ A X B) wrt X", "hessian", "tr(X' A X B)", "X", None, None, None),
    ("H: ‖A X B − C‖² wrt X", "hessian", "‖A X B - C‖²", "X", None, None, None),
    ("H: tr(X⁻¹) wrt X", "hessian", "tr(inv(X))", "X", None, None, None),
    ("H[V]: logdet(S), S symmetric", "claim", "logdet(S)", "S", None, "S: n×n symmetric", "-inv(S) V inv(S)"),
    ("H[V]: L(W x + b) wrt W", "claim", "L(W x + b)", "W", None, None, "∇²L(W x + b) V x x'"),
]


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _timed(run) -> tuple[float, object]:
    start = _cpu()
    result = run()
    return _cpu() - start, result


def _case(kind: str, expr: str, wrt: str, wrt2: str | None, where: str | None, claim: str | None):
    """(CPU seconds, CheckResult) of one case."""
    import matcalc
    from matcalc.hessian import check_hessian

    if kind == "diff":
        r = matcalc.diff(expr, wrt, where)
        return _timed(lambda: r.check(timeout=60))
    if kind == "hessian":
        h = matcalc.hessian(expr, wrt, wrt2, where)
        return _timed(lambda: h.check(timeout=60))
    seconds, verdict = _timed(lambda: check_hessian(expr, wrt, claim, where, wrt2=wrt2, timeout=60))
    return seconds, verdict.check


def worker(table: bool) -> None:
    """Measure here (matcalc from sys.path), one JSON line per figure."""
    import matcalc

    matcalc.diff("x' x", "x").check()  # imports the check (SymPy) before anything is timed
    for label, kind, expr, wrt, wrt2, where, claim in CASES:
        seconds, result = _case(kind, expr, wrt, wrt2, where, claim)
        print(json.dumps({"case": label, "seconds": seconds, "status": result.status, "method": result.method}),
              flush=True)
    if not table:
        return
    sys.path.insert(0, str(ROOT / "tests"))
    from identities import ROWS

    for row in ROWS:
        r = matcalc.diff(row.expr, row.wrt, row.where)
        seconds, result = _timed(lambda r=r: r.check(timeout=60))
        print(json.dumps({"row": f"{row.expr} wrt {row.wrt}", "seconds": seconds, "status": result.status,
                          "method": result.method}), flush=True)


def measure(checkout: Path, table: bool) -> list[dict]:
    code = (f"import sys; sys.path.insert(0, {str(checkout)!r}); sys.path.insert(1, {str(ROOT / 'benchmarks')!r}); "
            f"import check; check.worker({table})")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=checkout)
    if done.returncode:
        raise SystemExit(f"the benchmark failed in {checkout}:\n{done.stderr}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def _summary(rows: list[dict]) -> str:
    seconds = [r["seconds"] for r in rows]
    exact = sum(r["method"] == "exact" for r in rows)
    verified = sum(r["status"] == "verified" for r in rows)
    return (f"{len(rows)} identities: {verified} verified, {exact} exact; CPU median {statistics.median(seconds):.3f} s, "
            f"max {max(seconds):.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, help="another checkout of matcalc to compare with")
    parser.add_argument("--no-table", action="store_true", help="only the slow cases, not the identity table")
    args = parser.parse_args()
    start = time.perf_counter()
    runs = {"this checkout": measure(ROOT, not args.no_table)}
    if args.baseline:
        runs["baseline"] = measure(args.baseline.resolve(), not args.no_table)
    names = list(runs)
    cases = {name: [r for r in rows if "case" in r] for name, rows in runs.items()}
    print("CPU seconds of the check (this process and its child), one run:")
    header = "| case | " + " | ".join(names) + " | method (this checkout) |"
    print(header)
    print("|---|" + "---:|" * len(names) + "---|")
    for i, (label, *_rest) in enumerate(CASES):
        mine = cases[names[0]][i]
        figures = " | ".join(f"{cases[n][i]['seconds']:.2f}" + ("" if cases[n][i]["status"] == "verified"
                                                               else f" ({cases[n][i]['status']})") for n in names)
        print(f"| {label} | {figures} | {mine['method']} |")
    for name in names:
        s = sorted(r["seconds"] for r in cases[name])
        print(f"{name}: slow cases median {statistics.median(s):.3f} s, max {max(s):.2f} s")
    if not args.no_table:
        for name in names:
            print(f"{name}: {_summary([r for r in runs[name] if 'row' in r])}")
    print(f"(benchmark wall time {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
