r"""Reading one LaTeX cell of an identity table into matcalc's plain syntax.

Cells are read strictly: letters side by side are a product (``AB`` is A times B),
``\cdot`` is the dot product between two bold vectors (``\mathbf{a}\cdot\mathbf{x}`` is
aᵀx) and a product elsewhere (``c \cdot A``), ``\mathbf{1}`` is 𝟏, Greek commands are
Greek letters, ``\sigma(…)`` is the logistic sigmoid and f, g, h, L, ℓ, φ, ψ before ``(``
are functions.

Every function is learnt from the function table (:mod:`matcalc.functions`), never from
a word list here: a command such as ``\exp``, ``\ln``, ``\cosh`` or ``\sum`` and a word in
``\operatorname{…}``, ``\mathrm{…}`` or ``\text{…}`` is the row :func:`~matcalc.functions.lookup_latex`
finds for it (or the one row whose name it is but for case: ``\operatorname{Tr}``,
``\text{Trace}``); a function name written in plain letters (``tr``, ``log1p``) is the row
:func:`~matcalc.functions.lookup` finds.  Two function names one after the other that
together name a function are that function (``\log\det X`` is logdet(X)).

Norms come from the rows' ``bars``: ``\|x\|``, ``\lVert x\rVert``, ``\left\|…\right\|``
and ``||x||`` are the norm, ``\|x\|_1`` the 1-norm, ``\|x\|_2`` and ``\|X\|_F`` the
Euclidean and Frobenius norms.  Single bars ``|X|`` are the determinant of a matrix and
the absolute value otherwise (``\log|X|`` is logdet(X)); ``\langle A, X\rangle`` and
``A : X`` are the Frobenius inner product tr(Aᵀ X).

Anything the reader does not understand — an unknown command, a word in
``\operatorname{…}`` that is no function matcalc knows (never the product of its
letters), a subscript it cannot name — is a :class:`CellError`; a cell is never read as a
different expression.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from . import functions as F
from . import limits
from .declare import closest, default_kind
from .latex_tokens import (
    _BOUNDARY,
    _EXP,
    _OPS,
    _SCALAR,
    _SUPERSCRIPTS,
    _TRACE,
    _TRANSPOSE,
    ACCENTS,
    BOLD,
    COLON,
    DOT,
    EUCLIDEAN,
    FONTS,
    FUNCTION_LETTERS,
    GREEK,
    NAME,
    WORDS,
    CellError,
    _named,
    _Tok,
    _tokens,
    command_function,
    folded,
    norms,
)

# ======================================================================================
# The reader
# ======================================================================================


def _group(items: list[str]) -> str:
    """Items as one factor: a single item as it is, several in brackets."""
    return items[0] if len(items) == 1 else f"({' '.join(items)})"


class _Reader:
    """A strict recursive-descent reader of one cell's tokens into matcalc text."""

    def __init__(self, tokens: list[_Tok], functions: frozenset[str] = frozenset(),
                 kinds: Mapping[str, str] | None = None, parent: _Reader | None = None):
        self.toks = tokens
        self.i = 0
        self.depth = 0
        self.functions = functions  # names declared as functions with --where
        self.kinds: Mapping[str, str] = kinds or {}  # declared variables: scalar, vector or matrix
        #: names written in a bold font that are vectors in lecture notes (\mathbf{x}, \boldsymbol{\mu})
        self.bold: set[str] = parent.bold if parent else set()
        #: how each \cdot between vectors and each |…| was read, in words
        self.readings: list[str] = parent.readings if parent else []

    # -- tokens ---------------------------------------------------------------------------
    def peek(self, skip_space: bool = True) -> _Tok | None:
        j = self._skip(self.i) if skip_space else self.i
        return self.toks[j] if j < len(self.toks) else None

    def _skip(self, j: int) -> int:
        while j < len(self.toks) and self.toks[j].kind == "space":
            j += 1
        return j

    def take(self, skip_space: bool = True) -> _Tok:
        if skip_space:
            self.i = self._skip(self.i)
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
        return self.infix(items)

    def infix(self, items: list[str]) -> list[str]:
        """The \\cdot and : of ``items`` read (see :meth:`dots` and :meth:`colons`)."""
        return self.colons(self.dots(items))

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

    def colons(self, items: list[str]) -> list[str]:
        """``A : X`` is the Frobenius inner product tr(Aᵀ X); each side is the product up to
        +, −, = or the ends (``2A : X`` is tr((2 A)ᵀ X))."""
        while COLON in items:
            k = items.index(COLON)
            i, j = k, k + 1
            while i > 0 and items[i - 1] not in _BOUNDARY:
                i -= 1
            while j < len(items) and items[j] not in _BOUNDARY and items[j] != COLON:
                j += 1
            if i == k or j == k + 1:
                raise CellError("a ':' (the Frobenius inner product A : X) needs a factor on each side")
            items = [*items[:i], self.inner_product(items[i:k], items[k + 1:j]), *items[j:]]
        return items

    @staticmethod
    def inner_product(left: list[str], right: list[str]) -> str:
        """⟨A, X⟩ = A : X = tr(Aᵀ X)."""
        return f"{_named(_TRACE)}({_group(left)}' {_group(right)})"

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

    def kind(self, name: str) -> str:
        """A name's kind as the reader can tell it: declared, bold (a vector) or by its letter."""
        if name in self.kinds:
            return self.kinds[name]
        return "vector" if name in self.bold or name.startswith(("𝟏", "𝟙")) else default_kind(name)

    def matrix_name(self, items: list[str]) -> str | None:
        """The first matrix in ``items`` when they read as a matrix: at least one item is a
        matrix name (possibly transposed, inverted or raised to a power) and none a vector
        (``Σ``, ``λ I - A``, ``X^T X``; not ``x^T A x``, ``A x``, ``tr(A)``)."""
        found = None
        for item in items:
            m = NAME.match(item) or re.match(r"[𝟏𝟙]", item)
            if not m or (item[m.end():] and item[m.end()] not in "'^"):
                continue
            kind = self.kind(m.group())
            if kind == "vector":
                return None
            if kind == "matrix" and found is None:
                found = m.group()
        return found

    def group_text(self, closer: str) -> str:
        items = self.sequence((closer,))
        if not self.at(closer):
            raise CellError({"rbrace": "a '{' is not closed", "bar": "a norm bar ‖ is not closed",
                             "bar1": "a bar | is not closed", "rangle": "a ⟨ is not closed"}.get(
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
        r = _Reader(toks, self.functions, self.kinds, self)
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
            run = self.letter_run(self.i - 1)
            if run is not None:
                name, self.i = run
                return self.apply(name, name), "other"
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
            fn, inner = self.single_bars()
            return f"{fn}({inner})", "other"
        if t.kind == "langle":
            return self.angle_brackets(), "other"
        if t.kind == "cmd":
            return self.command(t.text)
        if t.kind == "char":
            return self.unicode(t.text), "other"
        if t.kind in ("close", "rbrace", "rangle"):
            raise CellError("a closing bracket without its opening one")
        if t.kind == "prime":
            raise CellError("a prime ' with nothing before it")
        raise CellError(f"cannot read {t.text!r} here")

    def plain_function(self, word: str) -> str | None:
        """The function a word in plain letters names: declared with --where, in the table
        (``tr``, ``ln``, ``log1p``), or in the table but for case when not all capitals
        (``Tr``, ``ReLU``; ``ABS`` is a product)."""
        if word in self.functions:
            return word
        fn = F.lookup(word)
        if fn is not None:
            return fn.name
        if word in F.names():
            return word
        return None if word.isupper() else folded(word)

    def letter_run(self, j: int) -> tuple[str, int] | None:
        """(the function, the index after it) when the letters from ``j`` on name a function
        (tr, diag, log, log1p …), taken whole; else None.  An unknown run of three or more
        lowercase letters right before "(" is an error (``sofmax(x)``, never s·o·f·m·a·x·(x))."""
        k = j
        while k < len(self.toks) and self.toks[k].kind == "letter":
            k += 1
        end = k  # letters and the digits among them: log1p, expm1
        while end < len(self.toks) and (self.toks[end].kind == "letter"
                                        or self.toks[end].kind == "num" and self.toks[end].text.isdigit()):
            end += 1
        for stop in dict.fromkeys((end, k)):
            word = "".join(t.text for t in self.toks[j:stop])
            if len(word) > 1 and (name := self.plain_function(word)) is not None:
                return name, stop
        word = "".join(t.text for t in self.toks[j:k])
        if len(word) >= 3 and word.isascii() and word.islower() and k < len(self.toks) and self.toks[k].text == "(":
            raise self.unknown(word, f"{word}(…)", plain=True)
        return None

    def unknown(self, word: str, written: str, plain: bool = False) -> CellError:
        """The error for a word that is no function matcalc knows."""
        hint = closest(word, F.names())
        how = (f"letters side by side are a product: put spaces between them, or write "
               f"\\operatorname{{{word}}} and declare it with --where \"{word}: function\"" if plain else
               f"declare it with --where \"{word}: function\" if it is a function of your own")
        return CellError(f"unknown function '{word}' in {written}"
                         + (f"; did you mean '{hint}'?" if hint else "") + f" ({how})")

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
        if name == "sqrt":
            if self.at("open", "[", skip_space=False):
                raise CellError("cannot read \\sqrt[…]{…}: only the square root \\sqrt{…}")
            return self.apply(_named(r"\sqrt"), "\\sqrt"), "other"
        fn = command_function(name)
        if fn is not None:
            return self.apply(fn, f"\\{name}"), "other"
        if name in FONTS:
            inner = self.sub_read(self.argument())
            inner = {"1": "𝟏", "0": "𝟎"}.get(inner, inner)
            if inner in FUNCTION_LETTERS and self.at("open", skip_space=False):  # \boldsymbol{f}(x)
                return self.call(inner), "other"
            if name in BOLD and (inner == "𝟏" or NAME.fullmatch(inner) and inner[0].islower()):
                self.bold.add(inner)
            return (inner, "name") if " " not in inner else (f"({inner})", "other")
        if name == "mathbb":
            inner = self.sub_read(self.argument())
            if inner == "1":
                return "𝟏", "other"
            raise CellError(f"cannot read \\mathbb{{{inner}}} (a set, not a value)")
        if name in WORDS:
            word = self.word(self.argument(), name)
            written = f"\\{name}{{{word}}}"
            fn = self.word_function(name, word)
            if fn is not None:
                return self.apply(fn, written), "other"
            if len(word) == 1:
                return word, "letter"
            after = self.peek()
            if after is None or after.kind in ("op", "close", "rbrace", "rangle", "bar", "bar1"):
                raise CellError(f"cannot read the word '{word}' in {written}: it is no function matcalc knows, "
                                "and a variable is one letter")
            raise self.unknown(word, written)
        if name in ACCENTS:
            inner = self.sub_read(self.argument())
            if not NAME.fullmatch(inner):
                raise CellError(f"cannot read \\{name}{{…}} over more than one letter")
            if inner in self.bold:
                self.bold.add(f"{inner}_{ACCENTS[name]}")
            return f"{inner}_{ACCENTS[name]}", "name"
        if name in ("frac", "dfrac", "tfrac"):
            top = self.sub_read(self.argument())
            bottom = self.sub_read(self.argument())
            return f"({_paren(top)}/{_paren(bottom)})", "other"
        if name == "nabla":
            if self.at("sub"):
                raise CellError("a ∇ with a subscript inside a cell (only a header names the variable)")
            return "∇" + self.function_after_nabla(), "other"
        if name in ("top", "intercal"):
            raise CellError(f"\\{name} outside a superscript")
        raise CellError(f"the LaTeX command \\{name} is not one matcalc reads")

    def word_function(self, command: str, word: str) -> str | None:
        """The function ``\\command{word}`` names: declared with --where, the table's LaTeX
        spelling (``\\operatorname{erf}``, ``\\mathrm{tr}``), or the one function of that name
        but for case (``\\text{Trace}``)."""
        if word in self.functions:
            return word
        fn = F.lookup_latex(f"\\{command}{{{word}}}") or F.lookup_latex(f"\\operatorname{{{word}}}")
        return fn.name if fn is not None else folded(word)

    def word(self, toks: list[_Tok], command: str) -> str:
        """The letters of \\operatorname{…} and the like, as one word (never a product)."""
        text = "".join(t.text for t in toks if t.kind != "space").strip()
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*\*?", text):
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

    def apply(self, name: str, written: str) -> str:
        """A function applied to the bracket or the factor that follows; two functions one
        after the other that together name one are that one (``\\log\\det X`` → logdet(X),
        ``\\log|X|`` → logdet(X))."""
        name = self.joined(name)
        if self.at("prime"):  # \tanh'(x), \operatorname{erf}'(x): the derivative of the function
            self.take()
            name = f"{name}'"
        if self.at("open"):
            self.take()
            return f"{name}({self.group_text('close')})"
        if self.at("lbrace"):
            return f"{name}({self.sub_read(self.argument())})"
        if self.at("bar1"):
            self.take()
            fn, inner = self.single_bars()
            joined = F.lookup(name + fn)
            after = self.peek()
            if joined is not None and not (after is not None and after.kind in ("sup", "sub", "prime")):
                return f"{joined.name}({inner})"
            return f"{name}({self.postfix(f'{fn}({inner})', 'other')})"
        t = self.peek()
        if t is None or t.kind in ("op", "close", "rbrace", "rangle", "sup", "sub", "prime"):
            index = " (a subscript or superscript after it: an index, which matcalc does not read)" \
                if t is not None and t.kind in ("sup", "sub") else ""
            raise CellError(f"the function {written} has no argument{index}")
        return f"{name}({self.postfix(*self.atom())})"

    def joined(self, name: str) -> str:
        """``name``, or the function it names with the function right after it (log, det → logdet)."""
        j = self._skip(self.i)
        if j >= len(self.toks):
            return name
        t, after = self.toks[j], None
        if t.kind == "letter":
            try:
                after = self.letter_run(j)
            except CellError:  # an unknown word: read (and reported) as the argument
                after = None
        elif t.kind == "cmd" and t.text in WORDS:
            save = self.i
            self.i = j + 1
            try:
                word = self.word(self.argument(), t.text)
                fn = self.word_function(t.text, word)
                after = (fn, self.i) if fn is not None else None
            except CellError:
                after = None
            self.i = save
        elif t.kind == "cmd" and t.text not in GREEK:
            fn = command_function(t.text)
            after = (fn, j + 1) if fn is not None else None
        if after is not None and (both := F.lookup(name + after[0])) is not None:
            self.i = after[1]
            return both.name
        return name

    def norm(self) -> str:
        """‖…‖ after its opening bar, with the subscript that names the norm (the rows'
        ``bars``; ‖x‖₂ and ‖X‖_F are the plain norm); ‖…‖^2_2 is ‖…‖_2^2."""
        items = self.sequence(("bar",))
        if not self.at("bar"):
            raise CellError("a norm bar ‖ is not closed")
        self.take()
        if not items:
            raise CellError("empty brackets")
        self._subscript_first()
        sub = None
        if self.at("sub", skip_space=False):
            self.take(skip_space=False)
            sub = "".join(t.text if t.kind != "cmd" else f"\\{t.text}" for t in self.argument() if t.kind != "space")
        table = norms()
        key = "" if sub is None or sub in EUCLIDEAN else sub
        if key not in table:
            known = ", ".join(f"‖…‖_{s}" if s else "‖…‖" for s in sorted({*table, *EUCLIDEAN}))
            raise CellError(f"the norm ‖…‖_{sub} is not one matcalc knows (only {known})")
        if sub == "2" and (m := self.matrix_name(items)) is not None:
            raise CellError(f"‖…‖_2 of the matrix {m} is its spectral norm, which matcalc does not have "
                            "(‖…‖_F is the Frobenius norm)")
        return f"{table[key]}({' '.join(items)})"

    def _subscript_first(self) -> None:
        """x^a_b as x_b^a: the tokens of a subscript that follows a superscript moved before it."""
        if not self.at("sup", skip_space=False):
            return
        start = self.i
        self.take(skip_space=False)
        self.superscript_argument()
        if self.at("sub", skip_space=False):
            middle = self.i
            self.take(skip_space=False)
            self.argument()
            self.toks[start:self.i] = self.toks[middle:self.i] + self.toks[start:middle]
        self.i = start

    def single_bars(self) -> tuple[str, str]:
        """|…| after its opening bar: (the function, its argument) — the determinant when the
        inside reads as a matrix (``|\\Sigma|``, ``|X^T X|``), else the absolute value."""
        items = self.sequence(("bar1",))
        if not self.at("bar1"):
            raise CellError("a bar | is not closed (a norm is ‖…‖ or \\|…\\|)")
        self.take()
        if not items:
            raise CellError("empty bars ||")
        inner = " ".join(items)
        matrix = self.matrix_name(items)
        if matrix is not None:
            fn = _named(r"\det")
            self.readings.append(f"|{inner}| read as {fn}({inner}), the determinant ({matrix} is a matrix)")
        else:
            fn = _named(r"\operatorname{abs}")
            self.readings.append(f"|{inner}| read as {fn}({inner}), the absolute value (entry by entry)")
        return fn, inner

    def angle_brackets(self) -> str:
        """⟨A, X⟩ after its opening bracket: tr(Aᵀ X)."""
        items = self.sequence(("rangle",))
        if not self.at("rangle"):
            raise CellError("a ⟨ is not closed")
        self.take()
        parts: list[list[str]] = [[]]
        for item in items:
            if item == ",":
                parts.append([])
            else:
                parts[-1].append(item)
        if len(parts) != 2 or not all(parts):
            raise CellError("⟨…⟩ is the inner product of two arguments, as in \\langle A, X \\rangle")
        return self.inner_product(*parts)

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
                if kind not in ("letter", "name") or not NAME.fullmatch(text):
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
        if flat in _TRANSPOSE:
            return f"{base}'"
        if flat.startswith("-") and flat[1:] in _TRANSPOSE - {"'", "ᵀ"}:
            return f"{base}^-T"
        if flat in ("\\ast", "*", "\\dagger", "+", "\\star", "H"):
            raise CellError(f"cannot read the superscript ^{flat} (conjugate or pseudo-inverse)")
        if words and words[0].kind == "op" and words[0].text == "⊙":  # x^{\odot 2}, x^{\circ 2}: entry by entry
            power = "".join(t.text for t in words[1:])
            return f"{base}.^{power}" if re.fullmatch(r"[0-9]+", power) else f"{base}.^{_paren(self.sub_read(words[1:]))}"
        if kind == "letter" and base == "e":
            return f"{_named(_EXP)}({self.sub_read(toks)})"
        if re.fullmatch(r"-?[0-9]+", flat):
            return f"{base}^{flat}"
        return f"{base}^({self.sub_read(toks)})"


def _paren(s: str) -> str:
    """``s`` as one factor: a name, a number or a bracket as it is, anything else in brackets."""
    return s if NAME.fullmatch(s) or re.fullmatch(r"[0-9.]+", s) or _bracketed(s) else f"({s})"


def _bracketed(s: str) -> bool:
    """Is ``s`` one bracket, ``(…)``, from its first character to its last?"""
    if not s.startswith("("):
        return False
    depth = 0
    for k, c in enumerate(s):
        depth += (c == "(") - (c == ")")
        if depth == 0:
            return k == len(s) - 1
    return False


# ======================================================================================
# Cells
# ======================================================================================


def maths_of(cell: str) -> str:
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


@dataclass(frozen=True, slots=True)
class Cell:
    """A cell as read: the matcalc text of each side of ``=``, how each ``\\cdot`` between
    two vectors and each ``|…|`` was read ("a·x read as the dot product a' x"), and the
    names written bold."""

    sides: list[str]
    readings: list[str]
    vectors: frozenset[str]


def read_cell(cell: str, functions: frozenset[str] = frozenset(), kinds: Mapping[str, str] | None = None) -> Cell:
    """The cell read (see :class:`Cell`), or a :class:`CellError`.

    ``functions`` are the names declared as functions; ``kinds`` the declared variables'
    kinds ("scalar", "vector", "matrix"), which decide what ``|X|`` is.
    """
    reader = _Reader(_tokens(maths_of(cell)), functions, kinds)
    sides: list[list[str]] = [[]]
    while reader.peek() is not None:
        sides[-1].extend(reader.sequence(("close", "rbrace", "rangle")))
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


def latex_sides(cell: str, functions: frozenset[str] = frozenset(),
                kinds: Mapping[str, str] | None = None) -> list[str]:
    """The matcalc text of each side of ``=`` in a cell, or a :class:`CellError`."""
    return read_cell(cell, functions, kinds).sides


def latex_to_matcalc(cell: str, functions: frozenset[str] = frozenset(),
                     kinds: Mapping[str, str] | None = None) -> str:
    """``$(A + A^T)\\mathbf{x}$`` → ``(A + A') x``; a :class:`CellError` when unreadable.

    >>> latex_to_matcalc(r"$\\|A\\mathbf{x} - \\mathbf{b}\\|^2$")
    'norm(A x - b)^2'
    >>> latex_to_matcalc(r"$\\log\\det X + \\|\\mathbf{w}\\|_1$")
    'logdet(X) + norm1(w)'
    """
    return " = ".join(latex_sides(cell, functions, kinds))
