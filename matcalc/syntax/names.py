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
  when the expression does not parse otherwise, a factor: ``𝟏 − m softmax(z)``), the
  name a declared size or a letter that names sizes
  (:data:`~matcalc.syntax.words.SIZE_LETTERS`); :func:`matcalc.syntax.sizes.tie_sizes` ties
  it to a size of the expression;
- a **built-in function** of the function table (:func:`matcalc.functions.lookup`), called
  as ``f(…)``; written without parentheses, ``log det X``, ``log det(X)`` and ``log|X|``
  are read as the table's row of the joined name (logdet) and ``f |…|`` as f of the bars
  (:func:`matcalc.syntax.rewrite.rewrite_juxtaposed`);
  a single Greek letter that names a function (σ) is a variable when not called;
- otherwise an **abstract function** when called (a single letter, or declared), else a
  **variable** of the default kind (:func:`matcalc.declare.default_kind`).

A name is used as a variable or as a function, never both.  :class:`Names` is the pass;
:class:`Scope` holds what one reading gives the names (shapes, sizes) while nodes are built.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from lark import Token, Tree

from .. import functions as F
from ..declare import (
    FUNCTION_LETTERS,
    Declarations,
    FuncDecl,
    VarDecl,
    base_name,
    closest,
    default_kind,
    may_be_abstract,
)
from ..errors import ParseError, Span
from ..nodes import Var
from ..shapes import DimVar, Inference
from .rewrite import rewrite_juxtaposed
from .words import CONSTANTS, FILLED, NODE_CALLS, SIZE_LETTERS, SIZED, function_word, may_be_variable

#: the lark trees that carry a name token first, and how the name is used there
_NAME_TREES = ("name", "call", "derivative", "second_derivative", "grad", "hess", "jac", "joined_call", "bars_call")


class Meaning:
    """What one occurrence of a name is: ``kind``, the tree builder's dispatch key, the
    name, and the table row (``fn``) or the declaration (``decl``) of a function."""

    __slots__ = ("kind", "name", "fn", "decl")

    def __init__(self, kind: str, name: str, fn: F.Function | None = None, decl: FuncDecl | None = None):
        self.kind = kind
        self.name = name
        self.fn = fn
        self.decl = decl


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

    Built once per parse (twice where size names that are factors are also read as
    numbers); it first rewrites the juxtaposed applications of the function table
    (``log det X``, ``log|X|``) into trees of their own, which the tree builder maps."""

    def __init__(self, tree: Any, decls: Declarations, factors_are_numbers: bool = False,
                 said: tuple[str, ...] = ()):
        self.decls = decls
        #: a second reading, when the first fails: size names that are factors of a product
        #: are numbers too (m in 𝟏 − m softmax(z), as matcalc prints results)
        self.factors_are_numbers = factors_are_numbers
        self.callable = frozenset(F.names())
        #: the meaning of each name token, by its start position in the text
        self.meaning_at: dict[int, Meaning] = {}
        #: names read as sizes: True where the size is declared (the reading is forced)
        self.sizes: dict[str, bool] = {}
        #: abstract functions whose kind the notation fixes (∂g(…) makes g a vector function)
        self.fn_kinds: dict[str, FuncDecl] = {}
        #: what the output must say about how ambiguous names were read, in words
        self.said: list[str] = list(said)
        #: where each name read as a size is first used
        self.size_spans: dict[str, Span] = {}
        self._used_as: dict[str, str] = {}
        rewrite_juxtaposed(tree, decls)
        occurrences = sorted(_occurrences(tree), key=lambda pair: pair[1].start_pos)
        self._find_sizes(tree, occurrences)
        for data, tok in occurrences:
            self.meaning_at[tok.start_pos] = getattr(self, f"_{data}")(tok)

    # -- questions about names ----------------------------------------------------------
    def declared(self, name: str) -> bool:
        return name in self.decls.variables or name in self.decls.functions

    def function_word(self, name: str) -> F.Function | None:
        """The table row of a name written as a function, not called: ``log`` in ``log|X|``."""
        return function_word(name, self.decls)

    # -- sizes ---------------------------------------------------------------------------
    def _find_sizes(self, tree: Any, occurrences: list[tuple[str, Token]]) -> None:
        scalar_positions: set[int] = set()
        for sub in tree.iter_subtrees():
            if sub.data == "power" and _negative_number(sub.children[1]):
                scalar_positions.update(t.start_pos for t in _scalar_names(sub.children[0], self))  # n⁻¹
            if sub.data == "product":
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
            if self.declared(name) or name in CONSTANTS or SIZED.fullmatch(name):
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
        if SIZED.fullmatch(name):
            return Meaning("sized", name)
        if name in self.sizes:
            self.size_spans.setdefault(name, span)
            return Meaning("size", name)
        if name in self.callable and not may_be_variable(name):
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

    def _derivative(self, tok: Token) -> Meaning:
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
            self.said.append(f"{name}′(…) is read as the product {name}ᵀ (…), {name} a variable; for the "
                                 f"derivative of a function {name}, declare it: --where \"{name}: elementwise\"")
        self._use(name, "variable", span)
        return Meaning("transposed_product", name)

    def _second_derivative(self, tok: Token) -> Meaning:
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

    def _hess(self, tok: Token) -> Meaning:
        name = str(tok)
        return Meaning("hess", name, decl=self._function(name, _span(tok)))

    def _grad(self, tok: Token) -> Meaning:
        name = str(tok)
        return Meaning("grad", name, decl=self._function(name, _span(tok)))

    def _jac(self, tok: Token) -> Meaning:
        name = str(tok)
        if name not in self.decls.functions and may_be_abstract(name):
            self.fn_kinds.setdefault(name, FuncDecl("vector"))  # ∂g(y): g is a vector function
        return Meaning("jac", name, decl=self._function(name, _span(tok)))

    def _joined_call(self, tok: Token) -> Meaning:
        return Meaning("joined_call", str(tok), self.function_word(str(tok)))

    def _bars_call(self, tok: Token) -> Meaning:
        return Meaning("bars_call", str(tok), self.function_word(str(tok)))


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
    if t.data in ("power", "elementwise_power") and _is_number(t.children[1]):
        return _scalar_names(t.children[0], names)
    if t.data == "add":
        out = _scalar_names(t.children[0], names)
        for step in t.children[1:]:
            out += _scalar_names(step.children[-1], names)
        return out
    if t.data == "call" and len(t.children[1].children) == 1:
        fn = names.function_word(str(t.children[0]))
        return _scalar_names(t.children[1].children[0], names) if fn is not None and fn.elementwise else []
    if t.data == "product":
        factors = [t.children[0], *(s.children[0] for s in t.children[1:] if isinstance(s, Tree))]
        if all(_is_number(f) or _number_or_name(f) for f in factors):
            return [tok for f in factors for tok in _scalar_names(f, names)]
    return []


def _is_number(t: Any) -> bool:
    if isinstance(t, Token):
        return t.type == "SUPERSCRIPT" and "ᵀ" not in t
    return isinstance(t, Tree) and t.data in ("number", "number_exponent", "negative_exponent")


def _negative_number(t: Any) -> bool:
    """⁻¹, ^-1, ^-2: a negative whole power, which a vector does not have."""
    if isinstance(t, Token):
        return t.type == "SUPERSCRIPT" and t.startswith("⁻") and "ᵀ" not in t
    return isinstance(t, Tree) and t.data == "negative_exponent"


def _number_or_name(t: Any) -> bool:
    if isinstance(t, Tree) and t.data == "power" and _is_number(t.children[1]):
        t = t.children[0]
    return isinstance(t, Tree) and t.data in ("name", "number")



# ------------------------------------------------------------------------- one reading


class Scope:
    """What one reading gives the names: the shapes of variables (declared, or of their
    default kind, but for the scalars by default in ``as_vectors``, read as vectors, and the
    vectors by default in ``as_scalars``, read as scalars), the sizes read as numbers, the
    values of vector functions.  One per reading; the tree builder asks it for leaves."""

    def __init__(self, names: Names, decls: Declarations, u: Inference, as_vectors: frozenset[str],
                 as_scalars: frozenset[str] = frozenset()):
        self.names = names
        self.decls = decls
        self.u = u
        self.as_vectors = as_vectors
        #: vectors by default read as scalars (a coefficient: a x, c A x), said as bent
        self.as_scalars = as_scalars
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
        size that :func:`~matcalc.syntax.sizes.tie_sizes` ties to a size of the expression."""
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
        kind = "vector" if name in self.as_vectors else default_kind(name)
        if kind == "scalar":
            shape: tuple[Any, Any] = (1, 1)
        elif kind == "vector":
            shape = (self.u.fresh(), 1)
            if name in self.as_scalars:  # a vector whose size is 1: bent(), so it is said
                self.u.unify(shape[0], 1)
        else:
            shape = (self.u.fresh(), self.u.fresh())
        self.defaults[name] = (kind, shape)
        return shape

    def bent(self) -> list[str]:
        """Undeclared names whose default kind (vector, matrix) was bent by another name's
        default: a size that would be free became 1 (``x - μ`` with μ a scalar)."""
        return [name for name, (kind, shape) in self.defaults.items()
                if kind != "scalar" and name not in self.as_vectors
                and any(isinstance(d, DimVar) and self.u.resolve(d) == 1 for d in shape)]

    def functions(self) -> dict[str, FuncDecl]:
        """The abstract functions used, with their kinds."""
        return {name: self.names.kind_of(name) for name in self.names.functions_used()}
