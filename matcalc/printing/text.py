"""The text printer: Unicode (``Aᵀ X⁻¹ ⊙ ⊗``) or ASCII (``A' inv(X) .* kron``).

Output re-parses to the same tree (with the same declarations), with as few
parentheses as the grammar needs.  Dispatch is on the node class: ``_print_MatMul`` etc.
Each method returns the text and its precedence (how tightly it binds).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction

from ..nodes import (
    Call,
    Expr,
    Hadamard,
    Kron,
    MatMul,
    MatPow,
    Num,
    Ones,
    Power,
    Transpose,
    Var,
    Zeros,
)
from ..shapes import dim_str
from .sizes import unpinned

# precedences, loosest first
SUM, NEG, PRODUCT, POSTFIX, ATOM = 10, 15, 20, 40, 50

_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
_TO_SUBSCRIPT_CHARS = "aeoxhklmnpst0123456789"

_TO_SUBSCRIPT = str.maketrans(_TO_SUBSCRIPT_CHARS, "ₐₑₒₓₕₖₗₘₙₚₛₜ₀₁₂₃₄₅₆₇₈₉")


class TextPrinter:
    def __init__(self, ascii: bool = False, sizes: bool = True):
        """``sizes=False``: never write Iₙ, 𝟏ₙ, 𝟎_{m,n} (for sort keys, which are printed
        node by node with one printer and must not depend on which node came first)."""
        self.ascii = ascii
        self._memo: dict[int, tuple[str, int]] = {}
        self._keep: list[Expr] = []
        self._sized: set[Expr] = set()  # constants printed with their size: Iₙ (see sizes.py)
        self._analysed = not sizes

    def doprint(self, e: Expr) -> str:
        if not self._analysed:  # the root: find the constants whose size the text would hide
            self._sized = unpinned(e)
            self._analysed = True
        return self._print(e)[0]

    # -- dispatch ------------------------------------------------------------------------
    def _print(self, e: Expr) -> tuple[str, int]:
        key = id(e)
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        method: Callable[[Expr], tuple[str, int]] = getattr(self, f"_print_{type(e).__name__}")
        out = method(e)
        self._memo[key] = out
        self._keep.append(e)  # ids stay valid while the memo lives
        return out

    def _wrap(self, e: Expr, level: int) -> str:
        """``e`` printed, in parentheses if it binds looser than ``level``."""
        text, prec = self._print(e)
        return f"({text})" if prec < level else text

    # -- leaves ----------------------------------------------------------------------------
    def _print_Var(self, e: Var) -> tuple[str, int]:
        return e.name, ATOM

    def _print_Num(self, e: Num) -> tuple[str, int]:
        v = e.value
        if v < 0:
            return f"{self._minus()}{self._print(Num(-v))[0]}", NEG
        if v.denominator == 1:
            return _digits(v.numerator), ATOM
        return f"{_digits(v.numerator)}/{_digits(v.denominator)}", PRODUCT

    def _minus(self) -> str:
        return "-" if self.ascii else "−"

    def _print_Identity(self, e: Expr) -> tuple[str, int]:
        return (f"I{self._size(e.n)}" if e in self._sized else "I"), ATOM  # type: ignore[attr-defined]

    def _size(self, d: object) -> str:
        """A size as a subscript: Iₘ, I₃ (Unicode), I_m (ASCII), I_{m·n}."""
        text = dim_str(d, self.ascii)  # type: ignore[arg-type]
        if not self.ascii and all(ch in _TO_SUBSCRIPT_CHARS for ch in text):
            return text.translate(_TO_SUBSCRIPT)
        return f"_{text}" if text.isalnum() else f"_{{{text}}}"

    def _print_Ones(self, e: Ones) -> tuple[str, int]:
        one = "ones" if self.ascii else "𝟏"
        r, c = e.shape
        col, row = (f"{one}{self._size(r)}", f"{one}{self._size(c)}") if e in self._sized else (one, one)
        if c == 1:
            return col, ATOM
        if r == 1:
            return self._transposed(row), POSTFIX
        return f"{col} {self._transposed(row)}", PRODUCT

    def _print_Zeros(self, e: Zeros) -> tuple[str, int]:
        zero = "zeros" if self.ascii else "𝟎"
        if e in self._sized:
            return f"{zero}_{{{dim_str(e.shape[0], self.ascii)},{dim_str(e.shape[1], self.ascii)}}}", ATOM
        return zero, ATOM

    def _print_Commutation(self, e: Expr) -> tuple[str, int]:
        return f"K_{{{dim_str(e.m, self.ascii)},{dim_str(e.n, self.ascii)}}}", ATOM  # type: ignore[attr-defined]

    def _transposed(self, text: str) -> str:
        return f"{text}'" if self.ascii else f"{text}ᵀ"

    # -- sums and products -------------------------------------------------------------------
    def _print_Add(self, e: Expr) -> tuple[str, int]:
        parts: list[str] = []
        for i, t in enumerate(e.terms):  # type: ignore[attr-defined]
            negative, body = self._split_sign(t)
            if i == 0:
                parts.append(f"{self._minus()}{body}" if negative else body)
            else:
                parts.append(f" {self._minus() if negative else '+'} {body}")
        return "".join(parts), SUM

    def _split_sign(self, t: Expr) -> tuple[bool, str]:
        """A term with a negative coefficient prints as ``− body``."""
        if isinstance(t, Num) and t.value < 0:
            return True, self._print(Num(-t.value))[0]
        if isinstance(t, MatMul) and isinstance(t.factors[0], Num) and t.factors[0].value < 0:
            c = -t.factors[0].value
            rest = t.factors[1:]
            body = self._product(Fraction(c), rest)
            return True, body[0] if body[1] > SUM else f"({body[0]})"
        text, prec = self._print(t)
        return False, text if prec > SUM else f"({text})"

    def _print_MatMul(self, e: MatMul) -> tuple[str, int]:
        factors = e.factors
        if isinstance(factors[0], Num):
            c = factors[0].value
            if c < 0:
                text, prec = self._product(-c, factors[1:])
                return f"{self._minus()}{text if prec >= PRODUCT else f'({text})'}", NEG
            return self._product(c, factors[1:])
        return self._product(Fraction(1), factors)

    def _product(self, c: Fraction, factors: tuple[Expr, ...]) -> tuple[str, int]:
        first = factors[0]
        if (c.denominator == 1 and len(factors) > 1 and isinstance(first, Power)
                and first.base.is_scalar and _is_num(first.exponent, -1)):
            # s⁻¹ X prints as X / s (and parses back to the same tree)
            rest, _ = self._product(c, factors[1:])
            return f"{rest} / {self._base(first.base)}", PRODUCT
        body = " ".join(self._factor(f, i) for i, f in enumerate(factors))
        if c == 1:
            return body, PRODUCT
        if c.denominator == 1:
            return f"{_digits(c.numerator)} {body}", PRODUCT
        head = body if c.numerator == 1 else f"{_digits(c.numerator)} {body}"
        return f"{head} / {_digits(c.denominator)}", PRODUCT

    def _factor(self, f: Expr, i: int) -> str:
        text, prec = self._print(f)
        # a factor binds at least as tightly as a product; products of other kinds
        # (⊙, ⊗, ./) and signed or fractional numbers get parentheses
        # a nested product is a 1×1 unit, as in (xᵀ x) A
        if prec <= PRODUCT:
            return f"({text})"
        return text

    def _print_Hadamard(self, e: Hadamard) -> tuple[str, int]:
        out: list[str] = []
        for i, f in enumerate(e.factors):
            if i > 0 and isinstance(f, Power) and _is_num(f.exponent, -1) and not f.base.is_scalar:
                out.append(f" ./ {self._operand(f.base)}")
            else:
                out.append((" .* " if self.ascii else " ⊙ ") if i > 0 else "")
                out.append(self._operand(f))
        return "".join(out), PRODUCT

    def _operand(self, f: Expr) -> str:
        """An operand of ⊙, ⊗ or ./: parenthesised unless it is a postfix or an atom."""
        text, prec = self._print(f)
        return text if prec >= POSTFIX else f"({text})"

    def _print_Kron(self, e: Kron) -> tuple[str, int]:
        if self.ascii:
            return f"kron({self.doprint(e.left)}, {self.doprint(e.right)})", ATOM
        return f"{self._operand(e.left)} ⊗ {self._operand(e.right)}", PRODUCT

    # -- postfix --------------------------------------------------------------------------
    def _base(self, e: Expr) -> str:
        """The base of a postfix operator: an atom, or parenthesised."""
        text, prec = self._print(e)
        # postfix on postfix would run superscripts together (Xᵀ² or X⁻¹ᵀ): parenthesise
        if prec < POSTFIX or isinstance(e, (Power, MatPow, Transpose)) or _is_inverse(e):
            return f"({text})"
        return text

    def _print_Transpose(self, e: Transpose) -> tuple[str, int]:
        a = e.arg
        if _is_inverse(a):
            inner = self._base(a.args[0])  # type: ignore[attr-defined]
            return (f"{inner}^-T" if self.ascii else f"{inner}⁻ᵀ"), POSTFIX
        if isinstance(a, Num):  # (1)ᵀ: written 1ᵀ it would be the vector of ones
            return self._transposed(f"({self._print(a)[0]})"), POSTFIX
        return self._transposed(self._base(a)), POSTFIX

    def _print_Power(self, e: Power) -> tuple[str, int]:
        base = self._base(e.base)
        p = e.exponent
        if e.base.is_scalar:
            if isinstance(p, Num) and p.value.denominator == 1:
                k = _digits(p.value.numerator)
                return (f"{base}^{k}" if self.ascii else f"{base}{k.translate(_SUPERSCRIPT)}"), POSTFIX
            return f"{base}^{self._exponent(p)}", POSTFIX
        return f"{base}.^{self._exponent(p)}", POSTFIX

    def _exponent(self, p: Expr) -> str:
        if isinstance(p, Num) and p.value.denominator == 1:
            return _digits(p.value.numerator)
        return f"({self.doprint(p)})"

    def _print_MatPow(self, e: Expr) -> tuple[str, int]:
        base = self._base(e.base)  # type: ignore[attr-defined]
        k = str(e.k)  # type: ignore[attr-defined]
        return (f"{base}^{k}" if self.ascii else f"{base}{k.translate(_SUPERSCRIPT)}"), POSTFIX

    # -- calls -------------------------------------------------------------------------------
    def _print_Call(self, e: Call) -> tuple[str, int]:
        fn = e.fn
        if fn.key == "inv":
            return (f"{self._base(e.args[0])}^-1" if self.ascii else f"{self._base(e.args[0])}⁻¹"), POSTFIX
        nested = any(isinstance(n, Call) and n.fn.key == "norm" for n in e.args[0].walk())
        if fn.key == "norm" and not self.ascii and not nested:  # bars cannot nest: ‖…‖x‖…‖
            return f"‖{self.doprint(e.args[0])}‖", ATOM
        name = fn.name if self.ascii or not fn.unicode else fn.unicode
        return f"{name}({self._args(e.args)})", ATOM

    def _args(self, args: tuple[Expr, ...]) -> str:
        return ", ".join(self.doprint(a) for a in args)

    def _print_Apply(self, e: Expr) -> tuple[str, int]:
        return f"{e.name}({self._args(e.args)})", ATOM  # type: ignore[attr-defined]

    def _print_Grad(self, e: Expr) -> tuple[str, int]:
        head = f"grad {e.name}" if self.ascii else f"∇{e.name}"  # type: ignore[attr-defined]
        return f"{head}({self._args(e.args)})", ATOM  # type: ignore[attr-defined]

    def _print_Deriv(self, e: Expr) -> tuple[str, int]:
        return f"{e.name}{chr(39) if self.ascii else '′'}({self._args(e.args)})", ATOM  # type: ignore[attr-defined]

    def _print_Jac(self, e: Expr) -> tuple[str, int]:
        head = f"jac {e.name}" if self.ascii else f"∂{e.name}"  # type: ignore[attr-defined]
        return f"{head}({self._args(e.args)})", ATOM  # type: ignore[attr-defined]

    def _print_Unvec(self, e: Expr) -> tuple[str, int]:
        r, c = (dim_str(d, self.ascii) for d in e.shape)
        return f"unvec_{{{r},{c}}}({self.doprint(e.arg)})", ATOM  # type: ignore[attr-defined]

    def _print_Diff(self, e: Expr) -> tuple[str, int]:
        a = e.arg  # type: ignore[attr-defined]
        if isinstance(a, Var):
            return f"d{a.name}", ATOM
        return f"d({self.doprint(a)})", ATOM


def _digits(n: int) -> str:
    """All the digits, also past Python's limit on int → str (4,300 digits), which a
    product of numbers within the input bounds can pass (1e300 ⋯ 1e300)."""
    try:
        return str(n)
    except ValueError:
        return str(Decimal(n))


def _is_num(e: Expr, value: int) -> bool:
    return isinstance(e, Num) and e.value == value


def _is_inverse(e: Expr) -> bool:
    return isinstance(e, Call) and e.fn.key == "inv"


def to_text(e: Expr, ascii: bool = False) -> str:
    """``e`` as text; Unicode by default, ASCII with ``ascii=True``.  I, 𝟏 and 𝟎 carry
    their size (Iₙ) where nothing else in the text would tell it."""
    return TextPrinter(ascii).doprint(e)


_ASCII_WORDS = [("⁻ᵀ", "^-T"), ("⁻¹", "^-1"), ("ᵀ", "'"), ("⊙", ".*"), ("⊗", "kron"), ("⇔", "<=>"), ("∂", "d"),
                ("′", "'"), ("𝟏", "ones"), ("−", "-"), ("×", "x"), ("·", "*"), ("∇", "grad "), ("✓", "OK:"),
                ("✗", "FAILED:"), ("‖", "||"), ("→", "->")]


def ascii_words(text: str) -> str:
    """Prose (rule names, notes) in ASCII, for --format ascii."""
    for a, b in _ASCII_WORDS:
        text = text.replace(a, b)
    return text
