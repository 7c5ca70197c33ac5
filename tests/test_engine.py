"""Properties of the engine: derivation steps, confluence, zero handling, linear cost."""

from __future__ import annotations

import random

import pytest

import matcalc
from matcalc.api import canonical, to_text
from matcalc.rules.canon import normal_form

from oracle import Oracle, check_numerically, sigmoid


def test_steps_follow_seed_001():
    """Seed 001 derives ∂φ/∂W for φ = L(W x + b) by the chain rule, the product rule,
    the trace trick and trace cyclicity, then the first identification table."""
    r = matcalc.diff("L(W x + b)", "W")
    texts = [s.text() for s in r.steps]
    rules = [s.rule for s in r.steps]
    assert texts[0] == "d(L(W x + b))"
    assert texts[1] == "∇L(W x + b)ᵀ d(W x + b)" and rules[1] == "chain rule"
    assert "dW x" in texts[3] and "product rule" in rules[3]
    assert texts[-2] == "tr(x ∇L(W x + b)ᵀ dW)" and "cyclicity" in rules[-2]
    assert texts[-1] == "∇L(W x + b) xᵀ" and "identification" in rules[-1]


def test_jacobian_steps_use_vec_kronecker():
    r = matcalc.diff("A X B", "X")
    vec_step = next(s for s in r.steps if s.lhs == "vec dF")
    assert vec_step.text() == "(Bᵀ ⊗ A) vec(dX)" and "vec(A X B) = (Bᵀ ⊗ A) vec X" in vec_step.rule


def test_symmetric_gradient_is_symmetrised():
    r = matcalc.diff("tr(A S)", "S", "S: n×n symmetric")
    assert str(r.gradient) == "(A + Aᵀ) / 2" and r.check().ok
    assert any("sym(G)" in s.rule for s in r.steps)


def test_symmetric_quadratic_form_wrt_the_matrix():
    r = matcalc.diff("x' S x", "S", "S: n×n symmetric")
    assert str(r.gradient) == "x xᵀ" and r.check().ok


def test_layouts():
    r = matcalc.diff("L(W x + b)", "W", layout="numerator")
    assert str(r.derivative) == "x ∇L(W x + b)ᵀ"  # seed 000 eq. (15): x ∂L/∂z
    assert str(r.gradient) == "∇L(W x + b) xᵀ" and r.check().ok
    r = matcalc.diff("A x", "x", layout="denominator")
    assert str(r.jacobian) == "A" and str(r.derivative) == "Aᵀ" and r.check().ok


def test_terms_without_the_variable_drop_out():
    r = matcalc.diff("a' x", "a")
    assert str(r.gradient) == "x" and r.check().ok
    r = matcalc.diff("tr(A) + x' x", "A")
    assert str(r.gradient) == "Iₘ" and r.check().ok
    r = matcalc.diff("x' x + tr(A)", "x")
    assert str(r.gradient) == "2 x" and r.check().ok


# ---------------------------------------------------------------- confluence


TERMS = ["A x", "Aᵀ x", "2 B x", "-(A x)", "x", "c"]


@pytest.mark.parametrize("seed", range(8))
def test_confluence_of_sums(seed):
    """Shuffled sums give one canonical form."""
    rng = random.Random(seed)
    terms = TERMS[:]
    forms = set()
    for _ in range(4):
        rng.shuffle(terms)
        e = matcalc.parse(" + ".join(terms), "A: n×n, B: n×n")
        forms.add(normal_form(e.tree))
    assert len(forms) == 1


@pytest.mark.parametrize("a, b", [
    ("A' B'", "(B A)'"),
    ("(A + B)'", "B' + A'"),
    ("x ⊙ y ⊙ z", "z ⊙ (x ⊙ y)"),
    ("2 (x' y) A", "(y' x) A 2"),
    ("X X^-1 Y", "Y"),
    ("(a ⊙ b)' c", "c' (b ⊙ a)"),
    ("tr(A B)", "tr((A B)')"),
    ("x ⊙ x ./ x", "x"),
    ("X X X", "X^3"),
])
def test_equal_expressions_have_one_normal_form(a, b):
    ea, eb = matcalc.parse(a, "A: n×n, B: n×n, X: n×n, Y: n×p"), matcalc.parse(b, "A: n×n, B: n×n, X: n×n, Y: n×p")
    assert normal_form(ea.tree) == normal_form(eb.tree)


def test_product_order_is_preserved():
    """A rule must not fire across non-commuting factors."""
    ea = matcalc.parse("A B", "A: n×n, B: n×n")
    eb = matcalc.parse("B A", "A: n×n, B: n×n")
    assert normal_form(ea.tree) != normal_form(eb.tree)


def test_hadamard_power_rule_needs_equal_bases():
    e = matcalc.parse("x ⊙ y.^-1")
    assert to_text(canonical(e.tree)) == "x ./ y"


# ---------------------------------------------------------------- cost


def _network(depth: int) -> str:
    text = "x"
    for k in range(1, depth + 1):
        text = f"σ(W{k} {text} + b{k})"
    return f"L({text})"


@pytest.mark.parametrize("wrt", ["W1", "x"])
def test_deep_network_output_is_linear_in_depth(wrt):
    """Shared subexpressions are shared in the result: the DAG size grows linearly."""
    sizes = []
    for depth in (5, 10, 20):
        r = matcalc.diff(_network(depth), wrt)
        sizes.append(sum(1 for _ in r.gradient.tree.walk()))
    growth = [b - a for a, b in zip(sizes, sizes[1:])]
    # doubling the extra depth doubles the extra size: linear, not quadratic
    assert growth[1] <= 2.5 * growth[0]


def _network_numpy(depth: int) -> Oracle:
    """L(σ(W_k ⋯ σ(W1 x + b1) ⋯ + b_k)) in NumPy, layer k of size s_k."""
    spec = ", ".join(["x: s0", "L: function"] + [f"W{k}: s{k}×s{k - 1}, b{k}: s{k}" for k in range(1, depth + 1)])

    def f(v):
        h = v.x
        for k in range(1, depth + 1):
            h = sigmoid(v[f"W{k}"] @ h + v[f"b{k}"])
        return v.L(h)

    return Oracle(spec, f)


def test_deep_network_gradient_is_right():
    for wrt in ("W1", "x"):
        check_numerically(_network(3), wrt, None, _network_numpy(3))
        # the symbolic oracle is exact but slow on deep compositions: two layers
        assert matcalc.diff(_network(2), wrt).check(timeout=60).ok
