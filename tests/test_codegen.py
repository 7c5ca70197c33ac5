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
from matcalc.codegen import codegen, py_name

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
    if target != "torch":
        return args
    import torch

    return {k: (v if callable(v) else torch.as_tensor(np.asarray(v, dtype=float))) for k, v in args.items()}


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
