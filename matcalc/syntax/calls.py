"""The tree builder's rules for calls: what a name before ``(…)`` builds — a call of a
row of the function table (the row whose shape rule the argument fits, for names that
several rows share), an abstract function, a product (``x(y' z)`` with x a variable),
``kron(A, B)``, ``vector(c)`` — and the derivatives written ``f′(x)``, ``f″(x)``,
``∇L(y)``, ``∇²L(y)``, ``∂g(y)``; functions written without parentheses (``log det X``,
``log|X|``) come as trees of their own from :mod:`matcalc.syntax.rewrite`."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from lark import Token

from .. import functions as F
from ..errors import ParseError, ShapeError, Span
from ..nodes import Apply, Call, Deriv, Expr, Grad, Hess, Jac, Kron, Num, Ones, Power, Transpose
from ..shapes import DimVar, Inference, Mismatch, Unifier, shape_error
from .names import Meaning
from .products import ProductBuilder
from .source import at, meta_span, token_span
from .words import NODE_CALLS, joined_row


class CallBuilder(ProductBuilder):
    """The rules for calls and derivatives (see :class:`~matcalc.syntax.builder.Builder`)."""

    def args(self, meta: Any, *items: Expr) -> list[Expr]:
        return list(items)

    def call(self, meta: Any, tok: Token, args: list[Expr]) -> Expr:
        """f(…): built as the resolution pass says the name is (see :data:`_CALLS`)."""
        meaning = self.names.meaning_at[tok.start_pos]
        return self._CALLS[meaning.kind](self, meaning, args, meta_span(meta), token_span(tok))

    def _call_product(self, m: Meaning, args: list[Expr], span: Span | None, name_span: Span) -> Expr:
        """x(y' z) with x a declared variable: the product x (yᵀ z)."""
        if len(args) != 1:
            raise ParseError(f"'{m.name}' is a variable, so '{m.name}(…)' is a product and takes one factor", span)
        return self._product([self._var(m.name, name_span), args[0]], span)

    def _call_node(self, m: Meaning, args: list[Expr], span: Span | None, name_span: Span) -> Expr:
        """kron(A, B): a node of its own."""
        if len(args) != 2:
            raise ParseError(f"{m.name} takes two arguments, not {len(args)}", span)
        if NODE_CALLS[m.name] is Kron:
            return self._kron(args[0], args[1], span)
        return self._make(NODE_CALLS[m.name], (args[0], args[1]), span)

    def _call_builtin(self, m: Meaning, args: list[Expr], span: Span | None, name_span: Span) -> Expr:
        assert m.fn is not None
        return self._call(self._overload(m.fn, args), args, span)

    def _call_abstract(self, m: Meaning, args: list[Expr], span: Span | None, name_span: Span) -> Expr:
        """L(W x + b): an abstract function, scalar-valued unless declared otherwise."""
        decl = self.names.kind_of(m.name)
        out = self.scope.out(m.name, decl) if decl.kind == "vector" else None
        if decl.kind == "elementwise" and len(args) != 1:
            raise ParseError(f"{m.name} is elementwise and takes one argument, not {len(args)}", span)
        if decl.kind == "vector":
            for a in args:
                try:
                    self.u.unify(a.shape[1], 1)
                except Mismatch:
                    raise shape_error(f"{m.name}(…)", f"{m.name} is a vector function of a vector",
                                      [(a.span, a.shape)], span) from None
        return self._make(Apply, (m.name, decl.kind, tuple(args), out), span)

    def _call_filled(self, m: Meaning, args: list[Expr], span: Span | None, name_span: Span) -> Expr:
        """vector(c) and matrix(c), as MatrixCalculus.org writes them: c 𝟏 and c 𝟏𝟏ᵀ, of the
        size the expression needs (c a scalar: a number or a scalar expression)."""
        if len(args) != 1:
            raise ParseError(f"{m.name}(c) takes one scalar c, not {len(args)} arguments", span)
        c = args[0]
        try:
            self.u.unify(c.shape[0], 1)
            self.u.unify(c.shape[1], 1)
        except Mismatch:
            raise shape_error(f"{m.name}(…)", f"{m.name}(c) fills a {m.name} with the scalar c",
                              [(c.span, c.shape)], span) from None
        cols = 1 if m.name == "vector" else self.u.fresh()
        ones = at(Ones((self.u.fresh(), cols)), span)
        if isinstance(c, Num) and c.value == 1:
            return ones
        return self._product([c, ones], span)

    _CALLS = {"product": _call_product, "node": _call_node, "builtin": _call_builtin, "abstract": _call_abstract,
              "filled": _call_filled}

    def _call(self, fn: F.Function, args: list[Expr], span: Span | None) -> Expr:
        if len(args) != 1:
            raise ParseError(f"{fn.name} takes one argument, not {len(args)}", span)
        if self._scalar(args[0]) and F.inverse_arg(fn(args[0])) is not None:  # the inverse of a scalar: s⁻¹
            return self._make(Power, (args[0], Num(Fraction(-1))), span)
        return self._make(Call, (fn, tuple(args)), span)

    def _overload(self, fn: F.Function, args: list[Expr]) -> F.Function:
        """Rows that share a name (diag of a vector, diag of a matrix): the one whose shape
        rule the argument fits while fixing the fewest sizes, a size fixed to 1 counting
        double (ties go to the later row)."""
        rows = F.rows_named(fn.name)
        if len(rows) == 1 or len(args) != 1:
            return fn
        shape = self._shape(args[0])
        costs = []
        for i, row in enumerate(rows):
            fit = _CountingUnifier(self.u)
            try:
                row.shape([shape], fit)
            except (Mismatch, ShapeError):
                continue
            costs.append((fit.cost, -i, row))
        return min(costs, key=lambda c: c[:2])[2] if costs else fn

    def joined_call(self, meta: Any, f: Token, g: Token, arg: Expr) -> Expr:
        """log det X, log det(X): the row of the joined name (logdet)."""
        row = joined_row(self.names.meaning_at[f.start_pos].fn, F.lookup(str(g)))  # type: ignore[arg-type]
        assert row is not None  # the rewrite writes joined_call only where the joined row exists
        return self._call(row, [arg], meta_span(meta))

    def bars_call(self, meta: Any, f: Token, arg: Expr) -> Expr:
        """log|X|: f of the bars; log of det X is logdet X."""
        fn = self.names.meaning_at[f.start_pos].fn
        assert fn is not None
        if isinstance(arg, Call):
            row = joined_row(fn, arg.fn)
            if row is not None:
                return self._call(row, list(arg.args), meta_span(meta))
        return self._call(fn, [arg], meta_span(meta))

    def derivative(self, meta: Any, tok: Token, args: list[Expr]) -> Expr:
        """f′(x): the derivative of an elementwise function (a row of the table, or declared);
        x′(y) for a variable x is the product xᵀ y."""
        meaning = self.names.meaning_at[tok.start_pos]
        name_span = (tok.start_pos, tok.end_pos - 1)
        if len(args) != 1:
            raise ParseError(f"{meaning.name}′ takes one argument, not {len(args)}", meta_span(meta))
        return self._PRIMED[meaning.kind](self, meaning, args[0], meta_span(meta), name_span)

    def _primed_derivative(self, m: Meaning, arg: Expr, span: Span | None, name_span: Span) -> Expr:
        """σ′(x): the table's derivative of an elementwise function."""
        prime = F.derivative(m.fn, arg)  # type: ignore[arg-type]
        if prime is None:
            raise ParseError(f"{m.name}′ is not defined: only elementwise functions have a derivative "
                             "written f′(x)", span)
        return at(prime, span)

    def _primed_abstract(self, m: Meaning, arg: Expr, span: Span | None, name_span: Span) -> Expr:
        """f′(x) for a declared elementwise f."""
        return self._make(Deriv, (m.name, (arg,)), span)

    def _primed_product(self, m: Meaning, arg: Expr, span: Span | None, name_span: Span) -> Expr:
        """x′(A y) for a variable x: the product xᵀ (A y)."""
        var = self._var(m.name, name_span)
        tr = self._make(Transpose, (var,), (name_span[0], name_span[1] + 1))
        return self._product([tr, arg], span)

    _PRIMED = {"derivative": _primed_derivative, "abstract_derivative": _primed_abstract,
               "transposed_product": _primed_product}

    def second_derivative(self, meta: Any, tok: Token, args: list[Expr]) -> Expr:
        """f″(x), σ″(x): the second derivative of an elementwise function."""
        m = self.names.meaning_at[tok.start_pos]
        span = meta_span(meta)
        if len(args) != 1:
            raise ParseError(f"{m.name}″ takes one argument, not {len(args)}", span)
        if m.kind == "abstract_derivative":
            return self._make(Deriv, (m.name, (args[0],), 2), span)
        first = F.derivative(m.fn, args[0])  # type: ignore[arg-type]
        second = F.derivative(first.fn, args[0]) if isinstance(first, Call) else None  # type: ignore[attr-defined]
        if second is None:
            raise ParseError(f"{m.name}″ is not defined: only elementwise functions have a second derivative", span)
        return at(second, span)

    def hess(self, meta: Any, tok: Token, args: list[Expr]) -> Expr:
        """∇²L(y): the Hessian of a scalar abstract function at a vector y."""
        return self._of_scalar_function(Hess, "∇²", "the Hessian", meta, tok, args)

    def grad(self, meta: Any, tok: Token, args: list[Expr]) -> Expr:
        """∇L(y): the gradient of a scalar abstract function at y."""
        return self._of_scalar_function(Grad, "∇", "the gradient", meta, tok, args)

    def _of_scalar_function(self, node: type, mark: str, what: str, meta: Any, tok: Token, args: list[Expr]) -> Expr:
        """∇L(y) or ∇²L(y): a derivative of a scalar abstract function of one argument."""
        name, span = str(tok), meta_span(meta)
        decl = self.names.kind_of(name)
        if decl.kind != "scalar":
            raise ParseError(f"{mark}{name} is {what} of a scalar function, but {name} is declared {decl.kind}", span)
        if len(args) != 1:
            raise ParseError(f"{mark}{name}(…) takes one argument", span)
        return self._make(node, (name, tuple(args)), span)

    def jac(self, meta: Any, tok: Token, args: list[Expr]) -> Expr:
        """∂g(y): the Jacobian of a vector abstract function at a vector y."""
        name, span = str(tok), meta_span(meta)
        decl = self.names.kind_of(name)
        if decl.kind != "vector" or len(args) != 1:
            raise ParseError(f"∂{name}(y) is the Jacobian of a vector function of one vector; declare {name}: vector function", span)
        return self._make(Jac, (name, tuple(args), self.scope.out(name, decl)), span)


class _CountingUnifier(Unifier):
    """A trial unifier over a parse's inference that binds nothing for good: it counts
    the sizes a shape rule would fix (a size fixed to 1 counts double)."""

    def __init__(self, u: Inference):
        self.u = u
        self.bound: dict[DimVar, Any] = {}
        self.cost = 0

    def resolve(self, d: Any) -> Any:
        d = self.u.resolve(d)
        while isinstance(d, DimVar) and d in self.bound:
            d = self.u.resolve(self.bound[d])
        return d

    def unify(self, a: Any, b: Any) -> None:
        a, b = self.resolve(a), self.resolve(b)
        if a == b:
            return
        if not isinstance(a, DimVar):
            a, b = b, a
        if not isinstance(a, DimVar):
            raise Mismatch(a, b)
        self.bound[a] = b
        self.cost += 2 if b == 1 else 1

    def mul(self, a: Any, b: Any) -> Any:
        raise Mismatch(a, b)  # no table row that shares a name multiplies sizes

