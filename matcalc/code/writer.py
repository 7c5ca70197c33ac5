"""Lowering a derivation's trees to lines of Python for a :class:`~.targets.Target`.

The writer is iterative (children first, memoised by node, like the printers), so a network
of any depth generates code; a line nested deeper than :data:`MAX_NESTING` is split by a
name, as are sums and chains longer than :data:`MAX_TERMS` and :data:`MAX_CHAIN`.  Each
shared subexpression is computed once, products are evaluated from a vector at their end,
a matrix that is only applied is never formed (see :mod:`matcalc.code` for the whole list).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..errors import MatcalcError
from ..functions import VEC
from ..nodes import (
    Add,
    Apply,
    Call,
    Commutation,
    Deriv,
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
from ..printing.text import TextPrinter
from ..shapes import DimProd
from .targets import Target, py_name

# ----------------------------------------------------------------------------- pieces of code

#: how a piece is bracketed where it stands: as it is (an argument of a call), in
#: parentheses unless it is atomic (an operand), in parentheses if it is a sum (after a minus)
RAW, OPERAND, SUMMAND = 0, 1, 2
#: the deepest nesting of brackets in one line: a deeper piece is assigned to a name (Python's
#: parser refuses 200 levels, and nobody reads a line nested 24 deep)
MAX_NESTING = 24
#: the most terms written as one sum and factors as one multi_dot: a longer sum is a sum of
#: sums (a line of thousands of terms overflows Python's compiler), a longer chain a product
#: of multi_dots (multi_dot orders its factors in cubic time)
MAX_TERMS = 32
MAX_CHAIN = 8
#: operators applied inside operators applied (a sum whose terms are sums …): deeper ones are built
MAX_APPLIED = 16


class _Ref:
    """A piece inside another, with its bracketing (RAW, OPERAND or SUMMAND)."""

    __slots__ = ("code", "mode")

    def __init__(self, code: _Code, mode: int):
        self.code = code
        self.mode = mode


class _Code:
    """A piece of generated code before names are chosen: text and references to other
    pieces.  The writer interns pieces, so a piece used in two places is one object, counted
    twice, computed once and named; ``node`` is the expression it computes (for the comment
    on its line), ``leaf`` a piece never worth a name (a variable, a number)."""

    __slots__ = ("parts", "leaf", "node")

    def __init__(self, parts: tuple[str | _Ref, ...], leaf: bool):
        self.parts = parts
        self.leaf = leaf
        self.node: Expr | None = None

    @property
    def refs(self) -> list[_Ref]:
        return [p for p in self.parts if isinstance(p, _Ref)]


@dataclass
class _Item:
    """A factor of a matrix chain while the chain is written: its node (None for a piece the
    writer made: an operator applied, a part multiplied out), its code and shape, whether it
    holds the direction of an hvp, and, for a matrix that is applied rather than built, which
    kind: ``sum`` (of matrices), ``apply`` (a row's ``code_apply``: inv(A) M = solve(A, M),
    diag(v) M = v * M) or ``kron`` (A ⊗ B, K)."""

    expr: Expr | None
    code: _Code
    shape: tuple[Any, Any]
    direction: bool
    kind: str | None = None


class _Writer:
    """The code of one generated function.  :meth:`lower` turns the expression DAG into
    pieces of code, children first and memoised by node, without recursion over the tree;
    :func:`_lines` then writes the pieces as assignments.  In an hvp (``direction`` is the
    name of V), and wherever a chain ends in a vector, a matrix that is only applied (a sum
    of matrices, diag(v), A ⊗ B, K) is applied to the running product and never formed."""

    def __init__(self, target: Target, names: dict[str, str], sizes: dict[str, str], functions: set[str],
                 direction: str | None = None):
        self.t = target
        self.xp = target.xp
        self.names = names  # variable name -> Python name
        self.sizes = sizes  # size symbol -> Python expression
        self.functions = functions  # abstract-function keyword arguments used
        self.direction = direction
        self.memo: dict[Expr, _Code] = {}
        self.has_direction: dict[Expr, bool] = {}
        self._interned: dict[tuple[Any, ...], _Code] = {}
        self._products: dict[Expr, list[MatMul]] = {}  # first factor -> products of matrices, longest first
        self._applying = 0

    def write(self, roots: list[tuple[str, Expr]]) -> list[str]:
        """Assignment lines computing each root into its name."""
        self._index_products([r for _, r in roots])
        return _lines([(name, self.lower(r)) for name, r in roots])

    # -- pieces ---------------------------------------------------------------------------------
    def piece(self, *parts: str | _Ref, leaf: bool = False) -> _Code:
        merged: list[str | _Ref] = []
        for p in parts:
            if isinstance(p, str):
                if not p:
                    continue
                if merged and isinstance(merged[-1], str):
                    merged[-1] += p
                    continue
            merged.append(p)
        key = tuple(p if isinstance(p, str) else (id(p.code), p.mode) for p in merged)
        hit = self._interned.get(key)
        if hit is None:
            hit = self._interned[key] = _Code(tuple(merged), leaf)
        return hit

    def _fill(self, template: str, args: list[_Code]) -> _Code:
        """A row's template (``{0}``, ``{1}`` the arguments, ``xp.`` the array library); an
        argument standing alone between a call's brackets or commas is written as it is, any
        other in parentheses unless atomic."""
        pieces = re.split(r"\{(\d+)\}", template.replace("xp.", f"{self.xp}."))
        parts: list[str | _Ref] = []
        for i, p in enumerate(pieces):
            if i % 2 == 0:
                parts.append(p)
                continue
            before, after = pieces[i - 1], pieces[i + 1]
            alone = before.endswith(("(", ", ")) and after.startswith((")", ","))
            parts.append(_Ref(args[int(p)], RAW if alone else OPERAND))
        return self.piece(*parts)

    def _joined(self, refs: list[_Ref], sep: str) -> list[str | _Ref]:
        out: list[str | _Ref] = []
        for i, r in enumerate(refs):
            out += [sep, r] if i else [r]
        return out

    def dim(self, d: Any) -> str:
        if isinstance(d, int):
            return str(d)
        if isinstance(d, DimProd):
            parts = ([str(d.coeff)] if d.coeff != 1 else []) + [self.dim(s) for s in d.syms]
            return " * ".join(parts)
        if d not in self.sizes:
            raise MatcalcError(f"the size {d} is not the size of any variable, so the generated code could not "
                               "know it; declare it through a variable's shape")
        return self.sizes[d]

    # -- lowering -------------------------------------------------------------------------------
    def lower(self, e: Expr) -> _Code:
        """The piece computing ``e``.  The nodes below it that are not lowered yet are lowered
        children first, so that lowering a node only looks its children up: the recursion is
        never deeper than a few calls, however deep the tree."""
        hit = self.memo.get(e)
        if hit is not None:
            return hit
        for n, kids in unknown_postorder(e, lambda m: m in self.memo):
            self.has_direction[n] = ((isinstance(n, Var) and n.name == self.direction)
                                     or any(self.has_direction[k] for k in kids))
            method = getattr(self, f"_c_{type(n).__name__}", None)
            if method is None:
                raise MatcalcError(f"no code generation for {type(n).__name__} yet")
            code = method(n)
            if code.node is None:
                code.node = n
            self.memo[n] = code
        return self.memo[e]

    def _index_products(self, roots: list[Expr]) -> None:
        """The products of matrices in the trees, so that a chain reuses a part that is a node
        elsewhere (yᵀ X w with X w computed: yᵀ t1); lowered shortest first, so that a
        product's own parts are lowered before it."""
        products: list[MatMul] = []
        seen: set[int] = set()
        for r in roots:
            for n in r.walk():
                if id(n) in seen:
                    continue
                seen.add(id(n))
                if isinstance(n, MatMul) and len(n.factors) > 1 and not any(f.is_scalar for f in n.factors):
                    products.append(n)
        products.sort(key=lambda p: len(p.factors))
        for p in products:
            self._products.setdefault(p.factors[0], []).insert(0, p)
        for p in products:
            self.lower(p)

    def _item(self, e: Expr) -> _Item:
        code = self.lower(e)
        d = self.has_direction[e]
        kind = None
        if isinstance(e, Add) and 1 not in e.shape and not d:
            kind = "sum"
        elif isinstance(e, Call) and e.fn.code_apply:
            kind = "apply"
        elif isinstance(e, (Kron, Commutation)) and not d:
            kind = "kron"
        return _Item(e, code, e.shape, d, kind)

    def _items(self, chain: list[Expr]) -> list[_Item]:
        """The factors as items, a part that is a product computed elsewhere as one item."""
        items: list[_Item] = []
        i = 0
        while i < len(chain):
            part = next((p for p in self._products.get(chain[i], ())
                         if len(p.factors) < len(chain) and p.factors == tuple(chain[i:i + len(p.factors)])
                         and p in self.memo), None)
            if part is not None:
                items.append(self._item(part))
                i += len(part.factors)
            else:
                items.append(self._item(chain[i]))
                i += 1
        return items

    # -- one node -------------------------------------------------------------------------------
    def _c_Var(self, e: Var) -> _Code:
        return self.piece(self.names[e.name], leaf=True)

    def _c_Num(self, e: Num) -> _Code:
        v = e.value
        return self.piece(repr(float(v)) if v.denominator != 1 or abs(v) > 2**53 else f"{int(v)}.0", leaf=True)

    def _c_Size(self, e: Size) -> _Code:
        return self.piece(self.dim(e.dim), leaf=True)

    def _dtype(self) -> str:
        """PyTorch makes constants in its default precision: they take the variables' instead."""
        return f", dtype={next(iter(self.names.values()))}.dtype" if self.t.name == "torch" and self.names else ""

    def _c_Identity(self, e: Identity) -> _Code:
        return self.piece(f"{self.xp}.eye({self.dim(e.n)}{self._dtype()})")

    def _c_Ones(self, e: Ones) -> _Code:
        return self.piece(f"{self.xp}.ones(({self.dim(e.dims[0])}, {self.dim(e.dims[1])}){self._dtype()})")

    def _c_Zeros(self, e: Zeros) -> _Code:
        return self.piece(f"{self.xp}.zeros(({self.dim(e.dims[0])}, {self.dim(e.dims[1])}){self._dtype()})")

    def _c_Commutation(self, e: Commutation) -> _Code:
        k = f"_commutation({self.dim(e.m)}, {self.dim(e.n)})"
        return self.piece(f"{k}.to({next(iter(self.names.values()))}.dtype)" if self._dtype() else k)

    def _c_Add(self, e: Add) -> _Code:
        """a + b − c; 𝟏 beside a full-shaped term is the number 1 (broadcast, never built)."""
        arrays = any(not isinstance(t, (Ones, Zeros, Num)) for t in e.terms)
        signed: list[tuple[bool, _Code]] = []
        for i, t in enumerate(e.terms):
            neg = _negated(t) if i else None
            if neg is not None:
                signed.append((True, self.lower(neg)))
            elif isinstance(t, Ones) and arrays:
                signed.append((False, self.piece("1.0", leaf=True)))
            else:
                signed.append((False, self.lower(t)))
        return self._sum(signed)

    def _sum(self, signed: list[tuple[bool, _Code]]) -> _Code:
        if len(signed) > MAX_TERMS:
            signed = [(False, self._sum(signed[i:i + MAX_TERMS])) for i in range(0, len(signed), MAX_TERMS)]
        parts: list[str | _Ref] = []
        for i, (neg, c) in enumerate(signed):
            if i == 0:
                parts += ["-", _Ref(c, OPERAND)] if neg else [_Ref(c, RAW)]
            else:
                parts += [" - ", _Ref(c, SUMMAND)] if neg else [" + ", _Ref(c, RAW)]
        return self.piece(*parts)

    def _c_Hadamard(self, e: Hadamard) -> _Code:
        return self.piece(*self._joined([_Ref(self.lower(f), OPERAND) for f in e.factors], " * "))

    def _c_Kron(self, e: Kron) -> _Code:
        return self.piece("_kron(", _Ref(self.lower(e.left), RAW), ", ", _Ref(self.lower(e.right), RAW), ")")

    def _c_Transpose(self, e: Transpose) -> _Code:
        if e.arg.is_scalar:
            return self.lower(e.arg)
        return self.piece(_Ref(self.lower(e.arg), OPERAND), ".T", leaf=isinstance(e.arg, Var))

    def _c_Power(self, e: Power) -> _Code:
        base = e.base
        if isinstance(base, Call) and base.fn.code_squared and _num(e.exponent) == 2:  # ‖a‖² = sum(a * a)
            return self._fill(base.fn.code_squared, [self.lower(base.args[0])])
        if _num(e.exponent) == -1:
            return self.piece("1.0 / ", _Ref(self.lower(base), OPERAND))
        return self.piece(_Ref(self.lower(base), OPERAND), " ** ", _Ref(self.lower(e.exponent), OPERAND))

    def _c_MatPow(self, e: MatPow) -> _Code:
        return self.piece(f"{self.xp}.linalg.matrix_power(", _Ref(self.lower(e.base), RAW), f", {e.k})")

    def _c_Unvec(self, e: Unvec) -> _Code:
        return self.piece("_unvec(", _Ref(self.lower(e.arg), RAW), f", {self.dim(e.rows)}, {self.dim(e.cols)})")

    def _c_Call(self, e: Call) -> _Code:
        """The row's template, or its stabler form for this argument (log(1 + exp(z)) as a
        softplus, …: the row's ``code_stable``); the trace of a product without the product."""
        fn = e.fn
        a = e.args[0] if e.args else None
        if fn.cyclic and isinstance(a, MatMul) and not any(f.is_scalar for f in a.factors):
            # tr(P L) = sum(P ⊙ Lᵀ): the product is never formed for its diagonal alone
            rest = self._chain(self._items(list(a.factors[:-1])))
            last = self.lower(_transposed(a.factors[-1]))
            return self.piece(f"{self.xp}.sum(", _Ref(rest, OPERAND), " * ", _Ref(last, OPERAND), ")")
        stable = fn.code_stable(e) if fn.code_stable is not None else None
        if stable is not None:
            template, args = stable
            return self._fill(template, [self.lower(a) for a in args])
        assert fn.code is not None
        return self._fill(fn.code, [self.lower(a) for a in e.args])

    def _c_MatMul(self, e: MatMul) -> _Code:
        """Scalars times a chain of matrices; the scalars multiply the smallest array on the
        way (c Aᵀ r as c (Aᵀ r), never (c Aᵀ) r)."""
        scalars = [f for f in e.factors if f.is_scalar]
        negative = sum(1 for s in scalars if _num(s) == -1) % 2 == 1
        coeff = [_Ref(self.lower(s), OPERAND) for s in scalars if _num(s) != -1]
        chain = [f for f in e.factors if not f.is_scalar]
        scale = (negative, coeff) if negative or coeff else None
        if not chain:
            body = coeff[0].code if len(coeff) == 1 else (
                self.piece(*self._joined(coeff, " * ")) if coeff else self.piece("1.0", leaf=True))
            return self._scaled(body, (True, [])) if negative else body
        return self._chain(self._items(chain), scale)

    # -- chains ---------------------------------------------------------------------------------
    def _scaled(self, code: _Code, scale: tuple[bool, list[_Ref]] | None) -> _Code:
        if scale is None:
            return code
        negative, coeff = scale
        parts: list[str | _Ref] = ["-"] if negative else []
        if coeff:
            parts += [*self._joined(coeff, " * "), " * "]
        return self.piece(*parts, _Ref(code, OPERAND))

    def _chain(self, items: list[_Item], scale: tuple[bool, list[_Ref]] | None = None) -> _Code:
        """A product of matrices (times ``scale``): I dropped, 𝟏ᵀ M and M 𝟏 as column and row
        sums; evaluated outward from the direction of an hvp or a vector at an end when a
        matrix in it is only applied (:meth:`_applied`), else :meth:`_plain`."""
        if len(items) > 1:
            items = [it for it in items if not isinstance(it.expr, Identity)] or items[:1]
        if len(items) == 1:
            return self._scaled(items[0].code, scale)
        applied = any(it.kind for it in items)
        if _ones_row(items[0].expr) and not applied:
            return self._scaled(self._axis_sum(self._chain(items[1:]), 0), scale)
        if _ones_column(items[-1].expr) and not applied:
            return self._scaled(self._axis_sum(self._chain(items[:-1]), 1), scale)
        start = self._start(items)
        if start is not None and applied:
            return self._applied(items, start, scale)
        return self._plain(items, scale)

    def _axis_sum(self, code: _Code, axis: int) -> _Code:
        keep = "dim={0}, keepdim=True" if self.t.name == "torch" else "axis={0}, keepdims=True"
        return self.piece(f"{self.xp}.sum(", _Ref(code, RAW), ", " + keep.format(axis) + ")")

    def _start(self, items: list[_Item]) -> int | None:
        """Where a chain is evaluated from: the factor that holds the direction, else a vector
        at an end (None: the chain is a matrix product of matrices)."""
        if self.direction is not None:
            for i, it in enumerate(items):
                if it.direction and it.kind is None:
                    return i
        if items[-1].shape[1] == 1 and items[-1].kind is None:
            return len(items) - 1
        if items[0].shape[0] == 1 and items[0].kind is None:
            return 0
        return None

    def _applied(self, items: list[_Item], start: int, scale: tuple[bool, list[_Ref]] | None) -> _Code:
        """The chain evaluated outward from ``items[start]``: an operator next to the running
        product is applied to it (:meth:`_apply`), a run of other factors multiplied in; the
        side taken is the one that keeps the running product a vector (a matrix product
        first reaches for a vector, as V x in (diag(s) − s sᵀ) V x xᵀ); the scalars multiply
        the running product the last time it is a vector."""
        seg = items[start]
        a, b, n = start, start + 1, len(items)
        while a > 0 or b < n:
            col, row = seg.shape[1] == 1, seg.shape[0] == 1
            run: tuple[int, int] | None = None  # a run of plain factors to multiply in, [i, j)
            if col and a > 0:
                left = True
            elif row and b < n:
                left = False
            elif not col and not row:
                right_end = next((k for k in range(b, n) if items[k].kind or items[k].shape[1] == 1), None)
                left_end = next((k for k in range(a - 1, -1, -1) if items[k].kind or items[k].shape[0] == 1), None)
                if right_end is not None and items[right_end].kind is None:
                    left, run = False, (b, right_end + 1)
                elif left_end is not None and items[left_end].kind is None:
                    left, run = True, (left_end, a)
                else:
                    left = b == n
            else:
                left = b == n
            if run is None:
                if left and items[a - 1].kind:
                    run = (a - 1, a)
                elif left:
                    i = a - 1
                    while i > 0 and not items[i - 1].kind:
                        i -= 1
                    run = (i, a)
                elif items[b].kind:
                    run = (b, b + 1)
                else:
                    j = b + 1
                    while j < n and not items[j].kind:
                        j += 1
                    run = (b, j)
            i, j = run
            new_shape = (items[i].shape[0], seg.shape[1]) if left else (seg.shape[0], items[j - 1].shape[1])
            if scale is not None and 1 in seg.shape and 1 not in new_shape:  # the last time it is a vector
                seg = _Item(None, self._scaled(seg.code, scale), seg.shape, seg.direction)
                scale = None
            if j - i == 1 and items[i].kind:
                seg = self._apply(items[i], seg, left)
            else:
                seg = self._plain_item([*items[i:j], seg] if left else [seg, *items[i:j]])
            a, b = (i, b) if left else (a, j)
        return self._scaled(seg.code, scale)

    def _apply(self, op: _Item, seg: _Item, left: bool) -> _Item:
        """``op`` applied to the running product ``seg`` (from the left, or from the right):
        a sum term by term, a row's ``code_apply``, a Kronecker product or K by reshaping;
        built and multiplied where none of these applies."""
        shape = (op.shape[0], seg.shape[1]) if left else (seg.shape[0], op.shape[1])
        code = None
        if self._applying < MAX_APPLIED:
            self._applying += 1
            try:
                code = getattr(self, f"_apply_{op.kind}")(op.expr, seg, left)
            finally:
                self._applying -= 1
        if code is None:
            code = self._plain([op, seg] if left else [seg, op])
        return _Item(None, code, shape, seg.direction or op.direction)

    def _apply_sum(self, e: Add, seg: _Item, left: bool) -> _Code:
        """(A + B) S = A S + B S: each term applied to the running product S."""
        signed: list[tuple[bool, _Code]] = []
        for t in e.terms:
            neg = _negated(t)
            u = t if neg is None else neg
            factors = list(u.factors) if isinstance(u, MatMul) else [u]
            scalars = [f for f in factors if f.is_scalar]
            chain = self._items([f for f in factors if not f.is_scalar])
            items = [*chain, seg] if left else [seg, *chain]
            scale = (False, [_Ref(self.lower(s), OPERAND) for s in scalars]) if scalars else None
            signed.append((neg is not None, self._chain(items, scale)))
        return self._sum(signed)

    def _apply_apply(self, e: Call, seg: _Item, left: bool) -> _Code | None:
        """inv(A) S = solve(A, S), diag(v) S = v * S, S diag(v) = S * vᵀ (the rows' templates)."""
        template = e.fn.code_apply if left else e.fn.code_apply_right
        return None if template is None else self._fill(template, [self.lower(e.args[0]), seg.code])

    def _apply_kron(self, e: Kron | Commutation, seg: _Item, left: bool) -> _Code | None:
        """(B ⊗ A) r = vec(A R Bᵀ) with R = vec⁻¹(r), and sᵀ (B ⊗ A) = vec(Aᵀ S B)ᵀ
        (Magnus & Neudecker, ch. 2); K r = vec(Rᵀ), sᵀ K = vec(Sᵀ)ᵀ with the sizes swapped."""
        if (seg.shape[1] != 1) if left else (seg.shape[0] != 1):
            return None
        if left:
            r = seg
        elif isinstance(seg.expr, Transpose):
            r = self._item(seg.expr.arg)
        else:
            r = _Item(None, self.piece(_Ref(seg.code, OPERAND), ".T"), (seg.shape[1], 1), seg.direction)
        if isinstance(e, Commutation):
            m, n = (e.m, e.n) if left else (e.n, e.m)
            out = self.piece("_vec(", _Ref(self._unvec(r, m, n), OPERAND), ".T)")
        else:
            (p, q), (m, n) = e.left.shape, e.right.shape
            if left:  # B p×q, A m×n, r of length q n
                chain = [self._item(e.right), self._unvec_item(r, n, q), self._item(_transposed(e.left))]
            else:  # s of length p m
                chain = [self._item(_transposed(e.right)), self._unvec_item(r, m, p), self._item(e.left)]
            out = self.piece("_vec(", _Ref(self._chain(chain), RAW), ")")
        return out if left else self.piece(_Ref(out, OPERAND), ".T")

    def _unvec(self, r: _Item, rows: Any, cols: Any) -> _Code:
        if isinstance(r.expr, Call) and r.expr.fn is VEC and r.expr.args[0].shape == (rows, cols):
            return self.lower(r.expr.args[0])  # vec⁻¹(vec M) = M
        return self.piece("_unvec(", _Ref(r.code, RAW), f", {self.dim(rows)}, {self.dim(cols)})")

    def _unvec_item(self, r: _Item, rows: Any, cols: Any) -> _Item:
        return _Item(None, self._unvec(r, rows, cols), (rows, cols), r.direction)

    def _plain_item(self, items: list[_Item]) -> _Item:
        return _Item(None, self._plain(items), (items[0].shape[0], items[-1].shape[1]),
                     any(it.direction for it in items))

    def _plain(self, items: list[_Item], scale: tuple[bool, list[_Ref]] | None = None) -> _Code:
        """A product of matrices as written: inv(A) M as solve(A, M) and diag(v) M as v * M
        (each such factor applied to everything after it), the rest by :meth:`_join`; the
        scalars on a vector at an end of an outer product, else on the result."""
        out: list[_Item] = []  # the factors, right to left, with applied ones folded in
        for it in reversed(items):
            e = it.expr
            if out and isinstance(e, Call) and e.fn.code_apply:
                rest = out[::-1]
                code = self._fill(e.fn.code_apply, [self.lower(e.args[0]), self._join(rest)])
                out = [_Item(None, code, (it.shape[0], rest[-1].shape[1]), any(x.direction for x in items))]
            else:
                out.append(it)
        out.reverse()
        if scale is not None and len(out) > 1 and 1 not in (out[0].shape[0], out[-1].shape[1]):
            for k in (0, len(out) - 1):  # c u vᵀ as (c u) vᵀ
                if 1 in out[k].shape and out[k].kind is None:
                    out[k] = _Item(None, self._scaled(out[k].code, scale), out[k].shape, out[k].direction)
                    return self._join(out)
        return self._scaled(self._join(out), scale)

    def _join(self, items: list[_Item]) -> _Code:
        """Matrices multiplied: M diag(v) as M * vᵀ; to a vector at the right end from the right
        (A @ (B @ x)), from a row at the left end from the left, u vᵀ by broadcasting, two by
        ``@``, up to :data:`MAX_CHAIN` by multi_dot (ordered by cost at run time), more in
        groups."""
        if len(items) == 1:
            return items[0].code
        last = items[-1]
        if isinstance(last.expr, Call) and last.expr.fn.code_apply_right:
            return self._fill(last.expr.fn.code_apply_right, [self.lower(last.expr.args[0]), self._join(items[:-1])])
        if last.shape[1] == 1:
            acc = last.code
            for it in reversed(items[:-1]):
                acc = self._times(it, acc)
            return acc
        if items[0].shape[0] == 1:
            acc = items[0].code
            for k in range(1, len(items), MAX_CHAIN):  # a @ b @ …, a new line's worth of factors at a time
                group = [_Ref(it.code, OPERAND) for it in items[k:k + MAX_CHAIN]]
                acc = self.piece(_Ref(acc, OPERAND), " @ ", *self._joined(group, " @ "))
            return acc
        if len(items) == 2 and items[0].shape[1] == 1 and items[1].shape[0] == 1:
            # an outer product u vᵀ by broadcasting: twice as fast as a matrix product of rank one
            return self.piece(_Ref(items[0].code, OPERAND), " * ", _Ref(items[1].code, OPERAND))
        if len(items) == 2:
            return self.piece(_Ref(items[0].code, OPERAND), " @ ", _Ref(items[1].code, OPERAND))
        if len(items) > MAX_CHAIN:
            groups = [items[i:i + MAX_CHAIN] for i in range(0, len(items), MAX_CHAIN)]
            return self._join([g[0] if len(g) == 1 else self._plain_item(g) for g in groups])
        return self.piece("_multi_dot(", *self._joined([_Ref(it.code, RAW) for it in items], ", "), ")")

    def _times(self, it: _Item, right: _Code) -> _Code:
        """``it`` times a column ``right``; for JAX, Aᵀ r as (rᵀ A)ᵀ: XLA on the CPU is several
        times slower with the transposed matrix on the left of a matrix-vector product."""
        if self.t.name == "jax" and isinstance(it.expr, Transpose) and it.shape[0] != 1:
            return self.piece("(", _Ref(right, OPERAND), ".T @ ", _Ref(self.lower(it.expr.arg), OPERAND), ").T")
        return self.piece(_Ref(it.code, OPERAND), " @ ", _Ref(right, OPERAND))

    # -- abstract functions: the user's callables -----------------------------------------------
    def _callable(self, key: str, e: Any) -> _Code:
        self.functions.add(key)
        args = [self.lower(a) for a in e.args]
        parts: list[str | _Ref] = ["_col(", f"{key}("]
        for i, a in enumerate(args):
            parts += [", " if i else "", "_flat(", _Ref(a, RAW), ")"]
        parts.append(")")
        if self.t.name == "torch":
            parts += [", ", _Ref(args[0], RAW)]
        parts.append(")")
        return self.piece(*parts)

    def _c_Apply(self, e: Apply) -> _Code:
        return self._callable(py_name(e.name), e)

    def _c_Grad(self, e: Grad) -> _Code:
        return self._callable(f"grad_{py_name(e.name)}", e)

    def _c_Deriv(self, e: Deriv) -> _Code:
        return self._callable(f"{py_name(e.name)}_prime{'2' if e.order == 2 else ''}", e)

    def _c_Hess(self, e: Hess) -> _Code:
        return self._callable(f"hess_{py_name(e.name)}", e)

    def _c_Jac(self, e: Jac) -> _Code:
        return self._callable(f"jac_{py_name(e.name)}", e)


# ----------------------------------------------------------------------------- writing lines


def _lines(roots: list[tuple[str, _Code]]) -> list[str]:
    """Assignment lines computing each root into its name: a piece used more than once (and
    not a leaf), or nested deeper than :data:`MAX_NESTING`, is assigned to a name t1, t2, …
    before its first use; everything else is written inline.  Iterative throughout."""
    refs: dict[int, int] = {}
    seen: set[int] = set()
    stack: list[_Code] = []
    for _, c in roots:
        refs[id(c)] = refs.get(id(c), 0) + 1  # a result is a use (grad_b is part of grad_W)
        stack.append(c)
    while stack:
        c = stack.pop()
        if id(c) in seen:
            continue
        seen.add(id(c))
        for r in c.refs:
            refs[id(r.code)] = refs.get(id(r.code), 0) + 1
            stack.append(r.code)
    text: dict[int, tuple[str, int]] = {}  # id -> (its name or inline text, bracket nesting)
    lines: list[str] = []
    count = 0
    notes = TextPrinter(sizes=False)  # one printer for the comments: a DAG's texts in linear time
    for name, root in roots:
        written = False
        for c in _postorder(root, text):
            s, depth = _render(c, text)
            if c is root:
                lines.append(f"{name} = {s}")
                text[id(c)] = (s, depth) if c.leaf else (name, 0)
                written = True
            elif (refs[id(c)] > 1 and not c.leaf) or depth > MAX_NESTING:
                count += 1
                lines.append(f"t{count} = {s}" + (f"    # {_short(notes.doprint(c.node))}" if c.node is not None else ""))
                text[id(c)] = (f"t{count}", 0)
            else:
                text[id(c)] = (s, depth)
        if not written:  # a result equal to one computed already
            lines.append(f"{name} = {text[id(root)][0]}")
    return lines


def _postorder(root: _Code, known: dict[int, Any]) -> list[_Code]:
    """The pieces under ``root`` that are not ``known``, each once, children first (in the
    order they are written), without recursion."""
    out: list[_Code] = []
    seen: set[int] = set()
    stack: list[tuple[_Code, bool]] = [(root, False)]
    while stack:
        c, expanded = stack.pop()
        if expanded:
            out.append(c)
            continue
        if id(c) in seen or id(c) in known:
            continue
        seen.add(id(c))
        stack.append((c, True))
        stack.extend((r.code, False) for r in reversed(c.refs))
    return out


def _render(c: _Code, text: dict[int, tuple[str, int]]) -> tuple[str, int]:
    """A piece's text from its parts' (names or inline text) and its bracket nesting."""
    out: list[str] = []
    level = depth = 0
    for p in c.parts:
        if isinstance(p, str):
            out.append(p)
            for ch in p:
                if ch in "([{":
                    level += 1
                    depth = max(depth, level)
                elif ch in ")]}":
                    level -= 1
            continue
        s, d = text[id(p.code)]
        if (p.mode == OPERAND and not _atomic(s)) or (p.mode == SUMMAND and not _no_sum(s)):
            s, d = f"({s})", d + 1
        out.append(s)
        depth = max(depth, level + d)
    return "".join(out), depth


def _transposed(e: Expr) -> Expr:
    return e.arg if isinstance(e, Transpose) else Transpose(e)


def _ones_row(e: Expr | None) -> bool:
    """𝟏ᵀ (as a row of ones, or the transpose of a column)."""
    if isinstance(e, Transpose):
        e = e.arg if isinstance(e.arg, Ones) and e.arg.shape[1] == 1 else None
        return e is not None
    return isinstance(e, Ones) and e.shape[0] == 1


def _ones_column(e: Expr | None) -> bool:
    if isinstance(e, Transpose):
        return isinstance(e.arg, Ones) and e.arg.shape[0] == 1
    return isinstance(e, Ones) and e.shape[1] == 1


def _atomic(code: str) -> bool:
    depth = 0
    for ch in code:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0 and ch in " +-*/@":
            return False
    return not code.startswith("-")


def _no_sum(code: str) -> bool:
    """No + or − outside parentheses (a − b @ c needs none: @ binds tighter)."""
    depth = 0
    for i, ch in enumerate(code):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0 and ch in "+-" and i > 0 and code[i - 1] == " ":
            return False
    return not code.startswith("-")


def _num(e: Expr) -> Any:
    return e.value if isinstance(e, Num) else None


def _negated(t: Expr) -> Expr | None:
    """t = −u (a product with a −1 in front): its u, to write a − u."""
    if isinstance(t, MatMul) and isinstance(t.factors[0], Num) and t.factors[0].value < 0:
        k = -t.factors[0].value
        rest = t.factors[1:]
        if k != 1:
            rest = (Num(k), *rest)
        return rest[0] if len(rest) == 1 else MatMul(rest)
    if isinstance(t, Num) and t.value < 0:
        return Num(-t.value)
    return None


def _short(text: str, width: int = 70) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


