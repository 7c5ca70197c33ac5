"""Kronecker products of the variable (issue 11): the Jacobian rule vec(A ⊗ L) =
P (vec A ⊗ I) vec L with P = I_q ⊗ K₍ₙ,ₚ₎ ⊗ I_m, the gradient rule (its adjoint), the
Kronecker and commutation identities of the canonical form, and sizes split back into
factors where one split fits.  Each derivative is compared with finite differences of its
NumPy and checked by SymPy; each identity's two sides are compared with its left side
written in NumPy."""

from __future__ import annotations

import numpy as np
import pytest

import matcalc
from matcalc.evaluate import evaluate
from matcalc.identify import LINEAR
from matcalc.nodes import Add, Call, Hadamard, Kron, MatMul, Transpose, Unvec
from matcalc.printing.text import to_text
from matcalc.rules.canon import canonical as canonical_form

from oracle import Oracle, check_numerically, matcalc_sizes, tr, vec

DERIVATIVES = [
    ("tr(X ⊗ X)", "X", None, Oracle("X: n×n", lambda v: tr(np.kron(v.X, v.X)))),
    ("sum(A ⊗ X)", "X", None, Oracle("A: m×n, X: p×q", lambda v: np.sum(np.kron(v.A, v.X)))),
    ("a' (X ⊗ B) b", "X", None, Oracle("X: m×n, B: p×q, a: m·p, b: n·q", lambda v: v.a.T @ np.kron(v.X, v.B) @ v.b)),
    ("a' (B ⊗ X) b", "X", None, Oracle("B: m×n, X: p×q, a: m·p, b: n·q", lambda v: v.a.T @ np.kron(v.B, v.X) @ v.b)),
    ("tr(C' (A ⊗ X))", "X", None, Oracle("A: m×n, X: p×q, C: m·p×n·q", lambda v: tr(v.C.T @ np.kron(v.A, v.X)))),
    ("A ⊗ X", "X", None, Oracle("A: m×n, X: p×q", lambda v: np.kron(v.A, v.X))),
    ("X ⊗ A", "X", None, Oracle("X: m×n, A: p×q", lambda v: np.kron(v.X, v.A))),
    ("kron(X, X)", "X", None, Oracle("X: m×n", lambda v: np.kron(v.X, v.X))),
    ("kron(x, A)", "x", None, Oracle("x: m, A: n×p", lambda v: np.kron(v.x, v.A))),
    ("kron(A, x')", "x", None, Oracle("A: m×n, x: p", lambda v: np.kron(v.A, v.x.T))),
    ("sum(kron(X, X') .* C)", "X", "X: 2×3", Oracle("X: 2×3, C: 6×6", lambda v: np.sum(np.kron(v.X, v.X.T) * v.C))),
]


def commutation(m: int, n: int) -> np.ndarray:
    """K₍ₘ,ₙ₎: K vec(A) = vec(Aᵀ) for A m×n, built from that property."""
    k = np.zeros((m * n, m * n))
    for j in range(m * n):
        a = np.zeros(m * n)
        a[j] = 1.0
        k[:, j] = vec(a.reshape(m, n, order="F").T).ravel()
    return k


@pytest.mark.parametrize("expr, wrt, where, oracle", DERIVATIVES, ids=[row[0] for row in DERIVATIVES])
def test_derivatives_through_a_kronecker_product(expr, wrt, where, oracle):
    r = check_numerically(expr, wrt, where, oracle)
    check = r.check(timeout=60)
    assert check.ok is True, str(check)


def test_the_jacobian_side_is_one_table():
    assert {Add, MatMul, Hadamard, Transpose, Call, Unvec, Kron} <= set(LINEAR)


def _k(v, m: str | int, n: str | int) -> np.ndarray:
    """The commutation matrix of the oracle's sizes m and n."""
    return commutation(*(d if isinstance(d, int) else v.sizes[d] for d in (m, n)))


MN = "A: m×n"
MNPQ = "A: m×n, B: p×q"


@pytest.mark.parametrize("lhs, canonical, where, oracle", [
    # K K = I
    ("K_{m,n} K_{n,m}", "I_{m·n}", MN, Oracle("m: size, n: size", lambda v: _k(v, "m", "n") @ _k(v, "n", "m"))),
    # Magnus–Neudecker, Theorem 3.9
    ("K_{p,m} (A ⊗ B) K_{n,q}", "B ⊗ A", MNPQ,
     Oracle(MNPQ, lambda v: _k(v, "p", "m") @ np.kron(v.A, v.B) @ _k(v, "n", "q"))),
    # K moves to the right
    ("K_{p,m} (A ⊗ B)", "(B ⊗ A) K_{q,n}", MNPQ, Oracle(MNPQ, lambda v: _k(v, "p", "m") @ np.kron(v.A, v.B))),
    # the mixed product
    ("(A ⊗ B) (C ⊗ D)", "(A C) ⊗ (B D)", "A: m×n, B: p×q, C: n×r, D: q×s",
     Oracle("A: m×n, B: p×q, C: n×r, D: q×s", lambda v: np.kron(v.A, v.B) @ np.kron(v.C, v.D))),
    ("(A ⊗ B) vec(C)", "vec(B C Aᵀ)", "A: m×n, B: p×q, C: q×n",
     Oracle("A: m×n, B: p×q, C: q×n", lambda v: np.kron(v.A, v.B) @ vec(v.C))),
    ("vec(C)' (A ⊗ B)", "vec(Bᵀ C A)ᵀ", "A: m×n, B: p×q, C: p×m",
     Oracle("A: m×n, B: p×q, C: p×m", lambda v: vec(v.C).T @ np.kron(v.A, v.B))),
    ("K_{m,n} vec(A)", "vec(Aᵀ)", MN, Oracle(MN, lambda v: _k(v, "m", "n") @ vec(v.A))),
    ("vec(A)' K_{n,m}", "vec(Aᵀ)ᵀ", MN, Oracle(MN, lambda v: vec(v.A).T @ _k(v, "n", "m"))),
    ("(I_{m} ⊗ I_{n}) vec(A)", "vec(A)", MN,
     Oracle(MN, lambda v: np.kron(np.eye(v.sizes["m"]), np.eye(v.sizes["n"])) @ vec(v.A))),
    ("K_{m,1} a", "a", "a: m", Oracle("a: m", lambda v: _k(v, "m", 1) @ v.a)),
    ("sum(A ⊗ B)", "sum(A) sum(B)", MNPQ, Oracle(MNPQ, lambda v: np.sum(np.kron(v.A, v.B)))),
    ("tr(A ⊗ B)", "tr(A) tr(B)", "A: m×m, B: p×p", Oracle("A: m×m, B: p×p", lambda v: tr(np.kron(v.A, v.B)))),
])
def test_kronecker_identities_in_the_canonical_form(lhs, canonical, where, oracle):
    """The canonical form prints as the identity says, and both sides have the value of the
    left side written in NumPy (commutation matrices built from K vec(A) = vec(Aᵀ))."""
    e = matcalc.parse(lhs, where)
    out = canonical_form(e.tree)
    assert to_text(out) == canonical
    p = oracle.point(np.random.default_rng(1))
    dims = matcalc_sizes(e, p)
    want = oracle.value(p)
    np.testing.assert_allclose(np.atleast_2d(e.evaluate(p, dims)), want, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(np.atleast_2d(evaluate(out, p, dims)), want, rtol=1e-10, atol=1e-10)


def test_sizes_split_back_into_factors_where_one_split_fits():
    x = matcalc.parse("tr(X ⊗ X)").variable("X")
    assert x.shape[0] == x.shape[1]  # m·m = n·n: X is square
    # a claim's identity of unknown size gets it from the answer's shape: right, not "wrong shape"
    assert matcalc.check("X B", "X", "kron(B', I)", layout="numerator").correct is True
    assert matcalc.check("A X", "X", "kron(I, A)", layout="numerator").correct is True
    with pytest.raises(matcalc.ShapeError, match="declare the sizes"):
        matcalc.parse("tr(kron(X, Y))")  # m·p = n·q has many splits
