"""Code generation: a self-contained Python module that computes f, its gradients and
(with ``hessian=True``) its Hessian, for NumPy, JAX or PyTorch.

The contract of the generated module (tools and tests rely on it):

- ``value_and_grad(**arrays)`` takes one keyword argument per variable of the expression,
  named as the variable (a name that is not a Python identifier, or is a keyword such as
  ``lambda``, gets a trailing underscore: ``lambda_``; the docstring lists the mapping), and
  returns ``(value, grads)``: value a float (a 0-d array for JAX and PyTorch), grads a dict
  from each WRT name to its gradient, shaped like the array passed (1-D in, 1-D out).
  Abstract functions are passed as callables under the names :func:`matcalc.evaluate`
  uses (``L=…, grad_L=…, hess_L=…, f=…, f_prime=…, f_prime2=…``).
- With ``hessian=True`` (one WRT): ``hessian(**arrays)``, the mn×mn Hessian
  ∂²f/∂vec X ∂(vec X)ᵀ, and ``hvp(v, **arrays)``, H[V] shaped like the variable.
- For JAX each of these checks its arguments and calls its body compiled by ``jax.jit``
  (abstract functions are static arguments); the precision is the user's choice
  (``jax_enable_x64``), as the module's docstring says.

What the code is: every value a 2-D array (a vector n×1), each shared subexpression
computed once (the trees are hash-consed DAGs; a part of a product computed elsewhere is
reused), a product evaluated from a vector at its end (A (B x)), products of three or more
matrices by ``multi_dot`` (ordered by cost for the actual sizes at run time), scalars on the
smallest array on the way (c (Aᵀ r), never (c Aᵀ) r), ``solve`` where an inverse is only
applied, ``diag(v) M`` as ``v * M`` (broadcast), 𝟏ᵀ M as a column sum, tr(P L) as
sum(P ⊙ Lᵀ), and stable forms: σ and softplus from ``logaddexp``, ``log(1 + exp(z))`` as
softplus, ``log(sum(exp(z)))`` as logsumexp, ‖x‖² as a sum of squares.  A matrix that is only
applied is never formed: in ``hvp`` to the direction, everywhere to a vector, a sum of
matrices is applied term by term ((A + Aᵀ) v = A v + Aᵀ v), diag(v) by broadcasting, A ⊗ B
and K by reshaping ((B ⊗ A) vec V = vec(A V Bᵀ)); Kronecker products, K and diag(v) are
built only in the Hessian matrix itself.

The writer is iterative (children first, memoised by node, like the printers), so a network
of any depth generates code; a line nested deeper than :data:`MAX_NESTING` is split by a
name, as are sums and chains longer than :data:`MAX_TERMS` and :data:`MAX_CHAIN`.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from typing import Any

from .errors import MatcalcError
from .functions import VEC
from .nodes import (
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
from .printing.text import TextPrinter
from .shapes import DimProd, dim_str, shape_str

TARGETS = ("numpy", "jax", "torch")


@dataclass(frozen=True)
class Target:
    """What differs between the array libraries: the import, the name ``xp`` stands for,
    and the helpers' bodies."""

    name: str
    imports: str
    xp: str
    helpers: dict[str, str]


_COMMON = {
    "_col": '''def _col(a):
    """A 2-D array: a scalar 1×1, a vector a column."""
    a = {asarray}
    if a.ndim == 0:
        return a.reshape(1, 1)
    return a.reshape(-1, 1) if a.ndim == 1 else a''',
    "_only_functions": '''def _only_functions(others):
    """Other keyword arguments may only be functions (the other functions of a model)."""
    arrays = sorted(k for k, v in others.items() if not callable(v))
    if arrays:
        raise TypeError(f"unexpected argument(s) {{', '.join(arrays)}}: not a variable of f")''',
    "_flat": '''def _flat(a):
    """For a user's function: a scalar as 0-d, a column vector 1-D, a matrix as it is."""
    if a.shape == (1, 1):
        return a.reshape(())
    return a.reshape(-1) if a.shape[1] == 1 else a''',
    "_vec": '''def _vec(a):
    """vec(A): the columns stacked."""
    return a.T.reshape(-1, 1)''',
    "_unvec": '''def _unvec(a, rows, cols):
    """vec⁻¹: an (rows·cols)-vector into a rows×cols matrix, column by column."""
    return a.reshape(cols, rows).T''',
    "_diag": '''def _diag(v):
    """diag(v): the diagonal matrix of a vector (only where it is not applied as v * M)."""
    return {xp}.diag(v.reshape(-1))''',
    "_diagv": '''def _diagv(a):
    """The diagonal of a square matrix, as a column."""
    return {xp}.diagonal(a).reshape(-1, 1)''',
    "_norm": '''def _norm(a):
    return {xp}.sqrt({xp}.sum(a * a))''',
    "_tanh_prime": '''def _tanh_prime(x):
    return 1.0 - {xp}.tanh(x) ** 2''',
    "_relu": '''def _relu(x):
    return x * (x > 0)''',
    "_relu_prime": '''def _relu_prime(x):
    return {step}''',
    "_sigmoid_prime": '''def _sigmoid_prime(x):
    s = _sigmoid(x)
    return s * (1.0 - s)''',
    "_erf_prime": '''def _erf_prime(x):
    return 2.0 / {xp}.sqrt({xp}.asarray({pi})) * {xp}.exp(-x * x)''',
    "_softmax": '''def _softmax(z):
    """Column by column, shifted by the column's maximum."""
    e = {xp}.exp(z - {colmax})
    return e / {xp}.sum(e, {axis}=0, keepdims=True)''',
    "_log_softmax": '''def _log_softmax(z):
    """log(softmax(z)), column by column, without underflow: z − logsumexp(z)."""
    s = z - {colmax}
    return s - {xp}.log({xp}.sum({xp}.exp(s), {axis}=0, keepdims=True))''',
    "_need": '''def _need(name, fn):
    """An abstract function of f must be passed, as a Python callable."""
    if not callable(fn):
        raise TypeError(f"f needs the function {{name}}=… (a Python callable): see the module's docstring")
    return fn''',
    "_logsumexp": '''def _logsumexp(z):
    m = {xp}.max(z)
    return m + {xp}.log({xp}.sum({xp}.exp(z - m)))''',
    "_logdet": '''def _logdet(a):
    """log det A, for det A > 0."""
    return {xp}.linalg.slogdet(a)[1]''',
    "_adj": '''def _adj(a):
    """adj(A) = det(A) A⁻¹ (where A is invertible)."""
    return {xp}.linalg.det(a) * {xp}.linalg.inv(a)''',
    "_commutation": '''def _commutation(m, n):
    """K with K vec(X) = vec(Xᵀ) for X m×n: built only for the Hessian matrix itself."""
    rows = [i * n + j for j in range(n) for i in range(m)]
    return {xp}.eye(m * n)[{xp}.asarray(rows)]''',
    "_kron": '''def _kron(a, b):
    """A ⊗ B: built only for the Hessian matrix itself."""
    return {xp}.kron({contiguous})''',
    "_multi_dot": '''def _multi_dot(*factors):
    """A product of matrices, in the order of least work for these sizes."""
    return {xp}.linalg.multi_dot(list(factors))''',
}

_NUMPY = {
    "_sigmoid": '''def _sigmoid(x):
    """σ(x) = exp(−log(1 + exp(−x))), without overflow."""
    return np.exp(-np.logaddexp(0.0, -x))''',
    "_softplus": '''def _softplus(x):
    """log(1 + exp(x)), without overflow."""
    return np.logaddexp(0.0, x)''',
    "_erf": '''def _erf(x):
    import math

    return np.vectorize(math.erf, otypes=[float])(x)''',
}
_JAX = {
    "_sigmoid": '''def _sigmoid(x):
    return jax.nn.sigmoid(x)''',
    "_softplus": '''def _softplus(x):
    return jnp.logaddexp(0.0, x)''',
    "_erf": '''def _erf(x):
    return jax.scipy.special.erf(x)''',
}
_TORCH = {
    "_col": '''def _col(a, like=None):
    """A 2-D tensor (floating point: a tensor or array keeps its precision; a user's
    function's number takes the precision of its argument ``like``)."""
    if like is not None and not torch.is_tensor(a):
        a = torch.as_tensor(a, dtype=like.dtype)
    a = torch.as_tensor(a)
    if not a.is_floating_point():
        a = a.to(torch.get_default_dtype())
    if a.ndim == 0:
        return a.reshape(1, 1)
    return a.reshape(-1, 1) if a.ndim == 1 else a''',
    "_sigmoid": '''def _sigmoid(x):
    return torch.sigmoid(x)''',
    "_softplus": '''def _softplus(x):
    return torch.nn.functional.softplus(x)''',
    "_erf": '''def _erf(x):
    return torch.erf(x)''',
}

_FILL = {
    "numpy": {"xp": "np", "asarray": "np.asarray(a, dtype=float)", "pi": "np.pi", "axis": "axis",
              "step": "(x > 0).astype(x.dtype)", "contiguous": "a, b",
              "colmax": "np.max(z, axis=0, keepdims=True)"},
    "jax": {"xp": "jnp", "asarray": "jnp.asarray(a)", "pi": "jnp.pi", "axis": "axis", "step": "(x > 0).astype(x.dtype)", "contiguous": "a, b",
            "colmax": "jnp.max(z, axis=0, keepdims=True)"},
    "torch": {"xp": "torch", "asarray": "torch.as_tensor(a, dtype=torch.get_default_dtype())", "pi": "torch.pi",
              "step": "(x > 0).to(x.dtype)", "contiguous": "a.contiguous(), b.contiguous()",
              "axis": "dim", "colmax": "torch.amax(z, dim=0, keepdim=True)"},
}


def _target(name: str) -> Target:
    if name not in TARGETS:
        raise MatcalcError(f"--target must be one of {', '.join(TARGETS)}, not {name!r}")
    fill = _FILL[name]
    own = {"numpy": _NUMPY, "jax": _JAX, "torch": _TORCH}[name]
    helpers = {k: v.format(**fill) for k, v in _COMMON.items()}
    if name == "torch":
        for h in ("_softmax", "_log_softmax"):
            helpers[h] = helpers[h].replace("keepdims=True", "keepdim=True")
    helpers.update(own)
    imports = {"numpy": "import numpy as np", "jax": "import jax\nimport jax.numpy as jnp", "torch": "import torch"}[name]
    return Target(name, imports, fill["xp"], helpers)


#: imports a helper needs beyond the target's array module
_HELPER_IMPORTS = {("jax", "_erf"): "import jax.scipy.special",
                   ("torch", "_softplus"): "import torch.nn.functional"}


# ----------------------------------------------------------------------------- names


def py_name(name: str) -> str:
    """A variable's name as a Python identifier: ``lambda`` → ``lambda_``, ``x'`` → ``x_``."""
    out = "".join(ch if (ch.isidentifier() or (ch.isdigit() and i)) else "_" for i, ch in enumerate(name))
    if not out.isidentifier() or keyword.iskeyword(out):
        out += "_"
    return out if out.isidentifier() else f"v_{out}"


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


# ----------------------------------------------------------------------------- what is generated


@dataclass(frozen=True)
class _HessianParts:
    wrt: str
    direction: str  #: the name of V in H[V]
    matrix: Expr
    matrix_text: str
    hvp: Expr
    hvp_text: str


@dataclass(frozen=True)
class _Derivation:
    """What the generated module computes, as trees and texts: f, its variables (in
    matcalc's order), each gradient and, with ``hessian=True``, the Hessian H and H[V].  This
    is all the module writer reads of matcalc's results (:func:`_derive` makes it)."""

    text: str  #: f as matcalc prints it
    tree: Expr
    variables: tuple[Var, ...]
    gradients: tuple[tuple[str, Expr, str], ...]  #: (WRT name, gradient tree, its text)
    hessian: _HessianParts | None = None


def _derive(expr: Any, wrts: list[str], where: Any, hessian: bool) -> _Derivation:
    """matcalc's gradients (and Hessian) of ``expr``: the one place where code generation
    calls the rest of matcalc."""
    from .api import Expression, diff, parse
    from .hessian import hessian as make_hessian

    e = expr if isinstance(expr, Expression) else parse(expr, where)
    if not e.is_scalar:
        raise MatcalcError(f"code generation is for a scalar expression (a loss); {e} is {shape_str(e.shape)}")
    if not wrts:
        raise MatcalcError("give at least one variable to differentiate with respect to")
    if len(set(wrts)) != len(wrts):
        raise MatcalcError(f"a variable is given twice: {', '.join(wrts)}")
    if hessian and len(wrts) != 1:
        raise MatcalcError("--hessian generates the Hessian with respect to one variable; give one WRT")
    gradients = []
    for w in wrts:
        d = diff(e, w)
        gradients.append((d.wrt.name, d.gradient.tree, str(d.gradient)))  # type: ignore[union-attr]
    parts = None
    if hessian:
        h = make_hessian(e, wrts[0])
        parts = _HessianParts(h.wrt.name, h.direction, h.hessian.tree, str(h.hessian), h.hvp.tree, str(h.hvp))
    return _Derivation(e.text(), e.tree, tuple(e.variable(v) for v in e.shapes), tuple(gradients), parts)


# ----------------------------------------------------------------------------- the module


def codegen(expr: Any, wrt: str | list[str] | tuple[str, ...], where: Any = None, target: str = "numpy",
            hessian: bool = False) -> str:
    """The source of a Python module for ``target`` (numpy, jax or torch) that computes the
    scalar ``expr`` and its gradients with respect to ``wrt`` (a name or a list of names),
    and with ``hessian=True`` (one name) its Hessian and Hessian-vector product.  See the
    module docstring for the contract.

    >>> src = codegen("x' A x", "x")
    >>> namespace = {}
    >>> exec(src, namespace)
    >>> import numpy as np
    >>> value, grads = namespace["value_and_grad"](x=np.array([1.0, 2.0]), A=np.eye(2))
    >>> value, grads["x"].tolist()
    (5.0, [2.0, 4.0])
    """
    t = _target(target)
    d = _derive(expr, [wrt] if isinstance(wrt, str) else list(wrt), where, hessian)
    variables = [v.name for v in d.variables]  # names in the order matcalc lists them
    names = {v: py_name(v) for v in variables}
    if len(set(names.values())) != len(names):
        raise MatcalcError("two variables map to the same Python name: " + ", ".join(f"{k} → {v}" for k, v in names.items()))
    # the sizes, from the variables' shapes
    sizes: dict[str, str] = {}
    for v in d.variables:
        for axis, dim in enumerate(v.shape):
            if isinstance(dim, str) and dim not in sizes:
                sizes[dim] = f"{names[v.name]}.shape[{axis}]"
    functions: set[str] = set()
    sections: list[str] = []

    # value_and_grad
    w = _Writer(t, names, dict(sizes), functions)
    lines = w.write([("value", d.tree)] + [(f"grad_{py_name(g)}", tree) for g, tree, _ in d.gradients])
    value_out = {"numpy": "float(np.reshape(value, ()))", "jax": "jnp.reshape(value, ())",
                 "torch": "torch.as_tensor(value).reshape(())"}[t.name]
    grads = ", ".join(f"{g!r}: grad_{py_name(g)}.reshape(shape_{names[g]})" for g, _, _ in d.gradients)
    sections.append(_function("value_and_grad", [], names, variables, functions, lines,
                              f"return {value_out}, {{{grads}}}",
                              "f and its gradients: (value, {name: gradient shaped like the argument}).",
                              [g for g, _, _ in d.gradients], t))

    h = d.hessian
    if h is not None:
        x = h.wrt
        lines2 = _Writer(t, names, dict(sizes), functions).write([("H", h.matrix)])
        sections.append(_function("hessian", [], names, variables, functions, lines2, "return H",
                                  f"H = ∂²f/∂vec {x} ∂(vec {x})ᵀ, the Hessian (vec stacks columns).", [], t))
        direction = py_name(h.direction)
        w3 = _Writer(t, {**names, h.direction: direction}, dict(sizes), functions, direction=h.direction)
        lines3 = [f"{direction} = _col(v)", *w3.write([("HV", h.hvp)])]
        sections.append(_function("hvp", ["v"], names, variables, functions, lines3,
                                  f"return HV.reshape(shape_{names[x]})",
                                  f"H[{h.direction}]: the Hessian applied to v (shaped like {x}), as dG with "
                                  f"d{x} = v; matrices only applied to v are never formed.", [x], t))

    helpers = dict(t.helpers)
    # the helpers the functions call, and the helpers those call (from the final text)
    text = "\n".join(sections)
    order: list[str] = []
    changed = True
    while changed:
        changed = False
        for k in helpers:
            if k not in order and re.search(rf"\b{k}\(", text + "\n".join(helpers[h] for h in order)):
                order.append(k)
                changed = True
    order = [k for k in helpers if k in order]
    doc = _docstring(d, names, variables, functions, target)
    extra = sorted({imp for (tn, helper), imp in _HELPER_IMPORTS.items() if tn == t.name and helper in order})
    out = [f'"""{doc}"""', "", "\n".join([t.imports, *extra]), "", ""]
    out += [helpers[k] + "\n\n" for k in order]
    out += [s + "\n\n" for s in sections]
    return "\n".join(out).rstrip() + "\n"


def _function(name: str, extra: list[str], names: dict[str, str], variables: list[str], functions: set[str],
              lines: list[str], ret: str, doc: str, kept: list[str], t: Target) -> str:
    """A function of the module: keyword arguments, each variable made 2-D, the shapes of
    the ``kept`` variables remembered (a result is shaped like its argument).  For JAX the
    function checks its arguments and calls its body compiled by ``jax.jit``, with the
    functions of f as static arguments."""
    params = extra + ["*"] + [names[v] for v in variables] + [f"{f}=None" for f in sorted(functions)] + ["**others"]
    head = f"def {name}({', '.join(params)}):"
    used = [f for f in sorted(functions) if re.search(rf"\b{f}\(", "\n".join(lines))]
    shape = {"numpy": "np.shape({0})", "jax": "jnp.shape({0})", "torch": "tuple(torch.as_tensor({0}).shape)"}[t.name]
    setup = [f"shape_{names[v]} = {shape.format(names[v])}" for v in kept]
    setup += [f"{names[v]} = _col({names[v]})" for v in variables]
    if t.name != "jax":
        body = [f'"""{doc}"""', "_only_functions(others)", *setup, *[f"{f} = _need({f!r}, {f})" for f in used],
                *lines, ret]
        return head + "\n" + "\n".join("    " + ln for ln in body)
    arrays = extra + [names[v] for v in variables]
    call = ", ".join(arrays + [f"{f}=_need({f!r}, {f})" for f in used])
    public = [f'"""{doc} Compiled by jax.jit (see the module\'s docstring)."""', "_only_functions(others)",
              f"return _compiled_{name}({call})"]
    traced = [f'"""The body of {name}, traced and compiled by jax.jit."""', *setup, *lines, ret]
    statics = f", static_argnames={tuple(used)!r}" if used else ""
    return (head + "\n" + "\n".join("    " + ln for ln in public) + "\n\n\n"
            + f"def _{name}({', '.join(arrays + used)}):\n" + "\n".join("    " + ln for ln in traced) + "\n\n\n"
            + f"_compiled_{name} = jax.jit(_{name}{statics})")


def _docstring(d: _Derivation, names: dict[str, str], variables: list[str], functions: set[str], target: str) -> str:
    from . import __version__

    h = d.hessian
    lines = [f"f = {d.text}, its gradients{' and Hessian' if h else ''}: generated by matcalc {__version__} "
             f"for {target}.", ""]

    def shape(v: Var) -> str:
        if v.is_scalar:
            return "scalar"
        return dim_str(v.shape[0]) if v.shape[1] == 1 else shape_str(v.shape) + (" symmetric" if v.symmetric else "")

    lines.append("Arguments (keyword, one per variable): " + ", ".join(
        f"{names[v.name]}: {shape(v)}" for v in d.variables))
    renamed = [f"{v} → {names[v]}" for v in variables if names[v] != v]
    if renamed:
        lines.append("Names: " + ", ".join(renamed))
    if functions:
        lines.append("Functions (keyword, Python callables): " + ", ".join(sorted(functions)))
    lines.append("")
    for wrt, _, text in d.gradients:
        lines.append(f"∂f/∂{wrt} = {text}")
    if h is not None:
        lines.append(f"H = {h.matrix_text}")
        lines.append(f"H[{h.direction}] = {h.hvp_text}")
    lines += ["", "value_and_grad(**arrays) -> (value, {name: gradient shaped like the argument})"]
    if h is not None:
        lines += ["hessian(**arrays) -> H;  hvp(v, **arrays) -> H[v], shaped like the variable"]
    if target == "jax":
        lines += ["", "Each function is compiled by jax.jit on its first call, and again for arguments of new shapes "
                  "or dtypes.", "JAX computes in float32 unless 64-bit floats are enabled, which this module leaves "
                  "to you: jax.config.update(\"jax_enable_x64\", True) before the first call."]
        if functions:
            lines += ["The functions are static arguments of the compiled code: write them with jax.numpy, and pass "
                      "the same function objects from call to call (a new lambda compiles again)."]
    return "\n".join(lines).replace('"""', "'''").replace("\\", "\\\\")


__all__ = ["codegen", "py_name", "TARGETS"]
