"""Declarations: what the names in an expression are.

From the CLI (``--where "A: m×n, x: n, s: scalar, S: n×n symmetric, f: elementwise"``)
or from Python (``where=`` the same string, or a dict ``{"A": "m×n", "x": 3,
"B": (2, 3)}``).  A declaration gives a variable's shape or a function's kind:

=============================  ==============================================
``A: m×n`` (also ``m x n``)    an m×n matrix; sizes are symbols or numbers
``x: n``, ``x: vector``        a column vector of length n (or inferred)
``s: scalar``                  a scalar
``A: matrix``, ``A: square``   a matrix of inferred size (square: n×n)
``S: n×n symmetric``           a symmetric matrix (``S: symmetric`` infers n)
``L: function``                an abstract scalar-valued function (the default)
``f: elementwise``             an abstract function applied entry by entry
``g: vector function m``       an abstract vector-valued function, values in ℝᵐ
=============================  ==============================================

Undeclared names get textbook defaults (see :func:`default_kind`).
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Union

from . import greek
from .errors import DeclarationError
from .limits import MAX_SIZE
from .shapes import DimProd, dim_mul

#: a dimension as declared: a number, a symbol, or None for "infer it"
DeclDim = Union[int, str, DimProd, None]

GREEK_NAMES = greek.NAMES
_GREEK_LOWER = greek.LOWER
_GREEK_UPPER = greek.UPPER


@dataclass(frozen=True)
class VarDecl:
    rows: DeclDim
    cols: DeclDim
    symmetric: bool = False
    #: rows and cols are one (possibly inferred) size; implied by symmetric
    square: bool = False


@dataclass(frozen=True)
class FuncDecl:
    kind: str  # "scalar", "elementwise" or "vector"
    out: DeclDim = None


@dataclass(frozen=True)
class Declarations:
    variables: Mapping[str, VarDecl] = field(default_factory=dict)
    functions: Mapping[str, FuncDecl] = field(default_factory=dict)
    source: str | None = None

    def dim_symbols(self) -> set[str]:
        out = set()
        for v in self.variables.values():
            out.update(d for d in (v.rows, v.cols) if isinstance(d, str))
        for f in self.functions.values():
            if isinstance(f.out, str):
                out.add(f.out)
        return out


def base_name(name: str) -> str:
    """The name without its subscript: ``W1`` → ``W``, ``b_1`` → ``b``, ``x₁`` → ``x``,
    ``lambda_2`` → ``lambda``."""
    m = re.match(r"[^\d_₀-₉]+", name)
    return m.group(0) if m else name


#: letters that notes use for functions: f′(x) with f undeclared is read as a product, and said
FUNCTION_LETTERS = frozenset("fghFGLℓφψ")


def may_be_abstract(name: str) -> bool:
    """Can an undeclared name used as ``name(…)`` be an abstract function?  Only a single
    letter, with a subscript or primes (``L``, ``f``, ``g``, ``ℓ``, ``φ``, ``phi``, ``L₁``,
    ``L_1``): the way notes name an unspecified function.  A longer unknown name is far
    more likely a built-in mistyped or one matcalc lacks (``trr``, ``cosh``, ``mean``);
    it must be declared (``--where "mean: function"``) to be read as abstract."""
    base = base_name(name).rstrip("'′")
    return len(base) == 1 or base in GREEK_NAMES


def closest(word: str, choices: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The choice nearest to ``word`` (for "did you mean …?"), or None."""
    choices = list(choices)
    if word.lower() in GREEK_NAMES:  # Sigma for Σ, mu for μ
        case = "CAPITAL" if word[0].isupper() else "SMALL"
        try:
            letter = unicodedata.lookup(f"GREEK {case} LETTER {word.upper()}")
        except KeyError:  # varphi, varepsilon: no letter of that name
            letter = ""
        if letter in choices:
            return letter
    if len(word) == 1 and word.lower() in _GREEK_LOWER:  # Σ for Sigma
        named = unicodedata.name(word, "").split()[-1].lower()
        for c in choices:
            if c.lower() == named and c[0].isupper() == word.isupper():
                return c
    found = difflib.get_close_matches(word, choices, n=1, cutoff=cutoff)
    if not found:  # X for x: the same letter in the other case
        lower = {c.lower(): c for c in choices}
        found = [lower[w] for w in difflib.get_close_matches(word.lower(), list(lower), n=1, cutoff=cutoff)]
    return found[0] if found else None


def default_kind(name: str) -> str:
    """The textbook reading of an undeclared name: ``scalar``, ``vector`` or ``matrix``.

    Greek letters and Greek names (``λ``, ``lambda``, ``alpha``, ``μ``) are scalars, but
    capital Greek letters (``Σ``, ``Λ``) and capitalised names (``Sigma``) are matrices,
    as covariance matrices are; capital Latin letters are matrices; lowercase Latin
    names are column vectors.
    """
    base = base_name(name)
    if base in GREEK_NAMES or (len(base) == 1 and base in _GREEK_LOWER):
        return "scalar"
    if base.lower() in GREEK_NAMES or base[0] in _GREEK_UPPER or base[0].isupper():
        return "matrix"
    return "vector"


_DIM = r"(?:\d+|[A-Za-zα-ω][A-Za-z0-9_]*)"
_TIMES = re.compile(r"\s*(?:×|\*|,|\bx\b|(?<=\d)x(?=\d)|(?<=\d)x\b|\bx(?=\d))\s*")
#: a name, as the grammar's NAME token reads it: W, x, λ, ℓ, lambda, W1, b_1, x₁, W_out
NAME_PATTERN = r"[A-Za-zα-ωΑ-Ωℓ][A-Za-z0-9α-ωΑ-Ω_]*[₀-₉]*"
_NAME = re.compile(NAME_PATTERN + "$")


def _dim(text: str) -> DeclDim:
    text = text.strip().strip("{}")
    if re.search(r"[·*]", text):  # a product of sizes, as vec(X) has: m·n (ASCII {m*n})
        out: Any = 1
        for part in re.split(r"[·*]", text):
            out = dim_mul(out, _dim(part))
        return out
    if re.fullmatch(r"\d+", text):
        if len(text) > 7 or not 1 <= int(text) <= MAX_SIZE:
            raise ValueError(f"a size is a whole number from 1 to {MAX_SIZE:,} or a name, not {text}")
        value = int(text)
        return value
    if re.fullmatch(_DIM, text):
        return text
    raise ValueError(f"'{text}' is not a size (a number or a symbol like n)")


def parse_spec(spec: object) -> VarDecl | FuncDecl:
    """One declaration's right-hand side: ``m×n``, ``n``, ``scalar``, ``elementwise``, …"""
    if isinstance(spec, (VarDecl, FuncDecl)):
        return spec
    if isinstance(spec, bool):
        raise ValueError(f"{spec!r} is not a shape")
    if isinstance(spec, int):
        return VarDecl(_dim(str(spec)), 1)
    if isinstance(spec, tuple):
        if len(spec) == 1:
            return VarDecl(_dim(str(spec[0])), 1)
        if len(spec) == 2:
            return VarDecl(_dim(str(spec[0])), _dim(str(spec[1])))
        raise ValueError(f"a shape has two sizes, not {len(spec)}")
    if not isinstance(spec, str):
        raise ValueError(f"{spec!r} is not a shape or kind")
    words = spec.strip()
    low = words.lower()
    _reject_unknown_words(low)
    # functions
    if low in ("function", "scalar function", "scalar-valued", "scalar-valued function"):
        return FuncDecl("scalar")
    if low in ("elementwise", "elementwise function", "element-wise"):
        return FuncDecl("elementwise")
    m = re.fullmatch(r"(?:vector function|vector-valued(?: function)?|function\s*(?:->|→))\s*(\S+)?", low)
    if m:
        return FuncDecl("vector", _dim(words.split()[-1]) if m.group(1) else None)
    # variables
    symmetric = False
    if re.search(r"\bsymmetric\b", low):
        symmetric = True
        words = re.sub(r"\s*\bsymmetric\b\s*", " ", words, flags=re.I).strip()
        low = words.lower()
        if low in ("", "matrix", "square"):
            return VarDecl(None, None, True, True)
    if low == "scalar":
        return VarDecl(1, 1)
    if low in ("vector", "column vector"):
        return VarDecl(None, 1)
    if low == "row vector":
        return VarDecl(1, None)
    if low == "matrix":
        return VarDecl(None, None)
    if low == "square":
        return VarDecl(None, None, False, True)
    words = re.sub(r"^\s*(?:ℝ|R)\s*\^\s*", "", words)  # ℝ^{m×n}, R^n
    words = words.strip("() ")
    words = re.sub(r"\{([^{}]*)\}", lambda m: m.group(1).replace("*", "·"), words)
    said_vector = re.match(r"^(?:vector\s+|\S+-vector$)", words) is not None
    words = re.sub(r"^(?:vector\s+|(\S+)-vector$)", lambda mm: mm.group(1) or "", words)
    words = re.sub(r"^([A-Za-z0-9])x([A-Za-z0-9])$", r"\1×\2", words)  # nxn, mx1: as --format ascii prints
    bare = words
    if not said_vector and re.fullmatch(r"[A-Za-z][A-Za-z-]+", bare) and bare.lower() not in KEYWORDS:
        raise ValueError(
            f"unknown word '{bare}': a declaration is a shape (n, m×n) or a kind (scalar, vector, matrix, "
            f"square, symmetric, function, elementwise, vector function m); for a vector of length {bare}, "
            f"write 'vector {bare}'"
        )
    raw = _TIMES.split(words)
    parts = [p for p in raw if p.strip() != ""]
    if len(raw) > 1 and len(parts) != len(raw):
        raise ValueError(f"'{spec}' is missing a size: write m×n")
    if len(parts) == 1:
        if symmetric:
            return VarDecl(_dim(parts[0]), _dim(parts[0]), True, True)
        return VarDecl(_dim(parts[0]), 1)
    if len(parts) == 2:
        rows, cols = _dim(parts[0]), _dim(parts[1])
        if symmetric and rows != cols:
            raise ValueError(f"a symmetric matrix is square, but {rows}×{cols} is not")
        return VarDecl(rows, cols, symmetric, symmetric)
    raise ValueError(
        f"'{spec}' is not a shape or kind: write m×n, n, scalar, vector, matrix, "
        "symmetric, function, elementwise or vector function m"
    )


#: the words a declaration may use besides sizes
KEYWORDS = ("scalar", "vector", "matrix", "square", "symmetric", "function", "elementwise", "element-wise",
            "column", "row", "valued", "scalar-valued", "vector-valued")


def _reject_unknown_words(spec: str) -> None:
    """A word close to a keyword but not one is a typo (``symetric``), not a size name."""
    for word in re.findall(r"[a-z][a-z0-9_-]{2,}", spec):
        if word in KEYWORDS or word.endswith("-vector") or not re.fullmatch(r"[a-z-]+", word):  # n_1, rows2
            continue
        near = closest(word, KEYWORDS, cutoff=0.8)
        if near is not None:
            raise ValueError(f"unknown word '{word}': did you mean '{near}'?")


def parse_where(where: str | Mapping[str, object] | Declarations | None) -> Declarations:
    """Declarations from a ``where`` string or dict; errors point into the string."""
    if where is None:
        return Declarations()
    if isinstance(where, Declarations):
        return where
    items: list[tuple[str, object, tuple[int, int] | None]] = []
    source = None
    if isinstance(where, str):
        source = where
        pos = 0
        for chunk in _split_top_level(where):
            start = where.index(chunk, pos) if chunk else pos
            pos = start + len(chunk)
            if not chunk.strip():
                continue
            if ":" not in chunk:
                raise DeclarationError(
                    f"'{chunk.strip()}' is not a declaration: write name: shape, e.g. A: m×n",
                    (start, start + len(chunk)), where,
                )
            name, spec = chunk.split(":", 1)
            items.append((name.strip(), spec.strip(), (start, start + len(chunk))))
    elif isinstance(where, Mapping):
        items = [(str(k), v, None) for k, v in where.items()]
    else:
        raise DeclarationError(f"declarations are a string such as \"A: m×n, x: n\" or a dict such as "
                               f"{{\"A\": \"m×n\"}}, not {type(where).__name__}", None)
    variables: dict[str, VarDecl] = {}
    functions: dict[str, FuncDecl] = {}
    for name, spec, span in items:
        for one in [n.strip() for n in name.split()] if " " in name.strip() else [name]:
            if not _NAME.match(one):
                raise DeclarationError(f"'{one}' is not a name", span, source)
            if one in variables or one in functions:
                raise DeclarationError(f"'{one}' is declared twice", span, source)
            try:
                decl = parse_spec(spec)
            except ValueError as exc:
                raise DeclarationError(f"{one}: {exc}", span, source) from None
            if isinstance(decl, FuncDecl):
                functions[one] = decl
            else:
                variables[one] = decl
    return Declarations(variables, functions, source)


def _split_top_level(text: str) -> list[str]:
    """Split at commas and semicolons that are not inside parentheses (``A: (m, n)``)."""
    out, depth, cur = [], 0, ""
    for ch in text:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch in ",;" and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return out
