"""Inputs typed as on MatrixCalculus.org (its documentation's examples, and more in its
input language: * for every product, .* ./ .^, ^ with a symbolic exponent, norm1, norm2,
sign, vector(c), matrix(c), eye), each differentiated without declarations, compared with
central finite differences of the input written again in NumPy and checked by the SymPy
oracle, and its textbook answer."""

from __future__ import annotations

import numpy as np
import pytest

import matcalc

from oracle import Oracle, check_numerically, det, inv, logdet, norm, ones, tr

POWER = Oracle("a: scalar positive, b: scalar", lambda v: v.a ** v.b)

# (input as typed there, wrt, matcalc's answer, the input in NumPy)
ROWS = [
    # the documentation's examples
    ("0.5*x'*A*x", "x", "(A + Aᵀ) x / 2", Oracle("x: m, A: m×m", lambda v: 0.5 * v.x.T @ v.A @ v.x)),
    ("A*exp(x)", "x", "A diag(exp(x))", Oracle("A: m×n, x: n", lambda v: v.A @ np.exp(v.x))),
    ("(y.*v)'*x", "x", "v ⊙ y", Oracle("y: m, v: m, x: m", lambda v: (v.y * v.v).T @ v.x)),
    ("sin(x)'*y", "x", "y ⊙ cos(x)", Oracle("x: m, y: m", lambda v: np.sin(v.x).T @ v.y)),
    ("a^b", "a", "b a^(b − 1)", POWER),
    ("a^b", "b", "log(a) a^(b)", POWER),
    ("norm1(A*x-y)", "x", "Aᵀ sign(A x − y)", Oracle("A: m×n, x: n, y: m", lambda v: np.sum(np.abs(v.A @ v.x - v.y)))),
    ("norm2(A*x-y)^2", "x", "2 Aᵀ (A x − y)", Oracle("A: m×n, x: n, y: m", lambda v: norm(v.A @ v.x - v.y) ** 2)),
    ("sum(log(exp(-y.*(X*w)) + vector(1)))", "w", "−Xᵀ (y ⊙ σ(−(y ⊙ (X w))))",
     Oracle("X: m×n, w: n, y: m", lambda v: np.sum(np.log(np.exp(-v.y * (v.X @ v.w)) + 1)))),
    ("tr(A*X'*B*X*C)", "X", "B X C A + Bᵀ X Aᵀ Cᵀ",
     Oracle("A: m×n, X: p×n, B: p×p, C: n×m", lambda v: tr(v.A @ v.X.T @ v.B @ v.X @ v.C))),
    ("log(det(inv(X)))", "X", "−X⁻ᵀ", Oracle("X: m×m spd", lambda v: np.log(det(inv(v.X))))),
    # more of the input language
    ("x.^a", "a", "log(x) ⊙ x.^(a)", Oracle("x: m positive, a: scalar", lambda v: v.x ** v.a)),
    ("sum(x.^a)", "x", "a x.^(a − 1)", Oracle("x: m positive, a: scalar", lambda v: np.sum(v.x ** v.a))),
    ("sum(x.^b)", "b", "log(x)ᵀ x.^(b)", Oracle("x: m positive, b: scalar", lambda v: np.sum(v.x ** v.b))),
    ("x'*vector(3)", "x", "3 𝟏ₘ", Oracle("x: m", lambda v: v.x.T @ (3 * ones(len(v.x))))),
    ("tr(matrix(2)*X)", "X", "2 (𝟏ₙ 𝟏ₘᵀ)", Oracle("X: n×m", lambda v: tr(2 * ones(*v.X.T.shape) @ v.X))),
    ("sum(sign(x).*x)", "x", "sign(x)", Oracle("x: m", lambda v: np.sum(np.sign(v.x) * v.x))),
    ("norm2(X)", "X", "X / ‖X‖", Oracle("X: m×n", lambda v: norm(v.X))),
    ("norm2(X)^2", "X", "2 X", Oracle("X: m×n", lambda v: norm(v.X) ** 2)),
    ("norm1(X)", "X", "sign(X)", Oracle("X: m×n", lambda v: np.sum(np.abs(v.X)))),
    ("x'*eye*x", "x", "2 x", Oracle("x: m", lambda v: v.x.T @ np.eye(len(v.x)) @ v.x)),
    ("a*x'*x", "x", "2 a xᵀ", Oracle("a: m, x: n", lambda v: v.a * (v.x.T @ v.x))),  # a stays a vector, and that is said
    ("c*A*x", "x", "c A", Oracle("c: scalar, A: m×n, x: n", lambda v: v.c * v.A @ v.x)),  # the Jacobian
    ("exp(a)*x'*y", "a", "(xᵀ y) diag(exp(a))", Oracle("a: m, x: n, y: n", lambda v: np.exp(v.a) * (v.x.T @ v.y))),
    ("(A*x-b)'*(A*x-b)", "x", "2 Aᵀ (A x − b)", Oracle("A: m×n, x: n, b: m", lambda v: (v.A @ v.x - v.b).T @ (v.A @ v.x - v.b))),
    ("x'*A*x/(x'*x)", "x", "(A + Aᵀ) x / (xᵀ x) − 2 (xᵀ A x) (xᵀ x)⁻² x",
     Oracle("x: m, A: m×m", lambda v: (v.x.T @ v.A @ v.x) / (v.x.T @ v.x))),
    ("sum(exp(x)./(vector(1)+exp(x)))", "x", "σ(x) − σ(x).^2", Oracle("x: m", lambda v: np.sum(np.exp(v.x) / (1 + np.exp(v.x))))),
    ("tr(inv(X)*A)", "X", "−X⁻ᵀ Aᵀ X⁻ᵀ", Oracle("X: m×m spd, A: m×m", lambda v: tr(inv(v.X) @ v.A))),
    ("det(X)", "X", "det(X) X⁻ᵀ", Oracle("X: m×m spd", lambda v: det(v.X))),
    ("logdet(X)", "X", "X⁻ᵀ", Oracle("X: m×m spd", lambda v: logdet(v.X))),
    ("tanh(W*x)'*y", "W", "(y ⊙ tanh′(W x)) xᵀ", Oracle("W: m×n, x: n, y: m", lambda v: np.tanh(v.W @ v.x).T @ v.y)),
    ("abs(x)'*y", "x", "y ⊙ sign(x)", Oracle("x: m, y: m", lambda v: np.abs(v.x).T @ v.y)),
]


@pytest.mark.parametrize("text, wrt, answer, oracle", ROWS, ids=[f"{r[0]} wrt {r[1]}" for r in ROWS])
def test_an_input_from_matrixcalculus_org(text, wrt, answer, oracle):
    r = check_numerically(text, wrt, None, oracle)  # finite differences of the input's own NumPy
    got = r.gradient if r.gradient is not None else r.jacobian
    assert str(got) == answer
    check = r.check(timeout=60)
    assert check.ok is True, str(check)


def test_the_letter_conventions_meet():
    """a–g are scalars there, vectors here: the expression decides, and what it could not
    decide is said.  A letter before a vector or a matrix is a coefficient (a x, c A x);
    x a keeps x a vector; a letter that can stay a vector (a' x) stays one."""
    for text, scalars in (("a*x", {"a"}), ("x*a", {"a"}), ("c*A*x", {"c"}), ("a*x + b*y", {"a", "b"}),
                          ("y - a*x", {"a"}), ("a^b", {"a", "b"})):
        e = matcalc.parse(text)
        assert {n for n, s in e.shapes.items() if s == "1×1"} == scalars, (text, e.shapes)
        assert all(any(n in note and "scalar" in note for note in e.assumptions) for n in scalars), e.assumptions
    e = matcalc.parse("a'*x")
    assert e.shapes == {"a": "m×1", "x": "m×1"} and not e.assumptions
    e = matcalc.parse("a*x'*x")  # nothing decides: a stays a vector, and that is said
    assert e.shapes["a"] == "m×1" and any("a is read as a column vector" in n for n in e.assumptions)
    e = matcalc.parse("A*x")  # capital letters stay matrices
    assert e.shapes["A"] == "m×n"


def test_vector_and_matrix_take_a_scalar():
    with pytest.raises(matcalc.ShapeError, match="fills a vector with the scalar c"):
        matcalc.parse("vector(x)", "x: 3")
    with pytest.raises(matcalc.ParseError, match="takes one scalar"):
        matcalc.parse("vector(1, 2)")
    e = matcalc.parse("X*vector(1)")
    assert str(e) == "X 𝟏" and e.tree.shape == ("m", 1)
    np.testing.assert_allclose(e.evaluate(X=np.ones((2, 3))), [[3.0], [3.0]])


def test_a_symbolic_power_of_a_matrix_is_an_error():
    with pytest.raises(matcalc.ParseError, match="whole number"):
        matcalc.parse("X^a", "X: n×n")
