"""Identity tables in Markdown, as lecture notes write them, checked row by row.

A table is found by its header, the row above the ``|---|---|`` line: its second cell
names the derivative and the variable, as ``$\\frac{\\partial f}{\\partial \\mathbf{x}}$``,
``$\\frac{\\partial f}{\\partial \\boldsymbol{\\Sigma}}$``, ``$\\partial f / \\partial X$``,
``$\\nabla_{\\mathbf{w}} f$`` or ``$\\nabla_{\\mathbf{x}} f(\\mathbf{x})$``.  Each row below
gives an expression and its derivative (``$A^{-T} = (A^{-1})^T$``: each side of ``=`` is
checked).  Notes in parentheses at the end of either cell are read: a plain one declares —
"(symmetric $A$)", "($A$ is symmetric)", "(for symmetric $A$, $B$)", "($A = A^T$)" — and
every other note ("A not symmetric", "skew-symmetric $A$", "if $A = A^T$", a name that is
not in the row) is shown as a note not used.  Each row says what its notes declared, how
it read each ``\\cdot`` between vectors, what the reading assumed, and the shapes it
inferred when a variable is not of the kind its letter suggests.

Cells are read as LaTeX, strictly: letters side by side are a product (``AB`` is A times
B), ``\\cdot`` is the dot product between two bold vectors (``\\mathbf{a}\\cdot\\mathbf{x}``
is aᵀx) and a product elsewhere (``c \\cdot A``), ``\\|…\\|``, ``\\lVert…\\rVert`` and
``\\left\\|…\\right\\|`` are norms, ``e^{x}`` is exp(x), ``\\log\\det X`` is logdet(X),
``\\mathbf{1}`` is 𝟏, Greek commands are Greek letters, ``\\sigma(…)`` is the logistic
sigmoid and f, g, h, L, ℓ, φ, ψ before ``(`` are functions.  Anything the reader does not
understand — an unknown command or function, a single bar ``|x|``, a subscript it cannot
name — makes the cell *unreadable*, reported with its line; it is never skipped and never
read as a different expression.  So is a table that looks like a derivative table but
whose header the reader cannot read.

The file itself is read with a bound (:data:`matcalc.limits.MAX_TABLE_BYTES`), as UTF-8
(a byte-order mark is skipped, CRLF line ends work); anything else is a clean error that
names the file and the byte offset.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from . import api, limits
from . import functions as F
from .declare import default_kind, parse_where
from .errors import EXIT_CODES, DiffError, MatcalcError, TimeLimitError
from .functions import lookup
from .verify import Verdict, check


class TableError(MatcalcError):
    """A table file that cannot be read at all."""

    kind = "table error"


class CellError(MatcalcError):
    """A table cell the LaTeX reader does not understand."""

    kind = "unreadable cell"


# ======================================================================================
# Reading the file
# ======================================================================================


def read_table_file(path: str) -> str:
    """The text of a Markdown file: at most ``MAX_TABLE_BYTES`` bytes of UTF-8.

    A byte-order mark is dropped; NUL bytes (a binary file) or bytes that are not UTF-8
    are a :class:`TableError` naming the file and the offset of the first bad byte.
    """
    try:
        with open(path, "rb") as f:
            data = f.read(limits.MAX_TABLE_BYTES + 1)
    except OSError as exc:
        raise TableError(f"cannot read {path}: {exc.strerror or exc}") from None
    return decode_table(data, path)


def decode_table(data: bytes, name: str = "the table") -> str:
    """``data`` as text, or a :class:`TableError` (see :func:`read_table_file`)."""
    if len(data) > limits.MAX_TABLE_BYTES:
        raise TableError(f"{name} is larger than {limits.MAX_TABLE_BYTES:,} bytes, the most matcalc reads "
                         "from a table file; split it into smaller files")
    nul = data.find(b"\0")
    if nul >= 0:
        raise TableError(f"{name} is not a text file: a NUL byte at byte offset {nul}")
    start = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    try:
        return data[start:].decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = start + exc.start
        raise TableError(f"{name} is not UTF-8 text: the byte 0x{data[offset]:02x} at byte offset {offset} "
                         f"cannot be read ({exc.reason}); save the file as UTF-8") from None


# ======================================================================================
# LaTeX cells → matcalc text
# ======================================================================================

GREEK = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "varepsilon": "ε", "zeta": "ζ",
    "eta": "η", "theta": "θ", "vartheta": "θ", "iota": "ι", "kappa": "κ", "lambda": "λ", "mu": "μ", "nu": "ν",
    "xi": "ξ", "pi": "π", "rho": "ρ", "varrho": "ρ", "sigma": "σ", "tau": "τ", "upsilon": "υ", "phi": "φ",
    "varphi": "φ", "chi": "χ", "psi": "ψ", "omega": "ω", "Gamma": "Γ", "Delta": "Δ", "Theta": "Θ",
    "Lambda": "Λ", "Xi": "Ξ", "Pi": "Π", "Sigma": "Σ", "Upsilon": "Υ", "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω",
}
#: \log, \det, …: a function applied to the group or atom that follows
FUNCTION_COMMANDS = {
    "log": "log", "ln": "log", "exp": "exp", "det": "det", "sin": "sin", "cos": "cos", "tanh": "tanh",
    "tr": "tr", "Tr": "tr", "trace": "tr", "diag": "diag", "vec": "vec", "softmax": "softmax",
}
#: function names written as words (plain letters or \operatorname{…}, \mathrm{…}, \text{…})
FUNCTION_WORDS = {
    **{name: name for name in F.names()}, **FUNCTION_COMMANDS, "Trace": "tr", "Diag": "diag", "ReLU": "relu",
}
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
#: marks it with DOT and :meth:`_Reader.dots` decides
DOT = "⋅"
OPERATORS = {"cdot": DOT, "times": "*", "ast": "*", "odot": "⊙", "circ": "⊙", "otimes": "⊗", "oslash": "./",
             "div": "/"}
IGNORED = {"left", "right", "big", "Big", "bigg", "Bigg", "bigl", "bigr", "Bigl", "Bigr", "biggl", "biggr",
           "Biggl", "Biggr", "displaystyle", "textstyle", "quad", "qquad", "nonumber", "limits"}
#: f, g, h, L, ℓ, φ, ψ right before "(" are functions; any other letter there is a factor
FUNCTION_LETTERS = {"f", "g", "h", "L", "ℓ", "φ", "ψ", "σ"}  # L: a loss, as in L(W x + b)

_TOKEN = re.compile(
    r"(?P<cmd>\\[A-Za-z]+\*?)|(?P<sym>\\[^A-Za-z])|(?P<num>[0-9]+(?:\.[0-9]+)?|\.[0-9]+)"
    r"|(?P<letter>[A-Za-zα-ωΑ-Ωℓ])|(?P<space>\s+)|(?P<char>.)",
    re.S,
)
_SPACE_SYMS = {"\\,", "\\;", "\\!", "\\:", "\\>", "\\ ", "\\\n", "\\\t"}
_SUPERSCRIPTS = "ᵀ⁻⁰¹²³⁴⁵⁶⁷⁸⁹"
_NAME = re.compile(r"[A-Za-zα-ωΑ-Ωℓ][A-Za-z0-9α-ωΑ-Ω_]*")
#: items that are scalars whatever the declarations: numbers, numeric fractions, Greek letters
_SCALAR = re.compile(r"[0-9.]+|\([0-9.]+/[0-9.]+\)|[α-ω]")
#: items that end a product on either side of a \cdot
_BOUNDARY = {"+", "-", "=", ","}
#: the items of a sequence that are operators
_OPS = {*_BOUNDARY, "*", "/", "./", "⊙", "⊗", DOT}


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # cmd, num, letter, space, bar (‖), bar1 (|), prime, op, open, close, lbrace, rbrace, sup, sub, char
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
            elif name in {"lbrace", "lbrack", "langle"} or name in {"rbrace", "rbrack", "rangle"}:
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
    if c in "'’′":
        return _Tok("prime", "'")
    if c in "+-−*/,=·⋅⊙∘⊗×":
        return _Tok("op", {"−": "-", "·": DOT, "∘": "⊙", "×": "*"}.get(c, c))
    if c in "([":
        return _Tok("open", c)
    if c in ")]":
        return _Tok("close", c)
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
    if c.isascii():  # & % # ! ? @ ; : < > " . \ and the like mean nothing here
        raise CellError(f"cannot read the character {c!r}")
    return _Tok("char", c)  # Unicode maths (𝟏, ᵀ, ∇, …): the expression parser reads it


class _Reader:
    """A strict recursive-descent reader of one cell's tokens into matcalc text."""

    def __init__(self, tokens: list[_Tok], functions: frozenset[str] = frozenset(),
                 parent: _Reader | None = None):
        self.toks = tokens
        self.i = 0
        self.depth = 0
        self.functions = functions  # names declared as functions with --where
        #: names written in a bold font that are vectors in lecture notes (\mathbf{x}, \boldsymbol{\mu})
        self.bold: set[str] = parent.bold if parent else set()
        #: how each \cdot between vectors was read, in words
        self.readings: list[str] = parent.readings if parent else []

    # -- tokens ---------------------------------------------------------------------------
    def peek(self, skip_space: bool = True) -> _Tok | None:
        j = self.i
        while skip_space and j < len(self.toks) and self.toks[j].kind == "space":
            j += 1
        return self.toks[j] if j < len(self.toks) else None

    def take(self, skip_space: bool = True) -> _Tok:
        while skip_space and self.i < len(self.toks) and self.toks[self.i].kind == "space":
            self.i += 1
        if self.i >= len(self.toks):
            raise CellError("the cell ends too early")
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def at(self, kind: str, text: str | None = None, skip_space: bool = True) -> bool:
        t = self.peek(skip_space)
        return t is not None and t.kind == kind and (text is None or t.text == text)

    # -- sequences ------------------------------------------------------------------------
    def sequence(self, closers: tuple[str, ...] = ()) -> list[str]:
        """Items up to (not including) a token of a kind in ``closers`` or the end."""
        self.depth += 1
        if self.depth > limits.MAX_NESTING:
            raise CellError(f"brackets nested more than {limits.MAX_NESTING} deep")
        items: list[str] = []
        while True:
            t = self.peek()
            if t is None or t.kind in closers:
                break
            if t.kind == "op":
                self.take()
                items.append(t.text)
                continue
            items.append(self.postfix(*self.atom()))
        self.depth -= 1
        return self.dots(items)

    def dots(self, items: list[str]) -> list[str]:
        """Each \\cdot of ``items`` read: the dot product uᵀv when the product on its left
        and the product on its right each end with a bold vector and stand alone between
        +, −, = or the cell's ends (``\\mathbf{a}\\cdot\\mathbf{x}``, ``A\\mathbf{x}\\cdot\\mathbf{y}``,
        ``(\\mathbf{x}-\\mathbf{b})\\cdot(\\mathbf{x}-\\mathbf{b})``); otherwise a product
        (``c \\cdot A``, ``2 \\cdot \\mathbf{x}``)."""
        out = list(items)
        for k, item in enumerate(items):
            if item != DOT:
                continue
            i, j = k, k + 1
            while i > 0 and items[i - 1] not in _OPS:
                i -= 1
            while j < len(items) and items[j] not in _OPS:
                j += 1
            left, right = items[i:k], items[k + 1:j]
            if not (left and right):
                out[k] = "*"  # a cell that ends with \cdot is an error later
                continue
            alone = (i == 0 or items[i - 1] in _BOUNDARY) and (j == len(items) or items[j] in _BOUNDARY)
            dot = alone and self.vector(left[-1]) and self.vector(right[-1])
            if dot:
                if len(left) > 1:
                    out[i] = f"({out[i]}"
                out[k - 1], out[k] = f"{out[k - 1]}{')' if len(left) > 1 else ''}'", ""
            else:
                out[k] = "*"
            if self.vector(left[-1]) and (self.vector(right[0]) or self.vector(right[-1])):  # worth saying
                read = (f"the dot product {' '.join(left) if len(left) == 1 else f'({chr(32).join(left)})'}' "
                        if dot else "the product " + " ".join(left) + " * ") + " ".join(right)
                self.readings.append(f"{' '.join(left)} · {' '.join(right)} read as {read}"
                                     + ("" if dot else " (not a dot product: its two sides are not vectors "
                                                       "that stand alone)"))
        return [item for item in out if item]

    def vector(self, item: str) -> bool:
        """Is ``item`` a bold vector, or a bracketed sum of (numbers times) bold vectors?"""
        if item in self.bold:
            return True
        if not (item.startswith("(") and item.endswith(")")):
            return False
        terms = " ".join(item[1:-1].split()).replace(" - ", " + ").removeprefix("- ").split(" + ")
        return all(sum(w in self.bold for w in words) == 1
                   and all(w in self.bold or _SCALAR.fullmatch(w) for w in words)
                   for words in (term.split() for term in terms))

    def group_text(self, closer: str) -> str:
        items = self.sequence((closer,))
        if not self.at(closer):
            raise CellError({"rbrace": "a '{' is not closed", "bar": "a norm bar ‖ is not closed"}.get(
                closer, "a bracket is not closed"))
        self.take()
        if not items:
            raise CellError("empty brackets")
        return " ".join(items)

    def argument(self) -> list[_Tok]:
        """The tokens of a TeX argument: a {group}, or one token (one digit of a number)."""
        t = self.take()
        if t.kind == "lbrace":
            start, level = self.i, 1
            while self.i < len(self.toks):
                k = self.toks[self.i].kind
                level += (k == "lbrace") - (k == "rbrace")
                self.i += 1
                if level == 0:
                    return self.toks[start:self.i - 1]
            raise CellError("a '{' is not closed")
        if t.kind == "num" and len(t.text) > 1:  # \frac12, x^23: TeX takes one digit
            self.toks[self.i - 1:self.i] = [_Tok("num", t.text[0]), _Tok("num", t.text[1:])]
            return [_Tok("num", t.text[0])]
        if t.kind == "cmd" and (t.text in FONTS or t.text in WORDS):  # ^\mathsf{T}
            return [t, *self._wrap(self.argument())]
        if t.kind in ("rbrace", "close", "op", "sup", "sub"):
            raise CellError(f"a command is missing its argument before {t.text!r}")
        return [t]

    @staticmethod
    def _wrap(toks: list[_Tok]) -> list[_Tok]:
        return [_Tok("lbrace", "{"), *toks, _Tok("rbrace", "}")]

    def sub_read(self, toks: list[_Tok]) -> str:
        r = _Reader(toks, self.functions, self)
        r.depth = self.depth
        items = r.sequence()
        if r.peek() is not None:
            raise CellError(f"cannot read {r.peek().text!r} here")  # type: ignore[union-attr]
        if not items:
            raise CellError("an empty group {}")
        return " ".join(items)

    # -- atoms ----------------------------------------------------------------------------
    def atom(self) -> tuple[str, str]:
        """One factor, and what it is: "letter" (a bare letter), "name" or "other"."""
        t = self.take()
        if t.kind == "letter":
            word = self._letter_run(t.text)
            if word is not None:
                return self.apply(word), "other"
            if t.text in FUNCTION_LETTERS and self.at("open", skip_space=False):
                return self.call(t.text), "other"
            if t.text in FUNCTION_LETTERS and self.at("prime", skip_space=False):
                return self.primed_call(t.text), "other"
            return t.text, "letter"
        if t.kind == "num":
            return t.text, "other"
        if t.kind == "open":
            return f"({self.group_text('close')})", "other"
        if t.kind == "lbrace":
            items = self.sequence(("rbrace",))
            if not self.at("rbrace"):
                raise CellError("a '{' is not closed")
            self.take()
            if not items:
                raise CellError("an empty group {}")
            return (items[0], "name") if len(items) == 1 else (f"({' '.join(items)})", "other")
        if t.kind == "bar":
            return self.norm(), "other"
        if t.kind == "bar1":
            raise CellError("a single bar |…| (an absolute value or a determinant): write \\det(…), "
                            "\\|…\\| for a norm, or abs(…)")
        if t.kind == "cmd":
            return self.command(t.text)
        if t.kind == "char":
            return self.unicode(t.text), "other"
        if t.kind in ("close", "rbrace"):
            raise CellError("a closing bracket without its opening one")
        if t.kind == "prime":
            raise CellError("a prime ' with nothing before it")
        raise CellError(f"cannot read {t.text!r} here")

    def _letter_run(self, first: str) -> str | None:
        """A function name written in plain letters (tr, diag, log …), taken whole."""
        j = self.i
        while j < len(self.toks) and self.toks[j].kind == "letter":
            j += 1
        word = first + "".join(t.text for t in self.toks[self.i:j])
        if len(word) > 1 and word in FUNCTION_WORDS:
            self.i = j
            return word
        return None

    def unicode(self, c: str) -> str:
        if c == "∇":
            return "∇" + self.function_after_nabla()
        return c  # 𝟏, 𝟎 and the like: the expression parser reads them

    def command(self, name: str) -> tuple[str, str]:
        if name in GREEK:
            letter = GREEK[name]
            if letter in FUNCTION_LETTERS and self.at("open", skip_space=False):
                return self.call(letter), "other"
            if letter in FUNCTION_LETTERS and self.at("prime", skip_space=False):
                return self.primed_call(letter), "other"
            return letter, "letter"
        if name == "ell":
            if self.at("open", skip_space=False):
                return self.call("ℓ"), "other"
            return "ℓ", "letter"
        if name in FUNCTION_COMMANDS:
            return self.apply(name), "other"
        if name in FONTS:
            inner = self.sub_read(self.argument())
            inner = {"1": "𝟏", "0": "𝟎"}.get(inner, inner)
            if inner in FUNCTION_LETTERS and self.at("open", skip_space=False):  # \boldsymbol{f}(x)
                return self.call(inner), "other"
            if name in BOLD and (inner == "𝟏" or _NAME.fullmatch(inner) and inner[0].islower()):
                self.bold.add(inner)
            return (inner, "name") if " " not in inner else (f"({inner})", "other")
        if name == "mathbb":
            inner = self.sub_read(self.argument())
            if inner == "1":
                return "𝟏", "other"
            raise CellError(f"cannot read \\mathbb{{{inner}}} (a set, not a value)")
        if name in WORDS:
            word = self.word(self.argument(), name)
            if word in FUNCTION_WORDS:
                return self.apply(word), "other"
            if len(word) == 1:
                return word, "letter"
            if word in self.functions or (lookup(word) is not None):
                return self.apply(word), "other"
            raise CellError(f"\\{name}{{{word}}} is not a function matcalc knows (declare it with "
                            f"--where \"{word}: function\" if it is one)")
        if name in ACCENTS:
            inner = self.sub_read(self.argument())
            if not _NAME.fullmatch(inner):
                raise CellError(f"cannot read \\{name}{{…}} over more than one letter")
            if inner in self.bold:
                self.bold.add(f"{inner}_{ACCENTS[name]}")
            return f"{inner}_{ACCENTS[name]}", "name"
        if name in ("frac", "dfrac", "tfrac"):
            top = self.sub_read(self.argument())
            bottom = self.sub_read(self.argument())
            return f"({_paren(top)}/{_paren(bottom)})", "other"
        if name == "sqrt":
            if self.at("open", "[", skip_space=False):
                raise CellError("cannot read \\sqrt[…]{…}: only the square root \\sqrt{…}")
            if self.at("open"):
                self.take()
                return f"sqrt({self.group_text('close')})", "other"
            return f"sqrt({self.sub_read(self.argument())})", "other"
        if name == "nabla":
            if self.at("sub"):
                raise CellError("a ∇ with a subscript inside a cell (only a header names the variable)")
            return "∇" + self.function_after_nabla(), "other"
        if name in ("top", "intercal"):
            raise CellError(f"\\{name} outside a superscript")
        raise CellError(f"the LaTeX command \\{name} is not one matcalc reads")

    def word(self, toks: list[_Tok], command: str) -> str:
        """The letters of \\operatorname{…} and the like, as one word (never a product)."""
        text = "".join(t.text for t in toks if t.kind != "space").strip()
        if not re.fullmatch(r"[A-Za-z]+\*?", text):
            raise CellError(f"cannot read \\{command}{{{''.join(t.text for t in toks)}}} as a name")
        return text.rstrip("*")

    def function_after_nabla(self) -> str:
        t = self.take(skip_space=True)
        name = t.text if t.kind == "letter" else GREEK.get(t.text) if t.kind == "cmd" else None
        if t.kind == "cmd" and t.text == "ell":
            name = "ℓ"
        if name is None or not self.at("open", skip_space=False):
            raise CellError("∇ must be followed by a function and its argument, as in \\nabla f(\\mathbf{x})")
        return self.call(name)

    def call(self, name: str) -> str:
        self.take(skip_space=False)  # "("
        return f"{name}({self.group_text('close')})"

    def primed_call(self, name: str) -> str:
        primes = 0
        while self.at("prime", skip_space=False):
            self.take(skip_space=False)
            primes += 1
        if primes != 1 or not self.at("open", skip_space=False):
            raise CellError(f"cannot read {name}{chr(39) * primes} here (a derivative f′(x) needs its argument)")
        return self.call(name + "′")

    def apply(self, word: str) -> str:
        """A function applied to the bracket or the factor that follows: \\log\\det X → logdet(X)."""
        name = FUNCTION_WORDS.get(word, word)
        if name == "log" and self._next_is_det():
            name = "logdet"
        if self.at("open"):
            self.take()
            return f"{name}({self.group_text('close')})"
        if self.at("lbrace"):
            return f"{name}({self.sub_read(self.argument())})"
        t = self.peek()
        if t is None or t.kind in ("op", "close", "rbrace", "sup", "sub", "prime"):
            raise CellError(f"the function {word} has no argument")
        return f"{name}({self.postfix(*self.atom())})"

    def _next_is_det(self) -> bool:
        t = self.peek()
        if t is None:
            return False
        if t.kind == "cmd" and t.text == "det":
            self.take()
            return True
        if t.kind == "letter" and t.text == "d":
            j = self.toks.index(t, self.i)
            if "".join(x.text for x in self.toks[j:j + 3]) == "det" and (
                    j + 3 >= len(self.toks) or self.toks[j + 3].kind != "letter"):
                self.i = j + 3
                return True
        if t.kind == "cmd" and t.text in WORDS:
            j = self.toks.index(t, self.i)
            save = self.i
            self.i = j + 1
            try:
                if self.word(self.argument(), t.text) == "det":
                    return True
            except CellError:
                pass
            self.i = save
        return False

    def norm(self) -> str:
        inner = self.group_text("bar")
        if self.at("sub", skip_space=False):
            self.take(skip_space=False)
            sub = "".join(t.text for t in self.argument() if t.kind != "space")
            if sub not in ("2", "F"):
                raise CellError(f"the norm ‖…‖_{sub} is not one matcalc knows (only ‖…‖, ‖…‖_2 and ‖…‖_F)")
        return f"norm({inner})"

    # -- postfixes ------------------------------------------------------------------------
    def postfix(self, text: str, kind: str) -> str:
        while True:
            t = self.peek(skip_space=True)
            if t is None:
                return text
            if t.kind == "sup":
                self.take()
                text = self.superscript(text, kind, self.superscript_argument())
            elif t.kind == "prime":
                self.take()
                text += "'"
            elif t.kind == "sub":
                if kind not in ("letter", "name") or not _NAME.fullmatch(text):
                    raise CellError(f"cannot read a subscript after {text}")
                self.take()
                sub = "".join(x.text for x in self.argument() if x.kind != "space")
                if not re.fullmatch(r"[A-Za-z0-9]+", sub):
                    raise CellError(f"cannot read the subscript _{{{sub}}} as part of a name")
                if text in self.bold:
                    self.bold.add(f"{text}_{sub}")
                text = f"{text}_{sub}"
                kind = "name"
                continue
            elif t.kind == "char" and t.text in _SUPERSCRIPTS:
                self.take()
                text += t.text
            else:
                return text
            kind = "other"

    def superscript_argument(self) -> list[_Tok]:
        """The argument of ^, where notes also write A^-1 and A^-T without braces (and A^*)."""
        t = self.peek()
        if t is not None and t.kind == "op":
            self.take()
            if t.text == "-":
                after = self.peek()
                if after is not None and (after.kind == "num" or after.text == "T" or after.text in ("top", "intercal")):
                    return [t, *self.argument()]
            if t.text in "*+":
                return [t]
            raise CellError(f"cannot read the superscript ^{t.text}")
        return self.argument()

    def superscript(self, base: str, kind: str, toks: list[_Tok]) -> str:
        words = [t for t in toks if t.kind not in ("space", "lbrace", "rbrace")]
        flat = "".join(t.text if t.kind != "cmd" else f"\\{t.text}" for t in words)
        transpose = {"T", "\\top", "\\intercal", "\\mathsfT", "\\mathrmT", "\\textT", "\\operatornameT", "'", "ᵀ"}
        if flat in transpose:
            return f"{base}'"
        if flat.startswith("-") and flat[1:] in transpose - {"'", "ᵀ"}:
            return f"{base}^-T"
        if flat in ("\\ast", "*", "\\dagger", "+", "\\star", "H"):
            raise CellError(f"cannot read the superscript ^{flat} (conjugate or pseudo-inverse)")
        if kind == "letter" and base == "e":
            return f"exp({self.sub_read(toks)})"
        if re.fullmatch(r"-?[0-9]+", flat):
            return f"{base}^{flat}"
        return f"{base}^({self.sub_read(toks)})"


def _paren(s: str) -> str:
    return s if _NAME.fullmatch(s) or re.fullmatch(r"[0-9.]+", s) else f"({s})"


def _maths(cell: str) -> str:
    """The maths of a cell: its $…$ parts (text between them must be empty or '='), or the
    whole cell when it has no $."""
    if "$" not in cell:
        return cell.strip()
    parts = re.split(r"(?<!\\)\$", cell.replace("$$", "$"))
    if len(parts) % 2 == 0:
        raise CellError("a $ is not closed")
    outside = [p.strip() for p in parts[0::2]]
    for text in outside:
        if text and text.strip(".,;:") and text != "=":
            raise CellError(f"text outside the maths: {text!r} (put notes in parentheses at the end)")
    pieces: list[str] = []
    for k, maths in enumerate(parts[1::2]):
        if k and outside[k] == "=":
            pieces.append("=")
        pieces.append(maths)
    return " ".join(pieces)


def latex_sides(cell: str, functions: frozenset[str] = frozenset()) -> list[str]:
    """The matcalc text of each side of ``=`` in a cell, or a :class:`CellError`."""
    return read_cell(cell, functions).sides


@dataclass(frozen=True, slots=True)
class Cell:
    """A cell as read: the matcalc text of each side of ``=``, how each ``\\cdot`` between
    two vectors was read ("a·x read as the dot product a' x"), and the names written bold."""

    sides: list[str]
    readings: list[str]
    vectors: frozenset[str]


def read_cell(cell: str, functions: frozenset[str] = frozenset()) -> Cell:
    """The cell read (see :class:`Cell`), or a :class:`CellError`."""
    reader = _Reader(_tokens(_maths(cell)), functions)
    sides: list[list[str]] = [[]]
    while reader.peek() is not None:
        sides[-1].extend(reader.sequence(("close", "rbrace")))
        if reader.peek() is not None:
            raise CellError("a closing bracket without its opening one")
    out: list[list[str]] = [[]]
    for item in sides[0]:
        if item == "=":
            out.append([])
        else:
            out[-1].append(item)
    if any(not s for s in out):
        raise CellError("the cell is empty" if len(out) == 1 else "an empty side of '='")
    for s in out:
        if s[-1] in "+-*/,⊙⊗" or s[-1] == "./":
            raise CellError(f"the cell ends with {s[-1]!r}")
    return Cell([" ".join(s) for s in out], reader.readings, frozenset(reader.bold))


def latex_to_matcalc(cell: str, functions: frozenset[str] = frozenset()) -> str:
    """``$(A + A^T)\\mathbf{x}$`` → ``(A + A') x``; a :class:`CellError` when unreadable.

    >>> latex_to_matcalc(r"$\\|A\\mathbf{x} - \\mathbf{b}\\|^2$")
    'norm(A x - b)^2'
    >>> latex_to_matcalc(r"$\\log\\det X$")
    'logdet(X)'
    """
    return " = ".join(latex_sides(cell, functions))


# ======================================================================================
# Headers
# ======================================================================================

_BRACED = r"\{((?:[^{}]|\{[^{}]*\})*)\}"
_VARIABLE = r"(\\[A-Za-z]+\s*\{[^{}]*\}|\\[A-Za-z]+|[A-Za-zα-ωΑ-Ω](?:_\{?\w+\}?)?)"
_HEADERS = (
    re.compile(r"\\[dt]?frac\s*\{\s*(?:\\partial|∂|d)(?:(?:[^{}]|\{[^{}]*\})*)\}\s*"
               r"\{\s*(?:\\partial|∂|d)\s*((?:[^{}]|\{[^{}]*\})*)\}"),
    re.compile(r"(?:\\partial|∂)\s*[^/]*/\s*(?:\\partial|∂)\s*" + _VARIABLE),
    re.compile(r"(?:\\nabla|∇)\s*_\s*(?:" + _BRACED + "|" + _VARIABLE + ")"),
)
_DERIVATIVE_WORDS = re.compile(r"\\partial|\\nabla|∂|∇|\\frac\s*\{\s*d")


def wrt_of(header: str) -> str | None:
    """The variable a header cell differentiates with respect to, or None.

    >>> wrt_of(r"$\\frac{\\partial f}{\\partial \\boldsymbol{\\Sigma}}$"), wrt_of(r"$\\nabla_{\\mathbf{w}} f$")
    ('Σ', 'w')
    """
    try:
        maths = _maths(header)
    except CellError:
        return None
    for pattern in _HEADERS:
        m = pattern.search(maths)
        if m:
            raw = next(g for g in m.groups() if g is not None)
            try:
                name = latex_to_matcalc(raw)
            except CellError:
                return None
            return name if _NAME.fullmatch(name) else None
    return None


# ======================================================================================
# Rows
# ======================================================================================


@dataclass
class RowResult:
    """One row of a table: what was read, and the verdict on each claim."""

    line: int
    expression: str
    claim: str
    wrt: str
    verdicts: list[Verdict] = field(default_factory=list)
    error: str | None = None
    #: what the error makes the row: "unreadable", or "unchecked" (the time limit)
    error_status: str = "unreadable"
    #: the notes at the end of its cells, used (declaring) or not
    all_notes: list[Note] = field(default_factory=list)
    #: how each \cdot between two vectors was read
    readings: list[str] = field(default_factory=list)
    #: the names written in a bold font (vectors, whatever their letter)
    vectors: frozenset[str] = frozenset()
    #: the expression as parsed before the check (to explain a claim that cannot be read)
    parsed: api.Expression | None = None

    @property
    def notes(self) -> list[str]:
        """The notes that were not used."""
        return [n.text for n in self.all_notes if not n.used]

    @property
    def declared(self) -> list[str]:
        """The names its notes declare symmetric."""
        return [name for n in self.all_notes if n.used for name in n.names]

    @property
    def status(self) -> str:
        """verified, wrong, unchecked or unreadable."""
        if self.error is not None:
            return self.error_status
        statuses = {v.status for v in self.verdicts}
        for s in ("wrong", "unchecked"):
            if s in statuses:
                return s
        return "verified" if statuses else "unreadable"

    @property
    def correct(self) -> bool | None:
        """True (verified), False (wrong) or None (unchecked or unreadable)."""
        return {"verified": True, "wrong": False}.get(self.status)

    @property
    def expression_read(self) -> api.Expression | None:
        """The expression as the check read it (None when it could not be read)."""
        return self.verdicts[0].expression if self.verdicts else self.parsed

    def unexpected_kinds(self) -> list[str]:
        """The undeclared variables whose shape is not the kind their name suggests
        ("x is a scalar here, though a lowercase letter is a vector by default")."""
        e = self.expression_read
        if e is None:
            return []
        out = []
        for name, (rows, cols) in e._shapes.items():
            if name in e.decls.variables:
                continue
            kind = ("scalar" if (rows, cols) == (1, 1) else "vector" if cols == 1 else
                    "row vector" if rows == 1 else "matrix")
            default = "vector" if name in self.vectors else default_kind(name)
            if kind != default:
                why = "a bold letter" if name in self.vectors else _KIND_WHY[default]
                out.append(f"{name} is a {kind} here, though {why} is a {default} by default")
        return out

    def text(self, ascii: bool = False) -> str:
        if self.verdicts:
            claims = " = ".join(v.claim.text(ascii) for v in self.verdicts)
            head = f"line {self.line}: d/d{self.wrt} [{self.verdicts[0].expression.text(ascii)}] = {claims}"
        elif self.wrt:
            head = f"line {self.line}: d/d{self.wrt} [{self.expression}] = {self.claim}"
        else:
            head = f"line {self.line}:"
        lines = [head]
        # how the row was read: what its notes declared, how \cdot was read, unexpected shapes
        read = []
        if self.declared:
            used = sum(bool(n.names) for n in self.all_notes)
            read.append(f"{', '.join(self.declared)} declared symmetric (from the note{'s' if used > 1 else ''})")
        read += [r.replace(" · ", " \\cdot ") for r in self.readings] if ascii else self.readings
        e = self.expression_read
        odd = self.unexpected_kinds()
        if e is not None and odd:
            read.append(f"read with {e.where(ascii)}: {'; '.join(odd)}")
        if read:
            lines.append(f"  {'; '.join(read)}")
        shown = {n for v in self.verdicts for n in getattr(v, "notes", ())}  # the verdict says these
        lines += [f"  assumed: {a}" for a in (e.assumptions if e is not None else ()) if a not in shown]
        if self.error:
            lines.append(f"  {'unchecked' if self.error_status == 'unchecked' else 'unreadable'}: {self.error}")
        body = "\n".join(v.text(ascii) for v in self.verdicts)
        lines += [f"  {ln}" for ln in body.splitlines()]
        lines += [f"  note not used: {n.text}{f' ({n.why})' if n.why else ''}" for n in self.all_notes if not n.used]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: line, expression, wrt, claim, status, error, diagnosis; declared (the
        notes' declarations, "A: symmetric"), readings (of each \\cdot between vectors),
        assumptions and shapes (of the expression as checked: every variable's inferred
        shape), and notes (those not used, each {"note", "why"})."""
        e = self.expression_read
        return {"line": self.line, "expression": self.expression, "wrt": self.wrt, "claim": self.claim,
                "status": self.status, "error": self.error,
                "diagnosis": [d for v in self.verdicts for d in v.diagnosis],
                "declared": [f"{n}: symmetric" for n in self.declared], "readings": list(self.readings),
                "assumptions": list(e.assumptions) if e is not None else [],
                "shapes": e.shapes if e is not None else {},
                "notes": [{"note": n.text, "why": n.why or None} for n in self.all_notes if not n.used]}


_KIND_WHY = {"vector": "a lowercase letter", "matrix": "a capital letter", "scalar": "a Greek letter"}


def exit_code(rows: list[RowResult]) -> int:
    """1 if any row is wrong, else 2 if any is unreadable, else 3 if any is unchecked, else 0."""
    statuses = {r.status for r in rows}
    for status in ("wrong", "unreadable", "unchecked"):
        if status in statuses:
            return EXIT_CODES[status]
    return 0


def summary(rows: list[RowResult], layout: str) -> str:
    good = sum(r.status == "verified" for r in rows)
    parts = [f"{good} of {len(rows)} rows correct in {layout} layout"]
    for status in ("wrong", "unreadable", "unchecked"):
        lines = [str(r.line) for r in rows if r.status == status]
        if lines:
            parts.append(f"{status}: line{'s' if len(lines) > 1 else ''} {', '.join(lines)}")
    return "; ".join(parts)


# ======================================================================================
# Tables
# ======================================================================================


def split_row(line: str) -> list[str]:
    """The cells of a table row: split at ``|`` outside ``$…$`` and never at ``\\|``."""
    s = line.strip()
    cells, cur, maths, i = [], [], False, 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            cur.append(s[i:i + 2])
            i += 2
            continue
        if c == "$":
            maths = not maths
        if c == "|" and not maths:
            cells.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    cells.append("".join(cur))
    if s.startswith("|"):
        cells = cells[1:]
    if s.endswith("|") and not s.endswith("\\|") and cells and not cells[-1].strip():
        cells = cells[:-1]
    return [c.strip() for c in cells]


def _is_separator(line: str) -> bool:
    cells = split_row(line)
    return len(cells) >= 1 and all(re.fullmatch(r":?-+:?", c) for c in cells) and "-" in line


def _tables(lines: list[str]) -> Iterator[tuple[int, list[str], list[tuple[int, list[str]]]]]:
    """(header line number, header cells, [(line number, cells) of each body row])."""
    fence = None
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if fence is not None:
            if line.startswith(fence):
                fence = None
            i += 1
            continue
        if line.startswith(("```", "~~~")):
            fence = line[:3]
            i += 1
            continue
        if line.startswith("|") and i + 1 < len(lines) and _is_separator(lines[i + 1]):
            header = split_row(line)
            body = []
            j = i + 2
            while j < len(lines) and lines[j].strip().startswith("|"):
                body.append((j + 1, split_row(lines[j])))
                j += 1
            yield i + 1, header, body
            i = j
            continue
        i += 1


def _looks_like_derivative_table(header: list[str], body: list[tuple[int, list[str]]]) -> bool:
    if any(_DERIVATIVE_WORDS.search(c) for c in header[:2]):
        return True
    return any(len(cells) >= 2 and "$" in cells[0] and "$" in cells[1] for _, cells in body)


def check_table(text: str, layout: str = "denominator", where: str | None = None,
                timeout: float = limits.DEFAULT_TIMEOUT) -> list[RowResult]:
    """Check every row of every derivative table in a Markdown text.

    ``timeout`` is the time limit of each row (reading, differentiating, the SymPy check).
    """
    if not isinstance(text, str):
        raise TableError(f"a table is Markdown text (a str), not {type(text).__name__}; "
                         "read a file with read_table_file")
    if layout not in api.LAYOUTS:
        raise MatcalcError(f"layout must be one of {', '.join(api.LAYOUTS)}, not {layout!r}")
    try:
        timeout = limits.valid_timeout(timeout)
    except ValueError as err:
        raise MatcalcError(str(err)) from None
    functions = frozenset(parse_where(where).functions)  # a bad --where is an error before any row
    results: list[RowResult] = []
    for no, header, body in _tables(text.lstrip("\ufeff").splitlines()):
        wrt = wrt_of(header[1]) if len(header) >= 2 else None
        if wrt is None:
            if _looks_like_derivative_table(header, body):
                cell = header[1] if len(header) >= 2 else (header[0] if header else "")
                rows = ("" if not body else f"; the row below it (line {body[0][0]}) is not checked"
                        if len(body) == 1 else
                        f"; the {len(body)} rows below it (lines {body[0][0]}–{body[-1][0]}) are not checked")
                results.append(RowResult(no, "", "", "", error=(
                    f"cannot read the header cell '{cell}' as a derivative (write "
                    "$\\frac{\\partial f}{\\partial x}$, $\\partial f / \\partial x$ or $\\nabla_{x} f$)"
                    + rows)))
            continue
        for line, cells in body:
            results.append(_check_row(line, cells, wrt, layout, where, timeout, functions))
    return results


def _notes(cell: str) -> tuple[str, list[str]]:
    """The cell without its trailing notes ("(symmetric $A$)", "($A = A^T$)"), and the
    notes: brackets at the end, outside the maths (in a cell without $, only brackets
    with a word of three letters are a note)."""
    notes: list[str] = []
    while True:
        m = re.search(r"\(([^()$]*(?:\$[^$]*\$[^()$]*)*)\)\s*$", cell)
        dollars = len(re.findall(r"(?<!\\)\$", cell[:m.start()])) if m else 0
        outside = dollars > 0 and dollars % 2 == 0
        if not m or not (outside or re.search(r"[A-Za-z]{3,}", re.sub(r"\$[^$]*\$", "", m.group(1)))):
            return cell, notes[::-1]
        notes.append(m.group(1).strip())
        cell = cell[:m.start()].rstrip()


@dataclass(frozen=True, slots=True)
class Note:
    """A note in parentheses at the end of a cell: the names it declares symmetric, or
    why it was not used (``why`` is "" when it declares nothing and there is nothing to say)."""

    text: str
    names: tuple[str, ...] = ()
    why: str | None = None

    @property
    def used(self) -> bool:
        return self.why is None


#: the words of a declaring note, as one letter each; any other word (not, non-, skew-,
#: anti-, general, wrong, if, unless, necessarily, …) makes the note a plain note
_NOTE_WORDS = {"symmetric": "S", "for": "F", "is": "I", "are": "I", "and": "A", "positive": "P",
               "definite": "D", "semidefinite": "D", "semi-definite": "D"}
#: "symmetric A", "for symmetric A, B", "A and B are symmetric", "A = Aᵀ", "symmetric positive definite Σ"
_DECLARING = re.compile(r"F?(?:S(?:PD)?L|LI?S(?:PD)?|E(?:,A?E|AE)*)".replace("L", r"N(?:,A?N|AN)*"))
_NOTE_TOKEN = re.compile(r"\$[^$]*\$|[^\W\d_]+(?:-[^\W\d_]+)*|,|[^\s,]")
_PLAIN = "only a plain note such as 'symmetric $A$', '$A$ is symmetric' or '$A = A^T$' declares"


def _note(text: str) -> Note:
    """What a note declares: only a plain positive one declares anything (see _DECLARING)."""
    shape, names = [], []
    for tok in _NOTE_TOKEN.findall(text):
        if tok.startswith("$"):
            try:
                sides = latex_sides(tok)
            except CellError:
                sides = []
            parts = sides[0].split(" , ") if len(sides) == 1 else []
            if parts and all(_NAME.fullmatch(p) for p in parts):
                shape.append("N")
                names += parts
            elif len(sides) == 2 and _NAME.fullmatch(name := min(sides, key=len)) and set(sides) == {name, f"{name}'"}:
                shape.append("E")  # A = Aᵀ or Aᵀ = A
                names.append(name)
            else:
                shape.append("X")
        elif len(tok) == 1 and tok.isalpha() and tok.isupper():  # A, Σ written without $
            shape.append("N")
            names.append(tok)
        else:
            shape.append(_NOTE_WORDS.get(tok.lower(), "," if tok == "," else "X"))
    if _DECLARING.fullmatch("".join(shape)):
        return Note(text, tuple(dict.fromkeys(names)))
    return Note(text, why=_PLAIN if re.search(r"sym", text, re.I) else "")


def _row_notes(notes: list[Note], where: str | None) -> list[Note]:
    """The notes, a declaration given up where it cannot apply: a name that is not a
    matrix by default, or that --where declares already."""
    declared = parse_where(where).variables
    out = []
    for note in notes:
        why = [f"{n} is not a matrix (a capital letter) but a {default_kind(n)}" for n in note.names
               if default_kind(n) != "matrix"]
        why += [f"{n} is declared by --where already" for n in note.names if n in declared]
        out.append(Note(note.text, why="; ".join(why)) if why else note)
    seen: set[str] = set()  # a name declared by two notes is declared once
    for k, note in enumerate(out):
        if note.names:
            out[k] = Note(note.text, tuple(n for n in note.names if n not in seen))
            seen.update(note.names)
    return out


def _check_row(no: int, cells: list[str], wrt: str, layout: str, where: str | None, timeout: float,
               functions: frozenset[str]) -> RowResult:
    if len(cells) < 2 or not cells[0] or not cells[1]:
        return RowResult(no, cells[0] if cells else "", cells[1] if len(cells) > 1 else "", wrt,
                         error="the row needs an expression and its derivative in its first two cells")
    expr_cell, expr_notes = _notes(cells[0])
    claim_cell, claim_notes = _notes(cells[1])  # notes may end either cell
    row = RowResult(no, expr_cell, claim_cell, wrt,
                    all_notes=_row_notes([_note(n) for n in expr_notes + claim_notes], where))
    try:
        with limits.deadline(timeout, f"checking line {no}"):
            try:
                cell = read_cell(expr_cell, functions)
                if len(cell.sides) > 1:
                    raise CellError("an equation where an expression was expected")
                row.expression = cell.sides[0]
            except CellError as err:
                row.error = f"cannot read the cell '{expr_cell}': {err.message}"
                return row
            try:
                claim = read_cell(claim_cell, functions)
                row.claim = " = ".join(claim.sides)
            except CellError as err:
                row.error = f"cannot read the cell '{claim_cell}': {err.message}"
                return row
            row.readings = cell.readings + claim.readings
            row.vectors = cell.vectors | claim.vectors
            try:
                # to say which cell an error is in, and to know the names in the row
                row.parsed = api.parse(row.expression, _declared(where, row.all_notes, row.vectors))
                names = row.parsed.shapes
            except MatcalcError as err:
                row.error = f"cannot read the cell '{expr_cell}' (read as '{row.expression}'): {err.kind}: {err.message}"
                return row
            for k, note in enumerate(row.all_notes):  # a note about another row's names is not used
                missing = [n for n in note.names if n not in names]
                if missing:
                    verb = "is" if len(missing) == 1 else "are"
                    row.all_notes[k] = Note(note.text, why=f"{', '.join(missing)} {verb} not in the row")
            declared = _declared(where, row.all_notes, row.vectors)
            for side in claim.sides:
                try:
                    budget = limits.check_budget(limits.remaining() or timeout)
                    row.verdicts.append(check(row.expression, wrt, side, declared, layout=layout, timeout=budget))
                except TimeLimitError:
                    raise
                except MatcalcError as err:
                    if not isinstance(err, DiffError):  # the expression was read: the claim is at fault
                        row.error = (f"cannot read the cell '{claim_cell}' (read as '{side}'): "
                                     f"{err.kind}: {err.message.removeprefix('in the claim: ')}")
                    else:
                        row.error = f"{err.kind}: {err.message}"
                    row.verdicts.clear()
                    return row
    except TimeLimitError as err:
        row.verdicts.clear()
        row.error, row.error_status = err.message, "unchecked"
    return row


def _declared(where: str | None, notes: list[Note], bold: frozenset[str] = frozenset()) -> str | None:
    """--where, the notes' declarations, and the bold Greek letters (\\boldsymbol{\\mu} is a
    vector, though μ alone is a scalar), as one declaration string."""
    given = set(parse_where(where).variables) if where else set()
    vectors = sorted(n for n in bold if n not in given and default_kind(n) == "scalar")
    return ", ".join([*([where] if where else []), *(f"{n}: symmetric" for note in notes for n in note.names
                                                     if note.used), *(f"{n}: vector" for n in vectors)]) or None
