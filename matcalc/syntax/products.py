"""Products by juxtaposition: a run of factors ``a b / c ⊙ d ⊗ e …`` is one grammar rule,
built here left to right — ``((a b) ⊙ c) / d`` — in linear time.

A run of matrix products is collected once (:class:`ProductRun`) into the tree that
folding products pairwise from the left would give; a 1×1 side turns ``⊙`` into a product
and ``/`` needs a scalar divisor, so each step looks at the shapes inferred so far."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from ..algebra import flatten_product
from ..errors import ParseError, ShapeError, Span
from ..nodes import Expr, Hadamard, Identity, Kron, MatMul, Num, Ones, Power, Transpose
from ..shapes import DimVar, Mismatch, shape_error
from .making import NodeMaker
from .source import at, described


class ProductBuilder(NodeMaker):
    """The tree builder's rules for products (see :class:`~matcalc.syntax.builder.Builder`)."""

    def step_mul(self, meta: Any, b: Expr) -> tuple[str, Expr, int]:
        return ("mul", b, meta.end_pos)

    def step_div(self, meta: Any, b: Expr) -> tuple[str, Expr, int]:
        return ("div", b, meta.end_pos)

    def step_hadamard(self, meta: Any, b: Expr) -> tuple[str, Expr, int]:
        return ("hadamard", b, meta.end_pos)

    def step_elemdiv(self, meta: Any, b: Expr) -> tuple[str, Expr, int]:
        return ("elemdiv", b, meta.end_pos)

    def step_kron(self, meta: Any, b: Expr) -> tuple[str, Expr, int]:
        return ("kron", b, meta.end_pos)

    def product(self, meta: Any, first: Expr, *steps: tuple[str, Expr, int]) -> Expr:
        """a b ⊙ c / d …, left to right: ((a b) ⊙ c) / d.  Runs of matrix products are
        collected in one list and built once (see :class:`ProductRun`)."""
        start = meta.start_pos
        first, steps = self._outer_ones(first, steps)
        if self.leading_one_as_ones and self._literal_one(first) and steps and steps[0][0] == "mul":
            first = at(Ones((self.u.fresh(), 1)), first.span)
            self.ones_read.append(first)
        chain = ProductRun(self, first, start)
        i = 0
        while i < len(steps):
            op, b, end = steps[i]
            if op == "mul":
                chain.times(b, (start, end))
                i += 1
                continue
            if op == "div" and chain.divided(b, (start, end)):
                i += 1
                continue
            a = chain.build()
            j = i + 1
            while op == "hadamard" and j < len(steps) and steps[j][0] == "hadamard":
                j += 1
            k = Fraction(1)
            if op in ("hadamard", "elemdiv") and isinstance(a, MatMul) and isinstance(a.factors[0], Num) \
                    and not self._scalar(a):  # 2 X ./ Y is 2 (X ./ Y): the number leads the product
                k, rest = a.factors[0].value, a.factors[1:]
                a = rest[0] if len(rest) == 1 else self._make(MatMul, (rest,), a.span)
            result = self._hadamard_run(a, steps[i:j], start) if op == "hadamard" else \
                self._binary(op, a, b, (start, end))
            if k != 1:
                result = self._product([Num(k), result], result.span)
            chain = ProductRun(self, result, start)
            i = j
        return chain.build()

    def _outer_ones(self, first: Expr, steps: tuple) -> tuple[Expr, tuple]:
        """``1 1ᵀ`` is 𝟏 𝟏ᵀ, as matcalc prints it (the centring matrix I − 1 1ᵀ/n): a literal 1
        written right before a row of ones is the column of ones, not the number 1."""
        factors = [first, *(b for _, b, _ in steps)]
        ops = ["", *(op for op, _, _ in steps)]
        def ones_row(f: Expr) -> bool:
            return isinstance(f, Transpose) and isinstance(f.arg, Ones)

        for k in range(len(factors) - 1):
            if ops[k + 1] != "mul":
                continue
            if self._literal_one(factors[k]) and ones_row(factors[k + 1]):  # 1 1ᵀ
                factors[k] = at(Ones((self.u.fresh(), 1)), factors[k].span)
            elif ones_row(factors[k]) and self._literal_one(factors[k + 1]):  # 1ᵀ 1 = n
                factors[k + 1] = at(Ones((self.u.fresh(), 1)), factors[k + 1].span)
        return factors[0], tuple((op, b, end) for (op, _, end), b in zip(steps, factors[1:], strict=True))

    def _hadamard_run(self, a: Expr, steps: tuple, start: int) -> Expr:
        """a ⊙ b ⊙ c ⊙ …: one Hadamard product of all the factors, built once (each step
        as :meth:`_hadamard` would, which turns a ⊙ with a 1×1 side into a product)."""
        factors = list(a.factors if isinstance(a, Hadamard) else (a,))
        acc: Any = a  # the product so far; while collecting, only its shape (_ShapeOnly)
        end = a.span[1] if a.span else start
        for _, b, b_end in steps:
            if self._scalar(acc) or self._scalar(b):
                if isinstance(acc, _ShapeOnly):
                    acc = self._make(Hadamard, (tuple(factors),), (start, end))
                acc = self._hadamard(acc, b, (start, b_end))
                factors = list(acc.factors if isinstance(acc, Hadamard) else (acc,))
            else:
                try:
                    self.u.unify(acc.shape[0], b.shape[0])
                    self.u.unify(acc.shape[1], b.shape[1])
                except Mismatch:  # the node's own shape rule names the operands
                    self._make(Hadamard, (tuple([*factors, b]),), (start, b_end))
                    raise shape_error("Hadamard product", "both sides must have the same shape",
                                      [(a.span, acc.shape), (b.span, b.shape)], (start, b_end)) from None
                factors.extend(b.factors if isinstance(b, Hadamard) else (b,))
                acc = _ShapeOnly(acc.shape)
            end = b_end
        if isinstance(acc, _ShapeOnly):
            acc = self._make(Hadamard, (tuple(factors),), (start, end))
        return acc

    def _binary(self, op: str, a: Expr, b: Expr, span: Span) -> Expr:
        if op == "div":
            return self._div(a, b, span)
        if op == "hadamard":
            return self._hadamard(a, b, span)
        if op == "elemdiv":
            return self._elemdiv(a, b, span)
        return self._kron(a, b, span)

    def _kron(self, a: Expr, b: Expr, span: Span | None) -> Expr:
        """A ⊗ B; of two identities of unknown sizes, kron(I, I) = I (with its numbers: kron(I, 2 I)
        = 2 I), whose one size the rest decides (a product of two unknown sizes could not be split)."""
        ka, ia = self._scaled_identity(a)
        kb, ib = self._scaled_identity(b)
        if ia and ib:
            eye = at(Identity(self.u.fresh()), span)
            k = ka * kb
            return eye if k == 1 else self._make(MatMul, ((Num(k), eye),), span)
        return self._make(Kron, (a, b), span)

    def _scaled_identity(self, e: Expr) -> tuple[Any, bool]:
        """(k, True) for I or k I of a size not known yet."""
        if isinstance(e, MatMul) and len(e.factors) == 2 and isinstance(e.factors[0], Num):
            k, e = e.factors[0].value, e.factors[1]
        else:
            k = 1
        return k, isinstance(e, Identity) and isinstance(self.u.resolve(e.n), DimVar)

    def _div(self, a: Expr, b: Expr, span: Span) -> Expr:
        if isinstance(b, Num):
            if b.value == 0:
                raise ParseError("division by zero", b.span)
            return self._product([Num(1 / b.value), a], span)
        if not self._scalar(b):
            raise ShapeError(
                f"division: the divisor is a {described(self._shape(b))}, not a scalar; "
                "write ./ for elementwise division, or multiply by inv(…)", b.span,
            )
        if isinstance(b, MatMul) and isinstance(b.factors[0], Num) and b.factors[0].value != 0:
            # X / (2 s) is (1/2) s⁻¹ X, the tree matcalc prints as X / (2 s)
            rest = b.factors[1:]
            s = rest[0] if len(rest) == 1 else self._make(MatMul, (rest,), b.span)
            return self._product([Num(1 / b.factors[0].value), self._reciprocal(s, b.span), a],
                                 span)
        return self._product([self._reciprocal(b, b.span), a], span)

    def _hadamard(self, a: Expr, b: Expr, span: Span) -> Expr:
        if self._scalar(a) or self._scalar(b):
            return self._product([a, b], span)
        factors = [*(a.factors if isinstance(a, Hadamard) else (a,)), *(b.factors if isinstance(b, Hadamard) else (b,))]
        return self._make(Hadamard, (tuple(factors),), span)

    def _elemdiv(self, a: Expr, b: Expr, span: Span) -> Expr:
        if self._scalar(b):
            return self._div(a, b, span)
        inverse = self._make(Power, (b, Num(Fraction(-1))), b.span)
        if self._scalar(a):
            return self._product([a, inverse], span)
        return self._hadamard(a, inverse, span)


class _ShapeOnly:
    """Stands for a Hadamard product being collected: only its shape is asked."""

    def __init__(self, shape: tuple[Any, Any]):
        self.shape = shape
        self.span = None


class ProductRun:
    """A run of matrix products (``a b c …``) built once, in linear time, into the same
    tree as folding :meth:`NodeMaker._product` pairwise from the left: there, the product
    so far becomes one 1×1 factor when it is 1×1 and has several factors not all 1×1 —
    in (xᵀ y) A, xᵀ y multiplies A (see :func:`matcalc.algebra.flatten_product`)."""

    def __init__(self, builder: ProductBuilder, first: Expr, start: int):
        self.b = builder
        self.start = start
        self.end = first.span[1] if first.span else start
        self.coeff = Fraction(1)
        self.flat: list[Expr] = []
        #: the shape of the product so far (None while every factor has been 1×1)
        self.shape: tuple[Any, Any] | None = None
        self._extend(first, (start, self.end))

    def _scalar_so_far(self) -> bool:
        return self.shape is None or (self.b.u.is_one(self.shape[0]) and self.b.u.is_one(self.shape[1]))

    def times(self, b: Expr, span: Span) -> None:
        if len(self.flat) > 1 and self.shape is not None and self._scalar_so_far() \
                and not all(self.b._scalar(g) for g in self.flat):
            self.flat = [at(MatMul(tuple(self.flat)), (self.start, self.end))]
            self.shape = None
        self._extend(b, span)

    def divided(self, b: Expr, span: Span) -> bool:
        """The run so far divided by a scalar ``b``, when it can be: 1/b joins the run's
        coefficient, or its front as b⁻¹, so that ``xᵀ y / 3`` is the one product
        1/3 · xᵀ · y that the printer writes so (``(xᵀ y) / 3`` keeps xᵀ y as one factor)."""
        if not self.b._scalar(b) or (isinstance(b, Num) and b.value == 0):
            return False  # the error is :meth:`ProductBuilder._div`'s
        if isinstance(b, Num):
            self.coeff /= b.value
        elif isinstance(b, MatMul) and isinstance(b.factors[0], Num) and b.factors[0].value != 0:
            self.coeff /= b.factors[0].value  # xᵀ y / (3 α): 1/3 · α⁻¹ · xᵀ · y
            rest = b.factors[1:]
            s = rest[0] if len(rest) == 1 else self.b._make(MatMul, (rest,), b.span)
            self.flat.insert(0, self.b._reciprocal(s, b.span))
        else:
            self.flat.insert(0, self.b._reciprocal(b, b.span))
        self.end = span[1]
        return True

    def _extend(self, b: Expr, span: Span) -> None:
        coeff, parts = flatten_product([b], self.b._scalar)
        self.coeff *= coeff
        for g in parts:
            if not self.b._scalar(g):
                if self.shape is not None and all(self.b._scalar(f) for f in self.flat):
                    self.shape = None  # the factors so far became scalars (a a: a a scalar): they multiply g
                if self.shape is None:
                    self.shape = g.shape
                else:
                    try:
                        self.b.u.unify(self.shape[1], g.shape[0])
                    except Mismatch:  # the product's own shape rule names the two factors
                        self.b._make(MatMul, (tuple(self.flat + [g]),), span)
                        raise shape_error("matrix product", "the shapes do not agree",
                                          [(None, self.shape), (g.span, g.shape)], span) from None
                    self.shape = (self.shape[0], g.shape[1])
                if self.flat and _ones_column(self.flat[-1]) and isinstance(g, Transpose) and _ones_column(g.arg):
                    # 𝟏 𝟏ᵀ is the matrix of ones, the node matcalc prints so
                    self.flat[-1] = at(Ones((self.flat[-1].shape[0], g.shape[1])), self.flat[-1].span)
                    continue
            self.flat.append(g)
        self.end = span[1]

    def build(self) -> Expr:
        span = (self.start, self.end)
        if not self.flat:
            return at(Num(self.coeff), span)
        flat = ([Num(self.coeff)] if self.coeff != 1 else []) + self.flat
        if len(flat) == 1:
            return flat[0]
        return self.b._make(MatMul, (tuple(flat),), span)


def _ones_column(e: Expr) -> bool:
    return isinstance(e, Ones) and e.shape[1] == 1
