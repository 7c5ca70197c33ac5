"""Text → syntax tree.  All notation sugar is removed here and nowhere else.

Parsing is two passes over the Lark parse tree's transformation:

1. :class:`Builder` maps each grammar alias to a node, inside ``inferring(u)``: node
   constructors then *unify* the unknown dimensions of undeclared names (``tr(A X B)``
   with only X declared infers A and B).
2. :func:`_ground` rebuilds the tree with every dimension resolved; unknown sizes that
   are left get fresh textbook names (m, n, p, …) not used elsewhere.

Names: a declared variable is that variable; ``I`` is the identity, ``𝟏`` / ``ones`` /
``1ᵀ`` the vector of ones, ``zeros`` a zero matrix (sizes inferred); a built-in function
name followed by parentheses is a call.  **An unknown name followed by parentheses is an
abstract function** (``L(W x + b)``), scalar-valued unless declared otherwise; **a
declared variable followed by parentheses is a product** (with ``x: n``, ``x(y' z)`` is
x times yᵀz).  ``f'(y)`` is the derivative of an elementwise function f, and ``x'(A y)``
the product xᵀ(A y) when x is a variable.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from . import functions as F
from .algebra import flatten_product
from .declare import (
    FUNCTION_LETTERS,
    NAME_PATTERN,
    Declarations,
    FuncDecl,
    VarDecl,
    base_name,
    closest,
    default_kind,
    may_be_abstract,
    parse_where,
)
from .errors import MatcalcError, ParseError, ShapeError, Span, TimeLimitError
from .limits import MAX_DECIMAL_EXPONENT, MAX_DIGITS, MAX_INPUT_CHARS, MAX_MATRIX_POWER, MAX_NESTING, MAX_SIZE
from .nodes import (
    Add,
    Apply,
    Call,
    Commutation,
    Deriv,
    Diff,
    Expr,
    Grad,
    Hadamard,
    Identity,
    Jac,
    Kron,
    MatMul,
    MatPow,
    Num,
    Ones,
    Power,
    Transpose,
    Unvec,
    Var,
    Zeros,
    map_bottom_up,
)
from .shapes import (
    DimProd,
    DimVar,
    Inference,
    Mismatch,
    describe_shape,
    dim_mul,
    inferring,
    shape_error,
    shape_str,
)

FRESH_NAMES = ("m", "n", "p", "q", "r", "s", "t", "k", "l", "u", "v", "w")


def grammar_text() -> str:
    """The grammar: inside the installed package, or at the top of a source checkout."""
    try:
        return resources.files("matcalc.grammar").joinpath("matcalc.lark").read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        return (Path(__file__).resolve().parent.parent / "grammar" / "matcalc.lark").read_text(encoding="utf-8")


@functools.lru_cache(maxsize=1)
def _parser() -> Lark:
    grammar = grammar_text()
    return Lark(
        grammar, parser="lalr", propagate_positions=True, maybe_placeholders=False,
        postlex=_PairBars(),
    )


class _PairBars:
    """Post-lexer: in ``‖x‖`` the first bar opens a norm and the next one closes it."""

    always_accept = ("BAR",)

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        open_ = False
        for tok in stream:
            if tok.type == "BAR":
                tok = Token.new_borrow_pos("CLOSE_BAR" if open_ else "OPEN_BAR", tok.value, tok)
                open_ = not open_
            yield tok


def _span(meta: Any) -> Span | None:
    if getattr(meta, "empty", True):
        return None
    return (meta.start_pos, meta.end_pos)


def _tok_span(tok: Token) -> Span:
    return (tok.start_pos, tok.end_pos)


def _at(node: Expr, span: Span | None) -> Expr:
    """Attach a position in the input to a node (positions are not part of equality)."""
    if span is not None and node.span is None:
        object.__setattr__(node, "span", span)
    return node


_SUPER_DIGITS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")
_FROM_SUBSCRIPT = str.maketrans("ₐₑₒₓₕₖₗₘₙₚₛₜ₀₁₂₃₄₅₆₇₈₉", "aeoxhklmnpst0123456789")


@v_args(meta=True, inline=True)
class Builder(Transformer):
    """Maps each grammar alias to a node.  One instance per parse."""

    def __init__(self, decls: Declarations, u: Inference, promoted: frozenset[str] = frozenset()):
        super().__init__()
        self.decls = decls
        self.u = u
        #: undeclared names read as vectors although their default kind is scalar
        self.promoted = promoted
        #: undeclared names: their default kind and the shape they were given
        self.defaults: dict[str, tuple[str, tuple[Any, Any]]] = {}
        #: readings of ambiguous notation that the output must mention, in words
        self.readings: list[str] = []
        self.var_shapes: dict[str, tuple[Any, Any]] = {}
        self.fn_kinds: dict[str, FuncDecl] = {}
        self.fn_out: dict[str, Any] = {}
        self.used_as: dict[str, str] = {}  # name -> "variable" | "function"
        self.literal_ones: set[int] = set()  # the Nums written as the literal 1 (for 1ᵀ)

    # -- helpers -----------------------------------------------------------------------
    def _scalar(self, e: Expr) -> bool:
        return self.u.is_one(e.shape[0]) and self.u.is_one(e.shape[1])

    def _use(self, name: str, how: str, span: Span | None) -> None:
        before = self.used_as.setdefault(name, how)
        if before != how:
            raise ParseError(f"'{name}' is used both as a {before} and as a {how}", span)

    def _var(self, name: str, span: Span | None) -> Expr:
        self._use(name, "variable", span)
        if name not in self.var_shapes:
            decl = self.decls.variables.get(name)
            self.var_shapes[name] = self._declared_shape(decl) if decl else self._default_shape(name)
        rows, cols = self.var_shapes[name]
        decl = self.decls.variables.get(name)
        return _at(Var(name, (rows, cols), bool(decl and decl.symmetric)), span)

    def _declared_shape(self, decl: VarDecl) -> tuple[Any, Any]:
        rows = self.u.fresh() if decl.rows is None else decl.rows
        cols = rows if decl.square and decl.cols is None else self.u.fresh() if decl.cols is None else decl.cols
        return (rows, cols)

    def _default_shape(self, name: str) -> tuple[Any, Any]:
        kind = "vector" if name in self.promoted else default_kind(name)
        if kind == "scalar":
            shape: tuple[Any, Any] = (1, 1)
        elif kind == "vector":
            shape = (self.u.fresh(), 1)
        else:
            shape = (self.u.fresh(), self.u.fresh())
        self.defaults[name] = (kind, shape)
        return shape

    def collapsed(self) -> list[str]:
        """Undeclared names whose default kind (vector, matrix) was bent by another name's
        default: a size that would be free became 1 (``x - μ`` with μ a scalar)."""
        return [name for name, (kind, shape) in self.defaults.items()
                if kind != "scalar" and name not in self.promoted
                and any(isinstance(d, DimVar) and self.u.resolve(d) == 1 for d in shape)]

    def _product(self, factors: list[Expr], span: Span | None) -> Expr:
        """A product: nested products flattened, numbers folded into one leading number."""
        coeff, flat = flatten_product(factors, self._scalar)
        if not flat:
            return _at(Num(coeff), span)
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

    def _make(self, cls: type, args: tuple, span: Span | None) -> Expr:
        try:
            return _at(cls(*args), span)
        except ShapeError as err:
            if err.span is None:
                err.span = span
            raise

    def _call(self, fn: F.Function, args: list[Expr], span: Span | None) -> Expr:
        if len(args) != 1:
            raise ParseError(f"{fn.name} takes one argument, not {len(args)}", span)
        return self._make(Call, (fn, tuple(args)), span)

    # -- leaves ------------------------------------------------------------------------
    def number(self, meta: Any, tok: Token) -> Expr:
        out = _at(Num(_number_value(tok)), _tok_span(tok))
        if str(tok) == "1":
            self.literal_ones.add(id(out))
        return out

    def name(self, meta: Any, tok: Token) -> Expr:
        name, span = str(tok), _tok_span(tok)
        if name in self.decls.variables:
            return self._var(name, span)
        if name in self.decls.functions:
            raise ParseError(f"'{name}' is declared as a function: write {name}(…)", span)
        if name[0] == "d" and name[1:] in self.decls.variables:  # dX: the differential of X
            return _at(Diff(self._var(name[1:], span)), span)
        if name == "I":
            n = self.u.fresh()
            return _at(Identity(n), span)
        sized = re.fullmatch(r"(I|ones)_\{?([A-Za-z0-9·*]+)\}?", name)
        if sized:  # I_n, I_3, ones_n: the identity or the ones vector of a given size
            size = _parse_dim(sized.group(2), span)
            return _at(Identity(size) if sized.group(1) == "I" else Ones((size, 1)), span)
        if name == "ones":
            return self.ones(meta, tok)
        if name == "zeros":
            return _at(Zeros((self.u.fresh(), self.u.fresh())), span)
        if name in ("kron", "grad", "jac") or (F.lookup(name) and name != "σ"):
            raise ParseError(f"'{name}' is a function: write {name}(…)", span)
        return self._var(name, span)

    def ones(self, meta: Any, tok: Token) -> Expr:
        text = str(tok)
        if "_" in text:
            return _at(Ones((_parse_dim(text.split("_", 1)[1].strip("{}"), _tok_span(tok)), 1)), _tok_span(tok))
        if len(text) > 1 and text[1:].translate(_FROM_SUBSCRIPT) != text[1:]:  # 𝟏ₙ
            size = _parse_dim(text[1:].translate(_FROM_SUBSCRIPT), _tok_span(tok))
            return _at(Ones((size, 1)), _tok_span(tok))
        return _at(Ones((self.u.fresh(), 1)), _tok_span(tok))

    def unvec(self, meta: Any, tok: Token, arg: Expr) -> Expr:
        rows, cols = _parse_dims(str(tok)[len("unvec_{"):-1], 2, "unvec_{m,n}", _tok_span(tok))
        return self._make(Unvec, (arg, rows, cols), _span(meta))

    def sized_identity(self, meta: Any, tok: Token) -> Expr:
        text = str(tok)
        size = text[3:-1] if text.startswith("I_{") else text[1:].translate(_FROM_SUBSCRIPT)
        return _at(Identity(_parse_dim(size, _tok_span(tok))), _tok_span(tok))

    def zero_matrix(self, meta: Any, tok: Token) -> Expr:
        text = str(tok)
        if "_" in text:  # 𝟎_{m,n}, zeros_{m,n}
            rows, cols = _parse_dims(text.split("_", 1)[1].strip("{}"), 2, "𝟎_{m,n}", _tok_span(tok))
            return _at(Zeros((rows, cols)), _tok_span(tok))
        return _at(Zeros((self.u.fresh(), self.u.fresh())), _tok_span(tok))

    def commutation(self, meta: Any, tok: Token) -> Expr:
        m, n = _parse_dims(str(tok)[3:-1], 2, "K_{m,n}", _tok_span(tok))
        return _at(Commutation(m, n), _tok_span(tok))

    # -- sums and products -------------------------------------------------------------
    # A run of terms (a + b − c …) or of factors (a b / c ⊙ d …) is one grammar rule, so
    # that long flat sums and products are built in linear time without recursion.
    def sum_step(self, meta: Any, sign: Token, b: Expr) -> tuple[bool, Expr]:
        return (sign.type == "MINUS", b)

    def sum_chain(self, meta: Any, first: Expr, *steps: tuple[bool, Expr]) -> Expr:
        """a + b − c + …: one sum; a sum in parentheses is spliced in."""
        span = _span(meta)
        terms: list[Expr] = []
        for negative, t in ((False, first), *steps):
            t = self._negate(t, t.span) if negative else t
            terms.extend(t.terms if isinstance(t, Add) else (t,))
        shaped = next((t for t in terms if not self._scalar(t)), None)
        if shaped is not None:  # a number added to a matrix means that number times ones: 1 − σ(x)
            terms = [self._broadcast(t, shaped) if isinstance(t, Num) else t for t in terms]
        # unify term by term, so that an error names the sum so far and the next term
        rows, cols = terms[0].shape
        start = terms[0].span[0] if terms[0].span else None
        for i, t in enumerate(terms[1:], 1):
            try:
                self.u.unify(rows, t.shape[0])
                self.u.unify(cols, t.shape[1])
            except Mismatch:
                before = terms[i - 1].span
                left = (start, before[1]) if start is not None and before else None
                raise shape_error("sum", "the shapes do not agree", [(left, (rows, cols)), (t.span, t.shape)],
                                  None) from None
        return self._make(Add, (tuple(terms),), span)

    def pos(self, meta: Any, plus: Token, a: Expr) -> Expr:
        return a

    def _broadcast(self, n: Num, like: Expr) -> Expr:
        ones = Ones(like.shape)
        return ones if n.value == 1 else MatMul((n, ones))

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

    def product_chain(self, meta: Any, first: Expr, *steps: tuple[str, Expr, int]) -> Expr:
        """a b ⊙ c / d …, left to right: ((a b) ⊙ c) / d.  Runs of matrix products are
        collected in one list and built once (see :class:`_ProductRun`)."""
        start = meta.start_pos
        first, steps = self._outer_ones(first, steps)
        chain = _ProductRun(self, first, start)
        i = 0
        while i < len(steps):
            op, b, end = steps[i]
            if op == "mul":
                chain.times(b, (start, end))
                i += 1
                continue
            a = chain.build()
            j = i + 1
            while op == "hadamard" and j < len(steps) and steps[j][0] == "hadamard":
                j += 1
            result = self._hadamard_run(a, steps[i:j], start) if op == "hadamard" else \
                self._binary(op, a, b, (start, end))
            chain = _ProductRun(self, result, start)
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
            if id(factors[k]) in self.literal_ones and ones_row(factors[k + 1]):  # 1 1ᵀ
                factors[k] = _at(Ones((self.u.fresh(), 1)), factors[k].span)
            elif ones_row(factors[k]) and id(factors[k + 1]) in self.literal_ones:  # 1ᵀ 1 = n
                factors[k + 1] = _at(Ones((self.u.fresh(), 1)), factors[k + 1].span)
        return factors[0], tuple((op, b, end) for (op, _, end), b in zip(steps, factors[1:], strict=True))

    def _hadamard_run(self, a: Expr, steps: tuple, start: int) -> Expr:
        """a ⊙ b ⊙ c ⊙ …: one Hadamard product of all the factors, built once (each step
        as :meth:`_hadamard` would, which turns a ⊙ with a 1×1 side into a product)."""
        factors = list(a.factors if isinstance(a, Hadamard) else (a,))
        acc: Any = a  # the product so far; while collecting, only its shape (_Shaped)
        end = a.span[1] if a.span else start
        for _, b, b_end in steps:
            if self._scalar(acc) or self._scalar(b):
                if isinstance(acc, _Shaped):
                    acc = self._make(Hadamard, (tuple(factors),), (start, end))
                acc = self._hadamard(acc, b, (start, b_end))
                factors = list(acc.factors if isinstance(acc, Hadamard) else (acc,))
            else:
                try:
                    self.u.unify(acc.shape[0], b.shape[0])
                    self.u.unify(acc.shape[1], b.shape[1])
                except Mismatch:  # the node's own shape rule names the operands
                    self._make(Hadamard, (tuple([*factors, b]),), (start, b_end))
                    raise
                factors.extend(b.factors if isinstance(b, Hadamard) else (b,))
                acc = _Shaped(acc.shape)
            end = b_end
        if isinstance(acc, _Shaped):
            acc = self._make(Hadamard, (tuple(factors),), (start, end))
        return acc

    def _binary(self, op: str, a: Expr, b: Expr, span: Span) -> Expr:
        if op == "div":
            return self._div(a, b, span)
        if op == "hadamard":
            return self._hadamard(a, b, span)
        if op == "elemdiv":
            return self._elemdiv(a, b, span)
        return self._make(Kron, (a, b), span)

    def _div(self, a: Expr, b: Expr, span: Span) -> Expr:
        if isinstance(b, Num):
            if b.value == 0:
                raise ParseError("division by zero", b.span)
            return self._product([Num(1 / b.value), a], span)
        if not self._scalar(b):
            raise ShapeError(
                f"division: the divisor is a {describe_shape(self._shape(b))}, not a scalar; "
                "write ./ for elementwise division, or multiply by inv(…)", b.span,
            )
        return self._product([self._make(Power, (b, Num(Fraction(-1))), b.span), a], span)

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

    def neg(self, meta: Any, minus: Token, a: Expr) -> Expr:
        return self._negate(a, _span(meta))

    # -- postfix -----------------------------------------------------------------------
    def transpose(self, meta: Any, a: Expr, prime: Token | None = None) -> Expr:
        span = _span(meta)
        if id(a) in self.literal_ones and a.span and meta.start_pos == a.span[0]:
            # 1ᵀ: the vector of ones, transposed — only the literal 1 written right before
            # the transpose, never a computed 1 such as (2 · 0.5)ᵀ or (1)ᵀ
            a = _at(Ones((self.u.fresh(), 1)), a.span)
        return self._make(Transpose, (a,), span)

    def superscript(self, meta: Any, a: Expr, tok: Token) -> Expr:
        text = str(tok)
        span = _span(meta)
        if text == "ᵀ":
            return self.transpose(meta, a)
        if text == "⁻ᵀ":
            return self._make(Transpose, (self._inverse(a, span),), span)
        if "ᵀ" in text or not re.fullmatch(r"⁻?[⁰¹²³⁴⁵⁶⁷⁸⁹]+", text):
            raise ParseError(f"'{text}' is not an exponent: write ᵀ, ⁻¹, ⁻ᵀ or a power like ²", _tok_span(tok))
        return self._power(a, Fraction(int(text.translate(_SUPER_DIGITS))), span)

    def power(self, meta: Any, a: Expr, exponent: Any) -> Expr:
        span = _span(meta)
        if exponent == "T":
            return self.transpose(meta, a)
        if exponent == "-T":
            return self._make(Transpose, (self._inverse(a, span),), span)
        if isinstance(exponent, Num):
            return self._power(a, exponent.value, span)
        if not self._scalar(a):
            raise ParseError("a matrix power must be a whole number; for elementwise powers write X.^p", exponent.span)
        return self._make(Power, (a, exponent), span)

    def elempower(self, meta: Any, a: Expr, exponent: Expr) -> Expr:
        return self._make(Power, (a, exponent), _span(meta))

    def _power(self, a: Expr, p: Fraction, span: Span | None) -> Expr:
        if self._scalar(a) or self._vector(a):
            # a vector has no powers: s^p makes it (and its sizes) a scalar, s^p is then the
            # ordinary power (a closed form whatever p is: d(sᵖ) = p sᵖ⁻¹ ds)
            try:
                self.u.unify(a.shape[0], 1)
                self.u.unify(a.shape[1], 1)
            except Mismatch:
                raise shape_error("matrix power", "only a scalar or a square matrix has powers "
                                  "(for elementwise powers write x.^p)",
                                  [(a.span, a.shape)], span) from None
            return self._make(Power, (a, Num(p)), span)
        if p.denominator != 1:
            raise ParseError(
                f"X^{p} is not a matrix power matcalc knows: matrix powers are whole numbers "
                "(for elementwise powers write X.^p)", span,
            )
        if abs(p) > MAX_MATRIX_POWER:
            raise ParseError(
                f"the matrix power {p} is too large: matcalc differentiates Xᵏ as a sum of k terms "
                f"(d(Xᵏ) = Σⱼ Xʲ dX Xᵏ⁻¹⁻ʲ), for |k| ≤ {MAX_MATRIX_POWER}", span,
            )
        k = int(p)
        if k == 0:  # X⁰ = I, for a square X (which stays in the expression: d(X⁰) = 0)
            return self._make(MatPow, (a, 0), span)
        if k == 1:
            return a
        if k == -1:
            return self._inverse(a, span)
        base = a if abs(k) == 1 else self._make(MatPow, (a, abs(k)), span)
        return self._inverse(base, span) if k < 0 else base

    def _vector(self, a: Expr) -> bool:
        """A row or column vector (the other size unknown or known)."""
        return self.u.is_one(a.shape[0]) or self.u.is_one(a.shape[1])

    def _inverse(self, a: Expr, span: Span | None) -> Expr:
        if self._scalar(a):
            return self._make(Power, (a, Num(Fraction(-1))), span)
        return self._make(Call, (F.INV, (a,)), span)

    def exp_transpose(self, meta: Any, *_: Token) -> str:
        return "T"

    def exp_inverse_transpose(self, meta: Any, *_: Token) -> str:
        return "-T"

    def exp_number(self, meta: Any, tok: Token) -> Expr:
        return _at(Num(_number_value(tok)), _tok_span(tok))

    def exp_negative(self, meta: Any, minus: Token, tok: Token) -> Expr:
        return _at(Num(-_number_value(tok)), (minus.start_pos, tok.end_pos))

    # -- calls ---------------------------------------------------------------------------
    def args(self, meta: Any, *items: Expr) -> list[Expr]:
        return list(items)

    def norm(self, meta: Any, open_: Token, a: Expr, close: Token) -> Expr:
        return self._make(Call, (F.NORM, (a,)), _span(meta))

    def call(self, meta: Any, tok: Token, args: list[Expr]) -> Expr:
        name, span = str(tok), _span(meta)
        if name in self.decls.variables:  # a declared variable followed by (…) is a product
            if len(args) != 1:
                raise ParseError(f"'{name}' is a variable, so '{name}(…)' is a product and takes one factor", span)
            return self._product([self._var(name, _tok_span(tok)), args[0]], span)
        if name not in self.decls.functions:
            if name == "kron":
                if len(args) != 2:
                    raise ParseError(f"kron takes two arguments, not {len(args)}", span)
                return self._make(Kron, (args[0], args[1]), span)
            if name == "diag" and len(args) == 1:
                a = args[0]
                fn = F.DIAG if self.u.is_one(a.shape[1]) and not self._scalar(a) else F.DIAGV
                return self._call(fn, args, span)
            fn = F.lookup(name)
            if fn is not None:
                if fn is F.INV and len(args) == 1:
                    return self._inverse(args[0], span)
                return self._call(fn, args, span)
        return self._apply(name, args, span, _tok_span(tok))

    def _function(self, name: str, span: Span | None) -> FuncDecl:
        if name not in self.decls.functions and not may_be_abstract(name):
            raise unknown_function(name, span)
        self._use(name, "function", span)
        return self.decls.functions.get(name, FuncDecl("scalar"))

    def _out(self, name: str, decl: FuncDecl) -> Any:
        if name not in self.fn_out:
            self.fn_out[name] = decl.out if decl.out is not None else self.u.fresh()
        return self.fn_out[name]

    def _apply(self, name: str, args: list[Expr], span: Span | None, name_span: Span) -> Expr:
        decl = self._function(name, name_span)
        out = self._out(name, decl) if decl.kind == "vector" else None
        if decl.kind == "elementwise" and len(args) != 1:
            raise ParseError(f"{name} is elementwise and takes one argument, not {len(args)}", span)
        if decl.kind == "vector":
            for a in args:
                if not self.u.is_one(a.shape[1]):
                    self.u.unify(a.shape[1], 1)
        return self._make(Apply, (name, decl.kind, tuple(args), out), span)

    def primed_call(self, meta: Any, tok: Token, args: list[Expr]) -> Expr:
        name, span = str(tok)[:-1], _span(meta)
        name_span = (tok.start_pos, tok.end_pos - 1)
        fn = F.lookup(name) if name not in self.decls.variables and name not in self.decls.functions else None
        if len(args) != 1:
            raise ParseError(f"{name}′ takes one argument, not {len(args)}", span)
        if fn is not None and fn.elementwise:
            prime = F.PRIMES[fn.key](args[0]) if fn.key in F.PRIMES else fn.prime(args[0])  # type: ignore[misc]
            return _at(prime, span)
        if fn is not None:
            raise ParseError(f"{name}′ is not defined: only elementwise functions have a derivative written f′(x)", span)
        decl = self.decls.functions.get(name)
        if decl is not None:
            if decl.kind != "elementwise":
                raise ParseError(
                    f"{name} is not elementwise: write ∇{name}(…) or grad {name}(…) for its gradient", span
                )
            self._use(name, "function", name_span)
            return self._make(Deriv, (name, tuple(args)), span)
        # a variable: x'(A y) is xᵀ (A y); but cosh'(x) is a function nobody declared
        if name not in self.decls.variables and not may_be_abstract(name):
            raise unknown_function(name, name_span)
        if name not in self.decls.variables and base_name(name).rstrip("'′") in FUNCTION_LETTERS:
            self.readings.append(f"{name}′(…) is read as the product {name}ᵀ (…), {name} a variable; for the "
                                 f"derivative of a function {name}, declare it: --where \"{name}: elementwise\"")
        var = self._var(name, name_span)
        tr = self._make(Transpose, (var,), (tok.start_pos, tok.end_pos))
        return self._product([tr, args[0]], span)

    def grad_call(self, meta: Any, tok: Token, args: list[Expr]) -> Expr:
        name, span = str(tok), _span(meta)
        decl = self._function(name, _tok_span(tok))
        if decl.kind != "scalar":
            raise ParseError(f"∇{name} is the gradient of a scalar function, but {name} is declared {decl.kind}", span)
        if len(args) != 1:
            raise ParseError(f"∇{name}(…) takes one argument", span)
        return self._make(Grad, (name, tuple(args)), span)

    def jac_call(self, meta: Any, tok: Token, args: list[Expr]) -> Expr:
        name, span = str(tok), _span(meta)
        decl = self._function(name, _tok_span(tok))
        if decl.kind == "scalar" and name not in self.decls.functions:
            decl = FuncDecl("vector")
            self.fn_kinds[name] = decl
        if decl.kind != "vector" or len(args) != 1:
            raise ParseError(f"∂{name}(y) is the Jacobian of a vector function of one vector; declare {name}: vector function", span)
        return self._make(Jac, (name, tuple(args), self._out(name, decl)), span)

    def _shape(self, e: Expr) -> tuple[Any, Any]:
        return (self.u.resolve(e.shape[0]), self.u.resolve(e.shape[1]))


class _Shaped:
    """Stands for a Hadamard product being collected: only its shape is asked."""

    def __init__(self, shape: tuple[Any, Any]):
        self.shape = shape
        self.span = None


class _ProductRun:
    """A run of matrix products (``a b c …``) built once, in linear time, into the same
    tree as folding :meth:`Builder._product` pairwise from the left: there, the product
    so far becomes one 1×1 factor when it is 1×1 and has several factors not all 1×1 —
    in (xᵀ y) A, xᵀ y multiplies A (see :func:`matcalc.algebra.flatten_product`)."""

    def __init__(self, builder: Builder, first: Expr, start: int):
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
            self.flat = [_at(MatMul(tuple(self.flat)), (self.start, self.end))]
            self.shape = None
        self._extend(b, span)

    def _extend(self, b: Expr, span: Span) -> None:
        coeff, parts = flatten_product([b], self.b._scalar)
        self.coeff *= coeff
        for g in parts:
            if not self.b._scalar(g):
                if self.shape is None:
                    self.shape = g.shape
                else:
                    try:
                        self.b.u.unify(self.shape[1], g.shape[0])
                    except Mismatch:  # the product's own shape rule names the two factors
                        self.b._make(MatMul, (tuple(self.flat + [g]),), span)
                        raise
                    self.shape = (self.shape[0], g.shape[1])
            self.flat.append(g)
        self.end = span[1]

    def build(self) -> Expr:
        span = (self.start, self.end)
        if not self.flat:
            return _at(Num(self.coeff), span)
        flat = ([Num(self.coeff)] if self.coeff != 1 else []) + self.flat
        if len(flat) == 1:
            return flat[0]
        return self.b._make(MatMul, (tuple(flat),), span)


def unknown_function(name: str, span: Span | None) -> ParseError:
    """An undeclared name of more than one letter used as a function: a typo or a
    function matcalc lacks, never silently an abstract function."""
    near = closest(name, F.names())
    hint = f" (did you mean {near}?)" if near else ""
    return ParseError(
        f"unknown function '{name}'{hint}. Only single letters (L, f, g, φ, L₁) are abstract functions "
        f"without a declaration; to use '{name}' as one, declare it: --where \"{name}: function\" "
        "(or elementwise, or vector function)", span,
    )


# ======================================================================================


class Parsed:
    """What :func:`parse_tree` returns: the tree, and the declarations it was read with."""

    __slots__ = ("tree", "decls", "text", "shapes", "functions", "assumptions")

    def __init__(self, tree: Expr, decls: Declarations, text: str, shapes: dict[str, tuple],
                 functions: dict[str, FuncDecl], assumptions: list[str] | None = None):
        self.tree = tree
        self.decls = decls
        self.text = text
        self.shapes = shapes
        self.functions = functions
        #: what the reading assumed that the expression did not force, in words
        self.assumptions = assumptions or []


def parse_tree(text: str, where: str | Mapping[str, object] | Declarations | None = None,
               expect: tuple | None = None) -> Parsed:
    """Parse ``text`` with the declarations ``where`` into a typed tree.

    Raises :class:`ParseError` (bad syntax, with the position), :class:`ShapeError`
    (shapes that cannot agree, naming the operation and both shapes) or
    :class:`DeclarationError`.  ``expect``: a shape that the expression's unknown sizes
    are unified with where they can be (a claimed ``I`` gets the size of the answer).
    """
    decls = parse_where(where)
    if not isinstance(text, str):
        raise ParseError(f"an expression is a string such as \"x' A x\", not {type(text).__name__}", None)
    if not text.strip():
        raise ParseError("the expression is empty", (0, 0), text)
    check_input_bounds(text)
    second = re.search(r"[A-Za-zα-ωΑ-Ωℓ][A-Za-z0-9α-ωΑ-Ω_₀-₉]*(?:['′]{2,}|″)(?=\s*\()", text)
    if second:  # f''(x), σ′′(x): not (fᵀ)ᵀ x, silently
        raise ParseError(f"'{second.group(0)}(…)' would be a second derivative, which matcalc does not have "
                         "(f′(x) is the derivative of an elementwise f)", second.span(), text)
    try:
        lark_tree = _parser().parse(text)
        raw, u, builder, ground_name = _build(lark_tree, text, decls, expect, frozenset())
    except UnexpectedInput as exc:
        raise _syntax_error(exc, text) from None
    except RecursionError:  # a chain the bracket scan does not count (x^2^2^2…): still clean
        raise ParseError(
            "the expression is nested too deeply for matcalc (a chain of thousands of postfix "
            "operators such as x^2^2^2…)", None, text,
        ) from None
    # default kinds are preferences: when one name's default bends another's (μ a scalar
    # makes x a scalar in x − μ), read scalar-by-default names as vectors instead: first
    # together, those added to a bent name (x − μ − ν), then one at a time (a bounded
    # number of tries), keeping each reading that bends fewer names and still parses
    def reading(group: frozenset[str]) -> tuple[Expr, Inference, Builder, Any] | None:
        """The reading with ``group`` also read as vectors, or None where it does not parse."""
        try:
            return _build(lark_tree, text, decls, expect, builder.promoted | group)
        except TimeLimitError:
            raise
        except MatcalcError:
            return None

    bent = builder.collapsed()
    scalars = [n for n, (kind, _) in builder.defaults.items() if kind == "scalar"]
    tries = [frozenset(_added_to(raw, set(bent), set(scalars)))] if bent else []
    tries += [frozenset({n}) for n in scalars[:_PROMOTION_TRIES]] if bent else []
    for group in tries:
        if bent and group and not group <= builder.promoted:
            trial = reading(group)
            if trial is not None and len(trial[2].collapsed()) < len(bent):
                raw, u, builder, ground_name = trial
                bent = builder.collapsed()
    # a Greek letter read as a scalar that makes f a matrix (μᵀ Σ μ, θᵀ x, X β in a
    # log-likelihood): the reading with it a vector, if that makes f a scalar, is the one
    # meant — a transposed scalar is the strongest sign (the reading is said)
    if expect is None and not _is_scalar(raw, u):
        left = frozenset(n for n in scalars if n not in builder.promoted)
        transposed = {n.arg.name for n in raw.walk() if isinstance(n, Transpose) and isinstance(n.arg, Var)}
        for group in (left & transposed, left):
            trial = reading(group) if group else None
            if trial is not None and _is_scalar(trial[0], trial[1]) and len(trial[2].collapsed()) <= len(bent):
                raw, u, builder, ground_name = trial
                break
    tree = _ground(raw, u, ground_name)
    shapes = {n.name: n.shape for n in tree.walk() if isinstance(n, Var)}
    functions = {
        name: builder.fn_kinds.get(name) or decls.functions.get(name, FuncDecl("scalar"))
        for name, how in builder.used_as.items() if how == "function"
    }
    for n in tree.walk():  # vector functions: the size of their values, as inferred
        if isinstance(n, (Apply, Jac)) and n.out is not None:
            functions[n.name] = FuncDecl("vector", n.out)
    return Parsed(tree, decls, text, dict(sorted(shapes.items())), functions, _assumptions(tree, builder))


def _build(lark_tree: Any, text: str, decls: Declarations, expect: tuple | None,
           promoted: frozenset[str]) -> tuple[Expr, Inference, Builder, Any]:
    """One reading of the parse tree: nodes built with shapes unified (not yet grounded)."""
    used = set(decls.dim_symbols()) | _names_in(text)
    fresh_pool = (n for n in _fresh_names() if n not in used)

    def ground_name() -> str:
        return next(fresh_pool)

    u = Inference(ground_name)
    builder = Builder(decls, u, promoted)
    try:
        with inferring(u):
            raw = builder.transform(lark_tree)
            for have, want in zip(raw.shape, expect or (), strict=False):
                try:
                    u.unify(have, want)
                except Mismatch:
                    pass  # a claim of the wrong shape: the caller says so
    except VisitError as exc:
        err = exc.orig_exc
        if isinstance(err, MatcalcError):
            raise _located(err, text, u, ground_name) from None
        raise
    return raw, u, builder, ground_name


def _is_scalar(raw: Expr, u: Inference) -> bool:
    return u.is_one(raw.shape[0]) and u.is_one(raw.shape[1])


#: single names tried as vectors, one at a time, when the first readings bend a name
_PROMOTION_TRIES = 8


def _added_to(tree: Expr, bent: set[str], scalars: set[str]) -> set[str]:
    """The scalar-by-default names that are terms of a sum with a bent name as a term
    (μ and ν in x − μ − ν), signs and number factors aside."""

    def name(t: Expr) -> str | None:
        if isinstance(t, MatMul):
            rest = [f for f in t.factors if not isinstance(f, Num)]
            t = rest[0] if len(rest) == 1 else t
        return t.name if isinstance(t, Var) else None

    out: set[str] = set()
    for n in tree.walk():
        if isinstance(n, Add):
            names = {name(t) for t in n.terms}
            if names & bent:
                out |= names & scalars
    return out


_KINDS = {"vector": "a lowercase letter is a column vector", "matrix": "a capital letter is a matrix"}


def _assumptions(tree: Expr, builder: Builder) -> list[str]:
    """What the reading assumed that the expression did not force, in words."""
    out = []
    shapes = {n.name: n.shape for n in tree.walk() if isinstance(n, Var)}
    for name in sorted(builder.promoted):
        if shapes.get(name, (1, 1)) != (1, 1):
            out.append(f"{name} is a vector: the expression needs it (a Greek letter is a scalar unless "
                       "the expression needs more)")
    for name in builder.collapsed():  # a default the expression bent: x^2 makes x a scalar
        out.append(f"{name} is a {describe_shape(shapes[name])}: the expression needs it "
                   f"({_KINDS[builder.defaults[name][0]]} by default)")
    out.extend(builder.readings)
    coefficients: set[str] = set()
    for n in tree.walk():  # n logdet(Σ): a vector by default times scalars only
        if isinstance(n, MatMul):
            for f in n.factors:
                if not (isinstance(f, Var) and builder.defaults.get(f.name, ("",))[0] == "vector"
                        and f.shape != (1, 1)):
                    continue  # (checked first: a product of 20,000 factors stays linear)
                others = [g for g in n.factors if g is not f]
                # a computed scalar (n logdet(Σ)), not a number or a scalar variable (λ x)
                if all(g.is_scalar for g in others) and not all(isinstance(g, (Num, Var)) for g in others):
                    coefficients.add(f.name)
    for name in sorted(coefficients):
        out.append(f"{name} is read as a column vector (lowercase letters are vectors by default); if it is "
                   f"a number, declare it: --where \"{name}: scalar\"")
    return out


_SIZE_NAME = re.compile(NAME_PATTERN)


_OPENS, _CLOSES = frozenset("([{"), frozenset(")]}")
_PREFIX = frozenset("-−+")
_POSTFIX = frozenset("'′ᵀ")


def check_input_bounds(text: str) -> None:
    """Before Lark runs: at most MAX_INPUT_CHARS characters, and at most MAX_NESTING
    brackets open at once (``(``, ``[``, ``{``, a call, a norm) or signs and primes in a
    row (``- - x``, ``x''``), each of which nests the syntax tree one level deeper."""
    if len(text) > MAX_INPUT_CHARS:
        raise ParseError(
            f"the expression has {len(text):,} characters; matcalc reads at most {MAX_INPUT_CHARS:,}", None
        )
    depth = run = 0
    bar_open = False
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in _OPENS:
            depth += 1
        elif ch in _CLOSES:
            depth -= 1
        elif ch == "‖" or text.startswith("||", i):
            bar_open = not bar_open
            depth += 1 if bar_open else -1
            i += 1 if ch == "‖" else 2
            run = 0
            continue
        if ch in _PREFIX or ch in _POSTFIX:
            run += 1
        elif not ch.isspace():
            run = 0
        if depth > MAX_NESTING or run > MAX_NESTING:
            what = "brackets open at once" if depth > MAX_NESTING else "signs or transposes in a row"
            raise ParseError(
                f"the expression is nested too deeply: more than {MAX_NESTING:,} {what} "
                f"(matcalc reads at most {MAX_NESTING:,})", (i, i + 1), text,
            )
        i += 1


def _parse_dim(text: str, span: Span | None = None) -> Any:
    """A written size: a whole number from 1 to MAX_SIZE, a name (n), or a product m·n."""
    dims: list[Any] = []
    for part in re.split(r"[·*]", text):
        p = part.strip()
        if p.isascii() and p.isdigit():
            if len(p) > len(str(MAX_SIZE)) or not 1 <= int(p) <= MAX_SIZE:
                raise ParseError(f"the size {p} is not a whole number from 1 to {MAX_SIZE:,}", span)
            dims.append(int(p))
        elif _SIZE_NAME.fullmatch(p):
            dims.append(p)
        else:
            what = "an empty size" if not p else f"'{p}' is not a size"
            raise ParseError(
                f"{what}: sizes are whole numbers from 1 to {MAX_SIZE:,} or names (n, m·n)", span
            )
    out = dims[0]
    for d in dims[1:]:
        out = dim_mul(out, d)
    return out


def _parse_dims(text: str, count: int, form: str, span: Span | None) -> list[Any]:
    """``count`` sizes separated by commas, as in K_{m,n}."""
    parts = text.split(",")
    if len(parts) != count:
        raise ParseError(f"{form} takes {count} sizes, not {len(parts)}", span)
    return [_parse_dim(p, span) for p in parts]


def _number_value(tok: Token) -> Fraction:
    """A number literal, exactly, within MAX_DIGITS digits and a power of ten of at most
    MAX_DECIMAL_EXPONENT (checked before any big number is built)."""
    text = str(tok)
    mantissa, _, exponent = text.lower().partition("e")
    digits = len(mantissa.replace(".", "").lstrip("0")) or 1
    if digits > MAX_DIGITS:
        raise ParseError(
            f"a number of {digits:,} digits: numbers have at most {MAX_DIGITS} digits", _tok_span(tok), None
        )
    power = exponent.lstrip("+-").lstrip("0")
    if len(power) > len(str(MAX_DECIMAL_EXPONENT)) or (power and int(power) > MAX_DECIMAL_EXPONENT):
        raise ParseError(
            f"the power of ten in {text[:20]}{'…' if len(text) > 20 else ''} is too large: "
            f"numbers are written with e-{MAX_DECIMAL_EXPONENT} to e{MAX_DECIMAL_EXPONENT} at most",
            _tok_span(tok),
        )
    return Fraction(text)


def _fresh_names() -> Iterator[str]:
    yield from FRESH_NAMES
    i = 1
    while True:
        for n in FRESH_NAMES:
            yield f"{n}{i}"
        i += 1


def _names_in(text: str) -> set[str]:
    return set(re.findall(NAME_PATTERN, text))


def _ground(e: Expr, u: Inference, ground_name: Any) -> Expr:
    """Rebuild with every dimension known: unknown ones get fresh names."""
    names: dict[DimVar, str] = {}

    def dim(d: Any) -> Any:
        d = u.resolve(d)
        if isinstance(d, DimVar):
            if d not in names:
                names[d] = ground_name()
                u.parent[d] = names[d]
            return names[d]
        return d

    def leaf(n: Expr) -> Expr:
        if isinstance(n, Var):
            out: Expr = Var(n.name, (dim(n.dims[0]), dim(n.dims[1])), n.symmetric)
        elif isinstance(n, Identity):
            out = Identity(dim(n.n))
        elif isinstance(n, Ones):
            out = Ones((dim(n.dims[0]), dim(n.dims[1])))
        elif isinstance(n, Zeros):
            out = Zeros((dim(n.dims[0]), dim(n.dims[1])))
        elif isinstance(n, Apply) and n.out is not None:
            out = Apply(n.name, n.kind, n.args, dim(n.out))
        elif isinstance(n, Jac):
            out = Jac(n.name, n.args, dim(n.out))
        else:
            out = n
        return _at(out, n.span)

    # name unknown sizes in the order a reader meets them
    for n in e.walk():
        for d in _leaf_dims(n):
            dim(d)
    out = map_bottom_up(e, leaf)
    _copy_spans(e, out)
    return out


def _leaf_dims(n: Expr) -> tuple[Any, ...]:
    if isinstance(n, (Var, Ones, Zeros)):
        return n.dims
    if isinstance(n, Identity):
        return (n.n,)
    if isinstance(n, (Apply, Jac)) and n.out is not None:
        return (n.out,)
    return ()


def _copy_spans(old: Expr, new: Expr) -> None:
    """Positions survive grounding (the two trees have the same structure)."""
    stack = [(old, new)]
    while stack:
        a, b = stack.pop()
        if a.span is not None and b.span is None:
            object.__setattr__(b, "span", a.span)
        stack.extend(zip(a.children, b.children, strict=True))


def _located(err: MatcalcError, text: str, u: Inference, ground_name: Any) -> MatcalcError:
    """Finish an error raised while building: quote the operands and their shapes."""
    operands = getattr(err, "operands", None)
    if isinstance(err, ShapeError) and operands:
        def show(shape: tuple) -> str:
            return shape_str(tuple(_show_dim(d, u) for d in shape))  # type: ignore[arg-type]

        quoted = []
        for span, shape in operands:
            what = f"'{text[span[0]:span[1]]}'" if span else "an operand"
            quoted.append(f"{what} is {show(shape)}")
        err.message = f"{err.op}: {' and '.join(quoted)}; {err.why}"  # type: ignore[attr-defined]
        if any(isinstance(d, DimProd) for _, shape in operands for d in shape):
            err.message += (
                " (the sizes of a Kronecker product or of vec(…) are products, which matcalc cannot split "
                "back into factors: declare the sizes of the matrices involved, e.g. --where \"A: m×n, B: p×q\")"
            )
        if err.span is None and operands[0][0] is not None:
            first, last = operands[0][0], operands[-1][0] or operands[0][0]
            err.span = (first[0], last[1])
    err.args = (err.message,)
    return err.with_source(text)


def _show_dim(d: Any, u: Inference) -> Any:
    d = u.resolve(d)
    return "?" if isinstance(d, DimVar) else d


def _syntax_error(exc: UnexpectedInput, text: str) -> ParseError:
    pos = getattr(exc, "pos_in_stream", None)
    if pos is None:
        pos = len(text)
    if isinstance(exc, UnexpectedCharacters):
        msg = f"unexpected character '{text[pos]}'"
        span = (pos, pos + 1)
    elif isinstance(exc, UnexpectedEOF) or (isinstance(exc, UnexpectedToken) and exc.token.type == "$END"):
        msg = "the expression ends too early"
        pos = len(text.rstrip())
        span = (pos, pos + 1)
    elif isinstance(exc, UnexpectedToken):
        tok = exc.token
        msg = f"unexpected '{tok}'"
        if tok.type in ("CLOSE_BAR", "OPEN_BAR"):
            msg = "unbalanced norm bars ‖…‖"
        span = (tok.start_pos, tok.end_pos)
    else:  # pragma: no cover - lark has no other kinds
        msg, span = "syntax error", (pos, pos + 1)
    return ParseError(msg, span, text)
