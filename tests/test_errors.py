"""Bad input gets a clear error: what, where in the input, why — never a traceback,
never a silently wrong answer."""

from __future__ import annotations

import pytest

import matcalc


def _error(text, where=None, cls=matcalc.MatcalcError):
    with pytest.raises(cls) as info:
        matcalc.parse(text, where)
    return info.value


def test_shape_error_names_operation_operands_and_position():
    err = _error("W x", "W: p×n, x: m", matcalc.ShapeError)
    msg = err.pretty()
    assert "matrix product" in msg
    assert "'W' is p×n" in msg and "'x' is m×1" in msg
    assert "n columns" in msg and "m rows" in msg
    assert msg.splitlines()[-2].strip() == "W x" and "^^^" in msg.splitlines()[-1]


def test_shape_error_inside_a_larger_expression_points_at_the_product():
    err = _error("b + W x", "W: p×n, x: m", matcalc.ShapeError)
    caret = err.pretty().splitlines()[-1]
    assert caret.index("^") == 2 + len("b + ")


def test_sum_of_different_shapes():
    err = _error("A + x", "A: m×n, x: p", matcalc.ShapeError)
    assert "sum" in err.message and "'A' is m×n" in err.message


def test_trace_of_a_non_square_matrix():
    err = _error("tr(A)", "A: m×n", matcalc.ShapeError)
    assert "square" in err.message and "tr" in err.message


def test_division_by_a_matrix():
    err = _error("x / A", "A: m×n", matcalc.ShapeError)
    assert "./" in err.message


def test_matrix_power_of_a_vector():
    err = _error("x^2", "x: n", matcalc.ShapeError)
    assert "square matrix has powers" in err.message and "x.^p" in err.message


def test_kronecker_sizes_ask_for_declarations():
    err = _error("(B' ⊗ A) vec(X)", "X: n×p", matcalc.ShapeError)
    assert "declare" in err.message


@pytest.mark.parametrize("text, fragment, column", [
    ("W x +", "ends too early", 5),
    ("x @ y", "unexpected character '@'", 2),
    ("A + * B", "unexpected '*'", 4),
    ("(A B", "ends too early", 4),
    ("‖x", "ends too early", 2),
    ("", "empty", 0),
])
def test_syntax_errors_point_at_the_fault(text, fragment, column):
    err = _error(text, cls=matcalc.ParseError)
    assert fragment in err.message
    assert err.span[0] == column


def test_non_integer_matrix_power():
    err = _error("X^(1/2)", cls=matcalc.ParseError)
    assert "whole numbers" in err.message and ".^" in err.message


def test_name_used_as_variable_and_function():
    err = _error("x' A x + x(y)", cls=matcalc.ParseError)
    assert "both" in err.message


def test_function_name_without_arguments():
    err = _error("tr + A", cls=matcalc.ParseError)
    assert "tr(…)" in err.message


def test_bad_declaration_points_into_where():
    with pytest.raises(matcalc.DeclarationError) as info:
        matcalc.parse("A x", "A: m×n, x n")
    assert "x n" in info.value.message and info.value.source == "A: m×n, x n"


@pytest.mark.parametrize("where, fragment", [
    ("S: m×n symmetric", "square"),
    ("A: m×n×p", "not a shape"),
    ("A: 0×3", "a size is a whole number from 1"),
    ("A: m×n, A: n", "twice"),
])
def test_declaration_errors(where, fragment):
    with pytest.raises(matcalc.DeclarationError, match=fragment):
        matcalc.parse("A", where)


# ---------------------------------------------------------------- missing rules


@pytest.mark.parametrize("expr, wrt, fragment", [
    ("sum(relu'(x))", "x", "relu'"),
    ("f(x, y)", "x", "2 arguments"),
    ("sum(hess L(x))", "x", "not three times"),
])
def test_missing_rules_fail_loudly(expr, wrt, fragment):
    with pytest.raises(matcalc.DiffError, match=fragment):
        matcalc.diff(expr, wrt)


def test_unknown_variable():
    with pytest.raises(matcalc.DiffError, match="variables are A, x"):
        matcalc.diff("A x", "y")


def test_bad_layout():
    with pytest.raises(matcalc.MatcalcError, match="layout"):
        matcalc.diff("x' x", "x", layout="sideways")


def test_jacobian_wrt_symmetric_matrix_is_refused():
    with pytest.raises(matcalc.DiffError, match="symmetric"):
        matcalc.diff("A S", "S", "S: n×n symmetric")


def test_an_error_points_into_its_own_input_after_an_earlier_parse():
    """Nodes are shared between parses (hash-consing); positions belong to each parse.
    After sum(relu'(x)) was parsed at position 4, the same subexpression in another input
    is reported where that input has it."""
    matcalc.parse("sum(relu'(x))")
    text = "2 + x' x + sum(relu'(x))"
    with pytest.raises(matcalc.DiffError) as info:
        matcalc.diff(text, "x")
    start, end = info.value.span
    assert text[start:end] == "relu'(x)"
    assert "^" * len("relu'(x)") in str(info.value)


@pytest.mark.parametrize("text, hint", [("x^\\top A x", "LaTeX commands are read in tables"),
                                        ("x‘ A x", "for a transpose write")])
def test_latex_and_wrong_quotes_typed_on_the_command_line_get_a_hint(text, hint):
    with pytest.raises(matcalc.ParseError, match=hint):
        matcalc.parse(text)
