"""Numbers and sizes as written: ``2.5e3``, ``½``, ``2½``, the superscript exponent ``⁻²``,
and the sizes of sized constants (``I_n``, ``𝟏ₘ``, ``K_{m,n}``), each within the bounds
of :mod:`matcalc.limits`."""

from __future__ import annotations

import re
import unicodedata
from fractions import Fraction
from typing import Any

from lark import Token

from ..declare import NAME_PATTERN
from ..errors import ParseError, Span
from ..limits import MAX_DECIMAL_EXPONENT, MAX_DIGITS, MAX_SIZE
from ..shapes import dim_mul
from .source import token_span

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
