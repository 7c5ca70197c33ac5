"""Hessians (issue 11, first part): H = ∂²f/∂vec X ∂(vec X)ᵀ from the second differential,
in Kronecker form, and H[V] as a map.  Each row is compared with second-order central
finite differences of f itself (NumPy), H[V] with H vec V, and H with SymPy's second
partial derivatives of f (the oracle never sees matcalc's gradient)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import matcalc
from matcalc.cli import main

from oracle import dims_of, random_values

# (f, wrt, H, H[V] or H[v], domain)
ROWS = [
    ("x' A x", "x", "A + Aᵀ", "(A + Aᵀ) v", None),
    ("tr(X' A X)", "X", "Iₙ ⊗ (A + Aᵀ)", "(A + Aᵀ) V", None),
    ("tr(X X)", "X", "2 K_{m,m}", "2 Vᵀ", None),
    ("logdet(X)", "X", "−(X⁻¹ ⊗ X⁻ᵀ) K_{m,m}", "−X⁻ᵀ Vᵀ X⁻ᵀ", {"X": "spd"}),
    ("tr(X' A X B)", "X", "B ⊗ Aᵀ + Bᵀ ⊗ A", "A V B + Aᵀ V Bᵀ", None),
    ("sum(log(1 + exp(X w)))", "w", "Xᵀ diag(σ′(X w)) X", "Xᵀ ((X v) ⊙ σ′(X w))", None),
    ("‖A x − b‖²", "x", "2 Aᵀ A", "2 Aᵀ A v", None),
    ("sum(exp(x))", "x", "diag(exp(x))", "v ⊙ exp(x)", None),
    ("norm(x)", "x", "I / ‖x‖ − x xᵀ / ‖x‖³", "v / ‖x‖ − (vᵀ x) x / ‖x‖³", None),
    ("a^b", "a", "b (b − 1) a^(b − 2)", "b v (b − 1) a^(b − 2)", {"a": "positive"}),
    ("tr(inv(X) A)", "X", None, None, {"X": "spd"}),
    ("-y' log(softmax(W x))", "x", None, None, None),
    ("sum(tanh(W x))", "W", None, None, None),
    # through abstract functions: ∇²L (symmetric) and f″
    ("L(W x + b)", "W", "(x xᵀ) ⊗ ∇²L(W x + b)", "∇²L(W x + b) V x xᵀ", None),
    ("L(W x + b)", "x", "Wᵀ ∇²L(W x + b) W", "Wᵀ ∇²L(W x + b) W v", None),
    ("sum(f(W x))", "W", "(x ⊗ Iₘ) diag(f′′(W x)) (xᵀ ⊗ Iₘ)", "((V x) ⊙ f′′(W x)) xᵀ", None),
]
WHERE = {"sum(f(W x))": "f: elementwise"}


def _f(e: matcalc.Expression, values: dict, dims: dict) -> float:
    return float(np.asarray(e.evaluate(values, dims)).reshape(()))


def numeric_hessian(e: matcalc.Expression, wrt: str, values: dict, dims: dict, h: float = 1e-4) -> np.ndarray:
    """Second-order central differences of f itself, in vec order."""
    x0 = np.atleast_2d(np.asarray(values[wrt], dtype=float))
    if x0.shape[0] == 1 and np.ndim(values[wrt]) == 1:
        x0 = x0.T
    n = x0.size
    flat = x0.ravel(order="F")

    def at(v: np.ndarray) -> float:
        return _f(e, {**values, wrt: v.reshape(x0.shape, order="F")}, dims)

    out = np.zeros((n, n))
    for a in range(n):
        for b in range(n):
            ea, eb = np.eye(n)[a] * h, np.eye(n)[b] * h
            out[a, b] = (at(flat + ea + eb) - at(flat + ea - eb) - at(flat - ea + eb) + at(flat - ea - eb)) / (4 * h * h)
    return out


@pytest.mark.parametrize("text, wrt, hess, hvp, domain", ROWS, ids=[f"{r[0]} wrt {r[1]}" for r in ROWS])
def test_a_hessian_is_right(text, wrt, hess, hvp, domain):
    h = matcalc.hessian(text, wrt, where=WHERE.get(text))
    if hess is not None:
        assert str(h.hessian) == hess and str(h.hvp) == hvp
        # the results read back (∇²L(…) and f′′(…) are notation too)
        where = h.hvp.where()
        assert matcalc.parse(hess, where).tree == h.hessian.tree and matcalc.parse(hvp, where).tree == h.hvp.tree
    e = h.expression
    dims = dims_of(e)
    values = random_values(e, np.random.default_rng(3), domain, dims)
    got = np.atleast_2d(h.hessian.evaluate(values, dims))
    want = numeric_hessian(e, wrt, values, dims)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got, got.T, rtol=1e-9, atol=1e-9)  # symmetric
    # H[V] is H vec V, shaped like the variable
    x = np.atleast_2d(np.asarray(values[wrt], dtype=float))
    shape = x.T.shape if np.ndim(values[wrt]) == 1 else x.shape
    v = np.random.default_rng(4).standard_normal(shape)
    hv = np.atleast_2d(h.hvp.evaluate({**values, h.direction: v}, dims))
    np.testing.assert_allclose(hv.ravel(order="F"), got @ v.ravel(order="F"), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("text, wrt", [(r[0], r[1]) for r in ROWS[:9] + ROWS[-3:]])
def test_sympy_verifies_the_hessian(text, wrt):
    check = matcalc.hessian(text, wrt, where=WHERE.get(text)).check(timeout=60)
    assert check.ok is True, str(check)


def test_sympy_rejects_a_wrong_hessian():
    from matcalc.checking.sympy_oracle import check_derivative

    e = matcalc.parse("x' A x")
    for claim in ("2 A", "A", "A'"):
        result = check_derivative(e.tree, e.variable("x"), matcalc.parse(claim, e.where()).tree, order=2)
        assert result.ok is False and "Hessian entry" in result.detail, result


def test_the_mixed_derivative_of_a_layer():
    """∂²f/∂vec W ∂bᵀ for a softplus layer: D_b vec(∇_W f), by finite differences."""
    h = matcalc.hessian("sum(log(1 + exp(W x + b)))", "W", "b")
    assert str(h.hessian) == "(x ⊗ I) diag(σ′(W x + b))" or h.hessian.tree.shape[0] != h.hessian.tree.shape[1]
    e = h.expression
    dims = dims_of(e)
    values = random_values(e, np.random.default_rng(5), None, dims)
    got = np.atleast_2d(h.hessian.evaluate(values, dims))
    eps = 1e-5
    g = matcalc.diff(e, "W").gradient
    cols = []
    b = np.asarray(values["b"], dtype=float)
    for k in range(b.size):
        step = np.zeros(b.size)
        step[k] = eps
        up = np.asarray(g.evaluate({**values, "b": b + step.reshape(b.shape)}, dims)).ravel(order="F")
        down = np.asarray(g.evaluate({**values, "b": b - step.reshape(b.shape)}, dims)).ravel(order="F")
        cols.append((up - down) / (2 * eps))
    np.testing.assert_allclose(got, np.column_stack(cols), rtol=1e-5, atol=1e-7)
    assert h.check(timeout=60).ok is True
    from matcalc.checking.sympy_oracle import check_derivative

    e = matcalc.parse("x' A y")
    wrong = check_derivative(e.tree, e.variable("x"), matcalc.parse("A'", e.where()).tree, order=2,
                             wrt2=e.variable("y"))
    assert wrong.ok is False


def test_what_a_hessian_refuses():
    with pytest.raises(matcalc.DiffError, match="scalar expression"):
        matcalc.hessian("A x", "x")
    with pytest.raises(matcalc.DiffError, match="4th-order tensor"):
        matcalc.hessian("L(X)", "X")  # the Hessian of L at a matrix argument


def test_the_command_line(capsys):
    assert main(["hessian", "tr(X' A X B)", "X"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("H = B ⊗ Aᵀ + Bᵀ ⊗ A    [m·n×m·n: ∂²f/∂vec X ∂(vec X)ᵀ, symmetric]")
    assert "H[V] = A V B + Aᵀ V Bᵀ" in out and "✓ checked with SymPy" in out
    assert main(["hessian", "x' A x", "x", "--format", "json", "--no-check", "--steps"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["kind"] == "hessian" and data["hessian"]["text"] == "A + Aᵀ" and data["hvp"]["direction"] == "v"
    assert [s["lhs"] for s in data["steps"]] == ["df", "d²f", "dG", "vec dG", "H", "H[v]"]
    assert main(["hessian", "A x", "x"]) == 2
    assert "scalar expression" in capsys.readouterr().err


def test_derivatives_of_abstract_derivatives():
    """diff of an expression with ∇L or f′ in it works (it was refused): ∇²L and f″."""
    r = matcalc.diff("sum(∇L(x))", "x")
    assert str(r.gradient) == "∇²L(x) 𝟏" and r.check().ok
    r = matcalc.diff("sum(f'(x))", "x", "f: elementwise")
    assert str(r.gradient) == "f′′(x)" and r.check().ok
    assert str(matcalc.parse("σ″(x)")) == "σ′(x) ⊙ (1 − 2 σ(x))"
    with pytest.raises(matcalc.ParseError, match="third derivative"):
        matcalc.parse("f" + "'" * 3 + "(x)", "f: elementwise")
    with pytest.raises(matcalc.ParseError, match="second derivative"):
        matcalc.parse("x''(y)")
    with pytest.raises(matcalc.DiffError, match="not three times"):
        matcalc.diff("sum(f''(x))", "x", "f: elementwise")
