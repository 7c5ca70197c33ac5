"""NumPy for the checks: random points, stand-ins for abstract functions, and
fourth-order central finite differences of an expression.

The finite differences compare a claim at the second sizes (:mod:`.sympy_oracle`) and
back the tests' numerical oracle; the random points and stand-ins also serve the diagnosis
of a wrong claim (:mod:`.verdict`).  Every evaluation is :func:`matcalc.evaluate.evaluate`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import EvaluationError
from ..evaluate import evaluate
from ..limits import MAX_ENTRIES
from ..nodes import Apply, Deriv, Expr, Grad, Hess, Jac, Var
from .result import one_line
from .sizes import entries, positive_variables, size_of, sparse_constant, variables_of

#: random points tried per assignment of sizes, and per comparison point, to find a defined one
MAX_POINT_TRIES = 8


# ------------------------------------------------------------------------------ stand-ins and points


def name_number(name: str) -> int:
    """A number from 1 to 5 that differs from name to name: the NumPy stand-ins here and
    the SymPy ones (:func:`.sympy_oracle.concrete`) scale their argument by it, over 3."""
    return sum(ord(ch) for ch in name) % 5 + 1


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
    k = name_number(name) / 3
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

        def hess(y: Any) -> Any:  # ∇²L of a vector y: diagonal
            y = np.asarray(y, dtype=float)
            return np.diag(np.ravel(-k * k * weights(y) * np.sin(k * y) + 1))

        return {name: scalar_fn, f"grad_{name}": grad, f"hess_{name}": hess}
    if kind == "elementwise":
        def second(y: Any) -> Any:
            t = np.tanh(k * np.asarray(y, dtype=float))
            return -2 * k * k * t * (1 - t**2)

        return {name: lambda y: np.tanh(k * np.asarray(y, dtype=float)),
                f"{name}_prime": lambda y: k * (1 - np.tanh(k * np.asarray(y, dtype=float)) ** 2),
                f"{name}_prime2": second}
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
            elif isinstance(n, (Grad, Hess)):
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


# ------------------------------------------------------------------------------ finite differences


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
    cost = sum(size_of(n.shape[0], sizes) if sparse_constant(n) else entries(n.shape, sizes)
               for tree in (expr, claimed) for n in tree.walk())
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
            why = f"the expression is undefined ({one_line(str(exc), 100) or type(exc).__name__})"
            continue
        except (EvaluationError, TypeError, IndexError) as exc:
            return FiniteDifferences("cannot", f"finite differences could not evaluate it ({one_line(str(exc), 100)})")
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
        estimate, largest = difference_quotient(lambda y: f({**values, wrt.name: y}), x, e,
                                                 FD_STEP * (1 + abs(x[i, j])))
        scale_f = max(scale_f, largest)
        estimates.append(estimate)
    try:
        c = np.atleast_2d(np.asarray(evaluate(claimed, values, sizes), dtype=float))
    except (ValueError, FloatingPointError, ZeroDivisionError, OverflowError) as exc:
        return FiniteDifferences("disagree", f"the claim is undefined where the expression is defined: "
                                            f"{one_line(str(exc), 100)}")
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


def difference_quotient(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, e: np.ndarray,
                        h: float) -> tuple[np.ndarray, float]:
    """The derivative of ``f`` at ``x`` in the direction ``e`` by fourth-order central
    differences, (−f(x + 2h e) + 8 f(x + h e) − 8 f(x − h e) + f(x − 2h e)) / 12h, and the
    largest |f| met (the scale of its rounding error).

    >>> d, _ = difference_quotient(lambda y: y ** 3, np.array([2.0]), np.array([1.0]), 1e-3)
    >>> bool(abs(d[0] - 12.0) < 1e-9)
    True
    """
    at = [f(x + k * h * e) for k in (2, 1, -1, -2)]
    largest = max(float(np.max(np.abs(a))) for a in at)
    return (-at[0] + 8 * at[1] - 8 * at[2] + at[3]) / (12 * h), largest
