"""NumPy evaluation of a tree, from named arrays.

Every value is a 2-D array of the node's shape (a column vector is n×1, a scalar 1×1);
:func:`evaluate` returns a float for a scalar expression.  Symbolic sizes are bound from
the arrays given (``n`` is 3 if ``x`` has 3 entries); sizes no array fixes (the length
of ``𝟏`` in ``b 1ᵀ``) are given with ``dims={"n": 5}``.

Abstract functions are Python callables: ``L`` (scalar function), ``grad_L`` for ∇L,
``f`` and ``f_prime`` for an elementwise f and f′, ``g`` and ``jac_g`` for a vector
function and its Jacobian.  The differential ``dX`` is the array ``dX``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .errors import EvaluationError
from .limits import MAX_ENTRIES, MAX_SIZE
from .nodes import Diff, Expr, Var
from .printing.text import to_text
from .shapes import Shape, size_of


class Evaluator:
    def __init__(self, values: Mapping[str, Any], dims: Mapping[str, int] | None = None):
        if not isinstance(values, Mapping) or not isinstance(dims or {}, Mapping):
            raise EvaluationError("values and dims are dicts: evaluate(values={'x': …}, dims={'n': 3})")
        for k, v in (dims or {}).items():
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 1 <= v <= MAX_SIZE:
                raise EvaluationError(f"the size {k} must be a whole number from 1 to {MAX_SIZE:,}, not {v!r}")
        self.values = dict(values)
        self.dims: dict[str, int] = {k: int(v) for k, v in (dims or {}).items()}
        self.source: dict[str, str] = {k: "dims=" for k in self.dims}
        self.memo: dict[Expr, np.ndarray] = {}

    # -- sizes ---------------------------------------------------------------------------
    def bind(self, e: Expr) -> None:
        for n in e.walk():
            if isinstance(n, Var):
                arr = self._array(n.name)
                self._bind_shape(n.shape, arr.shape, n.name)
            elif isinstance(n, Diff) and isinstance(n.arg, Var) and f"d{n.arg.name}" in self.values:
                self._bind_shape(n.shape, self._array(f"d{n.arg.name}").shape, f"d{n.arg.name}")

    def _array(self, name: str) -> np.ndarray:
        if name not in self.values:
            raise EvaluationError(f"no value given for {name}")
        v = self.values[name]
        if callable(v):
            raise EvaluationError(f"{name} is a variable, but a function was given for it")
        try:
            arr = np.asarray(v)
            if np.iscomplexobj(arr):
                raise EvaluationError(f"{name} is complex; matcalc evaluates real matrices")
            arr = arr.astype(float)
        except (TypeError, ValueError):
            raise EvaluationError(f"the value of {name} is not an array of numbers: {type(v).__name__}") from None
        if arr.ndim == 0:
            arr = arr.reshape(1, 1)
        elif arr.ndim == 1:
            arr = arr.reshape(-1, 1)
        elif arr.ndim > 2:
            raise EvaluationError(f"{name} has {arr.ndim} dimensions; matrices have two")
        return arr

    def _bind_shape(self, shape: Shape, actual: tuple[int, ...], who: str) -> None:
        for d, a in zip(shape, actual, strict=True):
            if isinstance(d, int):
                if d != a:
                    raise EvaluationError(f"{who} should have a size {d} where it has {a} (shape {actual})")
            elif isinstance(d, str):
                if d in self.dims and self.dims[d] != a:
                    raise EvaluationError(
                        f"{d} = {self.dims[d]} from {self.source[d]}, but {who} has shape {actual}"
                    )
                self.dims.setdefault(d, a)
                self.source.setdefault(d, who)

    def size(self, d: Any) -> int:
        try:
            return size_of(d, self.dims)
        except KeyError as exc:
            s = exc.args[0]
            raise EvaluationError(f"the size {s} is not fixed by any array: give it with dims={{'{s}': …}}") from None
        except ValueError:
            raise EvaluationError(f"unknown size {d}") from None

    def function(self, *keys: str) -> Callable[..., Any]:
        for k in keys:
            f = self.values.get(k)
            if f is not None:
                if not callable(f):
                    raise EvaluationError(f"{k} should be a function")
                return f
        raise EvaluationError(f"no function given for {keys[0]} (pass {keys[0]}=a Python callable)")

    # -- values ----------------------------------------------------------------------------
    def ev(self, e: Expr) -> np.ndarray:
        for n in e.postorder():
            if n in self.memo:
                continue
            want = (self.size(n.shape[0]), self.size(n.shape[1]))
            if want[0] * want[1] > MAX_ENTRIES:  # checked before anything is allocated
                raise EvaluationError(
                    f"{_describe(n)} would have {want[0]:,}×{want[1]:,} = {want[0] * want[1]:,} entries; "
                    f"evaluate builds arrays of at most {MAX_ENTRIES:,} entries", node=n,
                )
            out = np.asarray(getattr(self, f"_ev_{type(n).__name__}")(n), dtype=float)
            if out.size != want[0] * want[1]:
                raise EvaluationError(f"{type(n).__name__} gave shape {out.shape}, expected {want}")
            self.memo[n] = out.reshape(want)
        return self.memo[e]

    def _kids(self, e: Expr) -> list[np.ndarray]:
        return [self.memo[c] for c in e.children]

    def _ev_Var(self, e: Any) -> np.ndarray:
        return self._array(e.name)

    def _ev_Num(self, e: Any) -> np.ndarray:
        return np.array([[float(e.value)]])

    def _ev_Size(self, e: Any) -> np.ndarray:
        return np.array([[float(self.size(e.dim))]])

    def _ev_Identity(self, e: Any) -> np.ndarray:
        return np.eye(self.size(e.n))

    def _ev_Ones(self, e: Any) -> np.ndarray:
        return np.ones((self.size(e.dims[0]), self.size(e.dims[1])))

    def _ev_Zeros(self, e: Any) -> np.ndarray:
        return np.zeros((self.size(e.dims[0]), self.size(e.dims[1])))

    def _ev_Commutation(self, e: Any) -> np.ndarray:
        return commutation_matrix(self.size(e.m), self.size(e.n))

    def _ev_Add(self, e: Any) -> np.ndarray:
        return sum(self._kids(e)[1:], start=self._kids(e)[0])

    def _ev_MatMul(self, e: Any) -> np.ndarray:
        scale = 1.0
        chain: np.ndarray | None = None
        for f, v in zip(e.factors, self._kids(e), strict=True):
            if f.is_scalar:
                scale = scale * v[0, 0]
            else:
                chain = v if chain is None else chain @ v
        return np.array([[scale]]) if chain is None else scale * chain

    def _ev_Hadamard(self, e: Any) -> np.ndarray:
        out = self._kids(e)[0]
        for v in self._kids(e)[1:]:
            out = out * v
        return out

    def _ev_Kron(self, e: Any) -> np.ndarray:
        a, b = self._kids(e)
        return np.kron(a, b)

    def _ev_Transpose(self, e: Any) -> np.ndarray:
        return self._kids(e)[0].T

    def _ev_Power(self, e: Any) -> np.ndarray:
        base, p = self._kids(e)
        with np.errstate(all="ignore"):
            return np.power(base, p[0, 0])

    def _ev_MatPow(self, e: Any) -> np.ndarray:
        return np.linalg.matrix_power(self._kids(e)[0], e.k)

    def _ev_Call(self, e: Any) -> np.ndarray:
        with np.errstate(all="ignore"):
            return e.fn.numpy(np, *self._kids(e))

    def _ev_Unvec(self, e: Any) -> np.ndarray:
        return self._kids(e)[0].reshape(self.size(e.rows), self.size(e.cols), order="F")

    def _ev_Apply(self, e: Any) -> np.ndarray:
        return self.function(e.name)(*self._plain(e))

    def _ev_Grad(self, e: Any) -> np.ndarray:
        return self.function(f"grad_{e.name}", f"∇{e.name}")(*self._plain(e))

    def _ev_Deriv(self, e: Any) -> np.ndarray:
        if e.order == 2:
            return self.function(f"{e.name}_prime2", f"{e.name}″", f"{e.name}''")(*self._plain(e))
        return self.function(f"{e.name}_prime", f"{e.name}′", f"{e.name}'")(*self._plain(e))

    def _ev_Hess(self, e: Any) -> np.ndarray:
        return self.function(f"hess_{e.name}", f"∇²{e.name}")(*self._plain(e))

    def _ev_Jac(self, e: Any) -> np.ndarray:
        return self.function(f"jac_{e.name}", f"∂{e.name}")(*self._plain(e))

    def _ev_Diff(self, e: Any) -> np.ndarray:
        if isinstance(e.arg, Var):
            return self._array(f"d{e.arg.name}")
        raise EvaluationError("only differentials of variables (dX) can be evaluated")

    def _plain(self, e: Any) -> list[np.ndarray]:
        """Arguments for a user's callable: vectors as 1-D arrays, scalars as floats."""
        out: list[Any] = []
        for c, v in zip(e.children, self._kids(e), strict=True):
            out.append(float(v[0, 0]) if c.is_scalar else v.ravel() if c.shape[1] == 1 else v)
        return out


def _describe(n: Expr) -> str:
    """A node, for an error message: its text if it is short."""
    text = to_text(n)
    return f"'{text}'" if len(text) <= 60 else f"a {type(n).__name__.lower()} in the expression"


def commutation_matrix(m: int, n: int) -> np.ndarray:
    """K₍ₘ,ₙ₎ with K vec(X) = vec(Xᵀ) for X m×n (vec stacks columns)."""
    k = np.zeros((m * n, m * n))
    for i in range(m):
        for j in range(n):
            k[i * n + j, j * m + i] = 1.0
    return k


def evaluate(e: Expr, values: Mapping[str, Any], dims: Mapping[str, int] | None = None,
             sizes_from: Expr | None = None) -> Any:
    """The value of ``e``: a float for a scalar, otherwise a 2-D array of e's shape.
    ``sizes_from``: a tree whose variables, where they are given, fix sizes too (the
    expression a derivative came from: the k of 𝟏ₖ ⊗ Iₘ is the length of the x it was
    taken with respect to, whether or not x is in the result)."""
    ev = Evaluator(values, dims)
    if sizes_from is not None:
        for n in sizes_from.walk():
            if isinstance(n, Var) and n.name in ev.values and not callable(ev.values[n.name]):
                ev._bind_shape(n.shape, ev._array(n.name).shape, n.name)
    ev.bind(e)
    out = ev.ev(e)
    return float(out[0, 0]) if e.is_scalar else out
