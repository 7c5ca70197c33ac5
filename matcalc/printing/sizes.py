"""Which constants must be printed with their size?

``I``, ``𝟏`` and ``𝟎`` are printed without a size wherever a reader — and the parser —
can infer it: in ``L(W X + b 𝟏ᵀ)`` the sum fixes the length of 𝟏.  Inside a Kronecker
product, ``vec(…)`` or ``tr(I)`` nothing does, and the printer writes ``Iₘ``.

This module decides which is which by running the parser's own shape inference on the
tree with every constant's size made unknown: a constant whose size is not recovered
(or is only fixed by being grounded inside a product of sizes, as in ⊗) is *unpinned*.
"""

from __future__ import annotations

from typing import Any

from ..errors import ShapeError
from ..nodes import Expr, Identity, Ones, Zeros
from ..shapes import Dim, DimVar, Inference, Mismatch, inferring


class _Probe(Inference):
    """Inference in which a product of sizes (⊗, vec) does not pin an unknown size: the
    size is marked hidden and given its true value, so that inference can go on."""

    def __init__(self) -> None:
        super().__init__(ground=lambda: "")
        self.truth: dict[DimVar, Dim] = {}
        self.hidden: set[DimVar] = set()

    def stand_in(self, true: Dim) -> Dim:
        if true == 1:
            return 1
        v = self.fresh()
        self.truth[v] = true
        return v

    def known(self, d: Dim) -> Dim:
        r = self.resolve(d)
        if isinstance(r, DimVar):
            self.hidden.add(r)
            self.parent[r] = self.truth[r]
            return self.truth[r]
        return r


def unpinned(e: Expr) -> set[Expr]:
    """The constants in ``e`` whose size the printed text would not determine."""
    probe = _Probe()
    stand_ins: list[tuple[Expr, tuple[DimVar, ...]]] = []
    # subtrees without constants are kept as they are; those with constants are rebuilt at
    # each occurrence, since each occurrence of a constant has a context of its own
    has_const: dict[Expr, bool] = {}
    for n in e.postorder():
        has_const[n] = isinstance(n, (Identity, Ones, Zeros)) or any(has_const[k] for k in n.children)

    def rebuild(root: Expr) -> Expr:
        """Each occurrence rebuilt, children left to right before their parent (as a
        recursive rebuild would, but with a stack of its own: any depth)."""
        done: list[Expr] = []  # the rebuilt children waiting for their parent
        stack: list[tuple[Expr, bool]] = [(root, False)]
        while stack:
            n, ready = stack.pop()
            if ready:
                k = len(n.children)
                kids, done[-k:] = done[-k:], []
                done.append(n.rebuild(kids))
            elif isinstance(n, Identity):
                v = probe.stand_in(n.n)
                stand_ins.append((n, _vars(v)))
                done.append(Identity(v))
            elif isinstance(n, (Ones, Zeros)):
                dims = (probe.stand_in(n.dims[0]), probe.stand_in(n.dims[1]))
                stand_ins.append((n, _vars(*dims)))
                done.append(type(n)(dims))
            elif not n.children or not has_const[n]:
                done.append(n)
            else:
                stack.append((n, True))
                stack.extend((k, False) for k in reversed(n.children))
        return done[0]

    try:
        with inferring(probe):
            rebuild(e)
    except (Mismatch, ShapeError):  # when in doubt, print every size
        return {n for n in e.walk() if isinstance(n, (Identity, Ones, Zeros))}
    out: set[Expr] = {n for n in e.walk() if _has_hidden_one(n)}
    for const, variables in stand_ins:
        for v in variables:
            if v in probe.hidden or isinstance(probe.resolve(v), DimVar):
                out.add(const)
    return out


def _has_hidden_one(n: Expr) -> bool:
    """A constant with a size 1 that its bare notation does not say: 𝟎 of n×1, I of 1×1,
    𝟏 of 1×1.  (𝟏 is a column and 𝟏ᵀ a row: that 1 is said.)  The parser decides at
    once between readings that depend on whether a size is 1 (diag of a vector or of a
    matrix, ⊙ or a product by a scalar), before anything could pin it: print the size."""
    if isinstance(n, (Zeros, Identity)):
        return 1 in n.shape
    if isinstance(n, Ones):
        return n.shape == (1, 1)
    return False


def _vars(*dims: Any) -> tuple[DimVar, ...]:
    return tuple(d for d in dims if isinstance(d, DimVar))
