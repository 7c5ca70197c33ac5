"""The order of terms and commutative factors in a canonical form: a structural key.

A node's key is the sequence of its *tokens* in reading order — names, numbers, operator
marks, brackets — as a reader meets them, so that sorted terms read alphabetically
(``A x + Aᵀ x``, ``𝟏 + exp(x)``); it is built from the node's structure, not by a
printer, so the canonical form does not depend on how results are printed.  Only the first
:data:`PREFIX` tokens are kept (each node's key is made from its children's in constant
time, so keys cost linear time in the size of the DAG), and a deterministic digest of the
whole structure breaks the ties between long keys with one prefix.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Callable

from ..nodes import (
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
    unknown_postorder,
)
from ..shapes import dim_str

#: how many tokens of a node's reading order its key keeps
PREFIX = 24

Tokens = tuple[str, ...]
Key = tuple[Tokens, int]


@functools.lru_cache(maxsize=4096)
def _crc(label: str) -> int:
    return zlib.crc32(label.encode())


def _joined(parts: list[Tokens], *sep: str) -> Tokens:
    """The parts in order, ``sep`` between them, cut at :data:`PREFIX` tokens.  A gap (a
    space) sorts before every mark, as in text: ``A X B`` before ``Aᵀ X Bᵀ``."""
    out: list[str] = []
    for i, p in enumerate(parts):
        if i:
            out.extend(sep)
        out.extend(p)
        if len(out) >= PREFIX:
            break
    return tuple(out[:PREFIX])


class Order:
    """Keys of nodes, each computed once (memo per canonicalisation)."""

    def __init__(self) -> None:
        self._keys: dict[Expr, Key] = {}
        self._lengths: dict[Expr, int] = {}

    def key(self, e: Expr) -> Key:
        hit = self._keys.get(e)
        if hit is None:
            keys = self._keys
            if all(k in keys for k in e.children):  # the usual case: a node built from keyed children
                hit = keys[e] = self._key_of(e)
            else:
                for n, _ in unknown_postorder(e, keys.__contains__):
                    keys[n] = self._key_of(n)
                hit = keys[e]
        return hit

    def tokens(self, e: Expr) -> Tokens:
        return self.key(e)[0]

    def digest(self, e: Expr) -> int:
        return self.key(e)[1]

    def _key_of(self, n: Expr) -> Key:
        """The key of a node whose children have theirs: its tokens, and a deterministic
        digest of the whole structure (Python's hash of a string changes from one process
        to the next; a canonical form must not)."""
        tokens = _TOKENS[type(n)](self, n)
        kids = n.children
        own = (_label(n) if kids else " ".join(tokens)) + type(n).__name__
        return tokens, self._combine(own, kids)

    def product_key(self, factors: list[Expr] | tuple[Expr, ...]) -> Key:
        """The key that the product of ``factors`` would have, without building it."""
        return _joined([self._wrapped(f) for f in factors], " "), self._combine("MatMulMatMul", factors)

    def _combine(self, own: str, kids: tuple[Expr, ...] | list[Expr]) -> int:
        d = _crc(own)
        keys = self._keys
        for k in kids:
            d = ((d * 0x01000193) ^ keys[k][1]) & 0xFFFFFFFF
        return d

    def length(self, e: Expr) -> int:
        """About how many characters ``e`` prints in (as a tree: a shared subexpression
        counts each time it is printed), computed structurally in linear time: what makes
        one reading of a result shorter than another."""
        hit = self._lengths.get(e)
        if hit is None:
            for n, _ in unknown_postorder(e, self._lengths.__contains__):
                kids = sum(self._lengths[k] for k in n.children)
                own = len(" ".join(self.tokens(n))) if not n.children else _OVERHEAD(n)
                self._lengths[n] = kids + own
            hit = self._lengths[e]
        return hit

    def _wrapped(self, e: Expr) -> Tokens:
        """A sum or a product inside a product reads in brackets."""
        inner = self.tokens(e)
        return _joined([("(",), inner, (")",)]) if isinstance(e, (Add, Hadamard, Kron, MatMul)) else inner


def _label(n: Expr) -> str:
    if isinstance(n, Call):
        return f"{n.fn.name}{n.shape}"  # diag of a vector and of a matrix share a name
    return getattr(n, "name", type(n).__name__)


def _OVERHEAD(n: Expr) -> int:
    """The characters a node adds to its children's: names, operators, brackets."""
    k = len(n.children)
    if isinstance(n, (Add, Hadamard, Kron)):
        return 3 * (k - 1)
    if isinstance(n, MatMul):  # a sum, another product, or a nested product prints in brackets
        return (k - 1) + sum(2 for f in n.factors if isinstance(f, (Add, Hadamard, Kron, MatMul)))
    if isinstance(n, Call):
        return 1 if n.fn.postfix is not None else len(n.fn.name) + 2 * k
    if isinstance(n, (Apply, Grad, Deriv, Hess, Jac)):
        return len(n.name) + 1 + 2 * k  # type: ignore[attr-defined]
    if isinstance(n, (Transpose, Diff)):
        return 1 + (2 if isinstance(n.children[0], (Add, MatMul, Hadamard, Kron)) else 0)
    if isinstance(n, Power):
        return 2 + (2 if isinstance(n.base, (Add, MatMul, Hadamard, Kron)) else 0)
    return 2


def _call(o: Order, e: Call) -> Tokens:
    """A call reads as its name and arguments; a postfix row (X⁻¹) as its argument first."""
    if e.fn.postfix is not None:
        return _joined([o._wrapped(e.args[0]), (e.fn.postfix[1],)])
    return _joined([(e.fn.name, "("), *(o.tokens(a) for a in e.args), (")",)])


def _number(v: object) -> str:
    return str(v)


_TOKENS: dict[type, Callable[[Order, Expr], Tokens]] = {
    Var: lambda o, e: (e.name,),  # type: ignore[attr-defined]
    Num: lambda o, e: (_number(e.value),),  # type: ignore[attr-defined]
    Size: lambda o, e: (dim_str(e.dim),),  # type: ignore[attr-defined]
    Identity: lambda o, e: ("I", dim_str(e.n)),  # type: ignore[attr-defined]
    Ones: lambda o, e: ("ones", dim_str(e.shape[0]), dim_str(e.shape[1])),
    Zeros: lambda o, e: ("zeros", dim_str(e.shape[0]), dim_str(e.shape[1])),
    Commutation: lambda o, e: ("K", dim_str(e.m), dim_str(e.n)),  # type: ignore[attr-defined]
    Add: lambda o, e: _joined([o.tokens(t) for t in e.terms], " ", "+"),  # type: ignore[attr-defined]
    MatMul: lambda o, e: _joined([o._wrapped(f) for f in e.factors], " "),  # type: ignore[attr-defined]
    Hadamard: lambda o, e: _joined([o._wrapped(f) for f in e.factors], " ", ".*"),  # type: ignore[attr-defined]
    Kron: lambda o, e: _joined([o._wrapped(e.left), o._wrapped(e.right)], " ", "kron"),  # type: ignore[attr-defined]
    Transpose: lambda o, e: _joined([o._wrapped(e.arg), ("'",)]),  # type: ignore[attr-defined]
    Power: lambda o, e: _joined([o._wrapped(e.base), ("^",), o.tokens(e.exponent)]),  # type: ignore[attr-defined]
    MatPow: lambda o, e: _joined([o._wrapped(e.base), ("^", str(e.k))]),  # type: ignore[attr-defined]
    Call: lambda o, e: _call(o, e),  # type: ignore[arg-type]
    Apply: lambda o, e: _joined([(e.name, "("), *(o.tokens(a) for a in e.args), (")",)]),  # type: ignore[attr-defined]
    Grad: lambda o, e: _joined([("grad", e.name, "("), *(o.tokens(a) for a in e.args), (")",)]),  # type: ignore[attr-defined]
    Deriv: lambda o, e: _joined([(e.name, "'" * e.order, "("), *(o.tokens(a) for a in e.args), (")",)]),  # type: ignore[attr-defined]
    Hess: lambda o, e: _joined([("hess", e.name, "("), *(o.tokens(a) for a in e.args), (")",)]),  # type: ignore[attr-defined]
    Jac: lambda o, e: _joined([("jac", e.name, "("), *(o.tokens(a) for a in e.args), (")",)]),  # type: ignore[attr-defined]
    Unvec: lambda o, e: _joined([("unvec", "("), o.tokens(e.arg), (")",)]),  # type: ignore[attr-defined]
    Diff: lambda o, e: _joined([("d",), o._wrapped(e.arg)]),  # type: ignore[attr-defined]
}
