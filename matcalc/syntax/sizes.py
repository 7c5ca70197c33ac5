"""Sizes after the tree is built: sizes used as numbers tied to sizes of the expression
(``/ m`` is the rows of X), every unknown size given a textbook name (m, n, p, … not
used otherwise), and the tree rebuilt with every size known."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ..declare import NAME_PATTERN
from ..errors import ParseError
from ..nodes import Apply, Expr, Identity, Jac, Ones, Size, Var, Zeros, map_bottom_up
from ..shapes import DimVar, Inference
from .names import Scope

FRESH_NAMES = ("m", "n", "p", "q", "r", "s", "t", "k", "l", "u", "v", "w")


class FreshSizeNames:
    """Fresh names for the sizes one reading leaves unknown: m, n, p, … in the order a
    reader meets them, skipping names the text uses otherwise.  Names read as numbers
    (``/ m``) stay in the pool until they are tied to a size (:func:`tie_sizes`)."""

    def __init__(self, used: set[str]):
        self.used = used
        self._source = fresh_names()
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


def fresh_names() -> Iterator[str]:
    """m, n, p, …, then m1, n1, p1, …, m2, …: names for sizes, without end."""
    yield from FRESH_NAMES
    i = 1
    while True:
        for n in FRESH_NAMES:
            yield f"{n}{i}"
        i += 1


def names_in(text: str) -> set[str]:
    """Every name written in ``text`` (fresh size names skip them)."""
    return set(re.findall(NAME_PATTERN, text))


def tie_sizes(raw: Expr, u: Inference, pool: FreshSizeNames, scope: Scope) -> None:
    """Each undeclared size name read as a number becomes a size of the expression: the
    size that would be given that name when the matrices' sizes are named first (X is
    m×n by default, so m in ``/ m`` is the rows of X, wherever X stands); else the one size
    left when there is one (``(1/n) 𝟏ᵀ x``: x has n entries).  Otherwise the reading is not
    clear, and the error says what to declare."""
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
        for d in leaf_dims(n):
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


def ground(e: Expr, u: Inference, fresh: FreshSizeNames) -> Expr:
    """``e`` rebuilt with every dimension known: the unknown ones get ``fresh`` names, in
    the order a reader meets them."""
    names: dict[DimVar, str] = {}

    def dim(d: Any) -> Any:
        d = u.resolve(d)
        if isinstance(d, DimVar):
            if d not in names:
                names[d] = fresh()
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
        for d in leaf_dims(n):
            dim(d)
    return map_bottom_up(e, leaf)


def leaf_dims(n: Expr) -> tuple[Any, ...]:
    """The sizes a leaf (or a vector function's value) carries."""
    if isinstance(n, (Var, Ones, Zeros)):
        return n.dims
    if isinstance(n, Identity):
        return (n.n,)
    if isinstance(n, (Apply, Jac)) and n.out is not None:
        return (n.out,)
    return ()

