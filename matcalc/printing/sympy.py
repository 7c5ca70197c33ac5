"""Conversion to SymPy: a tree, with every size a number, as an explicit SymPy Matrix.

Variables become matrices of real entry symbols (``X_12``; a symmetric matrix has
``X_12 = X_21``), abstract functions become SymPy ``Function``s of all the entries of
their argument, and their derivatives ``Subs(Derivative(L(ξ…), ξᵢ), ξ, y)`` — the form
in which SymPy's own chain rule writes them, so that results compare exactly.

This module imports SymPy; nothing imports it at ``import matcalc`` time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sympy as sp

from ..nodes import Expr, Var
from ..shapes import DimProd


def size_of(d: Any, sizes: Mapping[str, int]) -> int:
    if isinstance(d, int):
        return d
    if isinstance(d, str):
        return sizes[d]
    if isinstance(d, DimProd):
        out = d.coeff
        for s in d.syms:
            out *= sizes[s]
        return out
    raise ValueError(f"unknown size {d}")


def symbol_matrix(var: Var, sizes: Mapping[str, int]) -> sp.Matrix:
    r, c = size_of(var.shape[0], sizes), size_of(var.shape[1], sizes)
    if (r, c) == (1, 1):
        return sp.Matrix([[sp.Symbol(var.name, real=True)]])
    if c == 1:
        return sp.Matrix(r, 1, lambda i, j: sp.Symbol(f"{var.name}_{i + 1}", real=True))
    if var.symmetric:
        return sp.Matrix(r, c, lambda i, j: sp.Symbol(f"{var.name}_{min(i, j) + 1}{max(i, j) + 1}", real=True))
    return sp.Matrix(r, c, lambda i, j: sp.Symbol(f"{var.name}_{i + 1}{j + 1}", real=True))


def commutation(m: int, n: int) -> sp.Matrix:
    k = sp.zeros(m * n, m * n)
    for i in range(m):
        for j in range(n):
            k[i * n + j, j * m + i] = 1
    return k


def kron(a: sp.Matrix, b: sp.Matrix) -> sp.Matrix:
    out = sp.zeros(a.rows * b.rows, a.cols * b.cols)
    for i in range(a.rows):
        for j in range(a.cols):
            out[i * b.rows:(i + 1) * b.rows, j * b.cols:(j + 1) * b.cols] = a[i, j] * b
    return out


class SympyConverter:
    """Tree → SymPy Matrix.  ``env`` maps variable names to matrices; ``functions``
    maps abstract-function names to SymPy function classes (made on first use)."""

    def __init__(self, sizes: Mapping[str, int], env: Mapping[str, sp.Matrix]):
        self.sizes = sizes
        self.env = dict(env)
        self.functions: dict[str, Any] = {}
        self.memo: dict[Expr, sp.Matrix] = {}

    def size(self, d: Any) -> int:
        return size_of(d, self.sizes)

    def function(self, name: str, index: int | None = None) -> Any:
        key = name if index is None else f"{name}_{index + 1}"
        if key not in self.functions:
            self.functions[key] = sp.Function(key, real=True)
        return self.functions[key]

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
        return self._kids(e)[0] ** e.k

    def _c_Call(self, e: Any) -> sp.Matrix:
        (a,) = self._kids(e)
        if e.fn.elementwise:
            return a.applyfunc(lambda v: e.fn.sympy(sp, v))
        if e.fn.key == "inv":
            return a.inv(method="LU")
        return e.fn.sympy(sp, a)

    def _c_Unvec(self, e: Any) -> sp.Matrix:
        (a,) = self._kids(e)
        r, c = self.size(e.rows), self.size(e.cols)
        return sp.Matrix(r, c, lambda i, j: a[j * r + i, 0])

    def _c_Apply(self, e: Any) -> sp.Matrix:
        args = [v for m in self._kids(e) for v in _entries(m)]
        if e.kind == "scalar":
            return sp.Matrix([[self.function(e.name)(*args)]])
        if e.kind == "elementwise":
            f = self.function(e.name)
            return self._kids(e)[0].applyfunc(f)
        out = self.size(e.out)
        return sp.Matrix([[self.function(e.name, i)(*args)] for i in range(out)])

    def _partial(self, f: Any, args: list[Any], k: int) -> Any:
        """∂f/∂(argument k) at args, as SymPy's chain rule writes it."""
        xi = sp.symbols(f"xi_1:{len(args) + 1}", real=True)
        return sp.Subs(sp.Derivative(f(*xi), xi[k]), xi, args)

    def _c_Grad(self, e: Any) -> sp.Matrix:
        (y,) = self._kids(e)
        args = _entries(y)
        f = self.function(e.name)
        grads = [self._partial(f, args, k) for k in range(len(args))]
        return sp.Matrix(y.rows, y.cols, lambda i, j: grads[j * y.rows + i])

    def _c_Deriv(self, e: Any) -> sp.Matrix:
        (y,) = self._kids(e)
        f = self.function(e.name)
        return y.applyfunc(lambda v: self._partial(f, [v], 0))

    def _c_Jac(self, e: Any) -> sp.Matrix:
        (y,) = self._kids(e)
        args = _entries(y)
        out = self.size(e.out)
        return sp.Matrix(out, len(args), lambda i, k: self._partial(self.function(e.name, i), args, k))

    def _c_Diff(self, e: Any) -> sp.Matrix:
        raise ValueError("differentials are not converted to SymPy")


def _entries(m: sp.Matrix) -> list[Any]:
    """vec(m): the entries column by column."""
    return [m[i, j] for j in range(m.cols) for i in range(m.rows)]


def vec(m: sp.Matrix) -> list[Any]:
    return _entries(m)
