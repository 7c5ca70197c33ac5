"""The language: every notation parses, shapes are inferred, printing round-trips, and
evaluation agrees with hand-written NumPy."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import pytest

import matcalc
from matcalc.api import to_text

from oracle import Oracle, matcalc_sizes


def sig(v):
    return 1 / (1 + np.exp(-v))


def softmax(v):
    e = np.exp(v - v.max())
    return e / e.sum()


class Case(NamedTuple):
    text: str
    where: str | None
    shapes: dict[str, str]  # every variable's shape, as matcalc names the sizes
    shape: str  # the expression's shape
    numpy: Callable  # the hand-written NumPy version, from a dict of values (and stand-ins of functions)
    domain: dict | None = None
    functions: str = ""  # the abstract functions, for the oracle: "L: function", "f: elementwise"

    def oracle(self) -> Oracle:
        """The case's NumPy, with its variables' shapes and domains."""
        words = self.domain or {}
        spec = [f"{name}: {shape} {words.get(name, '')}".strip() for name, shape in self.shapes.items()]
        return Oracle(", ".join(spec + ([self.functions] if self.functions else [])), self.numpy)


V = dict  # readability below

CASES: list[Case] = [
    # products by juxtaposition and *, scalar multiples, division, unary minus
    Case("W x + b", None, {"W": "m×n", "x": "n×1", "b": "m×1"}, "m×1", lambda v: v["W"] @ v["x"] + v["b"]),
    Case("W * x + b", None, {"W": "m×n", "b": "m×1", "x": "n×1"}, "m×1", lambda v: v["W"] @ v["x"] + v["b"]),
    Case("2 x", None, {"x": "m×1"}, "m×1", lambda v: 2 * v["x"]),
    Case("lambda * w' w", None, {"lambda": "1×1", "w": "m×1"}, "1×1", lambda v: v["lambda"] * v["w"].T @ v["w"]),
    Case("λ w' w", None, {"λ": "1×1", "w": "m×1"}, "1×1", lambda v: v["λ"] * v["w"].T @ v["w"]),
    Case("x / 2", None, {"x": "m×1"}, "m×1", lambda v: v["x"] / 2),
    Case("A / alpha", None, {"alpha": "1×1", "A": "m×n"}, "m×n", lambda v: v["A"] / v["alpha"]),
    Case("-x + y", None, {"x": "m×1", "y": "m×1"}, "m×1", lambda v: -v["x"] + v["y"]),
    Case("a - b - c", None, {"a": "m×1", "b": "m×1", "c": "m×1"}, "m×1", lambda v: v["a"] - v["b"] - v["c"]),
    Case("A (B + C)", None, {"A": "m×n", "B": "n×p", "C": "n×p"}, "m×p", lambda v: v["A"] @ (v["B"] + v["C"])),
    # transposes, inverses, powers
    Case("x' A x", None, {"A": "m×m", "x": "m×1"}, "1×1", lambda v: v["x"].T @ v["A"] @ v["x"]),
    Case("x^T A x", None, {"A": "m×m", "x": "m×1"}, "1×1", lambda v: v["x"].T @ v["A"] @ v["x"]),
    Case("xᵀ A x", None, {"A": "m×m", "x": "m×1"}, "1×1", lambda v: v["x"].T @ v["A"] @ v["x"]),
    Case("x′ A x", None, {"A": "m×m", "x": "m×1"}, "1×1", lambda v: v["x"].T @ v["A"] @ v["x"]),
    Case("X^{T} Y", None, {"X": "m×n", "Y": "m×p"}, "n×p", lambda v: v["X"].T @ v["Y"]),
    Case("inv(X)", None, {"X": "m×m"}, "m×m", lambda v: np.linalg.inv(v["X"]), {"X": "invertible"}),
    Case("X^-1", None, {"X": "m×m"}, "m×m", lambda v: np.linalg.inv(v["X"]), {"X": "invertible"}),
    Case("X^{-1} b", None, {"X": "m×m", "b": "m×1"}, "m×1", lambda v: np.linalg.solve(v["X"], v["b"]), {"X": "invertible"}),
    Case("X⁻¹", None, {"X": "m×m"}, "m×m", lambda v: np.linalg.inv(v["X"]), {"X": "invertible"}),
    Case("X^-T", None, {"X": "m×m"}, "m×m", lambda v: np.linalg.inv(v["X"]).T, {"X": "invertible"}),
    Case("X⁻ᵀ", None, {"X": "m×m"}, "m×m", lambda v: np.linalg.inv(v["X"]).T, {"X": "invertible"}),
    Case("X^2", None, {"X": "m×m"}, "m×m", lambda v: v["X"] @ v["X"]),
    Case("X³", None, {"X": "m×m"}, "m×m", lambda v: v["X"] @ v["X"] @ v["X"]),
    Case("(x' x)^2", None, {"x": "m×1"}, "1×1", lambda v: (v["x"].T @ v["x"]) ** 2),
    Case("norm(x)^2", None, {"x": "m×1"}, "1×1", lambda v: np.sum(v["x"] ** 2)),
    Case("‖x‖²", None, {"x": "m×1"}, "1×1", lambda v: np.sum(v["x"] ** 2)),
    Case("||A x - b||^2", None, {"A": "m×n", "b": "m×1", "x": "n×1"}, "1×1", lambda v: np.sum((v["A"] @ v["x"] - v["b"]) ** 2)),
    # Hadamard, elementwise division and powers, Kronecker
    Case("A .* B", None, {"A": "m×n", "B": "m×n"}, "m×n", lambda v: v["A"] * v["B"]),
    Case("A ⊙ B", None, {"A": "m×n", "B": "m×n"}, "m×n", lambda v: v["A"] * v["B"]),
    Case("x ./ y", None, {"x": "m×1", "y": "m×1"}, "m×1", lambda v: v["x"] / v["y"], {"y": "positive"}),
    Case("x .^ 2", None, {"x": "m×1"}, "m×1", lambda v: v["x"] ** 2),
    Case("x.^(1/2)", None, {"x": "m×1"}, "m×1", lambda v: np.sqrt(v["x"]), {"x": "positive"}),
    Case("kron(A, B)", None, {"A": "m×n", "B": "p×q"}, "m·p×n·q", lambda v: np.kron(v["A"], v["B"])),
    Case("A ⊗ B", None, {"A": "m×n", "B": "p×q"}, "m·p×n·q", lambda v: np.kron(v["A"], v["B"])),
    Case("(B' ⊗ A) vec(X)", "X: n×p, A: m×n, B: p×q", {"A": "m×n", "B": "p×q", "X": "n×p"}, "m·q×1",
         lambda v: np.kron(v["B"].T, v["A"]) @ v["X"].reshape(-1, 1, order="F")),
    # functions
    Case("tr(A X B)", "X: n×p", {"A": "m×n", "B": "p×m", "X": "n×p"}, "1×1", lambda v: np.trace(v["A"] @ v["X"] @ v["B"])),
    Case("trace(X)", None, {"X": "m×m"}, "1×1", lambda v: np.trace(v["X"])),
    Case("det(X)", None, {"X": "m×m"}, "1×1", lambda v: np.linalg.det(v["X"])),
    Case("logdet(X)", None, {"X": "m×m"}, "1×1", lambda v: np.linalg.slogdet(v["X"])[1], {"X": "spd"}),
    Case("vec(X)", None, {"X": "m×n"}, "m·n×1", lambda v: v["X"].reshape(-1, 1, order="F")),
    Case("diag(x)", None, {"x": "m×1"}, "m×m", lambda v: np.diag(v["x"].ravel())),
    Case("diag(X)", None, {"X": "m×m"}, "m×1", lambda v: np.diag(v["X"]).reshape(-1, 1)),
    Case("sum(X)", None, {"X": "m×n"}, "1×1", lambda v: np.sum(v["X"])),
    Case("norm(X)", None, {"X": "m×n"}, "1×1", lambda v: np.linalg.norm(v["X"])),
    Case("norm(x)", None, {"x": "m×1"}, "1×1", lambda v: np.linalg.norm(v["x"])),
    Case("exp(x) + log(y)", None, {"x": "m×1", "y": "m×1"}, "m×1", lambda v: np.exp(v["x"]) + np.log(v["y"]), {"y": "positive"}),
    Case("sin(X) .* cos(X)", None, {"X": "m×n"}, "m×n", lambda v: np.sin(v["X"]) * np.cos(v["X"])),
    Case("tanh(W x)", None, {"W": "m×n", "x": "n×1"}, "m×1", lambda v: np.tanh(v["W"] @ v["x"])),
    Case("sigmoid(z) + σ(z)", None, {"z": "m×1"}, "m×1", lambda v: 2 * sig(v["z"])),
    Case("relu(x) + softplus(x)", None, {"x": "m×1"}, "m×1", lambda v: np.maximum(v["x"], 0) + np.log1p(np.exp(v["x"]))),
    Case("sqrt(x) + abs(x)", None, {"x": "m×1"}, "m×1", lambda v: np.sqrt(v["x"]) + np.abs(v["x"]), {"x": "positive"}),
    Case("softmax(z)", None, {"z": "m×1"}, "m×1", lambda v: softmax(v["z"])),
    Case("-y' log(softmax(z))", None, {"y": "m×1", "z": "m×1"}, "1×1", lambda v: -v["y"].T @ np.log(softmax(v["z"]))),
    Case("1 - σ(x)", None, {"x": "m×1"}, "m×1", lambda v: 1 - sig(v["x"])),
    # constants: I, ones (seed 000's batch bias b 1ᵀ), zeros
    Case("X + I", None, {"X": "m×m"}, "m×m", lambda v: v["X"] + np.eye(len(v["X"]))),
    Case("W X + b 1ᵀ", "X: n×k", {"W": "m×n", "b": "m×1", "X": "n×k"}, "m×k", lambda v: v["W"] @ v["X"] + v["b"] @ np.ones((1, v["X"].shape[1]))),
    Case("W X + b 1'", "X: n×k", {"W": "m×n", "X": "n×k", "b": "m×1"}, "m×k", lambda v: v["W"] @ v["X"] + v["b"] @ np.ones((1, v["X"].shape[1]))),
    Case("1' y", None, {"y": "m×1"}, "1×1", lambda v: np.sum(v["y"])),
    Case("𝟏ᵀ y", None, {"y": "m×1"}, "1×1", lambda v: np.sum(v["y"])),
    Case("ones' y", None, {"y": "m×1"}, "1×1", lambda v: np.sum(v["y"])),
    # abstract functions (seed 001's L(W x + b)) and subscripted names
    Case("L(W x + b)", None, {"W": "m×n", "x": "n×1", "b": "m×1"}, "1×1", lambda v: v["L"](v["W"] @ v["x"] + v["b"]),
         functions="L: function"),
    Case("L(W1 σ(W0 x + b_0) + b_1)", None, {"W1": "m×n", "W0": "n×p", "b_0": "n×1", "b_1": "m×1", "x": "p×1"}, "1×1",
         lambda v: v["L"](v["W1"] @ sig(v["W0"] @ v["x"] + v["b_0"]) + v["b_1"]), functions="L: function"),
    Case("x₁' x₂", None, {"x₁": "m×1", "x₂": "m×1"}, "1×1", lambda v: v["x₁"].T @ v["x₂"]),
    Case("f(X)", "f: elementwise", {"X": "m×n"}, "m×n", lambda v: v["f"](v["X"]), functions="f: elementwise"),
    Case("x(y' z)", "x: n", {"x": "n×1", "y": "m×1", "z": "m×1"}, "n×1", lambda v: v["x"] * (v["y"].T @ v["z"])),
    Case("Σ x", None, {"Σ": "m×n", "x": "n×1"}, "m×1", lambda v: v["Σ"] @ v["x"]),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.text)
def test_shapes(case: Case) -> None:
    e = matcalc.parse(case.text, case.where)
    assert e.shapes == case.shapes
    assert matcalc.api.shape_str(e.shape) == case.shape


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.text)
@pytest.mark.parametrize("ascii", [False, True], ids=["unicode", "ascii"])
def test_round_trip(case: Case, ascii: bool) -> None:
    e = matcalc.parse(case.text, case.where)
    printed = e.text(ascii)
    if ascii:  # operators are ASCII; names stay as written (λ, x₁, Σ)
        names = "".join(e.shapes)
        assert all(ch.isascii() or ch in names for ch in printed), printed
    again = matcalc.parse(printed, e.where())
    assert again.tree == e.tree, f"{case.text} → {printed} → {again.text()}"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.text)
def test_evaluates_like_numpy(case: Case) -> None:
    e = matcalc.parse(case.text, case.where)
    p = case.oracle().point(np.random.default_rng(3))
    got = e.evaluate(p, dims=matcalc_sizes(e, p))
    want = case.numpy(p)  # abstract functions: the oracle's stand-ins
    np.testing.assert_allclose(np.atleast_2d(got), np.atleast_2d(want), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.text)
def test_latex_prints(case: Case) -> None:
    latex = matcalc.parse(case.text, case.where).latex()
    assert latex and latex.count("{") == latex.count("}")


def test_evaluate_takes_keywords_and_vectors_as_1d():
    e = matcalc.parse("x' A x")
    assert e.evaluate(x=np.array([1.0, 2.0]), A=np.eye(2)) == 5.0


def test_evaluate_reports_inconsistent_sizes():
    e = matcalc.parse("W x")
    with pytest.raises(matcalc.EvaluationError, match="n"):
        e.evaluate(W=np.ones((2, 3)), x=np.ones(4))


def test_evaluate_needs_a_size_no_array_fixes():
    e = matcalc.parse("b 1ᵀ")
    with pytest.raises(matcalc.EvaluationError, match="dims="):
        e.evaluate(b=np.ones(2))
    np.testing.assert_allclose(e.evaluate(b=np.ones(2), dims={"n": 3}), np.ones((2, 3)))


def _central_jacobian(fn: Callable, wrt: str, values: dict, h: float = 1e-6) -> np.ndarray:
    """∂ vec f / ∂ vec X by central differences (numerator layout) of ``fn``, NumPy."""
    x = np.asarray(values[wrt], dtype=float)
    cols = []
    for k in range(x.size):
        step = np.zeros(x.size)
        step[k] = h
        up, down = (np.ravel(fn({**values, wrt: (x.ravel(order="F") + s).reshape(x.shape, order="F")}), order="F")
                    for s in (step, -step))
        cols.append((up - down) / (2 * h))
    return np.column_stack(cols)


def _column(a: np.ndarray) -> np.ndarray:
    return a.reshape(-1, 1)


@pytest.mark.parametrize("text, wrt, layout, numpy", [
    # 𝟏ₙ ⊗ Iₘ: n is fixed by X, which is not in the Jacobian
    ("X + x 1'", "x", "numerator", lambda v: v["X"] + _column(v["x"]) @ np.ones((1, v["X"].shape[1]))),
    ("X + x 1'", "x", "denominator", lambda v: v["X"] + _column(v["x"]) @ np.ones((1, v["X"].shape[1]))),
    ("tanh(W x)", "W", "numerator", lambda v: np.tanh(v["W"] @ _column(v["x"]))),
    ("A X B", "X", "numerator", lambda v: v["A"] @ v["X"] @ v["B"]),
])
def test_a_derivative_evaluates_with_sizes_from_the_arrays(text, wrt, layout, numpy):
    rng = np.random.default_rng(7)
    r = matcalc.diff(text, wrt, layout=layout)
    shapes = {"X": (3, 4), "x": (3,), "W": (2, 3), "A": (2, 3), "B": (4, 5)}
    values = {n: rng.standard_normal(shapes[n]) for n in r.expression.shapes}
    got = r.evaluate(**values)  # no dims=
    want = _central_jacobian(numpy, wrt, values)
    np.testing.assert_allclose(got if layout == "numerator" else got.T, want, rtol=1e-6, atol=1e-8)


def test_a_gradient_evaluates_shaped_like_its_variable():
    r = matcalc.diff("L(W x + b)", "W")
    got = r.evaluate(W=np.eye(2), x=np.array([1.0, 2.0]), b=np.zeros(2), L=lambda v: float(v.sum()),
                     grad_L=lambda v: np.ones_like(v))
    np.testing.assert_allclose(got, np.array([[1.0, 2.0], [1.0, 2.0]]))
    # a size no array fixes still asks for dims=
    with pytest.raises(matcalc.EvaluationError, match="dims="):
        matcalc.diff("b 1ᵀ", "b").evaluate(b=np.ones(2))


# -------------------------------------------------------------------- name rules


def test_default_kinds():
    e = matcalc.parse("alpha A x + mu b + Λ y")
    assert e.shapes["alpha"] == "1×1" and e.shapes["mu"] == "1×1"
    assert e.shapes["x"].endswith("×1") and e.shapes["A"] != "1×1"
    assert e.shapes["Λ"] == "m×m" or "×" in e.shapes["Λ"]


def test_fresh_sizes_avoid_declared_names():
    e = matcalc.parse("tr(A X B)", "X: n×p")
    assert e.shapes == {"A": "m×n", "B": "p×m", "X": "n×p"}


def test_unknown_name_with_parentheses_is_an_abstract_function():
    e = matcalc.parse("L(W x + b)")
    assert e.shape == (1, 1) and "L" not in e.shapes and e.functions["L"].kind == "scalar"


def test_declared_variable_with_parentheses_is_a_product():
    e = matcalc.parse("A(B + C)", "A: m×n")
    assert e.shapes["A"] == "m×n" and e.shapes["B"] == e.shapes["C"] == "n×p"
    assert e.shape == ("m", "p") and not e.functions


def test_space_before_parenthesis_is_a_product():
    e = matcalc.parse("A (B + C)")
    assert "A" in e.shapes


def test_elementwise_derivative_notation():
    e = matcalc.parse("f'(x) + sigmoid'(x)", "f: elementwise")
    assert to_text(e.tree) == "f′(x) + σ′(x)"


def test_vector_function():
    e = matcalc.parse("g(x)", "g: vector function 3")
    assert e.shape == (3, 1)


def test_where_as_a_dict():
    e = matcalc.parse("A x", {"A": (2, 3), "x": 3})
    assert e.shapes == {"A": "2×3", "x": "3×1"}


def test_where_ascii_and_symmetric():
    e = matcalc.parse("x' S x", "x: n, S: n x n symmetric")
    assert e.variable("S").symmetric and e.shapes["S"] == "n×n"


@pytest.mark.parametrize("text", [
    "x' A x", "tr(A X B)", "L(W x + b)", "-y' log(softmax(z))", "logdet(X)", "b 1ᵀ", "(x' x) A",
])
def test_nodes_are_immutable_values(text: str) -> None:
    a, b = matcalc.parse(text).tree, matcalc.parse(text).tree
    assert a == b and hash(a) == hash(b)
    assert a is b  # a value is built once: the second parse finds the first one's nodes
    with pytest.raises(AttributeError):
        a.shape = (2, 2)  # type: ignore[misc]
