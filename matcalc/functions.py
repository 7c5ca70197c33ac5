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

from .algebra import add, hadamard, mul, neg, power, transpose, zero
from .nodes import (
    Add,
    Call,
    Expr,
    Hadamard,
    Identity,
    Kron,
    MatMul,
    MatPow,
    Num,
    Ones,
    Power,
    Transpose,
    Unvec,
    Var,
    num,
)
from .shapes import SCALAR, Shape, Unifier, dim_mul

ShapeRule = Callable[[list[Shape], Unifier], Shape]
DiffRule = Callable[[Call, tuple[Expr, ...]], Expr]


@dataclass(frozen=True, eq=False)
class Function:
    """One row: everything matcalc knows about a built-in function.

    Rows are made by the family constructors below (:func:`elementwise`, :func:`linear`,
    :func:`matrix_function`); nothing outside this module tests a row's key or name —
    rules, printers and checkers read the fields.
    """

    key: str  #: unique id (``diag`` has two rows: vector→matrix and matrix→vector)
    name: str  #: ASCII name, as typed and printed
    shape: ShapeRule
    requires: str  #: what the shape rule needs, in words, for error messages
    d: DiffRule | None
    numpy: Callable[..., Any]
    sympy: Callable[..., Any] | None
    latex: str  #: the LaTeX head it prints with
    unicode: str | None = None  #: a Unicode name (``σ``), when there is one
    elementwise: bool = False
    #: for elementwise rows: f′ as an expression of the argument (f′(x), used as f′(x) ⊙ dx);
    #: also what ``f'(x)`` means when typed
    prime: Callable[[Expr], Expr] | None = None
    linear: bool = False
    aliases: tuple[str, ...] = field(default=())
    #: other LaTeX spellings a table cell may use (``\ln``); ``latex`` is always one
    latex_names: tuple[str, ...] = field(default=())
    #: the differential's identity in words, as a derivation step names it
    rule: str | None = None
    #: where it is defined: None (everywhere), "positive" (the checker picks points where
    #: the argument is positive, or positive definite), "invertible"
    domain: str | None = None
    #: printed as a postfix on its argument: (Unicode, ASCII, LaTeX), as X⁻¹
    postfix: tuple[str, str, str] | None = None
    #: printed between norm bars, with a subscript: (Unicode, LaTeX), as ‖x‖₁
    bars: tuple[str, str] | None = None
    #: LaTeX takes the argument in braces, not parentheses: \sqrt{x}
    latex_braced: bool = False
    #: not differentiable where an entry of the argument is 0 (abs, sign, relu, ‖·‖₁): the
    #: derivative holds where no entry is 0, and says so
    kink: bool = False
    #: f(Aᵀ) = f(A)
    transpose_invariant: bool = False
    #: tr(A B) = tr(B A)
    cyclic: bool = False
    #: "always" (diag(v) is symmetric) or "preserves" (inv(S), adj(S) are symmetric for symmetric S)
    symmetric: str | None = None
    #: for linear rows: the adjoint, tr(Cᵀ f(L)) = tr(adjoint(f(L), C)ᵀ L)
    adjoint: Callable[[Call, Expr], Expr] | None = None
    #: for linear rows: M with vec f(L) = M vec L (None: M = I)
    vec_matrix: Callable[[Call], Expr | None] | None = None
    #: is f(M) invertible for almost every value, given whether its argument is
    invertible: Callable[[Call, Callable[[Expr], bool]], bool] | None = None
    #: canonical identities of a call of this row, each ``call → expression | None``
    identities: tuple[Callable[[Call], Expr | None], ...] = field(default=())
    #: generated code (:mod:`matcalc.code`): a template with ``{0}`` the argument, ``xp``
    #: the array library and ``_name`` the target's helpers (stable σ, logsumexp, …)
    code: str | None = None
    #: a stabler form for some arguments: ``call → (template, arguments) | None``
    #: (log(1 + exp(z)) → ``_softplus({0})`` of z, log(σ(z)) → ``-_softplus(-{0})``)
    code_stable: Callable[[Call], tuple[str, tuple[Expr, ...]] | None] | None = None
    #: applied to the rest of a product, ``{0}`` the argument and ``{1}`` the rest: inv(A) M as
    #: ``solve`` (never inverted), diag(v) M as ``v * M`` (never built); ``code_apply_right``: M f(a)
    code_apply: str | None = None
    code_apply_right: str | None = None
    #: f(a)² written without the square root (‖a‖² as a sum of squares)
    code_squared: str | None = None
    #: what the parse must say about a call of this row, if anything (``call → words | None``):
    #: norm2 of a matrix is read as the Frobenius norm
    reading: Callable[[Call], str | None] | None = None

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Function) and other.key == self.key

    def __repr__(self) -> str:
        return f"<function {self.key}>"

    def __call__(self, *args: Expr) -> Call:
        return Call(self, tuple(args))


# ----------------------------------------------------------------------------- shapes


def _square_to_scalar(shapes: list[Shape], u: Unifier) -> Shape:
    u.unify(shapes[0][0], shapes[0][1])
    return SCALAR


def _square_to_square(shapes: list[Shape], u: Unifier) -> Shape:
    u.unify(shapes[0][0], shapes[0][1])
    return shapes[0]


def _to_scalar(shapes: list[Shape], u: Unifier) -> Shape:
    return SCALAR


def _same(shapes: list[Shape], u: Unifier) -> Shape:
    return shapes[0]


def _vec(shapes: list[Shape], u: Unifier) -> Shape:
    r, c = shapes[0]
    return (u.mul(r, c), 1)


def _vector_to_diagonal(shapes: list[Shape], u: Unifier) -> Shape:
    u.unify(shapes[0][1], 1)
    return (shapes[0][0], shapes[0][0])


def _column_to_scalar(shapes: list[Shape], u: Unifier) -> Shape:
    u.unify(shapes[0][1], 1)
    return SCALAR


def _diagonal_of_square(shapes: list[Shape], u: Unifier) -> Shape:
    u.unify(shapes[0][0], shapes[0][1])
    return (shapes[0][0], 1)


# ----------------------------------------------------------------------------- families

TABLE: dict[str, Function] = {}


def _row(f: Function) -> Function:
    TABLE[f.key] = f
    return f


def _fn(key: str) -> Function:
    return TABLE[key]


def elementwise(
    key: str, prime: Callable[[Expr], Expr] | None, np_fn: Callable[..., Any], sp_fn: Callable[..., Any],
    latex: str, unicode: str | None = None, **more: Any,
) -> Function:
    """An elementwise function from (f, f′): d f(X) = f′(X) ⊙ dX."""
    shown = unicode or key

    def d(call: Call, dargs: tuple[Expr, ...]) -> Expr:
        assert prime is not None
        return hadamard(prime(call.args[0]), dargs[0])

    return _row(Function(
        key=key, name=key, shape=_same, requires="one argument", d=d if prime else None,
        numpy=np_fn, sympy=sp_fn, latex=latex, unicode=unicode, elementwise=True, prime=prime,
        rule=more.pop("rule", f"d {shown}(X) = {shown}′(X) ⊙ dX" if prime else None), **more,
    ))


def linear(
    key: str, shape: ShapeRule, requires: str, numpy: Callable[..., Any], sympy: Callable[..., Any],
    latex: str, adjoint: Callable[[Call, Expr], Expr], vec_matrix: Callable[[Call], Expr | None],
    rule: str, **more: Any,
) -> Function:
    """A linear function: d f(A) = f(dA); scalars come out, sums distribute, f(0) = 0.  The
    adjoint gives the gradient, the matrix of vec f(A) = M vec A the Jacobian."""
    row = Function(
        key=key, name=more.pop("name", key), shape=shape, requires=requires,
        d=lambda c, d: Call(row, (d[0],)), numpy=numpy, sympy=sympy, latex=latex, linear=True,
        adjoint=adjoint, vec_matrix=vec_matrix, rule=rule,
        identities=(_scalar_is_itself, *more.pop("identities", ())), **more,
    )
    return _row(row)


def matrix_function(key: str, shape: ShapeRule, requires: str, d: DiffRule | None, numpy: Callable[..., Any],
                    sympy: Callable[..., Any] | None, latex: str, rule: str | None, **more: Any) -> Function:
    """Any other function: its differential is given."""
    return _row(Function(key=key, name=more.pop("name", key), shape=shape, requires=requires, d=d,
                         numpy=numpy, sympy=sympy, latex=latex, rule=rule, **more))


def _scalar_is_itself(c: Call) -> Expr | None:
    """f(s) = s for a 1×1 argument (tr, sum, vec, diag of a scalar)."""
    return c.args[0] if c.args[0].is_scalar else None


def _one_plus(x: Expr, e: Expr) -> Expr:
    """𝟏 + e, elementwise (1 + e for a scalar)."""
    return add(Ones(x.shape) if not x.is_scalar else num(1), e)


# ------------------------------------------------------------------ elementwise functions

def _sigmoid_np(np: Any, x: Any) -> Any:
    return 1.0 / (1.0 + np.exp(-x))


def _softplus_np(np: Any, x: Any) -> Any:
    return np.logaddexp(0.0, x)


def _erf_np(np: Any, x: Any) -> Any:
    import math  # the standard library's erf, elementwise (NumPy has none)
    return np.vectorize(math.erf, otypes=[float])(x)


def _log_of_exp(c: Call) -> Expr | None:
    """log(exp(x)) = x."""
    a = c.args[0]
    return a.args[0] if isinstance(a, Call) and a.fn is EXP else None


def _log_stable(c: Call) -> tuple[str, tuple[Expr, ...]] | None:
    """Generated code for log without overflow: log(1 + exp(z)) = softplus(z), log(σ(z)) =
    −softplus(−z), log(1 − σ(z)) = −softplus(z), log(sum(exp(z))) = logsumexp(z),
    log(softmax(z)) = z − logsumexp(z)."""
    a = c.args[0]

    def is_one(e: Expr) -> bool:
        return (isinstance(e, Num) and e.value == 1) or isinstance(e, Ones)

    if isinstance(a, Call) and a.fn is SIGMOID:
        return "-_softplus(-{0})", a.args
    if isinstance(a, Call) and a.fn is SOFTMAX:  # log(softmax(z)) = z − logsumexp(z), column by column
        return "_log_softmax({0})", a.args
    if isinstance(a, Call) and a.fn is SUM and isinstance(a.args[0], Call) and a.args[0].fn is EXP:
        return "_logsumexp({0})", a.args[0].args
    if isinstance(a, Add) and len(a.terms) == 2:
        one, other = a.terms if is_one(a.terms[0]) else a.terms[::-1]
        if not is_one(one):
            return None
        if isinstance(other, Call) and other.fn is EXP:
            return "_softplus({0})", other.args
        if isinstance(other, MatMul) and len(other.factors) == 2 and isinstance(other.factors[0], Num) \
                and other.factors[0].value == -1 and isinstance(other.factors[1], Call) \
                and other.factors[1].fn is SIGMOID:
            return "-_softplus({0})", other.factors[1].args
    return None


def _log_of_softmax(c: Call) -> Expr | None:
    """log(softmax(z)) = z − 𝟏 logsumexp(z) for a vector z."""
    a = c.args[0]
    if isinstance(a, Call) and a.fn is SOFTMAX and a.shape[1] == 1:
        z = a.args[0]
        return add(z, neg(mul(Ones(z.shape), LOGSUMEXP(z))))
    return None


# f′ is written with existing functions where a textbook would (exp′ = exp, log′(x) = 1 ./ x,
# abs′ = sign); otherwise with a derivative row of its own (σ′, tanh′, relu′, erf′)
EXP = elementwise("exp", lambda x: EXP(x), lambda np, x: np.exp(x), lambda sp, x: sp.exp(x), r"\exp", code='xp.exp({0})')
LOG = elementwise(
    "log", lambda x: power(x, -1), lambda np, x: np.log(x), lambda sp, x: sp.log(x), r"\log",
    aliases=("ln",), latex_names=(r"\ln",), domain="positive", identities=(_log_of_exp, _log_of_softmax),
    code_stable=_log_stable, code='xp.log({0})',
)
SIN = elementwise("sin", lambda x: COS(x), lambda np, x: np.sin(x), lambda sp, x: sp.sin(x), r"\sin", code='xp.sin({0})')
COS = elementwise("cos", lambda x: neg(SIN(x)), lambda np, x: np.cos(x), lambda sp, x: sp.cos(x), r"\cos", code='xp.cos({0})')
ARCTAN = elementwise(
    "arctan", lambda x: power(_one_plus(x, power(x, 2)), -1), lambda np, x: np.arctan(x),
    lambda sp, x: sp.atan(x), r"\arctan", aliases=("atan",), code='xp.arctan({0})',
)
TAN = elementwise(
    "tan", lambda x: _one_plus(x, power(TAN(x), 2)), lambda np, x: np.tan(x), lambda sp, x: sp.tan(x), r"\tan", code='xp.tan({0})',
)
SINH = elementwise("sinh", lambda x: COSH(x), lambda np, x: np.sinh(x), lambda sp, x: sp.sinh(x), r"\sinh", code='xp.sinh({0})')
COSH = elementwise("cosh", lambda x: SINH(x), lambda np, x: np.cosh(x), lambda sp, x: sp.cosh(x), r"\cosh", code='xp.cosh({0})')
TANH = elementwise("tanh", lambda x: TANH_PRIME(x), lambda np, x: np.tanh(x), lambda sp, x: sp.tanh(x), r"\tanh", code='xp.tanh({0})')
LOG1P = elementwise(
    "log1p", lambda x: power(_one_plus(x, x), -1), lambda np, x: np.log1p(x), lambda sp, x: sp.log(1 + x),
    r"\operatorname{log1p}", domain="positive", code='xp.log1p({0})',
)
EXPM1 = elementwise(
    "expm1", lambda x: EXP(x), lambda np, x: np.expm1(x), lambda sp, x: sp.exp(x) - 1, r"\operatorname{expm1}", code='xp.expm1({0})',
)
SIGMOID = elementwise(
    "sigmoid", lambda x: SIGMOID_PRIME(x), _sigmoid_np, lambda sp, x: 1 / (1 + sp.exp(-x)),
    r"\sigma", unicode="σ", code='_sigmoid({0})',
)
RELU = elementwise(
    "relu", lambda x: RELU_PRIME(x), lambda np, x: np.maximum(x, 0.0),
    lambda sp, x: sp.Max(x, 0), r"\operatorname{relu}", kink=True, latex_names=(r"\operatorname{ReLU}", r"\mathrm{ReLU}"), code='_relu({0})',
)
SOFTPLUS = elementwise(
    "softplus", lambda x: SIGMOID(x), _softplus_np, lambda sp, x: sp.log(1 + sp.exp(x)),
    r"\operatorname{softplus}", code='_softplus({0})',
)
SQRT = elementwise(
    "sqrt", lambda x: mul(num(Fraction(1, 2)), power(SQRT(x), -1)),
    lambda np, x: np.sqrt(x), lambda sp, x: sp.sqrt(x), r"\sqrt", domain="positive", latex_braced=True, code='xp.sqrt({0})',
)
ABS = elementwise(
    "abs", lambda x: SIGN(x), lambda np, x: np.abs(x), lambda sp, x: sp.Abs(x), r"\operatorname{abs}", kink=True, code='xp.abs({0})',
)
SIGN = elementwise(
    "sign", lambda x: zero(x.shape), lambda np, x: np.sign(x), lambda sp, x: sp.sign(x), r"\operatorname{sign}",
    aliases=("sgn",), latex_names=(r"\operatorname{sgn}",), kink=True, rule="d sign(X) = 𝟎 (where no entry of X is 0)", code='xp.sign({0})',
)
ERF = elementwise(
    "erf", lambda x: ERF_PRIME(x), _erf_np, lambda sp, x: sp.erf(x), r"\operatorname{erf}", code='_erf({0})',
)

# derivative rows
SIGMOID_PRIME = elementwise(
    "sigmoid'", lambda x: hadamard(SIGMOID_PRIME(x), _one_plus(x, mul(num(-2), SIGMOID(x)))),
    lambda np, x: _sigmoid_np(np, x) * (1.0 - _sigmoid_np(np, x)),
    lambda sp, x: sp.exp(-x) / (1 + sp.exp(-x)) ** 2, r"\sigma'", unicode="σ′", code='_sigmoid_prime({0})',
)
TANH_PRIME = elementwise(
    "tanh'", lambda x: hadamard(num(-2), TANH(x), TANH_PRIME(x)),
    lambda np, x: 1.0 - np.tanh(x) ** 2, lambda sp, x: 1 - sp.tanh(x) ** 2, r"\tanh'", unicode="tanh′", code='_tanh_prime({0})',
)
RELU_PRIME = elementwise(
    "relu'", None, lambda np, x: (x > 0).astype(float), lambda sp, x: sp.Heaviside(x, 0),
    r"\operatorname{relu}'", unicode="relu′", kink=True, code='_relu_prime({0})',
)
ERF_PRIME = elementwise(  # erf′(x) = 2 exp(−x²) / √π
    "erf'", lambda x: mul(num(-2), hadamard(x, ERF_PRIME(x))),
    lambda np, x: 2.0 / np.sqrt(np.pi) * np.exp(-x * x), lambda sp, x: 2 * sp.exp(-x**2) / sp.sqrt(sp.pi),
    r"\operatorname{erf}'", unicode="erf′", code='_erf_prime({0})',
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


def _np_logsumexp(np: Any, z: Any) -> Any:
    m = np.max(z)
    return m + np.log(np.sum(np.exp(z - m)))


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
    s_dz = hadamard(c, d[0])
    ones = Ones((z.shape[0], z.shape[0]))
    return add(s_dz, neg(hadamard(c, mul(ones, s_dz))))


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
    if isinstance(x, Call) and x.fn.invertible is not None:
        return x.fn.invertible(x, generically_invertible)
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


def _trace_of_kron(c: Call) -> Expr | None:
    """tr(A ⊗ B) = tr(A) tr(B)."""
    a = c.args[0]
    return mul(TRACE(a.left), TRACE(a.right)) if isinstance(a, Kron) else None


def _sum_of_kron(c: Call) -> Expr | None:
    """sum(A ⊗ B) = sum(A) sum(B)."""
    a = c.args[0]
    return mul(SUM(a.left), SUM(a.right)) if isinstance(a, Kron) else None


def _inverse_identities(c: Call) -> Expr | None:
    """s⁻¹ for a scalar, (Xᵀ)⁻¹ = (X⁻¹)ᵀ, (X⁻¹)⁻¹ = X, I⁻¹ = I."""
    a = c.args[0]
    if a.is_scalar:
        return power(a, -1)
    if isinstance(a, Transpose):
        return transpose(INV(a.arg))
    if isinstance(a, Call) and a.fn is INV:
        return a.args[0]
    if isinstance(a, Identity):
        return a
    return None


def _sum_of_diagonal_product(c: Call) -> Expr | None:
    """sum(M) = 𝟏ᵀ M 𝟏 for a product M that starts or ends with diag(v), where 𝟏ᵀ diag(v)
    = vᵀ and diag(v) 𝟏 = v: sum(diag(x) A diag(x)) = xᵀ A x."""
    a = c.args[0]
    if not (isinstance(a, MatMul) and not a.is_scalar):
        return None
    ends = (a.factors[0], a.factors[-1])
    if not any(isinstance(f, Call) and f.fn is DIAG for f in ends):
        return None
    return mul(transpose(Ones((a.shape[0], 1))), a, Ones((a.shape[1], 1)))


def _sum_of_hadamard(c: Call) -> Expr | None:
    """sum(a ⊙ b) = aᵀ b, sum(A ⊙ B) = tr(Aᵀ B): the inner product, as a differential is
    written (df = σ′(x)ᵀ dx, not sum(dx ⊙ σ′(x)))."""
    a = c.args[0]
    if not (isinstance(a, Hadamard) and len(a.factors) == 2) or a.shape[0] == 1:
        return None
    return _inner(a.factors[0], a.factors[1])


def _adjugate_of_scalar(c: Call) -> Expr | None:
    """adj(s) = 1 for a 1×1 matrix."""
    return num(1) if c.args[0].is_scalar else None


def _same_invertibility(c: Call, invertible: Callable[[Expr], bool]) -> bool:
    return invertible(c.args[0])


TRACE = linear(
    "tr", _square_to_scalar, "the argument must be a square matrix",
    numpy=lambda np, a: np.trace(a), sympy=lambda sp, a: a.trace(), latex=r"\operatorname{tr}",
    adjoint=lambda e, c: mul(c, Identity(e.args[0].shape[0])),
    vec_matrix=lambda e: transpose(VEC(Identity(e.args[0].shape[0]))),
    rule="d tr(A) = tr(dA)", aliases=("trace",), latex_names=(r"\mathrm{tr}", r"\operatorname{Tr}", r"\mathrm{Tr}"),
    transpose_invariant=True, cyclic=True, identities=(_trace_of_kron,), code='xp.trace({0})',
)
DET = matrix_function(
    "det", _square_to_scalar, "the argument must be a square matrix", _d_det,
    numpy=lambda np, a: np.linalg.det(a), sympy=lambda sp, a: a.det(), latex=r"\det",
    rule="d det(X) = det(X) tr(X⁻¹ dX)", transpose_invariant=True, code='xp.linalg.det({0})',
)
LOGDET = matrix_function(
    "logdet", _square_to_scalar, "the argument must be a square matrix",
    lambda c, d: TRACE(mul(INV(c.args[0]), d[0])),  # d log|det X| = tr(X⁻¹ dX)
    numpy=_np_logdet, sympy=lambda sp, a: sp.log(a.det()), latex=r"\log\det",
    rule="d log det(X) = tr(X⁻¹ dX)", domain="positive", transpose_invariant=True, code='_logdet({0})',
)
INV = matrix_function(
    "inv", _square_to_square, "only a square matrix has an inverse",
    lambda c, d: neg(mul(c, d[0], c)),  # d(X⁻¹) = −X⁻¹ dX X⁻¹
    numpy=lambda np, a: np.linalg.inv(a), sympy=lambda sp, a: a.inv(), latex="",
    rule="d(X⁻¹) = −X⁻¹ dX X⁻¹", domain="invertible", postfix=("⁻¹", "^-1", "^{-1}"),
    symmetric="preserves", invertible=_same_invertibility, identities=(_inverse_identities,), code='xp.linalg.inv({0})',
    code_apply='xp.linalg.solve({0}, {1})',
)
ADJ = matrix_function(
    # the adjugate (classical adjoint): adj(X) X = det(X) I; its differential is not in the table
    "adj", _square_to_square, "only a square matrix has an adjugate", None,
    numpy=_np_adj, sympy=lambda sp, a: a.adjugate() if a.rows > 1 else sp.Matrix([[1]]),
    latex=r"\operatorname{adj}", rule=None, aliases=("adjugate",), symmetric="preserves",
    invertible=_same_invertibility, identities=(_adjugate_of_scalar,), code='_adj({0})',
)
VEC = linear(
    "vec", _vec, "one matrix argument",
    numpy=lambda np, a: a.reshape(-1, 1, order="F"), sympy=_sp_vec, latex=r"\operatorname{vec}",
    adjoint=lambda e, c: c if e.args[0].shape[1] == 1 else Unvec(c, e.args[0].shape[0], e.args[0].shape[1]),
    vec_matrix=lambda e: None, rule="d vec(A) = vec(dA)",
    identities=(lambda c: c.args[0] if c.args[0].shape[1] == 1 else None,  # vec(x) = x
                lambda c: c.args[0].arg if isinstance(c.args[0], Unvec) else None),  # vec(vec⁻¹(a)) = a
    code="_vec({0})",
)


def _diag_selection(k: Any) -> Expr:
    """diag(vec I): picks the diagonal entries out of vec of a k×k matrix."""
    return DIAG(VEC(Identity(k)))


DIAG = linear(
    "diag", _vector_to_diagonal, "the argument must be a vector",
    numpy=lambda np, v: np.diag(v.ravel()), sympy=lambda sp, v: sp.diag(*list(v)), latex=r"\operatorname{diag}",
    adjoint=lambda e, c: DIAGV(c),
    # vec(diag(l)) = diag(vec I) (𝟏 ⊗ I) l: the entries of l on the diagonal
    vec_matrix=lambda e: mul(_diag_selection(e.shape[0]), Kron(Ones((e.shape[0], 1)), Identity(e.shape[0]))),
    rule="d diag(a) = diag(da)", symmetric="always",
    invertible=lambda c, invertible: isinstance(c.args[0], Var),
    latex_names=(r"\operatorname{Diag}", r"\mathrm{diag}", r"\mathrm{Diag}"), code='_diag({0})', code_apply='{0} * {1}', code_apply_right='{1} * {0}.T',
)
DIAGV = linear(
    "diagv", _diagonal_of_square, "the argument must be a square matrix", name="diag",
    numpy=lambda np, a: np.diag(a).reshape(-1, 1), sympy=lambda sp, a: sp.Matrix([a[i, i] for i in range(a.rows)]),
    latex=r"\operatorname{diag}", adjoint=lambda e, c: DIAG(c),
    # diag(L) = (𝟏ᵀ ⊗ I) diag(vec I) vec L: the diagonal entries of L
    vec_matrix=lambda e: mul(Kron(transpose(Ones((e.shape[0], 1))), Identity(e.shape[0])), _diag_selection(e.shape[0])),
    rule="d diag(A) = diag(dA)", transpose_invariant=True, code='_diagv({0})',
)
SUM = linear(
    "sum", _to_scalar, "one argument",
    numpy=lambda np, a: np.sum(a), sympy=lambda sp, a: sum(a), latex=r"\operatorname{sum}",
    adjoint=lambda e, c: mul(c, Ones(e.args[0].shape)),
    vec_matrix=lambda e: transpose(Ones((dim_mul(e.args[0].shape[0], e.args[0].shape[1]), 1))),
    rule="d sum(A) = sum(dA)", transpose_invariant=True, latex_names=(r"\sum",),
    identities=(_sum_of_diagonal_product, _sum_of_hadamard, _sum_of_kron), code='xp.sum({0})',
)
NORM = matrix_function(
    "norm", _to_scalar, "one argument",
    # d‖X‖ = tr(Xᵀ dX) / ‖X‖   (Euclidean norm of a vector, Frobenius norm of a matrix)
    lambda c, d: mul(power(c, -1), _inner(c.args[0], d[0])),
    numpy=lambda np, a: np.sqrt(np.sum(a * a)), sympy=lambda sp, a: sp.sqrt(sum(x**2 for x in a)),
    latex=r"\operatorname{norm}", rule="d‖X‖ = tr(Xᵀ dX) / ‖X‖",
    bars=("", ""), transpose_invariant=True, code='_norm({0})', code_squared='xp.sum({0} * {0})',
)


NORM2 = matrix_function(
    # MatrixCalculus.org's norm2: "Euclidean norm of a vector or Frobenius norm of a matrix"
    # (its documentation); of a matrix the parse says which norm it is (‖X‖₂ written with bars
    # is the spectral norm, which matcalc refuses)
    "norm2", _to_scalar, "one argument",
    lambda c, d: mul(power(NORM(c.args[0]), -1), _inner(c.args[0], d[0])),  # d‖x‖ = xᵀ dx / ‖x‖
    numpy=lambda np, a: np.sqrt(np.sum(a * a)), sympy=lambda sp, a: sp.sqrt(sum(x**2 for x in a)),
    latex=r"\operatorname{norm2}", rule="d‖X‖ = tr(Xᵀ dX) / ‖X‖",
    identities=(lambda c: NORM(c.args[0]),),  # norm2(X) = ‖X‖ (Frobenius)
    reading=lambda c: None if 1 in c.args[0].shape else (
        "norm2 of a matrix is its Frobenius norm ‖X‖_F, as on MatrixCalculus.org (not the spectral norm, "
        "which matcalc does not have)"),
    code="_norm({0})", code_squared="xp.sum({0} * {0})",
)
NORM1 = matrix_function(
    "norm1", _to_scalar, "one argument",
    lambda c, d: _inner(SIGN(c.args[0]), d[0]),  # d‖x‖₁ = sign(x)ᵀ dx (where no entry is 0)
    numpy=lambda np, a: np.sum(np.abs(a)), sympy=lambda sp, a: sum(sp.Abs(x) for x in a),
    latex=r"\operatorname{norm1}", rule="d‖x‖₁ = sign(x)ᵀ dx", bars=("₁", "_1"), transpose_invariant=True,
    kink=True, code='xp.sum(xp.abs({0}))',
)
SOFTMAX = matrix_function(
    "softmax", _same, "one argument (a vector, or a matrix column by column)", _d_softmax,
    numpy=_np_softmax, sympy=_sp_softmax, latex=r"\operatorname{softmax}",
    rule="d softmax(z) = (diag(p) − p pᵀ) dz", code='_softmax({0})',
    reading=lambda c: None if 1 in c.args[0].shape else (
        "softmax of the matrix {arg} normalises each column (each column sums to 1); for the rows, "
        "as attention normalises them, write softmax(({arg})ᵀ)ᵀ"),
)
LOGSUMEXP = matrix_function(
    "logsumexp", _column_to_scalar, "the argument must be a column vector (of a matrix Z, logsumexp of each "
    "column is log(𝟏ᵀ exp(Z)), of each row log(exp(Z) 𝟏))",
    lambda c, d: mul(transpose(SOFTMAX(c.args[0])), d[0]),  # d logsumexp(z) = softmax(z)ᵀ dz
    numpy=_np_logsumexp, sympy=lambda sp, z: sp.log(sum(sp.exp(v) for v in z)),
    latex=r"\operatorname{logsumexp}", rule="d logsumexp(z) = softmax(z)ᵀ dz", aliases=("lse",), code='_logsumexp({0})',
)


# ------------------------------------------------------------------------------ queries


def vec_of(e: Expr) -> Expr:
    """vec(e), with vec(x) = x for a column vector and vec(xᵀ) = x for a row."""
    if e.shape[1] == 1:
        return e
    if e.shape[0] == 1:
        return transpose(e)
    return VEC(e)


def inner(a: Expr, b: Expr) -> Expr:
    """The Frobenius inner product ⟨A, B⟩ = tr(Aᵀ B) (aᵀ b for column vectors)."""
    return _inner(a, b)


def lookup(name: str) -> Function | None:
    """The row a name typed by a user refers to (``trace`` → tr, ``σ`` → sigmoid)."""
    return _BY_NAME.get(name)


def rows_named(name: str) -> list[Function]:
    """Every row printed with ``name``: diag has two (vector → matrix, matrix → vector),
    and the parser picks by the argument's shape."""
    return [f for f in TABLE.values() if f.name == name]


def lookup_latex(command: str) -> Function | None:
    r"""The row a LaTeX spelling refers to: ``\ln`` → log, ``\operatorname{erf}`` → erf,
    ``\mathrm{tr}`` → tr; None for anything else."""
    hit = _BY_LATEX.get(command.replace(" ", ""))
    if hit is not None:
        return hit
    for head in ("\\operatorname{", "\\mathrm{", "\\text{", "\\mathop{", "\\textrm{", "\\rm{"):
        if command.startswith(head) and command.endswith("}"):
            return lookup(command[len(head):-1].strip())
    if command.startswith("\\"):
        return lookup(command[1:])
    return None


def names() -> list[str]:
    """Every name a user can call: the rows' names and aliases, and the other built-ins."""
    return sorted({*_BY_NAME, "kron", "grad", "jac", "ones", "zeros", "unvec", "vector", "matrix"})


def derivative(fn: Function, arg: Expr) -> Expr | None:
    """f′(arg) for an elementwise row (what ``f'(x)`` means when typed), else None."""
    return fn.prime(arg) if fn.elementwise and fn.prime is not None else None


def inverse_arg(e: Expr) -> Expr | None:
    """M when ``e`` is M⁻¹ (the call of the inverse row), else None."""
    return e.args[0] if isinstance(e, Call) and e.fn is INV else None


def adjugate_arg(e: Expr) -> Expr | None:
    """M when ``e`` is adj(M), else None."""
    return e.args[0] if isinstance(e, Call) and e.fn is ADJ else None


def vec_arg(e: Expr) -> Expr | None:
    """X when ``e`` is vec(X), else None."""
    return e.args[0] if isinstance(e, Call) and e.fn is VEC else None


def trace_arg(e: Expr) -> Expr | None:
    """A when ``e`` is tr(A), else None."""
    return e.args[0] if isinstance(e, Call) and e.fn is TRACE else None


def diagonal_arg(e: Expr) -> Expr | None:
    """v when ``e`` is the diagonal matrix diag(v), else None."""
    return e.args[0] if isinstance(e, Call) and e.fn is DIAG else None


def is_symmetric_call(e: Expr, symmetric: Callable[[Expr], bool]) -> bool:
    """Is the call ``e`` a symmetric matrix, given a test for its argument?"""
    if not isinstance(e, Call) or e.fn.symmetric is None:
        return False
    return e.fn.symmetric == "always" or symmetric(e.args[0])


def inverted_matrix(e: Expr) -> Expr | None:
    """M when ``e`` needs M invertible to be defined: M⁻¹, logdet(M), log det(M), det(M)⁻¹."""
    if isinstance(e, Call) and e.fn in (INV, LOGDET):
        return e.args[0]
    if isinstance(e, Call) and e.fn is LOG and isinstance(e.args[0], Call) and e.args[0].fn is DET:
        return e.args[0].args[0]  # log det(M) needs det(M) > 0
    if isinstance(e, Power) and isinstance(e.base, Call) and e.base.fn is DET \
            and isinstance(e.exponent, Num) and e.exponent.value < 0:
        return e.base.args[0]  # 1 / det(M)
    return None


def adjugate_over_det(scalars: list[Expr], chain: list[Expr]) -> tuple[list[Expr], list[Expr]] | None:
    """adj(M) / det(M) = M⁻¹ in a product (scalar factors and the matrix chain): where
    det(M) divides, M is invertible (log det(XᵀX) has the gradient 2 X (XᵀX)⁻¹, not
    2 X adj(XᵀX) / det(XᵀX)).  The chain's factor becomes M⁻¹ (or its transpose)."""
    for i, s in enumerate(scalars):
        if not (isinstance(s, Power) and s.exponent == Num(Fraction(-1))
                and isinstance(s.base, Call) and s.base.fn is DET):
            continue
        m = s.base.args[0]
        for j, f in enumerate(chain):
            transposed = isinstance(f, Transpose)
            g = f.arg if transposed else f
            if isinstance(g, Call) and g.fn is ADJ and g.args[0] == m:
                inverse = transpose(INV(m)) if transposed else INV(m)
                return scalars[:i] + scalars[i + 1:], [*chain[:j], inverse, *chain[j + 1:]]
    return None


def softmax_of_ratio(scalars: list[Expr], chain: list[Expr]) -> tuple[list[Expr], list[Expr]] | None:
    """exp(z) / (𝟏ᵀ exp(z)) = exp(z) / sum(exp(z)) = softmax(z) in a product (scalar factors and the chain): the
    gradient of log(𝟏ᵀ exp(z)) reads as the textbook softmax(z)."""
    for i, s in enumerate(scalars):
        if not (isinstance(s, Power) and s.exponent == Num(Fraction(-1))):
            continue
        b = s.base
        if isinstance(b, MatMul) and len(b.factors) == 2 and isinstance(b.factors[0], Transpose) \
                and isinstance(b.factors[0].arg, Ones):
            e = b.factors[1]  # 𝟏ᵀ exp(z)
        elif isinstance(b, Call) and b.fn is SUM:
            e = b.args[0]  # sum(exp(z))
        else:
            continue
        if not (isinstance(e, Call) and e.fn is EXP and e.shape[1] == 1 and e in chain):
            continue
        j = chain.index(e)
        return scalars[:i] + scalars[i + 1:], [*chain[:j], SOFTMAX(e.args[0]), *chain[j + 1:]]
    return None


def _divisors(factors: list[Expr]) -> set[Expr]:
    return {g.base for g in factors if isinstance(g, Power) and isinstance(g.exponent, Num) and g.exponent.value < 0}


def _one(e: Expr) -> Expr:
    return num(1) if e.is_scalar else Ones(e.shape)


def sigmoid_prime_cancels(factors: list[Expr], norm: Callable[[Expr], Expr]) -> list[Expr]:
    """σ′(z) = σ(z) ⊙ (𝟏 − σ(z)), used in an elementwise product (or a product of scalars)
    where it cancels: σ′(z) ./ σ(z) = 𝟏 − σ(z) and σ′(z) ./ (𝟏 − σ(z)) = σ(z), as in the
    gradient of the logistic log-likelihood.  ``norm`` brings the factors built here to
    normal form."""
    out = list(factors)
    for i, f in enumerate(out):
        if not (isinstance(f, Call) and f.fn is SIGMOID_PRIME):
            continue
        sig = norm(SIGMOID(f.args[0]))
        one_minus = norm(Add((_one(sig), MatMul((Num(Fraction(-1)), sig)))))
        dividers = _divisors(out)
        if sig in dividers or one_minus in dividers:
            out[i:i + 1] = [sig, one_minus]
    return out


def _quotient(numerator: Function, denominator: Callable[[Call], Expr],
              result: Callable[[Expr], Expr]) -> Callable[..., list[Expr]]:
    """f(z) ./ g(z) = h(z) in an elementwise product (or a product of scalars): a factor
    f(z), a factor ``denominator(f(z))``⁻¹, replaced by ``result(z)``; and their powers,
    f(z).^k ⊙ g(z).^-k = h(z).^k."""

    def identity(factors: list[Expr], norm: Callable[[Expr], Expr]) -> list[Expr]:
        for i, f in enumerate(factors):
            top, k = (f.base, f.exponent.value) if isinstance(f, Power) and isinstance(f.exponent, Num) else (f, 1)
            if not (isinstance(top, Call) and top.fn is numerator):
                continue
            below = norm(denominator(top))
            for j, g in enumerate(factors):
                if isinstance(g, Power) and g.exponent == Num(Fraction(-k)) and g.base == below:
                    h = norm(result(top.args[0]))
                    h = h if k == 1 else norm(Power(h, Num(Fraction(k))))
                    return [h if m == i else x for m, x in enumerate(factors) if m != j]
        return factors

    return identity


#: exp(z) ./ (𝟏 + exp(z)) = σ(z): the gradient of sum(log(1 + exp(X w))) is Xᵀ σ(X w)
logistic_of_ratio = _quotient(EXP, lambda f: Add((_one(f), f)), lambda z: SIGMOID(z))
#: sinh(z) ./ cosh(z) = tanh(z)
tanh_of_ratio = _quotient(SINH, lambda f: COSH(f.args[0]), lambda z: TANH(z))
#: sign(z) ./ abs(z) = 1 ./ z (where z has no zero entry): d log|u| = du / u
sign_over_abs = _quotient(SIGN, lambda f: ABS(f.args[0]), lambda z: power(z, -1))

#: identities of a product's factors (elementwise, or scalars), each ``(factors, norm) → factors``
FACTOR_IDENTITIES = (sigmoid_prime_cancels, logistic_of_ratio, tanh_of_ratio, sign_over_abs)


_BY_NAME: dict[str, Function] = {}
_BY_LATEX: dict[str, Function] = {}
for _f in TABLE.values():
    if _f is DIAGV:  # typed diag(A) of a matrix: the parser picks this row by the argument's shape
        continue
    for _n in (_f.name, _f.unicode, *_f.aliases):
        if _n and not _n.endswith(("'", "′")):
            _BY_NAME[_n] = _f
    for _n in (_f.latex, *_f.latex_names):
        if _n and not _n.endswith("'"):
            _BY_LATEX.setdefault(_n.replace(" ", ""), _f)
