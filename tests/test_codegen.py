"""Generated code (issue 12): every gradient of the identity table, for every target that
is installed, compiled, linted, executed, and compared with the row's NumPy (its value,
and central finite differences of it and of the generated value) and (JAX, PyTorch) with
the framework's own autodiff; the Hessian table's Hessians and Hessian-vector products
likewise; and the module's contract (names, shapes, abstract functions, what is never
built)."""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import matcalc
from matcalc.cli import main
from matcalc.code import codegen, py_name

from identities import ROWS
from oracle import Oracle, moved, scalar_value

CI = bool(os.environ.get("CI"))
HAVE = {t: importlib.util.find_spec(t) is not None for t in ("jax", "torch")}
TARGETS = ["numpy", "jax", "torch"]
SCALAR_ROWS = [r for r in ROWS if matcalc.parse(r.expr, r.where).is_scalar]
ALLOWED_IMPORTS = {"numpy": {"numpy", "math"}, "jax": {"jax", "jax.numpy", "jax.scipy.special"},
                   "torch": {"torch", "torch.nn.functional"}}


def _need(target: str) -> None:
    if target == "jax" and not HAVE["jax"]:
        if CI:
            pytest.fail("JAX is a test dependency: CI must install it")
        pytest.skip("JAX is not installed")
    if target == "torch" and not HAVE["torch"]:
        pytest.skip("PyTorch is not installed (CI installs it where it can: .ci/run)")
    if target == "jax":
        import jax

        jax.config.update("jax_enable_x64", True)


def _module(src: str) -> dict:
    ns: dict = {}
    exec(compile(src, "<generated>", "exec"), ns)
    return ns


def _inputs(oracle: Oracle, seed: int = 0) -> tuple[dict, dict]:
    """A random point of the oracle's (2-D arrays) and the arguments as a user passes them
    (vectors 1-D, Python names)."""
    p = oracle.point(np.random.default_rng(seed))
    args = {}
    for k, v in p.items():
        if callable(v):
            args[k] = v
        else:
            args[py_name(k)] = v.reshape(-1) if v.shape[1] == 1 and v.shape[0] > 1 else v
    return p, args


def _as(target: str, args: dict) -> dict:
    """The arguments for ``target``: tensors for PyTorch; for JAX, the NumPy stand-ins of
    abstract functions made traceable (the JAX module compiles them into its code)."""
    if target == "jax":
        return {k: (_traceable(v) if callable(v) else v) for k, v in args.items()}
    if target != "torch":
        return args
    import torch

    return {k: (v if callable(v) else torch.as_tensor(np.asarray(v, dtype=float))) for k, v in args.items()}


def _traceable(fn):
    """A NumPy function as one that jax.jit can trace: a pure_callback, its result's shape
    found by calling it on zeros."""
    import jax

    def traced(*xs):
        shape = np.shape(fn(*(np.zeros(np.shape(x)) for x in xs)))
        dtype = np.dtype(xs[0].dtype)
        return jax.pure_callback(lambda *a: np.asarray(fn(*a), dtype=dtype), jax.ShapeDtypeStruct(shape, dtype), *xs)

    return traced


def _np(a) -> np.ndarray:
    return np.asarray(a.detach() if hasattr(a, "detach") else a, dtype=float)


def _lint(src: str, target: str) -> None:
    """py_compile, pyflakes, and no import beyond the target library."""
    import io

    from pyflakes.api import check
    from pyflakes.reporter import Reporter

    compile(src, "<generated>", "exec")
    out, err = io.StringIO(), io.StringIO()
    assert check(src, "<generated>", Reporter(out, err)) == 0, out.getvalue() + err.getvalue()
    imported = set()
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    assert imported <= ALLOWED_IMPORTS[target], imported


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("row", SCALAR_ROWS, ids=lambda r: f"{r.expr} wrt {r.wrt}" + (f" ({r.where})" if r.where else ""))
def test_every_gradient_of_the_table_runs_and_is_right(row, target):
    _need(target)
    src = codegen(row.expr, row.wrt, row.where, target=target)
    _lint(src, target)
    ns = _module(src)
    e = matcalc.parse(row.expr, row.where)
    p, args = _inputs(row.oracle)
    args = _as(target, args)
    value, grads = ns["value_and_grad"](**args)
    assert set(grads) == {row.wrt}
    g = _np(grads[row.wrt])
    x = np.asarray(_np(args[py_name(row.wrt)]))
    assert g.shape == x.shape  # shaped like the argument passed (1-D in, 1-D out)
    loose = target == "torch" and any(callable(v) for v in args.values())  # NumPy stand-ins in float32 casts
    assert np.isclose(float(_np(value)), scalar_value(row.oracle, p), rtol=1e-6 if loose else 1e-9)
    # central differences along random directions of the row's f in NumPy, and of the
    # generated value
    rng = np.random.default_rng(1)
    for _ in range(2):
        d = rng.standard_normal(x.shape)
        if e.variable(row.wrt).symmetric:
            d = (d + d.T) / 2
        h = 1e-6 * (1 + float(np.max(np.abs(x))))

        def generated(t: float, d: np.ndarray = d) -> float:
            there = dict(args)
            there[py_name(row.wrt)] = _as(target, {"x": x + t * d})["x"]
            return float(_np(ns["value_and_grad"](**there)[0]))

        def numpy(t: float, d: np.ndarray = d) -> float:
            return scalar_value(row.oracle, moved(p, row.wrt, (x + t * d).reshape(p[row.wrt].shape)))

        exact = float(np.sum(g * d))
        for f in (numpy, generated):
            fd = (f(h) - f(-h)) / (2 * h)
            assert abs(fd - exact) <= 1e-5 * max(1.0, abs(exact), float(np.linalg.norm(g) * np.linalg.norm(d))), \
                (f.__name__, fd, exact)
    # the framework's own autodiff of the generated value
    if target != "numpy" and not any(callable(v) for v in args.values()):
        np.testing.assert_allclose(_autodiff(target, ns, args, py_name(row.wrt)), g, rtol=1e-7, atol=1e-10)


def _autodiff(target: str, ns: dict, args: dict, name: str) -> np.ndarray:
    if target == "jax":
        import jax

        def value(x):
            return ns["value_and_grad"](**(args | {name: x}))[0]

        return np.asarray(jax.grad(value)(jax.numpy.asarray(args[name])))

    x = args[name].clone().requires_grad_(True)
    ns["value_and_grad"](**(args | {name: x}))[0].backward()
    return x.grad.detach().numpy()


HESSIAN_ROWS = [r for r in __import__("test_hessian_table").ROWS if "," not in r[2]]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("row", HESSIAN_ROWS, ids=lambda r: r[0])
def test_hessians_and_hvps_run_and_are_right(row, target):
    """hessian() against central differences of the generated gradient; hvp(v) = H vec v;
    JAX's own jax.hessian where it applies."""
    _need(target)
    name, f, wrt, where, _, _ = row
    src = codegen(f, wrt, where or None, target=target, hessian=True)
    _lint(src, target)
    ns = _module(src)
    from test_hessian_table import NUMPY

    e = matcalc.parse(f, where or None)
    p, args = _inputs(NUMPY[name])
    args = _as(target, args)
    key = py_name(wrt)
    x = _np(args[key])
    loose = target == "torch" and any(callable(a) for a in args.values())
    assert np.isclose(float(_np(ns["value_and_grad"](**args)[0])), scalar_value(NUMPY[name], p),
                      rtol=1e-6 if loose else 1e-9)
    H = _np(ns["hessian"](**args))
    n = x.size
    assert H.shape == (n, n)
    # along each entry (for a symmetric X, along (Eₖ + Eₖᵀ)/2: f on symmetric matrices)
    h = 1e-6 * (1 + float(np.max(np.abs(x))))
    directions, cols = [], []
    for k in range(n):
        d = np.zeros(n)
        d[k] = 1.0
        d = d.reshape(x.shape, order="F")
        if e.variable(wrt).symmetric:
            d = (d + d.T) / 2
        gu = _np(ns["value_and_grad"](**(args | _as(target, {key: x + h * d})))[1][wrt]).reshape(-1, order="F")
        gd = _np(ns["value_and_grad"](**(args | _as(target, {key: x - h * d})))[1][wrt]).reshape(-1, order="F")
        directions.append(d.reshape(-1, order="F"))
        cols.append((gu - gd) / (2 * h))
    np.testing.assert_allclose(H @ np.column_stack(directions), np.column_stack(cols), rtol=1e-5,
                               atol=1e-5 * (1 + np.max(np.abs(H))))
    v = np.random.default_rng(2).standard_normal(x.shape)
    if e.variable(wrt).symmetric:
        v = (v + v.T) / 2
    hv = _np(ns["hvp"](_as(target, {"v": v})["v"], **args))
    assert hv.shape == x.shape
    np.testing.assert_allclose(hv.reshape(-1, order="F"), H @ v.reshape(-1, order="F"), rtol=1e-8, atol=1e-10)
    if target == "jax" and not e.variable(wrt).symmetric and not any(callable(a) for a in args.values()):
        import jax

        def value(z):
            return ns["value_and_grad"](**(args | {key: z}))[0]

        jh = np.asarray(jax.hessian(value)(jax.numpy.asarray(args[key]))).reshape(n, n, order="F")
        if x.ndim == 2:  # jax orders a matrix's Hessian (i, j, k, l) by rows: vec order instead
            jh = np.asarray(jax.hessian(value)(jax.numpy.asarray(args[key]))).transpose(1, 0, 3, 2).reshape(n, n)
        np.testing.assert_allclose(H, jh, rtol=1e-7, atol=1e-9)


# ------------------------------------------------------------------------------ second order, applied

#: each Hessian-table row's f written out with ``xp`` (NumPy or jax.numpy) on matcalc's 2-D
#: values: the tests' own oracle, not matcalc's evaluator
def _softmax_cross_entropy(xp, v):
    z = v["W"] @ v["x"]
    m = z.max()
    return -(v["y"].T @ (z - m - xp.log(xp.sum(xp.exp(z - m))))).sum()


def _sigmoid(xp, z):
    return 1 / (1 + xp.exp(-z))


F = {
    "quadratic form": lambda xp, v: (v["x"].T @ v["A"] @ v["x"]).sum(),
    "quadratic form, symmetric S": lambda xp, v: (v["x"].T @ v["S"] @ v["x"]).sum(),
    "least squares": lambda xp, v: xp.sum((v["A"] @ v["x"] - v["b"]) ** 2),
    "ridge regression": lambda xp, v: xp.sum((v["A"] @ v["x"] - v["b"]) ** 2) + v["λ"].sum() * xp.sum(v["x"] ** 2),
    "logistic regression (negative log-likelihood)":
        lambda xp, v: xp.sum(xp.log(1 + xp.exp(v["X"] @ v["w"]))) - (v["y"].T @ v["X"] @ v["w"]).sum(),
    "softmax regression (cross-entropy), weights": _softmax_cross_entropy,
    "softmax regression (cross-entropy), input": _softmax_cross_entropy,
    "Gaussian negative log-likelihood, mean":
        lambda xp, v: ((v["x"] - v["μ"]).T @ xp.linalg.solve(v["Σ"], v["x"] - v["μ"])).sum() / 2
        + xp.linalg.slogdet(v["Σ"])[1] / 2,
    "two-sided quadratic": lambda xp, v: xp.trace(v["X"].T @ v["A"] @ v["X"] @ v["B"]),
    "trace quadratic": lambda xp, v: xp.trace(v["X"].T @ v["A"] @ v["X"]),
    "trace of a square": lambda xp, v: xp.trace(v["X"] @ v["X"]),
    "matrix least squares": lambda xp, v: xp.sum((v["A"] @ v["X"] @ v["B"] - v["C"]) ** 2),
    "log-determinant": lambda xp, v: xp.linalg.slogdet(v["X"])[1],
    "log-determinant, symmetric S": lambda xp, v: xp.linalg.slogdet(v["S"])[1],
    "determinant": lambda xp, v: xp.linalg.det(v["X"]),
    "trace of the inverse": lambda xp, v: xp.trace(xp.linalg.inv(v["X"])),
    "bilinear form in the inverse": lambda xp, v: (v["a"].T @ xp.linalg.solve(v["X"], v["b"])).sum(),
    "one MLP layer (sigmoid), weights": lambda xp, v: xp.sum(_sigmoid(xp, v["W"] @ v["x"] + v["b"])),
    "one MLP layer with a loss L": lambda xp, v: v["L"](_sigmoid(xp, v["W"] @ v["x"] + v["b"])),
    "abstract loss of a linear layer, weights": lambda xp, v: v["L"](v["W"] @ v["x"] + v["b"]),
    "abstract loss of a linear layer, bias": lambda xp, v: v["L"](v["W"] @ v["x"] + v["b"]),
}


def test_every_hessian_row_has_its_own_f():
    assert {r[0] for r in HESSIAN_ROWS} == set(F)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("row", HESSIAN_ROWS, ids=lambda r: r[0])
def test_hvp_agrees_with_second_differences_and_jax(row, target):
    """The generated hvp(V) against the row's f written in this test: ⟨U, H[V]⟩ =
    ∂²/∂s∂t f(X + sU + tV) by central differences along random U, and (without abstract
    functions) jax.jvp of jax.grad of the same f (for a symmetric X its symmetric part: the
    Hessian on symmetric matrices)."""
    _need(target)
    from test_hessian_table import NUMPY

    name, f, wrt, where, _, _ = row
    ns = _module(codegen(f, wrt, where or None, target=target, hessian=True))
    e = matcalc.parse(f, where or None)
    values, args = _inputs(NUMPY[name])
    symmetric = e.variable(wrt).symmetric
    rng = np.random.default_rng(3)

    def direction() -> np.ndarray:
        d = rng.standard_normal(values[wrt].shape)
        return (d + d.T) / 2 if symmetric else d

    x, v = values[wrt], direction()
    given = _as(target, args | {"v": v.reshape(np.shape(args[py_name(wrt)]))})
    hv = _np(ns["hvp"](given.pop("v"), **given)).reshape(x.shape)

    def at(s: float, t: float, u: np.ndarray) -> float:
        return float(F[name](np, values | {wrt: x + s * u + t * v}))

    h = 2e-4 * (1 + float(np.max(np.abs(x))))
    for _ in range(2):
        u = direction()
        fd = (at(h, h, u) - at(h, -h, u) - at(-h, h, u) + at(-h, -h, u)) / (4 * h * h)
        exact = float(np.sum(u * hv))
        assert np.isclose(fd, exact, rtol=1e-4, atol=1e-5 * (1 + np.linalg.norm(u) * np.linalg.norm(hv))), (fd, exact)
    if HAVE["jax"] and not any(callable(a) for a in values.values()):
        import jax
        import jax.numpy as jnp

        jax.config.update("jax_enable_x64", True)
        jv = {k: jnp.asarray(a) for k, a in values.items()}
        jhv = np.asarray(jax.jvp(jax.grad(lambda z: F[name](jnp, jv | {wrt: z})), (jv[wrt],), (jnp.asarray(v),))[1])
        if symmetric:
            jhv = (jhv + jhv.T) / 2
        np.testing.assert_allclose(hv, jhv, rtol=1e-7, atol=1e-9 * (1 + np.max(np.abs(jhv))))


#: what an hvp never builds: a Kronecker product, K, an identity, diag(v), a matrix of ones
NEVER_BUILT = ("_kron(", "_commutation(", ".eye(", "_diag(", ".ones(")


def _function_source(src: str, name: str) -> str:
    fn = next(n for n in ast.parse(src).body if isinstance(n, ast.FunctionDef) and n.name == name)
    return ast.unparse(fn)


def _matrix_sums_applied(src: str, name: str, args: tuple, kwargs: dict) -> list[str]:
    """Sums of matrices that do not depend on the direction v but are multiplied (``@``,
    multi_dot, solve) with something that does: the function ``name`` of ``src`` is run with
    its local names kept, each such sum evaluated, and its shape read."""
    fn = next(n for n in ast.parse(src).body if isinstance(n, ast.FunctionDef) and n.name == name)
    probe = ast.unparse(fn).splitlines()
    probe[0] = probe[0].replace(f"def {name}(", "def _probe(", 1)
    probe[-1] = "    return locals()"
    ns: dict = {}
    exec(compile(src + "\n\n" + "\n".join(probe) + "\n", "<probe>", "exec"), ns)
    local = ns["_probe"](*args, **kwargs)
    dependent, sums = {"v"}, set()
    for stmt in fn.body:
        if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name):
            target = stmt.targets[0].id
            if {n.id for n in ast.walk(stmt.value) if isinstance(n, ast.Name)} & dependent:
                dependent.add(target)
            if isinstance(stmt.value, ast.BinOp) and isinstance(stmt.value.op, (ast.Add, ast.Sub)):
                sums.add(target)

    def depends(node: ast.AST) -> bool:
        return bool({n.id for n in ast.walk(node) if isinstance(n, ast.Name)} & dependent)

    def is_sum(node: ast.AST) -> bool:
        return (isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub))) or (
            isinstance(node, ast.Name) and node.id in sums)

    found = []
    for node in ast.walk(fn):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult):
            operands = [node.left, node.right]
        elif isinstance(node, ast.Call) and ast.unparse(node.func).endswith(("multi_dot", "solve")):
            operands = list(node.args)
        else:
            continue
        if not any(depends(o) for o in operands):
            continue
        for o in operands:
            if is_sum(o) and not depends(o):
                value = eval(ast.unparse(o), ns, local)
                if np.ndim(value) == 2 and min(np.shape(value)) > 1:
                    found.append(ast.unparse(o))
    return found


def test_the_sum_detector_finds_a_sum_applied():
    """The detector of the next test finds what the generated hvp of xᵀ A x used to be."""
    old = "import numpy as np\n\n\ndef hvp(v, *, A):\n    t1 = A + A.T\n    HV = t1 @ v + (A - A.T) @ (A @ v)\n    return HV\n"
    found = _matrix_sums_applied(old, "hvp", (np.ones((3, 1)),), {"A": np.eye(3)})
    assert found == ["t1", "A - A.T"] or sorted(found) == sorted(["t1", "A - A.T"])


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("row", HESSIAN_ROWS, ids=lambda r: r[0])
def test_hvp_never_builds_a_matrix_it_only_applies(row, target):
    """No Kronecker product, K, I, diag(v) or 𝟏𝟏ᵀ is built in any hvp of the Hessian table, and
    (run, for NumPy) no sum of matrices is multiplied with the direction: it is applied term by
    term, (A + Aᵀ) v as A v + Aᵀ v."""
    from test_hessian_table import NUMPY

    name, f, wrt, where, _, _ = row
    src = codegen(f, wrt, where or None, target=target, hessian=True)
    body = _function_source(src, "_hvp" if "def _hvp(" in src else "hvp")  # JAX: the body that is compiled
    for built in NEVER_BUILT:
        assert built not in body, (built, body)
    if target == "numpy":
        _, args = _inputs(NUMPY[name])
        v = np.random.default_rng(4).standard_normal(np.shape(args[py_name(wrt)]))
        assert _matrix_sums_applied(src, "hvp", (v,), args) == [], body


def test_kronecker_products_are_applied_not_built():
    """(B ⊗ C) x as vec(C X Bᵀ) in the value, the gradient and the hvp of xᵀ (B ⊗ C) x, against
    np.kron written here."""
    src = codegen("x' kron(B, C) x", "x", "B: p×p, C: q×q", hessian=True)
    for fn in ("value_and_grad", "hvp"):
        assert "_kron(" not in _function_source(src, fn)
    assert "_kron(" in _function_source(src, "hessian")  # the Hessian matrix itself
    ns = _module(src)
    rng = np.random.default_rng(0)
    B, C = rng.standard_normal((3, 3)), rng.standard_normal((4, 4))
    x, v = rng.standard_normal(12), rng.standard_normal(12)
    K = np.kron(B, C)
    value, grads = ns["value_and_grad"](B=B, C=C, x=x)
    assert np.isclose(value, x @ K @ x)
    np.testing.assert_allclose(grads["x"], (K + K.T) @ x)
    np.testing.assert_allclose(ns["hvp"](v, B=B, C=C, x=x), (K + K.T) @ v)
    np.testing.assert_allclose(ns["hessian"](B=B, C=C, x=x), K + K.T)


def test_the_scalar_multiplies_the_vector_not_the_matrix():
    """2 Aᵀ (A x − b) as 2 (Aᵀ r): the matrix is never scaled (the least-squares gradient)."""
    src = codegen("‖A x − b‖²", "x")
    assert "grad_x = 2.0 * (A.T @ t1)" in src and "2.0 * A" not in src
    assert "grad_x = 2.0 * (t1.T @ A).T" in codegen("‖A x − b‖²", "x", target="jax")


def test_a_deep_network_generates_code_and_its_gradient_is_right():
    """tanh(W200 ⋯ tanh(W1 x)) − y, 200 layers built here: every pass of the code generator is
    iterative (a 160-layer network raised RecursionError, issue 22), the module compiles, and
    its value and gradients agree with the network and central differences written here."""
    depth, width = 200, 3
    text = "x"
    for i in range(1, depth + 1):
        text = f"tanh(W{i} {text})"
    wrts = ["W1", "W100", f"W{depth}"]
    src = codegen(f"‖{text} − y‖²", wrts)
    _lint(src, "numpy")
    ns = _module(src)
    rng = np.random.default_rng(0)
    weights = {f"W{i}": np.linalg.qr(rng.standard_normal((width, width)))[0] for i in range(1, depth + 1)}
    x, y = rng.standard_normal(width), rng.standard_normal(width)

    def f(ws: dict) -> float:
        h = x
        for i in range(1, depth + 1):
            h = np.tanh(ws[f"W{i}"] @ h)
        return float(np.sum((h - y) ** 2))

    value, grads = ns["value_and_grad"](x=x, y=y, **weights)
    assert np.isclose(value, f(weights), rtol=1e-12)
    assert set(grads) == set(wrts)
    for name in wrts:
        g = grads[name]
        assert g.shape == (width, width) and np.max(np.abs(g)) > 1e-2  # the signal reaches W1
        for _ in range(2):
            d = rng.standard_normal((width, width))
            step = 1e-6
            fd = (f(weights | {name: weights[name] + step * d}) - f(weights | {name: weights[name] - step * d})) / (
                2 * step)
            exact = float(np.sum(g * d))
            assert abs(fd - exact) <= 1e-6 * max(1.0, abs(exact)), (name, fd, exact)
    assert main(["codegen", f"‖{text} − y‖²", "W1"]) == 0


# ------------------------------------------------------------------------------ the contract


def test_names_that_are_not_identifiers_are_mapped_and_listed():
    src = codegen("lambda ‖w‖² + ‖X w − y‖²", "w", "lambda: scalar")
    assert "lambda_" in src and "Names: lambda → lambda_" in src
    ns = _module(src)
    rng = np.random.default_rng(0)
    X, y, w = rng.normal(size=(5, 3)), rng.normal(size=5), rng.normal(size=3)
    value, grads = ns["value_and_grad"](lambda_=0.5, X=X, y=y, w=w)
    assert isinstance(value, float) and grads["w"].shape == (3,)
    np.testing.assert_allclose(grads["w"], 2 * 0.5 * w + 2 * X.T @ (X @ w - y))


def test_the_docstring_has_shapes_and_formulas():
    src = codegen("L(σ(W x + b))", ["W", "b"])
    doc = ast.get_docstring(ast.parse(src))
    assert "W: m×n" in doc and "∂f/∂W = " in doc and "∂f/∂b = " in doc and "L, grad_L" in doc


def test_several_variables_and_abstract_functions():
    ns = _module(codegen("L(σ(W x + b))", ["W", "b"]))
    rng = np.random.default_rng(0)
    W, b, x = rng.normal(size=(3, 4)), rng.normal(size=3), rng.normal(size=4)
    value, grads = ns["value_and_grad"](W=W, b=b, x=x, L=lambda z: float(np.sum(z ** 2)), grad_L=lambda z: 2 * z)
    s = 1 / (1 + np.exp(-(W @ x + b)))
    np.testing.assert_allclose(grads["b"], s * (1 - s) * 2 * s)
    np.testing.assert_allclose(grads["W"], np.outer(s * (1 - s) * 2 * s, x))
    assert np.isclose(value, np.sum(s ** 2))
    with pytest.raises(TypeError, match="not a variable"):
        ns["value_and_grad"](W=W, b=b, x=x, y=x, L=np.sum, grad_L=np.sum)


def test_what_is_never_built():
    """No Kronecker product, commutation matrix or diag(v) in value_and_grad and hvp; solve
    where an inverse is applied; stable forms."""
    def body(src: str, name: str) -> str:
        tree = ast.parse(src)
        fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name)
        return ast.unparse(fn)

    src = codegen("sum(log(1 + exp(X w))) - y' X w", "w", hessian=True)
    for name in ("value_and_grad", "hvp", "hessian"):
        assert "_kron" not in body(src, name) and "_diag(" not in body(src, name)
    assert "_softplus" in body(src, "value_and_grad")
    src = codegen("tr(X' A X B)", "X", hessian=True)
    assert "_kron" not in body(src, "hvp") and "_commutation" not in body(src, "hvp")
    src = codegen("a' inv(X) b", "X")
    assert "solve" in body(src, "value_and_grad")
    src = codegen("-y' log(softmax(W x))", "W")
    assert "_logsumexp" in src or "logsumexp" in src or "_softmax" in src
    # stable at large arguments
    ns = _module(codegen("sum(log(1 + exp(X w))) - y' X w", "w"))
    X = np.array([[1000.0, 0.0], [-1000.0, 1.0]])
    value, grads = ns["value_and_grad"](X=X, w=np.array([1.0, 0.0]), y=np.array([1.0, 0.0]))
    assert np.isfinite(value) and np.all(np.isfinite(grads["w"]))


def test_what_codegen_refuses():
    with pytest.raises(matcalc.MatcalcError, match="scalar expression"):
        codegen("A x", "x")
    with pytest.raises(matcalc.MatcalcError, match="one WRT"):
        codegen("L(W x + b)", ["W", "b"], hessian=True)
    with pytest.raises(matcalc.MatcalcError, match="target"):
        codegen("x' x", "x", target="tensorflow")


def test_the_command_line(capsys, tmp_path):
    assert main(["codegen", "‖A x − b‖²", "x"]) == 0
    src = capsys.readouterr().out
    path = tmp_path / "ls.py"
    path.write_text(src, encoding="utf-8")
    assert subprocess.run([sys.executable, "-m", "py_compile", str(path)]).returncode == 0
    assert main(["codegen", "x' A x", "x", "--target", "jax", "--hessian"]) == 0
    assert "import jax.numpy as jnp" in capsys.readouterr().out
    assert main(["numcheck", "‖A X B − C‖²", "X", "--size", "m=40", "--size", "n=30"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("✓ the generated NumPy gradients") and "m=40, n=30" in out
    assert main(["numcheck", "x' x", "x", "--size", "q=3"]) == 2
    assert "no size named q" in capsys.readouterr().err
    assert main(["numcheck", "x' A x", "x", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["kind"] == "numcheck" and data["ok"] is True
    assert main(["diff", "W x + b", "W", "b", "--no-check", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["kind"] == "derivatives" and [r["wrt"] for r in data["results"]] == ["W", "b"]


def test_review_fixes_stay_fixed():
    """Found by a review: stable log-softmax, a missing abstract function said, numcheck with a
    symmetric variable, only the helpers used."""
    ns = _module(codegen("-y' log(softmax(W x))", "W"))
    value, grads = ns["value_and_grad"](W=np.array([[60.0], [-60.0]]), x=np.array([1.0]), y=np.array([0.0, 1.0]))
    assert value == pytest.approx(120.0) and np.all(np.isfinite(grads["W"]))
    ns = _module(codegen("L(σ(W x + b))", ["W", "b"]))
    with pytest.raises(TypeError, match="needs the function L="):
        ns["value_and_grad"](W=np.eye(2), b=np.ones(2), x=np.ones(2))
    assert "_multi_dot" not in codegen("sum(log(1 + exp(X w))) - y' X w", "w")
    from matcalc.numcheck import numcheck

    assert numcheck("logdet(S) - tr(S A)", "S", "S: n×n symmetric", sizes={"n": 20}).ok


def test_jax_code_puts_no_transposed_matrix_before_a_vector():
    """Aᵀ r is written (rᵀ A)ᵀ for JAX: XLA on the CPU is several times slower otherwise."""
    src = codegen("sum(log(1 + exp(X w))) - y' X w", "w", target="jax")
    assert "X.T @" not in src and ".T @ X).T" in src


def test_the_jax_module_is_compiled_and_leaves_the_precision_to_the_user():
    """Each function of the JAX module calls its body under jax.jit (compiled once for given
    shapes; abstract functions are static arguments); the module never sets jax_enable_x64,
    and its docstring says how to."""
    _need("jax")
    import jax
    import jax.numpy as jnp

    src = codegen("‖A x − b‖²", "x", target="jax", hessian=True)
    doc = ast.get_docstring(ast.parse(src))
    assert 'jax.config.update("jax_enable_x64", True)' in doc
    assert "jax.config" not in src.replace(doc.replace("\\", "\\\\"), "")  # only in the docstring
    ns = _module(src)
    rng = np.random.default_rng(0)
    A, b, x, v = rng.standard_normal((5, 3)), rng.standard_normal(5), rng.standard_normal(3), rng.standard_normal(3)
    for _ in range(2):
        value, grads = ns["value_and_grad"](A=A, b=b, x=x)
    assert ns["_compiled_value_and_grad"]._cache_size() == 1
    np.testing.assert_allclose(np.asarray(grads["x"]), 2 * A.T @ (A @ x - b))
    np.testing.assert_allclose(np.asarray(ns["hvp"](v, A=A, b=b, x=x)), 2 * A.T @ (A @ v))
    assert ns["value_and_grad"](A=A, b=b, x=x)[0].dtype == jnp.float64
    jax.config.update("jax_enable_x64", False)
    try:
        assert ns["value_and_grad"](A=A, b=b, x=x)[1]["x"].dtype == jnp.float32  # the user's precision
    finally:
        jax.config.update("jax_enable_x64", True)
    src = codegen("L(W x + b)", ["W", "b"], target="jax")
    assert "static_argnames=('L', 'grad_L')" in src
    ns = _module(src)
    W, c, z = rng.standard_normal((2, 3)), rng.standard_normal(2), rng.standard_normal(3)

    def loss(y):
        return jnp.sum(y ** 2)

    def grad_loss(y):
        return 2 * y

    for _ in range(2):
        value, grads = ns["value_and_grad"](W=W, b=c, x=z, L=loss, grad_L=grad_loss)
    assert ns["_compiled_value_and_grad"]._cache_size() == 1
    np.testing.assert_allclose(np.asarray(grads["W"]), np.outer(2 * (W @ z + c), z))
    with pytest.raises(TypeError, match="needs the function L="):
        ns["value_and_grad"](W=W, b=c, x=z)


def test_the_commutation_matrix_is_applied_by_reshaping():
    """K vec(X) = vec(Xᵀ) and vec(Y)ᵀ K written without K (the writer on trees built here),
    against K built here: K[i n + j, j m + i] = 1 for X m×n."""
    from matcalc.code.targets import _target
    from matcalc.code.writer import _Writer
    from matcalc.nodes import Commutation, MatMul, Transpose

    e = matcalc.parse("vec(X) + vec(Y)", "X: m×n, Y: m×n")
    vx, vy = e.tree.terms
    m, n = e.variable("X").shape
    target = _target("numpy")
    lines = _Writer(target, {"X": "X", "Y": "Y"}, {m: "X.shape[0]", n: "X.shape[1]"}, set()).write(
        [("a", MatMul((Commutation(m, n), vx))), ("b", MatMul((Transpose(vy), Commutation(m, n))))])
    assert not any("_commutation" in line for line in lines)
    ns: dict = {"np": np}
    for helper in ("_vec", "_unvec"):
        exec(target.helpers[helper], ns)
    rng = np.random.default_rng(0)
    ns["X"], ns["Y"] = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    for line in lines:
        exec(line, ns)
    K = np.zeros((12, 12))
    for i in range(3):
        for j in range(4):
            K[i * 4 + j, j * 3 + i] = 1
    np.testing.assert_allclose(ns["a"], K @ ns["X"].reshape(-1, 1, order="F"))
    np.testing.assert_allclose(ns["b"], ns["Y"].reshape(-1, 1, order="F").T @ K)


def test_a_kronecker_product_is_applied_to_a_row_by_reshaping():
    """vec(Y)ᵀ (B ⊗ C) as vec(Cᵀ S B)ᵀ (the writer on the parsed tree), against np.kron."""
    from matcalc.code.targets import _target
    from matcalc.code.writer import _Writer

    e = matcalc.parse("vec(Y)' kron(B, C)", "Y: m×n, B: m×p, C: n×q")
    target = _target("numpy")
    sizes = {"m": "Y.shape[0]", "n": "Y.shape[1]", "p": "B.shape[1]", "q": "C.shape[1]"}
    lines = _Writer(target, {v: v for v in e.shapes}, sizes, set()).write([("row", e.tree)])
    assert not any("_kron" in line for line in lines)
    ns: dict = {"np": np}
    for helper in ("_vec", "_unvec", "_multi_dot"):
        exec(target.helpers[helper], ns)
    rng = np.random.default_rng(0)
    ns.update(Y=rng.standard_normal((3, 4)), B=rng.standard_normal((3, 2)), C=rng.standard_normal((4, 5)))
    for line in lines:
        exec(line, ns)
    np.testing.assert_allclose(ns["row"], ns["Y"].reshape(1, -1, order="F") @ np.kron(ns["B"], ns["C"]))
