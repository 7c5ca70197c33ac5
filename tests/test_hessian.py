"""Hessians (issue 11, first part): H = ∂²f/∂vec X ∂(vec X)ᵀ from the second differential,
in Kronecker form, and H[V] as a map.  Each row is compared with second-order central
finite differences of f written in NumPy, H[V] with H vec V, and H with SymPy's second
partial derivatives of f (neither oracle sees matcalc's gradient)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import matcalc
from matcalc.cli import main

from oracle import Oracle, hessian, inv, logdet, matcalc_sizes, norm, sigmoid, softmax, tr

LAYER = Oracle("W: m×n, x: n, b: m, L: function", lambda v: v.L(v.W @ v.x + v.b))
# (f, wrt, H, H[V] or H[v], f in NumPy)
ROWS = [
    ("x' A x", "x", "A + Aᵀ", "(A + Aᵀ) v", Oracle("x: m, A: m×m", lambda v: v.x.T @ v.A @ v.x)),
    ("tr(X' A X)", "X", "Iₙ ⊗ (A + Aᵀ)", "(A + Aᵀ) V", Oracle("X: m×n, A: m×m", lambda v: tr(v.X.T @ v.A @ v.X))),
    ("tr(X X)", "X", "2 K_{m,m}", "2 Vᵀ", Oracle("X: m×m", lambda v: tr(v.X @ v.X))),
    ("logdet(X)", "X", "−(X⁻¹ ⊗ X⁻ᵀ) K_{m,m}", "−X⁻ᵀ Vᵀ X⁻ᵀ", Oracle("X: m×m spd", lambda v: logdet(v.X))),
    ("tr(X' A X B)", "X", "B ⊗ Aᵀ + Bᵀ ⊗ A", "A V B + Aᵀ V Bᵀ",
     Oracle("X: m×n, A: m×m, B: n×n", lambda v: tr(v.X.T @ v.A @ v.X @ v.B))),
    ("sum(log(1 + exp(X w)))", "w", "Xᵀ diag(σ′(X w)) X", "Xᵀ ((X v) ⊙ σ′(X w))",
     Oracle("X: m×n, w: n", lambda v: np.sum(np.log(1 + np.exp(v.X @ v.w))))),
    ("‖A x − b‖²", "x", "2 Aᵀ A", "2 Aᵀ A v", Oracle("A: m×n, x: n, b: m", lambda v: np.sum((v.A @ v.x - v.b) ** 2))),
    ("sum(exp(x))", "x", "diag(exp(x))", "v ⊙ exp(x)", Oracle("x: m", lambda v: np.sum(np.exp(v.x)))),
    ("norm(x)", "x", "I / ‖x‖ − x xᵀ / ‖x‖³", "v / ‖x‖ − (vᵀ x) x / ‖x‖³", Oracle("x: m", lambda v: norm(v.x))),
    ("a^b", "a", "b (b − 1) a^(b − 2)", "b v (b − 1) a^(b − 2)", Oracle("a: scalar positive, b: scalar", lambda v: v.a ** v.b)),
    ("tr(inv(X) A)", "X", None, None, Oracle("X: m×m spd, A: m×m", lambda v: tr(inv(v.X) @ v.A))),
    ("-y' log(softmax(W x))", "x", None, None, Oracle("y: m, W: m×n, x: n", lambda v: -v.y.T @ np.log(softmax(v.W @ v.x)))),
    ("sum(tanh(W x))", "W", None, None, Oracle("W: m×n, x: n", lambda v: np.sum(np.tanh(v.W @ v.x)))),
    # through abstract functions: ∇²L (symmetric, not diagonal) and f″
    ("L(W x + b)", "W", "(x xᵀ) ⊗ ∇²L(W x + b)", "∇²L(W x + b) V x xᵀ", LAYER),
    ("L(W x + b)", "x", "Wᵀ ∇²L(W x + b) W", "Wᵀ ∇²L(W x + b) W v", LAYER),
    ("sum(f(W x))", "W", "(x ⊗ Iₘ) diag(f′′(W x)) (xᵀ ⊗ Iₘ)", "((V x) ⊙ f′′(W x)) xᵀ",
     Oracle("W: m×n, x: n, f: elementwise", lambda v: np.sum(v.f(v.W @ v.x)))),
]
WHERE = {"sum(f(W x))": "f: elementwise"}


@pytest.mark.parametrize("text, wrt, hess, hvp, oracle", ROWS, ids=[f"{r[0]} wrt {r[1]}" for r in ROWS])
def test_a_hessian_is_right(text, wrt, hess, hvp, oracle):
    h = matcalc.hessian(text, wrt, where=WHERE.get(text))
    if hess is not None:
        assert str(h.hessian) == hess and str(h.hvp) == hvp
        # the results read back (∇²L(…) and f′′(…) are notation too)
        where = h.hvp.where()
        assert matcalc.parse(hess, where).tree == h.hessian.tree and matcalc.parse(hvp, where).tree == h.hvp.tree
    p = oracle.point(np.random.default_rng(3))
    dims = matcalc_sizes(h.expression, p)
    np.testing.assert_allclose(h.expression.evaluate(p, dims), oracle.value(p)[0, 0], rtol=1e-9)  # f as written
    got = np.atleast_2d(h.hessian.evaluate(p, dims))
    want = hessian(oracle, p, wrt)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got, got.T, rtol=1e-9, atol=1e-9)  # symmetric
    # H[V] is H vec V, shaped like the variable
    v = np.random.default_rng(4).standard_normal(p[wrt].shape)
    hv = np.atleast_2d(h.hvp.evaluate({**p, h.direction: v}, dims))
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
    """∂²f/∂vec W ∂bᵀ for a softplus layer: D_b vec(∇_W f), by central differences of the
    hand-written gradient ∇_W f = σ(W x + b) xᵀ."""
    h = matcalc.hessian("sum(log(1 + exp(W x + b)))", "W", "b")
    assert str(h.hessian) == "(x ⊗ I) diag(σ′(W x + b))" or h.hessian.tree.shape[0] != h.hessian.tree.shape[1]
    oracle = Oracle("W: m×n, x: n, b: m", lambda v: np.sum(np.log(1 + np.exp(v.W @ v.x + v.b))))
    p = oracle.point(np.random.default_rng(5))
    dims = matcalc_sizes(h.expression, p)
    got = np.atleast_2d(h.hessian.evaluate(p, dims))

    def grad_w(b: np.ndarray) -> np.ndarray:
        return (sigmoid(p.W @ p.x + b) @ p.x.T).ravel(order="F")

    eps = 1e-5
    cols = [(grad_w(p.b + eps * e) - grad_w(p.b - eps * e)) / (2 * eps) for e in np.eye(len(p.b))[:, :, None]]
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
