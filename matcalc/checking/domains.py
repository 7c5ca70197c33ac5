"""The numbers the SymPy check's jets compute with (:mod:`.jets`), and the scalar functions
they apply.

* :class:`AtPoint`: exact rationals (SymPy's QQ) at a rational point, and where a function's
  value is not rational (exp, log, sin, …) real numbers of :data:`BITS` bits, SymPy
  evaluating the function (``exact`` then says so), complex ones where allowed;
* :class:`Symbolic`: polynomials in the entry symbols (QQ[x₁, …]), with every value that
  is not a polynomial — exp(u), √u, 1/u, 1/det X, L(y), ∂₁L(y) — a symbol of its own, the
  same symbol for the same application.  Equality there is a proof: an identity of
  polynomials in independent values of the applications holds whatever their values
  (:meth:`Symbolic.vanishes` also uses what roots and reciprocals are).  The work is
  bounded by a count of terms (:data:`MAX_TERMS`, :data:`MAX_WORK`), past which
  :class:`TooLarge` is raised and the check compares at points: what is proved depends on
  the expression, never on the machine's speed.

A scalar function is a :class:`Formula` (a SymPy formula, its partial derivatives SymPy's)
or an :class:`AbstractFn` (∂_index L of an abstract function: an atom when symbolic, its
stand-in formula at points, so that the stand-ins' derivatives are consistent).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any

import mpmath
import sympy as sp
from sympy.polys.domains import QQ, ComplexField, RealField
from sympy.polys.matrices import DomainMatrix
from sympy.polys.matrices.exceptions import DMNonInvertibleMatrixError

from .numeric import name_number

#: the precision of numbers that are not rational (77 decimal digits); compared to 30
BITS = 256
#: the terms a symbolic entry may have (numerator and denominator) before the proof is left
MAX_TERMS = 400
#: the terms the expansion of a determinant may have (n! tⁿ for entries of t terms)
MAX_EXPANSION = 130
#: terms of all the matrices a symbolic comparison may make
MAX_WORK = 4000
#: symbols the symbolic numbers may give to applications of functions, at most
MAX_ATOMS = 400

_RR = RealField(BITS)


class Undefined(ValueError):
    """No value here: a singular matrix inverted, 1/0, the log of a negative number."""


class TooLarge(Exception):
    """A symbolic entry grew past :data:`MAX_TERMS` terms, or past :data:`MAX_ATOMS` applications."""


# ------------------------------------------------------------------------------ scalar functions


class Formula:
    """A scalar function given by a SymPy formula in ``symbols``; its partial derivatives
    are SymPy's (made once, on first use).  A monomial c tᵏ (k an integer) is also known as
    ``monomial`` = (c, k), computed in the numbers' own domain."""

    def __init__(self, expr: Any, symbols: tuple[Any, ...], name: str = "",
                 monomial: tuple[Fraction, int] | None = None):
        self.expr = expr
        self.symbols = symbols
        self.name = name
        self.monomial = monomial
        self._partials: dict[int, Formula] = {}
        self._numeric: Callable[..., Any] | None = None

    def numeric(self) -> Callable[..., Any]:
        """The formula as an mpmath function (made once)."""
        if self._numeric is None:
            self._numeric = sp.lambdify(self.symbols, self.expr, modules="mpmath")
        return self._numeric

    def partial(self, i: int) -> Formula:
        if i not in self._partials:
            d = sp.diff(self.expr, self.symbols[i])
            monomial = None
            if self.monomial is not None:
                c, k = self.monomial
                monomial = (c * k, k - 1) if k else (Fraction(0), 0)
            self._partials[i] = Formula(d, self.symbols, f"∂{i + 1} {self.name}", monomial)
        return self._partials[i]

    def __repr__(self) -> str:
        return f"<formula {self.name}: {self.expr}>"


@functools.cache
def elementwise_formula(row: Any) -> Formula:
    """The formula of an elementwise function row's SymPy implementation, of one argument t."""
    t = sp.Dummy("t", real=True)
    return Formula(row.sympy(sp, t), (t,), row.name)


@functools.cache
def power_formula(p: Fraction | None) -> Formula:
    """tᵖ for a constant p, or (p None) the function (t, p) ↦ tᵖ."""
    t, q = sp.Dummy("t", real=True), sp.Dummy("p", real=True)
    if p is None:
        return Formula(t**q, (t, q), "power")
    return Formula(t ** sp.Rational(p.numerator, p.denominator), (t,), f"power {p}",
                   (Fraction(1), int(p)) if p.denominator == 1 else None)


@functools.cache
def named_formula(name: str) -> Formula:
    """sympy.<name>(t): what ``sp.log(x)`` means in a function row's implementation."""
    t = sp.Dummy("t", real=True)
    return Formula(getattr(sp, name)(t), (t,), name)


class AbstractFn:
    """∂_index L of an abstract function L of ``nargs`` arguments (``family`` is L's name, or
    ``g[2]`` for the second component of a vector function g): a symbol of its own per
    application in :class:`Symbolic`, the stand-in :func:`stand_in` at points."""

    def __init__(self, family: str, nargs: int, index: tuple[int, ...] = ()):
        self.family = family
        self.nargs = nargs
        self.index = tuple(sorted(index))

    def partial(self, i: int) -> AbstractFn:
        return abstract_fn(self.family, self.nargs, self.index + (i,))

    def __repr__(self) -> str:
        return f"<abstract ∂{self.index} {self.family}/{self.nargs}>"


@functools.cache
def abstract_fn(family: str, nargs: int, index: tuple[int, ...] = ()) -> AbstractFn:
    return AbstractFn(family, nargs, tuple(sorted(index)))


def _formula(name: str, args: tuple[Any, ...]) -> Any:
    """The concrete stand-in for the abstract function ``name``: smooth, not polynomial,
    coupling neighbouring arguments, and different for different names."""
    k = sp.Rational(name_number(name), 3)
    total = sum(sp.sin(a * k) + a**2 / 2 for a in args)
    return total + sum(args[i] * args[i + 1] / 3 for i in range(len(args) - 1))


@functools.cache
def stand_in(fn: AbstractFn) -> Formula:
    """∂_index of the stand-in formula of ``fn``'s family: so that the derivatives of a
    stand-in are the stand-ins of its partial derivatives (∇L(y) at a point is SymPy's
    derivative of L's formula there)."""
    xi = sp.symbols(f"xi_1:{fn.nargs + 1}", real=True)
    f = _formula(fn.family, xi)
    return Formula(sp.diff(f, *[xi[i] for i in fn.index]) if fn.index else f, xi, fn.family)


ScalarFn = Formula | AbstractFn


# ------------------------------------------------------------------------------ numbers


class AtPoint:
    """Numbers at a random rational point: exact rationals where the values are rational,
    else reals of ``bits`` bits; with ``complex_ok``, complex numbers where a function leaves
    the reals (the log or the square root of a negative number, SymPy's principal branch).
    ``exact`` stays True while every function value met was rational."""

    def __init__(self, bits: int = BITS, complex_ok: bool = False) -> None:
        self.real = _RR if bits == BITS else RealField(bits)
        self.complex = ComplexField(bits)
        self.digits = self.real.dps
        self.complex_ok = complex_ok
        self.exact = True

    def constant(self, v: Fraction | int) -> Any:
        return QQ(v.numerator, v.denominator) if isinstance(v, Fraction) else QQ(v)

    def matrix(self, rows: Sequence[Sequence[Any]], shape: tuple[int, int]) -> DomainMatrix:
        """Elements of QQ, of the reals or of the complex numbers as one matrix, over the
        first of QQ ⊂ R ⊂ C that holds them all."""
        kinds = {kind(v) for row in rows for v in row}
        domain = self.complex if 2 in kinds else self.real if 1 in kinds else QQ
        if domain is not QQ:
            rows = [[v if kind(v) == 2 or domain is self.real and kind(v) == 1 else
                     domain.convert_from(v, QQ if kind(v) == 0 else self.real) for v in row] for row in rows]
        return DomainMatrix(list(map(list, rows)), shape, domain).to_sparse()

    def sympy(self, v: Any) -> Any:
        k = kind(v)
        if k == 0:
            return sp.Rational(int(v.numerator), int(v.denominator))
        return (self.real if k == 1 else self.complex).to_sympy(v)

    def call(self, fn: ScalarFn, args: Sequence[Any]) -> Any:
        if isinstance(fn, AbstractFn):  # a stand-in: sines and a polynomial, in mpmath
            return self._numeric(stand_in(fn), args)
        f = fn
        value = f.expr.xreplace({s: self.sympy(a) for s, a in zip(f.symbols, args, strict=True)})
        if value.is_Rational:
            return QQ(int(value.p), int(value.q))
        self.exact = False
        value = value.evalf(self.digits)
        if value.is_Float:
            return self.real.from_sympy(value)
        if self.complex_ok and value.is_number and value.is_finite:
            return self.complex.from_sympy(value)
        raise Undefined(f"{f.name} has no real value here ({sp.N(value, 6)})")

    def _numeric(self, f: Formula, args: Sequence[Any]) -> Any:
        """f at ``args`` by mpmath, at the working precision (never exact: for the stand-ins
        of abstract functions, whose values are not rational)."""
        self.exact = False
        with mpmath.workprec(self.real.precision + 32):
            value = f.numeric()(*(self._mp(a) for a in args))
        if isinstance(value, mpmath.ctx_mp_python._mpc):
            if not self.complex_ok:
                raise Undefined(f"{f.name} has no real value here")
            return self.complex(value)
        return self.real(value)

    def _mp(self, v: Any) -> Any:
        k = kind(v)
        if k == 0:
            return mpmath.mpf(int(v.numerator)) / int(v.denominator)
        return mpmath.mpf(v) if k == 1 else mpmath.mpc(v)

    def power(self, v: Any, k: int) -> Any:
        try:
            return v**k if k >= 0 else (1 / v) ** (-k)
        except ZeroDivisionError:
            raise Undefined("division by zero") from None

    def monomial(self, v: Any, c: Fraction, k: int) -> Any:
        """c vᵏ."""
        k_ = kind(v)
        domain = QQ if k_ == 0 else self.real if k_ == 1 else self.complex
        return self.power(v, k) * domain.convert_from(QQ(c.numerator, c.denominator), QQ)

    def inverse(self, m: DomainMatrix) -> DomainMatrix:
        try:
            return m.to_field().inv()
        except (DMNonInvertibleMatrixError, ZeroDivisionError):
            raise Undefined("the matrix is singular") from None

    def check(self, m: DomainMatrix) -> None:
        """Nothing to bound at a point."""


class Symbolic:
    """Polynomials in the entry symbols ``symbols`` and in a symbol of its own for each value
    that is not a polynomial: an application of a function (exp(u), L(y), ∂₁L(y)), a root
    (√u), the reciprocal of a polynomial (1/u, 1/det X) — at most ``atoms`` of them."""

    exact = True

    def __init__(self, symbols: Sequence[Any], atoms: int = MAX_ATOMS) -> None:
        pool = sp.symbols(f"α_1:{atoms + 1}")
        self.ring = QQ.poly_ring(*symbols, *pool)
        gens = self.ring.gens
        self.symbols = {s: g for s, g in zip(symbols, gens, strict=False)}
        self._pool = list(gens[len(symbols):])
        self._atoms: dict[Any, Any] = {}
        self._memo: dict[Any, Any] = {}
        #: terms of the matrices made so far
        self.work = 0

    def constant(self, v: Fraction | int) -> Any:
        return self.ring.convert(QQ(v.numerator, v.denominator) if isinstance(v, Fraction) else QQ(v))

    def matrix(self, rows: Sequence[Sequence[Any]], shape: tuple[int, int]) -> DomainMatrix:
        return DomainMatrix([[self.ring.convert(v) for v in row] for row in rows], shape, self.ring).to_sparse()

    def atom(self, key: Any) -> Any:
        if key not in self._atoms:
            if not self._pool:
                raise TooLarge("too many applications of functions")
            self._atoms[key] = self._pool.pop(0)
        return self._atoms[key]

    def reciprocal(self, v: Any) -> Any:
        v = self.ring.convert(v)
        if not v:
            raise Undefined("division by zero")
        if v.is_ground:
            return self.ring.convert(QQ.one / v.LC)
        return self.atom(("1/", v))

    def power(self, v: Any, k: int) -> Any:
        return v**k if k >= 0 else self.reciprocal(v) ** (-k)

    def monomial(self, v: Any, c: Fraction, k: int) -> Any:
        """c vᵏ."""
        return self.power(self.ring.convert(v), k) * QQ(c.numerator, c.denominator)

    def inverse(self, m: DomainMatrix) -> DomainMatrix:
        """adj(M) · (1/det M), 1/det M an atom."""
        m = m.convert_to(self.ring)
        self.check_expansion(m)
        d = m.det()
        if not d:
            raise Undefined("the matrix is singular")
        return (self.adjugate(m) * self.reciprocal(d)).to_sparse()

    def adjugate(self, m: DomainMatrix) -> DomainMatrix:
        """adj(M) from cofactors (SymPy 1.14's ``adjugate`` fails over a polynomial ring)."""
        n = m.shape[0]
        if n == 1:
            return DomainMatrix([[self.ring.one]], (1, 1), self.ring)
        m = m.convert_to(self.ring)
        rows = [[self.ring.zero] * n for _ in range(n)]
        for i in range(n):
            for j in range(n):
                minor = m.extract([r for r in range(n) if r != i], [c for c in range(n) if c != j]).det()
                rows[j][i] = minor if (i + j) % 2 == 0 else -minor
        return DomainMatrix(rows, (n, n), self.ring).to_sparse()

    def call(self, fn: ScalarFn, args: Sequence[Any]) -> Any:
        args = tuple(self.ring.convert(a) for a in args)
        if isinstance(fn, AbstractFn):
            return self.atom(("abstract", fn.family, fn.nargs, fn.index, args))
        key = (id(fn), args)
        if key not in self._memo:
            self._memo[key] = self._embed(fn.expr, dict(zip(fn.symbols, args, strict=True)))
        return self._memo[key]

    def _embed(self, e: Any, at: dict[Any, Any]) -> Any:
        """The SymPy expression ``e`` (its symbols given values in ``at``) as a polynomial:
        sums, products and integer powers as they are, anything else an atom."""
        if e in at:
            return at[e]
        if e.is_Rational:
            return self.constant(Fraction(int(e.p), int(e.q)))
        if e.is_Add:
            out = self.ring.zero
            for a in e.args:
                out = out + self._embed(a, at)
            return out
        if e.is_Mul:
            out = self.ring.one
            for a in e.args:
                out = out * self._embed(a, at)
            return out
        if e.is_Pow and e.exp.is_Rational:
            base = self._embed(e.base, at)
            p, q = int(e.exp.p), int(e.exp.q)
            if q != 1:  # b^(p/q) = (b^(1/q))^p: √u and 1/√u share one atom
                base = self.atom(("root", q, base))
            return self.power(base, p)
        return self.atom((e.func, tuple(self._embed(a, at) for a in e.args)))

    def check(self, m: DomainMatrix) -> None:
        """Raise TooLarge where an entry has more than MAX_TERMS terms, or where the terms of
        every matrix made so far add up to more than MAX_WORK (a measure of the work done,
        the same on every machine)."""
        if m.domain != self.ring:  # constants
            return
        for v in m.to_dok().values():
            if len(v) > MAX_TERMS:
                raise TooLarge(f"an entry of {len(v)} terms")
            self.work += len(v)
        if self.work > MAX_WORK:
            raise TooLarge(f"more than {MAX_WORK} terms computed")

    def check_product(self, a: DomainMatrix, b: DomainMatrix, inner: int) -> None:
        """Count the work of a product of ``a`` and ``b`` (``inner`` the length summed over:
        1 for an entrywise product) before computing it: at most nnz(a) nnz(b) / inner
        products of entries, each of at most (terms of a)·(terms of b) terms."""
        da, db = a.to_dok(), b.to_dok()
        if not da or not db or (a.domain != self.ring and b.domain != self.ring):
            return
        ta = max(len(v) if a.domain == self.ring else 1 for v in da.values())
        tb = max(len(v) if b.domain == self.ring else 1 for v in db.values())
        self.work += len(da) * len(db) * ta * tb // max(inner, 1)
        if self.work > MAX_WORK:
            raise TooLarge(f"more than {MAX_WORK} terms computed")

    def check_expansion(self, m: DomainMatrix) -> None:
        """Raise TooLarge where det M, expanded, may have more than MAX_EXPANSION terms (n! tⁿ,
        t the most terms of an entry: a 5×5 matrix of symbols, not XᵀX): before computing
        it, its adjugate or its inverse."""
        if m.domain != self.ring:
            return
        n = m.shape[0]
        t = max((len(v) for v in m.to_dok().values()), default=0)
        if math.factorial(n) * t**n > MAX_EXPANSION:
            raise TooLarge(f"the determinant of a {n}×{n} matrix with entries of {t} terms")

    def vanishes(self, d: Any) -> bool:
        """Is ``d`` zero, given what the atoms are?  Each root r = b^(1/q) has rᵠ = b and each
        reciprocal a = 1/u has a u = 1: with the atoms taken in the reverse order of their
        making (an atom's key holds only earlier ones), powers of a root are reduced
        (rᵏ = b^⌊k/q⌋ r^(k mod q)) and a reciprocal is cleared (d times uᴷ, K its degree in
        d, is zero exactly where d is).  The other atoms stay independent.  False where the
        polynomials grow past MAX_TERMS (or the work past MAX_WORK)."""
        d = self.ring.convert(d)
        gens = self.ring.gens
        for key, atom in reversed(list(self._atoms.items())):
            if not d:
                return True
            if key[0] not in ("root", "1/"):
                continue
            i = gens.index(atom)
            by_power: dict[int, Any] = {}
            for monom, coeff in d.terms():
                k = monom[i]
                term = self.ring({monom[:i] + (0,) + monom[i + 1:]: coeff})
                by_power[k] = by_power[k] + term if k in by_power else term
            degree = max(by_power)
            if degree == 0:
                continue
            out = self.ring.zero
            for k, c in by_power.items():
                if key[0] == "root":
                    q, b = key[1], key[2]
                    out += c * atom ** (k % q) * b ** (k // q)
                else:
                    out += c * key[1] ** (degree - k)
                self.work += len(out)
                if len(out) > MAX_TERMS or self.work > MAX_WORK:
                    return False
            d = out
        return not d


Numbers = AtPoint | Symbolic


def common_domain(a: Any, b: Any) -> Any:
    """The domain that holds both domains' elements."""
    if a == b or b == QQ:
        return a
    if a == QQ:
        return b
    return a.unify(b)


def same_domain(a: DomainMatrix, b: DomainMatrix) -> tuple[DomainMatrix, DomainMatrix]:
    """``a`` and ``b`` over one domain: a constant (over QQ) is converted to the other's
    domain directly (DomainMatrix.unify would build a new polynomial ring each time)."""
    if a.domain == b.domain:
        return a, b
    if a.domain == QQ:
        return a.convert_to(b.domain), b
    if b.domain == QQ:
        return a, b.convert_to(a.domain)
    return a.unify(b)


def kind(v: Any) -> int:
    """0 for an element of QQ, 1 for a real, 2 for a complex number."""
    if isinstance(v, type(QQ.one)):
        return 0
    return 2 if isinstance(v, mpmath.ctx_mp_python._mpc) else 1


__all__ = ["AbstractFn", "AtPoint", "BITS", "Formula", "MAX_ATOMS", "MAX_TERMS", "MAX_WORK", "Numbers", "ScalarFn", "Symbolic", "TooLarge", "Undefined", "abstract_fn", "common_domain", "elementwise_formula", "kind", "named_formula", "power_formula", "same_domain", "stand_in"]
