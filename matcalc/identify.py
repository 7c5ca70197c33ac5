"""Identification: from a differential to the gradient or the Jacobian.

**Gradient** (first identification table, Magnus–Neudecker): for scalar f,
``df = tr(Gᵀ dX)  ⇔  ∂f/∂X = G``.  The differential is linear in dX; :func:`gradient`
moves every factor away from dX with one rule per node type, each an identity:

=====================  =============================================================
``tr(Cᵀ A L B)``       ``= tr((Aᵀ C Bᵀ)ᵀ L)``            (trace cyclicity)
``tr(Cᵀ Lᵀ)``          ``= tr(C L) = tr((Cᵀ)ᵀ L)``        (transpose of a scalar)
``tr(Cᵀ (A ⊙ L))``     ``= tr((C ⊙ A)ᵀ L)``
``c tr(L)``            ``= tr((c I)ᵀ L)``;  ``c sum(L) = tr((c 𝟏𝟏ᵀ)ᵀ L)``
``cᵀ vec(L)``          ``= tr(vec⁻¹(c)ᵀ L)``;  ``cᵀ diag(L) = tr(diag(c)ᵀ L)``
=====================  =============================================================

It is reverse accumulation over the differential's DAG: each node's "cotangent" C is
summed over its uses before it is passed on, so the cost is linear in the DAG's size.

**Jacobian**: for F of any shape, ``vec dF = J vec dX  ⇔  DF = J``, built with
``vec(A L B) = (Bᵀ ⊗ A) vec L``, ``vec(Lᵀ) = K vec L`` (commutation matrix) and
``vec(A ⊙ L) = diag(vec A) vec L`` and ``vec(A ⊗ L) = P (vec A ⊗ I) vec L``: one rule per
node type, the gradient's and the Jacobian's rules of a node in one record of :data:`LINEAR`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import functions as F
from .algebra import add, hadamard, mul, transpose, zero
from .errors import DiffError
from .nodes import (
    ONE,
    Add,
    Call,
    Commutation,
    Diff,
    Expr,
    Hadamard,
    Identity,
    Kron,
    MatMul,
    Transpose,
    Unvec,
    Var,
    depends_on,
)
from .shapes import Dim, dim_mul


def _linear_error(e: Expr, what: str) -> DiffError:
    return DiffError(f"cannot identify the {what}: the differential is not linear in the variable at {type(e).__name__}", node=e)


# -------------------------------------------------------------------- gradient (reverse)

Adjoint = Callable[[Expr, Expr, list[bool]], list[tuple[int, Expr]]]


def _one_dependent(e: Expr, mask: list[bool], what: str) -> int:
    idx = [i for i, m in enumerate(mask) if m]
    if len(idx) != 1:
        raise _linear_error(e, what)
    return idx[0]


def adj_add(e: Add, c: Expr, mask: list[bool]) -> list[tuple[int, Expr]]:
    """tr(Cᵀ (L₁ + L₂)) = tr(Cᵀ L₁) + tr(Cᵀ L₂)."""
    return [(i, c) for i, m in enumerate(mask) if m]


def _sides(e: MatMul, i: int) -> tuple[list[Expr], list[Expr], list[Expr]]:
    """A product s A L B, the factor L at ``i`` (a matrix): the scalars s, the matrices A on
    its left and B on its right — the one description of L ↦ s A L B from which its adjoint
    (C ↦ s Aᵀ C Bᵀ) and its Jacobian (s Bᵀ ⊗ A) both come."""
    f = e.factors
    others = f[:i] + f[i + 1:]
    return ([g for g in others if g.is_scalar], [g for g in f[:i] if not g.is_scalar],
            [g for g in f[i + 1:] if not g.is_scalar])


def adj_matmul(e: MatMul, c: Expr, mask: list[bool]) -> list[tuple[int, Expr]]:
    """tr(Cᵀ A L B) = tr((Aᵀ C Bᵀ)ᵀ L) (trace cyclicity); scalar factors commute."""
    i = _one_dependent(e, mask, "gradient")
    scalars, left, right = _sides(e, i)
    if e.factors[i].is_scalar:
        # s(L) M: tr(Cᵀ M) s(L), so the scalar L gets ⟨C, M⟩ = tr(Mᵀ C)
        rest = left + right
        if not rest:
            return [(i, mul(*scalars, c))]
        m = mul(*rest)
        inner = mul(transpose(m), c) if m.shape[1] == 1 else F.TRACE(mul(transpose(m), c))
        return [(i, mul(*scalars, inner))]
    lt = [transpose(g) for g in reversed(left)]
    rt = [transpose(g) for g in reversed(right)]
    return [(i, mul(*scalars, *lt, c, *rt))]


def adj_hadamard(e: Hadamard, c: Expr, mask: list[bool]) -> list[tuple[int, Expr]]:
    """tr(Cᵀ (A ⊙ L)) = tr((C ⊙ A)ᵀ L)."""
    i = _one_dependent(e, mask, "gradient")
    others = e.factors[:i] + e.factors[i + 1:]
    return [(i, hadamard(c, *others))]


def adj_transpose(e: Transpose, c: Expr, mask: list[bool]) -> list[tuple[int, Expr]]:
    """tr(Cᵀ Lᵀ) = tr((Cᵀ)ᵀ L)."""
    return [(0, transpose(c))]


def adj_call(e: Call, c: Expr, mask: list[bool]) -> list[tuple[int, Expr]]:
    """Linear functions, by their row's adjoint: c tr(L) = tr((c I)ᵀ L), c sum(L) =
    tr((c 𝟏𝟏ᵀ)ᵀ L), cᵀ vec(L) = tr(vec⁻¹(c)ᵀ L); diag of a vector and of a matrix are adjoint."""
    if e.fn.adjoint is None:
        raise _linear_error(e, "gradient")
    return [(0, e.fn.adjoint(e, c))]


def adj_unvec(e: Unvec, c: Expr, mask: list[bool]) -> list[tuple[int, Expr]]:
    """tr(Cᵀ vec⁻¹(l)) = vec(C)ᵀ l."""
    return [(0, F.VEC(c))]


def kron_shuffle(p: Dim, q: Dim, m: Dim, n: Dim) -> Expr:
    """P = I_q ⊗ K₍ₙ,ₚ₎ ⊗ I_m, with vec(A ⊗ B) = P (vec A ⊗ vec B) for A p×q and B m×n
    (Magnus–Neudecker, Theorem 3.10); trivial factors are left out."""
    parts: list[Expr] = [Identity(q)] if q != 1 else []
    if n != 1 and p != 1:
        parts.append(Commutation(n, p))
    if m != 1:
        parts.append(Identity(m))
    if not parts:
        return Identity(1)
    out = parts[-1]
    for f in reversed(parts[:-1]):
        out = Kron(f, out)
    return out


def _kron_factor(e: Kron, i: int) -> tuple[Expr, Expr]:
    """For A ⊗ L (i = 1) or L ⊗ B (i = 0): P and the matrix M with vec(e) = P M vec L."""
    (p, q), (m, n) = e.left.shape, e.right.shape
    shuffle = kron_shuffle(p, q, m, n)
    if i == 1:
        return shuffle, Kron(F.vec_of(e.left), Identity(dim_mul(m, n)))
    return shuffle, Kron(Identity(dim_mul(p, q)), F.vec_of(e.right))


def adj_kron(e: Kron, c: Expr, mask: list[bool]) -> list[tuple[int, Expr]]:
    """tr(Cᵀ (A ⊗ L)) = vec(C)ᵀ P (vec A ⊗ I) vec L, so L's cotangent is
    vec⁻¹((vec A ⊗ I)ᵀ Pᵀ vec C); alike for L ⊗ B."""
    i = _one_dependent(e, mask, "gradient")
    shuffle, m = _kron_factor(e, i)
    lin = e.children[i]
    r, k = lin.shape
    flat = mul(transpose(m), transpose(shuffle), F.vec_of(c))
    if k == 1:
        return [(i, flat)]
    if r == 1:
        return [(i, transpose(flat))]
    return [(i, Unvec(flat, r, k))]


def gradient(df: Expr, x: Var) -> Expr:
    """G with df = tr(Gᵀ dX), for a scalar differential df linear in dX (uncanonicalised)."""
    dx = Diff(x)
    dep: dict[Expr, bool] = {}
    if not depends_on(df, dx, dep):
        return zero(x.shape)
    # topological order of the nodes that contain dX (parents before children)
    order: list[Expr] = []
    seen: set[Expr] = set()
    stack: list[tuple[Expr, bool]] = [(df, False)]
    while stack:
        n, done = stack.pop()
        if done:
            order.append(n)
            continue
        if n in seen or not dep.get(n, False):
            continue
        seen.add(n)
        stack.append((n, True))
        stack.extend((k, False) for k in n.children if dep.get(k, False) and k not in seen)
    order.reverse()
    cot: dict[Expr, list[Expr]] = {df: [ONE]}
    result: list[Expr] = []
    for n in order:
        cs = cot.pop(n, [])
        if not cs:
            continue
        c = add(*cs)
        if n == dx:
            result.append(c)
            continue
        rule = LINEAR.get(type(n))
        if rule is None:
            raise _linear_error(n, "gradient")
        kids = n.children
        for i, ci in rule.adjoint(n, c, [dep.get(k, False) for k in kids]):
            cot.setdefault(kids[i], []).append(ci)
    return add(*result) if result else zero(x.shape)


# -------------------------------------------------------------------- Jacobian (forward)




Jacobian = Callable[[Expr, Callable[[Expr], Expr], Callable[[Expr], bool]], Expr]


def jac_add(e: Add, J: Callable[[Expr], Expr], dep: Callable[[Expr], bool]) -> Expr:
    """vec(L₁ + L₂) = vec L₁ + vec L₂."""
    return add(*(J(t) for t in e.terms if dep(t)))


def jac_matmul(e: MatMul, J: Callable[[Expr], Expr], dep: Callable[[Expr], bool]) -> Expr:
    """vec(A L B) = (Bᵀ ⊗ A) vec L;  vec(s(L) M) = vec(M) s(L) for a scalar s(L)."""
    f = e.factors
    i = _one_dependent(e, [dep(g) for g in f], "Jacobian")
    lin = f[i]
    scalars, left, right = _sides(e, i)
    if lin.is_scalar:
        rest = left + right
        if not rest:
            return mul(*scalars, J(lin))
        return mul(*scalars, F.vec_of(mul(*rest)), J(lin))
    r, c = lin.shape
    a = mul(*left) if left else None
    b = mul(*right) if right else None
    if a is None and b is None:
        return mul(*scalars, J(lin))
    if b is None:
        kron: Expr = a if c == 1 else Kron(Identity(c), a)  # type: ignore[assignment]
    elif a is None:
        kron = transpose(b) if r == 1 else Kron(transpose(b), Identity(r))
    else:
        kron = Kron(transpose(b), a)
    return mul(*scalars, kron, J(lin))


def jac_hadamard(e: Hadamard, J: Callable[[Expr], Expr], dep: Callable[[Expr], bool]) -> Expr:
    """vec(A ⊙ L) = diag(vec A) vec L."""
    i = _one_dependent(e, [dep(f) for f in e.factors], "Jacobian")
    others = e.factors[:i] + e.factors[i + 1:]
    return mul(F.DIAG(F.vec_of(hadamard(*others))), J(e.factors[i]))


def jac_transpose(e: Transpose, J: Callable[[Expr], Expr], dep: Callable[[Expr], bool]) -> Expr:
    """vec(Lᵀ) = K vec L (the commutation matrix; vec of a vector's transpose is itself)."""
    r, c = e.arg.shape
    return J(e.arg) if 1 in (r, c) else mul(Commutation(r, c), J(e.arg))


def jac_call(e: Call, J: Callable[[Expr], Expr], dep: Callable[[Expr], bool]) -> Expr:
    """Linear functions, by their row's vec matrix: vec f(L) = M vec L (vec tr(L) = vec(I)ᵀ vec L, …)."""
    if e.fn.vec_matrix is None:
        raise DiffError(f"no Jacobian rule for {e.fn.name} of the variable yet", node=e)
    m = e.fn.vec_matrix(e)
    return J(e.args[0]) if m is None else mul(m, J(e.args[0]))


def jac_unvec(e: Unvec, J: Callable[[Expr], Expr], dep: Callable[[Expr], bool]) -> Expr:
    """vec(vec⁻¹ l) = l."""
    return J(e.arg)


def jac_kron(e: Kron, J: Callable[[Expr], Expr], dep: Callable[[Expr], bool]) -> Expr:
    """vec(A ⊗ L) = P (vec A ⊗ I) vec L and vec(L ⊗ B) = P (I ⊗ vec B) vec L, with
    P = I_q ⊗ K₍ₙ,ₚ₎ ⊗ I_m (Magnus–Neudecker, Theorem 3.10)."""
    i = _one_dependent(e, [dep(f) for f in e.children], "Jacobian")
    shuffle, m = _kron_factor(e, i)
    return mul(shuffle, m, J(e.children[i]))


@dataclass(frozen=True)
class Linear:
    """How a node that is linear in its dependent child passes identification on, both
    ways: ``adjoint`` (reverse: the cotangent C of the node gives its child's, with
    tr(Cᵀ node) = tr(C'ᵀ child)) and ``jacobian`` (forward: vec node = M vec child)."""

    adjoint: Adjoint
    jacobian: Jacobian


#: one record per node type: the identification rules of the nodes a differential can be
#: linear through (the product rules' operands, transposes, linear functions, vec⁻¹)
LINEAR: dict[type, Linear] = {
    Add: Linear(adj_add, jac_add),  # type: ignore[arg-type]
    MatMul: Linear(adj_matmul, jac_matmul),  # type: ignore[arg-type]
    Hadamard: Linear(adj_hadamard, jac_hadamard),  # type: ignore[arg-type]
    Transpose: Linear(adj_transpose, jac_transpose),  # type: ignore[arg-type]
    Call: Linear(adj_call, jac_call),  # type: ignore[arg-type]
    Unvec: Linear(adj_unvec, jac_unvec),  # type: ignore[arg-type]
    Kron: Linear(adj_kron, jac_kron),  # type: ignore[arg-type]
}


def jacobian(dF: Expr, x: Var) -> Expr:
    """J with vec dF = J vec dX (uncanonicalised): forward accumulation over the DAG,
    children before parents, each node by its rule in :data:`LINEAR`."""
    dx = Diff(x)
    deps: dict[Expr, bool] = {}
    size = dim_mul(x.shape[0], x.shape[1])
    rows = dim_mul(dF.shape[0], dF.shape[1])
    if not depends_on(dF, dx, deps):
        return zero((rows, size))
    memo: dict[Expr, Expr] = {}

    def dep(n: Expr) -> bool:
        return deps.get(n, False)

    # children before parents, so that a rule only looks its arguments up in the memo: no
    # recursion, however deep dF is (a node without a rule is reported innermost first)
    for n in dF.postorder():
        if not dep(n) or n in memo:
            continue
        if n == dx:
            memo[n] = Identity(size)
            continue
        rule = LINEAR.get(type(n))
        if rule is None:
            raise DiffError(f"no Jacobian rule for {getattr(getattr(n, 'fn', None), 'name', type(n).__name__)} "
                            "of the variable yet", node=n)
        memo[n] = rule.jacobian(n, memo.__getitem__, dep)
    return memo[dF]
