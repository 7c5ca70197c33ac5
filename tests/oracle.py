"""Independent numerical oracle: central finite differences of the original expression.

The helpers are matcalc's checking package's (one implementation, :mod:`matcalc.checking`):
every symbolic size is instantiated with a different number, 3 and up
(:func:`~matcalc.checking.sizes.instantiate_sizes`, so that a transposed or mis-shaped
answer cannot pass by accident), every variable with a random array
(:func:`~matcalc.checking.numeric.numpy_point`), abstract functions with NumPy stand-ins
whose derivatives are exact (:func:`~matcalc.checking.numeric.numpy_functions`), and the
derivative is compared with fourth-order central differences
(:func:`~matcalc.checking.numeric.difference_quotient`).  What is the tests' own: the
``domain`` a table row gives its variables (``spd``, ``positive``, ``probability``,
``invertible``), and the comparison of every result matcalc prints.
"""

from __future__ import annotations

import numpy as np

import matcalc
from matcalc.checking.numeric import FD_STEP, difference_quotient, numpy_functions, numpy_point
from matcalc.checking.sizes import instantiate_sizes, size_of, variables_of
from matcalc.evaluate import evaluate


def dims_of(e: matcalc.Expression) -> dict[str, int]:
    """The checker's sizes for ``e``: pairwise distinct, 3 and up."""
    return instantiate_sizes(e.tree)


def random_values(e: matcalc.Expression, rng: np.random.Generator, domain: dict[str, str] | None = None,
                  dims: dict[str, int] | None = None) -> dict:
    """A random point for ``e`` (the checker's), with the row's ``domain``: ``spd``
    (symmetric positive definite), ``positive``, ``probability`` (a probability vector,
    as a label y) or ``invertible`` (well conditioned); and the stand-ins of its abstract
    functions."""
    domain = domain or {}
    dims = dims or dims_of(e)
    positive = {name for name, kind in domain.items() if kind == "positive"}
    values = numpy_point(variables_of(e.tree).values(), dims, positive, rng)
    for name, kind in domain.items():
        if name not in values:
            continue
        r, c = values[name].shape
        if kind == "spd":
            a = rng.normal(size=(r, r))
            values[name] = a @ a.T + r * np.eye(r)
        elif kind == "probability":
            v = rng.uniform(0.1, 1.0, size=(r, c))
            values[name] = v / v.sum()
        elif kind == "invertible":
            values[name] = values[name] + 3 * np.eye(r)
    return {**values, **numpy_functions(dims, e.tree)}


def numeric_jacobian(e: matcalc.Expression, wrt: str, values: dict, dims: dict) -> np.ndarray:
    """J[:, k] = ∂ vec F / ∂ (vec X)ₖ by fourth-order central differences along Eₖ, the
    k-th entry of vec X."""
    x0 = np.array(values[wrt], dtype=float)

    def f(x: np.ndarray) -> np.ndarray:
        return np.atleast_2d(e.evaluate({**values, wrt: x}, dims=dims)).reshape(-1, order="F")

    cols = []
    for k in range(x0.size):
        e_k = np.zeros(x0.size)
        e_k[k] = 1.0
        step = e_k.reshape(x0.shape, order="F")
        cols.append(difference_quotient(f, x0, step, FD_STEP * (1 + abs(x0.reshape(-1, order="F")[k])))[0])
    return np.stack(cols, axis=1)


def check_numerically(expr: str, wrt: str, where: str | None = None, domain: dict | None = None,
                      layout: str = "denominator", seed: int = 0, rtol: float = 1e-5) -> matcalc.Derivative:
    """Differentiate with matcalc and compare with central finite differences."""
    r = matcalc.diff(expr, wrt, where, layout=layout)
    e = r.expression
    dims = dims_of(e)
    values = random_values(e, np.random.default_rng(seed), domain, dims)
    j_num = numeric_jacobian(e, wrt, values, dims)
    j = np.atleast_2d(_ev(r.jacobian.tree, values, dims))
    assert j.shape == j_num.shape, f"Jacobian shape {j.shape}, expected {j_num.shape}"
    x = e.variable(wrt)
    if r.gradient is not None:
        g = np.atleast_2d(_ev(r.gradient.tree, values, dims))
        xr, xc = size_of(x.shape[0], dims), size_of(x.shape[1], dims)
        assert g.shape == (xr, xc), f"gradient shape {g.shape}, expected the shape of {wrt} {(xr, xc)}"
        if x.symmetric:
            # the gradient on symmetric matrices is symmetric, and gives the directional
            # derivative along every symmetric direction E: df = tr(Gᵀ E)
            np.testing.assert_allclose(g, g.T, rtol=1e-9, atol=1e-9)
            g_num = j_num.reshape(xr, xc, order="F")
            sym_num = (g_num + g_num.T) / 2
            np.testing.assert_allclose(g, sym_num, rtol=rtol, atol=1e-6)
        else:
            np.testing.assert_allclose(g, j_num.reshape(xr, xc, order="F"), rtol=rtol, atol=1e-6)
            np.testing.assert_allclose(j, j_num, rtol=rtol, atol=1e-6)
        d = np.atleast_2d(_ev(r.derivative.tree, values, dims))
        np.testing.assert_allclose(d, g if layout == "denominator" else g.T, rtol=1e-9, atol=1e-9)
    else:
        np.testing.assert_allclose(j, j_num, rtol=rtol, atol=1e-6)
        d = np.atleast_2d(_ev(r.derivative.tree, values, dims))
        np.testing.assert_allclose(d, j if layout == "numerator" else j.T, rtol=1e-9, atol=1e-9)
    return r


def _ev(tree, values, dims):
    return evaluate(tree, values, dims)


def assert_results_reparse(r: matcalc.Derivative, seed: int = 5) -> None:
    """Printed results re-parse (with the expression's declarations and shape) to an
    expression of the same shape and value."""
    e = r.expression
    dims = dims_of(e)
    values = random_values(e, np.random.default_rng(seed), None, dims)
    wrt = r.wrt.name
    values["d" + wrt] = np.random.default_rng(seed + 1).normal(size=np.shape(values[wrt]))
    for part in (r.differential, r.gradient, r.jacobian):
        if part is None:
            continue
        for ascii in (False, True):
            again = matcalc.parse(part.text(ascii), e.where(), expect=part.shape)
            assert again.shape == part.shape
            np.testing.assert_allclose(np.atleast_2d(again.evaluate(values, dims=dims)),
                                       np.atleast_2d(part.evaluate(values, dims=dims)), rtol=1e-9, atol=1e-12)
