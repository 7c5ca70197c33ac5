"""The identity table: (expression, wrt, declarations, textbook answer, source, domain).

``expected`` is the gradient (scalar expressions, denominator layout: the shape of the
variable) or the Jacobian DF (vector and matrix expressions, vec dF = J vec dX), exactly
as matcalc prints it.  Every row is also checked against central finite differences.
"""

from __future__ import annotations

from typing import NamedTuple


class Row(NamedTuple):
    expr: str
    wrt: str
    expected: str
    source: str
    where: str | None = None
    domain: dict | None = None


SPD_X = {"X": "spd"}
SEED_000 = "seed 000 (Wu, linear layer)"
SEED_001 = "seed 001 (Magnus–Neudecker walk-through)"
SEED_002 = "seed 002 (identity tables)"
COOKBOOK = "Matrix Cookbook"

ROWS: list[Row] = [
    # ---- seed 002: scalar by vector (denominator layout) -------------------------------
    Row("a' x", "x", "a", SEED_002 + ", scalar by vector"),
    Row("x' a", "x", "a", SEED_002 + ", scalar by vector"),
    Row("x' x", "x", "2 x", SEED_002 + ", scalar by vector"),
    Row("x' A x", "x", "(A + Aᵀ) x", SEED_002 + ", scalar by vector"),
    Row("x' A x", "x", "2 A x", SEED_002 + ", scalar by vector (symmetric A)", "A: n×n symmetric"),
    # ---- seed 002: vector by vector (Jacobian) -----------------------------------------
    Row("A x", "x", "A", SEED_002 + ", vector by vector"),
    Row("x", "x", "Iₘ", SEED_002 + ", vector by vector"),
    Row("σ(x)", "x", "diag(σ′(x))", SEED_002 + ", vector by vector (elementwise)"),
    Row("sigmoid(x)", "x", "diag(σ′(x))", SEED_002 + ", vector by vector (ASCII name)"),
    # ---- seed 002: scalar by matrix ------------------------------------------------------
    Row("tr(A)", "A", "Iₘ", SEED_002 + ", scalar by matrix"),
    Row("tr(A B)", "A", "Bᵀ", SEED_002 + ", scalar by matrix"),
    Row("tr(A' B)", "A", "B", SEED_002 + ", scalar by matrix"),
    # seed 002 prints (B + Bᵀ)Aᵀ, the numerator-layout (transposed) form of this gradient
    Row("tr(A B A')", "A", "A (B + Bᵀ)", SEED_002 + ", scalar by matrix (corrected to denominator layout)"),
    Row("logdet(A)", "A", "A⁻ᵀ", SEED_002 + ", scalar by matrix", None, {"A": "spd"}),
    Row("a' A b", "A", "a bᵀ", SEED_002 + ", scalar by matrix"),
    # ---- chain rule and the linear layer (seeds 000, 001, 002) ---------------------------
    Row("f(A x + b)", "x", "Aᵀ ∇f(A x + b)", SEED_002 + ", chain rule"),
    Row("L(W x + b)", "W", "∇L(W x + b) xᵀ", SEED_001 + "; seed 000 eq. (16); seed 002 linear layer"),
    Row("L(W x + b)", "b", "∇L(W x + b)", "seed 000 eq. (19); seed 002 linear layer"),
    Row("L(W x + b)", "x", "Wᵀ ∇L(W x + b)", "seed 000 eq. (24); seed 002 linear layer"),
    Row("L(W X + b 1ᵀ)", "W", "∇L(W X + b 𝟏ᵀ) Xᵀ", SEED_000 + ", batch, eq. (29)"),
    Row("L(W X + b 1ᵀ)", "X", "Wᵀ ∇L(W X + b 𝟏ᵀ)", SEED_000 + ", batch, eq. (30)"),
    Row("L(W X + b 1ᵀ)", "b", "∇L(W X + b 𝟏ᵀ) 𝟏", SEED_000 + ", batch: the bias gradient sums the columns"),
    Row("L(σ(x))", "x", "σ′(x) ⊙ ∇L(σ(x))", SEED_002 + ", elementwise operations"),
    Row("L(f(W x))", "W", "(f′(W x) ⊙ ∇L(f(W x))) xᵀ", "chain rule through an elementwise layer", "f: elementwise"),
    Row("L(g(x))", "x", "∂g(x)ᵀ ∇L(g(x))", "chain rule through a vector function", "g: vector function m"),
    # ---- softmax (seed 002) --------------------------------------------------------------
    Row("softmax(z)", "z", "diag(softmax(z)) − softmax(z) softmax(z)ᵀ", SEED_002 + ", softmax Jacobian"),
    Row("-y' log(softmax(z))", "z", "(𝟏ᵀ y) softmax(z) − y", SEED_002 + ", softmax with cross-entropy (= p − y when 1ᵀy = 1)"),
    # ---- vec and Kronecker (seed 001) -----------------------------------------------------
    Row("A X B", "X", "Bᵀ ⊗ A", SEED_001 + ", vec(AXB) = (Bᵀ ⊗ A) vec X"),
    Row("W x + b", "W", "xᵀ ⊗ Iₘ", SEED_001 + ", D(W x + b) = xᵀ ⊗ I"),
    Row("A X", "X", "Iₚ ⊗ A", "vec(A X) = (I ⊗ A) vec X"),
    Row("X B", "X", "Bᵀ ⊗ Iₘ", "vec(X B) = (Bᵀ ⊗ I) vec X"),
    Row("X'", "X", "K_{m,n}", "Magnus–Neudecker: vec Xᵀ = K vec X"),
    Row("X ⊙ A", "X", "diag(vec(A))", "vec(A ⊙ X) = diag(vec A) vec X"),
    Row("x ⊙ a", "x", "diag(a)", "Hadamard product with a vector"),
    Row("exp(x)", "x", "diag(exp(x))", "elementwise exp"),
    Row("inv(X)", "X", "−(X⁻ᵀ ⊗ X⁻¹)", "Magnus–Neudecker: d X⁻¹ = −X⁻¹ dX X⁻¹", None, {"X": "invertible"}),
    Row("(x' x) a", "x", "2 a xᵀ", "scalar times a vector"),
    Row("x' A", "x", "Aᵀ", "a row vector: vec(xᵀ A) = Aᵀ x"),
    Row("softmax(W x)", "x", "(diag(softmax(W x)) − softmax(W x) softmax(W x)ᵀ) W", "softmax of a linear layer"),
    Row("lambda A", "lambda", "vec(A)", "derivative with respect to a scalar"),
    # ---- Matrix Cookbook: determinants and inverses ---------------------------------------
    Row("det(X)", "X", "det(X) X⁻ᵀ", COOKBOOK + " (49)", None, {"X": "invertible"}),
    Row("logdet(X)", "X", "X⁻ᵀ", COOKBOOK + " (57)", None, SPD_X),
    Row("logdet(X)", "X", "X⁻¹", COOKBOOK + " (57), symmetric X", "X: n×n symmetric", SPD_X),
    Row("det(A X B)", "X", "det(A X B) Aᵀ (A X B)⁻ᵀ Bᵀ", COOKBOOK + " (51)", "A: n×n, B: n×n", {"A": "invertible", "B": "invertible", "X": "invertible"}),
    Row("a' inv(X) b", "X", "−X⁻ᵀ a bᵀ X⁻ᵀ", COOKBOOK + " (61)", None, {"X": "invertible"}),
    Row("tr(A inv(X) B)", "X", "−X⁻ᵀ Aᵀ Bᵀ X⁻ᵀ", COOKBOOK + " (124)", None, {"X": "invertible"}),
    # ---- Matrix Cookbook: traces -----------------------------------------------------------
    Row("tr(X)", "X", "Iₘ", COOKBOOK + " (100)"),
    Row("tr(X A)", "X", "Aᵀ", COOKBOOK + " (101)"),
    Row("tr(A X B)", "X", "Aᵀ Bᵀ", COOKBOOK + " (102)"),
    Row("tr(A X' B)", "X", "B A", COOKBOOK + " (103)"),
    Row("tr(X' A)", "X", "A", COOKBOOK + " (105)"),
    Row("tr(X' X)", "X", "2 X", COOKBOOK + " (113)"),
    Row("tr(X A X')", "X", "X (A + Aᵀ)", COOKBOOK + " (117)"),
    Row("tr(X' A X)", "X", "(A + Aᵀ) X", COOKBOOK + " (115)"),
    Row("tr(A X B X')", "X", "A X B + Aᵀ X Bᵀ", COOKBOOK + " (118)"),
    Row("tr(X^2)", "X", "2 Xᵀ", COOKBOOK + " (106)"),
    Row("tr(X^3)", "X", "3 (Xᵀ)²", COOKBOOK + " (107), k = 3"),
    Row("tr(inv(X))", "X", "−(X⁻ᵀ)²", COOKBOOK + " (I.4 tr X⁻¹)", None, {"X": "invertible"}),
    Row("tr(kron(A, X))", "X", "tr(A) Iₙ", COOKBOOK + " (trace of a Kronecker product)", "A: p×p, X: n×n"),
    # ---- Matrix Cookbook: quadratic and bilinear forms --------------------------------------
    Row("a' X' b", "X", "b aᵀ", COOKBOOK + " (70)"),
    Row("a' X' X b", "X", "X (a bᵀ + b aᵀ)", COOKBOOK + " (77)"),
    Row("b' X' D X c", "X", "D X c bᵀ + Dᵀ X b cᵀ", COOKBOOK + " (82)"),
    Row("(A x + b)' C (D x + e)", "x", "Aᵀ C (D x + e) + Dᵀ Cᵀ (A x + b)", COOKBOOK + " (89)"),
    Row("x' B' C B x", "x", "Bᵀ (C + Cᵀ) B x", "quadratic form through a linear map"),
    Row("(x' x)^2", "x", "4 (xᵀ x) x", "power of a scalar"),
    Row("lambda * w' w", "w", "2 lambda w", "ridge penalty"),
    Row("lambda * w' w", "lambda", "wᵀ w", "derivative with respect to a scalar"),
    # ---- norms -----------------------------------------------------------------------------
    Row("norm(x)", "x", "x / ‖x‖", COOKBOOK + " (129)"),
    Row("norm(x)^2", "x", "2 x", COOKBOOK + " (131)"),
    Row("‖x - a‖", "x", "(x − a) / ‖x − a‖", COOKBOOK + " (129), shifted"),
    Row("norm(A x - b)^2", "x", "2 Aᵀ (A x − b)", "least squares"),
    Row("norm(X)", "X", "X / ‖X‖", COOKBOOK + " Frobenius norm"),
    Row("norm(X)^2", "X", "2 X", COOKBOOK + " (145)"),
    Row("norm1(x)", "x", "sign(x)", "ℓ₁ norm (MatrixCalculus.org's norm1)"),
    Row("norm1(A x - b)", "x", "Aᵀ sign(A x − b)", "least absolute deviations"),
    Row("norm2(A x - b)^2", "x", "2 Aᵀ (A x − b)", "least squares, MatrixCalculus.org's norm2"),
    # ---- softmax and logsumexp -------------------------------------------------------------
    Row("logsumexp(z)", "z", "softmax(z)", "log-sum-exp: its gradient is the softmax"),
    Row("logsumexp(W x)", "W", "softmax(W x) xᵀ", "log-partition of a linear model"),
    Row("log(sum(exp(z)))", "z", "softmax(z)", "log-sum-exp written out: exp(z)/sum(exp(z)) = softmax(z)"),
    Row("-y' z + log(1' exp(z))", "z", "softmax(z) − y", "cross-entropy with the log-partition written 1ᵀ exp(z)"),
    Row("-y' log(softmax(z))", "z", "(𝟏ᵀ y) softmax(z) − y", "cross-entropy: log softmax(z) = z − 𝟏 logsumexp(z)"),
    Row("softmax(z)", "z", "diag(softmax(z)) − softmax(z) softmax(z)ᵀ", "softmax Jacobian"),
    Row("tr(A' softmax(Z))", "Z", "softmax(Z) ⊙ (A − (𝟏 𝟏ᵀ) (A ⊙ softmax(Z)))", "softmax of a matrix, column by column"),
    Row("sum(log(softmax(Z)))", "Z", "1 − m softmax(Z)", "log-softmax of a batch: (𝟏𝟏ᵀ)(𝟏𝟏ᵀ) = m 𝟏𝟏ᵀ"),
    Row("sum(log(softmax(z)))", "z", "1 − m softmax(z)", "sum of log-softmax (m = the length of z)"),
    # ---- elementwise functions and Hadamard products ----------------------------------------
    Row("sum(exp(X))", "X", "exp(X)", "elementwise exp"),
    Row("sum(log(x))", "x", "x.^-1", "elementwise log", None, {"x": "positive"}),
    Row("sum(sin(x))", "x", "cos(x)", "elementwise sin"),
    Row("sum(cos(x))", "x", "−sin(x)", "elementwise cos"),
    Row("sum(tanh(x))", "x", "tanh′(x)", "elementwise tanh"),
    Row("sum(sqrt(x))", "x", "sqrt(x).^-1 / 2", "elementwise sqrt", None, {"x": "positive"}),
    Row("sum(abs(x))", "x", "sign(x)", "elementwise abs: abs′ = sign"),
    Row("sum(relu(x))", "x", "relu′(x)", "elementwise relu (step)"),
    Row("sum(cosh(x))", "x", "sinh(x)", "elementwise cosh (cosh′ = sinh)"),
    Row("sum(sinh(x))", "x", "cosh(x)", "elementwise sinh (sinh′ = cosh)"),
    Row("sum(tan(x))", "x", "1 + tan(x).^2", "elementwise tan (tan′ = 1 + tan²)"),
    Row("sum(arctan(x))", "x", "(1 + x.^2).^-1", "elementwise arctan (1/(1 + x²))"),
    Row("sum(log1p(x))", "x", "(1 + x).^-1", "elementwise log1p (1/(1 + x))", None, {"x": "positive"}),
    Row("sum(expm1(x))", "x", "exp(x)", "elementwise expm1 (expm1′ = exp)"),
    Row("a' sign(x)", "x", "𝟎_{m,1}", "sign: zero derivative where no entry is 0"),
    Row("sum(erf(x))", "x", "erf′(x)", "elementwise erf (erf′(x) = 2 exp(−x²)/√π)"),
    Row("erf(x)", "x", "diag(erf′(x))", "elementwise erf, Jacobian"),
    Row("tanh(A x)", "x", "diag(tanh′(A x)) A", "elementwise tanh of a linear map, Jacobian"),
    Row("sum(softplus(X w)) - y' X w", "w", "Xᵀ (σ(X w) − y)", "logistic regression loss"),
    Row("y' log(σ(X w)) + (1 - y)' log(1 - σ(X w))", "w", "Xᵀ (y − σ(X w))",
        "logistic regression log-likelihood (σ′ = σ ⊙ (𝟏 − σ))"),
    Row("sum(log(σ(x)))", "x", "1 − σ(x)", "log-sigmoid"),
    Row("sum(A ⊙ X)", "X", "A", "Hadamard product"),
    Row("sum(X ⊙ X)", "X", "2 X", "Hadamard square"),
    Row("a' (x ⊙ x)", "x", "2 a ⊙ x", "weighted squares"),
    Row("sum(x .^ 3)", "x", "3 x.^2", "elementwise power"),
    Row("sum(x ./ y)", "x", "y.^-1", "elementwise division", None, {"y": "positive"}),
    Row("sum(f(X))", "X", "f′(X)", "abstract elementwise function", "f: elementwise"),
    Row("L(relu(W x))", "W", "(relu′(W x) ⊙ ∇L(relu(W x))) xᵀ", "ReLU layer"),
    # ---- vec, diag, sum ------------------------------------------------------------------
    Row("a' diag(X)", "X", "diag(a)", "diag of a matrix", "X: n×n"),
    Row("tr(diag(x) A)", "x", "diag(A)", "diag of a vector"),
    Row("sum(X)", "X", "𝟏ₘ 𝟏ₙᵀ", "sum of entries"),
    Row("a' vec(X)", "X", "unvec_{m,n}(a)", "vec: the gradient reshapes a back (vec⁻¹)"),
    Row("vec(X)' A vec(X)", "X", "unvec_{m,n}((A + Aᵀ) vec(X))", "quadratic form in vec X"),
    Row("1' x", "x", "𝟏ₘ", "sum of a vector, written 1ᵀx"),
    # ---- notation as written in notes (issue 9) ----------------------------------------------
    Row("½ x' A x", "x", "(A + Aᵀ) x / 2", "vulgar fraction ½"),
    Row("¾ tr(X' X)", "X", "3 X / 2", "vulgar fraction ¾"),
    Row("x⊤ A x", "x", "(A + Aᵀ) x", "transpose written ⊤"),
    Row("x’ A x", "x", "(A + Aᵀ) x", "transpose written with a curly apostrophe"),
    Row("x\u00a0' A\u2009x", "x", "(A + Aᵀ) x", "non-breaking and thin spaces"),
    Row("x\u200b' A x", "x", "(A + Aᵀ) x", "a zero-width space"),
    Row("log det X", "X", "X⁻ᵀ", "log det X = logdet(X)"),
    Row("log|X|", "X", "X⁻ᵀ", "log|X| = logdet(X)"),
    Row("|Σ|", "Σ", "det(Σ) Σ⁻ᵀ", "|Σ| = det(Σ) of a square matrix"),
    Row("⟨A, X⟩", "X", "A", "Frobenius inner product ⟨A, X⟩ = tr(Aᵀ X)"),
    Row("A : X B", "X", "A Bᵀ", "Frobenius product A : X B = tr(Aᵀ X B)"),
    Row("⟨a, x⟩", "x", "a", "inner product of vectors ⟨a, x⟩ = aᵀ x"),
    Row("‖x‖₁", "x", "sign(x)", "ℓ₁ norm written ‖x‖₁"),
    Row("||A x - b||_1", "x", "Aᵀ sign(A x − b)", "ℓ₁ norm written ||·||_1"),
    Row("‖X‖_F", "X", "X / ‖X‖", "Frobenius norm written ‖X‖_F"),
    Row("‖x‖₂", "x", "x / ‖x‖", "Euclidean norm written ‖x‖₂"),
    Row("‖x‖₂²", "x", "2 x", "squared Euclidean norm written ‖x‖₂²"),
    Row("||X w - y||_2^2", "w", "2 Xᵀ (X w − y)", "least squares written ||·||_2^2"),
    Row("‖X w − y‖² / m", "w", "2 Xᵀ (X w − y) / m", "mean squared error: a size used as a number"),
    Row("‖X w − y‖² / (2 m)", "w", "Xᵀ (X w − y) / m", "halved mean squared error", "X: m×n"),
    Row("(1/n) 𝟏ᵀ x", "x", "𝟏ₙ / n", "the mean of a vector"),
    Row("tr(S)/k", "S", "Iₖ / k", "normalised trace", "S: k×k"),
    # ---- textbook forms (issue 10: never longer than what a careful person writes) ----------
    Row("sum(log(1 + exp(X w)))", "w", "Xᵀ σ(X w)", "logistic loss: exp(z) ./ (𝟏 + exp(z)) = σ(z)"),
    Row("log(σ(w' x))", "w", "(1 − σ(wᵀ x)) x", "log-sigmoid: σ′ / σ = 1 − σ"),
    Row("sqrt(x' A x)", "x", "(A + Aᵀ) x / (2 sqrt(xᵀ A x))", "square root of a quadratic form"),
    Row("vec(X)' vec(X)", "X", "2 X", "vec⁻¹(vec(X)) = X"),
    Row("sum(diag(x) A diag(x))", "x", "(A + Aᵀ) x", "sum(diag(x) A diag(x)) = xᵀ A x"),
    Row("(x - μ)' inv(Σ) (x - μ)", "Σ", "−Σ⁻ᵀ (x − μ) (x − μ)ᵀ Σ⁻ᵀ", "Mahalanobis distance: a transposed difference stays one"),
    Row("-y' log(softmax(W x))", "W", "((𝟏ᵀ y) softmax(W x) − y) xᵀ", "cross-entropy of a linear layer, factored"),
    Row("sum(log(cosh(X w - y)))", "w", "Xᵀ tanh(X w − y)", "log-cosh loss: sinh ./ cosh = tanh"),
    Row("log|x' A x|", "x", "(A + Aᵀ) x / (xᵀ A x)", "d log|u| = du / u (sign ./ abs)"),
    Row("log(|Σ|^(-1/2))", "Σ", "−Σ⁻ᵀ / 2", "log of a Gaussian normaliser's determinant"),
]
