"""Bugs found by the random-expression runs (tests/test_random.py), each kept as a test:
the derivative matches finite differences and SymPy, and every printed result re-parses
to the same shape and value."""

from __future__ import annotations

import pytest

from generate import WHERE
from oracle import assert_results_reparse, check_numerically

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
    # a ones vector whose length is a product of sizes, in ASCII: ones_{n*p}
    ("(x) (sum(X))", "X"),
    # an identity inside logdet has no size to infer from outside: logdet(2 I_q)
    ("tr(I) + (alpha) ⊙ (logdet(I + (I) (I)'))", "alpha"),
    # Iᵏ = I; and one subtree occurring twice, pinned in one place and hidden (⊗) in another
    ("sin((X) ((I)^2))", "X"),
    # norm bars cannot nest: an outer norm of an inner one prints as norm(…)
    ("norm(1 + ((x) (norm(1 + (x) .^ 2))) .^ 2)", "x"),
]


@pytest.mark.parametrize("expr, wrt", FOUND)
def test_found_bug_stays_fixed(expr, wrt):
    r = check_numerically(expr, wrt, WHERE)
    assert r.check(timeout=60).ok is True
    assert_results_reparse(r)


def test_vec_gradient_reparses_as_unvec():
    """unvec(a) used to print without sizes and re-parse as an abstract function."""
    r = check_numerically("a' vec(X)", "X")
    assert str(r.gradient) == "unvec_{m,n}(a)" and r.check().ok
    assert_results_reparse(r)


def test_piping_into_a_closed_reader_is_quiet():
    import subprocess
    import sys

    cmd = f"{sys.executable} -m matcalc diff \"x' A x\" x --steps --no-check | head -c 10"
    done = subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=60)
    assert "Traceback" not in done.stderr
