"""The canonical-form engine against its targets (issue 10), measured side by side in one
process (run on demand from the repository root: ``python benchmarks/engine.py``, or
``--quick`` for a smoke run of a few seconds; ``--show`` also prints each tool's answers).

1. Ten standard identities: matcalc's warm ``diff(expr, wrt).gradient`` (parse,
   differentiate, canonical form), SymPy's matrix-expression ``.diff`` of the same
   expression (``MatrixSymbol``s with symbolic sizes; its answer is final, ``.doit()``
   changes nothing, so it is not called), and tensorgrad's ``f.grad(X).simplify()`` when
   tensorgrad is installed (``pip install tensorgrad``; it pulls in torch, and the rest of
   the script runs without it).  Each tool builds its expression inside the timed call; the
   calls are made in blocks of :data:`BLOCK` in a row per tool (warm, as in a loop or a
   notebook), the tools taking turns block by block, with the garbage collector off during
   the calls (as ``timeit`` does); each figure is the median after warm-up runs.
2. Depth: ``L(tanh(Wk … tanh(W1 x)))`` with respect to W1 for k = 100, 200, 400: the time
   of ``diff`` + ``.gradient`` and of ``str(gradient)`` (best of a few runs), and the
   length of ``str(gradient)``.  Linear growth shows as ratios near 4.
3. Cold start: ``matcalc diff "x' A x" x --no-check`` as a subprocess, ``import matcalc``
   and, for comparison, ``import sympy`` and the bare interpreter (medians).

The output is Markdown tables.  The machines are shared and noisy: read the ratios, which
are measured in one run, not the absolute times.
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matcalc

# -- the ten identities, each written for the three tools --------------------------------------


@dataclass
class Row:
    label: str  # as a person writes it
    expr: str  # matcalc's input
    wrt: str
    sympy: Callable[[Any], tuple[Any, Any]]  # (sympy module namespace) -> (f, wrt)
    tensorgrad: Callable[[Any], tuple[Any, Any]]  # (namespace) -> (f, wrt)
    times: dict[str, list[float]] = field(default_factory=dict)
    answers: dict[str, str] = field(default_factory=dict)


# SymPy: m, n, p are positive integer symbols; vectors are n×1 (or m×1) MatrixSymbols and
# a scalar like aᵀx is a 1×1 matrix expression.  tensorgrad: edges are named, a shared
# name is contracted, a transpose is a renaming; X is m×n (edges i, j) or n×n where an
# inverse or a power needs it.
ROWS = [
    Row("aᵀx", "a' x", "x",
        lambda s: (s.MS("a", s.n, 1).T * s.MS("x", s.n, 1), s.MS("x", s.n, 1)),
        lambda t: (t.V("a", i=t.n) @ t.V("x", i=t.n), t.V("x", i=t.n))),
    Row("xᵀAx", "x' A x", "x",
        lambda s: (s.MS("x", s.n, 1).T * s.MS("A", s.n, s.n) * s.MS("x", s.n, 1), s.MS("x", s.n, 1)),
        lambda t: (t.V("x", i=t.n) @ t.V("A", i=t.n, j=t.n) @ t.V("x", j=t.n), t.V("x", i=t.n))),
    Row("tr(AXB)", "tr(A X B)", "X",
        lambda s: (s.Trace(s.MS("A", s.p, s.m) * s.MS("X", s.m, s.n) * s.MS("B", s.n, s.p)), s.MS("X", s.m, s.n)),
        lambda t: (t.V("A", k=t.p, i=t.m) @ t.V("X", i=t.m, j=t.n) @ t.V("B", j=t.n, k=t.p),
                   t.V("X", i=t.m, j=t.n))),
    Row("tr(XBXᵀ)", "tr(X B X')", "X",
        lambda s: (s.Trace(s.MS("X", s.m, s.n) * s.MS("B", s.n, s.n) * s.MS("X", s.m, s.n).T), s.MS("X", s.m, s.n)),
        lambda t: (t.V("X", i=t.m, j=t.n) @ t.V("B", j=t.n, k=t.n) @ t.V("X", i=t.m, j=t.n).rename(j="k"),
                   t.V("X", i=t.m, j=t.n))),
    Row("aᵀXb", "a' X b", "X",
        lambda s: (s.MS("a", s.m, 1).T * s.MS("X", s.m, s.n) * s.MS("b", s.n, 1), s.MS("X", s.m, s.n)),
        lambda t: (t.V("a", i=t.m) @ t.V("X", i=t.m, j=t.n) @ t.V("b", j=t.n), t.V("X", i=t.m, j=t.n))),
    Row("aᵀX⁻¹b", "a' inv(X) b", "X",
        lambda s: (s.MS("a", s.n, 1).T * s.MS("X", s.n, s.n).I * s.MS("b", s.n, 1), s.MS("X", s.n, s.n)),
        lambda t: (t.V("a", i=t.n) @ t.F.inverse(t.V("X", i=t.n, j=t.n)) @ t.V("b", j=t.n),
                   t.V("X", i=t.n, j=t.n))),
    Row("tr(X⁻¹)", "tr(inv(X))", "X",
        lambda s: (s.Trace(s.MS("X", s.n, s.n).I), s.MS("X", s.n, s.n)),
        lambda t: (t.F.trace(t.F.inverse(t.V("X", i=t.n, j=t.n))), t.V("X", i=t.n, j=t.n))),
    Row("(Ax−b)ᵀ(Ax−b)", "(A x - b)' (A x - b)", "x",
        lambda s: ((lambda r: (r.T * r, s.MS("x", s.n, 1)))(s.MS("A", s.m, s.n) * s.MS("x", s.n, 1) - s.MS("b", s.m, 1))),
        lambda t: ((lambda r: (r @ r, t.V("x", i=t.n)))(t.V("A", k=t.m, i=t.n) @ t.V("x", i=t.n) - t.V("b", k=t.m)))),
    Row("tr(XᵀX)", "tr(X' X)", "X",
        lambda s: (s.Trace(s.MS("X", s.m, s.n).T * s.MS("X", s.m, s.n)), s.MS("X", s.m, s.n)),
        lambda t: (t.V("X", i=t.m, j=t.n) @ t.V("X", i=t.m, j=t.n), t.V("X", i=t.m, j=t.n))),
    Row("tr(XXX)", "tr(X X X)", "X",
        lambda s: (s.Trace(s.MS("X", s.n, s.n) ** 3), s.MS("X", s.n, s.n)),
        lambda t: (t.V("X", i=t.n, j=t.n) @ t.V("X", i=t.n, j=t.n).rename(i="j", j="k")
                   @ t.V("X", i=t.n, j=t.n).rename(i="k", j="i"), t.V("X", i=t.n, j=t.n))),
]


class _Namespace:
    pass


def sympy_namespace() -> Any:
    import sympy

    s = _Namespace()
    s.MS, s.Trace = sympy.MatrixSymbol, sympy.Trace
    s.m, s.n, s.p = sympy.symbols("m n p", integer=True, positive=True)
    return s


def tensorgrad_namespace() -> tuple[Any | None, str]:
    """tensorgrad's names, or None and why it is left out."""
    try:
        import sympy
        import tensorgrad
        import tensorgrad.functions
    except Exception as err:  # not installed, or torch fails to import: skip it cleanly
        return None, f"tensorgrad not measured ({type(err).__name__}: {err}); `pip install tensorgrad` adds it"
    t = _Namespace()
    t.V, t.F = tensorgrad.Variable, tensorgrad.functions
    t.m, t.n, t.p = sympy.symbols("m n p")
    return t, f"tensorgrad {importlib.metadata.version('tensorgrad')}"


#: calls each tool makes in a row before the next tool's turn
BLOCK = 5


def run_identities(warmup: int, repeats: int, show: bool) -> tuple[bool, str]:
    s = sympy_namespace()
    t, tg_note = tensorgrad_namespace()

    def mc(row: Row) -> Any:
        return matcalc.diff(row.expr, row.wrt).gradient

    def sp(row: Row) -> Any:
        f, w = row.sympy(s)
        return f.diff(w)

    def tg(row: Row) -> Any:
        f, w = row.tensorgrad(t)
        return f.grad(w).simplify()

    def tg_fix(row: Row) -> Any:  # simplified to a fixpoint, without distributing products over sums
        f, w = row.tensorgrad(t)
        return f.grad(w).full_simplify(expand=False)

    tools: dict[str, Callable[[Row], Any]] = {"matcalc": mc, "sympy": sp}
    if t is not None:
        tools |= {"tensorgrad": tg, "tensorgrad fixpoint": tg_fix}
    for row in ROWS:
        gc.collect()
        live = dict(tools)
        for name, fn in tools.items():
            try:
                for _ in range(warmup):
                    answer = fn(row)
                row.answers[name] = str(answer)
                if name == "sympy" and answer.shape != row.sympy(s)[1].shape:
                    row.answers[name] += f"   [shape {answer.shape}: not the shape of {row.wrt}]"
                row.times[name] = []
            except Exception as err:  # a row a tool cannot do (or a package mid-edit): shown as such
                row.answers[name] = f"error: {type(err).__name__}: {err}"
                del live[name]
        # in blocks: each tool makes BLOCK calls in a row (warm, as a user calling it in a loop
        # or a notebook sees it), and the tools take turns block by block, so that a noisy
        # moment of the machine hits all of them
        for _ in range(max(1, repeats // BLOCK)):
            for name, fn in live.items():
                gc.disable()  # as timeit does: a collection triggered by another tool's garbage
                try:  # is not charged to whichever tool happens to allocate next
                    for _ in range(BLOCK):
                        start = time.perf_counter()
                        fn(row)
                        row.times[name].append(time.perf_counter() - start)
                finally:
                    gc.enable()
        if show:
            print(f"{row.label} wrt {row.wrt}")
            for name, answer in row.answers.items():
                print(f"    {name:>20}: {' '.join(answer.split())[:300]}")
    if show:
        print()
    return t is not None, tg_note


def ms(row: Row, tool: str) -> float | None:
    ts = row.times.get(tool)
    return statistics.median(ts) * 1e3 if ts else None


def fmt_ms(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f}" if v < 10 else f"{v:.1f}"


def fmt_ratio(a: float | None, b: float | None) -> str:
    return "—" if a is None or b is None else f"{a / b:.1f}×"


def report_identities(has_tg: bool, tg_note: str, warmup: int, repeats: int) -> dict[str, Any]:
    sympy_version = importlib.metadata.version("sympy")
    print(f"### Ten standard identities: warm `diff` to canonical form (ms, median of {repeats} after {warmup} "
          f"warm-up runs; blocks of {BLOCK} calls in a row per tool, the tools taking turns)\n")
    head = "| identity | wrt | matcalc | SymPy `.diff` | **SymPy / matcalc** |"
    rule = "|---|---|---:|---:|---:|"
    if has_tg:
        head += " tensorgrad | **tensorgrad / matcalc** |"
        rule += "---:|---:|"
    print(head)
    print(rule)
    cols: dict[str, list[float]] = {"matcalc": [], "sympy": [], "tensorgrad": [], "tensorgrad fixpoint": []}
    sp_ratios: list[tuple[float, str]] = []
    tg_ratios: list[tuple[float, str]] = []
    tgfix_ratios: list[float] = []
    for row in ROWS:
        m, s, g, gf = (ms(row, k) for k in ("matcalc", "sympy", "tensorgrad", "tensorgrad fixpoint"))
        for key, v in zip(cols, (m, s, g, gf)):
            if v is not None:
                cols[key].append(v)
        mark = " †" if "not the shape" in row.answers.get("sympy", "") else ""
        line = f"| {row.label} | {row.wrt} | {fmt_ms(m)} | {fmt_ms(s)}{mark} | {fmt_ratio(s, m)} |"
        if m is not None and s is not None:
            sp_ratios.append((s / m, row.label))
        if has_tg:
            line += f" {fmt_ms(g)} | {fmt_ratio(g, m)} |"
            if m is not None and g is not None:
                tg_ratios.append((g / m, row.label))
            if m is not None and gf is not None:
                tgfix_ratios.append(gf / m)
        print(line)
    med = {k: statistics.median(v) if v else None for k, v in cols.items()}
    line = (f"| **median** | | **{fmt_ms(med['matcalc'])}** | **{fmt_ms(med['sympy'])}** | "
            f"**{fmt_ratio(med['sympy'], med['matcalc'])}** |")
    if has_tg:
        line += f" **{fmt_ms(med['tensorgrad'])}** | **{fmt_ratio(med['tensorgrad'], med['matcalc'])}** |"
    print(line)
    print()
    print(f"Ratios above 1× mean matcalc is faster. SymPy {sympy_version}: `MatrixSymbol`s with symbolic sizes, "
          "`f.diff(X)` (its answer is already final: `.doit()` changes nothing and is not timed); "
          "† SymPy answers aᵀXb (a 1×1 matrix) with a 4-index array, not an m×n matrix.")
    summary: dict[str, Any] = {"median_ms": med["matcalc"]}
    if sp_ratios:
        low = min(sp_ratios)
        summary["sympy_ratio"] = med["sympy"] / med["matcalc"]
        summary["sympy_low"] = low
        print(f"SymPy / matcalc per row: median {statistics.median(r for r, _ in sp_ratios):.1f}×, "
              f"lowest {low[0]:.1f}× ({low[1]}).")
    if has_tg:
        slower = [label for r, label in tg_ratios if r < 1]
        summary["tg_wins"] = (len(tg_ratios) - len(slower), len(tg_ratios), slower)
        fix = f"{statistics.median(tgfix_ratios):.1f}×" if tgfix_ratios else "—"
        print(f"{tg_note}: `f.grad(X).simplify()`, one pass (its usual call; on tr(XᵀX) it leaves "
              f"identity tensors a second pass removes). Simplified to a fixpoint instead "
              f"(`full_simplify(expand=False)`), tensorgrad / matcalc is {fix} at the median. "
              f"matcalc is faster on {len(tg_ratios) - len(slower)} of {len(tg_ratios)} rows"
              f"{' (not on ' + ', '.join(slower) + ')' if slower else ''}.")
    else:
        print(tg_note + ".")
    print()
    return summary


# -- depth ------------------------------------------------------------------------------------


def network(k: int) -> str:
    """L(tanh(Wk tanh(… tanh(W1 x))))."""
    s = "W1 x"
    for i in range(2, k + 1):
        s = f"W{i} tanh({s})"
    return f"L(tanh({s}))"


def run_depth(depths: tuple[int, ...], runs: int) -> dict[str, Any]:
    str(matcalc.diff(network(10), "W1").gradient)  # warm-up
    rows = []
    for k in depths:
        text = network(k)
        best_diff = best_str = float("inf")
        size = 0
        for _ in range(runs):
            gc.collect()
            start = time.perf_counter()
            g = matcalc.diff(text, "W1").gradient
            mid = time.perf_counter()
            printed = str(g)
            end = time.perf_counter()
            best_diff, best_str = min(best_diff, mid - start), min(best_str, end - mid)
            size = len(printed)
            del g, printed
        rows.append((k, best_diff, best_str, size))
    print(f"### Depth: `L(tanh(Wk … tanh(W1 x)))` with respect to W1 (s, best of {runs})\n")
    print("| k | diff + `.gradient` | `str(gradient)` | total | len(str(gradient)) |")
    print("|---:|---:|---:|---:|---:|")
    for k, d, s, n in rows:
        print(f"| {k} | {d:.3f} | {s:.3f} | **{d + s:.3f}** | {n:,} |")
    (k0, d0, s0, n0), (k1, d1, s1, n1) = rows[0], rows[-1]
    time_ratio, size_ratio = (d1 + s1) / (d0 + s0), n1 / n0
    print()
    print(f"**time({k1}) / time({k0}) = {time_ratio:.1f}** (diff alone {d1 / d0:.1f}, printing alone "
          f"{s1 / s0 if s0 > 0 else float('inf'):.1f}); **size({k1}) / size({k0}) = {size_ratio:.1f}**. "
          f"Linear growth gives {k1 // k0}, quadratic {(k1 // k0) ** 2}.")
    print()
    return {"k": (k0, k1), "time_ratio": time_ratio, "size_ratio": size_ratio, "top": d1 + s1}


# -- cold start ---------------------------------------------------------------------------------


def timed_run(cmd: list[str]) -> float:
    # as installed: bytecode written and used (pip compiles it; a shell with
    # PYTHONDONTWRITEBYTECODE set would recompile every edited module in every process)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    start = time.perf_counter()
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False, env=env)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {done.returncode}: {done.stderr.strip()[-300:]}")
    return elapsed


def run_cold(runs: int) -> dict[str, Any]:
    script = Path(sys.executable).with_name("matcalc")
    cli = [str(script)] if script.exists() else ([found] if (found := shutil.which("matcalc")) else
                                                  [sys.executable, "-m", "matcalc"])
    commands = [
        ('`matcalc diff "x\' A x" x --no-check`', [*cli, "diff", "x' A x", "x", "--no-check"], "≤ 0.15"),
        ('`python -c "import matcalc"`', [sys.executable, "-c", "import matcalc"], ""),
        ('`python -c "import sympy"`', [sys.executable, "-c", "import sympy"], ""),
        ('`python -c "pass"` (the interpreter alone)', [sys.executable, "-c", "pass"], ""),
    ]
    medians = {}
    for label, cmd, _ in commands:
        try:
            timed_run(cmd)  # warm-up: files in the page cache, bytecode and Lark's table cache written
            medians[label] = statistics.median(timed_run(cmd) for _ in range(runs))
        except (OSError, RuntimeError) as err:
            medians[label] = None
            print(f"(cold start: {err})")
    print(f"### Cold start (s, median of {runs} runs, each a new process)\n")
    print("| command | seconds | target |")
    print("|---|---:|---:|")
    for label, _, target in commands:
        v = medians[label]
        print(f"| {label} | {'—' if v is None else f'{v:.3f}'} | {target} |")
    print()
    return {"cli": medians[commands[0][0]], "import": medians[commands[1][0]], "sympy": medians[commands[2][0]]}


# -- summary ----------------------------------------------------------------------------------


def verdict(ok: bool | None) -> str:
    return "—" if ok is None else "✓" if ok else "✗"


def report_summary(ident: dict[str, Any], depth: dict[str, Any], cold: dict[str, Any]) -> None:
    print("### Against the targets of issue 10\n")
    print("| target | measured | |")
    print("|---|---:|:-:|")
    med = ident.get("median_ms")
    print(f"| median warm `diff` ≤ 1 ms | {fmt_ms(med)} ms | {verdict(None if med is None else med <= 1)} |")
    ratio = ident.get("sympy_ratio")
    print(f"| ≥ 10× SymPy's `.diff` (median of the ten) | **{'—' if ratio is None else f'{ratio:.1f}×'}** | "
          f"{verdict(None if ratio is None else ratio >= 10)} |")
    if "tg_wins" in ident:
        won, total, _ = ident["tg_wins"]
        print(f"| faster than tensorgrad on every row | {won} of {total} rows | {verdict(won == total)} |")
    k0, k1 = depth["k"]
    if k1 == 400:
        print(f"| {k1} layers < 1 s (diff + str) | {depth['top']:.2f} s | {verdict(depth['top'] < 1)} |")
    print(f"| time({k1}) / time({k0}) ≤ 5 | **{depth['time_ratio']:.1f}** | {verdict(depth['time_ratio'] <= 5)} |")
    print(f"| printed size linear: size({k1}) / size({k0}) ≈ {k1 // k0} | **{depth['size_ratio']:.1f}** | "
          f"{verdict(depth['size_ratio'] <= (k1 // k0) * 1.25)} |")
    cli = cold.get("cli")
    print(f"| `matcalc diff … --no-check` cold start ≤ 0.15 s | {'—' if cli is None else f'{cli:.3f} s'} | "
          f"{verdict(None if cli is None else cli <= 0.15)} |")
    print()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="few repeats, depths 25/50/100: a smoke run")
    ap.add_argument("--show", action="store_true", help="print each tool's answer for each identity")
    args = ap.parse_args()
    warmup, repeats = (1, 5) if args.quick else (3, 25)
    depths, depth_runs = ((25, 50, 100), 1) if args.quick else ((100, 200, 400), 2)
    cold_runs = 3 if args.quick else 7

    print(f"matcalc {importlib.metadata.version('matcalc')} ({Path(matcalc.__file__).parent}), "
          f"Python {platform.python_version()}, "
          f"{platform.machine()}; {'--quick: ' if args.quick else ''}one process, "
          f"{time.strftime('%Y-%m-%d')}\n")
    start = time.perf_counter()
    has_tg, tg_note = run_identities(warmup, repeats, args.show)
    ident = report_identities(has_tg, tg_note, warmup, repeats)
    depth = run_depth(depths, depth_runs)
    cold = run_cold(cold_runs)
    report_summary(ident, depth, cold)
    print(f"(whole run {time.perf_counter() - start:.0f} s; shared machine: ratios measured in one run are "
          "the figures to compare, absolute times vary between runs)")


if __name__ == "__main__":
    main()
