"""The second identification table (tests/data/hessian_identities.md), row by row.

Four independent checks per row: matcalc prints the row's forms (H and H[V]); SymPy
verifies each of them as a user's claim (``check --hessian``: SymPy's own second partials
of f, entry by entry at sizes 3 and up, then along random directions one size larger);
central second differences of the row's f written in NumPy (:data:`NUMPY`) agree with
vec(U)ᵀ H vec(W) along random directions U, W; and H[V] = H vec V."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import matcalc
from matcalc.api import check_hessian

from oracle import Oracle, det, inv, logdet, matcalc_sizes, norm, second_difference, sigmoid, softmax, tr

TABLE = Path(__file__).parent / "data" / "hessian_identities.md"
SIGMOID_LAYER = Oracle("W: m×n, x: n, b: m", lambda v: np.sum(sigmoid(v.W @ v.x + v.b)))
LINEAR_LAYER = Oracle("W: m×n, x: n, b: m, L: function", lambda v: v.L(v.W @ v.x + v.b))
#: each row's f in NumPy, by the row's name, with the variables' shapes and the domain where
#: f is defined and well conditioned
NUMPY = {
    "quadratic form": Oracle("x: m, A: m×m", lambda v: v.x.T @ v.A @ v.x),
    "quadratic form, symmetric S": Oracle("x: n, S: n×n symmetric", lambda v: v.x.T @ v.S @ v.x),
    "least squares": Oracle("A: m×n, x: n, b: m", lambda v: norm(v.A @ v.x - v.b) ** 2),
    "ridge regression": Oracle("A: m×n, x: n, b: m, λ: scalar",
                               lambda v: norm(v.A @ v.x - v.b) ** 2 + v.λ * norm(v.x) ** 2),
    "logistic regression (negative log-likelihood)":
        Oracle("X: m×n, w: n, y: m", lambda v: np.sum(np.log(1 + np.exp(v.X @ v.w))) - v.y.T @ v.X @ v.w),
    "softmax regression (cross-entropy), weights":
        Oracle("y: k probability, W: k×n, x: n", lambda v: -v.y.T @ np.log(softmax(v.W @ v.x))),
    "softmax regression (cross-entropy), input":
        Oracle("y: m probability, W: m×n, x: n", lambda v: -v.y.T @ np.log(softmax(v.W @ v.x))),
    "Gaussian negative log-likelihood, mean":
        Oracle("x: n, μ: n, Σ: n×n symmetric spd",
               lambda v: (v.x - v.μ).T @ inv(v.Σ) @ (v.x - v.μ) / 2 + logdet(v.Σ) / 2),
    "two-sided quadratic": Oracle("X: m×n, A: m×m, B: n×n", lambda v: tr(v.X.T @ v.A @ v.X @ v.B)),
    "trace quadratic": Oracle("X: m×n, A: m×m", lambda v: tr(v.X.T @ v.A @ v.X)),
    "trace of a square": Oracle("X: m×m", lambda v: tr(v.X @ v.X)),
    "matrix least squares": Oracle("A: m×n, X: n×p, B: p×q, C: m×q", lambda v: norm(v.A @ v.X @ v.B - v.C) ** 2),
    "log-determinant": Oracle("X: m×m spd", lambda v: logdet(v.X)),
    "log-determinant, symmetric S": Oracle("S: n×n symmetric spd", lambda v: logdet(v.S)),
    "determinant": Oracle("X: m×m invertible", lambda v: det(v.X)),
    "trace of the inverse": Oracle("X: m×m invertible", lambda v: tr(inv(v.X))),
    "bilinear form in the inverse": Oracle("a: m, X: m×m invertible, b: m", lambda v: v.a.T @ inv(v.X) @ v.b),
    "one MLP layer (sigmoid), weights": SIGMOID_LAYER,
    "one MLP layer (sigmoid), weights and bias": SIGMOID_LAYER,
    "one MLP layer with a loss L": Oracle("W: m×n, x: n, b: m, L: function", lambda v: v.L(sigmoid(v.W @ v.x + v.b))),
    "abstract loss of a linear layer, weights": LINEAR_LAYER,
    "abstract loss of a linear layer, weights and bias": LINEAR_LAYER,
    "abstract loss of a linear layer, bias": LINEAR_LAYER,
}


def _rows() -> list[tuple[str, ...]]:
    rows = []
    for line in TABLE.read_text(encoding="utf-8").splitlines():
        if not line.startswith("| ") or line.startswith("| |"):
            continue
        cells = [c.strip().strip("`").replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        name, f, wrt, where, h, hvp, _source = cells
        rows.append((name, f, wrt, where, h, hvp))
    return rows


ROWS = _rows()
IDS = [r[0] for r in ROWS]


def _hessian(f: str, wrt: str, where: str) -> matcalc.Hessian:
    x, *y = [w.strip() for w in wrt.split(",")]
    return matcalc.hessian(f, x, y[0] if y else None, where or None)


def test_the_table_has_the_rows_the_issue_names():
    names = " ".join(IDS)
    for topic in ("quadratic form", "least squares", "ridge", "logistic", "softmax", "Gaussian", "two-sided",
                  "matrix least squares", "log-determinant", "determinant", "inverse", "MLP", "abstract"):
        assert topic in names
    assert len(ROWS) >= 20


@pytest.mark.parametrize("name, f, wrt, where, h, hvp", ROWS, ids=IDS)
def test_matcalc_prints_the_row(name, f, wrt, where, h, hvp):
    r = _hessian(f, wrt, where)
    assert str(r.hessian) == h
    assert str(r.hvp) == hvp


@pytest.mark.parametrize("name, f, wrt, where, h, hvp", ROWS, ids=IDS)
def test_sympy_verifies_both_forms_as_claims(name, f, wrt, where, h, hvp):
    x, *y = [w.strip() for w in wrt.split(",")]
    for claim in (h, hvp):
        v = check_hessian(f, x, claim, where or None, wrt2=y[0] if y else None, timeout=120)
        assert v.correct is True, v.text()


def test_every_row_has_its_numpy():
    assert sorted(NUMPY) == sorted(IDS)


@pytest.mark.parametrize("name, f, wrt, where, h, hvp", ROWS, ids=IDS)
def test_finite_differences_agree(name, f, wrt, where, h, hvp):
    r = _hessian(f, wrt, where)
    oracle = NUMPY[name]
    x, y = r.wrt, r.wrt2 or r.wrt
    p = oracle.point(np.random.default_rng(7))
    dims = matcalc_sizes(r.expression, p)
    np.testing.assert_allclose(r.expression.evaluate(p, dims), oracle.value(p)[0, 0], rtol=1e-9)  # f as written
    rng = np.random.default_rng(8)

    def direction(v: matcalc.nodes.Var) -> np.ndarray:
        d = rng.standard_normal(p[v.name].shape)
        return (d + d.T) / 2 if "symmetric" in oracle.variable(v.name).words else d

    hm = np.atleast_2d(r.hessian.evaluate(p, dims))
    for _ in range(3):
        u, w = direction(x), direction(y)
        fd = second_difference(oracle, p, x.name, u, y.name, w, 1e-3)
        exact = u.ravel(order="F") @ hm @ w.ravel(order="F")
        assert np.isclose(fd, exact, rtol=1e-4, atol=1e-5 * (1 + abs(exact))), (fd, exact)
        # H[V] is H vec V, shaped like the (second) variable
        hv = np.atleast_2d(r.hvp.evaluate({**p, r.direction: w}, dims))
        np.testing.assert_allclose(hv.ravel(order="F"), hm @ w.ravel(order="F"), rtol=1e-9, atol=1e-9)
    if r.wrt2 is None:
        np.testing.assert_allclose(hm, hm.T, rtol=1e-9, atol=1e-9)  # a Hessian is symmetric


def test_a_claim_that_is_not_the_hessian_is_wrong_and_says_how():
    v = check_hessian("x' A x", "x", "2 A")
    assert v.correct is False and "not symmetric" in v.diagnosis[0]
    v = check_hessian("tr(X' A X B)", "X", "2 (A V B + A' V B')")
    assert v.correct is False and "factor: it is 2 times" in v.diagnosis[0]
    v = check_hessian("x' A y", "x", "A'", wrt2="y")
    assert v.correct is False and "transpose of the mixed Hessian" in v.diagnosis[0]
    v = check_hessian("tr(X' A X B)", "X", "A V B + A V B'")
    assert v.correct is False and "only when A, B are symmetric" in v.diagnosis[0]
    assert "is 2 A V B;" in v.diagnosis[0]  # the Hessian applied to V for symmetric A and B
    for half in ("2 A V B", "A V B + A V B"):  # the right d²f, but not the symmetric map
        v = check_hessian("tr(X' A X B)", "X", half)
        assert v.correct is False and "right d²f" in v.diagnosis[0]
    v = check_hessian("logdet(S)", "S", "−(S⁻¹ ⊗ S⁻¹)", "S: n×n symmetric")
    assert v.correct is False and "symmetric convention" in v.check.detail


def test_a_hessian_claim_of_the_wrong_shape_says_which_shape():
    v = check_hessian("tr(X' A X)", "X", "A + A'")
    assert v.correct is False and "wrong shape" in v.diagnosis[0] and "applied to a direction" in v.diagnosis[0]
    with pytest.raises(matcalc.ParseError, match="one name of its own"):
        check_hessian("x' A x", "x", "(A + A') u + w")


def test_the_second_sizes_catch_an_identity_of_one_size():
    """Along random directions one size larger: a claim right at n = 3 only is wrong there."""
    from matcalc.checking.sympy_oracle import _projected_check

    e = matcalc.parse("x' A x")
    x = e.variable("x")
    right = matcalc.parse("A + A'", e.where()).tree
    wrong = matcalc.parse("A + A' + (x' x) I", e.where()).tree
    assert _projected_check(e.tree, x, right, 30, 3, 1, "H", {"m": 4}, None, None).ok is True
    assert _projected_check(e.tree, x, wrong, 30, 3, 1, "H", {"m": 4}, None, None).ok is False


def test_check_hessian_from_the_command_line(capsys):
    import json

    from matcalc.cli import main

    assert main(["check", "tr(X' A X B)", "X", "A V B + A' V B'", "--hessian"]) == 0
    assert "✓ correct: A V B + Aᵀ V Bᵀ is the Hessian applied to V" in capsys.readouterr().out
    assert main(["check", "x' A x", "x", "2 A", "--hessian"]) == 1
    assert "not symmetric" in capsys.readouterr().out
    assert main(["check", "logdet(S)", "S", "-inv(S) V inv(S)", "--hessian", "--where", "S: n×n symmetric",
                 "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["kind"] == "verdict" and data["claimed"] == "Hessian applied to V" and data["status"] == "verified"
    assert main(["check", "--table", "notes.md", "--hessian"]) == 2
    assert "--hessian checks one claim" in capsys.readouterr().err


def test_a_hessian_has_no_layout(capsys):
    from matcalc.cli import main

    assert main(["hessian", "x' A y", "x", "y", "--layout", "numerator"]) == 2
    assert "swap the two variables" in capsys.readouterr().err


def test_review_found_wrong_verdicts_stay_fixed():
    """A wrong claim is never called right, a right one never wrong (found by a review)."""
    # H[V] of a symmetric S must be symmetric: a skew part is not invisible
    v = check_hessian("logdet(S)", "S", "-S^-1 V S^-1 + 5 (V S - S V)", "S: n×n symmetric")
    assert v.correct is False and "symmetric convention" in v.diagnosis[0]
    # a term without the direction, at sizes given as numbers
    v = check_hessian("sum(log(1 + exp(X w))) - y' X w", "w", "X' (σ′(X w) ⊙ (X v)) + X' y", "X: 5×3")
    assert v.correct is False and "term without the direction" in v.diagnosis[0]
    v = check_hessian("x' x", "x", "(v' v) v")
    assert v.correct is False and "not linear" in v.diagnosis[0]
    # identities of unknown sizes in a Kronecker product
    assert check_hessian("tr(X' X)", "X", "2 kron(I, I)").correct is True
    assert check_hessian("tr(X' X)", "X", "kron(I, 2 I)").correct is True
    # any name for the direction
    for claim in ("2 u", "2 U"):
        v = check_hessian("x' x" if claim == "2 u" else "tr(X' X)", "x" if claim == "2 u" else "X", claim)
        assert v.correct is True and v.text() and v.to_dict()["claimed"].startswith("Hessian applied to")
    # the transpose of H[V]: the gradient taken in numerator layout
    v = check_hessian("logdet(X)", "X", "-inv(X) V inv(X)")
    assert v.correct is False and "transpose of the Hessian applied to V" in v.diagnosis[0]


def test_a_mixed_hessian_is_checked_from_the_command_line(capsys):
    from matcalc.cli import main

    assert main(["check", "L(W x + b)", "W", "x ⊗ ∇²L(W x + b)", "--hessian", "--wrt2", "b"]) == 0
    assert "with respect to W and b" in capsys.readouterr().out
    assert main(["check", "x' A x", "x", "A + A'", "--hessian", "--layout", "numerator"]) == 2
    assert main(["check", "x' A x", "x", "A + A'", "--wrt2", "x"]) == 2
