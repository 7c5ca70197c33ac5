"""What every rule of the tree builder uses: one reading's state (its unifier, the
shapes it gives the names) and the few builders every rule calls — a node built with
its position, a product with its numbers folded, −e, 1/s.

Shapes are inferred while the nodes are built, in the builder's one bottom-up pass, and
not in a pass of their own afterwards: what the notation means depends on the shapes
known so far (``/`` needs a scalar divisor, ``⊙`` with a 1×1 side is a product, ``|X|`` is
det or abs, ``diag`` picks the row its argument fits, a scalar added to an array is added
to every entry).  Each node's shape rule (:mod:`matcalc.nodes`) is written once, against a
unifier: during a reading the reading's :class:`~matcalc.shapes.Inference`, which binds
unknown sizes, and :data:`~matcalc.shapes.STRICT` everywhere else, which only checks.
The reading enters :func:`~matcalc.shapes.inferring` once
(:func:`matcalc.syntax.readings.build_reading`) instead of passing the unifier to each
constructor, because some nodes of a reading are built by code the rest of the package
shares: the function table's derivative rows (``σ′(x)`` is σ(x) ⊙ (𝟏 − σ(x)), built by
:mod:`matcalc.algebra`'s ``mul``, ``had`` and ``power``, which every differential rule
calls) and its inner product (``⟨A, X⟩``), and :mod:`matcalc.printing.sizes`, which re-runs
inference on a tree through :meth:`~matcalc.nodes.Expr.rebuild`.  Passing the unifier
explicitly would put a unifier parameter on those helpers, or a second copy of them
here: more code, in more modules, than the one context variable it would remove.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from lark import Transformer_NonRecursive

from ..algebra import flatten_product
from ..errors import ShapeError, Span
from ..nodes import Expr, MatMul, Num, Power
from ..shapes import Inference
from .names import Names, Scope
from .source import at


class NodeMaker(Transformer_NonRecursive):
    """The base of the tree builder: one instance per reading.

    What a name is comes from the resolution pass (:class:`~matcalc.syntax.names.Names`);
    the shapes one reading gives the names come from its :class:`~matcalc.syntax.names.Scope`."""

    def __init__(self, names: Names, u: Inference, as_vectors: frozenset[str] = frozenset(),
                 as_scalars: frozenset[str] = frozenset(), leading_one_as_ones: bool = False):
        super().__init__(visit_tokens=False)  # tokens are read by the rules that hold them
        self.names = names
        self.decls = names.decls
        self.u = u
        self.scope = Scope(names, names.decls, u, as_vectors, as_scalars)
        #: a literal 1 that begins a product is the vector of ones (A − 1 xᵀ): a reading tried when
        #: the number 1 bends a name; the 1s so read, said in the output
        self.leading_one_as_ones = leading_one_as_ones
        self.ones_read: list[Expr] = []
        #: the scalars added to every entry of an array (x − tr(X)/n), said in the output
        self.broadcasts: list[tuple[Expr, Expr]] = []
        # the Nums written as the literal 1 (for 1ᵀ), by identity; the nodes are kept alive
        # here, so that no other node built later can reuse the id of one of them
        self._literal_ones: dict[int, Expr] = {}

    def _literal_one(self, e: Expr) -> bool:
        """Is ``e`` the very node of a literal 1 in the input?"""
        return self._literal_ones.get(id(e)) is e

    def _scalar(self, e: Any) -> bool:
        return self.u.is_one(e.shape[0]) and self.u.is_one(e.shape[1])

    def _vector(self, a: Expr) -> bool:
        """A row or column vector (the other size unknown or known)."""
        return self.u.is_one(a.shape[0]) or self.u.is_one(a.shape[1])

    def _shape(self, e: Expr) -> tuple[Any, Any]:
        return (self.u.resolve(e.shape[0]), self.u.resolve(e.shape[1]))

    def _var(self, name: str, span: Span | None) -> Expr:
        return at(self.scope.var(name, span), span)

    def _make(self, cls: type, args: tuple, span: Span | None) -> Expr:
        try:
            return at(cls(*args), span)
        except ShapeError as err:
            if err.span is None:
                err.span = span
            raise

    def _product(self, factors: list[Expr], span: Span | None) -> Expr:
        """A product: nested products flattened, numbers folded into one leading number."""
        coeff, flat = flatten_product(factors, self._scalar)
        if not flat:
            return at(Num(coeff), span)
        if coeff != 1:
            flat.insert(0, Num(coeff))
        if len(flat) == 1:
            return flat[0]
        return self._make(MatMul, (tuple(flat),), span)

    def _negate(self, e: Expr, span: Span | None) -> Expr:
        """−e; −(aᵀ b) is the one product −1·aᵀ·b (a 1×1 product is kept as one factor
        only among other matrices: (xᵀ x) A)."""
        factors = e.factors if isinstance(e, MatMul) else (e,)
        return self._product([Num(Fraction(-1)), *factors], span)

    def _reciprocal(self, s: Expr, span: Span | None) -> Expr:
        """1/s for a scalar s; of a power sᵏ, s⁻ᵏ (the tree the printer writes x / ‖x‖³ for)."""
        if isinstance(s, Power) and isinstance(s.exponent, Num) and s.exponent.value.denominator == 1 \
                and s.exponent.value > 0:
            return self._make(Power, (s.base, Num(-s.exponent.value)), span)
        return self._make(Power, (s, Num(Fraction(-1))), span)
