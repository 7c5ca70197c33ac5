"""Bugs found by the random-expression runs (tests/test_random.py), each kept as a test
with its NumPy: the derivative matches finite differences of that NumPy and SymPy, and
every printed result re-parses to the same shape and value."""

from __future__ import annotations

import numpy as np
import pytest

from generate import WHERE
from oracle import Oracle, assert_results_reparse, check_numerically, inv, logdet, norm, tr, vec


def _found(fn) -> Oracle:
    """A found expression's NumPy, over the random tests' variables."""
    return Oracle(WHERE, fn)


FOUND = [
    # diag(a) M v = a ⊙ (M v) needed the column run after diag(a), not just the next factor
    ("2 (diag(x) ((C) (b)))", "x", _found(lambda v: 2 * (np.diag(v.x.ravel()) @ (v.C @ v.b)))),
    # ... and a Jacobian rule for diag: vec(diag(l)) = diag(vec I)(𝟏 ⊗ I) l
    ("(diag(x) (x)) (b')", "x", _found(lambda v: (np.diag(v.x.ravel()) @ v.x) @ v.b.T)),
    # sizes hidden inside ⊗ and vec(…) are printed: (aᵀ ⊗ Iₙ) K
    ("((A)') (a)", "A", _found(lambda v: v.A.T @ v.a)),
    ("X", "X", _found(lambda v: v.X)),
    # the all-ones matrix printed its two sizes
    ("norm(1 + (X) .^ 2)", "X", _found(lambda v: norm(1 + v.X ** 2))),
    # the presentation pass spliced a factored sum into the product around it
    ("sin((x) (x' (A) x))", "x", _found(lambda v: np.sin(v.x @ (v.x.T @ v.A @ v.x)))),
    # zero results: vec of zero is zero, and 𝟎 prints with its size where needed
    ("alpha tr(A - A')", "A", _found(lambda v: v.alpha * tr(v.A - v.A.T))),
    ("(b') ((b' - b')')", "b", _found(lambda v: v.b.T @ (v.b.T - v.b.T).T)),
    # distributing (a + b) Iₙ dropped the identity that carried the shape
    ("((x) (b')) (b + (b) ⊙ (b))", "x", _found(lambda v: (v.x @ v.b.T) @ (v.b + v.b * v.b))),
    # only traces of matrices of one shape may be merged into one trace
    ("tr(((X) (X')) (inv(I + (X) (X)')))", "X",
     _found(lambda v: tr(v.X @ v.X.T @ inv(np.eye(len(v.X)) + v.X @ v.X.T)))),
    ("x' (((X) (X'))^2) x", "X", _found(lambda v: v.x.T @ (v.X @ v.X.T) @ (v.X @ v.X.T) @ v.x)),
    # a ones vector whose length is a product of sizes, in ASCII: ones_{n*p}
    ("(x) (sum(X))", "X", _found(lambda v: v.x * np.sum(v.X))),
    # an identity inside logdet has no size to infer from outside: logdet(2 I_q); the text
    # leaves both identities' sizes open, and matcalc names them m (in tr) and q (in logdet)
    ("tr(I) + (alpha) ⊙ (logdet(I + (I) (I)'))", "alpha",
     Oracle(WHERE + ", m: size, q: size",
            lambda v: v.sizes["m"] + v.alpha * logdet(2 * np.eye(v.sizes["q"])))),
    # Iᵏ = I; and one subtree occurring twice, pinned in one place and hidden (⊗) in another
    ("sin((X) ((I)^2))", "X", _found(lambda v: np.sin(v.X @ np.eye(v.X.shape[1]) @ np.eye(v.X.shape[1])))),
    # norm bars cannot nest: an outer norm of an inner one prints as norm(…)
    ("norm(1 + ((x) (norm(1 + (x) .^ 2))) .^ 2)", "x", _found(lambda v: norm(1 + (v.x * norm(1 + v.x ** 2)) ** 2))),
]


@pytest.mark.parametrize("expr, wrt, oracle", FOUND, ids=[row[0] for row in FOUND])
def test_found_bug_stays_fixed(expr, wrt, oracle):
    r = check_numerically(expr, wrt, WHERE, oracle)
    assert r.check(timeout=60).ok is True
    assert_results_reparse(r, oracle)


def test_vec_gradient_reparses_as_unvec():
    """unvec(a) used to print without sizes and re-parse as an abstract function."""
    oracle = Oracle("X: m×n, a: m·n", lambda v: v.a.T @ vec(v.X))
    r = check_numerically("a' vec(X)", "X", None, oracle)
    assert str(r.gradient) == "unvec_{m,n}(a)" and r.check().ok
    assert_results_reparse(r, oracle)


def test_piping_into_a_closed_reader_is_quiet():
    import subprocess
    import sys

    cmd = f"{sys.executable} -m matcalc diff \"x' A x\" x --steps --no-check | head -c 10"
    done = subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=60)
    assert "Traceback" not in done.stderr
