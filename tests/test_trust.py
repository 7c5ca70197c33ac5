"""Trust (issue 8): matcalc never silently answers a different question than the one typed.

Unknown function names are errors with a suggestion, declaration typos are errors, default
kinds yield to what the expression needs, softmax of a matrix does not bend other shapes,
det is differentiated by a rule that is right everywhere, and a derivative with respect to
a variable the expression does not contain is zero.  Every derivative here is checked
against finite differences of the expression written in NumPy, and the SymPy check where
it is quick.
"""

from __future__ import annotations

import numpy as np
import pytest

import matcalc
from matcalc import DeclarationError, DiffError, ParseError
from matcalc.cli import main

from oracle import (
    Oracle,
    assert_results_reparse,
    check_numerically,
    det,
    inv,
    logdet,
    matcalc_sizes,
    ones,
    sigmoid,
    softmax,
)

GAUSSIAN = Oracle("x: n, μ: n, Σ: n×n spd",
                  lambda v: -logdet(v.Σ) / 2 - (v.x - v.μ).T @ inv(v.Σ) @ (v.x - v.μ) / 2)
ATTENTION = Oracle("Q: m×n, K: p×n, V: p×q, L: function", lambda v: v.L(softmax(v.Q @ v.K.T) @ v.V))

# ------------------------------------------------------------------ unknown function names

UNKNOWN = [
    ("sum(log(coshh(X w - y)))", "coshh", "cosh"),
    ("trr(X)", "trr", "tr"),
    ("softmx(x)", "softmx", "softmax"),
    ("sum(log2(x))", "log2", None),
    ("mean(x)", "mean", None),
    ("logmeanexp(x)", "logmeanexp", None),
    ("max(x)", "max", None),
    ("∇coshh(x)", "coshh", "cosh"),
    ("x' expp(x)", "expp", "exp"),
    ("coshh'(x)", "coshh", "cosh"),
]


@pytest.mark.parametrize("expr, name, suggestion", UNKNOWN)
def test_an_unknown_function_name_is_an_error_with_a_suggestion(expr, name, suggestion):
    with pytest.raises(ParseError) as info:
        matcalc.parse(expr)
    err = info.value
    assert f"unknown function '{name}'" in err.message
    assert f'--where "{name}: function"' in err.message
    if suggestion:
        assert f"did you mean {suggestion}?" in err.message
    start, end = err.span
    assert expr[start:end] == name


@pytest.mark.parametrize("expr, name", [
    ("L(W x + b)", "L"), ("f(x)", "f"), ("g(x)", "g"), ("ℓ(x)", "ℓ"), ("φ(x)", "φ"), ("L₁(x)", "L₁"),
    ("L_1(x)", "L_1"), ("phi(x)", "phi"), ("∇L(x)", "L"),
])
def test_single_letters_stay_abstract_functions(expr, name):
    assert name in matcalc.parse(expr).functions


def test_a_declared_function_of_any_name_is_abstract():
    r = check_numerically("sum(logcosh(X w - y))", "w", "logcosh: elementwise",
                          Oracle("X: m×n, w: n, y: m, logcosh: elementwise", lambda v: np.sum(v.logcosh(v.X @ v.w - v.y))))
    assert "logcosh" in r.expression.functions


def test_the_cli_rejects_an_unknown_function_with_exit_2(capsys):
    assert main(["diff", "sum(log(coshh(X w - y)))", "w", "--no-check"]) == 2
    err = capsys.readouterr().err
    assert "unknown function 'coshh'" in err and "Traceback" not in err


def test_an_answer_with_an_abstract_function_says_so():
    r = matcalc.diff("L(W x + b)", "W")
    assert "L: abstract scalar function (∇L its gradient)" in r.text()
    assert "L: abstract scalar function" in r.text(ascii=True)
    assert r.to_dict()["functions"] == [{"name": "L", "kind": "scalar", "note": "L: abstract scalar function (∇L its gradient)"}]
    r = matcalc.diff("sum(f(A x))", "x", "f: elementwise")
    assert "f: abstract elementwise function (f′ its derivative)" in r.text()


# ------------------------------------------------------------------ declaration typos

@pytest.mark.parametrize("where, suggestion", [
    ("A: symetric", "symmetric"), ("A: n×n symetric", "symmetric"), ("A: matrx", "matrix"),
    ("x: vectr", "vector"), ("L: functon", "function"), ("f: elementwize", "elementwise"),
    ("s: scalr", "scalar"), ("A: sqaure", "square"),
])
def test_a_declaration_typo_is_an_error_with_a_suggestion(where, suggestion):
    with pytest.raises(DeclarationError) as info:
        matcalc.parse("A x", where)
    assert f"did you mean '{suggestion}'" in info.value.message


@pytest.mark.parametrize("where, shape", [
    ("x: vector batch", "batch×1"), ("x: batch-vector", "batch×1"), ("x: n-vector", "n×1"),
    ("A: rows2×k", "rows2×k"), ("A: nxn", "n×n"), ("x: mx1", "m×1"), ("A: n x m", "n×m"),
])
def test_size_names_that_are_not_near_a_keyword_stay_sizes(where, shape):
    name = where.split(":")[0]
    assert matcalc.parse("A x" if name == "A" else "x", where).shapes[name] == shape


@pytest.mark.parametrize("where", ["A: sym", "A: diagonal", "A: spd", "x: batch"])
def test_a_bare_word_that_is_not_a_kind_is_an_error(where):
    with pytest.raises(DeclarationError) as info:
        matcalc.parse("A x", where)
    word = where.split(": ")[1]
    assert f"unknown word '{word}'" in info.value.message and f"write 'vector {word}'" in info.value.message


def test_a_declaration_typo_exits_2(capsys):
    assert main(["parse", "A x", "--where", "A: symetric"]) == 2
    assert "did you mean 'symmetric'" in capsys.readouterr().err


# ------------------------------------------------------------------ default kinds are preferences

def test_a_greek_letter_added_to_a_vector_is_a_vector():
    e = matcalc.parse("(x - μ)' inv(Σ) (x - μ)")
    n = e.shapes["x"].split("×")[0]
    assert e.shapes == {"x": f"{n}×1", "μ": f"{n}×1", "Σ": f"{n}×{n}"}
    assert any(a.startswith("μ is a vector") for a in e.assumptions)
    r = check_numerically("(x - μ)' inv(Σ) (x - μ)", "μ", None,
                          Oracle("x: n, μ: n, Σ: n×n invertible", lambda v: (v.x - v.μ).T @ inv(v.Σ) @ (v.x - v.μ)))
    assert "μ is a vector" in r.text()


def test_the_gaussian_log_likelihood_reads_as_written():
    f = "-1/2 logdet(Σ) - 1/2 (x - μ)' inv(Σ) (x - μ)"
    for wrt in ("μ", "x", "Σ"):
        r = check_numerically(f, wrt, None, GAUSSIAN)
        assert r.gradient is not None


def test_declarations_stay_binding():
    e = matcalc.parse("(x - μ)' (x - μ)", "μ: scalar")  # a declared scalar added to a vector: to every entry
    assert e.shapes["μ"] == "1×1" and e.shapes["x"] == "m×1"
    assert any(a.startswith("μ is a scalar added to every entry") for a in e.assumptions)


@pytest.mark.parametrize("expr, scalars, vectors", [
    ("λ x", ["λ"], ["x"]),
    ("λ x' x + (x - μ)' (x - μ)", ["λ"], ["x", "μ"]),
    ("exp(-γ ‖x - y‖²)", ["γ"], ["x", "y"]),
])
def test_defaults_yield_only_where_the_expression_needs_it(expr, scalars, vectors):
    shapes = matcalc.parse(expr).shapes
    for s in scalars:
        assert shapes[s] == "1×1", shapes
    for v in vectors:
        assert shapes[v].endswith("×1") and shapes[v] != "1×1", shapes


def test_a_default_that_the_expression_does_not_force_is_said():
    """−n/2 logdet(Σ): n read as a vector would make f a vector; it is read as a size (a
    number), which is said, with how to declare a number that is no size."""
    e = matcalc.parse("-n/2 logdet(Σ)")
    assert e.shapes["Σ"] == "n×n"
    assert any('n is the size of the square matrix Σ' in a and '--where "n: scalar"' in a for a in e.assumptions)
    e = matcalc.parse("-n/2 logdet(Σ) - 1/2 tr(inv(Σ) S)")  # the same with a term that is a scalar
    assert e.shapes["Σ"] == "n×n" and "n" not in e.shapes
    assert any('n is the size of the square matrix Σ' in a and '--where "n: scalar"' in a for a in e.assumptions)
    e = matcalc.parse("-b/2 logdet(Σ)")  # b names no size: a vector by default, and said
    assert any('b is read as a column vector' in a and '--where "b: scalar"' in a for a in e.assumptions)
    assert matcalc.parse("-n/2 logdet(Σ)", "n: scalar").assumptions == []


# ------------------------------------------------------------------ softmax of a matrix

def test_softmax_of_a_matrix_is_column_by_column_and_bends_no_shape():
    e = matcalc.parse("L(softmax(Q K') V)")
    for name in ("Q", "K", "V"):
        rows, cols = e.shapes[name].split("×")
        assert rows != "1" and cols != "1", e.shapes
    z = np.array([[1.0, 2.0], [3.0, -1.0], [0.5, 0.0]])
    s = matcalc.parse("softmax(Z)").evaluate(Z=z)
    np.testing.assert_allclose(s.sum(axis=0), [1.0, 1.0])
    np.testing.assert_allclose(s[:, 0], np.exp(z[:, 0]) / np.exp(z[:, 0]).sum())


@pytest.mark.parametrize("wrt", ["Q", "K", "V"])
def test_attention_gradients(wrt):
    check_numerically("L(softmax(Q K') V)", wrt, None, ATTENTION)


def test_softmax_of_a_matrix_is_checked_by_sympy():
    oracle = Oracle("X: m×n, Y: m×n", lambda v: np.sum(softmax(v.X) * v.Y))
    r = check_numerically("sum(softmax(X) ⊙ Y)", "X", None, oracle)
    assert r.check(timeout=60).ok is True
    assert_results_reparse(r, oracle)


# ------------------------------------------------------------------ det: right everywhere

def test_det_of_a_singular_by_construction_matrix_has_gradient_zero():
    oracle = Oracle("u: m", lambda v: det(v.u @ v.u.T))
    r = check_numerically("det(u u')", "u", None, oracle)
    p = oracle.point(np.random.default_rng(3))
    np.testing.assert_allclose(r.gradient.evaluate(p, dims=matcalc_sizes(r.expression, p)), 0, atol=1e-9)
    assert "⁻¹" not in r.gradient.text()
    assert r.check(timeout=60).ok is True


@pytest.mark.parametrize("wrt", ["A", "B"])
def test_det_of_a_product_with_a_smaller_inner_size(wrt):
    # A is a×b, B b×a: where a > b, A B is singular everywhere, and the gradient must not
    # invert it (the checker's symbolic sizes have a < b, so a > b is declared as numbers)
    r = check_numerically("det(A B)", wrt, "A: a×b, B: b×a", Oracle("A: a×b, B: b×a", lambda v: det(v.A @ v.B)))
    assert "⁻¹" not in r.gradient.text()
    singular = Oracle("A: 4×3, B: 3×4", lambda v: det(v.A @ v.B))
    r = check_numerically("det(A B)", wrt, "A: 4×3, B: 3×4", singular)  # its value there is the oracle's
    assert abs(singular.value(singular.point(np.random.default_rng(0)))) < 1e-9


def test_det_of_a_variable_is_the_textbook_answer_with_its_condition():
    r = check_numerically("det(X)", "X", None, Oracle("X: m×m invertible", lambda v: det(v.X)))
    assert r.gradient.text() == "det(X) X⁻ᵀ"
    assert any("holds where X is invertible" in n for n in r.notes)
    assert not any("invertible" in n for n in matcalc.diff("logdet(X)", "X").notes)


def test_the_adjugate_is_right_for_singular_matrices():
    rng = np.random.default_rng(0)
    u = rng.normal(size=(3, 1))
    for a in (rng.normal(size=(3, 3)), u @ u.T, rng.normal(size=(3, 2)) @ rng.normal(size=(2, 3))):
        adj = matcalc.parse("adj(A)").evaluate(A=a)
        np.testing.assert_allclose(adj @ a, np.linalg.det(a) * np.eye(3), atol=1e-9)
        minors = np.array([[(-1) ** (i + j) * np.linalg.det(np.delete(np.delete(a, j, 0), i, 1))
                            for j in range(3)] for i in range(3)])
        np.testing.assert_allclose(adj, minors, atol=1e-9)


# ------------------------------------------------------------------ plain questions

def test_the_derivative_with_respect_to_an_absent_declared_variable_is_zero():
    r = matcalc.diff("X", "A", "X: k×k, A: k×k")
    assert any("f does not depend on A" in n for n in r.notes)
    assert r.jacobian.shape == (matcalc.shapes.dim_mul("k", "k"),) * 2
    np.testing.assert_array_equal(r.jacobian.evaluate(dims={"k": 3}), np.zeros((9, 9)))
    r = matcalc.diff("tr(X)", "A", "A: m×n")
    assert r.gradient.shape == ("m", "n")
    np.testing.assert_array_equal(r.gradient.evaluate(dims={"m": 2, "n": 3}), np.zeros((2, 3)))


def test_an_undeclared_absent_variable_is_an_error_with_a_suggestion():
    with pytest.raises(DiffError) as info:
        matcalc.diff("x' A x", "X")
    assert "did you mean" in info.value.message and "declare it" in info.value.message


# ------------------------------------------------------------------ the Python API's arguments

@pytest.mark.parametrize("call", [
    lambda: matcalc.parse(None),
    lambda: matcalc.parse(123),
    lambda: matcalc.parse("x", where=5),
    lambda: matcalc.parse("x", where=["x: 3"]),
    lambda: matcalc.parse("x", where={"x": None}),
    lambda: matcalc.parse("x", where={3: "n"}),
    lambda: matcalc.diff("x' x", None),
    lambda: matcalc.diff("x' x", "x", layout=3),
    lambda: matcalc.diff(matcalc.parse("x"), "x", where="x: 3"),
])
def test_wrong_argument_types_are_matcalc_errors(call):
    with pytest.raises(matcalc.MatcalcError):
        call()


@pytest.mark.parametrize("where", ["x: 0", "x: 10000000000000", "x: (0, 2)", "x: 1000001"])
def test_declared_sizes_are_bounded(where):
    with pytest.raises(DeclarationError) as info:
        matcalc.parse("x", where)
    assert "a size is a whole number from 1 to 1,000,000" in info.value.message


@pytest.mark.parametrize("timeout", [float("nan"), float("inf"), -1, 0, "a", 1e12])
def test_a_bad_check_time_limit_is_a_matcalc_error(timeout):
    with pytest.raises(matcalc.MatcalcError):
        matcalc.check("x' x", "x", "2 x", timeout=timeout)
    with pytest.raises(matcalc.MatcalcError):
        matcalc.diff("x' x", "x").check(timeout=timeout)


@pytest.mark.parametrize("expr, wrt, where, name", [
    ("x' S x", "x", "s: symmetric", "s"),
    ("logdet(Σ)", "Σ", "Sigma: symmetric", "Sigma"),
    ("x' A x", "x", "a: n×n", "a"),
])
def test_a_declaration_the_expression_does_not_use_is_an_error(expr, wrt, where, name):
    with pytest.raises(DeclarationError) as info:
        matcalc.diff(expr, wrt, where)
    assert f"'{name}' is declared but not used" in info.value.message
    start, end = info.value.span
    assert where[start:end] == name
    with pytest.raises(DeclarationError):
        matcalc.check(expr, wrt, "2 x", where)


def test_one_one_transposed_is_the_all_ones_matrix():
    e = matcalc.parse("tr(X' (I - 1 1'/3) X)")
    assert e.shapes["X"] == "m×n"
    check_numerically("tr(X' (I - 1 1'/3) X)", "X", None,
                      Oracle("X: m×n", lambda v: np.trace(v.X.T @ (np.eye(len(v.X)) - ones(len(v.X), len(v.X)) / 3) @ v.X)))
    assert matcalc.parse("x' (1 1') x").shapes["x"] == "m×1"
    assert str(matcalc.parse("2 1' x")) == "2 𝟏ᵀ x"


@pytest.mark.parametrize("expr, name, words", [
    ("sum(x^2)", "x", "x is a scalar: the expression needs it"),
    ("x - α - β", "α", "α is a vector"),
    ("(x - μ - ν)' (x - μ - ν)", "ν", "ν is a vector"),
    ("sum(f'(x))", "f", "f′(…) is read as the product fᵀ (…)"),
])
def test_every_bent_default_is_said(expr, name, words):
    e = matcalc.parse(expr)
    assert any(words in a for a in e.assumptions), e.assumptions


@pytest.mark.parametrize("call", [
    lambda: matcalc.parse("sum(ones)").evaluate(dims={"m": -1}),
    lambda: matcalc.parse("sum(ones)").evaluate(dims={"m": 2.5}),
    lambda: matcalc.parse("sum(ones)").evaluate(dims=[3]),
    lambda: matcalc.parse("x' x").evaluate(x="abc"),
    lambda: matcalc.parse("x' x").evaluate(x=np.array([1j, 2.0])),
    lambda: matcalc.parse("x' x").evaluate(x={}),
    lambda: matcalc.parse("x' x").evaluate(x=[[1, 2], [3]]),
])
def test_bad_values_for_evaluate_are_evaluation_errors(call):
    with pytest.raises(matcalc.EvaluationError):
        call()


def test_a_declaration_unlike_any_name_of_the_expression_is_said():
    r = matcalc.diff("x' A x", "x", "A: n×n, B: n×n")
    assert "B is declared but not used" in r.notes


@pytest.mark.parametrize("expr, wrt, oracle", [
    ("μ' Σ μ", "μ", Oracle("μ: m, Σ: m×m", lambda v: v.μ.T @ v.Σ @ v.μ)),
    ("y' log(σ(X β)) + (1 - y)' log(1 - σ(X β))", "β",
     Oracle("X: m×n, y: m, β: n", lambda v: v.y.T @ np.log(sigmoid(v.X @ v.β)) + (1 - v.y).T @ np.log(1 - sigmoid(v.X @ v.β)))),
    ("log(1 + exp(-θ' x))", "θ", Oracle("x: m, θ: m", lambda v: np.log(1 + np.exp(-v.θ.T @ v.x)))),
])
def test_a_greek_letter_that_would_make_f_a_matrix_is_a_vector(expr, wrt, oracle):
    r = check_numerically(expr, wrt, None, oracle)
    assert r.gradient is not None and r.expression.shapes[wrt].endswith("×1")
    assert any(a.startswith(f"{wrt} is a vector") for a in r.expression.assumptions)


def test_a_scalar_times_a_vector_stays_as_written():
    e = matcalc.parse("λ x")
    assert e.shapes == {"x": "m×1", "λ": "1×1"} and e.assumptions == []


@pytest.mark.parametrize("expr", ["f''(x)", "g″(x)"])  # undeclared f, g (σ″(x) is a row's: allowed)
def test_a_second_derivative_of_a_function_is_an_error_not_a_product(expr):
    with pytest.raises(ParseError, match="second derivative"):
        matcalc.parse(expr)


def test_ones_transposed_times_one_is_the_length():
    assert str(matcalc.parse("1' 1")) == "𝟏ₘᵀ 𝟏ₘ"
    assert matcalc.parse("x' x / (1' 1)").shapes["x"].endswith("×1")


@pytest.mark.parametrize("where", ["A: pd", "A: sq", "A: nn"])
def test_a_short_bare_word_is_not_a_size(where):
    with pytest.raises(DeclarationError, match="unknown word"):
        matcalc.parse("x' A x", where)


def test_a_greek_letter_declared_for_its_spelled_name_is_an_error():
    with pytest.raises(DeclarationError, match="did you mean Sigma"):
        matcalc.diff("tr(Sigma X)", "X", "Σ: symmetric")


@pytest.mark.parametrize("seed", ["0", "1", "2", "3", "4", "5"])
def test_a_ones_row_before_a_function_is_never_read_as_a_size(seed):
    """1ᵀ exp(z) is 𝟏ᵀ exp(z): a literal 1 was remembered by id(), and a node built later
    at the same address (exp(z)) was read as the literal 1, so 1ᵀ exp(z) became 𝟏ᵀ𝟏 = n and
    a wrong answer passed its check (depending on the hash seed)."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONHASHSEED": seed}
    code = ("import matcalc; print(matcalc.parse(\"1' exp(z)\")); "
            "print(matcalc.diff(\"-y' z + log(1' exp(z))\", 'z').gradient); "
            "print(matcalc.check('logsumexp(z)', 'z', \"exp(z) / (1' exp(z))\").status)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.stdout.splitlines() == ["𝟏ᵀ exp(z)", "softmax(z) − y", "verified"], out.stdout + out.stderr


@pytest.mark.parametrize("text, where", [
    ("−N/2 log det(Σ) − (x − μ)ᵀ Σ⁻¹ (x − μ)/2", "Σ: N×N symmetric"),
    ("tr(Σ) − (x − μ)ᵀ Σ (x − μ)", "Σ: n×n"),
    ("s − (x − μ)ᵀ (x − μ)", "x: n"),
])
def test_a_default_that_makes_the_first_reading_fail_yields(text, where):
    """μ a scalar makes x a scalar in x − μ; with Σ's size declared the sum then fails.
    The reading with μ a vector parses, and it is said."""
    r = matcalc.diff(text, "μ", where)
    assert r.expression.shapes["μ"].endswith("×1") and r.expression.shapes["μ"] != "1×1"
    assert any("μ is a vector" in a for a in r.expression.assumptions)
    assert r.check(timeout=60).status == "verified"


def test_a_size_from_a_declared_absent_variable_reparses_as_that_size():
    """m ‖w‖² with X: m×n declared (X not in f): where() keeps X's declaration, so the
    printed gradient 2 (m + n) w re-parses with m and n as sizes, not as new variables."""
    r = matcalc.diff("m ‖w‖² + n wᵀ w", "w", "X: m×n, w: n")
    again = matcalc.parse(r.gradient.text(), r.expression.where())
    assert again.shapes == {"w": "n×1"}
    assert again.text() == "2 (m + n) w"
