"""The SymPy oracle: is a claimed gradient or Jacobian right, entry by entry?

Every size is instantiated with a small number, pairwise distinct (m=2, n=3, p=4, …) so
that a transposed or mis-shaped answer cannot pass by accident; every variable becomes a
matrix of entry symbols (a symmetric one with X_ij = X_ji); abstract functions become
SymPy ``Function``s.  The expression is computed entry by entry, each entry is
differentiated by SymPy with respect to each entry of the variable, and the claim is
compared with the result:

* **exactly** where SymPy can cancel every difference to 0 within the time budget;
* otherwise **at random rational points**, evaluated to 30 digits (abstract functions are
  then given concrete formulas).

The check is time-bounded: past the budget it stops and says so (``ok is None``).
For a symmetric variable S the claim is sym(G): ∂f/∂s_ii = G_ii and ∂f/∂s_ij = 2 G_ij.
"""

from __future__ import annotations

import multiprocessing
import random
import time
from dataclasses import dataclass, field
from typing import Any

import sympy as sp
from sympy.core.function import AppliedUndef

from .nodes import Call, Expr, Power, Var
from .printing.sympy import SympyConverter, size_of, symbol_matrix, vec
from .shapes import DimProd

SIZES = (2, 3, 4, 5, 6, 7)
#: differences larger than this (in SymPy operations) are compared at points, not cancelled
EXACT_OPS_LIMIT = 300
#: functions whose argument is kept positive at random points
_POSITIVE_ARGS = {"log", "sqrt", "logdet"}


@dataclass(frozen=True)
class CheckResult:
    """What a check found.  ``ok``: True (the claim is right), False (it is not), or
    None (the time budget ran out before a verdict)."""

    ok: bool | None
    method: str
    sizes: dict[str, int]
    seconds: float
    detail: str = ""
    entries: int = 0
    mismatch: dict[str, Any] | None = field(default=None)

    def sizes_text(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.sizes.items()) or "the sizes given"

    def __str__(self) -> str:
        if self.ok:
            return f"✓ checked with SymPy at {self.sizes_text()} ({self.method}, {self.entries} entries, {self.seconds:.2f} s)"
        if self.ok is None:
            return f"? SymPy check stopped: {self.detail} ({self.seconds:.1f} s)"
        return f"✗ SymPy check failed at {self.sizes_text()}: {self.detail}"

    def __bool__(self) -> bool:
        return self.ok is True


def instantiate_sizes(*trees: Expr) -> dict[str, int]:
    """Every symbolic size gets a different small number, in alphabetical order."""
    names: set[str] = set()
    for tree in trees:
        for n in tree.walk():
            for d in _dims(n):
                for s in d.syms if isinstance(d, DimProd) else (d,):
                    if isinstance(s, str):
                        names.add(s)
    ordered = sorted(names)
    if len(ordered) > len(SIZES):
        return {s: 2 + i for i, s in enumerate(ordered)}
    return {s: SIZES[i] for i, s in enumerate(ordered)}


def _dims(n: Expr) -> tuple[Any, ...]:
    out: list[Any] = []
    for attr in ("dims", "n", "m", "out", "rows", "cols"):
        v = getattr(n, attr, None)
        if isinstance(v, tuple):
            out.extend(v)
        elif v is not None and not isinstance(v, Expr):
            out.append(v)
    return tuple(out)


def positive_variables(*trees: Expr) -> set[str]:
    """Variables that appear under log, sqrt, logdet or a fractional power."""
    out: set[str] = set()
    for tree in trees:
        for n in tree.walk():
            under = (isinstance(n, Call) and n.fn.key in _POSITIVE_ARGS) or (
                isinstance(n, Power) and getattr(n.exponent, "value", 1).denominator != 1
            )
            if under:
                out.update(v.name for v in n.walk() if isinstance(v, Var))
    return out


def _concrete(fn: Any, args: tuple[Any, ...]) -> Any:
    """A concrete stand-in for an abstract function, for evaluation at points."""
    k = sum(ord(ch) for ch in str(fn.func)) % 5 + 1
    total = sum(sp.sin(a * k / 3) + a**2 / 2 for a in args)
    total += sum(args[i] * args[i + 1] / 3 for i in range(len(args) - 1))
    return total


def _concretise(e: Any) -> Any:
    if not e.has(AppliedUndef):
        return e
    return e.replace(lambda x: isinstance(x, AppliedUndef), lambda x: _concrete(x, x.args)).doit()


def check_derivative(
    expr: Expr, wrt: Var, claimed: Expr, *, timeout: float = 10.0, points: int = 3, seed: int = 1,
    name: str = "the claim",
) -> CheckResult:
    """Compare ``claimed`` — the gradient (shape of wrt) for a scalar ``expr``, otherwise
    the Jacobian DF — with SymPy's derivative of ``expr``, entry by entry.

    The check runs in a child process that is stopped at ``timeout`` seconds, so that no
    SymPy computation can outlive its budget (where the platform cannot fork, it runs
    here, with the budget checked between entries)."""
    if "fork" not in multiprocessing.get_all_start_methods():  # pragma: no cover - not Linux/macOS
        return _check(expr, wrt, claimed, timeout, points, seed, name)
    start = time.perf_counter()
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_child, args=(send, expr, wrt, claimed, timeout, points, seed, name), daemon=True)
    child.start()
    send.close()
    try:
        if receive.poll(timeout + 0.5):
            result = receive.recv()
        else:
            result = _timeout(instantiate_sizes(expr, claimed), time.perf_counter() - start,
                              "SymPy was still computing")
    except EOFError:  # the child died
        result = CheckResult(None, "error", instantiate_sizes(expr, claimed), time.perf_counter() - start,
                             "the SymPy check stopped unexpectedly")
    finally:
        if child.is_alive():
            child.kill()
        child.join()
        receive.close()
    return result


def _child(send: Any, *args: Any) -> None:
    try:
        result = _check(*args)
        if result.mismatch:
            result = CheckResult(result.ok, result.method, result.sizes, result.seconds, result.detail,
                                 result.entries, {k: str(v) for k, v in result.mismatch.items()})
    except Exception as exc:  # reported, never raised across the process boundary
        result = CheckResult(None, "error", {}, 0.0, f"SymPy failed: {type(exc).__name__}: {exc}")
    send.send(result)
    send.close()


def _check(expr: Expr, wrt: Var, claimed: Expr, timeout: float, points: int, seed: int, name: str) -> CheckResult:
    start = time.perf_counter()
    deadline = start + timeout
    sizes = instantiate_sizes(expr, claimed)

    def elapsed() -> float:
        return time.perf_counter() - start

    env: dict[str, sp.Matrix] = {}
    for tree in (expr, claimed):
        for n in tree.walk():
            if isinstance(n, Var) and n.name not in env:
                env[n.name] = symbol_matrix(n, sizes)
    conv = SympyConverter(sizes, env)
    f = conv.convert(expr)
    c = conv.convert(claimed)
    x = env[wrt.name]
    scalar = expr.is_scalar
    if scalar:
        want = (x.rows, x.cols)
    else:
        want = (f.rows * f.cols, x.rows * x.cols)
    if c.shape != want:
        return CheckResult(False, "shape", sizes, elapsed(),
                           f"{name} is {c.rows}×{c.cols} but should be {want[0]}×{want[1]}")

    # the pairs to compare: (description, claimed entry, entry of F, entry of X)
    pairs: list[tuple[str, Any, Any, Any]] = []
    if scalar:
        for j in range(x.cols):
            for i in range(x.rows):
                if wrt.symmetric and i > j:
                    continue
                claim = c[i, j] if (i == j or not wrt.symmetric) else 2 * c[i, j]
                label = f"entry ({i + 1}, {j + 1})" if not wrt.is_scalar else "the value"
                if wrt.symmetric and i != j:
                    label += f" (∂f/∂{x[i, j]} = 2 × entry ({i + 1}, {j + 1}) of sym(G))"
                pairs.append((label, claim, f[0, 0], x[i, j]))
    else:
        for a, fa in enumerate(vec(f)):
            for b, xb in enumerate(vec(x)):
                pairs.append((f"Jacobian entry ({a + 1}, {b + 1}) = ∂(vec F)_{a + 1}/∂(vec X)_{b + 1}",
                              c[a, b], fa, xb))

    # exact: cancel each difference, when it is small enough for that to be quick
    unproven = []
    large: dict[Any, bool] = {}
    for pair in pairs:
        label, claim, fe, xe = pair
        if time.perf_counter() > deadline:
            return _timeout(sizes, elapsed(), "comparing exactly")
        if fe not in large:
            large[fe] = sp.count_ops(fe) > EXACT_OPS_LIMIT
        if large[fe]:  # e.g. the entries of a symbolic inverse: compare at points instead
            unproven.append(pair)
            continue
        d = (claim - sp.diff(fe, xe)).doit()
        if d == 0:
            continue
        try:
            if sp.count_ops(d) > EXACT_OPS_LIMIT or sp.cancel(d) != 0:
                unproven.append(pair)
        except (sp.PolynomialError, TypeError, ValueError):  # pragma: no cover - sympy corner cases
            unproven.append(pair)
    if not unproven:
        return CheckResult(True, "exact", sizes, elapsed(), entries=len(pairs))

    # at random rational points, exactly, evaluated to 30 digits; abstract functions get
    # concrete formulas, in the expression before SymPy differentiates it
    rng = random.Random(seed)
    positive = positive_variables(expr, claimed)
    symbols = sorted({s for m in env.values() for s in m.free_symbols}, key=str)
    concrete: dict[Any, Any] = {}
    for k in range(points):
        point = {}
        for s in symbols:
            den = rng.randint(2, 7)
            lo = 1 if str(s).split("_")[0] in positive else -2 * den
            num = rng.randint(lo, 2 * den)
            point[s] = sp.Rational(num if num != 0 else 1, den)
        for label, claim, fe, xe in unproven:
            if time.perf_counter() > deadline:
                return _timeout(sizes, elapsed(), f"evaluating at point {k + 1} of {points}")
            if fe not in concrete:
                concrete[fe] = _concretise(fe)
            cv = _value(_concretise(claim).xreplace(point))
            # fix every other entry first: SymPy then differentiates a function of one variable
            others = {k: v for k, v in point.items() if k != xe}
            tv = _value(sp.diff(concrete[fe].xreplace(others), xe).xreplace({xe: point[xe]}))
            if not _equal(cv, tv):
                values = _describe_point(env, point, sizes)
                detail = (f"{label} differs: {name} gives {_short(cv)} but the derivative is {_short(tv)}, "
                          f"at {values}")
                return CheckResult(False, f"at {points} random rational points", sizes, elapsed(), detail,
                                   len(pairs), {"entry": label, "claimed": cv, "true": tv, "point": values})
    return CheckResult(True, f"exact where SymPy simplified, else at {points} random rational points",
                       sizes, elapsed(), entries=len(pairs))


def _value(v: Any) -> Any:
    """Exact where the value is rational (rational functions are), else 30 digits."""
    v = sp.sympify(v)
    return v if v.is_Rational else sp.N(v, 30)


def _equal(a: Any, b: Any) -> bool:
    if a.is_Rational and b.is_Rational:
        return bool(a == b)
    return bool(abs(a - b) <= sp.Float("1e-20", 30) * (1 + abs(b)))


def _timeout(sizes: dict[str, int], seconds: float, stage: str) -> CheckResult:
    return CheckResult(None, "timeout", sizes, seconds, f"the time budget ran out while {stage}")


def _short(v: Any) -> str:
    try:
        r = sp.nsimplify(v, rational=True, tolerance=1e-25)
        if isinstance(r, sp.Rational) and abs(r.q) < 10**6:
            return str(r)
    except (ValueError, TypeError):  # pragma: no cover
        pass
    return str(sp.N(v, 8))


def _describe_point(env: dict[str, sp.Matrix], point: dict, sizes: dict[str, int]) -> str:
    parts = []
    for name, m in env.items():
        vals = m.xreplace(point)
        if vals.shape == (1, 1):
            parts.append(f"{name} = {vals[0, 0]}")
        elif vals.cols == 1:
            parts.append(f"{name} = {list(vals)}")
        else:
            parts.append(f"{name} = {vals.tolist()}")
    return ", ".join(parts)


__all__ = ["CheckResult", "check_derivative", "instantiate_sizes", "positive_variables", "size_of"]
