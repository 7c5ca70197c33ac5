"""Frozen syntax-tree nodes.

Every node is an immutable value: ``==`` and ``hash`` are structural (the hash is
computed once, at construction, so that trees with shared subtrees hash in constant
time), constructors never simplify, and each node knows its shape.  The shape is
computed from the children when the node is built, by the node's shape rule, against
the unifier in force (:func:`matcalc.shapes.unifier`): while parsing that rule *infers*
unknown dimensions, afterwards it *checks* them, so any rewrite that builds an
ill-shaped node fails at once with a :class:`~matcalc.errors.ShapeError`.

Node classes name the mathematics, not the notation: ``X'``, ``X^T`` and ``Xᵀ`` are all
:class:`Transpose`; ``inv(X)``, ``X^-1`` and ``X⁻¹`` are all ``Call(inv, X)``.
"""

from __future__ import annotations

import dataclasses
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, ClassVar

from .errors import Span
from .shapes import SCALAR, STRICT, Dim, Mismatch, Shape, shape_error, unifier


class _HashConsed(type):
    """The metaclass of nodes: after parsing (the unifier is :data:`~matcalc.shapes.STRICT`),
    building a node whose value exists returns the existing node, looked up *before* a
    new one is built, so that a value is built, shape-checked and hashed once.  While
    parsing, sizes are still being inferred and every node is new."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        if unifier() is not STRICT:
            return super().__call__(*args, **kwargs)
        if kwargs or len(args) != len(_FIELDS.get(cls) or _fields(cls)):
            args = _complete(cls, args, kwargs)
        key = _table_key(cls, args)
        ref = _TABLE.get(key)
        found = ref() if ref is not None else None
        if found is not None:
            return found
        return _remember(super().__call__(*args), key)


class Expr(metaclass=_HashConsed):
    """Base class of all nodes."""

    __slots__ = ("shape", "_h", "_k", "_c", "children", "span", "__weakref__")
    #: names of the fields that hold child nodes (a node, or a tuple of nodes)
    _children: ClassVar[tuple[str, ...]] = ()
    #: a word for the operation, used in error messages
    _op: ClassVar[str] = "expression"

    shape: Shape
    span: Span | None
    children: tuple[Expr, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "span", None)
        object.__setattr__(self, "_c", False)  # the shared instance of its value (set by the table)
        if self._children and unifier() is STRICT:
            # children are the shared instance of their value, so that comparing two nodes
            # compares children by identity, not by deep recursion
            for name in self._children:
                value = getattr(self, name)
                if isinstance(value, (tuple, list)):
                    if not all(v._c for v in value) or isinstance(value, list):
                        object.__setattr__(self, name, tuple(v if v._c else _intern(v) for v in value))
                elif not value._c:
                    object.__setattr__(self, name, _intern(value))
        k = tuple(getattr(self, f) for f in _FIELDS.get(type(self)) or _fields(type(self)))
        object.__setattr__(self, "_k", k)
        kids: tuple[Expr, ...] = ()
        for name in self._children:
            value = getattr(self, name)
            kids += value if isinstance(value, tuple) else (value,)
        #: the child nodes, in order (the nodes of tuple fields spliced in)
        object.__setattr__(self, "children", kids)
        object.__setattr__(self, "_h", hash((type(self), *k)))
        try:
            shape = self._infer()
        except Mismatch as exc:
            raise self._mismatch(exc) from None
        object.__setattr__(self, "shape", shape)

    # -- structure ---------------------------------------------------------------------
    def _key(self) -> tuple[Any, ...]:
        return self._k

    def __hash__(self) -> int:
        return self._h

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if type(self) is not type(other) or self._h != other._h:  # type: ignore[attr-defined]
            return False
        return self._k == other._k  # type: ignore[attr-defined]

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def rebuild(self, children: tuple[Expr, ...] | list[Expr]) -> Expr:
        """The same node with new children (in the order of :attr:`children`)."""
        it = iter(children)
        values = {}
        for f in _fields(type(self)):
            if f in self._children:
                old = getattr(self, f)
                values[f] = tuple(next(it) for _ in old) if isinstance(old, tuple) else next(it)
            else:
                values[f] = getattr(self, f)
        return type(self)(**values)

    def walk(self) -> Iterator[Expr]:
        """Every node of the tree once (shared subtrees once), parents before children."""
        seen: set[int] = set()
        stack: list[Expr] = [self]
        while stack:
            node = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            yield node
            stack.extend(reversed(node.children))

    def postorder(self) -> Iterator[Expr]:
        """Every node once (shared subtrees once), children before parents; no recursion,
        so that very deep trees can be walked."""
        done: set[int] = set()
        stack: list[tuple[Expr, bool]] = [(self, False)]
        while stack:
            node, expanded = stack.pop()
            if id(node) in done:
                continue
            if expanded or not node.children:
                done.add(id(node))
                yield node
                continue
            stack.append((node, True))
            stack.extend((c, False) for c in reversed(node.children) if id(c) not in done)

    @property
    def is_scalar(self) -> bool:
        return self.shape == SCALAR

    # -- shapes ------------------------------------------------------------------------
    def _infer(self) -> Shape:
        raise NotImplementedError

    def _mismatch(self, exc: Mismatch) -> Exception:
        kids = self.children
        return shape_error(
            self._op, "the shapes do not agree", [(c.span, c.shape) for c in kids], None
        )

    def __repr__(self) -> str:
        """The tree itself, as constructor calls (:meth:`dump`).  Nodes do not print
        themselves as mathematics: the printers (:mod:`matcalc.printing`) and the API's
        objects, which print as text, do."""
        return self.dump()

    def dump(self) -> str:
        """The tree as constructor calls: ``MatMul((Transpose(Var('x', ('m', 1), False)), …))``
        (iterative, so a deep tree can be dumped)."""
        out: dict[int, str] = {}
        for n in self.postorder():
            parts = []
            for f in _fields(type(n)):
                v = getattr(n, f)
                if isinstance(v, Expr):
                    parts.append(out[id(v)])
                elif isinstance(v, tuple) and v and all(isinstance(k, Expr) for k in v):
                    parts.append("(" + ", ".join(out[id(k)] for k in v) + ("," if len(v) == 1 else "") + ")")
                else:
                    parts.append(repr(v))
            out[id(n)] = f"{type(n).__name__}({', '.join(parts)})"
        return out[id(self)]


_FIELDS: dict[type, tuple[str, ...]] = {}

#: the shared instance of each node value, keyed by its class and its fields, children by
#: identity (children are shared instances too, and a node keeps its children alive, so
#: the identities in a live node's key are those of live nodes).  Weak references without
#: callbacks (a callback is Python code that a signal — a time limit — could interrupt,
#: and an exception raised there is lost): dead entries are swept when the table has
#: doubled since the last sweep, so it stays within twice the nodes alive.
_TABLE: dict[tuple[Any, ...], weakref.ref] = {}
_SWEEP = {"at": 4096}


def _table_key(cls: type, values: tuple[Any, ...] | list[Any]) -> tuple[Any, ...]:
    kids = _CHILD_INDEX.get(cls)
    if kids is None:
        names = _fields(cls)
        kids = _CHILD_INDEX[cls] = tuple(names.index(n) for n in cls._children)  # type: ignore[attr-defined]
    if not kids:
        return (cls, *values)
    out = list(values)
    for i in kids:
        v = out[i]
        out[i] = id(v) if isinstance(v, Expr) else tuple(map(id, v))
    return (cls, *out)


_CHILD_INDEX: dict[type, tuple[int, ...]] = {}


def _remember(new: Expr, key: tuple[Any, ...] | None = None) -> Expr:
    """Make ``new`` the shared instance of its value (or return the one there is)."""
    own = _table_key(type(new), new._k)  # its children are shared instances
    if own != key:  # built from children that were not (a tree from the parser)
        ref = _TABLE.get(own)
        found = ref() if ref is not None else None
        if found is not None:
            return found
    _TABLE[own] = weakref.ref(new)
    object.__setattr__(new, "_c", True)
    if len(_TABLE) > _SWEEP["at"]:
        for k, r in list(_TABLE.items()):
            if r() is None and _TABLE.get(k) is r:
                del _TABLE[k]
        _SWEEP["at"] = max(4096, 2 * len(_TABLE))
    return new


def _intern(e: Expr) -> Expr:
    """The shared instance of e's value: for a tree built while parsing that ends up in a
    tree built afterwards (iterative: the tree can be deep)."""
    if e._c:
        return e
    done: dict[int, Expr] = {}
    for n, kids in unknown_postorder(e, lambda m: m._c):
        new_kids = [k if k._c else done[id(k)] for k in kids]
        if any(a is not b for a, b in zip(new_kids, kids, strict=True)):
            done[id(n)] = n.rebuild(new_kids)  # built now: shared
        else:
            done[id(n)] = _remember(n)
    return done[id(e)]


def _complete(cls: type, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """The field values in order, from positional and keyword arguments and defaults."""
    out = list(args)
    for f in dataclasses.fields(cls)[len(args):]:
        if f.name in kwargs:
            out.append(kwargs[f.name])
        elif f.default is not dataclasses.MISSING:
            out.append(f.default)
        else:
            raise TypeError(f"{cls.__name__}() missing the argument {f.name!r}")
    return tuple(out)


def _fields(cls: type) -> tuple[str, ...]:
    try:
        return _FIELDS[cls]
    except KeyError:
        names = tuple(f.name for f in dataclasses.fields(cls))
        _FIELDS[cls] = names
        return names


def _immutable(self: Expr, name: str, value: object = None) -> None:
    raise AttributeError(f"{type(self).__name__} nodes are immutable: build a new node instead of setting .{name}")


def node(cls: type) -> type:
    """Make a node class: a frozen, slotted dataclass.  (The ``__setattr__`` that
    dataclasses generate for frozen slotted classes fails with a TypeError, because the
    class is re-created; nodes get a plain guard instead.)"""
    cls = dataclass(frozen=True, slots=True, eq=False, repr=False)(cls)
    cls.__setattr__ = _immutable  # type: ignore[assignment]
    cls.__delattr__ = _immutable  # type: ignore[assignment]
    return cls


# ======================================================================================
# Leaves
# ======================================================================================


@node
class Var(Expr):
    """A variable: ``A``, ``x``, ``λ``.  ``symmetric`` marks a declared symmetric matrix."""

    name: str
    dims: Shape
    symmetric: bool = False

    def _infer(self) -> Shape:
        if self.symmetric:
            unifier().unify(self.dims[0], self.dims[1])
        return self.dims


@node
class Num(Expr):
    """A number (exact rational)."""

    value: Fraction

    def __post_init__(self) -> None:
        if type(self.value) is not Fraction:  # Num(2) is Num(Fraction(2)): one value, one type
            object.__setattr__(self, "value", Fraction(self.value))
        Expr.__post_init__(self)

    def _infer(self) -> Shape:
        return SCALAR


@node
class Size(Expr):
    """A size used as a number: the m of ``‖X w − y‖² / m`` when X is m×n.  A constant
    (its differential is zero); it takes the value of the size wherever sizes are
    instantiated (the SymPy check, evaluation, finite differences)."""

    dim: Dim

    def _infer(self) -> Shape:
        return SCALAR


@node
class Identity(Expr):
    """The identity matrix ``I`` of size n."""

    n: Dim

    def _infer(self) -> Shape:
        return (self.n, self.n)


@node
class Ones(Expr):
    """The all-ones matrix; ``Ones((n, 1))`` is the vector of ones ``𝟏``."""

    dims: Shape

    def _infer(self) -> Shape:
        return self.dims


@node
class Zeros(Expr):
    """The zero matrix of a given shape (the zero differential, among others)."""

    dims: Shape

    def _infer(self) -> Shape:
        return self.dims


@node
class Commutation(Expr):
    """The commutation matrix K₍ₘ,ₙ₎, with K vec(X) = vec(Xᵀ) for X m×n."""

    m: Dim
    n: Dim

    def _infer(self) -> Shape:
        u = unifier()
        size = u.mul(self.m, self.n)
        return (size, size)


# ======================================================================================
# Operations
# ======================================================================================


def _one_shape(operands: tuple[Expr, ...]) -> Shape:
    """The shape rule of sums and Hadamard products: every operand has one shape."""
    u = unifier()
    first = operands[0].shape
    for o in operands[1:]:
        u.unify(first[0], o.shape[0])
        u.unify(first[1], o.shape[1])
    return first


@node
class Add(Expr):
    """A sum of two or more terms of one shape."""

    terms: tuple[Expr, ...]
    _children = ("terms",)
    _op = "sum"

    def _infer(self) -> Shape:
        return _one_shape(self.terms)


@node
class MatMul(Expr):
    """A product.  Factors of shape 1×1 are scalars and multiply anything; the others
    form a matrix chain whose inner dimensions must agree."""

    factors: tuple[Expr, ...]
    _children = ("factors",)
    _op = "matrix product"

    def _infer(self) -> Shape:
        u = unifier()
        current: Shape | None = None
        for f in self.factors:
            if u.is_one(f.shape[0]) and u.is_one(f.shape[1]):
                continue
            if current is None:
                current = f.shape
                continue
            u.unify(current[1], f.shape[0])
            current = (current[0], f.shape[1])
        return SCALAR if current is None else current

    def _mismatch(self, exc: Mismatch) -> Exception:
        u = unifier()
        # find the adjacent pair of non-scalar factors whose inner dimensions differ
        left: Expr | None = None
        prefix: list[Expr] = []
        for f in self.factors:
            if u.is_one(f.shape[0]) and u.is_one(f.shape[1]):
                prefix.append(f)
                continue
            if left is not None and u.resolve(left.shape[1]) != u.resolve(f.shape[0]):
                a, b = u.resolve(left.shape[1]), u.resolve(f.shape[0])
                why = (
                    f"the left factor has {a} column{'s' if a != 1 else ''} "
                    f"but the right factor has {b} row{'s' if b != 1 else ''}"
                )
                return shape_error(self._op, why, [(left.span, left.shape), (f.span, f.shape)], None)
            left = f if left is None else _Chain(left, f)
            prefix.append(f)
        return Expr._mismatch(self, exc)  # zero-argument super() fails in slotted dataclasses


class _Chain:
    """The running product of a matrix chain, only for error messages."""

    def __init__(self, left: Any, right: Expr):
        ls, rs = left.span, right.span
        self.span = (ls[0], rs[1]) if ls and rs else None
        self.shape = (left.shape[0], right.shape[1])


@node
class Hadamard(Expr):
    """The elementwise (Hadamard) product ``A ⊙ B`` of matrices of one shape."""

    factors: tuple[Expr, ...]
    _children = ("factors",)
    _op = "Hadamard product"

    def _infer(self) -> Shape:
        return _one_shape(self.factors)


@node
class Kron(Expr):
    """The Kronecker product ``A ⊗ B``."""

    left: Expr
    right: Expr
    _children = ("left", "right")
    _op = "Kronecker product"

    def _infer(self) -> Shape:
        u = unifier()
        a = tuple(u.known(d) for d in self.left.shape)  # name the left operand's sizes first
        b = self.right.shape
        return (u.mul(a[0], b[0]), u.mul(a[1], b[1]))


@node
class Transpose(Expr):
    """``Aᵀ``."""

    arg: Expr
    _children = ("arg",)
    _op = "transpose"

    def _infer(self) -> Shape:
        r, c = self.arg.shape
        return (c, r)


@node
class Power(Expr):
    """Elementwise power ``A.^p``; for a scalar base, the ordinary power ``s^p``."""

    base: Expr
    exponent: Expr
    _children = ("base", "exponent")
    _op = "power"

    def _infer(self) -> Shape:
        u = unifier()
        u.unify(self.exponent.shape[0], 1)
        u.unify(self.exponent.shape[1], 1)
        return self.base.shape

    def _mismatch(self, exc: Mismatch) -> Exception:
        return shape_error(
            self._op, "the exponent must be a scalar", [(self.exponent.span, self.exponent.shape)], None
        )


@node
class MatPow(Expr):
    """The matrix power ``Xᵏ`` = X X ⋯ X of a square matrix (k ≥ 2), or X⁰ = I."""

    base: Expr
    k: int
    _children = ("base",)
    _op = "matrix power"

    def _infer(self) -> Shape:
        r, c = self.base.shape
        unifier().unify(r, c)
        return (r, r)

    def _mismatch(self, exc: Mismatch) -> Exception:
        return shape_error(
            self._op, "only a square matrix has powers", [(self.base.span, self.base.shape)], None
        )


@node
class Call(Expr):
    """A built-in function applied to arguments: ``tr(X)``, ``exp(x)``, ``softmax(z)``.
    ``fn`` is a :class:`matcalc.functions.Function`, whose row carries the shape rule."""

    fn: Any
    args: tuple[Expr, ...]
    _children = ("args",)

    @property
    def _op(self) -> str:  # type: ignore[override]
        return self.fn.name

    def _infer(self) -> Shape:
        return self.fn.shape([a.shape for a in self.args], unifier())

    def _mismatch(self, exc: Mismatch) -> Exception:
        return shape_error(
            f"{self.fn.name}(…)",
            self.fn.requires,
            [(a.span, a.shape) for a in self.args],
            None,
        )


@node
class Unvec(Expr):
    """vec⁻¹: reshape an (m·n)-vector into an m×n matrix, column by column."""

    arg: Expr
    rows: Dim
    cols: Dim
    _children = ("arg",)
    _op = "unvec"

    def _infer(self) -> Shape:
        u = unifier()
        u.unify(self.arg.shape[0], u.mul(self.rows, self.cols))
        u.unify(self.arg.shape[1], 1)
        return (self.rows, self.cols)


# ======================================================================================
# Abstract functions and their derivatives
# ======================================================================================

@node
class Apply(Expr):
    """An abstract function applied to arguments: ``L(W x + b)``.

    ``kind`` is ``scalar`` (ℝ-valued, the default), ``elementwise`` (applied entry by
    entry) or ``vector`` (vector-valued, of length ``out``)."""

    name: str
    kind: str
    args: tuple[Expr, ...]
    out: Dim | None = None
    _children = ("args",)

    @property
    def _op(self) -> str:  # type: ignore[override]
        return f"{self.name}(…)"

    def _infer(self) -> Shape:
        if self.kind == "scalar":
            return SCALAR
        if self.kind == "elementwise":
            if len(self.args) != 1:
                raise Mismatch("elementwise functions take one argument")
            return self.args[0].shape
        assert self.out is not None
        return (self.out, 1)


@node
class Grad(Expr):
    """∇f(y): the gradient of a scalar abstract function at its argument (shape of y)."""

    name: str
    args: tuple[Expr, ...]
    _children = ("args",)

    def _infer(self) -> Shape:
        return self.args[0].shape


@node
class Deriv(Expr):
    """f′(y), f″(y): a derivative (of ``order`` 1 or 2) of an elementwise abstract
    function, entry by entry."""

    name: str
    args: tuple[Expr, ...]
    order: int = 1
    _children = ("args",)

    def _infer(self) -> Shape:
        return self.args[0].shape


@node
class Hess(Expr):
    """∇²L(y): the Hessian of a scalar abstract function at a vector y (n×n, symmetric)."""

    name: str
    args: tuple[Expr, ...]
    _children = ("args",)
    _op = "Hessian"

    def _infer(self) -> Shape:
        unifier().unify(self.args[0].shape[1], 1)
        return (self.args[0].shape[0], self.args[0].shape[0])


@node
class Jac(Expr):
    """∂g(y): the Jacobian of a vector-valued abstract function at a vector y."""

    name: str
    args: tuple[Expr, ...]
    out: Dim
    _children = ("args",)
    _op = "Jacobian"

    def _infer(self) -> Shape:
        u = unifier()
        u.unify(self.args[0].shape[1], 1)
        return (self.out, self.args[0].shape[0])


# ======================================================================================
# Differentials
# ======================================================================================


@node
class Diff(Expr):
    """The differential ``d(A)``; ``Diff(X)`` of a variable is printed ``dX``."""

    arg: Expr
    _children = ("arg",)

    def _infer(self) -> Shape:
        return self.arg.shape


# ======================================================================================
# Small helpers used across the rules (they build nodes; they do not simplify)
# ======================================================================================

ZERO = Num(Fraction(0))
ONE = Num(Fraction(1))
MINUS_ONE = Num(Fraction(-1))


def num(value: int | Fraction | str) -> Num:
    return Num(Fraction(value))


def is_num(e: Expr, value: int | Fraction | None = None) -> bool:
    return isinstance(e, Num) and (value is None or e.value == value)


def is_zero(e: Expr) -> bool:
    return isinstance(e, Zeros) or (isinstance(e, Num) and e.value == 0)


def zeros_like(e: Expr) -> Expr:
    return ZERO if e.is_scalar else Zeros(e.shape)


def depends_on(e: Expr, var: Expr, memo: dict[Expr, bool] | None = None) -> bool:
    """Does ``e`` contain ``var`` (a variable, or any node such as dX)?  Memoised."""
    memo = {} if memo is None else memo
    for n in e.postorder():
        if n not in memo:
            memo[n] = n == var or any(memo[c] for c in n.children)
    return memo[e]


def unknown_postorder(e: Expr, known: Callable[[Expr], bool]) -> list[tuple[Expr, tuple[Expr, ...]]]:
    """The nodes under ``e`` (``e`` included) that are not ``known``, each once with its
    children, children before parents; the walk stops at known nodes, so that filling a
    memo over a DAG takes linear time overall, and it is iterative, so a tree of any depth
    is walked."""
    out: list[tuple[Expr, tuple[Expr, ...]]] = []
    seen: set[int] = set()
    stack: list[tuple[Expr, tuple[Expr, ...] | None]] = [(e, None)]
    while stack:
        n, kids = stack.pop()
        if kids is not None:
            out.append((n, kids))
            continue
        if id(n) in seen or known(n):
            continue
        seen.add(id(n))
        kids = n.children
        stack.append((n, kids))
        stack.extend((k, None) for k in reversed(kids))
    return out


def map_bottom_up(e: Expr, fn: Callable[[Expr], Expr], memo: dict[Expr, Expr] | None = None) -> Expr:
    """Rebuild ``e`` with ``fn`` applied to every node after its children (memoised)."""
    memo = {} if memo is None else memo
    for n in e.postorder():
        if n in memo:
            continue
        kids = n.children
        new_kids = [memo[c] for c in kids]
        rebuilt = n if all(a is b for a, b in zip(new_kids, kids, strict=True)) else n.rebuild(new_kids)
        memo[n] = fn(rebuilt)
    return memo[e]


__all__ = [
    "unknown_postorder",
    "Expr", "Var", "Num", "Identity", "Ones", "Zeros", "Commutation", "Add", "MatMul",
    "Hadamard", "Kron", "Transpose", "Power", "MatPow", "Call", "Unvec", "Apply", "Grad",
    "Deriv", "Hess", "Jac", "Diff", "ZERO", "ONE", "MINUS_ONE", "num", "is_num", "is_zero",
    "zeros_like", "depends_on", "map_bottom_up",
]
