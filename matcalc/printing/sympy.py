"""Conversion to SymPy: a tree, with every size a number, as an explicit SymPy Matrix.

Variables become matrices of real entry symbols (``X_12``; a symmetric matrix has
``X_12 = X_21``).  An abstract function becomes a SymPy ``Function`` of all the entries of
its argument, and each of its partial derivatives a *distinct* function of the same
arguments: SymPy differentiates ``L(y₁, …, yₖ)`` into ``∂₁L(y…) dy₁ + … + ∂ₖL(y…) dyₖ``
(:meth:`Abstract.fdiff`), and ``∇L(y)`` converts to the same ``∂ᵢL(y…)``.  (SymPy's own
form, ``Subs(Derivative(L(ξ…), ξᵢ), ξ, y)``, is not safe: SymPy merges ∂ᵢL and ∂ⱼL when
yᵢ and yⱼ are the same entry, as in ``L(Wᵀ W)``.)  Partial derivatives of every order
are named by their sorted argument indices, so mixed partials are equal.

The SymPy check itself computes with :mod:`matcalc.checking.jets`; this conversion gives the
symbol matrices it uses and serves the tests as SymPy's own symbolic derivative.

This module imports SymPy; nothing imports it at ``import matcalc`` time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sympy as sp

from ..nodes import Expr, Var
from ..shapes import size_of
from .text import to_text


class UndefinedValue(ValueError):
    """A function of the tree has no value here: a singular matrix inverted, say.
    ``node`` is the call that failed and ``reason`` SymPy's words."""

    def __init__(self, node: Expr, reason: str):
        super().__init__(f"{to_text(node)} is undefined (SymPy: {reason.rstrip('.')})")
        self.node = node
        self.reason = reason


class Abstract(sp.Function):
    """An abstract function or one of its partial derivatives: ``L`` (``index`` ()) or
    ∂ᵢ∂ⱼL (``index`` (i, j), sorted).  Subclasses are made by :class:`AbstractFamily`."""

    family: AbstractFamily
    index: tuple[int, ...] = ()

    def fdiff(self, argindex: int = 1) -> Any:
        """∂/∂(argument k) of ∂_index L is ∂_(index + k) L at the same arguments."""
        return self.family.partial(self.index + (argindex - 1,))(*self.args)

    def _eval_is_real(self) -> bool:
        return True


#: the prefix of the SymPy class names of abstract functions: a user's function named like
#: a SymPy one (``cosh: function``) must not be taken for it — SymPy evaluates a function
#: numerically with the mpmath function of the class's name
PREFIX = "ƒ·"


class AbstractFamily:
    """``L`` and all its partial derivatives, as SymPy function classes made on first use
    (named ``ƒ·L``, ``∂1 ƒ·L``, …: never the name of a SymPy or mpmath function)."""

    def __init__(self, name: str, nargs: int):
        self.name = name
        self.nargs = nargs
        self._classes: dict[tuple[int, ...], type] = {}

    def partial(self, index: tuple[int, ...]) -> Any:
        index = tuple(sorted(index))
        if index not in self._classes:
            label = PREFIX + self.name
            if index:
                label = "∂" + ",".join(str(i + 1) for i in index) + " " + label
            self._classes[index] = type(label, (Abstract,), {"family": self, "index": index, "nargs": self.nargs})
        return self._classes[index]


def symbol_matrix(var: Var, sizes: Mapping[str, int]) -> sp.Matrix:
    """The entries of ``var`` as real symbols ``X[1,2]``, ``x[3]``, ``s`` (brackets cannot
    occur in a name, so two variables never share a symbol: ``x[1]`` is not ``x_1``)."""
    r, c = size_of(var.shape[0], sizes), size_of(var.shape[1], sizes)
    if (r, c) == (1, 1):
        return sp.Matrix([[sp.Symbol(var.name, real=True)]])
    if c == 1:
        return sp.Matrix(r, 1, lambda i, j: sp.Symbol(f"{var.name}[{i + 1}]", real=True))
    if var.symmetric:
        return sp.Matrix(r, c, lambda i, j: sp.Symbol(f"{var.name}[{min(i, j) + 1},{max(i, j) + 1}]", real=True))
    return sp.Matrix(r, c, lambda i, j: sp.Symbol(f"{var.name}[{i + 1},{j + 1}]", real=True))


def commutation(m: int, n: int) -> sp.Matrix:
    k = sp.zeros(m * n, m * n)
    for i in range(m):
        for j in range(n):
            k[i * n + j, j * m + i] = 1
    return k


def kron(a: sp.Matrix, b: sp.Matrix) -> sp.Matrix:
    """A ⊗ B from the non-zero entries (K, I and their Kronecker products are mostly zeros)."""
    br, bc = b.rows, b.cols
    db = b.todok()
    out = {(i * br + k, j * bc + m): x * y for (i, j), x in a.todok().items() for (k, m), y in db.items()}
    return sp.Matrix(sp.SparseMatrix(a.rows * br, a.cols * bc, out))


class SympyConverter:
    """Tree → SymPy Matrix.  ``env`` maps variable names to matrices (of symbols, or of
    numbers); ``families`` maps abstract-function names (``g_2`` for the second component
    of a vector function g) to their :class:`AbstractFamily`, made on first use."""

    def __init__(self, sizes: Mapping[str, int], env: Mapping[str, sp.Matrix]):
        self.sizes = sizes
        self.env = dict(env)
        self.families: dict[tuple[str, int], AbstractFamily] = {}
        self.memo: dict[Expr, sp.Matrix] = {}

    def size(self, d: Any) -> int:
        return size_of(d, self.sizes)

    def function(self, name: str, nargs: int, index: tuple[int, ...] = (), component: int | None = None) -> Any:
        """The SymPy class of ∂_index name (of component ``component`` of a vector function)."""
        key = name if component is None else f"{name}[{component + 1}]"  # g[1]: never a name a user can write
        if (key, nargs) not in self.families:
            self.families[key, nargs] = AbstractFamily(key, nargs)
        return self.families[key, nargs].partial(index)

    def convert(self, e: Expr) -> sp.Matrix:
        for n in e.postorder():
            if n not in self.memo:
                out = getattr(self, f"_c_{type(n).__name__}")(n)
                self.memo[n] = out if isinstance(out, sp.MatrixBase) else sp.Matrix([[out]])
        return self.memo[e]

    def _kids(self, e: Expr) -> list[sp.Matrix]:
        return [self.memo[c] for c in e.children]

    def _c_Var(self, e: Any) -> sp.Matrix:
        return self.env[e.name]

    def _c_Num(self, e: Any) -> Any:
        return sp.Rational(e.value.numerator, e.value.denominator)

    def _c_Size(self, e: Any) -> Any:
        return sp.Integer(self.size(e.dim))

    def _c_Identity(self, e: Any) -> sp.Matrix:
        return sp.eye(self.size(e.n))

    def _c_Ones(self, e: Any) -> sp.Matrix:
        return sp.ones(self.size(e.dims[0]), self.size(e.dims[1]))

    def _c_Zeros(self, e: Any) -> sp.Matrix:
        return sp.zeros(self.size(e.dims[0]), self.size(e.dims[1]))

    def _c_Commutation(self, e: Any) -> sp.Matrix:
        return commutation(self.size(e.m), self.size(e.n))

    def _c_Add(self, e: Any) -> sp.Matrix:
        kids = self._kids(e)
        out = kids[0]
        for k in kids[1:]:
            out = out + k
        return out

    def _c_MatMul(self, e: Any) -> sp.Matrix:
        scale: Any = sp.Integer(1)
        chain: sp.Matrix | None = None
        for f, v in zip(e.factors, self._kids(e), strict=True):
            if f.is_scalar:
                scale = scale * v[0, 0]
            else:
                chain = v if chain is None else chain * v
        return sp.Matrix([[scale]]) if chain is None else scale * chain

    def _c_Hadamard(self, e: Any) -> sp.Matrix:
        kids = self._kids(e)
        out = kids[0]
        for k in kids[1:]:
            out = out.multiply_elementwise(k)
        return out

    def _c_Kron(self, e: Any) -> sp.Matrix:
        a, b = self._kids(e)
        return kron(a, b)

    def _c_Transpose(self, e: Any) -> sp.Matrix:
        return self._kids(e)[0].T

    def _c_Power(self, e: Any) -> sp.Matrix:
        base, p = self._kids(e)
        return base.applyfunc(lambda v: v ** p[0, 0])

    def _c_MatPow(self, e: Any) -> sp.Matrix:
        """Xᵏ (k ≥ 0: the parser writes X⁻ᵏ as inv(Xᵏ)) by repeated squaring with plain
        products (SymPy's ``**`` simplifies every product it forms, which is slow on
        symbolic entries); X⁰ = I."""
        base = self._kids(e)[0]
        out, k = sp.eye(base.rows), e.k
        while k:
            if k & 1:
                out = out * base
            k >>= 1
            if k:
                base = base * base
        return out

    def _c_Call(self, e: Any) -> sp.Matrix:
        """Every built-in function through its row's SymPy implementation."""
        if e.fn.sympy is None:
            raise ValueError(f"{e.fn.name} has no SymPy implementation")
        (a,) = self._kids(e)
        try:
            if e.fn.elementwise:
                return a.applyfunc(lambda v: e.fn.sympy(sp, v))
            return e.fn.sympy(sp, a)
        except (ValueError, ZeroDivisionError) as exc:  # e.g. NonInvertibleMatrixError
            raise UndefinedValue(e, str(exc) or type(exc).__name__) from None

    def _c_Unvec(self, e: Any) -> sp.Matrix:
        (a,) = self._kids(e)
        r, c = self.size(e.rows), self.size(e.cols)
        return sp.Matrix(r, c, lambda i, j: a[j * r + i, 0])

    def _c_Apply(self, e: Any) -> sp.Matrix:
        args = [v for m in self._kids(e) for v in _entries(m)]
        if e.kind == "scalar":
            return sp.Matrix([[self.function(e.name, len(args))(*args)]])
        if e.kind == "elementwise":
            f = self.function(e.name, 1)
            return self._kids(e)[0].applyfunc(f)
        out = self.size(e.out)
        return sp.Matrix([[self.function(e.name, len(args), component=i)(*args)] for i in range(out)])

    def _c_Grad(self, e: Any) -> sp.Matrix:
        """∇L(y): entry k is ∂ₖL(y…), the function SymPy's chain rule gives for L(y…)."""
        kids = self._kids(e)
        args = [v for m in kids for v in _entries(m)]
        y = kids[0]
        grads = [self.function(e.name, len(args), (k,))(*args) for k in range(y.rows * y.cols)]
        return sp.Matrix(y.rows, y.cols, lambda i, j: grads[j * y.rows + i])

    def _c_Deriv(self, e: Any) -> sp.Matrix:
        (y,) = self._kids(e)
        return y.applyfunc(self.function(e.name, 1, (0,) * e.order))

    def _c_Hess(self, e: Any) -> sp.Matrix:
        """∇²L(y): entry (i, j) is ∂ᵢ∂ⱼL(y…), the function SymPy's chain rule gives twice."""
        (y,) = self._kids(e)
        args = _entries(y)
        n = len(args)
        return sp.Matrix(n, n, lambda i, j: self.function(e.name, n, tuple(sorted((i, j))))(*args))

    def _c_Jac(self, e: Any) -> sp.Matrix:
        (y,) = self._kids(e)
        args = _entries(y)
        out = self.size(e.out)
        return sp.Matrix(out, len(args), lambda i, k: self.function(e.name, len(args), (k,), component=i)(*args))

    def _c_Diff(self, e: Any) -> sp.Matrix:
        raise ValueError("differentials are not converted to SymPy")


def _entries(m: sp.Matrix) -> list[Any]:
    """vec(m): the entries column by column."""
    return [m[i, j] for j in range(m.cols) for i in range(m.rows)]


def vec(m: sp.Matrix) -> list[Any]:
    return _entries(m)
