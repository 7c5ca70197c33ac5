"""Text → syntax tree.  All notation sugar is removed here and nowhere else.

Parsing is two passes over the Lark parse tree's transformation:

1. :class:`Builder` maps each grammar alias to a node, inside ``inferring(u)``: node
   constructors then *unify* the unknown dimensions of undeclared names (``tr(A X B)``
   with only X declared infers A and B).
2. :func:`_ground` rebuilds the tree with every dimension resolved; unknown sizes that
   are left get fresh textbook names (m, n, p, …) not used elsewhere.

Names: a declared variable is that variable; ``I`` is the identity, ``𝟏`` / ``ones`` /
``1ᵀ`` the vector of ones, ``zeros`` a zero matrix (sizes inferred); a built-in function
name followed by parentheses is a call.  **An unknown name followed by parentheses is an
abstract function** (``L(W x + b)``), scalar-valued unless declared otherwise; **a
declared variable followed by parentheses is a product** (with ``x: n``, ``x(y' z)`` is
x times yᵀz).  ``f'(y)`` is the derivative of an elementwise function f, and ``x'(A y)``
the product xᵀ(A y) when x is a variable.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from . import functions as F
from .algebra import flatten_product
from .declare import Declarations, FuncDecl, VarDecl, default_kind, parse_where
from .errors import MatcalcError, ParseError, ShapeError, Span
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
    Identity,
    Jac,
    Kron,
    MatMul,
    MatPow,
    Num,
    Ones,
    Power,
    Transpose,
    Unvec,
    Var,
    Zeros,
    map_bottom_up,
)
from .shapes import DimProd, DimVar, Inference, Mismatch, describe_shape, dim_mul, inferring, shape_str

FRESH_NAMES = ("m", "n", "p", "q", "r", "s", "t", "k", "l", "u", "v", "w")


def grammar_text() -> str:
    """The grammar: inside the installed package, or at the top of a source checkout."""
    try:
        return resources.files("matcalc.grammar").joinpath("matcalc.lark").read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        return (Path(__file__).resolve().parent.parent / "grammar" / "matcalc.lark").read_text(encoding="utf-8")


@functools.lru_cache(maxsize=1)
def _parser() -> Lark:
    grammar = grammar_text()
    return Lark(
        grammar, parser="lalr", propagate_positions=True, maybe_placeholders=False,
        postlex=_PairBars(),
    )


class _PairBars:
    """Post-lexer: in ``‖x‖`` the first bar opens a norm and the next one closes it."""

    always_accept = ("BAR",)

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        open_ = False
        for tok in stream:
            if tok.type == "BAR":
                tok = Token.new_borrow_pos("CLOSE_BAR" if open_ else "OPEN_BAR", tok.value, tok)
                open_ = not open_
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
class Builder(Transformer):
    """Maps each grammar alias to a node.  One instance per parse."""

    def __init__(self, decls: Declarations, u: Inference):
        super().__init__()
        self.decls = decls
        self.u = u
        self.var_shapes: dict[str, tuple[Any, Any]] = {}
        self.fn_kinds: dict[str, FuncDecl] = {}
        self.fn_out: dict[str, Any] = {}
        self.used_as: dict[str, str] = {}  # name -> "variable" | "function"

    # -- helpers -----------------------------------------------------------------------
    def _scalar(self, e: Expr) -> bool:
        return self.u.is_one(e.shape[0]) and self.u.is_one(e.shape[1])

    def _use(self, name: str, how: str, span: Span | None) -> None:
        before = self.used_as.setdefault(name, how)
        if before != how:
            raise ParseError(f"'{name}' is used both as a {before} and as a {how}", span)

    def _var(self, name: str, span: Span | None) -> Expr:
        self._use(name, "variable", span)
        if name not in self.var_shapes:
            decl = self.decls.variables.get(name)
            self.var_shapes[name] = self._declared_shape(decl) if decl else self._default_shape(name)
        rows, cols = self.var_shapes[name]
        decl = self.decls.variables.get(name)
        return _at(Var(name, (rows, cols), bool(decl and decl.symmetric)), span)

    def _declared_shape(self, decl: VarDecl) -> tuple[Any, Any]:
        rows = self.u.fresh() if decl.rows is None else decl.rows
        cols = rows if decl.square and decl.cols is None else self.u.fresh() if decl.cols is None else decl.cols
        return (rows, cols)

    def _default_shape(self, name: str) -> tuple[Any, Any]:
        kind = default_kind(name)
        if kind == "scalar":
            return (1, 1)
        if kind == "vector":
            return (self.u.fresh(), 1)
        return (self.u.fresh(), self.u.fresh())

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
        return self._product([Num(Fraction(-1)), e], span)

    def _make(self, cls: type, args: tuple, span: Span | None) -> Expr:
        try:
            return _at(cls(*args), span)
        except ShapeError as err:
            if err.span is None:
                err.span = span
            raise

    def _call(self, fn: F.Function, args: list[Expr], span: Span | None) -> Expr:
        if len(args) != 1:
            raise ParseError(f"{fn.name} takes one argument, not {len(args)}", span)
        return self._make(Call, (fn, tuple(args)), span)

    # -- leaves ------------------------------------------------------------------------
    def number(self, meta: Any, tok: Token) -> Expr:
        return _at(Num(Fraction(str(tok))), _tok_span(tok))

    def name(self, meta: Any, tok: Token) -> Expr:
        name, span = str(tok), _tok_span(tok)
        if name in self.decls.variables:
            return self._var(name, span)
        if name in self.decls.functions:
            raise ParseError(f"'{name}' is declared as a function: write {name}(…)", span)
        if name[0] == "d" and name[1:] in self.decls.variables:  # dX: the differential of X
            return _at(Diff(self._var(name[1:], span)), span)
        if name == "I":
            n = self.u.fresh()
            return _at(Identity(n), span)
        sized = re.fullmatch(r"(I|ones)_\{?([A-Za-z0-9·*]+)\}?", name)
        if sized:  # I_n, I_3, ones_n: the identity or the ones vector of a given size
            size = _parse_dim(sized.group(2))
            return _at(Identity(size) if sized.group(1) == "I" else Ones((size, 1)), span)
        if name == "ones":
            return self.ones(meta, tok)
        if name == "zeros":
            return _at(Zeros((self.u.fresh(), self.u.fresh())), span)
        if name in ("kron", "grad", "jac") or (F.lookup(name) and name != "σ"):
            raise ParseError(f"'{name}' is a function: write {name}(…)", span)
        return self._var(name, span)

    def ones(self, meta: Any, tok: Token) -> Expr:
        text = str(tok)
        if "_" in text:
            return _at(Ones((_parse_dim(text.split("_", 1)[1].strip("{}")), 1)), _tok_span(tok))
        if len(text) > 1 and text[1:].translate(_FROM_SUBSCRIPT) != text[1:]:  # 𝟏ₙ
            return _at(Ones((_parse_dim(text[1:].translate(_FROM_SUBSCRIPT)), 1)), _tok_span(tok))
        return _at(Ones((self.u.fresh(), 1)), _tok_span(tok))

    def unvec(self, meta: Any, tok: Token, arg: Expr) -> Expr:
        rows, cols = (_parse_dim(p) for p in str(tok)[len("unvec_{"):-1].split(","))
        return self._make(Unvec, (arg, rows, cols), _span(meta))

    def sized_identity(self, meta: Any, tok: Token) -> Expr:
        text = str(tok)
        size = text[3:-1] if text.startswith("I_{") else text[1:].translate(_FROM_SUBSCRIPT)
        return _at(Identity(_parse_dim(size)), _tok_span(tok))

    def zero_matrix(self, meta: Any, tok: Token) -> Expr:
        text = str(tok)
        if "_" in text:  # 𝟎_{m,n}, zeros_{m,n}
            rows, cols = (_parse_dim(p) for p in text.split("_", 1)[1].strip("{}").split(","))
            return _at(Zeros((rows, cols)), _tok_span(tok))
        return _at(Zeros((self.u.fresh(), self.u.fresh())), _tok_span(tok))

    def commutation(self, meta: Any, tok: Token) -> Expr:
        m, n = (_parse_dim(p) for p in str(tok)[3:-1].split(","))
        return _at(Commutation(m, n), _tok_span(tok))

    # -- sums and products -------------------------------------------------------------
    def add(self, meta: Any, a: Expr, b: Expr) -> Expr:
        return self._sum(a, b, _span(meta))

    def sub(self, meta: Any, a: Expr, minus: Token, b: Expr) -> Expr:
        return self._sum(a, self._negate(b, b.span), _span(meta))

    def _sum(self, a: Expr, b: Expr, span: Span | None) -> Expr:
        terms = [*(a.terms if isinstance(a, Add) else (a,)), *(b.terms if isinstance(b, Add) else (b,))]
        shaped = next((t for t in terms if not self._scalar(t)), None)
        if shaped is not None:  # a number added to a matrix means that number times ones: 1 − σ(x)
            terms = [self._broadcast(t, shaped) if isinstance(t, Num) else t for t in terms]
        return self._make(Add, (tuple(terms),), span)

    def _broadcast(self, n: Num, like: Expr) -> Expr:
        ones = Ones(like.shape)
        return ones if n.value == 1 else MatMul((n, ones))

    def mul(self, meta: Any, a: Expr, b: Expr) -> Expr:
        return self._product([a, b], _span(meta))

    def div(self, meta: Any, a: Expr, b: Expr) -> Expr:
        span = _span(meta)
        if isinstance(b, Num):
            if b.value == 0:
                raise ParseError("division by zero", b.span)
            return self._product([Num(1 / b.value), a], span)
        if not self._scalar(b):
            raise ShapeError(
                f"division: the divisor is a {describe_shape(self._shape(b))}, not a scalar; "
                "write ./ for elementwise division, or multiply by inv(…)", b.span,
            )
        return self._product([self._make(Power, (b, Num(Fraction(-1))), b.span), a], span)

    def hadamard(self, meta: Any, a: Expr, b: Expr) -> Expr:
        span = _span(meta)
        if self._scalar(a) or self._scalar(b):
            return self._product([a, b], span)
        factors = [*(a.factors if isinstance(a, Hadamard) else (a,)), *(b.factors if isinstance(b, Hadamard) else (b,))]
        return self._make(Hadamard, (tuple(factors),), span)

    def elemdiv(self, meta: Any, a: Expr, b: Expr) -> Expr:
        span = _span(meta)
        if self._scalar(b):
            return self.div(meta, a, b)
        inverse = self._make(Power, (b, Num(Fraction(-1))), b.span)
        if self._scalar(a):
            return self._product([a, inverse], span)
        return self.hadamard(meta, a, inverse)

    def kron(self, meta: Any, a: Expr, b: Expr) -> Expr:
        return self._make(Kron, (a, b), _span(meta))

    def neg(self, meta: Any, minus: Token, a: Expr) -> Expr:
        return self._negate(a, _span(meta))

    # -- postfix -----------------------------------------------------------------------
    def transpose(self, meta: Any, a: Expr, prime: Token | None = None) -> Expr:
        span = _span(meta)
        if isinstance(a, Num) and a.value == 1:  # 1ᵀ: the vector of ones, transposed
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
        if not self._scalar(a):
            raise ParseError("a matrix power must be a whole number; for elementwise powers write X.^p", exponent.span)
        return self._make(Power, (a, exponent), span)

    def elempower(self, meta: Any, a: Expr, exponent: Expr) -> Expr:
        return self._make(Power, (a, exponent), _span(meta))

    def _power(self, a: Expr, p: Fraction, span: Span | None) -> Expr:
        if self._scalar(a):
            return self._make(Power, (a, Num(p)), span)
        if p.denominator != 1 or p == 0:
            raise ParseError(
                f"X^{p} is not a matrix power matcalc knows: matrix powers are whole numbers "
                "other than 0 (for elementwise powers write X.^p)", span,
            )
        k = int(p)
        if k == 1:
            return a
        if k == -1:
            return self._inverse(a, span)
        base = a if abs(k) == 1 else self._make(MatPow, (a, abs(k)), span)
        return self._inverse(base, span) if k < 0 else base

    def _inverse(self, a: Expr, span: Span | None) -> Expr:
        if self._scalar(a):
            return self._make(Power, (a, Num(Fraction(-1))), span)
        return self._make(Call, (F.INV, (a,)), span)

    def exp_transpose(self, meta: Any, *_: Token) -> str:
        return "T"

    def exp_inverse_transpose(self, meta: Any, *_: Token) -> str:
        return "-T"

    def exp_number(self, meta: Any, tok: Token) -> Expr:
        return _at(Num(Fraction(str(tok))), _tok_span(tok))

    def exp_negative(self, meta: Any, minus: Token, tok: Token) -> Expr:
        return _at(Num(-Fraction(str(tok))), (minus.start_pos, tok.end_pos))

    # -- calls ---------------------------------------------------------------------------
    def args(self, meta: Any, *items: Expr) -> list[Expr]:
        return list(items)

    def norm(self, meta: Any, open_: Token, a: Expr, close: Token) -> Expr:
        return self._make(Call, (F.NORM, (a,)), _span(meta))

    def call(self, meta: Any, tok: Token, args: list[Expr]) -> Expr:
        name, span = str(tok), _span(meta)
        if name in self.decls.variables:  # a declared variable followed by (…) is a product
            if len(args) != 1:
                raise ParseError(f"'{name}' is a variable, so '{name}(…)' is a product and takes one factor", span)
            return self._product([self._var(name, _tok_span(tok)), args[0]], span)
        if name not in self.decls.functions:
            if name == "kron":
                if len(args) != 2:
                    raise ParseError(f"kron takes two arguments, not {len(args)}", span)
                return self._make(Kron, (args[0], args[1]), span)
            if name == "diag" and len(args) == 1:
                a = args[0]
                fn = F.DIAG if self.u.is_one(a.shape[1]) and not self._scalar(a) else F.DIAGV
                return self._call(fn, args, span)
            fn = F.lookup(name)
            if fn is not None:
                if fn is F.INV and len(args) == 1:
                    return self._inverse(args[0], span)
                return self._call(fn, args, span)
        return self._apply(name, args, span, _tok_span(tok))

    def _function(self, name: str, span: Span | None) -> FuncDecl:
        self._use(name, "function", span)
        return self.decls.functions.get(name, FuncDecl("scalar"))

    def _out(self, name: str, decl: FuncDecl) -> Any:
        if name not in self.fn_out:
            self.fn_out[name] = decl.out if decl.out is not None else self.u.fresh()
        return self.fn_out[name]

    def _apply(self, name: str, args: list[Expr], span: Span | None, name_span: Span) -> Expr:
        decl = self._function(name, name_span)
        out = self._out(name, decl) if decl.kind == "vector" else None
        if decl.kind == "elementwise" and len(args) != 1:
            raise ParseError(f"{name} is elementwise and takes one argument, not {len(args)}", span)
        if decl.kind == "vector":
            for a in args:
                if not self.u.is_one(a.shape[1]):
                    self.u.unify(a.shape[1], 1)
        return self._make(Apply, (name, decl.kind, tuple(args), out), span)

    def primed_call(self, meta: Any, tok: Token, args: list[Expr]) -> Expr:
        name, span = str(tok)[:-1], _span(meta)
        name_span = (tok.start_pos, tok.end_pos - 1)
        fn = F.lookup(name) if name not in self.decls.variables and name not in self.decls.functions else None
        if len(args) != 1:
            raise ParseError(f"{name}′ takes one argument, not {len(args)}", span)
        if fn is not None and fn.elementwise:
            prime = F.PRIMES[fn.key](args[0]) if fn.key in F.PRIMES else fn.prime(args[0])  # type: ignore[misc]
            return _at(prime, span)
        if fn is not None:
            raise ParseError(f"{name}′ is not defined: only elementwise functions have a derivative written f′(x)", span)
        decl = self.decls.functions.get(name)
        if decl is not None:
            if decl.kind != "elementwise":
                raise ParseError(
                    f"{name} is not elementwise: write ∇{name}(…) or grad {name}(…) for its gradient", span
                )
            self._use(name, "function", name_span)
            return self._make(Deriv, (name, tuple(args)), span)
        # a variable: x'(A y) is xᵀ (A y)
        var = self._var(name, name_span)
        tr = self._make(Transpose, (var,), (tok.start_pos, tok.end_pos))
        return self._product([tr, args[0]], span)

    def grad_call(self, meta: Any, tok: Token, args: list[Expr]) -> Expr:
        name, span = str(tok), _span(meta)
        decl = self._function(name, _tok_span(tok))
        if decl.kind != "scalar":
            raise ParseError(f"∇{name} is the gradient of a scalar function, but {name} is declared {decl.kind}", span)
        if len(args) != 1:
            raise ParseError(f"∇{name}(…) takes one argument", span)
        return self._make(Grad, (name, tuple(args)), span)

    def jac_call(self, meta: Any, tok: Token, args: list[Expr]) -> Expr:
        name, span = str(tok), _span(meta)
        decl = self._function(name, _tok_span(tok))
        if decl.kind == "scalar" and name not in self.decls.functions:
            decl = FuncDecl("vector")
            self.fn_kinds[name] = decl
        if decl.kind != "vector" or len(args) != 1:
            raise ParseError(f"∂{name}(y) is the Jacobian of a vector function of one vector; declare {name}: vector function", span)
        return self._make(Jac, (name, tuple(args), self._out(name, decl)), span)

    def _shape(self, e: Expr) -> tuple[Any, Any]:
        return (self.u.resolve(e.shape[0]), self.u.resolve(e.shape[1]))


# ======================================================================================


class Parsed:
    """What :func:`parse_tree` returns: the tree, and the declarations it was read with."""

    __slots__ = ("tree", "decls", "text", "shapes", "functions")

    def __init__(self, tree: Expr, decls: Declarations, text: str, shapes: dict[str, tuple], functions: dict[str, FuncDecl]):
        self.tree = tree
        self.decls = decls
        self.text = text
        self.shapes = shapes
        self.functions = functions


def parse_tree(text: str, where: str | Mapping[str, object] | Declarations | None = None,
               expect: tuple | None = None) -> Parsed:
    """Parse ``text`` with the declarations ``where`` into a typed tree.

    Raises :class:`ParseError` (bad syntax, with the position), :class:`ShapeError`
    (shapes that cannot agree, naming the operation and both shapes) or
    :class:`DeclarationError`.  ``expect``: a shape that the expression's unknown sizes
    are unified with where they can be (a claimed ``I`` gets the size of the answer).
    """
    decls = parse_where(where)
    if not isinstance(text, str) or not text.strip():
        raise ParseError("the expression is empty", (0, 0), text if isinstance(text, str) else "")
    try:
        lark_tree = _parser().parse(text)
    except UnexpectedInput as exc:
        raise _syntax_error(exc, text) from None
    used = set(decls.dim_symbols()) | _names_in(text)
    fresh_pool = (n for n in _fresh_names() if n not in used)

    def ground_name() -> str:
        return next(fresh_pool)

    u = Inference(ground_name)
    builder = Builder(decls, u)
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
            raise _located(err, text, u, ground_name) from None
        raise
    tree = _ground(raw, u, ground_name)
    shapes = {n.name: n.shape for n in tree.walk() if isinstance(n, Var)}
    functions = {
        name: builder.fn_kinds.get(name) or decls.functions.get(name, FuncDecl("scalar"))
        for name, how in builder.used_as.items() if how == "function"
    }
    for n in tree.walk():  # vector functions: the size of their values, as inferred
        if isinstance(n, (Apply, Jac)) and n.out is not None:
            functions[n.name] = FuncDecl("vector", n.out)
    return Parsed(tree, decls, text, dict(sorted(shapes.items())), functions)


def _parse_dim(text: str) -> Any:
    """A printed dimension: 3, n, or a product m·n."""
    dims: list[Any] = [int(p) if p.strip().isdigit() else p.strip() for p in re.split(r"[·*]", text)]
    out = dims[0]
    for d in dims[1:]:
        out = dim_mul(out, d)
    return out


def _fresh_names() -> Iterator[str]:
    yield from FRESH_NAMES
    i = 1
    while True:
        for n in FRESH_NAMES:
            yield f"{n}{i}"
        i += 1


def _names_in(text: str) -> set[str]:
    return set(re.findall(r"[A-Za-zα-ωΑ-Ω][A-Za-z0-9α-ωΑ-Ω_]*", text))


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
        else:
            out = n
        return _at(out, n.span)

    # name unknown sizes in the order a reader meets them
    for n in e.walk():
        for d in _leaf_dims(n):
            dim(d)
    out = map_bottom_up(e, leaf)
    _copy_spans(e, out)
    return out


def _leaf_dims(n: Expr) -> tuple[Any, ...]:
    if isinstance(n, (Var, Ones, Zeros)):
        return n.dims
    if isinstance(n, Identity):
        return (n.n,)
    if isinstance(n, (Apply, Jac)) and n.out is not None:
        return (n.out,)
    return ()


def _copy_spans(old: Expr, new: Expr) -> None:
    """Positions survive grounding (the two trees have the same structure)."""
    stack = [(old, new)]
    while stack:
        a, b = stack.pop()
        if a.span is not None and b.span is None:
            object.__setattr__(b, "span", a.span)
        stack.extend(zip(a.children, b.children, strict=True))


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


def _syntax_error(exc: UnexpectedInput, text: str) -> ParseError:
    pos = getattr(exc, "pos_in_stream", None)
    if pos is None:
        pos = len(text)
    if isinstance(exc, UnexpectedCharacters):
        msg = f"unexpected character '{text[pos]}'"
        span = (pos, pos + 1)
    elif isinstance(exc, UnexpectedEOF) or (isinstance(exc, UnexpectedToken) and exc.token.type == "$END"):
        msg = "the expression ends too early"
        pos = len(text.rstrip())
        span = (pos, pos + 1)
    elif isinstance(exc, UnexpectedToken):
        tok = exc.token
        msg = f"unexpected '{tok}'"
        if tok.type in ("CLOSE_BAR", "OPEN_BAR"):
            msg = "unbalanced norm bars ‖…‖"
        span = (tok.start_pos, tok.end_pos)
    else:  # pragma: no cover - lark has no other kinds
        msg, span = "syntax error", (pos, pos + 1)
    return ParseError(msg, span, text)
