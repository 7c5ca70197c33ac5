"""Presentation: the normal form (:mod:`.canon`) written as a textbook prints it.

Common left or right factors of a sum are taken out again (``A x + Aᵀ x`` is
``(A + Aᵀ) x``), like traces merge into one (``tr(A dX) + 2 tr(B dX) = tr((A + 2 B) dX)``),
common scalars and a common number come out (but not of a differential's terms, which
read as terms), and a difference of transposes is a transposed difference
(``xᵀ − μᵀ = (x − μ)ᵀ``).  The canonicalisation it works with is passed in (a
:class:`matcalc.rules.canon.Canon`, for its memo, its structural rules and its order):
this module imports nothing of :mod:`.canon`, which imports it.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

from .. import functions as F
from ..algebra import Q_ONE, flatten_product
from ..nodes import (
    ONE,
    Add,
    Apply,
    Call,
    Deriv,
    Expr,
    Grad,
    Hess,
    Identity,
    Jac,
    MatMul,
    Num,
    Ones,
    Transpose,
    map_bottom_up,
)
from .order import Order

Canon = Any  # a matcalc.rules.canon.Canon: its memo, structural rules, order and has_diff

_Q1 = Q_ONE
#: nodes that apply a function: their arguments are normalised without distributing sums
FUNCTION_LIKE = (Call, Apply, Grad, Deriv, Hess, Jac)


def split_coeff(t: Expr) -> tuple[Fraction, Expr]:
    if isinstance(t, Num):
        return t.value, ONE
    if isinstance(t, MatMul) and isinstance(t.factors[0], Num):
        rest = t.factors[1:]
        return t.factors[0].value, rest[0] if len(rest) == 1 else MatMul(rest)
    return _Q1, t


# ======================================================================================


def factor_common(c: Canon, e: Expr) -> Expr:
    """Common factors of sums taken out, bottom-up (function arguments as they are)."""
    memo: dict[Expr, Expr] = {}
    stack: list[tuple[Expr, bool]] = [(e, False)]
    while stack:
        n, ready = stack.pop()
        if n in memo:
            continue
        below = () if isinstance(n, FUNCTION_LIKE) else n.children
        if not ready:
            stack.append((n, True))
            stack.extend((k, False) for k in below if k not in memo)
            continue
        node = n
        if below:
            new = [memo[k] for k in below]
            if any(a is not b for a, b in zip(new, below, strict=True)):
                if isinstance(n, MatMul):  # a factored sum that is now a product is spliced in
                    coeff, flat = flatten_product(new)
                    node = _chain(([Num(coeff)] if coeff != 1 else []) + flat)
                else:
                    node = n.rebuild(new)
        if isinstance(node, MatMul) and len(node.factors) == 2 and isinstance(node.factors[0], Num) \
                and isinstance(node.factors[1], MatMul) and not isinstance(node.factors[1].factors[0], Num):
            node = MatMul((node.factors[0], *node.factors[1].factors))  # −(aᵀ dx) is −aᵀ dx
        memo[n] = _factor_sum(c, node) if isinstance(node, Add) else node
    return memo[e]


def transposed_sums(e: Expr) -> Expr:
    """Every sum of transposes in ``e`` written as a transposed sum (the last step of the
    presentation; function arguments included)."""
    order = Order()
    return map_bottom_up(e, lambda n: _transposed_sum(n, order))


def _transposed_sum(e: Expr, order: Order) -> Expr:
    """xᵀ − μᵀ = (x − μ)ᵀ: a difference of transposes stays a transposed difference, as
    a person writes it (the normal form has the transposes at the leaves)."""
    if not isinstance(e, Add):
        return e
    inner = []
    for t in e.terms:
        k, core = split_coeff(t)
        untransposed = _untransposed(core)
        if untransposed is None:
            return e
        inner.append((k, untransposed))
    inner.sort(key=lambda kt: (kt[0] < 0, not isinstance(kt[1], (Num, Ones)), order.key(kt[1])))  # as n_add sorts
    return Transpose(Add(tuple(_scaled(t, k) for k, t in inner)))


def _untransposed(e: Expr) -> Expr | None:
    """A with Aᵀ = e when e is written with transposes only: Xᵀ, wᵀ Xᵀ = (X w)ᵀ."""
    if e.is_scalar:
        return None
    if isinstance(e, Transpose):
        return e.arg
    if isinstance(e, MatMul) and all(isinstance(f, Transpose) for f in e.factors):
        return MatMul(tuple(f.arg for f in reversed(e.factors)))  # type: ignore[attr-defined]
    return None


def _merge_traces(c: Canon, e: Add) -> Expr:
    """tr(A dX) + 2 tr(B dX) = tr((A + 2 B) dX): one trace, as in df = tr(Gᵀ dX)."""
    traces, others = [], []
    shapes = [(split_coeff(t)[1].args[0].shape if _is_trace(split_coeff(t)[1]) else None) for t in e.terms]
    common = max(set(s for s in shapes if s), key=shapes.count, default=None)
    for t, shape in zip(e.terms, shapes, strict=True):
        k, core = split_coeff(t)
        if shape is not None and shape == common:  # only traces of matrices of one shape merge
            a = core.args[0]  # type: ignore[attr-defined]
            traces.append(a if k == 1 else MatMul((Num(k), *(a.factors if isinstance(a, MatMul) else (a,)))))
        else:
            others.append(t)
    if len(traces) < 2:
        return e
    inner = c.structural.norm(Add(tuple(traces)))
    inner = _factor_sum(c, inner) if isinstance(inner, Add) else inner
    merged = Call(F.TRACE, (inner,))
    return merged if not others else Add((merged, *others))


def _is_trace(e: Expr) -> bool:
    return F.trace_arg(e) is not None


def _factor_sum(c: Canon, e: Add) -> Expr:
    """A x + Aᵀ x = (A + Aᵀ) x;  xᵀ A + xᵀ Aᵀ = xᵀ (A + Aᵀ);  2 a + 2 b = 2 (a + b)."""
    merged = _merge_traces(c, e)
    if not isinstance(merged, Add):
        return merged
    e = merged
    common_scalars = _common_scalars(e)
    if common_scalars:  # A x / s + Aᵀ x / s = (A x + Aᵀ x) / s
        rest = []
        for t in e.terms:
            k, core = split_coeff(t)
            factors = list(core.factors) if isinstance(core, MatMul) else [core]
            for s_ in common_scalars:
                factors.remove(s_)
            body: Expr = (factors[0] if len(factors) == 1 else MatMul(tuple(factors))) if factors else ONE
            rest.append(_scaled(body, k))
        inner = c.structural.norm(Add(tuple(rest)))
        inner = _factor_sum(c, inner) if isinstance(inner, Add) else inner
        return _chain([*common_scalars, *_chain_of(inner)]) if not inner.is_scalar or common_scalars else inner
    for side in (-1, 0):
        groups: dict[Expr, list[int]] = {}
        parts = []
        for i, t in enumerate(e.terms):
            k, core = split_coeff(t)
            factors = list(core.factors) if isinstance(core, MatMul) else [core]
            scalars = [f for f in factors if f.is_scalar]
            chain = [f for f in factors if not f.is_scalar]
            if not chain:
                parts.append(None)
                continue
            parts.append((k, scalars, chain))
            groups.setdefault(chain[side], []).append(i)
        for key, members in groups.items():  # s x joins x − σ(s) x, but not A x (no s I)
            bare = [i for i in members if not (parts[i][2][:-1] if side == -1 else parts[i][2][1:])]
            if any(parts[i][1] for i in bare) and len(bare) < len(members):
                groups[key] = [i for i in members if i not in bare or not parts[i][1]]
        best = max(groups.items(), key=lambda kv: len(kv[1]), default=None)
        if best is None or len(best[1]) < 2:
            continue
        common, idx = best
        inner_terms = []
        for i in idx:
            k, scalars, chain = parts[i]  # type: ignore[misc]
            rest = chain[:-1] if side == -1 else chain[1:]
            if not rest and all(not parts[j][2][:-1] if side == -1 else not parts[j][2][1:] for j in idx):
                rest = []  # x − σ(s) x = (1 − σ(s)) x: the inner sum is a scalar
            elif not rest:
                rest = [Identity(common.shape[0] if side == -1 else common.shape[1])]
            pieces = [*scalars, *rest]
            body: Expr = (pieces[0] if len(pieces) == 1 else MatMul(tuple(pieces))) if pieces else ONE
            inner_terms.append(_scaled(body, k))
        inner = c.structural.norm(Add(tuple(inner_terms)))
        inner = _factor_sum(c, inner) if isinstance(inner, Add) else inner
        pieces = [*_chain_of(inner), common] if side == -1 else [common, *_chain_of(inner)]
        factored = _chain(pieces)
        rest_terms = [t for i, t in enumerate(e.terms) if i not in idx]
        if not rest_terms:
            return factored
        return Add((factored, *rest_terms))
    # a common coefficient: 1/2 G + 1/2 Gᵀ = (G + Gᵀ) / 2;  2 a − 2 b = 2 (a − b) — but not of the
    # terms of a differential, which read as terms (½ (x − μ)ᵀ Σ⁻¹ dΣ Σ⁻¹ (x − μ) − ½ tr(Σ⁻¹ dΣ))
    ks = [split_coeff(t)[0] for t in e.terms]
    common = _common_factor(ks)
    if common != 1 and not c.has_diff(e):
        inner = Add(tuple(_scaled(core, k / common) for k, core in (split_coeff(t) for t in e.terms)))
        return MatMul((Num(common), inner))
    return e


def _common_scalars(e: Add) -> list[Expr]:
    """The scalar factors (not numbers) that every term of the sum has, each as often as
    the term that has it least."""
    common: list[Expr] | None = None
    for t in e.terms:
        _, core = split_coeff(t)
        scalars = [f for f in (core.factors if isinstance(core, MatMul) else (core,)) if f.is_scalar]
        if not core.is_scalar and not scalars:
            return []
        if core.is_scalar and not isinstance(core, MatMul):
            return []  # a scalar term that is one factor: nothing to take out
        if common is None:
            common = scalars
        else:
            left = list(scalars)
            common = [f for f in common if f in left and not left.remove(f)]  # type: ignore[func-returns-value]
        if not common:
            return []
    return common or []


def _common_factor(ks: list[Fraction]) -> Fraction:
    """The largest positive number dividing every coefficient to a whole number."""
    num = 0
    den = 1
    for k in ks:
        num = math.gcd(num, k.numerator)
        den = den * k.denominator // math.gcd(den, k.denominator)
    common = Fraction(num, den)
    return common if common > 0 and all((k / common).denominator == 1 for k in ks) else _Q1


def _scaled(core: Expr, k: Fraction) -> Expr:
    if k == 1:
        return core
    if core == ONE:
        return Num(k)
    return MatMul((Num(k), *(core.factors if isinstance(core, MatMul) else (core,))))


def _chain_of(e: Expr) -> tuple[Expr, ...]:
    """The factors of a non-scalar product (to splice into a longer chain), or e itself."""
    if isinstance(e, MatMul) and not e.is_scalar:
        return e.factors
    if isinstance(e, MatMul) and isinstance(e.factors[0], Num):  # 2 (uᵀ v): the 1×1 product stays one unit
        rest = e.factors[1:]
        return (e.factors[0], rest[0] if len(rest) == 1 else MatMul(rest))
    return (e,)


def _chain(pieces: list[Expr]) -> Expr:
    """A product of already-canonical pieces, with its numbers first, then its scalars, as
    a textbook writes them: 2 Aᵀ (A x − b), β Φᵀ (Φ w − y) (not Φᵀ β (Φ w − y))."""
    coeff = _Q1
    scalars, rest = [], []
    for p in pieces:
        if isinstance(p, Num):
            coeff *= p.value
        else:
            (scalars if p.is_scalar else rest).append(p)
    rest = scalars + rest
    return MatMul(((Num(coeff),) if coeff != 1 else ()) + tuple(rest)) if len(rest) > 1 or coeff != 1 else rest[0]


__all__ = ["factor_common", "transposed_sums", "split_coeff", "FUNCTION_LIKE"]
