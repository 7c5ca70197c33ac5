"""Printed text means what the tree means: it re-parses, with the expression's
declarations, to the same tree and shape — in Unicode and in ASCII, for parsed
expressions and for the results of ``diff``.  Zeros, identities and ones are printed with
their size wherever the text would otherwise hide it; a computed 1 is never printed as
the literal ``1`` of ``1ᵀ``."""

from __future__ import annotations

import dataclasses
from collections import Counter
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

import matcalc
from matcalc import functions as F
from matcalc.nodes import Add, Expr, MatMul, Num, Ones, Power, Size, Transpose, Var, Zeros, node
from matcalc.printing.latex import LatexPrinter, to_latex
from matcalc.printing.text import TextPrinter, to_text
from matcalc.syntax import parse_tree

from generate import WHERE, expression

COMMON = dict(deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _reparse(tree: Expr, where: str, ascii: bool) -> Expr:
    return parse_tree(to_text(tree, ascii), where, expect=tree.shape).tree


def assert_same_tree(tree: Expr, where: str) -> None:
    """The printed text re-parses to the same tree (and so the same shape)."""
    for ascii in (False, True):
        again = _reparse(tree, where, ascii)
        assert again == tree, f"{to_text(tree, ascii)!r} re-parses as {to_text(again, ascii)!r}: {again.dump()}"
        assert again.shape == tree.shape


def assert_text_fixpoint(tree: Expr, where: str) -> None:
    """The printed text re-parses to a tree of the same shape that prints the same.  (A
    parsed tree may hold a ⊙ whose operands only turned out 1×1 later in the parse; its
    text re-parses as the product it means, so the trees differ but the text does not.)"""
    for ascii in (False, True):
        again = _reparse(tree, where, ascii)
        assert again.shape == tree.shape
        assert to_text(again, ascii) == to_text(tree, ascii)


def assert_results_same_tree(r: matcalc.Derivative) -> None:
    where = r.expression.where()
    for part in (r.differential, r.gradient, r.jacobian):
        if part is not None:
            assert_same_tree(part.tree, where)


# -- the cases of issue 8 --------------------------------------------------------------


def test_a_zero_vector_inside_diag_prints_its_size():
    r = matcalc.diff("A diag(exp(y - y))", "A")
    assert str(r.differential) == "dA diag(exp(𝟎_{n,1}))"
    assert r.differential.text(ascii=True) == "dA diag(exp(zeros_{n,1}))"
    assert_results_same_tree(r)


def test_a_zero_row_inside_a_scalar_factor_prints_its_size():
    r = matcalc.diff("(sin(y' - y') x) X", "X")
    assert "𝟎_{1,m}" in str(r.differential)
    assert_results_same_tree(r)


def test_a_computed_one_is_not_the_ones_vector():
    e = matcalc.parse("(2 * 0.5)' x")
    assert e.shape == ("m", 1)  # a number times x, not 𝟏ᵀ x
    assert str(e) == "(1)ᵀ x"
    assert_same_tree(e.tree, e.where())
    assert matcalc.parse("(0.5+0.5)' x").shape == ("m", 1)
    assert matcalc.parse("(1)' x").shape == ("m", 1)


def test_the_literal_one_before_a_transpose_is_the_ones_vector():
    for text in ("1' x", "1ᵀ x", "1^T x", "1^{T} x"):
        e = matcalc.parse(text)
        assert e.shape == (1, 1), text
        (ones,) = [n for n in e.tree.walk() if isinstance(n, Ones)]
        assert ones.shape == ("m", 1)
    e = matcalc.parse("b 1ᵀ")
    assert isinstance(e.tree, MatMul) and e.tree.factors[1] == Transpose(Ones(("n", 1)))


def test_a_one_by_one_ones_prints_its_size():
    r = matcalc.diff("norm(1ᵀ ⊙ (3 z))", "z")  # 1ᵀ of length 1 (z is a scalar)
    assert "𝟏₁" in str(r.gradient)
    assert_results_same_tree(r)


@pytest.mark.parametrize("text, wrt", [("norm(1ᵀ ⊙ (3 z))", "z"), ("inv(softmax(-W ./ W))", "W")])
def test_fuzzed_tracebacks_are_answers(text, wrt):
    """Both built an empty product while canonicalising a ⊙ whose factors were 1×1."""
    r = matcalc.diff(text, wrt)
    assert r.text()
    assert_results_same_tree(r)


def test_x_to_the_zero_prints_and_reparses():
    e = matcalc.parse("X^0 A")
    assert str(e) == "X⁰ A" and e.text(ascii=True) == "X^0 A"
    assert_same_tree(e.tree, e.where())


# -- constants with and without their size ---------------------------------------------------

CONSTANTS = [
    ("x' I x", "x"), ("A + zeros", "A"), ("kron(I, A) x", "x"),
    ("b 1'", "b"), ("1' y", "y"), ("tr(I) x' x", "x"), ("A (x - x)", "x"),
    ("diag(y - y) A", "A"), ("sum(exp(A - A))", "A"), ("(x - x)' A", "A"), ("I_3 x", "x"),
    ("ones_3' y", "y"), ("tr(I) + x' x", "x"), ("zeros_{m,n} + X", "X"),
    ("x' (y - y)", "x"), ("tr(A - A) B", "B"), ("(x' (y - y)) A", "A"), ("A ⊙ (B - B)", "A"),
    ("X^0 B", "B"), ("unvec_{m,n}(a) + X", "X"), ("diag(x - x)", "x"),
]


@pytest.mark.parametrize("text, wrt", CONSTANTS)
def test_constants_round_trip(text, wrt):
    e = matcalc.parse(text)
    assert_text_fixpoint(e.tree, e.where())
    assert_results_same_tree(matcalc.diff(text, wrt))


def test_zeros_print_their_size_where_the_text_hides_it():
    z = Zeros(("n", 1))
    assert to_text(z) == "𝟎_{n,1}"  # alone, nothing tells its size
    assert to_text(z, ascii=True) == "zeros_{n,1}"


# -- random expressions -------------------------------------------------------------------------


def _picker(data):
    return lambda options: data.draw(st.sampled_from(list(options)))


#: constants in contexts that do (or do not) fix their size, spliced into random expressions
CONSTANT_TERMS = {
    ("n", "1"): ["(x - x)", "(A - A) x", "I x", "zeros", "ones_n", "(y - y)", "diag(a - a) x"],
    ("n", "p"): ["zeros", "(X - X)", "I X", "ones_n ones_p'", "A^0 X"],
    ("1", "1"): ["tr(A - A)", "x' (a - a)", "sin(x' - x') a", "(2 * 0.5)' alpha", "1' x", "tr(I)"],
}


@settings(max_examples=60, **COMMON)
@given(st.data())
def test_random_expressions_print_and_reparse_to_the_same_tree(data):
    expr, wrt = expression(_picker(data), depth=2)
    shape = {(1, 1): ("1", "1"), ("n", 1): ("n", "1"), ("n", "p"): ("n", "p")}.get(
        matcalc.parse(expr, WHERE).shape)
    if shape is not None and data.draw(st.booleans()):
        expr = f"{expr} + {data.draw(st.sampled_from(CONSTANT_TERMS[shape]))}"
    note(f"d/d{wrt} [{expr}]")
    e = matcalc.parse(expr, WHERE)
    assert_text_fixpoint(e.tree, e.where())
    assert_results_same_tree(matcalc.diff(expr, wrt, WHERE))


def _runs() -> list:
    """Products whose factors after the number, xᵀ y or xᵀ A y, are 1×1 together, flat
    and nested.  (The canonical form of ∂/∂x −aᵀ log(softmax(x/3)) is the flat
    −1/3 · (dxᵀ − …) · a.)"""
    x, y, alpha, A = Var("x", ("n", 1)), Var("y", ("n", 1)), Var("alpha", (1, 1)), Var("A", ("n", "n"))
    third, inv_alpha = Num(Fraction(1, 3)), Power(alpha, Num(-1))
    xy = MatMul((Transpose(x), y))
    flat = [
        MatMul((third, Transpose(x), y)), MatMul((Num(Fraction(-2, 3)), Transpose(x), A, y)),
        MatMul((inv_alpha, Transpose(x), y)), MatMul((Num(2), inv_alpha, Transpose(x), y)),
        MatMul((Num(-1), inv_alpha, Transpose(x), y)), MatMul((third, inv_alpha, Transpose(x), y)),
        Add((MatMul((Num(Fraction(-1, 3)), Add((Transpose(x), Transpose(y))), x)), alpha)),
    ]
    nested = [MatMul((third, xy)), MatMul((inv_alpha, xy)), MatMul((Num(Fraction(2, 3)), xy, A)), MatMul((third, x))]
    return [pytest.param(t, id=to_text(t)) for t in flat + nested]


@pytest.mark.parametrize("tree", _runs())
def test_a_fraction_of_a_one_by_one_run_round_trips(tree):
    """Written ``xᵀ y / 3`` the flat product, ``(xᵀ y) / 3`` the nested one (the parser
    once read both as the nested one)."""
    assert_same_tree(tree, "x: n, y: n, alpha: scalar, A: n×n")


# -- the printers' shared base ------------------------------------------------------------------


@node
class Mystery(Expr):
    """A node class no printer knows."""

    def _infer(self):
        return (1, 1)


@pytest.mark.parametrize("printer", [TextPrinter(), TextPrinter(ascii=True), LatexPrinter()])
def test_an_unknown_node_is_a_type_error_naming_its_class(printer):
    tree = Add((Var("a", (1, 1)), MatMul((Num(2), Mystery()))))
    with pytest.raises(TypeError, match=r"cannot print a Mystery node"):
        printer.doprint(tree)


def _row(name: str, **fields) -> F.Function:
    """A copy of a built-in row under another key, with other printing fields: printing
    must follow the fields, not the key."""
    return dataclasses.replace(F.lookup(name), key=f"{name}_copy", **fields)


X = Var("X", ("n", "n"))
x = Var("x", ("n", 1))


def test_a_postfix_row_prints_as_a_postfix():
    inv = F.lookup("inv")
    assert (to_text(inv(X)), to_text(inv(X), ascii=True), to_latex(inv(X))) == ("X⁻¹", "X^-1", "X^{-1}")
    assert to_text(Transpose(inv(X))) == "X⁻ᵀ" and to_latex(Transpose(inv(X))) == r"X^{-\top}"
    plus = _row("inv", postfix=("⁺", "^+", "^{+}"))
    assert (to_text(plus(X)), to_text(plus(X), ascii=True), to_latex(plus(X))) == ("X⁺", "X^+", "X^{+}")
    # postfix on postfix is parenthesised: (X⁺)ᵀ, not X⁺ᵀ
    assert to_text(Transpose(plus(X))) == "(X⁺)ᵀ"
    assert to_latex(Transpose(plus(X))) == r"\left(X^{+}\right)^{\top}"


def test_a_bar_row_prints_between_bars():
    norm, norm1 = F.lookup("norm"), F.lookup("norm1")
    assert (to_text(norm(x)), to_text(norm(x), ascii=True)) == ("‖x‖", "norm(x)")
    assert to_latex(norm(x)) == r"\left\lVert x \right\rVert"
    assert (to_text(norm1(x)), to_text(norm1(x), ascii=True)) == ("‖x‖₁", "norm1(x)")
    assert to_latex(norm1(x)) == r"\left\lVert x \right\rVert_{1}"
    seven = _row("norm1", bars=("₇", "_{7}"))
    assert (to_text(seven(x)), to_text(seven(x), ascii=True)) == ("‖x‖₇", "norm1(x)")
    assert to_latex(seven(x)) == r"\left\lVert x \right\rVert_{7}"


def test_bars_do_not_nest_in_text_but_do_in_latex():
    norm, norm1, tanh = F.lookup("norm"), F.lookup("norm1"), F.lookup("tanh")
    inner = tanh(MatMul((norm1(x), x)))
    assert to_text(norm(inner)) == "norm(tanh(‖x‖₁ x))"
    assert to_latex(norm(inner)) == (r"\left\lVert \tanh\left(\left\lVert x \right\rVert_{1} x\right) \right\rVert")
    assert to_text(MatMul((norm(x), norm1(x)))) == "‖x‖ ‖x‖₁"  # side by side is not nesting


def test_a_size_prints_as_its_name():
    m = Size("m")
    assert (to_text(m), to_latex(m)) == ("m", "m")
    assert to_text(MatMul((Power(m, Num(-1)), x))) == "x / m"
    assert to_latex(MatMul((Power(m, Num(-1)), x))) == r"\frac{1}{m} x"


def _nested_norms(depth: int) -> Expr:
    """‖tanh(tanh(… ‖tanh(tanh(… w)))‖ w …))‖: ``depth`` calls deep, two norms, with
    w = tanh(x) shared by the bottom of the chain and the product in the middle."""
    norm, tanh = F.lookup("norm"), F.lookup("tanh")
    w = tanh(x)
    v: Expr = w
    for half in range(2):
        for _ in range(depth // 2 - 2):
            v = tanh(v)
        v = norm(v) if half else MatMul((norm(v), w))
    return v


@pytest.mark.parametrize("make", [TextPrinter, lambda: TextPrinter(ascii=True), LatexPrinter])
def test_printing_a_dag_is_linear(make, monkeypatch):
    """Each distinct node is printed once, and each node's children are looked at a bounded
    number of times (the size analysis walks the tree a few times; the check that bars do
    not nest once walked the whole argument of every norm: 150 times for the innermost)."""
    tree = _nested_norms(300)
    nodes = {id(n) for n in tree.walk()}
    printer = make()
    printed: Counter[int] = Counter()
    for name in dir(printer):
        if name.startswith("_print_") and name != "_print":
            method = getattr(printer, name)

            def counting(e, method=method):
                printed[id(e)] += 1
                return method(e)

            setattr(printer, name, counting)
    looked = Counter()
    children = Expr.__dict__["children"]  # a slot, filled when the node is built

    def counting_children(self):
        looked[id(self)] += 1
        return children.__get__(self)

    monkeypatch.setattr(Expr, "children", property(counting_children))
    text = printer.doprint(tree)
    assert set(printed) == nodes and set(printed.values()) == {1}
    most = max(looked.values(), default=0)
    assert most <= 6, f"a node's children looked at {most} times"
    assert len(text) < 100 * len(nodes)


# -- issue 14: Python objects print as text, the tree on request -------------------------------


def test_steps_print_as_text_and_nodes_as_trees():
    r = matcalc.diff("x' A x", "x")
    step = r.steps[1]
    assert str(step) == "df = d(xᵀ) A x + xᵀ A dx    [product rule]"
    assert repr(step) == "Step('product rule', 'd(xᵀ) A x + xᵀ A dx', lhs='d f')"
    assert repr(r.steps) == str(r.steps) and repr(r.steps).splitlines()[-1].startswith("  5. ∂f/∂x = (A + Aᵀ) x")
    # a node is the tree itself, as constructor calls that rebuild it (the printers print it)
    from matcalc import nodes

    assert repr(r.gradient.tree) == r.gradient.tree.dump() and str(r.gradient) == "(A + Aᵀ) x"
    dump = r.gradient.tree.dump()
    assert dump.startswith("MatMul((Add((Var('A', ('m', 'm'), False), Transpose(Var('A'")
    assert eval(dump, {**vars(nodes), "Fraction": __import__("fractions").Fraction}) == r.gradient.tree


def test_a_deep_tree_dumps():
    e = matcalc.parse("x" + "'" * 1 + "".join(" + x" for _ in range(3)))
    tree = e.tree
    for _ in range(3000):  # deeper than Python's recursion limit
        tree = Transpose(tree)
    assert tree.dump().count("Transpose(") >= 3000


def test_verdicts_and_checks_print_as_text():
    v = matcalc.check("x' x", "x", "2 x")
    assert repr(v) == v.text() and repr(v).startswith("✓ correct: 2 x is the gradient of xᵀ x")
    assert repr(v.check) == f"<CheckResult {v.check}>" and "checked with SymPy" in repr(v.check)
    assert v._repr_markdown_().startswith("| $f$ | $\\frac{\\partial f}{\\partial x}$ (denominator layout) | check |")


def test_the_matrix_of_ones_reparses_as_the_matrix_of_ones():
    """sum(X) has the gradient 𝟏𝟏ᵀ (one node); its text 𝟏ₘ 𝟏ₙᵀ re-parses as that node, not
    as the product of a column and a row of ones (found by the tests' independent oracle)."""
    r = matcalc.diff("sum(X)", "X")
    assert str(r.gradient) == "𝟏ₘ 𝟏ₙᵀ"
    assert_results_same_tree(r)
    assert parse_tree("𝟏 𝟏ᵀ x").tree.factors[0] == Ones(("m", "n"))
