"""The derivation: one pure pipeline from a parsed tree to every result, each computed once.

:func:`derive` takes the tree of f and a variable X and returns a :class:`FirstOrder`,
a frozen value holding

- the differential df, raw (the rules of :mod:`matcalc.rules.differential` applied once,
  bottom-up) and canonical (:mod:`matcalc.rules.canon`);
- for a scalar f the gradient G with df = tr(Gᵀ dX) (the first identification table,
  :func:`matcalc.identify.gradient`; sym(G) for a symmetric X); for any f the Jacobian DF
  with vec dF = J vec dX (:func:`matcalc.identify.jacobian`); the derivative ∂f/∂X in the
  chosen layout;
- the :class:`Condition` s under which the answer holds (an inverted matrix, a kink, a
  variable f does not depend on), as data;
- the :class:`Step` s of the derivation (the same rule table, one level at a time), on
  demand.

:func:`derive_second` continues to second order: H = D vec G, H[V] and their steps
(:class:`SecondOrder`).  One canonicalisation memo serves every canonical form of a
derivation.  Nothing here prints: :mod:`matcalc.printing.render` words and typesets the
values, and the API's objects (:mod:`matcalc.api`) are views over them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from . import functions as F
from .algebra import Q_HALF, add, mul, transpose
from .errors import DiffError
from .identify import gradient as identify_gradient
from .identify import jacobian as identify_jacobian
from .nodes import Call, Commutation, Diff, Expr, Identity, MatMul, Num, Transpose, Var, depends_on, map_bottom_up
from .rules.canon import Canon, canonical, function_identities, simplified
from .rules.differential import derivation, differential
from .rules.order import Order
from .shapes import dim_mul

LAYOUTS = ("denominator", "numerator")


@dataclass(frozen=True)
class Condition:
    """What an answer needs, or what a reader must know about it, as data
    (:func:`matcalc.printing.prose.condition_words` words it).

    ``kind`` is one of

    - ``"invertible"``: the answer holds where ``subject`` is invertible (it inverts a
      matrix f does not invert: det X has the gradient det(X) X⁻ᵀ there);
    - ``"adjugate"``: the answer holds everywhere; where ``subject`` is invertible it is
      ``alternative`` (adj(M) = det(M) M⁻¹ there);
    - ``"kink"``: the answer holds where no entry of ``subject`` is 0 (abs, sign, relu and
      ‖·‖₁ have a kink there); ``name`` is the function;
    - ``"constant"``: f does not depend on the variable ``name`` (order 1: the derivative
      is zero; order 2: the Hessian is zero);
    - ``"note"``: a sentence of the caller's (``name``), such as a declaration not used.
    """

    kind: str
    subject: Expr | None = None
    alternative: Expr | None = None
    name: str = ""
    order: int = 1


@dataclass(frozen=True)
class Step:
    """One step of a derivation: the rule that produced it, the expression, and what the
    expression is (``"d f"`` a differential; ``"∂f/∂X"``, ``"DF"``, ``"H"``, … a result)."""

    rule: str
    expr: Expr
    lhs: str = "d f"


@dataclass(frozen=True, eq=False)
class FirstOrder:
    """The first-order derivation of ``f`` with respect to ``wrt`` (see :func:`derive`)."""

    f: Expr
    wrt: Var
    layout: str
    #: df as the rules give it (not canonical): what the Hessian differentiates again
    raw: Expr
    #: G (scalar f; sym(G) for a symmetric X), else None
    gradient: Expr | None
    #: G before sym(G) (a step of the derivation; G itself for a non-symmetric X)
    identified: Expr | None
    conditions: tuple[Condition, ...]
    canon: Canon = field(repr=False)
    #: the Jacobian, when f is not a scalar (computed with the gradient's identification)
    _jacobian: Expr | None = field(default=None, repr=False)

    @property
    def is_scalar(self) -> bool:
        return self.f.is_scalar

    def canonical(self, e: Expr) -> Expr:
        """The canonical form of ``e`` with this derivation's memo, each computed once (Gᵀ is
        the numerator-layout gradient, the trace form's step and a vector's Jacobian)."""
        hit = self._forms.get(e)
        if hit is None:
            hit = self._forms[e] = canonical(e, self.canon)
        return hit

    @functools.cached_property
    def _forms(self) -> dict[Expr, Expr]:
        return {}

    @functools.cached_property
    def differential(self) -> Expr:
        """df in canonical form."""
        return self.canonical(self.raw)

    @functools.cached_property
    def jacobian(self) -> Expr:
        """DF with vec dF = J vec dX; for a scalar f, (vec G)ᵀ."""
        if self._jacobian is not None:
            return self._jacobian
        assert self.gradient is not None
        return self.canonical(transpose(F.vec_of(self.gradient)))

    @functools.cached_property
    def derivative(self) -> Expr:
        """∂f/∂X in the layout: G or Gᵀ for a scalar f, Jᵀ or J otherwise."""
        if self.gradient is not None:
            return self.gradient if self.layout == "denominator" else self.canonical(transpose(self.gradient))
        return self.jacobian if self.layout == "numerator" else self.canonical(transpose(self.jacobian))

    @functools.cached_property
    def unsymmetrised(self) -> Expr | None:
        """G before sym(G) = (G + Gᵀ)/2, canonical (the gradient itself for other variables)."""
        if self.identified is None or not self.wrt.symmetric:
            return self.gradient
        return self.canonical(self.identified)

    @functools.cached_property
    def steps(self) -> tuple[Step, ...]:
        """The derivation, rule by rule, as seed 001 writes it by hand."""
        return _first_order_steps(self)


def derive(f: Expr, wrt: Var, layout: str = "denominator", notes: tuple[str, ...] = (),
           any_symmetric_jacobian: bool = False) -> FirstOrder:
    """The first-order derivation of ``f`` with respect to ``wrt``.  ``notes``: sentences
    of the caller's that go with the answer (declarations not used).
    ``any_symmetric_jacobian``: for a symmetric X, accept one of the Jacobians (they agree
    on symmetric dX), as the Hessian does before it symmetrises.

    >>> import matcalc
    >>> e = matcalc.parse("x' A x")
    >>> d = derive(e.tree, e.variable("x"))
    >>> type(d.gradient).__name__, d.gradient.shape
    ('MatMul', ('m', 1))
    """
    if layout not in LAYOUTS:
        raise DiffError(f"layout must be one of {', '.join(LAYOUTS)}, not {layout!r}")
    raw = differential(function_identities(f), wrt)
    canon = Canon()  # one memo for every canonical form of this derivation
    # identification works on the differential with transposes at the leaves and the
    # function identities applied (tr(A ⊗ dX) = tr(A) tr(dX)), but sums not distributed
    linear = simplified(raw, canon)
    gradient = identified = jacobian = None
    if f.is_scalar:
        identified = identify_gradient(linear, wrt)
        g = mul(Num(Q_HALF), add(identified, transpose(identified))) if wrt.symmetric else identified
        gradient = canonical(g, canon)
        answer = gradient
    else:
        if wrt.symmetric and not wrt.is_scalar and not any_symmetric_jacobian:
            raise DiffError(f"the Jacobian with respect to the symmetric matrix {wrt.name} is not unique; "
                            f"declare {wrt.name} without 'symmetric' for the unconstrained Jacobian", node=wrt)
        jacobian = answer = canonical(identify_jacobian(linear, wrt), canon)
    conditions = [*(Condition("note", name=n) for n in notes), *_inverted(f, answer), *_kinks(f, wrt)]
    if not any(isinstance(n, Var) and n.name == wrt.name for n in f.walk()):
        conditions.append(Condition("constant", name=wrt.name))
    return FirstOrder(f, wrt, layout, raw, gradient, identified, tuple(conditions), canon, jacobian)


# ======================================================================================
# Conditions
# ======================================================================================


def _inverted(f: Expr, answer: Expr) -> list[Condition]:
    """Where an answer holds that f itself does not already require: the answer inverts a
    matrix that f never inverts (det X has the gradient det(X) X⁻ᵀ where X is invertible,
    adj(X)ᵀ everywhere); and the det · inverse form of an adjugate the answer keeps
    because its matrix need not be invertible (det(A X B))."""

    def inverted(t: Expr) -> set[Expr]:
        out = set()
        for n in t.walk():
            m = F.inverted_matrix(n)
            if m is not None:
                out.add(m.arg if isinstance(m, Transpose) else m)
        return out

    order = Order()
    out = [Condition("invertible", m) for m in sorted(inverted(answer) - inverted(f), key=order.key)]
    adjugates = sorted({m for n in answer.walk() if (m := F.adjugate_arg(n)) is not None
                        and not m.is_scalar and _may_be_invertible(m)}, key=order.key)
    for m in adjugates:  # adj(A X B) everywhere; the textbook's det · inverse form where that is defined
        invertible = map_bottom_up(answer, lambda n, m=m: mul(F.DET(m), F.INV(m)) if F.adjugate_arg(n) == m else n)
        out.append(Condition("adjugate", m, canonical(invertible)))
    return out


def _may_be_invertible(m: Expr) -> bool:
    """Can the square ``m`` be invertible for some sizes and values?  Not a product through a
    vector (u uᵀ has rank 1) or through a numeric size smaller than its own."""
    if not isinstance(m, MatMul):
        return True
    chain = [f for f in m.factors if not f.is_scalar]
    inner = [f.shape[1] for f in chain[:-1]]
    outer = m.shape[0]
    return not any(d == 1 or (isinstance(d, int) and isinstance(outer, int) and d < outer) for d in inner)


def _kinks(f: Expr, wrt: Var) -> list[Condition]:
    """Where f is not differentiable: abs, sign, relu and ‖·‖₁ have a kink where an entry
    of their argument (one that depends on the variable) is 0."""
    dep: dict[Expr, bool] = {}
    depends_on(f, wrt, dep)
    seen: dict[Expr, Condition] = {}
    for n in f.walk():
        if isinstance(n, Call) and n.fn.kink and dep.get(n.args[0], False) and n.args[0] not in seen:
            seen[n.args[0]] = Condition("kink", n.args[0], name=n.fn.name)
    return list(seen.values())


# ======================================================================================
# Steps
# ======================================================================================


def _first_order_steps(d: FirstOrder) -> tuple[Step, ...]:
    x = d.wrt
    dx = Diff(x)
    out = [Step(rule, e) for rule, e in derivation(d.f, x)]
    if out[-1].expr != d.differential:
        out.append(Step("simplify: collect terms, transpose scalars", d.differential))
    if d.is_scalar:
        g = d.unsymmetrised
        assert g is not None
        if x.is_scalar:
            form, rule = mul(g, dx), "identification: df = g dx"
        elif x.shape[1] == 1:
            form, rule = mul(d.canonical(transpose(g)), dx), "a scalar equals its transpose: df = gᵀ dx"
        else:
            form = F.TRACE(mul(d.canonical(transpose(g)), dx))
            rule = "a scalar equals its trace; trace cyclicity brings dX last: df = tr(Gᵀ dX)"
        if form != out[-1].expr:
            out.append(Step(rule, form))
        # in numerator layout ∂f/∂X is Gᵀ: the identification gives G, the next step its transpose
        named = f"∂f/∂{x.name}" if d.layout == "denominator" else "G"
        out.append(Step("first identification table: df = tr(Gᵀ dX) ⇔ ∂f/∂X = G", g, named))
        if x.symmetric:
            assert d.gradient is not None
            out.append(Step("symmetric X: the gradient on symmetric matrices is sym(G) = (G + Gᵀ)/2",
                            d.gradient, named))
        if d.layout == "numerator":
            out.append(Step("numerator layout: the transpose", d.derivative, f"∂f/∂{x.name}"))
    else:
        form = mul(d.jacobian, F.vec_of(dx)) if not x.is_scalar else mul(d.jacobian, dx)
        out.append(Step("vec dF = J vec dX, with vec(A X B) = (Bᵀ ⊗ A) vec X", form, "vec dF"))
        out.append(Step("identification: DF = J", d.jacobian, "DF"))
        if d.layout == "denominator":
            out.append(Step("denominator layout: the transpose Jᵀ", d.derivative, f"∂F/∂{x.name}"))
    return tuple(out)


# ======================================================================================
# Second order
# ======================================================================================

#: names for the direction of H[V], in the order they are tried (vectors, matrices): the
#: letters notes use for a direction, before a numbered V
DIRECTIONS = {False: ("v", "u", "h", "e", "z"), True: ("V", "U", "E", "Z", "Δ")}


@dataclass(frozen=True, eq=False)
class SecondOrder:
    """The Hessian of a scalar f: with df = tr(Gᵀ dX) and dX constant, d²f = tr(dGᵀ dX),
    vec dG = H vec dX, so H = D vec G = ∂²f/∂vec X ∂(vec X)ᵀ (mixed: ∂²f/∂vec X ∂(vec Y)ᵀ);
    H[V] is dG with dY = V, the Hessian applied to a direction shaped like Y."""

    first: FirstOrder
    #: the Jacobian of the gradient with respect to Y, D vec G
    of_gradient: FirstOrder
    wrt2: Var | None
    #: H: D vec G, symmetrised as N H N for a symmetric variable (the Frobenius convention)
    hessian: Expr
    #: H[V]
    hvp: Expr
    #: the direction V of H[V]: a name f does not use
    direction: Var
    conditions: tuple[Condition, ...]

    @property
    def wrt(self) -> Var:
        return self.first.wrt

    @property
    def second(self) -> Var:
        """Y: the variable of the second derivative (X itself unless mixed)."""
        return self.wrt2 or self.first.wrt

    @functools.cached_property
    def steps(self) -> tuple[Step, ...]:
        """d²f = tr(dGᵀ dX), vec dG = H vec dX, then H and H[V]."""
        return _second_order_steps(self)


def derive_second(first: FirstOrder, wrt2: Var | None = None, taken: frozenset[str] = frozenset()) -> SecondOrder:
    """The Hessian of the scalar f of ``first`` (with ``wrt2``: the mixed derivative);
    ``taken``: names the direction of H[V] must not have (the expression's)."""
    x, y = first.wrt, wrt2 or first.wrt
    g = first.gradient
    if g is None:
        raise DiffError("a Hessian is of a scalar expression (differentiate it once for its Jacobian)", None)
    second = derive(g, y, "numerator", any_symmetric_jacobian=True)
    h = _symmetrised(second, x, y)
    name = _fresh(DIRECTIONS[not y.is_scalar and y.shape[1] != 1], set(taken) | {x.name, y.name})
    v = Var(name, y.shape, symmetric=y.symmetric and not y.is_scalar)  # a symmetric X moves symmetrically
    dy = Diff(y)
    hvp = map_bottom_up(second.differential, lambda n: v if n == dy else n)
    if x.symmetric and not x.is_scalar:  # H[V] = sym(dG) (G = sym(G) already: a no-op for most f)
        hvp = mul(Num(Q_HALF), add(hvp, transpose(hvp)))
    conditions = list(first.conditions)
    for c in second.conditions:
        c = Condition("constant", name=c.name, order=2) if c.kind == "constant" else c
        if c not in conditions:
            conditions.append(c)
    return SecondOrder(first, second, wrt2, h, second.canonical(hvp), v, tuple(conditions))


def _symmetrised(second: FirstOrder, x: Var, y: Var) -> Expr:
    """H = N J N with N = (I + K)/2 on each side whose variable is a symmetric matrix: the
    Hessian of f restricted to symmetric matrices, in the Frobenius sense of the gradient
    sym(G) (it is the Hessian of X ↦ f(sym X)): d²f = (vec V)ᵀ H vec V for symmetric V,
    and H vec V = vec H[V] is symmetric."""
    def n_of(v: Var) -> Expr:
        size = v.shape[0]
        return mul(Num(Q_HALF), add(Identity(dim_mul(size, size)), Commutation(size, size)))

    j = second.jacobian
    sx, sy = x.symmetric and not x.is_scalar, y.symmetric and not y.is_scalar
    if not (sx or sy):
        return j
    if sx and sy and x == y:
        k = Commutation(x.shape[0], x.shape[0])
        if second.canonical(mul(k, j, k)) == j:  # K J K = J (as for A ⊗ A, I ⊗ X + X ⊗ I): N J N = J N
            return second.canonical(mul(j, n_of(x)))
    return second.canonical(mul(*([n_of(x)] if sx else []), j, *([n_of(y)] if sy else [])))


def _fresh(names: tuple[str, ...], taken: set[str]) -> str:
    """The first of ``names`` not taken, else the first with a number (V1, V2, …)."""
    for name in names:
        if name not in taken:
            return name
    k = 1
    while f"{names[0]}{k}" in taken:
        k += 1
    return f"{names[0]}{k}"


def _second_order_steps(s: SecondOrder) -> tuple[Step, ...]:
    x, y = s.wrt, s.second
    dx = Diff(x)
    g = s.first.gradient
    assert g is not None
    dg = Diff(g)
    if x.is_scalar:
        second = mul(dg, dx)
    elif x.shape[1] == 1:
        second = mul(transpose(dg), dx)
    else:
        second = F.TRACE(mul(transpose(dg), dx))
    vec_dy = Diff(y) if y.is_scalar else F.vec_of(Diff(y))
    j = s.of_gradient.jacobian
    v = s.direction.name
    out = [
        Step("first identification table: df = tr(Gᵀ dX)", s.first.differential, "d f"),
        Step("dX is constant (d²X = 0): d²f = tr(dGᵀ dX)", second, "d²f"),
        Step("the differential of the gradient", s.of_gradient.differential, "dG"),
        Step("vec dG = H vec dX (the Jacobian of the gradient)", mul(j, vec_dy), "vec dG"),
        Step("second identification: d²f = (vec dX)ᵀ H (vec dX)", j, "H"),
        Step(f"H applied to {v}: dG with d{y.name} = {v}", s.hvp, f"H[{v}]"),
    ]
    if s.hessian is not j:  # a symmetric variable: the Frobenius convention of sym(G)
        out.insert(5, Step("symmetric variable: H = N H N with N = (I + K)/2 (f restricted to symmetric "
                           "matrices, as the gradient sym(G))", s.hessian, "H"))
    return tuple(out)


__all__ = ["LAYOUTS", "Condition", "Step", "FirstOrder", "SecondOrder", "derive", "derive_second", "DIRECTIONS"]
