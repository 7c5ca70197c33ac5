"""The array libraries code is generated for (NumPy, JAX, PyTorch): each a :class:`Target`
with its import, the name ``xp`` stands for, and the bodies of the helpers the generated
code calls (stable σ, softplus, logsumexp, …); and the Python names of variables."""

from __future__ import annotations

import keyword
from dataclasses import dataclass

from ..errors import MatcalcError

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


