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

What the code is: every value a 2-D array (a vector n×1), each shared subexpression
computed once (the trees are hash-consed DAGs), products of three or more matrices by
``multi_dot`` (ordered by cost for the actual sizes at run time), ``solve`` where an inverse
is only applied, ``diag(v) M`` as ``v * M`` (broadcast), no Kronecker product, commutation
matrix or ``diag(v)`` built except in the Hessian matrix itself, and stable forms:
σ and softplus from ``logaddexp``, ``log(1 + exp(z))`` as softplus, ``log(sum(exp(z)))``
as logsumexp, ‖x‖² as a sum of squares.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from typing import Any

from .errors import MatcalcError
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
)
from .printing.text import to_text
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
    imports = {"numpy": "import numpy as np", "jax": "import jax.numpy as jnp", "torch": "import torch"}[name]
    return Target(name, imports, fill["xp"], helpers)


#: imports a helper needs beyond the target's array module
_HELPER_IMPORTS = {("jax", "_sigmoid"): "import jax", ("jax", "_erf"): "import jax.scipy.special",
                   ("torch", "_softplus"): "import torch.nn.functional"}


# ----------------------------------------------------------------------------- names


def py_name(name: str) -> str:
    """A variable's name as a Python identifier: ``lambda`` → ``lambda_``, ``x'`` → ``x_``."""
    out = "".join(ch if (ch.isidentifier() or (ch.isdigit() and i)) else "_" for i, ch in enumerate(name))
    if not out.isidentifier() or keyword.iskeyword(out):
        out += "_"
    return out if out.isidentifier() else f"v_{out}"


# ----------------------------------------------------------------------------- the printer


class _Writer:
    """Turns a DAG into assignment lines: a node used more than once (or a result) gets a
    name and is computed once; everything else is written inline."""

    def __init__(self, target: Target, names: dict[str, str], sizes: dict[str, str], functions: set[str]):
        self.t = target
        self.xp = target.xp
        self.names = names  # variable name -> Python name
        self.sizes = sizes  # size symbol -> Python expression
        self.functions = functions  # abstract-function keyword arguments used
        self.lines: list[str] = []
        self.assigned: dict[Expr, str] = {}
        self.count = 0
        self.uses: dict[Expr, int] = {}

    def count_uses(self, roots: list[Expr]) -> None:
        """How often the code refers to each node: a dry run of the printer, in which a node
        printed once is not expanded again (so its children count once).  A node the code
        does not refer to (σ(z) inside log(σ(z)), written −softplus(−z)) gets no name."""
        self._dry: dict[Expr, str] | None = {}
        for r in roots:
            self.uses[r] = self.uses.get(r, 0) + 1  # a result is a use (grad_b is part of grad_W)
            self._code(r)
        self._dry = None

    def emit(self, e: Expr, name: str | None = None) -> str:
        """The code for ``e``; with ``name``, assigned to that name (returned)."""
        if e in self.assigned:  # a result equal to one computed already
            code = self.assigned[e]
        else:
            for n in e.postorder():
                if n in self.assigned or n is e:
                    continue
                if self.uses.get(n, 0) > 1 and not _leafy(n):
                    self._assign(n)
            code = self._code(e)
        if name is None:
            return code
        self.lines.append(f"{name} = {code}")
        self.assigned[e] = name
        return name

    def _assign(self, n: Expr) -> str:
        code = self._code(n)
        self.count += 1
        name = f"t{self.count}"
        self.lines.append(f"{name} = {code}    # {_short(to_text(n))}")
        self.assigned[n] = name
        return name

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

    # -- one node -------------------------------------------------------------------------------
    _dry: dict[Expr, str] | None = None

    def _code(self, e: Expr) -> str:
        if isinstance(e, _Named):
            return self.assigned[e.node]
        if e in self.assigned:
            return self.assigned[e]
        if self._dry is not None:  # counting references
            self.uses[e] = self.uses.get(e, 0) + 1
            if e in self._dry:
                return self._dry[e]
        method = getattr(self, f"_c_{type(e).__name__}", None)
        if method is None:
            raise MatcalcError(f"no code generation for {type(e).__name__} yet")
        code = method(e)
        if self._dry is not None:
            self._dry[e] = code
        return code

    def _arg(self, e: Expr) -> str:
        """Code for a child, parenthesised unless it is atomic."""
        code = self._code(e)
        return code if _atomic(code) else f"({code})"

    def _c_Var(self, e: Var) -> str:
        return self.names[e.name]

    def _c_Num(self, e: Num) -> str:
        v = e.value
        return repr(float(v)) if v.denominator != 1 or abs(v) > 2**53 else f"{int(v)}.0"

    def _c_Size(self, e: Size) -> str:
        return self.dim(e.dim)

    def _dtype(self) -> str:
        """PyTorch makes constants in its default precision: they take the variables' instead."""
        return f", dtype={next(iter(self.names.values()))}.dtype" if self.t.name == "torch" and self.names else ""

    def _c_Identity(self, e: Identity) -> str:
        return f"{self.xp}.eye({self.dim(e.n)}{self._dtype()})"

    def _c_Ones(self, e: Ones) -> str:
        return f"{self.xp}.ones(({self.dim(e.dims[0])}, {self.dim(e.dims[1])}){self._dtype()})"

    def _c_Zeros(self, e: Zeros) -> str:
        return f"{self.xp}.zeros(({self.dim(e.dims[0])}, {self.dim(e.dims[1])}){self._dtype()})"

    def _c_Commutation(self, e: Commutation) -> str:
        k = f"_commutation({self.dim(e.m)}, {self.dim(e.n)})"
        return f"{k}.to({next(iter(self.names.values()))}.dtype)" if self._dtype() else k

    def _c_Add(self, e: Add) -> str:
        out = self._code(e.terms[0])
        for t in e.terms[1:]:
            neg = _negated(t)
            if neg is not None:
                code = self._code(neg)
                out += f" - {code}" if _no_sum(code) else f" - ({code})"
            else:
                out += f" + {self._code(t)}"
        return out

    def _c_Hadamard(self, e: Hadamard) -> str:
        return " * ".join(self._arg(f) for f in e.factors)

    def _c_Kron(self, e: Kron) -> str:
        return f"_kron({self._code(e.left)}, {self._code(e.right)})"

    def _c_Transpose(self, e: Transpose) -> str:
        if e.arg.is_scalar:
            return self._code(e.arg)
        return f"{self._arg(e.arg)}.T"

    def _c_Power(self, e: Power) -> str:
        base = e.base
        if isinstance(base, Call) and base.fn.code_squared and _num(e.exponent) == 2:  # ‖a‖² = sum(a * a)
            a = self._arg(base.args[0])
            if not _atomic(self._code(base.args[0])) and self._dry is None:  # computed once, named
                a = self._assign(base.args[0])
            return self._template(base.fn.code_squared, [a])
        k = _num(e.exponent)
        if k == -1:
            return f"1.0 / {self._arg(base)}"
        return f"{self._arg(base)} ** {self._arg(e.exponent)}"

    def _c_MatPow(self, e: MatPow) -> str:
        return f"{self.xp}.linalg.matrix_power({self._code(e.base)}, {e.k})"

    def _c_Unvec(self, e: Unvec) -> str:
        return f"_unvec({self._code(e.arg)}, {self.dim(e.rows)}, {self.dim(e.cols)})"

    def _c_Call(self, e: Call) -> str:
        """The row's template, or its stabler form for this argument (log(1 + exp(z)) as a
        softplus, …: the row's ``code_stable``)."""
        fn = e.fn
        stable = fn.code_stable(e) if fn.code_stable is not None else None
        if stable is not None:
            template, args = stable
            return self._template(template, [self._arg(a) for a in args])
        assert fn.code is not None
        return self._template(fn.code, [self._code(a) for a in e.args])

    def _template(self, template: str, args: list[str]) -> str:
        return template.replace("xp.", f"{self.xp}.").format(*args)

    def _c_MatMul(self, e: MatMul) -> str:
        scalars = [f for f in e.factors if f.is_scalar]
        chain = [f for f in e.factors if not f.is_scalar]
        parts = [self._arg(s) for s in scalars]
        if chain:
            parts.append(self._chain(chain))
        coeff = [p for p in parts if p == "-1.0"]
        rest = [p for p in parts if p != "-1.0"]
        code = " * ".join(rest) if rest else "1.0"
        return f"-{code}" if coeff and len(coeff) % 2 else code

    def _chain(self, chain: list[Expr]) -> str:
        """A product of matrices: a part computed already by its name (yᵀ X w with
        t1 = X w: yᵀ t1), diag(v) M as v * M, inv(A) M as solve(A, M), the rest by ``@``
        (two factors) or multi_dot (three or more)."""
        if len(chain) > 1 and any(isinstance(n, MatMul) for n in self.assigned):
            for size in range(len(chain), 1, -1):  # the longest part first
                for i in range(len(chain) - size + 1):
                    if any(isinstance(f, _Named) for f in chain[i:i + size]):
                        continue
                    part = MatMul(tuple(chain[i:i + size]))
                    if part in self.assigned:
                        if size == len(chain):
                            return self.assigned[part]
                        return self._chain([*chain[:i], _Named(part), *chain[i + size:]])
        # a row applied to what follows (inv(A) M = solve(A, M), diag(v) M = v * M) or to what
        # precedes (M diag(v) = M * vᵀ): the rows' code_apply, code_apply_right
        for i, f in enumerate(chain):
            if not isinstance(f, Call) or f.is_scalar:
                continue
            if f.fn.code_apply and i + 1 < len(chain):
                applied = self._template(f.fn.code_apply, [self._arg(f.args[0]),
                                                           self._paren(self._chain(chain[i + 1:]))])
                return applied if i == 0 else self._join([self._paren(self._chain(chain[:i])), f"({applied})"])
            if f.fn.code_apply_right and i == len(chain) - 1 and i > 0:
                return self._template(f.fn.code_apply_right, [self._arg(f.args[0]), self._paren(self._chain(chain[:i]))])
        if self.t.name == "jax" and len(chain) == 2 and isinstance(chain[0], Transpose) and chain[1].shape[1] == 1:
            # Aᵀ r as (rᵀ A)ᵀ: XLA on the CPU is 5× slower with the transposed matrix on the left
            return f"({self._arg(chain[1])}.T @ {self._arg(chain[0].arg)}).T"
        return self._join([self._arg(f) for f in chain])

    def _join(self, codes: list[str]) -> str:
        if len(codes) == 1:
            return codes[0]
        if len(codes) == 2:
            return f"{codes[0]} @ {codes[1]}"
        return f"_multi_dot({', '.join(codes)})"

    @staticmethod
    def _paren(code: str) -> str:
        return code if _atomic(code) else f"({code})"

    # -- abstract functions: the user's callables -----------------------------------------------
    def _callable(self, key: str, e: Any, vector_out: bool) -> str:
        self.functions.add(key)
        codes = [self._code(a) for a in e.args]
        call = f"{key}({', '.join(f'_flat({c})' for c in codes)})"
        like = f", {codes[0]}" if self.t.name == "torch" else ""
        return f"_col({call}{like})"

    def _c_Apply(self, e: Apply) -> str:
        return self._callable(py_name(e.name), e, e.out is not None)

    def _c_Grad(self, e: Grad) -> str:
        return self._callable(f"grad_{py_name(e.name)}", e, True)

    def _c_Deriv(self, e: Deriv) -> str:
        return self._callable(f"{py_name(e.name)}_prime{'2' if e.order == 2 else ''}", e, True)

    def _c_Hess(self, e: Hess) -> str:
        return self._callable(f"hess_{py_name(e.name)}", e, True)

    def _c_Jac(self, e: Jac) -> str:
        return self._callable(f"jac_{py_name(e.name)}", e, True)


class _Named:
    """A part of a chain that has a name already (not a node: printed as the name)."""

    def __init__(self, node: Expr):
        self.node = node
        self.shape = node.shape
        self.is_scalar = node.is_scalar


def _leafy(n: Expr) -> bool:
    return isinstance(n, (Var, Num, Size)) or (isinstance(n, Transpose) and isinstance(n.arg, Var))


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
    from .api import Expression, diff, parse

    t = _target(target)
    e = expr if isinstance(expr, Expression) else parse(expr, where)
    if not e.is_scalar:
        raise MatcalcError(f"code generation is for a scalar expression (a loss); {e} is {shape_str(e.shape)}")
    wrts = [wrt] if isinstance(wrt, str) else list(wrt)
    if not wrts:
        raise MatcalcError("give at least one variable to differentiate with respect to")
    if len(set(wrts)) != len(wrts):
        raise MatcalcError(f"a variable is given twice: {', '.join(wrts)}")
    derivs = [diff(e, w) for w in wrts]
    h = None
    if hessian:
        if len(wrts) != 1:
            raise MatcalcError("--hessian generates the Hessian with respect to one variable; give one WRT")
        from .api import hessian as make_hessian

        h = make_hessian(e, wrts[0])

    variables = list(e.shapes)  # names in the order matcalc lists them
    names = {v: py_name(v) for v in variables}
    if len(set(names.values())) != len(names):
        raise MatcalcError("two variables map to the same Python name: " + ", ".join(f"{k} → {v}" for k, v in names.items()))
    # the sizes, from the variables' shapes
    sizes: dict[str, str] = {}
    for v in variables:
        shape = e.variable(v).shape
        for axis, d in enumerate(shape):
            if isinstance(d, str) and d not in sizes:
                sizes[d] = f"{names[v]}.shape[{axis}]"
    functions: set[str] = set()

    def function_body(roots: list[tuple[str, Expr]], w: _Writer) -> list[str]:
        w.count_uses([r for _, r in roots])
        for name, r in roots:
            w.emit(r, name)
        return w.lines

    sections: list[str] = []

    # value_and_grad
    w = _Writer(t, names, {k: v for k, v in sizes.items()}, functions)
    roots = [("value", e.tree)] + [(f"grad_{py_name(d.wrt.name)}", d.gradient.tree) for d in derivs]  # type: ignore[union-attr]
    lines = function_body(roots, w)
    value_out = {"numpy": "float(np.reshape(value, ()))", "jax": "jnp.reshape(value, ())",
                 "torch": "torch.as_tensor(value).reshape(())"}[t.name]
    grads = ", ".join(f"{d.wrt.name!r}: grad_{py_name(d.wrt.name)}.reshape(shape_{names[d.wrt.name]})"
                      for d in derivs)
    kept = [d.wrt.name for d in derivs]
    sections.append(_function("value_and_grad", [], names, variables, functions, lines,
                              f"return {value_out}, {{{grads}}}",
                              "f and its gradients: (value, {name: gradient shaped like the argument}).", kept, t))

    if h is not None:
        x = h.wrt
        w2 = _Writer(t, names, dict(sizes), functions)
        lines2 = function_body([("H", h.hessian.tree)], w2)
        sections.append(_function("hessian", [], names, variables, functions, lines2, "return H",
                                  f"H = ∂²f/∂vec {x.name} ∂(vec {x.name})ᵀ, the Hessian (vec stacks columns).", [], t))
        direction = py_name(h.direction)
        hv_names = {**names, h.direction: direction}
        w3 = _Writer(t, hv_names, dict(sizes), functions)
        lines3 = function_body([("HV", h.hvp.tree)], w3)
        lines3.insert(0, f"{direction} = _col(v)")
        sections.append(_function("hvp", ["v"], names, variables, functions, lines3,
                                  f"return HV.reshape(shape_{names[x.name]})",
                                  f"H[{h.direction}]: the Hessian applied to v (shaped like {x.name}), as dG with "
                                  f"d{x.name} = v; no Kronecker product is formed.", [x.name], t))

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
    doc = _docstring(e, derivs, h, names, variables, functions, target)
    extra = sorted({imp for (tn, h), imp in _HELPER_IMPORTS.items() if tn == t.name and h in order})
    out = [f'"""{doc}"""', "", "\n".join([t.imports, *extra]), "", ""]
    out += [helpers[k] + "\n\n" for k in order]
    out += [s + "\n\n" for s in sections]
    return "\n".join(out).rstrip() + "\n"


def _function(name: str, extra: list[str], names: dict[str, str], variables: list[str], functions: set[str],
              lines: list[str], ret: str, doc: str, kept: list[str], t: Target) -> str:
    """A function of the module: keyword arguments, each variable made 2-D, the shapes of
    the ``kept`` variables remembered (a result is shaped like its argument)."""
    params = extra + ["*"] + [names[v] for v in variables] + [f"{f}=None" for f in sorted(functions)] + ["**others"]
    head = f"def {name}({', '.join(params)}):"
    body = [f'"""{doc}"""', "_only_functions(others)"]
    shape = {"numpy": "np.shape({0})", "jax": "jnp.shape({0})", "torch": "tuple(torch.as_tensor({0}).shape)"}[t.name]
    body += [f"shape_{names[v]} = {shape.format(names[v])}" for v in kept]
    body += [f"{names[v]} = _col({names[v]})" for v in variables]
    body += [f"{f} = _need({f!r}, {f})" for f in sorted(functions) if re.search(rf"\b{f}\(", "\n".join(lines))]
    body += lines + [ret]
    return head + "\n" + "\n".join("    " + ln for ln in body)


def _docstring(e: Any, derivs: list[Any], h: Any, names: dict[str, str], variables: list[str],
               functions: set[str], target: str) -> str:
    from . import __version__

    lines = [f"f = {e.text()}, its gradients{' and Hessian' if h else ''}: generated by matcalc {__version__} "
             f"for {target}.", ""]
    def shape(v: Any) -> str:
        if v.is_scalar:
            return "scalar"
        return dim_str(v.shape[0]) if v.shape[1] == 1 else shape_str(v.shape) + (" symmetric" if v.symmetric else "")

    lines.append("Arguments (keyword, one per variable): " + ", ".join(
        f"{names[v]}: {shape(e.variable(v))}" for v in variables))
    renamed = [f"{v} → {names[v]}" for v in variables if names[v] != v]
    if renamed:
        lines.append("Names: " + ", ".join(renamed))
    if functions:
        lines.append("Functions (keyword, Python callables): " + ", ".join(sorted(functions)))
    lines.append("")
    for d in derivs:
        lines.append(f"∂f/∂{d.wrt.name} = {d.gradient}")
    if h is not None:
        lines.append(f"H = {h.hessian}")
        lines.append(f"H[{h.direction}] = {h.hvp}")
    lines += ["", "value_and_grad(**arrays) -> (value, {name: gradient shaped like the argument})"]
    if h is not None:
        lines += ["hessian(**arrays) -> H;  hvp(v, **arrays) -> H[v], shaped like the variable"]
    return "\n".join(lines).replace('"""', "'''").replace("\\", "\\\\")


__all__ = ["codegen", "py_name", "TARGETS"]
