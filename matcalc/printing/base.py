"""What the text and LaTeX printers share: the structure of printed mathematics.

A :class:`Printer` walks the tree once, with a memo keyed by node identity, so that a
DAG prints in time linear in its number of distinct nodes.  Dispatch is on the node
class: ``_print_MatMul`` etc.; each method returns the text and its precedence (how
tightly it binds), and a node class without a method is a :class:`TypeError` naming it.

The structure lives here: signs in sums, coefficients and ``s⁻¹ X`` as a division in
products, ``./`` in Hadamard products, which operands and bases need parentheses,
transposes, powers, calls (postfix, between bars, or by name, as the function's row
says) and abstract functions.  A printer supplies its :class:`Marks` (the tokens it
writes) and a few small hooks: parentheses, names, numbers, superscripts.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from .. import functions as F
from ..nodes import Call, Expr, Hadamard, Kron, MatMul, MatPow, Num, Ones, Power, Transpose, Var, unknown_postorder
from ..shapes import Dim

# precedences, loosest first
SUM, NEG, PRODUCT, POSTFIX, ATOM = 10, 15, 20, 40, 50

#: printed text and its precedence
Printed = tuple[str, int]


@dataclass(frozen=True)
class Marks:
    """The tokens in which the printers differ; the structure around them is shared."""

    minus: str
    hadamard: str  #: between the operands of ⊙
    divide: str  #: between the operands of an elementwise division
    kron: str  #: between the operands of ⊗
    transpose: str  #: after a transposed base: Xᵀ
    inverse_transpose: str  #: after the base of an inverse transposed: X⁻ᵀ
    differential: str  #: before a differential's argument: dX
    grad: str  #: before an abstract function's name: ∇f(x)
    prime: str  #: after an abstract function's name: f′(x)
    jac: str  #: before an abstract function's name: ∂f(x)
    ones_gap: str = " "  #: between 𝟏 and 𝟏ᵀ in the matrix of ones
    hess: str = "∇²"  #: before an abstract function's name: ∇²L(y), its Hessian


class Printer:
    """The shared printer.  Subclasses set :attr:`marks` and supply the hooks below that
    raise :class:`NotImplementedError`, and the leaves that differ between notations
    (``_print_Identity``, ``_print_Zeros``, ``_print_Size``)."""

    marks: Marks

    def __init__(self) -> None:
        self._memo: dict[int, Printed] = {}
        self._bars_below: dict[int, bool] = {}  # id → the subtree holds a bar-printed call
        self._keep: list[Expr] = []  # ids stay valid while the memos live

    def doprint(self, e: Expr) -> str:
        """``e`` printed.  Its nodes are printed children first, so that printing a node
        only looks its children up in the memo: the recursion is never deeper than a few
        calls, however deep the tree."""
        for n, _ in unknown_postorder(e, lambda m: id(m) in self._memo):
            self._print(n)
        return self._print(e)[0]

    # -- dispatch ------------------------------------------------------------------------
    def _print(self, e: Expr) -> Printed:
        key = id(e)
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        name = type(e).__name__
        method = getattr(self, f"_print_{name}", None)
        if method is None:
            raise TypeError(f"{type(self).__name__} cannot print a {name} node: "
                            f"it has no method _print_{name}")
        out: Printed = method(e)
        self._memo[key] = out
        self._keep.append(e)
        return out

    def _wrap(self, e: Expr, level: int) -> str:
        """``e`` printed, in parentheses if it binds looser than ``level``."""
        text, prec = self._print(e)
        return self._paren(text) if prec < level else text

    # -- hooks -----------------------------------------------------------------------------
    def _paren(self, text: str) -> str:
        raise NotImplementedError

    def _name(self, name: str) -> str:
        """A variable's or an abstract function's name."""
        raise NotImplementedError

    def _dim(self, d: Dim) -> str:
        """A size, as in K_{m,n}."""
        raise NotImplementedError

    def _fraction(self, numerator: str, denominator: str) -> Printed:
        """A positive number that is not whole."""
        raise NotImplementedError

    def _scaled_by_fraction(self, c: Fraction, body: str) -> str:
        """``body`` times a positive number ``c`` that is not whole."""
        raise NotImplementedError

    def _divided(self, rest: str, s: Expr, q: int = 1, p: int = 1) -> str:
        """``p rest`` divided by the scalar ``s`` (times the whole number ``q``)."""
        raise NotImplementedError

    def _superscript(self, base: str, k: str) -> str:
        """``base`` to a whole power ``k`` (digits, perhaps a sign)."""
        raise NotImplementedError

    def _scalar_power(self, base: str, p: Expr) -> str:
        """A scalar ``base`` to a power ``p`` that is not a whole number."""
        raise NotImplementedError

    def _elementwise_power(self, base: str, p: Expr) -> str:
        raise NotImplementedError

    def _ones(self, e: Ones, d: Dim) -> str:
        """The vector of ones of length ``d`` that is a column or a row of ``e``."""
        raise NotImplementedError

    def _unvec(self, e: Expr) -> str:
        """The head of ``unvec``."""
        raise NotImplementedError

    def _function(self, fn: F.Function) -> str:
        """A built-in function's name, as printed before its arguments."""
        raise NotImplementedError

    def _postfix(self, marks: tuple[str, str, str]) -> str:
        """The mark of a postfix function (its row's ``postfix``: Unicode, ASCII, LaTeX)."""
        raise NotImplementedError

    def _between_bars(self, arg: Expr, subscript: tuple[str, str]) -> str | None:
        """A norm between bars (its row's ``bars``: Unicode and LaTeX subscripts), or
        None where this printer prints it by name."""
        raise NotImplementedError

    def _holds_bars(self, e: Expr) -> bool:
        """Whether ``e`` or a node below it is a call printed between bars; computed once
        per node, so that a printer that asks at every call stays linear."""
        hit = self._bars_below.get(id(e))
        if hit is not None:
            return hit
        for n, kids in unknown_postorder(e, lambda m: id(m) in self._bars_below):
            self._bars_below[id(n)] = ((isinstance(n, Call) and getattr(n.fn, "bars", None) is not None)
                                       or any(self._bars_below[id(k)] for k in kids))
            self._keep.append(n)
        return self._bars_below[id(e)]

    # -- leaves ----------------------------------------------------------------------------
    def _print_Var(self, e: Var) -> Printed:
        return self._name(e.name), ATOM

    def _print_Num(self, e: Num) -> Printed:
        v = e.value
        if v < 0:
            return f"{self.marks.minus}{self._print(Num(-v))[0]}", NEG
        if v.denominator == 1:
            return digits(v.numerator), ATOM
        return self._fraction(digits(v.numerator), digits(v.denominator))

    def _print_Ones(self, e: Ones) -> Printed:
        r, c = e.shape
        if c == 1:
            return self._ones(e, r), ATOM
        row = f"{self._ones(e, c)}{self.marks.transpose}"
        if r == 1:
            return row, POSTFIX
        return f"{self._ones(e, r)}{self.marks.ones_gap}{row}", PRODUCT

    def _print_Commutation(self, e: Expr) -> Printed:
        return f"K_{{{self._dim(e.m)},{self._dim(e.n)}}}", ATOM  # type: ignore[attr-defined]

    # -- sums and products -------------------------------------------------------------------
    def _print_Add(self, e: Expr) -> Printed:
        parts: list[str] = []
        minus = self.marks.minus
        terms = e.terms  # type: ignore[attr-defined]
        if not e.is_scalar and not all(_broadcast(t, e.shape) is not None for t in terms):
            # s 𝟏 added to an array is written s, as notes write 1 + X.^2 (it re-parses as s 𝟏)
            terms = [b if (b := _broadcast(t, e.shape)) is not None else t for t in terms]
        for i, t in enumerate(terms):
            negative, body = self._split_sign(t)
            if i == 0:
                parts.append(f"{minus}{body}" if negative else body)
            else:
                parts.append(f" {minus if negative else '+'} {body}")
        return "".join(parts), SUM

    def _split_sign(self, t: Expr) -> tuple[bool, str]:
        """A term with a negative coefficient prints as ``− body``."""
        if isinstance(t, Num) and t.value < 0:
            return True, self._print(Num(-t.value))[0]
        negative = isinstance(t, MatMul) and isinstance(t.factors[0], Num) and t.factors[0].value < 0
        if negative:
            text, prec = self._product(-t.factors[0].value, t.factors[1:])  # type: ignore[attr-defined]
        else:
            text, prec = self._print(t)
        return negative, text if prec > SUM else self._paren(text)

    def _print_MatMul(self, e: MatMul) -> Printed:
        factors = e.factors
        if isinstance(factors[0], Num):
            c = factors[0].value
            if c < 0:
                text, prec = self._product(-c, factors[1:])
                return f"{self.marks.minus}{text if prec >= PRODUCT else self._paren(text)}", NEG
            return self._product(c, factors[1:])
        return self._product(Fraction(1), factors)

    def _product(self, c: Fraction, factors: tuple[Expr, ...]) -> Printed:
        """``c`` times the matrix product of ``factors`` (c > 0)."""
        first = factors[0]
        if len(factors) > 1 and isinstance(first, Power) and first.base.is_scalar and _negative_whole(first.exponent):
            # c s⁻¹ X as X / s, (p/q) s⁻¹ X as p X / (q s), and s⁻ᵏ X as X / sᵏ
            k = -first.exponent.value  # type: ignore[attr-defined]
            below = first.base if k == 1 else Power(first.base, Num(k))
            rest, _ = self._product(Fraction(1), factors[1:])
            return self._divided(rest, below, c.denominator, c.numerator), PRODUCT
        # a factor binds at least as tightly as a product; products of other kinds
        # (⊙, ⊗, ./) and signed or fractional numbers get parentheses, and a nested
        # product is a 1×1 unit, as in (xᵀ x) A
        if c != 1 and c.denominator == 1 and len(factors) == 1 and isinstance(first, Hadamard):
            return f"{digits(c.numerator)} {self._print(first)[0]}", PRODUCT  # 2 X ./ Y is 2 (X ./ Y)
        body = self._juxtaposed(factors)
        if c == 1:
            return body, PRODUCT
        if c.denominator == 1:
            return f"{digits(c.numerator)} {body}", PRODUCT
        return self._scaled_by_fraction(c, body), PRODUCT

    def _juxtaposed(self, factors: tuple[Expr, ...]) -> str:
        """The factors of a product, side by side (each bound at least as tightly as a product)."""
        return " ".join(self._wrap(f, PRODUCT + 1) for f in factors)

    def _operand(self, f: Expr) -> str:
        """An operand of ⊙, ⊗ or ./: parenthesised unless it is a postfix or an atom."""
        return self._wrap(f, POSTFIX)

    def _print_Hadamard(self, e: Hadamard) -> Printed:
        out: list[str] = []
        for i, f in enumerate(e.factors):
            if i > 0 and isinstance(f, Power) and _is_num(f.exponent, -1) and not f.base.is_scalar:
                out.append(f"{self.marks.divide}{self._operand(f.base)}")
            else:
                out.append(self.marks.hadamard if i > 0 else "")
                out.append(self._operand(f))
        return "".join(out), PRODUCT

    def _print_Kron(self, e: Kron) -> Printed:
        return f"{self._operand(e.left)}{self.marks.kron}{self._operand(e.right)}", PRODUCT

    # -- postfix --------------------------------------------------------------------------
    def _base(self, e: Expr) -> str:
        """The base of a postfix operator: an atom, or parenthesised."""
        text, prec = self._print(e)
        # postfix on postfix would run superscripts together (Xᵀ² or X⁻¹ᵀ): parenthesise
        if prec < POSTFIX or isinstance(e, (Power, MatPow, Transpose)) or _is_postfix(e):
            return self._paren(text)
        return text

    def _print_Transpose(self, e: Transpose) -> Printed:
        inverted = F.inverse_arg(e.arg)
        if inverted is not None:
            return f"{self._base(inverted)}{self.marks.inverse_transpose}", POSTFIX
        return f"{self._base(e.arg)}{self.marks.transpose}", POSTFIX

    def _print_Power(self, e: Power) -> Printed:
        base = self._base(e.base)
        p = e.exponent
        if not e.base.is_scalar:
            return self._elementwise_power(base, p), POSTFIX
        if isinstance(p, Num) and p.value.denominator == 1:
            return self._superscript(base, digits(p.value.numerator)), POSTFIX
        return self._scalar_power(base, p), POSTFIX

    def _print_MatPow(self, e: Expr) -> Printed:
        return self._superscript(self._base(e.base), str(e.k)), POSTFIX  # type: ignore[attr-defined]

    # -- calls -------------------------------------------------------------------------------
    def _print_Call(self, e: Call) -> Printed:
        """As the function's row says: a postfix (X⁻¹), between bars (‖x‖), or by name."""
        fn = e.fn
        postfix = getattr(fn, "postfix", None)
        if postfix is not None:
            return f"{self._base(e.args[0])}{self._postfix(postfix)}", POSTFIX
        bars = getattr(fn, "bars", None)
        if bars is not None:
            text = self._between_bars(e.args[0], bars)
            if text is not None:
                return text, ATOM
        if self._braced(fn):
            return f"{self._function(fn)}{{{self.doprint(e.args[0])}}}", ATOM
        return f"{self._function(fn)}{self._arguments(e.args)}", ATOM

    def _braced(self, fn: object) -> bool:
        """Whether the function takes its argument in braces (LaTeX's \\sqrt{x})."""
        return False

    def _arguments(self, args: tuple[Expr, ...]) -> str:
        return self._paren(", ".join(self.doprint(a) for a in args))

    def _print_Apply(self, e: Expr) -> Printed:
        return f"{self._name(e.name)}{self._arguments(e.args)}", ATOM  # type: ignore[attr-defined]

    def _print_Grad(self, e: Expr) -> Printed:
        return f"{self.marks.grad}{self._name(e.name)}{self._arguments(e.args)}", ATOM  # type: ignore[attr-defined]

    def _print_Deriv(self, e: Expr) -> Printed:
        primes = self.marks.prime * e.order  # type: ignore[attr-defined]
        return f"{self._name(e.name)}{primes}{self._arguments(e.args)}", ATOM  # type: ignore[attr-defined]

    def _print_Hess(self, e: Expr) -> Printed:
        return f"{self.marks.hess}{self._name(e.name)}{self._arguments(e.args)}", ATOM  # type: ignore[attr-defined]

    def _print_Jac(self, e: Expr) -> Printed:
        return f"{self.marks.jac}{self._name(e.name)}{self._arguments(e.args)}", ATOM  # type: ignore[attr-defined]

    def _print_Unvec(self, e: Expr) -> Printed:
        return f"{self._unvec(e)}{self._arguments((e.arg,))}", ATOM  # type: ignore[attr-defined]

    def _print_Diff(self, e: Expr) -> Printed:
        a = e.arg  # type: ignore[attr-defined]
        d = self.marks.differential
        if isinstance(a, Var):
            return f"{d}{self._name(a.name)}", ATOM
        return f"{d}{self._arguments((a,))}", ATOM



def digits(n: int) -> str:
    """All the digits, also past Python's limit on int → str (4,300 digits), which a
    product of numbers within the input bounds can pass (1e300 ⋯ 1e300)."""
    try:
        return str(n)
    except ValueError:
        return str(Decimal(n))


def _broadcast(t: Expr, shape: tuple) -> Expr | None:
    """The scalar s of a term s 𝟏 (𝟏 of ``shape``: a scalar added to every entry), else None."""
    if isinstance(t, Ones) and t.shape == shape:
        return Num(Fraction(1))
    if isinstance(t, MatMul) and isinstance(t.factors[-1], Ones) and t.factors[-1].shape == shape \
            and all(f.is_scalar for f in t.factors[:-1]):
        rest = t.factors[:-1]
        return rest[0] if len(rest) == 1 else MatMul(rest)
    return None


def _negative_whole(e: Expr) -> bool:
    return isinstance(e, Num) and e.value < 0 and e.value.denominator == 1


def _is_num(e: Expr, value: int) -> bool:
    return isinstance(e, Num) and e.value == value


def _is_postfix(e: Expr) -> bool:
    return isinstance(e, Call) and getattr(e.fn, "postfix", None) is not None
