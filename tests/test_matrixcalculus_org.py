"""Inputs typed as on MatrixCalculus.org (its documentation's examples, and more in its
input language: * for every product, .* ./ .^, ^ with a symbolic exponent, norm1, norm2,
sign, vector(c), matrix(c), eye), each differentiated without declarations, compared with
central finite differences and checked by the SymPy oracle, and its textbook answer."""

from __future__ import annotations

import numpy as np
import pytest

import matcalc

from oracle import check_numerically

# (input as typed there, wrt, matcalc's answer, domain for finite differences)
ROWS = [
    # the documentation's examples
    ("0.5*x'*A*x", "x", "(A + Aᵀ) x / 2", None),
    ("A*exp(x)", "x", "A diag(exp(x))", None),
    ("(y.*v)'*x", "x", "v ⊙ y", None),
    ("sin(x)'*y", "x", "y ⊙ cos(x)", None),
    ("a^b", "a", "b a^(b − 1)", {"a": "positive"}),
    ("a^b", "b", "log(a) a^(b)", {"a": "positive"}),
    ("norm1(A*x-y)", "x", "Aᵀ sign(A x − y)", None),
    ("norm2(A*x-y)^2", "x", "2 Aᵀ (A x − y)", None),
    ("sum(log(exp(-y.*(X*w)) + vector(1)))", "w", "−Xᵀ (y ⊙ σ(−(y ⊙ (X w))))", None),
    ("tr(A*X'*B*X*C)", "X", "B X C A + Bᵀ X Aᵀ Cᵀ", None),
    ("log(det(inv(X)))", "X", "−X⁻ᵀ", {"X": "spd"}),
    # more of the input language
    ("x.^a", "a", "log(x) ⊙ x.^(a)", {"x": "positive"}),
    ("sum(x.^a)", "x", "a x.^(a − 1)", {"x": "positive"}),
    ("sum(x.^b)", "b", "log(x)ᵀ x.^(b)", {"x": "positive"}),
    ("x'*vector(3)", "x", "3 𝟏ₘ", None),
    ("tr(matrix(2)*X)", "X", "2 (𝟏ₙ 𝟏ₘᵀ)", None),
    ("sum(sign(x).*x)", "x", "sign(x)", None),
    ("norm2(X)", "X", "X / ‖X‖", None),
    ("norm2(X)^2", "X", "2 X", None),
    ("norm1(X)", "X", "sign(X)", None),
    ("x'*eye*x", "x", "2 x", None),
    ("a*x'*x", "x", "2 a xᵀ", None),  # a stays a vector (nothing decides), and that is said
    ("c*A*x", "x", "c A", None),  # the Jacobian
    ("exp(a)*x'*y", "a", "(xᵀ y) diag(exp(a))", None),
    ("(A*x-b)'*(A*x-b)", "x", "2 Aᵀ (A x − b)", None),
    ("x'*A*x/(x'*x)", "x", "(A + Aᵀ) x / (xᵀ x) − 2 (xᵀ A x) (xᵀ x)⁻² x", None),
    ("sum(exp(x)./(vector(1)+exp(x)))", "x", "σ(x) − σ(x).^2", None),
    ("tr(inv(X)*A)", "X", "−X⁻ᵀ Aᵀ X⁻ᵀ", {"X": "spd"}),
    ("det(X)", "X", "det(X) X⁻ᵀ", {"X": "spd"}),
    ("logdet(X)", "X", "X⁻ᵀ", {"X": "spd"}),
    ("tanh(W*x)'*y", "W", "(y ⊙ tanh′(W x)) xᵀ", None),
    ("abs(x)'*y", "x", "y ⊙ sign(x)", None),
]


@pytest.mark.parametrize("text, wrt, answer, domain", ROWS, ids=[f"{r[0]} wrt {r[1]}" for r in ROWS])
def test_an_input_from_matrixcalculus_org(text, wrt, answer, domain):
    r = check_numerically(text, wrt, domain=domain)  # finite differences of the expression itself
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
