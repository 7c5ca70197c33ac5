"""Kronecker products of the variable (issue 11): the Jacobian rule vec(A ⊗ L) =
P (vec A ⊗ I) vec L with P = I_q ⊗ K₍ₙ,ₚ₎ ⊗ I_m, the gradient rule (its adjoint), the
Kronecker and commutation identities of the canonical form, and sizes split back into
factors where one split fits.  Each derivative is compared with finite differences and
checked by SymPy; each identity is evaluated on both sides."""

from __future__ import annotations

import numpy as np
import pytest

import matcalc
from matcalc.evaluate import evaluate
from matcalc.identify import LINEAR
from matcalc.nodes import Add, Call, Hadamard, Kron, MatMul, Transpose, Unvec
from matcalc.printing.text import to_text
from matcalc.rules.canon import canonical as canonical_form

from oracle import check_numerically, dims_of, random_values

DERIVATIVES = [
    ("tr(X ⊗ X)", "X", None),
    ("sum(A ⊗ X)", "X", None),
    ("a' (X ⊗ B) b", "X", None),
    ("a' (B ⊗ X) b", "X", None),
    ("tr(C' (A ⊗ X))", "X", None),
    ("A ⊗ X", "X", None),
    ("X ⊗ A", "X", None),
    ("kron(X, X)", "X", None),
    ("kron(x, A)", "x", None),
    ("kron(A, x')", "x", None),
    ("sum(kron(X, X') .* C)", "X", "X: 2×3"),
]


@pytest.mark.parametrize("expr, wrt, where", DERIVATIVES)
def test_derivatives_through_a_kronecker_product(expr, wrt, where):
    r = check_numerically(expr, wrt, where)
    check = r.check(timeout=60)
    assert check.ok is True, str(check)


def test_the_jacobian_side_is_one_table():
    assert {Add, MatMul, Hadamard, Transpose, Call, Unvec, Kron} <= set(LINEAR)


@pytest.mark.parametrize("lhs, canonical, where", [
    ("K_{m,n} K_{n,m}", "I_{m·n}", "A: m×n"),  # K K = I
    ("K_{p,m} (A ⊗ B) K_{n,q}", "B ⊗ A", "A: m×n, B: p×q"),  # Magnus–Neudecker, Theorem 3.9
    ("K_{p,m} (A ⊗ B)", "(B ⊗ A) K_{q,n}", "A: m×n, B: p×q"),  # K moves to the right
    ("(A ⊗ B) (C ⊗ D)", "(A C) ⊗ (B D)", "A: m×n, B: p×q, C: n×r, D: q×s"),  # the mixed product
    ("(A ⊗ B) vec(C)", "vec(B C Aᵀ)", "A: m×n, B: p×q, C: q×n"),
    ("vec(C)' (A ⊗ B)", "vec(Bᵀ C A)ᵀ", "A: m×n, B: p×q, C: p×m"),
    ("K_{m,n} vec(A)", "vec(Aᵀ)", "A: m×n"),
    ("vec(A)' K_{n,m}", "vec(Aᵀ)ᵀ", "A: m×n"),
    ("(I_{m} ⊗ I_{n}) vec(A)", "vec(A)", "A: m×n"),
    ("K_{m,1} a", "a", "a: m"),
    ("sum(A ⊗ B)", "sum(A) sum(B)", "A: m×n, B: p×q"),
    ("tr(A ⊗ B)", "tr(A) tr(B)", "A: m×m, B: p×p"),
])
def test_kronecker_identities_in_the_canonical_form(lhs, canonical, where):
    e = matcalc.parse(lhs, where)
    out = canonical_form(e.tree)
    assert to_text(out) == canonical
    dims = dims_of(e)
    values = random_values(e, np.random.default_rng(1), None, dims)
    np.testing.assert_allclose(np.atleast_2d(e.evaluate(values, dims)), np.atleast_2d(evaluate(out, values, dims)),
                               rtol=1e-10, atol=1e-10)


def test_sizes_split_back_into_factors_where_one_split_fits():
    x = matcalc.parse("tr(X ⊗ X)").variable("X")
    assert x.shape[0] == x.shape[1]  # m·m = n·n: X is square
    # a claim's identity of unknown size gets it from the answer's shape: right, not "wrong shape"
    assert matcalc.check("X B", "X", "kron(B', I)", layout="numerator").correct is True
    assert matcalc.check("A X", "X", "kron(I, A)", layout="numerator").correct is True
    with pytest.raises(matcalc.ShapeError, match="declare the sizes"):
        matcalc.parse("tr(kron(X, Y))")  # m·p = n·q has many splits
