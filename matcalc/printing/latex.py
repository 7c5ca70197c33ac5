"""The LaTeX printer: ``A^{\\top}``, ``X^{-1}``, ``\\odot``, ``\\otimes``, ``\\nabla L``.

The structure is :class:`~.base.Printer`'s; this module supplies the LaTeX tokens and names."""

from __future__ import annotations

from fractions import Fraction

from .. import functions as F
from .. import greek
from ..nodes import Diff, Expr, Ones, Transpose, Zeros
from ..shapes import Dim, dim_str
from .base import ATOM, PRODUCT, Marks, Printed, Printer, digits

LATEX = Marks(minus="-", hadamard=r" \odot ", divide=r" \oslash ", kron=r" \otimes ", transpose=r"^{\top}",
              inverse_transpose=r"^{-\top}", differential=r"\mathrm{d}", grad=r"\nabla ", prime="'",
              jac=r"\mathsf{D}", ones_gap="", hess=r"\nabla^{2} ")

_SUBSCRIPTS = str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789")


def latex_name(name: str) -> str:
    """``W1`` → ``W_{1}``, ``b_out`` → ``b_{\\mathrm{out}}``, ``lambda`` → ``\\lambda``."""
    name = name.translate(_SUBSCRIPTS)
    base, sub = name, ""
    if "_" in name:
        base, sub = name.split("_", 1)
    else:
        i = len(name)
        while i > 1 and name[i - 1].isdigit():
            i -= 1
        base, sub = name[:i], name[i:]
    if base in greek.LATEX_LETTERS:
        base = "\\" + base
    elif len(base) == 1 and base in greek.COMMANDS:
        base = greek.COMMANDS[base]
    elif len(base) > 1:
        base = rf"\mathrm{{{base}}}"
    if sub:
        sub = sub if sub.isdigit() or len(sub) == 1 else rf"\mathrm{{{sub}}}"
        return f"{base}_{{{sub}}}"
    return base


class LatexPrinter(Printer):
    marks = LATEX

    # -- hooks -------------------------------------------------------------------------------
    def _paren(self, text: str) -> str:
        return rf"\left({text}\right)"

    def _name(self, name: str) -> str:
        return latex_name(name)

    def _dim(self, d: Dim) -> str:
        return dim_str(d).replace("·", r" \cdot ")  # I_{m \cdot n}: no raw Unicode in maths

    def _fraction(self, numerator: str, denominator: str) -> Printed:
        return rf"\frac{{{numerator}}}{{{denominator}}}", ATOM

    def _scaled_by_fraction(self, c: Fraction, body: str) -> str:
        return f"{self._fraction(digits(c.numerator), digits(c.denominator))[0]} {body}"

    def _divided(self, rest: str, s: Expr, q: int = 1, p: int = 1) -> str:
        below = self.doprint(s) if q == 1 else f"{digits(q)} {self._wrap(s, PRODUCT + 1)}"
        return rf"\frac{{{digits(p)}}}{{{below}}} {rest}"  # 2 s⁻¹ X as \frac{2}{s} X

    def _superscript(self, base: str, k: str) -> str:
        return f"{base}^{{{k}}}"

    def _scalar_power(self, base: str, p: Expr) -> str:
        return self._superscript(base, self.doprint(p))

    def _elementwise_power(self, base: str, p: Expr) -> str:
        return rf"{base}^{{\circ {self.doprint(p)}}}"

    def _ones(self, e: Ones, d: Dim) -> str:
        return r"\mathbf{1}"

    def _unvec(self, e: Expr) -> str:
        return r"\operatorname{vec}^{-1}"

    def _function(self, fn: F.Function) -> str:
        return fn.latex

    def _braced(self, fn: F.Function) -> bool:
        return fn.latex_braced

    def _postfix(self, marks: tuple[str, str, str]) -> str:
        return marks[2]

    def _between_bars(self, arg: Expr, subscript: tuple[str, str]) -> str | None:
        sub = subscript[1]
        if sub and not sub.startswith("_{"):  # the row's "_1" as _{1}
            sub = f"_{{{sub.removeprefix('_')}}}"
        return rf"\left\lVert {self.doprint(arg)} \right\rVert{sub}"

    def _juxtaposed(self, factors: tuple[Expr, ...]) -> str:
        # a thin space on each side of a differential, which juxtaposition in maths would run
        # together with its neighbours: \mathrm{d}W\,x reads (dW) x, not d(Wx)
        out = []
        for i, f in enumerate(factors):
            if i:
                out.append(r" \, " if _differential(f) or _differential(factors[i - 1]) else " ")
            out.append(self._wrap(f, PRODUCT + 1))
        return "".join(out)

    # -- what only LaTeX writes ----------------------------------------------------------------
    def _print_Size(self, e: Expr) -> Printed:
        text = dim_str(e.dim).replace("·", r" \cdot ")  # type: ignore[attr-defined]
        return text, ATOM if text.isalnum() else PRODUCT

    def _print_Identity(self, e: Expr) -> Printed:
        return f"I_{{{self._dim(e.n)}}}", ATOM  # type: ignore[attr-defined]

    def _print_Zeros(self, e: Zeros) -> Printed:
        return r"\mathbf{0}", ATOM


def _differential(e: Expr) -> bool:
    """dX or dXᵀ."""
    return isinstance(e, Diff) or (isinstance(e, Transpose) and isinstance(e.arg, Diff))


def to_latex(e: Expr) -> str:
    return LatexPrinter().doprint(e)
