"""Second order: the Hessian of a scalar f, from its second differential.

With dX constant (d²X = 0), the first identification df = tr(Gᵀ dX) gives

    d²f = tr(dGᵀ dX),    vec dG = H vec dX,    so    d²f = (vec dX)ᵀ H (vec dX),

and H = D vec G = ∂²f/∂vec X ∂(vec X)ᵀ is the Hessian (mn×mn; symmetric wherever f is
twice continuously differentiable).  It is the Jacobian of the gradient, which the
first-order engine already identifies in Kronecker form (vec(A X B) = (Bᵀ ⊗ A) vec X, K
for transposes, diag(vec ·) for Hadamard products).  The Hessian applied to a direction
V shaped like X, H[V], is dG with dX = V: what an optimiser uses, with no Kronecker
product.  With a second variable Y, D_Y vec G is the mixed derivative ∂²f/∂vec X ∂(vec Y)ᵀ.
"""

from __future__ import annotations

import functools
from typing import Any

from . import functions as F
from .algebra import Q_HALF, add, mul, transpose
from .api import (
    SCHEMA_VERSION,
    Derivation,
    Derivative,
    Expression,
    Step,
    _bounded,
    _latex_shape,
    diff,
    parse,
)
from .errors import DiffError, MatcalcError, ParseError
from .limits import API_TIMEOUT, api_bound
from .nodes import Commutation, Diff, Expr, Identity, Num, Var, Zeros, map_bottom_up
from .printing.latex import latex_name, to_latex
from .printing.prose import latex_text
from .printing.shared import forms
from .printing.text import ascii_words, to_text
from .rules.canon import canonical
from .shapes import dim_mul, dim_str, shape_str


class Hessian:
    """What :func:`hessian` returns: ``hessian`` (H, with vec dG = H vec dX), ``hvp`` (H[V],
    the Hessian applied to a direction V shaped like X), ``gradient``, ``steps``; printed
    by :meth:`text`, :meth:`latex`, :meth:`to_dict`; checked by :meth:`check`."""

    def __init__(self, first: Derivative, wrt2: Var | None = None):
        self.first = first
        self.expression = first.expression
        self.wrt = first.wrt
        self.wrt2 = wrt2
        x, y = self.wrt, wrt2 or first.wrt
        g = first._gradient
        assert g is not None
        e = self.expression
        # the gradient as an expression of its own, differentiated once more
        inner = Expression(g, None, e.decls, e._shapes, e.functions, e.assumptions)
        try:
            self._second = Derivative(inner, y, "numerator", any_symmetric_jacobian=True)
        except DiffError as err:
            raise err.located(e.source, e.spans) from None
        self._j = self._second._jacobian
        self._h = _symmetrised(self._j, x, y)
        #: the direction H is applied to: V (a matrix), v (a vector or a scalar), a name f does not use
        self.direction = _fresh(_DIRECTIONS[not y.is_scalar and y.shape[1] != 1], e._names() | {x.name, y.name})
        v = Var(self.direction, y.shape, symmetric=y.symmetric and not y.is_scalar)  # a symmetric X moves symmetrically
        dy = Diff(y)
        hvp = map_bottom_up(self._second._differential, lambda n: v if n == dy else n)
        if x.symmetric and not x.is_scalar:  # H[V] = sym(dG) (G = sym(G) already: this is a no-op for most f)
            hvp = mul(Num(Q_HALF), add(hvp, transpose(hvp)))
        self._hvp = canonical(hvp)

    # -- results, as expressions -----------------------------------------------------------
    def _wrap(self, tree: Expr, extra: dict[str, tuple] | None = None) -> Expression:
        e = self.expression
        return Expression(tree, None, e.decls, {**e._shapes, **(extra or {})}, e.functions, e.assumptions)

    @property
    def hessian(self) -> Expression:
        """H = ∂²f/∂vec X ∂(vec X)ᵀ (or ∂²f/∂vec X ∂(vec Y)ᵀ), with vec dG = H vec dX."""
        return self._wrap(self._h)

    @property
    def hvp(self) -> Expression:
        """H[V]: the Hessian applied to V, shaped like the gradient (dG with dX = V)."""
        y = self.wrt2 or self.wrt
        return self._wrap(self._hvp, {self.direction: y.shape})

    @property
    def gradient(self) -> Expression:
        return self.first.gradient  # type: ignore[return-value]

    @property
    def name(self) -> str:
        x, y = self.wrt.name, (self.wrt2 or self.wrt).name
        if self.wrt.is_scalar and (self.wrt2 or self.wrt).is_scalar:
            return f"∂²f/∂{x}∂{y}" if self.wrt2 else f"∂²f/∂{x}²"
        if self.wrt.shape[1] == 1 and (self.wrt2 or self.wrt).shape[1] == 1:
            return f"∂²f/∂{x}∂{y}ᵀ"
        return f"∂²f/∂vec {x} ∂(vec {y})ᵀ"

    def shape_note(self, ascii: bool = False) -> str:
        symmetric = "" if self.wrt2 else ", symmetric"
        return f"{shape_str(self._h.shape, ascii)}: {self.name}{symmetric}"

    # -- steps ---------------------------------------------------------------------------------
    @functools.cached_property
    @_bounded
    def steps(self) -> Derivation:
        """d²f = tr(dGᵀ dX), vec dG = H vec dX, then H and H[V]."""
        x, y = self.wrt, self.wrt2 or self.wrt
        dx = Diff(x)
        g = self.first._gradient
        assert g is not None
        dg = Diff(g)
        if x.is_scalar:
            second = mul(dg, dx)
        elif x.shape[1] == 1:
            second = mul(transpose(dg), dx)
        else:
            second = F.TRACE(mul(transpose(dg), dx))
        vec_dy = Diff(y) if y.is_scalar else F.vec_of(Diff(y))
        out = [
            Step("first identification table: df = tr(Gᵀ dX)", self.first._differential, "d f"),
            Step("dX is constant (d²X = 0): d²f = tr(dGᵀ dX)", second, "d²f"),
            Step("the differential of the gradient", self._second._differential, "dG"),
            Step("vec dG = H vec dX (the Jacobian of the gradient)", mul(self._j, vec_dy), "vec dG"),
            Step("second identification: d²f = (vec dX)ᵀ H (vec dX)", self._j, "H"),
            Step(f"H applied to {self.direction}: dG with d{y.name} = {self.direction}", self._hvp,
                 f"H[{self.direction}]"),
        ]
        if self._h is not self._j:  # a symmetric variable: the Frobenius convention of sym(G)
            out.insert(5, Step("symmetric variable: H = N H N with N = (I + K)/2 (f restricted to symmetric "
                               "matrices, as the gradient sym(G))", self._h, "H"))
        return Derivation(out)

    # -- printing ------------------------------------------------------------------------------
    @_bounded
    def text(self, ascii: bool = False, steps: bool = False) -> str:
        e = self.expression

        def pr(t: Expr) -> str:
            return to_text(t, ascii)

        lines = [f"H = {pr(self._h)}    [{self.shape_note(ascii)}]",
                 f"H[{self.direction}] = {pr(self._hvp)}    [{shape_str(self._hvp.shape, ascii)}, "
                 f"the Hessian applied to {self.direction}, shaped like {self.wrt.name}]",
                 "",
                 f"  f  = {pr(e.tree)}",
                 f"  {'grad f' if ascii else '∇f'} = {pr(self.first._gradient)}    [with respect to {self.wrt.name}]",
                 f"  where {self.hvp.where(ascii)}"]
        lines.extend(f"  {ascii_words(n) if ascii else n}" for n in self.notes)
        if steps:
            lines += ["", "Derivation:", self.steps.text(ascii, indent=" ")]
        return "\n".join(lines)

    @property
    def notes(self) -> list[str]:
        y = (self.wrt2 or self.wrt).name
        second = [f"the gradient does not depend on {y}: the Hessian is zero"
                  if n == f"f does not depend on {y}: its derivative is zero" else n for n in self._second._conditions]
        return self.first.notes + [n for n in second if n not in self.first.notes]

    def notes_text(self, ascii: bool = False) -> list[str]:
        """The notes, as :class:`Derivative`'s (a verdict on a claimed Hessian shows them)."""
        return [ascii_words(n) if ascii else n for n in self.notes]

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        return f"<Hessian {self.name} = {to_text(self._h)}>"

    @_bounded
    def latex(self, check: Any = None) -> str:
        """An ``aligned`` block: H with its shape, H[V], f, ∇f, the declarations, the notes
        and, given ``check``, the check's verdict."""
        v = latex_name(self.direction)
        rows = [rf"H &= {to_latex(self._h)} && \in \mathbb{{R}}^{{{_latex_shape(self._h.shape)}}}"
                rf"\ \text{{({latex_text(self.name)}{'' if self.wrt2 else ', symmetric'})}}",
                rf"H[{v}] &= {to_latex(self._hvp)} && \text{{(the Hessian applied to ${v}$, shaped like "
                rf"${latex_name(self.wrt.name)}$)}}",
                rf"f &= {to_latex(self.expression.tree)}",
                rf"\nabla f &= {to_latex(self.first._gradient)}",  # type: ignore[arg-type]
                rf"& \text{{where }} {self.hvp.latex_where()}"]
        rows.extend(rf"& \text{{{latex_text(n)}}}" for n in self.notes)
        if check is not None:
            rows.append(rf"& \text{{{latex_text(str(check))}}}")
        return "\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}"

    def _repr_latex_(self) -> str:
        return f"$${self.latex(check=self.check())}$$"

    @_bounded
    def to_dict(self, check: Any = None) -> dict[str, Any]:
        """JSON-ready, in the schema of ``matcalc/schema/result.schema.json`` (kind ``hessian``)."""
        e = self.expression
        taken = e._names() | {self.direction}
        if check is None and self._checked is not None:
            check = self._checked
        out = {
            "version": SCHEMA_VERSION, "kind": "hessian", "expression": e.forms(), "wrt": self.wrt.name,
            "wrt2": self.wrt2.name if self.wrt2 else None, "where": self.hvp.where(), "variables": e.variables(),
            "functions": e.function_list(), "gradient": forms(self.first._gradient, taken),  # type: ignore[arg-type]
            "hessian": {**forms(self._h, taken), "note": self.shape_note()},
            "hvp": {**forms(self._hvp, taken), "direction": self.direction},
            "steps": [{"rule": s.rule, "lhs": "df" if s.lhs == "d f" else s.lhs, "text": s.text(), "latex": s.latex()}
                      for s in self.steps],
            "notes": self.notes,
        }
        if check is not None:
            out["check"] = check if isinstance(check, dict) else check.to_dict()
        return out

    # -- the SymPy oracle -----------------------------------------------------------------------
    _checked: Any = None

    @_bounded
    def check(self, timeout: float = 10.0) -> Any:
        """Compare H entry by entry with SymPy's second partial derivatives of f itself (at
        sizes 3 and up, then one larger; mixed ones for a mixed derivative)."""
        from .checking import sympy_oracle  # SymPy is heavy: imported only when a check is asked for

        if self._checked is not None:
            return self._checked
        result = sympy_oracle.check_derivative(self.expression.tree, self.wrt, self._h, timeout=timeout,
                                               name="matcalc's Hessian", order=2, wrt2=self.wrt2)
        if result.ok is not None:
            self._checked = result
        return result


def _symmetrised(j: Expr, x: Var, y: Var) -> Expr:
    """H = N J N with N = (I + K)/2 on each side whose variable is a symmetric matrix: the
    Hessian of f restricted to symmetric matrices, in the Frobenius sense of the gradient
    sym(G) (it is the Hessian of X ↦ f(sym X)): d²f = (vec V)ᵀ H vec V for symmetric V,
    and H vec V = vec H[V] is symmetric."""
    def n_of(v: Var) -> Expr:
        size = v.shape[0]
        return mul(Num(Q_HALF), add(Identity(dim_mul(size, size)), Commutation(size, size)))

    sx, sy = x.symmetric and not x.is_scalar, y.symmetric and not y.is_scalar
    if not (sx or sy):
        return j
    if sx and sy and x == y:
        k = Commutation(x.shape[0], x.shape[0])
        if canonical(mul(k, j, k)) == j:  # K J K = J (as for A ⊗ A, I ⊗ X + X ⊗ I): N J N = J N
            return canonical(mul(j, n_of(x)))
    return canonical(mul(*([n_of(x)] if sx else []), j, *([n_of(y)] if sy else [])))


#: names for the direction of H[V], in the order they are tried (vectors, matrices): the
#: letters notes use for a direction, before a numbered V
_DIRECTIONS = {False: ("v", "u", "h", "e", "z"), True: ("V", "U", "E", "Z", "Δ")}


def _fresh(names: tuple[str, ...], taken: set[str]) -> str:
    """The first of ``names`` not taken, else the first with a number (V1, V2, …)."""
    for name in names:
        if name not in taken:
            return name
    k = 1
    while f"{names[0]}{k}" in taken:
        k += 1
    return f"{names[0]}{k}"


def hessian(expr: str | Expression, wrt: str, wrt2: str | None = None,
            where: str | dict | None = None, timeout: float | None = API_TIMEOUT) -> Hessian:
    """The Hessian of the scalar ``expr`` with respect to ``wrt`` (with ``wrt2``: the mixed
    second derivative ∂²f/∂vec X ∂(vec Y)ᵀ).  ``timeout`` as for :func:`matcalc.diff`.

    >>> h = hessian("x' A x", "x")
    >>> print(h.hessian)
    A + Aᵀ
    >>> print(h.hvp)
    (A + Aᵀ) v
    """
    with api_bound(timeout, "differentiating twice"):
        return _hessian(expr, wrt, wrt2, where)


def _hessian(expr: str | Expression, wrt: str, wrt2: str | None, where: str | dict | None) -> Hessian:
    e = expr if isinstance(expr, Expression) else parse(expr, where)
    if not e.tree.is_scalar:
        raise DiffError(f"a Hessian is of a scalar expression; {e} is {shape_str(e.shape)} "
                        "(differentiate it with diff for its Jacobian)", None)
    first = diff(e, wrt)
    y = None
    if wrt2 is not None and wrt2 != wrt:
        if wrt2 not in e.shapes:
            raise MatcalcError(f"'{wrt2}' is not a variable of {e}", None)
        y = e.variable(wrt2)
    try:
        return Hessian(first, y)
    except MatcalcError as err:
        raise err.located(e.source, e.spans) from None


def check_hessian(expr: str | Expression, wrt: str, claim: str, where: str | dict | None = None,
                  wrt2: str | None = None, timeout: float = 10.0) -> Any:
    """Is ``claim`` the Hessian of ``expr`` with respect to ``wrt`` (and ``wrt2``)?  The claim is
    either the matrix H = ∂²f/∂vec X ∂(vec X)ᵀ (n×n for a vector x; ``kron``, ``K_{n,n}``
    for a matrix), or H[V], the Hessian applied to a direction: a name the expression does
    not use, shaped like X (``A V B + A' V B'``).  Returns a :class:`Verdict`, from SymPy's
    own second partials of f.

    >>> check_hessian("x' A x", "x", "A + A'").correct
    True
    >>> check_hessian("tr(X' A X B)", "X", "A V B + A' V B'").correct
    True
    """
    from .checking.verdict import judge_hessian  # NumPy and SymPy: imported when a check is asked for

    h = hessian(expr, wrt, wrt2, where)
    c, direction = _parse_claim(claim, h)
    return judge_hessian(h, c, direction, hessian, timeout=timeout)


def _parse_claim(claim: str, h: Hessian) -> tuple[Expression, Var | None]:
    """The claimed H, or H[V] when the claim has one name the expression does not (V,
    declared shaped like the variable, symmetric with it)."""
    e = h.expression
    where = e.where()

    def read(text_where: str, expect: tuple | None) -> Expression:
        try:
            return parse(claim, text_where, expect=expect)
        except MatcalcError as err:
            raise type(err)(f"in the claim: {err.message}", err.span, claim) from None

    y = h.wrt2 or h.wrt
    first = read(where, None)
    extra = sorted(set(first.shapes) - set(e.shapes))
    if not extra:
        c = read(where, h._h.shape)
        if isinstance(c.tree, Num) and c.tree.value == 0 and h._h.shape != (1, 1):  # "0": the zero matrix
            c = Expression(Zeros(h._h.shape), claim, c.decls, c._shapes, c.functions)
        return c, None
    if len(extra) > 1:
        raise ParseError(f"the claim uses {', '.join(extra)}, which are not in the expression {e} (a claimed "
                         f"Hessian applied to a direction has one name of its own, such as {h.direction})", None, claim)
    name = extra[0]
    r, k = y.shape
    spec = "scalar" if y.is_scalar else dim_str(r) if k == 1 else f"{dim_str(r)}×{dim_str(k)}"
    symmetric = " symmetric" if y.symmetric and not y.is_scalar else ""
    c = read(f"{where}, {name}: {spec}{symmetric}" if where else f"{name}: {spec}{symmetric}", y.shape)
    return c, c.variable(name)


__all__ = ["Hessian", "check_hessian", "hessian"]
