"""Generated code against JAX's autodiff, side by side in one process (issue 12).

Run on demand from the repository root: ``python benchmarks/codegen.py`` (``--quick`` for
smaller sizes).  Needs JAX (``pip install jax``, CPU).  For each row: matcalc's generated
NumPy module (``value_and_grad``, ``hessian``, ``hvp``), the same module generated for JAX
under ``jax.jit``, and JAX's autodiff of the same f under ``jax.jit`` (``jax.value_and_grad``,
``jax.hessian``, ``jax.jvp`` of ``jax.grad``), all in double precision; each figure is the
median of several calls after a warm-up (JAX results waited for).  All the NumPy timings are
taken first, then the JAX ones: on two cores, JAX's worker threads, still spinning after a
call, slow BLAS down by 10–100× when the two are interleaved.  The answers are compared too.
The machines are shared and noisy: read the ratios.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from matcalc import codegen


def _timed(fn: Callable[[], Any], repeats: int) -> float:
    fn()  # warm-up (and compilation, for jax.jit)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        for leaf in _leaves(out):
            if hasattr(leaf, "block_until_ready"):
                leaf.block_until_ready()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _leaves(out: Any) -> list[Any]:
    if isinstance(out, (tuple, list)):
        return [x for o in out for x in _leaves(o)]
    if isinstance(out, dict):
        return [x for o in out.values() for x in _leaves(o)]
    return [out]


def _module(src: str) -> dict[str, Any]:
    ns: dict[str, Any] = {}
    exec(compile(src, "<generated>", "exec"), ns)
    return ns


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, few repeats")
    args = ap.parse_args()
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    q = args.quick
    reps = 3 if q else 7
    rng = np.random.default_rng(0)
    rows: list[tuple[str, str, float, float, float, bool]] = []
    pending: list[tuple[str, str, Callable[[], Any], Callable[[], Any] | None, Callable[[], Any], Callable[[], bool]]] = []
    eager: dict[tuple[str, str], tuple[Callable[[], Any], Callable[[], Any] | None]] = {}
    try:
        import torch

        torch.set_default_dtype(torch.float64)
    except ImportError:
        torch = None

    def gradient_row(label: str, expr: str, wrt: list[str], values: dict[str, np.ndarray],
                     f_jax: Callable[..., Any]) -> None:
        ns_np = _module(codegen(expr, wrt))
        ns_jx = _module(codegen(expr, wrt, target="jax"))
        jv = {k: jnp.asarray(v) for k, v in values.items()}
        ours_jit = jax.jit(lambda **kw: ns_jx["value_and_grad"](**kw))
        names = list(wrt)
        auto = jax.jit(jax.value_and_grad(lambda *xs: f_jax(**(jv | dict(zip(names, xs, strict=True)))),
                                          argnums=tuple(range(len(names)))))

        def same() -> bool:
            _, g_np = ns_np["value_and_grad"](**values)
            _, g_auto = auto(*(jv[n] for n in names))
            return all(np.allclose(g_np[n], np.asarray(g), rtol=1e-6, atol=1e-8)
                       for n, g in zip(names, g_auto, strict=True))

        pending.append((label, "gradient", lambda: ns_np["value_and_grad"](**values), lambda: ours_jit(**jv),
                        lambda: auto(*(jv[n] for n in names)), same))

    n = 120 if q else 500
    A, B, C, X = (rng.standard_normal((n, n)) / np.sqrt(n) for _ in range(4))
    gradient_row(f"‖A X B − C‖², n = {n}", "‖A X B − C‖²", ["X"], {"A": A, "B": B, "C": C, "X": X},
                 lambda A, B, C, X: jnp.sum((A @ X @ B - C) ** 2))

    m, k = (2000, 200) if q else (10_000, 1000)
    Xl = rng.standard_normal((m, k)) / np.sqrt(k)
    y = (rng.random(m) < 0.5).astype(float)
    w = rng.standard_normal(k)
    logistic = "sum(log(1 + exp(X w))) - y' X w"
    gradient_row(f"logistic regression, {m}×{k}", logistic, ["w"], {"X": Xl, "y": y, "w": w},
                 lambda X, y, w: jnp.sum(jnp.logaddexp(0.0, X @ w)) - y @ (X @ w))

    h, d, b, o = (64, 128, 256, 10) if q else (256, 512, 1024, 10)
    W1, W2 = rng.standard_normal((h, d)) / np.sqrt(d), rng.standard_normal((o, h)) / np.sqrt(h)
    Xb, Y = rng.standard_normal((d, b)), rng.standard_normal((o, b))
    gradient_row(f"two-layer MLP, batch {b} ({d}→{h}→{o})", "‖W2 tanh(W1 X) − Y‖²", ["W1", "W2"],
                 {"W1": W1, "W2": W2, "X": Xb, "Y": Y},
                 lambda W1, W2, X, Y: jnp.sum((W2 @ jnp.tanh(W1 @ X) - Y) ** 2))

    ng = 100 if q else 500
    M = rng.standard_normal((ng, ng)) / np.sqrt(ng)
    Sigma = M @ M.T + np.eye(ng)
    S = np.cov(rng.standard_normal((ng, 4 * ng)))
    gradient_row(f"Gaussian NLL wrt Σ, n = {ng}", "tr(inv(Σ) S) / 2 + logdet(Σ) / 2", ["Σ"], {"Σ": Sigma, "S": S},
                 lambda Σ, S: jnp.trace(jnp.linalg.solve(Σ, S)) / 2 + jnp.linalg.slogdet(Σ)[1] / 2)

    # second order
    def second_row(label: str, expr: str, wrt: str, values: dict[str, np.ndarray], f_jax: Callable[..., Any],
                   what: str, f_torch: Callable[..., Any]) -> None:
        ns_np = _module(codegen(expr, wrt, hessian=True))
        jv = {k: jnp.asarray(v) for k, v in values.items()}
        x = jv[wrt]
        v = jnp.asarray(rng.standard_normal(x.shape))

        def f(z: Any) -> Any:
            return f_jax(**(jv | {wrt: z}))

        vn = np.asarray(v)
        # without compilation: JAX eager, and PyTorch's autograd (when installed)
        eager_jax = (lambda: jax.jvp(jax.grad(f), (x,), (v,))[1]) if what == "hvp" else (lambda: jax.hessian(f)(x))
        eager_torch = None
        if torch is not None:
            tv = {k: torch.as_tensor(a) for k, a in values.items()}

            def ft(z: Any) -> Any:
                return f_torch(**(tv | {wrt: z}))

            tx, tdir = tv[wrt], torch.as_tensor(np.array(vn))
            if what == "hvp":
                def eager_torch() -> Any:
                    return torch.autograd.functional.hvp(ft, tx, tdir)[1]
            else:
                def eager_torch() -> Any:
                    return torch.autograd.functional.hessian(ft, tx, vectorize=True)
        eager[label, what] = (eager_jax, eager_torch)
        if what == "hvp":
            jvp = jax.jit(lambda z, t: jax.jvp(jax.grad(f), (z,), (t,))[1])
            pending.append((label, what, lambda: ns_np["hvp"](vn, **values), None, lambda: jvp(x, v),
                            lambda: np.allclose(ns_np["hvp"](vn, **values), np.asarray(jvp(x, v)), rtol=1e-6,
                                                atol=1e-8)))
        else:
            hess = jax.jit(jax.hessian(f))

            def same() -> bool:
                size = int(np.prod(x.shape))
                jh = np.asarray(hess(x))
                if x.ndim == 2:  # JAX's (i, j, k, l) by rows; matcalc's vec order is by columns
                    jh = jh.transpose(1, 0, 3, 2)
                return np.allclose(ns_np["hessian"](**values), jh.reshape(size, size), rtol=1e-6, atol=1e-8)

            pending.append((label, what, lambda: ns_np["hessian"](**values), None, lambda: hess(x), same))

    m2, k2 = (1000, 100) if q else (5000, 500)
    Xh = rng.standard_normal((m2, k2)) / np.sqrt(k2)
    yh = (rng.random(m2) < 0.5).astype(float)
    wh = rng.standard_normal(k2)
    def f_log(X: Any, y: Any, w: Any) -> Any:
        return jnp.sum(jnp.logaddexp(0.0, X @ w)) - y @ (X @ w)

    def t_log(X: Any, y: Any, w: Any) -> Any:
        return torch.nn.functional.softplus(X @ w).sum() - y @ (X @ w)

    second_row(f"logistic regression, {m2}×{k2}", logistic, "w", {"X": Xh, "y": yh, "w": wh}, f_log, "hessian", t_log)
    second_row(f"logistic regression, {m2}×{k2}", logistic, "w", {"X": Xh, "y": yh, "w": wh}, f_log, "hvp", t_log)
    nt = 100 if q else 500
    At, Bt, Xt = (rng.standard_normal((nt, nt)) / np.sqrt(nt) for _ in range(3))
    def f_quad(A: Any, B: Any, X: Any) -> Any:
        return jnp.trace(X.T @ A @ X @ B)

    def t_quad(A: Any, B: Any, X: Any) -> Any:
        return torch.trace(X.T @ A @ X @ B)

    second_row(f"tr(Xᵀ A X B), n = {nt}", "tr(X' A X B)", "X", {"A": At, "B": Bt, "X": Xt}, f_quad, "hvp", t_quad)
    ns_ = 20 if q else 40
    As, Bs, Xs = (rng.standard_normal((ns_, ns_)) for _ in range(3))
    second_row(f"tr(Xᵀ A X B), n = {ns_} (H is {ns_ * ns_}×{ns_ * ns_})", "tr(X' A X B)", "X",
               {"A": As, "B": Bs, "X": Xs}, f_quad, "hessian", t_quad)

    ours_times = [_timed(p[2], reps) for p in pending]  # NumPy first, JAX's threads idle
    for (label, what, _, ours_jit, auto, same), ours in zip(pending, ours_times, strict=True):
        t_jit = _timed(ours_jit, reps) if ours_jit is not None else float("nan")
        rows.append((label, what, ours, t_jit, _timed(auto, reps), same()))
    print("| f | computes | matcalc NumPy (ms) | matcalc JAX, jit (ms) | JAX autodiff, jit (ms) | "
          "JAX ÷ matcalc NumPy | same answer |")
    print("|---|---|---:|---:|---:|---:|---|")
    for label, what, ours, ours_jit, auto, same in rows:
        jit = "—" if ours_jit != ours_jit else f"{ours_jit * 1e3:.3g}"
        print(f"| {label} | {what} | {ours * 1e3:.3g} | {jit} | {auto * 1e3:.3g} | {auto / ours:.2f}× | "
              f"{'yes' if same else 'NO'} |")
    print(f"\nJAX {jax.__version__}, NumPy {np.__version__}, CPU; medians of {reps} calls after a warm-up.")
    print("\nSecond order without compilation (JAX eager; PyTorch's torch.autograd.functional, vectorised):\n")
    print("| f | computes | matcalc NumPy (ms) | JAX eager (ms) | ÷ matcalc | PyTorch (ms) | ÷ matcalc |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for label, what, ours, _, _, _ in rows:
        if (label, what) not in eager:
            continue
        ej, et = eager[label, what]
        tj = _timed(ej, reps)
        tt = _timed(et, reps) if et is not None else None
        torch_cells = f"{tt * 1e3:.3g} | {tt / ours:.1f}×" if tt is not None else "— | —"
        print(f"| {label} | {what} | {ours * 1e3:.3g} | {tj * 1e3:.3g} | {tj / ours:.1f}× | {torch_cells} |")
    if torch is not None:
        print(f"\nPyTorch {torch.__version__}.")


if __name__ == "__main__":
    main()
