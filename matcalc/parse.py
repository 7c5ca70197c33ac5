"""Text → syntax tree.  All notation sugar is removed here and nowhere else.

Parsing is three passes over the Lark parse tree:

1. :class:`matcalc.resolve.Names` resolves every name (variable, size used as a number,
   built-in function of the table, abstract function, ``I``, ``𝟏``, ``dX``) and rewrites
   juxtaposed functions (``log det X``, ``log|X|``).
2. :class:`Builder` maps each grammar alias to a node, inside ``inferring(u)``: node
   constructors then *unify* the unknown dimensions of undeclared names (``tr(A X B)``
   with only X declared infers A and B).  A reading's shapes live in its
   :class:`matcalc.resolve.Scope`.
3. :func:`_tie_sizes` ties sizes used as numbers to sizes of the expression, and
   :func:`_ground` rebuilds the tree with every dimension resolved; unknown sizes that
   are left get fresh textbook names (m, n, p, …) not used elsewhere.

Notation removed here: products by juxtaposition, ``A - B``, ``x'``/``xᵀ``/``x⊤``/``x’``,
``X^-1``, ``⊙``/``.*``, ``./``, ``1ᵀ``, ``½``, ``|X|`` (det) and ``|a|`` (abs), ``‖x‖₁``,
``‖X‖_F``, ``⟨A, X⟩`` and ``A : X`` (tr(Aᵀ X)), ``a / m`` with m a size.  Zero-width
characters are removed first, and positions mapped back to the text as given.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import sys
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import Any

import lark
from lark import Lark, Token, Transformer_NonRecursive, v_args
from lark.exceptions import (
    GrammarError,
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
    VisitError,
)

from . import functions as F
from .algebra import flatten_product
from .declare import KEYWORDS, NAME_PATTERN, Declarations, FuncDecl, base_name, default_kind, parse_where
from .errors import MatcalcError, ParseError, ShapeError, Span, TimeLimitError
from .limits import (
    MAX_DECIMAL_EXPONENT,
    MAX_DEPTH,
    MAX_DIGITS,
    MAX_INPUT_CHARS,
    MAX_MATRIX_POWER,
    MAX_NESTING,
    MAX_SIZE,
)
from .nodes import (
    Add,
    Apply,
    Call,
    Commutation,
    Deriv,
    Diff,
    Expr,
    Grad,
    Hadamard,
    Hess,
    Identity,
    Jac,
    Kron,
    MatMul,
    MatPow,
    Num,
    Ones,
    Power,
    Size,
    Transpose,
    Unvec,
    Var,
    Zeros,
    map_bottom_up,
)
from .resolve import NODE_CALLS, Meaning, Names, Scope, joined_row, split_letter_products
from .shapes import (
    DimProd,
    DimVar,
    Inference,
    Mismatch,
    Strict,
    describe_shape,
    dim_mul,
    inferring,
    shape_error,
    shape_str,
)

FRESH_NAMES = ("m", "n", "p", "q", "r", "s", "t", "k", "l", "u", "v", "w")


def grammar_text() -> str:
    """The grammar: inside the installed package, or at the top of a source checkout."""
    try:
        return resources.files("matcalc.grammar").joinpath("matcalc.lark").read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        return (Path(__file__).resolve().parent.parent / "grammar" / "matcalc.lark").read_text(encoding="utf-8")


def cache_dir() -> Path | None:
    """matcalc's directory in the user's cache (``$XDG_CACHE_HOME/matcalc``, else
    ``~/.cache/matcalc``; on Windows ``%LOCALAPPDATA%\\matcalc``), created if need be;
    None when there is none that can be created (a read-only home): then nothing is cached."""
    base = os.environ.get("XDG_CACHE_HOME") or (os.environ.get("LOCALAPPDATA") if os.name == "nt" else None)
    try:
        root = Path(base) if base and os.path.isabs(base) else Path.home() / ".cache"
        path = root / "matcalc"
        path.mkdir(parents=True, exist_ok=True)
    except (OSError, RuntimeError):  # RuntimeError: no home directory to expand ~ to
        return None
    return path


@functools.lru_cache(maxsize=1)
def _parser() -> Lark:
    """The LALR parser.  Building its tables takes about 40 ms, so Lark's own cache
    (``cache=``) keeps them between processes, in :func:`cache_dir`: one file per grammar,
    Lark version and Python version, which Lark checks against a hash of all three before
    loading it (a stale, torn or unreadable file is rebuilt, never trusted)."""
    grammar = grammar_text()
    cache: str | bool = False
    where = cache_dir()
    if where is not None:
        key = hashlib.sha256(f"{grammar}\0{lark.__version__}\0{sys.version_info[:2]}".encode()).hexdigest()[:16]
        cache = str(where / f"grammar-{key}.lark-cache")
    return Lark(
        grammar, parser="lalr", propagate_positions=True, maybe_placeholders=False,
        postlex=_PairBars(), cache=cache,
    )


class _PairBars:
    """Post-lexer: in ``‖x‖`` the first bar opens a norm and the next one closes it; the
    same for single bars ``|x|``, paired on their own (``‖ |x| ‖``)."""

    always_accept = ("BAR", "ABS")

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        open_ = {"BAR": False, "ABS": False}
        for tok in stream:
            if tok.type in open_:
                kind = tok.type
                tok = Token.new_borrow_pos(f"{'CLOSE' if open_[kind] else 'OPEN'}_{kind}", tok.value, tok)
                open_[kind] = not open_[kind]
            yield tok


def _span(meta: Any) -> Span | None:
    if getattr(meta, "empty", True):
        return None
    return (meta.start_pos, meta.end_pos)


def _tok_span(tok: Token) -> Span:
    return (tok.start_pos, tok.end_pos)


def _at(node: Expr, span: Span | None) -> Expr:
    """Attach a position in the input to a node (positions are not part of equality)."""
    if span is not None and node.span is None:
        object.__setattr__(node, "span", span)
    return node


_SUPER_DIGITS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")
_FROM_SUBSCRIPT = str.maketrans("ₐₑₒₓₕₖₗₘₙₚₛₜ₀₁₂₃₄₅₆₇₈₉", "aeoxhklmnpst0123456789")


@v_args(meta=True, inline=True)
class Builder(Transformer_NonRecursive):
    """Maps each grammar alias to a node.  One instance per reading.

    What a name is comes from the resolution pass (:class:`matcalc.resolve.Names`); the
    shapes one reading gives the names come from its :class:`matcalc.resolve.Scope`."""

    def __init__(self, names: Names, u: Inference, promoted: frozenset[str] = frozenset(),
                 demoted: frozenset[str] = frozenset(), ones: bool = False):
        super().__init__(visit_tokens=False)  # tokens are read by the rules that hold them
        self.names = names
        self.decls = names.decls
        self.u = u
        self.scope = Scope(names, names.decls, u, promoted, demoted)
        #: a literal 1 that begins a product is the vector of ones (A − 1 xᵀ): a reading tried when
        #: the number 1 bends a name; the 1s so read, said in the output
        self.ones_first = ones
        self.ones_read: list[Expr] = []
        #: the scalars added to every entry of an array (x − tr(X)/n), said in the output
        self.broadcasts: list[tuple[Expr, Expr]] = []
        # the Nums written as the literal 1 (for 1ᵀ), by identity; the nodes are kept alive
        # here, so that no other node built later can reuse the id of one of them
        self._literal_ones: dict[int, Expr] = {}

    def _call_userfunc(self, tree: Any, new_children: list | None = None) -> Any:
        """Lark's dispatch, without making a wrapper of the rule's method on every call
        (Lark's ``v_args`` binds one per call): each rule's function is looked up once."""
        rule = _RULES.get(tree.data)
        if rule is None:
            return super()._call_userfunc(tree, new_children)
        try:
            return rule(self, tree.meta, *(new_children if new_children is not None else tree.children))
        except GrammarError:
            raise
        except Mismatch:  # a shape rule's failure that no rule turned into words: still a shape error
            exc = shape_error(tree.data.replace("_", " "), "the shapes do not agree", [], _span(tree.meta))
            raise VisitError(tree.data, tree, exc) from None
        except Exception as exc:
            raise VisitError(tree.data, tree, exc) from exc

    # -- helpers -----------------------------------------------------------------------
    def _scalar(self, e: Expr) -> bool:
        return self.u.is_one(e.shape[0]) and self.u.is_one(e.shape[1])

    def _var(self, name: str, span: Span | None) -> Expr:
        return _at(self.scope.var(name, span), span)

    def _product(self, factors: list[Expr], span: Span | None) -> Expr:
        """A product: nested products flattened, numbers folded into one leading number."""
        coeff, flat = flatten_product(factors, self._scalar)
        if not flat:
            return _at(Num(coeff), span)
        if coeff != 1:
            flat.insert(0, Num(coeff))
        if len(flat) == 1:
            return flat[0]
        return self._make(MatMul, (tuple(flat),), span)

    def _negate(self, e: Expr, span: Span | None) -> Expr:
        """−e; −(aᵀ b) is the one product −1·aᵀ·b (a 1×1 product is kept as one factor
        only among other matrices: (xᵀ x) A)."""
        factors = e.factors if isinstance(e, MatMul) else (e,)
        return self._product([Num(Fraction(-1)), *factors], span)

    def _make(self, cls: type, args: tuple, span: Span | None) -> Expr:
        try:
            return _at(cls(*args), span)
        except ShapeError as err:
            if err.span is None:
                err.span = span
            raise

    # -- leaves ------------------------------------------------------------------------
    def number(self, meta: Any, tok: Token) -> Expr:
        out = _at(Num(_number_value(tok)), _tok_span(tok))
        if str(tok) == "1":
            self._literal_ones[id(out)] = out
        return out

    def _literal_one(self, e: Expr) -> bool:
        """Is ``e`` the very node of a literal 1 in the input?"""
        return self._literal_ones.get(id(e)) is e

    def name(self, meta: Any, tok: Token) -> Expr:
        meaning = self.names.at[tok.start_pos]
        return _at(self._LEAVES[meaning.kind](self, meaning, tok), _tok_span(tok))

    def _leaf_variable(self, m: Meaning, tok: Token) -> Expr:
        return self._var(m.name, _tok_span(tok))

    def _leaf_differential(self, m: Meaning, tok: Token) -> Expr:  # dX
        return Diff(self._var(m.name, _tok_span(tok)))

    def _leaf_identity(self, m: Meaning, tok: Token) -> Expr:
        return Identity(self.u.fresh())

    def _leaf_sized(self, m: Meaning, tok: Token) -> Expr:  # I_n, I_3, ones_n
        kind, size = re.fullmatch(r"(I|ones)_\{?([A-Za-z0-9·*]+)\}?", m.name).groups()  # type: ignore[union-attr]
        dim = _parse_dim(size, _tok_span(tok))
        return Identity(dim) if kind == "I" else Ones((dim, 1))

    def _leaf_ones(self, m: Meaning, tok: Token) -> Expr:
        return self.ones(None, tok)

    def _leaf_zeros(self, m: Meaning, tok: Token) -> Expr:
        return Zeros((self.u.fresh(), self.u.fresh()))

    def _leaf_size(self, m: Meaning, tok: Token) -> Expr:  # ‖X w − y‖² / m
        return Size(self.scope.size(m.name))

    _LEAVES = {
        "variable": _leaf_variable, "differential": _leaf_differential, "identity": _leaf_identity,
        "sized": _leaf_sized, "ones": _leaf_ones, "zeros": _leaf_zeros, "size": _leaf_size,
    }

    def vulgar(self, meta: Any, tok: Token) -> Expr:
        """½, ⅔, and 2½ (two and a half), exactly."""
        text = str(tok)
        whole = _number_value(Token.new_borrow_pos("NUMBER", text[:-1], tok)) if len(text) > 1 else 0
        digits = "".join(chr(int(h, 16)) for h in unicodedata.decomposition(text[-1]).split()[1:])  # 1⁄10
        num, den = digits.split("⁄")
        return _at(Num(whole + Fraction(int(num), int(den))), _tok_span(tok))

    def ones(self, meta: Any, tok: Token) -> Expr:
        text = str(tok)
        if "_" in text:
            return _at(Ones((_parse_dim(text.split("_", 1)[1].strip("{}"), _tok_span(tok)), 1)), _tok_span(tok))
        if len(text) > 1 and text[1:].translate(_FROM_SUBSCRIPT) != text[1:]:  # 𝟏ₙ
            size = _parse_dim(text[1:].translate(_FROM_SUBSCRIPT), _tok_span(tok))
            return _at(Ones((size, 1)), _tok_span(tok))
        return _at(Ones((self.u.fresh(), 1)), _tok_span(tok))

    def unvec(self, meta: Any, tok: Token, arg: Expr) -> Expr:
        rows, cols = _parse_dims(str(tok)[len("unvec_{"):-1], 2, "unvec_{m,n}", _tok_span(tok))
        return self._make(Unvec, (arg, rows, cols), _span(meta))

    def sized_identity(self, meta: Any, tok: Token) -> Expr:
        text = str(tok)
        size = text[3:-1] if text.startswith("I_{") else text[1:].translate(_FROM_SUBSCRIPT)
        return _at(Identity(_parse_dim(size, _tok_span(tok))), _tok_span(tok))

    def zero_matrix(self, meta: Any, tok: Token) -> Expr:
        text = str(tok)
        if "_" in text:  # 𝟎_{m,n}, zeros_{m,n}
            rows, cols = _parse_dims(text.split("_", 1)[1].strip("{}"), 2, "𝟎_{m,n}", _tok_span(tok))
            return _at(Zeros((rows, cols)), _tok_span(tok))
        return _at(Zeros((self.u.fresh(), self.u.fresh())), _tok_span(tok))

    def commutation(self, meta: Any, tok: Token) -> Expr:
        m, n = _parse_dims(str(tok)[3:-1], 2, "K_{m,n}", _tok_span(tok))
        return _at(Commutation(m, n), _tok_span(tok))

    # -- sums and products -------------------------------------------------------------
    # A run of terms (a + b − c …) or of factors (a b / c ⊙ d …) is one grammar rule, so
    # that long flat sums and products are built in linear time without recursion.
    def sum_step(self, meta: Any, sign: Token, b: Expr) -> tuple[bool, Expr]:
        return (sign.type == "MINUS", b)

    def sum_chain(self, meta: Any, first: Expr, *steps: tuple[bool, Expr]) -> Expr:
        """a + b − c + …: one sum; a sum in parentheses is spliced in."""
        span = _span(meta)
        terms: list[Expr] = []
        for negative, t in ((False, first), *steps):
            t = self._negate(t, t.span) if negative else t
            terms.extend(t.terms if isinstance(t, Add) else (t,))
        shaped = next((t for t in terms if not self._scalar(t)), None)
        if shaped is not None:  # a scalar added to an array is added to every entry: 1 − σ(x), x − tr(X)/n
            bare = any(isinstance(_core(t), Var) and not self._scalar(t) for t in terms)
            if not all(self._coefficient(t) for t in terms if not self._scalar(t)):  # uᵀ M v + c: c a scalar
                terms = [self._broadcast(t, shaped) if self._scalar(t) and not (bare and self._takes_shape(t))
                         else t for t in terms]
        # unify term by term, so that an error names the sum so far and the next term
        rows, cols = terms[0].shape
        start = terms[0].span[0] if terms[0].span else None
        for i, t in enumerate(terms[1:], 1):
            try:
                self.u.unify(rows, t.shape[0])
                self.u.unify(cols, t.shape[1])
            except Mismatch:
                before = terms[i - 1].span
                left = (start, before[1]) if start is not None and before else None
                raise shape_error("sum", "the shapes do not agree", [(left, (rows, cols)), (t.span, t.shape)],
                                  None) from None
        return self._make(Add, (tuple(terms),), span)

    def pos(self, meta: Any, plus: Token, a: Expr) -> Expr:
        return a

    def _broadcast(self, s: Expr, like: Expr) -> Expr:
        """The scalar ``s`` added to every entry of an array shaped like ``like``: s 𝟏 (s 𝟏𝟏ᵀ
        for a matrix).  Other than a number, said in the output."""
        ones = Ones(like.shape)
        if isinstance(s, Num):
            return ones if s.value == 1 else MatMul((s, ones))
        self.broadcasts.append((s, like))
        return self._product([s, ones], s.span)

    def _coefficient(self, t: Expr) -> bool:
        """An undeclared a–g letter alone as a term: a coefficient, not broadcast against
        (uᵀ M v + c is a scalar, as MatrixCalculus.org reads a–g)."""
        core = _core(t)
        return isinstance(core, Var) and core.name not in self.decls.variables and _coefficient_letter(core.name) \
            and default_kind(core.name) == "vector"

    def _takes_shape(self, t: Expr) -> bool:
        """A Greek letter added to a variable takes its shape (the mean μ in x − μ), unless it
        is declared or one of the small constants of numerics (ε, δ: log(x + ε))."""
        core = _core(t)
        return (isinstance(core, Var) and core.name not in self.decls.variables
                and default_kind(core.name) == "scalar" and base_name(core.name) not in SMALL_CONSTANTS)

    def step_mul(self, meta: Any, b: Expr) -> tuple[str, Expr, int]:
        return ("mul", b, meta.end_pos)

    def step_div(self, meta: Any, b: Expr) -> tuple[str, Expr, int]:
        return ("div", b, meta.end_pos)

    def step_hadamard(self, meta: Any, b: Expr) -> tuple[str, Expr, int]:
        return ("hadamard", b, meta.end_pos)

    def step_elemdiv(self, meta: Any, b: Expr) -> tuple[str, Expr, int]:
        return ("elemdiv", b, meta.end_pos)

    def step_kron(self, meta: Any, b: Expr) -> tuple[str, Expr, int]:
        return ("kron", b, meta.end_pos)

    def product_chain(self, meta: Any, first: Expr, *steps: tuple[str, Expr, int]) -> Expr:
        """a b ⊙ c / d …, left to right: ((a b) ⊙ c) / d.  Runs of matrix products are
        collected in one list and built once (see :class:`_ProductRun`)."""
        start = meta.start_pos
        first, steps = self._outer_ones(first, steps)
        if self.ones_first and self._literal_one(first) and steps and steps[0][0] == "mul":
            first = _at(Ones((self.u.fresh(), 1)), first.span)
            self.ones_read.append(first)
        chain = _ProductRun(self, first, start)
        i = 0
        while i < len(steps):
            op, b, end = steps[i]
            if op == "mul":
                chain.times(b, (start, end))
                i += 1
                continue
            if op == "div" and chain.divided(b, (start, end)):
                i += 1
                continue
            a = chain.build()
            j = i + 1
            while op == "hadamard" and j < len(steps) and steps[j][0] == "hadamard":
                j += 1
            k = Fraction(1)
            if op in ("hadamard", "elemdiv") and isinstance(a, MatMul) and isinstance(a.factors[0], Num) \
                    and not self._scalar(a):  # 2 X ./ Y is 2 (X ./ Y): the number leads the product
                k, rest = a.factors[0].value, a.factors[1:]
                a = rest[0] if len(rest) == 1 else self._make(MatMul, (rest,), a.span)
            result = self._hadamard_run(a, steps[i:j], start) if op == "hadamard" else \
                self._binary(op, a, b, (start, end))
            if k != 1:
                result = self._product([Num(k), result], result.span)
            chain = _ProductRun(self, result, start)
            i = j
        return chain.build()

    def _outer_ones(self, first: Expr, steps: tuple) -> tuple[Expr, tuple]:
        """``1 1ᵀ`` is 𝟏 𝟏ᵀ, as matcalc prints it (the centring matrix I − 1 1ᵀ/n): a literal 1
        written right before a row of ones is the column of ones, not the number 1."""
        factors = [first, *(b for _, b, _ in steps)]
        ops = ["", *(op for op, _, _ in steps)]
        def ones_row(f: Expr) -> bool:
            return isinstance(f, Transpose) and isinstance(f.arg, Ones)

        for k in range(len(factors) - 1):
            if ops[k + 1] != "mul":
                continue
            if self._literal_one(factors[k]) and ones_row(factors[k + 1]):  # 1 1ᵀ
                factors[k] = _at(Ones((self.u.fresh(), 1)), factors[k].span)
            elif ones_row(factors[k]) and self._literal_one(factors[k + 1]):  # 1ᵀ 1 = n
                factors[k + 1] = _at(Ones((self.u.fresh(), 1)), factors[k + 1].span)
        return factors[0], tuple((op, b, end) for (op, _, end), b in zip(steps, factors[1:], strict=True))

    def _hadamard_run(self, a: Expr, steps: tuple, start: int) -> Expr:
        """a ⊙ b ⊙ c ⊙ …: one Hadamard product of all the factors, built once (each step
        as :meth:`_hadamard` would, which turns a ⊙ with a 1×1 side into a product)."""
        factors = list(a.factors if isinstance(a, Hadamard) else (a,))
        acc: Any = a  # the product so far; while collecting, only its shape (_Shaped)
        end = a.span[1] if a.span else start
        for _, b, b_end in steps:
            if self._scalar(acc) or self._scalar(b):
                if isinstance(acc, _Shaped):
                    acc = self._make(Hadamard, (tuple(factors),), (start, end))
                acc = self._hadamard(acc, b, (start, b_end))
                factors = list(acc.factors if isinstance(acc, Hadamard) else (acc,))
            else:
                try:
                    self.u.unify(acc.shape[0], b.shape[0])
                    self.u.unify(acc.shape[1], b.shape[1])
                except Mismatch:  # the node's own shape rule names the operands
                    self._make(Hadamard, (tuple([*factors, b]),), (start, b_end))
                    raise shape_error("Hadamard product", "both sides must have the same shape",
                                      [(a.span, acc.shape), (b.span, b.shape)], (start, b_end)) from None
                factors.extend(b.factors if isinstance(b, Hadamard) else (b,))
                acc = _Shaped(acc.shape)
            end = b_end
        if isinstance(acc, _Shaped):
            acc = self._make(Hadamard, (tuple(factors),), (start, end))
        return acc

    def _binary(self, op: str, a: Expr, b: Expr, span: Span) -> Expr:
        if op == "div":
            return self._div(a, b, span)
        if op == "hadamard":
            return self._hadamard(a, b, span)
        if op == "elemdiv":
            return self._elemdiv(a, b, span)
        return self._kron(a, b, span)

    def _kron(self, a: Expr, b: Expr, span: Span | None) -> Expr:
        """A ⊗ B; of two identities of unknown sizes, kron(I, I) = I (with its numbers: kron(I, 2 I)
        = 2 I), whose one size the rest decides (a product of two unknown sizes could not be split)."""
        ka, ia = self._scaled_identity(a)
        kb, ib = self._scaled_identity(b)
        if ia and ib:
            eye = _at(Identity(self.u.fresh()), span)
            k = ka * kb
            return eye if k == 1 else self._make(MatMul, ((Num(k), eye),), span)
        return self._make(Kron, (a, b), span)

    def _scaled_identity(self, e: Expr) -> tuple[Any, bool]:
        """(k, True) for I or k I of a size not known yet."""
        if isinstance(e, MatMul) and len(e.factors) == 2 and isinstance(e.factors[0], Num):
            k, e = e.factors[0].value, e.factors[1]
        else:
            k = 1
        return k, isinstance(e, Identity) and isinstance(self.u.resolve(e.n), DimVar)

    def _div(self, a: Expr, b: Expr, span: Span) -> Expr:
        if isinstance(b, Num):
            if b.value == 0:
                raise ParseError("division by zero", b.span)
            return self._product([Num(1 / b.value), a], span)
        if not self._scalar(b):
            raise ShapeError(
                f"division: the divisor is a {_described(self._shape(b))}, not a scalar; "
                "write ./ for elementwise division, or multiply by inv(…)", b.span,
            )
        if isinstance(b, MatMul) and isinstance(b.factors[0], Num) and b.factors[0].value != 0:
            # X / (2 s) is (1/2) s⁻¹ X, the tree matcalc prints as X / (2 s)
            rest = b.factors[1:]
            s = rest[0] if len(rest) == 1 else self._make(MatMul, (rest,), b.span)
            return self._product([Num(1 / b.factors[0].value), self._reciprocal(s, b.span), a],
                                 span)
        return self._product([self._reciprocal(b, b.span), a], span)

    def _hadamard(self, a: Expr, b: Expr, span: Span) -> Expr:
        if self._scalar(a) or self._scalar(b):
            return self._product([a, b], span)
        factors = [*(a.factors if isinstance(a, Hadamard) else (a,)), *(b.factors if isinstance(b, Hadamard) else (b,))]
        return self._make(Hadamard, (tuple(factors),), span)

    def _elemdiv(self, a: Expr, b: Expr, span: Span) -> Expr:
        if self._scalar(b):
            return self._div(a, b, span)
        inverse = self._make(Power, (b, Num(Fraction(-1))), b.span)
        if self._scalar(a):
            return self._product([a, inverse], span)
        return self._hadamard(a, inverse, span)

    def neg(self, meta: Any, minus: Token, a: Expr) -> Expr:
        return self._negate(a, _span(meta))

    # -- postfix -----------------------------------------------------------------------
    def transpose(self, meta: Any, a: Expr, prime: Token | None = None) -> Expr:
        span = _span(meta)
        if self._literal_one(a) and a.span and meta.start_pos == a.span[0]:
            # 1ᵀ: the vector of ones, transposed — only the literal 1 written right before
            # the transpose, never a computed 1 such as (2 · 0.5)ᵀ or (1)ᵀ
            a = _at(Ones((self.u.fresh(), 1)), a.span)
        return self._make(Transpose, (a,), span)

    def superscript(self, meta: Any, a: Expr, tok: Token) -> Expr:
        text = str(tok)
        span = _span(meta)
        if text == "ᵀ":
            return self.transpose(meta, a)
        if text == "⁻ᵀ":
            return self._make(Transpose, (self._inverse(a, span),), span)
        if "ᵀ" in text or not re.fullmatch(r"⁻?[⁰¹²³⁴⁵⁶⁷⁸⁹]+", text):
            raise ParseError(f"'{text}' is not an exponent: write ᵀ, ⁻¹, ⁻ᵀ or a power like ²", _tok_span(tok))
        return self._power(a, Fraction(int(text.translate(_SUPER_DIGITS))), span)

    def power(self, meta: Any, a: Expr, exponent: Any) -> Expr:
        span = _span(meta)
        if exponent == "T":
            return self.transpose(meta, a)
        if exponent == "-T":
            return self._make(Transpose, (self._inverse(a, span),), span)
        if isinstance(exponent, Num):
            return self._power(a, exponent.value, span)
        if not self._scalar(a) and not self._vector(a):
            raise ParseError("a matrix power must be a whole number; for elementwise powers write X.^p", exponent.span)
        try:  # a^b: a scalar to a symbolic power (a vector by default, made a scalar: it is said)
            self.u.unify(a.shape[0], 1)
            self.u.unify(a.shape[1], 1)
        except Mismatch:
            raise ParseError("a^b with a symbolic b is a power of a scalar; for elementwise powers write x.^b",
                             exponent.span) from None
        return self._make(Power, (a, exponent), span)

    def elempower(self, meta: Any, a: Expr, exponent: Expr) -> Expr:
        return self._make(Power, (a, exponent), _span(meta))

    def _power(self, a: Expr, p: Fraction, span: Span | None) -> Expr:
        if self._scalar(a) or self._vector(a):
            # a vector has no powers: s^p makes it (and its sizes) a scalar, s^p is then the
            # ordinary power (a closed form whatever p is: d(sᵖ) = p sᵖ⁻¹ ds)
            try:
                self.u.unify(a.shape[0], 1)
                self.u.unify(a.shape[1], 1)
            except Mismatch:
                raise shape_error("matrix power", "only a scalar or a square matrix has powers "
                                  "(for elementwise powers write x.^p)",
                                  [(a.span, a.shape)], span) from None
            return self._make(Power, (a, Num(p)), span)
        if p.denominator != 1:
            raise ParseError(
                f"X^{p} is not a matrix power matcalc knows: matrix powers are whole numbers "
                "(for elementwise powers write X.^p)", span,
            )
        if abs(p) > MAX_MATRIX_POWER:
            raise ParseError(
                f"the matrix power {p} is too large: matcalc differentiates Xᵏ as a sum of k terms "
                f"(d(Xᵏ) = Σⱼ Xʲ dX Xᵏ⁻¹⁻ʲ), for |k| ≤ {MAX_MATRIX_POWER}", span,
            )
        k = int(p)
        if k == 0:  # X⁰ = I, for a square X (which stays in the expression: d(X⁰) = 0)
            return self._make(MatPow, (a, 0), span)
        if k == 1:
            return a
        if k == -1:
            return self._inverse(a, span)
        base = a if abs(k) == 1 else self._make(MatPow, (a, abs(k)), span)
        return self._inverse(base, span) if k < 0 else base

    def _vector(self, a: Expr) -> bool:
        """A row or column vector (the other size unknown or known)."""
        return self.u.is_one(a.shape[0]) or self.u.is_one(a.shape[1])

    def _inverse(self, a: Expr, span: Span | None) -> Expr:
        if self._scalar(a):
            return self._reciprocal(a, span)
        return self._make(Call, (F.INV, (a,)), span)

    def _reciprocal(self, s: Expr, span: Span | None) -> Expr:
        """1/s for a scalar s; of a power sᵏ, s⁻ᵏ (the tree the printer writes x / ‖x‖³ for)."""
        if isinstance(s, Power) and isinstance(s.exponent, Num) and s.exponent.value.denominator == 1 \
                and s.exponent.value > 0:
            return self._make(Power, (s.base, Num(-s.exponent.value)), span)
        return self._make(Power, (s, Num(Fraction(-1))), span)

    def exp_transpose(self, meta: Any, *_: Token) -> str:
        return "T"

    def exp_inverse_transpose(self, meta: Any, *_: Token) -> str:
        return "-T"

    def exp_number(self, meta: Any, tok: Token) -> Expr:
        return _at(Num(_number_value(tok)), _tok_span(tok))

    def exp_negative(self, meta: Any, minus: Token, tok: Token) -> Expr:
        return _at(Num(-_number_value(tok)), (minus.start_pos, tok.end_pos))

    # -- calls ---------------------------------------------------------------------------
    def args(self, meta: Any, *items: Expr) -> list[Expr]:
        return list(items)

    def call(self, meta: Any, tok: Token, args: list[Expr]) -> Expr:
        meaning = self.names.at[tok.start_pos]
        return self._CALLS[meaning.kind](self, meaning, args, _span(meta), _tok_span(tok))

    def _call_product(self, m: Meaning, args: list[Expr], span: Span | None, name_span: Span) -> Expr:
        """x(y' z) with x a declared variable: the product x (yᵀ z)."""
        if len(args) != 1:
            raise ParseError(f"'{m.name}' is a variable, so '{m.name}(…)' is a product and takes one factor", span)
        return self._product([self._var(m.name, name_span), args[0]], span)

    def _call_node(self, m: Meaning, args: list[Expr], span: Span | None, name_span: Span) -> Expr:
        """kron(A, B): a node of its own."""
        if len(args) != 2:
            raise ParseError(f"{m.name} takes two arguments, not {len(args)}", span)
        if NODE_CALLS[m.name] is Kron:
            return self._kron(args[0], args[1], span)
        return self._make(NODE_CALLS[m.name], (args[0], args[1]), span)

    def _call_builtin(self, m: Meaning, args: list[Expr], span: Span | None, name_span: Span) -> Expr:
        assert m.fn is not None
        return self._call(self._overload(m.fn, args), args, span)

    def _call_abstract(self, m: Meaning, args: list[Expr], span: Span | None, name_span: Span) -> Expr:
        """L(W x + b): an abstract function, scalar-valued unless declared otherwise."""
        decl = self.names.kind_of(m.name)
        out = self.scope.out(m.name, decl) if decl.kind == "vector" else None
        if decl.kind == "elementwise" and len(args) != 1:
            raise ParseError(f"{m.name} is elementwise and takes one argument, not {len(args)}", span)
        if decl.kind == "vector":
            for a in args:
                try:
                    self.u.unify(a.shape[1], 1)
                except Mismatch:
                    raise shape_error(f"{m.name}(…)", f"{m.name} is a vector function of a vector",
                                      [(a.span, a.shape)], span) from None
        return self._make(Apply, (m.name, decl.kind, tuple(args), out), span)

    def _call_filled(self, m: Meaning, args: list[Expr], span: Span | None, name_span: Span) -> Expr:
        """vector(c) and matrix(c), as MatrixCalculus.org writes them: c 𝟏 and c 𝟏𝟏ᵀ, of the
        size the expression needs (c a scalar: a number or a scalar expression)."""
        if len(args) != 1:
            raise ParseError(f"{m.name}(c) takes one scalar c, not {len(args)} arguments", span)
        c = args[0]
        try:
            self.u.unify(c.shape[0], 1)
            self.u.unify(c.shape[1], 1)
        except Mismatch:
            raise shape_error(f"{m.name}(…)", f"{m.name}(c) fills a {m.name} with the scalar c",
                              [(c.span, c.shape)], span) from None
        cols = 1 if m.name == "vector" else self.u.fresh()
        ones = _at(Ones((self.u.fresh(), cols)), span)
        if isinstance(c, Num) and c.value == 1:
            return ones
        return self._product([c, ones], span)

    _CALLS = {"product": _call_product, "node": _call_node, "builtin": _call_builtin, "abstract": _call_abstract,
              "filled": _call_filled}

    def _call(self, fn: F.Function, args: list[Expr], span: Span | None) -> Expr:
        if len(args) != 1:
            raise ParseError(f"{fn.name} takes one argument, not {len(args)}", span)
        if self._scalar(args[0]) and F.inverse_arg(fn(args[0])) is not None:  # the inverse of a scalar: s⁻¹
            return self._make(Power, (args[0], Num(Fraction(-1))), span)
        return self._make(Call, (fn, tuple(args)), span)

    def _overload(self, fn: F.Function, args: list[Expr]) -> F.Function:
        """Rows that share a name (diag of a vector, diag of a matrix): the one whose shape
        rule the argument fits while fixing the fewest sizes, a size fixed to 1 counting
        double (ties go to the later row)."""
        rows = F.rows_named(fn.name)
        if len(rows) == 1 or len(args) != 1:
            return fn
        shape = self._shape(args[0])
        costs = []
        for i, row in enumerate(rows):
            fit = _Fit(self.u)
            try:
                row.shape([shape], fit)
            except (Mismatch, ShapeError):
                continue
            costs.append((fit.cost, -i, row))
        return min(costs, key=lambda c: c[:2])[2] if costs else fn

    def compose(self, meta: Any, f: Token, g: Token, arg: Expr) -> Expr:
        """log det X, log det(X): the row of the joined name (logdet)."""
        row = joined_row(self.names.at[f.start_pos].fn, F.lookup(str(g)))  # type: ignore[arg-type]
        assert row is not None  # the resolution pass only writes compose where it exists
        return self._call(row, [arg], _span(meta))

    def apply_bare(self, meta: Any, f: Token, arg: Expr) -> Expr:
        """log|X|: f of the bars; log of det X is logdet X."""
        fn = self.names.at[f.start_pos].fn
        assert fn is not None
        if isinstance(arg, Call):
            row = joined_row(fn, arg.fn)
            if row is not None:
                return self._call(row, list(arg.args), _span(meta))
        return self._call(fn, [arg], _span(meta))

    # -- bars, norms, inner products ------------------------------------------------------
    def bars(self, meta: Any, open_: Token, a: Expr, close: Token) -> Expr:
        """|a| of a scalar is abs(a); |Σ| of a square matrix is det(Σ)."""
        span = _span(meta)
        if self._scalar(a):
            return self._make(Call, (F.ABS, (a,)), span)
        shape = self._shape(a)
        if not self._vector(a):
            try:
                self.u.unify(a.shape[0], a.shape[1])
            except Mismatch:
                pass
            else:
                return self._make(Call, (F.DET, (a,)), span)
        what = "vector" if any(isinstance(d, DimVar) for d in shape) else describe_shape(shape)
        raise ParseError(
            f"|…| is the determinant of a square matrix or the absolute value of a scalar, but here it is "
            f"around a {what}: write abs(…) for the absolute values entry by entry, or ‖…‖ for the norm", span,
        )

    def norm(self, meta: Any, open_: Token, a: Expr, close: Token, sub: Token | None = None) -> Expr:
        """‖x‖, and with a subscript: ‖x‖₁ (the table's row with that subscript), ‖x‖₂ and
        ‖X‖_F (the plain norm: Euclidean for a vector, Frobenius for a matrix)."""
        span = _span(meta)
        text = "" if sub is None else str(sub).strip("_{}").translate(_FROM_SUBSCRIPT)
        rows = [r for r in F.TABLE.values() if r.bars is not None]
        if text in ("", "2", "F"):
            fn = next(r for r in rows if r.bars == ("", ""))  # type: ignore[union-attr]
        else:
            fn = next((r for r in rows if r.bars[1].strip("_{}") == text), None)  # type: ignore[index]
            if fn is None:
                raise ParseError(f"‖…‖ with the subscript {sub} is not a norm matcalc has", _tok_span(sub))  # type: ignore[arg-type]
        if text in ("1", "2") and not self._vector(a):
            what = "largest absolute column sum" if text == "1" else "largest singular value (spectral norm)"
            entrywise = "norm1(X) for the sum of the absolute entries" if text == "1" else "‖X‖_F for the Frobenius norm"
            raise ParseError(f"‖X‖{sub} of a matrix is its induced norm ({what}), which matcalc does not have; "
                             f"write {entrywise}", span)
        return self._make(Call, (fn, (a,)), span)

    def frobenius(self, meta: Any, a: Expr, b: Expr) -> Expr:
        """A : X = tr(Aᵀ X), the Frobenius inner product (aᵀ x for vectors)."""
        if isinstance(b, Var) and b.name in KEYWORDS:
            raise ParseError(f"'… : {b.name}' looks like a declaration: declarations go in --where "
                             "(in an expression, A : X is the Frobenius inner product tr(Aᵀ X))", _span(meta))
        return self._inner(a, b, _span(meta))

    def inner(self, meta: Any, a: Expr, b: Expr) -> Expr:
        """⟨A, X⟩ = tr(Aᵀ X) (aᵀ x for vectors)."""
        return self._inner(a, b, _span(meta))

    def _inner(self, a: Expr, b: Expr, span: Span | None) -> Expr:
        try:
            self.u.unify(a.shape[0], b.shape[0])
            self.u.unify(a.shape[1], b.shape[1])
        except Mismatch:
            raise shape_error("Frobenius inner product", "both sides must have the same shape",
                              [(a.span, a.shape), (b.span, b.shape)], span) from None
        if self._scalar(a):
            return self._product([a, b], span)
        if self.u.is_one(a.shape[1]):
            return self._product([self._make(Transpose, (a,), a.span), b], span)
        try:
            return _at(F.inner(a, b), span)
        except ShapeError as err:
            err.span = err.span or span
            raise

    # -- derivatives, gradients, Jacobians of functions ------------------------------------
    def primed_call(self, meta: Any, tok: Token, args: list[Expr]) -> Expr:
        meaning = self.names.at[tok.start_pos]
        name_span = (tok.start_pos, tok.end_pos - 1)
        if len(args) != 1:
            raise ParseError(f"{meaning.name}′ takes one argument, not {len(args)}", _span(meta))
        return self._PRIMED[meaning.kind](self, meaning, args[0], _span(meta), name_span)

    def _primed_derivative(self, m: Meaning, arg: Expr, span: Span | None, name_span: Span) -> Expr:
        """σ′(x): the table's derivative of an elementwise function."""
        prime = F.derivative(m.fn, arg)  # type: ignore[arg-type]
        if prime is None:
            raise ParseError(f"{m.name}′ is not defined: only elementwise functions have a derivative "
                             "written f′(x)", span)
        return _at(prime, span)

    def _primed_abstract(self, m: Meaning, arg: Expr, span: Span | None, name_span: Span) -> Expr:
        """f′(x) for a declared elementwise f."""
        return self._make(Deriv, (m.name, (arg,)), span)

    def _primed_product(self, m: Meaning, arg: Expr, span: Span | None, name_span: Span) -> Expr:
        """x′(A y) for a variable x: the product xᵀ (A y)."""
        var = self._var(m.name, name_span)
        tr = self._make(Transpose, (var,), (name_span[0], name_span[1] + 1))
        return self._product([tr, arg], span)

    _PRIMED = {"derivative": _primed_derivative, "abstract_derivative": _primed_abstract,
               "transposed_product": _primed_product}

    def primed2_call(self, meta: Any, tok: Token, args: list[Expr]) -> Expr:
        """f″(x), σ″(x): the second derivative of an elementwise function."""
        m = self.names.at[tok.start_pos]
        span = _span(meta)
        if len(args) != 1:
            raise ParseError(f"{m.name}″ takes one argument, not {len(args)}", span)
        if m.kind == "abstract_derivative":
            return self._make(Deriv, (m.name, (args[0],), 2), span)
        first = F.derivative(m.fn, args[0])  # type: ignore[arg-type]
        second = F.derivative(first.fn, args[0]) if isinstance(first, Call) else None  # type: ignore[attr-defined]
        if second is None:
            raise ParseError(f"{m.name}″ is not defined: only elementwise functions have a second derivative", span)
        return _at(second, span)

    def hess_call(self, meta: Any, tok: Token, args: list[Expr]) -> Expr:
        """∇²L(y): the Hessian of a scalar abstract function at a vector y."""
        name, span = str(tok), _span(meta)
        decl = self.names.kind_of(name)
        if decl.kind != "scalar":
            raise ParseError(f"∇²{name} is the Hessian of a scalar function, but {name} is declared {decl.kind}", span)
        if len(args) != 1:
            raise ParseError(f"∇²{name}(…) takes one argument", span)
        return self._make(Hess, (name, tuple(args)), span)

    def grad_call(self, meta: Any, tok: Token, args: list[Expr]) -> Expr:
        name, span = str(tok), _span(meta)
        decl = self.names.kind_of(name)
        if decl.kind != "scalar":
            raise ParseError(f"∇{name} is the gradient of a scalar function, but {name} is declared {decl.kind}", span)
        if len(args) != 1:
            raise ParseError(f"∇{name}(…) takes one argument", span)
        return self._make(Grad, (name, tuple(args)), span)

    def jac_call(self, meta: Any, tok: Token, args: list[Expr]) -> Expr:
        name, span = str(tok), _span(meta)
        decl = self.names.kind_of(name)
        if decl.kind != "vector" or len(args) != 1:
            raise ParseError(f"∂{name}(y) is the Jacobian of a vector function of one vector; declare {name}: vector function", span)
        return self._make(Jac, (name, tuple(args), self.scope.out(name, decl)), span)

    def _shape(self, e: Expr) -> tuple[Any, Any]:
        return (self.u.resolve(e.shape[0]), self.u.resolve(e.shape[1]))


#: each rule's function (Lark's ``v_args`` wrappers hold it), for :meth:`Builder._call_userfunc`
_RULES: dict[str, Callable[..., Any]] = {
    name: attr.base_func for name, attr in vars(Builder).items()
    if not name.startswith("_") and getattr(attr, "visit_wrapper", None) is not None
}


#: Greek letters that name small constants in numerics: scalars even when added to a vector (log(x + ε))
SMALL_CONSTANTS = frozenset({"ε", "ϵ", "δ", "eps", "epsilon", "varepsilon", "delta"})


def _core(t: Expr) -> Expr:
    """A term without its number: x of −x or 2 x."""
    if isinstance(t, MatMul) and len(t.factors) == 2 and isinstance(t.factors[0], Num):
        return t.factors[1]
    return t


class _Fit(Strict):
    """A trial unifier over a parse's inference that binds nothing for good: it counts
    the sizes a shape rule would fix (a size fixed to 1 counts double)."""

    def __init__(self, u: Inference):
        self.u = u
        self.bound: dict[DimVar, Any] = {}
        self.cost = 0

    def resolve(self, d: Any) -> Any:
        d = self.u.resolve(d)
        while isinstance(d, DimVar) and d in self.bound:
            d = self.u.resolve(self.bound[d])
        return d

    def unify(self, a: Any, b: Any) -> None:
        a, b = self.resolve(a), self.resolve(b)
        if a == b:
            return
        if not isinstance(a, DimVar):
            a, b = b, a
        if not isinstance(a, DimVar):
            raise Mismatch(a, b)
        self.bound[a] = b
        self.cost += 2 if b == 1 else 1

    def mul(self, a: Any, b: Any) -> Any:
        raise Mismatch(a, b)  # no table row that shares a name multiplies sizes


class _Shaped:
    """Stands for a Hadamard product being collected: only its shape is asked."""

    def __init__(self, shape: tuple[Any, Any]):
        self.shape = shape
        self.span = None


class _ProductRun:
    """A run of matrix products (``a b c …``) built once, in linear time, into the same
    tree as folding :meth:`Builder._product` pairwise from the left: there, the product
    so far becomes one 1×1 factor when it is 1×1 and has several factors not all 1×1 —
    in (xᵀ y) A, xᵀ y multiplies A (see :func:`matcalc.algebra.flatten_product`)."""

    def __init__(self, builder: Builder, first: Expr, start: int):
        self.b = builder
        self.start = start
        self.end = first.span[1] if first.span else start
        self.coeff = Fraction(1)
        self.flat: list[Expr] = []
        #: the shape of the product so far (None while every factor has been 1×1)
        self.shape: tuple[Any, Any] | None = None
        self._extend(first, (start, self.end))

    def _scalar_so_far(self) -> bool:
        return self.shape is None or (self.b.u.is_one(self.shape[0]) and self.b.u.is_one(self.shape[1]))

    def times(self, b: Expr, span: Span) -> None:
        if len(self.flat) > 1 and self.shape is not None and self._scalar_so_far() \
                and not all(self.b._scalar(g) for g in self.flat):
            self.flat = [_at(MatMul(tuple(self.flat)), (self.start, self.end))]
            self.shape = None
        self._extend(b, span)

    def divided(self, b: Expr, span: Span) -> bool:
        """The run so far divided by a scalar ``b``, when it can be: 1/b joins the run's
        coefficient, or its front as b⁻¹, so that ``xᵀ y / 3`` is the one product
        1/3 · xᵀ · y that the printer writes so (``(xᵀ y) / 3`` keeps xᵀ y as one factor)."""
        if not self.b._scalar(b) or (isinstance(b, Num) and b.value == 0):
            return False  # the error is :meth:`Builder._div`'s
        if isinstance(b, Num):
            self.coeff /= b.value
        elif isinstance(b, MatMul) and isinstance(b.factors[0], Num) and b.factors[0].value != 0:
            self.coeff /= b.factors[0].value  # xᵀ y / (3 α): 1/3 · α⁻¹ · xᵀ · y
            rest = b.factors[1:]
            s = rest[0] if len(rest) == 1 else self.b._make(MatMul, (rest,), b.span)
            self.flat.insert(0, self.b._reciprocal(s, b.span))
        else:
            self.flat.insert(0, self.b._reciprocal(b, b.span))
        self.end = span[1]
        return True

    def _extend(self, b: Expr, span: Span) -> None:
        coeff, parts = flatten_product([b], self.b._scalar)
        self.coeff *= coeff
        for g in parts:
            if not self.b._scalar(g):
                if self.shape is not None and all(self.b._scalar(f) for f in self.flat):
                    self.shape = None  # the factors so far became scalars (a a: a a scalar): they multiply g
                if self.shape is None:
                    self.shape = g.shape
                else:
                    try:
                        self.b.u.unify(self.shape[1], g.shape[0])
                    except Mismatch:  # the product's own shape rule names the two factors
                        self.b._make(MatMul, (tuple(self.flat + [g]),), span)
                        raise shape_error("matrix product", "the shapes do not agree",
                                          [(None, self.shape), (g.span, g.shape)], span) from None
                    self.shape = (self.shape[0], g.shape[1])
            self.flat.append(g)
        self.end = span[1]

    def build(self) -> Expr:
        span = (self.start, self.end)
        if not self.flat:
            return _at(Num(self.coeff), span)
        flat = ([Num(self.coeff)] if self.coeff != 1 else []) + self.flat
        if len(flat) == 1:
            return flat[0]
        return self.b._make(MatMul, (tuple(flat),), span)


# ======================================================================================


class Parsed:
    """What :func:`parse_tree` returns: the tree, and the declarations it was read with."""

    __slots__ = ("tree", "decls", "text", "shapes", "functions", "assumptions", "spans")

    def __init__(self, tree: Expr, decls: Declarations, text: str, shapes: dict[str, tuple],
                 functions: dict[str, FuncDecl], assumptions: list[str] | None = None,
                 spans: dict[Expr, Span] | None = None):
        self.tree = tree
        #: where each node of the tree is in ``text`` (positions are not stored on nodes)
        self.spans = spans or {}
        self.decls = decls
        self.text = text
        self.shapes = shapes
        self.functions = functions
        #: what the reading assumed that the expression did not force, in words
        self.assumptions = assumptions or []


def parse_tree(text: str, where: str | Mapping[str, object] | Declarations | None = None,
               expect: tuple | None = None) -> Parsed:
    """Parse ``text`` with the declarations ``where`` into a typed tree.

    Raises :class:`ParseError` (bad syntax, with the position), :class:`ShapeError`
    (shapes that cannot agree, naming the operation and both shapes) or
    :class:`DeclarationError`.  ``expect``: a shape that the expression's unknown sizes
    are unified with where they can be (a claimed ``I`` gets the size of the answer).

    Zero-width characters (pasted from web pages) are removed first; positions in the
    tree and in errors are positions in ``text`` as given.
    """
    decls = parse_where(where)
    if not isinstance(text, str):
        raise ParseError(f"an expression is a string such as \"x' A x\", not {type(text).__name__}", None)
    visible, positions = _visible(text)
    try:
        parsed = _parse_visible(visible, decls, expect)
    except MatcalcError as err:
        if positions is not None:
            err.span = _original_span(err.span, positions)
            err.source = text
        raise
    if positions is not None:
        parsed.spans = {n: _original_span(span, positions) for n, span in parsed.spans.items()}  # type: ignore[misc]
        parsed.text = text
    return parsed


#: characters that take no room and are ignored (zero-width space, non-joiner, joiner,
#: byte-order mark, word joiner, soft hyphen)
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")


def _visible(text: str) -> tuple[str, list[int] | None]:
    """The text without its zero-width characters, and where each of its characters (and
    its end) was in ``text`` (None when nothing was removed)."""
    if not _INVISIBLE.search(text):
        return text, None
    positions = [i for i, ch in enumerate(text) if not _INVISIBLE.match(ch)]
    return "".join(text[i] for i in positions), positions + [len(text)]


def _original_span(span: Span | None, positions: list[int]) -> Span | None:
    if span is None:
        return None
    start = positions[min(span[0], len(positions) - 1)]
    end = positions[min(span[1], len(positions) - 1)] if span[1] > span[0] else start
    if span[1] > span[0]:  # end just after the last character of the span
        end = positions[min(span[1] - 1, len(positions) - 1)] + 1
    return (start, end)


def _parse_visible(text: str, decls: Declarations, expect: tuple | None) -> Parsed:
    if not text.strip():
        raise ParseError("the expression is empty", (0, 0), text)
    check_input_bounds(text)
    third = re.search(r"[A-Za-zα-ωΑ-Ωℓ][A-Za-z0-9α-ωΑ-Ω_₀-₉]*(?:['′’]{3,}|″['′’]|['′’]″|‴)(?=\s*\()", text)
    if third:  # f‴(x), three primes: not (f″)ᵀ x, silently
        raise ParseError(f"'{third.group(0)}(…)' would be a third derivative, which matcalc does not have "
                         "(f′(x) and f″(x) are the derivatives of an elementwise f)", third.span(), text)
    try:
        lark_tree, letters = split_letter_products(_parser().parse(text), decls)
        try:
            names = Names(lark_tree, decls, readings=letters)
        except MatcalcError as err:
            raise _with_letters(err, letters).with_source(text) from None
        try:
            raw, u, builder, pool = _build(lark_tree, text, names, expect, frozenset())
        except TimeLimitError:
            raise
        except MatcalcError as first:
            # 𝟏 − m softmax(z): a size name as a factor is a number; tr(Σ) − (x − μ)ᵀ Σ (x − μ)
            # with Σ declared n×n: μ a scalar makes x a scalar and the sum fail, μ a vector does not
            trial = _first_reading_that_parses(lark_tree, text, decls, names, expect)
            if trial is None:
                raise _with_letters(first, letters) from None
            (raw, u, builder, pool), names = trial
        else:  # −N/2 log|Σ|: N a matrix makes f a matrix; N a size (a number) makes it a scalar
            if expect is None and not _is_scalar(raw, u):
                again = Names(lark_tree, decls, factors_are_numbers=True, readings=letters)
                if again.sizes != names.sizes:
                    try:
                        trial = _build(lark_tree, text, again, expect, frozenset())
                    except TimeLimitError:
                        raise
                    except MatcalcError:
                        trial = None
                    if trial is not None and _is_scalar(trial[0], trial[1]):
                        (raw, u, builder, pool), names = trial, again
    except UnexpectedInput as exc:
        raise _syntax_error(exc, text) from None
    except RecursionError:  # a chain the bracket scan does not count (x^2^2^2…): still clean
        raise ParseError(
            "the expression is nested too deeply for matcalc (a chain of thousands of postfix "
            "operators such as x^2^2^2…)", None, text,
        ) from None
    # default kinds are preferences: when one name's default bends another's (μ a scalar
    # makes x a scalar in x − μ), read scalar-by-default names as vectors instead: first
    # together, those added to a bent name (x − μ − ν), then one at a time (a bounded
    # number of tries), keeping each reading that bends fewer names and still parses
    def reading(group: frozenset[str]) -> tuple[Expr, Inference, Builder, _Pool] | None:
        """The reading with ``group`` also read as vectors, or None where it does not parse."""
        try:
            return _build(lark_tree, text, names, expect, builder.scope.promoted | group)
        except TimeLimitError:
            raise
        except MatcalcError:
            return None

    bent = builder.scope.collapsed()
    scalars = [n for n, (kind, _) in builder.scope.defaults.items() if kind == "scalar"]
    tries = [frozenset(_added_to(raw, set(bent), set(scalars)))] if bent else []
    tries += [frozenset({n}) for n in scalars[:_PROMOTION_TRIES]] if bent else []
    for group in tries:
        if bent and group and not group <= builder.scope.promoted:
            trial = reading(group)
            if trial is not None and len(trial[2].scope.collapsed()) < len(bent):
                raw, u, builder, pool = trial
                bent = builder.scope.collapsed()
    # a literal 1 that begins a product is the vector of ones when the number 1 bends a name
    # (A − 1 xᵀ, the rank-one 𝟏 xᵀ): the reading that bends fewer names is kept, and said
    if bent and builder._literal_ones:
        try:
            trial = _build(lark_tree, text, names, expect, builder.scope.promoted, builder.scope.demoted, ones=True)
        except TimeLimitError:
            raise
        except MatcalcError:
            trial = None
        if trial is not None and trial[2].ones_read and len(trial[2].scope.collapsed()) < len(bent):
            raw, u, builder, pool = trial
            bent = builder.scope.collapsed()
    # a lowercase letter is a vector by default, but a product of two of them (a x) or
    # a letter before a matrix (c A x) is a coefficient times a vector: when the reading
    # bent a name, read lowercase names as scalars instead — the letters a–g together (the
    # scalars of MatrixCalculus.org's convention), then each one — and keep the reading
    # that bends fewest names, capitals last, a–g first (the output says what it assumed)
    if bent and not builder.scope.demoted:
        vectors = [n for n, (kind, _) in builder.scope.defaults.items() if kind == "vector"]
        best = _bend_key(bent)
        for group in [frozenset(n for n in vectors if _coefficient_letter(n))] + \
                [frozenset({n}) for n in vectors[:_PROMOTION_TRIES]]:
            if not group:
                continue
            try:
                trial = _build(lark_tree, text, names, expect, builder.scope.promoted, group)
            except TimeLimitError:
                raise
            except MatcalcError:
                continue
            if _is_scalar(raw, u) and not _is_scalar(trial[0], trial[1]):
                continue
            key = _bend_key(trial[2].scope.collapsed())
            if key < best:
                (raw, u, builder, pool), best = trial, key
        bent = builder.scope.collapsed()
    # a Greek letter read as a scalar that makes f a matrix (μᵀ Σ μ, θᵀ x, X β in a
    # log-likelihood): the reading with it a vector, if that makes f a scalar, is the one
    # meant — a transposed scalar is the strongest sign (the reading is said)
    if expect is None and not _is_scalar(raw, u):
        left = frozenset(n for n in scalars if n not in builder.scope.promoted)
        transposed = {n.arg.name for n in raw.walk() if isinstance(n, Transpose) and isinstance(n.arg, Var)}
        for group in (left & transposed, left):
            trial = reading(group) if group else None
            if trial is not None and _is_scalar(trial[0], trial[1]) and len(trial[2].scope.collapsed()) <= len(bent):
                raw, u, builder, pool = trial
                break
    try:
        _tie_sizes(raw, u, pool, builder.scope)
    except MatcalcError as err:
        raise err.with_source(text) from None
    tree = _ground(raw, u, pool)
    _check_depth(tree, text)
    spans = _spans(raw, tree)
    shapes = {n.name: n.shape for n in tree.walk() if isinstance(n, Var)}
    functions = builder.scope.functions()
    for n in tree.walk():  # vector functions: the size of their values, as inferred
        if isinstance(n, (Apply, Jac)) and n.out is not None:
            functions[n.name] = FuncDecl("vector", n.out)
    said = _assumptions(tree, builder.scope, spans, text)
    if builder.ones_read:
        said.append("the 1 that begins a product is read as the vector of ones 𝟏, which the shapes need "
                    "(the number 1 would make the product a scalar or a row)")
    for s, like in builder.broadcasts:  # x − tr(X)/n: a scalar added to every entry
        written = text[s.span[0]:s.span[1]].strip() if s.span else "a scalar term"
        ones = "𝟏" if u.is_one(like.shape[1]) or u.is_one(like.shape[0]) else "𝟏𝟏ᵀ"
        array = "vector" if ones == "𝟏" else "matrix"
        note = f"{written} is a scalar added to every entry (a scalar added to a {array} is that scalar times {ones})"
        if note not in said:
            said.append(note)
    return Parsed(tree, decls, text, dict(sorted(shapes.items(), key=lambda kv: natural_order(kv[0]))), functions,
                  said, spans)


def _with_letters(err: MatcalcError, letters: list[str]) -> MatcalcError:
    """An error in an expression with words read as products of their letters says so."""
    if letters and isinstance(err, (ParseError, ShapeError)):
        err.message = f"{err.message} ({'; '.join(letters)})"
        err.args = (err.message,)
    return err


class _Pool:
    """Fresh names for the sizes one reading leaves unknown: m, n, p, … in the order a
    reader meets them, skipping names the text uses otherwise.  Names read as numbers
    (``/ m``) stay in the pool until they are tied to a size (:func:`_tie_sizes`)."""

    def __init__(self, used: set[str]):
        self.used = used
        self._source = (n for n in _fresh_names())
        self._ahead: list[str] = []

    def peek(self, k: int) -> list[str]:
        """The next ``k`` names, without giving them out."""
        self._ahead = [n for n in self._ahead if n not in self.used]
        while len(self._ahead) < k:
            n = next(self._source)
            if n not in self.used:
                self._ahead.append(n)
        return self._ahead[:k]

    def __call__(self) -> str:
        name = self.peek(1)[0]
        self._ahead.pop(0)
        self.used.add(name)
        return name


def _coefficient_letter(name: str) -> bool:
    """a–g: scalars in MatrixCalculus.org's convention, and the usual coefficient letters."""
    return name[0] in "abcdefg"


def _bend_key(bent: list[str]) -> tuple[int, int, int]:
    """How far a reading bends the default kinds: names bent, of them capitals (a matrix
    read as a row vector), of them lowercase letters outside a–g; less is better."""
    return (len(bent), sum(n[0].isupper() for n in bent), sum(not _coefficient_letter(n) for n in bent))


def _first_reading_that_parses(lark_tree: Any, text: str, decls: Declarations, names: Names,
                               expect: tuple | None) -> tuple[tuple[Expr, Inference, Builder, _Pool], Names] | None:
    """When the first reading fails: size names that are factors read as numbers; else the
    names that are scalars by default (Greek letters) read as vectors, all together, then
    one at a time (a bounded number of tries).  The reading that parses, or None."""
    again = Names(lark_tree, decls, factors_are_numbers=True, readings=tuple(names.readings))
    tries: list[tuple[Names, frozenset[str]]] = [(again, frozenset())] if again.sizes != names.sizes else []
    scalars = sorted({m.name for m in names.at.values() if m.kind == "variable" and m.name not in decls.variables
                      and default_kind(m.name) == "scalar"})
    if scalars:
        tries.append((names, frozenset(scalars)))
        tries += [(names, frozenset({n})) for n in scalars[:_PROMOTION_TRIES]]
    for which, promoted in tries:
        try:
            return _build(lark_tree, text, which, expect, promoted), which
        except TimeLimitError:
            raise
        except MatcalcError:
            continue
    return None


def _build(lark_tree: Any, text: str, names: Names, expect: tuple | None,
           promoted: frozenset[str], demoted: frozenset[str] = frozenset(),
           ones: bool = False) -> tuple[Expr, Inference, Builder, _Pool]:
    """One reading of the parse tree: nodes built with shapes unified (not yet grounded).
    ``promoted``: scalars by default read as vectors; ``demoted``: vectors by default read
    as scalars; ``ones``: a literal 1 that begins a product is the vector of ones."""
    pool = _Pool((set(names.decls.dim_symbols()) | _names_in(text)) - set(names.sizes))
    u = Inference(pool)
    builder = Builder(names, u, promoted, demoted, ones)
    try:
        with inferring(u):
            raw = builder.transform(lark_tree)
            for have, want in zip(raw.shape, expect or (), strict=False):
                try:
                    u.unify(have, want)
                except Mismatch:
                    pass  # a claim of the wrong shape: the caller says so
    except VisitError as exc:
        err = exc.orig_exc
        if isinstance(err, MatcalcError):
            raise _located(err, text, u, pool) from None
        raise
    return raw, u, builder, pool


def _tie_sizes(raw: Expr, u: Inference, pool: _Pool, scope: Scope) -> None:
    """Each undeclared size name read as a number becomes a size of the expression: the
    size that would be given that name when the matrices' sizes are named first (X is
    m×n by default, so m in ``/ m`` is the rows of X, wherever X stands); else the one size left when there is one (``(1/n) 𝟏ᵀ x``: x has n
    entries).  Otherwise the reading is not clear, and the error says what to declare."""
    if not scope.size_dims:
        return
    free: list[DimVar] = []
    known: set[Any] = set()
    # matrices first (rows, then columns), then the rest, each in reading order: the
    # prediction does not depend on the order of the terms (λ‖w‖₁ + ‖X w − y‖²/m and
    # ‖X w − y‖²/m + λ‖w‖₁ both read m as the rows of X, the number of samples)
    leaves = list(raw.walk())
    matrices = [n for n in leaves if isinstance(n, Var) and not u.is_one(n.shape[0]) and not u.is_one(n.shape[1])]
    for n in matrices + leaves:
        for d in _leaf_dims(n):
            r = u.resolve(d)
            if isinstance(r, DimVar):
                if r not in free:
                    free.append(r)
            else:
                known.add(r)
    predicted = dict(zip(pool.peek(len(free)), free, strict=False))
    ties = {name: predicted[name] for name in scope.size_dims if name in predicted and name not in known}
    for name in scope.size_dims:
        if name in known or name in ties:
            continue
        left = [d for d in free if d not in ties.values()]
        if len(left) != 1:
            raise _size_error(name, raw, u, left, scope)
        ties[name] = left[0]
    for name, d in ties.items():
        u.unify(d, name)
    for name, d in scope.size_dims.items():
        u.unify(d, name)
    pool.used.update(scope.size_dims)


def _size_error(name: str, raw: Expr, u: Inference, left: list[DimVar], scope: Scope) -> ParseError:
    span = scope.names.size_spans.get(name)
    holder = next((v for v in raw.walk() if isinstance(v, Var) and any(u.resolve(d) in left for d in v.shape)), None)
    if holder is None:
        example = f"X: {name}×{'m' if name != 'm' else 'n'}"
        return ParseError(
            f"{name} is used as a number, so it is read as a size, but no size of the expression is left for it "
            f"to be: declare the shape it is a size of (--where \"{example}\"), or, for a number that is not a "
            f"size, declare \"{name}: scalar\"", span,
        )
    rows, cols = holder.shape
    other = "n" if name != "n" else "m"
    example = f"{holder.name}: {name}" if u.is_one(cols) else f"{holder.name}: {name}×{other}"
    return ParseError(
        f"{name} is used as a number, so it is read as a size, but matcalc cannot tell which size of the "
        f"expression it is: declare it (--where \"{example}\"), or, for a number that is not a size, declare "
        f"\"{name}: scalar\"", span,
    )


def _declared(shape: tuple[Any, Any]) -> str:
    """A shape as a declaration writes it: n, m×n."""
    return str(shape[0]) if shape[1] == 1 else shape_str(shape)


def size_meaning(tree: Expr, name: str) -> str | None:
    """What the size ``name`` used as a number is in ``tree`` (``the number of rows of X``),
    or None when ``name`` is not a size used as a number there."""
    if not any(isinstance(n, Size) and n.dim == name for n in tree.walk()):
        return None
    for v in tree.walk():
        if isinstance(v, Var) and name in v.shape:
            rows, cols = v.shape
            if cols == 1:
                return f"the length of {v.name}"
            if rows == 1:
                return f"the length of the row vector {v.name}"
            if rows == cols:
                return f"the size of the square matrix {v.name}"
            return f"the number of {'rows' if rows == name else 'columns'} of {v.name}"
    return "a size of the expression"


def _is_scalar(raw: Expr, u: Inference) -> bool:
    return u.is_one(raw.shape[0]) and u.is_one(raw.shape[1])


#: single names tried as vectors, one at a time, when the first readings bend a name
_PROMOTION_TRIES = 8


def _added_to(tree: Expr, bent: set[str], scalars: set[str]) -> set[str]:
    """The scalar-by-default names that are terms of a sum with a bent name as a term
    (μ and ν in x − μ − ν), signs and number factors aside."""

    def name(t: Expr) -> str | None:
        if isinstance(t, MatMul):
            rest = [f for f in t.factors if not isinstance(f, Num)]
            t = rest[0] if len(rest) == 1 else t
        return t.name if isinstance(t, Var) else None

    out: set[str] = set()
    for n in tree.walk():
        if isinstance(n, Add):
            names = {name(t) for t in n.terms}
            if names & bent:
                out |= names & scalars
    return out


_KINDS = {"vector": "a lowercase letter is a column vector", "matrix": "a capital letter is a matrix"}


def _assumptions(tree: Expr, scope: Scope, spans: dict[Expr, Span], text: str) -> list[str]:
    """What the reading assumed that the expression did not force, in words."""
    out = []
    shapes = {n.name: n.shape for n in tree.walk() if isinstance(n, Var)}
    for name in sorted(scope.promoted):
        if shapes.get(name, (1, 1)) != (1, 1):
            out.append(f"{name} is a vector: the expression needs it (a Greek letter is a scalar unless "
                       "the expression needs more)")
    for name in scope.collapsed():  # a default the expression bent: x^2 makes x a scalar
        if name in scope.demoted:  # a x, c A x: a coefficient
            why = "as MatrixCalculus.org reads a–g" if _coefficient_letter(name) else "which the expression needs"
            out.append(f"{name} is read as a scalar coefficient, {why} (a lowercase letter is a column vector by "
                       f"default; if {name} is a vector, declare it: --where \"{name}: n\")")
            continue
        out.append(f"{name} is a {describe_shape(shapes[name])}: the expression needs it "
                   f"({_KINDS[scope.defaults[name][0]]} by default)")
    out.extend(scope.names.readings)
    for name in scope.size_dims:  # ‖X w − y‖² / m: m is a size, and which one is said
        holder = next((v for v in tree.walk() if isinstance(v, Var) and name in v.shape), None)
        declare = f", e.g. --where \"{holder.name}: {_declared(holder.shape)}\"" if holder else ""
        out.append(f"{name} is {size_meaning(tree, name)}: a size name used as a number is that size "
                   f"(declare the shapes to choose another{declare}; for a number that is no size, "
                   f"--where \"{name}: scalar\")")
    for n in tree.walk():  # what a row says about how it was read (norm2 of a matrix)
        said = n.fn.reading(n) if isinstance(n, Call) and n.fn.reading is not None else None
        if said and "{arg}" in said:  # the argument as written
            at = spans.get(n.args[0])
            said = said.replace("{arg}", text[at[0]:at[1]] if at else "the argument")
        if said and said not in out:
            out.append(said)
    coefficients: set[str] = set()
    for n in tree.walk():  # n logdet(Σ): a vector by default times scalars only
        if isinstance(n, MatMul):
            for f in n.factors:
                if not (isinstance(f, Var) and scope.defaults.get(f.name, ("",))[0] == "vector"
                        and f.shape != (1, 1)):
                    continue  # (checked first: a product of 20,000 factors stays linear)
                others = [g for g in n.factors if g is not f]
                # a computed scalar (n logdet(Σ), a xᵀ x), not a number or a scalar variable (λ x)
                scalar_rest = all(g.is_scalar for g in others) or (
                    f in (n.factors[0], n.factors[-1]) and others[0].shape[0] == 1 and others[-1].shape[1] == 1)
                if scalar_rest and not all(_number_like(g) for g in others):
                    coefficients.add(f.name)
    for name in sorted(coefficients):
        out.append(f"{name} is read as a column vector (lowercase letters are vectors by default); if it is "
                   f"a number, declare it: --where \"{name}: scalar\"")
    return out


def _number_like(e: Expr) -> bool:
    """A number, a scalar variable or a size (and its powers): λ x, x / m."""
    if isinstance(e, Power) and isinstance(e.exponent, Num):
        e = e.base
    return isinstance(e, (Num, Var, Size))


_SIZE_NAME = re.compile(NAME_PATTERN)


_OPENS, _CLOSES = frozenset("([{⟨"), frozenset(")]}⟩")
_PREFIX = frozenset("-−+")
_POSTFIX = frozenset("'′’ᵀ⊤")


def check_input_bounds(text: str) -> None:
    """Before Lark runs: at most MAX_INPUT_CHARS characters, and at most MAX_NESTING
    brackets open at once (``(``, ``[``, ``{``, ``⟨``, a call, a norm, ``|…|``) or signs and primes in a
    row (``- - x``, ``x''``), each of which nests the syntax tree one level deeper."""
    if len(text) > MAX_INPUT_CHARS:
        raise ParseError(
            f"the expression has {len(text):,} characters; matcalc reads at most {MAX_INPUT_CHARS:,}", None
        )
    depth = run = 0
    bar_open = abs_open = False
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in _OPENS:
            depth += 1
        elif ch in _CLOSES:
            depth -= 1
        elif ch == "‖" or text.startswith("||", i):
            bar_open = not bar_open
            depth += 1 if bar_open else -1
            i += 1 if ch == "‖" else 2
            run = 0
            continue
        elif ch == "|":
            abs_open = not abs_open
            depth += 1 if abs_open else -1
        if ch in _PREFIX or ch in _POSTFIX:
            run += 1
        elif not ch.isspace():
            run = 0
        if depth > MAX_NESTING or run > MAX_NESTING:
            what = "brackets open at once" if depth > MAX_NESTING else "signs or transposes in a row"
            raise ParseError(
                f"the expression is nested too deeply: more than {MAX_NESTING:,} {what} "
                f"(matcalc reads at most {MAX_NESTING:,})", (i, i + 1), text,
            )
        i += 1


def _check_depth(tree: Expr, text: str) -> None:
    """At most MAX_DEPTH levels of syntax tree: a chain the bracket scan does not count
    (x^2^2^2…, thousands long) is refused here, with a clean error."""
    height: dict[int, int] = {}
    for n in tree.postorder():
        height[id(n)] = 1 + max((height[id(k)] for k in n.children), default=0)
    if height[id(tree)] > MAX_DEPTH:
        raise ParseError(
            f"the expression is nested too deeply: its syntax tree is {height[id(tree)]:,} levels deep "
            f"(matcalc reads at most {MAX_DEPTH:,}; each operator in a chain such as x^2^2^2… is a level)",
            None, text,
        )


def _parse_dim(text: str, span: Span | None = None) -> Any:
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


def _parse_dims(text: str, count: int, form: str, span: Span | None) -> list[Any]:
    """``count`` sizes separated by commas, as in K_{m,n}."""
    parts = text.split(",")
    if len(parts) != count:
        raise ParseError(f"{form} takes {count} sizes, not {len(parts)}", span)
    return [_parse_dim(p, span) for p in parts]


def _number_value(tok: Token) -> Fraction:
    """A number literal, exactly, within MAX_DIGITS digits and a power of ten of at most
    MAX_DECIMAL_EXPONENT (checked before any big number is built)."""
    text = str(tok)
    mantissa, _, exponent = text.lower().partition("e")
    digits = len(mantissa.replace(".", "").lstrip("0")) or 1
    if digits > MAX_DIGITS:
        raise ParseError(
            f"a number of {digits:,} digits: numbers have at most {MAX_DIGITS} digits", _tok_span(tok), None
        )
    power = exponent.lstrip("+-").lstrip("0")
    if len(power) > len(str(MAX_DECIMAL_EXPONENT)) or (power and int(power) > MAX_DECIMAL_EXPONENT):
        raise ParseError(
            f"the power of ten in {text[:20]}{'…' if len(text) > 20 else ''} is too large: "
            f"numbers are written with e-{MAX_DECIMAL_EXPONENT} to e{MAX_DECIMAL_EXPONENT} at most",
            _tok_span(tok),
        )
    return Fraction(text)


def _fresh_names() -> Iterator[str]:
    yield from FRESH_NAMES
    i = 1
    while True:
        for n in FRESH_NAMES:
            yield f"{n}{i}"
        i += 1


def _names_in(text: str) -> set[str]:
    return set(re.findall(NAME_PATTERN, text))


def natural_order(name: str) -> tuple:
    """Names in the order a reader expects: W2 before W10, b_2 before b_10."""
    return tuple((0, int(part)) if part.isascii() and part.isdigit() else (1, part)
                 for part in re.split(r"([0-9]+)", name) if part)


def _ground(e: Expr, u: Inference, ground_name: Any) -> Expr:
    """Rebuild with every dimension known: unknown ones get fresh names."""
    names: dict[DimVar, str] = {}

    def dim(d: Any) -> Any:
        d = u.resolve(d)
        if isinstance(d, DimVar):
            if d not in names:
                names[d] = ground_name()
                u.parent[d] = names[d]
            return names[d]
        return d

    def leaf(n: Expr) -> Expr:
        if isinstance(n, Var):
            out: Expr = Var(n.name, (dim(n.dims[0]), dim(n.dims[1])), n.symmetric)
        elif isinstance(n, Identity):
            out = Identity(dim(n.n))
        elif isinstance(n, Ones):
            out = Ones((dim(n.dims[0]), dim(n.dims[1])))
        elif isinstance(n, Zeros):
            out = Zeros((dim(n.dims[0]), dim(n.dims[1])))
        elif isinstance(n, Apply) and n.out is not None:
            out = Apply(n.name, n.kind, n.args, dim(n.out))
        elif isinstance(n, Jac):
            out = Jac(n.name, n.args, dim(n.out))
        elif isinstance(n, Size):
            out = Size(dim(n.dim))
        else:
            out = n
        return out

    # name unknown sizes in the order a reader meets them
    for n in e.walk():
        for d in _leaf_dims(n):
            dim(d)
    return map_bottom_up(e, leaf)


def _leaf_dims(n: Expr) -> tuple[Any, ...]:
    if isinstance(n, (Var, Ones, Zeros)):
        return n.dims
    if isinstance(n, Identity):
        return (n.n,)
    if isinstance(n, (Apply, Jac)) and n.out is not None:
        return (n.out,)
    return ()


def _spans(raw: Expr, tree: Expr) -> dict[Expr, Span]:
    """Where each node of the grounded tree is in the input: the positions of the raw
    tree's nodes, carried over (the two trees have the same structure).  The table
    belongs to this parse: grounded nodes are shared between parses (hash-consing), so a
    position is never stored on them.  A subexpression written twice points at its first
    occurrence."""
    out: dict[Expr, Span] = {}
    stack = [(raw, tree)]
    while stack:
        a, b = stack.pop()
        if a.span is not None and b not in out:
            out[b] = a.span
        stack.extend(reversed(list(zip(a.children, b.children, strict=True))))
    return out


def _located(err: MatcalcError, text: str, u: Inference, ground_name: Any) -> MatcalcError:
    """Finish an error raised while building: quote the operands and their shapes."""
    operands = getattr(err, "operands", None)
    if isinstance(err, ShapeError) and operands:
        def show(shape: tuple) -> str:
            return shape_str(tuple(_show_dim(d, u) for d in shape))  # type: ignore[arg-type]

        quoted = []
        for span, shape in operands:
            what = f"'{text[span[0]:span[1]]}'" if span else "an operand"
            quoted.append(f"{what} is {show(shape)}")
        err.message = f"{err.op}: {' and '.join(quoted)}; {err.why}"  # type: ignore[attr-defined]
        if any(isinstance(d, DimProd) for _, shape in operands for d in shape):
            err.message += (
                " (the sizes of a Kronecker product or of vec(…) are products, which matcalc cannot split "
                "back into factors: declare the sizes of the matrices involved, e.g. --where \"A: m×n, B: p×q\")"
            )
        if err.span is None and operands[0][0] is not None:
            first, last = operands[0][0], operands[-1][0] or operands[0][0]
            err.span = (first[0], last[1])
    err.args = (err.message,)
    return err.with_source(text)


def _show_dim(d: Any, u: Inference) -> Any:
    d = u.resolve(d)
    return "?" if isinstance(d, DimVar) else d


_CLOSING = {"(": ")", "[": "]", "{": "}", "⟨": "⟩", "‖": "‖", "|": "|"}


def _unclosed(text: str) -> tuple[str, int] | None:
    """The innermost bracket left open at the end of ``text``, and its position."""
    stack: list[tuple[str, int]] = []
    closers = {v: k for k, v in _CLOSING.items()}
    for i, ch in enumerate(text):
        if ch in "‖|":  # bars pair on their own: the first opens, the next closes
            if stack and stack[-1][0] == ch:
                stack.pop()
            else:
                stack.append((ch, i))
        elif ch in _CLOSING:
            stack.append((ch, i))
        elif ch in closers and stack and stack[-1][0] == closers[ch]:
            stack.pop()
    return stack[-1] if stack else None


def _described(shape: tuple) -> str:
    """Words for a shape whose sizes may not be known yet: a column vector, not one of
    length ?."""
    if any(isinstance(d, DimVar) for d in shape):
        rows, cols = shape
        if cols == 1:
            return "column vector"
        if rows == 1:
            return "row vector"
        return "matrix"
    return describe_shape(shape)


def _syntax_error(exc: UnexpectedInput, text: str) -> ParseError:
    pos = getattr(exc, "pos_in_stream", None)
    if pos is None:
        pos = len(text)
    if isinstance(exc, UnexpectedCharacters):
        msg = f"unexpected character '{text[pos]}'"
        span = (pos, pos + 1)
        if text[pos] == "\\":  # x^\top, \|x\|: LaTeX typed on the command line
            msg += (": LaTeX commands are read in tables (matcalc check --table); in an expression write "
                    "xᵀ or x' for x^\\top, ‖x‖ for \\|x\\|, ⊙ or .* for \\odot, and names without a backslash")
        elif text[pos] == "‘":
            msg += ": for a transpose write ' or ’ (or ᵀ)"
    elif isinstance(exc, UnexpectedEOF) or (isinstance(exc, UnexpectedToken) and exc.token.type == "$END"):
        msg = "the expression ends too early"
        pos = len(text.rstrip())
        span = (pos, pos + 1)
        unclosed = _unclosed(text)
        if unclosed is not None:  # tr(A X B: name what is missing, and where it was opened
            opened, at = unclosed
            msg += f": the '{opened}' at position {at + 1} is not closed (a '{_CLOSING[opened]}' is missing)"
    elif isinstance(exc, UnexpectedToken):
        tok = exc.token
        msg = f"unexpected '{tok}'"
        if tok.type in ("CLOSE_BAR", "OPEN_BAR"):
            msg = "unbalanced norm bars ‖…‖"
        elif tok.type in ("CLOSE_ABS", "OPEN_ABS"):
            msg = "unbalanced bars |…|"
        span = (tok.start_pos, tok.end_pos)
    else:  # pragma: no cover - lark has no other kinds
        msg, span = "syntax error", (pos, pos + 1)
    return ParseError(msg, span, text)
