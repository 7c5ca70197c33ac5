"""Differential rules (Magnus–Neudecker), one per node type.

A rule takes a node and the differentials of its children (zero for children that do
not depend on the variable) and returns the node's differential, like a JVP rule.
Built-in functions carry their rule in their row of :mod:`matcalc.functions`.

:func:`differential` applies the rules bottom-up, once per distinct subexpression, so
the cost is linear in the size of the expression's DAG.  :func:`derivation` applies the
*same* rules one level at a time, with ``d(child)`` left unexpanded, to show the steps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import functions as F
from ..algebra import add, hadamard, mul, transpose, zero
from ..errors import DiffError
from ..nodes import (
    Add,
    Apply,
    Call,
    Deriv,
    Diff,
    Expr,
    Grad,
    Hadamard,
    Hess,
    Identity,
    Jac,
    Kron,
    MatMul,
    MatPow,
    Num,
    Power,
    Transpose,
    Unvec,
    Var,
    depends_on,
    is_zero,
    num,
)


def _nonzero(ds: tuple[Expr, ...]) -> list[int]:
    return [i for i, d in enumerate(ds) if not is_zero(d)]


@dataclass(frozen=True)
class Rule:
    """One differential rule: its name, as a derivation step shows it, and the rule itself,
    ``(node, differentials of its children) → the node's differential``."""

    name: str
    d: Callable[[Any, tuple[Expr, ...]], Expr]


def _nonzero(ds: tuple[Expr, ...]) -> list[int]:
    return [i for i, d in enumerate(ds) if not is_zero(d)]


def product_rule(name: str, build: Callable[..., Expr], factors: Callable[[Any], tuple[Expr, ...]]) -> Rule:
    """The product rule of a multilinear product, from how it is built from its factors:
    d(A ∘ B ∘ C) = dA ∘ B ∘ C + A ∘ dB ∘ C + A ∘ B ∘ dC (for ∘ the matrix, Hadamard or
    Kronecker product) — as JAX's ``defbilinear`` derives a JVP from the product itself."""

    def d(e: Expr, ds: tuple[Expr, ...]) -> Expr:
        f = factors(e)
        terms = [build(*f[:i], ds[i], *f[i + 1:]) for i in _nonzero(ds)]
        return add(*terms) if terms else zero(e.shape)

    d.__doc__ = f"d(A B C) = dA B C + A dB C + A B dC ({name})"
    return Rule(name, d)


def d_add(e: Add, ds: tuple[Expr, ...]) -> Expr:
    """d(A + B) = dA + dB."""
    return add(*ds)


def d_transpose(e: Transpose, ds: tuple[Expr, ...]) -> Expr:
    """d(Aᵀ) = (dA)ᵀ."""
    return transpose(ds[0])


def d_power(e: Power, ds: tuple[Expr, ...]) -> Expr:
    """d(A.^p) = p A.^(p−1) ⊙ dA;  with a variable exponent also A.^p ⊙ log(A) dp."""
    db, dp = ds
    b, p = e.base, e.exponent
    terms = []
    if not is_zero(db):
        if isinstance(p, Num):
            lower = b if p.value == 2 else Power(b, num(p.value - 1))
        else:
            lower = Power(b, add(p, num(-1)))
        terms.append(mul(p, hadamard(lower, db)))
    if not is_zero(dp):
        terms.append(mul(dp, hadamard(e, F.LOG(b))))
    return add(*terms) if terms else zero(e.shape)


def d_matpow(e: MatPow, ds: tuple[Expr, ...]) -> Expr:
    """d(Xᵏ) = Σᵢ Xⁱ dX Xᵏ⁻¹⁻ⁱ (product rule; k terms, k ≤ MAX_MATRIX_POWER as parsed);
    d(X⁰) = d(I) = 0;  for a 1×1 base, d(sᵏ) = k sᵏ⁻¹ ds."""
    x, k = e.base, e.k
    if k == 0:
        return zero(e.shape)
    if x.is_scalar:
        return mul(num(k), x if k == 2 else Power(x, num(k - 1)), ds[0])

    def pw(i: int) -> Expr:
        return Identity(x.shape[0]) if i == 0 else x if i == 1 else MatPow(x, i)

    return add(*(mul(pw(i), ds[0], pw(k - 1 - i)) for i in range(k)))


def d_call(e: Call, ds: tuple[Expr, ...]) -> Expr:
    """The function's own rule, from its row in the function table."""
    if e.fn.d is None:
        raise DiffError(f"no differential rule for {e.fn.name}", node=e)
    return e.fn.d(e, ds)


def d_apply(e: Apply, ds: tuple[Expr, ...]) -> Expr:
    """Chain rule for abstract functions:
    d L(Y) = tr(∇L(Y)ᵀ dY) for scalar L;  d f(Y) = f′(Y) ⊙ dY for elementwise f;
    d g(y) = ∂g(y) dy for vector-valued g."""
    if len(e.args) != 1:
        raise DiffError(
            f"{e.name} has {len(e.args)} arguments; matcalc differentiates abstract functions of one argument",
            node=e,
        )
    (y,), (dy,) = e.args, ds
    if e.kind == "elementwise":
        return hadamard(Deriv(e.name, e.args), dy)
    if e.kind == "vector":
        return mul(Jac(e.name, e.args, e.out), dy)  # type: ignore[arg-type]
    g = Grad(e.name, e.args)
    return F.inner(g, dy) if not y.is_scalar else mul(g, dy)


def d_unvec(e: Unvec, ds: tuple[Expr, ...]) -> Expr:
    """d vec⁻¹(a) = vec⁻¹(da) (linear)."""
    return Unvec(ds[0], e.rows, e.cols)


def d_grad(e: Grad, ds: tuple[Expr, ...]) -> Expr:
    """d ∇L(y) = ∇²L(y) dy (y a vector or a scalar; ∇²L is symmetric)."""
    (y,), (dy,) = e.args, ds
    if not (y.shape[1] == 1):
        raise DiffError(f"∇{e.name} of a matrix argument: its derivative ∇²{e.name} would be a 4th-order tensor, "
                        "which matcalc does not have", node=e)
    return mul(Hess(e.name, e.args), dy)


def d_deriv(e: Deriv, ds: tuple[Expr, ...]) -> Expr:
    """d f′(Y) = f″(Y) ⊙ dY."""
    if e.order >= 2:
        return _no_second_order(e, ds)
    return hadamard(Deriv(e.name, e.args, e.order + 1), ds[0])


def _no_second_order(e: Expr, ds: tuple[Expr, ...]) -> Expr:
    raise DiffError(
        f"no differential rule for {type(e).__name__.lower()} {getattr(e, 'name', '')}: "
        "matcalc differentiates abstract functions twice, not three times (∇²L, f″ are the last)",
        node=e,
    )


#: one rule per node type: its name (as a step shows it) and its differential
RULES: dict[type, Rule] = {
    Add: Rule("sum rule", d_add),
    MatMul: product_rule("product rule", mul, lambda e: e.factors),
    Hadamard: product_rule("product rule (⊙)", hadamard, lambda e: e.factors),
    Kron: product_rule("product rule (⊗)", Kron, lambda e: (e.left, e.right)),
    Transpose: Rule("d(Aᵀ) = (dA)ᵀ", d_transpose),
    Power: Rule("power rule", d_power),
    MatPow: Rule("product rule for powers", d_matpow),
    Call: Rule("", d_call),  # named by the function's row (rule_name)
    Apply: Rule("chain rule", d_apply),
    Unvec: Rule("linearity of vec⁻¹", d_unvec),
    Grad: Rule("d ∇L(y) = ∇²L(y) dy", d_grad),
    Deriv: Rule("d f′(X) = f′′(X) ⊙ dX", d_deriv),
    Hess: Rule("Hess", _no_second_order),
    Jac: Rule("Jac", _no_second_order),
}


def rule_name(e: Expr) -> str:
    if isinstance(e, Call):
        return e.fn.rule or f"rule for {e.fn.name}"
    rule = RULES.get(type(e))
    return rule.name if rule is not None else type(e).__name__


def _rule(e: Expr) -> Callable[[Any, tuple[Expr, ...]], Expr]:
    try:
        return RULES[type(e)].d
    except KeyError:
        raise DiffError(f"no differential rule for {type(e).__name__}", node=e) from None


def differential(e: Expr, x: Var) -> Expr:
    """The differential of ``e`` with respect to the variable ``x``, in terms of ``dx``.

    Each distinct subexpression is differentiated once (memo), so shared subexpressions
    are shared in the result and the work is linear in the size of the expression.
    """
    dep: dict[Expr, bool] = {}
    depends_on(e, x, dep)
    memo: dict[Expr, Expr] = {}
    stack = [(e, False)]
    while stack:
        n, done = stack.pop()
        if n in memo:
            continue
        if not dep.get(n, False):
            memo[n] = zero(n.shape)
            continue
        if n == x:
            memo[n] = Diff(x)
            continue
        if isinstance(n, Diff):  # d(dX) = 0: X is an independent variable
            memo[n] = zero(n.shape)
            continue
        if not done:
            stack.append((n, True))
            stack.extend((c, False) for c in n.children if c not in memo)
            continue
        memo[n] = _rule(n)(n, tuple(memo[c] for c in n.children))
    return memo[e]


def derivation(e: Expr, x: Var, max_steps: int = 200) -> list[tuple[str, Expr]]:
    """d(e) expanded one level at a time with the rules of :func:`differential`.

    Returns ``[(rule names, expression), …]``; the first entry is ``d(e)`` itself.
    """
    dep: dict[Expr, bool] = {}
    depends_on(e, x, dep)
    current: Expr = Diff(e)
    steps: list[tuple[str, Expr]] = [("", current)]
    for _ in range(max_steps):
        used: list[str] = []
        nxt = _expand_once(current, x, dep, used)
        if nxt == current:
            break
        current = nxt
        steps.append((", ".join(used), current))
    return steps


def _expand_once(root: Expr, x: Var, dep: dict[Expr, bool], used: list[str]) -> Expr:
    """Replace each outermost d(A) by its rule, with the children's d(·) unexpanded;
    the names of the rules applied are appended to ``used`` (left to right).  Iterative,
    children before parents, each shared node once: however deep the expression."""
    memo: dict[int, Expr] = {}
    stack: list[tuple[Expr, bool]] = [(root, False)]
    while stack:
        n, ready = stack.pop()
        if id(n) in memo:
            continue
        kids = n.children
        if isinstance(n, Diff) or not kids:
            memo[id(n)] = _expand_diff(n, x, dep, used) if isinstance(n, Diff) else n
        elif not ready:
            stack.append((n, True))
            stack.extend((c, False) for c in reversed(kids) if id(c) not in memo)
        else:
            new = [memo[id(c)] for c in kids]
            memo[id(n)] = n if all(a is b for a, b in zip(new, kids, strict=True)) else _rebuild_sum_or_product(n, new)
    return memo[id(root)]


def _expand_diff(n: Diff, x: Var, dep: dict[Expr, bool], used: list[str]) -> Expr:
    """d(A) by A's rule, the differentials of A's children left unexpanded."""
    a = n.arg
    if a == x:
        return n
    if not dep.get(a, False):
        if "dA = 0 for constant A" not in used:
            used.append("dA = 0 for constant A")
        return zero(a.shape)
    name = rule_name(a)
    if name not in used:
        used.append(name)
    ds = tuple(Diff(c) if dep.get(c, False) or c == x else zero(c.shape) for c in a.children)
    return _rule(a)(a, ds)


def _rebuild_sum_or_product(n: Expr, new: list[Expr]) -> Expr:
    """Rebuild with the short-circuiting builders, so that zero terms disappear."""
    if isinstance(n, Add):
        return add(*new)
    if isinstance(n, MatMul):
        return mul(*new)
    if isinstance(n, Hadamard):
        return hadamard(*new)
    if isinstance(n, Transpose):
        return transpose(new[0])
    return n.rebuild(new)


__all__ = ["differential", "derivation", "RULES", "Rule", "product_rule", "rule_name"]
