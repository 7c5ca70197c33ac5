"""Large results: a deep network's gradient is a DAG of O(k) nodes, and it prints in
O(k) characters — in ``str``, ``text()``, LaTeX, JSON and the command line — by naming
its shared subexpressions (``where z₁ = …``).  Printed with its bindings substituted, the
text means what the tree means.  No pass over a tree recurses: deep expressions work
under Python's default recursion limit, which importing matcalc leaves alone."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import matcalc
from matcalc.limits import MAX_NESTING
from matcalc.nodes import Expr
from matcalc.printing.shared import LONG, Sharing, join_text, split_text
from matcalc.printing.text import to_text


def network(depth: int, bias: bool = False) -> str:
    """``L(tanh(Wk … tanh(W1 x)))``, k = depth."""
    text = "x"
    for k in range(1, depth + 1):
        text = f"tanh(W{k} {text} + b{k})" if bias else f"tanh(W{k} {text})"
    return f"L({text})"


@pytest.fixture(scope="module")
def gradients() -> dict[int, matcalc.Derivative]:
    return {k: matcalc.diff(network(k), "W1") for k in (100, 200, 400)}


def _sizes(gradients: dict[int, matcalc.Derivative], show) -> list[int]:
    return [len(show(gradients[k])) for k in sorted(gradients)]


PRINTED = {
    "str": lambda r: str(r.gradient),
    "ascii": lambda r: r.gradient.text(ascii=True),
    "latex": lambda r: r.gradient.latex(),
    "json": lambda r: json.dumps(r.gradient.forms(), ensure_ascii=False),
    "derivative text": lambda r: r.text(),
    "derivative latex": lambda r: r.latex(),
}


@pytest.mark.slow
@pytest.mark.parametrize("form", PRINTED)
def test_printed_size_grows_linearly_with_depth(gradients, form):
    """Doubling the depth doubles the printed size (it was quadratic: 52 KB at 100
    layers, 854 KB at 400)."""
    small, medium, large = _sizes(gradients, PRINTED[form])
    assert medium / small < 2.3 and large / medium < 2.3, (small, medium, large)
    assert large < 150_000


@pytest.mark.slow
def test_the_command_line_output_grows_linearly(capsys):
    """(Not ``--steps`` or JSON, which hold the derivation: about 2k steps of O(k) each.)"""
    from matcalc.cli import main

    sizes = []
    for k in (100, 200):
        main(["diff", network(k), "W1", "--no-check"])
        sizes.append(len(capsys.readouterr().out))
    assert sizes[1] / sizes[0] < 2.3, sizes


# -- what the bindings mean ----------------------------------------------------------------------


def _values(e: matcalc.Expression, rng: np.random.Generator) -> dict:
    """Random values for every variable of ``e`` at small sizes (distinct, so that a
    transposed factor cannot pass unnoticed), and L(v) = Σ v³/3 with ∇L(v) = v²."""
    sizes: dict[str, int] = {}

    def size(d: str) -> int:
        return 1 if d == "1" else sizes.setdefault(d, 2 + len(sizes))

    values: dict = {}
    for name, shape in e.shapes.items():
        r, c = shape.split("×")
        values[name] = rng.standard_normal((size(r), size(c)))
    values["L"] = lambda v: float(np.sum(v ** 3) / 3)
    values["grad_L"] = lambda v: v ** 2
    return values


def _evaluate_with_bindings(text: str, where: str, values: dict) -> np.ndarray:
    """Parse ``text`` (``MAIN`` and its ``where z₁ = …`` lines) binding by binding, each
    binding read with the names bound before it, and evaluate it."""
    main, bindings = split_text(text)
    values = dict(values)
    decls = where
    for name, value in bindings:
        b = matcalc.parse(value, decls)
        values[name] = np.atleast_2d(b.evaluate(values))
        decls = f"{decls}, {name}: {'scalar' if b.shape == (1, 1) else b.shape_text}"
    return matcalc.parse(main, decls).evaluate(values)


@pytest.mark.parametrize("ascii", [False, True])
@pytest.mark.parametrize("text, wrt", [(network(5), "W1"), (network(5), "x"), (network(4, bias=True), "b2")])
def test_text_with_bindings_means_the_result(text, wrt, ascii):
    """With the threshold lowered, a 5-layer gradient prints with bindings; read back
    binding by binding, it evaluates to what the result evaluates to."""
    r = matcalc.diff(text, wrt)
    g = r.gradient
    sharing = Sharing([g.tree], g.names())  # only_beyond=0: name what is shared, however short
    (main,), bindings = sharing.rewrite(ascii)
    assert len(bindings) >= 3
    printed = join_text(to_text(main, ascii), [(n, to_text(v, ascii)) for n, v in bindings])
    assert "where" in printed and printed.isascii() == ascii
    rng = np.random.default_rng(7)
    values = _values(r.expression, rng)
    expected = g.evaluate(values)
    got = _evaluate_with_bindings(printed, r.expression.where(ascii), values)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_a_long_result_reads_back_to_its_value():
    """At the real threshold: a 12-layer gradient is long; every printed form names its
    shared parts, and the text, read back, has the result's value."""
    r = matcalc.diff(network(12), "W1")
    text = str(r.gradient)
    assert "\n  where z₁ = " in text and len(to_text(r.gradient.tree)) > LONG
    values = _values(r.expression, np.random.default_rng(3))
    np.testing.assert_allclose(_evaluate_with_bindings(text, r.expression.where(), values),
                               r.gradient.evaluate(values), rtol=1e-10)
    ascii = r.gradient.text(ascii=True)
    assert ascii.isascii() and "where z1 = " in ascii
    latex = r.gradient.latex()
    assert latex.startswith(r"\begin{aligned}") and r"\text{where } z_{1} = " in latex
    forms = r.gradient.forms()
    assert forms["text"] == text.split("\n")[0]
    first = forms["bindings"][0]
    assert (first["name"], first["ascii_name"], first["latex_name"]) == ("z₁", "z1", "z_{1}")
    assert set(first) == {"name", "ascii_name", "latex_name", "text", "ascii", "latex", "shape", "dims"}
    data = r.to_dict()
    assert data["gradient"] == forms and data["derivative"]["bindings"] == forms["bindings"]


def test_json_bindings_read_back(capsys):
    from matcalc.cli import main

    main(["diff", network(12), "W1", "--no-check", "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    g = data["gradient"]
    assert g["bindings"] and data["differential"]["bindings"]
    for form, name in (("text", "name"), ("ascii", "ascii_name")):
        decls = data["where"]
        for b in g["bindings"]:
            e = matcalc.parse(b[form], decls)
            assert e.shape_text == b["shape"]
            decls = f"{decls}, {b[name]}: {'scalar' if b['shape'] == '1×1' else b['shape']}"
        assert matcalc.parse(g[form], decls).shape_text == g["shape"]


def test_short_results_print_as_before():
    r = matcalc.diff(network(3), "W1")
    assert "where" not in str(r.gradient) and "\\text{where" not in r.gradient.latex()
    assert str(r.gradient) == to_text(r.gradient.tree)
    assert r.to_dict()["gradient"]["bindings"] == []
    assert str(matcalc.diff("L(W x + b)", "W").gradient) == "∇L(W x + b) xᵀ"


def test_binding_names_avoid_the_expressions_names():
    r = matcalc.diff(network(12).replace("x", "z"), "W1")  # the input is z: bindings are t₁, t₂, …
    assert "\n  where t₁ = " in str(r.gradient)
    assert all(b["name"].startswith("t") for b in r.to_dict()["gradient"]["bindings"])


def test_steps_name_their_shared_parts():
    r = matcalc.diff(network(12), "x")
    lines = r.steps.text().split("\n")
    assert any(line.lstrip().startswith("where z₁ = ") for line in lines)
    numbered = [line for line in lines if line.lstrip()[:1].isdigit()]
    assert len(numbered) == len(r.steps)


def test_many_kinks_are_one_note():
    r = matcalc.diff(network(60).replace("tanh", "relu"), "W1")
    assert "holds where no entry of an argument of relu is 0 (relu is applied 60 times)" in r.notes
    few = matcalc.diff(network(2).replace("tanh", "relu"), "W1")
    assert "holds where no entry of W1 x is 0" in few.notes


# -- depth ---------------------------------------------------------------------------------------


def test_importing_matcalc_leaves_the_recursion_limit_alone():
    code = ("import sys; before = sys.getrecursionlimit(); import matcalc, matcalc.cli; "
            "assert sys.getrecursionlimit() == before, sys.getrecursionlimit()")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.slow
def test_deep_expressions_need_no_deep_recursion():
    """A 400-layer network and chains at the nesting bound differentiate and print under
    a recursion limit far below their depth."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(400)  # pytest's own frames, and a margin: nothing may go deeper
    try:
        r = matcalc.diff(network(400, bias=True), "W200")
        assert len(r.text()) < 100_000 and r.gradient.latex()
        assert r.jacobian is not None and r.steps
        n = MAX_NESTING - 1
        chain = matcalc.diff("sum(" + "sin(" * n + "x" + ")" * (n + 1), "x")
        assert str(chain.gradient).count("cos(") == n
        assert matcalc.parse("x" + "'" * MAX_NESTING).text()
        J = matcalc.diff("tanh(W " * 300 + "x" + ")" * 300, "x").jacobian
        assert J.text()
    finally:
        sys.setrecursionlimit(old)


def test_a_tree_deeper_than_the_bound_is_a_clean_error():
    from matcalc.errors import ParseError
    from matcalc.limits import MAX_DEPTH

    with pytest.raises(ParseError, match=f"at most {MAX_DEPTH:,}"):
        matcalc.parse("λ" + "^2" * (MAX_DEPTH + 10))


def test_printing_a_deep_tree_is_iterative():
    e: Expr = matcalc.parse("sum(" + "sin(" * 990 + "I x" + ")" * 991).tree
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(200)
    try:
        text = to_text(e)
    finally:
        sys.setrecursionlimit(old)
    assert text.count("sin(") == 990


def test_split_text_inverts_join_text():
    assert split_text(join_text("z₂ xᵀ", [("z₁", "W x"), ("z₂", "tanh(z₁)")])) == (
        "z₂ xᵀ", [("z₁", "W x"), ("z₂", "tanh(z₁)")])
