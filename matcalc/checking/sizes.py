"""The concrete sizes a check instantiates, and what it needs to know of the variables.

Every symbolic size gets a number **at least 3**, pairwise distinct (m=3, n=4, p=5, …):
distinct, so that a transposed or mis-shaped answer cannot pass by accident; at least 3,
so that an identity true only for 2×2 matrices cannot pass either (Cayley–Hamilton makes
adj(X) = tr(X) I − X at n=2).  Sizes declared as numbers stay as declared, and no symbolic
size takes one of their values (with X: 3×n, n = 3 would make X square).  The second
sizes (:func:`larger_sizes`) are every symbolic size larger by the same step.

Pure Python: the SymPy oracle, the NumPy finite differences, the diagnosis of a wrong
claim and the tests' numerical oracle all choose their sizes here.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

from ..limits import MAX_CHECK_ENTRIES
from ..nodes import Call, Commutation, Expr, Identity, Kron, MatPow, Num, Power, Var, Zeros
from ..shapes import DimProd, size_of

#: assignments of the sizes to the size symbols tried when the expression is undefined
MAX_ASSIGNMENTS = 6
#: entries compared, and entries of any intermediate matrix, in one check
MAX_CHECK_PAIRS = 100 * MAX_CHECK_ENTRIES


def _size_names(*trees: Expr) -> list[str]:
    """The symbolic sizes: first those of square matrices that a function takes whole
    (a non-linear function of a square matrix — inv, det, logdet, adj — or a power: their
    SymPy entries grow fastest with the size, so they get the smallest sizes), then the
    others, each group in alphabetical order."""
    names: set[str] = set()
    square: set[str] = set()
    for tree in trees:
        for n in tree.walk():
            for d in _dims(n):
                names.update(_symbols(d))
            if (isinstance(n, Call) and not (n.fn.elementwise or n.fn.linear)) or isinstance(n, MatPow):
                for a in n.children:
                    if a.shape[0] == a.shape[1]:
                        square.update(_symbols(a.shape[0]))
    return sorted(names & square) + sorted(names - square)


def _symbols(d: Any) -> list[str]:
    return [s for s in (d.syms if isinstance(d, DimProd) else (d,)) if isinstance(s, str)]


def _values(count: int, avoid: set[int] = frozenset()) -> tuple[int, ...]:
    """``count`` distinct sizes, 3 and up (no coincidence of 2×2 matrices can pass), none equal to a size declared as a number (with
    X: 3×n, n = 3 would make X square)."""
    return tuple(itertools.islice((v for v in itertools.count(3) if v not in avoid), count))


def declared_numbers(*trees: Expr) -> set[int]:
    """The sizes declared as numbers (other than 1) in ``trees``."""
    return {d for tree in trees for n in tree.walk() for d in _dims(n) if isinstance(d, int) and d > 1}


def larger_sizes(sizes: dict[str, int], avoid: set[int]) -> dict[str, int]:
    """Every size larger by the same step (keeping their order: m ≥ n stays), the smallest
    step that meets no size declared as a number.

    >>> larger_sizes({"m": 3, "n": 4}, {4})
    {'m': 5, 'n': 6}
    """
    step = next(k for k in itertools.count(1) if not {v + k for v in sizes.values()} & avoid)
    return {k: v + step for k, v in sizes.items()}


def instantiate_sizes(*trees: Expr) -> dict[str, int]:
    """Every symbolic size gets a different number, 3 and up: the sizes of inverted (and
    other wholly used) square matrices first, then in alphabetical order.

    >>> from matcalc import parse
    >>> instantiate_sizes(parse("tr(A X B)", "X: n×p").tree)
    {'m': 3, 'n': 4, 'p': 5}
    """
    names = _size_names(*trees)
    return dict(sorted(zip(names, _values(len(names), declared_numbers(*trees)), strict=True)))


def size_assignments(*trees: Expr) -> Iterator[dict[str, int]]:
    """The alphabetical assignment, then the reversed one (every pair of sizes in the
    other order), then other permutations of the same values: at most MAX_ASSIGNMENTS."""
    names = _size_names(*trees)
    values = _values(len(names), declared_numbers(*trees))
    seen: set[tuple[int, ...]] = set()
    candidates = itertools.chain([values, values[::-1]], itertools.permutations(values))
    for perm in candidates:
        if perm in seen:
            continue
        seen.add(perm)
        yield dict(sorted(zip(names, perm, strict=True)))
        if len(seen) >= MAX_ASSIGNMENTS:
            return


def _dims(n: Expr) -> tuple[Any, ...]:
    out: list[Any] = []
    for attr in ("dims", "n", "m", "out", "rows", "cols", "dim"):
        v = getattr(n, attr, None)
        if isinstance(v, tuple):
            out.extend(v)
        elif v is not None and not isinstance(v, Expr):
            out.append(v)
    return tuple(out)


def positive_variables(*trees: Expr) -> set[str]:
    """Variables that appear under a function defined for positive arguments only (its
    row's ``domain`` is "positive": log, sqrt, logdet, …), or in the base of a fractional or
    symbolic power (aᵇ, x.^a: its exponent may be any number)."""
    out: set[str] = set()
    for tree in trees:
        for n in tree.walk():
            if isinstance(n, Call) and n.fn.domain == "positive":
                out.update(v.name for v in n.walk() if isinstance(v, Var))
            elif isinstance(n, Power) and (not isinstance(n.exponent, Num) or n.exponent.value.denominator != 1):
                out.update(v.name for v in n.base.walk() if isinstance(v, Var))
    return out


def variables_of(*trees: Expr) -> dict[str, Var]:
    """The variables of the trees, by name, in the order they are met."""
    seen: dict[str, Var] = {}
    for tree in trees:
        for n in tree.walk():
            if isinstance(n, Var):
                seen.setdefault(n.name, n)
    return seen


def entries(shape: tuple[Any, Any], sizes: dict[str, int]) -> int:
    """How many entries a matrix of ``shape`` has at ``sizes``."""
    return size_of(shape[0], sizes) * size_of(shape[1], sizes)


def too_large(expr: Expr, wrt: Var, claimed: Expr, sizes: dict[str, int]) -> str | None:
    """Why the check cannot instantiate these sizes entry by entry, or None: a variable of
    more than MAX_CHECK_ENTRIES entries (a declared 100000×100000 matrix), or more than
    MAX_CHECK_PAIRS entries in an intermediate matrix or in the comparison."""
    for v in variables_of(expr, claimed, wrt).values():
        k = entries(v.shape, sizes)
        if k > MAX_CHECK_ENTRIES:
            r, c = size_of(v.shape[0], sizes), size_of(v.shape[1], sizes)
            return (f"the declared sizes are too large to check entry by entry ({v.name} is {r}×{c}: {k} entries, "
                    f"at most {MAX_CHECK_ENTRIES} per variable); check at symbolic sizes instead")
    # a constant permutation-like matrix (I, K and their Kronecker products) costs its rows
    biggest = max(size_of(n.shape[0], sizes) if sparse_constant(n) else entries(n.shape, sizes)
                  for tree in (expr, claimed) for n in tree.walk())
    pairs = entries(wrt.shape, sizes) * (1 if expr.is_scalar else entries(expr.shape, sizes))
    if max(biggest, pairs) > MAX_CHECK_PAIRS:
        return (f"the sizes are too large to check entry by entry (a matrix of {max(biggest, pairs)} "
                f"entries, at most {MAX_CHECK_PAIRS})")
    return None


def sparse_constant(n: Expr) -> bool:
    """I, K, 0 and Kronecker products of them: one non-zero per row at most."""
    if isinstance(n, (Identity, Commutation, Zeros)):
        return True
    return isinstance(n, Kron) and all(sparse_constant(k) for k in n.children)


__all__ = ["MAX_ASSIGNMENTS", "MAX_CHECK_PAIRS", "declared_numbers", "entries", "instantiate_sizes", "larger_sizes",
           "positive_variables", "size_assignments", "sparse_constant", "size_of", "too_large", "variables_of"]
