"""The tree builder: each grammar alias is one method that builds its node; notation
sugar (``A - B``, ``x'``, ``X^-1``, ``⊙``, ``1ᵀ``, ``|X|``, ``A : X``, ``a / m``) is removed
here and nowhere else.  The rules come in layers, each a class of its own module:
:class:`~matcalc.syntax.making.NodeMaker` (what every rule uses),
:class:`~matcalc.syntax.products.ProductBuilder` (products),
:class:`~matcalc.syntax.calls.CallBuilder` (calls and derivatives), and :class:`Builder`
here (leaves, sums, postfix operators, bars and inner products, and the dispatch).
Numbers and sizes are read as written (``2.5e3``, ``½``, ``2½``, ``⁻²``, ``I_n``, ``𝟏ₘ``,
``K_{m,n}``), within the bounds of :mod:`matcalc.limits`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from fractions import Fraction
from typing import Any

from lark import Token
from lark.exceptions import GrammarError, VisitError

from .. import functions as F
from ..declare import KEYWORDS, NAME_PATTERN, base_name, default_kind
from ..errors import ParseError, ShapeError, Span
from ..limits import MAX_DECIMAL_EXPONENT, MAX_DIGITS, MAX_MATRIX_POWER, MAX_SIZE
from ..nodes import (
    Add,
    Call,
    Commutation,
    Diff,
    Expr,
    Identity,
    MatMul,
    MatPow,
    Num,
    Ones,
    Power,
    Size,
    Transpose,
    Unvec,
    Var,
    Zeros,
)
from ..shapes import DimVar, Mismatch, describe_shape, dim_mul, shape_error
from .calls import CallBuilder
from .making import NodeMaker
from .names import Meaning
from .source import at, meta_span, token_span
from .words import SMALL_CONSTANTS, coefficient_letter


class Builder(CallBuilder):
    """Maps each grammar alias to a node.  One instance per reading.

    What a name is comes from the resolution pass (:class:`matcalc.syntax.names.Names`); the
    shapes one reading gives the names come from its :class:`matcalc.syntax.names.Scope`."""

    def _call_userfunc(self, tree: Any, new_children: list | None = None) -> Any:
        """Lark's dispatch: the method named by the tree's grammar alias, called with the
        tree's position and its children (looked up once, in :data:`_RULES`)."""
        rule = _RULES.get(tree.data)
        if rule is None:  # an alias no method builds: a bug in the grammar or here, said at once
            raise GrammarError(f"the grammar's {tree.data!r} has no method in the tree builder")
        try:
            return rule(self, tree.meta, *(new_children if new_children is not None else tree.children))
        except GrammarError:
            raise
        except Mismatch:  # a shape rule's failure that no rule turned into words: still a shape error
            exc = shape_error(tree.data.replace("_", " "), "the shapes do not agree", [], meta_span(tree.meta))
            raise VisitError(tree.data, tree, exc) from None
        except Exception as exc:
            raise VisitError(tree.data, tree, exc) from exc

    # -- leaves ------------------------------------------------------------------------
    def number(self, meta: Any, tok: Token) -> Expr:
        """2, 0.5, 1e-3, and ½, ⅔, 2½ (two and a half), exactly."""
        if tok.type == "VULGAR":
            return at(Num(vulgar_value(tok)), token_span(tok))
        out = at(Num(number_value(tok)), token_span(tok))
        if str(tok) == "1":
            self._literal_ones[id(out)] = out
        return out

    def name(self, meta: Any, tok: Token) -> Expr:
        """A name: built as the resolution pass says it is (see :data:`_LEAVES`)."""
        meaning = self.names.meaning_at[tok.start_pos]
        return at(self._LEAVES[meaning.kind](self, meaning, tok), token_span(tok))

    def _leaf_variable(self, m: Meaning, tok: Token) -> Expr:
        return self._var(m.name, token_span(tok))

    def _leaf_differential(self, m: Meaning, tok: Token) -> Expr:  # dX
        return Diff(self._var(m.name, token_span(tok)))

    def _leaf_identity(self, m: Meaning, tok: Token) -> Expr:
        return Identity(self.u.fresh())

    def _leaf_sized(self, m: Meaning, tok: Token) -> Expr:  # I_n, I_3, ones_n
        kind, size = re.fullmatch(r"(I|ones)_\{?([A-Za-z0-9·*]+)\}?", m.name).groups()  # type: ignore[union-attr]
        dim = parse_dim(size, token_span(tok))
        return Identity(dim) if kind == "I" else Ones((dim, 1))

    def _leaf_ones(self, m: Meaning, tok: Token) -> Expr:
        return self.ones(None, tok)

    def _leaf_zeros(self, m: Meaning, tok: Token) -> Expr:
        return Zeros((self.u.fresh(), self.u.fresh()))

    def _leaf_size(self, m: Meaning, tok: Token) -> Expr:  # ‖X w − y‖² / m
        return Size(self.scope.size(m.name))

    _LEAVES = {
        "variable": _leaf_variable, "differential": _leaf_differential, "identity": _leaf_identity,
        "sized": _leaf_sized, "ones": _leaf_ones, "zeros": _leaf_zeros, "size": _leaf_size,
    }

    def ones(self, meta: Any, tok: Token) -> Expr:
        """𝟏, and 𝟏ₙ, 𝟏_n, ones_n with its length."""
        text = str(tok)
        if "_" in text:
            return at(Ones((parse_dim(text.split("_", 1)[1].strip("{}"), token_span(tok)), 1)), token_span(tok))
        if len(text) > 1 and text[1:].translate(FROM_SUBSCRIPT) != text[1:]:  # 𝟏ₙ
            size = parse_dim(text[1:].translate(FROM_SUBSCRIPT), token_span(tok))
            return at(Ones((size, 1)), token_span(tok))
        return at(Ones((self.u.fresh(), 1)), token_span(tok))

    def unvec(self, meta: Any, tok: Token, arg: Expr) -> Expr:
        rows, cols = parse_dims(str(tok)[len("unvec_{"):-1], 2, "unvec_{m,n}", token_span(tok))
        return self._make(Unvec, (arg, rows, cols), meta_span(meta))

    def identity(self, meta: Any, tok: Token) -> Expr:
        """I_n, I_{m·n}, I₃: the identity of a given size."""
        text = str(tok)
        size = text[3:-1] if text.startswith("I_{") else text[1:].translate(FROM_SUBSCRIPT)
        return at(Identity(parse_dim(size, token_span(tok))), token_span(tok))

    def zeros(self, meta: Any, tok: Token) -> Expr:
        """𝟎, and 𝟎_{m,n}, zeros_{m,n} with its size."""
        text = str(tok)
        if "_" in text:  # 𝟎_{m,n}, zeros_{m,n}
            rows, cols = parse_dims(text.split("_", 1)[1].strip("{}"), 2, "𝟎_{m,n}", token_span(tok))
            return at(Zeros((rows, cols)), token_span(tok))
        return at(Zeros((self.u.fresh(), self.u.fresh())), token_span(tok))

    def commutation(self, meta: Any, tok: Token) -> Expr:
        m, n = parse_dims(str(tok)[3:-1], 2, "K_{m,n}", token_span(tok))
        return at(Commutation(m, n), token_span(tok))

    # -- sums and products -------------------------------------------------------------
    # A run of terms (a + b − c …) or of factors (a b / c ⊙ d …) is one grammar rule, so
    # that long flat sums and products are built in linear time without recursion.
    def term(self, meta: Any, sign: Token, b: Expr) -> tuple[bool, Expr]:
        return (sign.type == "MINUS", b)

    def add(self, meta: Any, first: Expr, *steps: tuple[bool, Expr]) -> Expr:
        """a + b − c + …: one sum; a sum in parentheses is spliced in."""
        span = meta_span(meta)
        terms: list[Expr] = []
        for negative, t in ((False, first), *steps):
            t = self._negate(t, t.span) if negative else t
            terms.extend(t.terms if isinstance(t, Add) else (t,))
        shaped = next((t for t in terms if not self._scalar(t)), None)
        if shaped is not None:  # a scalar added to an array is added to every entry: 1 − σ(x), x − tr(X)/n
            bare = any(isinstance(_core(t), Var) and not self._scalar(t) for t in terms)
            if not all(self._coefficient(t) for t in terms if not self._scalar(t)):  # uᵀ M v + c: c a scalar
                terms = [self._broadcast(t, shaped) if self._scalar(t) and not (bare and self._takes_shape(t))
                         else t for t in terms]
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

    def _broadcast(self, s: Expr, like: Expr) -> Expr:
        """The scalar ``s`` added to every entry of an array shaped like ``like``: s 𝟏 (s 𝟏𝟏ᵀ
        for a matrix).  Other than a number, said in the output."""
        ones = Ones(like.shape)
        if isinstance(s, Num):
            return ones if s.value == 1 else MatMul((s, ones))
        self.broadcasts.append((s, like))
        return self._product([s, ones], s.span)

    def _coefficient(self, t: Expr) -> bool:
        """An undeclared a–g letter alone as a term: a coefficient, not broadcast against
        (uᵀ M v + c is a scalar, as MatrixCalculus.org reads a–g)."""
        core = _core(t)
        return isinstance(core, Var) and core.name not in self.decls.variables and coefficient_letter(core.name) \
            and default_kind(core.name) == "vector"

    def _takes_shape(self, t: Expr) -> bool:
        """A Greek letter added to a variable takes its shape (the mean μ in x − μ), unless it
        is declared or one of the small constants of numerics (ε, δ: log(x + ε))."""
        core = _core(t)
        return (isinstance(core, Var) and core.name not in self.decls.variables
                and default_kind(core.name) == "scalar" and base_name(core.name) not in SMALL_CONSTANTS)

    def neg(self, meta: Any, minus: Token, a: Expr) -> Expr:
        return self._negate(a, meta_span(meta))

    # -- postfix -----------------------------------------------------------------------
    def transpose(self, meta: Any, a: Expr, prime: Token | None = None) -> Expr:
        """x', x’, x⊤ (and xᵀ, x^T through :meth:`power`)."""
        span = meta_span(meta)
        if self._literal_one(a) and a.span and meta.start_pos == a.span[0]:
            # 1ᵀ: the vector of ones, transposed — only the literal 1 written right before
            # the transpose, never a computed 1 such as (2 · 0.5)ᵀ or (1)ᵀ
            a = at(Ones((self.u.fresh(), 1)), a.span)
        return self._make(Transpose, (a,), span)

    def power(self, meta: Any, a: Expr, exponent: Any) -> Expr:
        """x^e and xᵉ, by the exponent: ᵀ (^T) transposes, ⁻ᵀ (^-T) inverts and transposes, a
        number k is the power Xᵏ of a square matrix (X⁻¹ its inverse) or of a scalar, a
        symbolic b the power of a scalar."""
        span = meta_span(meta)
        if isinstance(exponent, Token):  # a superscript: ᵀ, ⁻ᵀ, ², ⁻¹
            exponent = superscript_exponent(exponent)
        if exponent == "T":
            return self.transpose(meta, a)
        if exponent == "-T":
            return self._make(Transpose, (self._inverse(a, span),), span)
        if isinstance(exponent, Fraction):
            return self._power(a, exponent, span)
        if isinstance(exponent, Num):
            return self._power(a, exponent.value, span)
        if not self._scalar(a) and not self._vector(a):
            raise ParseError("a matrix power must be a whole number; for elementwise powers write X.^p", exponent.span)
        try:  # a^b: a scalar to a symbolic power (a vector by default, made a scalar: it is said)
            self.u.unify(a.shape[0], 1)
            self.u.unify(a.shape[1], 1)
        except Mismatch:
            raise ParseError("a^b with a symbolic b is a power of a scalar; for elementwise powers write x.^b",
                             exponent.span) from None
        return self._make(Power, (a, exponent), span)

    def elementwise_power(self, meta: Any, a: Expr, exponent: Expr) -> Expr:
        """x.^p: the power entry by entry."""
        return self._make(Power, (a, exponent), meta_span(meta))

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

    def _inverse(self, a: Expr, span: Span | None) -> Expr:
        if self._scalar(a):
            return self._reciprocal(a, span)
        return self._make(Call, (F.INV, (a,)), span)

    def transpose_exponent(self, meta: Any, *_: Token) -> str:
        return "T"

    def inverse_transpose_exponent(self, meta: Any, *_: Token) -> str:
        return "-T"

    def number_exponent(self, meta: Any, tok: Token) -> Expr:
        return at(Num(number_value(tok)), token_span(tok))

    def negative_exponent(self, meta: Any, minus: Token, tok: Token) -> Expr:
        return at(Num(-number_value(tok)), (minus.start_pos, tok.end_pos))

    # -- bars, norms, inner products ------------------------------------------------------
    def det_or_abs(self, meta: Any, open_: Token, a: Expr, close: Token) -> Expr:
        """|a| of a scalar is abs(a); |Σ| of a square matrix is det(Σ)."""
        span = meta_span(meta)
        if self._scalar(a):
            return self._make(Call, (F.ABS, (a,)), span)
        shape = self._shape(a)
        if not self._vector(a):
            try:
                self.u.unify(a.shape[0], a.shape[1])
            except Mismatch:
                pass
            else:
                return self._make(Call, (F.DET, (a,)), span)
        what = "vector" if any(isinstance(d, DimVar) for d in shape) else describe_shape(shape)
        raise ParseError(
            f"|…| is the determinant of a square matrix or the absolute value of a scalar, but here it is "
            f"around a {what}: write abs(…) for the absolute values entry by entry, or ‖…‖ for the norm", span,
        )

    def norm(self, meta: Any, open_: Token, a: Expr, close: Token, sub: Token | None = None) -> Expr:
        """‖x‖, and with a subscript: ‖x‖₁ (the table's row with that subscript), ‖x‖₂ and
        ‖X‖_F (the plain norm: Euclidean for a vector, Frobenius for a matrix)."""
        span = meta_span(meta)
        text = "" if sub is None else str(sub).strip("_{}").translate(FROM_SUBSCRIPT)
        rows = [r for r in F.TABLE.values() if r.bars is not None]
        if text in ("", "2", "F"):
            fn = next(r for r in rows if r.bars == ("", ""))  # type: ignore[union-attr]
        else:
            fn = next((r for r in rows if r.bars[1].strip("_{}") == text), None)  # type: ignore[index]
            if fn is None:
                raise ParseError(f"‖…‖ with the subscript {sub} is not a norm matcalc has", token_span(sub))  # type: ignore[arg-type]
        if text in ("1", "2") and not self._vector(a):
            what = "largest absolute column sum" if text == "1" else "largest singular value (spectral norm)"
            entrywise = "norm1(X) for the sum of the absolute entries" if text == "1" else "‖X‖_F for the Frobenius norm"
            raise ParseError(f"‖X‖{sub} of a matrix is its induced norm ({what}), which matcalc does not have; "
                             f"write {entrywise}", span)
        return self._make(Call, (fn, (a,)), span)

    def frobenius(self, meta: Any, a: Expr, b: Expr) -> Expr:
        """A : X = tr(Aᵀ X), the Frobenius inner product (aᵀ x for vectors)."""
        if isinstance(b, Var) and b.name in KEYWORDS:
            raise ParseError(f"'… : {b.name}' looks like a declaration: declarations go in --where "
                             "(in an expression, A : X is the Frobenius inner product tr(Aᵀ X))", meta_span(meta))
        return self._inner(a, b, meta_span(meta))

    def inner(self, meta: Any, a: Expr, b: Expr) -> Expr:
        """⟨A, X⟩ = tr(Aᵀ X) (aᵀ x for vectors)."""
        return self._inner(a, b, meta_span(meta))

    def _inner(self, a: Expr, b: Expr, span: Span | None) -> Expr:
        try:
            self.u.unify(a.shape[0], b.shape[0])
            self.u.unify(a.shape[1], b.shape[1])
        except Mismatch:
            raise shape_error("Frobenius inner product", "both sides must have the same shape",
                              [(a.span, a.shape), (b.span, b.shape)], span) from None
        if self._scalar(a):
            return self._product([a, b], span)
        if self.u.is_one(a.shape[1]):
            return self._product([self._make(Transpose, (a,), a.span), b], span)
        try:
            return at(F.inner(a, b), span)
        except ShapeError as err:
            err.span = err.span or span
            raise


#: each rule's function, by the grammar alias it builds, for :meth:`Builder._call_userfunc`
_RULES: dict[str, Callable[..., Any]] = {
    name: attr for cls in reversed(Builder.__mro__) if issubclass(cls, NodeMaker)
    for name, attr in vars(cls).items() if not name.startswith("_") and callable(attr)
}


def _core(t: Expr) -> Expr:
    """A term without its number: x of −x or 2 x."""
    if isinstance(t, MatMul) and len(t.factors) == 2 and isinstance(t.factors[0], Num):
        return t.factors[1]
    return t


# -- numbers and sizes as written ------------------------------------------------------

SUPER_DIGITS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")
FROM_SUBSCRIPT = str.maketrans("ₐₑₒₓₕₖₗₘₙₚₛₜ₀₁₂₃₄₅₆₇₈₉", "aeoxhklmnpst0123456789")

_SIZE_NAME = re.compile(NAME_PATTERN)


def number_value(tok: Token) -> Fraction:
    """A number literal, exactly, within MAX_DIGITS digits and a power of ten of at most
    MAX_DECIMAL_EXPONENT (checked before any big number is built)."""
    text = str(tok)
    mantissa, _, exponent = text.lower().partition("e")
    digits = len(mantissa.replace(".", "").lstrip("0")) or 1
    if digits > MAX_DIGITS:
        raise ParseError(
            f"a number of {digits:,} digits: numbers have at most {MAX_DIGITS} digits", token_span(tok), None
        )
    power = exponent.lstrip("+-").lstrip("0")
    if len(power) > len(str(MAX_DECIMAL_EXPONENT)) or (power and int(power) > MAX_DECIMAL_EXPONENT):
        raise ParseError(
            f"the power of ten in {text[:20]}{'…' if len(text) > 20 else ''} is too large: "
            f"numbers are written with e-{MAX_DECIMAL_EXPONENT} to e{MAX_DECIMAL_EXPONENT} at most",
            token_span(tok),
        )
    return Fraction(text)


def vulgar_value(tok: Token) -> Fraction:
    """½, ⅔, and 2½ (two and a half), exactly."""
    text = str(tok)
    whole = number_value(Token.new_borrow_pos("NUMBER", text[:-1], tok)) if len(text) > 1 else 0
    digits = "".join(chr(int(h, 16)) for h in unicodedata.decomposition(text[-1]).split()[1:])  # 1⁄10
    num, den = digits.split("⁄")
    return whole + Fraction(int(num), int(den))


def superscript_exponent(tok: Token) -> str | Fraction:
    """A superscript exponent: "T" for ᵀ, "-T" for ⁻ᵀ, else its whole number (², ⁻¹)."""
    text = str(tok)
    if text == "ᵀ":
        return "T"
    if text == "⁻ᵀ":
        return "-T"
    if "ᵀ" in text or not re.fullmatch(r"⁻?[⁰¹²³⁴⁵⁶⁷⁸⁹]+", text):
        raise ParseError(f"'{text}' is not an exponent: write ᵀ, ⁻¹, ⁻ᵀ or a power like ²", token_span(tok))
    return Fraction(int(text.translate(SUPER_DIGITS)))


def parse_dim(text: str, span: Span | None = None) -> Any:
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


def parse_dims(text: str, count: int, form: str, span: Span | None) -> list[Any]:
    """``count`` sizes separated by commas, as in K_{m,n}."""
    parts = text.split(",")
    if len(parts) != count:
        raise ParseError(f"{form} takes {count} sizes, not {len(parts)}", span)
    return [parse_dim(p, span) for p in parts]
