"""The identity table: (expression, wrt, textbook answer, source, declarations, oracle).

``expected`` is the gradient (scalar expressions, denominator layout: the shape of the
variable) or the Jacobian DF (vector and matrix expressions, vec dF = J vec dX), exactly
as matcalc prints it.  ``oracle`` is the expression written again in NumPy, with its
variables' shapes and domains (:class:`oracle.Oracle`): every row is checked against
central finite differences of that function, never of matcalc's reading of the text.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from oracle import Oracle, det, erf, inv, logdet, logsumexp, norm, ones, sigmoid, softmax, softplus, tr, vec


class Row(NamedTuple):
    expr: str
    wrt: str
    expected: str
    source: str
    where: str | None = None
    oracle: Oracle | None = None


SEED_000 = "seed 000 (Wu, linear layer)"
SEED_001 = "seed 001 (Magnus–Neudecker walk-through)"
SEED_002 = "seed 002 (identity tables)"
COOKBOOK = "Matrix Cookbook"

# the NumPy of expressions several rows share
QUADRATIC = Oracle("x: m, A: m×m", lambda v: v.x.T @ v.A @ v.x)
LAYER = Oracle("W: m×n, x: n, b: m, L: function", lambda v: v.L(v.W @ v.x + v.b))
BATCH = Oracle("W: m×n, X: n×p, b: m, L: function", lambda v: v.L(v.W @ v.X + v.b @ ones(1, v.X.shape[1])))
SOFTMAX = Oracle("z: m", lambda v: softmax(v.z))
CROSS_ENTROPY = Oracle("y: m, z: m", lambda v: -v.y.T @ np.log(softmax(v.z)))
LOGSUMEXP = Oracle("z: m", lambda v: logsumexp(v.z))
LOGDET = Oracle("X: m×m spd", lambda v: logdet(v.X))
NORM = Oracle("x: m", lambda v: norm(v.x))
SQUARED_NORM = Oracle("x: m", lambda v: np.sum(v.x ** 2))
FROBENIUS = Oracle("X: m×n", lambda v: norm(v.X))
L1 = Oracle("x: m", lambda v: np.sum(np.abs(v.x)))
L1_RESIDUAL = Oracle("A: m×n, x: n, b: m", lambda v: np.sum(np.abs(v.A @ v.x - v.b)))
LEAST_SQUARES = Oracle("A: m×n, x: n, b: m", lambda v: np.sum((v.A @ v.x - v.b) ** 2))
LEAST_SQUARES_XW = Oracle("X: m×n, w: n, y: m", lambda v: np.sum((v.X @ v.w - v.y) ** 2))
DOT = Oracle("a: m, x: m", lambda v: v.a.T @ v.x)
TRACE_AX = Oracle("A: m×n, X: m×n", lambda v: tr(v.A.T @ v.X))
RIDGE = Oracle("lambda: scalar, w: m", lambda v: v["lambda"] * (v.w.T @ v.w))


def _sum(fn) -> Oracle:
    """sum(fn(x)) for an elementwise fn."""
    return Oracle("x: m", lambda v: np.sum(fn(v.x)))


def _positive_sum(fn) -> Oracle:
    return Oracle("x: m positive", lambda v: np.sum(fn(v.x)))


ROWS: list[Row] = [
    # ---- seed 002: scalar by vector (denominator layout) -------------------------------
    Row("a' x", "x", "a", SEED_002 + ", scalar by vector", None, DOT),
    Row("x' a", "x", "a", SEED_002 + ", scalar by vector", None, Oracle("x: m, a: m", lambda v: v.x.T @ v.a)),
    Row("x' x", "x", "2 x", SEED_002 + ", scalar by vector", None, Oracle("x: m", lambda v: v.x.T @ v.x)),
    Row("x' A x", "x", "(A + Aᵀ) x", SEED_002 + ", scalar by vector", None, QUADRATIC),
    Row("x' A x", "x", "2 A x", SEED_002 + ", scalar by vector (symmetric A)", "A: n×n symmetric",
        Oracle("x: n, A: n×n symmetric", lambda v: v.x.T @ v.A @ v.x)),
    # ---- seed 002: vector by vector (Jacobian) -----------------------------------------
    Row("A x", "x", "A", SEED_002 + ", vector by vector", None, Oracle("A: m×n, x: n", lambda v: v.A @ v.x)),
    Row("x", "x", "Iₘ", SEED_002 + ", vector by vector", None, Oracle("x: m", lambda v: v.x)),
    Row("σ(x)", "x", "diag(σ′(x))", SEED_002 + ", vector by vector (elementwise)", None,
        Oracle("x: m", lambda v: sigmoid(v.x))),
    Row("sigmoid(x)", "x", "diag(σ′(x))", SEED_002 + ", vector by vector (ASCII name)", None,
        Oracle("x: m", lambda v: sigmoid(v.x))),
    # ---- seed 002: scalar by matrix ------------------------------------------------------
    Row("tr(A)", "A", "Iₘ", SEED_002 + ", scalar by matrix", None, Oracle("A: m×m", lambda v: tr(v.A))),
    Row("tr(A B)", "A", "Bᵀ", SEED_002 + ", scalar by matrix", None,
        Oracle("A: m×n, B: n×m", lambda v: tr(v.A @ v.B))),
    Row("tr(A' B)", "A", "B", SEED_002 + ", scalar by matrix", None,
        Oracle("A: m×n, B: m×n", lambda v: tr(v.A.T @ v.B))),
    # seed 002 prints (B + Bᵀ)Aᵀ, the numerator-layout (transposed) form of this gradient
    Row("tr(A B A')", "A", "A (B + Bᵀ)", SEED_002 + ", scalar by matrix (corrected to denominator layout)", None,
        Oracle("A: m×n, B: n×n", lambda v: tr(v.A @ v.B @ v.A.T))),
    Row("logdet(A)", "A", "A⁻ᵀ", SEED_002 + ", scalar by matrix", None, Oracle("A: m×m spd", lambda v: logdet(v.A))),
    Row("a' A b", "A", "a bᵀ", SEED_002 + ", scalar by matrix", None,
        Oracle("a: m, A: m×n, b: n", lambda v: v.a.T @ v.A @ v.b)),
    # ---- chain rule and the linear layer (seeds 000, 001, 002) ---------------------------
    Row("f(A x + b)", "x", "Aᵀ ∇f(A x + b)", SEED_002 + ", chain rule", None,
        Oracle("A: m×n, x: n, b: m, f: function", lambda v: v.f(v.A @ v.x + v.b))),
    Row("L(W x + b)", "W", "∇L(W x + b) xᵀ", SEED_001 + "; seed 000 eq. (16); seed 002 linear layer", None, LAYER),
    Row("L(W x + b)", "b", "∇L(W x + b)", "seed 000 eq. (19); seed 002 linear layer", None, LAYER),
    Row("L(W x + b)", "x", "Wᵀ ∇L(W x + b)", "seed 000 eq. (24); seed 002 linear layer", None, LAYER),
    Row("L(W X + b 1ᵀ)", "W", "∇L(W X + b 𝟏ᵀ) Xᵀ", SEED_000 + ", batch, eq. (29)", None, BATCH),
    Row("L(W X + b 1ᵀ)", "X", "Wᵀ ∇L(W X + b 𝟏ᵀ)", SEED_000 + ", batch, eq. (30)", None, BATCH),
    Row("L(W X + b 1ᵀ)", "b", "∇L(W X + b 𝟏ᵀ) 𝟏", SEED_000 + ", batch: the bias gradient sums the columns", None,
        BATCH),
    Row("L(σ(x))", "x", "σ′(x) ⊙ ∇L(σ(x))", SEED_002 + ", elementwise operations", None,
        Oracle("x: m, L: function", lambda v: v.L(sigmoid(v.x)))),
    Row("L(f(W x))", "W", "(f′(W x) ⊙ ∇L(f(W x))) xᵀ", "chain rule through an elementwise layer", "f: elementwise",
        Oracle("W: m×n, x: n, L: function, f: elementwise", lambda v: v.L(v.f(v.W @ v.x)))),
    Row("L(g(x))", "x", "∂g(x)ᵀ ∇L(g(x))", "chain rule through a vector function", "g: vector function m",
        Oracle("x: n, L: function, g: function m", lambda v: v.L(v.g(v.x)))),
    # ---- softmax (seed 002) --------------------------------------------------------------
    Row("softmax(z)", "z", "diag(softmax(z)) − softmax(z) softmax(z)ᵀ", SEED_002 + ", softmax Jacobian", None,
        SOFTMAX),
    Row("-y' log(softmax(z))", "z", "(𝟏ᵀ y) softmax(z) − y",
        SEED_002 + ", softmax with cross-entropy (= p − y when 1ᵀy = 1)", None, CROSS_ENTROPY),
    # ---- vec and Kronecker (seed 001) -----------------------------------------------------
    Row("A X B", "X", "Bᵀ ⊗ A", SEED_001 + ", vec(AXB) = (Bᵀ ⊗ A) vec X", None,
        Oracle("A: m×n, X: n×p, B: p×q", lambda v: v.A @ v.X @ v.B)),
    Row("W x + b", "W", "xᵀ ⊗ Iₘ", SEED_001 + ", D(W x + b) = xᵀ ⊗ I", None,
        Oracle("W: m×n, x: n, b: m", lambda v: v.W @ v.x + v.b)),
    Row("A X", "X", "Iₚ ⊗ A", "vec(A X) = (I ⊗ A) vec X", None, Oracle("A: m×n, X: n×p", lambda v: v.A @ v.X)),
    Row("X B", "X", "Bᵀ ⊗ Iₘ", "vec(X B) = (Bᵀ ⊗ I) vec X", None, Oracle("X: m×n, B: n×p", lambda v: v.X @ v.B)),
    Row("X'", "X", "K_{m,n}", "Magnus–Neudecker: vec Xᵀ = K vec X", None, Oracle("X: m×n", lambda v: v.X.T)),
    Row("X ⊙ A", "X", "diag(vec(A))", "vec(A ⊙ X) = diag(vec A) vec X", None,
        Oracle("X: m×n, A: m×n", lambda v: v.X * v.A)),
    Row("x ⊙ a", "x", "diag(a)", "Hadamard product with a vector", None, Oracle("x: m, a: m", lambda v: v.x * v.a)),
    Row("exp(x)", "x", "diag(exp(x))", "elementwise exp", None, Oracle("x: m", lambda v: np.exp(v.x))),
    Row("inv(X)", "X", "−(X⁻ᵀ ⊗ X⁻¹)", "Magnus–Neudecker: d X⁻¹ = −X⁻¹ dX X⁻¹", None,
        Oracle("X: m×m invertible", lambda v: inv(v.X))),
    Row("(x' x) a", "x", "2 a xᵀ", "scalar times a vector", None,
        Oracle("x: m, a: n", lambda v: (v.x.T @ v.x) * v.a)),
    Row("x' A", "x", "Aᵀ", "a row vector: vec(xᵀ A) = Aᵀ x", None, Oracle("x: m, A: m×n", lambda v: v.x.T @ v.A)),
    Row("softmax(W x)", "x", "(diag(softmax(W x)) − softmax(W x) softmax(W x)ᵀ) W", "softmax of a linear layer", None,
        Oracle("W: m×n, x: n", lambda v: softmax(v.W @ v.x))),
    Row("lambda A", "lambda", "vec(A)", "derivative with respect to a scalar", None,
        Oracle("lambda: scalar, A: m×n", lambda v: v["lambda"] * v.A)),
    # ---- Matrix Cookbook: determinants and inverses ---------------------------------------
    Row("det(X)", "X", "det(X) X⁻ᵀ", COOKBOOK + " (49)", None, Oracle("X: m×m invertible", lambda v: det(v.X))),
    Row("logdet(X)", "X", "X⁻ᵀ", COOKBOOK + " (57)", None, LOGDET),
    Row("logdet(X)", "X", "X⁻¹", COOKBOOK + " (57), symmetric X", "X: n×n symmetric",
        Oracle("X: n×n symmetric spd", lambda v: logdet(v.X))),
    Row("det(A X B)", "X", "det(A X B) Aᵀ (A X B)⁻ᵀ Bᵀ", COOKBOOK + " (51)", "A: n×n, B: n×n",
        Oracle("A: n×n invertible, X: n×n invertible, B: n×n invertible", lambda v: det(v.A @ v.X @ v.B))),
    Row("a' inv(X) b", "X", "−X⁻ᵀ a bᵀ X⁻ᵀ", COOKBOOK + " (61)", None,
        Oracle("a: m, X: m×m invertible, b: m", lambda v: v.a.T @ inv(v.X) @ v.b)),
    Row("tr(A inv(X) B)", "X", "−X⁻ᵀ Aᵀ Bᵀ X⁻ᵀ", COOKBOOK + " (124)", None,
        Oracle("A: m×n, X: n×n invertible, B: n×m", lambda v: tr(v.A @ inv(v.X) @ v.B))),
    # ---- Matrix Cookbook: traces -----------------------------------------------------------
    Row("tr(X)", "X", "Iₘ", COOKBOOK + " (100)", None, Oracle("X: m×m", lambda v: tr(v.X))),
    Row("tr(X A)", "X", "Aᵀ", COOKBOOK + " (101)", None, Oracle("X: m×n, A: n×m", lambda v: tr(v.X @ v.A))),
    Row("tr(A X B)", "X", "Aᵀ Bᵀ", COOKBOOK + " (102)", None,
        Oracle("A: p×m, X: m×n, B: n×p", lambda v: tr(v.A @ v.X @ v.B))),
    Row("tr(A X' B)", "X", "B A", COOKBOOK + " (103)", None,
        Oracle("A: p×n, X: m×n, B: m×p", lambda v: tr(v.A @ v.X.T @ v.B))),
    Row("tr(X' A)", "X", "A", COOKBOOK + " (105)", None, Oracle("X: m×n, A: m×n", lambda v: tr(v.X.T @ v.A))),
    Row("tr(X' X)", "X", "2 X", COOKBOOK + " (113)", None, Oracle("X: m×n", lambda v: tr(v.X.T @ v.X))),
    Row("tr(X A X')", "X", "X (A + Aᵀ)", COOKBOOK + " (117)", None,
        Oracle("X: m×n, A: n×n", lambda v: tr(v.X @ v.A @ v.X.T))),
    Row("tr(X' A X)", "X", "(A + Aᵀ) X", COOKBOOK + " (115)", None,
        Oracle("X: m×n, A: m×m", lambda v: tr(v.X.T @ v.A @ v.X))),
    Row("tr(A X B X')", "X", "A X B + Aᵀ X Bᵀ", COOKBOOK + " (118)", None,
        Oracle("A: m×m, X: m×n, B: n×n", lambda v: tr(v.A @ v.X @ v.B @ v.X.T))),
    Row("tr(X^2)", "X", "2 Xᵀ", COOKBOOK + " (106)", None, Oracle("X: m×m", lambda v: tr(v.X @ v.X))),
    Row("tr(X^3)", "X", "3 (Xᵀ)²", COOKBOOK + " (107), k = 3", None, Oracle("X: m×m", lambda v: tr(v.X @ v.X @ v.X))),
    Row("tr(inv(X))", "X", "−(X⁻ᵀ)²", COOKBOOK + " (I.4 tr X⁻¹)", None,
        Oracle("X: m×m invertible", lambda v: tr(inv(v.X)))),
    Row("tr(kron(A, X))", "X", "tr(A) Iₙ", COOKBOOK + " (trace of a Kronecker product)", "A: p×p, X: n×n",
        Oracle("A: p×p, X: n×n", lambda v: tr(np.kron(v.A, v.X)))),
    # ---- Matrix Cookbook: quadratic and bilinear forms --------------------------------------
    Row("a' X' b", "X", "b aᵀ", COOKBOOK + " (70)", None, Oracle("a: n, X: m×n, b: m", lambda v: v.a.T @ v.X.T @ v.b)),
    Row("a' X' X b", "X", "X (a bᵀ + b aᵀ)", COOKBOOK + " (77)", None,
        Oracle("a: n, X: m×n, b: n", lambda v: v.a.T @ v.X.T @ v.X @ v.b)),
    Row("b' X' D X c", "X", "D X c bᵀ + Dᵀ X b cᵀ", COOKBOOK + " (82)", None,
        Oracle("b: m, X: n×m, D: n×n, c: m", lambda v: v.b.T @ v.X.T @ v.D @ v.X @ v.c)),
    Row("(A x + b)' C (D x + e)", "x", "Aᵀ C (D x + e) + Dᵀ Cᵀ (A x + b)", COOKBOOK + " (89)", None,
        Oracle("A: m×n, x: n, b: m, C: m×p, D: p×n, e: p", lambda v: (v.A @ v.x + v.b).T @ v.C @ (v.D @ v.x + v.e))),
    Row("x' B' C B x", "x", "Bᵀ (C + Cᵀ) B x", "quadratic form through a linear map", None,
        Oracle("x: m, B: n×m, C: n×n", lambda v: v.x.T @ v.B.T @ v.C @ v.B @ v.x)),
    Row("(x' x)^2", "x", "4 (xᵀ x) x", "power of a scalar", None, Oracle("x: m", lambda v: (v.x.T @ v.x) ** 2)),
    Row("lambda * w' w", "w", "2 lambda w", "ridge penalty", None, RIDGE),
    Row("lambda * w' w", "lambda", "wᵀ w", "derivative with respect to a scalar", None, RIDGE),
    # ---- norms -----------------------------------------------------------------------------
    Row("norm(x)", "x", "x / ‖x‖", COOKBOOK + " (129)", None, NORM),
    Row("norm(x)^2", "x", "2 x", COOKBOOK + " (131)", None, SQUARED_NORM),
    Row("‖x - a‖", "x", "(x − a) / ‖x − a‖", COOKBOOK + " (129), shifted", None,
        Oracle("x: m, a: m", lambda v: norm(v.x - v.a))),
    Row("norm(A x - b)^2", "x", "2 Aᵀ (A x − b)", "least squares", None, LEAST_SQUARES),
    Row("norm(X)", "X", "X / ‖X‖", COOKBOOK + " Frobenius norm", None, FROBENIUS),
    Row("norm(X)^2", "X", "2 X", COOKBOOK + " (145)", None, Oracle("X: m×n", lambda v: np.sum(v.X ** 2))),
    Row("norm1(x)", "x", "sign(x)", "ℓ₁ norm (MatrixCalculus.org's norm1)", None, L1),
    Row("norm1(A x - b)", "x", "Aᵀ sign(A x − b)", "least absolute deviations", None, L1_RESIDUAL),
    Row("norm2(A x - b)^2", "x", "2 Aᵀ (A x − b)", "least squares, MatrixCalculus.org's norm2", None, LEAST_SQUARES),
    # ---- softmax and logsumexp -------------------------------------------------------------
    Row("logsumexp(z)", "z", "softmax(z)", "log-sum-exp: its gradient is the softmax", None, LOGSUMEXP),
    Row("logsumexp(W x)", "W", "softmax(W x) xᵀ", "log-partition of a linear model", None,
        Oracle("W: m×n, x: n", lambda v: logsumexp(v.W @ v.x))),
    Row("log(sum(exp(z)))", "z", "softmax(z)", "log-sum-exp written out: exp(z)/sum(exp(z)) = softmax(z)", None,
        Oracle("z: m", lambda v: np.log(np.sum(np.exp(v.z))))),
    Row("-y' z + log(1' exp(z))", "z", "softmax(z) − y", "cross-entropy with the log-partition written 1ᵀ exp(z)",
        None, Oracle("y: m, z: m", lambda v: -v.y.T @ v.z + np.log(ones(len(v.z)).T @ np.exp(v.z)))),
    Row("-y' log(softmax(z))", "z", "(𝟏ᵀ y) softmax(z) − y", "cross-entropy: log softmax(z) = z − 𝟏 logsumexp(z)",
        None, CROSS_ENTROPY),
    Row("softmax(z)", "z", "diag(softmax(z)) − softmax(z) softmax(z)ᵀ", "softmax Jacobian", None, SOFTMAX),
    Row("tr(A' softmax(Z))", "Z", "softmax(Z) ⊙ (A − (𝟏 𝟏ᵀ) (A ⊙ softmax(Z)))", "softmax of a matrix, column by column",
        None, Oracle("A: m×n, Z: m×n", lambda v: tr(v.A.T @ softmax(v.Z)))),
    Row("sum(log(softmax(Z)))", "Z", "1 − m softmax(Z)", "log-softmax of a batch: (𝟏𝟏ᵀ)(𝟏𝟏ᵀ) = m 𝟏𝟏ᵀ", None,
        Oracle("Z: m×n", lambda v: np.sum(np.log(softmax(v.Z))))),
    Row("sum(log(softmax(z)))", "z", "1 − m softmax(z)", "sum of log-softmax (m = the length of z)", None,
        Oracle("z: m", lambda v: np.sum(np.log(softmax(v.z))))),
    # ---- elementwise functions and Hadamard products ----------------------------------------
    Row("sum(exp(X))", "X", "exp(X)", "elementwise exp", None, Oracle("X: m×n", lambda v: np.sum(np.exp(v.X)))),
    Row("sum(log(x))", "x", "x.^-1", "elementwise log", None, _positive_sum(np.log)),
    Row("sum(sin(x))", "x", "cos(x)", "elementwise sin", None, _sum(np.sin)),
    Row("sum(cos(x))", "x", "−sin(x)", "elementwise cos", None, _sum(np.cos)),
    Row("sum(tanh(x))", "x", "tanh′(x)", "elementwise tanh", None, _sum(np.tanh)),
    Row("sum(sqrt(x))", "x", "sqrt(x).^-1 / 2", "elementwise sqrt", None, _positive_sum(np.sqrt)),
    Row("sum(abs(x))", "x", "sign(x)", "elementwise abs: abs′ = sign", None, _sum(np.abs)),
    Row("sum(relu(x))", "x", "relu′(x)", "elementwise relu (step)", None, _sum(lambda x: np.maximum(x, 0))),
    Row("sum(cosh(x))", "x", "sinh(x)", "elementwise cosh (cosh′ = sinh)", None, _sum(np.cosh)),
    Row("sum(sinh(x))", "x", "cosh(x)", "elementwise sinh (sinh′ = cosh)", None, _sum(np.sinh)),
    Row("sum(tan(x))", "x", "1 + tan(x).^2", "elementwise tan (tan′ = 1 + tan²)", None, _sum(np.tan)),
    Row("sum(arctan(x))", "x", "(1 + x.^2).^-1", "elementwise arctan (1/(1 + x²))", None, _sum(np.arctan)),
    Row("sum(log1p(x))", "x", "(1 + x).^-1", "elementwise log1p (1/(1 + x))", None, _positive_sum(np.log1p)),
    Row("sum(expm1(x))", "x", "exp(x)", "elementwise expm1 (expm1′ = exp)", None, _sum(np.expm1)),
    Row("a' sign(x)", "x", "𝟎_{m,1}", "sign: zero derivative where no entry is 0", None,
        Oracle("a: m, x: m", lambda v: v.a.T @ np.sign(v.x))),
    Row("sum(erf(x))", "x", "erf′(x)", "elementwise erf (erf′(x) = 2 exp(−x²)/√π)", None, _sum(erf)),
    Row("erf(x)", "x", "diag(erf′(x))", "elementwise erf, Jacobian", None, Oracle("x: m", lambda v: erf(v.x))),
    Row("tanh(A x)", "x", "diag(tanh′(A x)) A", "elementwise tanh of a linear map, Jacobian", None,
        Oracle("A: m×n, x: n", lambda v: np.tanh(v.A @ v.x))),
    Row("sum(softplus(X w)) - y' X w", "w", "Xᵀ (σ(X w) − y)", "logistic regression loss", None,
        Oracle("X: m×n, w: n, y: m", lambda v: np.sum(softplus(v.X @ v.w)) - v.y.T @ v.X @ v.w)),
    Row("y' log(σ(X w)) + (1 - y)' log(1 - σ(X w))", "w", "Xᵀ (y − σ(X w))",
        "logistic regression log-likelihood (σ′ = σ ⊙ (𝟏 − σ))", None,
        Oracle("y: m, X: m×n, w: n",
               lambda v: v.y.T @ np.log(sigmoid(v.X @ v.w)) + (1 - v.y).T @ np.log(1 - sigmoid(v.X @ v.w)))),
    Row("sum(log(σ(x)))", "x", "1 − σ(x)", "log-sigmoid", None, _sum(lambda x: np.log(sigmoid(x)))),
    Row("sum(A ⊙ X)", "X", "A", "Hadamard product", None, Oracle("A: m×n, X: m×n", lambda v: np.sum(v.A * v.X))),
    Row("sum(X ⊙ X)", "X", "2 X", "Hadamard square", None, Oracle("X: m×n", lambda v: np.sum(v.X * v.X))),
    Row("a' (x ⊙ x)", "x", "2 a ⊙ x", "weighted squares", None, Oracle("a: m, x: m", lambda v: v.a.T @ (v.x * v.x))),
    Row("sum(x .^ 3)", "x", "3 x.^2", "elementwise power", None, _sum(lambda x: x ** 3)),
    Row("sum(x ./ y)", "x", "y.^-1", "elementwise division", None,
        Oracle("x: m, y: m positive", lambda v: np.sum(v.x / v.y))),
    Row("sum(f(X))", "X", "f′(X)", "abstract elementwise function", "f: elementwise",
        Oracle("X: m×n, f: elementwise", lambda v: np.sum(v.f(v.X)))),
    Row("L(relu(W x))", "W", "(relu′(W x) ⊙ ∇L(relu(W x))) xᵀ", "ReLU layer", None,
        Oracle("W: m×n, x: n, L: function", lambda v: v.L(np.maximum(v.W @ v.x, 0)))),
    # ---- vec, diag, sum ------------------------------------------------------------------
    Row("a' diag(X)", "X", "diag(a)", "diag of a matrix", "X: n×n",
        Oracle("a: n, X: n×n", lambda v: v.a.T @ np.diag(v.X).reshape(-1, 1))),
    Row("tr(diag(x) A)", "x", "diag(A)", "diag of a vector", None,
        Oracle("x: m, A: m×m", lambda v: tr(np.diag(v.x.ravel()) @ v.A))),
    Row("sum(X)", "X", "𝟏ₘ 𝟏ₙᵀ", "sum of entries", None, Oracle("X: m×n", lambda v: np.sum(v.X))),
    Row("a' vec(X)", "X", "unvec_{m,n}(a)", "vec: the gradient reshapes a back (vec⁻¹)", None,
        Oracle("X: m×n, a: m·n", lambda v: v.a.T @ vec(v.X))),
    Row("vec(X)' A vec(X)", "X", "unvec_{m,n}((A + Aᵀ) vec(X))", "quadratic form in vec X", None,
        Oracle("X: m×n, A: m·n×m·n", lambda v: vec(v.X).T @ v.A @ vec(v.X))),
    Row("1' x", "x", "𝟏ₘ", "sum of a vector, written 1ᵀx", None, Oracle("x: m", lambda v: np.sum(v.x))),
    # ---- notation as written in notes (issue 9) ----------------------------------------------
    Row("½ x' A x", "x", "(A + Aᵀ) x / 2", "vulgar fraction ½", None,
        Oracle("x: m, A: m×m", lambda v: v.x.T @ v.A @ v.x / 2)),
    Row("¾ tr(X' X)", "X", "3 X / 2", "vulgar fraction ¾", None, Oracle("X: m×n", lambda v: 0.75 * tr(v.X.T @ v.X))),
    Row("x⊤ A x", "x", "(A + Aᵀ) x", "transpose written ⊤", None, QUADRATIC),
    Row("x’ A x", "x", "(A + Aᵀ) x", "transpose written with a curly apostrophe", None, QUADRATIC),
    Row("x\u00a0' A\u2009x", "x", "(A + Aᵀ) x", "non-breaking and thin spaces", None, QUADRATIC),
    Row("x\u200b' A x", "x", "(A + Aᵀ) x", "a zero-width space", None, QUADRATIC),
    Row("log det X", "X", "X⁻ᵀ", "log det X = logdet(X)", None, LOGDET),
    Row("log|X|", "X", "X⁻ᵀ", "log|X| = logdet(X)", None, LOGDET),
    Row("|Σ|", "Σ", "det(Σ) Σ⁻ᵀ", "|Σ| = det(Σ) of a square matrix", None,
        Oracle("Σ: m×m invertible", lambda v: det(v.Σ))),
    Row("⟨A, X⟩", "X", "A", "Frobenius inner product ⟨A, X⟩ = tr(Aᵀ X)", None, TRACE_AX),
    Row("A : X B", "X", "A Bᵀ", "Frobenius product A : X B = tr(Aᵀ X B)", None,
        Oracle("A: m×n, X: m×p, B: p×n", lambda v: tr(v.A.T @ v.X @ v.B))),
    Row("⟨a, x⟩", "x", "a", "inner product of vectors ⟨a, x⟩ = aᵀ x", None, DOT),
    Row("‖x‖₁", "x", "sign(x)", "ℓ₁ norm written ‖x‖₁", None, L1),
    Row("||A x - b||_1", "x", "Aᵀ sign(A x − b)", "ℓ₁ norm written ||·||_1", None, L1_RESIDUAL),
    Row("‖X‖_F", "X", "X / ‖X‖", "Frobenius norm written ‖X‖_F", None, FROBENIUS),
    Row("‖x‖₂", "x", "x / ‖x‖", "Euclidean norm written ‖x‖₂", None, NORM),
    Row("‖x‖₂²", "x", "2 x", "squared Euclidean norm written ‖x‖₂²", None, SQUARED_NORM),
    Row("||X w - y||_2^2", "w", "2 Xᵀ (X w − y)", "least squares written ||·||_2^2", None, LEAST_SQUARES_XW),
    Row("‖X w − y‖² / m", "w", "2 Xᵀ (X w − y) / m", "mean squared error: a size used as a number", None,
        Oracle("X: m×n, w: n, y: m", lambda v: np.sum((v.X @ v.w - v.y) ** 2) / v.X.shape[0])),
    Row("‖X w − y‖² / (2 m)", "w", "Xᵀ (X w − y) / m", "halved mean squared error", "X: m×n",
        Oracle("X: m×n, w: n, y: m", lambda v: np.sum((v.X @ v.w - v.y) ** 2) / (2 * v.X.shape[0]))),
    Row("(1/n) 𝟏ᵀ x", "x", "𝟏ₙ / n", "the mean of a vector", None, Oracle("x: n", lambda v: np.mean(v.x))),
    Row("tr(S)/k", "S", "Iₖ / k", "normalised trace", "S: k×k", Oracle("S: k×k", lambda v: tr(v.S) / len(v.S))),
    # ---- textbook forms (issue 10: never longer than what a careful person writes) ----------
    Row("sum(log(1 + exp(X w)))", "w", "Xᵀ σ(X w)", "logistic loss: exp(z) ./ (𝟏 + exp(z)) = σ(z)", None,
        Oracle("X: m×n, w: n", lambda v: np.sum(np.log(1 + np.exp(v.X @ v.w))))),
    Row("log(σ(w' x))", "w", "(1 − σ(wᵀ x)) x", "log-sigmoid: σ′ / σ = 1 − σ", None,
        Oracle("w: m, x: m", lambda v: np.log(sigmoid(v.w.T @ v.x)))),
    Row("sqrt(x' A x)", "x", "(A + Aᵀ) x / (2 sqrt(xᵀ A x))", "square root of a quadratic form", None,
        Oracle("x: m, A: m×m spd", lambda v: np.sqrt(v.x.T @ v.A @ v.x))),
    Row("vec(X)' vec(X)", "X", "2 X", "vec⁻¹(vec(X)) = X", None, Oracle("X: m×n", lambda v: vec(v.X).T @ vec(v.X))),
    Row("sum(diag(x) A diag(x))", "x", "(A + Aᵀ) x", "sum(diag(x) A diag(x)) = xᵀ A x", None,
        Oracle("x: m, A: m×m", lambda v: np.sum(np.diag(v.x.ravel()) @ v.A @ np.diag(v.x.ravel())))),
    Row("(x - μ)' inv(Σ) (x - μ)", "Σ", "−Σ⁻ᵀ (x − μ) (x − μ)ᵀ Σ⁻ᵀ",
        "Mahalanobis distance: a transposed difference stays one", None,
        Oracle("x: m, μ: m, Σ: m×m invertible", lambda v: (v.x - v.μ).T @ inv(v.Σ) @ (v.x - v.μ))),
    Row("-y' log(softmax(W x))", "W", "((𝟏ᵀ y) softmax(W x) − y) xᵀ", "cross-entropy of a linear layer, factored",
        None, Oracle("y: m, W: m×n, x: n", lambda v: -v.y.T @ np.log(softmax(v.W @ v.x)))),
    Row("sum(log(cosh(X w - y)))", "w", "Xᵀ tanh(X w − y)", "log-cosh loss: sinh ./ cosh = tanh", None,
        Oracle("X: m×n, w: n, y: m", lambda v: np.sum(np.log(np.cosh(v.X @ v.w - v.y))))),
    Row("log|x' A x|", "x", "(A + Aᵀ) x / (xᵀ A x)", "d log|u| = du / u (sign ./ abs)", None,
        Oracle("x: m, A: m×m", lambda v: np.log(np.abs(v.x.T @ v.A @ v.x)))),
    Row("log(|Σ|^(-1/2))", "Σ", "−Σ⁻ᵀ / 2", "log of a Gaussian normaliser's determinant", None,
        Oracle("Σ: m×m spd", lambda v: np.log(det(v.Σ) ** -0.5))),
]
