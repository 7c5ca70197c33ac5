"""Symbolic dimensions, shapes and unification.

A dimension is an ``int``, a symbol name (``str``) or a product of those (:class:`DimProd`,
as in the ``m·n`` rows of ``vec(X)``).  A shape is always a pair ``(rows, cols)``:
a column vector is ``(n, 1)`` and a scalar is ``(1, 1)``.

Shape rules are written once, against a *unifier* (:class:`Unifier`).  While parsing, the
unifier is a union-find over unknown dimensions (:class:`Inference`); everywhere else it
is :data:`STRICT`, which only accepts dimensions that are already equal, so that every
rewrite re-checks the shapes of the nodes it builds.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Union

from .errors import ShapeError, Span

Dim = Union[int, str, "DimProd", "DimVar"]
Shape = tuple[Dim, Dim]

SCALAR: Shape = (1, 1)


@dataclass(frozen=True, slots=True)
class DimProd:
    """A product of dimensions: ``coeff * syms[0] * syms[1] * ...`` with ``syms`` sorted."""

    coeff: int
    syms: tuple[str, ...]

    def __str__(self) -> str:
        parts = ([str(self.coeff)] if self.coeff != 1 else []) + list(self.syms)
        return "·".join(parts)


@dataclass(frozen=True, slots=True, eq=False)
class DimVar:
    """An unknown dimension, alive only while a parse infers shapes (each one is its own
    value: compared and hashed by identity)."""

    id: int

    def __str__(self) -> str:
        return "?"  # a size not known yet, in error messages


def dim_mul(a: Dim, b: Dim) -> Dim:
    """The product of two known dimensions, normalised (``1·n = n``, ``2·3 = 6``)."""
    if isinstance(a, DimVar) or isinstance(b, DimVar):
        raise TypeError("dim_mul needs known dimensions")
    coeff = 1
    syms: list[str] = []
    for d in (a, b):
        if isinstance(d, int):
            coeff *= d
        elif isinstance(d, str):
            syms.append(d)
        else:
            coeff *= d.coeff
            syms.extend(d.syms)
    if not syms:
        return coeff
    if coeff == 1 and len(syms) == 1:
        return syms[0]
    return DimProd(coeff, tuple(sorted(syms)))


def size_of(d: Dim, sizes: Mapping[str, int]) -> int:
    """The value of the dimension ``d`` where every size symbol has its number in ``sizes``
    (a KeyError names a symbol that has none).

    >>> size_of(DimProd(2, ("m", "n")), {"m": 3, "n": 4})
    24
    """
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


def dim_str(d: Dim, ascii: bool = False) -> str:
    text = str(d)
    return text.replace("·", "*") if ascii else text


def shape_str(shape: Shape, ascii: bool = False) -> str:
    """``m×n``; a column vector is ``n×1``; a scalar is ``1×1``."""
    sep = "x" if ascii else "×"
    return f"{dim_str(shape[0], ascii)}{sep}{dim_str(shape[1], ascii)}"


def dim_json(d: Dim) -> int | str | list[int | str]:
    """A dimension for programs: a number, a name, or a product as the list of its factors
    (``m·q`` → ``["m", "q"]``, ``2·n`` → ``[2, "n"]``)."""
    if isinstance(d, DimProd):
        return ([d.coeff] if d.coeff != 1 else []) + list(d.syms)
    return d  # type: ignore[return-value]


def shape_json(shape: Shape) -> list[int | str | list[int | str]]:
    """A shape for programs: ``[rows, cols]``, each as :func:`dim_json` writes it."""
    return [dim_json(shape[0]), dim_json(shape[1])]


def describe_shape(shape: Shape, ascii: bool = False) -> str:
    """Words for a shape, as a reader would say it: scalar, vector of length n, m×n matrix."""
    if shape == SCALAR:
        return "scalar"
    if shape[1] == 1:
        return f"column vector of length {dim_str(shape[0], ascii)}"
    if shape[0] == 1:
        return f"row vector of length {dim_str(shape[1], ascii)}"
    return f"{shape_str(shape, ascii)} matrix"


class Mismatch(Exception):
    """Two dimensions that cannot be equal.  Shape rules turn it into a ShapeError."""


class Unifier:
    """What shape rules unify dimensions with.  This one binds nothing: dimensions must
    already be equal (:data:`STRICT`, used outside parsing); :class:`Inference` also binds
    unknown dimensions."""

    def resolve(self, d: Dim) -> Dim:
        return d

    def unify(self, a: Dim, b: Dim) -> None:
        if a != b:
            raise Mismatch(a, b)

    def mul(self, a: Dim, b: Dim) -> Dim:
        return dim_mul(a, b)

    def is_one(self, d: Dim) -> bool:
        return self.resolve(d) == 1

    def known(self, d: Dim) -> Dim:
        return d


STRICT = Unifier()


class Inference(Unifier):
    """Union-find over unknown dimensions, for one parse.

    Known dimensions (numbers, symbols, products) are constants: two different
    constants never unify, so ``n`` and ``m`` are different sizes.
    """

    def __init__(self, ground: Callable[[], str]) -> None:
        self.parent: dict[DimVar, Dim] = {}
        self.count = 0
        self.ground = ground  # names a dimension that must become known now
        #: names given to unknown sizes early (a factor of a product: kron(I, A)), by the
        #: unknown they name, which may still be re-pointed (:meth:`_solve_product`)
        self.grounded: dict[str, DimVar] = {}
        #: early names re-pointed by :meth:`_solve_product`, as nodes built before still show them
        self.renamed: dict[str, Dim] = {}

    def fresh(self) -> DimVar:
        self.count += 1
        v = DimVar(self.count)
        self.parent[v] = v
        return v

    def resolve(self, d: Dim) -> Dim:
        parent = self.parent
        while isinstance(d, DimVar):
            up = parent.get(d, d)
            if up is d:
                return d
            if isinstance(up, DimVar) and up in parent:  # path halving
                up = parent[d] = parent[up]
            d = up
        return self._current(d) if self.renamed else d

    def unify(self, a: Dim, b: Dim) -> None:
        a, b = self.resolve(a), self.resolve(b)
        if a == b:
            return
        if isinstance(a, DimVar):
            self.parent[a] = b
        elif isinstance(b, DimVar):
            self.parent[b] = a
        elif not (self._solve_product(a, b) or self._solve_product(b, a)):
            raise Mismatch(a, b)

    def _solve_product(self, a: Dim, b: Dim) -> bool:
        """a = b where ``a`` has, beyond their common factors, one size named early (gᵏ) and
        b's other factors are a k-th power: g becomes their root (m·m = n·n with n named for
        tr(X ⊗ X): n = m; q·m = m·n for kron(I, A): q = n).  Nodes built so far keep the
        early name in their shapes; the parse rebuilds every node from its leaves."""
        ca, fa = _factors(a)
        cb, fb = _factors(b)
        if ca != cb:
            return False
        ra = {k: v - fb.get(k, 0) for k, v in fa.items() if v > fb.get(k, 0)}
        rb = {k: v - fa.get(k, 0) for k, v in fb.items() if v > fa.get(k, 0)}
        if len(ra) != 1 or not rb:
            return False
        (g, k), = ra.items()
        var = self.grounded.get(g)
        if var is None or self.resolve(var) != g or any(v % k for v in rb.values()):
            return False
        target: Dim = 1
        for name, v in sorted(rb.items()):
            for _ in range(v // k):
                target = dim_mul(target, name)
        if g in _factors(self._current(target))[1]:  # g = g·n has no solution (and would loop)
            return False
        del self.grounded[g]
        self.parent[var] = target
        self.renamed[g] = target
        return True

    def _current(self, d: Dim) -> Dim:
        """``d`` with the early names re-pointed since (m·n, built before m became p, is p·n)."""
        if not self.renamed or isinstance(d, (int, DimVar)):
            return d
        if isinstance(d, str):
            seen = {d}
            while d in self.renamed:
                d = self.renamed[d]  # type: ignore[assignment]
                if not isinstance(d, str):  # renamed to a product: its factors may be renamed too
                    return self._current(d)
                if d in seen:  # pragma: no cover - _solve_product never makes a cycle
                    raise Mismatch(d, d)
                seen.add(d)
            return d
        out: Dim = d.coeff  # type: ignore[union-attr]
        for sym in d.syms:  # type: ignore[union-attr]
            out = dim_mul(out, self._current(sym))
        return out

    def mul(self, a: Dim, b: Dim) -> Dim:
        """Products of dimensions are only formed from known ones: an unknown factor
        (``kron(A, B)`` with A undeclared) is given a fresh symbolic name first."""
        return dim_mul(self.known(a), self.known(b))

    def known(self, d: Dim) -> Dim:
        d = self.resolve(d)
        if isinstance(d, DimVar):
            name = self.ground()
            self.parent[d] = name
            self.grounded[name] = d
            return name
        return d


def _factors(d: Dim) -> tuple[int, dict[str, int]]:
    """A known dimension as its number and its size names with their powers."""
    if isinstance(d, int):
        return d, {}
    if isinstance(d, str):
        return 1, {d: 1}
    out: dict[str, int] = {}
    for s in d.syms:  # type: ignore[union-attr]
        out[s] = out.get(s, 0) + 1
    return d.coeff, out  # type: ignore[union-attr]


_current: contextvars.ContextVar[Unifier] = contextvars.ContextVar("matcalc_unifier", default=STRICT)


def unifier() -> Unifier:
    """The unifier in force: :data:`STRICT`, or the parse's :class:`Inference`."""
    return _current.get()


class inferring:
    """``with inferring(u):`` — nodes built inside unify their dimensions with ``u``."""

    def __init__(self, u: Inference):
        self.u = u
        self.token: contextvars.Token | None = None

    def __enter__(self) -> Inference:
        self.token = _current.set(self.u)
        return self.u

    def __exit__(self, *exc: object) -> None:
        assert self.token is not None
        _current.reset(self.token)


def shape_error(op: str, why: str, operands: list[tuple[Span | None, Shape]], span: Span | None) -> ShapeError:
    """A ShapeError naming the operation, the operands' shapes and the place in the input."""
    u = unifier()
    resolved = [(s, (u.resolve(sh[0]), u.resolve(sh[1]))) for s, sh in operands]
    err = ShapeError(f"{op}: {why}", span)
    err.operands = resolved  # type: ignore[attr-defined]
    err.op = op  # type: ignore[attr-defined]
    err.why = why  # type: ignore[attr-defined]
    return err
