"""The SymPy oracle and the hand-derivation checker (issue: verification)."""

from __future__ import annotations

from pathlib import Path

import pytest

import matcalc
from matcalc.api import check
from matcalc.checking.sizes import MAX_ASSIGNMENTS, instantiate_sizes, size_assignments
from matcalc.checking.sympy_oracle import check_derivative
from matcalc.cli import main
from matcalc.tables import check_table, latex_to_matcalc

#: seed note 002 (its identity tables), kept in the repository so that a fresh clone checks it
SEED_002 = Path(__file__).resolve().parent / "data" / "seed_002_matrix_calculus.md"


def test_sizes_are_pairwise_distinct_and_at_least_3():
    e = matcalc.parse("tr(A X B)", "X: n×p")
    assert instantiate_sizes(e.tree) == {"m": 3, "n": 4, "p": 5}


def test_check_reports_sizes_and_method():
    r = matcalc.diff("tr(A X B)", "X", "X: n×p").check()
    assert r.ok and "m=3, n=4, p=5" in str(r) and r.method == "exact"


def test_check_catches_a_wrong_answer_and_names_the_entry():
    r = matcalc.diff("x' A x", "x")
    wrong = matcalc.parse("A x", r.expression.where()).tree
    result = check_derivative(r.expression.tree, r.wrt, wrong)
    assert result.ok is False
    assert "entry (" in result.detail and "the derivative is" in result.detail and "x = [" in result.detail


def test_check_catches_a_transposed_answer_by_shape():
    r = matcalc.diff("tr(A X B)", "X")
    wrong = matcalc.parse("B A", r.expression.where()).tree
    result = check_derivative(r.expression.tree, r.wrt, wrong)
    assert result.ok is False and result.method == "shape" and "is 5×4 but should be 4×5" in result.detail


def test_check_is_time_bounded():
    r = matcalc.diff("L(σ(W3 σ(W2 σ(W1 x + b1) + b2) + b3))", "W1")
    result = r.check(timeout=0.001)
    assert result.ok is None and result.status == "unchecked"
    assert str(result).startswith("unchecked: the SymPy check ran out of time after ")


def test_symmetric_convention_is_checked():
    r = matcalc.diff("tr(A S)", "S", "S: n×n symmetric")
    assert r.check().ok
    # the Cookbook's 2G − diag(G) is not the gradient in this sense, and the check says so
    cookbook = matcalc.parse("A + A' - diag(diag(A))", r.expression.where()).tree
    assert check_derivative(r.expression.tree, r.wrt, cookbook).ok is False


def test_abstract_functions_are_sympy_functions():
    for expr, wrt, where in [("L(W x + b)", "W", None), ("sum(f(X))", "X", "f: elementwise"),
                             ("L(g(x))", "x", "g: vector function m")]:
        assert matcalc.diff(expr, wrt, where).check().method == "exact"


# ---------------------------------------------------------------- hand derivations


@pytest.mark.parametrize("expr, wrt, claim, fragment", [
    ("tr(A X B)", "X", "B A", "transpose of the answer"),
    ("L(W x + b)", "W", "x grad L(W x + b)'", "numerator layout"),
    ("x' x", "x", "x", "1/2 times the answer"),
    ("x' x", "x", "-2 x", "wrong sign"),
    ("x' A x", "x", "2 A x", "missing the symmetric part"),
    ("x' A x", "x", "A x", "missing the symmetric part"),
    ("x' A x", "x", "x", "differs from the answer"),
    ("a' X b", "X", "a", "wrong shape"),
])
def test_wrong_claims_are_diagnosed(expr, wrt, claim, fragment):
    v = check(expr, wrt, claim)
    assert not v.correct and v.exit_code == 1
    text = v.text()
    assert fragment in text, text
    assert str(v.answer) in text and "Counterexample" in text


@pytest.mark.parametrize("expr, wrt, claim, where", [
    ("tr(A X B)", "X", "A' B'", None),
    ("tr(A X B)", "X", "(B A)'", None),
    ("x' A x", "x", "A x + A' x", None),
    ("x' A x", "x", "2 A x", "A: n×n symmetric"),
    ("logdet(X)", "X", "inv(X)'", None),
    ("L(W x + b)", "W", "∇L(W x + b) xᵀ", None),
    ("-y' log(softmax(z))", "z", "softmax(z) 1' y - y", None),
    ("A X B", "X", "kron(B, A')", None),  # denominator layout: the transposed Jacobian
])
def test_right_claims_in_other_forms_are_accepted(expr, wrt, claim, where):
    v = check(expr, wrt, claim, where)
    assert v.correct and v.exit_code == 0, v.text()


def test_numerator_layout_claims():
    assert check("L(W x + b)", "W", "x grad L(W x + b)'", layout="numerator").correct
    assert check("A x", "x", "A", layout="numerator").correct
    v = check("A x", "x", "A")
    assert not v.correct and "numerator layout" in v.text()


def test_claim_with_a_new_variable_is_bad_input():
    with pytest.raises(matcalc.ParseError, match="not in the expression"):
        check("x' A x", "x", "A y")


# ---------------------------------------------------------------- tables


@pytest.mark.parametrize("cell, text", [
    (r"$\mathbf{a}^T \mathbf{x}$", "a' x"),
    (r"$(A + A^T)\mathbf{x}$", "(A + A') x"),
    (r"$\text{tr}(ABA^T)$", "tr(A B A')"),
    (r"$\log \det(A)$", "logdet(A)"),
    (r"$\text{diag}(\sigma’(\mathbf{x}))$", "diag(σ′(x))"),
])
def test_latex_cells(cell, text):
    assert latex_to_matcalc(cell) == text


def test_a_table_with_a_wrong_row(tmp_path):
    table = (
        "| $f(\\mathbf{x})$ | $\\frac{\\partial f}{\\partial \\mathbf{x}}$ |\n"
        "|---|---|\n"
        "| $\\mathbf{x}^T \\mathbf{x}$ | $2\\mathbf{x}$ |\n"
        "| $\\mathbf{x}^T A \\mathbf{x}$ | $2A\\mathbf{x}$ |\n"
        "| $\\mathbf{x}^T A \\mathbf{x}$ (symmetric $A$) | $2A\\mathbf{x}$ |\n"
    )
    rows = check_table(table)
    assert [r.correct for r in rows] == [True, False, True]
    assert "symmetric part" in rows[1].text()


def test_seed_002_tables():
    """Seed 002 says its tables are in denominator layout.  Two rows are not: A x → A and
    tr(A B Aᵀ) → (B + Bᵀ) Aᵀ are numerator-layout forms.  Every other row is right."""
    rows = check_table(SEED_002.read_text(encoding="utf-8"), layout="denominator")
    assert len(rows) == 14
    wrong = [r for r in rows if not r.correct]
    assert [r.expression for r in wrong] == ["A x", "tr(A B A')"]
    assert all("numerator layout" in r.text() for r in wrong)


def test_cli_check_exit_codes(capsys):
    assert main(["check", "x' A x", "x", "(A + A') x"]) == 0
    assert main(["check", "x' A x", "x", "2 A x"]) == 1
    assert main(["check", "x' A x", "x", "A +"]) == 2
    assert main(["check", "x' A x", "x"]) == 2
    out = capsys.readouterr()
    assert "missing the symmetric part" in out.out and "in the claim" in out.err


def test_cli_check_table(capsys, tmp_path):
    f = tmp_path / "t.md"
    f.write_text("| $f(A)$ | $\\frac{\\partial f}{\\partial A}$ |\n|---|---|\n| $\\text{tr}(AB)$ | $B^T$ |\n",
                 encoding="utf-8")
    assert main(["check", "--table", str(f)]) == 0
    assert "1 of 1 rows correct" in capsys.readouterr().out
    assert main(["check", "--table", str(tmp_path / "missing.md")]) == 2


def test_cli_diff_runs_the_check_by_default(capsys):
    assert main(["diff", "tr(A X B)", "X"]) == 0
    assert "✓ checked with SymPy at m=3, n=4, p=5" in capsys.readouterr().out
    assert main(["diff", "tr(A X B)", "X", "--no-check"]) == 0
    assert "SymPy" not in capsys.readouterr().out


# ---------------------------------------------------------------- trust (issue 8)

from matcalc.checking import numeric, sympy_oracle  # noqa: E402
from matcalc.checking.result import timed_out  # noqa: E402
from matcalc.limits import MAX_CHECK_ENTRIES  # noqa: E402


def test_a_scalar_claim_true_only_at_size_2_is_rejected():
    """adj(X) = tr(X) I − X holds for 2×2 matrices only (Cayley–Hamilton): at n=2 the claim
    is the gradient of det X, at the check's sizes (≥ 3) it is not."""
    assert check("det(X)", "X", "tr(X) I - X'", "X: 2×2").correct is True  # the coincidence is real
    v = check("det(X)", "X", "tr(X) I - X'")
    assert v.correct is False and v.exit_code == 1 and "m=3" in v.text(), v.text()
    # diff's own check goes through the same oracle
    r = matcalc.diff("det(X)", "X")
    coincidence = matcalc.parse("tr(X) I - X'", r.expression.where()).tree
    assert check_derivative(r.expression.tree, r.wrt, coincidence).ok is False
    assert r.check().ok is True and "m=3" in str(r.check())


def test_a_matrix_claim_true_only_at_size_2_is_rejected():
    """adj(X) = det(X) X⁻¹; at n=2 adj(X) = tr(X) I − X, whose Jacobian is the constant
    vec(I) vec(I)ᵀ − I.  At n=2 the check accepts that claim, at n=4 (declared) and at
    the default sizes it does not: adj is quadratic in X for n=3, cubic for n=4."""
    two = check("det(X) inv(X)", "X", "vec(I_2) vec(I_2)' - kron(I_2, I_2)", "X: 2×2")
    assert two.correct is True, two.text()
    four = check("det(X) inv(X)", "X", "vec(I_4) vec(I_4)' - kron(I_4, I_4)", "X: 4×4")
    assert four.correct is False
    v = check("det(X) inv(X)", "X", "vec(I_m) vec(I_m)' - kron(I_m, I_m)")
    assert v.correct is False and "Jacobian entry" in v.text() and "m=3" in v.text(), v.text()


def test_a_table_row_true_only_at_size_2_is_rejected():
    table = ("| $f(X)$ | $\\frac{\\partial f}{\\partial X}$ |\n|---|---|\n"
             "| $\\det(X)$ | $\\text{tr}(X) I - X^T$ |\n")
    (row,) = check_table(table)
    assert row.correct is False


@pytest.mark.parametrize("expr", ["L(W' W)", "L(W W')", "L(X + X')"])
def test_abstract_functions_of_symmetric_arguments_check(expr):
    """SymPy merged ∂ᵢL and ∂ⱼL when the i-th and j-th arguments coincide (Subs form):
    every partial derivative is now a function of its own."""
    wrt = expr[2]
    r = matcalc.diff(expr, wrt)
    result = r.check()
    assert result.ok is True and result.method == "exact", str(result)
    assert main(["diff", expr, wrt]) == 0


@pytest.mark.parametrize("expr, wrt, claim, where", [
    ("L(X + X')", "X", "2 ∇L(X + X')", None),
    ("L(X + X')", "X", "∇L(X + X') + ∇L(X + X')'", "X: m×m"),  # right: kept as the control
    ("L(W' W)", "W", "2 W ∇L(W' W)", None),
    ("sum(f(X + X'))", "X", "f'(X + X')", "f: elementwise"),  # half the answer 2 f′(X + Xᵀ)
    ("L(g(vec(X + X')))", "X", "2 unvec_{n,n}(∂g(vec(X + X'))' ∇L(g(vec(X + X'))))", "g: vector function m"),
])
def test_claims_with_abstract_functions_of_symmetric_arguments(expr, wrt, claim, where):
    v = check(expr, wrt, claim, where)
    right = claim == "∇L(X + X') + ∇L(X + X')'"
    assert v.correct is right, v.text()
    if not right:
        # the numerical stand-ins do not hide the error either: no false "transpose" diagnosis
        assert "layout mix-up" not in v.text() and "Counterexample" in v.text(), v.text()


def test_elementwise_and_vector_abstract_functions_of_symmetric_arguments():
    for expr, where in [("sum(f(X + X'))", "f: elementwise"), ("L(f(X + X'))", "f: elementwise"),
                        ("L(g(vec(X + X')))", "g: vector function m")]:
        assert matcalc.diff(expr, "X", where).check().ok is True, expr


def test_check_result_api():
    r = matcalc.diff("tr(A X B)", "X").check()
    d = r.to_dict()
    assert d["status"] == r.status == "verified" and d["ok"] is True
    assert set(d) == {"status", "ok", "method", "sizes", "seconds", "entries", "detail"}
    assert d["sizes"] == {"m": 3, "n": 4, "p": 5} and d["entries"] == 20


def test_an_unchecked_claim_is_not_a_verdict():
    v = check("L(σ(W3 σ(W2 σ(W1 x + b1) + b2) + b3))", "W1", "W1 * 0", timeout=0.001)
    assert v.correct is None and v.status == "unchecked" and v.exit_code == 3
    text = v.text()
    assert text.startswith("? unchecked:") and "✓" not in text and "✗" not in text
    assert "unchecked: the SymPy check ran out of time after" in text
    assert "not a verification" in text  # the NumPy comparison with matcalc's answer is a note only
    d = v.to_dict()
    assert d["status"] == "unchecked" and d["correct"] is None and d["check"]["status"] == "unchecked"
    assert set(d) >= {"status", "correct", "claim", "answer", "layout", "diagnosis", "counterexample", "check"}
    assert check("x' x", "x", "2 x").to_dict()["status"] == "verified"
    assert check("x' x", "x", "x").to_dict()["status"] == "wrong"


def test_a_sympy_error_is_reported_as_an_error_not_a_time_out(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(sympy_oracle, "_check", broken)
    r = matcalc.diff("x' x", "x")
    result = check_derivative(r.expression.tree, r.wrt, r.gradient.tree)
    assert result.ok is None and result.method == "error"
    assert str(result) == "unchecked: the SymPy check failed (RuntimeError: boom)"
    assert "out of time" not in str(result)


def test_sizes_where_the_expression_is_defined_are_chosen():
    """log det(XᵀX) is undefined for X m×n with m < n (XᵀX singular): the check picks m > n."""
    result = matcalc.diff("log(det(X' X))", "X").check()
    assert result.ok is True and result.sizes["m"] > result.sizes["n"], str(result)
    # the first assignment (m=3, n=4, alphabetical) is singular here: another is tried
    e = matcalc.parse("logdet(X' X) + logdet(A)", "X: m×n, A: m×m")
    assert instantiate_sizes(e.tree) == {"m": 3, "n": 4}
    r = matcalc.diff("logdet(X' X) + logdet(A)", "X", "X: m×n, A: m×m")
    assert r.check().ok is True and r.check().sizes == {"m": 4, "n": 3}
    # declared sizes where it is undefined: no verdict, and why
    stuck = matcalc.diff("log(det(X' X))", "X", "X: 2×3").check()
    assert stuck.ok is None and "undefined at every size and random point tried" in str(stuck)


def test_a_claim_undefined_where_the_expression_is_defined_is_wrong():
    v = check("det(u u')", "u", "2 det(u u') inv(u u') u")
    assert v.correct is False and v.exit_code == 1
    assert "The claim is undefined" in v.text() and "(u uᵀ)⁻¹" in v.text(), v.text()
    # a division by a polynomial that is 0: undefined for every value of the variables
    v = check("x' x", "x", "2 x + x / (x' x - x' x)")
    assert v.correct is False and "undefined at m=3 for every value of the variables" in v.text(), v.text()
    # undefined at the random points (a logarithm of a negative number): also wrong
    v = check("x' x", "x", "2 x + x log(-(x' x)) / 2")
    assert v.correct is False and "undefined at x = [" in v.text() and "no real value" in v.text(), v.text()


def test_the_gradient_of_an_identically_zero_determinant():
    assert check("det(u u')", "u", "0 u").correct is True  # det(u uᵀ) ≡ 0 for n ≥ 2
    assert matcalc.diff("det(u u')", "u").check().ok is True


def test_huge_declared_sizes_are_unchecked_without_allocating():
    import time as _time

    start = _time.perf_counter()
    v = check("x' A x", "x", "2 A x", "A: 100000×100000")
    assert v.correct is None and v.exit_code == 3
    assert "too large to check entry by entry" in v.text()
    assert _time.perf_counter() - start < 10
    result = matcalc.diff("x' A x", "x", "A: 100000×100000").check()
    assert result.ok is None and result.method == "too large"
    # a declared size within the bound is checked entry by entry
    assert matcalc.diff("x' x", "x", f"x: {MAX_CHECK_ENTRIES}").check(timeout=60).ok is True
    assert matcalc.diff("x' x", "x", f"x: {MAX_CHECK_ENTRIES + 1}").check().method == "too large"
    assert main(["check", "x' A x", "x", "2 A x", "--where", "A: 100000×100000"]) == 3


def test_size_assignments_are_bounded_and_distinct():
    e = matcalc.parse("tr(A X B C D)")
    tried = list(size_assignments(e.tree))
    assert len(tried) == MAX_ASSIGNMENTS
    assert len({tuple(a.values()) for a in tried}) == len(tried)
    assert all(sorted(a.values()) == [3, 4, 5, 6, 7] for a in tried)
    assert tried[1] == {k: 10 - v for k, v in tried[0].items()}  # the reversed assignment second


# ------------------------------------------------------------ a second size (user trial)


def test_a_claim_true_only_at_size_3_is_rejected():
    """The Cayley–Hamilton adjugate of a 3×3 matrix is the gradient of det X at m=3 only:
    the check compares again at m=4 (finite differences disagree, SymPy confirms)."""
    claim = "(X^2 - tr(X) X + (tr(X)^2 - tr(X^2))/2 I)'"
    assert check("det(X)", "X", claim, "X: 3×3").correct is True  # the coincidence is real
    v = check("det(X)", "X", claim)
    assert v.correct is False and v.exit_code == 1, v.text()
    assert v.check.sizes == {"m": 4} and "at m=3 the claim agrees" in v.text(), v.text()
    assert main(["check", "det(X)", "X", claim]) == 1


def test_a_claim_using_the_size_3_as_a_number_is_rejected():
    v = check("sum(x)^2", "x", "2 sum(x) (sum(x .^ 0)/3) ones")
    assert v.correct is False and "m=4" in v.counterexample, v.text()
    assert "4/3 times the answer" in v.text()  # diagnosed at the second size
    r = matcalc.diff("sum(x)^2", "x")
    wrong = matcalc.parse("2 sum(x) (sum(x .^ 0)/3) ones", r.expression.where()).tree
    assert check_derivative(r.expression.tree, r.wrt, wrong).ok is False


def test_a_table_row_true_only_at_size_3_is_rejected():
    table = ("| $f(X)$ | $\\frac{\\partial f}{\\partial X}$ |\n|---|---|\n"
             "| $\\det(X)$ | $(X^2 - \\text{tr}(X) X + (\\text{tr}(X)^2 - \\text{tr}(X^2))/2 I)^T$ |\n")
    (row,) = check_table(table)
    assert row.correct is False


def test_a_right_claim_is_also_compared_at_the_second_sizes():
    r = matcalc.diff("tr(A X B)", "X", "X: n×p").check()
    assert r.ok is True and r.sizes == {"m": 3, "n": 4, "p": 5} and r.method == "exact"
    assert r.second == "finite differences agree at m=4, n=5, p=6"
    assert str(r).endswith("; finite differences agree at m=4, n=5, p=6")
    assert r.to_dict()["method"] == "exact; finite differences agree at m=4, n=5, p=6"
    # the order of the sizes the first check chose is kept (m > n: XᵀX invertible)
    r = matcalc.diff("log(det(X' X))", "X").check()
    assert r.ok and r.sizes == {"m": 4, "n": 3} and "finite differences agree at m=5, n=4" in r.second, str(r)
    # symmetric variables, and symmetric directions for a symmetric wrt (sym(G))
    r = matcalc.diff("tr(A S) + x' S x", "S", "S: n×n symmetric").check()
    assert r.ok and r.second.startswith("finite differences agree"), str(r)
    assert check("tr(A S)", "S", "(A + A')/2", "S: n×n symmetric").correct is True
    # no symbolic size: nothing to shift
    r = matcalc.diff("x' x", "x", "x: 3").check()
    assert r.ok and r.second == ""


@pytest.mark.parametrize("expr,wrt,where", [
    ("L(W x + b)", "W", None), ("sum(f(X A))", "X", "f: elementwise"),
    ("L(g(W x))", "W", "g: vector function p"), ("L(S)", "S", "S: n×n symmetric"),
])
def test_finite_differences_agree_with_abstract_functions(expr, wrt, where):
    r = matcalc.diff(expr, wrt, where).check()
    assert r.ok and r.second.startswith("finite differences agree"), str(r)


@pytest.mark.parametrize("kind,out", [("scalar", None), ("elementwise", None), ("vector", 3)])
def test_numpy_stand_ins_have_exact_derivatives(kind, out):
    import numpy as np

    fs = numeric.numpy_stand_ins("h", kind, out)
    f, df = fs["h"], fs[{"scalar": "grad_h", "elementwise": "h_prime", "vector": "jac_h"}[kind]]
    y = np.random.default_rng(0).normal(size=4)
    step = 1e-6
    for i in range(4):
        e = np.zeros(4)
        e[i] = step
        fd = (np.asarray(f(y + e)) - np.asarray(f(y - e))) / (2 * step)
        exact = np.asarray(df(y))
        want = exact[..., i] if kind == "vector" else exact[i] if kind == "scalar" else exact * (np.arange(4) == i)
        assert np.allclose(fd, want, atol=1e-7), (kind, i)


def test_finite_differences_never_make_a_claim_wrong(monkeypatch):
    """Where finite differences disagree, SymPy decides at the second sizes."""
    monkeypatch.setattr(numeric, "FD_TOLERANCE", -1.0)  # every comparison "disagrees"
    r = matcalc.diff("tr(A X B)", "X").check()
    assert r.ok is True and r.second.startswith("SymPy (exact"), str(r)  # exact, or exact at random rational points
    assert r.second.endswith(") at m=4, n=5, p=6, where finite differences disagreed"), str(r)


def test_disagreeing_finite_differences_and_no_sympy_verdict_is_unchecked(monkeypatch):
    monkeypatch.setattr(numeric, "FD_TOLERANCE", -1.0)
    real = sympy_oracle._check

    def first_only(*args, **kwargs):
        assignments = args[8] if len(args) > 8 else kwargs.get("assignments")
        if assignments:  # the second sizes
            return timed_out(assignments[0], 1.0, "comparing exactly")
        return real(*args, **kwargs)

    monkeypatch.setattr(sympy_oracle, "_check", first_only)
    r = matcalc.diff("tr(A X B)", "X").check()
    assert r.ok is None and r.method == "disagree", str(r)
    assert "SymPy verified matcalc's answer at m=3, n=4, p=5" in r.detail and "finite differences at m=4" in r.detail
    assert "reached no verdict" in r.detail


def test_where_finite_differences_find_no_defined_point_sympy_decides_at_the_second_sizes(monkeypatch):
    def undefined(*args, **kwargs):
        raise ValueError("Singular matrix")

    monkeypatch.setattr(numeric, "evaluate", undefined)
    r = matcalc.diff("tr(A X B)", "X").check()
    assert r.ok is True and r.second.startswith("SymPy (exact") and ") at m=4, n=5, p=6" in r.second, str(r)
    assert "at the 24 random points tried" in r.second


def test_abstract_functions_named_like_sympy_functions():
    """cosh: function must not be taken for SymPy's cosh (mpmath's, when evaluated)."""
    for name in ("cosh", "tan", "exp", "gamma"):
        r = matcalc.diff(f"log({name}(X w - y))", "w", f"{name}: function").check()
        assert r.ok is True, (name, str(r))
    assert check("tan(X w)", "w", "X' ∇tan(X w)", "tan: function").correct is True


def test_a_verdict_shows_the_notes_of_the_derivation():
    v = check("L(W x + b)", "W", "∇L(W x + b) x'")
    assert v.correct is True
    assert v.text().splitlines()[1] == "  L: abstract scalar function (∇L its gradient)", v.text()
    assert v.to_dict()["notes"] == ["L: abstract scalar function (∇L its gradient)"]
    assert "grad L its gradient" in v.text(ascii=True)
    wrong = check("L(W x + b)", "W", "x ∇L(W x + b)'")
    assert "  L: abstract scalar function (∇L its gradient)" in wrong.text().splitlines()
    v = check("det(X)", "X", "det(X) inv(X)'")
    assert any("holds where X is invertible" in n for n in v.to_dict()["notes"]), v.text()


def test_one_entry_is_singular():
    r = matcalc.diff("x' x", "x", "x: 1").check()
    assert "(exact, 1 entry," in str(r), str(r)
    assert "3 entries" in str(matcalc.diff("x' x", "x").check())


def test_a_claim_true_at_one_size_fails_even_where_random_points_are_rarely_defined():
    # a log barrier: b − A x > 0 is met near A = 0; the claim is the 3×3 Cayley–Hamilton adjugate
    v = matcalc.check("-log(det(X)) - sum(log(b - A x))", "X",
                      "-(X^2 - tr(X) X + (tr(X)^2 - tr(X^2))/2 I)' / det(X)", timeout=30)
    assert v.correct is False
    v = matcalc.check("-sum(log(b - A x))", "x", "A' (b - A x).^-1 * sum(b.^0)/3", timeout=30)
    assert v.correct is False


def test_symbolic_sizes_differ_from_sizes_declared_as_numbers():
    e = matcalc.parse("log(det(X' X))", "X: 3×n")
    assert instantiate_sizes(e.tree) == {"n": 4}
    v = matcalc.check("log(det(X' X))", "X", "2 inv(X X') X", "X: 3×n", timeout=30)
    assert v.correct is not True


# ---------------------------------------------------------------- one checking package (issue 9)


def test_the_checking_package_shares_one_implementation():
    """The SymPy oracle, the finite differences and the diagnosis use the same sizes, points
    and stand-ins: the same objects, not copies."""
    from matcalc import evaluate, shapes
    from matcalc.checking import sizes, verdict
    from matcalc.printing import sympy as sympy_printing

    assert sizes.instantiate_sizes is verdict.instantiate_sizes
    assert sizes.size_of is shapes.size_of is sympy_printing.size_of is evaluate.size_of
    assert sizes.variables_of is numeric.variables_of
    assert numeric.numpy_point is verdict.numpy_point
    assert numeric.numpy_functions is verdict.numpy_functions
    assert sympy_oracle.finite_differences is numeric.finite_differences
    assert sympy_oracle.instantiate_sizes is sizes.instantiate_sizes


def test_the_tests_oracle_is_numpy_written_in_the_tests():
    """tests/oracle.py, identities.py and generate.py compute an expression's values with
    NumPy of their own: identities.py and generate.py import nothing of matcalc's, and
    oracle.py only the public API (for the answer under test), never the checking package
    or the evaluator."""
    import ast

    here = Path(__file__).parent
    for name, allowed in (("oracle.py", {"matcalc"}), ("identities.py", set()), ("generate.py", set())):
        tree = ast.parse((here / name).read_text(encoding="utf-8"))
        modules = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        modules |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert {m for m in modules if m.split(".")[0] == "matcalc"} <= allowed, name
        used = {ast.unparse(n) for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
        assert not {u for u in used if u.startswith(("matcalc.checking", "matcalc.evaluate", "matcalc.api"))}, name


def test_the_tests_oracle_fails_a_different_function_or_reading():
    """check_numerically fails where the oracle's f is not matcalc's (a factor 2 off), where
    matcalc reads other shapes than the oracle's, or one size where the oracle has two."""
    import oracle

    right = oracle.Oracle("x: m, A: m×m", lambda v: v.x.T @ v.A @ v.x)
    assert oracle.check_numerically("x' A x", "x", None, right).gradient.text() == "(A + Aᵀ) x"
    for text, spec, fn, says in (
            ("x' A x", "x: m, A: m×m", lambda v: 2 * v.x.T @ v.A @ v.x, "not the oracle's"),
            ("x' A x", "x: m, A: m×n", lambda v: v.x.T @ v.A[:, :3] @ v.x, "matcalc reads A as m×m"),
            ("x' A x", "x: m, A: m×m symmetric", lambda v: v.x.T @ v.A @ v.x, "not symmetric"),
            ("(x' x) a", "x: m, a: m", lambda v: (v.x.T @ v.x) * v.a, "apart as one")):
        with pytest.raises(AssertionError, match=says):
            oracle.check_numerically(text, "x", None, oracle.Oracle(spec, fn))


def test_the_tests_oracle_sizes_points_and_stand_ins():
    """Sizes pairwise distinct, 3 and up, none a size written as a number; points in their
    domains; stand-ins whose derivatives are their derivatives."""
    import numpy as np

    import oracle

    variables, functions, free = oracle.parse_spec("A: m×n, X: 3×p spd, a: m·n, g: function q, k: size")
    assert oracle.spec_sizes(variables, functions, free) == {"m": 4, "n": 5, "p": 6, "q": 7, "k": 8}
    spec = "S: n×n spd, P: n×n symmetric, y: n probability, x: n positive, M: n×n invertible, L: function"
    p = oracle.Oracle(spec, lambda v: 0).point(np.random.default_rng(0))
    assert np.all(np.linalg.eigvalsh(p.S) > 0) and np.allclose(p.P, p.P.T) and np.isclose(p.y.sum(), 1)
    assert np.all(p.x >= 0.5) and abs(np.linalg.det(p.M)) > 1e-3 and p.S.shape == (3, 3)
    rng = np.random.default_rng(1)
    for fn in (oracle.Function("L", "scalar"), oracle.Function("f", "elementwise"), oracle.Function("g", "vector", 4)):
        s = oracle.stand_ins(fn, {})
        y = rng.normal(size=(3, 1))
        if fn.kind == "scalar":
            for value, derivative in ((s["L"], s["grad_L"]), (s["grad_L"], s["hess_L"])):
                j = oracle.jacobian(oracle.Oracle("y: 3", lambda v, f=value: f(v.y)), oracle.Point({"y": y}), "y")
                assert np.allclose(j.reshape(np.shape(derivative(y))), derivative(y), atol=1e-8)
            assert not np.allclose(s["hess_L"](y), np.diag(np.diag(s["hess_L"](y))))  # ∇²L is not diagonal
        elif fn.kind == "elementwise":
            h = 1e-6
            assert np.allclose((s["f"](y + h) - s["f"](y - h)) / (2 * h), s["f_prime"](y), atol=1e-8)
            assert np.allclose((s["f_prime"](y + h) - s["f_prime"](y - h)) / (2 * h), s["f_prime2"](y), atol=1e-8)
        else:
            j = oracle.jacobian(oracle.Oracle("y: 3", lambda v, g=s["g"]: g(v.y)), oracle.Point({"y": y}), "y")
            assert np.allclose(j, s["jac_g"](y.ravel()), atol=1e-8)


def test_the_checking_package_never_imports_the_api_and_imports_at_the_top_only():
    """The layering: matcalc.api depends on matcalc.checking, never the reverse (types
    only, under TYPE_CHECKING), and no import hides inside a function."""
    import ast

    import matcalc.checking

    folder = Path(matcalc.checking.__file__).parent
    for path in sorted(folder.glob("*.py")):
        tree = ast.parse(path.read_text())
        type_only = {id(n) for s in tree.body if isinstance(s, ast.If) and "TYPE_CHECKING" in ast.unparse(s.test)
                     for n in ast.walk(s)}
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                inner = [n for n in ast.walk(node) if isinstance(n, ast.Import | ast.ImportFrom)]
                assert not inner, f"{path.name}: an import inside {node.name}()"
            if isinstance(node, ast.ImportFrom) and id(node) not in type_only:
                module = "." * node.level + (node.module or "")
                assert module not in ("..api", "..cli", "..tables", "matcalc.api"), f"{path.name} imports {module}"


def test_importing_the_api_imports_neither_sympy_nor_numpy_nor_the_heavy_checks():
    import subprocess
    import sys

    code = ("import sys, matcalc, matcalc.api, matcalc.checking, matcalc.checking.sizes, matcalc.checking.result; "
            "heavy = [m for m in ('sympy', 'numpy', 'matcalc.checking.sympy_oracle', 'matcalc.checking.numeric', "
            "'matcalc.checking.verdict') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_positive_arguments_come_from_the_function_rows_domain():
    """Variables under a function whose row says domain "positive" get positive points;
    no function is known by its name here."""
    from matcalc import functions as F
    from matcalc.checking.sizes import positive_variables

    positive = [fn for fn in F.TABLE.values() if fn.domain == "positive"]
    assert positive, "some rows are defined for positive arguments only"
    for fn in positive:
        if fn.elementwise:
            e = matcalc.parse(f"sum({fn.name}(x)) + y' y")
            assert positive_variables(e.tree) == {"x"}, fn.name
    assert positive_variables(matcalc.parse("sum(exp(x)) + sum(y.^(1/2))").tree) == {"y"}
    assert matcalc.check("sum(log(x))", "x", "x.^-1").correct is True


def test_a_size_used_as_a_number_takes_the_instantiated_value():
    """sum(x)/m: SymPy and the finite differences give m its value at both sizes, so a
    claim that hard-codes the first size (𝟏/3 at m=3) is wrong."""
    assert matcalc.diff("sum(x)/m", "x", "x: m").check().ok is True
    v = check("sum(x)/m", "x", "𝟏/3", "x: m")
    assert v.correct is False and "it holds at that size only" in v.counterexample, v.text()
