"""Independent numerical oracle: central finite differences of the original expression.

Every symbolic size is instantiated with a different small number (so that a transposed
or mis-shaped answer cannot pass by accident), every variable with a random array, and
abstract functions with concrete ones whose derivatives are known:

* scalar ``L(Y)``:    L = Σ sin(Y) + ½ Σ Y²,   ∇L = cos(Y) + Y
* elementwise ``f``:  f = tanh,                 f′ = 1 − tanh²
* vector ``g(y)``:    g = M sin(y) (M fixed),   ∂g = M diag(cos y)
"""

from __future__ import annotations

import numpy as np

import matcalc
from matcalc.evaluate import evaluate
from matcalc.nodes import Apply, Identity, Jac, Ones, Var, Zeros
from matcalc.shapes import DimProd

SIZES = (3, 2, 4, 5, 6, 7, 8, 9)


def dims_of(e: matcalc.Expression) -> dict[str, int]:
    syms: list[str] = []
    for n in e.tree.walk():
        dims = ()
        if isinstance(n, (Var, Ones, Zeros)):
            dims = n.dims
        elif isinstance(n, Identity):
            dims = (n.n,)
        elif isinstance(n, (Apply, Jac)) and n.out is not None:
            dims = (n.out,)
        for d in dims:
            for s in d.syms if isinstance(d, DimProd) else (d,):
                if isinstance(s, str) and s not in syms:
                    syms.append(s)
    return {s: SIZES[i] for i, s in enumerate(sorted(syms))}


def _size(d, dims):
    if isinstance(d, int):
        return d
    if isinstance(d, str):
        return dims[d]
    out = d.coeff
    for s in d.syms:
        out *= dims[s]
    return out


def random_values(e: matcalc.Expression, rng: np.random.Generator, domain: dict[str, str] | None = None,
                  dims: dict[str, int] | None = None) -> dict:
    domain = domain or {}
    dims = dims or dims_of(e)
    values: dict = {}
    for n in e.tree.walk():
        if not isinstance(n, Var) or n.name in values:
            continue
        r, c = (_size(n.shape[0], dims), _size(n.shape[1], dims))
        kind = domain.get(n.name, "normal")
        if kind == "spd":
            a = rng.normal(size=(r, r))
            v = a @ a.T + r * np.eye(r)
        elif kind == "positive":
            v = rng.uniform(0.5, 2.0, size=(r, c))
        elif kind == "probability":  # a probability vector, as a label y
            v = rng.uniform(0.1, 1.0, size=(r, c))
            v = v / v.sum()
        else:
            v = rng.normal(size=(r, c))
            if kind == "invertible":
                v = v + 3 * np.eye(r)
        if n.symmetric:
            v = (v + v.T) / 2
        values[n.name] = v
    for name, decl in e.functions.items():
        if decl.kind == "scalar":
            values[name] = lambda y: float(np.sum(np.sin(y)) + 0.5 * np.sum(np.asarray(y) ** 2))
            values[f"grad_{name}"] = lambda y: np.cos(y) + y
        elif decl.kind == "elementwise":
            values[name] = np.tanh
            values[f"{name}_prime"] = lambda y: 1 - np.tanh(y) ** 2
        else:
            out = None
            for n in e.tree.walk():
                if isinstance(n, Apply) and n.name == name:
                    out = _size(n.out, dims)
            m = np.random.default_rng(7).normal(size=(out, 64))
            values[name] = lambda y, m=m: m[:, : len(y)] @ np.sin(y)
            values[f"jac_{name}"] = lambda y, m=m: m[:, : len(y)] * np.cos(y)[None, :]
    return values


def numeric_jacobian(e: matcalc.Expression, wrt: str, values: dict, dims: dict, h: float = 1e-6) -> np.ndarray:
    """J[:, k] = vec(F(X + h Eₖ) − F(X − h Eₖ)) / 2h, with Eₖ the k-th entry of vec X."""
    x0 = np.array(values[wrt], dtype=float)
    cols = []
    for k in range(x0.size):
        e_k = np.zeros(x0.size)
        e_k[k] = h
        step = e_k.reshape(x0.shape, order="F")
        plus = np.atleast_2d(e.evaluate({**values, wrt: x0 + step}, dims=dims))
        minus = np.atleast_2d(e.evaluate({**values, wrt: x0 - step}, dims=dims))
        cols.append(((plus - minus) / (2 * h)).reshape(-1, order="F"))
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
        xr, xc = _size(x.shape[0], dims), _size(x.shape[1], dims)
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
