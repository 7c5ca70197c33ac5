"""The SymPy oracle: is a claimed gradient or Jacobian right, entry by entry?

Every symbolic size is instantiated with a number at least 3, pairwise distinct (m=3,
n=4, p=5, …; :mod:`.sizes` says why); sizes declared as numbers stay as declared.  Every variable
becomes a matrix of entry symbols (a symmetric one with X_ij = X_ji); abstract functions
become SymPy functions whose partial derivatives are distinct functions
(:mod:`matcalc.printing.sympy`).  The expression is computed entry by entry, each entry is
differentiated by SymPy with respect to each entry of the variable, and the claim is
compared with the result:

* **exactly** where SymPy can cancel every difference to 0 within the time budget;
* otherwise **at random rational points**, evaluated to 30 digits (abstract functions are
  then given concrete formulas, and their derivatives the derivatives of those formulas).

Before that, the sizes and points are chosen where the *expression* is defined: log det(XᵀX)
with X m×n is undefined when m < n, so other assignments of the same distinct sizes to the
size symbols are tried (a bounded number), and other random points.  Where the
expression is defined but the *claim* is not (a singular matrix inverted), the claim is
wrong.

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
from typing import Any

import sympy as sp

from ..errors import MatcalcError
from ..limits import uninterrupted, valid_timeout
from ..nodes import Expr, Var
from ..printing.sympy import Abstract, SympyConverter, UndefinedValue, symbol_matrix, vec
from .numeric import MAX_POINT_TRIES, FiniteDifferences, finite_differences, name_number
from .result import CheckResult, one_line, sizes_text, timed_out
from .sizes import (
    declared_numbers,
    instantiate_sizes,
    larger_sizes,
    positive_variables,
    size_assignments,
    too_large,
    variables_of,
)

#: differences larger than this (in SymPy operations) are compared at points, not cancelled
EXACT_OPS_LIMIT = 300
#: entries of F larger than this are not differentiated symbolically (a symbolic inverse)
DIFF_OPS_LIMIT = 20 * EXACT_OPS_LIMIT
#: CPU seconds one exact comparison may take (in the child process) before it is left
#: to the random points; and the exact comparisons stop at half the time budget
EXACT_SLICE = 0.25


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
    result = _run(*args)
    if result.mismatch:
        result = replace(result, mismatch={k: str(v) for k, v in result.mismatch.items()})
    send.send(result)
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


def _projected_check(expr: Expr, wrt: Var, claimed: Expr, timeout: float, points: int, seed: int, name: str,
                     sizes: dict[str, int], wrt2: Var | None, direction: Var | None) -> CheckResult:
    """A Hessian at ``sizes`` along random directions: at each random rational point, U and
    W random rational (symmetric for a symmetric variable), ∂²/∂s∂t f(X + s U, Y + t W) at
    s = t = 0 — SymPy differentiating f itself — against vec(U)ᵀ H vec(W) from the claim
    (⟨U, H[W]⟩ for a claimed H[V]).  Exact where the values are rational: a claim that
    differs from the Hessian differs along random directions except on a set of measure zero."""
    start = time.perf_counter()
    deadline = start + timeout
    rng = random.Random(seed)
    y_var = wrt2 or wrt
    variables = variables_of(expr, claimed, wrt, y_var)
    env = {n: symbol_matrix(v, sizes) for n, v in variables.items()}
    positive = positive_variables(expr, claimed)
    s_, t_ = sp.Dummy("s", real=True), sp.Dummy("t", real=True)

    def elapsed() -> float:
        return time.perf_counter() - start

    def direction_matrix(v: Var) -> sp.Matrix:
        m = env[v.name]
        d = sp.Matrix(m.rows, m.cols, lambda i, j: sp.Rational(rng.randint(-9, 9), rng.randint(1, 5)))
        return (d + d.T) / 2 if v.symmetric and not v.is_scalar else d

    for k in range(points):
        for _ in range(MAX_POINT_TRIES):
            if time.perf_counter() > deadline:
                return timed_out(sizes, elapsed(), f"comparing along random directions, point {k + 1} of {points}")
            point = _random_point(env, positive, rng)
            if _undefined_at(expr, sizes, env, point) is not None:
                continue
            u, w = direction_matrix(wrt), direction_matrix(y_var)
            at = _at(env, point)
            moved = dict(at)
            moved[wrt.name] = at[wrt.name] + s_ * u
            moved[y_var.name] = moved[y_var.name] + t_ * w
            f = concrete(SympyConverter(sizes, moved).convert(expr)[0, 0])
            true = _value(sp.diff(f, s_, t_).xreplace({s_: 0, t_: 0}))
            if not _finite(true):
                continue
            try:
                if direction is not None:
                    at[direction.name] = w
                    c = SympyConverter(sizes, at).convert(claimed)
                    claimed_value = sum(a * b for a, b in zip(vec(u), vec(c), strict=True))
                else:
                    c = SympyConverter(sizes, at).convert(claimed)
                    claimed_value = (sp.Matrix(vec(u)).T * c * sp.Matrix(vec(w)))[0, 0]
            except UndefinedValue:
                continue
            cv = _value(concrete(claimed_value))
            if not _finite(cv):
                continue
            if not _equal(cv, true):
                where = _describe_point({n: m for n, m in env.items() if direction is None or n != direction.name},
                                        point)
                detail = (f"along the directions U = {u.tolist()}, W = {w.tolist()}, vec(U)ᵀ H vec(W) differs: "
                          f"{name} gives {_short(cv)} but ∂²f/∂s∂t is {_short(true)}, at {where}")
                return CheckResult(False, "along random directions", sizes, elapsed(), detail, 1,
                                   {"entry": "vec(U)ᵀ H vec(W)", "claimed": cv, "true": true, "point": where})
            break
        else:
            return CheckResult(None, "undefined", sizes, elapsed(),
                               f"no random point was found where the expression and the claim are defined "
                               f"(at {sizes_text(sizes)}, {MAX_POINT_TRIES} points tried)")
    return CheckResult(True, f"exact, along random directions at {points} random rational points", sizes, elapsed(),
                       entries=points)


def _random_point(env: dict[str, sp.Matrix], positive: set[str], rng: random.Random) -> dict[Any, Any]:
    point: dict[Any, Any] = {}
    for var_name, m in env.items():
        for s in sorted(m.free_symbols, key=str):
            den = rng.randint(2, 7)
            lo = 1 if var_name in positive else -2 * den
            num = rng.randint(lo, 2 * den)
            point[s] = sp.Rational(num if num != 0 else 1, den)
    return point


def _undefined_at(tree: Expr, sizes: dict[str, int], env: dict[str, sp.Matrix], point: dict[Any, Any]) -> str | None:
    """Why ``tree`` has no finite value at ``point``, or None where it has one."""
    try:
        m = SympyConverter(sizes, {k: v.xreplace(point) for k, v in env.items()}).convert(tree)
    except UndefinedValue as exc:
        return str(exc)
    for v in m:
        if not _finite(_value(concrete(v))):
            return "its value is not finite"
    return None


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
    for sizes in assignments or size_assignments(expr, claimed, wrt):
        progress["sizes"] = sizes
        env = {n: symbol_matrix(v, sizes) for n, v in variables.items()}
        for _ in range(MAX_POINT_TRIES):
            if time.perf_counter() > deadline:
                return timed_out(sizes, elapsed(), "looking for sizes where the expression is defined")
            why = _undefined_at(expr, sizes, env, _random_point(env, positive, rng))
            if why is None:
                chosen = sizes
                break
        if chosen is not None:
            break
        tried.append(f"{sizes_text(sizes)}: {why}")
    if chosen is None:
        return CheckResult(None, "undefined", progress["sizes"], elapsed(),
                           f"the expression is undefined at every size and random point tried ({'; '.join(tried)})")
    sizes = chosen

    conv = SympyConverter(sizes, env)
    f = conv.convert(expr)
    kept = set(env[direction.name].free_symbols) if direction is not None else set()

    def claim_at(values: dict[Any, Any]) -> sp.Matrix:
        """The claim with ``values`` put in (never for H[V]'s V): H[V] becomes its matrix."""
        # (the expression's own converter where nothing is put in: its abstract functions are f's)
        out = (conv if not values else SympyConverter(sizes, _at(env, {k: v for k, v in values.items()
                                                                       if k not in kept}))).convert(claimed)
        if direction is None:
            return out
        dirs, _ = _independent(env[direction.name], direction)
        return sp.Matrix(vec(out)).jacobian(sp.Matrix(dirs))

    if direction is not None:  # H[V] is linear in V, and symmetric for a symmetric X: said before anything else
        bad = _not_a_linear_map(conv.convert(claimed), kept, wrt, [_random_point(env, positive, rng) for _ in range(3)])
        if bad is not None:
            return CheckResult(False, "not linear" if "symmetric" not in bad else "convention", sizes, elapsed(),
                               f"{name} {bad}")
    try:
        c = claim_at({})
    except UndefinedValue as exc:  # undefined for every value of the variables
        return CheckResult(False, "undefined", sizes, elapsed(),
                           f"{name} is undefined at {sizes_text(sizes)} for every value of the variables, where "
                           f"the expression is defined: {exc}")
    x = env[wrt.name]
    scalar = expr.is_scalar
    y = env[wrt2.name] if wrt2 is not None else x
    project: Callable[[sp.Matrix], sp.Matrix] = lambda m: m  # noqa: E731
    along_entries = False  # a symmetric Hessian is compared along the independent entries
    if order == 2:  # the Hessian is the Jacobian of SymPy's own gradient of f (vec X order)
        want = (x.rows * x.cols, y.rows * y.cols)
        if c.shape != want and not (direction is not None and c.rows == want[0]):
            return CheckResult(False, "shape", sizes, elapsed(),
                               f"{name} is {c.rows}×{c.cols} but should be {want[0]}×{want[1]}")
        xs, ex = _independent(x, wrt)
        ys, ey = _independent(y, wrt2 or wrt)
        if direction is not None and (ex is not None or ey is not None):  # H[V]: its columns are V's directions already
            project = functools.partial(_project, ex, None)
            c = project(c)
            along_entries = True
        elif ex is not None or ey is not None:
            outside = _symmetric_convention(c, ex, ey, [_random_point(env, positive, rng) for _ in range(3)])
            if outside is not None:
                return CheckResult(False, "convention", sizes, elapsed(),
                                   f"{name} does not follow the symmetric convention H = N H N, N = (I + K)/2 "
                                   f"(it must map symmetric directions to symmetric matrices): {outside}")
            project = functools.partial(_project, ex, ey)
            c = project(c)
            along_entries = True
        f = sp.Matrix([sp.diff(f[0, 0], xb) for xb in xs])
        scalar = False
        want = c.shape
    elif scalar:
        want = (x.rows, x.cols)
    else:
        want = (f.rows * f.cols, x.rows * x.cols)
    if c.shape != want:
        return CheckResult(False, "shape", sizes, elapsed(),
                           f"{name} is {c.rows}×{c.cols} but should be {want[0]}×{want[1]}")

    # the pairs to compare: a claimed entry (times 2 off the diagonal of a symmetric X)
    # and ∂(entry of F)/∂(entry of X)
    pairs: list[_Pair] = []
    if scalar:
        for j in range(x.cols):
            for i in range(x.rows):
                if wrt.symmetric and i > j:
                    continue
                factor = 1 if (i == j or not wrt.symmetric) else 2
                label = f"entry ({i + 1}, {j + 1})" if not wrt.is_scalar else "the value"
                if wrt.symmetric and i != j:
                    label += f" (∂f/∂{x[i, j]} = 2 × entry ({i + 1}, {j + 1}) of sym(G))"
                pairs.append(_Pair(label, (i, j), factor, (0, 0), x[i, j]))
    elif order == 2:
        for a, xa in enumerate(xs):
            for b, yb in enumerate(ys):
                label = (f"Hessian entry ({a + 1}, {b + 1}) = ∂²f/∂(vec {wrt.name})_{a + 1}∂(vec {(wrt2 or wrt).name})_{b + 1}"
                         if not along_entries else f"∂²f/∂{xa}∂{yb} = eᵀ H e' (e, e' the directions of {xa}, {yb})")
                pairs.append(_Pair(label, (a, b), 1, (a, 0), yb, xa))
    else:
        for a in range(f.rows * f.cols):
            for b, xb in enumerate(vec(x)):
                pairs.append(_Pair(f"Jacobian entry ({a + 1}, {b + 1}) = ∂(vec F)_{a + 1}/∂(vec X)_{b + 1}",
                                   (a, b), 1, (a % f.rows, a // f.rows), xb))

    # exact: cancel each difference, when it is small enough for that to be quick — first
    # with every function application a symbol of its own (fast, and enough almost
    # always), then, where a random point says the difference is 0, as it is
    unproven = []
    large: dict[Any, bool] = {}
    opaque = _Opaque()
    probe = _random_point(env, positive, rng)
    exact_until = start + timeout / 2
    for pair in pairs:
        if time.perf_counter() > deadline:
            return timed_out(sizes, elapsed(), "comparing exactly")
        fe = f[pair.f_index]
        if fe not in large:
            large[fe] = sp.count_ops(opaque(fe)) > DIFF_OPS_LIMIT
        if large[fe]:  # e.g. the entries of a symbolic inverse: compare at points instead
            unproven.append(pair)
            continue
        if time.perf_counter() > exact_until:  # the rest at points
            unproven.append(pair)
            continue
        try:
            with _slice(EXACT_SLICE):
                d = (pair.factor * c[pair.c_index] - sp.diff(fe, pair.x)).doit()
                flat = opaque(d)
                proven = _cancels(flat) or (flat is not d and _zero_at(d, probe) and _cancels(d))
        except _SliceOver:  # SymPy's cancel can take very long: compare at points instead
            proven = False
        if not proven:
            unproven.append(pair)
    if not unproven:
        return CheckResult(True, "exact", sizes, elapsed(), entries=len(pairs))

    # at random rational points where the expression and its derivative are defined,
    # exactly (30 digits where not rational).  The trees are converted again with every
    # entry a number, but the one differentiated by: small expressions, not the symbolic
    # ones.  Abstract functions get concrete formulas before SymPy differentiates.
    method = f"at {points} random rational points"
    def claim_defined(claimed_at: sp.Matrix | UndefinedValue) -> bool:
        return not isinstance(claimed_at, UndefinedValue) and all(
            _finite(_value(p.factor * concrete(claimed_at[p.c_index]))) for p in unproven)

    for k in range(points):
        found: tuple[dict[Any, Any], sp.Matrix | UndefinedValue, list[Any]] | None = None
        for _ in range(MAX_POINT_TRIES):
            if time.perf_counter() > deadline:
                return timed_out(sizes, elapsed(), f"evaluating at point {k + 1} of {points}")
            point = _random_point(env, positive, rng)
            if _undefined_at(expr, sizes, env, point) is not None:
                continue
            true = _derivatives_at(expr, sizes, env, point, unproven)
            if true is None:  # the derivative is not defined here: another point
                continue
            try:
                claimed_at: sp.Matrix | UndefinedValue = project(claim_at(point))
            except UndefinedValue as exc:
                claimed_at = exc
            found = (point, claimed_at, true)
            if claim_defined(claimed_at):
                break
            # the claim is undefined here (a random point can hit a singular matrix): it is
            # wrong only if it is undefined at every point tried where the expression is defined
        if found is None:
            return CheckResult(None, "undefined", sizes, elapsed(),
                               f"no random point was found where the expression and its derivative are defined "
                               f"(at {sizes_text(sizes)}, {MAX_POINT_TRIES} points tried)")
        point, claimed_at, true = found
        where = _describe_point(env, point)
        for pair, tv in zip(unproven, true, strict=True):
            cv = (sp.zoo if isinstance(claimed_at, UndefinedValue)
                  else _value(pair.factor * concrete(claimed_at[pair.c_index])))
            if not _finite(cv):
                why = f": {claimed_at}" if isinstance(claimed_at, UndefinedValue) else ""
                detail = (f"{name} is undefined at {where}, where the expression is defined: its {pair.label} has "
                          f"no finite value{why}, and the derivative there is {_short(tv)}")
                return CheckResult(False, "undefined", sizes, elapsed(), detail, len(pairs),
                                   {"entry": pair.label, "claimed": cv, "true": tv, "point": where})
            if not _equal(cv, tv):
                detail = (f"{pair.label} differs: {name} gives {_short(cv)} but the derivative is {_short(tv)}, "
                          f"at {where}")
                return CheckResult(False, method, sizes, elapsed(), detail, len(pairs),
                                   {"entry": pair.label, "claimed": cv, "true": tv, "point": where})
    return CheckResult(True, f"exact where SymPy simplified, else {method}", sizes, elapsed(), entries=len(pairs))


def _not_a_linear_map(claim: sp.Matrix, kept: set[Any], wrt: Var, points: list[dict[Any, Any]]) -> str | None:
    """Why a claimed H[V] is not the Hessian applied to V whatever the rest, or None: a term
    without V (H[0] ≠ 0), a term not linear in V (H[2V] ≠ 2 H[V]), or, for a symmetric X,
    H[V] not symmetric for a symmetric V (the convention H = N H N).  Each is shown by an
    exact value at a random rational point (a non-zero value proves it); where the claim is
    zero there, nothing is reported."""
    def value(e: Any, point: dict[Any, Any]) -> Any:
        v = _value(concrete(e.xreplace(point)))
        return v if _finite(v) else None

    def differ(a: Any, b: Any) -> bool:
        return a is not None and b is not None and not _equal(sp.sympify(a), sp.sympify(b))

    for point in points:
        at = {k: v for k, v in point.items() if k not in kept}
        zero = {**at, **{s: 0 for s in kept}}
        for entry in claim:
            if differ(value(entry, zero), 0):
                return "has a term without the direction: applied to 0 it is not 0"
        double = {**at, **{s: 2 * point[s] for s in kept}}
        for entry in claim:
            once = value(entry, point)
            if differ(value(entry, double), None if once is None else 2 * once):
                return "is not linear in the direction (a Hessian applied to V is linear in V)"
        if wrt.symmetric and not wrt.is_scalar and claim.rows == claim.cols:
            for i in range(claim.rows):
                for j in range(i + 1, claim.cols):
                    if differ(value(claim[i, j], point), value(claim[j, i], point)):
                        return ("does not follow the symmetric convention: for a symmetric variable the Hessian "
                                "applied to a symmetric V is symmetric (H = N H N, N = (I + K)/2); entries "
                                f"({i + 1}, {j + 1}) and ({j + 1}, {i + 1}) differ")
    return None


def _independent(m: sp.Matrix, var: Var) -> tuple[list[Any], sp.Matrix | None]:
    """The independent entry symbols of ``var`` (in vec order) and, for a symmetric matrix,
    E with the column of s_ab = vec(E_ab + E_ba) (vec E_aa on the diagonal): f restricted
    to symmetric matrices varies along those directions."""
    if not var.symmetric or var.is_scalar:
        return vec(m), None
    n = m.rows
    cols = [(a, b) for b in range(n) for a in range(b + 1)]
    e = sp.zeros(n * n, len(cols))
    for k, (a, b) in enumerate(cols):
        e[b * n + a, k] = 1
        e[a * n + b, k] = 1
    return [m[a, b] for a, b in cols], e


def _project(ex: sp.Matrix | None, ey: sp.Matrix | None, h: sp.Matrix) -> sp.Matrix:
    """Eₓᵀ H E_y: the second partials along the independent entries."""
    if ex is not None:
        h = ex.T * h
    return h * ey if ey is not None else h


def _symmetric_convention(h: sp.Matrix, ex: sp.Matrix | None, ey: sp.Matrix | None,
                          points: list[dict[Any, Any]]) -> str | None:
    """Where H ≠ N H N (N = (I + K)/2 on each symmetric side), or None: shown by an exact
    value at a random rational point (a difference there proves it)."""
    def sym_rows(m: sp.Matrix, n2: int) -> sp.Matrix:
        n = int(round(n2 ** 0.5))
        perm = [(i % n) * n + i // n for i in range(n2)]  # K: row (a, b) ↔ row (b, a)
        return (m + m.extract(perm, list(range(m.cols)))) / 2

    target = h
    if ex is not None:
        target = sym_rows(target, h.rows)
    if ey is not None:
        target = sym_rows(target.T, h.cols).T
    for point in points:
        for i in range(h.rows):
            for j in range(h.cols):
                if h[i, j] == target[i, j]:
                    continue
                a, b = _value(concrete(h[i, j].xreplace(point))), _value(concrete(target[i, j].xreplace(point)))
                if _finite(a) and _finite(b) and not _equal(a, b):
                    return f"entry ({i + 1}, {j + 1}) is {_short(a)} where N H N has {_short(b)}"
    return None


@dataclass(frozen=True)
class _Pair:
    """One comparison: ``factor`` × entry ``c_index`` of the claim against
    ∂(entry ``f_index`` of F)/∂``x``."""

    label: str
    c_index: tuple[int, int]
    factor: int
    f_index: tuple[int, int]
    x: Any
    #: for a Hessian entry, the variable of the first derivative (F is then ∂f/∂``first``)
    first: Any = None


def _at(env: dict[str, sp.Matrix], values: dict[Any, Any]) -> dict[str, sp.Matrix]:
    return {k: v.xreplace(values) for k, v in env.items()}


def _derivatives_at(expr: Expr, sizes: dict[str, int], env: dict[str, sp.Matrix], point: dict[Any, Any],
                    pairs: list[_Pair]) -> list[Any] | None:
    """∂(entry of F)/∂x at ``point`` for each pair (∂²f/∂first∂x for a Hessian entry), or
    None where one is not finite.  F is converted with every entry but the variables
    differentiated by a number, so SymPy differentiates a function of one or two variables."""
    by_x: dict[Any, sp.Matrix] = {}
    out = []
    for pair in pairs:
        key = (pair.x, pair.first)
        if key not in by_x:
            others = {s: v for s, v in point.items() if s not in key}
            by_x[key] = SympyConverter(sizes, _at(env, others)).convert(expr)
        if pair.first is None:
            fe = concrete(by_x[key][pair.f_index])
        else:
            fe = sp.diff(concrete(by_x[key][0, 0]), pair.first)
        tv = _value(sp.diff(fe, pair.x).xreplace({s: point[s] for s in key if s is not None}))
        if not _finite(tv):
            return None
        out.append(tv)
    return out


def _cancels(d: Any) -> bool:
    """d is 0 after ``cancel`` (tried only when d is small enough for that to be quick)."""
    if d == 0:
        return True
    try:
        return sp.count_ops(d) <= EXACT_OPS_LIMIT and sp.cancel(d) == 0
    except (sp.PolynomialError, TypeError, ValueError):  # pragma: no cover - sympy corner cases
        return False


def _zero_at(d: Any, point: dict[Any, Any]) -> bool:
    """d is 0 at ``point`` to 30 digits (a cheap test before a slow cancel)."""
    try:
        v = _value(concrete(d).xreplace(point))
    except (ValueError, TypeError, ZeroDivisionError):  # pragma: no cover
        return False
    return _finite(v) and _equal(v, sp.Integer(0))


class _Opaque:
    """Each application of a function — an abstract function, one of its partial
    derivatives, or exp, log, sin, … — as a symbol of its own, the same symbol for the same
    application.  A difference that cancels then is 0 whatever the functions are (sound:
    it vanishes for independent values of the applications), SymPy does not count the
    arguments' operations once per application, and ``cancel`` works on a rational
    function (fast) instead of expanding exponentials."""

    def __init__(self) -> None:
        self.symbols: dict[Any, sp.Dummy] = {}

    def __call__(self, e: Any) -> Any:
        apps = e.atoms(sp.Function)
        if not apps:
            return e
        for a in apps:
            if a not in self.symbols:
                self.symbols[a] = sp.Dummy(type(a).__name__, real=True)
        return e.xreplace(self.symbols)


def _value(v: Any) -> Any:
    """Exact where the value is rational (rational functions are), else 30 digits."""
    v = sp.sympify(v)
    return v if v.is_Rational else sp.N(v, 30)


def _finite(v: Any) -> bool:
    return bool(v.is_number) and not v.has(sp.zoo, sp.nan, sp.oo, sp.S.NegativeInfinity)


def _equal(a: Any, b: Any) -> bool:
    if a.is_Rational and b.is_Rational:
        return bool(a == b)
    return bool(abs(a - b) <= sp.Float("1e-20", 30) * (1 + abs(b)))


def _short(v: Any) -> str:
    try:
        r = sp.nsimplify(v, rational=True, tolerance=1e-25)
        if isinstance(r, sp.Rational) and abs(r.q) < 10**6:
            return str(r)
    except (ValueError, TypeError):  # pragma: no cover
        pass
    return str(sp.N(v, 8))


def _describe_point(env: dict[str, sp.Matrix], point: dict) -> str:
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

# ------------------------------------------------------------------------------ SymPy stand-ins


def _formula(name: str, args: tuple[Any, ...]) -> Any:
    """The concrete stand-in for the abstract function ``name``: smooth, not polynomial,
    coupling neighbouring arguments, and different for different names."""
    k = sp.Rational(name_number(name), 3)
    total = sum(sp.sin(a * k) + a**2 / 2 for a in args)
    return total + sum(args[i] * args[i + 1] / 3 for i in range(len(args) - 1))


def concrete(e: Any) -> Any:
    """``e`` with every abstract function replaced by its concrete formula, and every
    partial derivative ∂_index L by the same derivative of L's formula — so the values are
    consistent with SymPy differentiating L's formula."""
    if not e.has(Abstract):
        return e
    memo: dict[tuple[str, int, tuple[int, ...]], tuple[tuple[Any, ...], Any]] = {}

    def value(f: Abstract) -> Any:
        key = (f.family.name, len(f.args), f.index)
        if key not in memo:
            xi = sp.symbols(f"xi_1:{len(f.args) + 1}", real=True)
            formula = _formula(f.family.name, xi)
            memo[key] = (xi, sp.diff(formula, *[xi[i] for i in f.index]) if f.index else formula)
        xi, formula = memo[key]
        return formula.xreplace(dict(zip(xi, f.args, strict=True)))

    return e.replace(lambda x: isinstance(x, Abstract), value)


__all__ = ["check_derivative", "concrete"]
