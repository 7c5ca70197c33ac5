"""The SymPy oracle: is a claimed gradient or Jacobian right, entry by entry?

Every symbolic size is instantiated with a number **at least 3**, pairwise distinct
(m=3, n=4, p=5, …): distinct, so that a transposed or mis-shaped answer cannot pass by
accident; at least 3, so that an identity true only for 2×2 matrices cannot pass either
(Cayley–Hamilton makes adj(X) = tr(X) I − X at n=2, and so ``tr(X) I − Xᵀ`` "is" the
gradient of det X there).  Sizes declared as numbers stay as declared.  Every variable
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
of the expression itself at a random point (:func:`finite_differences`; abstract
functions get the NumPy stand-ins of :func:`numpy_stand_ins`, whose derivatives are
exact).  Where they agree, the verdict stays ✓ and :attr:`CheckResult.second` says so;
where they disagree, SymPy decides at the second sizes (✗ with its counterexample, ✓, or
unchecked when it reaches no verdict) — numerical error never makes a claim wrong.  Where
the expression is undefined at the second sizes, that comparison is skipped, and said.

A check has three outcomes (:attr:`CheckResult.status`): ``verified``, ``wrong``, or
``unchecked`` — no verdict: the time budget ran out, SymPy failed, the declared sizes are
too large to instantiate, or the expression is undefined at every size and point tried.
For a symmetric variable S the claim is sym(G): ∂f/∂s_ii = G_ii and ∂f/∂s_ij = 2 G_ij.
"""

from __future__ import annotations

import itertools
import multiprocessing
import random
import signal
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import sympy as sp

from .errors import EvaluationError, MatcalcError
from .evaluate import evaluate
from .limits import MAX_CHECK_ENTRIES, MAX_ENTRIES, uninterrupted, valid_timeout
from .nodes import Apply, Call, Deriv, Expr, Grad, Jac, MatPow, Power, Var
from .printing.sympy import SympyConverter, UndefinedValue, concrete, size_of, symbol_matrix, vec
from .shapes import DimProd

#: differences larger than this (in SymPy operations) are compared at points, not cancelled
EXACT_OPS_LIMIT = 300
#: entries of F larger than this are not differentiated symbolically (a symbolic inverse)
DIFF_OPS_LIMIT = 20 * EXACT_OPS_LIMIT
#: assignments of the sizes to the size symbols tried when the expression is undefined
MAX_ASSIGNMENTS = 6
#: random points tried per assignment, and per comparison point, to find a defined one
MAX_POINT_TRIES = 8
#: CPU seconds one exact comparison may take (in the child process) before it is left
#: to the random points; and the exact comparisons stop at half the time budget
EXACT_SLICE = 0.25
#: entries compared, and entries of any intermediate matrix, in one check
MAX_CHECK_PAIRS = 25 * MAX_CHECK_ENTRIES
#: functions whose argument is kept positive at random points
_POSITIVE_ARGS = {"log", "sqrt", "logdet"}

STATUS = {True: "verified", False: "wrong", None: "unchecked"}


@dataclass(frozen=True)
class CheckResult:
    """What a check found.  ``ok``: True (the claim is right), False (it is not), or
    None (unchecked: no verdict, ``detail`` says why).

    >>> str(CheckResult(None, "timeout", {"m": 3}, 10.0, "the SymPy check ran out of time after 10.0 s"))
    'unchecked: the SymPy check ran out of time after 10.0 s'
    """

    ok: bool | None
    method: str
    sizes: dict[str, int]
    seconds: float
    detail: str = ""
    entries: int = 0
    mismatch: dict[str, Any] | None = field(default=None)
    #: how the claim was compared at the second sizes (every symbolic size one larger):
    #: "finite differences agree at m=4, n=5", or why that was skipped
    second: str = ""

    @property
    def status(self) -> str:
        """``verified``, ``wrong`` or ``unchecked``."""
        return STATUS[self.ok]

    def sizes_text(self) -> str:
        return sizes_text(self.sizes)

    def method_text(self) -> str:
        """The method, with what was done at the second sizes: "exact; finite differences
        agree at m=4"."""
        return f"{self.method}; {self.second}" if self.second else self.method

    def __str__(self) -> str:
        if self.ok:
            entries = f"{self.entries} {'entry' if self.entries == 1 else 'entries'}"
            second = f"; {self.second}" if self.second else ""
            return (f"✓ checked with SymPy at {self.sizes_text()} ({self.method}, {entries}, "
                    f"{self.seconds:.2f} s){second}")
        if self.ok is None:
            return f"unchecked: {self.detail}"
        return f"✗ SymPy check failed at {self.sizes_text()}: {self.detail}"

    def __bool__(self) -> bool:
        return self.ok is True

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: status, ok, method, sizes, seconds, entries, detail."""
        return {"status": self.status, "ok": self.ok, "method": self.method_text(), "sizes": dict(self.sizes),
                "seconds": round(self.seconds, 3), "entries": self.entries, "detail": self.detail}


# ------------------------------------------------------------------------------ sizes


def _size_names(*trees: Expr) -> list[str]:
    """The symbolic sizes: first those of square matrices that a function takes whole
    (a non-linear function of a square matrix — inv, det, logdet, adj — or a power: their
    SymPy entries grow fastest with the size, so they get the smallest sizes), then the
    others, each group in alphabetical order."""
    names: set[str] = set()
    square: set[str] = set()
    for tree in trees:
        for n in tree.walk():
            for d in _dims(n):
                names.update(_symbols(d))
            if (isinstance(n, Call) and not (n.fn.elementwise or n.fn.linear)) or isinstance(n, MatPow):
                for a in n.children:
                    if a.shape[0] == a.shape[1]:
                        square.update(_symbols(a.shape[0]))
    return sorted(names & square) + sorted(names - square)


def _symbols(d: Any) -> list[str]:
    return [s for s in (d.syms if isinstance(d, DimProd) else (d,)) if isinstance(s, str)]


def _values(count: int, avoid: set[int] = frozenset()) -> tuple[int, ...]:
    """``count`` distinct sizes, 3 and up (no coincidence of 2×2 matrices can pass), none equal to a size declared as a number (with
    X: 3×n, n = 3 would make X square)."""
    return tuple(itertools.islice((v for v in itertools.count(3) if v not in avoid), count))


def _declared_numbers(*trees: Expr) -> set[int]:
    return {d for tree in trees for n in tree.walk() for d in _dims(n) if isinstance(d, int) and d > 1}


def _larger(sizes: dict[str, int], avoid: set[int]) -> dict[str, int]:
    """Every size larger by the same step (keeping their order: m ≥ n stays), the smallest
    step that meets no size declared as a number."""
    step = next(k for k in itertools.count(1) if not {v + k for v in sizes.values()} & avoid)
    return {k: v + step for k, v in sizes.items()}


def instantiate_sizes(*trees: Expr) -> dict[str, int]:
    """Every symbolic size gets a different number, 3 and up: the sizes of inverted (and
    other wholly used) square matrices first, then in alphabetical order.

    >>> from matcalc import parse
    >>> instantiate_sizes(parse("tr(A X B)", "X: n×p").tree)
    {'m': 3, 'n': 4, 'p': 5}
    """
    names = _size_names(*trees)
    return dict(sorted(zip(names, _values(len(names), _declared_numbers(*trees)), strict=True)))


def size_assignments(*trees: Expr) -> Iterator[dict[str, int]]:
    """The alphabetical assignment, then the reversed one (every pair of sizes in the
    other order), then other permutations of the same values: at most MAX_ASSIGNMENTS."""
    names = _size_names(*trees)
    values = _values(len(names), _declared_numbers(*trees))
    seen: set[tuple[int, ...]] = set()
    candidates = itertools.chain([values, values[::-1]], itertools.permutations(values))
    for perm in candidates:
        if perm in seen:
            continue
        seen.add(perm)
        yield dict(sorted(zip(names, perm, strict=True)))
        if len(seen) >= MAX_ASSIGNMENTS:
            return


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


def variables_of(*trees: Expr) -> dict[str, Var]:
    """The variables of the trees, by name, in the order they are met."""
    seen: dict[str, Var] = {}
    for tree in trees:
        for n in tree.walk():
            if isinstance(n, Var):
                seen.setdefault(n.name, n)
    return seen


def _entries(shape: tuple[Any, Any], sizes: dict[str, int]) -> int:
    return size_of(shape[0], sizes) * size_of(shape[1], sizes)


def too_large(expr: Expr, wrt: Var, claimed: Expr, sizes: dict[str, int]) -> str | None:
    """Why the check cannot instantiate these sizes entry by entry, or None: a variable of
    more than MAX_CHECK_ENTRIES entries (a declared 100000×100000 matrix), or more than
    MAX_CHECK_PAIRS entries in an intermediate matrix or in the comparison."""
    for v in variables_of(expr, claimed, wrt).values():
        k = _entries(v.shape, sizes)
        if k > MAX_CHECK_ENTRIES:
            r, c = size_of(v.shape[0], sizes), size_of(v.shape[1], sizes)
            return (f"the declared sizes are too large to check entry by entry ({v.name} is {r}×{c}: {k} entries, "
                    f"at most {MAX_CHECK_ENTRIES} per variable); check at symbolic sizes instead")
    biggest = max(_entries(n.shape, sizes) for tree in (expr, claimed) for n in tree.walk())
    pairs = _entries(wrt.shape, sizes) * (1 if expr.is_scalar else _entries(expr.shape, sizes))
    if max(biggest, pairs) > MAX_CHECK_PAIRS:
        return (f"the declared sizes are too large to check entry by entry (a matrix of {max(biggest, pairs)} "
                f"entries, at most {MAX_CHECK_PAIRS}); check at symbolic sizes instead")
    return None


# ------------------------------------------------------------------------------ the check


def check_derivative(
    expr: Expr, wrt: Var, claimed: Expr, *, timeout: float = 10.0, points: int = 3, seed: int = 1,
    name: str = "the claim",
) -> CheckResult:
    """Compare ``claimed`` — the gradient (shape of wrt) for a scalar ``expr``, otherwise
    the Jacobian DF — with SymPy's derivative of ``expr``, entry by entry.

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
    args = (expr, wrt, claimed, timeout, points, seed, name)
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
            result = _timeout(sizes, timeout, "SymPy was still computing")
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
    signal.setitimer(signal.ITIMER_VIRTUAL, seconds)
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


def _run(expr: Expr, wrt: Var, claimed: Expr, timeout: float, points: int, seed: int, name: str) -> CheckResult:
    """The check at the first sizes, then (when it says ✓) at the second sizes; an
    exception in SymPy is reported as what it was, never raised."""
    start = time.perf_counter()
    first = _sympy_check(expr, wrt, claimed, timeout, points, seed, name)
    if first.ok is not True or not first.sizes:
        return first
    return _second_sizes(first, expr, wrt, claimed, start, start + timeout, points, seed, name)


def _sympy_check(expr: Expr, wrt: Var, claimed: Expr, timeout: float, points: int, seed: int, name: str,
                 assignments: list[dict[str, int]] | None = None) -> CheckResult:
    progress: dict[str, Any] = {"sizes": assignments[0] if assignments else instantiate_sizes(expr, claimed, wrt)}
    start = time.perf_counter()
    try:
        return _check(expr, wrt, claimed, timeout, points, seed, name, progress, assignments)
    except Exception as exc:  # reported, never raised across the process boundary
        return CheckResult(None, "error", progress["sizes"], time.perf_counter() - start,
                           f"the SymPy check failed ({type(exc).__name__}: {_one_line(str(exc))})")


# ------------------------------------------------------------------------------ the second sizes


def _second_sizes(first: CheckResult, expr: Expr, wrt: Var, claimed: Expr, start: float, deadline: float,
                  points: int, seed: int, name: str) -> CheckResult:
    """SymPy said ✓ at ``first.sizes``; compare again with every symbolic size one larger
    (an identity true only at one size — Cayley–Hamilton at n=3 — must not pass).  First
    by finite differences of the expression (cheap, and independent of matcalc's answer);
    where they disagree, SymPy decides at the second sizes — numerical error never makes
    a claim wrong."""
    sizes = _larger(first.sizes, _declared_numbers(expr, claimed, wrt))
    at = sizes_text(sizes)

    def elapsed() -> float:
        return time.perf_counter() - start

    fd = finite_differences(expr, wrt, claimed, sizes, seed=seed, deadline=deadline)
    if fd.outcome == "agree":
        return replace(first, second=f"finite differences agree at {at}", seconds=elapsed())
    if fd.outcome == "timeout":
        return _timeout(sizes, elapsed(), f"SymPy agreed at {first.sizes_text()}; comparing by finite differences "
                                          f"at the second sizes")
    # "disagree", or "cannot" (finite differences are impossible here): SymPy at the second sizes
    reason = too_large(expr, wrt, claimed, sizes)
    remaining = deadline - time.perf_counter()
    if reason:
        second = CheckResult(None, "too large", sizes, 0.0, reason)
    elif remaining < 0.05:
        second = _timeout(sizes, elapsed(), "before the SymPy check at the second sizes")
    else:
        second = _sympy_check(expr, wrt, claimed, remaining, points, seed + 1, name, [sizes])
    if second.ok is False:
        return replace(second, seconds=elapsed(),
                       detail=f"{second.detail} (at {first.sizes_text()} {name} agrees with the derivative: "
                              f"it holds at that size only)")
    if second.ok:
        why = "where finite differences disagreed" if fd.outcome == "disagree" else fd.detail
        return replace(first, second=f"SymPy ({second.method}) at {at}, {why}", seconds=elapsed())
    if fd.outcome != "disagree":  # no comparison at the second sizes: a coincidence is not ruled out
        return CheckResult(None, "second sizes", sizes, elapsed(),
                           f"SymPy verified {name} at {first.sizes_text()} ({first.method}), but at {at} it could "
                           f"not be compared ({fd.detail}; SymPy: {second.detail}), so an identity true at one "
                           "size only is not ruled out", first.entries)
    return CheckResult(None, "disagree", sizes, elapsed(),
                       f"SymPy verified {name} at {first.sizes_text()} ({first.method}), but finite differences at "
                       f"{at} disagree with it ({fd.detail}), and the SymPy check at {at} reached no verdict "
                       f"({second.detail})", first.entries)


@dataclass(frozen=True)
class FiniteDifferences:
    """What finite differences found: ``outcome`` is ``agree``, ``disagree``, ``undefined``
    (the expression has no finite value at the points tried), ``cannot`` (they cannot be
    computed here: too much work, or an evaluation matcalc cannot do) or ``timeout``."""

    outcome: str
    detail: str = ""


#: relative tolerance of the finite-difference comparison (to the largest entry compared)
FD_TOLERANCE = 1e-5
#: the step, relative to 1 + |x|, of the fourth-order central differences
FD_STEP = 1e-3


def finite_differences(expr: Expr, wrt: Var, claimed: Expr, sizes: dict[str, int], *, seed: int = 1,
                       deadline: float | None = None) -> FiniteDifferences:
    """Compare ``claimed`` (the gradient for a scalar ``expr``, else the Jacobian) with
    fourth-order central finite differences of ``expr`` itself at a random point, in
    NumPy, at ``sizes``.  Variables under log, sqrt, logdet are positive (square ones
    diagonally dominant), symmetric ones symmetric; for a symmetric ``wrt`` the directions
    are symmetric (Eᵢⱼ + Eⱼᵢ) and the claim is compared as the SymPy check does (sym(G))."""
    variables = variables_of(expr, claimed, wrt)
    positive = positive_variables(expr, claimed)
    rows, cols = size_of(wrt.shape[0], sizes), size_of(wrt.shape[1], sizes)
    scalar = expr.is_scalar
    # the directions, each with the claim's entries it is compared with
    directions: list[tuple[tuple[int, int], Any, str]] = []
    for j in range(cols):
        for i in range(rows):
            if scalar and wrt.symmetric and i > j:
                continue
            directions.append(((min(i, j), max(i, j)) if wrt.symmetric else (i, j), (i, j),
                               f"entry ({i + 1}, {j + 1})" if scalar else f"column {j * rows + i + 1} of the Jacobian"))
    cost = sum(_entries(n.shape, sizes) for tree in (expr, claimed) for n in tree.walk())
    if 4 * len(directions) * cost > MAX_ENTRIES:
        return FiniteDifferences("cannot", f"too much work for finite differences ({len(directions)} directions "
                                           f"× {cost} entries)")
    try:
        functions = numpy_functions(sizes, expr, claimed)
    except (KeyError, ValueError) as exc:
        return FiniteDifferences("cannot", f"no NumPy stand-in for a function ({exc})")
    rng = np.random.default_rng(seed)
    why = "the expression has no finite value"
    # points at smaller and smaller scales for the variables that need not be positive, so
    # that a domain such as b − A x > 0 (a log barrier) is met near A = 0
    for k in range(3 * MAX_POINT_TRIES):
        values = {**functions, **numpy_point(variables.values(), sizes, positive, rng,
                                             scale=10.0 ** -(k // MAX_POINT_TRIES))}
        try:
            with np.errstate(all="ignore"):
                result = _fd_at(expr, wrt, claimed, sizes, values, directions, scalar, deadline)
        except (ValueError, FloatingPointError, ZeroDivisionError, OverflowError) as exc:  # LinAlgError too
            why = f"the expression is undefined ({_one_line(str(exc), 100) or type(exc).__name__})"
            continue
        except (EvaluationError, TypeError, IndexError) as exc:
            return FiniteDifferences("cannot", f"finite differences could not evaluate it ({_one_line(str(exc), 100)})")
        if result is not None:
            return result
    return FiniteDifferences("undefined", f"{why} at the {3 * MAX_POINT_TRIES} random points tried")


def _fd_at(expr: Expr, wrt: Var, claimed: Expr, sizes: dict[str, int], values: dict[str, Any],
           directions: list[tuple[tuple[int, int], Any, str]], scalar: bool,
           deadline: float | None) -> FiniteDifferences | None:
    """The comparison at one point; None where the expression is not finite there."""

    def f(vals: dict[str, Any]) -> np.ndarray:
        out = np.atleast_2d(np.asarray(evaluate(expr, vals, sizes), dtype=float))
        if not np.all(np.isfinite(out)):
            raise ValueError("not finite")
        return out.reshape(-1, order="F")

    x = values[wrt.name]
    f0 = f(values)
    scale_f = float(np.max(np.abs(f0)))
    estimates = []
    for (i, j), _, _ in directions:
        if deadline is not None and time.perf_counter() > deadline:
            return FiniteDifferences("timeout")
        e = np.zeros_like(x)
        e[i, j] = 1.0
        if wrt.symmetric:
            e[j, i] = 1.0
        h = FD_STEP * (1 + abs(x[i, j]))
        at = [f({**values, wrt.name: x + k * h * e}) for k in (2, 1, -1, -2)]
        scale_f = max(scale_f, *(float(np.max(np.abs(a))) for a in at))
        estimates.append((-at[0] + 8 * at[1] - 8 * at[2] + at[3]) / (12 * h))
    try:
        c = np.atleast_2d(np.asarray(evaluate(claimed, values, sizes), dtype=float))
    except (ValueError, FloatingPointError, ZeroDivisionError, OverflowError) as exc:
        return FiniteDifferences("disagree", f"the claim is undefined where the expression is defined: "
                                            f"{_one_line(str(exc), 100)}")
    if not np.all(np.isfinite(c)):
        return FiniteDifferences("disagree", "the claim has no finite value where the expression is defined")
    want = (x.shape if scalar else (f0.size, x.size))
    if c.shape != want:
        return FiniteDifferences("disagree", f"the claim is {c.shape[0]}×{c.shape[1]}, not {want[0]}×{want[1]}")
    claimed_values = []
    for _, (ci, cj), _ in directions:
        if scalar:
            claimed_values.append(np.array([c[ci, cj] * (2 if wrt.symmetric and ci != cj else 1)]))
        else:
            claimed_values.append(c[:, cj * x.shape[0] + ci])
    scale = max([float(np.max(np.abs(v))) for v in (*estimates, *claimed_values)] + [0.0])
    tolerance = FD_TOLERANCE * scale + 1e-9 * (1 + scale_f)
    for (_, _, label), est, cv in zip(directions, estimates, claimed_values, strict=True):
        worst = int(np.argmax(np.abs(est - cv)))
        if abs(est[worst] - cv[worst]) > tolerance:
            where = f"{label}" + (f", row {worst + 1}" if not scalar else "")
            return FiniteDifferences("disagree", f"{where}: the claim gives {cv[worst]:.8g}, finite differences "
                                                 f"{est[worst]:.8g}")
    return FiniteDifferences("agree")


# ------------------------------------------------------------------------------ NumPy stand-ins


def _name_factor(name: str) -> float:
    """A factor that differs from name to name (the same as SymPy's stand-ins use)."""
    return (sum(ord(ch) for ch in name) % 5 + 1) / 3


def numpy_point(variables: Iterable[Var], sizes: dict[str, int], positive: set[str], rng: np.random.Generator,
                scale: float = 1.0, symmetric: Callable[[Var], bool] = lambda v: v.symmetric) -> dict[str, Any]:
    """A random value for each variable: positive ones (under log, sqrt, logdet) in
    [0.5, 2], square ones also diagonally dominant; the others normal, times ``scale``;
    symmetrised where ``symmetric`` says."""
    out: dict[str, Any] = {}
    for v in variables:
        r, c = size_of(v.shape[0], sizes), size_of(v.shape[1], sizes)
        if v.name in positive:
            a = rng.uniform(0.5, 2.0, (r, c)) + (r * np.eye(r) if r == c else 0)
        else:
            a = scale * rng.normal(size=(r, c))
        out[v.name] = (a + a.T) / 2 if symmetric(v) else a
    return out


def numpy_stand_ins(name: str, kind: str, out: int | None = None) -> dict[str, Any]:
    """Concrete NumPy functions for the abstract function ``name`` and its derivative, under
    the names :func:`matcalc.evaluate.evaluate` looks up (``L`` and ``grad_L``, ``f`` and
    ``f_prime``, ``g`` and ``jac_g``).  Each derivative is the exact derivative of its
    function, so finite differences of L agree with ∇L.

    >>> fs = numpy_stand_ins("f", "elementwise")
    >>> y, h = 0.3, 1e-6
    >>> bool(abs((fs["f"](y + h) - fs["f"](y - h)) / (2 * h) - fs["f_prime"](y)) < 1e-8)
    True
    """
    k = _name_factor(name)
    if kind == "scalar":
        # L(Y) = Σ w ⊙ sin(k Y) + ½ Σ Y², with weights w that differ from entry to entry: ∇L of
        # a symmetric argument is then not symmetric, as it need not be (L(X + Xᵀ))
        def weights(y: Any) -> Any:
            y = np.asarray(y, dtype=float)
            return (1 + np.arange(y.size) % 5 / 4).reshape(y.shape, order="F")

        def scalar_fn(y: Any) -> float:
            y = np.asarray(y, dtype=float)
            return float(np.sum(weights(y) * np.sin(k * y)) + 0.5 * np.sum(y**2))

        def grad(y: Any) -> Any:
            y = np.asarray(y, dtype=float)
            return k * weights(y) * np.cos(k * y) + y

        return {name: scalar_fn, f"grad_{name}": grad}
    if kind == "elementwise":
        return {name: lambda y: np.tanh(k * np.asarray(y, dtype=float)),
                f"{name}_prime": lambda y: k * (1 - np.tanh(k * np.asarray(y, dtype=float)) ** 2)}
    if kind != "vector" or out is None:
        raise ValueError(f"{name} is a {kind} function of no known output size")
    seed = sum(ord(ch) for ch in name)

    def mixing(n: int) -> Any:
        return np.random.default_rng([11, seed, out, n]).normal(size=(out, n))

    def g(y: Any) -> Any:
        y = np.ravel(np.asarray(y, dtype=float))
        return mixing(y.size) @ np.sin(k * y)

    def jac(y: Any) -> Any:
        y = np.ravel(np.asarray(y, dtype=float))
        return mixing(y.size) * (k * np.cos(k * y))[None, :]

    return {name: g, f"jac_{name}": jac}


def numpy_functions(sizes: dict[str, int], *trees: Expr) -> dict[str, Any]:
    """The NumPy stand-ins of every abstract function in ``trees`` (found from the
    applications L(…), ∇L(…), f′(…), ∂g(…) themselves)."""
    out: dict[str, Any] = {}
    for tree in trees:
        for n in tree.walk():
            if isinstance(n, Apply):
                kind, size = n.kind, n.out
            elif isinstance(n, Grad):
                kind, size = "scalar", None
            elif isinstance(n, Deriv):
                kind, size = "elementwise", None
            elif isinstance(n, Jac):
                kind, size = "vector", n.out
            else:
                continue
            if n.name not in out:
                out.update(numpy_stand_ins(n.name, kind, size_of(size, sizes) if size is not None else None))
    return out


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
           progress: dict[str, Any], assignments: list[dict[str, int]] | None = None) -> CheckResult:
    start = time.perf_counter()
    deadline = start + timeout
    rng = random.Random(seed)
    positive = positive_variables(expr, claimed)
    variables = variables_of(expr, claimed, wrt)

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
                return _timeout(sizes, elapsed(), "looking for sizes where the expression is defined")
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
    try:
        c = conv.convert(claimed)
    except UndefinedValue as exc:  # undefined for every value of the variables
        return CheckResult(False, "undefined", sizes, elapsed(),
                           f"{name} is undefined at {sizes_text(sizes)} for every value of the variables, where "
                           f"the expression is defined: {exc}")
    x = env[wrt.name]
    scalar = expr.is_scalar
    if scalar:
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
            return _timeout(sizes, elapsed(), "comparing exactly")
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
                return _timeout(sizes, elapsed(), f"evaluating at point {k + 1} of {points}")
            point = _random_point(env, positive, rng)
            if _undefined_at(expr, sizes, env, point) is not None:
                continue
            true = _derivatives_at(expr, sizes, env, point, unproven)
            if true is None:  # the derivative is not defined here: another point
                continue
            try:
                claimed_at: sp.Matrix | UndefinedValue = SympyConverter(sizes, _at(env, point)).convert(claimed)
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


@dataclass(frozen=True)
class _Pair:
    """One comparison: ``factor`` × entry ``c_index`` of the claim against
    ∂(entry ``f_index`` of F)/∂``x``."""

    label: str
    c_index: tuple[int, int]
    factor: int
    f_index: tuple[int, int]
    x: Any


def _at(env: dict[str, sp.Matrix], values: dict[Any, Any]) -> dict[str, sp.Matrix]:
    return {k: v.xreplace(values) for k, v in env.items()}


def _derivatives_at(expr: Expr, sizes: dict[str, int], env: dict[str, sp.Matrix], point: dict[Any, Any],
                    pairs: list[_Pair]) -> list[Any] | None:
    """∂(entry of F)/∂x at ``point`` for each pair, or None where one is not finite.  F is
    converted with every entry but x a number, so SymPy differentiates a function of one
    variable."""
    by_x: dict[Any, sp.Matrix] = {}
    out = []
    for pair in pairs:
        if pair.x not in by_x:
            others = {s: v for s, v in point.items() if s != pair.x}
            by_x[pair.x] = SympyConverter(sizes, _at(env, others)).convert(expr)
        fe = concrete(by_x[pair.x][pair.f_index])
        tv = _value(sp.diff(fe, pair.x).xreplace({pair.x: point[pair.x]}))
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


def _one_line(message: str, width: int = 200) -> str:
    text = " ".join(message.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def sizes_text(sizes: dict[str, int]) -> str:
    """m=3, n=4 (or "the sizes given" where all were declared as numbers)."""
    return ", ".join(f"{k}={v}" for k, v in sizes.items()) or "the sizes given"


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


def _timeout(sizes: dict[str, int], seconds: float, stage: str) -> CheckResult:
    return CheckResult(None, "timeout", sizes, seconds,
                       f"the SymPy check ran out of time after {seconds:.1f} s ({stage}, at {sizes_text(sizes)})")


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


__all__ = ["CheckResult", "FiniteDifferences", "check_derivative", "finite_differences", "instantiate_sizes",
           "numpy_functions", "numpy_stand_ins", "positive_variables", "size_assignments", "size_of", "too_large"]
