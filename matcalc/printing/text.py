"""The text printer: Unicode (``Aᵀ X⁻¹ ⊙ ⊗``) or ASCII (``A' inv(X) .* kron``).

Output re-parses to the same tree (with the same declarations), with as few
parentheses as the grammar needs.  The structure is :class:`~.base.Printer`'s; this
module supplies the tokens, the superscripts and subscripts, and the sizes of I, 𝟏 and
𝟎 where the text would otherwise hide them.
"""

from __future__ import annotations

from fractions import Fraction

from .. import functions as F
from ..nodes import Expr, Kron, Num, Ones, Power, Transpose, Zeros
from ..shapes import Dim, dim_str
from .base import ATOM, POSTFIX, PRODUCT, Marks, Printed, Printer, digits
from .sizes import unpinned

UNICODE = Marks(minus="−", hadamard=" ⊙ ", divide=" ./ ", kron=" ⊗ ", transpose="ᵀ", inverse_transpose="⁻ᵀ",
                differential="d", grad="∇", prime="′", jac="∂")
ASCII = Marks(minus="-", hadamard=" .* ", divide=" ./ ", kron=" kron ", transpose="'", inverse_transpose="^-T",
              differential="d", grad="grad ", prime="'", jac="jac ", hess="hess ")

_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
_TO_SUBSCRIPT_CHARS = "aeoxhklmnpst0123456789"

_TO_SUBSCRIPT = str.maketrans(_TO_SUBSCRIPT_CHARS, "ₐₑₒₓₕₖₗₘₙₚₛₜ₀₁₂₃₄₅₆₇₈₉")


class TextPrinter(Printer):
    def __init__(self, ascii: bool = False, sizes: bool = True):
        """``sizes=False``: never write Iₙ, 𝟏ₙ, 𝟎_{m,n} (for measuring lengths node by node
        with one printer, where the text must not depend on which node came first)."""
        super().__init__()
        self.ascii = ascii
        self.marks = ASCII if ascii else UNICODE
        self._sized: set[Expr] = set()  # constants printed with their size: Iₙ (see sizes.py)
        self._analysed = not sizes

    def doprint(self, e: Expr) -> str:
        if not self._analysed:  # the root: find the constants whose size the text would hide
            self._sized = unpinned(e)
            self._analysed = True
        return super().doprint(e)

    # -- hooks -------------------------------------------------------------------------------
    def _paren(self, text: str) -> str:
        return f"({text})"

    def _name(self, name: str) -> str:
        return name

    def _dim(self, d: Dim) -> str:
        return dim_str(d, self.ascii)

    def _fraction(self, numerator: str, denominator: str) -> Printed:
        return f"{numerator}/{denominator}", PRODUCT

    def _scaled_by_fraction(self, c: Fraction, body: str) -> str:
        head = body if c.numerator == 1 else f"{digits(c.numerator)} {body}"
        return f"{head} / {digits(c.denominator)}"

    def _divided(self, rest: str, s: Expr, q: int = 1, p: int = 1) -> str:
        # s⁻¹ X prints as X / s, and s⁻¹ X / 2 as X / (2 s) (both parse back to the same tree)
        rest = rest if p == 1 else f"{digits(p)} {rest}"
        below = self._wrap(s, POSTFIX) if isinstance(s, Power) else self._base(s)  # x / ‖x‖³: a power needs none
        return f"{rest} / {below}" if q == 1 else f"{rest} / ({digits(q)} {self._wrap(s, PRODUCT + 1)})"

    def _superscript(self, base: str, k: str) -> str:
        return f"{base}^{k}" if self.ascii else f"{base}{k.translate(_SUPERSCRIPT)}"

    def _scalar_power(self, base: str, p: Expr) -> str:
        return f"{base}^{self._exponent(p)}"

    def _elementwise_power(self, base: str, p: Expr) -> str:
        return f"{base}.^{self._exponent(p)}"

    def _exponent(self, p: Expr) -> str:
        if isinstance(p, Num) and p.value.denominator == 1:
            return digits(p.value.numerator)
        return self._paren(self.doprint(p))

    def _ones(self, e: Ones, d: Dim) -> str:
        one = "ones" if self.ascii else "𝟏"
        return f"{one}{self._size(d)}" if e in self._sized else one

    def _unvec(self, e: Expr) -> str:
        r, c = e.shape
        return f"unvec_{{{self._dim(r)},{self._dim(c)}}}"

    def _function(self, fn: F.Function) -> str:
        return fn.name if self.ascii or not fn.unicode else fn.unicode

    def _postfix(self, marks: tuple[str, str, str]) -> str:
        return marks[1] if self.ascii else marks[0]

    def _between_bars(self, arg: Expr, subscript: tuple[str, str]) -> str | None:
        # ASCII prints norms by name; Unicode bars cannot nest: ‖…‖x‖…‖ is ambiguous
        if self.ascii or self._holds_bars(arg):
            return None
        return f"‖{self.doprint(arg)}‖{subscript[0]}"

    def _size(self, d: Dim) -> str:
        """A size as a subscript: Iₘ, I₃ (Unicode), I_m (ASCII), I_{m·n}."""
        text = self._dim(d)
        if not self.ascii and all(ch in _TO_SUBSCRIPT_CHARS for ch in text):
            return text.translate(_TO_SUBSCRIPT)
        return f"_{text}" if text.isalnum() else f"_{{{text}}}"

    # -- what only text writes ---------------------------------------------------------------
    def _print_Size(self, e: Expr) -> Printed:
        text = self._dim(e.dim)  # type: ignore[attr-defined]
        return text, ATOM if text.isalnum() else PRODUCT

    def _print_Identity(self, e: Expr) -> Printed:
        return (f"I{self._size(e.n)}" if e in self._sized else "I"), ATOM  # type: ignore[attr-defined]

    def _print_Zeros(self, e: Zeros) -> Printed:
        zero = "zeros" if self.ascii else "𝟎"
        if e in self._sized:
            return f"{zero}_{{{self._dim(e.shape[0])},{self._dim(e.shape[1])}}}", ATOM
        return zero, ATOM

    def _print_Kron(self, e: Kron) -> Printed:
        if self.ascii:
            return f"kron{self._arguments((e.left, e.right))}", ATOM
        return super()._print_Kron(e)

    def _print_Transpose(self, e: Transpose) -> Printed:
        if isinstance(e.arg, Num):  # (1)ᵀ: written 1ᵀ it would be the vector of ones
            return f"{self._paren(self._print(e.arg)[0])}{self.marks.transpose}", POSTFIX
        return super()._print_Transpose(e)


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
