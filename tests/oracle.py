"""The tests' numerical oracle: NumPy written in the tests, nothing computed by matcalc.

An :class:`Oracle` is what a test knows of an expression without reading its text: the
variables' shapes and domains, written out (``"x: n, A: n×n spd, L: function"``), and the
expression itself as a NumPy function of them (``lambda v: v.x.T @ v.A @ v.x``).  From it
this module makes, with NumPy alone:

- the sizes: every size symbol a different number, 3 and up, in the order the symbols are
  written (a transposed or mis-shaped answer cannot pass by accident, nor an identity that
  holds for 2×2 matrices only); sizes written as numbers stay, and no symbol takes one;
- a random :class:`Point`: 2-D arrays (a vector n×1, a scalar 1×1), symmetric where the
  spec says ``symmetric``, and in the domains ``spd`` (symmetric positive definite),
  ``positive`` (entries in [0.5, 2]), ``probability`` (positive, summing to 1) and
  ``invertible`` (well conditioned);
- stand-ins for abstract functions, with exact derivatives, under the names matcalc's
  evaluate looks up: a scalar function ``L`` with ``grad_L`` and ``hess_L`` (its Hessian
  is not diagonal), an elementwise ``f`` with ``f_prime`` and ``f_prime2``, a vector
  function ``g`` with ``jac_g``; each takes a vector as a 1-D or an n×1 array;
- fourth-order central differences of the oracle's function (:func:`jacobian`), and
  second differences (:func:`hessian`, :func:`second_difference`).

The comparisons (:func:`check_numerically`, :func:`assert_results_reparse`) evaluate
matcalc's answer — what is under test — with matcalc's evaluate at the oracle's point.
matcalc's reading must agree with the oracle's: its size symbols are bound from the
oracle's arrays one to one (:func:`matcalc_sizes`), its variables are symmetric where the
oracle's are, and its value of the expression is the oracle's.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import matcalc

#: the step of the first differences, relative to 1 + |x|
FD_STEP = 1e-3
#: the words of a spec that say where a variable's values lie
DOMAINS = ("symmetric", "spd", "positive", "probability", "invertible")


# ------------------------------------------------------------------------------ the spec


#: a size: a symbol, a number, or a product of symbols (the length of vec X)
Dim = str | int | tuple[str | int, ...]


@dataclass(frozen=True)
class Variable:
    name: str
    dims: tuple[Dim, Dim]
    words: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Function:
    name: str
    kind: str  # scalar, elementwise or vector
    out: str | int | None = None


def _dim(token: str) -> Dim:
    if "·" in token:
        return tuple(_dim(t) for t in token.split("·"))
    return int(token) if token.isdigit() else token


def parse_spec(spec: str) -> tuple[list[Variable], list[Function], list[str]]:
    """``"x: n, A: n×n spd, S: n×n symmetric, c: scalar, a: m·n, L: function,
    f: elementwise, g: function m, q: size"``: the variables (one size is a column vector,
    m·n a product of sizes, followed by domain words), the abstract functions (scalar,
    elementwise, or vector with its length) and the sizes no variable has.

    >>> parse_spec("x: n, A: m×n invertible, L: function")[0][1]
    Variable(name='A', dims=('m', 'n'), words=frozenset({'invertible'}))
    """
    variables, functions, free = [], [], []
    for item in filter(None, (s.strip() for s in spec.split(","))):
        name, _, kind = (s.strip() for s in item.partition(":"))
        words = kind.replace(" x ", "×").split()
        if not name or not words:
            raise ValueError(f"oracle spec: '{item}' is not 'name: shape'")
        head, rest = words[0], frozenset(words[1:])
        if head in ("function", "vector"):  # L: function, g: function m, g: vector function m
            out = [w for w in words if w not in ("vector", "function")]
            functions.append(Function(name, "vector", _dim(out[0])) if out else Function(name, "scalar"))
        elif head == "elementwise":
            functions.append(Function(name, "elementwise"))
        elif head == "size":
            free.append(name)
        else:
            parts = ["1", "1"] if head == "scalar" else head.split("×")
            if len(parts) > 2 or not rest <= set(DOMAINS):
                raise ValueError(f"oracle spec: cannot read '{item}'")
            variables.append(Variable(name, (_dim(parts[0]), _dim(parts[1]) if len(parts) == 2 else 1), rest))
    return variables, functions, free


def spec_sizes(variables: list[Variable], functions: list[Function], free: list[str]) -> dict[str, int]:
    """Each size symbol a different number, 3 and up, in the order written; none is a size
    written as a number."""
    written = [s for v in variables for d in v.dims for s in (d if isinstance(d, tuple) else (d,))]
    written += [f.out for f in functions if f.out is not None] + free
    taken = {d for d in written if isinstance(d, int)}
    sizes: dict[str, int] = {}
    number = 3
    for d in written:
        if isinstance(d, str) and d not in sizes:
            while number in taken:
                number += 1
            sizes[d] = number
            number += 1
    return sizes


# ------------------------------------------------------------------------------ NumPy for writing oracles


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def softplus(z: np.ndarray) -> np.ndarray:
    return np.logaddexp(0, z)


def softmax(z: np.ndarray) -> np.ndarray:
    """Column by column."""
    e = np.exp(z - z.max(axis=0))
    return e / e.sum(axis=0)


def logsumexp(z: np.ndarray) -> float:
    return float(z.max() + np.log(np.sum(np.exp(z - z.max()))))


def logdet(a: np.ndarray) -> float:
    sign, value = np.linalg.slogdet(a)
    assert sign > 0, "logdet of a matrix whose determinant is not positive"
    return float(value)


def erf(z: np.ndarray) -> np.ndarray:
    return np.vectorize(math.erf)(z)


def vec(a: np.ndarray) -> np.ndarray:
    """The columns of a stacked: a column vector."""
    return a.reshape(-1, 1, order="F")


def ones(r: int, c: int = 1) -> np.ndarray:
    return np.ones((r, c))


tr, inv, det, norm = np.trace, np.linalg.inv, np.linalg.det, np.linalg.norm


# ------------------------------------------------------------------------------ points


class Point(dict):
    """The values at one point, by name: 2-D arrays (a vector n×1, a scalar 1×1) and the
    stand-ins of functions; ``v["x"]`` or ``v.x``.  ``sizes`` holds the numbers of the
    size symbols, ``free`` the sizes no variable has; ``variables`` and ``functions`` the
    spec's."""

    def __init__(self, values: Any = (), sizes: dict[str, int] | None = None, free: dict[str, int] | None = None,
                 variables: dict[str, Variable] | None = None, functions: dict[str, Function] | None = None) -> None:
        super().__init__(values)
        self.sizes, self.free = sizes or {}, free or {}
        self.variables, self.functions = variables or {}, functions or {}

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _size(d: Dim, sizes: dict[str, int]) -> int:
    if isinstance(d, tuple):
        return int(np.prod([_size(s, sizes) for s in d]))
    return d if isinstance(d, int) else sizes[d]


def random_array(v: Variable, sizes: dict[str, int], rng: np.random.Generator) -> np.ndarray:
    """A random value of ``v`` in its domain."""
    r, c = _size(v.dims[0], sizes), _size(v.dims[1], sizes)
    if "spd" in v.words:
        a = rng.normal(size=(r, r))
        return a @ a.T + r * np.eye(r)
    if "positive" in v.words:
        a = rng.uniform(0.5, 2.0, size=(r, c))
    elif "probability" in v.words:
        a = rng.uniform(0.1, 1.0, size=(r, c))
        a = a / a.sum()
    else:
        a = rng.normal(size=(r, c))
    if "invertible" in v.words:
        a = a + 3 * np.eye(r)
    if "symmetric" in v.words:
        a = (a + a.T) / 2
    return a


def _number(name: str) -> float:
    """A scale from 0.6 to 1.4 that differs from name to name (L and ℓ are different functions)."""
    return 0.6 + (sum(ord(ch) for ch in name) % 5) / 5


def _weights(y: np.ndarray) -> np.ndarray:
    """Weights 1, 1.25, …, 2 over the entries of y in vec order, reshaped like y."""
    return (1 + np.arange(y.size) % 5 / 4).reshape(y.shape, order="F")


def stand_ins(fn: Function, sizes: dict[str, int]) -> dict[str, Callable]:
    """NumPy functions for an abstract function and its derivatives, exact, under the names
    matcalc's evaluate takes.  A scalar L(Y) = Σ w ⊙ sin(k Y) + ½ ‖Y‖² + ½ (uᵀ vec Y)², whose
    Hessian diag(1 − k² w ⊙ sin(k y)) + u uᵀ is not diagonal; an elementwise f(y) =
    sin(k y) + y³/10; a vector g(y) = M sin(k y) with a fixed M."""
    k = _number(fn.name)
    if fn.kind == "scalar":
        def scalar(y: Any) -> float:
            y = np.asarray(y, dtype=float)
            u = np.flip(_weights(y))  # the weights in reverse vec order
            return float(np.sum(_weights(y) * np.sin(k * y)) + 0.5 * np.sum(y * y) + 0.5 * np.sum(u * y) ** 2)

        def grad(y: Any) -> np.ndarray:
            y = np.asarray(y, dtype=float)
            u = np.flip(_weights(y))
            return k * _weights(y) * np.cos(k * y) + y + np.sum(u * y) * u

        def hess(y: Any) -> np.ndarray:  # of a vector y (1-D or n×1)
            y = np.ravel(np.asarray(y, dtype=float), order="F")
            u = np.flip(_weights(y))
            return np.diag(1 - k * k * _weights(y) * np.sin(k * y)) + np.outer(u, u)

        return {fn.name: scalar, f"grad_{fn.name}": grad, f"hess_{fn.name}": hess}
    if fn.kind == "elementwise":
        def elementwise(y: Any) -> np.ndarray:
            y = np.asarray(y, dtype=float)
            return np.sin(k * y) + y ** 3 / 10

        def prime(y: Any) -> np.ndarray:
            y = np.asarray(y, dtype=float)
            return k * np.cos(k * y) + 3 * y ** 2 / 10

        def prime2(y: Any) -> np.ndarray:
            y = np.asarray(y, dtype=float)
            return -k * k * np.sin(k * y) + 6 * y / 10

        return {fn.name: elementwise, f"{fn.name}_prime": prime, f"{fn.name}_prime2": prime2}
    out = _size(fn.out, sizes)

    def mixing(n: int) -> np.ndarray:
        return np.random.default_rng([7, sum(ord(ch) for ch in fn.name), out, n]).normal(size=(out, n))

    def g(y: Any) -> np.ndarray:
        y = np.ravel(np.asarray(y, dtype=float), order="F")
        return (mixing(y.size) @ np.sin(k * y)).reshape(-1, 1)

    def jac(y: Any) -> np.ndarray:
        y = np.ravel(np.asarray(y, dtype=float), order="F")
        return mixing(y.size) * (k * np.cos(k * y))[None, :]

    return {fn.name: g, f"jac_{fn.name}": jac}


@dataclass(frozen=True)
class Oracle:
    """An expression as the tests know it: ``spec`` (see :func:`parse_spec`) and ``f``, the
    expression as a NumPy function of a :class:`Point` (a float or a 2-D array)."""

    spec: str
    f: Callable[[Point], Any]
    _parsed: tuple = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_parsed", parse_spec(self.spec))

    @property
    def variables(self) -> list[Variable]:
        return self._parsed[0]

    def variable(self, name: str) -> Variable:
        return next(v for v in self.variables if v.name == name)

    def point(self, rng: np.random.Generator) -> Point:
        """A random point, with the stand-ins of the functions."""
        variables, functions, free = self._parsed
        sizes = spec_sizes(variables, functions, free)
        p = Point(((v.name, random_array(v, sizes, rng)) for v in variables), sizes, {s: sizes[s] for s in free},
                  {v.name: v for v in variables}, {fn.name: fn for fn in functions})
        for fn in functions:
            p.update(stand_ins(fn, sizes))
        return p

    def value(self, p: Point) -> np.ndarray:
        """f at ``p``, as a 2-D array (a scalar 1×1)."""
        return np.atleast_2d(np.asarray(self.f(p), dtype=float))


def moved(p: Point, name: str, value: np.ndarray) -> Point:
    """``p`` with ``name`` set to ``value``."""
    return Point({**p, name: value}, p.sizes, p.free, p.variables, p.functions)


# ------------------------------------------------------------------------------ differences


def difference_quotient(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, e: np.ndarray, h: float) -> np.ndarray:
    """(−f(x + 2h e) + 8 f(x + h e) − 8 f(x − h e) + f(x − 2h e)) / 12h: the derivative of
    ``f`` at ``x`` along ``e`` to fourth order.

    >>> d = difference_quotient(lambda y: y ** 3, np.array([2.0]), np.array([1.0]), 1e-3)
    >>> bool(abs(d[0] - 12.0) < 1e-9)
    True
    """
    return (-f(x + 2 * h * e) + 8 * f(x + h * e) - 8 * f(x - h * e) + f(x - 2 * h * e)) / (12 * h)


def jacobian(oracle: Oracle, p: Point, wrt: str) -> np.ndarray:
    """J[:, k] = ∂ vec f / ∂ (vec X)ₖ, by fourth-order central differences of the oracle's f
    along Eₖ, the k-th entry of vec X."""
    x0 = np.asarray(p[wrt], dtype=float)
    flat = x0.reshape(-1, order="F")

    def f(x: np.ndarray) -> np.ndarray:
        return oracle.value(moved(p, wrt, x)).reshape(-1, order="F")

    cols = []
    for k in range(x0.size):
        e = np.zeros(x0.size)
        e[k] = 1.0
        cols.append(difference_quotient(f, x0, e.reshape(x0.shape, order="F"), FD_STEP * (1 + abs(flat[k]))))
    return np.stack(cols, axis=1)


def scalar_value(oracle: Oracle, p: Point) -> float:
    out = oracle.value(p)
    assert out.shape == (1, 1), f"the oracle's f is {out.shape}, not a scalar"
    return float(out[0, 0])


def second_difference(oracle: Oracle, p: Point, x: str, u: np.ndarray, y: str, w: np.ndarray, h: float) -> float:
    """∂²f/∂s∂t at 0 of f(X + s U, Y + t W), by central differences:
    (f(+h, +h) − f(+h, −h) − f(−h, +h) + f(−h, −h)) / 4h²."""

    def at(s: float, t: float) -> float:
        q = moved(p, x, p[x] + s * u)
        return scalar_value(oracle, moved(q, y, q[y] + t * w))

    return (at(h, h) - at(h, -h) - at(-h, h) + at(-h, -h)) / (4 * h * h)


def hessian(oracle: Oracle, p: Point, wrt: str, h: float = 1e-4) -> np.ndarray:
    """H[a, b] = ∂²f/∂(vec X)ₐ∂(vec X)_b by second differences of the oracle's f."""
    shape = p[wrt].shape
    n = p[wrt].size
    units = [np.eye(n)[a].reshape(shape, order="F") for a in range(n)]
    return np.array([[second_difference(oracle, p, wrt, units[a], wrt, units[b], h) for b in range(n)]
                     for a in range(n)])


# ------------------------------------------------------------------------------ matcalc's answer


def matcalc_sizes(e: matcalc.Expression, p: Point) -> dict[str, int]:
    """matcalc's size symbols for ``e``, bound from the oracle's arrays, one to one: the
    reading must have the oracle's shapes (a variable of the oracle's read as a scalar, or
    two sizes read as one, fails here).  The length of a vector function is the oracle's;
    a size no variable has is the oracle's size of that name (``q: size``)."""
    dims: dict[str, int] = {}
    products = []
    for var in e.variables():
        name = var["name"]
        assert name in p and not callable(p[name]), f"matcalc reads a variable {name} the oracle does not have"
        actual = p[name].shape
        for d, a in zip(var["dims"], actual, strict=True):
            if isinstance(d, int):
                assert d == a, f"matcalc reads {name} as {var['shape']}, the oracle's {name} is {actual}"
            elif isinstance(d, list):
                products.append((d, a, name, var["shape"]))
            else:
                assert dims.setdefault(d, a) == a, f"matcalc reads {name} as {var['shape']} ({d} = {dims[d]}), " \
                                                   f"the oracle's {name} is {actual}"
        symmetric = "symmetric" in p.variables[name].words
        assert var["symmetric"] == symmetric, f"matcalc reads {name} as {'' if var['symmetric'] else 'not '}symmetric"
    assert len(set(dims.values())) == len(dims), f"matcalc reads sizes the oracle keeps apart as one: {dims}"
    for d, a, name, shape in products:
        assert all(s in dims for s in d if isinstance(s, str)), f"{name}: no array fixes the sizes of {shape}"
        assert int(np.prod([s if isinstance(s, int) else dims[s] for s in d])) == a, \
            f"matcalc reads {name} as {shape}, the oracle's {name} has {a}"
    for name, decl in e.functions.items():
        assert name in p.functions, f"matcalc reads an abstract function {name} the oracle does not have"
        assert decl.kind == p.functions[name].kind, f"matcalc reads {name} as a {decl.kind} function"
        if decl.out is not None and not isinstance(decl.out, int):
            dims[decl.out] = _size(p.functions[name].out, p.sizes)
    for name, size in p.free.items():
        dims.setdefault(name, size)
    return dims


def value_of(part: matcalc.Expression, p: Point, dims: dict[str, int]) -> np.ndarray:
    """matcalc's value of ``part`` at the oracle's point, as a 2-D array."""
    return np.atleast_2d(np.asarray(part.evaluate(p, dims=dims), dtype=float))


def check_numerically(expr: str | matcalc.Expression, wrt: str, where: str | None, oracle: Oracle,
                      layout: str = "denominator", seed: int = 0, rtol: float = 1e-5) -> matcalc.Derivative:
    """Differentiate ``expr`` with matcalc and compare the result with central differences
    of the oracle's f at a random point: the Jacobian always, the gradient (shaped like the
    variable; for a symmetric variable sym(G), itself symmetric) where f is a scalar, and
    the derivative in ``layout``.  First, matcalc's reading and value of f are the oracle's."""
    assert isinstance(oracle, Oracle), f"no NumPy oracle for {expr}"
    r = matcalc.diff(expr, wrt, where, layout=layout)
    e = r.expression
    p = oracle.point(np.random.default_rng(seed))
    dims = matcalc_sizes(e, p)
    f0 = oracle.value(p)
    got = value_of(e, p, dims)
    assert got.shape == f0.shape, f"matcalc's f is {got.shape}, the oracle's {f0.shape}"
    np.testing.assert_allclose(got, f0, rtol=1e-9, atol=1e-9 * (1 + float(np.max(np.abs(f0)))),
                               err_msg="matcalc's value of f is not the oracle's")
    j_num = jacobian(oracle, p, wrt)
    j = value_of(r.jacobian, p, dims)
    assert j.shape == j_num.shape, f"Jacobian shape {j.shape}, expected {j_num.shape}"
    d = value_of(r.derivative, p, dims)
    if r.gradient is not None:
        g = value_of(r.gradient, p, dims)
        x = p[wrt]
        assert g.shape == x.shape, f"gradient shape {g.shape}, expected the shape of {wrt} {x.shape}"
        g_num = j_num.reshape(x.shape, order="F")
        if "symmetric" in oracle.variable(wrt).words:
            # the gradient on symmetric matrices is symmetric, and gives the directional
            # derivative along every symmetric direction E: df = tr(Gᵀ E)
            np.testing.assert_allclose(g, g.T, rtol=1e-9, atol=1e-9)
            np.testing.assert_allclose(g, (g_num + g_num.T) / 2, rtol=rtol, atol=1e-6)
        else:
            np.testing.assert_allclose(g, g_num, rtol=rtol, atol=1e-6)
            np.testing.assert_allclose(j, j_num, rtol=rtol, atol=1e-6)
        np.testing.assert_allclose(d, g if layout == "denominator" else g.T, rtol=1e-9, atol=1e-9)
    else:
        np.testing.assert_allclose(j, j_num, rtol=rtol, atol=1e-6)
        np.testing.assert_allclose(d, j if layout == "numerator" else j.T, rtol=1e-9, atol=1e-9)
    return r


def assert_results_reparse(r: matcalc.Derivative, oracle: Oracle, seed: int = 5) -> None:
    """Printed results re-parse (with the expression's declarations and shape) to an
    expression of the same shape and value, at a point of the oracle's."""
    e = r.expression
    p = oracle.point(np.random.default_rng(seed))
    dims = matcalc_sizes(e, p)
    wrt = r.wrt.name
    p["d" + wrt] = np.random.default_rng(seed + 1).normal(size=p[wrt].shape)
    for part in (r.differential, r.gradient, r.jacobian):
        if part is None:
            continue
        for ascii in (False, True):
            again = matcalc.parse(part.text(ascii), e.where(), expect=part.shape)
            assert again.shape == part.shape
            np.testing.assert_allclose(value_of(again, p, dims), value_of(part, p, dims), rtol=1e-9, atol=1e-12)

