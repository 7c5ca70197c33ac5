"""The SymPy check's routes against SymPy's own symbolic derivative (issue 24).

The oracle evaluates the expression as a jet (dual numbers) at random rational points, and
proves a claim by the same jet over polynomials in the entries.  Here every route is
compared with SymPy differentiating the expression's entries symbolically (the converter
of :mod:`matcalc.printing.sympy` and ``sympy.diff``) on small cases, and every route must
say ✓ for a right claim and ✗ for a wrong one."""

from __future__ import annotations

import random
from fractions import Fraction

import pytest
import sympy as sp
from sympy.polys.domains import QQ

import matcalc
from matcalc import functions as F
from matcalc.checking import domains, jets, sympy_oracle
from matcalc.checking.sizes import instantiate_sizes, variables_of
from matcalc.checking.sympy_oracle import check_derivative
from matcalc.printing.sympy import Abstract, SympyConverter, symbol_matrix


def _stand_ins(e: sp.Expr) -> sp.Expr:
    """SymPy's abstract functions (and their partial derivatives) replaced by the stand-in
    formulas the oracle evaluates at points."""
    def value(f: Abstract) -> sp.Expr:
        formula = domains.stand_in(domains.abstract_fn(f.family.name, len(f.args), f.index))
        return formula.expr.xreplace(dict(zip(formula.symbols, f.args, strict=True)))

    return e.replace(lambda x: isinstance(x, Abstract), value) if e.has(Abstract) else e


def _number(v) -> sp.Expr:
    if isinstance(v, type(QQ.one)):
        return sp.Rational(int(v.numerator), int(v.denominator))
    return sp.Float(v, 60)


def _close(a: sp.Expr, b: sp.Expr) -> bool:
    return abs(sp.N(a - b, 50)) <= sp.Float("1e-30") * (1 + abs(sp.N(b, 50)))


def _jets_against_sympy(expr: str, wrt: str, where: str | None = None, order: int = 1, seed: int = 3) -> int:
    """Every first (or second) partial derivative of every entry of ``expr`` by jets at a
    random rational point, against SymPy's derivative of the symbolic entry; the count."""
    e = matcalc.parse(expr, where)
    sizes = instantiate_sizes(e.tree)
    symbols = {n: symbol_matrix(v, sizes) for n, v in variables_of(e.tree).items()}
    rng = random.Random(seed)
    for _ in range(20):
        point = {s: sp.Rational(rng.randint(1, 9), rng.randint(2, 7))
                 for m in symbols.values() for s in sorted(m.free_symbols, key=str)}
        numbers = domains.AtPoint()
        x = symbols[wrt]
        r, k = x.rows, x.rows * x.cols
        # the derivative in the entry symbol at each position: for a symmetric matrix, x_ij = x_ji
        dok = {(j * r + i, j * r + i): 1 for j in range(x.cols) for i in range(r)}
        if e.variable(wrt).symmetric:
            dok.update({(i * r + j, j * r + i): 1 for j in range(x.cols) for i in range(r)})
        directions = jets.sparse_constant(dok, (k, k), 0, numbers)
        env = {}
        for n, m in symbols.items():
            values = [[QQ(int(point[s].p), int(point[s].q)) for s in row] for row in m.tolist()]
            flat = jets.Flat(numbers.matrix(values, m.shape), numbers)
            moved = directions if n == wrt else None
            env[n] = jets.Jet(flat, moved) if order == 1 else jets.Jet(jets.Jet(flat, moved),
                                                                         jets.Jet(moved) if moved else None)
        try:
            out = jets.Converter(sizes, env, numbers, order).convert(e.tree)
            break
        except matcalc.printing.sympy.UndefinedValue:
            continue
    # SymPy's reference: the variable's entries symbols, the others their values at the point
    others = {n: (m if n == wrt else m.xreplace(point)) for n, m in symbols.items()}
    f = SympyConverter(sizes, others).convert(e.tree)
    xs = [x[i, j] for j in range(x.cols) for i in range(x.rows)]
    compared = 0
    for a in range(f.rows * f.cols):
        fa = f[a % f.rows, a // f.rows]
        for b, xb in enumerate(xs):
            if order == 1:
                want = _stand_ins(sp.diff(fa, xb)).xreplace(point)
                got = out.tangent.element(a, b) if out.tangent is not None else QQ.zero
                assert _close(_number(got), want), (expr, a, b, got, want)
                compared += 1
                continue
            for c, xc in enumerate(xs):
                want = _stand_ins(sp.diff(fa, xb, xc)).xreplace(point)
                inner = out.tangent.tangent if out.tangent is not None else None
                got = inner.element(b, c) if inner is not None else QQ.zero
                assert _close(_number(got), want), (expr, b, c, got, want)
                compared += 1
    return compared


@pytest.mark.parametrize("expr, wrt, where", [
    ("tr(A inv(X) B)", "X", None), ("logdet(X)", "X", None), ("det(X)", "X", None), ("det(u u')", "u", None),
    ("tr(X^3)", "X", None), ("kron(X, A)", "X", None), ("vec(X')", "X", None), ("X ⊙ X", "X", None),
    ("-y' log(softmax(W x))", "W", None), ("softmax(X)", "X", None), ("‖A x - b‖", "x", None),
    ("x .^ a", "x", None), ("a .^ x", "x", None), ("L(W x + b)", "W", None), ("∇L(W x)", "x", None),
    ("sum(f(X))", "X", "f: elementwise"), ("f'(X)", "X", "f: elementwise"), ("L(g(x))", "x", "g: vector function m"),
    ("∂g(x)", "x", "g: vector function m"), ("∇²L(x)", "x", None), ("logdet(S)", "S", "S: n×n symmetric"),
])
def test_first_order_jets_are_sympys_derivatives(expr, wrt, where):
    assert _jets_against_sympy(expr, wrt, where) > 0


@pytest.mark.parametrize("expr, wrt", [
    ("tr(X' A X B)", "X"), ("logdet(X)", "X"), ("tr(inv(X))", "X"), ("a' inv(A + x x') b", "x"), ("det(u u' + A)", "u"),
    ("-y' log(softmax(z))", "z"), ("L(σ(W x + b))", "b"), ("tr(kron(X, X))", "X"), ("‖A x - b‖", "x"),
])
def test_second_order_jets_are_sympys_second_derivatives(expr, wrt):
    assert _jets_against_sympy(expr, wrt, order=2) > 0


def test_every_function_row_runs_on_jets():
    """Each row's own SymPy implementation, on jets, against SymPy's derivative of it."""
    for fn in F.TABLE.values():
        if fn.sympy is None:
            continue
        arg = "x" if "vector" in fn.requires else "X"
        assert _jets_against_sympy(f"{fn.name}({arg})", arg) > 0, fn.name


# ---------------------------------------------------------------- each route says ✓ and ✗


def _check(expr: str, wrt: str, claim: str, where: str | None = None, order: int = 1):
    if order == 1:
        r = matcalc.diff(expr, wrt, where)
        claimed = matcalc.parse(claim, r.expression.where()).tree
        return check_derivative(r.expression.tree, r.wrt, claimed, timeout=600)
    h = matcalc.hessian(expr, wrt, None, where)
    claimed = matcalc.parse(claim, h.expression.where()).tree
    return check_derivative(h.expression.tree, h.wrt, claimed, timeout=600, order=2)


@pytest.mark.parametrize("expr, wrt, right, wrong", [
    ("tr(A X B)", "X", "A' B'", "2 A' B'"),                    # polynomial
    ("x' inv(A) x", "x", "(inv(A) + inv(A)') x", "2 inv(A) x"),  # 1/det A, an atom
    ("logdet(X)", "X", "inv(X)'", "inv(X)"),                   # log of a polynomial, and 1/det
    ("‖x‖", "x", "x / ‖x‖", "x / (x' x)"),                     # a root, and its reciprocal
    ("L(W x + b)", "W", "∇L(W x + b) x'", "2 ∇L(W x + b) x'"),  # an abstract function
    ("sum(σ(X w))", "w", "X' σ'(X w)", "X' σ(X w)"),           # exp atoms
])
def test_the_symbolic_route_proves_right_claims_and_not_wrong_ones(expr, wrt, right, wrong):
    ok = _check(expr, wrt, right)
    assert ok.ok is True and ok.method == "exact", str(ok)
    bad = _check(expr, wrt, wrong)
    assert bad.ok is False and bad.method.startswith("at "), str(bad)  # found at a point


@pytest.mark.parametrize("expr, wrt, right, wrong, exact", [
    ("tr(A inv(X) B)", "X", "-(inv(X) B A inv(X))'", "-inv(X) B A inv(X)", True),
    ("tr(X' A X B)", "X", "A X B + A' X B'", "A X B + A X B'", True),
    ("‖A X B - C‖²", "X", "2 A' (A X B - C) B'", "A' (A X B - C) B'", None),
    ("L(W x + b)", "W", "∇L(W x + b) x'", "2 ∇L(W x + b) x'", False),
    ("-y' log(softmax(z))", "z", "softmax(z) 1' y - y", "softmax(z) - y", False),
])
def test_the_route_at_points_says_right_and_wrong(monkeypatch, expr, wrt, right, wrong, exact):
    monkeypatch.setattr(domains, "MAX_WORK", 0)  # no proof: every entry at points
    ok = _check(expr, wrt, right)
    assert ok.ok is True, str(ok)
    if exact is not None:
        assert ok.method == ("exact at 3 random rational points" if exact else
                             "at 3 random rational points, to 30 digits"), ok.method
    bad = _check(expr, wrt, wrong)
    assert bad.ok is False and "differs" in bad.detail, str(bad)


@pytest.mark.parametrize("expr, wrt, right, wrong", [
    ("tr(X' A X B)", "X", "kron(B, A') + kron(B', A)", "kron(B, A') + kron(B, A)"),
    ("logdet(X)", "X", "-kron(inv(X), inv(X)') K_{m,m}", "-kron(inv(X), inv(X)')"),
    ("-y' log(softmax(W x))", "W", "(1' y) kron(x x', diag(softmax(W x)) - softmax(W x) softmax(W x)')",
     "kron(x x', diag(softmax(W x)) - softmax(W x) softmax(W x)')"),
])
def test_hessians_entry_by_entry_say_right_and_wrong(monkeypatch, expr, wrt, right, wrong):
    monkeypatch.setattr(domains, "MAX_WORK", 0)
    assert _check(expr, wrt, right, order=2).ok is True
    bad = _check(expr, wrt, wrong, order=2)
    assert bad.ok is False and "Hessian entry" in bad.detail, str(bad)


def test_the_complex_route_says_right_and_wrong():
    """Where no random point gives real values (a log barrier with every variable positive),
    the values are complex (SymPy's principal branch), and a claim is still judged."""
    right = _check("-sum(log(b - A x))", "x", "A' (b - A x) .^ -1")
    assert right.ok is True, str(right)
    wrong = _check("-sum(log(b - A x))", "x", "A' (b - A x) .^ -2")
    assert wrong.ok is False, str(wrong)


# ---------------------------------------------------------------- the pieces


def test_vanishing_uses_roots_and_reciprocals():
    x, y = sp.symbols("x y")
    numbers = domains.Symbolic([x, y], atoms=4)
    gx, gy = numbers.symbols[x], numbers.symbols[y]
    u = gx * gx + gy * gy
    root = numbers.call(domains.named_formula("sqrt"), [u])           # √u, an atom
    assert numbers.vanishes(root * root - u)                        # (√u)² = u
    assert numbers.vanishes(numbers.reciprocal(u) * u - 1)          # (1/u) u = 1
    assert numbers.vanishes(numbers.power(root, -1) * root - 1)     # 1/√u √u = 1
    assert not numbers.vanishes(root - u)
    assert not numbers.vanishes(numbers.call(domains.named_formula("exp"), [gx]) - 1)  # exp(x) stays free


def test_the_symbolic_route_is_bounded_by_work_not_time():
    e = matcalc.parse("‖A X B - C‖²")
    sizes = instantiate_sizes(e.tree)
    symbols = {n: symbol_matrix(v, sizes) for n, v in variables_of(e.tree).items()}
    numbers = domains.Symbolic(list(dict.fromkeys(s for m in symbols.values() for s in m)), atoms=8)
    env = {n: jets.Flat(numbers.matrix([[numbers.symbols[s] for s in row] for row in m.tolist()], m.shape), numbers)
           for n, m in symbols.items()}
    with pytest.raises(domains.TooLarge):
        jets.Converter(sizes, env, numbers, 0).convert(e.tree)


def test_stand_ins_are_consistent_with_their_derivatives():
    """The derivative of an abstract function's stand-in is the stand-in of its partial
    derivative: L(W x + b)'s jet has ∇L's stand-in in it."""
    fn = domains.abstract_fn("L", 3)
    xi = domains.stand_in(fn).symbols
    for i in range(3):
        assert sp.simplify(sp.diff(domains.stand_in(fn).expr, xi[i]) - domains.stand_in(fn.partial(i)).expr) == 0
    assert domains.stand_in(fn.partial(0).partial(1)).expr == domains.stand_in(fn.partial(1).partial(0)).expr


def test_counterexample_values_are_printed_alike():
    assert sympy_oracle._texts(QQ(1, 3), QQ(-2)) == ["1/3", "-2"]
    real = domains.AtPoint().call(domains.named_formula("sqrt"), [QQ(2)])
    assert sympy_oracle._texts(real, QQ(1, 3)) == ["1.41421356237", "0.333333333333"]
    r = _check("sum(exp(x))", "x", "exp(x) / 2")
    assert r.ok is False
    claimed, true = r.mismatch["claimed"], r.mismatch["true"]
    assert "/" not in claimed and "/" not in true and "." in claimed and "." in true, r.detail
    r = _check("x' A x", "x", "2 A x")
    assert r.ok is False and "/" in r.mismatch["claimed"] + r.mismatch["true"] and "." not in r.mismatch["true"]


def test_random_points_are_rational_and_positive_where_needed():
    e = matcalc.parse("logdet(S) + x' x", "S: n×n symmetric")
    sizes = instantiate_sizes(e.tree)
    symbols = {n: symbol_matrix(v, sizes) for n, v in variables_of(e.tree).items()}
    point = sympy_oracle._random_point(symbols, {"S"}, random.Random(1))
    assert all(isinstance(v, Fraction) and v != 0 for v in point.values())
    s = symbols["S"]
    assert all(point[s[i, j]] > 0 for i in range(s.rows) for j in range(s.cols))
    assert sp.Matrix(s.rows, s.cols, lambda i, j: point[s[i, j]]).det() > 0  # diagonally dominant
