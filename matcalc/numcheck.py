"""The numerical check at real sizes: ``matcalc numcheck EXPR WRT … --size n=500``.

SymPy's elementwise check needs small sizes; this one scales.  It generates the NumPy
module (:func:`matcalc.code.codegen`), runs ``value_and_grad`` at random inputs of the
given sizes, and compares each gradient G with central finite differences of the
generated value along random directions D — (f(X + hD) − f(X − hD)) / 2h against ⟨G, D⟩ —
and, when JAX is installed, with ``jax.grad`` of the same function written for JAX (in
double precision).  Inputs under log, sqrt and logdet are positive (square ones
diagonally dominant); square matrices that are inverted or under det are made well
conditioned.
"""

from __future__ import annotations

import importlib.util
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .checking.numeric import numpy_functions, numpy_point
from .checking.sizes import instantiate_sizes, positive_variables
from .code import codegen, py_name
from .errors import MatcalcError
from .limits import MAX_ENTRIES
from .nodes import Call, Var
from .printing.text import to_text
from .schema import SCHEMA_VERSION
from .syntax import parse_tree

#: agreement with finite differences (relative to the directional derivative's scale)
FD_TOLERANCE = 1e-6
#: agreement with JAX's autodiff (both in double precision)
AUTODIFF_TOLERANCE = 1e-8
DIRECTIONS = 3


@dataclass
class Comparison:
    wrt: str
    shape: tuple[int, ...]
    finite_differences: float  # the largest relative error over the directions
    autodiff: float | None = None  # against jax.grad, None without JAX

    @property
    def ok(self) -> bool:
        return self.finite_differences <= FD_TOLERANCE and (self.autodiff is None or self.autodiff <= AUTODIFF_TOLERANCE)


@dataclass
class NumcheckReport:
    expression: str
    sizes: dict[str, int]
    seconds: float  # one call of the generated value_and_grad, median of three
    comparisons: list[Comparison] = field(default_factory=list)
    jax: str = ""  # the JAX version used, or why not

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.comparisons)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def text(self) -> str:
        at = ", ".join(f"{k}={v}" for k, v in self.sizes.items())
        lines = [f"{'✓' if self.ok else '✗'} the generated NumPy gradients of {self.expression} "
                 f"{'agree' if self.ok else 'DISAGREE'} at {at} (value_and_grad: {self.seconds * 1e3:.3g} ms)"]
        for c in self.comparisons:
            shape = "×".join(str(d) for d in c.shape) or "scalar"
            line = (f"  ∂f/∂{c.wrt} [{shape}]: finite differences along {DIRECTIONS} random directions, largest "
                    f"relative error {c.finite_differences:.1e} (≤ {FD_TOLERANCE:.0e})")
            if c.autodiff is not None:
                line += f"; jax.grad, largest relative difference {c.autodiff:.1e} (≤ {AUTODIFF_TOLERANCE:.0e})"
            lines.append(line)
        lines.append(f"  JAX: {self.jax}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"version": SCHEMA_VERSION, "kind": "numcheck", "expression": self.expression, "ok": self.ok,
                "sizes": self.sizes, "seconds": self.seconds, "jax": self.jax,
                "comparisons": [{"wrt": c.wrt, "shape": list(c.shape), "finite_differences": c.finite_differences,
                                 "autodiff": c.autodiff, "ok": c.ok} for c in self.comparisons]}


def numcheck(expr: Any, wrt: str | list[str], where: Any = None, sizes: dict[str, int] | None = None,
             seed: int = 0) -> NumcheckReport:
    """Run the generated NumPy code at random inputs (sizes given, others ten times the
    SymPy check's) and compare its gradients with finite differences and JAX."""
    e = parse_tree(expr, where) if isinstance(expr, str) else expr  # (a parsed expression: its tree and shapes)
    variables_by_name = {n.name: n for n in e.tree.walk() if isinstance(n, Var)}
    text = to_text(e.tree)
    wrts = [wrt] if isinstance(wrt, str) else list(wrt)
    known = instantiate_sizes(e.tree)
    unknown = sorted(set(sizes or {}) - set(known))
    if unknown:
        raise MatcalcError(f"--size {unknown[0]}: {text} has no size named {unknown[0]} (its sizes: "
                           f"{', '.join(known) or 'none'})")
    dims = {k: 10 * v for k, v in known.items()} | dict(sizes or {})
    variables = [variables_by_name[v] for v in e.shapes]
    total = sum(_entries(v, dims) for v in variables)
    if total > MAX_ENTRIES:
        raise MatcalcError(f"the inputs would have {total:,} entries, more than {MAX_ENTRIES:,}; choose smaller sizes")
    rng = np.random.default_rng(seed)
    values = _inputs(e, variables, dims, rng)
    functions = numpy_functions(dims, e.tree)
    ns: dict[str, Any] = {}
    exec(compile(codegen(e, wrts), "<matcalc codegen numpy>", "exec"), ns)  # noqa: S102 - our own generated code
    args = {py_name(k): v for k, v in values.items()} | functions
    times = []
    for _ in range(3):
        t = time.perf_counter()
        value, grads = ns["value_and_grad"](**args)
        times.append(time.perf_counter() - t)
    report = NumcheckReport(text, dims, sorted(times)[1])

    def f_at(name: str, x: np.ndarray) -> float:
        return ns["value_and_grad"](**(args | {py_name(name): x}))[0]

    jax_grads, report.jax = _jax_gradients(e, wrts, args)
    for w in wrts:
        x = np.asarray(values[w], dtype=float)
        g = np.asarray(grads[w], dtype=float).reshape(x.shape)
        worst = 0.0
        for _ in range(DIRECTIONS):
            d = rng.standard_normal(x.shape)
            if variables_by_name[w].symmetric:
                d = (d + d.T) / 2
            h = 1e-5 * (1 + float(np.max(np.abs(x))))
            fd = (f_at(w, x + h * d) - f_at(w, x - h * d)) / (2 * h)
            exact = float(np.sum(g * d))
            scale = max(abs(exact), abs(fd), float(np.linalg.norm(g) * np.linalg.norm(d)), 1e-12)
            worst = max(worst, abs(fd - exact) / scale)
        auto = None
        if jax_grads is not None:
            j = np.asarray(jax_grads[w], dtype=float).reshape(x.shape)
            if variables_by_name[w].symmetric and j.ndim == 2:  # matcalc's gradient is sym(G); jax.grad's is G
                j = (j + j.T) / 2
            auto = float(np.max(np.abs(j - g)) / max(float(np.max(np.abs(g))), 1e-300))
        report.comparisons.append(Comparison(w, tuple(np.shape(values[w])), worst, auto))
    return report


def _entries(v: Var, dims: dict[str, int]) -> int:
    from .shapes import size_of

    return size_of(v.shape[0], dims) * size_of(v.shape[1], dims)


def _inputs(e: Any, variables: list[Var], dims: dict[str, int], rng: np.random.Generator) -> dict[str, Any]:
    """Random inputs where f is defined: positive under log, sqrt, logdet; well conditioned
    where inverted; vectors 1-D, as a user passes them."""
    positive = positive_variables(e.tree)
    out = numpy_point(variables, dims, positive, rng, scale=1.0 / 3)
    # square matrices that a matrix function takes whole (inv, det, logdet, …): well conditioned
    inverted = {v.name for n in e.tree.walk()
                if isinstance(n, Call) and not (n.fn.elementwise or n.fn.linear) and n.args[0].shape[0] == n.args[0].shape[1]
                and not n.args[0].is_scalar for v in n.walk() if isinstance(v, Var)}
    for v in variables:
        a = out[v.name]
        if v.name in inverted and a.shape[0] == a.shape[1]:
            a = a + a.shape[0] ** 0.5 * np.eye(a.shape[0]) * (1 if v.name not in positive else 0)
        out[v.name] = a.reshape(-1) if a.shape[1] == 1 and a.shape[0] > 1 else a.reshape(()) if a.size == 1 else a
    return out


def _jax_gradients(e: Any, wrts: list[str], args: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """jax.grad of the JAX module's value, in double precision; or why not."""
    if importlib.util.find_spec("jax") is None:
        return None, "not installed (pip install jax): compared with finite differences only"
    import jax


    if any(callable(v) for v in args.values()):
        return None, f"{jax.__version__}, not used: abstract functions are NumPy stand-ins here"
    previous = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    try:
        ns: dict[str, Any] = {}
        exec(compile(codegen(e, wrts, target="jax"), "<matcalc codegen jax>", "exec"), ns)  # noqa: S102
        names = [py_name(w) for w in wrts]

        def value(*xs: Any) -> Any:
            return ns["value_and_grad"](**(args | dict(zip(names, xs, strict=True))))[0]

        grads = jax.grad(value, argnums=tuple(range(len(names))))(*(jax.numpy.asarray(args[n]) for n in names))
        return {w: np.asarray(g) for w, g in zip(wrts, grads, strict=True)}, f"{jax.__version__} (jax.grad, float64)"
    finally:
        jax.config.update("jax_enable_x64", previous)


__all__ = ["numcheck", "NumcheckReport", "Comparison"]
