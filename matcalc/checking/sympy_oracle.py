"""The SymPy oracle: is a claimed gradient or Jacobian right, entry by entry?

Every symbolic size is instantiated with a number at least 3, pairwise distinct (m=3,
n=4, p=5, …; :mod:`.sizes` says why); sizes declared as numbers stay as declared.  Every
variable becomes a matrix of entry symbols (a symmetric one with X_ij = X_ji).  The
derivative of each entry of the expression along each entry of the variable is computed
by :mod:`.jets` — dual numbers over SymPy's exact domains, the function rows' own SymPy
formulas differentiated by SymPy — and the claim is compared with it, entry by entry:

* **exact** (a proof) where the jet over polynomials in the entry symbols, with a symbol
  of its own for each function application, root and reciprocal, shows the claim and the
  derivative equal, within a bound of work (:data:`.domains.MAX_WORK`, counted in terms,
  the same on every machine);
* otherwise **at random rational points**: the jet of the expression at the point, along
  every direction at once, against the claim there — **exact at the points** where every
  value is rational (an identity test: a claim that differs from the derivative differs
  at a random point but on a set of measure zero), else to 30 digits (values computed to
  256 bits; a difference is confirmed at 512 bits before it makes a claim wrong).
  Abstract functions get concrete stand-in formulas there, and their partial derivatives
  SymPy's derivatives of those formulas.

Before that, the sizes and points are chosen where the *expression* is defined: log det(XᵀX)
with X m×n is undefined when m < n, so other assignments of the same distinct sizes to the
size symbols are tried (a bounded number), and other random points; where no point gives
real values (the log of a negative number at every point), complex values are allowed
(SymPy's principal branch).  Where the expression is defined but the *claim* is not (a
singular matrix inverted), the claim is wrong.

Where SymPy says ✓, the claim is compared again at **second sizes**, every symbolic size
one larger (m=4, n=5, …; declared numbers unchanged; the order SymPy's sizes chose is
kept, so m > n stays m > n): an identity true at one size only (the Cayley–Hamilton
adjugate of a 3×3 matrix, ``sum(x .^ 0) / 3`` for 1) must not pass.  That comparison is
cheap and independent of matcalc's answer: NumPy fourth-order central finite differences
of the expression itself at a random point (:func:`.numeric.finite_differences`; abstract
functions get the NumPy stand-ins of :func:`.numeric.numpy_stand_ins`, whose derivatives
are exact).  Where they agree, the verdict stays ✓ and :attr:`CheckResult.second` says so;
where they disagree, SymPy decides at the second sizes (✗ with its counterexample, ✓, or
unchecked when it reaches no verdict) — numerical error never makes a claim wrong.  Where
the expression is undefined at the second sizes, that comparison is skipped, and said.
A Hessian is compared at the second sizes along random directions (one sampling loop
serves both: :func:`_sampling`).

A check has three outcomes (:attr:`CheckResult.status`): ``verified``, ``wrong``, or
``unchecked`` — no verdict: the time budget ran out, SymPy failed, the declared sizes are
too large to instantiate, or the expression is undefined at every size and point tried.
For a symmetric variable S the claim is sym(G): ∂f/∂s_ii = G_ii and ∂f/∂s_ij = 2 G_ij.
"""

from __future__ import annotations

import functools
import multiprocessing
import random
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

import mpmath
import numpy.random  # noqa: F401  (these four: imported here, once, before the check's child is forked,
import sympy as sp
import sympy.polys.domains.old_polynomialring  # noqa: F401  rather than on first use in every child:
import sympy.sets.setexpr  # noqa: F401  NumPy and SymPy import them lazily — DomainMatrix.unify, Mul,
import sympy.tensor.tensor  # noqa: F401  exp — and each import costs a child about 0.1 s)
from sympy.polys.domains import QQ

from ..errors import MatcalcError
from ..limits import uninterrupted, valid_timeout
from ..nodes import Apply, Call, Deriv, Expr, Grad, Hess, Jac, Power, Var
from ..printing.sympy import UndefinedValue, symbol_matrix
from . import domains, jets
from .numeric import MAX_POINT_TRIES, FiniteDifferences, finite_differences
from .result import CheckResult, one_line, sizes_text, timed_out
from .sizes import (
    declared_numbers,
    entries,
    instantiate_sizes,
    larger_sizes,
    positive_variables,
    size_assignments,
    size_of,
    too_large,
    variables_of,
)

#: CPU seconds the symbolic comparison may take (in the check's child process) before it is
#: left to the random points — a guard only: jets.MAX_WORK bounds it first, the same way
#: on every machine
EXACT_SLICE = 2.0


# ------------------------------------------------------------------------------ the check


def check_derivative(
    expr: Expr, wrt: Var, claimed: Expr, *, timeout: float = 10.0, points: int = 3, seed: int = 1,
    name: str = "the claim", order: int = 1, wrt2: Var | None = None, direction: Var | None = None,
) -> CheckResult:
    """Compare ``claimed`` — the gradient (shape of wrt) for a scalar ``expr``, otherwise
    the Jacobian DF — with SymPy's derivative of ``expr``, entry by entry.  ``order=2``:
    ``claimed`` is the Hessian ∂²f/∂vec X ∂(vec X)ᵀ of a scalar ``expr``, compared with
    SymPy's second partial derivatives of ``expr`` itself (never of matcalc's gradient);
    with ``wrt2`` Y, the mixed ∂²f/∂vec X ∂(vec Y)ᵀ.  With ``direction`` V, the claim is the
    Hessian applied to V, H[V] (linear in V): its matrix is SymPy's Jacobian of vec H[V] in vec V.

    The check runs in a child process that is stopped at ``timeout`` seconds, so that no
    SymPy computation can outlive its budget (where the platform cannot fork, it runs
    here, with the budget checked between entries)."""
    try:
        timeout = valid_timeout(timeout)
    except ValueError as exc:
        raise MatcalcError(str(exc)) from None
    sizes = instantiate_sizes(expr, claimed, wrt)
    reason = too_large(expr, wrt, claimed, sizes)
    if reason:
        return CheckResult(None, "too large", sizes, 0.0, reason)
    args = (expr, wrt, claimed, timeout, points, seed, name, order, wrt2, direction)
    if "fork" not in multiprocessing.get_all_start_methods():  # pragma: no cover - not Linux/macOS
        return _run(*args)
    start = time.perf_counter()
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_child, args=(send, *args), daemon=True)
    child.start()
    send.close()
    try:
        if receive.poll(timeout + 0.5):
            result = receive.recv()
        else:
            result = timed_out(sizes, timeout, "SymPy was still computing")
    except EOFError:  # the child died
        result = CheckResult(None, "error", sizes, time.perf_counter() - start,
                             "the SymPy check failed: its process stopped unexpectedly")
    finally:
        with uninterrupted():  # a time limit reached now is raised after the child is gone
            if child.is_alive():
                child.kill()
            child.join()
            receive.close()
    return result


class _SliceOver(BaseException):
    """An exact comparison ran out of its slice (a BaseException: SymPy catches Exception)."""


def _on_slice(signum: int, frame: Any) -> None:
    raise _SliceOver


@contextmanager
def _slice(seconds: float) -> Iterator[None]:
    """Raise _SliceOver after ``seconds`` of CPU time, in the check's child process (where
    _child installed the handler; SIGVTALRM, not the SIGALRM of limits.deadline)."""
    if not hasattr(signal, "SIGVTALRM") or signal.getsignal(signal.SIGVTALRM) is not _on_slice:
        yield  # pragma: no cover - in-process, on a platform without fork
        return
    # and again every 50 ms of CPU time until the slice is left: an exception raised inside
    # a callback (a weak reference's, the garbage collector's) is lost, the next one is not
    signal.setitimer(signal.ITIMER_VIRTUAL, seconds, 0.05)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_VIRTUAL, 0)


def _child(send: Any, *args: Any) -> None:
    signal.signal(signal.SIGVTALRM, _on_slice)
    send.send(_run(*args))  # a mismatch holds strings: it pickles
    send.close()


def _run(expr: Expr, wrt: Var, claimed: Expr, timeout: float, points: int, seed: int, name: str,
         order: int = 1, wrt2: Var | None = None, direction: Var | None = None) -> CheckResult:
    """The check at the first sizes, then (when it says ✓) at the second sizes; an
    exception in SymPy is reported as what it was, never raised."""
    start = time.perf_counter()
    first = _sympy_check(expr, wrt, claimed, timeout, points, seed, name, order=order, wrt2=wrt2, direction=direction)
    if first.ok is not True or not first.sizes:
        return first
    return _second_sizes(first, expr, wrt, claimed, start, start + timeout, points, seed, name, order, wrt2, direction)


def _sympy_check(expr: Expr, wrt: Var, claimed: Expr, timeout: float, points: int, seed: int, name: str,
                 assignments: list[dict[str, int]] | None = None, order: int = 1,
                 wrt2: Var | None = None, direction: Var | None = None) -> CheckResult:
    progress: dict[str, Any] = {"sizes": assignments[0] if assignments else instantiate_sizes(expr, claimed, wrt)}
    start = time.perf_counter()
    try:
        return _check(expr, wrt, claimed, timeout, points, seed, name, progress, assignments, order, wrt2, direction)
    except Exception as exc:  # reported, never raised across the process boundary
        return CheckResult(None, "error", progress["sizes"], time.perf_counter() - start,
                           f"the SymPy check failed ({type(exc).__name__}: {one_line(str(exc))})")


# ------------------------------------------------------------------------------ the second sizes


def _second_sizes(first: CheckResult, expr: Expr, wrt: Var, claimed: Expr, start: float, deadline: float,
                  points: int, seed: int, name: str, order: int = 1, wrt2: Var | None = None,
                  direction: Var | None = None) -> CheckResult:
    """SymPy said ✓ at ``first.sizes``; compare again with every symbolic size one larger
    (an identity true only at one size — Cayley–Hamilton at n=3 — must not pass).  First
    by finite differences of the expression (cheap, and independent of matcalc's answer);
    where they disagree, SymPy decides at the second sizes — numerical error never makes
    a claim wrong."""
    sizes = larger_sizes(first.sizes, declared_numbers(expr, claimed, wrt))
    at = sizes_text(sizes)

    def elapsed() -> float:
        return time.perf_counter() - start

    fd = (finite_differences(expr, wrt, claimed, sizes, seed=seed, deadline=deadline) if order == 1 else
          FiniteDifferences("cannot", "a Hessian is not compared by finite differences"))
    if fd.outcome == "agree":
        return replace(first, second=f"finite differences agree at {at}", seconds=elapsed())
    if fd.outcome == "timeout":
        return timed_out(sizes, elapsed(), f"SymPy agreed at {first.sizes_text()}; comparing by finite differences "
                                          f"at the second sizes")
    # "disagree", or "cannot" (finite differences are impossible here): SymPy at the second sizes
    reason = too_large(expr, wrt, claimed, sizes)
    remaining = deadline - time.perf_counter()
    if reason:
        second = CheckResult(None, "too large", sizes, 0.0, reason)
    elif remaining < 0.05:
        second = timed_out(sizes, elapsed(), "before the SymPy check at the second sizes")
    elif order == 2:  # entry by entry is n⁴ conversions: along random directions instead
        second = _guarded(functools.partial(_projected_check, expr, wrt, claimed, remaining, points, seed + 1, name,
                                            sizes, wrt2, direction), sizes)
    else:
        second = _sympy_check(expr, wrt, claimed, remaining, points, seed + 1, name, [sizes], order, wrt2, direction)
    if second.ok is False:
        return replace(second, seconds=elapsed(),
                       detail=f"{second.detail} (at {first.sizes_text()} {name} agrees with the derivative: "
                              f"it holds at that size only)")
    if second.ok:
        why = "where finite differences disagreed" if fd.outcome == "disagree" else fd.detail if order == 1 else ""
        return replace(first, second=f"SymPy ({second.method}) at {at}" + (f", {why}" if why else ""),
                       seconds=elapsed())
    if fd.outcome != "disagree":  # no comparison at the second sizes: a coincidence is not ruled out
        return CheckResult(None, "second sizes", sizes, elapsed(),
                           f"SymPy verified {name} at {first.sizes_text()} ({first.method}), but at {at} it could "
                           f"not be compared ({fd.detail}; SymPy: {second.detail}), so an identity true at one "
                           "size only is not ruled out", first.entries)
    return CheckResult(None, "disagree", sizes, elapsed(),
                       f"SymPy verified {name} at {first.sizes_text()} ({first.method}), but finite differences at "
                       f"{at} disagree with it ({fd.detail}), and the SymPy check at {at} reached no verdict "
                       f"({second.detail})", first.entries)


def _guarded(run: Callable[[], CheckResult], sizes: dict[str, int]) -> CheckResult:
    start = time.perf_counter()
    try:
        return run()
    except Exception as exc:  # reported, never raised across the process boundary
        return CheckResult(None, "error", sizes, time.perf_counter() - start,
                           f"the SymPy check failed ({type(exc).__name__}: {one_line(str(exc))})")


# ------------------------------------------------------------------------------ what is compared


@dataclass(frozen=True)
class _Pair:
    """One comparison: ``factor`` × entry ``c_index`` of the claim (for a Hessian, of the
    claim along the independent entries, Eₓᵀ H E_y) against the derivative of entry
    ``f_index`` of F along direction ``x`` (and then ``y``, for a Hessian)."""

    label: str
    c_index: tuple[int, int]
    factor: int
    f_index: tuple[int, int]
    x: Any
    y: Any = None


@dataclass(frozen=True)
class _Direction:
    """A direction of a variable: ``key`` (its entry symbol) and E, the matrix it moves the
    variable by (Eᵢⱼ + Eⱼᵢ for an off-diagonal entry of a symmetric matrix)."""

    key: Any
    dok: dict[tuple[int, int], int]


def _directions(var: Var, symbols: sp.Matrix, every_position: bool = False) -> list[_Direction]:
    """The directions of ``var``: one per independent entry (for a symmetric matrix s_ij,
    i ≤ j, column by column), or with ``every_position`` one per position in vec order (a
    symmetric matrix's twin positions then share their direction)."""
    r, c = symbols.shape
    symmetric = var.symmetric and not var.is_scalar
    out = []
    for j in range(c):
        for i in range(r):
            if symmetric and i > j and not every_position:
                continue
            a, b = (min(i, j), max(i, j)) if symmetric else (i, j)
            out.append(_Direction(symbols[i, j], {(a, b): 1, (b, a): 1} if symmetric else {(i, j): 1}))
    return out


class _Comparison:
    """The claim and the derivative, entry by entry, at ``sizes``: which pairs are compared,
    and their values with the variables' entries given by ``env`` (numbers of a point, or
    symbols).  The derivative is the expression's jet along each direction (of order 2 for
    a Hessian: along the directions of X, then of Y)."""

    def __init__(self, expr: Expr, wrt: Var, claimed: Expr, sizes: dict[str, int], order: int,
                 wrt2: Var | None, direction: Var | None, symbols: dict[str, sp.Matrix], name: str):
        self.expr, self.wrt, self.claimed, self.sizes, self.order = expr, wrt, claimed, sizes, order
        self.y_var = wrt2 or wrt
        self.direction, self.symbols, self.name = direction, symbols, name
        x, y = symbols[wrt.name], symbols[self.y_var.name]
        scalar = expr.is_scalar
        self.x_dirs = _directions(wrt, x, every_position=order == 1 and not scalar)
        self.y_dirs = _directions(self.y_var, y) if order == 2 else []
        pairs: list[_Pair] = []
        if order == 2:
            along = wrt.symmetric and not wrt.is_scalar or self.y_var.symmetric and not self.y_var.is_scalar
            for a, dx in enumerate(self.x_dirs):
                for b, dy in enumerate(self.y_dirs):
                    label = (f"Hessian entry ({a + 1}, {b + 1}) = ∂²f/∂(vec {wrt.name})_{a + 1}∂(vec "
                             f"{self.y_var.name})_{b + 1}" if not along
                             else f"∂²f/∂{dx.key}∂{dy.key} = eᵀ H e' (e, e' the directions of {dx.key}, {dy.key})")
                    pairs.append(_Pair(label, (a, b), 1, (0, 0), dx.key, dy.key))
        elif scalar:
            symmetric = wrt.symmetric and not wrt.is_scalar
            for d in self.x_dirs:
                (i, j) = min(d.dok)
                off = symmetric and i != j
                label = f"entry ({i + 1}, {j + 1})" if not wrt.is_scalar else "the value"
                if off:
                    label += f" (∂f/∂{d.key} = 2 × entry ({i + 1}, {j + 1}) of sym(G))"
                pairs.append(_Pair(label, (i, j), 2 if off else 1, (0, 0), d.key))
        else:
            rows = size_of(expr.shape[0], sizes)
            for a in range(rows * size_of(expr.shape[1], sizes)):
                for b, d in enumerate(self.x_dirs):
                    pairs.append(_Pair(f"Jacobian entry ({a + 1}, {b + 1}) = ∂(vec F)_{a + 1}/∂(vec X)_{b + 1}",
                                       (a, b), 1, (a % rows, a // rows), d.key))
        self.pairs = pairs

    # -- the values
    def _jets(self, env: dict[str, jets.Flat]) -> dict[str, jets.Matrix]:
        """The variables as jets: X along its directions (then Y along its own, for a Hessian)."""
        def moved(dirs: list[_Direction], like: jets.Flat) -> jets.Flat:
            return _directions_matrix(dirs, like)

        out: dict[str, jets.Matrix] = {}
        x, y = self.wrt.name, self.y_var.name
        for n, v in env.items():
            if self.order == 1:
                out[n] = jets.Jet(v, moved(self.x_dirs, v) if n == x else None)
            else:
                inner = jets.Jet(v, moved(self.y_dirs, v) if n == y else None)
                out[n] = jets.Jet(inner, jets.Jet(moved(self.x_dirs, v)) if n == x else None)
        return out

    def truths(self, env: dict[str, jets.Flat], pairs: list[_Pair]) -> list[Any]:
        """The derivative of each pair (UndefinedValue where the expression is undefined)."""
        f = jets.Converter(self.sizes, self._jets(env), _numbers_of(env), self.order).convert(self.expr)
        x_index = {d.key: k for k, d in enumerate(self.x_dirs)}
        y_index = {d.key: k for k, d in enumerate(self.y_dirs)}
        out = []
        t = f.tangent
        for p in pairs:
            if t is None:
                out.append(QQ.zero)
            elif self.order == 1:
                a, b = p.f_index
                out.append(t.element(b * f.rows + a, x_index[p.x]))
            else:
                inner = t.tangent
                out.append(inner.element(x_index[p.x], y_index[p.y]) if inner is not None else QQ.zero)
        return out

    def claims(self, env: dict[str, jets.Flat], pairs: list[_Pair]) -> list[Any]:
        """The claim's entry of each pair, times its factor (UndefinedValue where undefined)."""
        numbers = _numbers_of(env)
        if self.direction is None:
            c = jets.Converter(self.sizes, env, numbers, 0).convert(self.claimed)
        else:  # H[V] as its matrix: column b is vec H[E_b], E_b the b-th direction of Y
            v = env[self.direction.name]
            at = dict(env)
            at[self.direction.name] = jets.Jet(v, _directions_matrix(self.y_dirs, v))
            hv = jets.Converter(self.sizes, at, numbers, 1).convert(self.claimed)
            c = hv.tangent if hv.tangent is not None else \
                jets.sparse_constant({}, (hv.rows * hv.cols, len(self.y_dirs)), 0, numbers)
        if self.order == 2:
            c = _along(c, self.x_dirs, self.wrt, self.symbols, "rows")
            if self.direction is None:
                c = _along(c, self.y_dirs, self.y_var, self.symbols, "cols")
        return [c.element(*p.c_index) * p.factor for p in pairs]

    def shape_error(self) -> str | None:
        """Why the claim has the wrong shape at these sizes, or None."""
        r, c = size_of(self.claimed.shape[0], self.sizes), size_of(self.claimed.shape[1], self.sizes)
        x = self.symbols[self.wrt.name]
        y = self.symbols[self.y_var.name]
        if self.order == 2:
            if self.direction is not None:
                want = (x.rows, x.cols)
                if r * c != x.rows * x.cols:
                    return f"{self.name} is {r}×{c} but should be {want[0]}×{want[1]}"
                return None
            want = (x.rows * x.cols, y.rows * y.cols)
        elif self.expr.is_scalar:
            want = (x.rows, x.cols)
        else:
            want = (size_of(self.expr.shape[0], self.sizes) * size_of(self.expr.shape[1], self.sizes), x.rows * x.cols)
        return None if (r, c) == want else f"{self.name} is {r}×{c} but should be {want[0]}×{want[1]}"


def _along(c: jets.Flat, dirs: list[_Direction], var: Var, symbols: dict[str, sp.Matrix], side: str) -> jets.Flat:
    """Eᵀ C (rows) or C E (cols), E with one column vec(Eₖ) per direction: a Hessian along
    the independent entries of a symmetric variable (nothing to do for another)."""
    if not var.symmetric or var.is_scalar:
        return c
    n = symbols[var.name].rows
    dok = {(j * n + i, k): 1 for k, d in enumerate(dirs) for (i, j) in d.dok}
    e = jets.sparse_constant(dok, (n * n, len(dirs)), 0, c.numbers)
    return e.transpose().matmul(c) if side == "rows" else c.matmul(e)


def _directions_matrix(dirs: list[_Direction], like: jets.Flat) -> jets.Flat:
    """The directions as the columns of one matrix, column k vec Eₖ: a variable's tangent."""
    r = like.rows
    dok = {(j * r + i, k): 1 for k, d in enumerate(dirs) for (i, j) in d.dok}
    return jets.sparse_constant(dok, (like.rows * like.cols, len(dirs)), 0, like.numbers)


def _numbers_of(env: dict[str, jets.Flat]) -> domains.Numbers:
    return next(iter(env.values())).numbers



# ------------------------------------------------------------------------------ points


def _symbols(variables: dict[str, Var], sizes: dict[str, int]) -> dict[str, sp.Matrix]:
    return {n: symbol_matrix(v, sizes) for n, v in variables.items()}


def _random_point(symbols: dict[str, sp.Matrix], positive: set[str], rng: random.Random) -> dict[Any, Fraction]:
    """A random rational value for each entry symbol: numerators and denominators small (a
    denominator from 2 to 7), never 0; positive for the variables that must be, and for a
    square one also diagonally dominant (its determinant positive: log det, not log |det|)."""
    point: dict[Any, Fraction] = {}
    for var_name, m in symbols.items():
        for s in sorted(m.free_symbols, key=str):
            den = rng.randint(2, 7)
            lo = 1 if var_name in positive else -2 * den
            num = rng.randint(lo, 2 * den)
            point[s] = Fraction(num if num != 0 else 1, den)
        if var_name in positive and m.rows == m.cols > 1:
            for i in range(m.rows):
                point[m[i, i]] += 2 * m.rows
    return point


def _env_at(symbols: dict[str, sp.Matrix], point: dict[Any, Fraction], numbers: domains.Numbers,
            replace_with: dict[str, sp.Matrix] | None = None) -> dict[str, jets.Flat]:
    """The variables' values at ``point`` (``replace_with``: other values for some)."""
    out = {}
    for n, m in symbols.items():
        m = (replace_with or {}).get(n, m)
        rows = [[point[v] if v in point else Fraction(int(v.p), int(v.q)) for v in row] for row in m.tolist()]
        out[n] = jets.Flat(numbers.matrix([[numbers.constant(v) for v in row] for row in rows], m.shape), numbers)
    return out


def _symbolic_env(symbols: dict[str, sp.Matrix], numbers: domains.Symbolic) -> dict[str, jets.Flat]:
    return {n: jets.Flat(numbers.matrix([[numbers.symbols[v] for v in row] for row in m.tolist()], m.shape), numbers)
            for n, m in symbols.items()}


def _undefined_at(tree: Expr, sizes: dict[str, int], symbols: dict[str, sp.Matrix],
                  point: dict[Any, Fraction], complex_ok: bool = False) -> str | None:
    """Why ``tree`` has no value at ``point`` (no real value, unless ``complex_ok``), or None
    where it has one."""
    numbers = domains.AtPoint(complex_ok=complex_ok)
    try:
        jets.Converter(sizes, _env_at(symbols, point, numbers), numbers, 0).convert(tree)
    except UndefinedValue as exc:
        return str(exc)
    return None


def _describe_point(symbols: dict[str, sp.Matrix], point: dict[Any, Fraction], skip: str | None = None) -> str:
    parts = []
    for name, m in symbols.items():
        if name == skip:
            continue
        vals = [[_fraction_text(point[v]) for v in row] for row in m.tolist()]
        if m.shape == (1, 1):
            parts.append(f"{name} = {vals[0][0]}")
        elif m.cols == 1:
            parts.append(f"{name} = [{', '.join(row[0] for row in vals)}]")
        else:
            parts.append(f"{name} = [{', '.join('[' + ', '.join(row) + ']' for row in vals)}]")
    return ", ".join(parts)


def _matrix_text(m: list[list[Fraction]]) -> str:
    return "[" + ", ".join("[" + ", ".join(_fraction_text(v) for v in row) + "]" for row in m) + "]"


def _fraction_text(v: Fraction) -> str:
    return str(v.numerator) if v.denominator == 1 else f"{v.numerator}/{v.denominator}"


# ------------------------------------------------------------------------------ numbers compared

#: relative tolerance where a value is not rational (computed to domains.BITS bits)
TOLERANCE = mpmath.mpf("1e-30")
#: the digits a value that is not rational is said to be compared to
DIGITS = 30


def _rational(v: Any) -> bool:
    return isinstance(v, type(QQ.one))


def _mp(v: Any) -> Any:
    """An mpmath number, at the working precision (inside ``mpmath.workprec``)."""
    if _rational(v):
        return mpmath.mpf(int(v.numerator)) / int(v.denominator)
    return mpmath.mpc(v) if isinstance(v, mpmath.ctx_mp_python._mpc) else mpmath.mpf(v)


def _equal(a: Any, b: Any) -> bool:
    if _rational(a) and _rational(b):
        return bool(a == b)
    with mpmath.workprec(2 * domains.BITS + 64):
        x, y = _mp(a), _mp(b)
        return bool(abs(x - y) <= TOLERANCE * (1 + abs(y)))


def _texts(*values: Any) -> list[str]:
    """Values printed alike: exact fractions where every one is rational, else decimals
    (12 significant digits)."""
    if all(_rational(v) for v in values):
        return [_fraction_text(Fraction(int(v.numerator), int(v.denominator))) for v in values]
    with mpmath.workprec(2 * domains.BITS + 64):
        return [mpmath.nstr(_mp(v), 12) for v in values]


# ------------------------------------------------------------------------------ one sampling loop


@dataclass
class _Sample:
    """What was compared at one point: the values (claimed, true) of each comparison, and
    where.  ``claim_undefined`` is why the claim has no value there (None: it has one)."""

    where: str
    values: list[tuple[str, Any, Any]]
    exact: bool
    claim_undefined: str | None = None
    #: words before the label in a counterexample (the random directions), and the name of
    #: the true value
    prefix: str = ""
    truth: str = "the derivative"


def _sampling(points: int, deadline: float, start: float, sizes: dict[str, int], name: str,
              sample: Callable[[int], _Sample | None], confirm: Callable[[_Sample], bool],
              method: Callable[[bool], str], entries: int) -> CheckResult:
    """The comparison at ``points`` random points: at each, up to MAX_POINT_TRIES draws for
    one where the expression and its derivative are defined (``sample`` gives None where
    not) and, if one can be found, the claim too (a claim undefined at every draw where the
    expression is defined is wrong).  The first value that differs is the counterexample;
    where it is not rational, ``confirm`` recomputes it at a higher precision first."""
    def elapsed() -> float:
        return time.perf_counter() - start

    exact = True
    for k in range(points):
        found: _Sample | None = None
        for _ in range(MAX_POINT_TRIES):
            if time.perf_counter() > deadline:
                return timed_out(sizes, elapsed(), f"evaluating at point {k + 1} of {points}")
            s = sample(k)
            if s is None:
                continue
            found = s
            if s.claim_undefined is None:
                break
        if found is None:
            return CheckResult(None, "undefined", sizes, elapsed(),
                               f"no random point was found where the expression and its derivative are defined "
                               f"(at {sizes_text(sizes)}, {MAX_POINT_TRIES} points tried)")
        exact = exact and found.exact
        for label, cv, tv in found.values:
            if found.claim_undefined is not None:
                (t_text,) = _texts(tv)
                detail = (f"{name} is undefined at {found.where}, where the expression is defined: its {label} has "
                          f"no finite value: {found.claim_undefined}, and {found.truth} there is {t_text}")
                return CheckResult(False, "undefined", sizes, elapsed(), detail, entries,
                                   {"entry": label, "claimed": "undefined", "true": t_text, "point": found.where})
            if not _equal(cv, tv) and (_rational(cv) and _rational(tv) or confirm(found)):
                c_text, t_text = _texts(cv, tv)
                detail = (f"{found.prefix}{label} differs: {name} gives {c_text} but {found.truth} is {t_text}, "
                          f"at {found.where}")
                return CheckResult(False, f"at {points} random rational points", sizes, elapsed(), detail, entries,
                                   {"entry": label, "claimed": c_text, "true": t_text, "point": found.where})
    return CheckResult(True, method(exact), sizes, elapsed(), entries=entries)


def _points_words(points: int, exact: bool) -> str:
    return f"exact at {points} random rational points" if exact else \
        f"at {points} random rational points, to {DIGITS} digits"


# ------------------------------------------------------------------------------ the check, entry by entry


def _check(expr: Expr, wrt: Var, claimed: Expr, timeout: float, points: int, seed: int, name: str,
           progress: dict[str, Any], assignments: list[dict[str, int]] | None = None, order: int = 1,
           wrt2: Var | None = None, direction: Var | None = None) -> CheckResult:
    start = time.perf_counter()
    deadline = start + timeout
    rng = random.Random(seed)
    positive = positive_variables(expr, claimed)
    variables = variables_of(expr, claimed, wrt, *((wrt2,) if wrt2 is not None else ()))

    def elapsed() -> float:
        return time.perf_counter() - start

    # sizes, and a first point, where the expression is defined
    tried: list[str] = []
    chosen: dict[str, int] | None = None
    complex_ok = False
    for complex_ok in (False, True):  # real values first; complex ones where no point has them
        for sizes in assignments or size_assignments(expr, claimed, wrt):
            progress["sizes"] = sizes
            symbols = _symbols(variables, sizes)
            for _ in range(MAX_POINT_TRIES):
                if time.perf_counter() > deadline:
                    return timed_out(sizes, elapsed(), "looking for sizes where the expression is defined")
                why = _undefined_at(expr, sizes, symbols, _random_point(symbols, positive, rng), complex_ok)
                if why is None:
                    chosen = sizes
                    break
            if chosen is not None:
                break
            if complex_ok:
                tried.append(f"{sizes_text(sizes)}: {why}")
        if chosen is not None:
            break
    if chosen is None:
        return CheckResult(None, "undefined", progress["sizes"], elapsed(),
                           f"the expression is undefined at every size and random point tried ({'; '.join(tried)})")
    sizes = chosen
    comparison = _Comparison(expr, wrt, claimed, sizes, order, wrt2, direction, symbols, name)
    shape = comparison.shape_error()
    if shape is not None:
        return CheckResult(False, "shape", sizes, elapsed(), shape)
    if order == 2:  # what a Hessian must be, whatever the rest: said before anything else
        probes = [_random_point(symbols, positive, rng) for _ in range(3)]
        bad = (_not_a_linear_map(comparison, probes, positive, rng) if direction is not None
               else _symmetric_convention(comparison, probes))
        if bad is not None:
            return CheckResult(False, bad[0], sizes, elapsed(), bad[1])
    pairs = comparison.pairs

    # exact: the claim and the derivative as polynomials in the entries (and in a symbol
    # for each function application), where that stays small
    unproven = pairs
    try:
        with _slice(EXACT_SLICE):
            numbers = domains.Symbolic(list(dict.fromkeys(s for m in symbols.values() for s in m)),
                                    _atoms_needed(expr, claimed, sizes, order))
            env = _symbolic_env(symbols, numbers)
            try:
                claims = comparison.claims(env, pairs)
            except UndefinedValue as exc:  # undefined for every value of the variables
                return CheckResult(False, "undefined", sizes, elapsed(),
                                   f"{name} is undefined at {sizes_text(sizes)} for every value of the variables, "
                                   f"where the expression is defined: {exc}")
            truths = comparison.truths(env, pairs)
            unproven = [p for p, c, t in zip(pairs, claims, truths, strict=True) if not numbers.vanishes(c - t)]
    except (domains.TooLarge, UndefinedValue, _SliceOver):
        pass
    if not unproven:
        return CheckResult(True, "exact", sizes, elapsed(), entries=len(pairs))

    # at random rational points where the expression and its derivative are defined
    skip = direction.name if direction is not None else None

    def sample_at(point: dict[Any, Fraction], bits: int = domains.BITS) -> _Sample | None:
        numbers = domains.AtPoint(bits, complex_ok)
        env = _env_at(symbols, point, numbers)
        try:
            truths = comparison.truths(env, unproven)
        except UndefinedValue:
            return None
        where = _describe_point(symbols, point, skip)
        try:
            claims = comparison.claims(env, unproven)
        except UndefinedValue as exc:
            return _Sample(where, [(p.label, None, t) for p, t in zip(unproven, truths, strict=True)][:1],
                           numbers.exact, str(exc))
        return _Sample(where, [(p.label, c, t) for p, c, t in zip(unproven, claims, truths, strict=True)],
                       numbers.exact)

    drawn: dict[int, dict[Any, Fraction]] = {}

    def sample(k: int) -> _Sample | None:
        drawn[0] = _random_point(symbols, positive, rng)
        return sample_at(drawn[0])

    def confirm(found: _Sample) -> bool:
        again = sample_at(drawn[0], 2 * domains.BITS)
        return again is not None and any(not _equal(c, t) for _, c, t in again.values if c is not None)

    words = "exact where SymPy simplified, else " if len(unproven) < len(pairs) else ""
    return _sampling(points, deadline, start, sizes, name, sample, confirm,
                     lambda exact: words + _points_words(points, exact), len(pairs))


def _atoms_needed(expr: Expr, claimed: Expr, sizes: dict[str, int], order: int) -> int:
    """Symbols enough for the function applications of the symbolic comparison (an estimate
    from the entries of the nodes that apply functions; more raise domains.TooLarge)."""
    count = 0
    for tree in (expr, claimed):
        for n in tree.walk():
            if isinstance(n, (Call, Apply, Grad, Deriv, Hess, Jac, Power)):
                count += entries(n.shape, sizes) * (order + 2) * 2
    return min(domains.MAX_ATOMS, 8 + count)


# ------------------------------------------------------------------------------ what a Hessian must be


def _not_a_linear_map(comparison: _Comparison, probes: list[dict[Any, Fraction]], positive: set[str],
                      rng: random.Random) -> tuple[str, str] | None:
    """(method, why) where a claimed H[V] is not the Hessian applied to V whatever the rest:
    a term without V (H[0] ≠ 0), a term not linear in V (H[2V] ≠ 2 H[V]), or, for a
    symmetric X, H[V] not symmetric for a symmetric V (the convention H = N H N).  Each is
    shown by a value at a random rational point (a difference there proves it)."""
    assert comparison.direction is not None
    v = comparison.direction.name
    symbols, sizes, claimed, name = comparison.symbols, comparison.sizes, comparison.claimed, comparison.name

    def value(point: dict[Any, Fraction], scale: int) -> jets.Flat | None:
        numbers = domains.AtPoint()
        env = _env_at(symbols, point, numbers)
        env[v] = jets.Flat(env[v].m * QQ(scale), numbers)
        try:
            return jets.Converter(sizes, env, numbers, 0).convert(claimed)
        except UndefinedValue:
            return None

    def differ(a: jets.Flat | None, b: jets.Flat | None, factor: int = 1) -> bool:
        if a is None or b is None:
            return False
        return any(not _equal(x, y * factor) for ra, rb in zip(a.elements(), b.elements(), strict=True)
                   for x, y in zip(ra, rb, strict=True))

    for point in probes:
        once, zero, double = value(point, 1), value(point, 0), value(point, 2)
        if zero is not None and not zero.is_zero():
            return "not linear", f"{name} has a term without the direction: applied to 0 it is not 0"
        if differ(double, once, 2):
            return "not linear", f"{name} is not linear in the direction (a Hessian applied to V is linear in V)"
        wrt = comparison.wrt
        if once is not None and wrt.symmetric and not wrt.is_scalar and once.rows == once.cols:
            for i in range(once.rows):
                for j in range(i + 1, once.cols):
                    if not _equal(once.element(i, j), once.element(j, i)):
                        return "convention", (
                            f"{name} does not follow the symmetric convention: for a symmetric variable the Hessian "
                            f"applied to a symmetric V is symmetric (H = N H N, N = (I + K)/2); entries "
                            f"({i + 1}, {j + 1}) and ({j + 1}, {i + 1}) differ")
    return None


def _symmetric_convention(comparison: _Comparison, probes: list[dict[Any, Fraction]]) -> tuple[str, str] | None:
    """(method, why) where a claimed H ≠ N H N (N = (I + K)/2 on each symmetric side): shown
    by a value at a random rational point (a difference there proves it)."""
    x, y = comparison.wrt, comparison.y_var
    sym_x, sym_y = x.symmetric and not x.is_scalar, y.symmetric and not y.is_scalar
    if not (sym_x or sym_y):
        return None

    def sym_rows(h: jets.Flat) -> jets.Flat:
        n2 = h.rows
        n = int(round(n2**0.5))
        perm = [(i % n) * n + i // n for i in range(n2)]  # K: row (a, b) ↔ row (b, a)
        half = jets.constant([[Fraction(1, 2)]], 0, h.numbers)
        return (h + h.extract(perm, list(range(h.cols)))).scale(half)

    for point in probes:
        numbers = domains.AtPoint()
        try:
            h = jets.Converter(comparison.sizes, _env_at(comparison.symbols, point, numbers), numbers, 0).convert(
                comparison.claimed)
        except UndefinedValue:
            continue
        target = sym_rows(h) if sym_x else h
        if sym_y:
            target = sym_rows(target.transpose()).transpose()
        for i, (row, trow) in enumerate(zip(h.elements(), target.elements(), strict=True)):
            for j, (a, b) in enumerate(zip(row, trow, strict=True)):
                if not _equal(a, b):
                    a_text, b_text = _texts(a, b)
                    return "convention", (
                        f"{comparison.name} does not follow the symmetric convention H = N H N, N = (I + K)/2 (it "
                        f"must map symmetric directions to symmetric matrices): entry ({i + 1}, {j + 1}) is {a_text} "
                        f"where N H N has {b_text}")
    return None


# ------------------------------------------------------------------------------ a Hessian along random directions


def _projected_check(expr: Expr, wrt: Var, claimed: Expr, timeout: float, points: int, seed: int, name: str,
                     sizes: dict[str, int], wrt2: Var | None, direction: Var | None) -> CheckResult:
    """A Hessian at ``sizes`` along random directions: at each random rational point, U and
    W random rational (symmetric for a symmetric variable), ∂²/∂s∂t f(X + s U, Y + t W) at
    s = t = 0 — the jet of f itself — against vec(U)ᵀ H vec(W) from the claim (⟨U, H[W]⟩
    for a claimed H[V]).  A claim that differs from the Hessian differs along random
    directions except on a set of measure zero."""
    start = time.perf_counter()
    deadline = start + timeout
    rng = random.Random(seed)
    y_var = wrt2 or wrt
    variables = variables_of(expr, claimed, wrt, y_var)
    symbols = _symbols(variables, sizes)
    positive = positive_variables(expr, claimed)
    x_name, y_name = wrt.name, y_var.name
    complex_ok = not any(_undefined_at(expr, sizes, symbols, _random_point(symbols, positive, rng)) is None
                         for _ in range(MAX_POINT_TRIES))

    def random_direction(v: Var) -> list[list[Fraction]]:
        r, c = symbols[v.name].shape
        d = [[Fraction(rng.randint(-9, 9), rng.randint(1, 5)) for _ in range(c)] for _ in range(r)]
        if v.symmetric and not v.is_scalar:
            d = [[(d[i][j] + d[j][i]) / 2 for j in range(c)] for i in range(r)]
        return d

    def sample_at(point: dict[Any, Fraction], u: list[list[Fraction]], w: list[list[Fraction]],
                  bits: int = domains.BITS) -> _Sample | None:
        numbers = domains.AtPoint(bits, complex_ok)
        env = _env_at(symbols, point, numbers)
        um, wm = jets.constant(u, 0, numbers), jets.constant(w, 0, numbers)
        moved: dict[str, jets.Matrix] = {}
        for n, v in env.items():
            inner = jets.Jet(v, wm.reshape(wm.rows * wm.cols, 1) if n == y_name else None)
            moved[n] = jets.Jet(inner, jets.Jet(um.reshape(um.rows * um.cols, 1)) if n == x_name else None)
        try:
            f = jets.Converter(sizes, moved, numbers, 2).convert(expr)
        except UndefinedValue:
            return None
        ds = f.tangent
        dst = ds.tangent if ds is not None else None
        true = dst.element(0, 0) if dst is not None else QQ.zero
        where = _describe_point(symbols, point, direction.name if direction is not None else None)
        prefix = f"along the directions U = {_matrix_text(u)}, W = {_matrix_text(w)}, "
        try:
            if direction is not None:
                at = dict(env)
                at[direction.name] = wm
                c = jets.Converter(sizes, at, numbers, 0).convert(claimed)
                claimed_value = um.reshape(um.rows * um.cols, 1).transpose().matmul(c.reshape(c.rows * c.cols, 1))
            else:
                c = jets.Converter(sizes, env, numbers, 0).convert(claimed)
                claimed_value = um.reshape(um.rows * um.cols, 1).transpose().matmul(c).matmul(
                    wm.reshape(wm.rows * wm.cols, 1))
        except UndefinedValue as exc:
            return _Sample(where, [("vec(U)ᵀ H vec(W)", None, true)], numbers.exact, str(exc), prefix, "∂²f/∂s∂t")
        return _Sample(where, [("vec(U)ᵀ H vec(W)", claimed_value.element(0, 0), true)], numbers.exact,
                       prefix=prefix, truth="∂²f/∂s∂t")

    drawn: list[Any] = [None]

    def sample(k: int) -> _Sample | None:
        point = _random_point(symbols, positive, rng)
        u, w = random_direction(wrt), random_direction(y_var)
        drawn[0] = (point, u, w)
        return sample_at(point, u, w)

    def confirm(found: _Sample) -> bool:
        again = sample_at(*drawn[0], 2 * domains.BITS)
        return again is not None and any(not _equal(c, t) for _, c, t in again.values if c is not None)

    def method(exact: bool) -> str:
        return (f"exact, along random directions at {points} random rational points" if exact else
                f"along random directions at {points} random rational points, to {DIGITS} digits")

    return _sampling(points, deadline, start, sizes, name, sample, confirm, method, points)


__all__ = ["check_derivative"]
