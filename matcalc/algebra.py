"""Builders that short-circuit zeros and identities.

Node constructors never simplify; these helpers do the few things every rule wants:
drop zero terms, annihilate products with a zero factor, drop identity factors,
flatten nested sums and products, and fold numeric factors into one leading number.
They never reorder non-scalar factors and never look inside other nodes, so they are
cheap enough to call in every rule.  Real simplification lives in
:mod:`matcalc.rules.canon`.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

from .nodes import (
    ONE,
    Add,
    Expr,
    Hadamard,
    Identity,
    MatMul,
    Num,
    Ones,
    Power,
    Transpose,
    Zeros,
    is_zero,
    num,
)
from .shapes import SCALAR, Shape


def zero(shape: Shape) -> Expr:
    return Num(Fraction(0)) if shape == SCALAR else Zeros(shape)


def add(*terms: Expr) -> Expr:
    """Σ terms, without zero terms; flattens nested sums."""
    flat: list[Expr] = []
    shape = terms[0].shape
    for t in terms:
        if is_zero(t):
            continue
        flat.extend(t.terms if isinstance(t, Add) else (t,))
    if not flat:
        return zero(shape)
    if len(flat) == 1:
        return flat[0]
    return Add(tuple(flat))


#: the number 1, made once (Fractions are slow to make); a coefficient that is this object
#: was never multiplied
Q_ONE = Fraction(1)
Q_HALF = Fraction(1, 2)


def flatten_product(
    factors: tuple[Expr, ...] | list[Expr], is_scalar: Callable[[Expr], bool] = lambda e: e.is_scalar
) -> tuple[Fraction, list[Expr]]:
    """The numeric coefficient and the other factors of a product, with nested products
    spliced in — except a 1×1 sub-product of a longer chain, which stays one factor:
    in (xᵀ x) A, the scalar xᵀ x multiplies A; spliced, xᵀ x A would be ill-shaped."""
    coeff = Q_ONE  # (multiplied only when a number occurs: Fractions are slow to make)
    flat: list[Expr] = []
    for f in factors:
        if isinstance(f, Num):
            coeff = f.value if coeff is Q_ONE else coeff * f.value
        elif isinstance(f, MatMul):
            inner_c, inner = flatten_product(f.factors, is_scalar)
            if inner_c is not Q_ONE:
                coeff = inner_c if coeff is Q_ONE else coeff * inner_c
            if is_scalar(f) and len(inner) > 1 and not all(is_scalar(g) for g in inner):
                flat.append(inner[0] if len(inner) == 1 else MatMul(tuple(inner)))
            else:
                flat.extend(inner)
        else:
            flat.append(f)
    return coeff, flat


def mul(*factors: Expr) -> Expr:
    """The product of the factors: flattened, numbers folded into one leading
    coefficient, identities dropped, zero if a factor is zero."""
    coeff, flat = flatten_product(factors)
    shape = _product_shape(factors)
    identity = next((g for g in flat if isinstance(g, Identity)), None)
    flat = [g for g in flat if not isinstance(g, Identity)]
    if identity is not None and shape != SCALAR and all(g.is_scalar for g in flat):
        flat.append(Identity(shape[0]))  # s I: the identity is the only matrix left
    if coeff == 0 or any(is_zero(g) for g in flat):
        return zero(shape)
    if not flat:
        return Num(coeff) if shape == SCALAR else Identity(shape[0]) if coeff == 1 else MatMul((Num(coeff), Identity(shape[0])))
    if coeff != 1:
        flat.insert(0, Num(coeff))
    if len(flat) == 1:
        return flat[0]
    return MatMul(tuple(flat))


def _product_shape(factors: tuple[Expr, ...]) -> Shape:
    return MatMul(factors).shape if len(factors) > 1 else factors[0].shape


def neg(e: Expr) -> Expr:
    return mul(Num(Fraction(-1)), e)


def scale(c: int | Fraction, e: Expr) -> Expr:
    return mul(num(c), e)


def hadamard(*factors: Expr) -> Expr:
    """Elementwise product; for scalars the ordinary product.  Ones are dropped."""
    if all(f.is_scalar for f in factors):
        return mul(*factors)
    flat: list[Expr] = []
    scalars: list[Expr] = []
    for f in factors:
        for g in f.factors if isinstance(f, Hadamard) else (f,):
            if g.is_scalar:
                scalars.append(g)
            elif isinstance(g, Ones):
                continue
            else:
                flat.append(g)
    shape = next(f.shape for f in factors if not f.is_scalar)
    if any(is_zero(g) for g in flat + scalars):
        return zero(shape)
    core = Ones(shape) if not flat else flat[0] if len(flat) == 1 else Hadamard(tuple(flat))
    return mul(*scalars, core) if scalars else core


def transpose(e: Expr) -> Expr:
    """eᵀ, with (eᵀ)ᵀ = e, and scalars, zeros and identities left as they are."""
    if e.is_scalar or isinstance(e, Identity):
        return e
    if isinstance(e, Transpose):
        return e.arg
    if isinstance(e, Zeros):
        return Zeros((e.shape[1], e.shape[0]))
    if isinstance(e, Ones):
        return Ones((e.shape[1], e.shape[0]))
    return Transpose(e)


def power(base: Expr, p: int | Fraction) -> Expr:
    if p == 1:
        return base
    return Power(base, num(p))


def reciprocal(e: Expr) -> Expr:
    return power(e, -1)


__all__ = ["zero", "add", "mul", "neg", "scale", "hadamard", "transpose", "power", "reciprocal", "ONE"]
