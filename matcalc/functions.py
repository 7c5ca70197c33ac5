"""The built-in functions, one row each.

A row carries everything matcalc knows about a function: its names, the shape rule,
the differential rule, a NumPy and a SymPy implementation, and its LaTeX.  Adding a
function is adding a row.  NumPy and SymPy are passed in as modules, so that this
table can be imported without importing either.

Differential rules take the call node and the differentials of its arguments and
return the differential of the call, e.g. ``d exp(X) = exp(X) ⊙ dX``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from .algebra import add, had, mul, neg, power, transpose
from .nodes import Add, Call, Expr, Identity, Kron, MatMul, MatPow, Num, Ones, Transpose, Var, num
from .shapes import SCALAR, Shape, Strict

ShapeRule = Callable[[list[Shape], Strict], Shape]
DiffRule = Callable[[Call, tuple[Expr, ...]], Expr]


@dataclass(frozen=True, eq=False)
class Function:
    key: str  #: unique id (``diag`` has two rows: vector→matrix and matrix→vector)
    name: str  #: ASCII name, as typed and printed
    shape: ShapeRule
    requires: str  #: what the shape rule needs, in words, for error messages
    d: DiffRule | None
    numpy: Callable[..., Any]
    sympy: Callable[..., Any] | None
    latex: str
    unicode: str | None = None  #: a Unicode name (``σ``), when there is one
    elementwise: bool = False
    #: for elementwise rows: f′ as an expression of the argument (f′(x), used as f′(x) ⊙ dx)
    prime: Callable[[Expr], Expr] | None = None
    linear: bool = False
    aliases: tuple[str, ...] = field(default=())

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Function) and other.key == self.key

    def __repr__(self) -> str:
        return f"<function {self.key}>"

    def __call__(self, *args: Expr) -> Call:
        return Call(self, tuple(args))


# ----------------------------------------------------------------------------- shapes


def _square_to_scalar(shapes: list[Shape], u: Strict) -> Shape:
    u.unify(shapes[0][0], shapes[0][1])
    return SCALAR


def _square_to_square(shapes: list[Shape], u: Strict) -> Shape:
    u.unify(shapes[0][0], shapes[0][1])
    return shapes[0]


def _to_scalar(shapes: list[Shape], u: Strict) -> Shape:
    return SCALAR


def _same(shapes: list[Shape], u: Strict) -> Shape:
    return shapes[0]


def _vec(shapes: list[Shape], u: Strict) -> Shape:
    r, c = shapes[0]
    return (u.mul(r, c), 1)


def _vector_to_diagonal(shapes: list[Shape], u: Strict) -> Shape:
    u.unify(shapes[0][1], 1)
    return (shapes[0][0], shapes[0][0])


def _diagonal_of_square(shapes: list[Shape], u: Strict) -> Shape:
    u.unify(shapes[0][0], shapes[0][1])
    return (shapes[0][0], 1)


# ----------------------------------------------------------------------------- rules

TABLE: dict[str, Function] = {}


def _row(f: Function) -> Function:
    TABLE[f.key] = f
    return f


def _ew(x: Expr, dx: Expr, fprime: Expr) -> Expr:
    """f′(x) ⊙ dx — the differential of an elementwise function."""
    return had(fprime, dx)


def _elementwise(
    key: str, prime: Callable[[Expr], Expr] | None, np_fn: Callable[..., Any], sp_fn: Callable[..., Any],
    latex: str, unicode: str | None = None, aliases: tuple[str, ...] = (),
) -> Function:
    def d(call: Call, dargs: tuple[Expr, ...]) -> Expr:
        assert prime is not None
        return _ew(call.args[0], dargs[0], prime(call.args[0]))

    return _row(Function(
        key=key, name=key, shape=_same, requires="one argument", d=d if prime else None,
        numpy=np_fn, sympy=sp_fn, latex=latex, unicode=unicode, elementwise=True,
        prime=prime, aliases=aliases,
    ))


def _fn(key: str) -> Function:
    return TABLE[key]


def _sigmoid_np(np: Any, x: Any) -> Any:
    return 1.0 / (1.0 + np.exp(-x))


def _softplus_np(np: Any, x: Any) -> Any:
    return np.logaddexp(0.0, x)


# elementwise functions.  f′ is written with existing functions where a textbook would
# (exp′ = exp, log′(x) = 1 ./ x); otherwise with a derivative row of its own (σ′, tanh′).
EXP = _elementwise("exp", lambda x: _fn("exp")(x), lambda np, x: np.exp(x), lambda sp, x: sp.exp(x), r"\exp")
LOG = _elementwise("log", lambda x: power(x, -1), lambda np, x: np.log(x), lambda sp, x: sp.log(x), r"\log", aliases=("ln",))
SIN = _elementwise("sin", lambda x: _fn("cos")(x), lambda np, x: np.sin(x), lambda sp, x: sp.sin(x), r"\sin")
COS = _elementwise("cos", lambda x: neg(_fn("sin")(x)), lambda np, x: np.cos(x), lambda sp, x: sp.cos(x), r"\cos")
TANH = _elementwise("tanh", lambda x: _fn("tanh'")(x), lambda np, x: np.tanh(x), lambda sp, x: sp.tanh(x), r"\tanh")
SIGMOID = _elementwise(
    "sigmoid", lambda x: _fn("sigmoid'")(x), _sigmoid_np, lambda sp, x: 1 / (1 + sp.exp(-x)),
    r"\sigma", unicode="σ",
)
RELU = _elementwise(
    "relu", lambda x: _fn("relu'")(x), lambda np, x: np.maximum(x, 0.0),
    lambda sp, x: sp.Max(x, 0), r"\operatorname{relu}",
)
SOFTPLUS = _elementwise(
    "softplus", lambda x: _fn("sigmoid")(x), _softplus_np, lambda sp, x: sp.log(1 + sp.exp(x)),
    r"\operatorname{softplus}",
)
SQRT = _elementwise(
    "sqrt", lambda x: mul(num(Fraction(1, 2)), power(_fn("sqrt")(x), -1)),
    lambda np, x: np.sqrt(x), lambda sp, x: sp.sqrt(x), r"\sqrt",
)
ABS = _elementwise("abs", lambda x: _fn("abs'")(x), lambda np, x: np.abs(x), lambda sp, x: sp.Abs(x), r"\operatorname{abs}")

# derivative rows
SIGMOID_PRIME = _elementwise(
    "sigmoid'", lambda x: had(_fn("sigmoid'")(x), add(Ones(x.shape), mul(num(-2), _fn("sigmoid")(x)))),
    lambda np, x: _sigmoid_np(np, x) * (1.0 - _sigmoid_np(np, x)),
    lambda sp, x: sp.exp(-x) / (1 + sp.exp(-x)) ** 2, r"\sigma'", unicode="σ′",
)
TANH_PRIME = _elementwise(
    "tanh'", lambda x: had(num(-2), _fn("tanh")(x), _fn("tanh'")(x)),
    lambda np, x: 1.0 - np.tanh(x) ** 2, lambda sp, x: 1 - sp.tanh(x) ** 2, r"\tanh'", unicode="tanh′",
)
RELU_PRIME = _elementwise(
    "relu'", None, lambda np, x: (x > 0).astype(float), lambda sp, x: sp.Heaviside(x, 0),
    r"\operatorname{relu}'", unicode="relu′",
)
ABS_PRIME = _elementwise(
    "abs'", None, lambda np, x: np.sign(x), lambda sp, x: sp.sign(x), r"\operatorname{sign}", unicode="abs′",
)




# --------------------------------------------------------------------- matrix functions


def _inner(a: Expr, da: Expr) -> Expr:
    """⟨A, dA⟩ = tr(Aᵀ dA); for column vectors simply aᵀ da."""
    if a.shape[1] == 1:
        return mul(transpose(a), da)
    return TRACE(mul(transpose(a), da))


def _np_logdet(np: Any, a: Any) -> Any:
    return np.linalg.slogdet(a)[1]


def _np_softmax(np: Any, z: Any) -> Any:
    """Column by column (a vector is one column)."""
    e = np.exp(z - np.max(z, axis=0, keepdims=True))
    return e / np.sum(e, axis=0, keepdims=True)


def _sp_vec(sp: Any, m: Any) -> Any:
    return sp.Matrix([m[i, j] for j in range(m.cols) for i in range(m.rows)])


def _sp_softmax(sp: Any, z: Any) -> Any:
    """Column by column (a vector is one column)."""
    e = z.applyfunc(sp.exp)
    return sp.Matrix.hstack(*(e[:, j] / sum(e[:, j]) for j in range(e.cols)))


def _d_softmax(c: Call, d: tuple[Expr, ...]) -> Expr:
    """d softmax(z) = (diag(p) − p pᵀ) dz with p = softmax(z); for a matrix Z, column by
    column: dS = S ⊙ dZ − S ⊙ (𝟏 𝟏ᵀ (S ⊙ dZ))."""
    z = c.args[0]
    if z.shape[1] == 1:
        return mul(add(DIAG(c), neg(mul(c, transpose(c)))), d[0])
    s_dz = had(c, d[0])
    ones = Ones((z.shape[0], z.shape[0]))
    return add(s_dz, neg(had(c, mul(ones, s_dz))))


TRACE = _row(Function(
    key="tr", name="tr", shape=_square_to_scalar, requires="the argument must be a square matrix",
    d=lambda c, d: TRACE(d[0]), numpy=lambda np, a: np.trace(a), sympy=lambda sp, a: a.trace(),
    latex=r"\operatorname{tr}", linear=True, aliases=("trace",),
))
def generically_invertible(x: Expr) -> bool:
    """Is the square matrix ``x`` invertible for almost every value of its variables, by
    its structure alone?  A square variable is; so are transposes, inverses, powers,
    Kronecker products and products of such (scalars included).  Anything else may be
    singular everywhere (u uᵀ, A B with a smaller inner size, X − Xᵀ of odd size), so it
    is not assumed invertible."""
    if isinstance(x, Var):
        return x.shape[0] == x.shape[1]
    if isinstance(x, Identity):
        return True
    if isinstance(x, Num):
        return x.value != 0
    if isinstance(x, (Transpose, MatPow)):
        return generically_invertible(x.children[0])
    if isinstance(x, Kron):
        return all(generically_invertible(f) for f in x.children)
    if isinstance(x, MatMul):
        return all(f.is_scalar and not isinstance(f, Num) or generically_invertible(f) for f in x.factors)
    if isinstance(x, Add) and any(isinstance(t, Identity) for t in x.terms) and all(
            isinstance(t, Identity) or _gram(t) for t in x.terms):  # I + M Mᵀ is positive definite
        return True
    if isinstance(x, Add):  # X + C, X a square variable in no other term: X ↦ X + C is onto
        return any(isinstance(t, Var) and t.shape[0] == t.shape[1]
                   and not any(v == t for u in x.terms if u is not t for v in u.walk()) for t in x.terms)
    if isinstance(x, Call) and x.fn.key in ("inv", "adj"):
        return generically_invertible(x.args[0])
    if isinstance(x, Call) and x.fn.key == "diag":
        return isinstance(x.args[0], Var)
    return False


def _gram(t: Expr) -> bool:
    """M Mᵀ or Mᵀ M (positive semidefinite)."""
    if not (isinstance(t, MatMul) and len(t.factors) == 2):
        return False
    a, b = t.factors
    return (isinstance(b, Transpose) and b.arg == a) or (isinstance(a, Transpose) and a.arg == b)


def _d_det(c: Call, d: tuple[Expr, ...]) -> Expr:
    """d det X = tr(adj(X) dX) everywhere (Jacobi's formula; Magnus–Neudecker ch. 8), which is
    det X · tr(X⁻¹ dX) where X is invertible: written so when X is invertible for almost
    every value (a square variable), with the adjugate otherwise (det(u uᵀ) ≡ 0)."""
    x = c.args[0]
    if generically_invertible(x):
        return mul(c, TRACE(mul(INV(x), d[0])))
    return TRACE(mul(ADJ(x), d[0]))


def _np_adj(np: Any, a: Any) -> Any:
    """adj(A) = det(V) det(U) V adj(S) Uᵀ from the SVD A = U S Vᵀ, where adj(S) is the diagonal
    of the products of the other singular values: right for singular A too."""
    u, s, vt = np.linalg.svd(a)
    others = np.array([np.prod(np.delete(s, i)) for i in range(len(s))])
    return np.linalg.det(u) * np.linalg.det(vt) * (vt.T * others) @ u.T


DET = _row(Function(
    key="det", name="det", shape=_square_to_scalar, requires="the argument must be a square matrix",
    d=_d_det,
    numpy=lambda np, a: np.linalg.det(a), sympy=lambda sp, a: a.det(), latex=r"\det",
))
LOGDET = _row(Function(
    key="logdet", name="logdet", shape=_square_to_scalar, requires="the argument must be a square matrix",
    # d log|det X| = tr(X⁻¹ dX)
    d=lambda c, d: TRACE(mul(INV(c.args[0]), d[0])),
    numpy=_np_logdet, sympy=lambda sp, a: sp.log(a.det()), latex=r"\log\det",
))
INV = _row(Function(
    key="inv", name="inv", shape=_square_to_square, requires="only a square matrix has an inverse",
    # d(X⁻¹) = −X⁻¹ dX X⁻¹
    d=lambda c, d: neg(mul(c, d[0], c)),
    numpy=lambda np, a: np.linalg.inv(a), sympy=lambda sp, a: a.inv(), latex="",
))
ADJ = _row(Function(
    key="adj", name="adj", shape=_square_to_square, requires="only a square matrix has an adjugate",
    # the adjugate (classical adjoint): adj(X) X = det(X) I; its differential is not in the table
    d=None, numpy=_np_adj, sympy=lambda sp, a: a.adjugate() if a.rows > 1 else sp.Matrix([[1]]),
    latex=r"\operatorname{adj}", aliases=("adjugate",),
))
VEC = _row(Function(
    key="vec", name="vec", shape=_vec, requires="one matrix argument",
    d=lambda c, d: VEC(d[0]), numpy=lambda np, a: a.reshape(-1, 1, order="F"), sympy=_sp_vec,
    latex=r"\operatorname{vec}", linear=True,
))
DIAG = _row(Function(
    key="diag", name="diag", shape=_vector_to_diagonal, requires="the argument must be a vector",
    d=lambda c, d: DIAG(d[0]), numpy=lambda np, v: np.diag(v.ravel()),
    sympy=lambda sp, v: sp.diag(*list(v)), latex=r"\operatorname{diag}", linear=True,
))
DIAGV = _row(Function(
    key="diagv", name="diag", shape=_diagonal_of_square, requires="the argument must be a square matrix",
    d=lambda c, d: DIAGV(d[0]), numpy=lambda np, a: np.diag(a).reshape(-1, 1),
    sympy=lambda sp, a: sp.Matrix([a[i, i] for i in range(a.rows)]),
    latex=r"\operatorname{diag}", linear=True,
))
SUM = _row(Function(
    key="sum", name="sum", shape=_to_scalar, requires="one argument",
    d=lambda c, d: SUM(d[0]), numpy=lambda np, a: np.sum(a), sympy=lambda sp, a: sum(a),
    latex=r"\operatorname{sum}", linear=True,
))
NORM = _row(Function(
    key="norm", name="norm", shape=_to_scalar, requires="one argument",
    # d‖X‖ = tr(Xᵀ dX) / ‖X‖   (Euclidean norm of a vector, Frobenius norm of a matrix)
    d=lambda c, d: mul(power(c, -1), _inner(c.args[0], d[0])),
    numpy=lambda np, a: np.sqrt(np.sum(a * a)),
    sympy=lambda sp, a: sp.sqrt(sum(x**2 for x in a)), latex="",
))
SOFTMAX = _row(Function(
    key="softmax", name="softmax", shape=_same, requires="one argument (a vector, or a matrix column by column)",
    d=_d_softmax,
    numpy=_np_softmax, sympy=_sp_softmax, latex=r"\operatorname{softmax}",
))


def vec_of(e: Expr) -> Expr:
    """vec(e), with vec(x) = x for a column vector and vec(xᵀ) = x for a row."""
    if e.shape[1] == 1:
        return e
    if e.shape[0] == 1:
        return transpose(e)
    return VEC(e)


def lookup(name: str) -> Function | None:
    """The row a name typed by a user refers to (``trace`` → tr, ``σ`` → sigmoid)."""
    return _BY_NAME.get(name)


def names() -> list[str]:
    """Every name a user can call: the rows' names and aliases, and the other built-ins."""
    return sorted({*_BY_NAME, "kron", "grad", "jac", "ones", "zeros", "unvec"})


_BY_NAME: dict[str, Function] = {}
for _f in TABLE.values():
    if _f.key in ("diagv",):
        continue
    for _n in (_f.name, _f.unicode, *_f.aliases):
        if _n and not _n.endswith(("'", "′")):
            _BY_NAME[_n] = _f

#: the derivative row of an elementwise function, by the function's key
PRIMES: dict[str, Function] = {
    "sigmoid": SIGMOID_PRIME, "tanh": TANH_PRIME, "relu": RELU_PRIME, "abs": ABS_PRIME,
}
