"""Generated code against JAX's and PyTorch's autodiff, side by side in one run (issues 12, 24).

Run on demand from the repository root: ``python benchmarks/codegen.py`` (``--quick`` for
smaller sizes and fewer repeats).  Needs JAX (the test extra); PyTorch is used when
installed.  For each row, on the same inputs (one set of NumPy arrays, handed to JAX and
PyTorch as their own arrays), all in double precision:

- matcalc's generated NumPy module, its JAX module (its functions compiled by ``jax.jit``)
  and its PyTorch module: ``value_and_grad``, ``hessian`` or ``hvp``;
- JAX's autodiff of the same f under ``jax.jit`` (``jax.value_and_grad``, ``jax.hessian``,
  ``jax.jvp`` of ``jax.grad``) and PyTorch's (``torch.autograd.grad``, ``torch.func.hessian``,
  ``torch.func.jvp`` of ``torch.func.grad``), eager.

Every framework runs on one thread: the BLAS thread counts (OpenMP, OpenBLAS, MKL) and XLA's
(``--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1``) are set below before
anything is imported, and PyTorch's by ``torch.set_num_threads(1)``; threadpoolctl, when
installed, reports what the BLAS libraries use.  Times are CPU time of the process
(``time.process_time``), so the ratios compare code, not scheduling: each figure is the
median over blocks of calls (a block lasts at least :data:`BLOCK_SECONDS`), after a warm-up
call (which compiles, for ``jax.jit``).  The first call of each generated JAX module is timed
in a fresh process (tracing and compilation included, as a user meets it).  The answers are
compared with JAX's and PyTorch's autodiff.  Under the table, each row where
``jax.jit`` of JAX's autodiff is faster than the generated NumPy code says why
(:data:`WHERE_XLA_WINS`).  The machines are shared and noisy: read the ratios.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                           " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1").strip()

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from matcalc import codegen  # noqa: E402

#: the shortest block of calls timed as one figure (CPU seconds)
BLOCK_SECONDS = 0.05


def _ready(out: Any) -> None:
    """Wait for JAX's asynchronous results."""
    if isinstance(out, (tuple, list)):
        for o in out:
            _ready(o)
    elif isinstance(out, dict):
        for o in out.values():
            _ready(o)
    elif hasattr(out, "block_until_ready"):
        out.block_until_ready()


def cpu_time(fn: Callable[[], Any], blocks: int) -> float:
    """CPU seconds per call: the median over ``blocks`` blocks, after a warm-up call."""
    _ready(fn())
    t = time.process_time()
    _ready(fn())
    once = max(time.process_time() - t, 1e-6)
    per_block = max(1, int(BLOCK_SECONDS / once))
    times = []
    for _ in range(blocks):
        t = time.process_time()
        for _ in range(per_block):
            _ready(fn())
        times.append((time.process_time() - t) / per_block)
    return statistics.median(times)


def _module(src: str) -> dict[str, Any]:
    ns: dict[str, Any] = {}
    exec(compile(src, "<generated>", "exec"), ns)
    return ns


@dataclass
class Row:
    label: str
    computes: str  # gradient, hvp or hessian
    expr: str
    wrt: list[str]
    values: dict[str, np.ndarray]
    f_jax: Callable[..., Any]  # f written with jax.numpy, keyword arguments
    f_torch: Callable[..., Any]  # f written with torch
    cases: dict[str, Callable[[], Any]] = field(default_factory=dict)  # column -> call
    times: dict[str, float] = field(default_factory=dict)
    same: list[str] = field(default_factory=list)  # what the NumPy answer was compared with
    differ: list[str] = field(default_factory=list)
    first_call: float | None = None  # the generated JAX module's first call, in a fresh process


COLUMNS = ["matcalc NumPy", "matcalc JAX", "matcalc PyTorch", "JAX autodiff, jit", "PyTorch autodiff"]

#: where the generated NumPy code is slower than jax.jit(autodiff), and why (printed under the table)
WHERE_XLA_WINS = {
    "two-layer MLP": "XLA fuses the elementwise tail (tanh′ ⊙ (W2ᵀ r), the squares) into single loops and "
                     "computes tanh once; the NumPy code makes a temporary per elementwise operation and evaluates "
                     "tanh′(W1 X) = 1 − tanh(W1 X)² from W1 X, a second tanh (the function rows give tanh′ in terms of "
                     "its argument, not of tanh's value). The generated JAX module, compiled by the same XLA, is "
                     "faster than JAX's autodiff on this row.",
    "softmax regression": "the result is a new 1000×500 array on every call: NumPy allocates it afresh (new pages, "
                          "touched for the first time), XLA reuses its buffers and writes the outer product and its "
                          "scaling in one pass. The generated JAX module runs at XLA's speed.",
}


def build(q: bool) -> list[Row]:
    """The rows, with their inputs (seeded)."""
    import jax
    import jax.numpy as jnp

    torch = _torch()
    rng = np.random.default_rng(0)
    rows: list[Row] = []

    m, k = (400, 100) if q else (2000, 500)
    A, b, x = rng.standard_normal((m, k)) / np.sqrt(k), rng.standard_normal(m), rng.standard_normal(k)
    rows.append(Row(f"least squares ‖A x − b‖², {m}×{k}", "gradient", "‖A x − b‖²", ["x"], {"A": A, "b": b, "x": x},
                    lambda A, b, x: jnp.sum((A @ x - b) ** 2), lambda A, b, x: torch.sum((A @ x - b) ** 2)))

    n = 120 if q else 500
    A, B, C, X = (rng.standard_normal((n, n)) / np.sqrt(n) for _ in range(4))
    rows.append(Row(f"‖A X B − C‖², n = {n}", "gradient", "‖A X B − C‖²", ["X"], {"A": A, "B": B, "C": C, "X": X},
                    lambda A, B, C, X: jnp.sum((A @ X @ B - C) ** 2),
                    lambda A, B, C, X: torch.sum((A @ X @ B - C) ** 2)))

    m, k = (2000, 200) if q else (10_000, 1000)
    Xl = rng.standard_normal((m, k)) / np.sqrt(k)
    y = (rng.random(m) < 0.5).astype(float)
    w = rng.standard_normal(k)
    logistic = "sum(log(1 + exp(X w))) - y' X w"

    def f_log(X: Any, y: Any, w: Any) -> Any:
        return jnp.sum(jnp.logaddexp(0.0, X @ w)) - y @ (X @ w)

    def t_log(X: Any, y: Any, w: Any) -> Any:
        return torch.nn.functional.softplus(X @ w).sum() - y @ (X @ w)

    rows.append(Row(f"logistic regression, {m}×{k}", "gradient", logistic, ["w"], {"X": Xl, "y": y, "w": w},
                    f_log, t_log))

    h, d, bt, o = (64, 128, 256, 10) if q else (256, 512, 1024, 10)
    W1, W2 = rng.standard_normal((h, d)) / np.sqrt(d), rng.standard_normal((o, h)) / np.sqrt(h)
    Xb, Y = rng.standard_normal((d, bt)), rng.standard_normal((o, bt))
    rows.append(Row(f"two-layer MLP, batch {bt} ({d}→{h}→{o})", "gradient", "‖W2 tanh(W1 X) − Y‖²", ["W1", "W2"],
                    {"W1": W1, "W2": W2, "X": Xb, "Y": Y},
                    lambda W1, W2, X, Y: jnp.sum((W2 @ jnp.tanh(W1 @ X) - Y) ** 2),
                    lambda W1, W2, X, Y: torch.sum((W2 @ torch.tanh(W1 @ X) - Y) ** 2)))

    ng = 100 if q else 500
    M = rng.standard_normal((ng, ng)) / np.sqrt(ng)
    Sigma = M @ M.T + np.eye(ng)
    S = np.cov(rng.standard_normal((ng, 4 * ng)))
    rows.append(Row(f"Gaussian NLL wrt Σ, n = {ng}", "gradient", "tr(inv(Σ) S) / 2 + logdet(Σ) / 2", ["Σ"],
                    {"Σ": Sigma, "S": S},
                    lambda Σ, S: jnp.trace(jnp.linalg.solve(Σ, S)) / 2 + jnp.linalg.slogdet(Σ)[1] / 2,
                    lambda Σ, S: torch.trace(torch.linalg.solve(Σ, S)) / 2 + torch.linalg.slogdet(Σ)[1] / 2))

    # second order
    nq = 100 if q else 500
    Aq, xq = rng.standard_normal((nq, nq)) / np.sqrt(nq), rng.standard_normal(nq)
    rows.append(Row(f"xᵀ A x, n = {nq}", "hvp", "x' A x", ["x"], {"A": Aq, "x": xq},
                    lambda A, x: x @ A @ x, lambda A, x: x @ A @ x))

    m2, k2 = (1000, 100) if q else (5000, 500)
    Xh = rng.standard_normal((m2, k2)) / np.sqrt(k2)
    yh = (rng.random(m2) < 0.5).astype(float)
    wh = rng.standard_normal(k2)
    for what in ("hessian", "hvp"):
        rows.append(Row(f"logistic regression, {m2}×{k2}", what, logistic, ["w"], {"X": Xh, "y": yh, "w": wh},
                        f_log, t_log))

    ks, ds = (100, 50) if q else (1000, 500)
    Ws, xs = rng.standard_normal((ks, ds)) / np.sqrt(ds), rng.standard_normal(ds)
    ys = np.zeros(ks)
    ys[3] = 1.0
    rows.append(Row(f"softmax regression wrt W, {ks} classes, {ds} inputs", "hvp", "-y' log(softmax(W x))", ["W"],
                    {"W": Ws, "x": xs, "y": ys},
                    lambda W, x, y: -y @ jax.nn.log_softmax(W @ x),
                    lambda W, x, y: -y @ torch.log_softmax(W @ x, dim=0)))

    nt = 100 if q else 500
    At, Bt, Xt = (rng.standard_normal((nt, nt)) / np.sqrt(nt) for _ in range(3))
    rows.append(Row(f"tr(Xᵀ A X B), n = {nt}", "hvp", "tr(X' A X B)", ["X"], {"A": At, "B": Bt, "X": Xt},
                    lambda A, B, X: jnp.trace(X.T @ A @ X @ B), lambda A, B, X: torch.trace(X.T @ A @ X @ B)))
    ns_ = 20 if q else 40
    As, Bs, Xs = (rng.standard_normal((ns_, ns_)) for _ in range(3))
    rows.append(Row(f"tr(Xᵀ A X B), n = {ns_} (H is {ns_ * ns_}×{ns_ * ns_})", "hessian", "tr(X' A X B)", ["X"],
                    {"A": As, "B": Bs, "X": Xs},
                    lambda A, B, X: jnp.trace(X.T @ A @ X @ B), lambda A, B, X: torch.trace(X.T @ A @ X @ B)))
    return rows


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float64)
    return torch


def prepare(row: Row) -> None:
    """The calls of each column, and the comparison of the answers."""
    import jax
    import jax.numpy as jnp

    torch = _torch()
    second = row.computes != "gradient"
    rng = np.random.default_rng(1)
    names = row.wrt
    vals = row.values
    jv = {k: jnp.asarray(v) for k, v in vals.items()}
    direction = rng.standard_normal(vals[names[0]].shape)
    jdir = jnp.asarray(direction)

    ns_np = _module(codegen(row.expr, names, hessian=second))
    ns_jx = _module(codegen(row.expr, names, target="jax", hessian=second))
    fn = row.computes if second else "value_and_grad"

    def ours(ns: dict[str, Any], arrays: dict[str, Any], v: Any) -> Callable[[], Any]:
        f = ns[fn]
        if row.computes == "hvp":
            return lambda: f(v, **arrays)
        return lambda: f(**arrays)

    row.cases["matcalc NumPy"] = ours(ns_np, vals, direction)
    row.cases["matcalc JAX"] = ours(ns_jx, jv, jdir)  # compiled by jax.jit in the module

    # every array is an argument of the compiled function (an array closed over would be a
    # constant, which XLA may fold at compile time)
    consts = {k: v for k, v in jv.items() if k not in names}

    def f_of(xs: tuple[Any, ...], c: dict[str, Any]) -> Any:
        return row.f_jax(**(c | dict(zip(names, xs, strict=True))))

    xs0 = tuple(jv[n] for n in names)
    if row.computes == "gradient":
        auto = jax.jit(jax.value_and_grad(f_of))
        row.cases["JAX autodiff, jit"] = lambda: auto(xs0, consts)
    elif row.computes == "hvp":
        jvp = jax.jit(lambda z, t, c: jax.jvp(lambda u: jax.grad(f_of)(u, c), (z,), (t,))[1])
        row.cases["JAX autodiff, jit"] = lambda: jvp(xs0, (jdir,), consts)[0]
    else:
        hess = jax.jit(lambda z, c: jax.hessian(lambda u: f_of((u,), c))(z))
        row.cases["JAX autodiff, jit"] = lambda: hess(xs0[0], consts)

    if torch is not None:
        tv = {k: torch.as_tensor(v) for k, v in vals.items()}
        tdir = torch.as_tensor(direction)
        ns_t = _module(codegen(row.expr, names, target="torch", hessian=second))
        row.cases["matcalc PyTorch"] = ours(ns_t, tv, tdir)

        def ft(*xs: Any) -> Any:
            return row.f_torch(**(tv | dict(zip(names, xs, strict=True))))

        if row.computes == "gradient":
            def torch_grad() -> Any:
                xs = [tv[n].detach().requires_grad_(True) for n in names]
                value = ft(*xs)
                return value.detach(), torch.autograd.grad(value, xs)
            row.cases["PyTorch autodiff"] = torch_grad
        elif row.computes == "hvp":
            row.cases["PyTorch autodiff"] = lambda: torch.func.jvp(torch.func.grad(ft), (tv[names[0]],), (tdir,))[1]
        else:
            row.cases["PyTorch autodiff"] = lambda: torch.func.hessian(ft)(tv[names[0]])

    # the answers: the generated NumPy code against each autodiff
    ours_np = row.cases["matcalc NumPy"]()
    mine = ours_np[1] if row.computes == "gradient" else {names[0]: ours_np}
    for col in ("JAX autodiff, jit", "PyTorch autodiff"):
        if col not in row.cases:
            continue
        out = row.cases[col]()
        if row.computes == "gradient":
            theirs = dict(zip(names, out[1], strict=True))
        elif row.computes == "hvp":
            theirs = {names[0]: out}
        else:
            h = np.asarray(out)
            size = int(np.prod(vals[names[0]].shape))
            if h.ndim == 4:  # (i, j, k, l) by rows; matcalc's vec order is by columns
                h = h.transpose(1, 0, 3, 2)
            theirs = {names[0]: h.reshape(size, size)}
        ok = all(np.allclose(np.asarray(mine[n]), np.asarray(theirs[n]), rtol=1e-6, atol=1e-8) for n in names)
        (row.same if ok else row.differ).append(col.split()[0])


FIRST_CALL = r"""
import os, sys, time, json, numpy as np
import jax
jax.config.update("jax_enable_x64", True)
from matcalc import codegen
spec = json.loads(sys.argv[1])
rng = np.random.default_rng(0)
arrays = {k: jax.numpy.asarray(rng.standard_normal(s)) for k, s in spec["shapes"].items()}
ns = {}
exec(codegen(spec["expr"], spec["wrt"], target="jax", hessian=spec["second"]), ns)
fn = ns[spec["fn"]]
t = time.process_time()
out = fn(arrays[spec["wrt"][0]], **arrays) if spec["fn"] == "hvp" else fn(**arrays)
jax.block_until_ready(out)
print(time.process_time() - t)
"""


def first_call(row: Row) -> float:
    """CPU seconds of the first call of the generated JAX module, in a fresh process."""
    second = row.computes != "gradient"
    spec = {"expr": row.expr, "wrt": row.wrt, "second": second, "fn": row.computes if second else "value_and_grad",
            "shapes": {k: list(np.shape(v)) for k, v in row.values.items()}}
    out = subprocess.run([sys.executable, "-c", FIRST_CALL, json.dumps(spec)], capture_output=True, text=True,
                         env=os.environ.copy())
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return float(out.stdout.split()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, few repeats")
    ap.add_argument("--no-first-call", action="store_true", help="skip the fresh-process first calls")
    args = ap.parse_args()
    import jax

    jax.config.update("jax_enable_x64", True)
    torch = _torch()
    blocks = 3 if args.quick else 7
    rows = build(args.quick)
    for row in rows:
        prepare(row)
    # one framework at a time over all rows (NumPy, PyTorch, then JAX)
    order = ["matcalc NumPy", "matcalc PyTorch", "PyTorch autodiff", "matcalc JAX", "JAX autodiff, jit"]
    for col in order:
        for row in rows:
            if col in row.cases:
                row.times[col] = cpu_time(row.cases[col], blocks)
    if not args.no_first_call:
        for row in rows:
            row.first_call = first_call(row)

    def ms(t: float | None) -> str:
        return "—" if t is None else f"{t * 1e3:.3g}"

    print("| f | computes | " + " | ".join(f"{c} (ms)" for c in COLUMNS) +
          " | JAX autodiff, jit ÷ matcalc NumPy | JAX autodiff, jit ÷ matcalc JAX | PyTorch autodiff ÷ matcalc NumPy "
          "| first call, matcalc JAX (s) | same answer |")
    print("|---|---|" + "---:|" * (len(COLUMNS) + 4) + "---|")
    for row in rows:
        t = row.times
        auto, ours = t.get("JAX autodiff, jit"), t["matcalc NumPy"]
        pt = t.get("PyTorch autodiff")
        cells = [ms(t.get(c)) for c in COLUMNS]
        ratio_jax = f"{auto / t['matcalc JAX']:.2f}×" if auto else "—"
        same = ("yes (" + ", ".join(row.same) + ")") if not row.differ else "NO: " + ", ".join(row.differ)
        first = "—" if row.first_call is None else f"{row.first_call:.2f}"
        ratio_pt = f"{pt / ours:.2f}×" if pt else "—"
        print(f"| {row.label} | {row.computes} | " + " | ".join(cells) +
              f" | {auto / ours:.2f}× | {ratio_jax} | {ratio_pt} | {first} | {same} |")
    versions = f"JAX {jax.__version__}, NumPy {np.__version__}" + (f", PyTorch {torch.__version__}" if torch else "")
    print(f"\n{versions}; CPU time (time.process_time), one thread per framework; medians of {blocks} blocks of "
          f"calls (each ≥ {BLOCK_SECONDS * 1e3:.0f} ms) after a warm-up call; first calls in a fresh process.")
    try:
        from threadpoolctl import threadpool_info

        threads = sorted({(i["internal_api"], i["num_threads"]) for i in threadpool_info()})
        print("BLAS/OpenMP threads: " + ", ".join(f"{api} {n}" for api, n in threads))
    except ImportError:
        pass
    slower = [row for row in rows if row.times.get("JAX autodiff, jit", float("inf")) < row.times["matcalc NumPy"]]
    if slower:
        print("\nWhere jax.jit(autodiff) is faster than the generated NumPy code:")
    for row in slower:
        why = next((w for k, w in WHERE_XLA_WINS.items() if row.label.startswith(k)), "not explained yet")
        print(f"- {row.label}, {row.computes}: {why}")


if __name__ == "__main__":
    main()
