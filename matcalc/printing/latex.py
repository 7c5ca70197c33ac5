"""The LaTeX printer: ``A^{\\top}``, ``X^{-1}``, ``\\odot``, ``\\otimes``, ``\\nabla L``."""

from __future__ import annotations

from collections.abc import Callable

from ..nodes import Call, Expr, Hadamard, Kron, MatMul, MatPow, Num, Ones, Power, Transpose, Var, Zeros
from ..shapes import dim_str
from .text import ATOM, NEG, POSTFIX, PRODUCT, SUM, _digits

_GREEK = {
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda",
    "mu", "nu", "xi", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi", "omega",
    "Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Upsilon", "Phi", "Psi", "Omega",
}
_UNICODE_GREEK = dict(zip(
    "αβγδεζηθικλμνξπρστυφχψωΓΔΘΛΞΠΣΦΨΩ",
    r"\alpha \beta \gamma \delta \epsilon \zeta \eta \theta \iota \kappa \lambda \mu \nu \xi \pi \rho "
    r"\sigma \tau \upsilon \phi \chi \psi \omega \Gamma \Delta \Theta \Lambda \Xi \Pi \Sigma \Phi \Psi "
    r"\Omega".split(),
))
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
    if base in _GREEK:
        base = "\\" + base
    elif len(base) == 1 and base in _UNICODE_GREEK:
        base = _UNICODE_GREEK[base]
    elif len(base) > 1:
        base = rf"\mathrm{{{base}}}"
    if sub:
        sub = sub if sub.isdigit() or len(sub) == 1 else rf"\mathrm{{{sub}}}"
        return f"{base}_{{{sub}}}"
    return base


class LatexPrinter:
    def __init__(self) -> None:
        self._memo: dict[int, tuple[str, int]] = {}
        self._keep: list[Expr] = []

    def doprint(self, e: Expr) -> str:
        return self._print(e)[0]

    def _print(self, e: Expr) -> tuple[str, int]:
        hit = self._memo.get(id(e))
        if hit is not None:
            return hit
        method: Callable[[Expr], tuple[str, int]] = getattr(self, f"_print_{type(e).__name__}")
        out = method(e)
        self._memo[id(e)] = out
        self._keep.append(e)
        return out

    def _paren(self, text: str) -> str:
        return rf"\left({text}\right)"

    def _base(self, e: Expr) -> str:
        text, prec = self._print(e)
        if prec < POSTFIX or isinstance(e, (Power, MatPow, Transpose)) or _is_inverse(e):
            return self._paren(text)
        return text

    def _print_Var(self, e: Var) -> tuple[str, int]:
        return latex_name(e.name), ATOM

    def _print_Num(self, e: Num) -> tuple[str, int]:
        v = e.value
        if v < 0:
            return f"-{self._print(Num(-v))[0]}", NEG
        if v.denominator == 1:
            return _digits(v.numerator), ATOM
        return rf"\frac{{{_digits(v.numerator)}}}{{{_digits(v.denominator)}}}", ATOM

    def _print_Identity(self, e: Expr) -> tuple[str, int]:
        return f"I_{{{dim_str(e.n)}}}", ATOM  # type: ignore[attr-defined]

    def _print_Ones(self, e: Ones) -> tuple[str, int]:
        r, c = e.shape
        if c == 1:
            return r"\mathbf{1}", ATOM
        if r == 1:
            return r"\mathbf{1}^{\top}", POSTFIX
        return r"\mathbf{1}\mathbf{1}^{\top}", PRODUCT

    def _print_Zeros(self, e: Zeros) -> tuple[str, int]:
        return r"\mathbf{0}", ATOM

    def _print_Commutation(self, e: Expr) -> tuple[str, int]:
        return rf"K_{{{dim_str(e.m)},{dim_str(e.n)}}}", ATOM  # type: ignore[attr-defined]

    def _print_Add(self, e: Expr) -> tuple[str, int]:
        parts = []
        for i, t in enumerate(e.terms):  # type: ignore[attr-defined]
            neg, body = self._split_sign(t)
            if i == 0:
                parts.append(f"-{body}" if neg else body)
            else:
                parts.append(f" {'-' if neg else '+'} {body}")
        return "".join(parts), SUM

    def _split_sign(self, t: Expr) -> tuple[bool, str]:
        if isinstance(t, Num) and t.value < 0:
            return True, self._print(Num(-t.value))[0]
        if isinstance(t, MatMul) and isinstance(t.factors[0], Num) and t.factors[0].value < 0:
            text, prec = self._product(-t.factors[0].value, t.factors[1:])
            return True, text if prec > SUM else self._paren(text)
        text, prec = self._print(t)
        return False, text if prec > SUM else self._paren(text)

    def _print_MatMul(self, e: MatMul) -> tuple[str, int]:
        f = e.factors
        if isinstance(f[0], Num):
            if f[0].value < 0:
                text, prec = self._product(-f[0].value, f[1:])
                return f"-{text if prec >= PRODUCT else self._paren(text)}", NEG
            return self._product(f[0].value, f[1:])
        return self._product(1, f)

    def _product(self, c, factors: tuple[Expr, ...]) -> tuple[str, int]:  # type: ignore[no-untyped-def]
        first = factors[0]
        if (len(factors) > 1 and isinstance(first, Power) and first.base.is_scalar
                and isinstance(first.exponent, Num) and first.exponent.value == -1):
            # s⁻¹ X as \frac{1}{s} X
            rest, _ = self._product(c, factors[1:])
            return rf"\frac{{1}}{{{self.doprint(first.base)}}} {rest}", PRODUCT
        parts = []
        for f in factors:
            text, prec = self._print(f)
            parts.append(self._paren(text) if prec <= PRODUCT else text)
        body = " ".join(parts)
        if c == 1:
            return body, PRODUCT
        return f"{self._print(Num(c))[0]} {body}", PRODUCT

    def _operand(self, f: Expr) -> str:
        text, prec = self._print(f)
        return text if prec >= POSTFIX else self._paren(text)

    def _print_Hadamard(self, e: Hadamard) -> tuple[str, int]:
        out = []
        for i, f in enumerate(e.factors):
            if i and isinstance(f, Power) and not f.base.is_scalar and isinstance(f.exponent, Num) and f.exponent.value == -1:
                out.append(rf" \oslash {self._operand(f.base)}")
            else:
                out.append((r" \odot " if i else "") + self._operand(f))
        return "".join(out), PRODUCT

    def _print_Kron(self, e: Kron) -> tuple[str, int]:
        return rf"{self._operand(e.left)} \otimes {self._operand(e.right)}", PRODUCT

    def _print_Transpose(self, e: Transpose) -> tuple[str, int]:
        if _is_inverse(e.arg):
            return rf"{self._base(e.arg.args[0])}^{{-\top}}", POSTFIX  # type: ignore[attr-defined]
        return rf"{self._base(e.arg)}^{{\top}}", POSTFIX

    def _print_Power(self, e: Power) -> tuple[str, int]:
        base = self._base(e.base)
        p = self.doprint(e.exponent)
        if e.base.is_scalar:
            return f"{base}^{{{p}}}", POSTFIX
        return rf"{base}^{{\circ {p}}}", POSTFIX

    def _print_MatPow(self, e: Expr) -> tuple[str, int]:
        return f"{self._base(e.base)}^{{{e.k}}}", POSTFIX  # type: ignore[attr-defined]

    def _print_Call(self, e: Call) -> tuple[str, int]:
        fn = e.fn
        if fn.key == "inv":
            return f"{self._base(e.args[0])}^{{-1}}", POSTFIX
        if fn.key == "norm":
            return rf"\left\lVert {self.doprint(e.args[0])} \right\rVert", ATOM
        return rf"{fn.latex}\left({self._args(e.args)}\right)", ATOM

    def _args(self, args: tuple[Expr, ...]) -> str:
        return ", ".join(self.doprint(a) for a in args)

    def _print_Apply(self, e: Expr) -> tuple[str, int]:
        return rf"{latex_name(e.name)}\left({self._args(e.args)}\right)", ATOM  # type: ignore[attr-defined]

    def _print_Grad(self, e: Expr) -> tuple[str, int]:
        return rf"\nabla {latex_name(e.name)}\left({self._args(e.args)}\right)", ATOM  # type: ignore[attr-defined]

    def _print_Deriv(self, e: Expr) -> tuple[str, int]:
        return rf"{latex_name(e.name)}'\left({self._args(e.args)}\right)", ATOM  # type: ignore[attr-defined]

    def _print_Jac(self, e: Expr) -> tuple[str, int]:
        return rf"\mathsf{{D}}{latex_name(e.name)}\left({self._args(e.args)}\right)", ATOM  # type: ignore[attr-defined]

    def _print_Unvec(self, e: Expr) -> tuple[str, int]:
        return rf"\operatorname{{vec}}^{{-1}}\left({self.doprint(e.arg)}\right)", ATOM  # type: ignore[attr-defined]

    def _print_Diff(self, e: Expr) -> tuple[str, int]:
        a = e.arg  # type: ignore[attr-defined]
        if isinstance(a, Var):
            return rf"\mathrm{{d}}{latex_name(a.name)}", ATOM
        return rf"\mathrm{{d}}\left({self.doprint(a)}\right)", ATOM


def _is_inverse(e: Expr) -> bool:
    return isinstance(e, Call) and e.fn.key == "inv"


def to_latex(e: Expr) -> str:
    return LatexPrinter().doprint(e)
