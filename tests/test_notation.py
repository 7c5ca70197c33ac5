"""Notation users write: each form parses to the tree expected (compared by printing it),
re-parses from its printed form, and a derivative through it checks out with SymPy."""

from __future__ import annotations

from typing import NamedTuple

import pytest

import matcalc


class Form(NamedTuple):
    text: str
    where: str | None
    printed: str  # the tree, printed in text
    wrt: str  # a variable to differentiate with respect to (the check must verify)


FORMS: list[Form] = [
    # Unicode vulgar fractions: exact numbers; 2½ is two and a half
    Form("½ x'A x", None, "xᵀ A x / 2", "x"),
    Form("⅔ tr(X)", None, "2 tr(X) / 3", "X"),
    Form("2½ x'x", None, "5 xᵀ x / 2", "x"),
    Form("¼ ‖x‖²", None, "‖x‖² / 4", "x"),
    # transposes: ⊤ (U+22A4) and the curly apostrophe ’ (U+2019)
    Form("x⊤ A x", None, "xᵀ A x", "x"),
    Form("tr(X^⊤ A)", None, "tr(Xᵀ A)", "X"),
    Form("x’ A x", None, "xᵀ A x", "x"),
    # non-breaking and thin spaces are spaces; zero-width characters are ignored
    Form("x\u00a0' A\u2009x", None, "xᵀ A x", "A"),
    Form("x\u202f+\u2002sin(x)", None, "x + sin(x)", "x"),
    Form("x\u200b'\ufeff A x", None, "xᵀ A x", "x"),
    Form("sum(lo\u200dg(x))", None, "sum(log(x))", "x"),
    # log det and bars
    Form("log det(X)", None, "logdet(X)", "X"),
    Form("log det X", None, "logdet(X)", "X"),
    Form("log|X|", None, "logdet(X)", "X"),
    Form("-log |Σ| + tr(Σ⁻¹ S)", None, "−logdet(Σ) + tr(Σ⁻¹ S)", "Σ"),
    Form("|Σ|", None, "det(Σ)", "Σ"),
    Form("|α| + α", None, "abs(α) + α", "α"),
    Form("|xᵀ y|", None, "abs(xᵀ y)", "x"),
    # the Frobenius inner product
    Form("⟨A, X⟩", None, "tr(Aᵀ X)", "X"),
    Form("A : X", None, "tr(Aᵀ X)", "A"),
    Form("⟨a, x⟩", None, "aᵀ x", "x"),
    Form("a : x", None, "aᵀ x", "x"),
    Form("A : X B + λ", None, "tr(Aᵀ X B) + λ", "X"),
    # norms with subscripts
    Form("‖x‖₁", None, "‖x‖₁", "x"),
    Form("‖x‖_1", None, "‖x‖₁", "x"),
    Form("||x||_1", None, "‖x‖₁", "x"),
    Form("||x||_{1}", None, "‖x‖₁", "x"),
    Form("‖X‖_F", None, "‖X‖", "X"),
    Form("‖x‖₂", None, "‖x‖", "x"),
    Form("‖x‖_2", None, "‖x‖", "x"),
    Form("||x||_2", None, "‖x‖", "x"),
    Form("‖x‖₂²", None, "‖x‖²", "x"),
    Form("||x||_2^2", None, "‖x‖²", "x"),
    Form("norm2(x)", None, "norm2(x)", "x"),
    Form("‖ |α| x ‖", None, "‖abs(α) x‖", "x"),
    # sizes used as numbers
    Form("‖X w − y‖² / m", None, "‖X w − y‖² / m", "w"),
    Form("‖X w − y‖² / m", "X: m×n", "‖X w − y‖² / m", "w"),
    Form("‖X w − y‖² / n", None, "‖X w − y‖² / n", "w"),
    Form("‖X w − y‖² / (2 m)", None, "‖X w − y‖² / (2 m)", "w"),
    Form("(1/n) 𝟏ᵀ x", None, "𝟏ᵀ x / n", "x"),
    Form("tr(S)/k", None, "tr(S) / k", "S"),
    Form("sum(X) / (m n)", None, "sum(X) / (m n)", "X"),
    Form("‖X w − y‖² / N", "X: N×d", "‖X w − y‖² / N", "w"),
]


@pytest.mark.parametrize("form", FORMS, ids=lambda f: f.text)
def test_parses_to_the_expected_tree(form: Form) -> None:
    assert matcalc.parse(form.text, form.where).text() == form.printed


@pytest.mark.parametrize("form", FORMS, ids=lambda f: f.text)
@pytest.mark.parametrize("ascii", [False, True], ids=["unicode", "ascii"])
def test_printed_form_reparses_to_the_same_tree(form: Form, ascii: bool) -> None:
    e = matcalc.parse(form.text, form.where)
    again = matcalc.parse(e.text(ascii), e.where())
    assert again.tree == e.tree, f"{form.text} → {e.text(ascii)} → {again.text()}"


@pytest.mark.parametrize("form", FORMS, ids=lambda f: f.text)
def test_derivative_checks_out(form: Form) -> None:
    result = matcalc.diff(form.text, form.wrt, form.where).check()
    assert result.status == "verified", result


# ------------------------------------------------------------------ sizes as numbers


def test_a_size_is_tied_to_the_size_of_that_default_name():
    e = matcalc.parse("‖X w − y‖² / m")
    assert e.shapes == {"X": "m×n", "w": "n×1", "y": "m×1"}
    assert any("m is the number of rows of X" in n for n in e.notes())


def test_a_size_is_the_one_size_left():
    e = matcalc.parse("(1/n) 𝟏ᵀ x")
    assert e.shapes == {"x": "n×1"}
    assert any("n is the length of x" in n for n in e.notes())
    assert matcalc.parse("tr(S)/k").shapes == {"S": "k×k"}


def test_a_declared_size_needs_no_note():
    e = matcalc.parse("‖X w − y‖² / m", "X: m×n")
    assert not any("size" in n for n in e.notes())


def test_a_size_name_used_as_a_variable_stays_a_variable():
    e = matcalc.parse("m' x + n")
    assert e.shapes["m"] == "p×1" or e.shapes["m"].endswith("×1")
    with pytest.raises(matcalc.ShapeError, match="divisor"):  # m both a vector and a divisor
        matcalc.parse("m' x / m")


def test_a_greek_scalar_divisor_stays_a_variable():
    e = matcalc.parse("x / λ")
    assert e.shapes["λ"] == "1×1"


def test_an_unclear_size_is_an_error_that_says_what_to_declare():
    with pytest.raises(matcalc.ParseError, match='cannot tell which size.*--where "X: k×n"') as info:
        matcalc.parse("‖X w − y‖² / k")
    assert info.value.span[0] == len("‖X w − y‖² / ")


def test_a_size_that_no_shape_has_is_an_error():
    with pytest.raises(matcalc.ParseError, match="no size of the expression is left"):
        matcalc.parse("x / m", "x: n")


def test_differentiating_with_respect_to_a_size_is_an_error():
    with pytest.raises(matcalc.DiffError, match=r"m is a size \(the number of rows of X\), not a variable"):
        matcalc.diff("‖X w − y‖² / m", "m")


# --------------------------------------------------------------- errors and limits


@pytest.mark.parametrize("text, where, fragment", [
    ("|x|", None, r"around a vector: write abs\(…\).*‖…‖"),
    ("|A|", "A: m×n", r"around a m×n matrix: write abs\(…\).*‖…‖"),
    ("‖X‖₁", None, "norm1"),
    ("‖X‖_2", None, "spectral"),
    ("log det X Y", None, "ambiguous"),
    ("x: scalar", None, "declaration"),
    ("A : B : C", None, "unexpected ':'"),
    ("|x", None, "ends too early"),
])
def test_notation_errors(text, where, fragment):
    with pytest.raises(matcalc.MatcalcError, match=fragment):
        matcalc.parse(text, where)


def test_inner_product_of_two_shapes_is_a_shape_error():
    with pytest.raises(matcalc.ShapeError, match="Frobenius inner product"):
        matcalc.parse("⟨A, X⟩", "A: m×n, X: n×n")


def test_error_positions_point_into_the_original_text():
    text = "x\u200b\u200b + A\u200b\u200b@"
    with pytest.raises(matcalc.ParseError) as info:
        matcalc.parse(text)
    assert text[info.value.span[0]] == "@" and info.value.source == text
    text = "b\u200b + W\u200b x"
    with pytest.raises(matcalc.ShapeError) as info:
        matcalc.parse(text, "W: p×n, x: m")
    start, end = info.value.span
    assert text[start:end] == "W\u200b x"


def test_node_positions_point_into_the_original_text():
    text = "\ufeffx\u200b' A x + sum(relu'(x))"
    with pytest.raises(matcalc.DiffError) as info:  # a missing rule points at its node
        matcalc.diff(text, "x")
    start, end = info.value.span
    assert text[start:end] == "relu'(x)"


def test_names_are_resolved_from_the_function_table():
    """Every name the table knows is callable, and none is mistaken for a variable."""
    for name in matcalc.functions.names():
        fn = matcalc.functions.lookup(name)
        if fn is None or fn.name != name or len(name) == 1:
            continue
        with pytest.raises(matcalc.ParseError, match="is a function"):
            matcalc.parse(f"{name} + x")


def test_a_declared_size_is_that_size_wherever_it_is_written():
    """−N/2 log|Σ| with Σ: N×N: N is Σ's size, not a new scalar variable N (which would
    answer another question, with a where line saying N: scalar beside Σ: N×N)."""
    r = matcalc.diff("-N/2 log|Σ| - ½ tr(inv(Σ) S)", "Σ", "Σ: N×N")
    assert "N: scalar" not in r.text()
    assert str(r.gradient) == "(Σ⁻ᵀ Sᵀ Σ⁻ᵀ − N Σ⁻ᵀ) / 2"
    assert r.check(timeout=60).ok is True


def test_a_declared_size_called_like_a_function_is_an_error():
    with pytest.raises(matcalc.ParseError, match="'N' is a size"):
        matcalc.parse("N(x)", "x: N")
    assert matcalc.parse("N (x)", "x: N").text() == "N x"


@pytest.mark.parametrize("text", ["λ ‖w‖₁ + ‖X w − y‖² / m", "‖X w − y‖² / m + λ ‖w‖₁", "½ ‖X w − y‖₂² / m + λ ‖w‖₁"])
def test_a_size_used_as_a_number_does_not_depend_on_the_order_of_terms(text):
    """m is the rows of X (the number of samples) wherever X stands in the expression."""
    r = matcalc.diff(text, "w")
    assert r.expression.shapes["X"] == "m×n"
    assert "m is the number of rows of X" in r.text()


def test_a_capital_size_letter_as_a_coefficient_is_a_number_when_a_matrix_makes_no_sense():
    """−N/2 log|Σ|: N a matrix would make f a matrix; N is read as Σ's size, and said."""
    r = matcalc.diff("-N/2 log|Σ|", "Σ")
    assert str(r.gradient) == "−N Σ⁻ᵀ / 2"
    assert "N is the size of the square matrix Σ" in r.text()


def test_norm2_of_a_matrix_is_the_frobenius_norm_and_says_so():
    """norm2 is MatrixCalculus.org's "Euclidean norm of a vector or Frobenius norm of a
    matrix": of a matrix the output says which norm it read (never silently); ‖X‖₂ written
    with bars is the spectral norm, which stays an error."""
    for where in ("X: m×n", None):
        r = matcalc.diff("norm2(X)", "X", where)
        assert r.expression.shapes["X"] == "m×n" and str(r.gradient) == "X / ‖X‖"
        assert any("Frobenius norm" in n for n in r.notes) and r.check().ok
    assert not any("Frobenius" in n for n in matcalc.diff("norm2(x)", "x").notes)
    with pytest.raises(matcalc.ParseError, match="spectral norm"):
        matcalc.parse("‖X‖₂")
    assert str(matcalc.diff("norm2(A x - b)^2", "x").gradient) == "2 Aᵀ (A x − b)"
