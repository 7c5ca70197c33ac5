"""Bugs found by the random-expression runs (tests/test_random.py), each kept as a test:
the derivative matches finite differences and SymPy, and every printed result re-parses
to the same shape and value."""

from __future__ import annotations

import numpy as np
import pytest

import matcalc

from generate import WHERE
from oracle import check_numerically, dims_of, random_values

FOUND = [
    # diag(a) M v = a ⊙ (M v) needed the column run after diag(a), not just the next factor
    ("2 (diag(x) ((C) (b)))", "x"),
    # ... and a Jacobian rule for diag: vec(diag(l)) = diag(vec I)(𝟏 ⊗ I) l
    ("(diag(x) (x)) (b')", "x"),
    # sizes hidden inside ⊗ and vec(…) are printed: (aᵀ ⊗ Iₙ) K
    ("((A)') (a)", "A"),
    ("X", "X"),
    # the all-ones matrix printed its two sizes
    ("norm(1 + (X) .^ 2)", "X"),
    # the presentation pass spliced a factored sum into the product around it
    ("sin((x) (x' (A) x))", "x"),
    # zero results: vec of zero is zero, and 𝟎 prints with its size where needed
    ("alpha tr(A - A')", "A"),
    ("(b') ((b' - b')')", "b"),
    # distributing (a + b) Iₙ dropped the identity that carried the shape
    ("((x) (b')) (b + (b) ⊙ (b))", "x"),
    # only traces of matrices of one shape may be merged into one trace
    ("tr(((X) (X')) (inv(I + (X) (X)')))", "X"),
    ("x' (((X) (X'))^2) x", "X"),
]


@pytest.mark.parametrize("expr, wrt", FOUND)
def test_found_bug_stays_fixed(expr, wrt):
    r = check_numerically(expr, wrt, WHERE)
    assert r.check(timeout=60).ok is True
    dims = dims_of(r.expression)
    values = random_values(r.expression, np.random.default_rng(5), None, dims)
    values["d" + wrt] = np.random.default_rng(6).normal(size=np.shape(values[wrt]))
    for part in (r.differential, r.gradient, r.jacobian):
        if part is None:
            continue
        for ascii in (False, True):
            again = matcalc.parse(part.text(ascii), r.expression.where(), expect=part.shape)
            assert again.shape == part.shape
            np.testing.assert_allclose(np.atleast_2d(again.evaluate(values, dims=dims)),
                                       np.atleast_2d(part.evaluate(values, dims=dims)), rtol=1e-9, atol=1e-12)
