"""Readings: what users type is read as their notes mean it, and the output says so.

Each class of the readings issue is tested with its example and with members held out
from it; every derivative is compared with central differences of a NumPy function written
here, so that a reading and its derivative are checked against something matcalc did not
compute."""

from __future__ import annotations

import numpy as np
import pytest

import matcalc

RNG = np.random.default_rng(7)


def numeric_gradient(f, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    g = np.zeros_like(x)
    for idx in np.ndindex(*x.shape):
        e = np.zeros_like(x)
        e[idx] = h
        g[idx] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def assert_gradient(expr: str, wrt: str, f, values: dict, where: str | None = None) -> matcalc.Derivative:
    """matcalc's gradient of ``expr`` equals central differences of the hand-written ``f``."""
    r = matcalc.diff(expr, wrt, where)
    got = np.asarray(r.evaluate(**values), dtype=float).reshape(values[wrt].shape)
    want = numeric_gradient(lambda x: float(f({**values, wrt: x})), values[wrt])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    return r


# ----------------------------------------------------------------- letters as products

@pytest.mark.parametrize("text, printed, word", [
    ("x'Ax", "xᵀ A x", "Ax"),
    ("y'Bz", "yᵀ B z", "Bz"),
    ("tr(AXB)", "tr(A X B)", "AXB"),
    ("Wx + b", "W x + b", "Wx"),
    ("AB^-1 x", "A B⁻¹ x", "AB"),
    ("x'A'Ax", "xᵀ Aᵀ A x", "Ax"),
    ("u'Mv + c", "uᵀ M v + c", "Mv"),
])
def test_letters_written_together_are_a_product(text, printed, word):
    e = matcalc.parse(text)
    assert str(e) == printed
    assert any(n.startswith(f"{word} is read as the product") for n in e.assumptions), e.assumptions


def test_a_postfix_on_a_word_binds_to_its_last_letter():
    e = matcalc.parse("Ax' + B", where="x: n")  # A xᵀ: the prime is x's
    assert str(e) == "A xᵀ + B"


@pytest.mark.parametrize("name", ["W1", "x_i", "W_q", "x₁", "lambda", "Sigma", "eps", "sigma", "Ax"])
def test_names_that_stay_one_name(name):
    where = f"{name}: n×n" if name == "Ax" else None  # a declared word is one name
    e = matcalc.parse(f"tr({name})" if name[0].isupper() else f"{name}' {name}", where=where)
    assert name in e.shapes, e.shapes
    assert not any("read as the product" in n for n in e.assumptions)


def test_the_quadratic_form_written_without_spaces():
    x, a = RNG.normal(size=(4, 1)), RNG.normal(size=(4, 4))
    r = assert_gradient("x'Ax", "x", lambda v: (v["x"].T @ v["A"] @ v["x"]).item(), {"x": x, "A": a})
    assert str(r.gradient) == "(A + Aᵀ) x"
    assert any("Ax is read as the product A x" in n for n in r.notes)


def test_a_word_read_as_a_product_that_fails_says_how_it_was_read():
    with pytest.raises(matcalc.ShapeError, match="AB is read as the product A B"):
        matcalc.parse("AB x", where="A: m×n, B: p×q")


def test_letters_in_a_table_cell_and_a_check():
    v = matcalc.check("x'Ax", "x", "(A + A') x")
    assert v.correct is True
    v = matcalc.check("y'Bz", "z", "B'y")
    assert v.correct is True


# ------------------------------------------------------------ a literal 1 as the ones vector

def test_a_literal_1_before_a_row_is_the_ones_vector():
    e = matcalc.parse("A - 1 x'")
    assert str(e) == "A − 𝟏 xᵀ" and e.shapes["x"] == "n×1" and e.shapes["A"] == "m×n"
    assert any("vector of ones" in n for n in e.assumptions)


def test_layer_norm_written_with_literal_ones_keeps_x_a_vector():
    text = "g' ((x - 1 (1' x)/n) / sqrt(‖x - 1 (1' x)/n‖² / n + ε))"
    e = matcalc.parse(text)
    assert e.shapes["x"] == "n×1" and e.shapes["g"] == "n×1" and e.shapes["ε"] == "1×1"
    n = 5
    x, g = RNG.normal(size=(n, 1)), RNG.normal(size=(n, 1))

    def f(v):
        c = v["x"] - v["x"].mean()
        return (v["g"].T @ c).item() / np.sqrt(np.sum(c * c) / n + v["ε"])

    assert_gradient(text, "x", f, {"x": x, "g": g, "ε": 0.1})


# ------------------------------------------------------------ scalars added to arrays

@pytest.mark.parametrize("text, scalar", [
    ("sum(log(w.^2 + ε))", "ε"),
    ("sum(sqrt(x.^2 + δ))", "δ"),
    ("sum(log(x.^2 + eps))", "eps"),
    ("sum(log(p + ε))", "ε"),
])
def test_a_greek_constant_added_to_an_array_is_a_scalar(text, scalar):
    e = matcalc.parse(text)
    assert e.shapes[scalar] == "1×1"
    assert any(n.startswith(f"{scalar} is a scalar added to every entry") for n in e.assumptions), e.assumptions
    wrt = next(v for v in e.shapes if v != scalar)
    x = RNG.uniform(0.5, 2.0, size=(4, 1))
    fn = {"log": np.log, "sqrt": np.sqrt}["log" if "log" in text else "sqrt"]
    square = ".^2" in text
    r = assert_gradient(text, wrt, lambda v: float(np.sum(fn((v[wrt] ** 2 if square else v[wrt]) + v[scalar]))),
                        {wrt: x, scalar: 1e-2})
    assert r.evaluate(**{wrt: x, scalar: 1e-8}).shape == (4, 1)  # the scalar the user meant


@pytest.mark.parametrize("text, wrt, f", [
    ("‖x - (1' x)/n‖²", "x", lambda v: float(np.sum((v["x"] - v["x"].mean()) ** 2))),
    ("tr((X - tr(X)/n)' (X - tr(X)/n))", "X",
     lambda v: float(np.sum((v["X"] - np.trace(v["X"]) / v["X"].shape[0]) ** 2))),
    ("‖y - x' y‖²", "y", lambda v: float(np.sum((v["y"] - v["x"].T @ v["y"]) ** 2))),
])
def test_a_scalar_expression_added_to_an_array_is_added_to_every_entry(text, wrt, f):
    e = matcalc.parse(text)
    assert any("is a scalar added to every entry" in n for n in e.assumptions), e.assumptions
    n = 4
    values = {"x": RNG.normal(size=(n, 1)), "y": RNG.normal(size=(n, 1)), "X": RNG.normal(size=(n, n))}
    values = {k: v for k, v in values.items() if k in e.shapes}
    assert_gradient(text, wrt, f, values)


def test_a_greek_letter_added_to_a_vector_variable_takes_its_shape():
    e = matcalc.parse("-1/2 (x - μ)' inv(Σ) (x - μ)")
    assert e.shapes["μ"] == "m×1"
    assert matcalc.parse("x - μ").shapes["μ"] == "m×1"


def test_a_declared_scalar_stays_a_scalar():
    e = matcalc.parse("x - μ", where="μ: scalar")
    assert e.shapes["μ"] == "1×1" and e.shapes["x"] == "m×1"
    assert any("μ is a scalar added to every entry" in n for n in e.assumptions)


# ------------------------------------------------------------ softmax of a matrix

def test_softmax_of_a_matrix_says_it_normalises_columns():
    e = matcalc.parse("softmax(Q K') V")
    assert any("normalises each column" in n and "softmax((Q K')ᵀ)ᵀ" in n for n in e.assumptions)
    assert not any("normalises" in n for n in matcalc.parse("softmax(z)").assumptions)


def test_logsumexp_of_a_matrix_says_which_way_to_write_it():
    with pytest.raises(matcalc.MatcalcError, match=r"log\(𝟏ᵀ exp\(Z\)\)"):
        matcalc.parse("logsumexp(X)", where="X: m×n")


# ------------------------------------------------------------ right only under a condition

@pytest.mark.parametrize("expr, wrt, claim, where, condition", [
    ("-y' log(softmax(W x))", "W", "(softmax(W x) - y) x'", None, "𝟏ᵀy = 1"),
    ("-y' log(softmax(z))", "z", "softmax(z) - y", None, "𝟏ᵀy = 1"),
    ("-t' log(softmax(A w + c))", "w", "A' (softmax(A w + c) - t)", None, "𝟏ᵀt = 1"),
    ("‖Q x - b‖²", "x", "2 (x - Q' b)", "Q: n×n", "Q is orthogonal"),
    ("‖Q x - b‖²", "x", "2 (x - Q' b)", "Q: m×n", "Q has orthonormal columns"),
])
def test_a_claim_right_only_under_a_condition_says_which(expr, wrt, claim, where, condition):
    where = "Q: 5×3" if where == "Q: m×n" else where  # tall: QᵀQ = I is possible
    v = matcalc.check(expr, wrt, claim, where)
    assert v.correct is False
    assert any(condition in d for d in v.diagnosis), v.diagnosis


def test_a_wrong_claim_is_not_said_to_be_right_under_a_condition():
    v = matcalc.check("-y' log(softmax(z))", "z", "softmax(z) + y")
    assert v.correct is False and not any("right only when" in d for d in v.diagnosis)
