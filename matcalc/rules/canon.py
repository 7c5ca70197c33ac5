"""Canonical forms: results as a textbook prints them.

:func:`canonical` brings an expression to a normal form in two phases.

1. **Normalise** (bottom-up, to a fixpoint): transposes pushed to the leaves, products
   and sums flattened, numbers folded, identities and zeros dropped, sums distributed
   (outside function arguments), like terms collected, scalar sub-products hoisted to the
   front (transposition of scalars), powers of one base merged, terms and commutative
   factors sorted.  Each normaliser is one local step, keyed by node type.
2. **Factor** (:mod:`.factoring`): common left or right factors of a sum are taken out
   again, so that ``A x + Aᵀ x`` prints as ``(A + Aᵀ) x``, and a common coefficient too.

Function arguments are normalised without distributing sums, so ``σ′(W (x + y))`` keeps
the argument as written.  The normal form does not depend on the order of terms or of
commutative factors (the confluence tests in ``tests/test_engine.py``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from fractions import Fraction

from .. import functions as F
from ..algebra import Q_ONE, flatten_product, zero
from ..nodes import (
    ONE,
    Add,
    Call,
    Commutation,
    Diff,
    Expr,
    Hadamard,
    Hess,
    Identity,
    Kron,
    MatMul,
    MatPow,
    Num,
    Ones,
    Power,
    Size,
    Transpose,
    Unvec,
    Var,
    Zeros,
    is_zero,
    map_bottom_up,
    unknown_postorder,
)
from ..strategies import fixpoint
from .factoring import FUNCTION_LIKE, factor_common, split_coeff, transposed_sums
from .order import Key, Order

_Q0, _Q1 = Fraction(0), Q_ONE  # (made once: Fractions are slow to make)
EXPANSION_LIMIT = 64  # a product of sums is distributed only up to this many terms


class Canon:
    """One canonicalisation: a rule set (:data:`EXPANDING`, which distributes products
    over sums, or :data:`NORMALISING`, which keeps the structure), memo tables, and the
    normalising canonicalisation used inside function arguments and for the structure of
    a differential (``structural``: the same rules without distributing sums)."""

    def __init__(self, expand: bool = True, structural: Canon | None = None):
        self.rules = EXPANDING if expand else NORMALISING
        self.memo: dict[Expr, Expr] = {}
        self.structural = self if not expand else (structural or Canon(expand=False))
        shared = self.structural if self.structural is not self else None
        # sort keys, sizes and "contains dX", each computed once per node
        self._order: Order = shared._order if shared else Order()
        self._sizes: dict[Expr, int] = shared._sizes if shared else {}
        self._diffs: dict[Expr, bool] = shared._diffs if shared else {}

    # -- driver ------------------------------------------------------------------------
    def simplify(self, e: Expr) -> Expr:
        """Bottom-up: the children first (function arguments with the normalising rules),
        then the node's rule.  Iterative, so that a tree of any depth is walked."""
        hit = self.memo.get(e)
        if hit is not None:
            return hit
        stack: list[tuple[Canon, Expr, bool]] = [(self, e, False)]
        while stack:
            c, n, ready = stack.pop()
            if n in c.memo:
                continue
            if ready:
                c.memo[n] = c._step(n)
                continue
            stack.append((c, n, True))
            sub = c.structural if isinstance(n, FUNCTION_LIKE) else c
            stack.extend((sub, k, False) for k in n.children if k not in sub.memo)
        return self.memo[e]

    def _step(self, e: Expr) -> Expr:
        """The rule for ``e``, whose children are simplified (in the memo)."""
        kids = e.children
        node = e
        sub = self.structural if isinstance(e, FUNCTION_LIKE) else self
        if kids:
            new = [sub.memo[k] for k in kids]
            if any(a is not b for a, b in zip(new, kids, strict=True)):
                node = e.rebuild(new)
        rule = self.rules.get(type(node))
        out = rule(self, node) if rule else node
        # a normal form, which the next round need not redo: no rule changed it, and its
        # children are normal forms too (a child may be one rule's result, not yet final)
        if out is node and (not kids or all(sub.memo.get(k) is k for k in node.children)):
            self.memo.setdefault(out, out)
        return out

    def norm(self, e: Expr) -> Expr:
        """Normalise a node built from normalised children."""
        return self.simplify(e)

    def key(self, e: Expr) -> Key:
        """The node's place in sorted order (structural: :mod:`matcalc.rules.order`)."""
        return self._order.key(e)

    def size(self, e: Expr) -> int:
        """Nodes in the tree of e (shared subtrees counted each time they occur)."""
        n = self._sizes.get(e)
        if n is None:
            for m, kids in unknown_postorder(e, self._sizes.__contains__):
                self._sizes[m] = 1 + sum(self._sizes[k] for k in kids)
            n = self._sizes[e]
        return n

    def has_diff(self, e: Expr) -> bool:
        h = self._diffs.get(e)
        if h is None:
            for m, kids in unknown_postorder(e, self._diffs.__contains__):
                self._diffs[m] = isinstance(m, Diff) or any(self._diffs[k] for k in kids)
            h = self._diffs[e]
        return h

    def size_key(self, e: Expr) -> tuple[int, Key]:
        """Commutative factors sort simplest first: y ⊙ (X w), not (X w) ⊙ y."""
        return (self.size(e), self.key(e))

    # -- builders that keep normal form -------------------------------------------------
    def T(self, e: Expr) -> Expr:
        return self.norm(Transpose(e)) if not e.is_scalar else e

    def mul(self, *factors: Expr) -> Expr:
        if len(factors) == 1:
            return factors[0]
        return self.norm(MatMul(factors))

    def hadamard(self, *factors: Expr) -> Expr:
        if len(factors) == 1:
            return factors[0]
        if all(f.is_scalar for f in factors):
            return self.mul(*factors)
        return self.norm(Hadamard(tuple(factors)))

    def add(self, terms: list[Expr], shape: tuple) -> Expr:
        kept = tuple(t for t in terms if not is_zero(t))
        if not kept:
            return zero(shape)
        if len(kept) == 1:
            return kept[0]
        return self.norm(Add(kept))


# ======================================================================================
# normalisers, one per node type.  Each takes a node whose children are normal.
# ======================================================================================


def n_transpose(c: Canon, e: Transpose) -> Expr:
    """Transposes go to the leaves: (AB)ᵀ = BᵀAᵀ, (A+B)ᵀ = Aᵀ+Bᵀ, (Aᵀ)ᵀ = A, sᵀ = s.
    They stay outside elementwise operations: (a ⊙ b)ᵀ, (a.^2)ᵀ, as textbooks write."""
    a = e.arg
    if a.is_scalar or isinstance(a, Identity):
        return a
    if isinstance(a, Var):
        return a if a.symmetric else e
    if isinstance(a, Hess):  # a Hessian is symmetric
        return a
    if isinstance(a, Diff):
        return a if isinstance(a.arg, Var) and a.arg.symmetric else e
    if isinstance(a, Transpose):
        return a.arg
    if isinstance(a, Commutation):
        return Commutation(a.n, a.m)
    if isinstance(a, Zeros):
        return Zeros((a.shape[1], a.shape[0]))
    if isinstance(a, Ones):
        if a.shape[1] == 1:
            return e
        return Ones((a.shape[1], 1)) if a.shape[0] == 1 else Ones((a.shape[1], a.shape[0]))
    if isinstance(a, MatMul):
        return c.mul(*(c.T(f) for f in reversed(a.factors)))
    if isinstance(a, Add):
        return c.norm(Add(tuple(c.T(t) for t in a.terms)))
    if isinstance(a, Kron):
        return c.norm(Kron(c.T(a.left), c.T(a.right)))
    if isinstance(a, MatPow):
        return c.norm(MatPow(c.T(a.base), a.k))
    # diag(v)ᵀ = diag(v); (M⁻¹)ᵀ = M⁻¹ and adj(M)ᵀ = adj(M) for symmetric M, such as I + X Xᵀ, u uᵀ
    if F.is_symmetric_call(a, lambda m: _symmetric(m) or c.T(m) == m):
        return a
    return e


def _symmetric(e: Expr) -> bool:
    return (isinstance(e, Var) and e.symmetric) or isinstance(e, Identity) or F.is_symmetric_call(e, _symmetric)


def n_matmul(c: Canon, e: MatMul) -> Expr:
    """Flatten, fold numbers, drop I, annihilate with 0, distribute over sums, hoist
    scalar sub-products to the front, cancel X X⁻¹, and diag(a) b = a ⊙ b."""
    coeff, flat = flatten_product(e.factors)  # (a coefficient that is _Q1 was never multiplied)
    if (coeff is not _Q1 and coeff == 0) or any(is_zero(f) for f in flat):
        return zero(e.shape)
    flat = [f for f in flat if not isinstance(f, Identity)]
    scalars = [f for f in flat if f.is_scalar]
    chain = [f for f in flat if not f.is_scalar]
    more_coeff, hoisted, chain = _simplify_chain(c, chain)
    if more_coeff is not _Q1:
        coeff = coeff * more_coeff
    scalars = [c.norm(s) if isinstance(s, MatMul) else s for s in scalars + hoisted]
    scalars, chain = _adjugate_over_det(c, scalars, chain)
    # scalar units may have produced numbers or nested coefficients
    coeff2, scalars = flatten_product(scalars)
    if coeff2 is not _Q1:
        coeff = coeff * coeff2
    if (coeff is not _Q1 and coeff == 0) or any(is_zero(s) for s in scalars):
        return zero(e.shape)
    if scalars and len(chain) > 1 and e.is_scalar:  # a 1×1 chain is one more scalar unit
        scalars.append(MatMul(tuple(chain)))
        chain = []
    scalars = _collect_powers(c, _factor_identities(c, scalars), scalar=True)
    scalars = sorted(scalars, key=lambda s: (c.has_diff(s), *c.size_key(s)))  # dX last
    factors = ([Num(coeff)] if coeff is not _Q1 and coeff != 1 else []) + scalars + chain
    if not factors:
        return Num(coeff) if e.is_scalar else Identity(e.shape[0])
    if not chain and not e.is_scalar:  # only the identity was left
        factors.append(Identity(e.shape[0]))
    return factors[0] if len(factors) == 1 else MatMul(tuple(factors))


def distribute_matmul(c: Canon, e: MatMul) -> Expr | None:
    """(A + B) C = A C + B C (distributivity), up to :data:`EXPANSION_LIMIT` terms.
    Identities are kept: (a + b) Iₙ is a matrix."""
    coeff, flat = flatten_product(e.factors)
    if coeff == 0 or not any(isinstance(f, Add) for f in flat) or _terms(flat) > EXPANSION_LIMIT:
        return None
    choices = [f.terms if isinstance(f, Add) else (f,) for f in flat]
    return c.add([c.mul(Num(coeff), *pick) for pick in itertools.product(*choices)], e.shape)


def _terms(factors: list[Expr]) -> int:
    """How many terms the product of these factors has when distributed."""
    total = 1
    for f in factors:
        total *= len(f.terms) if isinstance(f, Add) else 1
    return total


def _adjugate_over_det(c: Canon, scalars: list[Expr], chain: list[Expr]) -> tuple[list[Expr], list[Expr]]:
    """adj(M) / det(M) = M⁻¹, exp(z) / (𝟏ᵀ exp(z)) = softmax(z) (identities of the function table)."""
    for identity in (F.adjugate_over_det, F.softmax_of_ratio):
        while (found := identity(scalars, chain)) is not None:
            scalars, chain = found[0], [c.simplify(f) for f in found[1]]
    return scalars, chain


def _simplify_chain(c: Canon, chain: list[Expr]) -> tuple[Fraction, list[Expr], list[Expr]]:
    """The matrix chain of a product with its pair identities applied (X X⁻¹ = I, K K = I,
    Xᵃ Xᵇ = Xᵃ⁺ᵇ, products of ones, diag(a) M v = a ⊙ (M v), …), its 1×1 runs hoisted as
    scalars.  Pairs are rewritten left to right, stepping back one place after a change
    (only that pair and its neighbours can change), so that a chain of k factors takes
    O(k) rewrites, not O(k²) restarts."""
    chain = list(chain)
    sizes: list[Expr] = []
    while True:
        i = 0
        while i < len(chain) - 1:
            out = _pair_identity(c, chain[i], chain[i + 1], sizes)
            if out is None:
                i += 1
                continue
            chain[i:i + 2] = out
            i = max(i - 1, 0)
        if not _diagonal_identity(c, chain):  # (each application removes a diag: bounded)
            break
    coeff = _Q1
    hoisted: list[Expr] = list(sizes)
    # a row factor … column factor inside a longer chain is a scalar: (xᵀ a) B
    while len(chain) > 1:
        span = _scalar_run(chain)
        if span is None:
            break
        i, j = span
        unit = chain[i:j + 1]
        del chain[i:j + 1]
        hoisted.append(_scalar_unit(c, unit))
    if len(chain) > 1 and chain[0].shape[0] == 1 and chain[-1].shape[1] == 1:
        # the whole chain is 1×1: orient it canonically
        unit = _scalar_unit(c, chain)
        if isinstance(unit, MatMul):
            inner_c, inner = flatten_product(unit.factors)
            coeff *= inner_c
            chain = inner
        else:
            hoisted.append(unit)
            chain = []
    return coeff, hoisted, chain


def _pair_identity(c: Canon, a: Expr, b: Expr, sizes: list[Expr]) -> list[Expr] | None:
    """The factors that the adjacent pair ``a b`` of a chain is, when an identity applies
    (a number it produces, such as 𝟏ᵀ 𝟏 = n, is appended to ``sizes``), else None."""
    if _inverse_pair(a, b):  # X X⁻¹ = X⁻¹ X = I
        return []
    if (kp := _kron_pair(c, a, b)) is not None:  # K K = I, K (A ⊗ B) = (B ⊗ A) K, mixed products
        return kp
    if isinstance(a, Ones) and isinstance(b, Ones) and a.shape[0] != 1 and b.shape[1] != 1 \
            and a.shape[1] != 1:  # (𝟏ₘ 𝟏ₙᵀ)(𝟏ₙ 𝟏ₚᵀ) = n 𝟏ₘ 𝟏ₚᵀ
        n = a.shape[1]
        sizes.append(Num(Fraction(n)) if isinstance(n, int) else Size(n))
        return [Ones((a.shape[0], b.shape[1]))]
    if isinstance(a, Transpose) and _ones_column(a.arg) and _ones_column(b):  # 𝟏ₙᵀ 𝟏ₙ = n
        n = b.shape[0]
        sizes.append(Num(Fraction(n)) if isinstance(n, int) else Size(n))
        return []
    if _ones_column(a) and isinstance(b, Transpose) and _ones_column(b.arg):  # 𝟏ₘ 𝟏ₙᵀ: all ones
        return [Ones((a.shape[0], b.shape[1]))]
    (ba, ka), (bb, kb) = _matpow_parts(a), _matpow_parts(b)
    if ba == bb and ba.shape[0] == ba.shape[1]:  # Xᵃ Xᵇ = Xᵃ⁺ᵇ
        return [MatPow(ba, ka + kb)]
    return None


def _diagonal_identity(c: Canon, chain: list[Expr]) -> bool:
    """diag(a) M v = a ⊙ (M v) and uᵀ M diag(b) = (b ⊙ (uᵀ M)ᵀ)ᵀ, the first that applies,
    in place; False when none does."""
    for i, a in enumerate(chain):
        if _is_diag(a):
            j = next((j for j in range(i + 1, len(chain)) if chain[j].shape[1] == 1), None)
            if j is not None:  # diag(a) M v = a ⊙ (M v)
                rest = chain[i + 1:j + 1]
                chain[i:j + 1] = [c.hadamard(a.args[0], rest[0] if len(rest) == 1 else c.mul(*rest))]  # type: ignore[attr-defined]
                return True
        if i + 1 < len(chain) and _is_diag(chain[i + 1]):
            b = chain[i + 1]
            k = next((k for k in range(i, -1, -1) if chain[k].shape[0] == 1), None)
            if k is not None:  # uᵀ M diag(b) = (b ⊙ (uᵀ M)ᵀ)ᵀ
                head = chain[k:i + 1]
                row = head[0] if len(head) == 1 else c.mul(*head)
                chain[k:i + 2] = [c.T(c.hadamard(b.args[0], c.T(row)))]  # type: ignore[attr-defined]
                return True
    return False


def _scalar_run(chain: list[Expr]) -> tuple[int, int] | None:
    """The first run chain[i..j] that is 1×1 and is not the whole chain."""
    for i, f in enumerate(chain):
        if f.shape[0] != 1:
            continue
        for j in range(i, len(chain)):
            if chain[j].shape[1] == 1:
                if (i, j) != (0, len(chain) - 1):
                    return i, j
                return None
    return None


def _scalar_unit(c: Canon, unit: list[Expr]) -> Expr:
    """A 1×1 product uᵀ … v.  uᵀ (v ⊙ w) becomes 𝟏ᵀ (u ⊙ v ⊙ w) when that simplifies;
    otherwise the product or its transpose (a scalar equals its transpose), whichever
    has fewer transposes and then sorts first."""
    if len(unit) == 1:
        return unit[0]
    if len(unit) == 2 and unit[0].shape[0] == 1 and unit[1].shape[1] == 1 and _may_cancel(unit[0], unit[1]):
        u, v = c.T(unit[0]), unit[1]
        merged = c.hadamard(u, v)
        if _degree(merged) < _degree(u) + _degree(v) and not isinstance(merged, Ones) and not _has_coeff(merged):
            return MatMul((Transpose(Ones(u.shape)), merged))  # the merge cancelled something
    if isinstance(unit[-1], Diff) and not (isinstance(unit[0], Diff) or _is_diff_t(unit[0])):
        _, flat = flatten_product(unit)  # aᵀ B dx: dX is last already, and would not be flipped
        return MatMul(tuple(flat)) if len(flat) > 1 else flat[0]
    flipped = [c.T(f) for f in reversed(unit)]
    _, flat_a = flatten_product(unit)
    _, flat_b = flatten_product(flipped)
    best = _best_chain(c, [flat_a, flat_b])
    return MatMul(tuple(best)) if len(best) > 1 else best[0]


def _may_cancel(row: Expr, column: Expr) -> bool:
    """Can the merge of uᵀ v into 𝟏ᵀ (u ⊙ v) cancel something?  Only powers of one base
    (x ⊙ x.^-1) or the function table's factor identities can, and neither involves a
    differential or two plain variables."""
    if any(isinstance(f, Diff) or _is_diff_t(f) for f in (row, column)):
        return False
    plain = (Var, Ones)
    return not (isinstance(row.arg if isinstance(row, Transpose) else row, plain) and isinstance(column, plain))


def _best_chain(c: Canon, options: list[list[Expr]], first: Callable[[list[Expr]], bool] = lambda ch: False
                ) -> list[Expr]:
    """The way a 1×1 product or a trace is written, among ``options``: by ``first``, then dX
    last (as in tr(Gᵀ dX)), then fewer transposes, then alphabetical (the first option
    among equals).  The structural keys are computed only for the options still tied."""
    cheap = [(first(ch), _diff_not_last(ch), _transposes(ch)) for ch in options]
    least = min(cheap)
    tied = [ch for ch, k in zip(options, cheap, strict=True) if k == least]
    if len(tied) == 1:
        return tied[0]
    return min(tied, key=lambda ch: c._order.product_key(ch) if len(ch) > 1 else c.key(ch[0]))


def _diff_not_last(chain: list[Expr]) -> bool:
    return not (isinstance(chain[-1], Diff) or not any(isinstance(f, Diff) or _is_diff_t(f) for f in chain))


def _is_diff_t(e: Expr) -> bool:
    return isinstance(e, Transpose) and isinstance(e.arg, Diff)


def _degree(e: Expr) -> Fraction:
    """Total |exponent| of a Hadamard product: x ⊙ y ⊙ x.^-1 has degree 3, y degree 1."""
    total = _Q0
    for f in e.factors if isinstance(e, Hadamard) else (e,):
        total += abs(f.exponent.value) if isinstance(f, Power) and isinstance(f.exponent, Num) else 1
    return total


def _has_coeff(e: Expr) -> bool:
    return isinstance(e, MatMul) and isinstance(e.factors[0], Num)


def _transposes(factors: list[Expr]) -> int:
    return sum(1 for f in factors if isinstance(f, Transpose))


def _ones_column(e: Expr) -> bool:
    return isinstance(e, Ones) and e.shape[1] == 1


def _matpow_parts(e: Expr) -> tuple[Expr, int]:
    return (e.base, e.k) if isinstance(e, MatPow) else (e, 1)


def _is_diag(e: Expr) -> bool:
    return F.diagonal_arg(e) is not None


def _inverse_pair(a: Expr, b: Expr) -> bool:
    def inv_of(x: Expr, y: Expr) -> bool:
        if F.inverse_arg(x) == y:
            return True
        return isinstance(x, Transpose) and isinstance(y, Transpose) and F.inverse_arg(x.arg) == y.arg

    return inv_of(a, b) or inv_of(b, a)


def _collect_powers(c: Canon, factors: list[Expr], scalar: bool) -> list[Expr]:
    """x ⊙ x.^-1 = 𝟏, s s = s², s s⁻¹ = 1: merge factors with one base."""
    order: list[Expr] = []
    exps: dict[Expr, Fraction | None] = {}
    others: list[Expr] = []
    for f in factors:
        base, p = (f.base, f.exponent.value) if isinstance(f, Power) and isinstance(f.exponent, Num) else (f, _Q1)
        if base not in exps:
            order.append(base)
            exps[base] = _Q0
        exps[base] = exps[base] + p  # type: ignore[operator]
    out: list[Expr] = []
    for base in order:
        p = exps[base]
        assert p is not None
        if p == 0:
            continue
        out.append(base if p == 1 else c.norm(Power(base, Num(p))))
    return out + others


def n_hadamard(c: Canon, e: Hadamard) -> Expr:
    """Flatten, take scalars out, drop 𝟏, merge powers of one base, sort (⊙ commutes)."""
    flat: list[Expr] = []
    for f in e.factors:
        flat.extend(f.factors if isinstance(f, Hadamard) else (f,))
    if any(is_zero(f) for f in flat):
        return zero(e.shape)
    coeff = _Q1
    scalars: list[Expr] = []
    core: list[Expr] = []
    for f in flat:
        if isinstance(f, MatMul):
            k, parts = flatten_product(f.factors)
            coeff *= k
            s = [p for p in parts if p.is_scalar]
            rest = [p for p in parts if not p.is_scalar]
            scalars.extend(s)
            if rest:  # an all-scalar product (3 z with z 1×1) is only a scalar factor
                core.append(rest[0] if len(rest) == 1 else MatMul(tuple(rest)))
        elif isinstance(f, Ones):
            continue
        else:
            core.append(f)
    core = _collect_powers(c, _factor_identities(c, core), scalar=False)
    if core and all(isinstance(f, Transpose) for f in core):  # Aᵀ ⊙ Bᵀ = (A ⊙ B)ᵀ
        inner = c.hadamard(*(f.arg for f in core))  # type: ignore[attr-defined]
        out = c.norm(Transpose(inner))
        return out if coeff == 1 and not scalars else c.mul(Num(coeff), *scalars, out)
    core = sorted(core, key=c.size_key)
    body: Expr = Ones(e.shape) if not core else core[0] if len(core) == 1 else Hadamard(tuple(core))
    if coeff == 1 and not scalars:
        return body
    return c.mul(Num(coeff), *scalars, body)


def distribute_hadamard(c: Canon, e: Hadamard) -> Expr | None:
    """(A + B) ⊙ C = A ⊙ C + B ⊙ C (distributivity), up to :data:`EXPANSION_LIMIT` terms,
    after the factors of one base are merged (x ⊙ x.^-1 = 𝟏 first)."""
    core = _collect_powers(c, _factor_identities(c, _hadamard_factors(e)), scalar=False)
    if not any(isinstance(f, Add) for f in core) or _terms(core) > EXPANSION_LIMIT:
        return None
    choices = [f.terms if isinstance(f, Add) else (f,) for f in core]
    return c.add([c.hadamard(*pick) for pick in itertools.product(*choices)], e.shape)


def _factor_identities(c: Canon, factors: list[Expr]) -> list[Expr]:
    """The function table's identities of a product's factors (σ′ = σ ⊙ (𝟏 − σ) where it
    cancels, exp(z) ./ (𝟏 + exp(z)) = σ(z))."""
    for identity in F.FACTOR_IDENTITIES:
        factors = identity(factors, c.norm)
    return factors


def _hadamard_factors(e: Hadamard) -> list[Expr]:
    out: list[Expr] = []
    for f in e.factors:
        out.extend(f.factors if isinstance(f, Hadamard) else (f,))
    return out


def n_add(c: Canon, e: Add) -> Expr:
    """Flatten, collect like terms (2 A + A = 3 A), drop zeros, sort: positive first."""
    flat: list[Expr] = []
    for t in e.terms:
        flat.extend(t.terms if isinstance(t, Add) else (t,))
    coeffs: dict[Expr, Fraction] = {}
    for t in flat:
        if is_zero(t):
            continue
        k, core = split_coeff(t)
        coeffs[core] = coeffs.get(core, _Q0) + k
    terms = []
    for core, k in coeffs.items():
        if k == 0:
            continue
        if k == 1:
            terms.append(core)
        elif core == ONE:
            terms.append(Num(k))
        else:
            terms.append(MatMul((Num(k), *(core.factors if isinstance(core, MatMul) else (core,)))))
    if not terms:
        return zero(e.shape)
    terms.sort(key=lambda t: _term_key(c, t))
    return terms[0] if len(terms) == 1 else Add(tuple(terms))


def _term_key(c: Canon, t: Expr) -> tuple[bool, bool, Key]:
    """Positive terms first; numbers and 𝟏 first among them (𝟏 + exp(x)); then by text."""
    k, core = split_coeff(t)
    return (k < 0, not isinstance(core, (Num, Ones)), c.key(core))


def n_power(c: Canon, e: Power) -> Expr:
    """A.^1 = A, A.^0 = 𝟏, numbers folded, (A.^p).^q = A.^(pq) for whole p, q,
    (Aᵀ).^p = (A.^p)ᵀ."""
    b, p = e.base, e.exponent
    if not isinstance(p, Num):
        return e
    if isinstance(b, Transpose):
        return c.norm(Transpose(c.norm(Power(b.arg, p))))
    if p.value == 1:
        return b
    if p.value == 0:
        return ONE if e.is_scalar else Ones(e.shape)
    if isinstance(b, Num) and p.value.denominator == 1 and (b.value != 0 or p.value > 0):
        return Num(b.value ** int(p.value))
    if isinstance(b, Power) and isinstance(b.exponent, Num) and p.value.denominator == 1 and (
            b.exponent.value.denominator == 1 or p.value == -1):  # (a^p)^q = a^(pq); (a^p)⁻¹ = a^(−p)
        return c.norm(Power(b.base, Num(b.exponent.value * p.value)))
    if isinstance(b, Ones):
        return b
    if b.is_scalar and isinstance(b, MatMul) and p.value.denominator == 1:
        k, parts = flatten_product(b.factors)
        if len(parts) > 1 and all(f.is_scalar for f in parts):  # (a b)^p = a^p b^p for scalars a, b
            return c.mul(Num(k ** int(p.value)), *(c.norm(Power(f, p)) for f in parts))
        if k != 1:  # (c s)^p = c^p s^p
            return c.mul(Num(k ** int(p.value)), c.norm(Power(parts[0] if len(parts) == 1 else MatMul(tuple(parts)), p)))
    return e


def n_call(c: Canon, e: Call) -> Expr:
    """Function identities, from the function's row: a linear function of zero is zero,
    scalars come out of it; f(Aᵀ) = f(A) where
    the row says so; tr(A B) = tr(B A) brings dX last; then the row's own identities
    (tr(A ⊗ B) = tr A tr B, (X⁻¹)⁻¹ = X, log(exp(x)) = x, …)."""
    fn = e.fn
    a = e.args[0]
    if fn.linear:
        if isinstance(a, Zeros):
            return zero(e.shape)
        if isinstance(a, MatMul) and (isinstance(a.factors[0], Num) or a.factors[0].is_scalar) and not a.is_scalar:
            k, parts = flatten_product(a.factors)
            scal = [p for p in parts if p.is_scalar]
            rest = [p for p in parts if not p.is_scalar]
            inner = rest[0] if len(rest) == 1 else MatMul(tuple(rest))
            return c.mul(Num(k), *scal, c.norm(Call(fn, (inner,))))
    if fn.transpose_invariant and isinstance(a, Transpose):
        return c.norm(Call(fn, (a.arg,)))
    if fn.cyclic and isinstance(a, MatMul):
        # tr(A dX B) = tr(B A dX): rotate (trace cyclicity) and transpose (tr Mᵀ = tr M)
        # to bring dX last, as in the identification form tr(Gᵀ dX); without dX, to the
        # reading with fewest transposes, then alphabetical
        _, chain = flatten_product(a.factors)
        if all(not f.is_scalar for f in chain):
            flipped = [c.T(f) for f in reversed(chain)]
            options = [ch[i:] + ch[:i] for ch in (chain, flipped) for i in range(len(ch))]
            # tr(a bᵀ) = bᵀ a: a reading that is a 1×1 product needs no trace
            best = _best_chain(c, options, lambda ch: not (ch[0].shape[0] == 1 and ch[-1].shape[1] == 1))
            if best[0].shape[0] == 1 and best[-1].shape[1] == 1:
                return c.mul(*best)
            if best != chain:
                return Call(fn, (MatMul(tuple(best)),))
    for identity in fn.identities:
        out = identity(e)
        if out is not None:
            return c.simplify(out)
    return e


def n_kron(c: Canon, e: Kron) -> Expr:
    """s ⊗ A = s A for scalar s; numbers come out of either side; I_m ⊗ I_n = I_mn."""
    if e.left.is_scalar or e.right.is_scalar:
        return c.mul(e.left, e.right)
    if isinstance(e.left, Identity) and isinstance(e.right, Identity):
        return Identity(e.shape[0])
    k1, left = split_coeff(e.left)
    k2, right = split_coeff(e.right)
    if k1 * k2 != 1:
        return c.mul(Num(k1 * k2), c.norm(Kron(left, right)))
    return e


def n_commutation(c: Canon, e: Commutation) -> Expr:
    """K₍ₘ,₁₎ = K₍₁,ₙ₎ = I (vec of a vector's transpose is the vector)."""
    return Identity(e.shape[0]) if 1 in (e.m, e.n) else e


def _kron_pair(c: Canon, a: Expr, b: Expr) -> list[Expr] | None:
    """K K = I, K₍ₚ,ₘ₎ (A ⊗ B) = (B ⊗ A) K₍q,ₙ₎ (Magnus–Neudecker, Theorem 3.9: the commutation
    matrix moves to the right, where pairs cancel), K vec A = vec Aᵀ, (B ⊗ C) vec A =
    vec(C A Bᵀ) (and their transposes), and the mixed product (A ⊗ B)(C ⊗ D) = A C ⊗ B D
    (when A C and B D are defined)."""
    if isinstance(a, Commutation) and isinstance(b, Commutation) and (a.m, a.n) == (b.n, b.m):
        return []
    if isinstance(a, Commutation) and isinstance(b, Kron):  # K₍ₚ,ₘ₎ (A ⊗ B) = (B ⊗ A) K₍q,ₙ₎: K moves right
        (m, n), (p, q) = b.left.shape, b.right.shape
        if (a.m, a.n) == (p, m):
            return [c.norm(Kron(b.right, b.left)), c.norm(Commutation(q, n))]
    if isinstance(a, Kron) and (m := F.vec_arg(b)) is not None \
            and m.shape == (a.right.shape[1], a.left.shape[1]):  # (B ⊗ C) vec A = vec(C A Bᵀ)
        return [c.norm(F.VEC(c.mul(a.right, m, c.T(a.left))))]
    if isinstance(a, Transpose) and (m := F.vec_arg(a.arg)) is not None and isinstance(b, Kron) \
            and m.shape == (b.right.shape[0], b.left.shape[0]):  # vec(A)ᵀ (B ⊗ C) = vec(Cᵀ A B)ᵀ
        return [c.T(c.norm(F.VEC(c.mul(c.T(b.right), m, b.left))))]
    if isinstance(a, Commutation) and (m := F.vec_arg(b)) is not None and m.shape == (a.m, a.n):
        return [c.norm(F.VEC(c.T(m)))]  # K vec A = vec Aᵀ
    if isinstance(a, Transpose) and (m := F.vec_arg(a.arg)) is not None and isinstance(b, Commutation) \
            and m.shape == (b.n, b.m):  # vec(A)ᵀ K = vec(Aᵀ)ᵀ
        return [c.T(c.norm(F.VEC(c.T(m))))]
    if isinstance(a, Kron) and isinstance(b, Kron) and a.left.shape[1] == b.left.shape[0] \
            and a.right.shape[1] == b.right.shape[0]:
        return [c.norm(Kron(c.mul(a.left, b.left), c.mul(a.right, b.right)))]
    return None


def n_matpow(c: Canon, e: MatPow) -> Expr:
    """Iᵏ = I;  X⁰ = I."""
    if isinstance(e.base, Identity):
        return e.base
    return Identity(e.shape[0]) if e.k == 0 else e


def n_ones(c: Canon, e: Ones) -> Expr:
    """A row of ones is written 𝟏ᵀ: Transpose(𝟏), one form for it (as the parser reads 𝟏ᵀ)."""
    r, k = e.shape
    return Transpose(Ones((k, 1))) if r == 1 and k != 1 else e


def n_unvec(c: Canon, e: Unvec) -> Expr:
    """vec⁻¹ is linear: numbers come out (vec⁻¹(2 a) = 2 vec⁻¹(a)) and vec⁻¹(vec(X)) = X."""
    a = e.arg
    inner = F.vec_arg(a)
    if inner is not None and inner.shape == e.shape:
        return inner
    if isinstance(a, MatMul) and isinstance(a.factors[0], Num):
        k, parts = flatten_product(a.factors)
        rest = parts[0] if len(parts) == 1 else MatMul(tuple(parts))
        return c.mul(Num(k), c.norm(Unvec(rest, e.rows, e.cols)))
    return e


def distribute_call(c: Canon, e: Call) -> Expr | None:
    """f(A + B) = f(A) + f(B) for a linear function (tr, sum, vec, diag)."""
    a = e.args[0]
    if not (e.fn.linear and isinstance(a, Add)):
        return None
    return c.add([c.norm(Call(e.fn, (t,))) for t in a.terms], e.shape)


NORMALISERS: dict[type, Callable[[Canon, Expr], Expr]] = {
    Unvec: n_unvec,  # type: ignore[dict-item]
    Ones: n_ones,  # type: ignore[dict-item]
    MatPow: n_matpow,  # type: ignore[dict-item]
    Transpose: n_transpose,  # type: ignore[dict-item]
    MatMul: n_matmul,  # type: ignore[dict-item]
    Hadamard: n_hadamard,  # type: ignore[dict-item]
    Add: n_add,  # type: ignore[dict-item]
    Power: n_power,  # type: ignore[dict-item]
    Call: n_call,  # type: ignore[dict-item]
    Kron: n_kron,  # type: ignore[dict-item]
    Commutation: n_commutation,  # type: ignore[dict-item]
}

#: the rules that keep a sum's structure (function arguments, the identification form)
NORMALISING = NORMALISERS


def _then(rule: Callable[[Canon, Expr], Expr | None], normaliser: Callable[[Canon, Expr], Expr]) -> Callable[[Canon, Expr], Expr]:
    def apply(c: Canon, e: Expr) -> Expr:
        out = rule(c, e)
        return normaliser(c, e) if out is None else out

    apply.__doc__ = f"{rule.__doc__}  Otherwise: {normaliser.__doc__}"
    return apply


#: the same rules, and products distributed over sums
EXPANDING: dict[type, Callable[[Canon, Expr], Expr]] = {
    **NORMALISERS,
    MatMul: _then(distribute_matmul, n_matmul),  # type: ignore[arg-type]
    Hadamard: _then(distribute_hadamard, n_hadamard),  # type: ignore[arg-type]
    Call: _then(distribute_call, n_call),  # type: ignore[arg-type]
}


def canonical(e: Expr, canon: Canon | None = None) -> Expr:
    """The canonical, textbook form of ``e`` (see the module docstring).

    Two readings compete and the shorter is printed: sums distributed, like terms
    collected and common factors taken out again (``A x + Aᵀ x`` → ``(A + Aᵀ) x``), or
    the same rules without distributing, which keeps a structure the expression already
    had (``Aᵀ C (D x + e)``).
    """
    expanded = canon or Canon()
    a = transposed_sums(factor_common(expanded, _fixpoint(expanded, e)))
    if not any(isinstance(n, Add) for n in e.walk()):
        return a  # without a sum, both readings are one
    b = transposed_sums(factor_common(expanded, _fixpoint(expanded.structural, e)))
    # a differential reads as df = G dX: prefer the reading with no dX inside a bracketed sum
    return min((a, b), key=lambda t: (_diff_in_sum(expanded, t), expanded._order.length(t), expanded.key(t)))


def _diff_in_sum(c: Canon, e: Expr) -> bool:
    """Does a differential occur inside a sum that is a factor of something (−(dzᵀ − …) y)?"""
    terms = e.terms if isinstance(e, Add) else (e,)
    stack = [k for t in terms for k in t.children]
    seen: set[int] = set()
    while stack:
        n = stack.pop()
        if id(n) in seen or not c.has_diff(n):
            continue
        seen.add(id(n))
        if isinstance(n, Add):
            return True
        stack.extend(n.children)
    return False


def function_identities(e: Expr) -> Expr:
    """``e`` with every call rewritten by its row's identities, bottom-up (log(exp(x)) = x,
    log(softmax(z)) = z − 𝟏 logsumexp(z), (X⁻¹)⁻¹ = X), and runs of one factor written as
    its power (X X X = X³): what is differentiated, so that the derivative comes out as
    simple as the identity makes it."""

    def rewrite(n: Expr) -> Expr:
        if isinstance(n, MatMul):
            return _runs_as_powers(n)
        for _ in range(8):  # each identity makes the call simpler; a bound all the same
            if not isinstance(n, Call):
                return n
            hit = next((r for r in (i(n) for i in n.fn.identities) if r is not None), None)
            if hit is None:
                return n
            n = function_identities(hit)
        return n

    return map_bottom_up(e, rewrite)


def _runs_as_powers(e: MatMul) -> Expr:
    """X X ⋯ X = Xᵏ: a run of one square factor is its power, so that the product rule
    gives k terms of three factors (d(Xᵏ) = Σⱼ Xʲ dX Xᵏ⁻¹⁻ʲ) rather than k terms of k."""
    out: list[Expr] = []
    runs: list[int] = []
    for f in e.factors:
        if out and f == out[-1] and not f.is_scalar and f.shape[0] == f.shape[1]:
            runs[-1] += 1
            continue
        out.append(f)
        runs.append(1)
    if len(out) == len(e.factors):
        return e
    factors = [f if k == 1 else MatPow(f, k) for f, k in zip(out, runs, strict=True)]
    return factors[0] if len(factors) == 1 else MatMul(tuple(factors))


def simplified(e: Expr, canon: Canon | None = None) -> Expr:
    """The normal form without distributing sums (the structure of e is kept).  ``canon``:
    a canonicalisation whose memo to share (its normalising part is used)."""
    return _fixpoint(canon.structural if canon else Canon(expand=False), e)


def normal_form(e: Expr) -> Expr:
    """Phase 1 only: the fully distributed normal form, for comparing expressions."""
    return _fixpoint(Canon(), e)


def _fixpoint(c: Canon, e: Expr) -> Expr:
    """Whole bottom-up passes until nothing changes (the memo stays valid from one round
    to the next); a pass that does not settle is an error, never a half-rewritten result."""
    return fixpoint(c.simplify, e, "the canonical form")


__all__ = ["canonical", "simplified", "normal_form", "Canon"]
