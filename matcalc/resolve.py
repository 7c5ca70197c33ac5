"""Name resolution: what every name of an expression is, decided in one pass over the
Lark parse tree before any node is built.

A name is, first match wins:

- a **declared variable** (``--where "x: n"``); followed by ``(…)`` it is a product;
- a **declared function** (``f: elementwise``); without ``(…)`` an error;
- ``dX`` for a declared X: the **differential** of X;
- a **constant**: ``I`` (the identity), ``I_n``, ``ones``, ``ones_n``, ``zeros`` (sizes inferred);
- a **size used as a number**: a declared size (``--where "Σ: N×N"``) wherever it is written
  (``−N/2 log|Σ|``); an undeclared one at every occurrence in a scalar position (a divisor:
  ``‖X w − y‖² / m``, ``(1/n) 𝟏ᵀ x``, ``tr(S)/k``; a negative power: ``n⁻¹ 𝟏ᵀ x``; and,
  when the expression does not parse otherwise, a factor: ``𝟏 − m softmax(z)``), and the
  name a declared size or a
  letter that names sizes (:data:`SIZE_LETTERS`); matcalc.parse ties it to a size of the
  expression;
- a **built-in function** of the function table (:func:`matcalc.functions.lookup`), called
  as ``f(…)``; written without parentheses, ``log det X``, ``log det(X)`` and ``log|X|``
  are read as the table's row of the joined name (logdet) and ``f |…|`` as f of the bars;
  a single Greek letter that names a function (σ) is a variable when not called;
- otherwise an **abstract function** when called (a single letter, or declared), else a
  **variable** of the default kind (:func:`matcalc.declare.default_kind`).

A name is used as a variable or as a function, never both.  :class:`Names` is the pass;
:class:`Scope` holds what one reading gives the names (shapes, sizes) while nodes are built.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from lark import Token, Tree
from lark.tree import Meta

from . import functions as F
from .declare import (
    FUNCTION_LETTERS,
    GREEK_NAMES,
    KEYWORDS,
    Declarations,
    FuncDecl,
    VarDecl,
    base_name,
    closest,
    default_kind,
    may_be_abstract,
)
from .errors import ParseError, Span
from .nodes import Kron, Var
from .shapes import DimVar, Inference

#: letters that name sizes in notes and textbooks: an undeclared one used only as a number
#: (``/ m``) is a size of the expression (declared sizes are sizes whatever their name)
SIZE_LETTERS = frozenset("mnpqkdNMKTD")

#: names that build a node of their own rather than a call of a table row
NODE_CALLS = {"kron": Kron}

#: c 𝟏 and c 𝟏𝟏ᵀ of the size the expression needs, as MatrixCalculus.org writes them:
#: vector(c), matrix(c)
FILLED = {"vector": "vector", "matrix": "matrix"}

#: names of constants, with the leaf kind they resolve to
CONSTANTS = {"I": "identity", "eye": "identity", "ones": "ones", "zeros": "zeros"}

_SIZED = re.compile(r"(I|ones)_\{?([A-Za-z0-9·*]+)\}?")

#: the lark trees that carry a name token first, and how the name is used there
_NAME_TREES = ("name", "call", "primed_call", "primed2_call", "grad_call", "hess_call", "jac_call", "compose",
               "apply_bare")


@dataclass(frozen=True)
class Meaning:
    """What one occurrence of a name is.  ``kind`` is the Builder's dispatch key."""

    kind: str
    name: str
    fn: F.Function | None = None
    decl: FuncDecl | None = None


def _span(tok: Token) -> Span:
    return (tok.start_pos, tok.end_pos)


def unknown_function(name: str, span: Span | None) -> ParseError:
    """An undeclared name of more than one letter used as a function: a typo or a
    function matcalc lacks, never silently an abstract function."""
    near = closest(name, F.names())
    hint = f" (did you mean {near}?)" if near else ""
    return ParseError(
        f"unknown function '{name}'{hint}. Only single letters (L, f, g, φ, L₁) are abstract functions "
        f"without a declaration; to use '{name}' as one, declare it: --where \"{name}: function\" "
        "(or elementwise, or vector function)", span,
    )


class Names:
    """The resolution pass: the meaning of every name token, keyed by its position.

    Built once per parse; it also rewrites the juxtaposed applications of the function
    table (``log det X``, ``log|X|``) into trees of their own, which the Builder maps."""

    def __init__(self, tree: Any, decls: Declarations, factors_are_numbers: bool = False,
                 readings: tuple[str, ...] = ()):
        self.decls = decls
        #: a second reading, when the first fails: size names that are factors of a product
        #: are numbers too (m in 𝟏 − m softmax(z), as matcalc prints results)
        self.factors_are_numbers = factors_are_numbers
        self.callable = frozenset(F.names())
        #: the meaning of each name token, by its start position in the text
        self.at: dict[int, Meaning] = {}
        #: names read as sizes: True where the size is declared (the reading is forced)
        self.sizes: dict[str, bool] = {}
        #: abstract functions whose kind the notation fixes (∂g(…) makes g a vector function)
        self.fn_kinds: dict[str, FuncDecl] = {}
        #: readings of ambiguous names that the output must mention, in words
        self.readings: list[str] = list(readings)
        #: where each name read as a size is first used
        self.size_spans: dict[str, Span] = {}
        self._used_as: dict[str, str] = {}
        _rewrite_juxtaposed(tree, self)
        occurrences = sorted(_occurrences(tree), key=lambda pair: pair[1].start_pos)
        self._find_sizes(tree, occurrences)
        for data, tok in occurrences:
            self.at[tok.start_pos] = getattr(self, f"_{data}")(tok)

    # -- questions the rewriting asks --------------------------------------------------
    def declared(self, name: str) -> bool:
        return name in self.decls.variables or name in self.decls.functions

    def function_word(self, name: str) -> F.Function | None:
        """The table row of a name written as a function, not called: ``log`` in ``log|X|``."""
        if self.declared(name) or _may_be_variable(name):
            return None
        return F.lookup(name)

    # -- sizes ---------------------------------------------------------------------------
    def _find_sizes(self, tree: Any, occurrences: list[tuple[str, Token]]) -> None:
        scalar_positions: set[int] = set()
        for sub in tree.iter_subtrees():
            if sub.data in ("power", "superscript") and _negative_number(sub.children[1]):
                scalar_positions.update(t.start_pos for t in _scalar_names(sub.children[0], self))  # n⁻¹
            if sub.data == "product_chain":
                if self.factors_are_numbers:
                    factors = [sub.children[0], *(s.children[0] for s in sub.children[1:] if s.data == "step_mul")]
                    factors = [f.children[1] if isinstance(f, Tree) and f.data == "neg" else f for f in factors]  # −N
                    scalar_positions.update(f.children[0].start_pos for f in factors
                                            if isinstance(f, Tree) and f.data == "name")
                for step in sub.children[1:]:
                    if isinstance(step, Tree) and step.data == "step_div":
                        scalar_positions.update(t.start_pos for t in _scalar_names(step.children[0], self))
        declared_sizes = self.decls.dim_symbols()
        candidates: dict[str, bool] = {}
        for data, tok in occurrences:
            name = str(tok)
            ok = data == "name" and tok.start_pos in scalar_positions
            candidates[name] = candidates.get(name, True) and ok
        for name, only_numbers in candidates.items():
            if self.declared(name) or name in CONSTANTS or _SIZED.fullmatch(name):
                continue
            if name in declared_sizes:  # a declared size is that size wherever it is written
                self.sizes[name] = True
            elif only_numbers and name in SIZE_LETTERS:
                self.sizes[name] = False

    # -- uses --------------------------------------------------------------------------
    def _use(self, name: str, how: str, span: Span | None) -> None:
        before = self._used_as.setdefault(name, how)
        if before != how:
            raise ParseError(f"'{name}' is used both as a {before} and as a {how}", span)

    def functions_used(self) -> list[str]:
        return [name for name, how in self._used_as.items() if how == "function"]

    def kind_of(self, name: str) -> FuncDecl:
        """An abstract function's kind: declared, fixed by the notation (∂g), or scalar."""
        return self.fn_kinds.get(name) or self.decls.functions.get(name, FuncDecl("scalar"))

    def _function(self, name: str, span: Span) -> FuncDecl:
        if name not in self.decls.functions and not may_be_abstract(name):
            raise unknown_function(name, span)
        if name not in self.decls.functions and name in self.decls.dim_symbols():
            raise ParseError(f"'{name}' is a size (declared in the shapes), not a function; "
                             f"write {name} (…) with a space for a product", span)
        self._use(name, "function", span)
        return self.kind_of(name)

    # -- one method per tree that carries a name ---------------------------------------
    def _name(self, tok: Token) -> Meaning:
        name, span = str(tok), _span(tok)
        if name in self.decls.variables:
            self._use(name, "variable", span)
            return Meaning("variable", name)
        if name in self.decls.functions:
            raise ParseError(f"'{name}' is declared as a function: write {name}(…)", span)
        if name[0] == "d" and name[1:] in self.decls.variables:  # dX: the differential of X
            self._use(name[1:], "variable", span)
            return Meaning("differential", name[1:])
        if name in CONSTANTS:
            return Meaning(CONSTANTS[name], name)
        if _SIZED.fullmatch(name):
            return Meaning("sized", name)
        if name in self.sizes:
            self.size_spans.setdefault(name, span)
            return Meaning("size", name)
        if name in self.callable and not _may_be_variable(name):
            raise ParseError(f"'{name}' is a function: write {name}(…)", span)
        self._use(name, "variable", span)
        return Meaning("variable", name)

    def _call(self, tok: Token) -> Meaning:
        name, span = str(tok), _span(tok)
        if name in self.decls.variables:  # a declared variable followed by (…) is a product
            self._use(name, "variable", span)
            return Meaning("product", name)
        if name not in self.decls.functions:
            if name in NODE_CALLS:
                return Meaning("node", name)
            if name in FILLED:
                return Meaning("filled", name)
            fn = F.lookup(name)
            if fn is not None:
                return Meaning("builtin", name, fn)
        return Meaning("abstract", name, decl=self._function(name, span))

    def _primed_call(self, tok: Token) -> Meaning:
        name = str(tok)[:-1]
        span = (tok.start_pos, tok.end_pos - 1)
        fn = F.lookup(name) if not self.declared(name) else None
        if fn is not None:
            return Meaning("derivative", name, fn)
        decl = self.decls.functions.get(name)
        if decl is not None:
            if decl.kind != "elementwise":
                raise ParseError(
                    f"{name} is not elementwise: write ∇{name}(…) or grad {name}(…) for its gradient", span
                )
            self._use(name, "function", span)
            return Meaning("abstract_derivative", name, decl=decl)
        # a variable: x'(A y) is xᵀ (A y); but cosh'(x) is a function nobody declared
        if name not in self.decls.variables and not may_be_abstract(name):
            raise unknown_function(name, span)
        if name not in self.decls.variables and base_name(name).rstrip("'′’") in FUNCTION_LETTERS:
            self.readings.append(f"{name}′(…) is read as the product {name}ᵀ (…), {name} a variable; for the "
                                 f"derivative of a function {name}, declare it: --where \"{name}: elementwise\"")
        self._use(name, "variable", span)
        return Meaning("transposed_product", name)

    def _primed2_call(self, tok: Token) -> Meaning:
        text = str(tok)
        name = text[:-1] if text.endswith("″") else text[:-2]
        span = (tok.start_pos, tok.start_pos + len(name))
        fn = F.lookup(name) if not self.declared(name) else None
        if fn is not None:
            return Meaning("derivative", name, fn)
        decl = self.decls.functions.get(name)
        if decl is not None and decl.kind == "elementwise":
            self._use(name, "function", span)
            return Meaning("abstract_derivative", name, decl=decl)
        raise ParseError(f"'{text}(…)' is a second derivative: of an elementwise function only (declare "
                         f"{name}: elementwise); ∇²{name}(…) is the Hessian of a scalar function", span)

    def _hess_call(self, tok: Token) -> Meaning:
        name = str(tok)
        return Meaning("hess", name, decl=self._function(name, _span(tok)))

    def _grad_call(self, tok: Token) -> Meaning:
        name = str(tok)
        return Meaning("grad", name, decl=self._function(name, _span(tok)))

    def _jac_call(self, tok: Token) -> Meaning:
        name = str(tok)
        if name not in self.decls.functions and may_be_abstract(name):
            self.fn_kinds.setdefault(name, FuncDecl("vector"))  # ∂g(y): g is a vector function
        return Meaning("jac", name, decl=self._function(name, _span(tok)))

    def _compose(self, tok: Token) -> Meaning:
        return Meaning("compose", str(tok), self.function_word(str(tok)))

    def _apply_bare(self, tok: Token) -> Meaning:
        return Meaning("apply_bare", str(tok), self.function_word(str(tok)))


def _may_be_variable(name: str) -> bool:
    """A single Greek letter that names a function (σ) is also a letter for a variable."""
    return len(name) == 1 and default_kind(name) == "scalar"


def _occurrences(tree: Any) -> Iterator[tuple[str, Token]]:
    for sub in tree.iter_subtrees():
        if sub.data in _NAME_TREES and sub.children and isinstance(sub.children[0], Token):
            yield str(sub.data), sub.children[0]


def _scalar_names(t: Any, names: Names) -> list[Token]:
    """The name tokens of a divisor that must be numbers for it to be one: the divisor
    itself (``/ m``), through signs, parentheses, sums, number powers (``/ n²``),
    elementwise calls (``/ sqrt(n)``) and products of numbers and such names (``/ (2 m)``)."""
    if not isinstance(t, Tree):
        return []
    if t.data == "name":
        return [t.children[0]]
    if t.data in ("neg", "pos"):
        return _scalar_names(t.children[-1], names)
    if t.data in ("power", "superscript", "elempower") and _is_number(t.children[1]):
        return _scalar_names(t.children[0], names)
    if t.data == "sum_chain":
        out = _scalar_names(t.children[0], names)
        for step in t.children[1:]:
            out += _scalar_names(step.children[-1], names)
        return out
    if t.data == "call" and len(t.children[1].children) == 1:
        fn = names.function_word(str(t.children[0]))
        return _scalar_names(t.children[1].children[0], names) if fn is not None and fn.elementwise else []
    if t.data == "product_chain":
        factors = [t.children[0], *(s.children[0] for s in t.children[1:] if isinstance(s, Tree))]
        if all(_is_number(f) or _number_or_name(f) for f in factors):
            return [tok for f in factors for tok in _scalar_names(f, names)]
    return []


def _is_number(t: Any) -> bool:
    if isinstance(t, Token):
        return t.type == "SUPERSCRIPT" and "ᵀ" not in t
    return isinstance(t, Tree) and t.data in ("number", "vulgar", "exp_number", "exp_negative")


def _negative_number(t: Any) -> bool:
    """⁻¹, ^-1, ^-2: a negative whole power, which a vector does not have."""
    if isinstance(t, Token):
        return t.type == "SUPERSCRIPT" and t.startswith("⁻") and "ᵀ" not in t
    return isinstance(t, Tree) and t.data == "exp_negative"


def _number_or_name(t: Any) -> bool:
    if isinstance(t, Tree) and t.data in ("power", "superscript") and _is_number(t.children[1]):
        t = t.children[0]
    return isinstance(t, Tree) and t.data in ("name", "number", "vulgar")


# ---------------------------------------------------------------- letters written together

#: words that are one name although made only of letters: Greek letters spelt out
#: (``lambda``, ``Sigma``), and the usual abbreviation of epsilon
GREEK_WORDS = frozenset(GREEK_NAMES | {"eps"})

#: postfix trees: their operator binds to the last letter of a word (``Ax'`` is A xᵀ)
_POSTFIX_TREES = ("transpose", "power", "superscript", "elempower")

_LETTERS = re.compile(r"[A-Za-zα-ωΑ-Ωℓ]{2,}")


def is_letter_product(name: str, decls: Declarations) -> bool:
    """Is the undeclared ``name`` a product of its letters (``Ax`` = A x)?  Only a name
    of two or more letters and nothing else (no digit, prime or subscript: ``W1``,
    ``x_i``, ``W_q`` stay names), that is not declared (as a variable, a function or a
    size), not a function or a constant, and not a Greek word (``lambda``, ``Sigma``,
    ``eps``)."""
    if not _LETTERS.fullmatch(name) or name in decls.variables or name in decls.functions:
        return False
    if name in decls.dim_symbols() or name in CONSTANTS or name in NODE_CALLS or name in FILLED:
        return False
    if name.lower() in GREEK_WORDS or name.lower() in KEYWORDS or F.lookup(name) is not None or name in F.names():
        return False  # (a declaration's word in an expression is an error of its own: x : scalar)
    return not (name[0] == "d" and name[1:] in decls.variables)  # dX of a declared X is its differential


def split_letter_products(tree: Any, decls: Declarations) -> tuple[Any, list[str]]:
    """Every undeclared name made of letters only (:func:`is_letter_product`) rewritten as
    the product of its letters, as notes write products (``x'Ax`` is xᵀ A x, ``y'Bz`` is
    yᵀ B z); a postfix operator on the word binds to its last letter (``Ax'`` is A xᵀ).
    Returns the tree (a new root where the whole expression was such a name) and, for the
    output, one sentence per word so read."""
    if isinstance(tree, Token):
        return tree, []
    parent: dict[int, Tree] = {}
    hits: list[Tree] = []
    for sub in tree.iter_subtrees_topdown():
        for k in sub.children:
            if isinstance(k, Tree):
                parent[id(k)] = sub
        if sub.data in ("name", "exp_name") and isinstance(sub.children[0], Token) \
                and is_letter_product(str(sub.children[0]), decls):
            hits.append(sub)
    readings: dict[str, str] = {}
    for leaf in hits:
        tok = leaf.children[0]
        word = str(tok)
        letters = [_letter(tok, i) for i in range(len(word))]
        top, inner = leaf, Tree("name", [letters[-1]], _meta(letters[-1], letters[-1]))
        while id(top) in parent and parent[id(top)].data in _POSTFIX_TREES and parent[id(top)].children[0] is top:
            up = parent[id(top)]
            inner = Tree(up.data, [inner, *up.children[1:]], _meta(letters[-1], up.children[-1]))
            top = up
        steps = [Tree("step_mul", [Tree("name", [t], _meta(t, t))], _meta(t, t)) for t in letters[1:-1]]
        steps.append(Tree("step_mul", [inner], inner.meta))
        product = Tree("product_chain", [Tree("name", [letters[0]], _meta(letters[0], letters[0])), *steps],
                       _meta(letters[0], top if top is not leaf else letters[-1]))
        up = parent.get(id(top))
        if up is None:
            tree = product
        else:
            up.children[up.children.index(top)] = product
        spelled = " ".join(word)
        readings.setdefault(word, f"{word} is read as the product {spelled} (letters written together are a "
                                  f"product; to use {word} as one name, declare it: --where \"{word}: m×n\")")
    return tree, list(readings.values())


def _letter(tok: Token, i: int) -> Token:
    """The ``i``-th letter of a name token, as a name token of its own at its position."""
    out = Token.new_borrow_pos("NAME", str(tok)[i], tok)
    out.start_pos, out.end_pos = tok.start_pos + i, tok.start_pos + i + 1
    out.column, out.end_column = tok.column + i, tok.column + i + 1
    out.end_line = tok.line
    return out


# ---------------------------------------------------------------- juxtaposed functions


def _meta(first: Any, last: Any) -> Meta:
    meta = Meta()
    meta.empty = False
    a = first if isinstance(first, Token) else first.meta
    b = last if isinstance(last, Token) else last.meta
    meta.start_pos, meta.end_pos = a.start_pos, b.end_pos
    meta.line, meta.column = a.line, a.column
    meta.end_line, meta.end_column = b.end_line, b.end_column
    return meta


def _rewrite_juxtaposed(tree: Any, names: Names) -> None:
    """``log det X``, ``log det(X)`` → compose(log, det, X): the table's row of the joined
    name (logdet); ``log|X|`` → apply_bare(log, |X|) (log of det X is logdet, see the
    Builder).  Only where the joined row exists or the argument is between bars: any
    other function name without parentheses stays an error (``tr A B`` is not guessed)."""
    for chain in list(tree.iter_subtrees()):
        if chain.data != "product_chain":
            continue
        kids = chain.children
        i = 0
        while i < len(kids) - 1:
            wrappers: list[Tree] = []  # −log|X|: the sign wraps the first factor
            f = kids[i] if i == 0 else kids[i].children[0] if kids[i].data == "step_mul" else None
            while i == 0 and isinstance(f, Tree) and f.data in ("neg", "pos"):
                wrappers.append(f)
                f = f.children[-1]
            word = _function_word(f, names)
            nxt = kids[i + 1]
            new, used = _juxtaposed(word, nxt.children[0], kids[i + 2:], names) \
                if word is not None and nxt.data == "step_mul" else (None, 0)
            if new is None:
                i += 1
                continue
            applied = Tree(new[0], new[1], _meta(f, new[1][-1]))
            for w in wrappers:
                w.meta.end_pos, w.meta.end_line, w.meta.end_column = \
                    applied.meta.end_pos, applied.meta.end_line, applied.meta.end_column
            if wrappers:
                wrappers[-1].children[-1] = applied
                applied = wrappers[0]
            kids[i:i + 2 + used] = [applied if i == 0 else Tree("step_mul", [applied], _meta(f, new[1][-1]))]
            i += 1


def _function_word(t: Any, names: Names) -> Token | None:
    if isinstance(t, Tree) and t.data == "name" and names.function_word(str(t.children[0])) is not None:
        return t.children[0]
    return None


def _juxtaposed(word: Token, g: Any, rest: list, names: Names) -> tuple[tuple[str, list] | None, int]:
    """The tree for ``word g …`` and how many further steps of the product it takes."""
    f = names.function_word(str(word))
    assert f is not None
    if isinstance(g, Tree) and g.data == "bars":
        return ("apply_bare", [word, g]), 0
    if isinstance(g, Tree) and g.data == "call" and len(g.children[1].children) == 1:
        inner = g.children[0]
        if _joined(f, str(inner), names):
            return ("compose", [word, inner, g.children[1].children[0]]), 0
    second = _function_word(g, names)
    if second is not None and _joined(f, str(second), names) and rest and rest[0].data == "step_mul":
        if len(rest) > 1 and rest[1].data == "step_mul":  # log det X Y: of X, or of X Y?
            raise ParseError(f"'{word} {second} …' followed by a product is ambiguous: write "
                             f"{word} {second}(…) with parentheses", (word.start_pos, rest[1].meta.end_pos))
        return ("compose", [word, second, rest[0].children[0]]), 1
    return None, 0


def _joined(f: F.Function, g_name: str, names: Names) -> F.Function | None:
    g = names.function_word(g_name)
    return F.lookup(f.name + g.name) if g is not None else None


def joined_row(f: F.Function, g: F.Function) -> F.Function | None:
    """The row that ``f g`` written without parentheses names: log det → logdet."""
    return F.lookup(f.name + g.name)


# ------------------------------------------------------------------------- one reading


class Scope:
    """What one reading gives the names: the shapes of variables (declared, or by default
    kind; ``promoted`` scalars read as vectors), the sizes read as numbers, the values of
    vector functions.  One per reading; the Builder asks it for leaves."""

    def __init__(self, names: Names, decls: Declarations, u: Inference, promoted: frozenset[str],
                 demoted: frozenset[str] = frozenset()):
        self.names = names
        self.decls = decls
        self.u = u
        self.promoted = promoted
        #: vectors by default read as scalars (a coefficient: a x, c A x), said as bent
        self.demoted = demoted
        #: undeclared names: their default kind and the shape they were given
        self.defaults: dict[str, tuple[str, tuple[Any, Any]]] = {}
        self.var_shapes: dict[str, tuple[Any, Any]] = {}
        self.fn_out: dict[str, Any] = {}
        #: an undeclared size read as a number: the unknown size it stands for
        self.size_dims: dict[str, DimVar] = {}

    def var(self, name: str, span: Span | None) -> Var:
        if name not in self.var_shapes:
            decl = self.decls.variables.get(name)
            self.var_shapes[name] = self._declared_shape(decl) if decl else self._default_shape(name)
        rows, cols = self.var_shapes[name]
        decl = self.decls.variables.get(name)
        return Var(name, (rows, cols), bool(decl and decl.symmetric))

    def size(self, name: str) -> Any:
        """The size a name used as a number stands for: the declared symbol, or an unknown
        size that matcalc.parse ties to a size of the expression."""
        if self.names.sizes[name]:
            return name
        if name not in self.size_dims:
            self.size_dims[name] = self.u.fresh()
        return self.size_dims[name]

    def out(self, name: str, decl: FuncDecl) -> Any:
        if name not in self.fn_out:
            self.fn_out[name] = decl.out if decl.out is not None else self.u.fresh()
        return self.fn_out[name]

    def _declared_shape(self, decl: VarDecl) -> tuple[Any, Any]:
        rows = self.u.fresh() if decl.rows is None else decl.rows
        cols = rows if decl.square and decl.cols is None else self.u.fresh() if decl.cols is None else decl.cols
        return (rows, cols)

    def _default_shape(self, name: str) -> tuple[Any, Any]:
        kind = "vector" if name in self.promoted else default_kind(name)
        if kind == "scalar":
            shape: tuple[Any, Any] = (1, 1)
        elif kind == "vector":
            shape = (self.u.fresh(), 1)
            if name in self.demoted:  # a vector whose size is 1: collapsed(), so it is said
                self.u.unify(shape[0], 1)
        else:
            shape = (self.u.fresh(), self.u.fresh())
        self.defaults[name] = (kind, shape)
        return shape

    def collapsed(self) -> list[str]:
        """Undeclared names whose default kind (vector, matrix) was bent by another name's
        default: a size that would be free became 1 (``x - μ`` with μ a scalar)."""
        return [name for name, (kind, shape) in self.defaults.items()
                if kind != "scalar" and name not in self.promoted
                and any(isinstance(d, DimVar) and self.u.resolve(d) == 1 for d in shape)]

    def functions(self) -> dict[str, FuncDecl]:
        """The abstract functions used, with their kinds."""
        return {name: self.names.kind_of(name) for name in self.names.functions_used()}
