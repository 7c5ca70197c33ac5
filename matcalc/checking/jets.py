"""Exact derivatives of a tree by dual numbers: forward-mode differentiation in a ring of
truncated Taylor series, over SymPy's exact domains.

A value is a :class:`Flat` matrix of numbers (a SymPy ``DomainMatrix``) or a :class:`Jet`:
a value V and one tangent Tₖ per direction, V + Σₖ εₖ Tₖ with εᵢ εⱼ = 0 — the value of
f(X₀ + Σₖ εₖ Eₖ), whose εₖ part is the derivative of f along Eₖ.  Jets compute with the
ring's own arithmetic, never with a rule of matrix calculus:

* sums, products (matrix, Hadamard, Kronecker) and linear maps by expanding (εₖ² = 0);
* the inverse of V + εT is V⁻¹ − ε V⁻¹ T V⁻¹ (multiply out: the product is I);
* the determinant by multilinearity: the ε part of det(V + εT) is the sum over columns j
  of det(V with column j taken from T) = Σᵢⱼ Tᵢⱼ adj(V)ⱼᵢ (cofactor expansion); the
  adjugate as det · inverse, or from cofactors where V is singular;
* a scalar function by f(a + εb) = f(a) + ε f′(a) b, where f′ is SymPy's derivative of the
  function's own SymPy formula (a function row's ``sympy``, an abstract function's
  stand-in).

The function rows' SymPy implementations run on jets as they are (``a.inv()``,
``sp.log(a.det())``, ``sum(a)``, ``sp.Matrix.hstack(…)``): :class:`Namespace` stands in for
the ``sympy`` module.  A jet of jets is second order: with X₀ + ε₁ E + ε₂ E′, the ε₁ε₂
part is ∂²f along E and E′.

The numbers are those of :mod:`.domains`: exact rationals at a random rational point (reals,
or complex numbers, where a function's value is not rational), or polynomials in the entry
symbols for a proof.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from typing import Any

import sympy as sp
from sympy.polys.domains import QQ
from sympy.polys.matrices import DomainMatrix

from ..nodes import Expr, Var
from ..printing.sympy import UndefinedValue
from ..shapes import size_of
from .domains import (
    Numbers,
    ScalarFn,
    Symbolic,
    Undefined,
    abstract_fn,
    common_domain,
    elementwise_formula,
    named_formula,
    power_formula,
    same_domain,
)

# ------------------------------------------------------------------------------ matrices

class _AsSympyMatrix:
    """What the function rows' SymPy implementations use of a SymPy matrix — ``a.trace()``,
    ``a[i, j]``, ``a[:, j]``, ``sum(a)``, ``a.applyfunc(sp.exp)``, ``x ** 2``, ``e / s`` — on
    :class:`Flat` and :class:`Jet` (whose own methods do the arithmetic)."""

    __slots__ = ()

    def trace(self: Any) -> Any:
        n = self.rows
        return self.hadamard(sparse_constant({(i, i): 1 for i in range(n)}, (n, n), self)).total()

    def __getitem__(self: Any, key: Any) -> Any:
        i, j = key
        rows = list(range(self.rows))[i] if isinstance(i, slice) else [i]
        cols = list(range(self.cols))[j] if isinstance(j, slice) else [j]
        return self.extract(rows, cols)

    def __iter__(self: Any) -> Any:
        for i in range(self.rows):
            for j in range(self.cols):
                yield self.extract([i], [j])

    def applyfunc(self: Any, f: Callable[[Any], Any]) -> Any:
        return f(self)  # a Namespace function applies elementwise

    def __radd__(self: Any, other: Any) -> Any:
        if isinstance(other, int) and other == 0:  # sum(…) starts from 0
            return self
        return NotImplemented

    def __pow__(self: Any, p: int) -> Any:
        return self.apply(power_formula(Fraction(p)))

    def __truediv__(self: Any, s: Any) -> Any:
        return self.scale(s.apply(power_formula(Fraction(-1))))

    def __mul__(self: Any, other: Any) -> Any:
        if other.shape == (1, 1):
            return self.scale(other)
        if self.shape == (1, 1):
            return other.scale(self)
        return self.matmul(other)



class Flat(_AsSympyMatrix):
    """A matrix of numbers (a sparse ``DomainMatrix``): the value of a jet of order 0."""

    __slots__ = ("m", "numbers")
    depth = 0

    def __init__(self, m: DomainMatrix, numbers: Numbers):
        self.m = m
        self.numbers = numbers

    # -- shape and entries
    @property
    def shape(self) -> tuple[int, int]:
        return self.m.shape

    @property
    def rows(self) -> int:
        return self.m.shape[0]

    @property
    def cols(self) -> int:
        return self.m.shape[1]

    def base(self) -> Flat:
        return self

    def element(self, i: int, j: int) -> Any:
        return self.m.rep.getitem(i, j)

    def elements(self) -> list[list[Any]]:
        return self.m.to_list()

    @staticmethod
    def compose_rows(blocks: Sequence[tuple[Flat, Mapping[int, int]]], shape: tuple[int, int]) -> Flat:
        """Like compose, with the rows of each block moved by its map (columns kept)."""
        domain = blocks[0][0].m.domain
        for b, _ in blocks[1:]:
            domain = common_domain(domain, b.m.domain)
        out: dict[tuple[int, int], Any] = {}
        for b, rows in blocks:
            m = b.m if b.m.domain == domain else b.m.convert_to(domain)
            for (a, q), v in m.to_dok().items():
                p = rows.get(a)
                if p is not None:
                    out[(p, q)] = out[(p, q)] + v if (p, q) in out else v
        numbers = blocks[0][0].numbers
        m = DomainMatrix.from_dok({k: v for k, v in out.items() if v}, shape, domain)
        numbers.check(m)
        return Flat(m, numbers)

    @staticmethod
    def compose(blocks: Sequence[tuple[Flat, Mapping[tuple[int, int], tuple[int, int]]]],
                shape: tuple[int, int]) -> Flat:
        domain = blocks[0][0].m.domain
        for b, _ in blocks[1:]:
            domain = common_domain(domain, b.m.domain)
        out: dict[tuple[int, int], Any] = {}
        for b, where in blocks:
            m = b.m if b.m.domain == domain else b.m.convert_to(domain)
            for ij, v in m.to_dok().items():
                pq = where.get(ij)
                if pq is not None:
                    out[pq] = out[pq] + v if pq in out else v
        numbers = blocks[0][0].numbers
        m = DomainMatrix.from_dok({k: v for k, v in out.items() if v}, shape, domain)
        numbers.check(m)
        return Flat(m, numbers)

    def is_zero(self) -> bool:
        return self.m.is_zero_matrix

    def _new(self, m: DomainMatrix) -> Flat:
        self.numbers.check(m)
        return Flat(m, self.numbers)

    # -- arithmetic
    def __add__(self, other: Flat) -> Flat:
        a, b = same_domain(self.m, other.m)
        return self._new(a + b)

    def __sub__(self, other: Flat) -> Flat:
        a, b = same_domain(self.m, other.m)
        return self._new(a - b)

    def __neg__(self) -> Flat:
        return self._new(-self.m)

    def _expect(self, other: Flat, inner: int) -> None:
        if isinstance(self.numbers, Symbolic):
            self.numbers.check_product(self.m, other.m, inner)

    def matmul(self, other: Flat) -> Flat:
        self._expect(other, self.cols)
        a, b = same_domain(self.m, other.m)
        return self._new(a * b)

    def scale(self, s: Flat) -> Flat:
        """s · self for a 1×1 s."""
        self._expect(s, 1)
        a, b = same_domain(s.m, self.m)
        return self._new(b * a.rep.getitem(0, 0))

    def hadamard(self, other: Flat) -> Flat:
        self._expect(other, self.rows * self.cols)
        a, b = same_domain(self.m, other.m)
        return self._new(a.mul_elementwise(b))

    def kron(self, other: Flat) -> Flat:
        self._expect(other, 1)
        a, b = same_domain(self.m, other.m)
        br, bc = b.shape
        db = b.to_dok()
        out = {(i * br + k, j * bc + m): x * y for (i, j), x in a.to_dok().items() for (k, m), y in db.items()}
        return self._new(DomainMatrix.from_dok(out, (a.shape[0] * br, a.shape[1] * bc), a.domain))

    def transpose(self) -> Flat:
        return self._new(self.m.transpose())

    def total(self) -> Flat:
        """The sum of the entries, 1×1."""
        s = self.m.domain.zero
        for v in self.m.to_dok().values():
            s += v
        return self._new(DomainMatrix({0: {0: s}} if s else {}, (1, 1), self.m.domain))

    def reshape(self, rows: int, cols: int) -> Flat:
        """The entries in vec order, as a rows×cols matrix (vec and unvec)."""
        r = self.rows
        out = {}
        for (i, j), v in self.m.to_dok().items():
            k = j * r + i
            out[(k % rows, k // rows)] = v
        return self._new(DomainMatrix.from_dok(out, (rows, cols), self.m.domain))

    def extract(self, rows: list[int], cols: list[int]) -> Flat:
        return self._new(self.m.extract(rows, cols))

    # -- functions of numbers
    def apply(self, fn: ScalarFn) -> Flat:
        monomial = getattr(fn, "monomial", None)
        if monomial is not None:  # c tᵏ, k an integer: in the domain itself
            c, k = monomial
            out = [[self.numbers.monomial(v, c, k) for v in row] for row in self.m.to_list()]
            return self._new(self.numbers.matrix(out, self.shape))
        out = [[self.numbers.call(fn, (v,)) for v in row] for row in self.m.to_list()]
        return self._new(self.numbers.matrix(out, self.shape))

    # -- linear algebra
    def inv(self) -> Flat:
        return self._new(self.numbers.inverse(self.m))

    def det(self) -> Flat:
        if isinstance(self.numbers, Symbolic):
            self.numbers.check_expansion(self.m)
        d = self.m.det()
        return self._new(DomainMatrix({0: {0: d}} if d else {}, (1, 1), self.m.domain))

    def adjugate(self) -> Flat:
        if self.rows == 1:
            return self._new(DomainMatrix({0: {0: self.m.domain.one}}, (1, 1), self.m.domain))
        if isinstance(self.numbers, Symbolic):
            self.numbers.check_expansion(self.m)
            return self._new(self.numbers.adjugate(self.m))
        return self._new(self.m.adjugate().to_sparse())

    def invertible(self) -> bool:
        return bool(self.m.det())


class Jet(_AsSympyMatrix):
    """V + Σₖ εₖ Tₖ with εᵢεⱼ = 0: a ``value`` V (r×c) and its tangents, one per direction of
    this order, stacked as the columns of ``tangent`` (rc×K, column k is vec Tₖ; None: all
    zero).  The value and the tangent are of one lower order (:class:`Flat`, or jets)."""

    __slots__ = ("value", "tangent")

    def __init__(self, value: Matrix, tangent: Matrix | None = None):
        self.value = value
        self.tangent = tangent

    @property
    def depth(self) -> int:
        return self.value.depth + 1

    @property
    def numbers(self) -> Numbers:
        return self.value.numbers

    @property
    def shape(self) -> tuple[int, int]:
        return self.value.shape

    @property
    def rows(self) -> int:
        return self.value.rows

    @property
    def cols(self) -> int:
        return self.value.cols

    def base(self) -> Flat:
        return self.value.base()

    def is_zero(self) -> bool:
        return self.value.is_zero() and (self.tangent is None or self.tangent.is_zero())

    def direction(self, k: int) -> Matrix:
        """Tₖ, shaped like the value."""
        r, c = self.shape
        assert self.tangent is not None
        return compose([(self.tangent, {(j * r + i, k): (i, j) for j in range(c) for i in range(r)})], (r, c))

    # -- moving entries: linear, on the value and on the tangent's rows
    @staticmethod
    def compose_jets(blocks: Sequence[tuple[Jet, Mapping[tuple[int, int], tuple[int, int]]]],
                     shape: tuple[int, int]) -> Jet:
        value = compose([(b.value, m) for b, m in blocks], shape)
        moved = []
        for b, m in blocks:
            if b.tangent is None:
                continue
            r = b.rows
            moved.append((b.tangent, {j * r + i: q * shape[0] + p for (i, j), (p, q) in m.items()}))
        if not moved:
            return Jet(value)
        k = moved[0][0].cols
        size = shape[0] * shape[1]
        if isinstance(moved[0][0], Flat):
            return Jet(value, Flat.compose_rows(moved, (size, k)))
        return Jet(value, compose([(t, {(a, q): (rows[a], q) for a in rows for q in range(k)}) for t, rows in moved],
                                  (size, k)))

    def transpose(self) -> Jet:
        r, c = self.shape
        return compose([(self, {(i, j): (j, i) for i in range(r) for j in range(c)})], (c, r))

    def extract(self, rows: list[int], cols: list[int]) -> Jet:
        return compose([(self, {(i, j): (a, b) for a, i in enumerate(rows) for b, j in enumerate(cols)})],
                       (len(rows), len(cols)))

    def reshape(self, rows: int, cols: int) -> Jet:
        """vec order kept: the tangent is unchanged."""
        return Jet(self.value.reshape(rows, cols), self.tangent)

    def total(self) -> Jet:
        t = None
        if self.tangent is not None:
            t = sparse_constant({(0, a): 1 for a in range(self.tangent.rows)}, (1, self.tangent.rows),
                                self.value).matmul(self.tangent)
        return Jet(self.value.total(), t)

    # -- arithmetic
    def __add__(self, other: Jet) -> Jet:
        return Jet(self.value + other.value, _plus(self.tangent, other.tangent))

    def __neg__(self) -> Jet:
        return Jet(-self.value, -self.tangent if self.tangent is not None else None)

    def __sub__(self, other: Jet) -> Jet:
        return self + (-other)

    def _blocks(self, vertical: bool) -> Matrix:
        """The tangents side by side (r × cK) or one above the other (rK × c)."""
        r, c = self.shape
        assert self.tangent is not None
        k = self.tangent.cols
        return compose([(self.tangent, _block_map(r, c, k, vertical))], (r * k, c) if vertical else (r, c * k))

    @staticmethod
    def _stacked(blocks: Matrix, r: int, c: int, k: int, vertical: bool) -> Matrix:
        """The inverse of _blocks: rK × c or r × cK blocks back as the rc × K tangent."""
        return compose([(blocks, _stack_map(r, c, k, vertical))], (r * c, k))

    def matmul(self, other: Jet) -> Jet:
        """(A + εA′)(B + εB′) = AB + ε(A′B + AB′), for every direction at once."""
        r, c = self.rows, other.cols
        t = None
        if self.tangent is not None:
            k = self.tangent.cols
            t = self._stacked(self._blocks(vertical=True).matmul(other.value), r, c, k, vertical=True)
        if other.tangent is not None:
            k = other.tangent.cols
            t = _plus(t, self._stacked(self.value.matmul(other._blocks(vertical=False)), r, c, k, vertical=False))
        return Jet(self.value.matmul(other.value), t)

    def _rows_scaled(self, by: Matrix) -> Matrix | None:
        """diag(vec ``by``) times the tangent: each direction's entries times ``by``'s."""
        if self.tangent is None:
            return None
        r, c = self.shape
        column = by.reshape(r * c, 1)
        ones = sparse_constant({(0, q): 1 for q in range(self.tangent.cols)}, (1, self.tangent.cols), by)
        return self.tangent.hadamard(column.matmul(ones))

    def hadamard(self, other: Jet) -> Jet:
        return Jet(self.value.hadamard(other.value), _plus(self._rows_scaled(other.value), other._rows_scaled(self.value)))

    def scale(self, s: Jet) -> Jet:
        """s · self for a 1×1 s."""
        t = self.tangent.scale(s.value) if self.tangent is not None else None
        if s.tangent is not None:
            t = _plus(t, self.value.reshape(self.rows * self.cols, 1).matmul(s.tangent))
        return Jet(self.value.scale(s.value), t)

    def kron(self, other: Jet) -> Jet:
        """Direction by direction (rare: a Kronecker product of variables)."""
        value = self.value.kron(other.value)
        k = next((t.cols for t in (self.tangent, other.tangent) if t is not None), 0)
        if not k:
            return Jet(value)
        columns = []
        for q in range(k):
            d = None
            if self.tangent is not None:
                d = self.direction(q).kron(other.value)
            if other.tangent is not None:
                d = _plus(d, self.value.kron(other.direction(q)))
            columns.append(d)
        rr, cc = value.shape
        t = compose([(d, {(i, j): (j * rr + i, q) for j in range(cc) for i in range(rr)})
                     for q, d in enumerate(columns)], (rr * cc, k))
        return Jet(value, t)

    # -- functions of numbers: f(a + εb) = f(a) + ε f′(a) b
    def apply(self, fn: ScalarFn) -> Jet:
        value = self.value.apply(fn)
        if self.tangent is None:
            return Jet(value)
        return Jet(value, self._rows_scaled(self.value.apply(fn.partial(0))))

    # -- linear algebra in the ring
    def inv(self) -> Jet:
        """(V + εT)⁻¹ = V⁻¹ − ε V⁻¹ T V⁻¹."""
        w = self.value.inv()
        if self.tangent is None:
            return Jet(w)
        n, k = self.rows, self.tangent.cols
        left = w.matmul(self._blocks(vertical=False))  # [W T₁ | … | W Tₖ]
        both = Jet(left)._as_vertical(n, k).matmul(w)  # [W T₁ W; …; W Tₖ W]
        return Jet(w, -self._stacked(both, n, n, k, vertical=True))

    def _as_vertical(self, n: int, k: int) -> Matrix:
        """The value, n × nK blocks side by side, as nK × n blocks one above the other."""
        v = self.value
        return compose([(v, {(i, q * n + j): (q * n + i, j) for q in range(k) for j in range(n) for i in range(n)})],
                       (n * k, n))

    def det(self) -> Jet:
        """det(V + εT) = det V + ε Σᵢⱼ Tᵢⱼ adj(V)ⱼᵢ (multilinearity, cofactor expansion)."""
        d = self.value.det()
        if self.tangent is None:
            return Jet(d)
        n = self.rows
        row = self.value.adjugate().transpose().reshape(1, n * n)  # vec(adj(V)ᵀ)ᵀ
        return Jet(d, row.matmul(self.tangent))

    def adjugate(self) -> Jet:
        """det · inverse where the matrix is invertible, else from its cofactors."""
        n = self.rows
        if n == 1:
            return Jet(self.value.adjugate())
        if self.base().invertible():
            return self.inv().scale(self.det())
        entries = [[None] * n for _ in range(n)]
        for i in range(n):
            for j in range(n):
                minor = self.extract([r for r in range(n) if r != i], [c for c in range(n) if c != j]).det()
                entries[j][i] = minor if (i + j) % 2 == 0 else -minor
        return assemble(entries)

    def invertible(self) -> bool:
        return self.base().invertible()


Matrix = Flat | Jet


@functools.lru_cache(maxsize=512)
def _block_map(r: int, c: int, k: int, vertical: bool) -> dict[tuple[int, int], tuple[int, int]]:
    """Where entry (vec index, direction) of an rc × K tangent goes among its blocks."""
    if vertical:
        return {(j * r + i, q): (q * r + i, j) for q in range(k) for j in range(c) for i in range(r)}
    return {(j * r + i, q): (i, q * c + j) for q in range(k) for j in range(c) for i in range(r)}


@functools.lru_cache(maxsize=512)
def _stack_map(r: int, c: int, k: int, vertical: bool) -> dict[tuple[int, int], tuple[int, int]]:
    return {v: u for u, v in _block_map(r, c, k, vertical).items()}


def _plus(a: Matrix | None, b: Matrix | None) -> Matrix | None:
    if a is None:
        return b
    return a if b is None else a + b


def compose(blocks: Sequence[tuple[Matrix, Mapping[tuple[int, int], tuple[int, int]]]],
            shape: tuple[int, int]) -> Matrix:
    """A ``shape`` matrix with the entries of each block moved by its map ((i, j) → (p, q);
    entries not in a map are left out, entries moved to one place add up)."""
    first = blocks[0][0]
    if isinstance(first, Flat):
        return Flat.compose(blocks, shape)  # type: ignore[arg-type]
    return Jet.compose_jets(blocks, shape)  # type: ignore[arg-type]


def call(fn: ScalarFn, args: Sequence[Matrix]) -> Matrix:
    """fn of the 1×1 ``args``: f(a + εb) = f(a) + ε Σᵢ ∂ᵢf(a) bᵢ."""
    first = args[0]
    if isinstance(first, Flat):
        value = first.numbers.call(fn, [a.element(0, 0) for a in args])
        return Flat(first.numbers.matrix([[value]], (1, 1)), first.numbers)
    values = [a.value for a in args]
    t = None
    for i, a in enumerate(args):
        if a.tangent is not None:
            t = _plus(t, a.tangent.scale(call(fn.partial(i), values)))
    return Jet(call(fn, values), t)


def assemble(entries: Sequence[Sequence[Matrix]]) -> Matrix:
    """One matrix from a grid of 1×1 matrices of one order."""
    return compose([(e, {(0, 0): (i, j)}) for i, row in enumerate(entries) for j, e in enumerate(row)],
                   (len(entries), len(entries[0])))


def lift(m: DomainMatrix, like: Matrix | int, numbers: Numbers | None = None) -> Matrix:
    """A constant matrix at the order of ``like`` (an order, or a matrix of that order)."""
    depth = like if isinstance(like, int) else like.depth
    numbers = numbers if numbers is not None else like.numbers  # type: ignore[union-attr]
    out: Matrix = Flat(m, numbers)
    for _ in range(depth):
        out = Jet(out)
    return out


def constant(rows: Sequence[Sequence[Fraction | int]], like: Matrix | int, numbers: Numbers | None = None) -> Matrix:
    numbers = numbers if numbers is not None else like.numbers  # type: ignore[union-attr]
    shape = (len(rows), len(rows[0]) if rows else 0)
    dok = {(i, j): QQ(Fraction(v).numerator, Fraction(v).denominator)
           for i, row in enumerate(rows) for j, v in enumerate(row) if v}
    return lift(DomainMatrix.from_dok(dok, shape, QQ), like, numbers)


def sparse_constant(dok: Mapping[tuple[int, int], int], shape: tuple[int, int], like: Matrix | int,
                    numbers: Numbers | None = None) -> Matrix:
    numbers = numbers if numbers is not None else like.numbers  # type: ignore[union-attr]
    return lift(DomainMatrix.from_dok({k: QQ(v) for k, v in dok.items()}, shape, QQ), like, numbers)


# ------------------------------------------------------------------------------ trees


class Namespace:
    """Stands in for the ``sympy`` module in a function row's SymPy implementation run on
    jets: ``sp.log``, ``sp.exp``, ``sp.sqrt``, ``sp.Abs`` (SymPy's function, elementwise, with
    SymPy's derivative), ``sp.Matrix`` (from 1×1 jets or numbers), ``sp.Matrix.hstack`` and
    ``sp.diag``."""

    def __init__(self, numbers: Numbers, depth: int):
        self.numbers = numbers
        self.depth = depth
        self.Matrix = _MatrixMaker(self)

    def __getattr__(self, name: str) -> Callable[[Matrix], Matrix]:
        if not hasattr(sp, name):
            raise AttributeError(name)
        fn = named_formula(name)
        return lambda m: m.apply(fn)

    def item(self, v: Any) -> Matrix:
        return v if isinstance(v, (Flat, Jet)) else constant([[v]], self.depth, self.numbers)

    def diag(self, *items: Any) -> Matrix:
        n = len(items)
        zero = constant([[0]], self.depth, self.numbers)
        return assemble([[self.item(items[i]) if i == j else zero for j in range(n)] for i in range(n)])


class _MatrixMaker:
    def __init__(self, ns: Namespace):
        self.ns = ns

    def __call__(self, rows: Sequence[Any]) -> Matrix:
        grid = [list(r) if isinstance(r, (list, tuple)) else [r] for r in rows]
        return assemble([[self.ns.item(v) for v in row] for row in grid])

    def hstack(self, *blocks: Matrix) -> Matrix:
        return assemble([[b.extract([i], [j]) for b in blocks for j in range(b.cols)] for i in range(blocks[0].rows)])


def entries(m: Matrix) -> list[Matrix]:
    """The 1×1 entries of ``m`` in vec order (column by column)."""
    return [m.extract([i], [j]) for j in range(m.cols) for i in range(m.rows)]


class Converter:
    """Tree → :class:`Flat` or :class:`Jet` of one order ``depth``: the value (and
    derivatives) of the tree where every variable has the value ``env`` gives it.
    Undefined values raise :class:`~matcalc.printing.sympy.UndefinedValue` naming the node."""

    def __init__(self, sizes: Mapping[str, int], env: Mapping[str, Matrix], numbers: Numbers, depth: int):
        self.sizes = sizes
        self.env = {n: _raised(v, depth) for n, v in env.items()}
        self.numbers = numbers
        self.depth = depth
        self.ns = Namespace(numbers, depth)
        self.memo: dict[Expr, Matrix] = {}

    def size(self, d: Any) -> int:
        return size_of(d, self.sizes)

    def convert(self, e: Expr) -> Matrix:
        for n in e.postorder():
            if n not in self.memo:
                try:
                    out = getattr(self, f"_c_{type(n).__name__}")(n)
                except (Undefined, ZeroDivisionError) as exc:
                    raise UndefinedValue(n, str(exc) or "division by zero") from None
                if isinstance(self.numbers, Symbolic):
                    _bound(out, self.numbers)
                self.memo[n] = out
        return self.memo[e]

    def _kids(self, e: Expr) -> list[Matrix]:
        return [self.memo[c] for c in e.children]

    def _const(self, rows: Sequence[Sequence[Fraction | int]]) -> Matrix:
        return constant(rows, self.depth, self.numbers)

    def _sparse(self, dok: Mapping[tuple[int, int], int], shape: tuple[int, int]) -> Matrix:
        return sparse_constant(dok, shape, self.depth, self.numbers)

    def _c_Var(self, e: Any) -> Matrix:
        return self.env[e.name]

    def _c_Num(self, e: Any) -> Matrix:
        return self._const([[e.value]])

    def _c_Size(self, e: Any) -> Matrix:
        return self._const([[self.size(e.dim)]])

    def _c_Identity(self, e: Any) -> Matrix:
        n = self.size(e.n)
        return self._sparse({(i, i): 1 for i in range(n)}, (n, n))

    def _c_Ones(self, e: Any) -> Matrix:
        r, c = self.size(e.dims[0]), self.size(e.dims[1])
        return self._sparse({(i, j): 1 for i in range(r) for j in range(c)}, (r, c))

    def _c_Zeros(self, e: Any) -> Matrix:
        return self._sparse({}, (self.size(e.dims[0]), self.size(e.dims[1])))

    def _c_Commutation(self, e: Any) -> Matrix:
        m, n = self.size(e.m), self.size(e.n)
        return self._sparse({(i * n + j, j * m + i): 1 for i in range(m) for j in range(n)}, (m * n, m * n))

    def _c_Add(self, e: Any) -> Matrix:
        kids = self._kids(e)
        out = kids[0]
        for k in kids[1:]:
            out = out + k
        return out

    def _c_MatMul(self, e: Any) -> Matrix:
        scale: Matrix | None = None
        chain: Matrix | None = None
        for f, v in zip(e.factors, self._kids(e), strict=True):
            if f.is_scalar:
                scale = v if scale is None else scale.hadamard(v)
            else:
                chain = v if chain is None else chain.matmul(v)
        if chain is None:
            assert scale is not None
            return scale
        return chain if scale is None else chain.scale(scale)

    def _c_Hadamard(self, e: Any) -> Matrix:
        kids = self._kids(e)
        out = kids[0]
        for k in kids[1:]:
            out = out.hadamard(k)
        return out

    def _c_Kron(self, e: Any) -> Matrix:
        a, b = self._kids(e)
        return a.kron(b)

    def _c_Transpose(self, e: Any) -> Matrix:
        return self._kids(e)[0].transpose()

    def _c_Power(self, e: Any) -> Matrix:
        """Elementwise: a constant exponent as the function t ↦ tᵖ, a variable one as (t, p) ↦ tᵖ."""
        base, p = self._kids(e)
        if not any(isinstance(n, Var) for n in e.exponent.walk()):
            return base.apply(power_formula(self._fraction(p)))
        fn = power_formula(None)
        grid = [[call(fn, [base.extract([i], [j]), p]) for j in range(base.cols)] for i in range(base.rows)]
        return assemble(grid)

    def _fraction(self, m: Matrix) -> Fraction:
        v = m.base().element(0, 0)
        if isinstance(self.numbers, Symbolic):
            v = self.numbers.ring.convert(v).LC if v else QQ.zero
        return Fraction(int(v.numerator), int(v.denominator))

    def _c_MatPow(self, e: Any) -> Matrix:
        """Xᵏ by repeated squaring; X⁰ = I."""
        base = self._kids(e)[0]
        n = base.rows
        out, k = self._sparse({(i, i): 1 for i in range(n)}, (n, n)), e.k
        while k:
            if k & 1:
                out = out.matmul(base)
            k >>= 1
            if k:
                base = base.matmul(base)
        return out

    def _c_Call(self, e: Any) -> Matrix:
        """Every built-in function through its row's SymPy implementation."""
        if e.fn.sympy is None:
            raise ValueError(f"{e.fn.name} has no SymPy implementation")
        (a,) = self._kids(e)
        if e.fn.elementwise:
            return a.apply(elementwise_formula(e.fn))
        try:
            return self.ns.item(e.fn.sympy(self.ns, a))
        except UndefinedValue as exc:  # raised inside: it names this call
            raise Undefined(exc.reason) from None

    def _c_Unvec(self, e: Any) -> Matrix:
        (a,) = self._kids(e)
        return a.reshape(self.size(e.rows), self.size(e.cols))

    def _args(self, e: Any) -> list[Matrix]:
        return [v for m in self._kids(e) for v in entries(m)]

    def _c_Apply(self, e: Any) -> Matrix:
        if e.kind == "elementwise":
            return self._kids(e)[0].apply(abstract_fn(e.name, 1))
        args = self._args(e)
        if e.kind == "scalar":
            return call(abstract_fn(e.name, len(args)), args)
        return assemble([[call(abstract_fn(f"{e.name}[{i + 1}]", len(args)), args)] for i in range(self.size(e.out))])

    def _c_Grad(self, e: Any) -> Matrix:
        """∇L(y): entry k is ∂ₖL(y…), the function the chain rule gives for L(y…)."""
        args = self._args(e)
        y = self._kids(e)[0]
        grads = [call(abstract_fn(e.name, len(args), (k,)), args) for k in range(y.rows * y.cols)]
        return assemble([[grads[j * y.rows + i] for j in range(y.cols)] for i in range(y.rows)])

    def _c_Deriv(self, e: Any) -> Matrix:
        return self._kids(e)[0].apply(abstract_fn(e.name, 1, (0,) * e.order))

    def _c_Hess(self, e: Any) -> Matrix:
        args = entries(self._kids(e)[0])
        n = len(args)
        return assemble([[call(abstract_fn(e.name, n, (i, j)), args) for j in range(n)] for i in range(n)])

    def _c_Jac(self, e: Any) -> Matrix:
        args = entries(self._kids(e)[0])
        out = self.size(e.out)
        return assemble([[call(abstract_fn(f"{e.name}[{i + 1}]", len(args), (k,)), args) for k in range(len(args))]
                         for i in range(out)])

    def _c_Diff(self, e: Any) -> Matrix:
        raise ValueError("differentials are not converted")


def _raised(m: Matrix, depth: int) -> Matrix:
    """``m`` as a jet of order ``depth`` (with no tangents where it had none)."""
    while m.depth < depth:
        m = Jet(m)
    return m


def _bound(m: Matrix, numbers: Symbolic) -> None:
    if isinstance(m, Flat):
        numbers.check(m.m)
        return
    _bound(m.value, numbers)
    if m.tangent is not None:
        _bound(m.tangent, numbers)


__all__ = ["Converter", "Flat", "Jet", "Namespace", "assemble", "call", "compose", "constant", "lift",
           "sparse_constant"]
