r"""The vocabulary of the LaTeX reader (:mod:`matcalc.latex_reader`): the commands it
knows (Greek letters, fonts, words, accents, operators, spacing it ignores), how it asks
the function table about a spelling, and the tokenizer of a cell."""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import functions as F
from . import greek
from .errors import MatcalcError


class CellError(MatcalcError):
    """A table cell the LaTeX reader does not understand."""

    kind = "unreadable cell"


GREEK = {**greek.LATEX_LETTERS, **greek.VARIANTS}
#: commands that only change the font of their argument
FONTS = {"mathbf", "boldsymbol", "bm", "mathit", "mathbfit", "pmb", "vec", "mathcal", "mathnormal", "bf"}
#: the fonts of vectors: a lowercase letter in one of them is a vector (\cdot between two is a dot product)
BOLD = {"mathbf", "boldsymbol", "bm", "mathbfit", "pmb", "vec", "bf"}
#: commands whose argument is one word (a function name, or T in a superscript)
WORDS = {"operatorname", "operatorname*", "mathrm", "text", "textrm", "textit", "textbf", "mathsf", "texttt",
         "textsf", "mathtt"}
#: accents make a different variable: \hat{y} is y_hat, not y
ACCENTS = {"hat": "hat", "widehat": "hat", "bar": "bar", "overline": "bar", "tilde": "tilde",
           "widetilde": "tilde", "dot": "dot", "check": "check"}
#: \cdot is a dot product between two bold vectors and a product elsewhere: the reader
#: marks it with DOT and :meth:`_Reader.infix` decides
DOT = "⋅"
#: A : X, the Frobenius inner product, until :meth:`_Reader.infix` writes it as tr(Aᵀ X)
COLON = ":"
OPERATORS = {"cdot": DOT, "times": "*", "ast": "*", "odot": "⊙", "circ": "⊙", "otimes": "⊗", "oslash": "./",
             "div": "/"}
IGNORED = {"left", "right", "big", "Big", "bigg", "Bigg", "bigl", "bigr", "Bigl", "Bigr", "biggl", "biggr",
           "Biggl", "Biggr", "displaystyle", "textstyle", "quad", "qquad", "nonumber", "limits"}
#: f, g, h, L, ℓ, φ, ψ right before "(" are functions; any other letter there is a factor
FUNCTION_LETTERS = {"f", "g", "h", "L", "ℓ", "φ", "ψ", "σ"}  # L: a loss, as in L(W x + b)
#: the norm subscripts that are the plain norm's: ‖x‖₂ (Euclidean), ‖X‖_F (Frobenius)
EUCLIDEAN = {"2", "F"}

_TOKEN = re.compile(
    r"(?P<cmd>\\[A-Za-z]+\*?)|(?P<sym>\\[^A-Za-z])|(?P<num>[0-9]+(?:\.[0-9]+)?|\.[0-9]+)"
    r"|(?P<letter>[A-Za-zα-ωΑ-Ωℓ])|(?P<space>\s+)|(?P<char>.)",
    re.S,
)
_SPACE_SYMS = {"\\,", "\\;", "\\!", "\\:", "\\>", "\\ ", "\\\n", "\\\t"}
_SUPERSCRIPTS = "ᵀ⁻⁰¹²³⁴⁵⁶⁷⁸⁹"
#: a name as the reader writes one: W, x, λ, x_1, y_hat
NAME = re.compile(r"[A-Za-zα-ωΑ-Ωℓ][A-Za-z0-9α-ωΑ-Ω_]*")
#: items that are scalars whatever the declarations: numbers, numeric fractions, Greek letters
_SCALAR = re.compile(r"[0-9.]+|\([0-9.]+/[0-9.]+\)|[α-ω]")
#: items that end a product on either side of a \cdot or a :
_BOUNDARY = {"+", "-", "=", ","}
#: the items of a sequence that are operators
_OPS = {*_BOUNDARY, "*", "/", "./", "⊙", "⊗", DOT, COLON}
#: the superscripts that transpose
#: the LaTeX of the functions some notations stand for: e^x, tr(Aᵀ X) for ⟨A, X⟩ and A : X
_EXP, _TRACE = r"\exp", r"\operatorname{tr}"
_TRANSPOSE = {"T", "\\top", "\\intercal", "\\mathsfT", "\\mathrmT", "\\textT", "\\operatornameT", "'", "ᵀ"}


# ======================================================================================
# The function table, as the reader asks it
# ======================================================================================


def _named(spelling: str) -> str:
    """The plain name of the row a LaTeX spelling names (``\\det`` → det): for the notations
    that stand for a function (e^x, √, |X|, ‖x‖, ⟨A, X⟩)."""
    fn = F.lookup_latex(spelling)
    if fn is None:  # the table lost a row the reader's notation needs: a bug, said plainly
        raise CellError(f"the function table has no row for {spelling}")
    return fn.name


def folded(word: str) -> str | None:
    """The function whose name is ``word`` but for case (``Tr``, ``Trace``, ``ReLU``), when
    exactly one is; else None."""
    hits = set()
    for name in F.names():
        if name.casefold() == word.casefold():
            fn = F.lookup(name)
            hits.add(fn.name if fn is not None else name)  # trace and tr are one function
    return hits.pop() if len(hits) == 1 else None


def command_function(command: str) -> str | None:
    """The function a LaTeX command ``\\command`` spells (``exp``, ``ln``, ``cosh``, ``sum``, a
    macro such as ``\\softmax`` or ``\\Tr``), or None."""
    fn = F.lookup_latex("\\" + command)
    return fn.name if fn is not None else folded(command)


def norms() -> dict[str, str]:
    """The functions written between norm bars, by their LaTeX subscript ("" for none, "1"
    for ‖x‖₁): read from the rows' ``bars``."""
    return {fn.bars[1].removeprefix("_").strip("{}"): fn.name for fn in F.TABLE.values() if fn.bars is not None}


# ======================================================================================
# Tokens
# ======================================================================================


@dataclass(frozen=True, slots=True)
class _Tok:
    #: cmd, num, letter, space, bar (‖), bar1 (|), prime, op, open, close, lbrace, rbrace,
    #: langle, rangle, sup, sub, char
    kind: str
    text: str


def _tokens(s: str) -> list[_Tok]:
    """The LaTeX of one cell as tokens; spacing, \\left and \\right are dropped here."""
    out: list[_Tok] = []
    for m in _TOKEN.finditer(s):
        kind, text = m.lastgroup or "char", m.group()
        if kind == "cmd":
            name = text[1:]
            if name in IGNORED:
                continue
            if name in {"Vert", "lVert", "rVert"}:
                out.append(_Tok("bar", "‖"))
            elif name in {"vert", "lvert", "rvert", "mid"}:
                out.append(_Tok("bar1", "|"))
            elif name == "prime":
                out.append(_Tok("prime", "'"))
            elif name in OPERATORS:
                out.append(_Tok("op", OPERATORS[name]))
            elif name == "langle":
                out.append(_Tok("langle", "⟨"))
            elif name == "rangle":
                out.append(_Tok("rangle", "⟩"))
            elif name in {"lbrace", "lbrack"} or name in {"rbrace", "rbrack"}:
                raise CellError(f"cannot read the delimiter {text}")
            else:
                out.append(_Tok("cmd", name))
        elif kind == "sym":
            if text in _SPACE_SYMS:
                continue
            if text == "\\|":
                out.append(_Tok("bar", "‖"))
            elif text == "\\{":
                out.append(_Tok("open", "("))
            elif text == "\\}":
                out.append(_Tok("close", ")"))
            else:
                raise CellError(f"cannot read {text!r}")
        elif kind == "space":
            out.append(_Tok("space", " "))
        elif kind in ("num", "letter"):
            out.append(_Tok(kind, text))
        else:
            out.append(_char_token(text, out))
    return out


def _char_token(c: str, before: list[_Tok]) -> _Tok:
    if c == "|":
        if before and before[-1].kind == "bar1" and before[-1].text == "|":  # || is a norm bar
            before.pop()
            return _Tok("bar", "‖")
        return _Tok("bar1", "|")
    if c == "‖":
        return _Tok("bar", "‖")
    if c in "'’′⊤":
        return _Tok("prime", "'")
    if c in "+-−*/,=·⋅⊙∘⊗×:":
        return _Tok("op", {"−": "-", "·": DOT, "∘": "⊙", "×": "*"}.get(c, c))
    if c in "([":
        return _Tok("open", c)
    if c in ")]":
        return _Tok("close", c)
    if c in "⟨⟩":
        return _Tok("langle" if c == "⟨" else "rangle", c)
    if c == "{":
        return _Tok("lbrace", c)
    if c == "}":
        return _Tok("rbrace", c)
    if c == "^":
        return _Tok("sup", c)
    if c == "_":
        return _Tok("sub", c)
    if c == "~":
        return _Tok("space", " ")
    if c.isascii():  # & % # ! ? @ ; < > " . \ and the like mean nothing here
        raise CellError(f"cannot read the character {c!r}")
    return _Tok("char", c)  # Unicode maths (𝟏, ᵀ, ½, ∇, …): the expression parser reads it
